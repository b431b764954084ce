/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Alerts as clients see them (docs/api.md): a filtered list, newest
 * first, paged by seq; the full record of one alert; the counts of the
 * status.  The alert object is the stored contract object, parsed and
 * extended, never rebuilt, so every channel shows the same bytes of it.
 * Webhook URLs are shown without their query string, as in the logs,
 * because it may hold a token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alertquery.h"
#include "log.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

#define AQ_SQL_ONE	"SELECT seq, body, ack_by, ack_at_ms, ack_note" \
			" FROM alerts WHERE id = ?1"
#define AQ_SQL_VIA	"SELECT via FROM acks WHERE alert_seq = ?1"
#define AQ_SQL_DELIV	"SELECT route, status, created_ms, channels," \
			" done_ms, escalate_at_ms, escalated_from" \
			" FROM deliveries WHERE alert_seq = ?1" \
			" ORDER BY created_ms, route"
#define AQ_SQL_SUMMARY	"SELECT status, channels FROM deliveries" \
			" WHERE alert_seq = ?1"
#define AQ_SQL_HOOKS	"SELECT url, status, attempts, http_status," \
			" last_error, next_attempt_ms, done_ms" \
			" FROM webhook_deliveries" \
			" WHERE alert_seq = ?1 AND route = ?2 ORDER BY url"
#define AQ_SQL_TRIES	"SELECT route, url, started_ms, ended_ms, outcome," \
			" http_status, error FROM delivery_attempts" \
			" WHERE alert_seq = ?1 ORDER BY id"
#define AQ_SQL_ESC	"SELECT from_route, to_route, at_ms" \
			" FROM escalations WHERE alert_seq = ?1 ORDER BY id"
#define AQ_SQL_UNACKED	"SELECT level, count(*) FROM alerts" \
			" WHERE ack_at_ms IS NULL GROUP BY level"

/* Prepare sql, or log and return NULL. */
static sqlite3_stmt *
aq_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("alertquery", "preparing a statement: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

/* Finish a statement stepped to rc: 0 when it ran to the end, else -1. */
static int
aq_done(sqlite3 *db, sqlite3_stmt *st, int rc)
{
	if (rc != SQLITE_DONE)
		log_warnx("alertquery", "reading alerts: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Column col as a JSON string, or null. */
static json_t *
aq_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t != NULL ? json_string((const char *)t) : json_null();
}

/* Column col as a JSON integer, or null. */
static json_t *
aq_int(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, col));
}

/* Column col (ms) as an RFC 3339 string, or null. */
static json_t *
aq_time(sqlite3_stmt *st, int col)
{
	char	 buf[TIME_RFC3339_LEN];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	time_format_rfc3339(sqlite3_column_int64(st, col), buf);
	return json_string(buf);
}

/* Column col, a URL, without its query string or fragment. */
static json_t *
aq_url(sqlite3_stmt *st, int col)
{
	const char	*url = (const char *)sqlite3_column_text(st, col);

	if (url == NULL)
		return json_null();
	return json_stringn(url, strcspn(url, "?#"));
}

/* {"by","at","note"} from columns by, by+1 (at), by+2 (note); or null. */
static json_t *
aq_ack(sqlite3_stmt *st, int by)
{
	if (sqlite3_column_type(st, by + 1) == SQLITE_NULL)
		return json_null();
	return json_pack("{s:o, s:o, s:o}", "by", aq_text(st, by), "at",
	    aq_time(st, by + 1), "note", aq_text(st, by + 2));
}

/* The stored alert body of column col, parsed; NULL if unreadable. */
static json_t *
aq_body(sqlite3_stmt *st, int col)
{
	const char	*body = (const char *)sqlite3_column_text(st, col);
	json_t		*alert;

	if (body == NULL || (alert = json_loads(body, 0, NULL)) == NULL) {
		log_warnx("alertquery", "alert %lld has an unreadable body",
		    (long long)sqlite3_column_int64(st, 0));
		return NULL;
	}
	return alert;
}

/*
 * Where the alert's deliveries stand, in a word: pending while any is
 * (or is not yet resolved into webhooks), then failed if any failed,
 * delivered if any went to a webhook, else none (subscribers only).
 * st is AQ_SQL_SUMMARY, prepared once per list and reset here.
 */
