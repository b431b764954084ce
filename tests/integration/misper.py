# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Harness for misperd's integration tests: runs the real daemon.

Each test gets a fresh temporary directory holding a generated
misperd.yaml (Unix sockets for events, alert streams and the HTTP API,
TCP on 127.0.0.1 port 0 for each, database, the shipped rules), starts
`$MISPERD -f -c <dir>/misperd.yaml` with stderr to <dir>/misperd.log,
waits (bounded) for the "ready" log line and reads the real TCP ports
from the "listening on tcp:HOST:PORT" lines (and their kin).  Clients speak the
NDJSON protocol over the Unix socket or TCP with timeouts everywhere.
Whatever happens, the daemon is killed and the directory removed at the end
of the test (set MISPER_KEEP=1 to keep directories for a post-mortem).

Environment: MISPERD (the built daemon) and MISPER_SRCDIR (the source
tree), as automake's AM_TESTS_ENVIRONMENT sets them; MISPER_RULES
overrides the rules file, MISPER_SHARED the shared/ directory (test data).
Without MISPERD the tests are skipped (77).

Running under a checker (scripts/valgrind.sh, docs/testing.md):
MISPERD_WRAPPER is a command line (split as by a shell) put in front of
every daemon the harness starts, and tests that run misperd or misperctl
themselves go through wrap() and wrap_ctl(); MISPERCTL_WRAPPER wraps
misperctl alone (default: MISPERD_WRAPPER).  MISPER_TIMEOUT_SCALE
multiplies the start-up, reply, log and stop waits and each test's alarm
(default 1, or 25 under a wrapper: valgrind is 20-50x slower).  Each
test function's name is in the environment as MISPER_TEST
("test_http.test_brief"), so a wrapper can name its log after it
(valgrind: --log-file=DIR/%q{MISPER_TEST}.%p.log).

A test file ends with misper.run([...]): each test function runs under an
alarm, prints what it does and every check, and the file exits 0 (pass),
1 (a failure) or 77 (all skipped).  Test names given as arguments run
only those:  MISPERD=... python3 test_lifecycle.py test_sighup

Standard library only.
"""

import collections
import http.client
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77


def wrapper():
    """The command line put in front of the daemon (MISPERD_WRAPPER), as a
    list; [] without one."""
    return shlex.split(os.environ.get("MISPERD_WRAPPER", ""))


def ctl_wrapper():
    """The command line put in front of misperctl: MISPERCTL_WRAPPER, or
    the daemon's when that is unset."""
    w = os.environ.get("MISPERCTL_WRAPPER")
    return shlex.split(w) if w is not None else wrapper()


def wrap(argv):
    """argv (the daemon's) behind the wrapper, if any."""
    return wrapper() + list(argv)


def wrap_ctl(argv):
    """argv (misperctl's) behind its wrapper, if any."""
    return ctl_wrapper() + list(argv)


def _timeout_scale():
    s = os.environ.get("MISPER_TIMEOUT_SCALE")
    if s:
        return max(1.0, float(s))
    return 25.0 if wrapper() else 1.0


# Every wait of the harness is multiplied by this (a run under valgrind is
# 20-50 times slower, most of all at start-up); tests use it for bounds of
# their own (test_faults.py).
TIMEOUT_SCALE = _timeout_scale()
READY_TIMEOUT = 10.0 * TIMEOUT_SCALE
REPLY_TIMEOUT = 10.0 * TIMEOUT_SCALE


def scaled(timeout, default):
    """A timeout a caller gave (None: default, already stretched),
    stretched by TIMEOUT_SCALE."""
    return default if timeout is None else timeout * TIMEOUT_SCALE


class Fail(AssertionError):
    """A check failed."""


class Skip(Exception):
    """The test cannot run here."""


# ---- output ----

def say(msg):
    print(msg, flush=True)


def step(msg):
    """Say what the test does next."""
    say("  - " + msg)


def note(msg):
    say("    note: " + msg)


