/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Reading misperd.yaml.  libyaml's event API, through yamlload's event
 * reader (which owns exactly one event at a time, so no path can leak
 * one), drives a small recursive descent.  Mappings are
 * decoded against option tables that give every key its type, bounds,
 * built-in default and validator (after Redis's createIntConfig table), and
 * values go straight into struct config.  Every problem is recorded as
 * "file:line:col: sentence" with 1-based positions and reading goes on, so
 * one run shows them all; a file with any error is refused and freed.
 */
#include <sys/types.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "access.h"
#include "config.h"
#include "log.h"
#include "routes.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "yamlload.h"

#define CONFIG_FILE_MAX		(1024 * 1024)	/* larger files are refused */
#define CONFIG_SEEN_MAX		64	/* keys a file may give (each once) */
#define CONFIG_GROUP_MAX	32	/* longest group name */

#define CONFIG_KIB		1024ULL
#define CONFIG_MIB		(1024ULL * 1024)
#define CONFIG_GIB		(1024ULL * 1024 * 1024)
#define CONFIG_SEC		1000ULL		/* durations are in ms */
#define CONFIG_HOUR		(3600ULL * CONFIG_SEC)
#define CONFIG_WEEK		(7 * 24 * CONFIG_HOUR)

enum config_type {
	CONFIG_TABLE,		/* a mapping of further options */
	CONFIG_STRING,		/* char * */
	CONFIG_ADDRS,		/* char ** and a size_t count */
	CONFIG_MODE,		/* mode_t, written in octal */
	CONFIG_UINT,		/* unsigned */
	CONFIG_SIZE,		/* size_t bytes, optional k, m or g suffix */
	CONFIG_DURATION,	/* int64_t ms, time_parse_duration() syntax */
	CONFIG_BOOL,		/* int, 0 or 1: true/false, yes/no, on/off */
	CONFIG_ROUTES,		/* struct routes *, read as a tree (routes.c) */
	CONFIG_CLIENTS		/* struct access *, read as a tree (access.c) */
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
	size_t				 off_tls; /* int *, CONFIG_ADDRS */
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
	{ n, CONFIG_STRING, CONFIG_OFF(f), 0, 0, fl, 0, 0, d, c, NULL }
#define CONFIG_LIST(n, f, nf, tf, fl, d, c) \
	{ n, CONFIG_ADDRS, CONFIG_OFF(f), CONFIG_OFF(nf), CONFIG_OFF(tf), fl, \
	    0, 0, d, c, NULL }
#define CONFIG_NUM(n, t, f, lo, hi, d, c) \
	{ n, t, CONFIG_OFF(f), 0, 0, 0, lo, hi, d, c, NULL }
#define CONFIG_FLAG(n, f, d) \
	{ n, CONFIG_BOOL, CONFIG_OFF(f), 0, 0, 0, 0, 1, d, NULL, NULL }
#define CONFIG_TREE(n, t, f) \
	{ n, t, CONFIG_OFF(f), 0, 0, 0, 0, 0, NULL, NULL, NULL }
#define CONFIG_SUB(n, t) \
	{ n, CONFIG_TABLE, 0, 0, 0, 0, 0, 0, NULL, NULL, t }
#define CONFIG_END \
	{ NULL, CONFIG_TABLE, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL }

/* A field of conf, as the type the option stores. */
#define CONFIG_FIELD(conf, off, type) \
	((type *)(void *)((char *)(conf) + (off)))

/* Where entry i of a list option was given, for the whole-file checks. */
struct config_entry {
	const struct config_option	*opt;
	size_t				 i;
	yaml_mark_t			 mark;
};

/* Reading one file: the event reader, its errors, and what was found. */
struct config_parse {
	struct yl_errors		 errs;
	struct yl_reader		 rd;
	struct config			*conf;
	const struct config_option	*seen[CONFIG_SEEN_MAX];
	yaml_mark_t			 seen_mark[CONFIG_SEEN_MAX];
	size_t				 nseen;
	struct config_entry		*entries;	/* of address lists */
	size_t				 nentries;
};

static char	*config_check_socket(const char *, const char *, uint64_t);
static char	*config_check_mode(const char *, const char *, uint64_t);
static char	*config_check_sub_mode(const char *, const char *, uint64_t);
static char	*config_check_http_mode(const char *, const char *, uint64_t);
static char	*config_check_group(const char *, const char *, uint64_t);
static char	*config_check_addr(const char *, const char *, uint64_t);
static char	*config_check_level(const char *, const char *, uint64_t);
static char	*config_check_event_rate(const char *, const char *,
		    uint64_t);
static char	*config_check_time_of_day(const char *, const char *,
		    uint64_t);
static char	*config_check_tls_version(const char *, const char *,
		    uint64_t);
static void	 config_parse_value(struct config_parse *,
		     const struct config_option *);

static const struct config_option config_listen[] = {
	CONFIG_STR("unix", unix_path, CONFIG_EMPTY_OFF, CONFIG_DEFAULT_UNIX,
	    config_check_socket),
	CONFIG_NUM("unix_mode", CONFIG_MODE, unix_mode, 0600, 0777, "0660",
	    config_check_mode),
	CONFIG_STR("unix_group", unix_group, CONFIG_EMPTY_OFF, NULL,
	    config_check_group),
	CONFIG_LIST("tcp", tcp, ntcp, tcp_tls, CONFIG_EMPTY_OFF,
	    CONFIG_DEFAULT_TCP, config_check_addr),
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
	/* the bound is in the check, whose message says what to do */
	CONFIG_NUM("max_events_per_second", CONFIG_UINT, max_events_per_second,
	    0, UINT32_MAX, "1000", config_check_event_rate),
	CONFIG_END
};

/* Alert streams (subscribe.c); TCP as listen.tcp. */
static const struct config_option config_subscribers[] = {
	CONFIG_STR("unix", sub_unix_path, CONFIG_EMPTY_OFF,
	    CONFIG_DEFAULT_SUB_UNIX, config_check_socket),
	CONFIG_NUM("unix_mode", CONFIG_MODE, sub_unix_mode, 0600, 0777, "0660",
	    config_check_sub_mode),
	CONFIG_STR("unix_group", sub_unix_group, CONFIG_EMPTY_OFF, NULL,
	    config_check_group),
	CONFIG_LIST("tcp", sub_tcp, sub_ntcp, sub_tcp_tls, CONFIG_EMPTY_OFF,
	    CONFIG_DEFAULT_SUB_TCP, config_check_addr),
	CONFIG_NUM("max_buffer_bytes", CONFIG_SIZE, sub_max_buffer_bytes,
	    4 * CONFIG_KIB, CONFIG_GIB, "1048576", NULL),
	CONFIG_NUM("max_subscribers", CONFIG_UINT, sub_max_subscribers,
	    1, 65535, "64", NULL),
	CONFIG_END
};

/* The HTTP API (http.c, docs/api.md); TCP as listen.tcp. */
static const struct config_option config_http[] = {
	CONFIG_STR("unix", http_unix_path, CONFIG_EMPTY_OFF,
	    CONFIG_DEFAULT_HTTP_UNIX, config_check_socket),
	CONFIG_NUM("unix_mode", CONFIG_MODE, http_unix_mode, 0600, 0777,
	    "0660", config_check_http_mode),
	CONFIG_STR("unix_group", http_unix_group, CONFIG_EMPTY_OFF, NULL,
	    config_check_group),
	CONFIG_LIST("tcp", http_tcp, http_ntcp, http_tcp_tls, CONFIG_EMPTY_OFF,
	    CONFIG_DEFAULT_HTTP_TCP, config_check_addr),
	CONFIG_NUM("max_body_bytes", CONFIG_SIZE, http_max_body_bytes,
	    256, 16 * CONFIG_MIB, "65536", NULL),
	CONFIG_NUM("max_header_bytes", CONFIG_SIZE, http_max_header_bytes,
	    CONFIG_KIB, CONFIG_MIB, "16384", NULL),
	CONFIG_NUM("timeout", CONFIG_DURATION, http_timeout_ms,
	    CONFIG_SEC, CONFIG_HOUR, "30s", NULL),
	CONFIG_NUM("max_connections", CONFIG_UINT, http_max_connections,
	    1, 65535, "64", NULL),
	CONFIG_END
};

/* Webhook delivery (dispatch.c). */
static const struct config_option config_delivery[] = {
	CONFIG_NUM("retry_initial", CONFIG_DURATION, retry_initial_ms,
	    1, CONFIG_HOUR, "2s", NULL),
	CONFIG_NUM("retry_max", CONFIG_DURATION, retry_max_ms,
	    1, CONFIG_WEEK, "10m", NULL),
	CONFIG_NUM("give_up_after", CONFIG_DURATION, give_up_after_ms,
	    100, 4 * CONFIG_WEEK, "24h", NULL),
	CONFIG_NUM("max_in_flight", CONFIG_UINT, max_in_flight,
	    1, 1024, "16", NULL),
	CONFIG_END
};

/*
 * Retention (retention.c, docs/security.md).  The default period, seven
 * years (2557 days), is the minimum six years the police information
 * guidance holds records for before a review, plus a year for that
 * review; the force decides and sets its own.
 */
static const struct config_option config_retention[] = {
	CONFIG_NUM("period", CONFIG_DURATION, retention_period_ms,
	    24 * CONFIG_HOUR, 36525 * 24 * CONFIG_HOUR, "2557d", NULL),
	CONFIG_STR("purge_at", retention_purge_at, 0, "03:00",
	    config_check_time_of_day),
	CONFIG_NUM("batch_rows", CONFIG_UINT, retention_batch_rows,
	    10, 100000, "1000", NULL),
	CONFIG_END
};

/*
 * TLS for the TCP listeners (tls.c): the server's certificate and key,
 * the CAs client certificates must chain to, and the one way to run a
 * non-loopback listener without it.
 */
static const struct config_option config_tls[] = {
	CONFIG_STR("cert", tls_cert, CONFIG_EMPTY_OFF, NULL, NULL),
	CONFIG_STR("key", tls_key, CONFIG_EMPTY_OFF, NULL, NULL),
	CONFIG_STR("ca", tls_ca, CONFIG_EMPTY_OFF, NULL, NULL),
	CONFIG_STR("min_version", tls_min_version, 0, "1.2",
	    config_check_tls_version),
	CONFIG_FLAG("insecure_plaintext_nonloopback", tls_insecure, "false"),
	CONFIG_END
};

/* Who may do what (access.c). */
static const struct config_option config_access[] = {
	CONFIG_STR("local", access_local, 0, "all", NULL),
	CONFIG_TREE("clients", CONFIG_CLIENTS, access),
	CONFIG_END
};

static const struct config_option config_top[] = {
	CONFIG_SUB("listen", config_listen),
	CONFIG_STR("database", database, 0, CONFIG_DEFAULT_DB, NULL),
	CONFIG_STR("rules", rules, 0, CONFIG_DEFAULT_RULES, NULL),
	CONFIG_STR("log_level", log_level, 0, "info", config_check_level),
	CONFIG_SUB("limits", config_limits),
	CONFIG_SUB("subscribers", config_subscribers),
	CONFIG_SUB("delivery", config_delivery),
	CONFIG_SUB("http", config_http),
	CONFIG_TREE("routes", CONFIG_ROUTES, routes),
	CONFIG_SUB("retention", config_retention),
	CONFIG_SUB("tls", config_tls),
	CONFIG_SUB("access", config_access),
	CONFIG_END
};

/* Options in a table, without its end marker. */
#define CONFIG_NOPTS(t)	(sizeof (t) / sizeof (t)[0] - 1)

/* Every key given once must fit in the parser's seen slots. */
_Static_assert(CONFIG_NOPTS(config_top) + CONFIG_NOPTS(config_listen) +
    CONFIG_NOPTS(config_limits) + CONFIG_NOPTS(config_subscribers) +
    CONFIG_NOPTS(config_delivery) + CONFIG_NOPTS(config_http) +
    CONFIG_NOPTS(config_tls) + CONFIG_NOPTS(config_access) <=
    CONFIG_SEEN_MAX, "CONFIG_SEEN_MAX is below the number of options; "
    "raise it (and add new sections here)");

/* The document itself: a mapping with no name. */
static const struct config_option config_root = CONFIG_SUB(NULL, config_top);

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

/* The key in table that key is most likely a typo of, or NULL. */
static const char *
config_nearest(const struct config_option *table, const char *key)
{
	const struct config_option	*opt;
	struct yl_near			 near;

	yl_near_init(&near, key);
	for (opt = table; opt->name != NULL; opt++)
		yl_near_try(&near, opt->name);
	return yl_near_best(&near);
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
			yl_error(&cp->errs, mark, "unknown key '%s' under %s; "
			    "it belongs at the top level", key, where);
		else
			yl_error(&cp->errs, mark, "unknown key '%s' under %s; "
			    "it belongs under '%s'", key, where, home->name);
	} else if ((near = config_nearest(parent->table, key)) != NULL)
		yl_error(&cp->errs, mark, "unknown key '%.*s%s' under %s; did "
		    "you mean '%s'?", YL_SHOW(key), where, near);
	else {
		keys[0] = '\0';
		for (opt = parent->table; opt->name != NULL; opt++) {
			len += snprintf(keys + len, sizeof keys - len, "%s%s",
			    opt == parent->table ? "" : ", ", opt->name);
			if (len >= sizeof keys)
				break;	/* cannot happen: the names are short */
		}
		yl_error(&cp->errs, mark, "unknown key '%.*s%s' under %s; the "
		    "keys there are %s", YL_SHOW(key), where, keys);
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
		    YL_SHOW(text));
		break;
	case CONFIG_SIZE:
		xasprintf(&why, "%s '%.*s%s' is not a size; write a whole "
		    "number of bytes, optionally followed by k, m or g, as in "
		    "64k", opt->name, YL_SHOW(text));
		break;
	case CONFIG_DURATION:
		xasprintf(&why, "%s '%.*s%s' is not a duration; write a whole "
		    "number and one unit (ms, s, m, h, d or w), as in 300s",
		    opt->name, YL_SHOW(text));
		break;
	default:
		xasprintf(&why, "%s '%.*s%s' is not a whole number; write "
		    "digits only, with no sign", opt->name, YL_SHOW(text));
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
	int	**tls;
	size_t	  i, *n;

	if (opt->type == CONFIG_STRING) {
		s = CONFIG_FIELD(conf, opt->off, char *);
		free(*s);
		*s = NULL;
	} else if (opt->type == CONFIG_ROUTES) {
		routes_free(*CONFIG_FIELD(conf, opt->off, struct routes *));
		*CONFIG_FIELD(conf, opt->off, struct routes *) = NULL;
	} else if (opt->type == CONFIG_CLIENTS) {
		access_free(*CONFIG_FIELD(conf, opt->off, struct access *));
		*CONFIG_FIELD(conf, opt->off, struct access *) = NULL;
	} else if (opt->type == CONFIG_ADDRS) {
		list = CONFIG_FIELD(conf, opt->off, char **);
		tls = CONFIG_FIELD(conf, opt->off_tls, int *);
		n = CONFIG_FIELD(conf, opt->off_n, size_t);
		for (i = 0; i < *n; i++)
			free((*list)[i]);
		free(*list);
		free(*tls);
		*list = NULL;
		*tls = NULL;
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
	int	**tls = CONFIG_FIELD(conf, opt->off_tls, int *);
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
			    opt->name, YL_SHOW(text));
			return why;
		}
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	*tls = xreallocarray(*tls, *n + 1, sizeof **tls);
	(*tls)[*n] = -1;	/* not said: decided by config_check_tcp() */
	(*list)[(*n)++] = xstrdup(text);
	return NULL;
}

