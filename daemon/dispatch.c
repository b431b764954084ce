/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The dispatcher.  Intake writes one deliveries row per alert and route in
 * the event's own transaction; everything after that happens here, on the
 * event loop, in small transactions of its own that never wrap a network
 * wait:
 *
 *  1. resolve: a new deliveries row becomes one webhook_deliveries row per
 *     webhook of its route (the area's unit's, if the route names the
 *     child's area), and an urgent alert's row gets the time it escalates;
 *  2. escalate: a row whose time came and whose alert nobody acknowledged
 *     gets an escalations row and a deliveries row for the next route of
 *     the chain (then resolved like any other);
 *  3. deliver: due webhook rows, oldest first, up to delivery.max_in_flight
 *     POSTs at a time; each attempt's outcome is recorded (its own
 *     delivery_attempts row) and the row is delivered (a 2xx: never sent
 *     again), retried later with backoff, or failed at the give-up age.
 *
 * Work is picked from the database in small batches, so nothing queues in
 * memory, and a restart resumes whatever is pending.  One timer drives it
 * all: armed at once by dispatch_kick() or a finished attempt, else for
 * the next due retry or escalation.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "config.h"
#include "daemon.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "webhook.h"
#include "xmalloc.h"

#define DISPATCH_BATCH		32	/* rows resolved or escalated per run */
#define DISPATCH_IDLE_MS	60000	/* look anyway this often */
#define DISPATCH_PAUSE_MS	1000	/* after a database error */
/*
 * One webhook URL holds at most 1/DISPATCH_URL_SHARE of the in-flight
 * slots (rounded up).  Without it a receiver that accepts and never
 * answers fills every slot with attempts waiting out their timeout, and
 * the alerts of every other route wait behind it (test_faults.py saw a
 * healthy route's deliveries held up by whole timeouts).  At most
 * DISPATCH_URL_SHARE URLs are then full at once: the due query leaves
 * them out by name (D_DUE's ?3 to ?6).
 */
#define DISPATCH_URL_SHARE	4

enum dispatch_sql {
	D_RESOLVE_PICK,
	D_WH_ADD,
	D_RESOLVED,
	D_DUE,
	D_WH_DONE,
	D_GIVE_UP,
	D_ATTEMPT,
	D_ROLLUP,
	D_NEXT,
	D_ESC_PICK,
	D_ESC_NEXT,
	D_ESC_CLEAR,
	D_ESC_ADD,
	D_ESC_DELIVERY,
	D__COUNT
};

static const char *const dispatch_sql[D__COUNT] = {
	[D_RESOLVE_PICK] = "SELECT d.alert_seq, d.route, d.created_ms,"
	    " a.level, a.body FROM deliveries d JOIN alerts a"
	    " ON a.seq = d.alert_seq WHERE d.channels IS NULL"
	    " ORDER BY d.alert_seq, d.route LIMIT ?1",
	[D_WH_ADD] = "INSERT OR IGNORE INTO webhook_deliveries (alert_seq,"
	    " route, url, created_ms, next_attempt_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	/* no webhooks: nothing is left to deliver (subscribers may take it) */
	[D_RESOLVED] = "UPDATE deliveries SET channels = ?3,"
	    " escalate_at_ms = ?4,"
	    " status = CASE WHEN ?3 = 0 THEN 'delivered' ELSE status END,"
	    " done_ms = CASE WHEN ?3 = 0 THEN ?5 ELSE done_ms END"
	    " WHERE alert_seq = ?1 AND route = ?2",
	[D_DUE] = "SELECT w.alert_seq, w.route, w.url, w.attempts,"
	    " w.created_ms, a.id, a.body, d.escalated_from"
	    " FROM webhook_deliveries w"
	    " JOIN alerts a ON a.seq = w.alert_seq"
	    " JOIN deliveries d ON d.alert_seq = w.alert_seq"
	    "  AND d.route = w.route"
	    " WHERE w.status = 'pending' AND w.next_attempt_ms <= ?1"
	    " AND w.url NOT IN (?3, ?4, ?5, ?6)"
	    " ORDER BY w.next_attempt_ms LIMIT ?2",
	[D_WH_DONE] = "UPDATE webhook_deliveries SET status = ?4,"
	    " attempts = attempts + 1, next_attempt_ms = ?5, done_ms = ?6,"
	    " http_status = ?7, last_error = ?8"
	    " WHERE alert_seq = ?1 AND route = ?2 AND url = ?3",
	[D_GIVE_UP] = "UPDATE webhook_deliveries SET status = 'failed',"
	    " done_ms = ?4, last_error = ?5"
	    " WHERE alert_seq = ?1 AND route = ?2 AND url = ?3",
	[D_ATTEMPT] = "INSERT INTO delivery_attempts (alert_seq, route, url,"
	    " started_ms, ended_ms, outcome, http_status, error)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[D_ROLLUP] = "UPDATE deliveries SET"
	    " status = CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries w"
	    "  WHERE w.alert_seq = ?1 AND w.route = ?2"
	    "  AND w.status = 'pending') THEN 'pending'"
	    " WHEN EXISTS (SELECT 1 FROM webhook_deliveries w"
	    "  WHERE w.alert_seq = ?1 AND w.route = ?2"
	    "  AND w.status = 'failed') THEN 'failed' ELSE 'delivered' END,"
	    " done_ms = ?3 WHERE alert_seq = ?1 AND route = ?2"
	    " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries w"
	    "  WHERE w.alert_seq = ?1 AND w.route = ?2"
	    "  AND w.status = 'pending')",
	[D_NEXT] = "SELECT MIN(next_attempt_ms) FROM webhook_deliveries"
	    " WHERE status = 'pending' AND next_attempt_ms > ?1",
	[D_ESC_PICK] = "SELECT d.alert_seq, d.route,"
	    " a.ack_at_ms IS NOT NULL, a.id FROM deliveries d JOIN alerts a"
	    " ON a.seq = d.alert_seq WHERE d.escalate_at_ms <= ?1"
	    " ORDER BY d.escalate_at_ms LIMIT ?2",
	[D_ESC_NEXT] = "SELECT MIN(escalate_at_ms) FROM deliveries"
	    " WHERE escalate_at_ms IS NOT NULL",
	[D_ESC_CLEAR] = "UPDATE deliveries SET escalate_at_ms = NULL"
	    " WHERE alert_seq = ?1 AND route = ?2",
	[D_ESC_ADD] = "INSERT OR IGNORE INTO escalations (alert_seq,"
	    " from_route, to_route, at_ms) VALUES (?1, ?2, ?3, ?4)",
	[D_ESC_DELIVERY] = "INSERT OR IGNORE INTO deliveries (alert_seq,"
	    " route, created_ms, escalated_from) VALUES (?1, ?2, ?3, ?4)",
};

