/* Cache of servers by USN. */
#include <stdlib.h>
#include <string.h>

#include "ssdp_cache.h"

static void entry_free(struct ssdp_entry *e)
{
	if (!e)
		return;
	free(e->usn);
	free(e->target);
	free(e->location);
	free(e->server);
	for (size_t i = 0; i < e->n_lines; i++)
		free(e->lines[i]);
	free(e);
}

int ssdp_cache_find(const struct ssdp_cache *c, const char *usn)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->entries[i]->usn, usn) == 0)
			return (int)i;
	}
	return -1;
}

static bool same_string(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Builds a new entry holding copies of u's strings, or NULL without memory. */
static struct ssdp_entry *entry_new(const struct ssdp_entry_update *u)
{
	struct ssdp_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->usn = strdup(u->usn);
	e->target = strdup(u->target);
	e->location = strdup(u->location);
	e->server = strdup(u->server ? u->server : "");
	if (!e->usn || !e->target || !e->location || !e->server)
		goto fail;
	for (size_t i = 0; i < u->n_lines && i < SSDP_CACHE_MAX_LINES; i++) {
		e->lines[i] = strdup(u->lines[i]);
		if (!e->lines[i])
			goto fail;
		e->n_lines++;
	}
	e->source = u->source;
	return e;

fail:
	entry_free(e);
	return NULL;
}

static void set_times(struct ssdp_entry *e, uint32_t max_age_s, uint64_t now_ms,
		      uint64_t wall_ms)
{
	uint32_t age = max_age_s > SSDP_CACHE_MAX_AGE_CAP ? SSDP_CACHE_MAX_AGE_CAP : max_age_s;

	e->max_age_s = age;
	e->seen_ms = now_ms;
	e->seen_wall_ms = wall_ms;
	e->expires_ms = now_ms + (uint64_t)age * 1000;
}

enum ssdp_cache_result ssdp_cache_update(struct ssdp_cache *c, const struct ssdp_entry_update *u,
					 uint64_t now_ms, uint64_t wall_ms)
{
	int idx = ssdp_cache_find(c, u->usn);
	struct ssdp_entry *old = idx >= 0 ? c->entries[idx] : NULL;
	enum ssdp_cache_result result = SSDP_CACHE_NEW;

	if (!old && c->n == SSDP_CACHE_MAX)
		return SSDP_CACHE_FULL;
	if (old) {
		bool same = same_string(old->target, u->target) &&
			    same_string(old->location, u->location) &&
			    ntm_endpoint_equal(&old->source, &u->source);

		result = same ? SSDP_CACHE_REFRESHED : SSDP_CACHE_CHANGED;
	}

	/* A fresh copy also takes the new SERVER and header lines. */
	struct ssdp_entry *e = entry_new(u);

	if (!e)
		return SSDP_CACHE_NO_MEMORY;
	set_times(e, u->max_age_s, now_ms, wall_ms);
	if (old) {
		e->next_notify_ms = result == SSDP_CACHE_REFRESHED ? old->next_notify_ms : now_ms;
		entry_free(old);
		c->entries[idx] = e;
	} else {
		e->next_notify_ms = now_ms;
		c->entries[c->n++] = e;
	}
	return result;
}

void ssdp_cache_remove(struct ssdp_cache *c, size_t index)
{
	if (index >= c->n)
		return;
	entry_free(c->entries[index]);
	c->entries[index] = c->entries[--c->n];
	c->entries[c->n] = NULL;
}

void ssdp_cache_clear(struct ssdp_cache *c)
{
	while (c->n > 0)
		ssdp_cache_remove(c, c->n - 1);
}
