/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl alerts, alert and ack: the alert list with the API's filters
 * as a table, one alert in full (why it fired: its evidence; who has it:
 * acknowledgement, deliveries, attempts and escalations), and
 * acknowledgement.  Filters are checked here first, so a typo is a usage
 * error (exit 2) rather than a round trip.
 */
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

/* Append "&key=value" (value escaped) to the query in f. */
static void
alerts_param(FILE *f, int *n, const char *key, const char *value)
{
	char	*v = ctl_api_escape(value);

	fprintf(f, "%c%s=%s", (*n)++ == 0 ? '?' : '&', key, v);
	free(v);
}

static void
alerts_print(const json_t *a)
{
	static const char *const h[] = { "ALERT", "RAISED", "LEVEL", "RULE",
	    "CHILD", "EPISODE", "ACKNOWLEDGED", "DELIVERY" };
	struct ctl_table	*t = ctl_table_new(8, h);
	const json_t		*e, *ack, *next;
	size_t			 i;

	json_array_foreach(ctl_json_get(a, "alerts"), i, e) {
		ctl_table_addk(t, e, "alert");
		ctl_table_addk(t, e, "raised_at");
		ctl_table_addk(t, e, "level");
		ctl_table_addk(t, e, "rule");
		ctl_table_addk(t, e, "child");
		ctl_table_addk(t, e, "episode");
		ack = ctl_json_get(e, "acknowledged");
		if (json_is_object(ack))
			ctl_table_addk(t, ack, "by");
		else
			ctl_table_add(t, "no");
		ctl_table_addk(t, e, "delivery");
	}
	if (ctl_table_rows(t) == 0)
		printf("no alerts\n");
	ctl_table_print(t, stdout, "");
	ctl_table_free(t);
	next = ctl_json_get(a, "next_before");
	if (json_is_integer(next))
		printf("(more: add --before %lld)\n",
		    (long long)json_integer_value(next));
}

int
ctl_cmd_alerts(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "open",	no_argument,		NULL, 'o' },
		{ "route",	required_argument,	NULL, 'r' },
		{ "child",	required_argument,	NULL, 'c' },
		{ "since",	required_argument,	NULL, 's' },
		{ "limit",	required_argument,	NULL, 'l' },
		{ "before",	required_argument,	NULL, 'b' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_answer	 ans;
	char			*path = NULL, tbuf[TIME_RFC3339_LEN], nbuf[32];
	size_t			 len = 0;
	int64_t			 since;
	FILE			*f;
	int			 ch, rc, n = 0;

	if ((f = open_memstream(&path, &len)) == NULL)
		fatal("ctl", "open_memstream");
	fputs("/v1/alerts", f);
	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":hor:c:s:l:b:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'o':
			alerts_param(f, &n, "open", "true");
			break;
		case 'r':
			alerts_param(f, &n, "route", optarg);
			break;
		case 'c':
			alerts_param(f, &n, "child", optarg);
			break;
		case 's':
			if (time_parse_rfc3339(optarg, &since) == -1) {
				ctl_warnx("alerts: --since must be an RFC 3339 "
				    "time, e.g. 2026-11-21T22:10:00Z, not "
				    "\"%s\"", optarg);
				ctl_usage(cmd, CTL_EXIT_USAGE);
			}
			time_format_rfc3339(since, tbuf);
			alerts_param(f, &n, "since", tbuf);
			break;
		case 'l':
			snprintf(nbuf, sizeof nbuf, "%lld", ctl_opt_number(cmd,
			    "--limit", optarg, 1, 1000));
			alerts_param(f, &n, "limit", nbuf);
			break;
		case 'b':
			snprintf(nbuf, sizeof nbuf, "%lld", ctl_opt_number(cmd,
			    "--before", optarg, 1, INT64_MAX));
			alerts_param(f, &n, "before", nbuf);
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
		alerts_print(ans.json);
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}

