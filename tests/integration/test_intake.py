#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Intake over both transports (contract sections 1 to 4): every event type
is accepted and stored, replies carry increasing seqs, resends are
duplicates with the original seq, a changed resend is a conflict, and the
shipped example stream is accepted line by line."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Daemon, Events, check, check_eq, step, note  # noqa: E402

TYPES = ["location.flagged", "episode.reported", "episode.updated",
    "episode.found", "interview.completed", "indicator.recorded",
    "plan.recorded", "episode.closed", "location.cleared"]


def check_ok(reply, event, what):
    check(reply.get("ok") is True, "%s: ok" % what, reply)
    check_eq(reply.get("id"), event["id"], "%s: id echoed" % what)
    check(isinstance(reply.get("seq"), int) and
        not isinstance(reply.get("seq"), bool), "%s: seq is an integer"
        % what, reply)
    check_eq(reply.get("alerts"), [], "%s: alerts is []" % what)
    check("duplicate" not in reply or reply["duplicate"] is False,
        "%s: not a duplicate" % what, reply)


def send_all_types(client, ev, episode, child, label, last_seq):
    events = ev.lifecycle(episode, child)
    check_eq([e["type"] for e in events], TYPES,
        "the lifecycle has all nine types")
    replies = []
    for e in events:
        r = client.request(e)
        check_ok(r, e, "%s %s" % (label, e["type"]))
        check(r["seq"] > last_seq, "%s %s: seq %s > previous %s" % (
            label, e["type"], r["seq"], last_seq))
        last_seq = r["seq"]
        if e["type"] == "episode.reported":
            b = r.get("brief")
            check(isinstance(b, dict), "%s episode.reported: reply has a "
                "brief object (contract section 3)" % label, r)
        replies.append(r)
    return events, replies, last_seq


def test_all_types_both_transports():
    """Every event type on the Unix socket, then again (new ids) on TCP.
    Each reply is ok with its id, an increasing seq and "alerts": []; every
    event is a row of the events table with the seq it was given."""
    d = Daemon().start()
    check(d.port is not None and d.port > 0, "the TCP port is logged",
        d.port)
    ev = Events("T-INTAKE")
    step("nine events, one of each type, on the Unix socket")
    with d.unix() as c:
        ev_u, rep_u, last = send_all_types(c, ev, "MP-2025-900001",
            "C-900001", "unix", 0)
    step("nine more with new ids, a new child and episode, on TCP")
    with d.tcp() as c:
        ev_t, rep_t, last = send_all_types(c, ev, "MP-2025-900002",
            "C-900002", "tcp", last)
    step("the events table holds all 18 with the seqs of the replies")
    seqs = d.event_seqs()
    check_eq(len(seqs), 18, "18 rows in events")
    for e, r in zip(ev_u + ev_t, rep_u + rep_t):
        if seqs.get(e["id"]) != r["seq"]:
            check(False, "row for %s has seq %s" % (e["id"], r["seq"]),
                "table has %r" % seqs.get(e["id"]))
    check(True, "every row has the seq its reply gave")
    rows = d.query("SELECT id, type FROM events")
    check_eq(sorted(t for _, t in rows), sorted(TYPES * 2),
        "types stored as sent")
    check_eq(d.stop(), 0, "SIGTERM: exit status 0")
    check(not d.port0_refused, "TCP port 0 accepted (listen.tcp "
        "127.0.0.1:0: the kernel picks the port and the daemon logs it)")


