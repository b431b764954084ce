# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""misperctl(1) against the live daemon: every command's output and exit
status, errors included (bad usage 2, an unknown child or alert 1, no
daemon 3), send's line numbers and summary, a 10,000-line send through a
small output buffer (no deadlock), a daemon that closes early or stops
answering, and check-rules/replay giving exactly misperd's output.

Environment: MISPERCTL (the built tool; make check sets it) besides the
harness's MISPERD.  Commands whose endpoint the daemon does not serve yet
(probed: a 404 "not_found") are skipped with the reason; they run as soon
as the endpoint is there.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import (Client, Daemon, Events, Fail, Skip, check, check_eq,
    daemon_path, fmt_time, free_port, genstream, run, say, srcdir, step)

STREAM = os.path.join(srcdir(), "examples", "stream.ndjson")
RULES = os.path.join(srcdir(), "rules", "default.yaml")
CMDS = ["send", "brief", "alerts", "alert", "ack", "status", "rules",
    "reload", "audit", "purge", "check-rules", "replay", "help"]


def ctl_path():
    p = os.environ.get("MISPERCTL")
    if not p:
        p = os.path.join(os.path.dirname(daemon_path()), "misperctl")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise Skip("no misperctl at %s (set MISPERCTL)" % p)
    return p


def ctl(*args, d=None, stdin=None, env=None, timeout=120, cwd=None):
    """Run misperctl (with -c d's config when d is given) with stdin (str
    or bytes; none: /dev/null); returns (exit status, stdout, stderr) as
    text."""
    argv = misper.wrap_ctl([ctl_path()])
    if d is not None:
        argv += ["-c", d.conf]
    argv += [str(a) for a in args]
    e = dict(os.environ)
    e.pop("MISPERD_API_SOCKET", None)
    e.pop("MISPERD_SOCKET", None)
    e.update(env or {})
    if isinstance(stdin, str):
        stdin = stdin.encode()
    kw = {"input": stdin} if stdin is not None else {
        "stdin": subprocess.DEVNULL}
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        timeout=timeout * misper.TIMEOUT_SCALE, env=e, cwd=cwd, **kw)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def has_endpoint(d, method, path):
    """Does the daemon serve path at all?  (A 404 "not_found" says no.)"""
    status, _, body = d.http(method, path,
        body={} if method == "POST" else None)
    return not (status == 404 and isinstance(body, dict) and
        body.get("error") == "not_found")


def need(d, method, path, what):
    """Every endpoint misperctl uses is served: a missing one fails."""
    check(has_endpoint(d, method, path), "%s: the daemon serves %s %s" % (
        what, method, path))


