/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The YAML machinery shared by the configuration loader (config.c) and the
 * rules loader (rules.c), on libyaml's event API, in three layers:
 *
 * - an error list: every problem becomes "name:line:col: sentence" with
 *   1-based positions, on one line, up to YL_ERRORS_MAX of them;
 * - an event reader: one owned event at a time, syntax errors with
 *   libyaml's problem and context, a nesting limit, refusal of anchors,
 *   aliases and tags (config.c decodes straight from these events);
 * - a node tree built from the reader (rules.c reads this, since a rule's
 *   kind decides how its other keys are read): scalars, lists and mappings,
 *   each with its yaml_mark_t, with duplicate keys, non-scalar keys and a
 *   second document refused and the number of nodes bounded.
 *
 * Also: reading a file with a size limit, and "did you mean" suggestions.
 */
#ifndef MISPER_YAMLLOAD_H
#define MISPER_YAMLLOAD_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <yaml.h>

#include "log.h"
#include "utf8.h"

#define YL_ERRORS_MAX	50		/* errors kept, then "too many" */
#define YL_DEPTH_MAX	32		/* deeper nesting is refused */
#define YL_NODES_MAX	100000		/* larger trees are refused */
#define YL_SHOW_MAX	48		/* longest value quoted in a message */
#define YL_KEY_MAX	64		/* longest key we look for typos in */
#define YL_NAMES_MAX	256		/* longest list yl_names() reads */
#define YL_LIST_SHOW	400		/* longest list of names shown */

/* Arguments for "'%.*s%s'": a value cut short with "..." if long. */
#define YL_SHOW(s) \
	utf8_prefix((s), YL_SHOW_MAX), (s), (strlen(s) > YL_SHOW_MAX ? "..." : "")

struct yl_error;

/* The errors found in one file.  Zero it, then set name. */
struct yl_errors {
	const char	*name;		/* the file, for messages; not owned */
	struct yl_error	*list;
	size_t		 n;
	int		 full;		/* the cap was reached: read no more */
	yaml_mark_t	 full_mark;
};

/* Reading one document's events.  See yl_reader_init(). */
struct yl_reader {
	struct yl_errors *errs;		/* not owned */
	const char	*buf;		/* the text, to place reader errors */
	size_t		 len;
	yaml_parser_t	 parser;
	yaml_event_t	 ev;		/* the current event */
	int		 have_ev;
	int		 stop;		/* read no further */
	int		 depth;
};

enum yl_type {
	YL_SCALAR = 0,
	YL_LIST,
	YL_MAP
};

struct yl_node;

/* A key and its value in a mapping. */
struct yl_pair {
	char		*key;
	yaml_mark_t	 mark;		/* where the key starts */
	struct yl_node	*value;
};

/* A node of the tree.  The tree owns every string and node below it. */
struct yl_node {
	enum yl_type	  type;
	yaml_mark_t	  mark;		/* where the node starts */
	char		 *text;		/* scalar: its value, NUL-terminated */
	int		  plain;	/* scalar: written without quotes */
	struct yl_node	**items;	/* list: n items */
	struct yl_pair	 *pairs;	/* mapping: n pairs, in file order */
	size_t		  n;
};

/* Finding the known name nearest to a mistyped one. */
struct yl_near {
	const char	*key;
	const char	*best;
	size_t		 bestd;
};

/* yamlload.c */
/* Record an error at mark (0-based, as libyaml gives it). */
void		 yl_error(struct yl_errors *, const yaml_mark_t *,
		     const char *, ...) printflike(3, 4);
void		 yl_verror(struct yl_errors *, const yaml_mark_t *,
		     const char *, va_list) printflike(3, 0);
/* How many errors were recorded (not counting "too many errors"). */
size_t		 yl_error_count(const struct yl_errors *);
/*
 * The errors as text, one per line, no final newline, and reset the list.
 * With sorted, in order of position (ties keep the order found).  NULL
 * when there are none; caller frees.
 */
char		*yl_errors_take(struct yl_errors *, int sorted);
void		 yl_errors_free(struct yl_errors *);
/* Set *cause, if cause is not NULL, to a message; caller frees. */
void		 yl_cause(char **cause, const char *, ...) printflike(2, 3);
/*
 * Is len within max?  If not sets *cause to "name: the file is larger
 * than max bytes, the limit for what" and returns -1.
 */
int		 yl_size_ok(const char *name, size_t len, size_t max,
		     const char *what, char **cause);
/*
 * Read up to max + 1 bytes of path into *buf (caller frees) and *len, so
 * that yl_size_ok() can refuse a file that is too large.  Warns under
 * subsystem sub if any user can write the file.  -1 with *cause set.
 */
