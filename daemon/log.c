/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Logging, after OpenBSD's log.c: stderr in the foreground, syslog when
 * daemonized.  log_warn() appends strerror(errno) and leaves errno as it
 * found it.  The only file-scope state is where messages go and the level.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int		log_stderr = 1;
static enum log_level	log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

static void	log_vwrite(enum log_level, const char *, int, const char *,
		    va_list) printflike(4, 0);

/* Write one message at level, with an optional errno text. */
static void
log_vwrite(enum log_level level, const char *sub, int errnum,
    const char *fmt, va_list ap)
{
	char		 msg[2048], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_stderr) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		if (errnum != 0)
			fprintf(stderr, "%s.%03ldZ %s %s: %s: %s\n", stamp,
			    ts.tv_nsec / 1000000, level_names[level], sub, msg,
			    strerror(errnum));
		else
			fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp,
			    ts.tv_nsec / 1000000, level_names[level], sub, msg);
		fflush(stderr);
	} else if (errnum != 0)
		syslog(syslog_prio[level], "%s: %s: %s", sub, msg,
		    strerror(errnum));
	else
		syslog(syslog_prio[level], "%s: %s", sub, msg);
}

/* Start logging to stderr, or to syslog as "misperd". */
void
log_init(int to_stderr, enum log_level level)
{
	log_stderr = to_stderr;
	log_max = level;
	if (!to_stderr)
		openlog("misperd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Change the level, e.g. after reading the config. */
void
log_set_level(enum log_level level)
{
	log_max = level;
}

/* Parse a level name; 0 on success, -1 if unknown. */
int
log_level_parse(const char *name, enum log_level *level)
{
	size_t	 i;

	for (i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* A warning with strerror(errno) appended; errno is preserved. */
void
log_warn(const char *sub, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARN, sub, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A warning. */
void
log_warnx(const char *sub, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARN, sub, 0, fmt, ap);
	va_end(ap);
}

/* An informational message. */
void
log_info(const char *sub, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_INFO, sub, 0, fmt, ap);
	va_end(ap);
}

/* A debugging message. */
void
log_debug(const char *sub, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_DEBUG, sub, 0, fmt, ap);
	va_end(ap);
}

/* Log an error with strerror(errno) and exit. */
void
fatal(const char *sub, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, sub, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log an error and exit. */
void
fatalx(const char *sub, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, sub, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
