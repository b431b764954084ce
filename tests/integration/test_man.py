# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
"""The manual pages: every page in man/ passes `mandoc -T lint -W warning`
with no message and renders with man-db (groff) with nothing on stderr,
even with all groff warnings on; each check is first shown to fail on a
broken copy, so a silent pass means something.  Every page is installed
(dist_man_MANS) and every cross-reference to one of ours resolves.  The
pages document what the code accepts: every configuration key, rules key,
condition test, summary placeholder and enumeration that misperd itself
lists in its errors, and every long option of misperd --help, is in the
page; the EXAMPLES files are accepted by misperd.  Lint and rendering are
skipped (with the reason) where mandoc or man are not installed."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misper  # noqa: E402
from misper import Skip, check, check_eq, daemon_path, run, srcdir, step

# The pages the project must have (issue #5): a missing one is a failure.
PAGES = ["misperctl.1", "misperd-rules.5", "misperd.yaml.5", "misperd.8"]

# A name no key is near, so misperd lists the valid keys instead of
# guessing a typo.
NOKEY = "qqqqqqqqqq"


def man_dir():
    return os.path.join(srcdir(), "man")


def pages():
    """Every manual page in man/, by name."""
    return sorted(f for f in os.listdir(man_dir())
        if re.search(r"\.[1-9]$", f))


def page_text(name):
    with open(os.path.join(man_dir(), name), encoding="utf-8") as f:
        return f.read()


def tool(name):
    exe = shutil.which(name)
    if exe is None:
        raise Skip("%s is not installed (Debian: apt-get install %s)" %
            (name, "man-db" if name == "man" else name))
    return exe


def broken_copy(tmp, name):
    """A copy of page name with an unknown macro and an unclosed list."""
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page_text(name) + ".Zz not a macro\n.Bl -tag\n.It x\n")
    return path


def mandoc_lint(path):
    """(exit status, every message) of mandoc -T lint -W warning."""
    p = subprocess.run([tool("mandoc"), "-T", "lint", "-W", "warning",
        path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip()


def man_env():
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    env.pop("MANOPT", None)
    # a locale man knows, or it warns about the locale on stderr
    out = subprocess.run(["locale", "-a"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL).stdout.decode("ascii", "replace")
    utf8 = [l for l in out.split() if l.lower() in ("c.utf-8", "c.utf8")]
    env["LC_ALL"] = utf8[0] if utf8 else "C"
    return env


def man_render(path, *opts):
    """(exit status, stdout, stderr) of man -l with every groff warning."""
    p = subprocess.run([tool("man")] + list(opts) + ["--warnings=w", "-l",
        path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=man_env(), timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    out = re.sub(r"\x1b\[[0-9;]*m", "", re.sub(r".\x08", "", out))
    return (p.returncode, out, p.stderr.decode("utf-8", "replace").strip())


def sections(name):
    """{".Sh/.Ss title": text} of page name; the text up to the next."""
    out, title, buf = {}, "", []
    for line in page_text(name).splitlines():
        m = re.match(r"\.S[hs] (.*)$", line)
        if m:
            out[title] = "\n".join(buf)
            title, buf = m.group(1).strip(), []
        else:
            buf.append(line)
    out[title] = "\n".join(buf)
    return out


def items(text):
    """The first word of every .It Ic/Cm/Li line in text."""
    return set(re.findall(r"^\.It (?:Ic|Cm|Li) (\S+)", text, re.M))


def listed(err, what):
    """The names misperd lists after 'the keys there are' or 'one of'."""
    m = re.search(r"(?:the keys there are|it must be one of) ([^\n]*)", err)
    check(m is not None, "misperd listed the valid %s" % what, err)
    return [w.strip() for w in m.group(1).split(",")]


def misperd(*args, stdin=None):
    p = subprocess.run(misper.wrap([daemon_path()] + list(args)),
        input=stdin,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def config_errors(tmp, text):
    path = os.path.join(tmp, "c.yaml")
    with open(path, "w") as f:
        f.write(text)
    return misperd("-n", "-c", path)


RULES_HEAD = """version: 1
groups: [g]
routes: {mpu: "x"}
indicators: {i: {label: x, weight: 1, group: g}}
"""


def rules_errors(tmp, text):
    path = os.path.join(tmp, "r.yaml")
    with open(path, "w") as f:
        f.write(text)
    return misperd("--check-rules", path)


def example_blocks(name):
    """The literal displays of the EXAMPLES section of page name."""
    text = sections(name).get("EXAMPLES", "")
    return re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", text,
        re.M | re.S)


def test_pages_present_and_installed():
    """Every page exists, is in dist_man_MANS, and its cross-references
    to our pages resolve."""
    have = pages()
    for name in PAGES:
        check(name in have, "man/%s exists" % name)
    with open(os.path.join(srcdir(), "Makefile.am")) as f:
        am = f.read()
    m = re.search(r"^dist_man_MANS\s*=((?:[^\n]*\\\n)*[^\n]*)", am, re.M)
    check(m is not None, "Makefile.am has dist_man_MANS")
    installed = set(re.findall(r"man/(\S+)", m.group(1)))
    for name in have:
        check(name in installed, "dist_man_MANS installs man/%s" % name)
    ours = {re.sub(r"\.([1-9])$", r"(\1)", n) for n in have}
    for name in have:
        for ref, sec in re.findall(r"^\.Xr (\S+) ([1-9])", page_text(name),
            re.M):
            if ref.startswith("misper"):
                check("%s(%s)" % (ref, sec) in ours,
                    "%s: Xr %s %s is one of our pages" % (name, ref, sec))


def test_mandoc_lint():
    """mandoc -T lint -W warning: no warning or error on any page (its
    STYLE notes, such as 'outdated mandoc.db', are below -W warning)."""
    tmp = tempfile.mkdtemp(prefix="misperd-man.")
    try:
        step("the check fails on a broken page")
        rc, out = mandoc_lint(broken_copy(tmp, PAGES[0]))
        check(rc != 0 and "ERROR" in out,
            "mandoc reports a broken page (exit %d)" % rc, out)
        for name in pages():
            step("lint man/%s" % name)
            rc, out = mandoc_lint(os.path.join(man_dir(), name))
            check(rc == 0 and out == "", "man/%s: mandoc is silent" % name,
                "exit %d: %s" % (rc, out))
    finally:
        shutil.rmtree(tmp)


def test_man_renders():
    """man -l (groff, all warnings, 80 columns, ASCII and UTF-8) renders
    each page with an empty stderr and the page's NAME."""
    tmp = tempfile.mkdtemp(prefix="misperd-man.")
    try:
        step("the check fails on a broken page")
        rc, out, err = man_render(broken_copy(tmp, PAGES[0]))
        check(err != "", "groff warns about a broken page", err)
        for name in pages():
            for opts in ([], ["-Tutf8"]):
                step("render man/%s %s" % (name, " ".join(opts)))
                rc, out, err = man_render(os.path.join(man_dir(), name),
                    *opts)
                check(rc == 0 and err == "",
                    "man/%s: nothing on stderr" % name,
                    "exit %d: %s" % (rc, err))
                base = re.sub(r"\.[1-9]$", "", name)
                check(re.search(r"NAME\s+\S*%s" % re.escape(base), out)
                    is not None, "the rendering has NAME and %s" % base)
    finally:
        shutil.rmtree(tmp)


