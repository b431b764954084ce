/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Intake: turns a batch of received lines into replies, with every accepted
 * event and its consequences committed in one transaction before any reply
 * is produced (brief invariant 1).  It knows nothing of sockets, so the
 * listener, the replay command and the tests all drive the same code.
 */
#ifndef MISPER_INTAKE_H
#define MISPER_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "decode.h"
#include "store.h"

struct brief;
struct engine;
struct intake;

/* Counters for metrics and status. */
struct intake_stats {
	uint64_t	 received[EVT__COUNT];
	uint64_t	 rejected[EVERR__COUNT];
	uint64_t	 duplicates;
	uint64_t	 commits;
	uint64_t	 commit_failures;
};

/*
 * One line of a batch.  The caller sets line/len (or err for a line it
 * refused itself, e.g. line_too_long); intake_run() sets reply, a complete
 * JSON reply line without its LF (owned by the item; freed by
 * intake_item_clear()).
 */
struct intake_item {
	const char	*line;
	size_t		 len;
	int		 prerefused;	/* err already set by the caller */
	struct ev_err	 err;
	struct mevent	*decoded;	/* optional: decoded by the caller with
					   intake's options; intake takes it */
	const char	*actor;		/* optional: who sent it (audit.h); a
					   brief in its reply is audited */
	struct mevent	*ev;		/* internal */
	enum store_status status;	/* internal */
	struct store_outcome out;	/* internal */
	json_t		*alerts;	/* internal: ids raised */
	json_t		*brief;		/* internal: episode.reported */
	char		*reply;
};

/* The clock that stamps alerts: the wall clock live, event time in replay. */
typedef int64_t (*intake_clock_fn)(void *arg);

/* Called after a batch that raised alerts has committed. */
typedef void (*intake_commit_fn)(void *arg);
/*
 * Called before the commit of a batch that raised alerts, in its
 * transaction: 0, or -1 to roll the batch back (every event unavailable).
 */
typedef int (*intake_precommit_fn)(void *arg);

/* intake.c */
/*
 * Intake over store, judging events with engine and answering
 * episode.reported with brief (both borrowed; either may be NULL).
 */
struct intake	*intake_new(struct store *, struct engine *, struct brief *,
		     const struct decode_opts *);
void		 intake_set_clock(struct intake *, intake_clock_fn, void *);
/* Replies stay NULL; err still says why a line was refused (replay). */
void		 intake_set_no_replies(struct intake *);
void		 intake_set_commit_hook(struct intake *, intake_commit_fn,
		     void *);
void		 intake_set_precommit_hook(struct intake *,
		     intake_precommit_fn, void *);
/* The decoder options in use (the indicator catalogue changes on reload). */
void		 intake_set_decode_opts(struct intake *,
		     const struct decode_opts *);
void		 intake_free(struct intake *);
/* Decode, apply and commit n items; fills every item's reply. */
void		 intake_run(struct intake *, struct intake_item *items, size_t n);
void		 intake_item_clear(struct intake_item *);
const struct intake_stats *intake_stats(struct intake *);

#endif
