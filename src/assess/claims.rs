//! Claim checks: each claim of each vendor seen (from the vendor catalogue, with source and
//! date) against what the capture shows of that vendor: `consistent`, `contradicted` or
//! `unverifiable`, with the reason and the flows it rests on.
//!
//! What each kind of claim is checked against:
//! - transport-encryption: the vendor's TLS/QUIC connections and the findings on them;
//! - media-encryption: the vendor's media flows and their encryption;
//! - e2ee: the media path of the media in the same captures as the vendor's flows — a vendor
//!   media server can decrypt unless an inner layer exists, which needs keys to see
//!   (unverifiable); peer-to-peer keyed media is consistent; media in clear contradicts;
//! - server-location: the located region of the vendor's server endpoints.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::brief::{self, FlowBrief};
use super::findings::CLAIM_CONTRADICTED;
use crate::vendor::{Catalogue, ClaimDef};
use crate::verdict::{Claim, Finding, Verdict};

const TRANSPORT_CONTRADICTING: &[&str] = &[
    "obsolete-tls",
    "weak-cipher",
    "null-cipher",
    "plaintext-signalling",
];
const MEDIA_CONTRADICTING: &[&str] = &["plaintext-rtp", "null-srtp-profile"];

struct Check {
    observed: String,
    status: &'static str,
    reason: String,
    flows: Vec<u32>,
}

fn ids(flows: &[&FlowBrief]) -> Vec<u32> {
    flows.iter().map(|f| f.id).collect()
}

/// Findings of these rules that touch these flows: "rule: detail" lines.
fn findings_on(v: &Verdict, rules: &[&str], flows: &[&FlowBrief]) -> Vec<String> {
    let ids: BTreeSet<u32> = flows.iter().map(|f| f.id).collect();
    v.findings
        .iter()
        .filter(|f| rules.contains(&f.rule.as_ref()))
        .filter(|f| f.flows.iter().any(|id| ids.contains(id)))
        .map(|f| format!("{}: {}", f.rule, f.detail))
        .collect()
}

fn transport(v: &Verdict, flows: &[&FlowBrief]) -> Check {
    let handshakes: Vec<&FlowBrief> = flows.iter().copied().filter(|f| f.tls || f.quic).collect();
    let protections: BTreeSet<&str> = handshakes
        .iter()
        .filter_map(|f| f.protection.as_deref())
        .collect();
    let observed = format!(
        "{} TLS/QUIC connection(s) to the vendor; negotiated: {}",
        handshakes.len(),
        if protections.is_empty() {
            "none seen".to_string()
        } else {
            protections.into_iter().collect::<Vec<_>>().join("; ")
        }
    );
    let bad = findings_on(v, TRANSPORT_CONTRADICTING, flows);
    if !bad.is_empty() {
        return Check {
            observed,
            status: "contradicted",
            reason: bad.join(" | "),
            flows: ids(&handshakes),
        };
    }
    let encrypted = handshakes.iter().filter(|f| f.state == "encrypted").count();
    if encrypted == 0 {
        return Check {
            observed,
            status: "unverifiable",
            reason: "no handshake of the vendor's connections was captured".into(),
            flows: ids(&handshakes),
        };
    }
    Check {
        observed,
        status: "consistent",
        reason: format!(
            "{encrypted} connection(s) with a negotiated encrypting cipher; no obsolete version, \
             weak cipher or signalling in clear"
        ),
        flows: ids(&handshakes),
    }
}

fn media(v: &Verdict, flows: &[&FlowBrief]) -> Check {
    let media: Vec<&FlowBrief> = flows.iter().copied().filter(|f| f.media).collect();
    let protections: BTreeSet<&str> = media
        .iter()
        .filter_map(|f| f.protection.as_deref())
        .collect();
    let observed = format!(
        "{} media flow(s) of the vendor{}",
        media.len(),
        if protections.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                protections.into_iter().collect::<Vec<_>>().join("; ")
            )
        }
    );
    let bad = findings_on(v, MEDIA_CONTRADICTING, &media);
    if !bad.is_empty() {
        return Check {
            observed,
            status: "contradicted",
            reason: bad.join(" | "),
            flows: ids(&media),
        };
    }
    let encrypted = media.iter().filter(|f| f.state == "encrypted").count();
    let (status, reason) = match (media.len(), encrypted) {
        (0, _) => (
            "unverifiable",
            "no media of this vendor in the capture".to_string(),
        ),
        (n, e) if e == n => ("consistent", format!("all {n} media flow(s) encrypted")),
        (n, e) => (
            "unverifiable",
            format!(
                "{} of {n} media flow(s) of unknown protection (flows[].encryption.basis says why)",
                n - e
            ),
        ),
    };
    Check {
        observed,
        status,
        reason,
        flows: ids(&media),
    }
}