/* Store a boolean option from text. */
static char *
config_set_bool(struct config *conf, const struct config_option *opt,
    const char *text)
{
	char	*why;
	int	 flag;

	if (yl_bool_word(text, &flag) == -1) {
		xasprintf(&why, "%s must be true or false, not '%.*s%s'",
		    opt->name, YL_SHOW(text));
		return why;
	}
	*CONFIG_FIELD(conf, opt->off, int) = flag;
	return NULL;
}

/* Store text as opt's value: NULL, or why not (caller frees). */
static char *
config_set(struct config *conf, const struct config_option *opt,
    const char *text)
{
	switch (opt->type) {
	case CONFIG_TABLE:
	case CONFIG_ROUTES:
	case CONFIG_CLIENTS:
		break;
	case CONFIG_STRING:
		return config_set_string(conf, opt, text);
	case CONFIG_ADDRS:
		return config_add_addr(conf, opt, text);
	case CONFIG_BOOL:
		return config_set_bool(conf, opt, text);
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

/* Refuse socket modes that let every local user connect and do what. */
static char *
config_mode_why(const char *name, uint64_t mode, const char *what)
{
	char	*why;

	if ((mode & 07) == 0)
		return NULL;
	xasprintf(&why, "%s %04llo lets every local user connect to the "
	    "socket and %s; clear the last digit (for example %04llo) and use "
	    "unix_group to admit other users", name, (unsigned long long)mode,
	    what, (unsigned long long)(mode & ~07ULL));
	return why;
}

/* listen.unix_mode. */
static char *
config_check_mode(const char *name, const char *text, uint64_t mode)
{
	(void)text;
	return config_mode_why(name, mode, "submit events");
}

/* subscribers.unix_mode: the streams carry and acknowledge alerts. */
static char *
config_check_sub_mode(const char *name, const char *text, uint64_t mode)
{
	(void)text;
	return config_mode_why(name, mode, "subscribe to alerts about "
	    "children and acknowledge them");
}

/* http.unix_mode: whoever connects holds every role of the API. */
static char *
config_check_http_mode(const char *name, const char *text, uint64_t mode)
{
	(void)text;
	return config_mode_why(name, mode, "use the HTTP API, which reads "
	    "children's briefs, acknowledges alerts and reloads the rules");
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
	    "letters, digits, '.', '_' or '-', not starting with '-' (a "
	    "final '$' is allowed)", name, YL_SHOW(text), CONFIG_GROUP_MAX);
	return why;
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
			    "IPv6 address", name, YL_SHOW(text), host);
	} else if (*host == '\0')
		xasprintf(&why, "%s address '%.*s%s' has no host; write a "
		    "loopback address, 127.0.0.1 or [::1], before the ':'",
		    name, YL_SHOW(text));
	else if (strchr(host, ':') != NULL)
		xasprintf(&why, "%s address '%.*s%s' looks like an IPv6 "
		    "address; put it in brackets, as in [::1]:7470", name,
		    YL_SHOW(text));
	else if (strspn(host, "0123456789.") == strlen(host)) {
		if (inet_pton(AF_INET, host, &a4) != 1)
			xasprintf(&why, "%s address '%.*s%s': '%s' is not an "
			    "IPv4 address", name, YL_SHOW(text), host);
	} else if (!yl_is_hostname(host, 0))
		xasprintf(&why, "%s address '%.*s%s': '%.*s%s' is not a valid "
		    "host name", name, YL_SHOW(text), YL_SHOW(host));
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
			    "closing ']'", name, YL_SHOW(text));
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
		    "host:port, as in %s", name, YL_SHOW(text),
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
	/* port 0: the kernel picks a free port, and the log says which */
	if (config_digits(port, strlen(port), &v) == -1 || v > 65535) {
		xasprintf(&why, "%s address '%.*s%s' needs a port number "
		    "from 0 to 65535 after the last ':' (0: any free port)",
		    name, YL_SHOW(text));
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
	    name, YL_SHOW(text));
	return why;
}

