/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The rules loader's conditions and typed values.  A condition in YAML is a
 * mapping of tests ({risk: high, age_under: 14}, an ALL of them), with
 * all/any/not to combine; each test is one row of cond_keys below, which
 * gives its enum cond_op, how its value is read, and where it may be
 * written.  Values are read from the node tree of yamlload.c, and every
 * problem is recorded at the node's line and column.  Also the canonical
 * rendering of a rule's meaning, conditions included, that its digest is
 * the sha256 of.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "event.h"
#include "log.h"
#include "rulecond.h"
#include "rules.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "yamlload.h"

#define COND_NUMBER_MAX	1000000.0	/* larger numbers are refused */
#define COND_NAME_MAX	128		/* longest reason or flag */
#define COND_WITHIN_MAX	(3650 * 86400000LL)	/* has_indicators look-back */

/* How a test's value is read. */
enum cond_arg {
	CARG_COMBINE,		/* all, any: a list of conditions */
	CARG_NOT,		/* not: one condition */
	CARG_ENUM,		/* names of an enumeration, into mask */
	CARG_BOOL,		/* true or false, into flag */
	CARG_REASONS,		/* flag reasons, [] for any */
	CARG_INDICATORS,	/* indicator ids of the catalogue */
	CARG_WEIGHT,		/* a weight, > 0 */
	CARG_GROUPS,		/* declared indicator groups */
	CARG_AGE,		/* whole years, 1 to 25 */
	CARG_FLAGS,		/* child profile flags */
	CARG_HAS_INDICATORS	/* {groups: [...], within: duration} */
};

#define CCTX_ALL	(CCTX_EVENT | CCTX_EPISODE | CCTX_CHILD)

/* One test (or combinator) a condition may use. */
struct cond_key {
	const char	*name;
	enum cond_op	 op;
	enum cond_arg	 arg;
	unsigned	 ctx;		/* where it may be written */
	const char	*(*value)(int);	/* CARG_ENUM: i-th name or NULL */
	const char	*what;		/* CARG_ENUM: for messages */
};

static const char	*cond_type_name(int);
static const char	*cond_category_name(int);
static const char	*cond_risk_name(int);
static const char	*cond_interview_name(int);
static const char	*cond_plan_name(int);
static struct cond	*cond_read(struct rules_load *, const struct yl_node *,
			    enum cond_ctx, const char *);

static const struct cond_key cond_keys[] = {
	{ "all", COND_ALL, CARG_COMBINE, CCTX_ALL, NULL, NULL },
	{ "any", COND_ANY, CARG_COMBINE, CCTX_ALL, NULL, NULL },
	{ "not", COND_NOT, CARG_NOT, CCTX_ALL, NULL, NULL },
	{ "type", COND_TYPE, CARG_ENUM, CCTX_EVENT, cond_type_name,
	    "event type" },
	{ "category", COND_CATEGORY, CARG_ENUM, CCTX_EVENT | CCTX_EPISODE,
	    cond_category_name, "category" },
	{ "risk", COND_RISK, CARG_ENUM, CCTX_EVENT | CCTX_EPISODE,
	    cond_risk_name, "risk grade" },
	{ "out_of_area", COND_OUT_OF_AREA, CARG_BOOL,
	    CCTX_EVENT | CCTX_EPISODE, NULL, NULL },
	{ "found_at_flagged", COND_FOUND_FLAGGED, CARG_REASONS,
	    CCTX_EVENT | CCTX_EPISODE, NULL, NULL },
	{ "indicators_any", COND_INDICATORS_ANY, CARG_INDICATORS, CCTX_EVENT,
	    NULL, NULL },
	{ "indicator_weight_at_least", COND_INDICATOR_WEIGHT, CARG_WEIGHT,
	    CCTX_EVENT, NULL, NULL },
	{ "indicator_groups", COND_INDICATOR_GROUPS, CARG_GROUPS, CCTX_EVENT,
	    NULL, NULL },
	{ "interview_kind", COND_INTERVIEW_KIND, CARG_ENUM, CCTX_EVENT,
	    cond_interview_name, "interview kind" },
	{ "plan", COND_PLAN_KIND, CARG_ENUM, CCTX_EVENT, cond_plan_name,
	    "plan" },
	{ "age_under", COND_AGE_UNDER, CARG_AGE, CCTX_ALL, NULL, NULL },
	{ "looked_after", COND_LOOKED_AFTER, CARG_BOOL, CCTX_ALL, NULL, NULL },
	{ "cp_plan", COND_CP_PLAN, CARG_BOOL, CCTX_ALL, NULL, NULL },
	{ "flags_any", COND_FLAGS_ANY, CARG_FLAGS, CCTX_ALL, NULL, NULL },
	{ "has_indicators", COND_HAS_INDICATORS, CARG_HAS_INDICATORS,
	    CCTX_ALL, NULL, NULL },
};

