#!/usr/bin/env python3
"""pcap_mix.py: interleave classic pcaps (same link type) packet by packet, round robin.

usage: pcap_mix.py OUT IN1 IN2 ...
Output timestamps are rewritten to 1 ms apart (a replay paced by rate, as `tcpreplay --pps`
does, ignores them anyway), so every input is on the wire at once instead of one after the
other. Stdlib only; the first input's byte order and link type are kept.
"""
import struct, sys

def records(path):
    data = open(path, "rb").read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        if len(frame) < caplen:
            break
        out.append((frame, wirelen))
        off += 16 + caplen
    return data[:24], e, out

def main():
    dst, srcs = sys.argv[1], sys.argv[2:]
    loaded = [records(p) for p in srcs]
    header, e, _ = loaded[0]
    lists = [r for _, _, r in loaded]
    out, t_us, i = [header], 1_700_000_000 * 1_000_000, 0
    while any(i < len(r) for r in lists):
        for r in lists:
            if i < len(r):
                frame, wirelen = r[i]
                out.append(struct.pack(e + "IIII", t_us // 1_000_000, t_us % 1_000_000,
                                       len(frame), wirelen) + frame)
                t_us += 1000
        i += 1
    open(dst, "wb").write(b"".join(out))

main()
