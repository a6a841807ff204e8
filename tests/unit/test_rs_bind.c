/*
 * Unit tests for relay binds and relay data: the packet functions of
 * ntm_relay and the relay's acceptance and forwarding rules (rs_bind).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_relay.h"

/* The relay's modules are not in a library the unit tests link, so they are
 * compiled into this test. */
#include "../../rsd/rs_bind.c"
#include "../../rsd/rs_session.c"

#define NOW_MS 1000000
#define IDLE_MS 60000

/* A session between nodes a and b, with an outsider c. */
struct fixture {
	struct rs_table *table;
	struct rs_session *s;
	uint8_t key_a[NTM_KEY_LEN], key_b[NTM_KEY_LEN], key_c[NTM_KEY_LEN];
	uint8_t secret[NTM_RELAY_SECRET_LEN];
	uint8_t cred_a[NTM_RELAY_CREDENTIAL_LEN], cred_b[NTM_RELAY_CREDENTIAL_LEN];
	uint8_t cred_c[NTM_RELAY_CREDENTIAL_LEN];
	struct ntm_endpoint ep_a, ep_a2, ep_b, ep_c, ep_relay;
	struct rs_self self;
};

static struct ntm_endpoint endpoint(const char *text)
{
	struct ntm_endpoint ep;

	assert_int_equal(ntm_endpoint_parse(&ep, text, 0), 0);
	return ep;
}

static int setup(void **state)
{
	static struct fixture f;
	struct rs_limits limits = { .max_sessions = 8, .max_sessions_per_dc = 8, .max_pps = 0 };

	memset(&f, 0, sizeof(f));
	randombytes_buf(f.key_a, NTM_KEY_LEN);
	randombytes_buf(f.key_b, NTM_KEY_LEN);
	randombytes_buf(f.key_c, NTM_KEY_LEN);
	f.table = rs_table_new(1, &limits);
	if (!f.table || rs_table_allocate(f.table, 0, f.key_a, f.key_b, IDLE_MS, NOW_MS, 0,
					  f.secret, &f.s) != RS_ALLOC_OK)
		return -1;
	ntm_relay_credential(f.cred_a, f.secret, f.key_a);
	ntm_relay_credential(f.cred_b, f.secret, f.key_b);
	randombytes_buf(f.cred_c, sizeof(f.cred_c));
	f.ep_a = endpoint("192.0.2.10:40000");
	f.ep_a2 = endpoint("198.51.100.7:40001");
	f.ep_b = endpoint("203.0.113.20:50000");
	f.ep_c = endpoint("203.0.113.66:1234");
	f.ep_relay = endpoint("192.0.2.1:47820");
	f.self = (struct rs_self){ .addrs = &f.ep_relay, .n_addrs = 1 };
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rs_table_free(f->table);
	return 0;
}

static size_t build_bind(uint8_t *pkt, uint64_t session_id, uint64_t ts, const uint8_t *key,
			 const uint8_t *cred)
{
	ssize_t n = ntm_relay_bind_build(pkt, NTM_RELAY_BIND_LEN, session_id, ts, key, cred);

	assert_int_equal(n, NTM_RELAY_BIND_LEN);
	return (size_t)n;
}

/* Sends a bind of key with cred from ep through the datagram handler. */
static struct rs_verdict bind_from(struct fixture *f, uint64_t session_id, uint64_t ts,
				   const uint8_t *key, const uint8_t *cred,
				   const struct ntm_endpoint *ep, uint64_t now)
{
	uint8_t pkt[NTM_RELAY_BIND_LEN];
	struct rs_verdict v;
	size_t len = build_bind(pkt, session_id, ts, key, cred);

	rs_datagram_handle(f->table, &f->self, pkt, len, ep, now, &v);
	return v;
}

/* A relay data packet carrying a minimal data packet (header and tag). */
static size_t build_data(uint8_t *pkt, size_t size, uint64_t session_id)
{
	size_t len = NTM_RELAY_DATA_HEADER_LEN + NTM_DATA_HEADER_LEN + NTM_TAG_LEN;

	assert_true(size >= len);
	randombytes_buf(pkt, len);
	ntm_relay_data_header(pkt, session_id);
	pkt[NTM_RELAY_DATA_HEADER_LEN] = NTM_WIRE_VERSION;
	pkt[NTM_RELAY_DATA_HEADER_LEN + 1] = NTM_PKT_DATA;
	return len;
}

