/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Parsing subscriber stream commands (subcmd.h).  The checks, their order
 * and their messages are those subscribe.c made inline before the parser
 * was split out, so clients see the same replies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ack.h"
#include "log.h"
#include "subcmd.h"
#include "utf8.h"
#include "xmalloc.h"

static int	subcmd_fault(struct subcmd *, const char *, const char *,
		    const char *, ...) printflike(4, 5);

/* Note the first fault.  Always -1. */
static int
subcmd_fault(struct subcmd *c, const char *error, const char *field,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&c->message, fmt, ap) == -1)
		fatalx("subscribe", "out of memory");
	va_end(ap);
	c->error = error;
	c->field = field;
	return -1;
}

/* A string member that must be there: NULL when at fault. */
static const char *
subcmd_need_string(struct subcmd *c, json_t *cmd, const char *key)
{
	json_t	*v = json_object_get(cmd, key);

	if (json_is_string(v))
		return json_string_value(v);
	subcmd_fault(c, v == NULL ? "missing_field" : "bad_field", key,
	    "%s must be a string", key);
	return NULL;
}

/* Take route unless it was taken already (repeats count once). */
static void
subcmd_add_route(struct subcmd *c, const char *route)
{
	size_t	 i;

	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i], route) == 0)
			return;
	c->routes = xreallocarray(c->routes, c->nroutes + 1,
	    sizeof *c->routes);
	c->routes[c->nroutes++] = xstrdup(route);
}

/* "routes": a non-empty array of strings.  0 or -1. */
static int
subcmd_routes(struct subcmd *c, json_t *routes)
{
	const char	*route;
	size_t		 i;

	if (!json_is_array(routes) || json_array_size(routes) == 0)
		return subcmd_fault(c, routes == NULL ? "missing_field" :
		    "bad_field", "routes", "routes must be a non-empty array "
		    "of route names");
	for (i = 0; i < json_array_size(routes); i++) {
		if ((route = json_string_value(json_array_get(routes, i))) ==
		    NULL)
			return subcmd_fault(c, "bad_field", "routes",
			    "routes[%zu] is not a string", i);
		subcmd_add_route(c, route);
	}
	return 0;
}

/* {"cmd":"subscribe","routes":[...],"name":...,"after":N} */
static int
subcmd_subscribe(struct subcmd *c, json_t *cmd)
{
	json_t	*name = json_object_get(cmd, "name");
	json_t	*after = json_object_get(cmd, "after");

	if (name != NULL && !ack_name_ok(json_string_value(name)))
		return subcmd_fault(c, "bad_field", "name", "name must be "
		    "1-%d bytes of text without control characters or spaces "
		    "at either end", ACK_BY_MAX);
	if (after != NULL && (!json_is_integer(after) ||
	    json_integer_value(after) < 0))
		return subcmd_fault(c, "bad_field", "after", "after must be an "
		    "alert seq (an integer, 0 or more)");
	if (subcmd_routes(c, json_object_get(cmd, "routes")) == -1)
		return -1;
	if (name != NULL) {
		c->has_name = 1;
		snprintf(c->name, sizeof c->name, "%s",
		    json_string_value(name));
	}
	c->after = after != NULL ? json_integer_value(after) : 0;
	return 0;
}

/* {"cmd":"ack","alert":"A-17","by":"...","note":"..."} */
static int
subcmd_ack(struct subcmd *c, json_t *cmd)
{
	json_t	*note = json_object_get(cmd, "note");

	/* the alert is named in every error reply, when it is a string */
	c->alert = json_string_value(json_object_get(cmd, "alert"));
	if (subcmd_need_string(c, cmd, "alert") == NULL ||
	    (c->by = subcmd_need_string(c, cmd, "by")) == NULL)
		return -1;
	if (note != NULL && !json_is_string(note))
		return subcmd_fault(c, "bad_field", "note", "note must be a "
		    "string (leave it out for none)");
	c->note = json_string_value(note);
	return 0;
}

/* Parse one command line. */
int
subcmd_parse(const char *line, size_t len, struct subcmd *c)
{
	json_error_t	 jerr;
	json_t		*cmd;
	const char	*name;

	memset(c, 0, sizeof *c);
	cmd = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	c->json = cmd;
	if (cmd == NULL || !json_is_object(cmd))
		return subcmd_fault(c, "bad_json", NULL, "%s", cmd == NULL ?
		    jerr.text : "a command is a JSON object");
	name = json_string_value(json_object_get(cmd, "cmd"));
	if (name == NULL)
		return subcmd_fault(c, "bad_command", "cmd", "every line needs "
		    "\"cmd\": \"subscribe\" or \"ack\"");
	if (strcmp(name, "subscribe") == 0) {
		c->kind = SUBCMD_SUBSCRIBE;
		return subcmd_subscribe(c, cmd);
	}
	if (strcmp(name, "ack") == 0) {
		c->kind = SUBCMD_ACK;
		return subcmd_ack(c, cmd);
	}
	return subcmd_fault(c, "bad_command", "cmd", "unknown command '%.*s'; "
	    "use \"subscribe\" or \"ack\"", utf8_prefix(name, ACK_BY_MAX), name);
}

/* The command's name in replies. */
const char *
subcmd_name(enum subcmd_kind kind)
{
	switch (kind) {
	case SUBCMD_SUBSCRIBE:
		return "subscribe";
	case SUBCMD_ACK:
		return "ack";
	case SUBCMD_UNKNOWN:
		break;
	}
	return NULL;
}

/* Free what c holds. */
void
subcmd_free(struct subcmd *c)
{
	size_t	 i;

	for (i = 0; i < c->nroutes; i++)
		free(c->routes[i]);
	free(c->routes);
	free(c->message);
	json_decref(c->json);
	memset(c, 0, sizeof *c);
}
