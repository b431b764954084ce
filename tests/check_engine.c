/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for the rules engine, driven through intake exactly as the
 * daemon drives it, on a real database, with a fake clock: the edges of
 * every window and threshold, re-arming, late events, scores, matches,
 * deadlines met, missed and surviving a restart, and the alert object.
 */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brief.h"
#include "engine.h"
#include "intake.h"
#include "log.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"

#define DAY	86400000LL
#define HOUR	3600000LL

static char		 dir[64], dbpath[128];
static struct store	*store;
static struct engine	*engine;
static struct brief	*brief;
static struct intake	*intake;
static struct rules	*rules;
static int64_t		 fake_now;
static int		 next_id;

/* The common head of every test's rules. */
static const char rules_head[] =
	"version: 1\n"
	"groups: [cse, cce, vulnerability]\n"
	"routes:\n"
	"  mpu: \"Missing persons unit\"\n"
	"  social_care: \"Local authority\"\n"
	"indicators:\n"
	"  older_partner_or_controlling_adult: {label: \"Older partner\", weight: 3, group: cse}\n"
	"  unexplained_money_gifts: {label: \"Gifts\", weight: 3, group: cse}\n"
	"  peers_exploited: {label: \"Peers\", weight: 1, group: vulnerability}\n"
	"  substance_misuse: {label: \"Substances\", weight: 2, group: cse}\n"
	"rules:\n";

static int64_t
fake_clock(void *arg)
{
	return fake_now;
}

/* Open everything with rules_head + body as the rules. */
static void
start(const char *body)
{
	struct decode_opts	 opts;
	char			*text, *cause = NULL;

	if (asprintf(&text, "%s%s", rules_head, body) == -1)
		ck_abort_msg("asprintf");
	rules = rules_load_buffer("test.yaml", text, strlen(text), &cause);
	free(text);
	ck_assert_msg(rules != NULL, "rules: %s", cause);
	store = store_open(dbpath, &cause);
	ck_assert_msg(store != NULL, "store: %s", cause);
	engine = engine_new(store);
	engine_set_rules(engine, rules);
	brief = brief_new(store);
	opts.indicator_known = rules_indicator_known;
	opts.arg = rules;
	intake = intake_new(store, engine, brief, &opts);
	intake_set_clock(intake, fake_clock, NULL);
}

/* Close everything (the database stays, for restart tests). */
static void
stop(void)
{
	intake_free(intake);
	brief_free(brief);
	engine_free(engine);
	store_free(store);
	rules_free(rules);
	intake = NULL;
	brief = NULL;
	engine = NULL;
	store = NULL;
	rules = NULL;
}

static void
setup(void)
{
	strcpy(dir, "/tmp/check_engine.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/misperd.db", dir);
	fake_now = 1700000000000LL;
	next_id = 0;
}

static void
teardown(void)
{
	char	 cmd[160];

	if (store != NULL)
		stop();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Send one line; returns the parsed reply (caller decrefs). */
static json_t *
send_line(const char *line)
{
	struct intake_item	 it;
	json_t			*r;

	memset(&it, 0, sizeof it);
	it.line = line;
	it.len = strlen(line);
	intake_run(intake, &it, 1);
	r = json_loads(it.reply, 0, NULL);
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "refused: %s",
	    it.reply);
	intake_item_clear(&it);
	return r;
}

/* Time t (ms from the base) as RFC 3339. */
static const char *
at(int64_t t)
{
	static char	 buf[4][TIME_RFC3339_LEN];
	static int	 k;

	k = (k + 1) % 4;
	time_format_rfc3339(1700000000000LL + t, buf[k]);
	return buf[k];
}

/* Report episode ep for child at time t; returns the alert count. */
static size_t
report(const char *child, const char *ep, int64_t t, const char *extra)
{
	char	 line[1024];
	json_t	*r;
	size_t	 n;

	snprintf(line, sizeof line, "{\"id\":\"E-%d\",\"type\":"
	    "\"episode.reported\",\"at\":\"%s\",\"episode\":\"%s\","
	    "\"category\":\"absent\",\"child\":{\"id\":\"%s\"%s}}",
	    ++next_id, at(t), ep, child, extra != NULL ? extra : "");
	r = send_line(line);
	n = json_array_size(json_object_get(r, "alerts"));
	json_decref(r);
	return n;
}

/* Send a free-form event line with id and at filled in; returns reply. */
static json_t *
event(int64_t t, const char *fmt_rest)
{
	char	 line[2048];

	snprintf(line, sizeof line, "{\"id\":\"E-%d\",\"at\":\"%s\",%s}",
	    ++next_id, at(t), fmt_rest);
	return send_line(line);
}