static struct rs_verdict data_from(struct fixture *f, uint64_t session_id,
				   const struct ntm_endpoint *ep, uint64_t now)
{
	uint8_t pkt[128];
	struct rs_verdict v;
	size_t len = build_data(pkt, sizeof(pkt), session_id);

	rs_datagram_handle(f->table, &f->self, pkt, len, ep, now, &v);
	return v;
}

static void bind_both(struct fixture *f)
{
	struct rs_verdict v = bind_from(f, f->s->id, 1, f->key_a, f->cred_a, &f->ep_a, NOW_MS);

	assert_int_equal(v.action, RS_ACTION_BOUND);
	v = bind_from(f, f->s->id, 1, f->key_b, f->cred_b, &f->ep_b, NOW_MS);
	assert_int_equal(v.action, RS_ACTION_BOUND);
}

/* ---- ntm_relay: credential and bind layout ---- */

/* Vectors from Python's hashlib.blake2b, an implementation independent of
 * libsodium: secret 0x40..0x5f, node key 0xa0..0xbf. */
static const uint8_t kat_credential[32] = {
	0x6e, 0xce, 0xdb, 0x6c, 0x14, 0x15, 0x63, 0x83, 0x8f, 0x0e, 0x85, 0x41, 0x8a, 0xbd, 0x96,
	0x91, 0xa7, 0xa9, 0xa4, 0xa9, 0x06, 0xde, 0x60, 0x5f, 0x7c, 0x9d, 0x39, 0xf6, 0x95, 0x64,
	0x9f, 0x19,
};
/* MAC of the bind with session 0x0123456789abcdef, timestamp 1700000000123. */
static const uint8_t kat_mac[16] = {
	0xfb, 0x39, 0x11, 0x88, 0x9c, 0x77, 0x04, 0x71, 0xef, 0x83, 0x41, 0x71, 0xa4, 0xfe, 0xa3,
	0x91,
};

static void kat_inputs(uint8_t secret[32], uint8_t key[32])
{
	for (int i = 0; i < 32; i++) {
		secret[i] = (uint8_t)(0x40 + i);
		key[i] = (uint8_t)(0xa0 + i);
	}
}

static void credential_known_answer(void **state)
{
	uint8_t secret[32], key[32], cred[32];

	kat_inputs(secret, key);
	ntm_relay_credential(cred, secret, key);
	assert_memory_equal(cred, kat_credential, sizeof(cred));
}

static void credential_per_node(void **state)
{
	struct fixture *f = *state;

	assert_memory_not_equal(f->cred_a, f->cred_b, NTM_RELAY_CREDENTIAL_LEN);
}

static void bind_layout(void **state)
{
	static const uint8_t head[20] = { 1, 3, 0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
					  0xcd, 0xef, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5,
					  0x68, 0x7b };
	uint8_t secret[32], key[32], pkt[NTM_RELAY_BIND_LEN];

	kat_inputs(secret, key);
	build_bind(pkt, 0x0123456789abcdefULL, 1700000000123ULL, key, kat_credential);
	assert_memory_equal(pkt, head, sizeof(head));
	assert_memory_equal(pkt + 20, key, 32);
	assert_memory_equal(pkt + 52, kat_mac, sizeof(kat_mac));
}

static void bind_roundtrip(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN];
	struct ntm_relay_bind b;

	build_bind(pkt, 42, 1234, f->key_a, f->cred_a);
	assert_int_equal(ntm_relay_bind_parse(pkt, sizeof(pkt), &b), NTM_CODEC_OK);
	assert_int_equal(b.session_id, 42);
	assert_int_equal(b.timestamp_ms, 1234);
	assert_memory_equal(b.node_key, f->key_a, NTM_KEY_LEN);
	assert_int_equal(ntm_relay_bind_verify(pkt, sizeof(pkt), f->cred_a), NTM_CODEC_OK);
}

static void bind_no_space(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN];

	assert_int_equal(ntm_relay_bind_build(pkt, NTM_RELAY_BIND_LEN - 1, 1, 1, f->key_a,
					      f->cred_a), -ENOSPC);
}

