/*
 * ntm-dcd enrolment, registration, keep-alive, queries, VIP pools,
 * revocation and offline marking, against a real daemon.
 */
#include "dc_itest.h"

#include <stdlib.h>

#include "ntm_time.h"

static struct ntm_dctest dc;

static int group_setup(void **state)
{
	return itest_group_setup_short_timers(state, &dc);
}

static void healthz_without_token(void **state)
{
	json_t *body = NULL;

	assert_int_equal(ntm_dctest_http(&dc, "GET", "/healthz", NULL, false, &body), 200);
	assert_non_null(body);
	itest_expect_json_str(body, "status", "ok");
	itest_expect_json_str(body, "daemon", "ntm-dcd");
	itest_expect_json_str(body, "version", NTM_VERSION);
	json_decref(body);
}

static void enrol_created(void **state)
{
	struct ntm_keypair kp;
	char b64[NTM_KEY_B64_LEN], body[256];
	struct ntm_prefix prefix;
	struct ntm_ip vip;
	json_t *rec = NULL;

	ntm_keypair_generate(&kp);
	ntm_key_to_base64(b64, kp.pub);
	snprintf(body, sizeof(body), "{\"fqdn\":\"enrol1.a.example\",\"public_key\":\"%s\"}", b64);
	assert_int_equal(ntm_dctest_http(&dc, "POST", "/v1/nodes", body, true, &rec), 201);
	assert_non_null(rec);

	itest_expect_json_str(rec, "fqdn", "enrol1.a.example");
	itest_expect_json_str(rec, "public_key", b64);
	itest_expect_json_str(rec, "dc_domain", "a.example");
	itest_expect_json_bool(rec, "online", false);
	assert_true(json_is_null(json_object_get(rec, "observed")));
	assert_int_equal(json_array_size(json_object_get(rec, "pool_vips")), 0);
	assert_true(json_is_array(json_object_get(rec, "local_endpoints")));
	assert_true(json_integer_value(json_object_get(rec, "enrolled_ms")) > 0);
	assert_non_null(itest_json_str(rec, "vip"));
	assert_int_equal(ntm_ip_parse(&vip, itest_json_str(rec, "vip")), 0);
	assert_int_equal(ntm_prefix_parse(&prefix, dc.vip_prefix), 0);
	assert_true(ntm_prefix_contains(&prefix, &vip));
	json_decref(rec);

	rec = itest_record(&dc, "enrol1.a.example");
	itest_expect_json_str(rec, "public_key", b64);
	json_decref(rec);
}

static void enrol_duplicate(void **state)
{
	struct ntm_keypair kp, other;

	ntm_keypair_generate(&kp);
	ntm_keypair_generate(&other);
	itest_expect_status(ntm_dctest_enrol(&dc, "dup1.a.example", kp.pub), 201, "first enrolment");
	/* The same FQDN with another key, and the same key under another FQDN. */
	itest_expect_status(ntm_dctest_enrol(&dc, "dup1.a.example", other.pub), 409,
			    "enrolment of an enrolled FQDN");
	itest_expect_status(ntm_dctest_enrol(&dc, "dup2.a.example", kp.pub), 409,
			    "enrolment of an enrolled key");
	assert_null(ntm_dctest_record(&dc, "dup2.a.example"));
}

/* Posts body to /v1/nodes and fails unless it returns 400 with a JSON error. */
static void expect_enrol_rejected(const char *body)
{
	json_t *resp = NULL, *error;
	int status = ntm_dctest_http(&dc, "POST", "/v1/nodes", body, true, &resp);

	if (status != 400)
		fail_msg("POST /v1/nodes %s: expected 400, got %d", body, status);
	error = json_object_get(resp, "error");
	assert_non_null(error);
	assert_non_null(itest_json_str(error, "code"));
	assert_non_null(itest_json_str(error, "message"));
	json_decref(resp);
}