/* The alerts stored, in order, as JSON objects (caller decrefs). */
static void
collect(const char *body, const char *rule, const char *level, void *arg)
{
	json_t	*a = json_loads(body, 0, NULL);

	/* the columns say what the body says */
	ck_assert_str_eq(rule, json_string_value(json_object_get(a, "rule")));
	ck_assert_str_eq(level, json_string_value(json_object_get(a,
	    "level")));
	json_array_append_new(arg, a);
}

static json_t *
all_alerts(void)
{
	json_t	*a = json_array();
	int64_t	 last = 0;

	ck_assert_int_eq(engine_alerts_after(engine, &last, collect, a), 0);
	return a;
}

/* Fire deadlines due by clock, in a transaction; returns how many. */
static int
tick(int64_t clock)
{
	int	 n;

	ck_assert_int_eq(store_begin(store), 0);
	n = engine_tick(engine, 1700000000000LL + clock,
	    1700000000000LL + clock, NULL);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(store_commit(store), 0);
	engine_commit(engine);
	return n;
}

static const char repeat_rule[] =
	"  - id: repeat_3_in_90d\n"
	"    kind: repeat\n"
	"    routes: [mpu, social_care]\n"
	"    window: 90d\n"
	"    thresholds: {review: 3, urgent: 5}\n"
	"    summary: \"{count} episodes within {window} ({episodes})\"\n";

START_TEST(test_repeat_threshold_and_window_edge)
{
	start(repeat_rule);
	ck_assert_uint_eq(report("C-1", "MP-1", 0, NULL), 0);
	ck_assert_uint_eq(report("C-1", "MP-2", 45 * DAY, NULL), 0);
	/* exactly 90 days after the first: the first is out of the window */
	ck_assert_uint_eq(report("C-1", "MP-3", 90 * DAY, NULL), 0);
	/* one millisecond earlier would have counted it: see the next test */
	ck_assert_uint_eq(report("C-1", "MP-4", 100 * DAY, NULL), 1);
}
END_TEST

START_TEST(test_repeat_just_inside_window)
{
	json_t	*a, *al;

	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 45 * DAY, NULL);
	ck_assert_uint_eq(report("C-1", "MP-3", 90 * DAY - 1, NULL), 1);
	al = all_alerts();
	a = json_array_get(al, 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "level")),
	    "review");
	ck_assert(json_is_null(json_object_get(a, "previous_level")));
	ck_assert_str_eq(json_string_value(json_object_get(a, "summary")),
	    "3 episodes within 90 days (MP-1, MP-2, MP-3)");
	ck_assert_uint_eq(json_array_size(json_object_get(a, "evidence")), 3);
	json_decref(al);
}
END_TEST

START_TEST(test_repeat_staying_above_then_urgent)
{
	json_t	*al;

	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 1 * DAY, NULL);
	ck_assert_uint_eq(report("C-1", "MP-3", 2 * DAY, NULL), 1);
	ck_assert_uint_eq(report("C-1", "MP-4", 3 * DAY, NULL), 0);
	ck_assert_uint_eq(report("C-1", "MP-5", 4 * DAY, NULL), 1);
	al = all_alerts();
	ck_assert_uint_eq(json_array_size(al), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(al, 1), "level")), "urgent");
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(al, 1), "previous_level")), "review");
	json_decref(al);
	/* another child is judged on its own */
	ck_assert_uint_eq(report("C-2", "MP-9", 4 * DAY, NULL), 0);
}
END_TEST

START_TEST(test_repeat_rearms_after_falling)
{
	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 1 * DAY, NULL);
	ck_assert_uint_eq(report("C-1", "MP-3", 2 * DAY, NULL), 1);
	/* months later: the level falls to none, re-arming the rule */
	ck_assert_uint_eq(report("C-1", "MP-4", 200 * DAY, NULL), 0);
	ck_assert_uint_eq(report("C-1", "MP-5", 201 * DAY, NULL), 0);
	ck_assert_uint_eq(report("C-1", "MP-6", 202 * DAY, NULL), 1);
}
END_TEST

START_TEST(test_repeat_late_event_completes_pattern)
{
	json_t	*al;

	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-3", 60 * DAY, NULL);
	/* arrives last, happened in between: completes 3 in 90 days */
	ck_assert_uint_eq(report("C-1", "MP-2", 30 * DAY, NULL), 1);
	al = all_alerts();
	ck_assert_uint_eq(json_array_size(json_object_get(
	    json_array_get(al, 0), "evidence")), 3);
	json_decref(al);
}
END_TEST

