/*
 * The DC's admin API routes: records, enrolment, revocation, directions,
 * relays, VIPs and federation, and the DC's Prometheus metrics.
 * admin-api/openapi.yaml describes every route.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dc.h"
#include "dc_federation.h"
#include "dc_relay.h"
#include "dc_route.h"
#include "ntm_admin.h"
#include "ntm_msg.h"

static const char *const no_args[] = { NULL };
static const char *const page_args[] = { "limit", "offset", NULL };

static json_t *record_json(struct dc *dc, const struct dc_node *n)
{
	char key[NTM_KEY_B64_LEN], vip[INET6_ADDRSTRLEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n_pool = 0;
	json_t *locals = json_array(), *pools = json_array();

	for (size_t i = 0; i < n->n_local; i++)
		json_array_append_new(locals, ntm_admin_json_endpoint(&n->local[i]));
	if (dc_store_pool_list(dc->store, n->key, pool, NTM_MAX_POOL_VIPS, &n_pool) != DC_STORE_OK)
		n_pool = 0;
	for (size_t i = 0; i < n_pool; i++)
		json_array_append_new(pools, json_string(ntm_ip_str(&pool[i], vip, sizeof(vip))));
	ntm_key_to_base64(key, n->key);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:I, s:I, s:s}",
			 "fqdn", n->fqdn, "public_key", key,
			 "vip", ntm_ip_str(&n->vip, vip, sizeof(vip)),
			 "pool_vips", pools, "local_endpoints", locals,
			 "observed", ntm_admin_json_endpoint(&n->observed), "behind_nat", n->behind_nat,
			 "online", n->online, "last_seen_ms", (json_int_t)n->last_seen_ms,
			 "enrolled_ms", (json_int_t)n->enrolled_ms, "dc_domain", dc->cfg.domain);
}

static int fqdn_cmp(const void *a, const void *b)
{
	const struct dc_session *const *sa = a;
	const struct dc_session *const *sb = b;

	return strcmp((*sa)->node.fqdn, (*sb)->node.fqdn);
}

/* Copies the sessions into a new array sorted by FQDN; NULL without memory. */
static struct dc_session **sessions_by_fqdn(struct dc *dc)
{
	struct dc_session **sorted = malloc((dc->n_sessions + 1) * sizeof(*sorted));

	if (!sorted)
		return NULL;
	if (dc->n_sessions > 0) {
		memcpy(sorted, dc->sessions, dc->n_sessions * sizeof(*sorted));
		qsort(sorted, dc->n_sessions, sizeof(*sorted), fqdn_cmp);
	}
	return sorted;
}

struct record_filter {
	int online;        /* -1 any, 0 offline, 1 online */
	int behind_nat;    /* -1 any, 0 no NAT, 1 behind NAT */
};

static bool filter_matches(const struct record_filter *f, const struct dc_node *n)
{
	return (f->online < 0 || n->online == (f->online == 1)) &&
	       (f->behind_nat < 0 || n->behind_nat == (f->behind_nat == 1));
}

static unsigned record_args(const struct ntm_admin_request *req, struct record_filter *f,
			    struct ntm_admin_page *page, json_t **resp)
{
	static const char *const allowed[] = { "online", "behind_nat", "limit", "offset", NULL };
	unsigned bad = ntm_admin_check_query(req, allowed, resp);

	if (!bad)
		bad = ntm_admin_query_bool(req, "online", &f->online, resp);
	if (!bad)
		bad = ntm_admin_query_bool(req, "behind_nat", &f->behind_nat, resp);
	if (!bad)
		bad = ntm_admin_page_args(req, page, resp);
	return bad;
}

/* GET /v1/records: sorted by FQDN. Only the page's records are built,
 * because each one reads its pool VIPs from the store. */
