/*
 * SQLite store of the Direction Coordinator (see dc_store.h).
 *
 * One connection, used only from the DC's event loop thread. Every statement
 * is prepared once at open and reset after each use. Values are always bound,
 * never pasted into SQL text.
 *
 * Column encodings:
 *   key              32-byte X25519 public key
 *   vip, observed_ip 4 or 16 bytes in network byte order, so that blob order
 *                    (memcmp) is numeric order for addresses of one family
 *   local_endpoints  up to NTM_MAX_LOCAL_ENDPOINTS entries of
 *                    u8 ip length (4 or 16), ip bytes, u16 port big endian
 *   *_ms, counter_floor
 *                    the u64 value's bit pattern as SQLite's signed 64-bit
 *                    INTEGER, so UINT64_MAX reads back as -1 in the sqlite3
 *                    shell but round-trips exactly through this file
 */
#include "dc_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ntm_log.h"
#include "ntm_time.h"

/* Wait this long for a lock held by another connection (sqlite3 shell,
 * backup) before a statement fails with SQLITE_BUSY. */
#define STORE_BUSY_TIMEOUT_MS 2000

/* Index 1 of the VIP prefix is the DC's own address, never a node's. */
#define VIP_INDEX_DC 1

/* Bytes of one encoded local endpoint at most: length, IPv6 address, port. */
#define ENDPOINT_ENC_MAX (1 + 16 + 2)

/* Room for a log subject: "node 'FQDN' (key ID)" with every byte of the FQDN
 * possibly escaped as \xNN by ntm_log_sanitize. */
#define WHO_MAX (NTM_FQDN_MAX * 4 + 32)

/*
 * Schema migrations. Script i takes a database from user_version i to i + 1
 * and runs in one transaction with the version bump, so a crash leaves either
 * the old or the new schema. Append new scripts, never edit old ones.
 */
static const char *const store_migrations[] = {
	/* Version 1. FQDNs compare case-insensitively for ASCII, as DNS names
	 * do (RFC 4343), so "Agent.example" and "agent.example" are one node. */
	"CREATE TABLE nodes ("
	"  key BLOB PRIMARY KEY CHECK (length(key) = 32),"
	"  fqdn TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  enrolled_ms INTEGER,"
	"  local_endpoints BLOB,"
	"  observed_ip BLOB,"
	"  observed_port INTEGER,"
	"  behind_nat INTEGER,"
	"  online INTEGER,"
	"  last_seen_ms INTEGER,"
	"  counter_floor INTEGER);"
	"CREATE TABLE vips ("
	"  vip BLOB PRIMARY KEY,"
	"  owner BLOB NOT NULL REFERENCES nodes (key) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('node', 'pool')));"
	"CREATE INDEX vips_owner ON vips (owner);"
	"PRAGMA user_version = 1;",
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

/* Columns read by node_from_row, in this order; v is the node's own VIP. */
#define NODE_COLUMNS                                                                  \
	"n.key, n.fqdn, n.enrolled_ms, n.local_endpoints, n.observed_ip, "           \
	"n.observed_port, n.behind_nat, n.online, n.last_seen_ms, n.counter_floor, " \
	"v.vip "
#define NODE_FROM "FROM nodes n LEFT JOIN vips v ON v.owner = n.key AND v.kind = 'node' "

enum node_column {
	COL_KEY,
	COL_FQDN,
	COL_ENROLLED_MS,
	COL_LOCAL,
	COL_OBSERVED_IP,
	COL_OBSERVED_PORT,
	COL_BEHIND_NAT,
	COL_ONLINE,
	COL_LAST_SEEN_MS,
	COL_COUNTER_FLOOR,
	COL_VIP,
};

enum store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_NODE_BY_KEY,
	STMT_NODE_BY_FQDN,
	STMT_NODE_BY_VIP,
	STMT_FQDN_OF_KEY,
	STMT_KEY_OF_FQDN,
	STMT_NODE_INSERT,
	STMT_NODE_DELETE,
	STMT_NODE_UPDATE,
	STMT_VIP_INSERT_NODE,
	STMT_VIP_INSERT_POOL,
	STMT_VIP_USED,
	STMT_POOL_COUNT,
	STMT_POOL_LIST,
	STMT_LIST,
	STMT_LIST_COUNT,
	STMT_COUNT,
};

