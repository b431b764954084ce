/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reading the routes: section of misperd.yaml from yamlload's node tree
 * (the route names are the user's, so a fixed option table does not fit):
 *
 *   routes:
 *     mpu:
 *       webhooks: [{url: ..., headers: {...}, timeout: 10s}]
 *       areas: {croydon: {webhooks: [...]}}
 *       escalate: {after: 30m, to: duty_inspector}
 *
 * Every problem is recorded with its position and reading goes on.  The
 * whole map is then checked: escalate.to names a configured route and no
 * chain comes back to where it started.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "log.h"
#include "routes.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "yamlload.h"

#define ROUTES_MAX		1000
#define ROUTES_NAME_MAX		64
#define ROUTES_TIMEOUT_MAX	(10 * 60 * 1000)	/* 10m per attempt */
#define ROUTES_AFTER_MAX	(28LL * 24 * 3600 * 1000)	/* 4w */
#define NITEMS(a)		(sizeof(a) / sizeof((a)[0]))

/* Headers misperd writes itself; configuring them would be a mistake. */
static const char *const routes_reserved[] = {
	"host", "content-type", "content-length", "idempotency-key",
	"connection", "transfer-encoding", "te", "upgrade", "trailer",
	"keep-alive", "expect", "misperd-escalated-from"
};

/* Is s a route or area name: letters, digits, '_', '-', '.'? */
static int
routes_name_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > ROUTES_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && strchr("_-.", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* Is s an HTTP header field name (RFC 9110 token)? */
static int
routes_token_ok(const char *s)
{
	size_t	 i;

	if (*s == '\0' || strlen(s) > 128)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* Is s a header value we can send: visible ASCII, spaces and tabs? */
static int
routes_value_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
		if (*s == 0x7f)
			return 0;
	}
	return 1;
}

/* The host of uri without IPv6 brackets, checked; NULL and *why if bad. */
static char *
routes_host(const char *url, const char *h, char **why)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	size_t		 n;
	char		*host;

	if (h == NULL || *h == '\0') {
		xasprintf(why, "webhook url '%.*s%s' has no host", YL_SHOW(url));
		return NULL;
	}
	n = strlen(h);
	if (h[0] == '[' && h[n - 1] == ']') {
		host = xstrndup(h + 1, n - 2);
		if (inet_pton(AF_INET6, host, &a6) == 1)
			return host;
	} else {
		host = xstrdup(h);
		if (strspn(host, "0123456789.") == n ?
		    inet_pton(AF_INET, host, &a4) == 1 :
		    yl_is_hostname(host, 1))
			return host;
	}
	xasprintf(why, "webhook url '%.*s%s': '%.*s%s' is not a valid host "
	    "name or address", YL_SHOW(url), YL_SHOW(h));
	free(host);
	return NULL;
}

/* Parse an http or https URL into w. */
int
routes_parse_url(const char *url, struct webhook *w, char **why)
{
	struct evhttp_uri	*u;
	const char		*scheme, *path, *query;
	int			 port;

	*why = NULL;
	if ((u = evhttp_uri_parse_with_flags(url, 0)) == NULL) {
		xasprintf(why, "webhook url '%.*s%s' is not a URL; write "
		    "http://host[:port]/path or https://...", YL_SHOW(url));
		return -1;
	}
	scheme = evhttp_uri_get_scheme(u);
	if (scheme == NULL || (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0))
		xasprintf(why, "webhook url '%.*s%s' must begin with http:// "
		    "or https://", YL_SHOW(url));
	else if (evhttp_uri_get_userinfo(u) != NULL)
		xasprintf(why, "webhook url '%.*s%s' has a user name or "
		    "password; give credentials in headers instead",
		    YL_SHOW(url));
	else if (evhttp_uri_get_fragment(u) != NULL)
		xasprintf(why, "webhook url '%.*s%s' has a #fragment, which is "
		    "never sent", YL_SHOW(url));
	else if ((port = evhttp_uri_get_port(u)) == 0 || port > 65535)
		xasprintf(why, "webhook url '%.*s%s' needs a port from 1 to "
		    "65535", YL_SHOW(url));
	else if ((w->host = routes_host(url, evhttp_uri_get_host(u),
	    why)) != NULL) {
		w->url = xstrdup(url);
		w->https = strcasecmp(scheme, "https") == 0;
		w->port = port != -1 ? port : w->https ? 443 : 80;
		path = evhttp_uri_get_path(u);
		query = evhttp_uri_get_query(u);
		xasprintf(&w->target, "%s%s%s", path != NULL && *path != '\0' ?
		    path : "/", query != NULL ? "?" : "",
		    query != NULL ? query : "");
	}
	evhttp_uri_free(u);
	return *why == NULL ? 0 : -1;
}