def write(d, name, data):
    path = os.path.join(d.dir, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def line(x):
    return json.dumps(x, separators=(",", ":"))


def now_events(prefix, days_ago):
    """Events starting days_ago before now, so 'as of now' windows see
    them."""
    return Events(prefix, start=fmt_time(time.time() - days_ago * 86400))


def repeat_history(prefix, child):
    """Three missing episodes for child within 30 days (ending a few days
    ago): repeat_3_in_90d reaches review on the third."""
    ev = now_events(prefix, 40)
    out = []
    for i in range(3):
        ep = "%s-MP-%d" % (prefix, i + 1)
        out.append(ev.reported(ep, {"id": child, "dob": "2011-06-15",
            "looked_after": True, "cp_plan": False, "area": "lambeth",
            "flags": ["known_cse_risk"]}, risk="medium",
            at=ev.at(60 * 24 * 10)))
        out.append(ev.found(ep, at=ev.at(60 * 3), found={
            "postcode": "SW9 7AA", "address": "12 Stockwell Road",
            "area": "lambeth"},
            indicators=["missing_overnight_or_longer"]))
        out.append(ev.closed(ep, at=ev.at(60)))
    out.append(ev.indicator(child, "unexplained_money_gifts",
        source="school", at=ev.at(60)))
    return out


# ---- usage, help and no daemon ----

def test_usage_and_help():
    """Usage errors exit 2 with a usage line; --help on every command
    exits 0; -V prints the version."""
    rc, out, err = ctl()
    check_eq(rc, 2, "no command: exit 2")
    check("usage: misperctl" in err, "no command: usage on stderr")
    rc, out, err = ctl("--help")
    check_eq(rc, 0, "--help: exit 0")
    for c in CMDS:
        check(re.search(r"^  %s\b" % re.escape(c), out, re.M) is not None,
            "--help lists %s" % c)
    for c in CMDS:
        rc, out, err = ctl(c, "--help")
        check_eq(rc, 0, "%s --help: exit 0" % c)
        check(out.startswith("usage: misperctl [options] %s" % c),
            "%s --help starts with its usage" % c, out[:80])
    rc, out, _ = ctl("help", "ack")
    check(rc == 0 and "--by NAME" in out, "help ack: the ack help")
    rc, out, _ = ctl("-V")
    check(rc == 0 and out.startswith("misperctl "), "-V: the version")
    bad = [
        (["frobnicate"], "no command \"frobnicate\""),
        (["alerts", "--limit", "0"], "--limit must be a whole number"),
        (["alerts", "--limit", "1x"], "--limit must be a whole number"),
        (["alerts", "--since", "yesterday"], "--since must be an RFC 3339"),
        (["alerts", "--frob"], "unknown option --frob"),
        (["alerts", "extra"], "usage: misperctl [options] alerts"),
        (["brief"], "usage: misperctl [options] brief"),
        (["brief", "--limit", "6000", "C-1"], "--limit must be"),
        (["alert"], "usage: misperctl [options] alert"),
        (["ack", "A-1"], "--by NAME is required"),
        (["ack", "A-1", "--by"], "option --by needs a value"),
        (["status", "now"], "usage: misperctl [options] status"),
        (["-S", "a.sock", "-H", "127.0.0.1:1", "status"], "give one"),
        (["-t", "soon", "status"], "-t wants a duration"),
        (["-t", "0", "status"], "-t wants a duration"),
        (["send", "/nonexistent/events.ndjson"],
            "cannot open /nonexistent/events.ndjson"),
        (["send", "a", "b"], "usage: misperctl [options] send"),
        (["replay", STREAM], "replay needs --rules FILE"),
        (["replay", STREAM, "--rules", RULES, "--until", "later"],
            "--until must be an RFC 3339"),
        (["check-rules"], "usage: misperctl [options] check-rules"),
        (["-c", "/nonexistent/misperd.yaml", "status"],
            "cannot read the daemon's configuration"),
    ]
    for args, want in bad:
        rc, out, err = ctl(*args)
        check_eq(rc, 2, "%s: exit 2" % " ".join(args))
        check(want in err, "%s: says %r" % (" ".join(args), want), err)


def test_daemon_not_running():
    """With no daemon: exit 3, naming the socket and the option to fix."""
    tmp = tempfile.mkdtemp(prefix="misperctl-it.")
    try:
        sock = os.path.join(tmp, "none.sock")
        for c in (["status"], ["alerts"], ["brief", "C-1"], ["alert", "A-1"],
                ["ack", "A-1", "--by", "X"], ["rules"], ["reload"]):
            rc, out, err = ctl("-S", sock, *c)
            check_eq(rc, 3, "%s: exit 3" % c[0])
            check("cannot connect to the API socket %s" % sock in err and
                "check that misperd is running" in err and "-S PATH" in err,
                "%s: names the socket and -S" % c[0], err)
        rc, out, err = ctl("-E", sock, "send", stdin="{}\n")
        check_eq(rc, 3, "send: exit 3")
        check("cannot connect to the event socket %s" % sock in err and
            "-E PATH" in err, "send: names the event socket and -E", err)
        port = free_port()
        rc, out, err = ctl("-H", "127.0.0.1:%d" % port, "status")
        check_eq(rc, 3, "status over TCP: exit 3")
        check("127.0.0.1:%d" % port in err and "-H HOST:PORT" in err,
            "TCP: names the address and -H", err)
        rc, out, err = ctl("status", cwd=tmp)
        check(rc == 3 and "misperd-api.sock (the default)" in err,
            "the default API socket is misperd-api.sock", err)
        rc, out, err = ctl("status", env={"MISPERD_API_SOCKET": sock})
        check(rc == 3 and sock in err and "$MISPERD_API_SOCKET" in err,
            "MISPERD_API_SOCKET chooses the API socket", err)
        rc, out, err = ctl("send", stdin="{}\n", env={
            "MISPERD_SOCKET": sock})
        check(rc == 3 and sock in err and "$MISPERD_SOCKET" in err,
            "MISPERD_SOCKET chooses the event socket", err)
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


# ---- send ----

def test_send_rejections_and_summary():
    """send: every rejected line named with its number, error, field and
    message; the summary counts; a last line without LF is a line."""
    d = Daemon().start()
    ev = Events("S1")
    good = ev.reported("S1-MP-1", "S1-C-1")
    lines = [
        line(good),                                        # 1 accepted
        "not json",                                        # 2 bad_json
        "",                                                # 3 bad_json
        line(good),                                        # 4 duplicate
        line(ev.make("episode.found", episode="S1-MP-404",
            found={"postcode": "CR0 1AA"})),               # 5 unknown_episode
        line(ev.reported("S1-MP-2", {"id": "S1-C-2",
            "dob": "2030-01-01"})),                        # 6 bad_field child.dob
        line(ev.reported("S1-MP-3", "S1-C-3")),            # 7 accepted
    ]
    last = line(ev.make("episode.closed", episode="S1-MP-3"))   # 8, no LF
    data = "\n".join(lines) + "\n" + last
    path = write(d, "events.ndjson", data)

    step("send a file of 8 lines, 4 of them wrong, the last without LF")
    rc, out, err = ctl("send", path, d=d)
    check_eq(rc, 1, "some lines rejected: exit 1")
    check_eq(out.strip(), "sent 8, accepted 3, duplicates 1, rejected 4, "
        "alerts raised 0", "the summary")
    errs = err.strip().splitlines()
    check_eq(len(errs), 4, "one stderr line per rejected line")
    check(errs[0].startswith("line 2: bad_json: "), "line 2: bad_json",
        errs[0])
    check(errs[1].startswith("line 3: bad_json: "), "line 3: bad_json",
        errs[1])
    check(errs[2].startswith("line 5: unknown_episode episode: episode "
        "S1-MP-404"), "line 5: unknown_episode, field episode", errs[2])
    check(errs[3].startswith("line 6: bad_field child.dob: "),
        "line 6: bad_field, field child.dob", errs[3])
    rc2, out2, err2 = ctl("send", "-", d=d, stdin=data)
    check_eq(rc2, 1, "the same from stdin: exit 1")
    check_eq(out2.strip(), "sent 8, accepted 0, duplicates 4, rejected 4, "
        "alerts raised 0", "stdin: the events are duplicates now")
    check_eq(err2, err, "stdin: the same rejections")
    check_eq(d.query("SELECT count(*) FROM events WHERE id LIKE 'S1-%'")[0][0],
        3, "the daemon stored the 3 accepted events")

    step("--json: the summary as one object; -r: every reply")
    rc, out, err = ctl("--json", "send", "-r", path, d=d)
    outl = out.strip().splitlines()
    check_eq(len(outl), 9, "8 replies and the summary")
    replies = [json.loads(l) for l in outl[:8]]
    check_eq([r["ok"] for r in replies], [True, False, False, True, False,
        False, True, True], "replies in line order")
    check_eq(json.loads(outl[8]), {"sent": 8, "accepted": 0,
        "duplicates": 4, "rejected": 4, "alerts_raised": 0,
        "unanswered": 0}, "the JSON summary")

    step("all good: exit 0; alerts raised are counted")
    hist = repeat_history("S2", "S2-C-1")
    rc, out, err = ctl("send", d=d, stdin="\n".join(map(line, hist)) + "\n")
    check_eq(rc, 0, "exit 0")
    m = re.match(r"sent (\d+), accepted (\d+), duplicates 0, rejected 0, "
        r"alerts raised (\d+)$", out.strip())
    check(m is not None, "summary", out)
    check_eq(int(m.group(1)), len(hist), "sent: every line")
    check(int(m.group(3)) >= 1, "at least repeat_3_in_90d was raised",
        m.group(3))
    # deadlines may add alerts of their own, in no reply
    check(int(m.group(3)) <= d.query("SELECT count(*) FROM alerts")[0][0],
        "the alerts raised are in the database")
    check_eq(err, "", "nothing on stderr")


def test_send_large_no_deadlock():
    """10,000 lines through a daemon whose output buffer is 4 KiB: the
    daemon stops reading until misperctl reads its replies, so a client
    that wrote everything first would deadlock."""
    d = Daemon(limits={"max_output_bytes": "4096"}).start()
    ev = Events("L")
    lines = []
    for i in range(2500):
        ep = "L-MP-%05d" % i
        child = "L-C-%04d" % (i % 997)
        lines.append(line(ev.reported(ep, child)))
        lines.append(line(ev.updated(ep)))
        lines.append(line(ev.found(ep)))
        lines.append(line(ev.closed(ep)))
    check_eq(len(lines), 10000, "10,000 lines")
    path = write(d, "big.ndjson", "\n".join(lines) + "\n")
    rc, out, err = ctl("-t", "60s", "--json", "send", "-r", path, d=d,
        timeout=300)
    check_eq(rc, 0, "exit 0")
    outl = out.splitlines()
    check_eq(len(outl), 10001, "10,000 replies (-r) and the summary")
    replies = [json.loads(l) for l in outl[:10000]]
    check(all(r["ok"] and not r.get("duplicate") for r in replies),
        "every line accepted")
    check_eq([r["id"] for r in replies[:8]], [json.loads(l)["id"]
        for l in lines[:8]], "replies in line order")
    raised = sum(len(r["alerts"]) for r in replies)
    check_eq(json.loads(outl[10000]), {"sent": 10000, "accepted": 10000,
        "duplicates": 0, "rejected": 0, "alerts_raised": raised,
        "unanswered": 0}, "summary: 10,000 sent and accepted, and the "
        "alerts of the replies (%d)" % raised)
    check_eq(d.event_count(), 10000, "10,000 events stored")


def ctl_out(out, *args, d=None, stdin=None, timeout=120):
    """Run misperctl (as ctl()) with standard output on the file
    descriptor out; returns (exit status, stderr as text).  A status
    below 0 is the signal that killed it."""
    argv = misper.wrap_ctl([ctl_path()]) + (["-c", d.conf] if d is not None
        else [])
    e = dict(os.environ)
    e.pop("MISPERD_API_SOCKET", None)
    e.pop("MISPERD_SOCKET", None)
    p = subprocess.run(argv + [str(a) for a in args], stdout=out,
        stderr=subprocess.PIPE, stdin=stdin or subprocess.DEVNULL,
        timeout=timeout * misper.TIMEOUT_SCALE, env=e)
    return p.returncode, p.stderr.decode()


def gone_reader():
    """The write end of a pipe whose reader has gone, as after
    `misperctl ... | head` once head has exited (no race: the read end
    is closed before misperctl starts)."""
    r, w = os.pipe()
    os.close(r)
    return w


def test_output_reader_gone():
    """Standard output a pipe whose reader has gone (misperctl ... |
    head): no message, death by SIGPIPE (141 in the shell) as any filter;
    send still sends every line.  Other write errors (/dev/full) are
    still reported, exit 1."""
    w = gone_reader()
    try:
        rc, err = ctl_out(w, "check-rules", RULES)
        check_eq((rc, err), (-signal.SIGPIPE, ""), "check-rules: killed "
            "by SIGPIPE, nothing on stderr")
        d = Daemon().start()
        rc, err = ctl_out(w, "send", "-r", STREAM, d=d)
        check_eq((rc, err), (-signal.SIGPIPE, ""), "send -r: killed by "
            "SIGPIPE, nothing on stderr")
        check_eq(d.event_count(), 600, "every line of the stream sent "
            "and stored although no one read the replies")
        need(d, "GET", "/v1/alerts", "alerts")
        rc, err = ctl_out(w, "alerts", d=d)
        check_eq((rc, err), (-signal.SIGPIPE, ""), "alerts: killed by "
            "SIGPIPE, nothing on stderr")
    finally:
        os.close(w)
    step("a reader that stays: exit 0 and the output")
    rc, out, err = ctl("alerts", d=d)
    check(rc == 0 and out.count("\n") > 1 and err == "",
        "alerts: exit 0, a table, nothing on stderr", (rc, out[:200], err))
    d.stop()
    if not os.path.exists("/dev/full"):
        say("    (no /dev/full here: the disk-full case is not run)")
        return
    step("a full disk is an error worth a message")
    with open("/dev/full", "wb") as full:
        rc, err = ctl_out(full.fileno(), "check-rules", RULES)
    check_eq((rc, err), (1, "misperctl: writing the output: No space left "
        "on device\n"), "/dev/full: reported, exit 1")


def stub_server(path, behaviour):
    """A Unix socket that takes one connection and behaves as told:
    'two-then-close' reads to EOF, answers two lines and closes; 'silent'
    reads and never answers.  Stands in for a daemon that fails mid-stream,
    which the real one does not do on demand."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    s.settimeout(30)
    done = threading.Event()

    def serve():
        try:
            c, _ = s.accept()
            c.settimeout(30)
            if behaviour == "two-then-close":
                while c.recv(65536):
                    pass
                c.sendall(b'{"ok":true,"id":"a","seq":1,"alerts":[]}\n'
                    b'{"ok":true,"id":"b","seq":2,"alerts":["A-1"]}\n')
                c.close()
            else:
                done.wait(30)
                c.close()
        except OSError:
            pass
        finally:
            s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return done, t


def test_send_daemon_closes_early():
    """The daemon closes before every line has its reply (exit 3, the
    lines without one named), stops answering (exit 3 after -t), or
    refuses the connection (too many connections: exit 3)."""
    tmp = tempfile.mkdtemp(prefix="misperctl-it.")
    try:
        five = "".join('{"n":%d}\n' % i for i in range(5))
        sock = os.path.join(tmp, "stub.sock")
        done, t = stub_server(sock, "two-then-close")
        rc, out, err = ctl("-E", sock, "send", stdin=five, timeout=60)
        t.join(10)
        check_eq(rc, 3, "closed early: exit 3")
        check_eq(out.strip(), "sent 5, accepted 2, duplicates 0, rejected 0, "
            "alerts raised 1, no reply 3", "the summary counts no reply")
        check("lines 3 to 5 got no reply" in err and
            "resend from line 3" in err, "names the lines", err)

        sock2 = os.path.join(tmp, "stub2.sock")
        done, t = stub_server(sock2, "silent")
        t0 = time.monotonic()
        rc, out, err = ctl("-E", sock2, "-t", "1s", "send", stdin=five,
            timeout=60)
        done.set()
        t.join(10)
        check_eq(rc, 3, "no answer: exit 3 after the timeout")
        check("no reply from the daemon for 1 s" in err and
            "lines 1 to 5 got no reply" in err, "says so", err)
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)

    step("the real daemon at its connection limit")
    d = Daemon(limits={"max_connections": "1"}).start()
    with d.unix() as held:
        held.send(line(Events("H").reported("H-MP-1", "H-C-1")))
        held.reply()
        rc, out, err = ctl("send", d=d, stdin=five)
        check_eq(rc, 3, "refused: exit 3")
        # the refusal may come before or after misperctl wrote the lines
        check("the daemon refused the connection: too many connections"
            in err and ("lines 1 to 5 got no reply" in err or
            "the input from line 1 on was not sent" in err) and
            "resend from line 1" in err, "says the daemon refused it", err)
        check(re.match(r"sent [05], accepted 0, duplicates 0, rejected 0",
            out) is not None, "no line counted as answered", out)

    step("the daemon stops (SIGTERM) while the input is still open")
    d2 = Daemon().start()
    p = subprocess.Popen(misper.wrap_ctl([ctl_path(), "-c", d2.conf, "send"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        ev = Events("T")
        p.stdin.write(("\n".join(line(ev.reported("T-MP-%d" % i, "T-C-1"))
            for i in range(3)) + "\n").encode())
        p.stdin.flush()
        deadline = time.monotonic() + 30
        while d2.event_count() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        check_eq(d2.event_count(), 3, "the 3 lines are stored")
        d2.signal(signal.SIGTERM)
        # stdin stays open: misperctl must notice the daemon closing
        p.wait(timeout=60)
        out, err = p.stdout.read(), p.stderr.read()
        p.stdin.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check_eq(p.returncode, 3, "exit 3")
    out, err = out.decode(), err.decode()
    check("the daemon closed the connection after 3 replies" in err and
        "the input from line 4 on was not sent" in err, "says what was not "
        "sent", err)
    check(out.startswith("sent 3, accepted 3"), "the summary", out)


# ---- local commands ----

def test_check_rules_as_misperd():
    """check-rules prints exactly what misperd --check-rules prints, with
    the same exit status, for a good and a bad file."""
    bad_dir = os.path.join(srcdir(), "tests", "rules", "bad")
    bads = sorted(os.listdir(bad_dir))[:3]
    for path in [RULES] + [os.path.join(bad_dir, b) for b in bads]:
        want = subprocess.run(misper.wrap([daemon_path(), "--check-rules", path]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        rc, out, err = ctl("check-rules", path)
        check_eq(rc, want.returncode, "%s: same exit status" %
            os.path.basename(path))
        check_eq(out, want.stdout.decode(), "%s: same stdout" %
            os.path.basename(path))
        check_eq(err, want.stderr.decode(), "%s: same stderr" %
            os.path.basename(path))
    check_eq(ctl("check-rules", RULES)[0], 0, "the shipped rules: exit 0")


def test_replay_as_misperd():
    """replay prints exactly what misperd --replay prints (alerts on
    stdout, summary on stderr, exit status), alone and --against."""
    with tempfile.TemporaryDirectory(prefix="misperctl-it.") as tmp:
        other = os.path.join(tmp, "other.yaml")
        with open(RULES) as f:
            text = f.read()
        # a stricter repeat rule: review at 2 episodes
        text2 = text.replace("thresholds: {review: 3, urgent: 5}",
            "thresholds: {review: 2, urgent: 5}", 1)
        check(text2 != text, "made a second rules file")
        with open(other, "w") as f:
            f.write(text2)
        bad = os.path.join(tmp, "bad.ndjson")
        with open(STREAM) as f:
            head = f.read().splitlines()[:50]
        with open(bad, "w") as f:
            f.write("\n".join(head[:20] + ["{broken"] + head[20:]) + "\n")
        for args in ([STREAM, "--rules", RULES],
                [STREAM, "--rules", RULES, "--against", other],
                [STREAM, "--rules", RULES, "--until",
                    "2027-01-01T00:00:00Z"],
                [bad, "--rules", RULES]):
            margs = ["--replay"] + args
            want = subprocess.run(misper.wrap([daemon_path()] + margs),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            rc, out, err = ctl("replay", *args, timeout=300)
            what = " ".join(os.path.basename(a) for a in args)
            check_eq(rc, want.returncode, "%s: same exit status (%d)" % (
                what, want.returncode))
            check(out == want.stdout.decode(), "%s: same alerts (%d lines)"
                % (what, out.count("\n")))
            check_eq(err, want.stderr.decode(), "%s: same summary" % what)
        check(ctl("replay", STREAM, "--rules", RULES)[1].count("\n") > 100,
            "the example stream raises alerts")
        check_eq(ctl("replay", bad, "--rules", RULES)[0], 1,
            "a refused line: exit 1")


# ---- the API commands ----

def test_rules_and_reload():
    """rules: the loaded rules and indicators; reload: 0 when the file is
    good, 1 with every file:line:col error when it is not."""
    tmp = tempfile.mkdtemp(prefix="misperctl-it.")
    rules = os.path.join(tmp, "rules.yaml")
    with open(RULES) as f:
        text = f.read()
    with open(rules, "w") as f:
        f.write(text)
    try:
        rules_and_reload(rules, text)
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def rules_and_reload(rules, text):
    d = Daemon(rules=rules).start()
    need(d, "GET", "/v1/rules", "rules")
    status, _, api = d.http_get("/v1/rules")
    rc, out, err = ctl("rules", d=d)
    check_eq(rc, 0, "rules: exit 0")
    check(api["version"] in out, "shows the version")
    for r in api["rules"]:
        check(re.search(r"^  %s\s+%s\s" % (r["id"], r["kind"]), out, re.M)
            is not None, "lists rule %s (%s)" % (r["id"], r["kind"]))
    check(re.search(r"^  repeat_3_in_90d\s+repeat\s+review>=3, urgent>=5\s",
        out, re.M) is not None, "repeat_3_in_90d's thresholds")
    for i in api["indicators"]:
        check(re.search(r"^  %s\s" % i["id"], out, re.M) is not None,
            "lists indicator %s" % i["id"])
    rc, out, err = ctl("--json", "rules", d=d)
    check(rc == 0 and json.loads(out)["rules"] == api["rules"],
        "--json: the API's document")

    need(d, "POST", "/v1/rules/reload", "reload")
    rc, out, err = ctl("reload", d=d)
    check_eq(rc, 0, "reload: exit 0")
    check_eq(out.strip(), "rules reloaded, unchanged: %s" % api["version"],
        "reload: unchanged")
    step("a broken rules file: exit 1, the errors, the old rules stay")
    with open(rules, "w") as f:
        f.write("rules:\n  - id: x\n    kind: nonsense\n")
    rc, out, err = ctl("reload", d=d)
    check_eq(rc, 1, "reload of a bad file: exit 1")
    check("(rules_invalid)" in err, "says rules_invalid", err)
    check(re.search(r"^%s:\d+:\d+: " % re.escape(rules), err, re.M)
        is not None, "each error as file:line:col", err)
    rc, out, err = ctl("--json", "reload", d=d)
    check(rc == 1 and json.loads(out)["error"] == "rules_invalid",
        "--json: the error document on stdout")
    check_eq(d.http_get("/v1/rules")[2]["version"], api["version"],
        "the running rules stay")
    step("a changed file: the new version")
    with open(rules, "w") as f:
        f.write(text.replace("thresholds: {review: 3, urgent: 5}",
            "thresholds: {review: 2, urgent: 5}", 1))
    rc, out, err = ctl("reload", d=d)
    new = d.http_get("/v1/rules")[2]["version"]
    check(rc == 0 and new != api["version"], "reload: exit 0, new version")
    check_eq(out.strip(), "rules reloaded: %s (was %s)" % (new,
        api["version"]), "says the new and old versions")


def test_status():
    """status: version, uptime, rules, counts and queues; --json as is."""
    d = Daemon().start()
    need(d, "GET", "/v1/status", "status")
    ctl("send", STREAM, d=d)
    rc, out, err = ctl("status", d=d)
    check_eq(rc, 0, "exit 0")
    _, _, st = d.http_get("/v1/status")
    check(out.startswith("misperd %s, up " % st["version"]),
        "first line: version and uptime", out.splitlines()[0])
    check(re.search(r"^  store\s.*events 600\b", out, re.M) is not None,
        "the store has 600 events", out)
    check(st["rules"]["version"] in out, "the rules version")
    for k in st:
        if k not in ("version", "started_at", "uptime_s"):
            check(re.search(r"^  %s\s" % k, out, re.M) is not None,
                "shows %s" % k)
    rc, out, err = ctl("--json", "status", d=d)
    check(rc == 0 and json.loads(out)["store"]["events"] == 600,
        "--json: the API's document")


def test_alerts_alert_ack():
    """alerts (filters, paging), alert (evidence, acknowledgement,
    deliveries), ack (then already acknowledged: exit 1), unknown alert:
    exit 1."""
    d = Daemon().start()
    need(d, "GET", "/v1/alerts", "alerts")
    hist = repeat_history("AL", "AL-C-1")
    rc, out, err = ctl("send", d=d, stdin="\n".join(map(line, hist)) + "\n")
    check_eq(rc, 0, "history sent")
    _, _, api = d.http_get("/v1/alerts?limit=1000")
    ids = [a["alert"] for a in api["alerts"]]
    check(len(ids) >= 1, "the daemon raised alerts", ids)
    rc, out, err = ctl("alerts", d=d)
    check_eq(rc, 0, "alerts: exit 0")
    # the history's past return interview deadline fires at a tick, which
    # may fall between the two requests (it did under valgrind)
    _, _, after = d.http_get("/v1/alerts?limit=1000")
    rows = out.strip().splitlines()
    check(rows[0].split()[:4] == ["ALERT", "RAISED", "LEVEL", "RULE"],
        "a header row", rows[0])
    got = [r.split()[0] for r in rows[1:]]
    check(got in (ids, [a["alert"] for a in after["alerts"]]),
        "every alert, newest first, as the API lists them", "got %r; the "
        "API before %r, after %r" % (got, ids,
        [a["alert"] for a in after["alerts"]]))
    rep = [a for a in api["alerts"] if a["rule"] == "repeat_3_in_90d"]
    check_eq(len(rep), 1, "one repeat_3_in_90d alert")
    a1 = rep[0]["alert"]
    rc, out, err = ctl("alerts", "--child", "AL-C-1", "--open", "--since",
        "2000-01-01T00:00:00+01:00", d=d)
    check(rc == 0 and a1 in out, "--child --open --since: exit 0, lists it")
    rc, out, err = ctl("alerts", "--child", "NOBODY", d=d)
    check(rc == 0 and out.strip() == "no alerts", "no match: 'no alerts'")
    if len(ids) > 1:
        rc, out, err = ctl("alerts", "--limit", "1", d=d)
        check(rc == 0 and out.count("\n") == 3 and "(more: add --before" in
            out, "--limit 1: one row and how to get more", out)

    rc, out, err = ctl("alert", a1, d=d)
    check_eq(rc, 0, "alert: exit 0")
    check(out.startswith("Alert %s (seq " % a1), "the heading", out[:40])
    check(re.search(r"^  rule\s+repeat_3_in_90d$", out, re.M) is not None,
        "the rule")
    check(re.search(r"^  level\s+review$", out, re.M) is not None,
        "the level")
    _, _, one = d.http_get("/v1/alerts/" + a1)
    check_eq(len(one["alert"]["evidence"]), 3, "3 events of evidence")
    for e in one["alert"]["evidence"]:
        check(e["event"] in out, "evidence %s shown" % e["event"])
    check("not acknowledged" in out, "not acknowledged yet")
    check("\nDeliveries\n" in out and "\nAttempts\n" in out and
        "\nEscalations\n" in out, "deliveries, attempts, escalations")

    rc, out, err = ctl("alert", "A-999999", d=d)
    check_eq(rc, 1, "unknown alert: exit 1")
    check("(unknown_alert)" in err, "says unknown_alert", err)
    rc, out, err = ctl("--json", "alert", "A-999999", d=d)
    check(rc == 1 and json.loads(out)["error"] == "unknown_alert",
        "--json: the error document on stdout")

    need(d, "POST", "/v1/alerts/%s/ack" % "A-0", "ack")
    rc, out, err = ctl("ack", a1, "--by", "PS 1234 Smith", "--note",
        "strategy meeting booked", d=d)
    check_eq(rc, 0, "ack: exit 0")
    check(re.match(r"%s acknowledged by PS 1234 Smith at \d{4}-" % a1, out)
        is not None, "says who and when", out)
    rc, out, err = ctl("ack", a1, "--by", "DC 99 Jones", d=d)
    check_eq(rc, 1, "again: exit 1")
    check("PS 1234 Smith" in err and "(already_acknowledged)" in err,
        "says by whom it was acknowledged", err)
    rc, out, err = ctl("ack", "A-999999", "--by", "X", d=d)
    check(rc == 1 and "(unknown_alert)" in err, "unknown alert: exit 1")
    rc, out, err = ctl("alert", a1, d=d)
    check(re.search(r"^  by\s+PS 1234 Smith$", out, re.M) and
        re.search(r"^  note\s+strategy meeting booked$", out, re.M),
        "alert shows the acknowledgement", out)
    rc, out, err = ctl("alerts", "--open", d=d)
    check(a1 not in out.split(), "--open leaves it out now")
    rc, out, err = ctl("alerts", "--child", "AL-C-1", d=d)
    check(re.search(r"^%s\s.*PS 1234 Smith" % a1, out, re.M) is not None,
        "alerts shows who acknowledged it", out)


def test_http_ack_seen_by_cli_and_stream():
    """An alert acknowledged over HTTP shows as acknowledged in misperctl
    (alert, alerts --open) and reaches a subscriber stream that was sent
    it as an "ack" line."""
    d = Daemon().start()
    hist = repeat_history("HA", "HA-C-1")
    sub = d.sub_unix()
    r = sub.request({"cmd": "subscribe", "routes": ["mpu"]})
    check(r.get("ok") is True, "a stream subscribed to mpu")
    rc, out, err = ctl("send", d=d, stdin="\n".join(map(line, hist)) + "\n")
    check_eq(rc, 0, "history sent")
    _, _, api = d.http_get("/v1/alerts?child=HA-C-1")
    a1 = [a["alert"] for a in api["alerts"]
        if a["rule"] == "repeat_3_in_90d"][0]
    seen = []
    while a1 not in seen:
        x = json.loads(sub.recv_line(10))
        seen.append(x.get("alert"))
    step("acknowledge %s over HTTP" % a1)
    st, _, body = d.http_post("/v1/alerts/%s/ack" % a1,
        {"by": "DS 42 Patel", "note": "visit arranged"})
    check_eq(st, 200, "HTTP ack: 200")
    rc, out, err = ctl("alert", a1, d=d)
    check(rc == 0 and re.search(r"^  by\s+DS 42 Patel$", out, re.M) and
        re.search(r"^  note\s+visit arranged$", out, re.M),
        "misperctl alert shows who acknowledged it and the note", out)
    rc, out, err = ctl("alerts", "--open", "--child", "HA-C-1", d=d)
    check(rc == 0 and a1 not in out.split(), "alerts --open leaves it out")
    while True:
        x = json.loads(sub.recv_line(10))
        if x.get("ack") == a1:
            break
    check_eq((x["by"], x["via"][:5]), ("DS 42 Patel", "http:"),
        "the stream got an ack line naming who and the channel")
    sub.close()
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


def test_brief():
    """brief: a scripted history gives the right counts, levels, scores
    with weights and sources, alerts and episodes; unknown child: exit 1."""
    d = Daemon().start()
    need(d, "GET", "/v1/children/X", "brief")
    hist = repeat_history("BR", "BR-C-1")
    rc, out, err = ctl("send", d=d, stdin="\n".join(map(line, hist)) + "\n")
    check_eq(rc, 0, "history sent")
    _, _, api = d.http_get("/v1/children/BR-C-1")
    rc, out, err = ctl("brief", "BR-C-1", d=d)
    check_eq(rc, 0, "brief: exit 0")
    check(out.startswith("Child BR-C-1"), "the heading", out[:60])
    check(re.search(r"^  episodes in 90 days\s+3$", out, re.M) is not None,
        "3 episodes in 90 days", out)
    check(re.search(r"^  looked after\s+yes$", out, re.M) is not None,
        "looked after")
    check(re.search(r"^  flags\s+known_cse_risk$", out, re.M) is not None,
        "the child's flags")
    check(re.search(r"^  repeat_3_in_90d\s+review$", out, re.M) is not None,
        "repeat_3_in_90d at review", out)
    for a in api["alerts"]:
        check(re.search(r"^  %s\s" % a["alert"], out, re.M) is not None,
            "alert %s listed" % a["alert"])
    for e in api["episodes"]:
        check(re.search(r"^  %s\s" % e["episode"], out, re.M) is not None,
            "episode %s listed" % e["episode"])
    check(re.search(r"unexplained_money_gifts\s.*\s3\s+cse\s+school", out)
        is not None, "an indicator with its weight, group and source", out)
    check(re.search(r"^  cumulative_cse_score: score \d", out, re.M)
        is not None, "the score")
    check("12 Stockwell Road, SW9 7AA" in out, "where found")
    rc, out, err = ctl("brief", "--limit", "2", "BR-C-1", d=d)
    tl = out.split("Timeline (newest first)\n", 1)[1].strip().splitlines()
    check_eq(len(tl), 3, "--limit 2: a header and 2 timeline events")
    rc, out, err = ctl("--json", "brief", "BR-C-1", d=d)
    check(rc == 0 and json.loads(out)["child"] == "BR-C-1",
        "--json: the API's document")
    rc, out, err = ctl("brief", "NOBODY-9", d=d)
    check_eq(rc, 1, "unknown child: exit 1")
    check("NOBODY-9" in err and "(unknown_child)" in err, "says which", err)


def test_sockets_by_option_env_and_tcp():
    """-S/-E, the environment, and -H (HTTP over TCP) reach the same
    daemon as -c."""
    d = Daemon().start()
    ev = Events("O")
    one = line(ev.reported("O-MP-1", "O-C-1")) + "\n"
    rc, out, err = ctl("-E", d.sock, "send", stdin=one)
    check(rc == 0 and out.startswith("sent 1, accepted 1"), "-E PATH")
    rc, out, err = ctl("-T", "127.0.0.1:%d" % d.port, "send", stdin=one)
    check(rc == 0 and out.startswith("sent 1, accepted 0, duplicates 1"),
        "-T HOST:PORT")
    rc, out, err = ctl("send", stdin=one, env={"MISPERD_SOCKET": d.sock})
    check(rc == 0 and "duplicates 1" in out, "MISPERD_SOCKET")
    need(d, "GET", "/v1/rules", "the API by option")
    want = ctl("--json", "rules", d=d)[1]
    check(want != "", "the API answers -c")
    rc, out, err = ctl("-S", d.api_sock, "--json", "rules")
    check(rc == 0 and out == want, "-S PATH")
    if d.api_port is None:
        raise Fail("no API TCP port was logged")
    rc, out, err = ctl("-H", "127.0.0.1:%d" % d.api_port, "--json", "rules")
    check(rc == 0 and out == want, "-H HOST:PORT (HTTP over TCP)")
    rc, out, err = ctl("--json", "rules", env={
        "MISPERD_API_SOCKET": d.api_sock})
    check(rc == 0 and out == want, "MISPERD_API_SOCKET")
    rc, out, err = ctl("rules", "--json", d=d)
    check(rc == 0 and out == want, "--json after the command too")


def http_stub(path, answers):
    """A Unix socket answering each connection with the next of answers
    (bytes, sent as is after the request's headers, then closed): to check
    misperctl's HTTP client on answers misperd does not give (chunked
    coding, 1xx, bodies to the close, broken answers)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(len(answers))
    s.settimeout(30)
    requests = []

    def serve():
        try:
            for a in answers:
                c, _ = s.accept()
                c.settimeout(30)
                req = b""
                while b"\r\n\r\n" not in req:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    req += chunk
                requests.append(req)
                c.sendall(a)
                c.close()
        except OSError:
            pass
        finally:
            s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t, requests


def test_http_client():
    """misperctl's HTTP client: the request it sends; chunked, 1xx and
    read-to-close answers taken; broken answers refused (exit 3)."""
    doc = b'{"version":"9.9","started_at":"x","uptime_s":61}'
    ok = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(doc), doc),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (
            doc[:5], len(doc) - 5, doc[5:]),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(doc), doc),
        b"HTTP/1.0 200 OK\r\n\r\n" + doc,
    ]
    bad = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" + doc,
            "closed before the answer was complete"),
        (b"ICY 200 OK\r\n\r\n" + doc, "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n" + doc,
            "folded header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6"
            b"\r\n\r\n" + doc, "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" + doc,
            "a transfer coding other than chunked"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n", "a malformed chunk size line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!",
            "is not a JSON object"),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!",
            "does not serve /v1/status"),
    ]
    with tempfile.TemporaryDirectory(prefix="misperctl-it.") as tmp:
        sock = os.path.join(tmp, "api.sock")
        t, reqs = http_stub(sock, ok + [a for a, _ in bad])
        for i, a in enumerate(ok):
            rc, out, err = ctl("-S", sock, "--json", "status")
            check(rc == 0 and out == doc.decode() + "\n", "answer %d "
                "taken: the body as is" % (i + 1), (rc, out, err))
        req = reqs[0]
        check(req.startswith(b"GET /v1/status HTTP/1.1\r\n") and
            b"\r\nConnection: close\r\n" in req and
            b"\r\nHost: localhost\r\n" in req, "the request line and "
            "headers", req)
        for i, (a, want) in enumerate(bad):
            rc, out, err = ctl("-S", sock, "status")
            check(rc == (1 if b" 404 " in a else 3) and want in err,
                "broken answer %d: %s" % (i + 1, want), (rc, err))
        t.join(10)
    rc, out, err = ctl("-S", sock, "status")
    check(rc == 3, "and with the stub gone: exit 3")


run([
    test_usage_and_help,
    test_daemon_not_running,
    (test_send_rejections_and_summary, 120),
    (test_send_large_no_deadlock, 300),
    (test_send_daemon_closes_early, 180),
    (test_check_rules_as_misperd, 120),
    (test_replay_as_misperd, 600),
    test_rules_and_reload,
    test_status,
    test_output_reader_gone,
    test_alerts_alert_ack, test_http_ack_seen_by_cli_and_stream,
    test_brief,
    test_sockets_by_option_env_and_tcp,
    test_http_client,
])
