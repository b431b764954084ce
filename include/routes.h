/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The routes model (the routes: section of misperd.yaml): for each route
 * named by the rules, its webhooks, the webhooks of the units that cover
 * particular areas, and an optional escalation to another route.  config.c
 * hands the routes: subtree to routes_parse(); the dispatcher reads the
 * result.  Header values are secrets: nothing here logs them.
 */
#ifndef MISPER_ROUTES_H
#define MISPER_ROUTES_H

#include <stddef.h>
#include <stdint.h>

struct yl_errors;
struct yl_node;

#define ROUTES_WEBHOOKS_MAX	16	/* per route or area */
#define ROUTES_HEADERS_MAX	32	/* per webhook */
#define ROUTES_TIMEOUT_DEFAULT	"10s"

struct webhook_header {
	char		*name;
	char		*value;		/* a secret, perhaps: never logged */
};

struct webhook {
	char			*url;	/* as configured */
	int			 https;
	char			*host;	/* without brackets */
	int			 port;
	char			*target;	/* path and query, "/" at least */
	struct webhook_header	*headers;
	size_t			 nheaders;
	int64_t			 timeout_ms;	/* per attempt */
};

struct route_area {
	char		*area;
	struct webhook	*webhooks;
	size_t		 nwebhooks;
};

struct route {
	char			*name;
	struct webhook		*webhooks;	/* children of other areas */
	size_t			 nwebhooks;
	struct route_area	*areas;
	size_t			 nareas;
	int64_t			 escalate_after_ms;	/* 0: no escalation */
	char			*escalate_to;
};

struct routes {
	struct route	*v;
	size_t		 n;
};

/* routes.c */
/*
 * Read the routes: mapping at node into a new model (errors, with their
 * positions, go to errs; the model is still returned).  NULL node or a
 * null value: no routes.
 */
struct routes	*routes_parse(struct yl_errors *, const struct yl_node *);
void		 routes_free(struct routes *);
/* The route called name, or NULL. */
const struct route *routes_find(const struct routes *, const char *name);
/*
 * The webhooks of route for a child in area (NULL or "": unknown): those
 * of the area's unit if the route names the area, else the route's own.
 */
const struct webhook *routes_webhooks(const struct route *, const char *area,
		     size_t *n);
/*
 * Parse an http or https URL into w (url, https, host, port, target).
 * 0, or -1 and *why (caller frees).
 */
int		 routes_parse_url(const char *url, struct webhook *w,
		     char **why);
void		 routes_webhook_clear(struct webhook *);

#endif
