/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Intake: one batch of lines in, one reply per line out.  Lines are decoded
 * first; the valid events are then applied in one transaction and replies
 * are produced only once that transaction has committed (brief invariant
 * 1), so an "ok" reply always means the event is on disk.  A storage
 * failure rolls the whole batch back and answers "unavailable" for every
 * event in it: nothing is half-written and the sender retries.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "brief.h"
#include "engine.h"
#include "intake.h"
#include "log.h"
#include "reply.h"
#include "timeutil.h"
#include "xmalloc.h"

struct intake {
	struct store		*store;
	struct engine		*engine;
	struct brief		*brief;
	struct decode_opts	 opts;
	intake_clock_fn		 clock;
	void			*clock_arg;
	intake_commit_fn	 on_commit;	/* alerts were committed */
	void			*on_commit_arg;
	intake_precommit_fn	 pre_commit;	/* alerts are about to be */
	void			*pre_commit_arg;
	struct intake_stats	 stats;
	int			 no_replies;	/* replay: counts and errors only */
};

/* The default clock: the wall clock. */
static int64_t
intake_wall_clock(void *arg)
{
	return time_now_ms();
}

/* Mark item as failed for a storage reason, keeping the id it carried. */
static void
intake_unavailable(struct intake_item *it)
{
	struct ev_err	*e = &it->err;

	e->code = EVERR_UNAVAILABLE;
	e->has_id = 1;
	strncpy(e->id, it->ev->id, sizeof e->id - 1);
	e->id[sizeof e->id - 1] = '\0';
	e->field[0] = '\0';
	strncpy(e->message, "the event could not be stored because of a "
	    "storage error; nothing was stored, send it again later",
	    sizeof e->message - 1);
	e->message[sizeof e->message - 1] = '\0';
	it->status = STORE_ERROR;
	json_decref(it->alerts);
	json_decref(it->brief);
	it->alerts = it->brief = NULL;
}

/* Decode every line the caller did not refuse itself. */
static size_t
intake_decode(struct intake *in, struct intake_item *items, size_t n)
{
	size_t	 i, ndecoded = 0;

	for (i = 0; i < n; i++) {
		struct intake_item *it = &items[i];

		it->ev = NULL;
		it->reply = NULL;
		it->alerts = it->brief = NULL;
		if (it->prerefused)
			continue;
		memset(&it->err, 0, sizeof it->err);
		/* replay has decoded the line already, for its clock */
		if (it->decoded != NULL) {
			it->ev = it->decoded;
			it->decoded = NULL;
		} else
			it->ev = decode_event(it->line, it->len, &in->opts,
			    &it->err);
		if (it->ev != NULL)
			ndecoded++;
	}
	return ndecoded;
}

/*
 * What a stored event causes, in its transaction: the rules are judged (a
 * duplicate instead gets the alert ids its original raised) and an
 * episode.reported gets the child's brief.  0 or -1 (storage error).
 */
static int
intake_consequences(struct intake *in, struct intake_item *it, int64_t now)
{
	if (it->status != STORE_NEW && it->status != STORE_DUPLICATE)
		return 0;
	if (in->engine != NULL) {
		it->alerts = json_array();
		if (it->status == STORE_NEW &&
		    engine_event(in->engine, it->ev, &it->out, now,
		    it->alerts) == -1)
			return -1;
		if (it->status == STORE_DUPLICATE &&
		    engine_alerts_of_event(in->engine, it->out.seq,
		    it->alerts) == -1)
			return -1;
	}
	if (in->brief != NULL && it->ev->type == EVT_EPISODE_REPORTED &&
	    it->out.child_id[0] != '\0') {
		it->brief = brief_child(in->brief, in->engine != NULL ?
		    engine_rules(in->engine) : NULL, it->out.child_id,
		    it->ev->episode, it->ev->at_ms);
		if (it->brief == NULL)
			return -1;
		/* the brief goes out in the reply: who got it, in this txn */
		if (it->actor != NULL && audit_append(in->store, time_now_ms(),
		    it->actor, AUDIT_BRIEF_SENT, it->out.child_id,
		    json_pack("{s:s, s:s?, s:I, s:b}", "event", it->ev->id,
		    "episode", it->ev->episode, "seq", (json_int_t)it->out.seq,
		    "duplicate", it->status == STORE_DUPLICATE)) == -1)
			return -1;
	}
	return 0;
}

/*
 * The batch's transaction ended: the engine logs and counts the alerts it
 * raised only if it committed.  Inside replay's batch a commit is not one
 * yet; the end of that batch tells the engine instead (replay.c).
 */
static void
intake_engine_end(struct intake *in, int committed)
{
	if (in->engine == NULL)
		return;
	if (!committed)
		engine_abort(in->engine);
	else if (!store_in_batch(in->store))
		engine_commit(in->engine);
}

/*
 * Apply the decoded events in one transaction.  Returns 0 when committed,
 * -1 when the batch was rolled back (every event is then unavailable).
 */