#define COND_NKEYS	(sizeof cond_keys / sizeof cond_keys[0])

/* The wire names of the enumerations, by index; NULL past the end. */
static const char *
cond_type_name(int i)
{
	return i >= 0 && i < EVT__COUNT ? event_type_name(i) : NULL;
}

static const char *
cond_category_name(int i)
{
	return category_name(i);
}

static const char *
cond_risk_name(int i)
{
	return risk_name(i);
}

static const char *
cond_interview_name(int i)
{
	return interview_kind_name(i);
}

static const char *
cond_plan_name(int i)
{
	return plan_kind_name(i);
}

/* The test called name, or NULL. */
static const struct cond_key *
cond_key_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < COND_NKEYS; i++) {
		if (strcmp(cond_keys[i].name, name) == 0)
			return &cond_keys[i];
	}
	return NULL;
}

/* The test for op. */
static const struct cond_key *
cond_key_of(enum cond_op op)
{
	size_t	 i;

	for (i = 0; i < COND_NKEYS; i++) {
		if (cond_keys[i].op == op)
			return &cond_keys[i];
	}
	fatalx("rules", "no test for condition %d", (int)op);
}

/* A new condition with operator op. */
static struct cond *
cond_new(enum cond_op op)
{
	struct cond	*c;

	c = xcalloc(1, sizeof *c);
	c->op = op;
	return c;
}

/* Add kid to c's kids. */
static void
cond_add_kid(struct cond *c, struct cond *kid)
{
	c->kids = xreallocarray(c->kids, c->nkids + 1, sizeof *c->kids);
	c->kids[c->nkids++] = kid;
}

/* Where a condition of ctx is written, for messages. */
static const char *
cond_ctx_name(enum cond_ctx ctx)
{
	switch (ctx) {
	case CCTX_EPISODE:
		return "episodes (which tests each earlier episode on its own)";
	case CCTX_CHILD:
		return "a factor (which tests the child)";
	default:
		return "an event condition";
	}
}

/* Write to buf the names of the tests allowed in ctx. */
static void
cond_ctx_tests(enum cond_ctx ctx, char *buf, size_t len)
{
	size_t	 i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < COND_NKEYS && off < len; i++) {
		if ((cond_keys[i].ctx & ctx) == 0 ||
		    cond_keys[i].arg == CARG_COMBINE ||
		    cond_keys[i].arg == CARG_NOT)
			continue;
		off += snprintf(buf + off, len - off, "%s%s",
		    off == 0 ? "" : ", ", cond_keys[i].name);
	}
}

/* Is s a plain decimal, optionally signed: digits, then .digits? */
static int
cond_is_decimal(const char *s)
{
	size_t	 n;

	if (*s == '-')
		s++;
	if ((n = strspn(s, "0123456789")) == 0)
		return 0;
	s += n;
	if (*s == '.' && strspn(s + 1, "0123456789") > 0)
		s += 1 + strspn(s + 1, "0123456789");
	return *s == '\0';
}

