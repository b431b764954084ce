/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Subscriber streams (contract section 5; the commands are documented in
 * docs/protocol.md).  Each connection is a libevent bufferevent with the
 * event socket's framing (sockets.c).  After "subscribe" a stream first
 * catches up, oldest first, on the unacknowledged alerts of its routes,
 * then new ones: every commit that raised alerts calls
 * subscribers_publish(), which sends each stream what is new since the
 * last alert it was shown (alerts are found by seq, so none is sent twice
 * on a connection).  Escalations and acknowledgements are followed the
 * same way, by the autoincrement ids of their tables: an alert escalated
 * to a stream's route is sent to it, and an acknowledgement (by any
 * channel) of an alert a stream was sent becomes an "ack" line there.
 *
 * The database is the queue, not memory: alerts are read a page at a
 * time and queued only while the unsent output is under
 * subscribers.max_buffer_bytes, so neither a long backlog nor a burst of
 * alerts piles up in the daemon, and a subscriber that reads keeps up
 * however many alerts one batch of events raises.  A stream whose buffer
 * is full with alerts still waiting, and that takes no byte for
 * SUB_STALL_MS, is cut off with a "too_slow" line; nothing is lost,
 * because on reconnect it gets every alert still unacknowledged.  The
 * daemon never waits for a subscriber, and stops reading the commands of
 * one that does not read its replies (as listener.c does).
 *
 * Command lines are parsed by subcmd.c (subcmd.h); this file executes
 * them: the role and route checks, the audit rows, the replies.
 *
 * Who may (access.h): a local peer is whoever access.local names; on a
 * TLS listener, the client its certificate identifies once the handshake
 * is done.  A peer that may neither subscribe nor acknowledge gets one
 * "forbidden" line and is closed; "subscribe" needs the subscribe role
 * and is refused ("forbidden", naming the route) for a route the client
 * is not given; "ack" needs the ack role.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "access.h"
#include "ack.h"
#include "audit.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "rules.h"
#include "sockets.h"
#include "store.h"
#include "subcmd.h"
#include "subscribe.h"
#include "timeutil.h"
#include "tls.h"
#include "utf8.h"
#include "xmalloc.h"

#define SUB_PAGE		64	/* alerts read per query */
#define SUB_STALL_MS		5000	/* full and nothing read: too slow */
#define SUB_CUT_GRACE_MS	10000	/* to read the last lines once cut off */
#define SUB_SQL_AFTER		"SELECT seq, body FROM alerts WHERE seq > ?1" \
				" AND ack_at_ms IS NULL ORDER BY seq LIMIT ?2"
#define SUB_SQL_MAX		"SELECT COALESCE(MAX(seq), 0) FROM alerts"
#define SUB_SQL_ESC_MAX		"SELECT COALESCE(MAX(id), 0) FROM escalations"
/*
 * The routes an alert was raised for: its outbox rows that are not
 * escalations, written from the body's "routes" in the transaction that
 * stored it and deleted only with it (retention).  A search of the
 * primary key where parsing the body cost about 120,000 instructions an
 * alert and a stream (docs/performance.md, fifth round).
 */
#define SUB_SQL_ROUTES_OF	"SELECT route FROM deliveries" \
				" WHERE alert_seq = ?1 AND escalated_from IS NULL"
/* the routes an alert was escalated to */
#define SUB_SQL_ESC_OF		"SELECT to_route FROM escalations" \
				" WHERE alert_seq = ?1"
/* escalations after a position, of alerts still unacknowledged */
#define SUB_SQL_ESC_NEW		"SELECT e.id, a.seq, a.body, e.to_route" \
				" FROM escalations e JOIN alerts a" \
				" ON a.seq = e.alert_seq WHERE e.id > ?1" \
				" AND a.ack_at_ms IS NULL ORDER BY e.id"
#define SUB_SQL_ACK_MAX		"SELECT COALESCE(MAX(seq), 0) FROM acks"
/* acknowledgements after a position, with their alerts */
#define SUB_SQL_ACK_NEW		"SELECT k.seq, a.seq, a.id, a.body," \
				" k.ack_by, k.ack_at_ms, k.via FROM acks k" \
				" JOIN alerts a ON a.seq = k.alert_seq" \
				" WHERE k.seq > ?1 ORDER BY k.seq"

struct sub {
	TAILQ_ENTRY(sub)	 entry;
	struct subscribers	*s;
	struct bufferevent	*bev;
	char			 peer[80];
	char			 who[96];	/* peer, credentials */
	char			 name[ACK_BY_MAX + 1];	/* "" until given */
	const struct access_client *client;	/* NULL until known */
	const char		*identity;	/* client->name, or NULL */
	int			 handshaking;	/* TLS, not yet established */
	char			**routes;	/* subscribed, declared routes */
	size_t			 nroutes;
	int64_t			 sent_seq;	/* alerts up to here considered */
	int64_t			 esc_id;	/* escalations up to here seen */
	int64_t			 ack_id;	/* acks up to here seen */
	int			 subscribed;
	int			 live;		/* caught up once (for the log) */
	int			 full;		/* at the limit, alerts waiting */
	int			 paused;	/* not read: replies back up */
	int			 skipping;	/* dropping an over-long line */
	int			 closing;	/* close once the output is out */
};

