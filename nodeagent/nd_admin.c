/*
 * The node agent's admin API routes: registration state and tunnels, and
 * the agent's Prometheus metrics. admin-api/openapi.yaml describes them.
 */
#include <stdio.h>
#include <string.h>

#include "nd.h"
#include "ntm_admin.h"
#include "ntm_time.h"

static const char *const no_args[] = { NULL };

/* Upper bounds of the tunnel set-up histogram, in seconds: from a set-up
 * within one host (well under a millisecond) to the set-up timeout (10 s). */
static const double setup_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				       0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

static const char *path_name(const struct nd_peer *p)
{
	if (p->state != ND_PEER_UP)
		return "none";
	if (nd_relay_is(p, &p->endpoint))
		return "relayed";
	return p->route == NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS ? "punched" : "direct";
}

static json_t *peer_key_json(const struct nd_peer *p)
{
	char key[NTM_KEY_B64_LEN];

	if (!p->have_key)
		return json_null();
	ntm_key_to_base64(key, p->key);
	return json_string(key);
}

static json_t *peer_json(const struct nd_peer *p)
{
	json_t *pool = json_array();
	json_t *o;

	for (size_t i = 0; i < p->n_pool; i++)
		json_array_append_new(pool, ntm_admin_json_ip(&p->pool[i]));
	o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:s, s:b}",
		      "peer_fqdn", p->fqdn, "peer_vip", ntm_admin_json_ip(&p->vip), "pool_vips", pool,
		      "peer_public_key", peer_key_json(p),
		      "state", nd_peer_state_str(p->state), "path", path_name(p),
		      "endpoint", ntm_admin_json_endpoint(&p->endpoint),
		      "tx_bytes", (json_int_t)p->tx_bytes, "rx_bytes", (json_int_t)p->rx_bytes,
		      "tx_packets", (json_int_t)p->tx_packets,
		      "rx_packets", (json_int_t)p->rx_packets,
		      "last_handshake_ms", (json_int_t)p->last_handshake_wall_ms,
		      "handovers", (json_int_t)p->handovers,
		      "setup_us", (json_int_t)p->setup_us, "route_case", (json_int_t)p->route,
		      "route", ntm_msg_route_case_str(p->route), "initiator", p->initiator);
	if (o && p->has_relay)
		json_object_set_new(o, "relay_endpoint", ntm_admin_json_endpoint(&p->relay_ep));
	return o;
}

static int state_from_name(const char *name)
{
	for (int st = ND_PEER_QUERYING; st <= ND_PEER_FAILED; st++) {
		if (strcmp(nd_peer_state_str((enum nd_peer_state)st), name) == 0)
			return st;
	}
	return -1;
}

/* GET /v1/tunnels[?state=up]: in the agent's peer table order. */
static unsigned get_tunnels(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	static const char *const allowed[] = { "state", "limit", "offset", NULL };
	struct nd *nd = arg;
	const char *state = ntm_admin_query(req, "state");
	int want = state ? state_from_name(state) : -1;
	struct ntm_admin_page page;
	unsigned bad = ntm_admin_check_query(req, allowed, resp);
	json_t *arr;

	if (!bad)
		bad = ntm_admin_page_args(req, &page, resp);
	if (bad)
		return bad;
	if (state && want < 0)
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "state '%.32s' is invalid: expected querying, directing, "
				       "handshake, up or failed", state);
	arr = json_array();
	for (size_t i = 0; i < nd->n_peers; i++) {
		if (want < 0 || (int)nd->peers[i]->state == want)
			json_array_append_new(arr, peer_json(nd->peers[i]));
	}
	*resp = ntm_admin_page_json("tunnels", arr, &page);
	return *resp ? 200 : ntm_admin_error(resp, 500, "internal_error", "out of memory");
}

/* GET /v1/tunnels/{peer}: by the peer's FQDN or one of its VIPs. */
static unsigned get_tunnel(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct nd *nd = arg;
	const char *id = req->params[0];
	unsigned bad = ntm_admin_check_query(req, no_args, resp);
	struct nd_peer *p = NULL;
	struct ntm_ip vip;

	if (bad)
		return bad;
	if (ntm_ip_parse(&vip, id) == 0)
		p = nd_peer_by_vip(nd, &vip);
	else if (ntm_msg_fqdn_valid(id))
		p = nd_peer_by_fqdn(nd, id);
	else
		return ntm_admin_error(resp, 400, "invalid_argument",
				       "'%.253s' is neither an IP address nor a lower-case DNS "
				       "name", id);
	if (!p)
		return ntm_admin_error(resp, 404, "not_found", "no tunnel to '%s'", id);
	*resp = peer_json(p);
	return 200;
}