/* Why name is not one of key's enumeration, or NULL; caller frees. */
static char *
cond_check_enum(const char *name, const void *arg)
{
	const struct cond_key	*k = arg;
	struct yl_near		 near;
	char			 list[256], *why;
	size_t			 off = 0;
	int			 i;

	yl_near_init(&near, name);
	list[0] = '\0';
	for (i = 0; k->value(i) != NULL; i++) {
		if (strcmp(k->value(i), name) == 0)
			return NULL;
		yl_near_try(&near, k->value(i));
		if (off < sizeof list)
			off += snprintf(list + off, sizeof list - off, "%s%s",
			    i == 0 ? "" : ", ", k->value(i));
	}
	if (yl_near_best(&near) != NULL)
		xasprintf(&why, "unknown %s '%.*s%s'; did you mean '%s'? It "
		    "must be one of %s", k->what, YL_SHOW(name),
		    yl_near_best(&near), list);
	else
		xasprintf(&why, "unknown %s '%.*s%s'; it must be one of %s",
		    k->what, YL_SHOW(name), list);
	return why;
}

/* Why name cannot be a flag reason or profile flag, or NULL. */
static char *
cond_check_name(const char *name, const void *arg)
{
	const char	*what = arg, *p;
	char		*why;

	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	}
	if (*p == '\0' && p - name <= COND_NAME_MAX)
		return NULL;
	xasprintf(&why, "%s '%.*s%s' must be at most %d characters, with no "
	    "control characters", what, YL_SHOW(name), COND_NAME_MAX);
	return why;
}

/* Read an enumeration test into c->mask. */
static int
cond_read_enum(struct rules_load *rl, const struct yl_node *v,
    const struct cond_key *k, struct cond *c)
{
	char	**strs;
	size_t	  n, i;
	int	  j;

	if (yl_names(&rl->errs, v, k->name, 0, cond_check_enum, k, &strs,
	    &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; strcmp(k->value(j), strs[i]) != 0; j++)
			;	/* checked above: it is there */
		c->mask |= 1u << j;
	}
	yl_strs_free(strs, n);
	return 0;
}

/* Read found_at_flagged: reasons, or [] for any. */
static int
cond_read_reasons(struct rules_load *rl, const struct yl_node *v,
    struct cond *c)
{
	int	 flag;

	if (v->type == YL_SCALAR && v->plain &&
	    yl_bool_word(v->text, &flag) == 0) {
		yl_error(&rl->errs, &v->mark, "found_at_flagged takes a list "
		    "of flag reasons, such as [rso_address], or [] for any "
		    "reason; not '%.*s%s'", YL_SHOW(v->text));
		return -1;
	}
	return yl_names(&rl->errs, v, "found_at_flagged", 1,
	    cond_check_name, "flag reason", &c->strs, &c->nstrs);
}

/* Read indicator_weight_at_least: some indicator must weigh that much. */
static int
cond_read_weight(struct rules_load *rl, const struct yl_node *v,
    struct cond *c)
{
	const struct rules	*rs = rl->rs;
	size_t			 i;

	if (rules_number(rl, v, "indicator_weight_at_least", &c->number) == -1)
		return -1;
	for (i = 0; i < rs->nindicators; i++) {
		if (rs->indicators[i].weight >= c->number)
			return 0;
	}
	yl_error(&rl->errs, &v->mark, "no indicator in the catalogue weighs "
	    "%g or more, so this test could never be true", c->number);
	return -1;
}

/* Read age_under: whole years from 1 to 25. */
static int
cond_read_age(struct rules_load *rl, const struct yl_node *v,
    struct cond *c)
{
	const char	*text;

	if ((text = yl_scalar(&rl->errs, v, "age_under")) == NULL)
		return -1;
	if (strspn(text, "0123456789") != strlen(text) || strlen(text) > 2 ||
	    atoi(text) < 1 || atoi(text) > 25) {
		yl_error(&rl->errs, &v->mark, "age_under '%.*s%s' must be a "
		    "whole number of years from 1 to 25", YL_SHOW(text));
		return -1;
	}
	c->number = atoi(text);
	return 0;
}

/* Read has_indicators: {groups: [...] (optional), within: duration}. */
static int
cond_read_has(struct rules_load *rl, const struct yl_node *v,
    struct cond *c)
{
	static const char *const keys[] = { "groups", "within" };
	struct rules_in		 in = { rl->rs, RULES_GROUPS };
	const struct yl_node	*within, *groups;
	size_t			 i;
	int			 bad = 0;

