/* Token bucket: burst tokens at most, refilled at per_second tokens a second. */
#include "ntm_ratelimit.h"

bool ntm_ratelimit_allow(struct ntm_ratelimit *rl, uint64_t now_ms)
{
	if (now_ms > rl->last_ms) {
		double refill = (double)(now_ms - rl->last_ms) * rl->per_second / 1000.0;

		rl->tokens += refill;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ms = now_ms;
	}

	if (rl->tokens < 1.0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens -= 1.0;
	rl->suppressed = 0;
	return true;
}
