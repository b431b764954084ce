/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Corpus tests shared by the config and rules suites: every *.yaml file in
 * a good/ folder must load, and every one in a bad/ folder must be refused
 * with the error its first line names ("# expect: LINE:COL: text").
 */
#ifndef MISPER_TESTS_CORPUS_H
#define MISPER_TESTS_CORPUS_H

#include <stddef.h>

/* Load path: 0 when it loads (and is freed), -1 with *cause when refused. */
typedef int (*corpus_load_fn)(const char *path, char **cause);

/* Load text (named name): 0 when it loads (and is freed), -1 with *cause. */
typedef int (*corpus_text_fn)(const char *name, const char *text,
    char **cause);

/* The number of lines of s (a text without a final LF has one more). */
size_t	corpus_count_lines(const char *s);
/*
 * Assert text is refused with an error "name:where: ...msg..." on one of
 * the lines of the cause.
 */
void	corpus_expect_refused(corpus_text_fn load, const char *name,
	    const char *text, const char *where, const char *msg);
/* Does one line of cause start with prefix and contain text? */
int	corpus_has_error(const char *cause, const char *prefix,
	    const char *text);
/*
 * Check every file in dir (good: must load; else must fail as its expect
 * line says).  Returns the number of files; *bad gets the failures, each
 * explained on stderr.
 */
size_t	corpus_check(const char *dir, int good, corpus_load_fn load,
	    size_t *bad);

#endif
