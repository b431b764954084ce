/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Retention's purge.  A record's age is its event time (the time the
 * control room says it happened, "at"), not when misperd received it, so
 * a backlog sent late ages as the events it holds.  The cutoff is now
 * minus retention.period, fixed when a purge starts.
 *
 * What goes, in three phases, each a walk in bounded batches with its own
 * cursor (one transaction per batch, the event loop served in between, so
 * intake waits at most one batch):
 *
 *  1. Events older than the cutoff, oldest first (the events_at index).
 *     An episode is one record: its events go together, and only when
 *     every one of them is older than the cutoff; then the episode goes
 *     too, with its deadlines, the rule state scoped to it and its alerts.
 *     An event of no episode goes alone.  With an event go the rows made
 *     from it: its indicators, its interview or plan, the flag it set
 *     (when the flag's state is still the one it set), the rule state of
 *     a match rule scoped to it.  A child left with no event goes with
 *     all its state: profile, rule state, deadlines, alerts.
 *  2. Alerts raised by an event older than the cutoff whose episode is
 *     gone (or that had none), with their deliveries, webhook deliveries,
 *     attempts, escalations and acknowledgements.
 *  3. Locations last touched before the cutoff that no episode and no
 *     flag names any more.
 *
 * An alert with a delivery still pending is kept until a later purge
 * (the dispatcher may be sending it), whatever else goes.  The audit
 * trail is never touched.  Because rows are deleted with secure_delete
 * on (store.c), their bytes are overwritten, and the write-ahead log is
 * truncated at the end, so purged data does not linger in the files.
 *
 * Consistency: the database is consistent after every batch (an episode,
 * a child, an alert goes whole in one transaction), so intake between
 * batches sees either the record or nothing.  Rule state for what stays
 * needs no repair: repeat counts and scores are read from the history in
 * the rule's window, which a sane period leaves untouched (a warning says
 * when it does not), and state tied to what went goes with it.
 *
 * Statements are prepared when a purge starts and finalized when it ends.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "api.h"
#include "audit.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

#define RT_DAY_MS	(24LL * 3600 * 1000)

/* The tables a purge counts, in the order logs and rows show them. */
enum rt_table {
	RT_EVENTS = 0,
	RT_EPISODES,
	RT_CHILDREN,
	RT_CHILD_INDICATORS,
	RT_INTERVIEWS,
	RT_PLANS,
	RT_LOCATIONS,
	RT_LOCATION_FLAGS,
	RT_ALERTS,
	RT_ACKS,
	RT_DELIVERIES,
	RT_WEBHOOK_DELIVERIES,
	RT_DELIVERY_ATTEMPTS,
	RT_ESCALATIONS,
	RT_DEADLINES,
	RT_RULE_STATE,
	RT__COUNT
};

static const char *const rt_table_names[RT__COUNT] = {
	[RT_EVENTS] = "events",
	[RT_EPISODES] = "episodes",
	[RT_CHILDREN] = "children",
	[RT_CHILD_INDICATORS] = "child_indicators",
	[RT_INTERVIEWS] = "interviews",
	[RT_PLANS] = "plans",
	[RT_LOCATIONS] = "locations",
	[RT_LOCATION_FLAGS] = "location_flags",
	[RT_ALERTS] = "alerts",
	[RT_ACKS] = "acks",
	[RT_DELIVERIES] = "deliveries",
	[RT_WEBHOOK_DELIVERIES] = "webhook_deliveries",
	[RT_DELIVERY_ATTEMPTS] = "delivery_attempts",
	[RT_ESCALATIONS] = "escalations",
	[RT_DEADLINES] = "deadlines",
	[RT_RULE_STATE] = "rule_state",
};

enum rt_phase {
	RT_PHASE_EVENTS = 0,
	RT_PHASE_ALERTS,
	RT_PHASE_LOCATIONS,
	RT_PHASE_DONE
};

static const char *const rt_phase_names[] = {
	"events", "alerts", "locations", "done"
};

/* The statements of a purge, by purpose. */
enum rt_sql {
	RS_CANDIDATES,
	RS_EPISODE_CHILD,
	RS_EPISODE_RECENT,
	RS_EPISODE_EVENTS,
	RS_EPISODE_ALERTS,
	RS_DEL_INDICATORS,
	RS_DEL_INTERVIEW,
	RS_DEL_PLAN,
	RS_DEL_FLAG,
	RS_DEL_STATE_SCOPE,
	RS_DEL_EVENT,
	RS_DEL_DEADLINES_EPISODE,
	RS_DEL_EPISODE,
	RS_CHILD_LEFT,
	RS_CHILD_ALERTS,
	RS_DEL_DEADLINES_CHILD,
	RS_DEL_STATE_CHILD,
	RS_DEL_INDICATORS_CHILD,
	RS_DEL_INTERVIEWS_CHILD,
	RS_DEL_PLANS_CHILD,
	RS_DEL_EPISODES_CHILD,
	RS_DEL_CHILD,
	RS_ALERT_PENDING,
	RS_DEL_ATTEMPTS,
	RS_DEL_WEBHOOKS,
	RS_DEL_ESCALATIONS,
	RS_DEL_ACKS,
	RS_DEL_DELIVERIES,
	RS_DEL_ALERT,
	RS_ALERT_CANDIDATES,
	RS_LOCATION_CANDIDATES,
	RS_LOCATION_USED,
	RS_DEL_LOCATION,
	RS__COUNT
};

