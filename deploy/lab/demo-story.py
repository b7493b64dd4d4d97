#!/usr/bin/python3
"""demo-story.py: the demo's closing story, with figures read from the running operator.

  demo-story.py sample --api URL --out SAMPLES.jsonl --seconds N
  demo-story.py story --api URL --facts FILE --samples SAMPLES.jsonl --out STORY.json

sample: polls /api/v1/customers twice a second for N seconds and appends every new
interval (customer, ts) as one JSON line: the per-interval quality figures (RTP, TCP,
DNS) the operator's live state holds, which the customer history does not carry.
story:

FACTS is a "key value" file the demo wrote while it ran (times are epoch seconds):
t_start, t_traffic, t_attack, t_attack_end, attack_src, victim, netem_customer,
clean_customer, netem_delay_ms, netem_jitter_ms, netem_loss_pct, netem_dir, ban_timeout_s,
t_nft_in (first time the source was seen in the victim gateway's nft set, 0 if never),
t_nft_out (first time it was gone again), nft_dropped (the drop rule's packet counter),
attack_packets (what the attacker sent), netem_{down,up}_{frames,lost} (gw-netem's
counters). Prints the story on stdout and writes every
figure to STORY.json (the demo test reads it besides the API and SQLite).
Exit status 1 when the API cannot be read.
"""
import argparse
import json
import sys
import time
import urllib.request


def get(api, path):
    with urllib.request.urlopen(api + path, timeout=10) as r:
        return json.load(r)


def facts_read(path):
    f = {}
    with open(path) as fh:
        for ln in fh:
            k, _, v = ln.strip().partition(" ")
            if not k:
                continue
            try:
                f[k] = float(v)
            except ValueError:
                f[k] = v
    return f


def sample(a):
    seen = set()
    end = time.monotonic() + a.seconds
    with open(a.out, "a") as out:
        while time.monotonic() < end:
            try:
                cs = get(a.api, "/api/v1/customers")["customers"]
            except (OSError, ValueError, KeyError):
                cs = []
            for c in cs:
                k = (c["id"], c["ts"])
                if k not in seen and c["ts"] > 0:
                    seen.add(k)
                    out.write(json.dumps(c, sort_keys=True) + "\n")
            out.flush()
            time.sleep(0.5)
    return 0


def quality(hist):
    """Whole-run figures of one customer from its interval history."""
    rtp_exp = sum(h["rtp"]["packets_expected"] for h in hist)
    rtp_lost = sum(h["rtp"]["packets_lost"] for h in hist)
    jit = [h["rtp"]["jitter_ms_avg"] for h in hist if h["rtp"]["streams"] > 0 and
           h["rtp"]["jitter_ms_avg"] > 0]
    hs = sum(h["tcp"]["handshakes"] for h in hist)
    wan = sum(h["tcp"]["rtt_wan_ms_avg"] * h["tcp"]["handshakes"] for h in hist)
    lan = sum(h["tcp"]["rtt_lan_ms_avg"] * h["tcp"]["handshakes"] for h in hist)
    per = sorted(h["tcp"]["rtt_wan_ms_avg"] for h in hist if h["tcp"]["handshakes"] > 0)
    med = None
    if per:
        k = len(per) // 2
        med = per[k] if len(per) % 2 else (per[k - 1] + per[k]) / 2
    dq = sum(h["dns"]["queries"] for h in hist)
    dresp = [h for h in hist if h["dns"]["responses"] > 0]
    dlat = (sum(h["dns"]["latency_ms_avg"] * h["dns"]["responses"] for h in dresp) /
            sum(h["dns"]["responses"] for h in dresp)) if dresp else None
    return {
        "intervals": len(hist),
        "rx_bytes": sum(h["rx_bytes"] for h in hist),
        "tx_bytes": sum(h["tx_bytes"] for h in hist),
        "rtp_expected": rtp_exp, "rtp_lost": rtp_lost,
        "rtp_loss_pct": 100.0 * rtp_lost / rtp_exp if rtp_exp else None,
        "rtp_jitter_ms": sum(jit) / len(jit) if jit else None,
        "rtp_jitter_intervals": len(jit),
        "tcp_handshakes": hs,
        "rtt_wan_ms": wan / hs if hs else None,
        "rtt_wan_ms_median": med,
        "rtt_lan_ms": lan / hs if hs else None,
        "dns_queries": dq,
        "dns_failures": sum(h["dns"]["failures"] for h in hist),
        "dns_latency_ms": dlat,
        "dns_latency_p95_max_ms": max([h["dns"]["latency_ms_p95"] for h in hist] or [0]),
    }


