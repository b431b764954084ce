# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""GET /metrics (docs/api.md, docs/metrics.md) on the live daemon: the text
passes `promtool check metrics` (Debian's prometheus package) and the
example alerting rules `promtool check rules`, every family of docs/api.md
is there with # HELP and # TYPE, and the values move as events are sent:
events received by type, rejected by error code, duplicates, alerts raised
by rule and level, unacknowledged alerts by level (dropping after
acknowledgements through a stream and over HTTP), webhook deliveries with a
local receiver (delivered, retry), stream deliveries, pending deliveries,
connections, subscribers, latency histograms, the rules' version and the
start time; counters start afresh after a restart, state gauges do not."""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from misper import Events, Skip, check, check_eq, run, step  # noqa
from test_webhook import Receiver, daemon, routes_yaml  # noqa

# docs/api.md's families: name -> type
FAMILIES = {
    "misperd_events_received_total": "counter",
    "misperd_events_rejected_total": "counter",
    "misperd_events_duplicate_total": "counter",
    "misperd_alerts_raised_total": "counter",
    "misperd_deliveries_total": "counter",
    "misperd_deliveries_pending": "gauge",
    "misperd_alerts_unacknowledged": "gauge",
    "misperd_deadlines_open": "gauge",
    "misperd_subscribers_connected": "gauge",
    "misperd_connections_open": "gauge",
    "misperd_intake_latency_seconds": "histogram",
    "misperd_commit_latency_seconds": "histogram",
    "misperd_rules_info": "gauge",
    "misperd_start_time_seconds": "gauge",
    "misperd_purge_rows_total": "counter",
    "misperd_last_purge_timestamp_seconds": "gauge",
    "misperd_limit_hits_total": "counter",
}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else
        m.group(1), v)


class Metrics:
    """One scrape: the samples, and each family's HELP and TYPE."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.types = {}
        self.helps = {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, helptext = line[7:].partition(" ")
                self.helps[name] = helptext
            elif line.startswith("# TYPE "):
                name, _, t = line[7:].partition(" ")
                self.types[name] = t
            else:
                m = SAMPLE.match(line)
                if not m:
                    raise AssertionError("not a sample line: %r" % line)
                labels = {}
                if m.group(2):
                    labels = {k: unescape(v) for k, v in
                        LABEL.findall(m.group(2))}
                key = (m.group(1), tuple(sorted(labels.items())))
                self.samples[key] = float(m.group(3))

    def get(self, name, **labels):
        """The value of a series, or None when it is not shown."""
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def series(self, name):
        return {k[1]: v for k, v in self.samples.items() if k[0] == name}


def scrape(d):
    status, headers, text = d.http_get("/metrics")
    check_eq(status, 200, "GET /metrics: 200")
    check(headers.get("content-type", "").startswith(
        "text/plain; version=0.0.4"), "Content-Type text/plain; "
        "version=0.0.4", headers.get("content-type"))
    return Metrics(text)


def wait_metrics(d, pred, what, timeout=15.0):
    """Scrape until pred(metrics) holds; check it; return the scrape."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, text = d.http_get("/metrics")
        m = Metrics(text) if status == 200 else None
        if m is not None and pred(m):
            check(True, what)
            return m
        if time.monotonic() > deadline:
            check(False, what, "last scrape:\n" + (text if m is None else
                "\n".join(l for l in text.splitlines()
                    if not l.startswith("#"))))
        time.sleep(0.1)


def promtool():
    p = shutil.which("promtool") or "/usr/bin/promtool"
    return p if os.access(p, os.X_OK) else None


def report(ev, child, risk, area="lambeth"):
    return ev.reported("MP-%s-%s" % (ev.prefix, child), {"id": child,
        "dob": "2010-06-15", "looked_after": False, "cp_plan": False,
        "area": area, "flags": []}, risk=risk)


def stream(d, routes):
    c = d.sub_unix()
    r = c.request({"cmd": "subscribe", "routes": routes, "name": "metrics"})
    check(r.get("ok") is True, "a stream subscribed to %s" % routes, r)
    return c


def test_promtool():
    """The whole text, after events, rejections, alerts and a webhook
    delivery, passes `promtool check metrics` without a word, and every
    family of docs/api.md has its # HELP and # TYPE."""
    tool = promtool()
    if tool is None:
        raise Skip("promtool is not installed (Debian package prometheus: "
            "apt-get install --no-install-recommends prometheus)")
    rcv = Receiver()
    try:
        d = daemon(routes_yaml('mpu:\n  webhooks: [{url: "%s"}]' % rcv.url))
        ev = Events("PT")
        with d.unix() as c:
            r = c.request(report(ev, "C-PT-1", "high"))
            check_eq(len(r["alerts"]), 1, "an alert raised")
            c.request("{broken")
        rcv.wait(1)
        m = wait_metrics(d, lambda m: m.get("misperd_deliveries_total",
            channel="webhook", outcome="delivered") == 1,
            "the webhook delivery is counted")
        for name, t in sorted(FAMILIES.items()):
            check(name in m.helps and m.helps[name] != "",
                "%s has a # HELP" % name)
            check_eq(m.types.get(name), t, "%s # TYPE" % name)
        step("promtool check metrics")
        p = subprocess.run([tool, "check", "metrics"], input=m.text.encode(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace").strip()
        check_eq((p.returncode, out), (0, ""), "promtool: exit 0, no "
            "problems reported")
        step("promtool check rules on the example alerting rules")
        rules = os.path.join(os.environ.get("MISPER_SRCDIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", ".."),
            "examples", "prometheus-rules.yml")
        p = subprocess.run([tool, "check", "rules", rules],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        check(p.returncode == 0 and "SUCCESS" in out,
            "examples/prometheus-rules.yml passes", out.strip())
        for name in sorted(set(re.findall(r"misperd_[a-z_]+",
                open(rules).read()))):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            check(base in m.types, "the rules use an existing metric: %s" %
                name)
    finally:
        rcv.close()


def test_values_move():
    """Counters and gauges follow what happens: events by type, rejections
    by code, duplicates, alerts by rule and level, unacknowledged alerts
    by level (down after an acknowledgement through the stream and one
    over HTTP), webhook and stream deliveries, pending deliveries,
    connections and subscribers, and both latency histograms."""
    rcv = Receiver(script=[503])		# the first attempt fails
    try:
        t_before = time.time()
        d = daemon(routes_yaml('mpu:\n  webhooks: [{url: "%s"}]' % rcv.url,
            {"retry_initial": "100ms", "retry_max": "200ms"}))
        t_ready = time.time()
        m0 = scrape(d)
        step("at the start: every series there, at zero")
        check_eq(m0.get("misperd_events_received_total",
            type="episode.reported"), 0.0, "received episode.reported 0")
        check_eq(m0.get("misperd_alerts_raised_total",
            rule="high_risk_reported", level="urgent"), 0.0,
            "high_risk_reported/urgent declared at 0")
        check_eq(m0.get("misperd_alerts_unacknowledged", level="urgent"),
            0.0, "no unacknowledged urgent alert")
        check_eq(m0.get("misperd_deliveries_pending"), 0.0,
            "no pending delivery")
        start = m0.get("misperd_start_time_seconds")
        check(start is not None and t_before - 1 <= start <= t_ready + 1,
            "start time is when the daemon started", start)
        rules = open(d.rules_file, "rb").read()
        info = m0.series("misperd_rules_info")
        want = (("path", d.rules_file),
            ("version", "sha256:" + hashlib.sha256(rules).hexdigest()))
        check_eq(info, {want: 1.0}, "rules_info: version and path, 1")

        step("a stream subscribes to mpu; an event connection stays open")
        sub = stream(d, ["mpu"])
        events = d.unix()
        m = wait_metrics(d, lambda m: m.get("misperd_subscribers_connected")
            == 1 and m.get("misperd_connections_open",
            listener="subscribers") == 1 and
            m.get("misperd_connections_open", listener="events") == 1,
            "subscribers_connected 1; one subscriber and one event "
            "connection open")
        check(m.get("misperd_connections_open", listener="http") >= 1,
            "the scrape's own HTTP connection is counted")

        step("send: two reports raising an alert each, a resend, three "
            "refused lines")
        ev = Events("MV")
        first = report(ev, "C-MV-1", "high")
        r1 = events.request(first)
        r2 = events.request(report(ev, "C-MV-2", "medium"))
        check_eq((len(r1["alerts"]), len(r2["alerts"])), (1, 1),
            "one alert each")
        r3 = events.request(first)
        check(r3.get("duplicate") is True, "the resend is a duplicate", r3)
        for line, code in (("{broken", "bad_json"),
                ('{"id":"X-1","type":"episode.vanished","at":'
                 '"2025-03-01T10:00:00Z"}', "unknown_type"),
                ('{"id":"X-2","type":"episode.found","at":'
                 '"2025-03-01T10:00:00Z"}', "missing_field")):
            r = events.request(line)
            check_eq(r.get("error"), code, "refused: " + code)

        m1 = scrape(d)
        delta = lambda name, **kw: (m1.get(name, **kw) or 0) - \
            (m0.get(name, **kw) or 0)
        check_eq(delta("misperd_events_received_total",
            type="episode.reported"), 2.0, "received episode.reported +2")
        check_eq(delta("misperd_events_received_total",
            type="episode.found"), 0.0, "received episode.found +0")
        for code in ("bad_json", "unknown_type", "missing_field"):
            check_eq(delta("misperd_events_rejected_total", error=code), 1.0,
                "rejected %s +1" % code)
        check_eq(delta("misperd_events_rejected_total", error="conflict"),
            0.0, "rejected conflict +0")
        check_eq(delta("misperd_events_duplicate_total"), 1.0,
            "duplicates +1")
        check_eq(m1.get("misperd_alerts_raised_total",
            rule="high_risk_reported", level="urgent"), 1.0,
            "alerts raised: high_risk_reported/urgent 1")
        check_eq(m1.get("misperd_alerts_raised_total",
            rule="medium_risk_reported", level="review"), 1.0,
            "alerts raised: medium_risk_reported/review 1")
        check_eq((m1.get("misperd_alerts_unacknowledged", level="urgent"),
            m1.get("misperd_alerts_unacknowledged", level="review")),
            (1.0, 1.0), "unacknowledged: one urgent, one review")
        check(delta("misperd_intake_latency_seconds_count") >= 1,
            "intake latency observed", delta(
            "misperd_intake_latency_seconds_count"))
        check(delta("misperd_commit_latency_seconds_count") >= 3,
            "commit latency observed (a commit per batch with events)",
            delta("misperd_commit_latency_seconds_count"))

        step("the webhook: 503 first (a retry), then delivered; the stream "
            "got both alerts")
        rcv.wait(3, timeout=15)
        m2 = wait_metrics(d, lambda m: m.get("misperd_deliveries_total",
            channel="webhook", outcome="delivered") == 2 and
            m.get("misperd_deliveries_pending") == 0,
            "two webhook deliveries delivered, none pending")
        check_eq(m2.get("misperd_deliveries_total", channel="webhook",
            outcome="retry"), 1.0, "one webhook retry (the 503)")
        check_eq(m2.get("misperd_deliveries_total", channel="webhook",
            outcome="failed"), 0.0, "no webhook failure")
        got = [json.loads(sub.recv_line()) for _ in range(2)]
        ids = sorted(a["alert"] for a in got)
        check_eq(ids, sorted(r1["alerts"] + r2["alerts"]),
            "the stream received both alerts")
        check_eq(m2.get("misperd_deliveries_total", channel="stream",
            outcome="delivered"), 2.0, "two stream deliveries")

        step("acknowledge the urgent alert through the stream")
        r = sub.request({"cmd": "ack", "alert": r1["alerts"][0],
            "by": "PS 1234 Smith"})
        check(r.get("ok") is True, "acknowledged", r)
        m3 = scrape(d)
        check_eq((m3.get("misperd_alerts_unacknowledged", level="urgent"),
            m3.get("misperd_alerts_unacknowledged", level="review")),
            (0.0, 1.0), "unacknowledged: no urgent, one review")
        check_eq(m3.get("misperd_alerts_raised_total",
            rule="high_risk_reported", level="urgent"), 1.0,
            "alerts raised stays 1")

        step("acknowledge the review alert over HTTP")
        status, _, body = d.http_post("/v1/alerts/%s/ack" % r2["alerts"][0],
            {"by": "DS 99 Jones"})
        check_eq(status, 200, "POST /v1/alerts/{id}/ack: 200")
        m4 = scrape(d)
        check_eq(m4.get("misperd_alerts_unacknowledged", level="review"),
            0.0, "unacknowledged: no review")

        step("the stream and the event connection close")
        sub.close()
        events.close()
        wait_metrics(d, lambda m: m.get("misperd_subscribers_connected")
            == 0 and m.get("misperd_connections_open",
            listener="subscribers") == 0 and
            m.get("misperd_connections_open", listener="events") == 0,
            "no subscriber and no connection left")
        check_eq(d.stop(), 0, "SIGTERM: exit 0")
    finally:
        rcv.close()


def test_http_connections():
    """connections_open{listener="http"} counts open API connections: a
    kept-alive connection is counted until it closes, and closed ones are
    not counted again."""
    d = daemon("")
    for _ in range(5):
        d.http_get("/healthz")
    m = wait_metrics(d, lambda m: m.get("misperd_connections_open",
        listener="http") == 1, "after five closed requests, only the "
        "scrape's own connection is open")
    step("a connection that sends one request and stays open")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.api_sock)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    check(b"200" in s.recv(4096).split(b"\r\n")[0], "answered 200")
    wait_metrics(d, lambda m: m.get("misperd_connections_open",
        listener="http") == 2, "two HTTP connections open")
    s.close()
    wait_metrics(d, lambda m: m.get("misperd_connections_open",
        listener="http") == 1, "back to one once it closed")
    check_eq(m.get("misperd_deadlines_open"), 0.0, "no deadline open")


def test_restart():
    """Alerts raised before a restart are not counted again: counters
    start at zero with the process, while the state gauges (unacknowledged
    alerts) read the store and keep the truth."""
    d = daemon("")
    ev = Events("RS")
    with d.unix() as c:
        r = c.request(report(ev, "C-RS-1", "high"))
        check_eq(len(r["alerts"]), 1, "an alert raised")
    m = scrape(d)
    check_eq(m.get("misperd_alerts_raised_total", rule="high_risk_reported",
        level="urgent"), 1.0, "raised: 1")
    d.restart()
    m = scrape(d)
    check_eq(m.get("misperd_alerts_raised_total", rule="high_risk_reported",
        level="urgent"), 0.0, "after the restart: raised 0")
    check_eq(m.get("misperd_events_received_total",
        type="episode.reported"), 0.0, "after the restart: received 0")
    check_eq(m.get("misperd_alerts_unacknowledged", level="urgent"), 1.0,
        "after the restart: the alert is still unacknowledged")
    check_eq(d.stop(), 0, "SIGTERM: exit 0")


if __name__ == "__main__":
    run([test_promtool, test_values_move, test_http_connections,
        test_restart])
