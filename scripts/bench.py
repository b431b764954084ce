#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""The benchmark harness of issue #7: the six figures and their targets.

    make bench          # or: scripts/bench.py --build BUILDDIR
    make bench-smoke    # or: scripts/bench.py --build BUILDDIR --smoke

Measures the built misperd (BUILDDIR/misperd) with the shipped rules on a
realistic stream from scripts/genstream.py, and prints one table per figure
with its target and whether it is met:

1. durable intake: events/s over the Unix socket, pipelined, every reply
   after its batch commits, default rules; and in the same run the storage
   limit, BUILDDIR/bench/baseline: the same event rows inserted in batches
   of the daemon's size with the same durability (WAL, synchronous=FULL,
   page size); both and the ratio;
2. latency at a steady 1,000 events/s (BUILDDIR/bench/loadgen, open-loop
   schedule): event sent -> reply received, and event sent -> alert
   received on a subscriber stream of every route (the reply names the
   alert ids): p50, p99, p99.9, max; and two floors: the disk alone
   (loadgen sync: a write and its fdatasync) and SQLite alone
   (bench/baseline -m paced: the event rows alone, committed as they
   arrive at the same rate);
3. replay: events/s of `misperd --replay` through the default rules; and
   two ceilings: the lines parsed by jansson alone (loadgen parse), and
   their event rows inserted into SQLite alone with replay's settings
   (bench/baseline -m replay);
4. memory: peak RSS (VmHWM) of the daemon after intake, and of the replay;
5. start-up: exec to ready (sd_notify READY=1 on $NOTIFY_SOCKET, and a
   probe event answered on the socket) with the store of each size and
   with 2,000,000 events;
6. scaling: figures 1 to 3 (and 4, 5) at two history sizes: each size is
   a prefix of one stream, so the larger run is the smaller one with more
   history.

Full mode: history sizes 100,000 and 1,000,000 events of one 2,000,000-line
stream (seed 7, four years of event time, late and duplicate lines at the
generator's default shares), 30 s of paced load after each intake, and a
2,000,000-event store for start-up.  The first run builds that store by
live intake (the continuation of the 1,000,000 run, so it is timed too)
and keeps it; later runs reuse it (--rebuild-store builds it again).
Smoke mode: 2,000 and 8,000 events, 2 s of paced load, start-up on those
stores; a few seconds.

Everything generated (streams, their prefixes, the start-up store) is
cached under the work directory (--work, default BUILDDIR/bench-work) and
reused.  Results go to stdout and, as JSON, to WORK/results/ (latest.json
and one file per run).  Every daemon started is stopped (SIGTERM, then
SIGKILL) whatever happens.  A measurement, never a test: it does not fail
on timings; it exits non-zero only when something did not run (a daemon
did not start, replies were missing, a line was refused).

If `perf` can attach (root, or perf_event_paranoid permitting), the intake
phase is counted with it: calls of intake_run() (an uprobe; one per
batch, so the baseline's batch size is the daemon's measured mean) and the
fsync system calls.  Otherwise the batch size is estimated from the
listener's 16 KiB reads.  --profile S records `perf record -g` on the daemon
for S seconds of the largest intake.  Standard library only.
"""

import argparse
import bisect
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(SRC, "rules", "default.yaml")
GENSTREAM = os.path.join(SRC, "scripts", "genstream.py")

# The targets of issue #7 on the 2-core machine.
TARGET_INTAKE_EPS = 20000
TARGET_INTAKE_RATIO = 0.40
TARGET_REPLY_P99_US = 1000
TARGET_ALERT_P99_US = 5000
TARGET_REPLAY_EPS = 150000
TARGET_RSS_MIB = 100
TARGET_READY_S = 1.0
# "Flat" cost per event (figure 6): the larger history costs at most this
# much more per event than the smaller.  Our reading of "flat".
FLAT_RATIO = 1.2
# libevent 2.1 reads at most this much per read callback (EVBUFFER_MAX_READ
# in its buffer.c, whatever bufferevent_set_max_single_read() says); the
# listener takes the complete lines of each read as one batch
# (daemon/listener.c).  Used only when perf cannot count the batches.
LIBEVENT_READ = 4096

FULL = dict(sizes=[100000, 1000000], stream_events=2000000, years=4,
    start="2022-01-01T00:00:00Z", latency_seconds=30, startup_events=2000000,
    segment=100000, startup_runs=3, floor_syncs=2000, floor_commits=5000)
SMOKE = dict(sizes=[2000, 8000], stream_events=10000, years=1,
    start="2025-01-01T00:00:00Z", latency_seconds=2, startup_events=None,
    segment=2000, startup_runs=2, floor_syncs=200, floor_commits=500)
# The disk's floor under figure 2 (loadgen sync): commits of one WAL frame
# and of FLOOR_PAGES frames, about what one event's commit writes at the
# paced rate (docs/performance.md, fourth round).
FLOOR_PAGES = 16

# Daemons and helpers started, stopped on any exit.
LIVE = []


def say(msg=""):
    print(msg, flush=True)


def die(msg):
    raise SystemExit("bench: " + msg)


# ---- processes ----

def start(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    LIVE.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=60):
    """Stop a process we started: sig, then SIGKILL.  Returns its status."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in LIVE:
        LIVE.remove(p)
    return p.returncode


def stop_all():
    for p in list(LIVE):
        stop(p, timeout=10)


def proc_cpu(pid):
    """User + system CPU seconds of a live process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    """VmHWM and VmRSS of a live process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def proc_written(pid):
    """Bytes a live process has written with write(2)/pwrite(2) (wchar):
    WAL frames, checkpoints, replies, logs."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_busy():
    """CPU seconds the whole machine spent busy (all cores) so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_json(argv, what, daemon=None, **kw):
    """Run a measuring tool to the end; its stdout is one JSON object, to
    which its own CPU seconds are added (client_cpu_s).  On failure, say
    what became of the daemon it was talking to."""
    p = start(argv, stdout=subprocess.PIPE, **kw)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    LIVE.remove(p)
    if p.returncode != 0:
        die("%s failed (exit %d): %s%s" % (what, p.returncode,
            " ".join(argv), "" if daemon is None else "\n" + daemon.state()))
    r = json.loads(out)
    r["client_cpu_s"] = ru.ru_utime + ru.ru_stime
    return r


# ---- the stream ----

def stream_files(a, work):
    """The cached stream and its meta (line count, children by prefix)."""
    key = "s%d-n%d-y%g-%s" % (a.seed, a.stream_events, a.years,
        a.start[:10])
    d = os.path.join(work, "streams")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "stream-%s.ndjson" % key)
    meta_path = path + ".meta.json"
    if not (os.path.exists(path) and os.path.exists(meta_path)):
        cmd = [sys.executable, GENSTREAM, "--seed", str(a.seed),
            "--events", str(a.stream_events), "--years", str(a.years),
            "--start", a.start, "--stats"]
        say("generating the stream: %s" % " ".join(cmd[1:]))
        t0 = time.monotonic()
        tmp = path + ".tmp"
        with open(tmp, "wb") as out:
            p = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE,
                check=True)
        os.rename(tmp, path)
        meta = {"command": "python3 scripts/genstream.py " +
            " ".join(cmd[2:]), "stats": p.stderr.decode(),
            "seconds": round(time.monotonic() - t0, 1)}
        meta.update(scan_stream(path, a.sizes + [a.stream_events]))
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1)
    with open(meta_path) as f:
        meta = json.load(f)
    if any(str(n) not in meta["prefixes"] for n in a.sizes):
        meta.update(scan_stream(path, a.sizes + [int(k) for k in
            meta["prefixes"]]))
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1)
    return path, meta


