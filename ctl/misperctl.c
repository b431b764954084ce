/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl(1): the global options, where the daemon's sockets are (an
 * option, the daemon's own misperd.yaml, the environment, or the
 * defaults, in that order), and the command table.  Each command parses
 * its own options and lives in its own file; see docs/misperctl.md.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "ctl.h"
#include "timeutil.h"
#include "xmalloc.h"

static int	ctl_cmd_help(struct ctl *, const struct ctl_cmd *, int,
		    char **);

/* Global options with no short form. */
#define CTL_OPT_TLS		0x200
#define CTL_OPT_CACERT		0x201
#define CTL_OPT_CERT		0x202
#define CTL_OPT_KEY		0x203
#define CTL_OPT_TOKEN		0x204
#define CTL_OPT_TOKEN_FILE	0x205

static const struct ctl_cmd ctl_cmds[] = {
	{ "send", "[-r] [FILE | -]",
"Send NDJSON events (one JSON object per line) from FILE, or standard\n"
"input, to the event socket, pipelined: lines are written while replies\n"
"are read, so a file of any size goes through in bounded memory.  Each\n"
"rejected line is reported on standard error as\n"
"  line N: error field: message\n"
"and a summary on standard output:\n"
"  sent N, accepted N, duplicates N, rejected N, alerts raised N\n"
"(alerts raised counts the alerts of accepted events, not those a\n"
"duplicate is answered with).  Exit status 0 when every line was\n"
"accepted (or a duplicate), 1 when some were rejected, 3 when the daemon\n"
"closed the connection or stopped answering before every line had its\n"
"reply (the lines without one are named: resend them, it is safe).\n"
"\n"
"  -r, --replies  also print every reply line, as received, on stdout\n"
"  --json         print the summary as one JSON object instead\n",
	  ctl_cmd_send },
	{ "brief", "[--limit N] CHILD",
"Show what is known about a child (GET /v1/children/CHILD): profile,\n"
"episode counts, each rule's current level, scores with the weight and\n"
"source of each indicator, open and past alerts, the episodes (category,\n"
"risk, where found), flags, locations of concern, pending deadlines and\n"
"the event timeline.  Exit status 1 when no event has named the child.\n"
"\n"
"  --limit N   show at most N timeline events (default 200, at most 5000)\n",
	  ctl_cmd_brief },
	{ "alerts", "[--open] [--route R] [--child C] [--since TIME] "
	    "[--limit N] [--before SEQ]",
"List alerts, newest first (GET /v1/alerts), as a table: id, when raised,\n"
"level, rule, child, episode, who acknowledged it, delivery.\n"
"\n"
"  --open          unacknowledged alerts only\n"
"  --route R       alerts delivered or escalated to route R\n"
"  --child C       alerts for child C\n"
"  --since TIME    raised at or after TIME (RFC 3339, e.g. 2026-11-21T00:00:00Z)\n"
"  --limit N       at most N alerts (1 to 1000, default 100)\n"
"  --before SEQ    alerts before alert seq SEQ (the next page)\n",
	  ctl_cmd_alerts },
	{ "alert", "ID",
"Show one alert (GET /v1/alerts/ID): the alert with its evidence, its\n"
"acknowledgement, its deliveries with each webhook, every delivery\n"
"attempt and its escalations.  Exit status 1 when there is no such alert.\n",
	  ctl_cmd_alert },
	{ "ack", "ID --by NAME [--note TEXT]",
"Acknowledge alert ID (POST /v1/alerts/ID/ack) as NAME, e.g. \"PS 1234\n"
"Smith\", with an optional note.  This stops its escalation, and every\n"
"subscriber stream of its routes is told.  Exit status 1 when the alert\n"
"is unknown or was acknowledged before (the message says by whom).\n"
"\n"
"  --by NAME    who acknowledges (required)\n"
"  --note TEXT  a note, at most 1024 bytes\n",
	  ctl_cmd_ack },
	{ "status", "",
"Show the daemon's version and uptime, the loaded rules, the store's\n"
"counts, alerts awaiting acknowledgement by level, and queue depths\n"
"(GET /v1/status).\n",
	  ctl_cmd_status },
	{ "rules", "",
"Show the loaded rules and the indicator catalogue (GET /v1/rules).\n",
	  ctl_cmd_rules },
	{ "reload", "",
"Reload the daemon's rules file, as SIGHUP does (POST /v1/rules/reload).\n"
"Exit status 1 when the file has errors (each is printed as\n"
"file:line:col: sentence); the running rules then stay.\n",
	  ctl_cmd_reload },
	{ "audit", "[--since TIME] [--until TIME] [--action A] [--actor X] "
	    "[--subject S] [--limit N] [--before SEQ]",
"Show the audit trail, newest first (GET /v1/audit), as a table: seq,\n"
"time, actor (who: the channel and peer, e.g. http:unix:pid=1234,uid=0),\n"
"action, subject (a child, an alert, a listener) and detail.  Reading\n"
"the trail is itself recorded in it (audit_read).\n"
"\n"
"  --since TIME    entries at or after TIME (RFC 3339)\n"
"  --until TIME    entries before TIME (RFC 3339)\n"
"  --action A      one action: start, stop, rules_reload, brief_read,\n"
"                  brief_sent, alert_read, alerts_list, audit_read, ack,\n"
"                  subscribe, connection_refused, purge\n"
"  --actor X       actors that begin with X (e.g. http:unix)\n"
"  --subject S     entries about S (a child id, an alert id, ...)\n"
"  --limit N       at most N entries (1 to 1000, default 100)\n"
"  --before SEQ    entries before seq SEQ (the next page)\n",
	  ctl_cmd_audit },
	{ "purge", "[--status | --no-wait]",
"Run retention's purge now (POST /v1/admin/purge) and wait for it to\n"
"end: it removes every record older than retention.period, in batches,\n"
"as the daily purge does, and records the counts in the audit trail.\n"
"Prints the rows removed from each table.  Exit status 1 when the purge\n"
"ended early (misperd stopping, a storage error).\n"
"\n"
"  --status    only show the state: period, next run, the last purge\n"
"  --no-wait   start it and return at once\n",
	  ctl_cmd_purge },
	{ "check-rules", "FILE",
"Validate a rules file here, without the daemon, exactly as\n"
"misperd --check-rules: print a summary and exit 0, or print every error\n"
"(file:line:col) and exit 1.\n",
	  ctl_cmd_check_rules },
	{ "replay", "EVENTS --rules FILE [--against FILE] [--until TIME]",
"Run an NDJSON event file (- for standard input) through a rules file\n"
"here, without the daemon, exactly as misperd --replay: a scratch database\n"
"in $TMPDIR and a clock driven by event time.  Prints the alerts it would\n"
"raise, one JSON object per line, and a summary on standard error; with\n"
"--against, one line per difference between the two rules files.  Exit\n"
"status 0, 1 when some lines were refused, 2 when it could not run.\n"
"\n"
"  --rules FILE    the rules to run (required)\n"
"  --against FILE  compare with these rules\n"
"  --until TIME    run the clock on to TIME (RFC 3339)\n",
	  ctl_cmd_replay },
	{ "hash-token", "",
"Read a bearer token from standard input and print its SHA-256 in hex:\n"
"the token_sha256 of a client in the daemon's access.clients, which\n"
"holds the hash and never the token.  One line end after the token is\n"
"dropped; the token is 1-4096 visible ASCII characters.  For example:\n"
"  openssl rand -hex 32 > ops.token\n"
"  misperctl hash-token < ops.token\n",
	  ctl_cmd_hash_token },
	{ "help", "[COMMAND]",
"Print the list of commands, or the help of COMMAND.\n",
	  ctl_cmd_help },
};
#define CTL_NCMDS (sizeof ctl_cmds / sizeof ctl_cmds[0])

