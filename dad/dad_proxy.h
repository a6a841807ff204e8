/*
 * The DLNA Agent's translating HTTP proxy. A player connects to a server's
 * VIP with the server's own port. The Agent host redirects that TCP
 * connection here (nftables redirect), and the daemon hands over the socket
 * with the original destination (SO_ORIGINAL_DST). The proxy connects to the
 * server's real address and the same port from the Agent's LAN address, so
 * the server sees a client on its own LAN, and translates both ways:
 *
 *   player -> server: Host and an absolute-form target VIP -> real address;
 *     Accept-Encoding set to identity; the CALLBACK of SUBSCRIBE replaced by
 *     dad_gena; URLs in other header values and in XML and text bodies
 *     VIP -> real address.
 *   server -> player: URLs in header values (Location, CaptionInfo.sec, ...)
 *     real address -> VIP; XML and text bodies of 2xx responses buffered (up
 *     to body_max bytes), translated and sent with a recomputed
 *     Content-Length; every other body (media) streamed as it arrives.
 *
 * Body framing towards the player: a streamed chunked body goes out chunked
 * to HTTP/1.1 players, one chunk per piece received (chunk extensions and
 * trailers are dropped), and de-chunked and delimited by closing the
 * connection to HTTP/1.0 players. A body that is not translated keeps its
 * bytes; a translated one is sent with Content-Length.
 *
 * Threads: dad_proxy_handle starts one detached thread per connection,
 * which uses blocking sockets with timeouts, so a slow stream never holds up
 * another connection. Over max_connections, a connection gets 503 and is
 * closed. The daemon's callbacks in struct dad_proxy_ops are called from
 * these threads, several at a time.
 */
#ifndef DAD_PROXY_H
#define DAD_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dad_gena.h"
#include "http_rewrite.h"

#define DAD_PROXY_DEFAULT_MAX_CONNECTIONS 256
/* A paused player stops reading; its stream ends after this much idle time. */
#define DAD_PROXY_DEFAULT_IO_TIMEOUT_MS 60000
#define DAD_PROXY_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DAD_PROXY_DEFAULT_BODY_MAX (32 * 1024 * 1024)
/* {real, VIP} pairs read per message; more servers than this are not translated. */
#define DAD_PROXY_MAP_MAX 256

struct dad_proxy_conf {
	/* Source address of connections to servers; INADDR_ANY lets the
	 * kernel choose. It may equal a server's address when the Agent runs
	 * on the server's host. */
	struct in_addr lan_addr;
	unsigned max_connections;      /* 0: DAD_PROXY_DEFAULT_MAX_CONNECTIONS */
	unsigned io_timeout_ms;        /* SO_RCVTIMEO and SO_SNDTIMEO; 0: default */
	unsigned connect_timeout_ms;   /* 0: default */
	size_t body_max;               /* bytes buffered for translation; 0: default */
};

/*
 * The daemon's view of the servers. Thread-safety contract: both callbacks
 * run on connection threads, concurrently with each other and with the
 * daemon's own thread that changes the mapping. Each must take the daemon's
 * lock around its read, copy what it returns, return without blocking on
 * I/O, and never call a dad_proxy or dad_gena function.
 */
struct dad_proxy_ops {
	/* Sets *real to the server behind vip. Returns false for a VIP that
	 * has no discovered server. The proxy then responds 403 and connects
	 * nowhere. */
	bool (*lookup_real)(void *ctx, const struct in_addr *vip, struct in_addr *real);
	/* Copies the current {real, VIP} pairs into pairs (at most max) and
	 * returns the count. Read once per message. */
	size_t (*map_snapshot)(void *ctx, struct http_rewrite_pair *pairs, size_t max);
};

struct dad_proxy_stats {
	uint64_t accepted;             /* connections handed over */
	uint64_t active;               /* connection threads running now */
	uint64_t rejected_busy;        /* over max_connections: 503 */
	uint64_t rejected_unknown;     /* VIP without a server: 403 */
	uint64_t rejected_invalid;     /* malformed, oversized or upgrade requests */
	uint64_t upstream_failed;      /* server unreachable or failed before its response: 502 */
	uint64_t requests;
	uint64_t bodies_rewritten;
	uint64_t bodies_too_large;     /* over body_max: sent unchanged */
	uint64_t bodies_encoded;       /* Content-Encoding despite identity: sent unchanged */
	uint64_t urls_rewritten;
	uint64_t bytes_to_player;
	uint64_t bytes_to_server;
};

struct dad_proxy;

/* Creates a proxy; no thread runs until the first connection. Both
 * callbacks of ops are required. gena may be NULL: SUBSCRIBE then passes
 * unchanged. Returns 0, -EINVAL for a missing callback, or -ENOMEM. */
int dad_proxy_new(struct dad_proxy **out, const struct dad_proxy_conf *conf,
		  const struct dad_proxy_ops *ops, void *ctx, struct dad_gena *gena);

/*
 * Takes over the accepted socket fd of a player (client is its source
 * address, the player's VIP; orig_dst the VIP and port it connected to)
 * and serves it on a new thread. Returns 0; or, with fd closed, -EBUSY
 * over max_connections (after a 503), -ESHUTDOWN while dad_proxy_free runs,
 * or -errno when the thread could not start.
 */
int dad_proxy_handle(struct dad_proxy *proxy, int fd, const struct sockaddr_in *client,
		     const struct sockaddr_in *orig_dst);

void dad_proxy_get_stats(struct dad_proxy *proxy, struct dad_proxy_stats *out);

/* Called for each open proxied connection: its name ("PLAYER:PORT ->
 * VIP:PORT") and when it started (Unix ms). Runs under the proxy's lock:
 * copy what you need and return; never call into the proxy. */
typedef void (*dad_proxy_stream_cb)(const char *name, uint64_t started_ms, void *arg);
void dad_proxy_each_stream(struct dad_proxy *proxy, dad_proxy_stream_cb cb, void *arg);

/* Shuts down every connection, waits for their threads and frees the proxy.
 * The gena passed to dad_proxy_new must outlive this call. NULL is allowed. */
void dad_proxy_free(struct dad_proxy *proxy);

/*
 * Runs one proxied connection over memory instead of sockets, with the
 * same code as a real connection: player_in is what the player sends,
 * server_in what the server responds, and what each side receives is
 * appended to player_out and server_out. piece > 0 splits both inputs into
 * reads of that many bytes. For golden transcripts and fuzzing. Returns 0
 * when the connection ended cleanly, or the -errno that ended it.
 */
int dad_proxy_transcript(struct dad_proxy *proxy, const struct sockaddr_in *client,
			 const struct sockaddr_in *orig_dst, const char *player_in,
			 size_t player_len, const char *server_in, size_t server_len, size_t piece,
			 struct http_rewrite_buf *player_out, struct http_rewrite_buf *server_out);

#endif
