/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for routes.c through config.c (the routes: and delivery:
 * sections: every field decoded, every refusal with its line:column, the
 * area lookup) and for the retry schedule in webhook.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "corpus.h"
#include "log.h"
#include "routes.h"
#include "webhook.h"

#define NAME	"t.yaml"

/* Parse text as a file called NAME. */
static struct config *
load(const char *text, char **cause)
{
	return config_load_buffer(NAME, text, strlen(text), cause);
}

/* Assert text loads, and return the config. */
static struct config *
expect_ok(const char *text)
{
	struct config	*conf;
	char		*cause = NULL;

	conf = load(text, &cause);
	ck_assert_msg(conf != NULL, "refused: %s", cause);
	return conf;
}

/* Assert text is refused with an error "NAME:where: ...msg...". */
static void
expect_error(const char *text, const char *where, const char *msg)
{
	struct config	*conf;
	char		*cause = NULL, prefix[64];

	conf = load(text, &cause);
	ck_assert_msg(conf == NULL, "accepted: %s", text);
	ck_assert_ptr_nonnull(cause);
	snprintf(prefix, sizeof prefix, NAME ":%s: ", where);
	ck_assert_msg(corpus_has_error(cause, prefix, msg),
	    "wanted \"%s%s\" in:\n%s", prefix, msg, cause);
	free(cause);
}

START_TEST(test_defaults)
{
	struct config	*conf = expect_ok("");

	ck_assert_ptr_null(conf->routes);
	ck_assert_int_eq(conf->retry_initial_ms, 2000);
	ck_assert_int_eq(conf->retry_max_ms, 600000);
	ck_assert_int_eq(conf->give_up_after_ms, 24LL * 3600 * 1000);
	ck_assert_uint_eq(conf->max_in_flight, 16);
	config_free(conf);
}
END_TEST

START_TEST(test_full)
{
	struct config		*conf;
	const struct route	*r;
	const struct webhook	*w;
	size_t			 n;

	conf = expect_ok(
	    "routes:\n"
	    "  mpu:\n"
	    "    webhooks:\n"
	    "      - url: http://127.0.0.1:9000/alerts?x=1\n"
	    "        headers: {X-Api-Key: secret, Authorization: Bearer t}\n"
	    "        timeout: 5s\n"
	    "      - url: https://mpu.example.org/hook\n"
	    "    areas:\n"
	    "      croydon: {webhooks: [{url: \"https://[::1]:8443/c\"}]}\n"
	    "    escalate: {after: 30m, to: duty_inspector}\n"
	    "  duty_inspector:\n"
	    "  cse_team: {}\n"
	    "delivery:\n"
	    "  retry_initial: 1s\n"
	    "  retry_max: 5m\n"
	    "  give_up_after: 2h\n"
	    "  max_in_flight: 4\n");
	ck_assert_uint_eq(conf->routes->n, 3);
	r = routes_find(conf->routes, "mpu");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->nwebhooks, 2);
	w = &r->webhooks[0];
	ck_assert_int_eq(w->https, 0);
	ck_assert_str_eq(w->host, "127.0.0.1");
	ck_assert_int_eq(w->port, 9000);
	ck_assert_str_eq(w->target, "/alerts?x=1");
	ck_assert_int_eq(w->timeout_ms, 5000);
	ck_assert_uint_eq(w->nheaders, 2);
	ck_assert_str_eq(w->headers[0].name, "X-Api-Key");
	ck_assert_str_eq(w->headers[0].value, "secret");
	w = &r->webhooks[1];
	ck_assert_int_eq(w->https, 1);
	ck_assert_int_eq(w->port, 443);
	ck_assert_str_eq(w->target, "/hook");
	ck_assert_int_eq(w->timeout_ms, 10000);
	ck_assert_int_eq(r->escalate_after_ms, 30 * 60 * 1000);
	ck_assert_str_eq(r->escalate_to, "duty_inspector");

	/* the child's area picks the unit */
	w = routes_webhooks(r, "croydon", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(w[0].host, "::1");
	ck_assert_int_eq(w[0].port, 8443);
	w = routes_webhooks(r, "lambeth", &n);
	ck_assert_uint_eq(n, 2);
	w = routes_webhooks(r, NULL, &n);
	ck_assert_uint_eq(n, 2);

	r = routes_find(conf->routes, "duty_inspector");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->nwebhooks, 0);
	ck_assert_ptr_null(r->escalate_to);
	ck_assert_ptr_null(routes_find(conf->routes, "nobody"));
	ck_assert_int_eq(conf->retry_initial_ms, 1000);
	ck_assert_int_eq(conf->retry_max_ms, 300000);
	ck_assert_int_eq(conf->give_up_after_ms, 7200000);
	ck_assert_uint_eq(conf->max_in_flight, 4);
	config_free(conf);
}
END_TEST

START_TEST(test_err_url)
{
	expect_error("routes:\n  mpu:\n    webhooks: [{url: ftp://x.org/}]\n",
	    "3:22", "must begin with http:// or https://");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://\"}]\n",
	    "3:22", "has no host");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: "
	    "\"http://a_b-.example/\"}]\n", "3:22", "is not a valid host");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: "
	    "\"http://x.org:70000/\"}]\n", "3:22", "");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: "
	    "\"http://u:p@x.org/\"}]\n", "3:22", "user name or password");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: not a url}]\n",
	    "3:22", "");
	expect_error("routes:\n  mpu:\n    webhooks: [{timeout: 1s}]\n",
	    "3:16", "a webhook needs a url");
	expect_error("routes:\n  mpu:\n    webhooks:\n"
	    "      - {url: \"http://a.org/\"}\n      - {url: \"http://a.org/\"}\n",
	    "5:9", "listed twice");
}
END_TEST

