#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Measure intake and replay throughput with the shipped rules.

    scripts/bench-intake.py BUILD/misperd [--events N] [--seed S]
        [--no-replay] [--no-intake]

Generates a stream with scripts/genstream.py (cached in /tmp), starts the
given misperd in a temporary directory (Unix sockets only, rules
rules/default.yaml), pipelines the stream over the event socket (one thread
writing, the main thread reading replies), prints events/s, stops the
daemon, then times `misperd --replay` on the same stream.  A measurement,
not a test: it prints figures and never fails on timings.  See
docs/performance.md.
"""

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(SRC, "rules", "default.yaml")


def stream_file(seed, events):
    """The cached stream's path, generating it on first use."""
    path = "/tmp/misperd-bench-s%d-n%d.ndjson" % (seed, events)
    if not os.path.exists(path):
        tmp = path + ".tmp%d" % os.getpid()
        with open(tmp, "wb") as f:
            subprocess.run([sys.executable,
                os.path.join(SRC, "scripts", "genstream.py"),
                "--seed", str(seed), "--events", str(events),
                "--no-duplicates"], stdout=f, check=True)
        os.rename(tmp, path)
    return path


def write_config(d):
    conf = os.path.join(d, "misperd.yaml")
    with open(conf, "w") as f:
        f.write("listen:\n  unix: %s\n  tcp: []\n" %
            os.path.join(d, "ev.sock"))
        f.write("database: %s\n" % os.path.join(d, "misperd.db"))
        f.write("rules: %s\n" % RULES)
        f.write("log_level: warn\n")
        # bulk intake is what is measured: no per-connection rate limit
        # (the default, 1,000 lines/s, would be the figure measured)
        f.write("limits:\n  max_events_per_second: 0\n")
        f.write("subscribers:\n  unix: %s\n  tcp: []\n" %
            os.path.join(d, "alerts.sock"))
        # its own API socket and no TCP: the default port may be taken
        f.write("http:\n  unix: %s\n  tcp: []\n" %
            os.path.join(d, "api.sock"))
    return conf


def wait_socket(path, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                s.close()
                return True
            except OSError:
                pass
            s.close()
        time.sleep(0.02)
    return False


def pipeline(path, data, nlines):
    """Send data from a writer thread; count reply lines.  Returns
    (replies, replies with "ok":true, seconds)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)

    def writer():
        view = memoryview(data)
        for i in range(0, len(view), 1 << 16):
            s.sendall(view[i:i + (1 << 16)])

    t0 = time.monotonic()
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    got = ok = 0
    buf = b""
    while got < nlines:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
        lines = buf.split(b"\n")
        buf = lines.pop()
        got += len(lines)
        ok += sum(1 for l in lines if b'"ok":true' in l)
    dt = time.monotonic() - t0
    t.join(5)
    s.close()
    return got, ok, dt


def bench_intake(misperd, stream):
    with open(stream, "rb") as f:
        data = f.read()
    nlines = data.count(b"\n")
    d = tempfile.mkdtemp(prefix="misperd-bench.")
    try:
        conf = write_config(d)
        with open(os.path.join(d, "log"), "wb") as log:
            proc = subprocess.Popen([misperd, "-f", "-c", conf], cwd=d,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            if not wait_socket(os.path.join(d, "ev.sock"), proc):
                print("intake: misperd did not start; log:")
                with open(os.path.join(d, "log")) as f:
                    print(f.read()[-2000:])
                return
            got, ok, dt = pipeline(os.path.join(d, "ev.sock"), data, nlines)
            cpu = cpu_seconds(proc.pid)
            print("intake: %d lines, %d replies (%d ok) in %.2f s: "
                "%.0f events/s" % (nlines, got, ok, dt, got / dt))
            if cpu is not None:
                print("intake: daemon CPU %.2f s, %.0f us per event" %
                    (cpu, 1e6 * cpu / max(got, 1)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cpu_seconds(pid):
    """User + system CPU of a live process, from /proc."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / \
            os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def bench_replay(misperd, stream):
    with open(stream, "rb") as f:
        nlines = f.read().count(b"\n")
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([misperd, "--replay", stream, "--rules", RULES],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    alerts = p.stdout.count(b"\n")
    print("replay: %d lines, %d alerts, exit %d, in %.2f s: %.0f events/s" %
        (nlines, alerts, p.returncode, dt, nlines / dt))
    print("replay: CPU %.2f s, %.0f us per event" %
        (cpu, 1e6 * cpu / max(nlines, 1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("misperd", help="the built misperd binary")
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--no-replay", action="store_true")
    ap.add_argument("--no-intake", action="store_true")
    a = ap.parse_args()
    misperd = os.path.abspath(a.misperd)
    stream = stream_file(a.seed, a.events)
    print("stream: %s (seed %d, %d events)" % (stream, a.seed, a.events))
    if not a.no_intake:
        bench_intake(misperd, stream)
    if not a.no_replay:
        bench_replay(misperd, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
