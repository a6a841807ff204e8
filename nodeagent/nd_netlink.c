/*
 * Watches the host's addresses and default routes over rtnetlink (libmnl),
 * and lists the host's usable addresses with RTM_GETLINK and RTM_GETADDR
 * dumps.
 */
#include "nd_netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/*
 * Receive buffer of one recvmsg. The kernel sizes dump datagrams after the
 * reader's buffer, up to 32 KiB. Notifications are normally far smaller; a
 * larger one reads as truncated (ENOSPC) and counts as lost.
 */
#define NL_BUF_SIZE 32768
/* Socket receive buffer asked for, in bytes (the kernel doubles it). A burst
 * of address or route changes beyond it is an overrun: ENOBUFS. */
#define NL_RCVBUF_BYTES (8 * 1024 * 1024)
/* Datagrams read by one nd_netlink_read, so a flood of changes cannot starve
 * the event loop. The socket stays readable for the rest. */
#define NL_READS_MAX 256
/* Attempts of a dump that the kernel reports as interrupted by a change. */
#define DUMP_TRIES 3
/* Links remembered by nd_local_addresses. Addresses on links past the limit
 * are judged by their address alone. */
#define LINKS_MAX 65536

struct nd_netlink {
	struct mnl_socket *sock;
	nd_netlink_cb cb;
	void *arg;
	char ignore_name[IFNAMSIZ]; /* "" when no interface is ignored */
	unsigned int ignore_index;  /* 0 when the ignored interface does not exist */
	bool relevant;              /* a message of the current read mattered */
	alignas(struct nlmsghdr) uint8_t buf[NL_BUF_SIZE];
};

/* Resolves the ignored interface's index by name before each read, because
 * the TUN device may be created after the watcher, or again with a new index.
 * One read follows a batch of changes, so the lookup is rare. */
static void ignore_resolve(struct nd_netlink *nl)
{
	if (nl->ignore_name[0] != '\0')
		nl->ignore_index = if_nametoindex(nl->ignore_name);
}

static bool is_ignored(const struct nd_netlink *nl, unsigned int index)
{
	return nl->ignore_index != 0 && index == nl->ignore_index;
}

static bool addr_msg_relevant(const struct nd_netlink *nl, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return false;
	ifa = mnl_nlmsg_get_payload(nlh);
	return !is_ignored(nl, ifa->ifa_index);
}

/* Routing table and output interface of a route message. */
struct route_attrs {
	uint32_t table;
	uint32_t oif;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_attrs *ra = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type != RTA_TABLE && type != RTA_OIF)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_OK;
	if (type == RTA_TABLE)
		ra->table = mnl_attr_get_u32(attr);
	else
		ra->oif = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

/* A default route (destination length 0) of the main table, not through the
 * ignored interface. A multipath route has no RTA_OIF and counts. */
static bool route_msg_relevant(const struct nd_netlink *nl, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm;
	struct route_attrs ra = {0};

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return false;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_dst_len != 0 || (rtm->rtm_flags & RTM_F_CLONED))
		return false;

	/* rtm_table is 8 bits wide; RTA_TABLE carries the full number. */
	ra.table = rtm->rtm_table;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &ra);
	return ra.table == RT_TABLE_MAIN && !is_ignored(nl, ra.oif);
}

static int watch_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nd_netlink *nl = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR:
		if (addr_msg_relevant(nl, nlh))
			nl->relevant = true;
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (route_msg_relevant(nl, nlh))
			nl->relevant = true;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

/* Asks for NL_RCVBUF_BYTES. SO_RCVBUFFORCE ignores net.core.rmem_max but needs
 * CAP_NET_ADMIN, and without it SO_RCVBUF gets at most rmem_max. The default
 * buffer still works, so a failure here is not an error. */
