/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for the rules loader (rules.c, rulecond.c, yamlload.c): the
 * shipped rules/default.yaml, what each construct compiles to, every kind
 * of error with its exact line:column, all errors reported at once and in
 * file order, rule digests and file versions, and the corpus in
 * tests/rules/good and tests/rules/bad (each bad file names its expected
 * error on a first line "# expect: L:C: text").
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpus.h"
#include "catalogue.h"
#include "decode.h"
#include "log.h"
#include "rules.h"

#define NAME	"r.yaml"
#define DEFAULT_RULES	TESTS_SRCDIR "/../rules/default.yaml"

/* Lines 1 to 8 of most test files; rules start on line 9. */
#define HEAD \
	"version: 1\n" \
	"groups: [cse, cce, vulnerability]\n" \
	"routes: {mpu: \"MPU\", cse_team: \"CSE team\"}\n" \
	"indicators:\n" \
	"  disclosed_cse: {label: \"Disclosed\", weight: 3, group: cse}\n" \
	"  peers_exploited: {label: P, weight: 1, group: vulnerability}\n" \
	"  cce_weapon: {label: \"Weapon\", weight: 2, group: cce}\n" \
	"rules:\n"

/* A valid repeat rule, lines 9 to 14 after HEAD. */
#define REPEAT \
	"  - id: r1\n" \
	"    kind: repeat\n" \
	"    routes: [mpu]\n" \
	"    window: 90d\n" \
	"    thresholds: {review: 3}\n" \
	"    summary: \"{count} in {window}\"\n"

/* A valid match rule of six lines, with a placeholder for its when. */
#define MATCH(when) \
	"  - id: m1\n" \
	"    kind: match\n" \
	"    routes: [mpu]\n" \
	"    when: " when "\n" \
	"    level: urgent\n" \
	"    summary: \"{child}\"\n"

/* Parse text as a file called NAME. */
static struct rules *
load(const char *text, char **cause)
{
	return rules_load_buffer(NAME, text, strlen(text), cause);
}

/* corpus_text_fn for this loader. */
static int
load_text(const char *name, const char *text, char **cause)
{
	struct rules	*v;

	if ((v = rules_load_buffer(name, text, strlen(text), cause)) == NULL)
		return -1;
	rules_free(v);
	return 0;
}

/* Assert text is refused with an error "NAME:where: ...msg...". */
static void
expect_error(const char *text, const char *where, const char *msg)
{
	corpus_expect_refused(load_text, NAME, text, where, msg);
}

/* Assert text loads, and return the rules. */
static struct rules *
expect_ok(const char *text)
{
	struct rules	*rs;
	char		*cause = NULL;

	rs = load(text, &cause);
	ck_assert_msg(rs != NULL, "refused: %s", cause);
	ck_assert_ptr_null(cause);
	return rs;
}

/* The digest of rule id in text, copied into buf. */
static void
digest_of(const char *text, const char *id, char buf[65])
{
	struct rules		*rs = expect_ok(text);
	const struct rule	*r = rules_find(rs, id);

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(strlen(r->digest), 64);
	memcpy(buf, r->digest, 65);
	rules_free(rs);
}

/* Write len bytes of text to a new temporary file; caller frees. */
static char *
write_temp(const char *text, size_t len)
{
	const char	*dir = getenv("TMPDIR");
	char		*path;
	int		 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	ck_assert_int_ne(asprintf(&path, "%s/check_rules.XXXXXX", dir), -1);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_default_loads)
{
	static const struct {
		const char	*id;
		enum rule_kind	 kind;
	} want[] = {
		{ "repeat_3_in_90d", RULE_REPEAT },
		{ "flagged_child_low_grade", RULE_MATCH },
		{ "significant_indicator_on_return", RULE_MATCH },
		{ "young_or_ld_high_indicator", RULE_MATCH },
		{ "cumulative_cse_score", RULE_SCORE },
		{ "cce_pattern", RULE_MATCH },
		{ "long_or_overnight_episode", RULE_DEADLINE },
		{ "rhi_overdue", RULE_DEADLINE },
		{ "looked_after_rapid_repeat", RULE_REPEAT },
		{ "trigger_plan_overdue", RULE_DEADLINE },
		{ "found_at_rso_address", RULE_MATCH },
	};
	struct rules	*rs;
	char		*cause = NULL;
	size_t		 i;

	rs = rules_load(DEFAULT_RULES, &cause);
	ck_assert_msg(rs != NULL, "%s", cause);
	ck_assert_uint_eq(rs->nindicators, 23);
	ck_assert_uint_eq(rs->nrules, 11);
	ck_assert_uint_eq(rs->ngroups, 3);
	ck_assert_uint_eq(rs->nroutes, 6);
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_str_eq(rs->rules[i].id, want[i].id);
		ck_assert_int_eq(rs->rules[i].kind, want[i].kind);
		ck_assert(rs->rules[i].enabled);
		ck_assert_uint_gt(rs->rules[i].nroutes, 0);
	}
	ck_assert_str_eq(rs->path, DEFAULT_RULES);
	ck_assert_int_eq(strncmp(rs->version, "sha256:", 7), 0);
	ck_assert_uint_eq(strlen(rs->version), 7 + 64);
	rules_free(rs);
}
END_TEST

START_TEST(test_default_catalogue)
{
	const struct indicator_def	*d;
	struct rules			*rs;
	size_t				 i;

	rs = rules_load(DEFAULT_RULES, NULL);
	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(catalogue_default_count(), rs->nindicators);
	for (i = 0; i < catalogue_default_count(); i++) {
		d = rules_indicator(rs, catalogue_default_id(i));
		ck_assert_msg(d != NULL, "%s missing", catalogue_default_id(i));
		ck_assert(d->weight >= 1 && d->weight <= 3);
		ck_assert(strcmp(d->group, "cse") == 0 ||
		    strcmp(d->group, "cce") == 0 ||
		    strcmp(d->group, "vulnerability") == 0);
		ck_assert_uint_gt(strlen(d->label), 0);
	}
	d = rules_indicator(rs, "disclosed_cse");
	ck_assert(d->weight == 3);
	d = rules_indicator(rs, "peers_exploited");
	ck_assert(d->weight == 1);
	ck_assert_str_eq(d->group, "vulnerability");
	rules_free(rs);
}
END_TEST

