/* Unit tests of the server cache (ssdp-proxy/ssdp_cache.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ssdp_cache.h"

static struct ssdp_cache cache;

static const char *const lines[] = { "ST: upnp:rootdevice", "EXT:" };

static struct ssdp_entry_update sample(const char *usn)
{
	struct ssdp_entry_update u = {
		.usn = usn,
		.target = "upnp:rootdevice",
		.location = "http://192.0.2.3:8200/rootDesc.xml",
		.server = "test/1",
		.lines = lines,
		.n_lines = 2,
		.max_age_s = 100,
	};

	ntm_endpoint_parse(&u.source, "192.0.2.3:1900", 0);
	return u;
}

static int teardown(void **state)
{
	ssdp_cache_clear(&cache);
	return 0;
}

static void test_cache_new_entry(void **state)
{
	struct ssdp_entry_update u = sample("uuid:a::upnp:rootdevice");

	assert_int_equal(ssdp_cache_update(&cache, &u, 1000, 5000), SSDP_CACHE_NEW);
	assert_int_equal(cache.n, 1);
	assert_int_equal(ssdp_cache_find(&cache, "uuid:a::upnp:rootdevice"), 0);
	assert_int_equal(ssdp_cache_find(&cache, "uuid:b"), -1);

	const struct ssdp_entry *e = cache.entries[0];

	assert_string_equal(e->location, u.location);
	assert_string_equal(e->server, "test/1");
	assert_int_equal(e->n_lines, 2);
	assert_string_equal(e->lines[1], "EXT:");
	assert_int_equal(e->expires_ms, 1000 + 100 * 1000);
	assert_int_equal(e->seen_wall_ms, 5000);
	assert_int_equal(e->next_notify_ms, 1000);
}

static void test_cache_refresh_moves_expiry(void **state)
{
	struct ssdp_entry_update u = sample("uuid:a");

	ssdp_cache_update(&cache, &u, 1000, 0);
	cache.entries[0]->next_notify_ms = 4000;
	assert_int_equal(ssdp_cache_update(&cache, &u, 2000, 0), SSDP_CACHE_REFRESHED);
	assert_int_equal(cache.n, 1);
	assert_int_equal(cache.entries[0]->expires_ms, 2000 + 100 * 1000);
	assert_int_equal(cache.entries[0]->next_notify_ms, 4000);
}

static void test_cache_change_detected(void **state)
{
	struct ssdp_entry_update u = sample("uuid:a");

	ssdp_cache_update(&cache, &u, 1000, 0);
	u.location = "http://192.0.2.3:8201/rootDesc.xml";
	assert_int_equal(ssdp_cache_update(&cache, &u, 2000, 0), SSDP_CACHE_CHANGED);
	assert_string_equal(cache.entries[0]->location, u.location);
	assert_int_equal(cache.entries[0]->next_notify_ms, 2000);
	ntm_endpoint_parse(&u.source, "192.0.2.4:1900", 0);
	assert_int_equal(ssdp_cache_update(&cache, &u, 3000, 0), SSDP_CACHE_CHANGED);
}

static void test_cache_caps_max_age(void **state)
{
	struct ssdp_entry_update u = sample("uuid:a");

	u.max_age_s = 4000000000u;
	ssdp_cache_update(&cache, &u, 0, 0);
	assert_int_equal(cache.entries[0]->max_age_s, SSDP_CACHE_MAX_AGE_CAP);
	assert_int_equal(cache.entries[0]->expires_ms, (uint64_t)SSDP_CACHE_MAX_AGE_CAP * 1000);
}

static void test_cache_full(void **state)
{
	char usn[32];

	for (int i = 0; i < SSDP_CACHE_MAX; i++) {
		struct ssdp_entry_update u;

		snprintf(usn, sizeof(usn), "uuid:%d", i);
		u = sample(usn);
		assert_int_equal(ssdp_cache_update(&cache, &u, 0, 0), SSDP_CACHE_NEW);
	}

	struct ssdp_entry_update extra = sample("uuid:one-more");
	struct ssdp_entry_update known = sample("uuid:7");

	assert_int_equal(ssdp_cache_update(&cache, &extra, 0, 0), SSDP_CACHE_FULL);
	assert_int_equal(ssdp_cache_update(&cache, &known, 1, 0), SSDP_CACHE_REFRESHED);
	assert_int_equal(cache.n, SSDP_CACHE_MAX);
}

static void test_cache_remove_keeps_others(void **state)
{
	struct ssdp_entry_update a = sample("uuid:a"), b = sample("uuid:b"), c = sample("uuid:c");

	ssdp_cache_update(&cache, &a, 0, 0);
	ssdp_cache_update(&cache, &b, 0, 0);
	ssdp_cache_update(&cache, &c, 0, 0);
	ssdp_cache_remove(&cache, (size_t)ssdp_cache_find(&cache, "uuid:a"));
	assert_int_equal(cache.n, 2);
	assert_int_equal(ssdp_cache_find(&cache, "uuid:a"), -1);
	assert_true(ssdp_cache_find(&cache, "uuid:b") >= 0);
	assert_true(ssdp_cache_find(&cache, "uuid:c") >= 0);
	ssdp_cache_remove(&cache, 99);
	assert_int_equal(cache.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_cache_new_entry, teardown),
		cmocka_unit_test_teardown(test_cache_refresh_moves_expiry, teardown),
		cmocka_unit_test_teardown(test_cache_change_detected, teardown),
		cmocka_unit_test_teardown(test_cache_caps_max_age, teardown),
		cmocka_unit_test_teardown(test_cache_full, teardown),
		cmocka_unit_test_teardown(test_cache_remove_keeps_others, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
