/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Building a child's brief from the store: prior episodes in the last 90
 * and 365 days, the indicator score of each score rule with its parts, the
 * current level of each rule, open alerts, pending deadlines, the child's
 * flags and the flagged places linked to the child.  Read-only; runs in
 * the event's transaction so it includes the event just stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "brief.h"
#include "history.h"
#include "log.h"
#include "score.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DAY_MS		86400000LL
#define OPEN_ALERTS_MAX	20

enum brief_sql {
	B_LEVELS,
	B_OPEN_ALERTS,
	B_DEADLINES,
	B_PLACES,
	B__COUNT
};

static const char *const brief_sql[B__COUNT] = {
	[B_LEVELS] = "SELECT rule_id, level, digest FROM rule_state"
	    " WHERE child_id = ?1 AND scope = '' AND level > 0"
	    " ORDER BY rule_id",
	[B_OPEN_ALERTS] = "SELECT id, rule_id, level, raised_at_ms, episode_id"
	    " FROM alerts WHERE child_id = ?1 AND ack_at_ms IS NULL"
	    " ORDER BY seq DESC LIMIT ?2",
	[B_DEADLINES] = "SELECT rule_id, episode_id, due_at_ms FROM deadlines"
	    " WHERE child_id = ?1 AND status = 'pending'"
	    " ORDER BY due_at_ms, id",
	[B_PLACES] = "SELECT DISTINCT l.key, l.address, l.postcode, f.reason"
	    " FROM episodes e JOIN location_flags f"
	    " ON f.location_key IN (e.found_key, e.last_seen_key)"
	    " AND f.active = 1 JOIN locations l ON l.key = f.location_key"
	    " WHERE e.child_id = ?1 ORDER BY l.key, f.reason",
};

struct brief {
	sqlite3		*db;
	struct history	*h;
	sqlite3_stmt	*stmt[B__COUNT];
};

/* The statement for q, prepared on first use, bound to child. */
static sqlite3_stmt *
brief_stmt(struct brief *b, enum brief_sql q, const char *child)
{
	if (b->stmt[q] == NULL &&
	    sqlite3_prepare_v3(b->db, brief_sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &b->stmt[q], NULL) != SQLITE_OK) {
		log_warnx("brief", "preparing a query: %s",
		    sqlite3_errmsg(b->db));
		return NULL;
	}
	sqlite3_bind_text(b->stmt[q], 1, child, -1, SQLITE_STATIC);
	return b->stmt[q];
}

/* Reset a statement; 0 when rc says the query ran to its end. */
static int
brief_done(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The child's profile. */
static json_t *
brief_profile(const struct child_view *cv, int64_t at_ms)
{
	json_t	*o = json_object(), *flags = json_array();
	size_t	 i;

	json_object_set_new(o, "age", cv->has_dob ?
	    json_integer(time_age_years(cv->dob_days, at_ms)) : json_null());
	json_object_set_new(o, "looked_after",
	    brief_json_tri(cv->looked_after));
	json_object_set_new(o, "cp_plan", brief_json_tri(cv->cp_plan));
	json_object_set_new(o, "area", cv->area[0] != '\0' ?
	    json_string(cv->area) : json_null());
	for (i = 0; i < cv->nflags; i++)
		json_array_append_new(flags, json_string(cv->flags[i]));
	json_object_set_new(o, "flags", flags);
	return o;
}

/* Prior episodes in the last 90 and 365 days, and the latest of them. */
static int
brief_episodes(struct brief *b, const char *child, const char *episode,
    int64_t at_ms, json_t *o)
{
	struct episode_view	*eps;
	size_t			 i, n, n90 = 0, n365 = 0;
	json_t			*last = json_null();

	if (history_episodes(b->h, child, at_ms - 365 * DAY_MS + 1,
	    at_ms + 1, &eps, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (episode != NULL && strcmp(eps[i].id, episode) == 0)
			continue;
		n365++;
		if (eps[i].reported_at_ms > at_ms - 90 * DAY_MS)
			n90++;
		json_decref(last);
		last = json_pack("{s:s, s:o}", "episode", eps[i].id,
		    "reported_at", brief_json_time(eps[i].reported_at_ms));
	}
	episode_views_free(eps, n);
	json_object_set_new(o, "prior_episodes_90d", json_integer(n90));
	json_object_set_new(o, "prior_episodes_365d", json_integer(n365));
	json_object_set_new(o, "last_episode", last);
	return 0;
}

/* Collect the distinct indicators of a score, with weights. */
static void
brief_part(void *arg, const struct indicator_row *row,
    const struct indicator_def *def, int first)
{
	json_t	*parts = arg;

	if (first)
		json_array_append_new(parts, json_pack("{s:s, s:s, s:f, s:s}",
		    "indicator", def->id, "label", def->label,
		    "weight", def->weight, "group", def->group));
}

/* Each score rule's score now (before factors), with its parts. */
static int
brief_scores(struct brief *b, const struct rules *rules, const char *child,
    int64_t at_ms, json_t *o)
{
	struct indicator_row	*rows;
	json_t			*arr = json_array(), *parts;
	size_t			 i, n;
	double			 s;

	for (i = 0; rules != NULL && i < rules->nrules; i++) {
		const struct rule *r = &rules->rules[i];

		if (r->kind != RULE_SCORE || !r->enabled)
			continue;
		if (history_indicators(b->h, child, at_ms - r->window_ms + 1,
		    at_ms + 1, &rows, &n) == -1) {
			json_decref(arr);
			return -1;
		}
		parts = json_array();
		s = score_window(r, rules, rows, n, at_ms, brief_part, parts);
		free(rows);
		json_array_append_new(arr, json_pack("{s:s, s:f, s:o}",
		    "rule", r->id, "score", s, "parts", parts));
	}
	json_object_set_new(o, "scores", arr);
	return 0;
}

/* The current level of each rule for the child (rules at none left out). */
static int
brief_levels(struct brief *b, const struct rules *rules, const char *child,
    json_t *o)
{
	const struct rule	*r;
	sqlite3_stmt		*st;
	json_t			*levels = json_object();
	const char		*digest;
	int			 rc;

	if ((st = brief_stmt(b, B_LEVELS, child)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = rules_find(rules, (const char *)sqlite3_column_text(st, 0));
		digest = (const char *)sqlite3_column_text(st, 2);
		if (r == NULL || digest == NULL || strcmp(r->digest, digest))
			continue;
		json_object_set_new(levels, r->id, json_string(
		    level_name((enum level)sqlite3_column_int(st, 1))));
	}
	json_object_set_new(o, "levels", levels);
	return brief_done(st, rc);
}

/* Unacknowledged alerts, newest first. */
static int
brief_open_alerts(struct brief *b, const char *child, json_t *o)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array();
	int		 rc;

	if ((st = brief_stmt(b, B_OPEN_ALERTS, child)) == NULL)
		return -1;
	sqlite3_bind_int(st, 2, OPEN_ALERTS_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o}",
		    "alert", brief_json_col(st, 0),
		    "rule", brief_json_col(st, 1),
		    "level", brief_json_col(st, 2),
		    "raised_at", brief_json_time(sqlite3_column_int64(st, 3)),
		    "episode", brief_json_col(st, 4)));
	json_object_set_new(o, "open_alerts", arr);
	return brief_done(st, rc);
}

