/*
 * The node's TUN device and its kernel configuration over rtnetlink
 * (libmnl): the node's VIP, extra local VIPs (a DLNA Agent's pool), MTU,
 * link state and routes of VIP prefixes into the device.
 */
#ifndef ND_TUN_H
#define ND_TUN_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"

/*
 * Creates (or attaches to) the TUN device name (IFF_TUN | IFF_NO_PI, so every
 * read or write is one bare IP packet), non-blocking and close-on-exec. An
 * empty name lets the kernel choose. Writes the device's name to out_name.
 * Returns the fd, or -errno with err naming the device and the cause (for
 * EPERM: "needs CAP_NET_ADMIN").
 */
int nd_tun_open(const char *name, char out_name[IFNAMSIZ], char *err, size_t err_size);

/* Sets the MTU and brings the link up. Returns 0 or -errno with err set. */
int nd_tun_up(const char *ifname, uint16_t mtu, char *err, size_t err_size);

/* Adds ip as a host address (/32 or /128) of the device; an address that is
 * already there is not an error. Returns 0 or -errno with err set. */
int nd_tun_addr_add(const char *ifname, const struct ntm_ip *ip, char *err, size_t err_size);
int nd_tun_addr_del(const char *ifname, const struct ntm_ip *ip, char *err, size_t err_size);

/* Routes prefix into the device (scope link); an existing identical route is
 * not an error. Returns 0 or -errno with err set. */
int nd_tun_route_add(const char *ifname, const struct ntm_prefix *prefix, char *err,
		     size_t err_size);

#endif
