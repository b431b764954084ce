#!/bin/sh
# Run the integration tests with misperd and misperctl under valgrind's
# memcheck and sum up what it found (issue #6; docs/testing.md).
#
#   scripts/valgrind.sh [--build DIR] [-j N] [TEST...]
#
# --build DIR  an already configured build directory to use ("make
#              valgrind-check" passes its own); default build-vg/, configured
#              here with CFLAGS="-O1 -g" (full stacks, few "optimised out")
# -j N         test files run at once (default 2; each is slow, not big)
# TEST         test files to run (tests/integration/test_http.py ...);
#              default: the whole integration suite
#
# Every daemon and misperctl a test starts runs under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite ...
# through the harness's MISPERD_WRAPPER / MISPERCTL_WRAPPER
# (tests/integration/misper.py), with the harness's waits stretched by
# MISPER_TIMEOUT_SCALE (default 25 here).  One log per process, named after
# the test function: DIR/valgrind-logs/<file>.<test>.<pid>.log.
#
# The summary lists, per test function: processes, valgrind errors, bytes
# definitely lost, and processes that did not exit (killed by the test, so
# no leak report).  Exit status: 1 if any process had an error or a definite
# leak, or a test file failed; 0 otherwise.  Third-party false positives are
# suppressed in scripts/valgrind.supp (documented there), nothing else.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=
jobs=2
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	-j*) jobs=${1#-j}; shift ;;
	-h|--help) sed -n '2,25p' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) echo "valgrind.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

say() { printf '==> %s\n' "$*"; }

command -v valgrind >/dev/null 2>&1 || {
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 2
}

if [ -z "$build" ]; then
	build=$top/build-vg
	cd "$top"
	[ -x configure ] || { say "autoreconf"; autoreconf -fi; }
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ]; then
		say "configure in $build (CFLAGS=-O1 -g)"
		(cd "$build" && "$top/configure" -q CFLAGS="-O1 -g")
	fi
fi
build=$(cd "$build" && pwd)
say "make in $build"
make -s -C "$build" -j"$jobs" misperd misperctl

tests="$*"
if [ -z "$tests" ]; then
	tests=$(sed -n 's/^	\(tests\/integration\/test_[a-z_]*\.py\).*/\1/p' \
	    "$top/Makefile.am" | tr '\n' ' ')
fi

logs=$build/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"
supp=$top/scripts/valgrind.supp

# --errors-for-leak-kinds=definite: a definite leak counts as an error (exit
# 99); "possibly lost" blocks are inner pointers libevent and SQLite keep,
# reported in the log but not failing.  --track-fds=no: the tests count
# descriptors themselves.  --child-silent-after-fork: misperd forks nothing
# it does not exec, but say so.
MISPERD_WRAPPER="valgrind --tool=memcheck --error-exitcode=99 \
--leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --track-fds=no --num-callers=30 \
--child-silent-after-fork=yes --suppressions=$supp \
--log-file=$logs/%q{MISPER_TEST}.%p.log"
MISPERCTL_WRAPPER=$MISPERD_WRAPPER
: "${MISPER_TIMEOUT_SCALE:=25}"
: "${MISPER_SHARED:=$(cd "$top/.." && pwd)/shared}"
export MISPERD_WRAPPER MISPERCTL_WRAPPER MISPER_TIMEOUT_SCALE MISPER_SHARED

say "integration tests under valgrind (waits x$MISPER_TIMEOUT_SCALE, $jobs at once): $tests"
start=$(date +%s)
set +e
make -C "$build" -j"$jobs" check TESTS="$tests" >"$build/valgrind-check.txt" 2>&1
check_rc=$?
set -e
end=$(date +%s)
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$build/valgrind-check.txt" || true
say "tests took $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s"

# What the tests skipped or scaled down because of the wrapper, as they
# said it (SKIP lines and notes naming the wrapper).
say "skipped or scaled down under valgrind"
for t in $tests; do
	l=$build/${t%.py}.log
	[ -f "$l" ] || continue
	grep -E '^  SKIP |scaled down' "$l" | cut -c1-160 |
	    sed "s|^ *|  $(basename "$t" .py): |" || true
done

say "valgrind, per test (processes, errors, definitely lost bytes, not exited)"
set +e
python3 - "$logs" <<'EOF'
import collections, os, re, sys
logs = sys.argv[1]
per = collections.OrderedDict()
bad = []
for f in sorted(os.listdir(logs)):
    m = re.match(r"(.+)\.(\d+)\.log$", f)
    if not m:
        continue
    test = m.group(1)
    text = open(os.path.join(logs, f), errors="replace").read()
    prog = re.search(r"== Command: (\S+)", text)
    prog = os.path.basename(prog.group(1)) if prog else "?"
    s = per.setdefault(test, {"procs": 0, "errors": 0, "lost": 0,
        "unfinished": 0, "progs": set()})
    s["procs"] += 1
    s["progs"].add(prog)
    es = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
    if es is None:
        # SIGKILLed by its test: no summary and no leak check, but the
        # errors found before the kill are in the log, one header each
        s["unfinished"] += 1
        errors = len(re.findall(r"^==\d+== (?:Invalid (?:read|write|free)|"
            r"Conditional jump|Use of uninitialised|Syscall param|"
            r"Mismatched free|Source and destination overlap|"
            r"Argument '.*' of function)", text, re.M))
    else:
        errors = int(es.group(1).replace(",", ""))
    lost = sum(int(x.replace(",", "")) for x in
        re.findall(r"definitely lost: ([\d,]+) bytes", text))
    s["errors"] += errors
    s["lost"] += lost
    if errors or lost:
        bad.append(os.path.join(logs, f))
w = max([len(t) for t in per] + [4])
print("%-*s %5s %6s %8s %8s  %s" % (w, "TEST", "PROCS", "ERRORS", "DEF-LOST",
    "UNEXITED", "PROGRAMS"))
tot = collections.Counter()
for t, s in per.items():
    print("%-*s %5d %6d %8d %8d  %s" % (w, t, s["procs"], s["errors"],
        s["lost"], s["unfinished"], ",".join(sorted(s["progs"]))))
    for k in ("procs", "errors", "lost", "unfinished"):
        tot[k] += s[k]
print("%-*s %5d %6d %8d %8d" % (w, "TOTAL", tot["procs"], tot["errors"],
    tot["lost"], tot["unfinished"]))
if bad:
    print("\nlogs with errors or definite leaks:")
    for b in bad:
        print("  " + b)
sys.exit(1 if bad else 0)
EOF
vg_rc=$?
set -e
status=0
if [ $vg_rc -ne 0 ]; then
	say "valgrind found errors or definite leaks"
	status=1
fi
if [ $check_rc -ne 0 ]; then
	say "some tests failed under valgrind: see $build/valgrind-check.txt and the tests' .log files"
	status=1
fi
[ $status -eq 0 ] && say "valgrind: no errors, no definite leaks"
exit $status
