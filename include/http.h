/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The HTTP API server (docs/api.md): libevent's evhttp on the configured
 * Unix socket and loopback TCP listeners, a route table (api.c), one
 * authorisation point, and the request helpers every handler uses: JSON
 * replies and errors, path parameters, query parameters, JSON bodies.
 *
 * A handler gets a struct http_req, reads what it needs through the
 * helpers below and answers exactly once with http_reply_json(),
 * http_reply_text() or http_error().  A helper that finds the request
 * malformed answers it (400, 413) and returns -1 or NULL; the handler then
 * just returns.  Every reply is logged at debug level (method, path,
 * status, peer; never the query or the body).
 */
#ifndef MISPER_HTTP_H
#define MISPER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "log.h"

#define HTTP_PARAMS_MAX	4	/* {name} segments in one route */
#define HTTP_PEER_MAX	80	/* "unix", "tcp:[v6]:port" */
#define HTTP_ACTOR_MAX	192	/* "http:unix:pid=1234,uid=0" */

struct access_client;
struct daemon;
struct evbuffer;
struct evhttp_request;
struct evkeyvalq;
struct http;

/* What a route needs; api_authorise() decides who holds it. */
enum http_role {
	HTTP_ROLE_NONE = 0,	/* health checks: anyone who can connect */
	HTTP_ROLE_READ,
	HTTP_ROLE_ACK,
	HTTP_ROLE_ADMIN
};

struct http_req;

/*
 * One route.  path is matched segment by segment; a segment "{name}"
 * matches any one non-empty segment, which is percent-decoded and must be
 * a contract id (http_id_ok(); 400 bad_request naming the parameter
 * otherwise).  query lists the query parameters the route takes,
 * comma-separated ("open,route,limit"); any other gets 400.  The table
 * ends with an entry whose method is NULL.
 */
struct http_route {
	const char	*method;	/* "GET" or "POST" */
	const char	*path;		/* "/v1/alerts/{id}/ack" */
	enum http_role	 role;
	const char	*query;		/* NULL: none allowed */
	void		(*handler)(struct http_req *);
};

/* One request, as a handler sees it.  Read-only for handlers. */
struct http_req {
	struct daemon		*d;
	struct evhttp_request	*req;
	const struct http_route	*route;
	const char		*method;	/* "GET", "POST", ... */
	const char		*path;		/* as sent, without the query */
	char			 peer[HTTP_PEER_MAX];
	int			 tls;		/* over a TLS listener */
	/*
	 * Who asks, once api_authorise() has let the request through: the
	 * client's name in access.clients, or "local" (access.local: all).
	 * NULL for routes that need no role when no identity was found.
	 * For the audit trail and the logs.
	 */
	const char		*identity;
	const struct access_client *client;
	/*
	 * Who asks, for the audit trail (audit.h): "http:", the client
	 * access control identified (none for the local "all") and "@",
	 * and the peer with its credentials on a Unix socket:
	 * "http:unix:pid=1234,uid=0", "http:dashboard@tcp:10.1.2.3:5123".
	 */
	char			 actor[HTTP_ACTOR_MAX];
	const char		*pnames[HTTP_PARAMS_MAX];
	size_t			 pnamelens[HTTP_PARAMS_MAX];
	char			*pvalues[HTTP_PARAMS_MAX];	/* decoded */
	size_t			 nparams;
	struct evkeyvalq	*query;		/* decoded; NULL: none sent */
	int			 status;	/* 0 until answered */
};

/* http.c */
/*
 * Open the configured API listeners (none configured: a server with no
 * listener) and serve routes (a table that outlives the server).  NULL
 * with *cause.
 */
struct http	*http_new(struct daemon *, const struct http_route *routes,
		     char **cause);
/* Stop accepting connections (shutdown); open ones finish. */
void		 http_stop_accepting(struct http *);
/* Connections open that have sent a request (metrics).  NULL: 0. */
size_t		 http_connections(struct http *);
/* Close every connection and listener, remove the socket.  Accepts NULL. */
void		 http_free(struct http *);

/* Answer with body (stolen) as JSON. */
void		 http_reply_json(struct http_req *, int status, json_t *body);
/* Answer with the bytes of body (drained), of the given Content-Type. */
void		 http_reply_text(struct http_req *, int status,
		     const char *content_type, struct evbuffer *body);
/*
 * The error object {"error":token,"message":...,"field":...} (field NULL:
 * left out), for errors that carry more members; answer it with
 * http_reply_json().
 */
json_t		*http_error_body(const char *token, const char *field,
		     const char *fmt, ...) printflike(3, 4);
/* Answer with an error object (docs/api.md "Conventions"). */
void		 http_error(struct http_req *, int status, const char *token,
		     const char *field, const char *fmt, ...) printflike(5, 6);

/* The decoded value of path parameter name ("id" for "{id}"), or NULL. */
const char	*http_param(struct http_req *, const char *name);
/* The decoded value of query parameter name, or NULL when not sent. */
const char	*http_query(struct http_req *, const char *name);
/*
 * Typed query parameters: each leaves *v alone when the parameter is not
 * sent, and answers 400 bad_request (field: the parameter) and returns -1
 * when it is malformed.  0 otherwise.
 */
int		 http_query_bool(struct http_req *, const char *name, int *v);
int		 http_query_int(struct http_req *, const char *name,
		     int64_t min, int64_t max, int64_t *v);
int		 http_query_time(struct http_req *, const char *name,
		     int64_t *ms);
int		 http_query_id(struct http_req *, const char *name,
		     const char **v);
/*
 * The request body as a JSON object (caller decrefs).  NULL when it is
 * empty, not JSON or not an object: answered 400 bad_request.  (Bodies
 * over http.max_body_bytes (413) and POST bodies that are not
 * application/json (415) never reach a handler.)
 */
json_t		*http_body_json(struct http_req *);
/* Is the body empty? */
int		 http_body_empty(struct http_req *);
/* A contract id: 1-128 bytes of printable ASCII, no space at either end. */
int		 http_id_ok(const char *);

#endif
