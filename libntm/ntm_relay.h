/*
 * Relay packets between a node and a Relay Server (docs/protocol.md,
 * sections 4.4, 4.5 and 12), shared by the RS, the node agent and the DC.
 *
 * Relay bind (type 3), 68 bytes:
 *   0  u8   version (1)
 *   1  u8   type (3)
 *   2  u16  reserved, sent as 0, ignored on receipt
 *   4  u64  session_id, big endian
 *   12 u64  timestamp_ms, big endian: the sender's Unix time
 *   20 [32] the sender's node key
 *   52 [16] MAC: keyed BLAKE2b-128 of bytes 0..51, keyed with the node's
 *           32-byte relay credential
 *
 * Relay data (type 4):
 *   0  u8   version (1)
 *   1  u8   type (4)
 *   2  u16  reserved
 *   4  u64  session_id, big endian
 *   12 one control (type 1) or data (type 2) packet, unchanged
 *
 * A node's credential is BLAKE2b-256(key = session secret, message =
 * "ntm relay v1" || node key). The RS hands the session secret to the DC,
 * and the DC gives each node only its own credential.
 */
#ifndef NTM_RELAY_H
#define NTM_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntm_codec.h"
#include "ntm_key.h"

#define NTM_RELAY_BIND_LEN 68
/* Bytes of a bind the MAC covers. */
#define NTM_RELAY_BIND_SIGNED_LEN 52
#define NTM_RELAY_MAC_LEN 16
#define NTM_RELAY_DATA_HEADER_LEN 12
#define NTM_RELAY_SECRET_LEN 32
#define NTM_RELAY_CREDENTIAL_LEN 32

/* Fields of a relay bind, as ntm_relay_bind_parse reads them. */
struct ntm_relay_bind {
	uint64_t session_id;
	uint64_t timestamp_ms;
	uint8_t node_key[NTM_KEY_LEN];
};

/* Derives the relay credential of node_key from the session secret. */
void ntm_relay_credential(uint8_t out[NTM_RELAY_CREDENTIAL_LEN],
			  const uint8_t secret[NTM_RELAY_SECRET_LEN],
			  const uint8_t node_key[NTM_KEY_LEN]);

/* Writes a relay bind MACed with credential into out. Returns
 * NTM_RELAY_BIND_LEN, or -ENOSPC when out_size is smaller. */
ssize_t ntm_relay_bind_build(uint8_t *out, size_t out_size, uint64_t session_id,
			     uint64_t timestamp_ms, const uint8_t node_key[NTM_KEY_LEN],
			     const uint8_t credential[NTM_RELAY_CREDENTIAL_LEN]);

/*
 * Checks length, version and type of a relay bind and reads its fields,
 * without checking the MAC. Returns NTM_CODEC_TRUNCATED below 68 bytes,
 * NTM_CODEC_OVERSIZED above, NTM_CODEC_BAD_VERSION, NTM_CODEC_BAD_TYPE or
 * NTM_CODEC_OK.
 */
enum ntm_codec_status ntm_relay_bind_parse(const uint8_t *pkt, size_t len,
					   struct ntm_relay_bind *out);

/* Checks the MAC of a relay bind against credential in constant time.
 * Returns NTM_CODEC_OK, NTM_CODEC_AUTH_FAILED, or the status of a failed
 * length check as ntm_relay_bind_parse. */
enum ntm_codec_status ntm_relay_bind_verify(const uint8_t *pkt, size_t len,
					    const uint8_t credential[NTM_RELAY_CREDENTIAL_LEN]);

/* Writes the 12-byte relay data header in front of an inner packet. */
void ntm_relay_data_header(uint8_t out[NTM_RELAY_DATA_HEADER_LEN], uint64_t session_id);

/*
 * Checks a relay data packet: its own header, and the inner packet's common
 * prefix, type (control or data) and length bounds for that type. On
 * NTM_CODEC_OK *session_id is set. Returns NTM_CODEC_TRUNCATED,
 * NTM_CODEC_OVERSIZED, NTM_CODEC_BAD_VERSION or NTM_CODEC_BAD_TYPE otherwise.
 */
enum ntm_codec_status ntm_relay_data_parse(const uint8_t *pkt, size_t len, uint64_t *session_id);

#endif
