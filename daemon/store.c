/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The embedded store: one SQLite database (WAL, synchronous=FULL) holding
 * the append-only event log, which is also the table of idempotency keys,
 * and the state derived from it: children, episodes, locations and their
 * flags, indicator occurrences, interviews and plans.
 *
 * Event time rules.  Events may arrive late, so every piece of derived
 * state remembers the event time it was set at and a value is only
 * replaced by one at least as new in event time (ties go to the later
 * arrival).  A field an event does not give never erases a known value.
 * In detail:
 *  - child profile: each field (dob, looked_after, cp_plan, area, flags)
 *    has its own *_at_ms; a given field is applied when the stored one is
 *    unknown or the event is at least as new as it.  profile_at_ms is the
 *    newest of those times.  An explicit "flags": [] is a value, not an
 *    omission.
 *  - episode: category and risk each by their own *_at_ms; reported_at_ms
 *    is the earliest report; last_seen by the newest report that gave one;
 *    found and closed each by their newest event.  status is the latest
 *    stage in event time (closed wins a tie with found).
 *  - location details: newest event first, gaps filled from older ones.
 *  - location flags: a flag or a clearing applies when at least as new as
 *    the stored one; a clearing of an unknown flag is stored (inactive) so
 *    a late, older flagging cannot turn it on.
 *
 * Nothing per child is kept in memory: every answer comes from SQLite.
 * All statements are prepared once in store_open() and finalized in
 * store_free() before the database closes.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "decode.h"
#include "event.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"
#include "walbuf.h"
#include "xmalloc.h"

/* PRAGMA application_id of a misperd database: "misp". */
#define STORE_APPLICATION_ID	0x6d697370
/* Wait this long for a lock held by another process (a backup, the CLI). */
#define STORE_BUSY_TIMEOUT_MS	5000
/* How long a truncating checkpoint waits for readers. */
#define STORE_CHECKPOINT_WAIT_MS	1000
/* Page cache, in KiB (negative cache_size): bounded, independent of history. */
#define STORE_CACHE_KIB		16384
/* Replay's page cache, in KiB: a larger share of its growing indexes. */
#define STORE_REPLAY_CACHE_KIB	(32 * 1024)
/* Truncate the WAL back to this size after a checkpoint, in bytes. */
#define STORE_WAL_LIMIT		(64 * 1024 * 1024)
/*
 * With the checkpointer (store_checkpointer_start()): wake it when the WAL
 * holds this many frames (SQLite's own automatic checkpoint threshold),
 * and past STORE_WAL_HARD_FRAMES (about 64 MiB of 4 KiB pages) finish a
 * checkpoint on the loop's thread before the next transaction, so the WAL
 * starts again from its beginning and stays bounded.
 */
#define STORE_CKPT_FRAMES	1000
/*
 * The checkpointer rests this long after each checkpoint; when it has left
 * at most STORE_CKPT_TAIL frames behind, the loop copies them itself so
 * that the WAL starts again from its beginning (store_checkpoint_due()).
 */
#define STORE_CKPT_REST_MS	20
#define STORE_CKPT_TAIL		128
/* Statements other modules keep prepared here (store_cached_stmt()). */
#define STORE_CACHED_MAX	8
#define STORE_WAL_HARD_FRAMES	16000

/*
 * Schema migrations: step N brings user_version N-1 to N, in its own
 * transaction.  Never edit a released step; add a new one and raise
 * STORE_SCHEMA_VERSION.  Later steps add rules, alerts, deliveries and
 * audit as new tables keyed by child id and event seq.
 */
