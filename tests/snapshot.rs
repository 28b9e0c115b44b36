//! The live view's periodic judgement (`Analyzer::snapshot`): flows still open are judged on
//! what they have read so far, by the same rules as the verdict written at the end. A snapshot
//! after a capture's first N frames must judge every flow as the verdict of a capture that
//! ended after those N frames does.

mod common;

use std::path::{Path, PathBuf};

use callproof::analyze::{Analyzer, Options, VerdictBuilder};
use callproof::capture::{self, CaptureSummary, Frame};
use callproof::enrich::GeoData;
use callproof::vendor::Catalogue;
use serde_json::Value;

/// Every capture of ../shared/captures and of captures/.
fn all_captures() -> Vec<PathBuf> {
    let roots = [
        common::shared().join("captures"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
    ];
    let mut out = Vec::new();
    let mut dirs = roots.to_vec();
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A capture's frames, owned: (number, timestamp, link type, wire length, bytes).
type OwnedFrame = (u64, Option<i64>, u32, u32, Vec<u8>);

fn frames(path: &Path) -> Vec<OwnedFrame> {
    let mut out = Vec::new();
    // a damaged capture gives the frames before the damage, which is what is compared
    let _ = capture::read_file(path, |f: &Frame<'_>| {
        out.push((f.number, f.ts_ns, f.link_type, f.orig_len, f.data.to_vec()))
    });
    out
}

fn analyzer_of(frames: &[OwnedFrame]) -> Analyzer {
    analyzer_with(&Options::default(), frames)
}

fn analyzer_with(options: &Options, frames: &[OwnedFrame]) -> Analyzer {
    let mut analyzer = Analyzer::new(options);
    for (number, ts_ns, link_type, orig_len, data) in frames {
        analyzer.frame(&Frame {
            number: *number,
            ts_ns: *ts_ns,
            link_type: *link_type,
            orig_len: *orig_len,
            data,
            secrets: &[],
        });
    }
    analyzer
}

/// The parts of a verdict that judge flows: the flows, their endpoints, vendors and claims,
/// the findings and the summary — without what describes the capture file as read (the
/// snapshot has no file: its frames, damage and truncation are the live view's headline).
fn judgement(verdict: callproof::verdict::Verdict) -> Value {
    let mut v = serde_json::to_value(verdict).unwrap();
    let o = v.as_object_mut().unwrap();
    for file_fact in ["generated_at", "inputs", "data", "tool", "schema"] {
        o.remove(file_fact);
    }
    o["findings"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["rule"] != "capture-incomplete");
    o["summary"]
        .as_object_mut()
        .unwrap()
        .remove("evidence_quality");
    v
}

/// The judgement of a live snapshot after `frames`, and the verdict's of a capture that ended
/// after them.
fn snapshot_and_verdict(frames: &[OwnedFrame]) -> (Value, Value) {
    let geo = GeoData::embedded();
    let catalogue = Catalogue::embedded();
    let snapshot = judgement(analyzer_of(frames).snapshot(&geo, &catalogue));
    let ended = analyzer_of(frames).finish(&CaptureSummary::empty("cut.pcap".into(), 0, false));
    let mut builder = VerdictBuilder::new(Some(&geo), &catalogue, false);
    builder.add(ended).unwrap();
    (snapshot, judgement(builder.finish().unwrap()))
}

/// The first difference between two JSON values, as a path and both sides.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
            let (l, r) = (
                x.get(k).unwrap_or(&Value::Null),
                y.get(k).unwrap_or(&Value::Null),
            );
            first_difference(&format!("{path}.{k}"), l, r)
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(&format!("{path}[{i}]"), l, r)),
        _ => (a != b).then(|| format!("{path}: snapshot {a} / verdict {b}")),
    }
}

/// A TCP connection's bytes that wait behind a hole when the capture is cut are lost to a
/// capture that ends there, but may still arrive while it goes on (a retransmission): the
/// snapshot does not count them as a gap. Make the snapshot's count the verdict's where that is
/// the difference, and return how many directions differed so.
fn count_bytes_waiting_behind_holes(snapshot: &mut Value, verdict: &Value) -> usize {
    let mut differed = 0;
    let (Some(ours), Some(theirs)) = (
        snapshot["flows"].as_array_mut(),
        verdict["flows"].as_array(),
    ) else {
        return 0;
    };
    for (ours, theirs) in ours.iter_mut().zip(theirs) {
        for gap in ["gap_bytes_client_to_server", "gap_bytes_server_to_client"] {
            if ours["tcp"][gap] == 0 && theirs["tcp"][gap].as_u64().is_some_and(|n| n > 0) {
                ours["tcp"][gap] = theirs["tcp"][gap].clone();
                differed += 1;
            }
        }
    }
    differed
}

