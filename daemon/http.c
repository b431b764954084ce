/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The HTTP API server (docs/api.md).  libevent's evhttp serves the
 * listening sockets that sockets.c opens (so the API refuses what the
 * other listeners refuse: a socket file in use, a non-loopback address),
 * bound with evhttp_bind_listener().  evhttp hands every complete request
 * to one callback, which routes it through the table of api.c: 404 and
 * 405 (with Allow), then api_authorise(), the one place where a request's
 * right to a route is decided, then the body checks (413, 415) and the
 * query parameters, and only then the handler.  Every error is the JSON
 * object of docs/api.md.
 *
 * TLS listeners are served by a second evhttp whose bufferevents are
 * made by tls.c (evhttp_set_bevcb() is per server, and the Unix socket
 * must stay plain), with the same settings and the same callback.
 *
 * evhttp enforces the header limit and a hard body limit of twice
 * http.max_body_bytes while reading; what it refuses gets its own short
 * HTML page with the status (400 or 413).  A body between the two limits
 * is refused here with the JSON 413, so an ordinary oversized request
 * gets the ordinary error.  Over an AF_UNIX socket evhttp 2.1 names every
 * peer "localhost" (it blanks sun_path before getnameinfo()); the logs and
 * the acknowledgement audit use getpeername() instead.
 *
 * Connections are admitted, counted and timed here, since evhttp 2.1 has
 * no connection limit and its timeout is an idle timer (each byte of a
 * trickled request starts it again).  evhttp makes each connection's
 * bufferevent through the evhttp_set_bevcb() callback, before it reads a
 * byte; the connection is noted there and admitted (or refused) by an
 * event made active at once, which runs before the loop next polls, so
 * before evhttp can read a request.  Its evhttp_connection is then the
 * argument of the bufferevent's callbacks (evhttp has no other way to
 * reach it from the bufferevent).  Over http.max_connections a plain
 * connection gets a 503 JSON error written straight to the socket; a TLS
 * one is closed with nothing sent, since plaintext has no place there.
 * Each admitted connection has a deadline of http.timeout for its
 * request, from the connection (or the previous answer) to the complete
 * request, handshake and trickled headers included.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "access.h"
#include "audit.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "sockets.h"
#include "timeutil.h"
#include "tls.h"
#include "xmalloc.h"

#define HTTP_ALL_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | \
				 EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | \
				 EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | \
				 EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
				 EVHTTP_REQ_PATCH)
#define HTTP_ALLOW_MAX		64	/* "GET, POST" and the like */
#define HTTP_SHOW_MAX		64	/* bytes of a sent value in messages */
#define HTTP_LOG_PATH_MAX	256	/* bytes of a path in the log */
#define HTTP_RESUME_MS		1000	/* accept again after it failed */
#define HTTP_IDLE_SLACK_MS	1000	/* evhttp's idle timer, after ours */
#define HTTP_DRAIN_MAX		65536	/* request bytes read off a refusal */

static json_t	*http_verror_body(const char *, const char *, const char *,
		    va_list) printflike(3, 0);

/*
 * A connection, from the bufferevent evhttp asked for (pending) through
 * its admission to its close callback (counted).  Between a request's
 * dispatch and its answer being sent, the request is the handlers':
 * evhttp's own error pages come outside that, and are how the limits it
 * enforces itself (headers, the hard body limit) are counted.
 */
struct http_conn {
	TAILQ_ENTRY(http_conn)		  entry;
	struct http			 *h;
	struct evhttp_connection	 *evcon;	/* NULL: pending */
	struct bufferevent		 *bev;
	int				  tls;
	struct event			 *deadline;	/* http.timeout */
	struct evbuffer_cb_entry	 *in_cb;
	struct evbuffer_cb_entry	 *out_cb;
	size_t				  received;	/* of this request */
	int				  dispatched;	/* handlers have it */
	int				  answered;	/* its reply began */
};

/* A listener evhttp serves, and which of the two servers does. */
struct http_bound {
	struct evhttp			 *evh;
	struct evhttp_bound_socket	 *bs;
};

struct http {
	struct daemon			 *d;
	struct evhttp			 *evh;
	struct evhttp			 *evh_tls;	/* NULL: no TLS */
	const struct http_route		 *routes;
	struct http_bound		 *bound;
	size_t				  nbound;
	char				 *unix_path;	/* to unlink at the end */
	TAILQ_HEAD(, http_conn)		  conns;
	size_t				  nconns;
	TAILQ_HEAD(, http_conn)		  pending;	/* not yet admitted */
	struct event			 *admit;	/* admits pending */
	uint64_t			  refused;	/* max_connections */
	struct audit_refusals		  refusals;	/* not yet audited */
	struct event			 *resume;	/* accept again */
	struct audit_refusals		  unauth;	/* 401s not yet audited */
	struct audit_refusals		  forbidden;	/* 403s */
};

/* The name of a request method. */
static const char *
http_method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/* The bufferevent of req's connection, or NULL. */
static struct bufferevent *
http_bev(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;

	if ((evcon = evhttp_request_get_connection(req)) == NULL)
		return NULL;
	return evhttp_connection_get_bufferevent(evcon);
}

/* Describe the peer of req's connection ("unix", "tcp:127.0.0.1:5000"). */
static void
http_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct bufferevent		*bev;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen = sizeof ss;

	snprintf(buf, len, "unknown");
	if ((bev = http_bev(req)) == NULL)
		return;
	memset(&ss, 0, sizeof ss);
	if (getpeername(bufferevent_getfd(bev), (struct sockaddr *)&ss,
	    &sslen) == 0)
		sock_describe((struct sockaddr *)&ss, buf, len);
}

