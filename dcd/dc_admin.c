/* The DC's admin API routes: records, enrolment, revocation, federation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dc.h"
#include "dc_federation.h"
#include "dc_relay.h"
#include "ntm_admin.h"
#include "ntm_msg.h"

#define DC_ADMIN_DEFAULT_LIMIT 100
#define DC_ADMIN_MAX_LIMIT 1000

static json_t *endpoint_json(const struct ntm_endpoint *ep)
{
	char text[NTM_ENDPOINT_STRLEN];

	if (ep->ip.len == 0)
		return json_null();
	return json_string(ntm_endpoint_str(ep, text, sizeof(text)));
}

static json_t *record_json(struct dc *dc, const struct dc_node *n)
{
	char key[NTM_KEY_B64_LEN], vip[INET6_ADDRSTRLEN];
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n_pool = 0;
	json_t *locals = json_array(), *pools = json_array();

	for (size_t i = 0; i < n->n_local; i++)
		json_array_append_new(locals, endpoint_json(&n->local[i]));
	if (dc_store_pool_list(dc->store, n->key, pool, NTM_MAX_POOL_VIPS, &n_pool) != DC_STORE_OK)
		n_pool = 0;
	for (size_t i = 0; i < n_pool; i++)
		json_array_append_new(pools, json_string(ntm_ip_str(&pool[i], vip, sizeof(vip))));
	ntm_key_to_base64(key, n->key);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:I, s:I, s:s}",
			 "fqdn", n->fqdn, "public_key", key,
			 "vip", ntm_ip_str(&n->vip, vip, sizeof(vip)),
			 "pool_vips", pools, "local_endpoints", locals,
			 "observed", endpoint_json(&n->observed), "behind_nat", n->behind_nat,
			 "online", n->online, "last_seen_ms", (json_int_t)n->last_seen_ms,
			 "enrolled_ms", (json_int_t)n->enrolled_ms, "dc_domain", dc->cfg.domain);
}

static int fqdn_cmp(const void *a, const void *b)
{
	const struct dc_session *const *sa = a;
	const struct dc_session *const *sb = b;

	return strcmp((*sa)->node.fqdn, (*sb)->node.fqdn);
}

/* Parses a query argument as a whole number within [0, max]; returns -1 on error. */
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

static int online_filter(const struct ntm_admin_request *req)
{
	const char *v = ntm_admin_query(req, "online");

	if (!v)
		return -1;
	if (strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "false") == 0)
		return 0;
	return -2;
}

static unsigned list_records(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	long long limit = query_number(req, "limit", DC_ADMIN_DEFAULT_LIMIT, DC_ADMIN_MAX_LIMIT);
	long long offset = query_number(req, "offset", 0, 1LL << 40);
	int online = online_filter(req);

	if (limit < 0 || offset < 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "limit must be 0 to %d and offset 0 or more",
				       DC_ADMIN_MAX_LIMIT);
	if (online == -2)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "online must be 'true' or 'false'");

	struct dc_session **sorted = malloc((dc->n_sessions + 1) * sizeof(*sorted));
	if (!sorted)
		return ntm_admin_error(resp, 500, "internal", "out of memory");
	if (dc->n_sessions > 0) {
		memcpy(sorted, dc->sessions, dc->n_sessions * sizeof(*sorted));
		qsort(sorted, dc->n_sessions, sizeof(*sorted), fqdn_cmp);
	}

	json_t *records = json_array();
	size_t total = 0;

	for (size_t i = 0; i < dc->n_sessions; i++) {
		const struct dc_node *n = &sorted[i]->node;

		if (online >= 0 && n->online != (online == 1))
			continue;
		if (total >= (size_t)offset && json_array_size(records) < (size_t)limit)
			json_array_append_new(records, record_json(dc, n));
		total++;
	}
	free(sorted);
	*resp = json_pack("{s:o, s:I, s:I, s:I}", "records", records, "total", (json_int_t)total,
			  "offset", (json_int_t)offset, "limit", (json_int_t)limit);
	return 200;
}