static json_t *drops_json(const struct nd *nd)
{
	json_t *o = json_object();

	for (int i = 0; i < ND_DROP_COUNT; i++)
		json_object_set_new(o, nd_drop_str(i), json_integer((json_int_t)nd->drops[i]));
	return o;
}

static json_t *prefixes_json(const struct nd *nd)
{
	char text[INET6_ADDRSTRLEN + 5];
	json_t *arr = json_array();

	for (size_t i = 0; i < nd->n_prefixes; i++)
		json_array_append_new(arr, json_string(ntm_prefix_str(&nd->prefixes[i], text,
									 sizeof(text))));
	return arr;
}

/* The registration with the DC: its endpoint, and how long ago it last responded. */
static json_t *dc_json(const struct nd *nd)
{
	const char *state = "none";
	json_t *ago = json_null();

	if (nd->reg == ND_REG_DONE)
		state = "registered";
	else if (nd->reg == ND_REG_PENDING)
		state = "registering";
	if (nd->last_dc_reply_ms)
		ago = json_integer((json_int_t)(ntm_now_ms() - nd->last_dc_reply_ms));
	return json_pack("{s:o, s:s, s:I, s:o}", "endpoint", ntm_admin_json_endpoint(&nd->cfg.dc), "state",
			 state, "keepalive_interval_ms", (json_int_t)nd->keepalive_interval_ms,
			 "last_answer_ms_ago", ago);
}

static unsigned get_status(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct nd *nd = arg;
	unsigned bad = ntm_admin_check_query(req, no_args, resp);
	json_t *locals;

	if (bad)
		return bad;
	locals = json_array();
	for (size_t i = 0; i < nd->n_local_addrs; i++)
		json_array_append_new(locals, ntm_admin_json_ip(&nd->local_addrs[i]));
	*resp = json_pack("{s:s, s:b, s:o, s:o, s:b, s:o, s:s, s:I, s:I, s:I, s:o, s:o, s:o}",
			  "fqdn", nd->cfg.fqdn, "registered", nd->reg == ND_REG_DONE,
			  "vip", ntm_admin_json_ip(&nd->vip), "observed", ntm_admin_json_endpoint(&nd->observed),
			  "behind_nat", nd->behind_nat, "local_addresses", locals,
			  "tun", nd->tun_name, "registrations", (json_int_t)nd->registrations,
			  "moves", (json_int_t)nd->moves,
			  "last_recreate_us", (json_int_t)nd->last_recreate_us,
			  "dropped", drops_json(nd), "vip_prefixes", prefixes_json(nd),
			  "dc", dc_json(nd));
	return 200;
}

static void health(json_t *h, void *arg)
{
	struct nd *nd = arg;

	json_object_set_new(h, "fqdn", json_string(nd->cfg.fqdn));
	json_object_set_new(h, "registered", json_boolean(nd->reg == ND_REG_DONE));
	json_object_set_new(h, "tunnels", json_integer((json_int_t)nd->n_peers));
}

/* ---- metrics ---- */

static void peer_traffic_metrics(struct nd *nd, struct ntm_metrics *m)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} families[] = {
		{ "ntm_node_tunnel_transmit_bytes_total", "Inner bytes sent into the tunnel.",
		  offsetof(struct nd_peer, tx_bytes) },
		{ "ntm_node_tunnel_receive_bytes_total", "Inner bytes received from the tunnel.",
		  offsetof(struct nd_peer, rx_bytes) },
		{ "ntm_node_tunnel_transmit_packets_total", "Packets sent into the tunnel.",
		  offsetof(struct nd_peer, tx_packets) },
		{ "ntm_node_tunnel_receive_packets_total", "Packets received from the tunnel.",
		  offsetof(struct nd_peer, rx_packets) },
	};

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		ntm_metrics_family(m, families[f].name, NTM_METRIC_COUNTER, families[f].help);
		for (size_t i = 0; i < nd->n_peers; i++) {
			const struct nd_peer *p = nd->peers[i];
			uint64_t value;

			if (p->fqdn[0] == '\0')
				continue;
			memcpy(&value, (const char *)p + families[f].offset, sizeof(value));
			ntm_metrics_sample(m, families[f].name, (double)value, "peer", p->fqdn,
					   NULL);
		}
	}
}

