/* Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h. */

/*
 * Unit tests for retention's purge (retention.c) on a real database fed
 * through intake and the rules engine, driven by a real event loop: what
 * is older than the period goes (an episode whole, a child with no event
 * left with all its state, indicators, interviews, plans, flags,
 * locations nothing names, alerts with their outbox rows, deadlines,
 * rule state), what is newer or part of a newer episode stays, an alert
 * still being delivered waits for a later purge, a purged event's id is
 * new again, the audit trail only grows, the database stays consistent,
 * and small batches give the same result.
 */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "brief.h"
#include "config.h"
#include "daemon.h"
#include "engine.h"
#include "intake.h"
#include "retention.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"

#define DAY_MS		(86400LL * 1000)

static const char rules_text[] =
	"version: 1\n"
	"groups: [cse]\n"
	"routes:\n"
	"  mpu: \"Missing persons unit\"\n"
	"indicators:\n"
	"  older_partner: {label: \"Older partner\", weight: 3, group: cse}\n"
	"rules:\n"
	"  - id: high_risk\n"
	"    kind: match\n"
	"    routes: [mpu]\n"
	"    when: {type: episode.reported, risk: high}\n"
	"    level: urgent\n"
	"    summary: \"{child} reported at high risk\"\n"
	"  - id: flagged_indicator\n"
	"    kind: match\n"
	"    routes: [mpu]\n"
	"    when: {type: indicator.recorded}\n"
	"    level: notify\n"
	"    summary: \"indicator for {child}\"\n"
	"  - id: no_interview\n"
	"    kind: deadline\n"
	"    routes: [mpu]\n"
	"    after: {type: episode.found}\n"
	"    expect: {type: interview.completed}\n"
	"    within: 72h\n"
	"    level: review\n"
	"    summary: \"no interview for {child}\"\n";

static char		 dir[64], dbpath[128];
static struct daemon	 d;
static struct engine	*engine;
static struct brief	*brief;
static struct intake	*intake;
static int64_t		 now_ms;
static int		 nev;

static void
setup(void)
{
	struct decode_opts	 opts;
	char			*cause = NULL;

	strcpy(dir, "/tmp/check_retention.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/misperd.db", dir);
	memset(&d, 0, sizeof d);
	d.base = event_base_new();
	d.config = config_default();
	d.config->retention_period_ms = 365 * DAY_MS;
	d.rules = rules_load_buffer("test.yaml", rules_text,
	    strlen(rules_text), &cause);
	ck_assert_msg(d.rules != NULL, "rules: %s", cause);
	d.store = store_open(dbpath, &cause);
	ck_assert_msg(d.store != NULL, "store: %s", cause);
	engine = engine_new(d.store);
	engine_set_rules(engine, d.rules);
	brief = brief_new(d.store);
	opts.indicator_known = rules_indicator_known;
	opts.arg = d.rules;
	intake = intake_new(d.store, engine, brief, &opts);
	now_ms = time_now_ms();
	nev = 0;
}

