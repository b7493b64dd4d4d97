#!/usr/bin/python3
"""gen_traffic.py: writes the project's own "self-made corpus" of residential captures.

Usage: gen_traffic.py OUTDIR [SEED]        (tests call it through gw_gen_corpus, common.sh)
       gen_traffic.py --big OUT.pcap NPKTS [SEED]   one large mixed capture (make bench)

Deterministic for a given seed (default 1); about a second of CPU (--big: ~10 s per million
packets). Nothing here comes from third-party captures: every packet is built by this script
with stdlib struct (checksums included); scapy, Debian's python3-scapy, builds only the ARP
frames.
Home side: 192.168.1.0/24 and fd00:1::/64 (a home LAN); remote side: 198.51.100.0/24,
203.0.113.0/24 and 2001:db8::/32 (documentation ranges). Time starts at 1700000000.

OUTDIR/ gets (every file agrees with tshark on which frames are IP and their IP bytes):
  mixed.pcap        ~90 s of a home: DNS (A, AAAA, NXDOMAIN, SERVFAIL, one unanswered),
                    HTTP sessions with Host headers, TLS sessions with SNI, QUIC-ish UDP 443,
                    a SIP call (INVITE/100/180/200/ACK/BYE, SDP) with the G.711 RTP and RTCP
                    it announces, an MPEG-TS-over-UDP video stream, ICMP echo and errors,
                    IPv6 (TCP, DNS, hop-by-hop/destination/routing/fragment headers, ND),
                    IPv4 fragments, ARP, a refused connection (RST), a retransmission
  home2.pcap        a second home (other seed): browsing, two calls, pings
  voip.pcap         two SIP calls only (PCMU with jitter and loss; PCMA across a
                    sequence wrap), exact expectations in MANIFEST
  vlan.pcap         mixed.pcap behind 802.1Q VLAN 101
  qinq_8021ad.pcap  web+DNS behind 802.1ad S-tag 200 + 802.1Q C-tag 10
  qinq_stacked.pcap web+DNS behind two stacked 802.1Q tags (300, 20)
  pppoe.pcap        PPPoE discovery (PADI/PADO/PADR/PADS), then IPv4 and IPv6 sessions
                    in PPPoE, and PPPoE inside Q-in-Q
  sll.pcap          DLT_LINUX_SLL (Linux "any" capture) of web+DNS+call
  null.pcap         DLT_NULL (BSD loopback header) of web traffic
  tunnels.pcap      HTTP over 6in4 (protocol 41) and over IP-in-IP (protocol 4)
  spliced.pcap      browsing with timestamps jumping forward by 3 hours, then 2 years
  mixed.pcapng      pcapng (SHB, IDB, EPBs) of the web traffic
  snaplen.pcap      mixed.pcap captured with snaplen 64 (caplen < length; TCP options cut)
  cut.pcap          a capture whose file ends in the middle of a packet
  malformed.pcap    bad packets that tshark and decode.c agree on: runt frames, bad IP
                    versions, IPv4 options, TCP data offset < 5, cut L4 headers, zero and
                    odd lengths, bogus DNS, short ICMP, unknown ethertypes, a cut VLAN tag
  divergent/malformed_divergent.pcap  bad packets on which tshark and decode.c disagree
                    in the documented ways of tests/integration/test_decode_tshark.sh
                    (bad_ip_len, trunc_ip, bad_ipv6_ext); kept apart so the totals tests
                    can require exact agreement on everything else
  MANIFEST          "file NAME packets=N what" per capture, then "expect NAME PATTERN":
                    grep -E patterns gw-quality-dump's output for NAME must match (RTP
                    expected/lost, TCP handshake legs, DNS outcomes and latencies, totals)
"""
import os
import random
import struct
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktutil import addr, csum  # noqa: E402

T0 = 1_700_000_000 * 1_000_000          # microseconds

GW_MAC = bytes.fromhex("020000000001")
HOME_MAC = {i: bytes.fromhex("0200000101%02x" % i) for i in range(1, 255)}
ISP_DNS, ISP_DNS6 = "198.51.100.53", "2001:db8:53::53"


# ---- headers ------------------------------------------------------------------------------
class Ids:
    """IPv4 identification counter per source (what a real stack does)."""
    def __init__(self):
        self.n = {}

    def next(self, src):
        v = self.n.get(src, (sum(addr(src)) * 7919) & 0xFFFF)
        self.n[src] = (v + 1) & 0xFFFF
        return v


IDS = Ids()

# Facts about what was generated, for MANIFEST "expect" lines: grep -E patterns that
# gw-quality-dump's output for the file must contain (filled while a file's packets are made).
FACTS = []
COUNT = {}


def count(key, n=1):
    COUNT[key] = COUNT.get(key, 0) + n


def ip4(src, dst, proto, payload, ttl=64, df=True, ident=None, frag=0, mf=False,
        options=b"", total=None):
    hl = 20 + len(options)
    ident = IDS.next(src) if ident is None else ident
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag // 8)
    tl = hl + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | hl // 4, 0, tl, ident, flags, ttl, proto, 0,
                    addr(src), addr(dst)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, hlim=64, plen=None):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload) if plen is None else plen,
                       nh, hlim, addr(src), addr(dst)) + payload


def pseudo(src, dst, proto, length):
    if ":" in src:
        return addr(src) + addr(dst) + struct.pack("!IxxxB", length, proto)
    return addr(src) + addr(dst) + struct.pack("!xBH", proto, length)


def l3(src, dst, proto, seg, **kw):
    if ":" in src:
        return 0x86DD, ip6(src, dst, proto, seg, **kw)
    return 0x0800, ip4(src, dst, proto, seg, **kw)


def udp_seg(src, dst, sport, dport, data):
    h = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    c = csum(pseudo(src, dst, 17, 8 + len(data)) + h + data) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + data


def tcp_seg(src, dst, sport, dport, seq, ack, flags, data=b"", win=64240, opts=b""):
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    off << 4, flags, win, 0, 0) + opts
    c = csum(pseudo(src, dst, 6, len(h) + len(data)) + h + data)
    return h[:16] + struct.pack("!H", c) + h[18:] + data


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTS = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"


class Pkt:
    """One packet before the link layer: time (us), ethertype, bytes, whether upstream,
    and the home host (for its MAC)."""
    __slots__ = ("t", "etype", "data", "up", "host")

    def __init__(self, t, etype, data, up, host=10):
        self.t, self.etype, self.data, self.up, self.host = int(t), etype, data, up, host


