//! Where the data goes: server endpoints of real captures geolocated with the shipped databases,
//! operators named, the data and policy the verdict rests on named with their dates.

mod common;

use common::{capture, verdict_of};

fn endpoint<'a>(v: &'a callproof::verdict::Verdict, ip: &str) -> &'a callproof::verdict::Endpoint {
    v.endpoints
        .iter()
        .find(|e| &*e.ip == ip)
        .unwrap_or_else(|| panic!("no endpoint {ip}"))
}

/// The vendors' servers in the shared Zoom, Webex, Teams and Meet captures get the operator the
/// peers' outputs imply (nDPI names them Zoom, Webex, Skype_TeamsCall, GoogleMeet).
#[test]
fn vendor_servers_get_their_operators() {
    for (cap, ip, asn, operator, jurisdiction) in [
        ("ndpi/zoom.pcap", "162.255.37.14", 30103, "Zoom", "US"),
        ("ndpi/webex.pcap", "62.109.224.120", 13445, "Webex", "US"),
        (
            "ndpi/stun_msteams_unidir.pcapng",
            "52.115.136.55",
            8075,
            "Teams / M365 / Azure",
            "US",
        ),
        (
            "ndpi/google_meet.pcapng",
            "173.194.73.101",
            15169,
            "Google / Meet",
            "US",
        ),
    ] {
        let v = verdict_of(&capture(cap));
        let e = endpoint(&v, ip);
        assert_eq!(e.asn, Some(asn), "{cap} {ip}");
        let op = e.operator.as_ref().unwrap();
        assert_eq!(
            (op.name.as_str(), op.jurisdiction.as_str()),
            (operator, jurisdiction),
            "{cap}"
        );
        assert!(op.source.contains("curated"), "{cap}");
    }
}

/// Regions follow the policy; every country names the database and its date; private addresses
/// and anycast ranges are never given a country's region.
#[test]
fn regions_and_their_sources() {
    let v = verdict_of(&capture("ndpi/webex.pcap"));
    let eu = endpoint(&v, "62.109.224.120");
    assert_eq!(
        (eu.country.as_deref(), eu.region.as_deref()),
        (Some("NL"), Some("eea"))
    );
    let src = eu.location_source.as_deref().unwrap();
    assert!(
        src.contains("DB-IP") && src.contains("built 2026-06-01"),
        "{src}"
    );
    let us = endpoint(&v, "173.243.0.110");
    assert_eq!(us.region.as_deref(), Some("adequate-partial"));
    assert!(us.region_scope.as_deref().unwrap().contains("DPF"));
    let au = endpoint(&v, "114.29.200.11");
    assert_eq!(au.region.as_deref(), Some("third-country"));

    let v = verdict_of(&capture("ndpi/stun_msteams_unidir.pcapng"));
    let teams = endpoint(&v, "52.115.136.55");
    assert_eq!(teams.region.as_deref(), Some("indeterminate"));
    assert!(teams.region_reason.as_deref().unwrap().contains("anycast"));

    let v = verdict_of(&capture("ndpi/zoom.pcap"));
    let lan = endpoint(&v, "192.168.1.1");
    assert_eq!(lan.region.as_deref(), Some("private"));
    assert!(lan.country.is_none());

    let data = v.data.as_ref().expect("the data section");
    assert_eq!(data.databases.len(), 3);
    for d in &data.databases {
        assert!(d.build_date.starts_with("2026-06"), "{d:?}");
        assert!(d.age_days > 0);
        assert_eq!(d.warning.is_some(), d.age_days > 90);
    }
    assert!(!data.policy.version.is_empty());
}

/// `--policy` replaces the table: without the US row, a US server is a third country.
#[test]
fn user_policy_replaces_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.csv");
    std::fs::write(
        &policy,
        "cc,name,status,legal_basis,decision_or_act,date,scope_notes\nDE,Germany,EU,EU member state,,,\n",
    )
    .unwrap();
    let v = common::verdict_with(
        &["--policy".as_ref(), policy.as_os_str()],
        &capture("ndpi/webex.pcap"),
    );
    assert_eq!(
        endpoint(&v, "173.243.0.110").region.as_deref(),
        Some("third-country")
    );
    assert_eq!(
        endpoint(&v, "62.109.224.120").region.as_deref(),
        Some("third-country"),
        "NL is not in this table"
    );
    assert_eq!(v.data.unwrap().policy.name, policy.display().to_string());
    // a bad policy file is a one-line error, exit 2
    std::fs::write(&policy, "not,a,policy\n").unwrap();
    let (code, stderr, _) = {
        let o = std::process::Command::new(common::bin())
            .args(["analyze", "--quiet", "--policy"])
            .arg(&policy)
            .arg(capture("ndpi/webex.pcap"))
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            (),
        )
    };
    assert_eq!(code, Some(2));
    assert!(stderr.contains("policy.csv"), "{stderr}");
}

/// The location findings (not the TLS or media ones) that name this endpoint.
fn findings_for<'a>(v: &'a callproof::verdict::Verdict, ip: &str) -> Vec<&'a str> {
    const LOCATION_RULES: &[&str] = &[
        "third-country-transfer",
        "us-dpf-dependent",
        "partial-adequacy",
        "foreign-operator",
        "location-indeterminate",
        "location-implausible",
    ];
    v.findings
        .iter()
        .filter(|f| LOCATION_RULES.contains(&f.rule.as_ref()))
        .filter(|f| f.endpoints.iter().any(|e| &**e == ip))
        .map(|f| f.rule.as_ref())
        .collect()
}

