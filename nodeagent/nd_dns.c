/*
 * The node agent's DNS server (RFC 1035): parses standard queries with one
 * question, hands each to the agent through a callback, and sends the answer
 * the agent gives later, or SERVFAIL when it gives none within the timeout.
 */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zmq.h>

#include "nd_dns.h"
#include "ntm_log.h"
#include "ntm_ratelimit.h"
#include "ntm_time.h"

/* RFC 1035 section 4.1.1 header layout and flag bits. */
#define DNS_HEADER_LEN 12
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_RD 0x0100
#define DNS_OPCODE_SHIFT 11
#define DNS_OPCODE_MASK 0xf
#define DNS_RCODE_MAX 15
#define DNS_CLASS_IN 1
/* The two top bits of a length byte: 00 is a label, 11 a compression pointer,
 * 01 and 10 are reserved (RFC 1035 section 4.1.4, RFC 6891 section 5). */
#define DNS_LABEL_TYPE_MASK 0xc0
/* Compression pointer to the question name, which starts right after the header. */
#define DNS_PTR_TO_QUESTION 0xc00c
/* Name pointer, type, class, ttl and rdlength of an answer record. */
#define DNS_ANSWER_FIXED_LEN 12
/* RFC 2181 section 8: a TTL has 31 bits. */
#define DNS_TTL_MAX 0x7fffffffu

/* Classic DNS over UDP limit (RFC 1035 section 4.2.1). Every response the
 * server builds fits in it. */
#define DNS_UDP_MAX 512
/* A question: the header, a name of at most 255 bytes in wire form (RFC 1035
 * section 2.3.4), qtype and qclass. */
#define DNS_QUESTION_END_MAX (12 + 255 + 4)
_Static_assert(DNS_QUESTION_END_MAX + 12 + 16 <= DNS_UDP_MAX,
	       "a response with an AAAA answer fits in 512 bytes");
/* Receive buffer, larger than 512 because EDNS clients (RFC 6891) send
 * larger queries. A longer datagram is read truncated and treated as malformed. */
#define DNS_RECV_MAX 4096
/* Datagrams read per wakeup, so a flood cannot starve the loop's timers. */
#define DNS_RECV_BATCH 32
#define DNS_PENDING_MAX 256
#define DNS_TIMEOUT_MS 5000
#define DNS_TICK_MS 250

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

/*
 * Lower-cases c and returns it, or -1 when it may not appear in a name. NTM
 * FQDNs are host names (RFC 952, RFC 1123 section 2.1: letters, digits and
 * hyphens), with the underscore added for service labels such as _dns-sd, so
 * a query for any other character cannot name an NTM node. This also keeps
 * dots, NULs and control bytes out of the text form and the logs.
 */
static int name_char(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
		return c;
	return -1;
}

/*
 * Reads the question name at *pos into name (text form, lower case, no final
 * dot) and moves *pos past it. Returns 0 or -EBADMSG.
 */
static int parse_name(const uint8_t *buf, size_t len, size_t *pos, char *name)
{
	size_t p = *pos, text_len = 0;

	for (;;) {
		uint8_t label_len;

		if (p >= len)
			return -EBADMSG;
		label_len = buf[p++];
		if (label_len == 0)
			break;
		/* Any nonzero type bits: a pointer or a reserved label type. */
		if (label_len & DNS_LABEL_TYPE_MASK)
			return -EBADMSG;
		if (label_len > len - p)
			return -EBADMSG;
		if (text_len + (text_len > 0) + label_len > ND_DNS_NAME_MAX)
			return -EBADMSG;

		if (text_len > 0)
			name[text_len++] = '.';
		for (size_t i = 0; i < label_len; i++) {
			int c = name_char(buf[p + i]);

			if (c < 0)
				return -EBADMSG;
			name[text_len++] = (char)c;
		}
		p += label_len;
	}
	name[text_len] = '\0';
	*pos = p;
	return 0;
}

