# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Bounded everything (issue #6): the limits that bite, on the real
daemon, and misperd_limit_hits_total{limit,listener} counting each bite.
limits.max_events_per_second slows a connection but loses nothing: every
event is answered, at the end of input too; http.max_connections refuses
the extra connection (a 503 JSON error on a plain listener, a bare close
on a TLS one, a connection_refused row in the audit trail); http.timeout
cuts off a client that trickles its headers a byte at a time; oversize
bodies and headers are counted, as are the limits that were there before
(event and stream connections, long lines, idle connections).  Time
bounds are generous and follow MISPER_TIMEOUT_SCALE: the tests check that
a limit bites, never how fast the machine is."""

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import misper
from misper import (Daemon, Events, Fail, Skip, check, check_eq, note, run,
    step)

SCALE = getattr(misper, "TIMEOUT_SCALE", 1.0)
FAMILY = "misperd_limit_hits_total"
SERIES = [
    ("limits.max_connections", "events"),
    ("limits.max_line_bytes", "events"),
    ("limits.max_output_bytes", "events"),
    ("limits.idle_timeout", "events"),
    ("limits.max_events_per_second", "events"),
    ("subscribers.max_subscribers", "subscribers"),
    ("subscribers.max_buffer_bytes", "subscribers"),
    ("limits.idle_timeout", "subscribers"),
    ("http.max_connections", "http"),
    ("http.max_body_bytes", "http"),
    ("http.max_header_bytes", "http"),
    ("http.timeout", "http"),
]
SAMPLE = re.compile(r'^misperd_limit_hits_total\{limit="([^"]*)",'
    r'listener="([^"]*)"\} (\d+)$')


# ---- helpers ----

def hits(d):
    """{(limit, listener): count} of one scrape (Unix socket)."""
    status, _, text = d.http_get("/metrics")
    check_eq(status, 200, "GET /metrics: 200")
    got = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            got[(m.group(1), m.group(2))] = int(m.group(3))
    return got


def wait_hit(d, limit, listener, at_least=1, timeout=15.0):
    """Scrape until the series counts at_least; check it; the count."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        n = hits(d).get((limit, listener), 0)
        if n >= at_least:
            check(True, "limit_hits_total{limit=\"%s\",listener=\"%s\"} "
                "is %d" % (limit, listener, n))
            return n
        if time.monotonic() > deadline:
            check(False, "limit_hits_total{limit=\"%s\",listener=\"%s\"} "
                "reaches %d" % (limit, listener, at_least), n)
        time.sleep(0.1)


def raw_tcp(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout * SCALE)
    return s


def raw_unix(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout * SCALE)
    s.connect(path)
    return s


def read_all(s, timeout):
    """Everything until the peer closes; Fail if it does not in time."""
    deadline = time.monotonic() + timeout * SCALE
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("the connection was not closed within %.0f s" %
                (timeout * SCALE))
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def http_answer(data):
    """(status, body) of a raw HTTP answer."""
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    return (int(m.group(1)) if m else None), body


def audit_refusals(d, listener):
    return [json.loads(r[0]) for r in d.query("SELECT detail FROM audit "
        "WHERE action = 'connection_refused' AND subject = ?",
        (listener,))]


def misperd_n(text):
    """(exit status, output) of misperd -n on a file holding text."""
    tmp = tempfile.mkdtemp(prefix="misperd-limits.")
    try:
        conf = os.path.join(tmp, "misperd.yaml")
        with open(conf, "w") as f:
            f.write(text)
        p = subprocess.run([misper.daemon_path(), "-n", "-c", conf],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=30)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- the tests ----

def test_series_from_the_start():
    """Every limit_hits_total series is shown from the start at 0, one per
    limit and listener, each named by its configuration key."""
    d = Daemon().start()
    got = hits(d)
    check_eq(sorted(got), sorted(SERIES), "the twelve series")
    check_eq(set(got.values()), {0}, "all at 0")
    check_eq(d.stop(), 0, "stopped")


