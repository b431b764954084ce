# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""The rules engine on the live daemon: the shipped example stream raises the
alerts examples/README.md lists, replay gives the alerts live intake gives,
SIGHUP reloads (a bad file keeps the running rules, a good one keeps rule
state), deadlines fire on the wall clock and survive a SIGKILL, and the
command-line checks (--check-rules, --replay --against) answer as documented.
"""

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import (Client, Daemon, Events, Fail, check, check_eq, fmt_time,
    run, say, srcdir, step, daemon_path, rules_path)

STREAM = os.path.join(srcdir(), "examples", "stream.ndjson")

# What examples/README.md says the stream raises (rule, level): count.
# Deadline rules depend on the clock: these are the replay's figures.
EXPECTED = {
    ("cce_pattern", "urgent"): 5,
    ("cumulative_cse_score", "notify"): 20,
    ("cumulative_cse_score", "review"): 12,
    ("cumulative_cse_score", "urgent"): 7,
    ("flagged_child_low_grade", "urgent"): 25,
    ("found_at_rso_address", "urgent"): 2,
    ("long_or_overnight_episode", "review"): 28,
    ("looked_after_rapid_repeat", "notify"): 8,
    ("repeat_3_in_90d", "review"): 11,
    ("repeat_3_in_90d", "urgent"): 4,
    ("rhi_overdue", "review"): 62,
    ("significant_indicator_on_return", "urgent"): 18,
    ("trigger_plan_overdue", "review"): 8,
    ("young_or_ld_high_indicator", "urgent"): 13,
}
DEADLINE_RULES = {"rhi_overdue", "long_or_overnight_episode",
    "trigger_plan_overdue"}


def stream_lines():
    with open(STREAM, "rb") as f:
        return [l.rstrip(b"\n") for l in f if l.strip()]


def replay(*args):
    """Run misperd --replay; returns (exit status, alerts, stderr)."""
    p = subprocess.run(misper.wrap([daemon_path(), "--replay"] + list(args)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=120 * misper.TIMEOUT_SCALE)
    out = [json.loads(l) for l in p.stdout.decode().splitlines() if l]
    return p.returncode, out, p.stderr.decode()


def stored_alerts(d):
    return [json.loads(b) for (b,) in d.query(
        "SELECT body FROM alerts ORDER BY seq")]


def essence(a):
    """What must agree between live and replay (not ids or raised_at)."""
    return (a["rule"], a["child"], a["episode"], a["level"],
        a["previous_level"], a["event_at"], a["summary"], a["score"],
        tuple(e["event"] for e in a["evidence"]))


def send_stream(d):
    lines = stream_lines()
    with Client.unix(d.sock) as c:
        replies = c.pipeline(lines, timeout=120)
    check_eq(len(replies), len(lines), "one reply per line")
    check(all(r["ok"] for r in replies), "every line accepted")
    return replies


def test_example_stream_alerts():
    """The shipped example stream raises the alerts its README lists.

    Rules that are not deadlines are judged on event time alone, so live
    intake must give exactly the replay's figures; deadlines fire on the
    wall clock live, so each deadline rule must at least have fired."""
    step("replay the stream through rules/default.yaml")
    rc, alerts, err = replay(STREAM, "--rules", rules_path())
    check_eq(rc, 0, "replay exit status")
    got = collections.Counter((a["rule"], a["level"]) for a in alerts)
    check_eq(dict(got), EXPECTED, "replay alerts by rule and level")
    step("send it to a live daemon")
    d = Daemon().start()
    replies = send_stream(d)
    ids = [i for r in replies for i in r["alerts"]]
    check(len(ids) == len(set(ids)), "no alert id in two replies")
    live = collections.Counter((a["rule"], a["level"])
        for a in stored_alerts(d) if a["rule"] not in DEADLINE_RULES)
    want = {k: v for k, v in EXPECTED.items() if k[0] not in DEADLINE_RULES}
    check_eq(dict(live), want, "live alerts (not deadlines) by rule, level")
    check_eq(len(ids), sum(want.values()),
        "replies name every alert not raised by the clock")
    step("wait for the deadline clock (all are overdue on the wall clock)")
    # Live, the clock fires whatever is pending and due when it looks, so
    # which deadlines fire depends on when it looks during the stream;
    # what must hold is that each fired once, and only once it was due.
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        fired = [a for a in stored_alerts(d) if a["rule"] in DEADLINE_RULES]
        if fired:
            time.sleep(1.5)		# let the tick finish them all
            break
        time.sleep(0.1)
    fired = [a for a in stored_alerts(d) if a["rule"] in DEADLINE_RULES]
    check(len(fired) > 0, "%d deadline alerts fired live" % len(fired))
    keys = [(a["rule"], a["child"], a["episode"], a["event_at"])
        for a in fired]
    check_eq(len(keys), len(set(keys)), "each deadline fired once")
    check(all(a["raised_at"] >= a["event_at"] for a in fired),
        "none fired before it was due")
    check_eq(d.query("SELECT count(*) FROM deliveries")[0][0],
        sum(len(a["routes"]) for a in stored_alerts(d)),
        "one pending delivery per alert and route")
    check_eq(d.stop(), 0, "SIGTERM exit status")


def test_replay_equals_live():
    """Replaying the stream gives the alerts sending it live gives.

    Compared: rule, child, episode, level, previous level, event time,
    summary, score and evidence, alert by alert in order (deadline alerts
    excepted: live they fire on the wall clock, see the unit tests for the
    same engine_tick code on a simulated clock)."""
    rc, alerts, err = replay(STREAM, "--rules", rules_path())
    check_eq(rc, 0, "replay exit status")
    d = Daemon().start()
    send_stream(d)
    live = [essence(a) for a in stored_alerts(d)
        if a["rule"] not in DEADLINE_RULES]
    rep = [essence(a) for a in alerts if a["rule"] not in DEADLINE_RULES]
    check_eq(len(live), len(rep), "as many alerts")
    for i, (l, r) in enumerate(zip(live, rep)):
        if l != r:
            raise Fail("alert %d differs:\n live   %s\n replay %s" % (i, l, r))
    check(True, "%d alerts identical in order" % len(live))
    check(all(a["rules_version"].startswith("sha256:") for a in alerts),
        "rules_version is a sha256")


def test_brief_and_alert_fields():
    """An episode.reported reply carries the brief; alerts carry evidence."""
    d = Daemon().start()
    ev = Events("BR", start="2025-03-01T10:00:00Z")
    child = {"id": "C-BR1", "dob": "2012-01-01", "looked_after": True,
        "flags": ["known_cse_risk"], "area": "croydon"}
    with Client.unix(d.sock) as c:
        r1 = c.request(ev.reported("MP-BR1", child, category="absent",
            risk="low"))
        check(r1["ok"] and "brief" in r1, "reported reply has a brief")
        b = r1["brief"]
        check_eq(b["prior_episodes_90d"], 0, "no prior episodes yet")
        check_eq(b["profile"]["flags"], ["known_cse_risk"], "flags in brief")
        check(len(r1["alerts"]) >= 1, "flagged child graded low alerts")
        c.request(ev.reported("MP-BR2", {"id": "C-BR1"}))
        r3 = c.request(ev.reported("MP-BR3", {"id": "C-BR1"}))
        check_eq(r3["brief"]["prior_episodes_90d"], 2, "two prior episodes")
        check_eq(r3["brief"]["levels"].get("repeat_3_in_90d"), "review",
            "repeat rule at review in the brief")
        check(len(r3["brief"]["open_alerts"]) >= 2, "open alerts listed")
    a = [x for x in stored_alerts(d) if x["rule"] == "repeat_3_in_90d"][0]
    check_eq([e["episode"] for e in a["evidence"]],
        ["MP-BR1", "MP-BR2", "MP-BR3"], "evidence names the three reports")
    for k in ("alert", "seq", "raised_at", "event_at", "rule", "kind",
            "level", "previous_level", "child", "episode", "area", "routes",
            "summary", "evidence", "score", "rules_version"):
        check(k in a, "alert has %s" % k)


def write_rules(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_reload():
    """SIGHUP: a bad file is refused with file:line:col and the running rules
    stay; a good file replaces them and rule state carries over."""
    d = Daemon()
    mine = os.path.join(d.dir, "rules.yaml")
    original = open(rules_path()).read()
    write_rules(mine, original)
    d.rules_file = mine
    d.write_config()
    d.start()
    ev = Events("RL", start="2025-05-01T10:00:00Z")
    with Client.unix(d.sock) as c:
        for ep in ("MP-RL1", "MP-RL2"):
            c.request(ev.reported(ep, "C-RL1"))
        r = c.request(ev.reported("MP-RL3", "C-RL1"))
        check(any(a.startswith("A-") for a in r["alerts"]),
            "third episode alerts (repeat_3_in_90d)")
    v1 = stored_alerts(d)[-1]["rules_version"]

    step("a broken file: refused, the running rules stay")
    write_rules(mine, original.replace("kind: repeat", "kind: repeet", 1))
    off = d.log_size()
    d.signal(signal.SIGHUP)
    d.wait_log(lambda line: "reload refused" in line, offset=off)
    log = d.log_since(off)
    check(mine + ":" in log and "repeet" in log,
        "the error names the file and the bad value")
    with Client.unix(d.sock) as c:
        r = c.request(ev.reported("MP-RL9", {"id": "C-RL9",
            "flags": ["known_cse_risk"]}, category="absent", risk="low"))
    check(r["ok"] and r["alerts"], "still judging with the old rules")
    check_eq(stored_alerts(d)[-1]["rules_version"], v1, "old version used")

    step("a good file that changes only a comment: state carries over")
    write_rules(mine, original.replace("#", "# (reviewed)", 1))
    off = d.log_size()
    d.signal(signal.SIGHUP)
    d.wait_log(lambda line: "reloaded:" in line, offset=off)
    line = [l for l in d.log_since(off).splitlines() if "reloaded:" in l][0]
    old_v, new_v = line.split("reloaded: ")[1].split(" -> ")
    check_eq(old_v, v1, "the log names the old version")
    check(new_v != old_v, "and a new one")
    with Client.unix(d.sock) as c:
        r = c.request(ev.reported("MP-RL4", "C-RL1"))
    check(r["ok"], "a fourth episode is accepted")
    repeats = [a for a in stored_alerts(d) if a["child"] == "C-RL1" and
        a["rule"] == "repeat_3_in_90d"]
    check_eq(len(repeats), 1,
        "no second repeat alert: the rule's state survived the reload")
    check_eq(d.stop(), 0, "SIGTERM exit status")


DEADLINE_RULES_TEXT = """version: 1
groups: [cse]
routes:
  mpu: "Missing persons unit"
