/*
 * Unit tests for the DLNA Agent's proxy and GENA relay over real sockets on
 * loopback addresses: a mock media server on 127.0.0.2 (the real address),
 * the VIP 127.0.0.3, the player on 127.0.0.4 (its VIP) and the Agent's LAN
 * address 127.0.0.5. The test accepts each player connection itself and
 * hands it to dad_proxy_handle, as the daemon does after SO_ORIGINAL_DST.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "dad_gena.h"
#include "dad_proxy.h"
#include "ntm_log.h"

#define REAL_ADDR "127.0.0.2"
#define VIP_ADDR "127.0.0.3"
#define PLAYER_ADDR "127.0.0.4"
#define LAN_ADDR "127.0.0.5"
#define MEDIA_LEN (1024 * 1024 + 17)
#define MOCK_CONNS_MAX 32
#define RECORD_MAX (64 * 1024)
#define SLOW_HOLD_MS 2000

/* --- Helpers ----------------------------------------------------------- */

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A listening socket on ip, port chosen by the kernel. */
static int listen_on(const char *ip, uint16_t *port)
{
	struct sockaddr_in sin = sin_of(ip, 0);
	socklen_t len = sizeof(sin);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Connects from local_ip to ip:port. */
static int connect_from(const char *local_ip, const char *ip, uint16_t port)
{
	struct sockaddr_in local = sin_of(local_ip, 0);
	struct sockaddr_in dst = sin_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	set_timeouts(fd, 10000);
	assert_int_equal(bind(fd, (struct sockaddr *)&local, sizeof(local)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	return fd;
}

/* Sends every byte; false when the peer went away. It never asserts, since
 * the mock server's threads call it too, and a cmocka assert outside the
 * test's own thread ends the whole run. */
static bool send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_text(int fd, const char *text)
{
	return send_all(fd, text, strlen(text));
}

/* A received HTTP message: head (NUL-terminated) and body. */
struct message {
	char head[8192];
	char *body;
	size_t body_len;
	bool closed;   /* the peer closed after it */
};

/* Reads up to "\r\n\r\n" one byte at a time, so no byte of the body is
 * taken. Returns false at EOF before a head. */
static bool read_head(int fd, char *head, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = recv(fd, head + len, 1, 0);

		if (n <= 0)
			return false;
		len++;
		head[len] = '\0';
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			return true;
	}
	return false;
}

/* Value of a header field in a head, or NULL; out gets up to size-1 bytes. */
static const char *header(const char *head, const char *name, char *out, size_t size)
{
	const char *line = strstr(head, "\r\n");
	size_t name_len = strlen(name);

	while (line && line[2] != '\r') {
		const char *start = line + 2;
		const char *end = strstr(start, "\r\n");

		if (strncasecmp(start, name, name_len) == 0 && start[name_len] == ':') {
			const char *v = start + name_len + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
		line = end;
	}
	return NULL;
}

static bool read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Reads a chunked body (RFC 9112 section 7.1) without trailers. */
static void read_chunked(int fd, struct message *m)
{
	for (;;) {
		char line[64];
		size_t len = 0;
		unsigned long size;

		while (len + 1 < sizeof(line) && recv(fd, line + len, 1, 0) == 1) {
			len++;
			if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
				break;
		}
		line[len] = '\0';
		size = strtoul(line, NULL, 16);
		m->body = realloc(m->body, m->body_len + size + 2);
		assert_non_null(m->body);
		assert_true(read_exact(fd, m->body + m->body_len, size + 2));
		if (size == 0)
			return;
		m->body_len += size;
	}
}

/* Reads one response: the head, then a body by Content-Length, chunks, or
 * up to EOF; no body after HEAD or for 1xx, 204 and 304. */
static bool read_message(int fd, struct message *m, bool head_only)
{
	char value[64];

	memset(m, 0, sizeof(*m));
	if (!read_head(fd, m->head, sizeof(m->head)))
		return false;
	if (head_only || strncmp(m->head + 9, "1", 1) == 0 || strncmp(m->head + 9, "204", 3) == 0 ||
	    strncmp(m->head + 9, "304", 3) == 0)
		return true;
	if (header(m->head, "Content-Length", value, sizeof(value))) {
		m->body_len = strtoul(value, NULL, 10);
		m->body = malloc(m->body_len + 1);
		assert_non_null(m->body);
		assert_true(read_exact(fd, m->body, m->body_len));
		return true;
	}
	if (header(m->head, "Transfer-Encoding", value, sizeof(value))) {
		read_chunked(fd, m);
		return true;
	}
	for (;;) {
		char buf[65536];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		m->body = realloc(m->body, m->body_len + (size_t)n);
		memcpy(m->body + m->body_len, buf, (size_t)n);
		m->body_len += (size_t)n;
	}
	m->closed = true;
	return true;
}

static void message_free(struct message *m)
{
	free(m->body);
	m->body = NULL;
}

static bool body_contains(const struct message *m, const char *text)
{
	return m->body && memmem(m->body, m->body_len, text, strlen(text)) != NULL;
}

/* --- The mock media server on REAL_ADDR ------------------------------------ */

struct mock {
	int listen_fd;
	uint16_t port;
	pthread_t accept_thread;
	pthread_t conn_threads[MOCK_CONNS_MAX];
	int conn_fds[MOCK_CONNS_MAX];
	atomic_int conns;
	atomic_bool stop;
	pthread_mutex_t lock;
	char requests[RECORD_MAX];   /* every request head received, back to back */
	size_t requests_len;
	char last_peer[INET_ADDRSTRLEN];
	char callback[256];          /* CALLBACK of the last SUBSCRIBE */
	unsigned char media[MEDIA_LEN];
};

struct mock_conn {
	struct mock *mock;
	int fd;
};

static struct mock *mock;

static void mock_record(struct mock *m, const char *head)
{
	size_t len = strlen(head);
	char value[256];

	pthread_mutex_lock(&m->lock);
	if (len < sizeof(m->requests) - m->requests_len) {
		memcpy(m->requests + m->requests_len, head, len);
		m->requests_len += len;
		m->requests[m->requests_len] = '\0';
	}
	if (header(head, "CALLBACK", value, sizeof(value)))
		snprintf(m->callback, sizeof(m->callback), "%s", value);
	pthread_mutex_unlock(&m->lock);
}

static void mock_respond(struct mock *m, int fd, const char *head)
{
	char out[1024];

	if (strncmp(head, "GET /desc.xml ", 14) == 0) {
		char body[512];
		int body_len = snprintf(body, sizeof(body),
					"<root><URLBase>http://%s:%u/</URLBase><u>http://%s:%u/"
					"media</u></root>\n",
					REAL_ADDR, m->port, REAL_ADDR, m->port);

		snprintf(out, sizeof(out),
			 "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s",
			 body_len, body);
		send_text(fd, out);
	} else if (strncmp(head, "GET /media ", 11) == 0) {
		snprintf(out, sizeof(out),
			 "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\n\r\n",
			 MEDIA_LEN);
		send_text(fd, out);
		send_all(fd, m->media, MEDIA_LEN);
	} else if (strncmp(head, "HEAD /desc.xml ", 15) == 0) {
		send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 71\r\n\r\n");
	} else if (strncmp(head, "HEAD /media ", 12) == 0) {
		snprintf(out, sizeof(out),
			 "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\n\r\n",
			 MEDIA_LEN);
		send_text(fd, out);
	} else if (strncmp(head, "GET /chunked ", 13) == 0) {
		send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n");
		for (size_t off = 0; off < 100000; off += 10000) {
			snprintf(out, sizeof(out), "%x\r\n", 10000);
			send_text(fd, out);
			send_all(fd, m->media + off, 10000);
			send_text(fd, "\r\n");
		}
		send_text(fd, "0\r\n\r\n");
	} else if (strncmp(head, "GET /slow ", 10) == 0) {
		send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 4\r\n\r\n");
		usleep(SLOW_HOLD_MS * 1000);
		send_text(fd, "slow");
	} else if (strncmp(head, "GET /then-close ", 16) == 0) {
		/* Keep-alive by its version, then closed: an idle timeout. */
		send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 2\r\n\r\nok");
		shutdown(fd, SHUT_RDWR);
	} else if (strncmp(head, "SUBSCRIBE ", 10) == 0) {
		send_text(fd, "HTTP/1.1 200 OK\r\nSID: uuid:mock-sid-1\r\nTIMEOUT: Second-300\r\n"
			      "Content-Length: 0\r\n\r\n");
	} else if (strncmp(head, "UNSUBSCRIBE ", 12) == 0) {
		send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	} else {
		send_text(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
}

static void *mock_conn_thread(void *arg)
{
	struct mock_conn *mc = arg;
	char head[8192];

	set_timeouts(mc->fd, 10000);
	while (!atomic_load(&mc->mock->stop) && read_head(mc->fd, head, sizeof(head))) {
		mock_record(mc->mock, head);
		mock_respond(mc->mock, mc->fd, head);
	}
	free(mc);
	return NULL;
}

static void *mock_accept_thread(void *arg)
{
	struct mock *m = arg;

	while (!atomic_load(&m->stop)) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = accept(m->listen_fd, (struct sockaddr *)&peer, &len);
		struct mock_conn *mc;
		int i;

		if (fd < 0)
			break;
		i = atomic_fetch_add(&m->conns, 1);
		if (i >= MOCK_CONNS_MAX) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&m->lock);
		inet_ntop(AF_INET, &peer.sin_addr, m->last_peer, sizeof(m->last_peer));
		pthread_mutex_unlock(&m->lock);
		mc = malloc(sizeof(*mc));
		mc->mock = m;
		mc->fd = fd;
		m->conn_fds[i] = fd;
		pthread_create(&m->conn_threads[i], NULL, mock_conn_thread, mc);
	}
	return NULL;
}

static int mock_start(void)
{
	mock = calloc(1, sizeof(*mock));
	assert_non_null(mock);
	for (size_t i = 0; i < MEDIA_LEN; i++)
		mock->media[i] = (unsigned char)(i * 2654435761u >> 13);
	pthread_mutex_init(&mock->lock, NULL);
	mock->listen_fd = listen_on(REAL_ADDR, &mock->port);
	pthread_create(&mock->accept_thread, NULL, mock_accept_thread, mock);
	return 0;
}

static void mock_stop(void)
{
	int n;

	atomic_store(&mock->stop, true);
	shutdown(mock->listen_fd, SHUT_RDWR);
	pthread_join(mock->accept_thread, NULL);
	n = atomic_load(&mock->conns);
	for (int i = 0; i < n && i < MOCK_CONNS_MAX; i++) {
		shutdown(mock->conn_fds[i], SHUT_RDWR);
		pthread_join(mock->conn_threads[i], NULL);
		close(mock->conn_fds[i]);
	}
	close(mock->listen_fd);
	pthread_mutex_destroy(&mock->lock);
	free(mock);
	mock = NULL;
}

static bool mock_saw(const char *text)
{
	bool seen;

	pthread_mutex_lock(&mock->lock);
	seen = strstr(mock->requests, text) != NULL;
	pthread_mutex_unlock(&mock->lock);
	return seen;
}

/* --- The Agent: proxy, GENA relay and the redirect listener ---------------- */

struct agent {
	struct dad_proxy *proxy;
	struct dad_gena *gena;
	int redirect_fd;      /* replaces the nftables redirect */
	uint16_t redirect_port;
	struct http_rewrite_pair pair;
};

static bool lookup_real(void *ctx, const struct in_addr *vip, struct in_addr *real)
{
	struct agent *a = ctx;

	if (vip->s_addr != a->pair.vip.s_addr)
		return false;
	*real = a->pair.real;
	return true;
}

static size_t map_snapshot(void *ctx, struct http_rewrite_pair *pairs, size_t max)
{
	struct agent *a = ctx;

	if (max == 0)
		return 0;
	pairs[0] = a->pair;
	return 1;
}

static void agent_start(struct agent *a, unsigned max_connections)
{
	struct dad_proxy_conf conf = { .max_connections = max_connections, .io_timeout_ms = 5000 };
	struct dad_proxy_ops ops = { .lookup_real = lookup_real, .map_snapshot = map_snapshot };
	struct dad_gena_conf gconf = { .bind_server_vip = true, .io_timeout_ms = 5000 };
	struct dad_gena_ops gops = { .map_snapshot = map_snapshot };

	memset(a, 0, sizeof(*a));
	a->pair.real = sin_of(REAL_ADDR, 0).sin_addr;
	a->pair.vip = sin_of(VIP_ADDR, 0).sin_addr;
	conf.lan_addr = sin_of(LAN_ADDR, 0).sin_addr;
	gconf.lan_addr = conf.lan_addr;
	assert_int_equal(dad_gena_start(&a->gena, &gconf, &gops, a), 0);
	assert_int_equal(dad_proxy_new(&a->proxy, &conf, &ops, a, a->gena), 0);
	a->redirect_fd = listen_on(VIP_ADDR, &a->redirect_port);
}

static void agent_stop(struct agent *a)
{
	dad_proxy_free(a->proxy);
	dad_gena_stop(a->gena);
	close(a->redirect_fd);
}

/* Connects a player from PLAYER_ADDR to vip:port through the redirect and
 * hands the accepted socket to the proxy. Returns the player's socket and
 * the result of dad_proxy_handle in *handled. */
static int player_connect_to(struct agent *a, const char *vip, uint16_t port, int *handled)
{
	int fd = connect_from(PLAYER_ADDR, VIP_ADDR, a->redirect_port);
	struct sockaddr_in client;
	struct sockaddr_in orig = sin_of(vip, port);
	socklen_t len = sizeof(client);
	int accepted = accept(a->redirect_fd, (struct sockaddr *)&client, &len);

	assert_true(accepted >= 0);
	*handled = dad_proxy_handle(a->proxy, accepted, &client, &orig);
	return fd;
}

static int player_connect(struct agent *a)
{
	int handled;
	int fd = player_connect_to(a, VIP_ADDR, mock->port, &handled);

	assert_int_equal(handled, 0);
	return fd;
}

static void request(int fd, const char *method, const char *path, const char *extra)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s %s HTTP/1.1\r\nHost: %s:%u\r\n%s\r\n", method, path,
		 VIP_ADDR, mock->port, extra ? extra : "");
	assert_true(send_text(fd, text));
}

/* --- Tests ------------------------------------------------------------------- */

static void proxy_translates_description(void **state)
{
	struct agent a;
	struct message m;
	char vip_url[64], real_host[64], value[64];
	int fd;

	agent_start(&a, 0);
	fd = player_connect(&a);
	request(fd, "GET", "/desc.xml", "Accept-Encoding: gzip\r\n");
	assert_true(read_message(fd, &m, false));

	snprintf(vip_url, sizeof(vip_url), "http://%s:%u/", VIP_ADDR, mock->port);
	snprintf(real_host, sizeof(real_host), "Host: %s:%u\r\n", REAL_ADDR, mock->port);
	assert_true(body_contains(&m, vip_url));
	assert_false(body_contains(&m, "http://" REAL_ADDR));
	assert_non_null(header(m.head, "Content-Length", value, sizeof(value)));
	assert_int_equal(strtoul(value, NULL, 10), m.body_len);
	assert_true(mock_saw(real_host));
	assert_true(mock_saw("Accept-Encoding: identity\r\n"));
	pthread_mutex_lock(&mock->lock);
	assert_string_equal(mock->last_peer, LAN_ADDR);
	pthread_mutex_unlock(&mock->lock);

	message_free(&m);
	close(fd);
	agent_stop(&a);
}

static void proxy_streams_media(void **state)
{
	struct agent a;
	struct message m;
	int fd;

	agent_start(&a, 0);
	fd = player_connect(&a);
	/* Three requests on one kept-alive connection. */
	request(fd, "GET", "/media", NULL);
	assert_true(read_message(fd, &m, false));
	assert_int_equal(m.body_len, MEDIA_LEN);
	assert_memory_equal(m.body, mock->media, MEDIA_LEN);
	message_free(&m);

	request(fd, "GET", "/chunked", NULL);
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "Transfer-Encoding: chunked"));
	assert_int_equal(m.body_len, 100000);
	assert_memory_equal(m.body, mock->media, 100000);
	message_free(&m);

	request(fd, "HEAD", "/media", NULL);
	assert_true(read_message(fd, &m, true));
	assert_non_null(strstr(m.head, "200 OK"));
	assert_non_null(strstr(m.head, "Content-Length: 1048593\r\n"));
	message_free(&m);

	/* A GET of a translated body gets another length than the server's, so
	 * a HEAD of it carries none (RFC 9110, section 9.3.2). The connection
	 * stays open, because a HEAD response never has a body. */
	request(fd, "HEAD", "/desc.xml", NULL);
	assert_true(read_message(fd, &m, true));
	assert_non_null(strstr(m.head, "200 OK"));
	assert_null(strcasestr(m.head, "Content-Length"));
	assert_null(strcasestr(m.head, "Connection: close"));
	message_free(&m);

	request(fd, "GET", "/desc.xml", NULL);
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "200 OK"));
	message_free(&m);
	close(fd);
	agent_stop(&a);
}

