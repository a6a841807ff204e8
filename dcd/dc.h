/*
 * State of one Direction Coordinator process, shared by the dc_*.c modules.
 * Everything here is touched only from the daemon's event loop.
 */
#ifndef DC_H
#define DC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.pb-c.h"
#include "dc_store.h"
#include "ntm_addr.h"
#include "ntm_codec.h"
#include "ntm_key.h"
#include "ntm_log.h"
#include "ntm_loop.h"
#include "ntm_ratelimit.h"
#include "ntm_replay.h"

#define DC_MAX_FED_PEERS 32
#define DC_MAX_RELAYS 8
/* Largest VIP pool a node may hold (see handle_pool_request). */
#define DC_MAX_POOL 128
#define DC_DEFAULT_PORT 47800
#define DC_FED_DEFAULT_PORT 47810
#define DC_ADMIN_DEFAULT_PORT 47880

struct dc_fed_peer_conf {
	char domain[NTM_FQDN_MAX + 1];
	struct ntm_endpoint endpoint;
	uint8_t key[NTM_KEY_LEN];
	bool has_endpoint, has_key;
};

struct dc_relay_conf {
	char name[64];
	struct ntm_endpoint endpoint;     /* the RS's allocation socket */
	uint8_t key[NTM_KEY_LEN];
	bool has_endpoint, has_key;
};

struct dc_config {
	char *domain;
	struct ntm_endpoint listen;
	char *private_key_file;
	char *database;
	struct ntm_prefix vip_prefix;
	uint64_t keepalive_interval_s;
	uint64_t offline_after_s;
	int log_level;
	struct ntm_endpoint admin_listen;
	char *admin_token_file;
	char *admin_cert_file;   /* "" for plain HTTP */
	char *admin_key_file;
	char *fed_listen;   /* "" when federation is off */
	struct dc_fed_peer_conf peers[DC_MAX_FED_PEERS];
	size_t n_peers;
	struct dc_relay_conf relays[DC_MAX_RELAYS];
	size_t n_relays;
};

/* In-memory companion of one enrolled node: its control keys and session. */
struct dc_session {
	struct dc_node node;          /* copy of the stored record */
	struct ntm_ctl_keys keys;
	struct ntm_replay window;
	bool registered;              /* registered since this process started */
	/* request_ids of the last Direction Requests, so a retransmitted one
	 * does not start a second direction. */
	uint64_t direction_rids[4];
	unsigned direction_rid_next;
	/* Direction Requests of this node, which each cost a store lookup, two
	 * Route Directions and perhaps a relay allocation. */
	struct ntm_ratelimit direction_limit;
	uint64_t last_seen_mono_ms;
};

/* Reasons a received packet is dropped; each has a counter. */
enum dc_drop {
	DC_DROP_MALFORMED_PACKET,
	DC_DROP_UNKNOWN_KEY,
	DC_DROP_AUTH_FAILED,
	DC_DROP_REPLAYED,
	DC_DROP_BAD_MESSAGE,
	DC_DROP_UNEXPECTED,
	DC_DROP_COUNT,
};

/* Route Directions kept for GET /v1/directions, newest overwriting oldest. */
#define DC_DIRECTION_LOG 128

/* One direction this DC decided: who asked for a tunnel to whom, the route
 * case and relay, and which of the two nodes acked it. A federated peer acks
 * to its own DC, so its peer_acked stays false here. */
struct dc_direction_rec {
	uint64_t direction_id;
	uint64_t at_ms;                              /* Unix milliseconds */
	uint8_t requester[NTM_KEY_LEN], peer[NTM_KEY_LEN];
	char requester_fqdn[NTM_FQDN_MAX + 1], peer_fqdn[NTM_FQDN_MAX + 1];
	char peer_domain[NTM_FQDN_MAX + 1];
	Ntm__RouteCase route;
	bool requester_initiates;
	uint64_t relay_session_id;                   /* 0 without a relay */
	bool requester_acked, peer_acked;
};

struct dc_pending;
struct dc_fed;
struct dc_fed_query;
struct dc_relays;

struct dc {
	struct dc_config cfg;
	const char *config_path;
	struct ntm_keypair key;
	struct dc_store *store;
	struct ntm_loop *loop;
	struct ntm_admin *admin;
	struct dc_fed *fed;
	struct dc_relays *relays;
	int udp_fd;
	uint64_t send_counter;

	struct dc_session **sessions;   /* sorted by key */
	size_t n_sessions, cap_sessions;

