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

#endif
