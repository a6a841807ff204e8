/* Route decision table of the DC: one test per row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "dc_route.h"

static struct dc_node node_at(const char *observed, bool behind_nat)
{
	struct dc_node n;

	memset(&n, 0, sizeof(n));
	assert_int_equal(ntm_endpoint_parse(&n.observed, observed, 0), 0);
	n.behind_nat = behind_nat;
	return n;
}

static void both_global(void **state)
{
	struct dc_node a = node_at("203.0.113.1:47830", false);
	struct dc_node b = node_at("203.0.113.2:47830", false);
	struct dc_route r = dc_route_decide(&a, &b, false);

	assert_int_equal(r.route, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT);
	assert_true(r.requester_initiates);
}

static void peer_global_requester_nat(void **state)
{
	struct dc_node a = node_at("203.0.113.1:40000", true);
	struct dc_node b = node_at("203.0.113.2:47830", false);
	struct dc_route r = dc_route_decide(&a, &b, false);

	assert_int_equal(r.route, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT);
	assert_true(r.requester_initiates);
}

static void requester_global_peer_nat(void **state)
{
	struct dc_node a = node_at("203.0.113.1:47830", false);
	struct dc_node b = node_at("203.0.113.2:40000", true);
	struct dc_route r = dc_route_decide(&a, &b, false);

	assert_int_equal(r.route, NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS);
	assert_false(r.requester_initiates);
}

static void same_nat_address(void **state)
{
	struct dc_node a = node_at("203.0.113.9:40000", true);
	struct dc_node b = node_at("203.0.113.9:40001", true);
	struct dc_route r = dc_route_decide(&a, &b, false);

	assert_int_equal(r.route, NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT);
	assert_true(r.requester_initiates);
}

static void same_nat_excluded(void **state)
{
	struct dc_node a = node_at("203.0.113.9:40000", true);
	struct dc_node b = node_at("203.0.113.9:40001", true);
	struct dc_route r = dc_route_decide(&a, &b, true);

	assert_int_equal(r.route, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS);
	assert_true(r.requester_initiates);
}

static void different_nats(void **state)
{
	struct dc_node a = node_at("203.0.113.1:40000", true);
	struct dc_node b = node_at("203.0.113.2:40000", true);
	struct dc_route r = dc_route_decide(&a, &b, false);

	assert_int_equal(r.route, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS);
	assert_true(r.requester_initiates);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_global),
		cmocka_unit_test(peer_global_requester_nat),
		cmocka_unit_test(requester_global_peer_nat),
		cmocka_unit_test(same_nat_address),
		cmocka_unit_test(same_nat_excluded),
		cmocka_unit_test(different_nats),
	};

	return cmocka_run_group_tests_name("dc_route", tests, NULL, NULL);
}