START_TEST(test_default_rules)
{
	const struct rule	*r;
	struct rules		*rs;

	rs = rules_load(DEFAULT_RULES, NULL);
	ck_assert_ptr_nonnull(rs);
	r = rules_find(rs, "repeat_3_in_90d");
	ck_assert_int_eq(r->window_ms, 90LL * 86400000);
	ck_assert_uint_eq(r->nthresholds, 2);
	ck_assert_int_eq(r->thresholds[0].level, LEVEL_REVIEW);
	ck_assert(r->thresholds[0].value == 3);
	ck_assert_int_eq(r->thresholds[1].level, LEVEL_URGENT);
	ck_assert_int_eq(r->episodes->op, COND_CATEGORY);
	ck_assert_uint_eq(r->episodes->mask,
	    (1u << CAT_MISSING) | (1u << CAT_ABSENT));
	r = rules_find(rs, "cumulative_cse_score");
	ck_assert_uint_eq(r->nfactors, 4);
	ck_assert_uint_eq(r->nthresholds, 3);
	ck_assert_uint_eq(r->ngroups, 2);
	r = rules_find(rs, "rhi_overdue");
	ck_assert_int_eq(r->within_ms, 72LL * 3600000);
	ck_assert_int_eq(r->scope_episode, 0);
	ck_assert_int_eq(r->after->op, COND_TYPE);
	ck_assert_uint_eq(r->after->mask, 1u << EVT_EPISODE_FOUND);
	ck_assert_int_eq(r->expect->op, COND_ALL);
	r = rules_find(rs, "trigger_plan_overdue");
	ck_assert_str_eq(r->after_rule, "repeat_3_in_90d");
	ck_assert_int_eq(r->after_level, LEVEL_REVIEW);
	ck_assert_ptr_null(r->after);
	r = rules_find(rs, "long_or_overnight_episode");
	ck_assert_int_eq(r->scope_episode, 1);
	r = rules_find(rs, "found_at_rso_address");
	ck_assert_int_eq(r->level, LEVEL_URGENT);
	ck_assert_int_eq(r->when->op, COND_ALL);
	ck_assert_int_eq(r->when->kids[1]->op, COND_FOUND_FLAGGED);
	ck_assert_str_eq(r->when->kids[1]->strs[0], "rso_address");
	ck_assert_ptr_null(rules_find(rs, "nonexistent"));
	rules_free(rs);
}
END_TEST

START_TEST(test_summary)
{
	struct rules	*rs;
	char		*s;

	rs = rules_load(DEFAULT_RULES, NULL);
	s = rules_summary(rs);
	ck_assert_ptr_nonnull(strstr(s, "11 rules (2 repeat, 1 score, 5 match, "
	    "3 deadline)"));
	ck_assert_ptr_nonnull(strstr(s, "23 indicators in 3 groups"));
	ck_assert_ptr_nonnull(strstr(s, "6 routes (mpu, "));
	ck_assert_ptr_nonnull(strstr(s, rs->version));
	ck_assert_ptr_null(strchr(s, '\n'));
	free(s);
	rules_free(rs);
	rs = expect_ok(HEAD REPEAT "    enabled: false\n");
	s = rules_summary(rs);
	ck_assert_ptr_nonnull(strstr(s, "1 rule (1 repeat, 0 score, 0 match, "
	    "0 deadline; 1 disabled)"));
	free(s);
	rules_free(rs);
}
END_TEST

START_TEST(test_names)
{
	enum level	 l;

	ck_assert_str_eq(level_name(LEVEL_NONE), "none");
	ck_assert_str_eq(level_name(LEVEL_URGENT), "urgent");
	ck_assert_str_eq(rule_kind_name(RULE_DEADLINE), "deadline");
	ck_assert_int_eq(level_parse("review", &l), 0);
	ck_assert_int_eq(l, LEVEL_REVIEW);
	ck_assert_int_eq(level_parse("none", &l), -1);
	ck_assert_int_eq(level_parse("Urgent", &l), -1);
}
END_TEST

START_TEST(test_indicator_known)
{
	struct decode_opts	 opts;
	struct ev_err		 err;
	struct mevent		*ev;
	struct rules		*rs;
	const char		*line;

	rs = expect_ok(HEAD REPEAT);
	ck_assert_int_eq(rules_indicator_known("disclosed_cse", rs), 1);
	ck_assert_int_eq(rules_indicator_known("missing_frequent", rs), 0);
	ck_assert_int_eq(rules_indicator_known("", rs), 0);
	opts.indicator_known = rules_indicator_known;
	opts.arg = rs;
	line = "{\"id\":\"E1\",\"type\":\"indicator.recorded\","
	    "\"at\":\"2026-11-21T22:10:00Z\",\"child\":{\"id\":\"C1\"},"
	    "\"indicator\":\"missing_frequent\"}";
	ck_assert_ptr_null(decode_event(line, strlen(line), &opts, &err));
	ck_assert_int_eq(err.code, EVERR_UNKNOWN_INDICATOR);
	line = "{\"id\":\"E1\",\"type\":\"indicator.recorded\","
	    "\"at\":\"2026-11-21T22:10:00Z\",\"child\":{\"id\":\"C1\"},"
	    "\"indicator\":\"disclosed_cse\"}";
	ev = decode_event(line, strlen(line), &opts, &err);
	ck_assert_ptr_nonnull(ev);
	mevent_free(ev);
	rules_free(rs);
}
END_TEST

START_TEST(test_free_null)
{
	rules_free(NULL);
}
END_TEST

START_TEST(test_defaults_and_order)
{
	const struct rule	*r;
	struct rules		*rs;

	rs = expect_ok(HEAD
	    "  - id: r1\n"
	    "    kind: repeat\n"
	    "    routes: mpu\n"
	    "    window: 2w\n"
	    "    thresholds: {urgent: 5, notify: 1, review: 3}\n"
	    "    summary: \"{count}\"\n");
	r = &rs->rules[0];
	ck_assert_int_eq(r->enabled, 1);
	ck_assert_int_eq(r->line, 9);
	ck_assert_uint_eq(r->nroutes, 1);
	ck_assert_str_eq(r->routes[0], "mpu");
	ck_assert_int_eq(r->window_ms, 14LL * 86400000);
	ck_assert_uint_eq(r->nthresholds, 3);
	ck_assert_int_eq(r->thresholds[0].level, LEVEL_NOTIFY);
	ck_assert_int_eq(r->thresholds[1].level, LEVEL_REVIEW);
	ck_assert_int_eq(r->thresholds[2].level, LEVEL_URGENT);
	ck_assert(r->thresholds[2].value == 5);
	ck_assert_ptr_null(r->when);
	ck_assert_ptr_null(r->episodes);
	ck_assert_ptr_null(r->description);
	rules_free(rs);
}
END_TEST

