/*
 * GENA eventing through the DLNA Agent (UPnP Device Architecture 1.1 and 2.0,
 * section 4). A server cannot reach a player's callback URL, so the proxy
 * replaces the CALLBACK of each SUBSCRIBE with a URL on the Agent's LAN
 * address, http://LAN_ADDR:PORT/gena/<token>. This module listens there,
 * matches each NOTIFY to its subscription (by token, or by SID), translates
 * its body real -> VIP and sends it on to the player: to the player's VIP
 * (the source address of the SUBSCRIBE connection) at the port and path of
 * the player's own callback URL, whatever host that URL named. When the
 * URL named another host, ops->callback_route passes the route to the
 * daemon, which requests the player's node to forward those connections.
 *
 * Threads: dad_gena_start runs one accept thread and one thread per NOTIFY
 * connection (bounded). Every function below may be called from any thread;
 * the subscription table has its own lock.
 */
#ifndef DAD_GENA_H
#define DAD_GENA_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_rewrite.h"

#define DAD_GENA_DEFAULT_SUBSCRIPTIONS 1024
#define DAD_GENA_DEFAULT_CONNECTIONS 64
#define DAD_GENA_DEFAULT_IO_TIMEOUT_MS 10000
#define DAD_GENA_DEFAULT_BODY_MAX (1024 * 1024)
/* Hex characters of a token: 16 random bytes. */
#define DAD_GENA_TOKEN_LEN 32
/* Size of the buffer for a replacement CALLBACK value, NUL included. */
#define DAD_GENA_CALLBACK_SIZE 96
/* Callback URLs kept per subscription (UPnP DA 1.1 section 4.1.2 allows a
 * list, tried in order). */
#define DAD_GENA_CALLBACKS_MAX 4

struct dad_gena_conf {
	struct in_addr lan_addr;       /* listening address, reachable by the servers */
	uint16_t port;                 /* 0: a free port chosen by the kernel */
	unsigned max_subscriptions;    /* 0: DAD_GENA_DEFAULT_SUBSCRIPTIONS */
	unsigned max_connections;      /* concurrent NOTIFY connections; 0: default */
	unsigned io_timeout_ms;        /* socket timeouts, both sides; 0: default */
	size_t body_max;               /* bytes of a NOTIFY body; 0: default */
	/* Sends each NOTIFY to the player from the server's VIP (bound with
	 * IP_FREEBIND), so the player's response comes back through the tunnel.
	 * When false the kernel picks the source address. */
	bool bind_server_vip;
};

/*
 * A forwarding request for a player's node, for a listener that put an
 * address other than the player's VIP in its CALLBACK: TCP from server_vip
 * to the player's VIP at port goes on to host.
 */
struct dad_gena_route {
	struct in_addr player;         /* the player's VIP */
	struct in_addr server_vip;     /* source of the NOTIFYs */
	struct in_addr host;           /* the CALLBACK URL's host */
	uint16_t port;                 /* the CALLBACK URL's port */
	uint32_t lifetime_s;           /* how long the subscription lasts, grace included */
};

struct dad_gena_ops {
	/*
	 * Copies the current {real, VIP} pairs into pairs (at most max) and
	 * returns how many it copied. Called from NOTIFY threads, possibly at
	 * the same time; it must take the daemon's own lock, return quickly and
	 * never call back into this module.
	 */
	size_t (*map_snapshot)(void *ctx, struct http_rewrite_pair *pairs, size_t max);
	/*
	 * Optional. Called when a subscription starts, is confirmed or renewed,
	 * and every minute while it lasts, once for each of its callback URLs
	 * whose host is an IPv4 address other than the player's VIP. Called from proxy threads without this
	 * module's lock; it must return quickly.
	 */
	void (*callback_route)(void *ctx, const struct dad_gena_route *route);
};

struct dad_gena_stats {
	uint64_t subscriptions;        /* in the table now, pending ones included */
	uint64_t subscribed;           /* confirmed by a server's SID */
	uint64_t renewed;
	uint64_t unsubscribed;
	uint64_t expired;
	uint64_t rejected_full;        /* SUBSCRIBE while the table was full */
	uint64_t notify_received;
	uint64_t notify_delivered;     /* the player responded 2xx */
	uint64_t notify_failed;        /* no callback URL of the player responded 2xx */
	uint64_t notify_unknown;       /* no subscription for the token or SID: 412 */
	uint64_t notify_invalid;       /* not a NOTIFY, malformed or too large */
	uint64_t rejected_busy;        /* over max_connections: 503 */
};

/* A SUBSCRIBE with a CALLBACK, as the proxy received it from a player. */
struct dad_gena_subscribe {
	struct in_addr player;          /* source address of the connection: the player's VIP */
	struct in_addr server_vip;      /* the VIP the player connected to */
	struct sockaddr_in server;      /* the server's real address and port */
	const char *callback;           /* CALLBACK value, "<http://...>" one or more */
	size_t callback_len;
};

struct dad_gena;

/* Binds conf->lan_addr:conf->port and starts the accept thread. Returns 0 and
 * sets *out, or -errno: -EINVAL without ops->map_snapshot, bind(2) errors,
 * -ENOMEM. */
int dad_gena_start(struct dad_gena **out, const struct dad_gena_conf *conf,
		   const struct dad_gena_ops *ops, void *ctx);
/* Stops accepting, shuts down NOTIFY connections in progress, waits for
 * their threads and frees everything. NULL is allowed. */
void dad_gena_stop(struct dad_gena *gena);
/* The port the listener is bound to. */
uint16_t dad_gena_port(const struct dad_gena *gena);
void dad_gena_get_stats(struct dad_gena *gena, struct dad_gena_stats *out);

/*
 * Creates a pending subscription for sub and writes the replacement
 * CALLBACK value into callback (NUL-terminated). *id identifies it for the
 * calls below. Returns 0, -EINVAL when sub->callback contains no http URL,
 * -ENOSPC when the table is full, or -ENOBUFS when callback_size is too
 * small. A pending subscription that is neither confirmed nor cancelled
 * expires after a minute.
 */
int dad_gena_subscribe_begin(struct dad_gena *gena, const struct dad_gena_subscribe *sub,
			     char *callback, size_t callback_size, uint64_t *id);
/* Stores the SID and TIMEOUT header values of the server's 200 response
 * (timeout may be NULL: 1800 s, the UPnP recommended minimum). */
void dad_gena_subscribe_confirm(struct dad_gena *gena, uint64_t id, const char *sid,
				size_t sid_len, const char *timeout, size_t timeout_len);
/* Drops a pending subscription whose SUBSCRIBE failed. */
void dad_gena_subscribe_cancel(struct dad_gena *gena, uint64_t id);
/* Extends the expiry after a renewal (SUBSCRIBE with SID) got 200. */
void dad_gena_renewed(struct dad_gena *gena, const char *sid, size_t sid_len,
		      const char *timeout, size_t timeout_len);
/* Drops a subscription after its UNSUBSCRIBE got 200 (or 412, no such
 * subscription). */
void dad_gena_unsubscribed(struct dad_gena *gena, const char *sid, size_t sid_len);

#endif
