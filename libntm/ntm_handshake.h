/*
 * Tunnel session keys (docs/protocol.md, "Tunnel handshake"). The Tunnel
 * Request and Response each carry a fresh ephemeral X25519 key inside a
 * control packet sealed with the two nodes' static keys, so each side knows
 * the other's ephemeral key came from the peer it expects. The initiator is
 * the crypto_kx client on the ephemeral keys; each directional key is then
 * bound to the static keys and the transcript:
 *
 *   key = BLAKE2b-256(key = ephemeral kx key of that direction,
 *                     "ntm tunnel v1" || static control key of that direction
 *                     || initiator ephemeral || responder ephemeral)
 *
 * Ephemeral secrets are wiped after the derivation, which gives forward
 * secrecy: a later theft of a static key does not open recorded sessions.
 */
#ifndef NTM_HANDSHAKE_H
#define NTM_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "ntm_codec.h"
#include "ntm_key.h"

struct ntm_session_keys {
	uint8_t send[32];
	uint8_t recv[32];
};

/*
 * Derives the session keys of one side. self_eph is this side's ephemeral key
 * pair (wiped on return), peer_eph_pub the other's; ctl the static control
 * keys between the two nodes. Returns 0, or -EINVAL for a bad peer key.
 */
int ntm_session_keys_derive(struct ntm_session_keys *out, bool initiator,
			    struct ntm_keypair *self_eph, const uint8_t peer_eph_pub[NTM_KEY_LEN],
			    const struct ntm_ctl_keys *ctl);
void ntm_session_keys_wipe(struct ntm_session_keys *keys);

#endif
