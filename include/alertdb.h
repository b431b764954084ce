/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The engine's tables: rule state per rule and child (the level last
 * alerted, so an alert fires once per upward crossing and survives
 * restarts), alerts with their outbox rows (one delivery per route), and
 * deadlines.  All writes happen inside the transaction of the event (or
 * clock tick) that caused them.
 */
#ifndef MISPER_ALERTDB_H
#define MISPER_ALERTDB_H

#include <stdint.h>

#include <jansson.h>

#include "rules.h"
#include "store.h"

struct alertdb;

struct rule_state {
	enum level	 level;		/* as last evaluated */
	enum level	 alerted;	/* highest alerted in this crossing */
};

struct deadline_row {
	int64_t		 id;
	char		 rule[EVENT_ID_MAX + 1];
	char		 digest[72];
	char		 child[EVENT_ID_MAX + 1];
	char		 episode[EVENT_ID_MAX + 1];	/* "" for child scope */
	int64_t		 start_seq;
	int64_t		 start_at_ms;
	int64_t		 due_at_ms;
};

/* alertdb.c */
struct alertdb	*alertdb_new(struct store *);
void		 alertdb_free(struct alertdb *);
/*
 * The state of (rule, child, scope); a row written under another digest
 * (the rule's meaning changed) reads as fresh.  0 or -1.
 */
int		 alertdb_state_get(struct alertdb *, const struct rule *,
		     const char *child, const char *scope, struct rule_state *);
int		 alertdb_state_put(struct alertdb *, const struct rule *,
		     const char *child, const char *scope,
		     const struct rule_state *, int64_t seq);
/* The next alert seq (inside the transaction). */
int64_t		 alertdb_next_seq(struct alertdb *);
/*
 * Store alert (the contract object; its "alert" and "seq" already set) and
 * one pending delivery per route.  0 or -1.
 */
int		 alertdb_insert(struct alertdb *, json_t *alert,
		     int64_t raised_at_ms, int64_t event_at_ms, int64_t event_seq);
/* The ids of the alerts an event raised, appended to ids.  0 or -1. */
int		 alertdb_alerts_of_event(struct alertdb *, int64_t seq,
		     json_t *ids);
/*
 * Call fn with each alert after *last, in seq order (its body, rule and
 * level name as stored); advances *last.
 */
int		 alertdb_alerts_after(struct alertdb *, int64_t *last,
		     void (*fn)(const char *body, const char *rule,
		     const char *level, void *arg), void *arg);
/*
 * A pending deadline of rule for child (and episode, unless NULL) exists?
 * 1, 0 or -1.
 */
int		 alertdb_deadline_pending(struct alertdb *, const char *rule,
		     const char *child, const char *episode);
int		 alertdb_deadline_add(struct alertdb *, const struct rule *,
		     const char *child, const char *episode, int64_t start_seq,
		     int64_t start_at_ms, int64_t due_at_ms);
/*
 * Mark met the pending deadlines of rule for child (and episode, unless
 * NULL) that started at or before at_ms.  Returns how many, or -1.
 */
int		 alertdb_deadline_meet(struct alertdb *, const char *rule,
		     const char *child, const char *episode, int64_t at_ms,
		     int64_t seq);
/* Pending deadlines due at or before clock_ms, soonest first (at most max). */
int		 alertdb_deadlines_due(struct alertdb *, int64_t clock_ms,
		     struct deadline_row *out, int max);
/* Close a deadline: status "fired" (with alert seq) or "dropped". */
int		 alertdb_deadline_close(struct alertdb *, int64_t id,
		     const char *status, int64_t alert_seq);
/* The earliest pending due time: 1 and *due, 0 none, -1 error. */
int		 alertdb_next_due(struct alertdb *, int64_t *due);

#endif
