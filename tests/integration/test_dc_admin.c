/*
 * ntm-dcd's admin API against a real daemon: every route with and without
 * the bearer token, each kind of bad request (bad JSON, wrong type, unknown
 * member, oversized body, bad query argument) with its status and a message
 * naming the value, and no state change after any of them; paging and
 * filters of the lists; the direction log, VIPs and metrics; and a
 * revocation that tells the revoked node's peers to drop their tunnels.
 */
#include "dc_itest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntm_time.h"

#define RAW_RESPONSE_MAX (1024 * 1024)
/* The admin API's body limit, NTM_ADMIN_MAX_BODY in admin-api/ntm_admin.h. */
#define ADMIN_MAX_BODY (64 * 1024)

static struct ntm_dctest dc;

static int group_setup(void **state)
{
	return itest_group_setup(state, &dc, NULL);
}

/* ---- helpers ---- */

/*
 * Sends request (a whole HTTP/1.0 request) to the admin port and reads the
 * response into a malloc'ed string. Returns the HTTP status; *body points
 * into the response after the blank line.
 */
static int raw_http(const char *request, char **response, const char **body)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(dc.admin_port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0;
	int status = -1;
	char *end;

	*response = calloc(1, RAW_RESPONSE_MAX);
	assert_non_null(*response);
	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL),
			 (ssize_t)strlen(request));
	for (;;) {
		ssize_t n = recv(fd, *response + len, RAW_RESPONSE_MAX - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	sscanf(*response, "HTTP/1.%*d %d", &status);
	end = strstr(*response, "\r\n\r\n");
	*body = end ? end + 4 : "";
	return status;
}

/* GET /metrics with the token; returns the text (free it). */
static char *get_metrics(void)
{
	char request[256];
	char *response;
	const char *body;
	char *text;

	snprintf(request, sizeof(request),
		 "GET /metrics HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n", dc.token);
	assert_int_equal(raw_http(request, &response, &body), 200);
	assert_non_null(strstr(response, "Content-Type: text/plain; version=0.0.4"));
	text = strdup(body);
	free(response);
	return text;
}

/* Value of the sample line starting with "name " (labels included in
 * name); fails when absent. */
static double metric_value(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, name, len) == 0 && line[len] == ' ')
			return strtod(line + len + 1, NULL);
	}
	fail_msg("metric %s missing from /metrics", name);
	return 0;
}

/* The "message" of a JSON error response; fails unless code matches. */
static const char *expect_error(const json_t *resp, const char *code)
{
	const json_t *err = json_object_get(resp, "error");

	if (!err)
		fail_msg("expected an error body with code \"%s\", got none", code);
	itest_expect_json_str(err, "code", code);
	return json_string_value(json_object_get(err, "message"));
}

/* Fails unless message contains part. */
static void expect_mentions(const char *message, const char *part)
{
	if (!message || !strstr(message, part))
		fail_msg("error message \"%s\" does not mention \"%s\"", message ? message : "",
			 part);
}

static json_int_t list_total(const char *path)
{
	json_t *resp = NULL;
	json_int_t total;

	itest_expect_status(ntm_dctest_http(&dc, "GET", path, NULL, true, &resp), 200, path);
	total = json_integer_value(json_object_get(resp, "total"));
	json_decref(resp);
	return total;
}

static json_int_t records_total(void)
{
	return list_total("/v1/records?limit=0");
}

/* Sends a request expected to fail with status and code; checks the message
 * names part and that no record was added or removed. */
static void expect_rejected(const char *method, const char *path, const char *body,
			    int status, const char *code, const char *part)
{
	json_int_t before = records_total();
	json_t *resp = NULL;
	char what[256];

	snprintf(what, sizeof(what), "%s %s %s", method, path, body ? body : "");
	itest_expect_status(ntm_dctest_http(&dc, method, path, body, true, &resp), status, what);
	expect_mentions(expect_error(resp, code), part);
	json_decref(resp);
	assert_int_equal(records_total(), before);
}

