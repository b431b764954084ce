/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for timeutil.c: RFC 3339 parsing and formatting, dates,
 * ages, durations and timevals.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "timeutil.h"

#define DAY_MS	86400000LL

/* A timestamp and what it should parse to. */
static const struct rfc_case {
	const char	*s;
	int		 ok;
	int64_t		 ms;
} rfc_cases[] = {
	{ "2026-11-21T22:10:00Z", 1, 1795299000000LL },
	{ "2026-11-21T22:10:00.123+01:00", 1, 1795295400123LL },
	{ "2026-11-21T22:10:00.123-05:30", 1, 1795318800123LL },
	{ "2026-11-21T22:10:00-00:00", 1, 1795299000000LL },
	{ "2026-11-21t22:10:00z", 1, 1795299000000LL },
	{ "2026-11-21 22:10:00Z", 1, 1795299000000LL },
	{ "2026-11-21T22:10:00.1Z", 1, 1795299000100LL },
	{ "2026-11-21T22:10:00.1239999Z", 1, 1795299000123LL },
	{ "2026-11-21T22:10:00.000000000000000000001Z", 1, 1795299000000LL },
	{ "2024-02-29T00:00:00Z", 1, 1709164800000LL },
	{ "2000-02-29T12:00:00Z", 1, 951825600000LL },
	{ "2016-12-31T23:59:60Z", 1, 1483228799000LL },
	{ "2016-12-31T23:59:60.5Z", 1, 1483228799500LL },
	{ "2017-01-01T00:59:60+01:00", 1, 1483228799000LL },
	{ "1900-01-01T00:00:00Z", 1, -2208988800000LL },
	{ "9999-12-31T23:59:59.999Z", 1, 253402300799999LL },
	{ "1970-01-01T00:00:00+23:59", 1, -86340000LL },
	{ "", 0, 0 },
	{ "2026-02-30T00:00:00Z", 0, 0 },
	{ "2026-04-31T00:00:00Z", 0, 0 },
	{ "2023-02-29T00:00:00Z", 0, 0 },
	{ "1900-02-29T00:00:00Z", 0, 0 },
	{ "2100-02-29T00:00:00Z", 0, 0 },
	{ "2026-13-01T00:00:00Z", 0, 0 },
	{ "2026-00-10T00:00:00Z", 0, 0 },
	{ "2026-01-00T00:00:00Z", 0, 0 },
	{ "2026-11-21T24:00:00Z", 0, 0 },
	{ "2026-11-21T23:60:00Z", 0, 0 },
	{ "2026-11-21T22:10:61Z", 0, 0 },
	{ "2016-12-31T12:00:60Z", 0, 0 },
	{ "2016-12-31T23:59:60+01:00", 0, 0 },
	{ "2026-11-21T22:10:00", 0, 0 },
	{ "2026-11-21T22:10Z", 0, 0 },
	{ "2026-11-21", 0, 0 },
	{ "2026-11-21T22:10:00.Z", 0, 0 },
	{ "2026-11-21T22:10:00,5Z", 0, 0 },
	{ "2026-11-21T22:10:00+0100", 0, 0 },
	{ "2026-11-21T22:10:00+01", 0, 0 },
	{ "2026-11-21T22:10:00+24:00", 0, 0 },
	{ "2026-11-21T22:10:00+01:60", 0, 0 },
	{ "2026-11-21T22:10:00+01:00:00", 0, 0 },
	{ "2026-11-21T22:10:00ZZ", 0, 0 },
	{ "2026-11-21T22:10:00 Z", 0, 0 },
	{ "2026-11-21T22:10:00Z ", 0, 0 },
	{ " 2026-11-21T22:10:00Z", 0, 0 },
	{ "+2026-11-21T22:10:00Z", 0, 0 },
	{ "26-11-21T22:10:00Z", 0, 0 },
	{ "2026-1-21T22:10:00Z", 0, 0 },
	{ "2026/11/21T22:10:00Z", 0, 0 },
	{ "2026-11-21X22:10:00Z", 0, 0 },
	{ "2026-11-21T-2:10:00Z", 0, 0 },
	{ "2026-11-21T2:10:00Z", 0, 0 },
	{ "1899-12-31T23:59:59Z", 0, 0 },
	{ "10000-01-01T00:00:00Z", 0, 0 },
	{ "2026-11-21T22:10:00UTC", 0, 0 },
	{ "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-11-21T22:10:00Z", 0,
	    0 }
};

