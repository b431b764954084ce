/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The default indicator catalogue: the 23 CSE / CCE indicator ids of the
 * domain brief (section 5), as test data: rules/default.yaml must define
 * every one of them.
 */
#include <stddef.h>
#include <string.h>

#include "catalogue.h"

static const char *const catalogue_ids[] = {
	"missing_overnight_or_longer",
	"missing_frequent",
	"older_partner_or_controlling_adult",
	"found_with_unknown_adults",
	"vehicle_unknown_adult",
	"unexplained_money_gifts",
	"multiple_callers_or_phones",
	"found_out_of_area",
	"address_of_concern",
	"association_known_offender",
	"peers_exploited",
	"recruiting_peers",
	"sexual_images_online",
	"disclosure_withdrawn",
	"sexual_health",
	"substance_misuse",
	"self_harm_suicidal",
	"education_disengaged",
	"disclosed_cse",
	"cce_drugs_or_cash",
	"cce_travel_evidence",
	"cce_weapon",
	"returned_injured"
};

#define CATALOGUE_COUNT	(sizeof catalogue_ids / sizeof catalogue_ids[0])

/* Is id one of the default indicator ids (exact, case-sensitive match)? */
int
catalogue_default_known(const char *id, void *arg)
{
	size_t	 i;

	(void)arg;
	if (id == NULL)
		return 0;
	for (i = 0; i < CATALOGUE_COUNT; i++)
		if (strcmp(id, catalogue_ids[i]) == 0)
			return 1;
	return 0;
}

/* How many ids the default catalogue has. */
size_t
catalogue_default_count(void)
{
	return CATALOGUE_COUNT;
}

/* The i-th default id, or NULL past the end. */
const char *
catalogue_default_id(size_t i)
{
	if (i >= CATALOGUE_COUNT)
		return NULL;
	return catalogue_ids[i];
}
