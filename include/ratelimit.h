/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * A token bucket: at most rate things a second on average, with bursts of
 * up to burst.  The caller passes the time (a monotonic clock in
 * microseconds), so the arithmetic is testable and costs no system call
 * of its own.  Tokens are kept in millionths, in integers: a refill never
 * loses the fraction of a token a short interval earns.
 */
#ifndef MISPER_RATELIMIT_H
#define MISPER_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	uint32_t	 rate;		/* tokens a second; 0: no limit */
	uint32_t	 burst;		/* most tokens held */
	int64_t		 micro;		/* tokens held, in millionths */
	int64_t		 last_us;	/* when micro was last refilled */
};

/* ratelimit.c */
/*
 * Start full at now_us: rate a second (0: off), bursts of burst (0 is
 * taken as 1).
 */
void		 ratelimit_init(struct ratelimit *, uint32_t rate,
		     uint32_t burst, int64_t now_us);
/* Refill up to now_us; is there a whole token to take?  Always when off. */
int		 ratelimit_ready(struct ratelimit *, int64_t now_us);
/* Take one token (after ratelimit_ready() said yes; off: nothing). */
void		 ratelimit_take(struct ratelimit *);
/*
 * Microseconds from the last refill until n tokens are held (n above the
 * burst is taken as the burst); 0 when they are there now, or when off.
 */
int64_t		 ratelimit_wait_us(const struct ratelimit *, uint32_t n);

#endif
