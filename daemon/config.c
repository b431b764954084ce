/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reading misperd.yaml.  libyaml's event API drives a small recursive
 * descent: the parse context owns exactly one event at a time and deletes
 * it before fetching the next, so no path can leak one.  Mappings are
 * decoded against option tables that give every key its type, bounds,
 * built-in default and validator (after Redis's createIntConfig table), and
 * values go straight into struct config.  Every problem is recorded as
 * "file:line:col: sentence" with 1-based positions and reading goes on, so
 * one run shows them all; a file with any error is refused and freed.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define CONFIG_FILE_MAX		(1024 * 1024)	/* larger files are refused */
#define CONFIG_DEPTH_MAX	32	/* deeper nesting is refused */
#define CONFIG_ERRORS_MAX	50	/* stop reading after this many */
#define CONFIG_SEEN_MAX		32	/* more than the options we have */
#define CONFIG_KEY_MAX		64	/* longest key we look for typos in */
#define CONFIG_SHOW_MAX		48	/* longest value quoted in a message */
#define CONFIG_GROUP_MAX	32	/* longest group name */

#define CONFIG_KIB		1024ULL
#define CONFIG_MIB		(1024ULL * 1024)
#define CONFIG_GIB		(1024ULL * 1024 * 1024)
#define CONFIG_SEC		1000ULL		/* durations are in ms */
#define CONFIG_HOUR		(3600ULL * CONFIG_SEC)
#define CONFIG_WEEK		(7 * 24 * CONFIG_HOUR)

/* Arguments for "'%.*s%s'": a value cut short with "..." if long. */
#define CONFIG_SHOW(s) \
	CONFIG_SHOW_MAX, (s), (strlen(s) > CONFIG_SHOW_MAX ? "..." : "")

enum config_type {
	CONFIG_TABLE,		/* a mapping of further options */
	CONFIG_STRING,		/* char * */
	CONFIG_ADDRS,		/* char ** and a size_t count */
	CONFIG_MODE,		/* mode_t, written in octal */
	CONFIG_UINT,		/* unsigned */
	CONFIG_SIZE,		/* size_t bytes, optional k, m or g suffix */
	CONFIG_DURATION		/* int64_t ms, time_parse_duration() syntax */
};

#define CONFIG_EMPTY_OFF	0x1	/* "" or null turns the feature off */

/*
 * One key.  check, if set, sees the text and, for numbers, the value once
 * the type and bounds are satisfied; it returns NULL or a sentence that
 * the caller frees.
 */
struct config_option {
	const char			*name;
	enum config_type		 type;
	size_t				 off;	/* field in struct config */
	size_t				 off_n;	/* count field, CONFIG_ADDRS */
	int				 flags;
	uint64_t			 min;	/* bounds, number types */
	uint64_t			 max;
	const char			*def;	/* default, as YAML text */
	char				*(*check)(const char *, const char *,
					     uint64_t);
	const struct config_option	*table;	/* CONFIG_TABLE */
};

#define CONFIG_OFF(f)	offsetof(struct config, f)
#define CONFIG_STR(n, f, fl, d, c) \
	{ n, CONFIG_STRING, CONFIG_OFF(f), 0, fl, 0, 0, d, c, NULL }
#define CONFIG_LIST(n, f, nf, fl, d, c) \
	{ n, CONFIG_ADDRS, CONFIG_OFF(f), CONFIG_OFF(nf), fl, 0, 0, d, c, NULL }
#define CONFIG_NUM(n, t, f, lo, hi, d, c) \
	{ n, t, CONFIG_OFF(f), 0, 0, lo, hi, d, c, NULL }
#define CONFIG_SUB(n, t) \
	{ n, CONFIG_TABLE, 0, 0, 0, 0, 0, NULL, NULL, t }
#define CONFIG_END \
	{ NULL, CONFIG_TABLE, 0, 0, 0, 0, 0, NULL, NULL, NULL }

/* A field of conf, as the type the option stores. */
#define CONFIG_FIELD(conf, off, type) \
	((type *)(void *)((char *)(conf) + (off)))

/* Reading one file: the libyaml parser, its event, and what was found. */
struct config_parse {
	const char			*name;	/* for messages */
	const char			*buf;	/* to place reader errors */
	size_t				 len;
	struct config			*conf;
	yaml_parser_t			 parser;
	yaml_event_t			 ev;	/* the current event */
	int				 have_ev;
	int				 stop;	/* read no further */
	int				 depth;
	char				*errors;	/* "...\n" lines */
	size_t				 errlen;
	unsigned			 nerrors;
	const struct config_option	*seen[CONFIG_SEEN_MAX];
	yaml_mark_t			 seen_mark[CONFIG_SEEN_MAX];
	size_t				 nseen;
};

static void	 config_error(struct config_parse *, const yaml_mark_t *,
		     const char *, ...) printflike(3, 4);
static void	 config_cause(char **, const char *, ...) printflike(2, 3);
static char	*config_check_socket(const char *, const char *, uint64_t);
static char	*config_check_mode(const char *, const char *, uint64_t);
static char	*config_check_group(const char *, const char *, uint64_t);
static char	*config_check_addr(const char *, const char *, uint64_t);
static char	*config_check_level(const char *, const char *, uint64_t);
static void	 config_parse_value(struct config_parse *,
		     const struct config_option *);

static const struct config_option config_listen[] = {
	CONFIG_STR("unix", unix_path, CONFIG_EMPTY_OFF, CONFIG_DEFAULT_UNIX,
	    config_check_socket),
	CONFIG_NUM("unix_mode", CONFIG_MODE, unix_mode, 0600, 0777, "0660",
	    config_check_mode),
	CONFIG_STR("unix_group", unix_group, CONFIG_EMPTY_OFF, NULL,
	    config_check_group),
	CONFIG_LIST("tcp", tcp, ntcp, CONFIG_EMPTY_OFF, CONFIG_DEFAULT_TCP,
	    config_check_addr),
	CONFIG_END
};

static const struct config_option config_limits[] = {
	CONFIG_NUM("max_line_bytes", CONFIG_SIZE, max_line_bytes,
	    256, 16 * CONFIG_MIB, "65536", NULL),
	CONFIG_NUM("max_connections", CONFIG_UINT, max_connections,
	    1, 65535, "256", NULL),
	CONFIG_NUM("idle_timeout", CONFIG_DURATION, idle_timeout_ms,
	    0, CONFIG_WEEK, "300s", NULL),
	CONFIG_NUM("max_output_bytes", CONFIG_SIZE, max_output_bytes,
	    4 * CONFIG_KIB, CONFIG_GIB, "1048576", NULL),
	CONFIG_NUM("shutdown_grace", CONFIG_DURATION, shutdown_grace_ms,
	    0, CONFIG_HOUR, "5s", NULL),
	CONFIG_END
};

static const struct config_option config_top[] = {
	CONFIG_SUB("listen", config_listen),
	CONFIG_STR("database", database, 0, CONFIG_DEFAULT_DB, NULL),
	CONFIG_STR("rules", rules, 0, CONFIG_DEFAULT_RULES, NULL),
	CONFIG_STR("log_level", log_level, 0, "info", config_check_level),
	CONFIG_SUB("limits", config_limits),
	CONFIG_END
};

/* The document itself: a mapping with no name. */
static const struct config_option config_root = CONFIG_SUB(NULL, config_top);

/* Append "name:line:col: msg" to the errors, on one line whatever msg holds. */
static void
config_add_line(struct config_parse *cp, const yaml_mark_t *mark, char *msg)
{
	char	*line, *p;
	int	 n;

	for (p = msg; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	n = xasprintf(&line, "%s:%zu:%zu: %s\n", cp->name, mark->line + 1,
	    mark->column + 1, msg);
	cp->errors = xreallocarray(cp->errors, cp->errlen + n + 1, 1);
	memcpy(cp->errors + cp->errlen, line, n + 1);
	cp->errlen += n;
	free(line);
}

/* Record an error at mark; after the last one allowed, stop reading. */
static void
config_error(struct config_parse *cp, const yaml_mark_t *mark,
    const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	if (cp->nerrors >= CONFIG_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	config_add_line(cp, mark, msg);
	if (++cp->nerrors == CONFIG_ERRORS_MAX) {
		snprintf(msg, sizeof msg, "too many errors; stopping here");
		config_add_line(cp, mark, msg);
		cp->stop = 1;
	}
}

/* Set *cause, if the caller wants it, to a file-level message. */
static void
config_cause(char **cause, const char *fmt, ...)
{
	va_list	 ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		fatal("config", "formatting a message");
	va_end(ap);
}

/* The 0-based line and column of a byte offset, for reader errors. */
static void
config_offset_mark(struct config_parse *cp, size_t off, yaml_mark_t *mark)
{
	size_t	 i;

	memset(mark, 0, sizeof *mark);
	mark->index = off;
	for (i = 0; i < off && i < cp->len; i++) {
		if (cp->buf[i] == '\n') {
			mark->line++;
			mark->column = 0;
		} else if (((unsigned char)cp->buf[i] & 0xc0) != 0x80)
			mark->column++;	/* count characters, not bytes */
	}
}

/* Record libyaml's error with its problem and context, 1-based. */
static void
config_syntax_error(struct config_parse *cp)
{
	yaml_parser_t	*p = &cp->parser;
	yaml_mark_t	 mark;
	const char	*problem;

	problem = p->problem != NULL ? p->problem : "unknown problem";
	switch (p->error) {
	case YAML_READER_ERROR:
		config_offset_mark(cp, p->problem_offset, &mark);
		if (p->problem_value != -1)
			config_error(cp, &mark, "YAML syntax error: %s (#%X)",
			    problem, (unsigned)p->problem_value);
		else
			config_error(cp, &mark, "YAML syntax error: %s",
			    problem);
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		if (p->context != NULL)
			config_error(cp, &p->problem_mark, "YAML syntax error: "
			    "%s (%s at line %zu, column %zu)", problem,
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
		else
			config_error(cp, &p->problem_mark,
			    "YAML syntax error: %s", problem);
		break;
	default:
		config_error(cp, &p->problem_mark, "YAML error: %s", problem);
		break;
	}
}

/* Replace the current event with the next; -1 when reading must stop. */
static int
config_next(struct config_parse *cp)
{
	if (cp->have_ev) {
		yaml_event_delete(&cp->ev);
		cp->have_ev = 0;
	}
	if (cp->stop)
		return -1;
	if (!yaml_parser_parse(&cp->parser, &cp->ev)) {
		config_syntax_error(cp);
		cp->stop = 1;
		return -1;
	}
	cp->have_ev = 1;
	switch (cp->ev.type) {
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++cp->depth > CONFIG_DEPTH_MAX) {
			config_error(cp, &cp->ev.start_mark, "nesting is "
			    "deeper than %d levels", CONFIG_DEPTH_MAX);
			cp->stop = 1;
			return -1;
		}
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		cp->depth--;
		break;
	default:
		break;
	}
	return 0;
}

/* Skip the node that begins with the current event, however nested. */
static void
config_skip(struct config_parse *cp)
{
	int	 level = 0;

	for (;;) {
		switch (cp->ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			level++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			level--;
			break;
		default:
			break;
		}
		if (level == 0 || config_next(cp) == -1)
			return;
	}
}

/* What the current event starts, for messages. */
static const char *
config_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_ALIAS_EVENT:
		return "an alias";
	default:
		return "a single value";
	}
}

/* Is the current scalar YAML's null: empty, ~ or null, unquoted? */
static int
config_is_null(const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return (*v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

/* Refuse anchors and explicit tags on the current node. */
static void
config_check_props(struct config_parse *cp)
{
	yaml_event_t	*ev = &cp->ev;
	yaml_char_t	*anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		config_error(cp, &ev->start_mark, "anchors (&%.*s%s) are not "
		    "supported; write each value out in full",
		    CONFIG_SHOW((const char *)anchor));
	if (tag != NULL)
		config_error(cp, &ev->start_mark, "YAML tags ('!' and '!!') "
		    "are not supported; remove the tag");
}

/* The option called name in table, or NULL. */
static const struct config_option *
config_find(const struct config_option *table, const char *name)
{
	const struct config_option	*opt;

	for (opt = table; opt->name != NULL; opt++) {
		if (strcmp(opt->name, name) == 0)
			return opt;
	}
	return NULL;
}

/* Where the key of a mapping option was given, or NULL if not yet. */
static const yaml_mark_t *
config_seen(struct config_parse *cp, const struct config_option *opt)
{
	size_t	 i;

	for (i = 0; i < cp->nseen; i++) {
		if (cp->seen[i] == opt)
			return &cp->seen_mark[i];
	}
	return NULL;
}

/* Optimal string alignment distance between two short strings. */
static size_t
config_distance(const char *a, const char *b)
{
	unsigned char	 d[CONFIG_KEY_MAX + 1][CONFIG_KEY_MAX + 1];
	size_t		 la = strlen(a), lb = strlen(b), i, j, v;

	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1U < v)
				v = d[i - 1][j] + 1U;
			if (d[i][j - 1] + 1U < v)
				v = d[i][j - 1] + 1U;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1U < v)
				v = d[i - 2][j - 2] + 1U;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The key in table that key is most likely a typo of, or NULL. */
static const char *
config_nearest(const struct config_option *table, const char *key)
{
	const struct config_option	*opt;
	const char			*best = NULL;
	size_t				 d, bestd = SIZE_MAX, limit;

	if (strlen(key) > CONFIG_KEY_MAX)
		return NULL;
	for (opt = table; opt->name != NULL; opt++) {
		d = config_distance(key, opt->name);
		limit = 1 + strlen(opt->name) / 4;
		if (d <= limit && d <= 3 && d < bestd) {
			best = opt->name;
			bestd = d;
		}
	}
	return best;
}

/* The mapping other than cur where key is valid, or NULL. */
static const struct config_option *
config_home(const struct config_option *cur, const char *key)
{
	const struct config_option	*opt;

	if (cur != &config_root && config_find(config_top, key) != NULL)
		return &config_root;
	for (opt = config_top; opt->name != NULL; opt++) {
		if (opt->type == CONFIG_TABLE && opt != cur &&
		    config_find(opt->table, key) != NULL)
			return opt;
	}
	return NULL;
}

/* Report an unknown key in the mapping of parent, with a suggestion. */
static void
config_unknown(struct config_parse *cp, const struct config_option *parent,
    const char *key, const yaml_mark_t *mark)
{
	const struct config_option	*home, *opt;
	const char			*near;
	char				 where[64], keys[256];
	size_t				 len = 0;

	if (parent->name == NULL)
		snprintf(where, sizeof where, "the top level");
	else
		snprintf(where, sizeof where, "'%s'", parent->name);
	if ((home = config_home(parent, key)) != NULL) {
		if (home->name == NULL)
			config_error(cp, mark, "unknown key '%s' under %s; it "
			    "belongs at the top level", key, where);
		else
			config_error(cp, mark, "unknown key '%s' under %s; it "
			    "belongs under '%s'", key, where, home->name);
	} else if ((near = config_nearest(parent->table, key)) != NULL)
		config_error(cp, mark, "unknown key '%.*s%s' under %s; did you "
		    "mean '%s'?", CONFIG_SHOW(key), where, near);
	else {
		keys[0] = '\0';
		for (opt = parent->table; opt->name != NULL; opt++) {
			len += snprintf(keys + len, sizeof keys - len, "%s%s",
			    opt == parent->table ? "" : ", ", opt->name);
			if (len >= sizeof keys)
				break;	/* cannot happen: the names are short */
		}
		config_error(cp, mark, "unknown key '%.*s%s' under %s; the "
		    "keys there are %s", CONFIG_SHOW(key), where, keys);
	}
}

/* Parse exactly n decimal digits at s; 0, or -1 if junk or too big. */
static int
config_digits(const char *s, size_t n, uint64_t *v)
{
	size_t	 i;

	if (n == 0)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (*v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* Parse a byte count with an optional k, m or g suffix (powers of 1024). */
static int
config_parse_size(const char *s, uint64_t *v)
{
	size_t		 n = strspn(s, "0123456789");
	uint64_t	 mult = 1;

	if (s[n] != '\0') {
		if (s[n + 1] != '\0')
			return -1;
		switch (tolower((unsigned char)s[n])) {
		case 'k':
			mult = CONFIG_KIB;
			break;
		case 'm':
			mult = CONFIG_MIB;
			break;
		case 'g':
			mult = CONFIG_GIB;
			break;
		default:
			return -1;
		}
	}
	if (config_digits(s, n, v) == -1 || *v > UINT64_MAX / mult)
		return -1;
	*v *= mult;
	return 0;
}

/* Parse one to four octal digits, as in "0660" or "660". */
static int
config_parse_mode(const char *s, uint64_t *v)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > 4)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		*v = *v * 8 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* Parse text as a value of a number type; 0 or -1. */
static int
config_parse_number(enum config_type type, const char *s, uint64_t *v)
{
	int64_t	 ms;

	switch (type) {
	case CONFIG_MODE:
		return config_parse_mode(s, v);
	case CONFIG_SIZE:
		return config_parse_size(s, v);
	case CONFIG_DURATION:
		if (time_parse_duration(s, &ms) == -1 || ms < 0)
			return -1;
		*v = (uint64_t)ms;
		return 0;
	default:
		return config_digits(s, strlen(s), v);
	}
}

/* Write v as a value of type would be written in the file. */
static void
config_format(enum config_type type, uint64_t v, char *buf, size_t len)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "w", CONFIG_WEEK }, { "d", 24 * CONFIG_HOUR },
		{ "h", CONFIG_HOUR }, { "m", 60 * CONFIG_SEC },
		{ "s", CONFIG_SEC }, { "ms", 1 }
	};
	size_t	 i;

	if (type == CONFIG_MODE) {
		snprintf(buf, len, "%04llo", (unsigned long long)v);
		return;
	}
	if (type != CONFIG_DURATION) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	}
	if (v == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; v % units[i].ms != 0; i++)
		;	/* ends at "ms" at the latest */
	snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].ms),
	    units[i].unit);
}

