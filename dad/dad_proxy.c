/*
 * One thread per proxied connection. Each thread reads a request from the
 * player, forwards it to the server, reads the response and forwards it to
 * the player, and repeats while both sides keep the connection alive.
 * Requests that a player pipelines wait in the socket until their turn.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dad_http.h"
#include "dad_proxy.h"
#include "ntm_addr.h"
#include "ntm_log.h"
#include "ntm_ratelimit.h"
#include "ntm_time.h"

/* An error response waits this long for the rest of the request before the
 * close, because closing with unread bytes sends a reset that can destroy
 * the response before the player reads it. */
#define LINGER_MS 1000
#define LINGER_BYTES (256 * 1024)
/* A translated head can be longer than the 16 KiB read limit, since an
 * address can grow from 7 to 15 characters. */
#define HEAD_OUT_MAX (2 * DAD_HTTP_HEAD_MAX)
#define MEDIA_TYPE_MAX 128
#define CONN_NAME_MAX 64
/* Peer-caused log lines: a burst of 20, then 5 a second. */
#define LOG_BURST 20
#define LOG_RATE 5

struct proxy_counters {
	_Atomic uint64_t accepted;
	_Atomic uint64_t rejected_busy;
	_Atomic uint64_t rejected_unknown;
	_Atomic uint64_t rejected_invalid;
	_Atomic uint64_t upstream_failed;
	_Atomic uint64_t requests;
	_Atomic uint64_t bodies_rewritten;
	_Atomic uint64_t bodies_too_large;
	_Atomic uint64_t bodies_encoded;
	_Atomic uint64_t urls_rewritten;
	_Atomic uint64_t bytes_to_player;
	_Atomic uint64_t bytes_to_server;
};

#define COUNT(proxy, field, n) \
	atomic_fetch_add_explicit(&(proxy)->count.field, (uint64_t)(n), memory_order_relaxed)

struct dad_proxy {
	struct dad_proxy_conf conf;
	struct dad_proxy_ops ops;
	void *ctx;
	struct dad_gena *gena;
	pthread_mutex_t lock;          /* guards the fields below */
	pthread_cond_t idle;           /* signalled when active drops to 0 */
	struct dad_conn *conns;
	unsigned active;
	bool stopping;
	struct ntm_ratelimit log_limit;
	struct proxy_counters count;
};

/* Body framing of a forwarded head. */
enum frame {
	FRAME_KEEP,     /* as the source did: its Content-Length or Transfer-Encoding */
	FRAME_LENGTH,   /* a new Content-Length, no Transfer-Encoding */
	FRAME_CLOSE,    /* neither: the body ends when the connection closes */
};

enum relay_mode {
	RELAY_PLAIN,     /* body bytes as they come */
	RELAY_CHUNKED,   /* chunked, with the chunk sizes of the source */
	RELAY_RECHUNK,   /* chunked, each piece one chunk (after an overflow) */
	RELAY_BUFFER,    /* collected, translated, sent with FRAME_LENGTH */
};

struct dad_conn;

/* One message body on its way from one side to the other. */
struct relay {
	struct dad_conn *conn;
	bool response;                 /* server to player */
	struct dad_http_stream *to;
	enum relay_mode mode;
	enum relay_mode stream_mode;   /* taken when a buffered body overflows */
	enum frame stream_frame;
	bool to_failed;                /* the error came from writing to `to` */
	/* Chunk-size lines and CRLFs of RELAY_CHUNKED, sent with the next
	 * body bytes so that a chunk costs one write. */
	char pending[48];
	size_t pending_len;
};

struct dad_conn {
	struct dad_proxy *proxy;
	struct dad_conn *prev;
	struct dad_conn *next;
	bool memory;                   /* a transcript: no sockets */
	struct sockaddr_in client;
	struct sockaddr_in orig_dst;
	struct sockaddr_in server;
	bool server_open;
	bool server_reused;            /* the request went on a kept-alive connection */
	bool close_after;              /* the current response ends the connection */
	bool continue_sent;            /* this proxy sent 100 Continue itself */
	bool answered;                 /* the player got bytes of a final response */
	bool linger;                   /* drain the player before closing */
	bool player_failed;            /* the last error came from the player's side */
	uint64_t gena_id;              /* pending GENA subscription, 0 for none */
	uint64_t started_wall_ms;      /* Unix ms when the connection was handed over */
	uint64_t counted_to_player;
	uint64_t counted_to_server;
	char name[CONN_NAME_MAX];      /* "198.51.100.9:40000 -> 198.51.100.3:8200" */
	char gena_callback[DAD_GENA_CALLBACK_SIZE];
	struct http_rewrite_pair pairs[DAD_PROXY_MAP_MAX];
	struct http_rewrite_map map;
	struct http_rewrite_buf head;
	struct http_rewrite_buf scratch;
	struct http_rewrite_buf body;
	struct http_rewrite_buf rewritten;
	struct dad_http_stream player;
	struct dad_http_stream upstream;
	struct dad_http_parser req;
	struct dad_http_parser resp;
};

static bool log_allowed(struct dad_proxy *proxy)
{
	bool allowed;

	pthread_mutex_lock(&proxy->lock);
	allowed = ntm_ratelimit_allow(&proxy->log_limit, ntm_now_ms());
	pthread_mutex_unlock(&proxy->lock);
	return allowed;
}

