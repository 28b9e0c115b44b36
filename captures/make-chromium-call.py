#!/usr/bin/env python3
"""Make captures/chromium-call.pcap: a real WebRTC call inside Chromium (two RTCPeerConnections
in one page, headless; the page, an oscillator's audio and a canvas's video, is the one of
make-firefox-dtls13-keylog.py, loaded from it), captured with tcpdump on every interface.
Chromium negotiates DTLS 1.3, which encrypts the server's choice of SRTP profile, and does
not log WebRTC's DTLS secrets: there is no key log. On a machine with an IPv4 and an IPv6
address ICE checks candidate pairs of both, runs the DTLS handshake on the first pair that
works, then moves the media to the pair it prefers: the same ICE session, one DTLS
association, two flows.

Beside it, captures/chromium-call.expected: what Chromium's getStats() said, never callproof's
output: the DTLS cipher and version, the SRTP cipher, the sending peer's DTLS role, the
selected candidate pair's local and remote address and port (stats `candidate-pair` of the
transport's selectedCandidatePairId) and each outbound RTP stream's SSRC and packets sent.

usage (root, for tcpdump; needs chromium and tcpdump from Debian, and the python3 that runs
make-firefox-dtls13-keylog.py, with pylibsrtp and cryptography):
    python3 captures/make-chromium-call.py
"""
import http.server, importlib.util, os, subprocess, sys, tempfile, threading, time

OUT, EXP = "captures/chromium-call.pcap", "captures/chromium-call.expected"


def firefox_script():
    """make-firefox-dtls13-keylog.py as a module, without its options: its PAGE and Handler."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-firefox-dtls13-keylog.py")
    spec = importlib.util.spec_from_file_location("firefox_call", path)
    argv, sys.argv = sys.argv, [path]
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.argv = argv
    return module


def main():
    page = firefox_script()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), page.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    tmp = tempfile.mkdtemp()
    pcap = os.path.join(tmp, "call.pcap")
    dump = subprocess.Popen(["tcpdump", "-i", "any", "-U", "-w", pcap, "udp and not port 53 and not port 5353"],
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    chromium = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--user-data-dir=" + os.path.join(tmp, "profile"),
         "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(60):
        if any(isinstance(m, str) for m in page.messages):
            break
        time.sleep(1)
    chromium.terminate()
    chromium.wait()
    time.sleep(1)
    dump.terminate()
    dump.wait()
    server.shutdown()
    if "done" not in page.messages:
        sys.exit(f"the call did not finish: {page.messages}")
    report = next(m for m in page.messages if isinstance(m, dict))
    os.replace(pcap, OUT)

    stats = {s["id"]: s for s in report["stats"]}
    transport = next(s for s in stats.values() if s["type"] == "transport")
    pair = stats[transport["selectedCandidatePairId"]]
    local, remote = stats[pair["localCandidateId"]], stats[pair["remoteCandidateId"]]
    lines = [
        f"# facts of {OUT}, as Chromium's getStats reported them",
        f"dtls_cipher={transport['dtlsCipher']}",
        f"dtls_version={transport['tlsVersion']}",
        f"srtp_cipher={transport['srtpCipher']}",
        f"sender_dtls_role={transport['dtlsRole']}",
        f"selected_pair local={local['address']}:{local['port']} remote={remote['address']}:{remote['port']}",
    ]
    for s in sorted((s for s in stats.values() if s["type"] == "outbound-rtp"), key=lambda s: s["ssrc"]):
        lines.append(f"sent ssrc=0x{s['ssrc']:08x} kind={s['kind']} packets={s['packetsSent']}")
    with open(EXP, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
