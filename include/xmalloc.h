/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Allocation that cannot fail: out of memory is fatal, so callers never
 * check for NULL.  Sizes are checked for overflow.
 */
#ifndef MISPER_XMALLOC_H
#define MISPER_XMALLOC_H

#include <stddef.h>

#include "log.h"

/* xmalloc.c */
void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
int	 xasprintf(char **ret, const char *fmt, ...) printflike(2, 3);

#endif