static void enrol_new(const char *label, struct ntm_testnode *node, const char *bind_ip)
{
	char fqdn[128];

	itest_fqdn(fqdn, sizeof(fqdn), label, &dc);
	itest_node(&dc, node, bind_ip, fqdn);
}

/* ---- authentication ---- */

static const struct {
	const char *method, *path;
} routes[] = {
	{ "GET", "/metrics" },
	{ "GET", "/v1/records" },
	{ "GET", "/v1/records/x.a.example" },
	{ "POST", "/v1/nodes" },
	{ "DELETE", "/v1/nodes/x.a.example" },
	{ "GET", "/v1/directions" },
	{ "GET", "/v1/relays" },
	{ "GET", "/v1/relays/sessions" },
	{ "GET", "/v1/vips" },
	{ "GET", "/v1/federation" },
};

static void admin_routes_need_token(void **state)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char what[128];
		json_t *resp = NULL;

		snprintf(what, sizeof(what), "%s %s without a token", routes[i].method,
			 routes[i].path);
		itest_expect_status(ntm_dctest_http(&dc, routes[i].method, routes[i].path, NULL,
						    false, &resp), 401, what);
		expect_mentions(expect_error(resp, "unauthorized"), "missing bearer token");
		json_decref(resp);
	}
}

static void admin_wrong_token_rejected(void **state)
{
	char request[512];
	char *response;
	const char *body;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		snprintf(request, sizeof(request),
			 "%s %s HTTP/1.0\r\nAuthorization: Bearer wrong-token-0123456789\r\n\r\n",
			 routes[i].method, routes[i].path);
		assert_int_equal(raw_http(request, &response, &body), 401);
		assert_non_null(strstr(body, "wrong bearer token"));
		free(response);
	}
}

static void admin_routes_with_token(void **state)
{
	static const char *const lists[] = { "/v1/records", "/v1/directions", "/v1/relays",
					     "/v1/relays/sessions", "/v1/vips", "/v1/federation" };

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		itest_expect_status(ntm_dctest_http(&dc, "GET", lists[i], NULL, true, NULL), 200,
				    lists[i]);
}

static void admin_healthz_public(void **state)
{
	json_t *resp = NULL;

	itest_expect_status(ntm_dctest_http(&dc, "GET", "/healthz", NULL, false, &resp), 200,
			    "GET /healthz");
	itest_expect_json_str(resp, "daemon", "ntm-dcd");
	itest_expect_json_str(resp, "domain", dc.domain);
	json_decref(resp);
}

static void admin_enrol_wrong_token_no_change(void **state)
{
	struct ntm_keypair kp;
	char request[512], key[NTM_KEY_B64_LEN];
	char *response;
	const char *body;
	json_int_t before = records_total();

	ntm_keypair_generate(&kp);
	ntm_key_to_base64(key, kp.pub);
	snprintf(request, sizeof(request),
		 "POST /v1/nodes HTTP/1.0\r\nAuthorization: Bearer nope-nope-nope-nope\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n"
		 "{\"fqdn\":\"sneaky.a.example\",\"public_key\":\"%s\"}",
		 strlen("{\"fqdn\":\"sneaky.a.example\",\"public_key\":\"\"}") + strlen(key), key);
	assert_int_equal(raw_http(request, &response, &body), 401);
	free(response);
	assert_int_equal(records_total(), before);
	assert_null(ntm_dctest_record(&dc, "sneaky.a.example"));
}

/* ---- bad requests ---- */

static void admin_enrol_bad_json(void **state)
{
	expect_rejected("POST", "/v1/nodes", "{\"fqdn\": ", 400, "invalid_json", "invalid JSON");
	expect_rejected("POST", "/v1/nodes", "[\"x\"]", 400, "invalid_json", "an array");
	expect_rejected("POST", "/v1/nodes", "{\"fqdn\":\"a\",\"fqdn\":\"b\"}", 400,
			"invalid_json", "duplicate");
}

