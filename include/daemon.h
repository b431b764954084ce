/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The one daemon context: the event base, the configuration, the store,
 * intake and the listeners.  Passed down to every module that needs it;
 * there is no other global mutable state.
 */
#ifndef MISPER_DAEMON_H
#define MISPER_DAEMON_H

#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "sizer.h"

struct brief;
struct childview;
struct dispatch;
struct engine;
struct event_base;
struct event;
struct http;
struct intake;
struct listener;
struct metrics;
struct retention;
struct rules;
struct store;
struct subscribers;
struct tls;

/*
 * The loop's priorities: every event has the default, DAEMON_PRIO_DEFAULT
 * (libevent gives new events the middle one), except the listener's batch,
 * which runs only when nothing else is pending (group commit, listener.c).
 */
#define DAEMON_PRIORITIES	3
#define DAEMON_PRIO_DEFAULT	1
#define DAEMON_PRIO_BATCH	2

struct daemon {
	struct event_base	*base;
	struct config		*config;
	struct store		*store;
	struct rules		*rules;
	struct engine		*engine;
	struct brief		*brief;
	struct childview	*childview;	/* GET /v1/children/{id} */
	struct intake		*intake;
	struct listener		*listener;
	struct subscribers	*subscribers;	/* alert streams */
	struct dispatch		*dispatch;	/* webhooks, escalation */
	struct http		*http;		/* the HTTP API */
	struct metrics		*metrics;	/* counters, histograms */
	struct retention	*retention;	/* the daily purge */
	struct tls		*tls;		/* NULL: no tls: configured */
	struct decode_opts	 decode_opts;
	struct event		*sig_term;
	struct event		*sig_int;
	struct event		*sig_hup;
	struct event		*drain_timer;
	struct event		*tick_timer;
	struct event		*tick_more;	/* more deadlines due */
	struct sizer		 tick_sizer;	/* deadlines a round may fire */
	int			 stopping;
	int64_t			 stop_started_ms;
	const char		*stop_why;	/* "SIGTERM", for the audit */
	int			 foreground;
	int64_t			 started_ms;	/* wall clock at start */
	int64_t			 rules_loaded_ms; /* when d->rules came in */
};

/* daemon.c */
/* Build the context from cfg (takes ownership); NULL with *cause. */
struct daemon	*daemon_new(struct config *cfg, int foreground, char **cause);
/* Run the loop until SIGTERM/SIGINT and an orderly shutdown.  0 or -1. */
int		 daemon_run(struct daemon *);
/* Alerts were committed: wake the subscriber streams and the dispatcher. */
void		 daemon_alerts_committed(struct daemon *);
/*
 * Reload the rules on behalf of actor (audit.h: "signal:SIGHUP",
 * "http:unix:pid=..."); a bad file leaves the running rules.  Either way
 * the audit trail records it.  0 or -1.
 */
int		 daemon_reload_rules(struct daemon *, const char *actor,
		     char **cause);
/* Reload the TLS certificates; bad files leave the running ones.  0 or -1. */
int		 daemon_reload_tls(struct daemon *);
void		 daemon_free(struct daemon *);

#endif
