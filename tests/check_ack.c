/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for acknowledgement (ack.c) on a real database: names that
 * are accepted and refused, a first acknowledgement recorded on the alert
 * and in the audit table, and a second one, an unknown alert and bad
 * fields answered without changing anything.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ack.h"
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

/* A fresh database holding alerts. */
static void
setup(void)
{
	char	*cause = NULL;

	strcpy(dir, "/tmp/check_ack.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
	store = store_open(dbpath, &cause);
	ck_assert_msg(store != NULL, "store: %s", cause);
	ck_assert_int_eq(sqlite3_exec(store_db(store),
	    "INSERT INTO alerts (seq, id, rule_id, kind, level, child_id,"
	    " raised_at_ms, event_at_ms, body) VALUES"
	    " (1, 'A-1', 'r', 'repeat', 'review', 'C-1', 1, 1, '{}'),"
	    " (2, 'A-2', 'r', 'repeat', 'urgent', 'C-1', 2, 2, '{}')",
	    NULL, NULL, NULL), SQLITE_OK);
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

START_TEST(test_name_ok)
{
	char	 long_name[ACK_BY_MAX + 2];

	ck_assert_int_eq(ack_name_ok("PS 1234 Smith"), 1);
	ck_assert_int_eq(ack_name_ok("Siân Ó Briain"), 1);
	ck_assert_int_eq(ack_name_ok(""), 0);
	ck_assert_int_eq(ack_name_ok(NULL), 0);
	ck_assert_int_eq(ack_name_ok(" Smith"), 0);
	ck_assert_int_eq(ack_name_ok("Smith "), 0);
	ck_assert_int_eq(ack_name_ok("Smi\tth"), 0);
	ck_assert_int_eq(ack_name_ok("Smith\x7f"), 0);
	memset(long_name, 'x', sizeof long_name);
	long_name[ACK_BY_MAX] = '\0';
	ck_assert_int_eq(ack_name_ok(long_name), 1);
	long_name[ACK_BY_MAX] = 'x';
	long_name[ACK_BY_MAX + 1] = '\0';
	ck_assert_int_eq(ack_name_ok(long_name), 0);
}
END_TEST

START_TEST(test_ack_once)
{
	struct ack_outcome	 out;

	ck_assert_int_eq(ack_alert(store, "A-1", "PS 1234 Smith", "booked",
	    "stream:desk@unix", "stream:desk@unix:pid=1,uid=0", 5000, &out),
	    ACK_OK);
	ck_assert_int_eq(out.seq, 1);
	ck_assert_int_eq(out.at_ms, 5000);
	ck_assert_str_eq(out.by, "PS 1234 Smith");
	ck_assert_int_eq(q_int("SELECT ack_at_ms FROM alerts WHERE seq = 1"),
	    5000);
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts WHERE seq = 1"
	    " AND ack_by = 'PS 1234 Smith' AND ack_note = 'booked'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM acks WHERE alert_seq = 1"
	    " AND ack_by = 'PS 1234 Smith' AND ack_at_ms = 5000"
	    " AND via = 'stream:desk@unix'"), 1);
	/* the audit row, in the same transaction, names the actor */
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE action = 'ack'"
	    " AND subject = 'A-1' AND at_ms = 5000"
	    " AND actor = 'stream:desk@unix:pid=1,uid=0'"
	    " AND json_extract(detail, '$.by') = 'PS 1234 Smith'"
	    " AND json_extract(detail, '$.child') = 'C-1'"
	    " AND json_extract(detail, '$.via') = 'stream:desk@unix'"), 1);
	/* the note is free text: it stays in acks, not in the audit */
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"
	    " WHERE detail LIKE '%booked%'"), 0);
	/* the other alert is untouched */
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"
	    " WHERE ack_at_ms IS NULL"), 1);
}
END_TEST

START_TEST(test_ack_twice_changes_nothing)
{
	struct ack_outcome	 out;

	ck_assert_int_eq(ack_alert(store, "A-2", "DS 1 Jones", NULL, "t",
	    NULL, 7000, &out), ACK_OK);
	ck_assert_int_eq(ack_alert(store, "A-2", "PC 2 Brown", "again", "t",
	    NULL, 9000, &out), ACK_ALREADY);
	/* the answer names the first acknowledgement */
	ck_assert_str_eq(out.by, "DS 1 Jones");
	ck_assert_int_eq(out.at_ms, 7000);
	ck_assert_int_eq(q_int("SELECT ack_at_ms FROM alerts WHERE seq = 2"),
	    7000);
	ck_assert_int_eq(q_int("SELECT ack_note IS NULL FROM alerts"
	    " WHERE seq = 2"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM acks"), 1);
	/* one audit row: the refusal changed nothing; no actor: the via */
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE actor = 't'"),
	    1);
	ck_assert_str_eq(ack_error_token(ACK_ALREADY),
	    "already_acknowledged");
}
END_TEST

START_TEST(test_ack_refused)
{
	struct ack_outcome	 out;
	char			 note[ACK_NOTE_MAX + 2];

	ck_assert_int_eq(ack_alert(store, "A-99", "Smith", NULL, "t", NULL, 1,
	    &out), ACK_UNKNOWN);
	ck_assert_int_eq(out.seq, 0);
	ck_assert_str_eq(ack_error_token(ACK_UNKNOWN), "unknown_alert");
	ck_assert_int_eq(ack_alert(store, "A-1", "", NULL, "t", NULL, 1,
	    &out), ACK_BAD_BY);
	memset(note, 'n', sizeof note);
	note[ACK_NOTE_MAX + 1] = '\0';
	ck_assert_int_eq(ack_alert(store, "A-1", "Smith", note, "t", NULL, 1,
	    &out), ACK_BAD_NOTE);
	note[ACK_NOTE_MAX] = '\0';	/* exactly the limit is fine */
	ck_assert_int_eq(ack_alert(store, "A-1", "Smith", note, "t", NULL, 1,
	    &out), ACK_OK);
	ck_assert_int_eq(q_int("SELECT count(*) FROM acks"), 1);
}
END_TEST

static Suite *
ack_suite(void)
{
	Suite	*s = suite_create("ack");
	TCase	*tc = tcase_create("ack");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_name_ok);
	tcase_add_test(tc, test_ack_once);
	tcase_add_test(tc, test_ack_twice_changes_nothing);
	tcase_add_test(tc, test_ack_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(ack_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
