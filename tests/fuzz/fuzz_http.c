/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * libFuzzer target for the HTTP API: one input is the raw bytes a client
 * sends on a connection to the API's Unix socket (one request, several
 * pipelined, or garbage).  The whole path runs as in the daemon, nothing
 * stubbed: libevent's evhttp parses the bytes, then http.c routes,
 * decodes the path and the query, authorises, checks the body, and api.c
 * and the other handlers answer from a real store.
 *
 * The daemon context is made once, by daemon_new(), from a configuration
 * in a fresh directory under $TMPDIR: a scratch database (no fsync) that
 * holds a child with episodes and alerts, the built-in rules as a file
 * (so a reload reads one), the API on a Unix socket and no TCP listener,
 * access.local "all" and two token clients (ops: read, ack, admin with
 * token "test"; desk: read with token "desk") so every authorisation
 * answer can be reached.  State carries over from input to input (an
 * alert acknowledged stays so), as it does in the daemon.
 *
 * Each input: connect, write the bytes, shut down the sending side, run
 * the loop until the daemon closes the connection (evhttp does once the
 * input has ended), reading and dropping whatever it answers.  A
 * connection still open after FUZZ_HTTP_WAIT_S seconds (more than
 * http.timeout) means the daemon neither answered nor closed: abort().
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "intake.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define FUZZ_HTTP_WAIT_S	5	/* http.timeout is 1 s */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

extern const char	 rules_default_yaml[];
extern const size_t	 rules_default_yaml_len;

/* sha256("test") and sha256("desk") */
#define FUZZ_TOKEN_OPS	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define FUZZ_TOKEN_DESK	"49be417ad74080a0031b636b44cfc26fdd0065492d6cd3b033960c4414955cf7"

static const char fuzz_config_fmt[] =
	"listen: {unix: %1$s/events.sock, tcp: []}\n"
	"subscribers: {unix: %1$s/alerts.sock, tcp: []}\n"
	"http:\n"
	"  unix: %1$s/api.sock\n"
	"  tcp: []\n"
	"  max_body_bytes: 1k\n"
	"  max_header_bytes: 1k\n"
	"  timeout: 1s\n"
	"database: %1$s/misperd.db\n"
	"rules: %1$s/rules.yaml\n"
	"log_level: error\n"
	"access:\n"
	"  local: all\n"
	"  clients:\n"
	"    - {name: ops, token_sha256: " FUZZ_TOKEN_OPS ",\n"
	"       roles: [read, ack, admin]}\n"
	"    - {name: desk, token_sha256: " FUZZ_TOKEN_DESK ", roles: [read]}\n";

/* Three episodes in 90 days (an alert), a found, an indicator. */
static const char *const fuzz_events[] = {
	"{\"id\":\"E-1\",\"type\":\"episode.reported\",\"at\":\"2026-09-01T22:10:00Z\",\"episode\":\"MP-1\",\"category\":\"missing\",\"risk\":\"high\",\"child\":{\"id\":\"C-1\",\"dob\":\"2011-03-02\",\"looked_after\":true}}",
	"{\"id\":\"E-2\",\"type\":\"episode.found\",\"at\":\"2026-09-02T01:00:00Z\",\"episode\":\"MP-1\",\"found\":{\"postcode\":\"CR0 1AA\",\"address\":\"12 High St\"}}",
	"{\"id\":\"E-3\",\"type\":\"episode.reported\",\"at\":\"2026-10-01T22:10:00Z\",\"episode\":\"MP-2\",\"category\":\"absent\",\"risk\":\"medium\",\"child\":{\"id\":\"C-1\"}}",
	"{\"id\":\"E-4\",\"type\":\"indicator.recorded\",\"at\":\"2026-10-02T10:00:00Z\",\"child\":{\"id\":\"C-1\"},\"indicator\":\"older_partner_or_controlling_adult\",\"source\":\"social-care\"}",
	"{\"id\":\"E-5\",\"type\":\"episode.reported\",\"at\":\"2026-11-01T22:10:00Z\",\"episode\":\"MP-3\",\"category\":\"missing\",\"risk\":\"high\",\"child\":{\"id\":\"C-1\"}}",
};

static struct daemon	*fuzz_d;
static char		 fuzz_dir[64];
static struct sockaddr_un fuzz_sun;

/* One connection's state. */
struct fuzz_conn {
	struct bufferevent	*bev;
	int			 shut;	/* sending side shut down */
	int			 done;	/* closed by the daemon */
};

