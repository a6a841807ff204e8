/* UDP sockets and interface addresses of ntm-ssdpd. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssdp_msg.h"
#include "ssdp_net.h"

/* UDA 2.0 recommends a default TTL of 2 for multicast SSDP. */
#define SSDP_LAN_TTL 2

void ssdp_net_group(struct ntm_endpoint *ep)
{
	ntm_ip_parse(&ep->ip, SSDP_MULTICAST_ADDR);
	ep->port = SSDP_PORT;
}

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

static struct sockaddr_in sockaddr_v4(const struct ntm_ip *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (ip && ip->len == 4)
		memcpy(&sin.sin_addr, ip->bytes, 4);
	return sin;
}

/* Says what to do about a failed bind of port 1900. */
static const char *bind_error_hint(int e)
{
	if (e == EADDRINUSE)
		return "; another program has bound port 1900 without SO_REUSEADDR and "
		       "SO_REUSEPORT (see 'ss -ulpn sport = :1900'); stop it or let it share the port";
	if (e == EACCES)
		return "; binding port 1900 needs root or CAP_NET_BIND_SERVICE";
	return "";
}

int ssdp_net_listen(char *err, size_t err_size)
{
	struct sockaddr_in any = sockaddr_v4(NULL, SSDP_PORT);
	int fd = udp_socket();

	if (fd < 0) {
		snprintf(err, err_size, "cannot create a UDP socket: %s", strerror(-fd));
		return -1;
	}
	if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
	    set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0 ||
	    set_int(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0 ||
	    set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0) < 0) {
		snprintf(err, err_size, "cannot set the options of the SSDP socket: %s",
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
		int e = errno;

		snprintf(err, err_size, "cannot bind UDP 0.0.0.0:%d: %s%s", SSDP_PORT, strerror(e),
			 bind_error_hint(e));
		close(fd);
		return -1;
	}
	return fd;
}

static int membership(int fd, unsigned ifindex, int option)
{
	struct ip_mreqn mreq = { .imr_ifindex = (int)ifindex };

	inet_pton(AF_INET, SSDP_MULTICAST_ADDR, &mreq.imr_multiaddr);
	if (setsockopt(fd, IPPROTO_IP, option, &mreq, sizeof(mreq)) < 0)
		return -errno;
	return 0;
}

int ssdp_net_join(int fd, unsigned ifindex)
{
	int rc = membership(fd, ifindex, IP_ADD_MEMBERSHIP);

	return rc == -EADDRINUSE ? 0 : rc;
}

int ssdp_net_leave(int fd, unsigned ifindex)
{
	return membership(fd, ifindex, IP_DROP_MEMBERSHIP);
}

int ssdp_net_interfaces(struct ssdp_ifaddr *out, size_t max)
{
	struct ifaddrs *list, *ifa;
	size_t n = 0;

	if (getifaddrs(&list) < 0)
		return -errno;
	for (ifa = list; ifa && n < max; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET ||
		    !(ifa->ifa_flags & IFF_UP))
			continue;

		const struct sockaddr_in *sin = (const struct sockaddr_in *)ifa->ifa_addr;
		struct ssdp_ifaddr *a = &out[n];

		snprintf(a->name, sizeof(a->name), "%s", ifa->ifa_name);
		a->ifindex = if_nametoindex(ifa->ifa_name);
		if (a->ifindex == 0)
			continue;
		ntm_ip_from_bytes(&a->ip, (const uint8_t *)&sin->sin_addr, 4);
		a->loopback = ifa->ifa_flags & IFF_LOOPBACK;
		a->multicast = ifa->ifa_flags & IFF_MULTICAST;
		n++;
	}
	freeifaddrs(list);
	return (int)n;
}

static void read_pktinfo(struct msghdr *mh, unsigned *ifindex, struct ntm_ip *dst)
{
	*ifindex = 0;
	dst->len = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
			continue;

		struct in_pktinfo pi;

		memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		*ifindex = (unsigned)pi.ipi_ifindex;
		ntm_ip_from_bytes(dst, (const uint8_t *)&pi.ipi_addr, 4);
	}
}

ssize_t ssdp_net_recv(int fd, void *buf, size_t size, struct ntm_endpoint *src,
		      unsigned *ifindex, struct ntm_ip *dst)
{
	struct sockaddr_storage from;
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (ntm_endpoint_from_sockaddr(src, (struct sockaddr *)&from, mh.msg_namelen) < 0)
		return -EAFNOSUPPORT;
	read_pktinfo(&mh, ifindex, dst);
	return n;
}

int ssdp_net_send(int fd, const void *buf, size_t len, const struct ntm_endpoint *dst)
{
	struct sockaddr_in to = sockaddr_v4(&dst->ip, dst->port);

	if (dst->ip.len != 4)
		return -EAFNOSUPPORT;
	if (sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static int multicast_out(int fd, unsigned ifindex, int ttl, int loop)
{
	struct ip_mreqn mreq = { .imr_ifindex = (int)ifindex };

	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) < 0)
		return -errno;
	if (set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl) < 0)
		return -errno;
	return set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop);
}

/*
 * IP_FREEBIND lets the socket bind an address that is not local, but on
 * Linux 6.x a send from it then fails with ENETUNREACH, because the route
 * lookup wants a local source address. IP_TRANSPARENT lifts that check, and
 * it needs CAP_NET_ADMIN or CAP_NET_RAW.
 */
int ssdp_net_vip_socket(const struct ntm_ip *vip)
{
	struct sockaddr_in sin = sockaddr_v4(vip, SSDP_PORT);
	unsigned lo = if_nametoindex("lo");
	int fd = udp_socket(), rc;

	if (fd < 0)
		return fd;
	if (vip->len != 4 || lo == 0) {
		rc = -EAFNOSUPPORT;
		goto fail;
	}
	rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (rc == 0)
		rc = set_int(fd, IPPROTO_IP, IP_FREEBIND, 1);
	if (rc == 0)
		rc = set_int(fd, IPPROTO_IP, IP_TRANSPARENT, 1);
	if (rc == 0)
		rc = multicast_out(fd, lo, 0, 1);
	if (rc == 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		rc = -errno;
	if (rc == 0)
		return fd;
fail:
	close(fd);
	return rc;
}

int ssdp_net_check_transparent(void)
{
	int fd = udp_socket(), rc;

	if (fd < 0)
		return fd;
	rc = set_int(fd, IPPROTO_IP, IP_TRANSPARENT, 1);
	close(fd);
	return rc;
}

int ssdp_net_search_socket(const struct ntm_ip *lan_ip, unsigned ifindex)
{
	struct sockaddr_in sin = sockaddr_v4(lan_ip, 0);
	int fd = udp_socket(), rc;

	if (fd < 0)
		return fd;
	/* Loop on: a media server on this very host (the Agent may run on it)
	 * must hear the search too. Its unicast answers come back here. */
	rc = multicast_out(fd, ifindex, SSDP_LAN_TTL, 1);
	if (rc == 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		rc = -errno;
	if (rc == 0)
		return fd;
	close(fd);
	return rc;
}
