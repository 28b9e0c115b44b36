#!/usr/bin/env python3
"""Build a large benchmark capture from the real captures in ../shared/captures.

usage: benches/make-bench-capture.py [--mb 110] [--out benches/data/bench.pcap] [--shared ../shared]
                                    [--only tcp|udp] [--shape mixed|call]

Every Ethernet frame of every shared capture (pcap, pcapng, gzip) is copied into one classic
little-endian microsecond pcap, file after file, then the whole corpus again and again until
the output reaches --mb megabytes. Each repetition rewrites the IP addresses (the second byte of
IPv4 addresses, the second byte of IPv6 addresses) so that every repetition adds new flows
rather than replaying old ones, and shifts time forward so that flows of one repetition are
idle when the next begins, as in a long real capture. Payloads are untouched; IP checksums are
not recomputed (callproof, like Zeek, does not verify them).

--shape call builds what a long test call looks like instead: only the shared captures of
conferencing clients (Zoom, Webex, Meet, Teams, WhatsApp, Signal, Snapchat, Viber, LINE, SIP/RTP,
STUN/DTLS/SRTP), each frame once as captured (signalling, DNS, TLS handshakes), then their UDP
frames again and again on the same addresses, time moving on, as a call's media flows go on:
the flows stay those of the captures (a few hundred) and grow long. Each capture's frames are
squeezed into at most two seconds a round, so that no flow idles out between rounds. RTP
sequence numbers and timestamps repeat with each round; addresses and payloads are untouched.
"""
import argparse, glob, gzip, os, struct, sys


def frames(path):
    """(ts_us, bytes) of every Ethernet frame in a pcap/pcapng file, gzip or not."""
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        ns = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        if struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF != 1:
            return
        off = 24
        while off + 16 <= len(data):
            s, sub, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
            if off + 16 + incl > len(data):
                return
            yield s * 1_000_000 + (sub // 1000 if ns else sub), data[off + 16:off + 16 + incl]
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        off, e, ifaces = 0, "<", []
        while off + 12 <= len(data):
            if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12 or off + blen > len(data):
                return
            if btype == 1:
                lt = struct.unpack(e + "H", data[off + 8:off + 10])[0]
                res = 6
                opt = off + 16
                while opt + 4 <= off + blen - 4:
                    code, olen = struct.unpack(e + "HH", data[opt:opt + 4])
                    if code == 0:
                        break
                    if code == 9 and olen >= 1:
                        res = data[opt + 4]
                    opt += 4 + ((olen + 3) & ~3)
                ifaces.append((lt, res))
            elif btype == 6:
                iface, hi, lo, cap = struct.unpack(e + "IIII", data[off + 8:off + 24])
                if iface < len(ifaces) and ifaces[iface][0] == 1:
                    res = ifaces[iface][1]
                    ticks = (hi << 32) | lo
                    per_sec = 10 ** res if res < 128 else 2 ** (res & 0x7F)
                    yield ticks * 1_000_000 // per_sec, data[off + 28:off + 28 + cap]
            off += blen


def transport(frame):
    """6 for TCP, 17 for UDP, None otherwise (Ethernet, VLAN-aware, IPv4/IPv6 without options)."""
    off, et = 14, struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
    while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
        et, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
    if et == 0x0800 and len(frame) >= off + 20:
        return frame[off + 9]
    if et == 0x86DD and len(frame) >= off + 40:
        return frame[off + 6]
    return None


def rewrite(frame, rep):
    """Shift the addresses of an Ethernet/IPv4 or IPv6 frame (VLAN-aware) by `rep`."""
    b = bytearray(frame)
    off, et = 14, struct.unpack("!H", b[12:14])[0] if len(b) >= 14 else 0
    while et in (0x8100, 0x88A8) and len(b) >= off + 4:
        et, off = struct.unpack("!H", b[off + 2:off + 4])[0], off + 4
    if et == 0x0800 and len(b) >= off + 20:
        for a in (off + 13, off + 17):
            b[a] = (b[a] + rep) & 0xFF
    elif et == 0x86DD and len(b) >= off + 40:
        for a in (off + 9, off + 25):
            b[a] = (b[a] + rep) & 0xFF
    return bytes(b)


# file name parts of the shared captures made by conferencing clients or carrying their media
CALL_CAPTURES = ("zoom", "webex", "meet", "teams", "msteams", "whatsapp", "wa_call", "signal",
                 "snapchat", "viber", "line", "sip", "rtp", "stun", "dtls", "webrtc", "skype")


# a conferencing capture's longest span in a call-shaped capture: its frames keep their order and
# spacing, squeezed into this many microseconds (some test files span years)
CALL_ROUND_SPAN_US = 2_000_000


def is_call_capture(path):
    name = os.path.basename(path).lower()
    return any(part in name for part in CALL_CAPTURES)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=110)
    ap.add_argument("--out", default="benches/data/bench.pcap")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--only", choices=("tcp", "udp"), help="keep only TCP or only UDP frames")
    ap.add_argument("--shape", choices=("mixed", "call"), default="mixed",
                    help="mixed: every capture, new addresses each round; call: see above")
    a = ap.parse_args()
    call = a.shape == "call"
    corpus = []
    for sub in ("ndpi", "zeek", "wireshark", "other/zoom-analysis"):
        for p in sorted(glob.glob(os.path.join(a.shared, "captures", sub, "*"))):
            if p.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")) and (
                    not call or is_call_capture(p)):
                fs = list(frames(p))
                if a.only:
                    want = 6 if a.only == "tcp" else 17
                    fs = [(t, f) for t, f in fs if transport(f) == want]
                if fs:
                    t0 = fs[0][0]
                    # clamp odd clocks (a few test files jump by years) to one day
                    fs = [(min(max(t - t0, 0), 86_400_000_000), f) for t, f in fs]
                    span = max(t for t, _ in fs)
                    if call and span > CALL_ROUND_SPAN_US:
                        # squeezed, so that no media flow idles out between two rounds
                        fs = [(t * CALL_ROUND_SPAN_US // span, f) for t, f in fs]
                    corpus.append(fs)
    if not corpus:
        sys.exit(f"no captures found under {a.shared}/captures")
    if call and not any(transport(f) == 17 for fs in corpus for _, f in fs):
        sys.exit("no UDP frames to repeat in the conferencing captures")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    limit = int(a.mb * 1_000_000)
    written, count, rep = 24, 0, 0
    clock = 1_700_000_000 * 1_000_000
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while written < limit:
            for fs in corpus:
                for rel, f in fs:
                    t = clock + max(rel, 0)
                    if call:
                        # after the first round, a call's media goes on: UDP only, same addresses
                        if rep > 0 and transport(f) != 17:
                            continue
                    else:
                        f = rewrite(f, rep)
                    out.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(f), len(f)))
                    out.write(f)
                    written += 16 + len(f)
                    count += 1
                clock += max(fs[-1][0], 0) + 1_000
            # mixed: an hour between repetitions (old flows expire); call: the media goes on
            clock += 1_000_000 if call else 3_600 * 1_000_000
            rep += 1
    os.replace(tmp, a.out)
    print(f"{a.out}: {count} frames, {written / 1e6:.1f} MB, {rep} repetitions of {len(corpus)} captures")


main()
