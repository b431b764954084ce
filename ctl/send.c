/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * misperctl send: NDJSON events from a file or standard input to the
 * event socket, pipelined.  One poll() loop writes input while it reads
 * replies, so neither side ever waits for the other: the daemon stops
 * reading a connection whose replies are not read (protocol section 1),
 * and a client that wrote everything before reading would deadlock on a
 * large file.  Memory is one input chunk plus one partial reply line.
 *
 * The protocol answers every line exactly once, in order, so reply N is
 * the answer to line N and nothing is kept per line.  The input is passed
 * through unchanged; a last line without LF becomes a line when we shut
 * down our sending side, as the daemon takes it then.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "ctltable.h"
#include "xmalloc.h"

#define SEND_CHUNK	65536
#define SEND_MAX_REPLY	(4 * 1024 * 1024)

struct send {
	struct ctl	*ctl;
	const char	*name;		/* the input, for messages */
	int		 in;
	struct ctl_io	 io;		/* the event socket */
	int		 print_replies;	/* -r */

	char		 obuf[SEND_CHUNK];	/* input not yet written */
	size_t		 ooff, olen;
	int		 in_eof;
	int		 in_error;	/* reading the input failed */
	int		 shut;		/* our sending side is shut */
	int		 write_dead;	/* the daemon no longer takes input */
	int		 partial;	/* what was written ends inside a line */
	uint64_t	 sent;		/* lines written */

	char		*rbuf;		/* reply bytes not yet a whole line */
	size_t		 rlen, rcap;
	int		 peer_eof;
	int		 broken;	/* a reply we cannot read: stop */
	int		 refused;	/* the daemon refused the connection */

	uint64_t	 replies, accepted, duplicates, rejected, alerts;
	uint64_t	 unavailable;
};

/* Say why line n was rejected: "line N: error field: message". */
static void
send_rejected(struct send *s, uint64_t n, json_t *r)
{
	const json_t	*err = json_object_get(r, "error");
	const json_t	*field = json_object_get(r, "field");
	const json_t	*msg = json_object_get(r, "message");

	fprintf(stderr, "line %" PRIu64 ": ", n);
	ctl_puts_clean(stderr, json_is_string(err) ? json_string_value(err) :
	    "error");
	if (json_is_string(field)) {
		fputc(' ', stderr);
		ctl_puts_clean(stderr, json_string_value(field));
	}
	fputs(": ", stderr);
	ctl_puts_clean(stderr, json_is_string(msg) ? json_string_value(msg) :
	    "(no message)");
	fputc('\n', stderr);
	if (json_is_string(err) &&
	    strcmp(json_string_value(err), "unavailable") == 0)
		s->unavailable++;
}

/* One reply line (without LF). */
static void
send_reply(struct send *s, const char *line, size_t len)
{
	json_t		*r;
	const json_t	*ok, *alerts, *msg, *err;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (s->print_replies) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	}
	r = json_loadb(line, len, 0, NULL);
	ok = json_object_get(r, "ok");
	if (!json_is_boolean(ok)) {
		ctl_warnx("reply %" PRIu64 " from the daemon is not a reply "
		    "object; stopping", s->replies + 1);
		s->broken = 1;
		goto out;
	}
	err = json_object_get(r, "error");
	if (s->replies == s->sent || (s->replies == 0 && json_is_false(ok) &&
	    json_is_null(json_object_get(r, "id")) && json_is_string(err) &&
	    (strcmp(json_string_value(err), "unavailable") == 0 ||
	    strcmp(json_string_value(err), "forbidden") == 0))) {
		/*
		 * Nothing outstanding, or "unavailable" or "forbidden" for
		 * no event first: the line the daemon sends a connection
		 * over its limit, or from a client that may not submit,
		 * before it reads anything, then closes.
		 */
		msg = json_object_get(r, "message");
		fputs("misperctl: the daemon refused the connection: ",
		    stderr);
		ctl_puts_clean(stderr, json_is_string(msg) ?
		    json_string_value(msg) : "(no message)");
		fputc('\n', stderr);
		s->refused = 1;
		goto out;
	}
	s->replies++;
	if (json_is_false(ok)) {
		s->rejected++;
		send_rejected(s, s->replies, r);
	} else if (json_is_true(json_object_get(r, "duplicate")))
		s->duplicates++;
	else {
		s->accepted++;
		alerts = json_object_get(r, "alerts");
		if (json_is_array(alerts))
			s->alerts += json_array_size(alerts);
	}
