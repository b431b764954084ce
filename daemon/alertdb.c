/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * SQL for the engine's tables (schema step 2 in store.c): rule_state,
 * alerts, deliveries and deadlines.  Statements are prepared on first use
 * on the store's connection and finalized by alertdb_free(), which must
 * run before the store closes.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alertdb.h"
#include "log.h"
#include "xmalloc.h"

enum alertdb_sql {
	A_STATE_GET,
	A_STATE_PUT,
	A_NEXT_SEQ,
	A_INSERT,
	A_OF_EVENT,
	A_AFTER,
	A_DELIVERY,
	A_DL_PENDING,
	A_DL_ADD,
	A_DL_MET_FIND,
	A_DL_MET,
	A_DL_DUE,
	A_DL_CLOSE,
	A_DL_NEXT,
	A__COUNT
};

static const char *const alertdb_sql[A__COUNT] = {
	[A_STATE_GET] = "SELECT level, alerted, digest FROM rule_state"
	    " WHERE rule_id = ?1 AND child_id = ?2 AND scope = ?3",
	[A_STATE_PUT] = "INSERT INTO rule_state (rule_id, child_id, scope,"
	    " digest, level, alerted, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (rule_id, child_id, scope) DO UPDATE SET"
	    " digest = excluded.digest, level = excluded.level,"
	    " alerted = excluded.alerted, seq = excluded.seq",
	[A_NEXT_SEQ] = "SELECT COALESCE((SELECT seq FROM sqlite_sequence"
	    " WHERE name = 'alerts'), 0) + 1",
	[A_INSERT] = "INSERT INTO alerts (seq, id, rule_id, kind, level,"
	    " child_id, episode_id, raised_at_ms, event_at_ms, body,"
	    " event_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[A_AFTER] = "SELECT seq, body, rule_id, level FROM alerts"
	    " WHERE seq > ?1 ORDER BY seq",
	[A_OF_EVENT] = "SELECT id FROM alerts WHERE event_seq = ?1 ORDER BY seq",
	[A_DELIVERY] = "INSERT INTO deliveries (alert_seq, route, created_ms)"
	    " VALUES (?1, ?2, ?3)",
	[A_DL_PENDING] = "SELECT 1 FROM deadlines WHERE rule_id = ?1"
	    " AND child_id = ?2 AND (?3 IS NULL OR episode_id = ?3)"
	    " AND status = 'pending'",
	[A_DL_ADD] = "INSERT INTO deadlines (rule_id, digest, child_id,"
	    " episode_id, start_seq, start_at_ms, due_at_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/*
	 * Meeting deadlines is a search then an update by id: one UPDATE with
	 * this WHERE changes status, a column of the index it searches, so
	 * SQLite first collected the rows into a temporary b-tree, for every
	 * event that could meet one, usually none (54,000 instructions).
	 */
	[A_DL_MET_FIND] = "SELECT id FROM deadlines WHERE rule_id = ?1"
	    " AND child_id = ?2 AND status = 'pending'"
	    " AND (?3 IS NULL OR episode_id = ?3) AND start_at_ms <= ?4",
	[A_DL_MET] = "UPDATE deadlines SET status = 'met', closed_seq = ?2"
	    " WHERE id = ?1 AND status = 'pending'",
	[A_DL_DUE] = "SELECT id, rule_id, digest, child_id, episode_id,"
	    " start_seq, start_at_ms, due_at_ms FROM deadlines"
	    " WHERE status = 'pending' AND due_at_ms <= ?1"
	    " ORDER BY due_at_ms, id LIMIT ?2",
	[A_DL_CLOSE] = "UPDATE deadlines SET status = ?2, alert_seq = ?3"
	    " WHERE id = ?1",
	[A_DL_NEXT] = "SELECT MIN(due_at_ms) FROM deadlines"
	    " WHERE status = 'pending'",
};

struct alertdb {
	sqlite3		*db;
	sqlite3_stmt	*stmt[A__COUNT];
};

/* The statement for q, prepared on first use. */
static sqlite3_stmt *
alertdb_stmt(struct alertdb *a, enum alertdb_sql q)
{
	if (a->stmt[q] == NULL &&
	    sqlite3_prepare_v3(a->db, alertdb_sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &a->stmt[q], NULL) != SQLITE_OK) {
		log_warnx("alerts", "preparing a statement: %s",
		    sqlite3_errmsg(a->db));
		return NULL;
	}
	return a->stmt[q];
}

/* Reset st after use and map rc (SQLITE_DONE/ROW ok) to 0 or -1. */
static int
alertdb_done(struct alertdb *a, sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("alerts", "%s", sqlite3_errmsg(a->db));
		return -1;
	}
	return 0;
}