	if (v->type != YL_MAP) {
		yl_error(&rl->errs, &v->mark, "has_indicators must be a "
		    "mapping such as {within: 90d} or {groups: [cse], within: "
		    "90d}, not %s", yl_node_kind(v));
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		if (strcmp(v->pairs[i].key, "groups") != 0 &&
		    strcmp(v->pairs[i].key, "within") != 0) {
			yl_unknown(&rl->errs, &v->pairs[i].mark, "key",
			    v->pairs[i].key, "has_indicators", keys, 2);
			bad = 1;
		}
	}
	if ((groups = yl_get(v, "groups")) != NULL &&
	    yl_names(&rl->errs, groups, "groups", 0, rules_check_in, &in,
	    &c->strs, &c->nstrs) == -1)
		bad = 1;
	if ((within = yl_get(v, "within")) == NULL) {
		yl_error(&rl->errs, &v->mark, "has_indicators needs within: "
		    "how far back to look, such as within: 90d");
		bad = 1;
	} else if (rules_duration(rl, within, "within", COND_WITHIN_MAX,
	    &c->within_ms) == -1)
		bad = 1;
	return bad ? -1 : 0;
}

/* Read all/any: a list of conditions (one condition counts as a list). */
static int
cond_read_combine(struct rules_load *rl, const struct yl_node *v,
    enum cond_ctx ctx, const struct cond_key *k, struct cond *c)
{
	struct cond	*kid;
	size_t		 i;
	int		 bad = 0;

	if (v->type == YL_MAP) {
		if ((kid = cond_read(rl, v, ctx, k->name)) == NULL)
			return -1;
		cond_add_kid(c, kid);
		return 0;
	}
	if (v->type != YL_LIST || v->n == 0) {
		yl_error(&rl->errs, &v->mark, "%s needs a list of conditions, "
		    "such as %s: [{risk: high}, {age_under: 13}]", k->name,
		    k->name);
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		if ((kid = cond_read(rl, v->items[i], ctx, k->name)) == NULL)
			bad = 1;
		else
			cond_add_kid(c, kid);
	}
	return bad ? -1 : 0;
}

/* Read the value of one test into a new condition; NULL on errors. */
static struct cond *
cond_read_test(struct rules_load *rl, const struct yl_node *v,
    enum cond_ctx ctx, const struct cond_key *k)
{
	struct rules_in	 in = { rl->rs, RULES_GROUPS };
	struct cond	*c, *kid;
	int		 r = 0;

	c = cond_new(k->op);
	switch (k->arg) {
	case CARG_COMBINE:
		r = cond_read_combine(rl, v, ctx, k, c);
		break;
	case CARG_NOT:
		if ((kid = cond_read(rl, v, ctx, "not")) == NULL)
			r = -1;
		else
			cond_add_kid(c, kid);
		break;
	case CARG_ENUM:
		r = cond_read_enum(rl, v, k, c);
		break;
	case CARG_BOOL:
		r = yl_bool(&rl->errs, v, k->name, &c->flag);
		break;
	case CARG_REASONS:
		r = cond_read_reasons(rl, v, c);
		break;
	case CARG_INDICATORS:
		in.list = RULES_INDICATORS;
		r = yl_names(&rl->errs, v, k->name, 0, rules_check_in, &in,
		    &c->strs, &c->nstrs);
		break;
	case CARG_WEIGHT:
		r = cond_read_weight(rl, v, c);
		break;
	case CARG_GROUPS:
		r = yl_names(&rl->errs, v, k->name, 0, rules_check_in, &in,
		    &c->strs, &c->nstrs);
		break;
	case CARG_AGE:
		r = cond_read_age(rl, v, c);
		break;
	case CARG_FLAGS:
		r = yl_names(&rl->errs, v, k->name, 0, cond_check_name,
		    "profile flag", &c->strs, &c->nstrs);
		break;
	case CARG_HAS_INDICATORS:
		r = cond_read_has(rl, v, c);
		break;
	}
	if (r == -1) {
		rules_cond_free(c);
		return NULL;
	}
	return c;
}

