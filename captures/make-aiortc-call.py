#!/usr/bin/env python3
"""Make captures/aiortc-webrtc-call.pcap: a real peer-to-peer WebRTC audio call between two aiortc
peers (ICE over loopback, DTLS-SRTP, Opus), captured with tcpdump on lo, and
captures/aiortc-webrtc-call.expected with the facts aiortc itself reports (DTLS cipher, SRTP
profile, SSRCs, ports) -- never callproof's output.

usage (root, for tcpdump on lo; needs `pip install aiortc` and tcpdump):
    python3 captures/make-aiortc-call.py
"""
import asyncio, fractions, math, os, subprocess, sys, tempfile, time

import av
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack

OUT = "captures/aiortc-webrtc-call.pcap"
EXP = "captures/aiortc-webrtc-call.expected"
SECONDS = 4


class Tone(AudioStreamTrack):
    """A 440 Hz tone, 20 ms frames of 48 kHz mono s16."""

    def __init__(self):
        super().__init__()
        self.samples = 0

    async def recv(self):
        frame = await super().recv()  # paced silence frame with the right timestamps
        n = frame.samples
        data = bytearray()
        for i in range(n):
            v = int(8000 * math.sin(2 * math.pi * 440 * (self.samples + i) / frame.sample_rate))
            data += v.to_bytes(2, "little", signed=True)
        self.samples += n
        out = av.AudioFrame(format="s16", layout="mono", samples=n)
        out.planes[0].update(bytes(data))
        out.pts, out.sample_rate, out.time_base = frame.pts, frame.sample_rate, frame.time_base
        return out


async def call():
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    callee = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    caller.addTrack(Tone())
    callee.addTrack(Tone())
    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    for _ in range(100):
        if caller.connectionState == "connected" and callee.connectionState == "connected":
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(SECONDS)
    facts = {}
    for name, pc in (("caller", caller), ("callee", callee)):
        sender = pc.getSenders()[0]
        dtls = sender.transport
        ssl = dtls._ssl
        facts[f"{name}.dtls_role"] = dtls._role
        facts[f"{name}.cipher"] = ssl.get_cipher_name()
        facts[f"{name}.dtls_version"] = ssl.get_protocol_version_name()
        facts[f"{name}.srtp_profile"] = ssl.get_selected_srtp_profile().decode()
        facts[f"{name}.ssrc"] = "0x%08x" % sender._ssrc
        pair = dtls.transport._connection._nominated.get(1)
        if pair is not None:
            facts[f"{name}.local"] = "%s:%d" % pair.local_candidate.host_port if hasattr(pair.local_candidate, "host_port") else f"{pair.local_candidate.host}:{pair.local_candidate.port}"
    await caller.close()
    await callee.close()
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
        facts = asyncio.run(call())
    finally:
        time.sleep(1)
        dump.terminate()
        dump.wait()
    os.replace(cap, OUT)
    with open(EXP, "w") as f:
        f.write(f"# facts of {OUT}, as aiortc {__import__('aiortc').__version__} reported them\n")
        for k, v in sorted(facts.items()):
            f.write(f"{k}={v}\n")
    print(f"wrote {OUT} and {EXP}")


main()
