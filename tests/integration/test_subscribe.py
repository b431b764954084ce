# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Subscriber streams and acknowledgement (contract section 5,
docs/protocol.md "Subscriber streams"): subscribe, receive, acknowledge,
disconnect and resume, routes kept apart, a subscriber that never reads is
cut off while the daemon serves everyone else, and unacknowledged alerts
survive SIGKILL."""

import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import misper
from misper import Daemon, Events, Fail, check, check_eq, note, run, step

CONTRACT_FIELDS = ("alert", "seq", "raised_at", "event_at", "rule", "kind",
    "level", "previous_level", "child", "episode", "area", "routes",
    "summary", "evidence", "score", "rules_version")


# ---- helpers ----

class Recent(Events):
    """Events a second apart from two hours ago: recent enough that no
    deadline rule falls due during the test and adds alerts."""

    def __init__(self, prefix):
        Events.__init__(self, prefix, misper.fmt_time(int(time.time()) -
            7200))

    def at(self, minutes=None):
        self.t += 1
        return misper.fmt_time(self.t)


def subscribe(c, routes, name=None, after=None):
    cmd = {"cmd": "subscribe", "routes": routes}
    if name is not None:
        cmd["name"] = name
    if after is not None:
        cmd["after"] = after
    r = c.request(cmd)
    check(r.get("ok") is True and r.get("cmd") == "subscribe",
        "subscribed to %s" % ",".join(routes), r)
    check_eq(sorted(r["routes"]), sorted(set(routes)), "the reply names "
        "the routes")
    return r


def ack(c, alert, by="PS 1234 Smith", note_=None):
    cmd = {"cmd": "ack", "alert": alert, "by": by}
    if note_ is not None:
        cmd["note"] = note_
    return c.request(cmd)


def next_line(c, timeout=5.0):
    """The next line as an object, or None at end of input."""
    line = c.recv_line(timeout)
    return None if line is None else json.loads(line)


def alerts(c, n, timeout=10.0):
    """The next n alert lines (replies in between are an error)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        x = next_line(c, max(0.1, deadline - time.monotonic()))
        if x is None:
            raise Fail("the stream ended after %d of %d alerts" % (
                len(got), n))
        if "ok" in x:
            raise Fail("a reply where an alert was expected: %r" % x)
        got.append(x)
    return got


def nothing_more(c, wait=0.7):
    """True if no line arrives within wait seconds."""
    try:
        line = c.recv_line(wait)
    except Fail:
        return True
    raise Fail("unexpected line: %r" % (line[:200] if line else line))


def raise_repeat(d, ev, child, n=3):
    """n episode.reported for child (three raise repeat_3_in_90d review,
    five urgent); the ids of the alerts raised."""
    ids = []
    with d.unix() as c:
        for i in range(n):
            r = c.request(ev.reported("%s-E%d" % (child, i), child))
            check(r.get("ok") is True, "event accepted", r)
            ids += r["alerts"]
    return ids


def db_alerts(d, route=None, unacked=False):
    """(id, routes) of the alerts in the database, seq order."""
    sql = "SELECT id, body FROM alerts"
    if unacked:
        sql += " WHERE ack_at_ms IS NULL"
    rows = d.query(sql + " ORDER BY seq")
    out = [(i, json.loads(b)["routes"]) for i, b in rows]
    if route is not None:
        out = [x for x in out if route in x[1]]
    return [i for i, _ in out]


# ---- tests ----

def test_receive():
    """Subscribe to mpu and receive a repeat alert as it is raised.
    The line is exactly the contract alert object; Unix and TCP streams
    both get it."""
    d = Daemon().start()
    ev = Recent("rcv")
    step("subscribe to mpu on the Unix socket and over TCP")
    su = d.sub_unix()
    subscribe(su, ["mpu"], name="mpu-desk-1")
    st = d.sub_tcp()
    subscribe(st, ["mpu", "mpu"])
    check(nothing_more(su, 0.3), "no alert before any is raised")
    step("three episodes for one child raise repeat_3_in_90d")
    ids = raise_repeat(d, ev, "C-R1")
    check_eq(len(ids), 1, "one alert raised")
    for c, how in ((su, "unix"), (st, "tcp")):
        a = alerts(c, 1)[0]
        check_eq(a["alert"], ids[0], "%s stream: the alert arrives" % how)
        missing = [f for f in CONTRACT_FIELDS if f not in a]
        check(not missing, "%s stream: every contract field is there" % how,
            missing)
        check_eq(a["rule"], "repeat_3_in_90d", "the rule")
        check("mpu" in a["routes"], "routed to mpu", a["routes"])
        check_eq(a["seq"], int(ids[0][2:]), "seq matches the id")
    body = d.query("SELECT body FROM alerts WHERE id = ?", (ids[0],))[0][0]
    check_eq(json.loads(body), a, "the line is the stored alert object")
    check(nothing_more(su), "nothing more arrives")
    su.close()
    st.close()