static const char *const store_migrations[] = {
	/* 1: the event log and the state derived from it. */

	/*
	 * The log.  AUTOINCREMENT so a seq is never reused even after
	 * retention deletes the newest rows: seq is what replies and alert
	 * evidence quote.  id is the sender's idempotency key.
	 */
	"CREATE TABLE events ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" type TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" received_ms INTEGER NOT NULL,"
	" child_id TEXT,"
	" episode_id TEXT,"
	" body TEXT NOT NULL);"
	/* Per-child history windows in event time. */
	"CREATE INDEX events_child_at ON events (child_id, at_ms);"

	/* Profile: each field with the event time it was set at. */
	"CREATE TABLE children ("
	" id TEXT PRIMARY KEY,"
	" dob TEXT, dob_at_ms INTEGER,"
	" looked_after INTEGER, looked_after_at_ms INTEGER,"
	" cp_plan INTEGER, cp_plan_at_ms INTEGER,"
	" area TEXT, area_at_ms INTEGER,"
	" flags TEXT, flags_at_ms INTEGER,"
	" profile_at_ms INTEGER,"
	" first_seen_seq INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL"
	") WITHOUT ROWID;"

	/* Addresses by key (uprn:... or addr:...), details by newest event. */
	"CREATE TABLE locations ("
	" key TEXT PRIMARY KEY,"
	" uprn TEXT, postcode TEXT, address TEXT, area TEXT,"
	" at_ms INTEGER NOT NULL"
	") WITHOUT ROWID;"

	"CREATE TABLE episodes ("
	" id TEXT PRIMARY KEY,"
	" child_id TEXT NOT NULL REFERENCES children (id),"
	" category TEXT, category_at_ms INTEGER,"
	" risk TEXT, risk_at_ms INTEGER,"
	" reported_at_ms INTEGER,"
	" last_seen_key TEXT REFERENCES locations (key),"
	" last_seen_at_ms INTEGER,"
	" found_at_ms INTEGER,"
	" found_key TEXT REFERENCES locations (key),"
	" out_of_area INTEGER,"
	" closed_at_ms INTEGER,"
	" outcome TEXT,"
	" status TEXT NOT NULL CHECK (status IN ('open', 'found', 'closed')),"
	" first_seq INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX episodes_child ON episodes (child_id);"

	/* Current state of each flag; its history is in the event log. */
	"CREATE TABLE location_flags ("
	" location_key TEXT NOT NULL REFERENCES locations (key),"
	" reason TEXT NOT NULL,"
	" active INTEGER NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" PRIMARY KEY (location_key, reason)"
	") WITHOUT ROWID;"

	/* One row per distinct indicator per event, for scores in windows. */
	"CREATE TABLE child_indicators ("
	" child_id TEXT NOT NULL REFERENCES children (id),"
	" indicator TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" episode_id TEXT,"
	" event_type TEXT NOT NULL,"
	" PRIMARY KEY (seq, indicator)"
	") WITHOUT ROWID;"
	"CREATE INDEX child_indicators_child_at"
	" ON child_indicators (child_id, at_ms);"

	/* One row per interview.completed event, keyed by its seq. */
	"CREATE TABLE interviews ("
	" seq INTEGER PRIMARY KEY,"
	" child_id TEXT NOT NULL REFERENCES children (id),"
	" episode_id TEXT,"
	" kind TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL);"
	"CREATE INDEX interviews_child_at ON interviews (child_id, at_ms);"

	/* One row per plan.recorded event, keyed by its seq. */
	"CREATE TABLE plans ("
	" seq INTEGER PRIMARY KEY,"
	" child_id TEXT NOT NULL REFERENCES children (id),"
	" episode_id TEXT,"
	" plan TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL);"
	"CREATE INDEX plans_child_at ON plans (child_id, at_ms);",

	/* 2: the rules engine's state, alerts, their outbox and deadlines. */

	/*
	 * Per rule, child and scope (an episode for match rules, "" else):
	 * the level as last judged and the highest level alerted in the
	 * current crossing.  digest ties the state to the rule's meaning, so
	 * a reload that changes a rule starts it afresh.
	 */
	"CREATE TABLE rule_state ("
	" rule_id TEXT NOT NULL,"
	" child_id TEXT NOT NULL,"
	" scope TEXT NOT NULL,"
	" digest TEXT NOT NULL,"
	" level INTEGER NOT NULL,"
	" alerted INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" PRIMARY KEY (rule_id, child_id, scope)"
	") WITHOUT ROWID;"
	/* the brief's levels by child: the key leads with the rule */
	"CREATE INDEX rule_state_child ON rule_state (child_id, scope);"

	/* Alerts: the contract object in body; AUTOINCREMENT keeps ids unique. */
	"CREATE TABLE alerts ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" rule_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" level TEXT NOT NULL,"
	" child_id TEXT NOT NULL,"
	" episode_id TEXT,"
	" raised_at_ms INTEGER NOT NULL,"
	" event_at_ms INTEGER NOT NULL,"
	" event_seq INTEGER,"	/* the event that raised it; NULL: a clock */
	" body TEXT NOT NULL,"
	" ack_by TEXT, ack_at_ms INTEGER, ack_note TEXT);"
	"CREATE INDEX alerts_child ON alerts (child_id, seq);"
	"CREATE INDEX alerts_event ON alerts (event_seq);"
	/* subscriber streams send the unacknowledged alerts in seq order */
	"CREATE INDEX alerts_unacked ON alerts (seq) WHERE ack_at_ms IS NULL;"

	/*
	 * The acknowledgement audit trail: one row per accepted
	 * acknowledgement (alerts.ack_* hold the same for the alert), with
	 * the channel it came through.
	 */
	"CREATE TABLE acks ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" alert_seq INTEGER NOT NULL UNIQUE REFERENCES alerts (seq),"
	" ack_by TEXT NOT NULL,"
	" ack_at_ms INTEGER NOT NULL,"
	" ack_note TEXT,"
	" via TEXT NOT NULL);"

	/*
	 * The outbox: one delivery per alert and route, written in the
	 * transaction that raised the alert (or escalated it).  The
	 * dispatcher resolves it into the route's webhooks for the child's
	 * area (channels: how many; NULL until resolved) and keeps status as
	 * the sum of theirs: pending while any is, then failed if any failed,
	 * else delivered.  escalate_at_ms: when an unacknowledged urgent
	 * alert moves on along the route's chain (NULL: never, or done);
	 * escalated_from: the route this delivery was escalated from.
	 */
	"CREATE TABLE deliveries ("
	" alert_seq INTEGER NOT NULL REFERENCES alerts (seq),"
	" route TEXT NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'pending'"
	"  CHECK (status IN ('pending', 'delivered', 'failed')),"
	" created_ms INTEGER NOT NULL,"
	" channels INTEGER,"
	" done_ms INTEGER,"
	" escalate_at_ms INTEGER,"
	" escalated_from TEXT,"
	" PRIMARY KEY (alert_seq, route)"
	") WITHOUT ROWID;"
	"CREATE INDEX deliveries_unresolved ON deliveries (alert_seq)"
	" WHERE channels IS NULL;"
	"CREATE INDEX deliveries_escalate ON deliveries (escalate_at_ms)"
	" WHERE escalate_at_ms IS NOT NULL;"

	/*
	 * One row per alert, route and webhook URL: its own retries, the
	 * next attempt's time, and when it was delivered (a 2xx: never sent
	 * again) or failed (the give-up age passed).
	 */
	"CREATE TABLE webhook_deliveries ("
	" alert_seq INTEGER NOT NULL REFERENCES alerts (seq),"
	" route TEXT NOT NULL,"
	" url TEXT NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'pending'"
	"  CHECK (status IN ('pending', 'delivered', 'failed')),"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL,"
	" next_attempt_ms INTEGER NOT NULL,"
	" done_ms INTEGER,"
	" http_status INTEGER,"	/* of the last attempt; NULL: no answer */
	" last_error TEXT,"
	" PRIMARY KEY (alert_seq, route, url),"
	" FOREIGN KEY (alert_seq, route) REFERENCES deliveries"
	") WITHOUT ROWID;"
	"CREATE INDEX webhook_deliveries_due ON webhook_deliveries"
	" (next_attempt_ms) WHERE status = 'pending';"

	/* Every attempt: when, which webhook, and what came of it. */
	"CREATE TABLE delivery_attempts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" alert_seq INTEGER NOT NULL REFERENCES alerts (seq),"
	" route TEXT NOT NULL,"
	" url TEXT NOT NULL,"
	" started_ms INTEGER NOT NULL,"
	" ended_ms INTEGER NOT NULL,"
	" outcome TEXT NOT NULL"
	"  CHECK (outcome IN ('delivered', 'retry', 'failed')),"
	" http_status INTEGER,"
	" error TEXT);"
	"CREATE INDEX delivery_attempts_alert ON delivery_attempts"
	" (alert_seq, route);"

	/*
	 * Escalations: an urgent alert nobody acknowledged in time went from
	 * one route to the next of its chain (a deliveries row for to_route,
	 * escalated_from = from_route, comes with it).
	 */
	"CREATE TABLE escalations ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* streams follow it */
	" alert_seq INTEGER NOT NULL REFERENCES alerts (seq),"
	" from_route TEXT NOT NULL,"
	" to_route TEXT NOT NULL,"
	" at_ms INTEGER NOT NULL,"
	" UNIQUE (alert_seq, to_route));"

	/* Deadlines: pending until met, fired, or dropped by a rule change. */
	"CREATE TABLE deadlines ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" rule_id TEXT NOT NULL,"
	" digest TEXT NOT NULL,"
	" child_id TEXT NOT NULL,"
	" episode_id TEXT NOT NULL,"
	" start_seq INTEGER NOT NULL,"
	" start_at_ms INTEGER NOT NULL,"
	" due_at_ms INTEGER NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'pending'"
	"  CHECK (status IN ('pending', 'met', 'fired', 'dropped')),"
	" closed_seq INTEGER,"
	" alert_seq INTEGER);"
	"CREATE INDEX deadlines_due ON deadlines (status, due_at_ms);"
	"CREATE INDEX deadlines_child ON deadlines (child_id, rule_id, status);"
	/*
	 * The brief's pending deadlines of one child by due time; without it
	 * the planner walks every pending deadline of every child.
	 */
	"CREATE INDEX deadlines_child_due ON deadlines (child_id, due_at_ms)"
	" WHERE status = 'pending';",

	/* 3: the audit trail, and the indexes retention's purge walks. */

	/*
	 * Who did what (audit.c, docs/security.md): reads of a child's brief
	 * or an alert, acknowledgements, rule reloads, starts and stops,
	 * refused connections, purges.  detail is a JSON object or NULL.
	 * AUTOINCREMENT: a seq is never reused.  Append-only, enforced here
	 * and not only by the code: the triggers refuse every UPDATE, DELETE
	 * and REPLACE, whoever sends it (retention never touches this table).
	 */
	"CREATE TABLE audit ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" at_ms INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" subject TEXT,"
	" detail TEXT);"
	"CREATE INDEX audit_action ON audit (action, seq);"
	"CREATE INDEX audit_subject ON audit (subject, seq);"
	"CREATE INDEX audit_at ON audit (at_ms);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	/* REPLACE deletes without the delete trigger: no reused seq either */
	"CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit"
	" WHEN EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq)"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"

	/*
	 * Retention (retention.c) walks the log by event time, oldest first,
	 * and deletes locations no episode names: without these, each batch
	 * would scan the whole log, and each deleted location (a foreign
	 * key parent) would scan every episode.
	 */
	"CREATE INDEX events_at ON events (at_ms, seq);"
	"CREATE INDEX episodes_last_seen ON episodes (last_seen_key);"
	"CREATE INDEX episodes_found ON episodes (found_key);",

	/*
	 * 4: the same CHECK constraints, written so that SQLite can test them
	 * cheaply.  SQLite 3.40 compiles "x IN ('a', 'b', 'c')" into a
	 * temporary b-tree built at every INSERT or UPDATE of the row: about
	 * 2.5 of them per event, a seventh of replay's instructions
	 * (docs/performance.md).  "x = 'a' OR x = 'b' ..." accepts and
	 * refuses exactly the same values.  A CHECK constraint is not part of
	 * the file format, so the stored CREATE TABLE text is edited in place
	 * with writable_schema: SQLite's ALTER TABLE documentation gives that
	 * procedure for removing a CHECK constraint, and rewriting one into
	 * an equivalent expression leaves the stored rows as valid as
	 * removing it would.  RESET makes this connection read the new text;
	 * store_migrate_step() moves the schema cookie on for the others.
	 * (With SQLITE_DBCONFIG_DEFENSIVE on, which misperd does not set,
	 * this step would fail and the daemon would not start.)
	 */
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_schema SET sql = replace(sql,"
	" 'CHECK (status IN (''open'', ''found'', ''closed''))',"
	" 'CHECK (status = ''open'' OR status = ''found'' OR"
	" status = ''closed'')')"
	" WHERE type = 'table' AND name = 'episodes';"
	"UPDATE sqlite_schema SET sql = replace(sql,"
	" 'CHECK (status IN (''pending'', ''delivered'', ''failed''))',"
	" 'CHECK (status = ''pending'' OR status = ''delivered'' OR"
	" status = ''failed'')')"
	" WHERE type = 'table' AND name IN ('deliveries',"
	" 'webhook_deliveries');"
	"UPDATE sqlite_schema SET sql = replace(sql,"
	" 'CHECK (outcome IN (''delivered'', ''retry'', ''failed''))',"
	" 'CHECK (outcome = ''delivered'' OR outcome = ''retry'' OR"
	" outcome = ''failed'')')"
	" WHERE type = 'table' AND name = 'delivery_attempts';"
	"UPDATE sqlite_schema SET sql = replace(sql,"
	" 'CHECK (status IN (''pending'', ''met'', ''fired'', ''dropped''))',"
	" 'CHECK (status = ''pending'' OR status = ''met'' OR"
	" status = ''fired'' OR status = ''dropped'')')"
	" WHERE type = 'table' AND name = 'deadlines';"
	"PRAGMA writable_schema = RESET;",

	/*
	 * 5: fewer index pages written an event.  Every deadline went into
	 * three indexes and moved in two of them when it closed; now two,
	 * and a close moves it in one.  deadlines_pending holds only the
	 * pending ones (the tick's due query, the earliest due time, the
	 * counts), so a deadline leaves it when met, fired or dropped instead
	 * of moving to a part of the index that grew with every deadline
	 * ever.  deadlines_child serves what the two indexes by child did:
	 * the engine's pending deadlines of a child and rule, the brief's
	 * pending deadlines of a child (a search, then a sort of that child's
	 * few), retention's deadlines of a child.  docs/performance.md, fifth
	 * round.  IF EXISTS: an index an operator dropped by hand does not
	 * keep the daemon from starting.
	 */
	"DROP INDEX IF EXISTS deadlines_due;"
	"DROP INDEX IF EXISTS deadlines_child;"
	"DROP INDEX IF EXISTS deadlines_child_due;"
	"CREATE INDEX deadlines_pending ON deadlines (due_at_ms)"
	" WHERE status = 'pending';"
	"CREATE INDEX deadlines_child ON deadlines (child_id, status, rule_id);"
};

_Static_assert(sizeof store_migrations / sizeof store_migrations[0] ==
    STORE_SCHEMA_VERSION, "one migration step per schema version");

/* The prepared statements, by purpose. */
enum store_sql {
	SQL_BEGIN,
	SQL_COMMIT,
	SQL_ROLLBACK,
	SQL_SAVEPOINT,
	SQL_RELEASE,
	SQL_ROLLBACK_TO,
	SQL_EVENT_FIND,
	SQL_EVENT_INSERT,
	SQL_EVENT_COUNT,
	SQL_EVENT_LAST,
	SQL_EPISODE_CHILD,
	SQL_CHILD_UPSERT,
	SQL_LOCATION_UPSERT,
	SQL_EPISODE_UPSERT,
	SQL_EPISODE_TOUCH,
	SQL_EPISODE_GRADE,
	SQL_EPISODE_REPORTED,
	SQL_EPISODE_FOUND,
	SQL_EPISODE_CLOSED,
	SQL_FLAG_SET,
	SQL_INDICATOR_ADD,
	SQL_INTERVIEW_ADD,
	SQL_PLAN_ADD,
	SQL__COUNT
};

static const char *const store_sql_text[SQL__COUNT] = {
	/* IMMEDIATE: take the write lock now, not half way through a batch. */
	[SQL_BEGIN] = "BEGIN IMMEDIATE",
	[SQL_COMMIT] = "COMMIT",
	[SQL_ROLLBACK] = "ROLLBACK",
	/* Each store_apply() is all or nothing inside the caller's batch. */
	[SQL_SAVEPOINT] = "SAVEPOINT store_apply",
	[SQL_RELEASE] = "RELEASE store_apply",
	[SQL_ROLLBACK_TO] = "ROLLBACK TO store_apply",

	/* Idempotency: what was stored under this id, if anything. */
	[SQL_EVENT_FIND] =
	    "SELECT seq, body, child_id FROM events WHERE id = ?1",
	[SQL_EVENT_INSERT] =
	    "INSERT INTO events (id, type, at_ms, received_ms, child_id,"
	    " episode_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQL_EVENT_COUNT] = "SELECT count(*) FROM events",
	/* max(seq) is one b-tree descent on the rowid. */
	[SQL_EVENT_LAST] = "SELECT coalesce(max(seq), 0) FROM events",

	/* Resolving the child of an event that names only an episode. */
	[SQL_EPISODE_CHILD] = "SELECT child_id FROM episodes WHERE id = ?1",

	/*
	 * Profile fields: ?1 id, ?2 dob, ?3 looked_after, ?4 cp_plan,
	 * ?5 area, ?6 flags, ?7 event time, ?8 seq.  A NULL parameter is
	 * "not given" and keeps the stored value; a given one replaces it
	 * when the stored one is unknown or not newer in event time.
	 */
	[SQL_CHILD_UPSERT] =
	    "INSERT INTO children (id, dob, dob_at_ms, looked_after,"
	    " looked_after_at_ms, cp_plan, cp_plan_at_ms, area, area_at_ms,"
	    " flags, flags_at_ms, profile_at_ms, first_seen_seq, last_seq)"
	    " VALUES (?1,"
	    " ?2, CASE WHEN ?2 IS NULL THEN NULL ELSE ?7 END,"
	    " ?3, CASE WHEN ?3 IS NULL THEN NULL ELSE ?7 END,"
	    " ?4, CASE WHEN ?4 IS NULL THEN NULL ELSE ?7 END,"
	    " ?5, CASE WHEN ?5 IS NULL THEN NULL ELSE ?7 END,"
	    " ?6, CASE WHEN ?6 IS NULL THEN NULL ELSE ?7 END,"
	    " CASE WHEN coalesce(?2, ?3, ?4, ?5, ?6) IS NULL THEN NULL"
	    "  ELSE ?7 END, ?8, ?8)"
	    " ON CONFLICT (id) DO UPDATE SET"
	    " dob = CASE WHEN ?2 IS NOT NULL AND"
	    "  (dob IS NULL OR ?7 >= dob_at_ms) THEN ?2 ELSE dob END,"
	    " dob_at_ms = CASE WHEN ?2 IS NOT NULL AND"
	    "  (dob IS NULL OR ?7 >= dob_at_ms) THEN ?7 ELSE dob_at_ms END,"
	    " looked_after = CASE WHEN ?3 IS NOT NULL AND"
	    "  (looked_after IS NULL OR ?7 >= looked_after_at_ms)"
	    "  THEN ?3 ELSE looked_after END,"
	    " looked_after_at_ms = CASE WHEN ?3 IS NOT NULL AND"
	    "  (looked_after IS NULL OR ?7 >= looked_after_at_ms)"
	    "  THEN ?7 ELSE looked_after_at_ms END,"
	    " cp_plan = CASE WHEN ?4 IS NOT NULL AND"
	    "  (cp_plan IS NULL OR ?7 >= cp_plan_at_ms)"
	    "  THEN ?4 ELSE cp_plan END,"
	    " cp_plan_at_ms = CASE WHEN ?4 IS NOT NULL AND"
	    "  (cp_plan IS NULL OR ?7 >= cp_plan_at_ms)"
	    "  THEN ?7 ELSE cp_plan_at_ms END,"
	    " area = CASE WHEN ?5 IS NOT NULL AND"
	    "  (area IS NULL OR ?7 >= area_at_ms) THEN ?5 ELSE area END,"
	    " area_at_ms = CASE WHEN ?5 IS NOT NULL AND"
	    "  (area IS NULL OR ?7 >= area_at_ms) THEN ?7 ELSE area_at_ms END,"
	    " flags = CASE WHEN ?6 IS NOT NULL AND"
	    "  (flags IS NULL OR ?7 >= flags_at_ms) THEN ?6 ELSE flags END,"
	    " flags_at_ms = CASE WHEN ?6 IS NOT NULL AND"
	    "  (flags IS NULL OR ?7 >= flags_at_ms)"
	    "  THEN ?7 ELSE flags_at_ms END,"
	    " profile_at_ms = CASE WHEN coalesce(?2, ?3, ?4, ?5, ?6) IS NULL"
	    "  THEN profile_at_ms"
	    "  ELSE max(coalesce(profile_at_ms, ?7), ?7) END,"
	    " last_seq = ?8",

	/* Details from the newest event first, gaps filled from older ones. */
	[SQL_LOCATION_UPSERT] =
	    "INSERT INTO locations (key, uprn, postcode, address, area, at_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (key) DO UPDATE SET"
	    " uprn = CASE WHEN ?6 >= at_ms THEN coalesce(?2, uprn)"
	    "  ELSE coalesce(uprn, ?2) END,"
	    " postcode = CASE WHEN ?6 >= at_ms THEN coalesce(?3, postcode)"
	    "  ELSE coalesce(postcode, ?3) END,"
	    " address = CASE WHEN ?6 >= at_ms THEN coalesce(?4, address)"
	    "  ELSE coalesce(address, ?4) END,"
	    " area = CASE WHEN ?6 >= at_ms THEN coalesce(?5, area)"
	    "  ELSE coalesce(area, ?5) END,"
	    " at_ms = max(at_ms, ?6)",

	/* ?1 episode, ?2 child, ?3 seq: an episode event creates it. */
	[SQL_EPISODE_UPSERT] =
	    "INSERT INTO episodes (id, child_id, status, first_seq, last_seq)"
	    " VALUES (?1, ?2, 'open', ?3, ?3)"
	    " ON CONFLICT (id) DO UPDATE SET last_seq = ?3",
	/* Other events naming a known episode only move its last_seq. */
	[SQL_EPISODE_TOUCH] =
	    "UPDATE episodes SET last_seq = ?2 WHERE id = ?1",
	/* ?2 category, ?3 risk (NULL: not given), ?4 event time. */
	[SQL_EPISODE_GRADE] =
	    "UPDATE episodes SET"
	    " category = CASE WHEN ?2 IS NOT NULL AND"
	    "  (category IS NULL OR ?4 >= category_at_ms)"
	    "  THEN ?2 ELSE category END,"
	    " category_at_ms = CASE WHEN ?2 IS NOT NULL AND"
	    "  (category IS NULL OR ?4 >= category_at_ms)"
	    "  THEN ?4 ELSE category_at_ms END,"
	    " risk = CASE WHEN ?3 IS NOT NULL AND"
	    "  (risk IS NULL OR ?4 >= risk_at_ms) THEN ?3 ELSE risk END,"
	    " risk_at_ms = CASE WHEN ?3 IS NOT NULL AND"
	    "  (risk IS NULL OR ?4 >= risk_at_ms) THEN ?4 ELSE risk_at_ms END"
	    " WHERE id = ?1",
	/* ?2 event time, ?3 last_seen key; began at the earliest report. */
	[SQL_EPISODE_REPORTED] =
	    "UPDATE episodes SET"
	    " reported_at_ms = min(coalesce(reported_at_ms, ?2), ?2),"
	    " last_seen_key = CASE WHEN ?3 IS NOT NULL AND"
	    "  (last_seen_key IS NULL OR ?2 >= last_seen_at_ms)"
	    "  THEN ?3 ELSE last_seen_key END,"
	    " last_seen_at_ms = CASE WHEN ?3 IS NOT NULL AND"
	    "  (last_seen_key IS NULL OR ?2 >= last_seen_at_ms)"
	    "  THEN ?2 ELSE last_seen_at_ms END"
	    " WHERE id = ?1",
	/* ?2 event time, ?3 found key, ?4 out_of_area; newest found wins. */
	[SQL_EPISODE_FOUND] =
	    "UPDATE episodes SET found_at_ms = ?2,"
	    " found_key = coalesce(?3, found_key),"
	    " out_of_area = coalesce(?4, out_of_area),"
	    " status = CASE WHEN closed_at_ms >= ?2 THEN 'closed'"
	    "  ELSE 'found' END"
	    " WHERE id = ?1 AND (found_at_ms IS NULL OR ?2 >= found_at_ms)",
	/* ?2 event time, ?3 outcome; a later found keeps it 'found'. */
	[SQL_EPISODE_CLOSED] =
	    "UPDATE episodes SET closed_at_ms = ?2,"
	    " outcome = coalesce(?3, outcome),"
	    " status = CASE WHEN found_at_ms > ?2 THEN 'found'"
	    "  ELSE 'closed' END"
	    " WHERE id = ?1 AND (closed_at_ms IS NULL OR ?2 >= closed_at_ms)",

	/* ?3 active; an older flagging or clearing never undoes a newer one. */
	[SQL_FLAG_SET] =
	    "INSERT INTO location_flags (location_key, reason, active, at_ms,"
	    " seq) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (location_key, reason) DO UPDATE SET"
	    " active = ?3, at_ms = ?4, seq = ?5"
	    " WHERE ?4 >= location_flags.at_ms",

	/* A repeated indicator in one event counts once. */
	[SQL_INDICATOR_ADD] =
	    "INSERT INTO child_indicators (child_id, indicator, at_ms, seq,"
	    " episode_id, event_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (seq, indicator) DO NOTHING",
	[SQL_INTERVIEW_ADD] =
	    "INSERT INTO interviews (seq, child_id, episode_id, kind, at_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQL_PLAN_ADD] =
	    "INSERT INTO plans (seq, child_id, episode_id, plan, at_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
};

struct store {
	sqlite3		*db;
	char		*path;
	sqlite3_stmt	*stmt[SQL__COUNT];
	int		 in_txn;	/* between store_begin() and its end */
	int		 batch;		/* scratch: commits wait for the batch */
	void		(*commit_timer)(void *, int64_t);
	void		*commit_timer_arg;
	int64_t		 commit_us;	/* spent in COMMIT since the start */
	char		 errbuf[512];	/* the last failure, store_errmsg() */
	/* the checkpointer thread, its own connection; see store_checkpointer_start() */
	sqlite3		*ckpt_db;
	pthread_t	 ckpt_thread;
	int		 ckpt_started;
	pthread_mutex_t	 ckpt_mu;	/* ckpt_want, ckpt_stop, ckpt_stats */
	pthread_cond_t	 ckpt_cv;
	pthread_mutex_t	 ckpt_run_mu;	/* held while a checkpoint runs */
	int		 ckpt_want;
	int		 ckpt_stop;
	int		 ckpt_done;	/* frames the thread's last run left copied */
	unsigned	 ckpt_cycle;	/* ... in this cycle of the WAL */
	unsigned	 wal_cycle;	/* the WAL started again (ckpt_mu) */
	int		 wal_frames;	/* in the WAL after the last commit */
	struct store_ckpt_stats ckpt_stats;
	/* other modules' statements, by their SQL (store_cached_stmt()) */
	struct {
		const char	*sql;
		sqlite3_stmt	*st;
	}		 cached[STORE_CACHED_MAX];
	size_t		 ncached;
};

/*
 * Remember the connection's current error for store_errmsg() and logs:
 * SQLite's message first, then the start of the statement that failed.
 */
static void
store_seterr(struct store *s, const char *what)
{
	snprintf(s->errbuf, sizeof s->errbuf, "%s (in \"%.60s%s\")",
	    sqlite3_errmsg(s->db), what, strlen(what) > 60 ? "..." : "");
}

/*
 * Bind fmt's parameters from 1 on: 's' a string (NULL binds NULL),
 * 'l' an int64_t, 't' an int where a negative value (TRI_UNSET) binds NULL,
 * 'n' NULL (takes no argument).
 * Strings are SQLITE_STATIC: bindings are cleared after every use.
 */
static int
store_vbind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	const char	*str;
	int		 n, i, rc = SQLITE_OK;

	for (n = 1; *fmt != '\0' && rc == SQLITE_OK; fmt++, n++) {
		switch (*fmt) {
		case 's':
			str = va_arg(ap, const char *);
			if (str == NULL)
				rc = sqlite3_bind_null(st, n);
			else
				rc = sqlite3_bind_text(st, n, str, -1,
				    SQLITE_STATIC);
			break;
		case 'l':
			rc = sqlite3_bind_int64(st, n, va_arg(ap, int64_t));
			break;
		case 'n':
			rc = sqlite3_bind_null(st, n);
			break;
		case 't':
			i = va_arg(ap, int);
			if (i < 0)
				rc = sqlite3_bind_null(st, n);
			else
				rc = sqlite3_bind_int(st, n, i);
			break;
		default:
			fatalx("store", "bad bind format '%c'", *fmt);
		}
	}
	return rc;
}

