/*
 * GENA relay: the subscription table the proxy fills, and the NOTIFY
 * listener on the Agent's LAN address that delivers each event to the
 * subscribing player. One accept thread, one thread per NOTIFY connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "dad_gena.h"
#include "dad_http.h"
#include "ntm_addr.h"
#include "ntm_log.h"
#include "ntm_ratelimit.h"
#include "ntm_time.h"

/* UPnP DA 1.1 section 4.1.2: a SID is "uuid:" and a UUID; longer values
 * from odd servers still fit. */
#define GENA_SID_MAX 127
#define GENA_PATH_MAX 255
/* Expiry when TIMEOUT is missing or invalid: the minimum UPnP recommends. */
#define GENA_TIMEOUT_DEFAULT_S 1800
/* Upper bound for "infinite" and for large values, in seconds. */
#define GENA_TIMEOUT_MAX_S 86400
/* Kept past the TIMEOUT, so a renewal that arrives late still finds it. */
#define GENA_GRACE_MS 60000
/* A subscription whose SUBSCRIBE got no response is dropped after this. */
#define GENA_PENDING_MS 60000
/* How often the accept thread drops expired subscriptions. */
#define GENA_PURGE_INTERVAL_MS 5000
/* How often the routes of all confirmed subscriptions are sent again, so a
 * player's node that restarted gets them back within this time. */
#define GENA_REANNOUNCE_MS 60000
/* Tries again of a NOTIFY to a routed callback that refused, and the pause
 * before each, in ms: 0.6 s in all, well inside a server's wait for the
 * response. */
#define GENA_ROUTE_RETRIES 3
#define GENA_ROUTE_RETRY_MS 200
#define GENA_MAP_MAX 256
#define GENA_TOKEN_BYTES (DAD_GENA_TOKEN_LEN / 2)
#define GENA_PATH_PREFIX "/gena/"
#define LOG_BURST 20
#define LOG_RATE 5

struct gena_callback {
	struct in_addr host;     /* INADDR_ANY when the URL's host is not IPv4 */
	uint16_t port;
	char path[GENA_PATH_MAX + 1];
};

struct gena_sub {
	bool used;
	bool confirmed;
	uint64_t id;
	char token[DAD_GENA_TOKEN_LEN + 1];
	char sid[GENA_SID_MAX + 1];
	struct in_addr player;
	struct in_addr server_vip;
	struct sockaddr_in server;
	struct gena_callback callbacks[DAD_GENA_CALLBACKS_MAX];
	size_t callback_count;
	uint64_t expires_ms;
};

/* The copy of a subscription that a NOTIFY thread takes for one delivery. */
struct gena_target {
	struct in_addr player;
	struct in_addr server_vip;
	char sid[GENA_SID_MAX + 1];
	struct gena_callback callbacks[DAD_GENA_CALLBACKS_MAX];
	size_t callback_count;
};

struct gena_conn {
	struct dad_gena *gena;
	struct gena_conn *prev;
	struct gena_conn *next;
	struct sockaddr_in peer;
	char name[NTM_ENDPOINT_STRLEN];
	int player_fd;   /* delivery socket while one is open, else -1 */
	struct http_rewrite_pair pairs[GENA_MAP_MAX];
	struct http_rewrite_map map;
	struct http_rewrite_buf body;
	struct http_rewrite_buf rewritten;
	struct http_rewrite_buf head;
	struct http_rewrite_buf scratch;
	struct dad_http_stream in;
	struct dad_http_stream out;
	struct dad_http_parser req;
	struct dad_http_parser resp;
};

struct dad_gena {
	struct dad_gena_conf conf;
	struct dad_gena_ops ops;
	void *ctx;
	int listen_fd;
	int stop_fd;
	uint16_t port;
	pthread_t accept_thread;
	pthread_mutex_t lock;   /* guards everything below */
	pthread_cond_t idle;
	struct gena_sub *subs;
	uint64_t next_id;
	struct gena_conn *conns;
	unsigned active;
	bool stopping;
	uint64_t next_announce_ms;   /* accept thread only */
	struct ntm_ratelimit log_limit;
	struct dad_gena_stats stats;
};

static bool log_allowed(struct dad_gena *gena)
{
	bool allowed;

	pthread_mutex_lock(&gena->lock);
	allowed = ntm_ratelimit_allow(&gena->log_limit, ntm_now_ms());
	pthread_mutex_unlock(&gena->lock);
	return allowed;
}

static void count(struct dad_gena *gena, uint64_t *counter)
{
	pthread_mutex_lock(&gena->lock);
	(*counter)++;
	pthread_mutex_unlock(&gena->lock);
}

/* --- The subscription table --------------------------------------------- */

/* Reads an IPv4 literal host; a name or an IPv6 address gives
 * INADDR_ANY. */