static const char *const store_sql[STMT_COUNT] = {
	/* IMMEDIATE takes the write lock at BEGIN, so another connection's write
	 * makes BEGIN wait (busy timeout) rather than a later statement fail. */
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_NODE_BY_KEY] = "SELECT " NODE_COLUMNS NODE_FROM "WHERE n.key = ?1",
	[STMT_NODE_BY_FQDN] = "SELECT " NODE_COLUMNS NODE_FROM "WHERE n.fqdn = ?1",
	[STMT_NODE_BY_VIP] = "SELECT " NODE_COLUMNS
			     "FROM vips p JOIN nodes n ON n.key = p.owner "
			     "LEFT JOIN vips v ON v.owner = n.key AND v.kind = 'node' "
			     "WHERE p.vip = ?1",
	[STMT_FQDN_OF_KEY] = "SELECT fqdn FROM nodes WHERE key = ?1",
	[STMT_KEY_OF_FQDN] = "SELECT key FROM nodes WHERE fqdn = ?1",
	[STMT_NODE_INSERT] = "INSERT INTO nodes (key, fqdn, enrolled_ms, local_endpoints, "
			     "observed_ip, observed_port, behind_nat, online, last_seen_ms, "
			     "counter_floor) VALUES (?1, ?2, ?3, NULL, NULL, 0, 0, 0, 0, 0)",
	[STMT_NODE_DELETE] = "DELETE FROM nodes WHERE key = ?1",
	[STMT_NODE_UPDATE] = "UPDATE nodes SET local_endpoints = ?2, observed_ip = ?3, "
			     "observed_port = ?4, behind_nat = ?5, online = ?6, "
			     "last_seen_ms = ?7, counter_floor = ?8 WHERE key = ?1",
	[STMT_VIP_INSERT_NODE] = "INSERT INTO vips (vip, owner, kind) VALUES (?1, ?2, 'node')",
	[STMT_VIP_INSERT_POOL] = "INSERT INTO vips (vip, owner, kind) VALUES (?1, ?2, 'pool')",
	/* Same-length blobs sort as numbers; the lower bound lets SQLite seek
	 * in the primary key index to the start of the prefix. */
	[STMT_VIP_USED] = "SELECT vip FROM vips WHERE vip >= ?2 AND length(vip) = ?1 ORDER BY vip",
	[STMT_POOL_COUNT] = "SELECT count(*) FROM vips WHERE owner = ?1 AND kind = 'pool'",
	[STMT_POOL_LIST] = "SELECT vip FROM vips WHERE owner = ?1 AND kind = 'pool' ORDER BY vip",
	/* ?1 is -1 for every node, else the online value to match. A negative
	 * LIMIT means no limit. */
	[STMT_LIST] = "SELECT " NODE_COLUMNS NODE_FROM "WHERE ?1 < 0 OR n.online = ?1 "
		      "ORDER BY n.fqdn LIMIT ?2 OFFSET ?3",
	[STMT_LIST_COUNT] = "SELECT count(*) FROM nodes WHERE ?1 < 0 OR online = ?1",
};

struct dc_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT];
	struct ntm_prefix prefix;
	/* Indexes into the prefix of the first and last assignable VIP;
	 * first > last when the prefix has none. */
	uint64_t vip_first;
	uint64_t vip_last;
	/* Set while dc_store_list runs its callback, which must not list again
	 * because that would reset the statement being stepped. */
	bool listing;
};

const char *dc_store_status_str(enum dc_store_status st)
{
	switch (st) {
	case DC_STORE_OK:
		return "ok";
	case DC_STORE_NOT_FOUND:
		return "not found";
	case DC_STORE_EXISTS:
		return "already enrolled";
	case DC_STORE_FULL:
		return "no free VIP in the prefix";
	case DC_STORE_ERROR:
		return "database error";
	}
	return "unknown store status";
}

/* C17 leaves the u64 -> i64 conversion of large values implementation
 * defined, so copy the bit pattern instead. */
static sqlite3_int64 u64_to_db(uint64_t v)
{
	sqlite3_int64 out;

	memcpy(&out, &v, sizeof(out));
	return out;
}

static uint64_t u64_from_db(sqlite3_int64 v)
{
	uint64_t out;

	memcpy(&out, &v, sizeof(out));
	return out;
}

static const char *who_key(char out[WHO_MAX], const uint8_t key[NTM_KEY_LEN])
{
	char id[9];

	snprintf(out, WHO_MAX, "key %s", ntm_key_id(key, id));
	return out;
}

/* Writes "node 'FQDN'", or "node 'FQDN' (key ID)" when key is not NULL.
 * FQDNs reach the store from the admin API and from peers, so they are
 * sanitised before they are logged. */
static const char *who_node(char out[WHO_MAX], const char *fqdn, const uint8_t *key)
{
	char clean[NTM_FQDN_MAX * 4 + 4];
	char id[9];

	ntm_log_sanitize(clean, sizeof(clean), fqdn, strnlen(fqdn, NTM_FQDN_MAX + 1));
	if (key == NULL)
		snprintf(out, WHO_MAX, "node '%s'", clean);
	else
		snprintf(out, WHO_MAX, "node '%s' (key %s)", clean, ntm_key_id(key, id));
	return out;
}

static const char *who_fqdn(char out[WHO_MAX], const char *fqdn)
{
	return who_node(out, fqdn, NULL);
}

/* Logs the connection's last SQLite error for operation op on who. */
static enum dc_store_status store_fail(const struct dc_store *st, const char *who, const char *op)
{
	log_warn("%s: %s failed: SQLite: %s", who, op, sqlite3_errmsg(st->db));
	return DC_STORE_ERROR;
}

/* Makes a statement ready for its next use and drops the bound pointers. */
static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows (transaction control, INSERT,
 * UPDATE, DELETE). Returns the SQLite result code. */
static int stmt_exec(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	return rc;
}

/* Runs BEGIN or COMMIT. After a failed COMMIT the transaction may still be
 * open, so callers follow any failure with tx_rollback. */
static enum dc_store_status tx_control(struct dc_store *st, enum store_stmt id, const char *who,
				       const char *op)
{
	sqlite3_stmt *s = st->stmt[id];
	enum dc_store_status ret = DC_STORE_OK;

	if (stmt_exec(s) != SQLITE_OK)
		ret = store_fail(st, who, op);
	stmt_done(s);
	return ret;
}

/* Ends a failed transaction. SQLite may already have rolled it back (for
 * example after SQLITE_FULL), so the state is checked first. */
static void tx_rollback(struct dc_store *st, const char *who, const char *op)
{
	sqlite3_stmt *s = st->stmt[STMT_ROLLBACK];

	if (sqlite3_get_autocommit(st->db))
		return;
	if (stmt_exec(s) != SQLITE_OK)
		store_fail(st, who, op);
	stmt_done(s);
}

/* Encodes the endpoints into out (room for NTM_MAX_LOCAL_ENDPOINTS
 * entries). Returns the length, or -EINVAL for a bad count or address. */
