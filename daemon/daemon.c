/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The daemon context and its life: one event base, signals handled as
 * events inside the loop, readiness told to systemd once the database and
 * the listeners are open, and an orderly stop on SIGTERM or SIGINT: stop
 * accepting, answer what was read, let the replies flush (bounded by
 * limits.shutdown_grace), then close the database.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "audit.h"
#include "brief.h"
#include "childview.h"
#include "daemon.h"
#include "dispatch.h"
#include "engine.h"
#include "http.h"
#include "intake.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "retention.h"
#include "rules.h"
#include "sizer.h"
#include "store.h"
#include "subscribe.h"
#include "timeutil.h"
#include "tls.h"
#include "xmalloc.h"

#define DRAIN_POLL_MS	20
#define TICK_MS		1000	/* how often due deadlines are looked for */
#define TICK_ROUND_US	2500	/* the time a round of deadlines aims at */
#define TICK_ROUND_MIN	4	/* deadlines a round fires at least */
#define TICK_UNIT_US	300	/* a deadline's cost before one is measured */
#define RELOAD_ERRORS_MAX	10	/* errors of a refused reload audited */

/* rules_default.c, generated from rules/default.yaml at build time */
extern const char rules_default_yaml[];
extern const size_t rules_default_yaml_len;

/* libevent's own messages go to our log. */
static void
daemon_libevent_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent", "%s", msg);
	else
		log_debug("libevent", "%s", msg);
}

/* While stopping: leave the loop once every connection is closed. */
static void
daemon_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	int64_t		 waited;

	waited = time_now_ms() - d->stop_started_ms;
	if (listener_connections(d->listener) == 0 ||
	    waited >= d->config->shutdown_grace_ms) {
		if (listener_connections(d->listener) > 0)
			log_warnx("daemon", "%zu connections still had unsent "
			    "replies after %lld ms; closing them",
			    listener_connections(d->listener),
			    (long long)waited);
		event_base_loopbreak(d->base);
	}
}

/* Begin the orderly stop. */
static void
daemon_stop(struct daemon *d, const char *why)
{
	struct timeval	 tv = time_tv_ms(DRAIN_POLL_MS);

	if (d->stopping)
		return;
	d->stopping = 1;
	d->stop_started_ms = time_now_ms();
	d->stop_why = why;
	log_info("daemon", "%s: stopping", why);
	notify_send("STOPPING=1");
	/* a purge ends between batches; what it removed stays removed */
	retention_stop(d->retention);
	listener_stop_accepting(d->listener);
	http_stop_accepting(d->http);
	listener_drain(d->listener);
	d->drain_timer = event_new(d->base, -1, EV_PERSIST, daemon_drain_cb,
	    d);
	event_add(d->drain_timer, &tv);
}

/* SIGTERM, SIGINT, SIGHUP, run inside the loop. */
static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;

	switch (sig) {
	case SIGTERM:
		daemon_stop(d, "SIGTERM");
		break;
	case SIGINT:
		daemon_stop(d, "SIGINT");
		break;
	case SIGHUP:
		log_info("daemon", "SIGHUP: reloading the rules%s",
		    d->tls != NULL ? " and the TLS certificates" : "");
		notify_send("RELOADING=1");
		daemon_reload_rules(d, "signal:SIGHUP", NULL);
		daemon_reload_tls(d);
		notify_send("READY=1");
		break;
	default:
		break;
	}
}

/*
 * Load the configured rules.  The default path falls back to the copy of
 * rules/default.yaml built into the binary, so misperd runs anywhere with
 * no files at all.  NULL with *cause on errors.
 */
static struct rules *
daemon_load_rules(struct daemon *d, char **cause)
{
	const char	*path = d->config->rules;

	if (access(path, F_OK) == -1 && strcmp(path, CONFIG_DEFAULT_RULES) == 0) {
		log_info("rules", "%s not found: using the built-in default "
		    "rules", path);
		return rules_load_buffer("(built-in rules/default.yaml)",
		    rules_default_yaml, rules_default_yaml_len, cause);
	}
	return rules_load(path, cause);
}

