#!/usr/bin/env python3
"""Make captures/firefox-dtls13-keylog.pcap: a real WebRTC call inside Firefox (two
RTCPeerConnections in one page, headless, an oscillator's audio and a canvas's video; Firefox
ESR 153 negotiates DTLS 1.3 and SRTP AEAD_AES_128_GCM), captured with tcpdump, and beside it:

- captures/firefox-dtls13-keylog.keys: the NSS key log Firefox wrote under SSLKEYLOGFILE
  (both peers live in one process: each line twice);
- captures/firefox-dtls13-keylog.expected: what Firefox and libsrtp say, never callproof's
  output: the page's getStats() (DTLS cipher, SRTP cipher, the sending peer's DTLS role, each
  outbound RTP stream's SSRC and packets sent once its track stopped), the sending peer's
  certificate fingerprint from its SDP (a=fingerprint: the DTLS server certificate's SHA-256),
  and the RTP and SRTCP packets of each direction that libsrtp (pylibsrtp) authenticates under
  keys this script exports from the key log's EXPORTER_SECRET with `cryptography`'s HMAC
  (RFC 8446 §7.5 exporter, "dtls13" labels, RFC 9147 §5.9).

With --chacha20 it makes captures/firefox-dtls13-chacha20-keylog.* instead: the same call
with Firefox's TLS 1.3 AES suites turned off (prefs security.tls13.aes_128_gcm_sha256 and
security.tls13.aes_256_gcm_sha384), so that DTLS 1.3 runs TLS_CHACHA20_POLY1305_SHA256, as it
does towards a peer that prefers ChaCha20 (a device without AES instructions). The SRTP
profile stays AEAD_AES_128_GCM.

With --frame-e2ee it makes captures/firefox-dtls13-frame-e2ee-keylog.*: the same call with an
inner end-to-end layer beneath SRTP, in the frame format of Jitsi Meet's E2EE (see WORKER);
the .expected adds the frames the worker encrypted and decrypted per SSRC and the RTP packets
whose libsrtp plaintext ends with the format's trailer naming the packet's SSRC and timestamp.

With --frame-e2ee --rewritten-iv it makes captures/firefox-dtls13-frame-e2ee-rewritten-iv-keylog.*:
the same, but the IV of each trailer names the SSRC XOR 0x5a5a5a5a and the RTP timestamp plus
0x10000: the trailers as they reach a participant through a media server that rewrote the RTP
header's SSRC and timestamps (Jitsi Videobridge does, when it rewrites SSRCs or switches
simulcast layers). The bridge is simulated on the sending side: there is no bridge here. The
receiver opens every frame with the IV the trailer carries; the .expected counts the packets
whose libsrtp plaintext ends with a trailer naming the shifted SSRC and timestamp.

With --sframe it makes captures/firefox-dtls13-sframe-keylog.*: the same call with SFrame
(RFC 9605, cipher suite AES_128_GCM_SHA256_128) beneath SRTP (see SFRAME_WORKER): one key id
and one counter for the sender's audio and video, as the RFC asks of one key; the canvas is
640x480 and painted with random squares, so that video frames span several RTP packets. Before the call
the worker checks its SFrame against the RFC's test vector (key, salt and ciphertext of suite
0x0004) and the script stops if they differ. The .expected adds the frames the worker sealed
and opened per SSRC, the key id and base key (a key made for this capture), and per SSRC the
RTP packets whose libsrtp plaintext begins (audio) or, after the VP8 payload descriptor,
continues (video) with the SFrame header of a frame the worker sealed with that SSRC and RTP
timestamp, and the audio packets whose SFrame ciphertext `cryptography` opens with the key.

With --loss (e.g. --sframe --loss: captures/firefox-dtls13-sframe-lossy-keylog.*) nftables
drops at random 8 % of the UDP datagrams above 300 bytes (the video) before the capture point
(output hook: the capture lacks them, as one taken at the receiver would) and 8 % after it
(input hook: the capture holds the lost packet, as one taken at the sender would), so that
Firefox retransmits video on its RTX stream (RFC 4588). The .expected adds each RTX SSRC and
the SSRC it repeats as the SDP's a=ssrc-group:FID pairs them, and per RTX SSRC the packets
libsrtp authenticates, those whose payload is the original sequence number and the payload of
a packet of that stream captured earlier at the same RTP timestamp (copies), and those whose
original sequence number the capture lacks so far, below its highest by less than 512 or above
it by at most 16, at an RTP timestamp not before that of the nearest captured packet below and
not after that of the nearest captured above (if any yet), each within 16 (gap fills).

usage (root, for tcpdump and nft; needs firefox-esr, tcpdump and nftables from Debian, and
python3 with `pip install pylibsrtp cryptography`):
    python3 captures/make-firefox-dtls13-keylog.py [--chacha20] [--frame-e2ee [--rewritten-iv] | --sframe] [--loss]
"""
import hashlib, hmac, http.server, json, os, re, struct, subprocess, sys, tempfile, threading, time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pylibsrtp import Policy, Session