static const char *
aq_delivery(sqlite3 *db, sqlite3_stmt *st, int64_t seq)
{
	const char	*status;
	int		 pending = 0, failed = 0, delivered = 0, rc;

	sqlite3_bind_int64(st, 1, seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		status = (const char *)sqlite3_column_text(st, 0);
		if (status == NULL ||
		    sqlite3_column_type(st, 1) == SQLITE_NULL ||
		    strcmp(status, "pending") == 0)
			pending = 1;
		else if (strcmp(status, "failed") == 0)
			failed = 1;
		else if (sqlite3_column_int64(st, 1) > 0)
			delivered = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("alertquery", "reading deliveries: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	if (pending)
		return "pending";
	if (failed)
		return "failed";
	return delivered ? "delivered" : "none";
}

/* The list's query for f, its parameters numbered as aq_bind binds them. */
static char *
aq_list_sql(const struct alertquery_filter *f)
{
	char	*sql;

	xasprintf(&sql, "SELECT seq, body, ack_by, ack_at_ms, ack_note"
	    " FROM alerts a WHERE 1%s%s%s%s%s ORDER BY seq DESC LIMIT ?5",
	    f->open ? " AND ack_at_ms IS NULL" : "",
	    f->child != NULL ? " AND child_id = ?1" : "",
	    f->since_ms != INT64_MIN ? " AND raised_at_ms >= ?2" : "",
	    f->before_seq > 0 ? " AND seq < ?3" : "",
	    f->route != NULL ? " AND EXISTS (SELECT 1 FROM deliveries d"
	    " WHERE d.alert_seq = a.seq AND d.route = ?4)" : "");
	return sql;
}

/* Bind f's values (one more row than the limit: is there a next page?). */
static void
aq_bind(sqlite3_stmt *st, const struct alertquery_filter *f)
{
	if (f->child != NULL)
		sqlite3_bind_text(st, 1, f->child, -1, SQLITE_STATIC);
	if (f->since_ms != INT64_MIN)
		sqlite3_bind_int64(st, 2, f->since_ms);
	if (f->before_seq > 0)
		sqlite3_bind_int64(st, 3, f->before_seq);
	if (f->route != NULL)
		sqlite3_bind_text(st, 4, f->route, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, f->limit + 1);
}

/* The webhooks of one delivery. */
static json_t *
aq_webhooks(sqlite3 *db, int64_t seq, const char *route)
{
	sqlite3_stmt	*st;
	json_t		*hooks;
	int		 rc;

	if ((st = aq_prepare(db, AQ_SQL_HOOKS)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, route, -1, SQLITE_STATIC);
	hooks = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(hooks, json_pack("{s:o, s:o, s:o, s:o, "
		    "s:o, s:o, s:o}", "url", aq_url(st, 0), "status",
		    aq_text(st, 1), "attempts", aq_int(st, 2), "http_status",
		    aq_int(st, 3), "last_error", aq_text(st, 4),
		    "next_attempt_at", sqlite3_column_type(st, 6) ==
		    SQLITE_NULL ? aq_time(st, 5) : json_null(), "done_at",
		    aq_time(st, 6)));
	if (aq_done(db, st, rc) == -1) {
		json_decref(hooks);
		return NULL;
	}
	return hooks;
}

/* The deliveries of an alert, each with its webhooks. */
static json_t *
aq_deliveries(sqlite3 *db, int64_t seq)
{
	sqlite3_stmt	*st;
	json_t		*list, *hooks;
	int		 rc;

	if ((st = aq_prepare(db, AQ_SQL_DELIV)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, seq);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		hooks = aq_webhooks(db, seq,
		    (const char *)sqlite3_column_text(st, 0));
		if (hooks == NULL) {
			rc = SQLITE_ERROR;
			break;
		}
		json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:o, "
		    "s:o, s:o, s:o, s:o}", "route", aq_text(st, 0), "status",
		    aq_text(st, 1), "channels", aq_int(st, 3), "created_at",
		    aq_time(st, 2), "done_at", aq_time(st, 4), "escalated_from",
		    aq_text(st, 6), "escalate_at", aq_time(st, 5), "webhooks",
		    hooks));
	}
	if (aq_done(db, st, rc) == -1) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* The webhook attempts of an alert, oldest first. */
static json_t *
aq_attempts(sqlite3 *db, int64_t seq)
{
	sqlite3_stmt	*st;
	json_t		*list;
	int		 rc;

	if ((st = aq_prepare(db, AQ_SQL_TRIES)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, seq);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:o, "
		    "s:o, s:o, s:o}", "route", aq_text(st, 0), "url",
		    aq_url(st, 1), "started_at", aq_time(st, 2), "ended_at",
		    aq_time(st, 3), "outcome", aq_text(st, 4), "http_status",
		    aq_int(st, 5), "error", aq_text(st, 6)));
	if (aq_done(db, st, rc) == -1) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* The escalations of an alert, in order. */
static json_t *
aq_escalations(sqlite3 *db, int64_t seq)
{
	sqlite3_stmt	*st;
	json_t		*list;
	int		 rc;

	if ((st = aq_prepare(db, AQ_SQL_ESC)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, seq);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:o, s:o, s:o}",
		    "from", aq_text(st, 0), "to", aq_text(st, 1), "at",
		    aq_time(st, 2)));
	if (aq_done(db, st, rc) == -1) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* The channel an acknowledgement came through, into ack; 0 or -1. */
static int
aq_via(sqlite3 *db, int64_t seq, json_t *ack)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (!json_is_object(ack))
		return 0;
	if ((st = aq_prepare(db, AQ_SQL_VIA)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_object_set_new(ack, "via", aq_text(st, 0));
		rc = SQLITE_DONE;
	}
	return aq_done(db, st, rc);
}

/* The parts of the record after the alert itself, into out; 0 or -1. */
static int
aq_record(sqlite3 *db, int64_t seq, json_t *out)
{
	json_t	*v;

	if ((v = aq_deliveries(db, seq)) == NULL)
		return -1;
	json_object_set_new(out, "deliveries", v);
	if ((v = aq_attempts(db, seq)) == NULL)
		return -1;
	json_object_set_new(out, "attempts", v);
	if ((v = aq_escalations(db, seq)) == NULL)
		return -1;
	json_object_set_new(out, "escalations", v);
	return aq_via(db, seq, json_object_get(out, "acknowledged"));
}

/* The one number sql answers; -1 on failure. */
static int64_t
aq_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if ((st = aq_prepare(db, sql)) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		log_warnx("alertquery", "counting: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return v;
}

/* Unacknowledged alerts by level, into c; 0 or -1. */
static int
aq_unacked(sqlite3 *db, struct alertquery_counts *c)
{
	sqlite3_stmt	*st;
	enum level	 level;
	const char	*name;
	int		 rc;

	if ((st = aq_prepare(db, AQ_SQL_UNACKED)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 0);
		if (name != NULL && level_parse(name, &level) == 0)
			c->unacked[level] = sqlite3_column_int64(st, 1);
	}
	return aq_done(db, st, rc);
}

/* The alerts f selects, newest first. */
json_t *
alertquery_list(struct store *store, const struct alertquery_filter *f)
{
	sqlite3		*db = store_db(store);
	sqlite3_stmt	*st, *sum;
	json_t		*list, *alert, *next = json_null();
	const char	*delivery;
	char		*sql;
	int64_t		 n = 0, last = 0;
	int		 rc;

	if ((sum = aq_prepare(db, AQ_SQL_SUMMARY)) == NULL)
		return NULL;
	sql = aq_list_sql(f);
	st = aq_prepare(db, sql);
	free(sql);
	if (st == NULL) {
		sqlite3_finalize(sum);
		return NULL;
	}
	aq_bind(st, f);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == f->limit) {
			/* one more than asked: the next page starts below */
			json_decref(next);
			next = json_integer(last);
			continue;
		}
		last = sqlite3_column_int64(st, 0);
		if ((alert = aq_body(st, 1)) == NULL)
			continue;
		if ((delivery = aq_delivery(db, sum, last)) == NULL) {
			json_decref(alert);
			rc = SQLITE_ERROR;
			break;
		}
		json_object_set_new(alert, "acknowledged", aq_ack(st, 2));
		json_object_set_new(alert, "delivery", json_string(delivery));
		json_array_append_new(list, alert);
	}
	sqlite3_finalize(sum);
	if (aq_done(db, st, rc) == -1) {
		json_decref(list);
		json_decref(next);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "alerts", list, "next_before", next);
}

