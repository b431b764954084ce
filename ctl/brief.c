/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl brief CHILD: GET /v1/children/CHILD rendered for a missing
 * persons unit officer, most urgent first: who the child is and how
 * often they go missing, each rule's level and the scores behind it (with
 * the weight and source of each indicator, so "why" is on the screen),
 * open alerts, deadlines running and places of concern; then the history:
 * episodes, indicators, every alert and the event timeline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ctlapi.h"
#include "ctltable.h"
#include "xmalloc.h"

/* Print a table, or "(none)" when it is empty, and free it. */
static void
brief_table(struct ctl_table *t)
{
	if (ctl_table_rows(t) == 0)
		printf("  (none)\n");
	else
		ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
}

/* The distinct sources recorded for indicator id, joined by ", ". */
static char *
brief_sources(const json_t *indicators, const char *id)
{
	const json_t	*e, *ind, *src;
	json_t		*seen = json_array();
	size_t		 i, j;
	const json_t	*s;
	char		*out;
	int		 dup;

	json_array_foreach(indicators, i, e) {
		ind = json_object_get(e, "indicator");
		src = json_object_get(e, "source");
		if (!json_is_string(ind) || !json_is_string(src) ||
		    strcmp(json_string_value(ind), id) != 0)
			continue;
		dup = 0;
		json_array_foreach(seen, j, s)
			dup |= json_equal(s, src);
		if (!dup)
			json_array_append(seen, (json_t *)src);
	}
	out = ctl_json_text(seen);
	json_decref(seen);
	return out;
}

static void
brief_profile(const json_t *b)
{
	const json_t		*p = ctl_json_get(b, "profile");
	const json_t		*last = ctl_json_get(b, "last_episode");
	struct ctl_table	*t = ctl_table_new(2, NULL);

	ctl_table_add(t, "age");
	ctl_table_addk(t, p, "age");
	ctl_table_add(t, "looked after");
	ctl_table_addk(t, p, "looked_after");
	ctl_table_add(t, "child protection plan");
	ctl_table_addk(t, p, "cp_plan");
	ctl_table_add(t, "area");
	ctl_table_addk(t, p, "area");
	ctl_table_add(t, "flags");
	ctl_table_addk(t, p, "flags");
	ctl_table_add(t, "episodes in 90 days");
	ctl_table_addk(t, b, "prior_episodes_90d");
	ctl_table_add(t, "episodes in 365 days");
	ctl_table_addk(t, b, "prior_episodes_365d");
	ctl_table_add(t, "last episode");
	if (json_is_object(last)) {
		char	*e = ctl_json_text(ctl_json_get(last, "episode"));
		char	*at = ctl_json_text(ctl_json_get(last, "reported_at"));

		ctl_table_addf(t, "%s, reported %s", e, at);
		free(e);
		free(at);
	} else
		ctl_table_add(t, "none");
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
}

static void
brief_levels(const json_t *b)
{
	static const char *const h[] = { "RULE", "LEVEL" };
	struct ctl_table	*t = ctl_table_new(2, h);
	const json_t		*levels = ctl_json_get(b, "levels"), *v;
	const char		*rule;

	json_object_foreach((json_t *)levels, rule, v) {
		ctl_table_add(t, rule);
		ctl_table_addj(t, v);
	}
	brief_table(t);
}

