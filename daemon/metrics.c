/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Prometheus metrics.  Two kinds of number are exposed.  Counters and
 * histograms of things that happen (events, deliveries, latencies) are
 * kept in memory by hooks in the modules where they happen, or read from
 * the counters those modules keep already (intake_stats); they start at
 * zero with the process, as Prometheus expects of counters.  Gauges of
 * state (pending deliveries, unacknowledged alerts, open deadlines) are
 * read from the store at scrape time with queries that use its partial
 * indexes, so they are true whatever changed them (an acknowledgement
 * through any channel, a restart) and cost what is open, not the history.
 *
 * Alerts raised are counted from the store too, incrementally: each scrape
 * reads the alerts stored since the last one it saw (by seq, the primary
 * key) and adds them to per rule and level counts.  So only committed
 * alerts count (a batch rolled back raised nothing), the clock's deadline
 * alerts count with the events' ones, the engine needs no hook, and a
 * scrape costs the alerts raised since the previous scrape.
 *
 * Output follows the text exposition format 0.0.4: every family has
 * # HELP and # TYPE, label values escape \, " and newline, and every
 * labelled series the daemon knows of is shown from the start at 0, so a
 * rate() sees the first increase.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "intake.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "rules.h"
#include "store.h"
#include "subscribe.h"
#include "xmalloc.h"

#define METRICS_PREFIX	"misperd_"

/* Sub-millisecond commits up to a batch held up for seconds. */
const int64_t metrics_bucket_us[METRICS_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000
};

static const char *const metrics_channel_names[METRICS_CHANNEL__COUNT] = {
	[METRICS_WEBHOOK] = "webhook",
	[METRICS_STREAM] = "stream",
};

static const char *const metrics_outcome_names[METRICS_OUTCOME__COUNT] = {
	[METRICS_DELIVERED] = "delivered",
	[METRICS_RETRY] = "retry",
	[METRICS_FAILED] = "failed",
};

/* One alerts_raised_total series. */
struct metrics_alerts {
	char		*rule;
	char		*level;
	uint64_t	 n;
};

struct metrics {
	int64_t			 start_ms;
	struct metrics_hist	 intake;
	struct metrics_hist	 commit;
	uint64_t		 deliveries[METRICS_CHANNEL__COUNT]
				    [METRICS_OUTCOME__COUNT];
	uint64_t		 limit_hits[METRICS_LIMIT__COUNT];
	int64_t			 alerts_seq;	/* alerts up to here counted */
	struct metrics_alerts	*alerts;
	size_t			 nalerts;
};

/* # HELP and # TYPE of a family. */
static void
metrics_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP " METRICS_PREFIX "%s ", name);
	metrics_escape_help(out, help);
	evbuffer_add_printf(out, "\n# TYPE " METRICS_PREFIX "%s %s\n", name,
	    type);
}

/* One sample with up to two labels (k1 NULL: none; k2 NULL: one). */
static void
metrics_sample(struct evbuffer *out, const char *name, const char *k1,
    const char *v1, const char *k2, const char *v2, const char *value)
{
	evbuffer_add_printf(out, METRICS_PREFIX "%s", name);
	if (k1 != NULL) {
		evbuffer_add_printf(out, "{%s=\"", k1);
		metrics_escape_label(out, v1);
		if (k2 != NULL) {
			evbuffer_add_printf(out, "\",%s=\"", k2);
			metrics_escape_label(out, v2);
		}
		evbuffer_add(out, "\"}", 2);
	}
	evbuffer_add_printf(out, " %s\n", value);
}

/* A sample whose value is a count. */
static void
metrics_count(struct evbuffer *out, const char *name, const char *k1,
    const char *v1, const char *k2, const char *v2, uint64_t n)
{
	char	 value[24];

	snprintf(value, sizeof value, "%" PRIu64, n);
	metrics_sample(out, name, k1, v1, k2, v2, value);
}