fn e2ee(
    v: &Verdict,
    all: &[FlowBrief],
    vendor: &str,
    flows: &[&FlowBrief],
    condition: Option<&str>,
) -> Check {
    let inputs: BTreeSet<usize> = flows.iter().map(|f| f.input).collect();
    let media: Vec<&FlowBrief> = all
        .iter()
        .filter(|f| inputs.contains(&f.input) && f.media)
        .collect();
    let at_server: Vec<&FlowBrief> = media
        .iter()
        .copied()
        .filter(|f| f.media_path.as_deref() == Some("server"))
        .collect();
    let p2p: Vec<&FlowBrief> = media
        .iter()
        .copied()
        .filter(|f| f.media_path.as_deref() == Some("peer-to-peer") && f.state == "encrypted")
        .collect();
    let observed = format!(
        "{} media flow(s) in the capture(s) of this vendor: {} at a media server, {} \
         peer-to-peer and encrypted",
        media.len(),
        at_server.len(),
        p2p.len()
    );
    let condition = condition.map_or(String::new(), |c| format!(" (the claim holds: {c})"));
    // SDES keys travel in the signalling flows, media in clear in the media flows
    let in_captures: Vec<&FlowBrief> = all.iter().filter(|f| inputs.contains(&f.input)).collect();
    let bad = findings_on(
        v,
        &["plaintext-rtp", "null-srtp-profile", "sdes-keys-in-clear"],
        &in_captures,
    );
    if !bad.is_empty() {
        return Check {
            observed,
            status: "contradicted",
            reason: format!(
                "media or its keys are visible beyond the participants: {}",
                bad.join(" | ")
            ),
            flows: ids(&media),
        };
    }
    if !at_server.is_empty() {
        let servers: BTreeSet<String> = at_server
            .iter()
            .map(|f| {
                format!(
                    "{} ({})",
                    f.server_ip,
                    f.vendor.as_ref().map_or(vendor, |r| r.name.as_str())
                )
            })
            .collect();
        let servers = servers.into_iter().collect::<Vec<_>>().join(", ");
        if at_server.iter().all(|f| f.inner_e2ee) {
            return Check {
                observed,
                status: "consistent",
                reason: format!(
                    "media ends at a vendor media server ({servers}), but under the SRTP the key \
                     log opened every such flow carries an inner end-to-end layer in each \
                     stream long enough to show it (Jitsi Meet's frame encryption or SFrame, \
                     flows[].rtp.streams[].inner_e2ee_layers); that only the participants \
                     hold its keys the capture cannot show{condition}"
                ),
                flows: ids(&at_server),
            };
        }
        return Check {
            observed,
            status: "unverifiable",
            reason: format!(
                "media ends at a vendor media server ({servers}), which can decrypt it unless an \
                 inner end-to-end layer exists; that layer cannot be seen without keys{condition}"
            ),
            flows: ids(&at_server),
        };
    }
    if !p2p.is_empty() && p2p.len() == media.len() {
        return Check {
            observed,
            status: "consistent",
            reason: format!(
                "all media is peer-to-peer and keyed between the participants \
                 (flows[].media_path_basis){condition}"
            ),
            flows: ids(&p2p),
        };
    }
    Check {
        observed,
        status: "unverifiable",
        reason: if media.is_empty() {
            format!("no media in the capture{condition}")
        } else {
            format!("the media path of some media flows is not known{condition}")
        },
        flows: ids(&media),
    }
}

