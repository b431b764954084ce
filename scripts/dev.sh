#!/bin/sh
# misperd developer entry point: the two commands of the README.
#
#   scripts/dev.sh run    install what is missing (apt), build, and start
#                         misperd in the foreground on its embedded defaults
#   scripts/dev.sh test   the same set-up, then the whole test suite: a normal
#                         build, an ASan+UBSan build, `make distcheck` and
#                         each libFuzzer target for FUZZ_SECONDS (default
#                         15) s; the last line is "N passed, N failed[, N
#                         skipped]"
#
# Builds are out of tree, in build/, build-san/ and build-fuzz/ (clang).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

# Debian 12 packages needed to build, test and try misperd.  prometheus is
# there for promtool, which checks GET /metrics (test_metrics.py); clang
# and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes, only
# recommended by clang) for the fuzz targets (docs/fuzzing.md).
packages="build-essential autoconf automake pkg-config libevent-dev libssl-dev
libyaml-dev libsqlite3-dev libjansson-dev check python3 sqlite3
netcat-openbsd systemd man-db mandoc openssl prometheus clang
libclang-rt-14-dev"

say() { printf '==> %s\n' "$*"; }

# Install the packages not yet installed.
install_deps() {
	missing=
	for p in $packages; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
}

# Configure (if needed) and build in directory $1 with configure flags $2...
build() {
	dir=$1
	shift
	[ -x configure ] && [ configure -nt configure.ac ] &&
	    [ configure -nt Makefile.am ] || { say "autoreconf"; autoreconf -fi; }
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ "$dir/config.status" -ot configure ]; then
		say "configure in $dir $*"
		(cd "$dir" && "$top/configure" -q "$@")
	fi
	say "make in $dir"
	make -s -C "$dir" -j"$jobs"
}

# Run a make target for the tests in $1, keeping the output for the summary.
run_checks() {
	dir=$1
	target=$2
	log=$dir/check-output.txt
	say "make $target in $dir"
	set +e
	make -C "$dir" -j"$jobs" "$target" >"$log" 2>&1
	rc=$?
	set -e
	grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):|^# [A-Z]+: ' "$log" || true
	if [ $rc -ne 0 ]; then
		status=1
		say "$target failed in $dir; logs of failing tests follow"
		tail -n 40 "$log"
		find "$dir" -name '*.log' ! -name 'test-suite.log' \
		    ! -name 'config.log' | while read -r f; do
			t=${f%.log}.trs
			if [ -f "$t" ] && grep -qE '^:test-result: (FAIL|ERROR)' "$t"; then
				echo "---- $f"
				cat "$f"
			fi
		done
	fi
	# add this run's Automake summary to the totals
	for k in PASS FAIL ERROR SKIP XPASS XFAIL; do
		n=$(sed -n "s/^# $k: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1)
		echo "$k ${n:-0}" >>"$totals"
	done
}

# Build the fuzz targets with clang in build-fuzz and run each for
# FUZZ_SECONDS ("make fuzz", one target at a time); each target is one
# test in the totals, and a failing one has its log shown without the
# progress lines (the crash, the sanitizer report, the input kept).
run_fuzz() {
	dir=build-fuzz
	secs=${FUZZ_SECONDS:-15}
	# no clang or no libFuzzer: one failure in the totals, not an exit
	set +e
	(set -e; build "$dir" CC=clang --enable-fuzzing)
	rc=$?
	set -e
	if [ $rc -ne 0 ]; then
		status=1
		echo "FAIL: fuzz build in $dir"
		echo "FAIL 1" >>"$totals"
		return 0
	fi
	targets=$(sed -n 's/^FUZZ_TARGETS = //p' "$dir/Makefile")
	say "fuzzing in $dir, $secs s per target: $targets"
	for t in $targets; do
		set +e
		make -s -C "$dir" fuzz FUZZ_TARGETS="$t" FUZZ_SECONDS="$secs" \
		    >"$dir/fuzz-$t.txt" 2>&1
		rc=$?
		set -e
		if [ $rc -eq 0 ]; then
			echo "PASS: fuzz_$t"
			echo "PASS 1" >>"$totals"
			continue
		fi
		status=1
		echo "FAIL: fuzz_$t"
		echo "FAIL 1" >>"$totals"
		say "fuzz_$t failed; its log ($dir/tests/fuzz/fuzz_$t.log) follows"
		cat "$dir/fuzz-$t.txt"
		grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)' \
		    "$dir/tests/fuzz/fuzz_$t.log" 2>/dev/null || true
		ls -l "$dir/tests/fuzz/crashes/$t" 2>/dev/null || true
	done
}

cmd_run() {
	install_deps
	build build
	say "starting misperd in $top (Ctrl-C stops it)"
	exec ./build/misperd -f
}

cmd_test() {
	# the shared test data beside the project, also for make distcheck
	MISPER_SHARED=$(cd "$top/.." && pwd)/shared
	export MISPER_SHARED
	install_deps
	build build
	build build-san --enable-sanitizers
	status=0
	totals=$(mktemp)
	run_checks build check
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    run_checks build-san check
	run_checks build distcheck
	run_fuzz
	pass=$(awk '$1=="PASS"||$1=="XFAIL"{s+=$2} END{print s+0}' "$totals")
	fail=$(awk '$1=="FAIL"||$1=="ERROR"||$1=="XPASS"{s+=$2} END{print s+0}' "$totals")
	skip=$(awk '$1=="SKIP"{s+=$2} END{print s+0}' "$totals")
	rm -f "$totals"
	[ "$fail" -gt 0 ] && status=1
	if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
		echo "no test ran"
		status=1
	fi
	if [ "$skip" -gt 0 ]; then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	exit $status
}

case "${1:-}" in
run)	cmd_run ;;
test)	cmd_test ;;
*)	echo "usage: scripts/dev.sh run|test" >&2; exit 2 ;;
esac