/* Pending deadlines. */
static int
brief_deadlines(struct brief *b, const char *child, json_t *o)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array();
	int		 rc;

	if ((st = brief_stmt(b, B_DEADLINES, child)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o}",
		    "rule", brief_json_col(st, 0),
		    "episode", brief_json_col(st, 1),
		    "due", brief_json_time(sqlite3_column_int64(st, 2))));
	json_object_set_new(o, "pending_deadlines", arr);
	return brief_done(st, rc);
}

/* Flagged places where the child was last seen or found. */
static int
brief_places(struct brief *b, const char *child, json_t *o)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array(), *last = NULL;
	const char	*key, *prev = NULL;
	int		 rc;

	if ((st = brief_stmt(b, B_PLACES, child)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		key = (const char *)sqlite3_column_text(st, 0);
		if (last == NULL || prev == NULL || strcmp(prev, key) != 0) {
			last = json_pack("{s:s, s:o, s:o, s:[]}", "location",
			    key, "address", brief_json_col(st, 1), "postcode",
			    brief_json_col(st, 2), "reasons");
			json_array_append_new(arr, last);
			prev = json_string_value(json_object_get(last,
			    "location"));
		}
		json_array_append_new(json_object_get(last, "reasons"),
		    brief_json_col(st, 3));
	}
	json_object_set_new(o, "locations_of_concern", arr);
	return brief_done(st, rc);
}

/* A brief builder over store (borrowed). */
struct brief *
brief_new(struct store *store)
{
	struct brief	*b;

	b = xcalloc(1, sizeof *b);
	b->db = store_db(store);
	b->h = history_new(store);
	return b;
}

/* Free it and its statements.  Accepts NULL. */
void
brief_free(struct brief *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < B__COUNT; i++)
		sqlite3_finalize(b->stmt[i]);
	history_free(b->h);
	free(b);
}

/* The reader the brief uses, for views built around the brief. */
struct history *
brief_history(struct brief *b)
{
	return b->h;
}

/* Add the brief's members to o: 0, 1 when the child is unknown, -1. */
int
brief_fill(struct brief *b, const struct rules *rules, const char *child,
    const char *episode, int64_t at_ms, json_t *o)
{
	struct child_view	 cv;
	int			 rc;

	if ((rc = history_child(b->h, child, &cv)) == -1)
		return -1;
	json_object_set_new(o, "child", json_string(child));
	json_object_set_new(o, "known", json_boolean(rc == 0));
	json_object_set_new(o, "profile", brief_profile(&cv, at_ms));
	child_view_clear(&cv);
	if (brief_episodes(b, child, episode, at_ms, o) == -1 ||
	    brief_scores(b, rules, child, at_ms, o) == -1 ||
	    brief_levels(b, rules, child, o) == -1 ||
	    brief_open_alerts(b, child, o) == -1 ||
	    brief_deadlines(b, child, o) == -1 ||
	    brief_places(b, child, o) == -1)
		return -1;
	return rc;
}

/* The brief of child as at at_ms. */
json_t *
brief_child(struct brief *b, const struct rules *rules, const char *child,
    const char *episode, int64_t at_ms)
{
	json_t	*o = json_object();

	if (brief_fill(b, rules, child, episode, at_ms, o) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A text column as a JSON string, or null. */
json_t *
brief_json_col(struct sqlite3_stmt *st, int col)
{
	const unsigned char	*s = sqlite3_column_text(st, col);

	return s != NULL ? json_string((const char *)s) : json_null();
}

/* A time in ms as an RFC 3339 JSON string. */
json_t *
brief_json_time(int64_t ms)
{
	char	 buf[TIME_RFC3339_LEN];

	time_format_rfc3339(ms, buf);
	return json_string(buf);
}

/* A tri-state as true, false or null. */
json_t *
brief_json_tri(int v)
{
	return v == TRI_UNSET ? json_null() : json_boolean(v);
}