def home_host(a):
    return int(a.split(".")[-1]) if "." in a else int(a.split(":")[-1] or "1", 16) & 0xFF


def is_home(a):
    return a.startswith("192.168.1.") or a.startswith("fd00:1:")


def pkt_ip(t, src, dst, proto, seg, **kw):
    et, b = l3(src, dst, proto, seg, **kw)
    h = src if is_home(src) else dst
    return Pkt(t, et, b, is_home(src), home_host(h) if is_home(h) else 10)


def pkt_udp(t, src, dst, sport, dport, data, **kw):
    return pkt_ip(t, src, dst, 17, udp_seg(src, dst, sport, dport, data), **kw)


# ---- scenarios ------------------------------------------------------------------------------
def tcp_session(t, cli, cport, srv, sport, req, resp_len, wan_us, lan_us, rng,
                resp_head=b"", retransmit=False, mss=1448):
    """A whole TCP session seen at the gateway: handshake (SYN, SYN-ACK after the WAN
    leg, ACK after the LAN leg), request, response in MSS segments acked every two,
    client FIN, server FIN-ACK, last ACK. Returns packets."""
    out = []
    c = rng.getrandbits(32)
    s = rng.getrandbits(32)
    count("tcp.handshakes")
    count("tcp.retransmits", int(retransmit))
    if "." in cli:
        FACTS.append("^tcp %s %d %s %d .* initial_rtt_ms=%.6f wan_ms=%.6f lan_ms=%.6f"
                     % (cli, cport, srv, sport, (wan_us + lan_us) / 1000, wan_us / 1000,
                        lan_us / 1000))

    def seg(tt, up, seq, ack, flags, data=b"", opts=b""):
        a, b, pa, pb = (cli, srv, cport, sport) if up else (srv, cli, sport, cport)
        out.append(pkt_ip(tt, a, b, 6, tcp_seg(a, b, pa, pb, seq, ack, flags, data, opts=opts)))

    seg(t, True, c, 0, SYN, opts=SYN_OPTS)
    t += wan_us
    seg(t, False, s, c + 1, SYN | ACK, opts=SYN_OPTS)
    t += lan_us
    seg(t, True, c + 1, s + 1, ACK)
    t += 300
    seg(t, True, c + 1, s + 1, PSH | ACK, req)
    if retransmit:
        t += 3 * wan_us + 200000
        seg(t, True, c + 1, s + 1, PSH | ACK, req)
    c += 1 + len(req)
    t += wan_us + 2000 + rng.randint(0, 3000)
    body = resp_head + bytes(rng.getrandbits(8) for _ in range(min(64, resp_len))) * \
        (resp_len // 64 + 1)
    body = body[:max(resp_len, len(resp_head))]
    s += 1
    sent = 0
    nseg = 0
    while sent < len(body):
        d = body[sent:sent + mss]
        seg(t, False, s + sent, c, ACK | (PSH if sent + len(d) >= len(body) else 0), d)
        sent += len(d)
        nseg += 1
        t += 120 + rng.randint(0, 80)
        if nseg % 2 == 0 or sent >= len(body):
            seg(t + lan_us, True, c, s + sent, ACK)
    s += sent
    t += lan_us + 50000 + rng.randint(0, 200000)
    seg(t, True, c, s, FIN | ACK)
    t += wan_us
    seg(t, False, s, c + 1, FIN | ACK)
    t += lan_us
    seg(t, True, c + 1, s + 1, ACK)
    return out


def tcp_refused(t, cli, cport, srv, sport, wan_us):
    return [pkt_ip(t, cli, srv, 6, tcp_seg(cli, srv, cport, sport, 77, 0, SYN, opts=SYN_OPTS)),
            pkt_ip(t + wan_us, srv, cli, 6, tcp_seg(srv, cli, sport, cport, 0, 78, RST | ACK))]


def http_request(host, path="/"):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; "
            "rv:115.0) Gecko/20100101 Firefox/115.0\r\nAccept: text/html,application/xhtml+xml"
            "\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
            "Connection: keep-alive\r\n\r\n" % (path, host)).encode()


def http_head(n):
    return ("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % n).encode()


def tls_client_hello(host, rng):
    """TLS 1.3 ClientHello in a TLS 1.0 record, with SNI and ALPN, padded to 517 bytes."""
    sni = host.encode()
    ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    ext += struct.pack("!HHH", 10, 8, 6) + b"\x00\x1d\x00\x17\x00\x18"        # groups
    ext += struct.pack("!HHH", 16, 14, 12) + b"\x02h2\x08http/1.1"             # ALPN
    ext += struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"                 # versions
    ext += struct.pack("!HHH", 13, 8, 6) + b"\x04\x03\x08\x04\x04\x01"         # sig algs
    ext += struct.pack("!HHHHH", 51, 38, 36, 0x1D, 32) + bytes(rng.getrandbits(8) for _ in range(32))
    suites = b"\x13\x01\x13\x03\x13\x02\xc0\x2b\xc0\x2f\xcc\xa9\xcc\xa8\xc0\x2c\xc0\x30"
    body = b"\x03\x03" + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x20" + \
        bytes(rng.getrandbits(8) for _ in range(32))
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00"
    fixed = 5 + 4 + len(body) + 2 + len(ext)
    pad = max(0, 517 - fixed - 4)
    ext += struct.pack("!HH", 21, pad) + b"\x00" * pad
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_head(rng):
    ext = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HHHH", 51, 36, 0x1D, 32) + \
        bytes(rng.getrandbits(8) for _ in range(32))
    body = b"\x03\x03" + bytes(rng.getrandbits(8) for _ in range(32)) + b"\x20" + \
        bytes(32) + b"\x13\x01\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01" + \
        b"\x17\x03\x03\x10\x00"


def dns_name(name):
    return b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\x00"


def dns_query(qid, name, qtype=1):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + \
        struct.pack("!HH", qtype, 1)


def dns_answer(qid, name, qtype=1, rcode=0, answers=()):
    m = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0) + dns_name(name) + \
        struct.pack("!HH", qtype, 1)
    for a in answers:
        rd = addr(a)
        m += b"\xc0\x0c" + struct.pack("!HHIH", 28 if len(rd) == 16 else 1, 1, 300, len(rd)) + rd
    return m


