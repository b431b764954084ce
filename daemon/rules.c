/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Loading a rules file (docs/rules.md) into struct rules.  yamlload.c
 * parses the text into a node tree; this file reads the top level, the
 * catalogue (groups, routes, indicators) and each rule, whose kind decides
 * which of its keys are read and how; rulecond.c reads the conditions.
 * Every problem is recorded at its line and column and reading goes on;
 * checks on the file as a whole (duplicate ids, what deadlines follow,
 * reachable thresholds) come last, and a file with any error is refused
 * and freed.  A loaded file is stamped with the sha256 of its bytes and
 * each rule with the sha256 of a canonical rendering of its meaning.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rulecond.h"
#include "rules.h"
#include "xmalloc.h"
#include "yamlload.h"

#define RULES_FILE_MAX		(1024 * 1024)	/* larger files are refused */
#define RULES_COUNT_MAX		1000	/* rules, routes, indicators, groups */
#define RULES_DAY_MS		86400000LL
#define RULES_WINDOW_MAX	(3650 * RULES_DAY_MS)
#define RULES_WITHIN_MAX	(365 * RULES_DAY_MS)

#define KIND_BIT(k)	(1u << (k))
#define KINDS_ALL	0xfu
#define KINDS_COUNTED	(KIND_BIT(RULE_REPEAT) | KIND_BIT(RULE_SCORE))
#define KINDS_LEVEL	(KIND_BIT(RULE_MATCH) | KIND_BIT(RULE_DEADLINE))

static const char *const rules_top_keys[] = {
	"version", "groups", "routes", "indicators", "rules"
};
static const char *const rules_level_names[] = {
	"none", "notify", "review", "urgent"
};
static const char *const rules_kind_names[] = {
	"repeat", "score", "match", "deadline"
};

/* The keys of a rule, in the order of rule_keys[]. */
enum rule_key_id {
	RK_ID = 0, RK_KIND, RK_DESCRIPTION, RK_ENABLED, RK_ROUTES, RK_SUMMARY,
	RK_WHEN, RK_WINDOW, RK_EPISODES, RK_THRESHOLDS, RK_GROUPS, RK_FACTORS,
	RK_LEVEL, RK_AFTER, RK_EXPECT, RK_SCOPE, RK_WITHIN
};

/* A key of a rule, and which kinds take it. */
struct rule_key {
	enum rule_key_id id;
	const char	*name;
	unsigned	 kinds;		/* KIND_BIT()s */
	int		 required;
	const char	*example;	/* for "missing" messages */
};

/* A placeholder of summaries, and the kinds that fill it in. */
struct placeholder {
	const char	*name;
	unsigned	 kinds;
};

static const struct rule_key rule_keys[] = {
	{ RK_ID, "id", KINDS_ALL, 1, "id: repeat_3_in_90d" },
	{ RK_KIND, "kind", KINDS_ALL, 1, "kind: repeat" },
	{ RK_DESCRIPTION, "description", KINDS_ALL, 0, NULL },
	{ RK_ENABLED, "enabled", KINDS_ALL, 0, NULL },
	{ RK_ROUTES, "routes", KINDS_ALL, 1, "routes: [mpu]" },
	{ RK_SUMMARY, "summary", KINDS_ALL, 1, "summary: \"{child}: ...\"" },
	{ RK_WHEN, "when", KINDS_ALL, 0, NULL },
	{ RK_WINDOW, "window", KINDS_COUNTED, 1, "window: 90d" },
	{ RK_EPISODES, "episodes", KIND_BIT(RULE_REPEAT), 0, NULL },
	{ RK_THRESHOLDS, "thresholds", KINDS_COUNTED, 1,
	    "thresholds: {review: 3}" },
	{ RK_GROUPS, "groups", KIND_BIT(RULE_SCORE), 0, NULL },
	{ RK_FACTORS, "factors", KIND_BIT(RULE_SCORE), 0, NULL },
	{ RK_LEVEL, "level", KINDS_LEVEL, 1, "level: urgent" },
	{ RK_AFTER, "after", KIND_BIT(RULE_DEADLINE), 1,
	    "after: {type: episode.found}" },
	{ RK_EXPECT, "expect", KIND_BIT(RULE_DEADLINE), 1,
	    "expect: {type: episode.closed}" },
	{ RK_SCOPE, "scope", KIND_BIT(RULE_DEADLINE), 0, NULL },
	{ RK_WITHIN, "within", KIND_BIT(RULE_DEADLINE), 1, "within: 72h" },
};

#define RULE_NKEYS	(sizeof rule_keys / sizeof rule_keys[0])

static const struct placeholder placeholders[] = {
	{ "child", KINDS_ALL },
	{ "episode", KINDS_ALL },
	{ "rule", KINDS_ALL },
	{ "level", KINDS_ALL },
	{ "area", KINDS_ALL },
	{ "count", KIND_BIT(RULE_REPEAT) },
	{ "window", KINDS_COUNTED },
	{ "episodes", KIND_BIT(RULE_REPEAT) },
	{ "score", KIND_BIT(RULE_SCORE) },
	{ "indicators", KIND_BIT(RULE_SCORE) | KIND_BIT(RULE_MATCH) },
	{ "within", KIND_BIT(RULE_DEADLINE) },
	{ "due", KIND_BIT(RULE_DEADLINE) },
};

