/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The embedded store: one SQLite database in WAL mode with full
 * synchronous commits.  It holds the append-only event log (the idempotency
 * keys) and the state derived from it: children, episodes, locations and
 * their flags, indicators, interviews and plans.  All prepared statements
 * live here and are finalized in store_free() before the database closes.
 *
 * Transactions are the caller's: store_begin() ... store_commit().  Each
 * store_apply() runs inside its own savepoint, so a refused event leaves
 * nothing behind while the others of the batch stand.
 */
#ifndef MISPER_STORE_H
#define MISPER_STORE_H

#include <stdint.h>

#include "decode.h"
#include "event.h"

#define STORE_SCHEMA_VERSION	5

struct store;

enum store_status {
	STORE_ERROR = -1,	/* storage failed: roll back, reply unavailable */
	STORE_NEW = 0,		/* stored; out->seq is its new position */
	STORE_DUPLICATE,	/* same id, same content: out->seq is the original */
	STORE_REJECTED		/* refused (err says why); nothing changed */
};

struct store_outcome {
	int64_t		 seq;
	char		 child_id[EVENT_ID_MAX + 1];	/* "" for location events */
};

/* store.c */
/*
 * Open (creating if needed, mode 0600) and migrate the database at path.
 * Returns NULL with *cause set (caller frees) when the file cannot be
 * opened, is not a misperd database, or has a newer schema than this binary.
 */
struct store	*store_open(const char *path, char **cause);
/* Finalize every statement and close.  Accepts NULL. */
void		 store_free(struct store *);
/* A scratch database (replay, fuzzing): commits do not wait for the disk;
   the checkpointer stops. */
int		 store_set_scratch(struct store *);
/* Replay's database: scratch, one connection, journal in memory. */
int		 store_set_replay(struct store *);
int		 store_batch_begin(struct store *);	/* scratch only */
int		 store_batch_end(struct store *);
/*
 * 1 while a batch's transaction is open: a store_commit() then commits
 * nothing yet (what it would have made durable waits for the batch).
 */
int		 store_in_batch(struct store *);
/* The last SQLite error, for logs. */
const char	*store_errmsg(struct store *);

int		 store_begin(struct store *);		/* BEGIN IMMEDIATE */
/* Call fn with the microseconds each successful COMMIT took (metrics). */
void		 store_set_commit_timer(struct store *,
		     void (*fn)(void *arg, int64_t us), void *arg);
int		 store_commit(struct store *);		/* 0 or -1 (rolled back) */
/* Microseconds spent in COMMIT, fsync included, since the start. */
int64_t		 store_commit_us(struct store *);
void		 store_rollback(struct store *);

/* Named savepoints for the caller's own all-or-nothing steps. */
int		 store_savepoint(struct store *, const char *name);
int		 store_release(struct store *, const char *name);
void		 store_rollback_to(struct store *, const char *name);

/*
 * Apply one decoded event inside the open transaction: idempotency
 * (contract section 4), append to the event log, update the state tables.
 * received_ms is the daemon's wall clock at receipt.
 */
enum store_status store_apply(struct store *, const struct mevent *,
		     int64_t received_ms, struct store_outcome *out,
		     struct ev_err *err);

/*
 * The connection, for the modules that keep their own statements on it
 * (history, alerts).  They must finalize them before store_free().
 */
struct sqlite3	*store_db(struct store *);

/* Introspection, for tests, status and the CLI. */
int64_t		 store_event_count(struct store *);
int64_t		 store_last_seq(struct store *);
/* The JSON stored for an event id (the line as received); caller frees.  NULL if none. */
char		*store_event_body(struct store *, const char *id, int64_t *seq);
/* 0 when PRAGMA integrity_check says "ok"; else -1 and *cause. */
int		 store_integrity_check(struct store *, char **cause);
/*
 * Checkpoint and truncate the write-ahead log (after a purge: the log
 * must not keep images of deleted pages).  Waits at most a second for
 * readers; a busy log is left for SQLite's own checkpoints (logged at
 * debug).
 */
void		 store_checkpoint_truncate(struct store *);
/*
 * Checkpoint the WAL on a thread of its own rather than inside the commit
 * that fills it (the live database; store.c).  0, or -1 with *cause.
 */
struct store_ckpt_stats {
	uint64_t	 background;	/* checkpoints on the thread */
	uint64_t	 background_us;
	uint64_t	 frames;	/* frames they copied */
	uint64_t	 bound;		/* on the loop: the WAL at its bound */
	uint64_t	 bound_us;
	uint64_t	 tail;		/* on the loop: the thread's last frames */
	uint64_t	 tail_us;
	uint64_t	 failures;
	int		 wal_frames;	/* in the WAL now */
};
/*
 * A statement prepared once on the store's connection and kept until
 * store_free() (sql must stay valid as long: a literal); NULL on failure.
 * The caller resets it and clears its bindings after each use.
 */
struct sqlite3_stmt *store_cached_stmt(struct store *, const char *sql);
int		 store_checkpointer_start(struct store *, char **cause);
void		 store_checkpointer_stop(struct store *);
void		 store_checkpoint_stats(struct store *, struct store_ckpt_stats *);
/* The schema version of an open database. */
int		 store_schema_version(struct store *);

#endif
