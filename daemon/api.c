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

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

/*
 * Every route: method, path, the role it needs, the query parameters it
 * takes, the handler.  Keep paths in docs/api.md's order.
 */
const struct http_route api_routes[] = {
	{ "GET", "/healthz", HTTP_ROLE_NONE, NULL, api_healthz },
	{ "GET", "/readyz", HTTP_ROLE_NONE, NULL, api_readyz },
	{ "GET", "/metrics", HTTP_ROLE_READ, NULL, api_metrics },
	{ "GET", "/v1/children/{id}", HTTP_ROLE_READ, "limit", api_child },
	{ "GET", "/v1/rules", HTTP_ROLE_READ, NULL, api_rules },
	{ "POST", "/v1/rules/reload", HTTP_ROLE_ADMIN, NULL,
	    api_rules_reload },
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
	if (store_event_count(d->store) < 0) {
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
	log_info("http", "rules reload asked by %s", r->peer);
	strcpy(old, d->rules->version);
	if (daemon_reload_rules(d, &cause) == -1) {
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
