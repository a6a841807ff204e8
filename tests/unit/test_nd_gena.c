/*
 * Unit tests for the GENA callback routes a player's node accepts: only
 * from its DLNA Agent, only NOTIFYs from the Agent's pool VIPs, only to an
 * address of this host. Every case here is rejected before nftables is touched; the system
 * test of DLNA eventing installs real routes in a namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "nd.h"

struct fx {
	struct nd nd;
	struct nd_peer agent, other;
	uint8_t server_vip[4], callback_ip[4];
	Ntm__Endpoint callback;
	Ntm__GenaCallbackRoute route;
};

static void ip_set(struct ntm_ip *ip, const char *text)
{
	uint8_t b[4];

	assert_int_equal(inet_pton(AF_INET, text, b), 1);
	ntm_ip_from_bytes(ip, b, 4);
}

static void bytes_set(uint8_t out[4], const char *text)
{
	assert_int_equal(inet_pton(AF_INET, text, out), 1);
}

static int fx_setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	snprintf(f.agent.fqdn, sizeof(f.agent.fqdn), "agent.home.example");
	ip_set(&f.agent.vip, "198.51.100.2");
	ip_set(&f.agent.pool[0], "198.51.100.10");
	f.agent.n_pool = 1;
	f.agent.dlna_agent = true;
	snprintf(f.other.fqdn, sizeof(f.other.fqdn), "other.home.example");
	ip_set(&f.other.vip, "198.51.100.20");
	f.nd.peers[0] = &f.agent;
	f.nd.peers[1] = &f.other;
	f.nd.n_peers = 2;
	ip_set(&f.nd.local_addrs[0], "192.0.2.66");
	f.nd.n_local_addrs = 1;

	bytes_set(f.server_vip, "198.51.100.10");
	bytes_set(f.callback_ip, "192.0.2.66");
	ntm__endpoint__init(&f.callback);
	f.callback.ip = (ProtobufCBinaryData){ 4, f.callback_ip };
	f.callback.port = 37540;
	ntm__gena_callback_route__init(&f.route);
	f.route.server_vip = (ProtobufCBinaryData){ 4, f.server_vip };
	f.route.callback = &f.callback;
	f.route.lifetime_s = 1860;
	*state = &f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	free(f->nd.gena);
	f->nd.gena = NULL;
	return 0;
}

static void assert_rejected(struct fx *f, struct nd_peer *from)
{
	struct nd_gena_stats st;

	nd_gena_route(&f->nd, from, &f->route);
	nd_gena_get_stats(&f->nd, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.routes, 0);
	assert_int_equal(st.installed, 0);
	assert_int_equal(f->nd.drops[ND_DROP_BAD_MESSAGE], 1);
}

/* Only the DLNA Agent that ntm-ssdpd uses may ask for routes. */
static void gena_rejects_other_peers_vip(void **state)
{
	struct fx *f = *state;

	f->other.dlna_agent = true;
	assert_rejected(f, &f->other);
}

static void gena_rejects_peer_not_agent(void **state)
{
	struct fx *f = *state;

	f->agent.dlna_agent = false;
	assert_rejected(f, &f->agent);
}

/* NOTIFYs come from server VIPs of the pool, never from the node's own VIP,
 * so the Agent cannot route its own connections to the host's LAN address. */
static void gena_rejects_agents_own_vip(void **state)
{
	struct fx *f = *state;

	bytes_set(f->server_vip, "198.51.100.2");
	assert_rejected(f, &f->agent);
}

/* Otherwise a peer could reach another host through this node. */
static void gena_rejects_foreign_host(void **state)
{
	struct fx *f = *state;

	bytes_set(f->callback_ip, "192.0.2.99");
	assert_rejected(f, &f->agent);
}

/* Connections from the tunnel device cannot reach 127.0.0.0/8. */
static void gena_rejects_loopback(void **state)
{
	struct fx *f = *state;

	bytes_set(f->callback_ip, "127.0.0.1");
	assert_rejected(f, &f->agent);
}

static void gena_rejects_own_vip(void **state)
{
	struct fx *f = *state;

	bytes_set(f->callback_ip, "198.51.100.3");
	ip_set(&f->nd.vip, "198.51.100.3");
	assert_rejected(f, &f->agent);
}

static void gena_stats_empty(void **state)
{
	struct fx *f = *state;
	struct nd_gena_stats st;

	nd_gena_get_stats(&f->nd, &st);
	assert_int_equal(st.routes, 0);
	assert_int_equal(st.rejected, 0);
}

int main(void)
{
#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		FX_TEST(gena_rejects_other_peers_vip),
		FX_TEST(gena_rejects_peer_not_agent),
		FX_TEST(gena_rejects_agents_own_vip),
		FX_TEST(gena_rejects_foreign_host),
		FX_TEST(gena_rejects_loopback),
		FX_TEST(gena_rejects_own_vip),
		FX_TEST(gena_stats_empty),
	};

	ntm_log_set_level(NTM_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
