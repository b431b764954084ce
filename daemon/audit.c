/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The audit trail: appending rows (inside a caller's transaction, or in
 * one of their own), coalescing refused connections, and reading rows
 * back for GET /v1/audit.  Statements are prepared per call, as in
 * ack.c: audit rows come at the pace of people (reads, acknowledgements,
 * reloads), and no statement then outlives the store.
 *
 * The table is append-only by the schema's own triggers (store.c, step
 * 3); this file only ever inserts.  A read that cannot be audited is not
 * served (the callers answer 503): an unrecorded look at a child's data
 * is worse than a refused one, which the caller can retry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "api.h"
#include "audit.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

#define AUDIT_SQL_INSERT	"INSERT INTO audit (at_ms, actor, action," \
				" subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)"
#define AUDIT_SQL_LAST		"SELECT seq, at_ms, actor, detail FROM audit" \
				" WHERE action = ?1 ORDER BY seq DESC LIMIT 1"
#define AUDIT_SEQ_MAX		999999999999999999LL	/* 18 digits */

static const char *const audit_names[AUDIT__COUNT] = {
	[AUDIT_START] = "start",
	[AUDIT_STOP] = "stop",
	[AUDIT_RULES_RELOAD] = "rules_reload",
	[AUDIT_BRIEF_READ] = "brief_read",
	[AUDIT_BRIEF_SENT] = "brief_sent",
	[AUDIT_ALERT_READ] = "alert_read",
	[AUDIT_ALERTS_LIST] = "alerts_list",
	[AUDIT_AUDIT_READ] = "audit_read",
	[AUDIT_ACK] = "ack",
	[AUDIT_SUBSCRIBE] = "subscribe",
	[AUDIT_CONNECTION_REFUSED] = "connection_refused",
	[AUDIT_PURGE] = "purge",
};