/* Every length from 0 to 67 bytes of a valid bind is truncated, for the
 * parser, the MAC check and the relay's handler alike. */
static void bind_every_truncation(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN];
	struct ntm_relay_bind b;
	struct rs_verdict v;

	build_bind(pkt, f->s->id, 1, f->key_a, f->cred_a);
	for (size_t len = 0; len < NTM_RELAY_BIND_LEN; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, pkt, len);
		assert_int_equal(ntm_relay_bind_parse(copy, len, &b), NTM_CODEC_TRUNCATED);
		assert_int_equal(ntm_relay_bind_verify(copy, len, f->cred_a), NTM_CODEC_TRUNCATED);
		rs_datagram_handle(f->table, &f->self, copy, len, &f->ep_a, NOW_MS, &v);
		assert_int_equal(v.action, RS_ACTION_DROP);
		assert_int_equal(v.drop, RS_DROP_MALFORMED);
		free(copy);
	}
	assert_int_equal(f->s->side[RS_SIDE_A].bound.ip.len, 0);
}

static void bind_oversized(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN + 1] = { 0 };
	struct ntm_relay_bind b;
	struct rs_verdict v;

	build_bind(pkt, f->s->id, 1, f->key_a, f->cred_a);
	assert_int_equal(ntm_relay_bind_parse(pkt, sizeof(pkt), &b), NTM_CODEC_OVERSIZED);
	assert_int_equal(ntm_relay_bind_verify(pkt, sizeof(pkt), f->cred_a), NTM_CODEC_OVERSIZED);
	rs_datagram_handle(f->table, &f->self, pkt, sizeof(pkt), &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.drop, RS_DROP_MALFORMED);
}

static void bind_bad_version_type(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN];
	struct ntm_relay_bind b;

	build_bind(pkt, 1, 1, f->key_a, f->cred_a);
	pkt[0] = 2;
	assert_int_equal(ntm_relay_bind_parse(pkt, sizeof(pkt), &b), NTM_CODEC_BAD_VERSION);
	pkt[0] = 1;
	pkt[1] = NTM_PKT_RELAY_DATA;
	assert_int_equal(ntm_relay_bind_parse(pkt, sizeof(pkt), &b), NTM_CODEC_BAD_TYPE);
	assert_int_equal(ntm_relay_bind_verify(pkt, sizeof(pkt), f->cred_a), NTM_CODEC_BAD_TYPE);
}

/* The reserved bytes are covered by the MAC but not interpreted. */
static void bind_reserved_covered(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN];
	struct ntm_relay_bind b;

	build_bind(pkt, 1, 1, f->key_a, f->cred_a);
	pkt[2] = 0xff;
	assert_int_equal(ntm_relay_bind_parse(pkt, sizeof(pkt), &b), NTM_CODEC_OK);
	assert_int_equal(ntm_relay_bind_verify(pkt, sizeof(pkt), f->cred_a),
			 NTM_CODEC_AUTH_FAILED);
}

/* Flipping any bit of bytes 4 to 67 breaks the MAC. */
static void bind_tampered_mac(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_BIND_LEN];

	build_bind(pkt, f->s->id, 5, f->key_a, f->cred_a);
	for (size_t i = 4; i < NTM_RELAY_BIND_LEN; i++) {
		for (int bit = 0; bit < 8; bit++) {
			pkt[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(ntm_relay_bind_verify(pkt, sizeof(pkt), f->cred_a),
					 NTM_CODEC_AUTH_FAILED);
			pkt[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(ntm_relay_bind_verify(pkt, sizeof(pkt), f->cred_a), NTM_CODEC_OK);
}

/* ---- acceptance rules ---- */

static void accept_binds_side(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 10, f->key_a, f->cred_a, &f->ep_a, NOW_MS);

	assert_int_equal(v.action, RS_ACTION_BOUND);
	assert_int_equal(v.from, RS_SIDE_A);
	assert_false(v.moved);
	assert_true(ntm_endpoint_equal(&f->s->side[RS_SIDE_A].bound, &f->ep_a));
	assert_int_equal(f->s->side[RS_SIDE_B].bound.ip.len, 0);
	assert_int_equal(f->s->side[RS_SIDE_A].last_timestamp_ms, 10);
}

static void reject_wrong_session(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id + 1, 10, f->key_a, f->cred_a, &f->ep_a,
					NOW_MS);

	assert_int_equal(v.action, RS_ACTION_DROP);
	assert_int_equal(v.drop, RS_DROP_UNKNOWN_SESSION);
	assert_int_equal(f->s->side[RS_SIDE_A].bound.ip.len, 0);
}

static void reject_wrong_key(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 10, f->key_c, f->cred_c, &f->ep_c, NOW_MS);

	assert_int_equal(v.drop, RS_DROP_BIND_UNKNOWN_KEY);
}