static unsigned list_records(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	struct record_filter filter;
	struct ntm_admin_page page;
	unsigned bad = record_args(req, &filter, &page, resp);
	struct dc_session **sorted;
	json_t *records;
	size_t total = 0;

	if (bad)
		return bad;
	sorted = sessions_by_fqdn(dc);
	records = json_array();
	if (!sorted || !records) {
		free(sorted);
		json_decref(records);
		return ntm_admin_error(resp, 500, "internal_error", "out of memory");
	}
	for (size_t i = 0; i < dc->n_sessions; i++) {
		const struct dc_node *n = &sorted[i]->node;

		if (!filter_matches(&filter, n))
			continue;
		if (total >= page.offset && json_array_size(records) < page.limit)
			json_array_append_new(records, record_json(dc, n));
		total++;
	}
	free(sorted);
	*resp = json_pack("{s:o, s:I, s:I, s:I}", "records", records, "total", (json_int_t)total,
			  "offset", (json_int_t)page.offset, "limit", (json_int_t)page.limit);
	return 200;
}

static unsigned get_record(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	Ntm__NtmQuery q = NTM__NTM_QUERY__INIT;
	struct ntm_ip vip;
	struct dc_node node;
	const char *id = req->params[0];
	unsigned bad = ntm_admin_check_query(req, no_args, resp);

	if (bad)
		return bad;
	if (ntm_ip_parse(&vip, id) == 0) {
		q.target_case = NTM__NTM_QUERY__TARGET_VIP;
		q.vip = ntm_msg_ip_bytes(&vip);
	} else if (ntm_msg_fqdn_valid(id)) {
		q.target_case = NTM__NTM_QUERY__TARGET_FQDN;
		q.fqdn = (char *)id;
	} else {
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "'%.253s' is neither an IP address nor a lower-case DNS "
				       "name", id);
	}
	if (dc_lookup_local(dc, &q, &node) != DC_STORE_OK)
		return ntm_admin_error(resp, 404, "not_found", "no record for '%s'", id);
	*resp = record_json(dc, &node);
	return 200;
}

static unsigned check_enrol_body(struct dc *dc, const struct ntm_admin_request *req,
				 const char **fqdn, uint8_t key[NTM_KEY_LEN], json_t **resp)
{
	static const struct ntm_admin_field fields[] = {
		{ "fqdn", JSON_STRING, true },
		{ "public_key", JSON_STRING, true },
	};
	unsigned bad = ntm_admin_check_body(req, fields, 2, resp);
	const char *key_text;
	struct ntm_ctl_keys probe;

	if (bad)
		return bad;
	*fqdn = json_string_value(json_object_get(req->body, "fqdn"));
	key_text = json_string_value(json_object_get(req->body, "public_key"));
	if (!ntm_msg_fqdn_valid(*fqdn))
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "fqdn '%.253s' is not a valid lower-case DNS name", *fqdn);
	if (!dc_fqdn_in_domain(*fqdn, dc->cfg.domain) || strcmp(*fqdn, dc->cfg.domain) == 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "fqdn '%s' is not a name under this DC's domain '%s'", *fqdn,
				       dc->cfg.domain);

	/* A low-order point would give every peer the same shared key. */
	if (ntm_key_from_base64(key, key_text) < 0 ||
	    ntm_ctl_keys_derive(&probe, &dc->key, key) < 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "public_key '%.64s' is not the base64 of a valid 32-byte "
				       "X25519 public key; use the .pub file of 'ntm-keygen FILE'",
				       key_text);
	ntm_ctl_keys_wipe(&probe);
	return 0;
}

static unsigned enrol(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	const char *fqdn = NULL;
	uint8_t key[NTM_KEY_LEN];
	struct dc_node node;
	char id[9];
	unsigned bad = ntm_admin_check_query(req, no_args, resp);

	if (!bad)
		bad = check_enrol_body(dc, req, &fqdn, key, resp);
	if (bad)
		return bad;

	enum dc_store_status st = dc_store_enrol(dc->store, key, fqdn, &node);
	if (st == DC_STORE_EXISTS)
		return ntm_admin_error(resp, 409, "conflict",
				       "the key or the FQDN '%s' is already enrolled", fqdn);
	if (st == DC_STORE_FULL)
		return ntm_admin_error(resp, 507, "vip_prefix_full",
				       "no free VIP left in the DC's prefix");
	if (st != DC_STORE_OK || dc_session_add(dc, &node) < 0)
		return ntm_admin_error(resp, 500, "internal_error",
				       "could not store the enrolment");
	dc->enrolments++;
	log_info("admin %s: enrolled node %s (key %s)", req->peer, fqdn, ntm_key_id(key, id));
	*resp = record_json(dc, &node);
	return 201;
}

