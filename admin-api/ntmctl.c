/*
 * ntmctl: the command-line client of the daemons' admin APIs. Prints
 * human-readable tables by default and the API's JSON with --json. Each
 * command talks to the daemon that serves it, on its default loopback
 * admin port unless --url names another.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntmctl_http.h"
#include "ntmctl_table.h"

#define DEFAULT_TOKEN_FILE "/etc/ntm/admin.token"
#define DEFAULT_TIMEOUT_MS 5000
/* Tunnels and sessions fetched for a table: the APIs' largest page. */
#define TABLE_LIMIT "1000"

struct options {
	const char *url;
	const char *token_file;
	const char *cacert;
	const char *key_file;
	const char *limit, *offset;   /* passed on as text: the daemon checks them */
	int online;                   /* -1 any, 0 --offline, 1 --online */
	bool json;
	long timeout_ms;
};

struct command {
	const char *name;
	const char *daemon;           /* the daemon whose API it uses by default */
	unsigned port;                /* that daemon's default admin port */
	int min_args, max_args;
	bool any_daemon;              /* adapts to the daemon /healthz names */
	int (*run)(struct ntmctl_client *c, const struct options *o, char **args, int n_args);
	const char *usage;
	const char *help;
};

/* ---- output helpers ---- */

static int print_json(const json_t *json)
{
	char *text = json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (!text) {
		fprintf(stderr, "ntmctl: cannot format the JSON: out of memory\n");
		return 1;
	}
	puts(text);
	free(text);
	return 0;
}

/* Prints an object as "key: value" lines, nested objects as "key.sub". */
static void print_fields(const json_t *obj, const char *prefix)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)obj, key, value) {
		char name[128];
		char *text;

		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (json_is_object(value)) {
			print_fields(value, name);
			continue;
		}
		if (json_is_string(value)) {
			printf("%-24s %s\n", name, json_string_value(value));
			continue;
		}
		text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
		printf("%-24s %s\n", name, text ? text : "?");
		free(text);
	}
}

/* Joins the strings of an array with ", ", or writes "-" for an empty one. */
static const char *join(const json_t *arr, char *out, size_t size)
{
	size_t pos = 0, i;
	json_t *v;

	snprintf(out, size, "-");
	json_array_foreach((json_t *)arr, i, v) {
		int n = snprintf(out + pos, size - pos, "%s%s", i ? ", " : "",
				 json_is_string(v) ? json_string_value(v) : "?");

		if (n < 0 || (size_t)n >= size - pos)
			break;
		pos += (size_t)n;
	}
	return out;
}

/* Tells how to see the rest of a paged list. */
static void print_paging(const json_t *page, const char *noun)
{
	uint64_t total = ntmctl_u64(page, "total");
	uint64_t offset = ntmctl_u64(page, "offset");
	size_t shown = json_array_size(json_object_get(page, noun));

	if (offset + shown < total)
		printf("(%zu of %llu %s shown from offset %llu; pass --offset %llu for more)\n",
		       shown, (unsigned long long)total, noun, (unsigned long long)offset,
		       (unsigned long long)(offset + shown));
}

/* Builds "?limit=..&offset=.." plus extra ("name=value", may be NULL). */
static void page_query(char *out, size_t size, const struct options *o, const char *extra)
{
	snprintf(out, size, "?limit=%s%s%s%s%s", o->limit ? o->limit : TABLE_LIMIT,
		 o->offset ? "&offset=" : "", o->offset ? o->offset : "", extra ? "&" : "",
		 extra ? extra : "");
}

/* Fetches GET /healthz, which names the daemon behind the URL. Returns NULL
 * after printing an error. */
static json_t *health(struct ntmctl_client *c)
{
	struct ntmctl_response r;
	json_t *h;

	if (ntmctl_request(c, "GET", "/healthz", NULL, false, &r) < 0)
		return NULL;
	h = json_is_object(r.json) ? json_incref(r.json) : NULL;
	if (!h)
		fprintf(stderr, "ntmctl: %s at %s: /healthz did not return JSON; is this an ntm "
			"admin API?\n", c->daemon, c->url);
	ntmctl_response_free(&r);
	return h;
}