START_TEST(test_duplicate_gets_same_alerts)
{
	char	 line[512];
	json_t	*r;

	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 1 * DAY, NULL);
	snprintf(line, sizeof line, "{\"id\":\"E-X\",\"type\":"
	    "\"episode.reported\",\"at\":\"%s\",\"episode\":\"MP-3\","
	    "\"category\":\"absent\",\"child\":{\"id\":\"C-1\"}}",
	    at(2 * DAY));
	r = send_line(line);
	ck_assert_str_eq(json_string_value(json_array_get(
	    json_object_get(r, "alerts"), 0)), "A-1");
	json_decref(r);
	r = send_line(line);
	ck_assert(json_is_true(json_object_get(r, "duplicate")));
	ck_assert_str_eq(json_string_value(json_array_get(
	    json_object_get(r, "alerts"), 0)), "A-1");
	json_decref(r);
	r = all_alerts();
	ck_assert_uint_eq(json_array_size(r), 1);
	json_decref(r);
}
END_TEST

START_TEST(test_alert_object_fields)
{
	static const char *const keys[] = { "alert", "seq", "raised_at",
	    "event_at", "rule", "kind", "level", "previous_level", "child",
	    "episode", "area", "routes", "summary", "evidence", "score",
	    "rules_version" };
	json_t	*al, *a, *ev;
	size_t	 i;

	start(repeat_rule);
	report("C-1", "MP-1", 0, ",\"area\":\"croydon\"");
	report("C-1", "MP-2", 1 * DAY, NULL);
	fake_now = 1800000000000LL;
	report("C-1", "MP-3", 2 * DAY, NULL);
	al = all_alerts();
	a = json_array_get(al, 0);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_msg(json_object_get(a, keys[i]) != NULL, "no %s",
		    keys[i]);
	ck_assert_str_eq(json_string_value(json_object_get(a, "alert")), "A-1");
	ck_assert_int_eq(json_integer_value(json_object_get(a, "seq")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(a, "kind")),
	    "repeat");
	ck_assert_str_eq(json_string_value(json_object_get(a, "episode")),
	    "MP-3");
	ck_assert_str_eq(json_string_value(json_object_get(a, "area")),
	    "croydon");
	ck_assert_str_eq(json_string_value(json_object_get(a, "rules_version")),
	    rules->version);
	ck_assert_str_eq(json_string_value(json_object_get(a, "raised_at")),
	    "2027-01-15T08:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(a, "event_at")),
	    at(2 * DAY));
	ck_assert_uint_eq(json_array_size(json_object_get(a, "routes")), 2);
	ev = json_array_get(json_object_get(a, "evidence"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "event")),
	    "E-1");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "type")),
	    "episode.reported");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "episode")),
	    "MP-1");
	json_decref(al);
}
END_TEST

static const char score_rule[] =
	"  - id: cse_score\n"
	"    kind: score\n"
	"    routes: [mpu]\n"
	"    window: 90d\n"
	"    groups: [cse]\n"
	"    factors:\n"
	"      - when: {age_under: 14}\n"
	"        multiply: 2\n"
	"    thresholds: {notify: 4, review: 6}\n"
	"    summary: \"score {score} ({indicators})\"\n";

START_TEST(test_score_distinct_weights_and_groups)
{
	json_t	*r, *al;

	start(score_rule);
	report("C-1", "MP-1", 0, ",\"dob\":\"2008-01-01\"");
	/* 3, then the same indicator again: still 3 */
	r = event(1 * DAY, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"older_partner_or_controlling_adult\"");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 0);
	json_decref(r);
	r = event(2 * DAY, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"older_partner_or_controlling_adult\"");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 0);
	json_decref(r);
	/* a vulnerability indicator is not in the cse group: still 3 */
	r = event(3 * DAY, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"peers_exploited\"");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 0);
	json_decref(r);
	/* + 2 = 5: notify */
	r = event(4 * DAY, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"substance_misuse\"");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 1);
	json_decref(r);
	al = all_alerts();
	ck_assert(json_real_value(json_object_get(json_array_get(al, 0),
	    "score")) == 5.0);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(al, 0), "summary")),
	    "score 5 (older_partner_or_controlling_adult, substance_misuse)");
	/* evidence: every occurrence counted */
	ck_assert_uint_eq(json_array_size(json_object_get(
	    json_array_get(al, 0), "evidence")), 3);
	json_decref(al);
}
END_TEST