START_TEST(test_conditions)
{
	const struct cond	*c;
	struct rules		*rs;

	rs = expect_ok(HEAD MATCH("{type: [episode.reported, episode.found], "
	    "not: {risk: high}, any: {age_under: 13}, cp_plan: no, "
	    "found_at_flagged: [], indicator_groups: cse, "
	    "has_indicators: {within: 30d}, interview_kind: prevention, "
	    "plan: [safety_plan], flags_any: [a, b], category: absent, "
	    "out_of_area: true, indicator_weight_at_least: 1.5, "
	    "indicators_any: [cce_weapon]}"));
	c = rs->rules[0].when;
	ck_assert_int_eq(c->op, COND_ALL);
	ck_assert_uint_eq(c->nkids, 14);
	ck_assert_int_eq(c->kids[0]->op, COND_TYPE);
	ck_assert_uint_eq(c->kids[0]->mask, (1u << EVT_EPISODE_REPORTED) |
	    (1u << EVT_EPISODE_FOUND));
	ck_assert_int_eq(c->kids[1]->op, COND_NOT);
	ck_assert_uint_eq(c->kids[1]->nkids, 1);
	ck_assert_int_eq(c->kids[1]->kids[0]->op, COND_RISK);
	ck_assert_uint_eq(c->kids[1]->kids[0]->mask, 1u << RISK_HIGH);
	ck_assert_int_eq(c->kids[2]->op, COND_ANY);
	ck_assert_uint_eq(c->kids[2]->nkids, 1);
	ck_assert_int_eq(c->kids[2]->kids[0]->op, COND_AGE_UNDER);
	ck_assert(c->kids[2]->kids[0]->number == 13);
	ck_assert_int_eq(c->kids[3]->op, COND_CP_PLAN);
	ck_assert_int_eq(c->kids[3]->flag, 0);
	ck_assert_int_eq(c->kids[4]->op, COND_FOUND_FLAGGED);
	ck_assert_uint_eq(c->kids[4]->nstrs, 0);
	ck_assert_int_eq(c->kids[5]->op, COND_INDICATOR_GROUPS);
	ck_assert_str_eq(c->kids[5]->strs[0], "cse");
	ck_assert_int_eq(c->kids[6]->op, COND_HAS_INDICATORS);
	ck_assert_int_eq(c->kids[6]->within_ms, 30LL * 86400000);
	ck_assert_uint_eq(c->kids[6]->nstrs, 0);
	ck_assert_uint_eq(c->kids[7]->mask, 1u << INTERVIEW_PREVENTION);
	ck_assert_uint_eq(c->kids[8]->mask, 1u << PLAN_SAFETY);
	ck_assert_uint_eq(c->kids[9]->nstrs, 2);
	ck_assert_uint_eq(c->kids[10]->mask, 1u << CAT_ABSENT);
	ck_assert_int_eq(c->kids[11]->flag, 1);
	ck_assert(c->kids[12]->number == 1.5);
	ck_assert_str_eq(c->kids[13]->strs[0], "cce_weapon");
	rules_free(rs);
}
END_TEST

START_TEST(test_condition_forms)
{
	struct rules	*rs;

	/* One test: no ALL around it. */
	rs = expect_ok(HEAD MATCH("{risk: [medium, high]}"));
	ck_assert_int_eq(rs->rules[0].when->op, COND_RISK);
	rules_free(rs);
	/* Block style, and all: with a list. */
	rs = expect_ok(HEAD
	    "  - id: m1\n"
	    "    kind: match\n"
	    "    routes: [mpu, cse_team]\n"
	    "    when:\n"
	    "      all:\n"
	    "        - type: episode.found\n"
	    "        - any:\n"
	    "            - has_indicators: {groups: [cse, cce], within: 1w}\n"
	    "            - flags_any: known_cse_risk\n"
	    "    level: review\n"
	    "    summary: \"{indicators} {area}\"\n");
	ck_assert_int_eq(rs->rules[0].when->op, COND_ALL);
	ck_assert_uint_eq(rs->rules[0].when->nkids, 2);
	ck_assert_int_eq(rs->rules[0].when->kids[1]->op, COND_ANY);
	ck_assert_uint_eq(rs->rules[0].when->kids[1]->kids[0]->nstrs, 2);
	rules_free(rs);
}
END_TEST

START_TEST(test_score_and_deadline)
{
	const struct rule	*r;
	struct rules		*rs;

	rs = expect_ok(HEAD REPEAT
	    "  - id: s1\n"
	    "    kind: score\n"
	    "    routes: [cse_team]\n"
	    "    window: 90d\n"
	    "    groups: [cse, vulnerability]\n"
	    "    factors:\n"
	    "      - {when: {age_under: 14}, multiply: 1.5}\n"
	    "    thresholds: {notify: 1, urgent: 6}\n"
	    "    summary: \"{score} {indicators}\"\n"
	    "  - id: d1\n"
	    "    kind: deadline\n"
	    "    routes: [mpu]\n"
	    "    after: {rule: r1, level: review}\n"
	    "    expect: {plan: trigger_plan}\n"
	    "    scope: child\n"
	    "    within: 14d\n"
	    "    level: notify\n"
	    "    summary: \"{due} {within}\"\n");
	r = rules_find(rs, "s1");
	ck_assert_uint_eq(r->ngroups, 2);
	ck_assert_uint_eq(r->nfactors, 1);
	ck_assert(r->factors[0].multiply == 1.5);
	ck_assert_int_eq(r->factors[0].when->op, COND_AGE_UNDER);
	r = rules_find(rs, "d1");
	ck_assert_str_eq(r->after_rule, "r1");
	ck_assert_int_eq(r->after_level, LEVEL_REVIEW);
	ck_assert_int_eq(r->scope_episode, 0);
	ck_assert_int_eq(r->level, LEVEL_NOTIFY);
	ck_assert_int_eq(r->line, 24);
	rules_free(rs);
}
END_TEST

START_TEST(test_err_syntax)
{
	expect_error(HEAD "  - id: r1\n\tkind: repeat\n", "10:1",
	    "YAML syntax error: found a tab character that violates "
	    "indentation (while scanning a plain scalar at line 9, column 9)");
	expect_error(HEAD "  - id: \"r1\n", "10:1", "YAML syntax error: found "
	    "unexpected end of stream (while scanning a quoted scalar at line "
	    "9, column 9)");
	expect_error("version: 1\nrules: \xff\n", "2:8",
	    "invalid leading UTF-8 octet (#FF)");
}
END_TEST

START_TEST(test_err_yaml_features)
{
	expect_error(HEAD REPEAT "    description: &d x\n", "15:18",
	    "anchors (&d) are not supported");
	expect_error(HEAD REPEAT "    description: *d\n", "15:18",
	    "aliases (*d) are not supported");
	expect_error(HEAD REPEAT "    description: !!str x\n", "15:18",
	    "YAML tags ('!' and '!!') are not supported");
	expect_error(HEAD REPEAT "---\nversion: 1\n", "15:1",
	    "a second YAML document starts here; the rules must be a single "
	    "document");
	expect_error(HEAD REPEAT "    ? [a]\n    : b\n", "15:7",
	    "a key must be a plain name, not a list");
	expect_error(HEAD REPEAT "    description: \"a\\0b\"\n", "15:18",
	    "this value contains a NUL character");
	/* A repeat is reported against the first use, however many. */
	expect_error("version: 1\nx: 1\nx: 2\ny: 3\nz: 4\ny: 5\n", "6:1",
	    "duplicate key 'y'; it was first given at line 4");
}
END_TEST