static const char *endpoint_text(const struct sockaddr_in *sin, char *out, size_t size)
{
	char ip[INET_ADDRSTRLEN];

	if (!inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(out, size, "%s:%u", ip, ntohs(sin->sin_port));
	return out;
}

/* --- Connections -------------------------------------------------------- */

static struct dad_conn *conn_new(struct dad_proxy *proxy, const struct sockaddr_in *client,
				 const struct sockaddr_in *orig_dst)
{
	struct dad_conn *c = calloc(1, sizeof(*c));
	char from[NTM_ENDPOINT_STRLEN], to[NTM_ENDPOINT_STRLEN];

	if (!c)
		return NULL;
	c->proxy = proxy;
	c->client = *client;
	c->orig_dst = *orig_dst;
	c->map.pairs = c->pairs;
	http_rewrite_buf_init(&c->head, HEAD_OUT_MAX);
	http_rewrite_buf_init(&c->scratch, HEAD_OUT_MAX);
	http_rewrite_buf_init(&c->body, proxy->conf.body_max);
	/* Each URL grows by at most 8 bytes and is longer than that. */
	http_rewrite_buf_init(&c->rewritten, 2 * proxy->conf.body_max);
	dad_http_stream_init_fd(&c->player, -1);
	dad_http_stream_init_fd(&c->upstream, -1);
	snprintf(c->name, sizeof(c->name), "%s -> %s",
		 endpoint_text(client, from, sizeof(from)),
		 endpoint_text(orig_dst, to, sizeof(to)));
	return c;
}

static void conn_free(struct dad_conn *c)
{
	http_rewrite_buf_free(&c->head);
	http_rewrite_buf_free(&c->scratch);
	http_rewrite_buf_free(&c->body);
	http_rewrite_buf_free(&c->rewritten);
	free(c);
}

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Heads and bodies go out in separate writes, so Nagle's algorithm would
 * hold the second one until the peer's delayed ACK. */
static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void count_bytes(struct dad_conn *c)
{
	COUNT(c->proxy, bytes_to_player, c->player.bytes_out - c->counted_to_player);
	COUNT(c->proxy, bytes_to_server, c->upstream.bytes_out - c->counted_to_server);
	c->counted_to_player = c->player.bytes_out;
	c->counted_to_server = c->upstream.bytes_out;
}

/* Builds "HTTP/1.1 <status> <reason>" with a short text body. */
static size_t format_error(char *out, size_t size, unsigned status, const char *reason)
{
	char body[96];
	int body_len = snprintf(body, sizeof(body), "%u %s\n", status, reason);
	int n = snprintf(out, size,
			 "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
			 "Connection: close\r\n\r\n%s",
			 status, reason, body_len, body);

	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* Sends the player an error response and ends the connection after it. */
static void reply_error(struct dad_conn *c, unsigned status, const char *reason)
{
	char msg[256];
	size_t len = format_error(msg, sizeof(msg), status, reason);

	if (len > 0 && dad_http_send(&c->player, msg, len) == 0)
		c->answered = true;
	c->close_after = true;
	c->linger = true;
}

/* --- The server side ---------------------------------------------------- */

static int server_connect(struct dad_conn *c)
{
	const struct dad_proxy_conf *conf = &c->proxy->conf;
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_addr = conf->lan_addr };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	int ret;

	if (fd < 0)
		return -errno;
	set_timeouts(fd, conf->connect_timeout_ms);
	set_nodelay(fd);
	if (conf->lan_addr.s_addr != htonl(INADDR_ANY)) {
		/* The port is picked at connect(2), per destination. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&c->server, sizeof(c->server)) < 0) {
		/* SO_SNDTIMEO expired: connect(2) reports EINPROGRESS. */
		if (errno == EINPROGRESS)
			errno = ETIMEDOUT;
		goto fail;
	}
	set_timeouts(fd, conf->io_timeout_ms);
	return fd;

fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* Opens the connection to the server unless one is open. */
static int server_ensure(struct dad_conn *c)
{
	struct dad_proxy *proxy = c->proxy;
	int fd;

	if (c->server_open) {
		c->server_reused = true;
		return 0;
	}
	c->server_reused = false;
	if (c->memory) {
		c->server_open = true;
		return 0;
	}
	fd = server_connect(c);
	if (fd < 0)
		return fd;

	pthread_mutex_lock(&proxy->lock);
	if (proxy->stopping) {
		pthread_mutex_unlock(&proxy->lock);
		close(fd);
		return -ESHUTDOWN;
	}
	dad_http_stream_reset(&c->upstream, fd);
	pthread_mutex_unlock(&proxy->lock);
	c->server_open = true;
	return 0;
}

static void server_close(struct dad_conn *c)
{
	c->server_open = false;
	if (c->memory || c->upstream.fd < 0)
		return;
	pthread_mutex_lock(&c->proxy->lock);
	close(c->upstream.fd);
	dad_http_stream_reset(&c->upstream, -1);
	pthread_mutex_unlock(&c->proxy->lock);
}

/* --- Heads -------------------------------------------------------------- */

static const char *field_value(const struct dad_http_head *h, const char *name, size_t *len)
{
	ssize_t i = dad_http_find(h, name);

	return i < 0 ? NULL : dad_http_field_value(h, (size_t)i, len);
}

static bool value_is(const char *value, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(value, word, len) == 0;
}

static bool is_framing_field(const struct dad_http_head *h, size_t i)
{
	return dad_http_field_is(h, i, "Content-Length") ||
	       dad_http_field_is(h, i, "Transfer-Encoding") || dad_http_field_is(h, i, "Trailer");
}

static int put_length(struct http_rewrite_buf *out, const char *name, size_t name_len,
		      uint64_t length)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64, length);

	return dad_http_put_field(out, name, name_len, text, (size_t)n);
}

/*
 * Applies the framing to field i. FRAME_KEEP keeps every field. Otherwise
 * Transfer-Encoding and Trailer go, and so does Content-Length, except that
 * under FRAME_LENGTH the first one stays in its place with the new length.
 * Returns 1 when field i was handled here, 0 when the caller appends it, or
 * -errno.
 */
static int put_framing_field(struct http_rewrite_buf *out, const struct dad_http_head *h,
			     size_t i, enum frame frame, uint64_t length, bool *length_put)
{
	size_t name_len;
	const char *name;
	int ret;

	if (frame == FRAME_KEEP || !is_framing_field(h, i))
		return 0;
	if (frame != FRAME_LENGTH || *length_put || !dad_http_field_is(h, i, "Content-Length"))
		return 1;
	name = dad_http_field_name(h, i, &name_len);
	*length_put = true;
	ret = put_length(out, name, name_len, length);
	return ret < 0 ? ret : 1;
}

