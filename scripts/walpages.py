#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Which b-trees one event's commit writes: a measurement for schema work.

    scripts/walpages.py --socket EV.SOCK --db MISPERD.DB STREAM
        [--skip N] [--count N]

Sends lines skip .. skip+count of STREAM to a running misperd one at a
time, each after the reply to the one before (so that each is its own
batch and commit, as at a steady 1,000 events/s), and after each reply
reads the frames its commit appended to the database's WAL (misperd
writes a commit's frames before it replies).  At the end it names the
b-tree of each page (SQLite's dbstat table, read-only) and prints the
frames a commit wrote, on average, by b-tree: the pages an event costs
the disk, the WAL and the checkpoint.  Only reads the files; never writes
them.  Used for docs/performance.md (fourth round).
"""

import argparse
import collections
import socket
import sqlite3
import struct
import sys

WAL_HEADER = 32
FRAME_HEADER = 24


def wal_frames(path, page_size):
    """(salts, [(page, commit size)...]) of the WAL's valid frames: those
    carrying the header's salts, from the start."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, []
    if len(data) < WAL_HEADER:
        return None, []
    salts = struct.unpack(">II", data[16:24])
    out = []
    off = WAL_HEADER
    while off + FRAME_HEADER + page_size <= len(data):
        page, commit, s1, s2 = struct.unpack(">IIII", data[off:off + 16])
        if (s1, s2) != salts:
            break
        out.append((page, commit))
        off += FRAME_HEADER + page_size
    return salts, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stream")
    ap.add_argument("--socket", required=True, help="misperd's event socket")
    ap.add_argument("--db", required=True, help="misperd's database file")
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--count", type=int, default=400)
    a = ap.parse_args()

    con = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    wal = a.db + "-wal"
    with open(a.stream, "rb") as f:
        lines = [l for i, l in enumerate(f)
            if a.skip <= i < a.skip + a.count and l.strip()]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a.socket)
    replies = s.makefile("rb")
    salts, frames = wal_frames(wal, page_size)
    seen = len(frames)
    pages = collections.Counter()
    commits = events = 0
    for line in lines:
        s.sendall(line if line.endswith(b"\n") else line + b"\n")
        if not replies.readline():
            sys.exit("walpages: misperd closed the connection")
        events += 1
        now, frames = wal_frames(wal, page_size)
        # a WAL that started again since (new salts): its frames are new
        new = frames[seen:] if now == salts else frames
        salts, seen = now, len(frames)
        commits += any(c for _, c in new)
        for page, _ in new:
            pages[page] += 1
    s.close()
    owner = {p: n for n, p in con.execute("SELECT name, pageno FROM dbstat")}
    by = collections.Counter()
    for page, n in pages.items():
        by[owner.get(page, "(page freed or new since)")] += n
    total = sum(by.values())
    print("%d events, %d commits, %.1f frames a commit" % (events, commits,
        total / max(1, commits)))
    for name, n in by.most_common():
        print("%6.2f  %5.1f%%  %s" % (n / max(1, commits), 100.0 * n / total,
            name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
