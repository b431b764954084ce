/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for the Prometheus metrics: histogram buckets at their edges,
 * seconds formatting, label and HELP escaping, and a whole rendering over a
 * real database and intake (events, rejections, duplicates, alerts by rule
 * and level counted only once committed and only after the start,
 * unacknowledged alerts, pending deliveries, commit latency), checked line
 * by line for the exposition format's structure.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "ack.h"
#include "brief.h"
#include "daemon.h"
#include "engine.h"
#include "intake.h"
#include "metrics.h"
#include "rules.h"
#include "store.h"

static const char rules_text[] =
	"version: 1\n"
	"groups: [cse]\n"
	"routes:\n"
	"  mpu: \"Missing persons unit\"\n"
	"indicators:\n"
	"  older_partner_or_controlling_adult: {label: \"Older partner\", "
	"weight: 3, group: cse}\n"
	"rules:\n"
	"  - id: high_risk\n"
	"    kind: match\n"
	"    routes: [mpu]\n"
	"    when: {type: episode.reported, risk: high}\n"
	"    level: urgent\n"
	"    summary: \"{child} reported at high risk\"\n"
	"  - id: repeat_2\n"
	"    kind: repeat\n"
	"    routes: [mpu]\n"
	"    when: {type: episode.reported}\n"
	"    window: 90d\n"
	"    thresholds: {review: 2, urgent: 4}\n"
	"    summary: \"{count} episodes in {window}\"\n"
	"  - id: switched_off\n"
	"    kind: match\n"
	"    enabled: false\n"
	"    routes: [mpu]\n"
	"    when: {type: episode.found}\n"
	"    level: notify\n"
	"    summary: \"found\"\n";

/* A path that needs every escape a label value has. */
#define ODD_PATH	"odd \"dir\"\\rules\n.yaml"

static char		 dir[64], dbpath[128];
static struct daemon	 d;
static int		 next_id;

static void
setup(void)
{
	struct decode_opts	 opts;
	char			*cause = NULL;

	strcpy(dir, "/tmp/check_metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/misperd.db", dir);
	memset(&d, 0, sizeof d);
	d.rules = rules_load_buffer(ODD_PATH, rules_text, strlen(rules_text),
	    &cause);
	ck_assert_msg(d.rules != NULL, "rules: %s", cause);
	d.store = store_open(dbpath, &cause);
	ck_assert_msg(d.store != NULL, "store: %s", cause);
	d.engine = engine_new(d.store);
	engine_set_rules(d.engine, d.rules);
	d.brief = brief_new(d.store);
	opts.indicator_known = rules_indicator_known;
	opts.arg = d.rules;
	d.intake = intake_new(d.store, d.engine, d.brief, &opts);
	next_id = 0;
}

static void
teardown(void)
{
	char	 cmd[160];

	intake_free(d.intake);
	brief_free(d.brief);
	engine_free(d.engine);
	store_free(d.store);
	metrics_free(d.metrics);
	rules_free(d.rules);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Start counting now, as daemon_new() does. */
static void
start_metrics(void)
{
	d.metrics = metrics_new(d.store, 1700000000123LL);
	store_set_commit_timer(d.store, metrics_commit_cb, d.metrics);
}

/* Send one line through intake; returns the reply (caller frees). */
static char *
send_line(const char *line)
{
	struct intake_item	 it;
	char			*reply;

	memset(&it, 0, sizeof it);
	it.line = line;
	it.len = strlen(line);
	intake_run(d.intake, &it, 1);
	reply = strdup(it.reply);
	intake_item_clear(&it);
	return reply;
}

/* Report an episode of child at day (from 2025-03-01) with risk. */
static void
report(const char *child, int day, const char *risk)
{
	char	 line[512], *reply;

	next_id++;
	snprintf(line, sizeof line, "{\"id\":\"E-%d\",\"type\":"
	    "\"episode.reported\",\"at\":\"2025-03-%02dT10:00:00Z\","
	    "\"episode\":\"MP-%d\",\"child\":{\"id\":\"%s\"},"
	    "\"category\":\"missing\",\"risk\":\"%s\"}", next_id, day,
	    next_id, child, risk);
	reply = send_line(line);
	ck_assert_msg(strstr(reply, "\"ok\":true") != NULL, "%s", reply);
	free(reply);
}

/* The rendering, as a string (caller frees); rc is what render said. */
static char *
render(int *rc)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 len;
	char		*text;

	*rc = metrics_render(&d, out);
	len = evbuffer_get_length(out);
	text = malloc(len + 1);
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	evbuffer_free(out);
	return text;
}