struct subscribers {
	struct daemon		*d;
	struct evconnlistener	**ls;
	size_t			 nls;
	struct sock_pause	*pause;		/* after accept() failures */
	char			*unix_path;	/* to unlink at the end */
	TAILQ_HEAD(, sub)	 subs;
	size_t			 nsubs;
	size_t			 nstreams;	/* of them subscribed */
	uint64_t		 refused;	/* over max_subscribers */
	struct audit_refusals	 refusals;	/* not yet in the audit */
	struct audit_refusals	 forbidden;	/* by access control */
	uint64_t		 cut;		/* cut off as too slow */
	int64_t			 published_seq;	/* the newest alert published */
	sqlite3_stmt		*st_after;	/* unacknowledged after a seq */
	sqlite3_stmt		*st_routes_of;	/* routes raised for */
	sqlite3_stmt		*st_esc_of;	/* routes escalated to */
	sqlite3_stmt		*st_esc_new;	/* escalations after an id */
	sqlite3_stmt		*st_ack_new;	/* acks after a seq */
};

static void	sub_free(struct sub *);
static void	sub_audit_forbidden(struct sub *);
static void	sub_fill(struct sub *);
static void	sub_process(struct sub *, int);
static void	sub_error(struct sub *, const char *, const char *,
		    const char *, const char *, const char *, ...)
		    printflike(6, 7);

