/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Webhook attempts with libevent's evhttp client on the daemon's own
 * loop: one connection per attempt (Connection: close, so a receiver's
 * keep-alive quirks cannot wedge a later attempt), names resolved with
 * evdns (never the blocking getaddrinfo), https through a
 * bufferevent_openssl with SNI and verification against the system's CA
 * store.  Each attempt has a hard deadline of its own besides evhttp's
 * read and write timeouts, so a peer that accepts and never answers, or
 * trickles, costs at most the webhook's timeout.  Header values are never
 * logged: they may be secrets.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "routes.h"
#include "timeutil.h"
#include "webhook.h"
#include "xmalloc.h"

#define WEBHOOK_BODY_MAX	(1024 * 1024)	/* a receiver's answer */
#define WEBHOOK_HEADERS_MAX	(64 * 1024)

struct webhook_client {
	struct event_base	*base;
	struct evdns_base	*dns;
	SSL_CTX			*ssl;
};

struct webhook_req {
	struct webhook_client		*c;
	struct evhttp_connection	*conn;
	/*
	 * The connection's bufferevent, with a reference of our own: on a
	 * failed request evhttp frees an auto-freed connection (and drops
	 * its reference to this) before it calls webhook_error_cb, which
	 * still wants the TLS error queued here.  Released by
	 * webhook_req_free.
	 */
	struct bufferevent		*bev;
	struct event			*deadline;
	webhook_done_fn			 done;
	void				*arg;
	int64_t				 started_us;
	char				 error[WEBHOOK_ERROR_MAX];
};

/* Words for evhttp's request errors. */
static const char *
webhook_error_name(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed before a complete answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid HTTP answer";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection failed";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "answer too long";
	default:
		return "request failed";
	}
}

/* Free what is ours of an attempt: the connection if still ours, our
 * reference to its bufferevent, the deadline and wr. */
static void
webhook_req_free(struct webhook_req *wr)
{
	if (wr->conn != NULL)
		evhttp_connection_free(wr->conn);
	if (wr->bev != NULL)
		bufferevent_decref(wr->bev);
	if (wr->deadline != NULL)
		event_free(wr->deadline);
	free(wr);
}

/* End the attempt: tell the owner, then free what is ours. */
static void
webhook_finish(struct webhook_req *wr, int status)
{
	struct webhook_result	 res;

	memset(&res, 0, sizeof res);
	res.http_status = status;
	if (status == 0)
		snprintf(res.error, sizeof res.error, "%s",
		    wr->error[0] != '\0' ? wr->error : "no answer");
	res.elapsed_ms = (time_mono_us() - wr->started_us) / 1000;
	event_free(wr->deadline);
	wr->deadline = NULL;
	wr->done(&res, wr->arg);
	webhook_req_free(wr);
}

/*
 * evhttp: the request failed; the completion callback follows.  By now
 * evhttp has already freed the connection (free_on_completion), so wr->conn
 * must not be touched here (valgrind found reads of the freed connection,
 * which ASan misses inside the uninstrumented libevent): the TLS error
 * comes from wr->bev, kept alive by our own reference.
 */
static void
webhook_error_cb(enum evhttp_request_error e, void *arg)
{
	struct webhook_req	*wr = arg;
	unsigned long		 err = 0;
	char			 ssl[120];

	if (wr->bev != NULL)
		err = bufferevent_get_openssl_error(wr->bev);
	if (err != 0) {
		ERR_error_string_n(err, ssl, sizeof ssl);
		snprintf(wr->error, sizeof wr->error, "TLS: %s", ssl);
	} else
		snprintf(wr->error, sizeof wr->error, "%s",
		    webhook_error_name(e));
}

/* evhttp: the request ended (req NULL on errors). */
static void
webhook_done_cb(struct evhttp_request *req, void *arg)
{
	struct webhook_req	*wr = arg;
	int			 status = 0;

	if (req != NULL)
		status = evhttp_request_get_response_code(req);
	if (status == 0 && wr->error[0] == '\0')
		snprintf(wr->error, sizeof wr->error, "%s", "no answer");
	/* evhttp frees the connection once this returns (or, on an error,
	 * has freed it already) */
	wr->conn = NULL;
	webhook_finish(wr, status);
}

/* Our own deadline: the peer had the whole timeout and did not finish. */
static void
webhook_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct webhook_req	*wr = arg;

	evhttp_connection_free(wr->conn);	/* calls none of ours */
	wr->conn = NULL;
	snprintf(wr->error, sizeof wr->error, "timed out");
	webhook_finish(wr, 0);
}