static const char ctl_usage_text[] =
"usage: misperctl [-hV] [-c CONFIG] [-S PATH | -H HOST:PORT]\n"
"                 [-E PATH | -T HOST:PORT] [-t TIMEOUT] [--tls]\n"
"                 [--cacert FILE] [--cert FILE --key FILE]\n"
"                 [--token TOKEN | --token-file FILE]\n"
"                 [--json] COMMAND ...\n"
"\n"
"Talks to a running misperd: sends events, shows a child's brief, lists\n"
"and acknowledges alerts, shows status and rules; checks and replays rules\n"
"locally.\n"
"\n"
"Commands:\n"
"  send [FILE|-]           send NDJSON events; report rejected lines\n"
"  brief CHILD             a child's risk brief and timeline\n"
"  alerts [--open ...]     alerts, newest first\n"
"  alert ID                one alert: evidence, acknowledgement, deliveries\n"
"  ack ID --by NAME        acknowledge an alert\n"
"  status                  uptime, rules version, counts, queue depths\n"
"  rules                   the loaded rules and indicators\n"
"  reload                  reload the rules file (as SIGHUP)\n"
"  audit [--action A ...]  the audit trail: who read, acknowledged, reloaded\n"
"  purge [--status]        run retention's purge now, or show its state\n"
"  check-rules FILE        validate a rules file (locally)\n"
"  replay EVENTS --rules F run events through rules offline (locally)\n"
"  hash-token              print the SHA-256 of a token for access.clients\n"
"  help [COMMAND]          this text, or a command's help\n"
"\n"
"Options (before the command; --json and --help also after it):\n"
"  -c, --config FILE       read the daemon's misperd.yaml for its sockets\n"
"                          (http.unix / http.tcp, listen.unix / listen.tcp)\n"
"  -S, --api-socket PATH   the API's Unix socket (default misperd-api.sock,\n"
"                          or $MISPERD_API_SOCKET)\n"
"  -H, --api-tcp HOST:PORT use the API over TCP instead\n"
"  -E, --socket PATH       the event socket, for send (default misperd.sock,\n"
"                          or $MISPERD_SOCKET)\n"
"  -T, --tcp HOST:PORT     send events over TCP instead\n"
"  -t, --timeout TIME      give up on a silent daemon after TIME (30s; e.g.\n"
"                          10s, 2m)\n"
"      --tls               use TLS on TCP (-H, -T); -c says so for a\n"
"                          listener with TLS\n"
"      --cacert FILE       verify misperd's certificate with these CAs\n"
"                          (default: the system's); implies --tls\n"
"      --cert FILE         the client certificate to present (PEM); with\n"
"      --key FILE          its private key; both imply --tls\n"
"      --token TOKEN       send Authorization: Bearer TOKEN to the API (seen\n"
"                          by other users in ps: prefer $MISPERD_TOKEN)\n"
"      --token-file FILE   read the token from FILE\n"
"      --json              print the API's JSON as is, one document\n"
"  -V, --version           print the version and exit\n"
"  -h, --help              print this help and exit\n"
"\n"
"Exit status: 0 done; 1 the daemon refused the request or a problem was\n"
"found (rejected lines, invalid rules, unknown child or alert); 2 usage\n"
"error; 3 the daemon could not be reached or gave no complete answer.\n"
"See misperctl(1).\n";

