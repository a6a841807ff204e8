/* Unit tests for the replay window (ntm_replay). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ntm_replay.h"

/* Checks and, when accepted, records counter, as a receiver does. */
static bool accept(struct ntm_replay *w, uint64_t counter)
{
	if (!ntm_replay_check(w, counter))
		return false;
	ntm_replay_update(w, counter);
	return true;
}

static void replay_first_packet(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	assert_false(ntm_replay_check(&w, 0));
	assert_true(accept(&w, 1));
	assert_false(ntm_replay_check(&w, 1));
	assert_true(accept(&w, 2));
}

static void replay_counter_zero_never(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	assert_false(ntm_replay_check(&w, 0));
	assert_true(accept(&w, 5));
	assert_false(ntm_replay_check(&w, 0));
}

static void replay_first_packet_high(void **state)
{
	struct ntm_replay w;
	uint64_t start = UINT64_C(1700000000) << 32;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, start));
	assert_false(ntm_replay_check(&w, start));
	assert_true(accept(&w, start - 1));
	assert_true(accept(&w, start - NTM_REPLAY_WINDOW));
	assert_false(ntm_replay_check(&w, start - NTM_REPLAY_WINDOW - 1));
}

static void replay_duplicate(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	for (uint64_t c = 1; c <= 100; c++)
		assert_true(accept(&w, c));
	for (uint64_t c = 1; c <= 100; c++)
		assert_false(ntm_replay_check(&w, c));
}

static void replay_out_of_order(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, 10));
	assert_true(accept(&w, 5));
	assert_true(accept(&w, 9));
	assert_true(accept(&w, 1));
	assert_false(ntm_replay_check(&w, 5));
	assert_false(ntm_replay_check(&w, 9));
	assert_true(ntm_replay_check(&w, 6));
	assert_true(accept(&w, 12));
	assert_true(accept(&w, 11));
	assert_false(ntm_replay_check(&w, 10));
	assert_false(ntm_replay_check(&w, 11));
}

static void replay_window_edge(void **state)
{
	struct ntm_replay w;
	uint64_t top = 5000;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, top));
	/* Exactly NTM_REPLAY_WINDOW below top is inside, one more is outside. */
	assert_true(ntm_replay_check(&w, top - NTM_REPLAY_WINDOW));
	assert_false(ntm_replay_check(&w, top - NTM_REPLAY_WINDOW - 1));
	assert_true(accept(&w, top - NTM_REPLAY_WINDOW));
	assert_false(ntm_replay_check(&w, top - NTM_REPLAY_WINDOW));
	assert_true(accept(&w, top - 1));
}

static void replay_window_slides(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, 100));
	assert_true(accept(&w, 100 + NTM_REPLAY_WINDOW));
	/* 100 is now exactly at the edge and was seen. */
	assert_false(ntm_replay_check(&w, 100));
	assert_true(ntm_replay_check(&w, 101));
	assert_false(ntm_replay_check(&w, 99));
	assert_true(accept(&w, 101 + NTM_REPLAY_WINDOW));
	/* 100 has left the window, 101 is at its edge and unseen. */
	assert_false(ntm_replay_check(&w, 100));
	assert_true(ntm_replay_check(&w, 101));
}

static void replay_jump_clears_bits(void **state)
{
	struct ntm_replay w;
	uint64_t top;

	ntm_replay_reset(&w, 0);
	for (uint64_t c = 1; c <= 3000; c++)
		assert_true(accept(&w, c));

	/* A jump inside the window: the skipped counters become acceptable,
	 * although their bits last held counters that were seen. */
	top = 3000 + 1000;
	assert_true(accept(&w, top));
	for (uint64_t c = 3001; c < top; c++)
		assert_true(ntm_replay_check(&w, c));
	for (uint64_t c = top - NTM_REPLAY_WINDOW; c <= 3000; c++)
		assert_false(ntm_replay_check(&w, c));

	/* A jump far ahead: every counter of the new window is unseen. */
	top = 1000000;
	assert_true(accept(&w, top));
	for (uint64_t c = top - NTM_REPLAY_WINDOW; c < top; c++)
		assert_true(ntm_replay_check(&w, c));
	assert_false(ntm_replay_check(&w, 4000));
	assert_false(ntm_replay_check(&w, top - NTM_REPLAY_WINDOW - 1));
}

