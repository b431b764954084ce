/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for decode.c (contract sections 2 and 3) and the default
 * indicator catalogue: every error code the decoder gives, every event
 * type read back, a good and a bad value for each field, location keys,
 * stored body, and JSONTestSuite's parsing corpus.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "catalogue.h"
#include "decode.h"
#include "event.h"

#define AT	"\"at\":\"2026-11-21T22:10:00Z\""

static const struct decode_opts opts = { catalogue_default_known, NULL };

/* A valid event of each type; the field table mutates these. */
enum base {
	B_REPORTED, B_UPDATED, B_FOUND, B_CLOSED, B_INTERVIEW, B_INDICATOR,
	B_PLAN, B_FLAGGED, B_CLEARED
};

static const char *const bases[] = {
	[B_REPORTED] = "{\"v\":1,\"id\":\"E-1\",\"type\":\"episode.reported\","
	    AT ",\"source\":\"cad\",\"episode\":\"MP-1\",\"child\":{\"id\":"
	    "\"C-1\",\"dob\":\"2011-03-02\",\"looked_after\":true,"
	    "\"cp_plan\":false,\"area\":\"croydon\",\"flags\":"
	    "[\"known_cse_risk\"]},\"category\":\"missing\",\"risk\":\"high\","
	    "\"last_seen\":{\"uprn\":\"100021234567\",\"area\":\"croydon\"},"
	    "\"indicators\":[\"missing_overnight_or_longer\",\"cce_weapon\"]}",
	[B_UPDATED] = "{\"id\":\"E-2\",\"type\":\"episode.updated\"," AT
	    ",\"episode\":\"MP-1\",\"category\":\"absent\",\"risk\":\"low\","
	    "\"indicators\":[\"sexual_health\"],"
	    "\"note\":\"seen at the station\",\"child\":{\"id\":\"C-1\"}}",
	[B_FOUND] = "{\"id\":\"E-3\",\"type\":\"episode.found\"," AT
	    ",\"episode\":\"MP-1\",\"found\":{\"postcode\":\"CR0 1AA\","
	    "\"address\":\"12 High St\",\"with\":[\"P-1\",\"P-2\"],"
	    "\"out_of_area\":true},"
	    "\"indicators\":[\"found_with_unknown_adults\"]}",
	[B_CLOSED] = "{\"id\":\"E-4\",\"type\":\"episode.closed\"," AT
	    ",\"episode\":\"MP-1\",\"outcome\":\"returned home\"}",
	[B_INTERVIEW] = "{\"id\":\"E-5\",\"type\":\"interview.completed\"," AT
	    ",\"child\":{\"id\":\"C-1\"},\"episode\":\"MP-1\","
	    "\"kind\":\"return_home\",\"indicators\":[\"disclosed_cse\"]}",
	[B_INDICATOR] = "{\"id\":\"E-6\",\"type\":\"indicator.recorded\"," AT
	    ",\"child\":{\"id\":\"C-1\"},"
	    "\"indicator\":\"unexplained_money_gifts\",\"episode\":\"MP-1\","
	    "\"note\":\"new phone\"}",
	[B_PLAN] = "{\"id\":\"E-7\",\"type\":\"plan.recorded\"," AT
	    ",\"child\":{\"id\":\"C-1\"},\"plan\":\"safety_plan\","
	    "\"episode\":\"MP-1\"}",
	[B_FLAGGED] = "{\"id\":\"E-8\",\"type\":\"location.flagged\"," AT
	    ",\"location\":{\"uprn\":\"100021234567\"},"
	    "\"reason\":\"rso_address\"}",
	[B_CLEARED] = "{\"id\":\"E-9\",\"type\":\"location.cleared\"," AT
	    ",\"location\":{\"postcode\":\"CR0 1AA\","
	    "\"address\":\"12 High St\"},\"reason\":\"rso_address\"}"
};

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* Decode a NUL-terminated line with the default catalogue. */
static struct mevent *
dec(const char *line, struct ev_err *err)
{
	return decode_event(line, strlen(line), &opts, err);
}

/* Decode a line that must succeed. */
static struct mevent *
ok(const char *line)
{
	struct ev_err	 err;
	struct mevent	*ev;

	ev = dec(line, &err);
	ck_assert_msg(ev != NULL, "%s: %s %s: %s", line,
	    ev_error_name(err.code), err.field, err.message);
	ck_assert_int_eq(err.code, EVERR_NONE);
	return ev;
}

/* Is s valid UTF-8, as a reply encoder needs it? */
static int
utf8_valid(const char *s)
{
	json_t	*j;

	if ((j = json_string(s)) == NULL)
		return 0;
	json_decref(j);
	return 1;
}

/* Decode a line of len bytes that must fail with code and field. */
static void
fails_len(const char *line, size_t len, enum ev_error code, const char *field,
    struct ev_err *err)
{
	struct mevent	*ev;

	ev = decode_event(line, len, &opts, err);
	ck_assert_msg(ev == NULL, "%.*s: decoded", (int)len, line);
	ck_assert_msg(err->code == code, "%.*s: %s %s: %s, want %s %s",
	    (int)len, line, ev_error_name(err->code), err->field, err->message,
	    ev_error_name(code), field);
	ck_assert_str_eq(err->field, field);
	ck_assert_msg(err->message[0] != '\0', "empty message");
	ck_assert(utf8_valid(err->message));
}

/* Decode a NUL-terminated line that must fail with code and field. */
static void
fails(const char *line, enum ev_error code, const char *field,
    struct ev_err *err)
{
	fails_len(line, strlen(line), code, field, err);
}

/*
 * Copy base with the value at a dotted path replaced by the JSON text value
 * (or the key removed when value is NULL).  The caller frees the result.
 */
static char *
mutate(const char *base, const char *path, const char *value)
{
	json_error_t	 jerr;
	json_t		*root, *obj, *v;
	const char	*p = path, *dot;
	char		 key[64], *out;

	root = json_loads(base, 0, &jerr);
	ck_assert_msg(root != NULL, "base: %s", jerr.text);
	obj = root;
	while ((dot = strchr(p, '.')) != NULL) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
		obj = json_object_get(obj, key);
		ck_assert_msg(obj != NULL, "no %s in base", key);
		p = dot + 1;
	}
	if (value == NULL)
		json_object_del(obj, p);
	else {
		v = json_loads(value, JSON_DECODE_ANY, &jerr);
		ck_assert_msg(v != NULL, "value %s: %s", value, jerr.text);
		json_object_set_new(obj, p, v);
	}
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
}

/* A JSON string literal of n copies of c. */
static char *
long_string(size_t n, char c)
{
	char	*s = malloc(n + 3);

	ck_assert_ptr_nonnull(s);
	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

/* ---- bad_json ---- */

START_TEST(test_bad_json_syntax)
{
	struct ev_err	 err;

	fails("{\"id\":\"E-1\",", EVERR_BAD_JSON, "", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "not valid JSON at column"));
	ck_assert_int_eq(err.has_id, 0);
}
END_TEST

