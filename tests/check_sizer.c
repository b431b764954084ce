/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for sizer.c: the moving average that sizes the listener's
 * batches of lines and the daemon's rounds of deadlines to a time budget.
 * The figures are the ones the two use (50 ms between 16 and 1,024
 * lines from 200 us a line; 2.5 ms between 4 and 64 deadlines from 300 us
 * one), and every result is exact integer arithmetic.
 */
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "sizer.h"

START_TEST(test_init_sizes_to_the_budget)
{
	struct sizer	 sz;

	sizer_init(&sz, 50000, 200, 16, 1024);
	ck_assert_int_eq(sz.unit_us, 200);
	ck_assert_uint_eq(sz.size, 250);
	sizer_init(&sz, 2500, 300, 4, 64);
	ck_assert_uint_eq(sz.size, 8);
}
END_TEST

START_TEST(test_moves_an_eighth)
{
	struct sizer	 sz;

	sizer_init(&sz, 50000, 200, 16, 1024);
	/* 1,000 us a line: 200 + 800 / 8 */
	sizer_measure(&sz, 10, 10000);
	ck_assert_int_eq(sz.unit_us, 300);
	ck_assert_uint_eq(sz.size, 166);
	/* 100 us a line: 300 - 200 / 8 */
	sizer_measure(&sz, 100, 10000);
	ck_assert_int_eq(sz.unit_us, 275);
	ck_assert_uint_eq(sz.size, 181);
}
END_TEST

START_TEST(test_integer_division_truncates)
{
	struct sizer	 sz;

	sizer_init(&sz, 2500, 300, 4, 64);
	/* 2,999 us over 10 is 299 a deadline; (299 - 300) / 8 is 0 */
	sizer_measure(&sz, 10, 2999);
	ck_assert_int_eq(sz.unit_us, 300);
	/* 290 a deadline: (290 - 300) / 8 is -1, toward zero */
	sizer_measure(&sz, 1, 290);
	ck_assert_int_eq(sz.unit_us, 299);
	ck_assert_uint_eq(sz.size, 8);
}
END_TEST

START_TEST(test_clamps_to_the_minimum)
{
	struct sizer	 sz;
	int		 i;

	/* dear items (a busy machine, valgrind): never below the minimum */
	sizer_init(&sz, 50000, 200, 16, 1024);
	for (i = 0; i < 100; i++)
		sizer_measure(&sz, 16, 16 * 1000000LL);
	ck_assert_int_gt(sz.unit_us, 50000 / 16);
	ck_assert_uint_eq(sz.size, 16);
	sizer_init(&sz, 2500, 300, 4, 64);
	sizer_measure(&sz, 1, 100000);
	ck_assert_uint_eq(sz.size, 4);
}
END_TEST

START_TEST(test_clamps_to_the_maximum)
{
	struct sizer	 sz;
	int		 i;

	/*
	 * Free items: the size stops at the maximum.  (The average stops
	 * short of the cost by up to 7 us: an eighth of less than 8 is 0.)
	 */
	sizer_init(&sz, 50000, 200, 16, 1024);
	for (i = 0; i < 200; i++)
		sizer_measure(&sz, 1024, 0);
	ck_assert_int_eq(sz.unit_us, 7);
	ck_assert_uint_eq(sz.size, 1024);
	sizer_init(&sz, 2500, 300, 4, 64);
	for (i = 0; i < 200; i++)
		sizer_measure(&sz, 64, 64);
	ck_assert_int_eq(sz.unit_us, 8);
	ck_assert_uint_eq(sz.size, 64);
}
END_TEST

START_TEST(test_never_below_a_microsecond)
{
	struct sizer	 sz;

	/* a clock that went back gives a negative time: the floor holds */
	sizer_init(&sz, 50000, 2, 16, 1024);
	sizer_measure(&sz, 1, -1000000);
	ck_assert_int_eq(sz.unit_us, 1);
	ck_assert_uint_eq(sz.size, 1024);
}
END_TEST

START_TEST(test_settles_on_a_steady_cost)
{
	struct sizer	 sz;
	int		 i;

	/* 400 us a line, long enough: 50,000 / 400 lines a batch */
	sizer_init(&sz, 50000, 200, 16, 1024);
	for (i = 0; i < 100; i++)
		sizer_measure(&sz, sz.size, (int64_t)sz.size * 400);
	ck_assert_int_ge(sz.unit_us, 393);
	ck_assert_int_le(sz.unit_us, 400);
	ck_assert_uint_ge(sz.size, 125);
	ck_assert_uint_le(sz.size, 127);
}
END_TEST

static Suite *
sizer_suite(void)
{
	Suite	*s = suite_create("sizer");
	TCase	*tc = tcase_create("average");

	tcase_add_test(tc, test_init_sizes_to_the_budget);
	tcase_add_test(tc, test_moves_an_eighth);
	tcase_add_test(tc, test_integer_division_truncates);
	tcase_add_test(tc, test_clamps_to_the_minimum);
	tcase_add_test(tc, test_clamps_to_the_maximum);
	tcase_add_test(tc, test_never_below_a_microsecond);
	tcase_add_test(tc, test_settles_on_a_steady_cost);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(sizer_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