static const char *const rt_sql_text[RS__COUNT] = {
	/* ?1 cutoff, ?2 ?3 the cursor (at_ms, seq), ?4 batch */
	[RS_CANDIDATES] = "SELECT seq, at_ms, id, type, child_id, episode_id"
	    " FROM events WHERE at_ms < ?1 AND (at_ms, seq) > (?2, ?3)"
	    " ORDER BY at_ms, seq LIMIT ?4",
	[RS_EPISODE_CHILD] = "SELECT child_id FROM episodes WHERE id = ?1",
	/* the episode still has an event within the period */
	[RS_EPISODE_RECENT] = "SELECT 1 FROM events WHERE child_id = ?1"
	    " AND episode_id = ?2 AND at_ms >= ?3 LIMIT 1",
	[RS_EPISODE_EVENTS] = "SELECT seq, id, type FROM events"
	    " WHERE child_id = ?1 AND episode_id = ?2",
	[RS_EPISODE_ALERTS] = "SELECT seq FROM alerts"
	    " WHERE child_id = ?1 AND episode_id = ?2",
	[RS_DEL_INDICATORS] = "DELETE FROM child_indicators WHERE seq = ?1",
	[RS_DEL_INTERVIEW] = "DELETE FROM interviews WHERE seq = ?1",
	[RS_DEL_PLAN] = "DELETE FROM plans WHERE seq = ?1",
	/* only while the flag's state is the one this event set */
	[RS_DEL_FLAG] = "DELETE FROM location_flags WHERE seq = ?1",
	[RS_DEL_STATE_SCOPE] = "DELETE FROM rule_state"
	    " WHERE child_id = ?1 AND scope = ?2",
	[RS_DEL_EVENT] = "DELETE FROM events WHERE seq = ?1",
	[RS_DEL_DEADLINES_EPISODE] = "DELETE FROM deadlines"
	    " WHERE child_id = ?1 AND episode_id = ?2",
	[RS_DEL_EPISODE] = "DELETE FROM episodes WHERE id = ?1",
	[RS_CHILD_LEFT] = "SELECT 1 FROM events WHERE child_id = ?1 LIMIT 1",
	[RS_CHILD_ALERTS] = "SELECT seq FROM alerts WHERE child_id = ?1",
	[RS_DEL_DEADLINES_CHILD] = "DELETE FROM deadlines WHERE child_id = ?1",
	[RS_DEL_STATE_CHILD] = "DELETE FROM rule_state WHERE child_id = ?1",
	[RS_DEL_INDICATORS_CHILD] = "DELETE FROM child_indicators"
	    " WHERE child_id = ?1",
	[RS_DEL_INTERVIEWS_CHILD] = "DELETE FROM interviews WHERE child_id = ?1",
	[RS_DEL_PLANS_CHILD] = "DELETE FROM plans WHERE child_id = ?1",
	[RS_DEL_EPISODES_CHILD] = "DELETE FROM episodes WHERE child_id = ?1",
	[RS_DEL_CHILD] = "DELETE FROM children WHERE id = ?1",
	[RS_ALERT_PENDING] = "SELECT 1 FROM deliveries WHERE alert_seq = ?1"
	    " AND status = 'pending' LIMIT 1",
	[RS_DEL_ATTEMPTS] = "DELETE FROM delivery_attempts WHERE alert_seq = ?1",
	[RS_DEL_WEBHOOKS] = "DELETE FROM webhook_deliveries"
	    " WHERE alert_seq = ?1",
	[RS_DEL_ESCALATIONS] = "DELETE FROM escalations WHERE alert_seq = ?1",
	[RS_DEL_ACKS] = "DELETE FROM acks WHERE alert_seq = ?1",
	[RS_DEL_DELIVERIES] = "DELETE FROM deliveries WHERE alert_seq = ?1",
	[RS_DEL_ALERT] = "DELETE FROM alerts WHERE seq = ?1",
	/* ?1 cursor, ?2 cutoff, ?3 batch: old, and its episode gone */
	[RS_ALERT_CANDIDATES] = "SELECT seq FROM alerts a WHERE seq > ?1"
	    " AND event_at_ms < ?2 AND (episode_id IS NULL OR NOT EXISTS"
	    " (SELECT 1 FROM episodes e WHERE e.id = a.episode_id))"
	    " ORDER BY seq LIMIT ?3",
	[RS_LOCATION_CANDIDATES] = "SELECT key FROM locations"
	    " WHERE key > ?1 AND at_ms < ?2 ORDER BY key LIMIT ?3",
	[RS_LOCATION_USED] = "SELECT EXISTS (SELECT 1 FROM episodes"
	    " WHERE last_seen_key = ?1) OR EXISTS (SELECT 1 FROM episodes"
	    " WHERE found_key = ?1) OR EXISTS (SELECT 1 FROM location_flags"
	    " WHERE location_key = ?1)",
	[RS_DEL_LOCATION] = "DELETE FROM locations WHERE key = ?1",
};

