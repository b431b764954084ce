/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for the subscriber command parser (subcmd.c): good subscribe
 * and ack lines and what they hold, and bad lines with the error token,
 * the field and the message each is answered with (docs/protocol.md,
 * "Subscriber streams").
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subcmd.h"
#include "utf8.h"

/* Parse a C string line into *c; the parser's result. */
static int
parse(const char *line, struct subcmd *c)
{
	return subcmd_parse(line, strlen(line), c);
}

/* line is refused with error and field (NULL: none), message holding msg. */
static void
refused(const char *line, enum subcmd_kind kind, const char *error,
    const char *field, const char *msg)
{
	struct subcmd	 c;

	ck_assert_int_eq(parse(line, &c), -1);
	ck_assert_int_eq(c.kind, kind);
	ck_assert_str_eq(c.error, error);
	if (field == NULL)
		ck_assert_ptr_null(c.field);
	else
		ck_assert_str_eq(c.field, field);
	ck_assert_msg(strstr(c.message, msg) != NULL, "%s: message '%s' "
	    "lacks '%s'", line, c.message, msg);
	subcmd_free(&c);
}

START_TEST(test_subscribe_good)
{
	struct subcmd	 c;

	ck_assert_int_eq(parse("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\","
	    "\"cse_team\",\"mpu\"],\"name\":\"mpu-desk-1\",\"after\":17}", &c),
	    0);
	ck_assert_int_eq(c.kind, SUBCMD_SUBSCRIBE);
	ck_assert_str_eq(subcmd_name(c.kind), "subscribe");
	ck_assert_ptr_null(c.error);
	/* repeats count once, in the order sent */
	ck_assert_uint_eq(c.nroutes, 2);
	ck_assert_str_eq(c.routes[0], "mpu");
	ck_assert_str_eq(c.routes[1], "cse_team");
	ck_assert_int_eq(c.has_name, 1);
	ck_assert_str_eq(c.name, "mpu-desk-1");
	ck_assert_int_eq(c.after, 17);
	subcmd_free(&c);

	ck_assert_int_eq(parse("{\"routes\":[\"mpu\"],\"cmd\":\"subscribe\"}",
	    &c), 0);
	ck_assert_uint_eq(c.nroutes, 1);
	ck_assert_int_eq(c.has_name, 0);
	ck_assert_int_eq(c.after, 0);
	subcmd_free(&c);
}
END_TEST

START_TEST(test_ack_good)
{
	struct subcmd	 c;

	ck_assert_int_eq(parse("{\"cmd\":\"ack\",\"alert\":\"A-17\",\"by\":"
	    "\"PS 1234 Smith\",\"note\":\"meeting booked\"}", &c), 0);
	ck_assert_int_eq(c.kind, SUBCMD_ACK);
	ck_assert_str_eq(subcmd_name(c.kind), "ack");
	ck_assert_str_eq(c.alert, "A-17");
	ck_assert_str_eq(c.by, "PS 1234 Smith");
	ck_assert_str_eq(c.note, "meeting booked");
	subcmd_free(&c);

	/* by and note are judged by ack.c, not here */
	ck_assert_int_eq(parse("{\"cmd\":\"ack\",\"alert\":\"A-1\",\"by\":\"\"}",
	    &c), 0);
	ck_assert_str_eq(c.by, "");
	ck_assert_ptr_null(c.note);
	subcmd_free(&c);
}
END_TEST

START_TEST(test_not_a_command)
{
	refused("", SUBCMD_UNKNOWN, "bad_json", NULL, "");
	refused("{\"cmd\":\"ack\"", SUBCMD_UNKNOWN, "bad_json", NULL, "");
	refused("[\"subscribe\"]", SUBCMD_UNKNOWN, "bad_json", NULL,
	    "a command is a JSON object");
	refused("{\"cmd\":\"ack\",\"cmd\":\"ack\"}", SUBCMD_UNKNOWN, "bad_json",
	    NULL, "duplicate");
	refused("{\"routes\":[\"mpu\"]}", SUBCMD_UNKNOWN, "bad_command", "cmd",
	    "every line needs \"cmd\"");
	refused("{\"cmd\":17}", SUBCMD_UNKNOWN, "bad_command", "cmd",
	    "every line needs \"cmd\"");
	refused("{\"cmd\":\"unsubscribe\"}", SUBCMD_UNKNOWN, "bad_command",
	    "cmd", "unknown command 'unsubscribe'");
	ck_assert_ptr_null(subcmd_name(SUBCMD_UNKNOWN));
}
END_TEST