/* The one-row, one-number answer of sql.  0 or -1. */
static int
metrics_scalar(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt	*st;
	int		 rc;

	*v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("metrics", "%s", sqlite3_errmsg(db));
		return -1;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	else
		log_warnx("metrics", "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* The alerts_raised_total series of (rule, level), made when new. */
static struct metrics_alerts *
metrics_alerts_get(struct metrics *m, const char *rule, const char *level)
{
	struct metrics_alerts	*a;
	size_t			 i;

	for (i = 0; i < m->nalerts; i++) {
		a = &m->alerts[i];
		if (strcmp(a->rule, rule) == 0 && strcmp(a->level, level) == 0)
			return a;
	}
	m->alerts = xreallocarray(m->alerts, m->nalerts + 1,
	    sizeof *m->alerts);
	a = &m->alerts[m->nalerts++];
	a->rule = xstrdup(rule);
	a->level = xstrdup(level);
	a->n = 0;
	return a;
}

/* Every level each enabled rule can raise is a series from the start. */
static void
metrics_alerts_declare(struct metrics *m, const struct rules *rules)
{
	const struct rule	*r;
	size_t			 i, j;

	for (i = 0; rules != NULL && i < rules->nrules; i++) {
		r = &rules->rules[i];
		if (!r->enabled)
			continue;
		if (r->kind == RULE_REPEAT || r->kind == RULE_SCORE) {
			for (j = 0; j < r->nthresholds; j++)
				metrics_alerts_get(m, r->id,
				    level_name(r->thresholds[j].level));
		} else
			metrics_alerts_get(m, r->id, level_name(r->level));
	}
}

/* Count the alerts committed since the last scrape.  0 or -1. */
static int
metrics_alerts_update(struct metrics *m, sqlite3 *db)
{
	sqlite3_stmt	*st;
	const char	*rule, *level;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT seq, rule_id, level FROM alerts"
	    " WHERE seq > ?1 ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("metrics", "%s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, m->alerts_seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rule = (const char *)sqlite3_column_text(st, 1);
		level = (const char *)sqlite3_column_text(st, 2);
		if (rule != NULL && level != NULL)
			metrics_alerts_get(m, rule, level)->n++;
		m->alerts_seq = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE)
		log_warnx("metrics", "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* qsort: by rule, then level. */
static int
metrics_alerts_cmp(const void *a, const void *b)
{
	const struct metrics_alerts	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->rule, y->rule)) != 0)
		return c;
	return strcmp(x->level, y->level);
}

