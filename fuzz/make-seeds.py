#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fixtures/fuzz/TARGET/seed-*.

Each seed is a well-formed input in the layout its target reads (see Sources/ShadowFuzzTargets and
Sources/ShadowCapture/CaptureFuzzing.swift), made from the committed capture and fixtures, so the
fuzzer starts from real traffic. Run from the repository root: python3 fuzz/make-seeds.py
"""
import gzip
import json
import os
import struct

ROOT = "fixtures/fuzz"


def write(target, name, data):
    os.makedirs(f"{ROOT}/{target}", exist_ok=True)
    with open(f"{ROOT}/{target}/seed-{name}", "wb") as f:
        f.write(data)


def pcap_frames(path):
    data = open(path, "rb").read()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic in (0xA1B2C3D4, 0xA1B23C4D) and linktype == 1, "expects a little-endian Ethernet pcap"
    at, frames = 24, []
    while at + 16 <= len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[at:at + 16])
        frames.append(data[at + 16:at + 16 + caplen])
        at += 16 + caplen
    return frames


def packet_input(selector, frames):
    return bytes([selector]) + b"".join(struct.pack(">H", len(f)) + b"\x01" + f for f in frames)


def packet_seeds():
    frames = pcap_frames("captures/sample.pcap")
    write("packet-decoding", "ethernet-connection", packet_input(0, frames[:14]))
    ipv4 = [f[14:] for f in frames[:14]]
    write("packet-decoding", "raw-ip", packet_input(4, ipv4))
    write("packet-decoding", "ipv4", packet_input(5, ipv4))
    write("packet-decoding", "bsd-loopback", packet_input(3, [b"\x02\x00\x00\x00" + f for f in ipv4]))
    sll = [b"\x00\x00\x03\x04\x00\x06" + b"\x00" * 8 + b"\x08\x00" + f for f in ipv4]
    write("packet-decoding", "linux-sll", packet_input(1, sll))
    vlan = [f[:12] + b"\x81\x00\x00\x07" + f[12:] for f in frames[:14]]
    write("packet-decoding", "ethernet-vlan", packet_input(0, vlan))


def tcp_op(kind, offset, payload=b""):
    return bytes([kind]) + struct.pack(">I", offset) + bytes([len(payload)]) + payload


def tcp_seeds():
    isn = struct.pack(">I", 0xFFFFFF00)  # wraps around the sequence space
    text = b"POST /openrtb2/auction HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    write("tcp-reassembly", "in-order", isn + tcp_op(0, 0, text[:30]) + tcp_op(0, 30, text[30:]) + tcp_op(3, len(text)))
    write("tcp-reassembly", "out-of-order", isn + tcp_op(0, 30, text[30:]) + tcp_op(0, 0, text[:30]))
    write("tcp-reassembly", "overlap", isn + tcp_op(0, 0, text[:40]) + tcp_op(0, 20, text[20:]))
    write("tcp-reassembly", "acknowledged-hole", isn + tcp_op(0, 40, text[40:]) + tcp_op(2, 60) + tcp_op(3, 80))


def requests():
    bodies = [open(f"fixtures/requests/{n}", "rb").read() for n in sorted(os.listdir("fixtures/requests"))[:3]]
    post = [b"POST /openrtb2/auction HTTP/1.1\r\nHost: bidder\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(b), b) for b in bodies]
    chunked = (b"POST /bid?x=1 HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;ext=1\r\n{\"a\":\r\n2\r\n1}\r\n0\r\nX-Trailer: t\r\n\r\n")
    return post, chunked


def http_seeds():
    post, chunked = requests()
    write("http1-request", "post", b"\x07" + post[0])
    write("http1-request", "pipelined", b"\x2a" + b"GET /status HTTP/1.1\r\nHost: b\r\n\r\n" + post[1] + post[2])
    write("http1-request", "chunked", b"\x11" + chunked)
    write("http1-request", "upgrade", b"\x03" + b"GET /ws HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    write("http1-request", "http10", b"\x05" + b"GET / HTTP/1.0\r\n\r\n\r\nHEAD /x HTTP/1.1\r\nHost: b\r\n\r\n")
    bid = open("fixtures/encoding/bid.json", "rb").read()
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(bid), bid)
    # The method byte: two bits per expected request, GET=0 HEAD=1 POST=2 CONNECT=3.
    write("http1-response", "ok-and-no-bid", b"\x0a\x07" + ok + b"HTTP/1.1 204 No Content\r\n\r\n")
    write("http1-response", "chunked-trailers", b"\x00\x13" + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"4;x=y\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-T: 1\r\n\r\n")
    write("http1-response", "head-and-continue", b"\x01\x21" + b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
          b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    write("http1-response", "close-delimited", b"\x00\x05" + b"HTTP/1.0 200 OK\r\n\r\n{\"seatbid\":[]}")
    write("http1-response", "connect", b"\x03\x09" + b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01")


def json_seeds():
    bid = json.load(open("fixtures/encoding/bid.json"))
    left = json.dumps(bid).encode()
    changed = json.loads(json.dumps(bid))
    for seat in changed.get("seatbid", []):
        for b in seat.get("bid", []):
            b["price"] = b.get("price", 1) * 1.5
            b["crid"] = "other-creative"
    right = json.dumps(changed).encode()
    write("json-diff", "price-and-creative", b"\x00" + left + b"\xff" + right)
    write("json-diff", "bid-and-no-bid", b"\x02" + left + b"\xff")
    gz = open("fixtures/encoding/bid.json.gz", "rb").read()
    write("json-diff", "gzip", b"\x01" + gz + b"\xff" + gzip.compress(right, mtime=0))
    write("json-diff", "nested", b"\x00" + b"[" * 40 + b"1" + b"]" * 40 + b"\xff" + b'{"a":[1,2,{"b":null}],"c":"\\u00e9"}')


def rules_seeds():
    for name in sorted(os.listdir("fixtures/rules")):
        if name.endswith((".yaml", ".json")) and name != "reference.json":
            write("rules", name.replace(".", "-"), open(f"fixtures/rules/{name}", "rb").read())


def protobuf_input(message, descriptor=None, type_name=""):
    if descriptor is None:
        return b"\x00" + message
    name = type_name.encode()
    return b"\x01" + bytes([len(name)]) + name + struct.pack(">I", len(descriptor))[1:] + descriptor + message


def protobuf_seeds():
    proto = lambda name: open(f"fixtures/proto/{name}", "rb").read()
    openrtb, test = proto("openrtb.pb"), proto("shadowtest.pb")
    write("protobuf", "schemaless-bidresponse", protobuf_input(proto("bidresponse.bin")))
    write("protobuf", "schemaless-legacy-group", protobuf_input(proto("legacy.bin")))
    write("protobuf", "openrtb-bidresponse", protobuf_input(proto("bidresponse.bin"), openrtb, "com.iabtechlab.openrtb.v2.BidResponse"))
    write("protobuf", "openrtb-bidrequest", protobuf_input(proto("bidrequest.bin"), openrtb, "com.iabtechlab.openrtb.v2.BidRequest"))
    write("protobuf", "test-scalars", protobuf_input(proto("scalars.bin"), test, "shadowdiff.test.Scalars"))
    write("protobuf", "test-collections", protobuf_input(proto("collections.bin"), test, "shadowdiff.test.Collections"))
    write("protobuf", "test-legacy", protobuf_input(proto("legacy.bin"), test, "shadowdiff.test2.Legacy"))


packet_seeds()
tcp_seeds()
http_seeds()
json_seeds()
rules_seeds()
protobuf_seeds()
