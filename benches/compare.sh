#!/usr/bin/env bash
# Compare callproof with its peers on the same capture, in the same run, on this machine.
#
# usage: benches/compare.sh [CAPTURE]        (default: builds benches/data/compare-1g.pcap)
#
# Without CAPTURE, benches/make-bench-capture.py builds a 1 GiB capture from every frame of the
# real captures in ../shared/captures (TLS with certificate chains, STUN/DTLS/SRTP, Zoom UDP,
# DNS, QUIC, SIP/RTP), repeated with rewritten addresses. Every tool runs pinned to one core
# (taskset -c 0) under /usr/bin/time -v, after one untimed read to warm the page cache (callproof
# also once unpinned: its packet path beside the threads hashing the file and judging flows):
#   dd bs=1M               reading the file (cat > /dev/null is no measure: it may not read)
#   tcpdump -r -w /dev/null libpcap's read loop
#   callproof analyze      the whole pipeline, verdict written
#   ndpiReader -i -q       nDPI's classification (Debian libndpi-bin)
#   tshark -r -Y -T fields the TLS/DTLS handshake facts callproof reports (Debian tshark)
# then batch scaling: 8 captures of 128 MB with --jobs 1 on one core, --jobs 1 and --jobs 2.
# Prints frames/s, MB/s, peak memory and the ratios to callproof as a Markdown table.
# Needs: python3, tcpdump, tshark, libndpi-bin, time (Debian packages), a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in python3 tcpdump tshark ndpiReader taskset /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "compare.sh: $tool is missing (apt-get install tcpdump tshark libndpi-bin time)" >&2
    exit 1
  }
done

cargo build --release --quiet
callproof=target/release/callproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

capture=${1:-benches/data/compare-1g.pcap}
if [ ! -f "$capture" ]; then
  python3 benches/make-bench-capture.py --mb 1024 --out "$capture"
fi
bytes=$(stat -L -c %s "$capture")
"$callproof" analyze "$capture" --quiet --out "$work/frames.json"
frames=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inputs"][0]["frames"])' "$work/frames.json")
flows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["flows"]))' "$work/frames.json")

# (name, /usr/bin/time -v output) -> "name<TAB>wall seconds<TAB>peak RSS kB"
cat >"$work/wall_and_rss.py" <<'EOF'
import re, sys
name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
secs = 0.0
for part in wall.split(":"):
    secs = secs * 60 + float(part)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
print(f"{name}\t{secs}\t{rss}")
EOF

# name, command...: one timed run pinned to core 0; records wall seconds and peak RSS (kB)
results="$work/results.tsv"
measure() {
  local name=$1
  shift
  taskset -c 0 /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
    echo "compare.sh: $name failed:" >&2
    cat "$work/stderr.txt" >&2
    exit 1
  }
  python3 "$work/wall_and_rss.py" "$name" "$work/time.txt" >>"$results"
}

# the same, not pinned: callproof's analysis is one thread, its SHA-256 of the file another
measure_unpinned() {
  local name=$1
  shift
  /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
    echo "compare.sh: $name failed:" >&2
    cat "$work/stderr.txt" >&2
    exit 1
  }
  python3 "$work/wall_and_rss.py" "$name" "$work/time.txt" >>"$results"
}

dd if="$capture" of=/dev/null bs=1M status=none # warm the page cache
: >"$results"
measure "dd bs=1M" dd if="$capture" of=/dev/null bs=1M status=none
measure "tcpdump -r -w /dev/null (libpcap read loop)" tcpdump -r "$capture" -w /dev/null
measure "callproof analyze" "$callproof" analyze "$capture" --quiet --out "$work/verdict.json"
measure_unpinned "callproof analyze, 2 cores (SHA-256 and flow judging on threads of their own)" \
  "$callproof" analyze "$capture" --quiet --out "$work/verdict.json"
