//! Per-flow encryption state: `encrypted`, `plaintext` or `unknown`, with the evidence.
//!
//! Honesty rules (DESIGN.md): "encrypted" only with evidence in `basis` — a negotiated
//! handshake whose cipher encrypts; "plaintext" only when clear content was seen or a NULL
//! cipher was negotiated; everything else is "unknown", saying what is missing.

use std::collections::BTreeSet;

use tls_parser::{TlsCipherEnc, TlsCipherSuite};

use crate::dissect::rtp::{Stream, TRAILER_BYTES};
use crate::dissect::sip::Media;
use crate::dissect::tls::{TlsFacts, names};
use crate::dissect::zoom::ZoomFacts;
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

/// DTLS 1.3 encrypts the server's `use_srtp` answer (in EncryptedExtensions): without a key
/// log the selected profile is not visible, but it is one the client offered. All of them
/// encrypt (WebRTC offers only such): the media is encrypted SRTP. A NULL profile among them
/// leaves the media's encryption open.
fn offered_profiles_of_dtls13(d: &TlsFacts, e: &mut Encryption) {
    let offered = d
        .client_hello
        .as_ref()
        .map_or(&[][..], |c| &c.srtp_profiles[..]);
    if d.version() != Some(0xFEFC) || offered.is_empty() || e.state != State::Encrypted {
        return;
    }
    let named: Vec<String> = offered
        .iter()
        .map(|&p| names::srtp_profile_name(p))
        .collect();
    if offered.iter().any(|p| matches!(p, 0x0005 | 0x0006)) {
        e.state = State::Unknown;
        e.basis.push(format!(
            "DTLS 1.3 encrypts the server's use_srtp answer, and the client offered NULL profiles among {}: whether the media is encrypted is not shown",
            named.join(", ")
        ));
    } else {
        e.protection = e.protection.take().map(|p| format!("{p} + SRTP"));
        e.basis.push(format!(
            "DTLS 1.3 encrypts the server's use_srtp answer; every profile the client offered encrypts the media: {}",
            named.join(", ")
        ));
    }
}

/// A flow keyed by a DTLS-SRTP handshake: its own (`other_pair` None), or that of another
/// candidate pair of its ICE session (`other_pair`: the first line of evidence, saying so).
fn dtls_srtp(d: &TlsFacts, u: &UdpOutcome, other_pair: Option<String>) -> Encryption {
    let profile = d.server_hello.as_ref().and_then(|s| s.srtp_profile);
    let mut e = from_handshake("DTLS", d, profile);
    if let Some(line) = other_pair {
        e.basis.insert(0, line);
    }
    if profile.is_none() {
        offered_profiles_of_dtls13(d, &mut e);
    }
    if let Some(tag) = u.rtp.as_ref().and_then(|r| r.srtcp_tag()) {
        srtcp_trailer_beside_dtls(d, profile, tag, &mut e);
    }
    if let Some(k) = u.srtp_keys.as_deref() {
        e.basis.push(k.describe());
    }
    if let Some(pr) = profile
        && matches!(pr, 0x0005 | 0x0006)
        && e.state == State::Encrypted
    {
        // NULL SRTP: the media is authenticated, not encrypted.
        e.state = State::Plaintext;
        e.basis
            .push("the SRTP profile is NULL: media payloads are not encrypted".into());
    }
    e
}

