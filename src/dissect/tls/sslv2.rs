//! SSL 2.0 hello messages (draft-hickman-netscape-ssl-00), which tls-parser does not parse.
//!
//! Old clients open with an SSLv2-format ClientHello even when they can speak SSL 3.0/TLS; a
//! server that answers in SSLv2 sends a ServerHello carrying its certificate. Only the 2-byte
//! record header form is used for hellos.

pub struct ClientHello {
    pub version: u16,
    /// Cipher specs: SSLv2 kinds as 24-bit values, TLS suites (`00 xx yy`) as their 16-bit id.
    pub ciphers: Vec<u32>,
}

pub struct ServerHello<'a> {
    /// The first cipher spec the server lists.
    pub cipher: u32,
    pub certificate: Option<&'a [u8]>,
}

pub enum Parsed<'a> {
    Incomplete,
    Invalid,
    ClientHello(ClientHello),
    ServerHello(ServerHello<'a>),
}

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 4;

/// Quick check of the first bytes of a stream.
pub fn looks_like_hello(b: &[u8]) -> bool {
    if b.len() < 3 || b[0] & 0x80 == 0 {
        return false;
    }
    let len = (usize::from(b[0] & 0x7F) << 8) | usize::from(b[1]);
    match b[2] {
        CLIENT_HELLO => {
            len >= 9 && (b.len() < 5 || valid_version(u16::from_be_bytes([b[3], b[4]])))
        }
        SERVER_HELLO => len >= 11,
        _ => false,
    }
}

fn valid_version(v: u16) -> bool {
    matches!(v, 0x0002 | 0x0300..=0x0304)
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn cipher_spec(spec: &[u8]) -> u32 {
    (u32::from(spec[0]) << 16) | (u32::from(spec[1]) << 8) | u32::from(spec[2])
}

/// Parse one SSLv2 record holding a hello.
pub fn parse_record(b: &[u8]) -> Parsed<'_> {
    if b.len() < 2 {
        return Parsed::Incomplete;
    }
    if b[0] & 0x80 == 0 {
        return Parsed::Invalid;
    }
    let len = (usize::from(b[0] & 0x7F) << 8) | usize::from(b[1]);
    if b.len() < 2 + len {
        return Parsed::Incomplete;
    }
    let body = &b[2..2 + len];
    match body.first() {
        Some(&CLIENT_HELLO) if body.len() >= 9 => {
            let version = be16(body, 1) as u16;
            let (specs_len, sid_len, chal_len) = (be16(body, 3), be16(body, 5), be16(body, 7));
            if !valid_version(version)
                || specs_len % 3 != 0
                || 9 + specs_len + sid_len + chal_len > body.len()
            {
                return Parsed::Invalid;
            }
            let ciphers = body[9..9 + specs_len]
                .chunks_exact(3)
                .map(cipher_spec)
                .collect();
            Parsed::ClientHello(ClientHello { version, ciphers })
        }
        Some(&SERVER_HELLO) if body.len() >= 11 => {
            let (cert_len, specs_len, conn_len) = (be16(body, 5), be16(body, 7), be16(body, 9));
            if specs_len % 3 != 0 || 11 + cert_len + specs_len + conn_len > body.len() {
                return Parsed::Invalid;
            }
            let certificate = (cert_len > 0).then(|| &body[11..11 + cert_len]);
            let specs = &body[11 + cert_len..11 + cert_len + specs_len];
            let cipher = specs.chunks_exact(3).next().map_or(0, cipher_spec);
            Parsed::ServerHello(ServerHello {
                cipher,
                certificate,
            })
        }
        _ => Parsed::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_with_v2_and_tls_specs() {
        // version 3.1, 2 cipher specs, no session id, 16-byte challenge
        let mut body = vec![1, 3, 1, 0, 6, 0, 0, 0, 16];
        body.extend_from_slice(&[0x01, 0x00, 0x80, 0x00, 0x00, 0x2F]);
        body.extend_from_slice(&[0xAA; 16]);
        let mut rec = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
        rec.extend_from_slice(&body);
        assert!(looks_like_hello(&rec));
        match parse_record(&rec) {
            Parsed::ClientHello(ch) => {
                assert_eq!(ch.version, 0x0301);
                assert_eq!(ch.ciphers, vec![0x010080, 0x002F]);
            }
            _ => panic!("expected a ClientHello"),
        }
        assert!(matches!(parse_record(&rec[..10]), Parsed::Incomplete));
    }
}