static int endpoints_encode(const struct ntm_endpoint *eps, size_t n, uint8_t *out)
{
	size_t pos = 0;

	if (n > NTM_MAX_LOCAL_ENDPOINTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct ntm_endpoint *ep = &eps[i];

		if (ep->ip.len != 4 && ep->ip.len != 16)
			return -EINVAL;
		out[pos++] = ep->ip.len;
		memcpy(&out[pos], ep->ip.bytes, ep->ip.len);
		pos += ep->ip.len;
		out[pos++] = (uint8_t)(ep->port >> 8);
		out[pos++] = (uint8_t)(ep->port & 0xff);
	}
	return (int)pos;
}

/*
 * Decodes a local_endpoints blob into eps (room for NTM_MAX_LOCAL_ENDPOINTS).
 * Returns the count, or -EINVAL with *bad_at set to the offset of the first
 * byte that does not fit the encoding.
 */
static int endpoints_decode(const uint8_t *buf, size_t len, struct ntm_endpoint *eps,
			    size_t *bad_at)
{
	size_t pos = 0;
	size_t n = 0;

	while (pos < len) {
		size_t ip_len = buf[pos];

		if (n == NTM_MAX_LOCAL_ENDPOINTS || (ip_len != 4 && ip_len != 16) ||
		    len - pos < 1 + ip_len + 2) {
			*bad_at = pos;
			return -EINVAL;
		}
		memset(&eps[n], 0, sizeof(eps[n]));
		eps[n].ip.len = (uint8_t)ip_len;
		memcpy(eps[n].ip.bytes, &buf[pos + 1], ip_len);
		eps[n].port = (uint16_t)(buf[pos + 1 + ip_len] << 8 | buf[pos + 2 + ip_len]);
		pos += 1 + ip_len + 2;
		n++;
	}
	return (int)n;
}

/* Reads an address column: NULL is unset, a length other than 4 or 16 is
 * corrupt. Returns 0 or -EINVAL; ip is unset after -EINVAL. */
static int ip_from_column(sqlite3_stmt *s, int col, struct ntm_ip *ip)
{
	const void *raw = sqlite3_column_blob(s, col);
	int len = sqlite3_column_bytes(s, col);

	memset(ip, 0, sizeof(*ip));
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	if (raw == NULL || ntm_ip_from_bytes(ip, raw, (size_t)len) < 0) {
		memset(ip, 0, sizeof(*ip));
		return -EINVAL;
	}
	return 0;
}

/* Fills node->local from the row; a corrupt blob leaves it empty. */
static void local_from_row(sqlite3_stmt *s, struct dc_node *node)
{
	const uint8_t *blob = sqlite3_column_blob(s, COL_LOCAL);
	size_t len = (size_t)sqlite3_column_bytes(s, COL_LOCAL);
	size_t bad_at = 0;
	char who[WHO_MAX];
	int n;

	node->n_local = 0;
	if (blob == NULL || len == 0)
		return;
	n = endpoints_decode(blob, len, node->local, &bad_at);
	if (n < 0) {
		log_warn("%s: stored local endpoints are corrupt at byte %zu of %zu, "
			 "treating them as empty until the next registration",
			 who_fqdn(who, node->fqdn), bad_at, len);
		memset(node->local, 0, sizeof(node->local));
		return;
	}
	node->n_local = (size_t)n;
}

/* Fills the observed endpoint; a corrupt address or port leaves it unset. */
static void observed_from_row(sqlite3_stmt *s, struct dc_node *node)
{
	sqlite3_int64 port = sqlite3_column_int64(s, COL_OBSERVED_PORT);
	char who[WHO_MAX];

	memset(&node->observed, 0, sizeof(node->observed));
	if (ip_from_column(s, COL_OBSERVED_IP, &node->observed.ip) < 0 || port < 0 ||
	    port > UINT16_MAX) {
		log_warn("%s: stored observed endpoint is corrupt, treating it as unset",
			 who_fqdn(who, node->fqdn));
		memset(&node->observed, 0, sizeof(node->observed));
		return;
	}
	node->observed.port = (uint16_t)port;
}

/* Fills key and FQDN, the columns a record cannot do without. Returns 0, or
 * -EINVAL when either does not fit struct dc_node. */
static int identity_from_row(sqlite3_stmt *s, struct dc_node *node)
{
	const void *key = sqlite3_column_blob(s, COL_KEY);
	const unsigned char *fqdn = sqlite3_column_text(s, COL_FQDN);
	int fqdn_len = sqlite3_column_bytes(s, COL_FQDN);

	if (key == NULL || sqlite3_column_bytes(s, COL_KEY) != NTM_KEY_LEN)
		return -EINVAL;
	if (fqdn == NULL || fqdn_len <= 0 || fqdn_len > NTM_FQDN_MAX)
		return -EINVAL;
	memcpy(node->key, key, NTM_KEY_LEN);
	memcpy(node->fqdn, fqdn, (size_t)fqdn_len);
	node->fqdn[fqdn_len] = '\0';
	return 0;
}

/* Decodes one row of NODE_COLUMNS into out. Returns 0, or -EINVAL when the
 * key or FQDN is unusable; other corrupt fields are logged and left unset. */
static int node_from_row(sqlite3_stmt *s, struct dc_node *out)
{
	char who[WHO_MAX];

	memset(out, 0, sizeof(*out));
	if (identity_from_row(s, out) < 0)
		return -EINVAL;

	if (ip_from_column(s, COL_VIP, &out->vip) < 0)
		log_warn("%s: stored VIP is not 4 or 16 bytes long, treating it as unset",
			 who_fqdn(who, out->fqdn));
	local_from_row(s, out);
	observed_from_row(s, out);
	out->behind_nat = sqlite3_column_int64(s, COL_BEHIND_NAT) != 0;
	out->online = sqlite3_column_int64(s, COL_ONLINE) != 0;
	out->last_seen_ms = u64_from_db(sqlite3_column_int64(s, COL_LAST_SEEN_MS));
	out->enrolled_ms = u64_from_db(sqlite3_column_int64(s, COL_ENROLLED_MS));
	out->counter_floor = u64_from_db(sqlite3_column_int64(s, COL_COUNTER_FLOOR));
	return 0;
}