def dns_exchange(t, cli, cport, name, qid, latency_us, qtype=1, rcode=0, answers=(),
                 server=ISP_DNS):
    out = [pkt_udp(t, cli, server, cport, 53, dns_query(qid, name, qtype))]
    count("dns.queries")
    if latency_us is None:
        count("dns.timeouts")
        FACTS.append("^dns %s %d .* id=%#06x timeout=1" % (cli, cport, qid))
    else:
        count("dns.responses")
        count("dns.failures", int(rcode != 0))
        FACTS.append("^dns %s %d .* id=%#06x rcode=%d latency_ms=%.6f"
                     % (cli, cport, qid, rcode, latency_us / 1000))
        out.append(pkt_udp(t + latency_us, server, cli, 53, cport,
                           dns_answer(qid, name, qtype, rcode, answers)))
    return out


def quic_session(t, cli, cport, srv, rng, n=40):
    """QUIC-ish: client Initial (1200 bytes, long header v1), server Initial/Handshake,
    then short-header 1-RTT packets mostly downstream."""
    dcid = bytes(rng.getrandbits(8) for _ in range(8))
    scid = bytes(rng.getrandbits(8) for _ in range(8))
    out = []

    def long_hdr(first, size):
        h = bytes([first]) + b"\x00\x00\x00\x01\x08" + dcid + b"\x08" + scid
        if first & 0x30 == 0:
            h += b"\x00"
        h += struct.pack("!H", 0x4000 | (size - len(h) - 2))
        return h + bytes(rng.getrandbits(8) for _ in range(size - len(h)))

    out.append(pkt_udp(t, cli, srv, cport, 443, long_hdr(0xC3, 1200)))
    t += 25000
    out.append(pkt_udp(t, srv, cli, 443, cport, long_hdr(0xC1, 1200)))
    out.append(pkt_udp(t + 200, srv, cli, 443, cport, long_hdr(0xE1, 1100)))
    t += 2000
    out.append(pkt_udp(t, cli, srv, cport, 443, long_hdr(0xC1, 1200)))
    for i in range(n):
        t += 3000 + rng.randint(0, 4000)
        up = i % 6 == 5
        data = bytes([0x40 | rng.getrandbits(3)]) + scid + \
            bytes(rng.getrandbits(8) for _ in range(60 if up else rng.randint(900, 1250)))
        out.append(pkt_udp(t, cli, srv, cport, 443, data) if up else
                   pkt_udp(t, srv, cli, 443, cport, data))
    return out


def rtp_hdr(pt, seq, ts, ssrc, marker=0):
    return struct.pack("!BBHII", 0x80, (marker << 7) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)


def rtp_stream(t, src, sport, dst, dport, pt, ssrc, first_seq, n, jitter_us, rng, drop=()):
    """G.711 (8 kHz, 20 ms, 160 bytes) packets i = 0..n-1 with arrival i*20 ms plus
    uniform(0, jitter) us; indexes in drop are lost. Returns (packets, expected, lost)."""
    out = []
    last = -1
    for i in range(n):
        if i in drop:
            continue
        at = t + i * 20000 + rng.randint(0, jitter_us)
        at = max(at, last + 1)
        last = at
        out.append(pkt_udp(at, src, dst, sport, dport,
                           rtp_hdr(pt, first_seq + i, 4000 + i * 160, ssrc, marker=int(i == 0)) +
                           bytes([0xFF if pt == 0 else 0xD5]) * 160))
    return out


def rtcp_sr(ssrc, ntp_s, rtp_ts, pkts, octets):
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, ntp_s, 0, rtp_ts, pkts, octets) + \
        struct.pack("!BBHI", 0x81, 202, 3, ssrc) + b"\x01\x03ph1\x00\x00\x00"  # SDES CNAME


def sip_msg(first, hdrs, sdp=b""):
    m = first + "\r\n" + "".join("%s: %s\r\n" % h for h in hdrs)
    m += "Content-Length: %d\r\n\r\n" % len(sdp)
    return m.encode() + sdp


def sdp(ip, port, pt):
    name = {0: "PCMU", 8: "PCMA"}[pt]
    return ("v=0\r\no=- 3900000000 3900000000 IN IP4 %s\r\ns=call\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP %d 101\r\na=rtpmap:%d %s/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n"
            % (ip, ip, port, pt, pt, name)).encode()


