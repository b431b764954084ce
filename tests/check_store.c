/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests of the store (daemon/store.c): opening and migrating,
 * refusing foreign or newer databases, idempotency, the event log, the
 * state each event type derives (checked with plain SQL on a second
 * connection), event-time ordering of late events, and all-or-nothing
 * application when storage fails.  Each test gets its own temporary
 * directory.  Events are written with ' for " to stay readable.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "decode.h"
#include "event.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

static char	 basedir[64];	/* one per test case, made in the parent */
static char	 tmpdir[128];	/* one per test, inside basedir */
static char	 dbpath[192];

/* Remove one entry, for nftw(). */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * The test case's directory.  Unchecked fixtures run in the parent, so
 * its removal happens even when a forked test fails part way.
 */
static void
case_setup(void)
{
	snprintf(basedir, sizeof basedir, "/tmp/check_store.XXXXXX");
	if (mkdtemp(basedir) == NULL) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
}

/* Remove the test case's directory and everything in it. */
static void
case_teardown(void)
{
	nftw(basedir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory and database path for each test. */
static void
setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/t.XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof dbpath, "%s/misperd.db", tmpdir);
}

/* Remove the test's directory as soon as it is done with. */
static void
teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open the test database or fail the test with the cause. */
static struct store *
open_store(void)
{
	struct store	*s;
	char		*cause = NULL;

	s = store_open(dbpath, &cause);
	ck_assert_msg(s != NULL, "store_open: %s", cause ? cause : "?");
	return s;
}

/* Expect store_open to refuse, with a cause containing want. */
static void
open_refused(const char *want)
{
	struct store	*s;
	char		*cause = NULL;

	s = store_open(dbpath, &cause);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "cause \"%s\" lacks \"%s\"",
	    cause, want);
	free(cause);
}

/* Decode an event written with ' for ". */
static struct mevent *
make_event(const char *text)
{
	struct mevent	*ev;
	struct ev_err	 err;
	char		*json, *p;

	json = xstrdup(text);
	for (p = json; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	ev = decode_event(json, strlen(json), NULL, &err);
	ck_assert_msg(ev != NULL, "decode %s: %s: %s", json, err.field,
	    err.message);
	free(json);
	return ev;
}

/* Apply one event in the open transaction. */
static enum store_status
apply(struct store *s, const char *text, struct store_outcome *out,
    struct ev_err *err)
{
	struct mevent		*ev;
	enum store_status	 st;

	ev = make_event(text);
	memset(err, 0, sizeof *err);
	st = store_apply(s, ev, 1767225600000LL, out, err);
	mevent_free(ev);
	return st;
}

/* Apply one event in a transaction of its own. */
static enum store_status
apply1(struct store *s, const char *text, struct store_outcome *out,
    struct ev_err *err)
{
	enum store_status	 st;

	ck_assert_int_eq(store_begin(s), 0);
	st = apply(s, text, out, err);
	ck_assert_int_eq(store_commit(s), 0);
	return st;
}

/* Apply one event that must be new; its seq. */
static int64_t
apply_new(struct store *s, const char *text)
{
	struct store_outcome	 out;
	struct ev_err		 err;

	ck_assert_msg(apply1(s, text, &out, &err) == STORE_NEW, "%s: %s (%s)",
	    text, err.message, store_errmsg(s));
	return out.seq;
}

/* A second, plain connection to the test database. */
static sqlite3 *
peek_open(void)
{
	sqlite3	*db;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	return db;
}

/* Run SQL with no result on a second connection. */
static void
peek_exec(const char *sql)
{
	sqlite3	*db = peek_open();
	char	*msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

/* The first column of the first row of a query, as an integer (-999: none). */
static int64_t
q_int(const char *fmt, ...)
{
	sqlite3		*db = peek_open();
	sqlite3_stmt	*st;
	va_list		 ap;
	char		*sql;
	int64_t		 v = -999;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_close(db);
	return v;
}

/* The first column of the first row of a query, as text ("NULL": none). */
static char *
q_text(const char *fmt, ...)
{
	sqlite3		*db = peek_open();
	sqlite3_stmt	*st;
	va_list		 ap;
	char		*sql, *v = NULL;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_close(db);
	return v == NULL ? xstrdup("NULL") : v;
}

/* Assert that a text query gives want. */
#define ck_query_str(want, ...) do {					\
	char	*_v = q_text(__VA_ARGS__);				\
	ck_assert_str_eq(_v, (want));					\
	free(_v);							\
} while (0)

/* Event time in ms of an RFC 3339 string. */
static int64_t
ms(const char *at)
{
	int64_t	 v;

	ck_assert_int_eq(time_parse_rfc3339(at, &v), 0);
	return v;
}

/* The file permission bits of path. */
static unsigned int
file_mode(const char *path)
{
	struct stat	 sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* The usual first report: MP-1 for child C-1. */
#define REPORT_MP1 \
	"{'id':'E-1','type':'episode.reported'," \
	"'at':'2026-01-01T10:00:00Z','episode':'MP-1'," \
	"'child':{'id':'C-1','dob':'2011-03-02','looked_after':true," \
	"'area':'croydon','flags':['known_cse_risk']}," \
	"'category':'missing','risk':'medium'," \
	"'last_seen':{'uprn':'100021234567','postcode':'CR0 1AA'," \
	"'area':'croydon'},'indicators':['older_associates'," \
	"'unexplained_gifts','older_associates']}"

/* No CHECK the store writes to builds a temporary b-tree (schema step 4). */
static void
ck_checks_cheap(struct store *s)
{
	static const char *const writes[] = {
	    "INSERT INTO deliveries (alert_seq, route, created_ms)"
	    " VALUES (1, 'mpu', 0)",
	    "UPDATE deadlines SET status = 'met' WHERE id = 1",
	    "UPDATE episodes SET status = 'found' WHERE id = 'MP-1'",
	    "INSERT INTO delivery_attempts (alert_seq, route, url,"
	    " started_ms, ended_ms, outcome) VALUES (1, 'r', 'u', 0, 0, 'retry')",
	    "INSERT INTO webhook_deliveries (alert_seq, route, url, created_ms,"
	    " next_attempt_ms) VALUES (1, 'mpu', 'u', 0, 0)",
	    "INSERT INTO deadlines (rule_id, digest, child_id, episode_id,"
	    " start_seq, start_at_ms, due_at_ms) VALUES ('r', 'd', 'C-1',"
	    " 'MP-1', 1, 0, 0)",
	    "INSERT INTO episodes (id, child_id, status, first_seq, last_seq)"
	    " VALUES ('MP-9', 'C-1', 'open', 1, 1) ON CONFLICT (id) DO UPDATE"
	    " SET last_seq = 1"
	};
	sqlite3_stmt	*st;
	size_t		 i;
	int		 eph;

	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_schema WHERE"
	    " sql LIKE '%%CHECK (status IN%%' OR"
	    " sql LIKE '%%CHECK (outcome IN%%'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_schema WHERE"
	    " sql LIKE '%%CHECK (status = ''pending'' OR status = %%'"), 3);
	for (i = 0; i < sizeof writes / sizeof writes[0]; i++) {
		char *sql = sqlite3_mprintf("EXPLAIN %s", writes[i]);

		ck_assert_int_eq(sqlite3_prepare_v2(store_db(s), sql, -1, &st,
		    NULL), SQLITE_OK);
		eph = 0;
		while (sqlite3_step(st) == SQLITE_ROW)
			eph += strcmp((const char *)sqlite3_column_text(st, 1),
			    "OpenEphemeral") == 0;
		sqlite3_finalize(st);
		sqlite3_free(sql);
		ck_assert_msg(eph == 0, "%s builds a temporary b-tree",
		    writes[i]);
	}
	/* ... and still refuses what it refused (extended codes are on). */
	ck_assert_int_eq(sqlite3_exec(store_db(s), "INSERT INTO deadlines"
	    " (rule_id, digest, child_id, episode_id, start_seq, start_at_ms,"
	    " due_at_ms, status) VALUES ('r', 'd', 'C-1', 'MP-1', 1, 0, 0,"
	    " 'bogus')", NULL, NULL, NULL), SQLITE_CONSTRAINT_CHECK);
	ck_assert_int_eq(q_int("SELECT count(*) FROM pragma_integrity_check"
	    " WHERE integrity_check <> 'ok'"), 0);
}

