/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperd(8): parse the command line, read the configuration, and hand
 * over to the daemon context.  Nothing else lives here.
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "replay.h"
#include "rules.h"
#include "timeutil.h"
#include "tls.h"

static const char usage_text[] =
"usage: misperd [-dfhnV] [-c file]\n"
"       misperd --check-rules FILE\n"
"       misperd --replay EVENTS --rules FILE [--against FILE] [--until TIME]\n"
"\n"
"Watches missing and absent child episodes reported by a control room,\n"
"keeps each child's history and raises escalation alerts.\n"
"\n"
"  -c, --config FILE  read the YAML configuration FILE (default: embedded\n"
"                     defaults: ./misperd.sock, tcp 127.0.0.1:7470,\n"
"                     ./misperd.db, ./rules/default.yaml)\n"
"  -f, --foreground   stay in the foreground and log to stderr\n"
"  -d, --debug        log at debug level (overrides log_level)\n"
"  -n, --check-config check the configuration, print \"configuration OK\"\n"
"                     and exit\n"
"  --check-rules FILE validate a rules file: print a summary and exit 0,\n"
"                     or print every error (file:line:col) and exit 1\n"
"  --replay EVENTS    run an NDJSON event file (- for stdin) through\n"
"                     --rules FILE on a scratch database with a clock\n"
"                     driven by event time; print the alerts it would\n"
"                     raise, one JSON object per line, and a summary on\n"
"                     stderr; with --against FILE print what differs;\n"
"                     --until TIME runs the clock on to an RFC 3339 time\n"
"  -V, --version      print the version and exit\n"
"  -h, --help         print this help and exit\n"
"\n"
"Signals: SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the rules\n"
"(the configuration is read only at start).  See misperd(8) and docs/.\n";

static const struct option long_options[] = {
	{ "config",		required_argument,	NULL, 'c' },
	{ "foreground",		no_argument,		NULL, 'f' },
	{ "debug",		no_argument,		NULL, 'd' },
	{ "check-config",	no_argument,		NULL, 'n' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "check-rules",	required_argument,	NULL, 'R' },
	{ "replay",		required_argument,	NULL, 'P' },
	{ "rules",		required_argument,	NULL, 'r' },
	{ "against",		required_argument,	NULL, 'A' },
	{ "until",		required_argument,	NULL, 'U' },
	{ NULL,			0,			NULL, 0 }
};

/* --check-rules: 0 and a summary, or 1 and every error. */
static int
check_rules(const char *path)
{
	struct rules	*rules;
	char		*cause = NULL, *summary;

	if ((rules = rules_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return 1;
	}
	summary = rules_summary(rules);
	printf("%s: rules OK\n%s\n", path, summary);
	free(summary);
	rules_free(rules);
	return 0;
}

/* --replay: run the offline replay and return its exit status. */
static int
replay(struct replay_opts *ro, const char *until)
{
	if (ro->rules == NULL) {
		fprintf(stderr, "misperd: --replay needs --rules FILE\n");
		return 2;
	}
	if (until != NULL && time_parse_rfc3339(until, &ro->until_ms) == -1) {
		fprintf(stderr, "misperd: --until must be an RFC 3339 time, "
		    "e.g. 2026-11-21T22:10:00Z\n");
		return 2;
	}
	log_init(1, LOG_LEVEL_WARN);
	return replay_run(ro, stdout, stderr);
}

/*
 * -n: the file was read; the TLS files are loaded as a start would load
 * them (certificate, key and its mode, CAs).  0, or 1 and why not.
 */
static int
check_config(struct config *cfg)
{
	struct tls	*tls;
	char		*cause = NULL;

	if (CONFIG_TLS_ON(cfg)) {
		if ((tls = tls_new(cfg, &cause)) == NULL) {
			fprintf(stderr, "%s\n", cause);
			free(cause);
			config_free(cfg);
			return 1;
		}
		tls_free(tls);
	}
	printf("configuration OK\n");
	config_free(cfg);
	return 0;
}

/* Print usage to stream and exit with code. */
static __dead void
usage(FILE *stream, int code)
{
	fputs(usage_text, stream);
	exit(code);
}

int
main(int argc, char **argv)
{
	struct config	*cfg;
	struct daemon	*d;
	enum log_level	 level;
	struct replay_opts ro = { NULL, NULL, NULL, -1, 65536 };
	const char	*path = NULL, *rules_check = NULL, *until = NULL;
	char		*cause = NULL;
	int		 ch, foreground = 0, debug = 0, check = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:dfhnV", long_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("misperd %s (contract v1)\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
		case 'R':
			rules_check = optarg;
			break;
		case 'P':
			ro.events = optarg;
			break;
		case 'r':
			ro.rules = optarg;
			break;
		case 'A':
			ro.against = optarg;
			break;
		case 'U':
			until = optarg;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	if (rules_check != NULL)
		return check_rules(rules_check);
	if (ro.events != NULL)
		return replay(&ro, until);

	/* Files we create (database, logs) are ours alone. */
	umask(0077);
	log_init(1, LOG_LEVEL_INFO);
	cfg = path != NULL ? config_load(path, &cause) : config_default();
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return 1;
	}
	if (check)
		return check_config(cfg);
	level = LOG_LEVEL_INFO;
	if (cfg->log_level != NULL)
		log_level_parse(cfg->log_level, &level);
	if (debug)
		level = LOG_LEVEL_DEBUG;
	if (!foreground) {
		/* keep the working directory: default paths are relative */
		if (daemon(1, 0) == -1)
			fatal("main", "cannot daemonize");
		log_init(0, level);
	} else
		log_set_level(level);
	log_info("main", "misperd %s starting (%s)", PACKAGE_VERSION,
	    path != NULL ? path : "embedded defaults");

	if ((d = daemon_new(cfg, foreground, &cause)) == NULL) {
		/* one log line per error, each file:line:col when it has one */
		for (char *l = strtok(cause, "\n"); l != NULL;
		    l = strtok(NULL, "\n"))
			log_warnx("main", "%s", l);
		free(cause);
		/* say plainly that it stopped: the errors above are the why */
		log_warnx("main", "misperd not started; fix the error above and "
		    "start it again");
		return 1;
	}
	rc = daemon_run(d);
	daemon_free(d);
	return rc == 0 ? 0 : 1;
}