static void enrol_invalid(void **state)
{
	/* Members with a valid public key, each with an invalid or missing FQDN. */
	static const char *const bad_fqdns[] = {
		"\"fqdn\":\"\"",
		"\"fqdn\":\"bad name.a.example\"",
		"\"fqdn\":\"bad..a.example\"",
		"\"fqdn\":42",
		"\"other\":\"bad1.a.example\"",
	};
	char b64[NTM_KEY_B64_LEN], body[1024], label[261];
	struct ntm_keypair kp;
	size_t i;

	ntm_keypair_generate(&kp);
	ntm_key_to_base64(b64, kp.pub);
	expect_enrol_rejected("{\"fqdn\":\"bad1.a.example\",\"public_key\":\"not a key\"}");
	/* base64 of 31 bytes */
	expect_enrol_rejected("{\"fqdn\":\"bad1.a.example\",\"public_key\":"
			      "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}");
	expect_enrol_rejected("{\"fqdn\":\"bad1.a.example\"}");
	expect_enrol_rejected("not json");
	for (i = 0; i < sizeof(bad_fqdns) / sizeof(bad_fqdns[0]); i++) {
		snprintf(body, sizeof(body), "{%s,\"public_key\":\"%s\"}", bad_fqdns[i], b64);
		expect_enrol_rejected(body);
	}
	/* Longer than the 253 bytes of an FQDN. */
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"fqdn\":\"%s.a.example\",\"public_key\":\"%s\"}", label,
		 b64);
	expect_enrol_rejected(body);
	assert_null(ntm_dctest_record(&dc, "bad1.a.example"));
}

static void enrol_outside_domain(void **state)
{
	struct ntm_keypair kp;

	/* [dc] domain names the domain whose nodes this DC owns. b.example's
	 * nodes belong to b.example's DC, which federation queries for them. */
	ntm_keypair_generate(&kp);
	itest_expect_status(ntm_dctest_enrol(&dc, "n1.b.example", kp.pub), 400,
			    "enrolment of n1.b.example at a.example's DC");
	itest_expect_status(ntm_dctest_enrol(&dc, "a.example.b.example", kp.pub), 400,
			    "enrolment of a.example.b.example at a.example's DC");
	assert_null(ntm_dctest_record(&dc, "n1.b.example"));
}

static void enrol_low_order_key(void **state)
{
	/* X25519 points of small order: no shared secret can be derived with
	 * them, so they are not usable node keys. */
	static const char *const keys[] = {
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",   /* 0 */
		"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",   /* 1 */
	};
	char body[256];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(body, sizeof(body), "{\"fqdn\":\"low%zu.a.example\",\"public_key\":\"%s\"}",
			 i, keys[i]);
		expect_enrol_rejected(body);
	}
	assert_null(ntm_dctest_record(&dc, "low0.a.example"));
	assert_null(ntm_dctest_record(&dc, "low1.a.example"));
}

static void enrol_needs_token(void **state)
{
	char saved[sizeof(dc.token)];
	struct ntm_keypair kp;
	char b64[NTM_KEY_B64_LEN], body[256];

	ntm_keypair_generate(&kp);
	ntm_key_to_base64(b64, kp.pub);
	snprintf(body, sizeof(body), "{\"fqdn\":\"tok1.a.example\",\"public_key\":\"%s\"}", b64);
	assert_int_equal(ntm_dctest_http(&dc, "POST", "/v1/nodes", body, false, NULL), 401);

	memcpy(saved, dc.token, sizeof(saved));
	snprintf(dc.token, sizeof(dc.token), "wrong-token-0123456789abcdef");
	assert_int_equal(ntm_dctest_http(&dc, "POST", "/v1/nodes", body, true, NULL), 401);
	assert_int_equal(ntm_dctest_http(&dc, "GET", "/v1/records", NULL, true, NULL), 401);
	memcpy(dc.token, saved, sizeof(saved));

	assert_int_equal(ntm_dctest_http(&dc, "GET", "/v1/records", NULL, false, NULL), 401);
	assert_null(ntm_dctest_record(&dc, "tok1.a.example"));
}

static void record_not_found(void **state)
{
	json_t *resp = NULL;

	assert_int_equal(ntm_dctest_http(&dc, "GET", "/v1/records/nobody.a.example", NULL, true,
					 &resp), 404);
	assert_non_null(resp);
	itest_expect_json_str(json_object_get(resp, "error"), "code", "not_found");
	assert_non_null(itest_json_str(json_object_get(resp, "error"), "message"));
	json_decref(resp);
	assert_int_equal(ntm_dctest_http(&dc, "DELETE", "/v1/nodes/nobody.a.example", NULL, true,
					 NULL), 404);
}

