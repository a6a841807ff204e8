/*
 * Replay window in the style of RFC 6479: a ring of NTM_REPLAY_WINDOW bits
 * indexed by counter modulo the window, so advancing the window never shifts
 * the bitmap. RFC 6479 clears whole 64-bit blocks when the window advances,
 * which shrinks the usable window by up to 63 counters. This version clears
 * exactly the bits that change meaning, so the window always spans the
 * NTM_REPLAY_WINDOW counters below top.
 *
 * Invariant: while top > 0, bit (c % NTM_REPLAY_WINDOW) is set exactly when
 * counter c was accepted, for every c in [top - NTM_REPLAY_WINDOW, top - 1].
 * top itself needs no bit: it was accepted by definition. Counters at or
 * below the floor are rejected before the bitmap is read, so their bits may
 * hold anything.
 */
#include "ntm_replay.h"

#include <string.h>

#define WORD_BITS 64u

static bool bit_test(const struct ntm_replay *w, uint64_t counter)
{
	uint64_t pos = counter % NTM_REPLAY_WINDOW;

	return (w->bitmap[pos / WORD_BITS] >> (pos % WORD_BITS)) & 1u;
}

static void bit_set(struct ntm_replay *w, uint64_t counter)
{
	uint64_t pos = counter % NTM_REPLAY_WINDOW;

	w->bitmap[pos / WORD_BITS] |= UINT64_C(1) << (pos % WORD_BITS);
}

/* Clears the bits of count consecutive counters starting at first
 * (count < NTM_REPLAY_WINDOW), wrapping around the ring. */
static void bits_clear(struct ntm_replay *w, uint64_t first, uint64_t count)
{
	uint64_t pos = first % NTM_REPLAY_WINDOW;

	while (count > 0) {
		uint64_t shift = pos % WORD_BITS;
		uint64_t n = WORD_BITS - shift;
		uint64_t mask;

		if (n > count)
			n = count;
		mask = n == WORD_BITS ? UINT64_MAX : ((UINT64_C(1) << n) - 1u) << shift;
		w->bitmap[pos / WORD_BITS] &= ~mask;

		count -= n;
		pos = (pos + n) % NTM_REPLAY_WINDOW;
	}
}

/* Moves top up to counter, which is above it. */
static void window_advance(struct ntm_replay *w, uint64_t counter)
{
	uint64_t jump = counter - w->top;

	if (jump > NTM_REPLAY_WINDOW) {
		/* Every counter of the new window is above the old top: none seen. */
		memset(w->bitmap, 0, sizeof(w->bitmap));
	} else {
		/* The old top moves into the bitmap. Its bit last held the counter
		 * NTM_REPLAY_WINDOW below it, which has now left the window. The
		 * counters skipped between the old and the new top start unseen. */
		bit_set(w, w->top);
		bits_clear(w, w->top + 1, jump - 1);
	}
	w->top = counter;
}

void ntm_replay_reset(struct ntm_replay *w, uint64_t floor)
{
	memset(w, 0, sizeof(*w));
	w->floor = floor;
}

bool ntm_replay_check(const struct ntm_replay *w, uint64_t counter)
{
	if (counter <= w->floor)
		return false;
	if (counter > w->top)
		return true;
	if (counter == w->top)
		return false;
	if (w->top - counter > NTM_REPLAY_WINDOW)
		return false;
	return !bit_test(w, counter);
}

void ntm_replay_update(struct ntm_replay *w, uint64_t counter)
{
	if (!ntm_replay_check(w, counter))
		return;
	if (counter > w->top)
		window_advance(w, counter);
	else
		bit_set(w, counter);
}
