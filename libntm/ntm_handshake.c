/* Tunnel session key derivation; see ntm_handshake.h for the schedule. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "ntm_handshake.h"

static const char label[] = "ntm tunnel v1";

static void bind_key(uint8_t out[32], const uint8_t eph_key[32], const uint8_t static_key[32],
		     const uint8_t init_eph[32], const uint8_t resp_eph[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, eph_key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, static_key, 32);
	crypto_generichash_update(&st, init_eph, 32);
	crypto_generichash_update(&st, resp_eph, 32);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

int ntm_session_keys_derive(struct ntm_session_keys *out, bool initiator,
			    struct ntm_keypair *self_eph, const uint8_t peer_eph_pub[NTM_KEY_LEN],
			    const struct ntm_ctl_keys *ctl)
{
	uint8_t rx[32], tx[32], self_pub[32];
	int rc;

	/* The wipe below clears self_eph->pub too, so keep a copy for the transcript. */
	memcpy(self_pub, self_eph->pub, sizeof(self_pub));

	const uint8_t *init_eph = initiator ? self_pub : peer_eph_pub;
	const uint8_t *resp_eph = initiator ? peer_eph_pub : self_pub;

	if (initiator)
		rc = crypto_kx_client_session_keys(rx, tx, self_eph->pub, self_eph->priv,
						   peer_eph_pub);
	else
		rc = crypto_kx_server_session_keys(rx, tx, self_eph->pub, self_eph->priv,
						   peer_eph_pub);
	ntm_keypair_wipe(self_eph);
	if (rc != 0)
		return -EINVAL;

	bind_key(out->send, tx, ctl->tx, init_eph, resp_eph);
	bind_key(out->recv, rx, ctl->rx, init_eph, resp_eph);
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	return 0;
}

void ntm_session_keys_wipe(struct ntm_session_keys *keys)
{
	sodium_memzero(keys, sizeof(*keys));
}