START_TEST(test_score_factor_for_young_child)
{
	json_t	*r;

	start(score_rule);
	/* aged 12 at the event: 3 x 2 = 6, straight to review */
	report("C-1", "MP-1", 0, ",\"dob\":\"2011-06-01\"");
	r = event(1 * DAY, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"unexplained_money_gifts\"");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 1);
	json_decref(r);
	r = all_alerts();
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(r, 0), "level")), "review");
	json_decref(r);
}
END_TEST

START_TEST(test_score_window_forgets)
{
	json_t	*r;

	start(score_rule);
	report("C-1", "MP-1", 0, ",\"dob\":\"2008-01-01\"");
	json_decref(event(0, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"unexplained_money_gifts\""));
	/* 91 days later the first indicator is out of the window */
	r = event(91 * DAY, "\"type\":\"indicator.recorded\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"substance_misuse\"");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 0);
	json_decref(r);
}
END_TEST

static const char match_rule[] =
	"  - id: found_at_rso_address\n"
	"    kind: match\n"
	"    routes: [mpu]\n"
	"    when: {type: episode.found, found_at_flagged: [rso_address]}\n"
	"    level: urgent\n"
	"    summary: \"{child} found at a flagged address ({episode})\"\n";

#define FLAG_LOC "\"type\":\"location.flagged\",\"location\":" \
	"{\"postcode\":\"CR0 1AA\",\"address\":\"12 High St\"}," \
	"\"reason\":\"rso_address\""
#define FOUND(ep) "\"type\":\"episode.found\",\"episode\":\"" ep "\"," \
	"\"found\":{\"postcode\":\"cr0 1aa\",\"address\":\"12 high st.\"}"

START_TEST(test_match_found_at_flagged_location)
{
	json_t	*r, *al;

	start(match_rule);
	json_decref(event(0, FLAG_LOC));
	report("C-1", "MP-1", 1 * HOUR, NULL);
	r = event(2 * HOUR, FOUND("MP-1"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 1);
	json_decref(r);
	/* the same episode again: once per episode */
	r = event(3 * HOUR, FOUND("MP-1"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 0);
	json_decref(r);
	/* a new episode alerts again */
	report("C-1", "MP-2", 4 * HOUR, NULL);
	r = event(5 * HOUR, FOUND("MP-2"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 1);
	json_decref(r);
	al = all_alerts();
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(al, 0), "summary")),
	    "C-1 found at a flagged address (MP-1)");
	json_decref(al);
}
END_TEST

/* A match rule's {indicators} names the event's indicators it asked for. */
START_TEST(test_match_summary_names_indicators)
{
	static const char body[] =
	    "  - id: weighty_on_return\n"
	    "    kind: match\n"
	    "    routes: [mpu]\n"
	    "    when: {type: episode.found, indicator_weight_at_least: 3}\n"
	    "    level: urgent\n"
	    "    summary: \"on return: {indicators}\"\n"
	    "  - id: any_on_return\n"
	    "    kind: match\n"
	    "    routes: [mpu]\n"
	    "    when: {type: episode.found}\n"
	    "    level: notify\n"
	    "    summary: \"all: {indicators}\"\n";
	json_t	*r, *al;

	start(body);
	report("C-1", "MP-1", 1 * HOUR, NULL);
	r = event(2 * HOUR, "\"type\":\"episode.found\",\"episode\":\"MP-1\","
	    "\"found\":{\"postcode\":\"CR0 2BB\"},\"indicators\":[\"substance_misuse\",\"unexplained_money_gifts\","
	    "\"older_partner_or_controlling_adult\"]");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 2);
	json_decref(r);
	al = all_alerts();
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(al, 0), "summary")),
	    "on return: unexplained_money_gifts, "
	    "older_partner_or_controlling_adult");
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(al, 1), "summary")),
	    "all: substance_misuse, unexplained_money_gifts, "
	    "older_partner_or_controlling_adult");
	json_decref(al);
}
END_TEST

START_TEST(test_match_unflagged_location)
{
	json_t	*r;

	start(match_rule);
	report("C-1", "MP-1", 1 * HOUR, NULL);
	r = event(2 * HOUR, FOUND("MP-1"));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "alerts")), 0);
	json_decref(r);
}
END_TEST

static const char deadline_rule[] =
	"  - id: rhi_overdue\n"
	"    kind: deadline\n"
	"    routes: [social_care]\n"
	"    after: {type: episode.found}\n"
	"    expect: {type: interview.completed, interview_kind: return_home}\n"
	"    within: 72h\n"
	"    level: review\n"
	"    summary: \"no return home interview within {within} ({episode})\"\n";

START_TEST(test_deadline_met_in_time)
{
	start(deadline_rule);
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	json_decref(event(40 * HOUR, "\"type\":\"interview.completed\","
	    "\"episode\":\"MP-1\",\"kind\":\"return_home\""));
	ck_assert_int_eq(tick(100 * HOUR), 0);
}
END_TEST

