/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl status, rules and reload: what an operator asks of a running
 * daemon.  Nested parts of an answer this file does not know by name are
 * still shown ("key value, ..."), so a field the API adds later is not
 * hidden by an older misperctl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ctlapi.h"
#include "ctltable.h"
#include "xmalloc.h"

/* v as "key value, key (key value, ...)", underscores as spaces. */
static void
admin_flat(FILE *f, const json_t *v)
{
	const char	*key;
	const json_t	*e;
	char		*s, *k, *p;
	int		 first = 1;

	if (!json_is_object(v)) {
		s = ctl_json_text(v);
		ctl_puts_clean(f, s);
		free(s);
		return;
	}
	json_object_foreach((json_t *)v, key, e) {
		k = xstrdup(key);
		for (p = k; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		fputs(first ? "" : ", ", f);
		ctl_puts_clean(f, k);
		free(k);
		first = 0;
		if (json_is_object(e)) {
			fputs(" (", f);
			admin_flat(f, e);
			fputs(")", f);
		} else {
			fputc(' ', f);
			admin_flat(f, e);
		}
	}
}

/* "1d 2h 3m 4s", leaving out the leading zero units. */
static void
admin_uptime(char *buf, size_t len, long long s)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh %lldm %llds", s / 86400,
		    s % 86400 / 3600, s % 3600 / 60, s % 60);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm %llds", s / 3600,
		    s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

static void
admin_status_print(const json_t *st)
{
	static const char *const known[] = { "version", "started_at",
	    "uptime_s" };
	const json_t	*up = ctl_json_get(st, "uptime_s"), *v;
	const char	*key;
	char		*ver = ctl_json_text(ctl_json_get(st, "version"));
	char		*since = ctl_json_text(ctl_json_get(st, "started_at"));
	char		 buf[64];
	size_t		 i, w = 0;
	int		 skip;

	admin_uptime(buf, sizeof buf, json_is_integer(up) ?
	    (long long)json_integer_value(up) : 0);
	printf("misperd ");
	ctl_puts_clean(stdout, ver);
	printf(", up %s (since ", buf);
	ctl_puts_clean(stdout, since);
	printf(")\n");
	free(ver);
	free(since);
	json_object_foreach((json_t *)st, key, v)
		if (strlen(key) > w)
			w = strlen(key);
	json_object_foreach((json_t *)st, key, v) {
		for (i = skip = 0; i < sizeof known / sizeof known[0]; i++)
			skip |= strcmp(key, known[i]) == 0;
		if (skip)
			continue;
		printf("  ");
		ctl_puts_clean(stdout, key);
		printf("%*s  ", (int)(w - strlen(key)), "");
		admin_flat(stdout, v);
		printf("\n");
	}
}

int
ctl_cmd_status(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct ctl_answer	 ans;
	int			 ch, rc;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc != optind)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	if ((rc = ctl_api_call(ctl, "GET", "/v1/status", NULL, &ans)) !=
	    CTL_EXIT_OK)
		return rc;
	if (!ctl->json)
		admin_status_print(ans.json);
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}

/* "review>=3, urgent>=4" from [{"level","value"}...]. */
static void
admin_thresholds(struct ctl_table *t, const json_t *th)
{
	char		*out = NULL, *lv, *v;
	size_t		 len = 0, i;
	const json_t	*e;
	FILE		*f;

	if ((f = open_memstream(&out, &len)) == NULL)
		fatal("ctl", "open_memstream");
	json_array_foreach(th, i, e) {
		lv = ctl_json_text(ctl_json_get(e, "level"));
		v = ctl_json_text(ctl_json_get(e, "value"));
		fprintf(f, "%s%s>=%s", i == 0 ? "" : ", ", lv, v);
		free(lv);
		free(v);
	}
	fclose(f);
	ctl_table_add(t, len > 0 ? out : "-");
	free(out);
}

static void
admin_rules_print(const json_t *r)
{
	static const char *const rh[] = { "RULE", "KIND", "LEVELS", "ENABLED",
	    "SOURCE" };
	static const char *const ih[] = { "INDICATOR", "LABEL", "WEIGHT",
	    "GROUP", "SOURCE" };
	static const char *const ik[] = { "id", "label", "weight", "group",
	    "source" };
	struct ctl_table	*t = ctl_table_new(2, NULL);
	const json_t		*e, *lv;
	size_t			 i, k;

	ctl_table_add(t, "version");
	ctl_table_addk(t, r, "version");
	ctl_table_add(t, "file");
	ctl_table_addk(t, r, "path");
	ctl_table_add(t, "loaded at");
	ctl_table_addk(t, r, "loaded_at");
	ctl_table_add(t, "summary");
	ctl_table_addk(t, r, "summary");
	ctl_table_print(t, stdout, "");
	ctl_table_free(t);

	printf("\nRules\n");
	t = ctl_table_new(5, rh);
	json_array_foreach(ctl_json_get(r, "rules"), i, e) {
		ctl_table_addk(t, e, "id");
		ctl_table_addk(t, e, "kind");
		/* repeat and score rules have thresholds, others a level */
		if ((lv = ctl_json_get(e, "thresholds")) != NULL)
			admin_thresholds(t, lv);
		else
			ctl_table_addk(t, e, "level");
		ctl_table_addk(t, e, "enabled");
		ctl_table_addk(t, e, "source");
	}
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);

	printf("\nIndicators\n");
	t = ctl_table_new(5, ih);
	json_array_foreach(ctl_json_get(r, "indicators"), i, e)
		for (k = 0; k < 5; k++)
			ctl_table_addk(t, e, ik[k]);
	ctl_table_print(t, stdout, "  ");
	ctl_table_free(t);
}

int
ctl_cmd_rules(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct ctl_answer	 ans;
	int			 ch, rc;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc != optind)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	if ((rc = ctl_api_call(ctl, "GET", "/v1/rules", NULL, &ans)) !=
	    CTL_EXIT_OK)
		return rc;
	if (!ctl->json)
		admin_rules_print(ans.json);
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}

int
ctl_cmd_reload(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct ctl_answer	 ans;
	json_t			*body;
	char			*ver, *old;
	int			 ch, rc;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc != optind)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	/* an empty JSON object: POST bodies are application/json */
	body = json_object();
	rc = ctl_api_call(ctl, "POST", "/v1/rules/reload", body, &ans);
	json_decref(body);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (!ctl->json) {
		ver = ctl_json_text(ctl_json_get(ans.json, "version"));
		old = ctl_json_text(ctl_json_get(ans.json, "old_version"));
		if (json_is_false(ctl_json_get(ans.json, "changed"))) {
			printf("rules reloaded, unchanged: ");
			ctl_puts_clean(stdout, ver);
		} else {
			printf("rules reloaded: ");
			ctl_puts_clean(stdout, ver);
			printf(" (was ");
			ctl_puts_clean(stdout, old);
			printf(")");
		}
		printf("\n");
		free(ver);
		free(old);
	}
	ctl_answer_clear(&ans);
	return CTL_EXIT_OK;
}
