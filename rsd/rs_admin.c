/* The relay's admin API routes: sessions and counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_admin.h"
#include "ntm_time.h"
#include "rs.h"

#define RS_ADMIN_DEFAULT_LIMIT 100
#define RS_ADMIN_MAX_LIMIT 1000

static json_t *endpoint_json(const struct ntm_endpoint *ep)
{
	char text[NTM_ENDPOINT_STRLEN];

	if (ep->ip.len == 0)
		return json_null();
	return json_string(ntm_endpoint_str(ep, text, sizeof(text)));
}

static json_t *side_json(const struct rs_side_state *side)
{
	char key[NTM_KEY_B64_LEN];

	ntm_key_to_base64(key, side->key);
	return json_pack("{s:s, s:o, s:I}", "key", key, "endpoint", endpoint_json(&side->bound),
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

/* Parses a query argument as a whole number within [0, max]. Returns -1 on error. */
static long long query_number(const struct ntm_admin_request *req, const char *name,
			      long long def, long long max)
{
	const char *v = ntm_admin_query(req, name);
	char *end = NULL;

	if (!v)
		return def;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < 0 || n > max)
		return -1;
	return n;
}

static unsigned list_sessions(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct rs *rs = arg;
	long long limit = query_number(req, "limit", RS_ADMIN_DEFAULT_LIMIT, RS_ADMIN_MAX_LIMIT);
	long long offset = query_number(req, "offset", 0, 1LL << 40);
	uint64_t now = ntm_now_ms();
	json_t *sessions = json_array();
	long long i = 0;

	if (limit < 0 || offset < 0) {
		json_decref(sessions);
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "limit must be 0 to %d and offset 0 or more",
				       RS_ADMIN_MAX_LIMIT);
	}
	for (struct rs_session *s = rs_table_first(rs->table); s; s = rs_table_next(s), i++) {
		if (i >= offset && json_array_size(sessions) < (size_t)limit)
			json_array_append_new(sessions, session_json(rs, s, now));
	}
	*resp = json_pack("{s:o, s:I, s:I, s:I}", "sessions", sessions, "total",
			  (json_int_t)rs_table_count(rs->table), "offset", (json_int_t)offset,
			  "limit", (json_int_t)limit);
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

int rs_admin_start(struct rs *rs, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = rs->cfg.admin_listen,
		.token_file = rs->cfg.admin_token_file,
		.daemon_name = "ntm-rsd",
	};

	rs->admin = ntm_admin_start(&ac, rs->loop, err, err_size);
	if (!rs->admin)
		return -1;
	ntm_admin_set_health(rs->admin, health, rs);
	if (ntm_admin_route(rs->admin, "GET", "/v1/sessions", list_sessions, rs) < 0 ||
	    ntm_admin_route(rs->admin, "GET", "/v1/sessions/{id}", get_session, rs) < 0 ||
	    ntm_admin_route(rs->admin, "GET", "/v1/counters", counters, rs) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