def test_config_keys_documented():
    """misperd.yaml(5) has a subsection for every section misperd accepts
    and an item for every key of each, as misperd lists them."""
    tmp = tempfile.mkdtemp(prefix="misperd-man.")
    try:
        secs = sections("misperd.yaml.5")
        _, err = config_errors(tmp, "%s: 1\n" % NOKEY)
        top = listed(err, "top-level keys")
        check("listen" in top and "routes" in top, "top level: %s" %
            ", ".join(top))
        text_top = secs.get("Top level", "")
        for key in top:
            check(re.search(r"^\.It Ic .*\b%s\b" % key, text_top, re.M)
                is not None, "top-level key %s has an item" % key)
            rc, err = config_errors(tmp, "%s: {%s: 1}\n" % (key, NOKEY))
            if "under '%s'" % key not in err:
                continue	# a value, or routes (below)
            subkeys = listed(err, "keys of %s" % key)
            check(key in secs, "%s has its own subsection" % key)
            for sub in subkeys:
                check(sub in items(secs[key]), "%s.%s has an item" %
                    (key, sub))
        routes = secs.get("routes", "")
        for text, what in (
            ("routes: {a: {%s: 1}}\n", "route"),
            ("routes: {a: {webhooks: [{url: 'http://a/', %s: 1}]}}\n",
                "webhook"),
            ("routes: {a: {escalate: {%s: 1}}}\n", "escalate")):
            _, err = config_errors(tmp, text % NOKEY)
            for sub in listed(err, "keys of a %s" % what):
                check(sub in items(routes), "routes: %s key %s has an item"
                    % (what, sub))
    finally:
        shutil.rmtree(tmp)