/* A current database's deadline indexes put back as steps 2 to 4 left them. */
#define STEP2_DEADLINE_INDEXES						\
	"DROP INDEX deadlines_pending; DROP INDEX deadlines_child;"	\
	"CREATE INDEX deadlines_due ON deadlines (status, due_at_ms);"	\
	"CREATE INDEX deadlines_child ON deadlines"			\
	" (child_id, rule_id, status);"					\
	"CREATE INDEX deadlines_child_due ON deadlines (child_id, due_at_ms)" \
	" WHERE status = 'pending';"

START_TEST(test_checks_cheap)
{
	struct store	*s;
	int64_t		 cookie;

	s = open_store();
	ck_checks_cheap(s);
	store_free(s);
	/*
	 * A version 3 database (CHECKs with IN, as steps 1 and 2 wrote them)
	 * is brought to the current version, and the schema cookie moves on.
	 */
	peek_exec(STEP2_DEADLINE_INDEXES
	    "PRAGMA writable_schema = ON;"
	    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status ="
	    " ''pending'' OR status = ''met'' OR status = ''fired'' OR"
	    " status = ''dropped'')', 'CHECK (status IN (''pending'', ''met'',"
	    " ''fired'', ''dropped''))') WHERE name = 'deadlines';"
	    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status ="
	    " ''open'' OR status = ''found'' OR status = ''closed'')',"
	    " 'CHECK (status IN (''open'', ''found'', ''closed''))')"
	    " WHERE name = 'episodes';"
	    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status ="
	    " ''pending'' OR status = ''delivered'' OR status = ''failed'')',"
	    " 'CHECK (status IN (''pending'', ''delivered'', ''failed''))')"
	    " WHERE name IN ('deliveries', 'webhook_deliveries');"
	    "UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (outcome ="
	    " ''delivered'' OR outcome = ''retry'' OR outcome = ''failed'')',"
	    " 'CHECK (outcome IN (''delivered'', ''retry'', ''failed''))')"
	    " WHERE name = 'delivery_attempts';"
	    "PRAGMA writable_schema = RESET; PRAGMA user_version = 3;");
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_schema WHERE"
	    " sql LIKE '%%CHECK (status IN%%' OR"
	    " sql LIKE '%%CHECK (outcome IN%%'"), 5);
	cookie = q_int("PRAGMA schema_version");
	s = open_store();
	ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
	ck_assert_int_gt(q_int("PRAGMA schema_version"), cookie);
	ck_checks_cheap(s);
	store_free(s);
}
END_TEST

