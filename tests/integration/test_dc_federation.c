/*
 * Two federated ntm-dcd daemons, a.example and b.example, each listing the
 * other as a [peer]: queries for the other domain's nodes and directions
 * across domains.
 */
#include "dc_itest.h"

#include <signal.h>

#include "ntm_time.h"

/* Wait for responses that need a round trip to the other DC, in
 * milliseconds: its ZeroMQ connection may still be coming up. */
#define FED_ANSWER_MS 3000
/* The DC returns Error{TIMEOUT} when a federated DC stays silent for 2 s. */
#define FED_TIMEOUT_MS 2000

static struct ntm_dctest dc_a, dc_b;

static int group_setup(void **state)
{
	struct ntm_dctest_options a = {
		.domain = "a.example", .vip_prefix = "198.51.100.0/25", .federation = true,
	};
	struct ntm_dctest_options b = {
		.domain = "b.example", .vip_prefix = "198.51.100.128/25", .federation = true,
	};

	if (ntm_dctest_init(&dc_a, &a) != 0 || ntm_dctest_init(&dc_b, &b) != 0 ||
	    ntm_dctest_add_peer(&dc_a, &dc_b) != 0 || ntm_dctest_add_peer(&dc_b, &dc_a) != 0 ||
	    ntm_dctest_start(&dc_a) != 0 || ntm_dctest_start(&dc_b) != 0) {
		ntm_dctest_cleanup(&dc_a);
		ntm_dctest_cleanup(&dc_b);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	ntm_dctest_cleanup(&dc_a);
	ntm_dctest_cleanup(&dc_b);
	return 0;
}

static void expect_remote_record(const Ntm__Envelope *env, const struct ntm_testnode *owner,
				 const char *fqdn, const char *what)
{
	const Ntm__NtmRecord *rec;
	struct ntm_prefix b_prefix;
	struct ntm_ip vip, admin_vip;
	json_t *admin;

	itest_expect_body(env, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE, what);
	rec = env->ntm_query_response->record;
	assert_non_null(rec);
	assert_string_equal(rec->fqdn, fqdn);
	assert_string_equal(rec->dc_domain, "b.example");
	itest_expect_key(rec->node_key, owner->kp.pub, what);
	itest_expect_endpoint(rec->observed, &owner->local, what);

	vip = itest_ip_msg(rec->vip, what);
	assert_int_equal(ntm_prefix_parse(&b_prefix, dc_b.vip_prefix), 0);
	assert_true(ntm_prefix_contains(&b_prefix, &vip));
	admin = itest_record(&dc_b, fqdn);
	assert_int_equal(ntm_ip_parse(&admin_vip, itest_json_str(admin, "vip")), 0);
	assert_true(ntm_ip_equal(&admin_vip, &vip));
	json_decref(admin);
}

static void query_remote_fqdn(void **state)
{
	struct ntm_testnode na, nb;
	Ntm__Envelope *env;

	itest_node(&dc_a, &na, "127.0.0.1", "qa1.a.example");
	itest_node(&dc_b, &nb, "127.0.0.1", "qb1.b.example");
	itest_register(&na, "qa1.a.example", NULL, 0);
	itest_register(&nb, "qb1.b.example", NULL, 0);

	env = ntm_testnode_query_fqdn(&na, "qb1.b.example", FED_ANSWER_MS);
	expect_remote_record(env, &nb, "qb1.b.example", "query at a.example for qb1.b.example");
	ntm_msg_free(env);
	ntm_testnode_close(&na);
	ntm_testnode_close(&nb);
}

static void query_remote_vip(void **state)
{
	struct ntm_testnode na, nb;
	struct ntm_ip vip;
	Ntm__Envelope *env;
	json_t *rec;

	itest_node(&dc_a, &na, "127.0.0.1", "qa2.a.example");
	itest_node(&dc_b, &nb, "127.0.0.1", "qb2.b.example");
	itest_register(&na, "qa2.a.example", NULL, 0);
	itest_register(&nb, "qb2.b.example", NULL, 0);
	rec = itest_record(&dc_b, "qb2.b.example");
	assert_int_equal(ntm_ip_parse(&vip, itest_json_str(rec, "vip")), 0);
	json_decref(rec);

	env = ntm_testnode_query_vip(&na, &vip, FED_ANSWER_MS);
	expect_remote_record(env, &nb, "qb2.b.example", "query at a.example for qb2's VIP");
	ntm_msg_free(env);
	ntm_testnode_close(&na);
	ntm_testnode_close(&nb);
}

static void query_remote_unknown(void **state)
{
	struct ntm_testnode na;
	Ntm__Envelope *env;

	itest_node(&dc_a, &na, "127.0.0.1", "qa3.a.example");
	itest_register(&na, "qa3.a.example", NULL, 0);
	env = ntm_testnode_query_fqdn(&na, "nobody.b.example", FED_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND,
			   "query at a.example for nobody.b.example");
	ntm_msg_free(env);
	ntm_testnode_close(&na);
}

static void registration_lists_peer_prefix(void **state)
{
	struct ntm_prefix want, got;
	struct ntm_testnode na;
	Ntm__RegistrationResponse *resp;
	Ntm__Envelope *env;
	bool found = false;
	size_t i;

	assert_int_equal(ntm_prefix_parse(&want, dc_b.vip_prefix), 0);
	itest_node(&dc_a, &na, "127.0.0.1", "qa4.a.example");
	env = ntm_testnode_register_direct(&na, "qa4.a.example", ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE, "registration");
	resp = env->registration_response;
	for (i = 0; i < resp->n_vip_prefixes; i++) {
		got.ip = itest_ip_msg(resp->vip_prefixes[i]->ip, "VIP prefix");
		got.len = (uint8_t)resp->vip_prefixes[i]->prefix_len;
		if (ntm_ip_equal(&got.ip, &want.ip) && got.len == want.len)
			found = true;
	}
	if (!found)
		fail_msg("registration at a.example lists %zu VIP prefixes, none is b.example's %s",
			 resp->n_vip_prefixes, dc_b.vip_prefix);
	ntm_msg_free(env);
	ntm_testnode_close(&na);
}

static void direction_across_domains(void **state)
{
	struct ntm_endpoint nat = itest_endpoint("192.0.2.80:47830");
	struct ntm_testnode na, nb;
	Ntm__Envelope *env, *rd_a, *rd_b;

	/* a.example's node has no NAT, b.example's has: b's node opens. */
	itest_node(&dc_a, &na, "127.0.0.2", "da1.a.example");
	itest_node(&dc_b, &nb, "127.0.0.3", "db1.b.example");
	itest_register(&na, "da1.a.example", NULL, 0);
	itest_register(&nb, "db1.b.example", &nat, 1);
	env = ntm_testnode_query_fqdn(&na, "db1.b.example", FED_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE, "query for db1.b.example");
	ntm_msg_free(env);

	rd_a = ntm_testnode_direction(&na, nb.kp.pub, false, FED_ANSWER_MS);
	itest_expect_body(rd_a, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
			  "direction request at a.example for db1.b.example");
	rd_b = ntm_testnode_recv_body(&nb, NTM__ENVELOPE__BODY_ROUTE_DIRECTION, FED_ANSWER_MS);
	itest_expect_body(rd_b, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
			  "route direction at db1.b.example through b.example's DC");
	assert_int_equal(rd_a->route_direction->direction_id, rd_b->route_direction->direction_id);
	assert_int_equal(ntm_testnode_ack_direction(&na, rd_a), 0);
	assert_int_equal(ntm_testnode_ack_direction(&nb, rd_b), 0);

	assert_int_equal(rd_a->route_direction->route, NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS);
	assert_int_equal(rd_a->route_direction->role, NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER);
	assert_non_null(rd_a->route_direction->peer);
	assert_string_equal(rd_a->route_direction->peer->fqdn, "db1.b.example");
	assert_string_equal(rd_a->route_direction->peer->dc_domain, "b.example");
	itest_expect_key(rd_a->route_direction->peer->node_key, nb.kp.pub, "a's peer key");

	assert_int_equal(rd_b->route_direction->route, NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS);
	assert_int_equal(rd_b->route_direction->role, NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR);
	assert_int_equal(rd_b->route_direction->n_try_endpoints, 1);
	itest_expect_endpoint(rd_b->route_direction->try_endpoints[0], &na.local,
			      "b's try endpoint");
	assert_non_null(rd_b->route_direction->peer);
	assert_string_equal(rd_b->route_direction->peer->fqdn, "da1.a.example");
	assert_string_equal(rd_b->route_direction->peer->dc_domain, "a.example");
	itest_expect_key(rd_b->route_direction->peer->node_key, na.kp.pub, "b's peer key");

	/* Both acknowledged: no retransmission from either DC. */
	assert_int_equal(ntm_testnode_drain(&nb, 700), 0);
	assert_int_equal(ntm_testnode_drain(&na, ITEST_SILENCE_MS), 0);
	ntm_msg_free(rd_a);
	ntm_msg_free(rd_b);
	ntm_testnode_close(&na);
	ntm_testnode_close(&nb);
}

static void direction_unqueried_remote(void **state)
{
	struct ntm_testnode na, nb;
	Ntm__Envelope *env;

	itest_node(&dc_a, &na, "127.0.0.1", "da2.a.example");
	itest_node(&dc_b, &nb, "127.0.0.1", "db2.b.example");
	itest_register(&na, "da2.a.example", NULL, 0);
	itest_register(&nb, "db2.b.example", NULL, 0);
	env = ntm_testnode_direction(&na, nb.kp.pub, false, FED_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND,
			   "direction request for a remote key never queried");
	ntm_msg_free(env);
	assert_int_equal(ntm_testnode_drain(&nb, ITEST_SILENCE_MS), 0);
	ntm_testnode_close(&na);
	ntm_testnode_close(&nb);
}

static void query_remote_timeout(void **state)
{
	struct ntm_testnode na;
	Ntm__Envelope *env;
	uint64_t start, took;

	itest_node(&dc_a, &na, "127.0.0.1", "qa5.a.example");
	itest_register(&na, "qa5.a.example", NULL, 0);
	assert_int_equal(ntm_dctest_stop(&dc_b, SIGTERM), 0);

	start = ntm_now_ms();
	env = ntm_testnode_query_fqdn(&na, "late.b.example", FED_TIMEOUT_MS + 1500);
	took = ntm_now_ms() - start;
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_TIMEOUT,
			   "query for late.b.example while b.example's DC is down");
	assert_true(took + 100 >= FED_TIMEOUT_MS);
	ntm_msg_free(env);

	/* a.example's DC still responds for its own nodes. */
	env = ntm_testnode_query_fqdn(&na, "qa5.a.example", ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE, "query for qa5.a.example");
	ntm_msg_free(env);
	ntm_testnode_close(&na);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(query_remote_fqdn),
		cmocka_unit_test(query_remote_vip),
		cmocka_unit_test(query_remote_unknown),
		cmocka_unit_test(registration_lists_peer_prefix),
		cmocka_unit_test(direction_across_domains),
		cmocka_unit_test(direction_unqueried_remote),
		/* Last: it stops b.example's DC. */
		cmocka_unit_test(query_remote_timeout),
	};

	return cmocka_run_group_tests_name("dc_federation", tests, group_setup, group_teardown);
}