static void parse_host(const char *host, size_t len, struct in_addr *out)
{
	char text[INET_ADDRSTRLEN];

	out->s_addr = htonl(INADDR_ANY);
	if (len == 0 || len >= sizeof(text))
		return;
	memcpy(text, host, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, out) != 1)
		out->s_addr = htonl(INADDR_ANY);
}

/* Parses one "<url>" item's URL: http only, port default 80, path with its
 * query, "/" when empty. */
static bool parse_callback_url(const char *url, size_t len, struct gena_callback *cb)
{
	struct http_parser_url u;
	size_t path_len = 0;

	http_parser_url_init(&u);
	if (http_parser_parse_url(url, len, 0, &u) != 0 || !(u.field_set & (1 << UF_SCHEMA)) ||
	    !(u.field_set & (1 << UF_HOST)))
		return false;
	if (u.field_data[UF_SCHEMA].len != 4 ||
	    strncasecmp(url + u.field_data[UF_SCHEMA].off, "http", 4) != 0)
		return false;
	cb->port = u.field_set & (1 << UF_PORT) ? u.port : 80;
	parse_host(url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len, &cb->host);
	if (u.field_set & (1 << UF_PATH)) {
		/* The path and the query are adjacent in the URL ("/p?q"). */
		size_t end = u.field_data[UF_PATH].off + u.field_data[UF_PATH].len;

		if (u.field_set & (1 << UF_QUERY))
			end = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len;
		path_len = end - u.field_data[UF_PATH].off;
		if (path_len > GENA_PATH_MAX)
			return false;
		memcpy(cb->path, url + u.field_data[UF_PATH].off, path_len);
	}
	if (path_len == 0)
		cb->path[path_len++] = '/';
	cb->path[path_len] = '\0';
	return cb->port != 0;
}

/* Parses a CALLBACK value: one or more "<url>" (UPnP DA 1.1 section
 * 4.1.2). Items that are not http URLs are skipped. Returns the count. */
static size_t parse_callbacks(const char *value, size_t len, struct gena_callback *cbs)
{
	size_t count = 0, pos = 0;

	while (pos < len && count < DAD_GENA_CALLBACKS_MAX) {
		const char *open = memchr(value + pos, '<', len - pos);
		const char *close;

		if (!open)
			break;
		close = memchr(open, '>', (size_t)(value + len - open));
		if (!close)
			break;
		if (parse_callback_url(open + 1, (size_t)(close - open - 1), &cbs[count]))
			count++;
		pos = (size_t)(close - value) + 1;
	}
	return count;
}

/* Parses a TIMEOUT value, "Second-N" or "infinite", into seconds. */
static uint64_t parse_timeout(const char *value, size_t len)
{
	static const char prefix[] = "Second-";
	uint64_t seconds = 0;

	if (!value)
		return GENA_TIMEOUT_DEFAULT_S;
	if (len == 8 && strncasecmp(value, "infinite", 8) == 0)
		return GENA_TIMEOUT_MAX_S;
	if (len <= sizeof(prefix) - 1 || len > sizeof(prefix) - 1 + 10 ||
	    strncasecmp(value, prefix, sizeof(prefix) - 1) != 0)
		return GENA_TIMEOUT_DEFAULT_S;
	for (size_t i = sizeof(prefix) - 1; i < len; i++) {
		if (value[i] < '0' || value[i] > '9')
			return GENA_TIMEOUT_DEFAULT_S;
		seconds = seconds * 10 + (uint64_t)(value[i] - '0');
	}
	return seconds > GENA_TIMEOUT_MAX_S ? GENA_TIMEOUT_MAX_S : seconds;
}

static void sub_clear(struct gena_sub *sub)
{
	sodium_memzero(sub, sizeof(*sub));
}

/* Drops expired subscriptions. Called with the lock held. */
static void purge_expired(struct dad_gena *gena, uint64_t now)
{
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++) {
		struct gena_sub *sub = &gena->subs[i];

		if (!sub->used || sub->expires_ms > now)
			continue;
		if (sub->confirmed)
			gena->stats.expired++;
		sub_clear(sub);
	}
}

static struct gena_sub *find_by_id(struct dad_gena *gena, uint64_t id)
{
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++) {
		if (gena->subs[i].used && gena->subs[i].id == id)
			return &gena->subs[i];
	}
	return NULL;
}

static struct gena_sub *find_by_sid(struct dad_gena *gena, const char *sid, size_t len)
{
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++) {
		struct gena_sub *sub = &gena->subs[i];

		if (sub->used && sub->confirmed && strlen(sub->sid) == len &&
		    memcmp(sub->sid, sid, len) == 0)
			return sub;
	}
	return NULL;
}

/* The token is the only secret a NOTIFY carries, so it is compared in
 * constant time. */
static struct gena_sub *find_by_token(struct dad_gena *gena, const char *token)
{
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++) {
		struct gena_sub *sub = &gena->subs[i];

		if (sub->used && sodium_memcmp(sub->token, token, DAD_GENA_TOKEN_LEN) == 0)
			return sub;
	}
	return NULL;
}

