#!/usr/bin/env python3
"""Writes the hand-made seed inputs into fuzz/corpus/TARGET/seed-*.

Run once before fuzzing a target the first time (libFuzzer grows the corpus
from them); `cargo fuzz cmin` may drop seeds whose coverage others have.
Sources: the golden messages captured from FRR and BIRD
(bgpd/src/wire/tests/golden_captured.rs), conf/bgpd.toml, and hand-encoded
API requests. Deterministic."""
import os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "corpus")

def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

# Captured messages without marker: length (2), type (1), body.
CAPTURED = {
    "frr_open": "00630104fdea00b4c0000202460206010400010001020280000202020002024600020641040000fdea020206000206450400010101020b490907667272706565720002044002c0780209470700010180000000",
    "bird_open": "00350104fde900f0c000020118021601040001000102004002007841040000fde946004700",
    "bird_update_communities": "0046020000002a4001010040020602010000fde9400304c0000201c00804fde9002ac0200c0000fde900000007000000081acb007100",
    "bird_update_plain": "003002000000144001010040020602010000fde9400304c000020119c6336480",
    "bird_update_ipv6": "005b0200000044900e002c0002012020010db8000000000000000000000001fe800000000000009022c5fffe0abf3d003020010db802004001010040020602010000fde9c00804fde90042",
    "end_of_rib_ipv4": "00170200000000",
    "end_of_rib_ipv6": "001d0200000006800f03000201",
    "keepalive": "001304",
    "notification_cease": "0015030602",
    "route_refresh": "00170500010001",
}

def decode_seeds():
    for name, text in CAPTURED.items():
        raw = bytes.fromhex(text)
        frame = b"\xff" * 16 + raw
        # The decode targets take [type] + body (they build the header).
        body_form = raw[2:3] + raw[3:]
        for target in ("decode_default", "decode_four_octet", "decode_extended_add_path"):
            write(target, name, body_form)
        write("frame_length", name, frame)

def layer2_seeds():
    mac = bytes.fromhex("020000000001")
    arp = (b"\xff" * 6 + mac + b"\x08\x06" + bytes.fromhex("0001080006040001") + mac
           + bytes([192, 0, 2, 1]) + b"\x00" * 6 + bytes([192, 0, 2, 10]))
    write("layer2_frames", "arp_request", arp)
    # Ethernet + IPv6 (hop limit 255) + ICMPv6 neighbour solicitation for
    # 2001:db8::10 with a source link-layer address option.
    src = bytes.fromhex("20010db8000000000000000000000001")
    target = bytes.fromhex("20010db8000000000000000000000010")
    dst = bytes.fromhex("ff0200000000000000000001ff000010")
    icmp = bytes([135, 0, 0, 0]) + b"\x00" * 4 + target + bytes([1, 1]) + mac
    ipv6 = bytes.fromhex("60000000") + struct.pack(">H", len(icmp)) + bytes([58, 255]) + src + dst
    write("layer2_frames", "ndp_solicitation", bytes.fromhex("3333ff000010") + mac + b"\x86\xdd" + ipv6 + icmp)

def bfd_seeds():
    # Version 1, state Down, multiplier 3, length 24, discriminators, 300 ms.
    down = bytes([0x20, 0x40, 3, 24]) + struct.pack(">IIIII", 1, 0, 300000, 300000, 0)
    up = bytes([0x20, 0xC0, 3, 24]) + struct.pack(">IIIII", 1, 2, 300000, 300000, 0)
    write("bfd_control", "down", down)
    write("bfd_control", "up", up)

def config_seeds():
    write("config", "example", b"\x80\x00\x00\x00")
    write("config", "example_hold_time", b"\x80\x00\x60\x10hold_time = 2\n")
    minimal = b'[global]\nasn = 65001\nrouter_id = "192.0.2.1"\n\n[[neighbors]]\naddress = "192.0.2.2"\nremote_asn = 65002\n'
    write("config", "minimal", b"\x00" + minimal)

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(tag, value):
    if isinstance(value, int):
        return varint(tag << 3) + varint(value)
    return varint(tag << 3 | 2) + varint(len(value)) + value

def api_seeds():
    path = (field(1, b"198.51.100.0/24") + field(2, b"192.0.2.7") + field(4, 1)
            + field(5, field(1, 2) + field(2, varint(65001) + varint(65002)))
            + field(6, 10) + field(8, b"65001:7") + field(8, b"no-export")
            + field(9, b"65001:1:2") + field(10, b"rt:65001:100") + field(11, b"192.0.2.2"))
    path6 = field(1, b"2001:db8:1::/48") + field(2, b"2001:db8::7") + field(3, b"fe80::1")
    write("api", "set_paths", b"\x00" + field(1, b"fuzz") + field(2, path) + field(2, path6))
    write("api", "add_paths", b"\x01" + field(1, b"fuzz") + field(2, path))
    write("api", "delete_paths", b"\x02" + field(1, b"fuzz") + field(2, b"198.51.100.0/24"))
    peer = (field(1, b"192.0.2.2") + field(2, 65002) + field(6, b"secret") + field(8, 90)
            + field(9, 30) + field(14, 1) + field(15, b"fuzz peer"))
    write("api", "add_peer", b"\x03" + field(1, peer))
    write("api", "update_peer", b"\x04" + field(1, peer))
    write("api", "set_announcements", b"\x05" + field(1, b"fuzz")
          + field(2, field(1, b"192.0.2.10") + field(2, b"eth0")))

def update_model_seeds():
    # xorshift64 bytes: arbitrary turns them into varied models.
    x = 0x9E3779B97F4A7C15
    for length in (64, 256, 1024):
        out = bytearray()
        for _ in range(length):
            x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
            x ^= x >> 7
            x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
            out.append(x & 0xFF)
        write("update_model", "random_%d" % length, bytes(out))

decode_seeds(); layer2_seeds(); bfd_seeds(); config_seeds(); api_seeds(); update_model_seeds()