START_TEST(test_bad_json_empty_line)
{
	struct ev_err	 err;

	fails("", EVERR_BAD_JSON, "", &err);
	fails("   ", EVERR_BAD_JSON, "", &err);
	ck_assert_ptr_eq(decode_event(NULL, 5, &opts, &err), NULL);
	ck_assert_int_eq(err.code, EVERR_BAD_JSON);
}
END_TEST

static const char *const non_objects[] = {
	"[]", "[{\"id\":\"E-1\"}]", "\"episode.reported\"", "42", "null", "true"
};

START_TEST(test_bad_json_not_object)
{
	struct ev_err	 err;

	fails(non_objects[_i], EVERR_BAD_JSON, "", &err);
	ck_assert_str_eq(err.message, "an event must be a JSON object");
}
END_TEST

START_TEST(test_bad_json_duplicate_key)
{
	struct ev_err	 err;

	fails("{\"id\":\"E-1\",\"id\":\"E-2\",\"type\":\"episode.closed\"," AT
	    ",\"episode\":\"MP-1\"}", EVERR_BAD_JSON, "", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "duplicate"));
	ck_assert_int_eq(err.has_id, 0);
}
END_TEST

START_TEST(test_bad_json_nul_byte)
{
	static const char line[] = "{\"id\":\"E\0-1\","
	    "\"type\":\"episode.closed\"," AT ",\"episode\":\"MP-1\"}";
	struct ev_err	 err;

	fails_len(line, sizeof line - 1, EVERR_BAD_JSON, "", &err);
	fails("{\"id\":\"E\\u0000-1\",\"type\":\"episode.closed\"," AT
	    ",\"episode\":\"MP-1\"}", EVERR_BAD_JSON, "", &err);
}
END_TEST

START_TEST(test_bad_json_invalid_utf8)
{
	struct ev_err	 err;

	fails("{\"id\":\"E-1\",\"type\":\"episode.closed\"," AT
	    ",\"episode\":\"MP-\xff\"}", EVERR_BAD_JSON, "", &err);
	fails("{\"id\":\"E-1\",\"note\":\"\xc3\x28\"}", EVERR_BAD_JSON, "",
	    &err);
}
END_TEST

START_TEST(test_bad_json_trailing_text)
{
	struct ev_err	 err;

	fails("{} x", EVERR_BAD_JSON, "", &err);
	fails("{}{}", EVERR_BAD_JSON, "", &err);
}
END_TEST

/* ---- the envelope and id ---- */

START_TEST(test_id_carried_in_later_errors)
{
	struct ev_err	 err;
	char		*line = mutate(bases[B_REPORTED], "risk", "\"severe\"");

	fails(line, EVERR_BAD_FIELD, "risk", &err);
	ck_assert_int_eq(err.has_id, 1);
	ck_assert_str_eq(err.id, "E-1");
	free(line);
}
END_TEST

START_TEST(test_id_unreadable)
{
	struct ev_err	 err;
	char		*line;

	line = mutate(bases[B_REPORTED], "id", "17");
	fails(line, EVERR_BAD_FIELD, "id", &err);
	ck_assert_int_eq(err.has_id, 0);
	ck_assert_str_eq(err.id, "");
	free(line);
	line = mutate(bases[B_REPORTED], "id", NULL);
	fails(line, EVERR_MISSING_FIELD, "id", &err);
	ck_assert_int_eq(err.has_id, 0);
	free(line);
}
END_TEST

START_TEST(test_id_length_limit)
{
	struct ev_err	 err;
	struct mevent	*ev;
	char		*id, *line;

	id = long_string(EVENT_ID_MAX, 'x');
	line = mutate(bases[B_CLOSED], "id", id);
	ev = ok(line);
	ck_assert_uint_eq(strlen(ev->id), EVENT_ID_MAX);
	mevent_free(ev);
	free(line);
	free(id);
	id = long_string(EVENT_ID_MAX + 1, 'x');
	line = mutate(bases[B_CLOSED], "id", id);
	fails(line, EVERR_BAD_FIELD, "id", &err);
	free(line);
	free(id);
}
END_TEST

START_TEST(test_id_in_error_at_max_length)
{
	struct ev_err	 err;
	char		*id, *with_id, *line;

	id = long_string(EVENT_ID_MAX, 'y');
	with_id = mutate(bases[B_CLOSED], "id", id);
	line = mutate(with_id, "outcome", "5");
	fails(line, EVERR_BAD_FIELD, "outcome", &err);
	ck_assert_int_eq(err.has_id, 1);
	ck_assert_uint_eq(strlen(err.id), EVENT_ID_MAX);
	free(line);
	free(with_id);
	free(id);
}
END_TEST

START_TEST(test_unknown_type_named)
{
	struct ev_err	 err;
	char		*line;

	line = mutate(bases[B_CLOSED], "type", "\"episode.lost\"");
	fails(line, EVERR_UNKNOWN_TYPE, "type", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "\"episode.lost\""));
	ck_assert_int_eq(err.has_id, 1);
	free(line);
}
END_TEST

START_TEST(test_unknown_type_long_name_echo)
{
	struct ev_err	 err;
	char		*name, *line;

	name = long_string(300, 'z');
	line = mutate(bases[B_CLOSED], "type", name);
	fails(line, EVERR_UNKNOWN_TYPE, "type", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "..."));
	free(line);
	free(name);
}
END_TEST

START_TEST(test_at_message_gives_example)
{
	struct ev_err	 err;
	char		*line = mutate(bases[B_CLOSED], "at", "\"yesterday\"");

	fails(line, EVERR_BAD_FIELD, "at", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "e.g."));
	free(line);
}
END_TEST

START_TEST(test_v_message)
{
	struct ev_err	 err;
	char		*line = mutate(bases[B_CLOSED], "v", "2");

	fails(line, EVERR_BAD_FIELD, "v", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "contract version 1"));
	free(line);
}
END_TEST

START_TEST(test_enum_message_lists_values)
{
	struct ev_err	 err;
	char		*line = mutate(bases[B_REPORTED], "risk", "\"severe\"");

	fails(line, EVERR_BAD_FIELD, "risk", &err);
	ck_assert_str_eq(err.message,
	    "risk must be one of no_apparent_risk, low, medium, high");
	free(line);
}
END_TEST

START_TEST(test_null_is_not_absent)
{
	struct ev_err	 err;
	char		*line = mutate(bases[B_REPORTED], "risk", "null");

	fails(line, EVERR_BAD_FIELD, "risk", &err);
	ck_assert_ptr_nonnull(strstr(err.message, ", not null"));
	free(line);
}
END_TEST

/* ---- each type read back ---- */

