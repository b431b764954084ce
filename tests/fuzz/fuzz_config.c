/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * libFuzzer target for config_load_buffer(): one input is a whole
 * configuration file.  A refused file's cause is freed, as is an accepted
 * configuration.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"

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
	struct config	*conf;
	char		*cause = NULL;

	conf = config_load_buffer("fuzz.yaml", (const char *)data, size,
	    &cause);
	config_free(conf);
	free(cause);
	return 0;
}
