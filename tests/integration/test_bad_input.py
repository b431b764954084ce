#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Bad input (contract sections 1 and 3, brief invariant 6): every bad line
gets one error reply naming the error and the field, echoing the id when it
could be read; nothing is stored; the same connection goes on accepting
valid events; over-long lines are skipped to the next LF."""

import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Daemon, Events, check, check_eq, step  # noqa: E402

MAX_LINE = 1024
ANY = object()		# id: do not check
DEL = object()		# remove the field
NOFIELD = None		# field: absent, null or ""


def base(ev, **over):
    """A valid episode.reported as a dict, with fields overridden or (value
    DEL) removed."""
    e = ev.reported("MP-2025-910001", {"id": "C-910001", "dob": "2011-03-02",
        "looked_after": True, "cp_plan": False, "area": "croydon",
        "flags": ["known_cse_risk"]}, last_seen={"postcode": "CR0 1AA",
        "address": "12 High St", "area": "croydon"},
        indicators=["older_partner_or_controlling_adult"])
    for k, v in over.items():
        if k.startswith("child."):
            if v is DEL:
                del e["child"][k[6:]]
            else:
                e["child"][k[6:]] = v
        elif v is DEL:
            del e[k]
        else:
            e[k] = v
    return e


def cases(ev):
    """(description, line bytes, error, field, id) for every bad line."""
    out = []

    def add(desc, line, error, field, id_=ANY):
        if isinstance(line, dict):
            line = json.dumps(line).encode()
        elif isinstance(line, str):
            line = line.encode()
        out.append((desc, line, error, field, id_))

    def ev_(desc, error, field, echo=True, **over):
        e = base(ev, **over)
        add(desc, e, error, field, e.get("id") if echo else None)

    # not JSON at all
    add("truncated JSON", '{"id": "B-1", "type": "episode.reported", "at": ',
        "bad_json", NOFIELD, None)
    add("trailing garbage", '{"id": "B-2"} x', "bad_json", NOFIELD, None)
    add("single quotes", "{'id': 'B-3'}", "bad_json", NOFIELD, None)
    add("empty line", b"", "bad_json", NOFIELD, None)
    add("spaces only", b"   \t ", "bad_json", NOFIELD, None)
    add("an array", b'[{"id": "B-4"}]', "bad_json", NOFIELD, None)
    add("a string", b'"episode.reported"', "bad_json", NOFIELD, None)
    add("null", b"null", "bad_json", NOFIELD, None)
    add("a number", b"42", "bad_json", NOFIELD, None)
    add("NaN", b'{"id": "B-5", "v": NaN}', "bad_json", NOFIELD, None)
    add("duplicate key", b'{"id": "B-6", "id": "B-7"}', "bad_json", NOFIELD,
        None)
    add("invalid UTF-8 in a string",
        b'{"id": "B-8", "type": "episode.reported", "note": "caf\xc3\x28"}',
        "bad_json", NOFIELD, None)
    add("a raw NUL byte inside a string",
        b'{"id": "B-9\x00", "type": "episode.reported"}', "bad_json",
        NOFIELD, None)
    add("raw control character in a string",
        b'{"id": "B-10\x01", "type": "episode.reported"}', "bad_json",
        NOFIELD, None)
    rnd = random.Random(20261122)
    for i in range(6):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
        junk = junk.replace(b"\n", b"\x00")
        if i == 0:
            junk = b"\x00\xff\xfe\x00" + junk
        if i == 1:
            junk = b"\xff" * 64
        add("binary garbage %d (%d bytes)" % (i + 1, len(junk)), junk,
            "bad_json", NOFIELD, None)

    # the envelope
    ev_("missing id", "missing_field", "id", echo=False, id=DEL)
    ev_("missing type", "missing_field", "type", type=DEL)
    ev_("missing at", "missing_field", "at", at=DEL)
    ev_("id is a number", "bad_field", "id", echo=False, id=5)
    ev_("id is empty", "bad_field", "id", echo=False, id="")
    ev_("id of 129 characters", "bad_field", "id", echo=False, id="X" * 129)
    ev_("id with a control character", "bad_field", "id", echo=False,
        id="B-\u0001")
    ev_("type is a number", "bad_field", "type", type=7)
    ev_("unknown type", "unknown_type", "type", type="episode.deleted")
    ev_("type in capitals", "unknown_type", "type", type="EPISODE.REPORTED")
    ev_("at is a number", "bad_field", "at", at=1740823200)
    ev_("at is not a time", "bad_field", "at", at="yesterday")
    ev_("at without an offset", "bad_field", "at", at="2025-03-01T10:00:00")
    ev_("at on 30 February", "bad_field", "at", at="2025-02-30T10:00:00Z")
    ev_("at at hour 25", "bad_field", "at", at="2025-03-01T25:00:00Z")
    ev_("at as a date only", "bad_field", "at", at="2025-03-01")
    ev_("source is a number", "bad_field", "source", source=3)

    # episode.reported's fields
    ev_("missing episode", "missing_field", "episode", episode=DEL)
    ev_("missing child", "missing_field", "child", child=DEL)
    ev_("missing category", "missing_field", "category", category=DEL)
    ev_("missing child.id", "missing_field", "child.id", **{"child.id": DEL})
    ev_("episode is a number", "bad_field", "episode", episode=123)
    ev_("child is a string", "bad_field", "child", child="C-910001")
    ev_("child.looked_after is a string", "bad_field", "child.looked_after",
        **{"child.looked_after": "yes"})
    ev_("child.flags is a string", "bad_field", "child.flags",
        **{"child.flags": "known_cse_risk"})
    ev_("child.dob 2011-13-40", "bad_field", "child.dob",
        **{"child.dob": "2011-13-40"})
    ev_("child.dob a number", "bad_field", "child.dob",
        **{"child.dob": 20110302})
    ev_("child.dob 2011-02-29 (not a leap year)", "bad_field", "child.dob",
        **{"child.dob": "2011-02-29"})
    ev_("risk extreme", "bad_field", "risk", risk="extreme")
    ev_("risk a number", "bad_field", "risk", risk=3)
    ev_("category lost", "bad_field", "category", category="lost")
    ev_("indicators a string", "bad_field", "indicators",
        indicators="substance_misuse")
    ev_("last_seen a string", "bad_field", "last_seen", last_seen="home")
    ev_("last_seen with no uprn, postcode or address", "bad_field",
        "last_seen", last_seen={"area": "croydon"})
    ev_("last_seen.uprn a number", "bad_field", "last_seen.uprn",
        last_seen={"uprn": 100021234567})
    ev_("unknown indicator", "unknown_indicator", "indicators[0]",
        indicators=["made_up_indicator"])
    ev_("unknown indicator second", "unknown_indicator", "indicators[1]",
        indicators=["substance_misuse", "not_in_the_catalogue"])

    # other types
    def other(desc, error, field, e):
        add(desc, e, error, field, e.get("id"))

    other("episode.updated of an unknown episode, no child",
        "unknown_episode", "episode", ev.updated("MP-2099-999999",
        risk="high"))
    other("episode.found of an unknown episode, no child", "unknown_episode",
        "episode", ev.found("MP-2099-999998"))
    other("episode.closed of an unknown episode, no child",
        "unknown_episode", "episode", ev.closed("MP-2099-999997"))
    e = ev.found("MP-2025-910001")
    del e["found"]
    other("episode.found without found", "missing_field", "found", e)
    other("found.out_of_area a string", "bad_field", "found.out_of_area",
        ev.found("MP-2025-910001", found={"postcode": "SS1 1AA",
        "address": "1 Pier Hill", "out_of_area": "yes"}))
    other("found.with a string", "bad_field", "found.with",
        ev.found("MP-2025-910001", found={"postcode": "SS1 1AA",
        "address": "1 Pier Hill", "with": "P-1"}))
    e = ev.interview("MP-2025-910001", "C-910001")
    del e["kind"]
    other("interview.completed without kind", "missing_field", "kind", e)
    other("interview kind chat", "bad_field", "kind",
        ev.interview("MP-2025-910001", "C-910001", kind="chat"))
    e = ev.interview("MP-2025-910001", "C-910001")
    del e["child"], e["episode"]
    other("interview.completed with neither child nor episode",
        "missing_field", "child", e)
    other("indicator.recorded of an unknown indicator", "unknown_indicator",
        "indicator", ev.indicator("C-910001", "not_an_indicator"))
    e = ev.indicator("C-910001")
    del e["indicator"]
    other("indicator.recorded without indicator", "missing_field",
        "indicator", e)
    e = ev.indicator("C-910001")
    del e["child"]
    other("indicator.recorded without child", "missing_field", "child", e)
    other("plan party", "bad_field", "plan", ev.plan("C-910001", "party"))
    e = ev.plan("C-910001")
    del e["plan"]
    other("plan.recorded without plan", "missing_field", "plan", e)
    e = ev.flagged()
    del e["reason"]
    other("location.flagged without reason", "missing_field", "reason", e)
    e = ev.flagged()
    del e["location"]
    other("location.flagged without location", "missing_field", "location",
        e)
    other("location.cleared with an empty location", "bad_field", "location",
        ev.cleared(location={}))
    return out


def check_error(r, desc, error, field, id_):
    check(r.get("ok") is False, "%s: ok is false" % desc, r)
    check_eq(r.get("error"), error, "%s: error" % desc)
    if field is NOFIELD:
        check(r.get("field") in (None, ""), "%s: no field" % desc, r)
    else:
        check_eq(r.get("field"), field, "%s: field" % desc)
    if id_ is not ANY:
        check_eq(r.get("id"), id_, "%s: id" % desc)
    else:
        check("id" in r, "%s: id present (null or the id)" % desc, r)
    check(isinstance(r.get("message"), str) and len(r["message"]) > 10,
        "%s: a message" % desc, r)


def test_bad_lines():
    """Each bad line, then a valid event on the same connection: one error
    reply with the right error, field and id, then ok; no row is stored for
    a bad line."""
    d = Daemon(limits={"max_line_bytes": MAX_LINE}).start()
    ev = Events("T-BAD")
    good = 0
    with d.unix() as c:
        step("set up a known child and episode for the later cases")
        r = c.request(base(ev))
        check(r.get("ok") is True, "a valid episode.reported is accepted", r)
        good += 1
        for desc, line, error, field, id_ in cases(ev):
            step(desc)
            c.send(line)
            check_error(c.reply(), desc, error, field, id_)
            e = ev.indicator("C-910001", "substance_misuse")
            r = c.request(e)
            check(r.get("ok") is True and r.get("id") == e["id"],
                "%s: the connection still accepts a valid event" % desc, r)
            good += 1
    check_eq(d.event_count(), good, "only the valid events were stored")
    step("the bad ids were not stored")
    ids = set(d.event_seqs())
    check(not any(i.startswith("B-") for i in ids), "no B-* id stored")
    check(d.alive(), "the daemon is still running")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_bad_lines_pipelined():
    """The same bad lines, all pipelined in one write with valid events
    between them: one reply per line, in order."""
    d = Daemon(limits={"max_line_bytes": MAX_LINE}).start()
    ev = Events("T-BADP")
    lines, want = [base(ev)], [("setup", None, None, None, None)]
    for cs in cases(ev):
        lines.append(cs[1])
        want.append(cs)
        e = ev.indicator("C-910001")
        lines.append(e)
        want.append(("valid", None, None, None, e["id"]))
    with d.tcp() as c:
        replies = c.pipeline(lines, timeout=60)
    check_eq(len(replies), len(lines), "one reply per line")
    for (desc, line, error, field, id_), r in zip(want, replies):
        if error is None:
            if not r.get("ok"):
                check(False, "valid event after %r accepted" % desc, r)
        else:
            if r.get("ok") is not False or r.get("error") != error:
                check(False, "%s: %s" % (desc, error), r)
    check(True, "every reply as expected, in order")
    check_eq(d.event_count(), 1 + len(cases(ev)), "only valid events stored")
    d.stop()


def test_line_too_long():
    """With limits.max_line_bytes 1024: a longer line is answered
    line_too_long with id null and skipped to the next LF (even a 4 MB one
    sent in pieces); the connection stays usable; a line under the limit is
    accepted."""
    d = Daemon(limits={"max_line_bytes": MAX_LINE}).start()
    ev = Events("T-LONG")
    with d.unix() as c:
        r = c.request(ev.reported("MP-2025-920001", "C-920001"))
        check(r.get("ok") is True, "setup event accepted", r)
        step("a valid event padded to ~900 bytes (under the limit)")
        e = ev.updated("MP-2025-920001", note="n" * 800)
        line = json.dumps(e).encode()
        check(len(line) < MAX_LINE, "line is %d bytes" % len(line))
        r = c.request(line)
        check(r.get("ok") is True, "accepted", r)
        for size in (MAX_LINE * 2, 5000, 200000):
            step("a valid-looking event of %d bytes" % size)
            e = ev.updated("MP-2025-920001", note="")
            e["note"] = "x" * (size - len(json.dumps(e)))
            line = json.dumps(e).encode()
            c.send(line)
            r = c.reply()
            check_error(r, "%d-byte line" % len(line), "line_too_long",
                NOFIELD, None)
            e2 = ev.indicator("C-920001")
            r = c.request(e2)
            check(r.get("ok") is True and r["id"] == e2["id"],
                "the next line is a fresh event, accepted", r)
        step("4 MB of garbage without LF, in 64 KB writes, then LF")
        chunk = b"y" * 65536
        for _ in range(64):
            c.send_raw(chunk)
        c.send_raw(b"\n")
        check_error(c.reply(timeout=30), "4 MB line", "line_too_long",
            NOFIELD, None)
        check_eq(c.pending(), 0, "exactly one reply for it")
        e2 = ev.indicator("C-920001")
        r = c.request(e2)
        check(r.get("ok") is True and r["id"] == e2["id"],
            "the connection still works", r)
        step("two long lines and a good one in a single write")
        e3 = ev.indicator("C-920001")
        c.send_raw(b"z" * 3000 + b"\n" + b"{" * 2000 + b"\n" +
            json.dumps(e3).encode() + b"\n")
        check_error(c.reply(), "first long line", "line_too_long", NOFIELD,
            None)
        check_error(c.reply(), "second long line", "line_too_long", NOFIELD,
            None)
        r = c.reply()
        check(r.get("ok") is True and r.get("id") == e3["id"],
            "then the good one", r)
    check_eq(d.event_count(), 7, "only the seven valid events stored")
    d.stop()


def test_framing():
    """Framing details: CRLF is accepted as LF, two events in one write and
    one event split over many writes both work, and a final line without LF
    is answered when the client half-closes."""
    d = Daemon().start()
    ev = Events("T-FRAME")
    with d.tcp() as c:
        e = ev.reported("MP-2025-930001", "C-930001")
        c.send_raw(json.dumps(e).encode() + b"\r\n")
        r = c.reply()
        check(r.get("ok") is True and r.get("id") == e["id"],
            "CRLF-terminated line accepted", r)
        e1, e2 = ev.indicator("C-930001"), ev.plan("C-930001")
        c.send_raw(json.dumps(e1).encode() + b"\n" + json.dumps(e2).encode() +
            b"\n")
        r1, r2 = c.reply(), c.reply()
        check(r1.get("id") == e1["id"] and r2.get("id") == e2["id"] and
            r1.get("ok") and r2.get("ok"), "two lines in one write", (r1, r2))
        e3 = ev.indicator("C-930001", "substance_misuse")
        data = json.dumps(e3).encode() + b"\n"
        import time
        for i in range(0, len(data), 7):
            c.send_raw(data[i:i + 7])
            time.sleep(0.002)
        r = c.reply()
        check(r.get("ok") is True and r.get("id") == e3["id"],
            "one line in 7-byte pieces", r)
        e4 = ev.indicator("C-930001", "self_harm_suicidal")
        c.send_raw(json.dumps(e4).encode())
        c.s.shutdown(__import__("socket").SHUT_WR)
        line = c.recv_line()
        if line is None:
            misper.note("no reply for a final line without LF before EOF "
                "(the contract frames lines by LF; not required)")
        else:
            r = json.loads(line)
            check(r.get("id") == e4["id"], "final line without LF answered "
                "at EOF", r)
    d.stop()


if __name__ == "__main__":
    misper.run([test_bad_lines, test_bad_lines_pipelined, test_line_too_long,
        test_framing], timeout=60)
