/*
 * Watches the host's addresses and routes with rtnetlink (libmnl), so the
 * node agent notices a move to another network at once.
 */
#ifndef ND_NETLINK_H
#define ND_NETLINK_H

#include <stddef.h>

#include "ntm_addr.h"

struct nd_netlink;

/* Called once per batch of relevant messages read by nd_netlink_read: an
 * address added or removed, or a default route changed, on any interface but
 * the ignored one. */
typedef void (*nd_netlink_cb)(void *arg);

/* Subscribes to RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_IPV4_ROUTE and
 * RTMGRP_IPV6_ROUTE. ignore_ifname (the node's TUN device) may be NULL.
 * Returns NULL with err set. */
struct nd_netlink *nd_netlink_open(const char *ignore_ifname, nd_netlink_cb cb, void *arg,
				   char *err, size_t err_size);
void nd_netlink_close(struct nd_netlink *nl);
/* The socket to poll for reading. */
int nd_netlink_fd(const struct nd_netlink *nl);
/* Reads every pending message without blocking and calls cb when one was
 * relevant. Returns 0 or -errno (ENOBUFS after an overrun: cb is called so the
 * caller re-reads its state). */
int nd_netlink_read(struct nd_netlink *nl);

/*
 * Lists the host's usable unicast addresses: IPv4 and global IPv6, not
 * loopback, not link-local, not tentative, not on ignore_ifname. Returns the
 * number written to out (at most max), or -errno.
 */
int nd_local_addresses(struct ntm_ip *out, size_t max, const char *ignore_ifname);

#endif
