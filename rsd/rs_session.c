/*
 * Session table of the Relay Server: a chained hash table keyed by the
 * session id, a list of live sessions (newest first) and a FIFO of
 * tombstones ordered by the time they ended.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "rs_session.h"

#define INITIAL_BUCKETS 256
/* Tombstones kept at least, whatever max_sessions is. */
#define MIN_TOMBSTONES 64

struct rs_list {
	struct rs_session *head, *tail;
	size_t count;
};

struct rs_table {
	struct rs_session **buckets;
	size_t n_buckets;            /* a power of two */
	size_t n_entries;            /* live sessions and tombstones */
	struct rs_list live;         /* newest first */
	struct rs_list tombstones;   /* oldest first */
	size_t *dc_counts;
	size_t n_dcs;
	struct rs_limits limits;
};

/* ---- lists ---- */

static void list_push_front(struct rs_list *l, struct rs_session *s)
{
	s->prev = NULL;
	s->next = l->head;
	if (l->head)
		l->head->prev = s;
	else
		l->tail = s;
	l->head = s;
	l->count++;
}

static void list_push_back(struct rs_list *l, struct rs_session *s)
{
	s->next = NULL;
	s->prev = l->tail;
	if (l->tail)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->count++;
}

static void list_remove(struct rs_list *l, struct rs_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->prev = s->next = NULL;
	l->count--;
}

/* ---- hash table ---- */

/* Session ids are random, so their low bits spread evenly. */
static size_t bucket_of(const struct rs_table *t, uint64_t id)
{
	return (size_t)(id & (t->n_buckets - 1));
}

