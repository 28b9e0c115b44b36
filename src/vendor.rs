//! Vendor attribution: the vendor catalogue (data in `vendors/catalogue.json`, embedded; users
//! add or replace vendors with `--vendors FILE`) and the decision which vendor each flow and
//! server endpoint belongs to, with the evidence that decided it.
//!
//! Evidence and its strength: a name (TLS/QUIC SNI, a DNS answer in the capture, the server
//! certificate) under a vendor domain, an address in a vendor's published range, or a
//! vendor-specific payload (Zoom's encapsulation) is strong; a vendor-specific AS number or a
//! STUN dialect (Microsoft's TURN framing) is medium; a distinctive port range is weak and
//! decides only when nothing else does. Generic ports (3478) never decide. Reads the verdict's
//! facts only.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};
use ipnet::IpNet;
use serde::Deserialize;

use crate::assess::brief::FlowBrief;
use crate::verdict::{Endpoint, Flow, VendorRef, VendorSeen};

const EMBEDDED: &str = include_str!("../vendors/catalogue.json");

#[derive(Debug, Clone, Deserialize)]
pub struct Catalogue {
    pub name: String,
    pub version: String,
    pub vendors: Vec<Vendor>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Vendor {
    pub id: String,
    pub name: String,
    pub operator: String,
    /// ISO code of the operator's home country; empty when it depends on who hosts it.
    pub jurisdiction: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub ip_ranges: Vec<IpNet>,
    #[serde(default)]
    pub asns: Vec<u32>,
    #[serde(default)]
    pub ports: Vec<PortRange>,
    /// callproof protocol labels only this vendor uses (e.g. "zoom").
    #[serde(default)]
    pub protocols: Vec<String>,
    /// STUN dialects: "ms-turn".
    #[serde(default)]
    pub stun: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// What the vendor claims, each with its source and date.
    #[serde(default)]
    pub claims: Vec<ClaimDef>,
}

/// A vendor's claim as the catalogue records it.
#[derive(Debug, Clone, Deserialize)]
pub struct ClaimDef {
    /// "transport-encryption", "media-encryption", "e2ee" or "server-location".
    pub claim: String,
    pub statement: String,
    /// When the claim holds (e.g. "optional: the host must enable it").
    #[serde(default)]
    pub condition: Option<String>,
    /// For server-location: "EU" (EU/EEA) or an ISO country code.
    #[serde(default)]
    pub region: Option<String>,
    pub source: String,
    pub date: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortRange {
    pub transport: String,
    pub from: u16,
    pub to: u16,
    /// Whether the range alone points to this vendor (weak evidence); otherwise it only
    /// supports other evidence.
    #[serde(default)]
    pub distinctive: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{path}: cannot read the vendor catalogue: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a vendor catalogue: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

impl Catalogue {
    /// The catalogue built into the binary.
    pub fn embedded() -> Self {
        serde_json::from_str(EMBEDDED).expect("vendors/catalogue.json is checked by the tests")
    }

    /// The built-in catalogue with the vendors of `path` added; a vendor with an existing id
    /// replaces the built-in one.
    pub fn with_file(mut self, path: &std::path::Path) -> Result<Self, CatalogueError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: p.clone(),
            source,
        })?;
        let extra: Catalogue = serde_json::from_str(&text)
            .map_err(|source| CatalogueError::Parse { path: p, source })?;
        for v in extra.vendors {
            match self.vendors.iter_mut().find(|o| o.id == v.id) {
                Some(old) => *old = v,
                None => self.vendors.push(v),
            }
        }
        self.name = format!("{} + {}", self.name, extra.name);
        self.version = format!("{} + {}", self.version, extra.version);
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Weak,
    Medium,
    Strong,
}

impl Strength {
    fn as_str(self) -> &'static str {
        match self {
            Strength::Weak => "weak",
            Strength::Medium => "medium",
            Strength::Strong => "strong",
        }
    }
}

