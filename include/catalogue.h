/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The indicator catalogue the decoder checks indicator ids against.
 * Until the rules loader lands, the daemon uses the default catalogue of
 * the domain brief (section 5); the rules file will supply it afterwards.
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
