#!/usr/bin/python3
# latwatch.py: time stamps of one attack at the gateway, for bench_latency.sh (run inside the
# gateway namespace, as root). Reports the kernel receive time of the first IPv4 packet from SRC
# on IFACE (the attack start as the probe's capture sees it) and the time `nft monitor` shows the
# set element for SRC being added (the ban in place), both in seconds since the epoch, and how
# many packets from SRC arrived in the first 100 ms (the rate the generator really reached).
#   latwatch.py IFACE SRC TIMEOUT_S   -> prints "ready" once listening, then "FIRST NFT N100"
#                                        (0 = not seen); IFACE "-" watches nft only
# Bounded: exits after TIMEOUT_S in any case; reads packets only for 100 ms after the first.
import os
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_IP = 0x0800
SO_TIMESTAMPNS = 35


def main():
    iface, src, timeout_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    want = socket.inet_aton(src)
    sk = None
    if iface != "-":
        sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        sk.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sk.bind((iface, ETH_P_IP))
        sk.setblocking(False)
    mon = subprocess.Popen(["stdbuf", "-oL", "nft", "monitor", "elements"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    time.sleep(0.2)       # nft subscribes to its netlink group
    print("ready", flush=True)
    first = nft = 0.0
    n100 = 0
    counting = sk is not None
    buf = b""
    deadline = time.time() + timeout_s
    while time.time() < deadline and (counting or nft == 0):
        fds = [mon.stdout] + ([sk] if counting else [])
        r, _, _ = select.select(fds, [], [], 0.02)
        if sk in r:
            while counting:
                try:
                    data, anc, _, _ = sk.recvmsg(64, socket.CMSG_SPACE(16))
                except BlockingIOError:
                    break
                # Ethernet header (14) + IPv4 source at offset 12 of the IP header.
                if len(data) < 34 or data[26:30] != want:
                    continue
                ts = time.time()
                for lvl, typ, val in anc:
                    if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", val[:16])
                        ts = sec + nsec / 1e9
                if first == 0:
                    first = ts
                if ts - first > 0.1:
                    counting = False
                else:
                    n100 += 1
        if counting and first != 0 and time.time() - first > 0.3:
            counting = False       # the generator stopped early
        if not counting and sk is not None and sk.fileno() >= 0:
            sk.close()
        if mon.stdout in r:
            chunk = os.read(mon.stdout.fileno(), 4096)
            if not chunk:
                break
            t = time.time()
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if nft == 0 and line.startswith(b"add element") and \
                        (b" " + src.encode() + b" ") in line.replace(b"{", b" ").replace(b"}", b" "):
                    nft = t
    mon.terminate()
    try:
        mon.wait(2)
    except subprocess.TimeoutExpired:
        mon.kill()
    print("%.6f %.6f %d" % (first, nft, n100), flush=True)


if __name__ == "__main__":
    main()