static void
brief_scores(const json_t *b)
{
	static const char *const h[] = { "INDICATOR", "LABEL", "WEIGHT",
	    "GROUP", "SOURCES" };
	const json_t		*scores = ctl_json_get(b, "scores"), *s, *part;
	const json_t		*inds = ctl_json_get(b, "indicators");
	const json_t		*id;
	struct ctl_table	*t;
	char			*rule, *score, *src;
	size_t			 i, j;

	if (json_array_size(scores) == 0)
		printf("  (none)\n");
	json_array_foreach(scores, i, s) {
		rule = ctl_json_text(ctl_json_get(s, "rule"));
		score = ctl_json_text(ctl_json_get(s, "score"));
		printf("  ");
		ctl_puts_clean(stdout, rule);
		printf(": score ");
		ctl_puts_clean(stdout, score);
		printf("\n");
		free(rule);
		free(score);
		t = ctl_table_new(5, h);
		json_array_foreach(ctl_json_get(s, "parts"), j, part) {
			ctl_table_addk(t, part, "indicator");
			ctl_table_addk(t, part, "label");
			ctl_table_addk(t, part, "weight");
			ctl_table_addk(t, part, "group");
			id = ctl_json_get(part, "indicator");
			src = brief_sources(inds, json_is_string(id) ?
			    json_string_value(id) : "");
			ctl_table_add(t, src);
			free(src);
		}
		if (ctl_table_rows(t) == 0)
			printf("    (no indicators in its window)\n");
		ctl_table_print(t, stdout, "    ");
		ctl_table_free(t);
	}
}

/* Rows of the objects in array a: one column per key. */
static void
brief_rows(const json_t *a, size_t n, const char *const *headers,
    const char *const *keys)
{
	struct ctl_table	*t = ctl_table_new(n, headers);
	const json_t		*e;
	size_t			 i, k;

	json_array_foreach(a, i, e)
		for (k = 0; k < n; k++)
			ctl_table_addk(t, e, keys[k]);
	brief_table(t);
}

/* "address, postcode" of a place, whichever it has, or its key. */
static void
brief_place(struct ctl_table *t, const json_t *place)
{
	const json_t	*addr = ctl_json_get(place, "address");
	const json_t	*pc = ctl_json_get(place, "postcode");

	if (json_is_string(addr) && json_is_string(pc))
		ctl_table_addf(t, "%s, %s", json_string_value(addr),
		    json_string_value(pc));
	else if (json_is_string(addr) || json_is_string(pc))
		ctl_table_addj(t, json_is_string(addr) ? addr : pc);
	else
		ctl_table_addk(t, place, "location");
}

static void
brief_episodes(const json_t *b)
{
	static const char *const h[] = { "EPISODE", "CATEGORY", "RISK",
	    "REPORTED", "FOUND", "WHERE FOUND", "FOUND FLAGS", "OUT OF AREA",
	    "CLOSED" };
	struct ctl_table	*t = ctl_table_new(9, h);
	const json_t		*e, *found;
	size_t			 i;

	json_array_foreach(ctl_json_get(b, "episodes"), i, e) {
		ctl_table_addk(t, e, "episode");
		ctl_table_addk(t, e, "category");
		ctl_table_addk(t, e, "risk");
		ctl_table_addk(t, e, "reported_at");
		ctl_table_addk(t, e, "found_at");
		found = ctl_json_get(e, "found");
		if (json_is_object(found)) {
			brief_place(t, found);
			ctl_table_addk(t, found, "flags");
		} else {
			ctl_table_add(t, "-");
			ctl_table_add(t, "-");
		}
		ctl_table_addk(t, e, "out_of_area");
		ctl_table_addk(t, e, "closed");
	}
	brief_table(t);
}

static void
brief_alerts(const json_t *b)
{
	static const char *const h[] = { "ALERT", "RAISED", "LEVEL", "RULE",
	    "EPISODE", "ACKNOWLEDGED" };
	struct ctl_table	*t = ctl_table_new(6, h);
	const json_t		*e, *ack;
	char			*by, *at;
	size_t			 i;

	json_array_foreach(ctl_json_get(b, "alerts"), i, e) {
		ctl_table_addk(t, e, "alert");
		ctl_table_addk(t, e, "raised_at");
		ctl_table_addk(t, e, "level");
		ctl_table_addk(t, e, "rule");
		ctl_table_addk(t, e, "episode");
		ack = ctl_json_get(e, "acknowledged");
		if (json_is_object(ack)) {
			by = ctl_json_text(ctl_json_get(ack, "by"));
			at = ctl_json_text(ctl_json_get(ack, "at"));
			ctl_table_addf(t, "%s at %s", by, at);
			free(by);
			free(at);
		} else
			ctl_table_add(t, "no");
	}
	brief_table(t);
}

