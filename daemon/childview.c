/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The full view of a child for officers.  Its first part is the brief
 * itself (brief_fill(), the very code that answers episode.reported, as of
 * now instead of an event's time); the rest is the history behind it,
 * read with the brief's history reader (episodes) and a few statements of
 * its own: indicators with the event that recorded them, alerts with
 * their acknowledgement, and the timeline.  The timeline's summaries are
 * made from the JSON stored for each event, so they show what
 * was sent, not what the state tables made of it.
 *
 * Every list but the timeline is a child's whole history, which is small
 * (tens of episodes in the worst cases); the timeline is bounded by the
 * caller's limit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "api.h"
#include "audit.h"
#include "brief.h"
#include "childview.h"
#include "daemon.h"
#include "history.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define NOTE_MAX	80	/* bytes of a note quoted in a summary */

enum childview_sql {
	CV_LOCATION,
	CV_INDICATORS,
	CV_ALERTS,
	CV_TIMELINE,
	CV__COUNT
};

static const char *const childview_sql[CV__COUNT] = {
	[CV_LOCATION] = "SELECT address, postcode FROM locations"
	    " WHERE key = ?1",
	/* newest first; the event gives its id and source */
	[CV_INDICATORS] = "SELECT i.indicator, i.at_ms, i.episode_id, e.id,"
	    " e.body FROM child_indicators i JOIN events e ON e.seq = i.seq"
	    " WHERE i.child_id = ?1 ORDER BY i.at_ms DESC, i.seq DESC",
	[CV_ALERTS] = "SELECT id, seq, rule_id, level, raised_at_ms,"
	    " episode_id, ack_by, ack_at_ms, ack_note FROM alerts"
	    " WHERE child_id = ?1 ORDER BY seq DESC",
	/* the index events_child_at, walked backwards */
	[CV_TIMELINE] = "SELECT seq, id, type, at_ms, episode_id, body"
	    " FROM events WHERE child_id = ?1"
	    " ORDER BY at_ms DESC, seq DESC LIMIT ?2",
};

struct childview {
	sqlite3		*db;
	struct brief	*brief;
	sqlite3_stmt	*stmt[CV__COUNT];
};

/* A summary being written: capped, with a mark when something was cut. */
struct cv_text {
	char	 buf[CHILDVIEW_SUMMARY_MAX + 1];
	size_t	 len;
	int	 cut;
};

/* The statement for q, prepared on first use, bound to text ?1. */
static sqlite3_stmt *
cv_stmt(struct childview *cv, enum childview_sql q, const char *text)
{
	if (cv->stmt[q] == NULL &&
	    sqlite3_prepare_v3(cv->db, childview_sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &cv->stmt[q], NULL) != SQLITE_OK) {
		log_warnx("childview", "preparing a query: %s",
		    sqlite3_errmsg(cv->db));
		return NULL;
	}
	sqlite3_bind_text(cv->stmt[q], 1, text, -1, SQLITE_STATIC);
	return cv->stmt[q];
}

/* Reset a statement; 0 when rc says it ran to its end. */
static int
cv_done(struct childview *cv, sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("childview", "%s", sqlite3_errmsg(cv->db));
		return -1;
	}
	return 0;
}

/* Append to a summary; what does not fit is cut. */
static void printflike(2, 3)
cv_add(struct cv_text *t, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (t->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof t->buf - t->len) {
		t->len = sizeof t->buf - 1;
		t->cut = 1;
	} else
		t->len += (size_t)n;
}

/* A member of o as a string, or NULL. */
static const char *
cv_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A location as "address postcode" (or what of it there is). */
static void
cv_place(struct cv_text *t, json_t *loc)
{
	const char	*address = cv_str(loc, "address");
	const char	*postcode = cv_str(loc, "postcode");
	const char	*uprn = cv_str(loc, "uprn");

	if (address != NULL)
		cv_add(t, "%s%s%s", address, postcode != NULL ? " " : "",
		    postcode != NULL ? postcode : "");
	else if (postcode != NULL)
		cv_add(t, "%s", postcode);
	else if (uprn != NULL)
		cv_add(t, "UPRN %s", uprn);
	else
		cv_add(t, "an unnamed place");
}

/* A note, quoted and cut to NOTE_MAX bytes (on a character boundary). */
static void
cv_note(struct cv_text *t, const char *note)
{
	size_t	 len = strlen(note);

	if (len <= NOTE_MAX) {
		cv_add(t, "\"%s\"", note);
		return;
	}
	len = NOTE_MAX;
	while (len > 0 && ((unsigned char)note[len] & 0xc0) == 0x80)
		len--;
	cv_add(t, "\"%.*s...\"", (int)len, note);
}

