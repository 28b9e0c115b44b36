//! Per-flow encryption state: `encrypted`, `plaintext` or `unknown`, with the evidence.
//!
//! Honesty rules (DESIGN.md): "encrypted" only with evidence in `basis` — a negotiated
//! handshake whose cipher encrypts; "plaintext" only when clear content was seen or a NULL
//! cipher was negotiated; everything else is "unknown", saying what is missing.

use tls_parser::{TlsCipherEnc, TlsCipherSuite};

use crate::dissect::tls::{TlsFacts, names};
use crate::dissect::{Protocol, udp::UdpOutcome};
use crate::flow::{Flow, L4};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Encrypted,
    Plaintext,
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Encrypted => "encrypted",
            State::Plaintext => "plaintext",
            State::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    pub state: State,
    /// e.g. "TLS 1.3 (TLS_AES_128_GCM_SHA256)", "DTLS 1.2 + SRTP_AES128_CM_HMAC_SHA1_80".
    pub protection: Option<String>,
    pub basis: Vec<String>,
}

/// Whether a negotiated cipher suite encrypts (not a NULL cipher). Unknown code points count as
/// encrypting only if they are not in the IANA table at all (we cannot tell): `None`.
fn cipher_encrypts(id: u32) -> Option<bool> {
    if id > 0xFFFF {
        return Some(true); // SSLv2 cipher kinds all encrypt (export-grade, but encrypt)
    }
    TlsCipherSuite::from_id(id as u16).map(|cs| cs.enc != TlsCipherEnc::Null)
}

/// Judge a TLS-family handshake (TLS over TCP, DTLS, TLS inside QUIC).
fn from_handshake(kind: &str, t: &TlsFacts, media_profile: Option<u16>) -> Encryption {
    let (Some(version), Some(cipher)) = (t.version(), t.cipher()) else {
        let mut basis = Vec::new();
        if let Some(ch) = &t.client_hello {
            basis.push(format!("{kind} ClientHello in frame {}", ch.frame));
        }
        basis.push(format!(
            "no {kind} ServerHello captured: the negotiated protection is not visible"
        ));
        return Encryption {
            state: State::Unknown,
            protection: None,
            basis,
        };
    };
    let sh_frame = t.server_hello.as_ref().map_or(0, |s| s.frame);
    let mut protection = format!(
        "{} ({})",
        names::version_name(version),
        names::cipher_name(cipher)
    );
    let mut basis = vec![format!(
        "{kind} ServerHello in frame {sh_frame} selected {} with {}",
        names::version_name(version),
        names::cipher_name(cipher)
    )];
    let state = match cipher_encrypts(cipher) {
        Some(true) => State::Encrypted,
        Some(false) => {
            basis.push("the negotiated cipher suite has no encryption (NULL)".into());
            State::Plaintext
        }
        None => {
            basis.push(
                "the cipher suite is not in the IANA registry: its strength is unknown".into(),
            );
            State::Unknown
        }
    };
    if let Some(p) = media_profile {
        protection.push_str(&format!(" + {}", names::srtp_profile_name(p)));
        basis.push(format!(
            "use_srtp selected {} for the media on this flow",
            names::srtp_profile_name(p)
        ));
    }
    Encryption {
        state,
        protection: Some(protection),
        basis,
    }
}

/// Decide the encryption state of a flow from its facts.
pub fn assess(flow: &Flow) -> Encryption {
    if let Some(t) = flow.tls.as_deref() {
        let mut e = from_handshake("TLS", t, None);
        if t.plaintext_prelude_bytes.iter().any(|&b| b > 0) && e.state == State::Encrypted {
            e.basis.push(format!(
                "{} bytes were exchanged in clear before TLS started (STARTTLS-style upgrade)",
                t.plaintext_prelude_bytes[0] + t.plaintext_prelude_bytes[1]
            ));
        }
        return e;
    }
    if flow.l4 == L4::Tcp {
        if flow.protocols.contains(Protocol::Http) {
            return Encryption {
                state: State::Plaintext,
                protection: None,
                basis: vec!["HTTP/1.x message in clear at the start of the connection".into()],
            };
        }
        return unknown(flow, "no TLS handshake or known clear-text protocol seen");
    }
    let Some(u) = flow.udp.as_deref() else {
        return unknown(flow, "not dissected");
    };
    udp(flow, u)
}

fn udp(flow: &Flow, u: &UdpOutcome) -> Encryption {
    let p = flow.protocols;
    if let Some(d) = &u.dtls {
        let profile = d.server_hello.as_ref().and_then(|s| s.srtp_profile);
        let mut e = from_handshake("DTLS", d, profile);
        if let Some(pr) = profile
            && matches!(pr, 0x0005 | 0x0006)
            && e.state == State::Encrypted
        {
            // NULL SRTP: the media is authenticated, not encrypted.
            e.state = State::Plaintext;
            e.basis
                .push("the SRTP profile is NULL: media payloads are not encrypted".into());
        }
        return e;
    }
    if let Some(t) = &u.quic_tls {
        let mut e = from_handshake("QUIC Initial", t, None);
        if e.state == State::Encrypted {
            e.protection = e.protection.map(|x| format!("QUIC, {x}"));
        }
        return e;
    }
    if p.contains(Protocol::Quic) {
        return unknown(
            flow,
            "QUIC packets seen, but no decryptable Initial with a ServerHello",
        );
    }
    if p.contains(Protocol::Dns) {
        return Encryption {
            state: State::Plaintext,
            protection: None,
            basis: vec!["DNS messages parsed in clear".into()],
        };
    }
    if p.contains(Protocol::Sip) {
        return Encryption {
            state: State::Plaintext,
            protection: None,
            basis: vec!["SIP messages in clear (not SIP over TLS)".into()],
        };
    }
    if p.contains(Protocol::Rtp) || p.contains(Protocol::Zoom) {
        return unknown(
            flow,
            "media headers seen without a keying handshake on this flow; payload encryption not measured yet",
        );
    }
    if p.contains(Protocol::Stun) && p.names().len() == 1 {
        return Encryption {
            state: State::Plaintext,
            protection: None,
            basis: vec![
                "STUN messages in clear (connectivity checks carry addresses, not media)".into(),
            ],
        };
    }
    unknown(flow, "no protocol recognised")
}

fn unknown(_flow: &Flow, why: &str) -> Encryption {
    Encryption {
        state: State::Unknown,
        protection: None,
        basis: vec![why.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_ciphers_do_not_encrypt() {
        assert_eq!(cipher_encrypts(0x0002), Some(false)); // TLS_RSA_WITH_NULL_SHA
        assert_eq!(cipher_encrypts(0xC02F), Some(true));
        assert_eq!(cipher_encrypts(0x1301), Some(true));
        assert_eq!(cipher_encrypts(0xFFFE), None);
    }
}
