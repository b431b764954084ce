/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Time on the wire: strict RFC 3339 timestamps, YYYY-MM-DD dates, ages and
 * durations.  All parsing is by hand, digit by digit, so that no locale,
 * time zone or lenient libc parser (sscanf, strptime) can let junk through.
 * Calendar arithmetic is the proleptic Gregorian calendar, after Howard
 * Hinnant's days_from_civil / civil_from_days.
 */
#include <sys/time.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

#define MS_PER_SEC	1000LL
#define MS_PER_MIN	(60 * MS_PER_SEC)
#define MS_PER_HOUR	(60 * MS_PER_MIN)
#define MS_PER_DAY	(24 * MS_PER_HOUR)
#define YEAR_MIN	1900
#define YEAR_MAX	9999

/* A calendar date. */
struct ymd {
	int64_t		 y;
	int		 m;
	int		 d;
};

/* Floor division for a positive divisor. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t	 q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* The remainder that goes with floor_div: 0 <= r < b. */
static int64_t
floor_mod(int64_t a, int64_t b)
{
	int64_t	 r = a % b;

	return r < 0 ? r + b : r;
}

/* Is c an ASCII decimal digit? */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read exactly n digits at *sp into *v and advance; -1 if one is missing. */
static int
take_digits(const char **sp, int n, int *v)
{
	const char	*s = *sp;
	int		 i, r = 0;

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		r = r * 10 + (s[i] - '0');
	}
	*sp = s + n;
	*v = r;
	return 0;
}

/* Consume the single character c at *sp; -1 if something else is there. */
static int
take_char(const char **sp, char c)
{
	if (**sp != c)
		return -1;
	(*sp)++;
	return 0;
}

/* Is y a Gregorian leap year? */
static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m (1-12) of year y. */
static int
month_days(int64_t y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return days[m - 1];
}

/* Days since 1970-01-01 of a valid Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The Gregorian date of a day number (days since 1970-01-01). */
static struct ymd
civil_from_days(int64_t z)
{
	struct ymd	 r;
	int64_t		 era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	r.d = (int)(doy - (153 * mp + 2) / 5 + 1);
	r.m = (int)(mp < 10 ? mp + 3 : mp - 9);
	r.y = yoe + era * 400 + (r.m <= 2);
	return r;
}