def test_rules_language_documented():
    """misperd-rules(5) has an item for every top-level key, rule key,
    catalogue key, condition test, placeholder and level misperd lists,
    and names every value of the enumerated tests."""
    tmp = tempfile.mkdtemp(prefix="misperd-man.")
    try:
        secs = sections("misperd-rules.5")
        text = page_text("misperd-rules.5")
        def rule(extra="", summary="s", level="urgent"):
            return ("rules:\n  - {id: a, kind: match, routes: mpu, level: "
                "%s, summary: '%s'%s}\n" % (level, summary,
                ", " + extra if extra else ""))
        cases = [
            ("%s: 1\n" % NOKEY + RULES_HEAD + rule(), "File layout",
                "top-level key"),
            (RULES_HEAD + rule(NOKEY + ": 1"), "Rules", "rule key"),
            ("version: 1\ngroups: [g]\nroutes: {mpu: x}\nindicators: {i: "
                "{label: x, weight: 1, group: g, %s: 1}}\n" % NOKEY +
                rule(), "Indicator catalogue", "catalogue key"),
            (RULES_HEAD + rule("when: {%s: 1}" % NOKEY), "Conditions",
                "condition test"),
            (RULES_HEAD + rule(summary="{%s}" % NOKEY), "Summaries",
                "placeholder"),
            (RULES_HEAD + rule(level=NOKEY), "Rules", "level"),
        ]
        kind_keys = set()
        for title, body in secs.items():
            if re.match(r"(repeat|score|match|deadline):", title):
                kind_keys |= items(body)
        for src, where, what in cases:
            _, err = rules_errors(tmp, src)
            names = listed(err, what + "s")
            have = items(secs.get(where, ""))
            if what == "rule key":
                have |= kind_keys
            for name in names:
                want = "{%s}" % name if what == "placeholder" else name
                check(want in have, "%s %s has an item under %s" %
                    (what, want, where))
        for test, bad in (("type", "[%s]"), ("category", "%s"),
            ("risk", "%s"), ("interview_kind", "%s"), ("plan", "%s")):
            _, err = rules_errors(tmp, RULES_HEAD +
                rule("when: {%s: %s}" % (test, bad % NOKEY)))
            for value in listed(err, "values of %s" % test):
                check(re.search(r"(^|[ ,])%s( ,| |$)" % re.escape(value),
                    secs["Conditions"], re.M) is not None,
                    "%s value %s is named" % (test, value))
    finally:
        shutil.rmtree(tmp)


def documents(text, opt):
    """Does mdoc text name the long option --opt (Fl \\-opt)?"""
    return re.search(r"Fl \\-%s(?![\w-])" % re.escape(opt), text) \
        is not None


