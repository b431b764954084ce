/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reading a child's history for the rules engine.  Every read is a
 * prepared statement on the store's connection, inside whatever
 * transaction is open, so the rules see the event that triggered them.
 * Results are copied out into caller-owned views; nothing is kept.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "history.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

enum history_sql {
	H_CHILD,
	H_EPISODE,
	H_EPISODES,
	H_FLAGS,
	H_INDICATORS,
	H_EVENT,
	H_OF_TYPE,
	H_BODY,
	H__COUNT
};

#define H_EPISODE_COLUMNS \
	"SELECT e.id, e.category, e.risk, e.out_of_area," \
	" COALESCE(e.reported_at_ms, f.at_ms), e.found_at_ms," \
	" e.closed_at_ms, e.found_key, e.first_seq, f.id" \
	" FROM episodes e JOIN events f ON f.seq = e.first_seq "

static const char *const history_sql[H__COUNT] = {
	[H_CHILD] = "SELECT dob, looked_after, cp_plan, area, flags"
	    " FROM children WHERE id = ?1",
	[H_EPISODE] = H_EPISODE_COLUMNS "WHERE e.id = ?1",
	[H_EPISODES] = H_EPISODE_COLUMNS "WHERE e.child_id = ?1"
	    " AND COALESCE(e.reported_at_ms, f.at_ms) >= ?2"
	    " AND COALESCE(e.reported_at_ms, f.at_ms) < ?3"
	    " ORDER BY COALESCE(e.reported_at_ms, f.at_ms), e.first_seq",
	[H_FLAGS] = "SELECT reason FROM location_flags"
	    " WHERE location_key = ?1 AND active = 1 ORDER BY reason",
	[H_INDICATORS] = "SELECT indicator, at_ms, seq FROM child_indicators"
	    " WHERE child_id = ?1 AND at_ms >= ?2 AND at_ms < ?3"
	    " ORDER BY at_ms, seq",
	[H_EVENT] = "SELECT seq, id, type, at_ms, episode_id FROM events"
	    " WHERE seq = ?1",
	[H_OF_TYPE] = "SELECT seq FROM events WHERE child_id = ?1"
	    " AND (?2 IS NULL OR type = ?2) AND at_ms >= ?3 AND at_ms < ?4"
	    " ORDER BY at_ms, seq",
	[H_BODY] = "SELECT body FROM events WHERE seq = ?1",
};

struct history {
	sqlite3		*db;
	sqlite3_stmt	*stmt[H__COUNT];
};

/* The statement for q, prepared on first use and reset for reuse. */
static sqlite3_stmt *
history_stmt(struct history *h, enum history_sql q)
{
	if (h->stmt[q] == NULL &&
	    sqlite3_prepare_v3(h->db, history_sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &h->stmt[q], NULL) != SQLITE_OK) {
		log_warnx("history", "preparing a query: %s",
		    sqlite3_errmsg(h->db));
		return NULL;
	}
	return h->stmt[q];
}