/* A deliveries row to resolve or escalate, copied out of its statement. */
struct dispatch_row {
	int64_t		 seq;
	char		 route[EVENT_ID_MAX + 1];
	int64_t		 num;		/* created_ms, or acknowledged */
	char		 word[32];	/* level, or the alert id */
	char		 area[128];
};

/* A webhook row due for an attempt, copied out of the statement. */
struct dispatch_due {
	int64_t		 seq;
	char		*route;
	char		*url;
	int		 attempts;
	int64_t		 created_ms;
	char		*alert;		/* "A-17" */
	char		*body;
	char		*from;		/* escalated from, or NULL */
};

/* One attempt in flight. */
struct dispatch_slot {
	struct dispatch		*dp;
	struct webhook_req	*req;		/* NULL: the slot is free */
	int64_t			 seq;
	char			*route;
	char			*url;
	char			*alert;
	int			 attempts;	/* before this one */
	int64_t			 created_ms;
	int64_t			 started_ms;
};

struct dispatch {
	struct daemon		*d;
	sqlite3			*db;
	sqlite3_stmt		*stmt[D__COUNT];
	struct webhook_client	*client;
	struct event		*timer;
	struct dispatch_slot	*slots;
	size_t			 nslots;
	size_t			 busy;
	uint64_t		 rng;		/* xorshift64 state, jitter */
	int64_t			 pause_until_ms;

	/* counters for the log at the end (metrics.c counts its own) */
	uint64_t		 n_attempts;
	uint64_t		 n_delivered;
	uint64_t		 n_retries;
	uint64_t		 n_failed;
	uint64_t		 n_escalated;
};

/* The statement for q, prepared on first use. */
static sqlite3_stmt *
dispatch_stmt(struct dispatch *dp, enum dispatch_sql q)
{
	if (dp->stmt[q] == NULL &&
	    sqlite3_prepare_v3(dp->db, dispatch_sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &dp->stmt[q], NULL) != SQLITE_OK) {
		log_warnx("dispatch", "preparing a statement: %s",
		    sqlite3_errmsg(dp->db));
		return NULL;
	}
	return dp->stmt[q];
}

/* Reset st and map rc (DONE or ROW is fine) to 0 or -1. */
static int
dispatch_done(struct dispatch *dp, sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("dispatch", "%s", sqlite3_errmsg(dp->db));
		return -1;
	}
	return 0;
}

/* A text column, copied (NULL stays NULL). */
static char *
dispatch_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*s = sqlite3_column_text(st, col);

	return s != NULL ? xstrdup((const char *)s) : NULL;
}