CHILD_RE = re.compile(rb'"child":\{"id":"([^"]+)"')
AT_RE = re.compile(rb'"at":"([^"]+)"')


def scan_stream(path, marks):
    """Lines, bytes, distinct children and event-time span at each mark."""
    marks = sorted(set(marks))
    seen = set()
    out = {"prefixes": {}}
    n = nbytes = 0
    first = last = None
    with open(path, "rb") as f:
        for line in f:
            n += 1
            nbytes += len(line)
            m = CHILD_RE.search(line)
            if m:
                seen.add(m.group(1))
            at = AT_RE.search(line).group(1).decode()
            first = at if first is None or at < first else first
            last = at if last is None or at > last else last
            if n in marks:
                out["prefixes"][str(n)] = {"children": len(seen),
                    "bytes": nbytes, "first_at": first, "last_at": last}
    out["lines"] = n
    out["bytes"] = nbytes
    return out


def prefix_file(stream, n):
    """The first n lines of the stream, cached beside it."""
    path = "%s.first%d" % (stream, n)
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with open(stream, "rb") as f, open(tmp, "wb") as out:
            for i, line in enumerate(f):
                if i == n:
                    break
                out.write(line)
        os.rename(tmp, path)
    return path


def read_line(path, index):
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i == index:
                return line
    die("%s has no line %d" % (path, index))


def rules_routes(path):
    """The route names declared in a rules file's routes: mapping."""
    routes = []
    inside = False
    with open(path) as f:
        for line in f:
            if re.match(r"routes:\s*(#.*)?$", line):
                inside = True
                continue
            if inside:
                if re.match(r"\S", line):
                    break
                m = re.match(r"\s+([A-Za-z0-9_.-]+)\s*:", line)
                if m:
                    routes.append(m.group(1))
    if not routes:
        die("%s declares no routes" % path)
    return routes


# ---- the daemon ----

class Daemon:
    """misperd on a database in dbdir, sockets in a short temporary dir."""

    def __init__(self, misperd, dbdir):
        self.misperd = misperd
        self.dbdir = dbdir
        self.sockdir = tempfile.mkdtemp(prefix="misperd-bench.")
        self.db = os.path.join(dbdir, "misperd.db")
        self.ev = os.path.join(self.sockdir, "ev.sock")
        self.alerts = os.path.join(self.sockdir, "alerts.sock")
        self.notify = os.path.join(self.sockdir, "notify")
        self.conf = os.path.join(self.sockdir, "misperd.yaml")
        self.log = os.path.join(dbdir, "misperd.log")
        with open(self.conf, "w") as f:
            f.write("listen:\n  unix: %s\n  tcp: []\n" % self.ev)
            f.write("database: %s\n" % self.db)
            f.write("rules: %s\n" % RULES)
            f.write("log_level: info\n")
            f.write("subscribers:\n  unix: %s\n  tcp: []\n" % self.alerts)
            # its own API socket and no TCP: a default port may be taken
            f.write("http:\n  unix: %s\n  tcp: []\n"
                % os.path.join(self.sockdir, "api.sock"))
            # bulk intake is what is measured: no per-connection rate
            f.write("limits:\n  max_events_per_second: 0\n")
        self.proc = None
        self.ns = None

    def start(self, probe_line, timeout=300.0):
        """Start and time it: exec -> READY=1 and exec -> probe answered
        (the probe is a line already stored: a duplicate, nothing
        changes).  Returns (ready_s, probe_s)."""
        # Kept open until the daemon stops, so STOPPING=1 has a reader.
        ns = self.ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if os.path.exists(self.notify):
            os.unlink(self.notify)
        ns.bind(self.notify)
        # glibc's own fatal messages (heap checks) to the log, not a tty
        env = dict(os.environ, NOTIFY_SOCKET=self.notify,
            LIBC_FATAL_STDERR_="1")
        log = open(self.log, "ab")
        t0 = time.monotonic()
        self.proc = start([self.misperd, "-f", "-c", self.conf],
            cwd=self.dbdir, stdin=subprocess.DEVNULL, stdout=log,
            stderr=log, env=env)
        log.close()
        ready = probe = None
        cs = None
        got = b""
        try:
            while ready is None or probe is None:
                if time.monotonic() - t0 > timeout:
                    die("misperd not ready after %.0f s; see %s" %
                        (timeout, self.log))
                if self.proc.poll() is not None:
                    die("misperd exited with %d at start; see %s" %
                        (self.proc.returncode, self.log))
                if cs is None and probe is None:
                    cs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        cs.connect(self.ev)
                        cs.sendall(probe_line)
                    except OSError:
                        cs.close()
                        cs = None
                rl = [ns] + ([cs] if cs is not None else [])
                r, _, _ = select.select(rl, [], [], 0.001)
                now = time.monotonic()
                if ns in r:
                    msg = ns.recv(4096)
                    if b"READY=1" in msg.split(b"\n") and ready is None:
                        ready = now - t0
                if cs is not None and cs in r:
                    chunk = cs.recv(65536)
                    if not chunk:
                        die("misperd closed the probe connection")
                    got += chunk
                    if b"\n" in got:
                        probe = now - t0
                        if not got.startswith(b'{"ok":true'):
                            die("probe refused: %r" % got[:300])
                        cs.close()
                        cs = None
        finally:
            if cs is not None:
                cs.close()
        return ready, probe

    def state(self):
        """What became of the process, and the end of its log."""
        rc = self.proc.poll() if self.proc is not None else None
        if self.proc is None:
            what = "misperd: not started"
        elif rc is None:
            what = "misperd %d is still running (so it closed the " \
                "connection itself)" % self.proc.pid
        elif rc < 0:
            what = "misperd was killed by signal %d" % -rc
        else:
            what = "misperd exited with status %d" % rc
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log) - 2000))
                tail = f.read().decode(errors="replace")
        except OSError:
            tail = ""
        return "%s; the end of %s:\n%s" % (what, self.log, tail)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is not None:
            rc = stop(self.proc)
            self.proc = None
            self.close_notify()
            if rc != 0:
                die("misperd exited with %d on SIGTERM; see %s" %
                    (rc, self.log))

    def close_notify(self):
        if self.ns is not None:
            self.ns.close()
            self.ns = None

    def cleanup(self):
        if self.proc is not None:
            stop(self.proc)
            self.proc = None
        self.close_notify()
        shutil.rmtree(self.sockdir, ignore_errors=True)