def test_config_keys():
    """The two new keys are read, with their defaults and bounds, and a
    bad value is refused naming the key and what to write."""
    check_eq(misperd_n("limits:\n  max_events_per_second: 0\n")[0], 0,
        "max_events_per_second 0 (off) is accepted")
    check_eq(misperd_n("http:\n  max_connections: 1\n")[0], 0,
        "http.max_connections 1 is accepted")
    rc, out = misperd_n("limits:\n  max_events_per_second: 2000000\n")
    check(rc == 1 and "max_events_per_second" in out and "0" in out and
        "bulk import" in out, "2000000 events a second is refused, naming "
        "the key and the way to turn it off", out.strip())
    rc, out = misperd_n("http:\n  max_connections: 0\n")
    check(rc == 1 and "max_connections must be between 1 and 65535" in out,
        "http.max_connections 0 is refused with its bounds", out.strip())


def test_event_rate():
    """limits.max_events_per_second 20: 100 events pipelined on one
    connection take at least (100 - 20) / 20 = 4 s, but every one is
    answered and stored; the limit's count moves; meanwhile another
    connection is served at once, as the rate is per connection; and a
    client that sends everything and ends its input still gets every
    answer before the close."""
    d = Daemon(limits={"max_events_per_second": 20}).start()
    ev = Events("RL")
    lines = [ev.flagged() for _ in range(100)]
    step("100 events on one connection, 20 a second (a burst of 20)")
    slow = d.unix(timeout=60)
    t0 = time.monotonic()
    slow.send(*lines)
    step("one event on a second connection meanwhile")
    with d.tcp() as other:
        r = other.request(ev.flagged())
        check(r.get("ok") is True, "the other connection is served", r)
    got = []
    while len(got) < len(lines):
        got.append(slow.reply(timeout=30 * SCALE))
    el = time.monotonic() - t0
    note("100 answers in %.1f s" % el)
    check(all(r.get("ok") is True for r in got), "every event answered ok")
    check(el >= 3.0, "and it took at least 3 s (4 s at the rate): the "
        "connection was slowed", "%.1f s" % el)
    slow.close()
    check_eq(d.event_count(), 101, "all 101 events stored")
    n = wait_hit(d, "limits.max_events_per_second", "events")
    step("the end of input while the rate bites")
    s = raw_unix(d.sock, timeout=60)
    data = b"".join(json.dumps(ev.flagged()).encode() + b"\n"
        for _ in range(60))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    answers = read_all(s, 30).splitlines()
    s.close()
    check_eq(len(answers), 60, "60 answers, then the close")
    check(all(json.loads(a).get("ok") is True for a in answers),
        "every one ok")
    check_eq(d.event_count(), 161, "161 events stored")
    wait_hit(d, "limits.max_events_per_second", "events", n + 1)
    check_eq(d.stop(), 0, "stopped")


def test_event_rate_off():
    """max_events_per_second 0 turns the rate off: 3,000 events on one
    connection are never paused for it."""
    d = Daemon(limits={"max_events_per_second": 0}).start()
    ev = Events("RO")
    with d.unix(timeout=60) as c:
        replies = c.pipeline([ev.flagged() for _ in range(3000)],
            timeout=120 * SCALE)
    check(len(replies) == 3000 and all(r.get("ok") is True
        for r in replies), "3000 answered ok")
    check_eq(hits(d)[("limits.max_events_per_second", "events")], 0,
        "the rate never bit")
    check_eq(d.stop(), 0, "stopped")


