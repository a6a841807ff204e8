/*
 * Unit tests for the address and route watcher (nd_netlink) and for
 * nd_local_addresses. Each test runs in a child process inside a network
 * namespace of its own with a TUN device (the ignored interface) and a dummy
 * link, or a veth pair where the dummy driver is missing. The namespace and
 * its devices go away when the child exits. The tests need root and are
 * skipped without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
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
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns_child.h"
#include "nd_netlink.h"
#include "nd_tun.h"
#include "ntm_addr.h"

/* Time to wait for a notification on the watcher's socket. */
#define EVENT_TIMEOUT_MS 2000

#define TUN_NAME "ntmtest0"
#define LAN_NAME "ntmlan0"    /* up, the host's "real" interface */
#define DOWN_NAME "ntmlan1"   /* down */

/* ---- creating links and addresses with libmnl ---- */

/* Sends one request and waits for its ACK. Returns 0 or -errno. */
static int rtnl_request(struct nlmsghdr *nlh)
{
	static alignas(struct nlmsghdr) uint8_t buf[8192];
	struct mnl_socket *sock = mnl_socket_open(NETLINK_ROUTE);
	int rc;

	CHECK(sock != NULL);
	CHECK(mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) == 0);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	CHECK(mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) >= 0);
	do {
		ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof(buf));

		CHECK(n > 0);
		rc = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(sock), NULL, NULL);
	} while (rc > MNL_CB_STOP);
	rc = rc == MNL_CB_ERROR ? -errno : 0;
	mnl_socket_close(sock);
	return rc;
}

/* Creates a link of kind "dummy", or of kind "veth" with the peer peer_name
 * when peer_name is not NULL. Returns 0 or -errno. */
static int link_create(const char *name, const char *kind, const char *peer_name)
{
	alignas(struct nlmsghdr) uint8_t buf[1024];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	if (peer_name != NULL) {
		/* VETH_INFO_PEER contains an ifinfomsg and then the peer's attributes. */
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
		ifi = mnl_nlmsg_get_payload_tail(nlh);
		memset(ifi, 0, sizeof(*ifi));
		nlh->nlmsg_len += MNL_ALIGN(sizeof(*ifi));
		mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, data);
	}
	mnl_attr_nest_end(nlh, linkinfo);
	return rtnl_request(nlh);
}

/* Creates name as a dummy link, or as a veth pair (peer name + "p", left
 * down) when the dummy driver is not available. */
static void lan_link_create(const char *name)
{
	char peer[IFNAMSIZ];

	if (link_create(name, "dummy", NULL) == 0)
		return;
	snprintf(peer, sizeof(peer), "%sp", name);
	CHECK(link_create(name, "veth", peer) == 0);
}

/* Adds text/prefixlen to ifname with duplicate address detection on, which
 * nd_tun_addr_add turns off. */
static void addr_add_with_dad(const char *ifname, const char *text, uint8_t prefixlen)
{
	alignas(struct nlmsghdr) uint8_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct ntm_ip ip;

	CHECK(ntm_ip_parse(&ip, text) == 0);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = ip.len == 4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_index = if_nametoindex(ifname);
	CHECK(ifa->ifa_index != 0);
	mnl_attr_put(nlh, IFA_LOCAL, ip.len, ip.bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, ip.len, ip.bytes);
	CHECK(rtnl_request(nlh) == 0);
}

static void addr_add(const char *ifname, const char *text)
{
	struct ntm_ip ip;
	char err[256] = "";

	CHECK(ntm_ip_parse(&ip, text) == 0);
	CHECK_ERR(nd_tun_addr_add(ifname, &ip, err, sizeof(err)) == 0, err);
}

static void addr_del(const char *ifname, const char *text)
{
	struct ntm_ip ip;
	char err[256] = "";

	CHECK(ntm_ip_parse(&ip, text) == 0);
	CHECK_ERR(nd_tun_addr_del(ifname, &ip, err, sizeof(err)) == 0, err);
}

static void route_add(const char *ifname, const char *text)
{
	struct ntm_prefix prefix;
	char err[256] = "";

	CHECK(ntm_prefix_parse(&prefix, text) == 0);
	CHECK_ERR(nd_tun_route_add(ifname, &prefix, err, sizeof(err)) == 0, err);
}

