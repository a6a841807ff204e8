/*
 * Player mode, shared by its two halves. ssdp_player.c catches the local
 * applications' M-SEARCHes, answers them and announces the remote servers
 * on lo. ssdp_player_ipc.c requests the tunnel to the DLNA Agent from
 * ntm-noded and sends the searches through it.
 */
#ifndef SSDP_PLAYER_H
#define SSDP_PLAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "control.pb-c.h"
#include "ntm_msg.h"
#include "ssdpd.h"

/* Maximum number of search targets tracked. When all are in use, the least
 * recently searched one is replaced. */
#define PLAYER_MAX_SEARCHES 32
/* Application searches waiting for the first answers. */
#define PLAYER_MAX_PENDING 64
#define PLAYER_MAX_VIP_SOCKETS 64

/* One search target the local applications searched for. */
struct player_search {
	char st[NTM_SEARCH_TARGET_MAX + 1];
	unsigned mx;
	uint64_t last_app_ms;    /* monotonic: an application's last M-SEARCH */
	uint64_t last_sent_ms;   /* monotonic: the last MSearchRequest, 0 for never */
	uint64_t request_id;     /* of that MSearchRequest */
	bool answered;           /* an MSearchResponse to it arrived */
};

/* An application's M-SEARCH that nothing answered yet. */
struct player_pending {
	struct ntm_endpoint app;
	char st[NTM_SEARCH_TARGET_MAX + 1];
	uint64_t deadline_ms;    /* MX seconds after it arrived */
};

#define PLAYER_MAX_DIRECT 32
#ifndef SSDP_UDN_MAX
#define SSDP_UDN_MAX 128
#endif

struct player_vip_socket {
	struct ntm_ip vip;
	int fd;
};

enum player_tunnel {
	PLAYER_TUNNEL_DOWN,
	PLAYER_TUNNEL_REQUESTED,
	PLAYER_TUNNEL_UP,
};

struct ssdp_player {
	/* ntm-noded connection */
	void *dealer;
	void *monitor;
	bool noded_ready;             /* connected and LocalHello sent */
	bool tunnel_was_up;           /* up when ntm-noded went away: ask again */
	enum player_tunnel tunnel;
	uint64_t tunnel_request_id;
	uint64_t tunnel_changed_ms;   /* monotonic: last change of tunnel */
	struct ntm_ip agent_vip;
	uint64_t next_request_id;

	struct player_search searches[PLAYER_MAX_SEARCHES];
	size_t n_searches;
	struct player_pending pending[PLAYER_MAX_PENDING];
	size_t n_pending;
	struct player_vip_socket vip_sockets[PLAYER_MAX_VIP_SOCKETS];
	size_t n_vip_sockets;
	unsigned joined[SSDPD_MAX_LOCAL_ADDRS];   /* ifindexes with membership */
	size_t n_joined;

	/* Servers this host hears announce themselves on a LAN it is on (the
	 * player came home): their VIP copies are withdrawn, so an application
	 * sees each server once, at its real address. */
	struct player_direct {
		char udn[SSDP_UDN_MAX];
		uint64_t until_ms;           /* monotonic: the announcement's max-age */
	} direct[PLAYER_MAX_DIRECT];
	size_t n_direct;
};

/* ssdp_player_ipc.c */
int ssdp_player_ipc_start(struct ssdpd *d, char *err, size_t err_size);
void ssdp_player_ipc_stop(struct ssdpd *d);
void ssdp_player_ipc_tick(struct ssdpd *d, uint64_t now_ms);
/* Sends s's MSearchRequest through the tunnel. While the tunnel is not up,
 * requests it instead, and the search follows once it is up. */
void ssdp_player_request_search(struct ssdpd *d, struct player_search *s, uint64_t now_ms);
const char *ssdp_player_tunnel_str(enum player_tunnel t);

/* ssdp_player.c, called by the IPC half */
void ssdp_player_add_answers(struct ssdpd *d, const Ntm__MSearchResponse *r, uint64_t now_ms);
/* The tunnel came up: sends the searches applications are waiting for. */
void ssdp_player_tunnel_up(struct ssdpd *d, uint64_t now_ms);
/* The tunnel is gone: sends ssdp:byebye for every remote server and
 * empties the cache. */
void ssdp_player_tunnel_lost(struct ssdpd *d, const char *why);

#endif
