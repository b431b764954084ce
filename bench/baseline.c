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
 *
 * A measurement for scripts/bench.py, not part of the daemon.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* The daemon's settings (daemon/store.c), kept in step by hand. */
#define BASELINE_CACHE_KIB	16384
#define BASELINE_WAL_LIMIT	(64 * 1024 * 1024)
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

struct baseline {
	const char		*from;
	const char		*to;
	size_t			 batch;
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
	if (sqlite3_open(b->to, &db) != SQLITE_OK)
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
	for (i = 0; i < b->nddl; i++)
		baseline_exec(db, b->ddl[i]);
	return db;
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

/* The measured part: batches of inserts, one commit each. */
static double
baseline_insert(struct baseline *b, sqlite3 *db, size_t *commits)
{
	sqlite3_stmt	*ins, *begin, *commit;
	double		 t0;
	size_t		 i;

	if (sqlite3_prepare_v3(db, BASELINE_INSERT, -1,
	    SQLITE_PREPARE_PERSISTENT, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK)
		baseline_fatalx("prepare: %s", sqlite3_errmsg(db));
	*commits = 0;
	t0 = baseline_now();
	for (i = 0; i < b->nrows; i++) {
		const struct baseline_row *r = &b->rows[i];

		if (i % b->batch == 0 && (sqlite3_step(begin) != SQLITE_DONE ||
		    sqlite3_reset(begin) != SQLITE_OK))
			baseline_fatalx("BEGIN: %s", sqlite3_errmsg(db));
		baseline_bind_text(ins, 1, r->id);
		baseline_bind_text(ins, 2, r->type);
		sqlite3_bind_int64(ins, 3, r->at_ms);
		sqlite3_bind_int64(ins, 4, r->received_ms);
		baseline_bind_text(ins, 5, r->child_id);
		baseline_bind_text(ins, 6, r->episode_id);
		baseline_bind_text(ins, 7, r->body);
		if (sqlite3_step(ins) != SQLITE_DONE)
			baseline_fatalx("insert %s: %s", r->id,
			    sqlite3_errmsg(db));
		/* as the daemon does after every statement */
		sqlite3_reset(ins);
		sqlite3_clear_bindings(ins);
		if ((i + 1) % b->batch == 0 || i + 1 == b->nrows) {
			if (sqlite3_step(commit) != SQLITE_DONE ||
			    sqlite3_reset(commit) != SQLITE_OK)
				baseline_fatalx("COMMIT: %s",
				    sqlite3_errmsg(db));
			(*commits)++;
		}
	}
	t0 = baseline_now() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	return t0;
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
	    "[-n rows]\n", stderr);
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
	int		 ch;

	memset(&b, 0, sizeof b);
	b.batch = 512;
	while ((ch = getopt(argc, argv, "b:f:n:o:")) != -1) {
		switch (ch) {
		case 'b':
			b.batch = baseline_number(optarg, "batch");
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
	if (b.from == NULL || b.to == NULL || optind != argc || b.batch == 0)
		baseline_usage();
	baseline_load(&b);
	db = baseline_create(&b);
	w0 = baseline_written();
	secs = baseline_insert(&b, db, &commits);
	w1 = baseline_written();
	if (sqlite3_close(db) != SQLITE_OK)
		baseline_fatalx("close: %s", sqlite3_errmsg(db));
	printf("{\"rows\":%zu,\"batch\":%zu,\"commits\":%zu,\"seconds\":%.6f,"
	    "\"rows_per_s\":%.1f,\"us_per_row\":%.3f,\"page_size\":%lld,"
	    "\"text_bytes\":%zu,\"written_bytes_per_row\":%.1f,"
	    "\"sqlite\":\"%s\"}\n", b.nrows, b.batch, commits, secs,
	    (double)b.nrows / secs, 1e6 * secs / (double)b.nrows,
	    (long long)b.page_size, b.bytes, w0 < 0 || w1 < 0 ? -1.0 :
	    (double)(w1 - w0) / (double)b.nrows, sqlite3_libversion());
	baseline_free(&b);
	return 0;
}