/* Bind text, or NULL when s is NULL or empty. */
static void
dispatch_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s != NULL && *s != '\0')
		sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

/* The next pseudo-random number, for jitter only. */
static uint32_t
dispatch_random(struct dispatch *dp)
{
	dp->rng ^= dp->rng << 13;
	dp->rng ^= dp->rng >> 7;
	dp->rng ^= dp->rng << 17;
	return (uint32_t)(dp->rng >> 32);
}

/* Run again in ms (0: as soon as the loop comes round). */
static void
dispatch_wake(struct dispatch *dp, int64_t ms)
{
	struct timeval	 tv = time_tv_ms(ms);

	evtimer_add(dp->timer, &tv);
}

/* The URL for logs: without its query, which may hold a token. */
static int
dispatch_url_len(const char *url)
{
	return (int)strcspn(url, "?");
}

/* The configured webhook of route with this URL, in any area, or NULL. */
static const struct webhook *
dispatch_webhook(struct dispatch *dp, const char *route, const char *url)
{
	const struct route	*r;
	size_t			 i, j;

	if ((r = routes_find(dp->d->config->routes, route)) == NULL)
		return NULL;
	for (i = 0; i < r->nwebhooks; i++) {
		if (strcmp(r->webhooks[i].url, url) == 0)
			return &r->webhooks[i];
	}
	for (i = 0; i < r->nareas; i++) {
		for (j = 0; j < r->areas[i].nwebhooks; j++) {
			if (strcmp(r->areas[i].webhooks[j].url, url) == 0)
				return &r->areas[i].webhooks[j];
		}
	}
	return NULL;
}

/* Resolve one deliveries row into webhook rows.  0 or -1. */
static int
dispatch_resolve_one(struct dispatch *dp, int64_t seq, const char *route,
    int64_t created_ms, const char *level, const char *area, int64_t now)
{
	const struct route	*r;
	const struct webhook	*w = NULL;
	sqlite3_stmt		*st;
	size_t			 i, n = 0;

	if ((r = routes_find(dp->d->config->routes, route)) != NULL)
		w = routes_webhooks(r, area, &n);
	if ((st = dispatch_stmt(dp, D_WH_ADD)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_text(st, 2, route, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, w[i].url, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, created_ms);
		sqlite3_bind_int64(st, 5, now);
		if (dispatch_done(dp, st, sqlite3_step(st)) == -1)
			return -1;
	}
	if ((st = dispatch_stmt(dp, D_RESOLVED)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, route, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)n);
	/* the rule: only urgent alerts escalate */
	if (r != NULL && r->escalate_to != NULL && level != NULL &&
	    strcmp(level, "urgent") == 0)
		sqlite3_bind_int64(st, 4, created_ms + r->escalate_after_ms);
	sqlite3_bind_int64(st, 5, now);
	return dispatch_done(dp, st, sqlite3_step(st));
}

/* The "area" member of an alert body, into buf ("" if none). */
static void
dispatch_area(const char *body, char *buf, size_t len)
{
	const char	*p, *e;

	/* the body is our own compact JSON: "area":"x" or "area":null */
	buf[0] = '\0';
	if (body == NULL || (p = strstr(body, "\"area\":\"")) == NULL)
		return;
	p += 8;
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= len)
		return;
	memcpy(buf, p, e - p);
	buf[e - p] = '\0';
}

/* Copy text column col into buf ("" for NULL). */
static void
dispatch_copy(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const unsigned char	*s = sqlite3_column_text(st, col);

	snprintf(buf, len, "%s", s != NULL ? (const char *)s : "");
}

/*
 * Read up to DISPATCH_BATCH rows of q (?1 = now when it takes it, the
 * last parameter the limit) into rows, before anything is written: the
 * writes change what the statement reads.  How many, or -1.
 */
static int
dispatch_pick(struct dispatch *dp, enum dispatch_sql q, int64_t now,
    struct dispatch_row *rows)
{
	sqlite3_stmt	*st;
	int		 rc, n = 0, np;

	if ((st = dispatch_stmt(dp, q)) == NULL)
		return -1;
	np = sqlite3_bind_parameter_count(st);
	if (np > 1)
		sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, np, DISPATCH_BATCH);
	while (n < DISPATCH_BATCH && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dispatch_row *r = &rows[n++];

		r->seq = sqlite3_column_int64(st, 0);
		dispatch_copy(st, 1, r->route, sizeof r->route);
		r->num = sqlite3_column_int64(st, 2);
		dispatch_copy(st, 3, r->word, sizeof r->word);
		if (q == D_RESOLVE_PICK)
			dispatch_area((const char *)sqlite3_column_text(st, 4),
			    r->area, sizeof r->area);
	}
	if (dispatch_done(dp, st, n < DISPATCH_BATCH ? rc : SQLITE_DONE) == -1)
		return -1;
	return n;
}