/* "; indicators: a, b" when the event carries any. */
static void
cv_indicators(struct cv_text *t, json_t *ev)
{
	json_t	*arr = json_object_get(ev, "indicators");
	size_t	 i;

	for (i = 0; i < json_array_size(arr); i++)
		cv_add(t, "%s%s", i == 0 ? "; indicators: " : ", ",
		    json_string_value(json_array_get(arr, i)) != NULL ?
		    json_string_value(json_array_get(arr, i)) : "?");
}

/* The type-specific words of a summary. */
static void
cv_describe(struct cv_text *t, const char *type, json_t *ev)
{
	const char	*s;
	json_t		*v;

	if (strcmp(type, "episode.reported") == 0) {
		cv_add(t, "%s", (s = cv_str(ev, "category")) != NULL ? s :
		    "reported");
		if ((s = cv_str(ev, "risk")) != NULL)
			cv_add(t, ", risk %s", s);
		if ((v = json_object_get(ev, "last_seen")) != NULL) {
			cv_add(t, ", last seen ");
			cv_place(t, v);
		}
	} else if (strcmp(type, "episode.updated") == 0) {
		cv_add(t, "updated");
		if ((s = cv_str(ev, "category")) != NULL)
			cv_add(t, ", now %s", s);
		if ((s = cv_str(ev, "risk")) != NULL)
			cv_add(t, ", risk %s", s);
		if ((s = cv_str(ev, "note")) != NULL) {
			cv_add(t, ": ");
			cv_note(t, s);
		}
	} else if (strcmp(type, "episode.found") == 0) {
		cv_add(t, "found at ");
		cv_place(t, json_object_get(ev, "found"));
		v = json_object_get(json_object_get(ev, "found"),
		    "out_of_area");
		if (json_is_true(v))
			cv_add(t, ", out of area");
		v = json_object_get(json_object_get(ev, "found"), "with");
		if (json_array_size(v) > 0)
			cv_add(t, ", with %zu other%s", json_array_size(v),
			    json_array_size(v) == 1 ? "" : "s");
	} else if (strcmp(type, "episode.closed") == 0) {
		cv_add(t, "closed");
		if ((s = cv_str(ev, "outcome")) != NULL)
			cv_add(t, ": %s", s);
	} else if (strcmp(type, "interview.completed") == 0)
		cv_add(t, "%s interview", (s = cv_str(ev, "kind")) != NULL ?
		    s : "an");
	else if (strcmp(type, "indicator.recorded") == 0) {
		cv_add(t, "indicator %s", (s = cv_str(ev, "indicator")) !=
		    NULL ? s : "?");
		if ((s = cv_str(ev, "note")) != NULL) {
			cv_add(t, ": ");
			cv_note(t, s);
		}
	} else if (strcmp(type, "plan.recorded") == 0)
		cv_add(t, "%s recorded", (s = cv_str(ev, "plan")) != NULL ?
		    s : "plan");
	else
		cv_add(t, "%s", type);
	if (strcmp(type, "indicator.recorded") != 0)
		cv_indicators(t, ev);
	if ((s = cv_str(ev, "source")) != NULL)
		cv_add(t, " (%s)", s);
}

/* One episode as the view shows it. */
static json_t *
cv_episode(struct childview *cv, const struct episode_view *e)
{
	sqlite3_stmt	*st;
	json_t		*o, *found = json_null(), *flags;
	size_t		 i;
	int		 rc;

	if (e->found_key[0] != '\0') {
		if ((st = cv_stmt(cv, CV_LOCATION, e->found_key)) == NULL)
			return NULL;
		found = json_pack("{s:s, s:n, s:n}", "location", e->found_key,
		    "address", "postcode");
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			json_object_set_new(found, "address",
			    brief_json_col(st, 0));
			json_object_set_new(found, "postcode",
			    brief_json_col(st, 1));
			rc = SQLITE_DONE;
		}
		if (cv_done(cv, st, rc) == -1) {
			json_decref(found);
			return NULL;
		}
		flags = json_array();
		for (i = 0; i < e->nfound_flags; i++)
			json_array_append_new(flags,
			    json_string(e->found_flags[i]));
		json_object_set_new(found, "flags", flags);
	}
	o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
	    "episode", e->id,
	    "category", e->category != CAT_UNSET ?
	    json_string(category_name(e->category)) : json_null(),
	    "risk", e->risk != RISK_UNSET ?
	    json_string(risk_name(e->risk)) : json_null(),
	    "reported_at", brief_json_time(e->reported_at_ms),
	    "found_at", e->found_at_ms >= 0 ?
	    brief_json_time(e->found_at_ms) : json_null(),
	    "found", found,
	    "out_of_area", brief_json_tri(e->out_of_area),
	    "closed", e->closed);
	return o;
}