measure "ndpiReader -i -q" ndpiReader -i "$capture" -q
measure "tshark TLS/DTLS handshake fields" tshark -r "$capture" -n \
  -Y "tls.handshake.type == 1 or tls.handshake.type == 2 or dtls.handshake.type == 1 or dtls.handshake.type == 2" \
  -T fields -e frame.number -e ip.src -e ip.dst -e tls.handshake.extensions_server_name \
  -e tls.handshake.version -e tls.handshake.ciphersuite -e dtls.handshake.ciphersuite \
  -e tls.handshake.extensions.supported_version

# batch scaling: 8 captures of 128 MB
mkdir -p "$work/batch"
python3 benches/make-bench-capture.py --mb 128 --out "$work/batch/c0.pcap" >/dev/null
for i in 1 2 3 4 5 6 7; do cp "$work/batch/c0.pcap" "$work/batch/c$i.pcap"; done
batch_bytes=$(du -cb "$work"/batch/*.pcap | tail -1 | cut -f1)
cat "$work"/batch/*.pcap >/dev/null
# --jobs 1 on one core (the single-threaded baseline), --jobs 1 on all cores (the capture's
# hashing and judging threads take the spare core), --jobs 2 on all cores
/usr/bin/time -v -o "$work/time.txt" taskset -c 0 "$callproof" analyze "$work/batch" --quiet \
  --out-dir "$work/out-pinned" --jobs 1 >/dev/null 2>"$work/stderr.txt"
python3 "$work/wall_and_rss.py" "batch 8 x 128 MB, --jobs 1, one core" "$work/time.txt" >>"$results"
for jobs in 1 2; do
  /usr/bin/time -v -o "$work/time.txt" "$callproof" analyze "$work/batch" --quiet \
    --out-dir "$work/out-$jobs" --jobs "$jobs" >/dev/null 2>"$work/stderr.txt"
  python3 "$work/wall_and_rss.py" "batch 8 x 128 MB, --jobs $jobs" "$work/time.txt" >>"$results"
done

python3 - "$results" "$bytes" "$frames" "$flows" "$batch_bytes" "$capture" <<'EOF'
import sys, platform, datetime, os
path, size, frames, flows, batch_bytes, capture = sys.argv[1:]
size, frames, flows, batch_bytes = int(size), int(frames), int(flows), int(batch_bytes)
rows = [l.rstrip("\n").split("\t") for l in open(path)]
single = [(n, float(s), int(r)) for n, s, r in rows if not n.startswith("batch")]
batch = [(n, float(s), int(r)) for n, s, r in rows if n.startswith("batch")]
cp = next(s for n, s, _ in single if n == "callproof analyze")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Measured {datetime.date.today()} on {cpu}, {os.cpu_count()} cores, {platform.system()} "
      f"{platform.release()}; capture {capture}: {size / 1e6:.0f} MB, {frames:,} frames, "
      f"{flows:,} flows; one core each (taskset -c 0) unless the row says otherwise, page cache warm.\n")
print("| tool | wall s | frames/s | MB/s | peak RSS MB | callproof is ×faster |")
print("|---|---:|---:|---:|---:|---:|")
for n, s, r in single:
    s = max(s, 0.01)
    ratio = "—" if n == "callproof analyze" else f"{s / cp:.2f}"
    print(f"| {n} | {s:.2f} | {frames / s / 1e6:.2f} M | {size / s / 1e6:.0f} | {r / 1024:.0f} | {ratio} |")
if len(batch) == 3:
    (_, s0, _), (n1, s1, r1), (n2, s2, r2) = batch
    print(f"\nBatch of 8 captures ({batch_bytes / 1e6:.0f} MB): --jobs 1 on one core {s0:.2f} s, "
          f"--jobs 1 {s1:.2f} s (peak {r1 / 1024:.0f} MB), --jobs 2 {s2:.2f} s "
          f"(peak {r2 / 1024:.0f} MB): {s0 / s2:.2f}× with 2 jobs on {os.cpu_count()} cores "
          f"against one core; {s1 / s2:.2f}× against --jobs 1 on {os.cpu_count()} cores "
          f"(whose helper threads already use the spare core).")
EOF