/* Adds the IPv4 default route through ifname to routing table table. */
static void default_route_add_table(const char *ifname, uint32_t table)
{
	alignas(struct nlmsghdr) uint8_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_UNSPEC; /* RTA_TABLE carries it */
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex(ifname));
	CHECK(rtnl_request(nlh) == 0);
}

/* Opens TUN_NAME with 198.51.100.7 and brings up LAN_NAME. Returns the TUN
 * descriptor. */
static int topology_create(void)
{
	char name[IFNAMSIZ], err[256] = "";
	int fd = nd_tun_open(TUN_NAME, name, err, sizeof(err));

	CHECK_ERR(fd >= 0, err);
	CHECK_ERR(nd_tun_up(TUN_NAME, 1420, err, sizeof(err)) == 0, err);
	addr_add(TUN_NAME, "198.51.100.7");
	lan_link_create(LAN_NAME);
	CHECK_ERR(nd_tun_up(LAN_NAME, 1500, err, sizeof(err)) == 0, err);
	return fd;
}

/* ---- the watcher ---- */

static void on_change(void *arg)
{
	int *calls = arg;

	(*calls)++;
}

static struct nd_netlink *watcher_open(const char *ignore, int *calls)
{
	char err[256] = "";
	struct nd_netlink *nl = nd_netlink_open(ignore, on_change, calls, err, sizeof(err));

	CHECK_ERR(nl != NULL, err);
	return nl;
}

/* Waits until the watcher's socket is readable, then reads it. A change made
 * through rtnetlink is queued to the watchers before the request's ACK, so
 * the socket is readable at once after the change. */
static int watcher_read(struct nd_netlink *nl)
{
	struct pollfd pfd = {.fd = nd_netlink_fd(nl), .events = POLLIN};

	CHECK(poll(&pfd, 1, EVENT_TIMEOUT_MS) == 1);
	return nd_netlink_read(nl);
}

static void body_addr_change_fires(void)
{
	int calls = 0;
	int fd = topology_create();
	struct nd_netlink *nl = watcher_open(TUN_NAME, &calls);

	/* Nothing changed since the watcher opened. */
	CHECK(nd_netlink_read(nl) == 0);
	CHECK(calls == 0);

	addr_add(LAN_NAME, "192.0.2.10");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 1);

	addr_del(LAN_NAME, "192.0.2.10");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 2);

	/* Nothing is left over for a second read. */
	CHECK(nd_netlink_read(nl) == 0);
	CHECK(calls == 2);
	nd_netlink_close(nl);
	close(fd);
}

static void body_ignored_tun_quiet(void)
{
	int calls = 0;
	int fd = topology_create();
	struct nd_netlink *nl = watcher_open(TUN_NAME, &calls);

	addr_add(TUN_NAME, "198.51.100.8");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);

	addr_del(TUN_NAME, "198.51.100.8");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);

	addr_add(TUN_NAME, "2001:db8::8");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);
	nd_netlink_close(nl);
	close(fd);
}

static void body_ignore_lazy(void)
{
	char name[IFNAMSIZ], err[256] = "";
	int calls = 0;
	struct nd_netlink *nl = watcher_open("ntmtest1", &calls);
	int fd;

	/* The ignored device appears only after the watcher opened. */
	fd = nd_tun_open("ntmtest1", name, err, sizeof(err));
	CHECK_ERR(fd >= 0, err);
	CHECK_ERR(nd_tun_up("ntmtest1", 1420, err, sizeof(err)) == 0, err);
	addr_add("ntmtest1", "198.51.100.20");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);

	/* Created again, the device gets a new index. The removal of the old
	 * one may count as a change, because its name resolves to nothing. */
	close(fd);
	CHECK(watcher_read(nl) == 0);
	calls = 0;
	fd = nd_tun_open("ntmtest1", name, err, sizeof(err));
	CHECK_ERR(fd >= 0, err);
	CHECK_ERR(nd_tun_up("ntmtest1", 1420, err, sizeof(err)) == 0, err);
	addr_add("ntmtest1", "198.51.100.21");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);
	nd_netlink_close(nl);
	close(fd);
}