static const struct option ctl_longopts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "api-socket",	required_argument,	NULL, 'S' },
	{ "api-tcp",	required_argument,	NULL, 'H' },
	{ "socket",	required_argument,	NULL, 'E' },
	{ "tcp",	required_argument,	NULL, 'T' },
	{ "timeout",	required_argument,	NULL, 't' },
	{ "tls",	no_argument,		NULL, CTL_OPT_TLS },
	{ "cacert",	required_argument,	NULL, CTL_OPT_CACERT },
	{ "cert",	required_argument,	NULL, CTL_OPT_CERT },
	{ "key",	required_argument,	NULL, CTL_OPT_KEY },
	{ "token",	required_argument,	NULL, CTL_OPT_TOKEN },
	{ "token-file",	required_argument,	NULL, CTL_OPT_TOKEN_FILE },
	{ "version",	no_argument,		NULL, 'V' },
	CTL_LONGOPTS_COMMON,
	{ NULL,		0,			NULL, 0 }
};

void
ctl_warnx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("misperctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
ctl_usage(const struct ctl_cmd *cmd, int code)
{
	const char	*sp;

	if (cmd == NULL && code == 0)
		fputs(ctl_usage_text, stdout);
	else if (cmd == NULL)	/* the synopsis: up to the blank line */
		fprintf(stderr, "%.*s(misperctl --help says more)\n",
		    (int)(strstr(ctl_usage_text, "\n\n") - ctl_usage_text + 1),
		    ctl_usage_text);
	else {
		sp = *cmd->synopsis != '\0' ? " " : "";
		if (code == 0)
			printf("usage: misperctl [options] %s%s%s\n\n%s",
			    cmd->name, sp, cmd->synopsis, cmd->help);
		else
			fprintf(stderr, "usage: misperctl [options] %s%s%s\n"
			    "(misperctl %s --help says more)\n", cmd->name, sp,
			    cmd->synopsis, cmd->name);
	}
	exit(code);
}

void
ctl_opt_reset(void)
{
	optind = 0;		/* glibc: start afresh, argv[0] skipped */
	opterr = 0;
}

void
ctl_opt_common(struct ctl *ctl, const struct ctl_cmd *cmd, int ch,
    char **argv)
{
	switch (ch) {
	case CTL_OPT_HELP:
		ctl_usage(cmd, CTL_EXIT_OK);
	case CTL_OPT_JSON:
		ctl->json = 1;
		return;
	case ':':
		ctl_warnx("%s: option %s needs a value", cmd->name,
		    argv[optind - 1]);
		break;
	default:
		if (optopt != 0 && optopt != '?')
			ctl_warnx("%s: unknown option -%c", cmd->name, optopt);
		else
			ctl_warnx("%s: unknown option %s", cmd->name,
			    argv[optind - 1]);
		break;
	}
	ctl_usage(cmd, CTL_EXIT_USAGE);
}

long long
ctl_opt_number(const struct ctl_cmd *cmd, const char *opt, const char *s,
    long long min, long long max)
{
	long long	 n;
	char		*ep;

	errno = 0;
	n = strtoll(s, &ep, 10);
	if (s[0] < '0' || s[0] > '9' || *ep != '\0' || errno != 0 ||
	    n < min || n > max) {
		ctl_warnx("%s: %s must be a whole number from %lld to %lld, "
		    "not \"%s\"", cmd->name, opt, min, max, s);
		ctl_usage(cmd, CTL_EXIT_USAGE);
	}
	return n;
}

static const struct ctl_cmd *
ctl_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < CTL_NCMDS; i++)
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

