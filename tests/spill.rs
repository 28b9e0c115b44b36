//! Flow records spilled to a temporary file (the command line's way) give the same verdict as
//! records held in memory, byte for byte, while the verdict in memory holds none of them.

use std::path::{Path, PathBuf};

use callproof::analyze::{Options, analyze_paths};
use callproof::enrich::GeoData;
use callproof::vendor::Catalogue;
use callproof::verdict::{self, Verdict};

fn analyse(
    paths: &[PathBuf],
    base: &Options,
    spill: bool,
    geo: &GeoData,
    catalogue: &Catalogue,
) -> Verdict {
    let opts = Options {
        spill_flows: spill,
        ..base.clone()
    };
    let (mut v, _errors) = analyze_paths(paths, &opts, geo, catalogue).expect("spill file");
    v.generated_at = "fixed".into();
    v
}

/// The verdict as the command line writes it, and as serde_json writes it.
fn written(v: &Verdict) -> (Vec<u8>, Vec<u8>) {
    let mut records = Vec::new();
    verdict::write_verdict(&mut records, v).unwrap();
    (records, serde_json::to_vec(v).unwrap())
}

fn check_same(paths: &[PathBuf]) -> (Verdict, Verdict) {
    check_same_with(paths, &Options::default())
}

fn check_same_with(paths: &[PathBuf], base: &Options) -> (Verdict, Verdict) {
    let geo = GeoData::embedded();
    let catalogue = Catalogue::embedded();
    let in_memory = analyse(paths, base, false, &geo, &catalogue);
    let spilled = analyse(paths, base, true, &geo, &catalogue);
    assert!(in_memory.flows.spill_file().is_none());
    assert!(spilled.flows.spill_file().is_some(), "{paths:?}");
    let (a, a_plain) = written(&in_memory);
    let (b, b_plain) = written(&spilled);
    assert!(
        a == b,
        "{paths:?}: spilled verdict differs from the one in memory"
    );
    assert!(a_plain == b_plain, "{paths:?}: differs through serde_json");
    // the records layout is the derived serialization's, with one record per line
    let mut derived = Vec::new();
    verdict::to_writer_records(&mut derived, &in_memory).unwrap();
    assert!(a == derived, "{paths:?}");
    // what the batch summary and the HTML report count per destination
    let traffic = |v: &Verdict| -> Vec<(String, u64)> {
        v.flows
            .traffic()
            .map(|(ip, n)| (ip.to_string(), n))
            .collect()
    };
    assert_eq!(traffic(&in_memory), traffic(&spilled));
    assert_eq!(traffic(&in_memory).len(), in_memory.flows.len());
    assert_eq!(
        verdict::traffic::destinations(&in_memory),
        verdict::traffic::destinations(&spilled)
    );
    (in_memory, spilled)
}

fn own(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

#[test]
fn spilled_and_in_memory_verdicts_are_written_alike() {
    // TLS with certificates, DTLS-SRTP, SIP/SDP, STUN with mapped addresses, plain RTP
    for name in [
        "aiortc-webrtc-call.pcap",
        "baresip-sip-vp8-audiolevel.pcap",
        "aiortc-turn-tcp-call.pcap",
        "http-signalling.pcap",
    ] {
        let (in_memory, spilled) = check_same(&[own(name)]);
        assert_eq!(in_memory.flows.len(), spilled.flows.len());
        assert!(!in_memory.flows.is_empty(), "{name}");
    }
    // several inputs, a directory with a file that is not a capture (the `skipped` member)
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(own("openssl-tls.pcap"), dir.path().join("a.pcap")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a capture").unwrap();
    let (_, spilled) = check_same(&[dir.path().to_path_buf(), own("baresip-sip-opus-rtp.pcap")]);
    assert_eq!(spilled.skipped.len(), 1);
    assert_eq!(spilled.inputs.len(), 2);
}

/// The key log a verdict names (`keylog`, between `data` and `endpoints`) is written alike.
#[test]
fn a_verdict_naming_its_key_log_is_written_alike() {
    let keys =
        callproof::dissect::tls::keylog::KeyLog::read(&own("openssl-tls13-keylog.keys")).unwrap();
    let base = Options {
        keylog: Some(std::sync::Arc::new(keys)),
        ..Options::default()
    };
    let (in_memory, _) = check_same_with(&[own("openssl-tls13-keylog.pcap")], &base);
    assert_eq!(in_memory.keylog.as_ref().map(|k| k.sessions), Some(3));
}

#[test]
fn a_spilled_verdict_holds_no_records_and_writes_complete_ones() {
    let (in_memory, spilled) = check_same(&[own("openssl-tls.pcap")]);
    assert!(spilled.flows.iter().next().is_none(), "no record in memory");
    assert_eq!(spilled.flows.len(), in_memory.flows.len());
    let with_chain = |v: &Verdict| {
        v.flows
            .iter()
            .filter(|f| f.tls.as_ref().is_some_and(|t| !t.certificates.is_empty()))
            .count()
    };
    assert!(with_chain(&in_memory) > 0);
    let (bytes, _) = written(&spilled);
    let back: Verdict = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(with_chain(&back), with_chain(&in_memory));
    assert_eq!(back.flows, in_memory.flows);
}

#[test]
fn an_empty_spill_writes_an_empty_flow_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pcap");
    // a pcap header and no records
    let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, header).unwrap();
    let (_, spilled) = check_same(&[path]);
    assert!(spilled.flows.is_empty());
    let (bytes, _) = written(&spilled);
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains("\n  \"flows\": [],\n")
    );
}