/* Free what w owns (not w). */
void
routes_webhook_clear(struct webhook *w)
{
	size_t	 i;

	for (i = 0; i < w->nheaders; i++) {
		free(w->headers[i].name);
		/* a secret: do not leave it in freed memory */
		explicit_bzero(w->headers[i].value,
		    strlen(w->headers[i].value));
		free(w->headers[i].value);
	}
	free(w->headers);
	free(w->url);
	free(w->host);
	free(w->target);
	memset(w, 0, sizeof *w);
}

/* Refuse every key of map v not in keys[0..n). */
static void
routes_keys(struct yl_errors *errs, const struct yl_node *v,
    const char *where, const char *const *keys, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < v->n; i++) {
		for (j = 0; j < n; j++) {
			if (strcmp(v->pairs[i].key, keys[j]) == 0)
				break;
		}
		if (j == n)
			yl_unknown(errs, &v->pairs[i].mark, "key",
			    v->pairs[i].key, where, keys, n);
	}
}

/* Is v a mapping?  If not, say what name should be, like eg. */
static int
routes_want_map(struct yl_errors *errs, const struct yl_node *v,
    const char *name, const char *eg)
{
	if (v->type == YL_MAP)
		return 1;
	yl_error(errs, &v->mark, "%s must be a mapping, as in %s, not %s",
	    name, eg, yl_node_kind(v));
	return 0;
}

/* Write ms as the file would: the largest unit that divides it. */
static void
routes_fmt_ms(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char	*unit;
		int64_t		 ms;
	} units[] = {
		{ "w", 604800000 }, { "d", 86400000 }, { "h", 3600000 },
		{ "m", 60000 }, { "s", 1000 }, { "ms", 1 }
	};
	size_t	 i;

	for (i = 0; ms % units[i].ms != 0; i++)
		;	/* ends at "ms" at the latest */
	snprintf(buf, len, "%lld%s", (long long)(ms / units[i].ms),
	    units[i].unit);
}

/* A duration value of key, within [min, max]; 0 or -1 (reported). */
static int
routes_duration(struct yl_errors *errs, const struct yl_node *v,
    const char *key, int64_t min, int64_t max, int64_t *ms)
{
	const char	*text;
	char		 lo[32], hi[32];

	if ((text = yl_scalar(errs, v, key)) == NULL)
		return -1;
	if (time_parse_duration(text, ms) == -1 || *ms < min || *ms > max) {
		routes_fmt_ms(min, lo, sizeof lo);
		routes_fmt_ms(max, hi, sizeof hi);
		yl_error(errs, &v->mark, "%s '%.*s%s' is not a duration from "
		    "%s to %s; write a whole number and one unit (ms, s, m, h, "
		    "d or w), as in 30m", key, YL_SHOW(text), lo, hi);
		return -1;
	}
	return 0;
}

/* headers: {Name: value, ...} into w. */
static void
routes_read_headers(struct yl_errors *errs, const struct yl_node *v,
    struct webhook *w)
{
	const struct yl_pair	*p;
	const char		*text;
	size_t			 i, j;

