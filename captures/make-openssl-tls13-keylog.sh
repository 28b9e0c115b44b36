#!/usr/bin/env bash
# Make captures/openssl-tls13-keylog.pcap and its key log captures/openssl-tls13-keylog.keys:
# four TLS 1.3 sessions between OpenSSL's s_client and s_server on loopback, captured with
# tcpdump, the clients writing their secrets in the NSS key log format (-keylogfile, what
# browsers write under SSLKEYLOGFILE). TLS 1.3 encrypts the server's certificate; with the key
# log callproof can read it. Plus captures/openssl-tls13-keylog.expected: the facts the tests
# expect, taken from OpenSSL and the options below -- never from callproof.
#   44331  TLS_AES_128_GCM_SHA256,       SNI callproof.test, ALPN h2
#   44332  TLS_AES_256_GCM_SHA384,       SNI other.example (not a name of the certificate)
#   44333  TLS_CHACHA20_POLY1305_SHA256, SNI callproof.test
#   44334  TLS_AES_128_GCM_SHA256,       SNI callproof.test, its secrets left out of the key log
# Needs: openssl, tcpdump, root (or CAP_NET_RAW) for capturing on lo. Run from the repo root.
set -euo pipefail
out=captures/openssl-tls13-keylog.pcap
keys=captures/openssl-tls13-keylog.keys
exp=captures/openssl-tls13-keylog.expected
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# A two-level chain: an RSA root signs an EC P-256 leaf for callproof.test.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
  -subj "/C=DE/O=callproof test CA/CN=callproof keylog root" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
  -subj "/C=DE/O=callproof test/CN=callproof.test" >/dev/null 2>&1
printf 'subjectAltName=DNS:callproof.test,DNS:meet.callproof.test\n' > ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem \
  -days 825 -sha256 -extfile ext.cnf >/dev/null 2>&1

tcpdump -i lo -U -s 0 -w capture.pcap 'tcp portrange 44331-44334' >/dev/null 2>&1 &
sleep 1
serve() { # port ciphersuite
  openssl s_server -quiet -accept "$1" -cert leaf.pem -key leaf.key -cert_chain ca.pem \
    -tls1_3 -ciphersuites "$2" -alpn h2 -naccept 1 >/dev/null 2>&1 &
}
serve 44331 TLS_AES_128_GCM_SHA256
serve 44332 TLS_AES_256_GCM_SHA384
serve 44333 TLS_CHACHA20_POLY1305_SHA256
serve 44334 TLS_AES_128_GCM_SHA256
sleep 1
connect() { # port sni keylog
  echo hello | openssl s_client -connect "127.0.0.1:$1" -servername "$2" -alpn h2 -tls1_3 \
    -keylogfile "$3" -ign_eof >/dev/null 2>&1 || true
}
connect 44331 callproof.test keys.txt
connect 44332 other.example keys.txt
connect 44333 callproof.test keys.txt
connect 44334 callproof.test withheld.txt
sleep 1
kill %1
wait %1 2>/dev/null || true

cd - >/dev/null
cp "$work/capture.pcap" "$out"
cp "$work/keys.txt" "$keys"
{
  echo "# facts of $out, from OpenSSL and the options of make-openssl-tls13-keylog.sh"
  echo "ports=44331 44332 44333 44334"
  echo "44331.cipher=TLS_AES_128_GCM_SHA256"
  echo "44332.cipher=TLS_AES_256_GCM_SHA384"
  echo "44333.cipher=TLS_CHACHA20_POLY1305_SHA256"
  echo "44334.cipher=TLS_AES_128_GCM_SHA256"
  echo "44332.sni=other.example"
  echo "withheld=44334"
  echo "alpn_selected=h2"
  echo "leaf.subject=$(openssl x509 -in "$work/leaf.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  echo "leaf.sha256=$(openssl x509 -in "$work/leaf.pem" -outform DER | sha256sum | cut -d' ' -f1)"
  echo "root.subject=$(openssl x509 -in "$work/ca.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  echo "root.sha256=$(openssl x509 -in "$work/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)"
} > "$exp"
echo "wrote $out, $keys and $exp"
