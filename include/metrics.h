/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Prometheus metrics (GET /metrics, docs/metrics.md): the counters and
 * latency histograms the daemon keeps in memory, and the rendering of
 * those plus the state read from the store at scrape time (pending
 * deliveries, unacknowledged alerts, open deadlines) as text exposition
 * format 0.0.4.  The struct hangs off the daemon context; every hook
 * accepts a NULL struct metrics, so modules run without one in tests.
 */
#ifndef MISPER_METRICS_H
#define MISPER_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct evbuffer;
struct store;

/* Fixed histogram buckets, upper bounds in microseconds (100 us .. 10 s). */
#define METRICS_BUCKETS	16

struct metrics_hist {
	uint64_t	 counts[METRICS_BUCKETS + 1];	/* per bucket; last: +Inf */
	uint64_t	 count;
	uint64_t	 sum_us;
};

enum metrics_channel {
	METRICS_WEBHOOK = 0,
	METRICS_STREAM,
	METRICS_CHANNEL__COUNT
};

enum metrics_outcome {
	METRICS_DELIVERED = 0,
	METRICS_RETRY,
	METRICS_FAILED,
	METRICS_OUTCOME__COUNT
};

/*
 * Limits that bite, counted here (misperd_limit_hits_total).  The others
 * of that family are the counters their modules keep already: refused
 * connections (listener.c, subscribe.c), over-long lines (intake) and
 * streams cut off as too slow (deliveries_total).
 */
enum metrics_limit {
	METRICS_LIMIT_OUTPUT = 0,	/* limits.max_output_bytes */
	METRICS_LIMIT_IDLE_EVENTS,	/* limits.idle_timeout, events */
	METRICS_LIMIT_IDLE_SUBSCRIBERS,	/* limits.idle_timeout, streams */
	METRICS_LIMIT_EVENT_RATE,	/* limits.max_events_per_second */
	METRICS_LIMIT_HTTP_CONNECTIONS,	/* http.max_connections */
	METRICS_LIMIT_HTTP_BODY,	/* http.max_body_bytes */
	METRICS_LIMIT_HTTP_HEADER,	/* http.max_header_bytes */
	METRICS_LIMIT_HTTP_TIMEOUT,	/* http.timeout */
	METRICS_LIMIT__COUNT
};

struct metrics;

/* metrics.c */
extern const int64_t metrics_bucket_us[METRICS_BUCKETS];
/*
 * New metrics for a daemon started at start_ms (wall clock).  Alerts are
 * counted from those stored after store's newest one now (store may be
 * NULL: from the first).
 */
struct metrics	*metrics_new(struct store *, int64_t start_ms);
void		 metrics_free(struct metrics *);
/* Hooks: a batch's intake latency, one commit, one delivery outcome. */
void		 metrics_intake_latency(struct metrics *, int64_t us);
void		 metrics_commit_latency(struct metrics *, int64_t us);
void		 metrics_delivery(struct metrics *, enum metrics_channel,
		     enum metrics_outcome);
/* A limit bit once (a refusal, a pause, a cut-off). */
void		 metrics_limit_hit(struct metrics *, enum metrics_limit);
/* The store's commit timer (store_set_commit_timer): arg is the metrics. */
void		 metrics_commit_cb(void *arg, int64_t us);
/*
 * Render every family of docs/api.md into out.  0, or -1 when the store
 * could not be read (out then holds a partial text: answer 503).
 */
int		 metrics_render(struct daemon *, struct evbuffer *out);

/* The pieces, for the unit tests. */
void		 metrics_hist_observe(struct metrics_hist *, int64_t us);
void		 metrics_render_hist(struct evbuffer *, const char *name,
		     const char *help, const struct metrics_hist *);
/* A label value with \, " and newline escaped, without the quotes. */
void		 metrics_escape_label(struct evbuffer *, const char *);
/* A HELP text with \ and newline escaped. */
void		 metrics_escape_help(struct evbuffer *, const char *);
/* Microseconds as decimal seconds without trailing zeros ("0.00025"). */
void		 metrics_format_seconds(int64_t us, char *buf, size_t len);

#endif
