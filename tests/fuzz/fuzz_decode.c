/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * libFuzzer target for decode_event(): one input is one event line as a
 * client would send it on the intake socket.  Each input is decoded
 * twice, once with no indicator callback and once checking indicators
 * against the embedded default rules, as the daemon does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "decode.h"
#include "log.h"
#include "rules.h"

extern const char	 rules_default_yaml[];
extern const size_t	 rules_default_yaml_len;

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct rules	*fuzz_rules;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	*cause = NULL;

	log_init(1, LOG_LEVEL_ERROR);
	fuzz_rules = rules_load_buffer("default.yaml", rules_default_yaml,
	    rules_default_yaml_len, &cause);
	if (fuzz_rules == NULL)
		abort();	/* the embedded rules must load */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decode_opts	 opts;
	struct ev_err		 err;
	struct mevent		*ev;

	ev = decode_event((const char *)data, size, NULL, &err);
	mevent_free(ev);

	opts.indicator_known = rules_indicator_known;
	opts.arg = fuzz_rules;
	ev = decode_event((const char *)data, size, &opts, &err);
	mevent_free(ev);
	return 0;
}