/* Steps a statement that selects at most one node and decodes it into out
 * (which may be NULL to test for existence). Does not reset s. */
static enum dc_store_status node_step_one(struct dc_store *st, sqlite3_stmt *s, const char *who,
					  const char *op, struct dc_node *out)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return DC_STORE_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return store_fail(st, who, op);
	if (out != NULL && node_from_row(s, out) < 0) {
		log_warn("%s: %s failed: stored key or FQDN is corrupt", who, op);
		return DC_STORE_ERROR;
	}
	return DC_STORE_OK;
}

/*
 * Checks the prefix and works out which of its addresses may be assigned.
 * Index 1 is the DC's own VIP and is never assigned. Index 0 is the network
 * address (for IPv6 the Subnet-Router anycast address, RFC 4291 section
 * 2.6.1), so it is skipped unless the prefix has at most 2 addresses (RFC
 * 3021 for IPv4 /31, RFC 6164 for IPv6 /127). The last address is skipped
 * only in IPv4 prefixes of /30 or shorter, where it is the broadcast address.
 */
static int vip_range_init(struct dc_store *st, const struct ntm_prefix *p, char *err,
			  size_t err_size)
{
	unsigned bits;
	uint64_t size;

	if (p == NULL || (p->ip.len != 4 && p->ip.len != 16) || p->len > p->ip.len * 8) {
		snprintf(err, err_size, "invalid VIP prefix: expected an IPv4 or IPv6 prefix");
		return -EINVAL;
	}
	bits = p->ip.len * 8u;
	for (unsigned i = p->len; i < bits; i++) {
		if (p->ip.bytes[i / 8] & (0x80u >> (i % 8))) {
			snprintf(err, err_size, "invalid VIP prefix: host bits after /%u are set",
				 (unsigned)p->len);
			return -EINVAL;
		}
	}

	st->prefix = *p;
	size = ntm_prefix_size(p);
	st->vip_first = size <= 2 ? 0 : VIP_INDEX_DC + 1;
	st->vip_last = size - 1;
	if (p->ip.len == 4 && p->len <= 30)
		st->vip_last--;
	return 0;
}

/* Walks the assignable VIPs of the prefix in ascending order. */
struct vip_cursor {
	const struct dc_store *st;
	uint64_t index;
	bool valid;               /* false once past the last assignable VIP */
	struct ntm_ip ip;         /* the VIP at index while valid */
};

static void vip_cursor_load(struct vip_cursor *c)
{
	c->valid = c->index <= c->st->vip_last &&
		   ntm_prefix_nth(&c->st->prefix, c->index, &c->ip) == 0;
}

static void vip_cursor_start(struct vip_cursor *c, const struct dc_store *st)
{
	c->st = st;
	c->index = st->vip_first;
	vip_cursor_load(c);
}

/* vip_last is at most UINT64_MAX - 1, so index + 1 cannot wrap. */
static void vip_cursor_next(struct vip_cursor *c)
{
	c->index++;
	if (c->index == VIP_INDEX_DC)
		c->index++;
	vip_cursor_load(c);
}

/*
 * Finds the want lowest free VIPs of the prefix and writes them to out in
 * ascending order, with their number in *found (less than want when the
 * prefix runs out). One query per call, reading the used VIPs in order from
 * the start of the prefix: the cost grows with the number of VIPs in use,
 * never with the size of the prefix.
 */
static enum dc_store_status vip_find_free(struct dc_store *st, const char *who, const char *op,
					  struct ntm_ip *out, size_t want, size_t *found)
{
	sqlite3_stmt *s = st->stmt[STMT_VIP_USED];
	struct vip_cursor c;
	enum dc_store_status ret = DC_STORE_OK;
	size_t len = st->prefix.ip.len;
	int rc;

	*found = 0;
	vip_cursor_start(&c, st);
	rc = sqlite3_bind_int(s, 1, (int)len);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(s, 2, st->prefix.ip.bytes, (int)len, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		ret = store_fail(st, who, op);
		goto out;
	}

	while (*found < want && c.valid) {
		const uint8_t *used = NULL;

		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			/* Only a corrupt row has another length: skip it
			 * rather than compare past its end. */
			if (sqlite3_column_bytes(s, 0) != (int)len)
				continue;
			used = sqlite3_column_blob(s, 0);
		} else if (rc != SQLITE_DONE) {
			ret = store_fail(st, who, op);
			goto out;
		}

		/* Every candidate below the next used VIP is free. */
		while (*found < want && c.valid &&
		       (used == NULL || memcmp(c.ip.bytes, used, len) < 0)) {
			out[(*found)++] = c.ip;
			vip_cursor_next(&c);
		}
		if (used == NULL)
			break;
		/* A used VIP below the candidate is a reserved or skipped index
		 * (or from an earlier prefix): nothing to do. */
		if (c.valid && memcmp(c.ip.bytes, used, len) == 0)
			vip_cursor_next(&c);
	}
out:
	stmt_done(s);
	return ret;
}