/* Parse "YYYY-MM-DD" at *sp (a real date, years 1900-9999) and advance. */
static int
take_date(const char **sp, int64_t *days)
{
	int	 y, m, d;

	if (take_digits(sp, 4, &y) == -1 || take_char(sp, '-') == -1 ||
	    take_digits(sp, 2, &m) == -1 || take_char(sp, '-') == -1 ||
	    take_digits(sp, 2, &d) == -1)
		return -1;
	if (y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12 || d < 1 ||
	    d > month_days(y, m))
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

/* Parse "HH:MM:SS" at *sp into ms of the day (a leap second as :59). */
static int
take_time(const char **sp, int64_t *ms, int *leap)
{
	int	 h, m, s;

	if (take_digits(sp, 2, &h) == -1 || take_char(sp, ':') == -1 ||
	    take_digits(sp, 2, &m) == -1 || take_char(sp, ':') == -1 ||
	    take_digits(sp, 2, &s) == -1)
		return -1;
	if (h > 23 || m > 59 || s > 60)
		return -1;
	*leap = s == 60;
	if (*leap)
		s = 59;
	*ms = h * MS_PER_HOUR + m * MS_PER_MIN + s * MS_PER_SEC;
	return 0;
}

/* Parse an optional ".digits" at *sp: milliseconds, extra digits dropped. */
static int
take_fraction(const char **sp, int64_t *ms)
{
	const char	*s = *sp;
	int		 n;

	*ms = 0;
	if (*s != '.')
		return 0;
	s++;
	if (!is_digit(*s))
		return -1;
	for (n = 0; is_digit(*s); s++, n++)
		if (n < 3)
			*ms = *ms * 10 + (*s - '0');
	for (; n < 3; n++)
		*ms *= 10;
	*sp = s;
	return 0;
}

/* Parse "Z", "z" or "+HH:MM" / "-HH:MM" at *sp into an offset in ms. */
static int
take_offset(const char **sp, int64_t *off)
{
	int	 sign, h, m;

	if (**sp == 'Z' || **sp == 'z') {
		(*sp)++;
		*off = 0;
		return 0;
	}
	if (**sp != '+' && **sp != '-')
		return -1;
	sign = **sp == '-' ? -1 : 1;
	(*sp)++;
	if (take_digits(sp, 2, &h) == -1 || take_char(sp, ':') == -1 ||
	    take_digits(sp, 2, &m) == -1)
		return -1;
	if (h > 23 || m > 59)
		return -1;
	*off = sign * (h * MS_PER_HOUR + m * MS_PER_MIN);
	return 0;
}

/*
 * Parse an RFC 3339 date-time.  A leap second (:60) is accepted only where
 * one can fall, at 23:59:60 UTC once the offset is applied; it is folded
 * onto 23:59:59 (and keeps its fraction).
 */
int
time_parse_rfc3339(const char *s, int64_t *ms)
{
	int64_t	 days, tod, frac, off, t;
	int	 leap;

	if (s == NULL || take_date(&s, &days) == -1)
		return -1;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -1;
	s++;
	if (take_time(&s, &tod, &leap) == -1 ||
	    take_fraction(&s, &frac) == -1 || take_offset(&s, &off) == -1 ||
	    *s != '\0')
		return -1;
	t = days * MS_PER_DAY + tod + frac - off;
	if (leap && floor_mod(t, MS_PER_DAY) / MS_PER_SEC != 86399)
		return -1;
	*ms = t;
	return 0;
}

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ", without ".mmm" when whole. */
void
time_format_rfc3339(int64_t ms, char buf[TIME_RFC3339_LEN])
{
	struct ymd	 c;
	int64_t		 days, rem;
	int		 h, m, s, milli;

	days = floor_div(ms, MS_PER_DAY);
	rem = floor_mod(ms, MS_PER_DAY);
	c = civil_from_days(days);
	h = (int)(rem / MS_PER_HOUR);
	m = (int)(rem / MS_PER_MIN % 60);
	s = (int)(rem / MS_PER_SEC % 60);
	milli = (int)(rem % MS_PER_SEC);
	if (milli != 0)
		snprintf(buf, TIME_RFC3339_LEN,
		    "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    (long long)c.y, c.m, c.d, h, m, s, milli);
	else
		snprintf(buf, TIME_RFC3339_LEN,
		    "%04lld-%02d-%02dT%02d:%02d:%02dZ",
		    (long long)c.y, c.m, c.d, h, m, s);
}

/* Parse "YYYY-MM-DD", a real date in 1900-9999, into days since the epoch. */
int
time_parse_date(const char *s, int32_t *days)
{
	int64_t	 d;

	if (s == NULL || take_date(&s, &d) == -1 || *s != '\0')
		return -1;
	*days = (int32_t)d;
	return 0;
}

/*
 * Whole years from dob_days to the UTC date of at_ms.  Someone born on
 * 29 February has a birthday on 1 March in other years (as in English
 * law).  Returns -1 when at_ms is before the day of birth.
 */
int
time_age_years(int32_t dob_days, int64_t at_ms)
{
	struct ymd	 b, a;
	int64_t		 at_days, age;

	at_days = floor_div(at_ms, MS_PER_DAY);
	if (at_days < dob_days)
		return -1;
	b = civil_from_days(dob_days);
	a = civil_from_days(at_days);
	age = a.y - b.y;
	if (a.m < b.m || (a.m == b.m && a.d < b.d))
		age--;
	return (int)age;
}

/* Parse "<digits>[ms|s|m|h|d|w]"; a bare number means seconds. */
int
time_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char	*unit;
		int64_t		 ms;
	} units[] = {
		{ "", MS_PER_SEC }, { "ms", 1 }, { "s", MS_PER_SEC },
		{ "m", MS_PER_MIN }, { "h", MS_PER_HOUR }, { "d", MS_PER_DAY },
		{ "w", 7 * MS_PER_DAY }
	};
	int64_t	 v = 0;
	size_t	 i;

	if (s == NULL || !is_digit(*s))
		return -1;
	for (; is_digit(*s); s++) {
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(s, units[i].unit) != 0)
			continue;
		if (v > INT64_MAX / units[i].ms)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
}

/* Parse "HH:MM", 00:00 to 23:59. */
int
time_parse_time_of_day(const char *s, int64_t *ms)
{
	int	 h, m;

	if (s == NULL || !is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' ||
	    !is_digit(s[3]) || !is_digit(s[4]) || s[5] != '\0')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*ms = ((int64_t)h * 60 + m) * MS_PER_MIN;
	return 0;
}

/* Wall clock now, in ms since the epoch. */
int64_t
time_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * MS_PER_SEC + ts.tv_nsec / 1000000;
}

/* Monotonic clock, in microseconds. */
int64_t
time_mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ms as a timeval (timers, timeouts); below zero is zero. */
struct timeval
time_tv_ms(int64_t ms)
{
	struct timeval	 tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / MS_PER_SEC);
	tv.tv_usec = (suseconds_t)(ms % MS_PER_SEC * 1000);
	return tv;
}

/* us as a timeval; below zero is zero. */
struct timeval
time_tv_us(int64_t us)
{
	struct timeval	 tv;

	if (us < 0)
		us = 0;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}
