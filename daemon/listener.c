/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * The event intake sockets (contract section 1).  Each connection is a
 * libevent bufferevent.  Complete lines are taken from its input in batches
 * and handed to intake, which commits them before producing the replies;
 * the replies are then written in the order the lines came, so pipelining
 * needs no bookkeeping beyond the batch.
 *
 * Group commit: a read does not run its lines at once.  It marks the
 * connection ready and activates the batch event, which has the loop's
 * lowest priority (daemon.h), so it runs only once no read (or other
 * event) is pending: libevent reads at most 4 KiB per callback, and
 * everything that arrived meanwhile, on every ready connection (up to
 * the batch's size), goes into one transaction and one fsync.  A lone
 * line waits for one extra poll of the loop.  A connection whose input
 * reached its high-water mark reads no more until drained (and libevent
 * calls its read callback again at every turn of the loop until then), so
 * that read runs the batch at once; and so that other work cannot hold
 * the batch back for long, so does a read that finds the batch waiting
 * longer than BATCH_WAIT_US.
 *
 * A batch is bounded in time as well as in lines: nothing else runs on
 * the loop while it does (no stream is written, no HTTP request is
 * answered, no deadline fires).  The listener keeps a moving average of
 * what a line costs (decode, rules, brief, reply: the whole batch over
 * its lines) and takes at most BATCH_BUDGET_US of lines at a time,
 * between BATCH_MIN and BATCH_MAX (sizer.h).  At a few hundred us a
 * line that is still well over a hundred lines a commit; when lines
 * cost more (a busy machine, valgrind) the batches shrink instead of
 * stalling the loop for seconds.
 *
 * Memory per connection is bounded both ways: the read high-water mark keeps
 * at most one maximum line (plus CR LF), or 256 KiB if more, unprocessed, and when the unsent
 * replies pass max_output_bytes the connection stops being read until the
 * client catches up (a client that never reads is cut off by the idle
 * timeout on writing).
 *
 * limits.max_events_per_second paces each connection with a token bucket
 * (ratelimit.h) of a second's worth: a line takes a token, and when none
 * is left the connection is not read until a tenth of a second's worth
 * has come back.  Nothing is refused: the client's writes simply wait in
 * the kernel's buffers, as with the reply backpressure above.  Waking for
 * a tenth of a second's worth, not for each token, keeps the batches (and
 * so the commits) large while the rate bites.
 *
 * Who may submit (access.h): a local peer (the Unix socket, a TCP
 * listener without TLS) is whoever access.local names; on a TLS listener
 * the peer is the client its certificate identifies, known once the
 * handshake is done (bounded by the idle timeout).  A peer without the
 * send role gets one "forbidden" line and the connection closes before
 * a line of it is read.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "access.h"
#include "audit.h"
#include "daemon.h"
#include "intake.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "reply.h"
#include "sizer.h"
#include "sockets.h"
#include "store.h"
#include "timeutil.h"
#include "tls.h"
#include "xmalloc.h"

#define BATCH_MAX	1024	/* lines per transaction */
#define BATCH_MIN	16	/* ... however dear a line */
#define BATCH_BUDGET_US	50000	/* the time a batch aims to take */
#define LINE_US_INIT	200	/* a line's cost before any is measured */
#define BATCH_WAIT_US	20000	/* longest a ready batch waits for reads */
/*
 * The read high-water mark: one full line (plus CR LF), and at least
 * READ_BATCH_BYTES, which is what bounds a pipelining client's batch
 * (about 500 lines of 500 bytes; 64 KiB gave 130).
 */
#define READ_BATCH_BYTES	(256 * 1024)
#define READ_HIGH(cfg)	((cfg)->max_line_bytes + 2 > READ_BATCH_BYTES ? \
			    (cfg)->max_line_bytes + 2 : READ_BATCH_BYTES)
