/*
 * Mobility: a netlink event (an address or default route changed) makes the
 * node re-register from its new address and re-create every tunnel. The VIPs
 * stay, so connections between VIPs continue.
 */
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "nd.h"
#include "nd_handshake.h"
#include "nd_netlink.h"
#include "ntm_time.h"

bool nd_mobility_refresh(struct nd *nd)
{
	struct ntm_ip addrs[ND_MAX_LOCAL_ADDRS];
	int n = nd_local_addresses(addrs, ND_MAX_LOCAL_ADDRS, nd->tun_name);

	if (n < 0) {
		log_warn("cannot list the host's addresses: %s", strerror(-n));
		return false;
	}

	bool changed = (size_t)n != nd->n_local_addrs ||
		       memcmp(addrs, nd->local_addrs, (size_t)n * sizeof(addrs[0])) != 0;

	memcpy(nd->local_addrs, addrs, (size_t)n * sizeof(addrs[0]));
	nd->n_local_addrs = (size_t)n;
	return changed;
}

static void log_addresses(const struct nd *nd)
{
	char line[ND_MAX_LOCAL_ADDRS * (INET6_ADDRSTRLEN + 1)] = "";
	size_t off = 0;

	for (size_t i = 0; i < nd->n_local_addrs && off < sizeof(line); i++) {
		char ip[INET6_ADDRSTRLEN];
		int w = snprintf(line + off, sizeof(line) - off, "%s%s", i ? " " : "",
				 ntm_ip_str(&nd->local_addrs[i], ip, sizeof(ip)));

		if (w > 0)
			off += (size_t)w;
	}
	log_info("addresses changed, now: %s", nd->n_local_addrs ? line : "(none)");
}

/* Re-registers with the DC and, in parallel, re-handshakes straight to each
 * peer (enough when the peer is not behind a filtering NAT; otherwise the
 * Route Direction after the registration does it). */
static void resend(struct nd *nd)
{
	nd->reregister_for_move = true;
	nd_dc_register(nd);
	for (size_t i = 0; i < nd->n_peers; i++) {
		struct nd_peer *p = nd->peers[i];

		nd_relay_rebind(nd, p);
		if (p->state == ND_PEER_UP)
			nd_hs_rehandshake(nd, p);
	}
}

/* Acts on a move to a network with at least one address. */
static void on_move(struct nd *nd)
{
	log_addresses(nd);
	if (nd->n_local_addrs == 0)
		return;   /* no network: wait for the next event */
	nd->moves++;
	nd->last_recreate_us = 0;
	nd->move_pending = true;
	nd->unroutable_at_move = nd->unroutable_sends;
	resend(nd);
}

static void on_change(void *arg)
{
	struct nd *nd = arg;

	if (nd_mobility_refresh(nd)) {
		nd->move_us = ntm_now_us();
		nd_gena_addresses_changed(nd);
		on_move(nd);
		return;
	}
	/* A route that appears after the address (as DHCP clients add them)
	 * makes the packets that found no route at the address change
	 * deliverable now. Nothing is resent when none was lost, so one move
	 * makes one registration. */
	if (nd->move_pending && nd->last_recreate_us == 0 &&
	    nd->unroutable_sends != nd->unroutable_at_move) {
		nd->move_us = ntm_now_us();
		nd->unroutable_at_move = nd->unroutable_sends;
		resend(nd);
	}
}

static void on_netlink(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct nd *nd = arg;

	nd_netlink_read(nd->netlink);
}

int nd_mobility_start(struct nd *nd, char *err, size_t err_size)
{
	nd->netlink = nd_netlink_open(nd->tun_name, on_change, nd, err, err_size);
	if (!nd->netlink)
		return -1;
	if (ntm_loop_add_fd(nd->loop, nd_netlink_fd(nd->netlink), ZMQ_POLLIN, on_netlink, nd) < 0) {
		snprintf(err, err_size, "cannot add the netlink socket to the event loop");
		return -1;
	}
	nd_mobility_refresh(nd);
	return 0;
}

void nd_mobility_stop(struct nd *nd)
{
	if (!nd->netlink)
		return;
	ntm_loop_del_fd(nd->loop, nd_netlink_fd(nd->netlink));
	nd_netlink_close(nd->netlink);
	nd->netlink = NULL;
}