static int grow(struct rs_table *t)
{
	size_t n = t->n_buckets * 2;
	struct rs_session **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct rs_session *s = t->buckets[i];

		while (s) {
			struct rs_session *next = s->hash_next;
			size_t j = (size_t)(s->id & (n - 1));

			s->hash_next = b[j];
			b[j] = s;
			s = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
	return 0;
}

static void hash_insert(struct rs_table *t, struct rs_session *s)
{
	size_t i = bucket_of(t, s->id);

	s->hash_next = t->buckets[i];
	t->buckets[i] = s;
	t->n_entries++;
}

static void hash_remove(struct rs_table *t, struct rs_session *s)
{
	struct rs_session **link = &t->buckets[bucket_of(t, s->id)];

	while (*link && *link != s)
		link = &(*link)->hash_next;
	if (*link) {
		*link = s->hash_next;
		t->n_entries--;
	}
}

struct rs_session *rs_table_find(struct rs_table *t, uint64_t id)
{
	struct rs_session *s = t->buckets[bucket_of(t, id)];

	while (s && s->id != id)
		s = s->hash_next;
	return s;
}

/* ---- table ---- */

struct rs_table *rs_table_new(size_t n_dcs, const struct rs_limits *limits)
{
	struct rs_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	t->dc_counts = calloc(n_dcs ? n_dcs : 1, sizeof(*t->dc_counts));
	if (!t->buckets || !t->dc_counts) {
		free(t->buckets);
		free(t->dc_counts);
		free(t);
		return NULL;
	}
	t->n_buckets = INITIAL_BUCKETS;
	t->n_dcs = n_dcs;
	t->limits = *limits;
	return t;
}

static void session_free(struct rs_session *s)
{
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static void free_list(struct rs_session *s)
{
	while (s) {
		struct rs_session *next = s->next;

		session_free(s);
		s = next;
	}
}

void rs_table_free(struct rs_table *t)
{
	if (!t)
		return;
	free_list(t->live.head);
	free_list(t->tombstones.head);
	free(t->buckets);
	free(t->dc_counts);
	free(t);
}

static void ratelimit_set(struct ntm_ratelimit *rl, uint64_t max_pps)
{
	uint32_t rate = max_pps > UINT32_MAX ? UINT32_MAX : (uint32_t)max_pps;
	bool was_off = rl->per_second == 0;

	rl->burst = rate;
	rl->per_second = rate;
	/* A limit switched on starts with a full second's worth of packets. */
	if (was_off || rl->tokens > rate)
		rl->tokens = rate;
}

void rs_table_set_limits(struct rs_table *t, const struct rs_limits *limits)
{
	bool pps_changed = limits->max_pps != t->limits.max_pps;

	t->limits = *limits;
	if (!pps_changed)
		return;
	for (struct rs_session *s = t->live.head; s; s = s->next)
		ratelimit_set(&s->pps, limits->max_pps);
}

size_t rs_table_count(const struct rs_table *t)
{
	return t->live.count;
}

size_t rs_table_count_dc(const struct rs_table *t, unsigned dc)
{
	return dc < t->n_dcs ? t->dc_counts[dc] : 0;
}

struct rs_session *rs_table_first(struct rs_table *t)
{
	return t->live.head;
}

struct rs_session *rs_table_next(const struct rs_session *s)
{
	return s->next;
}

static enum rs_alloc_status check_limits(const struct rs_table *t, unsigned dc)
{
	if (t->live.count >= t->limits.max_sessions)
		return RS_ALLOC_LIMIT_TOTAL;
	if (t->dc_counts[dc] >= t->limits.max_sessions_per_dc)
		return RS_ALLOC_LIMIT_DC;
	return RS_ALLOC_OK;
}

/* A random id that is neither 0 nor in use, live or as a tombstone. */
static uint64_t new_id(struct rs_table *t)
{
	uint64_t id;

	do
		randombytes_buf(&id, sizeof(id));
	while (id == 0 || rs_table_find(t, id));
	return id;
}

static void side_init(struct rs_side_state *side, const uint8_t key[NTM_KEY_LEN],
		      const uint8_t secret[NTM_RELAY_SECRET_LEN])
{
	memcpy(side->key, key, NTM_KEY_LEN);
	ntm_relay_credential(side->credential, secret, key);
}

enum rs_alloc_status rs_table_allocate(struct rs_table *t, unsigned dc,
				       const uint8_t key_a[NTM_KEY_LEN],
				       const uint8_t key_b[NTM_KEY_LEN], uint64_t idle_timeout_ms,
				       uint64_t now_ms, uint64_t now_wall_ms,
				       uint8_t secret_out[NTM_RELAY_SECRET_LEN],
				       struct rs_session **out)
{
	enum rs_alloc_status st;
	struct rs_session *s;

	if (dc >= t->n_dcs || memcmp(key_a, key_b, NTM_KEY_LEN) == 0)
		return RS_ALLOC_INVALID;
	st = check_limits(t, dc);
	if (st != RS_ALLOC_OK)
		return st;
	if (t->n_entries >= t->n_buckets && grow(t) < 0)
		return RS_ALLOC_NO_MEMORY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return RS_ALLOC_NO_MEMORY;

	s->id = new_id(t);
	randombytes_buf(secret_out, NTM_RELAY_SECRET_LEN);
	side_init(&s->side[RS_SIDE_A], key_a, secret_out);
	side_init(&s->side[RS_SIDE_B], key_b, secret_out);
	s->dc = dc;
	s->idle_timeout_ms = idle_timeout_ms;
	s->created_ms = s->last_active_ms = now_ms;
	s->expires_wall_ms = now_wall_ms + idle_timeout_ms;
	ratelimit_set(&s->pps, t->limits.max_pps);
	s->pps.last_ms = now_ms;

	hash_insert(t, s);
	list_push_front(&t->live, s);
	t->dc_counts[dc]++;
	*out = s;
	return RS_ALLOC_OK;
}

bool rs_session_live(const struct rs_session *s, uint64_t now_ms)
{
	if (s->end_reason != RS_END_NONE)
		return false;
	return now_ms < s->last_active_ms || now_ms - s->last_active_ms < s->idle_timeout_ms;
}

static void tombstone_free_oldest(struct rs_table *t)
{
	struct rs_session *s = t->tombstones.head;

	list_remove(&t->tombstones, s);
	hash_remove(t, s);
	session_free(s);
}

void rs_table_end(struct rs_table *t, struct rs_session *s, enum rs_end_reason why,
		  uint64_t now_ms)
{
	size_t max_tombstones = t->limits.max_sessions;

	if (s->end_reason != RS_END_NONE)
		return;
	list_remove(&t->live, s);
	t->dc_counts[s->dc]--;
	s->end_reason = why;
	s->ended_ms = now_ms;
	sodium_memzero(s->side[RS_SIDE_A].credential, NTM_RELAY_CREDENTIAL_LEN);
	sodium_memzero(s->side[RS_SIDE_B].credential, NTM_RELAY_CREDENTIAL_LEN);
	list_push_back(&t->tombstones, s);

	/* Allocations ending faster than tombstones age out must not grow the
	 * table without bound. */
	if (max_tombstones < MIN_TOMBSTONES)
		max_tombstones = MIN_TOMBSTONES;
	while (t->tombstones.count > max_tombstones)
		tombstone_free_oldest(t);
}

static bool has_key(const struct rs_session *s, const uint8_t key[NTM_KEY_LEN])
{
	return memcmp(s->side[RS_SIDE_A].key, key, NTM_KEY_LEN) == 0 ||
	       memcmp(s->side[RS_SIDE_B].key, key, NTM_KEY_LEN) == 0;
}

size_t rs_table_release_key(struct rs_table *t, const uint8_t key[NTM_KEY_LEN], uint64_t now_ms)
{
	struct rs_session *s = t->live.head;
	size_t n = 0;

	while (s) {
		struct rs_session *next = s->next;

		if (has_key(s, key)) {
			rs_table_end(t, s, RS_END_RELEASED, now_ms);
			n++;
		}
		s = next;
	}
	return n;
}

size_t rs_table_expire(struct rs_table *t, uint64_t now_ms, rs_expire_cb cb, void *arg)
{
	struct rs_session *s = t->live.head;
	size_t n = 0;

	while (s) {
		struct rs_session *next = s->next;

		if (!rs_session_live(s, now_ms)) {
			rs_table_end(t, s, RS_END_IDLE, now_ms);
			if (cb)
				cb(s, arg);
			n++;
		}
		s = next;
	}
	while (t->tombstones.head && now_ms - t->tombstones.head->ended_ms >= RS_TOMBSTONE_MS)
		tombstone_free_oldest(t);
	return n;
}

bool rs_session_bind(struct rs_session *s, enum rs_side side, const struct ntm_endpoint *ep,
		     uint64_t timestamp_ms, uint64_t now_ms)
{
	struct rs_side_state *st = &s->side[side];
	bool moved = st->bound.ip.len != 0 && !ntm_endpoint_equal(&st->bound, ep);

	if (!ntm_endpoint_equal(&st->bound, ep)) {
		st->bound = *ep;
		st->bound_sa_len = ntm_endpoint_to_sockaddr(ep, &st->bound_sa);
	}
	st->last_timestamp_ms = timestamp_ms;
	st->binds++;
	s->last_active_ms = now_ms;
	return moved;
}
