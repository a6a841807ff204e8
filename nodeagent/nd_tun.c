/*
 * The node's TUN device and its configuration over rtnetlink (libmnl). Each
 * configuration call opens a short-lived NETLINK_ROUTE socket, sends one
 * request with NLM_F_ACK and waits for the kernel's reply, because these
 * calls are rare (start-up, a new VIP) and a shared socket would need locking.
 */
#include "nd_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TUN_PATH "/dev/net/tun"

/* Buffer of one request: a header struct and at most three small
 * attributes. */
#define RTNL_REQ_SIZE 512
/* Receive buffer for the kernel's reply. With NETLINK_CAP_ACK the reply is an
 * nlmsgerr plus the extended ACK attributes, well below this. */
#define RTNL_BUF_SIZE 8192

/*
 * Protocol of the routes we add: RTPROT_STATIC, as `ip route add` sets it,
 * because a VIP route is configuration, not learned by a routing protocol.
 * The kernel passes higher values through untouched, but linux/rtnetlink.h
 * asks for them to be standardized, and none is assigned to this project.
 */
#define ND_TUN_RTPROT RTPROT_STATIC

/* Outcome of one request: the kernel's error and its extended ACK text. */
struct rtnl_ack {
	int error;        /* 0 or -errno */
	char message[128]; /* NLMSGERR_ATTR_MSG, "" when the kernel sent none */
};

/* The request being made, for the error message: "ntm0: adding address
 * 198.51.100.7/32 failed: ...". */
struct rtnl_op {
	const char *ifname;
	char what[96];
};

/* Returns a hint on how to fix err, or "" when there is none. */
static const char *errno_hint(int err)
{
	switch (err) {
	case EPERM:
		return " (ntm-noded needs CAP_NET_ADMIN)";
	case ENODEV:
		return " (no network interface of that name)";
	case EADDRNOTAVAIL:
		return " (the address is not assigned to the interface)";
	default:
		return "";
	}
}

/* Writes "IFNAME: WHAT failed: CAUSE (HINT): DETAIL" into err and returns rc
 * (a -errno). detail may be NULL or "". */
static int op_fail(const struct rtnl_op *op, int rc, const char *detail, char *err,
		   size_t err_size)
{
	bool has_detail = detail != NULL && detail[0] != '\0';

	snprintf(err, err_size, "%s: %s failed: %s%s%s%s", op->ifname, op->what, strerror(-rc),
		 errno_hint(-rc), has_detail ? ": " : "", has_detail ? detail : "");
	return rc;
}

static int ack_attr_cb(const struct nlattr *attr, void *data)
{
	struct rtnl_ack *ack = data;

	if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	snprintf(ack->message, sizeof(ack->message), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/*
 * Records the kernel's NLMSG_ERROR reply (error 0 is the ACK) and its
 * extended ACK message. The attributes follow the nlmsgerr, after the echoed
 * request unless the kernel capped it (NLM_F_CAPPED).
 */
static int ack_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_ack *ack = data;
	const struct nlmsgerr *nlerr;
	size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
	size_t attr_offset = sizeof(*nlerr);

	if (payload_len < sizeof(*nlerr)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	nlerr = mnl_nlmsg_get_payload(nlh);
	/* The kernel sends a negative errno; some subsystems a positive one. */
	ack->error = nlerr->error > 0 ? -nlerr->error : nlerr->error;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return MNL_CB_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (nlerr->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return MNL_CB_STOP;
		attr_offset += MNL_ALIGN(nlerr->msg.nlmsg_len - sizeof(struct nlmsghdr));
	}
	if (attr_offset < payload_len)
		mnl_attr_parse(nlh, (unsigned int)attr_offset, ack_attr_cb, ack);
	return MNL_CB_STOP;
}

/* Opens a NETLINK_ROUTE socket asking for capped, extended ACKs. */
static struct mnl_socket *rtnl_open(void)
{
	struct mnl_socket *sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int on = 1;

	if (sock == NULL)
		return NULL;
	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int saved = errno;

		mnl_socket_close(sock);
		errno = saved;
		return NULL;
	}
	/* Both options are optional: a kernel without them (NETLINK_EXT_ACK came
	 * with Linux 4.12) still replies with the plain error code. */
	mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &on, sizeof(on));
	mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &on, sizeof(on));
	return sock;
}

/* Receives until the kernel's reply to seq arrives. Returns 0 or -errno of
 * the transport; the kernel's own verdict is in ack. */