/* Adds the row of one list item to a table. */
typedef void (*row_fn)(struct ntmctl_table *t, const json_t *item);

/*
 * Prints the array key of page as a table with header and one row per item,
 * or none when the array is empty. A paged list ends with a hint to the
 * rest of it.
 */
static void print_list(const json_t *page, const char *key, const char *none,
		       const char *const *header, row_fn row, bool paged)
{
	struct ntmctl_table t;
	json_t *item;
	size_t i;

	if (json_array_size(json_object_get(page, key)) == 0) {
		printf("%s\n", none);
		return;
	}
	ntmctl_table_init(&t, header);
	json_array_foreach(json_object_get(page, key), i, item)
		row(&t, item);
	ntmctl_table_print(&t, stdout);
	if (paged)
		print_paging(page, key);
}

/* GETs path and prints it as JSON with --json, else with print. Returns the
 * exit status. */
static int show(struct ntmctl_client *c, const struct options *o, const char *path,
		void (*print)(const json_t *json))
{
	json_t *json = ntmctl_get_json(c, path);

	if (!json)
		return 1;
	if (o->json)
		print_json(json);
	else
		print(json);
	json_decref(json);
	return 0;
}

static void print_object(const json_t *json)
{
	print_fields(json, "");
}

/* Fetches /healthz and sets c->daemon to the daemon it names. Returns the
 * health object for the caller to release, or NULL after an error. */
static json_t *find_daemon(struct ntmctl_client *c)
{
	json_t *h = health(c);

	if (h)
		c->daemon = ntmctl_str(h, "daemon");
	return h;
}

/* ---- tunnels (ntm-noded) ---- */

static void tunnel_row(struct ntmctl_table *t, const json_t *tun)
{
	char rx[32], tx[32], hs[32], handovers[32];
	const char *path = ntmctl_str(tun, "path");

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(tun, "peer_vip"), ntmctl_str(tun, "peer_fqdn"),
		ntmctl_str(tun, "state"), strcmp(path, "none") == 0 ? "-" : path,
		ntmctl_str(tun, "endpoint"),
		ntmctl_bytes(ntmctl_u64(tun, "rx_bytes"), rx, sizeof(rx)),
		ntmctl_bytes(ntmctl_u64(tun, "tx_bytes"), tx, sizeof(tx)),
		ntmctl_ago(ntmctl_u64(tun, "last_handshake_ms"), hs, sizeof(hs)),
		ntmctl_int(tun, "handovers", handovers, sizeof(handovers)) });
}

static void print_tunnels(const json_t *page)
{
	print_list(page, "tunnels", "no tunnels",
		   (const char *[]){ "VIP", "PEER", "STATE", "PATH", "ENDPOINT", "RX", "TX",
				     "HANDSHAKE", "HANDOVERS", NULL },
		   tunnel_row, true);
}

static int cmd_tunnels(struct ntmctl_client *c, const struct options *o, char **args,
		       int n_args)
{
	char path[600];

	if (n_args == 1) {
		if (ntmctl_path(path, sizeof(path), "/v1/tunnels/", args[0]) < 0)
			return 2;
	} else {
		char query[300];

		page_query(query, sizeof(query), o, NULL);
		snprintf(path, sizeof(path), "/v1/tunnels%s", query);
	}
	return show(c, o, path, n_args == 1 ? print_object : print_tunnels);
}

/* ---- status ---- */

static void print_node_status(const json_t *st, const json_t *tunnels)
{
	const json_t *dc = json_object_get(st, "dc");
	bool registered = json_is_true(json_object_get(st, "registered"));

	printf("%s  %s  %s", ntmctl_str(st, "vip"), ntmctl_str(st, "fqdn"),
	       registered ? "registered" : "not registered");
	printf(" with DC %s, observed %s%s\n", ntmctl_str(dc, "endpoint"),
	       ntmctl_str(st, "observed"),
	       json_is_true(json_object_get(st, "behind_nat")) ? " (behind NAT)" : "");
	printf("\n");
	print_tunnels(tunnels);
}