/* Does text hold this exact line? */
static int
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 len = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return 1;
		p += len;
	}
	return 0;
}

/* A missing line fails the test; the whole text goes to stderr. */
#define ck_line(text, line) do {					\
	if (!has_line(text, line))					\
		fprintf(stderr, "%s", text);				\
	ck_assert_msg(has_line(text, line), "no line \"%s\"", line);	\
} while (0)

/*
 * The structure of the exposition: each family's # HELP then # TYPE,
 * once, before its samples; each sample named after the family declared
 * last (histograms: with _bucket, _sum or _count); a value after a space.
 */
static void
check_structure(const char *text)
{
	char		*copy = strdup(text), *line, *save = NULL;
	char		 family[128] = "", helped[128] = "", seen[4096] = ",";
	char		 name[128], want[160];
	size_t		 n;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", helped), 1);
			snprintf(want, sizeof want, ",%s,", helped);
			ck_assert_msg(strstr(seen, want) == NULL,
			    "family %s twice", helped);
			strcat(seen, helped);
			strcat(seen, ",");
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", family), 1);
			ck_assert_str_eq(family, helped);
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment: %s", line);
		n = strcspn(line, "{ ");
		ck_assert_msg(n > 0 && n < sizeof name, "bad line: %s", line);
		memcpy(name, line, n);
		name[n] = '\0';
		ck_assert_msg(strncmp(name, family, strlen(family)) == 0 &&
		    (name[strlen(family)] == '\0' ||
		    strcmp(name + strlen(family), "_bucket") == 0 ||
		    strcmp(name + strlen(family), "_sum") == 0 ||
		    strcmp(name + strlen(family), "_count") == 0),
		    "sample %s outside its family %s", name, family);
		ck_assert_msg(strrchr(line, ' ') != NULL &&
		    strrchr(line, ' ')[1] != '\0', "no value: %s", line);
	}
	free(copy);
}

START_TEST(test_format_seconds)
{
	static const struct {
		int64_t		 us;
		const char	*text;
	} cases[] = {
		{ 0, "0" }, { 100, "0.0001" }, { 250, "0.00025" },
		{ 1000, "0.001" }, { 1000000, "1" }, { 2500000, "2.5" },
		{ 10000000, "10" }, { 1234567, "1.234567" }, { -5, "0" },
	};
	char	 buf[32];
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		metrics_format_seconds(cases[i].us, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].text);
	}
}
END_TEST

START_TEST(test_histogram_edges)
{
	struct metrics_hist	 h;
	struct evbuffer		*out = evbuffer_new();
	char			*text;
	size_t			 len;

	memset(&h, 0, sizeof h);
	metrics_hist_observe(&h, 100);		/* on the first bound: in it */
	metrics_hist_observe(&h, 101);		/* just over: the next */
	metrics_hist_observe(&h, 0);
	metrics_hist_observe(&h, 10000000);	/* the last bound */
	metrics_hist_observe(&h, 10000001);	/* over every bound: +Inf */
	ck_assert_uint_eq(h.counts[0], 2);
	ck_assert_uint_eq(h.counts[1], 1);
	ck_assert_uint_eq(h.counts[METRICS_BUCKETS - 1], 1);
	ck_assert_uint_eq(h.counts[METRICS_BUCKETS], 1);
	ck_assert_uint_eq(h.count, 5);
	ck_assert_uint_eq(h.sum_us, 20000202);

	metrics_render_hist(out, "x_seconds", "Help.", &h);
	len = evbuffer_get_length(out);
	text = calloc(1, len + 1);
	evbuffer_remove(out, text, len);
	check_structure(text);
	ck_line(text, "# TYPE misperd_x_seconds histogram");
	/* cumulative */
	ck_line(text, "misperd_x_seconds_bucket{le=\"0.0001\"} 2");
	ck_line(text, "misperd_x_seconds_bucket{le=\"0.00025\"} 3");
	ck_line(text, "misperd_x_seconds_bucket{le=\"5\"} 3");
	ck_line(text, "misperd_x_seconds_bucket{le=\"10\"} 4");
	ck_line(text, "misperd_x_seconds_bucket{le=\"+Inf\"} 5");
	ck_line(text, "misperd_x_seconds_sum 20.000202");
	ck_line(text, "misperd_x_seconds_count 5");
	free(text);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_escaping)
{
	struct evbuffer	*out = evbuffer_new();
	char		 buf[64];
	size_t		 len;

	metrics_escape_label(out, "a\"b\\c\nd");
	len = evbuffer_remove(out, buf, sizeof buf - 1);
	buf[len] = '\0';
	ck_assert_str_eq(buf, "a\\\"b\\\\c\\nd");
	/* HELP keeps double quotes as they are */
	metrics_escape_help(out, "say \"x\" \\ then\nmore");
	len = evbuffer_remove(out, buf, sizeof buf - 1);
	buf[len] = '\0';
	ck_assert_str_eq(buf, "say \"x\" \\\\ then\\nmore");
	evbuffer_free(out);
}
END_TEST

