#!/usr/bin/env python3
"""Seed corpus for the `pipeline` fuzz target from real captures.

usage: fuzz/make-seeds.py OUTDIR CAPTURE...   (pcapng and gzip are converted with editcap)

Each seed is the target's input format (see fuzz_targets/pipeline.rs): a link-type selector,
then the capture's first frames as [gap seconds][len u16 BE][bytes], at most 150 frames and
48 KiB, so the fuzzer starts from real handshakes, STUN, DTLS, QUIC, RTP, SIP and Zoom packets.
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


def main():
    outdir, captures = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    made = 0
    for c in captures:
        try:
            s = seed(classic_pcap(c))
        except subprocess.CalledProcessError:
            continue
        if s:
            name = c.replace("/", "_").lstrip("._")
            open(os.path.join(outdir, name), "wb").write(s)
            made += 1
    print(f"{made} seeds from {len(captures)} captures in {outdir}")


if __name__ == "__main__":
    main()
