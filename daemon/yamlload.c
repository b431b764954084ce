/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * YAML machinery shared by config.c and rules.c (see yamlload.h): the
 * error list with 1-based "name:line:col: sentence" lines and a cap, the
 * libyaml event reader that owns exactly one event at a time (so no path
 * can leak one), syntax errors with libyaml's problem and context, refusal
 * of anchors, aliases, tags and second documents, a node tree with the
 * mark of every node and key and typed reading of its values, file reading
 * with a size limit, and nearest-name suggestions by edit distance.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "log.h"
#include "xmalloc.h"
#include "yamlload.h"

/* One recorded error. */
struct yl_error {
	size_t		 line;		/* 0-based, as libyaml's marks */
	size_t		 col;
	size_t		 seq;		/* order found, to keep sorts stable */
	char		*msg;
};

/* Building a tree: the reader and the nodes made so far. */
struct yl_build {
	struct yl_reader	*rd;
	size_t			 nodes;
};

/* An index of a mapping's pairs, to find duplicate keys by sorting. */
struct yl_keyref {
	const struct yl_pair	*pair;
	size_t			 at;
};

static struct yl_node	*yl_build_node(struct yl_build *);

/* Is v, written without quotes, YAML's null? */
static int
yl_null_text(const char *v)
{
	return (*v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

/* Replace control characters so that a message stays on one line. */
static void
yl_flatten(char *msg)
{
	for (; *msg != '\0'; msg++) {
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = '?';
	}
}

/* Order errors by position, then by the order they were found. */
static int
yl_error_cmp(const void *a, const void *b)
{
	const struct yl_error	*x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Append "name:line:col: msg\n" to *text, of length *len. */
static void
yl_append_line(char **text, size_t *len, const char *name, size_t line,
    size_t col, const char *msg)
{
	char	*s;
	int	 n;

	n = xasprintf(&s, "%s:%zu:%zu: %s\n", name, line + 1, col + 1, msg);
	*text = xreallocarray(*text, *len + n + 1, 1);
	memcpy(*text + *len, s, n + 1);
	*len += n;
	free(s);
}

/* The 0-based line and column of a byte offset, for reader errors. */
static void
yl_offset_mark(const struct yl_reader *rd, size_t off, yaml_mark_t *mark)
{
	size_t	 i;

	memset(mark, 0, sizeof *mark);
	mark->index = off;
	for (i = 0; i < off && i < rd->len; i++) {
		if (rd->buf[i] == '\n') {
			mark->line++;
			mark->column = 0;
		} else if (((unsigned char)rd->buf[i] & 0xc0) != 0x80)
			mark->column++;	/* count characters, not bytes */
	}
}

/* Record libyaml's error with its problem and context, 1-based. */
static void
yl_syntax_error(struct yl_reader *rd)
{
	yaml_parser_t	*p = &rd->parser;
	yaml_mark_t	 mark;
	const char	*problem;

	problem = p->problem != NULL ? p->problem : "unknown problem";
	switch (p->error) {
	case YAML_READER_ERROR:
		yl_offset_mark(rd, p->problem_offset, &mark);
		if (p->problem_value != -1)
			yl_error(rd->errs, &mark, "YAML syntax error: %s (#%X)",
			    problem, (unsigned)p->problem_value);
		else
			yl_error(rd->errs, &mark, "YAML syntax error: %s",
			    problem);
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		if (p->context != NULL)
			yl_error(rd->errs, &p->problem_mark, "YAML syntax "
			    "error: %s (%s at line %zu, column %zu)", problem,
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
		else
			yl_error(rd->errs, &p->problem_mark,
			    "YAML syntax error: %s", problem);
		break;
	default:
		yl_error(rd->errs, &p->problem_mark, "YAML error: %s", problem);
		break;
	}
}

/* Optimal string alignment distance between two short strings. */
static size_t
yl_distance(const char *a, const char *b)
{
	unsigned char	 d[YL_KEY_MAX + 1][YL_KEY_MAX + 1];
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

/* A new node of type at the current event, counted against the limit. */
static struct yl_node *
yl_new_node(struct yl_build *b, enum yl_type type)
{
	struct yl_node	*node;

	if (++b->nodes > YL_NODES_MAX) {
		yl_error(b->rd->errs, &b->rd->ev.start_mark, "more than %d "
		    "values in one file; split it or simplify it",
		    YL_NODES_MAX);
		b->rd->stop = 1;
		return NULL;
	}
	node = xcalloc(1, sizeof *node);
	node->type = type;
	node->mark = b->rd->ev.start_mark;
	return node;
}

/* A scalar node from the current scalar event (or alias, as a null). */
static struct yl_node *
yl_build_scalar(struct yl_build *b)
{
	struct yl_node	*node;
	yaml_event_t	*ev = &b->rd->ev;

	if ((node = yl_new_node(b, YL_SCALAR)) == NULL)
		return NULL;
	if (ev->type == YAML_ALIAS_EVENT) {
		node->text = xstrdup("");
		node->plain = 1;	/* a null: the alias was refused */
		return node;
	}
	if (!yl_event_text_ok(ev))
		yl_error(b->rd->errs, &ev->start_mark, "this value contains a "
		    "NUL character");
	node->text = xstrdup((const char *)ev->data.scalar.value);
	node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return node;
}

/* A list node: items until SEQUENCE-END.  NULL if reading stopped. */
static struct yl_node *
yl_build_list(struct yl_build *b)
{
	struct yl_node	*node, *item;

	if ((node = yl_new_node(b, YL_LIST)) == NULL)
		return NULL;
	for (;;) {
		if (yl_next(b->rd) == -1) {
			yl_node_free(node);
			return NULL;
		}
		if (b->rd->ev.type == YAML_SEQUENCE_END_EVENT)
			return node;
		if ((item = yl_build_node(b)) == NULL) {
			yl_node_free(node);
			return NULL;
		}
		node->items = xreallocarray(node->items, node->n + 1,
		    sizeof *node->items);
		node->items[node->n++] = item;
	}
}

/* Order key references by key, then by position in the mapping. */
static int
yl_keyref_cmp(const void *a, const void *b)
{
	const struct yl_keyref	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->pair->key, y->pair->key)) != 0)
		return c;
	return x->at < y->at ? -1 : x->at > y->at;
}

/*
 * Refuse every key of node given a second time, pointing at the first,
 * and keep only the first.  Sorting keeps this n log n for big mappings.
 */
static void
yl_drop_duplicates(struct yl_build *b, struct yl_node *node)
{
	struct yl_keyref	*refs;
	struct yl_pair		*p;
	size_t			*first, i, j, group = 0;

	if (node->n < 2)
		return;
	refs = xreallocarray(NULL, node->n, sizeof *refs);
	first = xcalloc(node->n, sizeof *first);
	for (i = 0; i < node->n; i++) {
		refs[i].pair = &node->pairs[i];
		refs[i].at = i;
	}
	qsort(refs, node->n, sizeof *refs, yl_keyref_cmp);
	/* first[i]: the line where pair i's key was first given, or 0. */
	for (i = 1; i < node->n; i++) {
		if (strcmp(refs[i].pair->key, refs[group].pair->key) != 0)
			group = i;
		else
			first[refs[i].at] = refs[group].pair->mark.line + 1;
	}
	for (i = 0, j = 0; i < node->n; i++) {
		p = &node->pairs[i];
		if (first[i] == 0) {
			node->pairs[j++] = *p;
			continue;
		}
		yl_error(b->rd->errs, &p->mark, "duplicate key '%.*s%s'; it was "
		    "first given at line %zu", YL_SHOW(p->key), first[i]);
		free(p->key);
		yl_node_free(p->value);
	}
	node->n = j;
	free(first);
	free(refs);
}

/* A mapping node: pairs until MAPPING-END.  NULL if reading stopped. */
static struct yl_node *
yl_build_map(struct yl_build *b)
{
	struct yl_reader	*rd = b->rd;
	struct yl_node		*node, *value;
	yaml_mark_t		 mark;
	char			*key;

	if ((node = yl_new_node(b, YL_MAP)) == NULL)
		return NULL;
	for (;;) {
		/* State: expecting a key or the end of the mapping. */
		if (yl_next(rd) == -1)
			goto stopped;
		if (rd->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (rd->ev.type != YAML_SCALAR_EVENT) {
			yl_skip_bad_key(rd);
			continue;
		}
		yl_check_props(rd);
		if (!yl_event_text_ok(&rd->ev))
			yl_error(rd->errs, &rd->ev.start_mark, "this key "
			    "contains a NUL character");
		key = xstrdup((const char *)rd->ev.data.scalar.value);
		mark = rd->ev.start_mark;

		/* State: the value of key. */
		if (yl_next(rd) == -1 || (value = yl_build_node(b)) == NULL) {
			free(key);
			goto stopped;
		}
		node->pairs = xreallocarray(node->pairs, node->n + 1,
		    sizeof *node->pairs);
		node->pairs[node->n].key = key;
		node->pairs[node->n].mark = mark;
		node->pairs[node->n++].value = value;
	}
	yl_drop_duplicates(b, node);
	return node;

stopped:
	yl_drop_duplicates(b, node);	/* report what was read before */
	yl_node_free(node);
	return NULL;
}

/* The node that starts with the current event.  NULL if reading stopped. */
static struct yl_node *
yl_build_node(struct yl_build *b)
{
	struct yl_node	*node;

	if (yl_alias(b->rd))
		node = yl_build_scalar(b);
	else {
		yl_check_props(b->rd);
		switch (b->rd->ev.type) {
		case YAML_SEQUENCE_START_EVENT:
			node = yl_build_list(b);
			break;
		case YAML_MAPPING_START_EVENT:
			node = yl_build_map(b);
			break;
		default:
			node = yl_build_scalar(b);
			break;
		}
	}
	if (node != NULL && (b->rd->stop || b->rd->errs->full)) {
		yl_node_free(node);
		return NULL;
	}
	return node;
}

/* Record an error at mark, given a va_list. */
void
yl_verror(struct yl_errors *errs, const yaml_mark_t *mark, const char *fmt,
    va_list ap)
{
	struct yl_error	*e;
	char		 msg[1024];

	if (errs->full)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	yl_flatten(msg);
	errs->list = xreallocarray(errs->list, errs->n + 1, sizeof *errs->list);
	e = &errs->list[errs->n];
	e->line = mark->line;
	e->col = mark->column;
	e->seq = errs->n++;
	e->msg = xstrdup(msg);
	if (errs->n == YL_ERRORS_MAX) {
		errs->full = 1;
		errs->full_mark = *mark;
	}
}

/* Record an error at mark; after the last one allowed, record no more. */
void
yl_error(struct yl_errors *errs, const yaml_mark_t *mark, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	yl_verror(errs, mark, fmt, ap);
	va_end(ap);
}

/* How many errors were recorded. */
size_t
yl_error_count(const struct yl_errors *errs)
{
	return errs->n;
}

/* The errors as text, one per line (caller frees), or NULL; resets. */
char *
yl_errors_take(struct yl_errors *errs, int sorted)
{
	char	*text = NULL;
	size_t	 i, len = 0;

	if (errs->n == 0)
		return NULL;
	if (sorted)
		qsort(errs->list, errs->n, sizeof *errs->list, yl_error_cmp);
	for (i = 0; i < errs->n; i++)
		yl_append_line(&text, &len, errs->name, errs->list[i].line,
		    errs->list[i].col, errs->list[i].msg);
	if (errs->full)
		yl_append_line(&text, &len, errs->name, errs->full_mark.line,
		    errs->full_mark.column, "too many errors; stopping here");
	text[len - 1] = '\0';	/* the last newline */
	yl_errors_free(errs);
	return text;
}

/* Free the recorded errors and empty the list. */
void
yl_errors_free(struct yl_errors *errs)
{
	size_t	 i;

	for (i = 0; i < errs->n; i++)
		free(errs->list[i].msg);
	free(errs->list);
	errs->list = NULL;
	errs->n = 0;
	errs->full = 0;
}

/* Set *cause, if the caller wants it, to a file-level message. */
void
yl_cause(char **cause, const char *fmt, ...)
{
	va_list	 ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		fatal("yaml", "formatting a message");
	va_end(ap);
}

/* Refuse a text longer than max. */
int
yl_size_ok(const char *name, size_t len, size_t max, const char *what,
    char **cause)
{
	if (len <= max)
		return 0;
	yl_cause(cause, "%s: the file is larger than %zu bytes, the limit for "
	    "%s", name, max, what);
	return -1;
}

/* Read up to max + 1 bytes of path.  -1 with *cause set. */
int
yl_read_file(const char *path, size_t max, const char *sub, char **buf,
    size_t *len, char **cause)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		yl_cause(cause, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	*buf = xmalloc(max + 1);
	while (*len <= max) {
		n = read(fd, *buf + *len, max + 1 - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			yl_cause(cause, "%s: cannot read: %s", path,
			    strerror(errno));
			close(fd);
			free(*buf);
			*buf = NULL;
			return -1;
		}
		if (n == 0)
			break;
		*len += n;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & S_IWOTH))
		log_warnx(sub, "%s: any user can change this file; run chmod "
		    "o-w on it", path);
	close(fd);
	return 0;
}

/* Start reading len bytes at buf. */
void
yl_reader_init(struct yl_reader *rd, struct yl_errors *errs, const char *buf,
    size_t len)
{
	memset(rd, 0, sizeof *rd);
	rd->errs = errs;
	rd->buf = buf;
	rd->len = len;
	if (!yaml_parser_initialize(&rd->parser))
		fatalx("yaml", "cannot initialise libyaml");
	yaml_parser_set_input_string(&rd->parser,
	    (const unsigned char *)(len > 0 ? buf : ""), len);
}

/* Release the parser and the current event. */
void
yl_reader_free(struct yl_reader *rd)
{
	if (rd->have_ev)
		yaml_event_delete(&rd->ev);
	rd->have_ev = 0;
	yaml_parser_delete(&rd->parser);
}

/* Replace the current event with the next; -1 when reading must stop. */
int
yl_next(struct yl_reader *rd)
{
	if (rd->have_ev) {
		yaml_event_delete(&rd->ev);
		rd->have_ev = 0;
	}
	if (rd->stop || rd->errs->full)
		return -1;
	if (!yaml_parser_parse(&rd->parser, &rd->ev)) {
		yl_syntax_error(rd);
		rd->stop = 1;
		return -1;
	}
	rd->have_ev = 1;
	switch (rd->ev.type) {
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++rd->depth > YL_DEPTH_MAX) {
			yl_error(rd->errs, &rd->ev.start_mark, "nesting is "
			    "deeper than %d levels", YL_DEPTH_MAX);
			rd->stop = 1;
			return -1;
		}
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		rd->depth--;
		break;
	default:
		break;
	}
	return 0;
}

/* Skip the node that begins with the current event, however nested. */
void
yl_skip(struct yl_reader *rd)
{
	int	 level = 0;

	for (;;) {
		switch (rd->ev.type) {
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
		if (level == 0 || yl_next(rd) == -1)
			return;
	}
}

/* Report a key that is not a scalar; skip it and its value. */
void
yl_skip_bad_key(struct yl_reader *rd)
{
	yl_error(rd->errs, &rd->ev.start_mark, "a key must be a plain name, "
	    "not %s", yl_event_kind(&rd->ev));
	yl_skip(rd);
	if (yl_next(rd) == 0)
		yl_skip(rd);	/* and its value */
}

/* Refuse anchors and explicit tags on the current node. */
void
yl_check_props(struct yl_reader *rd)
{
	yaml_event_t	*ev = &rd->ev;
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
		yl_error(rd->errs, &ev->start_mark, "anchors (&%.*s%s) are not "
		    "supported; write each value out in full",
		    YL_SHOW((const char *)anchor));
	if (tag != NULL)
		yl_error(rd->errs, &ev->start_mark, "YAML tags ('!' and '!!') "
		    "are not supported; remove the tag");
}

/* If the current event is an alias, report it and return 1. */
int
yl_alias(struct yl_reader *rd)
{
	if (rd->ev.type != YAML_ALIAS_EVENT)
		return 0;
	yl_error(rd->errs, &rd->ev.start_mark, "aliases (*%.*s%s) are not "
	    "supported; write each value out in full",
	    YL_SHOW((const char *)rd->ev.data.alias.anchor));
	return 1;
}

/* What the current event starts, for messages. */
const char *
yl_event_kind(const yaml_event_t *ev)
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
int
yl_event_is_null(const yaml_event_t *ev)
{
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return yl_null_text((const char *)ev->data.scalar.value);
}

/* Is the current scalar's text free of NUL characters? */
int
yl_event_text_ok(const yaml_event_t *ev)
{
	return strlen((const char *)ev->data.scalar.value) ==
	    ev->data.scalar.length;
}

/* Read up to the document's root node: 1 there, 0 if empty, -1 to stop. */
int
yl_stream_begin(struct yl_reader *rd)
{
	/* STREAM-START, then DOCUMENT-START or, for an empty file, the end. */
	if (yl_next(rd) == -1 || yl_next(rd) == -1)
		return -1;
	if (rd->ev.type == YAML_STREAM_END_EVENT)
		return 0;
	return yl_next(rd) == -1 ? -1 : 1;
}

/* DOCUMENT-END, then STREAM-END or a second document, refused. */
void
yl_stream_end(struct yl_reader *rd, const char *what)
{
	if (yl_next(rd) == -1 || yl_next(rd) == -1)
		return;
	if (rd->ev.type == YAML_DOCUMENT_START_EVENT) {
		yl_error(rd->errs, &rd->ev.start_mark, "a second YAML document "
		    "starts here; %s must be a single document", what);
		rd->stop = 1;
	}
}

/* Parse len bytes at buf into a tree; 0 when read to the end, or -1. */
int
yl_parse(struct yl_errors *errs, const char *buf, size_t len,
    const char *what, struct yl_node **root)
{
	struct yl_reader	 rd;
	struct yl_build		 b;
	int			 r;

	*root = NULL;
	memset(&b, 0, sizeof b);
	b.rd = &rd;
	yl_reader_init(&rd, errs, buf, len);
	if ((r = yl_stream_begin(&rd)) == 1 &&
	    (*root = yl_build_node(&b)) != NULL)
		yl_stream_end(&rd, what);
	if (r == 1 && (*root == NULL || rd.stop || errs->full)) {
		yl_node_free(*root);
		*root = NULL;
		r = -1;
	}
	yl_reader_free(&rd);
	return r == -1 ? -1 : 0;
}

/*
 * Read the node that starts with rd's current event as a tree, so that an
 * event-driven reader (config.c) can hand one subtree to a module that
 * reads trees (routes.c).  NULL if reading stopped.
 */
struct yl_node *
yl_read_node(struct yl_reader *rd)
{
	struct yl_build	 b;

	memset(&b, 0, sizeof b);
	b.rd = rd;
	return yl_build_node(&b);
}

/* Free node and everything below it.  Accepts NULL. */
void
yl_node_free(struct yl_node *node)
{
	size_t	 i;

	if (node == NULL)
		return;
	for (i = 0; i < node->n; i++) {
		if (node->type == YL_LIST)
			yl_node_free(node->items[i]);
		else {
			free(node->pairs[i].key);
			yl_node_free(node->pairs[i].value);
		}
	}
	free(node->items);
	free(node->pairs);
	free(node->text);
	free(node);
}

/* The pair of key in mapping node, or NULL. */
const struct yl_pair *
yl_get_pair(const struct yl_node *node, const char *key)
{
	size_t	 i;

	if (node == NULL || node->type != YL_MAP)
		return NULL;
	for (i = 0; i < node->n; i++) {
		if (strcmp(node->pairs[i].key, key) == 0)
			return &node->pairs[i];
	}
	return NULL;
}

/* The value of key in mapping node, or NULL. */
struct yl_node *
yl_get(const struct yl_node *node, const char *key)
{
	const struct yl_pair	*pair;

	pair = yl_get_pair(node, key);
	return pair != NULL ? pair->value : NULL;
}

/* What node is, for messages. */
const char *
yl_node_kind(const struct yl_node *node)
{
	switch (node->type) {
	case YL_MAP:
		return "a mapping";
	case YL_LIST:
		return "a list";
	default:
		return "a single value";
	}
}

/* Is node a null scalar (empty, ~ or null, unquoted)? */
int
yl_is_null(const struct yl_node *node)
{
	if (node->type != YL_SCALAR || !node->plain)
		return 0;
	return yl_null_text(node->text);
}

/* The text of a single value: not null, not a list or mapping. */
const char *
yl_scalar(struct yl_errors *errs, const struct yl_node *v, const char *key)
{
	if (v->type != YL_SCALAR) {
		yl_error(errs, &v->mark, "%s must be a single value, not "
		    "%s", key, yl_node_kind(v));
		return NULL;
	}
	if (yl_is_null(v)) {
		yl_error(errs, &v->mark, "%s needs a value", key);
		return NULL;
	}
	return v->text;
}

/* Is text true or false (yes/no, on/off, any case)?  0 and *flag, or -1. */
int
yl_bool_word(const char *text, int *flag)
{
	static const char *const words[] = {
		"false", "true", "no", "yes", "off", "on"
	};
	size_t	 i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strcasecmp(text, words[i]) == 0) {
			*flag = i % 2;
			return 0;
		}
	}
	return -1;
}

