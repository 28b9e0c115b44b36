//! The summary: the one place that turns findings into the five answers of `summary`
//! (transport encryption, media encryption, E2EE, third-country transfer, evidence quality).
//!
//! "fail" and "warn" come only from findings and contradicted claims (each answer names the
//! rules or claims it rests on). "pass" needs positive evidence in the flows (an encrypted handshake, encrypted media, located
//! endpoints); without it the answer is "unknown", saying what is missing.

use std::collections::{BTreeMap, BTreeSet};

use super::brief::FlowBrief;
use crate::verdict::{Finding, Status, Summary, Verdict};

const TRANSPORT_FAIL: &[&str] = &["null-cipher", "weak-cipher", "plaintext-signalling"];
const TRANSPORT_WARN: &[&str] = &[
    "plaintext-http-to-service",
    "obsolete-tls",
    "no-forward-secrecy",
    "certificate-expired",
    "certificate-not-yet-valid",
    "certificate-self-signed",
    "certificate-name-mismatch",
    "certificate-weak-key",
];
const MEDIA_FAIL: &[&str] = &["plaintext-rtp", "null-srtp-profile"];
const MEDIA_WARN: &[&str] = &[
    "plaintext-rtcp",
    "sdes-keys-in-clear",
    "rtcp-in-clear",
    "audio-level-in-clear",
];
const E2EE_FAIL: &[&str] = &["plaintext-rtp", "null-srtp-profile", "sdes-keys-in-clear"];
const TRANSFER_FAIL: &[&str] = &["third-country-transfer"];
const TRANSFER_WARN: &[&str] = &[
    "us-dpf-dependent",
    "partial-adequacy",
    "foreign-operator",
    "location-indeterminate",
    "location-implausible",
];
const EVIDENCE_WARN: &[&str] = &["capture-incomplete"];
/// Read through claims[] (the finding's source), by the kind of claim contradicted: a
/// transport, media or E2EE claim fails that answer, a location claim the transfer answer.
const CLAIM_FAIL: &[&str] = &["claim-contradicted"];

/// "Webex claims \"…\", but …" for the contradicted claims of this kind, or None.
fn claims_contradicted(v: &Verdict, kind: &str) -> Option<String> {
    let lines: Vec<String> = v
        .claims
        .iter()
        .filter(|c| c.claim == kind && c.status == "contradicted")
        .map(|c| format!("{} claims \"{}\", but {}", c.vendor, c.statement, c.reason))
        .collect();
    (!lines.is_empty()).then(|| {
        format!(
            "vendor claim contradicted ({}: claims[]): {}",
            CLAIM_FAIL[0],
            lines.join(" | ")
        )
    })
}

fn status(status: &str, reason: impl Into<String>) -> Status {
    Status {
        status: status.into(),
        reason: reason.into(),
    }
}

/// "Weak cipher suite negotiated (weak-cipher: 2 findings, 5 flows); …" for the findings of
/// these rules, or None when none fired.
fn fired(findings: &[Finding], rules: &[&str]) -> Option<String> {
    let mut by_rule: BTreeMap<&str, (&str, usize, BTreeSet<u32>)> = BTreeMap::new();
    for f in findings.iter().filter(|f| rules.contains(&f.rule.as_ref())) {
        let e = by_rule
            .entry(&f.rule)
            .or_insert((&f.title, 0, BTreeSet::new()));
        e.1 += 1;
        e.2.extend(&f.flows);
    }
    if by_rule.is_empty() {
        return None;
    }
    // in the order the rules are listed (most serious first)
    let parts: Vec<String> = rules
        .iter()
        .filter_map(|r| by_rule.get(r).map(|e| (r, e)))
        .map(|(rule, (title, n, flows))| {
            format!("{title} ({rule}: {n} finding(s), {} flow(s))", flows.len())
        })
        .collect();
    Some(parts.join("; "))
}

fn is_secured_signalling(f: &FlowBrief) -> bool {
    (f.tls || f.quic || (f.dtls && !f.media)) && f.state == "encrypted"
}