static void proxy_http10_unchunked(void **state)
{
	char text[256];
	struct agent a;
	struct message m;
	int fd;

	agent_start(&a, 0);
	fd = player_connect(&a);
	snprintf(text, sizeof(text), "GET /chunked HTTP/1.0\r\nHost: %s:%u\r\n\r\n", VIP_ADDR,
		 mock->port);
	assert_true(send_text(fd, text));
	assert_true(read_message(fd, &m, false));
	assert_null(strstr(m.head, "Transfer-Encoding"));
	assert_true(m.closed);
	assert_int_equal(m.body_len, 100000);
	assert_memory_equal(m.body, mock->media, 100000);
	message_free(&m);
	close(fd);
	agent_stop(&a);
}

static void proxy_unknown_vip_403(void **state)
{
	struct dad_proxy_stats stats;
	struct agent a;
	struct message m;
	int conns_before = atomic_load(&mock->conns);
	int handled;
	int fd;

	agent_start(&a, 0);
	fd = player_connect_to(&a, "127.0.0.9", mock->port, &handled);
	assert_int_equal(handled, 0);
	request(fd, "GET", "/desc.xml", NULL);
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "HTTP/1.1 403 "));
	message_free(&m);
	dad_proxy_get_stats(a.proxy, &stats);
	assert_int_equal(stats.rejected_unknown, 1);
	/* No server was connected to. */
	assert_int_equal(atomic_load(&mock->conns), conns_before);
	close(fd);
	agent_stop(&a);
}

