/*
 * Data plane of the node agent: the one UDP socket (DC session, control from
 * peers and tunnel data) and the TUN device. Packets from the TUN go to the
 * peer that owns their destination VIP; data packets from peers go to the
 * TUN after their source VIP is checked.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "nd.h"
#include "nd_tun.h"
#include "ntm_time.h"

/* Datagrams and TUN packets handled per wakeup, so neither side starves. */
#define ND_BATCH 64
/* First byte of an inner payload that is a tunnel control message rather
 * than an IP packet (docs/protocol.md, "Tunnel control"). */
#define ND_INNER_CONTROL 0x00

static const char *const drop_names[ND_DROP_COUNT] = {
	[ND_DROP_MALFORMED] = "malformed",
	[ND_DROP_UNKNOWN_SENDER] = "unknown_sender",
	[ND_DROP_AUTH_FAILED] = "auth_failed",
	[ND_DROP_REPLAYED] = "replayed",
	[ND_DROP_BAD_MESSAGE] = "bad_message",
	[ND_DROP_UNKNOWN_INDEX] = "unknown_index",
	[ND_DROP_SPOOFED_SOURCE] = "spoofed_source",
	[ND_DROP_NO_ROUTE] = "no_route",
	[ND_DROP_QUEUE_FULL] = "queue_full",
};

const char *nd_drop_str(enum nd_drop reason)
{
	return reason < ND_DROP_COUNT ? drop_names[reason] : "unknown";
}

void nd_drop(struct nd *nd, const struct ntm_endpoint *from, enum nd_drop reason, const char *why)
{
	char ep[NTM_ENDPOINT_STRLEN] = "tun";

	nd->drops[reason]++;
	if (!ntm_log_enabled(NTM_LOG_DEBUG) || !ntm_ratelimit_allow(&nd->drop_log, ntm_now_ms()))
		return;
	if (from)
		ntm_endpoint_str(from, ep, sizeof(ep));
	log_debug("%s: dropped packet (%s): %s", ep, nd_drop_str(reason), why ? why : "");
}

