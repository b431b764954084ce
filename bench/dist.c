/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/* A distribution of durations as JSON (bench/dist.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist.h"

static int
dist_cmp(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
dist_print(const char *name, int64_t *ns, size_t n)
{
	static const double	 ps[] = { 0.5, 0.9, 0.99, 0.999 };
	static const char *const pn[] = { "p50", "p90", "p99", "p99_9" };
	double			 sum = 0;
	size_t			 i, k;

	printf("\"%s\":{\"n\":%zu", name, n);
	if (n > 0) {
		qsort(ns, n, sizeof *ns, dist_cmp);
		for (i = 0; i < n; i++)
			sum += (double)ns[i];
		for (i = 0; i < sizeof ps / sizeof ps[0]; i++) {
			/* nearest rank */
			k = (size_t)(ps[i] * (double)n + 0.999999);
			k = k == 0 ? 0 : k - 1;
			printf(",\"%s_us\":%.1f", pn[i], (double)ns[k] / 1e3);
		}
		printf(",\"max_us\":%.1f,\"mean_us\":%.1f",
		    (double)ns[n - 1] / 1e3, sum / (double)n / 1e3);
	}
	printf("}");
}
