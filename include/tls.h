/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * TLS for the TCP listeners (events, alert streams, the HTTP API): one
 * server SSL_CTX built from tls.cert, tls.key and tls.ca, always mutual
 * (a client must present a certificate that tls.ca signed), TLS 1.2 or
 * later, no session resumption, so every connection is verified against
 * the certificates in use.  The files are read again on SIGHUP; a new
 * context that fails to build leaves the running one.  Connections are
 * libevent OpenSSL bufferevents; handshake failures are logged at info
 * with the peer's address.
 */
#ifndef MISPER_TLS_H
#define MISPER_TLS_H

#include <stdint.h>

#include <event2/util.h>

struct bufferevent;
struct config;
struct event_base;
struct tls;
struct x509_st;

/* tls.c */
/* Build the context from cfg's tls: section.  NULL with *cause. */
struct tls	*tls_new(const struct config *, char **cause);
/*
 * Read the files again into a new context for new connections; on
 * failure the running one stays.  0, or -1 with *cause.
 */
int		 tls_reload(struct tls *, char **cause);
void		 tls_free(struct tls *);
/* One line about the certificate in use, for the log. */
const char	*tls_summary(struct tls *);
/*
 * A server-side TLS bufferevent on fd (-1: set later, as evhttp does),
 * closing fd when freed.  NULL on failure (fd is then not closed).
 */
struct bufferevent *tls_bufferevent(struct tls *, struct event_base *,
		     evutil_socket_t fd);
/* Is bev a TLS bufferevent? */
int		 tls_is_tls(struct bufferevent *);
/* The peer's verified certificate (caller X509_free()s), or NULL. */
struct x509_st	*tls_peer_cert(struct bufferevent *);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" of an established connection. */
const char	*tls_version(struct bufferevent *);
/*
 * Log at info, under sub, the TLS errors queued on bev, naming peer
 * (for an error event).  Returns the number logged.
 */
int		 tls_log_errors(struct bufferevent *, const char *sub,
		     const char *peer);
/* Send close_notify (best effort, never blocks) before a close. */
void		 tls_close_notify(struct bufferevent *);
/* How long a handshake may take, in ms: idle_timeout, or 60 s if off. */
int64_t		 tls_handshake_ms(const struct config *);

#endif
