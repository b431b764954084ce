/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl check-rules and replay: run here, with no daemon, by the
 * library code behind misperd --check-rules and misperd --replay
 * (rules.c, replay.c), so both tools give the same output and exit codes
 * for the same input.  tests/integration/test_misperctl.py compares them.
 * And hash-token: the token_sha256 of access.clients, by the code the
 * daemon checks tokens with (access.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
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

/* Is s[0..len) a token misperctl would send: visible ASCII, no space? */
int
ctl_token_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > ACCESS_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	}
	return 1;
}

int
ctl_cmd_hash_token(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	char	 buf[ACCESS_TOKEN_MAX + 3], hex[2 * ACCESS_TOKEN_LEN + 1];
	size_t	 len = 0;
	ssize_t	 n;
	int	 ch;

	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		ctl_opt_common(ctl, cmd, ch, argv);
	if (argc != optind)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	/* one token and its line end, and one byte to tell it is too long */
	while (len < sizeof buf && (n = read(STDIN_FILENO, buf + len,
	    sizeof buf - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ctl_warnx("reading standard input: %s",
			    strerror(errno));
			return CTL_EXIT_USAGE;
		}
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (!ctl_token_ok(buf, len)) {
		explicit_bzero(buf, sizeof buf);
		ctl_warnx("hash-token: give one token on standard input: 1-%d "
		    "visible ASCII characters, no spaces (one line end is "
		    "dropped)", ACCESS_TOKEN_MAX);
		return CTL_EXIT_USAGE;
	}
	access_token_hash_hex(buf, len, hex);
	explicit_bzero(buf, sizeof buf);
	printf("%s\n", hex);
	return CTL_EXIT_OK;
}
