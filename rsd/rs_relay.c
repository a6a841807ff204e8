/*
 * The relay's UDP socket: reads datagrams in batches with recvmmsg, decides
 * each one with rs_datagram_handle, and sends the forwarded ones of a batch
 * with one sendmmsg. A forwarded datagram is sent from the receive buffer
 * as it arrived, header included. A timer ends idle sessions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.h>

#include "rs.h"
#include "ntm_time.h"

/* Datagrams per recvmmsg and sendmmsg call. */
#define RS_BATCH 64
/* Batches read per wakeup, so a flood cannot starve the timers and the
 * allocation socket. */
#define RS_BATCHES_PER_WAKEUP 4
/* Largest UDP payload plus one: a datagram that fills the buffer is flagged
 * MSG_TRUNC and dropped as malformed. Pages the kernel never writes stay
 * unused, so the 4 MiB of buffers cost little memory. */
#define RS_DATAGRAM_MAX 65536
#define RS_TICK_MS 1000
/* Socket buffer size requested, in bytes. The kernel caps it at rmem_max and
 * wmem_max. */
#define RS_SOCKET_BUFFER (4 * 1024 * 1024)

struct rs_relay {
	int fd;
	uint8_t *bufs;                        /* RS_BATCH buffers of RS_DATAGRAM_MAX */
	struct mmsghdr rx[RS_BATCH];
	struct iovec rx_iov[RS_BATCH];
	struct sockaddr_storage rx_addr[RS_BATCH];
	struct mmsghdr tx[RS_BATCH];
	struct iovec tx_iov[RS_BATCH];
	struct sockaddr_storage tx_addr[RS_BATCH];
	struct ntm_endpoint self_addrs[2];
	struct rs_self self;
	struct ntm_timer *tick;
};

static const char *session_id_str(uint64_t id, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)id);
	return out;
}

/* Counts a dropped datagram and logs it at debug, rate-limited. */
static void count_drop(struct rs *rs, const struct ntm_endpoint *from,
		       const struct rs_verdict *v)
{
	char ep[NTM_ENDPOINT_STRLEN], id[17] = "-";

	rs->counters.drops[v->drop]++;
	if (v->session_id != 0)
		session_id_str(v->session_id, id);
	if (v->drop == RS_DROP_RATE_LIMITED) {
		if (ntm_ratelimit_allow(&rs->limit_log, ntm_now_ms()))
			log_info("%s: session %s: dropping packets above the limit of %llu per "
				 "second ([rs] max_pps_per_session)",
				 ntm_endpoint_str(from, ep, sizeof(ep)), id,
				 (unsigned long long)rs->cfg.max_pps_per_session);
		return;
	}
	if (!ntm_log_enabled(NTM_LOG_DEBUG) || !ntm_ratelimit_allow(&rs->drop_log, ntm_now_ms()))
		return;
	log_debug("%s: dropped a datagram for session %s: %s%s%s",
		  ntm_endpoint_str(from, ep, sizeof(ep)), id, rs_drop_str(v->drop),
		  v->codec != NTM_CODEC_OK ? ", " : "",
		  v->codec != NTM_CODEC_OK ? ntm_codec_status_str(v->codec) : "");
}

/* Counts an accepted bind, and logs a side's first bind and every move. */
static void record_bind(struct rs *rs, const struct ntm_endpoint *from,
			const struct rs_verdict *v)
{
	const struct rs_side_state *side = &v->session->side[v->from];
	char ep[NTM_ENDPOINT_STRLEN], id[17], key[9];

	rs->counters.binds++;
	rs->counters.rebinds += v->moved;
	ntm_endpoint_str(from, ep, sizeof(ep));
	session_id_str(v->session->id, id);
	ntm_key_id(side->key, key);
	if (side->binds > 1 && !v->moved) {
		log_debug("%s: session %s: node %s refreshed its bind", ep, id, key);
		return;
	}
	if (!ntm_ratelimit_allow(&rs->event_log, ntm_now_ms()))
		return;
	log_info("%s: session %s: node %s %s side %c", ep, id, key,
		 v->moved ? "moved, now binds" : "bound", v->from == RS_SIDE_A ? 'a' : 'b');
}