/* EXPLAIN QUERY PLAN of sql: the details of its steps, joined by "; ". */
static char *
q_plan(const char *sql)
{
	sqlite3		*db = peek_open();
	sqlite3_stmt	*st;
	char		*eqp, *v = NULL, *out;

	eqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
	ck_assert_msg(sqlite3_prepare_v2(db, eqp, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", eqp, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_mprintf("%z%s%s", v, v == NULL ? "" : "; ",
		    (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_free(eqp);
	sqlite3_close(db);
	out = xstrdup(v == NULL ? "" : v);
	sqlite3_free(v);
	return out;
}

/* Assert that the plan of sql has want in it, and no sort unless sorts. */
static void
ck_plan(const char *sql, const char *want, int sorts)
{
	char	*p = q_plan(sql);

	ck_assert_msg(strstr(p, want) != NULL, "%s: plan '%s', not %s", sql,
	    p, want);
	ck_assert_msg(sorts || strstr(p, "TEMP B-TREE") == NULL,
	    "%s: plan '%s' sorts", sql, p);
	free(p);
}

/* Open a version 4 database: migrated, with step 5's deadline indexes. */
static struct store *
open_migrated_deadlines(void)
{
	struct store	*s = open_store();

	ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
	ck_query_str("deadlines_child,deadlines_pending", "SELECT group_concat("
	    "name) FROM (SELECT name FROM sqlite_schema WHERE type = 'index'"
	    " AND tbl_name = 'deadlines' ORDER BY name)");
	return s;
}

/*
 * Schema step 5: two indexes on deadlines instead of three, and each of
 * the queries that read them still a search (their text as in alertdb.c,
 * brief.c and retention.c; a plan that walked every deadline is what the
 * old deadlines_child_due was added against).
 */
START_TEST(test_deadline_indexes)
{
	struct store	*s;

	s = open_store();
	store_free(s);
	/* the engine: a child's pending deadlines of a rule (meet, start) */
	ck_plan("SELECT id FROM deadlines WHERE rule_id = ?1"
	    " AND child_id = ?2 AND status = 'pending'"
	    " AND (?3 IS NULL OR episode_id = ?3) AND start_at_ms <= ?4",
	    "deadlines_child (child_id=? AND status=? AND rule_id=?)", 0);
	ck_plan("SELECT 1 FROM deadlines WHERE rule_id = ?1"
	    " AND child_id = ?2 AND (?3 IS NULL OR episode_id = ?3)"
	    " AND status = 'pending'",
	    "deadlines_child (child_id=? AND status=? AND rule_id=?)", 0);
	/* the tick: the due ones in order, and the earliest */
	ck_plan("SELECT id, rule_id, digest, child_id, episode_id,"
	    " start_seq, start_at_ms, due_at_ms FROM deadlines"
	    " WHERE status = 'pending' AND due_at_ms <= ?1"
	    " ORDER BY due_at_ms, id LIMIT ?2",
	    "deadlines_pending (due_at_ms<?)", 0);
	ck_plan("SELECT MIN(due_at_ms) FROM deadlines WHERE status = 'pending'",
	    "SEARCH deadlines USING INDEX deadlines_pending", 0);
	/* the brief: a child's pending ones by due time (a sort of a few) */
	ck_plan("SELECT rule_id, episode_id, due_at_ms FROM deadlines"
	    " WHERE child_id = ?1 AND status = 'pending'"
	    " ORDER BY due_at_ms, id",
	    "deadlines_child (child_id=? AND status=?)", 1);
	/* the status and metrics counts name the index; it must exist */
	ck_plan("SELECT count(*) FROM deadlines INDEXED BY deadlines_pending"
	    " WHERE status = 'pending'", "deadlines_pending", 0);
	/* retention: a child's, and an episode's */
	ck_plan("DELETE FROM deadlines WHERE child_id = ?1",
	    "deadlines_child (child_id=?)", 0);
	ck_plan("DELETE FROM deadlines WHERE child_id = ?1 AND episode_id = ?2",
	    "deadlines_child (child_id=?)", 0);

	/* A version 4 database, with step 2's indexes and two deadlines. */
	peek_exec(STEP2_DEADLINE_INDEXES
	    "INSERT INTO deadlines (rule_id, digest, child_id, episode_id,"
	    " start_seq, start_at_ms, due_at_ms, status) VALUES"
	    " ('r', 'd', 'C-1', 'MP-1', 1, 0, 10, 'pending'),"
	    " ('r', 'd', 'C-1', 'MP-2', 2, 0, 20, 'met');"
	    "PRAGMA user_version = 4;");
	s = open_migrated_deadlines();
	ck_assert_int_eq(q_int("SELECT count(*) FROM deadlines INDEXED BY"
	    " deadlines_pending WHERE status = 'pending'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM deadlines INDEXED BY"
	    " deadlines_child WHERE child_id = 'C-1'"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM pragma_integrity_check"
	    " WHERE integrity_check <> 'ok'"), 0);
	store_free(s);

	/* One of step 2's indexes dropped by hand: still migrated. */
	peek_exec(STEP2_DEADLINE_INDEXES
	    "DROP INDEX deadlines_child_due; PRAGMA user_version = 4;");
	store_free(open_migrated_deadlines());
}
END_TEST

START_TEST(test_migrate_empty)
{
	static const char *const tables[] = { "events", "children",
	    "episodes", "locations", "location_flags", "child_indicators",
	    "interviews", "plans" };
	struct store	*s;
	mode_t		 old;
	size_t		 i;

	/* The mode must not depend on the umask. */
	old = umask(0);
	s = open_store();
	umask(old);
	ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(q_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(q_int("PRAGMA application_id"), 0x6d697370);
	ck_query_str("wal", "PRAGMA journal_mode");
	for (i = 0; i < sizeof tables / sizeof tables[0]; i++)
		ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_master "
		    "WHERE type = 'table' AND name = %Q", tables[i]), 1);
	ck_assert_uint_eq(file_mode(dbpath), 0600);
	ck_assert_int_eq(store_event_count(s), 0);
	ck_assert_int_eq(store_last_seq(s), 0);
	store_free(s);
}
END_TEST

START_TEST(test_sidecars_private)
{
	struct store	*s;
	char		 wal[256], shm[256];
	mode_t		 old;

	old = umask(0);
	s = open_store();
	apply_new(s, REPORT_MP1);
	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	snprintf(shm, sizeof shm, "%s-shm", dbpath);
	ck_assert_uint_eq(file_mode(wal), 0600);
	ck_assert_uint_eq(file_mode(shm), 0600);
	store_free(s);
	umask(old);
}
END_TEST

START_TEST(test_loose_wal_tightened)
{
	struct store	*s, *s2;
	char		 wal[256];
	struct stat	 sb;

	s = open_store();
	apply_new(s, REPORT_MP1);
	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_int_gt(sb.st_size, 0);
	ck_assert_int_eq(chmod(wal, 0644), 0);
	/* A WAL with content and loose permissions, as a copy might leave. */
	s2 = open_store();
	ck_assert_uint_eq(file_mode(wal), 0600);
	store_free(s2);
	store_free(s);
}
END_TEST

START_TEST(test_mode_despite_umask)
{
	struct store	*s;
	mode_t		 old;

	/* A umask that would leave the owner unable to write. */
	old = umask(0277);
	s = open_store();
	umask(old);
	ck_assert_uint_eq(file_mode(dbpath), 0600);
	apply_new(s, REPORT_MP1);
	store_free(s);
}
END_TEST

START_TEST(test_reopen_keeps_data)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	int64_t			 seq;

	s = open_store();
	seq = apply_new(s, REPORT_MP1);
	store_free(s);
	s = open_store();
	ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(store_event_count(s), 1);
	ck_assert_int_eq(store_last_seq(s), seq);
	ck_assert_int_eq(apply1(s, REPORT_MP1, &out, &err), STORE_DUPLICATE);
	ck_assert_int_eq(out.seq, seq);
	store_free(s);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	char	 want[160];

	store_free(open_store());
	peek_exec("PRAGMA user_version = 99");
	snprintf(want, sizeof want, "database schema version 99 is newer than "
	    "this misperd understands (%d); run a newer misperd or restore a "
	    "backup", STORE_SCHEMA_VERSION);
	open_refused(want);
}
END_TEST

START_TEST(test_not_sqlite_refused)
{
	FILE	*f;
	int	 i;

	ck_assert_ptr_nonnull(f = fopen(dbpath, "w"));
	for (i = 0; i < 100; i++)
		fputs("this is a text file, not a database\n", f);
	fclose(f);
	open_refused(" is not a SQLite database: ");
}
END_TEST

START_TEST(test_foreign_database_refused)
{
	peek_exec("CREATE TABLE t (x)");
	open_refused("is not a misperd database");
}
END_TEST

START_TEST(test_open_missing_directory)
{
	snprintf(dbpath, sizeof dbpath, "%s/no/such/dir.db", tmpdir);
	open_refused("cannot create ");
}
END_TEST

START_TEST(test_duplicate)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	int64_t			 seq;

	s = open_store();
	seq = apply_new(s, REPORT_MP1);
	ck_assert_int_eq(apply1(s, REPORT_MP1, &out, &err), STORE_DUPLICATE);
	ck_assert_int_eq(out.seq, seq);
	ck_assert_str_eq(out.child_id, "C-1");
	ck_assert_int_eq(store_event_count(s), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators"), 2);
	ck_assert_int_eq(q_int("SELECT last_seq FROM children"), seq);
	store_free(s);
}
END_TEST

START_TEST(test_duplicate_reordered_keys)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	int64_t			 seq;

	s = open_store();
	seq = apply_new(s, "{'id':'E-1','type':'plan.recorded',"
	    "'at':'2026-01-01T10:00:00Z','plan':'safety_plan',"
	    "'child':{'id':'C-1','area':'croydon'}}");
	ck_assert_int_eq(apply1(s, "{'child':{'area':'croydon','id':'C-1'},"
	    "'plan':'safety_plan','at':'2026-01-01T10:00:00Z',"
	    "'type':'plan.recorded','id':'E-1'}", &out, &err),
	    STORE_DUPLICATE);
	ck_assert_int_eq(out.seq, seq);
	ck_assert_int_eq(store_event_count(s), 1);
	store_free(s);
}
END_TEST

/*
 * Same content is the same JSON value: spacing, key order (nested too) and
 * escapes do not matter; values do (1 and 1.0, "a" and "a ").
 */
