/*
 * Copyright (c) 2026 The misperd authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * One logging API for the whole daemon, after OpenBSD's log.c.  Every
 * message carries a subsystem token ("store", "listen", ...) so output can
 * be filtered.  Messages go to stderr in the foreground and to syslog
 * otherwise.  At info level nothing beyond ids is logged about a child.
 */
#ifndef MISPER_LOG_H
#define MISPER_LOG_H

#include <stdarg.h>

#define printflike(a, b) __attribute__((format(printf, a, b)))
#define __dead __attribute__((noreturn))

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* log.c */
void	log_init(int to_stderr, enum log_level level);
void	log_set_level(enum log_level level);
int	log_level_parse(const char *name, enum log_level *level);
void	log_warn(const char *sub, const char *fmt, ...) printflike(2, 3);
void	log_warnx(const char *sub, const char *fmt, ...) printflike(2, 3);
void	log_info(const char *sub, const char *fmt, ...) printflike(2, 3);
void	log_debug(const char *sub, const char *fmt, ...) printflike(2, 3);
__dead void fatal(const char *sub, const char *fmt, ...) printflike(2, 3);
__dead void fatalx(const char *sub, const char *fmt, ...) printflike(2, 3);

#endif