static int status_node(struct ntmctl_client *c, const struct options *o, json_t *h)
{
	json_t *st = ntmctl_get_json(c, "/v1/status");
	json_t *tunnels = st ? ntmctl_get_json(c, "/v1/tunnels?limit=" TABLE_LIMIT) : NULL;
	int rc = 1;

	if (tunnels && o->json) {
		json_t *all = json_pack("{s:O, s:O, s:O}", "health", h, "status", st, "tunnels",
					tunnels);

		rc = print_json(all);
		json_decref(all);
	} else if (tunnels) {
		print_node_status(st, tunnels);
		rc = 0;
	}
	json_decref(st);
	json_decref(tunnels);
	return rc;
}

static int status_dc(struct ntmctl_client *c, const struct options *o, json_t *h)
{
	json_t *relays = ntmctl_get_json(c, "/v1/relays");
	json_t *fed = relays ? ntmctl_get_json(c, "/v1/federation") : NULL;
	char n1[32], n2[32];
	size_t i;
	json_t *v;

	if (!fed) {
		json_decref(relays);
		return 1;
	}
	if (o->json) {
		json_t *all = json_pack("{s:O, s:O, s:O}", "health", h, "relays",
					json_object_get(relays, "relays"), "federation",
					json_object_get(fed, "peers"));

		print_json(all);
		json_decref(all);
	} else {
		printf("ntm-dcd %s for %s: %s nodes enrolled, %s online\n",
		       ntmctl_str(h, "version"), ntmctl_str(h, "domain"),
		       ntmctl_int(h, "nodes", n1, sizeof(n1)),
		       ntmctl_int(h, "nodes_online", n2, sizeof(n2)));
		json_array_foreach(json_object_get(relays, "relays"), i, v)
			printf("relay %s at %s: %s\n", ntmctl_str(v, "name"),
			       ntmctl_str(v, "endpoint"),
			       json_is_true(json_object_get(v, "up")) ? "up" : "down");
		json_array_foreach(json_object_get(fed, "peers"), i, v)
			printf("federated DC %s at %s: %s\n", ntmctl_str(v, "domain"),
			       ntmctl_str(v, "endpoint"),
			       json_is_true(json_object_get(v, "connected")) ? "connected"
									 : "not connected");
	}
	json_decref(relays);
	json_decref(fed);
	return 0;
}

static int cmd_status(struct ntmctl_client *c, const struct options *o, char **args,
		      int n_args)
{
	json_t *h = find_daemon(c);
	int rc = 0;

	if (!h)
		return 1;
	if (strcmp(c->daemon, "ntm-noded") == 0)
		rc = status_node(c, o, h);
	else if (strcmp(c->daemon, "ntm-dcd") == 0)
		rc = status_dc(c, o, h);
	else if (o->json)
		print_json(h);
	else
		print_fields(h, "");
	json_decref(h);
	return rc;
}

/* ---- records, directions, VIPs, federation (ntm-dcd) ---- */

static void record_row(struct ntmctl_table *t, const json_t *rec)
{
	char seen[32];

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(rec, "vip"), ntmctl_str(rec, "fqdn"),
		json_is_true(json_object_get(rec, "online")) ? "online" : "offline",
		ntmctl_str(rec, "observed"),
		json_is_true(json_object_get(rec, "behind_nat")) ? "yes" : "no",
		ntmctl_ago(ntmctl_u64(rec, "last_seen_ms"), seen, sizeof(seen)) });
}

static void print_records(const json_t *page)
{
	print_list(page, "records", "no records",
		   (const char *[]){ "VIP", "FQDN", "STATE", "OBSERVED", "NAT", "LAST SEEN",
				     NULL },
		   record_row, true);
}

static int cmd_records(struct ntmctl_client *c, const struct options *o, char **args,
		       int n_args)
{
	char path[600];

	if (n_args == 1) {
		if (ntmctl_path(path, sizeof(path), "/v1/records/", args[0]) < 0)
			return 2;
	} else {
		char query[400];

		page_query(query, sizeof(query), o, o->online < 0 ? NULL
					       : o->online ? "online=true" : "online=false");
		snprintf(path, sizeof(path), "/v1/records%s", query);
	}
	return show(c, o, path, n_args == 1 ? print_object : print_records);
}

