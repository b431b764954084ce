/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The HTTP API's route table and its small handlers (docs/api.md).  Each
 * handler reads the daemon's state (the store, the running rules, the
 * listeners) and answers with http.c's helpers; the queries that shape
 * alerts for clients live in alertquery.c.  Handlers of other concerns
 * live in their own files and are listed here.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ack.h"
#include "alertquery.h"
#include "api.h"
#include "audit.h"
#include "daemon.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "rules.h"
#include "store.h"
#include "subscribe.h"
#include "timeutil.h"
#include "xmalloc.h"

#define API_ALERTS_LIMIT	100	/* alerts in a page unless asked */
#define API_SEQ_MAX		999999999999999999LL	/* 18 digits */

/*
 * Every route: method, path, the role it needs, the query parameters it
 * takes, the handler.  Keep paths in docs/api.md's order.
 */
const struct http_route api_routes[] = {
	{ "GET", "/healthz", HTTP_ROLE_NONE, NULL, api_healthz },
	{ "GET", "/readyz", HTTP_ROLE_NONE, NULL, api_readyz },
	{ "GET", "/metrics", HTTP_ROLE_READ, NULL, api_metrics },
	{ "GET", "/v1/status", HTTP_ROLE_READ, NULL, api_status },
	{ "GET", "/v1/children/{id}", HTTP_ROLE_READ, "limit", api_child },
	{ "GET", "/v1/alerts", HTTP_ROLE_READ,
	    "open,route,child,since,limit,before", api_alerts },
	{ "GET", "/v1/alerts/{id}", HTTP_ROLE_READ, NULL, api_alert },
	{ "POST", "/v1/alerts/{id}/ack", HTTP_ROLE_ACK, NULL, api_ack },
	{ "GET", "/v1/rules", HTTP_ROLE_READ, NULL, api_rules },
	{ "POST", "/v1/rules/reload", HTTP_ROLE_ADMIN, NULL,
	    api_rules_reload },
	{ "GET", "/v1/audit", HTTP_ROLE_ADMIN,
	    "since,until,action,actor,subject,limit,before", api_audit },
	{ "GET", "/v1/admin/purge", HTTP_ROLE_ADMIN, NULL, api_purge_status },
	{ "POST", "/v1/admin/purge", HTTP_ROLE_ADMIN, NULL, api_purge_run },
	{ NULL, NULL, HTTP_ROLE_NONE, NULL, NULL }
};

/* An RFC 3339 string for ms. */
static json_t *
api_time(int64_t ms)
{
	char	 buf[TIME_RFC3339_LEN];

	time_format_rfc3339(ms, buf);
	return json_string(buf);
}

/* The store failed: 503, retry later. */
static void
api_unavailable(struct http_req *r)
{
	http_error(r, 503, "unavailable", NULL, "the database could not be "
	    "read; try again later");
}

/*
 * Record a read of personal data in the audit trail before it is served.
 * 0; or -1, answered 503 with reply (which is freed) not sent: a read
 * that cannot be recorded is not served (docs/security.md).
 */
static int
api_audit_read(struct http_req *r, enum audit_action action,
    const char *subject, json_t *detail, json_t *reply)
{
	if (audit_record(r->d->store, r->actor, action, subject, detail) ==
	    0)
		return 0;
	json_decref(reply);
	http_error(r, 503, "unavailable", NULL, "the read could not be "
	    "recorded in the audit trail, so it was not served; try again "
	    "later");
	return -1;
}

/* The filters of GET /v1/alerts for its audit row, with the count. */
static json_t *
api_alerts_filter(const struct alertquery_filter *f, json_t *list)
{
	json_t	*o = json_object();
	char	 t[TIME_RFC3339_LEN];

	if (f->open)
		json_object_set_new(o, "open", json_true());
	if (f->route != NULL)
		json_object_set_new(o, "route", json_string(f->route));
	if (f->since_ms != INT64_MIN) {
		time_format_rfc3339(f->since_ms, t);
		json_object_set_new(o, "since", json_string(t));
	}
	if (f->before_seq > 0)
		json_object_set_new(o, "before", json_integer(f->before_seq));
	json_object_set_new(o, "alerts", json_integer((json_int_t)
	    json_array_size(json_object_get(list, "alerts"))));
	return o;
}

/* Unacknowledged alerts by level: {"notify":0,"review":2,"urgent":1}. */
static json_t *
api_by_level(const struct alertquery_counts *c)
{
	json_t	*o = json_object();
	int	 l;

	for (l = LEVEL_NOTIFY; l < LEVEL__COUNT; l++)
		json_object_set_new(o, level_name(l),
		    json_integer(c->unacked[l]));
	return o;
}