static void register_without_nat(void **state)
{
	struct ntm_testnode node;
	char observed[NTM_ENDPOINT_STRLEN];
	struct ntm_prefix own;
	struct ntm_ip vip, admin_vip;
	Ntm__RegistrationResponse *resp;
	Ntm__Envelope *env;
	json_t *rec;
	size_t i;
	bool prefix_found = false;

	itest_node(&dc, &node, "127.0.0.1", "reg1.a.example");
	env = ntm_testnode_register_direct(&node, "reg1.a.example", ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE, "registration");
	resp = env->registration_response;
	assert_non_null(resp->record);
	assert_string_equal(resp->record->fqdn, "reg1.a.example");
	itest_expect_key(resp->record->node_key, node.kp.pub, "record key");
	itest_expect_endpoint(resp->record->observed, &node.local, "record observed");
	assert_false(resp->record->behind_nat);
	assert_true(resp->record->online);
	assert_string_equal(resp->record->dc_domain, "a.example");
	assert_int_equal(resp->record->n_local_endpoints, 1);
	itest_expect_endpoint(resp->record->local_endpoints[0], &node.local, "local endpoint");
	assert_int_equal(resp->keepalive_interval_s, ITEST_KEEPALIVE_S);
	vip = itest_ip_msg(resp->record->vip, "record VIP");

	assert_int_equal(ntm_prefix_parse(&own, dc.vip_prefix), 0);
	for (i = 0; i < resp->n_vip_prefixes; i++) {
		struct ntm_ip ip = itest_ip_msg(resp->vip_prefixes[i]->ip, "VIP prefix");

		if (ntm_ip_equal(&ip, &own.ip) && resp->vip_prefixes[i]->prefix_len == own.len)
			prefix_found = true;
	}
	assert_true(prefix_found);
	ntm_msg_free(env);

	rec = itest_record(&dc, "reg1.a.example");
	ntm_endpoint_str(&node.local, observed, sizeof(observed));
	itest_expect_json_str(rec, "observed", observed);
	itest_expect_json_bool(rec, "behind_nat", false);
	itest_expect_json_bool(rec, "online", true);
	assert_int_equal(json_array_size(json_object_get(rec, "local_endpoints")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "local_endpoints"),
							     0)), observed);
	assert_true(json_integer_value(json_object_get(rec, "last_seen_ms")) > 0);
	assert_int_equal(ntm_ip_parse(&admin_vip, itest_json_str(rec, "vip")), 0);
	assert_true(ntm_ip_equal(&admin_vip, &vip));
	json_decref(rec);
	ntm_testnode_close(&node);
}

static void register_behind_nat(void **state)
{
	struct ntm_endpoint fake = itest_endpoint("192.0.2.10:47830");
	char observed[NTM_ENDPOINT_STRLEN];
	struct ntm_testnode node;
	Ntm__Envelope *env;
	json_t *rec, *locals;

	itest_node(&dc, &node, "127.0.0.1", "reg2.a.example");
	env = ntm_testnode_register(&node, "reg2.a.example", &fake, 1, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE, "registration");
	assert_true(env->registration_response->record->behind_nat);
	itest_expect_endpoint(env->registration_response->record->observed, &node.local,
			      "record observed");
	ntm_msg_free(env);

	rec = itest_record(&dc, "reg2.a.example");
	ntm_endpoint_str(&node.local, observed, sizeof(observed));
	itest_expect_json_str(rec, "observed", observed);
	itest_expect_json_bool(rec, "behind_nat", true);
	locals = json_object_get(rec, "local_endpoints");
	assert_int_equal(json_array_size(locals), 1);
	assert_string_equal(json_string_value(json_array_get(locals, 0)), "192.0.2.10:47830");
	json_decref(rec);
	ntm_testnode_close(&node);
}

static void register_unenrolled(void **state)
{
	struct ntm_testnode node;
	Ntm__Envelope *env;

	itest_node(&dc, &node, "127.0.0.1", NULL);
	env = ntm_testnode_register_direct(&node, "stranger.a.example", ITEST_SILENCE_MS);
	itest_expect_no_answer(env, "registration of an unenrolled key");
	assert_null(ntm_dctest_record(&dc, "stranger.a.example"));
	ntm_testnode_close(&node);
}

