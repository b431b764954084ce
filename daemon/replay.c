/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Replay: the same intake and engine code as the live daemon, on a scratch
 * database in a temporary directory, with a simulated clock.  Before each
 * event the clock moves to the event's time (never backwards), firing every
 * deadline due by then; at the end it stops at the last event's time, or
 * runs on to --until.  Alerts are printed as contract objects, one per
 * line, on out; a summary by rule and level goes to err.
 *
 * Memory stays flat whatever the number of alerts: each alert goes to a
 * spool file (unlinked at once) as it is raised, with only its count by
 * rule and level kept; the spool is copied to out once the run has
 * succeeded (a run that fails prints no alerts).  A comparison
 * (--against) keeps, per alert of each run, its key and its offset in the
 * spool, not the alert.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "decode.h"
#include "engine.h"
#include "intake.h"
#include "log.h"
#include "replay.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

/* The alerts of one run: spooled, counted by rule and level. */
struct replay_alerts {
	FILE			*spool;		/* one alert per line */
	json_t			*counts;	/* "rule level": count */
	size_t			 n;
	int			 failed;	/* a write to the spool failed */
};

struct replay {
	const struct replay_opts *opts;
	FILE			*err;
	char			 dir[4096];
	struct rules		*rules;
	struct store		*store;
	struct engine		*engine;
	struct intake		*intake;
	int64_t			 clock;		/* simulated, event time */
	int64_t			 last_alert;
	struct replay_alerts	*alerts;	/* every alert raised */
	size_t			 lines, rejected;
};

/* The simulated clock, for alert stamps. */
static int64_t
replay_clock(void *arg)
{
	struct replay	*r = arg;

	return r->clock;
}

/* Count an alert by rule and level. */
static void
replay_count(json_t *counts, const char *rule, const char *level)
{
	char	 k[300];

	snprintf(k, sizeof k, "%s %s", rule, level);
	json_object_set_new(counts, k, json_integer(
	    json_integer_value(json_object_get(counts, k)) + 1));
}

/*
 * Spool and count each new alert.  The stored body is already the compact
 * JSON of the alert in its order (alertdb_insert()), so it is written as
 * it is, and counted by its rule and level columns: parsing it again and
 * dumping it was 15% of a replay.
 */
static void
replay_collect(const char *body, const char *rule, const char *level,
    void *arg)
{
	struct replay		*r = arg;
	struct replay_alerts	*ra = r->alerts;

	if (body == NULL || rule == NULL || level == NULL)
		return;
	replay_count(ra->counts, rule, level);
	ra->n++;
	if (fprintf(ra->spool, "%s\n", body) < 0)
		ra->failed = 1;
}

/* An empty spool: a file in TMPDIR, unlinked at once.  NULL on failure. */
static FILE *
replay_spool_new(FILE *err)
{
	const char	*tmp = getenv("TMPDIR");
	char		 path[4096];
	FILE		*f;
	int		 fd;

	snprintf(path, sizeof path, "%s/misperd-replay-alerts.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if ((fd = mkstemp(path)) == -1) {
		fprintf(err, "cannot make a spool file for the alerts: %s\n",
		    strerror(errno));
		return NULL;
	}
	unlink(path);
	if ((f = fdopen(fd, "w+")) == NULL) {
		fprintf(err, "cannot make a spool file for the alerts: %s\n",
		    strerror(errno));
		close(fd);
	}
	return f;
}

/* A new, empty set of alerts; NULL when no spool can be made. */
static struct replay_alerts *
replay_alerts_new(FILE *err)
{
	struct replay_alerts	*ra;

	ra = xcalloc(1, sizeof *ra);
	if ((ra->spool = replay_spool_new(err)) == NULL) {
		free(ra);
		return NULL;
	}
	ra->counts = json_object();
	return ra;
}

/* Free a set of alerts.  Accepts NULL. */
static void
replay_alerts_free(struct replay_alerts *ra)
{
	if (ra == NULL)
		return;
	if (ra->spool != NULL)
		fclose(ra->spool);
	json_decref(ra->counts);
	free(ra);
}

/*
 * Read the spooled alerts from the start: each line in turn with its
 * offset, parsed when parse is set (else *a is NULL).  1, 0 at the end.
 */
