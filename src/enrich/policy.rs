//! The transfer policy: which countries are in the EU/EEA and which have an EU adequacy decision
//! (GDPR Art. 45), with its scope. Data, not code: geoip/transfer-policy.csv, replaceable with
//! `--policy FILE`.

use std::collections::HashMap;
use std::sync::Arc;

use super::csv_fields;

/// Where an endpoint stands under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Eea,
    Adequate,
    /// Adequate only for some recipients (e.g. US: DPF-certified organisations).
    AdequatePartial,
    ThirdCountry,
    /// Private, loopback, documentation, multicast: never a transfer.
    Private,
    /// No reliable location (anycast, no record, continent-level answer).
    Indeterminate,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Eea => "eea",
            Region::Adequate => "adequate",
            Region::AdequatePartial => "adequate-partial",
            Region::ThirdCountry => "third-country",
            Region::Private => "private",
            Region::Indeterminate => "indeterminate",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    region: Region,
    scope: Option<Arc<str>>,
}

/// The policy table.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    /// The latest decision date in the table: the policy's version.
    pub version: String,
    entries: HashMap<String, Entry>,
}

impl Policy {
    /// Parse the CSV (cc,name,status,legal_basis,decision_or_act,date,scope_notes).
    pub fn parse(name: &str, csv: &str) -> Result<Self, String> {
        let mut entries = HashMap::new();
        let mut latest = String::new();
        for (n, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let f = csv_fields(line);
            if f.len() < 7 {
                return Err(format!("line {}: expected 7 columns", n + 1));
            }
            let region = match f[2].as_str() {
                "EU" | "EEA" => Region::Eea,
                "adequate" => Region::Adequate,
                "adequate_partial" => Region::AdequatePartial,
                other => return Err(format!("line {}: unknown status {other:?}", n + 1)),
            };
            if f[5] > latest {
                latest = f[5].clone();
            }
            let scope = (region == Region::AdequatePartial).then(|| Arc::from(f[6].as_str()));
            entries.insert(f[0].trim().to_uppercase(), Entry { region, scope });
        }
        if entries.is_empty() {
            return Err("no countries".into());
        }
        Ok(Self {
            name: name.to_string(),
            version: latest,
            entries,
        })
    }

    /// The region of a country code, with the scope of a partial decision.
    pub fn region(&self, cc: &str) -> (Region, Option<Arc<str>>) {
        match self.entries.get(&cc.to_uppercase()) {
            Some(e) => (e.region, e.scope.clone()),
            None => (Region::ThirdCountry, None),
        }
    }
}
