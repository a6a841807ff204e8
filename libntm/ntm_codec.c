/*
 * Outer packet codec: control packets sealed with XChaCha20-Poly1305 under
 * crypto_kx session keys, data packets sealed with ChaCha20-Poly1305 (IETF)
 * under a tunnel session key. The layouts are in ntm_codec.h.
 */
#include "ntm_codec.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "ntm_bytes.h"
#include "ntm_time.h"

/* Offsets inside the headers. */
#define OFF_VERSION 0
#define OFF_TYPE 1
#define OFF_RESERVED 2
#define CTL_OFF_SENDER 4
#define CTL_OFF_COUNTER 36
#define CTL_OFF_NONCE 44
#define DATA_OFF_INDEX 4
#define DATA_OFF_COUNTER 8

/* Bytes every packet type shares: version, type and reserved. */
#define COMMON_HEADER_LEN 4

_Static_assert(CTL_OFF_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ==
		       NTM_CTL_HEADER_LEN,
	       "control header ends with the XChaCha20 nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == NTM_TAG_LEN, "Poly1305 tag size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == NTM_TAG_LEN, "Poly1305 tag size");
_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "crypto_kx session key size");
_Static_assert(crypto_kx_PUBLICKEYBYTES == NTM_KEY_LEN, "crypto_kx public key size");

static const char *const status_names[NTM_CODEC_STATUS_COUNT] = {
	[NTM_CODEC_OK] = "ok",
	[NTM_CODEC_TRUNCATED] = "truncated",
	[NTM_CODEC_OVERSIZED] = "oversized",
	[NTM_CODEC_BAD_VERSION] = "bad_version",
	[NTM_CODEC_BAD_TYPE] = "bad_type",
	[NTM_CODEC_AUTH_FAILED] = "auth_failed",
	[NTM_CODEC_REPLAYED] = "replayed",
	[NTM_CODEC_NO_SPACE] = "no_space",
};

const char *ntm_codec_status_str(enum ntm_codec_status st)
{
	if ((unsigned)st >= NTM_CODEC_STATUS_COUNT)
		return "unknown";
	return status_names[st];
}

int ntm_ctl_keys_derive(struct ntm_ctl_keys *keys, const struct ntm_keypair *self,
			const uint8_t peer_pub[NTM_KEY_LEN])
{
	int order = memcmp(self->pub, peer_pub, NTM_KEY_LEN);
	int ret;

	/* Equal keys give both ends the same crypto_kx role, so both directions
	 * would use one key. */
	if (order == 0)
		return -EINVAL;

	/* crypto_kx fails when the shared point is all zero, which is what a
	 * low-order peer key produces. */
	if (order < 0)
		ret = crypto_kx_client_session_keys(keys->rx, keys->tx, self->pub, self->priv,
						    peer_pub);
	else
		ret = crypto_kx_server_session_keys(keys->rx, keys->tx, self->pub, self->priv,
						    peer_pub);
	if (ret != 0) {
		ntm_ctl_keys_wipe(keys);
		return -EINVAL;
	}
	return 0;
}

void ntm_ctl_keys_wipe(struct ntm_ctl_keys *keys)
{
	sodium_memzero(keys, sizeof(*keys));
}

uint64_t ntm_counter_start(void)
{
	/* Milliseconds fit in 42 bits until the year 2109, leaving 22 bits. */
	return ntm_wall_ms() << 22;
}

enum ntm_codec_status ntm_pkt_peek(const uint8_t *pkt, size_t len, enum ntm_pkt_type *type)
{
	if (len < COMMON_HEADER_LEN)
		return NTM_CODEC_TRUNCATED;
	if (pkt[OFF_VERSION] != NTM_WIRE_VERSION)
		return NTM_CODEC_BAD_VERSION;
	*type = (enum ntm_pkt_type)pkt[OFF_TYPE];
	return NTM_CODEC_OK;
}

