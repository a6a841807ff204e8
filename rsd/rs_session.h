/*
 * The Relay Server's session table: one session per RelayAllocate a DC made,
 * found by its random 64-bit id. Limits on live sessions apply in total and
 * per DC. An ended session (idle, released) stays as a tombstone for
 * RS_TOMBSTONE_MS, so packets still arriving for it count as "expired"
 * rather than "unknown session". The table does no I/O and takes the time
 * as an argument, so tests drive it directly.
 */
#ifndef RS_SESSION_H
#define RS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ntm_addr.h"
#include "ntm_key.h"
#include "ntm_ratelimit.h"
#include "ntm_relay.h"

/* How long an ended session is remembered, in milliseconds. */
#define RS_TOMBSTONE_MS 30000

enum rs_side {
	RS_SIDE_A = 0,
	RS_SIDE_B = 1,
};

enum rs_end_reason {
	RS_END_NONE = 0,    /* live */
	RS_END_IDLE,        /* idle_timeout without an accepted bind or forwarded packet */
	RS_END_RELEASED,    /* RelayRelease from a DC */
	RS_END_SHUTDOWN,
};

/* One node of a session: its key, credential and bound address. */
struct rs_side_state {
	uint8_t key[NTM_KEY_LEN];
	uint8_t credential[NTM_RELAY_CREDENTIAL_LEN];
	struct ntm_endpoint bound;           /* ip.len 0 while unbound */
	struct sockaddr_storage bound_sa;    /* the same, ready for sendmmsg */
	socklen_t bound_sa_len;
	uint64_t last_timestamp_ms;          /* of the last accepted bind */
	uint64_t binds;                      /* accepted binds */
	uint64_t packets, bytes;             /* forwarded from this side to the other */
};

struct rs_session {
	uint64_t id;
	struct rs_side_state side[2];
	unsigned dc;                 /* index of the allocating DC in the configuration */
	uint64_t idle_timeout_ms;
	uint64_t created_ms;         /* monotonic */
	uint64_t last_active_ms;     /* monotonic: allocation, accepted bind or forwarded packet */
	uint64_t expires_wall_ms;    /* Unix ms told to the DC: allocation + idle timeout */
	uint64_t ended_ms;           /* monotonic, 0 while live */
	enum rs_end_reason end_reason;
	struct ntm_ratelimit pps;    /* packets per second the session may forward */

	struct rs_session *hash_next;
	struct rs_session *prev, *next;   /* in the live list or the tombstone list */
};

/* Session limits. A max_pps of 0 means no packet rate limit. */
struct rs_limits {
	uint64_t max_sessions;
	uint64_t max_sessions_per_dc;
	uint64_t max_pps;
};

enum rs_alloc_status {
	RS_ALLOC_OK = 0,
	RS_ALLOC_LIMIT_TOTAL,    /* max_sessions live sessions exist */
	RS_ALLOC_LIMIT_DC,       /* this DC holds max_sessions_per_dc */
	RS_ALLOC_INVALID,        /* both keys are equal, or dc is out of range */
	RS_ALLOC_NO_MEMORY,
};

struct rs_table;

/* Creates a table for n_dcs configured DCs. Returns NULL without memory. */
struct rs_table *rs_table_new(size_t n_dcs, const struct rs_limits *limits);
/* Wipes every credential and frees the table. */
void rs_table_free(struct rs_table *t);
/* Applies new limits. Live sessions above a lowered limit stay. */
void rs_table_set_limits(struct rs_table *t, const struct rs_limits *limits);

/*
 * Creates a session with a random nonzero id and a random 32-byte secret,
 * which goes to secret_out for the DC. The table keeps only the two derived
 * credentials. The caller wipes secret_out. Returns RS_ALLOC_OK with *out
 * set, or the reason it rejected the request.
 */
enum rs_alloc_status rs_table_allocate(struct rs_table *t, unsigned dc,
				       const uint8_t key_a[NTM_KEY_LEN],
				       const uint8_t key_b[NTM_KEY_LEN], uint64_t idle_timeout_ms,
				       uint64_t now_ms, uint64_t now_wall_ms,
				       uint8_t secret_out[NTM_RELAY_SECRET_LEN],
				       struct rs_session **out);

/* Finds a live session or a tombstone by id, or returns NULL. */
struct rs_session *rs_table_find(struct rs_table *t, uint64_t id);

/* True while the session is live and has not been idle for its timeout. */
bool rs_session_live(const struct rs_session *s, uint64_t now_ms);

/* Ends a live session: wipes its credentials and keeps it as a tombstone. */
void rs_table_end(struct rs_table *t, struct rs_session *s, enum rs_end_reason why,
		  uint64_t now_ms);

/* Ends every live session that has key as node a or b, of any DC. Returns
 * how many ended. */
size_t rs_table_release_key(struct rs_table *t, const uint8_t key[NTM_KEY_LEN], uint64_t now_ms);

/* Called for each session rs_table_expire ends. */
typedef void (*rs_expire_cb)(const struct rs_session *s, void *arg);

/* Ends the sessions idle for their timeout and frees tombstones older than
 * RS_TOMBSTONE_MS. Returns how many sessions ended. cb may be NULL. */
size_t rs_table_expire(struct rs_table *t, uint64_t now_ms, rs_expire_cb cb, void *arg);

/* Live sessions in total and of one DC. */
size_t rs_table_count(const struct rs_table *t);
size_t rs_table_count_dc(const struct rs_table *t, unsigned dc);

/* Live sessions, newest first: first, then next until NULL. */
struct rs_session *rs_table_first(struct rs_table *t);
struct rs_session *rs_table_next(const struct rs_session *s);

/* Records an accepted bind of side from ep, and refreshes the activity time.
 * Returns true when the side was bound to another address before. */
bool rs_session_bind(struct rs_session *s, enum rs_side side, const struct ntm_endpoint *ep,
		     uint64_t timestamp_ms, uint64_t now_ms);

#endif
