#!/usr/bin/env bash
# Compare callproof with its peers on the same captures, in the same run, on this machine.
#
# usage: [ROUNDS=N] benches/compare.sh [CAPTURE...]
#   (default: benches/data/compare-1g.pcap and benches/data/compare-call-1g.pcap, built if missing;
#   ROUNDS, default 3: interleaved rounds of the fast tools, see below)
#
# Without CAPTURE, benches/make-bench-capture.py builds two captures of 1 GiB from the real
# captures in ../shared/captures:
#   mixed  every frame of every shared capture (TLS with certificate chains, STUN/DTLS/SRTP, Zoom
#          UDP, DNS, QUIC, SIP/RTP), repeated with rewritten addresses: a new flow every 27
#          frames, the worst case for per-flow work;
#   call   the conferencing captures once, then their UDP media again and again on the same
#          addresses: a few hundred long flows, what a long test call looks like.
# On each capture every tool runs pinned to one core (taskset -c 0) under /usr/bin/time -v,
# after one untimed read to warm the page cache (callproof also unpinned: its packet path
# beside the threads hashing the file and judging flows). All but tshark run ROUNDS times, one
# run of each tool per round, and each row shows the fastest run (and the highest peak memory):
# on a shared VM a run is now and then slowed by a neighbour by 20 % or more, and interleaving
# spreads such a spell over all tools rather than one. tshark (a minute or more a run) runs once.
#   dd bs=1M               reading the file (cat > /dev/null is no measure: it may not read)
#   tcpdump -r -w /dev/null libpcap's read loop
#   openssl dgst -sha256   the SHA-256 of the file, which callproof computes for the verdict
#   callproof analyze      the whole pipeline, verdict written
#   ndpiReader -i -q       nDPI's classification (Debian libndpi-bin)
#   tshark -r -Y -T fields the TLS/DTLS handshake facts callproof reports (Debian tshark)
# then batch scaling: 8 captures of 128 MB (mixed, then call-shaped) with --jobs 1 on one core,
# --jobs 1 and --jobs 2, also in ROUNDS interleaved rounds. Prints frames/s, MB/s, peak memory and the ratios to callproof as
# Markdown tables.
# Needs: python3, tcpdump, tshark, libndpi-bin, time, openssl (Debian packages), a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in python3 tcpdump tshark ndpiReader openssl taskset /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "compare.sh: $tool is missing (apt-get install tcpdump tshark libndpi-bin time openssl)" >&2
    exit 1
  }
done

rounds=${ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: ROUNDS must be a positive number" >&2; exit 1; }

cargo build --release --quiet
callproof=target/release/callproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ $# -eq 0 ]; then
  set -- benches/data/compare-1g.pcap benches/data/compare-call-1g.pcap
  [ -f "$1" ] || python3 benches/make-bench-capture.py --mb 1024 --out "$1"
  [ -f "$2" ] || python3 benches/make-bench-capture.py --shape call --mb 1024 --out "$2"
fi
for capture in "$@"; do
  [ -f "$capture" ] || { echo "compare.sh: no capture $capture" >&2; exit 1; }
done

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

# capture: the single-file rows of one capture, and their table
compare_one() {
  local capture=$1
  local bytes frames flows
  bytes=$(stat -L -c %s "$capture")
  "$callproof" analyze "$capture" --quiet --out "$work/frames.json"
  read -r frames flows < <(python3 -c 'import json,sys; v = json.load(open(sys.argv[1]))
print(v["inputs"][0]["frames"], len(v["flows"]))' "$work/frames.json")
  dd if="$capture" of=/dev/null bs=1M status=none # warm the page cache
  : >"$results"
  local round
  for round in $(seq "$rounds"); do
    measure "dd bs=1M" dd if="$capture" of=/dev/null bs=1M status=none
    measure "tcpdump -r -w /dev/null (libpcap read loop)" tcpdump -r "$capture" -w /dev/null
    measure "openssl dgst -sha256 (the SHA-256 every verdict records)" openssl dgst -sha256 "$capture"
    measure "callproof analyze" "$callproof" analyze "$capture" --quiet --out "$work/verdict.json"
    measure_unpinned "callproof analyze, 2 cores (SHA-256 and flow judging on threads of their own)" \
      "$callproof" analyze "$capture" --quiet --out "$work/verdict.json"
    measure "ndpiReader -i -q" ndpiReader -i "$capture" -q
  done
  measure "tshark TLS/DTLS handshake fields" tshark -r "$capture" -n \
    -Y "tls.handshake.type == 1 or tls.handshake.type == 2 or dtls.handshake.type == 1 or dtls.handshake.type == 2" \
    -T fields -e frame.number -e ip.src -e ip.dst -e tls.handshake.extensions_server_name \
    -e tls.handshake.version -e tls.handshake.ciphersuite -e dtls.handshake.ciphersuite \
    -e tls.handshake.extensions.supported_version
  python3 "$work/table.py" "$results" "$bytes" "$frames" "$flows" "$capture"
  echo
}

# the table of one capture's rows
cat >"$work/table.py" <<'EOF'
import sys, platform, datetime, os
path, size, frames, flows, capture = sys.argv[1:]
size, frames, flows = int(size), int(frames), int(flows)
# per tool, in the order first run: the fastest run, the highest peak memory, the number of runs
rows = {}
for n, s, r in (l.rstrip("\n").split("\t") for l in open(path)):
    best, peak, runs = rows.get(n, (float("inf"), 0, 0))
    rows[n] = (min(best, float(s)), max(peak, int(r)), runs + 1)
single = [(n, s, r, k) for n, (s, r, k) in rows.items()]
cp = rows["callproof analyze"][0]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu}, "
      f"{os.cpu_count()} cores, {platform.system()} {platform.release()}; capture {capture}: "
      f"{size / 1e6:.0f} MB, {frames:,} frames, {flows:,} flows; one core each (taskset -c 0) "
      f"unless the row says otherwise, page cache warm; the fastest of the row's runs "
      f"(interleaved rounds).\n")