/*
 * Who sends req, for the audit trail: the channel and the peer as the
 * kernel gives it (with pid and uid on a Unix socket).  api_authorise()
 * adds the client it identifies (http_actor_identify()).
 */
static void
http_actor(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;

	snprintf(buf, len, "http:unknown");
	if (len > 5 && (evcon = evhttp_request_get_connection(req)) != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL)
		sock_describe_peer(bufferevent_getfd(bev), buf + 5, len - 5);
}

/* Send status with the bytes of body, and log the request. */
static void
http_send(struct http_req *r, int status, const char *content_type,
    struct evbuffer *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(r->req);
	char			 path[HTTP_LOG_PATH_MAX];
	size_t			 i;

	/* the path as sent may hold any byte; the log gets printable ones */
	for (i = 0; r->path[i] != '\0' && i < sizeof path - 1; i++)
		path[i] = ((unsigned char)r->path[i] >= 0x20 &&
		    (unsigned char)r->path[i] < 0x7f) ? r->path[i] : '?';
	path[i] = '\0';
	if (r->status != 0)
		fatalx("http", "%s %s answered twice (%d, then %d)", r->method,
		    r->path, r->status, status);
	r->status = status;
	evhttp_add_header(h, "Content-Type", content_type);
	/* data about children: no cache keeps a copy */
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(r->req, status, NULL, body);
	log_debug("http", "%s %s %d %s%s%s", r->method, path, status, r->peer,
	    r->identity != NULL ? " as " : "",
	    r->identity != NULL ? r->identity : "");
}

/* The error object, from a va_list. */
static json_t *
http_verror_body(const char *token, const char *field, const char *fmt,
    va_list ap)
{
	json_t	*e;
	char	*msg;

	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("http", "out of memory");
	e = json_pack("{s:s}", "error", token);
	if (field != NULL)
		json_object_set_new(e, "field", json_string(field));
	json_object_set_new(e, "message", json_string(msg));
	free(msg);
	return e;
}

/* Copy of text fit for a message: printable ASCII, capped (caller frees). */
static char *
http_show(const char *text)
{
	char	*out;
	size_t	 i, n = strlen(text);

	if (n > HTTP_SHOW_MAX)
		n = HTTP_SHOW_MAX;
	out = xmalloc(n + 4);
	for (i = 0; i < n; i++)
		out[i] = ((unsigned char)text[i] >= 0x20 &&
		    (unsigned char)text[i] < 0x7f) ? text[i] : '?';
	strcpy(out + n, strlen(text) > n ? "..." : "");
	return out;
}

/* Does segment seg (of len bytes) of a route path name a parameter? */
static int
http_is_param(const char *seg, size_t len)
{
	return len > 2 && seg[0] == '{' && seg[len - 1] == '}';
}

/*
 * Match path against a route pattern, segment by segment, noting where
 * the parameters are (not yet decoded).  1 on a match, else 0.
 */
static int
http_match(struct http_req *r, const char *pattern, const char *path,
    const char **pstart, size_t *plen)
{
	const char	*p = pattern, *q = path, *pe, *qe;
	size_t		 n = 0;

	for (;;) {
		if (*p != '/' || *q != '/')
			return *p == '\0' && *q == '\0';
		p++;
		q++;
		pe = p + strcspn(p, "/");
		qe = q + strcspn(q, "/");
		if (http_is_param(p, (size_t)(pe - p))) {
			if (qe == q || n == HTTP_PARAMS_MAX)
				return 0;
			r->pnames[n] = p + 1;
			r->pnamelens[n] = (size_t)(pe - p) - 2;
			pstart[n] = q;
			plen[n++] = (size_t)(qe - q);
		} else if (pe - p != qe - q || memcmp(p, q, pe - p) != 0)
			return 0;
		p = pe;
		q = qe;
		r->nparams = n;
	}
}

/* Is every '%' in s followed by two hex digits? */
static int
http_escapes_ok(const char *s)
{
	for (; (s = strchr(s, '%')) != NULL; s += 3) {
		if (!isxdigit((unsigned char)s[1]) ||
		    !isxdigit((unsigned char)s[2]))
			return 0;
	}
	return 1;
}

/*
 * Decode the parameters of the matched route: percent-decoding (strict:
 * evhttp would keep a bad escape as it is), then the id check.  0, or -1
 * answered.
 */
static int
http_decode_params(struct http_req *r, const char **pstart, size_t *plen)
{
	char	*raw, *dec, *show, name[32];
	size_t	 i, declen;

	for (i = 0; i < r->nparams; i++) {
		raw = xmalloc(plen[i] + 1);
		memcpy(raw, pstart[i], plen[i]);
		raw[plen[i]] = '\0';
		dec = http_escapes_ok(raw) ? evhttp_uridecode(raw, 0, &declen) :
		    NULL;
		if (dec == NULL || declen != strlen(dec) || !http_id_ok(dec)) {
			show = http_show(raw);
			snprintf(name, sizeof name, "%.*s",
			    (int)r->pnamelens[i], r->pnames[i]);
			http_error(r, 400, "bad_request", name,
			    "'%s' in the path is not an id: ids are 1-128 "
			    "printable ASCII characters with no space at "
			    "either end, percent-encoded where needed", show);
			free(show);
			free(raw);
			free(dec);
			return -1;
		}
		free(raw);
		r->pvalues[i] = dec;
	}
	return 0;
}