static void replay_jump_window_plus_one(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, 10));
	assert_true(accept(&w, 11 + NTM_REPLAY_WINDOW));
	assert_false(ntm_replay_check(&w, 10));
	for (uint64_t c = 11; c < 11 + NTM_REPLAY_WINDOW; c++)
		assert_true(ntm_replay_check(&w, c));
}

static void replay_floor(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 500);
	assert_false(ntm_replay_check(&w, 0));
	assert_false(ntm_replay_check(&w, 499));
	assert_false(ntm_replay_check(&w, 500));
	assert_true(ntm_replay_check(&w, 501));
	assert_true(accept(&w, 600));
	assert_false(ntm_replay_check(&w, 500));
	assert_true(accept(&w, 501));
	assert_true(accept(&w, 599));
}

static void replay_floor_max(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, UINT64_MAX - 1);
	assert_false(ntm_replay_check(&w, UINT64_MAX - 1));
	assert_true(accept(&w, UINT64_MAX));
	assert_false(ntm_replay_check(&w, UINT64_MAX));
}

static void replay_reset_forgets(void **state)
{
	struct ntm_replay w;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, 7));
	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, 7));
}

static void replay_check_changes_nothing(void **state)
{
	struct ntm_replay w, before;

	ntm_replay_reset(&w, 0);
	assert_true(accept(&w, 42));
	before = w;
	assert_true(ntm_replay_check(&w, 43));
	assert_true(ntm_replay_check(&w, 41));
	assert_memory_equal(&w, &before, sizeof(w));
}

static void replay_update_ignores_rejected(void **state)
{
	struct ntm_replay w, before;

	ntm_replay_reset(&w, 10);
	assert_true(accept(&w, 5000));
	before = w;
	ntm_replay_update(&w, 5000);
	ntm_replay_update(&w, 5);
	ntm_replay_update(&w, 5000 - NTM_REPLAY_WINDOW - 1);
	assert_memory_equal(&w, &before, sizeof(w));
}

/* Reference model: a plain array of seen flags. */
#define MODEL_SPAN 40000

struct model {
	uint64_t top;
	uint64_t floor;
	bool seen[MODEL_SPAN];
};

static bool model_accept(struct model *m, uint64_t c)
{
	if (c <= m->floor || m->seen[c])
		return false;
	if (c < m->top && m->top - c > NTM_REPLAY_WINDOW)
		return false;
	m->seen[c] = true;
	if (c > m->top)
		m->top = c;
	return true;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void replay_matches_model(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct ntm_replay w;
	uint64_t seed = 0x9e3779b97f4a7c15u;
	uint64_t base = 1;

	assert_non_null(m);
	m->floor = 3;
	ntm_replay_reset(&w, 3);
	for (int i = 0; i < 200000; i++) {
		uint64_t r = xorshift(&seed);
		uint64_t c;

		/* Mostly near the front, sometimes far back, sometimes a jump. */
		if (r % 100 == 0 && base + 3000 < MODEL_SPAN - 5000)
			base += 1500 + r % 1500;
		c = base + (r >> 8) % 2600;
		c = c > 2300 ? c - 2300 : c;
		if (c >= MODEL_SPAN)
			continue;
		assert_int_equal(accept(&w, c), model_accept(m, c));
		if (base < m->top)
			base = m->top;
	}
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay_first_packet),
		cmocka_unit_test(replay_counter_zero_never),
		cmocka_unit_test(replay_first_packet_high),
		cmocka_unit_test(replay_duplicate),
		cmocka_unit_test(replay_out_of_order),
		cmocka_unit_test(replay_window_edge),
		cmocka_unit_test(replay_window_slides),
		cmocka_unit_test(replay_jump_clears_bits),
		cmocka_unit_test(replay_jump_window_plus_one),
		cmocka_unit_test(replay_floor),
		cmocka_unit_test(replay_floor_max),
		cmocka_unit_test(replay_reset_forgets),
		cmocka_unit_test(replay_check_changes_nothing),
		cmocka_unit_test(replay_update_ignores_rejected),
		cmocka_unit_test(replay_matches_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