#define RATE_WAKES	10	/* wake-ups a second while the rate bites */

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 rentry;	/* in listener's ready list */
	int			 ready;		/* lines may wait for a batch */
	struct listener		*l;
	struct bufferevent	*bev;
	char			 peer[80];
	const struct access_client *client;	/* NULL until known */
	const char		*identity;	/* client->name, or NULL */
	int			 handshaking;	/* TLS, not yet established */
	char			 who[96];	/* peer, with credentials */
	char			 actor[AUDIT_ACTOR_MAX];	/* "events:..." */
	int			 skipping;	/* dropping an over-long line */
	int			 paused;	/* not read: replies back up */
	int			 closing;	/* close once replies are out */
	struct ratelimit	 rl;		/* max_events_per_second */
	struct event		*rate_timer;	/* NULL: no rate limit */
	int			 rate_wait;	/* not read: over the rate */
	int			 eof;		/* the client's input ended */
};

struct listener {
	struct daemon		*d;
	struct evconnlistener	**ls;
	size_t			 nls;
	struct sock_pause	*pause;		/* after accept() failures */
	char			*unix_path;	/* to unlink at the end */
	TAILQ_HEAD(, conn)	 conns;
	size_t			 nconns;
	uint64_t		 refused;	/* over max_connections */
	struct audit_refusals	 refusals;	/* not yet in the audit */
	struct audit_refusals	 forbidden;	/* by access control */
	TAILQ_HEAD(, conn)	 ready;		/* read, not yet in a batch */
	struct event		*batch_ev;	/* runs the ready connections */
	int64_t			 batch_since;	/* when batch_ev was activated */
	struct sizer		 batch_sizer;	/* lines a batch may take */
	struct intake_item	 items[BATCH_MAX];
	char			*lines[BATCH_MAX];
	struct conn		*owner[BATCH_MAX];
};

static void	conn_free(struct conn *);
static void	conn_close_clean(struct conn *);
static void	conn_process(struct conn *, int);
static void	conn_forbid(struct conn *, const char *, ...)
		    printflike(2, 3);

/* Fill item as refused before decoding: an over-long line. */
static void
conn_too_long(struct listener *l, struct intake_item *it)
{
	memset(it, 0, sizeof *it);
	it->prerefused = 1;
	ev_err_set(&it->err, EVERR_LINE_TOO_LONG, "",
	    "the line is longer than %zu bytes; it was skipped up to the "
	    "next line feed; split the event or raise limits.max_line_bytes",
	    l->d->config->max_line_bytes);
}

/*
 * Run the batch of n items (from one or several connections) in one
 * transaction, then write each reply to its connection, in order.
 */
static void
batch_flush(struct listener *l, size_t n)
{
	struct evbuffer	*out;
	size_t		 i;
	int64_t		 t0, c0;

	if (n == 0)
		return;
	t0 = time_mono_us();
	c0 = store_commit_us(l->d->store);
	intake_run(l->d->intake, l->items, n);
	for (i = 0; i < n; i++) {
		out = bufferevent_get_output(l->owner[i]->bev);
		evbuffer_add(out, l->items[i].reply, strlen(l->items[i].reply));
		evbuffer_add(out, "\n", 1);
		intake_item_clear(&l->items[i]);
		free(l->lines[i]);
		l->lines[i] = NULL;
	}
	/* what the batch cost but its commit (sizer.h) */
	sizer_measure(&l->batch_sizer, n, time_mono_us() - t0 -
	    (store_commit_us(l->d->store) - c0));
}

/*
 * The bucket is empty: stop reading until a tenth of a second's worth of
 * tokens is back (conn_rate_cb carries on).
 */
static void
conn_rate_wait(struct conn *c)
{
	struct timeval	 tv;
	uint32_t	 chunk = c->rl.rate / RATE_WAKES;
	int64_t		 us;

	c->rate_wait = 1;
	bufferevent_disable(c->bev, EV_READ);
	us = ratelimit_wait_us(&c->rl, chunk > 0 ? chunk : 1);
	tv = time_tv_us(us);
	evtimer_add(c->rate_timer, &tv);
	metrics_limit_hit(c->l->d->metrics, METRICS_LIMIT_EVENT_RATE);
	log_debug("listen", "%s: over limits.max_events_per_second (%u); "
	    "not read for %lld ms", c->peer, c->rl.rate,
	    (long long)(us / 1000));
}

/*
 * May another line be taken now?  When not and bytes wait in input, the
 * connection waits for the bucket to refill.
 */