/* The route for r's path and method; or NULL, answered 404 or 405. */
static const struct http_route *
http_route(struct http *h, struct http_req *r, enum evhttp_cmd_type cmd)
{
	const struct http_route	*rt, *found = NULL;
	const char		*pstart[HTTP_PARAMS_MAX];
	size_t			 plen[HTTP_PARAMS_MAX], len = 0;
	char			 allow[HTTP_ALLOW_MAX];
	struct http_req		 probe;

	allow[0] = '\0';
	for (rt = h->routes; rt->method != NULL; rt++) {
		memset(&probe, 0, sizeof probe);
		if (!http_match(&probe, rt->path, r->path, pstart, plen))
			continue;
		if (strcmp(rt->method, http_method_name(cmd)) != 0) {
			len += snprintf(allow + len, sizeof allow - len,
			    "%s%s", len > 0 ? ", " : "", rt->method);
			if (len >= sizeof allow)
				fatalx("http", "too many methods on %s",
				    rt->path);
			continue;
		}
		found = rt;
		memcpy(r->pnames, probe.pnames, sizeof r->pnames);
		memcpy(r->pnamelens, probe.pnamelens, sizeof r->pnamelens);
		r->nparams = probe.nparams;
		break;
	}
	if (found != NULL) {
		r->route = found;
		if (http_decode_params(r, pstart, plen) == -1)
			return NULL;
		return found;
	}
	if (allow[0] == '\0') {
		http_error(r, 404, "not_found", NULL, "there is no %s; the "
		    "paths are listed in docs/api.md", r->path);
		return NULL;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow",
	    allow);
	http_error(r, 405, "method_not_allowed", NULL, "%s takes %s, not %s",
	    r->path, allow, r->method);
	return NULL;
}

/*
 * An authenticated client is named in the actor ("http:ops@tcp:...");
 * the built-in local client (access.local: all) leaves the peer alone.
 */
static void
http_actor_identify(struct http_req *r, const char *name)
{
	char	 peer[96];	/* "tcp:[v6]:port", "unix:pid=...,uid=..." */

	if (strcmp(name, ACCESS_LOCAL_NAME) == 0 ||
	    strncmp(r->actor, "http:", 5) != 0)
		return;
	snprintf(peer, sizeof peer, "%s", r->actor + 5);
	snprintf(r->actor, sizeof r->actor, "http:%.*s@%s", ACCESS_NAME_MAX,
	    name, peer);
}

/* A refused request in the audit trail (coalesced per reason). */
static void
http_audit_refused(struct http_req *r, struct audit_refusals *rf,
    const char *reason)
{
	audit_refused(r->d->store, rf, "http", r->actor + 5, reason,
	    time_now_ms());
}

/* Answer 401 with a challenge; error is the RFC 6750 code or NULL. */
static void
http_unauthorised(struct http_req *r, const char *error, const char *msg)
{
	char	 challenge[96];

	snprintf(challenge, sizeof challenge, "Bearer realm=\"misperd\"%s%s%s",
	    error != NULL ? ", error=\"" : "", error != NULL ? error : "",
	    error != NULL ? "\"" : "");
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "WWW-Authenticate", challenge);
	log_info("http", "%s %s: 401 from %s: %s", r->method, r->route->path,
	    r->peer, msg);
	http_audit_refused(r, &r->d->http->unauth, "unauthorised");
	http_error(r, 401, "unauthorised", NULL, "%s", msg);
}

/*
 * The token of an "Authorization: Bearer <token>" header into *tok and
 * *len.  1 when there is such a header, 0 when there is no Authorization
 * header, -1 when it is not a bearer token.
 */
static int
http_bearer(struct http_req *r, const char **tok, size_t *len)
{
	const char	*h, *p;

	h = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "Authorization");
	if (h == NULL)
		return 0;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return -1;
	for (p = h + 6; *p == ' ' || *p == '\t'; p++)
		;
	*tok = p;
	*len = strcspn(p, " \t");
	return *len > 0 && p[*len] == '\0' ? 1 : -1;
}

/*
 * Who sends r: the client of its bearer token if it sends one, else the
 * client its TLS certificate identifies, else (a local peer) whoever
 * access.local names.  NULL, with *why, when nobody.
 */
static const struct access_client *
http_identify(struct http_req *r, const char **error, char *why, size_t len)
{
	const struct config		*cfg = r->d->config;
	const struct access_client	*c;
	const char			*tok;
	size_t				 toklen;
	X509				*cert;
	char				 desc[256];

	*error = NULL;
	switch (http_bearer(r, &tok, &toklen)) {
	case -1:
		*error = "invalid_request";
		snprintf(why, len, "the Authorization header must be "
		    "\"Bearer <token>\"");
		return NULL;
	case 1:
		if ((c = access_by_token(cfg->access, tok, toklen)) == NULL) {
			*error = "invalid_token";
			snprintf(why, len, "the bearer token is not the token "
			    "of any client in access.clients");
		}
		return c;
	}
	if (r->tls) {
		cert = tls_peer_cert(http_bev(r->req));
		if ((c = access_by_cert(cfg->access, cert)) == NULL) {
			access_cert_describe(cert, desc, sizeof desc);
			snprintf(why, len, "the client certificate (%s) names "
			    "no client in access.clients; send a bearer token "
			    "(Authorization: Bearer ...) or use a certificate "
			    "that does", desc);
		}
		X509_free(cert);
		return c;
	}
	if ((c = access_local(cfg->access, cfg->access_local)) == NULL)
		snprintf(why, len, "access.local is none, so a local request "
		    "needs a bearer token (Authorization: Bearer ...)");
	return c;
}

