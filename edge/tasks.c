//  tasks.c: the task table (see tasks.h). Slots live in one array made at
//  start; free slots form a stack; live tasks sit in a min-heap by deadline.

#include "tasks.h"

#include "spw_random.h"

#include <stdlib.h>
#include <string.h>

struct spw_tasks_t {
    spw_task_t *slots;
    uint32_t *tag;         // per slot, the high half of its last key
    uint64_t random;       // where new tags come from
    uint32_t *free_stack;
    size_t free_count;
    spw_task_t **heap;
    size_t size;
    size_t limit;
};

spw_tasks_t *spw_tasks_new(size_t max_tasks)
{
    if (max_tasks == 0 || max_tasks > UINT32_MAX - 1)
        return NULL;
    spw_tasks_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(max_tasks, sizeof *self->slots);
    self->tag = calloc(max_tasks, sizeof *self->tag);
    self->free_stack = calloc(max_tasks, sizeof *self->free_stack);
    self->heap = calloc(max_tasks, sizeof *self->heap);
    if (!self->slots || !self->tag || !self->free_stack || !self->heap) {
        spw_tasks_destroy(&self);
        return NULL;
    }
    self->limit = max_tasks;
    self->random = spw_random_seed();
    //  Hand out low slots first: they stay warm in the cache.
    for (size_t i = 0; i < max_tasks; i++)
        self->free_stack[i] = (uint32_t) (max_tasks - 1 - i);
    self->free_count = max_tasks;
    return self;
}

static void close_frames(spw_task_t *task)
{
    zmq_msg_close(&task->client);
    for (size_t i = 0; i < task->body_count; i++)
        zmq_msg_close(&task->body[i]);
    task->body_count = 0;
}

void spw_tasks_destroy(spw_tasks_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spw_tasks_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++)
        close_frames(self->heap[i]);
    free(self->slots);
    free(self->tag);
    free(self->free_stack);
    free(self->heap);
    free(self);
    *self_p = NULL;
}

static bool earlier(const spw_task_t *a, const spw_task_t *b)
{
    return a->deadline < b->deadline;
}

static void heap_place(spw_tasks_t *self, size_t index, spw_task_t *task)
{
    self->heap[index] = task;
    task->heap_index = index;
}

static void sift_up(spw_tasks_t *self, size_t index)
{
    spw_task_t *task = self->heap[index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!earlier(task, self->heap[parent]))
            break;
        heap_place(self, index, self->heap[parent]);
        index = parent;
    }
    heap_place(self, index, task);
}

static void sift_down(spw_tasks_t *self, size_t index)
{
    spw_task_t *task = self->heap[index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && earlier(self->heap[child + 1], self->heap[child]))
            child++;
        if (!earlier(self->heap[child], task))
            break;
        heap_place(self, index, self->heap[child]);
        index = child;
    }
    heap_place(self, index, task);
}

spw_task_t *spw_tasks_add(spw_tasks_t *self, int64_t deadline)
{
    if (self->free_count == 0)
        return NULL;
    uint32_t slot = self->free_stack[--self->free_count];
    spw_task_t *task = &self->slots[slot];
    memset(task, 0, offsetof(spw_task_t, body));
    task->prev = task->next = NULL;
    //  A random tag, never 0 and never the slot's last: a key cannot be
    //  guessed from another, and a late reply for the slot's last task
    //  finds nothing.
    uint32_t tag;
    do
        tag = (uint32_t) (spw_random_next(&self->random) >> 32);
    while (tag == 0 || tag == self->tag[slot]);
    self->tag[slot] = tag;
    task->key = ((uint64_t) tag << 32) | (uint64_t) (slot + 1);
    task->deadline = deadline;
    zmq_msg_init(&task->client);
    heap_place(self, self->size++, task);
    sift_up(self, task->heap_index);
    return task;
}

spw_task_t *spw_tasks_find(spw_tasks_t *self, uint64_t key)
{
    uint64_t slot_plus_one = key & 0xffffffffu;
    if (slot_plus_one == 0 || slot_plus_one > self->limit)
        return NULL;
    spw_task_t *task = &self->slots[slot_plus_one - 1];
    return task->key == key ? task : NULL;
}

void spw_tasks_remove(spw_tasks_t *self, spw_task_t *task)
{
    size_t slot = (size_t) (task - self->slots);
    close_frames(task);
    task->key = 0;
    self->free_stack[self->free_count++] = (uint32_t) slot;

    size_t index = task->heap_index;
    spw_task_t *last = self->heap[--self->size];
    if (index < self->size) {
        heap_place(self, index, last);
        sift_up(self, index);
        sift_down(self, last->heap_index);
    }
}

spw_task_t *spw_tasks_expired(spw_tasks_t *self, int64_t now)
{
    if (self->size && self->heap[0]->deadline <= now)
        return self->heap[0];
    return NULL;
}

int64_t spw_tasks_next_deadline(spw_tasks_t *self)
{
    return self->size ? self->heap[0]->deadline : INT64_MAX;
}

size_t spw_tasks_size(spw_tasks_t *self)
{
    return self->size;
}

size_t spw_tasks_limit(spw_tasks_t *self)
{
    return self->limit;
}
