/*
 * GENA callback routes (docs/node.md, "GENA events"). The DLNA Agent
 * delivers each NOTIFY of a player's subscription from the server's VIP to
 * this node's VIP, at the port of the player's CALLBACK URL (UPnP Device
 * Architecture 2.0, section 4.1.2). An event listener bound to the host's
 * LAN address, as gupnp's is, never gets a connection to the VIP. So the
 * Agent's node names the callback's address in a GenaCallbackRoute. This
 * module then forwards TCP that arrives on the TUN device from that server
 * VIP to that port on to the callback address, with an nftables DNAT. The
 * routes live in an nftables map
 * whose elements time out, so the kernel drops a route when its
 * subscription ends without a word from the Agent. The table goes when the
 * daemon stops, and a table a crashed daemon left goes at the next start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd.h"
#include "ntm_nft.h"
#include "ntm_time.h"

#define ND_GENA_TABLE "ntm_noded"
#define ND_GENA_MAP "gena"
/* Routes kept at once: a player subscribes to a few services per server. */
#define ND_GENA_MAX_ROUTES 256
/* A refresh that extends a route by less than this, in ms, leaves the
 * kernel's element alone. The Agent adds a minute of grace to every
 * lifetime, and a player that subscribes to many services at once would
 * otherwise rewrite the same element for each of them. */
#define ND_GENA_REFRESH_SLACK_MS 30000

struct gena_route {
	struct ntm_ip server_vip;
	uint16_t port;
	struct ntm_ip host;
	uint64_t expires_ms;    /* monotonic, as the kernel's element timeout */
};

struct nd_gena {
	bool table_ready;
	struct gena_route routes[ND_GENA_MAX_ROUTES];
	size_t n_routes;
	uint64_t installed, rejected, failed;
	struct ntm_ratelimit log_limit;
};

/*
 * Creates the table. nd_gena_start removed one a killed daemon left, and
 * the flushes keep the rules single should it be back all the same. The
 * forward rule drops what a route would send to another host, should a
 * callback address no longer be local (the host moved) while the host
 * forwards packets.
 */
static int create_table(struct nd *nd, char *err, size_t err_size)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "add table ip " ND_GENA_TABLE "\n"
		 "add chain ip " ND_GENA_TABLE " prerouting { type nat hook prerouting "
		 "priority dstnat; policy accept; }\n"
		 "add chain ip " ND_GENA_TABLE " forward { type filter hook forward "
		 "priority filter; policy accept; }\n"
		 "add map ip " ND_GENA_TABLE " " ND_GENA_MAP " { type ipv4_addr . inet_service : "
		 "ipv4_addr; flags timeout; }\n"
		 "flush chain ip " ND_GENA_TABLE " prerouting\n"
		 "flush chain ip " ND_GENA_TABLE " forward\n"
		 "flush map ip " ND_GENA_TABLE " " ND_GENA_MAP "\n"
		 "add rule ip " ND_GENA_TABLE " prerouting iifname \"%s\" "
		 "dnat ip to ip saddr . tcp dport map @" ND_GENA_MAP "\n"
		 "add rule ip " ND_GENA_TABLE " forward iifname \"%s\" ct status dnat drop\n",
		 nd->tun_name, nd->tun_name);
	return ntm_nft_run(cmd, err, err_size);
}

static void purge_expired(struct nd_gena *g, uint64_t now)
{
	size_t i = 0;

	while (i < g->n_routes) {
		if (g->routes[i].expires_ms <= now)
			g->routes[i] = g->routes[--g->n_routes];
		else
			i++;
	}
}

static struct gena_route *find_route(struct nd_gena *g, const struct ntm_ip *server_vip,
				     uint16_t port)
{
	for (size_t i = 0; i < g->n_routes; i++) {
		if (g->routes[i].port == port && ntm_ip_equal(&g->routes[i].server_vip, server_vip))
			return &g->routes[i];
	}
	return NULL;
}

static bool is_local_address(const struct nd *nd, const struct ntm_ip *ip)
{
	for (size_t i = 0; i < nd->n_local_addrs; i++) {
		if (ntm_ip_equal(&nd->local_addrs[i], ip))
			return true;
	}
	return false;
}

