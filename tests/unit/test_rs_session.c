/* Unit tests for the relay's session table (rs_session). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The relay's modules are not in a library the unit tests link. */
#include "../../rsd/rs_session.c"

#define T0 5000000
#define IDLE_MS 1000

static uint8_t keys[4][NTM_KEY_LEN];

static int group_setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	for (size_t i = 0; i < 4; i++)
		randombytes_buf(keys[i], NTM_KEY_LEN);
	return 0;
}

static struct rs_table *table_with(uint64_t max_sessions, uint64_t per_dc, size_t n_dcs)
{
	struct rs_limits limits = { max_sessions, per_dc, 0 };
	struct rs_table *t = rs_table_new(n_dcs, &limits);

	assert_non_null(t);
	return t;
}

/* Allocates a session between keys[a] and keys[b] for dc at time now. */
static enum rs_alloc_status alloc_at(struct rs_table *t, unsigned dc, int a, int b,
				     uint64_t now, struct rs_session **out)
{
	uint8_t secret[NTM_RELAY_SECRET_LEN];
	struct rs_session *s = NULL;
	enum rs_alloc_status st = rs_table_allocate(t, dc, keys[a], keys[b], IDLE_MS, now,
						    1700000000000ULL, secret, &s);

	if (out)
		*out = s;
	return st;
}

static void allocate_basic(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	uint8_t secret[NTM_RELAY_SECRET_LEN], cred[NTM_RELAY_CREDENTIAL_LEN];
	struct rs_session *s = NULL;

	assert_int_equal(rs_table_allocate(t, 0, keys[0], keys[1], IDLE_MS, T0, 1700000000000ULL,
					   secret, &s), RS_ALLOC_OK);
	assert_non_null(s);
	assert_int_not_equal(s->id, 0);
	assert_ptr_equal(rs_table_find(t, s->id), s);
	assert_null(rs_table_find(t, s->id + 1));
	assert_int_equal(rs_table_count(t), 1);
	assert_int_equal(rs_table_count_dc(t, 0), 1);
	assert_true(rs_session_live(s, T0));
	assert_int_equal(s->expires_wall_ms, 1700000000000ULL + IDLE_MS);

	ntm_relay_credential(cred, secret, keys[0]);
	assert_memory_equal(s->side[RS_SIDE_A].credential, cred, sizeof(cred));
	ntm_relay_credential(cred, secret, keys[1]);
	assert_memory_equal(s->side[RS_SIDE_B].credential, cred, sizeof(cred));
	assert_memory_equal(s->side[RS_SIDE_A].key, keys[0], NTM_KEY_LEN);
	assert_int_equal(s->side[RS_SIDE_A].bound.ip.len, 0);
	rs_table_free(t);
}

static void allocate_invalid(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);

	assert_int_equal(alloc_at(t, 0, 1, 1, T0, NULL), RS_ALLOC_INVALID);
	assert_int_equal(alloc_at(t, 1, 0, 1, T0, NULL), RS_ALLOC_INVALID);
	assert_int_equal(rs_table_count(t), 0);
	rs_table_free(t);
}

static void limit_total(void **state)
{
	struct rs_table *t = table_with(3, 3, 2);

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 1, 0, 2, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 1, 1, 2, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 2, 3, T0, NULL), RS_ALLOC_LIMIT_TOTAL);
	assert_int_equal(alloc_at(t, 1, 2, 3, T0, NULL), RS_ALLOC_LIMIT_TOTAL);
	assert_int_equal(rs_table_count(t), 3);
	rs_table_free(t);
}

static void limit_per_dc(void **state)
{
	struct rs_table *t = table_with(10, 2, 2);

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 0, 2, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 0, 3, T0, NULL), RS_ALLOC_LIMIT_DC);
	assert_int_equal(alloc_at(t, 1, 0, 3, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(rs_table_count_dc(t, 0), 2);
	assert_int_equal(rs_table_count_dc(t, 1), 1);
	assert_int_equal(rs_table_count_dc(t, 7), 0);
	rs_table_free(t);
}

static void limit_freed_by_end(void **state)
{
	struct rs_table *t = table_with(1, 1, 1);
	struct rs_session *s;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 0, 2, T0, NULL), RS_ALLOC_LIMIT_TOTAL);
	rs_table_end(t, s, RS_END_RELEASED, T0);
	assert_int_equal(rs_table_count(t), 0);
	assert_int_equal(rs_table_count_dc(t, 0), 0);
	assert_int_equal(alloc_at(t, 0, 0, 2, T0, NULL), RS_ALLOC_OK);
	rs_table_free(t);
}

