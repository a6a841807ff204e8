/*
 * Unit tests for the GENA callback routes of the DLNA Agent: which callback
 * URLs of a SUBSCRIBE make the player's node forward NOTIFYs, and for how
 * long. The module listens on 127.0.0.5 (the Agent's LAN address); nothing
 * connects to it here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "dad_gena.h"
#include "ntm_log.h"

#define LAN_ADDR "127.0.0.5"
#define PLAYER_VIP "198.51.100.3"
#define SERVER_VIP "198.51.100.10"
#define ROUTES_MAX 8

struct fx {
	struct dad_gena *gena;
	struct dad_gena_route routes[ROUTES_MAX];
	size_t n_routes;
};

static size_t no_pairs(void *ctx, struct http_rewrite_pair *pairs, size_t max)
{
	return 0;
}

static void record_route(void *ctx, const struct dad_gena_route *route)
{
	struct fx *f = ctx;

	if (f->n_routes < ROUTES_MAX)
		f->routes[f->n_routes++] = *route;
}

static struct in_addr addr(const char *text)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return a;
}

static int fx_setup(void **state)
{
	static struct fx f;
	static const struct dad_gena_ops ops = { no_pairs, record_route };
	struct dad_gena_conf conf = { 0 };

	memset(&f, 0, sizeof(f));
	conf.lan_addr = addr(LAN_ADDR);
	if (dad_gena_start(&f.gena, &conf, &ops, &f) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	dad_gena_stop(f->gena);
	return 0;
}

/* Starts a subscription with this CALLBACK value; returns its id. */
static uint64_t begin(struct fx *f, const char *callback)
{
	struct dad_gena_subscribe sub = {
		.player = addr(PLAYER_VIP),
		.server_vip = addr(SERVER_VIP),
		.server = { .sin_family = AF_INET, .sin_addr = addr("192.0.2.4"),
			    .sin_port = htons(49152) },
		.callback = callback,
		.callback_len = strlen(callback),
	};
	char replacement[DAD_GENA_CALLBACK_SIZE];
	uint64_t id = 0;

	assert_int_equal(dad_gena_subscribe_begin(f->gena, &sub, replacement,
						  sizeof(replacement), &id), 0);
	return id;
}

static void assert_route(const struct dad_gena_route *r, const char *host, uint16_t port,
			 uint32_t lifetime_s)
{
	assert_int_equal(r->player.s_addr, addr(PLAYER_VIP).s_addr);
	assert_int_equal(r->server_vip.s_addr, addr(SERVER_VIP).s_addr);
	assert_int_equal(r->host.s_addr, addr(host).s_addr);
	assert_int_equal(r->port, port);
	assert_int_equal(r->lifetime_s, lifetime_s);
}

/* A LAN address gets a route before the SUBSCRIBE reaches the server, for
 * the minute a pending subscription lives. */
static void gena_route_lan_host(void **state)
{
	struct fx *f = *state;

	begin(f, "<http://192.0.2.66:37540/ServiceProxy0>");
	assert_int_equal(f->n_routes, 1);
	assert_route(&f->routes[0], "192.0.2.66", 37540, 60);
}

/* The server's TIMEOUT and a minute of grace. */
static void gena_route_confirm_lifetime(void **state)
{
	struct fx *f = *state;
	uint64_t id = begin(f, "<http://192.0.2.66:37540/ServiceProxy0>");
	const char sid[] = "uuid:d207335e-f038-11f1-a36d-b78381982491";
	const char timeout[] = "Second-1800";

	dad_gena_subscribe_confirm(f->gena, id, sid, strlen(sid), timeout, strlen(timeout));
	assert_int_equal(f->n_routes, 2);
	assert_route(&f->routes[1], "192.0.2.66", 37540, 1860);

	const char renewed[] = "Second-300";

	dad_gena_renewed(f->gena, sid, strlen(sid), renewed, strlen(renewed));
	assert_int_equal(f->n_routes, 3);
	assert_route(&f->routes[2], "192.0.2.66", 37540, 360);
}

/* "infinite" and values past a day end at a day, plus the grace. */
static void gena_route_infinite(void **state)
{
	struct fx *f = *state;
	uint64_t id = begin(f, "<http://192.0.2.66:80/>");
	const char sid[] = "uuid:1";
	const char timeout[] = "infinite";

	dad_gena_subscribe_confirm(f->gena, id, sid, strlen(sid), timeout, strlen(timeout));
	assert_int_equal(f->n_routes, 2);
	assert_route(&f->routes[1], "192.0.2.66", 80, 86460);
}

/* The player's VIP needs no route, a loopback listener cannot get one, and
 * a name or an IPv6 literal is not an address the player's node can map. */
static void gena_route_skipped_hosts(void **state)
{
	struct fx *f = *state;

	begin(f, "<http://" PLAYER_VIP ":5000/cb>");
	begin(f, "<http://127.0.0.1:42204/ServiceProxy2>");
	begin(f, "<http://player.example:5000/cb>");
	begin(f, "<http://[2001:db8::1]:5000/cb>");
	assert_int_equal(f->n_routes, 0);
}

/* UPnP DA 2.0 section 4.1.2: several URLs, each with its own route. */
static void gena_route_each_callback(void **state)
{
	struct fx *f = *state;

	begin(f, "<http://192.0.2.66:5000/a><http://" PLAYER_VIP ":5001/b><http://192.0.2.67/c>");
	assert_int_equal(f->n_routes, 2);
	assert_route(&f->routes[0], "192.0.2.66", 5000, 60);
	assert_route(&f->routes[1], "192.0.2.67", 80, 60);
}

int main(void)
{
#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		FX_TEST(gena_route_lan_host),
		FX_TEST(gena_route_confirm_lifetime),
		FX_TEST(gena_route_infinite),
		FX_TEST(gena_route_skipped_hosts),
		FX_TEST(gena_route_each_callback),
	};

	ntm_log_set_level(NTM_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