/* true or false (yes/no, on/off also work, in any case). */
int
yl_bool(struct yl_errors *errs, const struct yl_node *v, const char *key,
    int *flag)
{
	const char	*text;

	if ((text = yl_scalar(errs, v, key)) == NULL)
		return -1;
	if (yl_bool_word(text, flag) == 0)
		return 0;
	yl_error(errs, &v->mark, "%s must be true or false, not '%.*s%s'", key,
	    YL_SHOW(text));
	return -1;
}

/* A list of names, or one name; none twice, each passing check. */
int
yl_names(struct yl_errors *errs, const struct yl_node *v, const char *key,
    int empty_ok, char *(*check)(const char *, const void *),
    const void *arg, char ***strs, size_t *n)
{
	const struct yl_node	*item, *const *items;
	size_t			 i, j, count;
	char			*why;
	int			 bad = 0;

	*strs = NULL;
	*n = 0;
	if (v->type == YL_MAP || yl_is_null(v)) {
		yl_error(errs, &v->mark, "%s must be a name or a list of "
		    "names, not %s", key, yl_is_null(v) ? "nothing" :
		    "a mapping");
		return -1;
	}
	items = v->type == YL_LIST ? (const struct yl_node *const *)v->items :
	    (const struct yl_node *const *)&v;
	count = v->type == YL_LIST ? v->n : 1;
	if (count == 0 && !empty_ok) {
		yl_error(errs, &v->mark, "%s needs at least one name", key);
		return -1;
	}
	if (count > YL_NAMES_MAX) {
		yl_error(errs, &v->mark, "%s lists more than %d names", key,
		    YL_NAMES_MAX);
		return -1;
	}
	for (i = 0; i < count; i++) {
		item = items[i];
		if (item->type != YL_SCALAR || yl_is_null(item) ||
		    *item->text == '\0') {
			yl_error(errs, &item->mark, "each %s entry must be "
			    "a name, not %s", key, item->type == YL_SCALAR ?
			    "nothing" : yl_node_kind(item));
			bad = 1;
			continue;
		}
		if (check != NULL &&
		    (why = check(item->text, arg)) != NULL) {
			yl_error(errs, &item->mark, "%s", why);
			free(why);
			bad = 1;
			continue;
		}
		for (j = 0; j < *n; j++) {
			if (strcmp((*strs)[j], item->text) == 0)
				break;
		}
		if (j < *n) {
			yl_error(errs, &item->mark, "'%.*s%s' is listed "
			    "twice in %s", YL_SHOW(item->text), key);
			bad = 1;
			continue;
		}
		*strs = xreallocarray(*strs, *n + 1, sizeof **strs);
		(*strs)[(*n)++] = xstrdup(item->text);
	}
	if (bad) {
		yl_strs_free(*strs, *n);
		*strs = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* Free n strings and their array.  Accepts NULL. */
void
yl_strs_free(char **strs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(strs[i]);
	free(strs);
}

/* Report key as an unknown what in where, with a suggestion or a list. */
void
yl_unknown(struct yl_errors *errs, const yaml_mark_t *mark,
    const char *what, const char *key, const char *where,
    const char *const *names, size_t n)
{
	struct yl_near	 near;
	char		 list[YL_LIST_SHOW + 64];
	size_t		 i, off = 0;

	yl_near_init(&near, key);
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		yl_near_try(&near, names[i]);
		if (off < YL_LIST_SHOW)
			off += snprintf(list + off, sizeof list - off, "%s%s",
			    i == 0 ? "" : ", ", names[i]);
	}
	if (yl_near_best(&near) != NULL)
		yl_error(errs, mark, "unknown %s '%.*s%s' in %s; did you "
		    "mean '%s'?", what, YL_SHOW(key), where,
		    yl_near_best(&near));
	else if (off < YL_LIST_SHOW)
		yl_error(errs, mark, "unknown %s '%.*s%s' in %s; it must "
		    "be one of %s", what, YL_SHOW(key), where, list);
	else
		yl_error(errs, mark, "unknown %s '%.*s%s' in %s", what,
		    YL_SHOW(key), where);
}

/* Start looking for the name nearest to key. */
void
yl_near_init(struct yl_near *near, const char *key)
{
	near->key = key;
	near->best = NULL;
	near->bestd = SIZE_MAX;
}

/* Consider name: close enough (by its length), and closer than the best. */
void
yl_near_try(struct yl_near *near, const char *name)
{
	size_t	 d, limit;

	if (strlen(near->key) > YL_KEY_MAX || strlen(name) > YL_KEY_MAX)
		return;
	d = yl_distance(near->key, name);
	limit = 1 + strlen(name) / 4;
	if (d <= limit && d <= 3 && d < near->bestd) {
		near->best = name;
		near->bestd = d;
	}
}

/* The nearest name found, or NULL. */
const char *
yl_near_best(const struct yl_near *near)
{
	return near->best;
}

/*
 * Is host a syntactically valid DNS name?  Nothing is resolved.  Shared
 * by the loaders that check addresses (listeners, webhook URLs);
 * underscore: allow '_' in labels, as some internal host names have.
 */
int
yl_is_hostname(const char *host, int underscore)
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
		} else if (isalnum(c) || (underscore && c == '_') ||
		    (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return 1;
}
