/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The rules engine: evaluates the loaded rules for the child of each event
 * inside that event's transaction, raises alerts on upward crossings only
 * (contract section 5), starts and meets deadlines, and fires the deadlines
 * that fall due as the clock moves.  The same code runs live and in
 * replay; only the clock passed in differs (brief invariant 4).
 *
 * What the engine does inside a transaction counts only if the
 * transaction commits: the alerts it raised are logged, and engine_stats
 * moves, at engine_commit(), which the caller runs once its commit has
 * succeeded; after store_rollback() or a failed store_commit() the caller
 * runs engine_abort() instead and none of it is seen.
 */
#ifndef MISPER_ENGINE_H
#define MISPER_ENGINE_H

#include <stdint.h>

#include <jansson.h>

#include "event.h"
#include "rules.h"
#include "store.h"

struct engine;

struct engine_stats {
	uint64_t	 alerts[LEVEL__COUNT];
	uint64_t	 deadlines_started;
	uint64_t	 deadlines_met;
	uint64_t	 deadlines_fired;
};

/* engine.c */
struct engine	*engine_new(struct store *);
/* Finalizes the engine's statements: call before store_free(). */
void		 engine_free(struct engine *);
/* Use rules (borrowed; must outlive their use; NULL: none). */
void		 engine_set_rules(struct engine *, const struct rules *);
const struct rules *engine_rules(struct engine *);
/*
 * Evaluate the rules for ev, just stored as out->seq, inside the open
 * transaction.  Appends the ids of alerts raised to alert_ids (a JSON
 * array).  now_ms is the clock that stamps raised_at.  0, or -1 on a
 * storage error (the caller rolls the event back).
 */
int		 engine_event(struct engine *, const struct mevent *ev,
		     const struct store_outcome *out, int64_t now_ms,
		     json_t *alert_ids);
/*
 * Fire every pending deadline due at or before clock_ms, inside the open
 * transaction.  Appends alert ids (alert_ids may be NULL).  Returns the
 * number fired, or -1.
 */
int		 engine_tick(struct engine *, int64_t clock_ms, int64_t now_ms,
		     json_t *alert_ids);
/*
 * The same, for at most one round of max due deadlines (1 to
 * ENGINE_ROUND_MAX): *more is set when others may be due, to fire in a
 * later transaction.
 */
#define ENGINE_ROUND_MAX	64
int		 engine_tick_some(struct engine *, int64_t clock_ms,
		     int64_t now_ms, json_t *alert_ids, int max, int *more);
/* The ids of the alerts event seq raised, appended (duplicate replies). */
int		 engine_alerts_of_event(struct engine *, int64_t seq,
		     json_t *alert_ids);
/* Pass each alert stored after *last to fn in order; advances *last. */
int		 engine_alerts_after(struct engine *, int64_t *last,
		     void (*fn)(const char *body, const char *rule,
		     const char *level, void *arg), void *arg);
/* The earliest pending deadline: 1 and *due, 0 none, -1 error. */
int		 engine_next_due(struct engine *, int64_t *due);
/*
 * The transaction that engine_event() and engine_tick*() ran in has
 * committed: log its alerts and add its counts to engine_stats.
 */
void		 engine_commit(struct engine *);
/* It was rolled back (or its commit failed): forget what it raised. */
void		 engine_abort(struct engine *);
/* Counts of committed transactions only. */
const struct engine_stats *engine_stats(struct engine *);

#endif
