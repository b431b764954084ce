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

#include <event2/event.h>

#include "catalogue.h"
#include "daemon.h"
#include "intake.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DRAIN_POLL_MS	20

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
	struct timeval	 tv = { 0, DRAIN_POLL_MS * 1000 };

	if (d->stopping)
		return;
	d->stopping = 1;
	d->stop_started_ms = time_now_ms();
	log_info("daemon", "%s: stopping", why);
	notify_send("STOPPING=1");
	listener_stop_accepting(d->listener);
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
		log_info("daemon", "SIGHUP received: rules reload is not "
		    "implemented in this version; nothing changed");
		break;
	default:
		break;
	}
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
	struct sigaction	 sa;

	d = xcalloc(1, sizeof *d);
	d->config = cfg;
	d->foreground = foreground;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	event_set_log_callback(daemon_libevent_log_cb);
	if ((d->base = event_base_new()) == NULL) {
		*cause = xstrdup("cannot create the event loop");
		goto fail;
	}
	if ((d->store = store_open(cfg->database, cause)) == NULL)
		goto fail;
	log_info("store", "database %s (schema %d, %lld events)",
	    cfg->database, store_schema_version(d->store),
	    (long long)store_event_count(d->store));
	/* The rules loader will supply the catalogue; until then, the default. */
	d->decode_opts.indicator_known = catalogue_default_known;
	log_info("daemon", "indicator catalogue: the %zu default indicators "
	    "(rules loading is not in this version)",
	    catalogue_default_count());
	d->intake = intake_new(d->store, &d->decode_opts);
	if ((d->listener = listener_new(d, cause)) == NULL)
		goto fail;
	d->sig_term = daemon_signal(d, SIGTERM);
	d->sig_int = daemon_signal(d, SIGINT);
	d->sig_hup = daemon_signal(d, SIGHUP);
	return d;
fail:
	daemon_free(d);
	return NULL;
}

/* Run until stopped.  Returns 0 after an orderly stop, -1 on failure. */
int
daemon_run(struct daemon *d)
{
	int	 rc;

	notify_send("READY=1");
	log_info("daemon", "ready");
	rc = event_base_dispatch(d->base);
	if (rc == -1) {
		log_warnx("daemon", "the event loop failed");
		return -1;
	}
	log_info("daemon", "stopped cleanly");
	return 0;
}

/* Close in order: connections, intake, the store (statements first), loop. */
void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	listener_free(d->listener);
	intake_free(d->intake);
	store_free(d->store);
	if (d->drain_timer != NULL)
		event_free(d->drain_timer);
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