/* Report key, unknown or misplaced as a test in ctx. */
static void
cond_bad_key(struct rules_load *rl, const struct yl_pair *p,
    enum cond_ctx ctx, const char *where)
{
	const struct cond_key	*k;
	const char		*names[COND_NKEYS];
	char			 tests[512];
	size_t			 i;

	if ((k = cond_key_find(p->key)) != NULL) {
		cond_ctx_tests(ctx, tests, sizeof tests);
		yl_error(&rl->errs, &p->mark, "%s cannot be used in %s; the "
		    "tests there are %s, combined with all, any and not",
		    k->name, cond_ctx_name(ctx), tests);
		return;
	}
	if (strcmp(p->key, "kind") == 0) {
		yl_error(&rl->errs, &p->mark, "'kind' is not a test; to test "
		    "an interview's kind write interview_kind: return_home");
		return;
	}
	if (rules_is_rule_key(p->key)) {
		yl_error(&rl->errs, &p->mark, "'%s' is not a test; it belongs "
		    "to the rule itself, outside %s", p->key, where);
		return;
	}
	for (i = 0; i < COND_NKEYS; i++)
		names[i] = cond_keys[i].name;
	yl_unknown(&rl->errs, &p->mark, "test", p->key, where, names,
	    COND_NKEYS);
}

/* Read the condition at v (the value of where); NULL on errors. */
static struct cond *
cond_read(struct rules_load *rl, const struct yl_node *v, enum cond_ctx ctx,
    const char *where)
{
	const struct cond_key	*k;
	struct cond		*all, *c;
	size_t			 i;
	int			 bad = 0;

	if (yl_is_null(v)) {
		yl_error(&rl->errs, &v->mark, "%s needs a condition, such as "
		    "{risk: high}", where);
		return NULL;
	}
	if (v->type != YL_MAP || v->n == 0) {
		yl_error(&rl->errs, &v->mark, "%s must be a mapping of tests, "
		    "such as {risk: high, age_under: 13}, not %s", where,
		    v->type == YL_MAP ? "an empty mapping" : yl_node_kind(v));
		return NULL;
	}
	all = cond_new(COND_ALL);
	for (i = 0; i < v->n; i++) {
		k = cond_key_find(v->pairs[i].key);
		if (k == NULL || (k->ctx & ctx) == 0) {
			cond_bad_key(rl, &v->pairs[i], ctx, where);
			bad = 1;
		} else if ((c = cond_read_test(rl, v->pairs[i].value, ctx,
		    k)) == NULL)
			bad = 1;
		else
			cond_add_kid(all, c);
	}
	if (bad) {
		rules_cond_free(all);
		return NULL;
	}
	if (all->nkids == 1) {	/* one test: no ALL around it */
		c = all->kids[0];
		all->nkids = 0;
		rules_cond_free(all);
		return c;
	}
	return all;
}

/* Compare two strings through pointers, for qsort. */
static int
cond_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is s one of strs? */
static int
cond_in(const char *s, char *const *strs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, strs[i]) == 0)
			return 1;
	}
	return 0;
}

/* Write the indicator ids meeting c (weight or groups test), sorted. */
static void
cond_render_catalogue(const struct rules *rs, const struct cond *c, FILE *f)
{
	const struct indicator_def	*d;
	char				**ids;
	size_t				  i, n = 0;

	if (rs->nindicators == 0)
		return;
	ids = xreallocarray(NULL, rs->nindicators, sizeof *ids);
	for (i = 0; i < rs->nindicators; i++) {
		d = &rs->indicators[i];
		if (c->op == COND_INDICATOR_WEIGHT ? d->weight >= c->number :
		    cond_in(d->group, c->strs, c->nstrs))
			ids[n++] = d->id;
	}
	fputs("[", f);
	rules_render_sorted(ids, n, f);
	fputs("]", f);
	free(ids);
}

