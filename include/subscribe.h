/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Subscriber streams (contract section 5): clients connect to the alert
 * sockets, subscribe to routes, receive every unacknowledged alert for
 * them and then new ones as they are raised, and acknowledge alerts.
 * The commands and replies are documented in docs/protocol.md.
 */
#ifndef MISPER_SUBSCRIBE_H
#define MISPER_SUBSCRIBE_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct subscribers;

/* subscribe.c */
/* Open the configured subscriber listeners (none configured: no-op). */
struct subscribers *subscribers_new(struct daemon *, char **cause);
/* Alerts were committed (raised or escalated): send what is new. */
void		 subscribers_publish(struct subscribers *);
/* Connections open; of them, streams that have subscribed. */
size_t		 subscribers_count(struct subscribers *);
size_t		 subscribers_streams(struct subscribers *);
/* Connections refused over subscribers.max_subscribers since the start. */
uint64_t	 subscribers_refused(struct subscribers *);
/* Close every stream and listener.  Accepts NULL. */
void		 subscribers_free(struct subscribers *);

#endif