static int
replay_spool_next(struct replay_alerts *ra, char **line, size_t *cap,
    off_t *off, int parse, json_t **a)
{
	ssize_t	 n;

	*off = ftello(ra->spool);
	if ((n = getline(line, cap, ra->spool)) == -1)
		return 0;
	if (n > 0 && (*line)[n - 1] == '\n')
		(*line)[--n] = '\0';
	*a = parse ? json_loads(*line, 0, NULL) : NULL;
	return 1;
}

/* The alert at offset off of the spool (a new reference), or NULL. */
static json_t *
replay_spool_at(struct replay_alerts *ra, off_t off)
{
	char	*line = NULL;
	size_t	 cap = 0;
	off_t	 at;
	json_t	*a = NULL;

	if (fseeko(ra->spool, off, SEEK_SET) == 0)
		replay_spool_next(ra, &line, &cap, &at, 1, &a);
	free(line);
	return a;
}

/* Move the clock to t (never back) and fire what falls due. */
static int
replay_advance(struct replay *r, int64_t t)
{
	int64_t	 due;
	int	 rc;

	if (t > r->clock)
		r->clock = t;
	/*
	 * Most lines have nothing due: skip the empty transaction (a commit
	 * and a WAL frame per line) and the alerts query.
	 */
	if ((rc = engine_next_due(r->engine, &due)) == -1)
		return -1;
	if (rc == 0 || due > r->clock)
		return 0;
	if (store_begin(r->store) == -1)
		return -1;
	if (engine_tick(r->engine, r->clock, r->clock, NULL) == -1) {
		store_rollback(r->store);
		engine_abort(r->engine);
		return -1;
	}
	if (store_commit(r->store) == -1) {
		engine_abort(r->engine);
		return -1;
	}
	/* inside a batch, replay_batch_end() commits */
	if (!store_in_batch(r->store))
		engine_commit(r->engine);
	return engine_alerts_after(r->engine, &r->last_alert, replay_collect,
	    r);
}

/* One input line: clock, then intake; a refused line is reported. */
static int
replay_line(struct replay *r, char *line, size_t len)
{
	struct intake_item	 it;
	struct decode_opts	 opts = { rules_indicator_known, r->rules };
	struct mevent		*ev;
	int			 rc = 0;

	memset(&it, 0, sizeof it);
	if ((ev = decode_event(line, len, &opts, &it.err)) != NULL) {
		if (replay_advance(r, ev->at_ms) == -1) {
			mevent_free(ev);
			return -1;
		}
		it.decoded = ev;	/* intake need not decode it again */
	}
	it.line = line;
	it.len = len;
	intake_run(r->intake, &it, 1);
	/* what the reply says, without parsing it: refused lines carry it */
	if (it.err.code != EVERR_NONE) {
		r->rejected++;
		fprintf(r->err, "%s:%zu: %s: %s\n", r->opts->events, r->lines,
		    ev_error_name(it.err.code), it.err.message);
		if (it.err.code == EVERR_UNAVAILABLE)
			rc = -1;
	}
	intake_item_clear(&it);
	if (rc == 0)
		rc = engine_alerts_after(r->engine, &r->last_alert,
		    replay_collect, r);
	return rc;
}

/*
 * Lines per transaction.  The scratch database is thrown away, so only
 * the cost matters; what each line sees is the same (one connection).
 */
#define REPLAY_BATCH	1024

/*
 * Commit the batch's transaction: only now has what the engine raised in
 * it committed (a rollback inside the batch has had it forget).  0 or -1.
 */
static int
replay_batch_end(struct replay *r)
{
	if (store_batch_end(r->store) == -1) {
		engine_abort(r->engine);
		return -1;
	}
	engine_commit(r->engine);
	return 0;
}