/* Checks length, version and type of a packet that needs at least min_len
 * and at most max_len bytes. The reserved bytes are ignored. */
static enum ntm_codec_status header_check(const uint8_t *pkt, size_t len, enum ntm_pkt_type type,
					  size_t min_len, size_t max_len)
{
	if (len < min_len)
		return NTM_CODEC_TRUNCATED;
	if (pkt[OFF_VERSION] != NTM_WIRE_VERSION)
		return NTM_CODEC_BAD_VERSION;
	if (pkt[OFF_TYPE] != type)
		return NTM_CODEC_BAD_TYPE;
	if (len > max_len)
		return NTM_CODEC_OVERSIZED;
	return NTM_CODEC_OK;
}

static void common_header_put(uint8_t *out, enum ntm_pkt_type type)
{
	out[OFF_VERSION] = NTM_WIRE_VERSION;
	out[OFF_TYPE] = (uint8_t)type;
	out[OFF_RESERVED] = 0;
	out[OFF_RESERVED + 1] = 0;
}

ssize_t ntm_ctl_seal(uint8_t *out, size_t out_size, const uint8_t sender_pub[NTM_KEY_LEN],
		     const struct ntm_ctl_keys *keys, uint64_t counter,
		     const uint8_t *pt, size_t pt_len)
{
	size_t total = NTM_CTL_HEADER_LEN + pt_len + NTM_TAG_LEN;
	unsigned long long ct_len = 0;

	if (pt_len > NTM_CTL_MAX_PLAINTEXT || out_size < total)
		return -ENOSPC;

	common_header_put(out, NTM_PKT_CONTROL);
	memcpy(out + CTL_OFF_SENDER, sender_pub, NTM_KEY_LEN);
	ntm_be64_put(out + CTL_OFF_COUNTER, counter);
	randombytes_buf(out + CTL_OFF_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);

	crypto_aead_xchacha20poly1305_ietf_encrypt(out + NTM_CTL_HEADER_LEN, &ct_len, pt, pt_len,
						   out, NTM_CTL_HEADER_LEN, NULL,
						   out + CTL_OFF_NONCE, keys->tx);
	return (ssize_t)total;
}

enum ntm_codec_status ntm_ctl_sender(const uint8_t *pkt, size_t len, const uint8_t **sender_pub)
{
	enum ntm_codec_status st = header_check(pkt, len, NTM_PKT_CONTROL,
						NTM_CTL_HEADER_LEN + NTM_TAG_LEN,
						NTM_CTL_MAX_PACKET);

	if (st == NTM_CODEC_OK)
		*sender_pub = pkt + CTL_OFF_SENDER;
	return st;
}

/* On NTM_CODEC_REPLAYED, *counter is set for the caller's log line and pt is
 * wiped. */
enum ntm_codec_status ntm_ctl_open(const uint8_t *pkt, size_t len, const struct ntm_ctl_keys *keys,
				   struct ntm_replay *win, uint8_t *pt, size_t pt_size,
				   size_t *pt_len, uint64_t *counter)
{
	enum ntm_codec_status st = header_check(pkt, len, NTM_PKT_CONTROL,
						NTM_CTL_HEADER_LEN + NTM_TAG_LEN,
						NTM_CTL_MAX_PACKET);
	unsigned long long m_len = 0;
	size_t ct_len;
	uint64_t ctr;

	if (st != NTM_CODEC_OK)
		return st;
	ct_len = len - NTM_CTL_HEADER_LEN;
	if (pt_size < ct_len - NTM_TAG_LEN)
		return NTM_CODEC_NO_SPACE;

	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &m_len, NULL, pkt + NTM_CTL_HEADER_LEN,
						       ct_len, pkt, NTM_CTL_HEADER_LEN,
						       pkt + CTL_OFF_NONCE, keys->rx) != 0)
		return NTM_CODEC_AUTH_FAILED;

	ctr = ntm_be64_get(pkt + CTL_OFF_COUNTER);
	if (counter != NULL)
		*counter = ctr;
	if (win != NULL && !ntm_replay_check(win, ctr)) {
		sodium_memzero(pt, (size_t)m_len);
		return NTM_CODEC_REPLAYED;
	}
	if (win != NULL)
		ntm_replay_update(win, ctr);
	*pt_len = (size_t)m_len;
	return NTM_CODEC_OK;
}

