/* Unit tests for the outer packet codec (ntm_codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_codec.h"
#include "ntm_time.h"

/* Two nodes a and b with their directional control keys, and an outsider c. */
struct pair {
	struct ntm_keypair a, b, c;
	struct ntm_ctl_keys ab;   /* a's keys towards b */
	struct ntm_ctl_keys ba;   /* b's keys towards a */
	struct ntm_ctl_keys cb;   /* c's keys towards b */
	uint8_t data_key[32];
};

static struct pair P;

static int pair_setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	ntm_keypair_generate(&P.a);
	ntm_keypair_generate(&P.b);
	ntm_keypair_generate(&P.c);
	if (ntm_ctl_keys_derive(&P.ab, &P.a, P.b.pub) != 0 ||
	    ntm_ctl_keys_derive(&P.ba, &P.b, P.a.pub) != 0 ||
	    ntm_ctl_keys_derive(&P.cb, &P.c, P.b.pub) != 0)
		return -1;
	randombytes_buf(P.data_key, sizeof(P.data_key));
	return 0;
}

static const uint8_t message[] = "registration request plaintext";
#define MESSAGE_LEN (sizeof(message) - 1)

/* Seals message from a to b with counter into pkt; returns the length. */
static size_t ctl_sample(uint8_t *pkt, size_t size, uint64_t counter)
{
	ssize_t n = ntm_ctl_seal(pkt, size, P.a.pub, &P.ab, counter, message, MESSAGE_LEN);

	assert_int_equal(n, NTM_CTL_HEADER_LEN + MESSAGE_LEN + NTM_TAG_LEN);
	return (size_t)n;
}

static size_t data_sample(uint8_t *pkt, size_t size, uint64_t counter)
{
	ssize_t n = ntm_data_seal(pkt, size, 0x01020304, counter, P.data_key, message,
				  MESSAGE_LEN);

	assert_int_equal(n, NTM_DATA_HEADER_LEN + MESSAGE_LEN + NTM_TAG_LEN);
	return (size_t)n;
}

static enum ntm_codec_status ctl_open_b(const uint8_t *pkt, size_t len, struct ntm_replay *win)
{
	uint8_t pt[NTM_CTL_MAX_PACKET];
	size_t pt_len = 0;
	uint64_t counter = 0;

	return ntm_ctl_open(pkt, len, &P.ba, win, pt, sizeof(pt), &pt_len, &counter);
}

static enum ntm_codec_status data_open_copy(const uint8_t *pkt, size_t len,
					    struct ntm_replay *win)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint64_t counter = 0;
	enum ntm_codec_status st;

	assert_non_null(copy);
	memcpy(copy, pkt, len);
	st = ntm_data_open(copy, len, P.data_key, win, &inner, &inner_len, &counter);
	free(copy);
	return st;
}

/* ---- keys ---- */

static void ctl_keys_match(void **state)
{
	assert_memory_equal(P.ab.tx, P.ba.rx, 32);
	assert_memory_equal(P.ab.rx, P.ba.tx, 32);
	assert_memory_not_equal(P.ab.tx, P.ab.rx, 32);
}

static void ctl_keys_same_key(void **state)
{
	struct ntm_ctl_keys keys;

	assert_int_equal(ntm_ctl_keys_derive(&keys, &P.a, P.a.pub), -EINVAL);
}

static void ctl_keys_low_order(void **state)
{
	/* Points of order 1, 2, 4 and 8 and their non-canonical encodings
	 * (Curve25519 "blacklist" of low-order points). */
	static const char *const hex[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	static const uint8_t zero[32];

	for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
		uint8_t peer[NTM_KEY_LEN];
		struct ntm_ctl_keys keys;
		int ret;

		assert_int_equal(sodium_hex2bin(peer, sizeof(peer), hex[i], 64, NULL, NULL, NULL),
				 0);
		memset(&keys, 0x55, sizeof(keys));
		ret = ntm_ctl_keys_derive(&keys, &P.a, peer);
		if (ret != -EINVAL)
			print_message("accepted low-order point %s\n", hex[i]);
		assert_int_equal(ret, -EINVAL);
		assert_memory_equal(keys.rx, zero, 32);
		assert_memory_equal(keys.tx, zero, 32);
	}
}

