/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */
/* Placeholder while the dispatcher is written: deliveries stay pending. */
#include <stdlib.h>

#include "daemon.h"
#include "dispatch.h"
#include "xmalloc.h"

struct dispatch {
	int	 unused;
};

struct dispatch *
dispatch_new(struct daemon *d, char **cause)
{
	return xcalloc(1, sizeof(struct dispatch));
}

void
dispatch_kick(struct dispatch *dp)
{
}

void
dispatch_free(struct dispatch *dp)
{
	free(dp);
}