/* Make a statement ready for its next use. */
static void
store_reset(struct store *s, enum store_sql id)
{
	sqlite3_reset(s->stmt[id]);
	sqlite3_clear_bindings(s->stmt[id]);
}

/* Bind and step statement id once; as store_step() returns. */
static int
store_vstep(struct store *s, enum store_sql id, const char *fmt, va_list ap)
{
	sqlite3_stmt	*st = s->stmt[id];
	int		 rc;

	rc = store_vbind(st, fmt, ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE) {
		store_seterr(s, store_sql_text[id]);
		store_reset(s, id);
		return -1;
	}
	store_reset(s, id);
	return 0;
}

/*
 * A query: 1, a row is ready (the caller reads it, then calls
 * store_reset()); 0, no row, already reset; -1, failed, error
 * remembered, already reset.
 */
static int
store_step(struct store *s, enum store_sql id, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = store_vstep(s, id, fmt, ap);
	va_end(ap);
	return rc;
}

/* A statement run for its effect: 0 or -1.  Always left reset. */
static int
store_run(struct store *s, enum store_sql id, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = store_vstep(s, id, fmt, ap);
	va_end(ap);
	if (rc == 1)
		store_reset(s, id);
	return rc == -1 ? -1 : 0;
}

/* Copy a text column of the current row; "" if NULL. */
static char *
store_column_strdup(struct store *s, enum store_sql id, int col)
{
	const unsigned char	*t;

	t = sqlite3_column_text(s->stmt[id], col);
	return xstrdup(t == NULL ? "" : (const char *)t);
}