/* The sentence for text that is not a value of opt's number type. */
static char *
config_bad_number(const struct config_option *opt, const char *text)
{
	char	*why;

	switch (opt->type) {
	case CONFIG_MODE:
		xasprintf(&why, "%s '%.*s%s' is not an octal mode; write three "
		    "or four octal digits, as in \"0660\"", opt->name,
		    CONFIG_SHOW(text));
		break;
	case CONFIG_SIZE:
		xasprintf(&why, "%s '%.*s%s' is not a size; write a whole "
		    "number of bytes, optionally followed by k, m or g, as in "
		    "64k", opt->name, CONFIG_SHOW(text));
		break;
	case CONFIG_DURATION:
		xasprintf(&why, "%s '%.*s%s' is not a duration; write a whole "
		    "number and one unit (ms, s, m, h, d or w), as in 300s",
		    opt->name, CONFIG_SHOW(text));
		break;
	default:
		xasprintf(&why, "%s '%.*s%s' is not a whole number; write "
		    "digits only, with no sign", opt->name, CONFIG_SHOW(text));
		break;
	}
	return why;
}

/* Store a number option from text. */
static char *
config_set_number(struct config *conf, const struct config_option *opt,
    const char *text)
{
	uint64_t	 v;
	char		 lo[32], hi[32], *why;

	if (config_parse_number(opt->type, text, &v) == -1)
		return config_bad_number(opt, text);
	if (v < opt->min || v > opt->max) {
		config_format(opt->type, opt->min, lo, sizeof lo);
		config_format(opt->type, opt->max, hi, sizeof hi);
		xasprintf(&why, "%s must be between %s and %s", opt->name, lo,
		    hi);
		return why;
	}
	if (opt->check != NULL &&
	    (why = opt->check(opt->name, text, v)) != NULL)
		return why;
	switch (opt->type) {
	case CONFIG_MODE:
		*CONFIG_FIELD(conf, opt->off, mode_t) = (mode_t)v;
		break;
	case CONFIG_UINT:
		*CONFIG_FIELD(conf, opt->off, unsigned) = (unsigned)v;
		break;
	case CONFIG_SIZE:
		*CONFIG_FIELD(conf, opt->off, size_t) = (size_t)v;
		break;
	default:
		*CONFIG_FIELD(conf, opt->off, int64_t) = (int64_t)v;
		break;
	}
	return NULL;
}