/* Prepare sql on db, or log and return NULL. */
static sqlite3_stmt *
audit_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("audit", "preparing a statement: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

/* detail as compact JSON text (caller frees), or NULL for none. */
static char *
audit_detail_text(json_t *detail)
{
	json_malloc_t	 jmalloc;
	json_free_t	 jfree;
	char		*text, *copy;

	if (detail == NULL)
		return NULL;
	if ((text = json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		fatalx("audit", "out of memory");
	/* out of jansson's allocator, whatever it is */
	copy = xstrdup(text);
	json_get_alloc_funcs(&jmalloc, &jfree);
	jfree(text);
	return copy;
}

/* The JSON of a detail column, or null. */
static json_t *
audit_detail_json(sqlite3_stmt *st, int col)
{
	const char	*text = (const char *)sqlite3_column_text(st, col);
	json_t		*v;

	if (text == NULL || (v = json_loads(text, 0, NULL)) == NULL)
		return json_null();
	return v;
}

/* A text column, or JSON null. */
static json_t *
audit_text(sqlite3_stmt *st, int col)
{
	const char	*text = (const char *)sqlite3_column_text(st, col);

	return text != NULL ? json_string(text) : json_null();
}

/* Write one connection_refused row counting n refusals. */
static int
audit_refused_row(struct store *store, const char *listener,
    const char *peer, const char *reason, uint64_t n)
{
	char	 actor[AUDIT_ACTOR_MAX];
	json_t	*detail;

	snprintf(actor, sizeof actor, "%s:%s", listener,
	    peer != NULL ? peer : "several");
	detail = json_pack("{s:s, s:s?, s:s, s:I}", "listener", listener,
	    "peer", peer, "reason", reason, "refused", (json_int_t)n);
	return audit_record(store, actor, AUDIT_CONNECTION_REFUSED, listener,
	    detail);
}

/* The statement of a query: its WHERE clause from the filters given. */
static char *
audit_query_sql(const struct audit_filter *f)
{
	char	*sql = NULL;
	size_t	 len = 0;
	FILE	*m;

	if ((m = open_memstream(&sql, &len)) == NULL)
		fatal("audit", "open_memstream");
	fputs("SELECT seq, at_ms, actor, action, subject, detail FROM audit"
	    " WHERE at_ms >= ?1 AND at_ms < ?2", m);
	if (f->action >= 0)
		fputs(" AND action = ?3", m);
	/* a prefix: "http:unix" takes every process on the socket */
	if (f->actor != NULL)
		fputs(" AND substr(actor, 1, length(?4)) = ?4", m);
	if (f->subject != NULL)
		fputs(" AND subject = ?5", m);
	if (f->before_seq > 0)
		fputs(" AND seq < ?6", m);
	fputs(" ORDER BY seq DESC LIMIT ?7", m);
	if (fclose(m) != 0)
		fatal("audit", "open_memstream");
	return sql;
}

/* The action name. */
const char *
audit_action_name(enum audit_action a)
{
	if ((int)a < 0 || a >= AUDIT__COUNT)
		return "?";
	return audit_names[a];
}

/* The action called name, or -1. */
int
audit_action_parse(const char *name)
{
	int	 a;

	for (a = 0; a < AUDIT__COUNT; a++)
		if (strcmp(audit_names[a], name) == 0)
			return a;
	return -1;
}

/* "start, stop, ...". */
const char *
audit_action_list(void)
{
	return "start, stop, rules_reload, brief_read, brief_sent, "
	    "alert_read, alerts_list, audit_read, ack, subscribe, "
	    "connection_refused, purge";
}

/* Append one row in the caller's transaction. */
int
audit_append(struct store *store, int64_t at_ms, const char *actor,
    enum audit_action action, const char *subject, json_t *detail)
{
	sqlite3		*db = store_db(store);
	sqlite3_stmt	*st;
	char		*text;
	int		 rc;

	text = audit_detail_text(detail);
	json_decref(detail);
	/* kept prepared: a brief sent is audited for every episode.reported */
	if ((st = store_cached_stmt(store, AUDIT_SQL_INSERT)) == NULL) {
		free(text);
		return -1;
	}
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_text(st, 2, actor != NULL ? actor : "unknown", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 3, audit_action_name(action), -1, SQLITE_STATIC);
	if (subject != NULL)
		sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_warnx("audit", "recording %s: %s",
		    audit_action_name(action), sqlite3_errmsg(db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(text);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Append one row in a transaction of its own. */
int
audit_record(struct store *store, const char *actor,
    enum audit_action action, const char *subject, json_t *detail)
{
	if (store_begin(store) == -1) {
		json_decref(detail);
		log_warnx("audit", "%s not recorded: the database is "
		    "unavailable", audit_action_name(action));
		return -1;
	}
	if (audit_append(store, time_now_ms(), actor, action, subject,
	    detail) == -1) {
		store_rollback(store);
		return -1;
	}
	if (store_commit(store) == -1) {
		log_warnx("audit", "%s not recorded: the commit failed",
		    audit_action_name(action));
		return -1;
	}
	return 0;
}

/* A refused connection: a row now, or counted into the next. */
void
audit_refused(struct store *store, struct audit_refusals *rf,
    const char *listener, const char *peer, const char *reason,
    int64_t now_ms)
{
	rf->pending++;
	if (rf->last_ms != 0 && now_ms >= rf->last_ms &&
	    now_ms - rf->last_ms < AUDIT_REFUSED_INTERVAL_MS)
		return;
	/* on failure the count waits for the next row */
	if (audit_refused_row(store, listener, peer, reason, rf->pending) ==
	    0)
		rf->pending = 0;
	rf->last_ms = now_ms;
}

/* What was counted and not written. */
void
audit_refusals_flush(struct store *store, struct audit_refusals *rf,
    const char *listener, const char *reason, int64_t now_ms)
{
	if (rf->pending == 0 || store == NULL)
		return;
	if (audit_refused_row(store, listener, NULL, reason, rf->pending) ==
	    0)
		rf->pending = 0;
	rf->last_ms = now_ms;
}

/* The newest row of an action. */
int
audit_last(struct store *store, enum audit_action action,
    struct audit_row *row)
{
	sqlite3		*db = store_db(store);
	sqlite3_stmt	*st;
	const char	*actor;
	int		 rc;

	memset(row, 0, sizeof *row);
	if ((st = audit_prepare(db, AUDIT_SQL_LAST)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, audit_action_name(action), -1,
	    SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->seq = sqlite3_column_int64(st, 0);
		row->at_ms = sqlite3_column_int64(st, 1);
		actor = (const char *)sqlite3_column_text(st, 2);
		snprintf(row->actor, sizeof row->actor, "%s",
		    actor != NULL ? actor : "");
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			row->detail = audit_detail_json(st, 3);
		sqlite3_finalize(st);
		return 1;
	}
	if (rc != SQLITE_DONE)
		log_warnx("audit", "reading the last %s: %s",
		    audit_action_name(action), sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The rows f selects, newest first. */
json_t *
audit_query(struct store *store, const struct audit_filter *f)
{
	sqlite3		*db = store_db(store);
	sqlite3_stmt	*st;
	json_t		*list, *e;
	char		*sql, at[TIME_RFC3339_LEN];
	int64_t		 n = 0, last = 0;
	int		 rc;

	sql = audit_query_sql(f);
	st = audit_prepare(db, sql);
	free(sql);
	if (st == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, f->since_ms);
	sqlite3_bind_int64(st, 2, f->until_ms);
	if (f->action >= 0)
		sqlite3_bind_text(st, 3, audit_action_name(f->action), -1,
		    SQLITE_STATIC);
	if (f->actor != NULL)
		sqlite3_bind_text(st, 4, f->actor, -1, SQLITE_STATIC);
	if (f->subject != NULL)
		sqlite3_bind_text(st, 5, f->subject, -1, SQLITE_STATIC);
	if (f->before_seq > 0)
		sqlite3_bind_int64(st, 6, f->before_seq);
	sqlite3_bind_int64(st, 7, f->limit);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		time_format_rfc3339(sqlite3_column_int64(st, 1), at);
		e = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "seq",
		    (json_int_t)last, "at", at, "actor", audit_text(st, 2),
		    "action", audit_text(st, 3), "subject", audit_text(st, 4),
		    "detail", audit_detail_json(st, 5));
		json_array_append_new(list, e);
		n++;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("audit", "reading the audit: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		json_decref(list);
		return NULL;
	}
	sqlite3_finalize(st);
	return json_pack("{s:o, s:o}", "entries", list, "next_before",
	    n == f->limit && n > 0 ? json_integer(last) : json_null());
}

/* The filters of a GET /v1/audit request, as its audit row shows them. */
static json_t *
audit_filter_json(const struct audit_filter *f, int64_t n)
{
	json_t	*o = json_object();
	char	 t[TIME_RFC3339_LEN];

	if (f->since_ms != INT64_MIN) {
		time_format_rfc3339(f->since_ms, t);
		json_object_set_new(o, "since", json_string(t));
	}
	if (f->until_ms != INT64_MAX) {
		time_format_rfc3339(f->until_ms, t);
		json_object_set_new(o, "until", json_string(t));
	}
	if (f->action >= 0)
		json_object_set_new(o, "action",
		    json_string(audit_action_name(f->action)));
	if (f->actor != NULL)
		json_object_set_new(o, "actor", json_string(f->actor));
	if (f->before_seq > 0)
		json_object_set_new(o, "before", json_integer(f->before_seq));
	json_object_set_new(o, "entries", json_integer(n));
	return o;
}

/* GET /v1/audit: the trail, newest first, filtered, paged; itself audited. */
void
api_audit(struct http_req *r)
{
	struct audit_filter	 f;
	const char		*action = NULL;
	json_t			*list;

	memset(&f, 0, sizeof f);
	f.since_ms = INT64_MIN;
	f.until_ms = INT64_MAX;
	f.action = -1;
	f.limit = AUDIT_LIMIT_DEFAULT;
	if (http_query_time(r, "since", &f.since_ms) == -1 ||
	    http_query_time(r, "until", &f.until_ms) == -1 ||
	    http_query_id(r, "action", &action) == -1 ||
	    http_query_id(r, "actor", &f.actor) == -1 ||
	    http_query_id(r, "subject", &f.subject) == -1 ||
	    http_query_int(r, "limit", 1, AUDIT_LIMIT_MAX, &f.limit) == -1 ||
	    http_query_int(r, "before", 1, AUDIT_SEQ_MAX, &f.before_seq) == -1)
		return;
	if (action != NULL && (f.action = audit_action_parse(action)) == -1) {
		http_error(r, 400, "bad_request", "action", "action must be "
		    "one of %s", audit_action_list());
		return;
	}
	if ((list = audit_query(r->d->store, &f)) == NULL) {
		http_error(r, 503, "unavailable", NULL, "the database could "
		    "not be read; try again later");
		return;
	}
	/* reading the trail is itself on the trail */
	if (audit_record(r->d->store, r->actor, AUDIT_AUDIT_READ, f.subject,
	    audit_filter_json(&f, (int64_t)json_array_size(json_object_get(
	    list, "entries")))) == -1) {
		json_decref(list);
		http_error(r, 503, "unavailable", NULL, "the read could not "
		    "be recorded in the audit trail, so it was not served; "
		    "try again later");
		return;
	}
	http_reply_json(r, 200, list);
}