def check(cond, what, detail=None):
    """Record one check: print it, and raise Fail when it does not hold."""
    if cond:
        say("    ok: " + what)
        return
    msg = what if detail is None else "%s (%s)" % (what, detail)
    say("    FAILED: " + msg)
    raise Fail(msg)


def check_eq(got, want, what):
    check(got == want, what, "expected %r, got %r" % (want, got))


# ---- environment ----

def srcdir():
    return os.environ.get("MISPER_SRCDIR") or os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def daemon_path():
    p = os.environ.get("MISPERD")
    if not p:
        raise Skip("MISPERD is not set (run through make check, or set "
            "MISPERD=/path/to/misperd)")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise Skip("MISPERD=%s is not an executable file" % p)
    return p


def rules_path():
    return os.environ.get("MISPER_RULES") or os.path.join(srcdir(), "rules",
        "default.yaml")


def genstream(*args):
    """Lines (bytes, without LF) from scripts/genstream.py with args."""
    script = os.path.join(srcdir(), "scripts", "genstream.py")
    out = subprocess.run([sys.executable, script] + [str(a) for a in args],
        check=True, stdout=subprocess.PIPE, timeout=120).stdout
    lines = out.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---- the daemon ----

def _die_with_parent():
    """In the child before exec: on Linux, get SIGKILL when the test process
    dies, so that no daemon outlives a test killed from outside."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)		# PR_SET_PDEATHSIG
    except Exception:
        pass


_live = []		# every Daemon of the running test, for cleanup


_sanitized = None


def sanitized():
    """Is the daemon built with AddressSanitizer (linked either way)?"""
    global _sanitized
    if _sanitized is None:
        with open(daemon_path(), "rb") as f:
            _sanitized = b"__asan_init" in f.read()
    return _sanitized


def daemon_env():
    """The daemon's environment.  Under AddressSanitizer a small quarantine,
    so the memory tests measure the daemon rather than ASan's hoard of
    freed blocks (256 MB by default), whoever runs the tests."""
    env = dict(os.environ)
    if sanitized():
        opts = env.get("ASAN_OPTIONS", "")
        if "quarantine_size_mb" not in opts:
            env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
                "quarantine_size_mb=16"
    return env


def yaml_str(s):
    return json.dumps(str(s))	# a JSON string is a YAML double-quoted one


class Daemon:
    """One misperd in its own directory.

    limits: dict of limits.* keys (values written as given, e.g. "1s").
    config=False: no config file and no -c; the daemon runs in an empty
    directory (self.cwd) on its embedded defaults.
    rules: the rules file (default: MISPER_RULES or the shipped one); set
    self.rules_file and call write_config() to change it between runs.
    """

    def __init__(self, limits=None, config=True, tcp="127.0.0.1:0",
            unix=True, extra=None, log_level=None, rules=None,
            subscribers=None, http=None):
        self.bin = daemon_path()
        self.dir = tempfile.mkdtemp(prefix="misperd-it.")
        _live.append(self)
        self.use_config = config
        self.limits = dict(limits or {})
        self.tcp_spec = tcp
        self.use_unix = unix
        self.extra = extra
        self.log_level = log_level
        self.rules_file = rules
        # subscribers.* keys; the alert streams get their own Unix socket
        # in the test directory and a kernel-chosen TCP port unless given
        self.subscribers = dict(subscribers or {})
        # http.* keys; the API likewise gets its own Unix socket in the
        # test directory and a kernel-chosen TCP port unless given
        self.http_conf = dict(http or {})
        self.conf = os.path.join(self.dir, "misperd.yaml")
        self.log = os.path.join(self.dir, "misperd.log")
        # The daemon's working directory: without a config it must start
        # in an empty one, so the log goes beside it.
        self.cwd = self.dir
        if not config:
            self.cwd = os.path.join(self.dir, "cwd")
            os.mkdir(self.cwd)
        self.sock = os.path.join(self.cwd, "misperd.sock")
        self.sub_sock = os.path.join(self.cwd, "misperd-alerts.sock")
        self.sub_port = None
        self.api_sock = os.path.join(self.cwd, "misperd-api.sock")
        self.api_port = None
        self.db_path = os.path.join(self.cwd, "misperd.db")
        self.proc = None
        self.port = None
        self.unix_seen = None
        self.port0_refused = False
        self.log_offset = 0
        if config:
            self.write_config()

    def write_config(self):
        lines = ["# written by tests/integration/misper.py", "listen:"]
        if self.use_unix:
            lines.append("  unix: " + yaml_str(self.sock))
        else:
            lines.append('  unix: ""')
        if self.tcp_spec:
            lines.append("  tcp: [%s]" % yaml_str(self.tcp_spec))
        else:
            lines.append('  tcp: ""')
        lines.append("database: " + yaml_str(self.db_path))
        lines.append("rules: " + yaml_str(self.rules_file or rules_path()))
        if self.log_level:
            lines.append("log_level: " + self.log_level)
        if self.limits:
            lines.append("limits:")
            for k, v in self.limits.items():
                lines.append("  %s: %s" % (k, v))
        subs = {"unix": yaml_str(self.sub_sock), "tcp": '["127.0.0.1:0"]'}
        subs.update(self.subscribers)
        lines.append("subscribers:")
        for k, v in subs.items():
            lines.append("  %s: %s" % (k, v))
        api = {"unix": yaml_str(self.api_sock), "tcp": '["127.0.0.1:0"]'}
        api.update(self.http_conf)
        lines.append("http:")
        for k, v in api.items():
            lines.append("  %s: %s" % (k, v))
        if self.extra:
            lines.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- running --

    def start(self, timeout=None):
        """Start and wait for "ready" (timeout: READY_TIMEOUT, or the one
        given stretched by TIMEOUT_SCALE); returns self."""
        timeout = scaled(timeout, READY_TIMEOUT)
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        argv = wrap([self.bin, "-f"])
        if self.use_config:
            argv += ["-c", self.conf]
        with open(self.log, "ab") as f:
            self.log_offset = f.tell()
            self.proc = subprocess.Popen(argv, cwd=self.cwd,
                stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                preexec_fn=_die_with_parent, env=daemon_env())
        self.port = None
        self.unix_seen = None
        try:
            self._wait_ready(timeout)
        except Fail:
            if (self.proc.poll() is not None and self.use_config and
                    self.tcp_spec and self.tcp_spec.endswith(":0") and
                    "port number" in self.log_since()):
                # The brief says port 0 works (the kernel picks a port and
                # the daemon logs it); go on with a port of our choosing so
                # the other checks still run, and let a test report it.
                note("the daemon refused TCP port 0: %s" %
                    self.log_since().strip().splitlines()[-1])
                self.port0_refused = True
                self.tcp_spec = "127.0.0.1:%d" % free_port()
                self.write_config()
                return self.start(timeout / TIMEOUT_SCALE)
            raise
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for ts, level, sub, msg in self.log_records():
                m = re.match(r"listening on tcp:(.*):(\d+)$", msg)
                if m:
                    self.port = int(m.group(2))
                    self.tcp_host = m.group(1).strip("[]")
                m = re.match(r"alert streams on tcp:(.*):(\d+)$", msg)
                if m:
                    self.sub_port = int(m.group(2))
                m = re.match(r"HTTP API on tcp:(.*):(\d+)$", msg)
                if m:
                    self.api_port = int(m.group(2))
                m = re.match(r"listening on unix:(\S+)", msg)
                if m:
                    self.unix_seen = m.group(1)
                if msg == "ready":
                    return
            rc = self.proc.poll()
            if rc is not None:
                raise Fail("misperd exited with %d before it was ready; "
                    "log:\n%s" % (rc, self.log_tail()))
            if time.monotonic() > deadline:
                raise Fail("misperd not ready after %.0f s; log:\n%s" % (
                    timeout, self.log_tail()))
            time.sleep(0.02)

    def log_since(self, offset=None):
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_offset if offset is None else offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=30):
        lines = self.log_since(0).splitlines()
        return "\n".join("      | " + l for l in lines[-n:])

    def log_records(self, offset=None):
        """(timestamp, level, subsystem, message) of each log line of
        this run (or since offset)."""
        out = []
        for line in self.log_since(offset).splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and ": " in parts[2]:
                sub, msg = parts[2].split(": ", 1)
                out.append((parts[0], parts[1], sub, msg))
            else:
                out.append(("", "", "", line))
        return out

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def wait_log(self, pred, timeout=5.0, offset=None):
        """Wait for a log line whose text satisfies pred (or contains it,
        for a string); returns the line or None.  timeout is stretched by
        TIMEOUT_SCALE."""
        timeout *= TIMEOUT_SCALE
        if isinstance(pred, str):
            needle = pred
            pred = lambda line: needle in line
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_since(offset).splitlines():
                if pred(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit status (negative: signal).
        timeout is stretched by TIMEOUT_SCALE (valgrind's leak check at
        exit takes a while)."""
        timeout *= TIMEOUT_SCALE
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail("misperd did not exit within %.0f s of SIGTERM; "
                "log:\n%s" % (timeout, self.log_tail()))

    def kill(self):
        """SIGKILL and reap."""
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def restart(self, timeout=None):
        if self.alive():
            self.stop()
        return self.start(timeout)

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cleanup(self):
        try:
            if wrapper() and self.alive():
                # SIGTERM first, so that a checker (valgrind) reports
                # leaks at exit; SIGKILL only if that does not end it
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    pass
            self.kill()
        except Exception:
            pass
        if os.environ.get("MISPER_KEEP"):
            say("    (kept %s)" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- clients --

    def unix(self, timeout=None):
        return Client.unix(self.sock, timeout)

    def sub_unix(self, timeout=None):
        """A connection to the alert stream socket."""
        return Client.unix(self.sub_sock, timeout)

    def sub_tcp(self, timeout=None):
        if self.sub_port is None:
            raise Fail("no alert stream TCP port was logged")
        return Client.tcp("127.0.0.1", self.sub_port, timeout)

    def tcp(self, timeout=None):
        if self.port is None:
            raise Fail("no TCP port was logged")
        return Client.tcp(getattr(self, "tcp_host", "127.0.0.1"),
            self.port, timeout)

    # -- the HTTP API --

    def http(self, method, path, body=None, headers=None, tcp=False,
            timeout=None):
        """One request to the HTTP API over its Unix socket (or TCP):
        (status, headers as a dict with lower-case names, body parsed as
        JSON when it is JSON, else text).  body: a dict or list (sent as
        JSON), str or bytes (sent as given).  timeout is stretched by
        TIMEOUT_SCALE."""
        timeout = scaled(timeout, REPLY_TIMEOUT)
        if tcp:
            if self.api_port is None:
                raise Fail("no HTTP API TCP port was logged")
            conn = http.client.HTTPConnection("127.0.0.1", self.api_port,
                timeout=timeout)
        else:
            conn = UnixHTTPConnection(self.api_sock, timeout)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
        finally:
            conn.close()
        text = data.decode("utf-8", "replace")
        if rh.get("content-type", "").startswith("application/json"):
            try:
                return status, rh, json.loads(text)
            except ValueError:
                raise Fail("%s %s: the body is not JSON: %r" % (method,
                    path, text[:300]))
        return status, rh, text

    def http_get(self, path, **kw):
        return self.http("GET", path, **kw)

    def http_post(self, path, body=None, **kw):
        return self.http("POST", path, body=body, **kw)

    # -- the database, read-only --

    def db(self):
        uri = "file:%s?mode=ro" % self.db_path
        con = sqlite3.connect(uri, uri=True, timeout=10)
        return con

    def query(self, sql, args=()):
        con = self.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def event_count(self):
        return self.query("SELECT count(*) FROM events")[0][0]

    def event_seqs(self):
        """{event id: seq} of the events table."""
        return dict(self.query("SELECT id, seq FROM events"))

    def integrity(self):
        return self.query("PRAGMA integrity_check")[0][0]


# ---- clients ----

class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix stream socket."""

    def __init__(self, path, timeout=None):
        super().__init__("localhost",
            timeout=scaled(timeout, REPLY_TIMEOUT))
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Client:
    """One connection: LF-framed lines out, reply lines in."""

    def __init__(self, sock, timeout):
        self.s = sock
        self.timeout = timeout
        self.buf = b""		# a partial line
        self.lines = collections.deque()	# complete lines not yet read
        self.eof = False
        # A daemon killed (SIGKILL) while writing a batch's replies can
        # leave part of a line on the wire: a reply without its LF is no
        # reply (the client resends), so a test that kills the daemon
        # may drop it rather than fail.
        self.partial_ok = False

    @classmethod
    def unix(cls, path, timeout=None):
        timeout = scaled(timeout, REPLY_TIMEOUT)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return cls(s, timeout)

    @classmethod
    def tcp(cls, host, port, timeout=None):
        timeout = scaled(timeout, REPLY_TIMEOUT)
        s = socket.create_connection((host, port), timeout=timeout)
        return cls(s, timeout)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- sending --

    @staticmethod
    def encode(x):
        if isinstance(x, dict):
            return json.dumps(x, separators=(",", ":")).encode()
        if isinstance(x, str):
            return x.encode()
        return bytes(x)

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, *items):
        """Send each item (event dict, str or bytes) as one LF-ended line."""
        self.s.sendall(b"".join(self.encode(x) + b"\n" for x in items))

    # -- receiving --

    def _fill(self, deadline):
        """Read more; False at EOF.  Raises Fail at the deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("no reply within %.0f s" % self.timeout)
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                continue
            try:
                data = self.s.recv(1 << 18)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                return False
            if b"\n" in data:
                parts = (self.buf + data).split(b"\n")
                self.buf = parts.pop()
                self.lines.extend(parts)
            else:
                self.buf += data
            return True

    def recv_line(self, timeout=None):
        """The next line without its LF, or None at end of input.  timeout
        (default: the connection's) is stretched by TIMEOUT_SCALE."""
        if self.lines:
            return self.lines.popleft()
        deadline = time.monotonic() + (timeout * TIMEOUT_SCALE if timeout
            else self.timeout)
        while True:
            if self.lines:
                return self.lines.popleft()
            if self.eof or not self._fill(deadline):
                if self.lines:
                    continue
                if self.buf and self.partial_ok:
                    self.buf = b""
                elif self.buf:
                    rest, self.buf = self.buf, b""
                    raise Fail("connection closed after a partial line: %r"
                        % rest[:200])
                return None

    def pending(self):
        """Bytes received and not yet returned as lines."""
        return sum(len(l) + 1 for l in self.lines) + len(self.buf)

    def reply(self, timeout=None):
        """The next reply, parsed; Fail at end of input."""
        line = self.recv_line(timeout)
        if line is None:
            raise Fail("the daemon closed the connection instead of "
                "replying")
        try:
            r = json.loads(line)
        except ValueError:
            raise Fail("reply is not JSON: %r" % line[:300])
        if not isinstance(r, dict) or "ok" not in r:
            raise Fail("reply is not an object with \"ok\": %r" % line[:300])
        return r

    def request(self, item, timeout=None):
        self.send(item)
        return self.reply(timeout)

    def closed_by_peer(self, timeout, scale=True):
        """Wait up to timeout for end of input (lines before it are
        dropped); True if the daemon closed the connection.  timeout is
        stretched by TIMEOUT_SCALE unless scale is False (a check that
        the daemon does not close within a time of its own)."""
        if scale:
            timeout *= TIMEOUT_SCALE
        deadline = time.monotonic() + timeout
        while True:
            self.buf = b""
            self.lines.clear()
            if self.eof:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.s], [], [], left)
            if r:
                try:
                    data = self.s.recv(1 << 16)
                except (ConnectionResetError, OSError):
                    data = b""
                if not data:
                    self.eof = True
                    return True

    def pipeline(self, lines, timeout=60.0, chunk=256, on_reply=None,
            window=None):
        """Send every line (bytes/str/dict) from a writer thread while
        reading replies; returns the parsed replies (fewer if the daemon
        closed the connection).  on_reply(i, reply) is called as they
        arrive.  window: at most this many lines sent and not yet
        answered (None: no limit).  timeout is stretched by
        TIMEOUT_SCALE."""
        timeout *= TIMEOUT_SCALE
        data = [self.encode(x) + b"\n" for x in lines]
        err = []
        got = [0]
        cond = threading.Condition()
        stop = []

        def writer():
            try:
                for i in range(0, len(data), chunk):
                    if window is not None:
                        with cond:
                            while i - got[0] > window and not stop:
                                cond.wait(0.5)
                    if stop:
                        return
                    self.s.sendall(b"".join(data[i:i + chunk]))
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        replies = []
        deadline = time.monotonic() + timeout
        while len(replies) < len(data):
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("only %d of %d replies within %.0f s" % (
                    len(replies), len(data), timeout))
            line = self.recv_line(left / TIMEOUT_SCALE)
            if line is None:
                break
            try:
                r = json.loads(line)
            except ValueError:
                raise Fail("reply %d is not JSON: %r" % (len(replies),
                    line[:300]))
            if on_reply is not None:
                on_reply(len(replies), r)
            replies.append(r)
            if window is not None:
                with cond:
                    got[0] = len(replies)
                    cond.notify()
        stop.append(1)
        with cond:
            cond.notify()
        t.join(5)
        return replies