/* Every episode, newest first. */
static int
cv_episodes(struct childview *cv, const char *child, json_t *o)
{
	struct episode_view	*eps;
	json_t			*arr = json_array(), *e;
	size_t			 i, n;

	if (history_episodes(brief_history(cv->brief), child, INT64_MIN,
	    INT64_MAX, &eps, &n) == -1) {
		json_decref(arr);
		return -1;
	}
	for (i = n; i > 0; i--) {
		if ((e = cv_episode(cv, &eps[i - 1])) == NULL) {
			episode_views_free(eps, n);
			json_decref(arr);
			return -1;
		}
		json_array_append_new(arr, e);
	}
	episode_views_free(eps, n);
	json_object_set_new(o, "episodes", arr);
	return 0;
}

/* The sending system named in a stored event, or null. */
static json_t *
cv_source(const char *body)
{
	json_t		*ev, *src;

	if (body == NULL || (ev = json_loads(body, 0, NULL)) == NULL)
		return json_null();
	src = json_object_get(ev, "source");
	src = json_is_string(src) ? json_incref(src) : json_null();
	json_decref(ev);
	return src;
}

/* Every indicator recorded, newest first, with the catalogue's words. */
static int
cv_indicator_list(struct childview *cv, const struct rules *rules,
    const char *child, json_t *o)
{
	const struct indicator_def	*def;
	sqlite3_stmt			*st;
	json_t				*arr = json_array();
	const char			*id;
	int				 rc;

	if ((st = cv_stmt(cv, CV_INDICATORS, child)) == NULL) {
		json_decref(arr);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = (const char *)sqlite3_column_text(st, 0);
		/* an id a reload took out of the catalogue shows as such */
		def = rules != NULL && id != NULL ?
		    rules_indicator(rules, id) : NULL;
		json_array_append_new(arr, json_pack(
		    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		    "indicator", brief_json_col(st, 0),
		    "label", def != NULL ? json_string(def->label) : json_null(),
		    "weight", def != NULL ? json_real(def->weight) : json_null(),
		    "group", def != NULL ? json_string(def->group) : json_null(),
		    "source", cv_source((const char *)sqlite3_column_text(st,
		    4)),
		    "at", brief_json_time(sqlite3_column_int64(st, 1)),
		    "episode", brief_json_col(st, 2),
		    "event", brief_json_col(st, 3)));
	}
	json_object_set_new(o, "indicators", arr);
	return cv_done(cv, st, rc);
}

/* Every alert, newest first, with its acknowledgement. */
static int
cv_alerts(struct childview *cv, const char *child, json_t *o)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array(), *ack;
	int		 rc;

	if ((st = cv_stmt(cv, CV_ALERTS, child)) == NULL) {
		json_decref(arr);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ack = json_null();
		if (sqlite3_column_type(st, 7) != SQLITE_NULL)
			ack = json_pack("{s:o, s:o, s:o}",
			    "by", brief_json_col(st, 6),
			    "at", brief_json_time(sqlite3_column_int64(st, 7)),
			    "note", brief_json_col(st, 8));
		json_array_append_new(arr, json_pack(
		    "{s:o, s:I, s:o, s:o, s:o, s:o, s:o}",
		    "alert", brief_json_col(st, 0),
		    "seq", (json_int_t)sqlite3_column_int64(st, 1),
		    "rule", brief_json_col(st, 2),
		    "level", brief_json_col(st, 3),
		    "raised_at", brief_json_time(sqlite3_column_int64(st, 4)),
		    "episode", brief_json_col(st, 5),
		    "acknowledged", ack));
	}
	json_object_set_new(o, "alerts", arr);
	return cv_done(cv, st, rc);
}

