/*
 * Persistent state of the Direction Coordinator in SQLite: enrolled node
 * keys, their NTM records and every VIP with its owner. WAL journal,
 * prepared statements only, schema version in PRAGMA user_version with
 * migrations applied at open.
 */
#ifndef DC_STORE_H
#define DC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"
#include "ntm_key.h"
#include "ntm_msg.h"

enum dc_store_status {
	DC_STORE_OK = 0,
	DC_STORE_NOT_FOUND,
	DC_STORE_EXISTS,     /* the key or FQDN is already enrolled */
	DC_STORE_FULL,       /* no free VIP left in the prefix */
	DC_STORE_ERROR,      /* SQLite failed; logged with the statement */
};

const char *dc_store_status_str(enum dc_store_status st);

/* One enrolled node and its NTM record. */
struct dc_node {
	uint8_t key[NTM_KEY_LEN];
	char fqdn[NTM_FQDN_MAX + 1];
	struct ntm_ip vip;
	struct ntm_endpoint local[NTM_MAX_LOCAL_ENDPOINTS];
	size_t n_local;
	struct ntm_endpoint observed;     /* port 0 and ip.len 0 until the first registration */
	bool behind_nat;
	bool online;
	uint64_t last_seen_ms;            /* Unix milliseconds, 0 when never seen */
	uint64_t enrolled_ms;             /* Unix milliseconds */
	/* Highest control counter of a packet that changed this record; after a
	 * restart the DC rejects counters at or below it (docs/protocol.md,
	 * "Replay protection"). */
	uint64_t counter_floor;
};

struct dc_store;

/*
 * Opens or creates the database at path (":memory:" for tests) and migrates
 * it. New VIPs are the lowest free addresses of vip_prefix. Its second
 * address (index 1) is the DC's own VIP and is never assigned; neither are
 * the first address of a prefix with more than 2 addresses and the last
 * address of an IPv4 prefix of /30 or shorter. Returns NULL with err set.
 */
struct dc_store *dc_store_open(const char *path, const struct ntm_prefix *vip_prefix,
			       char *err, size_t err_size);
void dc_store_close(struct dc_store *st);

/* Enrols key under fqdn and assigns its VIP. Fills *out on success. */
enum dc_store_status dc_store_enrol(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
				    const char *fqdn, struct dc_node *out);
/* Deletes the node, its record and all its VIPs (own and pool). */
enum dc_store_status dc_store_revoke(struct dc_store *st, const uint8_t key[NTM_KEY_LEN]);

enum dc_store_status dc_store_get_by_key(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					 struct dc_node *out);
enum dc_store_status dc_store_get_by_fqdn(struct dc_store *st, const char *fqdn,
					  struct dc_node *out);
/* Finds the owner of vip: the node whose own VIP it is, or whose pool holds it. */
enum dc_store_status dc_store_get_by_vip(struct dc_store *st, const struct ntm_ip *vip,
					 struct dc_node *out);

/* Writes the record fields (local, observed, behind_nat, online, last_seen_ms,
 * counter_floor) of an enrolled node in one transaction. */
enum dc_store_status dc_store_update_record(struct dc_store *st, const struct dc_node *node);

/*
 * Makes the node's pool hold count VIPs in all (1..NTM_MAX_POOL_VIPS): keeps
 * the ones it has, adds free ones, never shrinks. Writes the pool, in
 * ascending address order, to vips (room for max) and its size to *n.
 */
enum dc_store_status dc_store_pool_grant(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					 uint32_t count, struct ntm_ip *vips, size_t max, size_t *n);
enum dc_store_status dc_store_pool_list(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					struct ntm_ip *vips, size_t max, size_t *n);

/* Called for each node by dc_store_list; return nonzero to stop early. */
typedef int (*dc_store_node_cb)(const struct dc_node *node, void *arg);

/*
 * Lists nodes ordered by FQDN. online: -1 for all, 0 offline only, 1 online
 * only. Skips offset nodes, calls cb for at most limit (0 = no limit), and
 * stores the number matching the filter in *total.
 */
enum dc_store_status dc_store_list(struct dc_store *st, int online, size_t offset, size_t limit,
				   dc_store_node_cb cb, void *arg, size_t *total);

#endif