static void direction_row(struct ntmctl_table *t, const json_t *d)
{
	const json_t *req = json_object_get(d, "requester");
	const json_t *peer = json_object_get(d, "peer");
	char when[32], acked[32];

	snprintf(acked, sizeof(acked), "%s/%s",
		 json_is_true(json_object_get(req, "acked")) ? "yes" : "no",
		 json_is_true(json_object_get(peer, "acked")) ? "yes" : "no");
	ntmctl_table_row(t, (const char *[]){
		ntmctl_ago(ntmctl_u64(d, "at_ms"), when, sizeof(when)), ntmctl_str(req, "fqdn"),
		ntmctl_str(peer, "fqdn"), ntmctl_str(d, "route"), ntmctl_str(d, "initiator"),
		ntmctl_str(d, "relay_session_id"), acked });
}

static void print_directions(const json_t *page)
{
	print_list(page, "directions", "no directions",
		   (const char *[]){ "WHEN", "REQUESTER", "PEER", "ROUTE", "INITIATOR",
				     "RELAY SESSION", "ACKED", NULL },
		   direction_row, true);
}

static int cmd_directions(struct ntmctl_client *c, const struct options *o, char **args,
			  int n_args)
{
	char path[400], query[300];

	page_query(query, sizeof(query), o, NULL);
	snprintf(path, sizeof(path), "/v1/directions%s", query);
	return show(c, o, path, print_directions);
}

static void vip_row(struct ntmctl_table *t, const json_t *v)
{
	ntmctl_table_row(t, (const char *[]){ ntmctl_str(v, "vip"), ntmctl_str(v, "owner"),
					      ntmctl_str(v, "kind") });
}

static void print_vips(const json_t *page)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(page, "prefixes"), i, v)
		printf("prefix %s owned by %s%s\n", ntmctl_str(v, "prefix"), ntmctl_str(v, "owner"),
		       json_is_true(json_object_get(v, "local")) ? " (this DC)" : "");
	printf("DC's own VIP %s\n\n", ntmctl_str(page, "dc_vip"));
	print_list(page, "vips", "no VIPs", (const char *[]){ "VIP", "OWNER", "KIND", NULL },
		   vip_row, true);
}

static int cmd_vips(struct ntmctl_client *c, const struct options *o, char **args, int n_args)
{
	char path[400], query[300];

	page_query(query, sizeof(query), o, NULL);
	snprintf(path, sizeof(path), "/v1/vips%s", query);
	return show(c, o, path, print_vips);
}

static void federation_row(struct ntmctl_table *t, const json_t *p)
{
	char prefixes[256], q[32], a[32], to[32];

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(p, "domain"), ntmctl_str(p, "endpoint"),
		json_is_true(json_object_get(p, "connected")) ? "connected" : "down",
		join(json_object_get(p, "vip_prefixes"), prefixes, sizeof(prefixes)),
		ntmctl_int(p, "queries", q, sizeof(q)), ntmctl_int(p, "answers", a, sizeof(a)),
		ntmctl_int(p, "timeouts", to, sizeof(to)) });
}

static void print_federation(const json_t *json)
{
	print_list(json, "peers", "no federated DCs",
		   (const char *[]){ "DOMAIN", "ENDPOINT", "STATE", "VIP PREFIXES", "QUERIES",
				     "ANSWERS", "TIMEOUTS", NULL },
		   federation_row, false);
}

static int cmd_federation(struct ntmctl_client *c, const struct options *o, char **args,
			  int n_args)
{
	return show(c, o, "/v1/federation", print_federation);
}

/* ---- enrolment and revocation ---- */