def max_alert_seq(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute("SELECT coalesce(max(seq), 0) FROM alerts"
            ).fetchone()[0]
    finally:
        con.close()


def evict(db):
    """Drop the store's files from the page cache (a cold start), without
    touching anything else on the machine."""
    for suffix in ("", "-wal", "-shm"):
        try:
            fd = os.open(db + suffix, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


# ---- perf ----

def parse_trace_summary(path):
    """fdatasync's line of a `perf trace -s` summary, summed over threads:
    calls and wall time (total, avg, max) in ms."""
    out = {"calls": 0, "total_ms": 0.0, "max_ms": 0.0}
    try:
        with open(path) as f:
            for line in f:
                v = line.split()
                if len(v) >= 7 and v[0] == "fdatasync":
                    out["calls"] += int(v[1])
                    out["total_ms"] += float(v[3])
                    out["max_ms"] = max(out["max_ms"], float(v[6]))
    except (OSError, ValueError):
        return None
    if out["calls"] == 0:
        return None
    out["avg_ms"] = out["total_ms"] / out["calls"]
    return out


class Perf:
    """perf on the daemon: intake_run() calls (uprobe) and fsyncs counted
    (perf stat), and the wall time of each fdatasync (perf trace -s)."""

    GROUP = "misperd_bench"

    def __init__(self, misperd, enabled):
        self.ok = False
        self.probe = False
        self.trace = False
        self.events = []
        self.misperd = misperd
        if not enabled or shutil.which("perf") is None:
            return
        subprocess.run(["perf", "probe", "-q", "-d", self.GROUP + ":*"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(["perf", "probe", "-q", "-x", misperd, "-a",
            "%s:intake_run=intake_run" % self.GROUP],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.probe = r.returncode == 0
        self.events = ["syscalls:sys_enter_fdatasync",
            "syscalls:sys_enter_fsync"]
        if self.probe:
            self.events.insert(0, self.GROUP + ":intake_run")
        r = subprocess.run(["perf", "stat", "-x,", "-e",
            ",".join(self.events), "true"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.ok = r.returncode == 0
        r = subprocess.run(["perf", "trace", "-s", "-e", "fdatasync", "-o",
            os.devnull, "true"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.trace = self.ok and r.returncode == 0

    def wrap(self, argv, out):
        """argv under perf trace -s (fdatasync), when it can run."""
        if not self.trace:
            return argv
        return ["perf", "trace", "-s", "-e", "fdatasync", "-o", out, "--"] + \
            argv

    def begin(self, pid, out):
        if not self.ok:
            return None
        p = start(["perf", "stat", "-x,", "-e", ",".join(self.events), "-p",
            str(pid), "-o", out], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        t = None
        if self.trace:
            t = start(["perf", "trace", "-s", "-e", "fdatasync", "-p",
                str(pid), "-o", out + ".trace"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        time.sleep(1.0)		# attached before the load starts
        return p, out, t

    def end(self, h):
        if h is None:
            return None
        p, out, t = h
        stop(p, signal.SIGINT, 30)
        if t is not None:
            stop(t, signal.SIGINT, 30)
        counts = {}
        with open(out) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                v = line.split(",")
                try:
                    counts[v[2].split(":")[-1]] = int(v[0])
                except (ValueError, IndexError):
                    pass
        if t is not None:
            counts["fdatasync_wall"] = parse_trace_summary(out + ".trace")
        return counts

    def close(self):
        if self.probe:
            subprocess.run(["perf", "probe", "-q", "-d", self.GROUP + ":*"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PROFILE_DELAY = 20


def perf_record(pid, seconds, out, delay=PROFILE_DELAY):
    """perf record the daemon for seconds, from delay s on (past the start
    of the phase), with DWARF call graphs: neither misperd's -O2 build nor
    SQLite keeps frame pointers."""
    return start(["sh", "-c", 'sleep %d && exec perf record -F 250 '
        '--call-graph dwarf,16384 -p %d -o "$0" -- sleep %d' % (
        delay, pid, seconds), out], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def perf_reports(data):
    """Text reports beside the data: self time by symbol, and time
    including callees (the call graph's children) by symbol."""
    for name, extra in (("self", ["--no-children"]),
            ("children", ["--children"])):
        with open("%s.%s.txt" % (data, name), "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio", "-g",
                "none", "--percent-limit", "0.3", "--sort", "dso,symbol"] +
                extra, stdout=f, stderr=subprocess.DEVNULL)


# ---- one history size ----

def intake(a, d, stream, skip, count, tag, perf, rundir, segment):
    """Pipeline lines skip .. skip+count into the daemon; the figure."""
    h = perf.begin(d.pid, os.path.join(rundir, "perf-stat-%s.txt" % tag))
    busy0 = machine_busy()
    cpu0 = proc_cpu(d.pid)
    w0 = proc_written(d.pid)
    prof = None
    if a.profile and tag == a.profile_phase and rundir.endswith(
            "/%d" % max(a.sizes)):
        prof = perf_record(d.pid, a.profile,
            os.path.join(a.work, "perf-%s.data" % tag))
        r_prof = {"profiled": "perf record for %d s from %d s into this "
            "phase" % (a.profile, PROFILE_DELAY)}
    r = run_json([a.loadgen, "pipeline", "-e", d.ev, "-s", str(skip), "-n",
        str(count), "-g", str(segment), stream], "loadgen pipeline", d)
    cpu1 = proc_cpu(d.pid)
    busy1 = machine_busy()
    w1 = proc_written(d.pid)
    counts = perf.end(h)
    if w0 is not None and w1 is not None:
        r["written_bytes_per_event"] = (w1 - w0) / count
    if prof is not None:
        stop(prof, signal.SIGINT, 120)
        perf_reports(os.path.join(a.work, "perf-%s.data" % tag))
        r.update(r_prof)
    if r["replies"] != count or r["errors"]:
        die("intake: %d replies of %d, %d errors; first: %s" % (r["replies"],
            count, r["errors"], r["first_error"]))
    r["daemon_cpu_s"] = cpu1 - cpu0
    r["daemon_cpu_us_per_event"] = 1e6 * (cpu1 - cpu0) / count
    r["daemon_cpu_share"] = (cpu1 - cpu0) / r["seconds"]
    r["machine_busy_cpu_s"] = busy1 - busy0
    other_load(r, cpu1 - cpu0)
    r["stored"] = r["ok"] - r["duplicates"]
    perf_counts(r, counts, count)
    r.update({"rss_" + k: v for k, v in proc_status(d.pid).items()})
    return r


def other_load(r, daemon_cpu):
    """The CPU the rest of the machine used (neither the daemon nor the
    load client), in cores, over the phase: how shared the machine was."""
    r["other_cpu_cores"] = max(0.0, r["machine_busy_cpu_s"] - daemon_cpu -
        r["client_cpu_s"]) / r["seconds"]


def perf_counts(r, counts, count):
    if not counts:
        return
    r["perf"] = counts
    if counts.get("intake_run"):
        r["batches"] = counts["intake_run"]
        r["mean_batch"] = count / counts["intake_run"]
    r["fsyncs"] = counts.get("sys_enter_fdatasync", 0) + \
        counts.get("sys_enter_fsync", 0)
    r["fsyncs_per_event"] = r["fsyncs"] / count
    if counts.get("fdatasync_wall"):
        r["fdatasync"] = counts["fdatasync_wall"]


def unresolved(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM deliveries"
            " WHERE channels IS NULL").fetchone()[0]
    finally:
        con.close()


def settle(d, limit=900.0):
    """Wait until the daemon has caught up after a pipelined intake: no
    delivery left to resolve and under 5% of a core for a second.  The
    paced load then measures the steady state, not the backlog."""
    t0 = time.monotonic()
    first = unresolved(d.db)
    while True:
        c0 = proc_cpu(d.pid)
        time.sleep(1.0)
        busy = proc_cpu(d.pid) - c0
        left = unresolved(d.db)
        if (left == 0 and busy < 0.05) or time.monotonic() - t0 > limit:
            return {"seconds": time.monotonic() - t0,
                "unresolved_deliveries_before": first,
                "unresolved_deliveries_after": left, "settled": left == 0 and
                busy < 0.05}


TICK_RE = re.compile(r"(\S+)Z info engine: (\d+) deadlines? fired")


def tick_share(raw, log):
    """How many slow replies waited across a deadline tick: a tick's log
    line (written after its commit) falls between the event's send and its
    reply.  From the loadgen's raw samples and the daemon's log."""
    with open(raw) as f:
        head = f.readline().split()
        t0 = float(head[2])
        ev = [(t0 + float(v[2]), float(v[4]) / 1e6) for v in
            (line.split() for line in f if line.startswith("e "))]
    ticks = []
    with open(log) as f:
        for line in f:
            m = TICK_RE.match(line)
            if m:
                ticks.append((datetime.datetime.fromisoformat(m.group(1)
                    ).replace(tzinfo=datetime.timezone.utc).timestamp(),
                    int(m.group(2))))
    ticks = [t for t in ticks if ev[0][0] - 1 < t[0] < ev[-1][0] + 1]
    out = {"ticks": len(ticks), "deadlines_fired": sum(n for _, n in ticks)}
    # A reply waited across a round when a round's log line falls between
    # its send and its reply, 1 ms either side: the log's stamps are
    # truncated to the millisecond.
    times = sorted(t for t, _ in ticks)

    def across(s, l):
        i = bisect.bisect_left(times, s - 0.001)
        return i < len(times) and times[i] <= s + l + 0.001

    crossed = [(l, across(s, l)) for s, l in ev]
    for ms in (1, 10):
        slow = [c for l, c in crossed if l > ms / 1000.0]
        out["over_%dms" % ms] = len(slow)
        out["over_%dms_across_tick" % ms] = sum(slow)
    # What the latency is without the bench's deadline storm (its event
    # times are in the past, so every deadline it starts is due at once;
    # live, hours apart).
    clear = sorted(l for l, c in crossed if not c)
    out["clear_of_rounds"] = len(clear)
    if clear:
        out["clear_p99_us"] = 1e6 * clear[max(0, -(-99 * len(clear) //
            100) - 1)]
    return out


def disk_floor(a, directory):
    """fdatasync latency of this file system alone (loadgen sync), in the
    database's directory, with nothing else running: the floor under a
    reply that waits for its commit."""
    out = {}
    for pages in (1, FLOOR_PAGES):
        out["pages_%d" % pages] = run_json([a.loadgen, "sync", "-n",
            str(a.floor_syncs), "-P", str(pages), directory],
            "loadgen sync")["write_fdatasync"]
    return out


def latency(a, d, stream, skip, rundir, perf):
    st = settle(d)
    floor = disk_floor(a, os.path.dirname(d.db))
    after = max_alert_seq(d.db)
    n = int(a.latency_seconds * a.rate)
    h = perf.begin(d.pid, os.path.join(rundir, "perf-stat-paced.txt"))
    prof = None
    if a.profile and a.profile_phase == "paced" and rundir.endswith(
            "/%d" % max(a.sizes)):
        secs = max(1, min(a.profile, int(a.latency_seconds) - 3))
        prof = perf_record(d.pid, secs, os.path.join(a.work,
            "perf-paced.data"), delay=2)
    busy0 = machine_busy()
    cpu0 = proc_cpu(d.pid)
    r = run_json([a.loadgen, "paced", "-e", d.ev, "-a", d.alerts, "-r",
        ",".join(a.routes), "-R", str(a.rate), "-A", str(after), "-s",
        str(skip), "-n", str(n), "-o", os.path.join(rundir, "latency.raw"),
        stream], "loadgen paced", d)
    if r["replies"] != n or r["errors"]:
        die("latency: %d replies of %d, %d errors; first: %s" %
            (r["replies"], n, r["errors"], r["first_error"]))
    cpu1 = proc_cpu(d.pid)
    r["machine_busy_cpu_s"] = machine_busy() - busy0
    perf_counts(r, perf.end(h), n)
    if prof is not None:
        stop(prof, signal.SIGINT, 120)
        perf_reports(os.path.join(a.work, "perf-paced.data"))
        r["profiled"] = "perf record from 2 s into this phase"
    r["daemon_cpu_us_per_event"] = 1e6 * (cpu1 - cpu0) / n
    other_load(r, cpu1 - cpu0)
    r["after_alert_seq"] = after
    r["settle"] = st
    r["disk_floor"] = floor
    r["ticks"] = tick_share(os.path.join(rundir, "latency.raw"), d.log)
    # busy: on CPU or waiting in fdatasync, per second of the phase
    f = r.get("fdatasync")
    if f:
        r["daemon_busy"] = ((cpu1 - cpu0) + f["total_ms"] / 1000) / \
            r["seconds"]
    r.update({"rss_" + k: v for k, v in proc_status(d.pid).items()})
    return r


def startups(a, misperd, dbdir, probe, runs):
    """One cold start (the store evicted from the page cache), then warm
    ones; each stopped with SIGTERM."""
    out = []
    for i in range(runs + 1):
        d = Daemon(misperd, dbdir)
        try:
            if i == 0:
                evict(d.db)
            ready, answered = d.start(probe)
            rss = proc_status(d.pid)
            d.stop()
        finally:
            d.cleanup()
        out.append({"cold": i == 0, "ready_s": ready, "probe_s": answered,
            "rss_kib": rss.get("VmRSS")})
    warm = [x for x in out if not x["cold"]]
    return {"runs": out, "cold_ready_s": out[0]["ready_s"],
        "cold_probe_s": out[0]["probe_s"],
        "warm_ready_s": statistics.median(x["ready_s"] for x in warm),
        "warm_probe_s": statistics.median(x["probe_s"] for x in warm),
        "max_s": max(max(x["ready_s"], x["probe_s"]) for x in out),
        "events": store_events(os.path.join(dbdir, "misperd.db"))}


def store_events(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


def baseline(a, db, rows, batch, rundir, perf, mode="intake"):
    """bench/baseline -m mode: the same event rows in SQLite alone (intake:
    batches of batch; replay: replay's settings and batch, batch unused;
    paced: the last a.floor_commits of rows arriving at a.rate, committed
    as they come)."""
    out = os.path.join(rundir, "baseline.db")
    trace = os.path.join(rundir, "baseline-%s-%d.trace" % (mode, batch))
    argv = [a.baseline, "-m", mode, "-f", db, "-o", out, "-n", str(rows)]
    if mode == "intake":
        argv += ["-b", str(batch)]
    elif mode == "paced":
        argv += ["-b", str(batch), "-p", str(a.floor_commits), "-R",
            str(int(a.rate))]
    try:
        r = run_json(perf.wrap(argv, trace) if mode == "intake" else argv,
            "baseline -m " + mode)
        if perf.trace and mode == "intake":
            r["fdatasync"] = parse_trace_summary(trace)
        return r
    finally:
        for s in ("", "-wal", "-shm"):
            if os.path.exists(out + s):
                os.unlink(out + s)


def replay(a, prefix, n):
    tmp = os.path.join(a.work, "tmp")
    os.makedirs(tmp, exist_ok=True)
    alerts = os.path.join(tmp, "replay-alerts.ndjson")
    errf = os.path.join(tmp, "replay-stderr.txt")
    env = dict(os.environ, TMPDIR=tmp)
    with open(alerts, "wb") as out, open(errf, "wb") as err:
        t0 = time.monotonic()
        p = start([a.misperd, "--replay", prefix, "--rules", RULES],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    LIVE.remove(p)
    with open(errf) as f:
        tail = f.read()
    if p.returncode != 0:
        die("replay exited %d: %s" % (p.returncode, tail[-1500:]))
    with open(alerts, "rb") as f:
        nalerts = sum(1 for _ in f)
    os.unlink(alerts)
    cpu = ru.ru_utime + ru.ru_stime
    # the floor: the same lines through the JSON library alone, one core
    parse = run_json([a.loadgen, "parse", prefix], "loadgen parse")
    return {"events": n, "seconds": dt, "events_per_s": n / dt,
        "cpu_s": cpu, "cpu_us_per_event": 1e6 * cpu / n, "alerts": nalerts,
        "maxrss_kib": ru.ru_maxrss, "parse_floor": parse}


def estimate_batch(meta, n):
    mean_line = meta["prefixes"][str(n)]["bytes"] / n
    return max(1, min(512, int(LIBEVENT_READ // mean_line)))


def run_size(a, stream, meta, n, probe, perf, build_store):
    """Intake of the first n lines, paced load, (the continuation to the
    start-up store), start-ups, the baseline; then the replay of n."""
    say("\n== history %s events ==" % fmt_n(n))
    rundir = os.path.join(a.work, "runs", str(n))
    shutil.rmtree(rundir, ignore_errors=True)
    os.makedirs(rundir)
    res = {"events": n, "children": meta["prefixes"][str(n)]["children"],
        "event_time": [meta["prefixes"][str(n)]["first_at"],
            meta["prefixes"][str(n)]["last_at"]]}
    nlat = int(a.latency_seconds * a.rate)
    d = Daemon(a.misperd, rundir)
    try:
        ready, answered = d.start(read_line(stream, 0))
        res["fresh_start"] = {"ready_s": ready, "probe_s": answered}
        say("intake of %s lines (pipelined)..." % fmt_n(n))
        res["intake"] = intake(a, d, stream, 0, n, "intake", perf, rundir,
            a.segment)
        say("  %.0f events/s" % res["intake"]["events_per_s"])
        say("paced load: %s lines at %d/s..." % (fmt_n(nlat), a.rate))
        res["latency"] = latency(a, d, stream, n, rundir, perf)
        say("  (settled %.0f s first), reply p99 %.0f us, alert p99 %.0f us"
            % (res["latency"]["settle"]["seconds"],
            res["latency"]["reply"].get("p99_us", -1),
            res["latency"]["alert"].get("p99_us", -1)))
        res["rss_end"] = proc_status(d.pid)
        res["daemon_cpu_s"] = proc_cpu(d.pid)
        d.stop()
    finally:
        d.cleanup()
    say("start-ups...")
    res["startup"] = startups(a, a.misperd, rundir, probe, a.startup_runs)
    if build_store:
        rest = a.startup_events - n - nlat
        say("continuing the intake to %s events (the start-up store)..." %
            fmt_n(a.startup_events))
        d = Daemon(a.misperd, rundir)
        try:
            d.start(probe)
            res["continuation"] = intake(a, d, stream, n + nlat, rest,
                "continuation", perf, rundir, a.segment)
            say("  %.0f events/s" % res["continuation"]["events_per_s"])
            d.stop()
        finally:
            d.cleanup()
    it = res["intake"]
    batch = round(it["mean_batch"]) if "mean_batch" in it else \
        estimate_batch(meta, n)
    res["baseline_batch_source"] = "measured" if "mean_batch" in it else \
        "estimated from %d-byte reads" % LIBEVENT_READ
    say("baseline: %s rows in batches of %d..." % (fmt_n(it["stored"]), batch))
    res["baseline"] = baseline(a, os.path.join(rundir, "misperd.db"),
        it["stored"], batch, rundir, perf)
    if batch != 512:
        res["baseline_512"] = baseline(a, os.path.join(rundir, "misperd.db"),
            it["stored"], 512, rundir, perf)
    res["ratio"] = it["events_per_s"] / res["baseline"]["rows_per_s"]
    # figure 2's floor: as many rows as the paced load had behind it
    hist = it["stored"] + a.floor_commits
    say("baseline: %s rows, then the paced load's first %s arriving at "
        "%d/s..." % (fmt_n(it["stored"]), fmt_n(a.floor_commits), a.rate))
    res["latency"]["sqlite_floor"] = baseline(a, os.path.join(rundir,
        "misperd.db"), hist, batch, rundir, perf, "paced")
    # figure 3's: the rows of the replayed lines, with replay's settings
    say("baseline: %s rows with replay's settings..." % fmt_n(it["stored"]))
    res["replay_sqlite_floor"] = baseline(a, os.path.join(rundir,
        "misperd.db"), it["stored"], 0, rundir, perf, "replay")
    if build_store:
        dest = store_dir(a)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        os.rename(os.path.join(rundir, "misperd.db"),
            os.path.join(dest, "misperd.db"))
        with open(os.path.join(dest, "meta.json"), "w") as f:
            json.dump({"built": now_iso(), "by": "live intake (bench.py)",
                "events": store_events(os.path.join(dest, "misperd.db")),
                "stream": os.path.basename(stream)}, f)
    # The raw samples, perf counts and log outlive the database.
    keep = os.path.join(a.work, "results", "%s-%d" % (a.stamp, n))
    os.makedirs(keep, exist_ok=True)
    for f in os.listdir(rundir):
        if f.endswith((".raw", ".txt", ".log")):
            shutil.copy(os.path.join(rundir, f), keep)
    res["raw"] = keep
    if not a.keep:
        shutil.rmtree(rundir, ignore_errors=True)
    say("replay of %s lines..." % fmt_n(n))
    res["replay"] = replay(a, prefix_file(stream, n), n)
    res["replay"]["sqlite_floor"] = res.pop("replay_sqlite_floor")
    say("  %.0f events/s" % res["replay"]["events_per_s"])
    return res


def store_dir(a):
    return os.path.join(a.work, "stores", "s%d-n%d-y%g-%s-%d" % (a.seed,
        a.stream_events, a.years, a.start[:10], a.startup_events))


# ---- output ----

def fmt_n(n):
    return "{:,}".format(int(n))


def mib(kib):
    return kib / 1024.0


def verdict(ok):
    return "met" if ok else "NOT met"


def table(title, head, rows):
    say("\n" + title)
    cols = [head] + rows
    w = [max(len(str(r[i])) for r in cols) for i in range(len(head))]
    line = "  ".join("%-*s" % (w[i], head[i]) for i in range(len(head)))
    say(line)
    say("  ".join("-" * w[i] for i in range(len(head))))
    for r in rows:
        say("  ".join("%-*s" % (w[i], r[i]) for i in range(len(head))))


def us(v):
    return "-" if v is None else ("%.0f" % v if v >= 100 else "%.1f" % v)


def kib(v):
    return "-" if v is None or v < 0 else "%.1f" % (v / 1024.0)


def fsync_ms(r):
    """avg/max wall ms of fdatasync in a phase, or - when not traced."""
    f = r.get("fdatasync")
    return "-" if not f else "%.2f/%.1f" % (f["avg_ms"], f["max_ms"])


def report(res):
    sizes = res["sizes"]
    rows = []
    for s in sizes:
        it, b = s["intake"], s["baseline"]
        b5 = s.get("baseline_512", b)
        rows.append([fmt_n(s["events"]), "%.0f" % it["events_per_s"],
            "%.0f" % it["daemon_cpu_us_per_event"],
            "%.0f%%" % (100 * it["daemon_cpu_share"]),
            "%.1f" % it.get("mean_batch", b["batch"]), fsync_ms(it),
            kib(it.get("written_bytes_per_event")),
            "%.0f (batch %d)" % (b["rows_per_s"], b["batch"]), fsync_ms(b),
            kib(b.get("written_bytes_per_row")),
            "%.1f%%" % (100 * s["ratio"]), "%.0f" % b5["rows_per_s"],
            "%.2f" % it["other_cpu_cores"],
            "%s / %s" % (verdict(it["events_per_s"] >= TARGET_INTAKE_EPS),
                verdict(s["ratio"] >= TARGET_INTAKE_RATIO))])
        if "continuation" in s:
            c = s["continuation"]
            rows.append(["%s..%s" % (fmt_n(s["events"] +
                s["latency"]["lines"]), fmt_n(s["events"] +
                s["latency"]["lines"] + c["lines"])),
                "%.0f" % c["events_per_s"],
                "%.0f" % c["daemon_cpu_us_per_event"],
                "%.0f%%" % (100 * c["daemon_cpu_share"]),
                "%.1f" % c.get("mean_batch", 0), fsync_ms(c),
                kib(c.get("written_bytes_per_event")), "", "", "", "", "",
                "%.2f" % c["other_cpu_cores"],
                verdict(c["events_per_s"] >= TARGET_INTAKE_EPS)])
    table("Figure 1: durable intake, Unix socket, pipelined, replies after "
        "commit, default rules\n  targets: >= %s events/s and >= %d%% of "
        "the SQLite baseline (same rows, WAL, synchronous=FULL, same batch "
        "and page size)\n  CPU use: daemon CPU / wall time; batch: lines "
        "per commit (counted by perf, else estimated); fsync: fdatasync wall ms avg/max; KiB/ev: "
        "bytes written per event\n  (WAL, checkpoints, replies, log); other "
        "load: cores busy with other work on the machine during the "
        "phase" % (fmt_n(TARGET_INTAKE_EPS),
        100 * TARGET_INTAKE_RATIO), ["history", "events/s",
        "CPU us/ev", "CPU use", "batch", "fsync", "KiB/ev", "baseline rows/s",
        "fsync", "KiB/row", "ratio", "at 512", "other load",
        "target (rate / ratio)"],
        rows)

    rows = []
    for s in sizes:
        l = s["latency"]
        rp, al = l["reply"], l["alert"]
        rows.append([fmt_n(s["events"]), "%.0f/s" % l["achieved_rate"],
            "/".join(us(rp.get(k)) for k in ("p50_us", "p99_us", "p99_9_us",
                "max_us")),
            "/".join(us(al.get(k)) for k in ("p50_us", "p99_us", "p99_9_us",
                "max_us")) + " (n=%d)" % al["n"],
            "%.1f" % l["mean_batch"] if "mean_batch" in l else "-",
            "%.2f" % l["fsyncs_per_event"] if "fsyncs_per_event" in l else
            "-", fsync_ms(l),
            "%.0f" % l["daemon_cpu_us_per_event"],
            "%.0f%%" % (100 * l["daemon_busy"]) if "daemon_busy" in l else
            "-", "%d (%d)" % (l["ticks"]["over_10ms"],
                l["ticks"]["over_10ms_across_tick"]),
            us(l["ticks"].get("clear_p99_us")) + " (n=%d)" %
            l["ticks"].get("clear_of_rounds", 0),
            "%.2f" % l["other_cpu_cores"],
            verdict(rp.get("p99_us", 1e18) <= TARGET_REPLY_P99_US),
            verdict(al.get("p99_us", 1e18) <= TARGET_ALERT_P99_US)])
    table("Figure 2: latency at a steady %d events/s (us: p50/p99/p99.9/max)"
        "\n  after the daemon settled from the intake (deliveries resolved, "
        "idle); batch: lines per commit; fsync: fdatasync wall ms avg/max;\n"
        "  busy: daemon CPU + fdatasync wait per second; >10 ms (tick): "
        "replies slower than 10 ms (of which\n  waited across a deadline "
        "tick's commit); p99 clear: reply p99 of the replies no deadline "
        "round's commit fell within\n  targets: reply p99 <= %d us, alert on a subscriber stream p99 "
        "<= %d us" % (res["config"]["rate"], TARGET_REPLY_P99_US,
        TARGET_ALERT_P99_US), ["history", "rate", "event -> reply",
        "event -> alert", "batch", "fsyncs/ev", "fsync", "CPU us/ev",
        "busy", ">10 ms (tick)", "p99 clear", "other load", "reply",
        "alert"], rows)

    rows = []
    for s in sizes:
        fl = s["latency"].get("disk_floor", {})
        for k in sorted(fl, key=lambda k: int(k.split("_")[1])):
            v = fl[k]
            rows.append([fmt_n(s["events"]), k.split("_")[1], "/".join(
                us(v.get(x)) for x in ("p50_us", "p99_us", "p99_9_us",
                "max_us")), "%d" % v["n"]])
    if rows:
        table("Figure 2, floor: the disk alone, just before the paced load, "
            "in the database's directory (loadgen sync):\n  one write of N "
            "4 KiB pages in place and its fdatasync, timed together (us: "
            "p50/p99/p99.9/max);\n  no reply that waits for its commit can "
            "be faster than its commit's fdatasync",
            ["history", "pages", "write + fdatasync", "n"], rows)

    rows = []
    for s in sizes:
        f = s["latency"].get("sqlite_floor")
        if f:
            c = f["commit"]
            rows.append([fmt_n(f["history"]), "%.0f/s" % f["rate"],
                "/".join(us(c.get(x)) for x in ("p50_us", "p99_us",
                "p99_9_us", "max_us")), "%d" % c["n"],
                "%.0f" % f["cpu_us_per_commit"],
                "%.1f" % (f["wal_frames"] / f["commits"]),
                verdict(c["p99_us"] <= TARGET_REPLY_P99_US)])
    if rows:
        table("Figure 2, floor: SQLite alone (bench/baseline -m paced), "
            "after the run: the event rows the paced load stored,\n  "
            "arriving at the same rate, each committed as soon as the one "
            "before (with any that arrived meanwhile), live settings\n  "
            "(WAL, synchronous=FULL, the daemon's WAL writer), WAL "
            "overwritten in place, no checkpoint at all; each row timed "
            "from its arrival\n  (us: p50/p99/p99.9/max): the floor under a "
            "reply that waits for a commit of its event row alone, without "
            "the event's\n  consequences; 'under target': whether this "
            "floor itself is within the reply target",
            ["history", "rate", "event rows alone", "n", "CPU us/commit",
            "frames/commit", "under target"], rows)

    rows = []
    for s in sizes:
        r = s["replay"]
        pf = r.get("parse_floor")
        sf = r.get("sqlite_floor")
        rows.append([fmt_n(r["events"]), "%.1f" % r["seconds"],
            "%.0f" % r["events_per_s"], "%.0f" % r["cpu_us_per_event"],
            fmt_n(r["alerts"]),
            "%.0f (%.2f us)" % (pf["lines_per_s"], pf["us_per_line"]) if pf
            else "-",
            "%.0f (%.2f us)" % (sf["rows_per_s"], sf["us_per_row"]) if sf
            else "-",
            verdict(r["events_per_s"] >= TARGET_REPLAY_EPS)])
    table("Figure 3: replay (misperd --replay, default rules)\n  target: "
        ">= %s events/s on 1,000,000 events; floors: the same lines parsed "
        "by jansson alone, one core\n  (loadgen parse), the ceiling of any "
        "replay that reads each line with it; the same event rows inserted "
        "into SQLite\n  alone with replay's settings (bench/baseline -m "
        "replay: no sync, exclusive, journal in memory, 1,024 a "
        "transaction),\n  the ceiling of any replay that stores each event's "
        "row" % fmt_n(TARGET_REPLAY_EPS),
        ["events", "seconds", "events/s", "CPU us/ev", "alerts",
        "parse alone, lines/s", "SQLite alone, rows/s", "target"], rows)

    rows = []
    for s in sizes:
        it = s["intake"]
        rows.append(["daemon, after intake of %s (%s children)" % (
            fmt_n(s["events"]), fmt_n(s["children"])),
            "%.1f" % mib(it["rss_VmHWM"]),
            verdict(mib(it["rss_VmHWM"]) <= TARGET_RSS_MIB)])
        rows.append(["daemon, after the paced load too",
            "%.1f" % mib(s["latency"]["rss_VmHWM"]),
            verdict(mib(s["latency"]["rss_VmHWM"]) <= TARGET_RSS_MIB)])
        if "continuation" in s:
            rows.append(["daemon, after intake to %s" % fmt_n(
                res["config"]["startup_events"]),
                "%.1f" % mib(s["continuation"]["rss_VmHWM"]),
                verdict(mib(s["continuation"]["rss_VmHWM"]) <=
                    TARGET_RSS_MIB)])
        rows.append(["replay of %s" % fmt_n(s["events"]),
            "%.1f" % mib(s["replay"]["maxrss_kib"]),
            verdict(mib(s["replay"]["maxrss_kib"]) <= TARGET_RSS_MIB)])
    table("Figure 4: memory, peak RSS (VmHWM)\n  target: <= %d MiB at "
        "1,000,000 events" % TARGET_RSS_MIB, ["process", "MiB", "target"],
        rows)

    rows = []
    ups = [(s["startup"]) for s in sizes]
    if res.get("startup_store"):
        ups.append(res["startup_store"])
    for u in ups:
        rows.append([fmt_n(u["events"]), "%.3f / %.3f" % (u["cold_ready_s"],
            u["cold_probe_s"]), "%.3f / %.3f" % (u["warm_ready_s"],
            u["warm_probe_s"]), "%.3f" % u["max_s"],
            verdict(u["max_s"] <= TARGET_READY_S)])
    table("Figure 5: start-up, exec to ready (s: READY=1 / probe event "
        "answered)\n  target: <= %.0f s with 2,000,000 events stored" %
        TARGET_READY_S, ["events stored", "cold", "warm (median)", "max",
        "target"], rows)

    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        rows = []

        def row(name, a_, b_):
            ratio = b_ / a_ if a_ else float("inf")
            rows.append([name, "%.1f" % a_, "%.1f" % b_, "%.2f" % ratio,
                "flat" if ratio <= FLAT_RATIO else "NOT flat"])
        row("intake wall us/event", 1e6 / lo["intake"]["events_per_s"],
            1e6 / hi["intake"]["events_per_s"])
        row("intake daemon CPU us/event",
            lo["intake"]["daemon_cpu_us_per_event"],
            hi["intake"]["daemon_cpu_us_per_event"])
        row("paced daemon CPU us/event",
            lo["latency"]["daemon_cpu_us_per_event"],
            hi["latency"]["daemon_cpu_us_per_event"])
        row("reply p99 us", lo["latency"]["reply"]["p99_us"],
            hi["latency"]["reply"]["p99_us"])
        if lo["latency"]["alert"]["n"] and hi["latency"]["alert"]["n"]:
            row("alert p99 us", lo["latency"]["alert"]["p99_us"],
                hi["latency"]["alert"]["p99_us"])
        row("replay wall us/event", 1e6 / lo["replay"]["events_per_s"],
            1e6 / hi["replay"]["events_per_s"])
        row("replay CPU us/event", lo["replay"]["cpu_us_per_event"],
            hi["replay"]["cpu_us_per_event"])
        row("start-up s (warm, probe)", lo["startup"]["warm_probe_s"],
            hi["startup"]["warm_probe_s"])
        table("Figure 6: scaling, cost per event at %s and %s events of "
            "history\n  target: flat (our reading: the larger at most "
            "%.1fx the smaller)" % (fmt_n(lo["events"]), fmt_n(hi["events"]),
            FLAT_RATIO), ["cost", fmt_n(lo["events"]), fmt_n(hi["events"]),
            "ratio", "target"], rows)
        segs = []
        for s in sizes[-1:]:
            for part in ("intake", "continuation"):
                if part not in s:
                    continue
                base = 0 if part == "intake" else s["events"] + \
                    s["latency"]["lines"]
                for g in s[part]["segments"]:
                    segs.append([fmt_n(base + g["upto"]),
                        "%.0f" % g["events_per_s"]])
        if segs:
            table("Figure 6b: intake events/s by segment of history "
                "(events stored when the segment ended)",
                ["history", "events/s"], segs)

    m = res["machine"]
    say("\nmachine: %s, %d cores, load average %s at start and %s at the "
        "end; the machine was %s" % (m["cpu"], m["cores"],
        "/".join("%.2f" % x for x in m["loadavg_start"]),
        "/".join("%.2f" % x for x in m["loadavg_end"]),
        "shared with other work" if m["shared"] else "not known to be shared"))


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def machine(shared):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": os.uname().release,
        "loadavg_start": list(os.getloadavg()), "shared": shared}


def source_version():
    try:
        return subprocess.run(["git", "-C", SRC, "describe", "--always",
            "--dirty"], capture_output=True, text=True,
            check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# ---- main ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=".",
        help="the build directory (misperd, bench/baseline, bench/loadgen)")
    ap.add_argument("--smoke", action="store_true",
        help="small sizes, a few seconds")
    ap.add_argument("--work", default=None,
        help="cache and scratch directory (default BUILD/bench-work, or "
        "$MISPERD_BENCH_DIR)")
    ap.add_argument("--sizes", default=None,
        help="history sizes, comma-separated (default 100000,1000000; "
        "smoke 2000,8000)")
    ap.add_argument("--latency-seconds", type=float, default=None)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-startup-store", action="store_true",
        help="skip the 2,000,000-event start-up store")
    ap.add_argument("--rebuild-store", action="store_true",
        help="build the start-up store again by live intake")
    ap.add_argument("--no-perf", action="store_true",
        help="do not count batches and fsyncs with perf")
    ap.add_argument("--profile", type=int, default=0, metavar="S",
        help="perf record -g the daemon for S s of the last intake of the "
        "largest size (the continuation to the start-up store when it is "
        "built, else the intake), from %d s into it: WORK/perf-intake.data "
        "and .self.txt, .children.txt reports" % PROFILE_DELAY)
    ap.add_argument("--profile-phase", choices=("intake", "continuation",
        "paced"), default=None, help="the phase --profile records (default: "
        "the last intake of the largest size)")
    ap.add_argument("--shared", action="store_true",
        help="note in the results that the machine was shared")
    ap.add_argument("--keep", action="store_true",
        help="keep each size's database (WORK/runs/N)")
    a = ap.parse_args()

    mode = SMOKE if a.smoke else FULL
    for k, v in mode.items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    if isinstance(a.sizes, str):
        a.sizes = [int(x) for x in a.sizes.split(",")]
    a.sizes = sorted(a.sizes)
    if a.no_startup_store:
        a.startup_events = None
    build = os.path.abspath(a.build)
    a.misperd = os.path.join(build, "misperd")
    a.baseline = os.path.join(build, "bench", "baseline")
    a.loadgen = os.path.join(build, "bench", "loadgen")
    for p in (a.misperd, a.baseline, a.loadgen):
        if not os.access(p, os.X_OK):
            die("%s is not built: run make bench (or make misperd "
                "bench/baseline bench/loadgen) in %s" % (p, build))
    a.work = os.path.abspath(a.work or os.environ.get("MISPERD_BENCH_DIR") or
        os.path.join(build, "bench-work"))
    os.makedirs(a.work, exist_ok=True)
    a.routes = rules_routes(RULES)
    auto_phase = a.profile_phase is None
    if auto_phase:
        a.profile_phase = "intake"
    nlat = int(a.latency_seconds * a.rate)
    need = max(a.sizes) + nlat
    if a.startup_events:
        need = max(need, a.startup_events)
        if a.startup_events < max(a.sizes) + nlat:
            die("the start-up store must be larger than the largest size "
                "plus the paced load")
    a.stream_events = max(a.stream_events, need)

    a.stamp = now_iso().replace(":", "")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    res = {"date": now_iso(), "mode": "smoke" if a.smoke else "full",
        "source": source_version(), "machine": machine(a.shared),
        "config": {"sizes": a.sizes, "rate": a.rate,
            "latency_seconds": a.latency_seconds,
            "startup_events": a.startup_events, "seed": a.seed,
            "years": a.years, "start": a.start, "rules": RULES,
            "routes": a.routes}}
    perf = Perf(a.misperd, not a.no_perf)
    try:
        stream, meta = stream_files(a, a.work)
        res["stream"] = {"path": stream, "command": meta["command"],
            "lines": meta["lines"], "bytes": meta["bytes"],
            "stats": meta["stats"]}
        say("stream: %s (%s lines)" % (stream, fmt_n(meta["lines"])))
        say("perf: %s" % ("batches and fsyncs counted" if perf.ok and
            perf.probe else "fsyncs counted" if perf.ok else "not used"))
        probe = read_line(stream, 0)
        sdir = store_dir(a) if a.startup_events else None
        have_store = sdir is not None and not a.rebuild_store and \
            os.path.exists(os.path.join(sdir, "misperd.db"))
        if sdir is not None and not have_store and auto_phase:
            a.profile_phase = "continuation"
        res["sizes"] = []
        for n in a.sizes:
            res["sizes"].append(run_size(a, stream, meta, n, probe, perf,
                build_store=sdir is not None and not have_store and
                n == a.sizes[-1]))
        if sdir is not None:
            say("\n== start-up with the %s-event store ==" %
                fmt_n(a.startup_events))
            res["startup_store"] = startups(a, a.misperd, sdir, probe,
                a.startup_runs)
            with open(os.path.join(sdir, "meta.json")) as f:
                res["startup_store"]["store"] = json.load(f)
    finally:
        stop_all()
        perf.close()
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    report(res)
    rdir = os.path.join(a.work, "results")
    os.makedirs(rdir, exist_ok=True)
    path = os.path.join(rdir, "bench-%s-%s.json" % (res["mode"],
        res["date"].replace(":", "")))
    for p in (path, os.path.join(rdir, "latest-%s.json" % res["mode"])):
        with open(p, "w") as f:
            json.dump(res, f, indent=1)
    say("\nresults: %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