out:
	if (r != NULL)
		json_decref(r);
}

/* Read what the daemon sent and handle each whole reply line. */
static void
send_read(struct send *s)
{
	char	*lf, *p;
	ssize_t	 n;

	if (s->rcap - s->rlen < SEND_CHUNK) {
		if (s->rlen > SEND_MAX_REPLY) {
			ctl_warnx("a reply from the daemon is longer than %d "
			    "bytes; stopping", SEND_MAX_REPLY);
			s->broken = 1;
			return;
		}
		s->rcap = s->rcap == 0 ? 2 * SEND_CHUNK : s->rcap * 2;
		s->rbuf = xreallocarray(s->rbuf, 1, s->rcap);
	}
	n = ctl_io_read(&s->io, s->rbuf + s->rlen, s->rcap - s->rlen);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->peer_eof = 1;
		return;
	}
	s->rlen += (size_t)n;
	p = s->rbuf;
	while (!s->broken && !s->refused &&
	    (lf = memchr(p, '\n', s->rlen - (p - s->rbuf))) != NULL) {
		send_reply(s, p, lf - p);
		p = lf + 1;
	}
	s->rlen -= p - s->rbuf;
	memmove(s->rbuf, p, s->rlen);
}

/* Write what the socket takes of the input read. */
static void
send_write(struct send *s)
{
	const char	*p, *end, *lf;
	ssize_t		 n;

	n = ctl_io_write(&s->io, s->obuf + s->ooff, s->olen - s->ooff);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1) {
		/* closed on us; the replies it sent may still be read */
		s->write_dead = 1;
		return;
	}
	p = s->obuf + s->ooff;
	end = p + n;
	while ((lf = memchr(p, '\n', end - p)) != NULL) {
		s->sent++;
		p = lf + 1;
	}
	if (n > 0)
		s->partial = end[-1] != '\n';
	s->ooff += (size_t)n;
}

static void
send_fill(struct send *s)
{
	ssize_t	 n;

	n = read(s->in, s->obuf, sizeof s->obuf);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1) {
		ctl_warnx("reading %s: %s; sending no more", s->name,
		    strerror(errno));
		s->in_error = 1;
	}
	if (n <= 0) {
		s->in_eof = 1;
		return;
	}
	s->ooff = 0;
	s->olen = (size_t)n;
}

/*
 * The loop.  Returns when every line has its reply, or the daemon closed
 * or stopped answering (after the timeout), or a reply made no sense.
 */
