#!/usr/bin/env python3
"""mkbig.py: bench captures built fast with plain struct (no scapy).

  mkbig.py big OUT.pcap SRC_DIR MIN_PACKETS   copies of every Ethernet capture in SRC_DIR
        (classic pcap; convert pcapng first), each copy's IPv4/IPv6 addresses XORed with the
        copy number (both directions alike, so flows stay bidirectional but every copy is a
        distinct set of flows), gaps > 1 s squeezed to 1 s; the copies run side by side in
        time (copy k 1 us after copy k-1), like many customers on one link.
  mkbig.py flows OUT.pcap N                   exactly N distinct UDP flows (one packet each
        way), all within 10 s, so all N are concurrent with a long idle timeout.
  mkbig.py mixed OUT.pcap N                   N concurrent flows as a home gateway carries them:
        60% TCP (handshake, one data segment each way: HTTP GET or TLS ClientHello and an
        answer; no FIN/RST, so all stay open), 30% UDP (QUIC-like, 3 or 4 datagrams, both
        ways), 10% DNS (query + response). Homes 192.168.1.1-250, servers 203.0.113.0/24;
        flows start evenly over 10 s and interleave, so all N are concurrent at the end.
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
    if per == 0:
        sys.exit("big: no Ethernet packets in %s/*.pcap" % src)
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


ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
TCPF_FIN, TCPF_SYN, TCPF_PSH, TCPF_ACK = 0x01, 0x02, 0x08, 0x10


def frame_ip(src, dst, proto, l4):
    return ETH + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                             src, dst) + l4


def frame_tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 0x50,
                      flags, 64240, 0, 0)
    return frame_ip(src, dst, 6, tcp + payload)


def frame_udp_payload(src, dst, sport, dport, payload):
    return frame_ip(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def tls_client_hello(host):
    """A TLS 1.2-framed ClientHello (SNI, padded to the usual 517 bytes of a browser's)."""
    sni = host.encode()
    ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    ext += struct.pack("!HHH", 10, 4, 2) + b"\x00\x1d"                 # groups: x25519
    ext += struct.pack("!HHB", 43, 3, 2) + b"\x03\x04"                 # versions: 1.3
    ext += struct.pack("!HHH", 13, 4, 2) + b"\x04\x03"                 # sig algs
    ext += struct.pack("!HHHHH", 51, 38, 36, 0x1d, 32) + bytes(range(32))  # key share
    suites = b"\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30"
    body = b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(range(32, 64))
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00"
    fixed = 5 + 4 + len(body) + 2 + len(ext)
    pad = max(0, 517 - fixed - 4)
    ext += struct.pack("!HH", 21, pad) + b"\x00" * pad
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_flight():
    """ServerHello, ChangeCipherSpec and an encrypted record: a TLS 1.3 server's first segment."""
    ext = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HHHH", 51, 36, 0x1d, 32) + bytes(32)
    body = b"\x03\x03" + bytes(range(64, 96)) + b"\x20" + bytes(range(32, 64)) + b"\x13\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    out = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"
    app = bytes((i * 73 + 11) & 0xff for i in range(1200 - len(out) - 5))
    return out + b"\x17\x03\x03" + struct.pack("!H", len(app)) + app


HTTP_GET = (b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
            b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n"
            b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
            b"Connection: keep-alive\r\n\r\n")
HTML = (b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>" +
        b"<p>example text</p>" * 28 + b"</body></html>\n")
HTTP_OK = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
           b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(HTML)) + HTML


def dns_msg(qid, name, answer=None):
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\x00\x00\x01\x00\x01"
    if answer is None:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q +
            b"\xc0\x0c\x00\x01\x00\x01" + struct.pack("!IH", 300, 4) + answer)


FILL = [bytes((i * 31 + b) & 0xff for i in range(1500)) for b in range(256)]


def quic_initial(first, dcid, size):
    hdr = bytes([first]) + b"\x00\x00\x00\x01\x08" + dcid + b"\x08" + dcid[::-1]
    if first & 0x30 == 0:                      # Initial: token length
        hdr += b"\x00"
    hdr += struct.pack("!H", 0x4000 | (size - len(hdr) - 2))
    return hdr + FILL[first][:size - len(hdr)]


MIXED_PAYLOADS = {
    "tls_ch": tls_client_hello("www.example.com"), "tls_sf": tls_server_flight(),
    "http_get": HTTP_GET, "http_ok": HTTP_OK,
    "wg_init": b"\x01\x00\x00\x00" + bytes(144), "wg_resp": b"\x02\x00\x00\x00" + bytes(88),
    "wg_data": b"\x04\x00\x00\x00" + bytes(92),
}


