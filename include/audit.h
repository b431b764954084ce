/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The audit trail (docs/security.md): one append-only table in the
 * database recording who read which child's brief or alert, who
 * acknowledged what, who reloaded the rules, starts and stops, refused
 * connections and purges.  Rows are only ever inserted; the schema's
 * triggers refuse UPDATE and DELETE whatever sends them, and retention
 * never touches the table.
 *
 * An actor is whoever did it, as a string: for now the channel and the
 * peer as the kernel tells it ("http:unix:pid=1234,uid=0",
 * "stream:mpu-desk-1@unix:pid=77,uid=1000", "events:tcp:127.0.0.1:5123",
 * "signal:SIGHUP", "misperd"); an authenticated identity replaces the
 * peer where a channel has one.  A subject is what it was done to (a
 * child id, an alert id, a listener), and detail a JSON object of the
 * rest.  Ids only: never a name, an address or a note about a child.
 */
#ifndef MISPER_AUDIT_H
#define MISPER_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#define AUDIT_ACTOR_MAX		256	/* bytes of an actor, NUL included */
#define AUDIT_LIMIT_DEFAULT	100	/* rows in a page unless asked */
#define AUDIT_LIMIT_MAX		1000
/* At most one connection_refused row per listener in this long. */
#define AUDIT_REFUSED_INTERVAL_MS	60000

struct http_req;
struct store;

enum audit_action {
	AUDIT_START = 0,		/* misperd started serving */
	AUDIT_STOP,			/* misperd stopped in order */
	AUDIT_RULES_RELOAD,		/* a reload, done or refused */
	AUDIT_BRIEF_READ,		/* GET /v1/children/{id} */
	AUDIT_BRIEF_SENT,		/* an episode.reported reply's brief */
	AUDIT_ALERT_READ,		/* GET /v1/alerts/{id} */
	AUDIT_ALERTS_LIST,		/* GET /v1/alerts */
	AUDIT_AUDIT_READ,		/* GET /v1/audit */
	AUDIT_ACK,			/* an alert acknowledged */
	AUDIT_SUBSCRIBE,		/* a stream subscribed to routes */
	AUDIT_CONNECTION_REFUSED,	/* a connection over a limit */
	AUDIT_PURGE,			/* retention removed old records */
	AUDIT__COUNT
};

/*
 * The refusals of one listener since its last connection_refused row:
 * the listener keeps it, so a flood of connections costs one row a
 * minute, not one commit each.
 */
struct audit_refusals {
	int64_t		 last_ms;	/* the last row written; 0: none */
	uint64_t	 pending;	/* refused since, not yet written */
};

/* One row, as audit_last() reads it. */
struct audit_row {
	int64_t		 seq;
	int64_t		 at_ms;
	char		 actor[AUDIT_ACTOR_MAX];
	json_t		*detail;
};

/* GET /v1/audit's filters. */
struct audit_filter {
	int64_t		 since_ms;	/* at or after; INT64_MIN: any */
	int64_t		 until_ms;	/* before; INT64_MAX: any */
	int		 action;	/* an enum audit_action; -1: any */
	const char	*actor;		/* a prefix of the actor; NULL: any */
	const char	*subject;	/* NULL: any */
	int64_t		 limit;
	int64_t		 before_seq;	/* 0: from the newest */
};

/* audit.c */
/* "brief_read", ...; the API's and the CLI's names. */
const char	*audit_action_name(enum audit_action);
/* The action called name, or -1. */
int		 audit_action_parse(const char *name);
/* Every action name, comma-separated, for messages. */
const char	*audit_action_list(void);
/*
 * Append one row inside the caller's open transaction, so that it stands
 * or falls with what it records.  detail (NULL: none) is stolen.  0 or -1.
 */
int		 audit_append(struct store *, int64_t at_ms, const char *actor,
		     enum audit_action, const char *subject, json_t *detail);
/*
 * Append one row in its own transaction, committed before this returns:
 * for what is not itself a write (a read, a start).  detail is stolen.
 * 0, or -1 when nothing could be written (logged).
 */
int		 audit_record(struct store *, const char *actor,
		     enum audit_action, const char *subject, json_t *detail);
/*
 * A connection on listener ("events", "subscribers", "http") from peer was
 * refused for reason ("max_connections"): a row now, or counted into the
 * next one when the listener's last row is under a minute old.
 */
void		 audit_refused(struct store *, struct audit_refusals *,
		     const char *listener, const char *peer,
		     const char *reason, int64_t now_ms);
/* Write the refusals counted but not yet written (at the end). */
void		 audit_refusals_flush(struct store *, struct audit_refusals *,
		     const char *listener, const char *reason, int64_t now_ms);
/*
 * The newest row of action: 1 with *row filled (row->detail is the
 * caller's to decref; NULL when the row has none), 0 when there is none,
 * -1 on error.
 */
int		 audit_last(struct store *, enum audit_action,
		     struct audit_row *row);
/*
 * The rows f selects, newest first: {"entries":[...],"next_before":SEQ or
 * null}.  NULL when the store could not be read.
 */
json_t		*audit_query(struct store *, const struct audit_filter *f);

#endif
