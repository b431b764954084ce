/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The storage limit of durable intake (issue #7, figure 1): the same event
 * rows the daemon stored, inserted into an empty database with the same
 * events table, page size and durability (WAL, synchronous=FULL, the
 * daemon's cache and WAL limits), in batches of the daemon's size, one
 * transaction per batch, and nothing else: no decoding, no derived state,
 * no rules, no replies.  The rows are read from a database misperd wrote,
 * so they are byte for byte what intake inserts, and loaded into memory
 * before the clock starts.  Prints one JSON object on standard output.
 *
 *	baseline -f misperd.db -o scratch.db [-b batch] [-n rows]
 *	    [-m intake | -m replay | -m paced [-p count] [-R rate]]
 *
 * -m replay (figure 3): the same, with replay's settings for its scratch
 * database (store_set_replay() in daemon/store.c: no sync, one exclusive
 * connection, the rollback journal in memory, its larger cache): the
 * ceiling of any replay that stores each event's row in SQLite.
 *
 * -m paced (figure 2): the rows but the last count go in untimed batches
 * (the last few of them one a commit, to warm up); then the last count
 * arrive at a steady rate, each committed as soon as the one before is,
 * with the rows that arrived meanwhile in the same transaction (as the
 * daemon's listener batches what it has read).  Every allowance goes the
 * floor's way: the live settings (WAL, synchronous=FULL) through the
 * daemon's own WAL writer (walbuf.c: a commit's frames in one write), no
 * checkpoint at all during the timed part, and the WAL grown beforehand
 * (a transaction of padding spilled into it, rolled back and synced) so
 * that every commit overwrites it in place, as the daemon's do after a
 * checkpoint; appending would make each fdatasync write the file's size
 * too.  A row's latency runs from its arrival: when it was due if it
 * waited behind a commit, else from when the tool woke for it (its
 * timer's lateness is not the storage's, as loadgen times the daemon
 * from each line's actual send).  The floor under event -> reply for a
 * reply that waits for a commit of its event row alone.
 *
 * A measurement for scripts/bench.py, not part of the daemon.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dist.h"
#include "walbuf.h"

/* The daemon's settings (daemon/store.c), kept in step by hand. */
#define BASELINE_CACHE_KIB	16384
#define BASELINE_WAL_LIMIT	(64 * 1024 * 1024)
#define BASELINE_REPLAY_CACHE_KIB (32 * 1024)
/* Replay's rows a transaction (REPLAY_BATCH in daemon/replay.c). */
#define BASELINE_REPLAY_BATCH	1024
/* WAL frames made room for a timed row of -m paced: about 5 are used. */
#define BASELINE_PACED_PAGES	8
/* -m paced: history rows committed one at a time before the clock starts */
#define BASELINE_WARMUP		32
/* The daemon's statement, exactly (SQL_EVENT_INSERT in daemon/store.c). */
#define BASELINE_INSERT \
	"INSERT INTO events (id, type, at_ms, received_ms, child_id," \
	" episode_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"

/* One events row, as the daemon stored it. */
struct baseline_row {
	char		*id;
	char		*type;
	int64_t		 at_ms;
	int64_t		 received_ms;
	char		*child_id;	/* NULL: none */
	char		*episode_id;	/* NULL: none */
	char		*body;
};

enum baseline_mode {
	BASELINE_INTAKE,
	BASELINE_REPLAY,
	BASELINE_PACED
};

struct baseline {
	const char		*from;
	const char		*to;
	enum baseline_mode	 mode;
	size_t			 batch;
	size_t			 paced;	/* -m paced: the last rows, timed */
	double			 rate;	/* rows arriving a second */
	size_t			 limit;	/* 0: every row */
	int64_t			 page_size;
	char			*ddl[16];	/* the table, then its indexes */
	size_t			 nddl;
	struct baseline_row	*rows;
	size_t			 nrows;
	size_t			 bytes;	/* of text, for the record */
};

static void __attribute__((noreturn, format(printf, 1, 2)))
baseline_fatalx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("baseline: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
baseline_xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		baseline_fatalx("out of memory");
	return p;
}

/* A copy of a text column, or NULL for SQL NULL. */
static char *
baseline_text(sqlite3_stmt *st, int col, size_t *bytes)
{
	const unsigned char	*t;
	size_t			 len;
	char			*s;

	if ((t = sqlite3_column_text(st, col)) == NULL)
		return NULL;
	len = (size_t)sqlite3_column_bytes(st, col);
	s = baseline_xmalloc(len + 1);
	memcpy(s, t, len + 1);
	*bytes += len;
	return s;
}

/* Strict decimal for the options. */
static size_t
baseline_number(const char *s, const char *what)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > SIZE_MAX)
		baseline_fatalx("%s '%s' is not a whole number", what, s);
	return (size_t)v;
}

/* Read the schema of events, the page size and the rows from the source. */
static void
baseline_load(struct baseline *b)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	size_t		 cap = 0;

	if (sqlite3_open_v2(b->from, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		baseline_fatalx("%s: %s", b->from, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		baseline_fatalx("%s: page_size: %s", b->from,
		    sqlite3_errmsg(db));
	b->page_size = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	/* The table first (it must exist before its indexes). */
	if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master"
	    " WHERE tbl_name = 'events' AND sql IS NOT NULL"
	    " ORDER BY type <> 'table', name", -1, &st, NULL) != SQLITE_OK)
		baseline_fatalx("%s: %s", b->from, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW && b->nddl < 16)
		b->ddl[b->nddl++] = baseline_text(st, 0, &cap);
	sqlite3_finalize(st);
	if (b->nddl == 0)
		baseline_fatalx("%s has no events table: not a misperd "
		    "database?", b->from);

	if (sqlite3_prepare_v2(db, "SELECT id, type, at_ms, received_ms,"
	    " child_id, episode_id, body FROM events ORDER BY seq LIMIT ?1",
	    -1, &st, NULL) != SQLITE_OK)
		baseline_fatalx("%s: %s", b->from, sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, b->limit == 0 ? -1 : (sqlite3_int64)b->limit);
	cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct baseline_row	*r;

		if (b->nrows == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			b->rows = realloc(b->rows, cap * sizeof *b->rows);
			if (b->rows == NULL)
				baseline_fatalx("out of memory");
		}
		r = &b->rows[b->nrows++];
		r->id = baseline_text(st, 0, &b->bytes);
		r->type = baseline_text(st, 1, &b->bytes);
		r->at_ms = sqlite3_column_int64(st, 2);
		r->received_ms = sqlite3_column_int64(st, 3);
		r->child_id = baseline_text(st, 4, &b->bytes);
		r->episode_id = baseline_text(st, 5, &b->bytes);
		r->body = baseline_text(st, 6, &b->bytes);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (b->nrows == 0)
		baseline_fatalx("%s: no events to insert", b->from);
}

static void
baseline_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		baseline_fatalx("%s: %s", sql, err != NULL ? err : "?");
}

