/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Condition matchers.  One small function per leaf kind; cond_eval() walks
 * ALL/ANY/NOT.  What each leaf means is documented at enum cond_op in
 * rules.h and, for rule writers, in docs/rules.md.
 */
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "timeutil.h"

/* Is s one of strs? */
static int
cond_in(const char *s, char *const *strs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(s, strs[i]) == 0)
			return 1;
	return 0;
}

/* The episode's category as of this event (the event's own if none). */
static int
cond_category(const struct eval_ctx *x)
{
	if (x->episode != NULL && x->episode->category != CAT_UNSET)
		return x->episode->category;
	return x->ev != NULL ? (int)x->ev->category : CAT_UNSET;
}

/* The episode's risk as of this event. */
static int
cond_risk(const struct eval_ctx *x)
{
	if (x->episode != NULL && x->episode->risk != RISK_UNSET)
		return x->episode->risk;
	return x->ev != NULL ? (int)x->ev->risk : RISK_UNSET;
}

/* Is enum value v (possibly unset, < 0) in mask? */
static int
cond_mask(unsigned mask, int v)
{
	return v >= 0 && v < 32 && (mask & (1u << v)) != 0;
}

/* Found out of area == flag. */
static int
cond_out_of_area(const struct cond *c, const struct eval_ctx *x)
{
	int	 v = TRI_UNSET;

	if (x->ev != NULL && x->ev->out_of_area != TRI_UNSET)
		v = x->ev->out_of_area;
	else if (x->episode != NULL)
		v = x->episode->out_of_area;
	return v != TRI_UNSET && v == c->flag;
}

/* Found at a location flagged with one of the reasons (or any). */
static int
cond_found_flagged(const struct cond *c, const struct eval_ctx *x)
{
	size_t	 i;

	if (x->episode == NULL || x->episode->nfound_flags == 0)
		return 0;
	if (c->nstrs == 0)
		return 1;
	for (i = 0; i < x->episode->nfound_flags; i++)
		if (cond_in(x->episode->found_flags[i], c->strs, c->nstrs))
			return 1;
	return 0;
}

/* Does indicator id meet the indicator condition c (by id, weight, group)? */
static int
cond_indicator_meets(const struct cond *c, const struct rules *rules,
    const char *id)
{
	const struct indicator_def	*def;

	if (c->op == COND_INDICATORS_ANY)
		return cond_in(id, c->strs, c->nstrs);
	if ((def = rules_indicator(rules, id)) == NULL)
		return 0;
	if (c->op == COND_INDICATOR_WEIGHT)
		return def->weight >= c->number;
	return cond_in(def->group, c->strs, c->nstrs);
}

/* Does the event carry an indicator meeting c? */
static int
cond_indicator(const struct cond *c, const struct eval_ctx *x)
{
	size_t	 i;

	if (x->ev == NULL)
		return 0;
	for (i = 0; i < x->ev->nindicators; i++)
		if (cond_indicator_meets(c, x->rules, x->ev->indicators[i]))
			return 1;
	return 0;
}

/* The child's age at the judged time is under c->number. */
static int
cond_age_under(const struct cond *c, const struct eval_ctx *x)
{
	int	 age;

	if (x->child == NULL || !x->child->has_dob)
		return 0;
	age = time_age_years(x->child->dob_days, x->at_ms);
	return age >= 0 && age < c->number;
}

/* A tri-state profile field equals c->flag (unknown never matches). */
static int
cond_tri(int v, const struct cond *c)
{
	return v != TRI_UNSET && v == c->flag;
}

/* The child's profile flags include one of c->strs. */
static int
cond_flags_any(const struct cond *c, const struct eval_ctx *x)
{
	size_t	 i;

	if (x->child == NULL)
		return 0;
	for (i = 0; i < x->child->nflags; i++)
		if (cond_in(x->child->flags[i], c->strs, c->nstrs))
			return 1;
	return 0;
}

