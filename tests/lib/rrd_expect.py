#!/usr/bin/env python3
"""rrd_expect.py: compare the probe's JSON Lines stats with RRD values (rrdtool fetch or the API).

Each stats line says: `rx_bytes` bytes arrived during (ts - interval, ts]. An RRD with a 10 s
step stores, per step, the time-weighted average rate over that step. This script rebuilds that
average from the JSON Lines independently and compares it with the fetched values, for steps
fully covered by reported intervals (steps at the edges and gaps are skipped).

usage: rrd_expect.py JSONL CUSTOMER METRIC FETCH_JSON
FETCH_JSON: {"step":10,"points":[[ts,value|null],...]} (the API's series format; for
rrdtool fetch output use --rrdtool FILE instead).
Exits 1 on any mismatch beyond 0.5 %, prints the compared steps.
"""
import json, sys

def load_intervals(path, customer, metric):
    segs = []
    for line in open(path):
        o = json.loads(line)
        if o.get("type") != "stats" or o.get("customer") != customer:
            continue
        segs.append((o["ts"] - o["interval"], o["ts"], float(o[metric])))
    segs.sort()
    return segs

def expected(segs, step_end, step):
    lo, hi = step_end - step, step_end
    covered, total = 0.0, 0.0
    for a, b, v in segs:
        ov = min(b, hi) - max(a, lo)
        if ov > 0:
            covered += ov
            total += v / (b - a) * ov
    if covered < step - 1e-6:
        return None
    return total / step

def parse_rrdtool(path, *metrics):
    """`rrdtool fetch` text output: one [ts, value, ...] per row, a value (None for NaN) per
    metric named, in that order. Also used by tests/e2e/fault_rrd_check.py."""
    cols, points = None, []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        if cols is None:
            cols = line.split()
            continue
        t, vals = line.split(":", 1)
        vals = vals.split()
        row = [int(t)]
        for metric in metrics:
            v = vals[cols.index(metric)]
            row.append(None if "nan" in v.lower() else float(v))
        points.append(row)
    return points

def main():
    args = sys.argv[1:]
    if len(args) == 5 and args[3] == "--rrdtool":
        jsonl, cust, metric, _, f = args
        points = parse_rrdtool(f, metric)
        step = points[1][0] - points[0][0] if len(points) > 1 else 10
    elif len(args) == 4:
        jsonl, cust, metric, f = args
        d = json.load(open(f))
        points, step = d["points"], d["step"]
    else:
        sys.exit(__doc__)
    segs = load_intervals(jsonl, cust, metric)
    compared = bad = 0
    for t, v in points:
        e = expected(segs, t, step)
        if e is None:
            continue
        compared += 1
        if v is None or abs(v - e) > max(0.005 * e, 1e-6):
            bad += 1
            print(f"MISMATCH {cust} {metric} step ending {t}: rrd {v} expected {e:.6f}")
    print(f"{cust} {metric}: {compared} steps compared, {bad} mismatches")
    if compared == 0 or bad:
        sys.exit(1)

if __name__ == "__main__":
    main()
