#!/usr/bin/env python3
"""Make captures/http-signalling.pcap: conferencing traffic over plain HTTP on loopback.

1. curl (Debian) fetches http://127.0.0.1:18080/wc/join with `Host: zoom.us` from Python's
   http.server: a conferencing service's host asked over plain HTTP.
2. The `websockets` library (PyPI) opens ws://127.0.0.1:18081/ with the subprotocol "sip"
   (RFC 7118) and sends a SIP REGISTER in a text frame; the server answers 200 OK: SIP
   signalling over a WebSocket in clear (both ends agree on permessage-deflate, the library's
   default, so the messages are compressed, not encrypted).
captures/http-signalling.expected records the Host, method, subprotocol and the SIP method as
this script sent them -- never callproof's output. Needs: tcpdump, curl, python3 with
websockets (pip install websockets), root. Run from the repository root.
"""
import asyncio, http.server, os, shutil, subprocess, sys, tempfile, threading, time

import websockets

HTTP_PORT, WS_PORT = 18080, 18081
HOST, PATH = "zoom.us", "/wc/join"
REGISTER = (
    "REGISTER sip:callproof.test SIP/2.0\r\n"
    "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf\r\n"
    "From: <sip:alice@callproof.test>;tag=65bnmj\r\n"
    "To: <sip:alice@callproof.test>\r\n"
    "Call-ID: aiuy7k9njasd\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\n"
    "Content-Length: 0\r\n\r\n"
)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>join</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


async def websocket_call():
    async def answer(ws):
        msg = await ws.recv()
        reply = msg.split("\r\n", 1)[1].replace("CSeq", "CSeq", 1)
        await ws.send("SIP/2.0 200 OK\r\n" + reply)

    async with websockets.serve(answer, "127.0.0.1", WS_PORT, subprotocols=["sip"]):
        async with websockets.connect(f"ws://127.0.0.1:{WS_PORT}/", subprotocols=["sip"]) as ws:
            await ws.send(REGISTER)
            await ws.recv()


def main():
    work = tempfile.mkdtemp()
    pcap = os.path.join(work, "http.pcap")
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", pcap,
         f"tcp port {HTTP_PORT} or tcp port {WS_PORT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    server = http.server.HTTPServer(("127.0.0.1", HTTP_PORT), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Host: {HOST}",
                    f"http://127.0.0.1:{HTTP_PORT}{PATH}"], check=True)
    server.shutdown()
    asyncio.run(websocket_call())
    time.sleep(1)
    dump.terminate()
    dump.wait()
    shutil.copy(pcap, "captures/http-signalling.pcap")
    with open("captures/http-signalling.expected", "w") as f:
        f.write("# facts of captures/http-signalling.pcap as make-http-signalling.py sent them\n")
        f.write(f"http.port={HTTP_PORT}\nhttp.method=GET\nhttp.host={HOST}\nhttp.path={PATH}\n")
        f.write(f"ws.port={WS_PORT}\nws.subprotocol=sip\nws.sip_method=REGISTER\n")
    shutil.rmtree(work)
    print("wrote captures/http-signalling.pcap and captures/http-signalling.expected")


if __name__ == "__main__":
    sys.exit(main())
