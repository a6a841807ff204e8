/*
 * Relay bind and relay data packets, and the per-node relay credential.
 * The layouts are in ntm_relay.h.
 */
#include "ntm_relay.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "ntm_bytes.h"

#define OFF_VERSION 0
#define OFF_TYPE 1
#define OFF_RESERVED 2
#define OFF_SESSION 4
#define BIND_OFF_TIMESTAMP 12
#define BIND_OFF_KEY 20
#define BIND_OFF_MAC 52

/* The 12 ASCII bytes of the credential's domain separator, no terminator. */
#define CREDENTIAL_LABEL "ntm relay v1"
#define CREDENTIAL_LABEL_LEN 12

_Static_assert(BIND_OFF_KEY + NTM_KEY_LEN == NTM_RELAY_BIND_SIGNED_LEN, "MAC follows the key");
_Static_assert(BIND_OFF_MAC + NTM_RELAY_MAC_LEN == NTM_RELAY_BIND_LEN, "bind ends with the MAC");
_Static_assert(NTM_RELAY_MAC_LEN >= crypto_generichash_BYTES_MIN, "BLAKE2b output size");
_Static_assert(NTM_RELAY_CREDENTIAL_LEN >= crypto_generichash_KEYBYTES_MIN &&
		       NTM_RELAY_CREDENTIAL_LEN <= crypto_generichash_KEYBYTES_MAX,
	       "BLAKE2b key size");
_Static_assert(sizeof(CREDENTIAL_LABEL) - 1 == CREDENTIAL_LABEL_LEN, "label length");

static void prefix_put(uint8_t *p, enum ntm_pkt_type type)
{
	p[OFF_VERSION] = NTM_WIRE_VERSION;
	p[OFF_TYPE] = (uint8_t)type;
	p[OFF_RESERVED] = 0;
	p[OFF_RESERVED + 1] = 0;
}

void ntm_relay_credential(uint8_t out[NTM_RELAY_CREDENTIAL_LEN],
			  const uint8_t secret[NTM_RELAY_SECRET_LEN],
			  const uint8_t node_key[NTM_KEY_LEN])
{
	uint8_t msg[CREDENTIAL_LABEL_LEN + NTM_KEY_LEN];

	memcpy(msg, CREDENTIAL_LABEL, CREDENTIAL_LABEL_LEN);
	memcpy(msg + CREDENTIAL_LABEL_LEN, node_key, NTM_KEY_LEN);
	crypto_generichash(out, NTM_RELAY_CREDENTIAL_LEN, msg, sizeof(msg), secret,
			   NTM_RELAY_SECRET_LEN);
}

static void bind_mac(uint8_t mac[NTM_RELAY_MAC_LEN], const uint8_t *pkt,
		     const uint8_t credential[NTM_RELAY_CREDENTIAL_LEN])
{
	crypto_generichash(mac, NTM_RELAY_MAC_LEN, pkt, NTM_RELAY_BIND_SIGNED_LEN, credential,
			   NTM_RELAY_CREDENTIAL_LEN);
}

ssize_t ntm_relay_bind_build(uint8_t *out, size_t out_size, uint64_t session_id,
			     uint64_t timestamp_ms, const uint8_t node_key[NTM_KEY_LEN],
			     const uint8_t credential[NTM_RELAY_CREDENTIAL_LEN])
{
	if (out_size < NTM_RELAY_BIND_LEN)
		return -ENOSPC;
	prefix_put(out, NTM_PKT_RELAY_BIND);
	ntm_be64_put(out + OFF_SESSION, session_id);
	ntm_be64_put(out + BIND_OFF_TIMESTAMP, timestamp_ms);
	memcpy(out + BIND_OFF_KEY, node_key, NTM_KEY_LEN);
	bind_mac(out + BIND_OFF_MAC, out, credential);
	return NTM_RELAY_BIND_LEN;
}

/* A bind has exactly one valid length. The reserved bytes are not
 * interpreted, but the MAC covers them. */
static enum ntm_codec_status bind_check(const uint8_t *pkt, size_t len)
{
	if (len < NTM_RELAY_BIND_LEN)
		return NTM_CODEC_TRUNCATED;
	if (pkt[OFF_VERSION] != NTM_WIRE_VERSION)
		return NTM_CODEC_BAD_VERSION;
	if (pkt[OFF_TYPE] != NTM_PKT_RELAY_BIND)
		return NTM_CODEC_BAD_TYPE;
	if (len > NTM_RELAY_BIND_LEN)
		return NTM_CODEC_OVERSIZED;
	return NTM_CODEC_OK;
}

enum ntm_codec_status ntm_relay_bind_parse(const uint8_t *pkt, size_t len,
					   struct ntm_relay_bind *out)
{
	enum ntm_codec_status st = bind_check(pkt, len);

	if (st != NTM_CODEC_OK)
		return st;
	out->session_id = ntm_be64_get(pkt + OFF_SESSION);
	out->timestamp_ms = ntm_be64_get(pkt + BIND_OFF_TIMESTAMP);
	memcpy(out->node_key, pkt + BIND_OFF_KEY, NTM_KEY_LEN);
	return NTM_CODEC_OK;
}

enum ntm_codec_status ntm_relay_bind_verify(const uint8_t *pkt, size_t len,
					    const uint8_t credential[NTM_RELAY_CREDENTIAL_LEN])
{
	uint8_t mac[NTM_RELAY_MAC_LEN];
	enum ntm_codec_status st = bind_check(pkt, len);

	if (st != NTM_CODEC_OK)
		return st;
	bind_mac(mac, pkt, credential);
	if (sodium_memcmp(mac, pkt + BIND_OFF_MAC, NTM_RELAY_MAC_LEN) != 0)
		return NTM_CODEC_AUTH_FAILED;
	return NTM_CODEC_OK;
}

void ntm_relay_data_header(uint8_t out[NTM_RELAY_DATA_HEADER_LEN], uint64_t session_id)
{
	prefix_put(out, NTM_PKT_RELAY_DATA);
	ntm_be64_put(out + OFF_SESSION, session_id);
}

/* Checks the inner packet with the codec's own header checks, which bound
 * its length by the limits of its type. */
static enum ntm_codec_status inner_check(const uint8_t *inner, size_t len)
{
	enum ntm_pkt_type type;
	enum ntm_codec_status st = ntm_pkt_peek(inner, len, &type);
	const uint8_t *sender;
	uint32_t index;

	if (st != NTM_CODEC_OK)
		return st;
	if (type == NTM_PKT_CONTROL)
		return ntm_ctl_sender(inner, len, &sender);
	if (type == NTM_PKT_DATA)
		return ntm_data_index(inner, len, &index);
	return NTM_CODEC_BAD_TYPE;
}

enum ntm_codec_status ntm_relay_data_parse(const uint8_t *pkt, size_t len, uint64_t *session_id)
{
	enum ntm_codec_status st;

	if (len < NTM_RELAY_DATA_HEADER_LEN)
		return NTM_CODEC_TRUNCATED;
	if (pkt[OFF_VERSION] != NTM_WIRE_VERSION)
		return NTM_CODEC_BAD_VERSION;
	if (pkt[OFF_TYPE] != NTM_PKT_RELAY_DATA)
		return NTM_CODEC_BAD_TYPE;
	st = inner_check(pkt + NTM_RELAY_DATA_HEADER_LEN, len - NTM_RELAY_DATA_HEADER_LEN);
	if (st != NTM_CODEC_OK)
		return st;
	*session_id = ntm_be64_get(pkt + OFF_SESSION);
	return NTM_CODEC_OK;
}
