#!/usr/bin/env bash
# Make captures/baresip-sip-rtp.pcap (a SIP call with plain RTP, G.711 µ-law) and
# captures/baresip-sip-sdes-srtp.pcap (the same call with SDES-SRTP keys in the SDP), between two
# real baresip user agents on loopback, captured with tcpdump. The expectations file records
# what the configuration asked for and what baresip's own SIP trace shows -- never callproof's
# output. Needs: baresip-core (Debian), tcpdump, root. Run from the repository root.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# The audio the caller sends: 6 s of a 440 Hz tone, 8 kHz mono (G.711's rate).
python3 - "$work/tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * 6)))
w.close()
PY

make_ua() { # name port mediaenc [codec]
  local dir="$work/$1"
  mkdir -p "$dir"
  cat > "$dir/config" <<CFG
poll_method epoll
sip_listen 127.0.0.1:$2
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
  local enc=""
  [ -n "$3" ] && enc=";mediaenc=$3"
  local codec=${4:-PCMU}
  if [ "$codec" = opus ]; then
    codec="opus/48000/2"
    # Opus runs at 48 kHz: the sine source produces it directly
    sed -i "s|^audio_source .*|audio_source ausine,440|; s|^module g711.so|module g711.so\nmodule opus.so\nmodule ausine.so|" "$dir/config"
  fi
  echo "<sip:$1@127.0.0.1:$2${SIP_TRANSPORT:+;transport=$SIP_TRANSPORT}>;regint=0;answermode=auto;audio_codecs=$codec$enc" > "$dir/accounts"
}

call() { # out.pcap mediaenc [codec]
  rm -rf "$work"/alice "$work"/bob
  make_ua bob 5064 "$2" "${3:-}"
  make_ua alice 5062 "$2" "${3:-}"
  tcpdump -i lo -U -s 0 -w "$work/call.pcap" '(udp or tcp) and (portrange 5062-5064 or portrange 20000-20100)' >/dev/null 2>&1 &
  local dump=$!
  sleep 1
  baresip -f "$work/bob" -t 14 > "$work/bob.log" 2>&1 &
  sleep 1
  baresip -f "$work/alice" -s -e "/dial sip:bob@127.0.0.1:5064${SIP_TRANSPORT:+;transport=$SIP_TRANSPORT}" -t 10 > "$work/alice.log" 2>&1 || true
  sleep 5
  kill $dump; wait $dump 2>/dev/null || true
  wait 2>/dev/null || true
  cp "$work/call.pcap" "$root/$1"
  grep -E "^(m=|a=crypto)" "$work/alice.log" | sed 's/\r$//' | sort -u > "$work/sdp.txt" || true
}

call captures/baresip-sip-rtp.pcap ""
{
  echo "# facts of captures/baresip-sip-rtp.pcap: baresip $(baresip -h 2>&1 | head -1 | cut -d' ' -f2), PCMU, no media encryption"
  echo "codec_payload_type=0"
  echo "media_proto=RTP/AVP"
  sed 's/^/sdp_line=/' "$work/sdp.txt"
} > captures/baresip-sip-rtp.expected
call captures/baresip-sip-sdes-srtp.pcap "srtp-mand"
{
  echo "# facts of captures/baresip-sip-sdes-srtp.pcap: baresip, PCMU, mediaenc=srtp-mand (SDES)"
  echo "codec_payload_type=0"
  echo "media_proto=RTP/SAVP"
  sed 's/^/sdp_line=/' "$work/sdp.txt"
} > captures/baresip-sip-sdes-srtp.expected
call captures/baresip-sip-opus-rtp.pcap "" opus
{
  echo "# facts of captures/baresip-sip-opus-rtp.pcap: baresip, Opus over plain RTP/AVP"
  echo "media_proto=RTP/AVP"
  grep -h "a=rtpmap" "$work/alice.log" | sed 's/\r$//' | sort -u | sed 's/^/sdp_line=/'
  sed 's/^/sdp_line=/' "$work/sdp.txt"
} > captures/baresip-sip-opus-rtp.expected
SIP_TRANSPORT=tcp call captures/baresip-sip-tcp.pcap ""
{
  echo "# facts of captures/baresip-sip-tcp.pcap: baresip, SIP over TCP, PCMU over plain RTP/AVP"
  echo "sip_transport=tcp"
  echo "media_proto=RTP/AVP"
  sed 's/^/sdp_line=/' "$work/sdp.txt"
} > captures/baresip-sip-tcp.expected
echo "wrote captures/baresip-sip-{rtp,sdes-srtp,opus-rtp,tcp}.pcap and their .expected"
