# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Retention (docs/security.md) against the live daemon: with a history
spread over years and retention.period 365d, a purge run by `misperctl
purge` removes exactly what is older than the period by event time (an
episode only when all of it is), with its idempotency keys (a purged
event sent again is new), leaves everything newer as it was, keeps every
audit row and adds one with the counts, logs them, counts them in the
metrics, and leaves a consistent database (integrity_check,
foreign_key_check).  A purge runs at start only when the last one is over
a day old; the daily time is reported; a purge stopped by SIGTERM says it
did not complete; intake goes on while a purge works in small batches."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import misper
from misper import Daemon, Events, Fail, Skip, check, check_eq, note, \
    run, step

DAY = 86400
PERIOD_DAYS = 365
TABLES = ["events", "episodes", "children", "child_indicators",
    "interviews", "plans", "locations", "location_flags", "alerts", "acks",
    "deliveries", "webhook_deliveries", "delivery_attempts", "escalations",
    "deadlines", "rule_state"]


# ---- helpers ----

def retention(period="%dd" % PERIOD_DAYS, **kw):
    lines = ["retention:", "  period: %s" % period]
    lines += ["  %s: %s" % (k, v) for k, v in kw.items()]
    return "\n".join(lines)


def ago(days, minutes=0):
    return misper.fmt_time(int(time.time()) - days * DAY + minutes * 60)


