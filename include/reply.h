/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reply lines of contract section 3, built with jansson.  Each returns a
 * newly allocated compact JSON text without a trailing LF; caller frees.
 */
#ifndef MISPER_REPLY_H
#define MISPER_REPLY_H

#include <stdint.h>

#include <jansson.h>

#include "decode.h"

/* reply.c */
/* alerts: a JSON array of alert ids (borrowed; NULL for []). brief: an
   object or NULL (borrowed). */
char	*reply_ok(const char *id, int64_t seq, int duplicate, json_t *alerts,
	    json_t *brief);
char	*reply_error(const struct ev_err *);

#endif
