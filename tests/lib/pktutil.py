"""pktutil.py: packet helpers shared by the capture generators (gen_traffic.py, gen_attacks.py).

They import it with tests/lib on sys.path (set from their own file's location, so any cwd
works). Plain stdlib; no scapy.
"""
import ipaddress
import struct


def csum(data):
    """The Internet checksum (RFC 1071) of data; an odd length is padded with a zero byte."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def addr(a):
    """The 4 or 16 network-order bytes of the IPv4 or IPv6 address text a."""
    return ipaddress.ip_address(a).packed
