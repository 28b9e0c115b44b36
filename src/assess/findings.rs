//! Findings: the table of rules (stable id, severity, title, explanation) and the checks that
//! raise them from the verdict's facts. One place decides each finding; every finding names its
//! evidence (endpoints, flows, the first frame, and for locations the database and its date).
//!
//! The table holds the rules on where the data goes (checked here), on how it is protected and on
//! what the capture itself lacks (checked in `assess::protection`). Claim rules join it with
//! vendor attribution.

use super::brief::{self, FlowBrief};
use crate::verdict::{Endpoint, Finding, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// A rule of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub explanation: &'static str,
}

pub const THIRD_COUNTRY_TRANSFER: Rule = Rule {
    id: "third-country-transfer",
    severity: Severity::High,
    title: "Data sent to a server in a third country",
    explanation: "The server's address is located (by the named database) in a country outside the \
        EU/EEA without an EU adequacy decision. Sending personal data there is a transfer under GDPR \
        Chapter V and needs safeguards such as standard contractual clauses.",
};

pub const US_DPF_DEPENDENT: Rule = Rule {
    id: "us-dpf-dependent",
    severity: Severity::Medium,
    title: "Data sent to a US server: lawful only if the recipient is DPF-certified",
    explanation: "The EU-US Data Privacy Framework adequacy decision covers only certified \
        organisations. Whether the operator of this address is certified cannot be seen on the \
        wire; check the DPF list for the vendor and its sub-processors.",
};

pub const PARTIAL_ADEQUACY: Rule = Rule {
    id: "partial-adequacy",
    severity: Severity::Low,
    title: "Data sent to a country whose adequacy decision covers only some recipients",
    explanation: "The country's EU adequacy decision has a limited scope (stated in the finding); \
        whether the recipient falls within it cannot be seen on the wire.",
};

pub const FOREIGN_OPERATOR: Rule = Rule {
    id: "foreign-operator",
    severity: Severity::Medium,
    title: "Server in the EU/EEA run by an operator under third-country jurisdiction",
    explanation: "The server is located in the EU/EEA (or an adequate country), but the network \
        operator's legal parent is headquartered elsewhere (e.g. the US, where the CLOUD Act can \
        compel access to data its subsidiaries hold abroad).",
};

pub const LOCATION_INDETERMINATE: Rule = Rule {
    id: "location-indeterminate",
    severity: Severity::Low,
    title: "Server location cannot be determined",
    explanation: "The address belongs to an anycast or global range, or the database has no \
        country for it: the data may be served from any of several countries. The operator \
        signal still applies.",
};

pub const LOCATION_IMPLAUSIBLE: Rule = Rule {
    id: "location-implausible",
    severity: Severity::Low,
    title: "Measured round trip contradicts the database's country",
    explanation: "The capture shows a round trip to this server (TCP handshake or STUN \
        transaction) too short for the server to be on another continent than the capture point, \
        as the database places it: the address is probably anycast or mis-geolocated. A \
        heuristic, stated with its numbers.",
};

pub const OBSOLETE_TLS: Rule = Rule {
    id: "obsolete-tls",
    severity: Severity::Medium,
    title: "Obsolete TLS or DTLS version negotiated",
    explanation: "The server agreed to SSL 2.0/3.0, TLS 1.0/1.1 or DTLS 1.0, or to a draft of \
        TLS 1.3. These versions are deprecated (RFC 8996) and lack modern AEAD ciphers; BSI \
        TR-02102-2 recommends TLS 1.2 or later. The drafts of TLS 1.3 were never standardised \
        (RFC 8446 replaced them in 2018): a server that still agrees to one runs software years \
        out of date.",
};

pub const WEAK_CIPHER: Rule = Rule {
    id: "weak-cipher",
    severity: Severity::High,
    title: "Weak cipher suite negotiated",
    explanation: "The negotiated cipher suite uses a broken or weak algorithm: RC4 (RFC 7465), \
        DES or a 64-bit block cipher (3DES, IDEA, RC2: Sweet32), export-grade keys, or no server \
        authentication (anonymous key exchange). Its traffic must be assumed readable.",
};

pub const NULL_CIPHER: Rule = Rule {
    id: "null-cipher",
    severity: Severity::High,
    title: "Cipher suite without encryption negotiated",
    explanation: "The negotiated cipher suite authenticates but does not encrypt (NULL \
        encryption): the application data crosses the network in clear.",
};

