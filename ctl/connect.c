/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Connecting misperctl to one of the daemon's sockets: a Unix stream
 * socket by path, or TCP by "host:port" / "[v6]:port".  The connect is
 * non-blocking with poll(), so a daemon that does not accept cannot hang
 * the tool past its timeout.  A failure is said once, naming the socket
 * and the option that chooses it, since "connection refused" alone does
 * not tell an operator what to fix.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Split "host:port" or "[v6]:port" into host and port (caller frees). */
static int
ctl_split_hostport(const char *spec, char **host, char **port)
{
	const char	*colon, *end;

	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL || end[1] != ':')
			return -1;
		*host = xstrndup(spec + 1, end - spec - 1);
		colon = end + 1;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL || colon == spec)
			return -1;
		*host = xstrndup(spec, colon - spec);
	}
	if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1)) {
		free(*host);
		return -1;
	}
	*port = xstrdup(colon + 1);
	return 0;
}

/* Wait for a non-blocking connect on fd; 0 or -1 with errno. */
static int
ctl_connect_wait(int fd, int64_t timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLOUT, 0 };
	int		 rc, err = 0;
	socklen_t	 len = sizeof err;

	do {
		rc = poll(&pfd, 1, (int)timeout_ms);
	} while (rc == -1 && errno == EINTR);
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (rc == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Connect fd to sa; leaves fd blocking again.  0 or -1 with errno. */
static int
ctl_connect_sa(int fd, const struct sockaddr *sa, socklen_t len,
    int64_t timeout_ms)
{
	int	 flags = fcntl(fd, F_GETFL);

	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -1;
	if (connect(fd, sa, len) == -1) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			return -1;
		if (ctl_connect_wait(fd, timeout_ms) == -1)
			return -1;
	}
	return fcntl(fd, F_SETFL, flags);
}

static int
ctl_connect_unix(const char *path, int64_t timeout_ms)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (ctl_connect_sa(fd, (struct sockaddr *)&sun, sizeof sun,
	    timeout_ms) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Connect to spec; -1 with *cause (a static string) or errno. */
static int
ctl_connect_tcp(const char *spec, int64_t timeout_ms, const char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	char		*host, *port;
	int		 fd = -1, rc, saved = ECONNREFUSED;

	*cause = NULL;
	if (ctl_split_hostport(spec, &host, &port) == -1) {
		*cause = "not host:port or [v6]:port";
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	free(host);
	free(port);
	if (rc != 0) {
		*cause = gai_strerror(rc);
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (ctl_connect_sa(fd, ai->ai_addr, ai->ai_addrlen,
		    timeout_ms) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = saved;
	return fd;
}

void
ctl_addr_describe(const struct ctl_addr *a, char *buf, size_t len)
{
	if (a->unix_path == NULL && a->tcp == NULL)
		snprintf(buf, len, "the %s socket (off)", a->what);
	else if (a->unix_path != NULL)
		snprintf(buf, len, "the %s socket %s", a->what, a->unix_path);
	else
		snprintf(buf, len, "the %s socket at %s", a->what, a->tcp);
}

int
ctl_connect(const struct ctl_addr *a, int64_t timeout_ms)
{
	const char	*cause = NULL;
	char		 desc[256];
	int		 fd;

	if (a->unix_path == NULL && a->tcp == NULL) {
		ctl_warnx("the daemon has no %s socket (%s turns it off)",
		    a->what, a->origin);
		return -1;
	}
	if (a->unix_path != NULL)
		fd = ctl_connect_unix(a->unix_path, timeout_ms);
	else
		fd = ctl_connect_tcp(a->tcp, timeout_ms, &cause);
	if (fd != -1)
		return fd;
	if (cause == NULL)
		cause = strerror(errno);
	ctl_addr_describe(a, desc, sizeof desc);
	ctl_warnx("cannot connect to %s (%s): %s", desc, a->origin, cause);
	ctl_warnx("check that misperd is running and where it listens "
	    "(%s %s, or -c with its misperd.yaml)", a->option,
	    a->unix_path != NULL ? "PATH" : "HOST:PORT");
	return -1;
}