/* Node b cannot bind node a's side, because it has only its own credential. */
static void reject_other_credential(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 10, f->key_a, f->cred_b, &f->ep_c, NOW_MS);

	assert_int_equal(v.drop, RS_DROP_BIND_BAD_MAC);
	v = bind_from(f, f->s->id, 10, f->key_b, f->cred_a, &f->ep_c, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_BIND_BAD_MAC);
	v = bind_from(f, f->s->id, 10, f->key_a, f->secret, &f->ep_c, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_BIND_BAD_MAC);
	assert_int_equal(f->s->side[RS_SIDE_A].bound.ip.len, 0);
	assert_int_equal(f->s->side[RS_SIDE_B].bound.ip.len, 0);
}

static void reject_timestamp_replay(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 100, f->key_a, f->cred_a, &f->ep_a, NOW_MS);

	assert_int_equal(v.action, RS_ACTION_BOUND);
	v = bind_from(f, f->s->id, 100, f->key_a, f->cred_a, &f->ep_a2, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_BIND_REPLAYED);
	v = bind_from(f, f->s->id, 99, f->key_a, f->cred_a, &f->ep_a2, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_BIND_REPLAYED);
	assert_true(ntm_endpoint_equal(&f->s->side[RS_SIDE_A].bound, &f->ep_a));
	/* Each side has its own last timestamp. */
	v = bind_from(f, f->s->id, 50, f->key_b, f->cred_b, &f->ep_b, NOW_MS);
	assert_int_equal(v.action, RS_ACTION_BOUND);
}

/* A timestamp of 0 is never above the initial "no bind yet". */
static void reject_timestamp_zero(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 0, f->key_a, f->cred_a, &f->ep_a, NOW_MS);

	assert_int_equal(v.drop, RS_DROP_BIND_REPLAYED);
}

static void rebind_moves_side(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v;

	bind_both(f);
	v = bind_from(f, f->s->id, 2, f->key_a, f->cred_a, &f->ep_a, NOW_MS);
	assert_int_equal(v.action, RS_ACTION_BOUND);
	assert_false(v.moved);
	v = bind_from(f, f->s->id, 3, f->key_a, f->cred_a, &f->ep_a2, NOW_MS);
	assert_int_equal(v.action, RS_ACTION_BOUND);
	assert_true(v.moved);
	assert_true(ntm_endpoint_equal(&f->s->side[RS_SIDE_A].bound, &f->ep_a2));
	assert_int_equal(f->s->side[RS_SIDE_A].binds, 3);
	v = data_from(f, f->s->id, &f->ep_a, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_UNBOUND_SOURCE);
	v = data_from(f, f->s->id, &f->ep_a2, NOW_MS);
	assert_int_equal(v.action, RS_ACTION_FORWARD);
}

static void reject_loop(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v;

	bind_both(f);
	v = bind_from(f, f->s->id, 2, f->key_a, f->cred_a, &f->ep_b, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_BIND_LOOP);
	v = bind_from(f, f->s->id, 3, f->key_a, f->cred_a, &f->ep_relay, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_BIND_LOOP);
	assert_true(ntm_endpoint_equal(&f->s->side[RS_SIDE_A].bound, &f->ep_a));
}