pub const NO_FORWARD_SECRECY: Rule = Rule {
    id: "no-forward-secrecy",
    severity: Severity::Low,
    title: "Key exchange without forward secrecy",
    explanation: "TLS 1.2 or earlier with a static key exchange (RSA key transport, static DH \
        or ECDH, plain PSK): whoever obtains the server's private key later can decrypt this \
        recorded traffic. TLS 1.3 and (EC)DHE suites do not have this weakness.",
};

pub const CERTIFICATE_EXPIRED: Rule = Rule {
    id: "certificate-expired",
    severity: Severity::Medium,
    title: "Server certificate had expired when the connection was made",
    explanation: "The end-entity certificate's notAfter lies before the first packet of the \
        connection (the capture's time, not the time of analysis). A client that accepts it does \
        not check validity, or was told to ignore the error.",
};

pub const CERTIFICATE_NOT_YET_VALID: Rule = Rule {
    id: "certificate-not-yet-valid",
    severity: Severity::Medium,
    title: "Server certificate was not yet valid when the connection was made",
    explanation: "The end-entity certificate's notBefore lies after the first packet of the \
        connection: the server's or the capture's clock is wrong, or the certificate is not the \
        one a client should accept.",
};

pub const CERTIFICATE_SELF_SIGNED: Rule = Rule {
    id: "certificate-self-signed",
    severity: Severity::Medium,
    title: "Self-signed server certificate where a public one is expected",
    explanation: "A TLS server answered with a self-signed end-entity certificate. Unless the \
        client pins it, nothing stops a machine-in-the-middle. (DTLS-SRTP certificates are self-signed by design and are \
        authenticated by the fingerprint in the signalling; they do not raise this.) callproof \
        does not validate chains against a trust store.",
};

pub const CERTIFICATE_NAME_MISMATCH: Rule = Rule {
    id: "certificate-name-mismatch",
    severity: Severity::Medium,
    title: "Server certificate does not name the host the client asked for",
    explanation: "None of the end-entity certificate's DNS names (subjectAltName, else the \
        subject CN; one-label wildcards as RFC 6125 allows) matches the SNI the client sent.",
};

pub const CERTIFICATE_WEAK_KEY: Rule = Rule {
    id: "certificate-weak-key",
    severity: Severity::Medium,
    title: "Server certificate with a weak key or signature",
    explanation: "The end-entity certificate has an RSA or DSA key shorter than 2048 bits, or is \
        signed with MD5 or SHA-1, below what BSI TR-02102 and the CA/Browser Forum accept.",
};

pub const PLAINTEXT_RTP: Rule = Rule {
    id: "plaintext-rtp",
    severity: Severity::High,
    title: "Media sent as plaintext RTP",
    explanation: "RTP or RTCP packets whose payload is not encrypted: anyone on the path can \
        record and play back the audio or video.",
};

pub const PLAINTEXT_RTCP: Rule = Rule {
    id: "plaintext-rtcp",
    severity: Severity::Medium,
    title: "RTCP sent in clear on a flow without media",
    explanation: "RTCP packets crossed unencrypted on a flow that carried no RTP: their SDES \
        items (CNAME, often a user name or SIP URI), sender and receiver reports and application \
        packets are readable on the path, but they carry no audio or video. SRTP requires every \
        RTCP packet to travel as authenticated SRTCP (RFC 3711 section 3.4), so RTCP in clear \
        shows a session without SRTP, or one that leaks its control packets; whether its media \
        is encrypted is for the media flow to show.",
};

pub const SDES_KEYS_IN_CLEAR: Rule = Rule {
    id: "sdes-keys-in-clear",
    severity: Severity::High,
    title: "SRTP keys sent in clear signalling (SDES)",
    explanation: "The SDP carried SRTP master keys (a=crypto ... inline:, RFC 4568) over \
        unencrypted signalling: whoever sees the signalling can decrypt the SRTP media. SDES keys \
        are in any case known to every signalling server, so they never give end-to-end \
        encryption. callproof uses them as an eavesdropper would: the media flows they key \
        say in rtp.srtp_keys (source sdes-in-clear) how many packets they opened.",
};

pub const NULL_SRTP_PROFILE: Rule = Rule {
    id: "null-srtp-profile",
    severity: Severity::High,
    title: "SRTP without encryption negotiated",
    explanation: "The DTLS-SRTP profile (use_srtp) or the SDES crypto suite is a NULL profile: \
        the media is authenticated but not encrypted.",
};

