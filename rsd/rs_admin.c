/*
 * The relay's admin API routes: sessions and counters, and the relay's
 * Prometheus metrics. admin-api/openapi.yaml describes them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_admin.h"
#include "ntm_time.h"
#include "rs.h"

static const char *const no_args[] = { NULL };

static json_t *side_json(const struct rs_side_state *side)
{
	char key[NTM_KEY_B64_LEN];

	ntm_key_to_base64(key, side->key);
	return json_pack("{s:s, s:o, s:I}", "key", key, "endpoint", ntm_admin_json_endpoint(&side->bound),
			 "binds", (json_int_t)side->binds);
}

static json_t *traffic_json(const struct rs_side_state *from)
{
	return json_pack("{s:I, s:I}", "packets", (json_int_t)from->packets, "bytes",
			 (json_int_t)from->bytes);
}

static json_t *session_json(struct rs *rs, const struct rs_session *s, uint64_t now)
{
	char id[17];

	snprintf(id, sizeof(id), "%016" PRIx64, s->id);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "id", id, "dc",
			 rs->cfg.dcs[s->dc].name, "node_a", side_json(&s->side[RS_SIDE_A]),
			 "node_b", side_json(&s->side[RS_SIDE_B]), "a_to_b",
			 traffic_json(&s->side[RS_SIDE_A]), "b_to_a",
			 traffic_json(&s->side[RS_SIDE_B]), "age_ms",
			 (json_int_t)(now - s->created_ms), "idle_ms",
			 (json_int_t)(now - s->last_active_ms), "idle_timeout_s",
			 (json_int_t)(s->idle_timeout_ms / 1000), "expires_ms",
			 (json_int_t)s->expires_wall_ms);
}

/* GET /v1/sessions: live sessions, newest first. */
static unsigned list_sessions(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	static const char *const allowed[] = { "limit", "offset", NULL };
	struct rs *rs = arg;
	struct ntm_admin_page page;
	uint64_t now = ntm_now_ms();
	unsigned bad = ntm_admin_check_query(req, allowed, resp);
	json_t *sessions;
	size_t i = 0;

	if (!bad)
		bad = ntm_admin_page_args(req, &page, resp);
	if (bad)
		return bad;
	sessions = json_array();
	for (struct rs_session *s = rs_table_first(rs->table); s; s = rs_table_next(s), i++) {
		if (i >= page.offset && json_array_size(sessions) < page.limit)
			json_array_append_new(sessions, session_json(rs, s, now));
	}
	*resp = json_pack("{s:o, s:I, s:I, s:I}", "sessions", sessions, "total",
			  (json_int_t)rs_table_count(rs->table), "offset", (json_int_t)page.offset,
			  "limit", (json_int_t)page.limit);
	return 200;
}

/* Parses 1 to 16 hex digits. Returns 0 or -EINVAL. */
static int parse_session_id(const char *text, uint64_t *id)
{
	char *end = NULL;
	size_t len = strlen(text);

	if (len == 0 || len > 16 || strspn(text, "0123456789abcdefABCDEF") != len)
		return -EINVAL;
	errno = 0;
	*id = strtoull(text, &end, 16);
	return errno || *end != '\0' ? -EINVAL : 0;
}

static unsigned get_session(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct rs *rs = arg;
	const char *text = req->params[0];
	struct rs_session *s;
	uint64_t id;
	unsigned bad = ntm_admin_check_query(req, no_args, resp);

	if (bad)
		return bad;
	if (parse_session_id(text, &id) < 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "session id '%.64s' is not 1 to 16 hex digits", text);
	s = rs_table_find(rs->table, id);
	if (!s || s->end_reason != RS_END_NONE)
		return ntm_admin_error(resp, 404, "not_found", "no live session %016" PRIx64, id);
	*resp = session_json(rs, s, ntm_now_ms());
	return 200;
}