START_TEST(test_render_fresh)
{
	char	*text;
	int	 rc;

	start_metrics();
	text = render(&rc);
	ck_assert_int_eq(rc, 0);
	check_structure(text);
	/* every labelled series from the start, at 0 */
	ck_line(text, "misperd_events_received_total{type=\"episode.reported\"} 0");
	ck_line(text, "misperd_events_received_total{type=\"location.cleared\"} 0");
	ck_line(text, "misperd_events_rejected_total{error=\"bad_json\"} 0");
	ck_line(text, "misperd_events_rejected_total{error=\"unavailable\"} 0");
	ck_line(text, "misperd_events_duplicate_total 0");
	ck_line(text, "misperd_alerts_raised_total{rule=\"high_risk\","
	    "level=\"urgent\"} 0");
	ck_line(text, "misperd_alerts_raised_total{rule=\"repeat_2\","
	    "level=\"review\"} 0");
	ck_line(text, "misperd_alerts_raised_total{rule=\"repeat_2\","
	    "level=\"urgent\"} 0");
	ck_assert_ptr_null(strstr(text, "switched_off"));
	ck_line(text, "misperd_alerts_unacknowledged{level=\"notify\"} 0");
	ck_line(text, "misperd_deliveries_total{channel=\"webhook\","
	    "outcome=\"retry\"} 0");
	ck_assert_ptr_null(strstr(text, "channel=\"stream\",outcome=\"retry\""));
	ck_line(text, "misperd_deliveries_pending 0");
	ck_line(text, "misperd_deadlines_open 0");
	ck_line(text, "misperd_subscribers_connected 0");
	ck_line(text, "misperd_connections_open{listener=\"events\"} 0");
	ck_line(text, "misperd_intake_latency_seconds_count 0");
	ck_line(text, "misperd_start_time_seconds 1700000000.123");
	ck_assert_ptr_nonnull(strstr(text, "misperd_rules_info{version=\""
	    "sha256:"));
	ck_assert_ptr_nonnull(strstr(text, "\",path=\"odd \\\"dir\\\"\\\\rules"
	    "\\n.yaml\"} 1\n"));
	free(text);
}
END_TEST