static void admin_enrol_wrong_type(void **state)
{
	expect_rejected("POST", "/v1/nodes", "{\"fqdn\": 7, \"public_key\": \"x\"}", 400,
			"invalid_argument", "member 'fqdn' must be a string, not an integer");
	expect_rejected("POST", "/v1/nodes", "{\"fqdn\": \"t.a.example\", \"public_key\": null}",
			400, "invalid_argument", "member 'public_key' must be a string");
}

static void admin_enrol_unknown_member(void **state)
{
	expect_rejected("POST", "/v1/nodes",
			"{\"fqdn\": \"t.a.example\", \"public_key\": \"x\", \"vip\": \"1.2.3.4\"}",
			400, "invalid_argument", "unknown member 'vip'");
}

static void admin_enrol_missing_member(void **state)
{
	expect_rejected("POST", "/v1/nodes", "{\"fqdn\": \"t.a.example\"}", 400,
			"invalid_argument", "missing member 'public_key'");
	expect_rejected("POST", "/v1/nodes", NULL, 400, "invalid_argument", "fqdn, public_key");
}

static void admin_enrol_invalid_values(void **state)
{
	expect_rejected("POST", "/v1/nodes",
			"{\"fqdn\": \"Bad Name\", \"public_key\": \"x\"}", 400, "invalid_argument",
			"fqdn 'Bad Name' is not a valid");
	expect_rejected("POST", "/v1/nodes",
			"{\"fqdn\": \"n.b.example\", \"public_key\": \"x\"}", 400,
			"invalid_argument", "not a name under this DC's domain");
	expect_rejected("POST", "/v1/nodes",
			"{\"fqdn\": \"n.a.example\", \"public_key\": \"AAAA\"}", 400,
			"invalid_argument", "public_key 'AAAA'");
}

static void admin_enrol_oversized_body(void **state)
{
	char request[256];
	char *response;
	const char *body;
	json_int_t before = records_total();

	snprintf(request, sizeof(request),
		 "POST /v1/nodes HTTP/1.0\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", dc.token,
		 ADMIN_MAX_BODY + 1);
	assert_int_equal(raw_http(request, &response, &body), 413);
	assert_non_null(strstr(body, "body_too_large"));
	free(response);
	assert_int_equal(records_total(), before);
}

static void admin_enrol_conflict(void **state)
{
	struct ntm_testnode node;
	char key[NTM_KEY_B64_LEN], body[256];

	enrol_new("dup", &node, "127.0.0.1");
	ntm_key_to_base64(key, node.kp.pub);
	snprintf(body, sizeof(body), "{\"fqdn\":\"dup.%s\",\"public_key\":\"%s\"}", dc.domain, key);
	expect_rejected("POST", "/v1/nodes", body, 409, "conflict", "dup.a.example");
	ntm_testnode_close(&node);
}

static void admin_query_arguments(void **state)
{
	expect_rejected("GET", "/v1/records?limit=1001", NULL, 400, "invalid_argument",
			"limit '1001' is invalid");
	expect_rejected("GET", "/v1/records?offset=-1", NULL, 400, "invalid_argument",
			"offset '-1' is invalid");
	expect_rejected("GET", "/v1/records?online=yes", NULL, 400, "invalid_argument",
			"online 'yes' is invalid");
	expect_rejected("GET", "/v1/records?color=red", NULL, 400, "invalid_argument",
			"unknown query argument 'color'");
	expect_rejected("GET", "/v1/directions?limit=x", NULL, 400, "invalid_argument",
			"limit 'x'");
	expect_rejected("GET", "/v1/federation?limit=1", NULL, 400, "invalid_argument",
			"unknown query argument 'limit'");
}

static void admin_not_found_and_method(void **state)
{
	json_t *resp = NULL;

	expect_rejected("GET", "/v1/records/nobody.a.example", NULL, 404, "not_found",
			"nobody.a.example");
	expect_rejected("GET", "/v1/records/198.51.100.120", NULL, 404, "not_found",
			"198.51.100.120");
	expect_rejected("GET", "/v1/records/NOT_A_NAME", NULL, 400, "invalid_argument",
			"NOT_A_NAME");
	expect_rejected("DELETE", "/v1/nodes/nobody.a.example", NULL, 404, "not_found",
			"nobody.a.example");
	expect_rejected("GET", "/v1/nothing", NULL, 404, "not_found", "/v1/nothing");
	itest_expect_status(ntm_dctest_http(&dc, "PUT", "/v1/records", "{}", true, &resp), 405,
			    "PUT /v1/records");
	expect_mentions(expect_error(resp, "method_not_allowed"), "allowed: GET");
	json_decref(resp);
}

