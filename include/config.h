/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The daemon's configuration: a YAML file (misperd.yaml(5)) read with
 * libyaml's event API into typed fields.  Every key has an embedded
 * default, so misperd runs with no file at all.  Errors name
 * file:line:column; all errors in a file are reported, then it is refused.
 */
#ifndef MISPER_CONFIG_H
#define MISPER_CONFIG_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_UNIX	"misperd.sock"
#define CONFIG_DEFAULT_TCP	"127.0.0.1:7470"
#define CONFIG_DEFAULT_DB	"misperd.db"
#define CONFIG_DEFAULT_RULES	"rules/default.yaml"

struct access;
struct routes;
#define CONFIG_DEFAULT_SUB_UNIX	"misperd-alerts.sock"
#define CONFIG_DEFAULT_SUB_TCP	"127.0.0.1:7471"
#define CONFIG_DEFAULT_HTTP_UNIX "misperd-api.sock"
#define CONFIG_DEFAULT_HTTP_TCP	"127.0.0.1:7472"
/* The highest limits.max_events_per_second (0 turns it off). */
#define CONFIG_EVENT_RATE_MAX	1000000u

struct config {
	char		 *path;		/* the file read, or NULL for defaults */

	/* listen: */
	char		 *unix_path;	/* NULL: no Unix socket */
	mode_t		  unix_mode;	/* default 0660 */
	char		 *unix_group;	/* NULL: the daemon's group */
	char		**tcp;		/* "host:port" / "[v6]:port" */
	int		 *tcp_tls;	/* per entry: 1 = TLS (see tls:) */
	size_t		  ntcp;

	char		 *database;
	char		 *rules;
	char		 *log_level;	/* "error", "warn", "info", "debug" */

	/* limits: */
	size_t		  max_line_bytes;	/* default 65536 */
	unsigned	  max_connections;	/* default 256 */
	int64_t		  idle_timeout_ms;	/* default 300 s; 0 = none */
	size_t		  max_output_bytes;	/* default 1 MiB */
	int64_t		  shutdown_grace_ms;	/* default 5 s */
	unsigned	  max_events_per_second; /* per connection; 0: off */

	/* subscribers: (alert streams) */
	char		 *sub_unix_path;	/* NULL: no Unix socket */
	mode_t		  sub_unix_mode;	/* default 0660 */
	char		 *sub_unix_group;	/* NULL: listen.unix_group */
	char		**sub_tcp;		/* as tcp */
	int		 *sub_tcp_tls;
	size_t		  sub_ntcp;
	size_t		  sub_max_buffer_bytes;	/* default 1 MiB */
	unsigned	  sub_max_subscribers;	/* default 64 */

	/* http: (the HTTP API, http.c) */
	char		 *http_unix_path;	/* NULL: no Unix socket */
	mode_t		  http_unix_mode;	/* default 0660 */
	char		 *http_unix_group;	/* NULL: listen.unix_group */
	char		**http_tcp;		/* as tcp */
	int		 *http_tcp_tls;
	size_t		  http_ntcp;
	size_t		  http_max_body_bytes;	/* default 64 KiB */
	size_t		  http_max_header_bytes; /* default 16 KiB */
	int64_t		  http_timeout_ms;	/* default 30 s */
	unsigned	  http_max_connections;	/* default 64 */

	/* delivery: (webhooks, dispatch.c) */
	int64_t		  retry_initial_ms;	/* default 2 s */
	int64_t		  retry_max_ms;		/* default 10 min */
	int64_t		  give_up_after_ms;	/* default 24 h */
	unsigned	  max_in_flight;	/* default 16 */

	/* retention: (retention.c) */
	int64_t		  retention_period_ms;	/* default 2557 days */
	char		 *retention_purge_at;	/* "HH:MM" UTC, default 03:00 */
	unsigned	  retention_batch_rows;	/* default 1000 */

	/* routes: (routes.h); NULL when none are configured */
	struct routes	 *routes;

	/* tls: (tls.c); cert, key and ca are all set, or none is */
	char		 *tls_cert;		/* PEM chain, leaf first */
	char		 *tls_key;		/* PEM private key, mode 0600 */
	char		 *tls_ca;		/* PEM CAs of client certificates */
	char		 *tls_min_version;	/* "1.2" or "1.3" */
	int		  tls_insecure;	/* insecure_plaintext_nonloopback */

	/* access: (access.h); never NULL once loaded */
	char		 *access_local;		/* "all", "none" or a client */
	struct access	 *access;
};

/* Are tls.cert, tls.key and tls.ca all given? */
#define CONFIG_TLS_ON(c) \
	((c)->tls_cert != NULL && (c)->tls_key != NULL && (c)->tls_ca != NULL)

/* config.c */
/* A config holding the embedded defaults.  Caller frees. */
struct config	*config_default(void);
/*
 * Read path over the defaults.  Returns NULL and sets *cause (caller frees)
 * to every error found, one per line, each "path:line:col: sentence".
 */
struct config	*config_load(const char *path, char **cause);
/* Parse from memory (for tests and fuzzing); name is used in messages. */
struct config	*config_load_buffer(const char *name, const char *buf,
		     size_t len, char **cause);
void		 config_free(struct config *);
/*
 * Is the host of "host:port" or "[v6]:port" a loopback literal
 * (127.0.0.0/8, ::1) or "localhost"?  Names are not resolved.
 */
int		 config_addr_loopback(const char *);

#endif
