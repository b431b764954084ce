/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * libFuzzer target for subcmd_parse(): one input is one command line as a
 * client sends it on an alert stream (docs/protocol.md, "Subscriber
 * streams").  Besides the sanitizers, it checks what subscribe.c relies
 * on: a refused line has a token and a message; an accepted subscribe has
 * distinct routes, at least one; an accepted ack has alert and by; a
 * fault in alert or by leaves by NULL (answered before the role check).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "subcmd.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Are the routes distinct? */
static int
fuzz_distinct(const struct subcmd *c)
{
	size_t	 i, j;

	for (i = 0; i < c->nroutes; i++)
		for (j = i + 1; j < c->nroutes; j++)
			if (strcmp(c->routes[i], c->routes[j]) == 0)
				return 0;
	return 1;
}

/* What subscribe.c relies on; abort() when it does not hold. */
static void
fuzz_check(const struct subcmd *c, int rc)
{
	if (!fuzz_distinct(c))
		abort();
	if (rc == -1) {
		if (c->error == NULL || c->message == NULL)
			abort();
		if (c->kind == SUBCMD_UNKNOWN && subcmd_name(c->kind) != NULL)
			abort();
		return;
	}
	if (c->error != NULL)
		abort();
	switch (c->kind) {
	case SUBCMD_SUBSCRIBE:
		if (c->nroutes == 0 || c->after < 0 ||
		    strlen(c->name) > ACK_BY_MAX)
			abort();
		break;
	case SUBCMD_ACK:
		if (c->alert == NULL || c->by == NULL)
			abort();
		break;
	case SUBCMD_UNKNOWN:
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(1, LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subcmd	 c;
	int		 rc;

	rc = subcmd_parse((const char *)data, size, &c);
	fuzz_check(&c, rc);
	subcmd_free(&c);
	return 0;
}