/*
 * The one place where a request's right to a route is decided: who sends
 * it (http_identify()), then whether that client holds the route's role
 * (access.h).  401 unauthorised, with WWW-Authenticate: Bearer, when no
 * client is found; 403 forbidden when the client lacks the role.  Routes
 * that need no role (health checks) are open to anyone who can connect.
 * Returns 0 when the request may go on, with r->identity set.
 */
static int
api_authorise(struct http_req *r, enum http_role role)
{
	const struct access_client	*c;
	const char			*error;
	char				 why[512], *roles;
	unsigned			 bit = 0;

	c = http_identify(r, &error, why, sizeof why);
	if (c != NULL) {
		r->client = c;
		r->identity = c->name;
		http_actor_identify(r, c->name);
	}
	switch (role) {
	case HTTP_ROLE_NONE:
		return 0;
	case HTTP_ROLE_READ:
		bit = ACCESS_READ;
		break;
	case HTTP_ROLE_ACK:
		bit = ACCESS_ACK;
		break;
	case HTTP_ROLE_ADMIN:
		bit = ACCESS_ADMIN;
		break;
	}
	if (c == NULL) {
		http_unauthorised(r, error, why);
		return -1;
	}
	if (bit == 0 || !access_has(c, bit)) {
		roles = access_roles_text(c->roles);
		log_info("http", "%s %s: 403 for %s from %s: no %s role",
		    r->method, r->route->path, c->name, r->peer,
		    access_role_name(bit));
		http_audit_refused(r, &r->d->http->forbidden, "forbidden");
		http_error(r, 403, "forbidden", NULL, "%s %s needs the %s "
		    "role, and client %s holds %s", r->method, r->route->path,
		    access_role_name(bit), c->name, roles);
		free(roles);
		return -1;
	}
	return 0;
}

/* Is the request's Content-Type application/json (parameters allowed)? */
static int
http_is_json(struct http_req *r)
{
	const char	*ct;
	size_t		 n = strlen("application/json");

	ct = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "Content-Type");
	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "application/json", n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Body limits and type: 0, or -1 answered 413 or 415. */
static int
http_check_body(struct http *h, struct http_req *r)
{
	size_t	 len, max = h->d->config->http_max_body_bytes;

	len = evbuffer_get_length(evhttp_request_get_input_buffer(r->req));
	if (len > max) {
		metrics_limit_hit(h->d->metrics, METRICS_LIMIT_HTTP_BODY);
		http_error(r, 413, "too_large", NULL, "the body is %zu bytes; "
		    "the limit is %zu (http.max_body_bytes)", len, max);
		return -1;
	}
	if (len > 0 && strcmp(r->method, "POST") == 0 && !http_is_json(r)) {
		http_error(r, 415, "unsupported_media_type", NULL, "send the "
		    "body as JSON with Content-Type: application/json");
		return -1;
	}
	return 0;
}

/* Is name one of the comma-separated names in list? */
static int
http_in_list(const char *list, const char *name)
{
	size_t	 n = strlen(name), len;

	while (list != NULL && *list != '\0') {
		len = strcspn(list, ",");
		if (len == n && strncmp(list, name, n) == 0)
			return 1;
		list += len + (list[len] == ',');
	}
	return 0;
}

/* Parse and check the query parameters: 0, or -1 answered 400. */
static int
http_parse_query(struct http_req *r)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(r->req);
	const char		*q = uri != NULL ? evhttp_uri_get_query(uri) :
				    NULL;
	struct evkeyval		*kv, *other;
	char			*show;

	if (q == NULL || *q == '\0')
		return 0;
	r->query = xcalloc(1, sizeof *r->query);
	TAILQ_INIT(r->query);
	/* evhttp would cut a value at an encoded NUL, silently */
	if (strstr(q, "%00") != NULL || !http_escapes_ok(q) ||
	    evhttp_parse_query_str(q, r->query) == -1) {
		http_error(r, 400, "bad_request", NULL, "the query string is "
		    "malformed; write name=value pairs joined by '&', "
		    "percent-encoded, with no NUL byte");
		return -1;
	}
	TAILQ_FOREACH(kv, r->query, next) {
		show = http_show(kv->key);
		if (!http_in_list(r->route->query, kv->key)) {
			if (r->route->query != NULL)
				http_error(r, 400, "bad_request", show, "%s "
				    "takes no query parameter '%s'; it takes "
				    "%s", r->route->path, show,
				    r->route->query);
			else
				http_error(r, 400, "bad_request", show, "%s "
				    "takes no query parameters",
				    r->route->path);
			free(show);
			return -1;
		}
		for (other = TAILQ_NEXT(kv, next); other != NULL;
		    other = TAILQ_NEXT(other, next)) {
			if (strcmp(other->key, kv->key) == 0) {
				http_error(r, 400, "bad_request", show,
				    "query parameter '%s' is given twice",
				    show);
				free(show);
				return -1;
			}
		}
		free(show);
	}
	return 0;
}

/* Free what the request holds. */
static void
http_req_clear(struct http_req *r)
{
	size_t	 i;

	for (i = 0; i < HTTP_PARAMS_MAX; i++)
		free(r->pvalues[i]);
	if (r->query != NULL) {
		evhttp_clear_headers(r->query);
		free(r->query);
	}
}

/* Free a connection's own state (not the connection: evhttp's). */
static void
http_conn_free(struct http_conn *c)
{
	if (c->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev),
		    c->in_cb);
	if (c->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev),
		    c->out_cb);
	if (c->deadline != NULL)
		event_free(c->deadline);
	free(c);
}

