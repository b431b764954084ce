/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for the audit trail (audit.c) on a real database: action
 * names both ways, rows appended in the caller's transaction (standing or
 * falling with it) and in their own, the schema's refusal of UPDATE and
 * DELETE, the newest row of an action, refused connections coalesced to
 * one row a minute and flushed, and the query's filters, order and pages.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "store.h"

static char		 dir[64], dbpath[128];
static struct store	*store;

/* An integer from the first column of sql. */
static int64_t
q_int(const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(store_db(store), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
setup(void)
{
	char	*cause = NULL;

	strcpy(dir, "/tmp/check_audit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
	store = store_open(dbpath, &cause);
	ck_assert_msg(store != NULL, "store: %s", cause);
}

static void
teardown(void)
{
	char	 path[160];

	store_free(store);
	store = NULL;
	snprintf(path, sizeof path, "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/t.db-shm", dir);
	unlink(path);
	unlink(dbpath);
	rmdir(dir);
}

/* Append rows at times 1000, 2000, ... in one transaction. */
static void
append_rows(void)
{
	ck_assert_int_eq(store_begin(store), 0);
	ck_assert_int_eq(audit_append(store, 1000, "misperd", AUDIT_START,
	    NULL, json_pack("{s:s}", "previous", "first")), 0);
	ck_assert_int_eq(audit_append(store, 2000, "http:unix:pid=1,uid=0",
	    AUDIT_BRIEF_READ, "C-1", json_pack("{s:b}", "found", 1)), 0);
	ck_assert_int_eq(audit_append(store, 3000, "http:tcp:127.0.0.1:5",
	    AUDIT_BRIEF_READ, "C-2", NULL), 0);
	ck_assert_int_eq(audit_append(store, 4000, "stream:d@unix",
	    AUDIT_ACK, "A-1", json_pack("{s:s}", "by", "PS 1")), 0);
	ck_assert_int_eq(audit_append(store, 5000, "http:unix:pid=2,uid=0",
	    AUDIT_BRIEF_READ, "C-1", NULL), 0);
	ck_assert_int_eq(store_commit(store), 0);
}

/* The subjects of a query's entries, joined by ",". */
static char *
subjects(const struct audit_filter *f, json_t **next)
{
	json_t	*r, *e;
	size_t	 i;
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*m;

	r = audit_query(store, f);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(m = open_memstream(&out, &len));
	json_array_foreach(json_object_get(r, "entries"), i, e)
		fprintf(m, "%s%s", i > 0 ? "," : "", json_is_string(
		    json_object_get(e, "subject")) ? json_string_value(
		    json_object_get(e, "subject")) : "-");
	fclose(m);
	if (next != NULL)
		*next = json_incref(json_object_get(r, "next_before"));
	json_decref(r);
	return out;
}

static void
filter_init(struct audit_filter *f)
{
	memset(f, 0, sizeof *f);
	f->since_ms = INT64_MIN;
	f->until_ms = INT64_MAX;
	f->action = -1;
	f->limit = AUDIT_LIMIT_DEFAULT;
}

START_TEST(test_action_names)
{
	int	 a;

	for (a = 0; a < AUDIT__COUNT; a++) {
		ck_assert_str_ne(audit_action_name(a), "?");
		ck_assert_int_eq(audit_action_parse(audit_action_name(a)), a);
		/* the list in messages names each */
		ck_assert_ptr_nonnull(strstr(audit_action_list(),
		    audit_action_name(a)));
	}
	ck_assert_str_eq(audit_action_name(AUDIT_BRIEF_READ), "brief_read");
	ck_assert_str_eq(audit_action_name(AUDIT_CONNECTION_REFUSED),
	    "connection_refused");
	ck_assert_str_eq(audit_action_name(AUDIT__COUNT), "?");
	ck_assert_int_eq(audit_action_parse("read"), -1);
	ck_assert_int_eq(audit_action_parse(""), -1);
}
END_TEST

START_TEST(test_append_in_transaction)
{
	/* a row appended in a transaction rolled back is not there */
	ck_assert_int_eq(store_begin(store), 0);
	ck_assert_int_eq(audit_append(store, 1, "x", AUDIT_ACK, "A-1", NULL),
	    0);
	store_rollback(store);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 0);
	/* committed, it is, with every column */
	append_rows();
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 5);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE seq = 2"
	    " AND at_ms = 2000 AND actor = 'http:unix:pid=1,uid=0'"
	    " AND action = 'brief_read' AND subject = 'C-1'"
	    " AND detail = '{\"found\":true}'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE seq = 3"
	    " AND detail IS NULL"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE seq = 1"
	    " AND subject IS NULL"), 1);
}
END_TEST

