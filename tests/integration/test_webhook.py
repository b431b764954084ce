# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""Webhook delivery and escalation (contract section 5, docs/protocol.md)
against real HTTP receivers on loopback: the POST's body and headers,
routing by the child's area, retries with backoff until a 2xx (each attempt
recorded), failure at the give-up age, SIGKILL with deliveries pending
(each delivered after the restart, none sent again after a 2xx), and the
escalation of an unacknowledged urgent alert along its route's chain."""

import http.server
import json
import os
import signal
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import (Client, Daemon, Events, Fail, Skip, check,  # noqa
    check_eq, note, run, step)

RULES = """\
version: 1
routes:
  mpu: "Missing persons unit"
  duty_inspector: "Duty inspector"
  social_care: "Children's social care"
rules:
  - id: high_risk_reported
    kind: match
    routes: [mpu]
    when: {type: episode.reported, risk: high}
    level: urgent
    summary: "{child} reported missing at high risk (episode {episode})"
  - id: medium_risk_reported
    kind: match
    routes: [mpu]
    when: {type: episode.reported, risk: medium}
    level: review
    summary: "{child} reported missing at medium risk (episode {episode})"
"""

SECRET = "s3cret-api-key-do-not-log"


class Receiver:
    """An HTTP server on 127.0.0.1 (port 0) in a thread.  Each POST is
    recorded (path, headers, body, the status sent); the answer is the next
    of script (an int status, or "hang": never answer), then default."""

    def __init__(self, script=(), default=200, tls=None):
        self.script = list(script)
        self.default = default
        self.requests = []
        self.lock = threading.Lock()
        self.release = threading.Event()	# ends every hang
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rcv.lock:
                    act = rcv.script.pop(0) if rcv.script else rcv.default
                    rec = {"path": self.path, "headers": dict(self.headers),
                        "body": body, "status": None, "at": time.time()}
                    rcv.requests.append(rec)
                if act == "hang":
                    # longer than any webhook timeout of the tests,
                    # which are stretched under a wrapper (test_faults)
                    rcv.release.wait(60 * misper.TIMEOUT_SCALE)
                    return
                rec["status"] = act
                out = b'{"ok":true}'
                self.send_response(act)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
            Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/alerts" % self.port
        if tls is not None:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket,
                server_side=True)
            self.url = "https://127.0.0.1:%d/alerts" % self.port
        threading.Thread(target=self.server.serve_forever,
            daemon=True).start()

    def set(self, script=(), default=200):
        with self.lock:
            self.script = list(script)
            self.default = default

    def got(self):
        with self.lock:
            return list(self.requests)

    def wait(self, n, timeout=10.0):
        """Wait for at least n requests; returns them.  timeout is
        stretched by the harness's TIMEOUT_SCALE."""
        deadline = time.monotonic() + timeout * misper.TIMEOUT_SCALE
        while len(self.got()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.got()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def key(r):
    return {k.lower(): v for k, v in r["headers"].items()}.get(
        "idempotency-key")


def header(r, name):
    return {k.lower(): v for k, v in r["headers"].items()}.get(name.lower())


def daemon(extra):
    """A daemon with the test rules and extra config (routes, delivery)."""
    d = Daemon(extra=extra)
    d.rules_file = os.path.join(d.dir, "rules.yaml")
    with open(d.rules_file, "w") as f:
        f.write(RULES)
    d.write_config()
    return d.start()


def raise_alerts(d, ev, n, risk="high", area="lambeth", prefix="C"):
    """Report n episodes of n children: one alert each; their ids."""
    ids = []
    with d.unix() as c:
        for i in range(n):
            child = {"id": "%s-%s-%d" % (prefix, ev.prefix, i),
                "dob": "2010-06-15", "looked_after": False, "cp_plan": False,
                "area": area, "flags": []}
            r = c.request(ev.reported("MP-%s-%s-%d" % (prefix, ev.prefix, i),
                child, risk=risk))
            check(r.get("ok") is True, "episode %d accepted" % i, r)
            ids += r["alerts"]
    check_eq(len(ids), n, "%d alert(s) raised" % n)
    return ids


def wait_db(d, sql, args, pred, timeout=10.0):
    """Poll a query until pred(rows); returns the last rows.  timeout is
    stretched by the harness's TIMEOUT_SCALE."""
    deadline = time.monotonic() + timeout * misper.TIMEOUT_SCALE
    while True:
        rows = d.query(sql, args)
        if pred(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def wh_rows(d, route="mpu"):
    return d.query("SELECT a.id, w.url, w.status, w.attempts, w.created_ms,"
        " w.done_ms, w.http_status, w.last_error FROM webhook_deliveries w"
        " JOIN alerts a ON a.seq = w.alert_seq WHERE w.route = ?"
        " ORDER BY w.alert_seq", (route,))


def attempts(d, alert):
    return d.query("SELECT t.outcome, t.http_status, t.error, t.started_ms,"
        " t.ended_ms FROM delivery_attempts t JOIN alerts a"
        " ON a.seq = t.alert_seq WHERE a.id = ? ORDER BY t.id", (alert,))


def routes_yaml(routes, delivery=None):
    lines = ["routes:"] + ["  " + l for l in routes.strip("\n").split("\n")]
    if delivery:
        lines.append("delivery:")
        lines += ["  %s: %s" % kv for kv in delivery.items()]
    return "\n".join(lines)


def test_delivery_body_headers():
    """One alert reaches the mpu webhook as the contract says: a POST with
    Content-Type: application/json, Idempotency-Key: <alert id>, the
    configured header, and the stored alert object as its body."""
    rcv = Receiver()
    try:
        d = daemon(routes_yaml("""
mpu:
  webhooks:
    - url: "%s"
      headers: {X-Api-Key: "%s"}
      timeout: 2s
""" % (rcv.url, SECRET)))
        step("the rules name duty_inspector and social_care, which have no "
            "webhooks: said once at start")
        check(d.wait_log("route duty_inspector has no webhooks", 2) is not
            None, "log names duty_inspector as having no webhooks")
        step("raise one urgent alert")
        ev = Events("WH1")
        [aid] = raise_alerts(d, ev, 1)
        got = rcv.wait(1)
        check_eq(len(got), 1, "the receiver got one request")
        r = got[0]
        check_eq(r["path"], "/alerts", "POSTed to the URL's path")
        check_eq(header(r, "Content-Type"), "application/json",
            "Content-Type")
        check_eq(key(r), aid, "Idempotency-Key is the alert id")
        check_eq(header(r, "X-Api-Key"), SECRET, "the configured header")
        stored = json.loads(d.query("SELECT body FROM alerts WHERE id = ?",
            (aid,))[0][0])
        check_eq(json.loads(r["body"]), stored, "body is the stored alert")
        check_eq(stored["routes"], ["mpu"], "the alert's routes")
        step("the database shows it delivered, with one attempt")
        rows = wait_db(d, "SELECT status, channels FROM deliveries", (),
            lambda rs: rs and rs[0][0] == "delivered")
        check_eq(rows, [("delivered", 1)], "deliveries row delivered")
        w = wh_rows(d)
        check_eq([(x[0], x[1], x[2], x[3], x[6]) for x in w],
            [(aid, rcv.url, "delivered", 1, 200)], "webhook row")
        t = attempts(d, aid)
        check_eq([x[:3] for x in t], [("delivered", 200, None)],
            "one attempt recorded: delivered, HTTP 200")
        time.sleep(0.5)
        check_eq(len(rcv.got()), 1, "not sent again")
        check(SECRET not in d.log_since(0), "the header value is not logged")
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        rcv.close()


def test_area_routing():
    """A route's areas pick the unit that covers the child: a croydon child
    goes to the croydon webhook, any other to the route's own."""
    main, croydon = Receiver(), Receiver()
    try:
        d = daemon(routes_yaml("""
mpu:
  webhooks: [{url: "%s"}]
  areas:
    croydon: {webhooks: [{url: "%s"}]}
""" % (main.url, croydon.url)))
        ev = Events("WH2")
        step("one alert for a croydon child, one for a lambeth child")
        [a1] = raise_alerts(d, ev, 1, area="croydon", prefix="CR")
        [a2] = raise_alerts(d, ev, 1, area="lambeth", prefix="LA")
        c = croydon.wait(1)
        m = main.wait(1)
        time.sleep(0.3)
        check_eq([key(r) for r in croydon.got()], [a1],
            "croydon's unit got the croydon child's alert only")
        check_eq([key(r) for r in main.got()], [a2],
            "the route's own webhook got the other")
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        main.close()
        croydon.close()


def test_retry_then_success():
    """A receiver that fails 3 times (500, 503, 500) then answers 200: the
    alert is delivered once, with 3 retries and 1 success recorded, at
    growing intervals."""
    rcv = Receiver(script=[500, 503, 500], default=200)
    try:
        d = daemon(routes_yaml("""
mpu:
  webhooks: [{url: "%s", timeout: 2s}]
""" % rcv.url, {"retry_initial": "200ms", "retry_max": "2s",
            "give_up_after": "1m"}))
        ev = Events("WH3")
        [aid] = raise_alerts(d, ev, 1)
        got = rcv.wait(4, timeout=15)
        check_eq([r["status"] for r in got], [500, 503, 500, 200],
            "the receiver answered 500, 503, 500, 200")
        check(all(key(r) == aid for r in got),
            "every attempt carries the same Idempotency-Key")
        gaps = [b["at"] - a["at"] for a, b in zip(got, got[1:])]
        note("gaps between attempts: %s s" % ", ".join("%.2f" % g
            for g in gaps))
        check(gaps[0] >= 0.09, "first retry after at least half of "
            "retry_initial (equal jitter)", gaps)
        check(gaps[2] >= 0.39, "third retry after at least half of "
            "4 x retry_initial", gaps)
        rows = wait_db(d, "SELECT status FROM deliveries", (),
            lambda rs: rs and rs[0][0] == "delivered")
        check_eq(rows, [("delivered",)], "delivered")
        t = attempts(d, aid)
        check_eq([(x[0], x[1]) for x in t], [("retry", 500), ("retry", 503),
            ("retry", 500), ("delivered", 200)],
            "attempts recorded: 3 retries, then 1 success")
        check(all(x[4] >= x[3] for x in t), "each attempt has its times")
        w = wh_rows(d)
        check_eq((w[0][2], w[0][3]), ("delivered", 4), "4 attempts in all")
        time.sleep(1.0)
        check_eq(len(rcv.got()), 4, "nothing sent after the 2xx")
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        rcv.close()


def test_give_up():
    """A receiver that accepts connections and never answers: every
    attempt times out, and the delivery is failed at the give-up age (2 s
    here) and shown so in deliveries and the log."""
    if misper.wrapper():
        raise Skip("the daemon runs under a wrapper (valgrind): this test "
            "times the daemon's own 300 ms attempts and 2 s give-up age to "
            "within a few hundred milliseconds")
    rcv = Receiver(default="hang")
    try:
        d = daemon(routes_yaml("""
mpu:
  webhooks: [{url: "%s", timeout: 300ms}]
""" % rcv.url, {"retry_initial": "100ms", "retry_max": "400ms",
            "give_up_after": "2s"}))
        ev = Events("WH4")
        t0 = time.time()
        [aid] = raise_alerts(d, ev, 1)
        rows = wait_db(d, "SELECT status FROM deliveries", (),
            lambda rs: rs and rs[0][0] != "pending", timeout=10)
        el = time.time() - t0
        check_eq(rows, [("failed",)], "deliveries row failed")
        w = wh_rows(d)[0]
        age = w[5] - w[4]
        note("failed %d ms after it was created, after %d attempts: %s" % (
            age, w[3], w[7]))
        check(2000 <= age < 2000 + 300 + 1000,
            "failed at the give-up age (2 s, plus at most one timeout)", age)
        check(el < 5, "within the test's time", el)
        t = attempts(d, aid)
        check(len(t) >= 3, "several attempts recorded (%d)" % len(t))
        check(all(x[0] in ("retry", "failed") and x[1] is None and
            x[2] == "timed out" for x in t), "each: no HTTP status, timed out",
            t)
        check(all(250 <= x[4] - x[3] < 1000 for x in t),
            "each attempt lasted about the 300 ms timeout",
            [x[4] - x[3] for x in t])
        check_eq(w[3], len(t), "attempts counted on the row")
        check(d.wait_log(lambda l: "failed" in l and aid in l, 2) is not None,
            "the failure is logged")
        n = len(rcv.got())
        time.sleep(1.0)
        check_eq(len(rcv.got()), n, "no attempt after failing")
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        rcv.close()


def test_sigkill_resume():
    """SIGKILL with deliveries pending: 8 alerts; the receiver answers 200
    to the first 3 and holds the rest.  Once the 3 are recorded delivered
    the daemon is killed; after a restart the other 5 are delivered and
    none of the first 3 is sent again."""
    rcv = Receiver(script=[200, 200, 200], default="hang")
    try:
        d = daemon(routes_yaml("""
mpu:
  webhooks: [{url: "%s", timeout: 10s}]
""" % rcv.url, {"retry_initial": "200ms", "give_up_after": "1m",
            # one URL holds at most a quarter of the slots: 32 lets all
            # 8 be in flight to this one receiver at once
            "max_in_flight": 32}))
        ev = Events("WH5")
        ids = raise_alerts(d, ev, 8)
        step("wait for 3 delivered, 5 held by the receiver")
        rows = wait_db(d, "SELECT count(*) FROM webhook_deliveries WHERE"
            " status = 'delivered'", (), lambda rs: rs[0][0] >= 3)
        check_eq(rows[0][0], 3, "3 delivered")
        rcv.wait(8)
        check_eq(len(rcv.got()), 8, "8 requests reached the receiver")
        first = {key(r) for r in rcv.got() if r["status"] == 200}
        step("SIGKILL with 5 in flight")
        d.kill()
        rcv.set(default=200)
        rcv.release.set()		# the held requests end, unanswered
        pend = d.query("SELECT count(*) FROM webhook_deliveries WHERE"
            " status = 'pending'")[0][0]
        check_eq(pend, 5, "5 pending in the database")
        step("restart")
        d.start()
        rows = wait_db(d, "SELECT count(*) FROM webhook_deliveries WHERE"
            " status = 'delivered'", (), lambda rs: rs[0][0] >= 8)
        check_eq(rows[0][0], 8, "all 8 delivered after the restart")
        time.sleep(0.5)
        ok = {}
        for r in rcv.got():
            if r["status"] == 200:
                ok[key(r)] = ok.get(key(r), 0) + 1
        check_eq(sorted(ok), sorted(ids), "each alert got a 2xx")
        check(all(v == 1 for v in ok.values()),
            "none got a 2xx twice", ok)
        again = [key(r) for r in rcv.got()[8:] if key(r) in first]
        check_eq(again, [], "none of the 3 delivered before the kill was "
            "sent again")
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        rcv.close()


def make_cert(d):
    """A self-signed certificate for localhost and 127.0.0.1, or Skip."""
    import shutil
    import subprocess
    from misper import Skip
    if shutil.which("openssl") is None:
        raise Skip("no openssl command to make a test certificate")
    cert, keyf = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
        "-nodes", "-keyout", keyf, "-out", cert, "-days", "2", "-subj",
        "/CN=localhost", "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return cert, keyf


def test_https():
    """HTTPS webhooks: a receiver whose certificate the system does not
    trust is never sent the alert (each attempt fails verification); one
    that is trusted (SSL_CERT_FILE names its certificate) gets it, by IP
    address and by host name (SNI)."""
    import tempfile
    tmp = tempfile.mkdtemp(prefix="misperd-tls.")
    cert = make_cert(tmp)
    rcv = Receiver(tls=cert)
    named = "https://localhost:%d/named" % rcv.port
    # a TLS handshake under valgrind takes more than 2 s
    tmo = "%dms" % (2000 * misper.TIMEOUT_SCALE)
    try:
        conf = routes_yaml("""
mpu:
  webhooks: [{url: "%s", timeout: %s}, {url: "%s", timeout: %s}]
""" % (rcv.url, tmo, named, tmo), {"retry_initial": "300ms",
            "retry_max": "300ms",
            "give_up_after": "1m"})
        step("untrusted certificate")
        d = daemon(conf)
        ev = Events("WH7")
        [aid] = raise_alerts(d, ev, 1)
        rows = wait_db(d, "SELECT count(*) FROM delivery_attempts", (),
            lambda rs: rs[0][0] >= 2)
        t = attempts(d, aid)
        note("first attempt: %s" % (t[0],))
        check(all(x[0] == "retry" and x[1] is None and "TLS" in (x[2] or "")
            for x in t), "every attempt failed TLS verification", t)
        check_eq(rcv.got(), [], "the receiver got no request")
        d.kill()
        step("trusted certificate (SSL_CERT_FILE)")
        os.environ["SSL_CERT_FILE"] = cert[0]
        try:
            d2 = daemon(conf)
        finally:
            del os.environ["SSL_CERT_FILE"]
        [aid2] = raise_alerts(d2, ev, 1, prefix="T")
        got = rcv.wait(2)
        check_eq(sorted(r["path"] for r in got), ["/alerts", "/named"],
            "delivered to both URLs over TLS")
        check(all(key(r) == aid2 for r in got), "with the alert's key")
        rows = wait_db(d2, "SELECT status FROM deliveries", (),
            lambda rs: rs and rs[0][0] == "delivered")
        check_eq(rows, [("delivered",)], "recorded delivered")
        check_eq(d2.stop(), 0, "SIGTERM: exit 0")
    finally:
        rcv.close()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def ack(d, alert):
    """Acknowledge with the alert stream's ack command."""
    with d.sub_unix() as c:
        r = c.request({"cmd": "ack", "alert": alert, "by": "PS 1 Test",
            "note": "seen"})
    check(r.get("ok") is True, "%s acknowledged on the stream" % alert)


def test_escalation():
    """mpu escalates urgent alerts after 1.5 s to duty_inspector: an
    unacknowledged urgent alert reaches duty_inspector's webhook (recorded
    in escalations); an acknowledged one and a review alert do not."""
    mpu, duty = Receiver(), Receiver()
    try:
        d = daemon(routes_yaml("""
mpu:
  webhooks: [{url: "%s"}]
  escalate: {after: 1500ms, to: duty_inspector}
duty_inspector:
  webhooks: [{url: "%s"}]
""" % (mpu.url, duty.url)))
        ev = Events("WH6")
        step("a duty_inspector subscriber is listening")
        sub = d.sub_unix()
        r = sub.request({"cmd": "subscribe", "routes": ["duty_inspector"],
            "name": "duty-desk"})
        check(r.get("ok") is True, "subscribed to duty_inspector")
        step("two urgent alerts and one review alert; acknowledge the "
            "second urgent one at once")
        [a1, a2] = raise_alerts(d, ev, 2, prefix="U")
        [a3] = raise_alerts(d, ev, 1, risk="medium", prefix="R")
        ack(d, a2)
        mpu.wait(3)
        check_eq(sorted(key(r) for r in mpu.got()), sorted([a1, a2, a3]),
            "mpu got all three at once")
        check_eq(duty.got(), [], "duty_inspector nothing yet")
        step("after 1.5 s the unacknowledged urgent alert escalates")
        got = duty.wait(1, timeout=5)
        check_eq([key(r) for r in got], [a1],
            "duty_inspector got the unacknowledged urgent alert")
        check_eq(header(got[0], "Misperd-Escalated-From"), "mpu",
            "marked as escalated from mpu")
        body = json.loads(got[0]["body"])
        check_eq(body["alert"], a1, "the body is the alert")
        esc = d.query("SELECT a.id, e.from_route, e.to_route, e.at_ms -"
            " a.raised_at_ms FROM escalations e JOIN alerts a"
            " ON a.seq = e.alert_seq")
        check_eq([e[:3] for e in esc], [(a1, "mpu", "duty_inspector")],
            "one escalation recorded")
        line = json.loads(sub.recv_line(timeout=5))
        check_eq(line.get("alert"), a1,
            "the duty_inspector subscriber got the escalated alert")
        check(1500 <= esc[0][3] < 3000, "about 1.5 s after it was raised",
            esc[0][3])
        rows = wait_db(d, "SELECT d.route, d.status, d.escalated_from FROM"
            " deliveries d JOIN alerts a ON a.seq = d.alert_seq WHERE"
            " a.id = ? ORDER BY d.route", (a1,),
            lambda rs: all(r[1] == "delivered" for r in rs))
        check_eq(rows, [("duty_inspector", "delivered", "mpu"),
            ("mpu", "delivered", None)], "its deliveries")
        check(d.wait_log("escalated to duty_inspector", 1) is not None,
            "the escalation is logged")
        time.sleep(1.5)
        check_eq([key(r) for r in duty.got()], [a1],
            "the acknowledged and the review alert did not escalate")
        check_eq(len(d.query("SELECT * FROM escalations")), 1,
            "still one escalation")
        sub.close()
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        mpu.close()
        duty.close()


ESC_RULES = RULES.replace("""  - id: medium_risk_reported
    kind: match
    routes: [mpu]""", """  - id: medium_risk_reported
    kind: match
    routes: [duty_inspector]""")


def test_escalation_to_full_stream_once():
    """An alert escalated to a stream's route while the stream is full and
    its pager has not reached the alert yet is sent to it once, not twice
    (once by the pager, once as an escalation).  800 review alerts for
    duty_inspector fill a stream that reads nothing, then an urgent mpu
    alert escalates to duty_inspector; the stream then reads everything."""
    mpu, duty = Receiver(), Receiver()
    try:
        d = Daemon(extra=routes_yaml("""
mpu:
  webhooks: [{url: "%s"}]
  escalate: {after: 1500ms, to: duty_inspector}
duty_inspector:
  webhooks: [{url: "%s"}]
""" % (mpu.url, duty.url)), subscribers={"max_buffer_bytes": 4096})
        d.rules_file = os.path.join(d.dir, "rules.yaml")
        with open(d.rules_file, "w") as f:
            f.write(ESC_RULES)
        d.write_config()
        d.start()
        ev = Events("WH7")
        step("800 review alerts for duty_inspector, then 1 urgent for mpu")
        backlog = raise_alerts(d, ev, 800, risk="medium", prefix="R")
        [urgent] = raise_alerts(d, ev, 1, prefix="U")
        step("a duty_inspector stream subscribes and reads nothing")
        sub = d.sub_unix()
        r = sub.request({"cmd": "subscribe", "routes": ["duty_inspector"]})
        check(r.get("ok") is True, "subscribed to duty_inspector")
        rows = wait_db(d, "SELECT COUNT(*) FROM escalations", (),
            lambda rs: rs[0][0] == 1)
        check_eq(rows[0][0], 1, "%s escalated to duty_inspector while the "
            "stream was full" % urgent)
        step("the stream reads everything")
        got = []
        while len(got) < len(backlog) + 1:
            line = sub.recv_line(timeout=10)
            if line is None:
                raise Fail("the stream ended after %d alerts" % len(got))
            x = json.loads(line)
            if "alert" in x:
                got.append(x["alert"])
        try:
            line = sub.recv_line(timeout=1.5)
            if line is not None and "alert" in json.loads(line):
                got.append(json.loads(line)["alert"])
        except Fail:
            pass
        check_eq(got.count(urgent), 1, "the escalated alert came once")
        check_eq(sorted(set(got) - {urgent}), sorted(backlog),
            "every backlog alert came")
        check_eq(len(got), len(backlog) + 1, "and nothing twice")
        sub.close()
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        mpu.close()
        duty.close()


def test_bad_routes_refused():
    """Route configuration errors stop the daemon at start with
    file:line:col messages: a bad scheme and an escalation to an
    unconfigured route."""
    d = Daemon(extra=routes_yaml("""
mpu:
  webhooks: [{url: "ftp://example.org/x"}]
  escalate: {after: 30m, to: nobody}
"""))
    import subprocess
    p = subprocess.run(misper.wrap([d.bin, "-n", "-c", d.conf]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    note(out.strip().replace("\n", " | "))
    check(p.returncode != 0, "the configuration is refused")
    check("must begin with http:// or https://" in out, "bad scheme named")
    check("escalates to nobody" in out, "unknown escalation target named")
    check(":%d:" % (len(open(d.conf).read().splitlines()) - 1) in out or
        "misperd.yaml:" in out, "errors give file:line:col")


if __name__ == "__main__":
    run([test_delivery_body_headers, test_area_routing,
        test_retry_then_success, test_give_up, test_sigkill_resume,
        test_escalation, test_escalation_to_full_stream_once, test_https, test_bad_routes_refused])
