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

/// The verdict of one capture, with extra command-line options, as the JSON the binary wrote
/// (to stdout); the run must succeed.
pub fn verdict_json_of(path: &Path, options: &[&std::ffi::OsStr]) -> serde_json::Value {
    let o = Command::new(bin())
        .args(["analyze", "--quiet"])
        .args(options)
        .arg(path)
        .output()
        .expect("run callproof");
    assert!(o.status.success(), "{}: {o:?}", path.display());
    serde_json::from_slice(&o.stdout).expect("a verdict on stdout")
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

/// The verdict on `path` analysed with these options, checked against the schema first.
#[allow(dead_code)] // not every test binary uses it
pub fn schema_valid_verdict_with(options: &[&std::ffi::OsStr], path: &Path) -> Verdict {
    let json = verdict_json_of(path, options);
    assert_schema_valid(&json);
    serde_json::from_value(json).expect("the verdict deserialises")
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

/// The frames of a pcap or pcapng file, as (seconds, microseconds, bytes); the sub-second
/// field of a nanosecond pcap is returned as it is.
pub fn pcap_frames(path: &Path) -> Vec<(u32, u32, Vec<u8>)> {
    use pcap_parser::{Block, PcapBlockOwned, PcapError};
    let file = std::fs::File::open(path).unwrap();
    let mut reader = pcap_parser::create_reader(1 << 16, file).unwrap();
    let mut out = Vec::new();
    // units per second of each pcapng interface, in the order described
    let mut resolutions: Vec<u64> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::Legacy(b) => out.push((b.ts_sec, b.ts_usec, b.data.to_vec())),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => resolutions.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        resolutions.push(idb.ts_resolution().unwrap());
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(b)) => {
                        let units = (u64::from(b.ts_high) << 32) | u64::from(b.ts_low);
                        let per_second = resolutions[b.if_id as usize];
                        let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                        out.push((
                            u32::try_from(units / per_second).unwrap(),
                            u32::try_from(units % per_second * 1_000_000 / per_second).unwrap(),
                            data.to_vec(),
                        ));
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    out
}

/// Write frames as a classic pcap with the given byte order and precision.
pub fn pcap_bytes(frames: &[(u32, u32, Vec<u8>)], big_endian: bool, nanos: bool) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut f = Vec::new();
    f.extend_from_slice(&w32(if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 }));
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&w32(0));
    f.extend_from_slice(&w32(0));
    f.extend_from_slice(&w32(262_144));
    f.extend_from_slice(&w32(1));
    for (s, us, data) in frames {
        let sub = if nanos { us * 1000 + 7 } else { *us };
        for x in [*s, sub, data.len() as u32, data.len() as u32] {
            f.extend_from_slice(&w32(x));
        }
        f.extend_from_slice(data);
    }
    f
}

/// `bytes` written to a file `name` in a new temporary directory (removed when dropped).
pub fn temp_copy(bytes: &[u8], name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

/// The verdict's JSON Schema (`schema/verdict-1.json`), compiled.
pub fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/verdict-1.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema is valid JSON Schema 2020-12")
}

/// Where `instance` breaks the schema (the first 20 places).
pub fn schema_errors(v: &jsonschema::Validator, instance: &serde_json::Value) -> Vec<String> {
    v.iter_errors(instance)
        .take(20)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panic with the places where `verdict` breaks the schema, if any.
pub fn assert_schema_valid(verdict: &serde_json::Value) {
    let broken = schema_errors(&schema_validator(), verdict);
    assert!(
        broken.is_empty(),
        "the verdict breaks the schema: {broken:?}"
    );
}

/// The flow's encryption basis has a line that mentions `needle`.
#[allow(dead_code)] // not every test binary uses it
pub fn assert_basis_mentions(f: &Flow, needle: &str) {
    assert!(
        f.encryption.basis.iter().any(|b| b.contains(needle)),
        "no basis line mentions {needle:?}: {:?}",
        f.encryption
    );
}

/// `capture` saved again as a pcapng (one interface of its link type) with Decryption Secrets
/// Blocks where `secrets_before` says: it sees each frame's data before the frame is written and
/// returns the key log lines to put in a block ahead of it, if any.
#[allow(dead_code)] // not every test binary uses it
pub fn pcapng_with_secrets(
    capture: &Path,
    out: &Path,
    mut secrets_before: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) {
    use callproof::capture::{TLS_KEY_LOG, pcapng_write::PcapngWriter};
    let file = std::fs::File::create(out).unwrap();
    let mut w = PcapngWriter::new(file, "callproof tests", &[]).unwrap();
    let mut link = None;
    callproof::capture::read_file(capture, |f| {
        if link.is_none() {
            w.add_interface(f.link_type as u16, 262_144, "test", None)
                .unwrap();
        }
        assert_eq!(
            *link.get_or_insert(f.link_type),
            f.link_type,
            "one link type"
        );
        if let Some(lines) = secrets_before(f.data) {
            w.secrets(TLS_KEY_LOG, &lines).unwrap();
        }
        w.packet(0, f.ts_ns.unwrap_or(0).max(0) as u64, f.data, f.orig_len)
            .unwrap();
    })
    .unwrap();
    w.finish().unwrap();
}

/// `capture` saved again as a pcapng whose key log follows its packets, the way a live capture
/// saves the secrets it finds: a first Decryption Secrets Block of comments only (a key log is
/// coming), every packet, then `keys`, or, when `keys` is empty, the key logs `capture` carries
/// (with `one_block_per_line`, a block for each of their lines).
#[allow(dead_code)] // not every test binary uses it
pub fn with_key_log_after_the_packets(
    capture: &Path,
    keys: &[u8],
    one_block_per_line: bool,
    out: &Path,
) {
    use callproof::capture::{TLS_KEY_LOG, pcapng_write::PcapngWriter};
    let mut frames = Vec::new();
    let summary = callproof::capture::read_file(capture, |f| {
        frames.push((
            f.link_type,
            f.ts_ns.unwrap_or(0),
            f.data.to_vec(),
            f.orig_len,
        ));
    })
    .unwrap();
    let mut carried = Vec::new();
    for block in summary
        .secrets
        .iter()
        .filter(|b| b.secrets_type == TLS_KEY_LOG)
    {
        carried.extend_from_slice(&block.data);
    }
    let keys = if keys.is_empty() { &carried } else { keys };
    assert!(!keys.is_empty(), "{}: no key log", capture.display());
    let file = std::fs::File::create(out).unwrap();
    let mut w = PcapngWriter::new(file, "callproof tests", &[]).unwrap();
    w.add_interface(frames[0].0 as u16, 262_144, "test", None)
        .unwrap();
    w.secrets(TLS_KEY_LOG, b"# secrets follow\n").unwrap();
    for (link_type, ts, data, orig_len) in &frames {
        assert_eq!(*link_type, frames[0].0, "one link type");
        w.packet(0, (*ts).max(0) as u64, data, *orig_len).unwrap();
    }
    if one_block_per_line {
        for line in keys.split_inclusive(|&b| b == b'\n') {
            w.secrets(TLS_KEY_LOG, line).unwrap();
        }
    } else {
        w.secrets(TLS_KEY_LOG, keys).unwrap();
    }
    w.finish().unwrap();
}

/// A deterministic stream of pseudo-random numbers (xorshift64) for mutation tests: the same
/// seed, the same mutations on every run.
pub fn xorshift64(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