/* Put rules in use: the engine judges with them, intake checks ids. */
static void
daemon_use_rules(struct daemon *d, struct rules *rules)
{
	char	*summary;

	d->decode_opts.indicator_known = rules_indicator_known;
	d->decode_opts.arg = rules;
	engine_set_rules(d->engine, rules);
	if (d->intake != NULL)
		intake_set_decode_opts(d->intake, &d->decode_opts);
	rules_free(d->rules);
	d->rules = rules;
	d->rules_loaded_ms = time_now_ms();
	summary = rules_summary(rules);
	log_info("rules", "%s", summary);
	free(summary);
}

/* Log each line of text (an error list) as its own warning. */
static void
daemon_log_lines(const char *sub, const char *text)
{
	const char	*nl;

	while (text != NULL && *text != '\0') {
		nl = strchr(text, '\n');
		log_warnx(sub, "%.*s", nl != NULL ? (int)(nl - text) :
		    (int)strlen(text), text);
		text = nl != NULL ? nl + 1 : NULL;
	}
}

/* The first errors of a refused reload, one string each. */
static json_t *
daemon_error_lines(const char *text)
{
	json_t		*a = json_array();
	const char	*nl;

	while (text != NULL && *text != '\0' &&
	    json_array_size(a) < RELOAD_ERRORS_MAX) {
		nl = strchr(text, '\n');
		json_array_append_new(a, json_stringn(text, nl != NULL ?
		    (size_t)(nl - text) : strlen(text)));
		text = nl != NULL ? nl + 1 : NULL;
	}
	return a;
}

/*
 * Reload the rules: a file with errors is refused and the running rules
 * stay (brief invariant 7).  Rule state carries over by rule id and
 * meaning (rule_state.digest).  Either way the audit trail gets a
 * rules_reload row with the versions (and the errors).  Returns 0 or -1;
 * *cause gets the errors when cause is not NULL.
 */
int
daemon_reload_rules(struct daemon *d, const char *actor, char **cause)
{
	struct rules	*rules;
	char		*why = NULL;
	char		 old[sizeof d->rules->version];

	strcpy(old, d->rules->version);
	if ((rules = daemon_load_rules(d, &why)) == NULL) {
		log_warnx("rules", "reload refused; the running rules (%s) "
		    "stay", d->rules->version);
		daemon_log_lines("rules", why);
		audit_record(d->store, actor, AUDIT_RULES_RELOAD, d->rules->path,
		    json_pack("{s:b, s:s, s:o}", "ok", 0, "version", old,
		    "errors", daemon_error_lines(why)));
		if (cause != NULL)
			*cause = why;
		else
			free(why);
		return -1;
	}
	daemon_use_rules(d, rules);
	retention_check_rules(d->retention, rules);
	log_info("rules", "reloaded: %s -> %s", old, rules->version);
	/* the reload is done whatever; a failed audit write is logged */
	audit_record(d->store, actor, AUDIT_RULES_RELOAD, rules->path,
	    json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "old_version", old,
	    "version", rules->version, "changed", strcmp(old,
	    rules->version) != 0));
	return 0;
}

/*
 * Read the certificate, key and CAs again: new connections use them,
 * open ones finish on the old.  Files that fail to load leave the
 * running ones.  0 (or no TLS), or -1.
 */
int
daemon_reload_tls(struct daemon *d)
{
	char	*why = NULL;

	if (d->tls == NULL)
		return 0;
	if (tls_reload(d->tls, &why) == -1) {
		log_warnx("tls", "reload refused; the running certificates "
		    "stay: %s", why);
		free(why);
		return -1;
	}
	log_info("tls", "reloaded: %s", tls_summary(d->tls));
	return 0;
}

