#!/usr/bin/env bash
# Make captures/baresip-sip-vp8-audiolevel.pcap (a SIP call with audio and VP8 video over plain
# RTP, the audio carrying RFC 6464 audio levels in an RTP header extension announced by
# a=extmap) and captures/baresip-sip-srtp-audiolevel.pcap (the same call with SDES-SRTP: the
# media is encrypted, the header extension is not). Two real baresip user agents on loopback,
# audio from a 440 Hz tone file, video from baresip's fakevideo source, captured with tcpdump.
# The .expected files record what the configuration asked for and the SDP lines of baresip's
# own SIP trace -- never callproof's output. Needs: baresip-core (Debian), tcpdump, root.
# Run from the repository root.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work/tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * 6)))
w.close()
PY

make_ua() { # name port mediaenc
  local dir="$work/$1"
  mkdir -p "$dir"
  cat > "$dir/config" <<CFG
poll_method epoll
sip_listen 127.0.0.1:$2
net_interface 127.0.0.1
audio_source aufile,$work/tone.wav
audio_player aufile,$dir/heard.wav
audio_alert aufile,$dir/alert.wav
audio_level yes
video_source fakevideo,nil
video_display fakevideo,nil
video_size 320x240
video_fps 15
video_bitrate 300000
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module vp8.so
module fakevideo.so
module srtp.so
module_app account.so
module_app menu.so
rtp_ports 20000-20100
rtcp_mux no
CFG
  local enc=""
  [ -n "$3" ] && enc=";mediaenc=$3"
  echo "<sip:$1@127.0.0.1:$2>;regint=0;answermode=auto;audio_codecs=PCMU;video_codecs=VP8$enc" > "$dir/accounts"
}

call() { # out.pcap mediaenc
  rm -rf "$work"/alice "$work"/bob
  make_ua bob 5064 "$2"
  make_ua alice 5062 "$2"
  tcpdump -i lo -U -s 0 -w "$work/call.pcap" '(udp or tcp) and (portrange 5062-5064 or portrange 20000-20100)' >/dev/null 2>&1 &
  local dump=$!
  sleep 1
  baresip -f "$work/bob" -t 12 > "$work/bob.log" 2>&1 &
  sleep 1
  baresip -f "$work/alice" -s -e "/dial sip:bob@127.0.0.1:5064" -t 8 > "$work/alice.log" 2>&1 || true
  sleep 5
  kill $dump; wait $dump 2>/dev/null || true
  wait 2>/dev/null || true
  cp "$work/call.pcap" "$root/$1"
  grep -hE "^(m=|a=extmap|a=rtpmap|a=crypto)" "$work/alice.log" | sed 's/\r$//' | sort -u > "$work/sdp.txt" || true
}

call captures/baresip-sip-vp8-audiolevel.pcap ""
{
  echo "# facts of captures/baresip-sip-vp8-audiolevel.pcap: baresip $(baresip -h 2>&1 | head -1 | cut -d' ' -f2), PCMU + VP8 over plain RTP, audio_level yes"
  echo "media_proto=RTP/AVP"
  sed 's/^/sdp_line=/' "$work/sdp.txt"
} > captures/baresip-sip-vp8-audiolevel.expected
call captures/baresip-sip-srtp-audiolevel.pcap "srtp-mand"
{
  echo "# facts of captures/baresip-sip-srtp-audiolevel.pcap: baresip, PCMU + VP8, mediaenc=srtp-mand (SDES), audio_level yes"
  echo "media_proto=RTP/SAVP"
  sed 's/^/sdp_line=/' "$work/sdp.txt"
} > captures/baresip-sip-srtp-audiolevel.expected
echo "wrote captures/baresip-sip-{vp8,srtp}-audiolevel.pcap and their .expected"