def test_acknowledge():
    """Acknowledge: ok, again (already_acknowledged), unknown alert, bad
    fields, bad lines; the database records who, when and the note."""
    d = Daemon().start()
    ev = Recent("ack")
    ids = raise_repeat(d, ev, "C-A1")
    c = d.sub_unix()
    step("ack without subscribing first")
    t0 = int(time.time() * 1000)
    r = ack(c, ids[0], note_="strategy meeting booked")
    check(r.get("ok") is True and r.get("cmd") == "ack", "ack is ok", r)
    check_eq(r["alert"], ids[0], "the reply names the alert")
    check("acknowledged_at" in r, "the reply says when", r)
    step("ack it again")
    r2 = ack(c, ids[0], by="DS 99 Jones")
    check_eq((r2["ok"], r2.get("cmd"), r2.get("error")),
        (False, "ack", "already_acknowledged"), "already_acknowledged")
    check("PS 1234 Smith" in r2["message"] and r["acknowledged_at"] in
        r2["message"], "the message says by whom and when", r2["message"])
    step("ack an alert that does not exist")
    r3 = ack(c, "A-999999")
    check_eq((r3["ok"], r3.get("error"), r3.get("alert")),
        (False, "unknown_alert", "A-999999"), "unknown_alert")
    step("bad acknowledgements change nothing")
    for cmd, err, field in (
            ({"cmd": "ack", "alert": ids[0]}, "missing_field", "by"),
            ({"cmd": "ack", "alert": ids[0], "by": ""}, "bad_field", "by"),
            ({"cmd": "ack", "alert": ids[0], "by": "x" * 129}, "bad_field",
                "by"),
            ({"cmd": "ack", "alert": ids[0], "by": "a",
                "note": "n" * 1025}, "bad_field", "note"),
            ({"cmd": "ack", "by": "a"}, "missing_field", "alert")):
        r = c.request(cmd)
        check_eq((r["ok"], r.get("error"), r.get("field")),
            (False, err, field), "%s %s" % (err, field))
    step("bad lines")
    for line, err in (("not json", "bad_json"), ("[1]", "bad_json"),
            ('{"x":1}', "bad_command"), ('{"cmd":"dance"}', "bad_command"),
            ('{"cmd":"subscribe","routes":["nowhere"]}', "unknown_route"),
            ('{"cmd":"subscribe","routes":[]}', "bad_field")):
        r = c.request(line)
        check_eq((r["ok"], r.get("error")), (False, err), "%s: %s" % (
            line, err))
        check("message" in r, "with a message")
    step("the database records the acknowledgement")
    by, at, nt = d.query("SELECT ack_by, ack_at_ms, ack_note FROM alerts "
        "WHERE id = ?", (ids[0],))[0]
    check_eq((by, nt), ("PS 1234 Smith", "strategy meeting booked"),
        "ack_by and ack_note")
    check(t0 - 1000 <= at <= int(time.time() * 1000) + 1000,
        "ack_at_ms is now", at)
    rows = d.query("SELECT a.id, k.ack_by, k.via FROM acks k JOIN alerts a "
        "ON a.seq = k.alert_seq")
    check_eq(len(rows), 1, "one audit row")
    check(rows[0][2].startswith("stream:"), "audit says by which channel",
        rows[0][2])
    c.close()