/* The child has an indicator (of c's groups) in (at - within, at]. */
static int
cond_has_indicators(const struct cond *c, const struct eval_ctx *x)
{
	const struct indicator_def	*def;
	struct indicator_row		*rows;
	size_t				 i, n;
	int				 found = 0;

	if (x->child == NULL || x->h == NULL)
		return 0;
	if (history_indicators(x->h, x->child->id,
	    x->at_ms - c->within_ms + 1, x->at_ms + 1, &rows, &n) == -1)
		return -1;
	for (i = 0; i < n && !found; i++) {
		if (c->nstrs == 0)
			found = 1;
		else if ((def = rules_indicator(x->rules,
		    rows[i].indicator)) != NULL &&
		    cond_in(def->group, c->strs, c->nstrs))
			found = 1;
	}
	free(rows);
	return found;
}

/* ALL (want 1) or ANY (want 1 of them). */
static int
cond_combine(const struct cond *c, const struct eval_ctx *x)
{
	size_t	 i;
	int	 r;

	for (i = 0; i < c->nkids; i++) {
		if ((r = cond_eval(c->kids[i], x)) == -1)
			return -1;
		if (c->op == COND_ALL && r == 0)
			return 0;
		if (c->op == COND_ANY && r == 1)
			return 1;
	}
	return c->op == COND_ALL;
}

/* Evaluate c against x: 1 met, 0 not, -1 error. */
int
cond_eval(const struct cond *c, const struct eval_ctx *x)
{
	int	 r;

	if (c == NULL)
		return 1;
	switch (c->op) {
	case COND_ALL:
	case COND_ANY:
		return cond_combine(c, x);
	case COND_NOT:
		if (c->nkids != 1 || (r = cond_eval(c->kids[0], x)) == -1)
			return -1;
		return !r;
	case COND_TYPE:
		return x->ev != NULL && cond_mask(c->mask, (int)x->ev->type);
	case COND_CATEGORY:
		return cond_mask(c->mask, cond_category(x));
	case COND_RISK:
		return cond_mask(c->mask, cond_risk(x));
	case COND_OUT_OF_AREA:
		return cond_out_of_area(c, x);
	case COND_FOUND_FLAGGED:
		return cond_found_flagged(c, x);
	case COND_INDICATORS_ANY:
	case COND_INDICATOR_WEIGHT:
	case COND_INDICATOR_GROUPS:
		return cond_indicator(c, x);
	case COND_INTERVIEW_KIND:
		return x->ev != NULL && x->ev->type == EVT_INTERVIEW_COMPLETED &&
		    cond_mask(c->mask, (int)x->ev->kind);
	case COND_PLAN_KIND:
		return x->ev != NULL && x->ev->type == EVT_PLAN_RECORDED &&
		    cond_mask(c->mask, (int)x->ev->plan);
	case COND_AGE_UNDER:
		return cond_age_under(c, x);
	case COND_LOOKED_AFTER:
		return x->child != NULL && cond_tri(x->child->looked_after, c);
	case COND_CP_PLAN:
		return x->child != NULL && cond_tri(x->child->cp_plan, c);
	case COND_FLAGS_ANY:
		return cond_flags_any(c, x);
	case COND_HAS_INDICATORS:
		return cond_has_indicators(c, x);
	}
	return -1;
}

/*
 * Does c select the event's indicator id, for naming it in a summary?  1
 * when id meets one of c's indicator conditions, 0 when it meets none, -1
 * when c has no indicator condition (every indicator is then relevant).
 * Conditions under "not" select nothing: they are met by absence.
 */
int
cond_selects_indicator(const struct cond *c, const struct rules *rules,
    const char *id)
{
	size_t	 i;
	int	 r, any = -1;

	if (c == NULL || c->op == COND_NOT)
		return -1;
	switch (c->op) {
	case COND_INDICATORS_ANY:
	case COND_INDICATOR_WEIGHT:
	case COND_INDICATOR_GROUPS:
		return cond_indicator_meets(c, rules, id);
	case COND_ALL:
	case COND_ANY:
		for (i = 0; i < c->nkids; i++) {
			if ((r = cond_selects_indicator(c->kids[i], rules,
			    id)) == 1)
				return 1;
			if (r == 0)
				any = 0;
		}
		return any;
	default:
		return -1;
	}
}