/* A query for one integer; -1 on failure. */
static int64_t
store_int(struct store *s, enum store_sql id)
{
	int64_t	 v = -1;

	if (store_step(s, id, "") == 1) {
		v = sqlite3_column_int64(s->stmt[id], 0);
		store_reset(s, id);
	}
	return v;
}

/* Read an integer PRAGMA (pragmas cannot take parameters). */
static int
store_pragma_int(sqlite3 *db, const char *name, int64_t *v)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	xasprintf(&sql, "PRAGMA %s", name);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Create the file 0600 when absent, whatever the umask, so the -wal and
 * -shm files SQLite derives from it are private too.
 */
static int
store_create_file(const char *path, char **cause)
{
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd != -1) {
		if (fchmod(fd, 0600) == -1) {
			xasprintf(cause, "cannot set the mode of %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno != EEXIST) {
		xasprintf(cause, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* An existing file's mode is the operator's, but say so when it is open. */
static void
store_check_mode(const char *path)
{
	struct stat	 sb;

	if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warnx("store", "%s can be read by group or others "
		    "(mode %04o) and holds personal data: chmod 600 it",
		    path, (unsigned)(sb.st_mode & 07777));
}

/*
 * The -wal and -shm files hold the same data as the database: never let
 * one left over from an earlier run be more open than the database.
 */
static void
store_tighten_sidecars(const char *path)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	struct stat	 db, sb;
	char		*side;
	size_t		 i;
	int		 fd;

	if (stat(path, &db) == -1)
		return;
	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		xasprintf(&side, "%s%s", path, suffix[i]);
		fd = open(side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (sb.st_mode & ~db.st_mode & 0777) != 0 &&
		    fchmod(fd, sb.st_mode & db.st_mode & 0777) == -1)
			log_warn("store", "chmod %s", side);
		if (fd != -1)
			close(fd);
		free(side);
	}
}

/*
 * Read the header: is it SQLite at all, is it ours (or empty, so that we
 * may claim it), and which schema version.
 */
static int
store_identify(struct store *s, int64_t *version, char **cause)
{
	int64_t	 appid, objects;
	int	 rc, fresh;

	rc = sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master",
	    NULL, NULL, NULL);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		xasprintf(cause, "%s is not a SQLite database: %s", s->path,
		    sqlite3_errmsg(s->db));
		return -1;
	}
	if (rc != SQLITE_OK ||
	    store_pragma_int(s->db, "application_id", &appid) == -1 ||
	    store_pragma_int(s->db, "user_version", version) == -1 ||
	    store_pragma_int(s->db, "schema_version", &objects) == -1) {
		xasprintf(cause, "cannot read database %s: %s", s->path,
		    sqlite3_errmsg(s->db));
		return -1;
	}
	/* schema_version counts schema changes: 0 means never any table. */
	fresh = appid == 0 && *version == 0 && objects == 0;
	if (appid != STORE_APPLICATION_ID && !fresh) {
		xasprintf(cause, "%s is not a misperd database "
		    "(application_id 0x%08llx, expected 0x%08x)", s->path,
		    (unsigned long long)(uint32_t)appid, STORE_APPLICATION_ID);
		return -1;
	}
	if (*version > STORE_SCHEMA_VERSION) {
		xasprintf(cause, "%s: database schema version %lld is newer "
		    "than this misperd understands (%d); run a newer misperd "
		    "or restore a backup", s->path, (long long)*version,
		    STORE_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/* Per-connection settings, and WAL, which must really be in effect. */
static int
store_configure(struct store *s, char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	const char	*mode;
	int		 rc, wal = 0;

	/*
	 * synchronous=FULL: a commit is on disk before the reply (invariant
	 * 1).  foreign_keys: the schema's references are checked.
	 * trusted_schema=OFF: a restored file cannot run functions from its
	 * own triggers or views.  secure_delete: what retention purges is
	 * overwritten with zeros, not left readable in free pages.
	 * temp_store=MEMORY: the statement journals of each event's savepoint
	 * and statements (bounded by the pages one event touches) and the
	 * temporary b-trees and sorts of every query stay in memory instead
	 * of going through temporary files: it took an event's INSERT from
	 * about 50 to 14 us (docs/performance.md), and leaves no copies of
	 * pages in TMPDIR.  The queries that sort are the API's, paged.
	 */
	xasprintf(&sql, "PRAGMA foreign_keys = ON;"
	    " PRAGMA trusted_schema = OFF;"
	    " PRAGMA secure_delete = ON;"
	    " PRAGMA temp_store = MEMORY;"
	    " PRAGMA cache_size = -%d;"
	    " PRAGMA journal_size_limit = %d;",
	    STORE_CACHE_KIB, STORE_WAL_LIMIT);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(st, 0)) != NULL)
		wal = strcmp(mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!wal) {
		xasprintf(cause, "%s: cannot switch the database to WAL "
		    "journal mode: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	/* Set after journal_mode: FULL also fsyncs the WAL on each commit. */
	if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	xasprintf(cause, "cannot configure database %s: %s", s->path,
	    sqlite3_errmsg(s->db));
	return -1;
}

/*
 * Apply migration step v in its own transaction, unless another process
 * got there first.  Stamps application_id and user_version with it.
 */
static int
store_migrate_step(struct store *s, int v, char **cause)
{
	int64_t	 cur, cookie;
	char	*sql;
	int	 rc;

	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (store_pragma_int(s->db, "user_version", &cur) == -1)
		goto fail;
	if (cur >= v) {
		/* another process got there first */
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) ==
		    SQLITE_OK)
			return 0;
		goto fail;
	}
	if (sqlite3_exec(s->db, store_migrations[v - 1], NULL, NULL, NULL) !=
	    SQLITE_OK ||
	    store_pragma_int(s->db, "schema_version", &cookie) == -1)
		goto fail;
	/*
	 * The schema cookie moves on after every step, as SQLite's procedure
	 * for editing sqlite_schema asks: step 4 edits it in place, which
	 * moves nothing by itself, and other connections must read it again.
	 */
	xasprintf(&sql, "PRAGMA schema_version = %lld;"
	    " PRAGMA application_id = %d; PRAGMA user_version = %d; COMMIT;",
	    (long long)cookie + 1, STORE_APPLICATION_ID, v);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	free(sql);
	if (rc == SQLITE_OK)
		return 0;
fail:
	xasprintf(cause, "%s: migrating the schema to version %d failed: %s",
	    s->path, v, sqlite3_errmsg(s->db));
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Bring the schema from version `from` to STORE_SCHEMA_VERSION. */
static int
store_migrate(struct store *s, int64_t from, char **cause)
{
	int	 v;

	for (v = (int)from + 1; v <= STORE_SCHEMA_VERSION; v++) {
		if (store_migrate_step(s, v, cause) == -1)
			return -1;
		log_info("store", "%s: schema migrated to version %d",
		    s->path, v);
	}
	return 0;
}

/* Prepare every statement once, for the life of the connection. */
static int
store_prepare(struct store *s, char **cause)
{
	int	 i;

	for (i = 0; i < SQL__COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql_text[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) !=
		    SQLITE_OK) {
			xasprintf(cause, "%s: cannot prepare \"%s\": %s",
			    s->path, store_sql_text[i], sqlite3_errmsg(s->db));
			return -1;
		}
	}
	return 0;
}

/* Run a statement made of a fixed verb and a quoted savepoint name. */
static int
store_exec_named(struct store *s, const char *verb, const char *name)
{
	char	*sql;
	int	 rc;

	sql = sqlite3_mprintf("%s \"%w\"", verb, name);
	if (sql == NULL)
		fatalx("store", "out of memory");
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK) {
		store_seterr(s, verb);
		log_warnx("store", "%s %s: %s", verb, name, s->errbuf);
		return -1;
	}
	return 0;
}

