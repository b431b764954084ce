/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Plain aligned tables for a terminal: cells are added left to right, a
 * row ends when it has as many cells as the table has columns, and the
 * table prints with each column as wide as its widest cell (counted in
 * characters, not bytes).  Every cell is cleaned of control characters
 * (ctl_clean).  No colours.
 */
#ifndef MISPER_CTLTABLE_H
#define MISPER_CTLTABLE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "log.h"

struct ctl_table;

/* table.c */
/* A table of ncols columns; headers (ncols strings) or NULL for none. */
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
void		 ctl_table_free(struct ctl_table *);
size_t		 ctl_table_rows(const struct ctl_table *);
void		 ctl_table_add(struct ctl_table *, const char *cell);
void		 ctl_table_addf(struct ctl_table *, const char *fmt, ...)
		     printflike(2, 3);
/* Add v as text (ctl_json_text). */
void		 ctl_table_addj(struct ctl_table *, const json_t *v);
/* Add obj's member key as text ("-" when absent or null). */
void		 ctl_table_addk(struct ctl_table *, const json_t *obj,
		     const char *key);
/* Print with indent before each line; an empty table prints nothing. */
void		 ctl_table_print(const struct ctl_table *, FILE *,
		     const char *indent);
/*
 * A JSON value as text for a person: a string as is, a number, yes/no,
 * "-" for null or absent, an array of scalars joined by ", " ("-" when
 * empty), anything else compact JSON.  Caller frees.
 */
char		*ctl_json_text(const json_t *v);
/* obj's member key (NULL when obj is not an object). */
const json_t	*ctl_json_get(const json_t *obj, const char *key);
/* A section heading, with a blank line before all but the first. */
void		 ctl_section(FILE *, int *first, const char *title);

#endif