static void rcvbuf_grow(int fd)
{
	int size = NL_RCVBUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) == 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static int watch_socket_open(struct nd_netlink *nl, char *err, size_t err_size)
{
	const unsigned int groups =
		RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

	int rc;

	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (nl->sock == NULL) {
		rc = -errno;
		snprintf(err, err_size, "netlink watcher: opening a NETLINK_ROUTE socket failed: %s",
			 strerror(-rc));
		return rc;
	}
	if (mnl_socket_bind(nl->sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		snprintf(err, err_size,
			 "netlink watcher: joining the address and route groups failed: %s",
			 strerror(-rc));
		return rc;
	}
	rcvbuf_grow(mnl_socket_get_fd(nl->sock));
	return 0;
}

struct nd_netlink *nd_netlink_open(const char *ignore_ifname, nd_netlink_cb cb, void *arg,
				   char *err, size_t err_size)
{
	struct nd_netlink *nl;

	if (cb == NULL) {
		snprintf(err, err_size, "netlink watcher: no callback given");
		return NULL;
	}
	if (ignore_ifname != NULL && strnlen(ignore_ifname, IFNAMSIZ) == IFNAMSIZ) {
		snprintf(err, err_size, "netlink watcher: interface name '%.*s...' is too long: "
			 "at most %d bytes", IFNAMSIZ - 1, ignore_ifname, IFNAMSIZ - 1);
		return NULL;
	}
	nl = calloc(1, sizeof(*nl));
	if (nl == NULL) {
		snprintf(err, err_size, "netlink watcher: out of memory");
		return NULL;
	}
	nl->cb = cb;
	nl->arg = arg;
	if (ignore_ifname != NULL)
		memcpy(nl->ignore_name, ignore_ifname, strlen(ignore_ifname));

	if (watch_socket_open(nl, err, err_size) < 0) {
		nd_netlink_close(nl);
		return NULL;
	}
	ignore_resolve(nl);
	return nl;
}

void nd_netlink_close(struct nd_netlink *nl)
{
	if (nl == NULL)
		return;
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	free(nl);
}

int nd_netlink_fd(const struct nd_netlink *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

/* Message losses seen by one nd_netlink_read. */
struct read_state {
	bool overrun; /* ENOBUFS: the socket overran and changes were lost */
	bool lost;    /* a datagram was truncated or malformed */
};

/* Reads and parses one datagram. Returns 1 when the caller should read on, 0
 * when no datagram is left, or -errno. */
static int watch_read_one(struct nd_netlink *nl, struct read_state *state)
{
	ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EINTR)
			return 1;
		/* The kernel reports ENOBUFS once, then the rest of the queue
		 * reads as usual. libmnl reports a truncated datagram as ENOSPC. */
		if (errno == ENOBUFS)
			state->overrun = true;
		else if (errno == ENOSPC)
			state->lost = true;
		else
			return -errno;
		return 1;
	}
	/* Sequence 0 and port 0 turn off libmnl's checks: notifications come
	 * from the kernel on behalf of any process's request. */
	if (mnl_cb_run(nl->buf, (size_t)n, 0, 0, watch_msg_cb, nl) == MNL_CB_ERROR)
		state->lost = true;
	return 1;
}

int nd_netlink_read(struct nd_netlink *nl)
{
	struct read_state state = {0};
	int rc = 0;

	/* An interface created between this call and its first message gets a
	 * spurious callback at worst, which only makes the caller re-read. */
	ignore_resolve(nl);
	nl->relevant = false;
	for (int i = 0; i < NL_READS_MAX; i++) {
		rc = watch_read_one(nl, &state);
		if (rc <= 0)
			break;
		rc = 0;
	}

	/* Lost messages may have been relevant, so the caller re-reads. */
	if (nl->relevant || state.overrun || state.lost)
		nl->cb(nl->arg);
	if (state.overrun)
		return -ENOBUFS;
	return rc;
}

/* ---- nd_local_addresses ---- */

/* Flags of one link, from the RTM_GETLINK dump. */
struct link_info {
	unsigned int index;
	unsigned int flags; /* IFF_* */
};

struct link_table {
	struct link_info *links;
	size_t count;
	size_t capacity;
	const char *ignore_name;   /* NULL or "" when nothing is ignored */
	unsigned int ignore_index; /* 0 until the dump finds ignore_name */
};

