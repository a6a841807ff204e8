/*
 * libFuzzer target for the node agent's DNS query parser. A query it accepts
 * must build a response with an A and an AAAA address, and each response
 * must have the length, counts and question the builder promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Builds the response with ip and checks it against q and the query bytes. */
static void check_response(const uint8_t *data, size_t size, const struct nd_dns_query *q,
			   const struct ntm_ip *ip, uint16_t answer_type)
{
	uint8_t out[512];
	bool answered = q->qtype == answer_type;
	size_t expected = q->question_end + (answered ? 12 + ip->len : 0);
	ssize_t n = nd_dns_build_response(out, sizeof(out), data, size, q, ND_DNS_RCODE_NOERROR,
					  ip, 300);

	if (n < 0 || (size_t)n != expected)
		abort();
	if (be16(out) != q->id || (out[2] & 0x80) == 0 || be16(out + 4) != 1 ||
	    be16(out + 6) != (answered ? 1 : 0))
		abort();
	if (memcmp(out + 12, data + 12, q->question_end - 12) != 0)
		abort();
	/* One byte short must fail cleanly. */
	if (nd_dns_build_response(out, expected - 1, data, size, q, 0, ip, 300) >= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ntm_ip ipv4 = { .len = 4, .bytes = { 192, 0, 2, 10 } };
	static const struct ntm_ip ipv6 = {
		.len = 16, .bytes = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 } };
	struct nd_dns_query q;

	if (nd_dns_parse_query(data, size, &q) != ND_DNS_OK)
		return 0;
	if (q.question_end < 12 + 1 + 4 || q.question_end > size ||
	    strlen(q.name) > ND_DNS_NAME_MAX)
		abort();
	check_response(data, size, &q, &ipv4, ND_DNS_TYPE_A);
	check_response(data, size, &q, &ipv6, ND_DNS_TYPE_AAAA);
	return 0;
}
