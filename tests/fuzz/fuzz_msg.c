/*
 * libFuzzer target for the control message layer: unpacks and validates each
 * input as an Envelope. An accepted Envelope must validate again, pack, and
 * unpack from its packed bytes to an Envelope that packs to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packs env into a new buffer of exactly its packed size. */
static uint8_t *pack_new(const Ntm__Envelope *env, size_t *len)
{
	uint8_t *buf;

	*len = ntm__envelope__get_packed_size(env);
	buf = malloc(*len > 0 ? *len : 1);
	if (buf == NULL || ntm_msg_pack(env, buf, *len) != (ssize_t)*len)
		abort();
	return buf;
}

static void repack_check(const Ntm__Envelope *env)
{
	enum ntm_msg_status st = NTM_MSG_MALFORMED;
	char why[256];
	Ntm__Envelope *again;
	uint8_t *first, *second;
	size_t first_len, second_len;

	if (ntm_msg_validate(env, why, sizeof(why)) != NTM_MSG_OK)
		abort();
	first = pack_new(env, &first_len);
	if (first_len > NTM_MSG_MAX_LEN)
		abort(); /* packing never grows an accepted input past the bound */

	again = ntm_msg_unpack(first, first_len, &st, why, sizeof(why));
	if (again == NULL || st != NTM_MSG_OK)
		abort();
	second = pack_new(again, &second_len);
	if (second_len != first_len || memcmp(first, second, first_len) != 0)
		abort();

	ntm_msg_free(again);
	free(first);
	free(second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ntm_msg_status st = NTM_MSG_OK;
	char why[256];
	Ntm__Envelope *env = ntm_msg_unpack(data, size, &st, why, sizeof(why));

	if (env == NULL) {
		if (st == NTM_MSG_OK || why[0] == '\0')
			abort();
		return 0;
	}
	if (st != NTM_MSG_OK)
		abort();
	repack_check(env);
	ntm_msg_free(env);
	return 0;
}
