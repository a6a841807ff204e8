/*
 * libFuzzer target for the relay's datagram handler: relay binds and relay
 * data through rs_datagram_handle, the path every datagram the relay
 * receives takes, against a fresh session table for each input.
 *
 * Input: byte 0 contains flags, the rest is the datagram.
 *   bit 0: write the live session's id at offset 4, so lookups succeed
 *   bit 1: write node a's (bit 2: node b's) key at offset 20 and a valid
 *          MAC, so binds reach the timestamp and address checks
 *   bits 3-4: source address: node a's, node b's, a stranger's, the relay's
 *   bit 5: handle the datagram after the session's idle timeout
 *   bit 6: bind both sides first, so relay data can be forwarded
 *   bit 7: limit the session to 1 packet per second
 * Invariants checked: a forwarded datagram came from one bound side and
 * goes to the other, and a bind never moves a side onto the other's address.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_relay.h"

/* The relay's modules are compiled into this target. */
#include "../../rsd/rs_bind.c"
#include "../../rsd/rs_session.c"

#define NOW_MS 1000000
#define IDLE_MS 60000
/* Room for the largest relay data packet the parser accepts and more. */
#define MAX_DATAGRAM 70000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t key_a[NTM_KEY_LEN], key_b[NTM_KEY_LEN];
static struct ntm_endpoint endpoints[4];
static uint8_t pkt[MAX_DATAGRAM];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const texts[4] = { "192.0.2.10:40000", "203.0.113.20:50000",
					      "198.51.100.9:999", "192.0.2.1:47820" };

	if (sodium_init() < 0)
		abort();
	memset(key_a, 0xaa, sizeof(key_a));
	memset(key_b, 0xbb, sizeof(key_b));
	for (size_t i = 0; i < 4; i++) {
		if (ntm_endpoint_parse(&endpoints[i], texts[i], 0) != 0)
			abort();
	}
	return 0;
}

static void bind_side(struct rs_table *t, const struct rs_self *self, struct rs_session *s,
		      const uint8_t *key, const uint8_t *cred, const struct ntm_endpoint *ep)
{
	uint8_t bind[NTM_RELAY_BIND_LEN];
	struct rs_verdict v;

	ntm_relay_bind_build(bind, sizeof(bind), s->id, 1, key, cred);
	rs_datagram_handle(t, self, bind, sizeof(bind), ep, NOW_MS, &v);
	if (v.action != RS_ACTION_BOUND)
		abort();
}

/* Applies the flag bits that rewrite the datagram into pkt. */
static void patch(uint8_t flags, size_t len, const struct rs_session *s,
		  const uint8_t cred[2][NTM_RELAY_CREDENTIAL_LEN])
{
	if ((flags & 1) && len >= 12) {
		for (int i = 0; i < 8; i++)
			pkt[4 + i] = (uint8_t)(s->id >> (56 - 8 * i));
	}
	if ((flags & 2) && len == NTM_RELAY_BIND_LEN) {
		int side = (flags & 4) ? 1 : 0;

		memcpy(pkt + 20, side ? key_b : key_a, NTM_KEY_LEN);
		crypto_generichash(pkt + 52, NTM_RELAY_MAC_LEN, pkt, 52, cred[side],
				   NTM_RELAY_CREDENTIAL_LEN);
	}
}

static void check(const struct rs_verdict *v, const struct ntm_endpoint *src)
{
	const struct rs_session *s = v->session;

	if (v->action == RS_ACTION_FORWARD) {
		const struct ntm_endpoint *from = &s->side[v->from].bound;
		const struct ntm_endpoint *to = &s->side[v->from ^ 1].bound;

		if (!ntm_endpoint_equal(from, src) || to->ip.len == 0)
			abort();
	}
	if (v->action == RS_ACTION_BOUND &&
	    ntm_endpoint_equal(&s->side[0].bound, &s->side[1].bound))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rs_limits limits = { .max_sessions = 4, .max_sessions_per_dc = 4, .max_pps = 0 };
	uint8_t secret[NTM_RELAY_SECRET_LEN], cred[2][NTM_RELAY_CREDENTIAL_LEN];
	struct rs_self self = { .addrs = &endpoints[3], .n_addrs = 1 };
	struct rs_session *s = NULL;
	struct rs_table *t;
	struct ntm_relay_bind b;
	struct rs_verdict v;
	uint8_t flags;
	size_t len;

	if (size < 1 || size - 1 > sizeof(pkt))
		return 0;
	flags = data[0];
	len = size - 1;
	memcpy(pkt, data + 1, len);

	/* The raw parsers must accept any bytes. */
	(void)ntm_relay_bind_parse(pkt, len, &b);
	(void)ntm_relay_bind_verify(pkt, len, secret);

	limits.max_pps = (flags & 0x80) ? 1 : 0;
	t = rs_table_new(1, &limits);
	if (!t || rs_table_allocate(t, 0, key_a, key_b, IDLE_MS, NOW_MS, 0, secret, &s) !=
			  RS_ALLOC_OK)
		abort();
	ntm_relay_credential(cred[0], secret, key_a);
	ntm_relay_credential(cred[1], secret, key_b);
	if (flags & 0x40) {
		bind_side(t, &self, s, key_a, cred[0], &endpoints[0]);
		bind_side(t, &self, s, key_b, cred[1], &endpoints[1]);
	}
	patch(flags, len, s, cred);

	const struct ntm_endpoint *src = &endpoints[(flags >> 3) & 3];
	uint64_t now = (flags & 0x20) ? NOW_MS + IDLE_MS : NOW_MS + 1;

	rs_datagram_handle(t, &self, pkt, len, src, now, &v);
	check(&v, src);
	rs_datagram_handle(t, &self, pkt, len, src, now, &v);
	check(&v, src);
	sodium_memzero(secret, sizeof(secret));
	rs_table_free(t);
	return 0;
}
