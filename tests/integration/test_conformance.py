#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""JSONTestSuite as event input (shared/conformance/README.md): every file
of test_parsing, sent raw with a final LF, gets exactly one reply per
LF-terminated line it makes, each valid JSON and refused (no file is an
event); single-line n_* files answer bad_json; the daemon never dies or
hangs.  Skipped (77) when the suite is not beside the source tree."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Daemon, Events, Skip, check, check_eq, step, note  # noqa: E402,E501


def suite_dir():
    shared = os.environ.get("MISPER_SHARED") or os.path.join(
        misper.srcdir(), "..", "shared")
    d = os.path.join(shared, "conformance", "JSONTestSuite", "test_parsing")
    if not os.path.isdir(d):
        raise Skip("no JSONTestSuite at %s" % os.path.normpath(d))
    return d


def load_suite():
    """[(file name, [lines without LF])] in name order."""
    d = suite_dir()
    out = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read() + b"\n"
        lines = data.split(b"\n")[:-1]
        out.append((name, lines))
    return out


def test_suite_one_connection():
    """All files pipelined on one connection, a valid event after each
    file: one reply per line, in order, each valid JSON; the valid events
    are accepted, so the connection is never out of step."""
    files = load_suite()
    nlines = sum(len(l) for _, l in files)
    note("%d files, %d lines" % (len(files), nlines))
    d = Daemon().start()
    ev = Events("T-JTS")
    send, expect = [], []
    e0 = ev.reported("MP-2025-950001", "C-950001")
    send.append(e0)
    expect.append(("setup", 0, e0["id"]))
    for name, lines in files:
        for i, line in enumerate(lines):
            send.append(line)
            expect.append((name, i, None))
        e = ev.indicator("C-950001")
        send.append(e)
        expect.append(("after " + name, 0, e["id"]))
    t0 = time.monotonic()
    with d.unix(timeout=30) as c:
        replies = c.pipeline(send, timeout=60)
    note("%d replies in %.2f s" % (len(replies), time.monotonic() - t0))
    check_eq(len(replies), len(send), "one reply per line")
    bad = []
    for (name, i, valid_id), r in zip(expect, replies):
        if valid_id is not None:
            if r.get("ok") is not True or r.get("id") != valid_id:
                bad.append((name, "valid event not accepted", r))
            continue
        if r.get("ok") is not False:
            bad.append((name, i, "accepted", r))
            continue
        if not isinstance(r.get("error"), str) or not r.get("message"):
            bad.append((name, i, "no error/message", r))
            continue
        one_line = next(len(l) for n, l in files if n == name) == 1
        if name.startswith("n_") and one_line and \
                r["error"] not in ("bad_json", "line_too_long"):
            bad.append((name, i, "n_ file not bad_json", r))
    check(not bad, "every reply as expected", bad[:5])
    counts = {}
    for (name, i, valid_id), r in zip(expect, replies):
        if valid_id is None:
            counts[r.get("error")] = counts.get(r.get("error"), 0) + 1
    note("errors: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    check(d.alive(), "the daemon is alive")
    check_eq(d.event_count(), 1 + len(files), "only the valid events stored")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_suite_one_file_per_connection():
    """Each file on a connection of its own, half-closed after sending:
    the replies come, then the daemon closes the connection; the daemon
    is alive after every file."""
    files = load_suite()
    d = Daemon().start()
    t0 = time.monotonic()
    problems = []
    for name, lines in files:
        c = d.unix(timeout=10)
        try:
            c.send_raw(b"".join(l + b"\n" for l in lines))
            c.s.shutdown(__import__("socket").SHUT_WR)
            got = []
            while True:
                line = c.recv_line()
                if line is None:
                    break
                got.append(json.loads(line))
        except misper.Fail as e:
            problems.append((name, str(e)))
            continue
        finally:
            c.close()
        if len(got) != len(lines):
            problems.append((name, "%d replies for %d lines" % (len(got),
                len(lines))))
        elif any(r.get("ok") is not False for r in got):
            problems.append((name, "accepted", got))
        if not d.alive():
            problems.append((name, "the daemon died"))
            break
    note("%d files in %.2f s" % (len(files), time.monotonic() - t0))
    check(not problems, "every file: one refusal per line, connection "
        "closed at the end, daemon alive", problems[:5])
    check_eq(d.event_count(), 0, "nothing stored")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


if __name__ == "__main__":
    misper.run([test_suite_one_connection, test_suite_one_file_per_connection],
        timeout=90)
