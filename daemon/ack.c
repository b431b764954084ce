/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Acknowledgement of alerts.  One transaction reads the alert, refuses an
 * unknown or already acknowledged one (changing nothing), and otherwise
 * sets alerts.ack_* and appends the rows in acks (the acknowledgement's
 * own record, which the streams follow) and in the audit trail.  The
 * dispatcher
 * reads alerts.ack_at_ms before escalating, so acknowledging stops the
 * escalation chain.  Statements are prepared per call: acknowledgements
 * are rare, and no statement then outlives the store.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ack.h"
#include "audit.h"
#include "log.h"
#include "store.h"

#define ACK_SQL_FIND	"SELECT seq, ack_by, ack_at_ms, child_id FROM alerts" \
			" WHERE id = ?1"
#define ACK_CHILD_MAX	128	/* a contract id */
#define ACK_SQL_SET	"UPDATE alerts SET ack_by = ?2, ack_at_ms = ?3," \
			" ack_note = ?4 WHERE seq = ?1 AND ack_at_ms IS NULL"
#define ACK_SQL_AUDIT	"INSERT INTO acks (alert_seq, ack_by, ack_at_ms," \
			" ack_note, via) VALUES (?1, ?2, ?3, ?4, ?5)"

/* Prepare sql on db, or log and return NULL. */
static sqlite3_stmt *
ack_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("ack", "preparing a statement: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

/*
 * Look id up: ACK_OK (not yet acknowledged), ACK_ALREADY or ACK_UNKNOWN;
 * child gets the alert's child id.
 */
static enum ack_status
ack_find(sqlite3 *db, const char *id, struct ack_outcome *out, char *child,
    size_t childlen)
{
	sqlite3_stmt		*st;
	const unsigned char	*by, *cid;
	enum ack_status		 status = ACK_UNKNOWN;
	int			 rc;

	if ((st = ack_prepare(db, ACK_SQL_FIND)) == NULL)
		return ACK_ERROR;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->seq = sqlite3_column_int64(st, 0);
		cid = sqlite3_column_text(st, 3);
		snprintf(child, childlen, "%s", cid != NULL ?
		    (const char *)cid : "");
		status = ACK_OK;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			status = ACK_ALREADY;
			out->at_ms = sqlite3_column_int64(st, 2);
			by = sqlite3_column_text(st, 1);
			strncpy(out->by, by != NULL ? (const char *)by : "",
			    sizeof out->by - 1);
		}
	} else if (rc != SQLITE_DONE) {
		log_warnx("ack", "reading alert %s: %s", id,
		    sqlite3_errmsg(db));
		status = ACK_ERROR;
	}
	sqlite3_finalize(st);
	return status;
}

/* Run one write statement with the acknowledgement bound.  0 or -1. */
static int
ack_write(sqlite3 *db, const char *sql, int64_t seq, const char *by,
    int64_t at_ms, const char *note, const char *via)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = ack_prepare(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at_ms);
	if (note != NULL)
		sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
	if (via != NULL)	/* the audit statement only */
		sqlite3_bind_text(st, 5, via, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_warnx("ack", "recording the acknowledgement: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A usable name: 1-128 bytes, no control characters, no space at an end. */
int
ack_name_ok(const char *s)
{
	size_t		 i, n;
	unsigned char	 c;

	if (s == NULL || (n = strlen(s)) == 0 || n > ACK_BY_MAX)
		return 0;
	if (s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* The audit row of an acknowledgement, in its transaction. */
static int
ack_audit(struct store *store, const char *id, const char *by,
    const char *via, const char *actor, const char *child, int64_t seq,
    int64_t now_ms)
{
	json_t	*detail;

	/* who acknowledged and through what; the note stays in acks */
	detail = json_pack("{s:s, s:s, s:I, s:s}", "by", by, "via", via,
	    "alert_seq", (json_int_t)seq, "child", child);
	return audit_append(store, now_ms, actor != NULL ? actor : via,
	    AUDIT_ACK, id, detail);
}

/* Acknowledge an alert; see ack.h. */
enum ack_status
ack_alert(struct store *store, const char *id, const char *by,
    const char *note, const char *via, const char *actor, int64_t now_ms,
    struct ack_outcome *out)
{
	sqlite3		*db = store_db(store);
	enum ack_status	 status;
	char		 child[ACK_CHILD_MAX + 1];

	memset(out, 0, sizeof *out);
	if (!ack_name_ok(by))
		return ACK_BAD_BY;
	if (note != NULL && strlen(note) > ACK_NOTE_MAX)
		return ACK_BAD_NOTE;
	if (via == NULL)
		via = "unknown";
	if (store_begin(store) == -1)
		return ACK_ERROR;
	if ((status = ack_find(db, id, out, child, sizeof child)) != ACK_OK) {
		store_rollback(store);
		return status;
	}
	if (ack_write(db, ACK_SQL_SET, out->seq, by, now_ms, note, NULL) ==
	    -1 || ack_write(db, ACK_SQL_AUDIT, out->seq, by, now_ms, note,
	    via) == -1 || ack_audit(store, id, by, via, actor, child,
	    out->seq, now_ms) == -1) {
		store_rollback(store);
		return ACK_ERROR;
	}
	if (store_commit(store) == -1)
		return ACK_ERROR;
	out->at_ms = now_ms;
	strncpy(out->by, by, sizeof out->by - 1);
	/* who, by name, is personal data: the audit has it, info has ids */
	log_info("ack", "%s acknowledged via %s", id, via);
	log_debug("ack", "%s acknowledged by %s", id, by);
	return ACK_OK;
}

/* The protocol's error token for a status. */
const char *
ack_error_token(enum ack_status status)
{
	switch (status) {
	case ACK_OK:
		return "ok";
	case ACK_UNKNOWN:
		return "unknown_alert";
	case ACK_ALREADY:
		return "already_acknowledged";
	case ACK_BAD_BY:
	case ACK_BAD_NOTE:
		return "bad_field";
	case ACK_ERROR:
	default:
		return "unavailable";
	}
}