CHACHA20 = "--chacha20" in sys.argv[1:]
FRAME_E2EE = "--frame-e2ee" in sys.argv[1:]
SFRAME = "--sframe" in sys.argv[1:]
REWRITTEN_IV = "--rewritten-iv" in sys.argv[1:]
LOSS = "--loss" in sys.argv[1:]
LOSS_TABLE = """table inet callproof_loss {
    chain before_capture { type filter hook output priority 0; udp length > 300 numgen random mod 100 < 8 drop; }
    chain after_capture { type filter hook input priority 0; udp length > 300 numgen random mod 100 < 8 drop; }
}
"""
IV_SSRC_XOR, IV_TIMESTAMP_ADD = 0x5A5A5A5A, 0x10000
KEY_INDEX = 3
SFRAME_KID = 0x2A7
NAME = ("captures/firefox-dtls13-" + ("chacha20-" if CHACHA20 else "") + ("frame-e2ee-" if FRAME_E2EE else "") + ("rewritten-iv-" if REWRITTEN_IV else "")
        + ("sframe-" if SFRAME else "") + ("lossy-" if LOSS else "") + "keylog")
OUT, KEYS, EXP = NAME + ".pcap", NAME + ".keys", NAME + ".expected"

PREFS = """
user_pref("media.peerconnection.ice.loopback", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.block-webaudio", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
"""

PAGE = """<!doctype html><title>call</title><script>
const log = m => fetch('/log', {method: 'POST', body: JSON.stringify(m)});
(async () => {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator(); osc.frequency.value = 440;
    const dst = ctx.createMediaStreamDestination(); osc.connect(dst); osc.start();
    const canvas = document.createElement('canvas'); canvas.width = 160; canvas.height = 120;
    const g = canvas.getContext('2d'); let n = 0;
    if (SFRAME) { canvas.width = 640; canvas.height = 480; }
    const paint = setInterval(() => {
      g.fillStyle = `hsl(${(n++ * 7) % 360},80%,50%)`; g.fillRect(0, 0, 160, 120);
      // with SFrame, detail that makes frames of several packets each
      for (let i = 0; SFRAME && i < 400; i++) {
        g.fillStyle = `hsl(${Math.random() * 360},80%,50%)`;
        g.fillRect(Math.random() * 640, Math.random() * 480, 16, 16);
      }
    }, 33);
    const audio = dst.stream.getAudioTracks()[0];
    const video = canvas.captureStream(30).getVideoTracks()[0];
    const a = new RTCPeerConnection(), b = new RTCPeerConnection();
    a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
    a.addTrack(audio, dst.stream);
    a.addTrack(video, dst.stream);
    let frames = null, sframeKey = null;
    if (SFRAME) {
      const worker = new Worker('/sframe-worker.js');
      worker.onmessage = e => { frames = e.data; };
      const key = crypto.getRandomValues(new Uint8Array(16));
      sframeKey = Array.from(key, x => x.toString(16).padStart(2, '0')).join('');
      a.getSenders().forEach(s => {
        s.transform = new RTCRtpScriptTransform(worker, {side: 'send', key, kid: SFRAME_KID});
      });
      b.ontrack = e => {
        e.receiver.transform = new RTCRtpScriptTransform(worker, {side: 'receive', key});
      };
    }
    if (FRAME_E2EE) {
      const worker = new Worker('/worker.js');
      worker.onmessage = e => { frames = e.data; };
      const key = crypto.getRandomValues(new Uint8Array(16));
      a.getSenders().forEach(s => {
        s.transform = new RTCRtpScriptTransform(worker, {side: 'send', key, keyIndex: KEY_INDEX,
                                                         ssrcXor: IV_SSRC_XOR, timestampAdd: IV_TIMESTAMP_ADD});
      });
      b.ontrack = e => {
        e.receiver.transform = new RTCRtpScriptTransform(worker, {side: 'receive', key});
      };
    }
    const offer = await a.createOffer(); await a.setLocalDescription(offer);
    await b.setRemoteDescription(offer);
    const answer = await b.createAnswer(); await b.setLocalDescription(answer);
    await a.setRemoteDescription(answer);
    await new Promise(r => setTimeout(r, 4000));
    audio.stop(); video.stop(); clearInterval(paint);
    await new Promise(r => setTimeout(r, 1000));
    const stats = [];
    (await a.getStats()).forEach(s => stats.push(s));
    await log({offer: offer.sdp, answer: answer.sdp, stats, frames, sframeKey});
    a.close(); b.close();
    await log('done');
  } catch (e) { await log('error ' + e); }
})();
</script>"""