START_TEST(test_type_episode_reported)
{
	struct mevent	*ev = ok(bases[B_REPORTED]);

	ck_assert_int_eq(ev->type, EVT_EPISODE_REPORTED);
	ck_assert_int_eq(ev->v, 1);
	ck_assert_str_eq(ev->id, "E-1");
	ck_assert_str_eq(ev->at, "2026-11-21T22:10:00Z");
	ck_assert_int_eq(ev->at_ms, 1795299000000LL);
	ck_assert_str_eq(ev->source, "cad");
	ck_assert_str_eq(ev->episode, "MP-1");
	ck_assert_str_eq(ev->child.id, "C-1");
	ck_assert_str_eq(ev->child.dob, "2011-03-02");
	ck_assert_int_eq(ev->child.dob_days, 15035);
	ck_assert_int_eq(ev->child.looked_after, 1);
	ck_assert_int_eq(ev->child.cp_plan, 0);
	ck_assert_str_eq(ev->child.area, "croydon");
	ck_assert_int_eq(ev->child.has_flags, 1);
	ck_assert_uint_eq(ev->child.nflags, 1);
	ck_assert_str_eq(ev->child.flags[0], "known_cse_risk");
	ck_assert_int_eq(ev->category, CAT_MISSING);
	ck_assert_int_eq(ev->risk, RISK_HIGH);
	ck_assert_str_eq(ev->last_seen.key, "uprn:100021234567");
	ck_assert_str_eq(ev->last_seen.uprn, "100021234567");
	ck_assert_str_eq(ev->last_seen.area, "croydon");
	ck_assert_uint_eq(ev->nindicators, 2);
	ck_assert_str_eq(ev->indicators[0], "missing_overnight_or_longer");
	ck_assert_str_eq(ev->indicators[1], "cce_weapon");
	ck_assert_ptr_null(ev->found.key);
	ck_assert_ptr_null(ev->location.key);
	ck_assert_int_eq(ev->out_of_area, TRI_UNSET);
	ck_assert_int_eq(ev->kind, INTERVIEW_UNSET);
	ck_assert_int_eq(ev->plan, PLAN_UNSET);
	ck_assert_ptr_nonnull(ev->body);
	ck_assert_ptr_nonnull(ev->root);
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_episode_reported_minimal)
{
	struct mevent	*ev = ok("{\"id\":\"E-1\","
	    "\"type\":\"episode.reported\"," AT ",\"episode\":\"MP-1\","
	    "\"child\":{\"id\":\"C-1\"},\"category\":\"absent\"}");

	ck_assert_int_eq(ev->category, CAT_ABSENT);
	ck_assert_int_eq(ev->risk, RISK_UNSET);
	ck_assert_ptr_null(ev->source);
	ck_assert_ptr_null(ev->child.dob);
	ck_assert_int_eq(ev->child.looked_after, TRI_UNSET);
	ck_assert_int_eq(ev->child.cp_plan, TRI_UNSET);
	ck_assert_int_eq(ev->child.has_flags, 0);
	ck_assert_ptr_null(ev->child.flags);
	ck_assert_ptr_null(ev->last_seen.key);
	ck_assert_uint_eq(ev->nindicators, 0);
	ck_assert_ptr_null(ev->indicators);
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_episode_updated)
{
	struct mevent	*ev = ok(bases[B_UPDATED]);

	ck_assert_int_eq(ev->type, EVT_EPISODE_UPDATED);
	ck_assert_str_eq(ev->episode, "MP-1");
	ck_assert_int_eq(ev->category, CAT_ABSENT);
	ck_assert_int_eq(ev->risk, RISK_LOW);
	ck_assert_uint_eq(ev->nindicators, 1);
	ck_assert_str_eq(ev->indicators[0], "sexual_health");
	ck_assert_str_eq(ev->note, "seen at the station");
	ck_assert_str_eq(ev->child.id, "C-1");
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_episode_found)
{
	struct mevent	*ev = ok(bases[B_FOUND]);

	ck_assert_int_eq(ev->type, EVT_EPISODE_FOUND);
	ck_assert_str_eq(ev->episode, "MP-1");
	ck_assert_str_eq(ev->found.key, "addr:CR01AA|12 high st");
	ck_assert_str_eq(ev->found.postcode, "CR0 1AA");
	ck_assert_str_eq(ev->found.address, "12 High St");
	ck_assert_ptr_null(ev->found.uprn);
	ck_assert_uint_eq(ev->nwith, 2);
	ck_assert_str_eq(ev->with[0], "P-1");
	ck_assert_str_eq(ev->with[1], "P-2");
	ck_assert_int_eq(ev->out_of_area, 1);
	ck_assert_uint_eq(ev->nindicators, 1);
	ck_assert_str_eq(ev->indicators[0], "found_with_unknown_adults");
	ck_assert_ptr_null(ev->child.id);
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_episode_closed)
{
	struct mevent	*ev = ok(bases[B_CLOSED]);

	ck_assert_int_eq(ev->type, EVT_EPISODE_CLOSED);
	ck_assert_str_eq(ev->episode, "MP-1");
	ck_assert_str_eq(ev->outcome, "returned home");
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_interview_completed)
{
	struct mevent	*ev = ok(bases[B_INTERVIEW]);

	ck_assert_int_eq(ev->type, EVT_INTERVIEW_COMPLETED);
	ck_assert_str_eq(ev->child.id, "C-1");
	ck_assert_str_eq(ev->episode, "MP-1");
	ck_assert_int_eq(ev->kind, INTERVIEW_RETURN_HOME);
	ck_assert_uint_eq(ev->nindicators, 1);
	ck_assert_str_eq(ev->indicators[0], "disclosed_cse");
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_indicator_recorded)
{
	struct mevent	*ev = ok(bases[B_INDICATOR]);

	ck_assert_int_eq(ev->type, EVT_INDICATOR_RECORDED);
	ck_assert_str_eq(ev->child.id, "C-1");
	ck_assert_uint_eq(ev->nindicators, 1);
	ck_assert_str_eq(ev->indicators[0], "unexplained_money_gifts");
	ck_assert_str_eq(ev->episode, "MP-1");
	ck_assert_str_eq(ev->note, "new phone");
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_plan_recorded)
{
	struct mevent	*ev = ok(bases[B_PLAN]);

	ck_assert_int_eq(ev->type, EVT_PLAN_RECORDED);
	ck_assert_str_eq(ev->child.id, "C-1");
	ck_assert_int_eq(ev->plan, PLAN_SAFETY);
	ck_assert_str_eq(ev->episode, "MP-1");
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_location_flagged)
{
	struct mevent	*ev = ok(bases[B_FLAGGED]);

	ck_assert_int_eq(ev->type, EVT_LOCATION_FLAGGED);
	ck_assert_str_eq(ev->location.key, "uprn:100021234567");
	ck_assert_str_eq(ev->reason, "rso_address");
	ck_assert_ptr_null(ev->child.id);
	ck_assert_ptr_null(ev->episode);
	mevent_free(ev);
}
END_TEST

START_TEST(test_type_location_cleared)
{
	struct mevent	*ev = ok(bases[B_CLEARED]);

	ck_assert_int_eq(ev->type, EVT_LOCATION_CLEARED);
	ck_assert_str_eq(ev->location.key, "addr:CR01AA|12 high st");
	ck_assert_str_eq(ev->reason, "rso_address");
	mevent_free(ev);
}
END_TEST

/* ---- a good and a bad value for each field ---- */