indicators:
  disclosed_cse: {label: "Discloses exploitation", weight: 3, group: cse}
rules:
  - id: rhi_fast
    kind: deadline
    routes: [mpu]
    after: {type: episode.found}
    expect: {type: interview.completed, interview_kind: return_home}
    within: 3s
    level: review
    summary: "no return home interview within {within} ({episode})"
"""


def test_deadline_wall_clock_and_restart():
    """A deadline fires on the wall clock, and one that fell due while the
    daemon was killed fires when it starts again."""
    d = Daemon()
    mine = os.path.join(d.dir, "rules.yaml")
    write_rules(mine, DEADLINE_RULES_TEXT)
    d.rules_file = mine
    d.write_config()
    d.start()
    now = time.time()
    ev = Events("DL", start=fmt_time(int(now) - 60))
    with Client.unix(d.sock) as c:
        c.request(ev.reported("MP-DL1", "C-DL1"))
        c.request(ev.found("MP-DL1", at=fmt_time(int(now))))
    step("live: wait for the 3 s deadline to fire")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10 and not stored_alerts(d):
        time.sleep(0.1)
    got = stored_alerts(d)
    check_eq([a["rule"] for a in got], ["rhi_fast"], "fired on the clock")
    check_eq(got[0]["episode"], "MP-DL1", "names the episode")
    step("SIGKILL with a deadline pending, restart after it is due")
    with Client.unix(d.sock) as c:
        c.request(ev.reported("MP-DL2", "C-DL2", at=fmt_time(int(now))))
        c.request(ev.found("MP-DL2", at=fmt_time(int(time.time()))))
    d.kill()
    time.sleep(4)
    d.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5 and len(stored_alerts(d)) < 2:
        time.sleep(0.1)
    got = stored_alerts(d)
    check_eq(len(got), 2, "the overdue deadline fired after the restart")
    check_eq(got[1]["episode"], "MP-DL2", "for the episode found before")
    time.sleep(1.5)
    check_eq(len(stored_alerts(d)), 2, "and only once")
    check_eq(d.integrity(), "ok", "integrity_check")


LIVED_RULES_TEXT = """version: 1
groups: [cse]
routes:
  mpu: "Missing persons unit"