/* Adds a forwarded datagram to the send batch. */
static void queue_forward(struct rs_relay *r, size_t *n_tx, const struct rs_verdict *v,
			  uint8_t *pkt, size_t len)
{
	const struct rs_side_state *to = &v->session->side[v->from == RS_SIDE_A ? RS_SIDE_B
										    : RS_SIDE_A];
	size_t i = (*n_tx)++;

	memcpy(&r->tx_addr[i], &to->bound_sa, to->bound_sa_len);
	r->tx_iov[i] = (struct iovec){ .iov_base = pkt, .iov_len = len };
	r->tx[i].msg_hdr = (struct msghdr){
		.msg_name = &r->tx_addr[i],
		.msg_namelen = to->bound_sa_len,
		.msg_iov = &r->tx_iov[i],
		.msg_iovlen = 1,
	};
}

static void handle_one(struct rs *rs, size_t i, uint64_t now, size_t *n_tx)
{
	struct rs_relay *r = rs->relay;
	struct msghdr *h = &r->rx[i].msg_hdr;
	uint8_t *pkt = r->rx_iov[i].iov_base;
	size_t len = r->rx[i].msg_len;
	struct ntm_endpoint from;
	struct rs_verdict v;

	if (ntm_endpoint_from_sockaddr(&from, h->msg_name, h->msg_namelen) < 0) {
		rs->counters.drops[RS_DROP_MALFORMED]++;
		return;
	}
	if (h->msg_flags & MSG_TRUNC) {
		v = (struct rs_verdict){ .drop = RS_DROP_MALFORMED, .codec = NTM_CODEC_OVERSIZED };
		count_drop(rs, &from, &v);
		return;
	}
	rs_datagram_handle(rs->table, &r->self, pkt, len, &from, now, &v);
	if (v.action == RS_ACTION_DROP)
		count_drop(rs, &from, &v);
	else if (v.action == RS_ACTION_BOUND)
		record_bind(rs, &from, &v);
	else
		queue_forward(r, n_tx, &v, pkt, len);
}

static bool transient(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM;
}

/* Sends the batch. A datagram the kernel rejects is counted and skipped, and a
 * full socket buffer drops the rest of the batch, as a router would. */
static void flush(struct rs *rs, size_t n_tx)
{
	struct rs_relay *r = rs->relay;
	size_t done = 0;

	while (done < n_tx) {
		int n = sendmmsg(r->fd, r->tx + done, (unsigned)(n_tx - done), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			size_t lost = transient(err) ? n_tx - done : 1;

			rs->counters.send_errors += lost;
			if (ntm_ratelimit_allow(&rs->drop_log, ntm_now_ms()))
				log_warn("relay socket: sendmmsg failed, %zu datagrams not "
					 "forwarded: %s", lost, strerror(err));
			done += lost;
			continue;
		}
		for (int i = 0; i < n; i++)
			rs->counters.forwarded_bytes += r->tx[done + (size_t)i].msg_len;
		rs->counters.forwarded_packets += (uint64_t)n;
		done += (size_t)n;
	}
}

static void rx_reset(struct rs_relay *r)
{
	for (size_t i = 0; i < RS_BATCH; i++) {
		r->rx[i].msg_hdr.msg_namelen = sizeof(r->rx_addr[i]);
		r->rx[i].msg_hdr.msg_flags = 0;
	}
}

static void on_udp(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct rs *rs = arg;
	struct rs_relay *r = rs->relay;

	/* A reload may have changed public_endpoint. */
	r->self_addrs[1] = rs->cfg.public_endpoint;
	for (int b = 0; b < RS_BATCHES_PER_WAKEUP; b++) {
		size_t n_tx = 0;
		int n;

		rx_reset(r);
		n = recvmmsg(fd, r->rx, RS_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("relay socket: recvmmsg failed: %s", strerror(errno));
			return;
		}

		uint64_t now = ntm_now_ms();

		for (int i = 0; i < n; i++)
			handle_one(rs, (size_t)i, now, &n_tx);
		flush(rs, n_tx);
		if (n < RS_BATCH)
			return;
	}
}

