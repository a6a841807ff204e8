/*
 * Unit tests for the node's TUN device (nd_tun): creation, link state, MTU,
 * addresses and routes, read back from the kernel, and packets routed into
 * the device. Each test runs in a child process inside a network namespace of
 * its own, so the host's network is never touched. The namespace and all its
 * devices go away when the child exits. The tests need root and are skipped
 * without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns_child.h"
#include "nd_tun.h"
#include "ntm_addr.h"

/* Time to wait for a packet on the TUN device. */
#define PACKET_TIMEOUT_MS 2000

#define TUN_NAME "ntmtest0"
#define TUN_MTU 1420

/* ---- reading the kernel's state back ---- */

struct addr_entry {
	unsigned int index;
	uint8_t prefixlen;
	uint32_t flags;
	struct ntm_ip ip;
};

struct route_entry {
	struct rtmsg rtm;
	uint32_t table;
	uint32_t oif;
	struct ntm_ip dst;
};

struct dump_result {
	struct addr_entry addrs[32];
	size_t addr_count;
	struct route_entry routes[64];
	size_t route_count;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_entry *entry = data;
	uint16_t type = mnl_attr_get_type(attr);
	uint16_t len = mnl_attr_get_payload_len(attr);

	if (type == IFA_ADDRESS && (len == 4 || len == 16))
		ntm_ip_from_bytes(&entry->ip, mnl_attr_get_payload(attr), len);
	if (type == IFA_FLAGS && len == 4)
		entry->flags = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_entry *entry = data;
	uint16_t type = mnl_attr_get_type(attr);
	uint16_t len = mnl_attr_get_payload_len(attr);

	if (type == RTA_DST && (len == 4 || len == 16))
		ntm_ip_from_bytes(&entry->dst, mnl_attr_get_payload(attr), len);
	if (type == RTA_TABLE && len == 4)
		entry->table = mnl_attr_get_u32(attr);
	if (type == RTA_OIF && len == 4)
		entry->oif = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_result *result = data;

	if (nlh->nlmsg_type == RTM_NEWADDR && result->addr_count < 32) {
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
		struct addr_entry *entry = &result->addrs[result->addr_count++];

		memset(entry, 0, sizeof(*entry));
		entry->index = ifa->ifa_index;
		entry->prefixlen = ifa->ifa_prefixlen;
		entry->flags = ifa->ifa_flags;
		mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, entry);
	}
	if (nlh->nlmsg_type == RTM_NEWROUTE && result->route_count < 64) {
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
		struct route_entry *entry = &result->routes[result->route_count++];

		memset(entry, 0, sizeof(*entry));
		entry->rtm = *rtm;
		entry->table = rtm->rtm_table;
		mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, entry);
	}
	return MNL_CB_OK;
}

/* Dumps the addresses (RTM_GETADDR) or routes (RTM_GETROUTE) of family. */
static void dump(uint16_t type, uint8_t family, struct dump_result *result)
{
	static alignas(struct nlmsghdr) uint8_t buf[32768];
	struct mnl_socket *sock = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int rc;

	CHECK(sock != NULL);
	CHECK(mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) == 0);
	memset(result, 0, sizeof(*result));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	/* rtmsg is the larger header; its first byte is the family in both. */
	rtm = mnl_nlmsg_put_extra_header(nlh, type == RTM_GETROUTE ? sizeof(*rtm)
								    : sizeof(struct ifaddrmsg));
	rtm->rtm_family = family;
	CHECK(mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) >= 0);
	do {
		ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof(buf));

		CHECK(n > 0);
		rc = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(sock), dump_cb, result);
		CHECK(rc != MNL_CB_ERROR);
	} while (rc > MNL_CB_STOP);
	mnl_socket_close(sock);
}

static struct ntm_ip ip_of(const char *text)
{
	struct ntm_ip ip;

	CHECK(ntm_ip_parse(&ip, text) == 0);
	return ip;
}

static struct ntm_prefix prefix_of(const char *text)
{
	struct ntm_prefix prefix;

	CHECK(ntm_prefix_parse(&prefix, text) == 0);
	return prefix;
}