/* Unacknowledged alerts by level into open[].  0 or -1. */
static int
metrics_open_alerts(sqlite3 *db, uint64_t *open)
{
	sqlite3_stmt	*st;
	enum level	 lv;
	int		 rc;

	/* the partial index alerts_unacked holds exactly these rows */
	if (sqlite3_prepare_v2(db, "SELECT level, COUNT(*) FROM alerts"
	    " WHERE ack_at_ms IS NULL GROUP BY level", -1, &st, NULL) !=
	    SQLITE_OK) {
		log_warnx("metrics", "%s", sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (name != NULL && level_parse(name, &lv) == 0)
			open[lv] += (uint64_t)sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE)
		log_warnx("metrics", "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* events_received_total, events_rejected_total, events_duplicate_total. */
static void
metrics_render_events(struct daemon *d, struct evbuffer *out)
{
	const struct intake_stats	*st = NULL;
	struct intake_stats		 none;
	int				 i;

	memset(&none, 0, sizeof none);
	if (d->intake != NULL)
		st = intake_stats(d->intake);
	if (st == NULL)
		st = &none;
	metrics_family(out, "events_received_total", "counter",
	    "Events accepted and stored, by type (resends of a stored event "
	    "are counted as duplicates instead).");
	for (i = 0; i < EVT__COUNT; i++)
		metrics_count(out, "events_received_total", "type",
		    event_type_name(i), NULL, NULL, st->received[i]);
	metrics_family(out, "events_rejected_total", "counter",
	    "Lines refused with an error reply, by error code "
	    "(docs/protocol.md section 3).");
	for (i = EVERR_NONE + 1; i < EVERR__COUNT; i++)
		metrics_count(out, "events_rejected_total", "error",
		    ev_error_name(i), NULL, NULL, st->rejected[i]);
	metrics_family(out, "events_duplicate_total", "counter",
	    "Resends of an event already stored with the same content "
	    "(answered ok, nothing changed).");
	metrics_count(out, "events_duplicate_total", NULL, NULL, NULL, NULL,
	    st->duplicates);
}

/* alerts_raised_total and alerts_unacknowledged.  0 or -1. */
static int
metrics_render_alerts(struct daemon *d, struct evbuffer *out, sqlite3 *db)
{
	struct metrics		*m = d->metrics;
	uint64_t		 open[LEVEL__COUNT];
	enum level		 lv;
	size_t			 i;
	int			 rc = 0;

	metrics_alerts_declare(m, d->rules);
	if (db != NULL && metrics_alerts_update(m, db) == -1)
		rc = -1;
	qsort(m->alerts, m->nalerts, sizeof *m->alerts, metrics_alerts_cmp);
	metrics_family(out, "alerts_raised_total", "counter",
	    "Alerts committed since the daemon started, by rule and level "
	    "(deadline alerts fired by the clock included).");
	for (i = 0; i < m->nalerts; i++)
		metrics_count(out, "alerts_raised_total", "rule",
		    m->alerts[i].rule, "level", m->alerts[i].level,
		    m->alerts[i].n);

	memset(open, 0, sizeof open);
	if (db != NULL && metrics_open_alerts(db, open) == -1)
		rc = -1;
	metrics_family(out, "alerts_unacknowledged", "gauge",
	    "Alerts nobody has acknowledged yet, by level.");
	for (lv = LEVEL_NONE + 1; lv < LEVEL__COUNT; lv++)
		metrics_count(out, "alerts_unacknowledged", "level",
		    level_name(lv), NULL, NULL, open[lv]);
	return rc;
}

/* deliveries_total and deliveries_pending.  0 or -1. */
static int
metrics_render_deliveries(struct daemon *d, struct evbuffer *out,
    sqlite3 *db)
{
	struct metrics	*m = d->metrics;
	int64_t		 pending = 0;
	int		 c, o, rc = 0;

	metrics_family(out, "deliveries_total", "counter",
	    "Delivery outcomes: webhook attempts (delivered on a 2xx, retry, "
	    "failed at the give-up age) and alert lines sent to subscriber "
	    "streams (failed: a stream cut off as too slow).");
	for (c = 0; c < METRICS_CHANNEL__COUNT; c++) {
		for (o = 0; o < METRICS_OUTCOME__COUNT; o++) {
			/* streams are never retried: they catch up instead */
			if (c == METRICS_STREAM && o == METRICS_RETRY)
				continue;
			metrics_count(out, "deliveries_total", "channel",
			    metrics_channel_names[c], "outcome",
			    metrics_outcome_names[o], m->deliveries[c][o]);
		}
	}
	/*
	 * An outbox row is pending until resolved into webhook rows (the
	 * partial index deliveries_unresolved) and then while any of its
	 * webhook rows is (webhook_deliveries_due); the two never overlap.
	 * Without INDEXED BY the planner reads the whole table for the
	 * DISTINCT in primary key order.
	 */
	if (db != NULL && metrics_scalar(db, "SELECT"
	    " (SELECT COUNT(*) FROM deliveries WHERE channels IS NULL) +"
	    " (SELECT COUNT(*) FROM (SELECT DISTINCT alert_seq, route"
	    " FROM webhook_deliveries INDEXED BY webhook_deliveries_due"
	    " WHERE status = 'pending'))",
	    &pending) == -1)
		rc = -1;
	metrics_family(out, "deliveries_pending", "gauge",
	    "Alert deliveries (one per alert and route) not yet delivered "
	    "or failed.");
	metrics_count(out, "deliveries_pending", NULL, NULL, NULL, NULL,
	    (uint64_t)pending);
	return rc;
}

/* deadlines_open, subscribers_connected, connections_open.  0 or -1. */
static int
metrics_render_state(struct daemon *d, struct evbuffer *out, sqlite3 *db)
{
	int64_t	 deadlines = 0;
	int	 rc = 0;

	/*
	 * The partial index of the pending ones, named: the planner's own
	 * choice of it over a scan of every deadline ever is a close call.
	 */
	if (db != NULL && metrics_scalar(db, "SELECT COUNT(*) FROM deadlines"
	    " INDEXED BY deadlines_pending WHERE status = 'pending'",
	    &deadlines) == -1)
		rc = -1;
	metrics_family(out, "deadlines_open", "gauge",
	    "Deadline rules running: an expected event has not come yet.");
	metrics_count(out, "deadlines_open", NULL, NULL, NULL, NULL,
	    (uint64_t)deadlines);
	metrics_family(out, "subscribers_connected", "gauge",
	    "Alert streams that have subscribed to routes.");
	metrics_count(out, "subscribers_connected", NULL, NULL, NULL, NULL,
	    d->subscribers != NULL ? subscribers_streams(d->subscribers) : 0);
	metrics_family(out, "connections_open", "gauge",
	    "Open connections, by listener: event intake, alert streams "
	    "(subscribed or not) and the HTTP API.");
	metrics_count(out, "connections_open", "listener", "events", NULL,
	    NULL, d->listener != NULL ? listener_connections(d->listener) : 0);
	metrics_count(out, "connections_open", "listener", "subscribers",
	    NULL, NULL, d->subscribers != NULL ?
	    subscribers_count(d->subscribers) : 0);
	metrics_count(out, "connections_open", "listener", "http", NULL, NULL,
	    http_connections(d->http));
	return rc;
}

/*
 * limit_hits_total: one series per limit and listener, each named by its
 * configuration key.  Where a module counted the bite already (refused
 * connections, over-long lines, streams cut off) its counter is read.
 */
static void
metrics_render_limits(struct daemon *d, struct evbuffer *out)
{
	const uint64_t		*hit = d->metrics->limit_hits;
	const struct intake_stats *st = d->intake != NULL ?
				    intake_stats(d->intake) : NULL;
	const struct {
		const char	*limit;
		const char	*listener;
		uint64_t	 n;
	} rows[] = {
		{ "limits.max_connections", "events", d->listener != NULL ?
		    listener_refused(d->listener) : 0 },
		{ "limits.max_line_bytes", "events", st != NULL ?
		    st->rejected[EVERR_LINE_TOO_LONG] : 0 },
		{ "limits.max_output_bytes", "events",
		    hit[METRICS_LIMIT_OUTPUT] },
		{ "limits.idle_timeout", "events",
		    hit[METRICS_LIMIT_IDLE_EVENTS] },
		{ "limits.max_events_per_second", "events",
		    hit[METRICS_LIMIT_EVENT_RATE] },
		{ "subscribers.max_subscribers", "subscribers",
		    subscribers_refused(d->subscribers) },
		{ "subscribers.max_buffer_bytes", "subscribers",
		    d->metrics->deliveries[METRICS_STREAM][METRICS_FAILED] },
		{ "limits.idle_timeout", "subscribers",
		    hit[METRICS_LIMIT_IDLE_SUBSCRIBERS] },
		{ "http.max_connections", "http",
		    hit[METRICS_LIMIT_HTTP_CONNECTIONS] },
		{ "http.max_body_bytes", "http", hit[METRICS_LIMIT_HTTP_BODY] },
		{ "http.max_header_bytes", "http",
		    hit[METRICS_LIMIT_HTTP_HEADER] },
		{ "http.timeout", "http", hit[METRICS_LIMIT_HTTP_TIMEOUT] },
	};
	size_t			 i;

	metrics_family(out, "limit_hits_total", "counter",
	    "Times a configured limit bit, by its key and listener: "
	    "connections refused, lines and requests refused as too large, "
	    "connections paused (output, event rate) or closed (timeouts, "
	    "streams too slow).");
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		metrics_count(out, "limit_hits_total", "limit", rows[i].limit,
		    "listener", rows[i].listener, rows[i].n);
}

/* rules_info and start_time_seconds. */
static void
metrics_render_info(struct daemon *d, struct evbuffer *out)
{
	char	 value[32];

	metrics_family(out, "rules_info", "gauge",
	    "The rules in use: always 1, with the version (sha256 of the "
	    "file) and path as labels.");
	if (d->rules != NULL)
		metrics_sample(out, "rules_info", "version", d->rules->version,
		    "path", d->rules->path != NULL ? d->rules->path : "", "1");
	metrics_family(out, "start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the Unix epoch.");
	snprintf(value, sizeof value, "%lld.%03lld",
	    (long long)(d->metrics->start_ms / 1000),
	    (long long)(d->metrics->start_ms % 1000));
	metrics_sample(out, "start_time_seconds", NULL, NULL, NULL, NULL,
	    value);
}

/* New metrics; alerts after the newest stored now are counted. */
struct metrics *
metrics_new(struct store *store, int64_t start_ms)
{
	struct metrics	*m;

	m = xcalloc(1, sizeof *m);
	m->start_ms = start_ms;
	if (store != NULL && metrics_scalar(store_db(store),
	    "SELECT COALESCE(MAX(seq), 0) FROM alerts", &m->alerts_seq) == -1)
		log_warnx("metrics", "alerts raised before this start may be "
		    "counted at the first scrape");
	return m;
}

/* Free.  Accepts NULL. */
void
metrics_free(struct metrics *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nalerts; i++) {
		free(m->alerts[i].rule);
		free(m->alerts[i].level);
	}
	free(m->alerts);
	free(m);
}

/* Count one observation of us microseconds. */
void
metrics_hist_observe(struct metrics_hist *h, int64_t us)
{
	size_t	 i;

	if (us < 0)
		us = 0;
	for (i = 0; i < METRICS_BUCKETS; i++)
		if (us <= metrics_bucket_us[i])
			break;
	h->counts[i]++;
	h->count++;
	h->sum_us += (uint64_t)us;
}

/* A batch: from taking its first line to its replies queued. */
void
metrics_intake_latency(struct metrics *m, int64_t us)
{
	if (m != NULL)
		metrics_hist_observe(&m->intake, us);
}

/* One COMMIT. */
void
metrics_commit_latency(struct metrics *m, int64_t us)
{
	if (m != NULL)
		metrics_hist_observe(&m->commit, us);
}

/* The store's commit timer. */
void
metrics_commit_cb(void *arg, int64_t us)
{
	metrics_commit_latency(arg, us);
}

/* One delivery outcome. */
void
metrics_delivery(struct metrics *m, enum metrics_channel c,
    enum metrics_outcome o)
{
	if (m != NULL && c < METRICS_CHANNEL__COUNT &&
	    o < METRICS_OUTCOME__COUNT)
		m->deliveries[c][o]++;
}

/* A limit bit once. */
void
metrics_limit_hit(struct metrics *m, enum metrics_limit l)
{
	if (m != NULL && l < METRICS_LIMIT__COUNT)
		m->limit_hits[l]++;
}

/* Microseconds as seconds: "0.00025", "1", "2.5". */
void
metrics_format_seconds(int64_t us, char *buf, size_t len)
{
	char	*p;

	if (us < 0)
		us = 0;
	snprintf(buf, len, "%lld.%06lld", (long long)(us / 1000000),
	    (long long)(us % 1000000));
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
}

/* A histogram family: cumulative buckets, +Inf, _sum and _count. */
void
metrics_render_hist(struct evbuffer *out, const char *name,
    const char *help, const struct metrics_hist *h)
{
	uint64_t	 cum = 0;
	char		 le[32], sum[32];
	size_t		 i;

	metrics_family(out, name, "histogram", help);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->counts[i];
		metrics_format_seconds(metrics_bucket_us[i], le, sizeof le);
		evbuffer_add_printf(out, METRICS_PREFIX "%s_bucket{le=\"%s\"} %"
		    PRIu64 "\n", name, le, cum);
	}
	cum += h->counts[METRICS_BUCKETS];
	metrics_format_seconds((int64_t)h->sum_us, sum, sizeof sum);
	evbuffer_add_printf(out, METRICS_PREFIX "%s_bucket{le=\"+Inf\"} %"
	    PRIu64 "\n" METRICS_PREFIX "%s_sum %s\n" METRICS_PREFIX
	    "%s_count %" PRIu64 "\n", name, cum, name, sum, name, h->count);
}

/* Escape a label value: backslash, double quote and line feed. */
void
metrics_escape_label(struct evbuffer *out, const char *s)
{
	const char	*p;

	for (p = s; p != NULL && *p != '\0'; p++) {
		if (*p == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*p == '"')
			evbuffer_add(out, "\\\"", 2);
		else if (*p == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, p, 1);
	}
}

/* Escape a HELP text: backslash and line feed. */
void
metrics_escape_help(struct evbuffer *out, const char *s)
{
	const char	*p;

	for (p = s; p != NULL && *p != '\0'; p++) {
		if (*p == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*p == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, p, 1);
	}
}

/* GET /metrics. */
void
api_metrics(struct http_req *r)
{
	struct evbuffer	*out;

	if ((out = evbuffer_new()) == NULL)
		fatalx("metrics", "out of memory");
	if (metrics_render(r->d, out) == -1)
		http_error(r, 503, "unavailable", NULL, "the database could not "
		    "be read for the metrics; try again later");
	else
		http_reply_text(r, 200, "text/plain; version=0.0.4; "
		    "charset=utf-8", out);
	evbuffer_free(out);
}

/* Every family of docs/api.md. */
int
metrics_render(struct daemon *d, struct evbuffer *out)
{
	sqlite3	*db = d->store != NULL ? store_db(d->store) : NULL;
	int	 rc = 0;

	metrics_render_events(d, out);
	if (metrics_render_alerts(d, out, db) == -1)
		rc = -1;
	if (metrics_render_deliveries(d, out, db) == -1)
		rc = -1;
	if (metrics_render_state(d, out, db) == -1)
		rc = -1;
	metrics_render_limits(d, out);
	metrics_render_hist(out, "intake_latency_seconds", "From taking a "
	    "batch of lines off a connection to its replies queued (decoding, "
	    "rules, brief and the commit).", &d->metrics->intake);
	metrics_render_hist(out, "commit_latency_seconds", "One SQLite COMMIT "
	    "(the fsync of the write-ahead log), of intake, the clock, "
	    "deliveries and acknowledgements.", &d->metrics->commit);
	metrics_render_info(d, out);
	retention_render_metrics(d->retention, out);
	return rc;
}