/* Turn a string or list option off (NULL, or no entries). */
static void
config_clear(struct config *conf, const struct config_option *opt)
{
	char	***list, **s;
	size_t	  i, *n;

	if (opt->type == CONFIG_STRING) {
		s = CONFIG_FIELD(conf, opt->off, char *);
		free(*s);
		*s = NULL;
	} else if (opt->type == CONFIG_ADDRS) {
		list = CONFIG_FIELD(conf, opt->off, char **);
		n = CONFIG_FIELD(conf, opt->off_n, size_t);
		for (i = 0; i < *n; i++)
			free((*list)[i]);
		free(*list);
		*list = NULL;
		*n = 0;
	}
}

/* Store a string option from text. */
static char *
config_set_string(struct config *conf, const struct config_option *opt,
    const char *text)
{
	char	*why;

	if (*text == '\0') {
		xasprintf(&why, "%s must not be empty", opt->name);
		return why;
	}
	if (opt->check != NULL &&
	    (why = opt->check(opt->name, text, strlen(text))) != NULL)
		return why;
	config_clear(conf, opt);
	*CONFIG_FIELD(conf, opt->off, char *) = xstrdup(text);
	return NULL;
}

/* Append text to a list option. */
static char *
config_add_addr(struct config *conf, const struct config_option *opt,
    const char *text)
{
	char	***list = CONFIG_FIELD(conf, opt->off, char **), *why;
	size_t	  i, *n = CONFIG_FIELD(conf, opt->off_n, size_t);

	if (*text == '\0') {
		xasprintf(&why, "an empty %s entry; write %s: [] to turn %s "
		    "off", opt->name, opt->name, opt->name);
		return why;
	}
	if (opt->check != NULL &&
	    (why = opt->check(opt->name, text, 0)) != NULL)
		return why;
	for (i = 0; i < *n; i++) {
		if (strcmp((*list)[i], text) == 0) {
			xasprintf(&why, "%s address '%.*s%s' is listed twice",
			    opt->name, CONFIG_SHOW(text));
			return why;
		}
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = xstrdup(text);
	return NULL;
}

/* Store text as opt's value: NULL, or why not (caller frees). */
static char *
config_set(struct config *conf, const struct config_option *opt,
    const char *text)
{
	switch (opt->type) {
	case CONFIG_TABLE:
		break;
	case CONFIG_STRING:
		return config_set_string(conf, opt, text);
	case CONFIG_ADDRS:
		return config_add_addr(conf, opt, text);
	default:
		return config_set_number(conf, opt, text);
	}
	fatalx("config", "%s is a mapping, not a value", opt->name);
}

/* Check a Unix socket path fits in sockaddr_un. */
static char *
config_check_socket(const char *name, const char *text, uint64_t len)
{
	struct sockaddr_un	 sun;
	char			*why;

	(void)text;
	if (len < sizeof sun.sun_path)
		return NULL;
	xasprintf(&why, "the %s socket path is %llu bytes long; the system "
	    "limit is %zu", name, (unsigned long long)len,
	    sizeof sun.sun_path - 1);
	return why;
}

/* Refuse socket modes that let every local user connect. */
static char *
config_check_mode(const char *name, const char *text, uint64_t mode)
{
	char	*why;

	(void)text;
	if ((mode & 07) == 0)
		return NULL;
	xasprintf(&why, "%s %04llo lets every local user connect to the "
	    "socket and submit events; clear the last digit (for example "
	    "%04llo) and use unix_group to admit other users", name,
	    (unsigned long long)mode, (unsigned long long)(mode & ~07ULL));
	return why;
}

/* Check a group name has the portable form; it is looked up later. */
static char *
config_check_group(const char *name, const char *text, uint64_t len)
{
	size_t	 i;
	char	*why;
	int	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if (isalnum(c) || c == '_' || c == '.' ||
		    (c == '-' && i > 0) || (c == '$' && i == len - 1 && i > 0))
			continue;
		break;
	}
	if (i == len && len <= CONFIG_GROUP_MAX)
		return NULL;
	xasprintf(&why, "%s '%.*s%s' is not a group name; use up to %d "
	    "letters, digits, '.', '_' or '-', not starting with '-'", name,
	    CONFIG_SHOW(text), CONFIG_GROUP_MAX);
	return why;
}