# The frame encryption of Jitsi Meet's E2EE (lib-jitsi-meet modules/e2ee/Context.ts, as
# documented there), written here from its description: each encoded frame keeps its first
# bytes in clear (10 of a VP8 key frame, 3 of a delta frame, 1 of audio: the Opus TOC), the
# rest is AES-GCM encrypted with those bytes as additional data, then come the 12-byte IV
# (the frame's SSRC, its RTP timestamp, a send counter from a random start), the IV's length
# (12) and the key index. The receiver undoes it; both count the frames per SSRC.
WORKER = """
const counts = {sent: {}, received: {}, failed: {}};
const bump = (kind, ssrc) => { counts[kind][ssrc] = (counts[kind][ssrc] || 0) + 1; };
onrtctransform = async event => {
  const {side, key, keyIndex, ssrcXor, timestampAdd} = event.transformer.options;
  const aes = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const sendCounts = {};
  const transform = new TransformStream({async transform(frame, controller) {
    const data = new Uint8Array(frame.data);
    const ssrc = frame.getMetadata().synchronizationSource;
    const clear = frame.type === 'key' ? 10 : frame.type === 'delta' ? 3 : 1;
    if (side === 'send') {
      if (!(ssrc in sendCounts)) sendCounts[ssrc] = Math.floor(Math.random() * 0xFFFF);
      const iv = new Uint8Array(12);
      const view = new DataView(iv.buffer);
      view.setUint32(0, (ssrc ^ ssrcXor) >>> 0); view.setUint32(4, (frame.timestamp + timestampAdd) >>> 0);
      view.setUint32(8, sendCounts[ssrc]++ % 0xFFFF);
      const sealed = new Uint8Array(await crypto.subtle.encrypt(
        {name: 'AES-GCM', iv, additionalData: data.subarray(0, clear)}, aes, data.subarray(clear)));
      const out = new Uint8Array(clear + sealed.length + 14);
      out.set(data.subarray(0, clear));
      out.set(sealed, clear);
      out.set(iv, clear + sealed.length);
      out[out.length - 2] = 12;
      out[out.length - 1] = keyIndex;
      frame.data = out.buffer;
      bump('sent', ssrc);
    } else {
      const n = data.length;
      try {
        const plain = new Uint8Array(await crypto.subtle.decrypt(
          {name: 'AES-GCM', iv: data.subarray(n - 14, n - 2), additionalData: data.subarray(0, clear)},
          aes, data.subarray(clear, n - 14)));
        const out = new Uint8Array(clear + plain.length);
        out.set(data.subarray(0, clear));
        out.set(plain, clear);
        frame.data = out.buffer;
        bump('received', ssrc);
      } catch (e) { bump('failed', ssrc); return; }
    }
    controller.enqueue(frame);
    postMessage(counts);
  }});
  event.transformer.readable.pipeThrough(transform).pipeTo(event.transformer.writable);
};
"""

