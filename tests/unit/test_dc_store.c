/* Unit tests of the DC's SQLite store, through its public header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dc_store.h"
#include "ntm_log.h"

/* VIP prefix of most tests: index 2 is the first VIP a node gets. */
#define PREFIX_24 "198.51.100.0/24"

struct fixture {
	struct dc_store *st;
	char dir[64];        /* temporary directory of a file database, or "" */
	char path[128];      /* the database file inside dir */
};

static void make_key(uint8_t key[NTM_KEY_LEN], uint8_t seed)
{
	memset(key, seed, NTM_KEY_LEN);
}

static struct ntm_prefix prefix(const char *text)
{
	struct ntm_prefix p;

	assert_int_equal(ntm_prefix_parse(&p, text), 0);
	return p;
}

static struct ntm_ip ip(const char *text)
{
	struct ntm_ip out;

	assert_int_equal(ntm_ip_parse(&out, text), 0);
	return out;
}

static struct dc_store *open_memory(const char *prefix_text)
{
	struct ntm_prefix p = prefix(prefix_text);
	char err[256] = "";
	struct dc_store *st = dc_store_open(":memory:", &p, err, sizeof(err));

	if (st == NULL)
		fail_msg("dc_store_open failed: %s", err);
	return st;
}

static void assert_vip(const struct ntm_ip *got, const char *expected)
{
	char text[INET6_ADDRSTRLEN];
	struct ntm_ip want = ip(expected);

	if (!ntm_ip_equal(got, &want))
		fail_msg("VIP %s, expected %s", ntm_ip_str(got, text, sizeof(text)), expected);
}

/* Enrols a node whose key is seed repeated and returns its record. */
static struct dc_node enrol(struct dc_store *st, uint8_t seed, const char *fqdn)
{
	uint8_t key[NTM_KEY_LEN];
	struct dc_node node;

	make_key(key, seed);
	assert_int_equal(dc_store_enrol(st, key, fqdn, &node), DC_STORE_OK);
	return node;
}

static int setup_memory(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->st = open_memory(PREFIX_24);
	*state = fx;
	return 0;
}

/* Creates an empty temporary directory for a file database; the store is
 * opened by the test. */
static int setup_file(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_dc_store.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/dc.sqlite", fx->dir);
	*state = fx;
	return 0;
}

/* Runs after failed tests too, so the temporary files always go. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char file[160];

	dc_store_close(fx->st);
	if (fx->dir[0] != '\0') {
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			snprintf(file, sizeof(file), "%s%s", fx->path, suffixes[i]);
			unlink(file);
		}
		rmdir(fx->dir);
	}
	free(fx);
	return 0;
}

static struct dc_store *open_file(struct fixture *fx, const char *prefix_text)
{
	struct ntm_prefix p = prefix(prefix_text);
	char err[256] = "";
	struct dc_store *st = dc_store_open(fx->path, &p, err, sizeof(err));

	if (st == NULL)
		fail_msg("dc_store_open %s failed: %s", fx->path, err);
	return st;
}

/* Runs one SQL script on the file database through a second connection,
 * as an administrator with the sqlite3 shell would. */