static const struct field_case {
	enum base	 base;
	const char	*path;
	const char	*value;		/* JSON text; NULL removes the key */
	enum ev_error	 code;
	const char	*field;
} field_cases[] = {
	/* envelope */
	{ B_REPORTED, "v", "1", EVERR_NONE, "" },
	{ B_REPORTED, "v", NULL, EVERR_NONE, "" },
	{ B_REPORTED, "v", "2", EVERR_BAD_FIELD, "v" },
	{ B_REPORTED, "v", "\"1\"", EVERR_BAD_FIELD, "v" },
	{ B_REPORTED, "v", "1.0", EVERR_BAD_FIELD, "v" },
	{ B_REPORTED, "id", "\"E 1/x:y\"", EVERR_NONE, "" },
	{ B_REPORTED, "id", NULL, EVERR_MISSING_FIELD, "id" },
	{ B_REPORTED, "id", "\"\"", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "id", "\" E-1\"", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "id", "\"E-1 \"", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "id", "\"E-\\u00e9\"", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "id", "\"E-1\\n\"", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "id", "null", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "id", "[\"E-1\"]", EVERR_BAD_FIELD, "id" },
	{ B_REPORTED, "type", NULL, EVERR_MISSING_FIELD, "type" },
	{ B_REPORTED, "type", "5", EVERR_BAD_FIELD, "type" },
	{ B_REPORTED, "type", "\"episode.lost\"", EVERR_UNKNOWN_TYPE, "type" },
	{ B_REPORTED, "type", "\"EPISODE.REPORTED\"", EVERR_UNKNOWN_TYPE,
	    "type" },
	{ B_REPORTED, "at", "\"2026-11-21T23:10:00.5+01:00\"", EVERR_NONE, "" },
	{ B_REPORTED, "at", NULL, EVERR_MISSING_FIELD, "at" },
	{ B_REPORTED, "at", "\"2026-11-21T22:10:00\"", EVERR_BAD_FIELD, "at" },
	{ B_REPORTED, "at", "\"2026-02-30T22:10:00Z\"", EVERR_BAD_FIELD, "at" },
	{ B_REPORTED, "at", "1795299000", EVERR_BAD_FIELD, "at" },
	{ B_REPORTED, "source", "\"social-care\"", EVERR_NONE, "" },
	{ B_REPORTED, "source", NULL, EVERR_NONE, "" },
	{ B_REPORTED, "source", "\"\"", EVERR_BAD_FIELD, "source" },
	{ B_REPORTED, "source", "7", EVERR_BAD_FIELD, "source" },
	/* unknown extra fields, and fields a type does not read */
	{ B_REPORTED, "future_field", "{\"a\":[1,2,{\"b\":null}]}", EVERR_NONE,
	    "" },
	{ B_REPORTED, "child.future_field", "[1]", EVERR_NONE, "" },
	{ B_REPORTED, "last_seen.future_field", "true", EVERR_NONE, "" },
	{ B_FOUND, "found.future_field", "1", EVERR_NONE, "" },
	{ B_FLAGGED, "child", "5", EVERR_NONE, "" },
	{ B_CLOSED, "risk", "\"severe\"", EVERR_NONE, "" },
	/* episode */
	{ B_REPORTED, "episode", NULL, EVERR_MISSING_FIELD, "episode" },
	{ B_REPORTED, "episode", "\"\"", EVERR_BAD_FIELD, "episode" },
	{ B_REPORTED, "episode", "123", EVERR_BAD_FIELD, "episode" },
	{ B_UPDATED, "episode", NULL, EVERR_MISSING_FIELD, "episode" },
	{ B_FOUND, "episode", NULL, EVERR_MISSING_FIELD, "episode" },
	{ B_CLOSED, "episode", NULL, EVERR_MISSING_FIELD, "episode" },
	{ B_INTERVIEW, "episode", NULL, EVERR_NONE, "" },
	{ B_INDICATOR, "episode", NULL, EVERR_NONE, "" },
	{ B_INDICATOR, "episode", "false", EVERR_BAD_FIELD, "episode" },
	{ B_PLAN, "episode", NULL, EVERR_NONE, "" },
	/* child */
	{ B_REPORTED, "child", NULL, EVERR_MISSING_FIELD, "child" },
	{ B_REPORTED, "child", "\"C-1\"", EVERR_BAD_FIELD, "child" },
	{ B_REPORTED, "child", "[]", EVERR_BAD_FIELD, "child" },
	{ B_REPORTED, "child", "{}", EVERR_MISSING_FIELD, "child.id" },
	{ B_REPORTED, "child.id", "5", EVERR_BAD_FIELD, "child.id" },
	{ B_REPORTED, "child.id", "\"\"", EVERR_BAD_FIELD, "child.id" },
	{ B_UPDATED, "child", NULL, EVERR_NONE, "" },
	{ B_UPDATED, "child.id", "5", EVERR_BAD_FIELD, "child.id" },
	{ B_INTERVIEW, "child", NULL, EVERR_NONE, "" },
	{ B_INDICATOR, "child", NULL, EVERR_MISSING_FIELD, "child" },
	{ B_PLAN, "child", NULL, EVERR_MISSING_FIELD, "child" },
	{ B_REPORTED, "child.dob", NULL, EVERR_NONE, "" },
	{ B_REPORTED, "child.dob", "\"2026-11-21\"", EVERR_NONE, "" },
	{ B_REPORTED, "child.dob", "\"2011-3-2\"", EVERR_BAD_FIELD,
	    "child.dob" },
	{ B_REPORTED, "child.dob", "\"2023-02-29\"", EVERR_BAD_FIELD,
	    "child.dob" },
	{ B_REPORTED, "child.dob", "\"02/03/2011\"", EVERR_BAD_FIELD,
	    "child.dob" },
	{ B_REPORTED, "child.dob", "\"2026-11-23\"", EVERR_BAD_FIELD,
	    "child.dob" },
	{ B_REPORTED, "child.dob", "20110302", EVERR_BAD_FIELD, "child.dob" },
	{ B_REPORTED, "child.looked_after", "false", EVERR_NONE, "" },
	{ B_REPORTED, "child.looked_after", "\"yes\"", EVERR_BAD_FIELD,
	    "child.looked_after" },
	{ B_REPORTED, "child.looked_after", "1", EVERR_BAD_FIELD,
	    "child.looked_after" },
	{ B_REPORTED, "child.cp_plan", "true", EVERR_NONE, "" },
	{ B_REPORTED, "child.cp_plan", "0", EVERR_BAD_FIELD, "child.cp_plan" },
	{ B_REPORTED, "child.area", "\"Bromley \\u00e9st\"", EVERR_NONE, "" },
	{ B_REPORTED, "child.area", "\"\"", EVERR_BAD_FIELD, "child.area" },
	{ B_REPORTED, "child.area", "\"a\\tb\"", EVERR_BAD_FIELD,
	    "child.area" },
	{ B_REPORTED, "child.area", "[]", EVERR_BAD_FIELD, "child.area" },
	{ B_REPORTED, "child.flags", "[]", EVERR_NONE, "" },
	{ B_REPORTED, "child.flags", "\"known_cse_risk\"", EVERR_BAD_FIELD,
	    "child.flags" },
	{ B_REPORTED, "child.flags", "[1]", EVERR_BAD_FIELD, "child.flags[0]" },
	{ B_REPORTED, "child.flags", "[\"a\",\"\"]", EVERR_BAD_FIELD,
	    "child.flags[1]" },
	/* category and risk */
	{ B_REPORTED, "category", "\"absent\"", EVERR_NONE, "" },
	{ B_REPORTED, "category", NULL, EVERR_MISSING_FIELD, "category" },
	{ B_REPORTED, "category", "\"lost\"", EVERR_BAD_FIELD, "category" },
	{ B_REPORTED, "category", "1", EVERR_BAD_FIELD, "category" },
	{ B_UPDATED, "category", NULL, EVERR_NONE, "" },
	{ B_UPDATED, "category", "\"Missing\"", EVERR_BAD_FIELD, "category" },
	{ B_REPORTED, "risk", "\"no_apparent_risk\"", EVERR_NONE, "" },
	{ B_REPORTED, "risk", "\"medium\"", EVERR_NONE, "" },
	{ B_REPORTED, "risk", NULL, EVERR_NONE, "" },
	{ B_REPORTED, "risk", "\"HIGH\"", EVERR_BAD_FIELD, "risk" },
	{ B_UPDATED, "risk", "3", EVERR_BAD_FIELD, "risk" },
	/* last_seen (a location) */
	{ B_REPORTED, "last_seen", NULL, EVERR_NONE, "" },
	{ B_REPORTED, "last_seen", "{}", EVERR_BAD_FIELD, "last_seen" },
	{ B_REPORTED, "last_seen", "\"CR0 1AA\"", EVERR_BAD_FIELD,
	    "last_seen" },
	{ B_REPORTED, "last_seen", "{\"area\":\"croydon\"}", EVERR_BAD_FIELD,
	    "last_seen" },
	{ B_REPORTED, "last_seen.uprn", "\"1\"", EVERR_NONE, "" },
	{ B_REPORTED, "last_seen.uprn", "100021234567", EVERR_BAD_FIELD,
	    "last_seen.uprn" },
	{ B_REPORTED, "last_seen.uprn", "\"1000212345678\"", EVERR_BAD_FIELD,
	    "last_seen.uprn" },
	{ B_REPORTED, "last_seen.uprn", "\"12a\"", EVERR_BAD_FIELD,
	    "last_seen.uprn" },
	{ B_REPORTED, "last_seen.uprn", "\"\"", EVERR_BAD_FIELD,
	    "last_seen.uprn" },
	{ B_REPORTED, "last_seen.postcode", "\"cr0 1aa\"", EVERR_NONE, "" },
	{ B_REPORTED, "last_seen.postcode", "\"CR0-1AA\"", EVERR_BAD_FIELD,
	    "last_seen.postcode" },
	{ B_REPORTED, "last_seen.postcode", "\" \"", EVERR_BAD_FIELD,
	    "last_seen.postcode" },
	{ B_REPORTED, "last_seen.postcode", "5", EVERR_BAD_FIELD,
	    "last_seen.postcode" },
	{ B_REPORTED, "last_seen.address", "\"Flat 2, 9 Park Rd\"", EVERR_NONE,
	    "" },
	{ B_REPORTED, "last_seen.address", "\"\"", EVERR_BAD_FIELD,
	    "last_seen.address" },
	{ B_REPORTED, "last_seen.address", "5", EVERR_BAD_FIELD,
	    "last_seen.address" },
	{ B_REPORTED, "last_seen.area", "\"\"", EVERR_BAD_FIELD,
	    "last_seen.area" },
	/* indicators */
	{ B_REPORTED, "indicators", "[]", EVERR_NONE, "" },
	{ B_REPORTED, "indicators", NULL, EVERR_NONE, "" },
	{ B_REPORTED, "indicators", "[\"cce_weapon\",\"cce_weapon\"]",
	    EVERR_NONE, "" },
	{ B_REPORTED, "indicators", "\"cce_weapon\"", EVERR_BAD_FIELD,
	    "indicators" },
	{ B_REPORTED, "indicators", "[\"cce_weapon\",\"made_up\"]",
	    EVERR_UNKNOWN_INDICATOR, "indicators[1]" },
	{ B_REPORTED, "indicators", "[\"CCE_WEAPON\"]",
	    EVERR_UNKNOWN_INDICATOR, "indicators[0]" },
	{ B_REPORTED, "indicators", "[5]", EVERR_BAD_FIELD, "indicators[0]" },
	{ B_REPORTED, "indicators", "[\"bad id!\"]", EVERR_BAD_FIELD,
	    "indicators[0]" },
	{ B_UPDATED, "indicators", "[\"nope\"]", EVERR_UNKNOWN_INDICATOR,
	    "indicators[0]" },
	{ B_FOUND, "indicators", "{}", EVERR_BAD_FIELD, "indicators" },
	{ B_INTERVIEW, "indicators", "[\"x\"]", EVERR_UNKNOWN_INDICATOR,
	    "indicators[0]" },
	/* note and outcome */
	{ B_UPDATED, "note", "\"\"", EVERR_NONE, "" },
	{ B_UPDATED, "note", "\"line one\\nline two\"", EVERR_NONE, "" },
	{ B_UPDATED, "note", "5", EVERR_BAD_FIELD, "note" },
	{ B_INDICATOR, "note", "{}", EVERR_BAD_FIELD, "note" },
	{ B_CLOSED, "outcome", NULL, EVERR_NONE, "" },
	{ B_CLOSED, "outcome", "5", EVERR_BAD_FIELD, "outcome" },
	/* found */
	{ B_FOUND, "found", NULL, EVERR_MISSING_FIELD, "found" },
	{ B_FOUND, "found", "[]", EVERR_BAD_FIELD, "found" },
	{ B_FOUND, "found", "{\"with\":[\"P-1\"]}", EVERR_BAD_FIELD, "found" },
	{ B_FOUND, "found.uprn", "\"100\"", EVERR_NONE, "" },
	{ B_FOUND, "found.uprn", "\"x\"", EVERR_BAD_FIELD, "found.uprn" },
	{ B_FOUND, "found.with", "[]", EVERR_NONE, "" },
	{ B_FOUND, "found.with", NULL, EVERR_NONE, "" },
	{ B_FOUND, "found.with", "\"P-1\"", EVERR_BAD_FIELD, "found.with" },
	{ B_FOUND, "found.with", "[\"P-1\",7]", EVERR_BAD_FIELD,
	    "found.with[1]" },
	{ B_FOUND, "found.out_of_area", "false", EVERR_NONE, "" },
	{ B_FOUND, "found.out_of_area", "\"no\"", EVERR_BAD_FIELD,
	    "found.out_of_area" },
	/* kind, indicator, plan */
	{ B_INTERVIEW, "kind", "\"prevention\"", EVERR_NONE, "" },
	{ B_INTERVIEW, "kind", NULL, EVERR_MISSING_FIELD, "kind" },
	{ B_INTERVIEW, "kind", "\"home\"", EVERR_BAD_FIELD, "kind" },
	{ B_INDICATOR, "indicator", "\"cce_weapon\"", EVERR_NONE, "" },
	{ B_INDICATOR, "indicator", NULL, EVERR_MISSING_FIELD, "indicator" },
	{ B_INDICATOR, "indicator", "\"made_up\"", EVERR_UNKNOWN_INDICATOR,
	    "indicator" },
	{ B_INDICATOR, "indicator", "[\"cce_weapon\"]", EVERR_BAD_FIELD,
	    "indicator" },
	{ B_PLAN, "plan", "\"trigger_plan\"", EVERR_NONE, "" },
	{ B_PLAN, "plan", "\"strategy_discussion\"", EVERR_NONE, "" },
	{ B_PLAN, "plan", NULL, EVERR_MISSING_FIELD, "plan" },
	{ B_PLAN, "plan", "\"trigger\"", EVERR_BAD_FIELD, "plan" },
	/* location and reason */
	{ B_FLAGGED, "location", NULL, EVERR_MISSING_FIELD, "location" },
	{ B_FLAGGED, "location", "{}", EVERR_BAD_FIELD, "location" },
	{ B_FLAGGED, "location.postcode", "\"CR0 1AA\"", EVERR_NONE, "" },
	{ B_CLEARED, "location", "5", EVERR_BAD_FIELD, "location" },
	{ B_CLEARED, "location.address", "\"...\"", EVERR_BAD_FIELD,
	    "location.address" },
	{ B_FLAGGED, "reason", "\"exploitation_hotspot\"", EVERR_NONE, "" },
	{ B_FLAGGED, "reason", NULL, EVERR_MISSING_FIELD, "reason" },
	{ B_FLAGGED, "reason", "5", EVERR_BAD_FIELD, "reason" },
	{ B_CLEARED, "reason", NULL, EVERR_MISSING_FIELD, "reason" },
	{ B_CLEARED, "reason", "\"\"", EVERR_BAD_FIELD, "reason" }
};

