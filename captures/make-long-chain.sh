#!/usr/bin/env bash
# Make captures/long-chain.pcap: one real TLS 1.2 session between OpenSSL's s_client and
# s_server on loopback in which the server sends a chain of 20 certificates (its leaf, 18
# intermediates and the root), more than the 16 a verdict lists; plus
# captures/long-chain.expected (facts from OpenSSL's own output and the certificates made here
# -- never from callproof).
# Needs: openssl, tcpdump, root (or CAP_NET_RAW) for capturing on lo. Run from the repo root.
set -euo pipefail
out=captures/long-chain.pcap
exp=captures/long-chain.expected
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
# ca0 is the root; ca1..ca18 each sign the next; ca18 signs the leaf.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca0.key \
  -out ca0.pem -days 3650 -subj "/O=callproof test/CN=chain level 0" >/dev/null 2>&1
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.cnf
for i in $(seq 1 18); do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "ca$i.key" \
    -out "ca$i.csr" -subj "/O=callproof test/CN=chain level $i" >/dev/null 2>&1
  openssl x509 -req -in "ca$i.csr" -CA "ca$((i - 1)).pem" -CAkey "ca$((i - 1)).key" \
    -CAcreateserial -out "ca$i.pem" -days 3650 -sha256 -extfile ca.cnf >/dev/null 2>&1
done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
  -subj "/O=callproof test/CN=chain.callproof.test" >/dev/null 2>&1
printf 'subjectAltName=DNS:chain.callproof.test\n' > leaf.cnf
openssl x509 -req -in leaf.csr -CA ca18.pem -CAkey ca18.key -CAcreateserial -out leaf.pem \
  -days 825 -sha256 -extfile leaf.cnf >/dev/null 2>&1
for i in $(seq 18 -1 0); do cat "ca$i.pem"; done > chain.pem
tcpdump -i lo -U -s 0 -w capture.pcap 'tcp port 44331' >/dev/null 2>&1 &
sleep 1
openssl s_server -quiet -accept 44331 -cert leaf.pem -key leaf.key -cert_chain chain.pem \
  -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 >/dev/null 2>&1 &
sleep 1
echo hello | openssl s_client -connect 127.0.0.1:44331 -servername chain.callproof.test \
  -tls1_2 -showcerts -ign_eof > client.txt 2>&1 || true
sleep 1
kill %1
wait %1 2>/dev/null || true
cd - >/dev/null
cp "$work/capture.pcap" "$out"
# s_client -showcerts prints each certificate the server sent between BEGIN/END lines
sent=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$work/client.txt")
{
  echo "# facts of $out, from OpenSSL (s_client -showcerts) and the certificates of make-long-chain.sh"
  echo "server_port=44331"
  echo "version=TLS 1.2"
  echo "cipher=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
  echo "sni=chain.callproof.test"
  echo "chain.sent=$sent"
  echo "leaf.subject=$(openssl x509 -in "$work/leaf.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  echo "leaf.sha256=$(openssl x509 -in "$work/leaf.pem" -outform DER | sha256sum | cut -d' ' -f1)"
  for i in 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4; do
    echo "level$i.sha256=$(openssl x509 -in "$work/ca$i.pem" -outform DER | sha256sum | cut -d' ' -f1)"
  done
} > "$exp"
echo "wrote $out and $exp"
