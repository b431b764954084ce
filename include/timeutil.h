/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Time on the wire and in the store.  Event times are RFC 3339 timestamps
 * with an offset or Z; internally they are milliseconds since the Unix
 * epoch (UTC).  Dates of birth are plain YYYY-MM-DD.
 */
#ifndef MISPER_TIMEUTIL_H
#define MISPER_TIMEUTIL_H

#include <sys/time.h>

#include <stdint.h>

#define TIME_RFC3339_LEN 32	/* room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and NUL */

/* timeutil.c */
/*
 * Parse an RFC 3339 date-time ("2026-11-21T22:10:00Z",
 * "2026-11-21T22:10:00.123+01:00").  Strict: exactly the RFC's grammar,
 * 'T' or 't' or ' ' as separator, 'Z' or 'z' or +hh:mm/-hh:mm, fractional
 * seconds of any length (kept to milliseconds, truncated), real calendar
 * dates (leap years), hour 00-23, minute 00-59, second 00-60 (a leap second
 * is folded onto :59).  Years 1900-9999.  Returns 0 and sets *ms, or -1.
 */
int	 time_parse_rfc3339(const char *s, int64_t *ms);
/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (or without .mmm when whole). */
void	 time_format_rfc3339(int64_t ms, char buf[TIME_RFC3339_LEN]);
/* Parse "YYYY-MM-DD" (real calendar date). 0 and days since epoch, or -1. */
int	 time_parse_date(const char *s, int32_t *days);
/* Age in whole years at time ms of someone born on day dob (days since epoch). */
int	 time_age_years(int32_t dob_days, int64_t at_ms);
/*
 * Parse a duration: an integer followed by one unit, "ms", "s", "m", "h",
 * "d" or "w" ("72h", "90d", "500ms"), or a bare integer meaning seconds.
 * No signs, no spaces, no overflow.  0 and *ms, or -1.
 */
int	 time_parse_duration(const char *s, int64_t *ms);
/*
 * Parse a time of day "HH:MM" (00:00 to 23:59, two digits each).  0 and
 * *ms since midnight, or -1.
 */
int	 time_parse_time_of_day(const char *s, int64_t *ms);
/* Wall clock now, in ms since the epoch. */
int64_t	 time_now_ms(void);
/* Monotonic clock, in microseconds, for latency measurement. */
int64_t	 time_mono_us(void);
/*
 * A duration in milliseconds (or microseconds) as libevent's timeval; a
 * negative one is zero, so that a timer due in the past fires at once.
 */
struct timeval time_tv_ms(int64_t ms);
struct timeval time_tv_us(int64_t us);

#endif