def test_duplicate_and_conflict():
    """A resend (same id, same content) is {"duplicate": true} with the
    original seq and changes nothing; the same id with different content
    is refused with "conflict"; both on either transport."""
    d = Daemon().start()
    ev = Events("T-DUP")
    evs = ev.lifecycle("MP-2025-900011", "C-900011")
    with d.unix() as c:
        first = [c.request(e) for e in evs]
    for e, r in zip(evs, first):
        check_ok(r, e, "first send of %s" % e["type"])
    n = d.event_count()
    step("resend every event on TCP")
    with d.tcp() as c:
        for e, r in zip(evs, first):
            r2 = c.request(e)
            check(r2.get("ok") is True and r2.get("duplicate") is True,
                "resent %s: ok and duplicate" % e["type"], r2)
            check_eq(r2.get("seq"), r["seq"], "resent %s: the original seq"
                % e["type"])
            check_eq(r2.get("id"), e["id"], "resent %s: id echoed"
                % e["type"])
    step("resend one with its keys in another order and other spacing")
    import json
    e = evs[1]
    text = json.dumps(dict(reversed(list(e.items()))), indent=None,
        separators=(" ,", " : "))
    with d.unix() as c:
        r = c.request(text)
    check(r.get("ok") is True and r.get("duplicate") is True,
        "same content, other text: duplicate", r)
    check_eq(r.get("seq"), first[1]["seq"], "  with the original seq")
    check_eq(d.event_count(), n, "no rows added by resends")
    step("the same id with different content")
    with d.unix() as c:
        for field, value in [("risk", "high"),
                ("at", "2025-03-01T00:00:01Z"), ("category", "absent")]:
            e = dict(evs[1])
            e[field] = value
            r = c.request(e)
            check(r.get("ok") is False, "changed %s: refused" % field, r)
            check_eq(r.get("error"), "conflict", "changed %s: error" % field)
            check_eq(r.get("id"), e["id"], "changed %s: id echoed" % field)
            check(isinstance(r.get("message"), str) and r["message"],
                "changed %s: a message" % field, r)
        step("and the connection still takes a new event")
        r = c.request(ev.indicator("C-900011"))
        check(r.get("ok") is True, "new event after a conflict: ok", r)
    check_eq(d.event_count(), n + 1, "conflicts stored nothing")
    body = d.query("SELECT body FROM events WHERE id = ?", (evs[1]["id"],))
    check('"high"' not in body[0][0], "the stored event is the first one")
    d.stop()


def test_seq_survives_restart():
    """After a clean restart, seqs go on increasing and a resend of an
    event from before the restart is still a duplicate."""
    d = Daemon().start()
    ev = Events("T-RESTART")
    evs = ev.lifecycle("MP-2025-900021", "C-900021")
    with d.unix() as c:
        first = [c.request(e) for e in evs]
    check(all(r.get("ok") for r in first), "nine events accepted")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")
    d.start()
    with d.tcp() as c:
        r = c.request(evs[3])
        check(r.get("duplicate") is True and r.get("seq") == first[3]["seq"],
            "after restart a resend is a duplicate with its seq", r)
        e = ev.found("MP-2025-900021")
        r = c.request(e)
        check(r.get("ok") is True and r["seq"] > first[-1]["seq"],
            "after restart a new event gets a higher seq", r)
    d.stop()


def test_example_stream():
    """The shipped examples/stream.ndjson sent whole, pipelined, on one
    connection: exactly one reply per line, in order, all ok."""
    path = os.path.join(misper.srcdir(), "examples", "stream.ndjson")
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    check(len(lines) >= 100, "the example has %d lines" % len(lines))
    import json
    ids = [json.loads(l)["id"] for l in lines]
    d = Daemon().start()
    with d.unix() as c:
        replies = c.pipeline(lines, timeout=60)
        check_eq(len(replies), len(lines), "one reply per line")
        bad = [(i + 1, r) for i, r in enumerate(replies) if not r.get("ok")]
        check(not bad, "every reply is ok", bad[:3])
        check_eq([r.get("id") for r in replies], ids, "replies in line order")
        seqs = [r["seq"] for r in replies if not r.get("duplicate")]
        check(all(a < b for a, b in zip(seqs, seqs[1:])),
            "seq strictly increasing")
        alerts = sum(len(r.get("alerts") or []) for r in replies)
        note("the example raised %d alerts with %s" % (alerts,
            misper.rules_path()))
    check_eq(d.event_count(), len(set(ids)), "one row per distinct id")
    d.stop()


if __name__ == "__main__":
    misper.run([test_all_types_both_transports, test_duplicate_and_conflict,
        test_seq_survives_restart, test_example_stream], timeout=60)