/* The members of an ack body: by (required) and note.  0, or -1 answered. */
static int
api_ack_body(struct http_req *r, json_t *body, const char **by,
    const char **note)
{
	const char	*key;
	json_t		*v;

	json_object_foreach(body, key, v) {
		if (strcmp(key, "by") != 0 && strcmp(key, "note") != 0) {
			http_error(r, 400, "bad_request", key, "an ack takes "
			    "\"by\" and \"note\", not \"%.*s\"", ACK_BY_MAX,
			    key);
			return -1;
		}
	}
	v = json_object_get(body, "by");
	if (!json_is_string(v)) {
		http_error(r, 400, "bad_request", "by", "by %s: name who "
		    "acknowledges, as in {\"by\":\"PS 1234 Smith\"}",
		    v == NULL ? "is missing" : "must be a string");
		return -1;
	}
	*by = json_string_value(v);
	v = json_object_get(body, "note");
	if (v != NULL && !json_is_string(v)) {
		http_error(r, 400, "bad_request", "note", "note must be a "
		    "string (leave it out for none)");
		return -1;
	}
	*note = json_string_value(v);
	return 0;
}

/* Answer an acknowledgement that did not happen. */
static void
api_ack_refused(struct http_req *r, const char *id, enum ack_status st,
    const struct ack_outcome *out)
{
	json_t	*e;
	char	 at[TIME_RFC3339_LEN];

	switch (st) {
	case ACK_ALREADY:
		time_format_rfc3339(out->at_ms, at);
		e = http_error_body("already_acknowledged", NULL, "%s was "
		    "acknowledged by %s at %s; nothing changed", id, out->by,
		    at);
		json_object_set_new(e, "alert", json_string(id));
		json_object_set_new(e, "by", json_string(out->by));
		json_object_set_new(e, "acknowledged_at", json_string(at));
		http_reply_json(r, 409, e);
		break;
	case ACK_UNKNOWN:
		http_error(r, 404, "unknown_alert", "id", "there is no alert "
		    "%s; nothing changed", id);
		break;
	case ACK_BAD_BY:
		http_error(r, 400, "bad_request", "by", "by must be 1-%d bytes "
		    "naming who acknowledges, without control characters or "
		    "spaces at either end", ACK_BY_MAX);
		break;
	case ACK_BAD_NOTE:
		http_error(r, 400, "bad_request", "note", "note must be at "
		    "most %d bytes", ACK_NOTE_MAX);
		break;
	default:
		http_error(r, 503, "unavailable", NULL, "storage failed; "
		    "nothing changed; try again later");
		break;
	}
}

/* "path:line" of something in the rules file. */
static json_t *
api_source(const struct rules *rs, unsigned line)
{
	return json_sprintf("%s:%u", rs->path, line);
}

/* One rule, as GET /v1/rules shows it. */
static json_t *
api_rule(const struct rules *rs, const struct rule *rule)
{
	json_t	*o, *routes, *th;
	size_t	 i;

	routes = json_array();
	for (i = 0; i < rule->nroutes; i++)
		json_array_append_new(routes, json_string(rule->routes[i]));
	o = json_pack("{s:s, s:s, s:s?, s:b, s:o}", "id", rule->id, "kind",
	    rule_kind_name(rule->kind), "description", rule->description,
	    "enabled", rule->enabled, "routes", routes);
	if (rule->kind == RULE_REPEAT || rule->kind == RULE_SCORE) {
		th = json_array();
		for (i = 0; i < rule->nthresholds; i++)
			json_array_append_new(th, json_pack("{s:s, s:f}",
			    "level", level_name(rule->thresholds[i].level),
			    "value", rule->thresholds[i].value));
		json_object_set_new(o, "window_s",
		    json_integer(rule->window_ms / 1000));
		json_object_set_new(o, "thresholds", th);
	} else
		json_object_set_new(o, "level",
		    json_string(level_name(rule->level)));
	if (rule->kind == RULE_DEADLINE)
		json_object_set_new(o, "within_s",
		    json_integer(rule->within_ms / 1000));
	json_object_set_new(o, "source", api_source(rs, rule->line));
	json_object_set_new(o, "digest", json_string(rule->digest));
	return o;
}

/* The lines of text as a JSON array of strings. */
static json_t *
api_lines(const char *text)
{
	json_t		*a = json_array();
	const char	*nl;

	while (text != NULL && *text != '\0') {
		nl = strchr(text, '\n');
		json_array_append_new(a, json_stringn(text, nl != NULL ?
		    (size_t)(nl - text) : strlen(text)));
		text = nl != NULL ? nl + 1 : NULL;
	}
	return a;
}