static void proxy_busy_503(void **state)
{
	struct dad_proxy_stats stats;
	struct agent a;
	struct message m;
	int first, second, handled;

	agent_start(&a, 1);
	first = player_connect(&a);
	second = player_connect_to(&a, VIP_ADDR, mock->port, &handled);
	assert_int_equal(handled, -EBUSY);
	assert_true(read_message(second, &m, false));
	assert_non_null(strstr(m.head, "HTTP/1.1 503 "));
	message_free(&m);
	dad_proxy_get_stats(a.proxy, &stats);
	assert_int_equal(stats.rejected_busy, 1);
	assert_int_equal(stats.active, 1);

	/* The first connection still works. */
	request(first, "GET", "/desc.xml", NULL);
	assert_true(read_message(first, &m, false));
	assert_non_null(strstr(m.head, "200 OK"));
	message_free(&m);
	close(first);
	close(second);
	agent_stop(&a);
}

static void proxy_slow_stream_no_block(void **state)
{
	struct agent a;
	struct message m;
	uint64_t start;
	int slow, quick;

	agent_start(&a, 0);
	slow = player_connect(&a);
	request(slow, "GET", "/slow", NULL);
	usleep(100 * 1000);

	start = now_ms();
	quick = player_connect(&a);
	request(quick, "GET", "/desc.xml", NULL);
	assert_true(read_message(quick, &m, false));
	assert_true(now_ms() - start < SLOW_HOLD_MS / 2);
	message_free(&m);

	assert_true(read_message(slow, &m, false));
	assert_int_equal(m.body_len, 4);
	message_free(&m);
	close(slow);
	close(quick);
	agent_stop(&a);
}