static int
conn_rate_ok(struct conn *c, struct evbuffer *in)
{
	if (c->rate_timer == NULL || ratelimit_ready(&c->rl, time_mono_us()))
		return 1;
	if (evbuffer_get_length(in) > 0)
		conn_rate_wait(c);
	return 0;
}

/*
 * Take the next line out of input into item i of the batch (framing in
 * sockets.c).  Returns 1 when an item was produced, 0 when input holds no
 * complete line (eof: take the unterminated rest as the last line).
 */
static int
conn_next_line(struct conn *c, struct evbuffer *in, size_t i, int eof)
{
	struct listener		*l = c->l;
	char			*line;
	size_t			 len;

	if (!conn_rate_ok(c, in))
		return 0;
	switch (sock_read_line(in, l->d->config->max_line_bytes, eof,
	    &c->skipping, &line, &len)) {
	case SOCK_LINE_NONE:
		return 0;
	case SOCK_LINE_TOO_LONG:
		ratelimit_take(&c->rl);
		conn_too_long(l, &l->items[i]);
		l->owner[i] = c;
		return 1;
	case SOCK_LINE_OK:
		break;
	}
	ratelimit_take(&c->rl);
	memset(&l->items[i], 0, sizeof l->items[i]);
	l->owner[i] = c;
	l->items[i].line = line;
	l->items[i].len = len;
	l->items[i].actor = c->actor;
	l->lines[i] = line;
	return 1;
}

/* Apply backpressure: stop reading while the replies back up. */
static void
conn_check_output(struct conn *c)
{
	size_t	 pending;

	pending = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (!c->paused && pending > c->l->d->config->max_output_bytes) {
		bufferevent_disable(c->bev, EV_READ);
		c->paused = 1;
		metrics_limit_hit(c->l->d->metrics, METRICS_LIMIT_OUTPUT);
		log_debug("listen", "%s: paused, %zu reply bytes unsent",
		    c->peer, pending);
	}
}

/* Take c's complete lines into the batch from item n; the new count. */
static size_t
batch_fill(struct conn *c, size_t n, int eof)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	while (n < c->l->batch_sizer.size && conn_next_line(c, in, n, eof))
		n++;
	return n;
}

/* c's lines need not wait for a batch any more. */
static void
conn_unready(struct conn *c)
{
	if (c->ready) {
		TAILQ_REMOVE(&c->l->ready, c, rentry);
		c->ready = 0;
	}
}

/*
 * c's lines wait for a batch: queue c, once.  The first in the queue
 * starts the wait that BATCH_WAIT_US bounds; 1 when c was it, so that
 * the caller starts the batch event its own way (conn_read_cb(),
 * conn_ready_later()).
 */
static int
conn_ready(struct conn *c)
{
	struct listener	*l = c->l;
	int		 first;

	if (c->ready)
		return 0;
	first = TAILQ_EMPTY(&l->ready);
	if (first)
		l->batch_since = time_mono_us();
	TAILQ_INSERT_TAIL(&l->ready, c, rentry);
	c->ready = 1;
	return first;
}

/*
 * Handle every complete line of c now, a batch at a time, without a poll
 * in between: only where every line must be answered at once (the end of
 * the client's input, which is at most one read buffer; the stop; a loop
 * without priorities).  Otherwise lines wait for listener_batch().
 */
static void
conn_process(struct conn *c, int eof)
{
	size_t		 n, max;
	int64_t		 t0;

	conn_unready(c);
	do {
		t0 = time_mono_us();
		max = c->l->batch_sizer.size;	/* the flush may change it */
		n = batch_fill(c, 0, eof);
		batch_flush(c->l, n);
		if (n > 0)
			metrics_intake_latency(c->l->d->metrics,
			    time_mono_us() - t0);
	} while (n == max && !c->rate_wait);
	conn_check_output(c);
}

/*
 * Run a batch at the next turn of the loop, through its timers, not with
 * event_active(): libevent runs an event made active during its pass in
 * that same pass, so batches chained that way never let the loop poll (a
 * pipelining client kept streams, replies, HTTP and every timeout waiting
 * for its whole read buffer: seconds under valgrind).
 */
static void
listener_batch_later(struct listener *l)
{
	struct timeval	 now = time_tv_ms(0);

	if (!event_pending(l->batch_ev, EV_TIMEOUT, NULL))
		event_add(l->batch_ev, &now);
}