enum nd_dns_status nd_dns_parse_query(const uint8_t *buf, size_t len, struct nd_dns_query *q)
{
	size_t pos = DNS_HEADER_LEN;
	uint16_t flags;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_LEN)
		return ND_DNS_MALFORMED;
	flags = get_be16(buf + 2);
	if (flags & DNS_FLAG_QR)
		return ND_DNS_NOT_QUERY;
	if (((flags >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK) != 0 || get_be16(buf + 4) != 1)
		return ND_DNS_UNSUPPORTED;

	q->id = get_be16(buf);
	q->recursion_desired = (flags & DNS_FLAG_RD) != 0;
	if (parse_name(buf, len, &pos, q->name) < 0)
		return ND_DNS_MALFORMED;
	if (len - pos < 4)
		return ND_DNS_MALFORMED;
	q->qtype = get_be16(buf + pos);
	q->qclass = get_be16(buf + pos + 2);
	/* Whatever follows (answer, authority and additional records, such as
	 * an EDNS OPT record) is ignored. */
	q->question_end = pos + 4;
	return ND_DNS_OK;
}

/* Returns the rdata length of the answer for q, or 0 for none. */
static size_t answer_rdlength(const struct nd_dns_query *q, int rcode, const struct ntm_ip *ip)
{
	if (ip == NULL || rcode != ND_DNS_RCODE_NOERROR)
		return 0;
	if (ip->len == 4 && q->qtype == ND_DNS_TYPE_A)
		return 4;
	if (ip->len == 16 && q->qtype == ND_DNS_TYPE_AAAA)
		return 16;
	return 0;
}

ssize_t nd_dns_build_response(uint8_t *out, size_t out_size, const uint8_t *buf, size_t len,
			      const struct nd_dns_query *q, int rcode, const struct ntm_ip *ip,
			      uint32_t ttl)
{
	size_t rdlength = answer_rdlength(q, rcode, ip);
	size_t need = q->question_end + (rdlength ? DNS_ANSWER_FIXED_LEN + rdlength : 0);
	uint16_t flags = DNS_FLAG_QR | DNS_FLAG_AA;
	uint8_t *an;

	if (q->question_end < DNS_HEADER_LEN || q->question_end > len || rcode < 0 ||
	    rcode > DNS_RCODE_MAX)
		return -EINVAL;
	if (out_size < need)
		return -ENOSPC;

	if (q->recursion_desired)
		flags |= DNS_FLAG_RD;
	flags |= (uint16_t)rcode;
	memcpy(out, buf, q->question_end);
	put_be16(out + 2, flags);
	put_be16(out + 4, 1);
	put_be16(out + 6, rdlength ? 1 : 0);
	put_be16(out + 8, 0);
	put_be16(out + 10, 0);
	if (rdlength == 0)
		return (ssize_t)need;

	an = out + q->question_end;
	put_be16(an, DNS_PTR_TO_QUESTION);
	put_be16(an + 2, q->qtype);
	put_be16(an + 4, DNS_CLASS_IN);
	put_be32(an + 6, ttl > DNS_TTL_MAX ? DNS_TTL_MAX : ttl);
	put_be16(an + 10, (uint16_t)rdlength);
	memcpy(an + DNS_ANSWER_FIXED_LEN, ip->bytes, rdlength);
	return (ssize_t)need;
}

/* ---- server ---- */

/* A query handed to the callback and not answered yet; used == false marks a free slot. */
struct dns_pending {
	bool used;
	uint64_t handle;
	struct sockaddr_storage client;
	socklen_t client_len;
	uint8_t query[DNS_UDP_MAX];   /* the query up to question_end */
	struct nd_dns_query q;
	uint64_t deadline_ms;
};

struct nd_dns_server {
	struct ntm_loop *loop;
	int fd;
	struct ntm_timer *tick;
	nd_dns_resolve_cb cb;
	void *arg;
	uint64_t next_handle;
	uint64_t timeout_ms;
	struct nd_dns_stats stats;
	struct ntm_ratelimit client_log;
	struct ntm_ratelimit socket_log;
	/* nd_dns_server_close called from the callback: the reader frees the
	 * server once the callback has returned. */
	bool dispatching;
	bool close_requested;
	/* Linear scans over these are cheap at 256 slots. */
	struct dns_pending pending[DNS_PENDING_MAX];
};