/* Resolve the n rows picked, in the open transaction.  0 or -1. */
static int
dispatch_resolve_rows(struct dispatch *dp, const struct dispatch_row *rows,
    int n, int64_t now)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (dispatch_resolve_one(dp, rows[i].seq, rows[i].route,
		    rows[i].num, rows[i].word, rows[i].area, now) == -1)
			return -1;
	return 0;
}

/*
 * Resolve up to DISPATCH_BATCH new deliveries rows in the open
 * transaction.  1 if more may wait, 0, -1.
 */
static int
dispatch_resolve_some(struct dispatch *dp, int64_t now)
{
	struct dispatch_row	 rows[DISPATCH_BATCH];
	int			 n;

	if ((n = dispatch_pick(dp, D_RESOLVE_PICK, now, rows)) <= 0)
		return n;
	if (dispatch_resolve_rows(dp, rows, n, now) == -1)
		return -1;
	return n == DISPATCH_BATCH;
}

/*
 * Step 1: resolve new deliveries rows left unresolved (by a daemon
 * stopped in between, or raised where dispatch_resolve_now() was not
 * called).  The rows are picked before the transaction, as escalations
 * are, and resolved in it as picked: only the loop writes the database,
 * so they cannot change in between.  With nothing to resolve, the usual
 * case, no transaction is opened: an idle daemon does not write.  1 if
 * more may wait, 0, -1.
 */
static int
dispatch_resolve(struct dispatch *dp, int64_t now)
{
	struct dispatch_row	 rows[DISPATCH_BATCH];
	int			 n;

	if ((n = dispatch_pick(dp, D_RESOLVE_PICK, now, rows)) <= 0)
		return n;
	if (store_begin(dp->d->store) == -1)
		return -1;
	if (dispatch_resolve_rows(dp, rows, n, now) == -1) {
		store_rollback(dp->d->store);
		return -1;
	}
	if (store_commit(dp->d->store) == -1)
		return -1;
	return n == DISPATCH_BATCH;
}

