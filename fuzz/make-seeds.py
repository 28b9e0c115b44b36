#!/usr/bin/env python3
"""Seed corpus for the `pipeline` fuzz target from real captures.

usage: fuzz/make-seeds.py OUTDIR CAPTURE...   (pcapng and gzip are converted with editcap)

Each seed is the target's input format (see fuzz_targets/pipeline.rs): a link-type selector,
then the capture's first frames as [gap seconds][len u16 BE][bytes], at most 150 frames and
48 KiB, so the fuzzer starts from real handshakes, STUN, DTLS, QUIC, RTP, SIP and Zoom packets.

A second seed per Ethernet capture (name ending `.long`) starts with its first IPv4 UDP datagram
sent 260 times (a SIP request shortened to its request line), then its first frames: that flow
is past the 256 datagrams a UDP flow is inspected for, so its later DNS or SIP messages take the
path of decided flows.
"""
import os, struct, subprocess, sys, tempfile

SELECTOR = {1: 0, 101: 1, 113: 2, 0: 3}
MAX_FRAMES, MAX_BYTES = 150, 48 * 1024


def classic_pcap(path):
    with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as t:
        tmp = t.name
    try:
        subprocess.run(["editcap", "-F", "pcap", path, tmp], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return open(tmp, "rb").read()
    finally:
        os.unlink(tmp)


def seed(data):
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None or len(data) < 24:
        return None
    link = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    if link not in SELECTOR:
        return None
    out, at, last, n = bytearray([SELECTOR[link]]), 24, None, 0
    while at + 16 <= len(data) and n < MAX_FRAMES:
        secs, _, incl, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + incl][:65535]
        at += 16 + incl
        if len(out) + 3 + len(frame) > MAX_BYTES:
            break
        gap = 0 if last is None else max(0, min(255, secs - last))
        last = secs
        out += bytes([gap]) + struct.pack(">H", len(frame)) + frame
        n += 1
    return bytes(out) if n else None


REPEATS = 260


def frames_of(data):
    """(link type, [(secs, frame)]) of a classic pcap, or None."""
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(data[:4])
    if endian is None or len(data) < 24:
        return None
    link = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    frames, at = [], 24
    while at + 16 <= len(data):
        secs, _, incl, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        frames.append((secs, data[at + 16:at + 16 + incl][:65535]))
        at += 16 + incl
    return link, frames


def shortened(frame):
    """An Ethernet/IPv4/UDP frame with its payload cut to a SIP request line, lengths fixed."""
    ihl = (frame[14] & 0x0F) * 4
    udp = 14 + ihl
    payload = frame[udp + 8:]
    line = payload.split(b"\r\n", 1)[0]
    if not line.endswith(b"SIP/2.0"):
        return frame
    payload = line + b"\r\n\r\n"
    ip = bytearray(frame[14:udp])
    struct.pack_into(">H", ip, 2, ihl + 8 + len(payload))
    struct.pack_into(">H", ip, 10, 0)
    total = sum(struct.unpack(">%dH" % (ihl // 2), bytes(ip)))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into(">H", ip, 10, ~total & 0xFFFF)
    header = struct.pack(">HHHH", *struct.unpack(">HH", frame[udp:udp + 4]), 8 + len(payload), 0)
    return frame[:14] + bytes(ip) + header + payload


def long_flow_seed(data):
    parsed = frames_of(data)
    if parsed is None or parsed[0] != 1:
        return None
    frames = parsed[1]
    first = next((f for _, f in frames if len(f) > 34 and f[12:14] == b"\x08\x00"
                  and f[14] >> 4 == 4 and f[23] == 17), None)
    if first is None:
        return None
    repeated = shortened(first)
    if REPEATS * (3 + len(repeated)) > MAX_BYTES // 2:
        return None
    out = bytearray([SELECTOR[1]])
    for _ in range(REPEATS):
        out += b"\x00" + struct.pack(">H", len(repeated)) + repeated
    last = None
    for secs, frame in frames[:MAX_FRAMES]:
        if len(out) + 3 + len(frame) > MAX_BYTES:
            break
        gap = 0 if last is None else max(0, min(255, secs - last))
        last = secs
        out += bytes([gap]) + struct.pack(">H", len(frame)) + frame
    return bytes(out)


def main():
    outdir, captures = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    made = 0
    for c in captures:
        try:
            s = seed(classic_pcap(c))
        except subprocess.CalledProcessError:
            continue
        name = c.replace("/", "_").lstrip("._")
        if s:
            open(os.path.join(outdir, name), "wb").write(s)
            made += 1
        long = long_flow_seed(classic_pcap(c))
        if long:
            open(os.path.join(outdir, name + ".long"), "wb").write(long)
            made += 1
    print(f"{made} seeds from {len(captures)} captures in {outdir}")


if __name__ == "__main__":
    main()