/*
 * Logs a problem caused by one client at debug, rate-limited. Names in the
 * messages come from nd_dns_parse_query, which lets only [a-z0-9-_.] through,
 * so they need no sanitizing.
 */
static void log_client(struct nd_dns_server *srv, const struct sockaddr_storage *client,
		       socklen_t client_len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void log_client(struct nd_dns_server *srv, const struct sockaddr_storage *client,
		       socklen_t client_len, const char *fmt, ...)
{
	char text[NTM_ENDPOINT_STRLEN] = "unknown address";
	char what[ND_DNS_NAME_MAX + 128];
	struct ntm_endpoint ep;
	va_list ap;

	if (!ntm_log_enabled(NTM_LOG_DEBUG) || !ntm_ratelimit_allow(&srv->client_log, ntm_now_ms()))
		return;
	if (ntm_endpoint_from_sockaddr(&ep, (const struct sockaddr *)client, client_len) == 0)
		ntm_endpoint_str(&ep, text, sizeof(text));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_debug("DNS client %s: %s", text, what);
}

static void send_to_client(struct nd_dns_server *srv, const uint8_t *msg, size_t len,
			   const struct sockaddr_storage *client, socklen_t client_len)
{
	if (sendto(srv->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)client,
		   client_len) >= 0)
		return;
	log_client(srv, client, client_len, "sendto failed: %s", strerror(errno));
}

/*
 * Sends a response of the 12-byte header alone: the query's id, opcode and
 * RD bit echoed (RFC 1035 section 4.1.1), QR set and rcode. It answers
 * queries whose question is unusable or unsupported, so qdcount is 0.
 */
static void send_header_only(struct nd_dns_server *srv, const uint8_t *query, int rcode,
			     const struct sockaddr_storage *client, socklen_t client_len)
{
	uint16_t keep = (DNS_OPCODE_MASK << DNS_OPCODE_SHIFT) | DNS_FLAG_RD;
	uint8_t out[DNS_HEADER_LEN] = { 0 };

	memcpy(out, query, 2);
	put_be16(out + 2, (uint16_t)((get_be16(query + 2) & keep) | DNS_FLAG_QR | rcode));
	send_to_client(srv, out, sizeof(out), client, client_len);
}

static void send_response(struct nd_dns_server *srv, const struct dns_pending *slot, int rcode,
			  const struct ntm_ip *ip, uint32_t ttl)
{
	uint8_t out[DNS_UDP_MAX];
	ssize_t n = nd_dns_build_response(out, sizeof(out), slot->query, slot->q.question_end,
					  &slot->q, rcode, ip, ttl);

	if (n < 0) {
		log_client(srv, &slot->client, slot->client_len,
			   "failed to build the response to %s with rcode %d: %s", slot->q.name,
			   rcode, strerror((int)-n));
		return;
	}
	send_to_client(srv, out, (size_t)n, &slot->client, slot->client_len);
}

static struct dns_pending *find_free_slot(struct nd_dns_server *srv)
{
	for (size_t i = 0; i < DNS_PENDING_MAX; i++) {
		if (!srv->pending[i].used)
			return &srv->pending[i];
	}
	return NULL;
}

static struct dns_pending *find_slot(struct nd_dns_server *srv, uint64_t handle)
{
	for (size_t i = 0; i < DNS_PENDING_MAX; i++) {
		if (srv->pending[i].used && srv->pending[i].handle == handle)
			return &srv->pending[i];
	}
	return NULL;
}

static uint64_t deadline_after(uint64_t timeout_ms)
{
	uint64_t now = ntm_now_ms();

	return timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms;
}

/* Stores a valid query in a free slot and hands it to the callback, or
 * answers SERVFAIL at once when every slot is taken. */
