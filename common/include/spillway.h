//  spillway.h: everything a program that embeds libspillway needs.

#ifndef SPILLWAY_H_INCLUDED
#define SPILLWAY_H_INCLUDED

#define SPW_VERSION "0.1.0"

#include "spw_clock.h"
#include "spw_config.h"
#include "spw_log.h"
#include "spw_proto.h"
#include "spw_socket.h"
#include "spw_client.h"
#include "spw_worker.h"

#endif