# SFrame (RFC 9605 §4.3–4.4), written here from the RFC: cipher suite 0x0004
# AES_128_GCM_SHA256_128; key and salt from the base key with HKDF-SHA256 (empty salt; labels
# "SFrame 1.0 Secret key " / "SFrame 1.0 Secret salt " + KID as 8 bytes + suite as 2 bytes);
# nonce = salt XOR the counter; additional data = the header (no metadata in this call); the
# header: config byte X|K(3)|Y|C(3), then the key id when above 7, then the counter when above
# 7, each in the fewest big-endian bytes. One counter per key: the sender's audio and video
# frames draw from the same one. Before any frame the worker runs the RFC's test vector.
SFRAME_WORKER = """
const counts = {sent: {}, received: {}, failed: {}, sealed: [], vector: null};
const bump = (kind, ssrc) => { counts[kind][ssrc] = (counts[kind][ssrc] || 0) + 1; };
const hex = b => Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
const unhex = h => new Uint8Array(h.match(/../g).map(x => parseInt(x, 16)));
const SUITE = 4n;
const be = (v, n) => { const out = new Uint8Array(n); for (let i = n - 1; i >= 0; i--) { out[i] = Number(v & 0xFFn); v >>= 8n; } return out; };
const minimal = v => { let n = 1; while (n < 8 && v >> BigInt(8 * n) > 0n) n++; return be(v, n); };
const encodeHeader = (kid, ctr) => {
  const k = kid > 7n ? minimal(kid) : null, c = ctr > 7n ? minimal(ctr) : null;
  const config = (k ? 0x80 | (k.length - 1) << 4 : Number(kid) << 4) | (c ? 0x08 | (c.length - 1) : Number(ctr));
  return new Uint8Array([config, ...(k || []), ...(c || [])]);
};
const decodeHeader = d => {
  const x = d[0] >> 7, k = (d[0] >> 4) & 7, y = (d[0] >> 3) & 1, c = d[0] & 7;
  let at = 1, kid = BigInt(k), ctr = BigInt(c);
  if (x) { kid = 0n; for (let i = 0; i <= k; i++) kid = kid << 8n | BigInt(d[at++]); }
  if (y) { ctr = 0n; for (let i = 0; i <= c; i++) ctr = ctr << 8n | BigInt(d[at++]); }
  return {kid, ctr, length: at};
};
const keyFor = async (base, kid) => {
  const hkdf = await crypto.subtle.importKey('raw', base, 'HKDF', false, ['deriveBits']);
  const label = text => new Uint8Array([...new TextEncoder().encode(text), ...be(kid, 8), ...be(SUITE, 2)]);
  const expand = async (text, n) => new Uint8Array(await crypto.subtle.deriveBits(
    {name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: label(text)}, hkdf, 8 * n));
  const raw = await expand('SFrame 1.0 Secret key ', 16), salt = await expand('SFrame 1.0 Secret salt ', 12);
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return {raw, salt, key};
};
const nonce = (salt, ctr) => { const c = be(ctr, 12); return salt.map((b, i) => b ^ c[i]); };
const seal = async (k, kid, ctr, metadata, plain) => {
  const header = encodeHeader(kid, ctr);
  const ct = new Uint8Array(await crypto.subtle.encrypt(
    {name: 'AES-GCM', iv: nonce(k.salt, ctr), additionalData: new Uint8Array([...header, ...metadata])}, k.key, plain));
  return new Uint8Array([...header, ...ct]);
};
const open = async (keys, data) => {
  const h = decodeHeader(data);
  const k = await keys(h.kid);
  return new Uint8Array(await crypto.subtle.decrypt(
    {name: 'AES-GCM', iv: nonce(k.salt, h.ctr), additionalData: data.subarray(0, h.length)}, k.key, data.subarray(h.length)));
};
// RFC 9605 test vector, cipher suite 0x0004
const vector = (async () => {
  const k = await keyFor(unhex('000102030405060708090a0b0c0d0e0f'), 0x123n);
  const sealed = await seal(k, 0x123n, 0x4567n, unhex('4945544620534672616d65205747'),
                            unhex('64726166742d696574662d736672616d652d656e63'));
  return hex(k.raw) === 'd34f547f4ca4f9a7447006fe7fcbf768' && hex(k.salt) === '75234edefe07819026751816'
    && hex(sealed) === '9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb';
})();
let counter = 0n;
onrtctransform = async event => {
  const {side, key, kid} = event.transformer.options;
  counts.vector = await vector;
  const cache = {};
  const keys = async id => (cache[id] = cache[id] || await keyFor(key, id));
  const transform = new TransformStream({async transform(frame, controller) {
    const data = new Uint8Array(frame.data);
    const meta = frame.getMetadata();
    const ssrc = meta.synchronizationSource;
    if (!counts.vector) return;
    if (side === 'send') {
      const ctr = counter++;
      frame.data = (await seal(await keys(BigInt(kid)), BigInt(kid), ctr, new Uint8Array(0), data)).buffer;
      counts.sealed.push([ssrc, meta.rtpTimestamp ?? frame.timestamp, Number(ctr)]);
      bump('sent', ssrc);
    } else {
      try { frame.data = (await open(keys, data)).buffer; bump('received', ssrc); }
      catch (e) { bump('failed', ssrc); return; }
    }
    controller.enqueue(frame);
    postMessage(counts);
  }});
  postMessage(counts);
  event.transformer.readable.pipeThrough(transform).pipeTo(event.transformer.writable);
};
"""