START_TEST(test_rfc3339_table)
{
	const struct rfc_case	*c = &rfc_cases[_i];
	int64_t			 ms = 42;
	int			 r;

	r = time_parse_rfc3339(c->s, &ms);
	if (c->ok) {
		ck_assert_msg(r == 0, "\"%s\" should parse", c->s);
		ck_assert_msg(ms == c->ms, "\"%s\": got %lld, want %lld",
		    c->s, (long long)ms, (long long)c->ms);
	} else {
		ck_assert_msg(r == -1, "\"%s\" should be refused", c->s);
		ck_assert_int_eq(ms, 42);
	}
}
END_TEST

START_TEST(test_rfc3339_null)
{
	int64_t	 ms;

	ck_assert_int_eq(time_parse_rfc3339(NULL, &ms), -1);
}
END_TEST

START_TEST(test_format_exact)
{
	char	 buf[TIME_RFC3339_LEN];

	time_format_rfc3339(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	time_format_rfc3339(1234, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:01.234Z");
	time_format_rfc3339(-1, buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
	time_format_rfc3339(1795299000000LL, buf);
	ck_assert_str_eq(buf, "2026-11-21T22:10:00Z");
	time_format_rfc3339(1709164800007LL, buf);
	ck_assert_str_eq(buf, "2024-02-29T00:00:00.007Z");
}
END_TEST

static const int64_t round_trip_ms[] = {
	0, 1, 999, 1000, -1, -1000, -1001, 1700000000123LL, 951825600000LL,
	-2208988800000LL, 253402300799999LL, 1709164800000LL - 1
};

START_TEST(test_format_round_trip)
{
	char	 buf[TIME_RFC3339_LEN];
	int64_t	 back = 0;

	time_format_rfc3339(round_trip_ms[_i], buf);
	ck_assert_msg(time_parse_rfc3339(buf, &back) == 0, "%s", buf);
	ck_assert_int_eq(back, round_trip_ms[_i]);
}
END_TEST

START_TEST(test_format_extremes)
{
	char	 buf[TIME_RFC3339_LEN];

	time_format_rfc3339(INT64_MAX, buf);
	ck_assert(strlen(buf) < TIME_RFC3339_LEN);
	time_format_rfc3339(INT64_MIN, buf);
	ck_assert(strlen(buf) < TIME_RFC3339_LEN);
}
END_TEST

/* A date and what it should parse to. */
static const struct date_case {
	const char	*s;
	int		 ok;
	int32_t		 days;
} date_cases[] = {
	{ "1970-01-01", 1, 0 },
	{ "1969-12-31", 1, -1 },
	{ "2011-03-02", 1, 15035 },
	{ "2024-02-29", 1, 19782 },
	{ "2000-02-29", 1, 11016 },
	{ "2023-02-29", 0, 0 },
	{ "1900-02-29", 0, 0 },
	{ "2026-02-30", 0, 0 },
	{ "2026-06-31", 0, 0 },
	{ "2026-13-01", 0, 0 },
	{ "2026-00-01", 0, 0 },
	{ "2026-01-00", 0, 0 },
	{ "2011-3-2", 0, 0 },
	{ "2011-03-02T00:00:00Z", 0, 0 },
	{ "2011-03-02 ", 0, 0 },
	{ " 2011-03-02", 0, 0 },
	{ "20110302", 0, 0 },
	{ "02/03/2011", 0, 0 },
	{ "1899-12-31", 0, 0 },
	{ "", 0, 0 }
};

START_TEST(test_date_table)
{
	const struct date_case	*c = &date_cases[_i];
	int32_t			 days = 42;
	int			 r;

	r = time_parse_date(c->s, &days);
	if (c->ok) {
		ck_assert_msg(r == 0, "\"%s\" should parse", c->s);
		ck_assert_int_eq(days, c->days);
	} else {
		ck_assert_msg(r == -1, "\"%s\" should be refused", c->s);
		ck_assert_int_eq(days, 42);
	}
}
END_TEST

START_TEST(test_date_null)
{
	int32_t	 days;

	ck_assert_int_eq(time_parse_date(NULL, &days), -1);
}
END_TEST

/* Milliseconds of a timestamp that must parse. */
static int64_t
at(const char *s)
{
	int64_t	 ms = 0;

	ck_assert_msg(time_parse_rfc3339(s, &ms) == 0, "%s", s);
	return ms;
}

/* Days of a date that must parse. */
static int32_t
day(const char *s)
{
	int32_t	 d = 0;

	ck_assert_msg(time_parse_date(s, &d) == 0, "%s", s);
	return d;
}

START_TEST(test_age_birthday_edges)
{
	int32_t	 dob = day("2011-03-02");

	ck_assert_int_eq(time_age_years(dob, at("2024-03-01T23:59:59.999Z")),
	    12);
	ck_assert_int_eq(time_age_years(dob, at("2024-03-02T00:00:00Z")), 13);
	ck_assert_int_eq(time_age_years(dob, at("2011-03-02T00:00:00Z")), 0);
	ck_assert_int_eq(time_age_years(dob, at("2012-03-01T12:00:00Z")), 0);
}
END_TEST

START_TEST(test_age_leap_day_birthday)
{
	int32_t	 dob = day("2012-02-29");

	ck_assert_int_eq(time_age_years(dob, at("2025-02-28T23:00:00Z")), 12);
	ck_assert_int_eq(time_age_years(dob, at("2025-03-01T00:00:00Z")), 13);
	ck_assert_int_eq(time_age_years(dob, at("2024-02-28T00:00:00Z")), 11);
	ck_assert_int_eq(time_age_years(dob, at("2024-02-29T00:00:00Z")), 12);
}
END_TEST

START_TEST(test_age_uses_utc_date)
{
	int32_t	 dob = day("2011-03-02");

	/* 00:30 local at +01:00 is still 1 March in UTC. */
	ck_assert_int_eq(time_age_years(dob, at("2024-03-02T00:30:00+01:00")),
	    12);
}
END_TEST

START_TEST(test_age_before_birth)
{
	int32_t	 dob = day("2011-03-02");

	ck_assert_int_eq(time_age_years(dob, at("2011-03-01T23:59:59Z")), -1);
}
END_TEST

/* A duration and what it should parse to. */
static const struct dur_case {
	const char	*s;
	int		 ok;
	int64_t		 ms;
} dur_cases[] = {
	{ "72h", 1, 72 * 3600000LL },
	{ "90d", 1, 90 * DAY_MS },
	{ "500ms", 1, 500 },
	{ "30", 1, 30000 },
	{ "30s", 1, 30000 },
	{ "5m", 1, 300000 },
	{ "2w", 1, 14 * DAY_MS },
	{ "0", 1, 0 },
	{ "007s", 1, 7000 },
	{ "9223372036854775807ms", 1, INT64_MAX },
	{ "106751991167d", 1, 106751991167LL * DAY_MS },
	{ "9223372036854775808ms", 0, 0 },
	{ "106751991168d", 0, 0 },
	{ "9223372036854776", 0, 0 },
	{ "99999999999999999999999999s", 0, 0 },
	{ "", 0, 0 },
	{ "h", 0, 0 },
	{ "ms", 0, 0 },
	{ "-5s", 0, 0 },
	{ "+5s", 0, 0 },
	{ " 5s", 0, 0 },
	{ "5 s", 0, 0 },
	{ "5s ", 0, 0 },
	{ "5x", 0, 0 },
	{ "5hh", 0, 0 },
	{ "5sm", 0, 0 },
	{ "5.5h", 0, 0 },
	{ "5H", 0, 0 },
	{ "0x10", 0, 0 },
	{ "1e3", 0, 0 }
};

START_TEST(test_duration_table)
{
	const struct dur_case	*c = &dur_cases[_i];
	int64_t			 ms = 42;
	int			 r;

	r = time_parse_duration(c->s, &ms);
	if (c->ok) {
		ck_assert_msg(r == 0, "\"%s\" should parse", c->s);
		ck_assert_int_eq(ms, c->ms);
	} else {
		ck_assert_msg(r == -1, "\"%s\" should be refused", c->s);
		ck_assert_int_eq(ms, 42);
	}
}
END_TEST

START_TEST(test_duration_null)
{
	int64_t	 ms;

	ck_assert_int_eq(time_parse_duration(NULL, &ms), -1);
}
END_TEST

START_TEST(test_clocks)
{
	int64_t	 a, b;

	ck_assert(time_now_ms() > at("2024-01-01T00:00:00Z"));
	a = time_mono_us();
	b = time_mono_us();
	ck_assert(b >= a);
}
END_TEST

/* Durations to timevals: whole seconds, the remainder, and below zero. */
static const struct tv_case {
	int64_t		 in;
	long		 sec;
	long		 usec;
} tv_ms_cases[] = {
	{ 0, 0, 0 }, { 1, 0, 1000 }, { 999, 0, 999000 }, { 1000, 1, 0 },
	{ 1001, 1, 1000 }, { 20, 0, 20000 }, { 86400000, 86400, 0 },
	{ 90061001, 90061, 1000 }, { -1, 0, 0 }, { -1500, 0, 0 },
}, tv_us_cases[] = {
	{ 0, 0, 0 }, { 1, 0, 1 }, { 999999, 0, 999999 }, { 1000000, 1, 0 },
	{ 2500001, 2, 500001 }, { -1, 0, 0 },
};

START_TEST(test_tv_ms)
{
	const struct tv_case	*c = &tv_ms_cases[_i];
	struct timeval		 tv = time_tv_ms(c->in);

	ck_assert_msg(tv.tv_sec == c->sec && tv.tv_usec == c->usec,
	    "%lld ms: got %ld s %ld us", (long long)c->in, (long)tv.tv_sec,
	    (long)tv.tv_usec);
}
END_TEST

START_TEST(test_tv_us)
{
	const struct tv_case	*c = &tv_us_cases[_i];
	struct timeval		 tv = time_tv_us(c->in);

	ck_assert_msg(tv.tv_sec == c->sec && tv.tv_usec == c->usec,
	    "%lld us: got %ld s %ld us", (long long)c->in, (long)tv.tv_sec,
	    (long)tv.tv_usec);
}
END_TEST

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

static Suite *
timeutil_suite(void)
{
	Suite	*s = suite_create("timeutil");
	TCase	*tc;

	tc = tcase_create("rfc3339");
	tcase_add_loop_test(tc, test_rfc3339_table, 0, NELEM(rfc_cases));
	tcase_add_test(tc, test_rfc3339_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format_exact);
	tcase_add_loop_test(tc, test_format_round_trip, 0,
	    NELEM(round_trip_ms));
	tcase_add_test(tc, test_format_extremes);
	suite_add_tcase(s, tc);

	tc = tcase_create("date");
	tcase_add_loop_test(tc, test_date_table, 0, NELEM(date_cases));
	tcase_add_test(tc, test_date_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("age");
	tcase_add_test(tc, test_age_birthday_edges);
	tcase_add_test(tc, test_age_leap_day_birthday);
	tcase_add_test(tc, test_age_uses_utc_date);
	tcase_add_test(tc, test_age_before_birth);
	suite_add_tcase(s, tc);

	tc = tcase_create("duration");
	tcase_add_loop_test(tc, test_duration_table, 0, NELEM(dur_cases));
	tcase_add_test(tc, test_duration_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("clock");
	tcase_add_test(tc, test_clocks);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeval");
	tcase_add_loop_test(tc, test_tv_ms, 0, NELEM(tv_ms_cases));
	tcase_add_loop_test(tc, test_tv_us, 0, NELEM(tv_us_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(timeutil_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