static void on_expired(const struct rs_session *s, void *arg)
{
	struct rs *rs = arg;
	char id[17];

	rs->counters.expirations++;
	if (!ntm_ratelimit_allow(&rs->event_log, ntm_now_ms()))
		return;
	log_info("session %s of DC %s: ended after %llu s without traffic",
		 session_id_str(s->id, id), rs->cfg.dcs[s->dc].name,
		 (unsigned long long)(s->idle_timeout_ms / 1000));
}

static void on_tick(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct rs *rs = arg;

	rs_table_expire(rs->table, ntm_now_ms(), on_expired, rs);
}

static void setup_buffers(struct rs_relay *r)
{
	for (size_t i = 0; i < RS_BATCH; i++) {
		r->rx_iov[i] = (struct iovec){ .iov_base = r->bufs + i * RS_DATAGRAM_MAX,
					       .iov_len = RS_DATAGRAM_MAX };
		r->rx[i].msg_hdr = (struct msghdr){
			.msg_name = &r->rx_addr[i],
			.msg_namelen = sizeof(r->rx_addr[i]),
			.msg_iov = &r->rx_iov[i],
			.msg_iovlen = 1,
		};
	}
}

static int open_socket(struct rs *rs, char *err, size_t err_size)
{
	struct rs_relay *r = rs->relay;
	struct sockaddr_storage ss;
	socklen_t sl = ntm_endpoint_to_sockaddr(&rs->cfg.listen, &ss);
	char ep[NTM_ENDPOINT_STRLEN];
	int one = 1, size = RS_SOCKET_BUFFER;

	r->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		snprintf(err, err_size, "cannot create the relay socket: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(r->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Best effort: a smaller buffer only drops more in bursts. */
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(r->fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, err_size, "cannot bind the relay socket to %s: %s (is another "
			 "ntm-rsd running, or [rs] listen wrong?)",
			 ntm_endpoint_str(&rs->cfg.listen, ep, sizeof(ep)), strerror(errno));
		return -1;
	}
	return 0;
}

int rs_relay_start(struct rs *rs, char *err, size_t err_size)
{
	struct rs_relay *r = calloc(1, sizeof(*r));
	char ep[NTM_ENDPOINT_STRLEN];

	if (!r) {
		snprintf(err, err_size, "relay socket: out of memory");
		return -1;
	}
	r->fd = -1;
	rs->relay = r;
	r->bufs = malloc((size_t)RS_BATCH * RS_DATAGRAM_MAX);
	if (!r->bufs) {
		snprintf(err, err_size, "relay socket: out of memory for the receive buffers");
		return -1;
	}
	setup_buffers(r);
	/* NOTE: with an unspecified listen address only public_endpoint is
	 * recognised as the relay itself. Linux drops incoming packets whose
	 * source is a local address (accept_local = 0), which covers the rest. */
	r->self_addrs[0] = rs->cfg.listen;
	r->self_addrs[1] = rs->cfg.public_endpoint;
	r->self = (struct rs_self){ .addrs = r->self_addrs, .n_addrs = 2 };
	if (open_socket(rs, err, err_size) < 0)
		return -1;
	r->tick = ntm_loop_timer_add(rs->loop, RS_TICK_MS, RS_TICK_MS, on_tick, rs);
	if (!r->tick || ntm_loop_add_fd(rs->loop, r->fd, ZMQ_POLLIN, on_udp, rs) < 0) {
		snprintf(err, err_size, "cannot register the relay socket with the event loop");
		return -1;
	}
	log_info("relay socket listening on udp %s, announced as %s",
		 ntm_endpoint_str(&rs->cfg.listen, ep, sizeof(ep)),
		 ntm_endpoint_str(&rs->cfg.public_endpoint, (char[NTM_ENDPOINT_STRLEN]){ 0 },
				  NTM_ENDPOINT_STRLEN));
	return 0;
}

void rs_relay_stop(struct rs *rs)
{
	struct rs_relay *r = rs->relay;

	if (!r)
		return;
	if (r->tick)
		ntm_loop_timer_cancel(rs->loop, r->tick);
	if (r->fd >= 0) {
		ntm_loop_del_fd(rs->loop, r->fd);
		close(r->fd);
	}
	free(r->bufs);
	free(r);
	rs->relay = NULL;
}