/* Is host a syntactically valid DNS name?  Nothing is resolved. */
static int
config_is_hostname(const char *host)
{
	size_t	 label = 0, i, n = strlen(host);
	int	 c;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		c = (unsigned char)host[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || host[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return 1;
}

/* Check the host part of a TCP address; NULL or a sentence. */
static char *
config_check_host(const char *name, const char *text, const char *host,
    int v6)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		*why = NULL;

	if (v6) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			xasprintf(&why, "%s address '%.*s%s': '%s' is not an "
			    "IPv6 address", name, CONFIG_SHOW(text), host);
	} else if (*host == '\0')
		xasprintf(&why, "%s address '%.*s%s' has no host; use 0.0.0.0 "
		    "or [::] to listen on every address", name,
		    CONFIG_SHOW(text));
	else if (strchr(host, ':') != NULL)
		xasprintf(&why, "%s address '%.*s%s' looks like an IPv6 "
		    "address; put it in brackets, as in [::1]:7470", name,
		    CONFIG_SHOW(text));
	else if (strspn(host, "0123456789.") == strlen(host)) {
		if (inet_pton(AF_INET, host, &a4) != 1)
			xasprintf(&why, "%s address '%.*s%s': '%s' is not an "
			    "IPv4 address", name, CONFIG_SHOW(text), host);
	} else if (!config_is_hostname(host))
		xasprintf(&why, "%s address '%.*s%s': '%.*s%s' is not a valid "
		    "host name", name, CONFIG_SHOW(text), CONFIG_SHOW(host));
	return why;
}

