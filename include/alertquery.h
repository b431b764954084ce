/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reading alerts for people and programs: the lists and the full record
 * of one alert (evidence, acknowledgement, deliveries, webhook attempts,
 * escalations) in the shapes of docs/api.md, and the counts the status
 * and metrics report.  Built here once, so the HTTP API, misperctl and the
 * metrics show the same thing.  Read-only; statements are prepared per
 * call (these are rare requests), so none outlives the store.
 */
#ifndef MISPER_ALERTQUERY_H
#define MISPER_ALERTQUERY_H

#include <stdint.h>

#include <jansson.h>

#include "rules.h"

#define ALERTQUERY_LIMIT_MAX	1000	/* alerts in one page */

struct store;

/* Which alerts a list holds; every member optional. */
struct alertquery_filter {
	int		 open;		/* unacknowledged only */
	const char	*route;		/* delivered or escalated to it */
	const char	*child;
	int64_t		 since_ms;	/* raised at or after; INT64_MIN: any */
	int64_t		 before_seq;	/* seq below it (paging); 0: any */
	int64_t		 limit;		/* 1 to ALERTQUERY_LIMIT_MAX */
};

/* The numbers of GET /v1/status and the metrics' gauges. */
struct alertquery_counts {
	int64_t		 alerts;
	int64_t		 unacked[LEVEL__COUNT];	/* by level */
	int64_t		 pending_deliveries;	/* deliveries rows pending */
	int64_t		 pending_deadlines;
	int64_t		 children;
	int64_t		 episodes;
};

/* alertquery.c */
/*
 * The alerts f selects, newest first: {"alerts":[...],"next_before":N or
 * null}, each the contract object plus "acknowledged" and "delivery".
 * NULL if the store failed (logged).
 */
json_t		*alertquery_list(struct store *,
		     const struct alertquery_filter *f);
/*
 * Alert id in full (docs/api.md, GET /v1/alerts/{id}): 1 and *out (caller
 * decrefs), 0 when there is no such alert, -1 if the store failed.
 */
int		 alertquery_get(struct store *, const char *id, json_t **out);
/* Fill c.  0, or -1 if the store failed (logged). */
int		 alertquery_counts(struct store *, struct alertquery_counts *c);

#endif