static void tunnel_metrics(struct nd *nd, struct ntm_metrics *m)
{
	uint64_t handovers = nd->removed_handovers;
	size_t by_state[ND_PEER_FAILED + 1] = { 0 };

	for (size_t i = 0; i < nd->n_peers; i++) {
		handovers += nd->peers[i]->handovers;
		by_state[nd->peers[i]->state]++;
	}
	ntm_metrics_family(m, "ntm_node_tunnels", NTM_METRIC_GAUGE,
			   "Peers in the agent's table, by tunnel state.");
	for (int st = ND_PEER_QUERYING; st <= ND_PEER_FAILED; st++)
		ntm_metrics_sample(m, "ntm_node_tunnels", (double)by_state[st], "state",
				   nd_peer_state_str((enum nd_peer_state)st), NULL);
	ntm_metrics_family(m, "ntm_node_tunnel_setup_duration_seconds", NTM_METRIC_HISTOGRAM,
			   "Time from the first packet or DNS query for a peer (or its Route "
			   "Direction, on the responder) to the tunnel being up.");
	ntm_metrics_histogram(m, "ntm_node_tunnel_setup_duration_seconds", &nd->setup_seconds,
			      NULL);
	ntm_metrics_counter(m, "ntm_node_tunnel_setup_failures_total",
			    "Tunnel set-ups that failed or timed out.", nd->setup_failures);
	ntm_metrics_counter(m, "ntm_node_handovers_total",
			    "Changes of a tunnel's path: a new address after a move, or a switch "
			    "between relay and direct path.", handovers);
	peer_traffic_metrics(nd, m);
}

static void gena_metrics(struct nd *nd, struct ntm_metrics *m)
{
	struct nd_gena_stats st;

	nd_gena_get_stats(nd, &st);
	ntm_metrics_gauge(m, "ntm_node_gena_routes",
			  "GENA callback routes in place: NOTIFYs to the VIP forwarded to the "
			  "listener's own address.", (double)st.routes);
	ntm_metrics_counter(m, "ntm_node_gena_routes_installed_total",
			    "GENA callback routes installed or extended.", st.installed);
	ntm_metrics_counter(m, "ntm_node_gena_routes_rejected_total",
			    "GENA callback routes rejected: the peer is not this node's DLNA "
			    "Agent, the server VIP is not in its pool, or the callback host is "
			    "not an address of this host.", st.rejected);
	ntm_metrics_counter(m, "ntm_node_gena_routes_failed_total",
			    "GENA callback routes that nftables did not take, or that found the "
			    "table full.", st.failed);
}

static void metrics(struct ntm_metrics *m, void *arg)
{
	struct nd *nd = arg;

	ntm_metrics_gauge(m, "ntm_node_registered",
			  "1 while the node is registered with its DC, else 0.",
			  nd->reg == ND_REG_DONE ? 1 : 0);
	ntm_metrics_counter(m, "ntm_node_registrations_total",
			    "Registration Responses received from the DC.", nd->registrations);
	ntm_metrics_counter(m, "ntm_node_moves_total",
			    "Changes of the host's addresses that made the node register again.",
			    nd->moves);
	ntm_metrics_gauge(m, "ntm_node_last_recreate_seconds",
			  "Time from the last move to the first tunnel re-created after it.",
			  (double)nd->last_recreate_us / 1e6);
	ntm_metrics_family(m, "ntm_node_packets_dropped_total", NTM_METRIC_COUNTER,
			   "Received packets dropped, by reason.");
	for (int i = 0; i < ND_DROP_COUNT; i++)
		ntm_metrics_sample(m, "ntm_node_packets_dropped_total", (double)nd->drops[i],
				   "reason", nd_drop_str((enum nd_drop)i), NULL);
	tunnel_metrics(nd, m);
	gena_metrics(nd, m);
}

int nd_admin_start(struct nd *nd, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = nd->cfg.admin_listen,
		.token_file = nd->cfg.admin_token_file,
		.cert_file = nd->cfg.admin_cert_file,
		.key_file = nd->cfg.admin_key_file,
		.daemon_name = "ntm-noded",
	};

	ntm_histogram_init(&nd->setup_seconds, setup_bounds,
			   sizeof(setup_bounds) / sizeof(setup_bounds[0]));
	nd->admin = ntm_admin_start(&ac, nd->loop, err, err_size);
	if (!nd->admin)
		return -1;
	ntm_admin_set_health(nd->admin, health, nd);
	ntm_admin_set_metrics(nd->admin, metrics, nd);
	if (ntm_admin_route(nd->admin, "GET", "/v1/status", get_status, nd) < 0 ||
	    ntm_admin_route(nd->admin, "GET", "/v1/tunnels", get_tunnels, nd) < 0 ||
	    ntm_admin_route(nd->admin, "GET", "/v1/tunnels/{peer}", get_tunnel, nd) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
