#!/usr/bin/env python3
"""jsonl_totals.py: rx+tx packets and bytes over every stats line of a probe's JSON Lines.

usage: jsonl_totals.py FILE.jsonl  ->  {"packets": N, "bytes": N} (same format as
tshark_ip_totals.py, so the two outputs compare as strings).
"""
import json, sys

packets = nbytes = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["type"] == "stats":
        packets += o["rx_packets"] + o["tx_packets"]
        nbytes += o["rx_bytes"] + o["tx_bytes"]
print(json.dumps({"packets": packets, "bytes": nbytes}))