/// The SRTCP trailer's layout on a DTLS-SRTP flow (an AES-CM profile's HMAC-SHA1 tag follows
/// the index word; an AEAD profile's tag comes before it, RFC 7714 §9.1): it agrees with the
/// selected profile or shows that the packets do not match it; where DTLS 1.3 hides the
/// choice, it narrows the offered profiles to those that lay SRTCP out so, and the protection
/// names them.
fn srtcp_trailer_beside_dtls(
    d: &TlsFacts,
    selected: Option<u16>,
    tag: crate::dissect::rtp::SrtcpTag,
    e: &mut Encryption,
) {
    use crate::dissect::rtp::SrtcpTag;
    let layout = match tag {
        SrtcpTag::Aead => {
            "the E flag and index last, after the authentication tag (the AEAD layout, RFC 7714 §9.1)"
        }
        SrtcpTag::HmacSha1_80 => {
            "the E flag and index followed by an 80-bit HMAC-SHA1 tag (RFC 3711 §3.4)"
        }
        SrtcpTag::HmacSha1_32 => "the E flag and index followed by a 32-bit tag",
    };
    let line = match selected {
        Some(p) if tag.fits(p) => format!(
            "SRTCP trailer on this flow: {layout}, its index growing by one per packet, as {} lays SRTCP out",
            names::srtp_profile_name(p)
        ),
        Some(p) => format!(
            "SRTCP trailer on this flow: {layout}, its index growing by one per packet; {} does not lay SRTCP out so: the packets do not match the selected profile",
            names::srtp_profile_name(p)
        ),
        None => {
            let offered = d
                .client_hello
                .as_ref()
                .map_or(&[][..], |c| &c.srtp_profiles[..]);
            let mut fitting: Vec<u16> = offered.iter().copied().filter(|&p| tag.fits(p)).collect();
            fitting.dedup();
            let named: Vec<String> = fitting
                .iter()
                .map(|&p| names::srtp_profile_name(p))
                .collect();
            if named.is_empty() {
                format!(
                    "SRTCP trailer on this flow: {layout}, its index growing by one per packet; no profile the client offered lays SRTCP out so"
                )
            } else {
                if e.state == State::Encrypted
                    && let Some(p) = e.protection.as_mut()
                    && let Some(handshake) = p.strip_suffix(" + SRTP")
                {
                    *p = format!("{handshake} + {}", named.join(" or "));
                }
                format!(
                    "SRTCP trailer on this flow: {layout}, its index growing by one per packet: of the profiles the client offered, {} {} SRTCP out so",
                    named.join(" and "),
                    if named.len() == 1 { "lays" } else { "lay" }
                )
            }
        }
    };
    e.basis.push(line);
}

/// The media line of clear SIP/SDP signalling that announced one of a flow's endpoints: as
/// the line's media port, or as its RTCP port.
#[derive(Debug, Clone, Copy)]
pub struct Signal<'a> {
    pub media: &'a Media,
    pub rtcp_port: bool,
}

pub type Signalled<'a> = Option<Signal<'a>>;

/// What clear SDP alone says of a media line's protection: `Some(true)` SRTP keyed by SDES
/// (`a=crypto` with a suite that is not NULL), `Some(false)` a plain RTP profile or only NULL
/// suites, `None` when the keys are agreed elsewhere — DTLS-SRTP (`a=fingerprint`), or a
/// secure profile without `a=crypto` (MIKEY, keys the capture does not show).
pub fn sdp_protection(m: &Media) -> Option<bool> {
    if m.dtls_fingerprint {
        return None;
    }
    if !m.secure_profile() {
        return Some(false);
    }
    if m.crypto_suites.is_empty() {
        return None;
    }
    Some(!m.crypto_suites.iter().all(|c| c.contains("NULL")))
}

fn signalled_evidence(signal: Signal<'_>) -> String {
    let m = signal.media;
    let mut s = if signal.rtcp_port {
        format!(
            "SDP in SIP frame {} announced this address as the RTCP port of {} port {} with {}",
            m.frame, m.kind, m.port, m.proto
        )
    } else {
        format!(
            "SDP in SIP frame {} announced this address for {} with {}",
            m.frame, m.kind, m.proto
        )
    };
    if !m.crypto_suites.is_empty() {
        s.push_str(&format!(" and a=crypto {}", m.crypto_suites.join(", ")));
    }
    if m.key_in_clear {
        s.push_str(" (SDES keys in clear signalling)");
    }
    s
}