/* evhttp closes an admitted connection. */
static void
http_conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn	*c = arg;

	TAILQ_REMOVE(&c->h->conns, c, entry);
	c->h->nconns--;
	http_conn_free(c);
}

/* Give c's next request http.timeout to be complete. */
static void
http_deadline_arm(struct http_conn *c)
{
	struct timeval	 tv = time_tv_ms(c->h->d->config->http_timeout_ms);

	evtimer_add(c->deadline, &tv);
}

/* The request did not come in time, however slowly it trickled. */
static void
http_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	char			 peer[AUDIT_ACTOR_MAX];

	sock_describe_peer(bufferevent_getfd(c->bev), peer, sizeof peer);
	log_info("http", "%s: closed: no complete request within "
	    "http.timeout (%lld ms)%s", peer,
	    (long long)c->h->d->config->http_timeout_ms,
	    c->received == 0 ? ", nothing sent" : "");
	metrics_limit_hit(c->h->d->metrics, METRICS_LIMIT_HTTP_TIMEOUT);
	evhttp_connection_free(c->evcon);	/* frees c */
}

/* Bytes of a request arrived: how much it has sent so far. */
static void
http_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct http_conn	*c = arg;

	c->received += info->n_added;
}

/*
 * A reply begins outside a request's dispatch: one of evhttp's own error
 * pages, for what it refuses while reading.  413 is the hard body limit;
 * 400 after more than http.max_header_bytes is the header limit (a
 * shorter one is a malformed request, no limit's doing).
 */
static void
http_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct http_conn	*c = arg;
	struct evbuffer_ptr	 at;
	char			 line[13];

	if (info->n_added == 0 || c->dispatched || c->answered)
		return;
	c->answered = 1;
	if (evbuffer_ptr_set(buf, &at, info->orig_size, EVBUFFER_PTR_SET) ==
	    -1 || evbuffer_copyout_from(buf, &at, line, 12) != 12)
		return;
	line[12] = '\0';
	if (strncmp(line + 8, " 413", 4) == 0)
		metrics_limit_hit(c->h->d->metrics, METRICS_LIMIT_HTTP_BODY);
	else if (strncmp(line + 8, " 400", 4) == 0 &&
	    c->received > c->h->d->config->http_max_header_bytes)
		metrics_limit_hit(c->h->d->metrics, METRICS_LIMIT_HTTP_HEADER);
}

/* The answer is out: the next request's deadline starts. */
static void
http_answered_cb(struct evhttp_request *req, void *arg)
{
	struct http_conn	*c = arg;

	c->dispatched = 0;
	c->answered = 0;
	c->received = 0;
	http_deadline_arm(c);
}

/*
 * A complete request reaches the handlers: its connection's deadline
 * stops until the answer is sent (http_answered_cb).
 */
static void
http_count_conn(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct http_conn		*c;

	if ((evcon = evhttp_request_get_connection(req)) == NULL)
		return;
	TAILQ_FOREACH(c, &h->conns, entry) {
		if (c->evcon == evcon)
			break;
	}
	if (c == NULL)
		return;
	evtimer_del(c->deadline);
	c->dispatched = 1;
	evhttp_request_set_on_complete_cb(req, http_answered_cb, c);
}

/*
 * Refuse a plain connection with a 503 written straight to the socket
 * (a fresh socket's send buffer takes it).  The request's bytes already
 * there are read first: closing over unread bytes would reset the
 * connection, and the client might lose the answer.
 */
static void
http_refuse_plain(struct http *h, evutil_socket_t fd)
{
	char	 body[160], head[256], buf[4096];
	size_t	 drained = 0;
	ssize_t	 n;
	int	 blen, hlen;

	while (drained < HTTP_DRAIN_MAX &&
	    (n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		drained += (size_t)n;
	blen = snprintf(body, sizeof body, "{\"error\":\"unavailable\","
	    "\"message\":\"too many connections (http.max_connections %u); "
	    "try again shortly\"}\n", h->d->config->http_max_connections);
	hlen = snprintf(head, sizeof head, "HTTP/1.1 503 Service Unavailable"
	    "\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
	    "Cache-Control: no-store\r\nRetry-After: 1\r\n"
	    "Connection: close\r\n\r\n", blen);
	if (send(fd, head, (size_t)hlen, MSG_NOSIGNAL) == hlen)
		(void)send(fd, body, (size_t)blen, MSG_NOSIGNAL);
}

/* Refuse c over http.max_connections: audited, counted, closed. */
static void
http_refuse(struct http *h, struct http_conn *c)
{
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);
	char		 peer[AUDIT_ACTOR_MAX];

	sock_describe_peer(fd, peer, sizeof peer);
	if (!c->tls)
		http_refuse_plain(h, fd);
	metrics_limit_hit(h->d->metrics, METRICS_LIMIT_HTTP_CONNECTIONS);
	audit_refused(h->d->store, &h->refusals, "http", peer,
	    "max_connections", time_now_ms());
	if (h->refused++ % 100 == 0)
		log_warnx("http", "connection refused: %zu open, limit %u "
		    "(%llu refused so far)", h->nconns,
		    h->d->config->http_max_connections,
		    (unsigned long long)h->refused);
	evhttp_connection_free(c->evcon);	/* closes the socket */
	http_conn_free(c);
}

/* Admit c (counted, timed) or refuse it. */
static void
http_admit(struct http *h, struct http_conn *c)
{
	void	*arg = NULL;

	bufferevent_getcb(c->bev, NULL, NULL, NULL, &arg);
	c->evcon = arg;
	if (c->evcon == NULL ||
	    evhttp_connection_get_bufferevent(c->evcon) != c->bev)
		fatalx("http", "evhttp did not make a connection of its "
		    "bufferevent as libevent 2.1 does; misperd cannot count "
		    "HTTP connections with this libevent");
	if ((c->deadline = evtimer_new(h->d->base, http_deadline_cb, c)) ==
	    NULL)
		fatalx("http", "cannot set up a timer");
	if (h->nconns >= h->d->config->http_max_connections) {
		http_refuse(h, c);
		return;
	}
	TAILQ_INSERT_TAIL(&h->conns, c, entry);
	h->nconns++;
	evhttp_connection_set_closecb(c->evcon, http_conn_closed_cb, c);
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev),
	    http_input_cb, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
	    http_output_cb, c);
	if (c->in_cb == NULL || c->out_cb == NULL)
		fatalx("http", "out of memory");
	http_deadline_arm(c);
}

