#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""The daemon's life and limits: orderly SIGTERM (exit 0, replies due are
delivered, socket removed), SIGHUP, the connection limit, the idle timeout,
bounded memory under a client that never reads (backpressure), file modes,
and a start with no configuration at all."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Daemon, Events, Fail, Skip, check, check_eq, step, note  # noqa: E402,E501


def test_sigterm_with_client_connected():
    """SIGTERM while a client is connected and idle: the daemon closes the
    connection, exits 0 and removes its socket file."""
    d = Daemon(limits={"shutdown_grace": "2s"}).start()
    ev = Events("T-TERM")
    c = d.unix()
    r = c.request(ev.reported("MP-2025-940001", "C-940001"))
    check(r.get("ok") is True, "an event accepted", r)
    t = d.tcp()
    r = t.request(ev.indicator("C-940001"))
    check(r.get("ok") is True, "an event accepted on TCP too", r)
    check(os.path.exists(d.sock), "socket file exists while running")
    step("SIGTERM")
    t0 = time.monotonic()
    rc = d.stop(timeout=15)
    check_eq(rc, 0, "exit status 0")
    note("exited %.2f s after SIGTERM" % (time.monotonic() - t0))
    check(c.closed_by_peer(2), "the Unix client saw the connection closed")
    check(t.closed_by_peer(2), "the TCP client saw the connection closed")
    check(not os.path.exists(d.sock), "socket file removed")
    check(os.path.exists(d.db_path), "database file kept")
    check_eq(d.integrity(), "ok", "database intact")
    check_eq(d.event_count(), 2, "both events stored")
    c.close()
    t.close()


def test_sigterm_delivers_due_replies():
    """A client pipelines 3,000 events and SIGTERM comes right after the
    first reply: every line the daemon read is answered before it closes
    (whole lines, in order, all ok), exactly the answered events are
    stored, and the daemon exits 0."""
    lines = misper.genstream("--seed", 31, "--events", 3000,
        "--no-duplicates")
    ids = [json.loads(l)["id"] for l in lines]
    d = Daemon().start()
    sent = []

    def on_reply(i, r):
        if i == 0:
            d.signal(signal.SIGTERM)
            sent.append(time.monotonic())

    with d.unix(timeout=20) as c:
        replies = c.pipeline(lines, timeout=60, on_reply=on_reply)
    check(sent, "SIGTERM sent after the first reply")
    rc = d.proc.wait(20)
    check_eq(rc, 0, "exit status 0")
    note("%d of %d lines answered before the daemon closed" % (len(replies),
        len(lines)))
    check(len(replies) >= 1, "at least the first reply")
    check_eq([r.get("id") for r in replies], ids[:len(replies)],
        "replies are the stream's first lines, in order")
    check(all(r.get("ok") is True for r in replies), "all ok")
    stored = set(d.event_seqs())
    answered = set(r["id"] for r in replies)
    check(answered <= stored, "every answered event is stored")
    check(stored == answered, "no event stored without its reply being "
        "delivered (replies due are flushed before close)",
        "%d stored, %d answered" % (len(stored), len(answered)))
    check(not os.path.exists(d.sock), "socket file removed")