/* A table of the objects in array a, or "(none)". */
static void
alert_rows(const json_t *a, size_t n, const char *const *headers,
    const char *const *keys, const char *indent)
{
	struct ctl_table	*t = ctl_table_new(n, headers);
	const json_t		*e;
	size_t			 i, k;

	json_array_foreach(a, i, e)
		for (k = 0; k < n; k++)
			ctl_table_addk(t, e, keys[k]);
	if (ctl_table_rows(t) == 0)
		printf("%s(none)\n", indent);
	ctl_table_print(t, stdout, indent);
	ctl_table_free(t);
}

/* The alert object itself: one field a line. */
static void
alert_head(const json_t *a)
{
	static const char *const keys[] = { "rule", "kind", "level",
	    "previous_level", "child", "episode", "area", "routes",
	    "raised_at", "event_at", "score", "summary", "rules_version" };
	static const char *const labels[] = { "rule", "kind", "level",
	    "previous level", "child", "episode", "area", "routes",
	    "raised at", "event at", "score", "summary", "rules version" };
	struct ctl_table	*t = ctl_table_new(2, NULL);
	char			*id = ctl_json_text(ctl_json_get(a, "alert"));
	char			*seq = ctl_json_text(ctl_json_get(a, "seq"));
	size_t			 i;

	printf("Alert ");
	ctl_puts_clean(stdout, id);
	printf(" (seq ");
	ctl_puts_clean(stdout, seq);
	printf(")\n");
	free(id);
	free(seq);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		ctl_table_add(t, labels[i]);
		ctl_table_addk(t, a, keys[i]);
	}
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
}

static void
alert_ack(const json_t *ack)
{
	struct ctl_table	*t;

	if (!json_is_object(ack)) {
		printf("  not acknowledged\n");
		return;
	}
	t = ctl_table_new(2, NULL);
	ctl_table_add(t, "by");
	ctl_table_addk(t, ack, "by");
	ctl_table_add(t, "at");
	ctl_table_addk(t, ack, "at");
	ctl_table_add(t, "via");
	ctl_table_addk(t, ack, "via");
	ctl_table_add(t, "note");
	ctl_table_addk(t, ack, "note");
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
}

static void
alert_deliveries(const json_t *d)
{
	static const char *const dh[] = { "ROUTE", "STATUS", "WEBHOOKS",
	    "CREATED", "DONE", "ESCALATED FROM", "ESCALATES AT" };
	static const char *const dk[] = { "route", "status", "channels",
	    "created_at", "done_at", "escalated_from", "escalate_at" };
	static const char *const wh[] = { "ROUTE", "URL", "STATUS",
	    "ATTEMPTS", "HTTP", "LAST ERROR" };
	static const char *const wk[] = { "url", "status", "attempts",
	    "http_status", "last_error" };
	struct ctl_table	*t = ctl_table_new(6, wh);
	const json_t		*e, *w;
	size_t			 i, j, k;

	alert_rows(d, 7, dh, dk, "  ");
	/* "delivered" to no webhook would read as if someone had it */
	json_array_foreach(d, i, e) {
		if (json_integer_value(ctl_json_get(e, "channels")) == 0 &&
		    json_is_integer(ctl_json_get(e, "channels"))) {
			printf("  (webhooks 0: the route has none; its alerts "
			    "are left to subscriber streams)\n");
			break;
		}
	}
	json_array_foreach(d, i, e) {
		json_array_foreach(ctl_json_get(e, "webhooks"), j, w) {
			ctl_table_addk(t, e, "route");
			for (k = 0; k < 5; k++)
				ctl_table_addk(t, w, wk[k]);
		}
	}
	if (ctl_table_rows(t) > 0) {
		printf("\n  Webhooks\n");
		ctl_table_print(t, stdout, "  ");
	}
	ctl_table_free(t);
}

