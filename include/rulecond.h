/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Inside the rules loader: what rules.c (the file, the catalogue, the
 * rules) and rulecond.c (conditions and typed values) share.  Not for the
 * engine, which reads only the structures of rules.h.
 */
#ifndef MISPER_RULECOND_H
#define MISPER_RULECOND_H

#include <stdint.h>
#include <stdio.h>

#include "rules.h"
#include "yamlload.h"

#define RULES_ID_MAX	64	/* longest id of a rule, route, group ... */
#define RULES_TEXT_MAX	1024	/* longest label, description, summary */

/* One load: its errors, and the rules built so far (owned). */
struct rules_load {
	struct yl_errors	 errs;
	struct rules		*rs;
};

/* Where a condition is written, which decides the tests it may use. */
enum cond_ctx {
	CCTX_EVENT = 0x1,	/* when, after, expect: the event, its episode
				   and its child */
	CCTX_EPISODE = 0x2,	/* a repeat rule's episodes: one earlier
				   episode on its own, and the child */
	CCTX_CHILD = 0x4	/* a score rule's factors: the child */
};

/* rulecond.c */
/*
 * Read the condition at node (the value of key, for messages) for ctx.
 * Errors are recorded; returns the condition (caller frees), or NULL when
 * there were errors in it.
 */
struct cond	*rules_cond_read(struct rules_load *, const struct yl_node *,
		     enum cond_ctx, const char *key);
void		 rules_cond_free(struct cond *);
/*
 * Write c's canonical form to f, for digests: lists sorted, combinations
 * in a fixed order, and the catalogue entries (id, weight, group) that
 * tests on weights or groups depend on.
 */
void		 rules_cond_render(const struct rules *, const struct cond *,
		     FILE *);
/* Write ids[0..n) sorted and comma-separated to f. */
void		 rules_render_sorted(char *const *ids, size_t n, FILE *);

/* Typed values.  Each records its own error and returns -1. */
/* The text of a single value (not null, no list, no mapping). */
const char	*rules_scalar(struct rules_load *, const struct yl_node *,
		     const char *key);
/* A single value that is a sentence: at most RULES_TEXT_MAX bytes. */
const char	*rules_text(struct rules_load *, const struct yl_node *,
		     const char *key);
int		 rules_bool(struct rules_load *, const struct yl_node *,
		     const char *key, int *);
/* A number written as digits with an optional fraction, > 0. */
int		 rules_number(struct rules_load *, const struct yl_node *,
		     const char *key, double *);
/* A duration (time_parse_duration()), > 0 and at most max_ms. */
int		 rules_duration(struct rules_load *, const struct yl_node *,
		     const char *key, int64_t max_ms, int64_t *);
/*
 * A list of names (a single value counts as a list of one), none twice.
 * check, if set, returns NULL or why a name is refused (caller frees).
 * Sets *strs (caller frees with rules_strs_free) and *n; -1 on errors.
 */
int		 rules_names(struct rules_load *, const struct yl_node *,
		     const char *key, char *(*check)(struct rules_load *,
		     const char *), char ***strs, size_t *n);
void		 rules_strs_free(char **, size_t);
/* Why id is not a valid id of what ("rule"), or NULL; caller frees. */
char		*rules_check_id(const char *what, const char *id);
/* Why name is not a declared indicator group, or NULL; caller frees. */
char		*rules_check_group(struct rules_load *, const char *name);
/* Report key as unknown among names[0..n), with a suggestion. */
void		 rules_unknown(struct rules_load *, const yaml_mark_t *,
		     const char *what, const char *key, const char *where,
		     const char *const *names, size_t n);

#endif