/* Check "host:port" or "[v6]:port" without resolving anything. */
static char *
config_check_addr(const char *name, const char *text, uint64_t unused)
{
	const char	*start, *end, *port;
	char		 host[256], *why;
	size_t		 n;
	uint64_t	 v;
	int		 v6 = (text[0] == '[');

	(void)unused;
	if (v6) {
		if ((end = strchr(text, ']')) == NULL) {
			xasprintf(&why, "%s address '%.*s%s' has '[' but no "
			    "closing ']'", name, CONFIG_SHOW(text));
			return why;
		}
		start = text + 1;
		n = end - start;
		port = end[1] == ':' ? end + 1 : NULL;
	} else {
		start = text;
		port = strrchr(text, ':');
		n = port != NULL ? (size_t)(port - text) : strlen(text);
	}
	if (port == NULL) {
		xasprintf(&why, "%s address '%.*s%s' has no port; write "
		    "host:port, as in %s", name, CONFIG_SHOW(text),
		    CONFIG_DEFAULT_TCP);
		return why;
	}
	if (n >= sizeof host)
		n = sizeof host - 1;	/* too long for a host anyway */
	memcpy(host, start, n);
	host[n] = '\0';
	if ((why = config_check_host(name, text, host, v6)) != NULL)
		return why;
	port++;
	if (config_digits(port, strlen(port), &v) == -1 || v < 1 || v > 65535) {
		xasprintf(&why, "%s address '%.*s%s' needs a port number "
		    "from 1 to 65535 after the last ':'", name,
		    CONFIG_SHOW(text));
		return why;
	}
	return NULL;
}

