/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The event intake sockets: a Unix stream socket and TCP listeners, with
 * contract framing (one JSON object per LF-ended line), pipelining with
 * replies in order, line length limits, connection limits, idle timeouts and
 * backpressure.
 */
#ifndef MISPER_LISTENER_H
#define MISPER_LISTENER_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct listener;

/* listener.c */
/* Open every configured listener; NULL with *cause on failure. */
struct listener	*listener_new(struct daemon *, char **cause);
/* Stop accepting; open connections stay until they finish. */
void		 listener_stop_accepting(struct listener *);
/*
 * Stop reading on every connection, flush the replies already produced and
 * close each connection once flushed.  Returns the number still open.
 */
size_t		 listener_drain(struct listener *);
size_t		 listener_connections(struct listener *);
/* Connections refused over limits.max_connections since the start. */
uint64_t	 listener_refused(struct listener *);
/* Close everything now and free.  Accepts NULL. */
void		 listener_free(struct listener *);

#endif