static json_t *drops_json(const struct rs_counters *c)
{
	json_t *drops = json_object();

	for (int i = 0; i < RS_DROP_COUNT; i++)
		json_object_set_new(drops, rs_drop_str((enum rs_drop)i),
				    json_integer((json_int_t)c->drops[i]));
	return drops;
}

static unsigned counters(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct rs *rs = arg;
	const struct rs_counters *c = &rs->counters;
	unsigned bad = ntm_admin_check_query(req, no_args, resp);

	if (bad)
		return bad;
	*resp = json_pack(
		"{s:I, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:o, s:I, "
		"s:I, s:o}",
		"sessions", (json_int_t)rs_table_count(rs->table),
		"allocations", (json_int_t)c->allocations,
		"refusals", "max_sessions", (json_int_t)c->refused_max_sessions,
		"max_sessions_per_dc", (json_int_t)c->refused_max_sessions_per_dc,
		"invalid", (json_int_t)c->refused_invalid,
		"releases", (json_int_t)c->releases,
		"expirations", (json_int_t)c->expirations,
		"binds", (json_int_t)c->binds,
		"rebinds", (json_int_t)c->rebinds,
		"forwarded", "packets", (json_int_t)c->forwarded_packets,
		"bytes", (json_int_t)c->forwarded_bytes,
		"send_errors", (json_int_t)c->send_errors,
		"drops", drops_json(c),
		"zap_rejected", (json_int_t)c->zap_rejected,
		"alloc_dropped", (json_int_t)c->alloc_dropped,
		"dcs", rs_alloc_dcs_json(rs));
	return 200;
}

static void health(json_t *h, void *arg)
{
	struct rs *rs = arg;
	char boot[17], ep[NTM_ENDPOINT_STRLEN];

	snprintf(boot, sizeof(boot), "%016" PRIx64, rs->boot_id);
	json_object_set_new(h, "boot_id", json_string(boot));
	ntm_endpoint_str(&rs->cfg.public_endpoint, ep, sizeof(ep));
	json_object_set_new(h, "public_endpoint", json_string(ep));
	json_object_set_new(h, "sessions", json_integer((json_int_t)rs_table_count(rs->table)));
	json_object_set_new(h, "uptime_ms", json_integer((json_int_t)(ntm_now_ms() -
								      rs->started_ms)));
}

/* ---- metrics ---- */

static void session_metrics(struct rs *rs, struct ntm_metrics *m)
{
	const struct rs_counters *c = &rs->counters;

	ntm_metrics_gauge(m, "ntm_rs_sessions", "Live relay sessions.",
			  (double)rs_table_count(rs->table));
	ntm_metrics_counter(m, "ntm_rs_allocations_total",
			    "Relay sessions allocated for DCs.", c->allocations);
	ntm_metrics_family(m, "ntm_rs_allocations_refused_total", NTM_METRIC_COUNTER,
			   "Allocation requests refused, by reason.");
	ntm_metrics_sample(m, "ntm_rs_allocations_refused_total", (double)c->refused_max_sessions,
			   "reason", "max_sessions", NULL);
	ntm_metrics_sample(m, "ntm_rs_allocations_refused_total",
			   (double)c->refused_max_sessions_per_dc, "reason", "max_sessions_per_dc",
			   NULL);
	ntm_metrics_sample(m, "ntm_rs_allocations_refused_total", (double)c->refused_invalid,
			   "reason", "invalid", NULL);
	ntm_metrics_family(m, "ntm_rs_sessions_ended_total", NTM_METRIC_COUNTER,
			   "Relay sessions ended, by reason.");
	ntm_metrics_sample(m, "ntm_rs_sessions_ended_total", (double)c->releases, "reason",
			   "released", NULL);
	ntm_metrics_sample(m, "ntm_rs_sessions_ended_total", (double)c->expirations, "reason",
			   "idle", NULL);
	ntm_metrics_counter(m, "ntm_rs_binds_total", "Accepted binds of nodes to sessions.",
			    c->binds);
	ntm_metrics_counter(m, "ntm_rs_rebinds_total",
			    "Accepted binds that moved a node to a new address.", c->rebinds);
}