START_TEST(test_deadline_wrong_interview_does_not_meet)
{
	start(deadline_rule);
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	json_decref(event(40 * HOUR, "\"type\":\"interview.completed\","
	    "\"episode\":\"MP-1\",\"kind\":\"prevention\""));
	ck_assert_int_eq(tick(100 * HOUR), 1);
}
END_TEST

START_TEST(test_deadline_fires_when_due_not_before)
{
	json_t	*al, *a;
	int64_t	 due;

	start(deadline_rule);
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	ck_assert_int_eq(engine_next_due(engine, &due), 1);
	ck_assert_int_eq(due, 1700000000000LL + 73 * HOUR);
	ck_assert_int_eq(tick(73 * HOUR - 1), 0);
	ck_assert_int_eq(tick(73 * HOUR), 1);
	ck_assert_int_eq(tick(200 * HOUR), 0);	/* once only */
	al = all_alerts();
	a = json_array_get(al, 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "kind")),
	    "deadline");
	ck_assert_str_eq(json_string_value(json_object_get(a, "summary")),
	    "no return home interview within 72 hours (MP-1)");
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(json_object_get(a, "evidence"), 0), "type")),
	    "episode.found");
	json_decref(al);
}
END_TEST

START_TEST(test_deadline_survives_restart)
{
	start(deadline_rule);
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	stop();
	/* down past the due time; on start the overdue deadline fires */
	start(deadline_rule);
	ck_assert_int_eq(tick(500 * HOUR), 1);
}
END_TEST

/*
 * A deadline rule's "when" gates the events that stop its clock, whether
 * they arrive after the start or (late) before it: an interview the rule's
 * "when" refuses meets nothing either way.
 */
START_TEST(test_deadline_when_gates_meeting_in_any_order)
{
	static const char gated[] =
	    "  - id: rhi_overdue\n"
	    "    kind: deadline\n"
	    "    routes: [social_care]\n"
	    "    when: {type: episode.found}\n"
	    "    after: {type: episode.found}\n"
	    "    expect: {type: interview.completed, interview_kind: return_home}\n"
	    "    within: 72h\n"
	    "    level: review\n"
	    "    summary: \"no return home interview within {within}\"\n";

	start(gated);
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	json_decref(event(30 * HOUR, "\"type\":\"interview.completed\","
	    "\"episode\":\"MP-1\",\"kind\":\"return_home\""));
	ck_assert_int_eq(tick(500 * HOUR), 1);
	/* the same with the interview stored before the found event */
	report("C-2", "MP-2", 0, NULL);
	json_decref(event(30 * HOUR, "\"type\":\"interview.completed\","
	    "\"episode\":\"MP-2\",\"kind\":\"return_home\""));
	json_decref(event(1 * HOUR, FOUND("MP-2")));
	ck_assert_int_eq(tick(500 * HOUR), 1);
}
END_TEST

START_TEST(test_deadline_met_before_start_known)
{
	start(deadline_rule);
	report("C-1", "MP-1", 0, NULL);
	/* the interview arrives before the (late) found event */
	json_decref(event(30 * HOUR, "\"type\":\"interview.completed\","
	    "\"episode\":\"MP-1\",\"kind\":\"return_home\""));
	json_decref(event(2 * HOUR, FOUND("MP-1")));
	ck_assert_int_eq(tick(500 * HOUR), 0);
}
END_TEST

START_TEST(test_deadline_dropped_when_rule_changes)
{
	start(deadline_rule);
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	stop();
	/* the same rule id with another meaning: its old clock is dropped */
	start("  - id: rhi_overdue\n"
	    "    kind: deadline\n"
	    "    routes: [social_care]\n"
	    "    after: {type: episode.found}\n"
	    "    expect: {type: interview.completed}\n"
	    "    within: 48h\n"
	    "    level: review\n"
	    "    summary: \"late\"\n");
	ck_assert_int_eq(tick(500 * HOUR), 0);
}
END_TEST