/*
 * Tells every online node of this DC that key was revoked, so each one drops
 * its tunnel to that node at once. Returns how many were sent.
 * NOTE: sent once, without retransmission, and only to this DC's nodes. A
 * node of a federated DC keeps its tunnel until that tunnel's traffic stops.
 */
static size_t notify_peer_revoked(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__Error error = NTM__ERROR__INIT;
	size_t sent = 0;

	error.code = NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED;
	error.message = "a peer's key was revoked by the DC's operator";
	error.key.data = (uint8_t *)key;
	error.key.len = NTM_KEY_LEN;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.body_case = NTM__ENVELOPE__BODY_ERROR;
	env.error = &error;
	for (size_t i = 0; i < dc->n_sessions; i++) {
		struct dc_session *s = dc->sessions[i];

		if (s->registered && s->node.online && dc_send(dc, s, &env) == 0)
			sent++;
	}
	return sent;
}

/* DELETE /v1/nodes/{fqdn}: the node gets Error REVOKED, its relay sessions
 * are released and its peers drop their tunnels to it. */
static unsigned revoke(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	struct dc_node node;
	const char *fqdn = req->params[0];
	unsigned bad = ntm_admin_check_query(req, no_args, resp);
	size_t notified;

	if (bad)
		return bad;
	if (dc_store_get_by_fqdn(dc->store, fqdn, &node) != DC_STORE_OK)
		return ntm_admin_error(resp, 404, "not_found", "no node enrolled as '%.253s'",
				       fqdn);
	if (dc_store_revoke(dc->store, node.key) != DC_STORE_OK)
		return ntm_admin_error(resp, 500, "internal_error",
				       "could not store the revocation");
	dc_session_revoke(dc, node.key);
	dc_relay_release_key(dc, node.key);
	notified = notify_peer_revoked(dc, node.key);
	dc->revocations++;
	log_info("admin %s: revoked node %s and sent PEER_REVOKED to %zu online nodes",
		 req->peer, fqdn, notified);
	*resp = json_pack("{s:s, s:I}", "revoked", fqdn, "peers_notified", (json_int_t)notified);
	return 200;
}

static json_t *direction_json(const struct dc_direction_rec *r)
{
	char id[17], relay[17], requester[NTM_KEY_B64_LEN], peer[NTM_KEY_B64_LEN];

	snprintf(id, sizeof(id), "%016" PRIx64, r->direction_id);
	snprintf(relay, sizeof(relay), "%016" PRIx64, r->relay_session_id);
	ntm_key_to_base64(requester, r->requester);
	ntm_key_to_base64(peer, r->peer);
	return json_pack("{s:s, s:I, s:{s:s, s:s, s:b}, s:{s:s, s:s, s:s, s:b}, s:s, s:s, s:s?}",
			 "direction_id", id, "at_ms", (json_int_t)r->at_ms,
			 "requester", "fqdn", r->requester_fqdn, "public_key", requester,
			 "acked", r->requester_acked,
			 "peer", "fqdn", r->peer_fqdn, "public_key", peer, "dc_domain",
			 r->peer_domain, "acked", r->peer_acked,
			 "route", ntm_msg_route_case_str(r->route),
			 "initiator", r->requester_initiates ? "requester" : "peer",
			 "relay_session_id", r->relay_session_id ? relay : NULL);
}

