#!/usr/bin/env bash
# Make captures/openssl-tls.pcap: real TLS 1.2 and TLS 1.3 sessions between OpenSSL's s_client and
# s_server on loopback, captured with tcpdump, plus captures/openssl-tls.expected (the facts the
# test expects, taken from OpenSSL and from the options below -- never from callproof).
# Needs: openssl, tcpdump, root (or CAP_NET_RAW) for capturing on lo. Run from the repo root.
set -euo pipefail
out=captures/openssl-tls.pcap
exp=captures/openssl-tls.expected
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# A two-level chain: an RSA root signs an EC P-256 leaf for callproof.test.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
  -subj "/C=DE/O=callproof test CA/CN=callproof test root" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
  -subj "/C=DE/L=Berlin/O=callproof, test/CN=callproof.test" >/dev/null 2>&1
printf 'subjectAltName=DNS:callproof.test,DNS:media.callproof.test,IP:127.0.0.1\n' > ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem \
  -days 825 -sha256 -extfile ext.cnf >/dev/null 2>&1
cat leaf.pem ca.pem > chain.pem

tcpdump -i lo -U -s 0 -w capture.pcap 'tcp port 44312 or tcp port 44313' >/dev/null 2>&1 &
sleep 1
openssl s_server -quiet -accept 44312 -cert leaf.pem -key leaf.key -cert_chain ca.pem \
  -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -alpn h2 >/dev/null 2>&1 &
openssl s_server -quiet -accept 44313 -cert leaf.pem -key leaf.key -cert_chain ca.pem \
  -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 >/dev/null 2>&1 &
sleep 1
echo hello | openssl s_client -connect 127.0.0.1:44312 -servername callproof.test \
  -alpn h2,http/1.1 -tls1_2 -ign_eof >/dev/null 2>&1 || true
echo hello | openssl s_client -connect 127.0.0.1:44313 -servername media.callproof.test \
  -tls1_3 -ign_eof >/dev/null 2>&1 || true
sleep 1
kill %1
wait %1 2>/dev/null || true

cd - >/dev/null
cp "$work/capture.pcap" "$out"
{
  echo "# facts of $out, from OpenSSL and the options of make-openssl-tls.sh"
  echo "tls12.server_port=44312"
  echo "tls12.version=TLS 1.2"
  echo "tls12.cipher=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
  echo "tls12.sni=callproof.test"
  echo "tls12.alpn_selected=h2"
  echo "tls13.server_port=44313"
  echo "tls13.version=TLS 1.3"
  echo "tls13.cipher=TLS_CHACHA20_POLY1305_SHA256"
  echo "tls13.sni=media.callproof.test"
  echo "leaf.subject=$(openssl x509 -in "$work/leaf.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  echo "leaf.issuer=$(openssl x509 -in "$work/leaf.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')"
  echo "leaf.sha256=$(openssl x509 -in "$work/leaf.pem" -outform DER | sha256sum | cut -d' ' -f1)"
  echo "root.subject=$(openssl x509 -in "$work/ca.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  echo "root.sha256=$(openssl x509 -in "$work/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)"
} > "$exp"
echo "wrote $out and $exp"