def test_sighup():
    """SIGHUP: the daemon logs a line naming SIGHUP and keeps serving."""
    d = Daemon().start()
    ev = Events("T-HUP")
    with d.unix() as c:
        r = c.request(ev.reported("MP-2025-941001", "C-941001"))
        check(r.get("ok") is True, "event before SIGHUP ok", r)
        off = d.log_size()
        d.signal(signal.SIGHUP)
        line = d.wait_log("SIGHUP", timeout=5, offset=off)
        check(line is not None, "a log line mentions SIGHUP", line)
        note(line.strip())
        check(d.alive(), "still running")
        r = c.request(ev.indicator("C-941001"))
        check(r.get("ok") is True, "the open connection still served", r)
    with d.tcp() as c:
        r = c.request(ev.plan("C-941001", "trigger_plan"))
        check(r.get("ok") is True, "a new connection served", r)
    step("SIGHUP reloads the rules, not the configuration file")
    with open(d.conf, "a") as f:
        f.write("limits:\n  max_connections: 0\n")   # would be refused
    off = d.log_size()
    d.signal(signal.SIGHUP)
    line = d.wait_log("rules: reloaded:", timeout=30, offset=off)
    check(line is not None, "the rules reloaded", d.log_tail())
    check(not any("max_connections" in m or "misperd.yaml" in m
        for _, _, _, m in d.log_records(off)),
        "nothing from the (now invalid) configuration file", d.log_tail())
    check(d.alive(), "still running")
    d.write_config()
    step("SIGHUP twice more in quick succession")
    d.signal(signal.SIGHUP)
    d.signal(signal.SIGHUP)
    time.sleep(0.5)
    with d.unix() as c:
        r = c.request(ev.indicator("C-941001", "substance_misuse"))
        check(r.get("ok") is True, "still serving", r)
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_route_not_declared():
    """A configured route that the rules file does not declare under
    routes: draws one warning at start (a typo?); a declared one does
    not."""
    d = Daemon(extra="routes:\n  mpu: ~\n  mpuu: ~\n").start()
    want = ("route mpuu is configured but the rules file does not declare "
        "it under routes: (a typo?)")
    line = d.wait_log(want, timeout=30)
    check(line is not None, "warned about mpuu", d.log_tail())
    note(line.strip())
    check(not any(m.startswith("route mpu ") and "configured" in m
        for _, _, _, m in d.log_records()), "no warning about mpu, which "
        "the rules declare", d.log_tail())
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_max_connections():
    """limits.max_connections 4: the 5th connection gets one error line
    ("ok": false, "error": "unavailable") and is closed, while the four
    others keep working; once one closes, a new connection is served."""
    d = Daemon(limits={"max_connections": 4}).start()
    ev = Events("T-MAXC")
    conns = [d.unix(), d.tcp(), d.unix(), d.tcp()]
    e = ev.reported("MP-2025-942001", "C-942001")
    for i, c in enumerate(conns):
        r = c.request(e if i == 0 else ev.indicator("C-942001"))
        check(r.get("ok") is True, "connection %d served" % (i + 1), r)
    for which in ("unix", "tcp"):
        step("a 5th connection (%s)" % which)
        c5 = d.unix() if which == "unix" else d.tcp()
        line = c5.recv_line(timeout=5)
        check(line is not None, "it gets a line")
        r = json.loads(line)
        check(r.get("ok") is False and r.get("error") == "unavailable",
            "the line is an \"unavailable\" error", r)
        check(isinstance(r.get("message"), str) and r["message"],
            "with a message", r)
        check(c5.closed_by_peer(3), "and the connection is closed")
        c5.close()
    for i, c in enumerate(conns):
        r = c.request(ev.indicator("C-942001"))
        check(r.get("ok") is True, "connection %d still served" % (i + 1), r)
    step("close one; a new connection is then served")
    conns.pop().close()
    deadline = time.monotonic() + 5
    while True:
        c6 = d.unix()
        line = None
        try:
            c6.send(ev.indicator("C-942001"))
            line = c6.recv_line(timeout=3)
        except OSError:
            pass
        if line is not None and json.loads(line).get("ok") is True:
            break
        c6.close()
        if time.monotonic() > deadline:
            check(False, "a new connection served after one closed", line)
        time.sleep(0.1)
    check(True, "a new connection served after one closed")
    c6.close()
    for c in conns:
        c.close()
    check(d.alive(), "the daemon is running")
    d.stop()


