/*
 * The servers ntm-ssdpd has learned, one entry per USN: in home mode the
 * LAN servers it heard, in player mode the remote servers the DLNA Agent
 * reported. Entries expire max-age seconds after they were last heard.
 */
#ifndef SSDP_CACHE_H
#define SSDP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"

/* Maximum number of entries. minidlna 1.3 announces 6 USNs. */
#define SSDP_CACHE_MAX 512
/* Maximum lifetime of an entry in seconds, whatever its max-age. */
#define SSDP_CACHE_MAX_AGE_CAP 86400
/* Maximum number of header lines kept per entry. */
#define SSDP_CACHE_MAX_LINES 32

/* One cached advertisement. The entry owns its strings. */
struct ssdp_entry {
	char *usn;
	char *target;                /* ST of an answer, NT of a NOTIFY */
	char *location;
	char *server;
	/* "Name: value" lines: in home mode the whole answer as heard, in
	 * player mode the extra headers to repeat to applications. */
	char *lines[SSDP_CACHE_MAX_LINES];
	size_t n_lines;
	struct ntm_endpoint source;  /* home: the server; player: VIP:1900 */
	uint32_t max_age_s;
	uint64_t seen_ms;            /* monotonic, when last heard */
	uint64_t seen_wall_ms;       /* Unix time of the same moment */
	uint64_t expires_ms;         /* monotonic */
	uint64_t next_notify_ms;     /* player: when the next ssdp:alive is due */
};

struct ssdp_cache {
	struct ssdp_entry *entries[SSDP_CACHE_MAX];
	size_t n;
};

/* Fields of an update: copied by ssdp_cache_update. */
struct ssdp_entry_update {
	const char *usn;
	const char *target;
	const char *location;
	const char *server;          /* may be NULL */
	const char *const *lines;
	size_t n_lines;
	struct ntm_endpoint source;
	uint32_t max_age_s;
};

enum ssdp_cache_result {
	SSDP_CACHE_NEW,        /* a USN not known before */
	SSDP_CACHE_CHANGED,    /* known, with another target, LOCATION or source */
	SSDP_CACHE_REFRESHED,  /* known and unchanged: only its expiry moved */
	SSDP_CACHE_FULL,
	SSDP_CACHE_NO_MEMORY,
};

/* Inserts or refreshes the entry of u->usn, heard at now_ms. */
enum ssdp_cache_result ssdp_cache_update(struct ssdp_cache *c, const struct ssdp_entry_update *u,
					 uint64_t now_ms, uint64_t wall_ms);
/* Index of the entry of usn, or -1. */
int ssdp_cache_find(const struct ssdp_cache *c, const char *usn);
/* Removes the entry at index; the last entry takes its place. */
void ssdp_cache_remove(struct ssdp_cache *c, size_t index);
void ssdp_cache_clear(struct ssdp_cache *c);

#endif
