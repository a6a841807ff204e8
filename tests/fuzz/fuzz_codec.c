/*
 * libFuzzer target for the outer packet codec. Each input goes to every
 * parser of received packets (peek, control sender and open, data index and
 * open) with fixed test keys. The input is also sealed as a control plaintext
 * and as an inner data packet. Each sealed packet must open to the same
 * bytes. The control packet must open only once under a replay window and
 * fail authentication with one byte flipped.
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_codec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ntm_keypair node_a, node_b;
static struct ntm_ctl_keys keys_ab, keys_ba;
static uint8_t data_key[32];

static void keypair_from_seed(struct ntm_keypair *kp, uint8_t fill)
{
	uint8_t seed[crypto_kx_SEEDBYTES];

	memset(seed, fill, sizeof(seed));
	crypto_kx_seed_keypair(kp->pub, kp->priv, seed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	keypair_from_seed(&node_a, 1);
	keypair_from_seed(&node_b, 2);
	if (ntm_ctl_keys_derive(&keys_ab, &node_a, node_b.pub) != 0 ||
	    ntm_ctl_keys_derive(&keys_ba, &node_b, node_a.pub) != 0)
		abort();
	memset(data_key, 3, sizeof(data_key));
	return 0;
}

static uint64_t counter_from(const uint8_t *data, size_t size)
{
	uint64_t c = 0;

	for (size_t i = 0; i < size && i < 8; i++)
		c = c << 8 | data[i];
	return c;
}

/* Feeds the input to every receive-side parser. */
static void parse_received(const uint8_t *data, size_t size)
{
	static uint8_t pt[NTM_CTL_MAX_PACKET];
	enum ntm_pkt_type type;
	const uint8_t *sender;
	struct ntm_replay win;
	uint8_t *copy, *inner;
	size_t pt_len, inner_len;
	uint64_t counter;
	uint32_t index;

	ntm_pkt_peek(data, size, &type);
	if (ntm_ctl_sender(data, size, &sender) == NTM_CODEC_OK && sender != data + 4)
		abort();
	ntm_replay_reset(&win, 0);
	if (ntm_ctl_open(data, size, &keys_ba, &win, pt, sizeof(pt), &pt_len, &counter) ==
	    NTM_CODEC_OK)
		abort(); /* forging a tag is not expected */
	ntm_data_index(data, size, &index);

	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	if (ntm_data_open(copy, size, data_key, &win, &inner, &inner_len, &counter) ==
	    NTM_CODEC_OK)
		abort();
	free(copy);
}

static void control_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t pkt[NTM_CTL_MAX_PACKET], pt[NTM_CTL_MAX_PACKET];
	uint64_t counter = counter_from(data, size) | 1u, got = 0;
	struct ntm_replay win;
	size_t pt_len = 0;
	ssize_t n;

	n = ntm_ctl_seal(pkt, sizeof(pkt), node_a.pub, &keys_ab, counter, data, size);
	if (size > NTM_CTL_MAX_PLAINTEXT) {
		if (n != -ENOSPC)
			abort();
		return;
	}
	if (n != (ssize_t)(NTM_CTL_HEADER_LEN + size + NTM_TAG_LEN))
		abort();

	ntm_replay_reset(&win, 0);
	if (ntm_ctl_open(pkt, (size_t)n, &keys_ba, &win, pt, sizeof(pt), &pt_len, &got) !=
		    NTM_CODEC_OK ||
	    pt_len != size || got != counter || memcmp(pt, data, size) != 0)
		abort();
	if (ntm_ctl_open(pkt, (size_t)n, &keys_ba, &win, pt, sizeof(pt), &pt_len, &got) !=
	    NTM_CODEC_REPLAYED)
		abort();

	pkt[2 + counter % ((uint64_t)n - 2)] ^= 0x40;
	if (ntm_ctl_open(pkt, (size_t)n, &keys_ba, NULL, pt, sizeof(pt), &pt_len, &got) !=
	    NTM_CODEC_AUTH_FAILED)
		abort();
}

static void data_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t pkt[NTM_DATA_MAX_PACKET];
	uint64_t counter = counter_from(data, size) | 1u, got = 0;
	struct ntm_replay win;
	uint8_t *inner = NULL;
	size_t inner_len = 0;
	ssize_t n;

	n = ntm_data_seal(pkt, sizeof(pkt), (uint32_t)size, counter, data_key, data, size);
	if (size > 65535) {
		if (n != -ENOSPC)
			abort();
		return;
	}
	if (n != (ssize_t)(NTM_DATA_HEADER_LEN + size + NTM_TAG_LEN))
		abort();

	ntm_replay_reset(&win, 0);
	if (ntm_data_open(pkt, (size_t)n, data_key, &win, &inner, &inner_len, &got) !=
		    NTM_CODEC_OK ||
	    inner != pkt + NTM_DATA_HEADER_LEN || inner_len != size || got != counter ||
	    memcmp(inner, data, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_received(data, size);
	control_roundtrip(data, size);
	data_roundtrip(data, size);
	return 0;
}