static int link_name_cb(const struct nlattr *attr, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*name = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static int link_table_add(struct link_table *table, unsigned int index, unsigned int flags)
{
	if (table->count == table->capacity) {
		size_t capacity = table->capacity == 0 ? 16 : table->capacity * 2;
		struct link_info *links;

		if (capacity > LINKS_MAX)
			return 0;
		links = realloc(table->links, capacity * sizeof(*links));
		if (links == NULL)
			return -ENOMEM;
		table->links = links;
		table->capacity = capacity;
	}
	table->links[table->count].index = index;
	table->links[table->count].flags = flags;
	table->count++;
	return 0;
}

static int link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_table *table = data;
	const struct ifinfomsg *ifi;
	const char *name = NULL;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (ifi->ifi_index <= 0)
		return MNL_CB_OK;

	mnl_attr_parse(nlh, sizeof(*ifi), link_name_cb, &name);
	if (name != NULL && table->ignore_name != NULL && table->ignore_name[0] != '\0' &&
	    strcmp(name, table->ignore_name) == 0)
		table->ignore_index = (unsigned int)ifi->ifi_index;
	if (link_table_add(table, (unsigned int)ifi->ifi_index, ifi->ifi_flags) < 0)
		return MNL_CB_ERROR; /* errno is ENOMEM from realloc */
	return MNL_CB_OK;
}

/* Returns the link's flags, or IFF_UP for a link the dump did not list. */
static unsigned int link_flags(const struct link_table *table, unsigned int index)
{
	for (size_t i = 0; i < table->count; i++) {
		if (table->links[i].index == index)
			return table->links[i].flags;
	}
	return IFF_UP;
}

/* State of one RTM_GETADDR dump. */
struct addr_dump {
	const struct link_table *links;
	struct ntm_ip *out;
	size_t max;
	size_t count;
};

/* Attributes of one address message. */
struct addr_attrs {
	const struct nlattr *address;
	const struct nlattr *local;
	uint32_t flags; /* IFA_F_*, from IFA_FLAGS when the kernel sends it */
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_attrs *aa = data;

	switch (mnl_attr_get_type(attr)) {
	case IFA_ADDRESS:
		aa->address = attr;
		break;
	case IFA_LOCAL:
		aa->local = attr;
		break;
	case IFA_FLAGS:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			aa->flags = mnl_attr_get_u32(attr);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

/* Returns false for the addresses no peer can reach: unspecified, loopback
 * (127.0.0.0/8, ::1) and link-local (169.254.0.0/16, fe80::/10). */
static bool ip_usable(const struct ntm_ip *ip)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	static const uint8_t v6_any[16] = {0};
	const uint8_t *b = ip->bytes;

	if (ip->len == 4)
		return !(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) && b[0] != 127 &&
		       !(b[0] == 169 && b[1] == 254);
	if (ip->len == 16)
		return memcmp(b, v6_loopback, 16) != 0 && memcmp(b, v6_any, 16) != 0 &&
		       !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
	return false;
}

/* Takes the address of an RTM_NEWADDR message into ip. IPv4 uses IFA_LOCAL,
 * because IFA_ADDRESS is the peer's on a point-to-point link; IPv6 sends
 * IFA_LOCAL only with a peer, so IFA_ADDRESS is the fallback. */
static int addr_from_attrs(const struct ifaddrmsg *ifa, const struct addr_attrs *aa,
			   struct ntm_ip *ip)
{
	const struct nlattr *attr = aa->local != NULL ? aa->local : aa->address;
	size_t want = ifa->ifa_family == AF_INET ? 4 : 16;

	if (attr == NULL || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return -EINVAL;
	if (mnl_attr_get_payload_len(attr) != want)
		return -EINVAL;
	return ntm_ip_from_bytes(ip, mnl_attr_get_payload(attr), want);
}

static bool addr_listed(const struct addr_dump *dump, const struct ntm_ip *ip)
{
	for (size_t i = 0; i < dump->count; i++) {
		if (ntm_ip_equal(&dump->out[i], ip))
			return true;
	}
	return false;
}

/* Decides whether the address of one message is usable, and lists it. */
static int addr_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_dump *dump = data;
	const struct ifaddrmsg *ifa;
	struct addr_attrs aa = {0};
	unsigned int link;
	struct ntm_ip ip;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	aa.flags = ifa->ifa_flags;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &aa);
	if (addr_from_attrs(ifa, &aa, &ip) < 0)
		return MNL_CB_OK;