/* One event of a batch, copied out before anything is deleted. */
struct rt_event {
	int64_t		 seq;
	int64_t		 at_ms;
	char		*id;
	char		*type;
	char		*child;		/* NULL: a location event */
	char		*episode;	/* NULL: none */
};

/* A list of strings (the children a batch touched). */
struct rt_names {
	char		**v;
	size_t		  n;
};

struct retention {
	struct daemon	*d;
	struct event	*timer;		/* the daily purge */
	struct event	*step;		/* the next batch, after the loop */
	int64_t		 next_ms;	/* when the timer fires */

	/* the purge running, if any */
	int		 running;
	enum rt_phase	 phase;
	int		 failed;	/* a batch failed: ended early */
	int		 stopped;	/* stopped by shutdown: ended early */
	char		 actor[AUDIT_ACTOR_MAX];
	int64_t		 cutoff_ms;
	int64_t		 started_ms;
	int64_t		 cur_at;	/* events cursor: (at_ms, seq) */
	int64_t		 cur_seq;
	int64_t		 cur_alert;	/* alerts cursor: seq */
	char		*cur_key;	/* locations cursor: key */
	unsigned	 batches;
	uint64_t	 counts[RT__COUNT];
	sqlite3_stmt	*st[RS__COUNT];

	/* since the daemon started, and the last purge (metrics, status) */
	uint64_t	 total[RT__COUNT];
	int64_t		 last_ms;	/* 0: never */
	json_t		*last;		/* the last purge's audit detail */
	char		 last_actor[AUDIT_ACTOR_MAX];
};

/* The connection. */
static sqlite3 *
rt_db(struct retention *rt)
{
	return store_db(rt->d->store);
}

/* Prepare every statement of a purge.  0 or -1 (logged). */
static int
rt_prepare(struct retention *rt)
{
	int	 i;

	for (i = 0; i < RS__COUNT; i++) {
		if (sqlite3_prepare_v2(rt_db(rt), rt_sql_text[i], -1,
		    &rt->st[i], NULL) != SQLITE_OK) {
			log_warnx("retention", "preparing \"%.40s...\": %s",
			    rt_sql_text[i], sqlite3_errmsg(rt_db(rt)));
			return -1;
		}
	}
	return 0;
}

static void
rt_finalize(struct retention *rt)
{
	int	 i;

	for (i = 0; i < RS__COUNT; i++) {
		sqlite3_finalize(rt->st[i]);
		rt->st[i] = NULL;
	}
}

/* Statement id, reset and with its bindings cleared. */
static sqlite3_stmt *
rt_stmt(struct retention *rt, enum rt_sql id)
{
	sqlite3_reset(rt->st[id]);
	sqlite3_clear_bindings(rt->st[id]);
	return rt->st[id];
}

/* Log a failed statement; -1. */
static int
rt_fail(struct retention *rt, enum rt_sql id)
{
	log_warnx("retention", "\"%.50s...\": %s", rt_sql_text[id],
	    sqlite3_errmsg(rt_db(rt)));
	sqlite3_reset(rt->st[id]);
	return -1;
}

/* Run a DELETE keyed by one integer; count its rows in table.  0 or -1. */
static int
rt_del_int(struct retention *rt, enum rt_sql id, int64_t key,
    enum rt_table table)
{
	sqlite3_stmt	*st = rt_stmt(rt, id);

	sqlite3_bind_int64(st, 1, key);
	if (sqlite3_step(st) != SQLITE_DONE)
		return rt_fail(rt, id);
	rt->counts[table] += (uint64_t)sqlite3_changes(rt_db(rt));
	sqlite3_reset(st);
	return 0;
}

/* Run a DELETE keyed by one or two strings (b NULL: one).  0 or -1. */
static int
rt_del_str(struct retention *rt, enum rt_sql id, const char *a,
    const char *b, enum rt_table table)
{
	sqlite3_stmt	*st = rt_stmt(rt, id);

	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return rt_fail(rt, id);
	rt->counts[table] += (uint64_t)sqlite3_changes(rt_db(rt));
	sqlite3_reset(st);
	return 0;
}

/*
 * A query with up to two string keys and an integer (?3, when it takes
 * one): 1 when its first column is true, 0 when false or no row, -1.
 */
static int
rt_exists(struct retention *rt, enum rt_sql id, const char *a, const char *b,
    int64_t n)
{
	sqlite3_stmt	*st = rt_stmt(rt, id);
	int		 rc;

	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, n);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = sqlite3_column_int(st, 0) != 0;
		sqlite3_reset(st);
		return rc;
	}
	if (rc != SQLITE_DONE)
		return rt_fail(rt, id);
	sqlite3_reset(st);
	return 0;
}

/* A text column copied, or NULL. */
static char *
rt_column(sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static void
rt_events_free(struct rt_event *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].type);
		free(v[i].child);
		free(v[i].episode);
	}
	free(v);
}

/* Remember child in the batch's list (duplicates are dropped later). */
static void
rt_names_add(struct rt_names *l, const char *name)
{
	if (name == NULL)
		return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrdup(name);
}

