/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Scoring exploitation indicators for a score rule: each distinct
 * indicator counts once in a window, with the weight the catalogue gives
 * it (brief, "Rule kinds": score).
 */
#include <string.h>

#include "score.h"

/* Is indicator def in one of the rule's groups (or does it count all)? */
int
score_counts(const struct rule *r, const struct indicator_def *def)
{
	size_t	 i;

	if (r->ngroups == 0)
		return 1;
	for (i = 0; i < r->ngroups; i++)
		if (strcmp(r->groups[i], def->group) == 0)
			return 1;
	return 0;
}

/* The weighted sum of the distinct counted indicators in (end - w, end]. */
double
score_window(const struct rule *r, const struct rules *rules,
    const struct indicator_row *rows, size_t n, int64_t end,
    score_add_fn add, void *arg)
{
	const struct indicator_def	*def;
	int64_t				 from = end - r->window_ms;
	double				 sum = 0;
	size_t				 i, j;
	int				 seen;

	for (i = 0; i < n; i++) {
		if (rows[i].at_ms <= from || rows[i].at_ms > end)
			continue;
		if ((def = rules_indicator(rules, rows[i].indicator)) == NULL ||
		    !score_counts(r, def))
			continue;
		for (j = 0, seen = 0; j < i && !seen; j++)
			seen = rows[j].at_ms > from && rows[j].at_ms <= end &&
			    strcmp(rows[j].indicator, rows[i].indicator) == 0;
		if (!seen)
			sum += def->weight;
		if (add != NULL)
			add(arg, &rows[i], def, !seen);
	}
	return sum;
}
