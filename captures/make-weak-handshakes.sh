#!/usr/bin/env bash
# Make captures/weak-handshakes.pcap: real handshakes that a careful server would refuse, captured
# with tcpdump on loopback, plus captures/weak-handshakes.expected (facts taken from the tools'
# own output and from the certificate made here -- never from callproof):
#  - TLS 1.2, OpenSSL s_client/s_server, cipher NULL-SHA256 (no encryption), a self-signed
#    RSA-1024 certificate for weak.callproof.test valid 2020-01-01..2021-01-01, and a client that
#    asks for media.callproof.test (name mismatch);
#  - DTLS 1.2, GnuTLS gnutls-cli/gnutls-serv, use_srtp with SRTP_NULL_HMAC_SHA1_80 only (OpenSSL
#    does not implement the NULL SRTP profiles).
# Needs: openssl, gnutls-bin, python3 with cryptography, tcpdump, root (or CAP_NET_RAW) for lo.
# Run from the repo root.
set -euo pipefail
out=captures/weak-handshakes.pcap
exp=captures/weak-handshakes.expected
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

python3 - <<'PY'
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

utc = datetime.timezone.utc
key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak.callproof.test")])
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=utc))
    .not_valid_after(datetime.datetime(2021, 1, 1, tzinfo=utc))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("weak.callproof.test")]), False)
    .sign(key, hashes.SHA256())
)
with open("weak.key", "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
with open("weak.pem", "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
PY
openssl req -x509 -newkey rsa:2048 -nodes -keyout dtls.key -out dtls.pem -days 30 \
  -subj "/CN=dtls.callproof.test" >/dev/null 2>&1

tcpdump -i lo -U -s 0 -w capture.pcap 'tcp port 44321 or udp port 44323' >/dev/null 2>&1 &
sleep 1
openssl s_server -quiet -accept 44321 -cert weak.pem -key weak.key -tls1_2 \
  -cipher 'NULL-SHA256:@SECLEVEL=0' >/dev/null 2>&1 &
gnutls-serv --udp -p 44323 --x509certfile dtls.pem --x509keyfile dtls.key \
  --srtp-profiles=SRTP_NULL_HMAC_SHA1_80 >/dev/null 2>&1 &
sleep 1
echo hello | openssl s_client -connect 127.0.0.1:44321 -servername media.callproof.test \
  -tls1_2 -cipher 'NULL-SHA256:@SECLEVEL=0' -ign_eof > tls.log 2>&1 || true
echo hello | timeout 5 gnutls-cli --udp -p 44323 --insecure \
  --srtp-profiles=SRTP_NULL_HMAC_SHA1_80 127.0.0.1 > dtls.log 2>&1 || true
sleep 1
kill %1
wait %1 2>/dev/null || true

cd - >/dev/null
cp "$work/capture.pcap" "$out"
cipher=$(sed -n 's/^ *Cipher *: *//p' "$work/tls.log" | head -1)
profile=$(sed -n 's/^- SRTP profile: *//p' "$work/dtls.log" | head -1)
{
  echo "# facts of $out, from OpenSSL, GnuTLS and the certificate of make-weak-handshakes.sh"
  echo "tls.server_port=44321"
  echo "tls.openssl_cipher=$cipher"
  echo "tls.sni=media.callproof.test"
  echo "leaf.subject=$(openssl x509 -in "$work/weak.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
  echo "leaf.not_after=$(openssl x509 -in "$work/weak.pem" -noout -enddate | sed 's/^notAfter=//')"
  echo "leaf.key_bits=$(openssl x509 -in "$work/weak.pem" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')"
  echo "dtls.server_port=44323"
  echo "dtls.srtp_profile=$profile"
} > "$exp"
echo "wrote $out and $exp"