/* An event about a child whose episode decides nothing else. */
static int
store_is_episode_event(enum event_type type)
{
	return type == EVT_EPISODE_REPORTED || type == EVT_EPISODE_UPDATED ||
	    type == EVT_EPISODE_FOUND || type == EVT_EPISODE_CLOSED;
}

/* Fill err for a refusal, with the event id for the reply. */
static void
store_refuse(struct ev_err *err, const struct mevent *ev, enum ev_error code,
    const char *field, const char *msg)
{
	ev_err_set(err, code, field, "%s", msg);
	err->has_id = 1;
	snprintf(err->id, sizeof err->id, "%s", ev->id);
}

/*
 * Idempotency (contract section 4): STORE_NEW when the id is new,
 * STORE_DUPLICATE (out filled) or STORE_REJECTED (conflict) otherwise.
 */
/*
 * Is the stored body the same event as root (protocol.md, section 4)?
 * Compared as JSON values: key order and spacing do not matter, values
 * do.  The body is the line as first received (bodies stored by misperd
 * before 2026-12 are sorted, compact dumps: the same values).  Parsed
 * only for a resend, which is rare.
 */
static int
store_same_content(const char *body, json_t *root)
{
	json_t	*stored;
	int	 same;

	if (body == NULL || (stored = json_loads(body, JSON_DECODE_ANY,
	    NULL)) == NULL)
		return 0;
	same = json_equal(stored, root);
	json_decref(stored);
	return same;
}

static enum store_status
store_lookup(struct store *s, const struct mevent *ev,
    struct store_outcome *out, struct ev_err *err)
{
	sqlite3_stmt	*st = s->stmt[SQL_EVENT_FIND];
	const char	*body, *child;
	char		 msg[sizeof err->message];
	int		 same;

	switch (store_step(s, SQL_EVENT_FIND, "s", ev->id)) {
	case -1:
		return STORE_ERROR;
	case 0:
		return STORE_NEW;
	}
	out->seq = sqlite3_column_int64(st, 0);
	body = (const char *)sqlite3_column_text(st, 1);
	same = store_same_content(body, ev->root);
	if ((child = (const char *)sqlite3_column_text(st, 2)) != NULL)
		snprintf(out->child_id, sizeof out->child_id, "%s", child);
	store_reset(s, SQL_EVENT_FIND);
	if (same)
		return STORE_DUPLICATE;
	snprintf(msg, sizeof msg, "event id %s was already received with "
	    "different content (seq %lld); use a new id for a new event",
	    ev->id, (long long)out->seq);
	out->child_id[0] = '\0';
	store_refuse(err, ev, EVERR_CONFLICT, "id", msg);
	return STORE_REJECTED;
}

/*
 * Find the event's child: its own child.id, else its episode's.  *child
 * is set (caller frees) or stays NULL for events about no child.
 */
static enum store_status
store_resolve(struct store *s, const struct mevent *ev, char **child,
    struct ev_err *err)
{
	char	 msg[sizeof err->message];
	char	*owner = NULL;
	int	 rc;

	*child = NULL;
	if (ev->episode != NULL) {
		rc = store_step(s, SQL_EPISODE_CHILD, "s", ev->episode);
		if (rc == -1)
			return STORE_ERROR;
		if (rc == 1) {
			owner = store_column_strdup(s, SQL_EPISODE_CHILD, 0);
			store_reset(s, SQL_EPISODE_CHILD);
		}
	}
	if (ev->child.id == NULL && ev->episode != NULL && owner == NULL) {
		snprintf(msg, sizeof msg, "episode %s has not been reported; "
		    "send episode.reported first, or include the child",
		    ev->episode);
		store_refuse(err, ev, EVERR_UNKNOWN_EPISODE, "episode", msg);
		return STORE_REJECTED;
	}
	if (ev->child.id != NULL && owner != NULL &&
	    strcmp(owner, ev->child.id) != 0) {
		snprintf(msg, sizeof msg, "episode %s belongs to child %s, "
		    "not %s", ev->episode, owner, ev->child.id);
		store_refuse(err, ev, EVERR_BAD_FIELD, "child.id", msg);
		free(owner);
		return STORE_REJECTED;
	}
	if (ev->child.id != NULL) {
		free(owner);
		*child = xstrdup(ev->child.id);
	} else
		*child = owner;
	return STORE_NEW;
}