/* ---- lists ---- */

static void admin_records_paging(void **state)
{
	struct ntm_testnode nodes[5];
	static const char *const labels[] = { "page-e", "page-b", "page-d", "page-a", "page-c" };
	json_t *resp = NULL, *recs;
	json_int_t total;

	for (size_t i = 0; i < 5; i++)
		enrol_new(labels[i], &nodes[i], "127.0.0.1");
	total = records_total();
	assert_true(total >= 5);

	itest_expect_status(ntm_dctest_http(&dc, "GET", "/v1/records?limit=2&offset=0", NULL,
					    true, &resp), 200, "first page");
	recs = json_object_get(resp, "records");
	assert_int_equal(json_array_size(recs), 2);
	assert_int_equal(json_integer_value(json_object_get(resp, "total")), total);
	assert_int_equal(json_integer_value(json_object_get(resp, "limit")), 2);
	/* Sorted by FQDN: the first record sorts before the second. */
	assert_true(strcmp(itest_json_str(json_array_get(recs, 0), "fqdn"),
			   itest_json_str(json_array_get(recs, 1), "fqdn")) < 0);
	json_decref(resp);

	itest_expect_status(ntm_dctest_http(&dc, "GET", "/v1/records?limit=1000&offset=1000000",
					    NULL, true, &resp), 200, "past the end");
	assert_int_equal(json_array_size(json_object_get(resp, "records")), 0);
	assert_int_equal(json_integer_value(json_object_get(resp, "total")), total);
	json_decref(resp);

	for (size_t i = 0; i < 5; i++)
		ntm_testnode_close(&nodes[i]);
}

static void admin_records_filters(void **state)
{
	struct ntm_testnode on, nat;
	char fqdn[64];
	json_int_t online_before = list_total("/v1/records?online=true&limit=0");
	json_int_t nat_before = list_total("/v1/records?behind_nat=true&limit=0");
	json_int_t all = records_total();
	struct ntm_endpoint fake = itest_endpoint("192.0.2.9:47830");

	enrol_new("filter-on", &on, "127.0.0.2");
	itest_register(&on, itest_fqdn(fqdn, sizeof(fqdn), "filter-on", &dc), NULL, 0);
	enrol_new("filter-nat", &nat, "127.0.0.3");
	itest_register(&nat, itest_fqdn(fqdn, sizeof(fqdn), "filter-nat", &dc), &fake, 1);

	assert_int_equal(list_total("/v1/records?online=true&limit=0"), online_before + 2);
	assert_int_equal(list_total("/v1/records?online=false&limit=0"),
			 all + 2 - (online_before + 2));
	assert_int_equal(list_total("/v1/records?behind_nat=true&limit=0"), nat_before + 1);
	ntm_testnode_close(&on);
	ntm_testnode_close(&nat);
}

static void admin_record_by_vip(void **state)
{
	struct ntm_testnode node;
	json_t *by_fqdn, *by_vip;

	enrol_new("byvip", &node, "127.0.0.1");
	by_fqdn = itest_record(&dc, "byvip.a.example");
	by_vip = itest_record(&dc, itest_json_str(by_fqdn, "vip"));
	itest_expect_json_str(by_vip, "fqdn", "byvip.a.example");
	json_decref(by_fqdn);
	json_decref(by_vip);
	ntm_testnode_close(&node);
}