START_TEST(test_err_top)
{
	expect_error("", "1:1", "no rules: nothing to do; the file is empty");
	expect_error("# only a comment\n", "1:1", "no rules: nothing to do");
	expect_error("- a\n", "1:1", "the rules must be a mapping of version, "
	    "groups, routes, indicators and rules, not a list");
	expect_error(HEAD, "8:7", "no rules: nothing to do");
	expect_error(HEAD "  []\n", "9:3", "no rules: nothing to do");
	expect_error("version: 1\nroutes: {mpu: x}\n", "1:1",
	    "no rules: nothing to do; add a rules: list");
	expect_error("version: 2\n", "1:10", "version '2' is not supported");
	expect_error("groups: []\n", "1:1", "the file has no version");
	expect_error("version: 1\n", "1:1", "the file has no routes");
	expect_error("version: 1\nrule: []\n", "2:1",
	    "unknown key 'rule' in the top level; did you mean 'rules'?");
	expect_error("version: 1\ncolour: red\n", "2:1", "unknown key "
	    "'colour' in the top level; it must be one of version, groups, "
	    "routes, indicators, rules");
}
END_TEST

START_TEST(test_err_catalogue)
{
	expect_error("version: 1\ngroups: [cse, cse]\n", "2:15",
	    "'cse' is listed twice in groups");
	expect_error("version: 1\ngroups: [CSE]\n", "2:10",
	    "group id 'CSE' must be 1 to 64 lower-case letters");
	expect_error("version: 1\nroutes: [mpu]\n", "2:9",
	    "routes must be a mapping, such as");
	expect_error("version: 1\nroutes: {}\n", "2:9",
	    "routes must declare from 1 to 1000 routes");
	expect_error("version: 1\nroutes: {mpu: }\n", "2:15",
	    "mpu needs a value");
	expect_error(HEAD REPEAT "  - id: r2\n", "15:5",
	    "this rule has no kind");
	/* Duplicate indicator ids. */
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, weight: 1, group: cse}\n"
	    "  a: {label: B, weight: 2, group: cse}\n", "5:3",
	    "duplicate key 'a'; it was first given at line 4");
	/* Weight <= 0. */
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, weight: 0, group: cse}\n", "4:25",
	    "weight must be greater than 0");
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, weight: -2, group: cse}\n", "4:25",
	    "weight must be greater than 0");
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, weight: 2kg, group: cse}\n", "4:25",
	    "weight '2kg' is not a number");
	/* Unknown group, missing and unknown keys. */
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, weight: 1, group: cee}\n", "4:35",
	    "unknown group 'cee'; did you mean 'cse'?");
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, group: cse}\n", "4:6",
	    "indicator 'a' has no weight");
	expect_error("version: 1\ngroups: [cse]\nindicators:\n"
	    "  a: {label: A, wieght: 1, group: cse}\n", "4:17",
	    "unknown key 'wieght' in an indicator; did you mean 'weight'?");
	expect_error("version: 1\nindicators:\n  Bad: {}\n", "3:3",
	    "indicator id 'Bad' must be");
}
END_TEST

START_TEST(test_err_rule_keys)
{
	expect_error(HEAD REPEAT "    windw: 3d\n", "15:5",
	    "unknown key 'windw' in a rule; did you mean 'window'?");
	expect_error(HEAD
	    "  - id: m1\n"
	    "    kind: match\n"
	    "    routes: [mpu]\n"
	    "    window: 90d\n"
	    "    level: urgent\n"
	    "    summary: x\n", "12:5", "window does not apply to a match "
	    "rule; only repeat and score rules take it");
	expect_error(HEAD REPEAT "    factors: []\n", "15:5",
	    "factors does not apply to a repeat rule; only score rules take "
	    "it");
	expect_error(HEAD REPEAT "    after: {}\n", "15:5",
	    "after does not apply to a repeat rule; only deadline rules take "
	    "it");
	expect_error(HEAD "  - id: r1\n    kind: counting\n", "10:11",
	    "unknown kind 'counting' in a rule; it must be one of repeat, "
	    "score, match, deadline");
	expect_error(HEAD "  - 3\n", "9:5", "each rule must be a mapping");
	expect_error(HEAD REPEAT "    enabled: maybe\n", "15:14",
	    "enabled must be true or false, not 'maybe'");
	expect_error(HEAD REPEAT "    description: [a]\n", "15:18",
	    "description must be a single value, not a list");
	expect_error(HEAD REPEAT "    id: r2\n", "15:5",
	    "duplicate key 'id'; it was first given at line 9");
}
END_TEST

START_TEST(test_err_missing)
{
	const char	*text = HEAD "  - kind: repeat\n    description: x\n";

	expect_error(text, "9:5", "this rule has no id; add one, such as id:");
	expect_error(text, "9:5", "this rule has no routes");
	expect_error(text, "9:5", "this rule has no summary");
	expect_error(text, "9:5", "this repeat rule has no window");
	expect_error(text, "9:5", "this repeat rule has no thresholds");
	text = HEAD "  - {id: s, kind: score, routes: mpu, summary: x}\n";
	expect_error(text, "9:5", "this score rule has no window");
	expect_error(text, "9:5", "this score rule has no thresholds");
	text = HEAD "  - {id: m, kind: match, routes: mpu, summary: x}\n";
	expect_error(text, "9:5", "this match rule has no level");
	text = HEAD "  - {id: d, kind: deadline, routes: mpu, summary: x}\n";
	expect_error(text, "9:5", "this deadline rule has no after");
	expect_error(text, "9:5", "this deadline rule has no expect");
	expect_error(text, "9:5", "this deadline rule has no within");
	expect_error(text, "9:5", "this deadline rule has no level");
}
END_TEST

START_TEST(test_err_ids)
{
	expect_error(HEAD REPEAT REPEAT, "15:9",
	    "duplicate rule id 'r1'; the rule at line 9 has it already");
	expect_error(HEAD "  - id: Rule One\n", "9:9",
	    "rule id 'Rule One' must be 1 to 64 lower-case letters");
	expect_error(HEAD REPEAT "  - {id: m, kind: match, routes: [mpu, mup], "
	    "level: urgent, summary: x}\n", "15:40",
	    "unknown route 'mup'; did you mean 'mpu'?");
	expect_error(HEAD REPEAT "  - {id: m, kind: match, routes: [], "
	    "level: urgent, summary: x}\n", "15:34",
	    "routes needs at least one name");
	expect_error(HEAD REPEAT "  - {id: m, kind: match, routes: [mpu, mpu], "
	    "level: urgent, summary: x}\n", "15:40",
	    "'mpu' is listed twice in routes");
}
END_TEST

