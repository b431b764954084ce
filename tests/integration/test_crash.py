#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Crash safety (contract section 1, brief invariant 1): a reply "ok" is
written only after the event is committed durably.  The daemon is killed
with SIGKILL while replies are flowing; after a restart on the same
directory every acknowledged event is in the database, the database is
intact, and resending everything is safe: acknowledged events come back as
duplicates with the seq they were given, the rest are stored once."""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Daemon, Fail, check, check_eq, step, note  # noqa: E402

N = 12000
if misper.wrapper():
    # under valgrind 12,000 events per kill take many minutes; a quarter,
    # with the kill points scaled alike, goes through the same recovery
    N = 3000


def at(n):
    """Reply n of the full-size stream, scaled to this run's N."""
    if N != 12000:
        note("%d events, scaled down from 12,000 (kill points alike): the "
            "daemon runs under a wrapper (valgrind)" % N)
    return max(1, n * N // 12000)

# At most this many lines in flight, so that the daemon cannot have read
# the whole stream by the time the kill comes.
WINDOW = 1000
_stream = None


def stream():
    global _stream
    if _stream is None:
        _stream = misper.genstream("--seed", 21, "--events", N,
            "--no-duplicates")
    return _stream


def crash_at(kill_after):
    lines = stream()
    ids = [json.loads(l)["id"] for l in lines]
    check_eq(len(set(ids)), N, "%d distinct events" % N)
    d = Daemon().start()
    acked = {}
    killed = []

    def on_reply(i, r):
        if r.get("ok") is True:
            acked[r["id"]] = r["seq"]
        if i + 1 == kill_after and not killed:
            os.kill(d.pid, signal.SIGKILL)
            killed.append(time.monotonic())

    step("pipeline %d events; SIGKILL after reply %d" % (N, kill_after))
    with d.unix(timeout=30) as c:
        # the kill may cut a reply line short: not an acknowledgement
        c.partial_ok = True
        replies = c.pipeline(lines, timeout=90, on_reply=on_reply,
            window=WINDOW)
    check(killed, "the daemon was killed while replies were flowing (%d "
        "replies before the connection ended; daemon alive: %s)" % (
        len(replies), d.proc.poll() is None))
    d.proc.wait(10)
    check_eq(d.proc.returncode, -signal.SIGKILL, "it died of SIGKILL")
    check(len(replies) >= kill_after, "%d replies read before the "
        "connection closed (the kill came after %d)" % (len(replies),
        kill_after))
    check(len(replies) < N, "the kill cut the stream short")
    check(all(r.get("ok") is True for r in replies),
        "every reply received was ok")
    check_eq([r["id"] for r in replies], ids[:len(replies)],
        "replies in order up to the kill")

    step("restart on the same directory")
    d.start()
    check_eq(d.integrity(), "ok", "PRAGMA integrity_check")
    stored = d.event_seqs()
    missing = [i for i in acked if i not in stored]
    check(not missing, "all %d acknowledged events are stored" % len(acked),
        "missing %d, e.g. %s" % (len(missing), missing[:5]))
    wrong = [i for i in acked if stored.get(i) != acked[i]]
    check(not wrong, "each with the seq its reply gave", wrong[:5])
    extra = len(stored) - len(acked)
    note("%d events committed but not acknowledged before the kill "
        "(allowed: the client resends them)" % extra)
    check(0 <= extra, "no fewer rows than acknowledgements")
    stored_ids = set(stored)
    check(stored_ids <= set(ids), "nothing stored that was not sent")
    # Committed events are a prefix of the stream (commits are in order).
    prefix = set(ids[:len(stored)])
    check(stored_ids == prefix, "what is stored is a prefix of the stream")

    step("resend the whole stream")
    with d.unix(timeout=30) as c:
        again = c.pipeline(lines, timeout=90)
    check_eq(len(again), N, "one reply per line")
    check(all(r.get("ok") is True for r in again), "every reply ok",
        [r for r in again if not r.get("ok")][:3])
    check_eq([r["id"] for r in again], ids, "replies in order")
    bad = [r for r in again if r["id"] in stored and
        not (r.get("duplicate") is True and r["seq"] == stored[r["id"]])]
    check(not bad, "every event stored before the kill is a duplicate with "
        "its original seq", bad[:3])
    new = [r for r in again if r["id"] not in stored]
    check(all(not r.get("duplicate") for r in new),
        "the %d others are new" % len(new))
    top = max(stored.values()) if stored else 0
    check(all(r["seq"] > top for r in new), "new events get seqs above "
        "every earlier one")
    check(all(a["seq"] < b["seq"] for a, b in zip(new, new[1:])),
        "new seqs increase")
    check_eq(d.event_count(), N, "total rows == distinct events")
    check_eq(d.integrity(), "ok", "PRAGMA integrity_check after the resend")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_kill_early():
    """SIGKILL after the 300th reply."""
    crash_at(at(300))


def test_kill_middle():
    """SIGKILL after the 6,000th reply."""
    crash_at(at(6000))


def test_kill_late():
    """SIGKILL after the 10,500th reply."""
    crash_at(at(10500))


def test_kill_during_recovery_resend():
    """Kill twice: once while the stream is first sent, again while it is
    being resent after the restart; the third run still finds every
    acknowledged event once."""
    lines = stream()
    ids = [json.loads(l)["id"] for l in lines]
    d = Daemon().start()
    acked = {}
    for kill_after in (at(2500), at(8000)):
        killed = []

        def on_reply(i, r):
            if r.get("ok") is True:
                if r["id"] in acked and acked[r["id"]] != r["seq"]:
                    raise Fail("seq of %s changed: %s then %s" % (r["id"],
                        acked[r["id"]], r["seq"]))
                acked[r["id"]] = r["seq"]
            if i + 1 == kill_after and not killed:
                os.kill(d.pid, signal.SIGKILL)
                killed.append(1)

        step("send the stream, SIGKILL after reply %d" % kill_after)
        with d.unix(timeout=30) as c:
            c.partial_ok = True	# the kill may cut a reply short
            c.pipeline(lines, timeout=90, on_reply=on_reply, window=WINDOW)
        d.proc.wait(10)
        check(killed, "killed")
        d.start()
        check_eq(d.integrity(), "ok", "integrity after restart")
        stored = d.event_seqs()
        check(all(stored.get(i) == s for i, s in acked.items()),
            "all %d acknowledged events stored with their seqs" % len(acked))
    with d.unix(timeout=30) as c:
        again = c.pipeline(lines, timeout=90)
    check(all(r.get("ok") for r in again), "final resend all ok")
    check(all(acked.get(r["id"], r["seq"]) == r["seq"] for r in again),
        "acknowledged events keep their seqs")
    check_eq(d.event_count(), N, "total rows == distinct events")
    d.stop()


if __name__ == "__main__":
    misper.run([test_kill_early, test_kill_middle, test_kill_late,
        test_kill_during_recovery_resend], timeout=120)
