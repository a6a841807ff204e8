/*
 * ntm-dcd restarts: a clean stop on SIGTERM, and a kill -9 after which the
 * records, keys and VIPs come back from the database while registrations
 * and replayed packets from before do not count.
 */
#include "dc_itest.h"

#include <signal.h>
#include <sys/wait.h>

#include "ntm_time.h"

static struct ntm_dctest dc;

static int group_setup(void **state)
{
	return itest_group_setup_short_timers(state, &dc);
}

/*
 * Waits until 1.1 s after the DC's start, so a restart falls in a later
 * wall-clock second. Control counters start at Unix seconds << 32
 * (ntm_counter_start), so a DC restarted within the second it started would
 * reuse counters its nodes have seen, and they would drop its packets.
 */
static void sleep_until(uint64_t due)
{
	uint64_t now = ntm_now_ms();

	if (now < due)
		ntm_daemontest_sleep_ms((unsigned)(due - now));
}

static void wait_next_second(void)
{
	sleep_until(dc.started_ms + 1100);
}

static void sigterm_stops_cleanly(void **state)
{
	int status = ntm_dctest_stop(&dc, SIGTERM);

	assert_true(status >= 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(ntm_dctest_start(&dc), 0);
}

static json_t *pool_json(const json_t *rec)
{
	return json_object_get(rec, "pool_vips");
}

static void kill9_keeps_state(void **state)
{
	uint8_t old_packet[NTM_CTL_MAX_PACKET];
	struct ntm_ip pool[2], vip_before, vip_after, got;
	struct ntm_testnode node, idle;
	json_t *before, *after;
	size_t old_len, i;
	Ntm__Envelope *env;

	itest_node(&dc, &node, "127.0.0.1", "p1.a.example");
	itest_node(&dc, &idle, "127.0.0.1", "p2.a.example");
	itest_register(&node, "p1.a.example", NULL, 0);
	memcpy(old_packet, node.last_packet, node.last_packet_len);
	old_len = node.last_packet_len;
	env = ntm_testnode_pool(&node, 2, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_VIP_POOL_GRANT, "VIP pool request");
	assert_int_equal(env->vip_pool_grant->n_vips, 2);
	for (i = 0; i < 2; i++)
		pool[i] = itest_ip_msg(env->vip_pool_grant->vips[i], "pool VIP");
	ntm_msg_free(env);
	before = itest_record(&dc, "p1.a.example");

	wait_next_second();
	assert_int_equal(ntm_dctest_restart(&dc, SIGKILL), 0);

	/* Record, VIP and pool survive. */
	after = itest_record(&dc, "p1.a.example");
	itest_expect_json_str(after, "public_key", itest_json_str(before, "public_key"));
	itest_expect_json_str(after, "vip", itest_json_str(before, "vip"));
	itest_expect_json_str(after, "observed", itest_json_str(before, "observed"));
	assert_true(json_equal(pool_json(after), pool_json(before)));
	assert_int_equal(json_array_size(pool_json(after)), 2);
	json_decref(after);

	/* The registration packet from before the restart is a replay now. */
	assert_int_equal(ntm_testnode_send_raw(&node, old_packet, old_len), 0);
	itest_expect_silence(&node, "registration packet replayed after the restart");

	env = ntm_testnode_keepalive(&node, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_REGISTRATION_REQUIRED,
			   "keepalive after the restart");
	ntm_msg_free(env);

	env = ntm_testnode_register_direct(&node, "p1.a.example", ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE,
			  "registration after the restart");
	vip_after = itest_ip_msg(env->registration_response->record->vip, "VIP after restart");
	assert_int_equal(ntm_ip_parse(&vip_before, itest_json_str(before, "vip")), 0);
	assert_true(ntm_ip_equal(&vip_after, &vip_before));
	ntm_msg_free(env);
	json_decref(before);

	env = ntm_testnode_pool(&node, 2, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_VIP_POOL_GRANT, "VIP pool request after restart");
	assert_int_equal(env->vip_pool_grant->n_vips, 2);
	for (i = 0; i < 2; i++) {
		got = itest_ip_msg(env->vip_pool_grant->vips[i], "pool VIP");
		assert_true(ntm_ip_equal(&got, &pool[0]) || ntm_ip_equal(&got, &pool[1]));
	}
	ntm_msg_free(env);

	/* Enrolled before the restart, registering for the first time after. */
	itest_register(&idle, "p2.a.example", NULL, 0);
	ntm_testnode_close(&node);
	ntm_testnode_close(&idle);
}

static void kill9_queries_answered(void **state)
{
	struct ntm_testnode owner, asker;
	char text[INET6_ADDRSTRLEN];
	struct ntm_ip vip;
	Ntm__Envelope *env;
	json_t *rec;

	itest_node(&dc, &owner, "127.0.0.1", "p3.a.example");
	itest_node(&dc, &asker, "127.0.0.1", "p4.a.example");
	itest_register(&owner, "p3.a.example", NULL, 0);
	wait_next_second();
	assert_int_equal(ntm_dctest_restart(&dc, SIGKILL), 0);

	rec = itest_record(&dc, "p3.a.example");
	assert_int_equal(ntm_ip_parse(&vip, itest_json_str(rec, "vip")), 0);
	json_decref(rec);
	itest_register(&asker, "p4.a.example", NULL, 0);
	env = ntm_testnode_query_fqdn(&asker, "p3.a.example", ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE,
			  "query after the restart for a node that has not re-registered");
	itest_expect_key(env->ntm_query_response->record->node_key, owner.kp.pub, "queried key");
	ntm_msg_free(env);
	env = ntm_testnode_query_vip(&asker, &vip, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE,
			  ntm_ip_str(&vip, text, sizeof(text)));
	ntm_msg_free(env);
	ntm_testnode_close(&owner);
	ntm_testnode_close(&asker);
}

static void kill9_outage_marks_offline(void **state)
{
	struct ntm_testnode gone, asker;
	uint64_t registered;
	Ntm__Envelope *env;
	json_t *rec;

	itest_node(&dc, &gone, "127.0.0.1", "p5.a.example");
	itest_node(&dc, &asker, "127.0.0.1", "p6.a.example");
	itest_register(&gone, "p5.a.example", NULL, 0);
	registered = ntm_now_ms();
	wait_next_second();

	/* The DC is down for longer than offline_after, and p5 sends nothing. */
	assert_true(ntm_dctest_stop(&dc, SIGKILL) >= 0);
	sleep_until(registered + ITEST_OFFLINE_AFTER_S * 1000 + 500);
	assert_int_equal(ntm_dctest_start(&dc), 0);

	rec = itest_record(&dc, "p5.a.example");
	if (json_is_true(json_object_get(rec, "online")))
		fail_msg("p5.a.example is online after a restart although its last packet is "
			 "more than offline_after (%d s) old", ITEST_OFFLINE_AFTER_S);
	json_decref(rec);

	itest_register(&asker, "p6.a.example", NULL, 0);
	env = ntm_testnode_direction(&asker, gone.kp.pub, false, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_PEER_OFFLINE,
			   "direction request for a node silent since before the outage");
	ntm_msg_free(env);
	ntm_testnode_close(&gone);
	ntm_testnode_close(&asker);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigterm_stops_cleanly),
		cmocka_unit_test(kill9_keeps_state),
		cmocka_unit_test(kill9_queries_answered),
		cmocka_unit_test(kill9_outage_marks_offline),
	};

	return cmocka_run_group_tests_name("dc_persistence", tests, group_setup,
					   itest_group_teardown);
}
