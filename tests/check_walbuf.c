/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for walbuf.c: commits written through the VFS are on disk and
 * visible to other connections the moment they commit, the WAL stays a
 * valid WAL across restarts and checkpoints, and a write that fails (the
 * file size limit) fails its commit and nothing else.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "walbuf.h"

static char	 dir[64];
static char	 path[128];

static void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/check_walbuf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.db", dir);
}

static void
teardown(void)
{
	char	 p[160];

	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	unlink(path);
	rmdir(dir);
}

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK,
	    "%s: %s", sql, err ? err : "?");
}

/* A connection as the daemon opens it: the VFS, WAL, synchronous=FULL. */
static sqlite3 *
open_walbuf(void)
{
	sqlite3	*db = NULL;

	ck_assert_int_eq(walbuf_register(), SQLITE_OK);
	ck_assert_int_eq(walbuf_register(), SQLITE_OK);	/* twice is fine */
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, WALBUF_VFS), SQLITE_OK);
	exec_ok(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    " PRAGMA wal_autocheckpoint = 0;"
	    " CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)");
	return db;
}

/* A second connection on the default VFS, as the checkpointer opens it. */
static sqlite3 *
open_plain(void)
{
	sqlite3	*db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	return db;
}

static sqlite3_int64
count_rows(sqlite3 *db)
{
	sqlite3_stmt	*st;
	sqlite3_int64	 n;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
insert(sqlite3 *db, int k, int size)
{
	char	*sql;

	sql = sqlite3_mprintf("INSERT INTO t VALUES (%d, printf('%%.*c', %d,"
	    " 'x'))", k, size);
	exec_ok(db, sql);
	sqlite3_free(sql);
}

static void
integrity_ok(sqlite3 *db)
{
	sqlite3_stmt	*st;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* Each commit is visible to another connection as soon as it returns. */
START_TEST(test_commit_visible_elsewhere)
{
	sqlite3	*w = open_walbuf(), *r = open_plain();
	int	 i;

	for (i = 1; i <= 200; i++) {
		exec_ok(w, "BEGIN");
		insert(w, i, 3000 + i * 37);	/* several pages each */
		exec_ok(w, "COMMIT");
		ck_assert_int_eq(count_rows(r), i);
	}
	sqlite3_close(r);
	sqlite3_close(w);
}
END_TEST

/*
 * Commits, checkpoints by the other connection and restarts of the WAL
 * from its beginning: the database stays whole, and is whole again when
 * reopened from the WAL alone (closed without a checkpoint).
 */
START_TEST(test_wal_restarts_and_recovery)
{
	sqlite3	*w = open_walbuf(), *c = open_plain();
	int	 i, log, done;

	for (i = 1; i <= 600; i++) {
		exec_ok(w, "BEGIN");
		insert(w, i, 5000);
		if (i % 7 == 0)
			exec_ok(w, "UPDATE t SET v = v || 'y' WHERE k < 20");
		exec_ok(w, "COMMIT");
		if (i % 50 == 0)
			ck_assert_int_eq(sqlite3_wal_checkpoint_v2(c, NULL,
			    SQLITE_CHECKPOINT_PASSIVE, &log, &done), SQLITE_OK);
	}
	/* a rolled-back transaction leaves nothing */
	exec_ok(w, "BEGIN");
	insert(w, 10000, 200000);
	exec_ok(w, "ROLLBACK");
	integrity_ok(c);
	ck_assert_int_eq(count_rows(c), 600);
	sqlite3_close(c);
	/* keep the WAL: the reopened database recovers from it */
	ck_assert_int_eq(sqlite3_db_config(w, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
	    1, NULL), SQLITE_OK);
	sqlite3_close(w);
	w = open_walbuf();
	integrity_ok(w);
	ck_assert_int_eq(count_rows(w), 600);
	sqlite3_close(w);
}
END_TEST

/*
 * A write the disk refuses (here the file size limit) fails the commit
 * that needed it; the database keeps every earlier commit, and takes the
 * next one once there is room again.
 */
START_TEST(test_failed_write_fails_commit)
{
	sqlite3		*w = open_walbuf(), *r;
	struct rlimit	 old, lim;
	struct stat	 sb;
	char		 wal[160];
	int		 rc;

	signal(SIGXFSZ, SIG_IGN);
	exec_ok(w, "BEGIN");
	insert(w, 1, 1000);
	exec_ok(w, "COMMIT");
	snprintf(wal, sizeof wal, "%s-wal", path);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 64 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	exec_ok(w, "BEGIN");
	insert(w, 2, 400000);	/* about 100 pages: past the limit */
	rc = sqlite3_exec(w, "COMMIT", NULL, NULL, NULL);
	ck_assert_msg(rc != SQLITE_OK, "the commit past the limit succeeded");
	if (sqlite3_get_autocommit(w) == 0)
		exec_ok(w, "ROLLBACK");
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	r = open_plain();
	ck_assert_int_eq(count_rows(r), 1);
	exec_ok(w, "BEGIN");
	insert(w, 3, 400000);
	exec_ok(w, "COMMIT");
	ck_assert_int_eq(count_rows(r), 2);
	integrity_ok(r);
	sqlite3_close(r);
	sqlite3_close(w);
}
END_TEST

/* pwrite64 of the default VFS, failing the next fail_next calls (ENOSPC). */
static int	 fail_next;
static ssize_t	(*real_pwrite64)(int, const void *, size_t, off_t);

static ssize_t
failing_pwrite64(int fd, const void *p, size_t n, off_t off)
{
	if (fail_next > 0) {
		fail_next--;
		errno = ENOSPC;
		return -1;
	}
	return real_pwrite64(fd, p, n, off);
}

/*
 * A write-out that fails inside a read (a large transaction reads back a
 * page it spilled to the WAL) fails that statement only; the transaction
 * goes on, as the daemon's batch does after an event's ROLLBACK TO, and
 * commits.  What it commits must be there: the buffer was kept and
 * written at the commit, not dropped.
 */
START_TEST(test_failed_write_out_kept)
{
	sqlite3_vfs	*unix_vfs = sqlite3_vfs_find("unix");
	sqlite3		*w = open_walbuf(), *r;
	int		 rc;

	ck_assert_ptr_nonnull(unix_vfs);
	real_pwrite64 = (ssize_t (*)(int, const void *, size_t, off_t))
	    unix_vfs->xGetSystemCall(unix_vfs, "pwrite64");
	ck_assert_ptr_nonnull(real_pwrite64);
	ck_assert_int_eq(unix_vfs->xSetSystemCall(unix_vfs, "pwrite64",
	    (sqlite3_syscall_ptr)failing_pwrite64), SQLITE_OK);
	exec_ok(w, "PRAGMA cache_size = 20;"
	    " CREATE TABLE u (k INTEGER PRIMARY KEY, v TEXT UNIQUE)");
	exec_ok(w, "BEGIN");
	/* spills pages to the WAL: frames in the buffer */
	exec_ok(w, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
	    " FROM c WHERE x < 2000) INSERT INTO t SELECT x, printf('%0400d',"
	    " x) FROM c");
	fail_next = 1;
	rc = sqlite3_exec(w, "INSERT INTO u SELECT k, v FROM t", NULL, NULL,
	    NULL);
	fail_next = 0;
	if (rc == SQLITE_OK || sqlite3_get_autocommit(w)) {
		/* SQLite rolled it all back (or the write-out never failed) */
		if (!sqlite3_get_autocommit(w))
			exec_ok(w, "ROLLBACK");
	} else {
		exec_ok(w, "INSERT INTO u VALUES (1, 'after')");
		exec_ok(w, "COMMIT");
	}
	unix_vfs->xSetSystemCall(unix_vfs, "pwrite64",
	    (sqlite3_syscall_ptr)real_pwrite64);
	r = open_plain();
	integrity_ok(r);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(w))
		ck_abort_msg("the transaction is still open");
	ck_assert_msg(count_rows(r) == 0 || count_rows(r) == 2000,
	    "%lld rows of 2,000", (long long)count_rows(r));
	sqlite3_close(r);
	ck_assert_int_eq(sqlite3_db_config(w, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
	    1, NULL), SQLITE_OK);
	sqlite3_close(w);
	/* and after recovery from the WAL alone */
	r = open_plain();
	integrity_ok(r);
	ck_assert_msg(count_rows(r) == 0 || count_rows(r) == 2000,
	    "after recovery: %lld rows of 2,000", (long long)count_rows(r));
	sqlite3_close(r);
}
END_TEST

static Suite *
walbuf_suite(void)
{
	Suite	*su = suite_create("walbuf");
	TCase	*tc = tcase_create("walbuf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_commit_visible_elsewhere);
	tcase_add_test(tc, test_wal_restarts_and_recovery);
	tcase_add_test(tc, test_failed_write_fails_commit);
	tcase_add_test(tc, test_failed_write_out_kept);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(walbuf_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