static void
rt_names_free(struct rt_names *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int
rt_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is a delivery of alert seq still pending?  1, 0 or -1. */
static int
rt_alert_pending(struct retention *rt, int64_t seq)
{
	sqlite3_stmt	*st = rt_stmt(rt, RS_ALERT_PENDING);
	int		 rc;

	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rt_fail(rt, RS_ALERT_PENDING);
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

/*
 * Remove one alert and everything about it, unless a delivery of it is
 * still pending (the dispatcher may be sending it: a later purge takes
 * it).  0 (removed or kept) or -1.
 */
static int
rt_alert(struct retention *rt, int64_t seq)
{
	int	 pending;

	if ((pending = rt_alert_pending(rt, seq)) != 0)
		return pending == -1 ? -1 : 0;
	if (rt_del_int(rt, RS_DEL_ATTEMPTS, seq, RT_DELIVERY_ATTEMPTS) == -1 ||
	    rt_del_int(rt, RS_DEL_WEBHOOKS, seq, RT_WEBHOOK_DELIVERIES) == -1 ||
	    rt_del_int(rt, RS_DEL_ESCALATIONS, seq, RT_ESCALATIONS) == -1 ||
	    rt_del_int(rt, RS_DEL_ACKS, seq, RT_ACKS) == -1 ||
	    rt_del_int(rt, RS_DEL_DELIVERIES, seq, RT_DELIVERIES) == -1 ||
	    rt_del_int(rt, RS_DEL_ALERT, seq, RT_ALERTS) == -1)
		return -1;
	return 0;
}

/* The seqs a query keyed by one or two strings gives; *n of them. */
static int64_t *
rt_seqs(struct retention *rt, enum rt_sql id, const char *a, const char *b,
    size_t *n, int *failed)
{
	sqlite3_stmt	*st = rt_stmt(rt, id);
	int64_t		*v = NULL;
	int		 rc;

	*n = 0;
	*failed = 0;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, *n + 1, sizeof *v);
		v[(*n)++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		rt_fail(rt, id);
		*failed = 1;
	}
	sqlite3_reset(st);
	return v;
}

/* Remove the alerts a query keyed by child (and episode) gives. */
static int
rt_alerts_of(struct retention *rt, enum rt_sql id, const char *child,
    const char *episode)
{
	int64_t	*seqs;
	size_t	 i, n;
	int	 failed;

	seqs = rt_seqs(rt, id, child, episode, &n, &failed);
	for (i = 0; !failed && i < n; i++)
		if (rt_alert(rt, seqs[i]) == -1)
			failed = 1;
	free(seqs);
	return failed ? -1 : 0;
}

/* Remove one event and the rows made from it.  0 or -1. */
static int
rt_event(struct retention *rt, int64_t seq, const char *id, const char *type,
    const char *child, const char *episode)
{
	if (rt_del_int(rt, RS_DEL_INDICATORS, seq, RT_CHILD_INDICATORS) ==
	    -1 || rt_del_int(rt, RS_DEL_INTERVIEW, seq, RT_INTERVIEWS) == -1 ||
	    rt_del_int(rt, RS_DEL_PLAN, seq, RT_PLANS) == -1)
		return -1;
	if (type != NULL && (strcmp(type, "location.flagged") == 0 ||
	    strcmp(type, "location.cleared") == 0) &&
	    rt_del_int(rt, RS_DEL_FLAG, seq, RT_LOCATION_FLAGS) == -1)
		return -1;
	/* a match rule's state for an event of no episode is scoped to it */
	if (child != NULL && episode == NULL &&
	    rt_del_str(rt, RS_DEL_STATE_SCOPE, child, id, RT_RULE_STATE) == -1)
		return -1;
	return rt_del_int(rt, RS_DEL_EVENT, seq, RT_EVENTS);
}

/*
 * Remove an episode whose every event is older than the cutoff: the
 * events, the deadlines, rule state and alerts of the episode, and the
 * episode.  0 or -1.
 */
static int
rt_episode(struct retention *rt, const char *child, const char *episode)
{
	sqlite3_stmt	*st = rt_stmt(rt, RS_EPISODE_EVENTS);
	struct rt_event	*v = NULL;
	size_t		 i, n = 0;
	int		 rc;

	sqlite3_bind_text(st, 1, child, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, episode, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof *v);
		memset(&v[n], 0, sizeof v[n]);
		v[n].seq = sqlite3_column_int64(st, 0);
		v[n].id = rt_column(st, 1);
		v[n].type = rt_column(st, 2);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rt_events_free(v, n);
		return rt_fail(rt, RS_EPISODE_EVENTS);
	}
	for (i = 0; i < n; i++) {
		if (rt_event(rt, v[i].seq, v[i].id, v[i].type, child,
		    episode) == -1) {
			rt_events_free(v, n);
			return -1;
		}
	}
	rt_events_free(v, n);
	if (rt_del_str(rt, RS_DEL_DEADLINES_EPISODE, child, episode,
	    RT_DEADLINES) == -1 ||
	    rt_del_str(rt, RS_DEL_STATE_SCOPE, child, episode, RT_RULE_STATE) ==
	    -1 || rt_alerts_of(rt, RS_EPISODE_ALERTS, child, episode) == -1 ||
	    rt_del_str(rt, RS_DEL_EPISODE, episode, NULL, RT_EPISODES) == -1)
		return -1;
	return 0;
}