/* Reads the base64 public key from a .pub file made by ntm-keygen. */
static int read_key_file(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "ntmctl: cannot read the public key file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (!fgets(out, (int)size, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int cmd_enrol(struct ntmctl_client *c, const struct options *o, char **args, int n_args)
{
	char key[256];
	struct ntmctl_response r;
	json_t *req;
	char *body;
	int rc;

	if ((n_args == 2) == (o->key_file != NULL)) {
		fprintf(stderr, "ntmctl: enrol needs the node's public key: either as the second "
			"argument or with --key-file FILE.pub\n");
		return 2;
	}
	if (o->key_file && read_key_file(o->key_file, key, sizeof(key)) < 0)
		return 1;
	req = json_pack("{s:s, s:s}", "fqdn", args[0], "public_key", o->key_file ? key : args[1]);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		fprintf(stderr, "ntmctl: the FQDN or key is not valid UTF-8\n");
		return 2;
	}
	rc = ntmctl_request(c, "POST", "/v1/nodes", body, true, &r);
	free(body);
	if (rc < 0)
		return 1;
	if (o->json)
		print_json(r.json);
	else
		printf("enrolled %s with VIP %s\n", ntmctl_str(r.json, "fqdn"),
		       ntmctl_str(r.json, "vip"));
	ntmctl_response_free(&r);
	return 0;
}

static int cmd_revoke(struct ntmctl_client *c, const struct options *o, char **args,
		      int n_args)
{
	struct ntmctl_response r;
	char path[600];
	uint64_t notified;

	if (ntmctl_path(path, sizeof(path), "/v1/nodes/", args[0]) < 0)
		return 2;
	if (ntmctl_request(c, "DELETE", path, NULL, true, &r) < 0)
		return 1;
	notified = ntmctl_u64(r.json, "peers_notified");
	if (o->json)
		print_json(r.json);
	else
		printf("revoked %s; told %llu online %s to drop %s tunnels to it\n",
		       ntmctl_str(r.json, "revoked"), (unsigned long long)notified,
		       notified == 1 ? "node" : "nodes", notified == 1 ? "its" : "their");
	ntmctl_response_free(&r);
	return 0;
}

/* ---- relays ---- */

static void relay_row(struct ntmctl_table *t, const json_t *v)
{
	char a[32], f[32];

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(v, "name"), ntmctl_str(v, "endpoint"),
		json_is_true(json_object_get(v, "up")) ? "up" : "down",
		ntmctl_int(v, "allocations", a, sizeof(a)), ntmctl_int(v, "failures", f, sizeof(f)) });
}

static void dc_session_row(struct ntmctl_table *t, const json_t *v)
{
	char when[32];

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(v, "session_id"), ntmctl_str(v, "relay"),
		ntmctl_str(json_object_get(v, "node_a"), "fqdn"),
		ntmctl_str(json_object_get(v, "node_b"), "fqdn"),
		ntmctl_ago(ntmctl_u64(v, "allocated_ms"), when, sizeof(when)) });
}

static void print_dc_relays(const json_t *relays, const json_t *sessions)
{
	print_list(relays, "relays", "no relay servers configured",
		   (const char *[]){ "RELAY", "ENDPOINT", "STATE", "ALLOCATIONS", "FAILURES",
				     NULL },
		   relay_row, false);
	printf("\n");
	print_list(sessions, "sessions", "no relay sessions",
		   (const char *[]){ "SESSION", "RELAY", "NODE A", "NODE B", "ALLOCATED", NULL },
		   dc_session_row, true);
}

static int relays_dc(struct ntmctl_client *c, const struct options *o)
{
	char path[400], query[300];
	json_t *relays = ntmctl_get_json(c, "/v1/relays");
	json_t *sessions = NULL;

	page_query(query, sizeof(query), o, NULL);
	snprintf(path, sizeof(path), "/v1/relays/sessions%s", query);
	if (relays)
		sessions = ntmctl_get_json(c, path);
	if (sessions && o->json) {
		json_t *all = json_pack("{s:O, s:O}", "relays", json_object_get(relays, "relays"),
					"sessions", sessions);

		print_json(all);
		json_decref(all);
	} else if (sessions) {
		print_dc_relays(relays, sessions);
	}
	json_decref(relays);
	json_decref(sessions);
	return sessions ? 0 : 1;
}