/* A bufferevent for w: TLS with SNI and verification, or plain TCP. */
static struct bufferevent *
webhook_bev(struct webhook_client *c, const struct webhook *w)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	X509_VERIFY_PARAM *vp;
	SSL		*ssl;
	int		 ip;

	if (!w->https)
		return bufferevent_socket_new(c->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = SSL_new(c->ssl)) == NULL)
		return NULL;
	ip = inet_pton(AF_INET, w->host, &a4) == 1 ||
	    inet_pton(AF_INET6, w->host, &a6) == 1;
	vp = SSL_get0_param(ssl);
	/* the certificate must name the host (or the address) we asked for */
	if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, w->host) :
	    X509_VERIFY_PARAM_set1_host(vp, w->host, 0)) != 1 ||
	    (!ip && SSL_set_tlsext_host_name(ssl, w->host) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	return bufferevent_openssl_socket_new(c->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
}

/* The headers of the POST: ours first, then the configured ones. */
static int
webhook_headers(struct evhttp_request *req, const struct webhook *w,
    const char *key, const char *from, size_t len)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	char			 host[300], clen[32];
	size_t			 i;
	int			 v6 = strchr(w->host, ':') != NULL;

	if ((w->https && w->port == 443) || (!w->https && w->port == 80))
		snprintf(host, sizeof host, v6 ? "[%s]" : "%s", w->host);
	else
		snprintf(host, sizeof host, v6 ? "[%s]:%d" : "%s:%d", w->host,
		    w->port);
	snprintf(clen, sizeof clen, "%zu", len);
	if (evhttp_add_header(h, "Host", host) == -1 ||
	    evhttp_add_header(h, "Content-Type", "application/json") == -1 ||
	    evhttp_add_header(h, "Content-Length", clen) == -1 ||
	    evhttp_add_header(h, "Idempotency-Key", key) == -1 ||
	    evhttp_add_header(h, "Connection", "close") == -1 ||
	    evhttp_add_header(h, "User-Agent", PACKAGE_NAME "/"
	    PACKAGE_VERSION) == -1)
		return -1;
	if (from != NULL &&
	    evhttp_add_header(h, "Misperd-Escalated-From", from) == -1)
		return -1;
	for (i = 0; i < w->nheaders; i++) {
		if (evhttp_add_header(h, w->headers[i].name,
		    w->headers[i].value) == -1)
			return -1;
	}
	return 0;
}

/* Fill res for an attempt that could not start. */
static struct webhook_req *
webhook_fail(struct webhook_req *wr, struct webhook_result *res,
    const char *why)
{
	memset(res, 0, sizeof *res);
	snprintf(res->error, sizeof res->error, "%s", why);
	if (wr != NULL)
		webhook_req_free(wr);
	return NULL;
}

/* Start one POST. */
struct webhook_req *
webhook_post(struct webhook_client *c, const struct webhook *w,
    const char *key, const char *from, const char *body, size_t len,
    webhook_done_fn done,
    void *arg, struct webhook_result *res)
{
	struct webhook_req	*wr;
	struct evhttp_request	*req;
	struct bufferevent	*bev;
	struct timeval		 tv;

	if ((bev = webhook_bev(c, w)) == NULL)
		return webhook_fail(NULL, res, "cannot set up the connection");
	wr = xcalloc(1, sizeof *wr);
	wr->c = c;
	wr->done = done;
	wr->arg = arg;
	wr->started_us = time_mono_us();
	if ((wr->conn = evhttp_connection_base_bufferevent_new(c->base, c->dns,
	    bev, w->host, (unsigned short)w->port)) == NULL) {
		bufferevent_free(bev);
		return webhook_fail(wr, res, "cannot set up the connection");
	}
	/* outlives the connection: see struct webhook_req */
	bufferevent_incref(bev);
	wr->bev = bev;
	tv = time_tv_ms(w->timeout_ms);
	evhttp_connection_set_timeout_tv(wr->conn, &tv);
	evhttp_connection_set_retries(wr->conn, 0);
	evhttp_connection_set_max_body_size(wr->conn, WEBHOOK_BODY_MAX);
	evhttp_connection_set_max_headers_size(wr->conn, WEBHOOK_HEADERS_MAX);
	wr->deadline = evtimer_new(c->base, webhook_deadline_cb, wr);
	if ((req = evhttp_request_new(webhook_done_cb, wr)) == NULL)
		return webhook_fail(wr, res, "out of memory");
	evhttp_request_set_error_cb(req, webhook_error_cb);
	if (webhook_headers(req, w, key, from, len) == -1 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body,
	    len) == -1) {
		evhttp_request_free(req);
		return webhook_fail(wr, res, "cannot build the request");
	}
	if (evhttp_make_request(wr->conn, req, EVHTTP_REQ_POST,
	    w->target) == -1)
		return webhook_fail(wr, res, "cannot connect");
	evhttp_connection_free_on_completion(wr->conn);
	evtimer_add(wr->deadline, &tv);
	return wr;
}

/* Abandon an attempt in flight. */
void
webhook_cancel(struct webhook_req *wr)
{
	if (wr == NULL)
		return;
	webhook_req_free(wr);
}

/* The wait before retry number attempts, with equal jitter. */
int64_t
webhook_backoff_ms(int64_t initial, int64_t max, int attempts, uint32_t rnd)
{
	int64_t	 d = initial;
	int	 i;

	if (d < 1)
		d = 1;
	for (i = 1; i < attempts && d < max; i++)
		d *= 2;		/* stops at max: cannot overflow */
	if (d > max)
		d = max;
	return d - d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}

/* The loop's client: a resolver and a TLS context. */
struct webhook_client *
webhook_client_new(struct event_base *base, char **cause)
{
	struct webhook_client	*c;

	c = xcalloc(1, sizeof *c);
	c->base = base;
	if ((c->dns = evdns_base_new(base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL &&
	    (c->dns = evdns_base_new(base, 0)) == NULL) {
		xasprintf(cause, "webhooks: cannot set up the resolver");
		goto fail;
	}
	if ((c->ssl = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION) != 1) {
		xasprintf(cause, "webhooks: cannot set up TLS");
		goto fail;
	}
	if (SSL_CTX_set_default_verify_paths(c->ssl) != 1)
		log_warnx("webhook", "no system CA store: https webhooks will "
		    "fail certificate verification");
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	return c;
fail:
	webhook_client_free(c);
	return NULL;
}

/* Free the client; every attempt must have ended or been cancelled. */
void
webhook_client_free(struct webhook_client *c)
{
	if (c == NULL)
		return;
	if (c->dns != NULL)
		evdns_base_free(c->dns, 0);
	SSL_CTX_free(c->ssl);
	free(c);
}
