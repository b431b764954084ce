/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The subscriber stream's command lines (docs/protocol.md, "Subscriber
 * streams"), parsed into a struct and nothing more: no store, no rules,
 * no connection.  subscribe.c executes what this parses; the split lets
 * the parser be unit tested (tests/check_subcmd.c) and fuzzed
 * (tests/fuzz/fuzz_subcmd.c) on its own.
 *
 * The parse stops at the first fault, and keeps what it read before it:
 * subscribe.c answers some faults only after its own checks (the role,
 * an earlier route), exactly as the checks were ordered when they lived
 * in one function, so the replies and the audit rows stay the same.
 */
#ifndef MISPER_SUBCMD_H
#define MISPER_SUBCMD_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"

enum subcmd_kind {
	SUBCMD_UNKNOWN = 0,	/* not JSON, no "cmd", or another command */
	SUBCMD_SUBSCRIBE,
	SUBCMD_ACK
};

struct subcmd {
	enum subcmd_kind kind;
	/* subscribe: routes as sent, repeats once, in order */
	char		**routes;	/* strings; when "routes" is at fault,
					   those before the faulty entry */
	size_t		 nroutes;
	int		 has_name;
	char		 name[ACK_BY_MAX + 1];
	int64_t		 after;		/* 0 when not sent */
	/* ack: borrowed from the parsed line, valid until subcmd_free() */
	const char	*alert;		/* NULL: missing or not a string */
	const char	*by;
	const char	*note;		/* NULL: none */
	/*
	 * The first fault, or error NULL: the protocol's error token
	 * ("bad_json", "bad_command", "missing_field", "bad_field"), the
	 * member at fault (NULL: none) and a sentence for the client.
	 */
	const char	*error;
	const char	*field;
	char		*message;
	void		*json;		/* internal: the parsed line */
};

/* subcmd.c */
/*
 * Parse one command line of len bytes (no LF) into *c.  0 when it is a
 * well-formed command, -1 with c->error set.  Either way subcmd_free()
 * must follow.
 */
int		 subcmd_parse(const char *line, size_t len, struct subcmd *c);
/* The command's name in replies ("subscribe", "ack"), NULL if unknown. */
const char	*subcmd_name(enum subcmd_kind);
/* Free what c holds (not c).  Accepts a zeroed struct. */
void		 subcmd_free(struct subcmd *c);

#endif