static void rs_session_row(struct ntmctl_table *t, const json_t *s)
{
	char ab[32], ba[32], idle[32];

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(s, "id"), ntmctl_str(s, "dc"),
		ntmctl_str(json_object_get(s, "node_a"), "endpoint"),
		ntmctl_str(json_object_get(s, "node_b"), "endpoint"),
		ntmctl_bytes(ntmctl_u64(json_object_get(s, "a_to_b"), "bytes"), ab, sizeof(ab)),
		ntmctl_bytes(ntmctl_u64(json_object_get(s, "b_to_a"), "bytes"), ba, sizeof(ba)),
		ntmctl_age(ntmctl_u64(s, "idle_ms"), idle, sizeof(idle)) });
}

static void print_rs_sessions(const json_t *page)
{
	print_list(page, "sessions", "no relay sessions",
		   (const char *[]){ "SESSION", "DC", "NODE A", "NODE B", "A->B", "B->A", "IDLE",
				     NULL },
		   rs_session_row, true);
}

static int relays_rs(struct ntmctl_client *c, const struct options *o)
{
	char path[400], query[300];

	page_query(query, sizeof(query), o, NULL);
	snprintf(path, sizeof(path), "/v1/sessions%s", query);
	return show(c, o, path, print_rs_sessions);
}

static int cmd_relays(struct ntmctl_client *c, const struct options *o, char **args,
		      int n_args)
{
	json_t *h = find_daemon(c);
	int rc;

	if (!h)
		return 1;
	if (strcmp(c->daemon, "ntm-dcd") == 0) {
		rc = relays_dc(c, o);
	} else if (strcmp(c->daemon, "ntm-rsd") == 0) {
		rc = relays_rs(c, o);
	} else {
		fprintf(stderr, "ntmctl: %s at %s has no relays; point --url at ntm-dcd or "
			"ntm-rsd\n", c->daemon, c->url);
		rc = 1;
	}
	json_decref(h);
	return rc;
}

/* ---- media servers (ntm-dad, ntm-ssdpd) ---- */

static void dad_server_row(struct ntmctl_table *t, const json_t *s)
{
	char seen[32];
	bool gone = json_is_true(json_object_get(s, "gone"));

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(s, "vip"), ntmctl_str(s, "friendly_name"), ntmctl_str(s, "real_address"),
		ntmctl_str(s, "udn"),
		gone ? "gone" : ntmctl_ago(ntmctl_u64(s, "last_seen_ms"), seen, sizeof(seen)) });
}

static void print_dad_servers(const json_t *page)
{
	print_list(page, "servers", "no media servers",
		   (const char *[]){ "VIP", "NAME", "ADDRESS", "UDN", "LAST SEEN", NULL },
		   dad_server_row, false);
}

static void cache_row(struct ntmctl_table *t, const json_t *e)
{
	char age[32];

	ntmctl_table_row(t, (const char *[]){
		ntmctl_str(e, "source"), ntmctl_str(e, "st"), ntmctl_str(e, "location"),
		ntmctl_age(ntmctl_u64(e, "age") * 1000, age, sizeof(age)), ntmctl_str(e, "usn") });
}

static void print_ssdp_cache(const json_t *cache)
{
	print_list(cache, "entries", "no media servers in the cache",
		   (const char *[]){ "SOURCE", "TYPE", "LOCATION", "AGE", "USN", NULL }, cache_row,
		   false);
}

static int cmd_servers(struct ntmctl_client *c, const struct options *o, char **args,
		       int n_args)
{
	json_t *h = find_daemon(c);
	int rc = 1;

	if (!h)
		return 1;
	if (strcmp(c->daemon, "ntm-dad") == 0)
		rc = show(c, o, "/v1/servers", print_dad_servers);
	else if (strcmp(c->daemon, "ntm-ssdpd") == 0)
		rc = show(c, o, "/v1/cache", print_ssdp_cache);
	else
		fprintf(stderr, "ntmctl: %s at %s knows no media servers; point --url at ntm-dad "
			"or ntm-ssdpd\n", c->daemon, c->url);
	json_decref(h);
	return rc;
}

/* ---- raw access ---- */