/// Decide whether one RTP stream's payload is encrypted, strongest evidence first:
/// DTLS-SRTP keying on the flow, SRTP negotiated in clear signalling, then payload measures.
pub fn rtp_stream(
    stream: &Stream,
    dtls_srtp: Option<(bool, String)>,
    signalled: Signalled<'_>,
) -> (Option<bool>, Vec<String>) {
    let mut evidence = Vec::new();
    let mut decided = None;
    if let Some((encrypts, why)) = dtls_srtp {
        decided = Some(encrypts);
        evidence.push(why);
    }
    if let Some(signal) = signalled {
        evidence.push(signalled_evidence(signal));
        if decided.is_none() {
            decided = sdp_protection(signal.media);
        }
    }
    if let Some(why) = stream.vp8.clear_structure() {
        evidence.push(why);
        if decided.is_none() {
            decided = Some(false);
        }
    }
    if let Some(why) = stream.first_byte.clear_structure() {
        evidence.push(why);
        if decided.is_none() {
            decided = Some(false);
        }
    }
    let trailer = stream.length.trailer_bytes();
    if let Some(t) = trailer {
        evidence.push(length_evidence(stream, t));
    }
    if let Some(h) = stream.payload_entropy() {
        let n = stream.sampled_bytes;
        evidence.push(format!(
            "heuristic: payload entropy {h:.2} bits/byte over {n} bytes (ciphertext ≈ 8)"
        ));
        // G.711 carrying an SRTP tag, its payload as uniform as ciphertext: clear G.711 (even
        // under NULL-cipher SRTP) is far from uniform, so its payload is encrypted
        if decided.is_none()
            && trailer.is_some_and(|t| t > 0)
            && matches!(stream.payload_type, 0 | 8)
            && h >= CIPHERTEXT_ENTROPY
            && n >= 16 * 1024
        {
            decided = Some(true);
            evidence.push(
                "heuristic: an SRTP authentication tag after G.711 payloads as uniform as ciphertext (clear G.711, even under NULL-cipher SRTP, is far from uniform): SRTP, encrypted"
                    .into(),
            );
        }
        // G.711 (PT 0/8) speech in clear is far from uniform; so is any clear payload this
        // structured. Ciphertext cannot be.
        if decided.is_none()
            && n >= 2048
            && (h < 6.0 || (matches!(stream.payload_type, 0 | 8) && h < 7.0))
        {
            decided = Some(false);
            evidence.push(
                "heuristic: a byte distribution this far from uniform is not SRTP ciphertext"
                    .into(),
            );
        }
    }
    (decided, evidence)
}

/// What the length arithmetic found, with its numbers.
fn length_evidence(stream: &Stream, trailer: u32) -> String {
    let l = &stream.length;
    let matched = l.trailer[TRAILER_BYTES
        .iter()
        .position(|&t| t == trailer)
        .unwrap_or_default()];
    let codec = match stream.payload_type {
        0 => "PCMU",
        8 => "PCMA",
        9 => "G.722",
        // the stream's first packet had another payload type (e.g. DTMF); later ones did
        _ => "G.711 or G.722",
    };
    match trailer {
        0 => format!(
            "payload length equals the timestamp step in {matched} of {} packets ({codec}, one byte per tick): no SRTP authentication tag",
            l.measured
        ),
        t => format!(
            "payload length exceeds the timestamp step by {t} bytes in {matched} of {} packets ({codec}, one byte per tick): an SRTP authentication tag ({})",
            l.measured,
            match t {
                4 => "HMAC-SHA1-32, RFC 3711",
                10 => "HMAC-SHA1-80, RFC 3711",
                _ => "AEAD, RFC 7714",
            }
        ),
    }
}

