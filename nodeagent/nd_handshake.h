/*
 * Tunnel Request / Tunnel Response between two nodes, path probes, and the
 * life of tunnel sessions (rekey, keep-alive, expiry of the previous one).
 */
#ifndef ND_HANDSHAKE_H
#define ND_HANDSHAKE_H

#include "nd.h"

/* Sends a Tunnel Request with a fresh ephemeral key to every endpoint of
 * peer->try_eps, and arms the retransmission timer. */
void nd_hs_initiate(struct nd *nd, struct nd_peer *peer);
/* Retransmits the Tunnel Request when its time has come. Returns 0 when it
 * was sent, -ETIMEDOUT when the tries are used up. */
int nd_hs_retry(struct nd *nd, struct nd_peer *peer);
/* Sends a PathProbe to ep, opening this node's NAT toward it. */
void nd_hs_probe(struct nd *nd, struct nd_peer *peer, const struct ntm_endpoint *ep);
/* Rekeys, sends keep-alives and retires the previous session. */
void nd_hs_session_tick(struct nd *nd, struct nd_peer *peer, uint64_t now_ms);
/* Starts a new handshake straight to the peer's current endpoint, without
 * the DC (after this node moved, or to rekey). */
void nd_hs_rehandshake(struct nd *nd, struct nd_peer *peer);

#endif