	if (!routes_want_map(errs, v, "headers", "{X-Api-Key: \"...\"}"))
		return;
	if (v->n > ROUTES_HEADERS_MAX) {
		yl_error(errs, &v->mark, "at most %d headers per webhook",
		    ROUTES_HEADERS_MAX);
		return;
	}
	if (v->n == 0)
		return;
	w->headers = xcalloc(v->n, sizeof *w->headers);
	for (i = 0; i < v->n; i++) {
		p = &v->pairs[i];
		if (!routes_token_ok(p->key)) {
			yl_error(errs, &p->mark, "'%.*s%s' is not an HTTP "
			    "header name", YL_SHOW(p->key));
			continue;
		}
		for (j = 0; j < NITEMS(routes_reserved); j++) {
			if (strcasecmp(p->key, routes_reserved[j]) == 0)
				break;
		}
		if (j < NITEMS(routes_reserved)) {
			yl_error(errs, &p->mark, "header %s is written by "
			    "misperd itself and cannot be configured", p->key);
			continue;
		}
		/* the value is never quoted in a message: it may be a secret */
		if (p->value->type != YL_SCALAR) {
			yl_error(errs, &p->value->mark, "header %s must be a "
			    "single value, not %s", p->key,
			    yl_node_kind(p->value));
			continue;
		}
		text = p->value->text;
		if (!routes_value_ok(text)) {
			yl_error(errs, &p->value->mark, "header %s has a "
			    "control character in its value", p->key);
			continue;
		}
		w->headers[w->nheaders].name = xstrdup(p->key);
		w->headers[w->nheaders++].value = xstrdup(text);
	}
}

/* One webhook: {url, headers, timeout}.  0, or -1 (reported). */
static int
routes_read_webhook(struct yl_errors *errs, const struct yl_node *v,
    struct webhook *w)
{
	static const char *const keys[] = { "url", "headers", "timeout" };
	const struct yl_node	*u, *h;
	const char		*text;
	char			*why;
	int64_t			 ms;

	memset(w, 0, sizeof *w);
	if (!routes_want_map(errs, v, "a webhook",
	    "{url: \"https://mpu.example/hook\"}"))
		return -1;
	routes_keys(errs, v, "a webhook", keys, NITEMS(keys));
	if ((u = yl_get(v, "url")) == NULL) {
		yl_error(errs, &v->mark, "a webhook needs a url");
		return -1;
	}
	if ((text = yl_scalar(errs, u, "url")) == NULL)
		return -1;
	if (routes_parse_url(text, w, &why) == -1) {
		yl_error(errs, &u->mark, "%s", why);
		free(why);
		return -1;
	}
	w->timeout_ms = 10 * 1000;
	if ((h = yl_get(v, "timeout")) != NULL &&
	    routes_duration(errs, h, "timeout", 1, ROUTES_TIMEOUT_MAX,
	    &ms) == 0)
		w->timeout_ms = ms;
	if ((h = yl_get(v, "headers")) != NULL && !yl_is_null(h))
		routes_read_headers(errs, h, w);
	return 0;
}

/* webhooks: [...] into *out, *n. */
static void
routes_read_webhooks(struct yl_errors *errs, const struct yl_node *v,
    struct webhook **out, size_t *n)
{
	size_t	 i, j;

	if (yl_is_null(v))
		return;
	if (v->type != YL_LIST) {
		yl_error(errs, &v->mark, "webhooks must be a list, as in "
		    "[{url: \"https://mpu.example/hook\"}], not %s",
		    yl_node_kind(v));
		return;
	}
	if (v->n > ROUTES_WEBHOOKS_MAX) {
		yl_error(errs, &v->mark, "at most %d webhooks per route or "
		    "area", ROUTES_WEBHOOKS_MAX);
		return;
	}
	if (v->n == 0)
		return;
	*out = xcalloc(v->n, sizeof **out);
	for (i = 0; i < v->n; i++) {
		if (routes_read_webhook(errs, v->items[i], &(*out)[*n]) == -1)
			continue;
		/* deliveries are recorded per URL, so each must be distinct */
		for (j = 0; j < *n; j++) {
			if (strcmp((*out)[j].url, (*out)[*n].url) == 0)
				break;
		}
		if (j < *n) {
			yl_error(errs, &v->items[i]->mark, "webhook url "
			    "'%.*s%s' is listed twice", YL_SHOW((*out)[j].url));
			routes_webhook_clear(&(*out)[*n]);
			continue;
		}
		(*n)++;
	}
}