/* limits.max_events_per_second: 0 (off) or a rate a connection can use. */
static char *
config_check_event_rate(const char *name, const char *text, uint64_t v)
{
	char	*why;

	if (v <= CONFIG_EVENT_RATE_MAX)
		return NULL;
	xasprintf(&why, "%s '%.*s%s' is more than %u events a second on one "
	    "connection; write at most %u, or 0 to turn the limit off (for a "
	    "bulk import)", name, YL_SHOW(text), CONFIG_EVENT_RATE_MAX,
	    CONFIG_EVENT_RATE_MAX);
	return why;
}

/* A time of day, "HH:MM" in UTC. */
static char *
config_check_time_of_day(const char *name, const char *text, uint64_t len)
{
	char	*why;
	int64_t	 ms;

	(void)len;
	if (time_parse_time_of_day(text, &ms) == 0)
		return NULL;
	xasprintf(&why, "%s '%.*s%s' is not a time of day; write HH:MM in "
	    "UTC, from 00:00 to 23:59, as in \"03:00\"", name, YL_SHOW(text));
	return why;
}

/* Check a TLS version: 1.2 or 1.3 (older ones are not offered at all). */
static char *
config_check_tls_version(const char *name, const char *text, uint64_t len)
{
	char	*why;

	(void)len;
	if (strcmp(text, "1.2") == 0 || strcmp(text, "1.3") == 0)
		return NULL;
	xasprintf(&why, "%s '%.*s%s' is not 1.2 or 1.3; versions before TLS "
	    "1.2 are never accepted", name, YL_SHOW(text));
	return why;
}