/* Check a log level name. */
static char *
config_check_level(const char *name, const char *text, uint64_t len)
{
	enum log_level	 level;
	char		*why;

	(void)len;
	if (log_level_parse(text, &level) == 0)
		return NULL;
	xasprintf(&why, "%s '%.*s%s' is not one of error, warn, info, debug",
	    name, CONFIG_SHOW(text));
	return why;
}

/* The text of the current scalar, or NULL (reported) if it holds a NUL. */
static const char *
config_scalar_text(struct config_parse *cp, const struct config_option *opt)
{
	const char	*text = (const char *)cp->ev.data.scalar.value;

	if (strlen(text) == cp->ev.data.scalar.length)
		return text;
	config_error(cp, &cp->ev.start_mark, "%s contains a NUL character",
	    opt->name);
	return NULL;
}

/* Decode the current scalar as opt's value. */
static void
config_parse_scalar(struct config_parse *cp, const struct config_option *opt)
{
	const char	*text;
	char		*why;

	if ((text = config_scalar_text(cp, opt)) == NULL)
		return;
	if (config_is_null(&cp->ev) ||
	    (*text == '\0' && (opt->flags & CONFIG_EMPTY_OFF))) {
		if (opt->flags & CONFIG_EMPTY_OFF)
			config_clear(cp->conf, opt);
		else
			config_error(cp, &cp->ev.start_mark, "%s needs a value",
			    opt->name);
		return;
	}
	if (opt->type == CONFIG_ADDRS)
		config_clear(cp->conf, opt);	/* one entry replaces all */
	if ((why = config_set(cp->conf, opt, text)) != NULL) {
		config_error(cp, &cp->ev.start_mark, "%s", why);
		free(why);
	}
}