static void ctl_keys_wipe(void **state)
{
	static const uint8_t zero[32];
	struct ntm_ctl_keys keys = P.ab;

	ntm_ctl_keys_wipe(&keys);
	assert_memory_equal(keys.rx, zero, 32);
	assert_memory_equal(keys.tx, zero, 32);
}

static void counter_start_time(void **state)
{
	uint64_t before = ntm_wall_ms();
	uint64_t c = ntm_counter_start();
	uint64_t after = ntm_wall_ms();

	assert_int_equal(c & ((UINT64_C(1) << 22) - 1), 0);
	assert_true(c >> 22 >= before);
	assert_true(c >> 22 <= after);
}

static void status_names(void **state)
{
	for (int i = 0; i < NTM_CODEC_STATUS_COUNT; i++) {
		assert_string_not_equal(ntm_codec_status_str((enum ntm_codec_status)i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ntm_codec_status_str((enum ntm_codec_status)i),
						ntm_codec_status_str((enum ntm_codec_status)j));
	}
	assert_string_equal(ntm_codec_status_str(NTM_CODEC_TRUNCATED), "truncated");
	assert_string_equal(ntm_codec_status_str(NTM_CODEC_STATUS_COUNT), "unknown");
}

/* ---- peek ---- */

static void pkt_peek_cases(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	enum ntm_pkt_type type = 0;
	size_t len = ctl_sample(pkt, sizeof(pkt), 1);

	for (size_t n = 0; n < 4; n++)
		assert_int_equal(ntm_pkt_peek(pkt, n, &type), NTM_CODEC_TRUNCATED);
	assert_int_equal(ntm_pkt_peek(pkt, len, &type), NTM_CODEC_OK);
	assert_int_equal(type, NTM_PKT_CONTROL);
	assert_int_equal(ntm_pkt_peek(pkt, 4, &type), NTM_CODEC_OK);

	len = data_sample(pkt, sizeof(pkt), 1);
	assert_int_equal(ntm_pkt_peek(pkt, len, &type), NTM_CODEC_OK);
	assert_int_equal(type, NTM_PKT_DATA);

	pkt[1] = 9;
	assert_int_equal(ntm_pkt_peek(pkt, len, &type), NTM_CODEC_OK);
	assert_int_equal((int)type, 9);
	pkt[0] = 2;
	assert_int_equal(ntm_pkt_peek(pkt, len, &type), NTM_CODEC_BAD_VERSION);
}

/* ---- control packets ---- */

static void ctl_roundtrip(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], pt[NTM_CTL_MAX_PACKET];
	uint8_t counter_be[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	size_t len = ctl_sample(pkt, sizeof(pkt), 0x1122334455667788u);
	const uint8_t *sender = NULL;
	size_t pt_len = 0;
	uint64_t counter = 0;

	assert_int_equal(pkt[0], NTM_WIRE_VERSION);
	assert_int_equal(pkt[1], NTM_PKT_CONTROL);
	assert_int_equal(pkt[2], 0);
	assert_int_equal(pkt[3], 0);
	assert_memory_equal(pkt + 4, P.a.pub, NTM_KEY_LEN);
	assert_memory_equal(pkt + 36, counter_be, 8);

	assert_int_equal(ntm_ctl_sender(pkt, len, &sender), NTM_CODEC_OK);
	assert_ptr_equal(sender, pkt + 4);

	assert_int_equal(ntm_ctl_open(pkt, len, &P.ba, NULL, pt, sizeof(pt), &pt_len, &counter),
			 NTM_CODEC_OK);
	assert_int_equal(pt_len, MESSAGE_LEN);
	assert_memory_equal(pt, message, MESSAGE_LEN);
	assert_int_equal(counter, 0x1122334455667788u);
}

/* Opens a control packet with libsodium directly, to pin the documented
 * layout: XChaCha20-Poly1305 with the nonce at 44 and the header as AD. */
static void ctl_layout_libsodium(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], pt[NTM_CTL_MAX_PACKET];
	size_t len = ctl_sample(pkt, sizeof(pkt), 5);
	unsigned long long pt_len = 0;

	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
				 pt, &pt_len, NULL, pkt + 68, len - 68, pkt, 68, pkt + 44, P.ba.rx),
			 0);
	assert_int_equal(pt_len, MESSAGE_LEN);
	assert_memory_equal(pt, message, MESSAGE_LEN);
}

