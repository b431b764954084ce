/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for the child's full view (GET /v1/children/{id}): the
 * timeline's one-line summaries of each event type, cut on a character
 * boundary; an unknown child; and, after a scripted history sent through
 * intake, the brief part equal to brief_child() as of now, every episode
 * with where it was found, indicators with the catalogue's words and the
 * event's source, alerts with their acknowledgement, and the timeline
 * newest first within its limit.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ack.h"
#include "brief.h"
#include "childview.h"
#include "engine.h"
#include "intake.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"

static const char rules_text[] =
	"version: 1\n"
	"groups: [cse, vulnerability]\n"
	"routes:\n"
	"  mpu: \"Missing persons unit\"\n"
	"indicators:\n"
	"  older_partner_or_controlling_adult: {label: \"Older partner\", "
	"weight: 3, group: cse}\n"
	"  substance_misuse: {label: \"Drug or alcohol misuse\", weight: 1, "
	"group: vulnerability}\n"
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
	"    thresholds: {review: 2}\n"
	"    summary: \"{count} episodes in {window}\"\n"
	"  - id: cse_score\n"
	"    kind: score\n"
	"    routes: [mpu]\n"
	"    window: 90d\n"
	"    groups: [cse, vulnerability]\n"
	"    thresholds: {notify: 3}\n"
	"    summary: \"score {score}\"\n"
	"  - id: no_interview\n"
	"    kind: deadline\n"
	"    routes: [mpu]\n"
	"    after: {type: episode.found}\n"
	"    expect: {type: interview.completed}\n"
	"    scope: child\n"
	"    within: 72h\n"
	"    level: review\n"
	"    summary: \"no interview for {child}\"\n";

static char		 dir[64], dbpath[128];
static struct store	*store;
static struct rules	*rules;
static struct engine	*engine;
static struct brief	*brief;
static struct intake	*intake;
static struct childview	*cv;

static void
setup(void)
{
	struct decode_opts	 opts;
	char			*cause = NULL;

	strcpy(dir, "/tmp/check_childview.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/misperd.db", dir);
	rules = rules_load_buffer("test.yaml", rules_text, strlen(rules_text),
	    &cause);
	ck_assert_msg(rules != NULL, "rules: %s", cause);
	store = store_open(dbpath, &cause);
	ck_assert_msg(store != NULL, "store: %s", cause);
	engine = engine_new(store);
	engine_set_rules(engine, rules);
	brief = brief_new(store);
	cv = childview_new(store, brief);
	opts.indicator_known = rules_indicator_known;
	opts.arg = rules;
	intake = intake_new(store, engine, brief, &opts);
}

