/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl audit and purge: the audit trail with the API's filters as a
 * table (GET /v1/audit), and retention's purge run now and followed to
 * its end (POST and GET /v1/admin/purge), or its state shown.  Filters
 * are checked here first, so a typo is a usage error (exit 2).
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ctlapi.h"
#include "ctltable.h"
#include "timeutil.h"
#include "xmalloc.h"

#define AUDIT_POLL_MS	100	/* how often a running purge is asked about */

/* The actions GET /v1/audit knows (include/audit.h). */
static const char *const audit_actions[] = {
	"start", "stop", "rules_reload", "brief_read", "brief_sent",
	"alert_read", "alerts_list", "audit_read", "ack", "subscribe",
	"connection_refused", "purge"
};

/* The tables a purge counts, in the daemon's order. */
static const char *const audit_tables[] = {
	"events", "episodes", "children", "child_indicators", "interviews",
	"plans", "locations", "location_flags", "alerts", "acks",
	"deliveries", "webhook_deliveries", "delivery_attempts", "escalations",
	"deadlines", "rule_state"
};

/* Append "&key=value" (value escaped) to the query in f. */
static void
audit_param(FILE *f, int *n, const char *key, const char *value)
{
	char	*v = ctl_api_escape(value);

	fprintf(f, "%c%s=%s", (*n)++ == 0 ? '?' : '&', key, v);
	free(v);
}

/* An RFC 3339 option, normalised, or a usage error. */
static void
audit_time_param(const struct ctl_cmd *cmd, FILE *f, int *n, const char *key,
    const char *opt, const char *value)
{
	char	 buf[TIME_RFC3339_LEN];
	int64_t	 ms;

	if (time_parse_rfc3339(value, &ms) == -1) {
		ctl_warnx("audit: %s must be an RFC 3339 time, e.g. "
		    "2026-11-21T22:10:00Z, not \"%s\"", opt, value);
		ctl_usage(cmd, CTL_EXIT_USAGE);
	}
	time_format_rfc3339(ms, buf);
	audit_param(f, n, key, buf);
}

/* An action name, or a usage error naming them all. */
static void
audit_check_action(const struct ctl_cmd *cmd, const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof audit_actions / sizeof audit_actions[0]; i++)
		if (strcmp(audit_actions[i], name) == 0)
			return;
	ctl_warnx("audit: --action must be one of start, stop, rules_reload, "
	    "brief_read, brief_sent, alert_read, alerts_list, audit_read, "
	    "ack, subscribe, connection_refused, purge; not \"%s\"", name);
	ctl_usage(cmd, CTL_EXIT_USAGE);
}

static void
audit_print(const json_t *a)
{
	static const char *const h[] = { "SEQ", "AT", "ACTOR", "ACTION",
	    "SUBJECT", "DETAIL" };
	static const char *const k[] = { "seq", "at", "actor", "action",
	    "subject", "detail" };
	struct ctl_table	*t = ctl_table_new(6, h);
	const json_t		*e, *next;
	size_t			 i, j;

	json_array_foreach(ctl_json_get(a, "entries"), i, e)
		for (j = 0; j < 6; j++)
			ctl_table_addk(t, e, k[j]);
	if (ctl_table_rows(t) == 0)
		printf("no audit entries\n");
	ctl_table_print(t, stdout, "");
	ctl_table_free(t);
	next = ctl_json_get(a, "next_before");
	if (json_is_integer(next))
		printf("(more: add --before %lld)\n",
		    (long long)json_integer_value(next));
}

int
ctl_cmd_audit(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "since",	required_argument,	NULL, 's' },
		{ "until",	required_argument,	NULL, 'u' },
		{ "action",	required_argument,	NULL, 'a' },
		{ "actor",	required_argument,	NULL, 'A' },
		{ "subject",	required_argument,	NULL, 'S' },
		{ "limit",	required_argument,	NULL, 'l' },
		{ "before",	required_argument,	NULL, 'b' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_answer	 ans;
	char			*path = NULL, nbuf[32];
	size_t			 len = 0;
	FILE			*f;
	int			 ch, rc, n = 0;

	if ((f = open_memstream(&path, &len)) == NULL)
		fatal("ctl", "open_memstream");
	fputs("/v1/audit", f);
	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":hs:u:a:A:S:l:b:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			audit_time_param(cmd, f, &n, "since", "--since",
			    optarg);
			break;
		case 'u':
			audit_time_param(cmd, f, &n, "until", "--until",
			    optarg);
			break;
		case 'a':
			audit_check_action(cmd, optarg);
			audit_param(f, &n, "action", optarg);
			break;
		case 'A':
			audit_param(f, &n, "actor", optarg);
			break;
		case 'S':
			audit_param(f, &n, "subject", optarg);
			break;
		case 'l':
			snprintf(nbuf, sizeof nbuf, "%lld", ctl_opt_number(cmd,
			    "--limit", optarg, 1, 1000));
			audit_param(f, &n, "limit", nbuf);
			break;
		case 'b':
			snprintf(nbuf, sizeof nbuf, "%lld", ctl_opt_number(cmd,
			    "--before", optarg, 1, INT64_MAX));
			audit_param(f, &n, "before", nbuf);
			break;
		default:
			ctl_opt_common(ctl, cmd, ch, argv);
		}
	}
	fclose(f);
	if (argc != optind)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	rc = ctl_api_call(ctl, "GET", path, NULL, &ans);
	free(path);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (!ctl->json)
		audit_print(ans.json);
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}

