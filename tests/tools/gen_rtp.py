#!/usr/bin/python3
"""gen_rtp.py: write a pcap with RTP, TCP and DNS cases of known jitter, loss,
reordering, duplicates, sequence wrap-around, handshake legs and DNS outcomes.

Usage: gen_rtp.py OUT.pcap [SEED]
Addresses are from the documentation ranges (192.0.2.0/24 customer side,
198.51.100.0/24 and 203.0.113.0/24 remote). Deterministic for a given seed.
"""
import random
import struct
import sys

from scapy.all import DNS, DNSQR, Ether, IP, TCP, UDP, Raw, wrpcap  # noqa: E402

CUST = "192.0.2.10"
PEER = "198.51.100.20"
BASE_T = 1700000000.0


def rtp(seq, ts, ssrc, pt=0, marker=0, payload=160):
    hdr = struct.pack("!BBHII", 0x80, (marker << 7) | pt, seq & 0xFFFF,
                      ts & 0xFFFFFFFF, ssrc)
    return hdr + bytes(payload)


def frame(t, src, dst, sport, dport, data):
    p = Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(data)
    p.time = t
    return p


def rtp_stream(rng, sport, dport, ssrc, first_seq, n, jitter_ms, t0,
               drop=(), dup=(), swap=(), pt=0, clock=8000, ptime_ms=20):
    """Packets of one stream: index i has seq first_seq+i, ts i*ptime, arrival
    i*ptime + uniform(0, jitter_ms); drop/dup/swap hold packet indexes."""
    out = []
    step = clock * ptime_ms // 1000
    for i in range(n):
        if i in drop:
            continue
        t = t0 + (i * ptime_ms + rng.uniform(0, jitter_ms)) / 1000.0
        pkt = frame(t, CUST, PEER, sport, dport,
                    rtp(first_seq + i, 1000 + i * step, ssrc, pt))
        out.append(pkt)
        if i in dup:
            d = frame(t + 0.0001, CUST, PEER, sport, dport,
                      rtp(first_seq + i, 1000 + i * step, ssrc, pt))
            out.append(d)
    for i in swap:          # exchange arrival order of two neighbours
        a, b = out[i], out[i + 1]
        a.time, b.time = b.time, a.time
        out[i], out[i + 1] = b, a
    return out


def tcp_handshakes(t0):
    """Customer-initiated (WAN 30 ms, LAN 2 ms) and inbound (LAN 3 ms, WAN 40 ms)
    handshakes, plus one retransmitted data segment."""
    pk = []
    c, s = CUST, "203.0.113.5"

    def tp(t, src, dst, sp, dp, flags, seq, ack, data=b""):
        p = Ether() / IP(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags,
                                                 seq=seq, ack=ack) / Raw(data)
        if not data:
            p = Ether() / IP(src=src, dst=dst) / TCP(sport=sp, dport=dp,
                                                     flags=flags, seq=seq, ack=ack)
        p.time = t
        return p
    pk.append(tp(t0, c, s, 40000, 443, "S", 1000, 0))
    pk.append(tp(t0 + 0.030, s, c, 443, 40000, "SA", 5000, 1001))
    pk.append(tp(t0 + 0.032, c, s, 40000, 443, "A", 1001, 5001))
    pk.append(tp(t0 + 0.040, c, s, 40000, 443, "PA", 1001, 5001, b"x" * 100))
    pk.append(tp(t0 + 0.500, c, s, 40000, 443, "PA", 1001, 5001, b"x" * 100))
    pk.append(tp(t0 + 0.530, s, c, 443, 40000, "A", 5001, 1101))
    pk.append(tp(t0 + 1.0, s, c, 50000, 22, "S", 7000, 0))
    pk.append(tp(t0 + 1.003, c, s, 22, 50000, "SA", 9000, 7001))
    pk.append(tp(t0 + 1.043, s, c, 50000, 22, "A", 7001, 9001))
    return pk


def dns_cases(t0):
    """NOERROR in 12 ms, NXDOMAIN in 25 ms, one query never answered."""
    pk = []

    def dq(t, qid, name, resp=False, rcode=0):
        if resp:
            d = DNS(id=qid, qr=1, rcode=rcode, qd=DNSQR(qname=name))
            p = Ether() / IP(src="198.51.100.53", dst=CUST) / UDP(sport=53, dport=33333) / d
        else:
            d = DNS(id=qid, rd=1, qd=DNSQR(qname=name))
            p = Ether() / IP(src=CUST, dst="198.51.100.53") / UDP(sport=33333, dport=53) / d
        p.time = t
        return p
    pk.append(dq(t0, 0x1111, "example.org"))
    pk.append(dq(t0 + 0.012, 0x1111, "example.org", True))
    pk.append(dq(t0 + 0.100, 0x2222, "nx.example.org"))
    pk.append(dq(t0 + 0.125, 0x2222, "nx.example.org", True, 3))
    pk.append(dq(t0 + 0.200, 0x3333, "lost.example.org"))
    pk.append(dq(t0 + 9.0, 0x4444, "late.example.org"))   # keeps the flow alive past 5 s
    pk.append(dq(t0 + 9.004, 0x4444, "late.example.org", True))
    return pk


def main():
    out = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    pkts = []
    # clean stream with 0..8 ms uniform arrival jitter
    pkts += rtp_stream(rng, 16000, 20000, 0x11111111, 100, 200, 8.0, BASE_T)
    # loss: 7 packets missing (one burst of 3)
    pkts += rtp_stream(rng, 16002, 20002, 0x22222222, 5000, 150, 2.0, BASE_T,
                       drop={10, 50, 51, 52, 90, 120, 149})
    # sequence wrap-around at 65535 with a loss across it
    pkts += rtp_stream(rng, 16004, 20004, 0x33333333, 65500, 100, 1.0, BASE_T,
                       drop={36})
    # duplicates and reordering
    pkts += rtp_stream(rng, 16006, 20006, 0x44444444, 30000, 120, 4.0, BASE_T,
                       dup={20, 21, 60}, swap={40, 80})
    # 90 kHz video-like clock (PT 34), 40 ms frames, 15 ms jitter
    pkts += rtp_stream(rng, 16008, 20008, 0x55555555, 1, 60, 15.0, BASE_T,
                       pt=34, clock=90000, ptime_ms=40)
    pkts += tcp_handshakes(BASE_T + 10)
    pkts += dns_cases(BASE_T + 12)
    pkts.sort(key=lambda p: float(p.time))
    wrpcap(out, pkts)


if __name__ == "__main__":
    main()