static int
intake_apply(struct intake *in, struct intake_item *items, size_t n)
{
	int64_t	 received = time_now_ms(), now = in->clock(in->clock_arg);
	size_t	 i;
	int	 raised = 0;

	if (store_begin(in->store) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		struct intake_item *it = &items[i];

		if (it->ev == NULL)
			continue;
		it->status = store_apply(in->store, it->ev, received, &it->out,
		    &it->err);
		if (it->status == STORE_ERROR ||
		    intake_consequences(in, it, now) == -1) {
			store_rollback(in->store);
			intake_engine_end(in, 0);
			return -1;
		}
		if (it->status == STORE_NEW && json_array_size(it->alerts) > 0)
			raised = 1;
	}
	if (raised && in->pre_commit != NULL &&
	    in->pre_commit(in->pre_commit_arg) == -1) {
		store_rollback(in->store);
		intake_engine_end(in, 0);
		return -1;
	}
	if (store_commit(in->store) == -1) {
		intake_engine_end(in, 0);
		return -1;
	}
	intake_engine_end(in, 1);
	in->stats.commits++;
	return 0;
}

/* Build the reply of one item and count it. */
static void
intake_reply(struct intake *in, struct intake_item *it)
{
	if (it->ev == NULL || it->status == STORE_REJECTED ||
	    it->status == STORE_ERROR) {
		if (it->err.code > EVERR_NONE && it->err.code < EVERR__COUNT)
			in->stats.rejected[it->err.code]++;
		if (!in->no_replies)
			it->reply = reply_error(&it->err);
		return;
	}
	if (it->status == STORE_DUPLICATE)
		in->stats.duplicates++;
	else
		in->stats.received[it->ev->type]++;
	if (!in->no_replies)
		it->reply = reply_ok(it->ev->id, it->out.seq,
		    it->status == STORE_DUPLICATE, it->alerts, it->brief);
}

/* A new intake over store, engine and brief (borrowed; must outlive it). */
struct intake *
intake_new(struct store *store, struct engine *engine, struct brief *brief,
    const struct decode_opts *opts)
{
	struct intake	*in;

	in = xcalloc(1, sizeof *in);
	in->store = store;
	in->engine = engine;
	in->brief = brief;
	in->clock = intake_wall_clock;
	if (opts != NULL)
		in->opts = *opts;
	return in;
}

/* Stamp alerts with this clock from now on. */
void
intake_set_clock(struct intake *in, intake_clock_fn clock, void *arg)
{
	in->clock = clock;
	in->clock_arg = arg;
}

/* Call fn after each commit that raised alerts. */
void
intake_set_commit_hook(struct intake *in, intake_commit_fn fn, void *arg)
{
	in->on_commit = fn;
	in->on_commit_arg = arg;
}

/* Call fn before each commit of a batch that raised alerts, in it. */
void
intake_set_precommit_hook(struct intake *in, intake_precommit_fn fn,
    void *arg)
{
	in->pre_commit = fn;
	in->pre_commit_arg = arg;
}

/*
 * Leave every item's reply NULL (its err still says why a line was
 * refused): replay reads no reply, and building one per event cost it
 * about a tenth of its time.
 */
void
intake_set_no_replies(struct intake *in)
{
	in->no_replies = 1;
}

/* Decode with these options from now on. */
void
intake_set_decode_opts(struct intake *in, const struct decode_opts *opts)
{
	in->opts = *opts;
}

/* Free an intake.  Accepts NULL. */
void
intake_free(struct intake *in)
{
	free(in);
}

/* Decode, apply and commit n items, then fill in each item's reply. */
void
intake_run(struct intake *in, struct intake_item *items, size_t n)
{
	size_t	 i;

	if (intake_decode(in, items, n) > 0 &&
	    intake_apply(in, items, n) == -1) {
		in->stats.commit_failures++;
		log_warnx("intake", "a batch of %zu lines was rolled back: %s",
		    n, store_errmsg(in->store));
		for (i = 0; i < n; i++)
			if (items[i].ev != NULL)
				intake_unavailable(&items[i]);
	}
	for (i = 0; i < n && in->on_commit != NULL; i++) {
		if (items[i].status == STORE_NEW &&
		    json_array_size(items[i].alerts) > 0) {
			in->on_commit(in->on_commit_arg);
			break;
		}
	}
	for (i = 0; i < n; i++) {
		intake_reply(in, &items[i]);
		mevent_free(items[i].ev);
		json_decref(items[i].alerts);
		json_decref(items[i].brief);
		items[i].ev = NULL;
		items[i].alerts = items[i].brief = NULL;
	}
}

/* Release what intake_run() left in an item (its reply). */
void
intake_item_clear(struct intake_item *it)
{
	free(it->reply);
	memset(it, 0, sizeof *it);
}

/* Counters since start. */
const struct intake_stats *
intake_stats(struct intake *in)
{
	return &in->stats;
}