/* Write the kids of an ALL or ANY, each rendered, in sorted order. */
static void
cond_render_kids(const struct rules *rs, const struct cond *c, FILE *f)
{
	char	**text;
	size_t	  i, len;
	FILE	 *m;

	text = xreallocarray(NULL, c->nkids, sizeof *text);
	for (i = 0; i < c->nkids; i++) {
		if ((m = open_memstream(&text[i], &len)) == NULL)
			fatal("rules", "open_memstream");
		rules_cond_render(rs, c->kids[i], m);
		fclose(m);
	}
	rules_render_sorted(text, c->nkids, f);
	for (i = 0; i < c->nkids; i++)
		free(text[i]);
	free(text);
}

/* Write the names of mask's bits for an enumeration test. */
static void
cond_render_mask(const struct cond_key *k, unsigned mask, FILE *f)
{
	int	 i, first = 1;

	for (i = 0; k->value(i) != NULL; i++) {
		if (mask & (1u << i)) {
			fprintf(f, "%s%s", first ? "" : ",", k->value(i));
			first = 0;
		}
	}
}

/* Write the lower-case hex of n bytes at md to out (2n + 1 bytes). */
static void
rules_hex(const unsigned char *md, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Write the thresholds of r. */
static void
rules_render_thresholds(const struct rule *r, FILE *f)
{
	size_t	 i;

	fputs("thresholds=", f);
	for (i = 0; i < r->nthresholds; i++)
		fprintf(f, "%s%s:%.17g", i == 0 ? "" : ",",
		    level_name(r->thresholds[i].level), r->thresholds[i].value);
	fputs("\n", f);
}

/* Write a score rule's groups, factors and the weights it counts. */
static void
rules_render_score(const struct rules *rs, const struct rule *r, FILE *f)
{
	char	**text;
	size_t	  i, j, len, n = 0;
	FILE	 *m;

	fputs("groups=", f);
	rules_render_sorted(r->groups, r->ngroups, f);
	fputs("\nfactors=", f);
	text = xreallocarray(NULL, r->nfactors + rs->nindicators + 1,
	    sizeof *text);
	for (i = 0; i < r->nfactors; i++) {
		if ((m = open_memstream(&text[i], &len)) == NULL)
			fatal("rules", "open_memstream");
		fprintf(m, "%.17g*", r->factors[i].multiply);
		rules_cond_render(rs, r->factors[i].when, m);
		fclose(m);
	}
	rules_render_sorted(text, r->nfactors, f);
	for (i = 0; i < r->nfactors; i++)
		free(text[i]);
	for (i = 0; i < rs->nindicators; i++) {
		for (j = 0; j < r->ngroups; j++) {
			if (strcmp(rs->indicators[i].group, r->groups[j]) == 0)
				break;
		}
		if (r->ngroups == 0 || j < r->ngroups)
			xasprintf(&text[n++], "%s:%.17g", rs->indicators[i].id,
			    rs->indicators[i].weight);
	}
	fputs("\nweights=", f);
	rules_render_sorted(text, n, f);
	fputs("\n", f);
	for (i = 0; i < n; i++)
		free(text[i]);
	free(text);
}

/* Write cond c (or "-") as the line "name=...". */
static void
rules_render_cond(const struct rules *rs, const char *name,
    const struct cond *c, FILE *f)
{
	fprintf(f, "%s=", name);
	if (c != NULL)
		rules_cond_render(rs, c, f);
	else
		fputs("-", f);
	fputs("\n", f);
}

/* The i-th name declared in list l of rs, or NULL past the end. */
static const char *
cond_declared(const struct rules *rs, enum rules_list l, size_t i)
{
	switch (l) {
	case RULES_GROUPS:
		return i < rs->ngroups ? rs->groups[i] : NULL;
	case RULES_ROUTES:
		return i < rs->nroutes ? rs->routes[i].id : NULL;
	default:
		return i < rs->nindicators ? rs->indicators[i].id : NULL;
	}
}

/* A single value that is a sentence, at most RULES_TEXT_MAX bytes. */
const char *
rules_text(struct rules_load *rl, const struct yl_node *v, const char *key)
{
	const char	*text;

	if ((text = yl_scalar(&rl->errs, v, key)) == NULL)
		return NULL;
	if (strlen(text) > RULES_TEXT_MAX) {
		yl_error(&rl->errs, &v->mark, "%s is %zu bytes long; the limit "
		    "is %d", key, strlen(text), RULES_TEXT_MAX);
		return NULL;
	}
	return text;
}

/* A number such as 3 or 1.5, greater than 0. */
int
rules_number(struct rules_load *rl, const struct yl_node *v,
    const char *key, double *d)
{
	const char	*text;

	if ((text = yl_scalar(&rl->errs, v, key)) == NULL)
		return -1;
	if (!cond_is_decimal(text)) {
		yl_error(&rl->errs, &v->mark, "%s '%.*s%s' is not a number; "
		    "write digits, as in 3 or 1.5", key, YL_SHOW(text));
		return -1;
	}
	*d = strtod(text, NULL);
	if (!(*d > 0)) {
		yl_error(&rl->errs, &v->mark, "%s must be greater than 0", key);
		return -1;
	}
	if (*d > COND_NUMBER_MAX) {
		yl_error(&rl->errs, &v->mark, "%s must be at most %.0f", key,
		    COND_NUMBER_MAX);
		return -1;
	}
	return 0;
}

/* A duration with a unit ("90d"), greater than 0, at most max_ms. */
int
rules_duration(struct rules_load *rl, const struct yl_node *v,
    const char *key, int64_t max_ms, int64_t *ms)
{
	const char	*text;
	size_t		 n;

	if ((text = yl_scalar(&rl->errs, v, key)) == NULL)
		return -1;
	n = strlen(text);
	if (time_parse_duration(text, ms) == -1 || n == 0 ||
	    (text[n - 1] >= '0' && text[n - 1] <= '9')) {
		yl_error(&rl->errs, &v->mark, "%s '%.*s%s' is not a duration; "
		    "write a whole number and a unit (ms, s, m, h, d or w), as "
		    "in 72h or 90d", key, YL_SHOW(text));
		return -1;
	}
	if (*ms <= 0 || *ms > max_ms) {
		yl_error(&rl->errs, &v->mark, "%s must be more than 0 and at "
		    "most %lldd", key, (long long)(max_ms / 86400000));
		return -1;
	}
	return 0;
}

/* Why id is not a valid id of what: [a-z0-9_-] (and '.'), 1 to 64. */
char *
rules_check_id(const char *what, const char *id, int dots)
{
	const char	*ok = dots ? "abcdefghijklmnopqrstuvwxyz0123456789_-." :
			    "abcdefghijklmnopqrstuvwxyz0123456789_-";
	char		*why;
	size_t		 n = strlen(id);

	if (n > 0 && n <= RULES_ID_MAX && strspn(id, ok) == n)
		return NULL;
	xasprintf(&why, "%s id '%.*s%s' must be 1 to %d lower-case letters, "
	    "digits, '_' or '-'%s", what, YL_SHOW(id), RULES_ID_MAX,
	    dots ? " or '.'" : "");
	return why;
}

/* Why name is not declared in in->list, or NULL; caller frees. */
char *
rules_check_in(const char *name, const void *arg)
{
	static const char *const what[] = { "group", "route", "indicator" };
	const struct rules_in	*in = arg;
	const char		*d;
	struct yl_near		 near;
	char			*why;
	size_t			 i;

	yl_near_init(&near, name);
	for (i = 0; (d = cond_declared(in->rs, in->list, i)) != NULL; i++) {
		if (strcmp(d, name) == 0)
			return NULL;
		yl_near_try(&near, d);
	}
	if (yl_near_best(&near) != NULL)
		xasprintf(&why, "unknown %s '%.*s%s'; did you mean '%s'?",
		    what[in->list], YL_SHOW(name), yl_near_best(&near));
	else
		xasprintf(&why, "unknown %s '%.*s%s'; %ss must be declared "
		    "under %ss: at the top of the file", what[in->list],
		    YL_SHOW(name), what[in->list], what[in->list]);
	return why;
}

/* Read the condition at v, the value of key, for ctx. */
struct cond *
rules_cond_read(struct rules_load *rl, const struct yl_node *v,
    enum cond_ctx ctx, const char *key)
{
	return cond_read(rl, v, ctx, key);
}

/* Free c and everything below it.  Accepts NULL. */
void
rules_cond_free(struct cond *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nkids; i++)
		rules_cond_free(c->kids[i]);
	free(c->kids);
	yl_strs_free(c->strs, c->nstrs);
	free(c);
}