def test_idle_timeout():
    """limits.idle_timeout 1s: an idle connection is closed by the daemon
    (after about a second, not at once); a connection that keeps sending
    stays open."""
    d = Daemon(limits={"idle_timeout": "1s"}).start()
    ev = Events("T-IDLE")
    idle = d.unix()
    used = d.tcp()
    r = used.request(ev.reported("MP-2025-943001", "C-943001"))
    check(r.get("ok") is True, "setup event ok", r)
    busy = d.unix()
    t0 = time.monotonic()
    step("a busy connection sends every 0.3 s for 2.5 s")
    while time.monotonic() - t0 < 2.5:
        r = busy.request(ev.indicator("C-943001"))
        if r.get("ok") is not True:
            check(False, "busy connection served", r)
        time.sleep(0.3)
    check(True, "busy connection served throughout")
    check(idle.closed_by_peer(2.5), "the idle connection was closed")
    check(used.closed_by_peer(1.0), "a connection idle after one request "
        "was closed too")
    r = busy.request(ev.indicator("C-943001"))
    check(r.get("ok") is True, "the busy connection is still open", r)
    step("a fresh connection is not closed at once")
    fresh = d.unix()
    # half the idle timeout, which no wrapper stretches
    check(not fresh.closed_by_peer(0.5, scale=False),
        "still open after 0.5 s")
    check(fresh.closed_by_peer(3), "closed within about 1 s more")
    for c in (idle, used, busy, fresh):
        c.close()
    check(d.alive(), "the daemon is running")
    d.stop()


READ_BACK = 20000


def test_backpressure():
    """A client sends 200,000 events and reads no replies: the daemon's
    memory (VmRSS) stays bounded (< 200 MB) and another client is served
    meanwhile; then the slow client reads replies, in order (or is
    disconnected, which is also acceptable), and hangs up with replies and
    input still pending; the daemon survives and serves.  (Only the first
    20,000 replies are read: answering all 200,000 takes about a minute.)"""
    if misper.wrapper():
        raise Skip("the daemon runs under a wrapper (valgrind): its RSS is "
            "valgrind's (shadow memory) and not the daemon's, and 200,000 "
            "events would take most of an hour")
    n = 200000
    lines = misper.genstream("--seed", 41, "--events", n, "--no-duplicates")
    ids = [json.loads(l)["id"] for l in lines]
    data = b"".join(l + b"\n" for l in lines)
    del lines
    d = Daemon().start()
    rss0 = d.rss_kb()
    note("RSS at start %d kB; the stream is %.1f MB" % (rss0,
        len(data) / 1e6))
    slow = d.unix(timeout=60)
    progress = [0]
    werr = []

    def writer():
        try:
            for i in range(0, len(data), 65536):
                slow.s.sendall(data[i:i + 65536])
                progress[0] = i + 65536
        except OSError as e:
            werr.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    step("wait until the slow client's writes stall (or it sent all)")
    last, still, rss_max = -1, 0.0, rss0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        time.sleep(0.2)
        rss_max = max(rss_max, d.rss_kb())
        if progress[0] == last:
            still += 0.2
            if still >= 1.0:
                break
        else:
            still, last = 0.0, progress[0]
        if not t.is_alive():
            break
    note("the writer %s after %.1f MB (%.1f s)" % ("stalled" if t.is_alive()
        else "finished", min(progress[0], len(data)) / 1e6,
        time.monotonic() - t0))
    step("meanwhile another client is served")
    ev = Events("T-BP")
    with d.tcp(timeout=5) as other:
        e = ev.reported("MP-2025-944001", "C-944001")
        t1 = time.monotonic()
        r = other.request(e)
        check(r.get("ok") is True, "other client's event ok", r)
        for _ in range(20):
            r = other.request(ev.indicator("C-944001"))
            if r.get("ok") is not True:
                check(False, "other client served", r)
            rss_max = max(rss_max, d.rss_kb())
        note("21 requests in %.2f s" % (time.monotonic() - t1))
    check(True, "the other client was served while the slow one stalled")
    for _ in range(10):
        time.sleep(0.1)
        rss_max = max(rss_max, d.rss_kb())
    check(rss_max < 200 * 1024, "RSS stayed under 200 MB while the client "
        "did not read (max %d kB)" % rss_max)
    step("the slow client now reads its first %d replies" % READ_BACK)
    got = 0
    order_ok = True
    ok_all = True
    t2 = time.monotonic()
    while got < READ_BACK:
        line = slow.recv_line(timeout=60)
        if line is None:
            break
        r = json.loads(line)
        if r.get("id") != ids[got]:
            order_ok = False
        if r.get("ok") is not True:
            ok_all = False
        got += 1
        if got % 5000 == 0:
            rss_max = max(rss_max, d.rss_kb())
    note("read %d replies in %.1f s" % (got, time.monotonic() - t2))
    if got < READ_BACK:
        note("the daemon closed the slow connection after %d replies "
            "(allowed)" % got)
    else:
        check(True, "%d replies received" % got)
    check(order_ok, "replies in send order")
    check(ok_all, "every reply ok")
    step("the slow client hangs up with replies and input pending")
    slow.close()
    t.join(30)
    time.sleep(0.5)
    check(d.alive(), "the daemon survived")
    with d.unix() as c:
        r = c.request(ev.indicator("C-944001"))
        check(r.get("ok") is True, "and still serves", r)
    rss_max = max(rss_max, d.rss_kb())
    check(rss_max < 200 * 1024, "RSS under 200 MB throughout (max %d kB)"
        % rss_max)
    stored = d.event_count()
    check(stored >= got + 22, "at least every answered event is stored "
        "(%d rows)" % stored)
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_file_modes():
    """The Unix socket is mode 0660 and the database 0600 (umask 022)."""
    d = Daemon().start()
    mode = stat.S_IMODE(os.stat(d.sock).st_mode)
    check(stat.S_ISSOCK(os.stat(d.sock).st_mode), "socket file is a socket")
    check_eq(oct(mode), oct(0o660), "socket mode")
    mode = stat.S_IMODE(os.stat(d.db_path).st_mode)
    check_eq(oct(mode), oct(0o600), "database mode")
    for suffix in ("-wal", "-shm"):
        p = d.db_path + suffix
        if os.path.exists(p):
            m = stat.S_IMODE(os.stat(p).st_mode)
            check_eq(oct(m), oct(0o600), "database%s mode" % suffix)
    d.stop()


