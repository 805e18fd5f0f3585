//  spw_curve.h: CURVE encryption and authentication for every link.
//
//  A cluster's keys live in one folder, as `spillway keygen` writes it
//  (docs/security.md):
//
//    DIR/NAME.key, DIR/NAME.key_secret  a process's own certificate, in
//                                       czmq's format (zcert)
//    DIR/allow/*.key                    the public certificates of every
//                                       peer admitted, with metadata:
//                                       role (client, worker, edge,
//                                       operator, hub: one or a comma list),
//                                       name (edges and hubs: the name it
//                                       must use), services (workers: a
//                                       comma list, or *)
//
//  A process that binds (edge, hub) admits a peer only if its key is in
//  allow/: czmq's zauth checks each handshake, and hands the certificate's
//  metadata to every message of that connection (zmq_msg_gets), where the
//  broker checks the role for what the message asks. A process that
//  connects verifies the server's key: the hub's and other edges' keys
//  come from allow/ too, by role and name; a client's or worker's from the
//  certificate file it is given.

#ifndef SPW_CURVE_H_INCLUDED
#define SPW_CURVE_H_INCLUDED

#include "spw_socket.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spw_curve_t spw_curve_t;

//  The roles a certificate's metadata may give.
#define SPW_ROLE_CLIENT   "client"
#define SPW_ROLE_WORKER   "worker"
#define SPW_ROLE_EDGE     "edge"
#define SPW_ROLE_OPERATOR "operator"
#define SPW_ROLE_HUB      "hub"

//  The largest allow-list a process loads.
#define SPW_CURVE_MAX_PEERS 100000

//  Loads the certificate DIR/NAME.key_secret and the allow-list DIR/allow,
//  and starts the authenticator that admits those keys, for a process that
//  binds. NULL with err set if anything is missing or unreadable.
spw_curve_t *spw_curve_new(const char *dir, const char *name, char *err, size_t errlen);

//  Stops the authenticator and shuts czmq's context down: call it after
//  every socket of spw_curve_context is closed.
void spw_curve_destroy(spw_curve_t **self_p);

//  The context every socket of this process must use: the authenticator
//  answers handshakes of its own context only.
void *spw_curve_context(spw_curve_t *self);

//  This process's keys, to serve with (opts.curve_server) or to connect to
//  a server whose public key is server_key (opts.curve).
void spw_curve_keys(const spw_curve_t *self, const uint8_t *server_key, spw_curve_keys_t *keys);

//  The public key of the allow-list's certificate with this role and name
//  (name NULL: the only certificate of the role). Returns 0, or -1 with err
//  set (none, or several when name is NULL).
int spw_curve_find(const spw_curve_t *self, const char *role, const char *name,
                   uint8_t key[32], char *err, size_t errlen);

//  Reads a certificate file in czmq's format: keys.public_key and, with
//  secret true, keys.secret_key from FILE_secret (or FILE itself when it
//  is the secret one). Returns 0, or -1 with err set.
int spw_curve_load(const char *file, bool secret, uint8_t public_key[32],
                   uint8_t secret_key[32], char *err, size_t errlen);

//  What the authenticator said of the peer that sent frame (a frame the
//  peer sent, on a CURVE socket; not the identity frame a ROUTER adds,
//  which carries none): its key as Z85 text, or a metadata property of its
//  certificate. NULL if there is none.
const char *spw_curve_peer_key(zmq_msg_t *frame);
const char *spw_curve_peer_property(zmq_msg_t *frame, const char *property);

//  True if the comma list (NULL: empty) holds item (len bytes), or "*"
//  when star is true (a worker's services; never a role).
bool spw_curve_list_has(const char *list, const char *item, size_t len, bool star);

//  Reads what the authenticator said since the last call and logs, once
//  per key (of the last SPW_CURVE_REMEMBERED), each key it refused at the
//  handshake: such a peer never sends a message we could see. Call it now
//  and then (every heartbeat). Returns how many handshakes it refused.
uint64_t spw_curve_tick(spw_curve_t *self);

//  True if the peer of frame holds role.
bool spw_curve_peer_is(zmq_msg_t *frame, const char *role);

//  True if the peer of frame holds role and, with name, is named name
//  (name_len bytes) by its certificate: what every broker checks.
bool spw_curve_peer_acts_as(zmq_msg_t *frame, const char *role, const char *name,
                            size_t name_len);

//  Writes why the peer of frame may not act as role (named name, if not
//  NULL) into buf, for logs and refusals: "forbidden: key K is no ROLE ...".
const char *spw_curve_refusal(zmq_msg_t *frame, const char *role, const char *name,
                              size_t name_len, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