/*
 * Grow the WAL to at least pages frames without committing them: the
 * pages of a transaction larger than the page cache spill into the WAL,
 * and stay in the file after the rollback, past its last valid frame.
 * With no size limit the WAL is never truncated again, so every commit
 * after a checkpoint overwrites it from its start.  Before the first
 * table, so that nothing is cached or prepared yet.
 */
static void
baseline_grow_wal(struct baseline *b, sqlite3 *db, size_t pages)
{
	char	 sql[512], wal[4096];
	int	 fd;

	/* a small cache while it runs, so that nearly every page spills */
	baseline_exec(db, "PRAGMA journal_size_limit = -1;"
	    " PRAGMA cache_size = 64;");
	/* a row a page: a blob that fits a leaf of this page size */
	snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;"
	    " CREATE TABLE baseline_pad (b BLOB);"
	    " WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
	    " WHERE i < %zu) INSERT INTO baseline_pad SELECT zeroblob(%lld)"
	    " FROM c; ROLLBACK; PRAGMA cache_size = -%d;", pages + 64,
	    (long long)b->page_size * 9 / 10, BASELINE_CACHE_KIB);
	baseline_exec(db, sql);
	/*
	 * On disk now, or the first timed fdatasync would write it all (the
	 * last few frames walbuf still holds go out with the first table's
	 * commit, untimed).
	 */
	snprintf(wal, sizeof wal, "%s-wal", b->to);
	if ((fd = open(wal, O_RDWR)) == -1 || fdatasync(fd) == -1)
		baseline_fatalx("%s: %s", wal, strerror(errno));
	close(fd);
}