def ctl(d, *args, timeout=120):
    exe = os.environ.get("MISPERCTL") or os.path.join(
        os.path.dirname(misper.daemon_path()), "misperctl")
    if not os.path.isfile(exe):
        raise Skip("no misperctl at %s" % exe)
    p = subprocess.run(misper.wrap_ctl([exe, "-c", d.conf] + list(args)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=timeout * misper.TIMEOUT_SCALE,
        stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def purge_status(d):
    st, _, body = d.http_get("/v1/admin/purge")
    check_eq(st, 200, "GET /v1/admin/purge")
    return body


def wait_idle(d, timeout=60.0):
    """Wait until no purge runs and one has run; the status."""
    deadline = time.monotonic() + timeout
    while True:
        s = purge_status(d)
        if not s["running"] and s["last"] is not None:
            return s
        if time.monotonic() > deadline:
            raise Fail("the purge still runs after %.0f s: %r" % (timeout,
                s))
        time.sleep(0.05)


def wait_settled(d, timeout=60.0):
    """Wait until no delivery is pending and no deadline is due."""
    deadline = time.monotonic() + timeout
    while True:
        now = int(time.time() * 1000)
        n = d.query("SELECT (SELECT count(*) FROM deliveries WHERE status "
            "= 'pending') + (SELECT count(*) FROM deadlines WHERE status = "
            "'pending' AND due_at_ms <= ?)", (now,))[0][0]
        if n == 0:
            return
        if time.monotonic() > deadline:
            raise Fail("%d deliveries or deadlines still pending" % n)
        time.sleep(0.1)


def counts(d):
    return {t: d.query("SELECT count(*) FROM %s" % t)[0][0] for t in TABLES}


def send(d, events):
    with d.unix() as c:
        replies = c.pipeline([json.dumps(e) for e in events])
    check_eq(len(replies), len(events), "every line answered")
    bad = [r for r in replies if not r.get("ok")]
    check(not bad, "every event accepted", bad[:3])
    return replies


def history():
    """Events over five years.  Children C-H0..C-H5 each have an
    episode four years ago, one two years ago (three within 90 days for
    C-H0: a repeat alert), one 400 days ago closed 300 days ago (spanning
    the cutoff), and one ten days ago (three within 30 days for C-H1: a
    repeat alert that stays); indicators and flags old and new.
    """
    ev = Events("RT")
    out = []
    def episode(ep, child, days, close_days=None, **kw):
        out.append(ev.reported(ep, child, at=ago(days), last_seen={
            "postcode": "SW1 %dAA" % (days % 10), "address":
            "%d Old Road" % days}, **kw))
        out.append(ev.found(ep, at=ago(days, 60)))
        out.append(ev.interview(ep, child["id"] if isinstance(child, dict)
            else child, "return_home", at=ago(days, 120)))
        out.append(ev.closed(ep, at=ago(close_days if close_days is not
            None else days, 180)))
    for i in range(6):
        c = "C-H%d" % i
        episode("EP-%d-a" % i, c, 4 * 365 + i)
        episode("EP-%d-b" % i, c, 2 * 365 + i)
        if i == 0:
            episode("EP-0-b2", c, 2 * 365 - 20)
            episode("EP-0-b3", c, 2 * 365 - 40)
        episode("EP-%d-c" % i, c, 400 + i, close_days=300)
        episode("EP-%d-d" % i, c, 10 + i)
        if i == 1:
            episode("EP-1-d2", c, 20)
            episode("EP-1-d3", c, 30)
        out.append(ev.indicator(c, "education_disengaged", at=ago(900)))
        out.append(ev.indicator(c, "education_disengaged", at=ago(30)))
        out.append(ev.plan(c, at=ago(800)))
    # a child seen only long ago
    episode("EP-GONE", "C-GONE", 3 * 365)
    out.append(ev.flagged(at=ago(1000), location={"postcode": "SE1 1OL",
        "address": "1 Flag Old"}))
    out.append(ev.flagged(at=ago(20), location={"postcode": "SE1 1NW",
        "address": "2 Flag New"}))
    return out


def expected_purge(d, cutoff_ms):
    """The event ids a purge at cutoff must remove: older than it, and of
    no episode or of one with no event at or after it."""
    return {r[0] for r in d.query(
        "SELECT e.id FROM events e WHERE e.at_ms < ? AND (e.episode_id IS "
        "NULL OR NOT EXISTS (SELECT 1 FROM events k WHERE k.episode_id = "
        "e.episode_id AND k.at_ms >= ?))", (cutoff_ms, cutoff_ms))}


def snapshot(d, cutoff_ms):
    """What must survive untouched: the newer events (with their bodies),
    the episodes with a newer event, the alerts raised by newer events."""
    return (d.query("SELECT seq, id, body FROM events WHERE at_ms >= ? "
            "ORDER BY seq", (cutoff_ms,)),
        d.query("SELECT * FROM episodes e WHERE EXISTS (SELECT 1 FROM "
            "events k WHERE k.episode_id = e.id AND k.at_ms >= ?) ORDER BY "
            "id", (cutoff_ms,)),
        d.query("SELECT seq, id, body, ack_by FROM alerts WHERE "
            "event_at_ms >= ? ORDER BY seq", (cutoff_ms,)))


def consistent(d):
    check_eq(d.integrity(), "ok", "PRAGMA integrity_check: ok")
    check_eq(d.query("PRAGMA foreign_key_check"), [],
        "PRAGMA foreign_key_check: nothing")
    check_eq(d.query("SELECT count(*) FROM alerts a WHERE NOT EXISTS "
        "(SELECT 1 FROM children c WHERE c.id = a.child_id)")[0][0], 0,
        "every alert's child is there")
    check_eq(d.query("SELECT count(*) FROM deadlines x WHERE NOT EXISTS "
        "(SELECT 1 FROM episodes e WHERE e.id = x.episode_id)")[0][0], 0,
        "every deadline's episode is there")
    check_eq(d.query("SELECT count(*) FROM events e WHERE child_id IS NOT "
        "NULL AND NOT EXISTS (SELECT 1 FROM children c WHERE c.id = "
        "e.child_id)")[0][0], 0, "every event's child is there")


# ---- tests ----

def test_purge_now():
    """misperctl purge removes exactly what is older than the period, and
    nothing else; the audit keeps every row and gains one with the counts;
    the log and the metrics say the same; purged ids are new again."""
    d = Daemon(extra=retention(batch_rows=50)).start()
    first = wait_idle(d)
    check_eq(first["last"]["actor"], "misperd:startup",
        "the first start ran a purge (none had run)")
    check_eq(first["period_s"], PERIOD_DAYS * DAY, "the period")
    events = history()
    send(d, events)
    wait_settled(d)
    step("acknowledge an old alert and a new one")
    old_alerts = d.query("SELECT id FROM alerts WHERE child_id = 'C-H0' "
        "AND rule_id = 'repeat_3_in_90d' ORDER BY seq")
    check(len(old_alerts) >= 1, "an old repeat alert", old_alerts)
    st, _, _ = d.http_post("/v1/alerts/%s/ack" % old_alerts[0][0],
        {"by": "PS 1 Old"})
    check_eq(st, 200, "acknowledged")
    new_alerts = d.query("SELECT id FROM alerts WHERE child_id = 'C-H1' "
        "AND rule_id = 'repeat_3_in_90d' ORDER BY seq")
    check_eq(len(new_alerts), 1, "a recent repeat alert")
    st, _, _ = d.http_post("/v1/alerts/%s/ack" % new_alerts[0][0],
        {"by": "PS 2 New"})
    check_eq(st, 200, "acknowledged")
    cutoff = int((time.time() - PERIOD_DAYS * DAY) * 1000)
    gone = expected_purge(d, cutoff)
    check(len(gone) > 50, "%d events to go" % len(gone))
    spans = d.query("SELECT count(*) FROM events WHERE episode_id LIKE "
        "'EP-%-c' AND at_ms < ?", (cutoff,))[0][0]
    check_eq(spans, 6 * 3, "old events of episodes spanning the cutoff")
    keep = snapshot(d, cutoff)
    before = counts(d)
    audit_before = d.query("SELECT * FROM audit ORDER BY seq")
    bodies = {r[0]: r[1] for r in d.query("SELECT id, body FROM events")}
    seq_max = d.query("SELECT max(seq) FROM events")[0][0]
    log_at = d.log_size()
    step("misperctl purge")
    rc, out, err = ctl(d, "purge")
    check_eq(rc, 0, "exit 0 (complete)")
    check("Rows removed" in out and re.search(r"events\s+%d\b" % len(gone),
        out), "prints the rows removed", out)
    after = counts(d)
    step("exactly what is older than the period")
    left = {r[0] for r in d.query("SELECT id FROM events")}
    check_eq(sorted(gone & left), [], "every expected event is gone")
    check_eq(len(left), len(bodies) - len(gone), "and only those")
    check_eq(d.query("SELECT count(*) FROM events WHERE episode_id LIKE "
        "'EP-%-c'")[0][0], 6 * 4, "episodes spanning the cutoff are whole")
    check_eq(snapshot(d, cutoff), keep, "everything newer is as it was")
    check_eq(d.query("SELECT count(*) FROM children WHERE id = "
        "'C-GONE'")[0][0], 0, "a child with nothing left is gone")
    check_eq(d.query("SELECT count(*) FROM children WHERE id LIKE "
        "'C-H%'")[0][0], 6, "children with newer events stay")
    check_eq(d.query("SELECT a.id, k.ack_by FROM acks k JOIN alerts a ON "
        "a.seq = k.alert_seq"), [(new_alerts[0][0], "PS 2 New")],
        "the old alert's acknowledgement went with it, the new one stays")
    check_eq(len(d.query("SELECT 1 FROM audit WHERE action = 'ack'")), 2,
        "both acknowledgements stay in the audit trail")
    check(after["alerts"] < before["alerts"] and after["alerts"] > 0,
        "old alerts gone, new ones kept (%d -> %d)" % (before["alerts"],
        after["alerts"]))
    check_eq(d.query("SELECT count(*) FROM location_flags")[0][0], 1,
        "the old flag went, the new one stays")
    consistent(d)
    step("the audit trail")
    audit_after = d.query("SELECT * FROM audit ORDER BY seq")
    check_eq(audit_after[:len(audit_before)], audit_before,
        "every earlier row is still there, unchanged")
    row = d.query("SELECT actor, detail FROM audit WHERE action = 'purge' "
        "ORDER BY seq DESC LIMIT 1")[0]
    detail = json.loads(row[1])
    check(row[0].startswith("http:unix:pid=") and row[0].endswith(
        ",uid=%d" % os.getuid()), "by misperctl, as the kernel names it",
        row[0])
    check_eq(detail["counts"], {t: before[t] - after[t] for t in TABLES},
        "the counts are what went, table by table")
    check_eq(detail["complete"], True, "complete")
    step("the log and the metrics")
    line = d.wait_log("purge done", offset=log_at)
    check(line is not None and ("events %d," % len(gone)) in line and
        ("episodes %d" % detail["counts"]["episodes"]) in line,
        "the log line has the counts", line)
    st, _, text = d.http_get("/metrics")
    m = re.search(r'^misperd_purge_rows_total\{table="events"\} (\d+)$',
        text, re.M)
    check(m is not None and int(m.group(1)) == len(gone),
        "misperd_purge_rows_total{table=events}", m and m.group(0))
    m = re.search(r"^misperd_last_purge_timestamp_seconds ([0-9.]+)$", text,
        re.M)
    check(m is not None and abs(float(m.group(1)) - time.time()) < 120,
        "misperd_last_purge_timestamp_seconds is recent", m and m.group(0))
    step("a purged event sent again is new")
    some = sorted(gone)[0]
    with d.unix() as c:
        r = c.request(bodies[some])
    check(r.get("ok") is True and r.get("duplicate") is not True,
        "accepted, not a duplicate", r)
    check(r["seq"] > seq_max, "with a new seq (seqs are never reused)")
    step("a second purge finds it again")
    rc, out, err = ctl(d, "purge", "--json")
    check_eq(rc, 0, "exit 0")
    check_eq(json.loads(out)["last"]["counts"]["events"], 1,
        "--json: the status document; one event")
    consistent(d)


def test_startup_and_schedule():
    """A purge runs at start when the last one is over a day old, not
    when it is recent; the status gives the next daily time."""
    d = Daemon(extra=retention(period="36500d", purge_at='"23:59"'))
    d.start()
    wait_idle(d)
    send(d, [Events("SU").reported("EP-SU-1", "C-SU", at=ago(800))])
    s = purge_status(d)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    check(s["next_at"] in (today + "T23:59:00Z", time.strftime("%Y-%m-%d",
        time.gmtime(time.time() + DAY)) + "T23:59:00Z"),
        "next at 23:59 UTC", s["next_at"])
    check_eq(s["purge_at"], "23:59", "purge_at")
    d.stop()
    step("restart with a shorter period: the last purge is recent")
    d.extra = retention()
    d.write_config()
    d.start()
    s = purge_status(d)
    check_eq(s["running"], False, "no purge at start")
    check_eq((s["last"]["actor"], s["last"]["complete"]),
        ("misperd:startup", True), "the last purge, read back from the "
        "audit trail")
    check(d.wait_log("purge started", 0.5) is None, "none logged")
    check_eq(d.event_count(), 1, "the old event is still there")
    d.stop()
    step("restart after the last purge is two days old")
    con = sqlite3.connect(d.db_path)
    con.execute("INSERT INTO audit (at_ms, actor, action, detail) VALUES "
        "(?, 'test', 'purge', '{}')", (int((time.time() - 2 * DAY) * 1000),))
    con.commit()
    con.close()
    d.start()
    s = wait_idle(d)
    check_eq(s["last"]["actor"], "misperd:startup", "a purge ran at start")
    check_eq(d.event_count(), 0, "and removed the old event")
    check_eq(d.query("SELECT actor FROM audit WHERE action = 'purge' ORDER "
        "BY seq DESC LIMIT 1")[0][0], "misperd:startup", "recorded")


def test_purge_with_intake_and_stop():
    """While a purge of many small batches runs, intake goes on (new
    events accepted and kept); a purge stopped by SIGTERM records that it
    did not complete, and what it removed stays removed."""
    d = Daemon(extra=retention(batch_rows=10)).start()
    wait_idle(d)
    ev = Events("BK")
    old = [ev.indicator("C-BK%d" % (i % 50), "education_disengaged",
        at=ago(1000, i)) for i in range(3000)]
    send(d, old)
    step("purge, and send events meanwhile")
    st, _, body = d.http_post("/v1/admin/purge", {})
    check_eq((st, body["started"], body["running"]), (202, True, True),
        "202, started")
    st, _, body = d.http_post("/v1/admin/purge")
    check(st == 202 and body["running"] is True, "a second request: 202, "
        "a purge running (the first, or a second if the first is done)",
        body)
    if body["started"]:
        note("the first purge ended before the second request")
    new = [ev.indicator("C-NEW%d" % i, "education_disengaged", at=ago(1, i))
        for i in range(200)]
    replies = send(d, new)
    check(all(r.get("duplicate") is not True for r in replies),
        "new events stored")
    step("SIGTERM")
    check_eq(d.stop(), 0, "exit 0")
    purges = [json.loads(r[0]) for r in d.query("SELECT detail FROM audit "
        "WHERE action = 'purge' AND actor LIKE 'http:%' ORDER BY seq")]
    check(len(purges) in (1, 2), "one or two purges recorded", purges)
    row = purges[-1]
    left = d.query("SELECT count(*) FROM events WHERE id LIKE 'BK-%' AND "
        "at_ms < ?", (int((time.time() - 500 * DAY) * 1000),))[0][0]
    check_eq(sum(p["counts"]["events"] for p in purges), 3000 - left,
        "the purges' counts are what went")
    if row["complete"]:
        note("the purge finished before SIGTERM; the stop path was not "
            "exercised this time")
        check_eq(left, 0, "every old event gone")
    else:
        check_eq(row.get("ended"), "stopped", "the row says it stopped")
        check(d.wait_log("purge stopped", 1) is not None, "logged")
    check_eq(d.query("SELECT count(*) FROM events WHERE id LIKE 'BK-%' "
        "AND at_ms >= ?", (int((time.time() - 5 * DAY) * 1000),))[0][0],
        200, "every new event kept")
    consistent(d)


def test_purge_api_errors():
    """POST /v1/admin/purge takes no parameters; GET and POST only."""
    d = Daemon().start()
    wait_idle(d)
    st, _, body = d.http_post("/v1/admin/purge", {"period": "1d"})
    check_eq((st, body.get("error")), (400, "bad_request"),
        "a body with members: 400")
    st, h, _ = d.http("DELETE", "/v1/admin/purge")
    check_eq((st, h.get("allow")), (405, "GET, POST"), "405 with Allow")
    rc, out, err = ctl(d, "purge", "--status")
    check_eq(rc, 0, "misperctl purge --status: exit 0")
    check("Last purge" in out and "misperd:startup" in out and
        "2557" not in out and "220924800 s" in out,
        "the period, the last purge and who ran it", out)
    rc, out, err = ctl(d, "purge", "--status", "--no-wait")
    check_eq(rc, 2, "--status with --no-wait: usage error")


run([test_purge_now, test_startup_and_schedule,
    test_purge_with_intake_and_stop, test_purge_api_errors], timeout=180)