/* Alert id in full: 1 and *out, 0 unknown, -1 error. */
int
alertquery_get(struct store *store, const char *id, json_t **out)
{
	sqlite3		*db = store_db(store);
	sqlite3_stmt	*st;
	json_t		*alert, *rec;
	int64_t		 seq;
	int		 rc;

	*out = NULL;
	if ((st = aq_prepare(db, AQ_SQL_ONE)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		return aq_done(db, st, rc) == 0 ? 0 : -1;
	seq = sqlite3_column_int64(st, 0);
	if ((alert = aq_body(st, 1)) == NULL) {
		sqlite3_finalize(st);
		return -1;
	}
	rec = json_pack("{s:o, s:o}", "alert", alert, "acknowledged",
	    aq_ack(st, 2));
	sqlite3_finalize(st);
	if (aq_record(db, seq, rec) == -1) {
		json_decref(rec);
		return -1;
	}
	*out = rec;
	return 1;
}

/* The counts of the status and metrics. */
int
alertquery_counts(struct store *store, struct alertquery_counts *c)
{
	sqlite3	*db = store_db(store);

	memset(c, 0, sizeof *c);
	c->alerts = aq_count(db, "SELECT count(*) FROM alerts");
	c->pending_deliveries = aq_count(db, "SELECT count(*) FROM deliveries"
	    " WHERE status = 'pending'");
	/* named: the planner's own choice of it is a close call */
	c->pending_deadlines = aq_count(db, "SELECT count(*) FROM deadlines"
	    " INDEXED BY deadlines_pending WHERE status = 'pending'");
	c->children = aq_count(db, "SELECT count(*) FROM children");
	c->episodes = aq_count(db, "SELECT count(*) FROM episodes");
	if (c->alerts < 0 || c->pending_deliveries < 0 ||
	    c->pending_deadlines < 0 || c->children < 0 || c->episodes < 0)
		return -1;
	return aq_unacked(db, c);
}