/* GET /healthz: the loop runs, or this would not be answered. */
void
api_healthz(struct http_req *r)
{
	http_reply_json(r, 200, json_pack("{s:s}", "status", "alive"));
}

/* GET /readyz: the database answers, rules are loaded, listeners are up. */
void
api_readyz(struct http_req *r)
{
	struct daemon	*d = r->d;
	json_t		*checks;
	const char	*why = NULL;
	char		*db = NULL;

	checks = json_object();
	/* the newest seq is one index probe; a count would scan the log */
	if (store_last_seq(d->store) < 0) {
		xasprintf(&db, "the database does not answer: %s",
		    store_errmsg(d->store));
		why = db;
	}
	json_object_set_new(checks, "database", json_string(db != NULL ? db :
	    "ok"));
	json_object_set_new(checks, "rules", json_string(d->rules != NULL ?
	    "ok" : "no rules are loaded"));
	json_object_set_new(checks, "listeners", json_string(d->stopping ?
	    "stopping: no new connections are taken" : "ok"));
	if (why == NULL && d->rules == NULL)
		why = "no rules are loaded";
	if (why == NULL && d->stopping)
		why = "misperd is stopping";
	if (why == NULL)
		http_reply_json(r, 200, json_pack("{s:b, s:o}", "ready", 1,
		    "checks", checks));
	else
		http_reply_json(r, 503, json_pack("{s:b, s:o, s:s, s:s}",
		    "ready", 0, "checks", checks, "error", "unavailable",
		    "message", why));
	free(db);
}

/* GET /v1/status: uptime, versions, counts, queue depths. */
void
api_status(struct http_req *r)
{
	struct daemon		*d = r->d;
	struct alertquery_counts c;
	json_t			*rules, *store, *alerts, *queues;
	int64_t			 now = time_now_ms();

	if (alertquery_counts(d->store, &c) == -1) {
		api_unavailable(r);
		return;
	}
	rules = json_pack("{s:s, s:s, s:I, s:o}", "version", d->rules->version,
	    "path", d->rules->path, "rules", (json_int_t)d->rules->nrules,
	    "loaded_at", api_time(d->rules_loaded_ms));
	store = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "path",
	    d->config->database, "schema", store_schema_version(d->store),
	    "events", (json_int_t)store_event_count(d->store), "last_seq",
	    (json_int_t)store_last_seq(d->store), "children",
	    (json_int_t)c.children, "episodes", (json_int_t)c.episodes);
	alerts = json_pack("{s:I, s:o}", "total", (json_int_t)c.alerts,
	    "unacknowledged", api_by_level(&c));
	queues = json_pack("{s:I, s:I, s:I, s:I}", "pending_deliveries",
	    (json_int_t)c.pending_deliveries, "pending_deadlines",
	    (json_int_t)c.pending_deadlines, "connections",
	    (json_int_t)listener_connections(d->listener), "subscribers",
	    (json_int_t)subscribers_count(d->subscribers));
	http_reply_json(r, 200, json_pack("{s:s, s:o, s:I, s:o, s:o, s:o, "
	    "s:o}", "version", PACKAGE_VERSION, "started_at",
	    api_time(d->started_ms), "uptime_s",
	    (json_int_t)((now - d->started_ms) / 1000), "rules", rules,
	    "store", store, "alerts", alerts, "queues", queues));
}

/* GET /v1/alerts: newest first, filtered, paged. */
void
api_alerts(struct http_req *r)
{
	struct alertquery_filter f;
	json_t			*list;

	memset(&f, 0, sizeof f);
	f.since_ms = INT64_MIN;
	f.limit = API_ALERTS_LIMIT;
	if (http_query_bool(r, "open", &f.open) == -1 ||
	    http_query_id(r, "route", &f.route) == -1 ||
	    http_query_id(r, "child", &f.child) == -1 ||
	    http_query_time(r, "since", &f.since_ms) == -1 ||
	    http_query_int(r, "limit", 1, ALERTQUERY_LIMIT_MAX,
	    &f.limit) == -1 ||
	    http_query_int(r, "before", 1, API_SEQ_MAX, &f.before_seq) == -1)
		return;
	if ((list = alertquery_list(r->d->store, &f)) == NULL) {
		api_unavailable(r);
		return;
	}
	if (api_audit_read(r, AUDIT_ALERTS_LIST, f.child,
	    api_alerts_filter(&f, list), list) == -1)
		return;
	http_reply_json(r, 200, list);
}

