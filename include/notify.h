/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The systemd notify protocol, spoken directly: one datagram to the socket
 * named by $NOTIFY_SOCKET.  No libsystemd dependency.  Without
 * $NOTIFY_SOCKET every call is a no-op.
 */
#ifndef MISPER_NOTIFY_H
#define MISPER_NOTIFY_H

/* notify.c */
/* Send state ("READY=1", "STOPPING=1", ...); 0 sent or nothing to do, -1 error. */
int	notify_send(const char *state);

#endif