static void reject_expired(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 1, f->key_a, f->cred_a, &f->ep_a,
					NOW_MS + IDLE_MS);

	assert_int_equal(v.drop, RS_DROP_EXPIRED);
	assert_int_equal(rs_table_expire(f->table, NOW_MS + IDLE_MS, NULL, NULL), 1);
	v = bind_from(f, f->s->id, 2, f->key_a, f->cred_a, &f->ep_a, NOW_MS + IDLE_MS);
	assert_int_equal(v.drop, RS_DROP_EXPIRED);
	v = data_from(f, f->s->id, &f->ep_a, NOW_MS + IDLE_MS);
	assert_int_equal(v.drop, RS_DROP_EXPIRED);
}

static void reject_released(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v;

	bind_both(f);
	rs_table_end(f->table, f->s, RS_END_RELEASED, NOW_MS);
	v = data_from(f, f->s->id, &f->ep_a, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_EXPIRED);
	v = bind_from(f, f->s->id, 5, f->key_a, f->cred_a, &f->ep_a, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_EXPIRED);
}

/* ---- forwarding rules ---- */

static void forward_both_ways(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v;

	bind_both(f);
	v = data_from(f, f->s->id, &f->ep_a, NOW_MS + 5);
	assert_int_equal(v.action, RS_ACTION_FORWARD);
	assert_int_equal(v.from, RS_SIDE_A);
	assert_ptr_equal(v.session, f->s);
	v = data_from(f, f->s->id, &f->ep_b, NOW_MS + 6);
	assert_int_equal(v.action, RS_ACTION_FORWARD);
	assert_int_equal(v.from, RS_SIDE_B);
	assert_int_equal(f->s->side[RS_SIDE_A].packets, 1);
	assert_int_equal(f->s->side[RS_SIDE_B].packets, 1);
	assert_int_equal(f->s->side[RS_SIDE_A].bytes,
			 NTM_RELAY_DATA_HEADER_LEN + NTM_DATA_HEADER_LEN + NTM_TAG_LEN);
	assert_int_equal(f->s->last_active_ms, NOW_MS + 6);
}

static void forward_unknown_session(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v;

	bind_both(f);
	v = data_from(f, f->s->id ^ 1, &f->ep_a, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_UNKNOWN_SESSION);
	assert_null(v.session);
}

static void forward_unbound_source(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v;

	bind_both(f);
	v = data_from(f, f->s->id, &f->ep_c, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_UNBOUND_SOURCE);
	/* Same address, other port: not the bound endpoint. */
	struct ntm_endpoint port = f->ep_a;

	port.port++;
	v = data_from(f, f->s->id, &port, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_UNBOUND_SOURCE);
}

static void forward_peer_unbound(void **state)
{
	struct fixture *f = *state;
	struct rs_verdict v = bind_from(f, f->s->id, 1, f->key_a, f->cred_a, &f->ep_a, NOW_MS);

	assert_int_equal(v.action, RS_ACTION_BOUND);
	v = data_from(f, f->s->id, &f->ep_a, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_PEER_UNBOUND);
	assert_int_equal(f->s->side[RS_SIDE_A].packets, 0);
}

static void forward_rate_limited(void **state)
{
	struct fixture *f = *state;
	struct rs_limits limits = { .max_sessions = 8, .max_sessions_per_dc = 8, .max_pps = 3 };
	struct rs_verdict v;

	bind_both(f);
	rs_table_set_limits(f->table, &limits);
	f->s->pps.tokens = 3;
	f->s->pps.last_ms = NOW_MS;
	for (int i = 0; i < 3; i++) {
		v = data_from(f, f->s->id, &f->ep_a, NOW_MS);
		assert_int_equal(v.action, RS_ACTION_FORWARD);
	}
	v = data_from(f, f->s->id, &f->ep_b, NOW_MS);
	assert_int_equal(v.drop, RS_DROP_RATE_LIMITED);
	/* A third of a second refills one packet at 3 per second. */
	v = data_from(f, f->s->id, &f->ep_b, NOW_MS + 334);
	assert_int_equal(v.action, RS_ACTION_FORWARD);
}

/* Every inner length below a data packet's header and tag is malformed. */
static void forward_inner_truncated(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[128];
	struct rs_verdict v;
	size_t full = build_data(pkt, sizeof(pkt), f->s->id);

	bind_both(f);
	for (size_t len = 0; len < full; len++) {
		rs_datagram_handle(f->table, &f->self, pkt, len, &f->ep_a, NOW_MS, &v);
		assert_int_equal(v.action, RS_ACTION_DROP);
		assert_int_equal(v.drop, RS_DROP_MALFORMED);
	}
	rs_datagram_handle(f->table, &f->self, pkt, full, &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.action, RS_ACTION_FORWARD);
}

