/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for intake: a batch of lines in, one reply per line out, in
 * order; every accepted event committed before any reply; a storage failure
 * rolls the whole batch back and answers "unavailable" for each event.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalogue.h"
#include "intake.h"
#include "store.h"

static char		 dir[64];
static char		 dbpath[128];
static struct store	*store;
static struct intake	*intake;

/* A fresh database in a fresh directory for each test. */
static void
setup(void)
{
	struct decode_opts	 opts = { catalogue_default_known, NULL };
	char			*cause = NULL;

	strcpy(dir, "/tmp/check_intake.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/misperd.db", dir);
	store = store_open(dbpath, &cause);
	ck_assert_msg(store != NULL, "store_open: %s", cause);
	intake = intake_new(store, NULL, NULL, &opts);
}

/* Close and remove everything. */
static void
teardown(void)
{
	char	 cmd[160];

	intake_free(intake);
	store_free(store);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run lines through intake; replies[i] gets a parsed copy (caller decrefs). */
static void
run_lines(const char **lines, size_t n, json_t **replies)
{
	struct intake_item	*items;
	json_error_t		 jerr;
	size_t			 i;

	items = calloc(n, sizeof *items);
	for (i = 0; i < n; i++) {
		items[i].line = lines[i];
		items[i].len = strlen(lines[i]);
	}
	intake_run(intake, items, n);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(items[i].reply);
		replies[i] = json_loads(items[i].reply, 0, &jerr);
		ck_assert_msg(replies[i] != NULL, "reply %zu not JSON: %s", i,
		    items[i].reply);
		intake_item_clear(&items[i]);
	}
	free(items);
}

/* The "error" of a reply, or "ok". */
static const char *
outcome(json_t *r)
{
	if (json_is_true(json_object_get(r, "ok")))
		return "ok";
	return json_string_value(json_object_get(r, "error"));
}

#define REPORTED(id, ep, child) \
	"{\"id\":\"" id "\",\"type\":\"episode.reported\"," \
	"\"at\":\"2026-11-21T22:10:00Z\",\"episode\":\"" ep "\"," \
	"\"category\":\"missing\",\"child\":{\"id\":\"" child "\"}}"

START_TEST(test_replies_in_order)
{
	const char	*lines[] = {
		REPORTED("E-1", "MP-1", "C-1"),
		"not json",
		REPORTED("E-2", "MP-2", "C-1"),
		"",
		"{\"id\":\"E-3\",\"type\":\"episode.found\",\"at\":"
		    "\"2026-11-22T01:00:00Z\",\"episode\":\"MP-404\","
		    "\"found\":{\"postcode\":\"CR0 1AA\"}}",
		REPORTED("E-1", "MP-1", "C-1"),
	};
	const char	*want[] = { "ok", "bad_json", "ok", "bad_json",
	    "unknown_episode", "ok" };
	json_t		*r[6];
	size_t		 i;

	run_lines(lines, 6, r);
	for (i = 0; i < 6; i++)
		ck_assert_str_eq(outcome(r[i]), want[i]);
	ck_assert_int_eq(json_integer_value(json_object_get(r[0], "seq")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(r[2], "seq")), 2);
	/* the resend inside the same batch is a duplicate of seq 1 */
	ck_assert(json_is_true(json_object_get(r[5], "duplicate")));
	ck_assert_int_eq(json_integer_value(json_object_get(r[5], "seq")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(r[4], "id")),
	    "E-3");
	ck_assert(json_is_null(json_object_get(r[1], "id")));
	ck_assert(json_array_size(json_object_get(r[0], "alerts")) == 0);
	ck_assert_int_eq(store_event_count(store), 2);
	for (i = 0; i < 6; i++)
		json_decref(r[i]);
}
END_TEST

START_TEST(test_conflict_changes_nothing)
{
	const char	*first[] = { REPORTED("E-1", "MP-1", "C-1") };
	const char	*second[] = { REPORTED("E-1", "MP-1", "C-2") };
	json_t		*r[1];

	run_lines(first, 1, r);
	ck_assert_str_eq(outcome(r[0]), "ok");
	json_decref(r[0]);
	run_lines(second, 1, r);
	ck_assert_str_eq(outcome(r[0]), "conflict");
	ck_assert_str_eq(json_string_value(json_object_get(r[0], "field")),
	    "id");
	json_decref(r[0]);
	ck_assert_int_eq(store_event_count(store), 1);
	ck_assert_uint_eq(intake_stats(intake)->rejected[EVERR_CONFLICT], 1);
}
END_TEST

START_TEST(test_storage_failure_rolls_back_batch)
{
	enum { N = 400 };
	const char	*lines[N];
	char		*buf[N], note[2048];
	json_t		*r[N];
	struct rlimit	 rl, saved;
	char		*cause = NULL;
	size_t		 i;

	/* Fill the database a little so the limit below bites mid-batch. */
	memset(note, 'x', sizeof note - 1);
	note[sizeof note - 1] = '\0';
	for (i = 0; i < N; i++) {
		if (asprintf(&buf[i], "{\"id\":\"E-%zu\",\"type\":"
		    "\"episode.reported\",\"at\":\"2026-11-21T22:10:00Z\","
		    "\"episode\":\"MP-%zu\",\"category\":\"absent\","
		    "\"child\":{\"id\":\"C-%zu\"},\"padding\":\"%s\"}",
		    i, i, i % 7, note) == -1)
			ck_abort_msg("asprintf");
		lines[i] = buf[i];
	}
	/* Files may not grow past 256 KiB: the WAL cannot take the batch. */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl.rlim_cur = 256 * 1024;
	rl.rlim_max = saved.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	run_lines(lines, N, r);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	for (i = 0; i < N; i++) {
		ck_assert_str_eq(outcome(r[i]), "unavailable");
		json_decref(r[i]);
	}
	ck_assert_int_eq(store_event_count(store), 0);
	ck_assert_uint_eq(intake_stats(intake)->commit_failures, 1);
	ck_assert_int_eq(store_integrity_check(store, &cause), 0);

	/* Space is back: the same batch goes through, all of it. */
	run_lines(lines, N, r);
	for (i = 0; i < N; i++) {
		ck_assert_str_eq(outcome(r[i]), "ok");
		json_decref(r[i]);
		free(buf[i]);
	}
	ck_assert_int_eq(store_event_count(store), N);
}
END_TEST

START_TEST(test_prerefused_item_is_answered)
{
	struct intake_item	 it;
	json_t			*r;

	memset(&it, 0, sizeof it);
	it.prerefused = 1;
	ev_err_set(&it.err, EVERR_LINE_TOO_LONG, "", "too long");
	intake_run(intake, &it, 1);
	r = json_loads(it.reply, 0, NULL);
	ck_assert_str_eq(outcome(r), "line_too_long");
	ck_assert(json_is_null(json_object_get(r, "id")));
	json_decref(r);
	intake_item_clear(&it);
}
END_TEST

static Suite *
intake_suite(void)
{
	Suite	*s = suite_create("intake");
	TCase	*tc = tcase_create("batch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_replies_in_order);
	tcase_add_test(tc, test_conflict_changes_nothing);
	tcase_add_test(tc, test_storage_failure_rolls_back_batch);
	tcase_add_test(tc, test_prerefused_item_is_answered);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(intake_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
