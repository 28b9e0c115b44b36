//! Helpers shared by the integration tests: where the shared captures are, and running the
//! real `callproof` binary into a typed verdict.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use callproof::verdict::{Flow, Verdict};

/// `../shared` beside the repository (as CI lays it out), or `$CALLPROOF_SHARED`.
pub fn shared() -> PathBuf {
    let dir = std::env::var_os("CALLPROOF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("captures/PROVENANCE.md").exists(),
        "the shared captures are missing at {} (set CALLPROOF_SHARED): these tests compare with \
         peers on them and must not pass silently without them",
        dir.display()
    );
    dir
}

pub fn capture(rel: &str) -> PathBuf {
    shared().join("captures").join(rel)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_callproof")
}

/// Run `callproof analyze` on `paths`, returning (exit code, stderr, verdict if written).
pub fn analyze(paths: &[PathBuf]) -> (i32, String, Option<Verdict>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("verdict.json");
    let o = Command::new(bin())
        .arg("analyze")
        .args(paths)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .expect("run callproof");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "callproof panicked on {paths:?}: {stderr}"
    );
    let verdict = std::fs::read(&out).ok().map(|b| {
        serde_json::from_slice::<Verdict>(&b).expect("the verdict deserialises into the model")
    });
    (o.status.code().unwrap_or(-1), stderr, verdict)
}

/// Analyse one capture that must be readable.
pub fn verdict_of(path: &Path) -> Verdict {
    let (code, stderr, v) = analyze(&[path.to_path_buf()]);
    assert_eq!(code, 0, "callproof failed on {}: {stderr}", path.display());
    v.expect("verdict written")
}

/// The flow between these two endpoints, in either orientation.
pub fn flow<'a>(v: &'a Verdict, transport: &str, a: (&str, u16), b: (&str, u16)) -> &'a Flow {
    v.flows
        .iter()
        .find(|f| {
            f.transport == transport
                && ((f.client.ip == a.0
                    && f.client.port == a.1
                    && f.server.ip == b.0
                    && f.server.port == b.1)
                    || (f.client.ip == b.0
                        && f.client.port == b.1
                        && f.server.ip == a.0
                        && f.server.port == a.1))
        })
        .unwrap_or_else(|| panic!("no {transport} flow {a:?} <-> {b:?}"))
}

/// Analyse one capture with extra command-line options (e.g. `--vendors FILE`); the run must
/// succeed and write a verdict.
pub fn verdict_with(options: &[&std::ffi::OsStr], path: &Path) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("verdict.json");
    let o = Command::new(bin())
        .args(["analyze", "--quiet", "--out"])
        .arg(&out)
        .args(options)
        .arg(path)
        .output()
        .expect("run callproof");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("the verdict deserialises")
}