static int cmd_get(struct ntmctl_client *c, const struct options *o, char **args, int n_args)
{
	json_t *json;

	if (args[0][0] != '/') {
		fprintf(stderr, "ntmctl: get needs an absolute path such as /v1/status\n");
		return 2;
	}
	json = ntmctl_get_json(c, args[0]);
	if (!json)
		return 1;
	print_json(json);
	json_decref(json);
	return 0;
}

static int cmd_metrics(struct ntmctl_client *c, const struct options *o, char **args,
		       int n_args)
{
	struct ntmctl_response r;

	if (ntmctl_request(c, "GET", "/metrics", NULL, true, &r) < 0)
		return 1;
	fwrite(r.body, 1, r.body_len, stdout);
	ntmctl_response_free(&r);
	return 0;
}

/* ---- main ---- */

/* Each command's default daemon and its default admin port. */
#define DC "ntm-dcd", 47880
#define NODE "ntm-noded", 47881
#define DAD "ntm-dad", 47883

static const struct command commands[] = {
	{ "status", NODE, 0, 0, true, cmd_status, "status",
	  "this node's registration and tunnels, or another daemon's health" },
	{ "tunnels", NODE, 0, 1, false, cmd_tunnels, "tunnels [PEER_FQDN|PEER_VIP]",
	  "the node agent's tunnels, or one of them in detail" },
	{ "records", DC, 0, 1, false, cmd_records, "records [FQDN|VIP] [--online|--offline]",
	  "NTM records at the DC, or one of them in detail" },
	{ "relays", DC, 0, 0, true, cmd_relays, "relays",
	  "relay servers and relay sessions of the DC, or the sessions of an ntm-rsd" },
	{ "servers", DAD, 0, 0, true, cmd_servers, "servers",
	  "media servers of the DLNA Agent, or the cache of an ntm-ssdpd" },
	{ "directions", DC, 0, 0, false, cmd_directions, "directions",
	  "the tunnels the DC directed recently, newest first" },
	{ "vips", DC, 0, 0, false, cmd_vips, "vips",
	  "VIP prefixes and every assigned VIP with its owner" },
	{ "federation", DC, 0, 0, false, cmd_federation, "federation",
	  "federated DCs and their state" },
	{ "enrol", DC, 1, 2, false, cmd_enrol, "enrol FQDN (PUBLIC_KEY | --key-file FILE.pub)",
	  "enrol a node at the DC" },
	{ "revoke", DC, 1, 1, false, cmd_revoke, "revoke FQDN",
	  "revoke a node: its tunnels and relay sessions end at once" },
	{ "get", NODE, 1, 1, true, cmd_get, "get PATH",
	  "GET any admin API path and print its JSON" },
	{ "metrics", NODE, 0, 0, true, cmd_metrics, "metrics",
	  "print the daemon's Prometheus metrics" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: ntmctl [OPTIONS] COMMAND [ARGS]\n\n"
		"Options:\n"
		"  --url URL           admin API to talk to (default: the command's daemon on\n"
		"                      127.0.0.1: ntm-dcd 47880, ntm-noded 47881, ntm-rsd 47882,\n"
		"                      ntm-dad 47883, ntm-ssdpd 47884); env NTMCTL_URL\n"
		"  --token-file FILE   file with the admin bearer token (default %s);\n"
		"                      env NTMCTL_TOKEN_FILE\n"
		"  --cacert FILE       CA certificate to verify an https:// admin API\n"
		"  --json              print the API's JSON instead of tables\n"
		"  --timeout SECONDS   give up on a request after this long (default 5)\n"
		"  --limit N, --offset N   page of a list (default: the first 1000)\n"
		"  --online, --offline     records: only online or offline nodes\n"
		"  --key-file FILE     enrol: read the public key from FILE (ntm-keygen's .pub)\n\n"
		"Commands:\n", DEFAULT_TOKEN_FILE);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-48s %s\n", commands[i].usage, commands[i].help);
}