static void body_no_ignore(void)
{
	int calls = 0;
	int fd = topology_create();
	struct nd_netlink *nl = watcher_open(NULL, &calls);

	addr_add(TUN_NAME, "198.51.100.8");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 1);
	nd_netlink_close(nl);
	close(fd);
}

static void body_default_route_fires(void)
{
	int calls = 0;
	int fd = topology_create();
	struct nd_netlink *nl;

	addr_add(LAN_NAME, "192.0.2.10");
	nl = watcher_open(TUN_NAME, &calls);

	/* A route that is not a default route does not count. */
	route_add(LAN_NAME, "203.0.113.0/24");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);

	/* Nothing leaves the namespace: no packet is sent in this test. */
	route_add(LAN_NAME, "0.0.0.0/0");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 1);

	route_add(LAN_NAME, "::/0");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 2);
	nd_netlink_close(nl);
	close(fd);
}

static void body_default_route_other_table_quiet(void)
{
	int calls = 0;
	int fd = topology_create();
	struct nd_netlink *nl = watcher_open(TUN_NAME, &calls);

	/* Table 1000 does not fit rtm_table, so only RTA_TABLE names it. */
	default_route_add_table(LAN_NAME, 100);
	CHECK(watcher_read(nl) == 0);
	default_route_add_table(LAN_NAME, 1000);
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);
	nd_netlink_close(nl);
	close(fd);
}

static void body_default_route_via_tun_quiet(void)
{
	int calls = 0;
	int fd = topology_create();
	struct nd_netlink *nl = watcher_open(TUN_NAME, &calls);

	route_add(TUN_NAME, "0.0.0.0/0");
	CHECK(watcher_read(nl) == 0);
	CHECK(calls == 0);
	nd_netlink_close(nl);
	close(fd);
}

static void body_overrun(void)
{
	int calls = 0, size = 1;
	int fd = topology_create();
	struct nd_netlink *nl = watcher_open(TUN_NAME, &calls);
	char text[INET_ADDRSTRLEN];

	/* The smallest receive buffer the kernel allows fits a few messages. */
	CHECK(setsockopt(nd_netlink_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) == 0);
	for (int i = 1; i <= 64; i++) {
		snprintf(text, sizeof(text), "203.0.113.%d", i);
		addr_add(LAN_NAME, text);
	}
	CHECK(watcher_read(nl) == -ENOBUFS);
	CHECK(calls == 1);
	nd_netlink_close(nl);
	close(fd);
}

