#!/usr/bin/env python3
"""Make captures/aiortc-turn-tcp-call.pcap: a WebRTC audio call between two aiortc peers whose
media is relayed by a coturn TURN server reached over TCP (`turn:…?transport=tcp`, relay-only
ICE policy): STUN/TURN messages and ChannelData over TCP from the caller, DTLS-SRTP inside
the relayed datagrams. captures/aiortc-turn-tcp-call.expected records what aiortc and the
command line reported (DTLS cipher, SRTP profile, TURN port and transport) -- never callproof's
output.

usage (root, for tcpdump on lo; needs `pip install aiortc`, `apt-get install coturn`):
    python3 captures/make-aiortc-turn-tcp.py
"""
import asyncio, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCIceTransportPolicy

OUT = "captures/aiortc-turn-tcp-call.pcap"
EXP = "captures/aiortc-turn-tcp-call.expected"
TURN_PORT = 3478
SECONDS = 3


def tone():
    # the same 440 Hz track as make-aiortc-call.py
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "call", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-aiortc-call.py"))
    src = open(spec.origin).read().split("\nmain()")[0]  # the module without running it
    ns = {"__name__": "aiortc_call"}
    exec(compile(src, spec.origin, "exec"), ns)
    return ns["Tone"]()


async def call():
    relay = RTCIceServer(urls=f"turn:127.0.0.1:{TURN_PORT}?transport=tcp",
                         username="callproof", credential="callproof")
    caller = RTCPeerConnection(RTCConfiguration(
        iceServers=[relay], iceTransportPolicy=RTCIceTransportPolicy.RELAY))
    callee = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    caller.addTrack(tone())
    callee.addTrack(tone())
    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    for _ in range(150):
        if caller.connectionState == "connected" and callee.connectionState == "connected":
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(SECONDS)
    facts = {"turn.port": TURN_PORT, "turn.transport": "tcp", "caller.ice_policy": "relay"}
    for name, pc in (("caller", caller), ("callee", callee)):
        dtls = pc.getSenders()[0].transport
        ssl = dtls._ssl
        facts[f"{name}.state"] = pc.connectionState
        facts[f"{name}.cipher"] = ssl.get_cipher_name()
        facts[f"{name}.srtp_profile"] = ssl.get_selected_srtp_profile().decode()
    await caller.close()
    await callee.close()
    return facts


def main():
    if os.geteuid() != 0:
        sys.exit("run as root (tcpdump on lo)")
    tmp = tempfile.mkdtemp()
    cap = os.path.join(tmp, "call.pcap")
    turn = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
         "--listening-port", str(TURN_PORT), "--lt-cred-mech", "--user", "callproof:callproof",
         "--realm", "callproof.test", "--no-tls", "--no-dtls", "--no-cli",
         "--allow-loopback-peers", "--min-port", "49152", "--max-port", "49200",
         "--log-file", "stdout", "--simple-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", cap,
                             "(tcp or udp) and not port 53"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    try:
        facts = asyncio.run(call())
    finally:
        time.sleep(1)
        dump.terminate()
        dump.wait()
        turn.terminate()
        turn.wait()
    os.replace(cap, OUT)
    with open(EXP, "w") as f:
        f.write(f"# facts of {OUT}, as aiortc {__import__('aiortc').__version__} and the script reported them\n")
        for k, v in sorted(facts.items()):
            f.write(f"{k}={v}\n")
    print(f"wrote {OUT} and {EXP}")


main()
