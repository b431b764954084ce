# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""The systemd unit: `systemd-analyze verify` accepts it (pointing at the
built daemon and man page), `systemd-analyze security` rates its sandbox
2.0 or lower, and the daemon speaks the notify protocol: READY=1 once it
listens, STOPPING=1 when told to stop.  Skipped where systemd-analyze is
not installed."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from misper import (Daemon, Skip, check, check_eq, daemon_path, run, srcdir,
    step)


def unit_for_build(tmp):
    """The unit with @sbindir@ set to the build, and a MANPATH for it."""
    with open(os.path.join(srcdir(), "systemd", "misperd.service.in")) as f:
        text = f.read()
    text = (text.replace("@sbindir@", os.path.dirname(daemon_path()))
        .replace("@sysconfdir@", "/etc")
        .replace("@pkgdatadir@", "/usr/share/misperd"))
    path = os.path.join(tmp, "misperd.service")
    with open(path, "w") as f:
        f.write(text)
    os.mkdir(os.path.join(tmp, "man8"))
    shutil.copy(os.path.join(srcdir(), "man", "misperd.8"),
        os.path.join(tmp, "man8"))
    return path


def analyze(*args, env=None):
    exe = shutil.which("systemd-analyze")
    if exe is None:
        raise Skip("systemd-analyze is not installed")
    return subprocess.run([exe] + list(args), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=env, timeout=60)


def test_verify_and_security():
    """verify passes; the security exposure is 2.0 or lower."""
    tmp = tempfile.mkdtemp(prefix="misperd-unit.")
    try:
        unit = unit_for_build(tmp)
        env = dict(os.environ, MANPATH=tmp)
        p = analyze("verify", unit, env=env)
        check_eq(p.returncode, 0, "systemd-analyze verify: %s" %
            p.stdout.decode().strip())
        p = analyze("security", "--offline=yes", unit)
        out = p.stdout.decode()
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        check(m is not None, "security printed an exposure level")
        check(float(m.group(1)) <= 2.0,
            "exposure %s is 2.0 or lower" % m.group(1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_notify_protocol():
    """With $NOTIFY_SOCKET, READY=1 comes after the listeners are up and
    STOPPING=1 on SIGTERM."""
    d = Daemon()
    path = os.path.join(d.dir, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        d.start()
    finally:
        del os.environ["NOTIFY_SOCKET"]
    msg = s.recv(4096).decode()
    check_eq(msg, "READY=1", "first notification")
    check(os.path.exists(d.sock), "the socket existed before READY=1")
    check_eq(d.stop(), 0, "SIGTERM exit status")
    check_eq(s.recv(4096).decode(), "STOPPING=1", "then STOPPING=1")
    s.close()


if __name__ == "__main__":
    run([test_verify_and_security, test_notify_protocol])
