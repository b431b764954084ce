/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The load side of the benchmark harness (scripts/bench.py, issue #7):
 * send lines of an NDJSON event stream to misperd's event socket and time
 * the answers, from C so that the client takes as little as possible of
 * the CPU the daemon shares with it.  Two modes, each printing one JSON
 * object on standard output:
 *
 *	loadgen pipeline -e SOCK [-s skip] [-n count] [-g segment] FILE
 *
 * sends every line as fast as the daemon takes them on one connection
 * (pipelined; the daemon replies after each batch commits) and counts the
 * replies: events/s overall and for each segment of replies, so that cost
 * can be followed as history grows.
 *
 *	loadgen paced -e SOCK -a ALERTSOCK -r route,... [-R rate] [-A after]
 *	    [-s skip] [-n count] [-w wait_ms] [-o raw] FILE
 *
 * subscribes to the routes on the alert socket (alerts after seq `after`),
 * then sends one line every 1/rate s on a fixed schedule (open loop: a
 * slow reply never delays the next send) and times event sent -> reply
 * received and event sent -> alert received on the stream, matching each
 * alert to the event whose reply carried its id.  One thread and ppoll(),
 * so a timestamp is taken as soon as the kernel has the bytes.
 *
 * Two more modes measure floors the daemon's figures are compared with in
 * the same run, each a lower bound on what any design that keeps the
 * product's rules could cost on this machine:
 *
 *	loadgen parse [-s skip] [-n count] FILE
 *
 * parses every line with jansson as the daemon's decoder does
 * (json_loadb(), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) and frees it,
 * on one thread: lines/s of the parse alone, the ceiling of a replay that
 * reads each line (figure 3).
 *
 *	loadgen sync [-n count] [-P pages] DIR
 *
 * in a new file in DIR (unlinked as soon as it is open), overwrites
 * `pages` (-P, default 1) 4 KiB pages in place in one write and
 * fdatasync()s them, count times (default 2,000), each write and sync
 * timed together ("write_fdatasync"), as a WAL commit of that many frames
 * would be: with one page, the cheapest durable commit this file system
 * gives, the floor under a reply sent only after its commit (figure 2).
 *
 * A measurement tool, not part of the daemon.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dist.h"

#define LG_READ_SIZE	65536
#define LG_WRITE_SIZE	(256 * 1024)
#define LG_STALL_MS	120000	/* no progress for this long: give up */

/* The lines to send: line i is buf[off[i]] .. buf[off[i + 1]] (with LF). */
struct lg_lines {
	char		*buf;
	size_t		 len;
	size_t		*off;
	size_t		 n;
};

/* Incoming bytes cut into lines. */
struct lg_reader {
	int		 fd;
	char		*buf;
	size_t		 len;
	size_t		 cap;
	int		 eof;
};

/* An alert seen in a reply or on the stream, by seq - after - 1. */
struct lg_alert {
	int64_t		 recv_ns;	/* 0: not received yet */
	int64_t		 event;		/* the line that raised it; -1: none */
};

struct lg {
	const char	*mode;
	const char	*events_path;
	const char	*alerts_path;
	const char	*routes;
	const char	*raw_path;
	const char	*file;
	size_t		 skip;
	size_t		 count;		/* 0: to the end */
	size_t		 segment;
	double		 rate;
	int64_t		 after;
	int64_t		 wait_ms;
	size_t		 pages;		/* sync: 4 KiB pages a write */
	struct lg_lines	 lines;
	int64_t		 t0_real;	/* paced: the schedule's start, realtime */

	/* replies */
	size_t		 replies;
	size_t		 ok;
	size_t		 duplicates;
	size_t		 errors;
	char		 first_error[512];

	/* paced */
	int64_t		*send_ns;
	int64_t		*sched_ns;
	int64_t		*reply_ns;
	struct lg_alert	*alerts;
	size_t		 nalerts;	/* slots in use */
	size_t		 expected;	/* alert ids from replies of new events */
	size_t		 matched;	/* of those, received on the stream */
	size_t		 stream_alerts;	/* every alert line received */
};

static void __attribute__((noreturn, format(printf, 1, 2)))
lg_fatalx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
lg_xrealloc(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		lg_fatalx("out of memory");
	if ((p = realloc(p, n * size == 0 ? 1 : n * size)) == NULL)
		lg_fatalx("out of memory");
	return p;
}

static int64_t
lg_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Strict decimal for the options. */
static int64_t
lg_number(const char *s, const char *what)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
		lg_fatalx("%s '%s' is not a whole number", what, s);
	return v;
}

