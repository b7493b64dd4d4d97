#!/usr/bin/env python3
"""mkbig.py: bench captures built fast with plain struct (no scapy).

  mkbig.py big OUT.pcap SRC_DIR MIN_PACKETS   copies of every Ethernet capture in SRC_DIR
        (classic pcap; convert pcapng first), each copy's IPv4/IPv6 addresses XORed with the
        copy number (both directions alike, so flows stay bidirectional but every copy is a
        distinct set of flows), gaps > 1 s squeezed to 1 s; the copies run side by side in
        time (copy k 1 us after copy k-1), like many customers on one link.
  mkbig.py flows OUT.pcap N                   exactly N distinct UDP flows (one packet each
        way), all within 10 s, so all N are concurrent with a long idle timeout.
  mkbig.py synflood OUT.pcap N                N TCP SYNs from random sources in 198.51.100.0/24
        with random source ports to one target, 100k packets/s: ~N distinct flows.
Prints "packets P bytes B" (B = sum of wire lengths).
"""
import glob
import os
import random
import struct
import sys

GLOBAL = struct.Struct("<IHHiIII")
REC = struct.Struct("<IIII")


def write_header(f):
    f.write(GLOBAL.pack(0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))


def read_pcap(path):
    """Yields (ts_us, orig_len, data) of a classic little/big-endian pcap with DLT_EN10MB."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            e = "<"
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            e = ">"
        else:
            return
        nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
        if struct.unpack(e + "I", hdr[20:24])[0] != 1:
            return  # not Ethernet
        rec = struct.Struct(e + "IIII")
        while True:
            r = f.read(16)
            if len(r) < 16:
                return
            sec, frac, incl, orig = rec.unpack(r)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec * 1000000 + (frac // 1000 if nano else frac), orig, data


def l3_offset(d):
    off, et = 12, None
    while off + 2 <= len(d):
        et = (d[off] << 8) | d[off + 1]
        if et in (0x8100, 0x88a8, 0x9100):
            off += 4
            continue
        return et, off + 2
    return None, None


def rewrite(d, k):
    """XORs bytes 1-2 of IPv4 (2-3 of IPv6) src and dst with copy number k."""
    et, o = l3_offset(d)
    if et == 0x0800 and o + 20 <= len(d):
        for a in (o + 12, o + 16):
            d[a + 1] ^= (k >> 8) & 0xff
            d[a + 2] ^= k & 0xff
        d[o + 10] = d[o + 11] = 0
        ihl = (d[o] & 0x0f) * 4
        if 20 <= ihl and o + ihl <= len(d):
            s = sum(struct.unpack("!%dH" % (ihl // 2), bytes(d[o:o + ihl])))
            while s >> 16:
                s = (s & 0xffff) + (s >> 16)
            struct.pack_into("!H", d, o + 10, ~s & 0xffff)
    elif et == 0x86dd and o + 40 <= len(d):
        for a in (o + 8, o + 24):
            d[a + 2] ^= (k >> 8) & 0xff
            d[a + 3] ^= k & 0xff


def big(out, src, minpk):
    files = sorted(glob.glob(os.path.join(src, "*.pcap")))
    pkts = [list(read_pcap(p)) for p in files]
    pkts = [p for p in pkts if p]
    per = sum(len(p) for p in pkts)
    copies = max(1, -(-minpk // per))
    t = 1700000000 * 1000000
    n = nbytes = 0
    with open(out, "wb") as f:
        write_header(f)
        for plist in pkts:
            last = None
            for ts, orig, data in plist:
                gap = 0 if last is None else min(max(ts - last, 0), 1000000)
                last = ts
                t += max(gap, copies)
                # Copies run side by side (1 us apart), like many customers at once.
                for k in range(1, copies + 1):
                    d = bytearray(data)
                    rewrite(d, k)
                    tk = t + k
                    f.write(REC.pack(tk // 1000000, tk % 1000000, len(d), orig))
                    f.write(d)
                    n += 1
                    nbytes += orig
            t += 1000 + copies
    return n, nbytes


def frame_udp(src, dst, sport, dport, payload=32):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + payload, 0, 0, 64, 17, 0, src, dst)
    return (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip +
            struct.pack("!HHHH", sport, dport, 8 + payload, 0) + b"\x00" * payload)


def frame_syn(src, dst, sport, dport):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp


def flows(out, nflows):
    t = 1700000000 * 1000000
    step = max(1, 10000000 // (2 * nflows))
    n = nbytes = 0
    with open(out, "wb") as f:
        write_header(f)
        for i in range(nflows):
            home = bytes([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff])
            srv = bytes([203, 0, 113, 10])
            for d in (frame_udp(home, srv, 10000 + i % 50000, 443),
                      frame_udp(srv, home, 443, 10000 + i % 50000)):
                f.write(REC.pack(t // 1000000, t % 1000000, len(d), len(d)))
                f.write(d)
                t += step
                n += 1
                nbytes += len(d)
    return n, nbytes


def synflood(out, npk):
    rnd = random.Random(1)
    t = 1700000000 * 1000000
    dst = bytes([192, 168, 1, 2])
    n = nbytes = 0
    with open(out, "wb") as f:
        write_header(f)
        for _ in range(npk):
            src = bytes([198, 51, 100, rnd.randint(1, 254)])
            d = frame_syn(src, dst, rnd.randint(1024, 65535), 80)
            f.write(REC.pack(t // 1000000, t % 1000000, len(d), len(d)))
            f.write(d)
            t += 10
            n += 1
            nbytes += len(d)
    return n, nbytes


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    kind, out = sys.argv[1], sys.argv[2]
    tmp = out + ".tmp"
    if kind == "big" and len(sys.argv) == 5:
        n, b = big(tmp, sys.argv[3], int(sys.argv[4]))
    elif kind == "flows":
        n, b = flows(tmp, int(sys.argv[3]))
    elif kind == "synflood":
        n, b = synflood(tmp, int(sys.argv[3]))
    else:
        sys.exit(__doc__)
    os.replace(tmp, out)
    print("packets %d bytes %d" % (n, b))


if __name__ == "__main__":
    main()