/* Write len bytes of text to dir/name, or abort(). */
static void
fuzz_write_file(const char *name, const char *text, size_t len)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
	if ((f = fopen(path, "w")) == NULL || fwrite(text, 1, len, f) != len ||
	    fclose(f) != 0)
		abort();
}

/* Remove the directory and what the daemon left in it. */
static void
fuzz_cleanup(void)
{
	DIR		*dp;
	struct dirent	*de;
	char		 path[384];

	daemon_free(fuzz_d);
	fuzz_d = NULL;
	if ((dp = opendir(fuzz_dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", fuzz_dir, de->d_name);
		unlink(path);
	}
	closedir(dp);
	rmdir(fuzz_dir);
}

/* Store the events of fuzz_events, as intake does. */
static void
fuzz_seed_store(void)
{
	struct intake_item	 items[sizeof fuzz_events / sizeof *fuzz_events];
	size_t			 i, n = sizeof items / sizeof *items;

	memset(items, 0, sizeof items);
	for (i = 0; i < n; i++) {
		items[i].line = fuzz_events[i];
		items[i].len = strlen(fuzz_events[i]);
	}
	intake_run(fuzz_d->intake, items, n);
	for (i = 0; i < n; i++) {
		if (items[i].reply == NULL ||
		    strncmp(items[i].reply, "{\"ok\":true", 10) != 0) {
			fprintf(stderr, "fuzz_http: event %zu: %s\n", i,
			    items[i].reply != NULL ? items[i].reply : "-");
			abort();
		}
		intake_item_clear(&items[i]);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");
	struct config	*cfg;
	char		*text, *cause = NULL;

	/* FUZZ_HTTP_DEBUG=1: every request's answer in the log */
	log_init(1, getenv("FUZZ_HTTP_DEBUG") != NULL ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_ERROR);
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/misperd-fuzz-http.XXXXXX",
	    tmp != NULL && *tmp != '\0' && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(fuzz_cleanup);
	fuzz_write_file("rules.yaml", rules_default_yaml,
	    rules_default_yaml_len);
	xasprintf(&text, fuzz_config_fmt, fuzz_dir);
	cfg = config_load_buffer("fuzz_http.yaml", text, strlen(text), &cause);
	free(text);
	if (cfg == NULL || (fuzz_d = daemon_new(cfg, 1, &cause)) == NULL) {
		fprintf(stderr, "fuzz_http: %s\n", cause);
		abort();
	}
	store_set_scratch(fuzz_d->store);
	fuzz_seed_store();
	fuzz_sun.sun_family = AF_UNIX;
	snprintf(fuzz_sun.sun_path, sizeof fuzz_sun.sun_path, "%s/api.sock",
	    fuzz_dir);
	return 0;
}

/* Drop what the daemon answers. */
static void
fuzz_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

/* All written: the input ends here, as a client's would. */
static void
fuzz_write_cb(struct bufferevent *bev, void *arg)
{
	struct fuzz_conn	*c = arg;

	if (!c->shut) {
		c->shut = 1;
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	}
}

/* The daemon closed the connection (or reset it). */
static void
fuzz_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fuzz_conn	*c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		c->done = 1;
		event_base_loopbreak(fuzz_d->base);
	}
}

/* The daemon neither answered nor closed in time. */
static void
fuzz_stuck_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "fuzz_http: connection still open after %d s\n",
	    FUZZ_HTTP_WAIT_S);
	abort();
}

/* A connected client bufferevent, with data queued. */
static struct bufferevent *
fuzz_connect(struct fuzz_conn *c, const uint8_t *data, size_t size)
{
	int	 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&fuzz_sun, sizeof fuzz_sun) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1)
		abort();
	c->bev = bufferevent_socket_new(fuzz_d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		abort();
	bufferevent_setcb(c->bev, fuzz_read_cb, fuzz_write_cb, fuzz_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (size > 0)
		bufferevent_write(c->bev, data, size);
	else
		fuzz_write_cb(c->bev, c);
	return c->bev;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_conn	 c;
	struct event		*stuck;
	struct timeval		 tv = { FUZZ_HTTP_WAIT_S, 0 };

	memset(&c, 0, sizeof c);
	fuzz_connect(&c, data, size);
	stuck = evtimer_new(fuzz_d->base, fuzz_stuck_cb, NULL);
	evtimer_add(stuck, &tv);
	while (!c.done)
		event_base_loop(fuzz_d->base, EVLOOP_ONCE);
	event_free(stuck);
	bufferevent_free(c.bev);
	return 0;
}
