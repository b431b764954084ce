# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""GET /v1/children/{id} (docs/api.md) on the live daemon with the shipped
rules: after a scripted history of three episodes over the last three
weeks, the child's view shows the brief as of now (counts, profile,
levels, scores with their parts, open alerts, pending deadlines, places of
concern), every episode with where it was found, every indicator with the
catalogue's words and its source, every alert with its acknowledgement,
and the timeline newest first within ?limit=; the brief part agrees with
the brief of an episode.reported reply; a bad id or limit gets 400, an
unknown child 404."""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from misper import (Daemon, Events, check, check_eq, fmt_time,  # noqa
    parse_time, run, step)

CHILD = "C-CH-1"
HOTSPOT = {"uprn": "100021900001", "postcode": "SE5 9ZZ",
    "address": "1 Test Road", "area": "southwark"}


def child(**kw):
    c = {"id": CHILD, "dob": "2010-06-15", "looked_after": False,
        "cp_plan": False, "area": "lambeth", "flags": []}
    c.update(kw)
    return c


def send(c, e):
    r = c.request(e)
    check(r.get("ok") is True, "%s %s accepted" % (e["type"], e["id"]), r)
    return r


def scripted(d):
    """Three episodes of CHILD: three weeks ago (found at a flagged place
    with an indicator), ten days later (graded low: an alert), and two
    hours ago (the third in 90 days: an alert; still missing), then an
    indicator an hour ago that takes the CSE score to 6.  Returns
    (events sent, by name; the replies of the reports)."""
    now = int(time.time())
    t0 = now - 20 * 86400
    ev = Events("CH")
    sent = {}
    replies = {}
    with d.unix() as c:
        sent["flag"] = ev.flagged(at=fmt_time(t0 - 86400),
            location=dict(HOTSPOT))
        sent["r1"] = ev.reported("MP-1", child(), at=fmt_time(t0),
            risk="medium", last_seen={"uprn": HOTSPOT["uprn"]})
        sent["f1"] = ev.found("MP-1", at=fmt_time(t0 + 7200),
            found={"uprn": HOTSPOT["uprn"]},
            indicators=["found_with_unknown_adults"])
        sent["i1"] = ev.interview("MP-1", CHILD, "return_home",
            at=fmt_time(t0 + 5 * 3600))
        sent["c1"] = ev.closed("MP-1", at=fmt_time(t0 + 6 * 3600))
        t1 = t0 + 10 * 86400
        sent["r2"] = ev.reported("MP-2", {"id": CHILD}, at=fmt_time(t1),
            category="absent", risk="low")
        sent["f2"] = ev.found("MP-2", at=fmt_time(t1 + 3 * 3600))
        sent["i2"] = ev.interview("MP-2", CHILD, "return_home",
            at=fmt_time(t1 + 4 * 3600))
        sent["c2"] = ev.closed("MP-2", at=fmt_time(t1 + 5 * 3600))
        sent["r3"] = ev.reported("MP-3", {"id": CHILD},
            at=fmt_time(now - 7200), risk="high")
        sent["ind"] = ev.indicator(CHILD,
            "older_partner_or_controlling_adult", at=fmt_time(now - 3600))
        order = ("flag", "r1", "f1", "i1", "c1", "r2", "f2", "i2", "c2",
            "r3", "ind")
        # In one write, so the daemon reads them together: one at a time, a
        # slow daemon (valgrind) could meet its deadline tick between MP-1's
        # report and its finding, and the overdue rule would fire for MP-1.
        c.send(*[sent[k] for k in order])
        for k in order:
            r = c.reply()
            check(r.get("ok") is True, "%s %s accepted" % (sent[k]["type"],
                sent[k]["id"]), r)
            replies[k] = r
    return sent, replies


def view(d, child_id=CHILD, query=""):
    status, headers, body = d.http_get("/v1/children/%s%s" % (
        urllib.parse.quote(child_id, safe=""), query))
    return status, headers, body


def test_brief_after_history():
    """The view after the scripted history: counts, profile, levels,
    scores, alerts (one acknowledged), deadlines, places, episodes,
    indicators and the timeline."""
    d = Daemon().start()
    sent, replies = scripted(d)
    alert_ids = [a for k in ("r2", "r3", "ind") for a in replies[k]["alerts"]]
    check_eq(len(alert_ids), 3, "three alerts raised by the history")

    step("acknowledge the first alert through a stream")
    with d.sub_unix() as s:
        r = s.request({"cmd": "ack", "alert": alert_ids[0],
            "by": "PS 1234 Smith", "note": "grade reviewed"})
        check(r.get("ok") is True, "acknowledged", r)

    status, headers, v = view(d)
    check_eq(status, 200, "GET /v1/children/%s: 200" % CHILD)
    check(headers.get("content-type", "").startswith("application/json"),
        "JSON")

    step("the brief, as of now")
    check_eq((v["child"], v["known"]), (CHILD, True), "child and known")
    check_eq(v["profile"], {"age": time.gmtime().tm_year - 2010 - (
        1 if time.strftime("%m-%d", time.gmtime()) < "06-15" else 0),
        "looked_after": False, "cp_plan": False, "area": "lambeth",
        "flags": []}, "profile (age now)")
    check_eq((v["prior_episodes_90d"], v["prior_episodes_365d"]), (3, 3),
        "three episodes in 90 and 365 days")
    check_eq(v["last_episode"], {"episode": "MP-3",
        "reported_at": sent["r3"]["at"]}, "the last episode is MP-3")
    check_eq(v["levels"], {"repeat_3_in_90d": "review",
        "cumulative_cse_score": "notify"}, "levels")
    score = [s for s in v["scores"] if s["rule"] == "cumulative_cse_score"]
    check_eq(len(score), 1, "the CSE score is there")
    check_eq(score[0]["score"], 6.0, "score 3 + 3")
    check_eq(sorted(p["indicator"] for p in score[0]["parts"]),
        ["found_with_unknown_adults", "older_partner_or_controlling_adult"],
        "its parts")
    rows = d.query("SELECT id, rule_id, level, episode_id, ack_by FROM alerts"
        " WHERE child_id = ? ORDER BY seq DESC", (CHILD,))
    check_eq([a["alert"] for a in v["open_alerts"]],
        [r[0] for r in rows if r[4] is None], "open alerts: the two "
        "unacknowledged, newest first")
    check_eq([(a["rule"], a["level"]) for a in v["open_alerts"]],
        [("cumulative_cse_score", "notify"), ("repeat_3_in_90d", "review")],
        "their rules and levels")
    dl = d.query("SELECT rule_id, episode_id, due_at_ms FROM deadlines"
        " WHERE child_id = ? AND status = 'pending' ORDER BY due_at_ms",
        (CHILD,))
    check_eq([(x["rule"], x["episode"]) for x in v["pending_deadlines"]],
        [(r[0], r[1]) for r in dl], "pending deadlines as in the store")
    overnight = [x for x in v["pending_deadlines"]
        if x["rule"] == "long_or_overnight_episode"]
    check_eq([(x["episode"], x["due"]) for x in overnight], [("MP-3",
        fmt_time(parse_time(sent["r3"]["at"]) + 86400))],
        "MP-3 still missing: due 24 h after its report")
    check("trigger_plan_overdue" in [x["rule"] for x in
        v["pending_deadlines"]], "the trigger plan deadline runs")
    check_eq(v["locations_of_concern"], [{"location": "uprn:" +
        HOTSPOT["uprn"], "address": HOTSPOT["address"],
        "postcode": HOTSPOT["postcode"], "reasons": ["exploitation_hotspot"]}],
        "the flagged place where the child was seen and found")

    step("episodes, newest first")
    eps = v["episodes"]
    check_eq([e["episode"] for e in eps], ["MP-3", "MP-2", "MP-1"],
        "three episodes, newest first")
    check_eq((eps[0]["category"], eps[0]["risk"], eps[0]["found"],
        eps[0]["found_at"], eps[0]["closed"]),
        ("missing", "high", None, None, False), "MP-3: missing, high, open")
    check_eq((eps[1]["category"], eps[1]["risk"], eps[1]["closed"]),
        ("absent", "low", True), "MP-2: absent, low, closed")
    check_eq(eps[1]["found"]["address"], "12 Stockwell Road",
        "MP-2 found at Stockwell Road")
    check_eq(eps[2]["found"], {"location": "uprn:" + HOTSPOT["uprn"],
        "address": HOTSPOT["address"], "postcode": HOTSPOT["postcode"],
        "flags": ["exploitation_hotspot"]}, "MP-1 found at the flagged place")
    check_eq((eps[2]["reported_at"], eps[2]["found_at"]),
        (sent["r1"]["at"], sent["f1"]["at"]), "MP-1's times")

    step("indicators, with the catalogue's words and the source")
    ind = v["indicators"]
    check_eq([(i["indicator"], i["event"], i["episode"], i["source"])
        for i in ind], [
        ("older_partner_or_controlling_adult", sent["ind"]["id"], None,
            "social-care"),
        ("found_with_unknown_adults", sent["f1"]["id"], "MP-1", None)],
        "two indicators, newest first")
    check_eq((ind[0]["label"], ind[0]["weight"], ind[0]["group"]),
        ("Older boyfriend or controlling adult", 3.0, "cse"),
        "label, weight and group from the rules")

    step("alerts, newest first, with the acknowledgement")
    check_eq([(a["alert"], a["rule"], a["level"], a["episode"])
        for a in v["alerts"]], [(r[0], r[1], r[2], r[3]) for r in rows],
        "every alert, as in the store")
    first = v["alerts"][-1]
    check_eq(first["rule"], "flagged_child_low_grade",
        "the oldest: flagged child graded low")
    check_eq((first["acknowledged"]["by"], first["acknowledged"]["note"]),
        ("PS 1234 Smith", "grade reviewed"), "acknowledged, by and note")
    check(first["acknowledged"]["at"].endswith("Z"), "with a time")
    check(all(a["acknowledged"] is None for a in v["alerts"][:-1]),
        "the others are not acknowledged")

    step("the timeline, newest first")
    tl = v["timeline"]
    child_events = [k for k in sent if k != "flag"]
    check_eq(len(tl), len(child_events), "every event of the child (the "
        "location's flag is not the child's)")
    check_eq([t["event"] for t in tl], [sent[k]["id"] for k in
        reversed(child_events)], "newest first")
    check_eq(tl[0]["summary"], "indicator older_partner_or_controlling_adult"
        " (social-care)", "the indicator's summary")
    check_eq(tl[1]["summary"], "missing, risk high (cad)",
        "the third report's summary")
    check_eq([t["seq"] for t in tl[:2]], [replies["ind"]["seq"],
        replies["r3"]["seq"]], "with their seqs")
    status, _, v3 = view(d, query="?limit=3")
    check_eq(status, 200, "?limit=3: 200")
    check_eq([t["event"] for t in v3["timeline"]],
        [t["event"] for t in tl[:3]], "?limit=3: the three newest")

    step("the reply's brief to a resend of the third report agrees")
    with d.unix() as c:
        r = c.request(sent["r3"])
    check(r.get("duplicate") is True, "a duplicate")
    b = r["brief"]
    for k in ("child", "known", "profile", "levels", "open_alerts",
            "pending_deadlines", "locations_of_concern"):
        check_eq(b[k], v[k], "brief.%s as in the view" % k)
    check_eq(b["prior_episodes_90d"], 2, "the reply does not count the "
        "episode it answers")
    check_eq([(s["rule"], s["score"]) for s in b["scores"]],
        [("cumulative_cse_score", 3.0)], "the reply's score is as of the "
        "report, before the later indicator")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_errors():
    """A malformed id, limit or method gets the API's JSON error; an
    unknown child 404 unknown_child; an id that needs percent-encoding
    works."""
    d = Daemon().start()
    ev = Events("CE")
    with d.unix() as c:
        send(c, ev.reported("MP-CE-1", "LA:C/42"))
    status, _, v = view(d, "LA:C/42")
    check_eq((status, v.get("child")), (200, "LA:C/42"),
        "an id with ':' and '/', percent-encoded: 200")
    status, _, v = view(d, "C-NOBODY")
    check_eq((status, v.get("error")), (404, "unknown_child"),
        "an unknown child: 404 unknown_child")
    check("C-NOBODY" in v.get("message", ""), "the message names the id",
        v)
    for bad in (" C-1", "x" * 129):
        status, _, v = view(d, bad)
        check_eq((status, v.get("error"), v.get("field")),
            (400, "bad_request", "id"), "id %r: 400 naming id" % bad[:12])
    for q in ("?limit=0", "?limit=5001", "?limit=ten", "?since=1"):
        status, _, v = view(d, "LA:C/42", q)
        check_eq((status, v.get("error")), (400, "bad_request"),
            "%s: 400" % q)
    status, _, v = view(d, "LA:C/42", "?limit=5000")
    check_eq(status, 200, "?limit=5000: 200")
    status, headers, v = d.http_post("/v1/children/C-1", {})
    check_eq((status, headers.get("allow")), (405, "GET"),
        "POST: 405 with Allow: GET")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


if __name__ == "__main__":
    run([test_brief_after_history, test_errors])
