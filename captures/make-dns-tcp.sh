#!/usr/bin/env bash
# Make captures/dns-tcp.pcap: DNS queries over TCP (dig +tcp) and over UDP (dig) to a dnsmasq
# serving fixed answers on 127.0.0.1:53, captured with tcpdump on lo, and
# captures/dns-tcp.expected with the answers dig printed. No query leaves the machine
# (dnsmasq runs with --no-resolv and answers only its own names).
# Needs: dnsmasq-base, bind9-dnsutils (dig), tcpdump, root. Run from the repository root.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
dnsmasq --no-daemon --no-resolv --no-hosts --port=53 --listen-address=127.0.0.1 --bind-interfaces \
  --address=/meet.callproof.test/192.0.2.80 --address=/media.callproof.test/198.51.100.7 \
  > "$work/dnsmasq.log" 2>&1 &
tcpdump -i lo -U -s 0 -w "$work/dns.pcap" 'port 53' >/dev/null 2>&1 &
sleep 1
tcp=$(dig +tcp +short @127.0.0.1 meet.callproof.test A)
udp=$(dig +notcp +short @127.0.0.1 media.callproof.test A)
sleep 1
kill %2; wait %2 2>/dev/null || true
cp "$work/dns.pcap" "$root/captures/dns-tcp.pcap"
{
  echo "# facts of captures/dns-tcp.pcap: what dig printed (dnsmasq answers)"
  echo "tcp_name=meet.callproof.test"
  echo "tcp_answer=$tcp"
  echo "udp_name=media.callproof.test"
  echo "udp_answer=$udp"
} > "$root/captures/dns-tcp.expected"
echo "wrote captures/dns-tcp.pcap and captures/dns-tcp.expected"