static struct gena_sub *find_free(struct dad_gena *gena)
{
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++) {
		if (!gena->subs[i].used)
			return &gena->subs[i];
	}
	return NULL;
}

/* True when the player's node needs a GENA callback route for cb. A
 * loopback listener cannot take connections that arrive through the tunnel
 * device (RFC 1122, section 3.2.1.3), so it gets none. */
static bool needs_route(struct in_addr player, const struct gena_callback *cb)
{
	return cb->host.s_addr != htonl(INADDR_ANY) && cb->host.s_addr != player.s_addr &&
	       (ntohl(cb->host.s_addr) >> 24) != IN_LOOPBACKNET;
}

/* Fills routes with what the player's node needs for the callbacks of sub
 * that name a host other than the player's VIP; returns how many. */
static size_t sub_routes(const struct gena_sub *sub, uint64_t lifetime_ms,
			 struct dad_gena_route *routes)
{
	size_t n = 0;

	for (size_t i = 0; i < sub->callback_count; i++) {
		const struct gena_callback *cb = &sub->callbacks[i];

		if (!needs_route(sub->player, cb))
			continue;
		routes[n++] = (struct dad_gena_route){
			.player = sub->player,
			.server_vip = sub->server_vip,
			.host = cb->host,
			.port = cb->port,
			.lifetime_s = (uint32_t)((lifetime_ms + 999) / 1000),
		};
	}
	return n;
}

/* Hands routes to the daemon; called without the lock. */
static void announce_routes(struct dad_gena *gena, const struct dad_gena_route *routes, size_t n)
{
	for (size_t i = 0; gena->ops.callback_route && i < n; i++)
		gena->ops.callback_route(gena->ctx, &routes[i]);
}