static void ctl_nonce_random(void **state)
{
	uint8_t p1[NTM_CTL_MAX_PACKET], p2[NTM_CTL_MAX_PACKET];

	ctl_sample(p1, sizeof(p1), 1);
	ctl_sample(p2, sizeof(p2), 1);
	assert_memory_not_equal(p1 + 44, p2 + 44, 24);
}

static void ctl_empty_plaintext(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], pt[1];
	size_t pt_len = 99;
	uint64_t counter;
	ssize_t n = ntm_ctl_seal(pkt, sizeof(pkt), P.a.pub, &P.ab, 3, NULL, 0);

	assert_int_equal(n, NTM_CTL_HEADER_LEN + NTM_TAG_LEN);
	assert_int_equal(ntm_ctl_open(pkt, (size_t)n, &P.ba, NULL, pt, 0, &pt_len, &counter),
			 NTM_CODEC_OK);
	assert_int_equal(pt_len, 0);
}

static void ctl_max_size(void **state)
{
	static uint8_t pkt[NTM_CTL_MAX_PACKET + 1], big[NTM_CTL_MAX_PLAINTEXT + 1],
		pt[NTM_CTL_MAX_PLAINTEXT];
	size_t pt_len = 0;
	uint64_t counter;
	ssize_t n;

	randombytes_buf(big, sizeof(big));
	n = ntm_ctl_seal(pkt, sizeof(pkt), P.a.pub, &P.ab, 1, big, NTM_CTL_MAX_PLAINTEXT);
	assert_int_equal(n, NTM_CTL_MAX_PACKET);
	assert_int_equal(ntm_ctl_open(pkt, (size_t)n, &P.ba, NULL, pt, sizeof(pt), &pt_len,
				      &counter),
			 NTM_CODEC_OK);
	assert_int_equal(pt_len, NTM_CTL_MAX_PLAINTEXT);
	assert_memory_equal(pt, big, NTM_CTL_MAX_PLAINTEXT);

	/* One byte more plaintext, or one byte less room, does not fit. */
	assert_int_equal(ntm_ctl_seal(pkt, sizeof(pkt), P.a.pub, &P.ab, 1, big,
				      NTM_CTL_MAX_PLAINTEXT + 1),
			 -ENOSPC);
	assert_int_equal(ntm_ctl_seal(pkt, NTM_CTL_HEADER_LEN + 10 + NTM_TAG_LEN - 1, P.a.pub,
				      &P.ab, 1, big, 10),
			 -ENOSPC);
}

static void ctl_oversized(void **state)
{
	static uint8_t pkt[NTM_CTL_MAX_PACKET + 1];
	const uint8_t *sender;
	ssize_t n = ntm_ctl_seal(pkt, sizeof(pkt), P.a.pub, &P.ab, 1, message, MESSAGE_LEN);

	assert_true(n > 0);
	assert_int_equal(ctl_open_b(pkt, NTM_CTL_MAX_PACKET + 1, NULL), NTM_CODEC_OVERSIZED);
	assert_int_equal(ntm_ctl_sender(pkt, NTM_CTL_MAX_PACKET + 1, &sender),
			 NTM_CODEC_OVERSIZED);
	assert_int_equal(ntm_ctl_sender(pkt, NTM_CTL_MAX_PACKET, &sender), NTM_CODEC_OK);
}

static void ctl_truncated(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	const uint8_t *sender;

	ctl_sample(pkt, sizeof(pkt), 1);
	for (size_t len = 0; len < NTM_CTL_HEADER_LEN + NTM_TAG_LEN; len++) {
		assert_int_equal(ctl_open_b(pkt, len, NULL), NTM_CODEC_TRUNCATED);
		assert_int_equal(ntm_ctl_sender(pkt, len, &sender), NTM_CODEC_TRUNCATED);
	}
	/* Cut inside the ciphertext: long enough, but the tag moves. */
	assert_int_equal(ctl_open_b(pkt, NTM_CTL_HEADER_LEN + NTM_TAG_LEN, NULL),
			 NTM_CODEC_AUTH_FAILED);
}

static void ctl_bad_version(void **state)
{
	static const uint8_t versions[] = { 0, 2, 0x81, 0xff };
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	const uint8_t *sender;
	size_t len = ctl_sample(pkt, sizeof(pkt), 1);

	for (size_t i = 0; i < sizeof(versions); i++) {
		pkt[0] = versions[i];
		assert_int_equal(ctl_open_b(pkt, len, NULL), NTM_CODEC_BAD_VERSION);
		assert_int_equal(ntm_ctl_sender(pkt, len, &sender), NTM_CODEC_BAD_VERSION);
	}
}