/* Appends field i with its value's URLs translated in direction dir. */
static int put_translated_field(struct dad_conn *c, const struct dad_http_head *h, size_t i,
				enum http_rewrite_dir dir)
{
	size_t name_len, value_len;
	const char *name = dad_http_field_name(h, i, &name_len);
	const char *value = dad_http_field_value(h, i, &value_len);
	ssize_t n;

	http_rewrite_buf_clear(&c->scratch);
	if (dir == HTTP_REWRITE_TO_REAL && dad_http_field_is(h, i, "Host"))
		n = http_rewrite_host(&c->scratch, value, value_len, &c->map, dir);
	else
		n = http_rewrite_urls(&c->scratch, value, value_len, &c->map, dir);
	if (n < 0)
		return (int)n;
	COUNT(c->proxy, urls_rewritten, n);
	return dad_http_put_field(&c->head, name, name_len, c->scratch.data, c->scratch.len);
}

static int put_request_field(struct dad_conn *c, size_t i)
{
	const struct dad_http_head *h = &c->req.head;
	size_t name_len, value_len;
	const char *name = dad_http_field_name(h, i, &name_len);
	const char *value = dad_http_field_value(h, i, &value_len);

	/* This proxy sends 100 Continue itself (RFC 9110 section 10.1.1). */
	if (dad_http_field_is(h, i, "Expect") && value_is(value, value_len, "100-continue"))
		return 0;
	/* Bodies must come back uncompressed to be translated. */
	if (dad_http_field_is(h, i, "Accept-Encoding"))
		return dad_http_put_field(&c->head, name, name_len, "identity", 8);
	if (c->gena_id != 0 && dad_http_field_is(h, i, "CALLBACK"))
		return dad_http_put_field(&c->head, name, name_len, c->gena_callback,
					  strlen(c->gena_callback));
	return put_translated_field(c, h, i, HTTP_REWRITE_TO_REAL);
}

static int build_request_head(struct dad_conn *c, enum frame frame, uint64_t length)
{
	const struct dad_http_head *h = &c->req.head;
	size_t target_len;
	const char *target = dad_http_target(h, &target_len);
	bool length_put = false;
	ssize_t n;
	int ret;

	http_rewrite_buf_clear(&c->head);
	http_rewrite_buf_clear(&c->scratch);
	/* An absolute-form target names the VIP (RFC 9112 section 3.2.2). */
	n = http_rewrite_urls(&c->scratch, target, target_len, &c->map, HTTP_REWRITE_TO_REAL);
	if (n < 0)
		return (int)n;
	ret = dad_http_put_request_line(&c->head, h, c->scratch.data, c->scratch.len);
	for (size_t i = 0; ret == 0 && i < h->field_count; i++) {
		ret = put_framing_field(&c->head, h, i, frame, length, &length_put);
		if (ret == 0)
			ret = put_request_field(c, i);
		ret = ret > 0 ? 0 : ret;
	}
	if (ret == 0 && frame == FRAME_LENGTH && !length_put)
		ret = put_length(&c->head, "Content-Length", 14, length);
	if (ret == 0)
		ret = http_rewrite_buf_append(&c->head, "\r\n", 2);
	return ret;
}

/* final is false for a 1xx head, which never carries connection options. */
static int build_response_head(struct dad_conn *c, enum frame frame, uint64_t length, bool final)
{
	const struct dad_http_head *h = &c->resp.head;
	bool closing = final && c->close_after;
	bool length_put = false, close_put = false;
	int ret;

	http_rewrite_buf_clear(&c->head);
	ret = dad_http_put_status_line(&c->head, h);
	for (size_t i = 0; ret == 0 && i < h->field_count; i++) {
		ret = put_framing_field(&c->head, h, i, frame, length, &length_put);
		if (ret != 0) {
			ret = ret > 0 ? 0 : ret;
			continue;
		}
		if (closing && dad_http_field_is(h, i, "Keep-Alive"))
			continue;
		if (closing && dad_http_field_is(h, i, "Connection")) {
			/* The first one becomes "close", in its place. */
			size_t name_len;
			const char *name = dad_http_field_name(h, i, &name_len);

			if (!close_put)
				ret = dad_http_put_field(&c->head, name, name_len, "close", 5);
			close_put = true;
			continue;
		}
		ret = put_translated_field(c, h, i, HTTP_REWRITE_TO_VIP);
	}
	if (ret == 0 && frame == FRAME_LENGTH && !length_put)
		ret = put_length(&c->head, "Content-Length", 14, length);
	if (ret == 0 && closing && !close_put)
		ret = dad_http_put_field(&c->head, "Connection", 10, "close", 5);
	if (ret == 0)
		ret = http_rewrite_buf_append(&c->head, "\r\n", 2);
	return ret;
}

/* --- Body translation policy --------------------------------------------- */

/* XML and text media types: descriptions, SOAP, DIDL-Lite, event bodies. */
static bool is_text_type(const char *type)
{
	size_t len = strlen(type);

	return strncmp(type, "text/", 5) == 0 || strcmp(type, "application/xml") == 0 ||
	       strcmp(type, "application/soap+xml") == 0 ||
	       (len > 4 && strcmp(type + len - 4, "+xml") == 0);
}

static bool path_is_xml(const struct dad_http_head *req)
{
	size_t len, end = 0;
	const char *target = dad_http_target(req, &len);

	while (end < len && target[end] != '?' && target[end] != '#')
		end++;
	return end >= 4 && strncasecmp(target + end - 4, ".xml", 4) == 0;
}

/* A body of h whose media type may contain URLs. Without a Content-Type,
 * only a request for a ".xml" path (a device or service description)
 * counts, so unlabelled media is never buffered. */
static bool has_text_body(const struct dad_http_head *h, const struct dad_http_head *req)
{
	char type[MEDIA_TYPE_MAX];

	if (dad_http_find(h, "Content-Type") < 0)
		return req && path_is_xml(req);
	return dad_http_media_type(h, type, sizeof(type)) && is_text_type(type);
}