# ---- events ----

class Events:
    """Valid events with ids unique to the test (prefix)."""

    def __init__(self, prefix, start="2025-03-01T10:00:00Z"):
        self.prefix = prefix
        self.n = 0
        self.t = parse_time(start)

    def next_id(self):
        self.n += 1
        return "%s-%06d" % (self.prefix, self.n)

    def at(self, minutes=10):
        """A time `minutes` after the previous one."""
        self.t += minutes * 60
        return fmt_time(self.t)

    def make(self, type_, at=None, id=None, **fields):
        e = {"id": id or self.next_id(), "type": type_,
            "at": at or self.at()}
        e.update(fields)
        return e

    def flagged(self, **kw):
        kw.setdefault("location", {"uprn": "100021900001",
            "postcode": "SE5 9ZZ", "address": "1 Test Road",
            "area": "southwark"})
        kw.setdefault("reason", "exploitation_hotspot")
        kw.setdefault("source", "intel")
        return self.make("location.flagged", **kw)

    def cleared(self, **kw):
        kw.setdefault("location", {"uprn": "100021900001"})
        kw.setdefault("reason", "exploitation_hotspot")
        return self.make("location.cleared", **kw)

    def reported(self, episode, child, **kw):
        if isinstance(child, str):
            child = {"id": child, "dob": "2010-06-15", "looked_after": False,
                "cp_plan": False, "area": "lambeth", "flags": []}
        kw.setdefault("category", "missing")
        kw.setdefault("risk", "medium")
        kw.setdefault("source", "cad")
        return self.make("episode.reported", episode=episode, child=child,
            **kw)

    def updated(self, episode, **kw):
        if len(kw) == 0:
            kw["note"] = "Supervisor review, grade confirmed."
        return self.make("episode.updated", episode=episode, **kw)

    def found(self, episode, **kw):
        kw.setdefault("found", {"postcode": "SW9 7AA",
            "address": "12 Stockwell Road", "area": "lambeth"})
        return self.make("episode.found", episode=episode, **kw)

    def closed(self, episode, **kw):
        kw.setdefault("outcome", "returned_home")
        return self.make("episode.closed", episode=episode, **kw)

    def interview(self, episode, child, kind="prevention", **kw):
        return self.make("interview.completed", episode=episode,
            child={"id": child}, kind=kind, **kw)

    def indicator(self, child, indicator="education_disengaged", **kw):
        kw.setdefault("source", "social-care")
        return self.make("indicator.recorded", child={"id": child},
            indicator=indicator, **kw)

    def plan(self, child, plan="safety_plan", **kw):
        return self.make("plan.recorded", child={"id": child}, plan=plan,
            **kw)

    def lifecycle(self, episode, child):
        """One benign episode: all nine types, alerting nothing."""
        return [
            self.flagged(),
            self.reported(episode, child, last_seen={
                "postcode": "SW9 7AA", "address": "12 Stockwell Road",
                "area": "lambeth"}),
            self.updated(episode, risk="medium",
                note="Seen near the station by a friend."),
            self.found(episode),
            self.interview(episode, child, "prevention"),
            self.indicator(child, "education_disengaged", episode=episode),
            self.plan(child, "safety_plan", episode=episode),
            self.closed(episode),
            self.cleared(),
        ]


