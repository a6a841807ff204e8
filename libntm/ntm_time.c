/* Clocks: CLOCK_MONOTONIC for timers, CLOCK_REALTIME for timestamps on the wire. */
#include "ntm_time.h"

#include <time.h>

static struct timespec clock_now(clockid_t id)
{
	struct timespec ts = { 0 };

	/* clock_gettime(2) fails with EINVAL for an unsupported clock or EFAULT
	 * for a bad pointer, and neither applies to these calls. */
	(void)clock_gettime(id, &ts);
	return ts;
}

uint64_t ntm_now_ms(void)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC);

	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ntm_now_us(void)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ntm_wall_ms(void)
{
	struct timespec ts = clock_now(CLOCK_REALTIME);

	if (ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