int nd_udp_send(struct nd *nd, const struct ntm_endpoint *ep, const uint8_t *pkt, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = ntm_endpoint_to_sockaddr(ep, &ss);

	if (sendto(nd->udp_fd, pkt, len, 0, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;

		/* Remembered so a later route event resends what was lost. */
		if (e == ENETUNREACH || e == EHOSTUNREACH)
			nd->unroutable_sends++;
		return -e;
	}
	return 0;
}

int nd_data_send(struct nd *nd, struct nd_peer *p, const uint8_t *inner, size_t len)
{
	static uint8_t buf[ND_RELAY_HEADROOM + NTM_DATA_MAX_PACKET];
	uint8_t *pkt = buf + ND_RELAY_HEADROOM;

	if (!p->cur.valid || p->endpoint.ip.len == 0)
		return -ENOTCONN;

	ssize_t n = ntm_data_seal(pkt, NTM_DATA_MAX_PACKET, p->cur.remote_index,
				  ++p->cur.send_counter, p->cur.keys.send, inner, len);
	if (n < 0)
		return (int)n;
	p->last_send_ms = ntm_now_ms();
	p->cur.bytes += len;
	p->tx_bytes += len;
	p->tx_packets++;
	return nd_peer_send(nd, p, &p->endpoint, pkt, (size_t)n, ND_RELAY_HEADROOM);
}

/* Reads the source and destination addresses of an IPv4 or IPv6 packet. */
static int ip_addresses(const uint8_t *pkt, size_t len, struct ntm_ip *src, struct ntm_ip *dst)
{
	if (len >= sizeof(struct ip) && pkt[0] >> 4 == 4) {
		ntm_ip_from_bytes(src, pkt + 12, 4);
		ntm_ip_from_bytes(dst, pkt + 16, 4);
		return 0;
	}
	if (len >= sizeof(struct ip6_hdr) && pkt[0] >> 4 == 6) {
		ntm_ip_from_bytes(src, pkt + 8, 16);
		ntm_ip_from_bytes(dst, pkt + 24, 16);
		return 0;
	}
	return -EINVAL;
}

static void queue_packet(struct nd *nd, struct nd_peer *p, const uint8_t *pkt, size_t len)
{
	struct nd_queued *q;

	if (p->n_queue == ND_QUEUE_MAX) {
		nd_drop(nd, NULL, ND_DROP_QUEUE_FULL, p->fqdn);
		return;
	}
	q = malloc(sizeof(*q) + len);
	if (!q)
		return;
	q->len = len;
	memcpy(q->data, pkt, len);
	p->queue[p->n_queue++] = q;
}

void nd_data_flush_queue(struct nd *nd, struct nd_peer *p)
{
	for (size_t i = 0; i < p->n_queue; i++) {
		nd_data_send(nd, p, p->queue[i]->data, p->queue[i]->len);
		free(p->queue[i]);
	}
	p->n_queue = 0;
}

static bool in_vip_prefixes(const struct nd *nd, const struct ntm_ip *ip)
{
	for (size_t i = 0; i < nd->n_prefixes; i++) {
		if (ntm_prefix_contains(&nd->prefixes[i], ip))
			return true;
	}
	return false;
}

/* An IP packet from a local application, addressed to a VIP. */
static void from_tun(struct nd *nd, const uint8_t *pkt, size_t len)
{
	struct ntm_ip src, dst;
	struct nd_peer *p;

	if (ip_addresses(pkt, len, &src, &dst) < 0) {
		nd_drop(nd, NULL, ND_DROP_MALFORMED, "not an IP packet");
		return;
	}
	/* Only VIPs have owners to look up: multicast (IGMP reports of a
	 * program joining groups on the TUN device) and other addresses the
	 * kernel routes here are dropped without asking the DC. */
	if (!in_vip_prefixes(nd, &dst)) {
		nd_drop(nd, NULL, ND_DROP_NO_ROUTE, "destination is not in a VIP prefix");
		return;
	}
	p = nd_peer_by_vip(nd, &dst);
	if (p && p->state == ND_PEER_UP) {
		nd_data_send(nd, p, pkt, len);
		return;
	}
	/* First packet to a VIP: find its owner and build the tunnel. */
	if (!p || p->state == ND_PEER_FAILED)
		p = nd_peer_connect(nd, NULL, &dst);
	if (!p) {
		nd_drop(nd, NULL, ND_DROP_NO_ROUTE, "no tunnel and none can be built now");
		return;
	}
	queue_packet(nd, p, pkt, len);
}

static void on_tun(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct nd *nd = arg;
	static uint8_t buf[65536];

	for (int i = 0; i < ND_BATCH; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: read failed: %s", nd->tun_name, strerror(errno));
			return;
		}
		from_tun(nd, buf, (size_t)n);
	}
}

/* Delivers an authenticated inner packet from peer p. */
static void deliver(struct nd *nd, struct nd_peer *p, const uint8_t *inner, size_t len,
		    const struct ntm_endpoint *from)
{
	struct ntm_ip src, dst;

	if (len == 0)
		return;   /* a tunnel keep-alive */
	if (inner[0] == ND_INNER_CONTROL) {
		nd_ipc_tunnel_control(nd, p, inner + 1, len - 1);
		return;
	}
	if (ip_addresses(inner, len, &src, &dst) < 0) {
		nd_drop(nd, from, ND_DROP_MALFORMED, "inner packet is not IP");
		return;
	}
	/* Like WireGuard's allowed IPs: a peer may only send from its own VIPs. */
	if (nd_peer_by_vip(nd, &src) != p) {
		nd_drop(nd, from, ND_DROP_SPOOFED_SOURCE, p->fqdn);
		return;
	}
	if (write(nd->tun_fd, inner, len) < 0)
		nd_drop(nd, from, ND_DROP_NO_ROUTE, strerror(errno));
}