static void register_fqdn_mismatch(void **state)
{
	struct ntm_testnode node;
	Ntm__Envelope *env;

	itest_node(&dc, &node, "127.0.0.1", "mis1.a.example");
	env = ntm_testnode_register_direct(&node, "mis2.a.example", ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_FQDN_MISMATCH,
			   "registration of mis1's key as mis2.a.example");
	ntm_msg_free(env);
	assert_null(ntm_dctest_record(&dc, "mis2.a.example"));
	ntm_testnode_close(&node);
}

static void keepalive_acknowledged(void **state)
{
	struct ntm_testnode node;
	Ntm__Envelope *env;

	itest_node(&dc, &node, "127.0.0.1", "ka1.a.example");
	itest_register(&node, "ka1.a.example", NULL, 0);
	env = ntm_testnode_keepalive(&node, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK, "keepalive");
	itest_expect_endpoint(env->keep_alive_ack->observed, &node.local, "keepalive observed");
	ntm_msg_free(env);
	ntm_testnode_close(&node);
}

static void register_retransmitted(void **state)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__RegistrationRequest req = NTM__REGISTRATION_REQUEST__INIT;
	Ntm__Endpoint local = NTM__ENDPOINT__INIT;
	Ntm__Endpoint *locals[1] = { &local };
	struct ntm_testnode node;
	Ntm__Envelope *answer;
	int i;

	itest_node(&dc, &node, "127.0.0.1", "rt1.a.example");
	ntm_msg_endpoint_set(&local, &node.local);
	req.fqdn = (char *)"rt1.a.example";
	req.n_local_endpoints = 1;
	req.local_endpoints = locals;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = 0x5eed5eed5eed5eedULL;
	env.body_case = NTM__ENVELOPE__BODY_REGISTRATION_REQUEST;
	env.registration_request = &req;

	/* A node retransmits with the same request_id (and a new counter)
	 * until it receives the response, so each copy gets a response. */
	for (i = 0; i < 2; i++) {
		assert_int_equal(ntm_testnode_send(&node, &env), 0);
		answer = ntm_testnode_recv(&node, ITEST_ANSWER_MS);
		itest_expect_body(answer, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE,
				  "registration with a repeated request_id");
		assert_int_equal(answer->request_id, env.request_id);
		ntm_msg_free(answer);
	}
	ntm_testnode_close(&node);
}

static void keepalive_after_rebinding(void **state)
{
	char observed[NTM_ENDPOINT_STRLEN];
	struct ntm_testnode node, moved;
	Ntm__Envelope *env;
	json_t *rec;

	itest_node(&dc, &node, "127.0.0.1", "rb1.a.example");
	itest_register(&node, "rb1.a.example", NULL, 0);

	/* The same key from a new source address and port, as after a NAT
	 * rebinding; its counters continue where the first socket stopped. */
	assert_int_equal(ntm_testnode_open(&moved, "127.0.0.5", 0, &dc.control, dc.kp.pub,
					   &node.kp), 0);
	moved.counter = node.counter;
	env = ntm_testnode_keepalive(&moved, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK, "keepalive from a new port");
	itest_expect_endpoint(env->keep_alive_ack->observed, &moved.local, "keepalive observed");
	ntm_msg_free(env);

	rec = itest_record(&dc, "rb1.a.example");
	ntm_endpoint_str(&moved.local, observed, sizeof(observed));
	itest_expect_json_str(rec, "observed", observed);
	json_decref(rec);
	ntm_testnode_close(&moved);
	ntm_testnode_close(&node);
}

static void keepalive_unregistered(void **state)
{
	struct ntm_testnode node;
	Ntm__Envelope *env;

	itest_node(&dc, &node, "127.0.0.1", "ka2.a.example");
	env = ntm_testnode_keepalive(&node, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_REGISTRATION_REQUIRED,
			   "keepalive before registration");
	ntm_msg_free(env);
	ntm_testnode_close(&node);
}

