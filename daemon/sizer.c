/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The moving average of sizer.h, in integers: an item costs at least a
 * microsecond, so the budget divides.
 */
#include <stddef.h>
#include <stdint.h>

#include "sizer.h"

#define SIZER_WEIGHT	8	/* the latest run moves the average by 1/8 */

/* Size the next run to the budget at the average cost, within bounds. */
static void
sizer_fit(struct sizer *sz)
{
	int64_t	 n = sz->budget_us / sz->unit_us;

	sz->size = n < (int64_t)sz->min ? sz->min :
	    n > (int64_t)sz->max ? sz->max : (size_t)n;
}

/* Start from unit_us an item. */
void
sizer_init(struct sizer *sz, int64_t budget_us, int64_t unit_us, size_t min,
    size_t max)
{
	sz->budget_us = budget_us;
	sz->unit_us = unit_us;
	sz->min = min;
	sz->max = max;
	sizer_fit(sz);
}

/* Move the average by the run's cost per item and size the next run. */
void
sizer_measure(struct sizer *sz, size_t n, int64_t us)
{
	sz->unit_us += (us / (int64_t)n - sz->unit_us) / SIZER_WEIGHT;
	if (sz->unit_us < 1)
		sz->unit_us = 1;
	sizer_fit(sz);
}
