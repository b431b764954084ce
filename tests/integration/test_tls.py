# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""TLS and access control (issue #6; misperd.yaml(5) "tls" and "access"):
mutual TLS on the event, alert stream and HTTP API listeners, with a CA,
server and client certificates made by the openssl command in a temporary
directory; who may send, subscribe (to which routes), read, acknowledge and
reload, by certificate, bearer token or as a local peer; 401 and 403; a
listener off the loopback refused without TLS (at start and by -n, with
file:line:col) unless explicitly allowed, with a warning; the key file's
mode; certificates reloaded on SIGHUP (a bad one keeps the old); and
misperctl over TLS with a token.  The TLS listeners are on 127.0.0.1 with
tls: true, so the tests need no network."""

import atexit
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import misper
from misper import (Daemon, Events, Fail, Skip, check, check_eq, note, run,
    step)

TOKEN_OPS = "ops-token-0123456789abcdef"
TOKEN_DESK = "desk-token-fedcba9876543210"


# ---- certificates ----

class PKI:
    """A CA, another CA, a server certificate for localhost and
    127.0.0.1, and client certificates, made with the openssl command."""

    def __init__(self):
        self.openssl = shutil.which("openssl")
        if self.openssl is None:
            raise Skip("the openssl command is not installed")
        self.dir = tempfile.mkdtemp(prefix="misperd-pki.")
        atexit.register(shutil.rmtree, self.dir, True)
        self.ca("ca")
        self.ca("other-ca")
        self.cert("server", "localhost", "ca",
            "DNS:localhost,IP:127.0.0.1")
        self.cert("cad", "cad.example", "ca")		# send
        self.cert("desk", "desk.example", "ca")	# subscribe mpu, ack, read
        self.cert("nobody", "nobody.example", "ca")	# valid, no client
        self.cert("rogue", "cad.example", "other-ca")	# a CA not trusted
        self.expired = True
        try:
            self.cert("expired", "cad.example", "ca", days=-1)
        except Fail:
            self.expired = False	# an openssl that refuses -days -1

    def path(self, name):
        return os.path.join(self.dir, name)

    def sh(self, *args):
        p = subprocess.run([self.openssl] + list(args), cwd=self.dir,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if p.returncode != 0:
            raise Fail("openssl %s: %s" % (" ".join(args),
                p.stdout.decode("utf-8", "replace")))
        return p.stdout.decode("utf-8", "replace")

    def key(self, name):
        self.sh("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", name + ".key")
        os.chmod(self.path(name + ".key"), 0o600)

    def ca(self, name):
        self.key(name)
        self.sh("req", "-x509", "-new", "-key", name + ".key", "-days",
            "3650", "-subj", "/CN=%s" % name, "-out", name + ".crt")

    def cert(self, name, cn, ca, san=None, days=30, key=True):
        if key:
            self.key(name)
        self.sh("req", "-new", "-key", name + ".key", "-subj", "/CN=%s" % cn,
            "-out", name + ".csr")
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % (san or "DNS:%s" % cn))
        self.sh("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
            "-CAkey", ca + ".key", "-CAcreateserial", "-days", str(days),
            "-extfile", name + ".ext", "-out", name + ".crt")

    def serial(self, name):
        out = self.sh("x509", "-in", name + ".crt", "-noout", "-serial")
        return out.strip().split("=", 1)[1].upper()


_pki = None


def pki():
    global _pki
    if _pki is None:
        _pki = PKI()
    return _pki


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


def tls_section(p, extra=""):
    return ("tls:\n  cert: %s\n  key: %s\n  ca: %s\n%s" % (
        misper.yaml_str(p.path("server.crt")),
        misper.yaml_str(p.path("server.key")),
        misper.yaml_str(p.path("ca.crt")), extra))


def access_section(local=None):
    text = "access:\n"
    if local is not None:
        text += "  local: %s\n" % local
    return text + (
        "  clients:\n"
        "    - {name: cad, cert_cn: cad.example, roles: [send]}\n"
        "    - {name: desk, cert_cn: desk.example, roles: [subscribe, ack, "
        "read], routes: [mpu]}\n"
        "    - {name: ops, token_sha256: %s, roles: [read, admin]}\n"
        "    - {name: deskapp, token_sha256: %s, roles: [read, ack]}\n" % (
        sha256(TOKEN_OPS), sha256(TOKEN_DESK)))


TLS_TCP = '[{address: "127.0.0.1:0", tls: true}]'


class TLSDaemon(Daemon):
    """A daemon with its three TCP listeners on 127.0.0.1 with TLS (and
    its Unix sockets plain), the clients of access_section()."""

    def __init__(self, local=None, limits=None, **kw):
        p = pki()
        Daemon.__init__(self, tcp=None, limits=limits,
            extra=tls_section(p) + access_section(local),
            subscribers={"tcp": TLS_TCP}, http={"tcp": TLS_TCP}, **kw)

    def write_config(self):
        Daemon.write_config(self)
        with open(self.conf) as f:
            text = f.read()
        text = text.replace('  tcp: ""\n', "  tcp: %s\n" % TLS_TCP, 1)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=misper.READY_TIMEOUT):
        Daemon.start(self, timeout)
        self.ports = {}
        for _, _, sub, msg in self.log_records():
            m = re.match(r"(listening on|alert streams on|HTTP API on) "
                r"tcp:127\.0\.0\.1:(\d+) \(TLS\)$", msg)
            if m:
                self.ports[m.group(1).split()[0]] = int(m.group(2))
        check_eq(sorted(self.ports), ["HTTP", "alert", "listening"],
            "the log names the three TLS listeners")
        return self


# ---- TLS clients ----

def context(cert=None, version=None):
    """A client context trusting the test CA, with a client certificate."""
    p = pki()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(p.path("ca.crt"))
    if cert is not None:
        ctx.load_cert_chain(p.path(cert + ".crt"), p.path(cert + ".key"))
    if version is not None:
        with warnings.catch_warnings():
            # offering an old version on purpose, to see it refused
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class TLSClient(misper.Client):
    """misper.Client over TLS: select() cannot see what OpenSSL has
    decrypted already, so pending() is asked first."""

    @classmethod
    def connect(cls, port, ctx, timeout=misper.REPLY_TIMEOUT):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        local = raw.getsockname()[1]
        try:
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        except Exception:
            raw.close()
            raise
        c = cls(s, timeout)
        c.local_port = local
        return c

    def _recv(self, left):
        if self.s.pending() == 0:
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
        try:
            return self.s.recv(1 << 18)
        except ssl.SSLWantReadError:
            return None
        except (ssl.SSLError, OSError) as e:
            self.error = e
            return b""

    def _fill(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("no reply within %.0f s" % self.timeout)
            data = self._recv(left)
            if data is None:
                continue
            if not data:
                self.eof = True
                return False
            parts = (self.buf + data).split(b"\n")
            self.buf = parts.pop()
            self.lines.extend(parts)
            return True

    def closed_by_peer(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._recv(left) == b"":
                self.eof = True
        return True


def refused(port, ctx, what):
    """Connect with ctx and send an event: the daemon must refuse (the
    handshake fails, or with TLS 1.3, where the client finishes first,
    the first read does) without answering it.  Returns the client's
    local port, to find the daemon's log line."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    local = raw.getsockname()[1]
    try:
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    except (ssl.SSLError, OSError) as e:
        note("%s: the handshake failed: %s" % (what, e))
        raw.close()
        return local
    c = TLSClient(s, 10)
    try:
        c.send(EV.reported("MP-R-%d" % local, "C-R-%d" % local))
        line = c.recv_line(10)
    except (ssl.SSLError, OSError) as e:
        line = None
        note("%s: refused after the handshake: %s" % (what, e))
    finally:
        c.close()
    check(line is None, "%s: refused, no reply" % what, line)
    if getattr(c, "error", None) is not None:
        note("%s: the client saw: %s" % (what, c.error))
    return local


