#!/usr/bin/env python3
"""fault_lg_check.py: RRD steps (through rrdcached) against what gw-loadgen sent (its --log).

usage: fault_lg_check.py LOG DAEMON RRD_DIR FROM TO (all|some)

For every customer in LOG and every 10 s step ending in (FROM, TO] that LOG covers with ten
1-s reports, the RRD's rx_bytes and tx_packets must be the step's mean rate. "all": every such
step must be in the RRD; "some": steps may be missing (NaN: never written) but none may be
wrong. Prints "present N missing N wrong N"; exits 1 on a wrong value (or, with all, a
missing one).
"""
import collections, json, subprocess, sys

def main():
    if len(sys.argv) != 7 or sys.argv[6] not in ("all", "some"):
        sys.exit(__doc__)
    log, daemon, rrd_dir = sys.argv[1:4]
    t_from, t_to, mode = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    exp = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(log):
        r = json.loads(line)
        if r.get("skipped"):
            continue
        step = int(-(-r["ts"] // 10) * 10)
        e = exp[(r["customer"], step)]
        e["rx_bytes"].append(r["rx_bytes"])
        e["tx_packets"].append(r["tx_packets"])
    present = missing = wrong = 0
    for cust in sorted({c for c, _ in exp}):
        path = f"{rrd_dir}/{cust}.rrd"
        out = subprocess.run(["rrdtool", "fetch", path, "AVERAGE", "-r", "10",
                              "-s", str(t_from), "-e", str(t_to), "--daemon", daemon],
                             capture_output=True, text=True)
        if out.returncode != 0:
            rows = {}
        else:
            lines = out.stdout.split("\n")
            names = lines[0].split()
            rows = {}
            for l in lines[2:]:
                if ":" in l:
                    t, v = l.split(":", 1)
                    rows[int(t)] = dict(zip(names, v.split()))
        for (c, step), e in exp.items():
            if c != cust or not (t_from < step <= t_to) or len(e["rx_bytes"]) != 10:
                continue
            vals = rows.get(step)
            if vals is None or "nan" in vals["rx_bytes"].lower():
                missing += 1
                continue
            present += 1
            for k in ("rx_bytes", "tx_packets"):
                want = sum(e[k]) / 10.0
                got = float(vals[k])
                if abs(got - want) > 1e-6 * max(1.0, want):
                    wrong += 1
                    print(f"WRONG {cust} step {step} {k}: rrd {got} sent {want}")
    print(f"present {present} missing {missing} wrong {wrong}")
    if wrong or (mode == "all" and missing) or present == 0:
        sys.exit(1)

main()