/* Lines skip .. skip + count of the file, each ending in LF. */
static void
lg_load(struct lg *g)
{
	struct lg_lines	*l = &g->lines;
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0, bufcap = 0, offcap = 0, seen = 0;
	ssize_t		 n;

	if ((f = fopen(g->file, "r")) == NULL)
		lg_fatalx("%s: %s", g->file, strerror(errno));
	while ((n = getline(&line, &cap, f)) != -1) {
		if (seen++ < g->skip)
			continue;
		if (g->count != 0 && l->n == g->count)
			break;
		if (l->len + (size_t)n + 1 > bufcap) {
			bufcap = bufcap == 0 ? (1 << 20) : bufcap * 2;
			while (bufcap < l->len + (size_t)n + 1)
				bufcap *= 2;
			l->buf = lg_xrealloc(l->buf, bufcap, 1);
		}
		if (l->n + 2 > offcap) {
			offcap = offcap == 0 ? 4096 : offcap * 2;
			l->off = lg_xrealloc(l->off, offcap, sizeof *l->off);
		}
		l->off[l->n++] = l->len;
		memcpy(l->buf + l->len, line, (size_t)n);
		l->len += (size_t)n;
		if (line[n - 1] != '\n')
			l->buf[l->len++] = '\n';
	}
	if (ferror(f))
		lg_fatalx("%s: read error", g->file);
	free(line);
	fclose(f);
	if (l->n == 0)
		lg_fatalx("%s: no lines after the first %zu", g->file, g->skip);
	if (g->count != 0 && l->n < g->count)
		lg_fatalx("%s: only %zu lines after the first %zu, %zu asked "
		    "for", g->file, l->n, g->skip, g->count);
	l->off[l->n] = l->len;
}

static int
lg_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		lg_fatalx("%s: socket path too long", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		lg_fatalx("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		lg_fatalx("connect %s: %s", path, strerror(errno));
	return fd;
}

static void
lg_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		lg_fatalx("fcntl: %s", strerror(errno));
}

/* Read what is there (nothing if it would block); EOF sets r->eof. */
static void
lg_read(struct lg_reader *r)
{
	ssize_t	 n;

	if (r->cap - r->len < LG_READ_SIZE) {
		r->cap = r->cap == 0 ? 4 * LG_READ_SIZE : r->cap * 2;
		r->buf = lg_xrealloc(r->buf, r->cap, 1);
	}
	n = read(r->fd, r->buf + r->len, r->cap - r->len);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		lg_fatalx("read: %s", strerror(errno));
	}
	if (n == 0)
		r->eof = 1;
	r->len += (size_t)n;
}

/* Hand each complete line to fn, keep the rest. */
static void
lg_lines_each(struct lg *g, struct lg_reader *r, int64_t t,
    void (*fn)(struct lg *, const char *, size_t, int64_t))
{
	char	*p = r->buf, *end = r->buf + r->len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		fn(g, p, (size_t)(nl - p), t);
		p = nl + 1;
	}
	r->len = (size_t)(end - p);
	memmove(r->buf, p, r->len);
}

static void
lg_note_error(struct lg *g, const char *line, size_t len)
{
	g->errors++;
	if (g->first_error[0] == '\0')
		snprintf(g->first_error, sizeof g->first_error, "%.*s",
		    (int)(len > 400 ? 400 : len), line);
}

/* pipeline: count a reply, cheaply (the replies are the daemon's). */
static void
lg_pipeline_reply(struct lg *g, const char *line, size_t len, int64_t t)
{
	static const char ok[] = "{\"ok\":true,";

	(void)t;
	g->replies++;
	if (len >= sizeof ok - 1 && memcmp(line, ok, sizeof ok - 1) == 0) {
		g->ok++;
		/* after "alerts", before any "brief" */
		if (memmem(line, len, "],\"duplicate\":true", 18) != NULL)
			g->duplicates++;
	} else
		lg_note_error(g, line, len);
}

