#!/usr/bin/env python3
"""tshark_ip_totals.py: the independent oracle for IP-layer totals of a capture.

usage: tshark_ip_totals.py PCAP  ->  prints {"packets": N, "bytes": N}
A frame counts when tshark dissects an IPv4 or IPv6 header as its outermost network layer;
bytes are the header's own length (IPv4 total length, IPv6 40 + payload length), as the
design defines link usage on IP-layer bits. Only the outermost header counts (tunnels, ICMP
errors quoting a header, 6in4 carry more than one).
"""
import json, subprocess, sys

out = subprocess.run(
    ["tshark", "-r", sys.argv[1], "-T", "fields", "-E", "occurrence=f", "-E", "separator=|",
     "-e", "frame.protocols", "-e", "ip.len", "-e", "ipv6.plen"],
    check=False, capture_output=True, text=True).stdout
packets = nbytes = 0
for line in out.splitlines():
    protos, ip_len, plen = (line.split("|") + ["", "", ""])[:3]
    layers = protos.split(":")
    first = next((p for p in layers if p in ("ip", "ipv6")), None)
    if first == "ip" and ip_len:
        packets += 1
        nbytes += int(ip_len)
    elif first == "ipv6" and plen:
        packets += 1
        nbytes += 40 + int(plen)
print(json.dumps({"packets": packets, "bytes": nbytes}))
