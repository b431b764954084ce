/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * A distribution of durations, printed the one way the benchmark's tools
 * report them (bench/loadgen, bench/baseline), for scripts/bench.py.
 */
#ifndef MISPER_BENCH_DIST_H
#define MISPER_BENCH_DIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * Print "name":{"n":..,"p50_us":..,"p90_us":..,"p99_us":..,"p99_9_us":..,
 * "max_us":..,"mean_us":..} (nearest-rank percentiles) of the n durations
 * in ns, to standard output, sorting ns in place.  Only "n" when n is 0.
 */
void	 dist_print(const char *name, int64_t *ns, size_t n);

#endif