def test_http_max_connections():
    """http.max_connections 2: with two connections open (one that has
    had an answer, one that has sent nothing) a third, on the Unix socket
    or over TCP, gets 503 {"error":"unavailable"} and is closed; the
    refusal is counted and in the audit trail; once one closes a new
    connection is served."""
    d = Daemon(http={"max_connections": 2}).start()
    held = misper.UnixHTTPConnection(d.api_sock)
    held.request("GET", "/healthz")
    r = held.getresponse()
    r.read()
    check_eq(r.status, 200, "a kept-alive connection is served")
    idle = raw_tcp(d.api_port)
    time.sleep(0.2)
    for how, s in (("unix", lambda: raw_unix(d.api_sock)),
            ("tcp", lambda: raw_tcp(d.api_port))):
        c = s()
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        st, body = http_answer(read_all(c, 10))
        c.close()
        check(st == 503 and json.loads(body).get("error") ==
            "unavailable", "a third connection over %s: 503 unavailable, "
            "closed" % how, (st, body[:200]))
    held.request("GET", "/v1/status")
    r = held.getresponse()
    r.read()
    check_eq(r.status, 200, "the connection held from before is served")
    idle.close()
    held.close()
    time.sleep(0.2)
    n = wait_hit(d, "http.max_connections", "http", 2)
    check_eq(n, 2, "two refusals counted")
    step("the audit trail")
    deadline = time.monotonic() + 10 * SCALE
    while not audit_refusals(d, "http") and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = audit_refusals(d, "http")
    check(len(rows) >= 1 and rows[0]["reason"] == "max_connections" and
        rows[0]["listener"] == "http", "a connection_refused row for the "
        "http listener, reason max_connections", rows)
    check_eq(d.stop(), 0, "stopped")
    rows = audit_refusals(d, "http")
    check_eq(sum(r["refused"] for r in rows), 2, "at the stop, both "
        "refusals are in the trail")


def test_http_max_connections_tls():
    """On a TLS listener a connection over http.max_connections is closed
    with nothing sent: no plaintext where TLS is spoken.  Connections
    under the limit go on working."""
    try:
        import test_tls
        test_tls.pki()
    except Skip:
        raise
    except Exception as e:
        raise Skip("no test certificates: %s" % e)
    d = test_tls.TLSDaemon()
    d.http_conf["max_connections"] = 1
    d.write_config()
    d.start()
    port = d.ports["HTTP"]
    held = raw_tcp(port)
    time.sleep(0.2)
    s = raw_tcp(port)
    s.sendall(b"\x16\x03\x01\x00\x05hello")	# the start of a ClientHello
    data = read_all(s, 10)
    s.close()
    check_eq(data, b"", "the extra TLS connection is closed with nothing "
        "sent")
    held.close()
    time.sleep(0.3)
    st, _, body = test_tls.https(d, "GET", "/v1/status", cert="desk")
    check_eq(st, 200, "a new TLS connection is served once one closed")
    wait_hit(d, "http.max_connections", "http")
    check_eq(d.stop(), 0, "stopped")