START_TEST(test_field_table)
{
	const struct field_case	*c = &field_cases[_i];
	struct ev_err		 err;
	struct mevent		*ev;
	char			*line;

	line = mutate(bases[c->base], c->path, c->value);
	if (c->code == EVERR_NONE) {
		ev = ok(line);
		mevent_free(ev);
	} else {
		fails(line, c->code, c->field, &err);
		ck_assert_int_eq(err.has_id, strcmp(c->path, "id") != 0);
	}
	free(line);
}
END_TEST

START_TEST(test_interview_needs_child_or_episode)
{
	struct ev_err	 err;

	fails("{\"id\":\"E-5\",\"type\":\"interview.completed\"," AT
	    ",\"kind\":\"prevention\"}", EVERR_MISSING_FIELD, "child", &err);
	ck_assert_str_eq(err.message,
	    "give the child, or the episode it followed");
}
END_TEST

START_TEST(test_text_length_limits)
{
	struct ev_err	 err;
	struct mevent	*ev;
	char		*note, *line;

	note = long_string(4096, 'n');
	line = mutate(bases[B_UPDATED], "note", note);
	ev = ok(line);
	ck_assert_uint_eq(strlen(ev->note), 4096);
	mevent_free(ev);
	free(line);
	free(note);
	note = long_string(4097, 'n');
	line = mutate(bases[B_UPDATED], "note", note);
	fails(line, EVERR_BAD_FIELD, "note", &err);
	free(line);
	free(note);
}
END_TEST