#define RULE_NPLACEHOLDERS	(sizeof placeholders / sizeof placeholders[0])

/* "repeat and score rules", from a set of kinds. */
static void
rules_kinds_phrase(unsigned kinds, char *buf, size_t len)
{
	size_t	 i, n = 0, off = 0, total = 0;

	for (i = 0; i < 4; i++)
		total += (kinds & KIND_BIT(i)) != 0;
	buf[0] = '\0';
	for (i = 0; i < 4; i++) {
		if ((kinds & KIND_BIT(i)) == 0)
			continue;
		n++;
		off += snprintf(buf + off, len - off, "%s%s",
		    n == 1 ? "" : n == total ? " and " : ", ",
		    rules_kind_names[i]);
	}
	snprintf(buf + off, len - off, " rules");
}

/* The rule key called name, or NULL. */
static const struct rule_key *
rules_key_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < RULE_NKEYS; i++) {
		if (strcmp(rule_keys[i].name, name) == 0)
			return &rule_keys[i];
	}
	return NULL;
}

/* Why name is not a valid group id, or NULL (check function form). */
static char *
rules_check_group_id(const char *name, const void *arg)
{
	(void)arg;
	return rules_check_id("group", name, 0);
}

/* Report a mapping-shaped value that is not a mapping. */
static int
rules_want_map(struct rules_load *rl, const struct yl_node *v,
    const char *key, const char *example)
{
	if (v->type == YL_MAP)
		return 0;
	yl_error(&rl->errs, &v->mark, "%s must be a mapping, such as %s, not "
	    "%s", key, example, yl_is_null(v) ? "nothing" : yl_node_kind(v));
	return -1;
}