static void traffic_metrics(struct rs *rs, struct ntm_metrics *m)
{
	const struct rs_counters *c = &rs->counters;

	ntm_metrics_counter(m, "ntm_rs_relayed_packets_total",
			    "Packets relayed between the two nodes of a session.",
			    c->forwarded_packets);
	ntm_metrics_counter(m, "ntm_rs_relayed_bytes_total",
			    "UDP payload bytes the relay sent on to the other node.",
			    c->forwarded_bytes);
	ntm_metrics_counter(m, "ntm_rs_send_errors_total",
			    "Relayed packets the kernel did not accept for sending.",
			    c->send_errors);
	ntm_metrics_family(m, "ntm_rs_packets_dropped_total", NTM_METRIC_COUNTER,
			   "Received packets dropped, by reason.");
	for (int i = 0; i < RS_DROP_COUNT; i++)
		ntm_metrics_sample(m, "ntm_rs_packets_dropped_total", (double)c->drops[i],
				   "reason", rs_drop_str((enum rs_drop)i), NULL);
	ntm_metrics_counter(m, "ntm_rs_alloc_connections_rejected_total",
			    "Allocation connections rejected for an unconfigured CURVE key.",
			    c->zap_rejected);
	ntm_metrics_counter(m, "ntm_rs_alloc_messages_dropped_total",
			    "Malformed or unexpected allocation messages dropped.",
			    c->alloc_dropped);
}

static void dc_metrics(struct rs *rs, struct ntm_metrics *m)
{
	json_t *dcs = rs_alloc_dcs_json(rs);
	json_t *dc;
	size_t i;

	ntm_metrics_family(m, "ntm_rs_dc_connected", NTM_METRIC_GAUGE,
			   "1 while the DC is connected to the allocation socket, else 0.");
	json_array_foreach(dcs, i, dc)
		ntm_metrics_sample(m, "ntm_rs_dc_connected",
				   json_is_true(json_object_get(dc, "connected")) ? 1 : 0, "dc",
				   json_string_value(json_object_get(dc, "name")), NULL);
	ntm_metrics_family(m, "ntm_rs_dc_sessions", NTM_METRIC_GAUGE,
			   "Live relay sessions, by the DC that allocated them.");
	json_array_foreach(dcs, i, dc)
		ntm_metrics_sample(m, "ntm_rs_dc_sessions",
				   json_number_value(json_object_get(dc, "sessions")), "dc",
				   json_string_value(json_object_get(dc, "name")), NULL);
	json_decref(dcs);
}

static void metrics(struct ntm_metrics *m, void *arg)
{
	struct rs *rs = arg;

	session_metrics(rs, m);
	traffic_metrics(rs, m);
	dc_metrics(rs, m);
}

int rs_admin_start(struct rs *rs, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = rs->cfg.admin_listen,
		.token_file = rs->cfg.admin_token_file,
		.cert_file = rs->cfg.admin_cert_file,
		.key_file = rs->cfg.admin_key_file,
		.daemon_name = "ntm-rsd",
	};

	rs->admin = ntm_admin_start(&ac, rs->loop, err, err_size);
	if (!rs->admin)
		return -1;
	ntm_admin_set_health(rs->admin, health, rs);
	ntm_admin_set_metrics(rs->admin, metrics, rs);
	if (ntm_admin_route(rs->admin, "GET", "/v1/sessions", list_sessions, rs) < 0 ||
	    ntm_admin_route(rs->admin, "GET", "/v1/sessions/{id}", get_session, rs) < 0 ||
	    ntm_admin_route(rs->admin, "GET", "/v1/counters", counters, rs) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