/* Lowering a limit keeps the live sessions and refuses new ones. */
static void limit_lowered(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	struct rs_limits lower = { 1, 1, 0 }, higher = { 3, 3, 0 };

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 0, 2, T0, NULL), RS_ALLOC_OK);
	rs_table_set_limits(t, &lower);
	assert_int_equal(rs_table_count(t), 2);
	assert_int_equal(alloc_at(t, 0, 0, 3, T0, NULL), RS_ALLOC_LIMIT_TOTAL);
	rs_table_set_limits(t, &higher);
	assert_int_equal(alloc_at(t, 0, 0, 3, T0, NULL), RS_ALLOC_OK);
	rs_table_free(t);
}

static void pps_limit_applied(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	struct rs_limits limits = { 4, 4, 500 };
	struct rs_session *s;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	assert_int_equal(s->pps.per_second, 0);
	rs_table_set_limits(t, &limits);
	assert_int_equal(s->pps.per_second, 500);
	assert_int_equal(s->pps.burst, 500);
	assert_int_equal(alloc_at(t, 0, 1, 2, T0, &s), RS_ALLOC_OK);
	assert_int_equal(s->pps.per_second, 500);
	rs_table_free(t);
}

static void expire_idle(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	struct rs_session *s;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	assert_int_equal(rs_table_expire(t, T0 + IDLE_MS - 1, NULL, NULL), 0);
	assert_true(rs_session_live(s, T0 + IDLE_MS - 1));
	assert_false(rs_session_live(s, T0 + IDLE_MS));
	assert_int_equal(rs_table_expire(t, T0 + IDLE_MS, NULL, NULL), 1);
	assert_int_equal(rs_table_count(t), 0);
	assert_int_equal(s->end_reason, RS_END_IDLE);
	rs_table_free(t);
}

/* An accepted bind is traffic: it moves the idle deadline. */
static void expire_after_activity(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	struct ntm_endpoint ep;
	struct rs_session *s;

	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.5:4000", 0), 0);
	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	assert_false(rs_session_bind(s, RS_SIDE_A, &ep, 1, T0 + 900));
	assert_int_equal(rs_table_expire(t, T0 + IDLE_MS, NULL, NULL), 0);
	assert_int_equal(rs_table_expire(t, T0 + 900 + IDLE_MS, NULL, NULL), 1);
	rs_table_free(t);
}

static void count_expired(const struct rs_session *s, void *arg)
{
	size_t *n = arg;

	assert_int_equal(s->end_reason, RS_END_IDLE);
	(*n)++;
}

static void expire_callback(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	size_t n = 0;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, NULL), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 0, 2, T0 + 500, NULL), RS_ALLOC_OK);
	assert_int_equal(rs_table_expire(t, T0 + IDLE_MS, count_expired, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(rs_table_count(t), 1);
	rs_table_free(t);
}

static void release_by_key(void **state)
{
	struct rs_table *t = table_with(8, 8, 2);
	struct rs_session *ab, *ac, *bc;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &ab), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 1, 2, 0, T0, &ac), RS_ALLOC_OK);
	assert_int_equal(alloc_at(t, 0, 1, 2, T0, &bc), RS_ALLOC_OK);
	assert_int_equal(rs_table_release_key(t, keys[0], T0), 2);
	assert_int_equal(ab->end_reason, RS_END_RELEASED);
	assert_int_equal(ac->end_reason, RS_END_RELEASED);
	assert_int_equal(bc->end_reason, RS_END_NONE);
	assert_int_equal(rs_table_count(t), 1);
	assert_int_equal(rs_table_count_dc(t, 0), 1);
	assert_int_equal(rs_table_count_dc(t, 1), 0);
	assert_int_equal(rs_table_release_key(t, keys[0], T0), 0);
	assert_int_equal(rs_table_release_key(t, keys[3], T0), 0);
	rs_table_free(t);
}

static void end_wipes_credentials(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	uint8_t zero[NTM_RELAY_CREDENTIAL_LEN] = { 0 };
	struct rs_session *s;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	rs_table_end(t, s, RS_END_RELEASED, T0);
	assert_memory_equal(s->side[RS_SIDE_A].credential, zero, sizeof(zero));
	assert_memory_equal(s->side[RS_SIDE_B].credential, zero, sizeof(zero));
	/* Ending twice changes nothing. */
	rs_table_end(t, s, RS_END_IDLE, T0 + 5);
	assert_int_equal(s->end_reason, RS_END_RELEASED);
	assert_int_equal(s->ended_ms, T0);
	rs_table_free(t);
}

