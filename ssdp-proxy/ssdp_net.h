/*
 * UDP sockets of ntm-ssdpd (IPv4 only, as SSDP on 239.255.255.250): the
 * shared listener on port 1900, per-interface multicast membership, the
 * sockets that send from a server's VIP, the LAN search socket, and the
 * host's interface addresses.
 */
#ifndef SSDP_NET_H
#define SSDP_NET_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ntm_addr.h"

/* One IPv4 address of an interface that is up. */
struct ssdp_ifaddr {
	char name[IF_NAMESIZE];
	unsigned ifindex;
	struct ntm_ip ip;
	bool loopback;
	bool multicast;      /* IFF_MULTICAST */
};

/*
 * Opens the listener: UDP on 0.0.0.0:1900 with SO_REUSEADDR and
 * SO_REUSEPORT, IP_PKTINFO on, IP_MULTICAST_ALL off, non-blocking. Returns
 * the descriptor, or -1 with err set. The bind fails when another program
 * has bound port 1900 without address reuse.
 */
int ssdp_net_listen(char *err, size_t err_size);

/* Joins or leaves 239.255.255.250 on ifindex. Joining twice is not an
 * error. Return 0 or -errno. */
int ssdp_net_join(int fd, unsigned ifindex);
int ssdp_net_leave(int fd, unsigned ifindex);

/* Lists the IPv4 addresses of the interfaces that are up, at most max.
 * Returns the count or -errno. */
int ssdp_net_interfaces(struct ssdp_ifaddr *out, size_t max);

/* Receives one datagram with its source, the interface it arrived on and
 * its destination address. Returns the length, -EAGAIN when none is
 * waiting, -EMSGSIZE for a datagram longer than size, or -errno. */
ssize_t ssdp_net_recv(int fd, void *buf, size_t size, struct ntm_endpoint *src,
		      unsigned *ifindex, struct ntm_ip *dst);

/* Sends len bytes to dst. Returns 0 or -errno. */
int ssdp_net_send(int fd, const void *buf, size_t len, const struct ntm_endpoint *dst);

/*
 * Opens a socket bound to vip:1900 that sends only on this host: IP_FREEBIND
 * and IP_TRANSPARENT so the VIP need not be a local address, multicast out
 * of lo with TTL 0 and loopback on. Returns the descriptor or -errno.
 */
int ssdp_net_vip_socket(const struct ntm_ip *vip);
/* Checks that this process may set IP_TRANSPARENT. Returns 0 or -errno
 * (-EPERM without CAP_NET_ADMIN or CAP_NET_RAW). */
int ssdp_net_check_transparent(void);

/* Opens the LAN search socket: bound to lan_ip with an ephemeral port,
 * multicast out of ifindex with TTL 2, the default UDA 2.0 recommends, and
 * loopback off. Returns the descriptor or -errno. */
int ssdp_net_search_socket(const struct ntm_ip *lan_ip, unsigned ifindex);

/* The multicast group and port as an endpoint. */
void ssdp_net_group(struct ntm_endpoint *ep);

#endif