static void
lg_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void
lg_print_counts(struct lg *g)
{
	printf("\"lines\":%zu,\"replies\":%zu,\"ok\":%zu,\"duplicates\":%zu,"
	    "\"errors\":%zu,\"first_error\":", g->lines.n, g->replies, g->ok,
	    g->duplicates, g->errors);
	lg_json_string(stdout, g->first_error);
}

/* Mode pipeline. */
static int
lg_pipeline(struct lg *g)
{
	struct lg_reader r;
	struct pollfd	 pfd;
	size_t		 sent = 0, nseg = 0, i;
	int64_t		 t0, t, *seg, last = 0;

	seg = lg_xrealloc(NULL, g->lines.n / (g->segment ? g->segment : 1) + 2,
	    sizeof *seg);
	memset(&r, 0, sizeof r);
	r.fd = lg_connect(g->events_path);
	lg_nonblock(r.fd);
	t0 = last = lg_now_ns();
	while (g->replies < g->lines.n && !r.eof) {
		pfd.fd = r.fd;
		pfd.events = POLLIN | (sent < g->lines.len ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR)
			lg_fatalx("poll: %s", strerror(errno));
		t = lg_now_ns();
		if ((pfd.revents & POLLOUT) && sent < g->lines.len) {
			size_t	 w = g->lines.len - sent;
			ssize_t	 n;

			if (w > LG_WRITE_SIZE)
				w = LG_WRITE_SIZE;
			n = write(r.fd, g->lines.buf + sent, w);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				lg_fatalx("write: %s", strerror(errno));
			if (n > 0) {
				sent += (size_t)n;
				last = t;
			}
			if (sent == g->lines.len)
				shutdown(r.fd, SHUT_WR);
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			size_t	 before = g->replies;

			lg_read(&r);
			lg_lines_each(g, &r, t, lg_pipeline_reply);
			if (g->replies != before)
				last = t;
			while (g->segment != 0 &&
			    g->replies >= (nseg + 1) * g->segment)
				seg[nseg++] = t;
		}
		if (t - last > (int64_t)LG_STALL_MS * 1000000)
			lg_fatalx("no progress for %d s (%zu of %zu replies)",
			    LG_STALL_MS / 1000, g->replies, g->lines.n);
	}
	t = lg_now_ns();
	close(r.fd);
	printf("{\"mode\":\"pipeline\",");
	lg_print_counts(g);
	printf(",\"seconds\":%.6f,\"events_per_s\":%.1f,\"segment\":%zu,"
	    "\"segments\":[", (double)(t - t0) / 1e9,
	    (double)g->replies * 1e9 / (double)(t - t0), g->segment);
	for (i = 0; i < nseg; i++) {
		int64_t	 from = i == 0 ? t0 : seg[i - 1];

		printf("%s{\"upto\":%zu,\"seconds\":%.6f,\"events_per_s\":%.1f}",
		    i == 0 ? "" : ",", (i + 1) * g->segment,
		    (double)(seg[i] - from) / 1e9,
		    (double)g->segment * 1e9 / (double)(seg[i] - from));
	}
	printf("]}\n");
	free(seg);
	free(r.buf);
	return g->replies == g->lines.n ? 0 : 1;
}

/* The slot of alert seq, growing the table; NULL if seq <= after. */
static struct lg_alert *
lg_alert_slot(struct lg *g, int64_t seq)
{
	size_t	 i, n;

	if (seq <= g->after)
		return NULL;
	i = (size_t)(seq - g->after - 1);
	if (i >= g->nalerts) {
		n = g->nalerts == 0 ? 1024 : g->nalerts;
		while (n <= i)
			n *= 2;
		g->alerts = lg_xrealloc(g->alerts, n, sizeof *g->alerts);
		for (; g->nalerts < n; g->nalerts++) {
			g->alerts[g->nalerts].recv_ns = 0;
			g->alerts[g->nalerts].event = -1;
		}
	}
	return &g->alerts[i];
}

