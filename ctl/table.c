/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl's output for people: aligned tables, JSON values as text, and
 * the cleaning of every string that came from the daemon.  Names, notes
 * and addresses in events are free text from other systems; printed raw,
 * an escape sequence in one could rewrite an officer's screen, so control
 * characters and broken UTF-8 are shown as '?'.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ctltable.h"
#include "xmalloc.h"

struct ctl_table {
	size_t		  ncols;
	char		**cells;	/* row-major; headers first if any */
	size_t		  ncells;
	size_t		  cap;
	int		  headers;
};

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes) that is not a
 * control character, or 0.  Overlong forms and surrogates are invalid.
 */
static size_t
ctl_utf8_ok(const unsigned char *s, size_t n)
{
	uint32_t	 cp;
	size_t		 len, i;

	if (s[0] < 0x20 || s[0] == 0x7f)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp >= 0x80 && cp <= 0x9f)		/* C1 controls */
		return 0;
	return len;
}

/* Characters in clean UTF-8 (not bytes; wide characters count one). */
static size_t
ctl_width(const char *s)
{
	size_t	 w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

char *
ctl_clean(const char *s)
{
	size_t		 n = strlen(s), i = 0, o = 0, k;
	char		*out = xmalloc(n + 1);
	const unsigned char *u = (const unsigned char *)s;

	while (i < n) {
		if ((k = ctl_utf8_ok(u + i, n - i)) == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

void
ctl_puts_clean(FILE *f, const char *s)
{
	char	*c = ctl_clean(s);

	fputs(c, f);
	free(c);
}

const json_t *
ctl_json_get(const json_t *obj, const char *key)
{
	if (obj == NULL || !json_is_object(obj))
		return NULL;
	return json_object_get(obj, key);
}

char *
ctl_json_text(const json_t *v)
{
	char		*s, *out = NULL;
	size_t		 len = 0, i;
	FILE		*f;
	const json_t	*e;

	if (v == NULL || json_is_null(v))
		return xstrdup("-");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v)) {
		xasprintf(&s, "%lld", (long long)json_integer_value(v));
		return s;
	}
	if (json_is_real(v)) {
		xasprintf(&s, "%g", json_real_value(v));
		return s;
	}
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "yes" : "no");
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			return xstrdup("-");
		if ((f = open_memstream(&out, &len)) == NULL)
			fatal("ctl", "open_memstream");
		json_array_foreach(v, i, e) {
			s = ctl_json_text(e);
			fprintf(f, "%s%s", i == 0 ? "" : ", ", s);
			free(s);
		}
		fclose(f);
		return out;
	}
	if ((s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		fatalx("ctl", "json_dumps failed");
	out = xstrdup(s);
	free(s);
	return out;
}

void
ctl_section(FILE *f, int *first, const char *title)
{
	if (!*first)
		fputc('\n', f);
	*first = 0;
	fprintf(f, "%s\n", title);
}

struct ctl_table *
ctl_table_new(size_t ncols, const char *const *headers)
{
	struct ctl_table	*t = xcalloc(1, sizeof *t);
	size_t			 i;

	t->ncols = ncols;
	if (headers != NULL) {
		t->headers = 1;
		for (i = 0; i < ncols; i++)
			ctl_table_add(t, headers[i]);
	}
	return t;
}

void
ctl_table_free(struct ctl_table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

size_t
ctl_table_rows(const struct ctl_table *t)
{
	return t->ncells / t->ncols - (t->headers ? 1 : 0);
}

/* Take ownership of cell (already clean). */
static void
ctl_table_push(struct ctl_table *t, char *cell)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap == 0 ? 32 : t->cap * 2;
		t->cells = xreallocarray(t->cells, t->cap, sizeof *t->cells);
	}
	t->cells[t->ncells++] = cell;
}

void
ctl_table_add(struct ctl_table *t, const char *cell)
{
	ctl_table_push(t, ctl_clean(cell != NULL ? cell : "-"));
}

void
ctl_table_addf(struct ctl_table *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("ctl", "vasprintf");
	va_end(ap);
	ctl_table_add(t, s);
	free(s);
}

void
ctl_table_addj(struct ctl_table *t, const json_t *v)
{
	char	*s = ctl_json_text(v);

	ctl_table_add(t, s);
	free(s);
}

void
ctl_table_addk(struct ctl_table *t, const json_t *obj, const char *key)
{
	ctl_table_addj(t, ctl_json_get(obj, key));
}

void
ctl_table_print(const struct ctl_table *t, FILE *f, const char *indent)
{
	size_t	*width, i, c, w, nrows = t->ncells / t->ncols;

	if (ctl_table_rows(t) == 0)
		return;
	width = xcalloc(t->ncols, sizeof *width);
	for (i = 0; i < nrows * t->ncols; i++) {
		w = ctl_width(t->cells[i]);
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (i = 0; i < nrows; i++) {
		fputs(indent, f);
		for (c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[i * t->ncols + c];

			fputs(cell, f);
			if (c + 1 == t->ncols)
				break;
			/* pad to the column, then two spaces */
			for (w = ctl_width(cell); w < width[c] + 2; w++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(width);
}