/* The text of the current scalar, or NULL (reported) if it holds a NUL. */
static const char *
config_scalar_text(struct config_parse *cp, const struct config_option *opt)
{
	const char	*text = (const char *)cp->rd.ev.data.scalar.value;

	if (yl_event_text_ok(&cp->rd.ev))
		return text;
	yl_error(&cp->errs, &cp->rd.ev.start_mark, "%s contains a NUL "
	    "character", opt->name);
	return NULL;
}

/* Note where the entry just added to list option opt was given. */
static void
config_entry_add(struct config_parse *cp, const struct config_option *opt,
    const yaml_mark_t *mark)
{
	size_t	 n = *CONFIG_FIELD(cp->conf, opt->off_n, size_t);

	cp->entries = xreallocarray(cp->entries, cp->nentries + 1,
	    sizeof *cp->entries);
	cp->entries[cp->nentries].opt = opt;
	cp->entries[cp->nentries].i = n - 1;
	cp->entries[cp->nentries++].mark = *mark;
}

/* Store text as an entry of list option opt, given at mark. */
static void
config_add_entry(struct config_parse *cp, const struct config_option *opt,
    const char *text, const yaml_mark_t *mark)
{
	char	*why;

	if ((why = config_set(cp->conf, opt, text)) != NULL) {
		yl_error(&cp->errs, mark, "%s", why);
		free(why);
		return;
	}
	config_entry_add(cp, opt, mark);
}