START_TEST(test_deadline_started_by_rule_level)
{
	char	 rules_text[2048];
	json_t	*r;

	snprintf(rules_text, sizeof rules_text, "%s"
	    "  - id: trigger_plan_overdue\n"
	    "    kind: deadline\n"
	    "    routes: [mpu]\n"
	    "    after: {rule: repeat_3_in_90d, level: review}\n"
	    "    expect: {type: plan.recorded, plan: trigger_plan}\n"
	    "    scope: child\n"
	    "    within: 14d\n"
	    "    level: review\n"
	    "    summary: \"no trigger plan within {within}\"\n", repeat_rule);
	start(rules_text);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 1 * DAY, NULL);
	report("C-1", "MP-3", 2 * DAY, NULL);
	ck_assert_int_eq(tick(15 * DAY), 0);
	ck_assert_int_eq(tick(16 * DAY + 1), 1);
	/* the same for a child who gets a plan in time: nothing fires */
	report("C-2", "MP-11", 20 * DAY, NULL);
	report("C-2", "MP-12", 21 * DAY, NULL);
	report("C-2", "MP-13", 22 * DAY, NULL);
	r = event(23 * DAY, "\"type\":\"plan.recorded\",\"child\":"
	    "{\"id\":\"C-2\"},\"plan\":\"trigger_plan\"");
	json_decref(r);
	ck_assert_int_eq(tick(60 * DAY), 0);
}
END_TEST

START_TEST(test_reload_same_meaning_keeps_state)
{
	char	 reworded[1024];

	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 1 * DAY, NULL);
	ck_assert_uint_eq(report("C-1", "MP-3", 2 * DAY, NULL), 1);
	stop();
	/* new description, summary and routes: the same meaning */
	snprintf(reworded, sizeof reworded, "%s    description: \"reworded\"\n",
	    repeat_rule);
	start(reworded);
	ck_assert_uint_eq(report("C-1", "MP-4", 3 * DAY, NULL), 0);
}
END_TEST

START_TEST(test_reload_new_meaning_starts_afresh)
{
	start(repeat_rule);
	report("C-1", "MP-1", 0, NULL);
	report("C-1", "MP-2", 1 * DAY, NULL);
	ck_assert_uint_eq(report("C-1", "MP-3", 2 * DAY, NULL), 1);
	stop();
	/* a new threshold is a new rule for the same id: judged afresh */
	start("  - id: repeat_3_in_90d\n"
	    "    kind: repeat\n"
	    "    routes: [mpu]\n"
	    "    window: 90d\n"
	    "    thresholds: {review: 4}\n"
	    "    summary: \"{count}\"\n");
	ck_assert_uint_eq(report("C-1", "MP-4", 3 * DAY, NULL), 1);
}
END_TEST

START_TEST(test_brief_on_report)
{
	json_t	*r, *b;
	char	 line[512];

	start(repeat_rule);
	report("C-1", "MP-1", 0, ",\"flags\":[\"known_cse_risk\"]");
	report("C-1", "MP-2", 100 * DAY, NULL);
	snprintf(line, sizeof line, "{\"id\":\"E-B\",\"type\":"
	    "\"episode.reported\",\"at\":\"%s\",\"episode\":\"MP-3\","
	    "\"category\":\"missing\",\"child\":{\"id\":\"C-1\"}}",
	    at(120 * DAY));
	r = send_line(line);
	b = json_object_get(r, "brief");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(json_integer_value(json_object_get(b,
	    "prior_episodes_90d")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(b,
	    "prior_episodes_365d")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
	    json_object_get(b, "profile"), "flags"), 0)), "known_cse_risk");
	json_decref(r);
}
END_TEST

/*
 * What the engine raised counts (engine_stats, the "alert" log line) only
 * once its transaction has committed.  The log goes to a file for these
 * tests; the returned fd restores stderr.
 */
static int
log_capture(void)
{
	char	 path[160];
	int	 saved;

	snprintf(path, sizeof path, "%s/log", dir);
	fflush(stderr);
	ck_assert_int_ne(saved = dup(STDERR_FILENO), -1);
	ck_assert_ptr_nonnull(freopen(path, "w", stderr));
	log_init(1, LOG_LEVEL_INFO);
	return saved;
}

/* How many times the captured log says s. */
static int
log_count(const char *s)
{
	char	 path[160], line[1024];
	FILE	*f;
	int	 n = 0;

	fflush(stderr);
	snprintf(path, sizeof path, "%s/log", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, s) != NULL)
			n++;
	fclose(f);
	return n;
}

static void
log_restore(int saved)
{
	fflush(stderr);
	ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	log_init(1, LOG_LEVEL_WARN);
}

/* Run lines as one batch; each reply's outcome must be want. */
static void
send_batch(const char **lines, size_t n, const char *want)
{
	struct intake_item	 it[4];
	json_t			*r;
	const char		*got;
	size_t			 i;

	ck_assert_uint_le(n, 4);
	memset(it, 0, sizeof it);
	for (i = 0; i < n; i++) {
		it[i].line = lines[i];
		it[i].len = strlen(lines[i]);
	}
	intake_run(intake, it, n);
	for (i = 0; i < n; i++) {
		r = json_loads(it[i].reply, 0, NULL);
		got = json_is_true(json_object_get(r, "ok")) ? "ok" :
		    json_string_value(json_object_get(r, "error"));
		ck_assert_msg(strcmp(got, want) == 0, "line %zu: %s", i,
		    it[i].reply);
		json_decref(r);
		intake_item_clear(&it[i]);
	}
}

