#!/usr/bin/python3
# gen_detect_seeds.py: writes the seed inputs of fuzz_detect (one per attack
# family) into tests/fuzz/seeds/detect/, in the record format of
# fuzz_detect.c: [options][len_hi][len_lo][gap][frame]... where gap>>2 is the
# time step in 100 ms units and gap&3 the flow flags (1 first packet of its
# direction, 2 reply direction seen). Needs Debian's scapy (/usr/bin/python3).
#
# Usage: tests/fuzz/gen_detect_seeds.py [OUT_DIR]
import os
import sys

from scapy.all import DNS, DNSQR, Ether, ICMP, IP, IPv6, TCP, UDP, Raw, raw

FIRST, REPLY = 1, 2
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "seeds", "detect")


def rec(pkt, step=0, flags=FIRST):
    b = raw(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt)
    assert len(b) < 2048 and step < 64
    return bytes([len(b) >> 8, len(b) & 0xff, step << 2 | flags]) + b


def write(name, opts, records):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([opts]) + b"".join(records))


def main():
    os.makedirs(OUT, exist_ok=True)
    # TCP SYN scan of a customer host, RSTs back; then the same scanner's UDP
    # scan with ICMP port-unreachable quoting each probe.
    r = []
    for port in range(20, 60):
        syn = IP(src="198.51.100.7", dst="10.0.1.5") / TCP(sport=40000, dport=port, flags="S")
        r.append(rec(syn))
        r.append(rec(IP(src="10.0.1.5", dst="198.51.100.7") /
                     TCP(sport=port, dport=40000, flags="RA"), 0, FIRST | REPLY))
    for port in range(1000, 1040):
        probe = IP(src="198.51.100.7", dst="10.0.1.5") / UDP(sport=50000, dport=port)
        r.append(rec(probe, 1))
        r.append(rec(IP(src="10.0.1.5", dst="198.51.100.7") / ICMP(type=3, code=3) /
                     raw(probe)[:28], 0, FIRST))
    write("scan_syn_udp", 1, r)
    # FIN / NULL / Xmas scans over IPv6, slow (one probe every 3 s).
    r = []
    for i, fl in enumerate(["F", "", "FPU"] * 8):
        r.append(rec(IPv6(src="2001:db8:ff::9", dst="2001:db8:2::5") /
                     TCP(sport=41000, dport=100 + i, flags=fl), 30))
    write("scan_fin_null_xmas_v6", 3, r)
    # Host sweeps: ICMP echo, TCP SYN, UDP over c1's /24.
    r = []
    for h in range(1, 30):
        r.append(rec(IP(src="203.0.113.9", dst="10.0.1.%d" % h) / ICMP(type=8)))
        r.append(rec(IP(src="203.0.113.9", dst="10.0.1.%d" % h) / TCP(dport=445, flags="S")))
        r.append(rec(IP(src="203.0.113.9", dst="10.0.1.%d" % h) / UDP(dport=161), 1))
    write("sweep", 1, r)
    # Inter-customer connection attempts (c1 -> c3), one to an allowed port.
    r = [rec(IP(src="10.0.1.5", dst="10.0.2.7") / TCP(sport=42000 + i, dport=d, flags="S"), 1)
         for i, d in enumerate([22, 23, 8080, 22, 3389] * 4)]
    write("inter_unusual", 1, r)
    # SYN flood to one port inside one 100 ms bucket, then quiet for clearing.
    r = [rec(IP(src="192.0.2.%d" % (i % 200 + 1), dst="10.0.1.5") /
             TCP(sport=1024 + i, dport=80, flags="S")) for i in range(120)]
    r.append(rec(IP(src="10.0.1.5", dst="192.0.2.1") / UDP(sport=5, dport=6), 63, 0))
    write("flood_syn", 3, r)
    # Covert channel: ISN with zero low 24 bits, reserved bits, urgent pointer
    # without URG, IP IDs with a zero low byte, TTL swinging, window changes
    # on duplicate pure ACKs, inter-arrival times in two clusters.
    r = [rec(IP(src="10.0.1.5", dst="203.0.113.20", id=0x0100, ttl=64) /
             TCP(sport=43000, dport=80, flags="S", seq=0x37000000))]
    for i in range(64):
        ttl = 64 if i % 2 else 40
        ip = IP(src="10.0.1.5", dst="203.0.113.20", id=(i + 2) << 8, ttl=ttl)
        tcp = TCP(sport=43000, dport=80, flags="A", seq=0x37000001, ack=1000,
                  window=1000 + i * 7, urgptr=i + 1, reserved=i % 8)
        r.append(rec(ip / tcp, 0 if i % 2 else 3, REPLY))
    write("covert", 1, r)
    write("covert_default", 0, r)
    # DNS tunnel: long high-entropy labels under one domain, a reply each.
    r = []
    for i in range(24):
        label = ("%064x" % (0x9e3779b97f4a7c15 * (i + 1) ** 3))[:60]
        q = IP(src="10.0.1.5", dst="198.51.100.53") / UDP(sport=30000 + i, dport=53) / \
            DNS(id=i, rd=1, qd=DNSQR(qname="%s.%s.t.tunnel-example.org" % (label, label[:40])))
        r.append(rec(q, 1))
        r.append(rec(IP(src="198.51.100.53", dst="10.0.1.5") / UDP(sport=53, dport=30000 + i) /
                     DNS(id=i, qr=1, qd=DNSQR(qname="%s.t.tunnel-example.org" % label)), 0,
                     FIRST | REPLY))
    write("dns_tunnel", 1, r)
    write("dns_tunnel_default", 2, r)
    # Traffic spike: a quiet warm-up then a burst of large datagrams.
    r = [rec(IP(src="203.0.113.30", dst="10.0.1.6") / UDP(sport=7, dport=7) / Raw(b"x" * 20), 10, 0)
         for _ in range(8)]
    r += [rec(IP(src="203.0.113.30", dst="10.0.1.6") / UDP(sport=7, dport=7) / Raw(b"y" * 600), 0, 0)
          for _ in range(10)]
    r.append(rec(IP(src="203.0.113.30", dst="10.0.1.6") / UDP(sport=7, dport=7), 63, 0))
    write("spike", 1, r)


if __name__ == "__main__":
    main()
