/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Evaluating rule conditions (struct cond, rules.h) against one event, its
 * episode and its child.  Each leaf is a small pure matcher returning 1
 * (met), 0 (not met) or -1 (a storage error while reading history), after
 * OpenSMTPD's ruleset.c.
 */
#ifndef MISPER_COND_H
#define MISPER_COND_H

#include <stdint.h>

#include "event.h"
#include "history.h"
#include "rules.h"

struct eval_ctx {
	const struct rules		*rules;
	const struct mevent		*ev;	/* NULL: an episode on its own */
	int64_t				 at_ms;	/* the time judged */
	const struct child_view		*child;
	const struct episode_view	*episode;	/* NULL: none */
	struct history			*h;	/* NULL: no history reads */
};

/* cond.c */
/* 1 met, 0 not met, -1 error.  A NULL condition is met. */
int	cond_eval(const struct cond *, const struct eval_ctx *);
/*
 * Whether the indicator id is one c asks for (to name it in a summary): 1
 * yes, 0 no, -1 c asks for no indicator (any is relevant).
 */
int	cond_selects_indicator(const struct cond *, const struct rules *,
	    const char *id);

#endif
