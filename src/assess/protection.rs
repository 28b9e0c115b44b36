//! Protection and evidence findings: how each flow is protected (TLS/DTLS versions, cipher
//! suites, certificates, RTP/SRTP, SDES, signalling) and what the capture itself does not show.
//!
//! Reads only the verdict's facts, so a verdict written earlier can be re-assessed. Findings are
//! grouped: one finding per rule, server address and distinct reason, listing every flow.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherKx, TlsCipherSuite};

use super::brief::FlowBrief;
use super::findings::{self, Rule};
use crate::verdict::{Certificate, Finding, Flow, Tls, Verdict};

/// (rule id, server address, reason): what makes two raised findings one.
type GroupKey = (&'static str, String, String);

/// Collects findings, merging those with the same rule, server and reason: the rule, the flows
/// and the first frame. Fed flow by flow ([`Collector::check_flow`]).
#[derive(Default)]
pub struct Collector {
    // hashed while raising, sorted once at the end (a tree compared three strings per level)
    groups: foldhash::HashMap<GroupKey, (Rule, Vec<u32>, u64)>,
}

impl Collector {
    fn raise(&mut self, rule: Rule, f: &Flow, reason: String) {
        let entry = self
            .groups
            .entry((rule.id, f.server.ip.clone(), reason))
            .or_insert((rule, Vec::new(), f.first_frame));
        entry.1.push(f.id);
        entry.2 = entry.2.min(f.first_frame);
    }

    /// Raise the protection findings of one flow.
    pub fn check_flow(&mut self, f: &Flow) {
        if let Some(t) = &f.tls {
            check_handshake(self, f, t, false);
        }
        if let Some(t) = &f.dtls {
            check_handshake(self, f, t, true);
        }
        check_media(self, f);
        check_http(self, f);
    }

    /// The findings, grouped, in rule, server and reason order.
    pub fn into_findings(self) -> Vec<Finding> {
        let mut groups: Vec<_> = self.groups.into_iter().collect();
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        groups
            .into_iter()
            .map(
                |((_, server, reason), (rule, mut flows, first_frame))| Finding {
                    rule: rule.id.into(),
                    severity: rule.severity.as_str().into(),
                    title: rule.title.into(),
                    detail: format!("{reason} (server {server}, {} flow(s)).", flows.len()),
                    flows: {
                        // flows may be checked in any order (as they close)
                        flows.sort_unstable();
                        flows
                    },
                    endpoints: vec![server.into()],
                    first_frame: Some(first_frame),
                },
            )
            .collect()
    }
}

/// Versions deprecated by RFC 8996, and the drafts of TLS 1.3 (IETF's and Facebook's): never
/// standardised, superseded by RFC 8446 in 2018.
fn obsolete_version(version: &str) -> bool {
    matches!(
        version,
        "SSL 2.0"
            | "SSL 3.0"
            | "TLS 1.0"
            | "TLS 1.1"
            | "DTLS 1.0"
            | "DTLS 1.0 (OpenSSL pre-0.9.8f)"
    ) || version.starts_with("TLS 1.3 (draft ")
        || version.starts_with("TLS 1.3 (Facebook draft ")
}

/// Why a negotiated cipher suite is weak, if it is (NULL encryption is its own rule).
fn cipher_weakness(cs: &TlsCipherSuite) -> Option<&'static str> {
    if cs.name.contains("EXPORT") {
        return Some("export-grade keys");
    }
    match cs.enc {
        TlsCipherEnc::Rc4 => return Some("RC4 is broken (RFC 7465)"),
        TlsCipherEnc::Des => return Some("single DES"),
        TlsCipherEnc::TripleDes | TlsCipherEnc::Idea | TlsCipherEnc::Rc2 => {
            return Some("a 64-bit block cipher (Sweet32)");
        }
        _ => {}
    }
    if cs.au == TlsCipherAu::Null && cs.kx != TlsCipherKx::Psk && cs.enc != TlsCipherEnc::Null {
        return Some("no server authentication (anonymous key exchange)");
    }
    None
}