static void forward_inner_types(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[NTM_RELAY_DATA_HEADER_LEN + NTM_CTL_MAX_PACKET + 1] = { 0 };
	size_t ctl_min = NTM_RELAY_DATA_HEADER_LEN + NTM_CTL_HEADER_LEN + NTM_TAG_LEN;
	struct rs_verdict v;

	bind_both(f);
	ntm_relay_data_header(pkt, f->s->id);
	pkt[NTM_RELAY_DATA_HEADER_LEN] = NTM_WIRE_VERSION;
	pkt[NTM_RELAY_DATA_HEADER_LEN + 1] = NTM_PKT_CONTROL;
	rs_datagram_handle(f->table, &f->self, pkt, ctl_min, &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.action, RS_ACTION_FORWARD);
	rs_datagram_handle(f->table, &f->self, pkt, ctl_min - 1, &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.drop, RS_DROP_MALFORMED);
	rs_datagram_handle(f->table, &f->self, pkt, sizeof(pkt), &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.codec, NTM_CODEC_OVERSIZED);

	/* A relay bind or relay data inside relay data is not forwarded. */
	pkt[NTM_RELAY_DATA_HEADER_LEN + 1] = NTM_PKT_RELAY_DATA;
	rs_datagram_handle(f->table, &f->self, pkt, ctl_min, &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.codec, NTM_CODEC_BAD_TYPE);
	pkt[NTM_RELAY_DATA_HEADER_LEN] = 2;
	rs_datagram_handle(f->table, &f->self, pkt, ctl_min, &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.codec, NTM_CODEC_BAD_VERSION);
}

/* Control and data packets sent to the relay directly are dropped. */
static void other_types_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[128];
	struct rs_verdict v;
	size_t len = build_data(pkt, sizeof(pkt), f->s->id);

	bind_both(f);
	for (unsigned type = 0; type < 256; type++) {
		if (type == NTM_PKT_RELAY_BIND || type == NTM_PKT_RELAY_DATA)
			continue;
		pkt[1] = (uint8_t)type;
		rs_datagram_handle(f->table, &f->self, pkt, len, &f->ep_a, NOW_MS, &v);
		assert_int_equal(v.drop, RS_DROP_MALFORMED);
		assert_int_equal(v.codec, NTM_CODEC_BAD_TYPE);
	}
	pkt[1] = NTM_PKT_RELAY_DATA;
	pkt[0] = 0;
	rs_datagram_handle(f->table, &f->self, pkt, len, &f->ep_a, NOW_MS, &v);
	assert_int_equal(v.codec, NTM_CODEC_BAD_VERSION);
}

static void drop_reason_names(void **state)
{
	for (int i = 0; i < RS_DROP_COUNT; i++)
		assert_non_null(drop_names[i]);
	assert_string_equal(rs_drop_str(RS_DROP_UNBOUND_SOURCE), "unbound_source");
	assert_string_equal(rs_drop_str(RS_DROP_COUNT), "unknown");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static int group_setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(credential_known_answer),
		T(credential_per_node),
		cmocka_unit_test(bind_layout),
		T(bind_roundtrip),
		T(bind_no_space),
		T(bind_every_truncation),
		T(bind_oversized),
		T(bind_bad_version_type),
		T(bind_reserved_covered),
		T(bind_tampered_mac),
		T(accept_binds_side),
		T(reject_wrong_session),
		T(reject_wrong_key),
		T(reject_other_credential),
		T(reject_timestamp_replay),
		T(reject_timestamp_zero),
		T(rebind_moves_side),
		T(reject_loop),
		T(reject_expired),
		T(reject_released),
		T(forward_both_ways),
		T(forward_unknown_session),
		T(forward_unbound_source),
		T(forward_peer_unbound),
		T(forward_rate_limited),
		T(forward_inner_truncated),
		T(forward_inner_types),
		T(other_types_dropped),
		cmocka_unit_test(drop_reason_names),
	};

	return cmocka_run_group_tests_name("rs_bind", tests, group_setup, NULL);
}