/* Warn, at every start, of each listener that takes the network in clear. */
static void
daemon_warn_insecure(struct daemon *d)
{
	const struct config	*cfg = d->config;
	const struct {
		const char	*what;
		char		**addrs;
		int		 *tls;
		size_t		  n;
	} lists[] = {
		{ "listen.tcp", cfg->tcp, cfg->tcp_tls, cfg->ntcp },
		{ "subscribers.tcp", cfg->sub_tcp, cfg->sub_tcp_tls,
		    cfg->sub_ntcp },
		{ "http.tcp", cfg->http_tcp, cfg->http_tcp_tls, cfg->http_ntcp }
	};
	size_t	 i, j;

	if (!cfg->tls_insecure)
		return;
	log_warnx("tls", "tls.insecure_plaintext_nonloopback is true: "
	    "listeners off the loopback may run without TLS");
	for (i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		for (j = 0; j < lists[i].n; j++) {
			if (lists[i].tls[j] ||
			    config_addr_loopback(lists[i].addrs[j]))
				continue;
			log_warnx("tls", "%s %s takes connections from the "
			    "network WITHOUT TLS: data about children crosses "
			    "it in clear, and its peers count as local "
			    "(access.local)", lists[i].what, lists[i].addrs[j]);
		}
	}
}

/*
 * Fire the deadlines that fell due on the wall clock, in a transaction.
 * One round per transaction: with more due, the next round runs from
 * tick_more, at the listener's batch priority, so intake batches take
 * turns with it rather than waiting for every deadline due (hundreds a
 * second at 1,000 events/s).  A round is bounded in time, like a batch
 * of lines (listener.c), but far tighter: an event that arrives during a
 * round waits for all of it, and at 1,000 events/s a round of 64 (20 to
 * 30 ms) was what set the reply's p99 (docs/performance.md).
 */
static void
daemon_tick(struct daemon *d)
{
	int64_t	 now = time_now_ms(), due, t0, us;
	int	 rc, more = 0;

	if ((rc = engine_next_due(d->engine, &due)) != 1 || due > now)
		return;
	if (store_begin(d->store) == -1)
		return;
	t0 = time_mono_us();
	rc = engine_tick_some(d->engine, now, now, NULL,
	    (int)d->tick_sizer.size, &more);
	us = time_mono_us() - t0;
	/* the alerts' deliveries commit with them (daemon_precommit_cb) */
	if (rc > 0 && dispatch_resolve_now(d->dispatch, now) == -1)
		rc = -1;
	if (rc == -1) {
		store_rollback(d->store);
		engine_abort(d->engine);
		log_warnx("engine", "firing due deadlines failed; will retry");
		return;
	}
	if (store_commit(d->store) == -1) {
		engine_abort(d->engine);
		log_warnx("engine", "committing fired deadlines failed; will "
		    "retry");
		return;
	}
	engine_commit(d->engine);
	/*
	 * us leaves the commit out (sizer.h): on a slow disk it would
	 * shrink rounds to fewer deadlines a fsync than fall due at 1,000
	 * events/s.
	 */
	if (rc > 0)
		sizer_measure(&d->tick_sizer, (size_t)rc, us);
	/* through the timers, so that the loop polls in between (listener.c) */
	if (more && d->tick_more != NULL) {
		struct timeval	 zero = time_tv_ms(0);

		event_add(d->tick_more, &zero);
	}
	if (rc > 0) {
		log_info("engine", "%d deadline%s fired", rc, rc == 1 ? "" :
		    "s");
		daemon_alerts_committed(d);
	}
}

/* Alerts were committed: streams and webhooks take them from the store. */
void
daemon_alerts_committed(struct daemon *d)
{
	if (d->subscribers != NULL)
		subscribers_publish(d->subscribers);
	if (d->dispatch != NULL)
		dispatch_kick(d->dispatch);
}

/*
 * intake_precommit_fn: a batch raised alerts; their deliveries are
 * resolved in its transaction, so that one commit holds both.
 */
static int
daemon_precommit_cb(void *arg)
{
	struct daemon	*d = arg;

	return dispatch_resolve_now(d->dispatch, time_now_ms());
}

/* intake_commit_fn: a batch raised alerts. */
static void
daemon_commit_cb(void *arg)
{
	daemon_alerts_committed(arg);
}

/* The deadline clock. */
static void
daemon_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	daemon_tick(arg);
}

/* Register one signal as a loop event. */
static struct event *
daemon_signal(struct daemon *d, int sig)
{
	struct event	*ev;

	ev = evsignal_new(d->base, sig, daemon_signal_cb, d);
	if (ev == NULL || evsignal_add(ev, NULL) == -1)
		fatalx("daemon", "cannot register signal %d", sig);
	return ev;
}