/* GET /v1/directions: the last DC_DIRECTION_LOG directions, newest first. */
static unsigned list_directions(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	struct ntm_admin_page page;
	unsigned bad = ntm_admin_check_query(req, page_args, resp);
	size_t kept = dc->directions < DC_DIRECTION_LOG ? (size_t)dc->directions
							 : DC_DIRECTION_LOG;
	json_t *items = json_array();

	if (!bad)
		bad = ntm_admin_page_args(req, &page, resp);
	if (bad) {
		json_decref(items);
		return bad;
	}
	for (size_t i = 1; i <= kept; i++)
		json_array_append_new(items, direction_json(
			&dc->direction_log[(dc->directions - i) % DC_DIRECTION_LOG]));
	*resp = ntm_admin_page_json("directions", items, &page);
	if (!*resp)
		return ntm_admin_error(resp, 500, "internal_error", "out of memory");
	json_object_set_new(*resp, "directed_total", json_integer((json_int_t)dc->directions));
	return 200;
}

static unsigned relays(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	unsigned bad = ntm_admin_check_query(req, no_args, resp);

	if (bad)
		return bad;
	*resp = json_pack("{s:o}", "relays", dc_relay_to_json(arg));
	return 200;
}

/* GET /v1/relays/sessions: the relay sessions this DC allocated. */
static unsigned relay_sessions(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct ntm_admin_page page;
	unsigned bad = ntm_admin_check_query(req, page_args, resp);

	if (!bad)
		bad = ntm_admin_page_args(req, &page, resp);
	if (bad)
		return bad;
	*resp = ntm_admin_page_json("sessions", dc_relay_sessions_to_json(arg), &page);
	return *resp ? 200 : ntm_admin_error(resp, 500, "internal_error", "out of memory");
}

static json_t *vip_json(const struct ntm_ip *vip, const struct dc_node *owner, const char *kind)
{
	char text[INET6_ADDRSTRLEN];

	return json_pack("{s:s, s:s, s:s}", "vip", ntm_ip_str(vip, text, sizeof(text)), "owner",
			 owner->fqdn, "kind", kind);
}

/* Appends the node's own VIP and its pool VIPs to items, unless items is
 * NULL. Returns how many VIPs the node holds. */
static size_t append_vips(struct dc *dc, const struct dc_node *n, json_t *items)
{
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n_pool = 0;

	if (dc_store_pool_list(dc->store, n->key, pool, NTM_MAX_POOL_VIPS, &n_pool) != DC_STORE_OK)
		n_pool = 0;
	if (!items)
		return 1 + n_pool;
	json_array_append_new(items, vip_json(&n->vip, n, "node"));
	for (size_t i = 0; i < n_pool; i++)
		json_array_append_new(items, vip_json(&pool[i], n, "pool"));
	return 1 + n_pool;
}

/* This DC's VIP prefix and the federated DCs' prefixes, with their owners. */
static json_t *prefixes_json(struct dc *dc, size_t assigned)
{
	char text[INET6_ADDRSTRLEN + 5];
	json_t *peers = dc_fed_to_json(dc);
	json_t *arr = json_array();
	json_t *peer, *prefix;
	size_t i, j;

	ntm_prefix_str(&dc->cfg.vip_prefix, text, sizeof(text));
	json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:I, s:I}", "prefix", text, "owner",
					     dc->cfg.domain, "local", true, "size",
					     (json_int_t)ntm_prefix_size(&dc->cfg.vip_prefix),
					     "assigned", (json_int_t)assigned));
	json_array_foreach(peers, i, peer) {
		json_t *owner = json_object_get(peer, "domain");

		json_array_foreach(json_object_get(peer, "vip_prefixes"), j, prefix)
			json_array_append_new(arr, json_pack("{s:O, s:O, s:b}", "prefix", prefix,
							     "owner", owner, "local", false));
	}
	json_decref(peers);
	return arr;
}

/* GET /v1/vips[?owner=FQDN]: the VIP blocks (prefixes) and every assigned
 * VIP with its owner, nodes sorted by FQDN. */