/* paced: a reply to line g->replies; note the alerts it names. */
static void
lg_paced_reply(struct lg *g, const char *line, size_t len, int64_t t)
{
	json_t		*o, *ids, *id;
	json_error_t	 err;
	struct lg_alert	*a;
	size_t		 k = g->replies++, i;
	const char	*s;

	if (k >= g->lines.n)
		lg_fatalx("more replies than lines");
	g->reply_ns[k] = t;
	if ((o = json_loadb(line, len, 0, &err)) == NULL)
		lg_fatalx("reply %zu is not JSON: %s", k, err.text);
	if (!json_is_true(json_object_get(o, "ok"))) {
		lg_note_error(g, line, len);
		json_decref(o);
		return;
	}
	g->ok++;
	if (json_is_true(json_object_get(o, "duplicate"))) {
		/* its alerts were raised (and streamed) by the original */
		g->duplicates++;
		json_decref(o);
		return;
	}
	ids = json_object_get(o, "alerts");
	json_array_foreach(ids, i, id) {
		if ((s = json_string_value(id)) == NULL || strncmp(s, "A-", 2))
			lg_fatalx("reply %zu: alert id %s", k, s ? s : "?");
		if ((a = lg_alert_slot(g, lg_number(s + 2, "alert id"))) ==
		    NULL)
			continue;
		a->event = (int64_t)k;
		g->expected++;
		if (a->recv_ns != 0)
			g->matched++;
	}
	json_decref(o);
}

/* paced: a line of the subscriber stream. */
static void
lg_paced_stream(struct lg *g, const char *line, size_t len, int64_t t)
{
	json_t		*o, *seq;
	json_error_t	 err;
	struct lg_alert	*a;

	if ((o = json_loadb(line, len, 0, &err)) == NULL)
		lg_fatalx("stream line is not JSON: %s", err.text);
	if (json_object_get(o, "ok") != NULL) {
		if (!json_is_true(json_object_get(o, "ok")))
			lg_fatalx("stream: %.*s", (int)len, line);
		json_decref(o);		/* the subscribe reply */
		return;
	}
	if (!json_is_integer(seq = json_object_get(o, "seq")))
		lg_fatalx("stream: an alert without seq: %.*s", (int)len, line);
	g->stream_alerts++;
	if ((a = lg_alert_slot(g, json_integer_value(seq))) != NULL &&
	    a->recv_ns == 0) {
		a->recv_ns = t;
		if (a->event >= 0)
			g->matched++;
	}
	json_decref(o);
}

/* Subscribe and wait for the answer. */
static void
lg_subscribe(struct lg *g, struct lg_reader *ar)
{
	char		*req, *p;
	struct pollfd	 pfd;
	int64_t		 until;
	size_t		 n;
	const char	*r;
	char		*nl;

	n = strlen(g->routes) * 3 + 200;
	req = lg_xrealloc(NULL, n, 1);
	p = req + snprintf(req, n, "{\"cmd\":\"subscribe\",\"name\":\"bench\","
	    "\"after\":%lld,\"routes\":[\"", (long long)g->after);
	for (r = g->routes; *r != '\0'; r++) {
		if (*r == ',')
			p += sprintf(p, "\",\"");
		else
			*p++ = *r;
	}
	strcpy(p, "\"]}\n");
	if (write(ar->fd, req, strlen(req)) != (ssize_t)strlen(req))
		lg_fatalx("subscribe: write: %s", strerror(errno));
	free(req);
	lg_nonblock(ar->fd);
	until = lg_now_ns() + 10000000000LL;
	while ((nl = ar->len ? memchr(ar->buf, '\n', ar->len) : NULL) ==
	    NULL) {
		pfd.fd = ar->fd;
		pfd.events = POLLIN;
		if (lg_now_ns() > until || ar->eof)
			lg_fatalx("no answer to subscribe");
		if (poll(&pfd, 1, 100) > 0)
			lg_read(ar);
	}
	if (strncmp(ar->buf, "{\"ok\":true", 10) != 0)
		lg_fatalx("subscribe refused: %.*s", (int)(nl - ar->buf),
		    ar->buf);
	ar->len -= (size_t)(nl + 1 - ar->buf);
	memmove(ar->buf, nl + 1, ar->len);
}

