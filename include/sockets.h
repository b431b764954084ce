/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Listening sockets shared by the event intake (listener.c) and the alert
 * streams (subscribe.c) and the HTTP API (http.c): a Unix stream socket
 * with a mode and group, and TCP listeners (loopback only unless TLS or
 * the configuration's explicit opt-out says otherwise), as libevent
 * connection listeners.  Errors
 * name the configuration section given as "what" ("listen",
 * "subscribers").
 */
#ifndef MISPER_SOCKETS_H
#define MISPER_SOCKETS_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#include <event2/listener.h>

struct evbuffer;
struct event_base;
struct sock_pause;

enum sock_line {
	SOCK_LINE_NONE = 0,	/* no complete line yet */
	SOCK_LINE_OK,		/* *line (caller frees) and *len set */
	SOCK_LINE_TOO_LONG	/* a line over max; skipped to its LF */
};

/* sockets.c */
/* Describe an address for the logs: "tcp:host:port", "tcp:[v6]:port", "unix". */
void		 sock_describe(const struct sockaddr *, char *buf, size_t len);
/*
 * Describe the peer of connected socket fd for the audit trail: as
 * sock_describe(), and for a Unix socket the peer's process and user as
 * the kernel gives them ("unix:pid=1234,uid=0").  "unknown" when the
 * socket has no peer.
 */
void		 sock_describe_peer(int fd, char *buf, size_t len);
/*
 * Bind a Unix socket at path (a stale socket file is replaced, one answered
 * by a live process refused), give it group (NULL or "": unchanged) and
 * mode, and listen.  NULL with *cause; nothing is left behind on failure.
 */
struct evconnlistener *sock_listen_unix(struct event_base *, const char *what,
		     const char *path, mode_t mode, const char *group,
		     evconnlistener_cb, void *arg, char **cause);
/*
 * Listen on "host:port" or "[v6]:port", which must resolve to a loopback
 * address unless remote_ok (TLS, or the configuration's opt-out).  where
 * gets the address bound (port 0: the one the kernel chose).  NULL with
 * *cause.
 */
struct evconnlistener *sock_listen_tcp(struct event_base *, const char *what,
		     const char *spec, int remote_ok, evconnlistener_cb,
		     void *arg, char *where, size_t wherelen, char **cause);
/*
 * Take the next LF-ended line out of in (contract framing: a CR before
 * the LF is dropped; at eof the unterminated rest is a line).  A line
 * longer than max is reported once and skipped up to its LF, across
 * calls, with *skipping (zero for a new connection) keeping the state.
 */
enum sock_line	 sock_read_line(struct evbuffer *in, size_t max, int eof,
		     int *skipping, char **line, size_t *len);
/*
 * Listeners that stop accepting for a moment after accept() fails (out
 * of file descriptors, memory or buffers), instead of spinning.  Call
 * sock_pause_accept() from the listener's error callback;
 * sock_pause_forget() before freeing the listeners; "what" names them in
 * the log.
 */
struct sock_pause *sock_pause_new(struct event_base *, const char *what);
void		 sock_pause_accept(struct sock_pause *, struct evconnlistener *);
void		 sock_pause_forget(struct sock_pause *);
void		 sock_pause_free(struct sock_pause *);

#endif
