/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * How many items the next run of some work may take so that it lasts
 * about a time budget: a batch of lines (listener.c), a round of
 * deadlines (daemon.c).  Nothing else runs on the loop while one runs,
 * so each is held to its budget by a moving average of what one item
 * costs (weight 1/8 to the latest run), between a minimum and a maximum.
 *
 * The caller leaves the commit out of the time it passes: its fsync is
 * paid once a run whatever the size, and counted per item it would shrink
 * the runs exactly when the disk is slow and large ones pay most.  The
 * caller measures the time, so the arithmetic is testable.
 */
#ifndef MISPER_SIZER_H
#define MISPER_SIZER_H

#include <stddef.h>
#include <stdint.h>

struct sizer {
	int64_t		 budget_us;	/* the time a run aims to take */
	int64_t		 unit_us;	/* an item's cost, averaged */
	size_t		 min;		/* items a run takes at least ... */
	size_t		 max;		/* ... and at most */
	size_t		 size;		/* items the next run may take */
};

/* sizer.c */
/* Start from unit_us an item, before any is measured (unit_us >= 1). */
void		 sizer_init(struct sizer *, int64_t budget_us, int64_t unit_us,
		     size_t min, size_t max);
/* A run of n items (n >= 1) took us besides its commit: size the next. */
void		 sizer_measure(struct sizer *, size_t n, int64_t us);

#endif