START_TEST(test_err_levels_thresholds)
{
	expect_error(HEAD MATCH("{risk: high}") "    level: high\n", "15:5",
	    "duplicate key 'level'; it was first given at line 13");
	expect_error(HEAD
	    "  - {id: m, kind: match, routes: mpu, level: high, summary: x}\n",
	    "9:46", "unknown level 'high' in level; it must be one of notify, "
	    "review, urgent");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {reviw: 2}}\n", "9:77",
	    "unknown level 'reviw' in thresholds; did you mean 'review'?");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {review: 3, urgent: 3}}\n", "9:88",
	    "thresholds out of order: urgent (3) must be higher than review "
	    "(3)");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {urgent: 2, notify: 5}}\n", "9:77",
	    "thresholds out of order: urgent (2) must be higher than notify "
	    "(5)");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {}}\n", "9:76",
	    "thresholds is empty; give at least one level");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: 3}\n", "9:76",
	    "thresholds must be a mapping, such as {review: 3, urgent: 5}, not "
	    "a single value");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {review: 2.5}}\n", "9:85",
	    "review must be a whole number: a repeat rule counts episodes");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {review: 0}}\n", "9:85",
	    "review must be greater than 0");
}
END_TEST

START_TEST(test_err_durations)
{
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 90, "
	    "summary: x, thresholds: {review: 3}}\n", "9:48",
	    "window '90' is not a duration; write a whole number and a unit "
	    "(ms, s, m, h, d or w), as in 72h or 90d");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 3 "
	    "days, summary: x, thresholds: {review: 3}}\n", "9:48",
	    "window '3 days' is not a duration");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 0d, "
	    "summary: x, thresholds: {review: 3}}\n", "9:48",
	    "window must be more than 0 and at most 3650d");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: "
	    "3651d, summary: x, thresholds: {review: 3}}\n", "9:48",
	    "window must be more than 0 and at most 3650d");
	expect_error(HEAD "  - {id: d, kind: deadline, routes: mpu, "
	    "summary: x, level: notify, after: {type: episode.found}, "
	    "expect: {type: episode.closed}, within: 400d}\n", "9:139",
	    "within must be more than 0 and at most 365d");
}
END_TEST

/* Every unit the message lists loads, seconds and milliseconds too. */
START_TEST(test_duration_units)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} units[] = {
		{ "500ms", 500 }, { "30s", 30000 }, { "30m", 1800000 },
		{ "72h", 72LL * 3600000 }, { "2d", 2LL * 86400000 },
		{ "2w", 14LL * 86400000 }
	};
	struct rules		*rs;
	const struct rule	*r;
	char			 text[1024];
	size_t			 i;

	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		snprintf(text, sizeof text, HEAD "  - {id: d, kind: deadline, "
		    "routes: mpu, summary: x, level: notify, after: {type: "
		    "episode.found}, expect: {type: episode.closed}, within: "
		    "%s}\n", units[i].text);
		rs = expect_ok(text);
		r = rules_find(rs, "d");
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->within_ms, units[i].ms);
		rules_free(rs);
	}
}
END_TEST

START_TEST(test_err_condition_values)
{
	expect_error(HEAD MATCH("{type: episode.fund}"), "12:18",
	    "unknown event type 'episode.fund'; did you mean 'episode.found'?");
	expect_error(HEAD MATCH("{type: []}"), "12:18",
	    "type needs at least one name");
	expect_error(HEAD MATCH("{category: lost}"), "12:22",
	    "unknown category 'lost'; it must be one of missing, absent");
	expect_error(HEAD MATCH("{risk: hihg}"), "12:18",
	    "unknown risk grade 'hihg'; did you mean 'high'?");
	expect_error(HEAD MATCH("{interview_kind: [return]}"), "12:29",
	    "unknown interview kind 'return'; it must be one of return_home, "
	    "prevention");
	expect_error(HEAD MATCH("{plan: trigger}"), "12:18",
	    "unknown plan 'trigger'; it must be one of trigger_plan");
	expect_error(HEAD MATCH("{indicators_any: [disclosed_cs]}"), "12:29",
	    "unknown indicator 'disclosed_cs'; did you mean 'disclosed_cse'?");
	expect_error(HEAD MATCH("{indicators_any: [gifts]}"), "12:29",
	    "unknown indicator 'gifts'; indicators must be declared under "
	    "indicators:");
	expect_error(HEAD MATCH("{indicator_groups: [cse, sce]}"), "12:36",
	    "unknown group 'sce'; did you mean 'cse'?");
	expect_error(HEAD MATCH("{indicator_weight_at_least: 4}"), "12:39",
	    "no indicator in the catalogue weighs 4 or more");
	expect_error(HEAD MATCH("{indicator_weight_at_least: 0}"), "12:39",
	    "indicator_weight_at_least must be greater than 0");
	expect_error(HEAD MATCH("{age_under: 26}"), "12:23",
	    "age_under '26' must be a whole number of years from 1 to 25");
	expect_error(HEAD MATCH("{age_under: 0}"), "12:23",
	    "age_under '0' must be");
	expect_error(HEAD MATCH("{looked_after: sometimes}"), "12:26",
	    "looked_after must be true or false, not 'sometimes'");
	expect_error(HEAD MATCH("{found_at_flagged: yes}"), "12:30",
	    "found_at_flagged takes a list of flag reasons");
	expect_error(HEAD MATCH("{flags_any: {a: b}}"), "12:23",
	    "flags_any must be a name or a list of names, not a mapping");
	expect_error(HEAD MATCH("{flags_any: [[a]]}"), "12:24",
	    "each flags_any entry must be a name, not a list");
	expect_error(HEAD MATCH("{has_indicators: {groups: [cse]}}"), "12:28",
	    "has_indicators needs within");
	expect_error(HEAD MATCH("{has_indicators: 90d}"), "12:28",
	    "has_indicators must be a mapping such as {within: 90d}");
	expect_error(HEAD MATCH("{has_indicators: {within: 1d, group: cse}}"),
	    "12:41", "unknown key 'group' in has_indicators; did you mean "
	    "'groups'?");
}
END_TEST