/* The child's events, newest first, at most limit. */
static int
cv_timeline(struct childview *cv, const char *child, size_t limit,
    json_t *o)
{
	sqlite3_stmt	*st;
	json_t		*arr = json_array();
	char		*summary;
	int		 rc;

	if ((st = cv_stmt(cv, CV_TIMELINE, child)) == NULL) {
		json_decref(arr);
		return -1;
	}
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		summary = childview_summary((const char *)
		    sqlite3_column_text(st, 5));
		json_array_append_new(arr, json_pack(
		    "{s:I, s:o, s:o, s:o, s:o, s:s}",
		    "seq", (json_int_t)sqlite3_column_int64(st, 0),
		    "event", brief_json_col(st, 1),
		    "type", brief_json_col(st, 2),
		    "at", brief_json_time(sqlite3_column_int64(st, 3)),
		    "episode", brief_json_col(st, 4),
		    "summary", summary));
		free(summary);
	}
	json_object_set_new(o, "timeline", arr);
	return cv_done(cv, st, rc);
}

/* A view over store around brief (both borrowed). */
struct childview *
childview_new(struct store *store, struct brief *brief)
{
	struct childview	*cv;

	cv = xcalloc(1, sizeof *cv);
	cv->db = store_db(store);
	cv->brief = brief;
	return cv;
}

/* Finalize the statements and free.  Accepts NULL. */
void
childview_free(struct childview *cv)
{
	size_t	 i;

	if (cv == NULL)
		return;
	for (i = 0; i < CV__COUNT; i++)
		sqlite3_finalize(cv->stmt[i]);
	free(cv);
}

/* The view of child now. */
int
childview_get(struct childview *cv, const struct rules *rules,
    const char *child, int64_t now_ms, size_t limit, json_t **out)
{
	json_t	*o;
	int	 rc;

	*out = NULL;
	if (limit < 1)
		limit = 1;
	if (limit > CHILDVIEW_TIMELINE_MAX)
		limit = CHILDVIEW_TIMELINE_MAX;
	o = json_object();
	if ((rc = brief_fill(cv->brief, rules, child, NULL, now_ms, o)) != 0) {
		json_decref(o);
		return rc;
	}
	json_object_set_new(o, "as_of", brief_json_time(now_ms));
	if (cv_episodes(cv, child, o) == -1 ||
	    cv_indicator_list(cv, rules, child, o) == -1 ||
	    cv_alerts(cv, child, o) == -1 ||
	    cv_timeline(cv, child, limit, o) == -1) {
		json_decref(o);
		return -1;
	}
	*out = o;
	return 0;
}

/* GET /v1/children/{id}?limit=N */
void
api_child(struct http_req *r)
{
	const char	*id = http_param(r, "id");
	int64_t		 limit = CHILDVIEW_TIMELINE_DEFAULT;
	json_t		*o = NULL;
	int		 rc;

	if (http_query_int(r, "limit", 1, CHILDVIEW_TIMELINE_MAX, &limit) ==
	    -1)
		return;
	switch ((rc = childview_get(r->d->childview, r->d->rules, id,
	    time_now_ms(), (size_t)limit, &o))) {
	case 0:
	case 1:
		/*
		 * Who looked at which child, found or not, is recorded before
		 * anything is served; unrecorded, nothing is (503).
		 */
		if (audit_record(r->d->store, r->actor, AUDIT_BRIEF_READ, id,
		    json_pack("{s:b}", "found", rc == 0)) == -1) {
			json_decref(o);
			http_error(r, 503, "unavailable", NULL, "the read could "
			    "not be recorded in the audit trail, so it was not "
			    "served; try again later");
		} else if (rc == 0)
			http_reply_json(r, 200, o);
		else
			http_error(r, 404, "unknown_child", NULL, "no child %s "
			    "is on record; check the id", id);
		break;
	default:
		http_error(r, 503, "unavailable", NULL, "the database could not "
		    "be read; try again later");
		break;
	}
}

/* The one-line summary of a stored event. */
char *
childview_summary(const char *body)
{
	struct cv_text	 t;
	json_t		*ev;
	const char	*type;
	size_t		 len;

	memset(&t, 0, sizeof t);
	if (body == NULL || (ev = json_loads(body, 0, NULL)) == NULL)
		return xstrdup("(unreadable event)");
	type = cv_str(ev, "type");
	cv_describe(&t, type != NULL ? type : "event", ev);
	json_decref(ev);
	if (t.cut) {
		/* room for "...", and never half a UTF-8 character */
		len = sizeof t.buf - 4;
		while (len > 0 && ((unsigned char)t.buf[len] & 0xc0) == 0x80)
			len--;
		memcpy(t.buf + len, "...", 4);
	}
	return xstrdup(t.buf);
}