static void proxy_retries_closed_server(void **state)
{
	struct agent a;
	struct message m;
	int fd;

	agent_start(&a, 0);
	fd = player_connect(&a);
	request(fd, "GET", "/then-close", NULL);
	assert_true(read_message(fd, &m, false));
	assert_int_equal(m.body_len, 2);
	message_free(&m);
	/* Let the server's FIN arrive: the proxy notices only when it reads. */
	usleep(100 * 1000);

	request(fd, "GET", "/desc.xml", NULL);
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "HTTP/1.1 200 OK"));
	message_free(&m);
	close(fd);
	agent_stop(&a);
}

static void proxy_server_down_502(void **state)
{
	struct dad_proxy_stats stats;
	struct agent a;
	struct message m;
	uint16_t closed_port;
	int fd, handled, unused;

	agent_start(&a, 0);
	/* A port on which nothing listens any more. */
	unused = listen_on(REAL_ADDR, &closed_port);
	close(unused);
	fd = player_connect_to(&a, VIP_ADDR, closed_port, &handled);
	assert_true(send_text(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "HTTP/1.1 502 "));
	message_free(&m);
	dad_proxy_get_stats(a.proxy, &stats);
	assert_int_equal(stats.upstream_failed, 1);
	close(fd);
	agent_stop(&a);
}

