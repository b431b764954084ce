/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Acknowledging alerts (contract section 5): a person says who they are,
 * optionally why, and the alert is marked acknowledged once and for all.
 * Shared by the subscriber streams and, later, the HTTP API and the CLI,
 * so every channel answers the same way and records the same audit row.
 */
#ifndef MISPER_ACK_H
#define MISPER_ACK_H

#include <stdint.h>

#define ACK_BY_MAX	128	/* bytes of "by" (and of a subscriber name) */
#define ACK_NOTE_MAX	1024	/* bytes of "note" */
#define ACK_VIA_MAX	256	/* bytes of the channel recorded for audit */

struct store;

enum ack_status {
	ACK_ERROR = -1,		/* storage failed; nothing changed */
	ACK_OK = 0,		/* acknowledged now */
	ACK_UNKNOWN,		/* no alert has that id */
	ACK_ALREADY,		/* acknowledged before; nothing changed */
	ACK_BAD_BY,		/* "by" is not a usable name */
	ACK_BAD_NOTE		/* "note" is too long */
};

struct ack_outcome {
	int64_t		 seq;			/* the alert's seq; 0 if unknown */
	int64_t		 at_ms;			/* when (now, or the earlier ack) */
	char		 by[ACK_BY_MAX + 1];	/* who (now, or the earlier ack) */
};

/* ack.c */
/* 1 if s is a usable name: 1-128 bytes, no control character, trimmed. */
int		 ack_name_ok(const char *s);
/*
 * Acknowledge alert id (e.g. "A-17") by whom, with note (NULL: none), at
 * now_ms, in its own transaction; via names the channel for the acks row
 * ("stream:mpu-desk-1@unix"), actor who sent it for the audit trail
 * (audit.h; NULL: via).  Fills out on ACK_OK and ACK_ALREADY.
 */
enum ack_status	 ack_alert(struct store *, const char *id, const char *by,
		     const char *note, const char *via, const char *actor,
		     int64_t now_ms, struct ack_outcome *out);
/* The protocol's error token for a status ("unknown_alert", ...). */
const char	*ack_error_token(enum ack_status);

#endif