/* Counts the addresses equal to ip on the interface index. */
static size_t addr_count(unsigned int index, const char *ip, const struct addr_entry **found)
{
	struct dump_result *result = calloc(1, sizeof(*result));
	struct ntm_ip want = ip_of(ip);
	static struct addr_entry last;
	size_t count = 0;

	CHECK(result != NULL);
	dump(RTM_GETADDR, want.len == 4 ? AF_INET : AF_INET6, result);
	for (size_t i = 0; i < result->addr_count; i++) {
		if (result->addrs[i].index == index && ntm_ip_equal(&result->addrs[i].ip, &want)) {
			last = result->addrs[i];
			count++;
		}
	}
	free(result);
	if (found != NULL)
		*found = &last;
	return count;
}

/* Counts the main-table routes to prefix; *found is the last one. */
static size_t route_count(const char *prefix, struct route_entry *found)
{
	struct dump_result *result = calloc(1, sizeof(*result));
	struct ntm_prefix want = prefix_of(prefix);
	size_t count = 0;

	CHECK(result != NULL);
	dump(RTM_GETROUTE, want.ip.len == 4 ? AF_INET : AF_INET6, result);
	for (size_t i = 0; i < result->route_count; i++) {
		const struct route_entry *entry = &result->routes[i];

		if (entry->table == RT_TABLE_MAIN && entry->rtm.rtm_dst_len == want.len &&
		    ntm_ip_equal(&entry->dst, &want.ip)) {
			*found = *entry;
			count++;
		}
	}
	free(result);
	return count;
}

static int if_ioctl(unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	CHECK(fd >= 0);
	rc = ioctl(fd, request, ifr);
	close(fd);
	return rc;
}

/* ---- setting up the device ---- */

/* Opens TUN_NAME, brings it up with TUN_MTU and adds addr (may be NULL). */
static int tun_setup(const char *addr)
{
	char name[IFNAMSIZ], err[256] = "";
	struct ntm_ip ip;
	int fd = nd_tun_open(TUN_NAME, name, err, sizeof(err));

	CHECK_ERR(fd >= 0, err);
	CHECK_ERR(nd_tun_up(TUN_NAME, TUN_MTU, err, sizeof(err)) == 0, err);
	if (addr != NULL) {
		ip = ip_of(addr);
		CHECK_ERR(nd_tun_addr_add(TUN_NAME, &ip, err, sizeof(err)) == 0, err);
	}
	return fd;
}

/* Reads packets from the TUN device until one of protocol (IPPROTO_UDP) and
 * IP version arrives. Returns its length. */
static size_t tun_read_udp(int fd, int version, uint8_t *buf, size_t size)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		CHECK(poll(&pfd, 1, PACKET_TIMEOUT_MS) == 1);
		n = read(fd, buf, size);
		CHECK(n > 0);
		if (version == 4 && (buf[0] >> 4) == 4 && (size_t)n >= sizeof(struct iphdr) &&
		    ((struct iphdr *)buf)->protocol == IPPROTO_UDP)
			return (size_t)n;
		if (version == 6 && (buf[0] >> 4) == 6 && (size_t)n >= sizeof(struct ip6_hdr) &&
		    ((struct ip6_hdr *)buf)->ip6_nxt == IPPROTO_UDP)
			return (size_t)n;
	}
}

/* ---- the test bodies, run in the child ---- */

static void body_open_named(void)
{
	char name[IFNAMSIZ], err[256] = "";
	int fd = nd_tun_open(TUN_NAME, name, err, sizeof(err));

	CHECK_ERR(fd >= 0, err);
	CHECK(strcmp(name, TUN_NAME) == 0);
	CHECK(if_nametoindex(TUN_NAME) != 0);
	CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);

	/* Not persistent: the device goes away with its last descriptor. */
	close(fd);
	CHECK(if_nametoindex(TUN_NAME) == 0);
}

static void body_open_kernel_name(void)
{
	char name[IFNAMSIZ], err[256] = "";
	int fd = nd_tun_open("", name, err, sizeof(err));

	CHECK_ERR(fd >= 0, err);
	CHECK(strncmp(name, "tun", 3) == 0);
	CHECK(if_nametoindex(name) != 0);
	close(fd);
}

static void body_open_errors(void)
{
	char name[IFNAMSIZ], err[256] = "";

	CHECK(nd_tun_open("ntmtest-name-too-long", name, err, sizeof(err)) == -EINVAL);
	CHECK_ERR(strstr(err, "too long") != NULL, err);

	err[0] = '\0';
	CHECK(nd_tun_open("lo", name, err, sizeof(err)) == -EINVAL);
	CHECK_ERR(strstr(err, "'lo'") != NULL, err);
	CHECK_ERR(strstr(err, "not a TUN device") != NULL, err);
}