static int
ctl_cmd_help(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_cmd	*which;
	int			 ch;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc - optind > 1)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	if (argc == optind)
		ctl_usage(NULL, CTL_EXIT_OK);
	if ((which = ctl_find(argv[optind])) == NULL) {
		ctl_warnx("no command \"%s\"; misperctl help lists them",
		    argv[optind]);
		return CTL_EXIT_USAGE;
	}
	ctl_usage(which, CTL_EXIT_OK);
}

/*
 * Set a to a Unix path or a TCP address, with where it came from: origin
 * ("-S", "$MISPERD_SOCKET", "http.unix"), in file when not NULL.
 */
static void
ctl_addr_set(struct ctl_addr *a, const char *path, const char *tcp,
    const char *origin, const char *file)
{
	free(a->unix_path);
	free(a->tcp);
	free(a->origin);
	a->unix_path = path != NULL ? xstrdup(path) : NULL;
	a->tcp = tcp != NULL ? xstrdup(tcp) : NULL;
	if (file != NULL)
		xasprintf(&a->origin, "%s in %s", origin, file);
	else
		a->origin = xstrdup(origin);
}

/*
 * Where the daemon described by path listens: its Unix socket if it has
 * one, else its first TCP listener.  Either may be off (both NULL).
 */
static int
ctl_from_config(struct ctl *ctl, const char *path, int api_set,
    int events_set)
{
	struct config	*cfg;
	char		*cause = NULL;

	if ((cfg = config_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		ctl_warnx("cannot read the daemon's configuration %s (-c)",
		    path);
		return -1;
	}
	if (!api_set) {
		ctl_addr_set(&ctl->api, cfg->http_unix_path,
		    cfg->http_unix_path == NULL && cfg->http_ntcp > 0 ?
		    cfg->http_tcp[0] : NULL,
		    cfg->http_unix_path != NULL ? "http.unix" : "http.tcp",
		    path);
		ctl->api.tls = cfg->http_unix_path == NULL &&
		    cfg->http_ntcp > 0 && cfg->http_tcp_tls[0];
	}
	if (!events_set) {
		ctl_addr_set(&ctl->events, cfg->unix_path,
		    cfg->unix_path == NULL && cfg->ntcp > 0 ? cfg->tcp[0] : NULL,
		    cfg->unix_path != NULL ? "listen.unix" : "listen.tcp",
		    path);
		ctl->events.tls = cfg->unix_path == NULL && cfg->ntcp > 0 &&
		    cfg->tcp_tls[0];
	}
	config_free(cfg);
	return 0;
}

/* An address given by environment variable env, or the default path. */
static void
ctl_addr_default(struct ctl_addr *a, const char *env, const char *path)
{
	const char	*v = getenv(env);
	char		*origin;

	if (v != NULL && *v != '\0') {
		xasprintf(&origin, "$%s", env);
		ctl_addr_set(a, v, NULL, origin, NULL);
		free(origin);
	} else
		ctl_addr_set(a, path, NULL, "the default", NULL);
}

/*
 * The bearer token: --token, --token-file, or $MISPERD_TOKEN, in that
 * order.  0, or -1 after saying why.
 */
static int
ctl_token(struct ctl *ctl, const char *opt, const char *file)
{
	const char	*env = getenv(CTL_ENV_TOKEN);
	char		 buf[ACCESS_TOKEN_MAX + 3];
	size_t		 len;
	FILE		*f;

	if (opt == NULL && file != NULL) {
		if ((f = fopen(file, "re")) == NULL) {
			ctl_warnx("--token-file %s: %s", file, strerror(errno));
			return -1;
		}
		len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		opt = buf;
	} else if (opt == NULL && env != NULL && *env != '\0')
		opt = env;
	if (opt == NULL)
		return 0;
	if (!ctl_token_ok(opt, strlen(opt))) {
		ctl_warnx("the bearer token (%s) must be 1-%d visible ASCII "
		    "characters, no spaces", file != NULL ? file :
		    opt == env ? "$" CTL_ENV_TOKEN : "--token",
		    ACCESS_TOKEN_MAX);
		explicit_bzero(buf, sizeof buf);
		return -1;
	}
	ctl->token = xstrdup(opt);
	explicit_bzero(buf, sizeof buf);
	return 0;
}

static void
ctl_addr_free(struct ctl_addr *a)
{
	free(a->unix_path);
	free(a->tcp);
	free(a->origin);
}

/*
 * Has the reader of standard output gone?  err is fflush's errno; when an
 * earlier write failed and fflush had nothing left to write, ask the
 * descriptor: a pipe or socket with no reader polls as an error or hangup.
 */
static int
ctl_reader_gone(int err)
{
	struct pollfd	 pfd;

	if (err == EPIPE)
		return 1;
	pfd.fd = STDOUT_FILENO;
	pfd.events = 0;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

/*
 * Flush standard output and return the exit status.  A reader that left
 * early (misperctl alerts | head) is not worth a message: misperctl dies
 * of SIGPIPE, quietly, as any filter would (the shell sees 141).  SIGPIPE
 * stays ignored until here so that send still sends every line when no
 * one reads the replies.
 */
static int
ctl_finish_output(int rc)
{
	int	 flushed, err;

	errno = 0;
	flushed = fflush(stdout) != EOF;
	err = errno;
	if (flushed && !ferror(stdout))
		return rc;
	if (ctl_reader_gone(err)) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		_exit(128 + SIGPIPE);	/* not reached */
	}
	if (rc != CTL_EXIT_OK)
		return rc;	/* the command's own failure says more */
	if (!flushed)
		ctl_warnx("writing the output: %s", strerror(err));
	else
		ctl_warnx("writing the output failed");
	return CTL_EXIT_PROBLEM;
}

int
main(int argc, char **argv)
{
	struct ctl		 ctl;
	const struct ctl_cmd	*cmd;
	const char		*config = NULL, *api_unix = NULL;
	const char		*api_tcp = NULL, *ev_unix = NULL, *ev_tcp = NULL;
	const char		*token = NULL, *token_file = NULL;
	int			 ch, rc;

	memset(&ctl, 0, sizeof ctl);
	ctl.api.what = "API";
	ctl.api.option = "-S";
	ctl.events.what = "event";
	ctl.events.option = "-E";
	ctl.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	log_init(1, LOG_LEVEL_WARN);
	signal(SIGPIPE, SIG_IGN);	/* until ctl_finish_output() */

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:S:H:E:T:t:hV", ctl_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'S':
			api_unix = optarg;
			break;
		case 'H':
			api_tcp = optarg;
			break;
		case 'E':
			ev_unix = optarg;
			break;
		case 'T':
			ev_tcp = optarg;
			break;
		case 't':
			if (time_parse_duration(optarg, &ctl.timeout_ms) ==
			    -1 || ctl.timeout_ms <= 0) {
				ctl_warnx("-t wants a duration such as 30s or "
				    "2m, not \"%s\"", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'V':
			printf("misperctl %s (contract v1, API v1)\n",
			    PACKAGE_VERSION);
			return CTL_EXIT_OK;
		case CTL_OPT_HELP:
			ctl_usage(NULL, CTL_EXIT_OK);
		case CTL_OPT_JSON:
			ctl.json = 1;
			break;
		case CTL_OPT_TLS:
			ctl.tls = 1;
			break;
		case CTL_OPT_CACERT:
			ctl.cacert = optarg;
			ctl.tls = 1;
			break;
		case CTL_OPT_CERT:
			ctl.cert = optarg;
			ctl.tls = 1;
			break;
		case CTL_OPT_KEY:
			ctl.key = optarg;
			ctl.tls = 1;
			break;
		case CTL_OPT_TOKEN:
			token = optarg;
			break;
		case CTL_OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case ':':
			ctl_warnx("option %s needs a value", argv[optind - 1]);
			ctl_usage(NULL, CTL_EXIT_USAGE);
		default:
			ctl_warnx("unknown option %s", argv[optind - 1]);
			ctl_usage(NULL, CTL_EXIT_USAGE);
		}
	}
	if ((api_unix != NULL && api_tcp != NULL) ||
	    (ev_unix != NULL && ev_tcp != NULL)) {
		ctl_warnx("-S and -H (or -E and -T) choose the same socket: "
		    "give one");
		return CTL_EXIT_USAGE;
	}
	if ((ctl.cert == NULL) != (ctl.key == NULL)) {
		ctl_warnx("--cert and --key go together: the certificate and "
		    "its private key");
		return CTL_EXIT_USAGE;
	}
	if (token != NULL && token_file != NULL) {
		ctl_warnx("--token and --token-file both give the token: give "
		    "one");
		return CTL_EXIT_USAGE;
	}
	if (ctl_token(&ctl, token, token_file) == -1)
		return CTL_EXIT_USAGE;
	if (optind == argc) {
		ctl_warnx("no command given");
		ctl_usage(NULL, CTL_EXIT_USAGE);
	}
	if ((cmd = ctl_find(argv[optind])) == NULL) {
		ctl_warnx("no command \"%s\"; misperctl help lists them",
		    argv[optind]);
		return CTL_EXIT_USAGE;
	}

	/* Options first, then the daemon's config, the environment, defaults. */
	if (api_unix != NULL || api_tcp != NULL)
		ctl_addr_set(&ctl.api, api_unix, api_tcp,
		    api_unix != NULL ? "-S" : "-H", NULL);
	if (ev_unix != NULL || ev_tcp != NULL)
		ctl_addr_set(&ctl.events, ev_unix, ev_tcp,
		    ev_unix != NULL ? "-E" : "-T", NULL);
	if (config != NULL && ctl_from_config(&ctl, config,
	    ctl.api.origin != NULL, ctl.events.origin != NULL) == -1)
		return CTL_EXIT_USAGE;
	if (ctl.api.origin == NULL)
		ctl_addr_default(&ctl.api, CTL_ENV_API, CTL_DEFAULT_API_UNIX);
	if (ctl.events.origin == NULL)
		ctl_addr_default(&ctl.events, CTL_ENV_EVENTS,
		    CTL_DEFAULT_EVENTS_UNIX);
	if (ctl.api.tcp != NULL)
		ctl.api.option = "-H";
	if (ctl.events.tcp != NULL)
		ctl.events.option = "-T";

	rc = cmd->run(&ctl, cmd, argc - optind, argv + optind);
	rc = ctl_finish_output(rc);
	ctl_addr_free(&ctl.api);
	ctl_addr_free(&ctl.events);
	if (ctl.token != NULL) {
		explicit_bzero(ctl.token, strlen(ctl.token));
		free(ctl.token);
	}
	return rc;
}