/*
 * Decode an address entry written as a mapping (the current event starts
 * it): {address: "host:port", tls: true}.
 */
static void
config_parse_addr_map(struct config_parse *cp,
    const struct config_option *opt)
{
	static const char *const keys[] = { "address", "tls" };
	struct yl_node		*node;
	const struct yl_node	*a, *t;
	const char		*text;
	int			*tls, flag;
	size_t			 i, n;

	if ((node = yl_read_node(&cp->rd)) == NULL)
		return;
	for (i = 0; i < node->n; i++) {
		if (strcmp(node->pairs[i].key, keys[0]) != 0 &&
		    strcmp(node->pairs[i].key, keys[1]) != 0)
			yl_unknown(&cp->errs, &node->pairs[i].mark, "key",
			    node->pairs[i].key, "a tcp entry", keys, 2);
	}
	if ((a = yl_get(node, "address")) == NULL)
		yl_error(&cp->errs, &node->mark, "a %s entry written as a "
		    "mapping needs an address, as in {address: "
		    "\"0.0.0.0:7470\", tls: true}", opt->name);
	else if ((text = yl_scalar(&cp->errs, a, "address")) != NULL) {
		n = *CONFIG_FIELD(cp->conf, opt->off_n, size_t);
		config_add_entry(cp, opt, text, &a->mark);
		t = yl_get(node, "tls");
		if (*CONFIG_FIELD(cp->conf, opt->off_n, size_t) > n &&
		    t != NULL && yl_bool(&cp->errs, t, "tls", &flag) == 0) {
			tls = *CONFIG_FIELD(cp->conf, opt->off_tls, int *);
			tls[n] = flag;
		}
	}
	yl_node_free(node);
}