static void
send_loop(struct send *s)
{
	struct pollfd	 pfd[2];
	int		 rc, nfds, pending;

	for (;;) {
		if (s->in_eof && s->ooff == s->olen && !s->shut) {
			/* the daemon answers all it has, then closes */
			ctl_io_shutdown_write(&s->io);
			s->shut = 1;
			if (s->partial)
				s->sent++;
		}
		if (s->broken || s->refused || s->peer_eof ||
		    (s->shut && s->replies == s->sent) ||
		    (s->write_dead && s->replies == s->sent))
			return;
		pfd[0].fd = s->io.fd;
		pfd[0].events = POLLIN;
		if (s->ooff < s->olen && !s->write_dead)
			pfd[0].events |= POLLOUT;
		nfds = 1;
		if (!s->in_eof && s->ooff == s->olen && !s->write_dead) {
			pfd[1].fd = s->in;
			pfd[1].events = POLLIN;
			nfds = 2;
		}
		/*
		 * Waiting for input with no reply due may take for ever (a
		 * pipe from a slow producer); waiting for a reply may not.
		 */
		/* replies TLS has decrypted already make no poll() event */
		pending = ctl_io_pending(&s->io) > 0;
		rc = poll(pfd, nfds, pending ? 0 : s->replies < s->sent ?
		    (int)s->ctl->timeout_ms : -1);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			fatal("ctl", "poll");
		if (rc == 0 && !pending) {
			ctl_warnx("no reply from the daemon for %lld s",
			    (long long)(s->ctl->timeout_ms / 1000));
			return;
		}
		if (pending || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			send_read(s);
		if ((pfd[0].revents & POLLOUT) && !s->write_dead)
			send_write(s);
		if (nfds == 2 && pfd[1].revents != 0)
			send_fill(s);
	}
}

/* Say which lines got no reply; returns whether any did. */
static int
send_unanswered(struct send *s)
{
	int	 unsent = !s->in_eof || s->ooff < s->olen;

	if (s->replies == s->sent && !unsent)
		return 0;
	if (s->replies < s->sent)
		ctl_warnx("lines %" PRIu64 " to %" PRIu64 " got no reply%s",
		    s->replies + 1, s->sent, unsent ?
		    ", and the rest of the input was not sent" : "");
	else
		ctl_warnx("the input from line %" PRIu64 " on was not sent",
		    s->sent + 1);
	ctl_warnx("resend from line %" PRIu64 " (resending is always safe: "
	    "the daemon answers a line it has as a duplicate)",
	    s->replies + 1);
	return 1;
}

static void
send_summary(struct send *s, uint64_t unanswered)
{
	json_t	*j;
	char	*text;

	if (s->ctl->json) {
		j = json_pack("{sIsIsIsIsIsI}", "sent", (json_int_t)s->sent,
		    "accepted", (json_int_t)s->accepted,
		    "duplicates", (json_int_t)s->duplicates,
		    "rejected", (json_int_t)s->rejected,
		    "alerts_raised", (json_int_t)s->alerts,
		    "unanswered", (json_int_t)unanswered);
		if (j == NULL ||
		    (text = json_dumps(j, JSON_COMPACT |
		    JSON_PRESERVE_ORDER)) == NULL)
			fatalx("ctl", "json failed");
		printf("%s\n", text);
		free(text);
		json_decref(j);
		return;
	}
	printf("sent %" PRIu64 ", accepted %" PRIu64 ", duplicates %" PRIu64
	    ", rejected %" PRIu64 ", alerts raised %" PRIu64, s->sent,
	    s->accepted, s->duplicates, s->rejected, s->alerts);
	if (unanswered > 0)
		printf(", no reply %" PRIu64, unanswered);
	printf("\n");
}

int
ctl_cmd_send(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "replies",	no_argument,	NULL, 'r' },
		CTL_LONGOPTS_COMMON,
		{ NULL,		0,		NULL, 0 }
	};
	struct send	*s;
	const char	*path = "-";
	int		 ch, rc, incomplete;

	s = xcalloc(1, sizeof *s);
	s->ctl = ctl;
	ctl_opt_reset();
	while ((ch = getopt_long(argc, argv, ":hr", longopts, NULL)) != -1) {
		if (ch == 'r')
			s->print_replies = 1;
		else
			ctl_opt_common(ctl, cmd, ch, argv);
	}
	if (argc - optind > 1)
		ctl_usage(cmd, CTL_EXIT_USAGE);
	if (argc - optind == 1)
		path = argv[optind];
	if (strcmp(path, "-") == 0) {
		s->in = STDIN_FILENO;
		s->name = "standard input";
	} else if ((s->in = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		ctl_warnx("cannot open %s: %s", path, strerror(errno));
		free(s);
		return CTL_EXIT_USAGE;
	} else
		s->name = path;

	if (ctl_io_open(ctl, &ctl->events, &s->io) == -1) {
		rc = CTL_EXIT_UNAVAILABLE;
		goto out;
	}
	send_loop(s);
	ctl_io_close(&s->io);
	if (s->peer_eof && (s->replies < s->sent || !s->shut) && !s->refused)
		ctl_warnx("the daemon closed the connection after %" PRIu64
		    " replies", s->replies);
	incomplete = send_unanswered(s) || s->refused;
	send_summary(s, s->sent - s->replies);
	if (incomplete || s->broken || s->unavailable > 0)
		rc = CTL_EXIT_UNAVAILABLE;
	else if (s->in_error)
		rc = CTL_EXIT_USAGE;
	else if (s->rejected > 0)
		rc = CTL_EXIT_PROBLEM;
	else
		rc = CTL_EXIT_OK;
out:
	if (s->in != STDIN_FILENO)
		close(s->in);
	free(s->rbuf);
	free(s);
	return rc;
}