def test_misperd_options_documented():
    """Every option of misperd --help is described in misperd(8)."""
    _, out = misperd("--help")
    text = sections("misperd.8")["DESCRIPTION"]	# not just the SYNOPSIS
    longs = sorted(set(re.findall(r"--([a-z][a-z-]+)", out)))
    check(len(longs) >= 8, "misperd --help lists options: %s" %
        ", ".join(longs))
    for opt in longs:
        check(documents(text, opt), "misperd(8) documents --%s" % opt)
    for opt in sorted(set(re.findall(r"^  -([a-zA-Z]),", out, re.M))):
        check(re.search(r"^\.It Fl %s\b" % opt, text, re.M) is not None,
            "misperd(8) documents -%s" % opt)


def misperctl_path():
    """The built misperctl: $MISPERCTL, or beside $MISPERD."""
    p = os.environ.get("MISPERCTL") or os.path.join(
        os.path.dirname(daemon_path()), "misperctl")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise Skip("no misperctl built at %s" % p)
    return p


def test_misperctl_documented():
    """Every command and option misperctl's help lists is in
    misperctl(1), each command's own options included."""
    exe = misperctl_path()

    def helptext(*args):
        p = subprocess.run(misper.wrap_ctl([exe] + list(args)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=60)
        check_eq(p.returncode, 0, "misperctl %s exits 0" % " ".join(args))
        return p.stdout.decode("utf-8", "replace")

    out = helptext("--help")
    secs = sections("misperctl.1")
    desc, cmds = secs["DESCRIPTION"], secs["Commands"]
    names = re.findall(r"^  ([a-z][a-z-]+)\b", out, re.M)
    check(len(names) >= 10, "misperctl --help lists commands: %s" %
        ", ".join(names))
    for name in names:
        check(re.search(r"^\.(?:It Cm|Cm) %s\b" % re.escape(name), cmds,
            re.M) is not None, "misperctl(1) documents %s" % name)
        for opt in sorted(set(re.findall(r"--([a-z][a-z-]+)",
            helptext(name, "--help")))):
            if opt in ("help", "json"):
                continue
            check(documents(cmds, opt),
                "misperctl(1) documents %s --%s" % (name, opt))
    # the global options: the help's option list, not the command lines
    opts = out[out.find("\nOptions"):] if "\nOptions" in out else out
    for opt in sorted(set(re.findall(r"--([a-z][a-z-]+)", opts))):
        check(documents(desc, opt),
            "misperctl(1) documents --%s" % opt)
    for opt in sorted(set(re.findall(r"^  -([a-zA-Z]),", opts, re.M))):
        check(re.search(r"^\.It Fl %s\b" % opt, desc, re.M) is not None,
            "misperctl(1) documents -%s" % opt)
    for var in re.findall(r"\$([A-Z][A-Z_]+)", out):
        check(var in secs.get("ENVIRONMENT", ""),
            "misperctl(1) documents $%s" % var)


def test_examples_accepted():
    """The EXAMPLES of misperd-rules(5) and misperd.yaml(5) load."""
    tmp = tempfile.mkdtemp(prefix="misperd-man.")
    try:
        blocks = [b for b in example_blocks("misperd-rules.5")
            if b.startswith("version:")]
        check_eq(len(blocks), 1, "misperd-rules(5) has one example file")
        rc, out = rules_errors(tmp, blocks[0])
        check(rc == 0 and "rules OK" in out, "the rules example loads", out)
        blocks = [b for b in example_blocks("misperd.yaml.5")
            if b.startswith("listen:")]
        check_eq(len(blocks), 1, "misperd.yaml(5) has one example file")
        rc, out = config_errors(tmp, blocks[0])
        if rc != 0 and "unknown key 'http'" in out:
            raise Skip("this misperd has no http: section yet")
        check(rc == 0 and "configuration OK" in out,
            "the configuration example loads", out)
    finally:
        shutil.rmtree(tmp)


run([test_pages_present_and_installed, test_mandoc_lint, test_man_renders,
    test_config_keys_documented, test_rules_language_documented,
    test_misperd_options_documented, test_misperctl_documented,
    test_examples_accepted])