/* Writes the map element's key, "VIP . PORT". */
static void element_key(const struct gena_route *r, char *out, size_t size)
{
	char vip[INET6_ADDRSTRLEN];

	snprintf(out, size, "%s . %u", ntm_ip_str(&r->server_vip, vip, sizeof(vip)),
		 (unsigned)r->port);
}

static void delete_element(const struct gena_route *r)
{
	char key[INET6_ADDRSTRLEN + 8], cmd[256], err[256];

	element_key(r, key, sizeof(key));
	snprintf(cmd, sizeof(cmd), "delete element ip " ND_GENA_TABLE " " ND_GENA_MAP " { %s }\n",
		 key);
	/* Fails harmlessly when the kernel timed it out already. */
	ntm_nft_run(cmd, err, sizeof(err));
}

/*
 * Puts r into the kernel's map with the time left until r->expires_ms. An
 * element's timeout cannot be extended in place (nftables 1.0), so an
 * element this daemon installed is deleted first. A new one is created in
 * one step, and deleted and added only should it exist all the same
 * ("create" fails), so the first route of a subscription is fast.
 */
static int write_element(const struct gena_route *r, bool known, uint64_t now, char *err,
			 size_t err_size)
{
	char key[INET6_ADDRSTRLEN + 8], host[INET6_ADDRSTRLEN], cmd[256];
	uint64_t seconds = (r->expires_ms - now + 999) / 1000;

	element_key(r, key, sizeof(key));
	ntm_ip_str(&r->host, host, sizeof(host));
	if (!known) {
		snprintf(cmd, sizeof(cmd),
			 "create element ip " ND_GENA_TABLE " " ND_GENA_MAP
			 " { %s timeout %llus : %s }\n",
			 key, (unsigned long long)seconds, host);
		if (ntm_nft_run(cmd, err, err_size) == 0)
			return 0;
	}
	delete_element(r);
	snprintf(cmd, sizeof(cmd),
		 "add element ip " ND_GENA_TABLE " " ND_GENA_MAP " { %s timeout %llus : %s }\n",
		 key, (unsigned long long)seconds, host);
	return ntm_nft_run(cmd, err, err_size);
}

/*
 * Checks a route a peer asked for. The peer must be the DLNA Agent the local
 * ntm-ssdpd searches through, the NOTIFYs must come from a server VIP of its
 * pool, and the callback must be an address of this host other than
 * loopback. So no other peer can open a path to the host's LAN address, and
 * no peer can reach another host or a loopback service through this node.
 * Returns NULL when it is acceptable, else the reason.
 */
static const char *check_route(struct nd *nd, struct nd_peer *p, const struct gena_route *r)
{
	if (!p->dlna_agent)
		return "GENA callback route: the peer is not the DLNA Agent this node's ntm-ssdpd uses";
	if (ntm_ip_equal(&r->server_vip, &p->vip) || nd_peer_by_vip(nd, &r->server_vip) != p)
		return "GENA callback route: the server VIP is not in the peer's VIP pool";
	if (!is_local_address(nd, &r->host))
		return "GENA callback route: the callback host is not an address of this host";
	return NULL;
}

static struct nd_gena *gena_state(struct nd *nd)
{
	if (!nd->gena) {
		nd->gena = calloc(1, sizeof(*nd->gena));
		if (nd->gena)
			nd->gena->log_limit = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(20, 5);
	}
	return nd->gena;
}

/* Stores r and installs it, unless a route to the same host lasts about as
 * long already: several subscriptions of one listener share a route, and a
 * shorter lifetime must not cut another's short. Returns 0 when it
 * installed a new route, 1 when the route was in place, 2 when it extended
 * it, or -errno. */
static int store_route(struct nd *nd, struct nd_gena *g, const struct gena_route *r,
		       uint64_t now, char *err, size_t err_size)
{
	struct gena_route *old;

	purge_expired(g, now);
	old = find_route(g, &r->server_vip, r->port);
	if (old && ntm_ip_equal(&old->host, &r->host) &&
	    old->expires_ms + ND_GENA_REFRESH_SLACK_MS >= r->expires_ms)
		return 1;
	if (!old && g->n_routes == ND_GENA_MAX_ROUTES) {
		snprintf(err, err_size, "all %d GENA callback routes are in use",
			 ND_GENA_MAX_ROUTES);
		return -ENOSPC;
	}
	if (!g->table_ready) {
		if (create_table(nd, err, err_size) < 0)
			return -EIO;
		g->table_ready = true;
	}

	if (write_element(r, old != NULL, now, err, err_size) < 0)
		return -EIO;

	int rc = old && ntm_ip_equal(&old->host, &r->host) ? 2 : 0;

	if (!old)
		old = &g->routes[g->n_routes++];
	*old = *r;
	return rc;
}