static int parse_timeout(const char *text, long *ms)
{
	char *end = NULL;
	long s;

	errno = 0;
	s = strtol(text, &end, 10);
	if (errno || end == text || *end != '\0' || s < 1 || s > 3600) {
		fprintf(stderr, "ntmctl: --timeout '%s' is invalid: expected whole seconds from 1 "
			"to 3600\n", text);
		return -1;
	}
	*ms = s * 1000;
	return 0;
}

/* Parses the options. Returns the index of the command in argv, or -1 (exit
 * status in *status). */
static int parse_options(int argc, char **argv, struct options *o, int *status)
{
	enum { OPT_URL = 256, OPT_TOKEN, OPT_CACERT, OPT_JSON, OPT_TIMEOUT, OPT_LIMIT,
	       OPT_OFFSET, OPT_ONLINE, OPT_OFFLINE, OPT_KEY_FILE, OPT_HELP };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, OPT_URL },
		{ "token-file", required_argument, NULL, OPT_TOKEN },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "online", no_argument, NULL, OPT_ONLINE },
		{ "offline", no_argument, NULL, OPT_OFFLINE },
		{ "key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_TOKEN:
			o->token_file = optarg;
			break;
		case OPT_CACERT:
			o->cacert = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_LIMIT:
			o->limit = optarg;
			break;
		case OPT_OFFSET:
			o->offset = optarg;
			break;
		case OPT_ONLINE:
			o->online = 1;
			break;
		case OPT_OFFLINE:
			o->online = 0;
			break;
		case OPT_KEY_FILE:
			o->key_file = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &o->timeout_ms) < 0) {
				*status = 2;
				return -1;
			}
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			*status = 0;
			return -1;
		default:
			usage(stderr);
			*status = 2;
			return -1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		*status = 2;
		return -1;
	}
	return optind;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	/* "enroll" is the American spelling of the same command. */
	if (strcmp(name, "enroll") == 0)
		return find_command("enrol");
	return NULL;
}

/* Sets the client's URL: --url, NTMCTL_URL, or the command's daemon on
 * loopback, without a trailing '/'. */
static int set_url(struct ntmctl_client *c, const struct options *o, const struct command *cmd)
{
	const char *url = o->url ? o->url : getenv("NTMCTL_URL");
	size_t len;

	if (url)
		snprintf(c->url, sizeof(c->url), "%s", url);
	else
		snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%u", cmd->port);
	len = strlen(c->url);
	while (len > 0 && c->url[len - 1] == '/')
		c->url[--len] = '\0';
	if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
		fprintf(stderr, "ntmctl: --url '%s' is invalid: use http://HOST:PORT or "
			"https://HOST:PORT\n", c->url);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .online = -1, .timeout_ms = DEFAULT_TIMEOUT_MS };
	struct ntmctl_client client = { 0 };
	const struct command *cmd;
	int status = 0, first, n_args, rc;

	first = parse_options(argc, argv, &o, &status);
	if (first < 0)
		return status;
	cmd = find_command(argv[first]);
	if (!cmd) {
		fprintf(stderr, "ntmctl: unknown command '%s'; run 'ntmctl --help' for the list\n",
			argv[first]);
		return 2;
	}
	n_args = argc - first - 1;
	if (n_args < cmd->min_args || n_args > cmd->max_args) {
		fprintf(stderr, "usage: ntmctl [OPTIONS] %s\n", cmd->usage);
		return 2;
	}
	if (o.online >= 0 && cmd->run != cmd_records) {
		fprintf(stderr, "ntmctl: --online and --offline apply to 'records' only\n");
		return 2;
	}
	if (set_url(&client, &o, cmd) < 0)
		return 2;
	/* A command that works with any daemon cannot name it before /healthz
	 * responds, unless the URL is the command's default. */
	client.daemon = cmd->any_daemon && (o.url || getenv("NTMCTL_URL")) ? "the daemon"
									    : cmd->daemon;
	client.token_file = o.token_file ? o.token_file : getenv("NTMCTL_TOKEN_FILE");
	if (!client.token_file)
		client.token_file = DEFAULT_TOKEN_FILE;
	client.cacert = o.cacert;
	client.timeout_ms = o.timeout_ms;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmd->run(&client, &o, argv + first + 1, n_args);
	curl_global_cleanup();
	return rc;
}
