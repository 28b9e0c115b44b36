#!/usr/bin/env python3
"""Make captures/aiortc-dtls-keylog.pcap: three real peer-to-peer WebRTC audio calls between two
aiortc peers (ICE over this host's address, DTLS 1.2, Opus over SRTP), one per SRTP protection
profile aiortc offers (AEAD_AES_256_GCM, AEAD_AES_128_GCM, AES128_CM_HMAC_SHA1_80), captured
with tcpdump on lo, and beside it:

- captures/aiortc-dtls-keylog.keys: the NSS key log OpenSSL wrote for every DTLS session
  (CLIENT_RANDOM <client random> <master secret>), through pyOpenSSL's keylog callback;
- captures/aiortc-dtls-keylog.expected: what aiortc and libsrtp did, never callproof's output:
  per call the negotiated profile and cipher, and per sent RTP stream (SSRC) the number of
  packets aiortc handed to libsrtp and the SHA-256 of their plaintext payloads, concatenated
  in sending order. Media decrypted with the key log must reproduce these digests.

usage (root, for tcpdump on lo; needs `pip install aiortc` and tcpdump):
    python3 captures/make-aiortc-dtls-keylog.py
"""
import asyncio, hashlib, math, os, subprocess, sys, tempfile, time

import av
from aiortc import RTCConfiguration, RTCPeerConnection, rtcdtlstransport
from aiortc.mediastreams import AudioStreamTrack

OUT = "captures/aiortc-dtls-keylog.pcap"
KEYS = "captures/aiortc-dtls-keylog.keys"
EXP = "captures/aiortc-dtls-keylog.expected"
SECONDS = 2
PROFILES = [
    rtcdtlstransport.SRTP_AEAD_AES_256_GCM,
    rtcdtlstransport.SRTP_AEAD_AES_128_GCM,
    rtcdtlstransport.SRTP_AES128_CM_SHA1_80,
]

keylog_lines = []
sent = {}  # ssrc -> [packets, sha256 of payloads in sending order]

original_context = rtcdtlstransport.RTCCertificate._create_ssl_context


def context_with_keylog(self, *args, **kwargs):
    ctx = original_context(self, *args, **kwargs)
    ctx.set_keylog_callback(lambda _conn, line: keylog_lines.append(line.decode()))
    return ctx


rtcdtlstransport.RTCCertificate._create_ssl_context = context_with_keylog

original_send_rtp = rtcdtlstransport.RTCDtlsTransport._send_rtp


def rtp_payload(packet):
    """The payload of a plaintext RTP packet (RFC 3550 §5.1, §5.3.1), padding removed."""
    cc = packet[0] & 0x0F
    offset = 12 + 4 * cc
    if packet[0] & 0x10:
        length = int.from_bytes(packet[offset + 2 : offset + 4], "big")
        offset += 4 + 4 * length
    end = len(packet)
    if packet[0] & 0x20:
        end -= packet[-1]
    return packet[offset:end]


async def send_rtp_recording(self, data):
    # RTCP goes through the same method (aiortc's is_rtcp: second byte 192..223)
    if self._state == rtcdtlstransport.State.CONNECTED and not 192 <= data[1] <= 223:
        ssrc = int.from_bytes(data[8:12], "big")
        entry = sent.setdefault(ssrc, [0, hashlib.sha256()])
        entry[0] += 1
        entry[1].update(rtp_payload(data))
    return await original_send_rtp(self, data)


rtcdtlstransport.RTCDtlsTransport._send_rtp = send_rtp_recording


class Tone(AudioStreamTrack):
    """A sine tone, 20 ms frames of 48 kHz mono s16 (each stream its own pitch, so that each
    stream's payload digest is its own)."""

    def __init__(self, hz):
        super().__init__()
        self.hz = hz
        self.samples = 0

    async def recv(self):
        frame = await super().recv()  # paced silence frame with the right timestamps
        n = frame.samples
        data = bytearray()
        for i in range(n):
            v = int(8000 * math.sin(2 * math.pi * self.hz * (self.samples + i) / frame.sample_rate))
            data += v.to_bytes(2, "little", signed=True)
        self.samples += n
        out = av.AudioFrame(format="s16", layout="mono", samples=n)
        out.planes[0].update(bytes(data))
        out.pts, out.sample_rate, out.time_base = frame.pts, frame.sample_rate, frame.time_base
        return out


async def call(number, profile):
    rtcdtlstransport.SRTP_PROFILES[:] = [profile]
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    callee = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    caller.addTrack(Tone(300 + 200 * number))
    callee.addTrack(Tone(400 + 200 * number))
    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    for _ in range(100):
        if caller.connectionState == "connected" and callee.connectionState == "connected":
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(SECONDS)
    facts = []
    for name, pc in (("caller", caller), ("callee", callee)):
        sender = pc.getSenders()[0]
        dtls = sender.transport
        ssl = dtls._ssl
        facts.append(
            f"{name} role={dtls._role} cipher={ssl.get_cipher_name()} "
            f"version={ssl.get_protocol_version_name()} "
            f"srtp_profile={ssl.get_selected_srtp_profile().decode()} ssrc=0x{sender._ssrc:08x} "
            f"client_random={ssl.client_random().hex()} server_random={ssl.server_random().hex()}"
        )
    await caller.close()
    await callee.close()
    return facts


async def calls():
    facts = []
    for number, profile in enumerate(PROFILES):
        facts += await call(number, profile)
    return facts


def main():
    if os.geteuid() != 0:
        sys.exit("run as root (tcpdump on lo)")
    tmp = tempfile.mkdtemp()
    cap = os.path.join(tmp, "call.pcap")
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", cap, "udp and not port 53"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        facts = asyncio.run(calls())
    finally:
        time.sleep(1)
        dump.terminate()
        dump.wait()
    os.replace(cap, OUT)
    with open(KEYS, "w") as f:
        # both peers write their session's line, as two clients sharing one SSLKEYLOGFILE do
        f.write("".join(line + "\n" for line in keylog_lines))
    with open(EXP, "w") as f:
        f.write(f"# facts of {OUT}, as aiortc {__import__('aiortc').__version__} and libsrtp reported them\n")
        for line in facts:
            f.write(f"call {line}\n")
        for ssrc, (packets, digest) in sorted(sent.items()):
            f.write(f"sent ssrc=0x{ssrc:08x} packets={packets} payload_sha256={digest.hexdigest()}\n")
    print(f"wrote {OUT}, {KEYS} and {EXP}")


main()
