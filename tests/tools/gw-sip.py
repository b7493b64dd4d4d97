#!/usr/bin/python3
"""gw-sip.py: a bounded SIP call generator for the lab (stdlib only).

  gw-sip.py serve --bind IP [--port 5060] --seconds N
  gw-sip.py call --server IP [--port 5060] --local IP --seconds N [--calls K] [--label L]

A call is a real SIP exchange over UDP: INVITE with an SDP offer (PCMU, PT 0)
-> 100 Trying, 180 Ringing, 200 OK with the SDP answer -> ACK; then RTP both
ways between the SDP ports, one 160-byte PCMU payload every 20 ms (RTP
timestamp +160, as a real phone sends); then BYE -> 200 OK. Requests are
retransmitted as RFC 3261 timer A does (0.5 s doubling, up to 7 times), so
a lossy path still sets the call up; the server answers retransmissions
with its last response.

The server sends its RTP to the address its first RTP packet came from
(symmetric RTP, what servers behind NAT-ed clients do: the SDP offer carries
the home's private address). Everything stops by itself after --seconds.
Each side prints one JSON line per call: RTP packets sent and received,
received-side loss (RFC 3550: expected - received) and the setup time.
"""
import argparse
import json
import random
import select
import socket
import struct
import sys
import threading
import time

RTP_PT = 0          # PCMU
RTP_PAYLOAD = 160   # 20 ms of 8 kHz G.711
RTP_GAP_S = 0.020
T1 = 0.5            # RFC 3261 timer T1
MAX_TRIES = 7
PRINT_LOCK = threading.Lock()


def emit(obj):
    with PRINT_LOCK:
        print(json.dumps(obj, sort_keys=True), flush=True)


def parse_sip(data):
    """(first line, headers dict lower-case -> value, body) or None when not SIP."""
    try:
        text = data.decode("utf-8", "replace")
    except Exception:
        return None
    head, sep, body = text.partition("\r\n\r\n")
    if not sep:
        return None
    lines = head.split("\r\n")
    if not lines or "SIP/2.0" not in lines[0]:
        return None
    hdrs = {}
    for ln in lines[1:]:
        k, s, v = ln.partition(":")
        if s:
            hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs, body


def sdp(addr, port, sess_id):
    return ("v=0\r\n"
            "o=gw %d 1 IN IP4 %s\r\n"
            "s=gatewatch lab call\r\n"
            "c=IN IP4 %s\r\n"
            "t=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=ptime:20\r\n"
            "a=sendrecv\r\n") % (sess_id, addr, addr, port)


def sdp_media(body):
    """(address, port) of the first audio m= line, or None."""
    addr = port = None
    for ln in body.splitlines():
        if ln.startswith("c=IN IP4 "):
            addr = ln[9:].strip()
        elif ln.startswith("m=audio "):
            try:
                port = int(ln.split()[1])
            except (IndexError, ValueError):
                return None
    if addr is None or port is None or not 0 < port < 65536:
        return None
    return addr, port


class RtpStats:
    """Received-side RTP figures (RFC 3550 A.1 without wrap handling past one cycle)."""

    def __init__(self):
        self.received = 0
        self.base = None
        self.highest = None
        self.cycles = 0

    def add(self, data):
        if len(data) < 12 or data[0] >> 6 != 2:
            return False
        seq = struct.unpack("!H", data[2:4])[0]
        self.received += 1
        if self.base is None:
            self.base = self.highest = seq
            return True
        if 0 < (seq - self.highest) % 65536 < 3000:
            if seq < self.highest:
                self.cycles += 65536
            self.highest = seq
        return True

    def expected(self):
        if self.base is None:
            return 0
        return self.cycles + self.highest - self.base + 1

    def lost(self):
        return max(0, self.expected() - self.received)


