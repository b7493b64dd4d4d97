# common.sh: helpers for integration/e2e test scripts (sourced, bash).
# Provides: gw_tmpdir, gw_free_port, gw_start_rrdcached DIR, gw_wait_http URL, gw_fail MSG, gw_cleanup_add CMD,
# gw_have_corpus, gw_need_corpus, gw_gen_corpus.
set -u
: "${GW_BUILD:?GW_BUILD not set (run through tests/run.sh)}"
: "${GW_PCAPS:?GW_PCAPS not set}"
GW_CLEANUP=""
gw_cleanup_add() { GW_CLEANUP="$1; $GW_CLEANUP"; }
gw_cleanup_run() { set +e; eval "$GW_CLEANUP"; }
trap gw_cleanup_run EXIT
trap 'exit 130' INT TERM

gw_fail() { echo "FAIL: $*" >&2; exit 1; }
gw_ok() { echo "ok: $*"; }

# One root per test script, made here in the script's own shell: `T=$(gw_tmpdir)` runs in a
# subshell, whose cleanup entry would be lost; the root's entry, added first, runs last.
GW_TMPROOT=$(mktemp -d /tmp/gwtest.XXXXXX)
gw_cleanup_add "rm -rf '$GW_TMPROOT'"
gw_tmpdir() { mktemp -d "$GW_TMPROOT/t.XXXXXX"; }

# A TCP port on 127.0.0.1 nobody listens on (random start, probe upward).
gw_free_port() {
	p=$(( 20000 + (RANDOM % 20000) ))
	while ss -Htln "sport = :$p" | grep -q .; do p=$((p + 1)); done
	echo $p
}

# Starts rrdcached with its socket, base dir and journal in DIR; sets RRDCACHED_ADDRESS_SOCK.
gw_start_rrdcached() {
	mkdir -p "$1/rrd" "$1/journal"
	rrdcached -l "unix:$1/rrdcached.sock" -p "$1/rrdcached.pid" -b "$1/rrd" -B \
		-j "$1/journal" -w 3600 -z 1 -F -g >"$1/rrdcached.log" 2>&1 &
	rrd_pid=$!
	gw_cleanup_add "kill $rrd_pid 2>/dev/null"
	for _ in $(seq 50); do [ -S "$1/rrdcached.sock" ] && return 0; sleep 0.1; done
	gw_fail "rrdcached did not start: $(cat "$1/rrdcached.log")"
}

# Waits until URL answers (any HTTP status), up to 10 s.
gw_wait_http() {
	for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
	gw_fail "no HTTP answer from $1"
}

# True when $GW_PCAPS (the shared corpus of real captures) holds at least one capture.
gw_have_corpus() {
	local f
	for f in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do [ -f "$f" ] && return 0; done
	return 1
}

# For tests that only make sense on the shared corpus: exits 77 (skip, see tests/run.sh)
# with the reason when it is absent.
gw_need_corpus() {
	gw_have_corpus && return 0
	echo "skipped: corpus not present ($GW_PCAPS)"
	exit 77
}

# Prints the directory of the project's own generated captures ($GW_BUILD/gen-pcaps, written
# by tests/tools/gen_traffic.py), generating it first when it is missing or older than the
# generator or its helpers (tests/lib/pktutil.py). Made once and reused; a lock keeps
# concurrent test runs from racing on it.
gw_gen_corpus() {
	local dir=$GW_BUILD/gen-pcaps gen=$GW_TESTS/tools/gen_traffic.py lib=$GW_TESTS/lib/pktutil.py
	(
		flock 9
		if [ ! -f "$dir/MANIFEST" ] || [ "$gen" -nt "$dir/MANIFEST" ] ||
			[ "$lib" -nt "$dir/MANIFEST" ]; then
			rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" &&
				/usr/bin/python3 "$gen" "$dir.tmp" >"$GW_BUILD/gen-pcaps.log" 2>&1 &&
				rm -rf "$dir" && mv "$dir.tmp" "$dir"
		fi
	) 9>"$GW_BUILD/gen-pcaps.lock"
	[ -f "$dir/MANIFEST" ] || gw_fail "gen_traffic.py failed: $(tail -5 "$GW_BUILD/gen-pcaps.log")"
	echo "$dir"
}
