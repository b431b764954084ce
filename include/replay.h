/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Offline replay (contract section 5): an NDJSON file of events run through
 * a rules file on a scratch database with a clock driven by event time,
 * printing the alerts that would have been raised.  With a second rules
 * file, it prints what differs.  The live database is never touched.
 */
#ifndef MISPER_REPLAY_H
#define MISPER_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct replay_opts {
	const char	*events;	/* a file, or "-" for standard input */
	const char	*rules;
	const char	*against;	/* second rules file, or NULL */
	int64_t		 until_ms;	/* run the clock on to this; -1: stop
					   at the last event's time */
	size_t		 max_line;
};

/* replay.c */
/* Returns the exit status: 0 done, 1 bad input lines, 2 cannot run. */
int	replay_run(const struct replay_opts *, FILE *out, FILE *err);

#endif