/* The statement reading unacknowledged alerts, prepared on first use. */
static sqlite3_stmt *
sub_stmt(struct subscribers *s)
{
	sqlite3	*db = store_db(s->d->store);

	if (s->st_after == NULL && sqlite3_prepare_v3(db, SUB_SQL_AFTER, -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st_after, NULL) != SQLITE_OK) {
		log_warnx("subscribe", "preparing a statement: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	return s->st_after;
}

/* *stp, prepared from sql on first use. */
static sqlite3_stmt *
sub_prepared(struct subscribers *s, sqlite3_stmt **stp, const char *sql)
{
	sqlite3	*db = store_db(s->d->store);

	if (*stp == NULL && sqlite3_prepare_v3(db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, stp, NULL) != SQLITE_OK) {
		log_warnx("subscribe", "preparing a statement: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	return *stp;
}

/* The one number a query answers (0: none or error). */
static int64_t
sub_max(struct subscribers *s, const char *sql)
{
	sqlite3		*db = store_db(s->d->store);
	sqlite3_stmt	*st;
	int64_t		 v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The newest alert seq in the store (0: none). */
static int64_t
sub_max_seq(struct subscribers *s)
{
	return sub_max(s, SUB_SQL_MAX);
}

/* Bytes written to the stream and not yet taken by the kernel. */
static size_t
sub_unsent(struct sub *u)
{
	return evbuffer_get_length(bufferevent_get_output(u->bev));
}

/* Give up on writing after ms without progress (0: never). */
static void
sub_write_timeout(struct sub *u, int64_t ms)
{
	struct timeval	 tv = time_tv_ms(ms);

	bufferevent_set_timeouts(u->bev, NULL, ms > 0 ? &tv : NULL);
}

/* Queue one line: the compact JSON of obj (stolen) and LF. */
static void
sub_send(struct sub *u, json_t *obj)
{
	struct evbuffer	*out = bufferevent_get_output(u->bev);
	char		*text;

	if ((text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		fatalx("subscribe", "out of memory");
	json_decref(obj);
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	free(text);
}

/* A reply {"ok":false,...}; cmd NULL when the command is not known. */
static void
sub_error(struct sub *u, const char *cmd, const char *alert,
    const char *error, const char *field, const char *fmt, ...)
{
	json_t	*r;
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("subscribe", "out of memory");
	va_end(ap);
	r = json_pack("{s:b}", "ok", 0);
	if (cmd != NULL)
		json_object_set_new(r, "cmd", json_string(cmd));
	if (alert != NULL)
		json_object_set_new(r, "alert", json_string(alert));
	json_object_set_new(r, "error", json_string(error));
	if (field != NULL)
		json_object_set_new(r, "field", json_string(field));
	json_object_set_new(r, "message", json_string(msg));
	free(msg);
	sub_send(u, r);
}

/* Is route one of the stream's? */
static int
sub_has_route(struct sub *u, const char *route)
{
	size_t	 j;

	for (j = 0; route != NULL && j < u->nroutes; j++)
		if (strcmp(route, u->routes[j]) == 0)
			return 1;
	return 0;
}

/*
 * Does query sql (SUB_SQL_ROUTES_OF, SUB_SQL_ESC_OF: routes of alert
 * seq) name one of the stream's routes?
 */
static int
sub_routes_match(struct sub *u, sqlite3_stmt **stp, const char *sql,
    int64_t seq)
{
	sqlite3_stmt	*st;
	int		 yes = 0;

	if ((st = sub_prepared(u->s, stp, sql)) == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, seq);
	while (!yes && sqlite3_step(st) == SQLITE_ROW)
		yes = sub_has_route(u,
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return yes;
}

/* Was alert seq raised for one of the stream's routes? */
static int
sub_raised_for(struct sub *u, int64_t seq)
{
	return sub_routes_match(u, &u->s->st_routes_of, SUB_SQL_ROUTES_OF,
	    seq);
}

/* Is the alert for this stream: its routes, or escalated to them? */
static int
sub_wants(struct sub *u, int64_t seq)
{
	return sub_raised_for(u, seq) ||
	    sub_routes_match(u, &u->s->st_esc_of, SUB_SQL_ESC_OF, seq);
}

/*
 * Alerts the pager has passed that were escalated since to one of the
 * stream's routes (and are not on them already): queue them while the
 * output stays under limit.  Returns 1 at the limit, 0 done, -1 error.
 */
static int
sub_escalations(struct sub *u, size_t limit)
{
	sqlite3_stmt	*st;
	struct evbuffer	*out = bufferevent_get_output(u->bev);
	const char	*body;
	int64_t		 seq;
	int		 rc, full = 0;

	if ((st = sub_prepared(u->s, &u->s->st_esc_new, SUB_SQL_ESC_NEW)) ==
	    NULL)
		return -1;
	sqlite3_bind_int64(st, 1, u->esc_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (evbuffer_get_length(out) >= limit) {
			full = 1;
			break;
		}
		seq = sqlite3_column_int64(st, 1);
		body = (const char *)sqlite3_column_text(st, 2);
		/* later alerts are the pager's; routes it had are sent */
		if (seq <= u->sent_seq && body != NULL &&
		    sub_has_route(u, (const char *)sqlite3_column_text(st, 3)) &&
		    !sub_raised_for(u, seq)) {
			evbuffer_add(out, body, strlen(body));
			evbuffer_add(out, "\n", 1);
			metrics_delivery(u->s->d->metrics, METRICS_STREAM,
			    METRICS_DELIVERED);
		}
		u->esc_id = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!full && rc != SQLITE_DONE)
		return -1;
	return full;
}

/* The "ack" line of the current row of SUB_SQL_ACK_NEW. */
static void
sub_ack_line(struct sub *u, sqlite3_stmt *st)
{
	char		 at[TIME_RFC3339_LEN];
	const char	*id = (const char *)sqlite3_column_text(st, 2);
	const char	*by = (const char *)sqlite3_column_text(st, 4);
	const char	*via = (const char *)sqlite3_column_text(st, 6);

	time_format_rfc3339(sqlite3_column_int64(st, 5), at);
	sub_send(u, json_pack("{s:s, s:I, s:s, s:s, s:s}", "ack",
	    id != NULL ? id : "", "seq",
	    (json_int_t)sqlite3_column_int64(st, 1),
	    "by", by != NULL ? by : "", "acknowledged_at", at, "via",
	    via != NULL ? via : ""));
}

/*
 * Acknowledgements since the stream last looked, by any channel: each
 * alert the stream was already sent (at or below its position, and its
 * own) gets an "ack" line, while the output stays under limit.  This
 * runs before the pager moves on, so an alert acknowledged before the
 * pager reached it (and so never sent) gets none.  Returns 1 at the
 * limit, 0 done, -1 error.
 */
static int
sub_acks(struct sub *u, size_t limit)
{
	sqlite3_stmt	*st;
	const char	*body;
	int64_t		 seq;
	int		 rc, full = 0;

	if ((st = sub_prepared(u->s, &u->s->st_ack_new, SUB_SQL_ACK_NEW)) ==
	    NULL)
		return -1;
	sqlite3_bind_int64(st, 1, u->ack_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sub_unsent(u) >= limit) {
			full = 1;
			break;
		}
		seq = sqlite3_column_int64(st, 1);
		body = (const char *)sqlite3_column_text(st, 3);
		if (seq <= u->sent_seq && body != NULL && sub_wants(u, seq))
			sub_ack_line(u, st);
		u->ack_id = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!full && rc != SQLITE_DONE)
		return -1;
	return full;
}

/* Close once what is queued is out, or after a grace, whichever first. */
static void
sub_close_when_flushed(struct sub *u, int64_t grace_ms)
{
	u->closing = 1;
	bufferevent_disable(u->bev, EV_READ);
	if (sub_unsent(u) == 0) {
		tls_close_notify(u->bev);
		sub_free(u);
		return;
	}
	/* a timeout disabled writing; the last lines still go */
	bufferevent_enable(u->bev, EV_WRITE);
	sub_write_timeout(u, grace_ms);
}

/*
 * Cut off a stream that does not keep up.  The unsent output is dropped
 * except the rest of a line the kernel may have begun, so the stream
 * ends on a whole line, then the reason, then the connection closes.
 */
static void
sub_cut(struct sub *u)
{
	struct evbuffer		*out = bufferevent_get_output(u->bev);
	struct evbuffer		*keep;
	struct evbuffer_ptr	 p;
	size_t			 unsent = evbuffer_get_length(out);
	size_t			 max = u->s->d->config->sub_max_buffer_bytes;

	p = evbuffer_search_eol(out, NULL, NULL, EVBUFFER_EOL_LF);
	keep = evbuffer_new();
	if (keep == NULL)
		fatalx("subscribe", "out of memory");
	if (p.pos != -1)
		evbuffer_remove_buffer(out, keep, (size_t)p.pos + 1);
	evbuffer_drain(out, evbuffer_get_length(out));
	evbuffer_add_buffer(out, keep);
	evbuffer_free(keep);
	u->s->cut++;
	metrics_delivery(u->s->d->metrics, METRICS_STREAM,
	    METRICS_FAILED);
	log_warnx("subscribe", "%s%s%s: cut off, too slow: %zu bytes unsent "
	    "(subscribers.max_buffer_bytes %zu) and none read for %d s; "
	    "alerts up to A-%lld were queued, the rest come again when it "
	    "reconnects", u->peer, u->name[0] != '\0' ? " " : "", u->name,
	    unsent, max, SUB_STALL_MS / 1000, (long long)u->sent_seq);
	sub_error(u, NULL, NULL, "too_slow", NULL, "alerts were not read: "
	    "%zu bytes (subscribers.max_buffer_bytes) waited and none was "
	    "read for %d s, so this stream is closed; reconnect and subscribe "
	    "again to receive every alert still unacknowledged (\"after\": "
	    "%lld skips what you have)", max, SUB_STALL_MS / 1000,
	    (long long)u->sent_seq);
	sub_close_when_flushed(u, SUB_CUT_GRACE_MS);
}

/*
 * Read up to one page of unacknowledged alerts after the stream's
 * position and queue those of its routes while the output stays under
 * limit.  Returns 1 at the limit, 0 when the page was the last, 2 when
 * there may be more, -1 on error.
 */
static int
sub_page(struct sub *u, size_t limit)
{
	sqlite3_stmt	*st;
	struct evbuffer	*out = bufferevent_get_output(u->bev);
	const char	*body;
	int		 rc, rows = 0, full = 0;

	if ((st = sub_stmt(u->s)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, u->sent_seq);
	sqlite3_bind_int(st, 2, SUB_PAGE);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows++;
		if (evbuffer_get_length(out) >= limit) {
			full = 1;
			break;
		}
		body = (const char *)sqlite3_column_text(st, 1);
		if (body != NULL && sub_wants(u, sqlite3_column_int64(st, 0))) {
			evbuffer_add(out, body, strlen(body));
			evbuffer_add(out, "\n", 1);
			metrics_delivery(u->s->d->metrics, METRICS_STREAM,
			    METRICS_DELIVERED);
		}
		u->sent_seq = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!full && rc != SQLITE_DONE) {
		log_warnx("subscribe", "reading alerts: %s",
		    sqlite3_errmsg(store_db(u->s->d->store)));
		return -1;
	}
	if (full)
		return 1;
	return rows == SUB_PAGE ? 2 : 0;
}

/*
 * Queue what the stream has not been shown, up to the buffer limit.  At
 * the limit it goes on as the client reads (sub_write_cb); if the client
 * reads nothing for SUB_STALL_MS it is cut off (sub_event_cb).
 */
static void
sub_fill(struct sub *u)
{
	size_t	 max = u->s->d->config->sub_max_buffer_bytes;
	int	 rc;

	if (!u->subscribed || u->closing || u->full)
		return;
	/*
	 * Acknowledgements first: they are judged by the position before.
	 * Then escalations, before the pager moves: the pager sends an alert
	 * escalated to the stream by every escalation row existing when it
	 * passes, so esc_id must already be past those rows.  Followed after
	 * the pager, a row written while the stream was full ahead of the
	 * pager would send its alert a second time.
	 */
	if ((rc = sub_acks(u, max)) == 0 &&
	    (rc = sub_escalations(u, max)) == 0) {
		while ((rc = sub_page(u, max)) == 2)
			;
	}
	if (rc == 1) {
		/* the stall clock starts now; any byte read restarts it */
		u->full = 1;
		sub_write_timeout(u, SUB_STALL_MS);
	} else if (rc == 0 && !u->live) {
		u->live = 1;
		/* the alerts in between were acknowledged or not ours */
		if (u->sent_seq < u->s->published_seq)
			u->sent_seq = u->s->published_seq;
		log_debug("subscribe", "%s: caught up at A-%lld", u->peer,
		    (long long)u->sent_seq);
	}
}

/* Is route declared in the running rules? */
static int
sub_route_known(struct subscribers *s, const char *route)
{
	struct rules	*rules = s->d->rules;
	size_t		 i;

	for (i = 0; rules != NULL && i < rules->nroutes; i++)
		if (strcmp(rules->routes[i].id, route) == 0)
			return 1;
	return 0;
}

/* The declared routes, comma separated, for messages; caller frees. */
static char *
sub_route_list(struct subscribers *s)
{
	struct rules	*rules = s->d->rules;
	char		*list = xstrdup(""), *next;
	size_t		 i;

	for (i = 0; rules != NULL && i < rules->nroutes; i++) {
		xasprintf(&next, "%s%s%s", list, i > 0 ? ", " : "",
		    rules->routes[i].id);
		free(list);
		list = next;
	}
	return list;
}

/* Answer the fault subcmd_parse() found in c. */
static void
sub_fault(struct sub *u, const struct subcmd *c)
{
	sub_error(u, subcmd_name(c->kind), c->alert, c->error, c->field, "%s",
	    c->message);
}

/*
 * Check and take the routes of a subscribe command.  0 or -1 (answered).
 * Each route is checked in the order sent, before a later entry's fault
 * is answered (c->routes holds those before it).
 */
static int
sub_take_routes(struct sub *u, const struct subcmd *c)
{
	const char	*route;
	char		*known;
	size_t		 i;

	for (i = 0; i < c->nroutes; i++) {
		route = c->routes[i];
		/* before "unknown": a client learns of its routes only */
		if (!access_route_ok(u->client, route)) {
			sub_error(u, "subscribe", NULL, "forbidden", "routes",
			    "client %s may not subscribe to route '%.*s'; its "
			    "routes are in access.clients", u->identity,
			    utf8_prefix(route, ACK_BY_MAX), route);
			log_info("subscribe", "%s: %s refused route %.*s",
			    u->peer, u->identity, utf8_prefix(route, ACK_BY_MAX), route);
			sub_audit_forbidden(u);
			return -1;
		}
		if (!sub_route_known(u->s, route)) {
			known = sub_route_list(u->s);
			sub_error(u, "subscribe", NULL, "unknown_route",
			    "routes", "route '%.*s' is not declared in the "
			    "rules (%s); declared: %s", utf8_prefix(route, ACK_BY_MAX), route,
			    u->s->d->rules->version, known);
			free(known);
			return -1;
		}
	}
	if (c->error != NULL) {
		sub_fault(u, c);
		return -1;
	}
	/* every route is declared and repeats were dropped */
	u->routes = xcalloc(c->nroutes, sizeof *u->routes);
	for (i = 0; i < c->nroutes; i++)
		u->routes[u->nroutes++] = xstrdup(c->routes[i]);
	return 0;
}

/*
 * Who the stream is, for the audit: its authenticated client, or for a
 * local peer the name it gave ("-": none), and the peer with its
 * credentials: "stream:mpu-desk-1@unix:pid=77,uid=1000",
 * "stream:mpu@tcp:10.1.2.3:50312".
 */
static void
sub_actor(struct sub *u, char *buf, size_t len)
{
	const char	*who = u->name[0] != '\0' ? u->name : "-";

	if (u->identity != NULL && strcmp(u->identity, ACCESS_LOCAL_NAME) != 0)
		who = u->identity;
	snprintf(buf, len, "stream:%.*s@%s", utf8_prefix(who, ACK_BY_MAX), who, u->who);
}

/* A refusal by access control, in the audit trail (coalesced). */
static void
sub_audit_forbidden(struct sub *u)
{
	char	 actor[AUDIT_ACTOR_MAX];

	sub_actor(u, actor, sizeof actor);
	audit_refused(u->s->d->store, &u->s->forbidden, "subscribers",
	    actor + 7, "forbidden", time_now_ms());
}

/* Forget the routes taken for a subscription that did not happen. */
static void
sub_drop_routes(struct sub *u)
{
	size_t	 i;

	for (i = 0; i < u->nroutes; i++)
		free(u->routes[i]);
	free(u->routes);
	u->routes = NULL;
	u->nroutes = 0;
	u->name[0] = '\0';
}

/*
 * Record who subscribed to which routes: from the routes and the alerts'
 * seqs one can tell every alert a stream was sent.  0 or -1.
 */
static int
sub_audit(struct sub *u)
{
	json_t	*routes;
	char	 actor[AUDIT_ACTOR_MAX];
	size_t	 i;

	routes = json_array();
	for (i = 0; i < u->nroutes; i++)
		json_array_append_new(routes, json_string(u->routes[i]));
	sub_actor(u, actor, sizeof actor);
	return audit_record(u->s->d->store, actor, AUDIT_SUBSCRIBE, NULL,
	    json_pack("{s:o, s:I}", "routes", routes, "after",
	    (json_int_t)u->sent_seq));
}

/* {"cmd":"subscribe","routes":[...],"name":...,"after":N} */
static void
sub_cmd_subscribe(struct sub *u, const struct subcmd *c)
{
	json_t		*r, *list;
	size_t		 i;

	if (!access_has(u->client, ACCESS_SUBSCRIBE)) {
		sub_error(u, "subscribe", NULL, "forbidden", NULL, "client %s "
		    "may not subscribe: it lacks the subscribe role",
		    u->identity);
		sub_audit_forbidden(u);
		return;
	}
	if (u->subscribed) {
		sub_error(u, "subscribe", NULL, "already_subscribed", NULL,
		    "this connection is already subscribed; open another "
		    "connection for other routes");
		return;
	}
	/* a fault in name or after leaves no routes to check first */
	if (sub_take_routes(u, c) == -1)
		return;
	if (c->has_name)
		snprintf(u->name, sizeof u->name, "%s", c->name);
	u->sent_seq = c->after;
	/* a stream nobody could account for is not opened */
	if (sub_audit(u) == -1) {
		sub_drop_routes(u);
		sub_error(u, "subscribe", NULL, "unavailable", NULL, "the "
		    "subscription could not be recorded in the audit trail; "
		    "try again later");
		return;
	}
	/* older escalations reach it through the catch-up (sub_wants) */
	u->esc_id = sub_max(u->s, SUB_SQL_ESC_MAX);
	/* acknowledgements from now on, of alerts this stream is sent */
	u->ack_id = sub_max(u->s, SUB_SQL_ACK_MAX);
	u->subscribed = 1;
	u->s->nstreams++;
	list = json_array();
	for (i = 0; i < u->nroutes; i++)
		json_array_append_new(list, json_string(u->routes[i]));
	r = json_pack("{s:b, s:s, s:o}", "ok", 1, "cmd", "subscribe",
	    "routes", list);
	if (u->name[0] != '\0')
		json_object_set_new(r, "name", json_string(u->name));
	json_object_set_new(r, "after", json_integer(u->sent_seq));
	sub_send(u, r);
	log_info("subscribe", "%s%s%s: subscribed to %zu route%s after A-%lld",
	    u->peer, u->name[0] != '\0' ? " " : "", u->name, u->nroutes,
	    u->nroutes == 1 ? "" : "s", (long long)u->sent_seq);
	sub_fill(u);
}

/* {"cmd":"ack","alert":"A-17","by":"...","note":"..."} */
static void
sub_cmd_ack(struct sub *u, const struct subcmd *c)
{
	struct ack_outcome	 out;
	enum ack_status		 st;
	const char		*id = c->alert;
	char			 at[TIME_RFC3339_LEN], via[ACK_VIA_MAX];
	char			 actor[AUDIT_ACTOR_MAX];

	/* alert and by are answered before the role, note after it */
	if (c->error != NULL && c->by == NULL) {
		sub_fault(u, c);
		return;
	}
	if (!access_has(u->client, ACCESS_ACK)) {
		sub_error(u, "ack", id, "forbidden", NULL, "client %s may not "
		    "acknowledge alerts: it lacks the ack role", u->identity);
		sub_audit_forbidden(u);
		return;
	}
	if (c->error != NULL) {
		sub_fault(u, c);
		return;
	}
	snprintf(via, sizeof via, "stream:%s@%s", u->name[0] != '\0' ?
	    u->name : "-", u->peer);
	sub_actor(u, actor, sizeof actor);
	st = ack_alert(u->s->d->store, id, c->by, c->note, via, actor,
	    time_now_ms(), &out);
	time_format_rfc3339(out.at_ms, at);
	switch (st) {
	case ACK_OK:
		sub_send(u, json_pack("{s:b, s:s, s:s, s:I, s:s, s:s}", "ok", 1,
		    "cmd", "ack", "alert", id, "seq", (json_int_t)out.seq,
		    "by", out.by, "acknowledged_at", at));
		/* every stream that was sent it gets an "ack" line */
		subscribers_publish(u->s);
		break;
	case ACK_ALREADY:
		sub_error(u, "ack", id, ack_error_token(st), NULL, "%.*s was "
		    "acknowledged by %s at %s; nothing changed", utf8_prefix(id, ACK_BY_MAX),
		    id, out.by, at);
		break;
	case ACK_UNKNOWN:
		sub_error(u, "ack", id, ack_error_token(st), "alert", "there "
		    "is no alert %.*s; nothing changed", utf8_prefix(id, ACK_BY_MAX), id);
		break;
	case ACK_BAD_BY:
		sub_error(u, "ack", id, ack_error_token(st), "by", "by must be "
		    "1-%d bytes naming who acknowledges, without control "
		    "characters or spaces at either end", ACK_BY_MAX);
		break;
	case ACK_BAD_NOTE:
		sub_error(u, "ack", id, ack_error_token(st), "note", "note "
		    "must be at most %d bytes", ACK_NOTE_MAX);
		break;
	case ACK_ERROR:
		sub_error(u, "ack", id, ack_error_token(st), NULL, "storage "
		    "failed; nothing changed; try again later");
		break;
	}
}

/* Answer one command line. */
static void
sub_command(struct sub *u, const char *line, size_t len)
{
	struct subcmd	 c;

	subcmd_parse(line, len, &c);
	switch (c.kind) {
	case SUBCMD_SUBSCRIBE:
		sub_cmd_subscribe(u, &c);
		break;
	case SUBCMD_ACK:
		sub_cmd_ack(u, &c);
		break;
	case SUBCMD_UNKNOWN:
		sub_fault(u, &c);
		break;
	}
	subcmd_free(&c);
}

/* Answer every complete line while the client reads what it is sent. */
static void
sub_process(struct sub *u, int eof)
{
	struct evbuffer	*in = bufferevent_get_input(u->bev);
	size_t		 max = u->s->d->config->max_line_bytes, len;
	char		*line;

	while (!u->closing && !u->paused) {
		switch (sock_read_line(in, max, eof, &u->skipping, &line,
		    &len)) {
		case SOCK_LINE_NONE:
			return;
		case SOCK_LINE_TOO_LONG:
			sub_error(u, NULL, NULL, "line_too_long", NULL, "the "
			    "line is longer than %zu bytes; it was skipped",
			    max);
			break;
		case SOCK_LINE_OK:
			sub_command(u, line, len);
			free(line);
			break;
		}
		if (sub_unsent(u) >= u->s->d->config->sub_max_buffer_bytes) {
			/* backpressure: read on once the client reads */
			u->paused = 1;
			bufferevent_disable(u->bev, EV_READ);
		}
	}
}

/* Bytes arrived. */
static void
sub_read_cb(struct bufferevent *bev, void *arg)
{
	sub_process(arg, 0);
}

/* The output drained below the low-water mark: go on catching up. */
static void
sub_write_cb(struct bufferevent *bev, void *arg)
{
	struct sub	*u = arg;

	if (u->closing) {
		if (sub_unsent(u) == 0) {
			tls_close_notify(u->bev);
			sub_free(u);
		}
		return;
	}
	if (u->full) {
		u->full = 0;
		sub_write_timeout(u, u->s->d->config->idle_timeout_ms);
	}
	if (u->paused) {
		u->paused = 0;
		bufferevent_enable(bev, EV_READ);
		/* lines already buffered get no new read event */
		sub_process(u, 0);
	}
	sub_fill(u);
}

/*
 * Take the peer as client (NULL: nobody).  0 when it may use the stream,
 * -1 when it was refused with one line (the stream closes).
 */
static int
sub_admit(struct sub *u, const struct access_client *client, const char *who)
{
	char	*roles;

	u->client = client;
	u->identity = client != NULL ? client->name : NULL;
	if (client == NULL) {
		log_info("subscribe", "%s: refused: %s", u->peer, who);
		sub_error(u, NULL, NULL, "forbidden", NULL, "%s; alert streams "
		    "are for the clients in misperd's access.clients", who);
	} else if (!access_has(client, ACCESS_SUBSCRIBE) &&
	    !access_has(client, ACCESS_ACK)) {
		roles = access_roles_text(client->roles);
		log_info("subscribe", "%s: refused %s: no subscribe or ack "
		    "role", u->peer, client->name);
		sub_error(u, NULL, NULL, "forbidden", NULL, "client %s may "
		    "neither subscribe nor acknowledge (it holds: %s)",
		    client->name, roles);
		free(roles);
	} else
		return 0;
	sub_audit_forbidden(u);
	sub_close_when_flushed(u, u->s->d->config->shutdown_grace_ms);
	return -1;
}

/* The TLS handshake is done: who is it? */
static void
sub_established(struct sub *u)
{
	struct config	*cfg = u->s->d->config;
	X509		*cert;
	char		 who[400], desc[256];

	u->handshaking = 0;
	cert = tls_peer_cert(u->bev);
	access_cert_describe(cert, desc, sizeof desc);
	snprintf(who, sizeof who, "the client certificate (%s) names no "
	    "client in access.clients", desc);
	if (sub_admit(u, access_by_cert(cfg->access, cert), who) == 0) {
		/* silent for ever from now on, as any subscriber may be */
		sub_write_timeout(u, cfg->idle_timeout_ms);
		log_debug("subscribe", "%s: %s as %s", u->peer,
		    tls_version(u->bev), u->identity);
	}
	X509_free(cert);
}

/* End of input, an error or a timeout. */
static void
sub_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sub	*u = arg;

	if (what & BEV_EVENT_CONNECTED) {
		sub_established(u);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !u->closing) {
		/* answer what was sent, then close once it is out */
		sub_process(u, 1);
		if (!u->closing)
			sub_close_when_flushed(u,
			    u->s->d->config->shutdown_grace_ms);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && u->full && !u->closing) {
		sub_cut(u);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		metrics_limit_hit(u->s->d->metrics,
		    METRICS_LIMIT_IDLE_SUBSCRIBERS);
	if (what & BEV_EVENT_TIMEOUT)
		log_info("subscribe", "%s%s%s: closed: %s", u->peer,
		    u->name[0] != '\0' ? " " : "", u->name, u->handshaking ?
		    "TLS handshake not done in time" :
		    "output not read in time");
	else if ((what & BEV_EVENT_ERROR) &&
	    tls_log_errors(u->bev, "subscribe", u->peer) == 0)
		log_debug("subscribe", "%s: %s", u->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	sub_free(u);
}

/* Close and free a stream. */
static void
sub_free(struct sub *u)
{
	struct subscribers	*s = u->s;
	size_t			 i;

	TAILQ_REMOVE(&s->subs, u, entry);
	s->nsubs--;
	if (u->subscribed)
		s->nstreams--;
	bufferevent_free(u->bev);
	log_info("subscribe", "%s%s%s: closed (%zu open)", u->peer,
	    u->name[0] != '\0' ? " " : "", u->name, s->nsubs);
	for (i = 0; i < u->nroutes; i++)
		free(u->routes[i]);
	free(u->routes);
	free(u);
}

/* Refuse a connection over max_subscribers with one line, then close. */
static void
sub_refuse(struct subscribers *s, evutil_socket_t fd)
{
	char	 line[200], peer[AUDIT_ACTOR_MAX];
	int	 n;
	ssize_t	 w;

	n = snprintf(line, sizeof line, "{\"ok\":false,\"error\":"
	    "\"unavailable\",\"message\":\"too many subscribers (limit %u); "
	    "try again shortly\"}\n", s->d->config->sub_max_subscribers);
	/* a fresh socket's send buffer takes one short line */
	w = write(fd, line, (size_t)n);
	(void)w;
	sock_describe_peer(fd, peer, sizeof peer);
	evutil_closesocket(fd);
	audit_refused(s->d->store, &s->refusals, "subscribers", peer,
	    "max_subscribers", time_now_ms());
	if (s->refused++ % 100 == 0)
		log_warnx("subscribe", "subscriber refused: %zu open, limit %u "
		    "(%llu refused so far)", s->nsubs,
		    s->d->config->sub_max_subscribers,
		    (unsigned long long)s->refused);
}

/* A new connection on an alert socket; tls: on a TLS listener. */
static void
sub_accept(struct subscribers *s, evutil_socket_t fd, struct sockaddr *sa,
    int tls)
{
	struct config		*cfg = s->d->config;
	struct sub		*u;
	struct timeval		 tv;
	int64_t			 ms;

	if (s->nsubs >= cfg->sub_max_subscribers) {
		sub_refuse(s, fd);
		return;
	}
	u = xcalloc(1, sizeof *u);
	u->s = s;
	sock_describe(sa, u->peer, sizeof u->peer);
	sock_describe_peer(fd, u->who, sizeof u->who);
	if (tls)
		u->bev = tls_bufferevent(s->d->tls, s->d->base, fd);
	else
		u->bev = bufferevent_socket_new(s->d->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (u->bev == NULL) {
		log_warnx("subscribe", "cannot set up a connection");
		evutil_closesocket(fd);
		free(u);
		return;
	}
	bufferevent_setcb(u->bev, sub_read_cb, sub_write_cb, sub_event_cb, u);
	bufferevent_setwatermark(u->bev, EV_READ, 0, cfg->max_line_bytes + 2);
	/* queueing resumes when half the limit is left unsent */
	bufferevent_setwatermark(u->bev, EV_WRITE,
	    cfg->sub_max_buffer_bytes / 2, 0);
	/* a subscriber may be silent for ever, but must read what it gets */
	sub_write_timeout(u, cfg->idle_timeout_ms);
	if (tls) {
		/* but the handshake is bounded */
		u->handshaking = 1;
		ms = tls_handshake_ms(cfg);
		tv = time_tv_ms(ms);
		bufferevent_set_timeouts(u->bev, &tv, &tv);
	}
	bufferevent_enable(u->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->subs, u, entry);
	s->nsubs++;
	log_debug("subscribe", "%s: connected (%zu open)", u->peer, s->nsubs);
	if (!tls)
		sub_admit(u, access_local(cfg->access, cfg->access_local),
		    "access.local is none: local peers may not use alert "
		    "streams");
}

/* A new connection on the Unix socket or a TCP listener without TLS. */
static void
sub_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	sub_accept(arg, fd, sa, 0);
}

/* A new connection on a TLS listener. */
static void
sub_accept_tls_cb(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	sub_accept(arg, fd, sa, 1);
}

/* Accept errors (EMFILE and friends): the listener rests (sockets.c). */
static void
sub_accept_error_cb(struct evconnlistener *el, void *arg)
{
	struct subscribers	*s = arg;

	sock_pause_accept(s->pause, el);
}

/* Keep a new evconnlistener. */
static void
sub_listener_add(struct subscribers *s, struct evconnlistener *el)
{
	evconnlistener_set_error_cb(el, sub_accept_error_cb);
	s->ls = xreallocarray(s->ls, s->nls + 1, sizeof *s->ls);
	s->ls[s->nls++] = el;
}

/* Open the configured Unix socket and TCP listeners.  0 or -1. */
static int
sub_open(struct subscribers *s, char **cause)
{
	struct config		*cfg = s->d->config;
	struct evconnlistener	*el;
	char			 where[96];
	size_t			 i;

	if (cfg->sub_unix_path != NULL && cfg->sub_unix_path[0] != '\0') {
		el = sock_listen_unix(s->d->base, "subscribers",
		    cfg->sub_unix_path, cfg->sub_unix_mode,
		    cfg->sub_unix_group != NULL ? cfg->sub_unix_group :
		    cfg->unix_group, sub_accept_cb, s, cause);
		if (el == NULL)
			return -1;
		s->unix_path = xstrdup(cfg->sub_unix_path);
		sub_listener_add(s, el);
		log_info("subscribe", "alert streams on unix:%s (mode %04o)",
		    cfg->sub_unix_path, (unsigned)cfg->sub_unix_mode);
	}
	for (i = 0; i < cfg->sub_ntcp; i++) {
		el = sock_listen_tcp(s->d->base, "subscribers", cfg->sub_tcp[i],
		    cfg->sub_tcp_tls[i] || cfg->tls_insecure,
		    cfg->sub_tcp_tls[i] ? sub_accept_tls_cb : sub_accept_cb, s,
		    where, sizeof where, cause);
		if (el == NULL)
			return -1;
		sub_listener_add(s, el);
		log_info("subscribe", "alert streams on %s%s", where,
		    cfg->sub_tcp_tls[i] ? " (TLS)" : "");
	}
	return 0;
}

/* Open the configured subscriber listeners (none configured: none). */
struct subscribers *
subscribers_new(struct daemon *d, char **cause)
{
	struct subscribers	*s;

	s = xcalloc(1, sizeof *s);
	s->d = d;
	s->pause = sock_pause_new(d->base, "subscribe");
	TAILQ_INIT(&s->subs);
	s->published_seq = sub_max_seq(s);
	if (sub_open(s, cause) == -1) {
		subscribers_free(s);
		return NULL;
	}
	return s;
}

/* Alerts were committed: every stream gets what is new for it. */
void
subscribers_publish(struct subscribers *s)
{
	struct sub	*u, *next;

	if (s == NULL)
		return;
	for (u = TAILQ_FIRST(&s->subs); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		sub_fill(u);
	}
	s->published_seq = sub_max_seq(s);
}

/* Streams open now. */
size_t
subscribers_count(struct subscribers *s)
{
	return s != NULL ? s->nsubs : 0;
}

/* Streams subscribed to routes now. */
size_t
subscribers_streams(struct subscribers *s)
{
	return s != NULL ? s->nstreams : 0;
}

/* Connections refused over subscribers.max_subscribers since the start. */
uint64_t
subscribers_refused(struct subscribers *s)
{
	return s != NULL ? s->refused : 0;
}

/* Close every stream and listener, remove the socket file.  Accepts NULL. */
void
subscribers_free(struct subscribers *s)
{
	struct sub	*u;
	size_t		 i;

	if (s == NULL)
		return;
	sock_pause_forget(s->pause);
	for (i = 0; i < s->nls; i++)
		evconnlistener_free(s->ls[i]);
	free(s->ls);
	if (s->unix_path != NULL) {
		unlink(s->unix_path);
		free(s->unix_path);
	}
	while ((u = TAILQ_FIRST(&s->subs)) != NULL)
		sub_free(u);
	sqlite3_finalize(s->st_after);
	sqlite3_finalize(s->st_routes_of);
	sqlite3_finalize(s->st_esc_of);
	sqlite3_finalize(s->st_esc_new);
	sqlite3_finalize(s->st_ack_new);
	audit_refusals_flush(s->d->store, &s->refusals, "subscribers",
	    "max_subscribers", time_now_ms());
	audit_refusals_flush(s->d->store, &s->forbidden, "subscribers",
	    "forbidden", time_now_ms());
	if (s->cut > 0)
		log_info("subscribe", "%llu stream%s were cut off as too slow",
		    (unsigned long long)s->cut, s->cut == 1 ? "" : "s");
	sock_pause_free(s->pause);
	free(s);
}