print("| tool | runs | wall s | frames/s | MB/s | peak RSS MB | callproof is ×faster |")
print("|---|---:|---:|---:|---:|---:|---:|")
for n, s, r, k in single:
    s = max(s, 0.01)
    ratio = "—" if n == "callproof analyze" else f"{s / cp:.2f}"
    print(f"| {n} | {k} | {s:.2f} | {frames / s / 1e6:.2f} M | {size / s / 1e6:.0f} | {r / 1024:.0f} | {ratio} |")
EOF

for capture in "$@"; do
  compare_one "$capture"
done

# batch scaling: 8 captures of 128 MB of one shape (mixed or call)
batch_one() {
  local shape=$1
  rm -rf "$work/batch" "$work"/out-*
  mkdir -p "$work/batch"
  python3 benches/make-bench-capture.py --shape "$shape" --mb 128 --out "$work/batch/c0.pcap" >/dev/null
  for i in 1 2 3 4 5 6 7; do cp "$work/batch/c0.pcap" "$work/batch/c$i.pcap"; done
  local batch_bytes
  batch_bytes=$(du -cb "$work"/batch/*.pcap | tail -1 | cut -f1)
  cat "$work"/batch/*.pcap >/dev/null
  results="$work/batch.tsv"
  : >"$results"
  # --jobs 1 on one core (the single-threaded baseline), --jobs 1 on all cores (the capture's
  # hashing and judging threads take the spare core), --jobs 2 on all cores
  local round
  for round in $(seq "$rounds"); do
    /usr/bin/time -v -o "$work/time.txt" taskset -c 0 "$callproof" analyze "$work/batch" --quiet \
      --out-dir "$work/out-pinned" --jobs 1 >/dev/null 2>"$work/stderr.txt"
    python3 "$work/wall_and_rss.py" "batch, --jobs 1, one core" "$work/time.txt" >>"$results"
    for jobs in 1 2; do
      /usr/bin/time -v -o "$work/time.txt" "$callproof" analyze "$work/batch" --quiet \
        --out-dir "$work/out-$jobs" --jobs "$jobs" >/dev/null 2>"$work/stderr.txt"
      python3 "$work/wall_and_rss.py" "batch, --jobs $jobs" "$work/time.txt" >>"$results"
    done
    rm -rf "$work"/out-*
  done
  python3 - "$results" "$batch_bytes" "$shape" <<'EOF'
import sys, os
path, batch_bytes, shape = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for n, s, r in (l.rstrip("\n").split("\t") for l in open(path)):
    best, peak = rows.get(n, (float("inf"), 0))
    rows[n] = (min(best, float(s)), max(peak, int(r)))
(s0, _), (s1, r1), (s2, r2) = rows.values()
runs = sum(1 for _ in open(path)) // 3
print(f"Batch of 8 {shape} captures ({batch_bytes / 1e6:.0f} MB; fastest of {runs} interleaved "
      f"runs each): --jobs 1 on one core {s0:.2f} s, "
      f"--jobs 1 {s1:.2f} s (peak {r1 / 1024:.0f} MB), --jobs 2 {s2:.2f} s "
      f"(peak {r2 / 1024:.0f} MB): {s0 / s2:.2f}× with 2 jobs on {os.cpu_count()} cores "
      f"against one core; {s1 / s2:.2f}× against --jobs 1 on {os.cpu_count()} cores "
      f"(whose helper threads already use the spare core).")
EOF
}

batch_one mixed
batch_one call