/* Checks a queried record against the registered node. */
static void expect_record_of(const Ntm__Envelope *env, const struct ntm_testnode *owner,
			     const char *fqdn, const char *what)
{
	const Ntm__NtmRecord *rec;

	itest_expect_body(env, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE, what);
	rec = env->ntm_query_response->record;
	assert_non_null(rec);
	assert_string_equal(rec->fqdn, fqdn);
	itest_expect_key(rec->node_key, owner->kp.pub, what);
	itest_expect_endpoint(rec->observed, &owner->local, what);
	assert_string_equal(rec->dc_domain, "a.example");
	assert_true(rec->online);
}

static void query_by_fqdn_and_vip(void **state)
{
	struct ntm_testnode owner, asker;
	struct ntm_ip vip, admin_vip;
	Ntm__Envelope *env;
	json_t *rec;

	itest_node(&dc, &owner, "127.0.0.1", "q1.a.example");
	itest_node(&dc, &asker, "127.0.0.1", "q2.a.example");
	itest_register(&owner, "q1.a.example", NULL, 0);
	itest_register(&asker, "q2.a.example", NULL, 0);

	env = ntm_testnode_query_fqdn(&asker, "q1.a.example", ITEST_ANSWER_MS);
	expect_record_of(env, &owner, "q1.a.example", "query for q1.a.example");
	vip = itest_ip_msg(env->ntm_query_response->record->vip, "queried VIP");
	ntm_msg_free(env);

	rec = itest_record(&dc, "q1.a.example");
	assert_int_equal(ntm_ip_parse(&admin_vip, itest_json_str(rec, "vip")), 0);
	assert_true(ntm_ip_equal(&admin_vip, &vip));
	json_decref(rec);

	env = ntm_testnode_query_vip(&asker, &vip, ITEST_ANSWER_MS);
	expect_record_of(env, &owner, "q1.a.example", "query for q1's VIP");
	ntm_msg_free(env);
	ntm_testnode_close(&owner);
	ntm_testnode_close(&asker);
}

static void query_not_found(void **state)
{
	static const char *const vips[] = {
		"198.51.100.126",   /* inside the prefix, never assigned in this file */
		"203.0.113.77",     /* outside every prefix */
	};
	struct ntm_testnode asker;
	struct ntm_ip vip;
	Ntm__Envelope *env;
	size_t i;

	itest_node(&dc, &asker, "127.0.0.1", "q3.a.example");
	itest_register(&asker, "q3.a.example", NULL, 0);
	env = ntm_testnode_query_fqdn(&asker, "nobody.a.example", ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND, "query for nobody.a.example");
	ntm_msg_free(env);

	for (i = 0; i < sizeof(vips) / sizeof(vips[0]); i++) {
		assert_int_equal(ntm_ip_parse(&vip, vips[i]), 0);
		env = ntm_testnode_query_vip(&asker, &vip, ITEST_ANSWER_MS);
		itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND, vips[i]);
		ntm_msg_free(env);
	}
	ntm_testnode_close(&asker);
}

/* Requests a pool of count and copies the granted VIPs into vips. */
static size_t pool_request(struct ntm_testnode *node, uint32_t count, struct ntm_ip *vips,
			   size_t max)
{
	Ntm__Envelope *env = ntm_testnode_pool(node, count, ITEST_ANSWER_MS);
	size_t i, n;

	itest_expect_body(env, NTM__ENVELOPE__BODY_VIP_POOL_GRANT, "VIP pool request");
	n = env->vip_pool_grant->n_vips;
	assert_true(n <= max);
	for (i = 0; i < n; i++)
		vips[i] = itest_ip_msg(env->vip_pool_grant->vips[i], "pool VIP");
	ntm_msg_free(env);
	return n;
}

static bool ip_in(const struct ntm_ip *ip, const struct ntm_ip *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ntm_ip_equal(ip, &set[i]))
			return true;
	return false;
}