fn forward_secret(cs: &TlsCipherSuite) -> bool {
    matches!(
        cs.kx,
        TlsCipherKx::Dhe | TlsCipherKx::Ecdhe | TlsCipherKx::Tls13 | TlsCipherKx::Eccpwd
    )
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Whether a certificate DNS name (possibly a one-label wildcard) covers a host name.
fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

/// The subject's CN, for certificates without DNS names in subjectAltName.
fn subject_cn(subject: &str) -> Option<&str> {
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
}

fn certificate_names(cert: &Certificate) -> Vec<&str> {
    let dns: Vec<&str> = cert
        .san
        .iter()
        .map(String::as_str)
        .filter(|n| n.parse::<std::net::IpAddr>().is_err())
        .collect();
    if dns.is_empty() {
        subject_cn(&cert.subject).into_iter().collect()
    } else {
        dns
    }
}

/// Why a certificate's key or signature is weak, if it is.
fn key_weakness(cert: &Certificate) -> Option<String> {
    let mut parts = cert.key.split_whitespace();
    let alg = parts.next().unwrap_or_default();
    let bits: Option<u32> = parts.next().and_then(|b| b.parse().ok());
    if matches!(alg, "RSA" | "DSA")
        && let Some(bits) = bits.filter(|b| *b < 2048)
    {
        return Some(format!("{alg} key of {bits} bits"));
    }
    let sig = cert.signature.to_ascii_lowercase();
    if !cert.self_signed && (sig.starts_with("md5") || sig.starts_with("sha1")) {
        return Some(format!("signature {}", cert.signature));
    }
    None
}

fn is_host_name(sni: &str) -> bool {
    sni.contains('.') && sni.parse::<std::net::IpAddr>().is_err()
}

fn check_handshake(c: &mut Collector, f: &Flow, t: &Tls, dtls: bool) {
    let kind = if dtls { "DTLS" } else { "TLS" };
    if let Some(version) = t.version.as_deref()
        && obsolete_version(version)
    {
        c.raise(
            findings::OBSOLETE_TLS,
            f,
            format!("{version} negotiated (ServerHello)"),
        );
    }
    // Without a ServerHello the client's offer still bounds the version: a client offering
    // nothing newer than TLS 1.1 gets an obsolete connection whatever the server is.
    if t.version.is_none()
        && !t.offered_versions.is_empty()
        && t.offered_versions.iter().all(|v| obsolete_version(v))
    {
        c.raise(
            findings::OBSOLETE_TLS,
            f,
            format!(
                "client offered only {} (ServerHello not captured)",
                t.offered_versions.join(", ")
            ),
        );
    }
    if let Some(name) = t.cipher.as_deref() {
        if name.starts_with("SSL2_") {
            // SSL 2.0 is already obsolete-tls; its ciphers are all weak.
            c.raise(
                findings::WEAK_CIPHER,
                f,
                format!("{name}: an SSL 2.0 cipher"),
            );
        } else if let Some(cs) = TlsCipherSuite::from_name(name) {
            if cs.enc == TlsCipherEnc::Null {
                c.raise(findings::NULL_CIPHER, f, format!("{kind} cipher {name}"));
            } else if let Some(why) = cipher_weakness(cs) {
                c.raise(
                    findings::WEAK_CIPHER,
                    f,
                    format!("{kind} cipher {name}: {why}"),
                );
            }
            if !forward_secret(cs) && cs.enc != TlsCipherEnc::Null {
                c.raise(
                    findings::NO_FORWARD_SECRECY,
                    f,
                    format!("{kind} cipher {name}: static key exchange"),
                );
            }
        }
    }
    if let Some(profile) = t.srtp_profile.as_deref()
        && profile.contains("NULL")
    {
        c.raise(
            findings::NULL_SRTP_PROFILE,
            f,
            format!("DTLS-SRTP profile {profile} selected"),
        );
    }
    let Some(leaf) = t.certificates.first() else {
        return;
    };
    let leaf_name = subject_cn(&leaf.subject).unwrap_or(&leaf.subject);
    if let Some(at) = f.first_timestamp.as_deref().and_then(parse_time) {
        if parse_time(&leaf.not_after).is_some_and(|na| na < at) {
            c.raise(
                findings::CERTIFICATE_EXPIRED,
                f,
                format!(
                    "certificate {leaf_name} valid until {}, connection at {}",
                    leaf.not_after,
                    at.date()
                ),
            );
        }
        if parse_time(&leaf.not_before).is_some_and(|nb| nb > at) {
            c.raise(
                findings::CERTIFICATE_NOT_YET_VALID,
                f,
                format!(
                    "certificate {leaf_name} valid from {}, connection at {}",
                    leaf.not_before,
                    at.date()
                ),
            );
        }
    }
    if let Some(why) = key_weakness(leaf) {
        c.raise(
            findings::CERTIFICATE_WEAK_KEY,
            f,
            format!("certificate {leaf_name}: {why}"),
        );
    }
    // DTLS-SRTP certificates are self-signed and unnamed by design (RFC 5763).
    if dtls {
        return;
    }
    if leaf.self_signed {
        c.raise(
            findings::CERTIFICATE_SELF_SIGNED,
            f,
            match t.sni.as_deref() {
                Some(sni) => format!("client asked for {sni}, server sent self-signed {leaf_name}"),
                None => format!("no SNI; server sent self-signed {leaf_name}"),
            },
        );
    }
    let Some(sni) = t.sni.as_deref().filter(|s| is_host_name(s)) else {
        return;
    };
    let names = certificate_names(leaf);
    if !names.iter().any(|n| name_matches(n, sni)) {
        c.raise(
            findings::CERTIFICATE_NAME_MISMATCH,
            f,
            format!(
                "client asked for {sni}, certificate names {}",
                if names.is_empty() {
                    "no DNS name".to_string()
                } else {
                    names.join(", ")
                }
            ),
        );
    }
}

fn check_media(c: &mut Collector, f: &Flow) {
    let plaintext = f.encryption.state == "plaintext";
    // SRTP in clear is media in clear too, unless a DTLS NULL profile says so by its own rule
    let rtp_labels: Vec<&str> = f
        .protocols
        .iter()
        .map(AsRef::as_ref)
        .filter(|p: &&str| matches!(*p, "rtp" | "rtcp") || (*p == "srtp" && f.dtls.is_none()))
        .collect();
    let carries_rtp = rtp_labels.iter().any(|p| *p != "rtcp");
    if plaintext && carries_rtp {
        let streams = f.rtp.as_ref().map_or(0, |r| r.streams.len());
        c.raise(
            findings::PLAINTEXT_RTP,
            f,
            format!(
                "{} in clear{}",
                rtp_labels.join(" and ").to_uppercase(),
                if streams > 0 {
                    format!(", {streams} RTP stream(s)")
                } else {
                    String::new()
                }
            ),
        );
    } else if plaintext && !rtp_labels.is_empty() {
        // RTCP alone: reports and SDES items, no media
        let in_clear = f.rtp.as_ref().map_or(0, |r| r.rtcp_in_clear);
        c.raise(
            findings::PLAINTEXT_RTCP,
            f,
            format!("{in_clear} RTCP packet(s) in clear, no RTP on this flow"),
        );
    }
    if let Some(r) = &f.rtp
        && f.encryption.state == "encrypted"
        && r.rtcp_in_clear > 0
    {
        c.raise(
            findings::RTCP_IN_CLEAR,
            f,
            format!(
                "{} of {} RTCP packet(s) in clear on an encrypted media flow",
                r.rtcp_in_clear, r.rtcp_packets
            ),
        );
    }
    // RFC 6464 client-to-mixer and RFC 6465 mixer-to-client audio levels
    let levels: Vec<String> = f
        .rtp
        .iter()
        .flat_map(|r| &r.clear_header_extensions)
        .filter(|e| {
            e.uri.as_deref().is_some_and(|u| {
                matches!(
                    u,
                    "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
                        | "urn:ietf:params:rtp-hdrext:csrc-audio-level"
                )
            })
        })
        .map(|e| {
            format!(
                "extension {} = {} (SDP frame {})",
                e.id,
                e.uri.as_deref().unwrap_or_default(),
                e.signalled_frame.unwrap_or_default()
            )
        })
        .collect();
    if !levels.is_empty() {
        c.raise(
            findings::AUDIO_LEVEL_IN_CLEAR,
            f,
            format!(
                "RTP header extensions in clear on {} media: {}",
                if plaintext {
                    "plaintext"
                } else {
                    "this flow's"
                },
                levels.join(", ")
            ),
        );
    }
    if let Some(sip) = &f.sip {
        if plaintext {
            c.raise(
                findings::PLAINTEXT_SIGNALLING,
                f,
                format!(
                    "{} SIP message(s) over {} in clear ({})",
                    sip.messages,
                    if f.http
                        .as_ref()
                        .is_some_and(|h| h.websocket_protocol.is_some())
                    {
                        "a WebSocket (RFC 7118)".to_string()
                    } else {
                        f.transport.to_uppercase()
                    },
                    sip.methods.join(", ")
                ),
            );
        }
        for m in &sip.media {
            if m.crypto_in_clear {
                c.raise(
                    findings::SDES_KEYS_IN_CLEAR,
                    f,
                    format!(
                        "SDP {} m-line for port {} carries {} key(s) in clear",
                        m.kind,
                        m.port,
                        m.crypto_suites.join("/")
                    ),
                );
            }
            if !m.crypto_suites.is_empty() && m.crypto_suites.iter().all(|s| s.contains("NULL")) {
                c.raise(
                    findings::NULL_SRTP_PROFILE,
                    f,
                    format!(
                        "SDES offers only NULL crypto suites ({}) for {} port {}",
                        m.crypto_suites.join(", "),
                        m.kind,
                        m.port
                    ),
                );
            }
        }
        if sip.unlisted_media_keys_in_clear > 0 {
            c.raise(
                findings::SDES_KEYS_IN_CLEAR,
                f,
                format!(
                    "{} SDP m-line(s) beyond the {} listed carry keys in clear",
                    sip.unlisted_media_keys_in_clear,
                    sip.media.len()
                ),
            );
        }
    }
}

/// Signalling subprotocols of WebSocket (IANA WebSocket Subprotocol Name registry): SIP
/// (RFC 7118), XMPP (RFC 7395), MSRP (RFC 7977).
const SIGNALLING_SUBPROTOCOLS: [&str; 3] = ["sip", "xmpp", "msrp"];

fn check_http(c: &mut Collector, f: &Flow) {
    let Some(h) = &f.http else { return };
    if f.encryption.state != "plaintext" {
        return;
    }
    let over_websocket = h.websocket_protocol.is_some();
    if over_websocket && f.sip.is_some() {
        return; // the SIP messages read from the WebSocket are their own finding
    }
    let host = h.host.as_deref().unwrap_or("(no Host header)");
    if let Some(p) = h
        .websocket_protocol
        .as_deref()
        .filter(|p| SIGNALLING_SUBPROTOCOLS.contains(&p.to_ascii_lowercase().as_str()))
    {
        c.raise(
            findings::PLAINTEXT_SIGNALLING,
            f,
            format!(
                "{} over a WebSocket in clear (Sec-WebSocket-Protocol: {p}, Host {host}, frame {})",
                p.to_ascii_uppercase(),
                h.frame
            ),
        );
    } else if let Some(v) = &f.vendor {
        c.raise(
            findings::PLAINTEXT_HTTP_TO_SERVICE,
            f,
            format!(
                "HTTP {} to {host} in clear, a {} host ({}; frame {})",
                h.method,
                v.name,
                v.evidence.first().map_or("", String::as_str),
                h.frame
            ),
        );
    }
}

/// The protection findings of every flow.
pub fn protection_findings(v: &Verdict) -> Vec<Finding> {
    let mut c = Collector::default();
    for f in &v.flows {
        c.check_flow(f);
    }
    c.into_findings()
}

/// What each input does not show: one `capture-incomplete` finding per input that lacks something
/// (`all`: the briefs of the verdict's flows).
pub fn evidence_findings(v: &Verdict, all: &[FlowBrief]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (index, input) in v.inputs.iter().enumerate() {
        let mut missing: Vec<String> = Vec::new();
        let mut first_frame: Option<u64> = None;
        if let Some(e) = &input.error {
            missing.push(format!("the file could not be read ({e})"));
        }
        for d in &input.damage {
            missing.push(format!("{} ×{}: {}", d.kind, d.count, d.detail));
            if let Some(fr) = d.frame {
                first_frame = Some(first_frame.map_or(fr, |m| m.min(fr)));
            }
        }
        if let Some(d) = &input.decode {
            if d.snaplen_truncated_frames > 0 {
                missing.push(format!(
                    "{} frame(s) cut short by the snap length",
                    d.snaplen_truncated_frames
                ));
            }
            if d.flows_evicted > 0 {
                missing.push(format!(
                    "{} flow(s) closed early at the live-flow limit",
                    d.flows_evicted
                ));
            }
            if d.untracked_packets > 0 {
                missing.push(format!(
                    "{} packet(s) of flows beyond the flow limit, not analysed",
                    d.untracked_packets
                ));
            }
            if d.ip_datagrams_abandoned > 0 {
                missing.push(format!(
                    "{} fragmented datagram(s) never completed",
                    d.ip_datagrams_abandoned
                ));
            }
        }
        let unseen: Vec<&FlowBrief> = all
            .iter()
            .filter(|f| f.input == index && f.tls_unseen)
            .collect();
        if !unseen.is_empty() {
            missing.push(format!(
                "{} TLS connection(s) whose handshake was not (fully) captured",
                unseen.len()
            ));
        }
        if missing.is_empty() {
            continue;
        }
        let mut flow_ids: Vec<u32> = unseen.iter().map(|f| f.id).collect();
        flow_ids.sort_unstable();
        if let Some(fr) = unseen.iter().map(|f| f.first_frame).min() {
            first_frame = Some(first_frame.map_or(fr, |m| m.min(fr)));
        }
        let rule = findings::CAPTURE_INCOMPLETE;
        out.push(Finding {
            rule: rule.id.into(),
            severity: rule.severity.as_str().into(),
            title: rule.title.into(),
            detail: format!("{}: {}.", input.path, missing.join("; ")),
            flows: flow_ids,
            endpoints: Vec::new(),
            first_frame,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.webex.com", "radcom.webex.com"));
        assert!(name_matches("*.WEBEX.com", "radcom.webex.com."));
        assert!(!name_matches("*.webex.com", "a.b.webex.com"));
        assert!(!name_matches("*.webex.com", "webex.com"));
        assert!(name_matches("callproof.test", "callproof.test"));
        assert!(!name_matches("callproof.test", "media.callproof.test"));
    }

    #[test]
    fn cipher_classes_follow_the_registry() {
        let named = |n| TlsCipherSuite::from_name(n).expect(n);
        assert!(cipher_weakness(named("TLS_RSA_WITH_RC4_128_MD5")).is_some());
        assert!(cipher_weakness(named("TLS_RSA_WITH_3DES_EDE_CBC_SHA")).is_some());
        assert!(cipher_weakness(named("TLS_DH_anon_WITH_AES_128_CBC_SHA")).is_some());
        assert!(cipher_weakness(named("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")).is_none());
        assert!(!forward_secret(named("TLS_RSA_WITH_AES_256_CBC_SHA")));
        assert!(forward_secret(named(
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        )));
        assert!(forward_secret(named("TLS_AES_128_GCM_SHA256")));
    }
}
