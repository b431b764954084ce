/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Opening the listening sockets, shared by the event intake and the alert
 * streams so both refuse the same things the same way: a socket file in
 * use by a live process, a path too long for sockaddr_un, and a TCP
 * listener without TLS whose address turns out not to be loopback (data
 * about children must not cross a network in clear).  The configuration
 * refuses such listeners already (config.c); the check here is on the
 * address a name actually resolved to.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "sockets.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SOCK_BACKLOG	128
#define SOCK_PAUSE_MS	250	/* not accepting after accept() failed */
#define SOCK_PAUSE_LOG_MS 10000	/* at most one warning this often */

/*
 * libevent leaves a listener enabled when accept() fails with EMFILE,
 * ENFILE, ENOBUFS or ENOMEM.  The connection still waiting keeps the
 * socket readable, so the loop would call accept() again at once, for
 * ever: full CPU and a warning per turn (tens of MB of log a second, seen
 * in tests/integration/test_faults.py).  Instead the listener rests for
 * SOCK_PAUSE_MS, waiting connections stay in the backlog until descriptors
 * are free again, and the warning is said once per SOCK_PAUSE_LOG_MS with
 * a count.
 */
struct sock_pause {
	const char		 *what;
	struct event		 *timer;
	struct evconnlistener	**paused;
	size_t			  npaused;
	uint64_t		  failures;	/* not yet logged */
	int64_t			  logged_ms;	/* monotonic; 0: never */
};

/* The pause is over: accept again. */
static void
sock_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sock_pause	*p = arg;
	size_t			 i;

	for (i = 0; i < p->npaused; i++)
		evconnlistener_enable(p->paused[i]);
	p->npaused = 0;
}

/* Is a Unix socket at path answered by a live process? */
static int
sock_unix_in_use(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	return rc == 0;
}

/* Check what is at path: nothing, or a stale socket (removed).  0 or -1. */
static int
sock_unix_clear(const char *what, const char *path, char **cause)
{
	struct stat	 st;

	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		xasprintf(cause, "%s.unix: %s exists and is not a socket; "
		    "remove it or choose another path", what, path);
		return -1;
	}
	if (sock_unix_in_use(path)) {
		xasprintf(cause, "%s.unix: %s is in use by a running process "
		    "(another misperd?)", what, path);
		return -1;
	}
	unlink(path);	/* stale, from a crash */
	return 0;
}

/* Give the bound socket file its group and mode.  0 or -1. */
static int
sock_unix_perms(const char *what, const char *path, mode_t mode,
    const char *group, char **cause)
{
	struct group	*gr;

	if (group != NULL && group[0] != '\0') {
		if ((gr = getgrnam(group)) == NULL ||
		    chown(path, (uid_t)-1, gr->gr_gid) == -1) {
			xasprintf(cause, "%s.unix_group: cannot give %s to "
			    "group %s: %s", what, path, group,
			    gr == NULL ? "no such group" : strerror(errno));
			return -1;
		}
	}
	if (chmod(path, mode) == -1) {
		xasprintf(cause, "%s.unix: chmod %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Describe an address for the logs. */
void
sock_describe(const struct sockaddr *sa, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		snprintf(buf, len, "tcp:%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		snprintf(buf, len, "tcp:[%s]:%u", host,
		    ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "unix");
}

/* Describe the peer of fd, with its credentials on a Unix socket. */
void
sock_describe_peer(int fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
#ifdef SO_PEERCRED
	struct ucred		 cred;
	socklen_t		 credlen = sizeof cred;
	size_t			 n;
#endif

	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(buf, len, "unknown");
		return;
	}
	sock_describe((struct sockaddr *)&ss, buf, len);
#ifdef SO_PEERCRED
	/* the kernel's word on who connected: the audit's actor */
	if (ss.ss_family == AF_UNIX && getsockopt(fd, SOL_SOCKET, SO_PEERCRED,
	    &cred, &credlen) == 0 && (n = strlen(buf)) < len)
		snprintf(buf + n, len - n, ":pid=%ld,uid=%lu", (long)cred.pid,
		    (unsigned long)cred.uid);
#endif
}

/* Bind, set group and mode, listen on a Unix socket. */
struct evconnlistener *
sock_listen_unix(struct event_base *base, const char *what, const char *path,
    mode_t mode, const char *group, evconnlistener_cb cb, void *arg,
    char **cause)
{
	struct sockaddr_un	 sun;
	struct evconnlistener	*el;
	int			 fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "%s.unix: path %s is too long for a Unix "
		    "socket (%zu bytes at most)", what, path,
		    sizeof sun.sun_path - 1);
		return NULL;
	}
	if (sock_unix_clear(what, path, cause) == -1)
		return NULL;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		xasprintf(cause, "%s.unix: cannot bind %s: %s", what, path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (sock_unix_perms(what, path, mode, group, cause) == -1)
		goto fail;
	el = evconnlistener_new(base, cb, arg,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, SOCK_BACKLOG, fd);
	if (el == NULL) {
		xasprintf(cause, "%s.unix: cannot listen on %s", what, path);
		goto fail;
	}
	return el;
fail:
	close(fd);
	unlink(path);
	return NULL;
}

/*
 * Split "host:port" or "[v6]:port" into host and port (in buf).  Returns 0
 * or -1.
 */
static int
sock_split(const char *spec, char *host, size_t hostlen, const char **port)
{
	const char	*colon, *end;
	size_t		 n;

	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - spec - 1);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, spec + 1, n);
		host[n] = '\0';
		*port = end + 2;
		return 0;
	}
	if ((colon = strrchr(spec, ':')) == NULL)
		return -1;
	n = (size_t)(colon - spec);
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