void nd_data_handle(struct nd *nd, uint8_t *pkt, size_t len, const struct ntm_endpoint *from)
{
	struct nd_session *s = NULL;
	uint32_t index;
	uint8_t *inner;
	size_t inner_len;
	uint64_t counter;

	if (ntm_data_index(pkt, len, &index) != NTM_CODEC_OK) {
		nd_drop(nd, from, ND_DROP_MALFORMED, "short data packet");
		return;
	}

	struct nd_peer *p = nd_peer_by_index(nd, index, &s);
	if (!p) {
		nd_drop(nd, from, ND_DROP_UNKNOWN_INDEX, "no session with that index");
		return;
	}

	enum ntm_codec_status st = ntm_data_open(pkt, len, s->keys.recv, &s->recv_window, &inner,
						 &inner_len, &counter);
	if (st != NTM_CODEC_OK) {
		nd_drop(nd, from, st == NTM_CODEC_REPLAYED ? ND_DROP_REPLAYED : ND_DROP_AUTH_FAILED,
			ntm_codec_status_str(st));
		return;
	}
	/* Roaming: an authenticated packet from a new address moves the path
	 * at once, with no round trip (a relayed one only while no direct path
	 * answers). */
	if (s == &p->cur)
		nd_relay_path_seen(nd, p, from);
	p->last_recv_ms = ntm_now_ms();
	s->bytes += inner_len;
	p->rx_bytes += inner_len;
	p->rx_packets++;
	deliver(nd, p, inner, inner_len, from);
}

/* relayed: pkt came out of a relay data packet, which cannot nest. */
static void handle_datagram(struct nd *nd, uint8_t *pkt, size_t len,
			    const struct ntm_endpoint *from, bool relayed)
{
	enum ntm_pkt_type type;
	const uint8_t *sender;

	if (ntm_pkt_peek(pkt, len, &type) != NTM_CODEC_OK) {
		nd_drop(nd, from, ND_DROP_MALFORMED, "bad version or short");
		return;
	}
	if (type == NTM_PKT_RELAY_DATA && !relayed) {
		size_t inner_len;
		uint8_t *inner = nd_relay_unwrap(pkt, len, &inner_len);

		if (inner)
			handle_datagram(nd, inner, inner_len, from, true);
		return;
	}
	if (type == NTM_PKT_DATA) {
		nd_data_handle(nd, pkt, len, from);
		return;
	}
	if (type != NTM_PKT_CONTROL || ntm_ctl_sender(pkt, len, &sender) != NTM_CODEC_OK) {
		nd_drop(nd, from, ND_DROP_MALFORMED, "unknown packet type");
		return;
	}
	if (sodium_memcmp(sender, nd->dc_key, NTM_KEY_LEN) == 0)
		nd_dc_handle(nd, pkt, len, from);
	else
		nd_peer_handle_control(nd, pkt, len, from, sender);
}

static void on_udp(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct nd *nd = arg;
	static uint8_t buf[NTM_DATA_MAX_PACKET + 1];

	for (int i = 0; i < ND_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct ntm_endpoint from;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("UDP socket: recvfrom failed: %s", strerror(errno));
			return;
		}
		if (ntm_endpoint_from_sockaddr(&from, (struct sockaddr *)&ss, sl) < 0)
			continue;
		handle_datagram(nd, buf, (size_t)n, &from, false);
	}
}

static int open_udp(struct nd *nd, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl = ntm_endpoint_to_sockaddr(&nd->cfg.listen, &ss);
	char ep[NTM_ENDPOINT_STRLEN];
	int size = 4 << 20;

	nd->udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (nd->udp_fd < 0) {
		snprintf(err, err_size, "cannot create the UDP socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(nd->udp_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(nd->udp_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(nd->udp_fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, err_size, "cannot bind the UDP socket to %s: %s; check [node] listen",
			 ntm_endpoint_str(&nd->cfg.listen, ep, sizeof(ep)), strerror(errno));
		return -1;
	}
	return 0;
}

static int open_tun(struct nd *nd, char *err, size_t err_size)
{
	nd->tun_fd = nd_tun_open(nd->cfg.tun_name, nd->tun_name, err, err_size);
	if (nd->tun_fd < 0)
		return -1;
	return nd_tun_up(nd->tun_name, (uint16_t)nd->cfg.mtu, err, err_size);
}

int nd_data_start(struct nd *nd, char *err, size_t err_size)
{
	nd->drop_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(20, 5);
	if (open_udp(nd, err, err_size) < 0 || open_tun(nd, err, err_size) < 0)
		return -1;
	if (ntm_loop_add_fd(nd->loop, nd->udp_fd, ZMQ_POLLIN, on_udp, nd) < 0 ||
	    ntm_loop_add_fd(nd->loop, nd->tun_fd, ZMQ_POLLIN, on_tun, nd) < 0) {
		snprintf(err, err_size, "cannot add the sockets to the event loop");
		return -1;
	}
	return 0;
}