static void ctl_bad_type(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET] = { 0 };
	const uint8_t *sender;
	size_t len = data_sample(pkt, sizeof(pkt), 1);

	/* A data packet padded to control length is still the wrong type. */
	len = NTM_CTL_HEADER_LEN + NTM_TAG_LEN + 1;
	assert_int_equal(ctl_open_b(pkt, len, NULL), NTM_CODEC_BAD_TYPE);
	assert_int_equal(ntm_ctl_sender(pkt, len, &sender), NTM_CODEC_BAD_TYPE);
	for (int type = 0; type < 256; type++) {
		if (type == NTM_PKT_CONTROL)
			continue;
		pkt[1] = (uint8_t)type;
		assert_int_equal(ctl_open_b(pkt, len, NULL), NTM_CODEC_BAD_TYPE);
	}
}

static void ctl_tamper_any_byte(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], bad[NTM_CTL_MAX_PACKET];
	size_t len = ctl_sample(pkt, sizeof(pkt), 77);
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };

	/* Bytes 0 and 1 are version and type with their own status; every
	 * later byte (reserved, sender, counter, nonce, ciphertext, tag) is
	 * authenticated. */
	assert_int_equal(ctl_open_b(pkt, len, NULL), NTM_CODEC_OK);
	for (size_t i = 2; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(bad, pkt, len);
			bad[i] ^= flips[f];
			if (ctl_open_b(bad, len, NULL) != NTM_CODEC_AUTH_FAILED)
				print_message("byte %zu ^ 0x%02x accepted\n", i, flips[f]);
			assert_int_equal(ctl_open_b(bad, len, NULL), NTM_CODEC_AUTH_FAILED);
		}
	}
}

/* A sender may set the reserved bytes; the receiver ignores their value
 * but they stay authenticated. */
static void ctl_reserved_ignored(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	unsigned long long ct_len;

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = NTM_WIRE_VERSION;
	pkt[1] = NTM_PKT_CONTROL;
	pkt[2] = 0xab;
	pkt[3] = 0xcd;
	memcpy(pkt + 4, P.a.pub, NTM_KEY_LEN);
	pkt[43] = 9;
	randombytes_buf(pkt + 44, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(pkt + 68, &ct_len, message, MESSAGE_LEN, pkt,
						   68, NULL, pkt + 44, P.ab.tx);
	assert_int_equal(ctl_open_b(pkt, 68 + (size_t)ct_len, NULL), NTM_CODEC_OK);
}

static void ctl_wrong_keys(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], pt[NTM_CTL_MAX_PACKET];
	size_t len = ctl_sample(pkt, sizeof(pkt), 1);
	size_t pt_len;
	uint64_t counter;
	struct ntm_ctl_keys swapped = { 0 };

	/* The sender's own keys: rx and tx differ, so it cannot open its packet. */
	assert_int_equal(ntm_ctl_open(pkt, len, &P.ab, NULL, pt, sizeof(pt), &pt_len, &counter),
			 NTM_CODEC_AUTH_FAILED);
	/* An outsider's keys towards b. */
	assert_int_equal(ntm_ctl_open(pkt, len, &P.cb, NULL, pt, sizeof(pt), &pt_len, &counter),
			 NTM_CODEC_AUTH_FAILED);
	memcpy(swapped.rx, P.ba.tx, 32);
	memcpy(swapped.tx, P.ba.rx, 32);
	assert_int_equal(ntm_ctl_open(pkt, len, &swapped, NULL, pt, sizeof(pt), &pt_len,
				      &counter),
			 NTM_CODEC_AUTH_FAILED);
}