static unsigned get_record(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	Ntm__NtmQuery q = NTM__NTM_QUERY__INIT;
	struct ntm_ip vip;
	struct dc_node node;
	const char *id = req->params[0];

	if (ntm_ip_parse(&vip, id) == 0) {
		q.target_case = NTM__NTM_QUERY__TARGET_VIP;
		q.vip = ntm_msg_ip_bytes(&vip);
	} else {
		q.target_case = NTM__NTM_QUERY__TARGET_FQDN;
		q.fqdn = (char *)id;
	}
	if (dc_lookup_local(dc, &q, &node) != DC_STORE_OK)
		return ntm_admin_error(resp, 404, "not_found", "no record for '%s'", id);
	*resp = record_json(dc, &node);
	return 200;
}

static unsigned check_enrol_body(struct dc *dc, const json_t *body, const char **fqdn,
				 uint8_t key[NTM_KEY_LEN], json_t **resp)
{
	const char *key_text = NULL;
	json_error_t jerr;

	if (!body || json_unpack_ex((json_t *)body, &jerr, JSON_STRICT, "{s:s, s:s}", "fqdn", fqdn,
				    "public_key", &key_text) < 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "expected {\"fqdn\": string, \"public_key\": string}: %s",
				       jerr.text);
	if (!ntm_msg_fqdn_valid(*fqdn))
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "fqdn '%.253s' is not a valid lower-case DNS name", *fqdn);
	if (!dc_fqdn_in_domain(*fqdn, dc->cfg.domain) || strcmp(*fqdn, dc->cfg.domain) == 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "fqdn '%s' is not a name under this DC's domain '%s'", *fqdn,
				       dc->cfg.domain);

	struct ntm_ctl_keys probe;

	/* A low-order point would give every peer the same shared key. */
	if (ntm_key_from_base64(key, key_text) < 0 ||
	    ntm_ctl_keys_derive(&probe, &dc->key, key) < 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "public_key is not the base64 of a valid 32-byte X25519 "
				       "public key");
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

	unsigned bad = check_enrol_body(dc, req->body, &fqdn, key, resp);
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
		return ntm_admin_error(resp, 500, "internal", "could not store the enrolment");
	log_info("admin %s: enrolled node %s (key %s)", req->peer, fqdn, ntm_key_id(key, id));
	*resp = record_json(dc, &node);
	return 201;
}

static unsigned revoke(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dc *dc = arg;
	struct dc_node node;
	const char *fqdn = req->params[0];

	if (dc_store_get_by_fqdn(dc->store, fqdn, &node) != DC_STORE_OK)
		return ntm_admin_error(resp, 404, "not_found", "no node enrolled as '%s'", fqdn);
	if (dc_store_revoke(dc->store, node.key) != DC_STORE_OK)
		return ntm_admin_error(resp, 500, "internal", "could not store the revocation");
	dc_session_revoke(dc, node.key);
	dc_relay_release_key(dc, node.key);
	log_info("admin %s: revoked node %s", req->peer, fqdn);
	*resp = json_pack("{s:s}", "revoked", fqdn);
	return 200;
}

static unsigned federation(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	*resp = json_pack("{s:o}", "peers", dc_fed_to_json(arg));
	return 200;
}

static unsigned relays(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	*resp = json_pack("{s:o}", "relays", dc_relay_to_json(arg));
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

int dc_admin_start(struct dc *dc, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = dc->cfg.admin_listen,
		.token_file = dc->cfg.admin_token_file,
		.daemon_name = "ntm-dcd",
	};

	dc->admin = ntm_admin_start(&ac, dc->loop, err, err_size);
	if (!dc->admin)
		return -1;
	ntm_admin_set_health(dc->admin, health, dc);
	if (ntm_admin_route(dc->admin, "GET", "/v1/records", list_records, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/records/{id}", get_record, dc) < 0 ||
	    ntm_admin_route(dc->admin, "POST", "/v1/nodes", enrol, dc) < 0 ||
	    ntm_admin_route(dc->admin, "DELETE", "/v1/nodes/{fqdn}", revoke, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/federation", federation, dc) < 0 ||
	    ntm_admin_route(dc->admin, "GET", "/v1/relays", relays, dc) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
