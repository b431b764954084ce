/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * One webhook POST on the daemon's event loop (libevent's evhttp; https
 * through its OpenSSL bufferevents, with SNI and the peer's certificate
 * checked against the system's CA store), bounded by the webhook's
 * timeout.  And the retry schedule: exponential backoff with equal jitter.
 */
#ifndef MISPER_WEBHOOK_H
#define MISPER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct webhook;
struct webhook_client;
struct webhook_req;

#define WEBHOOK_ERROR_MAX	160

/* How an attempt ended. */
struct webhook_result {
	int		 http_status;	/* 0: no HTTP answer */
	char		 error[WEBHOOK_ERROR_MAX];	/* "" for any answer */
	int64_t		 elapsed_ms;
};

/* Called once when an attempt ends, unless it was cancelled first. */
typedef void	(*webhook_done_fn)(const struct webhook_result *, void *);

/* webhook.c */
struct webhook_client	*webhook_client_new(struct event_base *, char **cause);
void			 webhook_client_free(struct webhook_client *);
/*
 * POST body to w with Idempotency-Key: key (and Misperd-Escalated-From:
 * from, unless NULL).  NULL (and *res filled) if the attempt could not
 * even start; done is then not called.
 */
struct webhook_req	*webhook_post(struct webhook_client *,
			     const struct webhook *w, const char *key,
			     const char *from, const char *body, size_t len,
			     webhook_done_fn done,
			     void *arg, struct webhook_result *res);
/* Abandon an attempt in flight; done is not called. */
void			 webhook_cancel(struct webhook_req *);
/*
 * The wait before retry number attempts (1 after the first failure):
 * d = min(max, initial * 2^(attempts - 1)), then d/2 + rnd % (d/2 + 1),
 * "equal jitter", so retries of many deliveries spread out but none
 * comes sooner than half the schedule.
 */
int64_t			 webhook_backoff_ms(int64_t initial, int64_t max,
			     int attempts, uint32_t rnd);

#endif