/* areas: {area: {webhooks: [...]}, ...} into r. */
static void
routes_read_areas(struct yl_errors *errs, const struct yl_node *v,
    struct route *r)
{
	static const char *const keys[] = { "webhooks" };
	const struct yl_pair	*p;
	const struct yl_node	*w;
	struct route_area	*a;
	size_t			 i;

	if (yl_is_null(v) || !routes_want_map(errs, v, "areas",
	    "{croydon: {webhooks: [{url: \"https://...\"}]}}"))
		return;
	if (v->n == 0)
		return;
	r->areas = xcalloc(v->n, sizeof *r->areas);
	for (i = 0; i < v->n; i++) {
		p = &v->pairs[i];
		if (!routes_name_ok(p->key)) {
			yl_error(errs, &p->mark, "'%.*s%s' is not an area name; "
			    "use 1 to %d letters, digits, '_', '-' or '.', "
			    "starting with a letter or digit", YL_SHOW(p->key),
			    ROUTES_NAME_MAX);
			continue;
		}
		if (!routes_want_map(errs, p->value, p->key,
		    "{webhooks: [{url: \"https://...\"}]}"))
			continue;
		routes_keys(errs, p->value, p->key, keys, NITEMS(keys));
		a = &r->areas[r->nareas++];
		a->area = xstrdup(p->key);
		if ((w = yl_get(p->value, "webhooks")) != NULL)
			routes_read_webhooks(errs, w, &a->webhooks,
			    &a->nwebhooks);
	}
}

/* escalate: {after, to} into r. */
static void
routes_read_escalate(struct yl_errors *errs, const struct yl_node *v,
    struct route *r)
{
	static const char *const keys[] = { "after", "to" };
	const struct yl_node	*a, *t;
	const char		*text;
	int64_t			 ms;

	if (yl_is_null(v) || !routes_want_map(errs, v, "escalate",
	    "{after: 30m, to: duty_inspector}"))
		return;
	routes_keys(errs, v, "escalate", keys, NITEMS(keys));
	if ((a = yl_get(v, "after")) == NULL ||
	    (t = yl_get(v, "to")) == NULL) {
		yl_error(errs, &v->mark, "escalate needs both after and to, "
		    "as in {after: 30m, to: duty_inspector}");
		return;
	}
	if (routes_duration(errs, a, "after", 1, ROUTES_AFTER_MAX, &ms) == -1 ||
	    (text = yl_scalar(errs, t, "to")) == NULL)
		return;
	r->escalate_after_ms = ms;
	r->escalate_to = xstrdup(text);
}

/* One route: {webhooks, areas, escalate}. */
static void
routes_read_route(struct yl_errors *errs, const struct yl_pair *p,
    struct route *r)
{
	static const char *const keys[] = { "webhooks", "areas", "escalate" };
	const struct yl_node	*v = p->value, *w;

	r->name = xstrdup(p->key);
	if (yl_is_null(v))
		return;		/* declared, with no webhooks */
	if (!routes_want_map(errs, v, p->key,
	    "{webhooks: [{url: \"https://...\"}]}"))
		return;
	routes_keys(errs, v, p->key, keys, NITEMS(keys));
	if ((w = yl_get(v, "webhooks")) != NULL)
		routes_read_webhooks(errs, w, &r->webhooks, &r->nwebhooks);
	if ((w = yl_get(v, "areas")) != NULL)
		routes_read_areas(errs, w, r);
	if ((w = yl_get(v, "escalate")) != NULL)
		routes_read_escalate(errs, w, r);
}