static int write_callback(const struct dad_gena *gena, const struct gena_sub *sub,
			  char *callback, size_t size)
{
	char lan[INET_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET, &gena->conf.lan_addr, lan, sizeof(lan));
	n = snprintf(callback, size, "<http://%s:%u" GENA_PATH_PREFIX "%s>", lan, gena->port,
		     sub->token);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int dad_gena_subscribe_begin(struct dad_gena *gena, const struct dad_gena_subscribe *req,
			     char *callback, size_t callback_size, uint64_t *id)
{
	struct gena_callback cbs[DAD_GENA_CALLBACKS_MAX];
	size_t count = parse_callbacks(req->callback, req->callback_len, cbs);
	struct dad_gena_route routes[DAD_GENA_CALLBACKS_MAX];
	size_t n_routes = 0;
	uint8_t random[GENA_TOKEN_BYTES];
	struct gena_sub *sub;
	int ret;

	if (count == 0)
		return -EINVAL;
	pthread_mutex_lock(&gena->lock);
	purge_expired(gena, ntm_now_ms());
	sub = find_free(gena);
	if (!sub) {
		gena->stats.rejected_full++;
		pthread_mutex_unlock(&gena->lock);
		return -ENOSPC;
	}
	sub->used = true;
	sub->id = ++gena->next_id;
	randombytes_buf(random, sizeof(random));
	sodium_bin2hex(sub->token, sizeof(sub->token), random, sizeof(random));
	sub->player = req->player;
	sub->server_vip = req->server_vip;
	sub->server = req->server;
	memcpy(sub->callbacks, cbs, sizeof(cbs[0]) * count);
	sub->callback_count = count;
	sub->expires_ms = ntm_now_ms() + GENA_PENDING_MS;
	ret = write_callback(gena, sub, callback, callback_size);
	if (ret < 0) {
		sub_clear(sub);
	} else {
		*id = sub->id;
		/* Sent before the server gets the SUBSCRIBE, so the route is in
		 * place when its initial event (UDA 2.0, section 4.2.1) arrives. */
		n_routes = sub_routes(sub, GENA_PENDING_MS, routes);
	}
	pthread_mutex_unlock(&gena->lock);
	announce_routes(gena, routes, n_routes);
	return ret;
}

void dad_gena_subscribe_confirm(struct dad_gena *gena, uint64_t id, const char *sid,
				size_t sid_len, const char *timeout, size_t timeout_len)
{
	uint64_t lifetime_ms = parse_timeout(timeout, timeout_len) * 1000 + GENA_GRACE_MS;
	struct dad_gena_route routes[DAD_GENA_CALLBACKS_MAX];
	size_t n_routes = 0;
	struct gena_sub *sub;

	pthread_mutex_lock(&gena->lock);
	sub = find_by_id(gena, id);
	if (sub && sid_len <= GENA_SID_MAX) {
		memcpy(sub->sid, sid, sid_len);
		sub->sid[sid_len] = '\0';
		sub->confirmed = true;
		sub->expires_ms = ntm_now_ms() + lifetime_ms;
		gena->stats.subscribed++;
		n_routes = sub_routes(sub, lifetime_ms, routes);
	} else if (sub) {
		/* A SID this long could not be matched later. */
		sub_clear(sub);
	}
	pthread_mutex_unlock(&gena->lock);
	announce_routes(gena, routes, n_routes);
}

void dad_gena_subscribe_cancel(struct dad_gena *gena, uint64_t id)
{
	struct gena_sub *sub;

	pthread_mutex_lock(&gena->lock);
	sub = find_by_id(gena, id);
	if (sub)
		sub_clear(sub);
	pthread_mutex_unlock(&gena->lock);
}

void dad_gena_renewed(struct dad_gena *gena, const char *sid, size_t sid_len, const char *timeout,
		      size_t timeout_len)
{
	uint64_t lifetime_ms = parse_timeout(timeout, timeout_len) * 1000 + GENA_GRACE_MS;
	struct dad_gena_route routes[DAD_GENA_CALLBACKS_MAX];
	size_t n_routes = 0;
	struct gena_sub *sub;

	pthread_mutex_lock(&gena->lock);
	sub = find_by_sid(gena, sid, sid_len);
	if (sub) {
		sub->expires_ms = ntm_now_ms() + lifetime_ms;
		gena->stats.renewed++;
		n_routes = sub_routes(sub, lifetime_ms, routes);
	}
	pthread_mutex_unlock(&gena->lock);
	announce_routes(gena, routes, n_routes);
}

void dad_gena_unsubscribed(struct dad_gena *gena, const char *sid, size_t sid_len)
{
	struct gena_sub *sub;

	pthread_mutex_lock(&gena->lock);
	sub = find_by_sid(gena, sid, sid_len);
	if (sub) {
		sub_clear(sub);
		gena->stats.unsubscribed++;
	}
	pthread_mutex_unlock(&gena->lock);
}

static void copy_target(struct gena_target *t, const struct gena_sub *sub)
{
	t->player = sub->player;
	t->server_vip = sub->server_vip;
	memcpy(t->sid, sub->sid, sizeof(t->sid));
	memcpy(t->callbacks, sub->callbacks, sizeof(t->callbacks));
	t->callback_count = sub->callback_count;
}

/*
 * Finds the subscription of a NOTIFY: by the token in its path, or else by
 * its SID when it comes from that subscription's server. A token match
 * with a stored SID also needs the same SID. The first event may arrive
 * before the proxy saw the SUBSCRIBE response, so a pending one matches by
 * token.
 */
static bool find_target(struct dad_gena *gena, const struct gena_conn *nc, const char *sid,
			size_t sid_len, struct gena_target *t)
{
	const struct dad_http_head *h = &nc->req.head;
	size_t path_len, prefix_len = sizeof(GENA_PATH_PREFIX) - 1;
	const char *path = dad_http_target(h, &path_len);
	struct gena_sub *sub = NULL;
	char token[DAD_GENA_TOKEN_LEN];

	pthread_mutex_lock(&gena->lock);
	if (path_len == prefix_len + DAD_GENA_TOKEN_LEN &&
	    memcmp(path, GENA_PATH_PREFIX, prefix_len) == 0) {
		memcpy(token, path + prefix_len, sizeof(token));
		sub = find_by_token(gena, token);
		if (sub && sub->confirmed && sid &&
		    (strlen(sub->sid) != sid_len || memcmp(sub->sid, sid, sid_len) != 0))
			sub = NULL;
	} else if (sid) {
		sub = find_by_sid(gena, sid, sid_len);
		if (sub && sub->server.sin_addr.s_addr != nc->peer.sin_addr.s_addr)
			sub = NULL;
	}
	if (sub)
		copy_target(t, sub);
	pthread_mutex_unlock(&gena->lock);
	return sub != NULL;
}

/* --- Delivery to the player ---------------------------------------------- */

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connects to the player's VIP at the callback's port. Returns the socket
 * or -errno. */
static int player_connect(struct gena_conn *nc, const struct gena_target *t,
			  const struct gena_callback *cb)
{
	struct dad_gena *gena = nc->gena;
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_addr = t->server_vip };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr = t->player,
				   .sin_port = htons(cb->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	set_timeouts(fd, gena->conf.io_timeout_ms);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (gena->conf.bind_server_vip) {
		/* The VIP need not be a local address of this host. */
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
			int err = errno;

			if (log_allowed(gena))
				log_warn("%s: binding the NOTIFY to the server's VIP failed: %s",
					 nc->name, strerror(err));
		}
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		int ret = errno == EINPROGRESS ? -ETIMEDOUT : -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* Hop-by-hop and framing fields of the server's NOTIFY that the delivery
 * sets itself. */
static bool is_own_field(const struct dad_http_head *h, size_t i)
{
	return dad_http_field_is(h, i, "Host") || dad_http_field_is(h, i, "Content-Length") ||
	       dad_http_field_is(h, i, "Transfer-Encoding") ||
	       dad_http_field_is(h, i, "Connection") || dad_http_field_is(h, i, "Keep-Alive");
}

static int build_notify_head(struct gena_conn *nc, const struct gena_target *t,
			     const struct gena_callback *cb, size_t body_len)
{
	const struct dad_http_head *h = &nc->req.head;
	char host[NTM_ENDPOINT_STRLEN], player[INET_ADDRSTRLEN], length[24];
	struct http_rewrite_buf *out = &nc->head;
	int ret;

	inet_ntop(AF_INET, &t->player, player, sizeof(player));
	snprintf(host, sizeof(host), "%s:%u", player, cb->port);
	snprintf(length, sizeof(length), "%zu", body_len);
	http_rewrite_buf_clear(out);
	ret = dad_http_put_request_line(out, h, cb->path, strlen(cb->path));
	if (ret == 0)
		ret = dad_http_put_field(out, "HOST", 4, host, strlen(host));
	for (size_t i = 0; ret == 0 && i < h->field_count; i++) {
		size_t name_len, value_len;
		const char *name = dad_http_field_name(h, i, &name_len);
		const char *value = dad_http_field_value(h, i, &value_len);
		ssize_t n;

		if (is_own_field(h, i))
			continue;
		http_rewrite_buf_clear(&nc->scratch);
		n = http_rewrite_urls(&nc->scratch, value, value_len, &nc->map,
				      HTTP_REWRITE_TO_VIP);
		ret = n < 0 ? (int)n :
			      dad_http_put_field(out, name, name_len, nc->scratch.data,
						 nc->scratch.len);
	}
	if (ret == 0)
		ret = dad_http_put_field(out, "CONTENT-LENGTH", 14, length, strlen(length));
	if (ret == 0)
		ret = dad_http_put_field(out, "Connection", 10, "close", 5);
	if (ret == 0)
		ret = http_rewrite_buf_append(out, "\r\n", 2);
	return ret;
}

static void player_fd_set(struct gena_conn *nc, int fd)
{
	pthread_mutex_lock(&nc->gena->lock);
	if (fd < 0 && nc->player_fd >= 0)
		close(nc->player_fd);
	/* dad_gena_stop may have passed this connection already. */
	if (fd >= 0 && nc->gena->stopping)
		shutdown(fd, SHUT_RDWR);
	nc->player_fd = fd;
	pthread_mutex_unlock(&nc->gena->lock);
}

/* Sends the NOTIFY to one callback. Returns the player's status or -errno. */
static int deliver_one(struct gena_conn *nc, const struct gena_target *t,
		       const struct gena_callback *cb, const struct http_rewrite_buf *body)
{
	int fd = player_connect(nc, t, cb);
	struct iovec iov[2];
	int ret;

	if (fd < 0)
		return fd;
	player_fd_set(nc, fd);
	dad_http_stream_init_fd(&nc->out, fd);
	ret = build_notify_head(nc, t, cb, body->len);
	iov[0] = (struct iovec){ nc->head.data, nc->head.len };
	iov[1] = (struct iovec){ body->data, body->len };
	if (ret == 0)
		ret = dad_http_sendv(&nc->out, iov, 2);
	if (ret == 0) {
		dad_http_parser_init(&nc->resp, HTTP_RESPONSE, false);
		ret = dad_http_read_head(&nc->out, &nc->resp);
	}
	player_fd_set(nc, -1);
	return ret < 0 ? ret : (int)nc->resp.head.status;
}

/* Tries the callbacks in order until one responds (UPnP DA 1.1 section
 * 4.1.2). Returns the player's status or -errno of the last failure. */
/*
 * Delivers to one callback. A routed callback that refuses the connection
 * is tried again a few times: the server's initial event can overtake its
 * GENA callback route, which travels through ntm-noded and the tunnel while
 * the SUBSCRIBE takes one LAN round trip.
 */
static int deliver_routed(struct gena_conn *nc, const struct gena_target *t,
			  const struct gena_callback *cb, const struct http_rewrite_buf *body)
{
	int ret = deliver_one(nc, t, cb, body);

	for (int i = 0; ret == -ECONNREFUSED && needs_route(t->player, cb) &&
			i < GENA_ROUTE_RETRIES;
	     i++) {
		struct timespec pause = { 0, GENA_ROUTE_RETRY_MS * 1000000L };

		nanosleep(&pause, NULL);
		ret = deliver_one(nc, t, cb, body);
	}
	return ret;
}

static int deliver(struct gena_conn *nc, const struct gena_target *t,
		   const struct http_rewrite_buf *body)
{
	int ret = -ENOENT;

	for (size_t i = 0; i < t->callback_count; i++) {
		char player[INET_ADDRSTRLEN];

		ret = deliver_routed(nc, t, &t->callbacks[i], body);
		if (ret >= 0)
			return ret;
		inet_ntop(AF_INET, &t->player, player, sizeof(player));
		if (log_allowed(nc->gena))
			log_info("%s: NOTIFY for %s not delivered to player %s:%u%s: %s",
				 nc->name, t->sid[0] ? t->sid : "a pending subscription", player,
				 t->callbacks[i].port, t->callbacks[i].path, strerror(-ret));
	}
	return ret;
}

/* --- NOTIFY connections ----------------------------------------------------- */

static int reply(struct gena_conn *nc, unsigned status, bool close_after)
{
	const char *reason = http_status_str((enum http_status)status);
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "HTTP/1.1 %u %s\r\nContent-Length: 0\r\n%s\r\n", status,
			 reason, close_after ? "Connection: close\r\n" : "");

	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	return dad_http_send(&nc->in, msg, (size_t)n);
}

static int collect_body(void *ctx, const char *data, size_t len)
{
	struct gena_conn *nc = ctx;

	return http_rewrite_buf_append(&nc->body, data, len);
}

static const struct dad_http_body_ops collect_ops = { .data = collect_body };

static void snapshot_map(struct gena_conn *nc)
{
	struct dad_gena *gena = nc->gena;
	size_t n = gena->ops.map_snapshot(gena->ctx, nc->pairs, GENA_MAP_MAX);

	nc->map.pairs = nc->pairs;
	nc->map.count = n < GENA_MAP_MAX ? n : GENA_MAP_MAX;
}

/* Reads one NOTIFY with its body. Returns 1 to handle it, or 0 when the
 * connection ends (closed, or an error response was sent). */
static int read_notify(struct gena_conn *nc)
{
	struct dad_gena *gena = nc->gena;
	int ret;

	dad_http_parser_init(&nc->req, HTTP_REQUEST, false);
	http_rewrite_buf_clear(&nc->body);
	ret = dad_http_read_head(&nc->in, &nc->req);
	if (ret == -ENODATA || ret == -ETIMEDOUT)
		return 0;
	if (ret == 0 && nc->req.head.method != HTTP_NOTIFY) {
		count(gena, &gena->stats.notify_invalid);
		reply(nc, 405, true);
		return 0;
	}
	if (ret == 0) {
		dad_http_parser_set_body(&nc->req, &collect_ops, nc);
		ret = dad_http_read_body(&nc->in, &nc->req);
	}
	if (ret == 0)
		return 1;
	count(gena, &gena->stats.notify_invalid);
	if (log_allowed(gena))
		log_debug("%s: NOTIFY rejected: %s", nc->name, strerror(-ret));
	if (ret == -EMSGSIZE || ret == -EPROTO || ret == -ENOBUFS)
		reply(nc, ret == -ENOBUFS ? 413 : 400, true);
	return 0;
}

/* Handles one NOTIFY. Returns 1 when the connection may carry another. */
static int serve_notify(struct gena_conn *nc)
{
	struct dad_gena *gena = nc->gena;
	struct gena_target t;
	size_t sid_len = 0;
	const char *sid = NULL;
	bool keep_alive;
	ssize_t n;
	int ret = read_notify(nc);

	if (ret <= 0)
		return ret;
	keep_alive = nc->req.head.keep_alive;
	n = dad_http_find(&nc->req.head, "SID");
	if (n >= 0)
		sid = dad_http_field_value(&nc->req.head, (size_t)n, &sid_len);
	if (!find_target(gena, nc, sid, sid_len, &t)) {
		count(gena, &gena->stats.notify_unknown);
		if (log_allowed(gena))
			log_debug("%s: NOTIFY rejected with 412, because no subscription has its token or SID",
				  nc->name);
		/* UPnP DA 1.1 section 4.3.2: 412 for an unknown SID. */
		return reply(nc, 412, !keep_alive) == 0 && keep_alive;
	}
	count(gena, &gena->stats.notify_received);

	snapshot_map(nc);
	http_rewrite_buf_clear(&nc->rewritten);
	n = http_rewrite_urls(&nc->rewritten, nc->body.data, nc->body.len, &nc->map,
			      HTTP_REWRITE_TO_VIP);
	ret = deliver(nc, &t, n < 0 ? &nc->body : &nc->rewritten);
	count(gena, ret >= 200 && ret < 300 ? &gena->stats.notify_delivered :
					      &gena->stats.notify_failed);
	/* deliver() logged the failures to connect or to read a response. */
	if (ret >= 100)
		log_debug("%s: NOTIFY for %s delivered, the player responded %d", nc->name,
			  t.sid[0] ? t.sid : "a pending subscription", ret);
	/* The player's own status goes back; 502 when none came. */
	return reply(nc, ret >= 100 ? (unsigned)ret : 502, !keep_alive) == 0 && keep_alive;
}

static struct gena_conn *conn_new(struct dad_gena *gena, int fd, const struct sockaddr_in *peer)
{
	struct gena_conn *nc = calloc(1, sizeof(*nc));
	char ip[INET_ADDRSTRLEN];

	if (!nc)
		return NULL;
	nc->gena = gena;
	nc->peer = *peer;
	nc->player_fd = -1;
	inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof(ip));
	snprintf(nc->name, sizeof(nc->name), "server %s:%u", ip, ntohs(peer->sin_port));
	http_rewrite_buf_init(&nc->body, gena->conf.body_max);
	http_rewrite_buf_init(&nc->rewritten, 2 * gena->conf.body_max);
	http_rewrite_buf_init(&nc->head, 2 * DAD_HTTP_HEAD_MAX);
	http_rewrite_buf_init(&nc->scratch, 2 * DAD_HTTP_HEAD_MAX);
	dad_http_stream_init_fd(&nc->in, fd);
	dad_http_stream_init_fd(&nc->out, -1);
	return nc;
}