def test_resume():
    """Disconnect and reconnect: unacknowledged alerts come again, the
    acknowledged do not, those raised while away arrive; "after" skips
    what the client has."""
    d = Daemon().start()
    ev = Recent("res")
    c = d.sub_unix()
    subscribe(c, ["social_care"], name="sc")
    a1 = raise_repeat(d, ev, "C-S1")[0]
    a2 = raise_repeat(d, ev, "C-S2")[0]
    got = [a["alert"] for a in alerts(c, 2)]
    check_eq(got, [a1, a2], "both alerts, in order")
    r = ack(c, a1, by="Co-ordinator Lee")
    check(r["ok"], "first acknowledged", r)
    step("disconnect; an alert is raised while away")
    c.close()
    a3 = raise_repeat(d, ev, "C-S3")[0]
    step("reconnect and subscribe again")
    c = d.sub_unix()
    subscribe(c, ["social_care"], name="sc")
    got = [a["alert"] for a in alerts(c, 2)]
    check_eq(got, [a2, a3], "the unacknowledged one and the new one, not "
        "the acknowledged one")
    check(nothing_more(c), "nothing else")
    step("live again: a new alert arrives once")
    a4 = raise_repeat(d, ev, "C-S4")[0]
    check_eq(alerts(c, 1)[0]["alert"], a4, "the new alert")
    check(nothing_more(c), "and only once")
    c.close()
    step("subscribe with after: the seq of the last alert the client has")
    c = d.sub_unix()
    subscribe(c, ["social_care"], after=int(a3[2:]))
    check_eq([a["alert"] for a in alerts(c, 1)], [a4], "only what is after")
    check(nothing_more(c), "nothing else")
    c.close()


def test_routes():
    """Two subscribers on different routes get only their routes'
    alerts; one subscription per connection."""
    d = Daemon().start()
    ev = Recent("rte")
    cse = d.sub_unix()
    subscribe(cse, ["cse_team"], name="cse")
    sc = d.sub_tcp()
    subscribe(sc, ["social_care", "placing_authority"], name="sc")
    r = sc.request({"cmd": "subscribe", "routes": ["mpu"]})
    check_eq((r["ok"], r.get("error")), (False, "already_subscribed"),
        "a second subscribe on a connection is refused")
    step("a repeat alert (mpu, social_care) and a return indicator alert "
        "(mpu, cse_team)")
    raise_repeat(d, ev, "C-T1")
    with d.unix() as c:
        r = c.request(ev.found("C-T1-E0", indicators=[
            "vehicle_unknown_adult"]))
        check(r["ok"] and r["alerts"], "the found event raised alerts", r)
    want_cse = db_alerts(d, "cse_team")
    want_sc = db_alerts(d, "social_care")
    check(want_cse and want_sc and not set(want_cse) & set(want_sc),
        "the two routes have different alerts", (want_cse, want_sc))
    got = [a["alert"] for a in alerts(cse, len(want_cse))]
    check_eq(got, want_cse, "cse_team subscriber: exactly its alerts")
    check(nothing_more(cse), "nothing else on cse_team")
    got = [a["alert"] for a in alerts(sc, len(want_sc))]
    check_eq(got, want_sc, "social_care subscriber: exactly its alerts")
    check(nothing_more(sc), "nothing else on social_care")


