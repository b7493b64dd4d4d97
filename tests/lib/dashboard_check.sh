#!/bin/bash
# dashboard_check.sh: checks the NOC dashboard of a running stack in headless Chromium.
# usage: tests/lib/dashboard_check.sh API_BASE_URL OUTDIR
#   e.g. tests/lib/dashboard_check.sh http://127.0.0.1:8080 build/dashboard-check
# Renders the customers, detail, events and probes pages at 1280x900, keeps the DOM dumps,
# screenshots (OUTDIR/dashboard-*.png) and API snapshots in OUTDIR, and asserts that the
# elements exist, that values equal the API's, that nothing scrolls horizontally and that the
# screenshots are not blank (details: tests/lib/dashboard_check.py). Exit 0 pass, 1 fail.
# Environment: CHROMIUM, DASH_BUDGET_MS, DASH_CUSTOMER, DASH_EXPECT (default
# "rtt jitter dns flood clear ban countdown": what the stack must show; drop words, or set
# it to "", to check only what is there).
set -u
if [ $# -ne 2 ]; then
	sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/dashboard_check.py" "$1" "$2"