START_TEST(test_subscribe_bad)
{
	struct subcmd	 c;

	refused("{\"cmd\":\"subscribe\"}", SUBCMD_SUBSCRIBE, "missing_field",
	    "routes", "non-empty array");
	refused("{\"cmd\":\"subscribe\",\"routes\":[]}", SUBCMD_SUBSCRIBE,
	    "bad_field", "routes", "non-empty array");
	refused("{\"cmd\":\"subscribe\",\"routes\":\"mpu\"}", SUBCMD_SUBSCRIBE,
	    "bad_field", "routes", "non-empty array");
	refused("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\"],\"name\":\" x\"}",
	    SUBCMD_SUBSCRIBE, "bad_field", "name", "1-128 bytes");
	refused("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\"],\"name\":7}",
	    SUBCMD_SUBSCRIBE, "bad_field", "name", "1-128 bytes");
	refused("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\"],\"after\":-1}",
	    SUBCMD_SUBSCRIBE, "bad_field", "after", "alert seq");
	refused("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\"],\"after\":\"1\"}",
	    SUBCMD_SUBSCRIBE, "bad_field", "after", "alert seq");

	/* the routes before a bad entry are kept, to be checked first */
	ck_assert_int_eq(parse("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\","
	    "\"mpu\",5,\"cse\"]}", &c), -1);
	ck_assert_str_eq(c.error, "bad_field");
	ck_assert_str_eq(c.message, "routes[2] is not a string");
	ck_assert_uint_eq(c.nroutes, 1);
	ck_assert_str_eq(c.routes[0], "mpu");
	subcmd_free(&c);

	/* a bad name comes before the routes: none are kept */
	ck_assert_int_eq(parse("{\"cmd\":\"subscribe\",\"routes\":[\"mpu\"],"
	    "\"name\":\"\"}", &c), -1);
	ck_assert_uint_eq(c.nroutes, 0);
	subcmd_free(&c);
}
END_TEST

START_TEST(test_ack_bad)
{
	struct subcmd	 c;

	refused("{\"cmd\":\"ack\",\"by\":\"PS 1\"}", SUBCMD_ACK,
	    "missing_field", "alert", "alert must be a string");
	refused("{\"cmd\":\"ack\",\"alert\":17,\"by\":\"PS 1\"}", SUBCMD_ACK,
	    "bad_field", "alert", "alert must be a string");
	refused("{\"cmd\":\"ack\",\"alert\":\"A-1\",\"by\":null}", SUBCMD_ACK,
	    "bad_field", "by", "by must be a string");

	/* alert is named in the reply even when by is at fault */
	ck_assert_int_eq(parse("{\"cmd\":\"ack\",\"alert\":\"A-1\"}", &c), -1);
	ck_assert_str_eq(c.error, "missing_field");
	ck_assert_str_eq(c.alert, "A-1");
	ck_assert_ptr_null(c.by);
	subcmd_free(&c);

	/* a bad note is found with alert and by read (checked after roles) */
	ck_assert_int_eq(parse("{\"cmd\":\"ack\",\"alert\":\"A-1\",\"by\":"
	    "\"PS 1\",\"note\":5}", &c), -1);
	ck_assert_str_eq(c.error, "bad_field");
	ck_assert_str_eq(c.field, "note");
	ck_assert_str_eq(c.by, "PS 1");
	ck_assert_msg(strstr(c.message, "leave it out") != NULL, "%s",
	    c.message);
	subcmd_free(&c);
}
END_TEST

START_TEST(test_free_zeroed)
{
	struct subcmd	 c;

	memset(&c, 0, sizeof c);
	subcmd_free(&c);
	ck_assert_int_eq(parse("{\"cmd\":\"ack\"}", &c), -1);
	subcmd_free(&c);
	subcmd_free(&c);	/* zeroed by the first */
}
END_TEST

/* A long name is cut on a character boundary, so the message stays UTF-8. */
START_TEST(test_long_name_cut_whole)
{
	char		 line[400], name[200];
	struct subcmd	 c;
	size_t		 n;

	memset(name, 'x', 127);
	strcpy(name + 127, "\xc3\xa9tail");	/* U+00E9 across byte 128 */
	snprintf(line, sizeof line, "{\"cmd\":\"%s\"}", name);
	ck_assert_int_eq(parse(line, &c), -1);
	ck_assert_str_eq(c.error, "bad_command");
	n = strlen(c.message);
	ck_assert_ptr_nonnull(strstr(c.message, "xxx'"));
	ck_assert_ptr_null(strchr(c.message, '\xc3'));
	ck_assert_uint_gt(n, 127);
	subcmd_free(&c);

	ck_assert_int_eq(utf8_prefix("abc", 5), 3);
	ck_assert_int_eq(utf8_prefix("abc", 3), 3);
	ck_assert_int_eq(utf8_prefix("ab\xc3\xa9", 3), 2);
	ck_assert_int_eq(utf8_prefix("ab\xc3\xa9", 4), 4);
	ck_assert_int_eq(utf8_prefix("a\xe2\x82\xac", 3), 1);
	ck_assert_int_eq(utf8_prefix("a\xf0\x9f\x98\x80z", 5), 5);
	ck_assert_int_eq(utf8_prefix("a\xf0\x9f\x98\x80z", 4), 1);
	ck_assert_int_eq(utf8_prefix("", 0), 0);
}
END_TEST

static Suite *
subcmd_suite(void)
{
	Suite	*s = suite_create("subcmd");
	TCase	*tc = tcase_create("subcmd");

	tcase_add_test(tc, test_subscribe_good);
	tcase_add_test(tc, test_ack_good);
	tcase_add_test(tc, test_not_a_command);
	tcase_add_test(tc, test_subscribe_bad);
	tcase_add_test(tc, test_ack_bad);
	tcase_add_test(tc, test_free_zeroed);
	tcase_add_test(tc, test_long_name_cut_whole);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(subcmd_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
