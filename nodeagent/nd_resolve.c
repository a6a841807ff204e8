/*
 * DNS names of peers: a query for a peer's FQDN makes the agent build the
 * tunnel, and the answer (the peer's VIP) is sent once the tunnel is up, so
 * the application's first packet finds it ready.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd.h"
#include "nd_dns.h"

#define ND_RESOLVE_MAX 256

struct waiting {
	uint64_t handle;
	uint16_t qtype;
	struct nd_peer *peer;
};

static struct waiting waits[ND_RESOLVE_MAX];
static size_t n_waits;

static void answer(struct nd *nd, const struct waiting *w, const struct nd_peer *p)
{
	if (p->state == ND_PEER_UP)
		nd_dns_server_answer(nd->dns, w->handle, ND_DNS_RCODE_NOERROR, &p->vip,
				     (uint32_t)nd->cfg.dns_ttl_s);
	else
		nd_dns_server_answer(nd->dns, w->handle, ND_DNS_RCODE_NXDOMAIN, NULL, 0);
}

void nd_resolve_peer_changed(struct nd *nd, struct nd_peer *peer)
{
	size_t i = 0;

	while (i < n_waits) {
		if (waits[i].peer != peer ||
		    (peer->state != ND_PEER_UP && peer->state != ND_PEER_FAILED)) {
			i++;
			continue;
		}
		answer(nd, &waits[i], peer);
		waits[i] = waits[--n_waits];
	}
}

static void on_query(struct nd_dns_server *srv, uint64_t handle, const char *name,
		     uint16_t qtype, void *arg)
{
	struct nd *nd = arg;
	struct nd_peer *p;

	if (strcmp(name, nd->cfg.fqdn) == 0) {
		nd_dns_server_answer(srv, handle, ND_DNS_RCODE_NOERROR, &nd->vip,
				     (uint32_t)nd->cfg.dns_ttl_s);
		return;
	}
	p = nd_peer_connect(nd, name, NULL);
	if (!p || n_waits == ND_RESOLVE_MAX) {
		nd_dns_server_answer(srv, handle, ND_DNS_RCODE_SERVFAIL, NULL, 0);
		return;
	}
	waits[n_waits++] = (struct waiting){ handle, qtype, p };
	nd_resolve_peer_changed(nd, p);
}

int nd_resolve_start(struct nd *nd, char *err, size_t err_size)
{
	struct ntm_endpoint ep;

	if (nd->cfg.dns_listen[0] == '\0')
		return 0;
	if (ntm_endpoint_parse(&ep, nd->cfg.dns_listen, 53) < 0) {
		snprintf(err, err_size, "%s: invalid value '%s' for [dns] listen: expected IP:PORT",
			 nd->config_path, nd->cfg.dns_listen);
		return -1;
	}
	nd->dns = nd_dns_server_open(nd->loop, &ep, on_query, nd, err, err_size);
	return nd->dns ? 0 : -1;
}

void nd_resolve_stop(struct nd *nd)
{
	if (nd->dns)
		nd_dns_server_close(nd->dns);
	nd->dns = NULL;
	n_waits = 0;
}

void nd_resolve_peer_replaced(struct nd *nd, struct nd_peer *old, struct nd_peer *peer)
{
	for (size_t i = 0; i < n_waits; i++) {
		if (waits[i].peer == old)
			waits[i].peer = peer;
	}
}