START_TEST(test_record_own_transaction)
{
	struct audit_row	 row;

	ck_assert_int_eq(audit_last(store, AUDIT_PURGE, &row), 0);
	ck_assert_ptr_null(row.detail);
	ck_assert_int_eq(audit_record(store, "misperd:startup", AUDIT_PURGE,
	    NULL, json_pack("{s:I}", "events", (json_int_t)3)), 0);
	ck_assert_int_eq(audit_record(store, "http:unix", AUDIT_PURGE, NULL,
	    json_pack("{s:I}", "events", (json_int_t)4)), 0);
	ck_assert_int_eq(audit_record(store, NULL, AUDIT_STOP, NULL, NULL), 0);
	/* the newest of an action */
	ck_assert_int_eq(audit_last(store, AUDIT_PURGE, &row), 1);
	ck_assert_int_eq(row.seq, 2);
	ck_assert_int_gt(row.at_ms, 1700000000000LL);
	ck_assert_str_eq(row.actor, "http:unix");
	ck_assert_int_eq(json_integer_value(json_object_get(row.detail,
	    "events")), 4);
	json_decref(row.detail);
	ck_assert_int_eq(audit_last(store, AUDIT_STOP, &row), 1);
	ck_assert_int_eq(row.seq, 3);
	ck_assert_ptr_null(row.detail);
	/* no actor is written as "unknown", never as NULL */
	ck_assert_str_eq(row.actor, "unknown");
	/* inside a transaction already open, the begin fails: nothing */
	ck_assert_int_eq(store_begin(store), 0);
	ck_assert_int_eq(audit_record(store, "x", AUDIT_STOP, NULL, NULL), -1);
	store_rollback(store);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 3);
}
END_TEST

START_TEST(test_append_only)
{
	sqlite3	*db;
	char	*err = NULL;

	append_rows();
	db = store_db(store);
	ck_assert_int_ne(sqlite3_exec(db, "UPDATE audit SET actor = 'x'",
	    NULL, NULL, &err), SQLITE_OK);
	ck_assert_ptr_nonnull(strstr(err, "audit is append-only"));
	sqlite3_free(err);
	err = NULL;
	ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 1",
	    NULL, NULL, &err), SQLITE_OK);
	ck_assert_ptr_nonnull(strstr(err, "audit is append-only"));
	sqlite3_free(err);
	err = NULL;
	/* a REPLACE would delete the old row first: refused too */
	ck_assert_int_ne(sqlite3_exec(db, "REPLACE INTO audit (seq, at_ms,"
	    " actor, action) VALUES (1, 0, 'x', 'start')", NULL, NULL, &err),
	    SQLITE_OK);
	ck_assert_ptr_nonnull(strstr(err, "audit is append-only"));
	sqlite3_free(err);
	err = NULL;
	/* nor an upsert, nor an insert reusing a seq */
	ck_assert_int_ne(sqlite3_exec(db, "INSERT INTO audit (seq, at_ms,"
	    " actor, action) VALUES (2, 0, 'x', 'start') ON CONFLICT (seq)"
	    " DO UPDATE SET actor = 'x'", NULL, NULL, &err), SQLITE_OK);
	sqlite3_free(err);
	err = NULL;
	ck_assert_int_ne(sqlite3_exec(db, "INSERT OR IGNORE INTO audit (seq,"
	    " at_ms, actor, action) VALUES (3, 0, 'x', 'start')", NULL, NULL,
	    &err), SQLITE_OK);
	sqlite3_free(err);
	/* appending stays possible */
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO audit (at_ms, actor,"
	    " action) VALUES (0, 'y', 'start')", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(q_int("SELECT max(seq) FROM audit"), 6);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 6);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE actor = 'x'"),
	    0);
}
END_TEST