/* Report every key of mapping v that is not one of names. */
static int
rules_only_keys(struct rules_load *rl, const struct yl_node *v,
    const char *where, const char *const *names, size_t n)
{
	size_t	 i, j;
	int	 bad = 0;

	for (i = 0; i < v->n; i++) {
		for (j = 0; j < n; j++) {
			if (strcmp(v->pairs[i].key, names[j]) == 0)
				break;
		}
		if (j == n) {
			yl_unknown(&rl->errs, &v->pairs[i].mark, "key",
			    v->pairs[i].key, where, names, n);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* Read a level name: notify, review or urgent. */
static int
rules_level(struct rules_load *rl, const struct yl_node *v, const char *key,
    enum level *level)
{
	const char	*text;

	if ((text = yl_scalar(&rl->errs, v, key)) == NULL)
		return -1;
	if (level_parse(text, level) == 0)
		return 0;
	yl_unknown(&rl->errs, &v->mark, "level", text, key,
	    rules_level_names + 1, LEVEL__COUNT - 1);
	return -1;
}

/* Check one {placeholder} of a summary for r's kind. */
static int
rules_check_placeholder(struct rules_load *rl, const struct yl_node *v,
    const struct rule *r, const char *name, size_t len)
{
	const char	*names[RULE_NPLACEHOLDERS];
	char		 key[RULES_ID_MAX + 1], kinds[64], where[96];
	size_t		 i;

	snprintf(key, sizeof key, "%.*s", (int)len, name);
	for (i = 0; i < RULE_NPLACEHOLDERS; i++) {
		names[i] = placeholders[i].name;
		if (strlen(placeholders[i].name) != len ||
		    strncmp(placeholders[i].name, name, len) != 0)
			continue;
		if (rl->kind_bit == 0 ||
		    (placeholders[i].kinds & rl->kind_bit) != 0)
			return 0;
		rules_kinds_phrase(placeholders[i].kinds, kinds, sizeof kinds);
		yl_error(&rl->errs, &v->mark, "{%s} is not filled in for a %s "
		    "rule; only %s have it", key, rule_kind_name(r->kind),
		    kinds);
		return -1;
	}
	snprintf(where, sizeof where, "summary (placeholders are written "
	    "{count}, {child}, ...)");
	yl_unknown(&rl->errs, &v->mark, "placeholder", key, where, names,
	    RULE_NPLACEHOLDERS);
	return -1;
}

/* The summary template: every {placeholder} known and filled in. */
static int
rules_read_summary(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	const char	*text, *p, *end;
	int		 bad = 0;

	if ((text = rules_text(rl, v, "summary")) == NULL)
		return -1;
	for (p = text; *p != '\0'; p++) {
		if (*p == '}') {
			yl_error(&rl->errs, &v->mark, "summary has a '}' with "
			    "no '{' before it; braces are only for "
			    "placeholders such as {count}");
			return -1;
		}
		if (*p != '{')
			continue;
		end = p + 1 + strcspn(p + 1, "{}");
		if (*end != '}') {
			yl_error(&rl->errs, &v->mark, "summary has a '{' with "
			    "no '}' after it; braces are only for "
			    "placeholders such as {count}");
			return -1;
		}
		if (rules_check_placeholder(rl, v, r, p + 1,
		    end - p - 1) == -1)
			bad = 1;
		p = end;
	}
	r->summary = xstrdup(text);
	return bad ? -1 : 0;
}

/* Read one level: value of thresholds into t, marks kept in at. */
static int
rules_read_threshold(struct rules_load *rl, const struct yl_pair *p,
    struct threshold *t)
{
	if (level_parse(p->key, &t->level) == -1) {
		yl_unknown(&rl->errs, &p->mark, "level", p->key, "thresholds",
		    rules_level_names + 1, LEVEL__COUNT - 1);
		return -1;
	}
	if (rules_number(rl, p->value, p->key, &t->value) == -1)
		return -1;
	if (rl->kind_bit == KIND_BIT(RULE_REPEAT) &&
	    t->value != (double)(int64_t)t->value) {
		yl_error(&rl->errs, &p->value->mark, "%s must be a whole "
		    "number: a repeat rule counts episodes", p->key);
		return -1;
	}
	return 0;
}

/* Levels to minimum counts or scores, higher levels strictly higher. */
static int
rules_read_thresholds(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	struct threshold	 t[LEVEL__COUNT];
	const struct yl_pair	*at[LEVEL__COUNT];
	size_t			 i;
	int			 bad = 0, l, prev = -1;

	if (rules_want_map(rl, v, "thresholds", "{review: 3, urgent: 5}") == -1)
		return -1;
	if (v->n == 0) {
		yl_error(&rl->errs, &v->mark, "thresholds is empty; give at "
		    "least one level, such as {review: 3}");
		return -1;
	}
	memset(at, 0, sizeof at);
	for (i = 0; i < v->n; i++) {
		struct threshold	 one;

		if (rules_read_threshold(rl, &v->pairs[i], &one) == -1)
			bad = 1;
		else {
			t[one.level] = one;
			at[one.level] = &v->pairs[i];
		}
	}
	for (l = LEVEL_NOTIFY; l < LEVEL__COUNT; l++) {
		if (at[l] == NULL)
			continue;
		if (prev != -1 && t[l].value <= t[prev].value) {
			yl_error(&rl->errs, &at[l]->mark, "thresholds out of "
			    "order: %s (%g) must be higher than %s (%g)",
			    level_name(l), t[l].value, level_name(prev),
			    t[prev].value);
			bad = 1;
		}
		r->thresholds[r->nthresholds++] = t[l];
		prev = l;
	}
	return bad ? -1 : 0;
}

/* One factor: {when: child condition, multiply: number}. */
static int
rules_read_factor(struct rules_load *rl, const struct yl_node *v,
    struct factor *f)
{
	static const char *const keys[] = { "when", "multiply" };
	const struct yl_node	*when, *mult;
	int			 bad = 0;

	if (rules_want_map(rl, v, "each factor",
	    "{when: {age_under: 14}, multiply: 1.5}") == -1)
		return -1;
	bad = rules_only_keys(rl, v, "a factor", keys, 2) == -1;
	if ((when = yl_get(v, "when")) == NULL) {
		yl_error(&rl->errs, &v->mark, "this factor has no when; say "
		    "which children it applies to, such as when: "
		    "{age_under: 14}");
		bad = 1;
	} else if ((f->when = rules_cond_read(rl, when, CCTX_CHILD,
	    "when")) == NULL)
		bad = 1;
	if ((mult = yl_get(v, "multiply")) == NULL) {
		yl_error(&rl->errs, &v->mark, "this factor has no multiply; "
		    "say how much it raises the score, such as multiply: 1.5");
		bad = 1;
	} else if (rules_number(rl, mult, "multiply", &f->multiply) == -1)
		bad = 1;
	return bad ? -1 : 0;
}

/* A list of factors (one factor counts as a list of one). */
static int
rules_read_factors(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	const struct yl_node	*const *items;
	size_t			 i, n;
	int			 bad = 0;

	if (v->type == YL_SCALAR || (v->type == YL_LIST && v->n == 0)) {
		yl_error(&rl->errs, &v->mark, "factors must be a list such as "
		    "[{when: {age_under: 14}, multiply: 1.5}]; leave it out "
		    "for none");
		return -1;
	}
	items = v->type == YL_LIST ? (const struct yl_node *const *)v->items :
	    (const struct yl_node *const *)&v;
	n = v->type == YL_LIST ? v->n : 1;
	r->factors = xcalloc(n, sizeof *r->factors);
	for (i = 0; i < n; i++) {
		r->nfactors++;
		if (rules_read_factor(rl, items[i], &r->factors[i]) == -1)
			bad = 1;
	}
	return bad ? -1 : 0;
}

/* after: a condition, or {rule: id, level: level}. */
static int
rules_read_after(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	static const char *const keys[] = { "rule", "level" };
	const struct yl_node	*id, *level;
	const char		*text;
	int			 bad;

	if (v->type != YL_MAP || yl_get(v, "rule") == NULL) {
		r->after = rules_cond_read(rl, v, CCTX_EVENT, "after");
		return r->after == NULL ? -1 : 0;
	}
	bad = rules_only_keys(rl, v, "after (naming a rule)", keys, 2) == -1;
	id = yl_get(v, "rule");
	if ((text = yl_scalar(&rl->errs, id, "rule")) == NULL)
		bad = 1;
	else
		r->after_rule = xstrdup(text);
	if ((level = yl_get(v, "level")) == NULL) {
		yl_error(&rl->errs, &v->mark, "after names a rule but no "
		    "level; say which level of it starts the deadline, such "
		    "as level: review");
		bad = 1;
	} else if (rules_level(rl, level, "level", &r->after_level) == -1)
		bad = 1;
	return bad ? -1 : 0;
}

static int
rules_read_scope(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	const char	*text;

	if ((text = yl_scalar(&rl->errs, v, "scope")) == NULL)
		return -1;
	if (strcmp(text, "episode") == 0 || strcmp(text, "child") == 0) {
		r->scope_episode = strcmp(text, "episode") == 0;
		return 0;
	}
	yl_error(&rl->errs, &v->mark, "scope '%.*s%s' must be episode (the "
	    "expected event must be for the same episode) or child (for the "
	    "same child)", YL_SHOW(text));
	return -1;
}

/* Read the value v of key k into r. */
static void
rules_read_value(struct rules_load *rl, const struct rule_key *k,
    const struct yl_node *v, struct rule *r)
{
	struct rules_in	 in = { rl->rs, RULES_GROUPS };
	const char	*text;

	switch (k->id) {
	case RK_ID:
	case RK_KIND:
		break;		/* read first, by rules_read_head() */
	case RK_DESCRIPTION:
		if ((text = rules_text(rl, v, "description")) != NULL)
			r->description = xstrdup(text);
		break;
	case RK_ENABLED:
		(void)yl_bool(&rl->errs, v, "enabled", &r->enabled);
		break;
	case RK_ROUTES:
		in.list = RULES_ROUTES;
		(void)yl_names(&rl->errs, v, "routes", 0, rules_check_in, &in,
		    &r->routes, &r->nroutes);
		break;
	case RK_SUMMARY:
		(void)rules_read_summary(rl, v, r);
		break;
	case RK_WHEN:
		r->when = rules_cond_read(rl, v, CCTX_EVENT, "when");
		break;
	case RK_WINDOW:
		(void)rules_duration(rl, v, "window", RULES_WINDOW_MAX,
		    &r->window_ms);
		break;
	case RK_EPISODES:
		r->episodes = rules_cond_read(rl, v, CCTX_EPISODE, "episodes");
		break;
	case RK_THRESHOLDS:
		(void)rules_read_thresholds(rl, v, r);
		break;
	case RK_GROUPS:
		(void)yl_names(&rl->errs, v, "groups", 0, rules_check_in, &in,
		    &r->groups, &r->ngroups);
		break;
	case RK_FACTORS:
		(void)rules_read_factors(rl, v, r);
		break;
	case RK_LEVEL:
		(void)rules_level(rl, v, "level", &r->level);
		break;
	case RK_AFTER:
		(void)rules_read_after(rl, v, r);
		break;
	case RK_EXPECT:
		r->expect = rules_cond_read(rl, v, CCTX_EVENT, "expect");
		break;
	case RK_SCOPE:
		(void)rules_read_scope(rl, v, r);
		break;
	case RK_WITHIN:
		(void)rules_duration(rl, v, "within", RULES_WITHIN_MAX,
		    &r->within_ms);
		break;
	}
}

/* Read id and kind, which the other keys depend on. */
static void
rules_read_head(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	const struct yl_node	*n;
	const char		*text;
	char			*why;
	int			 k;

	if ((n = yl_get(v, "id")) != NULL &&
	    (text = yl_scalar(&rl->errs, n, "id")) != NULL) {
		if ((why = rules_check_id("rule", text, 0)) != NULL) {
			yl_error(&rl->errs, &n->mark, "%s", why);
			free(why);
		} else
			r->id = xstrdup(text);
	}
	rl->kind_bit = 0;
	if ((n = yl_get(v, "kind")) == NULL ||
	    (text = yl_scalar(&rl->errs, n, "kind")) == NULL)
		return;
	for (k = 0; k < 4; k++) {
		if (strcmp(text, rules_kind_names[k]) == 0) {
			r->kind = k;
			rl->kind_bit = KIND_BIT(k);
		}
	}
	if (rl->kind_bit == 0)
		yl_unknown(&rl->errs, &n->mark, "kind", text, "a rule",
		    rules_kind_names, 4);
}

/* Report a key that r's kind does not take. */
static void
rules_wrong_kind(struct rules_load *rl, const struct yl_pair *p,
    const struct rule_key *k, const struct rule *r)
{
	char	 kinds[64];

	rules_kinds_phrase(k->kinds, kinds, sizeof kinds);
	yl_error(&rl->errs, &p->mark, "%s does not apply to a %s rule; only "
	    "%s take it", k->name, rule_kind_name(r->kind), kinds);
}

/* Read one rule (a mapping) into r. */
static void
rules_read_rule(struct rules_load *rl, const struct yl_node *v,
    struct rule *r)
{
	const struct rule_key	*k;
	const char		*names[RULE_NKEYS];
	size_t			 i;

	r->line = v->mark.line + 1;
	r->enabled = 1;
	r->scope_episode = 1;
	rules_read_head(rl, v, r);
	for (i = 0; i < RULE_NKEYS; i++)
		names[i] = rule_keys[i].name;
	for (i = 0; i < v->n; i++) {
		if ((k = rules_key_find(v->pairs[i].key)) == NULL)
			yl_unknown(&rl->errs, &v->pairs[i].mark, "key",
			    v->pairs[i].key, "a rule", names, RULE_NKEYS);
		else if (rl->kind_bit != 0 && (k->kinds & rl->kind_bit) == 0)
			rules_wrong_kind(rl, &v->pairs[i], k, r);
		else
			rules_read_value(rl, k, v->pairs[i].value, r);
	}
	for (i = 0; i < RULE_NKEYS; i++) {
		k = &rule_keys[i];
		if (!k->required || yl_get(v, k->name) != NULL ||
		    (k->kinds != KINDS_ALL && (rl->kind_bit & k->kinds) == 0))
			continue;
		if (k->kinds != KINDS_ALL)
			yl_error(&rl->errs, &v->mark, "this %s rule has no %s; "
			    "add one, such as %s", rule_kind_name(r->kind),
			    k->name, k->example);
		else
			yl_error(&rl->errs, &v->mark, "this rule has no %s; "
			    "add one, such as %s", k->name, k->example);
	}
}

/* Read the list of rules. */
static void
rules_read_rules(struct rules_load *rl, const struct yl_node *v)
{
	struct rules	*rs = rl->rs;
	size_t		 i, before;

	if (v->type != YL_LIST || v->n == 0) {
		yl_error(&rl->errs, &v->mark, "no rules: nothing to do; rules "
		    "must be a list of rules, each starting - id: ...");
		return;
	}
	if (v->n > RULES_COUNT_MAX) {
		yl_error(&rl->errs, &v->mark, "more than %d rules",
		    RULES_COUNT_MAX);
		return;
	}
	rs->rules = xcalloc(v->n, sizeof *rs->rules);
	rl->bad = xcalloc(v->n, 1);
	for (i = 0; i < v->n; i++) {
		if (rules_want_map(rl, v->items[i], "each rule",
		    "- id: ..., kind: ...") == -1)
			continue;
		before = yl_error_count(&rl->errs);
		rules_read_rule(rl, v->items[i], &rs->rules[rs->nrules]);
		rl->bad[rs->nrules++] = yl_error_count(&rl->errs) != before;
	}
}

/* version: 1. */
static void
rules_read_version(struct rules_load *rl, const struct yl_node *v)
{
	const char	*text;

	if ((text = yl_scalar(&rl->errs, v, "version")) == NULL)
		return;
	if (strcmp(text, "1") != 0)
		yl_error(&rl->errs, &v->mark, "version '%.*s%s' is not "
		    "supported; this misperd reads version 1 rules",
		    YL_SHOW(text));
}

/* groups: [cse, cce, ...]. */
static void
rules_read_group_list(struct rules_load *rl, const struct yl_node *v)
{
	struct rules	*rs = rl->rs;

	if (v->type == YL_LIST && v->n > RULES_COUNT_MAX) {
		yl_error(&rl->errs, &v->mark, "more than %d groups",
		    RULES_COUNT_MAX);
		return;
	}
	(void)yl_names(&rl->errs, v, "groups", 0, rules_check_group_id,
	    NULL, &rs->groups, &rs->ngroups);
}

/* Report key when it is not a valid id of what; -1 if so. */
static int
rules_bad_id(struct rules_load *rl, const struct yl_pair *p,
    const char *what, int dots)
{
	char	*why;

	if ((why = rules_check_id(what, p->key, dots)) == NULL)
		return 0;
	yl_error(&rl->errs, &p->mark, "%s", why);
	free(why);
	return -1;
}

/* routes: {id: description, ...}. */
static void
rules_read_routes_map(struct rules_load *rl, const struct yl_node *v)
{
	struct rules		*rs = rl->rs;
	const struct yl_pair	*p;
	const char		*text;
	size_t			 i;

	if (rules_want_map(rl, v, "routes",
	    "{mpu: \"Missing persons unit\"}") == -1)
		return;
	if (v->n == 0 || v->n > RULES_COUNT_MAX) {
		yl_error(&rl->errs, &v->mark, "routes must declare from 1 to "
		    "%d routes", RULES_COUNT_MAX);
		return;
	}
	rs->routes = xcalloc(v->n, sizeof *rs->routes);
	for (i = 0; i < v->n; i++) {
		p = &v->pairs[i];
		if (rules_bad_id(rl, p, "route", 0) == -1 ||
		    (text = rules_text(rl, p->value, p->key)) == NULL)
			continue;
		rs->routes[rs->nroutes].id = xstrdup(p->key);
		rs->routes[rs->nroutes++].description = xstrdup(text);
	}
}

/* One indicator: {label, weight, group}. */
static void
rules_read_indicator(struct rules_load *rl, const struct yl_pair *p)
{
	static const char *const keys[] = { "label", "weight", "group" };
	struct rules_in		 in = { rl->rs, RULES_GROUPS };
	struct indicator_def	*d;
	const struct yl_node	*v = p->value, *n;
	const char		*text;
	char			*why;
	size_t			 i;

	if (rules_bad_id(rl, p, "indicator", 1) == -1 ||
	    rules_want_map(rl, v, p->key, "{label: \"...\", weight: 3, "
	    "group: cse}") == -1)
		return;
	d = &rl->rs->indicators[rl->rs->nindicators++];
	d->id = xstrdup(p->key);
	d->line = p->mark.line + 1;
	(void)rules_only_keys(rl, v, "an indicator", keys, 3);
	for (i = 0; i < 3; i++) {
		if (yl_get(v, keys[i]) == NULL)
			yl_error(&rl->errs, &v->mark, "indicator '%s' has no "
			    "%s", p->key, keys[i]);
	}
	if ((n = yl_get(v, "label")) != NULL &&
	    (text = rules_text(rl, n, "label")) != NULL)
		d->label = xstrdup(text);
	if ((n = yl_get(v, "weight")) != NULL)
		(void)rules_number(rl, n, "weight", &d->weight);
	if ((n = yl_get(v, "group")) == NULL ||
	    (text = yl_scalar(&rl->errs, n, "group")) == NULL)
		return;
	if ((why = rules_check_in(text, &in)) != NULL) {
		yl_error(&rl->errs, &n->mark, "%s", why);
		free(why);
	} else
		d->group = xstrdup(text);
}

/* indicators: {id: {label, weight, group}, ...}. */
static void
rules_read_indicators(struct rules_load *rl, const struct yl_node *v)
{
	size_t	 i, before;

	if (rules_want_map(rl, v, "indicators", "{disclosed_cse: {label: "
	    "\"...\", weight: 3, group: cse}}") == -1)
		return;
	if (v->n > RULES_COUNT_MAX) {
		yl_error(&rl->errs, &v->mark, "more than %d indicators",
		    RULES_COUNT_MAX);
		return;
	}
	if (v->n > 0)
		rl->rs->indicators = xcalloc(v->n,
		    sizeof *rl->rs->indicators);
	before = yl_error_count(&rl->errs);
	for (i = 0; i < v->n; i++)
		rules_read_indicator(rl, &v->pairs[i]);
	rl->catalogue_bad = yl_error_count(&rl->errs) != before;
}

/* The highest level r can raise. */
static enum level
rules_top_level(const struct rule *r)
{
	if (r->kind == RULE_REPEAT || r->kind == RULE_SCORE)
		return r->nthresholds > 0 ?
		    r->thresholds[r->nthresholds - 1].level : LEVEL_NONE;
	return r->level;
}

/* Check what deadline r follows: another rule, enabled, that can reach
   the level. */
static void
rules_check_after(struct rules_load *rl, const struct yl_node *v,
    const struct rule *r)
{
	const struct yl_node	*n = yl_get(yl_get(v, "after"), "rule");
	const struct rule	*other;
	struct yl_near		 near;
	size_t			 i;

	if ((other = rules_find(rl->rs, r->after_rule)) == NULL) {
		yl_near_init(&near, r->after_rule);
		for (i = 0; i < rl->rs->nrules; i++) {
			if (rl->rs->rules[i].id != NULL)
				yl_near_try(&near, rl->rs->rules[i].id);
		}
		if (yl_near_best(&near) != NULL)
			yl_error(&rl->errs, &n->mark, "after names rule "
			    "'%.*s%s', which is not defined; did you mean "
			    "'%s'?", YL_SHOW(r->after_rule),
			    yl_near_best(&near));
		else
			yl_error(&rl->errs, &n->mark, "after names rule "
			    "'%.*s%s', which is not defined in this file",
			    YL_SHOW(r->after_rule));
	} else if (other == r)
		yl_error(&rl->errs, &n->mark, "after names this rule itself; "
		    "a deadline can only follow another rule");
	else if (rl->bad[other - rl->rs->rules])
		return;		/* its own errors are reported */
	else if (other->enabled == 0 && r->enabled)
		yl_error(&rl->errs, &n->mark, "after names rule '%s', which "
		    "is disabled, so this deadline could never start; disable "
		    "this rule too, or enable that one", other->id);
	else if (r->after_level > rules_top_level(other))
		yl_error(&rl->errs, &n->mark, "rule '%s' never reaches %s; "
		    "its highest level is %s", other->id,
		    level_name(r->after_level),
		    level_name(rules_top_level(other)));
}

/* The most a score rule can score: its indicators, raised by factors. */
static double
rules_max_score(const struct rules *rs, const struct rule *r)
{
	const struct indicator_def	*d;
	double				 sum = 0;
	size_t				 i, j;

	for (i = 0; i < rs->nindicators; i++) {
		d = &rs->indicators[i];
		for (j = 0; j < r->ngroups; j++) {
			if (d->group != NULL &&
			    strcmp(d->group, r->groups[j]) == 0)
				break;
		}
		if (r->ngroups == 0 || j < r->ngroups)
			sum += d->weight;
	}
	for (i = 0; i < r->nfactors; i++) {
		if (r->factors[i].multiply > 1)
			sum *= r->factors[i].multiply;
	}
	return sum;
}

/* Check that every threshold of a score rule can be reached. */
static void
rules_check_score(struct rules_load *rl, const struct yl_node *v,
    const struct rule *r)
{
	const struct yl_node	*t = yl_get(v, "thresholds");
	const struct threshold	*top;
	double			 max;

	if (r->nthresholds == 0 || t == NULL)
		return;
	top = &r->thresholds[r->nthresholds - 1];
	max = rules_max_score(rl->rs, r);
	if (top->value > max)
		yl_error(&rl->errs,
		    &yl_get_pair(t, level_name(top->level))->mark,
		    "%s (%g) can never be reached: the most this rule can "
		    "score, with every indicator it counts, is %g",
		    level_name(top->level), top->value, max);
}

/* Checks across rules, once all are read: ids, deadlines, scores. */
static void
rules_check_whole(struct rules_load *rl, const struct yl_node *list)
{
	const struct rules	*rs = rl->rs;
	const struct rule	*r;
	const struct yl_node	*v;
	size_t			 i, j, item = 0;

	for (i = 0; i < rs->nrules; i++, item++) {
		while (list->items[item]->type != YL_MAP)
			item++;		/* skipped, and reported, above */
		r = &rs->rules[i];
		v = list->items[item];
		for (j = 0; j < i && r->id != NULL; j++) {
			if (rs->rules[j].id != NULL &&
			    strcmp(rs->rules[j].id, r->id) == 0) {
				yl_error(&rl->errs, &yl_get(v, "id")->mark,
				    "duplicate rule id '%s'; the rule at line "
				    "%u has it already", r->id,
				    rs->rules[j].line);
				break;
			}
		}
		if (r->kind == RULE_DEADLINE && r->after_rule != NULL)
			rules_check_after(rl, v, r);
		if (r->kind == RULE_SCORE && !rl->bad[i] && !rl->catalogue_bad)
			rules_check_score(rl, v, r);
	}
}

/* Read the top level. */
static void
rules_read_top(struct rules_load *rl, const struct yl_node *root)
{
	static const yaml_mark_t start;
	const struct yl_node	*v;

	if (root == NULL || yl_is_null(root)) {
		yl_error(&rl->errs, root != NULL ? &root->mark : &start,
		    "no rules: nothing to do; the file is empty");
		return;
	}
	if (root->type != YL_MAP) {
		yl_error(&rl->errs, &root->mark, "the rules must be a mapping "
		    "of version, groups, routes, indicators and rules, not %s",
		    yl_node_kind(root));
		return;
	}
	(void)rules_only_keys(rl, root, "the top level", rules_top_keys, 5);
	if ((v = yl_get(root, "version")) == NULL)
		yl_error(&rl->errs, &root->mark, "the file has no version; "
		    "start it with version: 1");
	else
		rules_read_version(rl, v);
	if ((v = yl_get(root, "groups")) != NULL)
		rules_read_group_list(rl, v);
	if ((v = yl_get(root, "routes")) == NULL)
		yl_error(&rl->errs, &root->mark, "the file has no routes; "
		    "declare where alerts go, such as routes: {mpu: "
		    "\"Missing persons unit\"}");
	else
		rules_read_routes_map(rl, v);
	if ((v = yl_get(root, "indicators")) != NULL)
		rules_read_indicators(rl, v);
	if ((v = yl_get(root, "rules")) == NULL) {
		yl_error(&rl->errs, &root->mark, "no rules: nothing to do; "
		    "add a rules: list");
		return;
	}
	rules_read_rules(rl, v);
	if (rl->rs->nrules > 0)
		rules_check_whole(rl, v);
}

/* Free one rule's contents. */
static void
rules_rule_free(struct rule *r)
{
	size_t	 i;

	free(r->id);
	free(r->description);
	yl_strs_free(r->routes, r->nroutes);
	free(r->summary);
	free(r->digest);
	rules_cond_free(r->when);
	rules_cond_free(r->episodes);
	yl_strs_free(r->groups, r->ngroups);
	for (i = 0; i < r->nfactors; i++)
		rules_cond_free(r->factors[i].when);
	free(r->factors);
	rules_cond_free(r->after);
	free(r->after_rule);
	rules_cond_free(r->expect);
}

/*
 * Parse len bytes at buf; name is used in messages and copied into the
 * result's path.  NULL with every error in *cause (sorted by position).
 */
struct rules *
rules_load_buffer(const char *name, const char *buf, size_t len,
    char **cause)
{
	struct rules_load	 rl;
	struct yl_node		*root;
	char			*errors, hex[65];
	size_t			 i;

	if (cause != NULL)
		*cause = NULL;
	if (yl_size_ok(name, len, RULES_FILE_MAX, "a rules file", cause) == -1)
		return NULL;
	memset(&rl, 0, sizeof rl);
	rl.errs.name = name;
	rl.rs = xcalloc(1, sizeof *rl.rs);
	rl.rs->path = xstrdup(name);
	rules_sha256(len > 0 ? buf : "", len, hex);
	snprintf(rl.rs->version, sizeof rl.rs->version, "sha256:%s", hex);

	if (yl_parse(&rl.errs, buf, len, "the rules", &root) == 0)
		rules_read_top(&rl, root);
	yl_node_free(root);
	free(rl.bad);

	if ((errors = yl_errors_take(&rl.errs, 1)) == NULL) {
		for (i = 0; i < rl.rs->nrules; i++)
			rules_digest(rl.rs, &rl.rs->rules[i]);
		return rl.rs;
	}
	rules_free(rl.rs);
	if (cause != NULL)
		*cause = errors;
	else
		free(errors);
	return NULL;
}

/* Load and validate path.  NULL with every error in *cause. */
struct rules *
rules_load(const char *path, char **cause)
{
	struct rules	*rs;
	char		*buf;
	size_t		 len;

	if (cause != NULL)
		*cause = NULL;
	if (yl_read_file(path, RULES_FILE_MAX, "rules", &buf, &len,
	    cause) == -1)
		return NULL;
	rs = rules_load_buffer(path, buf, len, cause);
	free(buf);
	return rs;
}

/* Free rs and everything it owns.  Accepts NULL. */
void
rules_free(struct rules *rs)
{
	size_t	 i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->nrules; i++)
		rules_rule_free(&rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nindicators; i++) {
		free(rs->indicators[i].id);
		free(rs->indicators[i].label);
		free(rs->indicators[i].group);
	}
	free(rs->indicators);
	for (i = 0; i < rs->nroutes; i++) {
		free(rs->routes[i].id);
		free(rs->routes[i].description);
	}
	free(rs->routes);
	yl_strs_free(rs->groups, rs->ngroups);
	free(rs->path);
	free(rs);
}

/* Is key one of the keys a rule itself takes? */
int
rules_is_rule_key(const char *key)
{
	return rules_key_find(key) != NULL;
}

/* The catalogue entry of indicator id, or NULL. */
const struct indicator_def *
rules_indicator(const struct rules *rs, const char *id)
{
	size_t	 i;

	if (rs == NULL || id == NULL)
		return NULL;
	for (i = 0; i < rs->nindicators; i++) {
		if (rs->indicators[i].id != NULL &&
		    strcmp(rs->indicators[i].id, id) == 0)
			return &rs->indicators[i];
	}
	return NULL;
}

/* The rule called id, or NULL. */
const struct rule *
rules_find(const struct rules *rs, const char *id)
{
	size_t	 i;

	if (rs == NULL || id == NULL)
		return NULL;
	for (i = 0; i < rs->nrules; i++) {
		if (rs->rules[i].id != NULL && strcmp(rs->rules[i].id, id) == 0)
			return &rs->rules[i];
	}
	return NULL;
}

/* An indicator_known_fn: is id in the catalogue of the rules at arg? */
int
rules_indicator_known(const char *id, void *arg)
{
	return rules_indicator(arg, id) != NULL;
}

/* A one-paragraph summary of rs; caller frees. */
char *
rules_summary(const struct rules *rs)
{
	size_t	 kinds[4] = { 0, 0, 0, 0 }, i, disabled = 0;
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f;

	for (i = 0; i < rs->nrules; i++) {
		kinds[rs->rules[i].kind]++;
		disabled += !rs->rules[i].enabled;
	}
	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("rules", "open_memstream");
	fprintf(f, "%s: %zu rule%s (%zu repeat, %zu score, %zu match, %zu "
	    "deadline", rs->path, rs->nrules, rs->nrules == 1 ? "" : "s",
	    kinds[RULE_REPEAT], kinds[RULE_SCORE], kinds[RULE_MATCH],
	    kinds[RULE_DEADLINE]);
	if (disabled > 0)
		fprintf(f, "; %zu disabled", disabled);
	fprintf(f, "), %zu indicator%s", rs->nindicators,
	    rs->nindicators == 1 ? "" : "s");
	if (rs->ngroups > 0)
		fprintf(f, " in %zu group%s (", rs->ngroups,
		    rs->ngroups == 1 ? "" : "s");
	for (i = 0; i < rs->ngroups; i++)
		fprintf(f, "%s%s", i == 0 ? "" : ", ", rs->groups[i]);
	fprintf(f, "%s, %zu route%s (", rs->ngroups > 0 ? ")" : "", rs->nroutes,
	    rs->nroutes == 1 ? "" : "s");
	for (i = 0; i < rs->nroutes; i++)
		fprintf(f, "%s%s", i == 0 ? "" : ", ", rs->routes[i].id);
	fprintf(f, "); version %s.", rs->version);
	fclose(f);
	return text;
}

/* The name of a level: none, notify, review, urgent. */
const char *
level_name(enum level level)
{
	if ((int)level < 0 || level >= LEVEL__COUNT)
		return "unknown";
	return rules_level_names[level];
}

/* Parse notify, review or urgent (not none).  0, or -1. */
int
level_parse(const char *name, enum level *level)
{
	int	 l;

	for (l = LEVEL_NOTIFY; l < LEVEL__COUNT; l++) {
		if (strcmp(name, rules_level_names[l]) == 0) {
			*level = l;
			return 0;
		}
	}
	return -1;
}

/* The name of a rule kind. */
const char *
rule_kind_name(enum rule_kind kind)
{
	if ((int)kind < 0 || kind > RULE_DEADLINE)
		return "unknown";
	return rules_kind_names[kind];
}