static void conn_free(struct gena_conn *nc)
{
	http_rewrite_buf_free(&nc->body);
	http_rewrite_buf_free(&nc->rewritten);
	http_rewrite_buf_free(&nc->head);
	http_rewrite_buf_free(&nc->scratch);
	free(nc);
}

static void conn_end(struct gena_conn *nc)
{
	struct dad_gena *gena = nc->gena;

	pthread_mutex_lock(&gena->lock);
	if (nc->prev)
		nc->prev->next = nc->next;
	else
		gena->conns = nc->next;
	if (nc->next)
		nc->next->prev = nc->prev;
	close(nc->in.fd);
	if (nc->player_fd >= 0)
		close(nc->player_fd);
	if (--gena->active == 0)
		pthread_cond_broadcast(&gena->idle);
	pthread_mutex_unlock(&gena->lock);
	conn_free(nc);
}

static void *notify_thread(void *arg)
{
	struct gena_conn *nc = arg;

	set_timeouts(nc->in.fd, nc->gena->conf.io_timeout_ms);
	while (serve_notify(nc) > 0)
		;
	conn_end(nc);
	return NULL;
}

/* Starts fn on a detached thread with every signal blocked. Returns 0 or
 * -errno. */
static int start_thread(pthread_t *thread, bool detached, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	pthread_attr_init(&attr);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -ret;
}