static void
exec_sql(const char *sql)
{
	char	*msg = NULL;

	ck_assert_msg(sqlite3_exec(store_db(store), sql, NULL, NULL, &msg) ==
	    SQLITE_OK, "%s: %s", sql, msg);
}

#define REPORT_LINE(id, ep, t) \
	"{\"id\":\"" id "\",\"type\":\"episode.reported\",\"at\":\"" t "\"," \
	"\"episode\":\"" ep "\",\"category\":\"absent\"," \
	"\"child\":{\"id\":\"C-1\"}}"
#define MP3 REPORT_LINE("E-3", "MP-3", "2023-11-16T22:13:20Z")
#define PLAN \
	"{\"id\":\"E-4\",\"type\":\"plan.recorded\"," \
	"\"at\":\"2023-11-16T23:00:00Z\",\"child\":{\"id\":\"C-1\"}," \
	"\"plan\":\"trigger_plan\"}"

/* Two episodes for C-1: the third (MP3) raises the review alert A-1. */
static void
two_episodes(void)
{
	const char	*l1[] = { REPORT_LINE("E-1", "MP-1",
	    "2023-11-14T22:13:20Z") };
	const char	*l2[] = { REPORT_LINE("E-2", "MP-2",
	    "2023-11-15T22:13:20Z") };

	send_batch(l1, 1, "ok");
	send_batch(l2, 1, "ok");
}

/* An alert raised in a batch rolled back is neither counted nor logged. */
START_TEST(test_rolled_back_alert_not_counted)
{
	const char	*batch[] = { MP3, PLAN }, *again[] = { MP3 };
	const char	*line = "alert A-1: rule repeat_3_in_90d level review "
	    "for child C-1";
	json_t		*al;
	int		 saved;

	start(repeat_rule);
	saved = log_capture();
	two_episodes();
	/* MP3 raises A-1, then the plan's insert fails: all rolled back */
	exec_sql("CREATE TRIGGER fail_plans BEFORE INSERT ON plans BEGIN"
	    " SELECT RAISE(ABORT, 'injected failure'); END");
	send_batch(batch, 2, "unavailable");
	ck_assert_uint_eq(engine_stats(engine)->alerts[LEVEL_REVIEW], 0);
	ck_assert_int_eq(log_count("alert A-"), 0);
	al = all_alerts();
	ck_assert_uint_eq(json_array_size(al), 0);
	json_decref(al);

	/* resent once the store works: A-1 again, now counted once */
	exec_sql("DROP TRIGGER fail_plans");
	send_batch(again, 1, "ok");
	ck_assert_uint_eq(engine_stats(engine)->alerts[LEVEL_REVIEW], 1);
	ck_assert_int_eq(log_count(line), 1);
	ck_assert_int_eq(log_count("alert A-"), 1);
	log_restore(saved);
}
END_TEST

/* intake's pre-commit hook: counts its calls, refuses while told to. */
static int	 precommit_calls, precommit_refuse;

static int
precommit(void *arg)
{
	precommit_calls++;
	return precommit_refuse ? -1 : 0;
}

/*
 * The pre-commit hook (the daemon resolves deliveries there) runs in the
 * transaction of a batch that raised alerts, only then, and a refusal
 * rolls the whole batch back.
 */
START_TEST(test_precommit_hook)
{
	const char	*batch[] = { MP3 };
	json_t		*al;

	start(repeat_rule);
	intake_set_precommit_hook(intake, precommit, NULL);
	two_episodes();
	ck_assert_int_eq(precommit_calls, 0);	/* nothing raised yet */
	precommit_refuse = 1;
	send_batch(batch, 1, "unavailable");
	ck_assert_int_eq(precommit_calls, 1);
	al = all_alerts();
	ck_assert_uint_eq(json_array_size(al), 0);
	json_decref(al);
	ck_assert_uint_eq(engine_stats(engine)->alerts[LEVEL_REVIEW], 0);
	precommit_refuse = 0;
	send_batch(batch, 1, "ok");
	ck_assert_int_eq(precommit_calls, 2);
	al = all_alerts();
	ck_assert_uint_eq(json_array_size(al), 1);
	json_decref(al);
	ck_assert_uint_eq(engine_stats(engine)->alerts[LEVEL_REVIEW], 1);
}
END_TEST

