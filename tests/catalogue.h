/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The 23 indicator ids of the domain brief (section 5), which the shipped
 * rules must define so integrators can rely on them.  Test data: the
 * daemon takes its catalogue from the loaded rules file; the tests check
 * rules/default.yaml against this list and decode with it.
 */
#ifndef MISPER_CATALOGUE_H
#define MISPER_CATALOGUE_H

#include <stddef.h>

/* catalogue.c */
/* Matches indicator_known_fn; arg is unused. */
int		 catalogue_default_known(const char *id, void *arg);
size_t		 catalogue_default_count(void);
const char	*catalogue_default_id(size_t i);

#endif