/* Check every escalate.to names a route and no chain loops. */
static void
routes_check_chains(struct yl_errors *errs, const struct yl_node *node,
    const struct routes *rs)
{
	const struct route	*r, *next;
	const struct yl_pair	*p;
	size_t			 i, steps;

	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i];
		if (r->escalate_to == NULL)
			continue;
		p = yl_get_pair(node, r->name);
		if (routes_find(rs, r->escalate_to) == NULL) {
			yl_error(errs, &p->mark, "route %s escalates to %.*s%s, "
			    "which is not a configured route", r->name,
			    YL_SHOW(r->escalate_to));
			continue;
		}
		/* a chain longer than the number of routes has a loop */
		for (next = r, steps = 0; next != NULL &&
		    next->escalate_to != NULL && steps <= rs->n; steps++)
			next = routes_find(rs, next->escalate_to);
		if (steps > rs->n)
			yl_error(errs, &p->mark, "the escalation chain from "
			    "route %s comes back to a route already in it; "
			    "end it at a route with no escalate", r->name);
	}
}

/* Read the routes: mapping. */
struct routes *
routes_parse(struct yl_errors *errs, const struct yl_node *node)
{
	struct routes		*rs;
	const struct yl_pair	*p;
	size_t			 i;

	rs = xcalloc(1, sizeof *rs);
	if (node == NULL || yl_is_null(node))
		return rs;
	if (!routes_want_map(errs, node, "routes",
	    "{mpu: {webhooks: [{url: \"https://...\"}]}}"))
		return rs;
	if (node->n > ROUTES_MAX) {
		yl_error(errs, &node->mark, "at most %d routes", ROUTES_MAX);
		return rs;
	}
	if (node->n == 0)
		return rs;
	rs->v = xcalloc(node->n, sizeof *rs->v);
	for (i = 0; i < node->n; i++) {
		p = &node->pairs[i];
		if (!routes_name_ok(p->key)) {
			yl_error(errs, &p->mark, "'%.*s%s' is not a route name; "
			    "use 1 to %d letters, digits, '_', '-' or '.', "
			    "starting with a letter or digit", YL_SHOW(p->key),
			    ROUTES_NAME_MAX);
			continue;
		}
		routes_read_route(errs, p, &rs->v[rs->n++]);
	}
	routes_check_chains(errs, node, rs);
	return rs;
}

/* Free the model.  Accepts NULL. */
void
routes_free(struct routes *rs)
{
	struct route	*r;
	size_t		 i, j, k;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i];
		for (j = 0; j < r->nwebhooks; j++)
			routes_webhook_clear(&r->webhooks[j]);
		free(r->webhooks);
		for (j = 0; j < r->nareas; j++) {
			for (k = 0; k < r->areas[j].nwebhooks; k++)
				routes_webhook_clear(&r->areas[j].webhooks[k]);
			free(r->areas[j].webhooks);
			free(r->areas[j].area);
		}
		free(r->areas);
		free(r->escalate_to);
		free(r->name);
	}
	free(rs->v);
	free(rs);
}

/* The route called name, or NULL. */
const struct route *
routes_find(const struct routes *rs, const char *name)
{
	size_t	 i;

	if (rs == NULL)
		return NULL;
	for (i = 0; i < rs->n; i++) {
		if (strcmp(rs->v[i].name, name) == 0)
			return &rs->v[i];
	}
	return NULL;
}

/* The webhooks for a child in area: the area's unit's, else the route's. */
const struct webhook *
routes_webhooks(const struct route *r, const char *area, size_t *n)
{
	size_t	 i;

	for (i = 0; area != NULL && *area != '\0' && i < r->nareas; i++) {
		if (strcmp(r->areas[i].area, area) == 0) {
			*n = r->areas[i].nwebhooks;
			return r->areas[i].webhooks;
		}
	}
	*n = r->nwebhooks;
	return r->webhooks;
}
