/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The token bucket of ratelimit.h.  Held tokens are counted in millionths
 * (a token earns 1,000,000 a second times the rate), so each refill adds
 * exactly what the elapsed microseconds earned.  The largest bucket,
 * 2^32 tokens, is 4.3e15 millionths, far inside an int64_t; elapsed time
 * is capped at what refills an empty bucket before multiplying, so a long
 * quiet spell cannot overflow either.
 */
#include <stdint.h>

#include "ratelimit.h"

#define RATELIMIT_ONE	1000000LL	/* one token, in millionths */

/* The most millionths the bucket holds. */
static int64_t
ratelimit_cap(const struct ratelimit *rl)
{
	return (int64_t)rl->burst * RATELIMIT_ONE;
}

/* Start full. */
void
ratelimit_init(struct ratelimit *rl, uint32_t rate, uint32_t burst,
    int64_t now_us)
{
	rl->rate = rate;
	rl->burst = burst > 0 ? burst : 1;
	rl->micro = ratelimit_cap(rl);
	rl->last_us = now_us;
}

/* Refill for the time since the last refill; is a token there? */
int
ratelimit_ready(struct ratelimit *rl, int64_t now_us)
{
	int64_t	 elapsed, full_us;

	if (rl->rate == 0)
		return 1;
	elapsed = now_us - rl->last_us;
	/* a clock that went back (it should not: monotonic) earns nothing */
	if (elapsed > 0) {
		/* the time that fills an empty bucket, rounded up */
		full_us = (ratelimit_cap(rl) + rl->rate - 1) / rl->rate;
		if (elapsed >= full_us)
			rl->micro = ratelimit_cap(rl);
		else {
			rl->micro += elapsed * rl->rate;
			if (rl->micro > ratelimit_cap(rl))
				rl->micro = ratelimit_cap(rl);
		}
		rl->last_us = now_us;
	}
	return rl->micro >= RATELIMIT_ONE;
}

/* Take one token. */
void
ratelimit_take(struct ratelimit *rl)
{
	if (rl->rate != 0 && rl->micro >= RATELIMIT_ONE)
		rl->micro -= RATELIMIT_ONE;
}

/* How long until n tokens are held, from the last refill. */
int64_t
ratelimit_wait_us(const struct ratelimit *rl, uint32_t n)
{
	int64_t	 want;

	if (rl->rate == 0)
		return 0;
	if (n > rl->burst)
		n = rl->burst;
	want = (int64_t)n * RATELIMIT_ONE - rl->micro;
	if (want <= 0)
		return 0;
	return (want + rl->rate - 1) / rl->rate;
}
