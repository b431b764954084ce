/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Allocation wrappers that treat out-of-memory as fatal and check size
 * arithmetic for overflow, after tmux's xmalloc.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* malloc or die; a zero size is a bug. */
void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		fatalx("xmalloc", "zero-size allocation");
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc", "allocating %zu bytes", size);
	return p;
}

/* calloc or die. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xcalloc", "zero-size allocation");
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc", "allocating %zu * %zu bytes", nmemb, size);
	return p;
}

/* realloc of nmemb * size, checked for overflow, or die. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xreallocarray", "zero-size allocation");
	if (nmemb > SIZE_MAX / size)
		fatalx("xreallocarray", "%zu * %zu overflows", nmemb, size);
	if ((p = realloc(ptr, nmemb * size)) == NULL)
		fatal("xreallocarray", "allocating %zu * %zu bytes", nmemb,
		    size);
	return p;
}

/* strdup or die. */
char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup", "copying a string");
	return p;
}

/* strndup or die. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		fatal("xstrndup", "copying a string");
	return p;
}

/* asprintf or die; returns the length. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("xasprintf", "formatting a string");
	return n;
}