/* Remove a child that has no event left, with all its state. */
static int
rt_child(struct retention *rt, const char *child)
{
	int	 left;

	if ((left = rt_exists(rt, RS_CHILD_LEFT, child, NULL, 0)) != 0)
		return left == -1 ? -1 : 0;
	if (rt_alerts_of(rt, RS_CHILD_ALERTS, child, NULL) == -1 ||
	    rt_del_str(rt, RS_DEL_DEADLINES_CHILD, child, NULL,
	    RT_DEADLINES) == -1 ||
	    rt_del_str(rt, RS_DEL_STATE_CHILD, child, NULL, RT_RULE_STATE) ==
	    -1 ||
	    rt_del_str(rt, RS_DEL_INDICATORS_CHILD, child, NULL,
	    RT_CHILD_INDICATORS) == -1 ||
	    rt_del_str(rt, RS_DEL_INTERVIEWS_CHILD, child, NULL,
	    RT_INTERVIEWS) == -1 ||
	    rt_del_str(rt, RS_DEL_PLANS_CHILD, child, NULL, RT_PLANS) == -1 ||
	    rt_del_str(rt, RS_DEL_EPISODES_CHILD, child, NULL, RT_EPISODES) ==
	    -1 ||
	    rt_del_str(rt, RS_DEL_CHILD, child, NULL, RT_CHILDREN) == -1)
		return -1;
	return 0;
}