/// Zoom media: the RTP headers inside the encapsulation are in clear; whether the payloads
/// are encrypted is measured (Zoom's keys are not on the wire).
pub fn zoom_media(z: &ZoomFacts) -> (Option<bool>, Vec<String>) {
    let mut basis = vec![format!(
        "Zoom media encapsulation: {} media packets ({} to and {} from the server), inner RTP headers in clear",
        z.packets(),
        z.to_server,
        z.from_server
    )];
    // A codec header in clear at the start of the payloads rules encryption out.
    if let Some(why) = z
        .streams
        .streams
        .iter()
        .find_map(|s| s.first_byte.clear_structure())
    {
        basis.push(why);
        return (Some(false), basis);
    }
    match z.payload_entropy() {
        // Compressed audio in clear reaches 7.91 bits/byte (plain Opus, captures/
        // baresip-sip-opus-rtp.pcap); ciphertext over 16 KiB measures above 7.98.
        Some((h, n)) if h >= CIPHERTEXT_ENTROPY && n >= 16 * 1024 => {
            basis.push(format!(
                "heuristic: the inner RTP payloads have {h:.3} bits/byte over {n} bytes, as ciphertext does, and no codec header in clear"
            ));
            (Some(true), basis)
        }
        Some((h, n)) => {
            basis.push(format!(
                "heuristic: the inner RTP payloads have {h:.3} bits/byte over {n} bytes: too few bytes or too little entropy to call it ciphertext"
            ));
            (None, basis)
        }
        None => {
            basis.push("too few payload bytes to measure".into());
            (None, basis)
        }
    }
}

/// Entropy above which 16 KiB or more of payload is taken for ciphertext (uniform bytes measure
/// about 7.99 over 32 KiB; plain Opus measured 7.91).
const CIPHERTEXT_ENTROPY: f64 = 7.98;

/// Decide the encryption state of a flow from its facts.
pub fn assess(flow: &Flow) -> Encryption {
    assess_with(flow, None)
}