static void body_open_errors(void)
{
	char err[256] = "";
	int calls = 0;

	CHECK(nd_netlink_open(NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK_ERR(strstr(err, "callback") != NULL, err);

	err[0] = '\0';
	CHECK(nd_netlink_open("ntmtest-name-too-long", on_change, &calls, err, sizeof(err)) ==
	      NULL);
	CHECK_ERR(strstr(err, "too long") != NULL, err);
}

/* ---- nd_local_addresses ---- */

static bool listed(const struct ntm_ip *list, int count, const char *text)
{
	struct ntm_ip ip;

	CHECK(ntm_ip_parse(&ip, text) == 0);
	for (int i = 0; i < count; i++) {
		if (ntm_ip_equal(&list[i], &ip))
			return true;
	}
	return false;
}

/* Gives LAN_NAME usable and unusable addresses, and DOWN_NAME (down) one. */
static int addresses_create(void)
{
	int fd = topology_create();

	addr_add(LAN_NAME, "192.0.2.10");
	addr_add(LAN_NAME, "2001:db8::10");
	addr_add(LAN_NAME, "169.254.1.1");
	addr_add(LAN_NAME, "fe80::10");
	lan_link_create(DOWN_NAME);
	addr_add(DOWN_NAME, "203.0.113.5");
	return fd;
}

static void body_local_addresses(void)
{
	struct ntm_ip list[16];
	int fd = addresses_create();
	int count = nd_local_addresses(list, 16, TUN_NAME);

	CHECK(count == 2);
	CHECK(listed(list, count, "192.0.2.10"));
	CHECK(listed(list, count, "2001:db8::10"));
	CHECK(!listed(list, count, "127.0.0.1"));
	CHECK(!listed(list, count, "::1"));
	CHECK(!listed(list, count, "198.51.100.7"));
	CHECK(!listed(list, count, "169.254.1.1"));
	CHECK(!listed(list, count, "fe80::10"));
	CHECK(!listed(list, count, "203.0.113.5"));
	close(fd);
}

static void body_local_addresses_no_ignore(void)
{
	struct ntm_ip list[16];
	int fd = addresses_create();
	int count = nd_local_addresses(list, 16, NULL);

	CHECK(count == 3);
	CHECK(listed(list, count, "198.51.100.7"));
	close(fd);
}

static void body_local_addresses_max(void)
{
	struct ntm_ip list[2] = {0};
	int fd = addresses_create();

	CHECK(nd_local_addresses(list, 1, TUN_NAME) == 1);
	CHECK(list[1].len == 0);
	CHECK(nd_local_addresses(list, 0, TUN_NAME) == 0);
	close(fd);
}

static void body_local_addresses_tentative(void)
{
	struct ntm_ip list[16];
	int fd = topology_create();
	char peer[IFNAMSIZ], err[256] = "";
	int count;

	/* A veth whose peer is down has no carrier, so duplicate address
	 * detection cannot run and the address stays tentative. */
	snprintf(peer, sizeof(peer), "%sp", DOWN_NAME);
	CHECK(link_create(DOWN_NAME, "veth", peer) == 0);
	CHECK_ERR(nd_tun_up(DOWN_NAME, 1500, err, sizeof(err)) == 0, err);
	addr_add_with_dad(DOWN_NAME, "2001:db8:2::1", 64);
	count = nd_local_addresses(list, 16, TUN_NAME);
	CHECK(count >= 0);
	CHECK(!listed(list, count, "2001:db8:2::1"));
	close(fd);
}

/* ---- the cmocka tests ---- */

static void netlink_addr_change_fires(void **state)
{
	run_in_netns(body_addr_change_fires);
}

static void netlink_ignored_tun_quiet(void **state)
{
	run_in_netns(body_ignored_tun_quiet);
}

static void netlink_ignore_lazy(void **state)
{
	run_in_netns(body_ignore_lazy);
}

static void netlink_no_ignore(void **state)
{
	run_in_netns(body_no_ignore);
}

static void netlink_default_route_fires(void **state)
{
	run_in_netns(body_default_route_fires);
}

static void netlink_default_route_other_table_quiet(void **state)
{
	run_in_netns(body_default_route_other_table_quiet);
}

static void netlink_default_route_via_tun_quiet(void **state)
{
	run_in_netns(body_default_route_via_tun_quiet);
}

static void netlink_overrun(void **state)
{
	run_in_netns(body_overrun);
}

static void netlink_open_errors(void **state)
{
	run_in_netns(body_open_errors);
}

static void local_addresses_filter(void **state)
{
	run_in_netns(body_local_addresses);
}

static void local_addresses_no_ignore(void **state)
{
	run_in_netns(body_local_addresses_no_ignore);
}

static void local_addresses_max(void **state)
{
	run_in_netns(body_local_addresses_max);
}

static void local_addresses_tentative(void **state)
{
	run_in_netns(body_local_addresses_tentative);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(netlink_addr_change_fires),
		cmocka_unit_test(netlink_ignored_tun_quiet),
		cmocka_unit_test(netlink_ignore_lazy),
		cmocka_unit_test(netlink_no_ignore),
		cmocka_unit_test(netlink_default_route_fires),
		cmocka_unit_test(netlink_default_route_other_table_quiet),
		cmocka_unit_test(netlink_default_route_via_tun_quiet),
		cmocka_unit_test(netlink_overrun),
		cmocka_unit_test(netlink_open_errors),
		cmocka_unit_test(local_addresses_filter),
		cmocka_unit_test(local_addresses_no_ignore),
		cmocka_unit_test(local_addresses_max),
		cmocka_unit_test(local_addresses_tentative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
