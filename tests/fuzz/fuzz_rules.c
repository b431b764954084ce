/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * libFuzzer target for rules_load_buffer(): one input is a whole rules
 * file.  An accepted set is also summarised, since rules_summary() walks
 * everything that was loaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "rules.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(1, LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules	*rs;
	char		*cause = NULL, *summary;

	rs = rules_load_buffer("fuzz.yaml", (const char *)data, size, &cause);
	if (rs != NULL) {
		summary = rules_summary(rs);
		free(summary);
	}
	rules_free(rs);
	free(cause);
	return 0;
}
