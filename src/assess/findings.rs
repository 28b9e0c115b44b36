//! Findings: the table of rules (stable id, severity, title, explanation) and the checks that
//! raise them from the verdict's facts. One place decides each finding; every finding names its
//! evidence (endpoints, flows, the first frame, and for locations the database and its date).
//!
//! Rules so far: where the data goes (issue 4). The encryption and claim rules join this table.

use std::collections::BTreeMap;

use crate::verdict::{Endpoint, Finding, Flow, Verdict};

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

/// Every rule, for `callproof rules` and the documentation.
pub const RULES: &[Rule] = &[
    THIRD_COUNTRY_TRANSFER,
    US_DPF_DEPENDENT,
    PARTIAL_ADEQUACY,
    FOREIGN_OPERATOR,
    LOCATION_INDETERMINATE,
    LOCATION_IMPLAUSIBLE,
];

/// Jurisdictions under which an operator is not "foreign" (EU/EEA and adequate countries).
fn domestic_jurisdiction(region_of: impl Fn(&str) -> Option<String>, cc: &str) -> bool {
    matches!(region_of(cc).as_deref(), Some("eea" | "adequate"))
}

/// What the flows to an endpoint carried.
fn carried(flows: &[&Flow]) -> &'static str {
    let has = |names: &[&str]| {
        flows
            .iter()
            .any(|f| f.protocols.iter().any(|p| names.contains(&p.as_str())))
    };
    match (
        has(&["rtp", "srtp", "rtcp", "srtcp", "zoom"])
            || flows
                .iter()
                .any(|f| f.dtls.as_ref().is_some_and(|d| d.srtp_profile.is_some())),
        has(&["tls", "quic", "sip", "http", "stun", "turn", "dtls", "dns"]),
    ) {
        (true, true) => "media and signalling",
        (true, false) => "media",
        (false, true) => "signalling or other application data",
        (false, false) => "data of an unrecognised protocol",
    }
}

fn names(e: &Endpoint) -> String {
    if e.names.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.names.join(", "))
    }
}

/// Raise the location findings of a verdict. `region_of` gives the policy region of a country.
pub fn location_findings(v: &Verdict, region_of: impl Fn(&str) -> Option<String>) -> Vec<Finding> {
    let by_id: BTreeMap<u32, &Flow> = v.flows.iter().map(|f| (f.id, f)).collect();
    let mut out = Vec::new();
    for e in &v.endpoints {
        let flows: Vec<&Flow> = e
            .flows
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        let bytes: u64 = flows
            .iter()
            .map(|f| f.bytes_client_to_server + f.bytes_server_to_client)
            .sum();
        let first_frame = flows.iter().map(|f| f.first_frame).min();
        let traffic = format!(
            "{bytes} bytes in {} flow(s), carrying {}",
            flows.len(),
            carried(&flows)
        );
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
                detail,
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
                    located()
                ),
            ),
            Some("adequate-partial") if e.country.as_deref() == Some("US") => raise(
                US_DPF_DEPENDENT,
                format!(
                    "{}; {traffic}. The operator is {}; its DPF certification is not visible on the wire.",
                    located(),
                    e.operator.as_ref().map_or("unknown", |o| o.parent.as_str())
                ),
            ),
            Some("adequate-partial") => raise(
                PARTIAL_ADEQUACY,
                format!(
                    "{}; the adequacy decision covers only: {}; {traffic}.",
                    located(),
                    e.region_scope
                        .as_deref()
                        .unwrap_or("part of the recipients")
                ),
            ),
            Some("indeterminate") => raise(
                LOCATION_INDETERMINATE,
                format!(
                    "{}, but {}; {traffic}.",
                    located(),
                    e.region_reason.as_deref().unwrap_or("no reliable location")
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
                    e.location_check.as_deref().unwrap_or_default()
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
                    op.source
                ),
            );
        }
    }
    out
}
