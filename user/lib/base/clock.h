/* SPDX-License-Identifier: GPL-2.0-only */
/* Monotonic nanoseconds, for timing breakdowns. */
#ifndef RW_CLOCK_H
#define RW_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t rw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

#endif /* RW_CLOCK_H */