static void reject_busy(struct dad_gena *gena, int fd, const struct sockaddr_in *peer)
{
	static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				  "Connection: close\r\n\r\n";
	char ip[INET_ADDRSTRLEN];
	ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);

	(void)n;
	close(fd);
	count(gena, &gena->stats.rejected_busy);
	inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof(ip));
	if (log_allowed(gena))
		log_warn("server %s: NOTIFY connection rejected with 503, because "
			 "max_connections (%u) are open",
			 ip, gena->conf.max_connections);
}

static void accept_one(struct dad_gena *gena)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd = accept4(gena->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	struct gena_conn *nc;
	pthread_t thread;

	if (fd < 0) {
		int err = errno;

		if (err == EAGAIN || err == EINTR || err == ECONNABORTED)
			return;
		if (log_allowed(gena))
			log_warn("GENA listener: accept failed: %s", strerror(err));
		/* Out of descriptors, the pending connection stays readable:
		 * a pause keeps poll(2) from spinning. */
		if (err == EMFILE || err == ENFILE)
			usleep(100 * 1000);
		return;
	}
	nc = conn_new(gena, fd, &peer);
	pthread_mutex_lock(&gena->lock);
	if (!nc || gena->active >= gena->conf.max_connections) {
		pthread_mutex_unlock(&gena->lock);
		if (nc)
			conn_free(nc);
		reject_busy(gena, fd, &peer);
		return;
	}
	nc->next = gena->conns;
	if (gena->conns)
		gena->conns->prev = nc;
	gena->conns = nc;
	gena->active++;
	pthread_mutex_unlock(&gena->lock);
	if (start_thread(&thread, true, notify_thread, nc) < 0)
		conn_end(nc);
}