def sip_call(t, phone, proxy, media_far, callid, pt, secs, rng, ssrc_up, ssrc_down,
             jit_up, jit_down, drop_down=(), seq_up=1000, seq_down=50000, port_up=40000,
             port_down=30000):
    """A SIP call from the phone: INVITE with SDP, 100, 180, 200 with SDP, ACK, media both
    ways (with RTCP every 5 s), BYE, 200. Returns packets; records the RTP facts."""
    out = []
    user = "sip:%s@example.net" % callid[:4]
    base = [("Via", "SIP/2.0/UDP %s:5060;branch=z9hG4bK%s" % (phone, callid)),
            ("From", "<sip:alice@example.net>;tag=%s" % callid[:6]),
            ("To", "<%s>" % user), ("Call-ID", "%s@%s" % (callid, phone)),
            ("Max-Forwards", "70"), ("User-Agent", "gatewatch-gen/1")]
    to2 = ("To", "<%s>;tag=f%s" % (user, callid[:5]))

    def sig(tt, up, first, hdrs, body=b""):
        a, b = (phone, proxy) if up else (proxy, phone)
        ct = [("Content-Type", "application/sdp")] if body else []
        out.append(pkt_udp(tt, a, b, 5060, 5060, sip_msg(first, hdrs + ct, body)))

    inv = base + [("CSeq", "1 INVITE"), ("Contact", "<sip:alice@%s:5060>" % phone)]
    sig(t, True, "INVITE %s SIP/2.0" % user, inv, sdp(phone, port_up, pt))
    sig(t + 30000, False, "SIP/2.0 100 Trying", inv)
    sig(t + 400000, False, "SIP/2.0 180 Ringing", [h if h[0] != "To" else to2 for h in inv])
    t += 2500000
    sig(t, False, "SIP/2.0 200 OK", [h if h[0] != "To" else to2 for h in inv],
        sdp(media_far, port_down, pt))
    ackh = [h if h[0] != "To" else to2 for h in base] + [("CSeq", "1 ACK")]
    sig(t + 40000, True, "ACK %s SIP/2.0" % user, ackh)
    t += 60000
    n = secs * 50
    up = rtp_stream(t, phone, port_up, media_far, port_down, pt, ssrc_up, seq_up, n, jit_up, rng)
    down = rtp_stream(t + 7000, media_far, port_down, phone, port_up, pt, ssrc_down, seq_down, n,
                      jit_down, rng, drop=drop_down)
    out += up + down
    for k in range(1, secs // 5 + 1):
        tt = t + k * 5000000 + 3000
        out.append(pkt_udp(tt, phone, media_far, port_up + 1, port_down + 1,
                           rtcp_sr(ssrc_up, 3900000000 + k * 5, 4000 + k * 40000, k * 250, k * 40000)))
        out.append(pkt_udp(tt + 9000, media_far, phone, port_down + 1, port_up + 1,
                           rtcp_sr(ssrc_down, 3900000000 + k * 5, 4000 + k * 40000, k * 250, k * 40000)))
    t += n * 20000 + 100000
    bye = [h if h[0] != "To" else to2 for h in base] + [("CSeq", "2 BYE")]
    sig(t, True, "BYE %s SIP/2.0" % user, bye)
    sig(t + 35000, False, "SIP/2.0 200 OK", bye)
    # RTP cannot see a loss after its last packet: expected counts up to the last one received
    got = [i for i in range(n) if i not in drop_down]
    exp = got[-1] - got[0] + 1
    FACTS.append("^rtp %s %d %s %d ssrc=0x%08X pt=%d clock=8000 packets=%d expected=%d lost=0 "
                 % (phone, port_up, media_far, port_down, ssrc_up, pt, n, n))
    FACTS.append("^rtp %s %d %s %d ssrc=0x%08X pt=%d clock=8000 packets=%d expected=%d lost=%d "
                 % (media_far, port_down, phone, port_up, ssrc_down, pt, len(got), exp,
                    exp - len(got)))
    return out


def video_stream(t, srv, cli, secs, pps, rng):
    """MPEG-TS over UDP (7 x 188-byte TS packets per datagram, sync byte 0x47): an IPTV
    unicast stream with some arrival jitter."""
    out = []
    cc = 0
    for i in range(secs * pps):
        ts = b""
        for _ in range(7):
            ts += b"\x47\x01\x00" + bytes([0x10 | cc]) + bytes([rng.getrandbits(8)]) * 184
            cc = (cc + 1) & 0x0F
        out.append(pkt_udp(t + i * 1000000 // pps + rng.randint(0, 3000), srv, cli, 5004, 5004, ts))
    return out


def icmp_echo(t, src, dst, n, rtt_us, ident, size=56):
    out = []
    for i in range(n):
        data = bytes(range(size & 0xFF)) + bytes(max(0, size - 256))
        req = struct.pack("!BBHHH", 8, 0, 0, ident, i + 1) + data
        req = req[:2] + struct.pack("!H", csum(req)) + req[4:]
        rep = b"\x00" + req[1:2] + b"\0\0" + req[4:]
        rep = rep[:2] + struct.pack("!H", csum(rep)) + rep[4:]
        out.append(pkt_ip(t + i * 1000000, src, dst, 1, req, df=False))
        out.append(pkt_ip(t + i * 1000000 + rtt_us, dst, src, 1, rep, df=False))
    return out


def icmp_unreach(t, cli, srv, rng):
    """A UDP datagram to a closed port and the ICMP port-unreachable quoting it."""
    q = pkt_udp(t, cli, srv, 45000, 33434, b"\0" * 32)
    quoted = q.data[:28 + 32]
    m = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return [q, pkt_ip(t + 21000, srv, cli, 1, m, df=False)]


def icmp6(src, dst, typ, code, body):
    m = struct.pack("!BBH", typ, code, 0) + body
    c = csum(pseudo(src, dst, 58, len(m)) + m)
    return m[:2] + struct.pack("!H", c) + m[4:]


def ipv6_extras(t, rng):
    """ICMPv6 echo and neighbour discovery, an MLDv2 report (hop-by-hop router alert), a
    UDP datagram behind destination options + routing header, and a fragmented UDP
    datagram (fragment header), all on the home LAN's IPv6 prefix."""
    out = []
    me, far = "fd00:1::10", "2001:db8:80::80"
    for i in range(4):
        body = struct.pack("!HH", 0x77, i + 1) + bytes(48)
        out.append(pkt_ip(t + i * 1000000, me, far, 58, icmp6(me, far, 128, 0, body)))
        out.append(pkt_ip(t + i * 1000000 + 31000, far, me, 58, icmp6(far, me, 129, 0, body)))
    # neighbour solicitation to the router's solicited-node address
    tgt = addr("fd00:1::1")
    ns = icmp6(me, "ff02::1:ff00:1", 135, 0, b"\0\0\0\0" + tgt + b"\x01\x01" + HOME_MAC[16])
    out.append(Pkt(t + 5000, 0x86DD, ip6(me, "ff02::1:ff00:1", 58, ns, hlim=255), True, 16))
    # MLDv2 report behind hop-by-hop (router alert)
    mld = icmp6("fe80::10", "ff02::16", 143, 0, b"\0\0\0\x01" + b"\x04\x00\x00\x00" +
                addr("ff02::fb"))
    hbh = bytes([58, 0, 5, 2, 0, 0, 1, 0])
    out.append(Pkt(t + 6000, 0x86DD, ip6("fe80::10", "ff02::16", 0, hbh + mld, hlim=1), True, 16))
    # UDP behind destination options (PadN) and a type-0-free routing header (type 4, SRH-ish
    # with segments left 0, which every stack just skips)
    u = udp_seg(me, far, 46000, 7000, b"probe-ext" * 4)
    dst_opt = bytes([43, 0, 1, 4, 0, 0, 0, 0])
    rh = bytes([17, 2, 4, 0, 0, 0, 0, 0]) + addr(far)
    out.append(pkt_ip(t + 7000, me, far, 60, dst_opt + rh + u))
    # fragmented UDP (fragment header): 3000 bytes of payload in three fragments
    data = bytes(rng.getrandbits(8) for _ in range(3000))
    full = udp_seg(far, me, 7000, 46000, data)
    ident = rng.getrandbits(32)
    off = 0
    while off < len(full):
        part = full[off:off + 1232]
        more = off + len(part) < len(full)
        fh = struct.pack("!BBHI", 17, 0, off | (1 if more else 0), ident)
        out.append(pkt_ip(t + 40000 + off, far, me, 44, fh + part))
        off += len(part)
    return out


def ipv4_fragments(t, cli, srv, rng):
    """A 4000-byte UDP answer fragmented in three (MF, offsets), and a big ping in two."""
    out = []
    data = bytes(rng.getrandbits(8) for _ in range(4000))
    full = udp_seg(srv, cli, 9999, 41000, data)
    ident = rng.getrandbits(16)
    off = 0
    while off < len(full):
        part = full[off:off + 1480]
        more = off + len(part) < len(full)
        out.append(pkt_ip(t + off // 10, srv, cli, 17, part, df=False, ident=ident, frag=off,
                          mf=more))
        off += len(part)
    out.insert(0, pkt_udp(t - 30000, cli, srv, 41000, 9999, b"get big"))
    echo = struct.pack("!BBHHH", 8, 0, 0, 0x99, 1) + bytes(2000)
    echo = echo[:2] + struct.pack("!H", csum(echo)) + echo[4:]
    ident = rng.getrandbits(16)
    out.append(pkt_ip(t + 100000, cli, srv, 1, echo[:1480], df=False, ident=ident, mf=True))
    out.append(pkt_ip(t + 100010, cli, srv, 1, echo[1480:], df=False, ident=ident, frag=1480))
    return out


def arp(t, who, host):
    from scapy.all import ARP  # noqa: E402 (scapy is slow to import; only here)
    req = bytes(ARP(op=1, hwsrc=HOME_MAC[host], psrc=who, pdst="192.168.1.1"))
    rep = bytes(ARP(op=2, hwsrc=GW_MAC, psrc="192.168.1.1", hwdst=HOME_MAC[host], pdst=who))
    return [Pkt(t, 0x0806, req, True, host), Pkt(t + 400, 0x0806, rep, False, host)]


NAMES = [("www.wikipedia.org", "203.0.113.11", "2001:db8:11::11"),
         ("www.netflix.com", "203.0.113.12", None),
         ("www.youtube.com", "203.0.113.13", None),
         ("www.facebook.com", "203.0.113.14", "2001:db8:14::14"),
         ("www.example.com", "203.0.113.15", None),
         ("api.github.com", "203.0.113.16", None),
         ("www.bbc.co.uk", "203.0.113.17", None),
         ("www.amazon.com", "203.0.113.18", None)]


def web(t0, rng, span_s=80, port0=50000):
    """Browsing by three home hosts: DNS then HTTP or TLS per name, QUIC, one IPv6 site.
    Client ports start at port0 (distinct 5-tuples where two calls share a file)."""
    out = []
    port = port0
    qid = 0x1000
    t = t0
    for k in range(span_s // 5):
        host = ("192.168.1.10", "192.168.1.11", "192.168.1.12")[k % 3]
        name, v4, v6 = NAMES[k % len(NAMES)]
        port += 1
        qid += 1
        lat = 4000 + rng.randint(0, 30000)
        out += dns_exchange(t, host, port, name, qid, lat, answers=(v4,))
        t2 = t + lat + 500
        port += 1
        wan, lan = 8000 + rng.randint(0, 40000), 300 + rng.randint(0, 1500)
        if k % 4 == 1:
            out += tcp_session(t2, host, port, v4, 80, http_request(name, "/p%d" % k),
                               rng.randint(3000, 40000), wan, lan, rng, http_head(20000),
                               retransmit=(k == 5))
        elif k % 4 == 3:
            out += quic_session(t2, host, port, v4, rng)
        else:
            out += tcp_session(t2, host, port, v4, 443, tls_client_hello(name, rng),
                               rng.randint(5000, 120000), wan, lan, rng, tls_server_head(rng))
        t += 5000000
    # failures: NXDOMAIN, SERVFAIL, one query never answered, AAAA over IPv6
    out += dns_exchange(t0 + 1500000, "192.168.1.11", port0 + 3001, "nosuch.example", 0x7001, 18000,
                        rcode=3)
    out += dns_exchange(t0 + 2500000, "192.168.1.11", port0 + 3002, "broken.example.net", 0x7002,
                        45000, rcode=2)
    out += dns_exchange(t0 + 3500000, "192.168.1.12", port0 + 3003, "lost.example.org", 0x7003, None)
    out += dns_exchange(t0 + 4500000, "fd00:1::10", port0 + 3004, "www.wikipedia.org", 0x7004, 9000,
                        qtype=28, answers=("2001:db8:11::11",), server=ISP_DNS6)
    out += tcp_session(t0 + 4600000, "fd00:1::10", port0 + 3100, "2001:db8:11::11", 443,
                       tls_client_hello("www.wikipedia.org", rng), 30000, 15000, 800, rng,
                       tls_server_head(rng))
    out += tcp_session(t0 + 6000000, "fd00:1::10", port0 + 3101, "2001:db8:14::14", 80,
                       http_request("www.facebook.com"), 9000, 16000, 700, rng, http_head(9000))
    out += tcp_refused(t0 + 7000000, "192.168.1.10", port0 + 3200, "203.0.113.15", 8443, 12000)
    return out


def home_mix(rng):
    """Everything of mixed.pcap (packets)."""
    pk = web(T0, rng)
    pk += sip_call(T0 + 10000000, "192.168.1.13", "203.0.113.60", "203.0.113.61",
                           "a84b4c76e66710", 0, 30, rng, 0x5A5A0001, 0x5A5A0002, 2000, 12000,
                           drop_down={100, 500, 501, 502, 900, 1300, 1499})
    pk += video_stream(T0 + 20000000, "203.0.113.200", "192.168.1.12", 60, 50, rng)
    pk += icmp_echo(T0 + 3000000, "192.168.1.10", "203.0.113.1", 10, 14000, 0x42)
    pk += icmp_unreach(T0 + 8000000, "192.168.1.10", "203.0.113.15", rng)
    pk += ipv6_extras(T0 + 9000000, rng)
    pk += ipv4_fragments(T0 + 11000000, "192.168.1.11", "198.51.100.99", rng)
    pk += arp(T0 + 500, "192.168.1.10", 10) + arp(T0 + 60000000, "192.168.1.13", 13)
    return pk


def voip(rng):
    a = sip_call(T0, "192.168.1.13", "203.0.113.60", "203.0.113.61", "77c3b2a9d0e511",
                     0, 20, rng, 0x11110001, 0x11110002, 3000, 15000,
                     drop_down={10, 11, 12, 300, 999})
    b = sip_call(T0 + 5000000, "192.168.1.14", "203.0.113.60", "203.0.113.62",
                     "9e1f00aa43c2b7", 8, 10, rng, 0x22220001, 0x22220002, 1000, 6000,
                     drop_down={250}, seq_down=65400, port_up=41000, port_down=31000)
    return a + b


# ---- malformed packets ------------------------------------------------------------------------
def malformed_agree(rng):
    """Bad packets on which tshark's view (IP or not, IP bytes) and decode.c's agree.
    Each entry: (ethertype or None for a raw frame, bytes)."""
    t = T0
    cli, srv = "192.168.1.10", "203.0.113.15"
    good = udp_seg(cli, srv, 40001, 9, b"x" * 20)
    syn = tcp_seg(cli, srv, 40002, 80, 1, 0, SYN)
    out = []

    def add(etype, data, up=True):
        nonlocal t
        t += 10000
        out.append(Pkt(t, etype, data, up, 10))

    add(0x0800, ip4(cli, srv, 17, good))                              # one good one first
    v5 = bytearray(ip4(cli, srv, 17, good))
    v5[0] = 0x55
    add(0x0800, bytes(v5))                                            # IP version 5
    v6in4 = bytearray(ip4(cli, srv, 17, good))
    v6in4[0] = 0x65
    add(0x0800, bytes(v6in4))                                         # version 6 in 0x0800
    add(0x0800, ip4(cli, srv, 17, good, options=b"\x94\x04\x00\x00"))  # router alert option
    add(0x0800, ip4(cli, srv, 17, good, options=b"\x01\x01\x01\x00"))  # NOPs + EOL
    bad_off = bytearray(ip4(cli, srv, 6, syn))
    bad_off[20 + 12] = 0x30                                           # TCP data offset 3
    add(0x0800, bytes(bad_off))
    add(0x0800, ip4(cli, srv, 6, syn[:10]))                           # TCP header cut (L4)
    add(0x0800, ip4(cli, srv, 17, good[:5]))                          # UDP header cut
    ulen = bytearray(good)
    ulen[4:6] = b"\x00\x03"                                           # UDP length 3 < 8
    add(0x0800, ip4(cli, srv, 17, bytes(ulen)))
    ulen2 = bytearray(good)
    ulen2[4:6] = b"\x04\x00"                                          # UDP length > packet
    add(0x0800, ip4(cli, srv, 17, bytes(ulen2)))
    add(0x0800, ip4(cli, srv, 1, b"\x08"))                            # 1-byte ICMP
    add(0x0800, ip4(cli, srv, 253, b"experimental"))                  # unknown protocol
    add(0x0800, ip4(cli, srv, 17, good, ttl=0))                       # TTL 0
    z = bytearray(ip4(cli, srv, 17, good))
    z[10:12] = b"\x12\x34"                                            # bad header checksum
    add(0x0800, bytes(z))
    # DNS: compression loop, label past the end, qdcount 200 with one question
    loop = struct.pack("!HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    add(0x0800, ip4(cli, ISP_DNS, 17, udp_seg(cli, ISP_DNS, 40003, 53, loop)))
    past = struct.pack("!HHHHHH", 0x5152, 0x0100, 1, 0, 0, 0) + b"\x3fabc"
    add(0x0800, ip4(cli, ISP_DNS, 17, udp_seg(cli, ISP_DNS, 40004, 53, past)))
    many = struct.pack("!HHHHHH", 0x5153, 0x8180, 200, 200, 0, 0) + dns_name("a.example") + \
        b"\x00\x01\x00\x01"
    add(0x0800, ip4(ISP_DNS, cli, 17, udp_seg(ISP_DNS, cli, 53, 40005, many)), up=False)
    # SIP and RTP look-alikes that are broken
    add(0x0800, ip4(cli, srv, 17, udp_seg(cli, srv, 5060, 5060,
                                          b"INVITE sip:x SIP/2.0\r\nContent-Length: 999999\r\n\r\nv=0\r\nm=audio 99999 RTP/AVP 0\r\nc=IN IP4 999.1.1.1\r\n")))
    add(0x0800, ip4(cli, srv, 17, udp_seg(cli, srv, 40006, 40008, b"\x80")))  # 1-byte "RTP"
    # TLS record claiming 64 KB, HTTP with no end of headers
    add(0x0800, ip4(cli, srv, 6, tcp_seg(cli, srv, 40007, 443, 5, 1, PSH | ACK,
                                         b"\x16\x03\x01\xff\xff\x01\xff\xff\xff")))
    add(0x0800, ip4(cli, srv, 6, tcp_seg(cli, srv, 40009, 80, 5, 1, PSH | ACK,
                                         b"GET / HTTP/1.1\r\nHost: " + b"a" * 300)))
    # IPv6: payload length 0 with no next header, unknown next header, jumbo-free HBH padding
    add(0x86DD, ip6("fd00:1::10", "2001:db8::1", 59, b""))
    add(0x86DD, ip6("fd00:1::10", "2001:db8::1", 253, b"experimental"))
    add(0x86DD, ip6("fd00:1::10", "2001:db8::1", 0, bytes([59, 0, 1, 4, 0, 0, 0, 0])))
    # non-IP: unknown ethertype, LLDP-ish, a runt frame, a cut 802.1Q tag
    add(0x88B5, b"local experimental ethertype payload")
    add(0x88CC, b"\x02\x07\x04" + GW_MAC + b"\x00\x00")
    add(None, b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a")           # 10-byte runt
    add(None, GW_MAC + HOME_MAC[10] + b"\x81\x00\x00")               # cut VLAN tag
    add(None, GW_MAC + HOME_MAC[10] + b"\x08\x00")                   # 0x0800, no bytes
    add(0x0800, ip4(cli, srv, 17, good))                              # and a good one last
    return out


def malformed_divergent():
    """Bad packets tshark and decode.c legitimately see differently (documented in
    test_decode_tshark.sh): IPv4 total length < header length, an IP header cut by the
    capture, an IPv6 extension header running past the payload length."""
    cli, srv = "192.168.1.10", "203.0.113.15"
    good = udp_seg(cli, srv, 40001, 9, b"y" * 20)
    out = []
    t = T0
    for etype, data in (
            (0x0800, ip4(cli, srv, 17, good, total=12)),                    # bad_ip_len
            (0x0800, ip4(cli, srv, 17, good)[:16]),                         # trunc_ip
            (0x86DD, ip6("fd00:1::10", "2001:db8::1", 17, udp_seg("fd00:1::10", "2001:db8::1", 1, 2, b"z" * 8))[:30]),
            (0x86DD, ip6("fd00:1::10", "2001:db8::1", 0, bytes([17, 8]) + bytes(6), plen=8))):  # bad_ipv6_ext
        t += 10000
        out.append(Pkt(t, etype, data, True, 10))
    return out


# ---- link layers and file formats -------------------------------------------------------------
def ether(p, tags=(), pad=True):
    src, dst = (HOME_MAC.get(p.host, HOME_MAC[10]), GW_MAC) if p.up else \
        (GW_MAC, HOME_MAC.get(p.host, HOME_MAC[10]))
    if p.etype is None:
        return p.data
    f = dst + src + b"".join(struct.pack("!HH", tp, vid) for tp, vid in tags) + \
        struct.pack("!H", p.etype) + p.data
    if pad and not p.up and len(f) < 60:
        f += b"\0" * (60 - len(f))              # Ethernet padding (a trailer after IP)
    return f


def sll(p):
    if p.etype is None:
        return None
    ptype = 4 if p.up else 0
    mac = HOME_MAC.get(p.host, HOME_MAC[10]) if p.up else GW_MAC
    return struct.pack("!HHH", ptype, 1, 6) + mac + b"\0\0" + struct.pack("!H", p.etype) + p.data


def null(p):
    """DLT_NULL (BSD loopback): the address family in host (here little-endian) order."""
    if p.etype not in (0x0800, 0x86DD):
        return None
    return struct.pack("<I", 2 if p.etype == 0x0800 else 30) + p.data


def tunnels(t, rng):
    """IPv6 in IPv4 (6in4, protocol 41: a home's tunnel broker) and IPv4 in IPv4 (protocol
    4): the outer header is what counts (the design's IP-layer bytes)."""
    out = []
    inner = tcp_session(t, "2001:db8:6::10", 44000, "2001:db8:80::80", 80,
                        http_request("www.example.org"), 5000, 20000, 500, rng, http_head(5000))
    for p in inner:
        src, dst = ("192.168.1.10", "198.51.100.41") if p.up else ("198.51.100.41", "192.168.1.10")
        out.append(pkt_ip(p.t, src, dst, 41, p.data, df=False))
    inner = tcp_session(t + 2000000, "10.99.0.10", 44001, "10.99.1.80", 80,
                        http_request("intranet.example"), 3000, 15000, 500, rng, http_head(3000))
    for p in inner:
        src, dst = ("192.168.1.10", "203.0.113.44") if p.up else ("203.0.113.44", "192.168.1.10")
        out.append(pkt_ip(p.t, src, dst, 4, p.data, df=False))
    return out


def spliced(rng):
    """Three pieces of browsing whose timestamps jump forward by 3 hours and by 2 years, as
    spliced captures do: intervals must not be emitted for the empty time between."""
    out = web(T0, rng, span_s=10)
    out += [Pkt(p.t + 3 * 3600 * 1000000, p.etype, p.data, p.up, p.host)
            for p in web(T0, rng, span_s=10, port0=51000)]
    out += [Pkt(p.t + 2 * 365 * 86400 * 1000000, p.etype, p.data, p.up, p.host)
            for p in web(T0, rng, span_s=10, port0=52000)]
    return out


def pppoe(p, sid, tags=()):
    if p.etype not in (0x0800, 0x86DD):
        return ether(p, tags)
    proto = 0x0021 if p.etype == 0x0800 else 0x0057
    body = struct.pack("!BBHHH", 0x11, 0, sid, len(p.data) + 2, proto) + p.data
    return ether(Pkt(p.t, 0x8864, body, p.up, p.host), tags)


def pppoe_discovery(t, host):
    def tlv(typ, val):
        return struct.pack("!HH", typ, len(val)) + val
    out = []
    for i, (code, sid, up, tags) in enumerate((
            (0x09, 0, True, tlv(0x0101, b"") + tlv(0x0103, b"\x00\x01")),
            (0x07, 0, False, tlv(0x0102, b"isp-bras-1") + tlv(0x0101, b"") + tlv(0x0104, b"c00kie")),
            (0x19, 0, True, tlv(0x0101, b"") + tlv(0x0104, b"c00kie")),
            (0x65, 0x1234, False, tlv(0x0101, b"")))):
        body = struct.pack("!BBHH", 0x11, code, sid, len(tags)) + tags
        out.append(Pkt(t + i * 3000, 0x8863, body, up, host))
    return out


class PcapWriter:
    """Classic pcap, microsecond timestamps, little endian."""
    def __init__(self, path, linktype=1, snaplen=262144):
        self.f = open(path, "wb")
        self.snaplen = snaplen
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        self.n = 0

    def add(self, t_us, frame):
        cap = frame[:self.snaplen]
        self.f.write(struct.pack("<IIII", t_us // 1000000, t_us % 1000000, len(cap), len(frame)))
        self.f.write(cap)
        self.n += 1

    def close(self):
        self.f.close()


class PcapngWriter:
    """pcapng: section header, one Ethernet interface (microsecond resolution), EPBs."""
    def __init__(self, path):
        self.f = open(path, "wb")
        opt = self.opt(4, b"gatewatch gen_traffic.py") + b"\0\0\0\0"   # shb_userappl
        self.block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opt)
        idb_opt = self.opt(2, b"home0") + self.opt(9, b"\x06") + b"\0\0\0\0"
        self.block(1, struct.pack("<HHI", 1, 0, 262144) + idb_opt)
        self.n = 0

    @staticmethod
    def opt(code, val):
        return struct.pack("<HH", code, len(val)) + val + b"\0" * (-len(val) % 4)

    def block(self, typ, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        self.f.write(struct.pack("<II", typ, n) + body + struct.pack("<I", n))

    def add(self, t_us, frame):
        self.block(6, struct.pack("<IIIII", 0, t_us >> 32, t_us & 0xFFFFFFFF, len(frame),
                                  len(frame)) + frame)
        self.n += 1

    def close(self):
        self.f.close()


def frames(pkts, link=ether):
    """(time us, frame bytes) of packets through a link-layer function (None: left out)."""
    out = []
    for p in pkts:
        f = link(p)
        if f is not None:
            out.append((p.t, f))
    return out


def write(path, pkts, link=ether, **kw):
    """Writes packets (or (time, frame) pairs) in time order; .pcapng names get pcapng."""
    fr = pkts if pkts and isinstance(pkts[0], tuple) else frames(pkts, link)
    w = PcapngWriter(path) if path.endswith(".pcapng") else PcapWriter(path, **kw)
    for t, f in sorted(fr, key=lambda x: x[0]):
        w.add(t, f)
    w.close()
    return w.n


def main_corpus(out, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "divergent"), exist_ok=True)
    lines = []

    def done(name, n, what):
        lines.append("file %s packets=%d %s" % (name, n, what))

    def expect(name):
        c = dict(COUNT)
        FACTS.append(" tcp.handshakes=%d .* tcp.retransmits=%d " % (c.get("tcp.handshakes", 0),
                                                                  c.get("tcp.retransmits", 0)))
        FACTS.append(" dns.queries=%d dns.responses=%d dns.failures=%d dns.timeouts=%d " % tuple(
            c.get(k, 0) for k in ("dns.queries", "dns.responses", "dns.failures", "dns.timeouts")))
        lines.extend("expect %s %s" % (name, f) for f in FACTS)
        FACTS.clear()
        COUNT.clear()

    FACTS.clear()
    COUNT.clear()
    mix = home_mix(rng)
    done("mixed.pcap", write(os.path.join(out, "mixed.pcap"), mix), "ethernet home mix")
    expect("mixed.pcap")
    vo = voip(rng)
    done("voip.pcap", write(os.path.join(out, "voip.pcap"), vo), "two SIP calls")
    expect("voip.pcap")
    h2 = web(T0 + 2000000, random.Random(seed + 8), span_s=60, port0=40000) + \
        voip(random.Random(seed + 9)) + icmp_echo(T0 + 1000000, "192.168.1.20", "198.51.100.1",
                                                  30, 22000, 0x43)
    FACTS.clear()
    COUNT.clear()
    done("home2.pcap", write(os.path.join(out, "home2.pcap"), h2), "a second home: web + calls")
    done("vlan.pcap", write(os.path.join(out, "vlan.pcap"), mix,
                            link=lambda p: ether(p, ((0x8100, 101),))), "802.1Q 101")
    webpk = web(T0, random.Random(seed + 1), span_s=30)
    done("qinq_8021ad.pcap", write(os.path.join(out, "qinq_8021ad.pcap"), webpk,
                                   link=lambda p: ether(p, ((0x88A8, 200), (0x8100, 10)))),
         "802.1ad 200 + 802.1Q 10")
    done("qinq_stacked.pcap", write(os.path.join(out, "qinq_stacked.pcap"), webpk,
                                    link=lambda p: ether(p, ((0x8100, 300), (0x8100, 20)))),
         "802.1Q 300 + 802.1Q 20")
    pp = pppoe_discovery(T0 - 100000, 10) + web(T0, random.Random(seed + 2), span_s=20)
    qq = web(T0 + 30000000, random.Random(seed + 3), span_s=10, port0=60000)
    n = write(os.path.join(out, "pppoe.pcap"),
              frames(pp, lambda p: pppoe(p, 0x1234)) +
              frames(qq, lambda p: pppoe(p, 0x2001, ((0x8100, 400), (0x8100, 30)))))
    done("pppoe.pcap", n, "PPPoE discovery + sessions, PPPoE in Q-in-Q")
    sl = web(T0, random.Random(seed + 4), span_s=20) + voip(random.Random(seed + 5))
    done("sll.pcap", write(os.path.join(out, "sll.pcap"), sl, link=sll, linktype=113),
         "DLT_LINUX_SLL")
    done("null.pcap", write(os.path.join(out, "null.pcap"), web(T0, random.Random(seed + 10),
                                                                span_s=15), link=null, linktype=0),
         "DLT_NULL")
    done("tunnels.pcap", write(os.path.join(out, "tunnels.pcap"),
                               tunnels(T0, random.Random(seed + 11))), "6in4 and IP-in-IP")
    done("spliced.pcap", write(os.path.join(out, "spliced.pcap"), spliced(random.Random(seed + 12))),
         "time jumps of 3 h and 2 years")
    done("mixed.pcapng", write(os.path.join(out, "mixed.pcapng"),
                               web(T0, random.Random(seed + 6), span_s=40)), "pcapng")
    done("snaplen.pcap", write(os.path.join(out, "snaplen.pcap"), mix, snaplen=64), "snaplen 64")
    cut = os.path.join(out, "cut.pcap")
    write(cut, web(T0, random.Random(seed + 7), span_s=15))
    size = os.path.getsize(cut)
    with open(cut, "r+b") as f:            # cut inside the data of a late packet
        f.truncate(size - 300)
    done("cut.pcap", 0, "cut mid-packet at byte %d of %d" % (size - 300, size))
    done("malformed.pcap", write(os.path.join(out, "malformed.pcap"), malformed_agree(rng)),
         "malformed, tshark agrees")
    done("divergent/malformed_divergent.pcap",
         write(os.path.join(out, "divergent", "malformed_divergent.pcap"),
               malformed_divergent()), "documented divergences")
    FACTS.clear()
    with open(os.path.join(out, "MANIFEST"), "w") as f:
        f.write("# written by tests/tools/gen_traffic.py, seed %d\n" % seed)
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main_big(path, npk, seed):
    """Copies of the IPv4 part of the home mix side by side (copy k XORs k into the second
    and third octets of both addresses, like many homes at once) until NPKTS packets, in
    time order; for throughput benchmarks."""
    mix = home_mix(random.Random(seed))
    fr = sorted(frames([p for p in mix if p.etype == 0x0800]), key=lambda x: x[0])
    copies = max(1, -(-npk // len(fr)))
    w = PcapWriter(path + ".tmp")
    t = T0
    last = fr[0][0]
    for dt, f in fr:
        t += max(dt - last, copies)
        last = dt
        for k in range(copies):
            if w.n >= npk:
                break
            b = bytearray(f)
            for a in (26, 30):
                b[a + 1] ^= (k >> 8) & 0xFF
                b[a + 2] ^= k & 0xFF
            b[24:26] = b"\0\0"
            b[24:26] = struct.pack("!H", csum(bytes(b[14:14 + (b[14] & 0x0F) * 4])))
            w.add(t + k, bytes(b))
    w.close()
    os.replace(path + ".tmp", path)
    print("packets %d copies %d" % (w.n, copies))


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "--big":
        main_big(a[1], int(a[2]), int(a[3]) if len(a) > 3 else 1)
    elif len(a) in (1, 2) and not a[0].startswith("-"):
        main_corpus(a[0], int(a[1]) if len(a) > 1 else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