/* The child episode belongs to: 1 with *owner (caller frees), 0, -1. */
static int
rt_episode_owner(struct retention *rt, const char *episode, char **owner)
{
	sqlite3_stmt	*st = rt_stmt(rt, RS_EPISODE_CHILD);
	int		 rc;

	*owner = NULL;
	sqlite3_bind_text(st, 1, episode, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*owner = rt_column(st, 0);
	else if (rc != SQLITE_DONE)
		return rt_fail(rt, RS_EPISODE_CHILD);
	sqlite3_reset(st);
	return *owner != NULL;
}

/* One candidate event: alone, with its episode, or kept.  0 or -1. */
static int
rt_candidate(struct retention *rt, const struct rt_event *ev,
    struct rt_names *touched)
{
	char	*owner = NULL;
	int	 mine, recent;

	if (ev->episode != NULL &&
	    rt_episode_owner(rt, ev->episode, &owner) == -1)
		return -1;
	mine = owner != NULL && ev->child != NULL &&
	    strcmp(owner, ev->child) == 0;
	free(owner);
	rt_names_add(touched, ev->child);
	/* no episode (or not this child's): the event alone */
	if (!mine)
		return rt_event(rt, ev->seq, ev->id, ev->type, ev->child,
		    ev->episode);
	recent = rt_exists(rt, RS_EPISODE_RECENT, ev->child, ev->episode,
	    rt->cutoff_ms);
	if (recent != 0)
		return recent == -1 ? -1 : 0;	/* the episode stays whole */
	return rt_episode(rt, ev->child, ev->episode);
}

/* The next batch of candidate events; *n of them. */
static struct rt_event *
rt_candidates(struct retention *rt, size_t *n, int *failed)
{
	sqlite3_stmt	*st = rt_stmt(rt, RS_CANDIDATES);
	struct rt_event	*v;
	int		 rc;

	*n = 0;
	*failed = 0;
	v = xcalloc(rt->d->config->retention_batch_rows, sizeof *v);
	sqlite3_bind_int64(st, 1, rt->cutoff_ms);
	sqlite3_bind_int64(st, 2, rt->cur_at);
	sqlite3_bind_int64(st, 3, rt->cur_seq);
	sqlite3_bind_int64(st, 4, rt->d->config->retention_batch_rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v[*n].seq = sqlite3_column_int64(st, 0);
		v[*n].at_ms = sqlite3_column_int64(st, 1);
		v[*n].id = rt_column(st, 2);
		v[*n].type = rt_column(st, 3);
		v[*n].child = rt_column(st, 4);
		v[*n].episode = rt_column(st, 5);
		(*n)++;
	}
	if (rc != SQLITE_DONE) {
		rt_fail(rt, RS_CANDIDATES);
		*failed = 1;
	}
	sqlite3_reset(st);
	return v;
}

/* Phase 1, one batch.  1 when the phase is done, 0 more to do, -1. */
static int
rt_batch_events(struct retention *rt)
{
	struct rt_event	*v;
	struct rt_names	 touched;
	size_t		 i, n;
	int		 failed;

	memset(&touched, 0, sizeof touched);
	v = rt_candidates(rt, &n, &failed);
	for (i = 0; !failed && i < n; i++)
		if (rt_candidate(rt, &v[i], &touched) == -1)
			failed = 1;
	if (!failed && touched.n > 0) {
		qsort(touched.v, touched.n, sizeof *touched.v, rt_names_cmp);
		for (i = 0; !failed && i < touched.n; i++) {
			if (i > 0 && strcmp(touched.v[i], touched.v[i - 1]) ==
			    0)
				continue;
			if (rt_child(rt, touched.v[i]) == -1)
				failed = 1;
		}
	}
	rt_names_free(&touched);
	/* the cursor: past the last candidate, kept or gone */
	if (!failed && n > 0) {
		rt->cur_at = v[n - 1].at_ms;
		rt->cur_seq = v[n - 1].seq;
	}
	rt_events_free(v, n);
	if (failed)
		return -1;
	return n < rt->d->config->retention_batch_rows ? 1 : 0;
}

/* Phase 2, one batch: old alerts whose episode is gone or was none. */
static int
rt_batch_alerts(struct retention *rt)
{
	sqlite3_stmt	*st = rt_stmt(rt, RS_ALERT_CANDIDATES);
	int64_t		*seqs;
	size_t		 i, n = 0;
	int		 rc, failed = 0;

	seqs = xcalloc(rt->d->config->retention_batch_rows, sizeof *seqs);
	sqlite3_bind_int64(st, 1, rt->cur_alert);
	sqlite3_bind_int64(st, 2, rt->cutoff_ms);
	sqlite3_bind_int64(st, 3, rt->d->config->retention_batch_rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		seqs[n++] = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_DONE)
		failed = rt_fail(rt, RS_ALERT_CANDIDATES) == -1;
	sqlite3_reset(st);
	for (i = 0; !failed && i < n; i++)
		if (rt_alert(rt, seqs[i]) == -1)
			failed = 1;
	if (!failed && n > 0)
		rt->cur_alert = seqs[n - 1];
	free(seqs);
	if (failed)
		return -1;
	return n < rt->d->config->retention_batch_rows ? 1 : 0;
}

/* Phase 3, one batch: old locations nothing names any more. */
static int
rt_batch_locations(struct retention *rt)
{
	sqlite3_stmt	*st = rt_stmt(rt, RS_LOCATION_CANDIDATES);
	struct rt_names	 keys;
	size_t		 i;
	int		 rc, used, failed = 0;

	memset(&keys, 0, sizeof keys);
	sqlite3_bind_text(st, 1, rt->cur_key != NULL ? rt->cur_key : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rt->cutoff_ms);
	sqlite3_bind_int64(st, 3, rt->d->config->retention_batch_rows);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rt_names_add(&keys, (const char *)sqlite3_column_text(st, 0));
	if (rc != SQLITE_DONE)
		failed = rt_fail(rt, RS_LOCATION_CANDIDATES) == -1;
	sqlite3_reset(st);
	for (i = 0; !failed && i < keys.n; i++) {
		if ((used = rt_exists(rt, RS_LOCATION_USED, keys.v[i], NULL,
		    0)) == -1 || (used == 0 && rt_del_str(rt, RS_DEL_LOCATION,
		    keys.v[i], NULL, RT_LOCATIONS) == -1))
			failed = 1;
	}
	if (!failed && keys.n > 0) {
		free(rt->cur_key);
		rt->cur_key = xstrdup(keys.v[keys.n - 1]);
	}
	rc = keys.n < rt->d->config->retention_batch_rows ? 1 : 0;
	rt_names_free(&keys);
	return failed ? -1 : rc;
}

/* One batch of the current phase, in its own transaction.  0 or -1. */
static int
rt_batch(struct retention *rt)
{
	int	 rc;

	if (store_begin(rt->d->store) == -1)
		return -1;
	switch (rt->phase) {
	case RT_PHASE_EVENTS:
		rc = rt_batch_events(rt);
		break;
	case RT_PHASE_ALERTS:
		rc = rt_batch_alerts(rt);
		break;
	case RT_PHASE_LOCATIONS:
		rc = rt_batch_locations(rt);
		break;
	default:
		rc = 1;
		break;
	}
	if (rc == -1) {
		store_rollback(rt->d->store);
		return -1;
	}
	if (store_commit(rt->d->store) == -1)
		return -1;
	rt->batches++;
	if (rc == 1)
		rt->phase++;
	return 0;
}

/* The counts as a JSON object, every table named. */
static json_t *
rt_counts_json(const uint64_t *counts)
{
	json_t	*o = json_object();
	int	 i;

	for (i = 0; i < RT__COUNT; i++)
		json_object_set_new(o, rt_table_names[i],
		    json_integer((json_int_t)counts[i]));
	return o;
}

/* The log line's counts: events always, the other tables when not 0. */
static void
rt_counts_text(const uint64_t *counts, char *buf, size_t len)
{
	size_t	 n;
	int	 i;

	n = (size_t)snprintf(buf, len, "events %llu",
	    (unsigned long long)counts[RT_EVENTS]);
	for (i = RT_EVENTS + 1; i < RT__COUNT && n < len; i++)
		if (counts[i] != 0)
			n += (size_t)snprintf(buf + n, len - n, ", %s %llu",
			    rt_table_names[i], (unsigned long long)counts[i]);
}

/*
 * The purge ended (done, failed or stopped): log it, record it in the
 * audit trail with its counts, truncate the write-ahead log.
 */
static void
rt_finish(struct retention *rt)
{
	int64_t	 now = time_now_ms();
	json_t	*detail;
	char	 text[640], cutoff[TIME_RFC3339_LEN];
	int	 complete = !rt->failed && !rt->stopped;
	int	 i;

	rt_finalize(rt);
	rt->running = 0;
	time_format_rfc3339(rt->cutoff_ms, cutoff);
	rt_counts_text(rt->counts, text, sizeof text);
	if (complete)
		log_info("retention", "purge done, older than %s: %s (%u "
		    "batches, %lld ms)", cutoff, text, rt->batches,
		    (long long)(now - rt->started_ms));
	else
		log_warnx("retention", "purge %s after %u batches, older than "
		    "%s: %s; the rest goes at the next purge", rt->failed ?
		    "failed" : "stopped", rt->batches, cutoff, text);
	for (i = 0; i < RT__COUNT; i++)
		rt->total[i] += rt->counts[i];
	detail = json_pack("{s:s, s:I, s:b, s:s?, s:o, s:I, s:I}", "cutoff",
	    cutoff, "period_s", (json_int_t)(rt->d->config->
	    retention_period_ms / 1000), "complete", complete, "ended",
	    complete ? NULL : rt->failed ? "failed" : "stopped", "counts",
	    rt_counts_json(rt->counts), "batches", (json_int_t)rt->batches,
	    "duration_ms", (json_int_t)(now - rt->started_ms));
	json_decref(rt->last);
	rt->last = json_deep_copy(detail);
	rt->last_ms = now;
	snprintf(rt->last_actor, sizeof rt->last_actor, "%s", rt->actor);
	/* the purge is on the trail even when it failed half way */
	audit_record(rt->d->store, rt->actor, AUDIT_PURGE, NULL, detail);
	/* drop the old page images the write-ahead log may still hold */
	store_checkpoint_truncate(rt->d->store);
	free(rt->cur_key);
	rt->cur_key = NULL;
}

/* Run one batch, then let the loop serve everything else. */
static void
rt_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct retention	*rt = arg;
	struct timeval		 now = { 0, 0 };

	if (!rt->running)
		return;
	if (rt_batch(rt) == -1)
		rt->failed = 1;
	if (rt->failed || rt->phase == RT_PHASE_DONE) {
		rt_finish(rt);
		return;
	}
	/* a zero timeout: the loop polls its sockets before the next batch */
	event_add(rt->step, &now);
}