/* Sends the routes of every confirmed subscription again, each for the
 * time its subscription has left. */
static void announce_all(struct dad_gena *gena, uint64_t now)
{
	size_t max = (size_t)gena->conf.max_subscriptions * DAD_GENA_CALLBACKS_MAX;
	struct dad_gena_route *routes;
	size_t n = 0;

	if (!gena->ops.callback_route || !(routes = calloc(max, sizeof(*routes))))
		return;
	pthread_mutex_lock(&gena->lock);
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++) {
		const struct gena_sub *sub = &gena->subs[i];

		if (sub->used && sub->confirmed && sub->expires_ms > now)
			n += sub_routes(sub, sub->expires_ms - now, routes + n);
	}
	pthread_mutex_unlock(&gena->lock);
	announce_routes(gena, routes, n);
	free(routes);
}

static void *accept_thread(void *arg)
{
	struct dad_gena *gena = arg;

	for (;;) {
		struct pollfd pfd[2] = { { gena->listen_fd, POLLIN, 0 }, { gena->stop_fd, POLLIN, 0 } };
		int n = poll(pfd, 2, GENA_PURGE_INTERVAL_MS);

		if (n < 0 && errno != EINTR) {
			log_err("GENA listener: poll failed: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (n > 0 && (pfd[0].revents & POLLIN))
			accept_one(gena);
		uint64_t now = ntm_now_ms();

		pthread_mutex_lock(&gena->lock);
		purge_expired(gena, now);
		pthread_mutex_unlock(&gena->lock);
		if (now >= gena->next_announce_ms) {
			if (gena->next_announce_ms)
				announce_all(gena, now);
			gena->next_announce_ms = now + GENA_REANNOUNCE_MS;
		}
	}
	return NULL;
}

/* --- Start and stop ------------------------------------------------------------ */

static int listen_on(struct dad_gena *gena)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr = gena->conf.lan_addr,
				    .sin_port = htons(gena->conf.port) };
	socklen_t len = sizeof(addr);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	gena->listen_fd = fd;
	gena->port = ntohs(addr.sin_port);
	return 0;
}