def parse_time(s):
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def fmt_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# ---- running tests ----

class _Timeout(Fail):
    pass


def _on_alarm(signum, frame):
    raise _Timeout("the test ran out of time")


def _on_term(signum, frame):
    for d in list(_live):
        d.cleanup()
    sys.exit(EXIT_FAIL)


def run(tests, timeout=60):
    """Run test functions (each with a docstring); exit 0, 1 or 77."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    try:
        daemon_path()
    except Skip as e:
        say("%s: SKIP: %s" % (name, e))
        sys.exit(EXIT_SKIP)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    os.umask(0o022)
    passed = failed = skipped = 0
    failures = []
    only = sys.argv[1:]		# test names to run (default: all)
    if wrapper() or ctl_wrapper():
        say("%s: the daemon runs under %r, misperctl under %r; waits "
            "stretched %gx" % (name, " ".join(wrapper()),
            " ".join(ctl_wrapper()), TIMEOUT_SCALE))
    for fn in tests:
        if isinstance(fn, tuple):
            fn, limit = fn
        else:
            limit = timeout
        if only and fn.__name__ not in only:
            continue
        doc = (fn.__doc__ or "").strip().splitlines()
        say("\n%s: %s" % (fn.__name__, doc[0] if doc else ""))
        for line in doc[1:]:
            if line.strip():
                say("    " + line.strip())
        t0 = time.monotonic()
        # what the daemons and tools of this test inherit, so a wrapper's
        # log can be named after the test (valgrind's %q{MISPER_TEST})
        os.environ["MISPER_TEST"] = "%s.%s" % (name, fn.__name__)
        signal.alarm(int(limit * TIMEOUT_SCALE))
        try:
            fn()
            passed += 1
            say("  PASS %s (%.1f s)" % (fn.__name__, time.monotonic() - t0))
        except Skip as e:
            skipped += 1
            say("  SKIP %s: %s" % (fn.__name__, e))
        except Fail as e:
            failed += 1
            failures.append(fn.__name__)
            say("  FAIL %s: %s" % (fn.__name__, e))
            for d in _live:
                if d.proc is not None:
                    say("    daemon log (%s):\n%s" % (d.dir, d.log_tail()))
        except Exception:
            failed += 1
            failures.append(fn.__name__)
            say("  FAIL %s: unexpected error" % fn.__name__)
            say(traceback.format_exc())
            for d in _live:
                if d.proc is not None:
                    say("    daemon log (%s):\n%s" % (d.dir, d.log_tail()))
        finally:
            signal.alarm(0)
            while _live:
                _live.pop().cleanup()
    say("\n%s: %d passed, %d failed, %d skipped" % (name, passed, failed,
        skipped))
    if failures:
        say("failed: " + ", ".join(failures))
    if failed:
        sys.exit(EXIT_FAIL)
    if skipped and not passed:
        sys.exit(EXIT_SKIP)
    sys.exit(EXIT_PASS)
