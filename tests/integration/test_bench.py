# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""The benchmark harness of issue #7 still runs: its smoke mode
(scripts/bench.py --smoke, about 15 s) starts the real misperd, pipelines
and paces a generated stream, replays it, restarts the daemon, and prints
the six figures with the floors they are compared with; every count it
reports must be whole (each line answered, each size replayed, each floor
measured).  A sign of life, never a measurement: no timing is checked.
The floor modes of bench/loadgen are also checked on inputs whose answer
is known (a stream with one invalid line; a directory that is not there).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Skip, check, check_eq, daemon_path, run, srcdir, step

# bench.py's own limit; the test's alarm (run() below) is longer, so that
# the SIGTERM path runs first
SMOKE_TIMEOUT = 480
FIGURES = ["Figure 1: durable intake", "Figure 2: latency",
    "Figure 2, floor: the disk alone", "Figure 2, floor: SQLite alone",
    "Figure 3: replay",
    "Figure 4: memory", "Figure 5: start-up", "Figure 6: scaling"]


def build_dir():
    build = os.path.dirname(daemon_path())
    for tool in ("loadgen", "baseline"):
        if not os.access(os.path.join(build, "bench", tool), os.X_OK):
            raise Skip("bench/%s is not built (make check builds it; by "
                "hand: make bench/loadgen bench/baseline)" % tool)
    return build


def tool(name, *args):
    return subprocess.run([os.path.join(build_dir(), "bench", name)] +
        list(args), capture_output=True, text=True, timeout=120)


def loadgen(*args):
    return tool("loadgen", *args)


