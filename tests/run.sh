#!/bin/sh
# run.sh: runs every test (unit programs, then integration and end-to-end scripts)
# and ends with one line "N passed, N failed". Usage: run.sh [--unit-only] BUILD_DIR
set -u
unit_only=0
[ "${1:-}" = "--unit-only" ] && { unit_only=1; shift; }
B=${1:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
export GW_BUILD=$B
export GW_PCAPS=${GW_PCAPS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/pcaps}
[ -d "$GW_PCAPS" ] || GW_PCAPS=$(pwd)/../shared/pcaps
export GW_TESTS=$(cd "$(dirname "$0")" && pwd)
logdir=$B/test-logs
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; failed=""

run_one() { # name, command...
	name=$1; shift
	log=$logdir/$(echo "$name" | tr '/' '_').log
	start=$(date +%s)
	if "$@" >"$log" 2>&1; then
		pass=$((pass + 1)); status=PASS
	else
		fail=$((fail + 1)); status=FAIL; failed="$failed $name"
	fi
	printf '%-4s %-48s %3ss\n' "$status" "$name" "$(( $(date +%s) - start ))"
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
			run_one "$dir/$(basename "$t" .sh)" timeout 900 bash "$t"
		done
	done
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