static void accept_query(struct nd_dns_server *srv, const uint8_t *buf,
			 const struct nd_dns_query *q, const struct sockaddr_storage *client,
			 socklen_t client_len)
{
	struct dns_pending *slot = find_free_slot(srv);

	srv->stats.queries++;
	if (slot == NULL) {
		struct dns_pending refused = { .q = *q, .client = *client,
					       .client_len = client_len };

		srv->stats.overflow++;
		memcpy(refused.query, buf, q->question_end);
		log_client(srv, client, client_len,
			   "query for %s type %u rejected with SERVFAIL: %d queries already wait",
			   q->name, q->qtype, DNS_PENDING_MAX);
		send_response(srv, &refused, ND_DNS_RCODE_SERVFAIL, NULL, 0);
		return;
	}

	slot->used = true;
	slot->handle = srv->next_handle++;
	slot->client = *client;
	slot->client_len = client_len;
	memcpy(slot->query, buf, q->question_end);
	slot->q = *q;
	slot->deadline_ms = deadline_after(srv->timeout_ms);
	/* The slot is filled first, so the callback may answer at once. */
	srv->cb(srv, slot->handle, slot->q.name, slot->q.qtype, srv->arg);
}

/* Handles one datagram of n bytes; truncated is set when it was longer than buf. */
static void handle_datagram(struct nd_dns_server *srv, const uint8_t *buf, size_t n,
			    bool truncated, const struct sockaddr_storage *client,
			    socklen_t client_len)
{
	struct nd_dns_query q;
	enum nd_dns_status st = nd_dns_parse_query(buf, n, &q);

	/* A response is never answered, or two servers could loop forever. */
	if (st == ND_DNS_NOT_QUERY) {
		srv->stats.unsupported++;
		log_client(srv, client, client_len, "dropped a DNS response (QR set)");
		return;
	}
	if (truncated || st == ND_DNS_MALFORMED) {
		srv->stats.malformed++;
		if (n < DNS_HEADER_LEN) {
			log_client(srv, client, client_len,
				   "datagram shorter than a DNS header, dropped");
			return;
		}
		log_client(srv, client, client_len,
			   truncated ? "query longer than 4096 bytes, answered FORMERR" :
				       "malformed question, answered FORMERR");
		send_header_only(srv, buf, ND_DNS_RCODE_FORMERR, client, client_len);
		return;
	}
	if (st == ND_DNS_UNSUPPORTED) {
		srv->stats.unsupported++;
		log_client(srv, client, client_len,
			   "opcode other than QUERY or QDCOUNT not 1, answered NOTIMP");
		send_header_only(srv, buf, ND_DNS_RCODE_NOTIMP, client, client_len);
		return;
	}
	accept_query(srv, buf, &q, client, client_len);
}

/* Reads one datagram. Returns 1 when one was handled, 0 when none is left. */
static int read_one(struct nd_dns_server *srv)
{
	uint8_t buf[DNS_RECV_MAX];
	struct sockaddr_storage client;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_name = &client, .msg_namelen = sizeof(client),
			      .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(srv->fd, &msg, MSG_DONTWAIT);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    ntm_ratelimit_allow(&srv->socket_log, ntm_now_ms()))
			log_warn("DNS server: recvmsg failed: %s", strerror(errno));
		return 0;
	}
	handle_datagram(srv, buf, (size_t)n, (msg.msg_flags & MSG_TRUNC) != 0, &client,
			msg.msg_namelen);
	return 1;
}

static void server_free(struct nd_dns_server *srv);

static void on_readable(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct nd_dns_server *srv = arg;

	srv->dispatching = true;
	for (int i = 0; i < DNS_RECV_BATCH && !srv->close_requested; i++) {
		if (read_one(srv) == 0)
			break;
	}
	srv->dispatching = false;
	if (srv->close_requested)
		server_free(srv);
}

/* Answers SERVFAIL to the queries whose deadline passed. */
static void on_tick(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct nd_dns_server *srv = arg;
	uint64_t now = ntm_now_ms();

	for (size_t i = 0; i < DNS_PENDING_MAX; i++) {
		struct dns_pending *slot = &srv->pending[i];

		if (!slot->used || now < slot->deadline_ms)
			continue;
		slot->used = false;
		srv->stats.timeouts++;
		log_client(srv, &slot->client, slot->client_len,
			   "query for %s type %u timed out after %llu ms, answered SERVFAIL",
			   slot->q.name, slot->q.qtype, (unsigned long long)srv->timeout_ms);
		send_response(srv, slot, ND_DNS_RCODE_SERVFAIL, NULL, 0);
	}
}