static bool is_encoded(const struct dad_http_head *h)
{
	size_t len;
	const char *value = field_value(h, "Content-Encoding", &len);

	while (value && len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	return value && len > 0 && !value_is(value, len, "identity");
}

/* Decides whether the body of h (the request, or the response to req) is
 * buffered for translation, and logs why a text body is not. */
static bool should_buffer(struct dad_conn *c, const struct dad_http_head *h,
			  const struct dad_http_head *req)
{
	struct dad_proxy *proxy = c->proxy;

	if (!has_text_body(h, req))
		return false;
	if (is_encoded(h)) {
		COUNT(proxy, bodies_encoded, 1);
		if (log_allowed(proxy))
			log_info("%s: body with Content-Encoding despite Accept-Encoding: identity, "
				 "passed on untranslated",
				 c->name);
		return false;
	}
	if (h->body == DAD_HTTP_BODY_LENGTH && h->content_length > proxy->conf.body_max) {
		COUNT(proxy, bodies_too_large, 1);
		if (log_allowed(proxy))
			log_info("%s: text body of %" PRIu64 " bytes exceeds %zu, passed on "
				 "untranslated",
				 c->name, h->content_length, proxy->conf.body_max);
		return false;
	}
	return true;
}

/* --- Body relaying -------------------------------------------------------- */

/* Sends body bytes, after the pending chunk framing. */
static int relay_send(struct relay *r, const char *data, size_t len)
{
	char size[24];
	struct iovec iov[3];
	int count = 0;
	int ret;

	if (len == 0 && r->pending_len == 0)
		return 0;
	if (r->mode == RELAY_RECHUNK && len > 0) {
		iov[count++] = (struct iovec){ size, (size_t)snprintf(size, sizeof(size),
								      "%zx\r\n", len) };
		iov[count++] = (struct iovec){ (void *)data, len };
		iov[count++] = (struct iovec){ (void *)"\r\n", 2 };
	} else {
		iov[count++] = (struct iovec){ r->pending, r->pending_len };
		iov[count++] = (struct iovec){ (void *)data, len };
	}
	r->pending_len = 0;
	ret = dad_http_sendv(r->to, iov, count);
	if (ret < 0)
		r->to_failed = true;
	return ret;
}

/* Queues chunk framing of RELAY_CHUNKED; sends the queue first when full. */
static int relay_pend(struct relay *r, const char *text, size_t len)
{
	int ret = 0;

	if (len > sizeof(r->pending) - r->pending_len)
		ret = relay_send(r, NULL, 0);
	if (ret < 0 || len > sizeof(r->pending))
		return ret < 0 ? ret : -EINVAL;
	memcpy(r->pending + r->pending_len, text, len);
	r->pending_len += len;
	return 0;
}

static int relay_chunk_start(void *ctx, uint64_t size)
{
	struct relay *r = ctx;
	char line[24];
	int n;

	if (r->mode != RELAY_CHUNKED)
		return 0;
	n = snprintf(line, sizeof(line), "%" PRIx64 "\r\n", size);
	return relay_pend(r, line, (size_t)n);
}

static int relay_chunk_end(void *ctx)
{
	struct relay *r = ctx;

	/* After the last chunk, this CRLF ends the (dropped) trailer section. */
	return r->mode == RELAY_CHUNKED ? relay_pend(r, "\r\n", 2) : 0;
}

/* Sends the head that introduces the body, and body bytes with it. */
static int send_head(struct relay *r, enum frame frame, uint64_t length, const char *body,
		     size_t body_len)
{
	struct dad_conn *c = r->conn;
	int ret = r->response ? build_response_head(c, frame, length, true)
			      : build_request_head(c, frame, length);
	struct iovec iov[2];

	if (ret == 0 && !r->response)
		ret = server_ensure(c);
	if (ret < 0) {
		r->to_failed = !r->response;
		return ret;
	}
	iov[0] = (struct iovec){ c->head.data, c->head.len };
	iov[1] = (struct iovec){ (void *)body, body_len };
	ret = dad_http_sendv(r->to, iov, 2);
	if (ret < 0)
		r->to_failed = true;
	else if (r->response)
		c->answered = true;
	return ret;
}

/* A buffered body grew past body_max: the head goes out with the framing
 * of a streamed body, then what was buffered, untranslated. */
static int relay_overflow(struct relay *r)
{
	struct dad_conn *c = r->conn;
	int ret;

	COUNT(c->proxy, bodies_too_large, 1);
	if (log_allowed(c->proxy))
		log_info("%s: text body exceeds %zu bytes, passed on untranslated", c->name,
			 c->proxy->conf.body_max);
	/* The overflow can come in the middle of a chunk, so the source's
	 * chunk sizes no longer apply. */
	r->mode = r->stream_mode == RELAY_CHUNKED ? RELAY_RECHUNK : r->stream_mode;
	ret = send_head(r, r->stream_frame, 0, NULL, 0);
	if (ret == 0)
		ret = relay_send(r, c->body.data, c->body.len);
	http_rewrite_buf_free(&c->body);
	return ret;
}

static int relay_body(void *ctx, const char *data, size_t len)
{
	struct relay *r = ctx;
	int ret;

	if (r->mode == RELAY_BUFFER) {
		ret = http_rewrite_buf_append(&r->conn->body, data, len);
		if (ret != -ENOBUFS)
			return ret;
		ret = relay_overflow(r);
		if (ret < 0)
			return ret;
	}
	return relay_send(r, data, len);
}

/* Translates the buffered body and sends it with its head. The memory goes
 * back after each message, so idle connections hold none. */
static int send_translated(struct relay *r)
{
	struct dad_conn *c = r->conn;
	enum http_rewrite_dir dir = r->response ? HTTP_REWRITE_TO_VIP : HTTP_REWRITE_TO_REAL;
	const struct http_rewrite_buf *out = &c->rewritten;
	ssize_t n;
	int ret;

	http_rewrite_buf_clear(&c->rewritten);
	n = http_rewrite_urls(&c->rewritten, c->body.data, c->body.len, &c->map, dir);
	if (n == -ENOBUFS) {
		COUNT(c->proxy, bodies_too_large, 1);
		out = &c->body;
		n = 0;
	} else if (n < 0) {
		return (int)n;
	}
	if (n > 0) {
		COUNT(c->proxy, bodies_rewritten, 1);
		COUNT(c->proxy, urls_rewritten, n);
	}
	ret = send_head(r, FRAME_LENGTH, out->len, out->data, out->len);
	http_rewrite_buf_free(&c->body);
	http_rewrite_buf_free(&c->rewritten);
	return ret;
}

static int relay_finish(struct relay *r)
{
	int ret;

	switch (r->mode) {
	case RELAY_CHUNKED:
		return relay_send(r, NULL, 0);
	case RELAY_RECHUNK:
		/* The last chunk, without trailers (RFC 9112 section 7.1). */
		ret = dad_http_send(r->to, "0\r\n\r\n", 5);
		if (ret < 0)
			r->to_failed = true;
		return ret;
	case RELAY_BUFFER:
		return send_translated(r);
	case RELAY_PLAIN:
		break;
	}
	return 0;
}

/* Relays the rest of the message p from `from`; the head is parsed. */
static int relay_message(struct relay *r, struct dad_http_stream *from, struct dad_http_parser *p)
{
	int ret;

	static const struct dad_http_body_ops ops = {
		.data = relay_body,
		.chunk_start = relay_chunk_start,
		.chunk_end = relay_chunk_end,
	};

	dad_http_parser_set_body(p, &ops, r);
	ret = dad_http_read_body(from, p);
	dad_http_parser_set_body(p, NULL, NULL);
	if (ret == 0)
		ret = relay_finish(r);
	return ret;
}

/* --- One exchange ---------------------------------------------------------- */

static bool is_http10(const struct dad_http_head *h)
{
	return h->major < 1 || (h->major == 1 && h->minor == 0);
}

static int answer_continue(struct dad_conn *c)
{
	static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const struct dad_http_head *h = &c->req.head;
	size_t len;
	const char *value = field_value(h, "Expect", &len);

	if (!value || !value_is(value, len, "100-continue") || is_http10(h))
		return 0;
	c->continue_sent = true;
	return dad_http_send(&c->player, msg, sizeof(msg) - 1);
}

static int forward_request(struct dad_conn *c)
{
	const struct dad_http_head *h = &c->req.head;
	struct relay r = { .conn = c, .response = false, .to = &c->upstream };
	int ret;

	if (h->body == DAD_HTTP_BODY_NONE) {
		ret = send_head(&r, FRAME_KEEP, 0, NULL, 0);
		if (ret < 0)
			return ret;
		/* Consumes the end of the head that the parser kept. */
		ret = dad_http_read_body(&c->player, &c->req);
		c->player_failed = ret < 0;
		return ret;
	}
	ret = answer_continue(c);
	if (ret < 0) {
		c->player_failed = true;
		return ret;
	}
	r.stream_mode = h->body == DAD_HTTP_BODY_CHUNKED ? RELAY_CHUNKED : RELAY_PLAIN;
	r.stream_frame = FRAME_KEEP;
	r.mode = should_buffer(c, h, NULL) ? RELAY_BUFFER : r.stream_mode;
	if (r.mode != RELAY_BUFFER) {
		ret = send_head(&r, FRAME_KEEP, 0, NULL, 0);
		if (ret < 0)
			return ret;
	}
	ret = relay_message(&r, &c->player, &c->req);
	c->player_failed = ret < 0 && !r.to_failed;
	return ret;
}

/* Passes a 1xx response on: never to an HTTP/1.0 player (RFC 9110 section
 * 15.2), and no second 100 after the one this proxy sent. */
static int forward_interim(struct dad_conn *c)
{
	const struct dad_http_head *h = &c->resp.head;
	int ret = dad_http_read_body(&c->upstream, &c->resp);

	if (ret < 0 || is_http10(&c->req.head) || (h->status == 100 && c->continue_sent))
		return ret;
	ret = build_response_head(c, FRAME_KEEP, 0, false);
	if (ret == 0)
		ret = dad_http_send(&c->player, c->head.data, c->head.len);
	c->player_failed = ret < 0;
	return ret;
}

/* Reads responses until the head of the final one. */
static int read_response_head(struct dad_conn *c)
{
	for (;;) {
		int ret;

		dad_http_parser_init(&c->resp, HTTP_RESPONSE, c->req.head.method == HTTP_HEAD);
		ret = dad_http_read_head(&c->upstream, &c->resp);
		if (ret < 0)
			return ret;
		/* 101 Switching Protocols: no DLNA exchange upgrades. */
		if (c->resp.head.upgrade)
			return -EPROTO;
		if (c->resp.head.status >= 200)
			return 0;
		ret = forward_interim(c);
		if (ret < 0)
			return ret;
	}
}

/*
 * Framing of a response without a body. A HEAD response's Content-Length is
 * the length a GET would get (RFC 9110, section 9.3.2). For a body the proxy
 * would translate, that length is known only after the translation, so the
 * field goes, as section 8.6 allows for HEAD.
 */
static enum frame head_frame(const struct dad_conn *c, const struct dad_http_head *h)
{
	if (c->req.head.method != HTTP_HEAD || h->status < 200 || h->status >= 300 ||
	    h->status == 206 || !has_text_body(h, &c->req.head) || is_encoded(h))
		return FRAME_KEEP;
	return FRAME_CLOSE;
}

static int forward_response(struct dad_conn *c)
{
	const struct dad_http_head *h = &c->resp.head;
	struct relay r = { .conn = c, .response = true, .to = &c->player };
	int ret;

	c->close_after = !c->req.head.keep_alive || !h->keep_alive;
	r.stream_mode = RELAY_PLAIN;
	r.stream_frame = FRAME_KEEP;
	if (h->body == DAD_HTTP_BODY_CHUNKED && is_http10(&c->req.head)) {
		/* HTTP/1.0 has no chunked coding (RFC 9112 section 7). */
		r.stream_frame = FRAME_CLOSE;
		c->close_after = true;
	} else if (h->body == DAD_HTTP_BODY_CHUNKED) {
		r.stream_mode = RELAY_CHUNKED;
	}

	if (h->body == DAD_HTTP_BODY_NONE) {
		ret = send_head(&r, head_frame(c, h), 0, NULL, 0);
		if (ret == 0)
			ret = dad_http_read_body(&c->upstream, &c->resp);
	} else {
		bool text = h->status >= 200 && h->status < 300 && h->status != 206 &&
			    should_buffer(c, h, &c->req.head);

		r.mode = text ? RELAY_BUFFER : r.stream_mode;
		ret = r.mode == RELAY_BUFFER ? 0 : send_head(&r, r.stream_frame, 0, NULL, 0);
		if (ret == 0)
			ret = relay_message(&r, &c->upstream, &c->resp);
	}
	if (ret < 0 || !h->keep_alive)
		server_close(c);
	return ret;
}

/* --- GENA hooks ------------------------------------------------------------ */

/* Replaces the CALLBACK of a new subscription. Returns 1 to go on, 0 when
 * this proxy already sent the response. */
static int prepare_subscribe(struct dad_conn *c)
{
	const struct dad_http_head *h = &c->req.head;
	struct dad_gena_subscribe sub = {
		.player = c->client.sin_addr,
		.server_vip = c->orig_dst.sin_addr,
		.server = c->server,
	};
	int ret;

	c->gena_id = 0;
	if (h->method != HTTP_SUBSCRIBE || !c->proxy->gena)
		return 1;
	sub.callback = field_value(h, "CALLBACK", &sub.callback_len);
	if (!sub.callback)
		return 1;
	ret = dad_gena_subscribe_begin(c->proxy->gena, &sub, c->gena_callback,
				       sizeof(c->gena_callback), &c->gena_id);
	if (ret == 0)
		return 1;
	/* UPnP DA 1.1 section 4.1.2: 412 for a missing or invalid CALLBACK. */
	if (ret == -EINVAL)
		reply_error(c, 412, "Precondition Failed");
	else
		reply_error(c, 503, "Service Unavailable");
	return 0;
}

static void finish_subscribe(struct dad_conn *c)
{
	struct dad_gena *gena = c->proxy->gena;
	const struct dad_http_head *req = &c->req.head;
	const struct dad_http_head *resp = &c->resp.head;
	size_t sid_len = 0, timeout_len = 0;
	const char *timeout = field_value(resp, "TIMEOUT", &timeout_len);
	const char *sid;

	if (!gena)
		return;
	if (c->gena_id != 0) {
		sid = field_value(resp, "SID", &sid_len);
		if (resp->status == 200 && sid)
			dad_gena_subscribe_confirm(gena, c->gena_id, sid, sid_len, timeout,
						   timeout_len);
		else
			dad_gena_subscribe_cancel(gena, c->gena_id);
		c->gena_id = 0;
		return;
	}
	sid = field_value(req, "SID", &sid_len);
	if (!sid)
		return;
	if (req->method == HTTP_SUBSCRIBE && resp->status == 200)
		dad_gena_renewed(gena, sid, sid_len, timeout, timeout_len);
	else if (req->method == HTTP_UNSUBSCRIBE && (resp->status == 200 || resp->status == 412))
		dad_gena_unsubscribed(gena, sid, sid_len);
}

/* --- Requests ---------------------------------------------------------------- */

/* Names why dad_http_read_head rejected a request, for the log. */
static const char *request_error_text(int ret, enum http_errno err)
{
	if (ret == -EMSGSIZE)
		return "head exceeds 16 KiB or 64 fields";
	if (err == HPE_OK)
		return "connection closed inside the head";
	return http_errno_description(err);
}

/* Reads a request head. Returns 1 to serve it, 0 when the connection ends
 * (closed, or an error response was sent), or -errno. */
static int read_request(struct dad_conn *c)
{
	int ret;

	c->answered = false;
	c->continue_sent = false;
	c->close_after = false;
	dad_http_parser_init(&c->req, HTTP_REQUEST, false);
	ret = dad_http_read_head(&c->player, &c->req);
	if (ret == -ENODATA)
		return 0;
	if (ret == -EMSGSIZE || ret == -EPROTO) {
		COUNT(c->proxy, rejected_invalid, 1);
		if (log_allowed(c->proxy))
			log_debug("%s: request rejected: %s", c->name,
				  request_error_text(ret, HTTP_PARSER_ERRNO(&c->req.hp)));
		if (ret == -EMSGSIZE)
			reply_error(c, 431, "Request Header Fields Too Large");
		else
			reply_error(c, 400, "Bad Request");
		return 0;
	}
	if (ret < 0)
		return ret;
	COUNT(c->proxy, requests, 1);
	if (c->req.head.upgrade) {
		COUNT(c->proxy, rejected_invalid, 1);
		reply_error(c, 501, "Not Implemented");
		return 0;
	}
	return 1;
}

/* Reads the current {real, VIP} pairs and makes sure the pair of this
 * connection is among them. */
static void snapshot_map(struct dad_conn *c)
{
	size_t n = c->proxy->ops.map_snapshot(c->proxy->ctx, c->pairs, DAD_PROXY_MAP_MAX);
	struct in_addr real;

	c->map.count = n < DAD_PROXY_MAP_MAX ? n : DAD_PROXY_MAP_MAX;
	if (http_rewrite_lookup(&c->map, HTTP_REWRITE_TO_REAL, &c->orig_dst.sin_addr, &real))
		return;
	if (c->map.count < DAD_PROXY_MAP_MAX)
		c->pairs[c->map.count++] = (struct http_rewrite_pair){ c->server.sin_addr,
								       c->orig_dst.sin_addr };
}

/* Finds the server for this request. Returns 1, or 0 after a 403. */
static int route(struct dad_conn *c)
{
	struct dad_proxy *proxy = c->proxy;
	struct in_addr real;

	if (!proxy->ops.lookup_real(proxy->ctx, &c->orig_dst.sin_addr, &real) ||
	    real.s_addr == c->orig_dst.sin_addr.s_addr) {
		COUNT(proxy, rejected_unknown, 1);
		if (log_allowed(proxy))
			log_debug("%s: rejected, because no discovered server has this VIP",
				  c->name);
		reply_error(c, 403, "Forbidden");
		return 0;
	}
	if (c->server_open && c->server.sin_addr.s_addr != real.s_addr)
		server_close(c);
	c->server.sin_family = AF_INET;
	c->server.sin_addr = real;
	c->server.sin_port = c->orig_dst.sin_port;
	snapshot_map(c);
	return 1;
}

static bool may_retry(const struct dad_conn *c, int err)
{
	/* A server may close a kept-alive connection just as a request goes
	 * out (RFC 9112 section 9.3.1). So a request without a body is sent
	 * again on a new connection. */
	return !c->memory && c->server_reused && c->req.head.body == DAD_HTTP_BODY_NONE &&
	       !c->resp.began && (err == -ENODATA || err == -ECONNRESET || err == -EPIPE);
}

static int retry_request(struct dad_conn *c)
{
	int ret;

	server_close(c);
	ret = server_ensure(c);
	if (ret == 0)
		ret = dad_http_send(&c->upstream, c->head.data, c->head.len);
	if (ret == 0)
		ret = read_response_head(c);
	return ret;
}

/* Names the errors of dad_http_read_head in the words of a log line. */
static const char *upstream_error_text(int err)
{
	switch (err) {
	case -ENODATA:
		return "it closed the connection";
	case -EPROTO:
		return "its response is not valid HTTP";
	case -EMSGSIZE:
		return "its response head exceeds 16 KiB or 64 fields";
	case -ETIMEDOUT:
		return "timed out";
	default:
		return strerror(-err);
	}
}

static int upstream_failed(struct dad_conn *c, int err)
{
	char server[NTM_ENDPOINT_STRLEN];

	COUNT(c->proxy, upstream_failed, 1);
	if (log_allowed(c->proxy))
		log_warn("%s: no response from server %s: %s", c->name,
			 endpoint_text(&c->server, server, sizeof(server)), upstream_error_text(err));
	server_close(c);
	if (!c->answered)
		reply_error(c, err == -ETIMEDOUT ? 504 : 502,
			    err == -ETIMEDOUT ? "Gateway Timeout" : "Bad Gateway");
	return 0;
}

/* Forwards the request and its response. Returns 0 or -errno. */
static int exchange(struct dad_conn *c)
{
	int ret;

	c->player_failed = false;
	dad_http_parser_init(&c->resp, HTTP_RESPONSE, false);
	ret = prepare_subscribe(c);
	if (ret <= 0)
		return ret;
	ret = forward_request(c);
	if (ret == 0)
		ret = read_response_head(c);
	if (ret < 0 && may_retry(c, ret))
		ret = retry_request(c);
	if (ret < 0)
		return c->player_failed ? ret : upstream_failed(c, ret);
	finish_subscribe(c);
	return forward_response(c);
}

/* Serves one request. Returns 1 when the connection may carry another, 0
 * when it ends, or -errno. */
static int serve_request(struct dad_conn *c)
{
	int ret = read_request(c);

	if (ret <= 0)
		return ret;
	ret = route(c);
	if (ret > 0)
		ret = exchange(c);
	if (c->gena_id != 0) {
		dad_gena_subscribe_cancel(c->proxy->gena, c->gena_id);
		c->gena_id = 0;
	}
	count_bytes(c);
	if (ret < 0)
		return ret;
	return c->close_after ? 0 : 1;
}

static int conn_serve(struct dad_conn *c)
{
	int ret;

	do
		ret = serve_request(c);
	while (ret > 0);
	return ret;
}

/* --- Threads ------------------------------------------------------------------ */

/* Closes the sending side and reads what the player still sends, for at
 * most LINGER_MS and LINGER_BYTES, so a reset does not destroy the error
 * response. */
static void linger_close(struct dad_conn *c)
{
	uint64_t deadline = ntm_now_ms() + LINGER_MS;
	size_t total = 0;
	char sink[4096];

	shutdown(c->player.fd, SHUT_WR);
	set_timeouts(c->player.fd, LINGER_MS);
	while (total < LINGER_BYTES && ntm_now_ms() < deadline) {
		ssize_t n = recv(c->player.fd, sink, sizeof(sink), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

static void conn_link(struct dad_proxy *proxy, struct dad_conn *c)
{
	c->prev = NULL;
	c->next = proxy->conns;
	if (proxy->conns)
		proxy->conns->prev = c;
	proxy->conns = c;
	proxy->active++;
	c->started_wall_ms = ntm_wall_ms();
}

void dad_proxy_each_stream(struct dad_proxy *proxy, dad_proxy_stream_cb cb, void *arg)
{
	pthread_mutex_lock(&proxy->lock);
	for (const struct dad_conn *c = proxy->conns; c; c = c->next) {
		if (!c->memory)
			cb(c->name, c->started_wall_ms, arg);
	}
	pthread_mutex_unlock(&proxy->lock);
}

/* Closes both sockets and frees c. */
static void conn_end(struct dad_conn *c)
{
	struct dad_proxy *proxy = c->proxy;

	if (c->linger)
		linger_close(c);
	count_bytes(c);

	pthread_mutex_lock(&proxy->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		proxy->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->player.fd);
	if (c->upstream.fd >= 0)
		close(c->upstream.fd);
	if (--proxy->active == 0)
		pthread_cond_broadcast(&proxy->idle);
	pthread_mutex_unlock(&proxy->lock);
	conn_free(c);
}

static void *conn_thread(void *arg)
{
	struct dad_conn *c = arg;
	int ret;

	set_timeouts(c->player.fd, c->proxy->conf.io_timeout_ms);
	set_nodelay(c->player.fd);
	log_debug("%s: connection accepted", c->name);
	ret = conn_serve(c);
	if (ret < 0)
		log_debug("%s: connection ended: %s", c->name, strerror(-ret));
	else
		log_debug("%s: connection closed", c->name);
	conn_end(c);
	return NULL;
}

static void reject_busy(struct dad_proxy *proxy, int fd, const struct sockaddr_in *client)
{
	char msg[256], from[NTM_ENDPOINT_STRLEN];
	size_t len = format_error(msg, sizeof(msg), 503, "Service Unavailable");
	ssize_t n;

	/* The accepting thread must not block: one non-blocking write.
	 * NOTE: a request already sent makes close(2) send a reset, which
	 * can destroy the 503 before the player reads it. */
	n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;
	close(fd);
	COUNT(proxy, rejected_busy, 1);
	if (log_allowed(proxy))
		log_warn("player %s: connection rejected with 503, because max_connections (%u) "
			 "are open",
			 endpoint_text(client, from, sizeof(from)), proxy->conf.max_connections);
}

/* Starts the thread with every signal blocked, so signals go to the
 * daemon's own thread. */
static int start_thread(struct dad_conn *c)
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&thread, &attr, conn_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -ret;
}

int dad_proxy_handle(struct dad_proxy *proxy, int fd, const struct sockaddr_in *client,
		     const struct sockaddr_in *orig_dst)
{
	struct dad_conn *c = conn_new(proxy, client, orig_dst);
	bool stopping, busy;
	int ret;

	COUNT(proxy, accepted, 1);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	dad_http_stream_init_fd(&c->player, fd);

	pthread_mutex_lock(&proxy->lock);
	stopping = proxy->stopping;
	busy = proxy->active >= proxy->conf.max_connections;
	if (!stopping && !busy)
		conn_link(proxy, c);
	pthread_mutex_unlock(&proxy->lock);
	if (stopping || busy) {
		conn_free(c);
		if (busy && !stopping) {
			reject_busy(proxy, fd, client);
			return -EBUSY;
		}
		close(fd);
		return -ESHUTDOWN;
	}

	ret = start_thread(c);
	if (ret < 0) {
		log_warn("%s: connection dropped, because its thread did not start: %s", c->name,
			 strerror(-ret));
		conn_end(c);
	}
	return ret;
}

int dad_proxy_new(struct dad_proxy **out, const struct dad_proxy_conf *conf,
		  const struct dad_proxy_ops *ops, void *ctx, struct dad_gena *gena)
{
	struct dad_proxy *proxy;

	if (!ops->lookup_real || !ops->map_snapshot)
		return -EINVAL;
	proxy = calloc(1, sizeof(*proxy));
	if (!proxy)
		return -ENOMEM;
	proxy->conf = *conf;
	if (proxy->conf.max_connections == 0)
		proxy->conf.max_connections = DAD_PROXY_DEFAULT_MAX_CONNECTIONS;
	if (proxy->conf.io_timeout_ms == 0)
		proxy->conf.io_timeout_ms = DAD_PROXY_DEFAULT_IO_TIMEOUT_MS;
	if (proxy->conf.connect_timeout_ms == 0)
		proxy->conf.connect_timeout_ms = DAD_PROXY_DEFAULT_CONNECT_TIMEOUT_MS;
	if (proxy->conf.body_max == 0)
		proxy->conf.body_max = DAD_PROXY_DEFAULT_BODY_MAX;
	proxy->ops = *ops;
	proxy->ctx = ctx;
	proxy->gena = gena;
	pthread_mutex_init(&proxy->lock, NULL);
	pthread_cond_init(&proxy->idle, NULL);
	proxy->log_limit = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(LOG_BURST, LOG_RATE);
	*out = proxy;
	return 0;
}

#define LOAD(proxy, field) atomic_load_explicit(&(proxy)->count.field, memory_order_relaxed)

void dad_proxy_get_stats(struct dad_proxy *proxy, struct dad_proxy_stats *out)
{
	pthread_mutex_lock(&proxy->lock);
	out->active = proxy->active;
	pthread_mutex_unlock(&proxy->lock);
	out->accepted = LOAD(proxy, accepted);
	out->rejected_busy = LOAD(proxy, rejected_busy);
	out->rejected_unknown = LOAD(proxy, rejected_unknown);
	out->rejected_invalid = LOAD(proxy, rejected_invalid);
	out->upstream_failed = LOAD(proxy, upstream_failed);
	out->requests = LOAD(proxy, requests);
	out->bodies_rewritten = LOAD(proxy, bodies_rewritten);
	out->bodies_too_large = LOAD(proxy, bodies_too_large);
	out->bodies_encoded = LOAD(proxy, bodies_encoded);
	out->urls_rewritten = LOAD(proxy, urls_rewritten);
	out->bytes_to_player = LOAD(proxy, bytes_to_player);
	out->bytes_to_server = LOAD(proxy, bytes_to_server);
}

void dad_proxy_free(struct dad_proxy *proxy)
{
	if (!proxy)
		return;
	pthread_mutex_lock(&proxy->lock);
	proxy->stopping = true;
	/* shutdown(2) wakes each thread from its blocking call; the threads
	 * close the sockets themselves, under the lock. */
	for (struct dad_conn *c = proxy->conns; c; c = c->next) {
		shutdown(c->player.fd, SHUT_RDWR);
		if (c->upstream.fd >= 0)
			shutdown(c->upstream.fd, SHUT_RDWR);
	}
	while (proxy->active > 0)
		pthread_cond_wait(&proxy->idle, &proxy->lock);
	pthread_mutex_unlock(&proxy->lock);
	pthread_cond_destroy(&proxy->idle);
	pthread_mutex_destroy(&proxy->lock);
	free(proxy);
}

int dad_proxy_transcript(struct dad_proxy *proxy, const struct sockaddr_in *client,
			 const struct sockaddr_in *orig_dst, const char *player_in,
			 size_t player_len, const char *server_in, size_t server_len, size_t piece,
			 struct http_rewrite_buf *player_out, struct http_rewrite_buf *server_out)
{
	struct dad_conn *c = conn_new(proxy, client, orig_dst);
	int ret;

	if (!c)
		return -ENOMEM;
	c->memory = true;
	dad_http_stream_init_mem(&c->player, player_in, player_len, piece, player_out);
	dad_http_stream_init_mem(&c->upstream, server_in, server_len, piece, server_out);
	ret = conn_serve(c);
	count_bytes(c);
	conn_free(c);
	return ret;
}