/* The whole report of b, a child's brief and history. */
static void
brief_print(const json_t *b)
{
	static const char *const oa_h[] = { "ALERT", "RAISED", "LEVEL", "RULE",
	    "EPISODE" };
	static const char *const oa_k[] = { "alert", "raised_at", "level",
	    "rule", "episode" };
	static const char *const dl_h[] = { "RULE", "EPISODE", "DUE" };
	static const char *const dl_k[] = { "rule", "episode", "due" };
	static const char *const lc_h[] = { "ADDRESS", "POSTCODE", "REASONS",
	    "LOCATION" };
	static const char *const lc_k[] = { "address", "postcode", "reasons",
	    "location" };
	static const char *const in_h[] = { "AT", "INDICATOR", "LABEL",
	    "WEIGHT", "GROUP", "SOURCE", "EPISODE" };
	static const char *const in_k[] = { "at", "indicator", "label",
	    "weight", "group", "source", "episode" };
	static const char *const tl_h[] = { "SEQ", "AT", "TYPE", "EPISODE",
	    "EVENT", "SUMMARY" };
	static const char *const tl_k[] = { "seq", "at", "type", "episode",
	    "event", "summary" };
	char	*child = ctl_json_text(ctl_json_get(b, "child"));
	char	*as_of = ctl_json_text(ctl_json_get(b, "as_of"));
	int	 first = 1;

	printf("Child ");
	ctl_puts_clean(stdout, child);
	if (strcmp(as_of, "-") != 0) {
		printf(" (as of ");
		ctl_puts_clean(stdout, as_of);
		printf(")");
	}
	printf("\n");
	free(child);
	free(as_of);
	brief_profile(b);
	ctl_section(stdout, &first, "\nLevels");
	brief_levels(b);
	ctl_section(stdout, &first, "Scores");
	brief_scores(b);
	ctl_section(stdout, &first, "Open alerts");
	brief_rows(ctl_json_get(b, "open_alerts"), 5, oa_h, oa_k);
	ctl_section(stdout, &first, "Pending deadlines");
	brief_rows(ctl_json_get(b, "pending_deadlines"), 3, dl_h, dl_k);
	ctl_section(stdout, &first, "Locations of concern");
	brief_rows(ctl_json_get(b, "locations_of_concern"), 4, lc_h, lc_k);
	ctl_section(stdout, &first, "Episodes (newest first)");
	brief_episodes(b);
	ctl_section(stdout, &first, "Indicators");
	brief_rows(ctl_json_get(b, "indicators"), 7, in_h, in_k);
	ctl_section(stdout, &first, "Alerts (newest first)");
	brief_alerts(b);
	ctl_section(stdout, &first, "Timeline (newest first)");
	brief_rows(ctl_json_get(b, "timeline"), 6, tl_h, tl_k);
}

int
ctl_cmd_brief(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "limit",	required_argument,	NULL, 'l' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_answer	 ans;
	long long		 limit = -1;
	char			*id, *path;
	int			 ch, rc;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":hl:", longopts, NULL)) != -1) {
		if (ch == 'l')
			limit = ctl_opt_number(cmd, "--limit", optarg, 1, 5000);
		else
			ctl_opt_common(ctl, cmd, ch, argv);
	}
	if (argc - optind != 1 || argv[optind][0] == '\0')
		ctl_usage(cmd, CTL_EXIT_USAGE);
	id = ctl_api_escape(argv[optind]);
	if (limit > 0)
		xasprintf(&path, "/v1/children/%s?limit=%lld", id, limit);
	else
		xasprintf(&path, "/v1/children/%s", id);
	free(id);
	rc = ctl_api_call(ctl, "GET", path, NULL, &ans);
	free(path);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (!ctl->json)
		brief_print(ans.json);
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}