static void proxy_free_with_open_connections(void **state)
{
	struct agent a;
	uint64_t start;
	int fd;

	agent_start(&a, 0);
	fd = player_connect(&a);
	request(fd, "GET", "/slow", NULL);
	usleep(100 * 1000);
	start = now_ms();
	dad_proxy_free(a.proxy);
	assert_true(now_ms() - start < SLOW_HOLD_MS);
	dad_gena_stop(a.gena);
	close(a.redirect_fd);
	close(fd);
}

/* The player's event listener: accepts one NOTIFY and responds 200. */
struct listener {
	int fd;
	uint16_t port;
	pthread_t thread;
	struct message got;
	char peer[INET_ADDRSTRLEN];
	bool ok;
};

static void *listener_thread(void *arg)
{
	struct listener *l = arg;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd = accept(l->fd, (struct sockaddr *)&peer, &len);
	char value[32];

	if (fd < 0)
		return NULL;
	set_timeouts(fd, 5000);
	inet_ntop(AF_INET, &peer.sin_addr, l->peer, sizeof(l->peer));
	if (read_head(fd, l->got.head, sizeof(l->got.head)) &&
	    header(l->got.head, "CONTENT-LENGTH", value, sizeof(value))) {
		l->got.body_len = strtoul(value, NULL, 10);
		l->got.body = malloc(l->got.body_len + 1);
		l->ok = l->got.body && read_exact(fd, l->got.body, l->got.body_len);
	}
	send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	close(fd);
	return NULL;
}

