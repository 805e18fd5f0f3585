//  queue.h: a service's bounded FIFO of waiting tasks.
//
//  The queue links tasks through their own prev/next fields, so pushing,
//  popping and removing a task that expired while it waited are all O(1)
//  and allocate nothing. The limit bounds what new tasks may join; a task
//  the edge already accepted and must put back (its worker died) goes to
//  the head even when the queue is full, because an accepted task is never
//  dropped.

#ifndef SPW_EDGE_QUEUE_H_INCLUDED
#define SPW_EDGE_QUEUE_H_INCLUDED

#include "tasks.h"

typedef struct {
    spw_task_t *head, *tail;
    size_t size;
    size_t limit;
} spw_queue_t;

//  Makes an empty queue that takes at most limit new tasks.
void spw_queue_init(spw_queue_t *self, size_t limit);

//  Appends a new task at the tail. Returns 0, or -1 if the queue is full.
int spw_queue_push(spw_queue_t *self, spw_task_t *task);

//  Puts an accepted task back at the head, whatever the limit.
void spw_queue_push_front(spw_queue_t *self, spw_task_t *task);

//  Puts an accepted task back right after before (at the head if before is
//  NULL), whatever the limit.
void spw_queue_insert_after(spw_queue_t *self, spw_task_t *before, spw_task_t *task);

//  Takes the task at the head, or NULL if empty.
spw_task_t *spw_queue_pop(spw_queue_t *self);

//  Takes a task out from wherever it is in the queue.
void spw_queue_remove(spw_queue_t *self, spw_task_t *task);

#endif