static void apply_defaults(struct dad_gena_conf *conf)
{
	if (conf->max_subscriptions == 0)
		conf->max_subscriptions = DAD_GENA_DEFAULT_SUBSCRIPTIONS;
	if (conf->max_connections == 0)
		conf->max_connections = DAD_GENA_DEFAULT_CONNECTIONS;
	if (conf->io_timeout_ms == 0)
		conf->io_timeout_ms = DAD_GENA_DEFAULT_IO_TIMEOUT_MS;
	if (conf->body_max == 0)
		conf->body_max = DAD_GENA_DEFAULT_BODY_MAX;
}

static void gena_free(struct dad_gena *gena)
{
	if (gena->listen_fd >= 0)
		close(gena->listen_fd);
	if (gena->stop_fd >= 0)
		close(gena->stop_fd);
	if (gena->subs)
		sodium_memzero(gena->subs, sizeof(*gena->subs) * gena->conf.max_subscriptions);
	free(gena->subs);
	pthread_cond_destroy(&gena->idle);
	pthread_mutex_destroy(&gena->lock);
	free(gena);
}

int dad_gena_start(struct dad_gena **out, const struct dad_gena_conf *conf,
		   const struct dad_gena_ops *ops, void *ctx)
{
	struct dad_gena *gena;
	char lan[INET_ADDRSTRLEN];
	int ret;

	if (!ops->map_snapshot)
		return -EINVAL;
	gena = calloc(1, sizeof(*gena));
	if (!gena || sodium_init() < 0) {
		free(gena);
		return -ENOMEM;
	}
	gena->conf = *conf;
	apply_defaults(&gena->conf);
	gena->ops = *ops;
	gena->ctx = ctx;
	gena->listen_fd = -1;
	gena->log_limit = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(LOG_BURST, LOG_RATE);
	pthread_mutex_init(&gena->lock, NULL);
	pthread_cond_init(&gena->idle, NULL);
	gena->stop_fd = eventfd(0, EFD_CLOEXEC);
	gena->subs = calloc(gena->conf.max_subscriptions, sizeof(*gena->subs));
	if (gena->stop_fd < 0 || !gena->subs) {
		ret = gena->stop_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	ret = listen_on(gena);
	if (ret == 0)
		ret = start_thread(&gena->accept_thread, false, accept_thread, gena);
	if (ret < 0)
		goto fail;
	inet_ntop(AF_INET, &gena->conf.lan_addr, lan, sizeof(lan));
	log_info("GENA listener on %s:%u", lan, gena->port);
	*out = gena;
	return 0;

fail:
	gena_free(gena);
	return ret;
}

void dad_gena_stop(struct dad_gena *gena)
{
	uint64_t one = 1;
	ssize_t n;

	if (!gena)
		return;
	n = write(gena->stop_fd, &one, sizeof(one));
	(void)n;
	pthread_join(gena->accept_thread, NULL);

	pthread_mutex_lock(&gena->lock);
	gena->stopping = true;
	for (struct gena_conn *nc = gena->conns; nc; nc = nc->next) {
		shutdown(nc->in.fd, SHUT_RDWR);
		if (nc->player_fd >= 0)
			shutdown(nc->player_fd, SHUT_RDWR);
	}
	while (gena->active > 0)
		pthread_cond_wait(&gena->idle, &gena->lock);
	pthread_mutex_unlock(&gena->lock);
	gena_free(gena);
}

uint16_t dad_gena_port(const struct dad_gena *gena)
{
	return gena->port;
}

void dad_gena_get_stats(struct dad_gena *gena, struct dad_gena_stats *out)
{
	pthread_mutex_lock(&gena->lock);
	*out = gena->stats;
	out->subscriptions = 0;
	for (unsigned i = 0; i < gena->conf.max_subscriptions; i++)
		out->subscriptions += gena->subs[i].used;
	pthread_mutex_unlock(&gena->lock);
}