/* Build the context from cfg (owned from now on). */
struct daemon *
daemon_new(struct config *cfg, int foreground, char **cause)
{
	struct daemon		*d;
	struct rules		*rules;
	struct sigaction	 sa;
	struct timeval		 tick = time_tv_ms(TICK_MS);

	d = xcalloc(1, sizeof *d);
	d->config = cfg;
	d->foreground = foreground;
	d->started_ms = time_now_ms();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/*
	 * A file-size limit (RLIMIT_FSIZE, systemd's LimitFSIZE=) reached
	 * while the database grows would kill us with SIGXFSZ.  Ignored, the
	 * write fails with EFBIG instead: SQLite reports the disk full, the
	 * batch is rolled back and answered "unavailable", and intake resumes
	 * once the limit is raised (tests/integration/test_faults.py).
	 */
	sigaction(SIGXFSZ, &sa, NULL);
	event_set_log_callback(daemon_libevent_log_cb);
	if ((d->base = event_base_new()) == NULL ||
	    event_base_priority_init(d->base, DAEMON_PRIORITIES) == -1) {
		*cause = xstrdup("cannot create the event loop");
		goto fail;
	}
	if ((d->store = store_open(cfg->database, cause)) == NULL)
		goto fail;
	/*
	 * max(seq) answers from the end of the primary key; count(*) would
	 * read a whole index, which a cold start pays for with every event
	 * stored (docs/performance.md).
	 */
	log_info("store", "database %s (schema %d, last event seq %lld)",
	    cfg->database, store_schema_version(d->store),
	    (long long)store_last_seq(d->store));
	/* the WAL checkpoint off the commit path (store.c) */
	if (store_checkpointer_start(d->store, cause) == -1)
		goto fail;
	/* before anything commits: every commit and alert is counted */
	d->metrics = metrics_new(d->store, d->started_ms);
	store_set_commit_timer(d->store, metrics_commit_cb, d->metrics);
	d->engine = engine_new(d->store);
	d->brief = brief_new(d->store);
	d->childview = childview_new(d->store, d->brief);
	if ((rules = daemon_load_rules(d, cause)) == NULL)
		goto fail;
	daemon_use_rules(d, rules);
	d->intake = intake_new(d->store, d->engine, d->brief,
	    &d->decode_opts);
	intake_set_commit_hook(d->intake, daemon_commit_cb, d);
	intake_set_precommit_hook(d->intake, daemon_precommit_cb, d);
	sizer_init(&d->tick_sizer, TICK_ROUND_US, TICK_UNIT_US, TICK_ROUND_MIN,
	    ENGINE_ROUND_MAX);
	d->tick_more = event_new(d->base, -1, 0, daemon_tick_cb, d);
	if (d->tick_more != NULL)
		event_priority_set(d->tick_more, DAEMON_PRIO_BATCH);
	/* deadlines that fell due while misperd was down fire now (the
	   first round; the rest once the loop runs) */
	daemon_tick(d);
	if (CONFIG_TLS_ON(cfg)) {
		if ((d->tls = tls_new(cfg, cause)) == NULL)
			goto fail;
		log_info("tls", "%s", tls_summary(d->tls));
	}
	daemon_warn_insecure(d);
	if ((d->listener = listener_new(d, cause)) == NULL)
		goto fail;
	if ((d->subscribers = subscribers_new(d, cause)) == NULL ||
	    (d->dispatch = dispatch_new(d, cause)) == NULL ||
	    (d->http = http_new(d, api_routes, cause)) == NULL)
		goto fail;
	d->tick_timer = event_new(d->base, -1, EV_PERSIST, daemon_tick_cb, d);
	event_add(d->tick_timer, &tick);
	d->retention = retention_new(d);
	d->sig_term = daemon_signal(d, SIGTERM);
	d->sig_int = daemon_signal(d, SIGINT);
	d->sig_hup = daemon_signal(d, SIGHUP);
	return d;
fail:
	daemon_free(d);
	return NULL;
}