static unsigned list_vips(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	static const char *const allowed[] = { "owner", "limit", "offset", NULL };
	struct dc *dc = arg;
	const char *owner = ntm_admin_query(req, "owner");
	struct ntm_admin_page page;
	unsigned bad = ntm_admin_check_query(req, allowed, resp);
	struct dc_session **sorted;
	json_t *items;
	size_t assigned = 0;
	char dc_vip[INET6_ADDRSTRLEN];
	struct ntm_ip ip;

	if (!bad)
		bad = ntm_admin_page_args(req, &page, resp);
	if (bad)
		return bad;
	sorted = sessions_by_fqdn(dc);
	items = json_array();
	if (!sorted || !items) {
		free(sorted);
		json_decref(items);
		return ntm_admin_error(resp, 500, "internal_error", "out of memory");
	}
	for (size_t i = 0; i < dc->n_sessions; i++) {
		bool listed = !owner || strcmp(owner, sorted[i]->node.fqdn) == 0;

		assigned += append_vips(dc, &sorted[i]->node, listed ? items : NULL);
	}
	free(sorted);
	*resp = ntm_admin_page_json("vips", items, &page);
	if (!*resp)
		return ntm_admin_error(resp, 500, "internal_error", "out of memory");
	ntm_prefix_nth(&dc->cfg.vip_prefix, 1, &ip);
	json_object_set_new(*resp, "dc_vip", json_string(ntm_ip_str(&ip, dc_vip, sizeof(dc_vip))));
	json_object_set_new(*resp, "prefixes", prefixes_json(dc, assigned));
	return 200;
}

static unsigned federation(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	unsigned bad = ntm_admin_check_query(req, no_args, resp);

	if (bad)
		return bad;
	*resp = json_pack("{s:o}", "peers", dc_fed_to_json(arg));
	return 200;
}

static void health(json_t *h, void *arg)
{
	struct dc *dc = arg;
	size_t online = 0;

	for (size_t i = 0; i < dc->n_sessions; i++)
		online += dc->sessions[i]->node.online;
	json_object_set_new(h, "domain", json_string(dc->cfg.domain));
	json_object_set_new(h, "nodes", json_integer((json_int_t)dc->n_sessions));
	json_object_set_new(h, "nodes_online", json_integer((json_int_t)online));
}

/* ---- metrics ---- */

static void node_metrics(struct dc *dc, struct ntm_metrics *m)
{
	size_t online = 0;

	for (size_t i = 0; i < dc->n_sessions; i++)
		online += dc->sessions[i]->node.online;
	ntm_metrics_family(m, "ntm_dc_nodes", NTM_METRIC_GAUGE,
			   "Enrolled nodes of this DC, by whether they are online.");
	ntm_metrics_sample(m, "ntm_dc_nodes", (double)online, "state", "online", NULL);
	ntm_metrics_sample(m, "ntm_dc_nodes", (double)(dc->n_sessions - online), "state",
			   "offline", NULL);
	ntm_metrics_counter(m, "ntm_dc_registrations_total",
			    "Registration Requests accepted (first ones and renewals).",
			    dc->registrations);
	ntm_metrics_counter(m, "ntm_dc_enrolments_total",
			    "Nodes enrolled through the admin API.", dc->enrolments);
	ntm_metrics_counter(m, "ntm_dc_revocations_total",
			    "Nodes revoked through the admin API.", dc->revocations);
	ntm_metrics_counter(m, "ntm_dc_route_directions_total",
			    "Tunnel set-ups this DC directed (a Route Direction pair each).",
			    dc->directions);
	ntm_metrics_counter(m, "ntm_dc_directions_limited_total",
			    "Direction Requests responded to with LIMIT: over 16 per second from one "
			    "node, after a burst of 32.", dc->directions_limited);
	ntm_metrics_family(m, "ntm_dc_packets_dropped_total", NTM_METRIC_COUNTER,
			   "Control packets dropped, by reason.");
	for (int i = 0; i < DC_DROP_COUNT; i++)
		ntm_metrics_sample(m, "ntm_dc_packets_dropped_total", (double)dc->drops[i],
				   "reason", dc_drop_str((enum dc_drop)i), NULL);
}

/* Writes one sample per element of arr: number member of each, labelled
 * with its string member label_member. */