/* GET /v1/alerts/{id}: the alert with everything that happened to it. */
void
api_alert(struct http_req *r)
{
	const char	*id = http_param(r, "id");
	const char	*child;
	json_t		*rec;

	switch (alertquery_get(r->d->store, id, &rec)) {
	case 1:
		child = json_string_value(json_object_get(json_object_get(rec,
		    "alert"), "child"));
		if (api_audit_read(r, AUDIT_ALERT_READ, id, json_pack("{s:b, "
		    "s:s?}", "found", 1, "child", child), rec) == 0)
			http_reply_json(r, 200, rec);
		break;
	case 0:
		/* a look for an alert that is not there is a look too */
		if (api_audit_read(r, AUDIT_ALERT_READ, id, json_pack("{s:b}",
		    "found", 0), NULL) == 0)
			http_error(r, 404, "unknown_alert", "id", "there is no "
			    "alert %s", id);
		break;
	default:
		api_unavailable(r);
		break;
	}
}

/* POST /v1/alerts/{id}/ack: acknowledge, as a stream's ack does. */
void
api_ack(struct http_req *r)
{
	struct ack_outcome	 out;
	enum ack_status		 st;
	const char		*id = http_param(r, "id"), *by, *note;
	json_t			*body;
	char			 at[TIME_RFC3339_LEN], via[ACK_VIA_MAX];

	if ((body = http_body_json(r)) == NULL)
		return;
	if (api_ack_body(r, body, &by, &note) == -1) {
		json_decref(body);
		return;
	}
	snprintf(via, sizeof via, "http:%s", r->peer);
	st = ack_alert(r->d->store, id, by, note, via, r->actor,
	    time_now_ms(), &out);
	json_decref(body);	/* by and note live in it until here */
	if (st != ACK_OK) {
		api_ack_refused(r, id, st, &out);
		return;
	}
	/* streams that were sent the alert get an "ack" line */
	subscribers_publish(r->d->subscribers);
	time_format_rfc3339(out.at_ms, at);
	http_reply_json(r, 200, json_pack("{s:b, s:s, s:I, s:s, s:s}", "ok", 1,
	    "alert", id, "seq", (json_int_t)out.seq, "by", out.by,
	    "acknowledged_at", at));
}

/* GET /v1/rules: the running rules, their catalogue and version. */
void
api_rules(struct http_req *r)
{
	const struct rules	*rs = r->d->rules;
	const struct indicator_def *ind;
	json_t			*rules, *inds, *routes;
	char			*summary;
	size_t			 i;

	rules = json_array();
	for (i = 0; i < rs->nrules; i++)
		json_array_append_new(rules, api_rule(rs, &rs->rules[i]));
	inds = json_array();
	for (i = 0; i < rs->nindicators; i++) {
		ind = &rs->indicators[i];
		json_array_append_new(inds, json_pack("{s:s, s:s?, s:f, s:s?, "
		    "s:o}", "id", ind->id, "label", ind->label, "weight",
		    ind->weight, "group", ind->group, "source",
		    api_source(rs, ind->line)));
	}
	routes = json_array();
	for (i = 0; i < rs->nroutes; i++)
		json_array_append_new(routes, json_pack("{s:s, s:s?}", "id",
		    rs->routes[i].id, "description",
		    rs->routes[i].description));
	summary = rules_summary(rs);
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, "
	    "s:o}", "version", rs->version, "path", rs->path, "loaded_at",
	    api_time(r->d->rules_loaded_ms), "summary", summary, "rules", rules,
	    "routes", routes, "indicators", inds));
	free(summary);
}

/* POST /v1/rules/reload: as SIGHUP; a bad file leaves the running rules. */
void
api_rules_reload(struct http_req *r)
{
	struct daemon	*d = r->d;
	json_t		*body, *e;
	char		 old[sizeof d->rules->version], *cause = NULL;

	if (!http_body_empty(r)) {
		if ((body = http_body_json(r)) == NULL)
			return;
		if (json_object_size(body) != 0) {
			json_decref(body);
			http_error(r, 400, "bad_request", NULL, "reload takes "
			    "no parameters; send no body or {}");
			return;
		}
		json_decref(body);
	}
	log_info("http", "rules reload asked by %s", r->actor);
	strcpy(old, d->rules->version);
	if (daemon_reload_rules(d, r->actor, &cause) == -1) {
		e = http_error_body("rules_invalid", NULL, "the rules file has "
		    "errors; the running rules (%s) stay", d->rules->version);
		json_object_set_new(e, "errors", api_lines(cause));
		free(cause);
		http_reply_json(r, 422, e);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:b, s:s, s:s, s:b}", "ok", 1,
	    "old_version", old, "version", d->rules->version, "changed",
	    strcmp(old, d->rules->version) != 0));
}