START_TEST(test_err_condition_shape)
{
	expect_error(HEAD MATCH("{risks: high}"), "12:12",
	    "unknown test 'risks' in when; did you mean 'risk'?");
	expect_error(HEAD MATCH("{colour: red}"), "12:12",
	    "unknown test 'colour' in when; it must be one of all, any, not");
	expect_error(HEAD MATCH("{window: 3d}"), "12:12",
	    "'window' is not a test; it belongs to the rule itself, outside "
	    "when");
	expect_error(HEAD MATCH("{kind: return_home}"), "12:12",
	    "'kind' is not a test; to test an interview's kind write "
	    "interview_kind: return_home");
	expect_error(HEAD MATCH("{}"), "12:11",
	    "when must be a mapping of tests, such as {risk: high, age_under: "
	    "13}, not an empty mapping");
	expect_error(HEAD MATCH("[risk]"), "12:11",
	    "when must be a mapping of tests");
	expect_error(HEAD MATCH(""), "12:10", "when needs a condition");
	expect_error(HEAD MATCH("{any: []}"), "12:17",
	    "any needs a list of conditions");
	expect_error(HEAD MATCH("{all: [{risk: high}, 3]}"), "12:32",
	    "all must be a mapping of tests");
	expect_error(HEAD MATCH("{not: [{risk: high}]}"), "12:17",
	    "not must be a mapping of tests");
	/* Tests that do not belong where they are written. */
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {review: 2}, episodes: {type: "
	    "episode.found}}\n", "9:100", "type cannot be used in episodes "
	    "(which tests each earlier episode on its own); the tests there "
	    "are category, risk, out_of_area");
	expect_error(HEAD "  - {id: s, kind: score, routes: mpu, window: 1d, "
	    "summary: x, thresholds: {review: 2}, factors: [{when: {risk: "
	    "high}, multiply: 2}]}\n", "9:106", "risk cannot be used in a "
	    "factor (which tests the child)");
}
END_TEST

START_TEST(test_err_score)
{
	const char	*pre = HEAD "  - id: s\n    kind: score\n"
	    "    routes: mpu\n    window: 90d\n    summary: \"{score}\"\n";
	char		 text[1024];

	snprintf(text, sizeof text, "%s    thresholds: {review: 2}\n"
	    "    factors:\n      - {when: {age_under: 14}, multiply: 0}\n",
	    pre);
	expect_error(text, "16:43", "multiply must be greater than 0");
	snprintf(text, sizeof text, "%s    thresholds: {review: 2}\n"
	    "    factors:\n      - {multiply: 2}\n", pre);
	expect_error(text, "16:9", "this factor has no when");
	snprintf(text, sizeof text, "%s    thresholds: {review: 2}\n"
	    "    factors:\n      - {when: {age_under: 14}}\n", pre);
	expect_error(text, "16:9", "this factor has no multiply");
	snprintf(text, sizeof text, "%s    thresholds: {review: 2}\n"
	    "    factors: 2\n", pre);
	expect_error(text, "15:14", "factors must be a list such as");
	snprintf(text, sizeof text, "%s    thresholds: {review: 2}\n"
	    "    groups: [cse, gangs]\n", pre);
	expect_error(text, "15:19", "unknown group 'gangs'");
	/* disclosed_cse 3 + cce_weapon 2 + peers_exploited 1 = 6. */
	snprintf(text, sizeof text,
	    "%s    thresholds: {review: 2, urgent: 7}\n", pre);
	expect_error(text, "14:29", "urgent (7) can never be reached: the most "
	    "this rule can score, with every indicator it counts, is 6");
	snprintf(text, sizeof text, "%s    thresholds: {urgent: 4}\n"
	    "    groups: [cse]\n", pre);
	expect_error(text, "14:18", "urgent (4) can never be reached");
	snprintf(text, sizeof text, "%s    thresholds: {urgent: 4.5}\n"
	    "    groups: [cse]\n    factors: [{when: {cp_plan: true}, "
	    "multiply: 1.5}]\n", pre);
	rules_free(expect_ok(text));
}
END_TEST

START_TEST(test_err_deadline)
{
	const char	*pre = HEAD REPEAT "  - id: d\n    kind: deadline\n"
	    "    routes: mpu\n    within: 3d\n    level: review\n"
	    "    summary: \"{due}\"\n    expect: {type: plan.recorded}\n";
	char		 text[1024];

	snprintf(text, sizeof text, "%s    after: {rule: r2, level: review}\n",
	    pre);
	expect_error(text, "22:19", "after names rule 'r2', which is not "
	    "defined; did you mean 'r1'?");
	snprintf(text, sizeof text, "%s    after: {rule: zz, level: review}\n",
	    pre);
	expect_error(text, "22:19", "after names rule 'zz', which is not "
	    "defined in this file");
	snprintf(text, sizeof text, "%s    after: {rule: d, level: review}\n",
	    pre);
	expect_error(text, "22:19", "after names this rule itself");
	snprintf(text, sizeof text, "%s    after: {rule: r1, level: urgent}\n",
	    pre);
	expect_error(text, "22:19", "rule 'r1' never reaches urgent; its "
	    "highest level is review");
	snprintf(text, sizeof text, "%s    after: {rule: r1}\n", pre);
	expect_error(text, "22:12", "after names a rule but no level");
	snprintf(text, sizeof text, "%s    after: {rule: r1, level: review, "
	    "risk: high}\n", pre);
	expect_error(text, "22:38", "unknown key 'risk' in after (naming a "
	    "rule); it must be one of rule, level");
	snprintf(text, sizeof text, "%s    after: {type: episode.found}\n"
	    "    scope: household\n", pre);
	expect_error(text, "23:12", "scope 'household' must be episode");
	snprintf(text, sizeof text, "%s    after: episode.found\n", pre);
	expect_error(text, "22:12", "after must be a mapping of tests");
	/* A deadline that follows a disabled rule could never start. */
	snprintf(text, sizeof text, "%s    after: {rule: r1, level: review}\n"
	    "  - {id: r2, kind: match, routes: mpu, level: notify, summary: x, "
	    "enabled: false}\n", pre);
	rules_free(expect_ok(text));
	snprintf(text, sizeof text, "%s    after: {rule: r2, level: notify}\n"
	    "  - {id: r2, kind: match, routes: mpu, level: notify, summary: x, "
	    "enabled: false}\n", pre);
	expect_error(text, "22:19", "after names rule 'r2', which is disabled");
}
END_TEST