static void pool_grant(void **state)
{
	struct ntm_ip first[8], again[8], grown[8], own;
	char text[INET6_ADDRSTRLEN];
	struct ntm_testnode agent, asker;
	struct ntm_prefix prefix;
	Ntm__Envelope *env;
	json_t *rec;
	size_t i, j;

	itest_node(&dc, &agent, "127.0.0.1", "agent1.a.example");
	itest_node(&dc, &asker, "127.0.0.1", "q4.a.example");
	itest_register(&agent, "agent1.a.example", NULL, 0);
	itest_register(&asker, "q4.a.example", NULL, 0);
	rec = itest_record(&dc, "agent1.a.example");
	assert_int_equal(ntm_ip_parse(&own, itest_json_str(rec, "vip")), 0);
	json_decref(rec);
	assert_int_equal(ntm_prefix_parse(&prefix, dc.vip_prefix), 0);

	assert_int_equal(pool_request(&agent, 3, first, 8), 3);
	for (i = 0; i < 3; i++) {
		assert_true(ntm_prefix_contains(&prefix, &first[i]));
		assert_false(ntm_ip_equal(&first[i], &own));
		for (j = 0; j < i; j++)
			assert_false(ntm_ip_equal(&first[i], &first[j]));
	}
	assert_int_equal(pool_request(&agent, 3, again, 8), 3);
	for (i = 0; i < 3; i++)
		assert_true(ip_in(&again[i], first, 3));
	assert_int_equal(pool_request(&agent, 5, grown, 8), 5);
	for (i = 0; i < 3; i++)
		assert_true(ip_in(&first[i], grown, 5));
	for (i = 0; i < 5; i++)
		assert_false(ntm_ip_equal(&grown[i], &own));

	env = ntm_testnode_query_vip(&asker, &grown[4], ITEST_ANSWER_MS);
	expect_record_of(env, &agent, "agent1.a.example", "query for a pool VIP");
	assert_int_equal(env->ntm_query_response->record->n_pool_vips, 5);
	ntm_msg_free(env);

	rec = itest_record(&dc, ntm_ip_str(&grown[4], text, sizeof(text)));
	itest_expect_json_str(rec, "fqdn", "agent1.a.example");
	assert_int_equal(json_array_size(json_object_get(rec, "pool_vips")), 5);
	json_decref(rec);
	ntm_testnode_close(&agent);
	ntm_testnode_close(&asker);
}

static bool list_has(json_t *list, const char *fqdn)
{
	json_t *rec;
	size_t i;

	json_array_foreach(json_object_get(list, "records"), i, rec)
		if (strcmp(itest_json_str(rec, "fqdn") ? itest_json_str(rec, "fqdn") : "", fqdn) == 0)
			return true;
	return false;
}

static void records_list(void **state)
{
	struct ntm_testnode node;
	struct ntm_keypair idle;
	json_t *list = NULL;

	itest_node(&dc, &node, "127.0.0.1", "list1.a.example");
	itest_register(&node, "list1.a.example", NULL, 0);
	ntm_keypair_generate(&idle);
	assert_int_equal(ntm_dctest_enrol(&dc, "list2.a.example", idle.pub), 201);

	assert_int_equal(ntm_dctest_http(&dc, "GET", "/v1/records?online=true&limit=1000", NULL,
					 true, &list), 200);
	assert_true(list_has(list, "list1.a.example"));
	assert_false(list_has(list, "list2.a.example"));
	json_decref(list);

	assert_int_equal(ntm_dctest_http(&dc, "GET", "/v1/records?online=false&limit=1000", NULL,
					 true, &list), 200);
	assert_true(list_has(list, "list2.a.example"));
	assert_false(list_has(list, "list1.a.example"));
	json_decref(list);

	assert_int_equal(ntm_dctest_http(&dc, "GET", "/v1/records?limit=1&offset=1", NULL, true,
					 &list), 200);
	assert_int_equal(json_array_size(json_object_get(list, "records")), 1);
	assert_int_equal(json_integer_value(json_object_get(list, "limit")), 1);
	assert_int_equal(json_integer_value(json_object_get(list, "offset")), 1);
	assert_true(json_integer_value(json_object_get(list, "total")) >= 2);
	json_decref(list);
	ntm_testnode_close(&node);
}

static void revocation(void **state)
{
	struct ntm_testnode node;
	json_t *resp = NULL;
	Ntm__Envelope *env;

	itest_node(&dc, &node, "127.0.0.1", "rev1.a.example");
	itest_register(&node, "rev1.a.example", NULL, 0);
	assert_int_equal(ntm_dctest_http(&dc, "DELETE", "/v1/nodes/rev1.a.example", NULL, true,
					 &resp), 200);
	itest_expect_json_str(resp, "revoked", "rev1.a.example");
	json_decref(resp);

	env = ntm_testnode_recv(&node, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_REVOKED, "after DELETE /v1/nodes");
	ntm_msg_free(env);

	env = ntm_testnode_keepalive(&node, ITEST_SILENCE_MS);
	itest_expect_no_answer(env, "keepalive of a revoked key");
	env = ntm_testnode_register_direct(&node, "rev1.a.example", ITEST_SILENCE_MS);
	itest_expect_no_answer(env, "registration of a revoked key");
	assert_null(ntm_dctest_record(&dc, "rev1.a.example"));
	assert_int_equal(ntm_dctest_http(&dc, "DELETE", "/v1/nodes/rev1.a.example", NULL, true,
					 NULL), 404);
	ntm_testnode_close(&node);
}

