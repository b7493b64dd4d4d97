#!/usr/bin/python3
"""gw-dns.py: a bounded UDP DNS resolver and query generator for the lab (stdlib only).

  gw-dns.py serve --bind IP [--port 53] --seconds N [--slow-ms 200] [--answer 203.0.113.11]
  gw-dns.py query --server IP [--port 53] --seconds N [--rate QPS] [--slow-every K]
                  [--nx-every M] [--label L]

Server zone (class IN, any name):
  *.slow.lab   A --answer, sent after --slow-ms (a slow upstream)
  *.nx.lab     NXDOMAIN (RCODE 3)
  any other    A --answer (qtype A), or NOERROR without answers (other qtypes)
Malformed datagrams are counted and dropped, never answered.

The query generator sends --rate queries per second from one socket (one flow, as a
stub resolver does): every K-th name is under slow.lab, every M-th under nx.lab, the
rest plain; it waits up to 2 s for each answer. It prints one JSON line: sent,
answered, nxdomain, timeouts and the mean latency per kind, as the client saw it.
"""
import argparse
import heapq
import json
import random
import select
import socket
import struct
import sys
import time


def qname_parse(msg, off):
    """(lower-case dotted name, offset after it); raises ValueError on a bad name."""
    labels = []
    total = 0
    while True:
        if off >= len(msg):
            raise ValueError("name past end")
        n = msg[off]
        if n & 0xc0:
            raise ValueError("compression in question")
        off += 1
        if n == 0:
            break
        if off + n > len(msg):
            raise ValueError("label past end")
        total += n + 1
        if total > 255:
            raise ValueError("name too long")
        labels.append(msg[off:off + n].decode("ascii", "replace").lower())
        off += n
    return ".".join(labels), off


def qname_build(name):
    out = b""
    for lab in name.strip(".").split("."):
        out += bytes([len(lab)]) + lab.encode()
    return out + b"\x00"


def answer(query, slow_ms, addr):
    """(delay seconds, response bytes) for a query datagram; None if malformed."""
    if len(query) < 12:
        return None
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", query[:12])
    if flags & 0x8000 or qd != 1 or (flags >> 11) & 0xf != 0:
        return None
    try:
        name, off = qname_parse(query, 12)
    except ValueError:
        return None
    if off + 4 > len(query):
        return None
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    rd = flags & 0x0100
    delay = 0.0
    rcode = 0
    answers = b""
    if name.endswith(".nx.lab") or name == "nx.lab":
        rcode = 3
    elif qtype == 1 and qclass == 1:
        answers = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(addr))
    if name.endswith(".slow.lab"):
        delay = slow_ms / 1000.0
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1,
                      1 if answers else 0, 0, 0)
    return delay, hdr + question + answers


def serve(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.bind, a.port))
    sock.setblocking(False)
    end = time.monotonic() + a.seconds
    pending = []   # (due, seq, response, dst)
    seq = 0
    st = {"type": "dns_server", "queries": 0, "answered": 0, "nxdomain": 0, "slow": 0,
          "malformed": 0}
    while True:
        now = time.monotonic()
        if now >= end:
            break
        while pending and pending[0][0] <= now:
            _, _, resp, dst = heapq.heappop(pending)
            sock.sendto(resp, dst)
            st["answered"] += 1
        wait = min(end, pending[0][0] if pending else end) - now
        r, _, _ = select.select([sock], [], [], max(0.0, min(wait, 0.5)))
        if not r:
            continue
        try:
            data, src = sock.recvfrom(4096)
        except BlockingIOError:
            continue
        st["queries"] += 1
        res = answer(data, a.slow_ms, a.answer)
        if res is None:
            st["malformed"] += 1
            continue
        delay, resp = res
        if resp[3] & 0xf == 3:
            st["nxdomain"] += 1
        if delay > 0:
            st["slow"] += 1
        seq += 1
        heapq.heappush(pending, (time.monotonic() + delay, seq, resp, src))
    print(json.dumps(st, sort_keys=True), flush=True)
    return 0


def query(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((a.server, a.port))
    sock.setblocking(False)
    gap = 1.0 / a.rate
    t0 = time.monotonic()
    end = t0 + a.seconds
    nxt = t0
    k = 0
    outstanding = {}   # id -> (sent time, kind)
    kinds = ("plain", "slow", "nx")
    lat = {x: [] for x in kinds}
    st = {"type": "dns_client", "label": a.label, "sent": 0, "answered": 0, "nxdomain": 0,
          "timeouts": 0}
    while True:
        now = time.monotonic()
        for qid in [q for q, (ts, _) in outstanding.items() if now - ts > 2.0]:
            del outstanding[qid]
            st["timeouts"] += 1
        if now >= end + 2.0 or (now >= end and not outstanding):
            break
        if now >= nxt and now < end:
            k += 1
            if a.nx_every and k % a.nx_every == 0:
                kind, name = "nx", "n%d.nx.lab" % k
            elif a.slow_every and k % a.slow_every == 0:
                kind, name = "slow", "s%d.slow.lab" % k
            else:
                kind, name = "plain", "www%d.%s.lab" % (k, a.label)
            qid = random.getrandbits(16)
            while qid in outstanding:
                qid = random.getrandbits(16)
            msg = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname_build(name) + \
                struct.pack("!HH", 1, 1)
            try:
                sock.send(msg)
                outstanding[qid] = (time.monotonic(), kind)
                st["sent"] += 1
            except OSError:
                pass
            nxt += gap
            continue
        wait = (nxt if now < end else end + 2.0) - now
        r, _, _ = select.select([sock], [], [], max(0.0, min(wait, 0.2)))
        if not r:
            continue
        try:
            data = sock.recv(4096)
        except (BlockingIOError, ConnectionRefusedError):
            continue
        if len(data) < 12:
            continue
        qid = struct.unpack("!H", data[:2])[0]
        if qid not in outstanding:
            continue
        ts, kind = outstanding.pop(qid)
        st["answered"] += 1
        if data[3] & 0xf == 3:
            st["nxdomain"] += 1
        lat[kind].append((time.monotonic() - ts) * 1000)
    for x in kinds:
        st["latency_ms_" + x] = round(sum(lat[x]) / len(lat[x]), 2) if lat[x] else None
        st["answered_" + x] = len(lat[x])
    print(json.dumps(st, sort_keys=True), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description="bounded DNS resolver / query generator (lab)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, default=53)
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--slow-ms", type=float, default=200)
    s.add_argument("--answer", default="203.0.113.11")
    q = sub.add_parser("query")
    q.add_argument("--server", required=True)
    q.add_argument("--port", type=int, default=53)
    q.add_argument("--seconds", type=float, required=True)
    q.add_argument("--rate", type=float, default=2)
    q.add_argument("--slow-every", type=int, default=5)
    q.add_argument("--nx-every", type=int, default=25)
    q.add_argument("--label", default="lab")
    a = ap.parse_args()
    if not 0 < a.seconds <= 3600:
        ap.error("--seconds must be in (0, 3600]")
    if a.cmd == "serve":
        if not 0 <= a.slow_ms <= 10000:
            ap.error("--slow-ms must be 0..10000")
        return serve(a)
    if not 0.1 <= a.rate <= 200:
        ap.error("--rate must be 0.1..200 queries/s")
    return query(a)


if __name__ == "__main__":
    sys.exit(main())