START_TEST(test_duplicate_same_value)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	int64_t			 seq;

	s = open_store();
	seq = apply_new(s, "{'id':'E-4','type':'episode.closed',"
	    "'at':'2026-01-01T10:00:00Z','episode':'MP-1',"
	    "'outcome':'caf\\u00e9','child':{'id':'C-1','area':'croydon'}}");
	ck_assert_int_eq(apply1(s, "  { 'child' : {'area':'croydon',"
	    "'id':'C-1'}, 'outcome':'caf\xc3\xa9',\t'episode':'MP-1',"
	    "'at':'2026-01-01T10:00:00Z','type':'episode.closed',"
	    "'id':'E-4' }  ", &out, &err), STORE_DUPLICATE);
	ck_assert_int_eq(out.seq, seq);
	ck_assert_int_eq(apply1(s, "{'id':'E-4','type':'episode.closed',"
	    "'at':'2026-01-01T10:00:00Z','episode':'MP-1',"
	    "'outcome':'caf\\u00e9 ','child':{'id':'C-1','area':'croydon'}}",
	    &out, &err), STORE_REJECTED);
	ck_assert_int_eq(err.code, EVERR_CONFLICT);
	ck_assert_int_eq(store_event_count(s), 1);
	store_free(s);
}
END_TEST

/* A body stored as a sorted dump (misperd before 2026-12) still matches. */
START_TEST(test_duplicate_of_sorted_body)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	int64_t			 seq;

	s = open_store();
	seq = apply_new(s, "{'id':'E-1','type':'plan.recorded',"
	    "'at':'2026-01-01T10:00:00Z','plan':'safety_plan',"
	    "'child':{'id':'C-1','area':'croydon'}}");
	peek_exec("UPDATE events SET body ="
	    " '{\"at\":\"2026-01-01T10:00:00Z\",\"child\":{\"area\":"
	    "\"croydon\",\"id\":\"C-1\"},\"id\":\"E-1\",\"plan\":"
	    "\"safety_plan\",\"type\":\"plan.recorded\"}'");
	ck_assert_int_eq(apply1(s, "{'id':'E-1','type':'plan.recorded',"
	    "'at':'2026-01-01T10:00:00Z','plan':'safety_plan',"
	    "'child':{'id':'C-1','area':'croydon'}}", &out, &err),
	    STORE_DUPLICATE);
	ck_assert_int_eq(out.seq, seq);
	store_free(s);
}
END_TEST

START_TEST(test_conflict)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	char			*before, *after;
	int64_t			 seq;

	s = open_store();
	seq = apply_new(s, REPORT_MP1);
	before = store_event_body(s, "E-1", NULL);
	ck_assert_int_eq(apply1(s, "{'id':'E-1','type':'episode.updated',"
	    "'at':'2026-01-02T10:00:00Z','episode':'MP-1','risk':'high'}",
	    &out, &err), STORE_REJECTED);
	ck_assert_int_eq(err.code, EVERR_CONFLICT);
	ck_assert_str_eq(err.field, "id");
	ck_assert_int_eq(err.has_id, 1);
	ck_assert_str_eq(err.id, "E-1");
	ck_assert_str_eq(err.message, "event id E-1 was already received with "
	    "different content (seq 1); use a new id for a new event");
	ck_assert_int_eq(seq, 1);
	ck_assert_int_eq(store_event_count(s), 1);
	ck_query_str("medium", "SELECT risk FROM episodes");
	after = store_event_body(s, "E-1", NULL);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	store_free(s);
}
END_TEST

START_TEST(test_log_order)
{
	struct store	*s;
	int64_t		 a, b, c;

	s = open_store();
	a = apply_new(s, REPORT_MP1);
	/* Earlier in event time, later in arrival: a later seq. */
	b = apply_new(s, "{'id':'E-2','type':'indicator.recorded',"
	    "'at':'2025-06-01T10:00:00Z','child':{'id':'C-2'},"
	    "'indicator':'older_associates'}");
	c = apply_new(s, "{'id':'E-3','type':'location.flagged',"
	    "'at':'2024-01-01T00:00:00Z','location':{'uprn':'42'},"
	    "'reason':'rso_address'}");
	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, a);
	ck_assert_int_gt(c, b);
	ck_assert_int_eq(store_last_seq(s), c);
	ck_assert_int_eq(store_event_count(s), 3);
	ck_assert_int_eq(q_int("SELECT seq FROM events WHERE id = 'E-2'"), b);
	store_free(s);
}
END_TEST

START_TEST(test_seq_not_reused)
{
	struct store	*s;
	int64_t		 a, b;

	s = open_store();
	a = apply_new(s, REPORT_MP1);
	peek_exec("DELETE FROM child_indicators; DELETE FROM episodes;"
	    " DELETE FROM children; DELETE FROM events");
	b = apply_new(s, "{'id':'E-2','type':'location.flagged',"
	    "'at':'2024-01-01T00:00:00Z','location':{'uprn':'42'},"
	    "'reason':'rso_address'}");
	ck_assert_int_gt(b, a);
	store_free(s);
}
END_TEST

START_TEST(test_event_row)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	struct mevent		*ev;
	char			*body;
	int64_t			 seq = 0;

	s = open_store();
	ck_assert_int_eq(apply1(s, REPORT_MP1, &out, &err), STORE_NEW);
	ck_assert_str_eq(out.child_id, "C-1");
	ev = make_event(REPORT_MP1);
	body = store_event_body(s, "E-1", &seq);
	ck_assert_str_eq(body, ev->body);
	ck_assert_int_eq(seq, out.seq);
	ck_query_str("episode.reported", "SELECT type FROM events");
	ck_query_str("C-1", "SELECT child_id FROM events");
	ck_query_str("MP-1", "SELECT episode_id FROM events");
	ck_assert_int_eq(q_int("SELECT at_ms FROM events"), ev->at_ms);
	ck_assert_int_eq(q_int("SELECT received_ms FROM events"),
	    1767225600000LL);
	ck_assert_ptr_null(store_event_body(s, "E-404", NULL));
	free(body);
	mevent_free(ev);
	store_free(s);
}
END_TEST

START_TEST(test_unknown_episode)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;

	s = open_store();
	ck_assert_int_eq(apply1(s, "{'id':'E-9','type':'episode.found',"
	    "'at':'2026-01-01T10:00:00Z','episode':'MP-404',"
	    "'found':{'postcode':'CR0 1AA'}}", &out, &err), STORE_REJECTED);
	ck_assert_int_eq(err.code, EVERR_UNKNOWN_EPISODE);
	ck_assert_str_eq(err.field, "episode");
	ck_assert_str_eq(err.id, "E-9");
	ck_assert_str_eq(err.message, "episode MP-404 has not been reported; "
	    "send episode.reported first, or include the child");
	ck_assert_int_eq(out.seq, 0);
	ck_assert_int_eq(store_event_count(s), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM locations"), 0);
	store_free(s);
}
END_TEST

