//! Builds `geoip/asn.mmdb` from the ip-location-db ASN CSVs (numeric form), because no ASN .mmdb
//! is published on the reachable registry. The records use GeoLite2-ASN's field names, so the
//! database decodes like one. Every CSV range is checked against the written file (its first and
//! last address must read back the range's ASN); overlapping source ranges are reported.
//!
//! usage: callproof-asn-builder ASN-IPV4-NUM.csv ASN-IPV6-NUM.csv BUILD-EPOCH OUT.mmdb

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;

#[derive(serde::Serialize, serde::Deserialize, Clone, PartialEq, Eq, Hash)]
struct Asn {
    autonomous_system_number: u32,
    autonomous_system_organization: String,
}

/// One CSV line: start, end, asn, organisation (which may be quoted and contain commas).
fn parse_line(line: &str) -> Option<(u128, u128, Asn)> {
    let mut fields = Vec::with_capacity(4);
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
    if fields.len() != 4 {
        return None;
    }
    Some((
        fields[0].parse().ok()?,
        fields[1].parse().ok()?,
        Asn {
            autonomous_system_number: fields[2].parse().ok()?,
            autonomous_system_organization: fields[3].clone(),
        },
    ))
}

/// The CIDR blocks covering `[start, end]` in a `bits`-wide address space.
fn cidrs(mut start: u128, end: u128, bits: u32) -> Vec<(u128, u32)> {
    let mut out = Vec::new();
    while start <= end {
        // the largest block aligned at `start` that does not pass `end`
        let mut size = if start == 0 { bits } else { start.trailing_zeros().min(bits) };
        while size > 0 {
            let span = if size >= 128 { u128::MAX } else { (1u128 << size) - 1 };
            if start.checked_add(span).is_some_and(|last| last <= end) {
                break;
            }
            size -= 1;
        }
        out.push((start, bits - size));
        let span = if size >= 128 { u128::MAX } else { 1u128 << size };
        match start.checked_add(span) {
            Some(next) if size < bits => start = next,
            _ => break,
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: {} ASN-IPV4-NUM.csv ASN-IPV6-NUM.csv BUILD-EPOCH OUT.mmdb", args[0]);
        std::process::exit(2);
    }
    let build_epoch: u64 = args[3].parse().expect("BUILD-EPOCH is seconds since 1970");
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = "callproof-ASN".into();
    db.metadata.binary_format_major_version = 2;
    db.metadata.build_epoch = build_epoch;
    db.metadata.languages = vec!["en".into()];
    db.metadata.description.insert(
        "en".into(),
        "IP to ASN from ip-location-db (Route Views, NRO/RIR, DB-IP ASN Lite), CC BY 4.0; \
         built by callproof"
            .into(),
    );
    let mut refs = HashMap::new();
    let mut ranges = Vec::new();
    for (path, v4) in [(&args[1], true), (&args[2], false)] {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for (n, line) in text.lines().enumerate() {
            let Some((start, end, asn)) = parse_line(line) else {
                panic!("{path}:{}: not a start,end,asn,org line", n + 1);
            };
            assert!(start <= end, "{path}:{}: range ends before it starts", n + 1);
            // IPv4 lives under ::/96 in an IPv6 tree, as readers look it up there.
            let (start, end, bits) = if v4 { (start, end, 32) } else { (start, end, 128) };
            let data = *refs
                .entry(asn.clone())
                .or_insert_with(|| db.insert_value(asn.clone()).expect("serialisable"));
            for (net, prefix) in cidrs(start, end, bits) {
                let (addr, mask) = if v4 {
                    (Ipv6Addr::from(net), prefix + 96)
                } else {
                    (Ipv6Addr::from(net), prefix)
                };
                db.insert_node(IpAddrWithMask::new(IpAddr::V6(addr), mask as u8), data);
            }
            ranges.push((start, end, v4, asn.autonomous_system_number));
        }
    }
    let mut out = Vec::new();
    db.write_to(&mut out).expect("write the database");
    // Check every range boundary against what was written.
    let reader = maxminddb::Reader::from_source(&out[..]).expect("read back");
    let mut mismatches = 0;
    for &(start, end, v4, asn) in &ranges {
        for edge in [start, end] {
            let ip = if v4 {
                IpAddr::V4(std::net::Ipv4Addr::from(edge as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(edge))
            };
            let got = reader
                .lookup(ip)
                .ok()
                .and_then(|r| r.decode::<Asn>().ok().flatten())
                .map(|a| a.autonomous_system_number);
            if got != Some(asn) {
                mismatches += 1;
                if mismatches <= 10 {
                    eprintln!("boundary {ip}: expected AS{asn}, database says {got:?} (overlapping source ranges?)");
                }
            }
        }
    }
    std::fs::write(&args[4], &out).unwrap_or_else(|e| panic!("{}: {e}", args[4]));
    eprintln!(
        "{}: {} ranges, {} distinct AS records, {} bytes; {} boundary mismatches",
        args[4],
        ranges.len(),
        refs.len(),
        out.len(),
        mismatches
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_split() {
        assert_eq!(cidrs(0, 255, 32), vec![(0, 24)]);
        assert_eq!(cidrs(1, 6, 32), vec![(1, 32), (2, 31), (4, 31), (6, 32)]);
        assert_eq!(cidrs(0, u32::MAX as u128, 32), vec![(0, 0)]);
    }

    #[test]
    fn quoted_names() {
        let (s, e, a) = parse_line("16777216,16777471,13335,\"Cloudflare, Inc.\"").unwrap();
        assert_eq!((s, e, a.autonomous_system_number), (16777216, 16777471, 13335));
        assert_eq!(a.autonomous_system_organization, "Cloudflare, Inc.");
    }
}
