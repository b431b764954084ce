/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Cutting UTF-8 text short without splitting a character.  Messages quote
 * outside input cut to a length; a cut inside a multi-byte sequence makes
 * the message invalid UTF-8, which jansson refuses to put in a reply.
 */
#ifndef MISPER_UTF8_H
#define MISPER_UTF8_H

#include <stddef.h>

/* utf8.c */
int	 utf8_prefix(const char *s, size_t max);
void	 utf8_trim(char *s);

#endif
