/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The child's risk brief: what misperd already knows about a child, for
 * the call handler (the "brief" of an episode.reported reply, contract
 * section 3) and, in full, for officers (the API and CLI).  Its fields are
 * documented in docs/protocol.md.
 */
#ifndef MISPER_BRIEF_H
#define MISPER_BRIEF_H

#include <stdint.h>

#include <jansson.h>

#include "rules.h"
#include "store.h"

struct brief;
struct history;
struct sqlite3_stmt;

/* brief.c */
struct brief	*brief_new(struct store *);
/* Finalizes its statements: call before store_free(). */
void		 brief_free(struct brief *);
/*
 * The brief of child as at at_ms (new JSON object, caller decrefs), with
 * episode (may be NULL) left out of the prior-episode counts.  NULL on a
 * storage error.
 */
json_t		*brief_child(struct brief *, const struct rules *,
		     const char *child, const char *episode, int64_t at_ms);
/*
 * The same members added to the object o: 0, 1 when the child is not on
 * record (o says "known": false), -1 on a storage error.  For views that
 * wrap the brief (childview.c).
 */
int		 brief_fill(struct brief *, const struct rules *,
		     const char *child, const char *episode, int64_t at_ms,
		     json_t *o);
/* The history reader the brief reads with (borrowed). */
struct history	*brief_history(struct brief *);
/* JSON as the brief writes it: a text column or null, a time, a tri-state. */
json_t		*brief_json_col(struct sqlite3_stmt *, int col);
json_t		*brief_json_time(int64_t ms);
json_t		*brief_json_tri(int);

#endif
