//! Batch analysis (issue 7, item 1): `analyze DIR --out-dir OUT` writes one verdict per capture
//! and `summary.json`; a bad file is reported and does not stop the others; the exit code
//! reflects the worst result; `--jobs` changes nothing but the speed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use callproof::batch::BatchSummary;
use callproof::verdict::Verdict;
use common::{bin, capture};

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// A folder as a compliance team keeps it: captures in subfolders, two with the same name, a
/// truncated one, a file named like a capture that is not one, and a note.
fn mixed_folder(root: &Path) -> PathBuf {
    let dir = root.join("captures");
    std::fs::create_dir_all(dir.join("zoom")).unwrap();
    std::fs::create_dir_all(dir.join("lab")).unwrap();
    std::fs::copy(capture("ndpi/zoom.pcap"), dir.join("zoom/call.pcap")).unwrap();
    std::fs::copy(bundled("openssl-tls.pcap"), dir.join("lab/call.pcap")).unwrap();
    std::fs::copy(bundled("baresip-sip-rtp.pcap"), dir.join("sip.pcap")).unwrap();
    std::fs::copy(bundled("weak-handshakes.pcap"), dir.join("weak.pcap")).unwrap();
    let whole = std::fs::read(bundled("aiortc-webrtc-call.pcap")).unwrap();
    std::fs::write(dir.join("truncated.pcap"), &whole[..whole.len() * 2 / 3]).unwrap();
    std::fs::write(dir.join("broken.pcap"), b"this was never a capture\n").unwrap();
    std::fs::write(dir.join("notes.txt"), b"call on Tuesday with the vendor\n").unwrap();
    dir
}

fn batch(paths: &[&Path], out: &Path, extra: &[&str]) -> Output {
    Command::new(bin())
        .arg("analyze")
        .args(paths)
        .arg("--out-dir")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn summary_of(out: &Path) -> BatchSummary {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

fn verdict_in(out: &Path, name: &str) -> Verdict {
    serde_json::from_slice(&std::fs::read(out.join(name)).unwrap()).unwrap()
}

#[test]
fn a_mixed_folder_gives_one_verdict_per_capture_a_summary_and_names_the_bad_file() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = mixed_folder(tmp.path());
    let out = tmp.path().join("out");
    let o = batch(&[&folder], &out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("broken.pcap: not a pcap or pcapng capture"),
        "{stderr}"
    );
    assert!(
        stderr.contains("truncated.pcap: the capture file is damaged"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));

    let s = summary_of(&out);
    assert_eq!(s.schema, "callproof.batch/1");
    // summary.json is what schema/batch-1.json describes
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/batch-1.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("a valid JSON Schema");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&written)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let t = &s.totals;
    assert_eq!(
        (t.captures, t.analysed, t.failed, t.skipped, t.damaged),
        (7, 5, 1, 1, 1)
    );
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "call.pcap-2.json",
            "call.pcap.json",
            "sip.pcap.json",
            "summary.json",
            "truncated.pcap.json",
            "weak.pcap.json"
        ]
    );
    let status = |name: &str| {
        s.captures
            .iter()
            .find(|c| c.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in the summary"))
    };
    assert_eq!(status("broken.pcap").status, "failed");
    assert_eq!(status("notes.txt").status, "skipped");
    assert!(status("truncated.pcap").damaged);

    // every entry agrees with its verdict, and the totals add up from the verdicts
    let mut rule_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut vendor_flows: BTreeMap<String, usize> = BTreeMap::new();
    let mut bytes = 0u64;
    for c in s.captures.iter().filter(|c| c.status == "analysed") {
        let v = verdict_in(&out, c.verdict.as_deref().unwrap());
        assert_eq!(v.inputs.len(), 1);
        assert_eq!(v.inputs[0].path, c.path);
        assert_eq!(v.inputs[0].sha256, c.sha256);
        assert_eq!(v.flows.len(), c.flows);
        let vs = v.summary.as_ref().unwrap();
        let line = c.summary.as_ref().unwrap();
        assert_eq!(line.media_encryption, vs.media_encryption.status);
        assert_eq!(
            line.third_country_transfer,
            vs.third_country_transfer.status
        );
        assert_eq!(
            c.findings.high,
            v.findings.iter().filter(|f| f.severity == "high").count()
        );
        for f in &v.findings {
            *rule_counts.entry(f.rule.to_string()).or_default() += 1;
        }
        for vendor in &v.vendors {
            *vendor_flows.entry(vendor.id.clone()).or_default() += vendor.flows.len();
        }
        bytes += v
            .flows
            .iter()
            .map(|f| f.bytes_client_to_server + f.bytes_server_to_client)
            .sum::<u64>();
    }
    let totals_rules: BTreeMap<String, usize> = t
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.findings))
        .collect();
    assert_eq!(totals_rules, rule_counts);
    let totals_vendors: BTreeMap<String, usize> =
        t.vendors.iter().map(|v| (v.id.clone(), v.flows)).collect();
    assert_eq!(totals_vendors, vendor_flows);
    assert!(totals_vendors.contains_key("zoom"));
    assert_eq!(t.countries.iter().map(|c| c.bytes).sum::<u64>(), bytes);
    assert!(
        t.countries
            .iter()
            .any(|c| c.country.as_deref() == Some("US"))
    );
    assert_eq!(
        t.statuses["media_encryption"]["fail"], 2,
        "{:?}",
        t.statuses
    );
}