def rtp_run(sock, peer, seconds, latch, stopped):
    """Sends RTP to peer every 20 ms for seconds (or until stopped() is true) and counts
    what comes in.

    With latch, sending starts only when the first packet arrives and goes to its source.
    Returns (sent, RtpStats)."""
    st = RtpStats()
    ssrc = random.getrandbits(32)
    seq = random.getrandbits(16)
    ts = random.getrandbits(32)
    sent = 0
    t0 = time.monotonic()
    end = t0 + seconds
    nxt = t0
    sock.setblocking(False)
    while True:
        now = time.monotonic()
        if now >= end or stopped():
            break
        if peer is not None and now >= nxt:
            hdr = struct.pack("!BBHII", 0x80, RTP_PT, seq, ts, ssrc)
            try:
                sock.sendto(hdr + b"\xff" * RTP_PAYLOAD, peer)
                sent += 1
            except OSError:
                pass
            seq = (seq + 1) & 0xffff
            ts = (ts + RTP_PAYLOAD) & 0xffffffff
            nxt += RTP_GAP_S
            if nxt < now - 1:     # descheduled for a long time: do not burst
                nxt = now
            continue
        wait = max(0.0, min(end, nxt if peer is not None else end) - now)
        r, _, _ = select.select([sock], [], [], min(wait, 0.1))
        while r:
            try:
                data, src = sock.recvfrom(2048)
            except BlockingIOError:
                break
            if st.add(data) and latch and peer is None:
                peer = src
                nxt = time.monotonic()
    return sent, st


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, bind, port, seconds):
        self.bind = bind
        self.port = port
        self.stop_at = time.monotonic() + seconds
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.calls = {}          # Call-ID -> dict
        self.next_rtp = 30000
        self.bad = 0

    def reply(self, src, hdrs, code, reason, body="", tag=None):
        to = hdrs.get("to", "")
        if tag and ";tag=" not in to:
            to += ";tag=" + tag
        msg = ("SIP/2.0 %d %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
               "CSeq: %s\r\nContact: <sip:lab@%s:%d>\r\nServer: gw-sip\r\n") % (
            code, reason, hdrs.get("via", ""), hdrs.get("from", ""), to,
            hdrs.get("call-id", ""), hdrs.get("cseq", ""), self.bind, self.port)
        if body:
            msg += "Content-Type: application/sdp\r\n"
        msg += "Content-Length: %d\r\n\r\n%s" % (len(body), body)
        data = msg.encode()
        self.sock.sendto(data, src)
        return data

    def media(self, cid, call):
        sent, st = rtp_run(call["rtp"], None, self.stop_at - time.monotonic(), True,
                           lambda: call["stop"])
        call["rtp"].close()
        emit({"type": "sip_call", "side": "server", "call_id": cid,
              "rtp_sent": sent, "rtp_received": st.received,
              "rtp_expected": st.expected(), "rtp_lost": st.lost()})

    def handle(self, data, src):
        m = parse_sip(data)
        if m is None:
            self.bad += 1
            return
        first, hdrs, body = m
        cid = hdrs.get("call-id")
        method = first.split(" ", 1)[0]
        if not cid or first.startswith("SIP/2.0"):
            return
        call = self.calls.get(cid)
        if method == "INVITE":
            if call is not None:       # retransmission: repeat the last answer
                self.sock.sendto(call["last"], src)
                return
            if sdp_media(body) is None:
                self.reply(src, hdrs, 488, "Not Acceptable Here")
                return
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            while True:
                try:
                    rtp.bind((self.bind, self.next_rtp))
                    break
                except OSError:
                    self.next_rtp += 2
            port = self.next_rtp
            self.next_rtp += 2
            tag = "%08x" % random.getrandbits(32)
            call = {"rtp": rtp, "tag": tag, "stop": False, "started": False}
            self.calls[cid] = call
            self.reply(src, hdrs, 100, "Trying")
            self.reply(src, hdrs, 180, "Ringing", tag=tag)
            call["last"] = self.reply(src, hdrs, 200, "OK",
                                      sdp(self.bind, port, random.getrandbits(31)), tag=tag)
        elif method == "ACK":
            if call is not None and not call["started"]:
                call["started"] = True
                call["thread"] = threading.Thread(target=self.media, args=(cid, call),
                                                  daemon=True)
                call["thread"].start()
        elif method == "BYE":
            self.reply(src, hdrs, 200, "OK")
            if call is not None:
                call["stop"] = True
                if not call["started"]:
                    call["rtp"].close()
                    call["started"] = True
        else:
            self.reply(src, hdrs, 405, "Method Not Allowed")

    def run(self):
        while True:
            left = self.stop_at - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], min(left, 0.5))
            if r:
                data, src = self.sock.recvfrom(65535)
                self.handle(data, src)
        for c in self.calls.values():
            c["stop"] = True
            if "thread" in c:
                c["thread"].join(2)
        emit({"type": "sip_server", "calls": len(self.calls), "bad_messages": self.bad})


# ---------------------------------------------------------------- client

