/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl check-rules and replay: run here, with no daemon, by the
 * library code behind misperd --check-rules and misperd --replay
 * (rules.c, replay.c), so both tools give the same output and exit codes
 * for the same input.  tests/integration/test_misperctl.py compares them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "replay.h"
#include "rules.h"
#include "timeutil.h"

int
ctl_cmd_check_rules(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct rules	*rules;
	char		*cause = NULL, *summary;
	const char	*path;
	int		 ch;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc - optind != 1)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	path = argv[optind];
	/* as daemon/main.c's check_rules() */
	if ((rules = rules_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return CTL_EXIT_PROBLEM;
	}
	summary = rules_summary(rules);
	printf("%s: rules OK\n%s\n", path, summary);
	free(summary);
	rules_free(rules);
	return CTL_EXIT_OK;
}

int
ctl_cmd_replay(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "rules",	required_argument,	NULL, 'r' },
		{ "against",	required_argument,	NULL, 'a' },
		{ "until",	required_argument,	NULL, 'u' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,			NULL, 0 }
	};
	/* the defaults of daemon/main.c: no --until, 64 KiB lines */
	struct replay_opts	 ro = { NULL, NULL, NULL, -1, 65536 };
	int			 ch;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":hr:a:u:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'r':
			ro.rules = optarg;
			break;
		case 'a':
			ro.against = optarg;
			break;
		case 'u':
			if (time_parse_rfc3339(optarg, &ro.until_ms) == -1) {
				ctl_warnx("replay: --until must be an RFC 3339 "
				    "time, e.g. 2026-11-21T22:10:00Z");
				ctl_usage(cmd, CTL_EXIT_USAGE);
			}
			break;
		default:
			ctl_opt_common(ctl, cmd, ch, argv);
		}
	}
	if (argc - optind != 1)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	ro.events = argv[optind];
	if (ro.rules == NULL) {
		ctl_warnx("replay needs --rules FILE");
		ctl_usage(cmd, CTL_EXIT_USAGE);
	}
	return replay_run(&ro, stdout, stderr);
}
