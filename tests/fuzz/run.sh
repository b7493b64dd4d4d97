#!/bin/sh
# run.sh: builds every tests/fuzz/fuzz_*.c as a libFuzzer binary (ASan + UBSan)
# and runs each one for SECONDS, or to FUZZ_RUNS executions when that is set.
# Ends with a table "target executions exec/s findings". Exits non-zero if a
# build fails or a fuzzer finds a crash, leak, timeout or UB (artifacts in
# BUILD_DIR/fuzz/artifacts-NAME/). A target stopped with SIGINT keeps its row
# (executions so far) and is not a failure.
#
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]
#   SECONDS 0 with FUZZ_RUNS set: no time bound (each target runs to the count).
#
# Conventions for tests/fuzz/fuzz_NAME.c:
#   - defines LLVMFuzzerTestOneInput; is linked with common/*.c and the
#     generated BUILD_DIR/gen/gatewatch.pb-c.c;
#   - may list more sources and pkg-config libraries in its first lines:
#       /* fuzz-sources: probe/decode.c probe/customer.c */
#       /* fuzz-libs: libndpi */
#       /* fuzz-flags: -close_fd_mask=2 */   (extra libFuzzer flags; this one
#         silences the target's own stderr, sanitizer reports still print)
#   - seeds go in tests/fuzz/seeds/NAME/ (read-only); the growing corpus is
#     kept in BUILD_DIR/fuzz/corpus-NAME/.
# Env: CLANG (default clang), FUZZ_FLAGS (extra libFuzzer flags), FUZZ_RUNS
# (executions per target: libFuzzer -runs; the time bound SECONDS still holds
# unless it is 0).
set -u

usage() { echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
B=$1; secs=$2; shift 2
case $secs in ''|*[!0-9]*) usage ;; esac
runs=${FUZZ_RUNS:-}
case $runs in *[!0-9]*) echo "fuzz: FUZZ_RUNS must be a number" >&2; exit 2 ;; esac
[ "$secs" -gt 0 ] || [ -n "$runs" ] || { echo "fuzz: SECONDS 0 needs FUZZ_RUNS" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
mkdir -p "$B" || exit 1
B=$(cd "$B" && pwd)
CLANG=${CLANG:-clang}
out=$B/fuzz
mkdir -p "$out" "$B/gen"

command -v "$CLANG" >/dev/null 2>&1 || { echo "fuzz: $CLANG not found" >&2; exit 1; }

# The generated protobuf code must exist before anything includes it.
if [ ! -f "$B/gen/gatewatch.pb-c.c" ] || [ ! -f "$B/gen/gatewatch.pb-c.h" ] ||
    [ proto/gatewatch.proto -nt "$B/gen/gatewatch.pb-c.c" ]; then
	protoc-c --proto_path=proto --c_out="$B/gen" proto/gatewatch.proto ||
	    { echo "fuzz: protoc-c failed" >&2; exit 1; }
fi

# Prints the words after "TAG:" in the first 10 lines of a fuzz source.
directive() { # tag file
	head -n 10 "$2" | sed -n "s|.*$1:[[:space:]]*\(.*\)\*/.*|\1|p" | tr '\n' ' '
}

# True when $1 is missing or older than any source it could depend on.
stale() { # binary sources...
	bin=$1; shift
	[ -f "$bin" ] || return 0
	for f in "$@" common/*.h probe/*.h operator/*.h tests/fuzz/*.h "$B/gen/gatewatch.pb-c.h"; do
		[ -f "$f" ] && [ "$f" -nt "$bin" ] && return 0
	done
	return 1
}

build_one() { # name src
	name=$1; src=$2; bin=$out/fuzz_$name
	extra=$(directive fuzz-sources "$src")
	libs="libprotobuf-c $(directive fuzz-libs "$src")"
	# shellcheck disable=SC2086
	set -- "$src" common/*.c "$B/gen/gatewatch.pb-c.c" $extra
	stale "$bin" "$@" || return 0
	echo "fuzz: building $bin"
	# shellcheck disable=SC2086,SC2046
	"$CLANG" -std=gnu11 -D_GNU_SOURCE -g -O1 \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer -Icommon -Iprobe -Ioperator -I"$B/gen" \
	    $(pkg-config --cflags $libs) "$@" -o "$bin.tmp" \
	    $(pkg-config --libs $libs) -lm -lpthread >"$out/build-$name.log" 2>&1 ||
	    { sed 's/^/    | /' "$out/build-$name.log" | tail -n 30; rm -f "$bin.tmp"; return 1; }
	mv "$bin.tmp" "$bin"
}

run_one() { # name
	name=$1; bin=$out/fuzz_$name; log=$out/run-$name.log
	corpus=$out/corpus-$name; art=$out/artifacts-$name
	mkdir -p "$corpus" "$art"
	seeds=""
	[ -d "tests/fuzz/seeds/$name" ] && seeds=tests/fuzz/seeds/$name
	t0=$(date +%s)
	flags=$(directive fuzz-flags "tests/fuzz/fuzz_$name.c")
	bound="-max_total_time=$secs"
	[ -n "$runs" ] && bound="$bound -runs=$runs"
	before=$(ls "$art" | wc -l)
	# shellcheck disable=SC2086
	"$bin" $bound $flags -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_FLAGS:-} \
	    "$corpus" $seeds >"$log" 2>&1
	rc=$?
	found=$(( $(ls "$art" | wc -l) - before ))
	# 72: libFuzzer stopped by SIGINT (final stats printed), not a finding.
	[ $rc -ne 0 ] && [ $rc -ne 72 ] && [ $found -eq 0 ] && found=1
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log")
	cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	el=$(( $(date +%s) - t0 ))
	# libFuzzer reports 0/s for runs under a second.
	case ${rate:-0}/${execs:-x} in 0/*[!0-9]*|0/) ;; 0/*) rate=$(( execs / (el > 0 ? el : 1) )) ;; esac
	printf '%-22s %12s %8s %8s\n' "fuzz_$name" "${execs:-?}" "${rate:-?}" "$found" >>"$table"
	if [ $rc -eq 72 ] && [ $found -eq 0 ]; then
		echo "stop fuzz_$name: interrupted after ${execs:-?} execs (${rate:-?}/s), log $log"
		return 0
	fi
	if [ $rc -ne 0 ]; then
		echo "FAIL fuzz_$name (exit $rc), log $log"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 10 | sed 's/^/    | /'
		return 1
	fi
	printf 'ok   fuzz_%-12s %ss: %s execs (%s/s), cov %s, ft %s, corpus %s\n' \
	    "$name" "$el" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
}

fail=0
if [ $# -gt 0 ]; then names=$*; else
	names=$(for f in tests/fuzz/fuzz_*.c; do [ -f "$f" ] && basename "$f" .c | sed 's/^fuzz_//'; done)
fi
[ -n "$names" ] || { echo "fuzz: no tests/fuzz/fuzz_*.c" >&2; exit 1; }
table=$out/table.txt
printf '%-22s %12s %8s %8s\n' target executions exec/s findings >"$table"
for name in $names; do
	src=tests/fuzz/fuzz_$name.c
	[ -f "$src" ] || { echo "fuzz: no $src" >&2; fail=1; continue; }
	if ! build_one "$name" "$src"; then
		echo "FAIL fuzz_$name: build failed (log $out/build-$name.log)"
		printf '%-22s %12s %8s %8s\n' "fuzz_$name" - - build-failed >>"$table"
		fail=1
		continue
	fi
	run_one "$name" || fail=1
done
cat "$table"
exit $fail