static void
teardown(void)
{
	char	 cmd[160];

	intake_free(intake);
	brief_free(brief);
	engine_free(engine);
	store_free(d.store);
	rules_free(d.rules);
	config_free(d.config);
	event_base_free(d.base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The time days ago, as RFC 3339, plus minutes. */
static const char *
ago(int days, int minutes)
{
	static char	 buf[8][TIME_RFC3339_LEN];
	static int	 i;

	i = (i + 1) % 8;
	time_format_rfc3339(now_ms - days * DAY_MS + minutes * 60000LL,
	    buf[i]);
	return buf[i];
}

/* Send one event (printf-style, single quotes for double); accepted. */
static void
send_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
send_ok(const char *fmt, ...)
{
	struct intake_item	 it;
	va_list			 ap;
	char			 line[2048], *p;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (p = line; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	memset(&it, 0, sizeof it);
	it.line = line;
	it.len = strlen(line);
	intake_run(intake, &it, 1);
	ck_assert_msg(strstr(it.reply, "\"ok\":true") != NULL, "%s: %s", line,
	    it.reply);
	intake_item_clear(&it);
	nev++;
}

/* An integer from sql. */
static int64_t
q_int(const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	ck_assert_msg(sqlite3_prepare_v2(store_db(d.store), sql, -1, &st,
	    NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(store_db(
	    d.store)));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
exec_ok(const char *sql)
{
	ck_assert_int_eq(sqlite3_exec(store_db(d.store), sql, NULL, NULL,
	    NULL), SQLITE_OK);
}

/* An episode: reported (high risk: an alert), found, closed, at day. */
static void
episode(const char *ep, const char *child, int day, const char *where)
{
	send_ok("{'id':'%s-r','type':'episode.reported','at':'%s',"
	    "'episode':'%s','child':{'id':'%s','dob':'2010-01-01',"
	    "'area':'lambeth'},'category':'missing','risk':'high',"
	    "'last_seen':{'postcode':'%s','address':'1 %s Road'}}", ep,
	    ago(day, 0), ep, child, where, where);
	send_ok("{'id':'%s-f','type':'episode.found','at':'%s',"
	    "'episode':'%s','found':{'postcode':'%s','address':'1 %s Road'}}",
	    ep, ago(day, 60), ep, where, where);
	send_ok("{'id':'%s-c','type':'episode.closed','at':'%s',"
	    "'episode':'%s','outcome':'returned_home'}", ep, ago(day, 120), ep);
}

/* The deliveries the dispatcher would have resolved (no webhooks). */
static void
deliver_all(void)
{
	exec_ok("UPDATE deliveries SET status = 'delivered', channels = 0");
}

/* Run a purge now to its end, as the daemon's loop would. */
static void
purge(void)
{
	struct retention	*rt;

	/* no purge row yet: retention_new starts one; else start it */
	rt = retention_new(&d);
	if (retention_running(rt))
		/* one at a time: asking now starts nothing */
		ck_assert_int_eq(retention_start(rt, "test"), 0);
	else
		ck_assert_int_eq(retention_start(rt, "test"), 1);
	ck_assert(retention_running(rt));
	while (retention_running(rt))
		ck_assert_int_ne(event_base_loop(d.base, EVLOOP_ONCE), -1);
	retention_free(rt);
}

/* The database is whole and every reference resolves. */
static void
consistent(void)
{
	char	*cause = NULL;

	ck_assert_msg(store_integrity_check(d.store, &cause) == 0, "%s",
	    cause);
	ck_assert_int_eq(q_int("SELECT count(*) FROM pragma_foreign_key_check"),
	    0);
	/* what has no foreign key must still name what exists */
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts a WHERE NOT EXISTS"
	    " (SELECT 1 FROM children c WHERE c.id = a.child_id)"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM deadlines x WHERE NOT"
	    " EXISTS (SELECT 1 FROM episodes e WHERE e.id = x.episode_id)"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM rule_state r WHERE NOT"
	    " EXISTS (SELECT 1 FROM children c WHERE c.id = r.child_id)"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators i WHERE"
	    " NOT EXISTS (SELECT 1 FROM events e WHERE e.seq = i.seq)"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events e WHERE"
	    " e.child_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM children c"
	    " WHERE c.id = e.child_id)"), 0);
}

/* The count the purge row gives for table. */
static int64_t
purged(const char *table)
{
	char	 sql[200];

	snprintf(sql, sizeof sql, "SELECT json_extract(detail, '$.counts.%s')"
	    " FROM audit WHERE action = 'purge' ORDER BY seq DESC LIMIT 1",
	    table);
	return q_int(sql);
}

/* The history the scenario tests share. */
static void
history(void)
{
	/* C-OLD: everything three years ago */
	episode("E-OLD", "C-OLD", 1100, "AA1");
	send_ok("{'id':'I-OLD','type':'indicator.recorded','at':'%s',"
	    "'child':{'id':'C-OLD'},'indicator':'older_partner'}",
	    ago(1100, 200));
	send_ok("{'id':'P-OLD','type':'plan.recorded','at':'%s',"
	    "'child':{'id':'C-OLD'},'plan':'safety_plan','episode':'E-OLD'}",
	    ago(1100, 300));
	send_ok("{'id':'V-OLD','type':'interview.completed','at':'%s',"
	    "'child':{'id':'C-OLD'},'kind':'prevention','episode':'E-OLD'}",
	    ago(1100, 400));
	/* C-MIX: an old episode and indicator, a recent episode */
	episode("E-MIX1", "C-MIX", 800, "BB1");
	send_ok("{'id':'I-MIX','type':'indicator.recorded','at':'%s',"
	    "'child':{'id':'C-MIX'},'indicator':'older_partner'}",
	    ago(790, 0));
	episode("E-MIX2", "C-MIX", 10, "BB2");
	/* C-SPAN: an episode reported long ago and closed lately */
	send_ok("{'id':'E-SPAN-r','type':'episode.reported','at':'%s',"
	    "'episode':'E-SPAN','child':{'id':'C-SPAN'},'category':'missing',"
	    "'risk':'low','last_seen':{'postcode':'CC1'}}", ago(400, 0));
	send_ok("{'id':'E-SPAN-c','type':'episode.closed','at':'%s',"
	    "'episode':'E-SPAN','outcome':'returned_home'}", ago(5, 0));
	/* places flagged long ago and lately */
	send_ok("{'id':'L-OLD','type':'location.flagged','at':'%s',"
	    "'location':{'postcode':'DD1','address':'9 Old Street'},"
	    "'reason':'exploitation_hotspot','source':'intel'}", ago(900, 0));
	send_ok("{'id':'L-NEW','type':'location.flagged','at':'%s',"
	    "'location':{'postcode':'DD2'},'reason':'exploitation_hotspot',"
	    "'source':'intel'}", ago(20, 0));
}

START_TEST(test_purge_by_age)
{
	int64_t	 audit0, seq_max;

	history();
	deliver_all();
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), nev);
	ck_assert_int_gt(q_int("SELECT count(*) FROM deadlines"), 0);
	ck_assert_int_gt(q_int("SELECT count(*) FROM rule_state"), 0);
	audit0 = q_int("SELECT count(*) FROM audit");
	seq_max = q_int("SELECT max(seq) FROM events");
	purge();
	consistent();

	/* C-OLD is gone, all of it */
	ck_assert_int_eq(q_int("SELECT count(*) FROM children"
	    " WHERE id = 'C-OLD'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"
	    " WHERE child_id = 'C-OLD'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"
	    " WHERE child_id = 'C-OLD'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM plans"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM interviews"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM rule_state"
	    " WHERE child_id = 'C-OLD'"), 0);
	/* C-MIX keeps its recent episode and profile, not the old ones */
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes"
	    " WHERE child_id = 'C-MIX'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes"
	    " WHERE id = 'E-MIX2'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"
	    " WHERE child_id = 'C-MIX'"), 3);
	ck_assert_int_eq(q_int("SELECT count(*) FROM children WHERE id = "
	    "'C-MIX' AND dob = '2010-01-01'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM child_indicators"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"
	    " WHERE episode_id = 'E-MIX1'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"
	    " WHERE episode_id = 'E-MIX2'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM deadlines"
	    " WHERE episode_id = 'E-MIX1'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM deadlines"
	    " WHERE episode_id = 'E-MIX2'"), 1);
	/* rule state scoped to what went (an episode, an event) goes */
	ck_assert_int_eq(q_int("SELECT count(*) FROM rule_state WHERE"
	    " child_id = 'C-MIX' AND scope NOT IN ('E-MIX2', '')"), 0);
	ck_assert_int_gt(q_int("SELECT count(*) FROM rule_state WHERE"
	    " child_id = 'C-MIX' AND scope = 'E-MIX2'"), 0);
	/* the episode spanning the cutoff stays whole */
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"
	    " WHERE episode_id = 'E-SPAN'"), 2);
	/* places: the old flag and its place go; named places stay */
	ck_assert_int_eq(q_int("SELECT count(*) FROM location_flags"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM locations"
	    " WHERE postcode IN ('AA1', 'BB1', 'DD1')"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM locations"
	    " WHERE postcode IN ('BB2', 'CC1', 'DD2')"), 3);
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"
	    " WHERE id = 'L-OLD'"), 0);
	/* what stays: 3 (E-MIX2) + 2 (E-SPAN) + 1 (L-NEW) */
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 6);
	/* the audit only grew, by the purge row, which has the counts */
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"), audit0 + 1);
	ck_assert_int_eq(purged("events"), nev - 6);
	ck_assert_int_eq(purged("episodes"), 2);
	ck_assert_int_eq(purged("children"), 1);
	ck_assert_int_eq(purged("child_indicators"), 2);
	ck_assert_int_eq(purged("plans"), 1);
	ck_assert_int_eq(purged("interviews"), 1);
	ck_assert_int_eq(purged("location_flags"), 1);
	ck_assert_int_eq(purged("locations"), 3);
	ck_assert_int_eq(purged("alerts"), 4);
	ck_assert_int_eq(purged("deliveries"), 4);
	ck_assert_int_eq(q_int("SELECT json_extract(detail, '$.complete')"
	    " FROM audit WHERE action = 'purge'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit WHERE action ="
	    " 'purge' AND actor = 'misperd:startup'"), 1);
	/* a seq is never reused: AUTOINCREMENT */
	send_ok("{'id':'I-OLD','type':'indicator.recorded','at':'%s',"
	    "'child':{'id':'C-OLD'},'indicator':'older_partner'}",
	    ago(1100, 200));
	ck_assert_int_gt(q_int("SELECT seq FROM events WHERE id = 'I-OLD'"),
	    seq_max);
	consistent();
}
END_TEST

