/*
 * Relay Servers of this DC (docs/protocol.md, "Relay"): one ZeroMQ DEALER
 * with CURVE per configured RS, allocation of relay sessions for nodes
 * behind different NATs, and re-allocation after an RS restarts.
 */
#ifndef DC_RELAY_H
#define DC_RELAY_H

#include <jansson.h>
#include <stdbool.h>

#include "dc.h"
#include "relay.pb-c.h"

/* Result of an allocation: session is the RS's RelayAllocated session (its
 * credential is the session secret, never sent to a node as is), or NULL on
 * failure. */
typedef void (*dc_relay_cb)(struct dc *dc, const Ntm__RelayDirection *session, void *arg);

int dc_relay_start(struct dc *dc, char *err, size_t err_size);
void dc_relay_stop(struct dc *dc);

/* True when at least one RS answered recently. */
bool dc_relay_available(struct dc *dc);

/* Asks an RS for a session between nodes a and b. cb runs exactly once,
 * within about 1.1 s (a 1 s timeout checked every 100 ms). Returns 0 or
 * -errno, and then cb is not called. */
int dc_relay_allocate(struct dc *dc, const uint8_t a[NTM_KEY_LEN], const uint8_t b[NTM_KEY_LEN],
		      dc_relay_cb cb, void *arg);

/* Fills out, for the node with key node_key, the relay part of its Route
 * Direction: the session with that node's own credential. */
void dc_relay_for_node(Ntm__RelayDirection *out, uint8_t credential[32],
		       const Ntm__RelayDirection *session, const uint8_t node_key[NTM_KEY_LEN]);

/* Ends every relay session of a node (its key was revoked). */
void dc_relay_release_key(struct dc *dc, const uint8_t key[NTM_KEY_LEN]);

json_t *dc_relay_to_json(struct dc *dc);
/* Describes each relay session this DC allocated and has not released. */
json_t *dc_relay_sessions_to_json(struct dc *dc);

#endif