/* Append the event to the log; *seq is its new position. */
static int
store_log_event(struct store *s, const struct mevent *ev, int64_t received_ms,
    const char *child, int64_t *seq)
{
	if (store_run(s, SQL_EVENT_INSERT, "ssllsss", ev->id,
	    event_type_name(ev->type), ev->at_ms, received_ms, child,
	    ev->episode, ev->body) == -1)
		return -1;
	*seq = sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* Record a location's details; nothing when none was given. */
static int
store_location(struct store *s, const struct ev_location *loc, int64_t at_ms)
{
	if (loc->key == NULL)
		return 0;
	return store_run(s, SQL_LOCATION_UPSERT, "sssssl", loc->key,
	    loc->uprn, loc->postcode, loc->address, loc->area, at_ms);
}

/*
 * The child's flags as a compact JSON array in *out (caller frees), or
 * NULL when not given.  Copied out of jansson's allocator.
 */
static int
store_flags_json(struct store *s, const struct ev_child *c, char **out)
{
	json_malloc_t	 jmalloc;
	json_free_t	 jfree;
	json_t		*a;
	char		*text = NULL;
	size_t		 i;
	int		 bad = 0;

	*out = NULL;
	if (!c->has_flags)
		return 0;
	if ((a = json_array()) == NULL)
		bad = 1;
	for (i = 0; !bad && i < c->nflags; i++)
		bad = json_array_append_new(a, json_string(c->flags[i])) == -1;
	if (!bad && (text = json_dumps(a, JSON_COMPACT)) == NULL)
		bad = 1;
	json_decref(a);
	if (bad) {
		snprintf(s->errbuf, sizeof s->errbuf,
		    "cannot encode the flags of child %s", c->id);
		return -1;
	}
	*out = xstrdup(text);
	json_get_alloc_funcs(&jmalloc, &jfree);
	jfree(text);
	return 0;
}

/*
 * Create or update the child: the profile fields the event gives (none
 * when the child came from the episode) and last_seq.
 */
static int
store_child(struct store *s, const struct mevent *ev, const char *child,
    int64_t seq)
{
	const struct ev_child	*c = &ev->child;
	char			*flags;
	int			 rc;

	if (c->id == NULL)
		return store_run(s, SQL_CHILD_UPSERT, "snnnnnll", child,
		    ev->at_ms, seq);
	if (store_flags_json(s, c, &flags) == -1)
		return -1;
	rc = store_run(s, SQL_CHILD_UPSERT, "ssttssll", child, c->dob,
	    c->looked_after, c->cp_plan, c->area, flags, ev->at_ms, seq);
	free(flags);
	return rc;
}

/* The state an episode.* event changes, once the episode row exists. */
static int
store_episode_stage(struct store *s, const struct mevent *ev)
{
	const char	*cat, *risk;

	cat = ev->category == CAT_UNSET ? NULL : category_name(ev->category);
	risk = ev->risk == RISK_UNSET ? NULL : risk_name(ev->risk);
	switch (ev->type) {
	case EVT_EPISODE_REPORTED:
		if (store_run(s, SQL_EPISODE_REPORTED, "sls", ev->episode,
		    ev->at_ms, ev->last_seen.key) == -1)
			return -1;
		return store_run(s, SQL_EPISODE_GRADE, "sssl", ev->episode,
		    cat, risk, ev->at_ms);
	case EVT_EPISODE_UPDATED:
		return store_run(s, SQL_EPISODE_GRADE, "sssl", ev->episode,
		    cat, risk, ev->at_ms);
	case EVT_EPISODE_FOUND:
		return store_run(s, SQL_EPISODE_FOUND, "slst", ev->episode,
		    ev->at_ms, ev->found.key, ev->out_of_area);
	case EVT_EPISODE_CLOSED:
		return store_run(s, SQL_EPISODE_CLOSED, "sls", ev->episode,
		    ev->at_ms, ev->outcome);
	default:
		return 0;
	}
}

/*
 * The episode named by an event about child: episode events create and
 * change it; other events naming a known one only move its last_seq.
 */
static int
store_episode(struct store *s, const struct mevent *ev, const char *child,
    int64_t seq)
{
	if (ev->episode == NULL)
		return 0;
	if (!store_is_episode_event(ev->type))
		return store_run(s, SQL_EPISODE_TOUCH, "sl", ev->episode, seq);
	if (store_run(s, SQL_EPISODE_UPSERT, "ssl", ev->episode, child,
	    seq) == -1)
		return -1;
	return store_episode_stage(s, ev);
}

/* One child_indicators row per distinct indicator of the event. */
static int
store_indicators(struct store *s, const struct mevent *ev, const char *child,
    int64_t seq)
{
	size_t	 i;

	for (i = 0; i < ev->nindicators; i++)
		if (store_run(s, SQL_INDICATOR_ADD, "ssllss", child,
		    ev->indicators[i], ev->at_ms, seq, ev->episode,
		    event_type_name(ev->type)) == -1)
			return -1;
	return 0;
}

/* The rows only some event types make. */
static int
store_by_type(struct store *s, const struct mevent *ev, const char *child,
    int64_t seq)
{
	switch (ev->type) {
	case EVT_INTERVIEW_COMPLETED:
		return store_run(s, SQL_INTERVIEW_ADD, "lsssl", seq, child,
		    ev->episode, interview_kind_name(ev->kind), ev->at_ms);
	case EVT_PLAN_RECORDED:
		return store_run(s, SQL_PLAN_ADD, "lsssl", seq, child,
		    ev->episode, plan_kind_name(ev->plan), ev->at_ms);
	case EVT_LOCATION_FLAGGED:
	case EVT_LOCATION_CLEARED:
		if (ev->location.key == NULL || ev->reason == NULL)
			return 0;
		return store_run(s, SQL_FLAG_SET, "sstll", ev->location.key,
		    ev->reason, ev->type == EVT_LOCATION_FLAGGED, ev->at_ms,
		    seq);
	default:
		return 0;
	}
}

/* Everything a new event changes besides the log itself. */
static int
store_derive(struct store *s, const struct mevent *ev, const char *child,
    int64_t seq)
{
	if (store_location(s, &ev->last_seen, ev->at_ms) == -1 ||
	    store_location(s, &ev->found, ev->at_ms) == -1 ||
	    store_location(s, &ev->location, ev->at_ms) == -1)
		return -1;
	if (child != NULL) {
		if (store_child(s, ev, child, seq) == -1 ||
		    store_episode(s, ev, child, seq) == -1 ||
		    store_indicators(s, ev, child, seq) == -1)
			return -1;
	}
	return store_by_type(s, ev, child, seq);
}

/*
 * Whether the caller's transaction is gone although it never ended it:
 * SQLite rolls back the whole transaction on some errors (I/O, disk
 * full).  Going on would commit later events one by one, outside it.
 */
static int
store_txn_lost(struct store *s)
{
	if (!s->in_txn || !sqlite3_get_autocommit(s->db))
		return 0;
	snprintf(s->errbuf, sizeof s->errbuf, "the transaction was rolled "
	    "back by an earlier storage error");
	return 1;
}

/* Log a storage failure once and fill err for an "unavailable" reply. */
static void
store_unavailable(struct store *s, const struct mevent *ev,
    struct ev_err *err)
{
	log_warnx("store", "event %s not stored: %s", ev->id, s->errbuf);
	store_refuse(err, ev, EVERR_UNAVAILABLE, "", "the event could not be "
	    "stored (storage error); it was not stored, retry later");
}

/*
 * Undo everything since the savepoint.  When SQLite has already rolled
 * back the whole transaction (I/O error, disk full) there is nothing
 * left to undo: the caller's commit then fails and the batch is retried.
 */
static void
store_undo(struct store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	if (store_run(s, SQL_ROLLBACK_TO, "") == -1 ||
	    store_run(s, SQL_RELEASE, "") == -1)
		log_warnx("store", "undoing a failed event: %s", s->errbuf);
}

/*
 * The checkpointer.  SQLite's automatic checkpoint runs inside the commit
 * that takes the WAL past 1,000 frames: the batch's replies then wait for
 * every page to be copied into the database file and for its fsync.  With
 * the checkpointer, that work happens on a thread of its own, with its own
 * connection, while the loop goes on: a PASSIVE checkpoint copies what is
 * committed and never blocks the writer.  Durability is the same: a
 * commit is on disk once its WAL frames are synced (synchronous=FULL), and
 * the checkpoint syncs the WAL before and the database after copying, as
 * the automatic one does.
 *
 * A busy writer can keep the WAL from ever starting again from its
 * beginning (a passive checkpoint never quite catches up), so past
 * STORE_WAL_HARD_FRAMES the loop's own connection finishes the checkpoint
 * before its next transaction (store_checkpoint_due()).
 */

/* After each commit of the loop's connection (sqlite3_wal_hook). */
static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store	*s = arg;

	if (frames < s->wal_frames) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->wal_cycle++;		/* the thread's counts are of the last */
		pthread_mutex_unlock(&s->ckpt_mu);
	}
	s->wal_frames = frames;
	if (frames >= STORE_CKPT_FRAMES) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_want = 1;
		pthread_cond_signal(&s->ckpt_cv);
		pthread_mutex_unlock(&s->ckpt_mu);
	}
	return SQLITE_OK;
}

