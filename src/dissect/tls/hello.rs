//! ClientHello and ServerHello facts from their fields and extensions, shared by TLS and DTLS.

use tls_parser::{TlsCipherSuiteID, TlsExtension, TlsExtensionType, parse_tls_extension};

use super::names;

/// Extension type of `use_srtp` (RFC 5764 §4.1.1), which tls-parser leaves unparsed.
const EXT_USE_SRTP: u16 = 14;

/// What the ClientHello offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHelloFacts {
    pub frame: u64,
    pub legacy_version: u16,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// From `supported_versions`, GREASE removed; empty when the extension is absent.
    pub supported_versions: Vec<u16>,
    /// Offered cipher suites in order, GREASE removed.
    pub ciphers: Vec<u32>,
    /// Came in an SSLv2-compatible record.
    pub sslv2_format: bool,
    /// DTLS-SRTP protection profiles offered in `use_srtp`, in order.
    pub srtp_profiles: Vec<u16>,
}

/// What the ServerHello chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHelloFacts {
    pub frame: u64,
    pub legacy_version: u16,
    /// From the server's `supported_versions` extension (TLS 1.3).
    pub selected_version: Option<u16>,
    pub cipher: u32,
    pub alpn: Option<String>,
    /// At least one HelloRetryRequest preceded the real ServerHello.
    pub hello_retry: bool,
    /// DTLS-SRTP protection profile the server selected in `use_srtp`.
    pub srtp_profile: Option<u16>,
}

/// Which direction of a flow (0 = the flow's client side) sent the ClientHello and the
/// ServerHello: the hello senders decide the roles, whatever the flow table guessed.
#[derive(Debug, Clone, Copy, Default)]
pub struct HelloSides {
    pub client: Option<usize>,
    pub server: Option<usize>,
}

impl HelloSides {
    /// The ClientHello came from the side the flow table took for the server.
    pub fn client_is_responder(&self) -> bool {
        match (self.client, self.server) {
            (Some(c), _) => c == 1,
            (None, Some(s)) => s == 0,
            (None, None) => false,
        }
    }

    /// The direction the server sends in.
    pub fn server_dir(&self) -> usize {
        match (self.server, self.client) {
            (Some(s), _) => s,
            (None, Some(c)) => 1 - c,
            (None, None) => 1,
        }
    }
}

/// Facts of a ClientHello with these fields.
pub fn client_hello(
    frame: u64,
    legacy_version: u16,
    ciphers: &[TlsCipherSuiteID],
    ext: Option<&[u8]>,
) -> ClientHelloFacts {
    let mut facts = ClientHelloFacts {
        frame,
        legacy_version,
        ciphers: ciphers
            .iter()
            .map(|c| c.0)
            .filter(|&c| !names::is_grease(c))
            .map(u32::from)
            .collect(),
        ..Default::default()
    };
    for e in extensions(ext) {
        match e {
            TlsExtension::SNI(list) => {
                if let Some((_, name)) = list.iter().find(|(t, _)| t.0 == 0) {
                    facts.sni = Some(String::from_utf8_lossy(name).into_owned());
                }
            }
            TlsExtension::ALPN(protos) => {
                facts.alpn = protos
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
            }
            TlsExtension::SupportedVersions(vs) => {
                facts.supported_versions = vs
                    .iter()
                    .map(|v| v.0)
                    .filter(|&v| !names::is_grease(v))
                    .collect();
            }
            TlsExtension::Unknown(t, data) if t.0 == EXT_USE_SRTP => {
                facts.srtp_profiles = srtp_profiles(data);
            }
            _ => {}
        }
    }
    facts
}

/// Facts of a ServerHello with these fields.
pub fn server_hello(
    frame: u64,
    legacy_version: u16,
    cipher: u16,
    ext: Option<&[u8]>,
) -> ServerHelloFacts {
    let mut facts = ServerHelloFacts {
        frame,
        legacy_version,
        cipher: u32::from(cipher),
        ..Default::default()
    };
    for e in extensions(ext) {
        match e {
            TlsExtension::SupportedVersions(vs) => {
                facts.selected_version = vs.first().map(|v| v.0);
            }
            TlsExtension::ALPN(protos) => {
                facts.alpn = protos
                    .first()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
            }
            TlsExtension::Unknown(t, data) if t.0 == EXT_USE_SRTP => {
                facts.srtp_profile = srtp_profiles(data).first().copied();
            }
            _ => {}
        }
    }
    facts
}

/// Each extension parsed on its own, so that one tls-parser cannot read (an unusual or
/// malformed body) does not hide the others; such an extension is kept as `Unknown`.
fn extensions(ext: Option<&[u8]>) -> Vec<TlsExtension<'_>> {
    let mut out = Vec::new();
    let mut rest = ext.unwrap_or_default();
    while rest.len() >= 4 {
        let t = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let Some(raw) = rest.get(..4 + len) else {
            break;
        };
        match parse_tls_extension(raw) {
            Ok((_, e)) => out.push(e),
            Err(_) => out.push(TlsExtension::Unknown(TlsExtensionType(t), &raw[4..])),
        }
        rest = &rest[4 + len..];
    }
    out
}

/// `use_srtp` body: a 2-byte length, 2-byte profile ids, then the MKI (ignored).
fn srtp_profiles(data: &[u8]) -> Vec<u16> {
    let Some(len) = data
        .get(..2)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    else {
        return Vec::new();
    };
    data.get(2..2 + len)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_srtp_profiles() {
        // RFC 5764: two profiles (0x0001, 0x0007), empty MKI
        assert_eq!(srtp_profiles(&[0, 4, 0, 1, 0, 7, 0]), vec![1, 7]);
        assert_eq!(srtp_profiles(&[0, 9, 0, 1]), Vec::<u16>::new());
        assert_eq!(srtp_profiles(&[]), Vec::<u16>::new());
    }
}