messages = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        worker = self.path in ("/worker.js", "/sframe-worker.js")
        body = ((SFRAME_WORKER if self.path == "/sframe-worker.js" else WORKER) if worker else
                PAGE.replace("FRAME_E2EE", "true" if FRAME_E2EE else "false")
                .replace("SFRAME_KID", str(SFRAME_KID)).replace("SFRAME", "true" if SFRAME else "false")
                .replace("KEY_INDEX", str(KEY_INDEX))
                .replace("IV_SSRC_XOR", str(IV_SSRC_XOR if REWRITTEN_IV else 0))
                .replace("IV_TIMESTAMP_ADD", str(IV_TIMESTAMP_ADD if REWRITTEN_IV else 0))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript" if worker else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        messages.append(json.loads(self.rfile.read(n)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def expand_label(secret, label, context, length):
    """HKDF-Expand-Label with DTLS 1.3's "dtls13" prefix, SHA-256 (RFC 8446 §7.1, RFC 9147)."""
    full = b"dtls13" + label
    info = struct.pack(">H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def frame_trailer(rtp):
    """Whether an RTP packet libsrtp decrypted ends with the frame encryption's trailer whose IV
    starts with the packet's SSRC and RTP timestamp (with --rewritten-iv: shifted as the worker
    shifts them), and with KEY_INDEX."""
    cc, x, padded = rtp[0] & 0x0F, rtp[0] & 0x10, rtp[0] & 0x20
    at = 12 + 4 * cc
    if x:
        at += 4 + 4 * int.from_bytes(rtp[at + 2:at + 4], "big")
    end = len(rtp) - (rtp[-1] if padded else 0)
    payload = rtp[at:end]
    return (len(payload) >= 1 + 16 + 14 and payload[-2] == 12 and payload[-1] == KEY_INDEX
            and payload[-14:-6] == iv_names(rtp))


def iv_names(rtp):
    """The SSRC and RTP timestamp the worker writes into the IV of a frame this packet carries."""
    ssrc, timestamp = int.from_bytes(rtp[8:12], "big"), int.from_bytes(rtp[4:8], "big")
    if REWRITTEN_IV:
        ssrc, timestamp = ssrc ^ IV_SSRC_XOR, (timestamp + IV_TIMESTAMP_ADD) & 0xFFFFFFFF
    return ssrc.to_bytes(4, "big") + timestamp.to_bytes(4, "big")


def rtp_payload(rtp):
    """The payload of an RTP packet in clear: after CSRCs and header extension, before padding."""
    cc, x, padded = rtp[0] & 0x0F, rtp[0] & 0x10, rtp[0] & 0x20
    at = 12 + 4 * cc
    if x:
        at += 4 + 4 * int.from_bytes(rtp[at + 2:at + 4], "big")
    return rtp[at:len(rtp) - (rtp[-1] if padded else 0)]


def retransmission(original, payload, timestamp):
    """How an RTX payload (RFC 4588 §4: the original sequence number, then the original payload)
    repeats the original stream's packets captured so far (`original`: seq -> (timestamp,
    payload)): "copy" when that packet was captured with this timestamp and payload; "gap_fill"
    when its sequence number is missing, below the highest captured by less than 512 or above
    it by at most 16, and the timestamp is not before that of the nearest captured packet
    below it and not after that of the nearest captured above it (if any yet), each within 16."""
    if not original:
        return None
    osn = int.from_bytes(payload[:2], "big")
    first = next(iter(original))
    highest = max(original, key=lambda s: (s - first) & 0xFFFF)
    behind, ahead = (highest - osn) & 0xFFFF, (osn - highest) & 0xFFFF
    if behind >= 512 and not 1 <= ahead <= 16:
        return None
    if osn in original:
        return "copy" if original[osn] == (timestamp, payload[2:]) else None
    below = next((original[(osn - d) & 0xFFFF][0] for d in range(1, 17) if (osn - d) & 0xFFFF in original), None)
    if below is None or timestamp < below:
        return None
    if behind >= 512:
        return "gap_fill"
    above = next((original[(osn + d) & 0xFFFF][0] for d in range(1, min(16, behind) + 1) if (osn + d) & 0xFFFF in original), None)
    if above is None:
        return None
    return "gap_fill" if timestamp <= above else None


def sframe_frame(rtp, codecs):
    """Where an SFrame frame begins in an RTP packet in clear: the payload of Opus, and for VP8
    the bytes after the payload descriptor (RFC 7741 §4.2) of a packet starting partition 0.
    Firefox sends its video in RED (RFC 2198): the primary block, after the block headers."""
    p = rtp_payload(rtp)
    pt = rtp[1] & 0x7F
    if codecs.get(pt) == "red":
        at = 0
        while p[at] & 0x80:  # a redundant block's 4-byte header
            at += 4
        pt, p = p[at] & 0x7F, p[at + 1 + sum(int.from_bytes(p[i + 2:i + 4], "big") & 0x3FF for i in range(0, at, 4)):]
    if codecs.get(pt) == "opus":
        return p
    if codecs.get(pt) != "vp8":
        return None
    if p[0] & 0x17 != 0x10:  # S=1, PID=0
        return None
    at = 1
    if p[0] & 0x80:
        x = p[1]
        at = 2
        if x & 0x80:
            at += 2 if p[at] & 0x80 else 1
        if x & 0x40:
            at += 1
        if x & 0x30:
            at += 1
    return p[at:]


def sframe_header(frame):
    """Key id, counter and length of an SFrame header (RFC 9605 §4.3)."""
    x, k, y, c = frame[0] >> 7, (frame[0] >> 4) & 7, (frame[0] >> 3) & 1, frame[0] & 7
    at, kid, ctr = 1, k, c
    if x:
        kid, at = int.from_bytes(frame[at:at + k + 1], "big"), at + k + 1
    if y:
        ctr, at = int.from_bytes(frame[at:at + c + 1], "big"), at + c + 1
    return kid, ctr, at


def sframe_key_salt(base_key, kid):
    """SFrame key and salt of cipher suite 0x0004 for a key id (RFC 9605 §4.4.2)."""
    secret = hmac.new(b"", base_key, hashlib.sha256).digest()

    def expand(label, n):
        info = label + kid.to_bytes(8, "big") + (4).to_bytes(2, "big")
        return hmac.new(secret, info + b"\x01", hashlib.sha256).digest()[:n]
    return expand(b"SFrame 1.0 Secret key ", 16), expand(b"SFrame 1.0 Secret salt ", 12)


def main():
    # this script's SFrame key schedule against RFC 9605's test vector (suite 0x0004)
    assert sframe_key_salt(bytes(range(16)), 0x123) == (
        bytes.fromhex("d34f547f4ca4f9a7447006fe7fcbf768"), bytes.fromhex("75234edefe07819026751816"))
    tmp = tempfile.mkdtemp()
    profile = os.path.join(tmp, "profile")
    os.makedirs(profile)
    with open(os.path.join(profile, "user.js"), "w") as f:
        f.write(PREFS)
        if CHACHA20:
            f.write('user_pref("security.tls13.aes_128_gcm_sha256", false);\n'
                    'user_pref("security.tls13.aes_256_gcm_sha384", false);\n')
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    keys = os.path.join(tmp, "keys.txt")
    pcap = os.path.join(tmp, "call.pcap")
    dump = subprocess.Popen(["tcpdump", "-i", "any", "-U", "-w", pcap, "udp and not port 53"],
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    env = dict(os.environ, SSLKEYLOGFILE=keys, MOZ_HEADLESS="1")
    if LOSS:
        subprocess.run(["nft", "-f", "-"], input=LOSS_TABLE, text=True, check=True)
    try:
        fox = subprocess.Popen(["firefox-esr", "--headless", "--no-remote", "--profile", profile, url],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(60):
            if any(isinstance(m, str) for m in messages):
                break
            time.sleep(1)
        fox.terminate()
        fox.wait()
    finally:
        if LOSS:
            subprocess.run(["nft", "delete", "table", "inet", "callproof_loss"], check=True)
    time.sleep(1)
    dump.terminate()
    dump.wait()
    server.shutdown()
    if "done" not in messages:
        sys.exit(f"the call did not finish: {messages}")
    report = next(m for m in messages if isinstance(m, dict))
    os.replace(pcap, OUT)
    with open(keys) as f:
        key_text = f.read()
    with open(KEYS, "w") as f:
        f.write(key_text)

    stats = report["stats"]
    transport = next(s for s in stats if s["type"] == "transport")
    outbound = sorted((s for s in stats if s["type"] == "outbound-rtp"), key=lambda s: s["ssrc"])
    fingerprint = re.search(r"a=fingerprint:sha-256 ([0-9A-F:]+)", report["offer"]).group(1)
    lines = [
        f"# facts of {OUT}, as Firefox (getStats, SDP) and libsrtp reported them",
        f"dtls_cipher={transport['dtlsCipher']}",
        f"srtp_cipher={transport['srtpCipher']}",
        f"sender_dtls_role={transport['dtlsRole']}",
        f"sender_certificate_sha256={fingerprint.replace(':', '').lower()}",
    ]
    for s in outbound:
        lines.append(f"sent ssrc=0x{s['ssrc']:08x} kind={s['kind']} packets={s['packetsSent']}")
    # the sender's RTX streams: a=ssrc-group:FID ORIGINAL RTX (RFC 5576 §4.2, RFC 4588 §8.3)
    rtx_of = {int(r): int(o) for o, r in re.findall(r"a=ssrc-group:FID (\d+) (\d+)", report["offer"])}
    for rtx, original in sorted(rtx_of.items()):
        lines.append(f"rtx ssrc=0x{rtx:08x} of=0x{original:08x}")
    sealed = {}
    codecs = {int(pt): name.lower() for pt, name in re.findall(r"a=rtpmap:(\d+) ([^/]+)/", report["offer"])}
    if SFRAME:
        frames = report["frames"]
        if not frames or frames["vector"] is not True:
            sys.exit(f"the worker's SFrame does not reproduce RFC 9605's test vector: {frames}")
        lines.append("sframe rfc9605_test_vector=reproduced cipher_suite=0x0004")
        lines.append(f"sframe kid=0x{SFRAME_KID:x} base_key={report['sframeKey']}")
        for kind in ("sent", "received", "failed"):
            for ssrc, n in sorted(frames[kind].items()):
                lines.append(f"frames ssrc=0x{int(ssrc):08x} {kind}={n}")
        for ssrc, timestamp, ctr in frames["sealed"]:
            sealed[(ssrc, timestamp)] = ctr
        sframe_key, sframe_salt = sframe_key_salt(bytes.fromhex(report["sframeKey"]), SFRAME_KID)
    if FRAME_E2EE:
        frames = report["frames"]
        lines.append(f"frame_e2ee key_index={KEY_INDEX}")
        if REWRITTEN_IV:
            lines.append(f"frame_e2ee iv_ssrc_xor=0x{IV_SSRC_XOR:08x} iv_timestamp_add=0x{IV_TIMESTAMP_ADD:x}")
        for kind in ("sent", "received", "failed"):
            for ssrc, n in sorted(frames[kind].items()):
                lines.append(f"frames ssrc=0x{int(ssrc):08x} {kind}={n}")

    # libsrtp: each direction's RTP and SRTCP under the keys exported from EXPORTER_SECRET
    secrets = {}
    for line in key_text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            secrets[(fields[0], fields[1])] = bytes.fromhex(fields[2])
    out = subprocess.run(["tshark", "-r", OUT, "-T", "fields", "-e", "udp.srcport", "-e", "udp.payload"],
                         capture_output=True, text=True, check=True).stdout
    datagrams = [(int(p), bytes.fromhex(d)) for p, d in (l.split("\t") for l in out.splitlines()) if d]
    hello = next((p, d) for p, d in datagrams if d[0] == 22 and d[13] == 1)
    client_port, client_random = hello[0], hello[1][13 + 12 + 2:13 + 12 + 2 + 32]
    exporter = secrets[("EXPORTER_SECRET", client_random.hex())]
    empty = hashlib.sha256(b"").digest()
    derived = expand_label(exporter, b"EXTRACTOR-dtls_srtp", empty, 32)
    material = expand_label(derived, b"exporter", empty, 2 * (16 + 12))
    sides = {"client": material[0:16] + material[32:44], "server": material[16:32] + material[44:56]}
    assert transport["srtpCipher"] == "SRTP_AEAD_AES_128_GCM", transport["srtpCipher"]
    for side, key in sides.items():
        session = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND,
                                        srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM))
        rtp, rtcp, trailers, headers, opened = {}, 0, {}, {}, {}
        originals, copies, gap_fills = {}, {}, {}  # per SSRC: seq -> (timestamp, payload)
        for port, d in datagrams:
            if (port == client_port) != (side == "client") or not 128 <= d[0] <= 191:
                continue
            try:
                if 192 <= d[1] <= 223:
                    session.unprotect_rtcp(d)
                    rtcp += 1
                else:
                    plain = session.unprotect(d)
                    ssrc = int.from_bytes(d[8:12], "big")
                    rtp[ssrc] = rtp.get(ssrc, 0) + 1
                    seq, timestamp = int.from_bytes(plain[2:4], "big"), int.from_bytes(plain[4:8], "big")
                    if ssrc in rtx_of and len(rtp_payload(plain)) >= 2:
                        how = retransmission(originals.get(rtx_of[ssrc], {}), rtp_payload(plain), timestamp)
                        if how == "copy":
                            copies[ssrc] = copies.get(ssrc, 0) + 1
                        elif how == "gap_fill":
                            gap_fills[ssrc] = gap_fills.get(ssrc, 0) + 1
                    originals.setdefault(ssrc, {})[seq] = (timestamp, rtp_payload(plain))
                    if FRAME_E2EE and frame_trailer(plain):
                        trailers[ssrc] = trailers.get(ssrc, 0) + 1
                    if SFRAME:
                        kind = next(s["kind"] for s in outbound if s["ssrc"] == ssrc)
                        frame = sframe_frame(plain, codecs)
                        if frame is not None:
                            kid, ctr, length = sframe_header(frame)
                            if kid == SFRAME_KID and sealed.get((ssrc, int.from_bytes(plain[4:8], "big"))) == ctr:
                                headers[ssrc] = headers.get(ssrc, 0) + 1
                                if kind == "audio":
                                    nonce = bytes(a ^ b for a, b in zip(sframe_salt, ctr.to_bytes(12, "big")))
                                    AESGCM(sframe_key).decrypt(nonce, frame[length:], frame[:length])
                                    opened[ssrc] = opened.get(ssrc, 0) + 1
            except Exception:
                pass
        for ssrc in sorted(rtp):
            lines.append(f"libsrtp dtls_{side} ssrc=0x{ssrc:08x} rtp_authenticated={rtp[ssrc]}")
            if ssrc in rtx_of:
                lines.append(f"libsrtp dtls_{side} ssrc=0x{ssrc:08x} rtx_copies={copies.get(ssrc, 0)}"
                             f" rtx_gap_fills={gap_fills.get(ssrc, 0)}")
            if FRAME_E2EE:
                lines.append(f"libsrtp dtls_{side} ssrc=0x{ssrc:08x} frame_trailers={trailers.get(ssrc, 0)}")
            if SFRAME:
                lines.append(f"libsrtp dtls_{side} ssrc=0x{ssrc:08x} sframe_headers={headers.get(ssrc, 0)}")
                if ssrc in opened:
                    lines.append(f"libsrtp dtls_{side} ssrc=0x{ssrc:08x} sframe_opened={opened[ssrc]}")
        lines.append(f"libsrtp dtls_{side} srtcp_authenticated={rtcp}")
    with open(EXP, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