/*
 * Rest between two checkpoints of the thread.  Woken at every commit past
 * STORE_CKPT_FRAMES, it would otherwise checkpoint after nearly every
 * commit under a steady load, with two fsyncs each (the WAL, then the
 * database): at 1,000 events/s that was 1.4 fsyncs per event and a
 * third of the daemon's CPU.  The WAL still starts again from its
 * beginning: the loop finishes the last few frames itself
 * (store_checkpoint_due()).  Called with ckpt_mu held.
 */
static void
store_checkpointer_rest(struct store *s)
{
	struct timespec	 until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += STORE_CKPT_REST_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!s->ckpt_stop && pthread_cond_timedwait(&s->ckpt_cv,
	    &s->ckpt_mu, &until) == 0)
		;
}

/* The checkpointer thread: a passive checkpoint each time it is woken. */
static void *
store_checkpointer(void *arg)
{
	struct store	*s = arg;
	int		 rc, log, done, last_done = 0;
	unsigned	 cycle, last_cycle = 0;
	int64_t		 t0, us;

	pthread_mutex_lock(&s->ckpt_mu);
	for (;;) {
		while (!s->ckpt_want && !s->ckpt_stop)
			pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
		if (s->ckpt_stop)
			break;
		s->ckpt_want = 0;
		cycle = s->wal_cycle;
		pthread_mutex_unlock(&s->ckpt_mu);
		t0 = time_mono_us();
		pthread_mutex_lock(&s->ckpt_run_mu);
		rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_unlock(&s->ckpt_run_mu);
		us = time_mono_us() - t0;
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_stats.background++;
		s->ckpt_stats.background_us += (uint64_t)us;
		if (rc != SQLITE_OK)
			s->ckpt_stats.failures++;
		else if (done > 0) {
			/* done counts from the WAL's start: copied this time? */
			s->ckpt_stats.frames += (uint64_t)(cycle == last_cycle &&
			    done >= last_done ? done - last_done : done);
			last_done = done;
			last_cycle = cycle;
		}
		s->ckpt_done = rc == SQLITE_OK && done > 0 ? done : 0;
		s->ckpt_cycle = cycle;
		store_checkpointer_rest(s);
	}
	pthread_mutex_unlock(&s->ckpt_mu);
	return NULL;
}

/*
 * Checkpoint on the loop's connection, so that the next writer starts the
 * WAL again from its beginning: when the WAL passed its bound (wait for
 * the thread's checkpoint, if one runs), or when the thread has copied all
 * but a short tail (skipped if the thread is at work again).  The tail
 * costs the loop a copy of a few pages and two short fsyncs once per
 * cycle of the WAL; the thread alone seldom gets there under a steady
 * load, as commits keep landing while it syncs.
 */
static void
store_checkpoint_loop(struct store *s, int bound)
{
	int	 rc, log = 0, done = 0;
	int64_t	 t0 = time_mono_us();

	if (bound)
		pthread_mutex_lock(&s->ckpt_run_mu);
	else if (pthread_mutex_trylock(&s->ckpt_run_mu) != 0)
		return;
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done);
	pthread_mutex_unlock(&s->ckpt_run_mu);
	pthread_mutex_lock(&s->ckpt_mu);
	if (bound) {
		s->ckpt_stats.bound++;
		s->ckpt_stats.bound_us += (uint64_t)(time_mono_us() - t0);
	} else {
		s->ckpt_stats.tail++;
		s->ckpt_stats.tail_us += (uint64_t)(time_mono_us() - t0);
	}
	s->ckpt_done = 0;	/* one try per run of the thread */
	if (rc == SQLITE_OK && log == done)
		s->wal_cycle++;
	pthread_mutex_unlock(&s->ckpt_mu);
	if (rc != SQLITE_OK)
		log_debug("store", "checkpoint on the loop: %s",
		    sqlite3_errmsg(s->db));
	else if (log == done)
		s->wal_frames = 0;	/* the next writer starts the WAL over */
}

/* Before a transaction: finish a checkpoint here rather than wait? */
static void
store_checkpoint_due(struct store *s)
{
	int	 tail;

	if (!s->ckpt_started || s->wal_frames < STORE_CKPT_FRAMES)
		return;
	if (s->wal_frames >= STORE_WAL_HARD_FRAMES) {
		store_checkpoint_loop(s, 1);
		return;
	}
	pthread_mutex_lock(&s->ckpt_mu);
	tail = s->ckpt_cycle == s->wal_cycle && s->ckpt_done > 0 &&
	    s->wal_frames - s->ckpt_done <= STORE_CKPT_TAIL;
	pthread_mutex_unlock(&s->ckpt_mu);
	if (tail)
		store_checkpoint_loop(s, 0);
}

/* Public functions. */

int
store_checkpointer_start(struct store *s, char **cause)
{
	sigset_t	 all, old;
	int		 rc;

	*cause = NULL;
	if (s->ckpt_started)
		return 0;
	if (sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->ckpt_db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "cannot open %s for the checkpointer: %s",
		    s->path, s->ckpt_db == NULL ? "out of memory" :
		    sqlite3_errmsg(s->ckpt_db));
		sqlite3_close(s->ckpt_db);
		s->ckpt_db = NULL;
		return -1;
	}
	pthread_mutex_init(&s->ckpt_mu, NULL);
	pthread_mutex_init(&s->ckpt_run_mu, NULL);
	{
		pthread_condattr_t	 ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->ckpt_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	/* signals are the loop's (libevent), never the checkpointer's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->ckpt_thread, NULL, store_checkpointer, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		xasprintf(cause, "cannot start the checkpointer: %s",
		    strerror(rc));
		pthread_cond_destroy(&s->ckpt_cv);
		pthread_mutex_destroy(&s->ckpt_run_mu);
		pthread_mutex_destroy(&s->ckpt_mu);
		sqlite3_close(s->ckpt_db);
		s->ckpt_db = NULL;
		return -1;
	}
	s->ckpt_started = 1;
	/* replaces SQLite's automatic checkpoint (sqlite3_wal_autocheckpoint) */
	sqlite3_wal_hook(s->db, store_wal_hook, s);
	return 0;
}

void
store_checkpointer_stop(struct store *s)
{
	if (!s->ckpt_started)
		return;
	sqlite3_wal_autocheckpoint(s->db, STORE_CKPT_FRAMES);
	pthread_mutex_lock(&s->ckpt_mu);
	s->ckpt_stop = 1;
	pthread_cond_signal(&s->ckpt_cv);
	pthread_mutex_unlock(&s->ckpt_mu);
	pthread_join(s->ckpt_thread, NULL);
	if (sqlite3_close(s->ckpt_db) != SQLITE_OK)
		log_warnx("store", "closing the checkpointer's connection: %s",
		    sqlite3_errmsg(s->ckpt_db));
	s->ckpt_db = NULL;
	pthread_cond_destroy(&s->ckpt_cv);
	pthread_mutex_destroy(&s->ckpt_run_mu);
	pthread_mutex_destroy(&s->ckpt_mu);
	s->ckpt_started = 0;
}

void
store_checkpoint_stats(struct store *s, struct store_ckpt_stats *st)
{
	if (!s->ckpt_started) {
		memset(st, 0, sizeof *st);
		return;
	}
	pthread_mutex_lock(&s->ckpt_mu);
	*st = s->ckpt_stats;
	pthread_mutex_unlock(&s->ckpt_mu);
	st->wal_frames = s->wal_frames;
}


struct store *
store_open(const char *path, char **cause)
{
	struct store	*s;
	int64_t		 version;

	*cause = NULL;
	if (store_create_file(path, cause) == -1)
		return NULL;
	/*
	 * Before SQLite opens anything: closing any descriptor of a file drops
	 * every POSIX lock this process holds on it, and losing SQLite's lock
	 * on -shm lets another process reset the WAL index under us.
	 */
	store_tighten_sidecars(path);
	/*
	 * Memory statistics cost a global mutex on every SQLite allocation
	 * (several hundred an event) and nothing here reads them.  Only
	 * possible before SQLite initialises: later calls fail, harmlessly.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	/* each commit's WAL frames in one write (walbuf.c) */
	if (walbuf_register() != SQLITE_OK) {
		xasprintf(cause, "cannot set up SQLite's files (%s)",
		    WALBUF_VFS);
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, WALBUF_VFS) !=
	    SQLITE_OK) {
		xasprintf(cause, "cannot open database %s: %s", path,
		    s->db == NULL ? "out of memory" : sqlite3_errmsg(s->db));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (store_identify(s, &version, cause) == -1 ||
	    store_configure(s, cause) == -1 ||
	    store_migrate(s, version, cause) == -1 ||
	    store_prepare(s, cause) == -1)
		goto fail;
	store_check_mode(path);
	return s;
fail:
	store_free(s);
	return NULL;
}

void
store_free(struct store *s)
{
	int	 i;

	if (s == NULL)
		return;
	store_checkpointer_stop(s);
	/* Statements first: sqlite3_close() refuses while any is alive. */
	for (i = 0; i < SQL__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (i = 0; i < (int)s->ncached; i++)
		sqlite3_finalize(s->cached[i].st);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store", "closing %s: %s", s->path,
		    sqlite3_errmsg(s->db));
	free(s->path);
	free(s);
}

const char *
store_errmsg(struct store *s)
{
	if (s->errbuf[0] != '\0')
		return s->errbuf;
	return sqlite3_errmsg(s->db);
}

int
store_begin(struct store *s)
{
	if (s->batch && s->in_txn)
		return 0;	/* inside the batch's transaction */
	store_checkpoint_due(s);
	if (store_run(s, SQL_BEGIN, "") == -1) {
		log_warnx("store", "%s", s->errbuf);
		return -1;
	}
	s->in_txn = 1;
	return 0;
}

