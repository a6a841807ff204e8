/* Token bucket for rate-limiting log lines caused by peers. */
#ifndef NTM_RATELIMIT_H
#define NTM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ntm_ratelimit {
	uint32_t burst;        /* events allowed at once */
	uint32_t per_second;   /* refill rate */
	double tokens;
	uint64_t last_ms;
	uint64_t suppressed;   /* events refused since the last allowed one */
};

#define NTM_RATELIMIT_INIT(burst_, rate_) \
	{ .burst = (burst_), .per_second = (rate_), .tokens = (burst_) }

/* Returns true when the event may be logged now; counts it as suppressed otherwise. */
bool ntm_ratelimit_allow(struct ntm_ratelimit *rl, uint64_t now_ms);

#endif