START_TEST(test_episode_of_other_child)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;

	s = open_store();
	apply_new(s, REPORT_MP1);
	ck_assert_int_eq(apply1(s, "{'id':'E-2','type':'episode.updated',"
	    "'at':'2026-01-02T10:00:00Z','episode':'MP-1','risk':'high',"
	    "'child':{'id':'C-2'}}", &out, &err), STORE_REJECTED);
	ck_assert_int_eq(err.code, EVERR_BAD_FIELD);
	ck_assert_str_eq(err.field, "child.id");
	ck_assert_str_eq(err.message, "episode MP-1 belongs to child C-1, "
	    "not C-2");
	ck_assert_int_eq(store_event_count(s), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM children"), 1);
	ck_query_str("medium", "SELECT risk FROM episodes");
	store_free(s);
}
END_TEST

START_TEST(test_child_from_episode)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;

	s = open_store();
	apply_new(s, REPORT_MP1);
	ck_assert_int_eq(apply1(s, "{'id':'E-2','type':'episode.updated',"
	    "'at':'2026-01-02T10:00:00Z','episode':'MP-1','note':'seen'}",
	    &out, &err), STORE_NEW);
	ck_assert_str_eq(out.child_id, "C-1");
	ck_query_str("C-1", "SELECT child_id FROM events WHERE id = 'E-2'");
	ck_assert_int_eq(q_int("SELECT last_seq FROM children"), out.seq);
	ck_assert_int_eq(q_int("SELECT last_seq FROM episodes"), out.seq);
	ck_assert_int_eq(q_int("SELECT first_seen_seq FROM children"), 1);
	store_free(s);
}
END_TEST

START_TEST(test_reported_state)
{
	struct store	*s;
	int64_t		 seq;

	s = open_store();
	seq = apply_new(s, REPORT_MP1);
	ck_query_str("C-1|missing|medium|open|uprn:100021234567",
	    "SELECT child_id || '|' || category || '|' || risk || '|' ||"
	    " status || '|' || last_seen_key FROM episodes WHERE id = 'MP-1'");
	ck_assert_int_eq(q_int("SELECT reported_at_ms FROM episodes"),
	    ms("2026-01-01T10:00:00Z"));
	ck_assert_int_eq(q_int("SELECT first_seq FROM episodes"), seq);
	ck_query_str("100021234567|CR0 1AA|croydon", "SELECT uprn || '|' ||"
	    " postcode || '|' || area FROM locations");
	ck_query_str("2011-03-02|1|croydon|[\"known_cse_risk\"]",
	    "SELECT dob || '|' || looked_after || '|' || area || '|' || flags"
	    " FROM children WHERE id = 'C-1'");
	ck_assert_int_eq(q_int("SELECT cp_plan IS NULL FROM children"), 1);
	ck_assert_int_eq(q_int("SELECT profile_at_ms FROM children"),
	    ms("2026-01-01T10:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_indicators_once_per_event)
{
	struct store	*s;
	int64_t		 seq;

	s = open_store();
	seq = apply_new(s, REPORT_MP1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators WHERE"
	    " child_id = 'C-1' AND seq = %lld AND episode_id = 'MP-1' AND"
	    " event_type = 'episode.reported' AND at_ms = %lld",
	    (long long)seq, (long long)ms("2026-01-01T10:00:00Z")), 2);
	ck_query_str("older_associates,unexplained_gifts", "SELECT"
	    " group_concat(indicator) FROM (SELECT indicator FROM"
	    " child_indicators ORDER BY indicator)");
	store_free(s);
}
END_TEST

START_TEST(test_updated_state)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-2','type':'episode.updated',"
	    "'at':'2026-01-01T12:00:00Z','episode':'MP-1','risk':'high',"
	    "'category':'absent','indicators':['gang_association']}");
	ck_query_str("absent|high|open", "SELECT category || '|' || risk ||"
	    " '|' || status FROM episodes");
	ck_assert_int_eq(q_int("SELECT risk_at_ms FROM episodes"),
	    ms("2026-01-01T12:00:00Z"));
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators WHERE"
	    " indicator = 'gang_association' AND child_id = 'C-1' AND"
	    " event_type = 'episode.updated'"), 1);
	store_free(s);
}
END_TEST

START_TEST(test_found_state)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-2','type':'episode.found',"
	    "'at':'2026-01-02T08:00:00Z','episode':'MP-1',"
	    "'found':{'postcode':'se1 7pb','address':'3 Long Lane',"
	    "'area':'southwark','out_of_area':true,'with':['P-1']}}");
	ck_query_str("found", "SELECT status FROM episodes");
	ck_assert_int_eq(q_int("SELECT found_at_ms FROM episodes"),
	    ms("2026-01-02T08:00:00Z"));
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes e JOIN"
	    " locations l ON l.key = e.found_key WHERE l.area = 'southwark'"),
	    1);
	ck_assert_int_eq(q_int("SELECT closed_at_ms IS NULL FROM episodes"),
	    1);
	store_free(s);
}
END_TEST

START_TEST(test_found_out_of_area)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-2','type':'episode.found',"
	    "'at':'2026-01-02T08:00:00Z','episode':'MP-1',"
	    "'found':{'uprn':'7','out_of_area':true}}");
	ck_assert_int_eq(q_int("SELECT out_of_area FROM episodes"), 1);
	ck_query_str("uprn:7", "SELECT found_key FROM episodes");
	store_free(s);
}
END_TEST

