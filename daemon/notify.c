/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * sd_notify(3) without libsystemd: the protocol is one datagram of
 * "KEY=value" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a leading '@' means the abstract namespace).  Like lldpd's notifier.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* Tell the service manager about state; a no-op outside systemd. */
int
notify_send(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path;
	size_t			 len;
	socklen_t		 salen;
	int			 fd, rc = -1;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof sun.sun_path) {
		log_warnx("notify", "NOTIFY_SOCKET is not a usable socket "
		    "path; not telling systemd '%s'", state);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		goto done;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, salen) == (ssize_t)strlen(state))
		rc = 0;
done:
	if (rc == -1)
		log_warn("notify", "cannot tell systemd '%s'", state);
	if (fd != -1)
		close(fd);
	return rc;
}