/* Runs an INSERT of a VIP (?1) for the owner key (?2). */
static enum dc_store_status vip_insert(struct dc_store *st, enum store_stmt id,
				       const struct ntm_ip *vip, const uint8_t key[NTM_KEY_LEN],
				       const char *who, const char *op)
{
	sqlite3_stmt *s = st->stmt[id];
	enum dc_store_status ret = DC_STORE_OK;
	int rc;

	rc = sqlite3_bind_blob(s, 1, vip->bytes, vip->len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(s, 2, key, NTM_KEY_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = stmt_exec(s);
	if (rc != SQLITE_OK)
		ret = store_fail(st, who, op);
	stmt_done(s);
	return ret;
}

/*
 * Reads the single integer returned by a PRAGMA. Returns 0 or -EIO with err
 * set. The SQL is a constant of this file.
 */
static int pragma_int(sqlite3 *db, const char *sql, int *value, const char *path, char *err,
		      size_t err_size)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		snprintf(err, err_size, "database %s: %s failed: %s", path, sql,
			 rc == SQLITE_DONE ? "no result" : sqlite3_errmsg(db));
		sqlite3_finalize(s);
		return -EIO;
	}
	*value = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* Runs constant SQL of this file; on failure writes "database PATH: STEP
 * failed: ..." to err and returns -EIO. */
static int exec_or_err(sqlite3 *db, const char *sql, const char *path, const char *step,
		       char *err, size_t err_size)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, err_size, "database %s: %s failed: %s", path, step,
		 msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -EIO;
}

/* Switches to WAL so that readers (the sqlite3 shell, a backup) do not block
 * the DC. Some file systems cannot hold the WAL index; the database then
 * stays in its old journal mode, which is slower but just as safe. */
static int db_enable_wal(sqlite3 *db, const char *path, char *err, size_t err_size)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *mode;
	int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		snprintf(err, err_size, "database %s: setting journal_mode to WAL failed: %s", path,
			 sqlite3_errmsg(db));
		sqlite3_finalize(s);
		return -EIO;
	}
	mode = sqlite3_column_text(s, 0);
	/* An in-memory database reports "memory" and has no journal file. */
	if (mode != NULL && strcmp((const char *)mode, "wal") != 0 &&
	    strcmp((const char *)mode, "memory") != 0)
		log_warn("database %s: journal_mode is %s, not wal: the file system may not "
			 "support WAL; writes will block readers", path, (const char *)mode);
	sqlite3_finalize(s);
	return 0;
}

static int db_configure(struct dc_store *st, const char *path, char *err, size_t err_size)
{
	int fk = 0;

	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	/* Revoking a node relies on ON DELETE CASCADE to free its VIPs. */
	if (exec_or_err(st->db, "PRAGMA foreign_keys = ON", path, "enabling foreign keys", err,
			err_size) < 0)
		return -EIO;
	if (pragma_int(st->db, "PRAGMA foreign_keys", &fk, path, err, err_size) < 0)
		return -EIO;
	if (fk != 1) {
		snprintf(err, err_size, "database %s: this SQLite library was built without "
			 "foreign key support, which ntm-dcd needs", path);
		return -ENOTSUP;
	}
	if (db_enable_wal(st->db, path, err, err_size) < 0)
		return -EIO;
	/* FULL syncs the WAL at each commit, so a committed record change,
	 * counter_floor included, survives a power loss as well as a kill -9:
	 * a rolled-back counter_floor would let old packets be replayed. Writes
	 * happen only when a record changes, not per keep-alive. */
	return exec_or_err(st->db, "PRAGMA synchronous = FULL", path, "setting synchronous",
			   err, err_size);
}

/* Applies migration index (from version index to index + 1) in one
 * transaction. */
static int db_migrate_one(struct dc_store *st, int index, const char *path, char *err,
			  size_t err_size)
{
	char step[64];

	snprintf(step, sizeof(step), "migrating the schema to version %d", index + 1);
	if (exec_or_err(st->db, "BEGIN IMMEDIATE", path, step, err, err_size) < 0)
		return -EIO;
	if (exec_or_err(st->db, store_migrations[index], path, step, err, err_size) < 0 ||
	    exec_or_err(st->db, "COMMIT", path, step, err, err_size) < 0) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

static int db_migrate(struct dc_store *st, const char *path, char *err, size_t err_size)
{
	int version = 0;

	if (pragma_int(st->db, "PRAGMA user_version", &version, path, err, err_size) < 0)
		return -EIO;
	if (version < 0) {
		snprintf(err, err_size, "database %s has schema version %d, which no ntm-dcd "
			 "writes: it is not a DC database", path, version);
		return -EINVAL;
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, err_size, "database %s has schema version %d, this ntm-dcd "
			 "supports up to %d: upgrade ntm-dcd", path, version,
			 STORE_SCHEMA_VERSION);
		return -EINVAL;
	}

	for (int i = version; i < STORE_SCHEMA_VERSION; i++) {
		if (db_migrate_one(st, i, path, err, err_size) < 0)
			return -EIO;
	}
	if (version < STORE_SCHEMA_VERSION)
		log_info("database %s: schema migrated from version %d to %d", path, version,
			 STORE_SCHEMA_VERSION);
	return 0;
}

static int db_prepare(struct dc_store *st, const char *path, char *err, size_t err_size)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		int rc = sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &st->stmt[i], NULL);

		if (rc != SQLITE_OK) {
			snprintf(err, err_size, "database %s: preparing \"%s\" failed: %s", path,
				 store_sql[i], sqlite3_errmsg(st->db));
			return -EIO;
		}
	}
	return 0;
}