static int rtnl_wait_ack(struct mnl_socket *sock, unsigned int seq, struct rtnl_ack *ack)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = ack_error_cb};
	alignas(struct nlmsghdr) uint8_t buf[RTNL_BUF_SIZE];
	unsigned int portid = mnl_socket_get_portid(sock);

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof(buf));
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		rc = mnl_cb_run2(buf, (size_t)n, seq, portid, NULL, ack, ctl, NLMSG_MIN_TYPE);
		if (rc == MNL_CB_ERROR)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

/* Sends the request in nlh with NLM_F_ACK and waits for the reply. Returns
 * 0 or -errno, with the kernel's message (if any) in ack. */
static int rtnl_request(struct nlmsghdr *nlh, struct rtnl_ack *ack)
{
	struct mnl_socket *sock;
	int rc;

	memset(ack, 0, sizeof(*ack));
	sock = rtnl_open();
	if (sock == NULL)
		return -errno;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	rc = rtnl_wait_ack(sock, nlh->nlmsg_seq, ack);
	if (rc == 0)
		rc = ack->error;
out:
	mnl_socket_close(sock);
	return rc;
}

/* Resolves op->ifname to its index. Returns 0 or -errno with err set. */
static int op_ifindex(const struct rtnl_op *op, unsigned int *index, char *err, size_t err_size)
{
	*index = if_nametoindex(op->ifname);
	if (*index != 0)
		return 0;
	/* glibc returns ENODEV also for a name too long to exist. */
	return op_fail(op, errno != 0 ? -errno : -ENODEV, NULL, err, err_size);
}

/* Sends the request and maps a failure to -errno with err set. */
static int op_run(const struct rtnl_op *op, struct nlmsghdr *nlh, char *err, size_t err_size)
{
	struct rtnl_ack ack;
	char detail[sizeof(ack.message) + 8];
	int rc = rtnl_request(nlh, &ack);

	if (rc == 0)
		return 0;
	detail[0] = '\0';
	if (ack.message[0] != '\0')
		snprintf(detail, sizeof(detail), "kernel: %s", ack.message);
	return op_fail(op, rc, detail, err, err_size);
}

static int ip_family(const struct ntm_ip *ip)
{
	if (ip->len == 4)
		return AF_INET;
	if (ip->len == 16)
		return AF_INET6;
	return AF_UNSPEC;
}

static int tun_name_check(const char *name, char *err, size_t err_size)
{
	if (strnlen(name, IFNAMSIZ) < IFNAMSIZ)
		return 0;
	snprintf(err, err_size, "TUN device name '%.*s...' is too long: at most %d bytes",
		 IFNAMSIZ - 1, name, IFNAMSIZ - 1);
	return -EINVAL;
}

/* Returns how to fix a failed open of /dev/net/tun (is_ioctl false) or a
 * failed TUNSETIFF (is_ioctl true), or "". */
static const char *tun_open_hint(int err, bool is_ioctl)
{
	if (err == EPERM)
		return " (ntm-noded needs CAP_NET_ADMIN)";
	if (!is_ioctl && err == EACCES)
		return " (the file mode of " TUN_PATH " does not let this user open it)";
	if (!is_ioctl && (err == ENOENT || err == ENODEV || err == ENXIO))
		return " (" TUN_PATH " missing: load the tun module with modprobe tun)";
	if (is_ioctl && err == EBUSY)
		return " (another process has the device open)";
	if (is_ioctl && err == EINVAL)
		return " (the name is invalid, or a device of that name exists and is not a TUN"
		       " device)";
	return "";
}

/* Writes why the TUN device could not be opened and returns rc (a -errno). */
static int tun_open_fail(const char *name, bool is_ioctl, int rc, char *err, size_t err_size)
{
	snprintf(err, err_size, "TUN device '%s': %s failed: %s%s", name[0] ? name : "(any)",
		 is_ioctl ? "TUNSETIFF" : "opening " TUN_PATH, strerror(-rc),
		 tun_open_hint(-rc, is_ioctl));
	return rc;
}

/*
 * NOTE: no IFF_VNET_HDR yet. With it (and TUNSETOFFLOAD) the kernel could hand
 * over GSO super-packets and skip checksums, a later optimisation of the data
 * plane that needs a virtio_net_hdr in front of every packet.
 */
int nd_tun_open(const char *name, char out_name[IFNAMSIZ], char *err, size_t err_size)
{
	struct ifreq ifr;
	int fd, rc;

	if (name == NULL)
		name = "";
	rc = tun_name_check(name, err, err_size);
	if (rc < 0)
		return rc;

	fd = open(TUN_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return tun_open_fail(name, false, -errno, err, err_size);

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = tun_open_fail(name, true, -errno, err, err_size);
		close(fd);
		return rc;
	}

	ifr.ifr_name[IFNAMSIZ - 1] = '\0';
	memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
	return fd;
}

