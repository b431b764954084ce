/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for ratelimit.c: the token bucket behind
 * limits.max_events_per_second.  The clock is the test's, so every
 * figure is exact.
 */
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "ratelimit.h"

#define SEC	1000000LL	/* microseconds */

/* Take tokens while there are any at now; how many were taken. */
static unsigned
drain(struct ratelimit *rl, int64_t now)
{
	unsigned	 n = 0;

	while (ratelimit_ready(rl, now)) {
		ratelimit_take(rl);
		if (++n > 10000000)
			break;		/* an "off" bucket never empties */
	}
	return n;
}

START_TEST(test_starts_full_with_the_burst)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 1000, 1000, 5 * SEC);
	ck_assert_uint_eq(drain(&rl, 5 * SEC), 1000);
	ck_assert(!ratelimit_ready(&rl, 5 * SEC));
}
END_TEST

START_TEST(test_refills_at_the_rate)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 1000, 1000, 0);
	drain(&rl, 0);
	/* one token a millisecond */
	ck_assert(!ratelimit_ready(&rl, 999));
	ck_assert(ratelimit_ready(&rl, 1000));
	ck_assert_uint_eq(drain(&rl, 250 * 1000), 250);
}
END_TEST

START_TEST(test_fractions_are_kept)
{
	struct ratelimit	 rl;
	int64_t			 t;
	unsigned		 n = 0;

	/* 3 a second, asked every 100 ms: 0.3 a step, 3 over a second */
	ratelimit_init(&rl, 3, 3, 0);
	drain(&rl, 0);
	for (t = 100000; t <= SEC; t += 100000)
		n += drain(&rl, t);
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_never_more_than_the_burst)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 1000, 50, 0);
	drain(&rl, 0);
	/* an hour quiet earns a burst, not 3.6 million */
	ck_assert_uint_eq(drain(&rl, 3600 * SEC), 50);
	/* and a very long spell does not overflow */
	ck_assert_uint_eq(drain(&rl, INT64_MAX / 2), 50);
}
END_TEST

START_TEST(test_long_run_average)
{
	struct ratelimit	 rl;
	int64_t			 t;
	unsigned		 n = 0;

	/* ten seconds at 1000/s with a burst of 1000: 1000 + 10 * 1000 */
	ratelimit_init(&rl, 1000, 1000, 0);
	for (t = 0; t <= 10 * SEC; t += 7919)	/* an awkward step */
		n += drain(&rl, t);
	ck_assert_uint_le(n, 11000);
	ck_assert_uint_ge(n, 10990);
}
END_TEST

START_TEST(test_wait)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 1000, 1000, 0);
	ck_assert_int_eq(ratelimit_wait_us(&rl, 10), 0);
	drain(&rl, 0);
	ck_assert_int_eq(ratelimit_wait_us(&rl, 1), 1000);
	ck_assert_int_eq(ratelimit_wait_us(&rl, 100), 100000);
	/* more than the burst waits for a full bucket only */
	ck_assert_int_eq(ratelimit_wait_us(&rl, 5000), SEC);
	ck_assert(ratelimit_ready(&rl, 100000));
	ck_assert_uint_eq(drain(&rl, 100000), 100);

	/* 3 a second: a token every 333,333.3 us, rounded up */
	ratelimit_init(&rl, 3, 3, 0);
	drain(&rl, 0);
	ck_assert_int_eq(ratelimit_wait_us(&rl, 1), 333334);
	ck_assert(!ratelimit_ready(&rl, 333333));
	ck_assert(ratelimit_ready(&rl, 333334));
}
END_TEST

START_TEST(test_off)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 0, 0, 0);
	ck_assert(ratelimit_ready(&rl, 0));
	ratelimit_take(&rl);
	ck_assert(ratelimit_ready(&rl, 0));
	ck_assert_int_eq(ratelimit_wait_us(&rl, 1000000), 0);
}
END_TEST

START_TEST(test_zero_burst_is_one)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 10, 0, 0);
	ck_assert_uint_eq(drain(&rl, 0), 1);
	ck_assert_uint_eq(drain(&rl, SEC), 1);
}
END_TEST

START_TEST(test_clock_going_back)
{
	struct ratelimit	 rl;

	ratelimit_init(&rl, 1000, 10, 10 * SEC);
	drain(&rl, 10 * SEC);
	ck_assert(!ratelimit_ready(&rl, 9 * SEC));
	/* and nothing is owed for the time it went back */
	ck_assert(ratelimit_ready(&rl, 10 * SEC + 1000));
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite	*s = suite_create("ratelimit");
	TCase	*tc = tcase_create("bucket");

	tcase_add_test(tc, test_starts_full_with_the_burst);
	tcase_add_test(tc, test_refills_at_the_rate);
	tcase_add_test(tc, test_fractions_are_kept);
	tcase_add_test(tc, test_never_more_than_the_burst);
	tcase_add_test(tc, test_long_run_average);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_zero_burst_is_one);
	tcase_add_test(tc, test_clock_going_back);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(ratelimit_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