START_TEST(test_name_length_limits)
{
	struct ev_err	 err;
	struct mevent	*ev;
	char		*s, *line;

	s = long_string(128, 'r');
	line = mutate(bases[B_FLAGGED], "reason", s);
	ev = ok(line);
	mevent_free(ev);
	free(line);
	free(s);
	s = long_string(129, 'r');
	line = mutate(bases[B_FLAGGED], "reason", s);
	fails(line, EVERR_BAD_FIELD, "reason", &err);
	free(line);
	free(s);
	s = long_string(513, 'a');
	line = mutate(bases[B_CLEARED], "location.address", s);
	fails(line, EVERR_BAD_FIELD, "location.address", &err);
	free(line);
	free(s);
}
END_TEST

/* A JSON array of n copies of the string item. */
static char *
repeat_array(size_t n, const char *item)
{
	size_t	 i, len = strlen(item) + 3;
	char	*s = malloc(n * len + 3), *p = s;

	ck_assert_ptr_nonnull(s);
	*p++ = '[';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"%s\"", i == 0 ? "" : ",", item);
	*p++ = ']';
	*p = '\0';
	return s;
}

START_TEST(test_array_length_limits)
{
	struct ev_err	 err;
	struct mevent	*ev;
	char		*arr, *line;

	arr = repeat_array(64, "cce_weapon");
	line = mutate(bases[B_REPORTED], "indicators", arr);
	ev = ok(line);
	ck_assert_uint_eq(ev->nindicators, 64);
	mevent_free(ev);
	free(line);
	free(arr);
	arr = repeat_array(65, "cce_weapon");
	line = mutate(bases[B_REPORTED], "indicators", arr);
	fails(line, EVERR_BAD_FIELD, "indicators", &err);
	free(line);
	free(arr);
	arr = repeat_array(65, "f");
	line = mutate(bases[B_REPORTED], "child.flags", arr);
	fails(line, EVERR_BAD_FIELD, "child.flags", &err);
	free(line);
	free(arr);
}
END_TEST

START_TEST(test_unknown_indicator_named)
{
	struct ev_err	 err;
	char		*line;

	line = mutate(bases[B_REPORTED], "indicators",
	    "[\"cce_weapon\",\"older_associates\"]");
	fails(line, EVERR_UNKNOWN_INDICATOR, "indicators[1]", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "\"older_associates\""));
	ck_assert_int_eq(err.has_id, 1);
	free(line);
}
END_TEST

START_TEST(test_indicators_without_catalogue)
{
	struct ev_err		 err;
	struct mevent		*ev;
	struct decode_opts	 none = { NULL, NULL };
	char			*line;

	line = mutate(bases[B_REPORTED], "indicators", "[\"anything-1.x\"]");
	ev = decode_event(line, strlen(line), NULL, &err);
	ck_assert_ptr_nonnull(ev);
	mevent_free(ev);
	ev = decode_event(line, strlen(line), &none, &err);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(ev->indicators[0], "anything-1.x");
	mevent_free(ev);
	free(line);
}
END_TEST

/* Counts calls, and knows only "cce_weapon". */
static int
known_counting(const char *id, void *arg)
{
	(*(int *)arg)++;
	return strcmp(id, "cce_weapon") == 0;
}

START_TEST(test_indicator_callback_arg)
{
	struct ev_err		 err;
	struct mevent		*ev;
	int			 calls = 0;
	struct decode_opts	 o = { known_counting, &calls };

	ev = decode_event(bases[B_REPORTED], strlen(bases[B_REPORTED]), &o,
	    &err);
	ck_assert_ptr_null(ev);
	ck_assert_int_eq(err.code, EVERR_UNKNOWN_INDICATOR);
	ck_assert_str_eq(err.field, "indicators[0]");
	ck_assert_int_eq(calls, 1);
}
END_TEST

