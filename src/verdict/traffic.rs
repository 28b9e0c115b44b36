//! Where a verdict's bytes went: every flow's transport payload counted at its server endpoint's
//! country, region and operator. One reading shared by the HTML report's charts and the batch
//! summary, so both always add up the same way. Counts only; judges nothing.

use std::collections::{BTreeMap, HashMap};

use super::{Endpoint, Verdict};

/// The bytes and flows that went to one server location and operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// Country code, absent when the endpoint is private or could not be located.
    pub country: Option<String>,
    /// The transfer policy's region word (`eea`, `adequate`, `adequate-partial`,
    /// `third-country`, `private`), or `indeterminate`.
    pub region: String,
    /// Operator name (curated table) or `AS<n> <organisation>`; absent when unknown.
    pub operator: Option<String>,
    /// The operator's jurisdiction when the curated table names it.
    pub jurisdiction: Option<String>,
    pub flows: usize,
    pub bytes: u64,
}

/// Bytes per (country, region, operator), in a stable order (by country, then operator).
pub fn destinations(v: &Verdict) -> Vec<Destination> {
    let by_ip: HashMap<&str, &Endpoint> = v.endpoints.iter().map(|e| (&*e.ip, e)).collect();
    type Key = (Option<String>, String, Option<String>, Option<String>);
    let mut sums: BTreeMap<Key, (usize, u64)> = BTreeMap::new();
    for (server, bytes) in v.flows.traffic() {
        let ep = by_ip.get(server);
        let key: Key = match ep {
            Some(e) => (
                e.country.as_deref().map(str::to_string),
                e.region.as_deref().unwrap_or("indeterminate").to_string(),
                match (&e.operator, &e.as_org, e.asn) {
                    (Some(op), _, _) => Some(op.name.clone()),
                    (None, Some(org), Some(asn)) => Some(format!("AS{asn} {org}")),
                    (None, None, Some(asn)) => Some(format!("AS{asn}")),
                    _ => None,
                },
                e.operator.as_ref().map(|o| o.jurisdiction.clone()),
            ),
            None => (None, "indeterminate".into(), None, None),
        };
        let slot = sums.entry(key).or_default();
        slot.0 += 1;
        slot.1 += bytes;
    }
    sums.into_iter()
        .map(
            |((country, region, operator, jurisdiction), (flows, bytes))| Destination {
                country,
                region,
                operator,
                jurisdiction,
                flows,
                bytes,
            },
        )
        .collect()
}