/*
 * Lines c has already read need a batch, and no read event will come for
 * them (the connection resumed, or its rate allows more): queue c.
 */
static void
conn_ready_later(struct conn *c)
{
	struct listener	*l = c->l;

	if (l->batch_ev == NULL) {
		conn_process(c, 0);
		return;
	}
	conn_ready(c);
	listener_batch_later(l);
}

/*
 * One batch of the lines waiting on the ready connections, in the order
 * they became ready; again later if lines are left.
 */
static void
listener_batch(struct listener *l)
{
	struct conn	*c, *next;
	size_t		 n = 0, i;
	int64_t		 t0 = time_mono_us();

	for (c = TAILQ_FIRST(&l->ready); c != NULL && n < l->batch_sizer.size;
	    c = next) {
		next = TAILQ_NEXT(c, rentry);
		if (!c->closing)
			n = batch_fill(c, n, 0);
		if (n < l->batch_sizer.size)
			conn_unready(c);	/* no complete line left */
	}
	batch_flush(l, n);
	if (n > 0)
		metrics_intake_latency(l->d->metrics, time_mono_us() - t0);
	for (i = 0; i < n; i++)
		if (i == 0 || l->owner[i] != l->owner[i - 1])
			conn_check_output(l->owner[i]);
	if (!TAILQ_EMPTY(&l->ready)) {
		l->batch_since = time_mono_us();
		listener_batch_later(l);
	}
}

/* The batch event: no read is pending any more. */
static void
listener_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	listener_batch(arg);
}

/* Bytes arrived: the lines wait for the batch (see the top). */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct listener	*l = c->l;

	if (c->closing || c->rate_wait)
		return;
	if (l->batch_ev == NULL) {
		conn_process(c, 0);
		return;
	}
	/* the first activates the batch: it runs once no read is pending */
	if (conn_ready(c))
		event_active(l->batch_ev, EV_TIMEOUT, 0);
	if (evbuffer_get_length(bufferevent_get_input(bev)) >=
	    READ_HIGH(l->d->config) ||
	    time_mono_us() - l->batch_since > BATCH_WAIT_US)
		listener_batch(l);
}

/* The replies drained below the low-water mark (or fully). */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	size_t		 pending;

	pending = evbuffer_get_length(bufferevent_get_output(bev));
	if (c->closing) {
		if (pending == 0)
			conn_close_clean(c);
		return;
	}
	if (c->paused && pending <= c->l->d->config->max_output_bytes / 2) {
		c->paused = 0;
		log_debug("listen", "%s: resumed", c->peer);
		/* waiting for the rate too: conn_rate_cb carries on */
		if (c->rate_wait)
			return;
		bufferevent_enable(bev, EV_READ);
		/* lines already buffered get no new read event */
		conn_ready_later(c);
	}
}

/* Close once everything written has gone; or now if nothing is left. */
static void
conn_close_when_flushed(struct conn *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	/* an OpenSSL bufferevent stops writing at the peer's end of input */
	bufferevent_enable(c->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close_clean(c);
}

/*
 * The bucket has refilled: take the lines waiting, then read again (or,
 * after the client's end of input, close once all are answered).
 */
static void
conn_rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	c->rate_wait = 0;
	if (c->closing)
		return;
	if (!c->eof) {
		conn_ready_later(c);
		if (!c->paused)
			bufferevent_enable(c->bev, EV_READ);
		return;
	}
	conn_process(c, 1);
	if (!c->rate_wait)
		conn_close_when_flushed(c);	/* may free c */
}

/* Set the idle timeout both ways (0: none). */
static void
conn_timeouts(struct conn *c, int64_t ms)
{
	struct timeval	 tv = time_tv_ms(ms);

	bufferevent_set_timeouts(c->bev, ms > 0 ? &tv : NULL,
	    ms > 0 ? &tv : NULL);
}