static void admin_vips_list(void **state)
{
	struct ntm_testnode node;
	char fqdn[64];
	json_t *resp = NULL, *prefix;
	Ntm__Envelope *env;

	enrol_new("pool", &node, "127.0.0.4");
	itest_register(&node, itest_fqdn(fqdn, sizeof(fqdn), "pool", &dc), NULL, 0);
	env = ntm_testnode_pool(&node, 2, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_VIP_POOL_GRANT, "pool request");
	ntm_msg_free(env);

	itest_expect_status(ntm_dctest_http(&dc, "GET", "/v1/vips?owner=pool.a.example", NULL,
					    true, &resp), 200, "GET /v1/vips?owner=");
	assert_int_equal(json_integer_value(json_object_get(resp, "total")), 3);
	itest_expect_json_str(json_array_get(json_object_get(resp, "vips"), 0), "kind", "node");
	itest_expect_json_str(json_array_get(json_object_get(resp, "vips"), 1), "kind", "pool");
	itest_expect_json_str(json_array_get(json_object_get(resp, "vips"), 1), "owner",
			      "pool.a.example");
	itest_expect_json_str(resp, "dc_vip", "198.51.100.1");
	prefix = json_array_get(json_object_get(resp, "prefixes"), 0);
	itest_expect_json_str(prefix, "prefix", "198.51.100.0/25");
	itest_expect_json_str(prefix, "owner", dc.domain);
	json_decref(resp);
	ntm_testnode_close(&node);
}

/* ---- directions and revocation ---- */

/* Registers a and b, directs a tunnel from a to b and acks both Route
 * Directions. */
static void direct_pair(struct ntm_testnode *a, const char *la, struct ntm_testnode *b,
			const char *lb)
{
	char fqdn[64];
	Ntm__Envelope *env;

	enrol_new(la, a, "127.0.0.5");
	itest_register(a, itest_fqdn(fqdn, sizeof(fqdn), la, &dc), NULL, 0);
	enrol_new(lb, b, "127.0.0.6");
	itest_register(b, itest_fqdn(fqdn, sizeof(fqdn), lb, &dc), NULL, 0);
	env = ntm_testnode_direction(a, b->kp.pub, false, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_ROUTE_DIRECTION, "requester's direction");
	assert_int_equal(ntm_testnode_ack_direction(a, env), 0);
	ntm_msg_free(env);
	env = ntm_testnode_recv_body(b, NTM__ENVELOPE__BODY_ROUTE_DIRECTION, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_ROUTE_DIRECTION, "peer's direction");
	assert_int_equal(ntm_testnode_ack_direction(b, env), 0);
	ntm_msg_free(env);
}

static void admin_directions_log(void **state)
{
	struct ntm_testnode a, b;
	json_t *resp = NULL, *d;
	json_int_t before = list_total("/v1/directions?limit=0");

	direct_pair(&a, "dir-a", &b, "dir-b");
	/* The acks travel over UDP; give the DC a moment to take them. */
	ntm_testnode_drain(&a, 100);
	itest_expect_status(ntm_dctest_http(&dc, "GET", "/v1/directions?limit=1", NULL, true,
					    &resp), 200, "GET /v1/directions");
	assert_int_equal(json_integer_value(json_object_get(resp, "total")), before + 1);
	d = json_array_get(json_object_get(resp, "directions"), 0);
	itest_expect_json_str(json_object_get(d, "requester"), "fqdn", "dir-a.a.example");
	itest_expect_json_str(json_object_get(d, "peer"), "fqdn", "dir-b.a.example");
	itest_expect_json_str(d, "route", "direct");
	itest_expect_json_str(d, "initiator", "requester");
	itest_expect_json_bool(json_object_get(d, "requester"), "acked", true);
	itest_expect_json_bool(json_object_get(d, "peer"), "acked", true);
	assert_true(json_is_null(json_object_get(d, "relay_session_id")));
	json_decref(resp);
	ntm_testnode_close(&a);
	ntm_testnode_close(&b);
}