static void
alert_print(const json_t *r)
{
	static const char *const ev_h[] = { "SEQ", "EVENT", "TYPE", "AT",
	    "EPISODE" };
	static const char *const ev_k[] = { "seq", "event", "type", "at",
	    "episode" };
	static const char *const at_h[] = { "ROUTE", "URL", "STARTED", "ENDED",
	    "OUTCOME", "HTTP", "ERROR" };
	static const char *const at_k[] = { "route", "url", "started_at",
	    "ended_at", "outcome", "http_status", "error" };
	static const char *const es_h[] = { "FROM", "TO", "AT" };
	static const char *const es_k[] = { "from", "to", "at" };
	const json_t	*a = ctl_json_get(r, "alert");

	alert_head(a);
	printf("\nEvidence\n");
	alert_rows(ctl_json_get(a, "evidence"), 5, ev_h, ev_k, "  ");
	printf("\nAcknowledgement\n");
	alert_ack(ctl_json_get(r, "acknowledged"));
	printf("\nDeliveries\n");
	alert_deliveries(ctl_json_get(r, "deliveries"));
	printf("\nAttempts\n");
	alert_rows(ctl_json_get(r, "attempts"), 7, at_h, at_k, "  ");
	printf("\nEscalations\n");
	alert_rows(ctl_json_get(r, "escalations"), 3, es_h, es_k, "  ");
}

int
ctl_cmd_alert(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct ctl_answer	 ans;
	char			*id, *path;
	int			 ch, rc;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc - optind != 1 || argv[optind][0] == '\0')
		ctl_usage(cmd, CTL_EXIT_USAGE);
	id = ctl_api_escape(argv[optind]);
	xasprintf(&path, "/v1/alerts/%s", id);
	free(id);
	rc = ctl_api_call(ctl, "GET", path, NULL, &ans);
	free(path);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (!ctl->json)
		alert_print(ans.json);
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}

int
ctl_cmd_ack(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "by",		required_argument,	NULL, 'b' },
		{ "note",	required_argument,	NULL, 'n' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl_answer	 ans;
	const char		*by = NULL, *note = NULL;
	char			*id, *path, *who, *at;
	json_t			*body;
	int			 ch, rc;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":hb:n:", longopts, NULL)) != -1) {
		if (ch == 'b')
			by = optarg;
		else if (ch == 'n')
			note = optarg;
		else
			ctl_opt_common(ctl, cmd, ch, argv);
	}
	if (argc - optind != 1 || argv[optind][0] == '\0')
		ctl_usage(cmd, CTL_EXIT_USAGE);
	if (by == NULL) {
		ctl_warnx("ack: --by NAME is required: who acknowledges, e.g. "
		    "--by \"PS 1234 Smith\"");
		ctl_usage(cmd, CTL_EXIT_USAGE);
	}
	/* jansson refuses invalid UTF-8; say so rather than send nothing */
	if ((body = json_pack("{ss}", "by", by)) == NULL ||
	    (note != NULL && json_object_set_new(body, "note",
	    json_string(note)) == -1)) {
		ctl_warnx("ack: --by and --note must be UTF-8 text");
		if (body != NULL)
			json_decref(body);
		return CTL_EXIT_USAGE;
	}
	id = ctl_api_escape(argv[optind]);
	xasprintf(&path, "/v1/alerts/%s/ack", id);
	free(id);
	rc = ctl_api_call(ctl, "POST", path, body, &ans);
	json_decref(body);
	free(path);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (!ctl->json) {
		id = ctl_json_text(ctl_json_get(ans.json, "alert"));
		who = ctl_json_text(ctl_json_get(ans.json, "by"));
		at = ctl_json_text(ctl_json_get(ans.json, "acknowledged_at"));
		ctl_puts_clean(stdout, id);
		printf(" acknowledged by ");
		ctl_puts_clean(stdout, who);
		printf(" at ");
		ctl_puts_clean(stdout, at);
		printf("\n");
		free(id);
		free(who);
		free(at);
	}
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}
