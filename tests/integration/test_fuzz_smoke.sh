#!/bin/bash
# test_fuzz_smoke.sh: builds every libFuzzer target and runs each for 5 s; any crash fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${GW_BUILD:-$here/../../build}
if ! command -v clang >/dev/null 2>&1; then
	echo "clang (libFuzzer) is required for the fuzz smoke test" >&2
	exit 1
fi
exec bash "$here/../fuzz/run.sh" "$B" 5