/* The connections evhttp set up since the loop last ran: admit each. */
static void
http_admit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http		*h = arg;
	struct http_conn	*c;

	while ((c = TAILQ_FIRST(&h->pending)) != NULL) {
		TAILQ_REMOVE(&h->pending, c, entry);
		http_admit(h, c);
	}
}

/*
 * evhttp_set_bevcb: evhttp accepted a connection and needs its
 * bufferevent (the socket comes later).  Admission waits for the event
 * made active here: evhttp has not made the connection yet.
 */
static struct bufferevent *
http_new_bev(struct http *h, struct event_base *base, int tls)
{
	struct bufferevent	*bev;
	struct http_conn	*c;

	/* on NULL evhttp would make a plain one: never on a TLS listener */
	bev = tls ? tls_bufferevent(h->d->tls, base, -1) :
	    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("http", "cannot set up a connection");
	c = xcalloc(1, sizeof *c);
	c->h = h;
	c->bev = bev;
	c->tls = tls;
	TAILQ_INSERT_TAIL(&h->pending, c, entry);
	event_active(h->admit, EV_TIMEOUT, 0);
	return bev;
}

/* Every request: route, authorise, check, handle. */
static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http			*h = arg;
	struct http_req			 r;
	const struct evhttp_uri		*uri;
	const struct http_route		*rt;
	enum evhttp_cmd_type		 cmd = evhttp_request_get_command(req);

	http_count_conn(h, req);
	memset(&r, 0, sizeof r);
	r.d = h->d;
	r.req = req;
	r.method = http_method_name(cmd);
	http_peer(req, r.peer, sizeof r.peer);
	r.tls = tls_is_tls(http_bev(req));
	http_actor(req, r.actor, sizeof r.actor);
	uri = evhttp_request_get_evhttp_uri(req);
	r.path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (r.path == NULL || *r.path == '\0')
		r.path = "/";
	if ((rt = http_route(h, &r, cmd)) != NULL &&
	    api_authorise(&r, rt->role) == 0 &&
	    http_check_body(h, &r) == 0 && http_parse_query(&r) == 0) {
		rt->handler(&r);
		if (r.status == 0) {
			log_warnx("http", "%s %s: the handler gave no answer",
			    r.method, r.path);
			http_error(&r, 500, "internal", NULL, "the request was "
			    "not answered; this is a bug in misperd");
		}
	}
	http_req_clear(&r);
}

/*
 * accept() failed (out of file descriptors, memory or buffers).  libevent
 * would try again at once, for ever, at full CPU with a warning each time
 * (sockets.c says more); so the listener rests until http_resume_cb takes
 * it back.  evhttp owns the listener's callback argument, so struct http
 * is out of reach here: hence the plain timer instead of a sock_pause.
 */
static void
http_accept_error_cb(struct evconnlistener *el, void *arg)
{
	log_warnx("http", "accept: %s; not accepting for up to %d ms; raise "
	    "the open-file limit (LimitNOFILE=) or lower the connection "
	    "limits", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
	    HTTP_RESUME_MS);
	evconnlistener_disable(el);
}

/* Take back every listener http_accept_error_cb rested. */
static void
http_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;
	size_t		 i;

	for (i = 0; i < h->nbound; i++)
		evconnlistener_enable(evhttp_bound_socket_get_listener(
		    h->bound[i].bs));
}

/* evhttp_set_bevcb: the plain server's connections. */
static struct bufferevent *
http_plain_bev_cb(struct event_base *base, void *arg)
{
	return http_new_bev(arg, base, 0);
}

/* evhttp_set_bevcb: the TLS server's connections. */
static struct bufferevent *
http_tls_bev_cb(struct event_base *base, void *arg)
{
	/* evhttp sets the fd later */
	return http_new_bev(arg, base, 1);
}