/* The next purge_at (UTC) after now. */
static int64_t
rt_next(struct retention *rt, int64_t now)
{
	int64_t	 tod = 0, t;

	if (time_parse_time_of_day(rt->d->config->retention_purge_at, &tod) ==
	    -1)
		tod = 3 * 3600 * 1000;
	t = now - now % RT_DAY_MS + tod;
	if (t <= now)
		t += RT_DAY_MS;
	return t;
}

/* Arm the daily timer for the next purge_at. */
static void
rt_schedule(struct retention *rt)
{
	int64_t		 now = time_now_ms(), wait;
	struct timeval	 tv;

	rt->next_ms = rt_next(rt, now);
	wait = rt->next_ms - now;
	tv = time_tv_ms(wait);
	event_add(rt->timer, &tv);
}

/* purge_at came. */
static void
rt_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct retention	*rt = arg;

	if (!rt->d->stopping && retention_start(rt, "misperd:schedule") == 0)
		log_info("retention", "the scheduled purge is skipped: one is "
		    "running");
	rt_schedule(rt);
}

/* Start a purge now; see retention.h. */
int
retention_start(struct retention *rt, const char *actor)
{
	struct timeval	 now = { 0, 0 };
	char		 cutoff[TIME_RFC3339_LEN];

	if (rt->running)
		return 0;
	memset(rt->counts, 0, sizeof rt->counts);
	rt->phase = RT_PHASE_EVENTS;
	rt->failed = rt->stopped = 0;
	rt->batches = 0;
	rt->started_ms = time_now_ms();
	rt->cutoff_ms = rt->started_ms - rt->d->config->retention_period_ms;
	rt->cur_at = INT64_MIN;
	rt->cur_seq = 0;
	rt->cur_alert = 0;
	free(rt->cur_key);
	rt->cur_key = NULL;
	snprintf(rt->actor, sizeof rt->actor, "%s", actor);
	rt->running = 1;
	time_format_rfc3339(rt->cutoff_ms, cutoff);
	log_info("retention", "purge started by %s: removing what is older "
	    "than %s", actor, cutoff);
	if (rt_prepare(rt) == -1) {
		rt->failed = 1;
		rt_finish(rt);
		return 1;
	}
	event_add(rt->step, &now);
	return 1;
}

int
retention_running(struct retention *rt)
{
	return rt != NULL && rt->running;
}

/* Stop between batches: record what was done. */
void
retention_stop(struct retention *rt)
{
	if (rt == NULL)
		return;
	event_del(rt->timer);
	if (!rt->running)
		return;
	event_del(rt->step);
	rt->stopped = 1;
	rt_finish(rt);
}

/* Warn when the period is shorter than a rule's look back. */
void
retention_check_rules(struct retention *rt, const struct rules *rules)
{
	int64_t	 longest = 365LL * RT_DAY_MS;	/* the brief's 365 days */
	size_t	 i;

	if (rt == NULL || rules == NULL)
		return;
	for (i = 0; i < rules->nrules; i++) {
		if (rules->rules[i].window_ms > longest)
			longest = rules->rules[i].window_ms;
		if (rules->rules[i].within_ms > longest)
			longest = rules->rules[i].within_ms;
	}
	if (rt->d->config->retention_period_ms < longest)
		log_warnx("retention", "retention.period (%lld days) is shorter "
		    "than the %lld days the rules and the brief look back: "
		    "repeat counts and scores will miss purged history",
		    (long long)(rt->d->config->retention_period_ms / RT_DAY_MS),
		    (long long)(longest / RT_DAY_MS));
}