/* Sends a NOTIFY as the server would and returns the response status. */
static int server_notify(struct agent *a, const char *path, const char *sid, const char *body)
{
	char text[1024];
	struct message m;
	int fd = connect_from(REAL_ADDR, LAN_ADDR, dad_gena_port(a->gena));
	int status;

	snprintf(text, sizeof(text),
		 "NOTIFY %s HTTP/1.1\r\nHOST: %s:%u\r\nCONTENT-TYPE: text/xml; charset=\"utf-8\"\r\n"
		 "NT: upnp:event\r\nNTS: upnp:propchange\r\nSID: %s\r\nSEQ: 0\r\n"
		 "CONTENT-LENGTH: %zu\r\nConnection: close\r\n\r\n%s",
		 path, LAN_ADDR, dad_gena_port(a->gena), sid, strlen(body), body);
	assert_true(send_text(fd, text));
	assert_true(read_message(fd, &m, false));
	status = (int)strtol(m.head + 9, NULL, 10);
	message_free(&m);
	close(fd);
	return status;
}

static void gena_subscribe_notify(void **state)
{
	struct dad_gena_stats stats;
	struct listener l = { 0 };
	struct agent a;
	struct message m;
	char extra[256], body[256], path[128], vip_url[64];
	const char *token;
	int fd;

	agent_start(&a, 0);
	l.fd = listen_on(PLAYER_ADDR, &l.port);
	pthread_create(&l.thread, NULL, listener_thread, &l);

	/* The callback names another host: delivery goes to the player's VIP. */
	snprintf(extra, sizeof(extra),
		 "CALLBACK: <http://127.0.0.77:%u/player/cb?x=1>\r\nNT: upnp:event\r\n"
		 "TIMEOUT: Second-300\r\n",
		 l.port);
	fd = player_connect(&a);
	request(fd, "SUBSCRIBE", "/evt/ContentDir", extra);
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "SID: uuid:mock-sid-1"));
	message_free(&m);

	pthread_mutex_lock(&mock->lock);
	token = strstr(mock->callback, "/gena/");
	assert_non_null(token);
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(token, ">"), token);
	assert_int_equal(strlen(path), 6 + DAD_GENA_TOKEN_LEN);
	assert_int_equal(strncmp(mock->callback, "<http://" LAN_ADDR ":",
				 strlen("<http://" LAN_ADDR ":")),
			 0);
	pthread_mutex_unlock(&mock->lock);

	/* A wrong SID with the right token, and an unknown token: 412. */
	assert_int_equal(server_notify(&a, path, "uuid:other", "<x/>"), 412);
	assert_int_equal(server_notify(&a, "/gena/00000000000000000000000000000000",
				       "uuid:mock-sid-1", "<x/>"),
			 412);

	snprintf(body, sizeof(body),
		 "<e:propertyset><e:property><A>http://%s:%u/art.jpg</A></e:property>"
		 "</e:propertyset>",
		 REAL_ADDR, mock->port);
	assert_int_equal(server_notify(&a, path, "uuid:mock-sid-1", body), 200);
	pthread_join(l.thread, NULL);
	assert_true(l.ok);
	assert_int_equal(strncmp(l.got.head, "NOTIFY /player/cb?x=1 HTTP/1.1\r\n", 32), 0);
	assert_non_null(strstr(l.got.head, "SID: uuid:mock-sid-1\r\n"));
	assert_non_null(strstr(l.got.head, "SEQ: 0\r\n"));
	snprintf(vip_url, sizeof(vip_url), "http://%s:%u/art.jpg", VIP_ADDR, mock->port);
	assert_true(body_contains(&l.got, vip_url));
	/* Sent from the server's VIP, so the response comes back the same way. */
	assert_string_equal(l.peer, VIP_ADDR);
	message_free(&l.got);

	request(fd, "UNSUBSCRIBE", "/evt/ContentDir", "SID: uuid:mock-sid-1\r\n");
	assert_true(read_message(fd, &m, false));
	message_free(&m);
	assert_int_equal(server_notify(&a, path, "uuid:mock-sid-1", body), 412);

	dad_gena_get_stats(a.gena, &stats);
	assert_int_equal(stats.subscribed, 1);
	assert_int_equal(stats.unsubscribed, 1);
	assert_int_equal(stats.notify_delivered, 1);
	assert_int_equal(stats.notify_unknown, 3);
	assert_int_equal(stats.subscriptions, 0);
	close(fd);
	close(l.fd);
	agent_stop(&a);
}

