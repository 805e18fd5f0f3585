//  hub.h: the hub, its sockets and its loop.

#ifndef SPW_HUB_HUB_H_INCLUDED
#define SPW_HUB_HUB_H_INCLUDED

#include "spw_config.h"

#include <signal.h>
#include <stddef.h>

typedef struct spw_hub_t spw_hub_t;

//  Creates a hub from its settings and binds its endpoints. NULL with a
//  one-line reason in err on failure.
spw_hub_t *spw_hub_new(const spw_hub_config_t *config, char *err, size_t errlen);

//  Runs the loop until *stop becomes non-zero. Returns 0, or -1 on a fatal
//  socket error (logged).
int spw_hub_run(spw_hub_t *self, volatile sig_atomic_t *stop);

//  Destroys the hub; nulls the pointer. Safe on NULL.
void spw_hub_destroy(spw_hub_t **self_p);

#endif
