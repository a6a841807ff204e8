/*
 * Outer packet formats of the node UDP socket (docs/protocol.md, "Packets").
 * Every packet starts with the same 4 bytes: version, type, 2 reserved bytes.
 *
 * Control packet (type 1), for node <-> DC and node <-> node control:
 *   0  u8   version (1)
 *   1  u8   type (1)
 *   2  u16  reserved, sent as 0, ignored on receipt
 *   4  [32] sender's static X25519 public key
 *   36 u64  counter, big endian, for replay protection
 *   44 [24] XChaCha20-Poly1305 nonce, random
 *   68 ciphertext of a protobuf Envelope, then the 16-byte tag
 * The 68 header bytes are the AEAD's associated data.
 *
 * Data packet (type 2), tunnel traffic:
 *   0  u8   version (1)
 *   1  u8   type (2)
 *   2  u16  reserved
 *   4  u32  receiver's session index, big endian
 *   8  u64  counter, big endian; also the ChaCha20-Poly1305 nonce
 *   16 ciphertext of the inner packet, then the 16-byte tag
 * The 16 header bytes are the associated data.
 *
 * Relay bind (type 3) and relay data (type 4) are defined in docs/protocol.md.
 */
#ifndef NTM_CODEC_H
#define NTM_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntm_key.h"
#include "ntm_replay.h"

#define NTM_WIRE_VERSION 1

enum ntm_pkt_type {
	NTM_PKT_CONTROL = 1,
	NTM_PKT_DATA = 2,
	NTM_PKT_RELAY_BIND = 3,
	NTM_PKT_RELAY_DATA = 4,
};

#define NTM_CTL_HEADER_LEN 68
#define NTM_DATA_HEADER_LEN 16
#define NTM_TAG_LEN 16
/* Largest control packet sent or accepted, in bytes: fits a 1500-byte
 * Ethernet MTU with IPv6 and UDP headers and a relay header to spare. */
#define NTM_CTL_MAX_PACKET 1400
#define NTM_CTL_MAX_PLAINTEXT (NTM_CTL_MAX_PACKET - NTM_CTL_HEADER_LEN - NTM_TAG_LEN)
/* Largest data packet: a 65535-byte inner IP packet plus header and tag. */
#define NTM_DATA_MAX_PACKET (65535 + NTM_DATA_HEADER_LEN + NTM_TAG_LEN)

enum ntm_codec_status {
	NTM_CODEC_OK = 0,
	NTM_CODEC_TRUNCATED,    /* shorter than its header and tag */
	NTM_CODEC_OVERSIZED,    /* longer than the type allows */
	NTM_CODEC_BAD_VERSION,
	NTM_CODEC_BAD_TYPE,
	NTM_CODEC_AUTH_FAILED,  /* the AEAD tag did not verify */
	NTM_CODEC_REPLAYED,     /* counter seen before or below the window */
	NTM_CODEC_NO_SPACE,     /* the output buffer is too small */
	NTM_CODEC_STATUS_COUNT,
};

/* Short name of a status for logs and metric labels ("truncated", ...). */
const char *ntm_codec_status_str(enum ntm_codec_status st);

/*
 * Directional keys for control packets between two static key pairs,
 * from libsodium's crypto_kx: the side with the lexicographically smaller
 * public key is the crypto_kx client.
 */
struct ntm_ctl_keys {
	uint8_t rx[32];
	uint8_t tx[32];
};

/* Returns 0, or -EINVAL when the peer key is a low-order point. */
int ntm_ctl_keys_derive(struct ntm_ctl_keys *keys, const struct ntm_keypair *self,
			const uint8_t peer_pub[NTM_KEY_LEN]);
void ntm_ctl_keys_wipe(struct ntm_ctl_keys *keys);

/*
 * First counter for a sender that has just started: Unix milliseconds << 22.
 * Counters then increase by one per packet, so a restarted sender stays above
 * every counter its previous run sent, unless it sent more than 2^22 packets
 * per millisecond of uptime on average, or its clock went back.
 */
uint64_t ntm_counter_start(void);

/* Reads the packet type without checking anything else. Returns
 * NTM_CODEC_TRUNCATED, NTM_CODEC_BAD_VERSION or NTM_CODEC_OK. */
enum ntm_codec_status ntm_pkt_peek(const uint8_t *pkt, size_t len, enum ntm_pkt_type *type);

/*
 * Seals pt into a control packet in out. Returns the packet length, or
 * -ENOSPC when pt is longer than NTM_CTL_MAX_PLAINTEXT or out_size is short.
 */
ssize_t ntm_ctl_seal(uint8_t *out, size_t out_size, const uint8_t sender_pub[NTM_KEY_LEN],
		     const struct ntm_ctl_keys *keys, uint64_t counter,
		     const uint8_t *pt, size_t pt_len);

/* Checks the control header's length, version and type and returns a pointer
 * to the sender key inside pkt, so the receiver can look up its keys. */
enum ntm_codec_status ntm_ctl_sender(const uint8_t *pkt, size_t len, const uint8_t **sender_pub);

/*
 * Authenticates and decrypts a control packet into pt (pt_size at least
 * len - NTM_CTL_HEADER_LEN - NTM_TAG_LEN). The replay window is consulted
 * after the tag verified and updated only when the packet is accepted; pass
 * win = NULL to skip the replay check (the caller then checks the counter
 * itself, for example against a request nonce).
 */
enum ntm_codec_status ntm_ctl_open(const uint8_t *pkt, size_t len, const struct ntm_ctl_keys *keys,
				   struct ntm_replay *win, uint8_t *pt, size_t pt_size,
				   size_t *pt_len, uint64_t *counter);

/* Seals inner into a data packet with the session key. Returns the length or
 * -ENOSPC. */
ssize_t ntm_data_seal(uint8_t *out, size_t out_size, uint32_t receiver_index, uint64_t counter,
		      const uint8_t key[32], const uint8_t *inner, size_t inner_len);

/* Reads the receiver index of a data packet. */
enum ntm_codec_status ntm_data_index(const uint8_t *pkt, size_t len, uint32_t *receiver_index);

/* Opens a data packet in place: on NTM_CODEC_OK the inner packet is at
 * *inner (inside pkt) with *inner_len bytes. Replay handling as ntm_ctl_open. */
enum ntm_codec_status ntm_data_open(uint8_t *pkt, size_t len, const uint8_t key[32],
				    struct ntm_replay *win, uint8_t **inner, size_t *inner_len,
				    uint64_t *counter);

#endif