/* A commit hook that refuses: SQLite turns the COMMIT into a rollback. */
static int
refuse_commit(void *arg)
{
	return 1;
}

/* Likewise when the batch's COMMIT itself fails. */
START_TEST(test_failed_commit_alert_not_counted)
{
	const char	*batch[] = { MP3 };
	int		 saved;

	start(repeat_rule);
	saved = log_capture();
	two_episodes();
	sqlite3_commit_hook(store_db(store), refuse_commit, NULL);
	send_batch(batch, 1, "unavailable");
	sqlite3_commit_hook(store_db(store), NULL, NULL);
	ck_assert_uint_eq(engine_stats(engine)->alerts[LEVEL_REVIEW], 0);
	ck_assert_int_eq(log_count("alert A-"), 0);
	ck_assert_uint_eq(intake_stats(intake)->commit_failures, 1);

	send_batch(batch, 1, "ok");
	ck_assert_uint_eq(engine_stats(engine)->alerts[LEVEL_REVIEW], 1);
	ck_assert_int_eq(log_count("alert A-1: "), 1);
	log_restore(saved);
}
END_TEST

/* A round of due deadlines rolled back fired nothing (as daemon_tick). */
START_TEST(test_rolled_back_tick_not_counted)
{
	const struct engine_stats	*st;
	int				 saved;

	start(deadline_rule);
	saved = log_capture();
	report("C-1", "MP-1", 0, NULL);
	json_decref(event(1 * HOUR, FOUND("MP-1")));
	st = engine_stats(engine);
	ck_assert_uint_eq(st->deadlines_started, 1);

	ck_assert_int_eq(store_begin(store), 0);
	ck_assert_int_eq(engine_tick(engine, 1700000000000LL + 100 * HOUR,
	    1700000000000LL + 100 * HOUR, NULL), 1);
	store_rollback(store);
	engine_abort(engine);
	ck_assert_uint_eq(st->deadlines_fired, 0);
	ck_assert_uint_eq(st->alerts[LEVEL_REVIEW], 0);
	ck_assert_int_eq(log_count("alert A-"), 0);

	ck_assert_int_eq(tick(100 * HOUR), 1);
	ck_assert_uint_eq(st->deadlines_fired, 1);
	ck_assert_uint_eq(st->alerts[LEVEL_REVIEW], 1);
	ck_assert_int_eq(log_count("alert A-1: rule rhi_overdue level "
	    "review for child C-1"), 1);
	log_restore(saved);
}
END_TEST

static Suite *
engine_suite(void)
{
	Suite	*s = suite_create("engine");
	TCase	*tc;

	tc = tcase_create("repeat");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_repeat_threshold_and_window_edge);
	tcase_add_test(tc, test_repeat_just_inside_window);
	tcase_add_test(tc, test_repeat_staying_above_then_urgent);
	tcase_add_test(tc, test_repeat_rearms_after_falling);
	tcase_add_test(tc, test_repeat_late_event_completes_pattern);
	tcase_add_test(tc, test_duplicate_gets_same_alerts);
	tcase_add_test(tc, test_alert_object_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("score");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_score_distinct_weights_and_groups);
	tcase_add_test(tc, test_score_factor_for_young_child);
	tcase_add_test(tc, test_score_window_forgets);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_match_found_at_flagged_location);
	tcase_add_test(tc, test_match_unflagged_location);
	tcase_add_test(tc, test_match_summary_names_indicators);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_deadline_met_in_time);
	tcase_add_test(tc, test_deadline_wrong_interview_does_not_meet);
	tcase_add_test(tc, test_deadline_fires_when_due_not_before);
	tcase_add_test(tc, test_deadline_survives_restart);
	tcase_add_test(tc, test_deadline_met_before_start_known);
	tcase_add_test(tc, test_deadline_when_gates_meeting_in_any_order);
	tcase_add_test(tc, test_deadline_dropped_when_rule_changes);
	tcase_add_test(tc, test_deadline_started_by_rule_level);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reload_same_meaning_keeps_state);
	tcase_add_test(tc, test_reload_new_meaning_starts_afresh);
	suite_add_tcase(s, tc);

	tc = tcase_create("commit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rolled_back_alert_not_counted);
	tcase_add_test(tc, test_failed_commit_alert_not_counted);
	tcase_add_test(tc, test_rolled_back_tick_not_counted);
	tcase_add_test(tc, test_precommit_hook);
	suite_add_tcase(s, tc);

	tc = tcase_create("brief");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_brief_on_report);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(engine_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