void nd_gena_route(struct nd *nd, struct nd_peer *p, const Ntm__GenaCallbackRoute *m)
{
	struct gena_route r = { .port = (uint16_t)m->callback->port };
	struct nd_gena *g = gena_state(nd);
	uint64_t now = ntm_now_ms();
	char err[512], vip[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN];
	const char *why;
	int rc;

	if (!g || ntm_msg_ip_get(&r.server_vip, m->server_vip) < 0 ||
	    ntm_msg_ip_get(&r.host, m->callback->ip) < 0) {
		nd_drop(nd, &p->endpoint, ND_DROP_BAD_MESSAGE, "GENA callback route: bad address");
		return;
	}
	r.expires_ms = now + (uint64_t)m->lifetime_s * 1000;
	why = check_route(nd, p, &r);
	if (why) {
		char line[NTM_FQDN_MAX + 160];

		g->rejected++;
		snprintf(line, sizeof(line), "peer %s: %s", p->fqdn, why);
		nd_drop(nd, &p->endpoint, ND_DROP_BAD_MESSAGE, line);
		return;
	}
	ntm_ip_str(&r.server_vip, vip, sizeof(vip));
	ntm_ip_str(&r.host, host, sizeof(host));
	rc = store_route(nd, g, &r, now, err, sizeof(err));
	if (rc < 0) {
		g->failed++;
		if (ntm_ratelimit_allow(&g->log_limit, now))
			log_warn("%s: GENA callback route from %s to %s:%u not installed: %s",
				 p->fqdn, vip, host, (unsigned)r.port, err);
		return;
	}
	if (rc == 1)
		return;
	g->installed++;
	if (rc == 0 && ntm_ratelimit_allow(&g->log_limit, now))
		log_info("%s: GENA events from %s to port %u go to %s for %u s", p->fqdn, vip,
			 (unsigned)r.port, host, (unsigned)m->lifetime_s);
	else
		log_debug("%s: GENA callback route from %s to %s:%u extended to %u s", p->fqdn,
			  vip, host, (unsigned)r.port, (unsigned)m->lifetime_s);
}

void nd_gena_addresses_changed(struct nd *nd)
{
	struct nd_gena *g = nd->gena;
	char host[INET6_ADDRSTRLEN];
	size_t i = 0;

	while (g && i < g->n_routes) {
		struct gena_route *r = &g->routes[i];

		if (is_local_address(nd, &r->host)) {
			i++;
			continue;
		}
		log_info("GENA callback route to %s:%u removed: no longer an address of this host",
			 ntm_ip_str(&r->host, host, sizeof(host)), (unsigned)r->port);
		delete_element(r);
		*r = g->routes[--g->n_routes];
	}
}

void nd_gena_get_stats(const struct nd *nd, struct nd_gena_stats *out)
{
	const struct nd_gena *g = nd->gena;
	uint64_t now = ntm_now_ms();

	*out = (struct nd_gena_stats){ 0 };
	if (!g)
		return;
	for (size_t i = 0; i < g->n_routes; i++)
		out->routes += g->routes[i].expires_ms > now;
	out->installed = g->installed;
	out->rejected = g->rejected;
	out->failed = g->failed;
}

void nd_gena_start(struct nd *nd)
{
	char err[256];

	/* A table left by a daemon that was killed contains routes this process
	 * does not know; the Agent sends the live ones again within a minute. */
	if (ntm_nft_run("delete table ip " ND_GENA_TABLE "\n", err, sizeof(err)) == 0)
		log_info("GENA callback routes: removed the table a previous run left");
}

void nd_gena_stop(struct nd *nd)
{
	char err[256];

	if (ntm_nft_run("delete table ip " ND_GENA_TABLE "\n", err, sizeof(err)) < 0 &&
	    nd->gena && nd->gena->table_ready)
		log_warn("GENA callback routes: cannot delete table ip " ND_GENA_TABLE ": %s", err);
	free(nd->gena);
	nd->gena = NULL;
}