/* Answer a peer that may not submit with one line, then close. */
static void
conn_forbid(struct conn *c, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	json_t		*r;
	va_list		 ap;
	char		*msg, *line;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("listen", "out of memory");
	va_end(ap);
	log_info("listen", "%s: refused: %s", c->peer, msg);
	r = json_pack("{s:b, s:n, s:s, s:s}", "ok", 0, "id", "error",
	    "forbidden", "message", msg);
	if (r == NULL || (line = json_dumps(r, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL)
		fatalx("listen", "out of memory");
	evbuffer_add(out, line, strlen(line));
	evbuffer_add(out, "\n", 1);
	free(line);
	free(msg);
	json_decref(r);
	conn_close_when_flushed(c);
}

/*
 * Take the peer as client (NULL: nobody).  Returns 0 when it may submit,
 * -1 when it was refused (the connection closes).
 */
static int
conn_admit(struct conn *c, const struct access_client *client,
    const char *who)
{
	char	*roles, peer[AUDIT_ACTOR_MAX];

	if (client == NULL) {
		audit_refused(c->l->d->store, &c->l->forbidden, "events",
		    c->who, "forbidden", time_now_ms());
		conn_forbid(c, "%s; misperd accepts events only from the "
		    "clients in its access.clients with the send role", who);
		return -1;
	}
	if (!access_has(client, ACCESS_SEND)) {
		snprintf(peer, sizeof peer, "%.*s@%s", ACCESS_NAME_MAX,
		    client->name, c->who);
		audit_refused(c->l->d->store, &c->l->forbidden, "events", peer,
		    "forbidden", time_now_ms());
		roles = access_roles_text(client->roles);
		conn_forbid(c, "client %s may not submit events: it lacks the "
		    "send role (it holds: %s)", client->name, roles);
		free(roles);
		return -1;
	}
	c->client = client;
	c->identity = client->name;
	/* the audit names an authenticated sender: "events:cad@tcp:..." */
	if (strcmp(client->name, ACCESS_LOCAL_NAME) != 0)
		snprintf(c->actor, sizeof c->actor, "events:%.*s@%s",
		    ACCESS_NAME_MAX, client->name, c->who);
	return 0;
}

/* The TLS handshake is done: who is it? */
static void
conn_established(struct conn *c)
{
	struct config	*cfg = c->l->d->config;
	X509		*cert;
	char		 who[400], desc[256];

	c->handshaking = 0;
	cert = tls_peer_cert(c->bev);
	access_cert_describe(cert, desc, sizeof desc);
	snprintf(who, sizeof who, "the client certificate (%s) names no "
	    "client in access.clients", desc);
	if (conn_admit(c, access_by_cert(cfg->access, cert), who) == 0) {
		conn_timeouts(c, cfg->idle_timeout_ms);
		log_debug("listen", "%s: %s as %s", c->peer,
		    tls_version(c->bev), c->identity);
	}
	X509_free(cert);
}

/* End of input, an error or a timeout. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		conn_established(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		log_debug("listen", "%s: end of input", c->peer);
		c->eof = 1;
		if (!c->closing)
			conn_process(c, 1);
		/* over the rate: conn_rate_cb answers the rest, then closes */
		if (!c->rate_wait || c->closing)
			conn_close_when_flushed(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		metrics_limit_hit(c->l->d->metrics, METRICS_LIMIT_IDLE_EVENTS);
		log_info("listen", "%s: closed after the idle timeout%s",
		    c->peer, c->handshaking ? " (TLS handshake not done)" :
		    (what & BEV_EVENT_WRITING) ? " (replies not being read)" :
		    "");
	} else if ((what & BEV_EVENT_ERROR) &&
	    tls_log_errors(c->bev, "listen", c->peer) == 0)
		/* info: a connection cut short is worth an operator's notice */
		log_info("listen", "%s: closed on a socket error: %s", c->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
}

/* Close a connection whose output is all out: close_notify on TLS. */
static void
conn_close_clean(struct conn *c)
{
	tls_close_notify(c->bev);
	conn_free(c);
}

/* Close and free a connection. */
static void
conn_free(struct conn *c)
{
	struct listener	*l;

	if (c == NULL)
		return;
	l = c->l;
	conn_unready(c);
	TAILQ_REMOVE(&l->conns, c, entry);
	l->nconns--;
	if (c->rate_timer != NULL)
		event_free(c->rate_timer);
	bufferevent_free(c->bev);
	log_debug("listen", "%s: closed (%zu open)", c->peer, l->nconns);
	free(c);
}

/* Refuse a connection over the limit with one reply line, then close. */
static void
listener_refuse(struct listener *l, evutil_socket_t fd)
{
	struct ev_err	 err;
	char		*line, peer[AUDIT_ACTOR_MAX];
	ssize_t		 n;

	memset(&err, 0, sizeof err);
	ev_err_set(&err, EVERR_UNAVAILABLE, "",
	    "too many connections (limit %u); try again shortly",
	    l->d->config->max_connections);
	line = reply_error(&err);
	/* a fresh socket's send buffer takes one short line */
	n = write(fd, line, strlen(line));
	if (n >= 0)
		n = write(fd, "\n", 1);
	free(line);
	sock_describe_peer(fd, peer, sizeof peer);
	evutil_closesocket(fd);
	audit_refused(l->d->store, &l->refusals, "events", peer,
	    "max_connections", time_now_ms());
	if (l->refused++ % 100 == 0)
		log_warnx("listen", "connection refused: %zu open, limit %u "
		    "(%llu refused so far)", l->nconns,
		    l->d->config->max_connections,
		    (unsigned long long)l->refused);
}

/* A new connection on any listener; tls: on a TLS listener. */
static void
listener_accept(struct listener *l, evutil_socket_t fd, struct sockaddr *sa,
    int tls)
{
	struct config	*cfg = l->d->config;
	struct conn	*c;

	if (l->nconns >= cfg->max_connections) {
		listener_refuse(l, fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->l = l;
	sock_describe(sa, c->peer, sizeof c->peer);
	/* who sends, for the audit (conn_admit() adds the identity) */
	sock_describe_peer(fd, c->who, sizeof c->who);
	snprintf(c->actor, sizeof c->actor, "events:%s", c->who);
	if (tls)
		c->bev = tls_bufferevent(l->d->tls, l->d->base, fd);
	else
		c->bev = bufferevent_socket_new(l->d->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("listen", "cannot set up a connection");
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/* at most one full line (plus CR LF), or 256 KiB, waits unprocessed */
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH(cfg));
	bufferevent_setwatermark(c->bev, EV_WRITE, cfg->max_output_bytes / 2,
	    0);
	/* a handshake is bounded even when idle connections are not */
	c->handshaking = tls;
	conn_timeouts(c, tls ? tls_handshake_ms(cfg) : cfg->idle_timeout_ms);
	if (cfg->max_events_per_second > 0) {
		/* a burst of a second's worth, full from the start */
		ratelimit_init(&c->rl, cfg->max_events_per_second,
		    cfg->max_events_per_second, time_mono_us());
		if ((c->rate_timer = evtimer_new(l->d->base, conn_rate_cb,
		    c)) == NULL)
			fatalx("listen", "cannot set up a timer");
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->nconns++;
	log_debug("listen", "%s: connected (%zu open)", c->peer, l->nconns);
	if (!tls)
		conn_admit(c, access_local(cfg->access, cfg->access_local),
		    "access.local is none: local peers may not submit");
}

/* A new connection on the Unix socket or a TCP listener without TLS. */
static void
listener_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	listener_accept(arg, fd, sa, 0);
}

/* A new connection on a TLS listener. */
static void
listener_accept_tls_cb(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	listener_accept(arg, fd, sa, 1);
}

/* Accept errors (EMFILE and friends): the listener rests (sockets.c). */
static void
listener_error_cb(struct evconnlistener *el, void *arg)
{
	struct listener	*l = arg;

	sock_pause_accept(l->pause, el);
}

/* Keep a new evconnlistener. */
static void
listener_add(struct listener *l, struct evconnlistener *el)
{
	evconnlistener_set_error_cb(el, listener_error_cb);
	l->ls = xreallocarray(l->ls, l->nls + 1, sizeof *l->ls);
	l->ls[l->nls++] = el;
}

/* Open the Unix listener (sockets.c): bind, set mode and group, listen. */
static int
listener_open_unix(struct listener *l, char **cause)
{
	struct config		*cfg = l->d->config;
	struct evconnlistener	*el;

	el = sock_listen_unix(l->d->base, "listen", cfg->unix_path,
	    cfg->unix_mode, cfg->unix_group, listener_accept_cb, l, cause);
	if (el == NULL)
		return -1;
	l->unix_path = xstrdup(cfg->unix_path);
	listener_add(l, el);
	log_info("listen", "listening on unix:%s (mode %04o)", cfg->unix_path,
	    (unsigned)cfg->unix_mode);
	return 0;
}

/* Bind and listen on one TCP address, with TLS or without. */
static int
listener_open_tcp(struct listener *l, const char *spec, int tls,
    char **cause)
{
	struct evconnlistener	*el;
	char			 where[96];

	el = sock_listen_tcp(l->d->base, "listen", spec,
	    tls || l->d->config->tls_insecure,
	    tls ? listener_accept_tls_cb : listener_accept_cb, l, where,
	    sizeof where, cause);
	if (el == NULL)
		return -1;
	listener_add(l, el);
	log_info("listen", "listening on %s%s", where, tls ? " (TLS)" : "");
	return 0;
}

/* Open every configured listener. */
struct listener *
listener_new(struct daemon *d, char **cause)
{
	struct listener	*l;
	size_t		 i;

	l = xcalloc(1, sizeof *l);
	sizer_init(&l->batch_sizer, BATCH_BUDGET_US, LINE_US_INIT, BATCH_MIN,
	    BATCH_MAX);
	l->d = d;
	l->pause = sock_pause_new(d->base, "listen");
	TAILQ_INIT(&l->conns);
	TAILQ_INIT(&l->ready);
	/* the lowest priority: after every pending read (daemon.h) */
	l->batch_ev = event_new(d->base, -1, 0, listener_batch_cb, l);
	if (l->batch_ev != NULL &&
	    event_priority_set(l->batch_ev, DAEMON_PRIO_BATCH) == -1) {
		/* a loop without priorities: each read is its own batch */
		event_free(l->batch_ev);
		l->batch_ev = NULL;
	}
	if (d->config->unix_path != NULL && d->config->unix_path[0] != '\0' &&
	    listener_open_unix(l, cause) == -1)
		goto fail;
	for (i = 0; i < d->config->ntcp; i++)
		if (listener_open_tcp(l, d->config->tcp[i],
		    d->config->tcp_tls[i], cause) == -1)
			goto fail;
	if (l->nls == 0) {
		xasprintf(cause, "no listener configured: set listen.unix or "
		    "listen.tcp");
		goto fail;
	}
	return l;
fail:
	listener_free(l);
	return NULL;
}

/* Stop accepting new connections and remove the socket file. */
void
listener_stop_accepting(struct listener *l)
{
	size_t	 i;

	sock_pause_forget(l->pause);
	for (i = 0; i < l->nls; i++)
		evconnlistener_free(l->ls[i]);
	free(l->ls);
	l->ls = NULL;
	l->nls = 0;
	if (l->unix_path != NULL) {
		unlink(l->unix_path);
		free(l->unix_path);
		l->unix_path = NULL;
	}
}

/* Answer what was read, stop reading, close each connection once flushed. */
size_t
listener_drain(struct listener *l)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&l->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->closing)
			continue;
		/* every line already read is answered, whatever the rate */
		if (c->rate_timer != NULL) {
			evtimer_del(c->rate_timer);
			c->rate_wait = 0;
			ratelimit_init(&c->rl, 0, 0, 0);
		}
		conn_process(c, 0);
		conn_close_when_flushed(c);	/* may free c */
	}
	return l->nconns;
}

/* Connections open now. */
size_t
listener_connections(struct listener *l)
{
	return l->nconns;
}

/* Connections refused over limits.max_connections since the start. */
uint64_t
listener_refused(struct listener *l)
{
	return l->refused;
}

/* Close everything and free.  Accepts NULL. */
void
listener_free(struct listener *l)
{
	struct conn	*c;

	if (l == NULL)
		return;
	listener_stop_accepting(l);
	while ((c = TAILQ_FIRST(&l->conns)) != NULL)
		conn_free(c);
	if (l->batch_ev != NULL)
		event_free(l->batch_ev);
	sock_pause_free(l->pause);
	audit_refusals_flush(l->d->store, &l->refusals, "events",
	    "max_connections", time_now_ms());
	audit_refusals_flush(l->d->store, &l->forbidden, "events", "forbidden",
	    time_now_ms());
	free(l);
}
