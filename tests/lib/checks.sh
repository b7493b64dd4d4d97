# checks.sh: counted checks for test scripts (sourced, bash). The script sets FAILS=0 first
# and, at its end, fails when FAILS > 0.
# ok MSG: prints a passed check. fail MSG: prints a failed check and counts it in FAILS.
# check MSG CMD...: runs CMD; ok MSG when it succeeds, else fail MSG.
ok()   { echo "ok   $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