/* A fresh target database set up as the daemon sets up its own. */
static sqlite3 *
baseline_create(struct baseline *b)
{
	static const char *const side[] = { "", "-wal", "-shm" };
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		 path[4096], sql[256];
	size_t		 i;

	for (i = 0; i < sizeof side / sizeof side[0]; i++) {
		snprintf(path, sizeof path, "%s%s", b->to, side[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			baseline_fatalx("cannot remove %s: %s", path,
			    strerror(errno));
	}
	/* paced: the daemon's WAL writer, a commit's frames in one write */
	if (b->mode == BASELINE_PACED && walbuf_register() != SQLITE_OK)
		baseline_fatalx("cannot register %s", WALBUF_VFS);
	if (sqlite3_open_v2(b->to, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, b->mode == BASELINE_PACED ? WALBUF_VFS : NULL) !=
	    SQLITE_OK)
		baseline_fatalx("%s: %s", b->to, sqlite3_errmsg(db));
	/* Before the first table, so the file gets it. */
	snprintf(sql, sizeof sql, "PRAGMA page_size = %lld",
	    (long long)b->page_size);
	baseline_exec(db, sql);
	snprintf(sql, sizeof sql, "PRAGMA foreign_keys = ON;"
	    " PRAGMA trusted_schema = OFF; PRAGMA secure_delete = ON;"
	    " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -%d;"
	    " PRAGMA journal_size_limit = %d;", BASELINE_CACHE_KIB,
	    BASELINE_WAL_LIMIT);
	baseline_exec(db, sql);
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		baseline_fatalx("%s: cannot switch to WAL", b->to);
	sqlite3_finalize(st);
	baseline_exec(db, "PRAGMA synchronous = FULL");
	if (b->mode == BASELINE_PACED)
		baseline_grow_wal(b, db, (b->paced + BASELINE_WARMUP) *
		    BASELINE_PACED_PAGES);
	for (i = 0; i < b->nddl; i++)
		baseline_exec(db, b->ddl[i]);
	if (b->mode == BASELINE_REPLAY) {
		/* as store_set_replay() sets replay's database */
		baseline_exec(db, "PRAGMA synchronous = OFF");
		snprintf(sql, sizeof sql, "PRAGMA locking_mode = EXCLUSIVE;"
		    " PRAGMA cache_size = -%d;", BASELINE_REPLAY_CACHE_KIB);
		baseline_exec(db, sql);
		if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = MEMORY", -1,
		    &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
		    strcmp((const char *)sqlite3_column_text(st, 0),
		    "memory") != 0)
			baseline_fatalx("%s: cannot set replay's journal "
			    "mode", b->to);
		sqlite3_finalize(st);
	}
	return db;
}

/* The size of the file path + suffix; -1 if it cannot be read. */
static long long
baseline_size(const char *path, const char *suffix)
{
	struct stat	 sb;
	char		 p[4096];

	snprintf(p, sizeof p, "%s%s", path, suffix);
	return stat(p, &sb) == -1 ? -1 : (long long)sb.st_size;
}

/* Bytes written so far by this process (wchar of /proc/self/io); -1. */
static long long
baseline_written(void)
{
	FILE		*f;
	char		 line[128];
	long long	 v = -1;

	if ((f = fopen("/proc/self/io", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "wchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static double
baseline_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
baseline_bind_text(sqlite3_stmt *st, int n, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, n);
	else
		sqlite3_bind_text(st, n, s, -1, SQLITE_STATIC);
}

/* The three statements of every transaction. */
struct baseline_sql {
	sqlite3		*db;
	sqlite3_stmt	*ins;
	sqlite3_stmt	*begin;
	sqlite3_stmt	*commit;
};

static void
baseline_prepare(struct baseline_sql *q, sqlite3 *db)
{
	q->db = db;
	if (sqlite3_prepare_v3(db, BASELINE_INSERT, -1,
	    SQLITE_PREPARE_PERSISTENT, &q->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &q->begin, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &q->commit, NULL) != SQLITE_OK)
		baseline_fatalx("prepare: %s", sqlite3_errmsg(db));
}

static void
baseline_finalize(struct baseline_sql *q)
{
	sqlite3_finalize(q->ins);
	sqlite3_finalize(q->begin);
	sqlite3_finalize(q->commit);
}

static void
baseline_step(struct baseline_sql *q, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
		baseline_fatalx("%s: %s", what, sqlite3_errmsg(q->db));
}

static void
baseline_row_insert(struct baseline_sql *q, const struct baseline_row *r)
{
	baseline_bind_text(q->ins, 1, r->id);
	baseline_bind_text(q->ins, 2, r->type);
	sqlite3_bind_int64(q->ins, 3, r->at_ms);
	sqlite3_bind_int64(q->ins, 4, r->received_ms);
	baseline_bind_text(q->ins, 5, r->child_id);
	baseline_bind_text(q->ins, 6, r->episode_id);
	baseline_bind_text(q->ins, 7, r->body);
	if (sqlite3_step(q->ins) != SQLITE_DONE)
		baseline_fatalx("insert %s: %s", r->id, sqlite3_errmsg(q->db));
	/* as the daemon does after every statement */
	sqlite3_reset(q->ins);
	sqlite3_clear_bindings(q->ins);
}

/* Rows [from, to) in batches, one commit each; returns the commits. */
static size_t
baseline_batches(struct baseline *b, struct baseline_sql *q, size_t from,
    size_t to)
{
	size_t	 i, commits = 0;

	for (i = from; i < to; i++) {
		if ((i - from) % b->batch == 0)
			baseline_step(q, q->begin, "BEGIN");
		baseline_row_insert(q, &b->rows[i]);
		if ((i - from + 1) % b->batch == 0 || i + 1 == to) {
			baseline_step(q, q->commit, "COMMIT");
			commits++;
		}
	}
	return commits;
}

/* The measured part of -m intake and -m replay: every row, batched. */
static double
baseline_insert(struct baseline *b, sqlite3 *db, size_t *commits)
{
	struct baseline_sql	 q;
	double			 t0;

	baseline_prepare(&q, db);
	t0 = baseline_now();
	*commits = baseline_batches(b, &q, 0, b->nrows);
	t0 = baseline_now() - t0;
	baseline_finalize(&q);
	return t0;
}

static double
baseline_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Sleep until t on the monotonic clock. */
static void
baseline_until(double t)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* The WAL's frames after each commit, for the record. */
static int
baseline_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	*(int *)arg = frames;
	return SQLITE_OK;
}

/*
 * The timed part of -m paced: rows [from, from + n) arrive at b->rate;
 * lat[k] gets row from + k's latency in ns.  Returns the commits.
 */
static size_t
baseline_pace(struct baseline *b, struct baseline_sql *q, size_t from,
    size_t n, int64_t *lat)
{
	double	 t0 = baseline_now(), end = t0, now;
	size_t	 i = 0, j, commits = 0;

	while (i < n) {
		double	 due = t0 + (double)i / b->rate, woke = 0;

		if (end < due) {	/* idle: wait for the row */
			baseline_until(due);
			woke = baseline_now();
		}
		now = baseline_now();
		baseline_step(q, q->begin, "BEGIN");
		/* this row, and every one that arrived while it waited */
		j = i;
		do
			baseline_row_insert(q, &b->rows[from + j++]);
		while (j < n && t0 + (double)j / b->rate <= now);
		baseline_step(q, q->commit, "COMMIT");
		end = baseline_now();
		commits++;
		/* from arrival: a row due while the timer was late, at waking */
		for (; i < j; i++) {
			due = t0 + (double)i / b->rate;
			lat[i] = (int64_t)((end - (due > woke ? due : woke)) *
			    1e9);
		}
	}
	return commits;
}

/*
 * -m paced: the history untimed, then b->paced rows arriving at b->rate.
 * Prints the JSON object itself.
 */
static void
baseline_paced(struct baseline *b, sqlite3 *db)
{
	struct baseline_sql	 q;
	int64_t			*lat;
	double			 t0, cpu0, cpu;
	size_t			 i, hist = b->nrows - b->paced, n = b->paced;
	size_t			 warm = BASELINE_WARMUP, commits;
	int			 frames = 0, frames0;
	long long		 size;

	baseline_prepare(&q, db);
	(void)baseline_batches(b, &q, 0, hist - warm);
	/* from the start of the WAL, and no checkpoint from here on */
	baseline_exec(db, "PRAGMA wal_checkpoint(RESTART)");
	sqlite3_wal_autocheckpoint(db, 0);
	size = baseline_size(b->to, "-wal");
	sqlite3_wal_hook(db, baseline_wal_hook, &frames);
	for (i = hist - warm; i < hist; i++) {
		baseline_step(&q, q.begin, "BEGIN");
		baseline_row_insert(&q, &b->rows[i]);
		baseline_step(&q, q.commit, "COMMIT");
	}
	frames0 = frames;
	lat = baseline_xmalloc(n * sizeof *lat);
	cpu0 = baseline_cpu();
	t0 = baseline_now();
	commits = baseline_pace(b, &q, hist, n, lat);
	t0 = baseline_now() - t0;
	cpu = baseline_cpu() - cpu0;
	baseline_finalize(&q);
	if (baseline_size(b->to, "-wal") != size)
		baseline_fatalx("the WAL grew from %lld bytes: the commits did "
		    "not overwrite it in place", size);
	printf("{\"mode\":\"paced\",\"history\":%zu,\"rate\":%.1f,"
	    "\"wal_bytes\":%lld,\"wal_frames\":%d,\"commits\":%zu,"
	    "\"seconds\":%.6f,\"cpu_us_per_commit\":%.1f,\"page_size\":%lld,"
	    "\"sqlite\":\"%s\",", hist, b->rate, size, frames - frames0,
	    commits, t0, 1e6 * cpu / (double)commits, (long long)b->page_size,
	    sqlite3_libversion());
	dist_print("commit", lat, n);
	printf("}\n");
	free(lat);
}

static void
baseline_free(struct baseline *b)
{
	size_t	 i;

	for (i = 0; i < b->nrows; i++) {
		free(b->rows[i].id);
		free(b->rows[i].type);
		free(b->rows[i].child_id);
		free(b->rows[i].episode_id);
		free(b->rows[i].body);
	}
	free(b->rows);
	for (i = 0; i < b->nddl; i++)
		free(b->ddl[i]);
}

static void __attribute__((noreturn))
baseline_usage(void)
{
	fputs("usage: baseline -f misperd.db -o scratch.db [-b batch] "
	    "[-n rows]\n\t[-m intake | -m replay | -m paced [-p count] "
	    "[-R rate]]\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct baseline	 b;
	sqlite3		*db;
	double		 secs;
	size_t		 commits;
	long long	 w0, w1;
	int		 ch, paced_opts = 0;

	memset(&b, 0, sizeof b);
	b.batch = 0;
	b.paced = 15000;
	b.rate = 1000;
	while ((ch = getopt(argc, argv, "b:f:m:n:o:p:R:")) != -1) {
		switch (ch) {
		case 'b':
			b.batch = baseline_number(optarg, "batch");
			if (b.batch == 0)
				baseline_fatalx("batch must be at least 1");
			break;
		case 'm':
			if (strcmp(optarg, "intake") == 0)
				b.mode = BASELINE_INTAKE;
			else if (strcmp(optarg, "replay") == 0)
				b.mode = BASELINE_REPLAY;
			else if (strcmp(optarg, "paced") == 0)
				b.mode = BASELINE_PACED;
			else
				baseline_fatalx("mode '%s': give intake, "
				    "replay or paced", optarg);
			break;
		case 'p':
			b.paced = baseline_number(optarg, "count");
			paced_opts = 1;
			break;
		case 'R':
			b.rate = (double)baseline_number(optarg, "rate");
			paced_opts = 1;
			break;
		case 'f':
			b.from = optarg;
			break;
		case 'n':
			b.limit = baseline_number(optarg, "rows");
			break;
		case 'o':
			b.to = optarg;
			break;
		default:
			baseline_usage();
		}
	}
	if (b.from == NULL || b.to == NULL || optind != argc)
		baseline_usage();
	if (b.batch == 0)
		b.batch = b.mode == BASELINE_REPLAY ? BASELINE_REPLAY_BATCH : 512;
	if (b.mode == BASELINE_PACED && (b.paced == 0 || b.rate < 1))
		baseline_fatalx("-m paced needs -p and -R of at least 1");
	if (b.mode != BASELINE_PACED && paced_opts)
		baseline_fatalx("-p and -R are for -m paced only");
	baseline_load(&b);
	if (b.mode == BASELINE_PACED && b.paced + BASELINE_WARMUP > b.nrows)
		baseline_fatalx("%s has %zu rows, fewer than the %zu to pace "
		    "(-p) and %d before them to warm up", b.from, b.nrows,
		    b.paced, BASELINE_WARMUP);
	db = baseline_create(&b);
	if (b.mode == BASELINE_PACED) {
		baseline_paced(&b, db);
		if (sqlite3_close(db) != SQLITE_OK)
			baseline_fatalx("close: %s", sqlite3_errmsg(db));
		baseline_free(&b);
		return 0;
	}
	w0 = baseline_written();
	secs = baseline_insert(&b, db, &commits);
	w1 = baseline_written();
	if (sqlite3_close(db) != SQLITE_OK)
		baseline_fatalx("close: %s", sqlite3_errmsg(db));
	printf("{\"mode\":\"%s\",\"rows\":%zu,\"batch\":%zu,\"commits\":%zu,"
	    "\"seconds\":%.6f,\"rows_per_s\":%.1f,\"us_per_row\":%.3f,"
	    "\"page_size\":%lld,\"text_bytes\":%zu,\"written_bytes_per_row\":%.1f,"
	    "\"sqlite\":\"%s\"}\n", b.mode == BASELINE_REPLAY ? "replay" :
	    "intake", b.nrows, b.batch, commits, secs,
	    (double)b.nrows / secs, 1e6 * secs / (double)b.nrows,
	    (long long)b.page_size, b.bytes, w0 < 0 || w1 < 0 ? -1.0 :
	    (double)(w1 - w0) / (double)b.nrows, sqlite3_libversion());
	baseline_free(&b);
	return 0;
}
