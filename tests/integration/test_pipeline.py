#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Pipelining (contract section 1): a client sends many lines without
waiting; the daemon answers every line with exactly one reply, in the
order sent."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Daemon, check, check_eq, step, note  # noqa: E402

N = 10000
if misper.wrapper():
    # under valgrind 10,000 events take minutes per test; 2,000 go through
    # the same code (pipelining, batching, duplicates) as often as matters
    N = 2000


def scaled_note():
    if N != 10000:
        note("%d events, scaled down from 10,000: the daemon runs under a "
            "wrapper (valgrind)" % N)


def run_pipeline(d, client, lines, label):
    ids = [json.loads(l)["id"] for l in lines]
    t0 = time.monotonic()
    replies = client.pipeline(lines, timeout=90)
    dt = time.monotonic() - t0
    note("%s: %d replies in %.2f s (%.0f events/s)" % (label, len(replies),
        dt, len(replies) / max(dt, 1e-9)))
    check_eq(len(replies), len(lines), "%s: one reply per line" % label)
    got = [r.get("id") for r in replies]
    if got != ids:
        i = next(i for i, (a, b) in enumerate(zip(got, ids)) if a != b)
        check(False, "%s: replies in send order" % label,
            "first difference at line %d: sent %s, reply for %s" % (
            i + 1, ids[i], got[i]))
    check(True, "%s: replies in send order (reply ids match)" % label)
    bad = [(i + 1, r) for i, r in enumerate(replies) if r.get("ok") is not True]
    check(not bad, "%s: every reply ok" % label, bad[:3])
    seqs = [r["seq"] for r in replies]
    check(all(a < b for a, b in zip(seqs, seqs[1:])),
        "%s: seq strictly increasing" % label)
    check(all(r.get("alerts") is not None for r in replies),
        "%s: every reply has alerts" % label)
    return replies


def test_pipeline_unix():
    """10,000 generated events (distinct ids) written on one Unix socket
    connection by a writer thread while the replies are read."""
    scaled_note()
    lines = misper.genstream("--seed", 11, "--events", N, "--no-duplicates")
    check_eq(len(lines), N, "genstream made %d lines" % N)
    d = Daemon().start()
    with d.unix(timeout=30) as c:
        replies = run_pipeline(d, c, lines, "unix")
    step("every event is in the events table with its reply's seq")
    seqs = d.event_seqs()
    check_eq(len(seqs), N, "%d rows" % N)
    check(all(seqs.get(r["id"]) == r["seq"] for r in replies),
        "seqs match the table")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_pipeline_tcp_with_duplicates():
    """10,000 generated events with the default ~0.5% exact duplicate lines
    and ~1% late events, on TCP: duplicates answer duplicate:true with the
    seq of their first copy."""
    scaled_note()
    lines = misper.genstream("--seed", 12, "--events", N)
    d = Daemon().start()
    first = {}
    with d.tcp(timeout=30) as c:
        ids = [json.loads(l)["id"] for l in lines]
        t0 = time.monotonic()
        replies = c.pipeline(lines, timeout=90)
        note("tcp: %d replies in %.2f s" % (len(replies),
            time.monotonic() - t0))
    check_eq(len(replies), N, "one reply per line")
    check_eq([r.get("id") for r in replies], ids, "replies in send order")
    check(all(r.get("ok") is True for r in replies), "every reply ok")
    dups = 0
    last = 0
    for r in replies:
        if r["id"] in first:
            dups += 1
            if not (r.get("duplicate") is True and r["seq"] == first[r["id"]]):
                check(False, "resent %s is a duplicate with seq %s" % (
                    r["id"], first[r["id"]]), r)
        else:
            if r.get("duplicate") or r["seq"] <= last:
                check(False, "first copy of %s is new with a higher seq" %
                    r["id"], r)
            first[r["id"]] = last = r["seq"]
    check(dups > 0, "the stream had %d duplicate lines, each answered as a "
        "duplicate with the original seq" % dups)
    check_eq(d.event_count(), len(first), "one row per distinct id")
    d.stop()


if __name__ == "__main__":
    misper.run([test_pipeline_unix, test_pipeline_tcp_with_duplicates],
        timeout=120)