/// A name without its `*.` wildcard labels and trailing dot. (`strip_prefix` rather than
/// `trim_start_matches("*.")`, which sets up a substring searcher on every call: a quarter of
/// vendor matching's time on the 1 GB compare capture.)
fn bare_name(name: &str) -> &str {
    let mut name = name;
    while let Some(rest) = name.strip_prefix("*.") {
        name = rest;
    }
    name.trim_end_matches('.')
}

/// Whether a bare `name` (any case; see [`bare_name`]) is `domain` (lower case) or under it.
/// Allocation-free: it runs for every name of every flow against every domain.
fn under_domain_bare(name: &str, domain: &str) -> bool {
    let (n, d) = (name.as_bytes(), domain.as_bytes());
    if n.len() == d.len() {
        return n.eq_ignore_ascii_case(d);
    }
    n.len() > d.len()
        && n[n.len() - d.len() - 1] == b'.'
        && n[n.len() - d.len()..].eq_ignore_ascii_case(d)
}

/// Evidence for each vendor on one flow: vendor index → (strength, reasons).
type Matches = BTreeMap<usize, (Strength, Vec<String>)>;

fn add(m: &mut Matches, vendor: usize, strength: Strength, why: String) {
    let e = m.entry(vendor).or_insert((strength, Vec::new()));
    e.0 = e.0.max(strength);
    if !e.1.contains(&why) {
        e.1.push(why);
    }
}

struct Context<'a> {
    catalogue: &'a Catalogue,
    /// Names the capture's DNS answers give each address.
    dns: &'a DnsNames,
    /// AS number of the flow's server.
    asn: Option<u32>,
}

/// Names the DNS answers of the captures give each address, in the order of the flows that
/// carried them (input, flow id, place in the flow's answers), whatever order they are added in.
#[derive(Debug, Default)]
pub struct DnsNames {
    by_ip: HashMap<String, AddressNames>,
}

/// The names answered for one address, and whether more distinct names were answered than
/// are kept.
#[derive(Debug, Default)]
struct AddressNames {
    kept: Vec<(AnswerOrder, String)>,
    dropped: bool,
}

/// (input, flow id, index in the flow's answers).
pub type AnswerOrder = (usize, u32, u32);

/// Names kept per server address, from DNS answers and for `endpoints[].names`. A shared CDN
/// address may legitimately have dozens; a capture crafted with a million answers for one
/// address must not make every later lookup (one per flow) and every insertion scan them all.
pub const MAX_NAMES_PER_ADDRESS: usize = 256;

impl DnsNames {
    /// Add an answer; a name already known keeps its earliest place. Of more names than
    /// `MAX_NAMES_PER_ADDRESS`, the earliest (by answer order) are kept, whatever order the
    /// answers are added in.
    pub fn add(&mut self, ip: &str, name: &str, order: AnswerOrder) {
        let address = match self.by_ip.get_mut(ip) {
            Some(n) => n,
            None => self.by_ip.entry(ip.to_string()).or_default(),
        };
        let names = &mut address.kept;
        if names.len() == MAX_NAMES_PER_ADDRESS
            && names.last().is_some_and(|(last, _)| *last <= order)
        {
            // later than every name kept (and than a kept copy of this one)
            address.dropped |= !names.iter().any(|(_, n)| n == name);
            return;
        }
        if let Some(at) = names.iter().position(|(_, n)| n == name) {
            if names[at].0 <= order {
                return;
            }
            names.remove(at);
        }
        let at = names.partition_point(|(o, _)| *o < order);
        names.insert(at, (order, name.to_string()));
        if names.len() > MAX_NAMES_PER_ADDRESS {
            names.truncate(MAX_NAMES_PER_ADDRESS);
            address.dropped = true;
        }
    }

    /// Whether more distinct names were answered for `ip` than `names` gives.
    pub fn names_dropped(&self, ip: &str) -> bool {
        self.by_ip.get(ip).is_some_and(|a| a.dropped)
    }

    /// The names of `ip`, in order.
    pub fn names(&self, ip: &str) -> impl Iterator<Item = &str> {
        self.by_ip
            .get(ip)
            .into_iter()
            .flat_map(|a| a.kept.iter())
            .map(|(_, n)| n.as_str())
    }
}