static void ctl_replayed(void **state)
{
	uint8_t p5[NTM_CTL_MAX_PACKET], p9[NTM_CTL_MAX_PACKET], p3[NTM_CTL_MAX_PACKET];
	uint8_t pt[NTM_CTL_MAX_PACKET];
	static const uint8_t zero[MESSAGE_LEN];
	size_t l5 = ctl_sample(p5, sizeof(p5), 5), l9 = ctl_sample(p9, sizeof(p9), 9);
	size_t l3 = ctl_sample(p3, sizeof(p3), 3);
	size_t pt_len = 0;
	uint64_t counter = 0;
	struct ntm_replay win;

	ntm_replay_reset(&win, 0);
	assert_int_equal(ctl_open_b(p5, l5, &win), NTM_CODEC_OK);
	assert_int_equal(ctl_open_b(p9, l9, &win), NTM_CODEC_OK);
	memset(pt, 0x77, sizeof(pt));
	assert_int_equal(ntm_ctl_open(p5, l5, &P.ba, &win, pt, sizeof(pt), &pt_len, &counter),
			 NTM_CODEC_REPLAYED);
	assert_int_equal(counter, 5);
	assert_memory_equal(pt, zero, MESSAGE_LEN);
	assert_int_equal(ctl_open_b(p9, l9, &win), NTM_CODEC_REPLAYED);
	assert_int_equal(ctl_open_b(p3, l3, &win), NTM_CODEC_OK);
	assert_int_equal(ctl_open_b(p3, l3, &win), NTM_CODEC_REPLAYED);

	/* Without a window the caller checks the counter itself. */
	assert_int_equal(ctl_open_b(p5, l5, NULL), NTM_CODEC_OK);
}

static void ctl_replay_after_auth(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], forged[NTM_CTL_MAX_PACKET];
	size_t len = ctl_sample(pkt, sizeof(pkt), 1000);
	struct ntm_replay win, before;

	ntm_replay_reset(&win, 0);
	memcpy(forged, pkt, len);
	forged[len - 1] ^= 1;
	before = win;
	assert_int_equal(ctl_open_b(forged, len, &win), NTM_CODEC_AUTH_FAILED);
	assert_memory_equal(&win, &before, sizeof(win));
	assert_int_equal(ctl_open_b(pkt, len, &win), NTM_CODEC_OK);
	/* The window's floor rejects after authentication too. */
	ntm_replay_reset(&win, 1000);
	assert_int_equal(ctl_open_b(pkt, len, &win), NTM_CODEC_REPLAYED);
}

static void ctl_no_space(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], pt[NTM_CTL_MAX_PACKET];
	size_t len = ctl_sample(pkt, sizeof(pkt), 1);
	size_t pt_len;
	uint64_t counter;
	struct ntm_replay win;

	ntm_replay_reset(&win, 0);
	assert_int_equal(ntm_ctl_open(pkt, len, &P.ba, &win, pt, MESSAGE_LEN - 1, &pt_len,
				      &counter),
			 NTM_CODEC_NO_SPACE);
	assert_int_equal(ntm_ctl_open(pkt, len, &P.ba, &win, pt, MESSAGE_LEN, &pt_len, &counter),
			 NTM_CODEC_OK);
}

/* ---- data packets ---- */

static void data_roundtrip(void **state)
{
	uint8_t pkt[256];
	static const uint8_t header[16] = { 1, 2, 0, 0, 0x01, 0x02, 0x03, 0x04,
					    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	size_t len = data_sample(pkt, sizeof(pkt), 0x1122334455667788u);
	uint32_t index = 0;
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint64_t counter = 0;

	assert_memory_equal(pkt, header, sizeof(header));
	assert_int_equal(ntm_data_index(pkt, len, &index), NTM_CODEC_OK);
	assert_int_equal(index, 0x01020304);
	assert_int_equal(ntm_data_open(pkt, len, P.data_key, NULL, &inner, &inner_len, &counter),
			 NTM_CODEC_OK);
	assert_ptr_equal(inner, pkt + NTM_DATA_HEADER_LEN);
	assert_int_equal(inner_len, MESSAGE_LEN);
	assert_memory_equal(inner, message, MESSAGE_LEN);
	assert_int_equal(counter, 0x1122334455667788u);
}

/* Opens a data packet with libsodium directly, to pin the documented nonce:
 * four zero bytes, then the counter little endian. */
static void data_layout_libsodium(void **state)
{
	uint8_t pkt[256], pt[256];
	uint8_t nonce[12] = { 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
	size_t len = data_sample(pkt, sizeof(pkt), 0x1122334455667788u);
	unsigned long long pt_len = 0;

	assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, pkt + 16,
								   len - 16, pkt, 16, nonce,
								   P.data_key),
			 0);
	assert_int_equal(pt_len, MESSAGE_LEN);
	assert_memory_equal(pt, message, MESSAGE_LEN);
}