def mixed_flow(i):
    """(kind, home, server, home port, server port, WAN RTT us, LAN RTT us) of flow i."""
    m = i % 10
    kind = "tcp" if m < 6 else ("udp" if m < 9 else "dns")
    home = bytes([192, 168, 1, 1 + i % 250])
    srv = bytes([203, 0, 113, 53]) if kind == "dns" else bytes([203, 0, 113, 1 + (i * 31) % 254])
    if kind == "tcp":
        port = 80 if i % 4 == 0 else 443
    elif kind == "udp":
        port = 443 if i % 2 == 0 else 51820
    else:
        port = 53
    return kind, home, srv, 20000 + i // 250, port, 8000 + (i * 7919) % 40000, 300 + (i * 13) % 700


def mixed_times(i):
    """Offsets (us from the flow's start) of flow i's packets, in order."""
    kind, _, _, _, _, wan, lan = mixed_flow(i)
    if kind == "tcp":   # SYN, SYN-ACK, ACK, request, answer (server think time 2 ms)
        return (0, wan, wan + lan, wan + lan + 50, 2 * wan + lan + 2050)
    if kind == "udp":   # 3 or 4 datagrams
        t = (0, wan, wan + lan + 20000, 2 * wan + lan + 20000)
        return t if i % 3 else t[:3]
    return (0, 2000 + (i * 17) % 30000)


def mixed_frame(i, k):
    """Packet k of flow i (wire bytes)."""
    kind, home, srv, hp, sp, _, _ = mixed_flow(i)
    P = MIXED_PAYLOADS
    if kind == "tcp":
        c, s = (i * 2654435761) & 0xffffffff, (i * 40503 + 12345) & 0xffffffff
        req, ans = (P["http_get"], P["http_ok"]) if sp == 80 else (P["tls_ch"], P["tls_sf"])
        return (frame_tcp(home, srv, hp, sp, c, 0, TCPF_SYN),
                frame_tcp(srv, home, sp, hp, s, c + 1, TCPF_SYN | TCPF_ACK),
                frame_tcp(home, srv, hp, sp, c + 1, s + 1, TCPF_ACK),
                frame_tcp(home, srv, hp, sp, c + 1, s + 1, TCPF_PSH | TCPF_ACK, req),
                frame_tcp(srv, home, sp, hp, s + 1, c + 1 + len(req), TCPF_PSH | TCPF_ACK, ans))[k]
    if kind == "dns":
        name = "h%d.example.com" % (i % 1000)
        if k == 0:
            return frame_udp_payload(home, srv, hp, 53, dns_msg(i & 0xffff, name))
        return frame_udp_payload(srv, home, 53, hp, dns_msg(i & 0xffff, name, srv))
    up = k % 2 == 0
    if sp == 443:
        dcid = struct.pack("!Q", i * 11400714819323198485 & 0xffffffffffffffff)
        if k < 2:   # client Initial, server Handshake; then 1-RTT short-header packets
            pl = quic_initial(0xc3 if up else 0xe1, dcid, 1200)
        else:
            pl = b"\x41" + dcid + FILL[k][:110]
    else:
        pl = P["wg_init"] if k == 0 else P["wg_resp"] if k == 1 else P["wg_data"]
    return frame_udp_payload(home, srv, hp, sp, pl) if up else frame_udp_payload(srv, home, sp, hp, pl)


def mixed(out, nflows):
    if nflows > 250 * 40000:
        sys.exit("mixed: at most 10M flows")
    t0 = 1700000000 * 1000000
    step = max(1, 10000000 // nflows)
    # One sortable integer per packet: time, flow, packet number.
    keys = []
    for i in range(nflows):
        start = i * step
        for k, dt in enumerate(mixed_times(i)):
            keys.append((start + dt) << 27 | i << 3 | k)
    keys.sort()
    n = nbytes = 0
    with open(out, "wb") as f:
        write_header(f)
        for key in keys:
            t = t0 + (key >> 27)
            d = mixed_frame((key >> 3) & 0xffffff, key & 7)
            f.write(REC.pack(t // 1000000, t % 1000000, len(d), len(d)))
            f.write(d)
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
    elif kind == "mixed":
        n, b = mixed(tmp, int(sys.argv[3]))
    elif kind == "synflood":
        n, b = synflood(tmp, int(sys.argv[3]))
    else:
        sys.exit(__doc__)
    os.replace(tmp, out)
    print("packets %d bytes %d" % (n, b))


if __name__ == "__main__":
    main()