static void
lg_paced_report(struct lg *g, int64_t t0, int64_t t1)
{
	int64_t	*lat, *lag;
	size_t	 i, n = g->lines.n, nl = 0, missing = 0;
	FILE	*raw = NULL;

	if (g->raw_path != NULL && (raw = fopen(g->raw_path, "w")) == NULL)
		lg_fatalx("%s: %s", g->raw_path, strerror(errno));
	if (raw != NULL) {
		/* the schedule's start on the wall clock, to match logs */
		fprintf(raw, "# t0 %.6f realtime; e line t_s lag_us reply_us; "
		    "a alert_seq line alert_us\n", (double)g->t0_real / 1e9);
	}
	lat = lg_xrealloc(NULL, n + g->nalerts + 1, sizeof *lat);
	lag = lg_xrealloc(NULL, n + 1, sizeof *lag);
	for (i = 0; i < n; i++) {
		lag[i] = g->send_ns[i] - g->sched_ns[i];
		if (g->reply_ns[i] != 0)
			lat[nl++] = g->reply_ns[i] - g->send_ns[i];
		if (raw != NULL)
			fprintf(raw, "e %zu %.6f %.1f %.1f\n", i,
			    (double)(g->send_ns[i] - t0) / 1e9,
			    (double)lag[i] / 1e3, g->reply_ns[i] == 0 ? -1.0 :
			    (double)(g->reply_ns[i] - g->send_ns[i]) / 1e3);
	}
	printf("{\"mode\":\"paced\",");
	lg_print_counts(g);
	printf(",\"rate\":%.1f,\"seconds\":%.6f,\"achieved_rate\":%.1f,",
	    g->rate, (double)(t1 - t0) / 1e9, (double)n * 1e9 /
	    (double)(t1 - t0));
	dist_print("reply", lat, nl);
	nl = 0;
	for (i = 0; i < g->nalerts; i++) {
		const struct lg_alert *a = &g->alerts[i];

		if (a->event < 0)
			continue;
		if (a->recv_ns == 0) {
			missing++;
			continue;
		}
		lat[nl++] = a->recv_ns - g->send_ns[a->event];
		if (raw != NULL)
			fprintf(raw, "a %lld %lld %.1f\n",
			    (long long)(g->after + 1 + (int64_t)i),
			    (long long)a->event,
			    (double)(a->recv_ns - g->send_ns[a->event]) / 1e3);
	}
	printf(",");
	dist_print("alert", lat, nl);
	printf(",\"alerts_expected\":%zu,\"alerts_missing\":%zu,"
	    "\"stream_alerts\":%zu,", g->expected, missing, g->stream_alerts);
	dist_print("send_lag", lag, n);
	printf("}\n");
	if (raw != NULL)
		fclose(raw);
	free(lat);
	free(lag);
}