def test_slow_subscriber():
    """A subscriber that never reads while hundreds of alerts are raised
    is cut off (too_slow); the daemon's memory stays bounded, another
    subscriber gets every alert, the event socket keeps working, and the
    slow one catches up in full when it reconnects."""
    d = Daemon(subscribers={"max_buffer_bytes": 4096}).start()
    ev = Recent("slow")
    slow = d.sub_unix()
    subscribe(slow, ["mpu"], name="never-reads")
    fast = d.sub_tcp()
    subscribe(fast, ["mpu"], name="reads")
    seen = []
    stop = []

    def reader():
        try:
            while not stop:
                line = fast.recv_line(30)
                if line is None:
                    return
                seen.append(json.loads(line))
        except Exception as e:
            seen.append({"reader_error": str(e)})

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    rss0 = d.rss_kb()
    nchildren = 300
    step("raise %d alerts (%d children, five episodes each)" % (
        2 * nchildren, nchildren))
    events = []
    for k in range(nchildren):
        for i in range(5):
            events.append(ev.reported("SL%04d-E%d" % (k, i), "C-SL%04d" % k))
    # The events go in from another thread, so that the slow client's
    # stream is read as soon as the cut-off is logged, while the daemon
    # still holds its last line (it waits 10 s for it to be read).
    replies = []

    def sender():
        with d.unix() as c:
            replies.extend(c.pipeline(events, timeout=120))

    ts = threading.Thread(target=sender, daemon=True)
    ts.start()
    line = d.wait_log("cut off, too slow", timeout=120)
    check(line is not None, "the daemon logged the cut-off", line)
    note(line.split(": ", 1)[-1][:160])
    step("the slow client's stream ends with too_slow")
    last = None
    n = 0
    while True:
        x = next_line(slow, 15)
        if x is None:
            break
        last = x
        n += 1
    check(last is not None and last.get("error") == "too_slow",
        "the last line is the too_slow reason", last)
    note("it got %d lines before the cut" % (n - 1))
    ts.join(120)
    raised = [a for r in replies for a in r.get("alerts", [])]
    check_eq(len(raised), 2 * nchildren, "every alert raised")
    rss1 = d.rss_kb()
    if misper.sanitized():
        note("RSS %d -> %d kB; not checked: AddressSanitizer keeps freed "
            "memory in quarantine" % (rss0, rss1))
    else:
        check(rss1 - rss0 < 32 * 1024, "RSS stays bounded (%d -> %d kB)" % (
            rss0, rss1))
    step("the other subscriber got every alert, and the event socket works")
    deadline = time.monotonic() + 20
    while len(seen) < 2 * nchildren and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.append(1)
    got = [a.get("alert") for a in seen]
    diff = next((i for i, (x, y) in enumerate(zip(got, raised)) if x != y),
        None)
    check(got == raised, "every alert, in order, on the reading stream",
        "got %d lines; first difference at %r: %r, expected %r" % (
        len(got), diff, seen[diff] if diff is not None else None,
        raised[diff] if diff is not None else None))
    with d.unix() as c:
        r = c.request(ev.reported("SL-after", "C-SL-after"))
        check(r["ok"], "an event is still accepted", r)
    step("the slow one reconnects and catches up on all of them")
    slow.close()
    slow = d.sub_unix()
    subscribe(slow, ["mpu"], name="never-reads")
    got = [a["alert"] for a in alerts(slow, 2 * nchildren, timeout=30)]
    check(got == raised, "every unacknowledged alert, in order, not cut "
        "off", "got %d" % len(got))
    check(nothing_more(slow, 0.5), "nothing more")
    fast.close()
    slow.close()


def test_kill_and_limits():
    """SIGKILL the daemon: after a restart unacknowledged alerts are
    still there and acknowledged ones are not; max_subscribers refuses
    one too many; the socket file goes on SIGTERM."""
    d = Daemon(subscribers={"max_subscribers": 2}).start()
    ev = Recent("kill")
    a1 = raise_repeat(d, ev, "C-K1")[0]
    a2 = raise_repeat(d, ev, "C-K2")[0]
    with d.sub_unix() as c:
        check(ack(c, a1)["ok"], "first acknowledged")
    step("SIGKILL and restart")
    d.kill()
    d.start()
    c = d.sub_unix()
    subscribe(c, ["mpu"])
    check_eq([a["alert"] for a in alerts(c, 1)], [a2], "the unacknowledged "
        "alert, not the acknowledged one")
    r = ack(c, a1)
    check_eq(r.get("error"), "already_acknowledged", "the ack survived")
    step("a third connection over max_subscribers: 2")
    c2 = d.sub_tcp()
    c3 = d.sub_unix()
    r = c3.reply()
    check_eq((r["ok"], r.get("error")), (False, "unavailable"),
        "refused with unavailable")
    check(c3.recv_line(5) is None, "and closed")
    for x in (c, c2, c3):
        x.close()
    step("SIGTERM removes the socket file")
    check(os.path.exists(d.sub_sock), "the socket exists while running")
    check_eq(d.stop(), 0, "clean exit")
    check(not os.path.exists(d.sub_sock), "the socket file is gone")


if __name__ == "__main__":
    run([test_receive, test_acknowledge, test_resume, test_routes,
        (test_slow_subscriber, 240), test_kill_and_limits])
