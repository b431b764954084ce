/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl's client for the daemon's HTTP API (docs/api.md): one request
 * per connection over the API's Unix socket or loopback TCP, the answer
 * parsed as JSON, and the API's errors turned into one line for a person
 * and an exit code for a script.
 */
#ifndef MISPER_CTLAPI_H
#define MISPER_CTLAPI_H

#include <stddef.h>

#include <jansson.h>

struct ctl;

/* The largest answer misperctl reads (a brief with a long timeline). */
#define CTL_API_MAX_HEADERS	(64 * 1024)
#define CTL_API_MAX_BODY	(64 * 1024 * 1024)

struct ctl_answer {
	int	 status;	/* the HTTP status code */
	char	*body;		/* NUL-terminated (caller: ctl_answer_clear) */
	size_t	 len;
	json_t	*json;		/* the body parsed, or NULL if not JSON */
};

/* apiclient.c */
/*
 * Send method path (with body, a JSON object, or NULL) and read the
 * answer.  Returns 0 with *ans filled in, whatever the status, or -1
 * after saying on stderr why no answer came (connection, timeout, an
 * answer that is not HTTP).
 */
int	 ctl_api_request(struct ctl *, const char *method, const char *path,
	     json_t *body, struct ctl_answer *ans);
/*
 * ctl_api_request and the API's conventions: returns CTL_EXIT_OK with
 * *ans holding a 2xx JSON object (printed as is with --json), or an exit
 * code after printing the API's error as "misperctl: <message> (<error>)"
 * (and with --json the error document on stdout).  *ans is clear then.
 */
int	 ctl_api_call(struct ctl *, const char *method, const char *path,
	     json_t *body, struct ctl_answer *ans);
void	 ctl_answer_clear(struct ctl_answer *);
/* Percent-encode s for a path segment or a query value.  Caller frees. */
char	*ctl_api_escape(const char *s);

#endif