	struct dc_pending *pending;     /* Route Directions awaiting their ack */

	uint64_t drops[DC_DROP_COUNT];
	uint64_t registrations;
	uint64_t enrolments, revocations;   /* through the admin API */
	uint64_t directions;
	uint64_t directions_limited;    /* Direction Requests responded to with LIMIT */
	struct dc_direction_rec direction_log[DC_DIRECTION_LOG];   /* index directions % N */
	struct ntm_ratelimit drop_log;
};

/* dc_core.c */
int dc_core_start(struct dc *dc, char *err, size_t err_size);
void dc_core_stop(struct dc *dc);
struct dc_session *dc_session_find(struct dc *dc, const uint8_t key[NTM_KEY_LEN]);
/* Adds a session for a newly enrolled node. Returns 0 or -errno. */
int dc_session_add(struct dc *dc, const struct dc_node *node);
/* Tells the node it is revoked and forgets its session. */
void dc_session_revoke(struct dc *dc, const uint8_t key[NTM_KEY_LEN]);
/* Seals env for the session's node and sends it to its observed endpoint. */
int dc_send(struct dc *dc, struct dc_session *s, const Ntm__Envelope *env);
/* Seals an already packed Envelope and sends it like dc_send. */
int dc_send_packed(struct dc *dc, struct dc_session *s, const uint8_t *plain, size_t plain_len);
int dc_send_error(struct dc *dc, struct dc_session *s, uint64_t request_id, Ntm__ErrorCode code,
		  const char *message);
const char *dc_drop_str(enum dc_drop reason);

/* Completion of a Route Direction sent on behalf of a federated DC. */
typedef void (*dc_ack_cb)(struct dc *dc, uint64_t direction_id, Ntm__ErrorCode error, void *arg);
/*
 * Sends a Route Direction to a node of this DC and retransmits it until the
 * node acks (cb with ERROR_CODE_UNSPECIFIED) or the tries run out (cb with
 * ERROR_CODE_TIMEOUT). cb may be NULL.
 */
int dc_direct_local(struct dc *dc, struct dc_session *s, uint64_t request_id,
		    const Ntm__RouteDirection *rd, dc_ack_cb cb, void *arg);

/* dc_record.c: conversions between struct dc_node and protobuf records. */
struct dc_record_pb {
	Ntm__NtmRecord msg;
	Ntm__Endpoint local[NTM_MAX_LOCAL_ENDPOINTS];
	Ntm__Endpoint *local_ptrs[NTM_MAX_LOCAL_ENDPOINTS];
	Ntm__Endpoint observed;
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	ProtobufCBinaryData pool_bytes[NTM_MAX_POOL_VIPS];
	struct dc_node node;
	char domain[NTM_FQDN_MAX + 1];
};

/* Fills out from node (copied into out) and the pool VIPs in the store when
 * store is not NULL. out must not move while out->msg is in use. */
void dc_record_to_pb(struct dc_record_pb *out, const struct dc_node *node, const char *domain,
		     struct dc_store *store);
/* Converts a validated record message. Returns 0 or -EINVAL. */
int dc_record_from_pb(struct dc_node *node, char *domain, size_t domain_size,
		      const Ntm__NtmRecord *msg);

/* True when fqdn is domain itself or a name under it. */
bool dc_fqdn_in_domain(const char *fqdn, const char *domain);

/* dc_query.c */
void dc_handle_query(struct dc *dc, struct dc_session *s, uint64_t request_id,
		     const Ntm__NtmQuery *q);
/* Looks up a record this DC owns, by FQDN or VIP. */
enum dc_store_status dc_lookup_local(struct dc *dc, const Ntm__NtmQuery *q, struct dc_node *out);

/* dc_direction.c */
void dc_handle_direction_request(struct dc *dc, struct dc_session *s, uint64_t request_id,
				 const Ntm__DirectionRequest *req);
void dc_handle_route_ack(struct dc *dc, struct dc_session *s, uint64_t direction_id);
void dc_pending_tick(struct dc *dc);
/* Directs a tunnel between two nodes of this DC again, as if a asked for b
 * (an RS restarted and lost their relay session). */
void dc_direct_pair(struct dc *dc, const uint8_t a[NTM_KEY_LEN], const uint8_t b[NTM_KEY_LEN]);
void dc_pending_drop_key(struct dc *dc, const uint8_t key[NTM_KEY_LEN]);
void dc_pending_free_all(struct dc *dc);

/* dc_admin.c */
int dc_admin_start(struct dc *dc, char *err, size_t err_size);

#endif