static bool record_online(const char *fqdn)
{
	json_t *rec = itest_record(&dc, fqdn);
	bool online = json_is_true(json_object_get(rec, "online"));

	json_decref(rec);
	return online;
}

/*
 * Polls the admin API until silent's record is offline, sending alive's
 * keep-alives every ITEST_KEEPALIVE_S meanwhile. Returns the milliseconds since
 * since, or 0 when silent stayed online past deadline.
 */
static uint64_t wait_offline(const char *silent, struct ntm_testnode *alive, uint64_t since,
			     uint64_t deadline)
{
	uint64_t next_keepalive = since + ITEST_KEEPALIVE_S * 1000;
	Ntm__Envelope *env;

	while (ntm_now_ms() < deadline) {
		if (!record_online(silent))
			return ntm_now_ms() - since;
		if (ntm_now_ms() >= next_keepalive) {
			env = ntm_testnode_keepalive(alive, ITEST_ANSWER_MS);
			itest_expect_body(env, NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK, "keepalive");
			ntm_msg_free(env);
			next_keepalive += ITEST_KEEPALIVE_S * 1000;
		}
		ntm_daemontest_sleep_ms(200);
	}
	return 0;
}

static void offline_marking(void **state)
{
	struct ntm_testnode silent, alive;
	uint64_t registered, took;

	itest_node(&dc, &silent, "127.0.0.1", "off1.a.example");
	itest_node(&dc, &alive, "127.0.0.1", "off2.a.example");
	itest_register(&alive, "off2.a.example", NULL, 0);
	itest_register(&silent, "off1.a.example", NULL, 0);
	registered = ntm_now_ms();
	assert_true(record_online("off1.a.example"));

	/* offline_after plus the 1 s granularity a sweep timer may add, and
	 * slack for a loaded machine. */
	took = wait_offline("off1.a.example", &alive, registered,
			    registered + ITEST_OFFLINE_AFTER_S * 1000 + 3000);
	if (took == 0)
		fail_msg("off1.a.example still online %d s after its last packet",
			 ITEST_OFFLINE_AFTER_S + 3);
	/* Not before offline_after: allow 100 ms of clock granularity. */
	assert_true(took + 100 >= ITEST_OFFLINE_AFTER_S * 1000);
	/* Keep-alives every keepalive_interval keep a node online. */
	assert_true(record_online("off2.a.example"));
	ntm_testnode_close(&silent);
	ntm_testnode_close(&alive);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthz_without_token),
		cmocka_unit_test(enrol_created),
		cmocka_unit_test(enrol_duplicate),
		cmocka_unit_test(enrol_invalid),
		cmocka_unit_test(enrol_outside_domain),
		cmocka_unit_test(enrol_low_order_key),
		cmocka_unit_test(enrol_needs_token),
		cmocka_unit_test(record_not_found),
		cmocka_unit_test(register_without_nat),
		cmocka_unit_test(register_behind_nat),
		cmocka_unit_test(register_unenrolled),
		cmocka_unit_test(register_fqdn_mismatch),
		cmocka_unit_test(keepalive_acknowledged),
		cmocka_unit_test(register_retransmitted),
		cmocka_unit_test(keepalive_after_rebinding),
		cmocka_unit_test(keepalive_unregistered),
		cmocka_unit_test(query_by_fqdn_and_vip),
		cmocka_unit_test(query_not_found),
		cmocka_unit_test(pool_grant),
		cmocka_unit_test(records_list),
		cmocka_unit_test(revocation),
		cmocka_unit_test(offline_marking),
	};

	return cmocka_run_group_tests_name("dc_register", tests, group_setup, itest_group_teardown);
}
