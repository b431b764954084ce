/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The rules engine.  For each stored event with a child, every enabled
 * rule is judged against the child's history as it stands after the event:
 *
 *   repeat  the most episodes (passing the rule's filter) reported within
 *           any window of the rule's length that contains the event time
 *           and ends at the event time or at a later episode's report time;
 *           so a late event that completes a pattern counts where it
 *           belongs, and a stream in time order is judged at its own time.
 *   score   likewise, the weighted sum of the distinct indicators recorded
 *           in such a window, times the factors whose conditions hold.
 *   match   the event meets the rule's conditions (once per episode).
 *   deadline  an event meeting `after` (or another rule reaching a level)
 *           starts a clock; an event meeting `expect` stops it; engine_tick
 *           fires it when the clock passes the due time.
 *
 * The level so found is compared with the level last alerted for the rule
 * and child (rule_state): higher raises an alert; lower re-arms.  Every
 * alert names the events that made it true.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alertdb.h"
#include "cond.h"
#include "decode.h"
#include "engine.h"
#include "history.h"
#include "log.h"
#include "score.h"
#include "timeutil.h"
#include "xmalloc.h"

/* An alert raised in the open transaction: logged once it commits. */
struct raised {
	char		 id[32];	/* "A-seq" */
	char		*rule;
	char		*child;
	enum level	 level;
};

/*
 * What the open transaction did is kept apart (pending, raised) until the
 * caller says how it ended: a batch rolled back raised no alerts, and the
 * next batch may raise its ids again.
 */
struct engine {
	struct store		*store;
	struct history		*h;
	struct alertdb		*db;
	const struct rules	*rules;
	struct engine_stats	 stats;		/* committed */
	struct engine_stats	 pending;	/* in the open transaction */
	struct raised		*raised;
	size_t			 nraised;
	size_t			 raisedcap;
};

/* What one alert says, gathered by the rule that raises it. */
struct raise {
	const struct rule	*rule;
	enum level		 level;
	enum level		 previous;
	const char		*child;
	const char		*episode;	/* NULL: none */
	const char		*area;		/* NULL: unknown */
	int64_t			 event_at_ms;
	int64_t			 event_seq;	/* 0: raised by the clock */
	int64_t			*evidence;	/* event seqs, owned */
	size_t			 nevidence;
	size_t			 count;		/* repeat */
	double			 score;		/* score */
	int			 has_score;
	char			**names;	/* episode or indicator ids */
	size_t			 nnames;
	int64_t			 due_ms;	/* deadline */
};

/* Add seq to the evidence, once. */
static void
raise_evidence(struct raise *ra, int64_t seq)
{
	size_t	 i;

	for (i = 0; i < ra->nevidence; i++)
		if (ra->evidence[i] == seq)
			return;
	ra->evidence = xreallocarray(ra->evidence, ra->nevidence + 1,
	    sizeof *ra->evidence);
	ra->evidence[ra->nevidence++] = seq;
}

/* Add a name (episode or indicator id) for the summary, once. */
static void
raise_name(struct raise *ra, const char *name)
{
	size_t	 i;

	for (i = 0; i < ra->nnames; i++)
		if (strcmp(ra->names[i], name) == 0)
			return;
	ra->names = xreallocarray(ra->names, ra->nnames + 1,
	    sizeof *ra->names);
	ra->names[ra->nnames++] = xstrdup(name);
}

/* Free what a raise owns. */
static void
raise_clear(struct raise *ra)
{
	size_t	 i;

	free(ra->evidence);
	for (i = 0; i < ra->nnames; i++)
		free(ra->names[i]);
	free(ra->names);
	ra->evidence = NULL;
	ra->names = NULL;
	ra->nevidence = ra->nnames = 0;
}

/* Keep an alert raised in the open transaction, to log at its commit. */
static void
engine_raised_add(struct engine *e, const char *id, const char *rule,
    enum level level, const char *child)
{
	struct raised	*rd;

	if (e->nraised == e->raisedcap) {
		e->raisedcap = e->raisedcap == 0 ? 8 : e->raisedcap * 2;
		e->raised = xreallocarray(e->raised, e->raisedcap,
		    sizeof *e->raised);
	}
	rd = &e->raised[e->nraised++];
	snprintf(rd->id, sizeof rd->id, "%s", id);
	rd->rule = xstrdup(rule);
	rd->child = xstrdup(child);
	rd->level = level;
	e->pending.alerts[level]++;
}

/* Forget what the open transaction did (the list keeps its space). */
static void
engine_pending_clear(struct engine *e)
{
	size_t	 i;

	for (i = 0; i < e->nraised; i++) {
		free(e->raised[i].rule);
		free(e->raised[i].child);
	}
	e->nraised = 0;
	memset(&e->pending, 0, sizeof e->pending);
}

/* Ascending seq order for evidence. */
static int
engine_cmp_seq(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * A duration as policies say it: "90 days", "72 hours", "30 minutes".
 * Up to three days reads in hours, as return interview deadlines do.
 */
static void
engine_duration(int64_t ms, char *buf, size_t len)
{
	static const struct { int64_t ms; const char *unit; } units[] = {
		{ 86400000, "day" }, { 3600000, "hour" }, { 60000, "minute" },
		{ 1000, "second" },
	};
	size_t	 i;

	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (i == 0 && ms <= 3 * units[0].ms)
			continue;
		if (ms >= units[i].ms && ms % units[i].ms == 0) {
			snprintf(buf, len, "%lld %s%s",
			    (long long)(ms / units[i].ms), units[i].unit,
			    ms / units[i].ms == 1 ? "" : "s");
			return;
		}
	}
	snprintf(buf, len, "%lld ms", (long long)ms);
}

/* Append the value of placeholder name to out. */
static void
engine_placeholder(const struct raise *ra, const char *name, size_t len,
    json_t *out_parts)
{
	const struct rule	*r = ra->rule;
	char			 buf[64], *list;
	size_t			 i, n;

	buf[0] = '\0';
#define IS(s) (len == strlen(s) && strncmp(name, s, len) == 0)
	if (IS("child"))
		snprintf(buf, sizeof buf, "%s", ra->child);
	else if (IS("episode"))
		snprintf(buf, sizeof buf, "%s", ra->episode ? ra->episode : "");
	else if (IS("rule"))
		snprintf(buf, sizeof buf, "%s", r->id);
	else if (IS("level"))
		snprintf(buf, sizeof buf, "%s", level_name(ra->level));
	else if (IS("count"))
		snprintf(buf, sizeof buf, "%zu", ra->count);
	else if (IS("score"))
		snprintf(buf, sizeof buf, "%g", ra->score);
	else if (IS("area"))
		snprintf(buf, sizeof buf, "%s", ra->area ? ra->area : "unknown");
	else if (IS("window"))
		engine_duration(r->window_ms, buf, sizeof buf);
	else if (IS("within"))
		engine_duration(r->within_ms, buf, sizeof buf);
	else if (IS("due"))
		time_format_rfc3339(ra->due_ms, buf);
	else if (IS("episodes") || IS("indicators")) {
		for (i = 0, n = 1; i < ra->nnames; i++)
			n += strlen(ra->names[i]) + 2;
		list = xcalloc(1, n);
		for (i = 0; i < ra->nnames; i++) {
			if (i > 0)
				strcat(list, ", ");
			strcat(list, ra->names[i]);
		}
		json_array_append_new(out_parts, json_string(list));
		free(list);
		return;
	}
#undef IS
	json_array_append_new(out_parts, json_string(buf));
}

/* The rule's summary template with its placeholders filled in. */
static char *
engine_summary(const struct raise *ra)
{
	const char	*t = ra->rule->summary, *open, *close;
	json_t		*parts = json_array();
	size_t		 i, n = 1;
	char		*s;

	while (t != NULL && *t != '\0') {
		open = strchr(t, '{');
		close = open != NULL ? strchr(open, '}') : NULL;
		if (open == NULL || close == NULL) {
			json_array_append_new(parts, json_string(t));
			break;
		}
		json_array_append_new(parts, json_stringn(t,
		    (size_t)(open - t)));
		engine_placeholder(ra, open + 1, (size_t)(close - open - 1),
		    parts);
		t = close + 1;
	}
	for (i = 0; i < json_array_size(parts); i++)
		n += json_string_length(json_array_get(parts, i));
	s = xcalloc(1, n);
	for (i = 0; i < json_array_size(parts); i++)
		strcat(s, json_string_value(json_array_get(parts, i)));
	json_decref(parts);
	return s;
}

/* The evidence array: every event that made the rule true. */
static json_t *
engine_evidence(struct engine *e, struct raise *ra)
{
	struct evidence_row	 row;
	char			 at[TIME_RFC3339_LEN];
	json_t			*arr = json_array(), *o;
	size_t			 i;

	qsort(ra->evidence, ra->nevidence, sizeof *ra->evidence,
	    engine_cmp_seq);
	for (i = 0; i < ra->nevidence; i++) {
		if (history_event(e->h, ra->evidence[i], &row) != 0)
			continue;
		time_format_rfc3339(row.at_ms, at);
		o = json_object();
		json_object_set_new(o, "event", json_string(row.id));
		json_object_set_new(o, "seq", json_integer(row.seq));
		json_object_set_new(o, "type", json_string(row.type));
		json_object_set_new(o, "at", json_string(at));
		if (row.episode[0] != '\0')
			json_object_set_new(o, "episode",
			    json_string(row.episode));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* Optional string member: the string, or null. */
static json_t *
engine_str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

/* Build, store and announce an alert.  0 or -1. */
static int
engine_raise(struct engine *e, struct raise *ra, int64_t now_ms,
    json_t *alert_ids)
{
	const struct rule	*r = ra->rule;
	char			 id[32], raised[TIME_RFC3339_LEN];
	char			 at[TIME_RFC3339_LEN], *summary;
	json_t			*a, *routes;
	int64_t			 seq;
	size_t			 i;
	int			 rc;

	if ((seq = alertdb_next_seq(e->db)) == -1)
		return -1;
	snprintf(id, sizeof id, "A-%lld", (long long)seq);
	time_format_rfc3339(now_ms, raised);
	time_format_rfc3339(ra->event_at_ms, at);
	routes = json_array();
	for (i = 0; i < r->nroutes; i++)
		json_array_append_new(routes, json_string(r->routes[i]));
	summary = engine_summary(ra);
	a = json_object();
	json_object_set_new(a, "alert", json_string(id));
	json_object_set_new(a, "seq", json_integer(seq));
	json_object_set_new(a, "raised_at", json_string(raised));
	json_object_set_new(a, "event_at", json_string(at));
	json_object_set_new(a, "rule", json_string(r->id));
	json_object_set_new(a, "kind", json_string(rule_kind_name(r->kind)));
	json_object_set_new(a, "level", json_string(level_name(ra->level)));
	json_object_set_new(a, "previous_level", ra->previous == LEVEL_NONE ?
	    json_null() : json_string(level_name(ra->previous)));
	json_object_set_new(a, "child", json_string(ra->child));
	json_object_set_new(a, "episode", engine_str_or_null(ra->episode));
	json_object_set_new(a, "area", engine_str_or_null(ra->area));
	json_object_set_new(a, "routes", routes);
	json_object_set_new(a, "summary", json_string(summary));
	json_object_set_new(a, "evidence", engine_evidence(e, ra));
	json_object_set_new(a, "score", ra->has_score ?
	    json_real(ra->score) : json_null());
	json_object_set_new(a, "rules_version",
	    json_string(e->rules->version));
	free(summary);
	rc = alertdb_insert(e->db, a, now_ms, ra->event_at_ms,
	    ra->event_seq);
	json_decref(a);
	if (rc == -1)
		return -1;
	engine_raised_add(e, id, r->id, ra->level, ra->child);
	if (alert_ids != NULL)
		json_array_append_new(alert_ids, json_string(id));
	return 0;
}

/* The level a value reaches under a rule's thresholds. */
static enum level
engine_level(const struct rule *r, double v)
{
	enum level	 level = LEVEL_NONE;
	size_t		 i;

	for (i = 0; i < r->nthresholds; i++)
		if (v >= r->thresholds[i].value)
			level = r->thresholds[i].level;
	return level;
}

/* How many of the n episodes were reported in (end - w, end]. */
static size_t
engine_repeat_count(const struct episode_view *eps, size_t n, int64_t w,
    int64_t end)
{
	size_t	 i, c = 0;

	for (i = 0; i < n; i++)
		if (eps[i].reported_at_ms > end - w &&
		    eps[i].reported_at_ms <= end)
			c++;
	return c;
}

/*
 * Repeat: the child's filtered episodes, and the best window containing
 * the judged time.  Fills ra (count, evidence, episode names) and returns
 * the level, or -1.
 */
static int
engine_repeat(struct engine *e, const struct rule *r, struct eval_ctx *x,
    struct raise *ra)
{
	struct episode_view	*eps;
	struct eval_ctx		 ex = *x;
	size_t			 i, j, n, keep = 0, best;
	int64_t			 w = r->window_ms, at = x->at_ms, best_end;
	int			 m;

	if (history_episodes(e->h, x->child->id, at - w + 1, at + w, &eps,
	    &n) == -1)
		return -1;
	/* keep those the filter passes, judged at their own report time */
	for (i = 0; i < n; i++) {
		ex.ev = NULL;
		ex.episode = &eps[i];
		ex.at_ms = eps[i].reported_at_ms;
		if ((m = cond_eval(r->episodes, &ex)) == -1) {
			episode_views_free(eps, n);
			return -1;
		}
		if (m == 1) {
			if (keep != i) {
				struct episode_view tmp = eps[keep];

				eps[keep] = eps[i];
				eps[i] = tmp;
			}
			keep++;
		}
	}
	/* windows (end - w, end] for end = at and each later report time */
	best = engine_repeat_count(eps, keep, w, at);
	best_end = at;
	for (i = 0; i < keep; i++) {
		int64_t end = eps[i].reported_at_ms;
		size_t	c;

		if (end <= at)
			continue;
		if ((c = engine_repeat_count(eps, keep, w, end)) > best) {
			best = c;
			best_end = end;
		}
	}
	for (j = 0; best > 0 && j < keep; j++) {
		if (eps[j].reported_at_ms > best_end - w &&
		    eps[j].reported_at_ms <= best_end) {
			raise_evidence(ra, eps[j].first_seq);
			raise_name(ra, eps[j].id);
		}
	}
	ra->count = best;
	episode_views_free(eps, n);
	return (int)engine_level(r, (double)best);
}

/* Score evidence: every occurrence counted, and each distinct id. */
static void
engine_score_add(void *arg, const struct indicator_row *row,
    const struct indicator_def *def, int first)
{
	struct raise	*ra = arg;

	raise_evidence(ra, row->seq);
	if (first)
		raise_name(ra, def->id);
}

/* Score: the best window's sum times the factors that hold.  Level or -1. */
static int
engine_score(struct engine *e, const struct rule *r, struct eval_ctx *x,
    struct raise *ra)
{
	struct indicator_row	*rows;
	size_t			 i, n;
	int64_t			 w = r->window_ms, at = x->at_ms, end;
	int64_t			 best_end = at;
	double			 best = 0, s, mult = 1;
	int			 m;

	for (i = 0; i < r->nfactors; i++) {
		if ((m = cond_eval(r->factors[i].when, x)) == -1)
			return -1;
		if (m == 1)
			mult *= r->factors[i].multiply;
	}
	if (history_indicators(e->h, x->child->id, at - w + 1, at + w, &rows,
	    &n) == -1)
		return -1;
	best = score_window(r, e->rules, rows, n, at, NULL, NULL);
	for (i = 0; i < n; i++) {
		end = rows[i].at_ms;
		if (end <= at)
			continue;
		s = score_window(r, e->rules, rows, n, end, NULL, NULL);
		if (s > best) {
			best = s;
			best_end = end;
		}
	}
	if (best > 0)
		score_window(r, e->rules, rows, n, best_end,
		    engine_score_add, ra);
	free(rows);
	ra->score = round(best * mult * 100) / 100;
	ra->has_score = 1;
	return (int)engine_level(r, ra->score);
}

static int engine_deadline_from_rule(struct engine *, const struct rule *,
    const struct raise *, int64_t);

/*
 * Compare a level with the rule's state for (child, scope): raise on an
 * upward crossing, re-arm on a fall.  0 or -1.
 */
static int
engine_cross(struct engine *e, struct raise *ra, const char *scope,
    int64_t seq, int64_t now_ms, json_t *ids)
{
	struct rule_state	 st, old;

	if (alertdb_state_get(e->db, ra->rule, ra->child, scope, &st) == -1)
		return -1;
	old = st;
	if (ra->level > st.alerted) {
		ra->previous = st.alerted;
		if (engine_raise(e, ra, now_ms, ids) == -1 ||
		    engine_deadline_from_rule(e, ra->rule, ra, seq) == -1)
			return -1;
		st.alerted = ra->level;
	} else if (ra->level < st.alerted)
		st.alerted = ra->level;		/* fell below: re-armed */
	st.level = ra->level;
	if (st.level == old.level && st.alerted == old.alerted)
		return 0;
	return alertdb_state_put(e->db, ra->rule, ra->child, scope, &st, seq);
}

/* A deadline may already be met by an event stored before its start. */
static int
engine_already_met(struct engine *e, const struct rule *r,
    const struct eval_ctx *x, const char *episode, int64_t start_seq,
    int64_t start_ms, int64_t due_ms)
{
	struct episode_view	 epv;
	struct ev_err		 err;
	struct mevent		*ev;
	struct eval_ctx		 ex = *x;
	int64_t			*seqs;
	size_t			 i, n;
	char			*body;
	int			 met = 0, have_ep;

	if (history_events_of_type(e->h, x->child->id, NULL, start_ms, due_ms,
	    &seqs, &n) == -1)
		return -1;
	for (i = 0; i < n && met == 0; i++) {
		if (seqs[i] == start_seq ||
		    (body = history_event_body(e->h, seqs[i])) == NULL)
			continue;
		ev = decode_event(body, strlen(body), NULL, &err);
		free(body);
		if (ev == NULL)
			continue;
		have_ep = ev->episode != NULL &&
		    history_episode(e->h, ev->episode, &epv) == 0;
		ex.ev = ev;
		ex.at_ms = ev->at_ms;
		ex.episode = have_ep ? &epv : NULL;
		if (!r->scope_episode || episode[0] == '\0' ||
		    (ev->episode != NULL && strcmp(ev->episode, episode) == 0)) {
			/* as live: "when" gates the events that meet it too */
			met = cond_eval(r->when, &ex);
			if (met == 1)
				met = cond_eval(r->expect, &ex);
		}
		if (have_ep)
			episode_view_clear(&epv);
		mevent_free(ev);
	}
	free(seqs);
	return met;
}

/*
 * Start a deadline unless one is pending for the same scope (the episode,
 * or the child).  episode is the starting event's ("" if none): the alert
 * names it whatever the scope.
 */
static int
engine_deadline_start(struct engine *e, const struct rule *r,
    const struct eval_ctx *x, const char *episode, int64_t start_seq,
    int64_t start_ms)
{
	int64_t	 due = start_ms + r->within_ms;
	int	 rc;

	if ((rc = alertdb_deadline_pending(e->db, r->id, x->child->id,
	    r->scope_episode ? episode : NULL)) != 0)
		return rc == 1 ? 0 : -1;
	if ((rc = engine_already_met(e, r, x, episode, start_seq, start_ms,
	    due)) != 0)
		return rc == 1 ? 0 : -1;
	if (alertdb_deadline_add(e->db, r, x->child->id, episode, start_seq,
	    start_ms, due) == -1)
		return -1;
	e->pending.deadlines_started++;
	log_debug("engine", "deadline %s started for child %s, due %lld",
	    r->id, x->child->id, (long long)due);
	return 0;
}

/* Deadlines started by another rule reaching a level (ra just raised). */
static int
engine_deadline_from_rule(struct engine *e, const struct rule *trigger,
    const struct raise *ra, int64_t seq)
{
	struct child_view	 cv;
	struct eval_ctx		 x;
	const struct rule	*r;
	size_t			 i;
	int			 rc = 0;

	memset(&cv, 0, sizeof cv);
	strncpy(cv.id, ra->child, sizeof cv.id - 1);
	memset(&x, 0, sizeof x);
	x.rules = e->rules;
	x.child = &cv;
	x.at_ms = ra->event_at_ms;
	x.h = e->h;
	for (i = 0; i < e->rules->nrules && rc == 0; i++) {
		r = &e->rules->rules[i];
		if (r->kind != RULE_DEADLINE || !r->enabled ||
		    r->after_rule == NULL ||
		    strcmp(r->after_rule, trigger->id) != 0 ||
		    ra->level < r->after_level || ra->previous >= r->after_level)
			continue;
		rc = engine_deadline_start(e, r, &x,
		    ra->episode != NULL ? ra->episode : "", seq,
		    ra->event_at_ms);
	}
	return rc;
}

/* A deadline rule and this event: meet pending ones, start new ones. */
static int
engine_deadline_event(struct engine *e, const struct rule *r,
    struct eval_ctx *x, int64_t seq)
{
	const char	*ep = x->ev->episode;
	int		 m;

	if ((m = cond_eval(r->expect, x)) == -1)
		return -1;
	if (m == 1) {
		m = alertdb_deadline_meet(e->db, r->id, x->child->id,
		    r->scope_episode ? ep : NULL, x->at_ms, seq);
		if (m == -1)
			return -1;
		e->pending.deadlines_met += (uint64_t)m;
	}
	if (r->after == NULL)
		return 0;
	if ((m = cond_eval(r->after, x)) != 1)
		return m;
	return engine_deadline_start(e, r, x, ep != NULL ? ep : "", seq,
	    x->at_ms);
}

/*
 * The indicators a match rule's summary names: those of the event that its
 * condition asked for, or all of the event's when it asked for none.
 */
static void
engine_match_names(const struct rule *r, const struct eval_ctx *x,
    struct raise *ra)
{
	size_t	 i;

	for (i = 0; i < x->ev->nindicators; i++)
		if (cond_selects_indicator(r->when, x->rules,
		    x->ev->indicators[i]) != 0)
			raise_name(ra, x->ev->indicators[i]);
}

/* Judge one rule for the event in x. */
static int
engine_rule(struct engine *e, const struct rule *r, struct eval_ctx *x,
    int64_t seq, int64_t now_ms, json_t *ids)
{
	struct raise	 ra;
	const char	*scope = "";
	int		 level, m, rc;

	if ((m = cond_eval(r->when, x)) != 1)
		return m;
	if (r->kind == RULE_DEADLINE)
		return engine_deadline_event(e, r, x, seq);
	memset(&ra, 0, sizeof ra);
	ra.rule = r;
	ra.child = x->child->id;
	ra.episode = x->ev->episode;
	ra.area = x->child->area[0] != '\0' ? x->child->area : NULL;
	ra.event_at_ms = x->at_ms;
	ra.event_seq = seq;
	switch (r->kind) {
	case RULE_REPEAT:
		level = engine_repeat(e, r, x, &ra);
		break;
	case RULE_SCORE:
		level = engine_score(e, r, x, &ra);
		break;
	default:
		/* match: once per episode (or per event without one) */
		level = r->level;
		raise_evidence(&ra, seq);
		engine_match_names(r, x, &ra);
		scope = x->ev->episode != NULL ? x->ev->episode : x->ev->id;
		break;
	}
	rc = -1;
	if (level != -1) {
		ra.level = (enum level)level;
		rc = engine_cross(e, &ra, scope, seq, now_ms, ids);
	}
	raise_clear(&ra);
	return rc;
}

/*
 * Fire one due deadline, or drop it if its rule changed or went.  Returns
 * 1 fired, 0 dropped, -1 error.
 */
static int
engine_fire(struct engine *e, const struct deadline_row *d, int64_t now_ms,
    json_t *ids)
{
	const struct rule	*r = rules_find(e->rules, d->rule);
	struct child_view	 cv;
	struct raise		 ra;
	int			 rc;

	if (r == NULL || !r->enabled || r->kind != RULE_DEADLINE ||
	    strcmp(r->digest, d->digest) != 0)
		return alertdb_deadline_close(e->db, d->id, "dropped", 0);
	if (history_child(e->h, d->child, &cv) == -1)
		return -1;
	memset(&ra, 0, sizeof ra);
	ra.rule = r;
	ra.level = r->level;
	ra.child = d->child;
	ra.episode = d->episode[0] != '\0' ? d->episode : NULL;
	ra.area = cv.area[0] != '\0' ? cv.area : NULL;
	ra.event_at_ms = d->due_at_ms;
	ra.due_ms = d->due_at_ms;
	raise_evidence(&ra, d->start_seq);
	rc = engine_raise(e, &ra, now_ms, ids);
	if (rc == 0)
		rc = alertdb_deadline_close(e->db, d->id, "fired",
		    alertdb_next_seq(e->db) - 1);
	if (rc == 0)
		e->pending.deadlines_fired++;
	raise_clear(&ra);
	child_view_clear(&cv);
	return rc == 0 ? 1 : -1;
}

/* An engine over store (borrowed). */
struct engine *
engine_new(struct store *store)
{
	struct engine	*e;

	e = xcalloc(1, sizeof *e);
	e->store = store;
	e->h = history_new(store);
	e->db = alertdb_new(store);
	return e;
}

/* Free the engine and its statements.  Accepts NULL. */
void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	engine_pending_clear(e);
	free(e->raised);
	history_free(e->h);
	alertdb_free(e->db);
	free(e);
}

/* Judge with these rules from now on. */
void
engine_set_rules(struct engine *e, const struct rules *rules)
{
	e->rules = rules;
}

/* The rules in use, or NULL. */
const struct rules *
engine_rules(struct engine *e)
{
	return e->rules;
}

/* Judge every enabled rule for the child of ev. */
int
engine_event(struct engine *e, const struct mevent *ev,
    const struct store_outcome *out, int64_t now_ms, json_t *alert_ids)
{
	struct child_view	 cv;
	struct episode_view	 epv;
	struct eval_ctx		 x;
	size_t			 i;
	int			 rc = 0, have_ep = 0;

	if (e->rules == NULL || out->child_id[0] == '\0')
		return 0;
	if ((rc = history_child(e->h, out->child_id, &cv)) != 0)
		return rc == 1 ? 0 : -1;
	if (ev->episode != NULL) {
		if ((rc = history_episode(e->h, ev->episode, &epv)) == -1) {
			child_view_clear(&cv);
			return -1;
		}
		have_ep = rc == 0;
	}
	memset(&x, 0, sizeof x);
	x.rules = e->rules;
	x.ev = ev;
	x.at_ms = ev->at_ms;
	x.child = &cv;
	x.episode = have_ep ? &epv : NULL;
	x.h = e->h;
	for (i = 0, rc = 0; i < e->rules->nrules && rc != -1; i++)
		if (e->rules->rules[i].enabled)
			rc = engine_rule(e, &e->rules->rules[i], &x, out->seq,
			    now_ms, alert_ids);
	if (have_ep)
		episode_view_clear(&epv);
	child_view_clear(&cv);
	return rc == -1 ? -1 : 0;
}

/* One round of engine_tick(): at most max deadlines. */
int
engine_tick_some(struct engine *e, int64_t clock_ms, int64_t now_ms,
    json_t *alert_ids, int max, int *more)
{
	struct deadline_row	 rows[ENGINE_ROUND_MAX];
	int			 n, i, rc, fired = 0;

	*more = 0;
	if (e->rules == NULL)
		return 0;
	if (max < 1 || max > ENGINE_ROUND_MAX)
		max = ENGINE_ROUND_MAX;
	if ((n = alertdb_deadlines_due(e->db, clock_ms, rows, max)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((rc = engine_fire(e, &rows[i], now_ms, alert_ids)) == -1)
			return -1;
		fired += rc;
	}
	*more = n == max;
	return fired;
}

/* Fire every deadline due by clock_ms, a round at a time. */
int
engine_tick(struct engine *e, int64_t clock_ms, int64_t now_ms,
    json_t *alert_ids)
{
	int	 n, more, fired = 0;

	do {
		if ((n = engine_tick_some(e, clock_ms, now_ms, alert_ids,
		    ENGINE_ROUND_MAX, &more)) == -1)
			return -1;
		fired += n;
	} while (more);
	return fired;
}

/* The earliest pending deadline. */
int
engine_next_due(struct engine *e, int64_t *due)
{
	return alertdb_next_due(e->db, due);
}

/* The transaction committed: log its alerts and count what it did. */
void
engine_commit(struct engine *e)
{
	struct raised	*rd;
	size_t		 i;
	int		 lv;

	for (i = 0; i < e->nraised; i++) {
		rd = &e->raised[i];
		log_info("engine", "alert %s: rule %s level %s for child %s",
		    rd->id, rd->rule, level_name(rd->level), rd->child);
	}
	for (lv = 0; lv < LEVEL__COUNT; lv++)
		e->stats.alerts[lv] += e->pending.alerts[lv];
	e->stats.deadlines_started += e->pending.deadlines_started;
	e->stats.deadlines_met += e->pending.deadlines_met;
	e->stats.deadlines_fired += e->pending.deadlines_fired;
	engine_pending_clear(e);
}

/* The transaction was rolled back: none of it happened. */
void
engine_abort(struct engine *e)
{
	engine_pending_clear(e);
}

/* Counters of committed transactions since start. */
const struct engine_stats *
engine_stats(struct engine *e)
{
	return &e->stats;
}

/* The ids of the alerts event seq raised (for a duplicate's reply). */
int
engine_alerts_of_event(struct engine *e, int64_t seq, json_t *alert_ids)
{
	return alertdb_alerts_of_event(e->db, seq, alert_ids);
}

/* Pass each alert stored after *last to fn, in order (replay output). */
int
engine_alerts_after(struct engine *e, int64_t *last,
    void (*fn)(const char *, const char *, const char *, void *), void *arg)
{
	return alertdb_alerts_after(e->db, last, fn, arg);
}