def test_http_timeout_trickle():
    """http.timeout 2s is a deadline for the whole request: a client that
    trickles its headers a byte every 200 ms (which would keep an idle
    timer from ever firing) is cut off, and so is one that sends nothing;
    both are counted.  A kept-alive client that asks again within the
    timeout of each answer is served every time."""
    d = Daemon(http={"timeout": "2s"}).start()
    step("a trickling client")
    s = raw_tcp(d.api_port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    closed = None
    filler = b"X-Slow: " + b"a" * 400
    i = 0
    while time.monotonic() - t0 < 20 * SCALE:
        try:
            s.sendall(filler[i % len(filler):i % len(filler) + 1])
            r, _, _ = select.select([s], [], [], 0.2)
            if r and s.recv(4096) == b"":
                closed = time.monotonic() - t0
                break
        except (BrokenPipeError, ConnectionResetError):
            closed = time.monotonic() - t0
            break
        i += 1
    s.close()
    check(closed is not None, "cut off while still trickling (%d bytes "
        "sent)" % i, "open after %.0f s" % (time.monotonic() - t0))
    note("cut off after %.1f s" % closed)
    check(closed >= 1.0, "not before the timeout", "%.1f s" % closed)
    step("a client that sends nothing")
    s = raw_unix(d.api_sock)
    t0 = time.monotonic()
    check_eq(read_all(s, 20), b"", "closed with nothing sent")
    s.close()
    note("closed after %.1f s" % (time.monotonic() - t0))
    wait_hit(d, "http.timeout", "http", 2)
    step("a kept-alive client asking every second")
    c = misper.UnixHTTPConnection(d.api_sock)
    for i in range(4):
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        check_eq(r.status, 200, "request %d on the same connection" % i)
        time.sleep(1.0)
    c.close()
    check(d.wait_log("no complete request within http.timeout", 5)
        is not None, "the log says why")
    check_eq(d.stop(), 0, "stopped")


def test_http_oversize():
    """http.max_body_bytes 1024 and max_header_bytes 2048: a body over the
    limit (413 too_large), one over twice it (refused by the HTTP layer
    while it arrives) and headers over theirs are each refused and
    counted; a malformed request under the header limit is refused but no
    limit's doing."""
    d = Daemon(http={"max_body_bytes": 1024, "max_header_bytes": 2048})
    d.start()
    body = json.dumps({"by": "x" * 1500})
    st, _, got = d.http_post("/v1/alerts/A-1/ack", body=body,
        headers={"Content-Type": "application/json"})
    check(st == 413 and isinstance(got, dict) and got.get("error") ==
        "too_large", "1.5 KiB: 413 too_large", (st, got))
    n = wait_hit(d, "http.max_body_bytes", "http", 1)
    s = raw_unix(d.api_sock)
    s.sendall(b"POST /v1/rules/reload HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n" +
        b" " * 5000)
    st, _ = http_answer(read_all(s, 20))
    s.close()
    check_eq(st, 413, "5000 bytes (over twice the limit): 413")
    wait_hit(d, "http.max_body_bytes", "http", n + 1)
    s = raw_unix(d.api_sock)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 4000 +
        b"\r\n\r\n")
    st, _ = http_answer(read_all(s, 20))
    s.close()
    check(st in (400, 413), "4000 bytes of headers: refused", st)
    wait_hit(d, "http.max_header_bytes", "http", 1)
    s = raw_unix(d.api_sock)
    s.sendall(b"NONSENSE\r\n\r\n")
    st, _ = http_answer(read_all(s, 20))
    s.close()
    check_eq(st, 400, "a malformed request: 400")
    got = hits(d)
    check_eq(got[("http.max_header_bytes", "http")], 1, "not counted as "
        "the header limit")
    check_eq(d.stop(), 0, "stopped")


def test_older_limits_counted():
    """The limits that were there before count their bites too: an event
    connection over limits.max_connections, a stream over
    subscribers.max_subscribers, a line over limits.max_line_bytes, and
    an idle event connection and stream closed by limits.idle_timeout."""
    d = Daemon(limits={"max_connections": 1, "max_line_bytes": 256,
        "idle_timeout": "1s"}, subscribers={"max_subscribers": 1}).start()
    ev = Events("OL")
    c1 = d.unix()
    r = c1.request({"id": "x" * 400})
    check_eq(r.get("error"), "line_too_long", "a 400-byte line is refused")
    c2 = d.unix()
    check(b"too many connections" in c2.recv_line(10), "a second event "
        "connection is refused")
    c2.close()
    s1 = d.sub_unix()
    s2 = d.sub_unix()
    check(b"too many subscribers" in s2.recv_line(10), "a second stream "
        "is refused")
    s2.close()
    for limit, listener in (("limits.max_line_bytes", "events"),
            ("limits.max_connections", "events"),
            ("subscribers.max_subscribers", "subscribers")):
        wait_hit(d, limit, listener)
    step("an idle event connection is closed after a second")
    check(c1.closed_by_peer(10 * SCALE), "closed")
    c1.close()
    wait_hit(d, "limits.idle_timeout", "events")
    s1.close()
    with d.unix() as c:
        check(c.request(ev.flagged()).get("ok") is True, "a new "
            "connection is served")
    check_eq(d.stop(), 0, "stopped")


if __name__ == "__main__":
    run([test_series_from_the_start, test_config_keys, test_event_rate,
        test_event_rate_off, test_http_max_connections,
        test_http_max_connections_tls, test_http_timeout_trickle,
        test_http_oversize, (test_older_limits_counted, 90)], timeout=120)