START_TEST(test_err_headers)
{
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "headers: {\"Bad Name\": x}}]\n", "3:49", "not an HTTP header name");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "headers: {Idempotency-Key: x}}]\n", "3:49",
	    "written by misperd itself");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "headers: {X-A: \"a\\nb\"}}]\n", "3:54", "control character");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "headers: [x]}]\n", "3:48", "headers must be a mapping");
}
END_TEST

START_TEST(test_err_secret_not_shown)
{
	struct config	*conf;
	char		*cause = NULL;

	conf = load("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "headers: {X-Key: \"topsecret\\u0001\"}}]\n", &cause);
	ck_assert_ptr_null(conf);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_null(strstr(cause, "topsecret"));
	free(cause);
}
END_TEST

START_TEST(test_err_durations)
{
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "timeout: soon}]\n", "3:48", "timeout 'soon' is not a duration");
	expect_error("routes:\n  mpu:\n    webhooks: [{url: \"http://a.org/\", "
	    "timeout: 1h}]\n", "3:48", "is not a duration from 1ms to 10m");
	expect_error("routes:\n  a:\n    escalate: {after: x, to: a}\n",
	    "3:23", "after 'x' is not a duration");
	expect_error("delivery:\n  give_up_after: 10ms\n", "2:18",
	    "give_up_after must be between 100ms and 4w");
	expect_error("delivery:\n  max_in_flight: 0\n", "2:18",
	    "max_in_flight must be between 1 and 1024");
}
END_TEST

START_TEST(test_err_escalate)
{
	expect_error("routes:\n  mpu:\n    escalate: {after: 1m, to: nobody}\n",
	    "2:3", "route mpu escalates to nobody, which is not a configured");
	expect_error("routes:\n  mpu:\n    escalate: {after: 1m}\n", "3:15",
	    "escalate needs both after and to");
	expect_error("routes:\n  a: {escalate: {after: 1m, to: b}}\n"
	    "  b: {escalate: {after: 1m, to: c}}\n"
	    "  c: {escalate: {after: 1m, to: a}}\n", "2:3",
	    "the escalation chain from route a comes back");
	expect_error("routes:\n  a: {escalate: {after: 1m, to: a}}\n", "2:3",
	    "comes back");
}
END_TEST

START_TEST(test_err_shape)
{
	expect_error("routes: [mpu]\n", "1:9", "routes must be a mapping");
	expect_error("routes:\n  mpu:\n    webhook: []\n", "3:5",
	    "unknown key 'webhook'");
	expect_error("routes:\n  \"m p u\": {}\n", "2:3",
	    "is not a route name");
	expect_error("routes:\n  -mpu: {}\n", "2:3", "'-mpu' is not a route "
	    "name; use 1 to 64 letters, digits, '_', '-' or '.', starting with "
	    "a letter or digit");
	expect_error("routes:\n  mpu: {areas: {_croydon: {}}}\n", "2:17",
	    "'_croydon' is not an area name; use 1 to 64 letters");
	expect_error("routes:\n  mpu: {webhooks: {url: x}}\n", "2:19",
	    "webhooks must be a list");
	expect_error("routes:\n  mpu: {areas: {croydon: [x]}}\n", "2:26",
	    "croydon must be a mapping");
	expect_error("routes:\n  mpu: {}\n  mpu: {}\n", "3:3", "duplicate key");
	expect_error("routes: &r {}\n", "1:9", "anchor");
}
END_TEST

/* Check d lies in [lo, hi] for every rnd. */
static void
backoff_between(int attempts, int64_t lo, int64_t hi)
{
	static const uint32_t	 rnds[] = { 0, 1, 7, 12345, 0x7fffffff,
				     0xffffffff };
	size_t			 i;
	int64_t			 d;

	for (i = 0; i < sizeof rnds / sizeof rnds[0]; i++) {
		d = webhook_backoff_ms(1000, 60000, attempts, rnds[i]);
		ck_assert_msg(d >= lo && d <= hi, "attempt %d rnd %u: %lld not "
		    "in [%lld, %lld]", attempts, rnds[i], (long long)d,
		    (long long)lo, (long long)hi);
	}
}

START_TEST(test_backoff)
{
	/* initial 1s, doubling, capped at 60s; equal jitter: [d/2, d] */
	backoff_between(1, 500, 1000);
	backoff_between(2, 1000, 2000);
	backoff_between(3, 2000, 4000);
	backoff_between(6, 16000, 32000);
	backoff_between(7, 30000, 60000);
	backoff_between(50, 30000, 60000);
	backoff_between(1000000, 30000, 60000);
	ck_assert_int_eq(webhook_backoff_ms(1000, 60000, 1, 0), 500);
	ck_assert_int_eq(webhook_backoff_ms(1000, 60000, 1, 500), 1000);
	ck_assert_int_eq(webhook_backoff_ms(1, 1, 3, 99), 1);
	/* the jitter spreads: not every rnd gives the same wait */
	ck_assert_int_ne(webhook_backoff_ms(1000, 60000, 4, 1),
	    webhook_backoff_ms(1000, 60000, 4, 2000));
}
END_TEST

static Suite *
routes_suite(void)
{
	Suite	*s = suite_create("routes");
	TCase	*tc;

	tc = tcase_create("config");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_err_url);
	tcase_add_test(tc, test_err_headers);
	tcase_add_test(tc, test_err_secret_not_shown);
	tcase_add_test(tc, test_err_durations);
	tcase_add_test(tc, test_err_escalate);
	tcase_add_test(tc, test_err_shape);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_add_test(tc, test_backoff);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(1, LOG_LEVEL_ERROR);
	sr = srunner_create(routes_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
