/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/* Cutting UTF-8 text short on a character boundary (include/utf8.h). */

#include <string.h>

#include "utf8.h"

/* Is c a continuation byte (10xxxxxx)? */
static int
utf8_is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/*
 * The length of the longest prefix of s of at most max bytes that ends on
 * a character boundary: a precision for "%.*s".
 */
int
utf8_prefix(const char *s, size_t max)
{
	size_t	 n = strnlen(s, max + 1);

	if (n <= max)
		return (int)n;
	/* s[max] is the first byte left out: back up to a character start */
	n = max;
	while (n > 0 && utf8_is_cont((unsigned char)s[n]))
		n--;
	return (int)n;
}

/* Cut a trailing UTF-8 sequence that truncation left incomplete. */
void
utf8_trim(char *s)
{
	size_t		 len = strlen(s), i = len, need;
	unsigned char	 c;

	while (i > 0 && len - i < 4 && utf8_is_cont((unsigned char)s[i - 1]))
		i--;
	if (i == 0) {
		s[0] = '\0';
		return;
	}
	c = (unsigned char)s[i - 1];
	if (c < 0x80)
		return;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (len - (i - 1) < need)
		s[i - 1] = '\0';
}