/// File names in a folder of captures from elsewhere are not ours: one with terminal escape
/// sequences is named escaped in the errors and damage lines, in batch mode and in a single
/// verdict over the folder, never sent to the terminal.
#[test]
fn file_names_with_control_characters_are_shown_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("from-the-vendor");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(bundled("openssl-tls.pcap"), dir.join("call.pcap")).unwrap();
    std::fs::write(dir.join("bad\x1b]0;owned\x07.pcap"), b"never a capture\n").unwrap();
    let whole = std::fs::read(bundled("aiortc-webrtc-call.pcap")).unwrap();
    std::fs::write(dir.join("cut\x1b[2J.pcap"), &whole[..whole.len() / 2]).unwrap();
    let out = tmp.path().join("out");
    let batch_run = batch(&[&dir], &out, &[]);
    let single = Command::new(bin())
        .arg("analyze")
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("v.json"))
        .output()
        .unwrap();
    for o in [&batch_run, &single] {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(r"bad\x1b]0;owned\x07.pcap: not a pcap or pcapng capture"),
            "{stderr}"
        );
        assert!(!stderr.contains(['\x1b', '\x07']), "{stderr:?}");
    }
    let stderr = String::from_utf8_lossy(&batch_run.stderr);
    assert!(
        stderr.contains(r"cut\x1b[2J.pcap: the capture file is damaged"),
        "{stderr}"
    );
    // the summary keeps the exact names
    let s = summary_of(&out);
    assert!(
        s.captures
            .iter()
            .any(|c| c.path.ends_with("cut\x1b[2J.pcap"))
    );
}

#[test]
fn a_batch_verdict_is_the_verdict_of_a_single_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let zoom = capture("ndpi/zoom.pcap");
    let o = batch(&[&zoom], &out, &["--quiet"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty(), "--quiet");
    let in_batch = verdict_in(&out, "zoom.pcap.json");
    let single = common::verdict_of(&zoom);
    assert_eq!(in_batch.flows, single.flows);
    assert_eq!(in_batch.endpoints, single.endpoints);
    assert_eq!(in_batch.findings, single.findings);
    assert_eq!(in_batch.claims, single.claims);
    assert_eq!(in_batch.summary, single.summary);
}

#[test]
fn jobs_change_nothing_but_speed() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = mixed_folder(tmp.path());
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    assert_eq!(
        batch(&[&folder], &one, &["--jobs", "1", "-q"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        batch(&[&folder], &two, &["--jobs", "2", "-q"])
            .status
            .code(),
        Some(2)
    );
    let (mut a, mut b) = (summary_of(&one), summary_of(&two));
    a.generated_at.clear();
    b.generated_at.clear();
    assert_eq!(a, b);
    for c in a.captures.iter().filter_map(|c| c.verdict.as_deref()) {
        let (mut x, mut y) = (verdict_in(&one, c), verdict_in(&two, c));
        x.generated_at.clear();
        y.generated_at.clear();
        assert_eq!(x, y, "{c}");
    }
}

#[test]
fn fail_on_in_a_batch_exits_3_when_any_capture_reaches_the_severity() {
    let tmp = tempfile::tempdir().unwrap();
    let (weak, tls) = (bundled("weak-handshakes.pcap"), bundled("openssl-tls.pcap"));
    let out = tmp.path().join("out");
    let o = batch(&[&weak, &tls], &out, &["--fail-on", "high"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 capture(s) with a finding at or above"));
    let o = batch(&[&tls], &tmp.path().join("clean"), &["--fail-on", "high"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // --out and --out-dir do not go together
    let o = Command::new(bin())
        .args(["analyze", "--out", "v.json", "--out-dir", "d"])
        .arg(&tls)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