static void sql_on_file(const struct fixture *fx, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void store_enrol_fills_node(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct dc_node node;

	make_key(key, 1);
	assert_int_equal(dc_store_enrol(fx->st, key, "agent.home.example", &node), DC_STORE_OK);
	assert_memory_equal(node.key, key, NTM_KEY_LEN);
	assert_string_equal(node.fqdn, "agent.home.example");
	assert_vip(&node.vip, "198.51.100.2");
	assert_true(node.enrolled_ms > 0);
	assert_int_equal(node.n_local, 0);
	assert_int_equal(node.observed.ip.len, 0);
	assert_int_equal(node.observed.port, 0);
	assert_false(node.online);
	assert_false(node.behind_nat);
	assert_int_equal(node.last_seen_ms, 0);
	assert_int_equal(node.counter_floor, 0);
}

static void store_enrol_duplicate_key(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct dc_node node;

	enrol(fx->st, 1, "a.example");
	make_key(key, 1);
	assert_int_equal(dc_store_enrol(fx->st, key, "b.example", &node), DC_STORE_EXISTS);
	assert_int_equal(dc_store_get_by_fqdn(fx->st, "b.example", &node), DC_STORE_NOT_FOUND);
}

static void store_enrol_duplicate_fqdn(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct dc_node node;

	enrol(fx->st, 1, "a.example");
	make_key(key, 2);
	assert_int_equal(dc_store_enrol(fx->st, key, "a.example", &node), DC_STORE_EXISTS);
	/* DNS names compare case-insensitively (RFC 4343). */
	assert_int_equal(dc_store_enrol(fx->st, key, "A.Example", &node), DC_STORE_EXISTS);
	assert_int_equal(dc_store_get_by_key(fx->st, key, &node), DC_STORE_NOT_FOUND);
}

static void store_enrol_rejects_bad_fqdn(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	char long_fqdn[NTM_FQDN_MAX + 2];

	make_key(key, 1);
	memset(long_fqdn, 'a', sizeof(long_fqdn) - 1);
	long_fqdn[sizeof(long_fqdn) - 1] = '\0';
	assert_int_equal(dc_store_enrol(fx->st, key, "", NULL), DC_STORE_ERROR);
	assert_int_equal(dc_store_enrol(fx->st, key, long_fqdn, NULL), DC_STORE_ERROR);
	assert_int_equal(dc_store_get_by_key(fx->st, key, NULL), DC_STORE_NOT_FOUND);
}

static void store_get_by_key_fqdn_vip(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip unknown = ip("198.51.100.99");
	struct dc_node node;

	enrol(fx->st, 1, "a.example");
	enrol(fx->st, 2, "b.example");
	make_key(key, 2);

	assert_int_equal(dc_store_get_by_key(fx->st, key, &node), DC_STORE_OK);
	assert_string_equal(node.fqdn, "b.example");
	assert_vip(&node.vip, "198.51.100.3");

	assert_int_equal(dc_store_get_by_fqdn(fx->st, "B.example", &node), DC_STORE_OK);
	assert_memory_equal(node.key, key, NTM_KEY_LEN);

	assert_int_equal(dc_store_get_by_vip(fx->st, &node.vip, &node), DC_STORE_OK);
	assert_string_equal(node.fqdn, "b.example");

	assert_int_equal(dc_store_get_by_vip(fx->st, &unknown, &node), DC_STORE_NOT_FOUND);
	make_key(key, 9);
	assert_int_equal(dc_store_get_by_key(fx->st, key, &node), DC_STORE_NOT_FOUND);
	assert_int_equal(dc_store_get_by_fqdn(fx->st, "c.example", &node), DC_STORE_NOT_FOUND);
}

static void store_get_by_pool_vip(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n = 0;
	struct dc_node node;

	enrol(fx->st, 1, "agent.example");
	make_key(key, 1);
	assert_int_equal(dc_store_pool_grant(fx->st, key, 2, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(n, 2);

	assert_int_equal(dc_store_get_by_vip(fx->st, &pool[1], &node), DC_STORE_OK);
	assert_string_equal(node.fqdn, "agent.example");
	/* The owner comes back with its own VIP, not the pool VIP. */
	assert_vip(&node.vip, "198.51.100.2");
}

/* 16 local endpoints, alternating IPv4 and IPv6, ports 40000 + i. */
static void fill_record(struct dc_node *node)
{
	char text[64];

	for (size_t i = 0; i < NTM_MAX_LOCAL_ENDPOINTS; i++) {
		if (i % 2 == 0)
			snprintf(text, sizeof(text), "192.0.2.%zu", i + 1);
		else
			snprintf(text, sizeof(text), "2001:db8::%zx", i + 1);
		node->local[i].ip = ip(text);
		node->local[i].port = (uint16_t)(40000 + i);
	}
	node->n_local = NTM_MAX_LOCAL_ENDPOINTS;
	node->observed.ip = ip("2001:db8:ffff::1");
	node->observed.port = 65535;
	node->behind_nat = true;
	node->online = true;
	node->last_seen_ms = 1700000000123ull;
	/* Above INT64_MAX: stored as the signed bit pattern. */
	node->counter_floor = UINT64_MAX - 5;
}

static void assert_record_equal(const struct dc_node *got, const struct dc_node *want)
{
	assert_int_equal(got->n_local, want->n_local);
	for (size_t i = 0; i < want->n_local; i++) {
		assert_true(ntm_endpoint_equal(&got->local[i], &want->local[i]));
	}
	assert_true(ntm_endpoint_equal(&got->observed, &want->observed));
	assert_int_equal(got->behind_nat, want->behind_nat);
	assert_int_equal(got->online, want->online);
	assert_int_equal(got->last_seen_ms, want->last_seen_ms);
	assert_int_equal(got->counter_floor, want->counter_floor);
	assert_int_equal(got->enrolled_ms, want->enrolled_ms);
	assert_true(ntm_ip_equal(&got->vip, &want->vip));
}

static void store_update_record_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct dc_node node = enrol(fx->st, 1, "player.example");
	struct dc_node got;

	fill_record(&node);
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_OK);
	assert_int_equal(dc_store_get_by_key(fx->st, node.key, &got), DC_STORE_OK);
	assert_record_equal(&got, &node);
}

static void store_update_observed_unset(void **state)
{
	struct fixture *fx = *state;
	struct dc_node node = enrol(fx->st, 1, "player.example");
	struct dc_node got;

	fill_record(&node);
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_OK);

	memset(&node.observed, 0, sizeof(node.observed));
	node.n_local = 0;
	node.online = false;
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_OK);
	assert_int_equal(dc_store_get_by_key(fx->st, node.key, &got), DC_STORE_OK);
	assert_int_equal(got.observed.ip.len, 0);
	assert_int_equal(got.observed.port, 0);
	assert_int_equal(got.n_local, 0);
	assert_false(got.online);
}