/* Copy a text column into buf (empty when NULL). */
static void
alertdb_text(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const unsigned char	*s = sqlite3_column_text(st, col);

	strncpy(buf, s != NULL ? (const char *)s : "", len - 1);
	buf[len - 1] = '\0';
}

/* Tables over store (borrowed). */
struct alertdb *
alertdb_new(struct store *store)
{
	struct alertdb	*a;

	a = xcalloc(1, sizeof *a);
	a->db = store_db(store);
	return a;
}

/* Finalize every statement.  Accepts NULL. */
void
alertdb_free(struct alertdb *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < A__COUNT; i++)
		sqlite3_finalize(a->stmt[i]);
	free(a);
}

/* The state of (rule, child, scope); fresh when absent or stale. */
int
alertdb_state_get(struct alertdb *a, const struct rule *r, const char *child,
    const char *scope, struct rule_state *rs)
{
	sqlite3_stmt	*st;
	const char	*digest;
	int		 rc;

	rs->level = rs->alerted = LEVEL_NONE;
	if ((st = alertdb_stmt(a, A_STATE_GET)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, child, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		digest = (const char *)sqlite3_column_text(st, 2);
		if (digest != NULL && strcmp(digest, r->digest) == 0) {
			rs->level = (enum level)sqlite3_column_int(st, 0);
			rs->alerted = (enum level)sqlite3_column_int(st, 1);
		}
	}
	return alertdb_done(a, st, rc);
}

/* Write the state of (rule, child, scope). */
int
alertdb_state_put(struct alertdb *a, const struct rule *r, const char *child,
    const char *scope, const struct rule_state *rs, int64_t seq)
{
	sqlite3_stmt	*st;

	if ((st = alertdb_stmt(a, A_STATE_PUT)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, child, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->digest, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)rs->level);
	sqlite3_bind_int(st, 6, (int)rs->alerted);
	sqlite3_bind_int64(st, 7, seq);
	return alertdb_done(a, st, sqlite3_step(st));
}

/* The seq the next alert will get, or -1. */
int64_t
alertdb_next_seq(struct alertdb *a)
{
	sqlite3_stmt	*st;
	int64_t		 seq = -1;
	int		 rc;

	if ((st = alertdb_stmt(a, A_NEXT_SEQ)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	if (alertdb_done(a, st, rc) == -1)
		return -1;
	return seq;
}

/* Bind a string member of alert, or NULL. */
static void
alertdb_bind_member(sqlite3_stmt *st, int col, json_t *alert,
    const char *key)
{
	const char	*s = json_string_value(json_object_get(alert, key));

	if (s != NULL)
		sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

/* One pending delivery per route of the alert. */
static int
alertdb_deliveries(struct alertdb *a, int64_t seq, json_t *routes,
    int64_t created_ms)
{
	sqlite3_stmt	*st;
	size_t		 i;

	if ((st = alertdb_stmt(a, A_DELIVERY)) == NULL)
		return -1;
	for (i = 0; i < json_array_size(routes); i++) {
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_text(st, 2,
		    json_string_value(json_array_get(routes, i)), -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, created_ms);
		if (alertdb_done(a, st, sqlite3_step(st)) == -1)
			return -1;
	}
	return 0;
}

/* Store an alert and its deliveries. */
int
alertdb_insert(struct alertdb *a, json_t *alert, int64_t raised_at_ms,
    int64_t event_at_ms, int64_t event_seq)
{
	sqlite3_stmt	*st;
	char		*body;
	int64_t		 seq;
	int		 rc;

	if ((st = alertdb_stmt(a, A_INSERT)) == NULL)
		return -1;
	if ((body = json_dumps(alert, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		fatalx("alerts", "out of memory");
	seq = json_integer_value(json_object_get(alert, "seq"));
	sqlite3_bind_int64(st, 1, seq);
	alertdb_bind_member(st, 2, alert, "alert");
	alertdb_bind_member(st, 3, alert, "rule");
	alertdb_bind_member(st, 4, alert, "kind");
	alertdb_bind_member(st, 5, alert, "level");
	alertdb_bind_member(st, 6, alert, "child");
	alertdb_bind_member(st, 7, alert, "episode");
	sqlite3_bind_int64(st, 8, raised_at_ms);
	sqlite3_bind_int64(st, 9, event_at_ms);
	sqlite3_bind_text(st, 10, body, -1, free);
	if (event_seq > 0)
		sqlite3_bind_int64(st, 11, event_seq);
	rc = alertdb_done(a, st, sqlite3_step(st));
	if (rc == -1)
		return -1;
	return alertdb_deliveries(a, seq, json_object_get(alert, "routes"),
	    raised_at_ms);
}

/* Is a deadline of rule pending for (child, episode)? */
int
alertdb_deadline_pending(struct alertdb *a, const char *rule,
    const char *child, const char *episode)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = alertdb_stmt(a, A_DL_PENDING)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, child, -1, SQLITE_STATIC);
	if (episode != NULL)
		sqlite3_bind_text(st, 3, episode, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (alertdb_done(a, st, rc) == -1)
		return -1;
	return rc == SQLITE_ROW;
}

/* Start a deadline. */
int
alertdb_deadline_add(struct alertdb *a, const struct rule *r,
    const char *child, const char *episode, int64_t start_seq,
    int64_t start_at_ms, int64_t due_at_ms)
{
	sqlite3_stmt	*st;

	if ((st = alertdb_stmt(a, A_DL_ADD)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, child, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, episode, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, start_seq);
	sqlite3_bind_int64(st, 6, start_at_ms);
	sqlite3_bind_int64(st, 7, due_at_ms);
	return alertdb_done(a, st, sqlite3_step(st));
}

/* Meet pending deadlines; returns how many were met, or -1. */
int
alertdb_deadline_meet(struct alertdb *a, const char *rule, const char *child,
    const char *episode, int64_t at_ms, int64_t seq)
{
	sqlite3_stmt	*st;
	int64_t		*ids = NULL;
	size_t		 n = 0, i;
	int		 rc, met = 0;

	if ((st = alertdb_stmt(a, A_DL_MET_FIND)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, child, -1, SQLITE_STATIC);
	if (episode != NULL)
		sqlite3_bind_text(st, 3, episode, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, at_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (alertdb_done(a, st, rc) == -1 ||
	    (n > 0 && (st = alertdb_stmt(a, A_DL_MET)) == NULL)) {
		free(ids);
		return -1;
	}
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, seq);
		if (alertdb_done(a, st, sqlite3_step(st)) == -1) {
			free(ids);
			return -1;
		}
		met += sqlite3_changes(a->db);
	}
	free(ids);
	return met;
}

/* Pending deadlines due by clock_ms, soonest first. */
int
alertdb_deadlines_due(struct alertdb *a, int64_t clock_ms,
    struct deadline_row *out, int max)
{
	sqlite3_stmt	*st;
	int		 rc, n = 0;

	if ((st = alertdb_stmt(a, A_DL_DUE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, clock_ms);
	sqlite3_bind_int(st, 2, max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct deadline_row *d = &out[n++];

		d->id = sqlite3_column_int64(st, 0);
		alertdb_text(st, 1, d->rule, sizeof d->rule);
		alertdb_text(st, 2, d->digest, sizeof d->digest);
		alertdb_text(st, 3, d->child, sizeof d->child);
		alertdb_text(st, 4, d->episode, sizeof d->episode);
		d->start_seq = sqlite3_column_int64(st, 5);
		d->start_at_ms = sqlite3_column_int64(st, 6);
		d->due_at_ms = sqlite3_column_int64(st, 7);
	}
	if (n < max && rc != SQLITE_DONE) {
		alertdb_done(a, st, rc);
		return -1;
	}
	alertdb_done(a, st, SQLITE_DONE);
	return n;
}

/* Close a deadline as fired or dropped. */
int
alertdb_deadline_close(struct alertdb *a, int64_t id, const char *status,
    int64_t alert_seq)
{
	sqlite3_stmt	*st;

	if ((st = alertdb_stmt(a, A_DL_CLOSE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	if (alert_seq > 0)
		sqlite3_bind_int64(st, 3, alert_seq);
	return alertdb_done(a, st, sqlite3_step(st));
}

/* The earliest pending due time. */
int
alertdb_next_due(struct alertdb *a, int64_t *due)
{
	sqlite3_stmt	*st;
	int		 rc, found = 0;

	if ((st = alertdb_stmt(a, A_DL_NEXT)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*due = sqlite3_column_int64(st, 0);
		found = 1;
	}
	if (alertdb_done(a, st, rc) == -1)
		return -1;
	return found;
}

/* Append the ids of the alerts event seq raised to ids.  0 or -1. */
int
alertdb_alerts_of_event(struct alertdb *a, int64_t seq, json_t *ids)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = alertdb_stmt(a, A_OF_EVENT)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(ids,
		    json_string((const char *)sqlite3_column_text(st, 0)));
	return alertdb_done(a, st, rc);
}

/* Call fn with each alert body after seq, in order; *last gets the last seq. */
int
alertdb_alerts_after(struct alertdb *a, int64_t *last,
    void (*fn)(const char *, const char *, const char *, void *), void *arg)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = alertdb_stmt(a, A_AFTER)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, *last);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*last = sqlite3_column_int64(st, 0);
		fn((const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3), arg);
	}
	return alertdb_done(a, st, rc);
}