/* Schedule the daily purge; start one now if the last is a day old. */
struct retention *
retention_new(struct daemon *d)
{
	struct retention	*rt;
	struct audit_row	 last;
	int64_t			 now = time_now_ms();
	int			 rc;

	rt = xcalloc(1, sizeof *rt);
	rt->d = d;
	if ((rt->timer = evtimer_new(d->base, rt_timer_cb, rt)) == NULL ||
	    (rt->step = evtimer_new(d->base, rt_step_cb, rt)) == NULL)
		fatalx("retention", "cannot create a timer");
	retention_check_rules(rt, d->rules);
	if ((rc = audit_last(d->store, AUDIT_PURGE, &last)) == 1) {
		rt->last_ms = last.at_ms;
		rt->last = last.detail;
		snprintf(rt->last_actor, sizeof rt->last_actor, "%s",
		    last.actor);
	}
	rt_schedule(rt);
	/* the daily purge was missed (misperd was down) or never ran */
	if (rc != 1 || now - last.at_ms >= RT_DAY_MS)
		retention_start(rt, "misperd:startup");
	return rt;
}

/* Stop, free the timers.  The store is still open. */
void
retention_free(struct retention *rt)
{
	if (rt == NULL)
		return;
	retention_stop(rt);
	rt_finalize(rt);
	if (rt->timer != NULL)
		event_free(rt->timer);
	if (rt->step != NULL)
		event_free(rt->step);
	json_decref(rt->last);
	free(rt->cur_key);
	free(rt);
}

/* misperd_purge_rows_total and misperd_last_purge_timestamp_seconds. */
void
retention_render_metrics(struct retention *rt, struct evbuffer *out)
{
	int	 i;

	evbuffer_add_printf(out, "# HELP misperd_purge_rows_total Rows "
	    "retention's purges removed since misperd started, by table.\n"
	    "# TYPE misperd_purge_rows_total counter\n");
	for (i = 0; i < RT__COUNT; i++)
		evbuffer_add_printf(out, "misperd_purge_rows_total{table=\"%s\"}"
		    " %llu\n", rt_table_names[i], rt != NULL ?
		    (unsigned long long)rt->total[i] : 0ULL);
	evbuffer_add_printf(out, "# HELP misperd_last_purge_timestamp_seconds "
	    "When the last purge ended (0: never), done or not.\n"
	    "# TYPE misperd_last_purge_timestamp_seconds gauge\n"
	    "misperd_last_purge_timestamp_seconds %lld.%03lld\n",
	    rt != NULL ? (long long)(rt->last_ms / 1000) : 0LL,
	    rt != NULL ? (long long)(rt->last_ms % 1000) : 0LL);
}

/* The state of retention for GET and POST /v1/admin/purge. */
static json_t *
rt_status(struct retention *rt)
{
	json_t	*o, *cur;
	char	 t[TIME_RFC3339_LEN];

	o = json_pack("{s:b, s:I, s:s}", "running", rt->running, "period_s",
	    (json_int_t)(rt->d->config->retention_period_ms / 1000),
	    "purge_at", rt->d->config->retention_purge_at);
	time_format_rfc3339(rt->next_ms, t);
	json_object_set_new(o, "next_at", json_string(t));
	if (rt->running) {
		time_format_rfc3339(rt->started_ms, t);
		cur = json_pack("{s:s, s:s, s:s, s:o}", "started_at", t,
		    "actor", rt->actor, "phase", rt_phase_names[rt->phase],
		    "counts", rt_counts_json(rt->counts));
		time_format_rfc3339(rt->cutoff_ms, t);
		json_object_set_new(cur, "cutoff", json_string(t));
		json_object_set_new(o, "current", cur);
	}
	if (rt->last_ms != 0) {
		cur = json_is_object(rt->last) ? json_deep_copy(rt->last) :
		    json_object();
		time_format_rfc3339(rt->last_ms, t);
		json_object_set_new(cur, "at", json_string(t));
		if (rt->last_actor[0] != '\0')
			json_object_set_new(cur, "actor",
			    json_string(rt->last_actor));
		json_object_set_new(o, "last", cur);
	} else
		json_object_set_new(o, "last", json_null());
	return o;
}

/* GET /v1/admin/purge: running or not, the last purge, the next. */
void
api_purge_status(struct http_req *r)
{
	http_reply_json(r, 200, rt_status(r->d->retention));
}

/* POST /v1/admin/purge: start a purge now (202; it runs in batches). */
void
api_purge_run(struct http_req *r)
{
	json_t	*body, *o;
	int	 started;

	if (!http_body_empty(r)) {
		if ((body = http_body_json(r)) == NULL)
			return;
		if (json_object_size(body) != 0) {
			json_decref(body);
			http_error(r, 400, "bad_request", NULL, "a purge takes "
			    "no parameters; send no body or {}");
			return;
		}
		json_decref(body);
	}
	if (r->d->stopping) {
		http_error(r, 503, "unavailable", NULL, "misperd is stopping; "
		    "no purge starts now");
		return;
	}
	started = retention_start(r->d->retention, r->actor);
	o = rt_status(r->d->retention);
	json_object_set_new(o, "started", json_boolean(started));
	http_reply_json(r, 202, o);
}