/* Decode the current scalar as opt's value. */
static void
config_parse_scalar(struct config_parse *cp, const struct config_option *opt)
{
	const char	*text;
	char		*why;

	if ((text = config_scalar_text(cp, opt)) == NULL)
		return;
	if (yl_event_is_null(&cp->rd.ev) ||
	    (*text == '\0' && (opt->flags & CONFIG_EMPTY_OFF))) {
		if (opt->flags & CONFIG_EMPTY_OFF)
			config_clear(cp->conf, opt);
		else
			yl_error(&cp->errs, &cp->rd.ev.start_mark, "%s needs "
			    "a value", opt->name);
		return;
	}
	if (opt->type == CONFIG_ADDRS) {
		config_clear(cp->conf, opt);	/* one entry replaces all */
		config_add_entry(cp, opt, text, &cp->rd.ev.start_mark);
		return;
	}
	if ((why = config_set(cp->conf, opt, text)) != NULL) {
		yl_error(&cp->errs, &cp->rd.ev.start_mark, "%s", why);
		free(why);
	}
}

/* Decode a list (the current event starts it) into a list option. */
static void
config_parse_list(struct config_parse *cp, const struct config_option *opt)
{
	const char	*text;

	config_clear(cp->conf, opt);
	for (;;) {
		if (yl_next(&cp->rd) == -1 ||
		    cp->rd.ev.type == YAML_SEQUENCE_END_EVENT)
			return;
		if (cp->rd.ev.type == YAML_MAPPING_START_EVENT) {
			config_parse_addr_map(cp, opt);	/* checks props */
			continue;
		}
		yl_check_props(&cp->rd);
		if (cp->rd.ev.type != YAML_SCALAR_EVENT) {
			yl_error(&cp->errs, &cp->rd.ev.start_mark, "each %s "
			    "entry must be an address or a mapping {address, "
			    "tls}, not %s", opt->name,
			    yl_event_kind(&cp->rd.ev));
			yl_skip(&cp->rd);
			continue;
		}
		if ((text = config_scalar_text(cp, opt)) == NULL)
			continue;
		config_add_entry(cp, opt, text, &cp->rd.ev.start_mark);
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
		if (yl_next(&cp->rd) == -1 ||
		    cp->rd.ev.type == YAML_MAPPING_END_EVENT)
			return;
		if (cp->rd.ev.type != YAML_SCALAR_EVENT) {
			yl_skip_bad_key(&cp->rd);
			continue;
		}
		yl_check_props(&cp->rd);
		key = xstrdup((const char *)cp->rd.ev.data.scalar.value);
		mark = cp->rd.ev.start_mark;
		opt = config_find(parent->table, key);

		/* State: the value of key. */
		if (yl_next(&cp->rd) == -1) {
			free(key);
			return;
		}
		if (opt == NULL) {
			config_unknown(cp, parent, key, &mark);
			yl_skip(&cp->rd);
		} else if ((first = config_seen(cp, opt)) != NULL) {
			yl_error(&cp->errs, &mark, "duplicate key '%s'; it was "
			    "first given at line %zu", key, first->line + 1);
			yl_skip(&cp->rd);
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
	yl_error(&cp->errs, &cp->rd.ev.start_mark, "%s must be %s, not %s",
	    opt->name != NULL ? opt->name : "the configuration", want,
	    yl_event_kind(&cp->rd.ev));
	yl_skip(&cp->rd);
}

/* Hand the routes: subtree to routes.c, which reads it as a tree. */
static void
config_parse_routes(struct config_parse *cp, const struct config_option *opt)
{
	struct routes	**rs = CONFIG_FIELD(cp->conf, opt->off, struct routes *);
	struct yl_node	 *node;

	if ((node = yl_read_node(&cp->rd)) == NULL)
		return;
	routes_free(*rs);
	*rs = routes_parse(&cp->errs, node);
	yl_node_free(node);
}

/* Hand the access.clients: subtree to access.c, which reads it as a tree. */
static void
config_parse_clients(struct config_parse *cp, const struct config_option *opt)
{
	struct access	**acc = CONFIG_FIELD(cp->conf, opt->off,
			    struct access *);
	struct yl_node	 *node;

	if ((node = yl_read_node(&cp->rd)) == NULL)
		return;
	access_free(*acc);
	*acc = access_parse(&cp->errs, node);
	yl_node_free(node);
}

/* Decode the node that starts with the current event as opt's value. */
static void
config_parse_value(struct config_parse *cp, const struct config_option *opt)
{
	yaml_event_type_t	 type = cp->rd.ev.type;

	if (opt->type == CONFIG_ROUTES) {
		config_parse_routes(cp, opt);	/* checks aliases and tags */
		return;
	}
	if (opt->type == CONFIG_CLIENTS) {
		config_parse_clients(cp, opt);	/* likewise */
		return;
	}
	if (yl_alias(&cp->rd))
		return;
	yl_check_props(&cp->rd);
	if (opt->type == CONFIG_TABLE) {
		if (type == YAML_MAPPING_START_EVENT)
			config_parse_table(cp, opt);
		else if (type != YAML_SCALAR_EVENT ||
		    !yl_event_is_null(&cp->rd.ev))
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
	if (yl_stream_begin(&cp->rd) != 1)
		return;
	config_parse_value(cp, &config_root);
	yl_stream_end(&cp->rd, "the configuration");
}

/* Where entry i of opt was given; else where sec was; else the start. */
static const yaml_mark_t *
config_entry_mark(struct config_parse *cp, const struct config_option *sec,
    const struct config_option *opt, size_t i, const yaml_mark_t *start)
{
	const yaml_mark_t	*mark;
	size_t			 k;

	for (k = 0; k < cp->nentries; k++) {
		if (cp->entries[k].opt == opt && cp->entries[k].i == i)
			return &cp->entries[k].mark;
	}
	if ((mark = config_seen(cp, sec)) != NULL)
		return mark;
	return start;
}

/* Settle TLS for every entry of every address list that did not say. */
static void
config_resolve_tls(struct config *conf)
{
	const struct config_option	*sec, *opt;
	char				**list;
	int				 *tls;
	size_t				  i, n;

	for (sec = config_top; sec->name != NULL; sec++) {
		if (sec->type != CONFIG_TABLE)
			continue;
		for (opt = sec->table; opt->name != NULL; opt++) {
			if (opt->type != CONFIG_ADDRS)
				continue;
			list = *CONFIG_FIELD(conf, opt->off, char **);
			tls = *CONFIG_FIELD(conf, opt->off_tls, int *);
			n = *CONFIG_FIELD(conf, opt->off_n, size_t);
			/* off the loopback, TLS whenever it is configured */
			for (i = 0; i < n; i++)
				if (tls[i] == -1)
					tls[i] = !config_addr_loopback(list[i])
					    && CONFIG_TLS_ON(conf);
		}
	}
}

/*
 * The TCP listeners of sec.opt: one with TLS needs tls: configured, and
 * one off the loopback address without TLS is refused unless
 * tls.insecure_plaintext_nonloopback says otherwise.
 */
static void
config_check_tcp(struct config_parse *cp, const struct config_option *sec,
    const struct config_option *opt, const yaml_mark_t *start)
{
	struct config		*conf = cp->conf;
	char			**list = *CONFIG_FIELD(conf, opt->off, char **);
	int			 *tls;
	size_t			  i, n;
	const yaml_mark_t	 *mark;

	tls = *CONFIG_FIELD(conf, opt->off_tls, int *);
	n = *CONFIG_FIELD(conf, opt->off_n, size_t);

	for (i = 0; i < n; i++) {
		mark = config_entry_mark(cp, sec, opt, i, start);
		if (tls[i] && !CONFIG_TLS_ON(conf))
			yl_error(&cp->errs, mark, "%s.%s '%.*s%s' uses TLS, "
			    "which needs tls.cert, tls.key and tls.ca",
			    sec->name, opt->name, YL_SHOW(list[i]));
		else if (!tls[i] && !config_addr_loopback(list[i]) &&
		    !conf->tls_insecure)
			yl_error(&cp->errs, mark, "%s.%s '%.*s%s' is not a "
			    "loopback address, and data about children must "
			    "not cross a network in clear: configure tls "
			    "(cert, key and ca: mutual TLS), or, only on a "
			    "network you trust, set "
			    "tls.insecure_plaintext_nonloopback: true",
			    sec->name, opt->name, YL_SHOW(list[i]));
	}
}

/* tls: all of cert, key and ca, or none of them. */
static void
config_check_tls(struct config_parse *cp, const yaml_mark_t *start)
{
	struct config		*conf = cp->conf;
	const yaml_mark_t	*mark;
	char			 missing[32];

	if (CONFIG_TLS_ON(conf) || (conf->tls_cert == NULL &&
	    conf->tls_key == NULL && conf->tls_ca == NULL))
		return;
	if ((mark = config_seen(cp, config_find(config_top, "tls"))) == NULL)
		mark = start;
	snprintf(missing, sizeof missing, "%s%s%s%s%s",
	    conf->tls_cert == NULL ? "cert" : "",
	    conf->tls_cert == NULL && conf->tls_key == NULL ? ", " : "",
	    conf->tls_key == NULL ? "key" : "",
	    (conf->tls_cert == NULL || conf->tls_key == NULL) &&
	    conf->tls_ca == NULL ? ", " : "",
	    conf->tls_ca == NULL ? "ca" : "");
	yl_error(&cp->errs, mark, "tls needs cert, key and ca together (every "
	    "TLS client must present a certificate that ca signed); missing: "
	    "%s", missing);
}

/* access.local: all, none, or a client of access.clients. */
static void
config_check_local(struct config_parse *cp, const yaml_mark_t *start)
{
	struct config			*conf = cp->conf;
	const struct config_option	*acc, *local;
	const yaml_mark_t		*mark;

	if (strcmp(conf->access_local, "none") == 0 ||
	    access_local(conf->access, conf->access_local) != NULL)
		return;
	acc = config_find(config_top, "access");
	local = config_find(acc->table, "local");
	if ((mark = config_seen(cp, local)) == NULL)
		mark = start;
	yl_error(&cp->errs, mark, "access.local '%.*s%s' is not all, none or "
	    "the name of a client in access.clients",
	    YL_SHOW(conf->access_local));
}

/* Checks on the configuration as a whole, once every key is read. */
static void
config_check_whole(struct config_parse *cp)
{
	const struct config_option	*listen, *sec, *opt;
	const yaml_mark_t		*mark;
	yaml_mark_t			 start;

	memset(&start, 0, sizeof start);
	config_check_tls(cp, &start);
	config_check_local(cp, &start);
	config_resolve_tls(cp->conf);
	for (sec = config_top; sec->name != NULL; sec++) {
		if (sec->type != CONFIG_TABLE)
			continue;
		for (opt = sec->table; opt->name != NULL; opt++)
			if (opt->type == CONFIG_ADDRS)
				config_check_tcp(cp, sec, opt, &start);
	}
	if (cp->conf->unix_path == NULL && cp->conf->ntcp == 0) {
		memset(&start, 0, sizeof start);
		listen = config_find(config_top, "listen");
		if ((mark = config_seen(cp, listen)) == NULL)
			mark = &start;
		yl_error(&cp->errs, mark, "no listener: listen.unix and "
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
		else if (opt->type == CONFIG_CLIENTS)
			*CONFIG_FIELD(conf, opt->off, struct access *) =
			    access_new();
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
	config_resolve_tls(conf);
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
	char			*errors;

	if (cause != NULL)
		*cause = NULL;
	if (yl_size_ok(name, len, CONFIG_FILE_MAX, "a configuration",
	    cause) == -1)
		return NULL;
	memset(&cp, 0, sizeof cp);
	cp.errs.name = name;
	cp.conf = config_default();
	cp.conf->path = xstrdup(name);
	yl_reader_init(&cp.rd, &cp.errs, buf, len);

	config_parse_stream(&cp);
	if (!cp.rd.stop)
		config_check_whole(&cp);

	yl_reader_free(&cp.rd);
	free(cp.entries);
	if ((errors = yl_errors_take(&cp.errs, 0)) == NULL)
		return cp.conf;
	config_free(cp.conf);
	if (cause != NULL)
		*cause = errors;
	else
		free(errors);
	return NULL;
}

/* Read path over the defaults.  NULL with every error in *cause. */
struct config *
config_load(const char *path, char **cause)
{
	struct config	*conf;
	char		*buf;
	size_t		 len;

	if (cause != NULL)
		*cause = NULL;
	if (yl_read_file(path, CONFIG_FILE_MAX, "config", &buf, &len,
	    cause) == -1)
		return NULL;
	conf = config_load_buffer(path, buf, len, cause);
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

/* Is the host of addr a loopback literal or "localhost"? */
int
config_addr_loopback(const char *addr)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	const char	*end;
	char		 host[INET6_ADDRSTRLEN + 1];
	size_t		 n;

	if (addr[0] == '[') {
		if ((end = strchr(addr, ']')) == NULL ||
		    (n = (size_t)(end - addr - 1)) >= sizeof host)
			return 0;
		memcpy(host, addr + 1, n);
		host[n] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if ((end = strrchr(addr, ':')) == NULL ||
	    (n = (size_t)(end - addr)) >= sizeof host)
		return 0;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}