START_TEST(test_err_summary)
{
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "thresholds: {review: 2}, summary: \"{cuont} times\"}\n", "9:86",
	    "unknown placeholder 'cuont' in summary (placeholders are written "
	    "{count}, {child}, ...); did you mean 'count'?");
	expect_error(HEAD "  - {id: r, kind: repeat, routes: mpu, window: 1d, "
	    "thresholds: {review: 2}, summary: \"{score}\"}\n", "9:86",
	    "{score} is not filled in for a repeat rule; only score rules have "
	    "it");
	expect_error(HEAD "  - {id: m, kind: match, routes: mpu, "
	    "level: notify, summary: \"{due}\"}\n", "9:63",
	    "{due} is not filled in for a match rule; only deadline rules have "
	    "it");
	expect_error(HEAD "  - {id: m, kind: match, routes: mpu, "
	    "level: notify, summary: \"{child\"}\n", "9:63",
	    "summary has a '{' with no '}' after it");
	expect_error(HEAD "  - {id: m, kind: match, routes: mpu, "
	    "level: notify, summary: \"child}\"}\n", "9:63",
	    "summary has a '}' with no '{' before it");
	expect_error(HEAD "  - {id: m, kind: match, routes: mpu, "
	    "level: notify, summary: \"{{child}}\"}\n", "9:63",
	    "summary has a '{' with no '}' after it");
}
END_TEST

START_TEST(test_err_all_reported)
{
	struct rules	*rs;
	char		*cause = NULL;

	/* Rules before the catalogue: errors still come in file order. */
	rs = load("version: 1\n"
	    "rules:\n"
	    "  - id: m\n"
	    "    kind: match\n"
	    "    routes: [mpu, cse]\n"
	    "    when: {indicators_any: nope}\n"
	    "    level: high\n"
	    "    summary: x\n"
	    "routes: {mpu: x}\n"
	    "groups: [cse]\n"
	    "indicators:\n"
	    "  a: {label: A, weight: 0, group: cse}\n", &cause);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(corpus_count_lines(cause), 4);
	ck_assert(corpus_has_error(cause, NAME ":5:19: ", "unknown route 'cse'"));
	ck_assert(corpus_has_error(cause, NAME ":6:28: ", "unknown indicator 'nope'"));
	ck_assert(corpus_has_error(cause, NAME ":7:12: ", "unknown level 'high'"));
	ck_assert(corpus_has_error(cause, NAME ":12:25: ", "weight must be greater"));
	ck_assert_ptr_eq(strstr(cause, NAME ":5:19: "), cause);
	ck_assert_ptr_nonnull(strstr(strstr(cause, ":7:12: "), ":12:25: "));
	free(cause);
}
END_TEST

START_TEST(test_err_then_syntax)
{
	struct rules	*rs;
	char		*cause = NULL;

	/* Tree errors before a syntax error are kept; rules are not read. */
	rs = load("version: 1\nversion: 2\nrules: a: b\n", &cause);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(corpus_count_lines(cause), 2);
	ck_assert(corpus_has_error(cause, NAME ":2:1: ", "duplicate key 'version'"));
	ck_assert(corpus_has_error(cause, NAME ":3:9: ", "YAML syntax error: mapping "
	    "values are not allowed in this context"));
	free(cause);
}
END_TEST

START_TEST(test_err_cap)
{
	struct rules	*rs;
	char		*cause = NULL, text[16384];
	size_t		 i, len;

	len = snprintf(text, sizeof text, "%s", HEAD);
	for (i = 0; i < 80; i++)
		len += snprintf(text + len, sizeof text - len,
		    "  - {id: r%zu, kind: repeat, routes: [mpu], window: 1d, "
		    "summary: x, thresholds: {review: %zu}, bad: 1}\n", i,
		    i + 1);
	rs = load(text, &cause);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(corpus_count_lines(cause), 51);
	ck_assert(corpus_has_error(cause, NAME ":58:", "too many errors; stopping "
	    "here"));
	free(cause);
}
END_TEST

START_TEST(test_err_no_cause)
{
	ck_assert_ptr_null(rules_load_buffer(NAME, "x: 1", 4, NULL));
	ck_assert_ptr_null(rules_load("/nonexistent/rules.yaml", NULL));
}
END_TEST