/* Finish with a statement; returns rc for chaining. */
static int
history_done(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Copy column col as text into buf (empty when NULL). */
static void
history_text(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const unsigned char	*s = sqlite3_column_text(st, col);

	if (s == NULL)
		buf[0] = '\0';
	else {
		strncpy(buf, (const char *)s, len - 1);
		buf[len - 1] = '\0';
	}
}

/* A nullable 0/1 column as a tri-state. */
static int
history_tri(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return TRI_UNSET;
	return sqlite3_column_int(st, col) != 0;
}

/* Map a stored name back to its enum index in names[], or unset. */
static int
history_enum(sqlite3_stmt *st, int col, const char *(*name)(int), int n,
    int unset)
{
	const char	*s = (const char *)sqlite3_column_text(st, col);
	int		 i;

	if (s == NULL)
		return unset;
	for (i = 0; i < n; i++)
		if (name(i) != NULL && strcmp(name(i), s) == 0)
			return i;
	return unset;
}

static const char *
history_category_name(int i)
{
	return category_name((enum category)i);
}

static const char *
history_risk_name(int i)
{
	return risk_name((enum risk)i);
}

/* The child's flags from their JSON array text. */
static void
history_flags(const char *text, struct child_view *cv)
{
	json_t	*a;
	size_t	 i;

	if (text == NULL || (a = json_loads(text, 0, NULL)) == NULL)
		return;
	if (json_is_array(a) && json_array_size(a) > 0) {
		cv->flags = xcalloc(json_array_size(a), sizeof *cv->flags);
		for (i = 0; i < json_array_size(a); i++) {
			const char *s = json_string_value(json_array_get(a, i));

			if (s != NULL)
				cv->flags[cv->nflags++] = xstrdup(s);
		}
	}
	json_decref(a);
}

/* The active flag reasons of a location into ev. */
static int
history_found_flags(struct history *h, struct episode_view *ev)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (ev->found_key[0] == '\0')
		return 0;
	if ((st = history_stmt(h, H_FLAGS)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, ev->found_key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ev->found_flags = xreallocarray(ev->found_flags,
		    ev->nfound_flags + 1, sizeof *ev->found_flags);
		ev->found_flags[ev->nfound_flags++] =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	return history_done(st, rc == SQLITE_DONE ? 0 : -1);
}

/* Fill ev from the current row of an episode query. */
static void
history_episode_row(sqlite3_stmt *st, struct episode_view *ev)
{
	memset(ev, 0, sizeof *ev);
	history_text(st, 0, ev->id, sizeof ev->id);
	ev->category = history_enum(st, 1, history_category_name, 2,
	    CAT_UNSET);
	ev->risk = history_enum(st, 2, history_risk_name, 4, RISK_UNSET);
	ev->out_of_area = history_tri(st, 3);
	ev->reported_at_ms = sqlite3_column_int64(st, 4);
	ev->found_at_ms = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 5);
	ev->closed = sqlite3_column_type(st, 6) != SQLITE_NULL;
	history_text(st, 7, ev->found_key, sizeof ev->found_key);
	ev->first_seq = sqlite3_column_int64(st, 8);
	history_text(st, 9, ev->first_event, sizeof ev->first_event);
}

/* A reader over store (borrowed). */
struct history *
history_new(struct store *store)
{
	struct history	*h;

	h = xcalloc(1, sizeof *h);
	h->db = store_db(store);
	return h;
}

/* Finalize the statements; must run before the store closes. */
void
history_free(struct history *h)
{
	size_t	 i;

	if (h == NULL)
		return;
	for (i = 0; i < H__COUNT; i++)
		sqlite3_finalize(h->stmt[i]);
	free(h);
}

/* The child's profile. */
int
history_child(struct history *h, const char *id, struct child_view *cv)
{
	sqlite3_stmt	*st;
	const char	*dob;
	int		 rc;

	memset(cv, 0, sizeof *cv);
	strncpy(cv->id, id, sizeof cv->id - 1);
	cv->looked_after = cv->cp_plan = TRI_UNSET;
	if ((st = history_stmt(h, H_CHILD)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return history_done(st, rc == SQLITE_DONE ? 1 : -1);
	dob = (const char *)sqlite3_column_text(st, 0);
	if (dob != NULL && time_parse_date(dob, &cv->dob_days) == 0)
		cv->has_dob = 1;
	cv->looked_after = history_tri(st, 1);
	cv->cp_plan = history_tri(st, 2);
	history_text(st, 3, cv->area, sizeof cv->area);
	history_flags((const char *)sqlite3_column_text(st, 4), cv);
	return history_done(st, 0);
}

/* Free what a child view owns. */
void
child_view_clear(struct child_view *cv)
{
	size_t	 i;

	for (i = 0; i < cv->nflags; i++)
		free(cv->flags[i]);
	free(cv->flags);
	cv->flags = NULL;
	cv->nflags = 0;
}

/* One episode by id. */
int
history_episode(struct history *h, const char *id, struct episode_view *ev)
{
	sqlite3_stmt	*st;
	int		 rc;

	memset(ev, 0, sizeof *ev);
	if ((st = history_stmt(h, H_EPISODE)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return history_done(st, rc == SQLITE_DONE ? 1 : -1);
	history_episode_row(st, ev);
	history_done(st, 0);
	return history_found_flags(h, ev);
}

/* The child's episodes reported in [from_ms, to_ms), oldest first. */
int
history_episodes(struct history *h, const char *child, int64_t from_ms,
    int64_t to_ms, struct episode_view **out, size_t *n)
{
	sqlite3_stmt		*st;
	struct episode_view	*v = NULL;
	size_t			 i, nv = 0;
	int			 rc;

	*out = NULL;
	*n = 0;
	if ((st = history_stmt(h, H_EPISODES)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, child, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof *v);
		history_episode_row(st, &v[nv++]);
	}
	history_done(st, 0);
	if (rc != SQLITE_DONE) {
		episode_views_free(v, nv);
		return -1;
	}
	for (i = 0; i < nv; i++) {
		if (history_found_flags(h, &v[i]) == -1) {
			episode_views_free(v, nv);
			return -1;
		}
	}
	*out = v;
	*n = nv;
	return 0;
}

/* Free what one episode view owns. */
void
episode_view_clear(struct episode_view *ev)
{
	size_t	 i;

	for (i = 0; i < ev->nfound_flags; i++)
		free(ev->found_flags[i]);
	free(ev->found_flags);
	ev->found_flags = NULL;
	ev->nfound_flags = 0;
}

/* Free an array of episode views.  Accepts NULL. */
void
episode_views_free(struct episode_view *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		episode_view_clear(&v[i]);
	free(v);
}

/* The child's indicator occurrences in [from_ms, to_ms). */
int
history_indicators(struct history *h, const char *child, int64_t from_ms,
    int64_t to_ms, struct indicator_row **out, size_t *n)
{
	sqlite3_stmt		*st;
	struct indicator_row	*v = NULL;
	size_t			 nv = 0;
	int			 rc;

	*out = NULL;
	*n = 0;
	if ((st = history_stmt(h, H_INDICATORS)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, child, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof *v);
		history_text(st, 0, v[nv].indicator, sizeof v[nv].indicator);
		v[nv].at_ms = sqlite3_column_int64(st, 1);
		v[nv].seq = sqlite3_column_int64(st, 2);
		nv++;
	}
	history_done(st, 0);
	if (rc != SQLITE_DONE) {
		free(v);
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* An event by seq, for evidence. */
int
history_event(struct history *h, int64_t seq, struct evidence_row *row)
{
	sqlite3_stmt	*st;
	int		 rc;

	memset(row, 0, sizeof *row);
	if ((st = history_stmt(h, H_EVENT)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return history_done(st, rc == SQLITE_DONE ? 1 : -1);
	row->seq = sqlite3_column_int64(st, 0);
	history_text(st, 1, row->id, sizeof row->id);
	history_text(st, 2, row->type, sizeof row->type);
	row->at_ms = sqlite3_column_int64(st, 3);
	history_text(st, 4, row->episode, sizeof row->episode);
	return history_done(st, 0);
}

/* The seqs of the child's events of a type with time in [from, to). */
int
history_events_of_type(struct history *h, const char *child,
    const char *type, int64_t from_ms, int64_t to_ms, int64_t **out,
    size_t *n)
{
	sqlite3_stmt	*st;
	int64_t		*v = NULL;
	size_t		 nv = 0;
	int		 rc;

	*out = NULL;
	*n = 0;
	if ((st = history_stmt(h, H_OF_TYPE)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, child, -1, SQLITE_STATIC);
	if (type != NULL)
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, from_ms);
	sqlite3_bind_int64(st, 4, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof *v);
		v[nv++] = sqlite3_column_int64(st, 0);
	}
	history_done(st, 0);
	if (rc != SQLITE_DONE) {
		free(v);
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* The JSON stored for an event (caller frees), or NULL. */
char *
history_event_body(struct history *h, int64_t seq)
{
	sqlite3_stmt	*st;
	char		*body = NULL;

	if ((st = history_stmt(h, H_BODY)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) == SQLITE_ROW)
		body = xstrdup((const char *)sqlite3_column_text(st, 0));
	history_done(st, 0);
	return body;
}