/* Write ids sorted and comma-separated to f. */
void
rules_render_sorted(char *const *ids, size_t n, FILE *f)
{
	char	**copy;
	size_t	  i;

	if (n == 0)
		return;
	copy = xreallocarray(NULL, n, sizeof *copy);
	memcpy(copy, ids, n * sizeof *copy);
	qsort(copy, n, sizeof *copy, cond_strcmp);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i == 0 ? "" : ",", copy[i]);
	free(copy);
}

/* Write c's canonical form to f. */
void
rules_cond_render(const struct rules *rs, const struct cond *c, FILE *f)
{
	const struct cond_key	*k = cond_key_of(c->op);

	if ((c->op == COND_ALL || c->op == COND_ANY) && c->nkids == 1) {
		rules_cond_render(rs, c->kids[0], f);	/* same meaning */
		return;
	}
	fprintf(f, "%s(", k->name);
	switch (k->arg) {
	case CARG_COMBINE:
		cond_render_kids(rs, c, f);
		break;
	case CARG_NOT:
		rules_cond_render(rs, c->kids[0], f);
		break;
	case CARG_ENUM:
		cond_render_mask(k, c->mask, f);
		break;
	case CARG_BOOL:
		fprintf(f, "%d", c->flag);
		break;
	case CARG_WEIGHT:
	case CARG_AGE:
		fprintf(f, "%.17g", c->number);
		break;
	case CARG_HAS_INDICATORS:
		fprintf(f, "%lld;", (long long)c->within_ms);
		rules_render_sorted(c->strs, c->nstrs, f);
		break;
	default:
		rules_render_sorted(c->strs, c->nstrs, f);
		break;
	}
	fputs(")", f);
	if (c->op == COND_INDICATOR_WEIGHT || c->op == COND_INDICATOR_GROUPS ||
	    (c->op == COND_HAS_INDICATORS && c->nstrs > 0))
		cond_render_catalogue(rs, c, f);
}