static void admin_revoke_notifies_peers(void **state)
{
	struct ntm_testnode a, b;
	json_t *resp = NULL;
	Ntm__Envelope *env;

	direct_pair(&a, "rev-a", &b, "rev-b");
	ntm_testnode_drain(&a, 50);
	ntm_testnode_drain(&b, 50);

	itest_expect_status(ntm_dctest_http(&dc, "DELETE", "/v1/nodes/rev-b.a.example", NULL, true,
					    &resp), 200, "DELETE /v1/nodes/rev-b");
	itest_expect_json_str(resp, "revoked", "rev-b.a.example");
	assert_true(json_integer_value(json_object_get(resp, "peers_notified")) >= 1);
	json_decref(resp);

	env = ntm_testnode_recv_body(&b, NTM__ENVELOPE__BODY_ERROR, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_REVOKED, "revoked node");
	ntm_msg_free(env);
	env = ntm_testnode_recv_body(&a, NTM__ENVELOPE__BODY_ERROR, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED,
			   "the revoked node's peer");
	itest_expect_key(env->error->key, b.kp.pub, "PEER_REVOKED key");
	ntm_msg_free(env);

	assert_null(ntm_dctest_record(&dc, "rev-b.a.example"));
	expect_rejected("DELETE", "/v1/nodes/rev-b.a.example", NULL, 404, "not_found",
			"rev-b.a.example");
	ntm_testnode_close(&a);
	ntm_testnode_close(&b);
}

/* ---- metrics ---- */

#define UNKNOWN_KEY_DROPS "ntm_dc_packets_dropped_total{reason=\"unknown_key\"}"

static void admin_metrics_counts(void **state)
{
	struct ntm_testnode node, stranger;
	char *before = get_metrics(), *after;
	char fqdn[64];

	enrol_new("metrics", &node, "127.0.0.7");
	itest_register(&node, itest_fqdn(fqdn, sizeof(fqdn), "metrics", &dc), NULL, 0);
	/* A node the DC does not know: its packet is dropped as unknown_key. */
	itest_node(&dc, &stranger, "127.0.0.8", NULL);
	itest_expect_no_answer(ntm_testnode_keepalive(&stranger, ITEST_SILENCE_MS),
			       "keep-alive from an unknown key");
	after = get_metrics();

	assert_true(metric_value(after, "ntm_dc_enrolments_total") >=
		    metric_value(before, "ntm_dc_enrolments_total") + 1);
	assert_true(metric_value(after, "ntm_dc_registrations_total") >=
		    metric_value(before, "ntm_dc_registrations_total") + 1);
	assert_true(metric_value(after, UNKNOWN_KEY_DROPS) >=
		    metric_value(before, UNKNOWN_KEY_DROPS) + 1);
	assert_true(metric_value(after, "ntm_dc_nodes{state=\"online\"}") >= 1);
	assert_int_equal(metric_value(after, "ntm_build_info{daemon=\"ntm-dcd\",version=\""
					     NTM_VERSION "\"}"), 1);
	assert_non_null(strstr(after, "# TYPE ntm_dc_registrations_total counter\n"));
	free(before);
	free(after);
	ntm_testnode_close(&node);
	ntm_testnode_close(&stranger);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admin_healthz_public),
		cmocka_unit_test(admin_routes_need_token),
		cmocka_unit_test(admin_wrong_token_rejected),
		cmocka_unit_test(admin_routes_with_token),
		cmocka_unit_test(admin_enrol_wrong_token_no_change),
		cmocka_unit_test(admin_enrol_bad_json),
		cmocka_unit_test(admin_enrol_wrong_type),
		cmocka_unit_test(admin_enrol_unknown_member),
		cmocka_unit_test(admin_enrol_missing_member),
		cmocka_unit_test(admin_enrol_invalid_values),
		cmocka_unit_test(admin_enrol_oversized_body),
		cmocka_unit_test(admin_enrol_conflict),
		cmocka_unit_test(admin_query_arguments),
		cmocka_unit_test(admin_not_found_and_method),
		cmocka_unit_test(admin_records_paging),
		cmocka_unit_test(admin_records_filters),
		cmocka_unit_test(admin_record_by_vip),
		cmocka_unit_test(admin_vips_list),
		cmocka_unit_test(admin_directions_log),
		cmocka_unit_test(admin_revoke_notifies_peers),
		cmocka_unit_test(admin_metrics_counts),
	};

	return cmocka_run_group_tests(tests, group_setup, itest_group_teardown);
}