static void data_seal_in_place(void **state)
{
	uint8_t pkt[256];
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint64_t counter;
	ssize_t n;

	memcpy(pkt + NTM_DATA_HEADER_LEN, message, MESSAGE_LEN);
	n = ntm_data_seal(pkt, sizeof(pkt), 7, 1, P.data_key, pkt + NTM_DATA_HEADER_LEN,
			  MESSAGE_LEN);
	assert_int_equal(n, NTM_DATA_HEADER_LEN + MESSAGE_LEN + NTM_TAG_LEN);
	assert_memory_not_equal(pkt + NTM_DATA_HEADER_LEN, message, MESSAGE_LEN);
	assert_int_equal(ntm_data_open(pkt, (size_t)n, P.data_key, NULL, &inner, &inner_len,
				       &counter),
			 NTM_CODEC_OK);
	assert_memory_equal(inner, message, MESSAGE_LEN);
}

static void data_max_size(void **state)
{
	uint8_t *pkt = malloc(NTM_DATA_MAX_PACKET + 1);
	uint8_t *big = malloc(65536);
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint64_t counter;
	uint32_t index;
	ssize_t n;

	assert_non_null(pkt);
	assert_non_null(big);
	randombytes_buf(big, 65536);
	n = ntm_data_seal(pkt, NTM_DATA_MAX_PACKET + 1, 1, 1, P.data_key, big, 65535);
	assert_int_equal(n, NTM_DATA_MAX_PACKET);
	assert_int_equal(data_open_copy(pkt, (size_t)n, NULL), NTM_CODEC_OK);
	assert_int_equal(ntm_data_index(pkt, NTM_DATA_MAX_PACKET + 1, &index),
			 NTM_CODEC_OVERSIZED);
	assert_int_equal(ntm_data_open(pkt, NTM_DATA_MAX_PACKET + 1, P.data_key, NULL, &inner,
				       &inner_len, &counter),
			 NTM_CODEC_OVERSIZED);

	assert_int_equal(ntm_data_seal(pkt, NTM_DATA_MAX_PACKET + 1, 1, 1, P.data_key, big,
				       65536),
			 -ENOSPC);
	assert_int_equal(ntm_data_seal(pkt, NTM_DATA_HEADER_LEN + 99 + NTM_TAG_LEN, 1, 1,
				       P.data_key, big, 100),
			 -ENOSPC);
	free(pkt);
	free(big);
}

static void data_truncated(void **state)
{
	uint8_t pkt[256];
	uint32_t index;

	data_sample(pkt, sizeof(pkt), 1);
	for (size_t len = 0; len < NTM_DATA_HEADER_LEN + NTM_TAG_LEN; len++) {
		assert_int_equal(data_open_copy(pkt, len, NULL), NTM_CODEC_TRUNCATED);
		assert_int_equal(ntm_data_index(pkt, len, &index), NTM_CODEC_TRUNCATED);
	}
}

static void data_bad_version_type(void **state)
{
	uint8_t pkt[256];
	uint32_t index;
	size_t len = data_sample(pkt, sizeof(pkt), 1);

	pkt[0] = 0;
	assert_int_equal(data_open_copy(pkt, len, NULL), NTM_CODEC_BAD_VERSION);
	assert_int_equal(ntm_data_index(pkt, len, &index), NTM_CODEC_BAD_VERSION);
	pkt[0] = NTM_WIRE_VERSION;
	pkt[1] = NTM_PKT_CONTROL;
	assert_int_equal(data_open_copy(pkt, len, NULL), NTM_CODEC_BAD_TYPE);
	assert_int_equal(ntm_data_index(pkt, len, &index), NTM_CODEC_BAD_TYPE);
	pkt[1] = NTM_PKT_RELAY_DATA;
	assert_int_equal(data_open_copy(pkt, len, NULL), NTM_CODEC_BAD_TYPE);
}

static void data_tamper_any_byte(void **state)
{
	uint8_t pkt[256], bad[256];
	size_t len = data_sample(pkt, sizeof(pkt), 5);
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };

	assert_int_equal(data_open_copy(pkt, len, NULL), NTM_CODEC_OK);
	for (size_t i = 2; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(bad, pkt, len);
			bad[i] ^= flips[f];
			if (data_open_copy(bad, len, NULL) != NTM_CODEC_AUTH_FAILED)
				print_message("byte %zu ^ 0x%02x accepted\n", i, flips[f]);
			assert_int_equal(data_open_copy(bad, len, NULL), NTM_CODEC_AUTH_FAILED);
		}
	}
}

