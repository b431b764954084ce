/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * A decoded, validated event (contract section 2).  The decoder fills it;
 * the store and later the rules engine read it.  String fields point into
 * the parsed JSON tree held in `root` and live exactly as long as the event:
 * mevent_free() releases everything.  A NULL pointer means "not given".
 */
#ifndef MISPER_EVENT_H
#define MISPER_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum event_type {
	EVT_EPISODE_REPORTED = 0,
	EVT_EPISODE_UPDATED,
	EVT_EPISODE_FOUND,
	EVT_EPISODE_CLOSED,
	EVT_INTERVIEW_COMPLETED,
	EVT_INDICATOR_RECORDED,
	EVT_PLAN_RECORDED,
	EVT_LOCATION_FLAGGED,
	EVT_LOCATION_CLEARED,
	EVT__COUNT
};

/* Tri-state booleans: a field may be absent. */
#define TRI_UNSET	(-1)

enum category { CAT_UNSET = -1, CAT_MISSING = 0, CAT_ABSENT };
enum risk {
	RISK_UNSET = -1, RISK_NO_APPARENT = 0, RISK_LOW, RISK_MEDIUM, RISK_HIGH
};
enum interview_kind { INTERVIEW_UNSET = -1, INTERVIEW_RETURN_HOME = 0,
	INTERVIEW_PREVENTION };
enum plan_kind { PLAN_UNSET = -1, PLAN_TRIGGER = 0, PLAN_STRATEGY,
	PLAN_SAFETY };

struct ev_child {
	const char	 *id;		/* required when a child is given */
	const char	 *dob;		/* "YYYY-MM-DD" or NULL */
	int32_t		  dob_days;	/* days since epoch, valid if dob */
	int		  looked_after;	/* 0, 1 or TRI_UNSET */
	int		  cp_plan;	/* 0, 1 or TRI_UNSET */
	const char	 *area;
	const char	**flags;	/* NULL if absent; else nflags entries */
	size_t		  nflags;
	int		  has_flags;	/* 1 when "flags" was present (even []) */
};

struct ev_location {
	char		 *key;		/* owned: "uprn:<uprn>" or "addr:<pc>|<addr>" */
	const char	 *uprn;
	const char	 *postcode;
	const char	 *address;
	const char	 *area;
};

struct mevent {
	json_t		 *root;		/* owned: the parsed object */
	char		 *body;		/* owned: the line as received, stored */
	int		  v;		/* contract version, 1 */
	const char	 *id;
	enum event_type	  type;
	const char	 *at;		/* as sent */
	int64_t		  at_ms;	/* event time, ms since epoch UTC */
	const char	 *source;

	const char	 *episode;
	struct ev_child	  child;	/* child.id NULL when no child given */
	enum category	  category;
	enum risk	  risk;
	struct ev_location last_seen;	/* key NULL when not given */
	struct ev_location found;	/* episode.found */
	struct ev_location location;	/* location.flagged / .cleared */
	const char	**with;		/* episode.found "with" refs */
	size_t		  nwith;
	int		  out_of_area;	/* episode.found, TRI_UNSET if absent */
	const char	**indicators;	/* "indicators" array, or the single
					   "indicator" of indicator.recorded */
	size_t		  nindicators;
	const char	 *note;
	const char	 *outcome;
	enum interview_kind kind;
	enum plan_kind	  plan;
	const char	 *reason;
};

/* decode.c */
const char	*event_type_name(enum event_type);
const char	*category_name(enum category);
const char	*risk_name(enum risk);
const char	*interview_kind_name(enum interview_kind);
const char	*plan_kind_name(enum plan_kind);
void		 mevent_free(struct mevent *);

#endif