static void
teardown(void)
{
	char	 cmd[160];

	intake_free(intake);
	childview_free(cv);
	brief_free(brief);
	engine_free(engine);
	store_free(store);
	rules_free(rules);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Send one event; it must be accepted. */
static void
send_ok(const char *line)
{
	struct intake_item	 it;

	memset(&it, 0, sizeof it);
	it.line = line;
	it.len = strlen(line);
	intake_run(intake, &it, 1);
	ck_assert_msg(strstr(it.reply, "\"ok\":true") != NULL, "%s: %s", line,
	    it.reply);
	intake_item_clear(&it);
}

/* The summary of an event body, compared and freed. */
static void
summary_is(const char *body, const char *want)
{
	char	*got = childview_summary(body);

	ck_assert_str_eq(got, want);
	free(got);
}

static int64_t
ms(const char *rfc3339)
{
	int64_t	 v;

	ck_assert_int_eq(time_parse_rfc3339(rfc3339, &v), 0);
	return v;
}

START_TEST(test_summaries)
{
	summary_is("{\"type\":\"episode.reported\",\"category\":\"missing\","
	    "\"risk\":\"high\",\"last_seen\":{\"address\":\"12 High St\","
	    "\"postcode\":\"CR0 1AA\"},\"source\":\"cad\"}",
	    "missing, risk high, last seen 12 High St CR0 1AA (cad)");
	summary_is("{\"type\":\"episode.reported\",\"category\":\"absent\"}",
	    "absent");
	summary_is("{\"type\":\"episode.updated\",\"risk\":\"medium\","
	    "\"note\":\"seen at the station\",\"indicators\":"
	    "[\"a\",\"b\"]}", "updated, risk medium: \"seen at the station\"; "
	    "indicators: a, b");
	summary_is("{\"type\":\"episode.found\",\"found\":{\"postcode\":"
	    "\"SW9 7AA\",\"out_of_area\":true,\"with\":[\"P-1\",\"P-2\"]}}",
	    "found at SW9 7AA, out of area, with 2 others");
	summary_is("{\"type\":\"episode.found\",\"found\":{\"uprn\":\"1001\"}}",
	    "found at UPRN 1001");
	summary_is("{\"type\":\"episode.closed\",\"outcome\":"
	    "\"returned_home\"}", "closed: returned_home");
	summary_is("{\"type\":\"episode.closed\"}", "closed");
	summary_is("{\"type\":\"interview.completed\",\"kind\":"
	    "\"return_home\"}", "return_home interview");
	summary_is("{\"type\":\"indicator.recorded\",\"indicator\":"
	    "\"substance_misuse\",\"source\":\"social-care\"}",
	    "indicator substance_misuse (social-care)");
	summary_is("{\"type\":\"plan.recorded\",\"plan\":\"safety_plan\"}",
	    "safety_plan recorded");
	summary_is("not json", "(unreadable event)");
}
END_TEST

START_TEST(test_summary_cut)
{
	char	 body[2048], note[400], *got;
	json_t	*js;
	size_t	 i, len;

	/* a long note: cut at 80 bytes, never inside "é" (2 bytes) */
	strcpy(note, "x");
	for (i = 0; i < 100; i++)
		strcat(note, "\xc3\xa9");
	snprintf(body, sizeof body, "{\"type\":\"episode.updated\","
	    "\"note\":\"%s\"}", note);
	got = childview_summary(body);
	/* "updated: \"" + x + 39 "é" (79 bytes) + "...\"" */
	ck_assert_int_eq(strncmp(got, "updated: \"x\xc3\xa9", 13), 0);
	ck_assert_uint_eq(strlen(got), 10 + 79 + 4);
	ck_assert_str_eq(got + strlen(got) - 6, "\xc3\xa9...\"");
	free(got);

	/* a long address: the whole summary is cut to the maximum */
	strcpy(note, "y");
	for (i = 0; i < 150; i++)
		strcat(note, "\xc3\xa9");
	snprintf(body, sizeof body, "{\"type\":\"episode.found\",\"found\":"
	    "{\"address\":\"%s\"}}", note);
	got = childview_summary(body);
	len = strlen(got);
	ck_assert_uint_le(len, CHILDVIEW_SUMMARY_MAX);
	ck_assert_uint_ge(len, CHILDVIEW_SUMMARY_MAX - 4);
	ck_assert_str_eq(got + len - 3, "...");
	/* what is left of the address is whole characters */
	ck_assert_int_eq(((unsigned char)got[len - 4] & 0xc0) == 0x80 ?
	    (unsigned char)got[len - 5] : 0xc3, 0xc3);
	js = json_string(got);			/* NULL: not valid UTF-8 */
	ck_assert_ptr_nonnull(js);
	json_decref(js);
	free(got);
}
END_TEST

START_TEST(test_unknown_child)
{
	json_t	*o = (json_t *)1;

	ck_assert_int_eq(childview_get(cv, rules, "C-NOBODY",
	    ms("2025-04-01T00:00:00Z"), 10, &o), 1);
	ck_assert_ptr_null(o);
}
END_TEST

/* The scripted history of C-1. */
static void
history(void)
{
	send_ok("{\"id\":\"L-1\",\"type\":\"location.flagged\",\"at\":"
	    "\"2025-02-01T10:00:00Z\",\"location\":{\"uprn\":\"1001\","
	    "\"address\":\"1 Test Road\",\"postcode\":\"SE5 9ZZ\"},"
	    "\"reason\":\"exploitation_hotspot\"}");
	send_ok("{\"id\":\"E-1\",\"type\":\"episode.reported\",\"at\":"
	    "\"2025-03-01T10:00:00Z\",\"source\":\"cad\",\"episode\":\"MP-1\","
	    "\"child\":{\"id\":\"C-1\",\"dob\":\"2011-03-02\",\"area\":"
	    "\"lambeth\"},\"category\":\"missing\",\"risk\":\"high\"}");
	send_ok("{\"id\":\"E-2\",\"type\":\"episode.found\",\"at\":"
	    "\"2025-03-02T08:00:00Z\",\"episode\":\"MP-1\",\"found\":"
	    "{\"uprn\":\"1001\",\"out_of_area\":true},\"indicators\":"
	    "[\"older_partner_or_controlling_adult\"]}");
	send_ok("{\"id\":\"E-3\",\"type\":\"episode.closed\",\"at\":"
	    "\"2025-03-02T09:00:00Z\",\"episode\":\"MP-1\"}");
	send_ok("{\"id\":\"E-4\",\"type\":\"indicator.recorded\",\"at\":"
	    "\"2025-03-05T09:00:00Z\",\"source\":\"social-care\",\"child\":"
	    "{\"id\":\"C-1\"},\"indicator\":\"substance_misuse\"}");
	send_ok("{\"id\":\"E-5\",\"type\":\"episode.reported\",\"at\":"
	    "\"2025-03-10T22:00:00Z\",\"episode\":\"MP-2\",\"child\":"
	    "{\"id\":\"C-1\"},\"category\":\"absent\",\"risk\":\"low\"}");
	/* another child's event stays out of C-1's view */
	send_ok("{\"id\":\"E-6\",\"type\":\"episode.reported\",\"at\":"
	    "\"2025-03-11T10:00:00Z\",\"episode\":\"MP-3\",\"child\":"
	    "{\"id\":\"C-2\"},\"category\":\"missing\",\"risk\":\"high\"}");
}

START_TEST(test_view)
{
	struct ack_outcome	 ack;
	json_t			*o, *b, *v, *e;
	const char		*key;
	int64_t			 now = ms("2025-03-12T00:00:00Z");

	history();
	ck_assert_int_eq(ack_alert(store, "A-1", "PS 1 Test", "seen", "test",
	    NULL, ms("2025-03-01T11:00:00Z"), &ack), ACK_OK);
	ck_assert_int_eq(childview_get(cv, rules, "C-1", now, 3, &o), 0);

	/* the brief part is brief_child() as of now, member for member */
	b = brief_child(brief, rules, "C-1", NULL, now);
	ck_assert_ptr_nonnull(b);
	json_object_foreach(b, key, v)
		ck_assert_msg(json_equal(v, json_object_get(o, key)),
		    "brief member %s differs", key);
	json_decref(b);
	ck_assert_int_eq(json_integer_value(json_object_get(o,
	    "prior_episodes_90d")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o,
	    "levels"), "repeat_2")), "review");
	ck_assert_str_eq(json_string_value(json_object_get(o, "as_of")),
	    "2025-03-12T00:00:00Z");

	/* episodes, newest first; the first was found at a flagged place */
	v = json_object_get(o, "episodes");
	ck_assert_uint_eq(json_array_size(v), 2);
	e = json_array_get(v, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "episode")),
	    "MP-2");
	ck_assert_str_eq(json_string_value(json_object_get(e, "category")),
	    "absent");
	ck_assert(json_is_null(json_object_get(e, "found")));
	ck_assert(json_is_false(json_object_get(e, "closed")));
	e = json_array_get(v, 1);
	ck_assert_str_eq(json_string_value(json_object_get(e, "risk")),
	    "high");
	ck_assert_str_eq(json_string_value(json_object_get(e, "found_at")),
	    "2025-03-02T08:00:00Z");
	ck_assert(json_is_true(json_object_get(e, "out_of_area")));
	ck_assert(json_is_true(json_object_get(e, "closed")));
	e = json_object_get(e, "found");
	ck_assert_str_eq(json_string_value(json_object_get(e, "location")),
	    "uprn:1001");
	ck_assert_str_eq(json_string_value(json_object_get(e, "address")),
	    "1 Test Road");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(e,
	    "flags"), 0)), "exploitation_hotspot");

	/* indicators, newest first, with the catalogue and the source */
	v = json_object_get(o, "indicators");
	ck_assert_uint_eq(json_array_size(v), 2);
	e = json_array_get(v, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "indicator")),
	    "substance_misuse");
	ck_assert_str_eq(json_string_value(json_object_get(e, "label")),
	    "Drug or alcohol misuse");
	ck_assert(json_real_value(json_object_get(e, "weight")) == 1.0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "group")),
	    "vulnerability");
	ck_assert_str_eq(json_string_value(json_object_get(e, "source")),
	    "social-care");
	ck_assert_str_eq(json_string_value(json_object_get(e, "event")),
	    "E-4");
	ck_assert(json_is_null(json_object_get(e, "episode")));
	e = json_array_get(v, 1);
	ck_assert_str_eq(json_string_value(json_object_get(e, "episode")),
	    "MP-1");
	ck_assert(json_is_null(json_object_get(e, "source")));

	/* alerts, newest first; the acknowledged one says by whom */
	v = json_object_get(o, "alerts");
	ck_assert_uint_eq(json_array_size(v), 3);
	e = json_array_get(v, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "rule")),
	    "repeat_2");
	ck_assert(json_is_null(json_object_get(e, "acknowledged")));
	e = json_array_get(v, 2);
	ck_assert_str_eq(json_string_value(json_object_get(e, "alert")),
	    "A-1");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "seq")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e,
	    "acknowledged"), "by")), "PS 1 Test");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e,
	    "acknowledged"), "note")), "seen");
	/* and the open ones are the brief's */
	ck_assert_uint_eq(json_array_size(json_object_get(o, "open_alerts")),
	    2);

	/* the timeline: newest first, at most the limit */
	v = json_object_get(o, "timeline");
	ck_assert_uint_eq(json_array_size(v), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v,
	    0), "event")), "E-5");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v,
	    0), "summary")), "absent, risk low");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v,
	    2), "event")), "E-3");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v,
	    1), "type")), "indicator.recorded");
	json_decref(o);

	ck_assert_int_eq(childview_get(cv, rules, "C-1", now, 5000, &o), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "timeline")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(o, "timeline"), 4), "summary")),
	    "missing, risk high (cad)");
	/* the deadline after the found is still running */
	ck_assert_uint_eq(json_array_size(json_object_get(o,
	    "pending_deadlines")), 1);
	json_decref(o);
}
END_TEST

static Suite *
childview_suite(void)
{
	Suite	*s = suite_create("childview");
	TCase	*tc;

	tc = tcase_create("summary");
	tcase_add_test(tc, test_summaries);
	tcase_add_test(tc, test_summary_cut);
	suite_add_tcase(s, tc);
	tc = tcase_create("view");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unknown_child);
	tcase_add_test(tc, test_view);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(childview_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