START_TEST(test_err_depth_and_size)
{
	char	 text[512];

	snprintf(text, sizeof text, HEAD MATCH("%.40s"),
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
	expect_error(text, "12:40", "nesting is deeper than 32 levels");
}
END_TEST

START_TEST(test_digest_stable)
{
	char	 a[65], b[65];

	digest_of(HEAD REPEAT, "r1", a);
	/* Description, summary, routes and enabled are not meaning. */
	digest_of(HEAD
	    "  - id: r1\n"
	    "    description: \"Three episodes\"\n"
	    "    kind: repeat\n"
	    "    enabled: false\n"
	    "    routes: [mpu, cse_team]\n"
	    "    summary: \"{count} episodes for {child}\"\n"
	    "    thresholds: {review: 3}\n"
	    "    window: 90d\n", "r1", b);
	ck_assert_str_eq(a, b);
	/* Another rule before it, and a duration written otherwise. */
	digest_of(HEAD MATCH("{risk: high}")
	    "  - {id: r1, kind: repeat, routes: mpu, window: 2160h, "
	    "thresholds: {review: 3}, summary: x}\n", "r1", b);
	ck_assert_str_eq(a, b);
	/* The order of tests and names in a condition does not matter. */
	digest_of(HEAD MATCH("{risk: [high, medium], age_under: 13}"), "m1", a);
	digest_of(HEAD MATCH("{age_under: 13, risk: [medium, high]}"), "m1", b);
	ck_assert_str_eq(a, b);
	digest_of(HEAD MATCH("{all: [{age_under: 13}, "
	    "{risk: [medium, high]}]}"), "m1", b);
	ck_assert_str_eq(a, b);
	digest_of(HEAD MATCH("{any: {flags_any: [x, y]}}"), "m1", a);
	digest_of(HEAD MATCH("{flags_any: [y, x]}"), "m1", b);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_digest_changes)
{
	char	 a[65], b[65];

	digest_of(HEAD REPEAT, "r1", a);
	digest_of(HEAD
	    "  - id: r1\n"
	    "    kind: repeat\n"
	    "    routes: [mpu]\n"
	    "    window: 90d\n"
	    "    thresholds: {review: 4}\n"
	    "    summary: \"{count} in {window}\"\n", "r1", b);
	ck_assert_str_ne(a, b);
	digest_of(HEAD
	    "  - id: r1\n"
	    "    kind: repeat\n"
	    "    routes: [mpu]\n"
	    "    window: 30d\n"
	    "    thresholds: {review: 3}\n"
	    "    summary: \"{count} in {window}\"\n", "r1", b);
	ck_assert_str_ne(a, b);
	digest_of(HEAD REPEAT "    episodes: {category: missing}\n", "r1", b);
	ck_assert_str_ne(a, b);
	digest_of(HEAD MATCH("{risk: high}"), "m1", a);
	digest_of(HEAD MATCH("{not: {risk: high}}"), "m1", b);
	ck_assert_str_ne(a, b);
	digest_of(HEAD MATCH("{any: [{risk: high}, {age_under: 12}]}"), "m1",
	    a);
	digest_of(HEAD MATCH("{all: [{risk: high}, {age_under: 12}]}"), "m1",
	    b);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_digest_catalogue)
{
	const char	*rule = "  - {id: s, kind: score, routes: mpu, window: "
	    "90d, summary: x, thresholds: {review: 1}, groups: [cse]}\n";
	char		 a[65], b[65], text[2048];

	snprintf(text, sizeof text, "%s%s", HEAD, rule);
	digest_of(text, "s", a);
	/* A weight the score counts changes it; a label does not. */
	snprintf(text, sizeof text, "version: 1\ngroups: [cse, cce, "
	    "vulnerability]\nroutes: {mpu: x}\nindicators:\n"
	    "  disclosed_cse: {label: Other, weight: 3, group: cse}\n"
	    "  cce_weapon: {label: W, weight: 9, group: cce}\nrules:\n%s",
	    rule);
	digest_of(text, "s", b);
	ck_assert_str_eq(a, b);
	snprintf(text, sizeof text, "version: 1\ngroups: [cse, cce, "
	    "vulnerability]\nroutes: {mpu: x}\nindicators:\n"
	    "  disclosed_cse: {label: D, weight: 2, group: cse}\nrules:\n%s",
	    rule);
	digest_of(text, "s", b);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_version)
{
	static const char	 text[] = HEAD REPEAT;
	struct rules		*a, *b;
	char			 copy[sizeof text + 1];

	a = expect_ok(text);
	memcpy(copy, text, sizeof text);
	strcat(copy, " ");
	b = expect_ok(copy);
	ck_assert_str_ne(a->version, b->version);
	ck_assert_str_eq(a->rules[0].digest, b->rules[0].digest);
	rules_free(b);
	b = expect_ok(text);
	ck_assert_str_eq(a->version, b->version);
	rules_free(b);
	rules_free(a);
	/* sha256 of the exact bytes, as sha256sum prints it. */
	a = expect_ok("version: 1\nroutes: {mpu: x}\nrules: [{id: a, kind: "
	    "match, routes: mpu, level: notify, summary: x}]\n");
	ck_assert_str_eq(a->version, "sha256:"
	    "e2cd78e1b8fcb354243f0a82abef6845cb07a4605a2acfb918beda09d11270fe");
	rules_free(a);
}
END_TEST

START_TEST(test_load_file)
{
	const char	*text = HEAD REPEAT;
	struct rules	*rs;
	char		*path, *cause = NULL, *want;

	path = write_temp(text, strlen(text));
	rs = rules_load(path, &cause);
	ck_assert_ptr_nonnull(rs);
	ck_assert_str_eq(rs->path, path);
	rules_free(rs);
	unlink(path);
	free(path);
	text = HEAD "  - {id: r, kind: nope}\n";
	path = write_temp(text, strlen(text));
	ck_assert_ptr_null(rules_load(path, &cause));
	ck_assert_int_ne(asprintf(&want, "%s:9:19: unknown kind 'nope'", path),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, want));
	free(want);
	free(cause);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_load_missing)
{
	char	*cause = NULL;

	ck_assert_ptr_null(rules_load("/nonexistent/rules.yaml", &cause));
	ck_assert_str_eq(cause, "/nonexistent/rules.yaml: cannot read: "
	    "No such file or directory");
	free(cause);
}
END_TEST

START_TEST(test_load_too_big)
{
	size_t	 len = 1024 * 1024 + 1;
	char	*text, *path, *cause = NULL;

	text = malloc(len);
	ck_assert_ptr_nonnull(text);
	memset(text, '#', len);
	path = write_temp(text, len);
	ck_assert_ptr_null(rules_load(path, &cause));
	ck_assert_str_eq(strstr(cause, ": "), ": the file is larger than "
	    "1048576 bytes, the limit for a rules file");
	free(cause);
	unlink(path);
	free(path);
	free(text);
}
END_TEST

/* corpus_load_fn for the rules loader. */
static int
load_rules(const char *path, char **cause)
{
	struct rules	*rs;

	if ((rs = rules_load(path, cause)) == NULL)
		return -1;
	rules_free(rs);
	return 0;
}

START_TEST(test_corpus_good)
{
	size_t	 bad = 0;

	ck_assert_uint_gt(corpus_check(TESTS_SRCDIR "/rules/good", 1,
	    load_rules, &bad), 0);
	ck_assert_msg(bad == 0, "%zu good files refused (see stderr)", bad);
}
END_TEST

START_TEST(test_corpus_bad)
{
	size_t	 bad = 0;

	ck_assert_uint_gt(corpus_check(TESTS_SRCDIR "/rules/bad", 0,
	    load_rules, &bad), 0);
	ck_assert_msg(bad == 0, "%zu bad files not refused as expected "
	    "(see stderr)", bad);
}
END_TEST

/* All the tests, by area. */
static Suite *
rules_suite(void)
{
	Suite	*s = suite_create("rules");
	TCase	*tc;

	tc = tcase_create("default");
	tcase_add_test(tc, test_default_loads);
	tcase_add_test(tc, test_default_catalogue);
	tcase_add_test(tc, test_default_rules);
	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_indicator_known);
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("compile");
	tcase_add_test(tc, test_defaults_and_order);
	tcase_add_test(tc, test_conditions);
	tcase_add_test(tc, test_condition_forms);
	tcase_add_test(tc, test_score_and_deadline);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_err_syntax);
	tcase_add_test(tc, test_err_yaml_features);
	tcase_add_test(tc, test_err_top);
	tcase_add_test(tc, test_err_catalogue);
	tcase_add_test(tc, test_err_rule_keys);
	tcase_add_test(tc, test_err_missing);
	tcase_add_test(tc, test_err_ids);
	tcase_add_test(tc, test_err_levels_thresholds);
	tcase_add_test(tc, test_err_durations);
	tcase_add_test(tc, test_duration_units);
	tcase_add_test(tc, test_err_condition_values);
	tcase_add_test(tc, test_err_condition_shape);
	tcase_add_test(tc, test_err_score);
	tcase_add_test(tc, test_err_deadline);
	tcase_add_test(tc, test_err_summary);
	tcase_add_test(tc, test_err_all_reported);
	tcase_add_test(tc, test_err_then_syntax);
	tcase_add_test(tc, test_err_cap);
	tcase_add_test(tc, test_err_no_cause);
	tcase_add_test(tc, test_err_depth_and_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("identity");
	tcase_add_test(tc, test_digest_stable);
	tcase_add_test(tc, test_digest_changes);
	tcase_add_test(tc, test_digest_catalogue);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_missing);
	tcase_add_test(tc, test_load_too_big);
	tcase_add_test(tc, test_corpus_good);
	tcase_add_test(tc, test_corpus_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(1, LOG_LEVEL_ERROR);
	sr = srunner_create(rules_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