/// The location findings on real captures: Webex servers in Australia and Singapore (third
/// country), in the US (DPF-dependent) and in the Netherlands run by Cisco (foreign operator);
/// Zoom's US STUN servers; Teams' anycast relays; and none for a Dutch operator in the NL.
#[test]
fn location_findings_on_real_captures() {
    let v = verdict_of(&capture("ndpi/webex.pcap"));
    assert_eq!(
        findings_for(&v, "114.29.200.11"),
        vec!["third-country-transfer"]
    );
    assert_eq!(findings_for(&v, "173.243.0.110"), vec!["us-dpf-dependent"]);
    assert_eq!(findings_for(&v, "62.109.224.120"), vec!["foreign-operator"]);
    let f = v
        .findings
        .iter()
        .find(|f| f.rule == "third-country-transfer")
        .unwrap();
    assert_eq!(f.severity, "high");
    assert!(
        f.detail.contains("DB-IP") && f.detail.contains("built 2026-06-01"),
        "{}",
        f.detail
    );
    assert!(f.first_frame.is_some() && !f.flows.is_empty());

    let v = verdict_of(&capture("ndpi/zoom.pcap"));
    assert_eq!(findings_for(&v, "162.255.37.14"), vec!["us-dpf-dependent"]);
    assert!(
        findings_for(&v, "109.94.160.99").is_empty(),
        "NL server of an NL operator"
    );
    assert!(
        findings_for(&v, "192.168.1.1").is_empty(),
        "private addresses are never transfers"
    );

    let v = verdict_of(&capture("ndpi/stun_msteams_unidir.pcapng"));
    assert_eq!(
        findings_for(&v, "52.115.136.55"),
        vec!["location-indeterminate"]
    );
}

#[test]
fn rules_are_listed() {
    let o = std::process::Command::new(common::bin())
        .arg("rules")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    for id in [
        "third-country-transfer",
        "us-dpf-dependent",
        "foreign-operator",
        "location-indeterminate",
    ] {
        assert!(text.contains(id), "{id}");
    }
}

/// The round-trip plausibility check on a real WhatsApp call (nDPI stun_wa_call.pcapng): the
/// client's public address (STUN mapped address) is in Italy; Meta's relay 157.240.21.51, which
/// the database places in the US, answers STUN in about 20 ms — too fast for another continent.
#[test]
fn round_trip_contradicts_a_database_country() {
    let v = verdict_of(&capture("ndpi/stun_wa_call.pcapng"));
    let e = endpoint(&v, "157.240.21.51");
    assert_eq!(e.country.as_deref(), Some("US"));
    let rtt = e.rtt_ms.unwrap();
    assert!(rtt < 30.0, "{rtt}");
    assert_eq!(e.location_plausible, Some(false));
    let why = e.location_check.as_deref().unwrap();
    assert!(
        why.contains("capture point in IT") && why.contains("heuristic"),
        "{why}"
    );
    assert!(findings_for(&v, "157.240.21.51").contains(&"location-implausible"));
    // A capture without STUN has no known capture point: no check, no claim.
    let v = verdict_of(&capture("ndpi/webex.pcap"));
    assert!(v.endpoints.iter().all(|e| e.location_plausible.is_none()));
}

/// `--geoip-dir` with a user's GeoIP2-layout country database (`country.iso_code`), built here
/// with maxminddb-writer: its answer and its path appear in the verdict; the other two
/// databases stay the built-in ones.
#[test]
fn user_supplied_geoip2_country_database() {
    use maxminddb_writer::Database;
    use maxminddb_writer::metadata::IpVersion;
    use maxminddb_writer::paths::IpAddrWithMask;
    #[derive(serde::Serialize)]
    struct Country {
        iso_code: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Record {
        country: Country,
    }
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.binary_format_major_version = 2;
    db.metadata.database_type = "GeoIP2-Country".into();
    db.metadata.build_epoch = 1_790_000_000;
    let fr = db
        .insert_value(Record {
            country: Country { iso_code: "FR" },
        })
        .unwrap();
    // 62.109.224.0/24 under ::/96, as IPv6 readers look IPv4 up
    let net: std::net::Ipv6Addr = "::62.109.224.0".parse().unwrap();
    db.insert_node(IpAddrWithMask::new(std::net::IpAddr::V6(net), 96 + 24), fr);
    let mut bytes = Vec::new();
    db.write_to(&mut bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("country.mmdb"), bytes).unwrap();
    let v = common::verdict_with(
        &["--geoip-dir".as_ref(), dir.path().as_os_str()],
        &capture("ndpi/webex.pcap"),
    );
    let e = endpoint(&v, "62.109.224.120");
    assert_eq!(e.country.as_deref(), Some("FR"));
    assert!(
        e.location_source
            .as_deref()
            .unwrap()
            .contains("country.mmdb")
    );
    assert_eq!(
        e.asn,
        Some(13445),
        "the built-in ASN database still answers"
    );
    let data = v.data.unwrap();
    assert_eq!(data.databases[0].database_type, "GeoIP2-Country");
    assert_eq!(data.databases[0].source, "user-supplied");
}