def fmt(v, unit="", nd=1):
    return "n/a" if v is None else ("%.*f%s" % (nd, v, unit))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("sample")
    sp.add_argument("--api", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--seconds", type=float, required=True)
    st = sub.add_parser("story")
    st.add_argument("--api", required=True)
    st.add_argument("--facts", required=True)
    st.add_argument("--samples", required=True)
    st.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.cmd == "sample":
        return sample(a)
    f = facts_read(a.facts)
    try:
        t0 = int(f["t_start"])
        ev = get(a.api, "/api/v1/events?since=%d&limit=1000" % t0)["events"]
        cms = get(a.api, "/api/v1/countermeasures?since=%d&limit=1000" % t0)["countermeasures"]
        probes = get(a.api, "/api/v1/probes")["probes"]
        cust = {c["id"]: c for c in get(a.api, "/api/v1/customers")["customers"]}
        hist = {cid: [] for cid in cust}
        with open(a.samples) as fh:
            for ln in fh:
                c = json.loads(ln)
                if c["ts"] >= f["t_traffic"]:
                    hist.setdefault(c["id"], []).append(c)
    except (OSError, ValueError, KeyError) as e:
        print("story: cannot read the operator API: %s" % e, file=sys.stderr)
        return 1
    s = {"facts": f}
    src, victim = f["attack_src"], f["victim"]
    floods = sorted((e for e in ev if e["kind"] == "syn_flood" and e.get("src") == src and
                     not e["cleared"] and e["received"] >= f["t_attack"] - 1),
                    key=lambda e: e["received"])
    first = floods[0] if floods else None
    bans = sorted((c for c in cms if c["action"] == "ban" and c["address"] == src),
                  key=lambda c: c["decided_ts"])
    ban = bans[0] if bans else None
    s["flood_event"] = first
    s["ban"] = ban
    s["detect_s"] = first["received"] - f["t_attack"] if first else None
    s["nft_ban_s"] = f["t_nft_in"] - first["received"] if first and f["t_nft_in"] else None
    s["reaction_s"] = f["t_nft_in"] - f["t_attack"] if f["t_nft_in"] else None
    s["ban_held_s"] = f["t_nft_out"] - f["t_nft_in"] if f["t_nft_in"] and f["t_nft_out"] else None
    sla = sorted((e for e in ev if e["kind"] == "sla_violation"), key=lambda e: e["received"])
    s["sla_events"] = sla
    s["probes_lost"] = sum(p.get("lost", 0) for p in probes)
    s["probes"] = [{k: p.get(k) for k in ("id", "messages", "lost", "duplicates", "rejected")}
                   for p in probes]
    s["quality"] = {cid: quality(h) for cid, h in hist.items()}
    with open(a.out, "w") as fh:
        json.dump(s, fh, indent=1, sort_keys=True)

    T = lambda t: "t+%.1fs" % (t - f["t_start"])
    nc, cc = f["netem_customer"], f["clean_customer"]
    print("==== what happened ====")
    print("Attack: SYN flood from %s (spoofed, inside 198.51.100.0/24) against %s, started %s, "
          "%d packets sent." % (src, victim, T(f["t_attack"]), f["attack_packets"]))
    if first:
        print("  detected by probe %s after %.2f s (%s event, %s pps, %s severity)" % (
            first["probe"], s["detect_s"], first["kind"], "%.0f" % first.get("rate_pps", 0),
            first.get("severity", "?")))
    else:
        print("  NOT detected (no syn_flood event from %s)" % src)
    if ban:
        print("  operator decision: %s %s at probe %s (%s), timeout %s s" % (
            ban["action"], ban["address"], ban.get("probe") or "all", ban["decided_by"],
            f["ban_timeout_s"]))
    else:
        print("  NO countermeasure for %s" % src)
    if f["t_nft_in"]:
        print("  banned in the victim gateway's nftables %.2f s after the event "
              "(%.2f s after the attack started)" % (s["nft_ban_s"] or 0, s["reaction_s"]))
    print("  packets dropped by the ban (nft counter in %s's gateway): %d of %d sent" % (
        victim, f["nft_dropped"], f["attack_packets"]))
    if ban:
        print("  ban state now: %s (lifted %s)" % (
            ban["state"], T(ban["lifted_ts"]) if ban.get("lifted_ts") else "not yet"))
    if f["t_nft_out"]:
        print("  element left the nft set at %s, %.1f s after it was added" % (
            T(f["t_nft_out"]), s["ban_held_s"]))
    q, qc = s["quality"].get(nc, {}), s["quality"].get(cc, {})
    print("Impaired WAN (%s): netem %s delay %g ms jitter +-%g ms loss %g%%" % (
        nc, f["netem_dir"], f["netem_delay_ms"], f["netem_jitter_ms"], f["netem_loss_pct"]))
    if f.get("netem_down_frames"):
        print("  gw-netem dropped %d of %d frames downstream (%.2f%%), %d of %d upstream (%.2f%%)" % (
            f["netem_down_lost"], f["netem_down_frames"],
            100.0 * f["netem_down_lost"] / f["netem_down_frames"],
            f["netem_up_lost"], f["netem_up_frames"],
            100.0 * f["netem_up_lost"] / max(1, f["netem_up_frames"])))
    if "netem_down_late_jitter_ms" in f:
        print("  gw-netem's own scheduling added %.2f ms mean delay variation downstream (near 0 on a quiet host)"
              % f["netem_down_late_jitter_ms"])
    print("  expected at the probe: RTT WAN ~%g ms (the delay twice), RTP jitter ~J/3 = %.1f ms plus"
          " the senders' own (the clean line's), RTP loss ~L/2 = %.1f%% (the probe on the LAN"
          " side sees upstream RTP before the impairment)" % (
              2 * f["netem_delay_ms"] if f["netem_dir"] == "both" else f["netem_delay_ms"],
              f["netem_jitter_ms"] / 3.0, f["netem_loss_pct"] / 2.0))
    for cid, x, note in ((nc, q, ""), (cc, qc, "  (clean line, for comparison)")):
        print("  %-5s RTP jitter %s loss %s | TCP RTT WAN median %s (mean %s, %d handshakes)"
              " LAN %s | DNS mean %s%s" % (
                  cid, fmt(x.get("rtp_jitter_ms"), " ms", 2), fmt(x.get("rtp_loss_pct"), "%", 2),
                  fmt(x.get("rtt_wan_ms_median"), " ms"), fmt(x.get("rtt_wan_ms"), " ms"),
                  x.get("tcp_handshakes", 0), fmt(x.get("rtt_lan_ms"), " ms", 2),
                  fmt(x.get("dns_latency_ms"), " ms"), note))
    shown = False
    for e in sla:
        if not e["cleared"]:
            print("  SLA BREACH: %s at %s (%.1f s after traffic started): %s" % (
                e["customer"], T(e["received"]), e["received"] - f["t_traffic"], e["detail"]))
            shown = True
    if not shown:
        print("  no SLA breach reported")
    print("Usage per customer over the demo (IP bytes rx/tx):")
    for cid in sorted(s["quality"]):
        x = s["quality"][cid]
        print("  %-5s %8.1f MB down %7.1f MB up" % (cid, x["rx_bytes"] / 1e6, x["tx_bytes"] / 1e6))
    print("Envelopes lost between probes and operator: %d (%d probes)" % (
        s["probes_lost"], len(probes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
