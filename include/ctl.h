/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl(1), the command-line tool: the state every command shares
 * (where the daemon's sockets are, --json, the timeout), the exit codes
 * scripts rely on, the command table's shape, and the small helpers the
 * commands have in common (option parsing, connecting, safe printing of
 * text that came from the daemon).  The commands themselves live one
 * concern per file in ctl/.
 */
#ifndef MISPER_CTL_H
#define MISPER_CTL_H

#include <sys/types.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

/* Exit codes (docs/misperctl.md). */
#define CTL_EXIT_OK		0	/* done, nothing wrong */
#define CTL_EXIT_PROBLEM	1	/* the daemon refused, or a problem found */
#define CTL_EXIT_USAGE		2	/* bad command line or unreadable input */
#define CTL_EXIT_UNAVAILABLE	3	/* no (complete) answer from the daemon */

#define CTL_DEFAULT_API_UNIX	"misperd-api.sock"
#define CTL_DEFAULT_EVENTS_UNIX	"misperd.sock"
#define CTL_ENV_API		"MISPERD_API_SOCKET"
#define CTL_ENV_EVENTS		"MISPERD_SOCKET"
#define CTL_ENV_TOKEN		"MISPERD_TOKEN"
#define CTL_DEFAULT_TIMEOUT_MS	30000

/* Where one of the daemon's sockets is: a Unix path or a TCP address. */
struct ctl_addr {
	char		*unix_path;	/* NULL when tcp is set */
	char		*tcp;		/* "host:port" or "[v6]:port" */
	const char	*what;		/* "API", "event" */
	const char	*option;	/* the option that sets it: "-S", "-E" */
	char		*origin;	/* where it came from, for messages */
	int		 tls;		/* TCP with TLS (from the daemon's config) */
};

struct ssl_ctx_st;
struct ssl_st;

/* A connection to the daemon: a socket, with TLS on it or not (io.c). */
struct ctl_io {
	int		 fd;
	struct ssl_ctx_st *ctx;		/* NULL: plain */
	struct ssl_st	*ssl;
};

/* What every command gets. */
struct ctl {
	struct ctl_addr	 api;
	struct ctl_addr	 events;
	int		 json;		/* --json: print the API's JSON as is */
	int64_t		 timeout_ms;	/* -t: give up after this long */
	int		 tls;		/* --tls (or --cacert, --cert, --key) */
	const char	*cacert;	/* verifies the daemon; NULL: system */
	const char	*cert;		/* our client certificate and key */
	const char	*key;
	char		*token;		/* bearer token for the API, or NULL */
};

struct ctl_cmd {
	const char	*name;
	const char	*synopsis;	/* the arguments, after the name */
	const char	*help;		/* what it does and its options */
	int		(*run)(struct ctl *, const struct ctl_cmd *, int,
			    char **);
};

/* Options every command accepts besides its own (see ctl_opt_common). */
#define CTL_OPT_HELP	'h'
#define CTL_OPT_JSON	0x100
#define CTL_LONGOPTS_COMMON \
	{ "help",	no_argument,	NULL, CTL_OPT_HELP }, \
	{ "json",	no_argument,	NULL, CTL_OPT_JSON }

/* misperctl.c */
__dead void	 ctl_usage(const struct ctl_cmd *, int code);
/*
 * Handle what getopt_long returned for an option the command does not
 * handle itself: --help, --json, an unknown option or a missing value
 * (usage error, exit 2).
 */
void		 ctl_opt_common(struct ctl *, const struct ctl_cmd *, int ch,
		     char **argv);
/* Start getopt_long afresh for a command's argv (argv[0] is its name). */
void		 ctl_opt_reset(void);
/* Parse a count between min and max, or say what is wrong and exit 2. */
long long	 ctl_opt_number(const struct ctl_cmd *, const char *opt,
		     const char *s, long long min, long long max);
void		 ctl_warnx(const char *fmt, ...) printflike(1, 2);

/* connect.c */
/*
 * Connect to a, blocking for at most timeout_ms.  Returns the socket, or
 * -1 after saying on stderr what failed and what to check.
 */
int		 ctl_connect(const struct ctl_addr *a, int64_t timeout_ms);
/* "the API socket misperd-api.sock", "the event socket at 127.0.0.1:7470" */
void		 ctl_addr_describe(const struct ctl_addr *, char *buf,
		     size_t len);

/* local.c */
/* Is s[0..len) a bearer token: 1-4096 visible ASCII bytes, no space? */
int		 ctl_token_ok(const char *s, size_t len);

/* io.c */
/*
 * Connect to a (ctl_connect()), then on a TCP address with TLS (a->tls
 * or ctl->tls) run the handshake.  0, or -1 after saying why.
 */
int		 ctl_io_open(const struct ctl *, const struct ctl_addr *a,
		     struct ctl_io *);
/* As recv()/send() with MSG_DONTWAIT: -1 and EAGAIN when it would block. */
ssize_t		 ctl_io_read(struct ctl_io *, void *, size_t);
ssize_t		 ctl_io_write(struct ctl_io *, const void *, size_t);
/* Bytes already read and decrypted (poll() cannot see them). */
size_t		 ctl_io_pending(struct ctl_io *);
/* End our sending side (close_notify, then the TCP half-close). */
void		 ctl_io_shutdown_write(struct ctl_io *);
void		 ctl_io_close(struct ctl_io *);

/* table.c */
/*
 * Copy s for a terminal: control characters (C0, DEL, C1) and invalid
 * UTF-8 become '?', so text from events cannot drive the terminal.
 * Caller frees.
 */
char		*ctl_clean(const char *s);
void		 ctl_puts_clean(FILE *, const char *);

/* the commands: send.c, brief.c, alerts.c, admin.c, audit.c, local.c */
int	ctl_cmd_send(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_brief(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_alerts(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_alert(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_ack(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_status(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_rules(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_reload(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_check_rules(struct ctl *, const struct ctl_cmd *, int,
	    char **);
int	ctl_cmd_audit(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_purge(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_replay(struct ctl *, const struct ctl_cmd *, int, char **);
int	ctl_cmd_hash_token(struct ctl *, const struct ctl_cmd *, int,
	    char **);

#endif