/* Read every line of the events file through replay_line. */
static int
replay_feed(struct replay *r, FILE *in)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, in)) != -1) {
		size_t len = (size_t)n;

		if (r->lines % REPLAY_BATCH == 0 && (replay_batch_end(r) == -1 ||
		    store_batch_begin(r->store) == -1)) {
			rc = -1;
			break;
		}
		r->lines++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > r->opts->max_line) {
			r->rejected++;
			fprintf(r->err, "%s:%zu: line_too_long: longer than "
			    "%zu bytes\n", r->opts->events, r->lines,
			    r->opts->max_line);
			continue;
		}
		rc = replay_line(r, line, len);
	}
	free(line);
	if (replay_batch_end(r) == -1)
		rc = -1;
	if (rc == 0 && ferror(in)) {
		fprintf(r->err, "%s: read error: %s\n", r->opts->events,
		    strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Remove the scratch database and its directory. */
static void
replay_cleanup(struct replay *r)
{
	static const char *const files[] = { "replay.db", "replay.db-wal",
	    "replay.db-shm" };
	char	 path[sizeof r->dir + 32];
	size_t	 i;

	intake_free(r->intake);
	engine_free(r->engine);
	store_free(r->store);
	rules_free(r->rules);
	if (r->dir[0] != '\0') {
		for (i = 0; i < sizeof files / sizeof files[0]; i++) {
			snprintf(path, sizeof path, "%s/%s", r->dir, files[i]);
			unlink(path);
		}
		rmdir(r->dir);
	}
}

/* Run the events through one rules file; the alerts go into *alerts. */
static int
replay_once(const struct replay_opts *opts, const char *rules_path,
    FILE *err, struct replay_alerts **alerts)
{
	struct replay	 r;
	struct decode_opts dopts;
	const char	*tmp = getenv("TMPDIR");
	char		 path[sizeof r.dir + 16], *cause = NULL;
	FILE		*in;
	int		 rc = 2;

	memset(&r, 0, sizeof r);
	r.opts = opts;
	r.err = err;
	*alerts = NULL;
	r.clock = INT64_MIN;
	if ((r.alerts = replay_alerts_new(err)) == NULL)
		return 2;
	if ((r.rules = rules_load(rules_path, &cause)) == NULL) {
		fprintf(err, "%s\n", cause);
		free(cause);
		goto done;
	}
	snprintf(r.dir, sizeof r.dir, "%s/misperd-replay.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(r.dir) == NULL) {
		fprintf(err, "cannot make a scratch directory: %s\n",
		    strerror(errno));
		r.dir[0] = '\0';
		goto done;
	}
	snprintf(path, sizeof path, "%s/replay.db", r.dir);
	if ((r.store = store_open(path, &cause)) == NULL) {
		fprintf(err, "%s\n", cause);
		free(cause);
		goto done;
	}
	if (store_set_replay(r.store) == -1) {
		fprintf(err, "%s: cannot set up the scratch database: %s\n",
		    path, store_errmsg(r.store));
		goto done;
	}
	r.engine = engine_new(r.store);
	engine_set_rules(r.engine, r.rules);
	dopts.indicator_known = rules_indicator_known;
	dopts.arg = r.rules;
	r.intake = intake_new(r.store, r.engine, NULL, &dopts);
	intake_set_clock(r.intake, replay_clock, &r);
	intake_set_no_replies(r.intake);
	if (strcmp(opts->events, "-") == 0)
		in = stdin;
	else if ((in = fopen(opts->events, "r")) == NULL) {
		fprintf(err, "%s: cannot read: %s\n", opts->events,
		    strerror(errno));
		goto done;
	}
	rc = replay_feed(&r, in);
	if (in != stdin)
		fclose(in);
	if (rc == 0 && r.clock != INT64_MIN)
		rc = replay_advance(&r, opts->until_ms >= 0 ? opts->until_ms :
		    r.clock);
	if (rc == -1) {
		fprintf(err, "replay stopped: storage error: %s\n",
		    store_errmsg(r.store));
		rc = 2;
	} else if (r.alerts->failed || fflush(r.alerts->spool) == EOF) {
		fprintf(err, "replay stopped: cannot write the alerts' spool "
		    "file: %s\n", strerror(errno));
		rc = 2;
	} else
		rc = r.rejected > 0 ? 1 : 0;
	fprintf(err, "%s with %s: %zu lines, %zu refused, %zu alerts\n",
	    opts->events, rules_path, r.lines, r.rejected, r.alerts->n);
done:
	replay_cleanup(&r);
	*alerts = r.alerts;
	return rc;
}

/* The count of alerts by rule and level, printed to err. */
static void
replay_summary(struct replay_alerts *ra, const char *title, FILE *err)
{
	json_t		*v;
	const char	*key;

	fprintf(err, "%s: alerts by rule and level\n", title);
	json_object_foreach(ra->counts, key, v)
		fprintf(err, "  %-48s %6lld\n", key,
		    (long long)json_integer_value(v));
}

/* Print one JSON value as a line. */
static void
replay_print(json_t *v, FILE *out)
{
	char	*s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

	fprintf(out, "%s\n", s);
	free(s);
}

/* Print a new JSON value as a line and release it. */
static void
replay_print_new(json_t *v, FILE *out)
{
	replay_print(v, out);
	json_decref(v);
}

/* What identifies "the same alert" under two rule sets. */
static void
replay_key(json_t *a, char *buf, size_t len)
{
	json_t	*ep = json_object_get(a, "episode");

	snprintf(buf, len, "%s|%s|%s|%s",
	    json_string_value(json_object_get(a, "rule")),
	    json_string_value(json_object_get(a, "child")),
	    json_is_string(ep) ? json_string_value(ep) : "",
	    json_string_value(json_object_get(a, "event_at")));
}

/* Index the spooled alerts: key to the offset of the last with it. */
static json_t *
replay_index(struct replay_alerts *ra)
{
	json_t	*idx = json_object(), *a;
	char	 k[600], *line = NULL;
	size_t	 cap = 0;
	off_t	 off;

	rewind(ra->spool);
	while (replay_spool_next(ra, &line, &cap, &off, 1, &a)) {
		if (a == NULL)
			continue;
		replay_key(a, k, sizeof k);
		json_object_set_new(idx, k, json_integer((json_int_t)off));
		json_decref(a);
	}
	free(line);
	return idx;
}

/* Print what differs between the alerts of rules a and rules b. */
static size_t
replay_diff(struct replay_alerts *ra, struct replay_alerts *rb, FILE *out)
{
	json_t	*ia = replay_index(ra), *ib = replay_index(rb), *a, *b, *o;
	char	 k[600], *line = NULL;
	size_t	 cap = 0, n = 0;
	off_t	 off, next;

	rewind(ra->spool);
	while (replay_spool_next(ra, &line, &cap, &off, 1, &a)) {
		if (a == NULL)
			continue;
		replay_key(a, k, sizeof k);
		next = ftello(ra->spool);
		if ((o = json_object_get(ib, k)) == NULL) {
			replay_print_new(json_pack("{s:s, s:O}", "diff", "only_a",
			    "alert", a), out);
			n++;
		} else if ((b = replay_spool_at(rb, (off_t)
		    json_integer_value(o))) != NULL) {
			if (!json_equal(json_object_get(a, "level"),
			    json_object_get(b, "level"))) {
				replay_print_new(json_pack("{s:s, s:O, s:O}",
				    "diff", "level", "a", a, "b", b), out);
				n++;
			}
			json_decref(b);
		}
		json_decref(a);
		fseeko(ra->spool, next, SEEK_SET);
	}
	rewind(rb->spool);
	while (replay_spool_next(rb, &line, &cap, &off, 1, &b)) {
		if (b == NULL)
			continue;
		replay_key(b, k, sizeof k);
		if (json_object_get(ia, k) == NULL) {
			replay_print_new(json_pack("{s:s, s:O}", "diff", "only_b",
			    "alert", b), out);
			n++;
		}
		json_decref(b);
	}
	free(line);
	json_decref(ia);
	json_decref(ib);
	return n;
}

/* Copy the spooled alerts to out, as they were raised. */
static void
replay_print_all(struct replay_alerts *ra, FILE *out)
{
	char	 buf[65536];
	size_t	 n;

	rewind(ra->spool);
	while ((n = fread(buf, 1, sizeof buf, ra->spool)) > 0)
		fwrite(buf, 1, n, out);
}

/* Run a replay (and a comparison when asked).  Returns the exit status. */
int
replay_run(const struct replay_opts *opts, FILE *out, FILE *err)
{
	struct replay_alerts	*a = NULL, *b = NULL;
	size_t			 n;
	int			 rc, rc2;

	rc = replay_once(opts, opts->rules, err, &a);
	if (rc != 2 && opts->against == NULL) {
		replay_print_all(a, out);
		replay_summary(a, opts->rules, err);
	}
	if (rc != 2 && opts->against != NULL) {
		if ((rc2 = replay_once(opts, opts->against, err, &b)) == 2)
			rc = 2;
		else {
			n = replay_diff(a, b, out);
			replay_summary(a, opts->rules, err);
			replay_summary(b, opts->against, err);
			fprintf(err, "%zu differences\n", n);
		}
	}
	replay_alerts_free(a);
	replay_alerts_free(b);
	return rc;
}
