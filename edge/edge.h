//  edge.h: one edge broker, its sockets and its loop.

#ifndef SPW_EDGE_EDGE_H_INCLUDED
#define SPW_EDGE_EDGE_H_INCLUDED

#include "spw_config.h"

#include <signal.h>
#include <stddef.h>

typedef struct spw_edge_t spw_edge_t;

//  Creates an edge from its settings and binds its endpoints. NULL with a
//  one-line reason in err on failure.
spw_edge_t *spw_edge_new(const spw_edge_config_t *config, char *err, size_t errlen);

//  Runs the loop until *stop becomes non-zero. Returns 0, or -1 on a fatal
//  socket error (logged).
int spw_edge_run(spw_edge_t *self, volatile sig_atomic_t *stop);

//  Destroys the edge; nulls the pointer. Tasks still held are answered
//  nothing: their clients see their own timeouts.
void spw_edge_destroy(spw_edge_t **self_p);

#endif