START_TEST(test_pending_delivery_waits)
{
	episode("E-P", "C-P", 1000, "PP1");
	/* the deliveries are left pending: the dispatcher may be at it */
	ck_assert_int_eq(q_int("SELECT count(*) FROM deliveries"
	    " WHERE status = 'pending'"), 1);
	purge();
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM episodes"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM deliveries"), 1);
	ck_assert_int_eq(purged("alerts"), 0);
	/* delivered, the next purge takes it */
	deliver_all();
	purge();
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM deliveries"), 0);
	ck_assert_int_eq(purged("alerts"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM audit"
	    " WHERE action = 'purge'"), 2);
	consistent();
}
END_TEST

START_TEST(test_small_batches)
{
	int	 i;

	d.config->retention_batch_rows = 10;
	for (i = 0; i < 30; i++) {
		char	 ep[16], child[16];

		snprintf(ep, sizeof ep, "E-B%d", i);
		snprintf(child, sizeof child, "C-B%d", i % 7);
		episode(ep, child, 500 + i, "BT1");
	}
	episode("E-KEEP", "C-B0", 3, "BT2");
	deliver_all();
	purge();
	consistent();
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 3);
	ck_assert_int_eq(q_int("SELECT count(*) FROM children"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM alerts"), 1);
	ck_assert_int_eq(purged("events"), 90);
	ck_assert_int_eq(purged("children"), 6);
	ck_assert_int_gt(q_int("SELECT json_extract(detail, '$.batches')"
	    " FROM audit WHERE action = 'purge'"), 9);
}
END_TEST

START_TEST(test_nothing_old)
{
	episode("E-N", "C-N", 30, "NN1");
	deliver_all();
	purge();
	ck_assert_int_eq(q_int("SELECT count(*) FROM events"), 3);
	ck_assert_int_eq(purged("events"), 0);
	ck_assert_int_eq(purged("alerts"), 0);
	consistent();
}
END_TEST

static Suite *
retention_suite(void)
{
	Suite	*s = suite_create("retention");
	TCase	*tc = tcase_create("purge");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_purge_by_age);
	tcase_add_test(tc, test_pending_delivery_waits);
	tcase_add_test(tc, test_small_batches);
	tcase_add_test(tc, test_nothing_old);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(retention_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