impl Context<'_> {
    fn names(&self, m: &mut Matches, kind: &str, names: &[&str]) {
        for (i, v) in self.catalogue.vendors.iter().enumerate() {
            for name in names {
                let bare = bare_name(name);
                if let Some(d) = v.domains.iter().find(|d| under_domain_bare(bare, d)) {
                    add(
                        m,
                        i,
                        Strength::Strong,
                        format!("{kind} {name} is under {d}"),
                    );
                }
            }
        }
    }

    fn flow(&self, f: &Flow) -> Matches {
        let mut m = Matches::new();
        let sni: Vec<&str> = [
            f.tls.as_ref().and_then(|t| t.sni.as_deref()),
            f.quic.as_ref().and_then(|q| q.sni.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.names(&mut m, "SNI", &sni);
        let host: Vec<&str> = f.http.iter().filter_map(|h| h.host.as_deref()).collect();
        self.names(&mut m, "HTTP Host", &host);
        let certificate: Vec<&str> = f
            .tls
            .iter()
            .chain(f.dtls.iter())
            .filter_map(|t| t.certificates.first())
            .flat_map(|c| c.san.iter().map(String::as_str))
            .collect();
        self.names(&mut m, "certificate name", &certificate);
        let names: Vec<&str> = self.dns.names(&f.server.ip).collect();
        if !names.is_empty() {
            self.names(&mut m, "DNS answer", &names);
        }
        let ip: Option<IpAddr> = f.server.ip.parse().ok();
        let asn = self.asn;
        for (i, v) in self.catalogue.vendors.iter().enumerate() {
            if let Some(ip) = ip
                && let Some(net) = v.ip_ranges.iter().find(|n| n.contains(&ip))
            {
                add(
                    &mut m,
                    i,
                    Strength::Strong,
                    format!("address {ip} is in {net}, published by {}", v.name),
                );
            }
            if let Some(asn) = asn.filter(|a| v.asns.contains(a)) {
                add(
                    &mut m,
                    i,
                    Strength::Medium,
                    format!("AS{asn} is {}'s", v.name),
                );
            }
            for p in f
                .protocols
                .iter()
                .filter(|p| v.protocols.iter().any(|x| x == *p))
            {
                add(
                    &mut m,
                    i,
                    Strength::Strong,
                    format!(
                        "{p} payload format on {} port {}",
                        f.transport, f.server.port
                    ),
                );
            }
            if v.stun.iter().any(|s| s == "ms-turn")
                && f.stun.as_ref().is_some_and(|s| s.ms_turn > 0)
            {
                add(
                    &mut m,
                    i,
                    Strength::Medium,
                    "Microsoft TURN framing (MS-TURN)".into(),
                );
            }
            for r in &v.ports {
                if r.transport == f.transport && (r.from..=r.to).contains(&f.server.port) {
                    // a generic port only supports a decision made on other evidence
                    if r.distinctive || m.contains_key(&i) {
                        add(
                            &mut m,
                            i,
                            Strength::Weak,
                            format!(
                                "{} port {} is in {}'s range {}-{}",
                                f.transport, f.server.port, v.name, r.from, r.to
                            ),
                        );
                    }
                }
            }
        }
        m
    }
}

/// The strongest match: by strength, then by the amount of evidence, then catalogue order.
fn decide(catalogue: &Catalogue, m: &Matches) -> Option<VendorRef> {
    let (&i, (strength, evidence)) = m.iter().max_by(|a, b| {
        (a.1.0, a.1.1.len(), std::cmp::Reverse(*a.0)).cmp(&(
            b.1.0,
            b.1.1.len(),
            std::cmp::Reverse(*b.0),
        ))
    })?;
    let v = &catalogue.vendors[i];
    let mut evidence = evidence.clone();
    for (&j, (s, _)) in m.iter().filter(|(j, _)| **j != i) {
        evidence.push(format!(
            "also matches {} ({} evidence)",
            catalogue.vendors[j].name,
            s.as_str()
        ));
    }
    Some(VendorRef {
        id: v.id.clone(),
        name: v.name.clone(),
        strength: strength.as_str().into(),
        evidence,
        evidence_truncated: false,
    })
}

/// Add a reason to an endpoint's list, keeping each reason's earliest place and, of more than
/// `MAX_REASONS_PER_ENDPOINT` reasons, the earliest ones, whatever order the flows come in.
/// Returns true when a distinct reason was left out (this one or one it displaced).
fn keep_earliest(
    reasons: &mut Vec<(EvidenceOrder, String)>,
    order: EvidenceOrder,
    why: String,
) -> bool {
    if let Some(known) = reasons.iter_mut().find(|(_, known)| *known == why) {
        known.0 = known.0.min(order);
        false
    } else if reasons.len() < MAX_REASONS_PER_ENDPOINT {
        reasons.push((order, why));
        false
    } else {
        if let Some(latest) = reasons
            .iter_mut()
            .max_by_key(|(at, _)| *at)
            .filter(|(at, _)| *at > order)
        {
            *latest = (order, why);
        }
        true
    }
}

/// Vendor attribution flow by flow (a verdict's flows are judged as they are made), then of the
/// server endpoints from the evidence of all their flows.
#[derive(Default)]
pub struct Attributor {
    /// Per server address: each matching vendor's evidence (reasons with the place they were
    /// first given: flow order, then order within the flow).
    per_endpoint: HashMap<String, EndpointMatches>,
}

/// Evidence for each vendor on one endpoint: (vendor index, its evidence), by vendor index. A list rather than a map: an endpoint matches one or two vendors,
/// and a capture may have a million endpoints (a B-tree's first node alone is 400 bytes).
type EndpointMatches = Vec<(usize, VendorEvidence)>;

/// One vendor's evidence on one endpoint.
#[derive(Debug)]
struct VendorEvidence {
    strength: Strength,
    /// The reasons with the place they were first given.
    reasons: Vec<(EvidenceOrder, String)>,
    /// More distinct reasons were given than `reasons` keeps.
    reasons_dropped: bool,
}

/// Reasons kept per vendor and endpoint: the earliest by flow order. The strength still counts
/// every flow; a crafted capture of a million flows, each naming the server differently, must
/// not list (and scan for every flow) a million reasons.
pub const MAX_REASONS_PER_ENDPOINT: usize = 16;

/// (input, flow id, index of the reason on that flow).
type EvidenceOrder = (usize, u32, usize);

impl Attributor {
    /// Attribute one flow, given the capture's DNS names and its server's AS number. Flows may
    /// come in any order: an endpoint's evidence is listed in flow order.
    pub fn flow(&mut self, catalogue: &Catalogue, f: &mut Flow, dns: &DnsNames, asn: Option<u32>) {
        let cx = Context {
            catalogue,
            dns,
            asn,
        };
        let m = cx.flow(f);
        f.vendor = decide(catalogue, &m).map(Box::new);
        if m.is_empty() {
            // most servers of a capture match no vendor: no entry (a key and an empty map) each
            return;
        }
        let e = match self.per_endpoint.get_mut(f.server.ip.as_str()) {
            Some(e) => e,
            None => self.per_endpoint.entry(f.server.ip.clone()).or_default(),
        };
        let mut n = 0;
        for (i, (s, why)) in m {
            let at = match e.binary_search_by_key(&i, |(vendor, _)| *vendor) {
                Ok(at) => at,
                Err(at) => {
                    let evidence = VendorEvidence {
                        strength: s,
                        reasons: Vec::new(),
                        reasons_dropped: false,
                    };
                    e.insert(at, (i, evidence));
                    at
                }
            };
            let entry = &mut e[at].1;
            entry.strength = entry.strength.max(s);
            for w in why {
                let order = (f.input, f.id, n);
                n += 1;
                entry.reasons_dropped |= keep_earliest(&mut entry.reasons, order, w);
            }
        }
    }

    /// Attribute each server endpoint by the evidence of all its flows. Endpoints with the same
    /// attribution and evidence (e.g. a vendor's port range only) share one record.
    pub fn endpoints(&self, catalogue: &Catalogue, endpoints: &mut [Endpoint]) {
        let mut shared: HashSet<Arc<VendorRef>> = HashSet::default();
        for e in endpoints {
            e.vendor = self.per_endpoint.get(&*e.ip).and_then(|by_vendor| {
                let m: Matches = by_vendor
                    .iter()
                    .map(|(i, evidence)| {
                        let mut why = evidence.reasons.clone();
                        why.sort_by_key(|(order, _)| *order);
                        let why = why.into_iter().map(|(_, w)| w).collect();
                        (*i, (evidence.strength, why))
                    })
                    .collect();
                let mut decided = decide(catalogue, &m)?;
                decided.evidence_truncated = by_vendor
                    .iter()
                    .any(|(i, ev)| ev.reasons_dropped && catalogue.vendors[*i].id == decided.id);
                if let Some(known) = shared.get(&decided) {
                    return Some(known.clone());
                }
                let decided = Arc::new(decided);
                shared.insert(decided.clone());
                Some(decided)
            });
        }
    }
}

/// The vendors whose flows the verdict lists (`flows`: their briefs). A vendor's endpoints are
/// listed in the order of their first flow; which are listed already is looked up in a set, as
/// a vendor may have hundreds of thousands (a capture of a port scan on a vendor's ports).
pub fn vendors_seen(flows: &[FlowBrief], catalogue: &Catalogue) -> Vec<VendorSeen> {
    let mut seen: BTreeMap<String, (VendorSeen, HashSet<&str>)> = BTreeMap::new();
    for f in flows {
        if let Some(r) = &f.vendor {
            let vendor = catalogue.vendors.iter().find(|x| x.id == r.id);
            let (s, listed) = seen.entry(r.id.clone()).or_insert_with(|| {
                let s = VendorSeen {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    operator: vendor.map(|x| x.operator.clone()).unwrap_or_default(),
                    jurisdiction: vendor.map(|x| x.jurisdiction.clone()).unwrap_or_default(),
                    flows: Vec::new(),
                    endpoints: Vec::new(),
                    sources: vendor.map(|x| x.sources.clone()).unwrap_or_default(),
                };
                (s, HashSet::default())
            });
            s.flows.push(f.id);
            if listed.insert(&f.server_ip) {
                s.endpoints.push(f.server_ip.to_string());
            }
        }
    }
    seen.into_values().map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint's reasons: each kept at its earliest place, and of more than the cap the
    /// earliest, whatever order the flows come in.
    #[test]
    fn endpoint_reasons_keep_the_earliest_up_to_the_cap() {
        let n = MAX_REASONS_PER_ENDPOINT as u32 * 3;
        let reasons: Vec<(EvidenceOrder, String)> = (0..n)
            .map(|i| ((0, i, 0), format!("SNI h{i}.zoom.us is under zoom.us")))
            .collect();
        let earliest = |kept: &[(EvidenceOrder, String)]| {
            let mut kept = kept.to_vec();
            kept.sort();
            kept
        };
        let expected = reasons[..MAX_REASONS_PER_ENDPOINT].to_vec();
        for order in [
            (0..n as usize).collect::<Vec<_>>(),
            (0..n as usize).rev().collect(),
        ] {
            let mut kept = Vec::new();
            let mut dropped = 0;
            for &i in &order {
                dropped +=
                    usize::from(keep_earliest(&mut kept, reasons[i].0, reasons[i].1.clone()));
            }
            assert_eq!(earliest(&kept), expected);
            // every reason beyond the cap was left out, or displaced one that then was
            assert_eq!(dropped, n as usize - MAX_REASONS_PER_ENDPOINT);
        }
        // the same reason from a later flow keeps its first place; from an earlier one it moves
        let mut kept = Vec::new();
        assert!(!keep_earliest(&mut kept, (0, 5, 0), "port".into()));
        assert!(!keep_earliest(&mut kept, (0, 9, 1), "port".into()));
        assert!(!keep_earliest(&mut kept, (0, 2, 3), "port".into()));
        assert_eq!(kept, vec![((0, 2, 3), "port".to_string())]);
    }

    /// Of more names than the cap, the earliest by answer order are kept, in order, whatever
    /// order the answers arrive in (flows close in any order); a name seen again earlier moves up.
    #[test]
    fn dns_names_keep_the_earliest_up_to_the_cap() {
        let n = MAX_NAMES_PER_ADDRESS as u32 + 100;
        let answers: Vec<(String, AnswerOrder)> = (0..n)
            .map(|i| (format!("h{i}.example"), (0, i, 0)))
            .collect();
        let expected: Vec<String> = answers[..MAX_NAMES_PER_ADDRESS]
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        let mut interleaved: Vec<usize> = (0..n as usize).step_by(2).collect();
        interleaved.extend((1..n as usize).step_by(2).rev());
        for order in [
            (0..n as usize).collect::<Vec<_>>(),
            (0..n as usize).rev().collect(),
            interleaved,
        ] {
            let mut dns = DnsNames::default();
            for &i in &order {
                dns.add("192.0.2.1", &answers[i].0, answers[i].1);
            }
            let kept: Vec<&str> = dns.names("192.0.2.1").collect();
            assert_eq!(kept, expected, "added in order {:?}…", &order[..4]);
            assert!(dns.names_dropped("192.0.2.1"));
        }
        // exactly the cap, each name answered twice and in any order: nothing dropped
        for order in [
            (0..MAX_NAMES_PER_ADDRESS).collect::<Vec<_>>(),
            (0..MAX_NAMES_PER_ADDRESS).rev().collect(),
        ] {
            let mut dns = DnsNames::default();
            for round in 0..2 {
                for &i in &order {
                    let (o0, o1, _) = answers[i].1;
                    dns.add("192.0.2.1", &answers[i].0, (o0, o1, round));
                }
            }
            assert_eq!(dns.names("192.0.2.1").count(), MAX_NAMES_PER_ADDRESS);
            assert!(!dns.names_dropped("192.0.2.1"));
        }
        // a name beyond the cap, answered again earlier than every kept one, is kept first
        let mut dns = DnsNames::default();
        for (name, at) in &answers {
            dns.add("192.0.2.1", name, *at);
        }
        dns.add("192.0.2.1", "late.example", (0, n, 0));
        dns.add("192.0.2.1", &answers[n as usize - 1].0, (0, 0, 0));
        let kept: Vec<&str> = dns.names("192.0.2.1").collect();
        assert!(dns.names_dropped("192.0.2.1"));
        assert_eq!(kept.len(), MAX_NAMES_PER_ADDRESS);
        assert_eq!(kept[0], answers[n as usize - 1].0);
        assert_eq!(kept[1], "h0.example");
        assert!(!kept.contains(&"late.example"));
    }

    #[test]
    fn the_embedded_catalogue_parses_and_ids_are_unique() {
        let c = Catalogue::embedded();
        assert!(c.vendors.len() >= 9);
        let mut ids: Vec<&str> = c.vendors.iter().map(|v| v.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), c.vendors.len());
        for v in &c.vendors {
            assert!(!v.sources.is_empty(), "{}: no source", v.id);
            for claim in &v.claims {
                assert!(
                    [
                        "transport-encryption",
                        "media-encryption",
                        "e2ee",
                        "server-location"
                    ]
                    .contains(&claim.claim.as_str()),
                    "{}: {}",
                    v.id,
                    claim.claim
                );
                assert!(!claim.source.is_empty() && !claim.date.is_empty());
                assert_eq!(claim.claim == "server-location", claim.region.is_some());
            }
            for d in &v.domains {
                assert_eq!(d, &d.to_ascii_lowercase());
                assert!(!d.starts_with('.') && !d.starts_with('*'), "{d}");
            }
        }
    }

    fn under_domain(name: &str, domain: &str) -> bool {
        under_domain_bare(bare_name(name), domain)
    }

    #[test]
    fn domains_match_names_and_subdomains_only() {
        assert!(under_domain("zoom.us", "zoom.us"));
        assert!(under_domain("log.zoom.us", "zoom.us"));
        assert!(under_domain("*.zoom.us", "zoom.us"));
        assert!(under_domain("ZOOM.US.", "zoom.us"));
        assert!(under_domain("*.*.zoom.us", "zoom.us"));
        assert!(!under_domain("notzoom.us", "zoom.us"));
        assert!(!under_domain("zoom.us.evil.example", "zoom.us"));
    }
}