/* Is this a loopback address? */
static int
sock_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return 0;
}

/* Bind and listen on one TCP address. */
struct evconnlistener *
sock_listen_tcp(struct event_base *base, const char *what, const char *spec,
    int remote_ok, evconnlistener_cb cb, void *arg, char *where,
    size_t wherelen, char **cause)
{
	struct addrinfo		 hints, *res;
	struct evconnlistener	*el;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	char			 host[256];
	const char		*port;
	int			 rc;

	if (sock_split(spec, host, sizeof host, &port) == -1) {
		xasprintf(cause, "%s.tcp: %s is not host:port or "
		    "[address]:port", what, spec);
		return NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		xasprintf(cause, "%s.tcp: %s: %s", what, spec,
		    gai_strerror(rc));
		return NULL;
	}
	if (!remote_ok && !sock_is_loopback(res->ai_addr)) {
		sock_describe(res->ai_addr, host, sizeof host);
		xasprintf(cause, "%s.tcp: %s is %s, not a loopback address, "
		    "and data about children must not cross a network in "
		    "clear: listen on 127.0.0.1 or ::1, or use TLS (tls: in "
		    "misperd.yaml(5))", what, spec, host);
		freeaddrinfo(res);
		return NULL;
	}
	el = evconnlistener_new_bind(base, cb, arg, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, SOCK_BACKLOG,
	    res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (el == NULL) {
		xasprintf(cause, "%s.tcp: cannot listen on %s: %s", what, spec,
		    strerror(errno));
		return NULL;
	}
	/* with port 0 the kernel chose one: say which */
	if (getsockname(evconnlistener_get_fd(el), (struct sockaddr *)&ss,
	    &sslen) == 0)
		sock_describe((struct sockaddr *)&ss, where, wherelen);
	else
		snprintf(where, wherelen, "tcp:%s", spec);
	return el;
}

/* Take the next line out of in; see sockets.h. */
enum sock_line
sock_read_line(struct evbuffer *in, size_t max, int eof, int *skipping,
    char **linep, size_t *lenp)
{
	size_t			 len, have = evbuffer_get_length(in);
	struct evbuffer_ptr	 p;
	char			*line;

	while (*skipping) {
		p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			evbuffer_drain(in, have);
			return SOCK_LINE_NONE;
		}
		evbuffer_drain(in, p.pos + 1);
		*skipping = 0;
		have = evbuffer_get_length(in);
	}
	p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (p.pos == -1) {
		if (have > max + 1) {
			evbuffer_drain(in, have);
			*skipping = 1;
			return SOCK_LINE_TOO_LONG;
		}
		if (!eof || have == 0)
			return SOCK_LINE_NONE;
		len = have;
	} else
		len = (size_t)p.pos;
	line = xmalloc(len + 1);
	evbuffer_remove(in, line, len);
	line[len] = '\0';
	if (p.pos != -1)
		evbuffer_drain(in, 1);
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len > max) {
		free(line);
		return SOCK_LINE_TOO_LONG;
	}
	*linep = line;
	*lenp = len;
	return SOCK_LINE_OK;
}

/* A pause for the listeners of one module ("listen", "subscribers"). */
struct sock_pause *
sock_pause_new(struct event_base *base, const char *what)
{
	struct sock_pause	*p;

	p = xcalloc(1, sizeof *p);
	p->what = what;
	if ((p->timer = evtimer_new(base, sock_pause_cb, p)) == NULL)
		fatalx("sockets", "out of memory");
	return p;
}

/* accept() failed on el (errno tells why): rest it, and say so. */
void
sock_pause_accept(struct sock_pause *p, struct evconnlistener *el)
{
	struct timeval	 tv = time_tv_ms(SOCK_PAUSE_MS);
	int64_t		 now = time_mono_us() / 1000;
	int		 err = EVUTIL_SOCKET_ERROR();
	size_t		 i;

	p->failures++;
	if (p->logged_ms == 0 || now - p->logged_ms >= SOCK_PAUSE_LOG_MS) {
		log_warnx(p->what, "accept: %s; not accepting for %d ms at a "
		    "time while it lasts (%llu time%s since the last warning); "
		    "raise the open-file limit (LimitNOFILE=) or lower the "
		    "connection limits", evutil_socket_error_to_string(err),
		    SOCK_PAUSE_MS, (unsigned long long)p->failures,
		    p->failures == 1 ? "" : "s");
		p->logged_ms = now;
		p->failures = 0;
	}
	evconnlistener_disable(el);
	for (i = 0; i < p->npaused; i++)
		if (p->paused[i] == el)
			break;
	if (i == p->npaused) {
		p->paused = xreallocarray(p->paused, p->npaused + 1,
		    sizeof *p->paused);
		p->paused[p->npaused++] = el;
	}
	if (!evtimer_pending(p->timer, NULL))
		evtimer_add(p->timer, &tv);
}

/* The listeners are about to be freed: forget them. */
void
sock_pause_forget(struct sock_pause *p)
{
	if (p == NULL)
		return;
	evtimer_del(p->timer);
	p->npaused = 0;
}

/* Accepts NULL. */
void
sock_pause_free(struct sock_pause *p)
{
	if (p == NULL)
		return;
	event_free(p->timer);
	free(p->paused);
	free(p);
}