class Recent(Events):
    """Events a second apart from two hours ago (no deadline falls due)."""

    def __init__(self, prefix):
        Events.__init__(self, prefix, misper.fmt_time(int(time.time()) -
            7200))

    def at(self, minutes=None):
        self.t += 1
        return misper.fmt_time(self.t)


EV = Recent("TLS")


def https(d, method, path, cert=None, token=None, body=None, ctx=None):
    """(status, headers, JSON body) of one request to the API over TLS."""
    conn = http.client.HTTPSConnection("127.0.0.1", d.ports["HTTP"],
        timeout=10, context=ctx or context(cert))
    hdrs = {}
    data = None
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        h = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    try:
        return r.status, h, json.loads(text)
    except ValueError:
        return r.status, h, text


def ctl_path():
    p = os.environ.get("MISPERCTL") or os.path.join(
        os.path.dirname(misper.daemon_path()), "misperctl")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise Skip("no misperctl at %s" % p)
    return p


def ctl(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.pop("MISPERD_TOKEN", None)
    e.update(env or {})
    p = subprocess.run(misper.wrap_ctl([ctl_path()] + list(args)),
        input=stdin,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=60)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
        p.stderr.decode("utf-8", "replace"))


def misperd_n(conf):
    p = subprocess.run(misper.wrap([misper.daemon_path(), "-n", "-c", conf]),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def misperd_start_fails(conf, cwd):
    """Start misperd -f; it must exit 1.  Returns what it logged."""
    p = subprocess.run(
        misper.wrap([misper.daemon_path(), "-f", "-c", conf]), cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    check_eq(p.returncode, 1, "misperd refuses to start")
    return out


def global_ipv4():
    """A non-loopback IPv4 address of this machine, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope",
            "global"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            timeout=10).stdout.decode()
        for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", out):
            return m.group(1)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        a = socket.gethostbyname(socket.gethostname())
        if not a.startswith("127."):
            return a
    except OSError:
        pass
    return None


# ---- tests ----

def test_intake_mtls():
    """Event intake over mutual TLS: a client whose certificate has the
    send role submits; no certificate, another CA's, an expired one, TLS
    1.1 and plain TCP are refused in the handshake and logged at info with
    the peer's address; a valid certificate of no client, or of a client
    without send, gets one forbidden line and is closed; a silent client is
    cut off after the idle timeout; the daemon goes on serving."""
    p = pki()
    d = TLSDaemon(limits={"idle_timeout": "2s"}).start()
    port = d.ports["listening"]

    step("the control room's certificate (role send): events accepted")
    with TLSClient.connect(port, context("cad")) as c:
        check(c.s.version() in ("TLSv1.2", "TLSv1.3"), "TLS 1.2 or later "
            "(%s)" % c.s.version())
        r = c.request(EV.reported("MP-T1", "C-T1"))
        check(r.get("ok") is True and isinstance(r.get("seq"), int),
            "the event is accepted", r)
        r2 = c.request(EV.closed("MP-T1"))
        check(r2.get("ok") is True and r2["seq"] > r["seq"],
            "and the next, on the same connection", r2)
        # a last line without LF, then the end of input: still a line.
        # Python has no TLS half-close, so this is a TCP half-close
        # without close_notify (misperctl's close_notify: test_misperctl)
        last = EV.reported("MP-T3", "C-T3")
        c.send_raw(c.encode(last))
        raw = socket.fromfd(c.s.fileno(), socket.AF_INET, socket.SOCK_STREAM)
        raw.shutdown(socket.SHUT_WR)
        raw.close()
        r3 = c.reply(10)
        check(r3.get("ok") is True and r3.get("id") == last["id"],
            "a last line without LF is answered after the end of input",
            r3)
        check(c.closed_by_peer(10), "then the daemon closes")
    seqs = d.event_seqs()
    check(r["id"] in seqs and r2["id"] in seqs and last["id"] in seqs,
        "all three are stored")

    cases = [("no client certificate", context(), "handshake refused"),
        ("a certificate of another CA", context("rogue"),
            "client certificate refused: unable to get local issuer"),
        ("TLS 1.1", context("cad", ssl.TLSVersion.TLSv1_1),
            "handshake refused: sent alert 'protocol version'")]
    if p.expired:
        cases.append(("an expired certificate", context("expired"),
            "client certificate refused: certificate has expired"))
    else:
        note("this openssl cannot make an expired certificate; skipped")
    for what, ctx, logged in cases:
        step("refused: %s" % what)
        try:
            local = refused(port, ctx, what)
        except ssl.SSLError as e:
            if what == "TLS 1.1" and "NO_PROTOCOLS" in str(e).upper():
                note("this Python cannot offer TLS 1.1 at all; skipped")
                continue
            raise
        line = d.wait_log(lambda l: "tcp:127.0.0.1:%d" % local in l and
            logged in l, timeout=10)
        check(line is not None, "the daemon logs it at info with the peer "
            "(%s ... tcp:127.0.0.1:%d)" % (logged, local), d.log_tail(8))
        check(" info tls: " in line, "at info", line)

    step("plain TCP to the TLS port gets nothing in clear")
    with misper.Client.tcp("127.0.0.1", port, timeout=10) as c:
        c.send(EV.reported("MP-PLAIN", "C-PLAIN"))
        check(c.closed_by_peer(10), "the daemon closes the connection")
        check(b'"ok"' not in c.buf, "no reply came in clear", c.buf)
    check_eq(d.event_count(), 3, "nothing more stored")

    for cert, who, why in (("nobody", "a client of no name",
            "names no client in access.clients"),
            ("desk", "a client without the send role",
            "client desk may not submit events: it lacks the send role")):
        step("%s: one forbidden line, then closed" % who)
        with TLSClient.connect(port, context(cert)) as c:
            r = c.reply(10)
            check(r.get("ok") is False and r.get("error") == "forbidden" and
                r.get("id", 0) is None and why in r.get("message", ""),
                "forbidden, saying why", r)
            check(c.closed_by_peer(10), "and the connection closes")
        check(d.wait_log(lambda l: "listen: tcp:127.0.0.1:%d: refused" %
            c.local_port in l) is not None, "logged with the peer")

    step("a client that never starts the handshake: cut off")
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    local = s.getsockname()[1]
    s.settimeout(30)
    try:
        data = s.recv(100)
    except OSError:
        data = b""
    s.close()
    check_eq(data, b"", "closed with nothing sent")
    note("closed after %.1f s (idle_timeout 2s)" % (time.monotonic() - t0))
    check(d.wait_log("tcp:127.0.0.1:%d: closed after the idle timeout "
        "(TLS handshake not done)" % local) is not None,
        "the log says the handshake did not finish in time")

    step("the daemon is unharmed")
    check(d.alive(), "misperd is running")
    with TLSClient.connect(port, context("cad")) as c:
        r = c.request(EV.reported("MP-T2", "C-T2"))
        check(r.get("ok") is True, "a good client still submits", r)
    check_eq(d.stop(), 0, "misperd stops cleanly")


def test_http_tls():
    """The HTTP API over TLS, authorised in one place: a certificate's
    client with the role (200), without it (403 forbidden, naming the
    role), of no client (401 with WWW-Authenticate: Bearer); a bearer
    token names its client over a certificate of none, a wrong token is
    401 invalid_token, a token without the role 403; health checks need
    no role; the Unix socket is a local peer with every role."""
    d = TLSDaemon().start()

    st, h, body = https(d, "GET", "/v1/status", cert="desk")
    check_eq(st, 200, "desk (role read): GET /v1/status")
    check("rules" in body, "the status document", body)

    st, h, body = https(d, "GET", "/v1/status", cert="cad")
    check_eq(st, 403, "cad (role send only): 403")
    check_eq(body.get("error"), "forbidden", "error forbidden")
    check("needs the read role" in body.get("message", "") and
        "client cad holds send" in body.get("message", ""),
        "the message names the role and what the client holds", body)

    st, h, body = https(d, "GET", "/v1/alerts", cert="nobody")
    check_eq(st, 401, "a certificate of no client, no token: 401")
    check_eq(body.get("error"), "unauthorised", "error unauthorised")
    check(h.get("www-authenticate", "").startswith("Bearer"),
        "WWW-Authenticate: Bearer", h)

    st, h, body = https(d, "GET", "/v1/alerts", cert="nobody",
        token=TOKEN_OPS)
    check_eq(st, 200, "the same certificate with ops's token: 200")

    st, h, body = https(d, "GET", "/v1/alerts", cert="desk",
        token="not-a-token")
    check_eq(st, 401, "a token of no client: 401, even with a good "
        "certificate")
    check('error="invalid_token"' in h.get("www-authenticate", ""),
        "WWW-Authenticate says invalid_token", h)

    st, h, body = https(d, "POST", "/v1/alerts/A-1/ack", cert="nobody",
        token=TOKEN_OPS, body={"by": "PS 1 Test"})
    check_eq(st, 403, "ops (read, admin) may not acknowledge: 403")
    check("needs the ack role" in body.get("message", ""), "ack named",
        body)
    st, h, body = https(d, "POST", "/v1/alerts/A-1/ack", cert="nobody",
        token=TOKEN_DESK, body={"by": "PS 1 Test"})
    check_eq(st, 404, "deskapp (ack) passes authorisation: 404 "
        "unknown_alert")

    st, h, body = https(d, "POST", "/v1/rules/reload", cert="desk")
    check_eq(st, 403, "desk may not reload the rules")
    st, h, body = https(d, "POST", "/v1/rules/reload", cert="nobody",
        token=TOKEN_OPS)
    check_eq(st, 200, "ops (admin) reloads them")
    check(d.wait_log("rules reload asked by") is not None, "the reload ran")

    st, h, body = https(d, "GET", "/healthz", cert="nobody")
    check_eq(st, 200, "/healthz needs no role")

    step("the API refuses a client without a certificate in the handshake")
    try:
        st = https(d, "GET", "/healthz", ctx=context())[0]
        check(False, "no answer without a client certificate", st)
    except (ssl.SSLError, OSError, http.client.HTTPException) as e:
        note("refused: %s" % e)

    step("the Unix socket: a local peer, every role by default")
    st, h, body = d.http_get("/v1/status")
    check_eq(st, 200, "GET /v1/status over the Unix socket")
    st, h, body = d.http_get("/v1/status", headers={
        "Authorization": "Bearer wrong"})
    check_eq(st, 401, "a wrong token is refused there too")
    st, h, body = d.http_get("/v1/status", headers={
        "Authorization": "Basic dXNlcjpwdw=="})
    check_eq(st, 401, "so is an Authorization that is not Bearer")
    check('error="invalid_request"' in h.get("www-authenticate", ""),
        "invalid_request", h)
    check_eq(d.stop(), 0, "misperd stops cleanly")


def test_local_none():
    """access.local: none: a local peer is nobody: the API answers 401
    (a token still works), the event socket gives one forbidden line, the
    alert socket likewise."""
    d = TLSDaemon(local="none").start()
    st, h, body = d.http_get("/v1/status")
    check_eq(st, 401, "the API over the Unix socket: 401")
    check("access.local is none" in body.get("message", ""), "says why",
        body)
    st, h, body = d.http_get("/v1/status", headers={
        "Authorization": "Bearer " + TOKEN_OPS})
    check_eq(st, 200, "with a token: 200")
    with d.unix() as c:
        r = c.reply(10)
        check(r.get("error") == "forbidden", "events: forbidden", r)
        check(c.closed_by_peer(10), "and closed")
    with d.sub_unix() as c:
        r = c.reply(10)
        check(r.get("error") == "forbidden", "alert streams: forbidden", r)
        check(c.closed_by_peer(10), "and closed")
    check_eq(d.stop(), 0, "misperd stops cleanly")


def test_subscribe_tls():
    """Alert streams over TLS: a client subscribes to its routes only
    (forbidden naming the route), receives their alerts and acknowledges
    them; a client with neither subscribe nor ack is refused."""
    d = TLSDaemon().start()
    port = d.ports["alert"]
    with TLSClient.connect(port, context("desk")) as c:
        r = c.request({"cmd": "subscribe", "routes": ["mpu", "cse_team"]})
        check(r.get("ok") is False and r.get("error") == "forbidden" and
            r.get("field") == "routes" and "'cse_team'" in
            r.get("message", ""), "cse_team is not desk's: forbidden, "
            "naming it", r)
        r = c.request({"cmd": "subscribe", "routes": ["mpu"],
            "name": "desk-1"})
        check(r.get("ok") is True, "mpu is: subscribed", r)

        step("an alert of route mpu reaches the desk over TLS")
        with TLSClient.connect(d.ports["listening"], context("cad")) as e:
            r = e.request(EV.reported("MP-S1", {"id": "C-S1",
                "flags": ["known_cse_risk"]}, risk="low"))
            check(r.get("ok") is True and r.get("alerts"),
                "the control room's event raises an alert", r)
            alert = r["alerts"][0]
        deadline = time.monotonic() + 10
        got = None
        while got is None and time.monotonic() < deadline:
            line = c.recv_line(max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            x = json.loads(line)
            if x.get("alert") == alert and "ok" not in x:
                got = x
        check(got is not None and "mpu" in got.get("routes", []),
            "alert %s arrives on the stream" % alert, got)
        r = c.request({"cmd": "ack", "alert": alert, "by": "PS 1 Desk"})
        check(r.get("ok") is True and r.get("cmd") == "ack",
            "desk (role ack) acknowledges it", r)

    step("a client that may neither subscribe nor acknowledge")
    with TLSClient.connect(port, context("cad")) as c:
        r = c.reply(10)
        check(r.get("ok") is False and r.get("error") == "forbidden" and
            "neither subscribe nor acknowledge" in r.get("message", ""),
            "forbidden at once", r)
        check(c.closed_by_peer(10), "and closed")
    check_eq(d.stop(), 0, "misperd stops cleanly")


def test_sighup_reload():
    """SIGHUP reloads the certificate: a new connection sees the new
    serial, one opened before keeps working; a certificate that does not
    match the key, or a key other users can read, is refused with the
    reason logged and the running certificate stays."""
    p = pki()
    d = TLSDaemon().start()
    port = d.ports["listening"]
    old = p.serial("server")
    work = tempfile.mkdtemp(prefix="misperd-pki2.", dir=d.dir)
    crt, key = p.path("server.crt"), p.path("server.key")
    saved = {f: open(f, "rb").read() for f in (crt, key)}
    try:
        with TLSClient.connect(port, context("cad")) as before:
            check_eq(before.s.getpeercert()["serialNumber"].upper(), old,
                "the serial in use at start")
            step("a new certificate and key, then SIGHUP")
            p.cert("server-new", "localhost", "ca",
                "DNS:localhost,IP:127.0.0.1")
            new = p.serial("server-new")
            check(new != old, "the new certificate has another serial")
            shutil.copy(p.path("server-new.crt"), crt)
            shutil.copy(p.path("server-new.key"), key)
            os.chmod(key, 0o600)
            off = d.log_size()
            d.signal(signal.SIGHUP)
            check(d.wait_log("tls: reloaded: certificate CN=localhost",
                timeout=10, offset=off) is not None, "the log says so")
            with TLSClient.connect(port, context("cad")) as c:
                check_eq(c.s.getpeercert()["serialNumber"].upper(), new,
                    "a new connection gets the new certificate")
            r = before.request(EV.reported("MP-H1", "C-H1"))
            check(r.get("ok") is True, "the connection opened before "
                "still works", r)

        step("a certificate that does not match the key: refused")
        shutil.copy(p.path("desk.crt"), crt)
        off = d.log_size()
        d.signal(signal.SIGHUP)
        line = d.wait_log("tls: reload refused; the running certificates "
            "stay", timeout=10, offset=off)
        check(line is not None and "does not belong to the certificate" in
            line, "the reason is logged", line)
        with TLSClient.connect(port, context("cad")) as c:
            check_eq(c.s.getpeercert()["serialNumber"].upper(), new,
                "the running certificate stays")

        step("a key every user can read: refused")
        shutil.copy(p.path("server-new.crt"), crt)
        os.chmod(key, 0o644)
        off = d.log_size()
        d.signal(signal.SIGHUP)
        line = d.wait_log("tls: reload refused", timeout=10, offset=off)
        check(line is not None and "is open to every local user (mode "
            "0644)" in line and "chmod 0600" in line,
            "the mode is named, with the fix", line)
        check(d.alive(), "misperd is still running")
    finally:
        for f, data in saved.items():
            with open(f, "wb") as out:
                out.write(data)
        os.chmod(key, 0o600)
    check_eq(d.stop(), 0, "misperd stops cleanly")


def test_key_mode_at_start():
    """A private key others can read: misperd -n and a start refuse it,
    naming the file, its mode and the chmod to run."""
    p = pki()
    tmp = tempfile.mkdtemp(prefix="misperd-tls.")
    try:
        key = os.path.join(tmp, "server.key")
        shutil.copy(p.path("server.key"), key)
        os.chmod(key, 0o640 | 0o004)
        conf = os.path.join(tmp, "c.yaml")
        with open(conf, "w") as f:
            f.write("listen: {unix: \"\", tcp: [{address: \"127.0.0.1:0\", "
                "tls: true}]}\nsubscribers: {unix: \"\", tcp: []}\n"
                "http: {unix: \"\", tcp: []}\ndatabase: %s\n"
                "tls: {cert: %s, key: %s, ca: %s}\n" % (
                misper.yaml_str(os.path.join(tmp, "m.db")),
                misper.yaml_str(p.path("server.crt")), misper.yaml_str(key),
                misper.yaml_str(p.path("ca.crt"))))
        rc, out = misperd_n(conf)
        check(rc == 1 and "tls.key: %s is open to every local user (mode "
            "0644)" % key in out, "misperd -n refuses the key", out)
        out = misperd_start_fails(conf, tmp)
        check("is open to every local user" in out, "so does a start", out)
        os.chmod(key, 0o600)
        rc, out = misperd_n(conf)
        check(rc == 0 and "configuration OK" in out, "mode 0600 is fine",
            out)
    finally:
        shutil.rmtree(tmp)


def test_nonloopback():
    """A TCP listener off the loopback without TLS is refused by -n and at
    start, with file:line:col; with TLS configured it uses TLS; with
    tls.insecure_plaintext_nonloopback: true it runs in clear and the log
    warns at every start."""
    tmp = tempfile.mkdtemp(prefix="misperd-tls.")
    addr = global_ipv4()
    host = addr or "192.0.2.1"
    try:
        conf = os.path.join(tmp, "c.yaml")
        base = ("database: %s\nsubscribers: {unix: \"\", tcp: []}\n"
            "http: {unix: \"\", tcp: []}\n" % misper.yaml_str(
            os.path.join(tmp, "m.db")))
        text = ("listen:\n  unix: \"\"\n  tcp:\n    - 127.0.0.1:0\n"
            "    - %s:0\n" % host) + base
        with open(conf, "w") as f:
            f.write(text)
        want = "%s:5:7: listen.tcp '%s:0' is not a loopback address" % (
            conf, host)
        step("refused by -n, with the entry's position")
        rc, out = misperd_n(conf)
        check(rc == 1 and want in out and
            "tls.insecure_plaintext_nonloopback: true" in out,
            "misperd -n: %s ..." % want, out)
        step("refused at start, with the same message")
        out = misperd_start_fails(conf, tmp)
        check(want in out, "the start logs it", out)

        step("with tls: configured, the listener uses TLS")
        with open(conf, "w") as f:
            f.write(text + tls_section(pki()))
        rc, out = misperd_n(conf)
        check(rc == 0, "misperd -n accepts it", out)

        step("explicitly allowed without TLS")
        with open(conf, "w") as f:
            f.write(text + "tls: {insecure_plaintext_nonloopback: true}\n")
        rc, out = misperd_n(conf)
        check(rc == 0 and "configuration OK" in out, "misperd -n accepts "
            "it", out)
    finally:
        shutil.rmtree(tmp)
    if addr is None:
        note("no non-loopback IPv4 address here: the start is not tried")
        return

    for tls in (False, True):
        step("a start on %s:0 %s" % (addr, "with TLS" if tls else
            "explicitly without TLS"))
        d = Daemon(tcp="%s:0" % addr, extra=tls_section(pki()) +
            access_section() if tls else
            "tls: {insecure_plaintext_nonloopback: true}")
        d.start()
        log = d.log_since()
        if tls:
            check(re.search(r"listening on tcp:%s:\d+ \(TLS\)" %
                re.escape(addr), log) is not None, "the listener uses TLS",
                log)
            check("WITHOUT TLS" not in log, "no warning")
        else:
            check(re.search(r"warn tls: listen.tcp %s:0 takes connections "
                r"from the network WITHOUT TLS" % re.escape(addr), log)
                is not None, "the log warns of the listener", log)
            check(d.port is not None, "it listens on %s" % addr)
            with d.tcp() as c:
                r = c.request(EV.reported("MP-N1", "C-N1"))
                check(r.get("ok") is True, "a peer there counts as local "
                    "and may submit", r)
            step("and warns again at the next start")
            off = d.log_size()
            d.restart()
            check("WITHOUT TLS" in d.log_since(off), "warned again")
        check_eq(d.stop(), 0, "misperd stops cleanly")


def test_misperctl():
    """misperctl over TLS: --cacert, --cert, --key to the API and to the
    event socket; --token and MISPERD_TOKEN; 401 and 403 as errors;
    hash-token prints the SHA-256 the configuration wants."""
    p = pki()
    d = TLSDaemon().start()
    api = ["-H", "127.0.0.1:%d" % d.ports["HTTP"], "--cacert",
        p.path("ca.crt")]

    def certs(name):
        return ["--cert", p.path(name + ".crt"), "--key",
            p.path(name + ".key")]

    rc, out, err = ctl(*(api + certs("desk") + ["--json", "status"]))
    check(rc == 0 and "rules" in json.loads(out), "status with desk's "
        "certificate", err)
    rc, out, err = ctl(*(api + certs("nobody") + ["status"]))
    check(rc == 1 and "(unauthorised)" in err, "no client: the 401 is "
        "printed, exit 1", err)
    rc, out, err = ctl(*(api + certs("nobody") + ["--token", TOKEN_OPS,
        "reload"]))
    check(rc == 0 and "rules reloaded" in out, "--token: ops reloads",
        out + err)
    rc, out, err = ctl(*(api + certs("nobody") + ["ack", "A-1", "--by",
        "x"]), env={"MISPERD_TOKEN": TOKEN_OPS})
    check(rc == 1 and "(forbidden)" in err and "ack role" in err,
        "MISPERD_TOKEN: ops may not acknowledge (403)", err)
    rc, out, err = ctl("-H", "127.0.0.1:%d" % d.ports["HTTP"], "--cacert",
        p.path("other-ca.crt"), *(certs("desk") + ["status"]))
    check(rc == 3 and "its certificate was refused" in err,
        "a daemon certificate of another CA: refused, exit 3", err)

    step("events over TLS")
    events = os.path.join(d.dir, "ev.ndjson")
    with open(events, "w") as f:	# the last line without LF
        f.write(json.dumps(EV.reported("MP-C1", "C-C1")) + "\n" +
            json.dumps(EV.updated("MP-C1")) + "\n" +
            json.dumps(EV.closed("MP-C1")))
    ev = ["-T", "127.0.0.1:%d" % d.ports["listening"], "--cacert",
        p.path("ca.crt")]
    rc, out, err = ctl(*(ev + certs("cad") + ["send", events]))
    check(rc == 0 and "sent 3, accepted 3" in out, "cad sends 3 events, "
        "the last one ended by close_notify", out + err)
    rc, out, err = ctl(*(ev + certs("desk") + ["send", events]))
    check(rc == 3 and "refused the connection" in err and
        "lacks the send role" in err, "desk may not send: exit 3", err)

    step("hash-token")
    rc, out, err = ctl("hash-token", stdin=(TOKEN_OPS + "\n").encode())
    check_eq((rc, out.strip()), (0, sha256(TOKEN_OPS)), "the SHA-256 of "
        "the token, its line end dropped")
    rc, out, err = ctl("hash-token", stdin=b"two words\n")
    check(rc == 2 and out == "", "a token with a space is refused", err)
    check_eq(d.stop(), 0, "misperd stops cleanly")


if __name__ == "__main__":	# test_faults.py imports the TLS set-up
    run([test_intake_mtls, test_http_tls, test_local_none,
        test_subscribe_tls, test_sighup_reload, test_key_mode_at_start,
        test_nonloopback, test_misperctl], timeout=120)
