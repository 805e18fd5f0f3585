//  queue.c: the service FIFO (see queue.h), an intrusive doubly linked list.

#include "queue.h"

void spw_queue_init(spw_queue_t *self, size_t limit)
{
    self->head = self->tail = NULL;
    self->size = 0;
    self->limit = limit;
}

int spw_queue_push(spw_queue_t *self, spw_task_t *task)
{
    if (self->size >= self->limit)
        return -1;
    task->next = NULL;
    task->prev = self->tail;
    if (self->tail)
        self->tail->next = task;
    else
        self->head = task;
    self->tail = task;
    self->size++;
    return 0;
}

void spw_queue_push_front(spw_queue_t *self, spw_task_t *task)
{
    task->prev = NULL;
    task->next = self->head;
    if (self->head)
        self->head->prev = task;
    else
        self->tail = task;
    self->head = task;
    self->size++;
}

void spw_queue_insert_after(spw_queue_t *self, spw_task_t *before, spw_task_t *task)
{
    if (!before) {
        spw_queue_push_front(self, task);
        return;
    }
    task->prev = before;
    task->next = before->next;
    if (before->next)
        before->next->prev = task;
    else
        self->tail = task;
    before->next = task;
    self->size++;
}

void spw_queue_remove(spw_queue_t *self, spw_task_t *task)
{
    if (task->prev)
        task->prev->next = task->next;
    else
        self->head = task->next;
    if (task->next)
        task->next->prev = task->prev;
    else
        self->tail = task->prev;
    task->prev = task->next = NULL;
    self->size--;
}

spw_task_t *spw_queue_pop(spw_queue_t *self)
{
    spw_task_t *task = self->head;
    if (task)
        spw_queue_remove(self, task);
    return task;
}
