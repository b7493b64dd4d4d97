#!/usr/bin/env python3
"""pcap_vlan.py: copy a classic pcap (Ethernet), pushing VLAN tags onto every frame.

usage: pcap_vlan.py IN OUT VID            one 802.1Q tag
       pcap_vlan.py IN OUT OUTER.INNER    Q-in-Q: 802.1ad S-tag OUTER, then 802.1Q INNER
Frame length and captured length grow by 4 bytes per tag (tcprewrite --enet-vlan=add keeps
the old lengths and so cuts 4 bytes off the end of every frame). Stdlib only.
"""
import struct, sys

def main():
    src, dst, vid = sys.argv[1:4]
    if "." in vid:
        outer, inner = (int(x) for x in vid.split("."))
        tag = struct.pack("!HH", 0x88a8, outer) + struct.pack("!HH", 0x8100, inner)
    else:
        tag = struct.pack("!HH", 0x8100, int(vid))
    data = open(src, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit(f"{src}: not a classic pcap file")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"{src}: link type {linktype}, need Ethernet (1)")
    hdr = bytearray(data[:24])
    snaplen = struct.unpack(e + "I", hdr[16:20])[0]
    struct.pack_into(e + "I", hdr, 16, min(snaplen + len(tag), 0x7FFFFFFF))
    out = [bytes(hdr)]
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if len(frame) < caplen:
            break  # truncated file: stop at the last whole record
        if caplen >= 14:
            frame = frame[:12] + tag + frame[12:]
            caplen += len(tag)
            wirelen += len(tag)
        out.append(struct.pack(e + "IIII", sec, frac, caplen, wirelen) + frame)
    open(dst, "wb").write(b"".join(out))

main()