/* Creates and binds the UDP socket. Returns 0, or -1 with err set. */
static int open_socket(struct nd_dns_server *srv, const struct ntm_endpoint *listen, char *err,
		       size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl = ntm_endpoint_to_sockaddr(listen, &ss);
	char ep[NTM_ENDPOINT_STRLEN];
	int enable = 1;

	srv->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0) {
		snprintf(err, err_size, "cannot create the DNS socket: %s", strerror(errno));
		return -1;
	}
	/* IPV6_V6ONLY lets an IPv4 DNS listener share the port. */
	if (setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &enable, sizeof(enable)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(srv->fd, IPPROTO_IPV6, IPV6_V6ONLY, &enable, sizeof(enable)) < 0)) {
		snprintf(err, err_size, "cannot set the DNS socket options: %s", strerror(errno));
		return -1;
	}
	if (bind(srv->fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, err_size, "cannot bind the DNS socket to %s: %s (is the port in use, "
			 "or dns_listen wrong?)",
			 ntm_endpoint_str(listen, ep, sizeof(ep)), strerror(errno));
		return -1;
	}
	return 0;
}

struct nd_dns_server *nd_dns_server_open(struct ntm_loop *loop, const struct ntm_endpoint *listen,
					 nd_dns_resolve_cb cb, void *arg, char *err,
					 size_t err_size)
{
	struct nd_dns_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL) {
		snprintf(err, err_size, "cannot allocate the DNS server: out of memory");
		return NULL;
	}
	srv->loop = loop;
	srv->fd = -1;
	srv->cb = cb;
	srv->arg = arg;
	srv->next_handle = 1;
	srv->timeout_ms = DNS_TIMEOUT_MS;
	srv->client_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(20, 5);
	srv->socket_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(5, 1);
	if (open_socket(srv, listen, err, err_size) < 0)
		goto fail;

	if (ntm_loop_add_fd(loop, srv->fd, ZMQ_POLLIN, on_readable, srv) < 0) {
		snprintf(err, err_size, "cannot register the DNS socket with the event loop");
		goto fail;
	}
	srv->tick = ntm_loop_timer_add(loop, DNS_TICK_MS, DNS_TICK_MS, on_tick, srv);
	if (srv->tick == NULL) {
		snprintf(err, err_size, "cannot add the DNS timeout timer: out of memory");
		ntm_loop_del_fd(loop, srv->fd);
		goto fail;
	}
	return srv;

fail:
	if (srv->fd >= 0)
		close(srv->fd);
	free(srv);
	return NULL;
}

/* Frees the server. Queries still waiting get no answer: their clients retry. */
static void server_free(struct nd_dns_server *srv)
{
	ntm_loop_timer_cancel(srv->loop, srv->tick);
	ntm_loop_del_fd(srv->loop, srv->fd);
	close(srv->fd);
	free(srv);
}

void nd_dns_server_close(struct nd_dns_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->dispatching) {
		srv->close_requested = true;
		return;
	}
	server_free(srv);
}

void nd_dns_server_answer(struct nd_dns_server *srv, uint64_t handle, int rcode,
			  const struct ntm_ip *ip, uint32_t ttl)
{
	struct dns_pending *slot;

	if (srv == NULL || srv->close_requested)
		return;
	slot = find_slot(srv, handle);
	if (slot == NULL)
		return;
	slot->used = false;
	srv->stats.answered++;
	send_response(srv, slot, rcode, ip, ttl);
}

void nd_dns_server_set_timeout_ms(struct nd_dns_server *srv, uint64_t timeout_ms)
{
	srv->timeout_ms = timeout_ms;
}

void nd_dns_server_stats(const struct nd_dns_server *srv, struct nd_dns_stats *out)
{
	*out = srv->stats;
}
