/*
 * State of one DLNA Agent process (ntm-dad). The event loop owns it; the
 * proxy threads read the server table only through dad_servers_*, which
 * lock it.
 */
#ifndef DAD_H
#define DAD_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dad_gena.h"
#include "ntm_addr.h"
#include "ntm_log.h"
#include "ntm_loop.h"
#include "ntm_msg.h"
#include "ntm_ratelimit.h"

#define DAD_MAX_SERVERS NTM_MAX_POOL_VIPS
#define DAD_MAX_ALLOW 32
#define DAD_UDN_MAX 128
#define DAD_PROXY_DEFAULT_PORT 47890
#define DAD_ADMIN_DEFAULT_PORT 47883

struct dad_config {
	char *lan_interface;
	struct ntm_ip lan_address;         /* the Agent's own IPv4 address on the LAN */
	char *tun_interface;
	uint64_t vip_count;
	char *state_file;
	char *allow;                       /* comma-separated FQDNs or domains */
	char *noded_ipc;
	char *ssdpd_ipc;
	uint64_t proxy_port;
	uint64_t max_connections;
	int log_level;
	struct ntm_endpoint admin_listen;
	char *admin_token_file;
	char *admin_cert_file;             /* "" for plain HTTP */
	char *admin_key_file;
};

/* One home media server, named by its UDN. */
struct dad_server {
	char udn[DAD_UDN_MAX];
	struct ntm_ip real;
	struct ntm_ip vip;
	char location[512];                /* LOCATION as the server sent it */
	char friendly_name[128];           /* from its device description, "" until read */
	uint64_t last_seen_ms;             /* Unix ms */
	bool gone;                         /* sent ssdp:byebye or expired */
};

struct dad_servers {
	pthread_mutex_t lock;
	struct dad_server list[DAD_MAX_SERVERS];
	size_t n;
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n_pool;
	const char *state_file;
};

/* A player node allowed to use the Agent, by its VIP, learned from its
 * M-SEARCH Request (which names its FQDN). */
struct dad_player {
	struct ntm_ip vip;
	char fqdn[NTM_FQDN_MAX + 1];
	uint64_t last_seen_ms;
};

#define DAD_MAX_PLAYERS 64
/* GENA callback routes waiting for the event loop to send them. */
#define DAD_MAX_QUEUED_ROUTES 1024

struct dad_ipc;
struct dad_proxy;
struct ntm_admin;

struct dad {
	struct dad_config cfg;
	const char *config_path;
	struct ntm_loop *loop;
	struct ntm_admin *admin;
	struct dad_ipc *ipc;
	struct dad_proxy *proxy;
	struct dad_servers servers;
	char allow[DAD_MAX_ALLOW][NTM_FQDN_MAX + 1];
	size_t n_allow;
	pthread_mutex_t players_lock;
	struct dad_player players[DAD_MAX_PLAYERS];
	size_t n_players;
	int listen_fd;
	bool redirect_installed;
	/* Filled by proxy threads, sent to the players' nodes by the loop;
	 * routes_fd (an eventfd) wakes the loop. */
	pthread_mutex_t routes_lock;
	struct dad_gena_route routes[DAD_MAX_QUEUED_ROUTES];
	size_t n_routes;
	int routes_fd;
	uint64_t routes_sent, routes_dropped;
	struct ntm_ratelimit routes_log;   /* event loop only */
	uint64_t searches, refused_nodes, refused_connections, accepted;
};

/* dad_servers.c */
int dad_servers_init(struct dad_servers *s, const char *state_file, char *err, size_t err_size);
void dad_servers_set_pool(struct dad_servers *s, const struct ntm_ip *pool, size_t n);
/* Finds or adds the server with this UDN at real and returns its VIP in *vip.
 * Returns 0, or -ENOSPC when the pool has no free VIP. */
int dad_servers_map(struct dad_servers *s, const char *udn, const struct ntm_ip *real,
		    const char *location, struct ntm_ip *vip);
/* VIP -> real address of a discovered server. Thread-safe. */
bool dad_servers_real(struct dad_servers *s, const struct ntm_ip *vip, struct ntm_ip *real);
/* Copies every (real, VIP) pair into out; returns how many. Thread-safe. */
size_t dad_servers_pairs(struct dad_servers *s, struct ntm_ip *real, struct ntm_ip *vip,
			 size_t max);
void dad_servers_gone(struct dad_servers *s, const char *udn);
void dad_servers_destroy(struct dad_servers *s);

/* dad.c helpers shared by modules */
bool dad_node_allowed(const struct dad *dad, const char *fqdn);
void dad_player_seen(struct dad *dad, const char *fqdn, const struct ntm_ip *vip);
bool dad_player_allowed(struct dad *dad, const struct ntm_ip *vip);

/* dad_ipc.c */
int dad_ipc_start(struct dad *dad, char *err, size_t err_size);
void dad_ipc_stop(struct dad *dad);
/* Queues a GENA callback route for the player's node; any thread. */
void dad_ipc_queue_route(struct dad *dad, const struct dad_gena_route *route);

/* dad_redirect.c: nftables redirect of pool VIP traffic to the proxy */
int dad_redirect_install(struct dad *dad, char *err, size_t err_size);
void dad_redirect_remove(struct dad *dad);

#endif