/* A server with the configured limits, routing to http_request_cb. */
static struct evhttp *
http_server(struct http *h)
{
	struct config	*cfg = h->d->config;
	struct evhttp	*evh;
	struct timeval	 tv;

	if ((evh = evhttp_new(h->d->base)) == NULL)
		fatalx("http", "cannot create the HTTP server");
	/* every method reaches the router, which answers 405 with Allow */
	evhttp_set_allowed_methods(evh, HTTP_ALL_METHODS);
	/* the hard limit evhttp enforces while reading; see above */
	evhttp_set_max_body_size(evh,
	    (ev_ssize_t)cfg->http_max_body_bytes * 2);
	evhttp_set_max_headers_size(evh,
	    (ev_ssize_t)cfg->http_max_header_bytes);
	/*
	 * evhttp's timer is an idle one, started again by every byte; the
	 * deadline (http_deadline_arm) bounds a request instead.  This one
	 * is left for answers a client does not read, a little later so
	 * that the two never race over a silent client.
	 */
	tv = time_tv_ms(cfg->http_timeout_ms + HTTP_IDLE_SLACK_MS);
	evhttp_set_timeout_tv(evh, &tv);
	/* read a refused body before answering, so the client sees why */
	evhttp_set_flags(evh, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(evh, http_request_cb, h);
	return evh;
}

/* Serve a listener opened by sockets.c.  0, or -1 with *cause. */
static int
http_bind(struct http *h, struct evconnlistener *el, int tls,
    const char *where, char **cause)
{
	struct evhttp_bound_socket	*bs;
	struct evhttp			*evh;

	if (tls && h->evh_tls == NULL) {
		h->evh_tls = http_server(h);
		evhttp_set_bevcb(h->evh_tls, http_tls_bev_cb, h);
	}
	if (!tls)
		evhttp_set_bevcb(h->evh, http_plain_bev_cb, h);
	evh = tls ? h->evh_tls : h->evh;
	if ((bs = evhttp_bind_listener(evh, el)) == NULL) {
		evconnlistener_free(el);
		xasprintf(cause, "http: cannot serve HTTP on %s", where);
		return -1;
	}
	evconnlistener_set_error_cb(el, http_accept_error_cb);
	h->bound = xreallocarray(h->bound, h->nbound + 1, sizeof *h->bound);
	h->bound[h->nbound].evh = evh;
	h->bound[h->nbound++].bs = bs;
	return 0;
}

/* Open the configured Unix socket and TCP listeners.  0 or -1. */
static int
http_open(struct http *h, char **cause)
{
	struct config		*cfg = h->d->config;
	struct evconnlistener	*el;
	char			 where[96];
	size_t			 i;

	if (cfg->http_unix_path != NULL && cfg->http_unix_path[0] != '\0') {
		/* evhttp sets the callback when it takes the listener */
		el = sock_listen_unix(h->d->base, "http", cfg->http_unix_path,
		    cfg->http_unix_mode, cfg->http_unix_group != NULL ?
		    cfg->http_unix_group : cfg->unix_group, NULL, NULL, cause);
		if (el == NULL)
			return -1;
		h->unix_path = xstrdup(cfg->http_unix_path);
		if (http_bind(h, el, 0, cfg->http_unix_path, cause) == -1)
			return -1;
		log_info("http", "HTTP API on unix:%s (mode %04o)",
		    cfg->http_unix_path, (unsigned)cfg->http_unix_mode);
	}
	for (i = 0; i < cfg->http_ntcp; i++) {
		el = sock_listen_tcp(h->d->base, "http", cfg->http_tcp[i],
		    cfg->http_tcp_tls[i] || cfg->tls_insecure, NULL, NULL,
		    where, sizeof where, cause);
		if (el == NULL || http_bind(h, el, cfg->http_tcp_tls[i], where,
		    cause) == -1)
			return -1;
		log_info("http", "HTTP API on %s%s", where,
		    cfg->http_tcp_tls[i] ? " (TLS)" : "");
	}
	return 0;
}

/* Answer with body (stolen) as JSON. */
void
http_reply_json(struct http_req *r, int status, json_t *body)
{
	struct evbuffer	*buf;
	char		*text;

	if ((text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		fatalx("http", "out of memory");
	json_decref(body);
	if ((buf = evbuffer_new()) == NULL)
		fatalx("http", "out of memory");
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	http_send(r, status, "application/json", buf);
	evbuffer_free(buf);
}

/* Answer with the bytes of body. */
void
http_reply_text(struct http_req *r, int status, const char *content_type,
    struct evbuffer *body)
{
	http_send(r, status, content_type, body);
}

/* The error object {"error","field","message"}. */
json_t *
http_error_body(const char *token, const char *field, const char *fmt, ...)
{
	json_t	*e;
	va_list	 ap;

	va_start(ap, fmt);
	e = http_verror_body(token, field, fmt, ap);
	va_end(ap);
	return e;
}

/* Answer with an error object. */
void
http_error(struct http_req *r, int status, const char *token,
    const char *field, const char *fmt, ...)
{
	json_t	*e;
	va_list	 ap;

	va_start(ap, fmt);
	e = http_verror_body(token, field, fmt, ap);
	va_end(ap);
	http_reply_json(r, status, e);
}

/* A contract id: 1-128 bytes of printable ASCII, no space at either end. */
int
http_id_ok(const char *s)
{
	size_t	 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 128)
		return 0;
	if (s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 1;
}

/* The decoded value of path parameter name, or NULL. */
const char *
http_param(struct http_req *r, const char *name)
{
	size_t	 i, n = strlen(name);

	for (i = 0; i < r->nparams; i++) {
		if (r->pnamelens[i] == n && strncmp(r->pnames[i], name, n) == 0)
			return r->pvalues[i];
	}
	return NULL;
}

/* The decoded value of query parameter name, or NULL. */
const char *
http_query(struct http_req *r, const char *name)
{
	if (r->query == NULL)
		return NULL;
	return evhttp_find_header(r->query, name);
}

/* A boolean query parameter: true/false/1/0. */
int
http_query_bool(struct http_req *r, const char *name, int *v)
{
	const char	*s = http_query(r, name);

	if (s == NULL)
		return 0;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*v = 0;
	else {
		http_error(r, 400, "bad_request", name, "%s must be true or "
		    "false", name);
		return -1;
	}
	return 0;
}

/* A whole-number query parameter in [min, max]. */
int
http_query_int(struct http_req *r, const char *name, int64_t min,
    int64_t max, int64_t *v)
{
	const char	*s = http_query(r, name);
	int64_t		 n = 0;
	size_t		 i;

	if (s == NULL)
		return 0;
	/* 18 digits cannot overflow; no bound here needs more */
	for (i = 0; isdigit((unsigned char)s[i]) && i < 18; i++)
		n = n * 10 + (s[i] - '0');
	if (i == 0 || s[i] != '\0' || n < min || n > max) {
		http_error(r, 400, "bad_request", name, "%s must be a whole "
		    "number from %lld to %lld", name, (long long)min,
		    (long long)max);
		return -1;
	}
	*v = n;
	return 0;
}

/* An RFC 3339 time query parameter, in ms. */
int
http_query_time(struct http_req *r, const char *name, int64_t *ms)
{
	const char	*s = http_query(r, name);

	if (s == NULL)
		return 0;
	if (time_parse_rfc3339(s, ms) == -1) {
		http_error(r, 400, "bad_request", name, "%s must be an RFC "
		    "3339 time, as in 2026-11-21T22:10:00Z (encode '+' as "
		    "%%2B)", name);
		return -1;
	}
	return 0;
}

/* An id query parameter. */
int
http_query_id(struct http_req *r, const char *name, const char **v)
{
	const char	*s = http_query(r, name);

	if (s == NULL)
		return 0;
	if (!http_id_ok(s)) {
		http_error(r, 400, "bad_request", name, "%s must be an id: "
		    "1-128 printable ASCII characters with no space at either "
		    "end", name);
		return -1;
	}
	*v = s;
	return 0;
}

/* Is the body empty? */
int
http_body_empty(struct http_req *r)
{
	return evbuffer_get_length(evhttp_request_get_input_buffer(r->req))
	    == 0;
}

/* The body as a JSON object; NULL answered 400. */
json_t *
http_body_json(struct http_req *r)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(r->req);
	size_t		 len = evbuffer_get_length(in);
	json_error_t	 jerr;
	json_t		*body;
	unsigned char	*p;

	if (len == 0) {
		http_error(r, 400, "bad_request", NULL, "the body is empty; "
		    "send a JSON object");
		return NULL;
	}
	if ((p = evbuffer_pullup(in, -1)) == NULL)
		fatalx("http", "out of memory");
	body = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		http_error(r, 400, "bad_request", NULL, "the body is not "
		    "JSON: %s at byte %d", jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		http_error(r, 400, "bad_request", NULL, "the body must be a "
		    "JSON object");
		return NULL;
	}
	return body;
}

/* Open the configured API listeners and serve routes. */
struct http *
http_new(struct daemon *d, const struct http_route *routes, char **cause)
{
	struct http	*h;
	struct timeval	 tv;

	h = xcalloc(1, sizeof *h);
	h->d = d;
	h->routes = routes;
	TAILQ_INIT(&h->conns);
	TAILQ_INIT(&h->pending);
	if ((h->admit = event_new(d->base, -1, 0, http_admit_cb, h)) == NULL)
		fatalx("http", "cannot set up an event");
	h->evh = http_server(h);
	tv = time_tv_ms(HTTP_RESUME_MS);
	h->resume = event_new(d->base, -1, EV_PERSIST, http_resume_cb, h);
	if (h->resume == NULL || event_add(h->resume, &tv) == -1)
		fatalx("http", "cannot set up a timer");
	if (http_open(h, cause) == -1) {
		http_free(h);
		return NULL;
	}
	return h;
}

/* Stop accepting: the listeners close, open connections finish. */
void
http_stop_accepting(struct http *h)
{
	size_t	 i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nbound; i++)
		evhttp_del_accept_socket(h->bound[i].evh, h->bound[i].bs);
	h->nbound = 0;
}

/* Connections that have sent a request and are still open. */
size_t
http_connections(struct http *h)
{
	return h != NULL ? h->nconns : 0;
}

/* Close every connection and listener, remove the socket file. */
void
http_free(struct http *h)
{
	struct http_conn	*c;

	if (h == NULL)
		return;
	if (h->resume != NULL)
		event_free(h->resume);
	audit_refusals_flush(h->d->store, &h->refusals, "http",
	    "max_connections", time_now_ms());
	audit_refusals_flush(h->d->store, &h->unauth, "http", "unauthorised",
	    time_now_ms());
	audit_refusals_flush(h->d->store, &h->forbidden, "http", "forbidden",
	    time_now_ms());
	evhttp_free(h->evh);	/* its listeners and connections too */
	if (h->evh_tls != NULL)
		evhttp_free(h->evh_tls);
	/* a connection evhttp dropped without its close callback */
	while ((c = TAILQ_FIRST(&h->conns)) != NULL) {
		TAILQ_REMOVE(&h->conns, c, entry);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
	}
	/* set up but never admitted: evhttp_free() freed their sockets */
	while ((c = TAILQ_FIRST(&h->pending)) != NULL) {
		TAILQ_REMOVE(&h->pending, c, entry);
		free(c);
	}
	if (h->admit != NULL)
		event_free(h->admit);
	free(h->bound);
	if (h->unix_path != NULL) {
		unlink(h->unix_path);
		free(h->unix_path);
	}
	free(h);
}
