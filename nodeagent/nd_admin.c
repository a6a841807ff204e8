/* The node agent's admin API routes: registration state and tunnels. */
#include <stdio.h>
#include <string.h>

#include "nd.h"
#include "ntm_admin.h"

static json_t *endpoint_json(const struct ntm_endpoint *ep)
{
	char text[NTM_ENDPOINT_STRLEN];

	if (ep->ip.len == 0)
		return json_null();
	return json_string(ntm_endpoint_str(ep, text, sizeof(text)));
}

static json_t *ip_json(const struct ntm_ip *ip)
{
	char text[INET6_ADDRSTRLEN];

	if (ip->len == 0)
		return json_null();
	return json_string(ntm_ip_str(ip, text, sizeof(text)));
}

static const char *path_name(const struct nd_peer *p)
{
	if (p->state != ND_PEER_UP)
		return "none";
	if (nd_relay_is(p, &p->endpoint))
		return "relayed";
	return p->route == NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS ? "punched" : "direct";
}

static json_t *peer_json(const struct nd_peer *p)
{
	json_t *pool = json_array();

	for (size_t i = 0; i < p->n_pool; i++)
		json_array_append_new(pool, ip_json(&p->pool[i]));
	return json_pack("{s:s, s:o, s:o, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I}",
			 "peer_fqdn", p->fqdn, "peer_vip", ip_json(&p->vip), "pool_vips", pool,
			 "state", nd_peer_state_str(p->state), "path", path_name(p),
			 "endpoint", endpoint_json(&p->endpoint),
			 "tx_bytes", (json_int_t)p->tx_bytes, "rx_bytes", (json_int_t)p->rx_bytes,
			 "tx_packets", (json_int_t)p->tx_packets,
			 "rx_packets", (json_int_t)p->rx_packets,
			 "last_handshake_ms", (json_int_t)p->last_handshake_wall_ms,
			 "handovers", (json_int_t)p->handovers,
			 "setup_us", (json_int_t)p->setup_us, "route_case", (json_int_t)p->route);
}

static unsigned get_tunnels(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct nd *nd = arg;
	json_t *arr = json_array();

	for (size_t i = 0; i < nd->n_peers; i++)
		json_array_append_new(arr, peer_json(nd->peers[i]));
	*resp = json_pack("{s:o}", "tunnels", arr);
	return 200;
}

static json_t *drops_json(const struct nd *nd)
{
	json_t *o = json_object();

	for (int i = 0; i < ND_DROP_COUNT; i++)
		json_object_set_new(o, nd_drop_str(i), json_integer((json_int_t)nd->drops[i]));
	return o;
}

static unsigned get_status(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct nd *nd = arg;
	json_t *locals = json_array();

	for (size_t i = 0; i < nd->n_local_addrs; i++)
		json_array_append_new(locals, ip_json(&nd->local_addrs[i]));
	*resp = json_pack("{s:s, s:b, s:o, s:o, s:b, s:o, s:s, s:I, s:I, s:I, s:o}",
			  "fqdn", nd->cfg.fqdn, "registered", nd->reg == ND_REG_DONE,
			  "vip", ip_json(&nd->vip), "observed", endpoint_json(&nd->observed),
			  "behind_nat", nd->behind_nat, "local_addresses", locals,
			  "tun", nd->tun_name, "registrations", (json_int_t)nd->registrations,
			  "moves", (json_int_t)nd->moves,
			  "last_recreate_us", (json_int_t)nd->last_recreate_us,
			  "dropped", drops_json(nd));
	return 200;
}

static void health(json_t *h, void *arg)
{
	struct nd *nd = arg;

	json_object_set_new(h, "registered", json_boolean(nd->reg == ND_REG_DONE));
	json_object_set_new(h, "tunnels", json_integer((json_int_t)nd->n_peers));
}

int nd_admin_start(struct nd *nd, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = nd->cfg.admin_listen,
		.token_file = nd->cfg.admin_token_file,
		.daemon_name = "ntm-noded",
	};

	nd->admin = ntm_admin_start(&ac, nd->loop, err, err_size);
	if (!nd->admin)
		return -1;
	ntm_admin_set_health(nd->admin, health, nd);
	if (ntm_admin_route(nd->admin, "GET", "/v1/status", get_status, nd) < 0 ||
	    ntm_admin_route(nd->admin, "GET", "/v1/tunnels", get_tunnels, nd) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
