/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for webhook.c's attempts against a receiver that accepts and
 * closes at once, so that evhttp fails the request.  On that path
 * libevent frees an auto-freed connection before it calls the error
 * callback; webhook.c once read the freed connection there (valgrind found
 * it; ASan cannot, as the read is inside the uninstrumented libevent).
 * Here libevent allocates through functions that poison what it frees and
 * keep it until the test ends, so such a read gets a poisoned pointer and
 * crashes, in any build.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "routes.h"
#include "webhook.h"

/* ---- libevent's memory: freed blocks poisoned and kept ---- */

union blk {
	struct {
		union blk	*next;	/* quarantine */
		size_t		 size;
	} h;
	max_align_t	 align;
};

static union blk	*quarantine;

static void *
poison_malloc(size_t n)
{
	union blk	*b;

	if ((b = malloc(sizeof *b + n)) == NULL)
		return NULL;
	b->h.next = NULL;
	b->h.size = n;
	return b + 1;
}

static void
poison_free(void *p)
{
	union blk	*b;

	if (p == NULL)
		return;
	b = (union blk *)p - 1;
	memset(p, 0xa5, b->h.size);	/* a pointer read from here is wild */
	b->h.next = quarantine;
	quarantine = b;
}

static void *
poison_realloc(void *p, size_t n)
{
	union blk	*b;
	void		*q;

	if (p == NULL)
		return poison_malloc(n);
	b = (union blk *)p - 1;
	if ((q = poison_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, b->h.size < n ? b->h.size : n);
	poison_free(p);
	return q;
}

/* Really free the quarantine (the end of a test: libevent is done). */
static void
quarantine_drain(void)
{
	union blk	*b;

	while ((b = quarantine) != NULL) {
		quarantine = b->h.next;
		free(b);
	}
}

/* ---- a receiver that closes every connection at once ---- */

static void
accept_close_cb(evutil_socket_t fd, short what, void *arg)
{
	int	 c;

	(void)what;
	(void)arg;
	if ((c = accept(fd, NULL, NULL)) != -1)
		close(c);
}

static int
listen_local(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	evutil_make_socket_nonblocking(fd);
	return fd;
}

struct outcome {
	int	 calls;
	int	 status;
	char	 error[WEBHOOK_ERROR_MAX];
};

static void
done_cb(const struct webhook_result *res, void *arg)
{
	struct outcome	*o = arg;

	o->calls++;
	o->status = res->http_status;
	snprintf(o->error, sizeof o->error, "%s", res->error);
}

/* One attempt (https or not) to a receiver that closes: it ends once, with
 * no HTTP status and an error, and nothing touches freed memory. */
static void
attempt_to_closing_peer(int https)
{
	struct event_base	*base;
	struct event		*acc;
	struct webhook_client	*c;
	struct webhook_req	*wr;
	struct webhook_result	 res;
	struct webhook		 w;
	struct outcome		 o;
	char			 url[64], host[] = "127.0.0.1";
	char			 target[] = "/alerts", *cause = NULL;
	int			 lfd, port, i;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	lfd = listen_local(&port);
	acc = event_new(base, lfd, EV_READ | EV_PERSIST, accept_close_cb,
	    NULL);
	event_add(acc, NULL);
	c = webhook_client_new(base, &cause);
	ck_assert_msg(c != NULL, "webhook_client_new: %s", cause);

	snprintf(url, sizeof url, "%s://127.0.0.1:%d/alerts",
	    https ? "https" : "http", port);
	memset(&w, 0, sizeof w);
	w.url = url;
	w.https = https;
	w.host = host;
	w.port = port;
	w.target = target;
	w.timeout_ms = 10000;
	memset(&o, 0, sizeof o);
	wr = webhook_post(c, &w, "A-1", NULL, "{}", 2, done_cb, &o, &res);
	ck_assert_msg(wr != NULL, "webhook_post: %s", res.error);
	for (i = 0; i < 1000 && o.calls == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.status, 0);
	ck_assert_msg(o.error[0] != '\0', "an error is given");

	webhook_client_free(c);
	event_free(acc);
	close(lfd);
	event_base_free(base);
	quarantine_drain();
}

START_TEST(test_http_peer_closes)
{
	attempt_to_closing_peer(0);
}
END_TEST

START_TEST(test_https_peer_closes)
{
	attempt_to_closing_peer(1);
}
END_TEST

static Suite *
webhook_suite(void)
{
	Suite	*s = suite_create("webhook");
	TCase	*tc = tcase_create("failures");

	tcase_add_test(tc, test_http_peer_closes);
	tcase_add_test(tc, test_https_peer_closes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* before libevent allocates anything */
	event_set_mem_functions(poison_malloc, poison_realloc, poison_free);
	signal(SIGPIPE, SIG_IGN);	/* as misperd: a closed peer is an error */
	log_init(1, LOG_LEVEL_ERROR);
	sr = srunner_create(webhook_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
