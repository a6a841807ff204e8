/*
 * State of one ntm-ssdpd process, shared by the ssdp_*.c modules. Everything
 * here is touched only from the daemon's event loop.
 */
#ifndef SSDPD_H
#define SSDPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ntm_addr.h"
#include "ntm_log.h"
#include "ntm_loop.h"
#include "ntm_ratelimit.h"
#include "ssdp_cache.h"
#include "ssdp_net.h"

#define SSDPD_ADMIN_DEFAULT_PORT 47884
#define SSDPD_MAX_IGNORE_PREFIXES 8
/* Interfaces and addresses tracked for multicast membership and for telling
 * this host's own addresses apart. */
#define SSDPD_MAX_LOCAL_ADDRS 64
/* Period of the housekeeping tick in milliseconds. */
#define SSDPD_TICK_MS 1000
/* How often the interfaces and local addresses are read again, in ms. */
#define SSDPD_INTERFACE_CHECK_MS 5000

enum ssdpd_mode {
	SSDPD_MODE_PLAYER = 1,
	SSDPD_MODE_HOME,
};

struct ssdpd_config {
	char *mode_name;             /* "player" or "home" */
	enum ssdpd_mode mode;        /* from mode_name */
	int log_level;
	/* player mode */
	char *noded_ipc;
	char *agent_fqdn;
	/* home mode */
	char *lan_interface;
	char *lan_prefix_text;
	struct ntm_prefix lan_prefix;
	char *ipc;
	char *ignore_prefix_text;
	struct ntm_prefix ignore_prefixes[SSDPD_MAX_IGNORE_PREFIXES];
	size_t n_ignore_prefixes;
	uint64_t search_interval_s;
	/* [admin] */
	struct ntm_endpoint admin_listen;
	char *admin_token_file;
	char *admin_cert_file;        /* "" for plain HTTP */
	char *admin_key_file;
};

/* Events counted for GET /v1/status. */
enum ssdpd_counter {
	SSDPD_SEARCHES_CAUGHT,       /* player: M-SEARCHes of local applications */
	SSDPD_ANSWERS_SENT,          /* player: 200 OK answers sent to applications */
	SSDPD_NOTIFY_ALIVE_SENT,     /* player: ssdp:alive on lo */
	SSDPD_NOTIFY_BYEBYE_SENT,    /* player: ssdp:byebye on lo */
	SSDPD_TUNNEL_REQUESTS,       /* player: LocalTunnelRequests sent */
	SSDPD_MSEARCH_REQUESTS,      /* player: MSearchRequests sent through the tunnel */
	SSDPD_MSEARCH_RESPONSES,     /* player: MSearchResponses received */
	SSDPD_NOTIFY_RECEIVED,       /* home: NOTIFYs from LAN servers accepted */
	SSDPD_RESPONSES_RECEIVED,    /* home: 200 OK answers to our searches accepted */
	SSDPD_LAN_SEARCHES,          /* home: M-SEARCH datagrams sent on the LAN */
	SSDPD_IPC_SEARCHES,          /* home: LocalSsdpSearch requests answered */
	SSDPD_GONE_SENT,             /* home: LocalSsdpGone messages sent */
	SSDPD_COUNTER_COUNT,
};

/* Reasons a datagram or message is dropped; each has a counter. */
enum ssdpd_drop {
	SSDPD_DROP_MALFORMED,        /* not a well-formed SSDP message */
	SSDPD_DROP_BAD_SEARCH,       /* M-SEARCH without quoted MAN, valid MX or ST */
	SSDPD_DROP_NOT_LOCAL,        /* player: M-SEARCH from another host */
	SSDPD_DROP_OUTSIDE_PREFIX,   /* home: sender outside lan_prefix */
	SSDPD_DROP_OWN_ADDRESS,      /* no longer counted; kept so metric names stay */
	SSDPD_DROP_IGNORED_PREFIX,   /* home: LOCATION in an ignore_prefix */
	SSDPD_DROP_BAD_ANNOUNCEMENT, /* missing USN, target, LOCATION or max-age */
	SSDPD_DROP_WRONG_INTERFACE,  /* home: arrived on another interface */
	SSDPD_DROP_CACHE_FULL,
	SSDPD_DROP_BAD_ANSWER,       /* player: SsdpAnswer with invalid fields */
	SSDPD_DROP_BAD_IPC,          /* LocalMessage that is malformed or unexpected */
	SSDPD_DROP_COUNT,
};

struct ssdp_player;
struct ssdp_home;

struct ssdpd {
	struct ssdpd_config cfg;
	const char *config_path;
	struct ntm_loop *loop;
	struct ntm_admin *admin;
	void *zmq_ctx;
	struct ntm_timer *tick_timer;
	uint64_t last_interface_check_ms;

	int listen_fd;                    /* UDP 0.0.0.0:1900 */
	/* IPv4 addresses of the interfaces that are up, read again every
	 * SSDPD_INTERFACE_CHECK_MS. */
	struct ssdp_ifaddr ifaces[SSDPD_MAX_LOCAL_ADDRS];
	size_t n_ifaces;
	struct ssdp_cache cache;

	struct ssdp_player *player;
	struct ssdp_home *home;

	uint64_t counters[SSDPD_COUNTER_COUNT];
	uint64_t drops[SSDPD_DROP_COUNT];
	struct ntm_ratelimit drop_log;
};

/* Opens the sockets of the configured mode, the housekeeping tick and the
 * admin API on d->loop. Returns 0, or -1 with err set; then call
 * ssdpd_stop. */
int ssdpd_start(struct ssdpd *d, char *err, size_t err_size);
void ssdpd_stop(struct ssdpd *d);

const char *ssdpd_counter_str(enum ssdpd_counter c);
const char *ssdpd_drop_str(enum ssdpd_drop reason);
/* Counts a drop. */
void ssdpd_drop(struct ssdpd *d, enum ssdpd_drop reason);
/* True when ip is one of this host's addresses or in 127.0.0.0/8. */
bool ssdpd_is_local(const struct ssdpd *d, const struct ntm_ip *ip);
/* Logs a dropped datagram at debug level, rate-limited: the sender, then why. */
void ssdpd_log_drop(struct ssdpd *d, const struct ntm_endpoint *from, const char *why);

/* ssdp_player.c */
int ssdp_player_start(struct ssdpd *d, char *err, size_t err_size);
void ssdp_player_stop(struct ssdpd *d);
void ssdp_player_tick(struct ssdpd *d, uint64_t now_ms);
void ssdp_player_interfaces_changed(struct ssdpd *d);
/* Adds the player's state to GET /v1/status. */
void ssdp_player_status(struct ssdpd *d, json_t *status);

/* ssdp_home.c */
int ssdp_home_start(struct ssdpd *d, char *err, size_t err_size);
void ssdp_home_stop(struct ssdpd *d);
void ssdp_home_tick(struct ssdpd *d, uint64_t now_ms);
void ssdp_home_interfaces_changed(struct ssdpd *d);
void ssdp_home_status(struct ssdpd *d, json_t *status);

/* ssdp_admin.c */
int ssdp_admin_start(struct ssdpd *d, char *err, size_t err_size);

#endif
