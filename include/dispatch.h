/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The dispatcher: takes pending deliveries from the outbox and sends them
 * to their routes' webhooks (HTTP POST, Idempotency-Key, retries with
 * backoff and jitter, a give-up age), records every attempt, and escalates
 * unacknowledged urgent alerts along their routes' chains.  It runs on the
 * event loop and never blocks intake.
 */
#ifndef MISPER_DISPATCH_H
#define MISPER_DISPATCH_H

#include <stdint.h>

struct daemon;
struct dispatch;

/* dispatch.c */
struct dispatch	*dispatch_new(struct daemon *, char **cause);
/*
 * Resolve the deliveries of alerts raised in the caller's open transaction
 * (their webhooks, their escalation time), in it.  0, or -1: roll back.
 */
int		 dispatch_resolve_now(struct dispatch *, int64_t now_ms);
/* New deliveries may be due (alerts were just committed): look now. */
void		 dispatch_kick(struct dispatch *);
/* Stop; requests in flight are abandoned (they stay pending).  NULL ok. */
void		 dispatch_free(struct dispatch *);

#endif