#[test]
fn a_snapshot_during_a_capture_judges_its_open_flows_as_the_verdict_would() {
    let mut compared = 0;
    let mut differences = Vec::new();
    let mut waiting_behind_holes = 0;
    for path in all_captures() {
        let frames = frames(&path);
        // the middle of the capture, where most flows are open, and its end
        for cut in [frames.len() / 2, frames.len()] {
            let (mut snapshot, verdict) = snapshot_and_verdict(&frames[..cut]);
            waiting_behind_holes += count_bytes_waiting_behind_holes(&mut snapshot, &verdict);
            if let Some(d) = first_difference("", &snapshot, &verdict) {
                differences.push(format!("{} after {cut} frames: {d}", path.display()));
            }
            compared += 1;
        }
    }
    assert!(compared >= 300, "{compared} cuts compared");
    // zeek/hrr.pcap cut after frame 9: 1,368 bytes the server sent before frame 9's segment
    // arrive (retransmitted) in frame 11
    assert!(
        waiting_behind_holes >= 1,
        "the case of bytes behind a hole was met"
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn mid_call_the_snapshot_sees_srtp_keyed_by_sdp_and_the_keys_in_clear() {
    // baresip calling itself with SDES-SRTP: the SIP INVITE and its 200 OK (frame 5) carry
    // a=crypto keys; tshark decodes frames 9 on as SRTP of 192.0.2.2:20066 <-> 20078, and the
    // call lasts to frame 618. A snapshot a quarter in, while the call and its media flows are
    // open, judges the media as the verdict does. (`callproof live` on lo, this capture
    // replayed by tcpreplay, said "new finding [high] plaintext-rtp" here while the RTCP port
    // was not yet keyed by the SDP.)
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-sdes-srtp.pcap");
    let frames = frames(&path);
    assert_eq!(frames.len(), 618);
    let geo = GeoData::embedded();
    let catalogue = Catalogue::embedded();
    let v = analyzer_of(&frames[..150]).snapshot(&geo, &catalogue);
    let media = common::flow(&v, "udp", ("192.0.2.2", 20066), ("192.0.2.2", 20078));
    assert_eq!(media.protocols, ["srtp"]);
    let encryption = &media.encryption;
    assert_eq!(encryption.state, "encrypted");
    assert!(
        encryption.basis[0].contains("SDP in SIP frame 5")
            && encryption.basis[0].contains("a=crypto"),
        "{:?}",
        encryption.basis
    );
    // the keys in clear; and the RTCP keep-alives in clear beside the media (the first SRTCP
    // report comes at frame 509) are RTCP in clear on an SRTCP port, not media in clear
    let rules: Vec<&str> = v.findings.iter().map(|f| &*f.rule).collect();
    assert!(rules.contains(&"sdes-keys-in-clear"), "{rules:?}");
    assert!(rules.contains(&"rtcp-in-clear"), "{rules:?}");
    assert!(!rules.contains(&"plaintext-rtp"), "{rules:?}");
    assert_eq!(v.summary.unwrap().e2ee.status, "fail");
}

/// SIP over TLS keys the SRTP out of sight. On the RTCP port baresip sends an RTCP APP
/// keep-alive ("PINGPONG") each way in clear (frames 12 and 20), each followed by the same
/// packet as SRTCP (frames 13 and 21: index 1, E flag set) — one SRTCP packet a direction, too
/// few to establish a trailer, whose index must grow — and its first SRTCP report only in frame
/// 519, 5 s in. A snapshot 300 frames in sees the media as SRTP by its authentication tag and
/// the RTCP port in clear so far: RTCP in clear (no audio or video in it), not media in clear.
/// `callproof live` said "new finding [high] plaintext-rtp" there, a finding the verdict of the
/// whole call does not hold.
#[test]
fn mid_call_rtcp_keep_alives_in_clear_beside_srtp_are_not_media_in_clear() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-tls-srtp.pcap");
    let frames = frames(&path);
    let geo = GeoData::embedded();
    let catalogue = Catalogue::embedded();
    let v = analyzer_of(&frames[..300]).snapshot(&geo, &catalogue);
    let media = common::flow(&v, "udp", ("192.0.2.2", 20026), ("192.0.2.2", 20010));
    assert_eq!(media.protocols, ["srtp"]);
    assert_eq!(
        media.encryption.state, "encrypted",
        "{:?}",
        media.encryption
    );
    let rtcp = common::flow(&v, "udp", ("192.0.2.2", 20027), ("192.0.2.2", 20011));
    assert_eq!(rtcp.protocols, ["rtcp"]);
    assert_eq!(rtcp.encryption.state, "plaintext");
    let rules: Vec<&str> = v.findings.iter().map(|f| &*f.rule).collect();
    assert!(!rules.contains(&"plaintext-rtp"), "{rules:?}");
    let clear = v
        .findings
        .iter()
        .find(|f| f.rule == "plaintext-rtcp")
        .expect("plaintext-rtcp");
    assert_eq!(clear.flows, vec![rtcp.id]);
    assert!(
        clear.detail.starts_with("2 RTCP packet(s) in clear"),
        "{}",
        clear.detail
    );
    let summary = v.summary.unwrap();
    assert_eq!(summary.media_encryption.status, "warn");
    assert_ne!(summary.e2ee.status, "fail", "{:?}", summary.e2ee);
}

#[cfg(feature = "live")]
#[test]
fn mid_call_the_live_rows_show_the_judgement_of_the_open_media_flows() {
    // The live view's rows group the flows so far by server. Before the first judgement the
    // SRTP flow of the bundled baresip call (192.0.2.2:20066 <-> 20078, keyed by a=crypto in
    // the SIP of frame 5) shows only what its dissector has seen: RTP, protection not
    // decided. After it, the row says what the snapshot verdict said of the flow, and the
    // counters name its protocols as the verdict does.
    use callproof::live::{Judged, flows_by_protocol, server_rows};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-sdes-srtp.pcap");
    let frames = frames(&path);
    let analyzer = analyzer_of(&frames[..150]);
    let media_server: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    let row_of = |judged: &Judged| {
        server_rows(analyzer.flows(), judged)
            .into_iter()
            .find(|r| r.ip == media_server)
            .expect("a row for the media server")
    };
    let before = row_of(&Judged::default());
    assert!(
        before.state.contains("so far") && !before.judged,
        "{before:?}"
    );
    assert!(
        !flows_by_protocol(analyzer.flows(), &Judged::default()).contains("srtp"),
        "no flow is labelled srtp before it is judged"
    );

    let v = analyzer.snapshot(&GeoData::embedded(), &Catalogue::embedded());
    let media = common::flow(&v, "udp", ("192.0.2.2", 20066), ("192.0.2.2", 20078));
    let judged = Judged::new(&v);
    let after = row_of(&judged);
    assert!(after.judged, "{after:?}");
    // the media first, then the RTCP beside it, each as the verdict protects it
    let rtcp = common::flow(&v, "udp", ("192.0.2.2", 20067), ("192.0.2.2", 20079));
    let protection = |f: &callproof::verdict::Flow| f.encryption.protection.clone().unwrap();
    assert_eq!(
        after.state,
        format!("{}; {}", protection(media), protection(rtcp))
    );
    assert!(
        after.state.starts_with("SRTP (") && after.state.contains("SDES"),
        "{after:?}"
    );
    assert!(after.protocols.contains("srtp"), "{after:?}");
    assert!(!after.protocols.contains("rtp"), "{after:?}");
    let counters = flows_by_protocol(analyzer.flows(), &judged);
    assert!(counters.contains("srtp 1"), "{counters}");
    // the SIP flow to 127.0.0.1, judged plaintext
    let sip = server_rows(analyzer.flows(), &judged)
        .into_iter()
        .find(|r| r.ip == "127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        .expect("a row for the SIP server");
    assert_eq!(sip.state, "plaintext SIP", "{sip:?}");
}

#[cfg(feature = "live")]
#[test]
fn mid_call_the_live_row_names_an_inner_layer_beneath_opened_srtp() {
    // The Firefox SFrame call with its key log, half-way through: once judged, the media
    // server's row shows the flow's protection and the inner layer its opened streams carry;
    // the same call without the inner layer shows none.
    use callproof::dissect::tls::keylog::KeyLog;
    use callproof::live::{Judged, server_rows};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let row = |name: &str| {
        let options = Options {
            keylog: Some(std::sync::Arc::new(
                KeyLog::read(&dir.join(format!("{name}.keys"))).unwrap(),
            )),
            ..Options::default()
        };
        let frames = frames(&dir.join(format!("{name}.pcap")));
        let analyzer = analyzer_with(&options, &frames[..frames.len() / 2]);
        let v = analyzer.snapshot(&GeoData::embedded(), &Catalogue::embedded());
        let judged = Judged::new(&v);
        let rows = server_rows(analyzer.flows(), &judged);
        assert_eq!(rows.len(), 1, "{rows:?}");
        let media = v.flows.iter().find(|f| f.dtls.is_some()).unwrap();
        let protection = media.encryption.protection.clone().unwrap();
        assert!(protection.contains("SRTP_AEAD_AES_128_GCM"), "{protection}");
        (rows[0].state.clone(), protection)
    };
    let (with_layer, protection) = row("firefox-dtls13-sframe-keylog");
    assert_eq!(with_layer, format!("{protection} + inner layer sframe"));
    let (without, protection) = row("firefox-dtls13-keylog");
    assert_eq!(without, protection);
}
