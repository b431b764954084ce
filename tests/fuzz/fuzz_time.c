/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * libFuzzer target for the time parsers: one input, made a C string, is
 * given to time_parse_rfc3339(), time_parse_date() and
 * time_parse_duration().  An accepted timestamp is formatted again and
 * must parse back to the same instant.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

/* 1900-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in ms */
#define TIME_MIN_MS	(-2208988800000LL)
#define TIME_MAX_MS	(253402300800000LL)

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(1, LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, buf[TIME_RFC3339_LEN];
	int64_t	 ms, again;
	int32_t	 days;

	if (size > 4096)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* only instants whose UTC year is 1900-9999 can be parsed back */
	if (time_parse_rfc3339(s, &ms) == 0 && ms >= TIME_MIN_MS &&
	    ms < TIME_MAX_MS) {
		time_format_rfc3339(ms, buf);
		if (time_parse_rfc3339(buf, &again) != 0 || again != ms)
			abort();	/* format and parse disagree */
	}
	(void)time_parse_date(s, &days);
	(void)time_parse_duration(s, &ms);
	free(s);
	return 0;
}