/* Mode paced. */
static int
lg_paced(struct lg *g)
{
	struct lg_reader er, ar;
	struct pollfd	 pfd[2];
	struct timespec	 ts;
	size_t		 n = g->lines.n, next = 0, wpos = 0;
	int64_t		 t0, t, wait, last, done_at = 0, period;

	g->send_ns = lg_xrealloc(NULL, n, sizeof *g->send_ns);
	g->sched_ns = lg_xrealloc(NULL, n, sizeof *g->sched_ns);
	g->reply_ns = calloc(n, sizeof *g->reply_ns);
	if (g->reply_ns == NULL)
		lg_fatalx("out of memory");
	memset(&er, 0, sizeof er);
	memset(&ar, 0, sizeof ar);
	ar.fd = lg_connect(g->alerts_path);
	lg_subscribe(g, &ar);
	er.fd = lg_connect(g->events_path);
	lg_nonblock(er.fd);

	period = (int64_t)(1e9 / g->rate);
	t0 = lg_now_ns() + 1000000;
	clock_gettime(CLOCK_REALTIME, &ts);
	g->t0_real = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + 1000000;
	last = t0;
	for (;;) {
		t = lg_now_ns();
		/* Send what is due; a line half written holds the rest. */
		while (next < n && t >= t0 + (int64_t)next * period) {
			size_t	 len = g->lines.off[next + 1] - g->lines.off[next];
			ssize_t	 w;

			if (wpos == 0) {
				g->sched_ns[next] = t0 + (int64_t)next * period;
				g->send_ns[next] = t;
			}
			w = write(er.fd, g->lines.buf + g->lines.off[next] +
			    wpos, len - wpos);
			if (w == -1 && errno != EAGAIN && errno != EINTR)
				lg_fatalx("write: %s", strerror(errno));
			if (w <= 0)
				break;
			wpos += (size_t)w;
			if (wpos < len)
				break;
			wpos = 0;
			next++;
		}
		if (next == n && g->replies == n) {
			if (done_at == 0)
				done_at = t;
			if (g->matched == g->expected ||
			    t - done_at > g->wait_ms * 1000000)
				break;
		}
		if (er.eof || ar.eof)
			lg_fatalx("the daemon closed a connection");
		if (t - last > (int64_t)LG_STALL_MS * 1000000)
			lg_fatalx("no reply for %d s", LG_STALL_MS / 1000);
		wait = next < n && wpos == 0 ? t0 + (int64_t)next * period - t :
		    100000000;
		if (wait < 0)
			wait = 0;
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		pfd[0].fd = er.fd;
		pfd[0].events = POLLIN | (wpos != 0 ? POLLOUT : 0);
		pfd[1].fd = ar.fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (ppoll(pfd, 2, &ts, NULL) == -1 && errno != EINTR)
			lg_fatalx("ppoll: %s", strerror(errno));
		t = lg_now_ns();
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			lg_read(&er);
			lg_lines_each(g, &er, t, lg_paced_reply);
			last = t;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			lg_read(&ar);
			lg_lines_each(g, &ar, t, lg_paced_stream);
		}
	}
	lg_paced_report(g, t0, done_at);
	close(er.fd);
	close(ar.fd);
	free(er.buf);
	free(ar.buf);
	free(g->send_ns);
	free(g->sched_ns);
	free(g->reply_ns);
	free(g->alerts);
	return g->replies == n ? 0 : 1;
}