static void samples_from_json(struct ntm_metrics *m, const char *name, json_t *arr,
			      const char *label, const char *label_member, const char *member)
{
	size_t i;
	json_t *item;

	json_array_foreach(arr, i, item) {
		const json_t *v = json_object_get(item, member);
		const char *label_value = json_string_value(json_object_get(item, label_member));
		double value = json_is_boolean(v) ? (json_is_true(v) ? 1.0 : 0.0)
						  : json_number_value(v);

		ntm_metrics_sample(m, name, value, label, label_value ? label_value : "", NULL);
	}
}

static void relay_metrics(struct dc *dc, struct ntm_metrics *m)
{
	json_t *rs = dc_relay_to_json(dc);
	json_t *sessions = dc_relay_sessions_to_json(dc);

	ntm_metrics_family(m, "ntm_dc_relay_up", NTM_METRIC_GAUGE,
			   "1 while the Relay Server sends its status, else 0.");
	samples_from_json(m, "ntm_dc_relay_up", rs, "relay", "name", "up");
	ntm_metrics_family(m, "ntm_dc_relay_allocations_total", NTM_METRIC_COUNTER,
			   "Relay sessions the Relay Server allocated for this DC.");
	samples_from_json(m, "ntm_dc_relay_allocations_total", rs, "relay", "name", "allocations");
	ntm_metrics_family(m, "ntm_dc_relay_allocation_failures_total", NTM_METRIC_COUNTER,
			   "Relay allocations the Relay Server refused.");
	samples_from_json(m, "ntm_dc_relay_allocation_failures_total", rs, "relay", "name",
			  "failures");
	ntm_metrics_gauge(m, "ntm_dc_relay_sessions",
			  "Relay sessions this DC allocated and has not released.",
			  (double)json_array_size(sessions));
	json_decref(rs);
	json_decref(sessions);
}

static void federation_metrics(struct dc *dc, struct ntm_metrics *m)
{
	static const struct {
		const char *name, *member, *help;
		enum ntm_metric_type type;
	} families[] = {
		{ "ntm_dc_federation_peer_up", "connected",
		  "1 while the federated DC answers its hellos, else 0.", NTM_METRIC_GAUGE },
		{ "ntm_dc_federation_queries_total", "queries",
		  "NTM queries forwarded to the federated DC.", NTM_METRIC_COUNTER },
		{ "ntm_dc_federation_answers_total", "answers",
		  "Answers received from the federated DC.", NTM_METRIC_COUNTER },
		{ "ntm_dc_federation_timeouts_total", "timeouts",
		  "Forwarded queries the federated DC did not answer in time.",
		  NTM_METRIC_COUNTER },
	};
	json_t *peers = dc_fed_to_json(dc);

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		ntm_metrics_family(m, families[i].name, families[i].type, families[i].help);
		samples_from_json(m, families[i].name, peers, "domain", "domain",
				  families[i].member);
	}
	json_decref(peers);
}

static void metrics(struct ntm_metrics *m, void *arg)
{
	struct dc *dc = arg;

	node_metrics(dc, m);
	relay_metrics(dc, m);
	federation_metrics(dc, m);
}

int dc_admin_start(struct dc *dc, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = dc->cfg.admin_listen,
		.token_file = dc->cfg.admin_token_file,
		.cert_file = dc->cfg.admin_cert_file,
		.key_file = dc->cfg.admin_key_file,
		.daemon_name = "ntm-dcd",
	};

	dc->admin = ntm_admin_start(&ac, dc->loop, err, err_size);
	if (!dc->admin)
		return -1;
	ntm_admin_set_health(dc->admin, health, dc);
	ntm_admin_set_metrics(dc->admin, metrics, dc);
	if (ntm_admin_route(dc->admin, "GET", "/v1/records", list_records, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/records/{id}", get_record, dc) < 0 ||
	    ntm_admin_route(dc->admin, "POST", "/v1/nodes", enrol, dc) < 0 ||
	    ntm_admin_route(dc->admin, "DELETE", "/v1/nodes/{fqdn}", revoke, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/directions", list_directions, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/relays", relays, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/relays/sessions", relay_sessions, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/vips", list_vips, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/federation", federation, dc) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