fn location(v: &Verdict, vendor: &str, region: &str, condition: Option<&str>) -> Check {
    let endpoints: Vec<_> = v
        .endpoints
        .iter()
        .filter(|e| e.vendor.as_ref().is_some_and(|r| r.id == vendor))
        .collect();
    let inside = |e: &&crate::verdict::Endpoint| match region {
        "EU" => matches!(e.region.as_deref(), Some("eea" | "private")),
        cc => e.country.as_deref() == Some(cc) || e.region.as_deref() == Some("private"),
    };
    let known = |e: &&crate::verdict::Endpoint| {
        !matches!(e.region.as_deref(), None | Some("indeterminate"))
    };
    let outside: Vec<String> = endpoints
        .iter()
        .filter(|e| known(e) && !inside(e))
        .map(|e| format!("{} in {}", e.ip, e.country.as_deref().unwrap_or("?")))
        .collect();
    let unknown = endpoints.iter().filter(|e| !known(e)).count();
    let flows: Vec<u32> = endpoints
        .iter()
        .flat_map(|e| e.flows.iter().copied())
        .collect();
    let observed = format!(
        "{} server endpoint(s) of the vendor: {} inside {region}, {} outside, {unknown} not \
         locatable",
        endpoints.len(),
        endpoints.iter().filter(|e| known(e) && inside(e)).count(),
        outside.len()
    );
    let condition = condition.map_or(String::new(), |c| {
        format!("; the claim's condition ({c}) must have applied to this account")
    });
    if v.data.is_none() {
        return Check {
            observed,
            status: "unverifiable",
            reason: "analysed without geolocation data".into(),
            flows,
        };
    }
    if !outside.is_empty() {
        return Check {
            observed,
            status: "contradicted",
            reason: format!(
                "server endpoints outside {region}: {}{condition}",
                outside.join(", ")
            ),
            flows,
        };
    }
    if endpoints.is_empty() || unknown > 0 {
        return Check {
            observed,
            status: "unverifiable",
            reason: if endpoints.is_empty() {
                "no server endpoint of the vendor in the capture".into()
            } else {
                format!("{unknown} endpoint(s) anycast or without a location")
            },
            flows,
        };
    }
    Check {
        observed,
        status: "consistent",
        reason: format!("every server endpoint of the vendor is located inside {region}"),
        flows,
    }
}

fn check_one(
    v: &Verdict,
    all: &[FlowBrief],
    vendor: &str,
    flows: &[&FlowBrief],
    c: &ClaimDef,
) -> Option<Check> {
    Some(match c.claim.as_str() {
        "transport-encryption" => transport(v, flows),
        "media-encryption" => media(v, flows),
        "e2ee" => e2ee(v, all, vendor, flows, c.condition.as_deref()),
        "server-location" => location(v, vendor, c.region.as_deref()?, c.condition.as_deref()),
        _ => return None,
    })
}

/// Check every claim of every vendor seen in the verdict; `all`: the briefs of its flows.
pub fn check(v: &Verdict, all: &[FlowBrief], catalogue: &Catalogue) -> Vec<Claim> {
    let mut out = Vec::new();
    for seen in &v.vendors {
        let Some(vendor) = catalogue.vendors.iter().find(|x| x.id == seen.id) else {
            continue;
        };
        let flows: Vec<&FlowBrief> = all
            .iter()
            .filter(|f| f.vendor.as_ref().is_some_and(|r| r.id == seen.id))
            .collect();
        for c in &vendor.claims {
            let Some(check) = check_one(v, all, &seen.id, &flows, c) else {
                continue;
            };
            out.push(Claim {
                vendor: seen.id.clone(),
                claim: c.claim.clone(),
                statement: c.statement.clone(),
                condition: c.condition.clone(),
                source: c.source.clone(),
                date: c.date.clone(),
                observed: check.observed,
                status: check.status.into(),
                reason: check.reason,
                flows: check.flows,
            });
        }
    }
    out
}

/// One `claim-contradicted` finding per contradicted claim, on the flows the check rests on.
pub fn contradiction_findings(v: &Verdict, all: &[FlowBrief]) -> Vec<Finding> {
    v.claims
        .iter()
        .filter(|c| c.status == "contradicted")
        .map(|c| {
            let name = v
                .vendors
                .iter()
                .find(|s| s.id == c.vendor)
                .map_or(c.vendor.as_str(), |s| s.name.as_str());
            // flow ids are indices into flows[]
            let flows: Vec<&FlowBrief> = c
                .flows
                .iter()
                .filter_map(|&id| brief::by_id(all, id))
                .collect();
            let endpoints: BTreeSet<Arc<str>> = flows.iter().map(|f| f.server_ip.clone()).collect();
            Finding {
                rule: CLAIM_CONTRADICTED.id.into(),
                severity: CLAIM_CONTRADICTED.severity.as_str().into(),
                title: CLAIM_CONTRADICTED.title.into(),
                detail: format!(
                    "{name} states \"{}\" ({}; {}, {}); the capture shows: {}",
                    c.statement, c.claim, c.source, c.date, c.reason
                ),
                flows: c.flows.clone(),
                endpoints: endpoints.into_iter().collect(),
                first_frame: flows.iter().map(|f| f.first_frame).min(),
            }
        })
        .collect()
}
