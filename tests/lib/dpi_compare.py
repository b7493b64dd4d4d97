#!/usr/bin/env python3
"""dpi_compare.py: the probe's application per flow against nDPI's own reader.

usage: dpi_compare.py PROBE.jsonl EXPECTED [--mode exact|subset|outer]
PROBE.jsonl: gatewatch-probe --jsonl --flows output (one "flow" object per flow, with "app").
EXPECTED: either `ndpiReader -v 1` output (its "Detected protocols:" block) or a
ndpi-expected/<file>.txt of the shared corpus ("PROTO flows" per line).
Compares the sets of detected applications, Unknown left out (how many flows end up
Unknown depends on flow timeouts, which differ between the two):
  exact   the sets are equal (the rule)
  subset  the probe's set is inside nDPI's (SYN-only scans: ndpiReader guesses more by port)
  outer   the probe's set is inside {IP_in_IP, Unknown} (tunnels: ndpiReader classifies the
          inner flows, the probe the outer header, as the design says)
Prints one line and exits 1 on a mismatch, 2 when EXPECTED is ndpiReader output without a
"Detected protocols:" block (ndpiReader 4.2 prints none when it accounted no bytes, e.g.
for 802.1ad frames it does not parse). Stdlib only.
"""
import json, re, sys

def probe_apps(path):
    apps = set()
    for line in open(path):
        o = json.loads(line)
        if o.get("type") == "flow":
            apps.add(o["app"])
    return apps

def expected_apps(path):
    text = open(path).read()
    apps = set()
    if "nDPI" in text and "Detected protocols:" not in text:
        return None
    if "Detected protocols:" in text:
        block = text.split("Detected protocols:", 1)[1].split("\n\n", 1)[0]
        for line in block.splitlines():
            m = re.match(r"\s+(\S+)\s+packets:", line)
            if m:
                apps.add(m.group(1))
    else:
        for line in text.splitlines():
            if line.strip():
                apps.add(line.split()[0])
    return apps

def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    mode = sys.argv[4] if len(sys.argv) == 5 else "exact"
    got = probe_apps(sys.argv[1]) - {"Unknown"}
    want = expected_apps(sys.argv[2])
    if want is None:
        print("ndpiReader printed no summary: not compared")
        sys.exit(2)
    want -= {"Unknown"}
    if mode == "exact":
        ok = got == want
    elif mode == "subset":
        ok = got <= want
    elif mode == "outer":
        ok = got <= {"IP_in_IP"}
    else:
        sys.exit("unknown mode " + mode)
    print("%s %d apps: %s%s" % (mode, len(got), " ".join(sorted(got)) or "-",
          "" if ok else "; nDPI: " + (" ".join(sorted(want)) or "-") +
          "; only probe: " + " ".join(sorted(got - want)) +
          "; only nDPI: " + " ".join(sorted(want - got))))
    sys.exit(0 if ok else 1)

main()