def bench_smoke(work):
    """Run the smoke mode in a session of its own; (output, exit status).
    However the test ends (its alarm included), bench.py gets SIGTERM, on
    which it stops every daemon it started, and then its group is
    killed, so that no daemon outlives the test."""
    p = subprocess.Popen([sys.executable, os.path.join(srcdir(), "scripts",
        "bench.py"), "--build", build_dir(), "--smoke", "--no-perf",
        "--work", work], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=SMOKE_TIMEOUT * misper.TIMEOUT_SCALE)
        return out, p.returncode
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def test_floors():
    """loadgen parse counts what jansson refuses; loadgen sync measures and
    names what it cannot open"""
    d = tempfile.mkdtemp(prefix="misper-bench.")
    try:
        path = os.path.join(d, "s.ndjson")
        with open(path, "w") as f:
            f.write('{"id":"E-1"}\n{"id":"E-1","id":"E-2"}\n[1,2]\n'
                '{"id": \n')
        step("parse a stream of 4 lines, 2 of them invalid (a duplicate "
            "key, a truncated object)")
        p = loadgen("parse", path)
        check_eq(p.returncode, 0, "loadgen parse exit status")
        r = json.loads(p.stdout)
        check_eq((r["lines"], r["invalid"]), (4, 2), "lines and invalid")
        check(r["lines_per_s"] > 0, "a rate is printed")
        step("sync 20 times, 1 and 4 pages")
        for pages in ("1", "4"):
            p = loadgen("sync", "-n", "20", "-P", pages, d)
            check_eq(p.returncode, 0, "loadgen sync -P %s exit status" %
                pages)
            r = json.loads(p.stdout)
            w = r["write_fdatasync"]
            check_eq((r["bytes"], w["n"]), (4096 * int(pages), 20),
                "bytes a write and syncs timed")
            check(0 < w["p50_us"] <= w["p99_us"] <= w["max_us"],
                "percentiles in order")
        check_eq(sorted(os.listdir(d)), ["s.ndjson"],
            "no file left behind")
        step("sync into a directory that does not exist")
        p = loadgen("sync", "-n", "2", os.path.join(d, "nowhere"))
        check(p.returncode == 2 and "nowhere" in p.stderr and
            "No such file" in p.stderr, "exit 2, naming the path and why",
            p.stderr.strip())
        p = loadgen("sync", "-P", "65", d)
        check(p.returncode == 2 and "pages" in p.stderr,
            "-P past its bound refused", p.stderr.strip())
        step("baseline: an unknown mode, a batch of 0, -p out of place, a "
            "missing database")
        out = os.path.join(d, "b.db")
        p = tool("baseline", "-m", "fast", "-f", path, "-o", out)
        check(p.returncode == 2 and "'fast'" in p.stderr and
            "paced" in p.stderr, "exit 2, naming the mode and the choices",
            p.stderr.strip())
        p = tool("baseline", "-b", "0", "-f", path, "-o", out)
        check(p.returncode == 2 and "batch" in p.stderr,
            "-b 0 refused", p.stderr.strip())
        p = tool("baseline", "-m", "replay", "-p", "5", "-f", path, "-o",
            out)
        check(p.returncode == 2 and "-m paced only" in p.stderr,
            "-p without -m paced refused", p.stderr.strip())
        p = tool("baseline", "-m", "paced", "-f", os.path.join(d,
            "nowhere.db"), "-o", out)
        check(p.returncode == 2 and "nowhere.db" in p.stderr,
            "exit 2, naming the database", p.stderr.strip())
        check_eq(sorted(os.listdir(d)), ["s.ndjson"],
            "no file left behind")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_smoke():
    """make bench-smoke: every figure printed, every count whole"""
    if misper.wrapper():
        raise Skip("the harness starts misperd itself, not under the "
            "wrapper")
    work = tempfile.mkdtemp(prefix="misper-bench.")
    try:
        step("scripts/bench.py --smoke --no-perf")
        out, rc = bench_smoke(work)
        if rc != 0:
            print(out[-6000:])
        check_eq(rc, 0, "bench.py exit status")
        for title in FIGURES:
            check(title in out, "%r printed" % title)
        with open(os.path.join(work, "results", "latest-smoke.json")) as f:
            res = json.load(f)
        sizes = [s["events"] for s in res["sizes"]]
        check_eq(sizes, [2000, 8000], "the smoke sizes")
        for s in res["sizes"]:
            n = s["events"]
            it, lat, rp = s["intake"], s["latency"], s["replay"]
            check_eq((it["replies"], it["errors"]), (n, 0),
                "%d: every intake line answered, none refused" % n)
            check_eq((lat["replies"], lat["errors"]), (lat["lines"], 0),
                "%d: every paced line answered" % n)
            check_eq(lat["alerts_missing"], 0,
                "%d: every alert a reply named came on the stream" % n)
            tk = lat["ticks"]
            check(0 < tk["clear_of_rounds"] <= lat["lines"] and
                tk["over_10ms_across_tick"] <= tk["over_10ms"] and
                "clear_p99_us" in tk, "%d: the replies clear of deadline "
                "rounds counted, and their p99" % n, tk)
            fl = lat["disk_floor"]
            check_eq((fl["pages_1"]["n"], fl["pages_16"]["n"]), (200, 200),
                "%d: the disk floor measured, 1 and 16 pages" % n)
            check_eq((rp["events"], rp["parse_floor"]["lines"],
                rp["parse_floor"]["invalid"]), (n, n, 0),
                "%d: replayed, and every line parsed for the floor" % n)
            check(rp["alerts"] > 0, "%d: the replay raised alerts" % n,
                rp["alerts"])
            check(s["baseline"]["rows"] == it["stored"],
                "%d: the baseline inserted the rows intake stored" % n)
            sf = lat["sqlite_floor"]
            check_eq((sf["history"], sf["commit"]["n"]), (it["stored"], 500),
                "%d: SQLite's paced floor: the intake's rows behind it, "
                "500 rows timed" % n)
            check(0 < sf["commits"] <= 500 and
                sf["commits"] <= sf["wal_frames"] <= 8 * 500 and
                32 + sf["wal_frames"] * (sf["page_size"] + 24) <=
                sf["wal_bytes"], "%d: the timed commits' frames (up to 8 "
                "a row) fit the WAL grown for them" % n, sf)
            rf = rp["sqlite_floor"]
            check_eq((rf["mode"], rf["rows"]), ("replay", it["stored"]),
                "%d: SQLite's replay floor, the rows intake stored" % n)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run([test_floors, (test_smoke, 600)], timeout=120)