START_TEST(test_render_counts)
{
	struct ack_outcome	 out;
	char			*text, *reply, first[512];
	int			 rc;

	/* an alert stored before the start is not counted as raised */
	report("C-0", 1, "high");
	start_metrics();
	report("C-1", 2, "high");		/* high_risk urgent */
	report("C-1", 3, "low");		/* repeat_2 review */
	report("C-2", 4, "low");		/* nothing */
	reply = send_line("{not json");
	ck_assert_ptr_nonnull(strstr(reply, "bad_json"));
	free(reply);
	reply = send_line("{\"id\":\"X-1\",\"type\":\"episode.teleported\","
	    "\"at\":\"2025-03-01T10:00:00Z\"}");
	ck_assert_ptr_nonnull(strstr(reply, "unknown_type"));
	free(reply);
	snprintf(first, sizeof first, "{\"id\":\"E-%d\",\"type\":"
	    "\"episode.reported\",\"at\":\"2025-03-04T10:00:00Z\","
	    "\"episode\":\"MP-%d\",\"child\":{\"id\":\"C-2\"},"
	    "\"category\":\"missing\",\"risk\":\"low\"}", next_id, next_id);
	reply = send_line(first);
	ck_assert_ptr_nonnull(strstr(reply, "\"duplicate\":true"));
	free(reply);

	text = render(&rc);
	ck_assert_int_eq(rc, 0);
	check_structure(text);
	/* intake counts from its own start, C-0's report included */
	ck_line(text, "misperd_events_received_total{type=\"episode.reported\"} 4");
	ck_line(text, "misperd_events_rejected_total{error=\"bad_json\"} 1");
	ck_line(text, "misperd_events_rejected_total{error=\"unknown_type\"} 1");
	ck_line(text, "misperd_events_duplicate_total 1");
	ck_line(text, "misperd_alerts_raised_total{rule=\"high_risk\","
	    "level=\"urgent\"} 1");
	ck_line(text, "misperd_alerts_raised_total{rule=\"repeat_2\","
	    "level=\"review\"} 1");
	/* the alert of before the start is open all the same */
	ck_line(text, "misperd_alerts_unacknowledged{level=\"urgent\"} 2");
	ck_line(text, "misperd_alerts_unacknowledged{level=\"review\"} 1");
	/* one outbox row per alert and route, none resolved yet */
	ck_line(text, "misperd_deliveries_pending 3");
	/* four batches with events committed (the duplicate's included) */
	ck_line(text, "misperd_commit_latency_seconds_count 4");
	ck_line(text, "misperd_commit_latency_seconds_bucket{le=\"+Inf\"} 4");
	free(text);

	/* acknowledged: the gauge drops; the counter stays */
	ck_assert_int_eq(ack_alert(d.store, "A-1", "PS 1 Test", NULL, "test",
	    NULL, 1700000001000LL, &out), ACK_OK);
	metrics_delivery(d.metrics, METRICS_WEBHOOK, METRICS_RETRY);
	metrics_delivery(d.metrics, METRICS_STREAM, METRICS_DELIVERED);
	metrics_delivery(d.metrics, METRICS_STREAM, METRICS_DELIVERED);
	metrics_intake_latency(d.metrics, 3000);
	text = render(&rc);
	ck_assert_int_eq(rc, 0);
	ck_line(text, "misperd_alerts_unacknowledged{level=\"urgent\"} 1");
	ck_line(text, "misperd_alerts_raised_total{rule=\"high_risk\","
	    "level=\"urgent\"} 1");
	ck_line(text, "misperd_deliveries_total{channel=\"webhook\","
	    "outcome=\"retry\"} 1");
	ck_line(text, "misperd_deliveries_total{channel=\"stream\","
	    "outcome=\"delivered\"} 2");
	ck_line(text, "misperd_intake_latency_seconds_bucket{le=\"0.0025\"} 0");
	ck_line(text, "misperd_intake_latency_seconds_bucket{le=\"0.005\"} 1");
	ck_line(text, "misperd_intake_latency_seconds_sum 0.003");
	/* the acknowledgement was a commit too */
	ck_line(text, "misperd_commit_latency_seconds_count 5");
	free(text);
}
END_TEST

START_TEST(test_render_store_failure)
{
	char	*text;
	int	 rc;

	start_metrics();
	/* a table gone: the gauges cannot be read, and render says so */
	ck_assert_int_eq(sqlite3_exec(store_db(d.store),
	    "DROP INDEX deadlines_pending; DROP INDEX deadlines_child;"
	    "DROP TABLE deadlines", NULL, NULL,
	    NULL), SQLITE_OK);
	text = render(&rc);
	ck_assert_int_eq(rc, -1);
	free(text);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc;

	tc = tcase_create("pieces");
	tcase_add_test(tc, test_format_seconds);
	tcase_add_test(tc, test_histogram_edges);
	tcase_add_test(tc, test_escaping);
	suite_add_tcase(s, tc);
	tc = tcase_create("render");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_render_fresh);
	tcase_add_test(tc, test_render_counts);
	tcase_add_test(tc, test_render_store_failure);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(metrics_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