/// As [`assess`], with the clear SDP media line that announced this flow, if any.
pub fn assess_with(flow: &Flow, signalled: Signalled<'_>) -> Encryption {
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
    if flow.l4 == L4::Tcp && flow.udp.is_none() {
        if flow.protocols.contains(Protocol::Sip) {
            return Encryption {
                state: State::Plaintext,
                protection: None,
                basis: vec!["SIP messages in clear over TCP (not SIP over TLS)".into()],
            };
        }
        if flow.protocols.contains(Protocol::Dns) {
            return Encryption {
                state: State::Plaintext,
                protection: None,
                basis: vec!["DNS messages parsed in clear over TCP".into()],
            };
        }
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
    udp(flow, u, signalled)
}

fn udp(flow: &Flow, u: &UdpOutcome, signalled: Signalled<'_>) -> Encryption {
    let p = flow.protocols;
    if let Some(d) = &u.dtls {
        return dtls_srtp(d, u, None);
    }
    if let Some(k) = flow.ice_keying.as_deref()
        && [
            Protocol::Rtp,
            Protocol::Srtp,
            Protocol::Rtcp,
            Protocol::Srtcp,
        ]
        .iter()
        .any(|&m| p.contains(m))
    {
        let other_pair = format!(
            "keyed by the DTLS handshake between {}:{} and {}:{}: the ICE connectivity checks \
             of both flows carry the same username fragments, so both are candidate pairs of \
             one ICE session (RFC 8445), whose one DTLS association keys the SRTP on \
             whichever pair carries the media (RFC 5764 §5.1.1)",
            k.client.ip, k.client.port, k.server.ip, k.server.port
        );
        return dtls_srtp(&k.dtls, u, Some(other_pair));
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
    if p.contains(Protocol::Rtp) || p.contains(Protocol::Srtp) {
        if let Some((signal, secure)) =
            signalled.and_then(|s| sdp_protection(s.media).map(|secure| (s, secure)))
        {
            let m = signal.media;
            let mut basis = vec![signalled_evidence(signal)];
            if let Some(k) = u.srtp_keys.as_deref() {
                basis.push(k.describe());
            }
            return Encryption {
                state: if secure {
                    State::Encrypted
                } else {
                    State::Plaintext
                },
                protection: secure.then(|| {
                    format!(
                        "SRTP ({}, SDES keys from clear SIP)",
                        m.crypto_suites.join(", ")
                    )
                }),
                basis,
            };
        }
        let streams: Vec<_> = u.rtp.iter().flat_map(|r| r.confirmed()).collect();
        let judged: Vec<_> = streams.iter().map(|s| rtp_stream(s, None, None)).collect();
        if judged.iter().any(|(d, _)| *d == Some(true))
            && judged.iter().all(|(d, _)| *d != Some(false))
        {
            // SRTP shown by its tag and its ciphertext, keyed out of sight
            let tags: BTreeSet<u32> = streams
                .iter()
                .filter_map(|s| s.length.trailer_bytes())
                .filter(|&t| t > 0)
                .collect();
            let mut basis = vec![match signalled {
                Some(_) => "the SDP names a secure profile whose keys it does not carry, and no keying handshake was seen on this flow: its keys were agreed out of sight",
                None => "no keying handshake or SRTP signalling in clear for this flow: its keys were exchanged out of sight (e.g. SDES in SIP over TLS)",
            }
            .to_string()];
            basis.extend(signalled.map(signalled_evidence));
            basis.extend(judged.into_iter().flat_map(|(_, e)| e));
            return Encryption {
                state: State::Encrypted,
                protection: Some(format!(
                    "SRTP ({}-byte authentication tag; keys not in the capture)",
                    tags.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                )),
                basis,
            };
        }
        if !judged.is_empty() && judged.iter().all(|(d, _)| *d == Some(false)) {
            let mut basis =
                vec!["no keying handshake or SRTP signalling for this flow".to_string()];
            basis.extend(judged.into_iter().flat_map(|(_, e)| e));
            return Encryption {
                state: State::Plaintext,
                protection: None,
                basis,
            };
        }
        if let Some(signal) = signalled {
            // a secure profile whose keys the SDP does not carry (DTLS-SRTP, MIKEY)
            let mut e = unknown(
                flow,
                "RTP headers; the SDP names a secure profile whose keys it does not carry, and no keying handshake was seen on this flow; the payload measures do not decide",
            );
            e.basis.push(signalled_evidence(signal));
            return e;
        }
        if let Some(encrypted) = u.rtp.as_ref().and_then(|r| r.srtcp()) {
            return unknown(
                flow,
                &format!(
                    "SRTP: the SRTCP trailer on this flow (its E flag says {}) shows an SRTP session, keyed out of sight; the payload measures do not decide whether its RTP is encrypted",
                    if encrypted {
                        "encrypted"
                    } else {
                        "authenticated only"
                    }
                ),
            );
        }
        return unknown(
            flow,
            "RTP headers without a keying handshake or signalling for this flow; the payload measures do not decide",
        );
    }
    if !p.contains(Protocol::Rtp)
        && let Some(r) = u.rtp.as_ref()
        && (p.contains(Protocol::Rtcp) || p.contains(Protocol::Srtcp))
    {
        // SRTCP keyed by SDES for this port: RTCP here must be SRTCP (RFC 3711 §3.4)
        let keyed = signalled.filter(|s| sdp_protection(s.media) == Some(true));
        let opened = u
            .srtp_keys
            .as_deref()
            .map(crate::dissect::srtp::KeysOutcome::describe);
        let mut e = match (r.srtcp(), keyed) {
            (Some(e), _) => {
                let mut basis = vec![format!(
                    "SRTCP trailer after the first RTCP header: the index grows by one per packet and its E flag says {}",
                    if e {
                        "encrypted"
                    } else {
                        "not encrypted (authenticated only)"
                    }
                )];
                if r.rtcp_in_clear > 0 {
                    basis.push(format!(
                        "{} other RTCP datagrams were sent in clear (their reports, e.g. SDES CNAME, are readable)",
                        r.rtcp_in_clear
                    ));
                }
                basis.extend(signalled.map(signalled_evidence));
                Encryption {
                    state: if e {
                        State::Encrypted
                    } else {
                        State::Plaintext
                    },
                    protection: e.then(|| "SRTCP".to_string()),
                    basis,
                }
            }
            (None, Some(signal)) => Encryption {
                state: State::Encrypted,
                protection: Some(format!(
                    "SRTCP ({}, SDES keys from clear SIP)",
                    signal.media.crypto_suites.join(", ")
                )),
                basis: std::iter::once(signalled_evidence(signal))
                    .chain((r.rtcp_in_clear > 0).then(|| {
                        format!(
                            "{} RTCP datagram(s) sent in clear all the same (their reports are readable); no SRTCP trailer established yet",
                            r.rtcp_in_clear
                        )
                    }))
                    .collect(),
            },
            (None, None) if r.rtcp_in_clear >= 2 => Encryption {
                state: State::Plaintext,
                protection: None,
                basis: std::iter::once(format!(
                    "{} RTCP datagrams whose report packets parse to the last byte: RTCP in clear",
                    r.rtcp_in_clear
                ))
                .chain(signalled.map(signalled_evidence))
                .collect(),
            },
            (None, None) => unknown(
                flow,
                "RTCP headers only; neither clear reports nor an SRTCP trailer established",
            ),
        };
        e.basis.extend(opened);
        return e;
    }
    if let Some(z) = &u.zoom {
        let (encrypted, basis) = zoom_media(z);
        return Encryption {
            state: if encrypted == Some(true) {
                State::Encrypted
            } else {
                State::Unknown
            },
            protection: (encrypted == Some(true))
                .then(|| z.payload_entropy())
                .flatten()
                .map(|(h, _)| format!("Zoom AES (payload entropy {h:.2} bits/byte)")),
            basis,
        };
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
    if p.contains(Protocol::Turn) && u.relayed_datagrams == 0 {
        return Encryption {
            state: State::Plaintext,
            protection: None,
            basis: vec![
                "STUN/TURN control messages in clear (allocations and permissions carry addresses, not media); no relayed data captured"
                    .into(),
            ],
        };
    }
    if p.contains(Protocol::Turn) {
        return unknown(
            flow,
            &format!(
                "TURN relay: {} relayed datagram(s) of a protocol not recognised here",
                u.relayed_datagrams
            ),
        );
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
    fn a_dtls13_profile_hidden_by_encryption_is_one_the_client_offered() {
        let facts = |offered: Vec<u16>| TlsFacts {
            client_hello: Some(crate::dissect::tls::ClientHelloFacts {
                srtp_profiles: offered,
                ..Default::default()
            }),
            server_hello: Some(crate::dissect::tls::ServerHelloFacts {
                frame: 7,
                legacy_version: 0xFEFD,
                selected_version: Some(0xFEFC),
                cipher: 0x1301,
                ..Default::default()
            }),
            ..Default::default()
        };
        let judged = |offered: Vec<u16>| {
            let d = facts(offered);
            let mut e = from_handshake("DTLS", &d, None);
            offered_profiles_of_dtls13(&d, &mut e);
            e
        };
        let webrtc = judged(vec![0x0007, 0x0008, 0x0001, 0x0002]);
        assert_eq!(webrtc.state, State::Encrypted);
        assert_eq!(
            webrtc.protection.as_deref(),
            Some("DTLS 1.3 (TLS_AES_128_GCM_SHA256) + SRTP")
        );
        assert!(webrtc.basis[1].contains("every profile the client offered encrypts"));
        let with_null = judged(vec![0x0001, 0x0005]);
        assert_eq!(with_null.state, State::Unknown);
        assert!(with_null.basis[1].contains("NULL profiles"));
        // no use_srtp offered (DTLS for data only): nothing said of media
        let data = judged(vec![]);
        assert_eq!((data.state, data.basis.len()), (State::Encrypted, 1));

        // the SRTCP trailer narrows the hidden choice, or finds no offered profile to fit
        use crate::dissect::rtp::SrtcpTag;
        let trailer = |offered: Vec<u16>, selected: Option<u16>, tag: SrtcpTag| {
            let d = facts(offered);
            let mut e = from_handshake("DTLS", &d, selected);
            if selected.is_none() {
                offered_profiles_of_dtls13(&d, &mut e);
            }
            srtcp_trailer_beside_dtls(&d, selected, tag, &mut e);
            e
        };
        let cm = trailer(
            vec![0x0007, 0x0008, 0x0001, 0x0002],
            None,
            SrtcpTag::HmacSha1_80,
        );
        assert_eq!(
            cm.protection.as_deref(),
            Some(
                "DTLS 1.3 (TLS_AES_128_GCM_SHA256) + SRTP_AES128_CM_HMAC_SHA1_80 or SRTP_AES128_CM_HMAC_SHA1_32"
            )
        );
        let gcm = trailer(vec![0x0001, 0x0007], None, SrtcpTag::Aead);
        assert_eq!(
            gcm.protection.as_deref(),
            Some("DTLS 1.3 (TLS_AES_128_GCM_SHA256) + SRTP_AEAD_AES_128_GCM")
        );
        assert!(
            gcm.basis
                .last()
                .unwrap()
                .contains("SRTP_AEAD_AES_128_GCM lays SRTCP out so")
        );
        let none = trailer(vec![0x0001], None, SrtcpTag::Aead);
        assert!(none.protection.unwrap().ends_with(" + SRTP"));
        assert!(
            none.basis
                .last()
                .unwrap()
                .contains("no profile the client offered")
        );
        // a DTLS 1.2 ServerHello's choice: confirmed, or contradicted by the packets
        let fits = trailer(vec![0x0007], Some(0x0007), SrtcpTag::Aead);
        assert!(
            fits.basis
                .last()
                .unwrap()
                .contains("as SRTP_AEAD_AES_128_GCM lays SRTCP out")
        );
        let contradicts = trailer(vec![0x0007], Some(0x0007), SrtcpTag::HmacSha1_80);
        assert!(
            contradicts
                .basis
                .last()
                .unwrap()
                .contains("do not match the selected profile")
        );
        assert_eq!(contradicts.state, State::Encrypted);
    }

    fn media_line(proto: &str, crypto_suites: &[&str], dtls_fingerprint: bool) -> Media {
        Media {
            frame: 1,
            kind: "audio".into(),
            address: None,
            port: 4000,
            proto: proto.into(),
            crypto_suites: crypto_suites.iter().map(|c| c.to_string()).collect(),
            key_in_clear: !crypto_suites.is_empty(),
            sdes_key: None,
            dtls_fingerprint,
            extmap: Vec::new(),
            rtcp_port: Some(4001),
            rtcp_address: None,
        }
    }

    #[test]
    fn the_sdp_decides_only_what_it_keys() {
        let aes = ["AES_CM_128_HMAC_SHA1_80"];
        let null = ["NULL_HMAC_SHA1_80"];
        assert_eq!(
            sdp_protection(&media_line("RTP/AVP", &[], false)),
            Some(false)
        );
        assert_eq!(
            sdp_protection(&media_line("RTP/SAVP", &aes, false)),
            Some(true)
        );
        assert_eq!(
            sdp_protection(&media_line("RTP/SAVP", &null, false)),
            Some(false)
        );
        // keys agreed elsewhere: MIKEY, or DTLS-SRTP
        assert_eq!(sdp_protection(&media_line("RTP/SAVP", &[], false)), None);
        assert_eq!(
            sdp_protection(&media_line("UDP/TLS/RTP/SAVPF", &[], true)),
            None
        );
    }

    #[test]
    fn null_ciphers_do_not_encrypt() {
        assert_eq!(cipher_encrypts(0x0002), Some(false)); // TLS_RSA_WITH_NULL_SHA
        assert_eq!(cipher_encrypts(0xC02F), Some(true));
        assert_eq!(cipher_encrypts(0x1301), Some(true));
        assert_eq!(cipher_encrypts(0xFFFE), None);
    }
}