/*
 * How the previous run ended, from the audit trail: "first" (no start
 * before), "clean" (its stop row is there) or "unclean" (killed, crashed).
 */
static const char *
daemon_previous_run(struct daemon *d)
{
	struct audit_row	 start, stop;
	int			 rc;

	if ((rc = audit_last(d->store, AUDIT_START, &start)) == -1 ||
	    audit_last(d->store, AUDIT_STOP, &stop) == -1)
		return "unknown";
	json_decref(start.detail);
	json_decref(stop.detail);
	if (rc == 0)
		return "first";
	return stop.seq > start.seq ? "clean" : "unclean";
}

/* The start row: who runs what, with which rules, after what. */
static int
daemon_audit_start(struct daemon *d)
{
	const char	*previous = daemon_previous_run(d);

	if (strcmp(previous, "unclean") == 0)
		log_warnx("daemon", "the previous run did not stop cleanly "
		    "(no stop in the audit trail)");
	return audit_record(d->store, "misperd", AUDIT_START, NULL,
	    json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "version",
	    PACKAGE_VERSION, "pid", (json_int_t)getpid(), "uid",
	    (json_int_t)getuid(), "config", d->config->path != NULL ?
	    d->config->path : "(embedded defaults)", "database",
	    d->config->database, "rules_version", d->rules->version,
	    "previous", previous));
}

/* Run until stopped.  Returns 0 after an orderly stop, -1 on failure. */
int
daemon_run(struct daemon *d)
{
	char	 actor[32];
	int	 rc;

	/* an unaudited daemon would serve reads nobody could account for */
	if (daemon_audit_start(d) == -1) {
		log_warnx("daemon", "cannot write the audit trail; not "
		    "starting");
		return -1;
	}
	notify_send("READY=1");
	log_info("daemon", "ready");
	rc = event_base_dispatch(d->base);
	if (rc == -1) {
		log_warnx("daemon", "the event loop failed");
		return -1;
	}
	snprintf(actor, sizeof actor, "signal:%s", d->stop_why != NULL ?
	    d->stop_why : "unknown");
	audit_record(d->store, actor, AUDIT_STOP, NULL, json_pack("{s:I}",
	    "uptime_s", (json_int_t)((time_now_ms() - d->started_ms) / 1000)));
	log_info("daemon", "stopped cleanly");
	return 0;
}

/*
 * Close in order: the API and connections, intake, the store (statements
 * first), the loop.
 */
void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	http_free(d->http);	/* no request runs once the store is gone */
	retention_free(d->retention);	/* a purge's statements, too */
	listener_free(d->listener);
	subscribers_free(d->subscribers);
	dispatch_free(d->dispatch);
	intake_free(d->intake);
	/* their statements go before the store closes */
	engine_free(d->engine);
	childview_free(d->childview);
	brief_free(d->brief);
	if (d->store != NULL) {
		struct store_ckpt_stats	 cs;

		store_checkpoint_stats(d->store, &cs);
		log_info("store", "checkpoints: %llu by the checkpointer "
		    "(%llu ms, %llu frames), %llu of their tails (%llu ms), "
		    "%llu at the WAL bound (%llu ms), %llu failed",
		    (unsigned long long)cs.background,
		    (unsigned long long)cs.background_us / 1000,
		    (unsigned long long)cs.frames,
		    (unsigned long long)cs.tail,
		    (unsigned long long)cs.tail_us / 1000,
		    (unsigned long long)cs.bound,
		    (unsigned long long)cs.bound_us / 1000,
		    (unsigned long long)cs.failures);
	}
	store_free(d->store);
	metrics_free(d->metrics);
	rules_free(d->rules);
	tls_free(d->tls);	/* open connections held their own reference */
	if (d->drain_timer != NULL)
		event_free(d->drain_timer);
	if (d->tick_timer != NULL)
		event_free(d->tick_timer);
	if (d->tick_more != NULL)
		event_free(d->tick_more);
	if (d->sig_term != NULL)
		event_free(d->sig_term);
	if (d->sig_int != NULL)
		event_free(d->sig_int);
	if (d->sig_hup != NULL)
		event_free(d->sig_hup);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(d->config);
	free(d);
}