/* Escalate one alert from route to the next of its chain, or clear it. */
static int
dispatch_escalate_one(struct dispatch *dp, const struct dispatch_row *row,
    int64_t now, int *raised)
{
	const struct route	*r;
	sqlite3_stmt		*st;
	int			 added, acked = row->num != 0;

	r = routes_find(dp->d->config->routes, row->route);
	if (!acked && r != NULL && r->escalate_to != NULL) {
		if ((st = dispatch_stmt(dp, D_ESC_ADD)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, row->seq);
		sqlite3_bind_text(st, 2, row->route, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->escalate_to, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		if (dispatch_done(dp, st, sqlite3_step(st)) == -1)
			return -1;
		added = sqlite3_changes(dp->db);
		if ((st = dispatch_stmt(dp, D_ESC_DELIVERY)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, row->seq);
		sqlite3_bind_text(st, 2, r->escalate_to, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_text(st, 4, row->route, -1, SQLITE_STATIC);
		if (dispatch_done(dp, st, sqlite3_step(st)) == -1)
			return -1;
		if (added) {
			log_info("dispatch", "alert %s not acknowledged "
			    "within %lld ms on route %s: escalated to %s",
			    row->word, (long long)r->escalate_after_ms,
			    row->route, r->escalate_to);
			dp->n_escalated++;
			(*raised)++;
		}
	}
	if ((st = dispatch_stmt(dp, D_ESC_CLEAR)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, row->seq);
	sqlite3_bind_text(st, 2, row->route, -1, SQLITE_STATIC);
	return dispatch_done(dp, st, sqlite3_step(st));
}

/* Step 2: escalations that came due.  1 if more may wait, 0, -1. */
static int
dispatch_escalate(struct dispatch *dp, int64_t now)
{
	struct dispatch_row	 rows[DISPATCH_BATCH];
	int			 i, n, raised = 0;

	if ((n = dispatch_pick(dp, D_ESC_PICK, now, rows)) <= 0)
		return n;
	if (store_begin(dp->d->store) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (dispatch_escalate_one(dp, &rows[i], now, &raised) == -1) {
			store_rollback(dp->d->store);
			return -1;
		}
	}
	if (store_commit(dp->d->store) == -1)
		return -1;
	if (raised > 0)
		daemon_alerts_committed(dp->d);	/* subscribers of the next */
	/*
	 * The next route's deliveries are not resolved yet: say there is
	 * more, or the timer armed at the end of this pass would put them
	 * off until the idle wake-up.
	 */
	return n == DISPATCH_BATCH || raised > 0;
}

/* Free a due row's strings. */
static void
dispatch_due_clear(struct dispatch_due *u)
{
	free(u->route);
	free(u->url);
	free(u->alert);
	free(u->body);
	free(u->from);
}

/* Is this webhook row in flight now? */
static int
dispatch_in_flight(struct dispatch *dp, const struct dispatch_due *u)
{
	size_t	 i;

	for (i = 0; i < dp->nslots; i++) {
		if (dp->slots[i].req != NULL && dp->slots[i].seq == u->seq &&
		    strcmp(dp->slots[i].route, u->route) == 0 &&
		    strcmp(dp->slots[i].url, u->url) == 0)
			return 1;
	}
	return 0;
}

/* Attempts in flight to url now. */
static size_t
dispatch_url_busy(struct dispatch *dp, const char *url)
{
	size_t	 i, n = 0;

	for (i = 0; i < dp->nslots; i++) {
		if (dp->slots[i].req != NULL &&
		    strcmp(dp->slots[i].url, url) == 0)
			n++;
	}
	return n;
}

/* The most attempts one URL may have in flight (DISPATCH_URL_SHARE). */
static size_t
dispatch_url_cap(struct dispatch *dp)
{
	return (dp->nslots + DISPATCH_URL_SHARE - 1) / DISPATCH_URL_SHARE;
}

/* Bind the URLs at their cap to D_DUE's ?3 to ?6 ("" matches no URL). */
static void
dispatch_bind_full(struct dispatch *dp, sqlite3_stmt *st)
{
	const char	*url;
	size_t		 i, j;
	int		 col = 3;

	for (i = 0; i < dp->nslots && col < 3 + DISPATCH_URL_SHARE; i++) {
		if (dp->slots[i].req == NULL)
			continue;
		url = dp->slots[i].url;
		for (j = 0; j < i; j++) {
			if (dp->slots[j].req != NULL &&
			    strcmp(dp->slots[j].url, url) == 0)
				break;
		}
		if (j == i &&
		    dispatch_url_busy(dp, url) >= dispatch_url_cap(dp))
			sqlite3_bind_text(st, col++, url, -1, SQLITE_STATIC);
	}
	while (col < 3 + DISPATCH_URL_SHARE)
		sqlite3_bind_text(st, col++, "", -1, SQLITE_STATIC);
}

/* Roll the webhook rows of (seq, route) up into its deliveries row. */
static int
dispatch_rollup(struct dispatch *dp, int64_t seq, const char *route,
    int64_t now)
{
	sqlite3_stmt	*st;

	if ((st = dispatch_stmt(dp, D_ROLLUP)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, route, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	return dispatch_done(dp, st, sqlite3_step(st));
}

/*
 * Fail a row without an attempt: its give-up age passed, or (reason not
 * NULL) it cannot be attempted at all.
 */
static int
dispatch_give_up(struct dispatch *dp, const struct dispatch_due *u,
    int64_t now, const char *reason)
{
	sqlite3_stmt	*st;
	char		*why;
	int		 rc = -1;

	if ((st = dispatch_stmt(dp, D_GIVE_UP)) == NULL ||
	    store_begin(dp->d->store) == -1)
		return -1;
	if (reason != NULL)
		why = xstrdup(reason);
	else
		xasprintf(&why, "gave up after %d attempt%s in %lld ms",
		    u->attempts, u->attempts == 1 ? "" : "s",
		    (long long)(now - u->created_ms));
	sqlite3_bind_int64(st, 1, u->seq);
	sqlite3_bind_text(st, 2, u->route, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, u->url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, why, -1, SQLITE_STATIC);
	if (dispatch_done(dp, st, sqlite3_step(st)) == 0 &&
	    dispatch_rollup(dp, u->seq, u->route, now) == 0)
		rc = store_commit(dp->d->store);
	else
		store_rollback(dp->d->store);
	if (rc == 0) {
		dp->n_failed++;
		metrics_delivery(dp->d->metrics, METRICS_WEBHOOK,
		    METRICS_FAILED);
		log_warnx("dispatch", "alert %s to %s (%.*s): failed: %s",
		    u->alert, u->route, dispatch_url_len(u->url), u->url, why);
	}
	free(why);
	return rc;
}

/* Record an attempt's outcome and the row's new state, in one transaction. */
static int
dispatch_record(struct dispatch *dp, struct dispatch_slot *sl,
    const struct webhook_result *res, int64_t now, const char **outcome,
    int64_t *next)
{
	sqlite3_stmt	*st, *at;
	int		 ok = res->http_status >= 200 && res->http_status < 300;
	int64_t		 give_up = sl->created_ms + dp->d->config->give_up_after_ms;

	*next = now;
	if (ok)
		*outcome = "delivered";
	else if (now >= give_up)
		*outcome = "failed";
	else {
		*outcome = "retry";
		*next = now + webhook_backoff_ms(dp->d->config->retry_initial_ms,
		    dp->d->config->retry_max_ms, sl->attempts + 1,
		    dispatch_random(dp));
		if (*next > give_up)
			*next = give_up;	/* then fail, on time */
	}
	if ((st = dispatch_stmt(dp, D_WH_DONE)) == NULL ||
	    (at = dispatch_stmt(dp, D_ATTEMPT)) == NULL ||
	    store_begin(dp->d->store) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, sl->seq);
	sqlite3_bind_text(st, 2, sl->route, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sl->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ok ? "delivered" : strcmp(*outcome,
	    "failed") == 0 ? "failed" : "pending", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, *next);
	if (strcmp(*outcome, "retry") != 0)
		sqlite3_bind_int64(st, 6, now);
	if (res->http_status != 0)
		sqlite3_bind_int(st, 7, res->http_status);
	dispatch_bind_text(st, 8, res->error);
	sqlite3_bind_int64(at, 1, sl->seq);
	sqlite3_bind_text(at, 2, sl->route, -1, SQLITE_STATIC);
	sqlite3_bind_text(at, 3, sl->url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(at, 4, sl->started_ms);
	sqlite3_bind_int64(at, 5, now);
	sqlite3_bind_text(at, 6, *outcome, -1, SQLITE_STATIC);
	if (res->http_status != 0)
		sqlite3_bind_int(at, 7, res->http_status);
	dispatch_bind_text(at, 8, res->error);
	if (dispatch_done(dp, st, sqlite3_step(st)) == -1 ||
	    dispatch_done(dp, at, sqlite3_step(at)) == -1 ||
	    dispatch_rollup(dp, sl->seq, sl->route, now) == -1) {
		store_rollback(dp->d->store);
		return -1;
	}
	return store_commit(dp->d->store);
}

/* Log what came of an attempt. */
static void
dispatch_log_outcome(struct dispatch *dp, const struct dispatch_slot *sl,
    const struct webhook_result *res, const char *outcome, int64_t next,
    int64_t now)
{
	char	 what[WEBHOOK_ERROR_MAX + 16];
	int	 ulen = dispatch_url_len(sl->url);

	if (res->http_status != 0)
		snprintf(what, sizeof what, "HTTP %d", res->http_status);
	else
		snprintf(what, sizeof what, "%s", res->error);
	if (strcmp(outcome, "delivered") == 0)
		log_info("dispatch", "alert %s to %s (%.*s): delivered, %s, "
		    "attempt %d, %lld ms", sl->alert, sl->route, ulen, sl->url,
		    what, sl->attempts + 1, (long long)res->elapsed_ms);
	else if (strcmp(outcome, "failed") == 0)
		log_warnx("dispatch", "alert %s to %s (%.*s): failed: %s on "
		    "attempt %d, past the give-up age", sl->alert, sl->route,
		    ulen, sl->url, what, sl->attempts + 1);
	else
		log_info("dispatch", "alert %s to %s (%.*s): %s on attempt %d; "
		    "retry in %lld ms", sl->alert, sl->route, ulen, sl->url,
		    what, sl->attempts + 1, (long long)(next - now));
}

/* Free a slot's strings and mark it free. */
static void
dispatch_slot_clear(struct dispatch_slot *sl)
{
	free(sl->route);
	free(sl->url);
	free(sl->alert);
	sl->route = sl->url = sl->alert = NULL;
	sl->req = NULL;
}

/* webhook_done_fn: an attempt ended. */
static void
dispatch_attempt_done(const struct webhook_result *res, void *arg)
{
	struct dispatch_slot	*sl = arg;
	struct dispatch		*dp = sl->dp;
	const char		*outcome;
	int64_t			 now = time_now_ms(), next;

	if (dispatch_record(dp, sl, res, now, &outcome, &next) == -1) {
		/* still pending in the database: tried again later */
		log_warnx("dispatch", "alert %s to %s: recording the attempt "
		    "failed; it stays pending", sl->alert, sl->route);
		dp->pause_until_ms = now + DISPATCH_PAUSE_MS;
	} else {
		dispatch_log_outcome(dp, sl, res, outcome, next, now);
		if (strcmp(outcome, "delivered") == 0) {
			dp->n_delivered++;
			metrics_delivery(dp->d->metrics, METRICS_WEBHOOK,
			    METRICS_DELIVERED);
		} else if (strcmp(outcome, "failed") == 0) {
			dp->n_failed++;
			metrics_delivery(dp->d->metrics, METRICS_WEBHOOK,
			    METRICS_FAILED);
		} else {
			dp->n_retries++;
			metrics_delivery(dp->d->metrics, METRICS_WEBHOOK,
			    METRICS_RETRY);
		}
	}
	dispatch_slot_clear(sl);
	dp->busy--;
	dispatch_wake(dp, 0);
}

/* Start an attempt for u in a free slot.  0, or -1 (nothing started). */
static int
dispatch_start(struct dispatch *dp, struct dispatch_due *u, int64_t now)
{
	const struct webhook	*w;
	struct webhook_result	 res;
	struct dispatch_slot	*sl = NULL;
	size_t			 i;

	if ((w = dispatch_webhook(dp, u->route, u->url)) == NULL)
		/* the configuration changed: a URL no longer listed */
		return dispatch_give_up(dp, u, now, "webhook no longer "
		    "configured");
	for (i = 0; i < dp->nslots && sl == NULL; i++) {
		if (dp->slots[i].req == NULL)
			sl = &dp->slots[i];
	}
	if (sl == NULL)
		return -1;
	sl->seq = u->seq;
	sl->attempts = u->attempts;
	sl->created_ms = u->created_ms;
	sl->started_ms = now;
	sl->route = u->route;
	sl->url = u->url;
	sl->alert = u->alert;
	u->route = u->url = u->alert = NULL;	/* the slot has them now */
	dp->n_attempts++;
	if ((sl->req = webhook_post(dp->client, w, sl->alert, u->from,
	    u->body, strlen(u->body), dispatch_attempt_done, sl,
	    &res)) == NULL) {
		dp->busy++;	/* attempt_done takes it off again */
		dispatch_attempt_done(&res, sl);
		return 0;
	}
	dp->busy++;
	return 0;
}

/*
 * Step 3: start attempts for due rows while slots are free, failing those
 * past the give-up age.  1 if more due rows may wait, 0, -1.
 */
static int
dispatch_deliver(struct dispatch *dp, int64_t now)
{
	struct dispatch_due	 due[DISPATCH_BATCH];
	sqlite3_stmt		*st;
	int			 rc = SQLITE_DONE, n = 0, i, limit, moved = 0;

	if (dp->busy >= dp->nslots)
		return 0;	/* a finishing attempt wakes us */
	/* enough to find every free slot a row, past those in flight */
	limit = dp->nslots < DISPATCH_BATCH ? (int)dp->nslots : DISPATCH_BATCH;
	if ((st = dispatch_stmt(dp, D_DUE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, limit);
	dispatch_bind_full(dp, st);
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct dispatch_due *u = &due[n++];

		u->seq = sqlite3_column_int64(st, 0);
		u->route = dispatch_text(st, 1);
		u->url = dispatch_text(st, 2);
		u->attempts = sqlite3_column_int(st, 3);
		u->created_ms = sqlite3_column_int64(st, 4);
		u->alert = dispatch_text(st, 5);
		u->body = dispatch_text(st, 6);
		u->from = dispatch_text(st, 7);
	}
	rc = dispatch_done(dp, st, n < limit ? rc : SQLITE_DONE);
	for (i = 0; i < n; i++) {
		struct dispatch_due *u = &due[i];

		if (rc == 0 && u->route != NULL && u->url != NULL &&
		    u->alert != NULL && u->body != NULL &&
		    !dispatch_in_flight(dp, u)) {
			if (now >= u->created_ms +
			    dp->d->config->give_up_after_ms) {
				if (dispatch_give_up(dp, u, now, NULL) == -1)
					rc = -1;
				moved++;
			} else if (dp->busy < dp->nslots &&
			    dispatch_url_busy(dp, u->url) <
			    dispatch_url_cap(dp) &&
			    dispatch_start(dp, u, now) == 0)
				moved++;
		}
		dispatch_due_clear(u);
	}
	if (rc == -1)
		return -1;
	/* only when this pass moved something: else a busy loop */
	return n == limit && moved > 0 && dp->busy < dp->nslots;
}

/* The earliest time from query q (with ?1 = now if it takes one). */
static int64_t
dispatch_next_time(struct dispatch *dp, enum dispatch_sql q, int64_t now,
    int64_t best)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = dispatch_stmt(dp, q)) == NULL)
		return best;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 0) < best)
		best = sqlite3_column_int64(st, 0);
	dispatch_done(dp, st, rc);
	return best;
}

/* One pass over the three steps, then arm the timer. */
static void
dispatch_run(struct dispatch *dp)
{
	int64_t	 now = time_now_ms(), next;
	int	 more = 0, rc;

	if (now < dp->pause_until_ms) {
		dispatch_wake(dp, dp->pause_until_ms - now);
		return;
	}
	if ((rc = dispatch_resolve(dp, now)) == -1 ||
	    (more = rc, rc = dispatch_escalate(dp, now)) == -1 ||
	    (more |= rc, rc = dispatch_deliver(dp, now)) == -1) {
		log_warnx("dispatch", "the outbox could not be read or "
		    "written; trying again in %d ms", DISPATCH_PAUSE_MS);
		dp->pause_until_ms = now + DISPATCH_PAUSE_MS;
		dispatch_wake(dp, DISPATCH_PAUSE_MS);
		return;
	}
	more |= rc;
	if (more) {
		dispatch_wake(dp, 0);
		return;
	}
	next = dispatch_next_time(dp, D_NEXT, now, now + DISPATCH_IDLE_MS);
	next = dispatch_next_time(dp, D_ESC_NEXT, now, next);
	dispatch_wake(dp, next - now);
}

/* The timer. */
static void
dispatch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	dispatch_run(arg);
}

/* Say once at start which routes of the rules have no webhooks. */
static void
dispatch_check_routes(struct dispatch *dp)
{
	const struct rules	*rs = dp->d->rules;
	const struct routes	*cr = dp->d->config->routes;
	const struct route	*r;
	size_t			 i, j;

	for (i = 0; rs != NULL && i < rs->nroutes; i++) {
		r = routes_find(cr, rs->routes[i].id);
		if (r == NULL || (r->nwebhooks == 0 && r->nareas == 0))
			log_info("dispatch", "route %s has no webhooks; its "
			    "alerts go to subscribers only", rs->routes[i].id);
	}
	for (i = 0; cr != NULL && i < cr->n; i++) {
		for (j = 0; rs != NULL && j < rs->nroutes; j++) {
			if (strcmp(rs->routes[j].id, cr->v[i].name) == 0)
				break;
		}
		if (rs != NULL && j == rs->nroutes)
			log_warnx("dispatch", "route %s is configured but the "
			    "rules file does not declare it under routes: (a "
			    "typo?)", cr->v[i].name);
	}
}

/* Start the dispatcher; pending work from before a restart resumes. */
struct dispatch *
dispatch_new(struct daemon *d, char **cause)
{
	struct dispatch	*dp;
	size_t		 i;

	dp = xcalloc(1, sizeof *dp);
	dp->d = d;
	dp->db = store_db(d->store);
	if ((dp->client = webhook_client_new(d->base, cause)) == NULL) {
		free(dp);
		return NULL;
	}
	dp->nslots = d->config->max_in_flight;
	dp->slots = xcalloc(dp->nslots, sizeof *dp->slots);
	for (i = 0; i < dp->nslots; i++)
		dp->slots[i].dp = dp;
	dp->rng = (uint64_t)time_mono_us() ^ ((uint64_t)getpid() << 32) ^
	    (uint64_t)(uintptr_t)dp;
	if (dp->rng == 0)
		dp->rng = 0x9e3779b97f4a7c15ULL;
	dp->timer = evtimer_new(d->base, dispatch_timer_cb, dp);
	dispatch_check_routes(dp);
	dispatch_wake(dp, 0);
	return dp;
}

/*
 * Resolve every delivery of the alerts raised in the caller's open
 * transaction, in it: the deliveries then commit with their alerts, one
 * commit (and fsync) instead of two, and the dispatcher's next run finds
 * them ready to send.  0, or -1 (the caller rolls back).  NULL: nothing.
 */
int
dispatch_resolve_now(struct dispatch *dp, int64_t now)
{
	int	 rc;

	if (dp == NULL)
		return 0;
	while ((rc = dispatch_resolve_some(dp, now)) == 1)
		;
	return rc;
}

/* Alerts were committed: look now (from the loop, not the caller's stack). */
void
dispatch_kick(struct dispatch *dp)
{
	if (dp != NULL)
		dispatch_wake(dp, 0);
}

/* Stop; attempts in flight are abandoned and stay pending. */
void
dispatch_free(struct dispatch *dp)
{
	size_t	 i;

	if (dp == NULL)
		return;
	for (i = 0; i < dp->nslots; i++) {
		if (dp->slots[i].req != NULL) {
			webhook_cancel(dp->slots[i].req);
			dispatch_slot_clear(&dp->slots[i]);
		}
	}
	free(dp->slots);
	if (dp->timer != NULL)
		event_free(dp->timer);
	webhook_client_free(dp->client);
	for (i = 0; i < D__COUNT; i++)
		sqlite3_finalize(dp->stmt[i]);
	log_info("dispatch", "%llu attempts: %llu delivered, %llu retries, "
	    "%llu failed; %llu escalations", (unsigned long long)dp->n_attempts,
	    (unsigned long long)dp->n_delivered,
	    (unsigned long long)dp->n_retries,
	    (unsigned long long)dp->n_failed,
	    (unsigned long long)dp->n_escalated);
	free(dp);
}