static void data_reserved_ignored(void **state)
{
	uint8_t pkt[256];
	uint8_t nonce[12] = { 0, 0, 0, 0, 4 };
	unsigned long long ct_len;

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = NTM_WIRE_VERSION;
	pkt[1] = NTM_PKT_DATA;
	pkt[2] = 0x12;
	pkt[3] = 0x34;
	pkt[15] = 4;
	crypto_aead_chacha20poly1305_ietf_encrypt(pkt + 16, &ct_len, message, MESSAGE_LEN, pkt,
						  16, NULL, nonce, P.data_key);
	assert_int_equal(data_open_copy(pkt, 16 + (size_t)ct_len, NULL), NTM_CODEC_OK);
}

static void data_wrong_key(void **state)
{
	uint8_t pkt[256], key[32];
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint64_t counter;
	size_t len = data_sample(pkt, sizeof(pkt), 1);

	memcpy(key, P.data_key, 32);
	key[31] ^= 1;
	assert_int_equal(ntm_data_open(pkt, len, key, NULL, &inner, &inner_len, &counter),
			 NTM_CODEC_AUTH_FAILED);
}

static void data_replayed(void **state)
{
	uint8_t p1[256], p2[256];
	size_t l1 = data_sample(p1, sizeof(p1), 100);
	size_t l2 = data_sample(p2, sizeof(p2), 100 + NTM_REPLAY_WINDOW + 1);
	static const uint8_t zero[MESSAGE_LEN];
	uint8_t copy[256];
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint64_t counter = 0;
	struct ntm_replay win;

	ntm_replay_reset(&win, 0);
	assert_int_equal(data_open_copy(p1, l1, &win), NTM_CODEC_OK);
	memcpy(copy, p1, l1);
	assert_int_equal(ntm_data_open(copy, l1, P.data_key, &win, &inner, &inner_len, &counter),
			 NTM_CODEC_REPLAYED);
	assert_int_equal(counter, 100);
	assert_memory_equal(copy + NTM_DATA_HEADER_LEN, zero, MESSAGE_LEN);

	/* After the window moves past it, an unseen old counter is rejected too. */
	ntm_replay_reset(&win, 0);
	assert_int_equal(data_open_copy(p2, l2, &win), NTM_CODEC_OK);
	assert_int_equal(data_open_copy(p1, l1, &win), NTM_CODEC_REPLAYED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ctl_keys_match),
		cmocka_unit_test(ctl_keys_same_key),
		cmocka_unit_test(ctl_keys_low_order),
		cmocka_unit_test(ctl_keys_wipe),
		cmocka_unit_test(counter_start_time),
		cmocka_unit_test(status_names),
		cmocka_unit_test(pkt_peek_cases),
		cmocka_unit_test(ctl_roundtrip),
		cmocka_unit_test(ctl_layout_libsodium),
		cmocka_unit_test(ctl_nonce_random),
		cmocka_unit_test(ctl_empty_plaintext),
		cmocka_unit_test(ctl_max_size),
		cmocka_unit_test(ctl_oversized),
		cmocka_unit_test(ctl_truncated),
		cmocka_unit_test(ctl_bad_version),
		cmocka_unit_test(ctl_bad_type),
		cmocka_unit_test(ctl_tamper_any_byte),
		cmocka_unit_test(ctl_reserved_ignored),
		cmocka_unit_test(ctl_wrong_keys),
		cmocka_unit_test(ctl_replayed),
		cmocka_unit_test(ctl_replay_after_auth),
		cmocka_unit_test(ctl_no_space),
		cmocka_unit_test(data_roundtrip),
		cmocka_unit_test(data_layout_libsodium),
		cmocka_unit_test(data_seal_in_place),
		cmocka_unit_test(data_max_size),
		cmocka_unit_test(data_truncated),
		cmocka_unit_test(data_bad_version_type),
		cmocka_unit_test(data_tamper_any_byte),
		cmocka_unit_test(data_reserved_ignored),
		cmocka_unit_test(data_wrong_key),
		cmocka_unit_test(data_replayed),
	};

	return cmocka_run_group_tests(tests, pair_setup, NULL);
}