void
store_set_commit_timer(struct store *s, void (*fn)(void *, int64_t),
    void *arg)
{
	s->commit_timer = fn;
	s->commit_timer_arg = arg;
}

int
store_commit(struct store *s)
{
	int64_t	 t0;

	if (s->batch && s->in_txn)
		return 0;	/* store_batch_end() commits */
	t0 = time_mono_us();
	if (store_run(s, SQL_COMMIT, "") == 0) {
		s->in_txn = 0;
		s->commit_us += time_mono_us() - t0;
		if (s->commit_timer != NULL)
			s->commit_timer(s->commit_timer_arg,
			    time_mono_us() - t0);
		return 0;
	}
	s->commit_us += time_mono_us() - t0;
	log_warnx("store", "%s; rolling back", s->errbuf);
	store_rollback(s);
	return -1;
}

/* Microseconds spent in COMMIT (the fsync with it) since the start. */
int64_t
store_commit_us(struct store *s)
{
	return s->commit_us;
}

void
store_rollback(struct store *s)
{
	s->in_txn = 0;
	/* Nothing to do when SQLite already ended the transaction. */
	if (sqlite3_get_autocommit(s->db))
		return;
	if (store_run(s, SQL_ROLLBACK, "") == -1)
		log_warnx("store", "%s", s->errbuf);
}

int
store_savepoint(struct store *s, const char *name)
{
	if (store_txn_lost(s)) {
		log_warnx("store", "savepoint %s: %s", name, s->errbuf);
		return -1;
	}
	return store_exec_named(s, "SAVEPOINT", name);
}

int
store_release(struct store *s, const char *name)
{
	return store_exec_named(s, "RELEASE", name);
}

/* Undo back to the savepoint and close it: it needs no store_release(). */
void
store_rollback_to(struct store *s, const char *name)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	if (store_exec_named(s, "ROLLBACK TO", name) == 0)
		store_exec_named(s, "RELEASE", name);
}

enum store_status
store_apply(struct store *s, const struct mevent *ev, int64_t received_ms,
    struct store_outcome *out, struct ev_err *err)
{
	enum store_status	 st;
	char			*child = NULL;

	memset(out, 0, sizeof *out);
	if (store_txn_lost(s) || store_run(s, SQL_SAVEPOINT, "") == -1) {
		store_unavailable(s, ev, err);
		return STORE_ERROR;
	}
	st = store_lookup(s, ev, out, err);
	if (st == STORE_NEW)
		st = store_resolve(s, ev, &child, err);
	if (st == STORE_NEW &&
	    (store_log_event(s, ev, received_ms, child, &out->seq) == -1 ||
	    store_derive(s, ev, child, out->seq) == -1))
		st = STORE_ERROR;
	if (st == STORE_NEW && child != NULL)
		snprintf(out->child_id, sizeof out->child_id, "%s", child);
	free(child);
	if ((st == STORE_NEW || st == STORE_DUPLICATE) &&
	    store_run(s, SQL_RELEASE, "") == -1)
		st = STORE_ERROR;
	if (st == STORE_ERROR)
		store_unavailable(s, ev, err);
	if (st == STORE_ERROR || st == STORE_REJECTED) {
		store_undo(s);
		out->seq = 0;
		out->child_id[0] = '\0';
	}
	return st;
}

sqlite3_stmt *
store_cached_stmt(struct store *s, const char *sql)
{
	sqlite3_stmt	*st;
	size_t		 i;

	for (i = 0; i < s->ncached; i++)
		if (s->cached[i].sql == sql ||
		    strcmp(s->cached[i].sql, sql) == 0)
			return s->cached[i].st;
	if (s->ncached == STORE_CACHED_MAX) {
		log_warnx("store", "no room to keep \"%.60s\" prepared", sql);
		return NULL;
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		log_warnx("store", "preparing \"%.60s\": %s", sql,
		    sqlite3_errmsg(s->db));
		return NULL;
	}
	s->cached[s->ncached].sql = sql;
	s->cached[s->ncached].st = st;
	s->ncached++;
	return st;
}

/* Modules with their own statements finalize them before store_free(). */
struct sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

int64_t
store_event_count(struct store *s)
{
	return store_int(s, SQL_EVENT_COUNT);
}

int64_t
store_last_seq(struct store *s)
{
	return store_int(s, SQL_EVENT_LAST);
}

char *
store_event_body(struct store *s, const char *id, int64_t *seq)
{
	sqlite3_stmt	*st = s->stmt[SQL_EVENT_FIND];
	const char	*body;
	char		*copy = NULL;

	if (store_step(s, SQL_EVENT_FIND, "s", id) != 1)
		return NULL;
	if ((body = (const char *)sqlite3_column_text(st, 1)) != NULL) {
		copy = xstrdup(body);
		if (seq != NULL)
			*seq = sqlite3_column_int64(st, 0);
	}
	store_reset(s, SQL_EVENT_FIND);
	return copy;
}

int
store_integrity_check(struct store *s, char **cause)
{
	sqlite3_stmt	*st;
	const char	*row;
	char		*acc = NULL, *next;
	int		 rc, ok = 1;

	*cause = NULL;
	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "integrity check: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row = (const char *)sqlite3_column_text(st, 0);
		if (row != NULL && strcmp(row, "ok") == 0)
			continue;
		ok = 0;
		xasprintf(&next, "%s%s%s", acc == NULL ? "" : acc,
		    acc == NULL ? "" : "; ", row == NULL ? "?" : row);
		free(acc);
		acc = next;
	}
	if (rc != SQLITE_DONE) {
		free(acc);
		xasprintf(&acc, "integrity check: %s", sqlite3_errmsg(s->db));
		ok = 0;
	}
	sqlite3_finalize(st);
	if (ok)
		return 0;
	*cause = acc;
	return -1;
}

void
store_checkpoint_truncate(struct store *s)
{
	int	 rc;

	/* a reader holding the log must not hold the loop for long */
	sqlite3_busy_timeout(s->db, STORE_CHECKPOINT_WAIT_MS);
	/* one checkpoint at a time: wait for the checkpointer's */
	if (s->ckpt_started)
		pthread_mutex_lock(&s->ckpt_run_mu);
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	if (s->ckpt_started)
		pthread_mutex_unlock(&s->ckpt_run_mu);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		log_debug("store", "checkpoint (truncate): %s",
		    sqlite3_errmsg(s->db));
}

int
store_schema_version(struct store *s)
{
	int64_t	 v;

	if (store_pragma_int(s->db, "user_version", &v) == -1)
		return -1;
	return (int)v;
}

/*
 * On a scratch database (replay): one transaction for many callers'
 * transactions, each store_begin() ... store_commit() inside it a no-op,
 * so a commit and its writes are paid once per batch, not per line.
 * A rollback still ends the whole batch (replay stops on any storage
 * error).  Never used on the live database: a reply there must follow its
 * own commit.
 */
int
store_batch_begin(struct store *s)
{
	if (store_begin(s) == -1)
		return -1;
	s->batch = 1;
	return 0;
}

/* Commit the batch's transaction (if a rollback has not ended it). */
int
store_batch_end(struct store *s)
{
	s->batch = 0;
	if (!s->in_txn)
		return 0;
	return store_commit(s);
}

/* Inside a batch's open transaction: commits wait for store_batch_end(). */
int
store_in_batch(struct store *s)
{
	return s->batch && s->in_txn;
}

/*
 * Trade durability for speed on a scratch database (replay, the HTTP fuzz
 * target): commits no longer wait for the disk.  The checkpointer thread
 * stops, so only this connection reads the WAL: without a sync at each
 * commit the walbuf VFS may still hold a published commit's frames, which
 * this connection writes out before any read but another would not see.
 * Never used on the live database.
 */
int
store_set_scratch(struct store *s)
{
	store_checkpointer_stop(s);
	if (sqlite3_exec(s->db, "PRAGMA synchronous = OFF", NULL, NULL,
	    NULL) != SQLITE_OK) {
		log_warnx("store", "synchronous=OFF: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/*
 * Replay's own database, thrown away at the end: one connection holds it
 * (locking_mode=EXCLUSIVE, so no lock calls per transaction), rollback
 * journal in memory instead of the WAL (each page is written once, to
 * the database, not to the WAL and then again by a checkpoint), no sync,
 * and a larger page cache.  Replay of 100,000 events: CPU per event about
 * a third lower (docs/performance.md).  Never used on the live database.
 */
int
store_set_replay(struct store *s)
{
	sqlite3_stmt	*st = NULL;
	const char	*mode = NULL;
	char		*sql;
	int		 rc, memory = 0;

	if (store_set_scratch(s) == -1)
		return -1;
	xasprintf(&sql, "PRAGMA locking_mode = EXCLUSIVE;"
	    " PRAGMA cache_size = -%d;", STORE_REPLAY_CACHE_KIB);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	free(sql);
	/* SQLite may refuse a change of journal mode without an error */
	if (rc == SQLITE_OK && sqlite3_prepare_v2(s->db,
	    "PRAGMA journal_mode = MEMORY", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(st, 0)) != NULL)
		memory = strcmp(mode, "memory") == 0;
	sqlite3_finalize(st);
	if (!memory) {
		log_warnx("store", "replay settings: journal_mode %s: %s",
		    mode != NULL ? mode : "not set", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}