fn transport(v: &Verdict, flows: &[FlowBrief]) -> Status {
    if let Some(why) = fired(&v.findings, TRANSPORT_FAIL) {
        return status("fail", why);
    }
    if let Some(why) = claims_contradicted(v, "transport-encryption") {
        return status("fail", why);
    }
    if let Some(why) = fired(&v.findings, TRANSPORT_WARN) {
        return status("warn", why);
    }
    let handshakes: Vec<&FlowBrief> = flows.iter().filter(|f| f.tls || f.quic).collect();
    let encrypted = flows.iter().filter(|f| is_secured_signalling(f)).count();
    if encrypted == 0 {
        return status(
            "unknown",
            if handshakes.is_empty() {
                "no TLS or QUIC connection and no signalling in the capture (DTLS that keys SRTP \
                 counts as media)"
                    .to_string()
            } else {
                format!(
                    "{} TLS/QUIC connection(s), none with a handshake that shows its protection",
                    handshakes.len()
                )
            },
        );
    }
    let unknown = handshakes.iter().filter(|f| f.state == "unknown").count();
    status(
        "pass",
        format!(
            "{encrypted} TLS/DTLS/QUIC connection(s) with a current version and cipher{}",
            if unknown > 0 {
                format!("; {unknown} more whose handshake was not seen")
            } else {
                String::new()
            }
        ),
    )
}

fn media(v: &Verdict, flows: &[FlowBrief]) -> Status {
    if let Some(why) = fired(&v.findings, MEDIA_FAIL) {
        return status("fail", why);
    }
    if let Some(why) = claims_contradicted(v, "media-encryption") {
        return status("fail", why);
    }
    let media: Vec<&FlowBrief> = flows.iter().filter(|f| f.media).collect();
    let encrypted = media.iter().filter(|f| f.state == "encrypted").count();
    let unknown = media.len() - encrypted;
    if let Some(why) = fired(&v.findings, MEDIA_WARN) {
        return status(
            "warn",
            if encrypted == 0 {
                format!("{why}; no media flow in the capture shows encryption")
            } else {
                format!("{encrypted} media flow(s) encrypted, but: {why}")
            },
        );
    }
    match (encrypted, unknown) {
        (0, 0) => status(
            "unknown",
            "no RTP, SRTP, DTLS-SRTP or Zoom media in the capture",
        ),
        (0, _) => status(
            "unknown",
            format!("{unknown} media flow(s) whose protection the capture does not show"),
        ),
        (_, 0) => status(
            "pass",
            format!("all {encrypted} media flow(s) encrypted (see flows[].encryption)"),
        ),
        _ => status(
            "warn",
            format!(
                "{encrypted} media flow(s) encrypted, {unknown} whose protection the capture \
                 does not show"
            ),
        ),
    }
}

fn e2ee(v: &Verdict, flows: &[FlowBrief]) -> Status {
    if let Some(why) = fired(&v.findings, E2EE_FAIL) {
        return status(
            "fail",
            format!("media content or keys are visible to others than the participants: {why}"),
        );
    }
    if let Some(why) = claims_contradicted(v, "e2ee") {
        return status("fail", why);
    }
    let media: Vec<&FlowBrief> = flows
        .iter()
        .filter(|f| f.media && f.state == "encrypted")
        .collect();
    if media.is_empty() {
        let at_server = flows
            .iter()
            .filter(|f| f.media && f.media_path.as_deref() == Some("server"))
            .count();
        return status(
            "unknown",
            if at_server > 0 {
                format!(
                    "{at_server} media flow(s) end at a vendor media server; the capture shows \
                     neither their encryption nor an inner end-to-end layer"
                )
            } else {
                "no encrypted media in the capture".to_string()
            },
        );
    }
    let count = |path: Option<&str>| {
        media
            .iter()
            .filter(|f| f.media_path.as_deref() == path)
            .count()
    };
    let (p2p, server, relayed, unknown) = (
        count(Some("peer-to-peer")),
        count(Some("server")),
        count(Some("relayed")),
        count(None),
    );
    if server > 0 {
        let inner = media
            .iter()
            .filter(|f| f.media_path.as_deref() == Some("server") && f.inner_e2ee)
            .count();
        return status(
            "unknown",
            if inner > 0 {
                format!(
                    "{server} encrypted media flow(s) end at a vendor media server; under the \
                     SRTP the key log opened, {inner} of them carry an inner end-to-end layer \
                     in each stream long enough to show it (Jitsi Meet's frame encryption or \
                     SFrame, \
                     flows[].rtp.streams[].inner_e2ee_layers), whose keys the capture cannot \
                     show to stay with the participants"
                )
            } else {
                format!(
                    "{server} encrypted media flow(s) end at a vendor media server, which can \
                     decrypt them unless an inner end-to-end layer exists; that layer cannot \
                     be seen without keys (flows[].media_path_basis)"
                )
            },
        );
    }
    if unknown > 0 || relayed > 0 {
        return status(
            "unknown",
            format!(
                "{} encrypted media flow(s) whose far end the capture does not identify as a \
                 participant or a server{}",
                unknown + relayed,
                if relayed > 0 {
                    format!(" ({relayed} through a TURN relay, which does not decrypt)")
                } else {
                    String::new()
                }
            ),
        );
    }
    status(
        "pass",
        format!(
            "all {p2p} encrypted media flow(s) are peer-to-peer, keyed between the two ends \
             (flows[].media_path_basis)"
        ),
    )
}