static void store_update_rejects_bad_record(void **state)
{
	struct fixture *fx = *state;
	struct dc_node node = enrol(fx->st, 1, "player.example");
	struct dc_node unknown;

	node.n_local = NTM_MAX_LOCAL_ENDPOINTS + 1;
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_ERROR);
	node.n_local = 1;
	node.local[0].ip.len = 5;
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_ERROR);

	memset(&unknown, 0, sizeof(unknown));
	make_key(unknown.key, 9);
	assert_int_equal(dc_store_update_record(fx->st, &unknown), DC_STORE_NOT_FOUND);
}

static void store_revoke_frees_vips(void **state)
{
	struct fixture *fx = *state;
	uint8_t key_a[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n = 0;
	struct dc_node node;

	enrol(fx->st, 1, "a.example");             /* .2, pool .4 .5 */
	enrol(fx->st, 2, "b.example");             /* .3 */
	make_key(key_a, 1);
	assert_int_equal(dc_store_pool_grant(fx->st, key_a, 2, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_vip(&pool[0], "198.51.100.4");

	assert_int_equal(dc_store_revoke(fx->st, key_a), DC_STORE_OK);
	assert_int_equal(dc_store_get_by_key(fx->st, key_a, &node), DC_STORE_NOT_FOUND);
	assert_int_equal(dc_store_get_by_vip(fx->st, &pool[0], &node), DC_STORE_NOT_FOUND);
	assert_int_equal(dc_store_revoke(fx->st, key_a), DC_STORE_NOT_FOUND);

	node = enrol(fx->st, 3, "c.example");
	assert_vip(&node.vip, "198.51.100.2");
	node = enrol(fx->st, 4, "d.example");
	assert_vip(&node.vip, "198.51.100.4");
}

/* Enrols nodes until the prefix is full and checks the VIPs handed out. */
static void check_prefix_vips(const char *prefix_text, const char *const *expected, size_t count)
{
	struct dc_store *st = open_memory(prefix_text);
	uint8_t key[NTM_KEY_LEN];
	char fqdn[32];
	struct dc_node node;

	for (size_t i = 0; i < count; i++) {
		snprintf(fqdn, sizeof(fqdn), "n%zu.example", i);
		node = enrol(st, (uint8_t)(i + 1), fqdn);
		assert_vip(&node.vip, expected[i]);
	}
	make_key(key, 0xee);
	assert_int_equal(dc_store_enrol(st, key, "full.example", &node), DC_STORE_FULL);
	assert_int_equal(dc_store_get_by_key(st, key, &node), DC_STORE_NOT_FOUND);
	dc_store_close(st);
}

static void store_vip_skips_reserved_29(void **state)
{
	/* .0 network, .1 the DC, .7 broadcast. */
	static const char *const vips[] = { "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5",
					    "192.0.2.6" };

	check_prefix_vips("192.0.2.0/29", vips, 5);
}

static void store_vip_skips_reserved_30(void **state)
{
	static const char *const vips[] = { "192.0.2.2" };

	check_prefix_vips("192.0.2.0/30", vips, 1);
}

static void store_vip_small_ipv4_prefixes(void **state)
{
	/* /31 (RFC 3021) and /32 have no network or broadcast address, but
	 * index 1 is still the DC's. */
	static const char *const vips_31[] = { "192.0.2.0" };
	static const char *const vips_32[] = { "192.0.2.9" };

	check_prefix_vips("192.0.2.0/31", vips_31, 1);
	check_prefix_vips("192.0.2.9/32", vips_32, 1);
}

static void store_vip_ipv6_keeps_last(void **state)
{
	static const char *const vips[] = { "2001:db8::2", "2001:db8::3" };

	check_prefix_vips("2001:db8::/126", vips, 2);
}

static void store_vip_large_prefix(void **state)
{
	struct dc_store *st = open_memory("2001:db8::/64");
	struct dc_node node = enrol(st, 1, "a.example");

	assert_vip(&node.vip, "2001:db8::2");
	dc_store_close(st);
}

static void store_pool_grows_never_shrinks(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	struct ntm_ip listed[NTM_MAX_POOL_VIPS];
	size_t n = 0;
	size_t n_listed = 0;

	enrol(fx->st, 1, "agent.example");          /* .2 */
	make_key(key, 1);
	assert_int_equal(dc_store_pool_grant(fx->st, key, 3, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(n, 3);
	assert_vip(&pool[0], "198.51.100.3");
	assert_vip(&pool[2], "198.51.100.5");

	enrol(fx->st, 2, "other.example");          /* .6 */
	assert_int_equal(dc_store_pool_grant(fx->st, key, 1, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(n, 3);

	assert_int_equal(dc_store_pool_grant(fx->st, key, 5, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(n, 5);
	assert_vip(&pool[0], "198.51.100.3");
	assert_vip(&pool[2], "198.51.100.5");
	assert_vip(&pool[3], "198.51.100.7");
	assert_vip(&pool[4], "198.51.100.8");

	assert_int_equal(dc_store_pool_list(fx->st, key, listed, NTM_MAX_POOL_VIPS, &n_listed),
			 DC_STORE_OK);
	assert_int_equal(n_listed, 5);
	assert_memory_equal(listed, pool, 5 * sizeof(pool[0]));
}

static void store_pool_grant_bounds(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n = 0;

	make_key(key, 1);
	assert_int_equal(dc_store_pool_grant(fx->st, key, 1, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_NOT_FOUND);
	enrol(fx->st, 1, "agent.example");
	assert_int_equal(dc_store_pool_grant(fx->st, key, 0, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_ERROR);
	assert_int_equal(dc_store_pool_grant(fx->st, key, NTM_MAX_POOL_VIPS + 1, pool,
					     NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_ERROR);
	assert_int_equal(dc_store_pool_list(fx->st, key, pool, NTM_MAX_POOL_VIPS, &n), DC_STORE_OK);
	assert_int_equal(n, 0);
}

static void store_pool_full_rolls_back(void **state)
{
	struct dc_store *st = open_memory("192.0.2.0/29");
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n = 0;

	enrol(st, 1, "agent.example");              /* .2, leaving .3 to .6 */
	make_key(key, 1);
	assert_int_equal(dc_store_pool_grant(st, key, 2, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(dc_store_pool_grant(st, key, 5, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_FULL);
	assert_int_equal(n, 0);

	assert_int_equal(dc_store_pool_list(st, key, pool, NTM_MAX_POOL_VIPS, &n), DC_STORE_OK);
	assert_int_equal(n, 2);
	assert_vip(&pool[0], "192.0.2.3");
	assert_vip(&pool[1], "192.0.2.4");

	assert_int_equal(dc_store_pool_grant(st, key, 4, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(n, 4);
	assert_vip(&pool[3], "192.0.2.6");
	dc_store_close(st);
}

static void store_pool_list_truncates(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	struct ntm_ip two[2];
	size_t n = 0;

	enrol(fx->st, 1, "agent.example");
	make_key(key, 1);
	assert_int_equal(dc_store_pool_grant(fx->st, key, 4, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	assert_int_equal(dc_store_pool_list(fx->st, key, two, 2, &n), DC_STORE_OK);
	assert_int_equal(n, 2);
	assert_vip(&two[1], "198.51.100.4");
}

/* Collects the FQDNs that dc_store_list passes to its callback. */
struct list_result {
	char fqdn[8][NTM_FQDN_MAX + 1];
	size_t n;
	size_t stop_after;   /* 0: never stop early */
};

static int collect(const struct dc_node *node, void *arg)
{
	struct list_result *r = arg;

	if (r->n < 8)
		snprintf(r->fqdn[r->n], sizeof(r->fqdn[0]), "%s", node->fqdn);
	r->n++;
	return r->stop_after != 0 && r->n >= r->stop_after;
}

/* Enrols e, c, a, d, b with a, c and e online. */
static void enrol_five(struct dc_store *st)
{
	static const char *const names[] = { "e.example", "c.example", "a.example", "d.example",
					     "b.example" };

	for (size_t i = 0; i < 5; i++) {
		struct dc_node node = enrol(st, (uint8_t)(i + 1), names[i]);

		node.online = names[i][0] == 'a' || names[i][0] == 'c' || names[i][0] == 'e';
		assert_int_equal(dc_store_update_record(st, &node), DC_STORE_OK);
	}
}

static void store_list_filters_and_pages(void **state)
{
	struct fixture *fx = *state;
	struct list_result r = { 0 };
	size_t total = 0;

	enrol_five(fx->st);

	assert_int_equal(dc_store_list(fx->st, -1, 0, 0, collect, &r, &total), DC_STORE_OK);
	assert_int_equal(total, 5);
	assert_int_equal(r.n, 5);
	assert_string_equal(r.fqdn[0], "a.example");
	assert_string_equal(r.fqdn[4], "e.example");

	memset(&r, 0, sizeof(r));
	assert_int_equal(dc_store_list(fx->st, 1, 0, 0, collect, &r, &total), DC_STORE_OK);
	assert_int_equal(total, 3);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.fqdn[1], "c.example");

	memset(&r, 0, sizeof(r));
	assert_int_equal(dc_store_list(fx->st, 0, 0, 0, collect, &r, &total), DC_STORE_OK);
	assert_int_equal(total, 2);
	assert_string_equal(r.fqdn[0], "b.example");
	assert_string_equal(r.fqdn[1], "d.example");

	memset(&r, 0, sizeof(r));
	assert_int_equal(dc_store_list(fx->st, -1, 1, 2, collect, &r, &total), DC_STORE_OK);
	assert_int_equal(total, 5);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.fqdn[0], "b.example");
	assert_string_equal(r.fqdn[1], "c.example");

	memset(&r, 0, sizeof(r));
	assert_int_equal(dc_store_list(fx->st, -1, 10, 0, collect, &r, &total), DC_STORE_OK);
	assert_int_equal(total, 5);
	assert_int_equal(r.n, 0);
}

static void store_list_stops_early(void **state)
{
	struct fixture *fx = *state;
	struct list_result r = { .stop_after = 2 };
	size_t total = 0;

	enrol_five(fx->st);
	assert_int_equal(dc_store_list(fx->st, -1, 0, 0, collect, &r, &total), DC_STORE_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(total, 5);

	/* The statement was reset, so the next list starts from the top. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(dc_store_list(fx->st, -1, 0, 1, collect, &r, &total), DC_STORE_OK);
	assert_string_equal(r.fqdn[0], "a.example");
}

static int list_again(const struct dc_node *node, void *arg)
{
	struct dc_store *st = arg;
	size_t total = 0;

	assert_int_equal(dc_store_list(st, -1, 0, 0, collect, NULL, &total), DC_STORE_ERROR);
	return 0;
}

static void store_list_rejects_reentry(void **state)
{
	struct fixture *fx = *state;
	size_t total = 0;

	enrol(fx->st, 1, "a.example");
	assert_int_equal(dc_store_list(fx->st, -1, 0, 0, list_again, fx->st, &total), DC_STORE_OK);
}

static void store_file_persists(void **state)
{
	struct fixture *fx = *state;
	uint8_t key[NTM_KEY_LEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n = 0;
	struct dc_node node;
	struct dc_node got;

	fx->st = open_file(fx, PREFIX_24);
	node = enrol(fx->st, 1, "agent.example");
	enrol(fx->st, 2, "player.example");
	fill_record(&node);
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_OK);
	make_key(key, 1);
	assert_int_equal(dc_store_pool_grant(fx->st, key, 3, pool, NTM_MAX_POOL_VIPS, &n),
			 DC_STORE_OK);
	dc_store_close(fx->st);

	fx->st = open_file(fx, PREFIX_24);
	assert_int_equal(dc_store_get_by_fqdn(fx->st, "agent.example", &got), DC_STORE_OK);
	assert_record_equal(&got, &node);
	assert_int_equal(dc_store_pool_list(fx->st, key, pool, NTM_MAX_POOL_VIPS, &n), DC_STORE_OK);
	assert_int_equal(n, 3);
	assert_vip(&pool[0], "198.51.100.4");

	/* VIPs in use survive too: the next node gets the next free one. */
	node = enrol(fx->st, 3, "third.example");
	assert_vip(&node.vip, "198.51.100.7");
}

static void store_file_uses_wal(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	fx->st = open_file(fx, PREFIX_24);
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void store_rejects_newer_schema(void **state)
{
	struct fixture *fx = *state;
	struct ntm_prefix p = prefix(PREFIX_24);
	char err[512] = "";

	sql_on_file(fx, "PRAGMA user_version = 99");
	assert_null(dc_store_open(fx->path, &p, err, sizeof(err)));
	assert_non_null(strstr(err, "schema version 99"));
	assert_non_null(strstr(err, "upgrade ntm-dcd"));
	assert_non_null(strstr(err, fx->path));
}

static void store_rejects_bad_prefix(void **state)
{
	struct ntm_prefix p = prefix(PREFIX_24);
	char err[256] = "";

	p.ip.bytes[3] = 1;      /* a host bit */
	assert_null(dc_store_open(":memory:", &p, err, sizeof(err)));
	assert_non_null(strstr(err, "host bits"));

	p = prefix(PREFIX_24);
	p.len = 33;
	assert_null(dc_store_open(":memory:", &p, err, sizeof(err)));
}

/* Stores blob as the local endpoints of every node, through a second
 * connection. */
static void set_endpoints_blob(const struct fixture *fx, const uint8_t *blob, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE nodes SET local_endpoints = ?1", -1, &s,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_bind_blob(s, 1, blob, (int)len, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void assert_endpoints_empty(struct dc_store *st, const struct dc_node *node)
{
	struct dc_node got;

	assert_int_equal(dc_store_get_by_key(st, node->key, &got), DC_STORE_OK);
	assert_int_equal(got.n_local, 0);
	/* The rest of the record is intact. */
	assert_true(ntm_endpoint_equal(&got.observed, &node->observed));
	assert_string_equal(got.fqdn, node->fqdn);
}

static void store_corrupt_endpoints_empty(void **state)
{
	struct fixture *fx = *state;
	/* An IP length of 5, an IPv6 entry cut short, a port cut short. */
	static const uint8_t bad_len[] = { 5, 192, 0, 2, 1, 0, 0x50, 0, 0 };
	static const uint8_t short_ip[] = { 16, 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t short_port[] = { 4, 192, 0, 2, 1, 0x50 };
	static const uint8_t entry[] = { 4, 192, 0, 2, 1, 0, 0x50 };
	uint8_t too_many[(NTM_MAX_LOCAL_ENDPOINTS + 1) * sizeof(entry)];
	struct dc_node node;
	struct dc_node got;

	for (size_t i = 0; i < NTM_MAX_LOCAL_ENDPOINTS + 1; i++)
		memcpy(&too_many[i * sizeof(entry)], entry, sizeof(entry));
	fx->st = open_file(fx, PREFIX_24);
	node = enrol(fx->st, 1, "agent.example");
	fill_record(&node);
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_OK);

	set_endpoints_blob(fx, bad_len, sizeof(bad_len));
	assert_endpoints_empty(fx->st, &node);
	set_endpoints_blob(fx, short_ip, sizeof(short_ip));
	assert_endpoints_empty(fx->st, &node);
	set_endpoints_blob(fx, short_port, sizeof(short_port));
	assert_endpoints_empty(fx->st, &node);
	set_endpoints_blob(fx, too_many, sizeof(too_many));
	assert_endpoints_empty(fx->st, &node);
	sql_on_file(fx, "UPDATE nodes SET local_endpoints = 'not a blob'");
	assert_endpoints_empty(fx->st, &node);

	/* Exactly the maximum number of entries decodes. */
	set_endpoints_blob(fx, too_many, sizeof(too_many) - sizeof(entry));
	assert_int_equal(dc_store_get_by_key(fx->st, node.key, &got), DC_STORE_OK);
	assert_int_equal(got.n_local, NTM_MAX_LOCAL_ENDPOINTS);
	assert_int_equal(got.local[15].port, 80);

	/* A record update replaces a corrupt blob. */
	set_endpoints_blob(fx, bad_len, sizeof(bad_len));
	assert_int_equal(dc_store_update_record(fx->st, &node), DC_STORE_OK);
	assert_int_equal(dc_store_get_by_key(fx->st, node.key, &got), DC_STORE_OK);
	assert_record_equal(&got, &node);
}

static void store_status_names(void **state)
{
	assert_string_equal(dc_store_status_str(DC_STORE_OK), "ok");
	assert_string_equal(dc_store_status_str(DC_STORE_FULL), "no free VIP in the prefix");
	assert_non_null(dc_store_status_str((enum dc_store_status)99));
}

#define MEMORY_TEST(f) cmocka_unit_test_setup_teardown(f, setup_memory, teardown)
#define FILE_TEST(f) cmocka_unit_test_setup_teardown(f, setup_file, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MEMORY_TEST(store_enrol_fills_node),
		MEMORY_TEST(store_enrol_duplicate_key),
		MEMORY_TEST(store_enrol_duplicate_fqdn),
		MEMORY_TEST(store_enrol_rejects_bad_fqdn),
		MEMORY_TEST(store_get_by_key_fqdn_vip),
		MEMORY_TEST(store_get_by_pool_vip),
		MEMORY_TEST(store_update_record_round_trip),
		MEMORY_TEST(store_update_observed_unset),
		MEMORY_TEST(store_update_rejects_bad_record),
		MEMORY_TEST(store_revoke_frees_vips),
		cmocka_unit_test(store_vip_skips_reserved_29),
		cmocka_unit_test(store_vip_skips_reserved_30),
		cmocka_unit_test(store_vip_small_ipv4_prefixes),
		cmocka_unit_test(store_vip_ipv6_keeps_last),
		cmocka_unit_test(store_vip_large_prefix),
		MEMORY_TEST(store_pool_grows_never_shrinks),
		MEMORY_TEST(store_pool_grant_bounds),
		cmocka_unit_test(store_pool_full_rolls_back),
		MEMORY_TEST(store_pool_list_truncates),
		MEMORY_TEST(store_list_filters_and_pages),
		MEMORY_TEST(store_list_stops_early),
		MEMORY_TEST(store_list_rejects_reentry),
		FILE_TEST(store_file_persists),
		FILE_TEST(store_file_uses_wal),
		FILE_TEST(store_rejects_newer_schema),
		cmocka_unit_test(store_rejects_bad_prefix),
		FILE_TEST(store_corrupt_endpoints_empty),
		cmocka_unit_test(store_status_names),
	};

	ntm_log_open("test_dc_store", true, NTM_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
