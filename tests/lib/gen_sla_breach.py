#!/usr/bin/python3
"""gen_sla_breach.py: a capture of one customer whose TCP handshakes and DNS answers are slow.

Usage: gen_sla_breach.py OUT.pcap
Customer 10.0.104.10 (a home network address, so a VLAN-only map sees it as the customer's
side) opens one TCP connection a second to 203.0.113.80 with a 250 ms WAN leg and a 2 ms
LAN leg, and asks 198.51.100.53 one DNS question a second, answered after 150 ms, for 12 s
from packet time 1700000000 (the time base of gen_rtp.py and gen_attacks.py). With the
dashboard's SLA thresholds that is a critical RTT WAN and a DNS warning. Deterministic.
"""
import sys

from scapy.all import DNS, DNSQR, Ether, IP, TCP, UDP, Raw, wrpcap  # noqa: E402

CUST, SERVER, RESOLVER = "10.0.104.10", "203.0.113.80", "198.51.100.53"
BASE_T = 1700000000.0
MAC_GW, MAC_CUST = "02:00:00:00:00:01", "02:00:00:00:01:04"


def at(t, p):
    p.time = t
    return p


def up(src, dst):
    return Ether(src=MAC_CUST, dst=MAC_GW) / IP(src=src, dst=dst)


def down(src, dst):
    return Ether(src=MAC_GW, dst=MAC_CUST) / IP(src=src, dst=dst)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pk = []
    for i in range(12):
        t, sp, qid = BASE_T + i + 0.1, 41000 + i, 0x5000 + i
        pk.append(at(t, up(CUST, SERVER) / TCP(sport=sp, dport=443, flags="S", seq=1000)))
        pk.append(at(t + 0.250, down(SERVER, CUST) / TCP(sport=443, dport=sp, flags="SA", seq=9000, ack=1001)))
        pk.append(at(t + 0.252, up(CUST, SERVER) / TCP(sport=sp, dport=443, flags="A", seq=1001, ack=9001)))
        pk.append(at(t + 0.260, down(SERVER, CUST) / TCP(sport=443, dport=sp, flags="PA", seq=9001, ack=1001)
                     / Raw(b"y" * 1200)))
        pk.append(at(t + 0.300, up(CUST, RESOLVER) / UDP(sport=35000, dport=53)
                     / DNS(id=qid, rd=1, qd=DNSQR(qname="slow%d.example.org" % i))))
        pk.append(at(t + 0.450, down(RESOLVER, CUST) / UDP(sport=53, dport=35000)
                     / DNS(id=qid, qr=1, qd=DNSQR(qname="slow%d.example.org" % i))))
    pk.sort(key=lambda p: float(p.time))
    wrpcap(sys.argv[1], pk)


if __name__ == "__main__":
    main()