fn transfer(v: &Verdict) -> Status {
    if v.data.is_none() {
        return status("unknown", "analysed without geolocation data");
    }
    if let Some(why) = fired(&v.findings, TRANSFER_FAIL) {
        return status("fail", why);
    }
    // a vendor's own location claim that its endpoints contradict
    if let Some(why) = claims_contradicted(v, "server-location") {
        return status("fail", why);
    }
    if let Some(why) = fired(&v.findings, TRANSFER_WARN) {
        return status("warn", why);
    }
    if v.endpoints.is_empty() {
        return status("unknown", "no server endpoint in the capture");
    }
    let unlocated = v
        .endpoints
        .iter()
        .filter(|e| !matches!(e.region.as_deref(), Some("eea" | "adequate" | "private")))
        .count();
    if unlocated > 0 {
        return status(
            "unknown",
            format!("{unlocated} server endpoint(s) without a location"),
        );
    }
    let count = |region: &str| {
        v.endpoints
            .iter()
            .filter(|e| e.region.as_deref() == Some(region))
            .count()
    };
    let parts: Vec<String> = [
        ("eea", "in the EU/EEA"),
        ("adequate", "in a country with an EU adequacy decision"),
        ("private", "private or loopback addresses"),
    ]
    .iter()
    .filter(|(region, _)| count(region) > 0)
    .map(|(region, what)| format!("{} {what}", count(region)))
    .collect();
    status("pass", format!("server endpoints: {}", parts.join(", ")))
}

fn evidence(v: &Verdict) -> Status {
    let readable: Vec<_> = v.inputs.iter().filter(|i| i.error.is_none()).collect();
    if readable.is_empty() {
        return status("fail", "no input could be read");
    }
    if let Some(why) = fired(&v.findings, EVIDENCE_WARN) {
        return status("warn", why);
    }
    let frames: u64 = readable.iter().map(|i| i.frames).sum();
    status(
        "pass",
        format!(
            "{frames} frame(s) in {} input(s) read without damage, truncation or flow-limit \
             loss; no TLS handshake missing",
            readable.len()
        ),
    )
}

/// The summary of a verdict whose findings are complete; `flows`: the briefs of its flows.
pub fn summarize(v: &Verdict, flows: &[FlowBrief]) -> Summary {
    Summary {
        transport_encryption: transport(v, flows),
        media_encryption: media(v, flows),
        e2ee: e2ee(v, flows),
        third_country_transfer: transfer(v),
        evidence_quality: evidence(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::findings::{RULES, Severity};

    /// Every rule feeds exactly the answers it should: a rule no answer reads would be a finding
    /// the summary ignores.
    #[test]
    fn every_rule_feeds_the_summary() {
        let read: Vec<&str> = [
            TRANSPORT_FAIL,
            TRANSPORT_WARN,
            MEDIA_FAIL,
            MEDIA_WARN,
            E2EE_FAIL,
            TRANSFER_FAIL,
            TRANSFER_WARN,
            EVIDENCE_WARN,
            CLAIM_FAIL,
        ]
        .concat();
        for r in RULES {
            assert!(
                read.contains(&r.id),
                "{} is read by no summary answer",
                r.id
            );
        }
        for id in &read {
            assert!(RULES.iter().any(|r| r.id == *id), "{id} is not a rule");
        }
        // fail answers rest on high-severity rules or on plaintext signalling
        for id in TRANSPORT_FAIL.iter().chain(MEDIA_FAIL).chain(TRANSFER_FAIL) {
            let r = RULES.iter().find(|r| r.id == *id).unwrap();
            assert!(r.severity >= Severity::Medium, "{id}");
        }
    }
}