pub const RTCP_IN_CLEAR: Rule = Rule {
    id: "rtcp-in-clear",
    severity: Severity::Low,
    title: "RTCP packets in clear beside encrypted media",
    explanation: "The media is SRTP/SRTCP, but some RTCP packets crossed unencrypted: their \
        SDES items (CNAME, often a user name or SIP URI), sender reports and application \
        packets are readable on the path.",
};

pub const AUDIO_LEVEL_IN_CLEAR: Rule = Rule {
    id: "audio-level-in-clear",
    severity: Severity::Low,
    title: "Audio levels sent in clear RTP header extensions",
    explanation: "The RTP packets carry the RFC 6464 audio-level header extension unencrypted \
        (the SDP's a=extmap names it). SRTP leaves header extensions readable unless they are \
        encrypted (RFC 6904 or cryptex, RFC 9335): anyone on the path sees when each participant \
        speaks and how loudly, and speech content can partly be inferred from it (RFC 6562).",
};

pub const PLAINTEXT_HTTP_TO_SERVICE: Rule = Rule {
    id: "plaintext-http-to-service",
    severity: Severity::Medium,
    title: "A conferencing service reached over plain HTTP",
    explanation: "An HTTP request in clear went to a host the vendor catalogue attributes to a \
        conferencing service: its URL, headers (cookies, tokens) and body are readable and \
        changeable on the path. Whether it carried call data cannot be told from the request \
        alone; a service that answers only with a redirect to HTTPS still exposes the first \
        request.",
};

pub const PLAINTEXT_SIGNALLING: Rule = Rule {
    id: "plaintext-signalling",
    severity: Severity::Medium,
    title: "Call signalling sent in clear",
    explanation: "SIP messages (over UDP, TCP or a WebSocket, RFC 7118) or another call \
        signalling protocol crossed the network unencrypted: they reveal who calls whom, when, \
        from which addresses, and the media keys if SDES is used.",
};

pub const CAPTURE_INCOMPLETE: Rule = Rule {
    id: "capture-incomplete",
    severity: Severity::Low,
    title: "The capture does not show everything the verdict needs",
    explanation: "Damaged or truncated records, frames cut by the snap length, flows beyond the \
        flow limits, or TLS connections whose handshake was not captured: statements about \
        these parts are unknown rather than pass or fail.",
};

/// Every rule, for `callproof rules` and the documentation.
pub const CLAIM_CONTRADICTED: Rule = Rule {
    id: "claim-contradicted",
    severity: Severity::High,
    title: "A vendor's claim is contradicted by the capture",
    explanation: "The vendor catalogue records what the vendor states (with source and date) about \
        encryption, end-to-end encryption or where its servers are; what the capture shows of \
        that vendor's flows says otherwise. The claim check in claims[] gives the reason and the \
        findings it rests on. A contradicted claim matters for the data-protection assessment \
        even where each underlying finding alone is of lower severity.",
};

pub const RULES: &[Rule] = &[
    THIRD_COUNTRY_TRANSFER,
    US_DPF_DEPENDENT,
    PARTIAL_ADEQUACY,
    FOREIGN_OPERATOR,
    LOCATION_INDETERMINATE,
    LOCATION_IMPLAUSIBLE,
    OBSOLETE_TLS,
    WEAK_CIPHER,
    NULL_CIPHER,
    NO_FORWARD_SECRECY,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_NOT_YET_VALID,
    CERTIFICATE_SELF_SIGNED,
    CERTIFICATE_NAME_MISMATCH,
    CERTIFICATE_WEAK_KEY,
    PLAINTEXT_RTP,
    PLAINTEXT_RTCP,
    SDES_KEYS_IN_CLEAR,
    NULL_SRTP_PROFILE,
    RTCP_IN_CLEAR,
    AUDIO_LEVEL_IN_CLEAR,
    PLAINTEXT_HTTP_TO_SERVICE,
    PLAINTEXT_SIGNALLING,
    CAPTURE_INCOMPLETE,
    CLAIM_CONTRADICTED,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A severity from its name ("info", "low", "medium", "high").
pub fn severity_named(name: &str) -> Option<Severity> {
    [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// Jurisdictions under which an operator is not "foreign" (EU/EEA and adequate countries).
fn domestic_jurisdiction(region_of: impl Fn(&str) -> Option<String>, cc: &str) -> bool {
    matches!(region_of(cc).as_deref(), Some("eea" | "adequate"))
}

/// What the flows to an endpoint carried. RTCP without RTP, SRTP or Zoom media beside it is
/// media control, not media: the capture shows reports about a call, not the call.
fn carried(flows: &[&FlowBrief]) -> &'static str {
    let media = flows.iter().any(|f| f.carries_media);
    let control = !media && flows.iter().any(|f| f.carries_media_control);
    match (media, control, flows.iter().any(|f| f.carries_signalling)) {
        (true, _, true) => "media and signalling",
        (true, _, false) => "media",
        (false, true, true) => "RTCP media control (no media seen) and signalling",
        (false, true, false) => "RTCP media control (no media seen)",
        (false, false, true) => "signalling or other application data",
        (false, false, false) => "data of an unrecognised protocol",
    }
}

fn names(e: &Endpoint) -> String {
    if e.names.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.names.join(", "))
    }
}

