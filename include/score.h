/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The indicator score of a score rule over one window: the sum of the
 * weights of the distinct indicators of the rule's groups recorded in
 * (end - window, end].  Shared by the engine (alerts) and the brief.
 */
#ifndef MISPER_SCORE_H
#define MISPER_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"
#include "rules.h"

/* Called for each occurrence counted (repeats of an id included). */
typedef void (*score_add_fn)(void *arg, const struct indicator_row *,
    const struct indicator_def *, int first);

/* score.c */
int	score_counts(const struct rule *, const struct indicator_def *);
double	score_window(const struct rule *, const struct rules *,
	    const struct indicator_row *rows, size_t n, int64_t end,
	    score_add_fn add, void *arg);

#endif
