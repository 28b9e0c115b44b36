//! `schema/verdict-1.json` describes the verdict (issue 5, item 7): real verdicts validate
//! against it, deserialise into the model, and the schema is strict enough to reject a verdict
//! with an undocumented field or a value outside a documented set.

mod common;

use std::path::{Path, PathBuf};

use common::{analyze, capture, schema_errors as errors, schema_validator as validator, shared};
use serde_json::Value;

fn verdict_json(paths: &[PathBuf]) -> Value {
    let (_, stderr, v) = analyze(paths);
    // `analyze` has deserialised the verdict into the model; validate what was written
    let v = v.unwrap_or_else(|| panic!("no verdict: {stderr}"));
    serde_json::to_value(v).unwrap()
}

#[test]
fn verdicts_of_every_capture_validate() {
    let validator = validator();
    // the directories hold notes and peers' outputs beside the captures: those are skipped
    let all = [
        shared().join("captures"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
    ];
    // one verdict over everything: every protocol section, damage kind and finding at once
    let v = verdict_json(&all);
    let problems = errors(&validator, &v);
    assert!(problems.is_empty(), "{problems:#?}");
    let v: callproof::verdict::Verdict = serde_json::from_value(v).unwrap();
    for section in [
        "tls", "dtls", "quic", "stun", "rtp", "sip", "zoom", "dns", "tcp",
    ] {
        let present = v.flows.iter().any(|f| {
            let j = serde_json::to_value(f).unwrap();
            j.get(section).is_some()
        });
        assert!(
            present,
            "no flow with {section}: the schema's part for it went untested"
        );
    }
    assert!(v.summary.is_some() && v.data.is_some() && !v.findings.is_empty());
    assert!(v.inputs.iter().any(|i| !i.damage.is_empty()));
    assert!(v.inputs.len() > 100, "{} captures", v.inputs.len());
    assert!(v.inputs.iter().all(|i| i.error.is_none()));
    assert!(v.skipped.iter().any(|s| s.path.ends_with("PROVENANCE.md")));
    assert!(!v.skipped.iter().any(|s| s.path.ends_with(".pcap")));
}

#[test]
fn the_written_file_validates_byte_for_byte() {
    // the file on disk, not a re-serialisation through the model
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.json");
    let status = std::process::Command::new(common::bin())
        .args(["analyze", "--quiet", "--out"])
        .arg(&out)
        .arg(capture("ndpi/webex.pcap"))
        .status()
        .unwrap();
    assert!(status.success());
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let problems = errors(&validator(), &written);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    let validator = validator();
    let good = verdict_json(&[capture("ndpi/webex.pcap")]);
    assert!(validator.is_valid(&good));

    let mut extra = good.clone();
    extra["flows"][0]["undocumented"] = Value::Bool(true);
    assert!(!validator.is_valid(&extra), "unknown flow field accepted");

    let mut status = good.clone();
    status["summary"]["e2ee"]["status"] = Value::String("probably".into());
    assert!(
        !validator.is_valid(&status),
        "status outside pass/warn/fail/unknown"
    );

    let mut severity = good.clone();
    severity["findings"][0]["severity"] = Value::String("critical".into());
    assert!(!validator.is_valid(&severity), "severity outside the four");

    let mut missing = good;
    missing["flows"][0]
        .as_object_mut()
        .unwrap()
        .remove("encryption");
    assert!(
        !validator.is_valid(&missing),
        "flow without encryption accepted"
    );
}