int nd_tun_up(const char *ifname, uint16_t mtu, char *err, size_t err_size)
{
	alignas(struct nlmsghdr) uint8_t buf[RTNL_REQ_SIZE];
	struct rtnl_op op = {.ifname = ifname};
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	unsigned int index;
	int rc;

	snprintf(op.what, sizeof(op.what), "setting MTU %u and link up", (unsigned)mtu);
	rc = op_ifindex(&op, &index, err, err_size);
	if (rc < 0)
		return rc;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)index;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return op_run(&op, nlh, err, err_size);
}

/* Builds an RTM_NEWADDR or RTM_DELADDR request for ip as a host address. */
static struct nlmsghdr *addr_request(void *buf, uint16_t type, uint16_t flags, unsigned int index,
				     const struct ntm_ip *ip)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)ip_family(ip);
	ifa->ifa_prefixlen = (uint8_t)(ip->len * 8);
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = index;
	/* The DC assigns each VIP to one node only, so duplicate address
	 * detection would only delay the address by about a second. */
	if (ip->len == 16)
		ifa->ifa_flags = IFA_F_NODAD;

	/* IFA_ADDRESS is the peer on a point-to-point link; with no peer it
	 * equals IFA_LOCAL, as `ip address add` sends it. */
	mnl_attr_put(nlh, IFA_LOCAL, ip->len, ip->bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, ip->len, ip->bytes);
	return nlh;
}

/* Fills op for an address operation and checks the address. */
static int addr_op_init(struct rtnl_op *op, const char *verb, const struct ntm_ip *ip, char *err,
			size_t err_size)
{
	char text[INET6_ADDRSTRLEN];

	ntm_ip_str(ip, text, sizeof(text));
	snprintf(op->what, sizeof(op->what), "%s address %s/%u", verb, text,
		 (unsigned)ip->len * 8);
	if (ip_family(ip) != AF_UNSPEC)
		return 0;
	return op_fail(op, -EINVAL, "the address is neither IPv4 nor IPv6", err, err_size);
}

int nd_tun_addr_add(const char *ifname, const struct ntm_ip *ip, char *err, size_t err_size)
{
	alignas(struct nlmsghdr) uint8_t buf[RTNL_REQ_SIZE];
	struct rtnl_op op = {.ifname = ifname};
	struct nlmsghdr *nlh;
	unsigned int index;
	int rc;

	rc = addr_op_init(&op, "adding", ip, err, err_size);
	if (rc < 0)
		return rc;
	rc = op_ifindex(&op, &index, err, err_size);
	if (rc < 0)
		return rc;

	/* NLM_F_REPLACE makes an address that is already there a success. */
	nlh = addr_request(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, index, ip);
	return op_run(&op, nlh, err, err_size);
}

int nd_tun_addr_del(const char *ifname, const struct ntm_ip *ip, char *err, size_t err_size)
{
	alignas(struct nlmsghdr) uint8_t buf[RTNL_REQ_SIZE];
	struct rtnl_op op = {.ifname = ifname};
	struct nlmsghdr *nlh;
	unsigned int index;
	int rc;

	rc = addr_op_init(&op, "removing", ip, err, err_size);
	if (rc < 0)
		return rc;
	rc = op_ifindex(&op, &index, err, err_size);
	if (rc < 0)
		return rc;

	nlh = addr_request(buf, RTM_DELADDR, 0, index, ip);
	return op_run(&op, nlh, err, err_size);
}

int nd_tun_route_add(const char *ifname, const struct ntm_prefix *prefix, char *err,
		     size_t err_size)
{
	alignas(struct nlmsghdr) uint8_t buf[RTNL_REQ_SIZE];
	struct rtnl_op op = {.ifname = ifname};
	char text[INET6_ADDRSTRLEN + 4];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	unsigned int index;
	int rc;

	snprintf(op.what, sizeof(op.what), "adding route %s",
		 ntm_prefix_str(prefix, text, sizeof(text)));
	if (ip_family(&prefix->ip) == AF_UNSPEC || prefix->len > prefix->ip.len * 8)
		return op_fail(&op, -EINVAL, "the prefix is neither IPv4 nor IPv6 or too long", err, err_size);
	rc = op_ifindex(&op, &index, err, err_size);
	if (rc < 0)
		return rc;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	/* NLM_F_REPLACE makes an identical route that is already there a success. */
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)ip_family(&prefix->ip);
	rtm->rtm_dst_len = prefix->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = ND_TUN_RTPROT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (prefix->len > 0)
		mnl_attr_put(nlh, RTA_DST, prefix->ip.len, prefix->ip.bytes);
	mnl_attr_put_u32(nlh, RTA_OIF, index);
	return op_run(&op, nlh, err, err_size);
}
