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

static const char usage_text[] =
"usage: misperd [-fhnV] [-c file] [-d]\n"
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
"  -V, --version      print the version and exit\n"
"  -h, --help         print this help and exit\n"
"\n"
"Signals: SIGTERM or SIGINT stop it cleanly; SIGHUP is reserved for\n"
"reloading the rules.  See misperd(8) and docs/ for more.\n";

static const struct option long_options[] = {
	{ "config",		required_argument,	NULL, 'c' },
	{ "foreground",		no_argument,		NULL, 'f' },
	{ "debug",		no_argument,		NULL, 'd' },
	{ "check-config",	no_argument,		NULL, 'n' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "help",		no_argument,		NULL, 'h' },
	{ NULL,			0,			NULL, 0 }
};

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
	const char	*path = NULL;
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
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);

	/* Files we create (database, logs) are ours alone. */
	umask(0077);
	log_init(1, LOG_LEVEL_INFO);
	cfg = path != NULL ? config_load(path, &cause) : config_default();
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return 1;
	}
	if (check) {
		printf("configuration OK\n");
		config_free(cfg);
		return 0;
	}
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
		log_warnx("main", "%s", cause);
		free(cause);
		return 1;
	}
	rc = daemon_run(d);
	daemon_free(d);
	return rc == 0 ? 0 : 1;
}