	/* Scope host is loopback and scope link is link-local. An IPv6 address
	 * of another non-global scope (site-local) is left out as well. */
	if (ifa->ifa_scope != RT_SCOPE_UNIVERSE || !ip_usable(&ip))
		return MNL_CB_OK;
	if (aa.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return MNL_CB_OK;
	if (dump->links->ignore_index != 0 && ifa->ifa_index == dump->links->ignore_index)
		return MNL_CB_OK;
	link = link_flags(dump->links, ifa->ifa_index);
	if ((link & IFF_LOOPBACK) || !(link & IFF_UP))
		return MNL_CB_OK;

	if (dump->count < dump->max && !addr_listed(dump, &ip))
		dump->out[dump->count++] = ip;
	return MNL_CB_OK;
}

/* Receives the replies to a dump with sequence seq until NLMSG_DONE. */
static int dump_receive(struct mnl_socket *sock, unsigned int seq, mnl_cb_t cb, void *data)
{
	uint8_t *buf = malloc(NL_BUF_SIZE);
	unsigned int portid = mnl_socket_get_portid(sock);
	int rc = -ENOMEM;

	if (buf == NULL)
		return rc;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sock, buf, NL_BUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		/* MNL_CB_ERROR with EINTR: the dump was interrupted by a change. */
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rc == MNL_CB_ERROR) {
			rc = -errno;
			break;
		}
		if (rc == MNL_CB_STOP) {
			rc = 0;
			break;
		}
	}
	free(buf);
	return rc;
}

/*
 * Dumps every object of request type (RTM_GETLINK, RTM_GETADDR) of all
 * address families, calling cb for each message. hdr_size is the size of the
 * type's header struct, whose first byte is the family. Returns 0 or -errno,
 * -EINTR when a change interrupted the dump.
 */
static int rtnl_dump(uint16_t type, size_t hdr_size, mnl_cb_t cb, void *data)
{
	alignas(struct nlmsghdr) uint8_t req[64];
	struct mnl_socket *sock;
	struct nlmsghdr *nlh;
	int rc;

	sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (sock == NULL)
		return -errno;
	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}

	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	mnl_nlmsg_put_extra_header(nlh, hdr_size); /* zeroed: AF_UNSPEC */
	if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	rc = dump_receive(sock, nlh->nlmsg_seq, cb, data);
out:
	mnl_socket_close(sock);
	return rc;
}

/* One attempt: the link dump, then the address dump. */
static int local_addresses_try(struct ntm_ip *out, size_t max, const char *ignore_ifname)
{
	struct link_table links = {.ignore_name = ignore_ifname};
	struct addr_dump dump = {.links = &links, .out = out, .max = max};
	int rc;

	rc = rtnl_dump(RTM_GETLINK, sizeof(struct ifinfomsg), link_dump_cb, &links);
	if (rc < 0)
		goto out;
	rc = rtnl_dump(RTM_GETADDR, sizeof(struct ifaddrmsg), addr_dump_cb, &dump);
	if (rc < 0)
		goto out;
	rc = (int)dump.count;
out:
	free(links.links);
	return rc;
}

/*
 * Besides the rules in the header, addresses of links that are down are left
 * out, because no packet leaves through them. Duplicates are listed once.
 */
int nd_local_addresses(struct ntm_ip *out, size_t max, const char *ignore_ifname)
{
	int rc = -EINTR;

	if (max > INT32_MAX)
		max = INT32_MAX;
	for (int i = 0; i < DUMP_TRIES && rc == -EINTR; i++)
		rc = local_addresses_try(out, max, ignore_ifname);
	return rc;
}
