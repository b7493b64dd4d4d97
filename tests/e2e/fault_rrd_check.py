#!/usr/bin/env python3
"""fault_rrd_check.py: RRD steps against the probe's JSON Lines when some envelopes never arrived.

usage: fault_rrd_check.py JSONL CUSTOMER FETCH_FILE FIRST_SEQ DROP_FROM DROPPED SKIP_TS WIN_FROM WIN_TO

JSONL lines (stats and events, no flows, no heartbeats) are the probe's envelopes in order: line
k (0-based) has seq FIRST_SEQ + k. Seqs DROP_FROM .. DROP_FROM + DROPPED - 1 were dropped by
the probe (budget full) and are left out. Every 10 s step (end t, covering (t - 10, t]) fully
covered by arrived intervals must hold the time-weighted mean of rx_bytes and tx_bytes (0.5 %),
except the steps touching SKIP_TS (the operator stopped inside it: its first part was written at
shutdown), or touching the range A:B when SKIP_TS is written so. Prints the steps compared, and how many lie inside [WIN_FROM, WIN_TO] (the outage).
FETCH_FILE is `rrdtool fetch` output. Exits 1 on a mismatch or when nothing was compared.
"""
import json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from rrd_expect import parse_rrdtool  # noqa: E402

def main():
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    jsonl, cust, fetch = sys.argv[1:4]
    first_seq, drop_from, dropped = (int(x) for x in sys.argv[4:7])
    skip = sys.argv[7].split(":")
    skip_from, skip_to = float(skip[0]), float(skip[-1])
    win_from, win_to = (float(x) for x in sys.argv[8:10])
    segs = []
    seq = first_seq
    for line in open(jsonl):
        o = json.loads(line)
        lost = drop_from <= seq < drop_from + dropped
        seq += 1
        if o.get("type") != "stats" or o.get("customer") != cust or lost:
            continue
        segs.append((o["ts"] - o["interval"], o["ts"], o["rx_bytes"], o["tx_bytes"]))
    rows = parse_rrdtool(fetch, "rx_bytes", "tx_bytes")
    step = 10
    compared = inside = bad = 0
    for t, got_rx, got_tx in rows:
        lo, hi = t - step, t
        if lo < skip_to and skip_from <= hi:
            continue
        covered = 0.0
        tot = [0.0, 0.0]
        for a, b, rx, tx in segs:
            ov = min(b, hi) - max(a, lo)
            if ov > 0:
                covered += ov
                tot[0] += rx / (b - a) * ov
                tot[1] += tx / (b - a) * ov
        if covered < step - 1e-6:
            continue
        compared += 1
        if lo >= win_from and hi <= win_to:
            inside += 1
        for name, e, got in (("rx_bytes", tot[0] / step, got_rx),
                             ("tx_bytes", tot[1] / step, got_tx)):
            if got is None or abs(got - e) > max(0.005 * e, 1e-6):
                bad += 1
                print(f"MISMATCH step ending {t} {name}: rrd {got} expected {e:.3f}")
    print(f"steps compared {compared}, inside the outage {inside}, mismatches {bad}")
    if compared == 0 or bad:
        sys.exit(1)

if __name__ == "__main__":
    main()
