/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Retention (docs/security.md): a purge removes what is older than
 * retention.period, by event time, from every table but the audit trail:
 * events (and with them their idempotency keys), episodes, children with
 * no event left, indicators, interviews, plans, location flags and
 * locations no longer named, alerts with their deliveries, webhook
 * deliveries, attempts, escalations and acknowledgements, deadlines and
 * rule state.  It runs daily at retention.purge_at (UTC), at start when
 * the last purge is more than a day old, and when an operator asks (POST
 * /v1/admin/purge), in batches of retention.batch_rows rows per
 * transaction with the event loop served between them, and ends with a
 * log line and a purge row in the audit trail giving the counts.
 */
#ifndef MISPER_RETENTION_H
#define MISPER_RETENTION_H

#include <stdint.h>

struct daemon;
struct evbuffer;
struct retention;
struct rules;

/* retention.c */
/*
 * Schedule the daily purge for d (its config, store and loop); a purge
 * starts at once when the last one is more than a day old.
 */
struct retention *retention_new(struct daemon *);
/*
 * Start a purge now on behalf of actor (audit.h).  1 started, 0 one is
 * running already.
 */
int		 retention_start(struct retention *, const char *actor);
/* Is a purge running? */
int		 retention_running(struct retention *);
/*
 * Stop a running purge between batches (shutdown): what was removed
 * stays removed, and its purge row says it did not complete.
 */
void		 retention_stop(struct retention *);
/* Warn when the period is shorter than what rules look back over. */
void		 retention_check_rules(struct retention *, const struct rules *);
/* The purge metrics (docs/metrics.md) in exposition format. */
void		 retention_render_metrics(struct retention *, struct evbuffer *);
/* Stop, and free.  Before the store closes.  Accepts NULL. */
void		 retention_free(struct retention *);

#endif
