/* Clocks. Monotonic time drives timers; wall time only goes on the wire. */
#ifndef NTM_TIME_H
#define NTM_TIME_H

#include <stdint.h>

uint64_t ntm_now_ms(void);       /* CLOCK_MONOTONIC in milliseconds */
uint64_t ntm_now_us(void);       /* CLOCK_MONOTONIC in microseconds */
uint64_t ntm_wall_ms(void);      /* CLOCK_REALTIME, Unix milliseconds */

#endif