int		 yl_read_file(const char *path, size_t max, const char *sub,
		     char **buf, size_t *len, char **cause);

/* Start reading len bytes at buf; errors go to errs. */
void		 yl_reader_init(struct yl_reader *, struct yl_errors *,
		     const char *buf, size_t len);
void		 yl_reader_free(struct yl_reader *);
/* Replace the current event with the next; -1 when reading must stop. */
int		 yl_next(struct yl_reader *);
/* Skip the node that begins with the current event, however nested. */
void		 yl_skip(struct yl_reader *);
/* Report a key (the current event) that is not a scalar; skip it and
   its value. */
void		 yl_skip_bad_key(struct yl_reader *);
/* Refuse anchors and tags on the current event. */
void		 yl_check_props(struct yl_reader *);
/* If the current event is an alias, report it and return 1. */
int		 yl_alias(struct yl_reader *);
/* "a mapping", "a list", "an alias" or "a single value". */
const char	*yl_event_kind(const yaml_event_t *);
/* Is the current scalar YAML's null: empty, ~ or null, unquoted? */
int		 yl_event_is_null(const yaml_event_t *);
/* Is the current scalar's text free of NUL characters? */
int		 yl_event_text_ok(const yaml_event_t *);
/*
 * Read STREAM-START and DOCUMENT-START: 1 when the current event then
 * starts the document's root node, 0 for an empty stream, -1 to stop.
 */
int		 yl_stream_begin(struct yl_reader *);
/*
 * After the root node: read DOCUMENT-END and refuse a second document,
 * saying that what ("the configuration") must be a single document.
 */
void		 yl_stream_end(struct yl_reader *, const char *what);

/*
 * Parse len bytes at buf into a tree; what names the document in messages
 * ("the rules").  Returns 0 and sets *root (NULL for
 * an empty stream or document) when the whole text was read, even if
 * errors were recorded (anchors, duplicate keys, ...); -1 with *root NULL
 * when reading stopped (a syntax error, a limit, too many errors).
 */
int		 yl_parse(struct yl_errors *, const char *buf, size_t len,
		     const char *what, struct yl_node **root);
/* The node at rd's current event, read as a tree; NULL if reading stopped. */
struct yl_node	*yl_read_node(struct yl_reader *);
void		 yl_node_free(struct yl_node *);
/* The value of key in mapping node, or NULL (also if not a mapping). */
struct yl_node	*yl_get(const struct yl_node *, const char *key);
/* The pair of key in mapping node, or NULL. */
const struct yl_pair *yl_get_pair(const struct yl_node *, const char *key);
/* "a mapping", "a list" or "a single value". */
const char	*yl_node_kind(const struct yl_node *);
/* Is node a null scalar (empty, ~ or null, unquoted)? */
int		 yl_is_null(const struct yl_node *);
/*
 * Typed reading of tree values; each records its own error, naming the
 * value key, and returns NULL or -1.
 */
/* The text of a single value: not null, not a list or a mapping. */
const char	*yl_scalar(struct yl_errors *, const struct yl_node *,
		     const char *key);
/* Is text true or false (yes/no, on/off, any case)?  0 and *flag, or -1. */
int		 yl_bool_word(const char *text, int *flag);
/* true or false (yes/no and on/off also work, in any case). */
int		 yl_bool(struct yl_errors *, const struct yl_node *,
		     const char *key, int *);
/*
 * A list of names (a single value counts as a list of one), none twice,
 * empty only if empty_ok.  check, if set, returns NULL or why a name is
 * refused (caller frees); it is passed arg.  Sets *strs (free with
 * yl_strs_free()) and *n.
 */
int		 yl_names(struct yl_errors *, const struct yl_node *,
		     const char *key, int empty_ok,
		     char *(*check)(const char *, const void *),
		     const void *arg,
		     char ***strs, size_t *n);
void		 yl_strs_free(char **, size_t);
/*
 * Report key, an unknown what ("key", "level"), in where, suggesting the
 * nearest of names[0..n) or else listing them.
 */
void		 yl_unknown(struct yl_errors *, const yaml_mark_t *,
		     const char *what, const char *key, const char *where,
		     const char *const *names, size_t n);

void		 yl_near_init(struct yl_near *, const char *key);
/* Consider name as what key may be a typo of. */
void		 yl_near_try(struct yl_near *, const char *name);
/* The best candidate, or NULL if none is close enough. */
const char	*yl_near_best(const struct yl_near *);

/* A syntactically valid DNS name (underscore: allow '_')?  1 or 0. */
int	yl_is_hostname(const char *host, int underscore);

#endif