/* The hex sha256 of len bytes at buf into out (65 bytes). */
void
rules_sha256(const void *buf, size_t len, char *out)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n;

	if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) || n != 32)
		fatalx("rules", "sha256 failed");
	rules_hex(md, n, out);
}

/* Set r->digest: the sha256 of what r means, not how it is labelled. */
void
rules_digest(const struct rules *rs, struct rule *r)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("rules", "open_memstream");
	fprintf(f, "kind=%s\n", rule_kind_name(r->kind));
	rules_render_cond(rs, "when", r->when, f);
	if (r->kind == RULE_REPEAT || r->kind == RULE_SCORE) {
		fprintf(f, "window=%lld\n", (long long)r->window_ms);
		rules_render_thresholds(r, f);
	}
	if (r->kind == RULE_REPEAT)
		rules_render_cond(rs, "episodes", r->episodes, f);
	if (r->kind == RULE_SCORE)
		rules_render_score(rs, r, f);
	if (r->kind == RULE_MATCH || r->kind == RULE_DEADLINE)
		fprintf(f, "level=%s\n", level_name(r->level));
	if (r->kind == RULE_DEADLINE) {
		if (r->after_rule != NULL)
			fprintf(f, "after=rule:%s@%s\n", r->after_rule,
			    level_name(r->after_level));
		else
			rules_render_cond(rs, "after", r->after, f);
		rules_render_cond(rs, "expect", r->expect, f);
		fprintf(f, "scope=%s\nwithin=%lld\n", r->scope_episode ?
		    "episode" : "child", (long long)r->within_ms);
	}
	fclose(f);
	r->digest = xmalloc(65);
	rules_sha256(text, len, r->digest);
	free(text);
}
