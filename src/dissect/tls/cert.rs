//! X.509 certificates seen in handshakes, reduced to the facts a verdict needs.
//!
//! Distinguished names are rendered as RFC 4514 strings (most specific RDN first, attribute
//! names as OpenSSL and Zeek spell them), so they compare directly with Zeek's x509.log.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use x509_parser::der_parser::oid::Oid;
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::prelude::*;

/// A certificate, as facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses from subjectAltName.
    pub san: Vec<String>,
    /// Validity period, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// e.g. "RSA 2048", "EC P-256", "Ed25519".
    pub key: String,
    /// Signature algorithm, e.g. "sha256WithRSAEncryption".
    pub signature: String,
    /// Issuer equals subject (and, where both are present, the key identifiers agree).
    pub self_signed: bool,
    pub serial: String,
    /// SHA-256 of the DER encoding, hex.
    pub sha256: String,
}

/// Distinct certificates remembered per thread: a client opens many connections to the same
/// servers, whose chains repeat; parsing each distinct one once is what `parse` saves.
const CACHE_ENTRIES: usize = 1024;

thread_local! {
    static PARSED: std::cell::RefCell<std::collections::HashMap<[u8; 32], Option<CertFacts>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Parse a DER certificate; `None` if it is not one. A certificate seen before on this thread
/// (same SHA-256) is not parsed again.
pub fn parse(der: &[u8]) -> Option<CertFacts> {
    let digest: [u8; 32] = Sha256::digest(der).into();
    if let Some(known) = PARSED.with(|c| c.borrow().get(&digest).cloned()) {
        return known;
    }
    let facts = parse_der(der, &digest);
    PARSED.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(digest, facts.clone());
    });
    facts
}

fn parse_der(der: &[u8], digest: &[u8; 32]) -> Option<CertFacts> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => san.push((*d).to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        san.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    let subject = rfc4514(tbs.subject());
    let issuer = rfc4514(tbs.issuer());
    let self_signed = subject == issuer && key_ids_agree(&cert);
    Some(CertFacts {
        subject,
        issuer,
        san,
        not_before: tbs.validity().not_before.timestamp(),
        not_after: tbs.validity().not_after.timestamp(),
        key: key_description(tbs.public_key()),
        signature: oid_name(&cert.signature_algorithm.algorithm),
        self_signed,
        serial: tbs.raw_serial_as_string(),
        sha256: hex::encode(digest),
    })
}

fn key_ids_agree(cert: &X509Certificate<'_>) -> bool {
    let mut aki = None;
    let mut ski = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0)
            }
            ParsedExtension::SubjectKeyIdentifier(s) => ski = Some(s.0),
            _ => {}
        }
    }
    match (aki, ski) {
        (Some(a), Some(s)) => a == s,
        _ => true,
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<String> {
    match b.len() {
        4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let arr: [u8; 16] = b.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(arr).to_string())
        }
        _ => None,
    }
}

fn oid_name(oid: &Oid<'_>) -> String {
    oid2sn(oid, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

fn key_description(spki: &SubjectPublicKeyInfo<'_>) -> String {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(k) => format!("RSA {}", k.key_size()),
            Err(_) => "RSA".into(),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| curve_name(&o.to_id_string()))
                .unwrap_or_else(|| "unknown curve".into());
            format!("EC {curve}")
        }
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.10040.4.1" => match spki.parsed() {
            Ok(k) => format!("DSA {}", k.key_size()),
            Err(_) => "DSA".into(),
        },
        _ => oid_name(&spki.algorithm.algorithm),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".into(),
        other => other.into(),
    }
}

/// The attribute names OpenSSL prints in RFC 2253/4514 mode.
fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.4" => "SN",
        "2.5.4.42" => "GN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.12" => "title",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.97" => "organizationIdentifier",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// RFC 4514 string: RDNs in reverse DER order, joined by ",", multi-valued RDNs by "+".
pub fn rfc4514(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter_rdn().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            match attribute_name(&oid) {
                Some(n) => out.push_str(n),
                None => out.push_str(&oid),
            }
            out.push('=');
            let value = attr.attr_value();
            match attr
                .as_str()
                .ok()
                .map(str::to_string)
                .or_else(|| decode_string(value.tag().0, value.data))
            {
                Some(s) => escape_value(&s, &mut out),
                None => {
                    out.push('#');
                    for b in attr.attr_value().data.iter() {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    out
}

/// Strings in ASN.1 types x509-parser does not read as text: TeletexString (read as Latin-1, as
/// OpenSSL shows it), BMPString (UTF-16BE) and UniversalString (UTF-32BE).
fn decode_string(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        20 => Some(data.iter().map(|&b| char::from(b)).collect()),
        30 if data.len().is_multiple_of(2) => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        28 if data.len().is_multiple_of(4) => data
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

fn escape_value(v: &str, out: &mut String) {
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
}