indicators:
  disclosed_cse: {label: "Discloses exploitation", weight: 3, group: cse}
rules:
  - id: repeat_fast
    kind: repeat
    routes: [mpu]
    window: 1m
    thresholds: {review: 3}
    summary: "{count} episodes within {window}"
  - id: disclosure
    kind: match
    routes: [mpu]
    when: {indicators_any: [disclosed_cse]}
    level: urgent
    summary: "disclosure"
  - id: rhi_fast
    kind: deadline
    routes: [mpu]
    after: {type: episode.found}
    expect: {type: interview.completed, interview_kind: return_home}
    within: 3s
    level: review
    summary: "no return home interview within {within} ({episode})"
"""


def iso_ms(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int(round((t % 1) * 1000) % 1000)


def test_lived_equals_replayed():
    """Invariant 4 taken literally: events sent at their own times to the
    live daemon (deadlines firing on its wall clock) raise the same alerts,
    deadlines included, as replaying them afterwards.

    The schedule keeps every expected event well clear (>= 1.5 s) of its
    deadline, so the 1 s granularity of the live clock cannot matter."""
    d = Daemon()
    mine = os.path.join(d.dir, "rules.yaml")
    write_rules(mine, LIVED_RULES_TEXT)
    d.rules_file = mine
    d.write_config()
    d.start()
    t0 = time.time() + 1.0
    n = [0]

    def ev(off, type_, **kw):
        n[0] += 1
        e = {"id": "LV-%03d" % n[0], "type": type_, "at": iso_ms(t0 + off)}
        e.update(kw)
        return off, e
    found = {"postcode": "SW9 7AA", "address": "12 Stockwell Road"}
    plan = [
        ev(0.0, "episode.reported", episode="MP-L1", category="missing",
            child={"id": "C-L1"}),
        ev(0.5, "episode.found", episode="MP-L1", found=found),
        ev(1.5, "interview.completed", episode="MP-L1", kind="return_home",
            child={"id": "C-L1"}),
        ev(2.0, "episode.reported", episode="MP-L2", category="absent",
            child={"id": "C-L1"}),
        ev(2.5, "episode.found", episode="MP-L2", found=found),
        ev(3.0, "episode.reported", episode="MP-L3", category="missing",
            child={"id": "C-L1"}),
        ev(4.0, "episode.reported", episode="MP-L4", category="missing",
            child={"id": "C-L2"}),
        ev(4.5, "episode.found", episode="MP-L4", found=found,
            indicators=["disclosed_cse"]),
        ev(9.5, "interview.completed", episode="MP-L4", kind="return_home",
            child={"id": "C-L2"}),
        ev(10.0, "indicator.recorded", child={"id": "C-L2"},
            indicator="disclosed_cse"),
    ]
    step("send %d events, each at its own time, over %.0f s" % (len(plan),
        plan[-1][0]))
    with Client.unix(d.sock) as c:
        for off, e in plan:
            delay = t0 + off - time.time()
            if delay > 0:
                time.sleep(delay)
            r = c.request(e)
            check(r["ok"], "%s accepted" % e["id"])
    time.sleep(1.5)			# the clock's last look
    live = sorted((essence(a) for a in stored_alerts(d)), key=repr)
    path = os.path.join(d.dir, "lived.ndjson")
    with open(path, "w") as f:
        for off, e in plan:
            f.write(json.dumps(e) + "\n")
    rc, alerts, err = replay(path, "--rules", mine)
    check_eq(rc, 0, "replay exit status")
    rep = sorted((essence(a) for a in alerts), key=repr)
    kinds = collections.Counter(a["kind"] for a in alerts)
    check(kinds["deadline"] == 2 and kinds["repeat"] == 1 and
        kinds["match"] == 2, "replay raised 2 deadline, 1 repeat and 2 "
        "match alerts: %s" % dict(kinds))
    check_eq(live, rep, "live and replay alerts, deadlines included")


def test_check_rules_and_replay_against():
    """--check-rules accepts the shipped rules and names file:line:col for a
    broken copy; --replay --against prints the differences."""
    p = subprocess.run(misper.wrap([daemon_path(), "--check-rules",
        rules_path()]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check_eq(p.returncode, 0, "--check-rules on the default rules")
    check(b"rules OK" in p.stdout, "says rules OK")
    d = Daemon()
    bad = os.path.join(d.dir, "bad.yaml")
    write_rules(bad, open(rules_path()).read().replace(
        "review: 3", "review: 3\n      review: 4", 1))
    p = subprocess.run(misper.wrap([daemon_path(), "--check-rules", bad]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check_eq(p.returncode, 1, "--check-rules on a broken file")
    err = p.stderr.decode()
    check(err.startswith(bad + ":") and err.split(":")[1].isdigit(),
        "error starts with file:line: %r" % err[:200])
    other = os.path.join(d.dir, "other.yaml")
    write_rules(other, open(rules_path()).read().replace(
        "review: 3", "review: 4", 1))
    rc, diffs, err = replay(STREAM, "--rules", rules_path(), "--against",
        other)
    check_eq(rc, 0, "replay --against exit status")
    kinds = collections.Counter(x["diff"] for x in diffs)
    check(kinds["only_a"] + kinds["level"] > 0,
        "a higher repeat threshold raises fewer or lower alerts: %s" %
        dict(kinds))
    check("differences" in err, "summary on stderr")


if __name__ == "__main__":
    run([test_example_stream_alerts, test_replay_equals_live,
        test_brief_and_alert_fields, test_reload,
        test_deadline_wall_clock_and_restart, test_lived_equals_replayed,
        test_check_rules_and_replay_against], timeout=120)
