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
	unsigned		 kind_bit;	/* the rule being read: 1 << its
						   kind, or 0 if not known */
	char			*bad;		/* per rule: it had errors */
	int			 catalogue_bad;	/* an indicator had errors */
};

/* A list of declared names, for rules_check_in(). */
enum rules_list {
	RULES_GROUPS = 0,
	RULES_ROUTES,
	RULES_INDICATORS
};

struct rules_in {
	const struct rules	*rs;
	enum rules_list		 list;
};

/* Where a condition is written, which decides the tests it may use. */
enum cond_ctx {
	CCTX_EVENT = 0x1,	/* when, after, expect: the event, its episode
				   and its child */
	CCTX_EPISODE = 0x2,	/* a repeat rule's episodes: one earlier
				   episode on its own, and the child */
	CCTX_CHILD = 0x4	/* a score rule's factors: the child */
};

/* rules.c */
/* Is key one of the keys a rule itself takes? */
int		 rules_is_rule_key(const char *key);

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
/* The lower-case hex sha256 of len bytes at buf into out[65]. */
void		 rules_sha256(const void *buf, size_t len, char *out);
/* Set r->digest (owned by r): the sha256 of r's canonical rendering. */
void		 rules_digest(const struct rules *, struct rule *r);
/* Write ids[0..n) sorted and comma-separated to f. */
void		 rules_render_sorted(char *const *ids, size_t n, FILE *);

/* Typed values.  Each records its own error and returns NULL or -1. */
/* A single value that is a sentence: at most RULES_TEXT_MAX bytes. */
const char	*rules_text(struct rules_load *, const struct yl_node *,
		     const char *key);
/* A number written as digits with an optional fraction, > 0. */
int		 rules_number(struct rules_load *, const struct yl_node *,
		     const char *key, double *);
/* A duration with a unit ("90d"), > 0 and at most max_ms. */
int		 rules_duration(struct rules_load *, const struct yl_node *,
		     const char *key, int64_t max_ms, int64_t *);
/*
 * Why id is not a valid id of what ("rule"), or NULL; caller frees.  Ids
 * are lower-case letters, digits, '_' and '-', and '.' too with dots.
 */
char		*rules_check_id(const char *what, const char *id, int dots);
/*
 * Why name is not declared in in->list, or NULL; caller frees.  A check
 * function for yl_names(), with arg a struct rules_in.
 */
char		*rules_check_in(const char *name, const void *arg);

#endif