/* ---- the stored body ---- */

/* The body is the line as received, byte for byte (spacing, key order). */
START_TEST(test_body_is_line)
{
	const char	*line = "  { \"outcome\" : \"caf\\u00e9\", "
	    "\"episode\":\"MP-1\",\n\"at\":\"2026-11-21T22:10:00Z\",\t"
	    "\"type\":\"episode.closed\",\"id\":\"E-4\" }  ";
	struct mevent	*ev;

	ev = ok(line);
	ck_assert_str_eq(ev->body, line);
	mevent_free(ev);
}
END_TEST

/* ---- location keys ---- */

/* The key of a location.flagged event at location (JSON text). */
static char *
key_of(const char *location)
{
	struct mevent	*ev;
	char		*line, *key;

	line = mutate(bases[B_FLAGGED], "location", location);
	ev = ok(line);
	key = strdup(ev->location.key);
	mevent_free(ev);
	free(line);
	return key;
}

static const struct key_case {
	const char	*location;
	const char	*key;
} key_cases[] = {
	{ "{\"uprn\":\"100021234567\"}", "uprn:100021234567" },
	{ "{\"uprn\":\"000123\"}", "uprn:123" },
	{ "{\"uprn\":\"0000\"}", "uprn:0" },
	{ "{\"uprn\":\"123\",\"postcode\":\"CR0 1AA\",\"address\":\"x\"}",
	    "uprn:123" },
	{ "{\"postcode\":\"CR0 1AA\",\"address\":\"12 High St\"}",
	    "addr:CR01AA|12 high st" },
	{ "{\"postcode\":\" cr0  1aa \",\"address\":\"  12, HIGH   St. \"}",
	    "addr:CR01AA|12 high st" },
	{ "{\"postcode\":\"CR01AA\",\"address\":\"12\\tHigh\\nSt\"}",
	    "addr:CR01AA|12 high st" },
	{ "{\"postcode\":\"CR0 1AA\",\"address\":\"St John's Road\"}",
	    "addr:CR01AA|st johns road" },
	{ "{\"postcode\":\"CR0 1AA\",\"address\":\"St John\\u2019s Road\"}",
	    "addr:CR01AA|st johns road" },
	{ "{\"postcode\":\"CR0 1AA\",\"address\":\"Flat 1,12 High St\"}",
	    "addr:CR01AA|flat 1 12 high st" },
	{ "{\"postcode\":\"CR0 1AA\",\"address\":\"12 Caf\\u00c9 Row\"}",
	    "addr:CR01AA|12 caf\xc3\x89 row" },
	{ "{\"postcode\":\"CR0 1AA\"}", "addr:CR01AA|" },
	{ "{\"address\":\"12 High St\"}", "addr:|12 high st" }
};

START_TEST(test_location_key_table)
{
	char	*key = key_of(key_cases[_i].location);

	ck_assert_str_eq(key, key_cases[_i].key);
	free(key);
}
END_TEST

START_TEST(test_location_key_case_and_punctuation_fold)
{
	char	*a, *b;

	a = key_of("{\"postcode\":\"se1 7pb\",\"address\":\"The Old Mill, "
	    "Mill-Lane\"}");
	b = key_of("{\"postcode\":\"SE17PB\",\"address\":\"the old mill mill "
	    "lane\"}");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}
END_TEST

/* ---- names, error plumbing, catalogue ---- */

START_TEST(test_error_names)
{
	static const char *const want[] = {
		"none", "bad_json", "line_too_long", "missing_field",
		"bad_field", "unknown_type", "unknown_episode",
		"unknown_indicator", "conflict", "unavailable"
	};
	int	 i;

	ck_assert_int_eq(NELEM(want), EVERR__COUNT);
	for (i = 0; i < EVERR__COUNT; i++)
		ck_assert_str_eq(ev_error_name((enum ev_error)i), want[i]);
	ck_assert_ptr_nonnull(ev_error_name(EVERR__COUNT));
}
END_TEST

START_TEST(test_enum_names)
{
	ck_assert_str_eq(event_type_name(EVT_EPISODE_REPORTED),
	    "episode.reported");
	ck_assert_str_eq(event_type_name(EVT_LOCATION_CLEARED),
	    "location.cleared");
	ck_assert_ptr_nonnull(event_type_name(EVT__COUNT));
	ck_assert_str_eq(category_name(CAT_ABSENT), "absent");
	ck_assert_ptr_null(category_name(CAT_UNSET));
	ck_assert_str_eq(risk_name(RISK_NO_APPARENT), "no_apparent_risk");
	ck_assert_str_eq(risk_name(RISK_HIGH), "high");
	ck_assert_ptr_null(risk_name(RISK_UNSET));
	ck_assert_str_eq(interview_kind_name(INTERVIEW_PREVENTION),
	    "prevention");
	ck_assert_ptr_null(interview_kind_name(INTERVIEW_UNSET));
	ck_assert_str_eq(plan_kind_name(PLAN_STRATEGY),
	    "strategy_discussion");
	ck_assert_ptr_null(plan_kind_name(PLAN_UNSET));
}
END_TEST

START_TEST(test_err_set_keeps_id)
{
	struct ev_err	 err;

	memset(&err, 0, sizeof err);
	err.has_id = 1;
	strcpy(err.id, "E-9");
	ev_err_set(&err, EVERR_CONFLICT, "", "id %s was sent before with "
	    "different content", "E-9");
	ck_assert_int_eq(err.code, EVERR_CONFLICT);
	ck_assert_int_eq(err.has_id, 1);
	ck_assert_str_eq(err.id, "E-9");
	ck_assert_str_eq(err.message,
	    "id E-9 was sent before with different content");
	ev_err_set(NULL, EVERR_CONFLICT, "", "nothing");
}
END_TEST

START_TEST(test_err_set_truncates_whole_characters)
{
	struct ev_err	 err;
	char		 text[1000];
	size_t		 i;

	for (i = 0; i + 2 < sizeof text; i += 2)
		memcpy(text + i, "\xc3\xa9", 2);
	text[i] = '\0';
	memset(&err, 0, sizeof err);
	ev_err_set(&err, EVERR_BAD_FIELD, text, "x%s", text);
	ck_assert(strlen(err.message) < sizeof err.message);
	ck_assert(utf8_valid(err.message));
	ck_assert(utf8_valid(err.field));
}
END_TEST

START_TEST(test_decode_without_err)
{
	struct mevent	*ev;

	ck_assert_ptr_null(decode_event("{", 1, &opts, NULL));
	ev = decode_event(bases[B_CLOSED], strlen(bases[B_CLOSED]), &opts,
	    NULL);
	ck_assert_ptr_nonnull(ev);
	mevent_free(ev);
	mevent_free(NULL);
}
END_TEST