static void gena_bad_callback_412(void **state)
{
	struct agent a;
	struct message m;
	int fd;

	agent_start(&a, 0);
	fd = player_connect(&a);
	request(fd, "SUBSCRIBE", "/evt/ContentDir", "CALLBACK: <ftp://x/>\r\nNT: upnp:event\r\n");
	assert_true(read_message(fd, &m, false));
	assert_non_null(strstr(m.head, "HTTP/1.1 412 "));
	message_free(&m);
	close(fd);
	agent_stop(&a);
}

static int setup(void **state)
{
	ntm_log_set_level(NTM_LOG_WARNING);
	return mock_start();
}

static int teardown(void **state)
{
	mock_stop();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(proxy_translates_description),
		cmocka_unit_test(proxy_streams_media),
		cmocka_unit_test(proxy_http10_unchunked),
		cmocka_unit_test(proxy_unknown_vip_403),
		cmocka_unit_test(proxy_busy_503),
		cmocka_unit_test(proxy_slow_stream_no_block),
		cmocka_unit_test(proxy_retries_closed_server),
		cmocka_unit_test(proxy_server_down_502),
		cmocka_unit_test(proxy_free_with_open_connections),
		cmocka_unit_test(gena_subscribe_notify),
		cmocka_unit_test(gena_bad_callback_412),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
