/*
 * State of one Relay Server process, shared by the rs_*.c modules.
 * Everything here is touched only from the daemon's event loop.
 */
#ifndef RS_H
#define RS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"
#include "ntm_key.h"
#include "ntm_log.h"
#include "ntm_loop.h"
#include "ntm_ratelimit.h"
#include "rs_bind.h"
#include "rs_session.h"

#define RS_MAX_DCS 32
/* A [dc NAME] section's name: letters, digits, '.', '_' and '-'. */
#define RS_DC_NAME_MAX 63
#define RS_DEFAULT_PORT 47820
#define RS_ALLOC_DEFAULT_PORT 47821
#define RS_ADMIN_DEFAULT_PORT 47882

/* One DC allowed to allocate sessions. */
struct rs_dc_conf {
	char name[RS_DC_NAME_MAX + 1];
	uint8_t key[NTM_KEY_LEN];
	bool has_key;
};

struct rs_config {
	struct ntm_endpoint listen;
	struct ntm_endpoint public_endpoint;
	char *private_key_file;
	int log_level;
	uint64_t max_sessions;
	uint64_t max_sessions_per_dc;
	uint64_t max_pps_per_session;   /* 0: no limit */
	uint64_t idle_timeout_s;        /* for a RelayAllocate with idle_timeout_s 0 */
	uint64_t max_idle_timeout_s;    /* longer requests are shortened to this */
	struct ntm_endpoint alloc_listen;
	struct ntm_endpoint admin_listen;
	char *admin_token_file;
	char *admin_cert_file;          /* "" for plain HTTP */
	char *admin_key_file;
	struct rs_dc_conf dcs[RS_MAX_DCS];
	size_t n_dcs;
};

struct rs_counters {
	uint64_t drops[RS_DROP_COUNT];
	uint64_t forwarded_packets, forwarded_bytes;
	uint64_t send_errors;          /* forwarded packets the kernel did not take */
	uint64_t binds, rebinds;       /* accepted binds, and those that moved a side */
	uint64_t allocations;
	uint64_t refused_max_sessions, refused_max_sessions_per_dc;
	uint64_t refused_invalid;      /* RelayAllocate with invalid keys */
	uint64_t releases;             /* sessions ended by RelayRelease */
	uint64_t expirations;          /* sessions ended by the idle timeout */
	uint64_t zap_rejected;         /* connections with an unconfigured key */
	uint64_t alloc_dropped;        /* malformed or unexpected allocation messages */
};

struct rs_relay;
struct rs_alloc;

struct rs {
	struct rs_config cfg;
	const char *config_path;
	struct ntm_keypair key;
	struct ntm_loop *loop;
	struct ntm_admin *admin;
	struct rs_table *table;
	struct rs_relay *relay;
	struct rs_alloc *alloc;
	uint64_t boot_id;          /* random per process start, sent in RelayStatus */
	uint64_t started_ms;       /* monotonic */
	struct rs_counters counters;
	struct ntm_ratelimit drop_log;    /* peer-caused drops, at debug */
	struct ntm_ratelimit limit_log;   /* limits hit and rejected connections, at info */
	struct ntm_ratelimit event_log;   /* binds, moves and expirations, at info */
};

/* The limits of cfg in the session table's terms. */
struct rs_limits rs_limits_from_config(const struct rs_config *cfg);

/* rs_relay.c: the UDP socket for binds and relay data, and the expiry timer. */
int rs_relay_start(struct rs *rs, char *err, size_t err_size);
void rs_relay_stop(struct rs *rs);

/* rs_alloc.c: the ZeroMQ ROUTER the DCs allocate sessions on. */
int rs_alloc_start(struct rs *rs, char *err, size_t err_size);
void rs_alloc_stop(struct rs *rs);
/* Describes each configured DC (name, connected, sessions, counters). */
json_t *rs_alloc_dcs_json(struct rs *rs);

/* rs_admin.c */
int rs_admin_start(struct rs *rs, char *err, size_t err_size);

#endif
