#!/usr/bin/env bash
# Make captures/baresip-sip-tls-srtp.pcap: a SIP call between two real baresip user agents on
# loopback whose signalling runs over TLS (SIP over TLS, transport=tls) and whose media is SDES-SRTP
# (mediaenc=srtp-mand): the a=crypto keys travel inside TLS, so the capture shows SRTP packets with
# no keying in sight -- the usual enterprise setup. The expectations file records what baresip's own
# log shows (the SDP it sent and received inside TLS, the SRTP suite it enabled) -- never callproof's
# output. Needs: baresip-core (Debian), openssl, tcpdump, root. Run from the repository root.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# a throw-away certificate both agents present and trust
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" > "$work/both.pem"
# The audio the caller sends: 6 s of a 440 Hz tone, 8 kHz mono (G.711's rate).
python3 - "$work/tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * 6)))
w.close()
PY

# baresip listens for TLS one port above sip_listen (SIP over TCP/UDP on the port itself)
make_ua() { # name port
  local dir="$work/$1"
  mkdir -p "$dir"
  cat > "$dir/config" <<CFG
poll_method epoll
sip_listen 127.0.0.1:$2
sip_certificate $work/both.pem
sip_cafile $work/cert.pem
audio_source aufile,$work/tone.wav
audio_player aufile,$dir/heard.wav
audio_alert aufile,$dir/alert.wav
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module srtp.so
module_app account.so
module_app menu.so
rtp_ports 20000-20100
rtcp_mux no
CFG
  echo "<sip:$1@127.0.0.1:$(($2 + 1));transport=tls>;regint=0;answermode=auto;audio_codecs=PCMU;mediaenc=srtp-mand" > "$dir/accounts"
}

make_ua bob 5064
make_ua alice 5062
tcpdump -i lo -U -s 0 -w "$work/call.pcap" '(udp or tcp) and (portrange 5062-5065 or portrange 20000-20100)' >/dev/null 2>&1 &
dump=$!
sleep 1
baresip -f "$work/bob" -t 14 > "$work/bob.log" 2>&1 &
sleep 1
baresip -f "$work/alice" -s -e "/dial sip:bob@127.0.0.1:5065;transport=tls" -t 10 > "$work/alice.log" 2>&1 || true
sleep 5
kill $dump; wait $dump 2>/dev/null || true
wait 2>/dev/null || true
grep -q "Call established" "$work/alice.log" || { echo "the call was not established" >&2; exit 1; }
cp "$work/call.pcap" "$root/captures/baresip-sip-tls-srtp.pcap"
{
  echo "# facts of captures/baresip-sip-tls-srtp.pcap: baresip $(baresip -h 2>&1 | head -1 | cut -d' ' -f2), SIP over TLS to port 5065, PCMU, mediaenc=srtp-mand (SDES inside TLS)"
  echo "sip_transport=tls"
  echo "sip_tls_port=5065"
  echo "codec_payload_type=0"
  echo "media_proto=RTP/SAVP"
  grep -aoE "SRTP is Enabled \(cryptosuite=[A-Z0-9_]+\)" "$work/alice.log" | head -1 | sed 's/.*cryptosuite=\(.*\))/srtp_suite=\1/'
  grep -aE "^(m=|a=crypto)" "$work/alice.log" | sed 's/\r$//' | sort -u | sed 's/^/sdp_line=/'
} > "$root/captures/baresip-sip-tls-srtp.expected"
echo "wrote captures/baresip-sip-tls-srtp.pcap and its .expected"
