/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The HTTP API's routes (docs/api.md) and their handlers.  The route
 * table lives in api.c; a handler may live in the file of its concern
 * and is declared here under that file's name.
 */
#ifndef MISPER_API_H
#define MISPER_API_H

#include "http.h"

/* api.c */
/* The route table, ending with a NULL method. */
extern const struct http_route api_routes[];
void	 api_healthz(struct http_req *);
void	 api_readyz(struct http_req *);
void	 api_status(struct http_req *);
void	 api_alerts(struct http_req *);
void	 api_alert(struct http_req *);
void	 api_ack(struct http_req *);
void	 api_rules(struct http_req *);
void	 api_rules_reload(struct http_req *);

/*
 * Handlers in other files go here under their file's name, e.g.
 *   metrics.c: void api_metrics(struct http_req *);
 *   child.c:   void api_child(struct http_req *);
 */

/* metrics.c */
void	 api_metrics(struct http_req *);

/* childview.c */
void	 api_child(struct http_req *);

/* audit.c */
void	 api_audit(struct http_req *);

/* retention.c */
void	 api_purge_status(struct http_req *);
void	 api_purge_run(struct http_req *);

#endif
