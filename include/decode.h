/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Decoding and validating one NDJSON line into a struct mevent, with the
 * error codes and field names of contract section 3.
 */
#ifndef MISPER_DECODE_H
#define MISPER_DECODE_H

#include <stddef.h>

#include "event.h"

enum ev_error {
	EVERR_NONE = 0,
	EVERR_BAD_JSON,
	EVERR_LINE_TOO_LONG,
	EVERR_MISSING_FIELD,
	EVERR_BAD_FIELD,
	EVERR_UNKNOWN_TYPE,
	EVERR_UNKNOWN_EPISODE,
	EVERR_UNKNOWN_INDICATOR,
	EVERR_CONFLICT,
	EVERR_UNAVAILABLE,
	EVERR__COUNT
};

#define EVENT_ID_MAX	128

/* Why a line was refused.  All strings are NUL-terminated, possibly empty. */
struct ev_err {
	enum ev_error	 code;
	int		 has_id;		/* 0: reply "id": null */
	char		 id[EVENT_ID_MAX + 1];
	char		 field[96];		/* "" when no single field */
	char		 message[320];		/* a sentence a person can act on */
};

/*
 * Says whether an indicator id is defined by the loaded rules.  A NULL
 * callback accepts every well-formed id.
 */
typedef int (*indicator_known_fn)(const char *id, void *arg);

struct decode_opts {
	indicator_known_fn	 indicator_known;
	void			*arg;
};

/* decode.c */
const char	*ev_error_name(enum ev_error);
void		 ev_err_set(struct ev_err *, enum ev_error, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Decode one line (without its LF; a trailing CR already removed) of len
 * bytes.  On success returns a new event (caller frees with mevent_free)
 * and leaves err->code EVERR_NONE.  On failure returns NULL and fills err,
 * including the event id when it could be read.
 */
struct mevent	*decode_event(const char *line, size_t len,
		     const struct decode_opts *opts, struct ev_err *err);

#endif