/* Mode parse: the JSON library's cost per line, alone. */
static int
lg_parse(struct lg *g)
{
	struct lg_lines	*l = &g->lines;
	json_error_t	 jerr;
	json_t		*v;
	size_t		 i, bad = 0;
	int64_t		 t0, t1;

	t0 = lg_now_ns();
	for (i = 0; i < l->n; i++) {
		/* the line without its LF, as the listener hands it over */
		v = json_loadb(l->buf + l->off[i], l->off[i + 1] - l->off[i] - 1,
		    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (v == NULL)
			bad++;
		json_decref(v);
	}
	t1 = lg_now_ns();
	printf("{\"mode\":\"parse\",\"lines\":%zu,\"invalid\":%zu,"
	    "\"seconds\":%.6f,\"lines_per_s\":%.1f,\"us_per_line\":%.3f}\n",
	    l->n, bad, (double)(t1 - t0) / 1e9,
	    (double)l->n * 1e9 / (double)(t1 - t0),
	    (double)(t1 - t0) / 1e3 / (double)l->n);
	return 0;
}

#define LG_SYNC_PAGE	4096
#define LG_SYNC_PAGES	1024	/* the file: 4 MiB, written once first */
#define LG_SYNC_MAX	64	/* pages in one timed write, at most */

/* Mode sync: a write of g->pages pages in place and its fdatasync, timed. */
static int
lg_sync(struct lg *g)
{
	char		 path[4096], page[LG_SYNC_PAGE * LG_SYNC_MAX];
	size_t		 n = g->count != 0 ? g->count : 2000, i, k = g->pages;
	size_t		 len = LG_SYNC_PAGE * k, slots = LG_SYNC_PAGES / k;
	int64_t		*lat, t;
	int		 fd;

	if (snprintf(path, sizeof path, "%s/loadgen-sync.%ld", g->file,
	    (long)getpid()) >= (int)sizeof path)
		lg_fatalx("%s: path too long", g->file);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		lg_fatalx("%s: %s", path, strerror(errno));
	/* unlinked at once: no exit, error or signal can leave it behind */
	if (unlink(path) == -1)
		lg_fatalx("%s: unlink: %s", path, strerror(errno));
	memset(page, 'w', sizeof page);
	/* allocated and synced first: the timed writes change no size */
	for (i = 0; i < LG_SYNC_PAGES; i++)
		if (write(fd, page, LG_SYNC_PAGE) != LG_SYNC_PAGE)
			lg_fatalx("%s: write: %s", path, strerror(errno));
	if (fsync(fd) == -1)
		lg_fatalx("%s: fsync: %s", path, strerror(errno));
	lat = lg_xrealloc(NULL, n, sizeof *lat);
	for (i = 0; i < n; i++) {
		page[0] = (char)i;
		t = lg_now_ns();
		if (pwrite(fd, page, len, (off_t)((i % slots) * len)) !=
		    (ssize_t)len)
			lg_fatalx("%s: pwrite: %s", path, strerror(errno));
		if (fdatasync(fd) == -1)
			lg_fatalx("%s: fdatasync: %s", path, strerror(errno));
		lat[i] = lg_now_ns() - t;
	}
	close(fd);
	printf("{\"mode\":\"sync\",\"bytes\":%zu,", len);
	/* each sample is the pwrite() and the fdatasync() after it */
	dist_print("write_fdatasync", lat, n);
	printf("}\n");
	free(lat);
	return 0;
}

static void __attribute__((noreturn))
lg_usage(void)
{
	fputs("usage: loadgen pipeline -e SOCK [-s skip] [-n count] "
	    "[-g segment] FILE\n"
	    "       loadgen paced -e SOCK -a ALERTSOCK -r route,... "
	    "[-R rate] [-A after]\n"
	    "           [-s skip] [-n count] [-w wait_ms] [-o raw] FILE\n"
	    "       loadgen parse [-s skip] [-n count] FILE\n"
	    "       loadgen sync [-n count] [-P pages] DIR\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct lg	 g;
	int		 ch, rc;

	memset(&g, 0, sizeof g);
	g.rate = 1000;
	g.wait_ms = 10000;
	g.pages = 1;
	if (argc < 2)
		lg_usage();
	g.mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "A:a:e:g:n:o:P:R:r:s:w:")) != -1) {
		switch (ch) {
		case 'A':
			g.after = lg_number(optarg, "after");
			break;
		case 'a':
			g.alerts_path = optarg;
			break;
		case 'e':
			g.events_path = optarg;
			break;
		case 'g':
			g.segment = (size_t)lg_number(optarg, "segment");
			break;
		case 'n':
			g.count = (size_t)lg_number(optarg, "count");
			break;
		case 'o':
			g.raw_path = optarg;
			break;
		case 'P':
			g.pages = (size_t)lg_number(optarg, "pages");
			if (g.pages < 1 || g.pages > LG_SYNC_MAX)
				lg_fatalx("pages: 1 to %d", LG_SYNC_MAX);
			break;
		case 'R':
			g.rate = (double)lg_number(optarg, "rate");
			break;
		case 'r':
			g.routes = optarg;
			break;
		case 's':
			g.skip = (size_t)lg_number(optarg, "skip");
			break;
		case 'w':
			g.wait_ms = lg_number(optarg, "wait");
			break;
		default:
			lg_usage();
		}
	}
	if (optind + 1 != argc)
		lg_usage();
	g.file = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(g.mode, "parse") == 0) {
		lg_load(&g);
		rc = lg_parse(&g);
	} else if (strcmp(g.mode, "sync") == 0)
		rc = lg_sync(&g);
	else if (g.events_path == NULL)
		lg_usage();
	else if (strcmp(g.mode, "pipeline") == 0) {
		lg_load(&g);
		rc = lg_pipeline(&g);
	} else if (strcmp(g.mode, "paced") == 0) {
		if (g.alerts_path == NULL || g.routes == NULL ||
		    g.routes[0] == '\0' || g.rate <= 0)
			lg_usage();
		lg_load(&g);
		rc = lg_paced(&g);
	} else
		lg_usage();
	free(g.lines.buf);
	free(g.lines.off);
	return rc;
}