struct dc_store *dc_store_open(const char *path, const struct ntm_prefix *vip_prefix,
			       char *err, size_t err_size)
{
	/* One connection used by one thread: SQLite's own mutexes are not
	 * needed. */
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	struct dc_store *st = calloc(1, sizeof(*st));
	int rc;

	if (st == NULL) {
		snprintf(err, err_size, "database %s: out of memory", path);
		return NULL;
	}
	if (vip_range_init(st, vip_prefix, err, err_size) < 0)
		goto fail;

	rc = sqlite3_open_v2(path, &st->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, err_size, "cannot open database %s: %s", path,
			 st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	if (db_configure(st, path, err, err_size) < 0 || db_migrate(st, path, err, err_size) < 0 ||
	    db_prepare(st, path, err, err_size) < 0)
		goto fail;
	return st;

fail:
	dc_store_close(st);
	return NULL;
}

void dc_store_close(struct dc_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warn("database %s: close failed: %s", sqlite3_db_filename(st->db, "main"),
			 sqlite3_errmsg(st->db));
	free(st);
}

/*
 * Checks inside the enrol transaction that neither the key nor the FQDN is
 * enrolled. Returns DC_STORE_OK, DC_STORE_EXISTS (logged with the node
 * already enrolled under it) or DC_STORE_ERROR.
 */
static enum dc_store_status enrol_check_free(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					     const char *fqdn, const char *who)
{
	sqlite3_stmt *by_key = st->stmt[STMT_FQDN_OF_KEY];
	sqlite3_stmt *by_fqdn = st->stmt[STMT_KEY_OF_FQDN];
	enum dc_store_status ret = DC_STORE_OK;
	char other[WHO_MAX];
	int rc;

	rc = sqlite3_bind_blob(by_key, 1, key, NTM_KEY_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(by_key);
	if (rc == SQLITE_ROW) {
		const unsigned char *existing_fqdn = sqlite3_column_text(by_key, 0);

		log_info("%s: enrol rejected: its key is already enrolled as %s", who,
			 who_fqdn(other, existing_fqdn != NULL ? (const char *)existing_fqdn : ""));
		ret = DC_STORE_EXISTS;
		goto out;
	}
	if (rc != SQLITE_DONE) {
		ret = store_fail(st, who, "enrol (looking up the key)");
		goto out;
	}

	rc = sqlite3_bind_text(by_fqdn, 1, fqdn, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(by_fqdn);
	if (rc == SQLITE_ROW) {
		const void *existing_key = sqlite3_column_blob(by_fqdn, 0);

		if (existing_key != NULL && sqlite3_column_bytes(by_fqdn, 0) == NTM_KEY_LEN)
			who_key(other, existing_key);
		else
			snprintf(other, sizeof(other), "a corrupt key");
		log_info("%s: enrol rejected: the FQDN is already enrolled with %s", who, other);
		ret = DC_STORE_EXISTS;
	} else if (rc != SQLITE_DONE) {
		ret = store_fail(st, who, "enrol (looking up the FQDN)");
	}
out:
	stmt_done(by_key);
	stmt_done(by_fqdn);
	return ret;
}

static enum dc_store_status node_insert(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					const char *fqdn, uint64_t enrolled_ms, const char *who)
{
	sqlite3_stmt *s = st->stmt[STMT_NODE_INSERT];
	enum dc_store_status ret = DC_STORE_OK;
	int rc;

	rc = sqlite3_bind_blob(s, 1, key, NTM_KEY_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 2, fqdn, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, u64_to_db(enrolled_ms));
	if (rc == SQLITE_OK)
		rc = stmt_exec(s);
	if (rc != SQLITE_OK)
		ret = store_fail(st, who, "enrol (inserting the node)");
	stmt_done(s);
	return ret;
}

/* Runs the enrol steps inside the open transaction and fills out. */
static enum dc_store_status enrol_in_tx(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					const char *fqdn, const char *who, struct dc_node *out)
{
	struct dc_node node = { 0 };
	size_t found = 0;
	enum dc_store_status ret;

	ret = enrol_check_free(st, key, fqdn, who);
	if (ret != DC_STORE_OK)
		return ret;
	ret = vip_find_free(st, who, "enrol (finding a free VIP)", &node.vip, 1, &found);
	if (ret != DC_STORE_OK)
		return ret;
	if (found == 0) {
		char prefix[INET6_ADDRSTRLEN + 8];

		log_warn("%s: enrol failed: no free VIP left in %s", who,
			 ntm_prefix_str(&st->prefix, prefix, sizeof(prefix)));
		return DC_STORE_FULL;
	}

	memcpy(node.key, key, NTM_KEY_LEN);
	memcpy(node.fqdn, fqdn, strlen(fqdn) + 1);
	node.enrolled_ms = ntm_wall_ms();
	ret = node_insert(st, key, fqdn, node.enrolled_ms, who);
	if (ret == DC_STORE_OK)
		ret = vip_insert(st, STMT_VIP_INSERT_NODE, &node.vip, key, who,
				 "enrol (inserting the VIP)");
	if (ret == DC_STORE_OK && out != NULL)
		*out = node;
	return ret;
}

enum dc_store_status dc_store_enrol(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
				    const char *fqdn, struct dc_node *out)
{
	char who[WHO_MAX];
	size_t fqdn_len = strnlen(fqdn, NTM_FQDN_MAX + 1);
	enum dc_store_status ret;

	who_node(who, fqdn, key);
	if (fqdn_len == 0 || fqdn_len > NTM_FQDN_MAX) {
		log_warn("%s: enrol failed: the FQDN must be 1 to %d bytes long", who,
			 NTM_FQDN_MAX);
		return DC_STORE_ERROR;
	}

	ret = tx_control(st, STMT_BEGIN, who, "enrol (begin)");
	if (ret != DC_STORE_OK)
		return ret;
	ret = enrol_in_tx(st, key, fqdn, who, out);
	if (ret == DC_STORE_OK)
		ret = tx_control(st, STMT_COMMIT, who, "enrol (commit)");
	if (ret != DC_STORE_OK)
		tx_rollback(st, who, "enrol (rollback)");
	return ret;
}

enum dc_store_status dc_store_revoke(struct dc_store *st, const uint8_t key[NTM_KEY_LEN])
{
	sqlite3_stmt *s = st->stmt[STMT_NODE_DELETE];
	enum dc_store_status ret = DC_STORE_OK;
	char who[WHO_MAX];
	int rc;

	who_key(who, key);
	/* One statement, so one implicit transaction; ON DELETE CASCADE
	 * removes the node's own and pool VIPs with it. */
	rc = sqlite3_bind_blob(s, 1, key, NTM_KEY_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = stmt_exec(s);
	if (rc != SQLITE_OK)
		ret = store_fail(st, who, "revoke");
	else if (sqlite3_changes(st->db) == 0)
		ret = DC_STORE_NOT_FOUND;
	stmt_done(s);
	return ret;
}

enum dc_store_status dc_store_get_by_key(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					 struct dc_node *out)
{
	sqlite3_stmt *s = st->stmt[STMT_NODE_BY_KEY];
	enum dc_store_status ret;
	char who[WHO_MAX];

	who_key(who, key);
	if (sqlite3_bind_blob(s, 1, key, NTM_KEY_LEN, SQLITE_STATIC) != SQLITE_OK)
		ret = store_fail(st, who, "lookup by key");
	else
		ret = node_step_one(st, s, who, "lookup by key", out);
	stmt_done(s);
	return ret;
}

enum dc_store_status dc_store_get_by_fqdn(struct dc_store *st, const char *fqdn,
					  struct dc_node *out)
{
	sqlite3_stmt *s = st->stmt[STMT_NODE_BY_FQDN];
	enum dc_store_status ret;
	char who[WHO_MAX];
	size_t len = strnlen(fqdn, NTM_FQDN_MAX + 1);

	/* Longer names are never stored, so they cannot match. */
	if (len > NTM_FQDN_MAX)
		return DC_STORE_NOT_FOUND;
	who_fqdn(who, fqdn);
	if (sqlite3_bind_text(s, 1, fqdn, (int)len, SQLITE_STATIC) != SQLITE_OK)
		ret = store_fail(st, who, "lookup by FQDN");
	else
		ret = node_step_one(st, s, who, "lookup by FQDN", out);
	stmt_done(s);
	return ret;
}

enum dc_store_status dc_store_get_by_vip(struct dc_store *st, const struct ntm_ip *vip,
					 struct dc_node *out)
{
	sqlite3_stmt *s = st->stmt[STMT_NODE_BY_VIP];
	enum dc_store_status ret;
	char who[WHO_MAX];
	char text[INET6_ADDRSTRLEN];

	if (vip->len != 4 && vip->len != 16)
		return DC_STORE_NOT_FOUND;
	snprintf(who, sizeof(who), "VIP %s", ntm_ip_str(vip, text, sizeof(text)));
	if (sqlite3_bind_blob(s, 1, vip->bytes, vip->len, SQLITE_STATIC) != SQLITE_OK)
		ret = store_fail(st, who, "lookup by VIP");
	else
		ret = node_step_one(st, s, who, "lookup by VIP", out);
	stmt_done(s);
	return ret;
}

/* Binds the record fields of node to the UPDATE statement. */
static int update_bind(sqlite3_stmt *s, const struct dc_node *node, const uint8_t *local,
		       int local_len)
{
	const struct ntm_endpoint *obs = &node->observed;
	int rc;

	rc = sqlite3_bind_blob(s, 1, node->key, NTM_KEY_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(s, 2, local, local_len, SQLITE_STATIC);
	if (rc == SQLITE_OK && obs->ip.len != 0)
		rc = sqlite3_bind_blob(s, 3, obs->ip.bytes, obs->ip.len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 4, obs->ip.len != 0 ? obs->port : 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 5, node->behind_nat ? 1 : 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 6, node->online ? 1 : 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 7, u64_to_db(node->last_seen_ms));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, u64_to_db(node->counter_floor));
	return rc;
}

enum dc_store_status dc_store_update_record(struct dc_store *st, const struct dc_node *node)
{
	sqlite3_stmt *s = st->stmt[STMT_NODE_UPDATE];
	uint8_t local[NTM_MAX_LOCAL_ENDPOINTS * ENDPOINT_ENC_MAX];
	enum dc_store_status ret = DC_STORE_OK;
	char who[WHO_MAX];
	int local_len;
	int rc;

	who_key(who, node->key);
	local_len = endpoints_encode(node->local, node->n_local, local);
	if (local_len < 0) {
		log_warn("%s: record update failed: invalid local endpoints: %zu given, at most "
			 "%d, each IPv4 or IPv6", who, node->n_local, NTM_MAX_LOCAL_ENDPOINTS);
		return DC_STORE_ERROR;
	}
	if (node->observed.ip.len != 0 && node->observed.ip.len != 4 &&
	    node->observed.ip.len != 16) {
		log_warn("%s: record update failed: invalid observed address length %u",
			 who, (unsigned)node->observed.ip.len);
		return DC_STORE_ERROR;
	}

	/* A single UPDATE is its own transaction. */
	rc = update_bind(s, node, local, local_len);
	if (rc == SQLITE_OK)
		rc = stmt_exec(s);
	if (rc != SQLITE_OK)
		ret = store_fail(st, who, "record update");
	else if (sqlite3_changes(st->db) == 0)
		ret = DC_STORE_NOT_FOUND;
	stmt_done(s);
	return ret;
}

/* Reads the key's pool VIPs in ascending order into vips (room for max). */
static enum dc_store_status pool_read(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
				      const char *who, struct ntm_ip *vips, size_t max, size_t *n)
{
	sqlite3_stmt *s = st->stmt[STMT_POOL_LIST];
	enum dc_store_status ret = DC_STORE_OK;
	size_t total = 0;
	int rc;

	*n = 0;
	rc = sqlite3_bind_blob(s, 1, key, NTM_KEY_LEN, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct ntm_ip ip;

		rc = SQLITE_OK;
		if (ip_from_column(s, 0, &ip) < 0 || ip.len == 0) {
			log_warn("%s: a stored pool VIP is not 4 or 16 bytes long, skipping it",
				 who);
			continue;
		}
		if (*n < max)
			vips[(*n)++] = ip;
		total++;
	}
	if (rc != SQLITE_DONE)
		ret = store_fail(st, who, "pool list");
	else if (total > *n)
		log_warn("%s: pool list truncated to %zu of %zu VIPs", who, *n, total);
	stmt_done(s);
	return ret;
}

/* Counts the key's pool VIPs; DC_STORE_NOT_FOUND when the key is not
 * enrolled. */
static enum dc_store_status pool_count(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
				       const char *who, size_t *count)
{
	enum dc_store_status ret = dc_store_get_by_key(st, key, NULL);
	sqlite3_stmt *s = st->stmt[STMT_POOL_COUNT];
	int rc;

	if (ret != DC_STORE_OK)
		return ret;
	rc = sqlite3_bind_blob(s, 1, key, NTM_KEY_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*count = (size_t)sqlite3_column_int64(s, 0);
	else
		ret = store_fail(st, who, "pool grant (counting the pool)");
	stmt_done(s);
	return ret;
}

/* Adds free VIPs to the key's pool until it holds count, inside the open
 * transaction. */
static enum dc_store_status pool_grow(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
				      uint32_t count, const char *who)
{
	struct ntm_ip fresh[NTM_MAX_POOL_VIPS];
	size_t have = 0;
	size_t found = 0;
	size_t need;
	enum dc_store_status ret;

	ret = pool_count(st, key, who, &have);
	if (ret != DC_STORE_OK || have >= count)
		return ret;
	need = count - have;
	ret = vip_find_free(st, who, "pool grant (finding free VIPs)", fresh, need, &found);
	if (ret != DC_STORE_OK)
		return ret;
	if (found < need) {
		char prefix[INET6_ADDRSTRLEN + 8];

		log_warn("%s: pool grant of %u VIPs failed: %zu more needed, %zu free in %s",
			 who, count, need, found,
			 ntm_prefix_str(&st->prefix, prefix, sizeof(prefix)));
		return DC_STORE_FULL;
	}

	for (size_t i = 0; i < found && ret == DC_STORE_OK; i++)
		ret = vip_insert(st, STMT_VIP_INSERT_POOL, &fresh[i], key, who,
				 "pool grant (inserting a VIP)");
	return ret;
}

enum dc_store_status dc_store_pool_grant(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					 uint32_t count, struct ntm_ip *vips, size_t max, size_t *n)
{
	char who[WHO_MAX];
	enum dc_store_status ret;

	*n = 0;
	who_key(who, key);
	if (count < 1 || count > NTM_MAX_POOL_VIPS) {
		log_warn("%s: pool grant failed: %u VIPs requested, expected 1 to %d", who,
			 count, NTM_MAX_POOL_VIPS);
		return DC_STORE_ERROR;
	}

	ret = tx_control(st, STMT_BEGIN, who, "pool grant (begin)");
	if (ret != DC_STORE_OK)
		return ret;
	ret = pool_grow(st, key, count, who);
	if (ret == DC_STORE_OK)
		ret = pool_read(st, key, who, vips, max, n);
	if (ret == DC_STORE_OK)
		ret = tx_control(st, STMT_COMMIT, who, "pool grant (commit)");
	if (ret != DC_STORE_OK) {
		tx_rollback(st, who, "pool grant (rollback)");
		*n = 0;
	}
	return ret;
}

enum dc_store_status dc_store_pool_list(struct dc_store *st, const uint8_t key[NTM_KEY_LEN],
					struct ntm_ip *vips, size_t max, size_t *n)
{
	char who[WHO_MAX];

	who_key(who, key);
	return pool_read(st, key, who, vips, max, n);
}

static enum dc_store_status list_count(struct dc_store *st, int online, size_t *total)
{
	sqlite3_stmt *s = st->stmt[STMT_LIST_COUNT];
	enum dc_store_status ret = DC_STORE_OK;
	int rc;

	rc = sqlite3_bind_int(s, 1, online);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*total = (size_t)sqlite3_column_int64(s, 0);
	else
		ret = store_fail(st, "node list", "counting nodes");
	stmt_done(s);
	return ret;
}

/* SQLite takes LIMIT and OFFSET as signed 64-bit values. */
static sqlite3_int64 size_to_db(size_t v)
{
	return v > (size_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static enum dc_store_status list_rows(struct dc_store *st, int online, size_t offset,
				      size_t limit, dc_store_node_cb cb, void *arg)
{
	sqlite3_stmt *s = st->stmt[STMT_LIST];
	enum dc_store_status ret = DC_STORE_OK;
	struct dc_node node;
	int rc;

	rc = sqlite3_bind_int(s, 1, online);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, limit == 0 ? -1 : size_to_db(limit));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, size_to_db(offset));
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (node_from_row(s, &node) < 0) {
			log_warn("node list: skipping a node whose stored key or FQDN is corrupt");
			continue;
		}
		if (cb(&node, arg) != 0)
			rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE)
		ret = store_fail(st, "node list", "reading nodes");
	stmt_done(s);
	return ret;
}

enum dc_store_status dc_store_list(struct dc_store *st, int online, size_t offset, size_t limit,
				   dc_store_node_cb cb, void *arg, size_t *total)
{
	enum dc_store_status ret = DC_STORE_OK;
	size_t count = 0;

	if (st->listing) {
		log_warn("node list: failed: called again from its own callback");
		return DC_STORE_ERROR;
	}
	/* Any negative value lists all nodes, any positive one online nodes. */
	online = online < 0 ? -1 : online > 0;

	ret = list_count(st, online, &count);
	if (ret != DC_STORE_OK)
		return ret;
	if (total != NULL)
		*total = count;
	if (cb == NULL)
		return DC_STORE_OK;

	st->listing = true;
	ret = list_rows(st, online, offset, limit, cb, arg);
	st->listing = false;
	return ret;
}