/// `s` in an allocation of its length. A `format!` buffer grows by doubling, and shrinking it in
/// place does not help with every allocator (mimalloc keeps a block that shrinks by less than
/// half), while a verdict may hold hundreds of thousands of finding texts.
pub fn exact_size(s: String) -> String {
    if s.capacity() > s.len() {
        s.as_str().to_owned()
    } else {
        s
    }
}

/// Raise the location findings of a verdict (`all`: the briefs of its flows). `region_of` gives
/// the policy region of a country.
pub fn location_findings(
    v: &Verdict,
    all: &[FlowBrief],
    region_of: impl Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in &v.endpoints {
        let flows: Vec<&FlowBrief> = e
            .flows
            .iter()
            .filter_map(|&id| brief::by_id(all, id))
            .collect();
        let bytes: u64 = flows.iter().map(|f| f.bytes).sum();
        let first_frame = flows.iter().map(|f| f.first_frame).min();
        // made once, and only for an endpoint that raises a finding (most endpoints raise none)
        let traffic_text = std::cell::OnceCell::new();
        let traffic = || -> &str {
            traffic_text.get_or_init(|| {
                format!(
                    "{bytes} bytes in {} flow(s), carrying {}",
                    flows.len(),
                    carried(&flows)
                )
            })
        };
        let located = || {
            format!(
                "{}{} is in {} according to {}",
                e.ip,
                names(e),
                e.country.as_deref().unwrap_or("?"),
                e.location_source
                    .as_deref()
                    .unwrap_or("the country database")
            )
        };
        let mut raise = |rule: Rule, detail: String| {
            out.push(Finding {
                rule: rule.id.into(),
                severity: rule.severity.as_str().into(),
                title: rule.title.into(),
                detail: exact_size(detail),
                flows: e.flows.clone(),
                endpoints: vec![e.ip.clone()],
                first_frame,
            });
        };
        match e.region.as_deref() {
            Some("third-country") => raise(
                THIRD_COUNTRY_TRANSFER,
                format!(
                    "{}: a third country under the policy; {traffic}.",
                    located(),
                    traffic = traffic(),
                ),
            ),
            Some("adequate-partial") if e.country.as_deref() == Some("US") => raise(
                US_DPF_DEPENDENT,
                format!(
                    "{}; {traffic}. The operator is {}; its DPF certification is not visible on the wire.",
                    located(),
                    e.operator.as_ref().map_or("unknown", |o| o.parent.as_str()),
                    traffic = traffic(),
                ),
            ),
            Some("adequate-partial") => raise(
                PARTIAL_ADEQUACY,
                format!(
                    "{}; the adequacy decision covers only: {}; {traffic}.",
                    located(),
                    e.region_scope
                        .as_deref()
                        .unwrap_or("part of the recipients"),
                    traffic = traffic(),
                ),
            ),
            Some("indeterminate") => raise(
                LOCATION_INDETERMINATE,
                format!(
                    "{}, but {}; {traffic}.",
                    located(),
                    e.region_reason.as_deref().unwrap_or("no reliable location"),
                    traffic = traffic(),
                ),
            ),
            _ => {}
        }
        if e.location_plausible == Some(false) {
            raise(
                LOCATION_IMPLAUSIBLE,
                format!(
                    "{}: {}; {traffic}.",
                    located(),
                    e.location_check.as_deref().unwrap_or_default(),
                    traffic = traffic(),
                ),
            );
        }
        if matches!(e.region.as_deref(), Some("eea" | "adequate"))
            && let Some(op) = &e.operator
            && !op.jurisdiction.is_empty()
            && !domestic_jurisdiction(&region_of, &op.jurisdiction)
        {
            raise(
                FOREIGN_OPERATOR,
                format!(
                    "{}, but its operator {} ({}) is under {} jurisdiction ({}); {traffic}.",
                    located(),
                    op.name,
                    op.parent,
                    op.jurisdiction,
                    op.source,
                    traffic = traffic(),
                ),
            );
        }
    }
    out
}
