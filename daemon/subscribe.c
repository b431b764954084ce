/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */
/* Placeholder while subscriber streams are written: none are offered. */
#include <stdlib.h>

#include "daemon.h"
#include "subscribe.h"
#include "xmalloc.h"

struct subscribers {
	int	 unused;
};

struct subscribers *
subscribers_new(struct daemon *d, char **cause)
{
	return xcalloc(1, sizeof(struct subscribers));
}

void
subscribers_publish(struct subscribers *s)
{
}

size_t
subscribers_count(struct subscribers *s)
{
	return 0;
}

void
subscribers_free(struct subscribers *s)
{
	free(s);
}