START_TEST(test_catalogue_default)
{
	size_t	 i, j, n = catalogue_default_count();

	ck_assert_uint_eq(n, 23);
	ck_assert_str_eq(catalogue_default_id(0),
	    "missing_overnight_or_longer");
	ck_assert_str_eq(catalogue_default_id(n - 1), "returned_injured");
	ck_assert_ptr_null(catalogue_default_id(n));
	for (i = 0; i < n; i++) {
		ck_assert(catalogue_default_known(catalogue_default_id(i),
		    NULL));
		for (j = i + 1; j < n; j++)
			ck_assert_str_ne(catalogue_default_id(i),
			    catalogue_default_id(j));
	}
	ck_assert(!catalogue_default_known("cce_weapo", NULL));
	ck_assert(!catalogue_default_known("cce_weapon ", NULL));
	ck_assert(!catalogue_default_known("CCE_WEAPON", NULL));
	ck_assert(!catalogue_default_known("", NULL));
	ck_assert(!catalogue_default_known(NULL, NULL));
}
END_TEST

/* ---- robustness ---- */

/* A small deterministic generator for the mutation test. */
static uint32_t
rnd(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

START_TEST(test_mutated_lines_never_crash)
{
	struct ev_err	 err;
	struct mevent	*ev;
	uint32_t	 st = 20261121u;
	char		 buf[1024];
	size_t		 len, k;
	int		 i, n;

	for (i = 0; i < 4000; i++) {
		const char *b = bases[i % NELEM(bases)];

		len = strlen(b);
		memcpy(buf, b, len);
		n = 1 + rnd(&st) % 4;
		while (n-- > 0) {
			k = rnd(&st) % len;
			switch (rnd(&st) % 3) {
			case 0:
				buf[k] = (char)(rnd(&st) & 0xff);
				break;
			case 1:
				buf[k] = "{}[]\":,0a\\ n-"[rnd(&st) % 13];
				break;
			default:
				len = k + 1;
				break;
			}
		}
		ev = decode_event(buf, len, &opts, &err);
		if (ev == NULL) {
			ck_assert_int_ne(err.code, EVERR_NONE);
			ck_assert(utf8_valid(err.message));
		} else
			ck_assert_int_eq(err.code, EVERR_NONE);
		mevent_free(ev);
	}
}
END_TEST

/* Read a whole file into memory; NULL when it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 size;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == -1 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1 ||
	    (buf = malloc((size_t)size + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)size, f);
	fclose(f);
	return buf;
}

/* Decode one JSONTestSuite file and check the verdict its name asks for. */
static void
check_suite_file(const char *dir, const char *name)
{
	struct ev_err	 err;
	struct mevent	*ev;
	char		 path[2048 + 256 + 2], *buf;
	size_t		 len = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	buf = slurp(path, &len);
	ck_assert_msg(buf != NULL, "cannot read %s", path);
	ev = decode_event(buf, len, &opts, &err);
	if (name[0] == 'n')
		ck_assert_msg(ev == NULL && err.code == EVERR_BAD_JSON,
		    "%s: got %s", name, ev_error_name(err.code));
	else if (name[0] == 'y')
		ck_assert_msg(ev == NULL && err.code != EVERR_NONE,
		    "%s: decoded as an event", name);
	if (ev == NULL)
		ck_assert(utf8_valid(err.message));
	mevent_free(ev);
	free(buf);
}

START_TEST(test_json_test_suite)
{
	const char	*shared = getenv("MISPER_SHARED");
	char		 dir[2048];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if (shared == NULL) {
		printf("note: MISPER_SHARED not set; JSONTestSuite skipped\n");
		return;
	}
	snprintf(dir, sizeof dir,
	    "%s/conformance/JSONTestSuite/test_parsing", shared);
	if ((d = opendir(dir)) == NULL) {
		printf("note: %s not found; JSONTestSuite skipped\n", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strstr(de->d_name, ".json") == NULL)
			continue;
		check_suite_file(dir, de->d_name);
		n++;
	}
	closedir(d);
	ck_assert_int_gt(n, 0);
}
END_TEST

static Suite *
decode_suite(void)
{
	Suite	*s = suite_create("decode");
	TCase	*tc;

	tc = tcase_create("bad_json");
	tcase_add_test(tc, test_bad_json_syntax);
	tcase_add_test(tc, test_bad_json_empty_line);
	tcase_add_loop_test(tc, test_bad_json_not_object, 0,
	    NELEM(non_objects));
	tcase_add_test(tc, test_bad_json_duplicate_key);
	tcase_add_test(tc, test_bad_json_nul_byte);
	tcase_add_test(tc, test_bad_json_invalid_utf8);
	tcase_add_test(tc, test_bad_json_trailing_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("envelope");
	tcase_add_test(tc, test_id_carried_in_later_errors);
	tcase_add_test(tc, test_id_unreadable);
	tcase_add_test(tc, test_id_length_limit);
	tcase_add_test(tc, test_id_in_error_at_max_length);
	tcase_add_test(tc, test_unknown_type_named);
	tcase_add_test(tc, test_unknown_type_long_name_echo);
	tcase_add_test(tc, test_at_message_gives_example);
	tcase_add_test(tc, test_v_message);
	tcase_add_test(tc, test_enum_message_lists_values);
	tcase_add_test(tc, test_null_is_not_absent);
	suite_add_tcase(s, tc);

	tc = tcase_create("types");
	tcase_add_test(tc, test_type_episode_reported);
	tcase_add_test(tc, test_type_episode_reported_minimal);
	tcase_add_test(tc, test_type_episode_updated);
	tcase_add_test(tc, test_type_episode_found);
	tcase_add_test(tc, test_type_episode_closed);
	tcase_add_test(tc, test_type_interview_completed);
	tcase_add_test(tc, test_type_indicator_recorded);
	tcase_add_test(tc, test_type_plan_recorded);
	tcase_add_test(tc, test_type_location_flagged);
	tcase_add_test(tc, test_type_location_cleared);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_loop_test(tc, test_field_table, 0, NELEM(field_cases));
	tcase_add_test(tc, test_interview_needs_child_or_episode);
	tcase_add_test(tc, test_text_length_limits);
	tcase_add_test(tc, test_name_length_limits);
	tcase_add_test(tc, test_array_length_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("indicators");
	tcase_add_test(tc, test_unknown_indicator_named);
	tcase_add_test(tc, test_indicators_without_catalogue);
	tcase_add_test(tc, test_indicator_callback_arg);
	tcase_add_test(tc, test_catalogue_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_add_test(tc, test_body_is_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("location_key");
	tcase_add_loop_test(tc, test_location_key_table, 0, NELEM(key_cases));
	tcase_add_test(tc, test_location_key_case_and_punctuation_fold);
	suite_add_tcase(s, tc);

	tc = tcase_create("plumbing");
	tcase_add_test(tc, test_error_names);
	tcase_add_test(tc, test_enum_names);
	tcase_add_test(tc, test_err_set_keeps_id);
	tcase_add_test(tc, test_err_set_truncates_whole_characters);
	tcase_add_test(tc, test_decode_without_err);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mutated_lines_never_crash);
	tcase_add_test(tc, test_json_test_suite);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(decode_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