def transact(sock, server, msg, want_method, deadline):
    """Sends msg with timer-A retransmissions until a final response for want_method.

    Returns (final status code, its parsed message, seconds taken) or (None, None, t)."""
    t0 = time.monotonic()
    tries = 0
    gap = T1
    nxt = t0
    while tries <= MAX_TRIES and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= nxt:
            sock.sendto(msg, server)
            tries += 1
            nxt = now + gap
            gap *= 2
        r, _, _ = select.select([sock], [], [], max(0.0, min(nxt, deadline) - time.monotonic()))
        if not r:
            continue
        data, _ = sock.recvfrom(65535)
        m = parse_sip(data)
        if m is None or not m[0].startswith("SIP/2.0 "):
            continue
        try:
            code = int(m[0].split()[1])
        except (IndexError, ValueError):
            continue
        if not m[1].get("cseq", "").endswith(want_method) or code < 200:
            continue
        return code, m, time.monotonic() - t0
    return None, None, time.monotonic() - t0


def one_call(args, k, result):
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind((args.local, 0))
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((args.local, 40000 + 2 * k))
    lport = sip.getsockname()[1]
    rport = rtp.getsockname()[1]
    server = (args.server, args.port)
    cid = "%08x-%d@%s" % (random.getrandbits(32), k, args.local)
    ftag = "%08x" % random.getrandbits(32)
    branch = "z9hG4bK%08x" % random.getrandbits(32)
    via = "SIP/2.0/UDP %s:%d;branch=%s" % (args.local, lport, branch)
    uri = "sip:echo@%s:%d" % (args.server, args.port)
    frm = "<sip:%s@%s>;tag=%s" % (args.label, args.local, ftag)
    to = "<%s>" % uri
    body = sdp(args.local, rport, random.getrandbits(31))
    inv = ("INVITE %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:%s@%s:%d>\r\n"
           "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s") % (
        uri, via, frm, to, cid, args.label, args.local, lport, len(body), body)
    stop_at = time.monotonic() + args.seconds
    out = {"type": "sip_call", "side": "client", "label": args.label, "call": k,
           "call_id": cid}
    code, m, took = transact(sip, server, inv.encode(), "INVITE", stop_at)
    out["invite_status"] = code
    out["setup_ms"] = round(took * 1000, 1)
    media = sdp_media(m[2]) if code == 200 else None
    if media is None:
        out["error"] = "no 200 OK with SDP"
        result.append(out)
        emit(out)
        return
    to_tag = m[1].get("to", to)
    ack = ("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%08x\r\nMax-Forwards: 70\r\n"
           "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (
        uri, args.local, lport, random.getrandbits(32), frm, to_tag, cid)
    sip.sendto(ack.encode(), server)
    # The 200 OK may be retransmitted (our ACK lost): answered below only at the end.
    sent, st = rtp_run(rtp, media, stop_at - time.monotonic() - 1.0, False, lambda: False)
    bye = ("BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%08x\r\nMax-Forwards: 70\r\n"
           "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n") % (
        uri, args.local, lport, random.getrandbits(32), frm, to_tag, cid)
    bcode, _, _ = transact(sip, server, bye.encode(), "BYE", time.monotonic() + 4)
    out.update({"bye_status": bcode, "rtp_sent": sent, "rtp_received": st.received,
                "rtp_expected": st.expected(), "rtp_lost": st.lost(),
                "media": "%s:%d" % media})
    result.append(out)
    emit(out)
    sip.close()
    rtp.close()


def main():
    ap = argparse.ArgumentParser(description="bounded SIP calls with RTP (lab)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, default=5060)
    s.add_argument("--seconds", type=float, required=True)
    c = sub.add_parser("call")
    c.add_argument("--server", required=True)
    c.add_argument("--port", type=int, default=5060)
    c.add_argument("--local", required=True, help="this host's address (SDP c=)")
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--calls", type=int, default=1)
    c.add_argument("--label", default="lab")
    a = ap.parse_args()
    if not 0 < a.seconds <= 3600:
        ap.error("--seconds must be in (0, 3600]")
    if a.cmd == "serve":
        Server(a.bind, a.port, a.seconds).run()
        return 0
    if not 1 <= a.calls <= 20:
        ap.error("--calls must be 1..20")
    if a.seconds < 3:
        ap.error("a call needs --seconds >= 3")
    res = []
    threads = [threading.Thread(target=one_call, args=(a, k, res)) for k in range(a.calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(1 for r in res if r.get("invite_status") == 200)
    return 0 if ok == a.calls else 1


if __name__ == "__main__":
    sys.exit(main())
