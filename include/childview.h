/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The officer's full view of a child (GET /v1/children/{id}, misperctl
 * brief): the brief of an episode.reported reply as of now (brief.c), and
 * the whole history behind it: every episode, indicator and alert, and the
 * timeline of the child's events with a one-line summary of each.  The
 * fields are documented in docs/api.md.
 */
#ifndef MISPER_CHILDVIEW_H
#define MISPER_CHILDVIEW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rules.h"
#include "store.h"

#define CHILDVIEW_TIMELINE_DEFAULT	200
#define CHILDVIEW_TIMELINE_MAX		5000
#define CHILDVIEW_SUMMARY_MAX		160	/* bytes of a timeline summary */

struct brief;
struct childview;

/* childview.c */
/* A view over store, around brief (both borrowed; must outlive it). */
struct childview *childview_new(struct store *, struct brief *);
/* Finalizes its statements: call before store_free().  Accepts NULL. */
void		 childview_free(struct childview *);
/*
 * The view of child as at now_ms with at most limit timeline events
 * (1 to CHILDVIEW_TIMELINE_MAX).  0 and *out (a new object, caller
 * decrefs), 1 when no event has named the child, -1 on a storage error.
 */
int		 childview_get(struct childview *, const struct rules *,
		     const char *child, int64_t now_ms, size_t limit,
		     json_t **out);
/*
 * The timeline summary of an event from its stored JSON: at most
 * CHILDVIEW_SUMMARY_MAX bytes of UTF-8, e.g. "missing, risk high, last
 * seen 12 Stockwell Road SW9 7AA".  Caller frees.
 */
char		*childview_summary(const char *body);

#endif