START_TEST(test_refused_coalesced)
{
	struct audit_refusals	 rf;

	memset(&rf, 0, sizeof rf);
	/* the first is written at once */
	audit_refused(store, &rf, "events", "unix:pid=9,uid=0",
	    "max_connections", 100000);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"
	    " WHERE action = 'connection_refused' AND subject = 'events'"
	    " AND actor = 'events:unix:pid=9,uid=0'"
	    " AND json_extract(detail, '$.refused') = 1"
	    " AND json_extract(detail, '$.reason') = 'max_connections'"), 1);
	ck_assert_uint_eq(rf.pending, 0);
	/* within the minute: counted, not written */
	audit_refused(store, &rf, "events", "tcp:127.0.0.1:1",
	    "max_connections", 100000 + AUDIT_REFUSED_INTERVAL_MS - 1);
	audit_refused(store, &rf, "events", "tcp:127.0.0.1:2",
	    "max_connections", 100000 + AUDIT_REFUSED_INTERVAL_MS - 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 1);
	ck_assert_uint_eq(rf.pending, 2);
	/* a minute on: one row counting those and this one */
	audit_refused(store, &rf, "events", "tcp:127.0.0.1:3",
	    "max_connections", 100000 + AUDIT_REFUSED_INTERVAL_MS);
	ck_assert_int_eq(q_int("SELECT json_extract(detail, '$.refused')"
	    " FROM audit WHERE seq = 2"), 3);
	ck_assert_uint_eq(rf.pending, 0);
	/* a flush writes what is pending, and nothing when nothing is */
	audit_refused(store, &rf, "events", "tcp:127.0.0.1:4",
	    "max_connections", 100000 + AUDIT_REFUSED_INTERVAL_MS + 1);
	audit_refusals_flush(store, &rf, "events", "max_connections", 200000);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE seq = 3"
	    " AND actor = 'events:several'"
	    " AND json_extract(detail, '$.refused') = 1"
	    " AND json_extract(detail, '$.peer') IS NULL"), 1);
	audit_refusals_flush(store, &rf, "events", "max_connections", 300000);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 3);
}
END_TEST

START_TEST(test_query)
{
	struct audit_filter	 f;
	json_t			*next;
	char			*s;

	append_rows();
	filter_init(&f);
	/* newest first */
	ck_assert_str_eq(s = subjects(&f, &next), "C-1,A-1,C-2,C-1,-");
	ck_assert(json_is_null(next));
	json_decref(next);
	free(s);
	f.action = AUDIT_BRIEF_READ;
	ck_assert_str_eq(s = subjects(&f, NULL), "C-1,C-2,C-1");
	free(s);
	f.subject = "C-1";
	ck_assert_str_eq(s = subjects(&f, NULL), "C-1,C-1");
	free(s);
	/* actor is a prefix */
	f.subject = NULL;
	f.actor = "http:unix";
	ck_assert_str_eq(s = subjects(&f, NULL), "C-1,C-1");
	free(s);
	f.actor = "http:unix:pid=1,";
	ck_assert_str_eq(s = subjects(&f, NULL), "C-1");
	free(s);
	f.actor = "http:unix:pid=1,uid=0-and-more";
	ck_assert_str_eq(s = subjects(&f, NULL), "");
	free(s);
	/* since inclusive, until exclusive */
	filter_init(&f);
	f.since_ms = 2000;
	f.until_ms = 4000;
	ck_assert_str_eq(s = subjects(&f, NULL), "C-2,C-1");
	free(s);
	/* pages */
	filter_init(&f);
	f.limit = 2;
	ck_assert_str_eq(s = subjects(&f, &next), "C-1,A-1");
	ck_assert_int_eq(json_integer_value(next), 4);
	free(s);
	f.before_seq = json_integer_value(next);
	json_decref(next);
	ck_assert_str_eq(s = subjects(&f, &next), "C-2,C-1");
	ck_assert_int_eq(json_integer_value(next), 2);
	json_decref(next);
	free(s);
	f.before_seq = 2;
	ck_assert_str_eq(s = subjects(&f, &next), "-");
	ck_assert(json_is_null(next));
	json_decref(next);
	free(s);
}
END_TEST

START_TEST(test_query_entry)
{
	struct audit_filter	 f;
	json_t			*r, *e;

	append_rows();
	filter_init(&f);
	f.limit = 1;
	f.action = AUDIT_ACK;
	r = audit_query(store, &f);
	e = json_array_get(json_object_get(r, "entries"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "seq")), 4);
	ck_assert_str_eq(json_string_value(json_object_get(e, "at")),
	    "1970-01-01T00:00:04Z");
	ck_assert_str_eq(json_string_value(json_object_get(e, "actor")),
	    "stream:d@unix");
	ck_assert_str_eq(json_string_value(json_object_get(e, "action")),
	    "ack");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e,
	    "detail"), "by")), "PS 1");
	json_decref(r);
}
END_TEST

static Suite *
audit_suite(void)
{
	Suite	*s = suite_create("audit");
	TCase	*tc = tcase_create("audit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_action_names);
	tcase_add_test(tc, test_append_in_transaction);
	tcase_add_test(tc, test_record_own_transaction);
	tcase_add_test(tc, test_append_only);
	tcase_add_test(tc, test_refused_coalesced);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_query_entry);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(audit_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