START_TEST(test_closed_state)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-2','type':'episode.found',"
	    "'at':'2026-01-02T08:00:00Z','episode':'MP-1',"
	    "'found':{'uprn':'7'}}");
	apply_new(s, "{'id':'E-3','type':'episode.closed',"
	    "'at':'2026-01-03T08:00:00Z','episode':'MP-1',"
	    "'outcome':'returned home'}");
	ck_query_str("closed|returned home", "SELECT status || '|' || outcome"
	    " FROM episodes");
	ck_assert_int_eq(q_int("SELECT closed_at_ms FROM episodes"),
	    ms("2026-01-03T08:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_late_found_keeps_closed)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-3','type':'episode.closed',"
	    "'at':'2026-01-03T08:00:00Z','episode':'MP-1'}");
	apply_new(s, "{'id':'E-2','type':'episode.found',"
	    "'at':'2026-01-02T08:00:00Z','episode':'MP-1',"
	    "'found':{'uprn':'7'}}");
	ck_query_str("closed", "SELECT status FROM episodes");
	ck_assert_int_eq(q_int("SELECT found_at_ms FROM episodes"),
	    ms("2026-01-02T08:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_found_creates_episode_with_child)
{
	struct store	*s;

	s = open_store();
	apply_new(s, "{'id':'E-1','type':'episode.found',"
	    "'at':'2026-01-02T08:00:00Z','episode':'MP-7',"
	    "'child':{'id':'C-7'},'found':{'uprn':'7'}}");
	ck_query_str("C-7|found", "SELECT child_id || '|' || status FROM"
	    " episodes WHERE id = 'MP-7'");
	ck_assert_int_eq(q_int("SELECT reported_at_ms IS NULL FROM episodes"),
	    1);
	/* The report arriving late fills in what it knows. */
	apply_new(s, "{'id':'E-0','type':'episode.reported',"
	    "'at':'2026-01-01T08:00:00Z','episode':'MP-7',"
	    "'child':{'id':'C-7'},'category':'absent'}");
	ck_query_str("found|absent", "SELECT status || '|' || category FROM"
	    " episodes");
	ck_assert_int_eq(q_int("SELECT reported_at_ms FROM episodes"),
	    ms("2026-01-01T08:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_interview_state)
{
	struct store	*s;
	int64_t		 seq;

	s = open_store();
	apply_new(s, REPORT_MP1);
	seq = apply_new(s, "{'id':'E-2','type':'interview.completed',"
	    "'at':'2026-01-04T08:00:00Z','episode':'MP-1',"
	    "'kind':'return_home','indicators':['unexplained_gifts']}");
	ck_query_str("C-1|MP-1|return_home", "SELECT child_id || '|' ||"
	    " episode_id || '|' || kind FROM interviews WHERE seq = %lld",
	    (long long)seq);
	ck_assert_int_eq(q_int("SELECT at_ms FROM interviews"),
	    ms("2026-01-04T08:00:00Z"));
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators WHERE"
	    " seq = %lld AND event_type = 'interview.completed'",
	    (long long)seq), 1);
	store_free(s);
}
END_TEST

START_TEST(test_indicator_state)
{
	struct store	*s;
	int64_t		 seq;

	s = open_store();
	seq = apply_new(s, "{'id':'E-1','type':'indicator.recorded',"
	    "'at':'2026-01-04T08:00:00Z','child':{'id':'C-5'},"
	    "'indicator':'older_associates','note':'from school'}");
	ck_query_str("C-5|older_associates|indicator.recorded",
	    "SELECT child_id || '|' || indicator || '|' || event_type FROM"
	    " child_indicators WHERE seq = %lld", (long long)seq);
	ck_assert_int_eq(q_int("SELECT episode_id IS NULL FROM"
	    " child_indicators"), 1);
	ck_assert_int_eq(q_int("SELECT first_seen_seq FROM children WHERE"
	    " id = 'C-5'"), seq);
	store_free(s);
}
END_TEST

START_TEST(test_plan_state)
{
	struct store	*s;
	int64_t		 seq;

	s = open_store();
	apply_new(s, REPORT_MP1);
	seq = apply_new(s, "{'id':'E-2','type':'plan.recorded',"
	    "'at':'2026-01-05T08:00:00Z','child':{'id':'C-1'},"
	    "'plan':'trigger_plan','episode':'MP-1'}");
	ck_query_str("C-1|MP-1|trigger_plan", "SELECT child_id || '|' ||"
	    " episode_id || '|' || plan FROM plans WHERE seq = %lld",
	    (long long)seq);
	ck_assert_int_eq(q_int("SELECT at_ms FROM plans"),
	    ms("2026-01-05T08:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_plan_unknown_episode_with_child)
{
	struct store	*s;

	s = open_store();
	apply_new(s, "{'id':'E-1','type':'plan.recorded',"
	    "'at':'2026-01-05T08:00:00Z','child':{'id':'C-1'},"
	    "'plan':'safety_plan','episode':'MP-9'}");
	/* A plan is not an episode: none is made up for it. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes"), 0);
	ck_query_str("MP-9", "SELECT episode_id FROM plans");
	store_free(s);
}
END_TEST

START_TEST(test_location_flagged)
{
	struct store	*s;
	struct store_outcome out;
	struct ev_err	 err;

	s = open_store();
	ck_assert_int_eq(apply1(s, "{'id':'E-1','type':'location.flagged',"
	    "'at':'2026-01-01T00:00:00Z','location':{'uprn':'100021234567',"
	    "'address':'12 High St'},'reason':'rso_address'}", &out, &err),
	    STORE_NEW);
	ck_assert_str_eq(out.child_id, "");
	ck_assert_int_eq(q_int("SELECT active FROM location_flags WHERE"
	    " location_key = 'uprn:100021234567' AND reason = 'rso_address'"),
	    1);
	ck_assert_int_eq(q_int("SELECT seq FROM location_flags"), out.seq);
	ck_query_str("12 High St", "SELECT address FROM locations");
	ck_assert_int_eq(q_int("SELECT child_id IS NULL FROM events"), 1);
	store_free(s);
}
END_TEST

START_TEST(test_location_cleared)
{
	struct store	*s;

	s = open_store();
	apply_new(s, "{'id':'E-1','type':'location.flagged',"
	    "'at':'2026-01-01T00:00:00Z','location':{'uprn':'5'},"
	    "'reason':'rso_address'}");
	apply_new(s, "{'id':'E-2','type':'location.cleared',"
	    "'at':'2026-02-01T00:00:00Z','location':{'uprn':'5'},"
	    "'reason':'rso_address'}");
	ck_assert_int_eq(q_int("SELECT active FROM location_flags"), 0);
	ck_assert_int_eq(q_int("SELECT at_ms FROM location_flags"),
	    ms("2026-02-01T00:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_late_clear_keeps_flag)
{
	struct store	*s;

	s = open_store();
	apply_new(s, "{'id':'E-2','type':'location.flagged',"
	    "'at':'2026-02-01T00:00:00Z','location':{'uprn':'5'},"
	    "'reason':'rso_address'}");
	apply_new(s, "{'id':'E-1','type':'location.cleared',"
	    "'at':'2026-01-01T00:00:00Z','location':{'uprn':'5'},"
	    "'reason':'rso_address'}");
	ck_assert_int_eq(q_int("SELECT active FROM location_flags"), 1);
	store_free(s);
}
END_TEST

START_TEST(test_late_flag_after_clear)
{
	struct store	*s;

	s = open_store();
	apply_new(s, "{'id':'E-2','type':'location.cleared',"
	    "'at':'2026-02-01T00:00:00Z','location':{'uprn':'5'},"
	    "'reason':'rso_address'}");
	apply_new(s, "{'id':'E-1','type':'location.flagged',"
	    "'at':'2026-01-01T00:00:00Z','location':{'uprn':'5'},"
	    "'reason':'rso_address'}");
	ck_assert_int_eq(q_int("SELECT active FROM location_flags"), 0);
	store_free(s);
}
END_TEST

START_TEST(test_late_risk_kept)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-3','type':'episode.updated',"
	    "'at':'2026-01-01T14:00:00Z','episode':'MP-1','risk':'high'}");
	apply_new(s, "{'id':'E-2','type':'episode.updated',"
	    "'at':'2026-01-01T12:00:00Z','episode':'MP-1','risk':'low',"
	    "'category':'absent'}");
	/* The late event loses on risk but is the newest category. */
	ck_query_str("high|absent", "SELECT risk || '|' || category FROM"
	    " episodes");
	ck_assert_int_eq(q_int("SELECT risk_at_ms FROM episodes"),
	    ms("2026-01-01T14:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_late_second_report)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-0','type':'episode.reported',"
	    "'at':'2026-01-01T09:00:00Z','episode':'MP-1',"
	    "'child':{'id':'C-1'},'category':'missing',"
	    "'last_seen':{'uprn':'99'}}");
	apply_new(s, "{'id':'E-2','type':'episode.reported',"
	    "'at':'2026-01-01T12:00:00Z','episode':'MP-1',"
	    "'child':{'id':'C-1'},'category':'missing'}");
	/* The episode began at the earliest report; last seen stays newest. */
	ck_assert_int_eq(q_int("SELECT reported_at_ms FROM episodes"),
	    ms("2026-01-01T09:00:00Z"));
	ck_query_str("uprn:100021234567", "SELECT last_seen_key FROM episodes");
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes"), 1);
	store_free(s);
}
END_TEST

START_TEST(test_profile_keeps_omitted_fields)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-2','type':'plan.recorded',"
	    "'at':'2026-01-05T08:00:00Z','child':{'id':'C-1','cp_plan':true,"
	    "'looked_after':false},'plan':'safety_plan'}");
	ck_query_str("2011-03-02|0|1|croydon|[\"known_cse_risk\"]",
	    "SELECT dob || '|' || looked_after || '|' || cp_plan || '|' ||"
	    " area || '|' || flags FROM children");
	ck_assert_int_eq(q_int("SELECT profile_at_ms FROM children"),
	    ms("2026-01-05T08:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_profile_late_fills_gaps_only)
{
	struct store	*s;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-0','type':'indicator.recorded',"
	    "'at':'2025-12-01T08:00:00Z','child':{'id':'C-1','area':'sutton',"
	    "'cp_plan':true,'flags':[]},'indicator':'older_associates'}");
	/* Newer values stay; the unknown cp_plan is learnt. */
	ck_query_str("croydon|1|[\"known_cse_risk\"]", "SELECT area || '|' ||"
	    " cp_plan || '|' || flags FROM children");
	ck_assert_int_eq(q_int("SELECT profile_at_ms FROM children"),
	    ms("2026-01-01T10:00:00Z"));
	store_free(s);
}
END_TEST

START_TEST(test_rollback_leaves_nothing)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;

	s = open_store();
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(apply(s, REPORT_MP1, &out, &err), STORE_NEW);
	ck_assert_int_eq(store_event_count(s), 1);
	store_rollback(s);
	ck_assert_int_eq(store_event_count(s), 0);
	ck_assert_int_eq(store_last_seq(s), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM children"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes"), 0);
	store_free(s);
}
END_TEST

START_TEST(test_storage_failure_is_atomic)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	int64_t			 seq;

	s = open_store();
	/* Test-only fault: any plan insert fails half way through. */
	peek_exec("CREATE TRIGGER fail_plans BEFORE INSERT ON plans BEGIN"
	    " SELECT RAISE(ABORT, 'injected failure'); END");
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(apply(s, REPORT_MP1, &out, &err), STORE_NEW);
	seq = out.seq;
	ck_assert_int_eq(apply(s, "{'id':'E-2','type':'plan.recorded',"
	    "'at':'2026-01-05T08:00:00Z','child':{'id':'C-1',"
	    "'cp_plan':true},'plan':'trigger_plan','episode':'MP-1'}",
	    &out, &err), STORE_ERROR);
	ck_assert_int_eq(err.code, EVERR_UNAVAILABLE);
	ck_assert_str_eq(err.id, "E-2");
	ck_assert_str_eq(err.message, "the event could not be stored "
	    "(storage error); it was not stored, retry later");
	ck_assert_ptr_nonnull(strstr(store_errmsg(s), "injected failure"));
	ck_assert_int_eq(out.seq, 0);
	ck_assert_int_eq(store_commit(s), 0);
	/* The first event stands; nothing of the second remains. */
	ck_assert_int_eq(store_event_count(s), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events WHERE"
	    " id = 'E-2'"), 0);
	ck_assert_int_eq(q_int("SELECT last_seq FROM children"), seq);
	ck_assert_int_eq(q_int("SELECT cp_plan IS NULL FROM children"), 1);
	ck_assert_int_eq(q_int("SELECT last_seq FROM episodes"), seq);
	ck_assert_int_eq(q_int("SELECT count(*) FROM plans"), 0);
	store_free(s);
}
END_TEST

START_TEST(test_storage_failure_then_retry)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;
	const char		*plan = "{'id':'E-2','type':'plan.recorded',"
	    "'at':'2026-01-05T08:00:00Z','child':{'id':'C-1'},"
	    "'plan':'trigger_plan'}";

	s = open_store();
	peek_exec("CREATE TRIGGER fail_plans BEFORE INSERT ON plans BEGIN"
	    " SELECT RAISE(ABORT, 'injected failure'); END");
	ck_assert_int_eq(apply1(s, plan, &out, &err), STORE_ERROR);
	peek_exec("DROP TRIGGER fail_plans");
	/* The resend is new, not a duplicate of a half-stored event. */
	ck_assert_int_eq(apply1(s, plan, &out, &err), STORE_NEW);
	ck_assert_int_eq(q_int("SELECT count(*) FROM plans"), 1);
	store_free(s);
}
END_TEST

START_TEST(test_lost_transaction_stops_batch)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;

	s = open_store();
	/* Test-only fault: SQLite abandons the whole transaction. */
	peek_exec("CREATE TRIGGER lose_txn BEFORE INSERT ON plans BEGIN"
	    " SELECT RAISE(ROLLBACK, 'injected rollback'); END");
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(apply(s, REPORT_MP1, &out, &err), STORE_NEW);
	ck_assert_int_eq(apply(s, "{'id':'E-2','type':'plan.recorded',"
	    "'at':'2026-01-05T08:00:00Z','child':{'id':'C-1'},"
	    "'plan':'trigger_plan'}", &out, &err), STORE_ERROR);
	/* The rest of the batch must not be committed on its own. */
	ck_assert_int_eq(apply(s, "{'id':'E-3','type':'location.flagged',"
	    "'at':'2024-01-01T00:00:00Z','location':{'uprn':'42'},"
	    "'reason':'rso_address'}", &out, &err), STORE_ERROR);
	ck_assert_int_eq(err.code, EVERR_UNAVAILABLE);
	ck_assert_int_eq(store_savepoint(s, "alerts"), -1);
	ck_assert_int_eq(store_commit(s), -1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 0);
	/* The next batch works. */
	apply_new(s, REPORT_MP1);
	store_free(s);
}
END_TEST

START_TEST(test_apply_outside_transaction)
{
	struct store		*s;
	struct store_outcome	 out;
	struct ev_err		 err;

	s = open_store();
	/* Without store_begin() the event's savepoint is its transaction. */
	ck_assert_int_eq(apply(s, REPORT_MP1, &out, &err), STORE_NEW);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 1);
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(store_commit(s), 0);
	store_free(s);
}
END_TEST

START_TEST(test_commit_without_begin)
{
	struct store	*s;

	s = open_store();
	ck_assert_int_eq(store_commit(s), -1);
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(store_commit(s), 0);
	store_free(s);
}
END_TEST

START_TEST(test_named_savepoints)
{
	struct store	*s;
	struct store_outcome out;
	struct ev_err	 err;

	s = open_store();
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(apply(s, REPORT_MP1, &out, &err), STORE_NEW);
	ck_assert_int_eq(store_savepoint(s, "alerts \"x\""), 0);
	ck_assert_int_eq(apply(s, "{'id':'E-2','type':'location.flagged',"
	    "'at':'2024-01-01T00:00:00Z','location':{'uprn':'42'},"
	    "'reason':'rso_address'}", &out, &err), STORE_NEW);
	store_rollback_to(s, "alerts \"x\"");
	ck_assert_int_eq(store_savepoint(s, "keep"), 0);
	ck_assert_int_eq(store_release(s, "keep"), 0);
	ck_assert_int_eq(store_release(s, "no-such"), -1);
	ck_assert_int_eq(store_commit(s), 0);
	ck_assert_int_eq(store_event_count(s), 1);
	store_free(s);
}
END_TEST

START_TEST(test_integrity_check)
{
	struct store	*s;
	char		*cause = NULL;

	s = open_store();
	apply_new(s, REPORT_MP1);
	apply_new(s, "{'id':'E-2','type':'episode.found',"
	    "'at':'2026-01-02T08:00:00Z','episode':'MP-1',"
	    "'found':{'uprn':'7'}}");
	ck_assert_int_eq(store_integrity_check(s, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(q_int("SELECT count(*) FROM pragma_foreign_key_check"),
	    0);
	store_free(s);
}
END_TEST

START_TEST(test_free_null)
{
	store_free(NULL);
}
END_TEST

/*
 * The checkpointer under a steady load of small commits (paced, as a
 * control room sends): the WAL starts again from its beginning, over and
 * over, by the thread's checkpoints and the loop's short tails, never
 * reaching the bound where the loop would copy the whole WAL itself.
 */
START_TEST(test_checkpoints_steady_load)
{
	struct store		*s = open_store();
	struct store_ckpt_stats	 st;
	sqlite3_stmt		*ins;
	static char		 detail[12000];
	char			*cause = NULL;
	int			 i, restarts = 0, last = 0, most = 0;

	memset(detail, 'x', sizeof detail - 1);
	ck_assert_msg(store_checkpointer_start(s, &cause) == 0, "%s", cause);
	ins = store_cached_stmt(s, "INSERT INTO audit (at_ms, actor, action,"
	    " subject, detail) VALUES (?1, 'test', 'test', NULL, ?2)");
	ck_assert_ptr_nonnull(ins);
	/* about 4 pages a commit: 20,000 frames in all, past the bound */
	for (i = 0; i < 5000; i++) {
		ck_assert_int_eq(store_begin(s), 0);
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_text(ins, 2, detail, -1, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
		ck_assert_int_eq(store_commit(s), 0);
		store_checkpoint_stats(s, &st);
		if (st.wal_frames < last)
			restarts++;
		last = st.wal_frames;
		if (last > most)
			most = last;
		usleep(200);
	}
	store_checkpointer_stop(s);
	ck_assert_msg(restarts > 0, "the WAL never started again");
	ck_assert_msg(st.background > 0, "the thread never checkpointed");
	ck_assert_msg(st.tail > 0, "the loop never finished a tail");
	ck_assert_msg(st.bound == 0 && most < 16000, "the WAL reached its "
	    "bound (%d frames, %llu at the bound)", most,
	    (unsigned long long)st.bound);
	/* far fewer checkpoints than commits: no fsyncs after each commit */
	ck_assert_msg(st.background < 1000, "%llu checkpoints for 5,000 "
	    "commits", (unsigned long long)st.background);
	store_free(s);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*su = suite_create("store");
	TCase	*open = tcase_create("open");
	TCase	*idem = tcase_create("idempotency");
	TCase	*state = tcase_create("state");
	TCase	*late = tcase_create("late");
	TCase	*txn = tcase_create("transactions");
	TCase	*all[] = { open, idem, state, late, txn };
	size_t	 i;

	tcase_add_test(open, test_migrate_empty);
	tcase_add_test(open, test_checks_cheap);
	tcase_add_test(open, test_deadline_indexes);
	tcase_add_test(open, test_sidecars_private);
	tcase_add_test(open, test_loose_wal_tightened);
	tcase_add_test(open, test_mode_despite_umask);
	tcase_add_test(open, test_reopen_keeps_data);
	tcase_add_test(open, test_newer_schema_refused);
	tcase_add_test(open, test_not_sqlite_refused);
	tcase_add_test(open, test_foreign_database_refused);
	tcase_add_test(open, test_open_missing_directory);
	tcase_add_test(open, test_free_null);

	tcase_add_test(idem, test_duplicate);
	tcase_add_test(idem, test_duplicate_reordered_keys);
	tcase_add_test(idem, test_duplicate_same_value);
	tcase_add_test(idem, test_duplicate_of_sorted_body);
	tcase_add_test(idem, test_conflict);
	tcase_add_test(idem, test_log_order);
	tcase_add_test(idem, test_seq_not_reused);
	tcase_add_test(idem, test_event_row);

	tcase_add_test(state, test_unknown_episode);
	tcase_add_test(state, test_episode_of_other_child);
	tcase_add_test(state, test_child_from_episode);
	tcase_add_test(state, test_reported_state);
	tcase_add_test(state, test_indicators_once_per_event);
	tcase_add_test(state, test_updated_state);
	tcase_add_test(state, test_found_state);
	tcase_add_test(state, test_found_out_of_area);
	tcase_add_test(state, test_closed_state);
	tcase_add_test(state, test_found_creates_episode_with_child);
	tcase_add_test(state, test_interview_state);
	tcase_add_test(state, test_indicator_state);
	tcase_add_test(state, test_plan_state);
	tcase_add_test(state, test_plan_unknown_episode_with_child);
	tcase_add_test(state, test_location_flagged);
	tcase_add_test(state, test_location_cleared);

	tcase_add_test(late, test_late_risk_kept);
	tcase_add_test(late, test_late_found_keeps_closed);
	tcase_add_test(late, test_late_clear_keeps_flag);
	tcase_add_test(late, test_late_flag_after_clear);
	tcase_add_test(late, test_late_second_report);
	tcase_add_test(late, test_profile_keeps_omitted_fields);
	tcase_add_test(late, test_profile_late_fills_gaps_only);

	tcase_add_test(txn, test_rollback_leaves_nothing);
	tcase_add_test(txn, test_storage_failure_is_atomic);
	tcase_add_test(txn, test_storage_failure_then_retry);
	tcase_add_test(txn, test_lost_transaction_stops_batch);
	tcase_add_test(txn, test_apply_outside_transaction);
	tcase_add_test(txn, test_commit_without_begin);
	tcase_add_test(txn, test_named_savepoints);
	tcase_add_test(txn, test_integrity_check);
	tcase_add_test(txn, test_checkpoints_steady_load);
	/* the steady load runs about 4 s; slower under sanitizers or valgrind */
	tcase_set_timeout(txn, 120);

	for (i = 0; i < sizeof all / sizeof all[0]; i++) {
		tcase_add_unchecked_fixture(all[i], case_setup, case_teardown);
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(su, all[i]);
	}
	return su;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* Storage failures are logged; keep them out of the test output. */
	log_init(1, LOG_LEVEL_ERROR);
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