/* Decode a list (the current event starts it) into a list option. */
static void
config_parse_list(struct config_parse *cp, const struct config_option *opt)
{
	const char	*text;
	char		*why;

	config_clear(cp->conf, opt);
	for (;;) {
		if (config_next(cp) == -1 ||
		    cp->ev.type == YAML_SEQUENCE_END_EVENT)
			return;
		config_check_props(cp);
		if (cp->ev.type != YAML_SCALAR_EVENT) {
			config_error(cp, &cp->ev.start_mark, "each %s entry "
			    "must be a single value, not %s", opt->name,
			    config_kind(&cp->ev));
			config_skip(cp);
			continue;
		}
		if ((text = config_scalar_text(cp, opt)) == NULL)
			continue;
		if ((why = config_set(cp->conf, opt, text)) != NULL) {
			config_error(cp, &cp->ev.start_mark, "%s", why);
			free(why);
		}
	}
}

/* Decode a mapping (the current event starts it) against parent's table. */
static void
config_parse_table(struct config_parse *cp, const struct config_option *parent)
{
	const struct config_option	*opt;
	const yaml_mark_t		*first;
	yaml_mark_t			 mark;
	char				*key;

	for (;;) {
		/* State: expecting a key or the end of the mapping. */
		if (config_next(cp) == -1 ||
		    cp->ev.type == YAML_MAPPING_END_EVENT)
			return;
		if (cp->ev.type != YAML_SCALAR_EVENT) {
			config_error(cp, &cp->ev.start_mark, "a key must be a "
			    "plain name, not %s", config_kind(&cp->ev));
			config_skip(cp);
			if (config_next(cp) == 0)
				config_skip(cp);	/* and its value */
			continue;
		}
		config_check_props(cp);
		key = xstrdup((const char *)cp->ev.data.scalar.value);
		mark = cp->ev.start_mark;
		opt = config_find(parent->table, key);

		/* State: the value of key. */
		if (config_next(cp) == -1) {
			free(key);
			return;
		}
		if (opt == NULL) {
			config_unknown(cp, parent, key, &mark);
			config_skip(cp);
		} else if ((first = config_seen(cp, opt)) != NULL) {
			config_error(cp, &mark, "duplicate key '%s'; it was "
			    "first given at line %zu", key, first->line + 1);
			config_skip(cp);
		} else {
			if (cp->nseen == CONFIG_SEEN_MAX)
				fatalx("config", "more options than slots");
			cp->seen[cp->nseen] = opt;
			cp->seen_mark[cp->nseen++] = mark;
			config_parse_value(cp, opt);
		}
		free(key);
	}
}

/* Report that the current node has the wrong shape for opt; skip it. */
static void
config_wrong_type(struct config_parse *cp, const struct config_option *opt,
    const char *want)
{
	config_error(cp, &cp->ev.start_mark, "%s must be %s, not %s",
	    opt->name != NULL ? opt->name : "the configuration", want,
	    config_kind(&cp->ev));
	config_skip(cp);
}

/* Decode the node that starts with the current event as opt's value. */
static void
config_parse_value(struct config_parse *cp, const struct config_option *opt)
{
	yaml_event_type_t	 type = cp->ev.type;

	if (type == YAML_ALIAS_EVENT) {
		config_error(cp, &cp->ev.start_mark, "aliases (*%.*s%s) are "
		    "not supported; write each value out in full",
		    CONFIG_SHOW((const char *)cp->ev.data.alias.anchor));
		return;
	}
	config_check_props(cp);
	if (opt->type == CONFIG_TABLE) {
		if (type == YAML_MAPPING_START_EVENT)
			config_parse_table(cp, opt);
		else if (type != YAML_SCALAR_EVENT || !config_is_null(&cp->ev))
			config_wrong_type(cp, opt, "a mapping of keys");
	} else if (opt->type == CONFIG_ADDRS &&
	    type == YAML_SEQUENCE_START_EVENT)
		config_parse_list(cp, opt);
	else if (type == YAML_SCALAR_EVENT)
		config_parse_scalar(cp, opt);
	else if (opt->type == CONFIG_ADDRS)
		config_wrong_type(cp, opt, "an address or a list of addresses");
	else
		config_wrong_type(cp, opt, "a single value");
}

