#!/bin/sh
# run.sh: runs every test (unit programs, then integration and end-to-end scripts)
# and ends with one line "N passed, N failed, N skipped". Usage: run.sh [--unit-only] BUILD_DIR
# A test script exits 0 (pass), 77 (skip: it cannot run here, e.g. the shared capture corpus
# is absent; its reason is the last log line starting with "skipped:") or anything else (fail).
# The exit status is non-zero only when a test failed.
set -u
unit_only=0
[ "${1:-}" = "--unit-only" ] && { unit_only=1; shift; }
B=${1:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
export GW_BUILD=$B
# The shared corpus: GW_PCAPS when set (a directory without captures = a bare clone), else
# ../shared/pcaps beside the repository (or beside the current directory).
if [ -z "${GW_PCAPS:-}" ]; then
	GW_PCAPS=$(cd "$(dirname "$0")/../.." && pwd)/shared/pcaps
	[ -d "$GW_PCAPS" ] || GW_PCAPS=$(pwd)/../shared/pcaps
fi
export GW_PCAPS
export GW_TESTS=$(cd "$(dirname "$0")" && pwd)
logdir=$B/test-logs
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed=""

run_one() { # name, command...
	name=$1; shift
	log=$logdir/$(echo "$name" | tr '/' '_').log
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	why=""
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); status=PASS
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); status=SKIP
		why=$(grep '^skipped:' "$log" | tail -n 1)
		[ -n "$why" ] || why="skipped: (no reason given)"
	else
		fail=$((fail + 1)); status=FAIL; failed="$failed $name"
	fi
	printf '%-4s %-48s %3ss %s\n' "$status" "$name" "$(( $(date +%s) - start ))" "$why"
	if [ $status = FAIL ]; then sed 's/^/    | /' "$log" | tail -n 40; fi
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done
if [ $unit_only = 0 ]; then
	for dir in integration e2e; do
		for t in "$GW_TESTS"/$dir/test_*.sh; do
			[ -f "$t" ] || continue
			run_one "$dir/$(basename "$t" .sh)" timeout 1800 bash "$t"
		done
	done
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