static void tombstone_kept_then_freed(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	struct rs_session *s;
	uint64_t id;

	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	id = s->id;
	rs_table_end(t, s, RS_END_RELEASED, T0);
	assert_ptr_equal(rs_table_find(t, id), s);
	assert_false(rs_session_live(s, T0));
	assert_null(rs_table_first(t));
	rs_table_expire(t, T0 + RS_TOMBSTONE_MS - 1, NULL, NULL);
	assert_non_null(rs_table_find(t, id));
	rs_table_expire(t, T0 + RS_TOMBSTONE_MS, NULL, NULL);
	assert_null(rs_table_find(t, id));
	rs_table_free(t);
}

/* Sessions ending faster than tombstones age out keep the table bounded. */
static void tombstones_bounded(void **state)
{
	struct rs_table *t = table_with(2, 2, 1);
	struct rs_session *s;

	for (int i = 0; i < 500; i++) {
		assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
		rs_table_end(t, s, RS_END_RELEASED, T0);
	}
	assert_int_equal(t->tombstones.count, MIN_TOMBSTONES);
	assert_int_equal(t->n_entries, MIN_TOMBSTONES);
	assert_ptr_equal(rs_table_find(t, s->id), s);
	rs_table_free(t);
}

/* Enough sessions to grow the hash table several times, each found by id. */
static void many_sessions(void **state)
{
	enum { N = 2000 };
	struct rs_table *t = table_with(N, N, 1);
	static uint64_t ids[N];
	struct rs_session *s;
	size_t walked = 0;

	for (size_t i = 0; i < N; i++) {
		assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
		ids[i] = s->id;
	}
	assert_true(t->n_buckets >= N);
	for (size_t i = 0; i < N; i++) {
		s = rs_table_find(t, ids[i]);
		assert_non_null(s);
		assert_int_equal(s->id, ids[i]);
	}
	/* Newest first. */
	s = rs_table_first(t);
	assert_int_equal(s->id, ids[N - 1]);
	for (; s; s = rs_table_next(s))
		walked++;
	assert_int_equal(walked, N);
	assert_int_equal(alloc_at(t, 0, 0, 1, T0, NULL), RS_ALLOC_LIMIT_TOTAL);
	rs_table_free(t);
}

static void bind_records_address(void **state)
{
	struct rs_table *t = table_with(4, 4, 1);
	struct ntm_endpoint a, b;
	struct rs_session *s;

	assert_int_equal(ntm_endpoint_parse(&a, "192.0.2.5:4000", 0), 0);
	assert_int_equal(ntm_endpoint_parse(&b, "[2001:db8::5]:4000", 0), 0);
	assert_int_equal(alloc_at(t, 0, 0, 1, T0, &s), RS_ALLOC_OK);
	assert_false(rs_session_bind(s, RS_SIDE_B, &a, 7, T0));
	assert_true(ntm_endpoint_equal(&s->side[RS_SIDE_B].bound, &a));
	assert_int_equal(s->side[RS_SIDE_B].bound_sa.ss_family, AF_INET);
	assert_int_equal(s->side[RS_SIDE_B].bound_sa_len, sizeof(struct sockaddr_in));
	assert_true(rs_session_bind(s, RS_SIDE_B, &b, 8, T0));
	assert_int_equal(s->side[RS_SIDE_B].bound_sa.ss_family, AF_INET6);
	assert_int_equal(s->side[RS_SIDE_B].last_timestamp_ms, 8);
	assert_int_equal(s->side[RS_SIDE_B].binds, 2);
	assert_int_equal(s->side[RS_SIDE_A].binds, 0);
	rs_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allocate_basic),
		cmocka_unit_test(allocate_invalid),
		cmocka_unit_test(limit_total),
		cmocka_unit_test(limit_per_dc),
		cmocka_unit_test(limit_freed_by_end),
		cmocka_unit_test(limit_lowered),
		cmocka_unit_test(pps_limit_applied),
		cmocka_unit_test(expire_idle),
		cmocka_unit_test(expire_after_activity),
		cmocka_unit_test(expire_callback),
		cmocka_unit_test(release_by_key),
		cmocka_unit_test(end_wipes_credentials),
		cmocka_unit_test(tombstone_kept_then_freed),
		cmocka_unit_test(tombstones_bounded),
		cmocka_unit_test(many_sessions),
		cmocka_unit_test(bind_records_address),
	};

	return cmocka_run_group_tests_name("rs_session", tests, group_setup, NULL);
}