/* A time member of o in ms, or -1 when absent or malformed. */
static int64_t
audit_time_of(const json_t *o, const char *key)
{
	const json_t	*v = ctl_json_get(o, key);
	int64_t		 ms;

	if (!json_is_string(v) ||
	    time_parse_rfc3339(json_string_value(v), &ms) == -1)
		return -1;
	return ms;
}

/* The counts of a purge, one table a line. */
static void
audit_counts_print(const json_t *counts)
{
	struct ctl_table	*t = ctl_table_new(2, NULL);
	size_t			 i;

	for (i = 0; i < sizeof audit_tables / sizeof audit_tables[0]; i++) {
		ctl_table_add(t, audit_tables[i]);
		ctl_table_addk(t, counts, audit_tables[i]);
	}
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
}

/* GET /v1/admin/purge's answer for a person. */
static void
audit_purge_print(const json_t *st)
{
	const json_t	*last = ctl_json_get(st, "last");
	const json_t	*cur = ctl_json_get(st, "current");
	struct ctl_table *t = ctl_table_new(2, NULL);
	char		*s;

	ctl_table_add(t, "period");
	s = ctl_json_text(ctl_json_get(st, "period_s"));
	ctl_table_addf(t, "%s s", s);
	free(s);
	ctl_table_add(t, "daily at (UTC)");
	ctl_table_addk(t, st, "purge_at");
	ctl_table_add(t, "next");
	ctl_table_addk(t, st, "next_at");
	ctl_table_add(t, "running");
	ctl_table_addk(t, st, "running");
	ctl_table_print(t, stdout, "");
	ctl_table_free(t);
	if (json_is_object(cur)) {
		printf("\nRunning (phase ");
		s = ctl_json_text(ctl_json_get(cur, "phase"));
		ctl_puts_clean(stdout, s);
		free(s);
		printf(")\n");
		audit_counts_print(ctl_json_get(cur, "counts"));
	}
	if (!json_is_object(last)) {
		printf("\nno purge has run\n");
		return;
	}
	t = ctl_table_new(2, NULL);
	printf("\nLast purge\n");
	ctl_table_add(t, "ended at");
	ctl_table_addk(t, last, "at");
	ctl_table_add(t, "by");
	ctl_table_addk(t, last, "actor");
	ctl_table_add(t, "older than");
	ctl_table_addk(t, last, "cutoff");
	ctl_table_add(t, "complete");
	ctl_table_addk(t, last, "complete");
	ctl_table_add(t, "batches");
	ctl_table_addk(t, last, "batches");
	ctl_table_add(t, "took (ms)");
	ctl_table_addk(t, last, "duration_ms");
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
	printf("  Rows removed\n");
	audit_counts_print(ctl_json_get(last, "counts"));
}

/* Ask for the purge's state; the answer in *ans.  An exit code. */
static int
audit_purge_get(struct ctl *ctl, struct ctl_answer *ans)
{
	return ctl_api_call(ctl, "GET", "/v1/admin/purge", NULL, ans);
}

/*
 * Wait for the purge that started at started_ms to end; print its state.
 * An exit code: 0 when it completed, 1 when it ended early.
 */
static int
audit_purge_wait(struct ctl *ctl, int64_t started_ms, int json)
{
	struct ctl_answer	 ans;
	const json_t		*last;
	int			 rc;

	for (;;) {
		if ((rc = audit_purge_get(ctl, &ans)) != CTL_EXIT_OK)
			return rc;
		last = ctl_json_get(ans.json, "last");
		if (!json_is_true(ctl_json_get(ans.json, "running")) &&
		    audit_time_of(last, "at") >= started_ms)
			break;
		ctl_answer_clear(&ans);
		poll(NULL, 0, AUDIT_POLL_MS);
	}
	if (json)
		printf("%s%s", ans.body, ans.len > 0 &&
		    ans.body[ans.len - 1] == '\n' ? "" : "\n");
	else
		audit_purge_print(ans.json);
	rc = json_is_true(ctl_json_get(last, "complete")) ? CTL_EXIT_OK :
	    CTL_EXIT_PROBLEM;
	ctl_answer_clear(&ans);
	return rc;
}

int
ctl_cmd_purge(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "status",	no_argument,	NULL, 's' },
		{ "no-wait",	no_argument,	NULL, 'n' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct ctl_answer	 ans;
	json_t			*body;
	int64_t			 started;
	int			 ch, rc, status = 0, nowait = 0, json;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			status = 1;
			break;
		case 'n':
			nowait = 1;
			break;
		default:
			ctl_opt_common(ctl, cmd, ch, argv);
		}
	}
	if (argc != optind || (status && nowait))
		ctl_usage(cmd, CTL_EXIT_USAGE);
	if (status) {
		if ((rc = audit_purge_get(ctl, &ans)) != CTL_EXIT_OK)
			return rc;
		if (!ctl->json)
			audit_purge_print(ans.json);
		ctl_answer_clear(&ans);
		return CTL_EXIT_OK;
	}
	/* only the last answer is printed with --json */
	json = ctl->json;
	ctl->json = nowait && json;
	body = json_object();
	rc = ctl_api_call(ctl, "POST", "/v1/admin/purge", body, &ans);
	json_decref(body);
	if (rc != CTL_EXIT_OK)
		return rc;
	started = audit_time_of(ctl_json_get(ans.json, "current"),
	    "started_at");
	if (nowait) {
		if (!json)
			printf("%s\n", json_is_true(ctl_json_get(ans.json,
			    "started")) ? "purge started" :
			    "a purge is running already");
		ctl_answer_clear(&ans);
		return CTL_EXIT_OK;
	}
	ctl_answer_clear(&ans);
	return audit_purge_wait(ctl, started, json);
}