static void body_up_sets_mtu(void)
{
	struct ifreq ifr = {0};
	int fd = tun_setup(NULL);

	memcpy(ifr.ifr_name, TUN_NAME, sizeof(TUN_NAME));
	CHECK(if_ioctl(SIOCGIFMTU, &ifr) == 0);
	CHECK(ifr.ifr_mtu == TUN_MTU);
	CHECK(if_ioctl(SIOCGIFFLAGS, &ifr) == 0);
	CHECK((ifr.ifr_flags & IFF_UP) != 0);
	close(fd);
}

static void body_up_bad_mtu(void)
{
	char name[IFNAMSIZ], err[256] = "";
	int fd = nd_tun_open(TUN_NAME, name, err, sizeof(err));

	CHECK_ERR(fd >= 0, err);
	/* 20 bytes is below the TUN device's minimum of 68. */
	CHECK(nd_tun_up(TUN_NAME, 20, err, sizeof(err)) == -EINVAL);
	CHECK_ERR(strstr(err, TUN_NAME) != NULL, err);
	CHECK_ERR(strstr(err, "MTU 20") != NULL, err);
	close(fd);
}

static void body_addr_add_twice(void)
{
	const struct addr_entry *entry = NULL;
	struct ntm_ip ip = ip_of("198.51.100.7");
	char err[256] = "";
	int fd = tun_setup("198.51.100.7");
	unsigned int index = if_nametoindex(TUN_NAME);

	CHECK(addr_count(index, "198.51.100.7", &entry) == 1);
	CHECK(entry->prefixlen == 32);

	CHECK_ERR(nd_tun_addr_add(TUN_NAME, &ip, err, sizeof(err)) == 0, err);
	CHECK(addr_count(index, "198.51.100.7", NULL) == 1);
	close(fd);
}

static void body_addr_del(void)
{
	struct ntm_ip ip = ip_of("198.51.100.7");
	char err[256] = "";
	int fd = tun_setup("198.51.100.7");
	unsigned int index = if_nametoindex(TUN_NAME);

	CHECK_ERR(nd_tun_addr_del(TUN_NAME, &ip, err, sizeof(err)) == 0, err);
	CHECK(addr_count(index, "198.51.100.7", NULL) == 0);

	CHECK(nd_tun_addr_del(TUN_NAME, &ip, err, sizeof(err)) == -EADDRNOTAVAIL);
	CHECK_ERR(strstr(err, "removing address 198.51.100.7/32") != NULL, err);
	CHECK_ERR(strstr(err, TUN_NAME) != NULL, err);
	close(fd);
}

static void body_route_add(void)
{
	struct ntm_prefix prefix = prefix_of("198.51.100.0/24");
	struct route_entry route;
	char err[256] = "";
	int fd = tun_setup("198.51.100.7");

	CHECK_ERR(nd_tun_route_add(TUN_NAME, &prefix, err, sizeof(err)) == 0, err);
	CHECK(route_count("198.51.100.0/24", &route) == 1);
	CHECK(route.oif == if_nametoindex(TUN_NAME));
	CHECK(route.rtm.rtm_scope == RT_SCOPE_LINK);
	CHECK(route.rtm.rtm_protocol == RTPROT_STATIC);
	CHECK(route.rtm.rtm_type == RTN_UNICAST);

	/* The same route again is not an error and stays one route. */
	CHECK_ERR(nd_tun_route_add(TUN_NAME, &prefix, err, sizeof(err)) == 0, err);
	CHECK(route_count("198.51.100.0/24", &route) == 1);
	close(fd);
}

