/*
 * Sliding replay window over 64-bit packet counters (the scheme of RFC 6479):
 * a counter is accepted once, and only when it is above the floor and no more
 * than NTM_REPLAY_WINDOW below the highest counter accepted so far.
 */
#ifndef NTM_REPLAY_H
#define NTM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define NTM_REPLAY_WINDOW 2048
#define NTM_REPLAY_WORDS (NTM_REPLAY_WINDOW / 64)

struct ntm_replay {
	uint64_t top;     /* highest counter accepted; 0 when none */
	uint64_t floor;   /* counters <= floor are rejected */
	uint64_t bitmap[NTM_REPLAY_WORDS];
};

/* Empties the window; counters at or below floor stay rejected. */
void ntm_replay_reset(struct ntm_replay *w, uint64_t floor);
/* Returns true when counter would be accepted; changes nothing. */
bool ntm_replay_check(const struct ntm_replay *w, uint64_t counter);
/* Marks counter as seen. Call only after the packet authenticated and
 * ntm_replay_check returned true. */
void ntm_replay_update(struct ntm_replay *w, uint64_t counter);

#endif