/* Read the stream: nothing at all, or exactly one document. */
static void
config_parse_stream(struct config_parse *cp)
{
	/* STREAM-START, then DOCUMENT-START or, for an empty file, the end. */
	if (config_next(cp) == -1 || config_next(cp) == -1 ||
	    cp->ev.type == YAML_STREAM_END_EVENT)
		return;
	if (config_next(cp) == -1)
		return;
	config_parse_value(cp, &config_root);
	/* DOCUMENT-END, then STREAM-END or a second document. */
	if (config_next(cp) == -1 || config_next(cp) == -1)
		return;
	if (cp->ev.type == YAML_DOCUMENT_START_EVENT) {
		config_error(cp, &cp->ev.start_mark, "a second YAML document "
		    "starts here; the configuration must be a single document");
		cp->stop = 1;
	}
}

/* Checks on the configuration as a whole, once every key is read. */
static void
config_check_whole(struct config_parse *cp)
{
	const struct config_option	*listen;
	const yaml_mark_t		*mark;
	yaml_mark_t			 start;

	if (cp->conf->unix_path == NULL && cp->conf->ntcp == 0) {
		memset(&start, 0, sizeof start);
		listen = config_find(config_top, "listen");
		if ((mark = config_seen(cp, listen)) == NULL)
			mark = &start;
		config_error(cp, mark, "no listener: listen.unix and "
		    "listen.tcp are both turned off, so no client could "
		    "connect");
	}
}

/* Free every string and list named in table and the tables below it. */
static void
config_purge(struct config *conf, const struct config_option *table)
{
	const struct config_option	*opt;

	for (opt = table; opt->name != NULL; opt++) {
		if (opt->type == CONFIG_TABLE)
			config_purge(conf, opt->table);
		else
			config_clear(conf, opt);
	}
}

/* Apply the built-in default of every option in table and below. */
static void
config_apply_defaults(struct config *conf, const struct config_option *table)
{
	const struct config_option	*opt;
	char				*why;

	for (opt = table; opt->name != NULL; opt++) {
		if (opt->type == CONFIG_TABLE)
			config_apply_defaults(conf, opt->table);
		else if (opt->def != NULL &&
		    (why = config_set(conf, opt, opt->def)) != NULL)
			fatalx("config", "built-in default: %s", why);
	}
}

/* A config holding the embedded defaults.  Caller frees. */
struct config *
config_default(void)
{
	struct config	*conf;

	conf = xcalloc(1, sizeof *conf);
	config_apply_defaults(conf, config_top);
	return conf;
}

/*
 * Parse len bytes at buf over the defaults.  name is used in messages and
 * copied into the result's path.  NULL with every error in *cause.
 */
struct config *
config_load_buffer(const char *name, const char *buf, size_t len,
    char **cause)
{
	struct config_parse	 cp;

	if (cause != NULL)
		*cause = NULL;
	if (len > CONFIG_FILE_MAX) {
		config_cause(cause, "%s: the file is larger than %d bytes, the "
		    "limit for a configuration", name, CONFIG_FILE_MAX);
		return NULL;
	}
	memset(&cp, 0, sizeof cp);
	cp.name = name;
	cp.buf = buf;
	cp.len = len;
	cp.conf = config_default();
	cp.conf->path = xstrdup(name);
	if (!yaml_parser_initialize(&cp.parser))
		fatalx("config", "cannot initialise libyaml");
	yaml_parser_set_input_string(&cp.parser,
	    (const unsigned char *)(len > 0 ? buf : ""), len);

	config_parse_stream(&cp);
	if (!cp.stop)
		config_check_whole(&cp);

	if (cp.have_ev)
		yaml_event_delete(&cp.ev);
	yaml_parser_delete(&cp.parser);
	if (cp.nerrors == 0) {
		free(cp.errors);
		return cp.conf;
	}
	config_free(cp.conf);
	cp.errors[cp.errlen - 1] = '\0';	/* the last newline */
	if (cause != NULL)
		*cause = cp.errors;
	else
		free(cp.errors);
	return NULL;
}

/* Read path over the defaults.  NULL with every error in *cause. */
struct config *
config_load(const char *path, char **cause)
{
	struct config	*conf = NULL;
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		config_cause(cause, "%s: cannot read: %s", path,
		    strerror(errno));
		return NULL;
	}
	buf = xmalloc(CONFIG_FILE_MAX + 1);
	while (len <= CONFIG_FILE_MAX) {
		n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			config_cause(cause, "%s: cannot read: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & S_IWOTH))
		log_warnx("config", "%s: any user can change this file; "
		    "run chmod o-w on it", path);
	conf = config_load_buffer(path, buf, len, cause);
done:
	close(fd);
	free(buf);
	return conf;
}

/* Free conf and everything it owns.  Accepts NULL. */
void
config_free(struct config *conf)
{
	if (conf == NULL)
		return;
	config_purge(conf, config_top);
	free(conf->path);
	free(conf);
}