static void body_packet_ipv4(void)
{
	struct ntm_prefix prefix = prefix_of("198.51.100.0/24");
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	uint8_t packet[2048];
	const struct iphdr *iph = (const struct iphdr *)packet;
	char err[256] = "";
	int fd = tun_setup("198.51.100.7");
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	size_t len;

	CHECK_ERR(nd_tun_route_add(TUN_NAME, &prefix, err, sizeof(err)) == 0, err);
	CHECK(udp >= 0);
	CHECK(inet_pton(AF_INET, "198.51.100.9", &to.sin_addr) == 1);
	CHECK(sendto(udp, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)) == 4);

	/* IFF_NO_PI: the read starts with the IPv4 header itself. */
	len = tun_read_udp(fd, 4, packet, sizeof(packet));
	CHECK(ntohs(iph->tot_len) == len);
	CHECK(iph->daddr == to.sin_addr.s_addr);
	CHECK(iph->saddr == htonl(0xc6336407)); /* 198.51.100.7, the device's address */
	CHECK(len == (size_t)iph->ihl * 4 + 8 + 4);
	close(udp);
	close(fd);
}

/* RFC 1071 Internet checksum of an IPv4 header. */
static uint16_t ipv4_checksum(const uint8_t *header, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(header[i] << 8 | header[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Builds a UDP datagram from 198.51.100.9:4000 to 198.51.100.7:port carrying
 * payload (UDP checksum 0: none, allowed over IPv4). Returns its length. */
static size_t udp_packet_build(uint8_t *buf, uint16_t port, const char *payload)
{
	size_t payload_len = strlen(payload);
	size_t len = 20 + 8 + payload_len;
	uint16_t checksum;

	memset(buf, 0, 28);
	buf[0] = 0x45; /* version 4, header of 5 words */
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[8] = 64; /* TTL */
	buf[9] = IPPROTO_UDP;
	memcpy(buf + 12, (const uint8_t[]){198, 51, 100, 9}, 4);
	memcpy(buf + 16, (const uint8_t[]){198, 51, 100, 7}, 4);
	checksum = ipv4_checksum(buf, 20);
	buf[10] = (uint8_t)(checksum >> 8);
	buf[11] = (uint8_t)checksum;

	buf[20] = 4000 >> 8;
	buf[21] = 4000 & 0xff;
	buf[22] = (uint8_t)(port >> 8);
	buf[23] = (uint8_t)port;
	buf[24] = (uint8_t)((8 + payload_len) >> 8);
	buf[25] = (uint8_t)(8 + payload_len);
	memcpy(buf + 28, payload, payload_len);
	return len;
}

static void body_packet_write(void)
{
	struct ntm_prefix prefix = prefix_of("198.51.100.0/24");
	struct sockaddr_in local = {.sin_family = AF_INET}, from;
	socklen_t from_len = sizeof(from), local_len = sizeof(local);
	struct pollfd pfd = {.events = POLLIN};
	uint8_t packet[64];
	char err[256] = "", received[16] = "";
	int fd = tun_setup("198.51.100.7");
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	size_t len;

	CHECK_ERR(nd_tun_route_add(TUN_NAME, &prefix, err, sizeof(err)) == 0, err);
	CHECK(udp >= 0);
	CHECK(inet_pton(AF_INET, "198.51.100.7", &local.sin_addr) == 1);
	CHECK(bind(udp, (struct sockaddr *)&local, sizeof(local)) == 0);
	CHECK(getsockname(udp, (struct sockaddr *)&local, &local_len) == 0);

	/* A packet written to the device enters the kernel as if received. */
	len = udp_packet_build(packet, ntohs(local.sin_port), "pong");
	CHECK(write(fd, packet, len) == (ssize_t)len);
	pfd.fd = udp;
	CHECK(poll(&pfd, 1, PACKET_TIMEOUT_MS) == 1);
	CHECK(recvfrom(udp, received, sizeof(received) - 1, 0, (struct sockaddr *)&from,
		       &from_len) == 4);
	CHECK(strcmp(received, "pong") == 0);
	CHECK(from.sin_addr.s_addr == htonl(0xc6336409)); /* 198.51.100.9 */
	CHECK(ntohs(from.sin_port) == 4000);
	close(udp);
	close(fd);
}

static void body_ipv6(void)
{
	struct ntm_prefix prefix = prefix_of("2001:db8:1::/64");
	struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	struct route_entry route;
	const struct addr_entry *entry = NULL;
	uint8_t packet[2048];
	const struct ip6_hdr *ip6 = (const struct ip6_hdr *)packet;
	char err[256] = "";
	int fd = tun_setup("2001:db8::7");
	int udp = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(addr_count(if_nametoindex(TUN_NAME), "2001:db8::7", &entry) == 1);
	CHECK(entry->prefixlen == 128);
	CHECK((entry->flags & IFA_F_TENTATIVE) == 0);

	CHECK_ERR(nd_tun_route_add(TUN_NAME, &prefix, err, sizeof(err)) == 0, err);
	CHECK(route_count("2001:db8:1::/64", &route) == 1);
	CHECK(route.oif == if_nametoindex(TUN_NAME));

	CHECK(udp >= 0);
	CHECK(inet_pton(AF_INET6, "2001:db8:1::9", &to.sin6_addr) == 1);
	CHECK(sendto(udp, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)) == 4);
	tun_read_udp(fd, 6, packet, sizeof(packet));
	CHECK(memcmp(&ip6->ip6_dst, &to.sin6_addr, 16) == 0);
	close(udp);
	close(fd);
}

static void body_bad_ifname(void)
{
	struct ntm_prefix prefix = prefix_of("198.51.100.0/24");
	struct ntm_ip ip = ip_of("198.51.100.7");
	char err[256] = "";

	CHECK(nd_tun_up("nosuch0", TUN_MTU, err, sizeof(err)) == -ENODEV);
	CHECK_ERR(strstr(err, "nosuch0") != NULL, err);

	err[0] = '\0';
	CHECK(nd_tun_addr_add("nosuch0", &ip, err, sizeof(err)) == -ENODEV);
	CHECK_ERR(strstr(err, "nosuch0: adding address 198.51.100.7/32") != NULL, err);

	err[0] = '\0';
	CHECK(nd_tun_addr_del("nosuch0", &ip, err, sizeof(err)) == -ENODEV);
	CHECK_ERR(strstr(err, "nosuch0") != NULL, err);

	err[0] = '\0';
	CHECK(nd_tun_route_add("nosuch0", &prefix, err, sizeof(err)) == -ENODEV);
	CHECK_ERR(strstr(err, "nosuch0: adding route 198.51.100.0/24") != NULL, err);

	err[0] = '\0';
	CHECK(nd_tun_up("ntmtest-name-too-long", TUN_MTU, err, sizeof(err)) == -ENODEV);
	CHECK_ERR(err[0] != '\0', err);
}

static void body_unset_address(void)
{
	struct ntm_ip ip = {0};
	char err[256] = "";
	int fd = tun_setup(NULL);

	CHECK(nd_tun_addr_add(TUN_NAME, &ip, err, sizeof(err)) == -EINVAL);
	CHECK_ERR(strstr(err, "neither IPv4 nor IPv6") != NULL, err);
	close(fd);
}

/* ---- the cmocka tests ---- */

static void tun_open_named(void **state)
{
	run_in_netns(body_open_named);
}

static void tun_open_kernel_name(void **state)
{
	run_in_netns(body_open_kernel_name);
}

static void tun_open_errors(void **state)
{
	run_in_netns(body_open_errors);
}

static void tun_up_sets_mtu(void **state)
{
	run_in_netns(body_up_sets_mtu);
}

static void tun_up_bad_mtu(void **state)
{
	run_in_netns(body_up_bad_mtu);
}

static void tun_addr_add_twice(void **state)
{
	run_in_netns(body_addr_add_twice);
}

static void tun_addr_del(void **state)
{
	run_in_netns(body_addr_del);
}

static void tun_route_add(void **state)
{
	run_in_netns(body_route_add);
}

static void tun_packet_ipv4(void **state)
{
	run_in_netns(body_packet_ipv4);
}

static void tun_packet_write(void **state)
{
	run_in_netns(body_packet_write);
}

static void tun_ipv6(void **state)
{
	run_in_netns(body_ipv6);
}

static void tun_bad_ifname(void **state)
{
	run_in_netns(body_bad_ifname);
}

static void tun_unset_address(void **state)
{
	run_in_netns(body_unset_address);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tun_open_named),     cmocka_unit_test(tun_open_kernel_name),
		cmocka_unit_test(tun_open_errors),    cmocka_unit_test(tun_up_sets_mtu),
		cmocka_unit_test(tun_up_bad_mtu),     cmocka_unit_test(tun_addr_add_twice),
		cmocka_unit_test(tun_addr_del),       cmocka_unit_test(tun_route_add),
		cmocka_unit_test(tun_packet_ipv4),    cmocka_unit_test(tun_packet_write),
		cmocka_unit_test(tun_ipv6),
		cmocka_unit_test(tun_bad_ifname),     cmocka_unit_test(tun_unset_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
