/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Trigger rules: the force's written policy as YAML (misperd-rules(5),
 * docs/rules.md), loaded and validated into the structures below.  The
 * loader (rules.c) knows nothing of evaluation; the engine (engine.c) reads
 * these structures and never the YAML.
 *
 * A loaded struct rules is immutable and freed as a whole by rules_free();
 * every pointer in it is owned by it.
 */
#ifndef MISPER_RULES_H
#define MISPER_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Escalation levels (contract section 5), lowest first. */
enum level {
	LEVEL_NONE = 0,
	LEVEL_NOTIFY,
	LEVEL_REVIEW,
	LEVEL_URGENT,
	LEVEL__COUNT
};

enum rule_kind {
	RULE_REPEAT = 0,	/* episodes in a sliding window */
	RULE_SCORE,		/* weighted distinct indicators in a window */
	RULE_MATCH,		/* one event meeting conditions */
	RULE_DEADLINE		/* an expected event that did not come in time */
};

/*
 * A condition.  Leaves test one thing; ALL/ANY/NOT combine.  In YAML a
 * mapping with several keys is an ALL of them.  What each leaf reads, in
 * the engine:
 *   COND_TYPE            the event's type is in type_mask (bit = enum event_type)
 *   COND_CATEGORY        the episode's category (as of this event) in mask
 *                        (bit = enum category)
 *   COND_RISK            the episode's risk (as of this event) in mask
 *                        (bit = enum risk); unknown risk never matches
 *   COND_OUT_OF_AREA     the episode was found out of area == flag
 *   COND_FOUND_FLAGGED   the episode's found location is flagged with one
 *                        of strs (any reason when nstrs == 0)
 *   COND_INDICATORS_ANY  the event carries one of the indicator ids strs
 *   COND_INDICATOR_WEIGHT the event carries an indicator of weight >= number
 *   COND_INDICATOR_GROUPS the event carries an indicator of a group in strs
 *   COND_INTERVIEW_KIND  interview.completed kind in mask (enum interview_kind)
 *   COND_PLAN_KIND       plan.recorded plan in mask (enum plan_kind)
 *   COND_AGE_UNDER       the child's age at the event time < number
 *                        (false when the dob is unknown)
 *   COND_LOOKED_AFTER    the child's looked_after == flag (unknown: false)
 *   COND_CP_PLAN         the child's cp_plan == flag (unknown: false)
 *   COND_FLAGS_ANY       the child's profile flags include one of strs
 *   COND_HAS_INDICATORS  the child has an indicator (of a group in strs, or
 *                        any group when nstrs == 0) recorded with event
 *                        time in (at - within_ms, at]
 */
enum cond_op {
	COND_ALL = 0,
	COND_ANY,
	COND_NOT,
	COND_TYPE,
	COND_CATEGORY,
	COND_RISK,
	COND_OUT_OF_AREA,
	COND_FOUND_FLAGGED,
	COND_INDICATORS_ANY,
	COND_INDICATOR_WEIGHT,
	COND_INDICATOR_GROUPS,
	COND_INTERVIEW_KIND,
	COND_PLAN_KIND,
	COND_AGE_UNDER,
	COND_LOOKED_AFTER,
	COND_CP_PLAN,
	COND_FLAGS_ANY,
	COND_HAS_INDICATORS
};

struct cond {
	enum cond_op	  op;
	unsigned	  mask;		/* TYPE, CATEGORY, RISK, *_KIND */
	int		  flag;		/* OUT_OF_AREA, LOOKED_AFTER, CP_PLAN */
	double		  number;	/* INDICATOR_WEIGHT, AGE_UNDER */
	char		**strs;		/* ids, reasons, groups, flags */
	size_t		  nstrs;
	int64_t		  within_ms;	/* HAS_INDICATORS */
	struct cond	**kids;		/* ALL, ANY (n kids), NOT (1 kid) */
	size_t		  nkids;
};

struct threshold {
	enum level	 level;
	double		 value;		/* reached when count/score >= value */
};

struct factor {
	struct cond	*when;		/* child conditions */
	double		 multiply;	/* > 0 */
};

struct indicator_def {
	char		*id;
	char		*label;
	double		 weight;	/* > 0 */
	char		*group;		/* one of the declared groups */
	unsigned	 line;		/* 1-based line of its id in the file */
};

struct route_def {
	char		*id;
	char		*description;
};

struct rule {
	char		 *id;		/* unique, [a-z0-9_-]+ */
	enum rule_kind	  kind;
	char		 *description;
	int		  enabled;
	char		**routes;	/* route ids, declared in routes: */
	size_t		  nroutes;
	char		 *summary;	/* template, placeholders checked */
	unsigned	  line;		/* 1-based line of the rule in the file */
	char		 *digest;	/* hex sha256 of the rule's meaning: kind,
					   window, conditions, thresholds, level,
					   deadline parts; not id, description,
					   summary, routes or enabled */
					/* (and the catalogue entries it
					   depends on: the weights a score
					   counts, the indicators a weight or
					   group test selects) */

	struct cond	 *when;		/* all kinds: the rule only applies to
					   events meeting it (NULL: all) */

	/* repeat, score */
	int64_t		  window_ms;
	struct threshold  thresholds[LEVEL__COUNT - 1];	/* ascending */
	size_t		  nthresholds;

	/* repeat: which of the child's episodes count (NULL: all) */
	struct cond	 *episodes;

	/* score */
	char		**groups;	/* indicator groups counted; 0: all */
	size_t		  ngroups;
	struct factor	 *factors;
	size_t		  nfactors;

	/* match, deadline: the level raised */
	enum level	  level;

	/* deadline: started by an event meeting after (after_rule NULL), or
	   by rule after_rule reaching after_level for the child; cancelled by
	   an event meeting expect for the same episode (scope_episode) or the
	   same child, with event time >= the start's. */
	struct cond	 *after;
	char		 *after_rule;
	enum level	  after_level;
	struct cond	 *expect;
	int		  scope_episode;
	int64_t		  within_ms;
};

struct rules {
	char			*path;		/* as given, for messages */
	char			 version[72];	/* "sha256:<64 hex>" of the text */
	char			**groups;	/* indicator groups declared */
	size_t			  ngroups;
	struct indicator_def	*indicators;
	size_t			  nindicators;
	struct route_def	*routes;
	size_t			  nroutes;
	struct rule		*rules;
	size_t			  nrules;
};

/* rules.c */
/*
 * Load and validate a rules file.  On any error returns NULL and sets
 * *cause (caller frees) to every error found, one per line, each
 * "path:line:col: sentence".
 */
struct rules	*rules_load(const char *path, char **cause);
struct rules	*rules_load_buffer(const char *name, const char *buf,
		     size_t len, char **cause);
void		 rules_free(struct rules *);
const struct indicator_def *rules_indicator(const struct rules *,
		     const char *id);
const struct rule *rules_find(const struct rules *, const char *id);
/* An indicator_known_fn: arg is the struct rules. */
int		 rules_indicator_known(const char *id, void *arg);
/* A one-paragraph human summary (counts by kind, version); caller frees. */
char		*rules_summary(const struct rules *);
const char	*level_name(enum level);
/* notify, review or urgent (not none): 0 and *level, or -1. */
int		 level_parse(const char *name, enum level *level);
const char	*rule_kind_name(enum rule_kind);

#endif
