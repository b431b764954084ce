/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * A child's history as the rules engine reads it: the profile, episodes,
 * indicators and the flags of the places the child was found, read from
 * the store's tables inside the current transaction (so an event's own
 * changes are visible to the rules it triggers).  Nothing is cached between
 * events: memory does not grow with history.
 */
#ifndef MISPER_HISTORY_H
#define MISPER_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "store.h"

#define HISTORY_ID_MAX	(EVENT_ID_MAX + 1)

/* The child's profile now (latest values by event time). */
struct child_view {
	char		 id[HISTORY_ID_MAX];
	int		 has_dob;
	int32_t		 dob_days;
	int		 looked_after;		/* 0, 1 or TRI_UNSET */
	int		 cp_plan;		/* 0, 1 or TRI_UNSET */
	char		 area[HISTORY_ID_MAX];	/* "" if unknown */
	char		**flags;		/* owned */
	size_t		 nflags;
};

/* One episode as it stands. */
struct episode_view {
	char		 id[HISTORY_ID_MAX];
	enum category	 category;
	enum risk	 risk;
	int		 out_of_area;		/* 0, 1 or TRI_UNSET */
	int64_t		 reported_at_ms;	/* or the first event's time */
	int64_t		 found_at_ms;		/* -1 if not found */
	int		 closed;
	char		 found_key[300];	/* "" if not found */
	char		**found_flags;		/* active flag reasons; owned */
	size_t		 nfound_flags;
	char		 first_event[HISTORY_ID_MAX];	/* the report's id */
	int64_t		 first_seq;
};

/* One indicator occurrence. */
struct indicator_row {
	char		 indicator[HISTORY_ID_MAX];
	int64_t		 at_ms;
	int64_t		 seq;
};

/* An event as evidence names it. */
struct evidence_row {
	int64_t		 seq;
	char		 id[HISTORY_ID_MAX];
	char		 type[32];
	int64_t		 at_ms;
	char		 episode[HISTORY_ID_MAX];	/* "" if none */
};

struct history;

/* history.c */
struct history	*history_new(struct store *);
void		 history_free(struct history *);
/* 0 found, 1 unknown child, -1 storage error. */
int		 history_child(struct history *, const char *id,
		     struct child_view *);
void		 child_view_clear(struct child_view *);
/* 0 found, 1 unknown, -1 error. */
int		 history_episode(struct history *, const char *id,
		     struct episode_view *);
/*
 * The child's episodes whose report time is in [from_ms, to_ms), oldest
 * first.  *out is owned by the caller: episode_views_free().
 */
int		 history_episodes(struct history *, const char *child,
		     int64_t from_ms, int64_t to_ms, struct episode_view **out,
		     size_t *n);
void		 episode_view_clear(struct episode_view *);
void		 episode_views_free(struct episode_view *, size_t);
/* The child's indicators recorded with event time in [from_ms, to_ms). */
int		 history_indicators(struct history *, const char *child,
		     int64_t from_ms, int64_t to_ms, struct indicator_row **out,
		     size_t *n);
/* An event by seq, for evidence.  0, 1 unknown, -1 error. */
int		 history_event(struct history *, int64_t seq,
		     struct evidence_row *);
/*
 * The seqs of the child's events of type (a name; NULL: any type) with
 * event time in [from_ms, to_ms), for deadlines whose expected event came
 * before their start was known.  Caller frees *out.
 */
int		 history_events_of_type(struct history *, const char *child,
		     const char *type, int64_t from_ms, int64_t to_ms,
		     int64_t **out, size_t *n);
/* The JSON stored for an event by seq (caller frees), or NULL. */
char		*history_event_body(struct history *, int64_t seq);

#endif