/* The 96-bit IETF nonce of a data packet: 4 zero bytes, then the counter
 * little endian. */
static void data_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
		       uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++) {
		nonce[4 + i] = (uint8_t)counter;
		counter >>= 8;
	}
}

/* inner may be out + NTM_DATA_HEADER_LEN, to seal in place. */
ssize_t ntm_data_seal(uint8_t *out, size_t out_size, uint32_t receiver_index, uint64_t counter,
		      const uint8_t key[32], const uint8_t *inner, size_t inner_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	size_t total = NTM_DATA_HEADER_LEN + inner_len + NTM_TAG_LEN;
	unsigned long long ct_len = 0;

	if (total > NTM_DATA_MAX_PACKET || out_size < total)
		return -ENOSPC;

	common_header_put(out, NTM_PKT_DATA);
	ntm_be32_put(out + DATA_OFF_INDEX, receiver_index);
	ntm_be64_put(out + DATA_OFF_COUNTER, counter);
	data_nonce(nonce, counter);

	crypto_aead_chacha20poly1305_ietf_encrypt(out + NTM_DATA_HEADER_LEN, &ct_len, inner,
						  inner_len, out, NTM_DATA_HEADER_LEN, NULL,
						  nonce, key);
	return (ssize_t)total;
}

static enum ntm_codec_status data_header_check(const uint8_t *pkt, size_t len)
{
	return header_check(pkt, len, NTM_PKT_DATA, NTM_DATA_HEADER_LEN + NTM_TAG_LEN,
			    NTM_DATA_MAX_PACKET);
}

enum ntm_codec_status ntm_data_index(const uint8_t *pkt, size_t len, uint32_t *receiver_index)
{
	enum ntm_codec_status st = data_header_check(pkt, len);

	if (st == NTM_CODEC_OK)
		*receiver_index = ntm_be32_get(pkt + DATA_OFF_INDEX);
	return st;
}

/*
 * Decrypts in place. When the tag does not verify, libsodium zeroes the
 * ciphertext bytes of pkt. After NTM_CODEC_REPLAYED the inner packet is
 * wiped and *counter is set for the caller's log line.
 */
enum ntm_codec_status ntm_data_open(uint8_t *pkt, size_t len, const uint8_t key[32],
				    struct ntm_replay *win, uint8_t **inner, size_t *inner_len,
				    uint64_t *counter)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	enum ntm_codec_status st = data_header_check(pkt, len);
	uint8_t *body = pkt + NTM_DATA_HEADER_LEN;
	unsigned long long m_len = 0;
	uint64_t ctr;

	if (st != NTM_CODEC_OK)
		return st;

	ctr = ntm_be64_get(pkt + DATA_OFF_COUNTER);
	data_nonce(nonce, ctr);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(body, &m_len, NULL, body,
						      len - NTM_DATA_HEADER_LEN, pkt,
						      NTM_DATA_HEADER_LEN, nonce, key) != 0)
		return NTM_CODEC_AUTH_FAILED;

	if (counter != NULL)
		*counter = ctr;
	if (win != NULL && !ntm_replay_check(win, ctr)) {
		sodium_memzero(body, (size_t)m_len);
		return NTM_CODEC_REPLAYED;
	}
	if (win != NULL)
		ntm_replay_update(win, ctr);
	*inner = body;
	*inner_len = (size_t)m_len;
	return NTM_CODEC_OK;
}