def test_no_config():
    """No configuration file, no -c, in an empty directory: the daemon
    starts on its embedded defaults (Unix socket misperd.sock and
    database misperd.db in the working directory, TCP 127.0.0.1:7470,
    alert streams on 7471 and the HTTP API on misperd-api.sock and 7472,
    built-in rules since rules/default.yaml is not there) and serves."""
    for port in (7470, 7471, 7472):
        if not misper.port_free(port):
            raise Skip("127.0.0.1:%d, a default TCP port, is in use here" %
                port)
    d = Daemon(config=False)
    check(os.listdir(d.cwd) == [], "the working directory is empty")
    d.start()
    check(os.path.exists(os.path.join(d.cwd, "misperd.sock")),
        "misperd.sock created in the working directory")
    check(os.path.exists(os.path.join(d.cwd, "misperd.db")),
        "misperd.db created in the working directory")
    check_eq(d.port, 7470, "TCP on the default port")
    ev = Events("T-NOCONF")
    with d.unix() as c:
        r = c.request(ev.reported("MP-2025-945001", "C-945001",
            indicators=["older_partner_or_controlling_adult"]))
        check(r.get("ok") is True, "an event with a catalogue indicator "
            "accepted (the built-in rules define it)", r)
    with d.tcp() as c:
        r = c.request(ev.indicator("C-945001"))
        check(r.get("ok") is True, "served on TCP", r)
    check_eq(d.api_port, 7472, "the HTTP API on its default port")
    check_eq(d.http_get("/healthz")[0], 200, "the HTTP API answers on "
        "misperd-api.sock in the working directory")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")
    check(not os.path.exists(os.path.join(d.cwd, "misperd.sock")),
        "socket removed")


if __name__ == "__main__":
    misper.run([test_sigterm_with_client_connected,
        test_sigterm_delivers_due_replies, test_sighup,
        test_route_not_declared, test_max_connections,
        test_idle_timeout, (test_backpressure, 240), test_file_modes,
        test_no_config], timeout=60)
