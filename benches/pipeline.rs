//! Frames per second of the whole offline pipeline (read, hash, decode, flows, TLS, verdict
//! model) on a large capture built from the shared real captures.
//!
//! The capture is made by `benches/make-bench-capture.py` (run automatically if missing):
//! `cargo bench --bench pipeline`. Set CALLPROOF_BENCH_CAPTURE to measure another file.

use std::path::{Path, PathBuf};
use std::process::Command;

use callproof::analyze::{Options, VerdictBuilder, analyze_file};
use callproof::vendor::Catalogue;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The capture `name` in benches/data, built by the script (with `extra` arguments) if missing.
fn bench_capture(name: &str, extra: &[&str]) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("benches/data").join(name);
    if !path.exists() {
        let status = Command::new("python3")
            .arg(root.join("benches/make-bench-capture.py"))
            .arg("--out")
            .arg(&path)
            .args(extra)
            .status()
            .expect("python3 runs benches/make-bench-capture.py");
        assert!(status.success(), "could not build the benchmark capture");
    }
    path
}

fn pipeline(c: &mut Criterion) {
    let main = match std::env::var_os("CALLPROOF_BENCH_CAPTURE") {
        Some(p) => PathBuf::from(p),
        None => bench_capture("bench.pcap", &[]),
    };
    // The same real traffic split: TCP only (TLS path) and UDP only (media path), ~60 MB each.
    let tcp = bench_capture("tcp.pcap", &["--only", "tcp", "--mb", "60"]);
    let udp = bench_capture("udp.pcap", &["--only", "udp", "--mb", "60"]);
    for (label, path) in [("mixed", main), ("tcp-only", tcp), ("udp-only", udp)] {
        measure(c, label, &path);
    }
}

fn measure(c: &mut Criterion, label: &str, path: &Path) {
    let path = path.to_path_buf();
    let opts = Options::default();
    let probe = analyze_file(&path, &opts).expect("benchmark capture readable");
    let frames = probe.input.frames;
    let bytes = probe.input.bytes.unwrap_or(0);
    eprintln!(
        "{}: {frames} frames, {:.1} MB, {} flows",
        path.display(),
        bytes as f64 / 1e6,
        probe.flows.len()
    );
    let catalogue = Catalogue::embedded();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Elements(frames));
    group.bench_function(label, |b| {
        b.iter(|| {
            let a = analyze_file(&path, &opts).unwrap();
            let mut builder = VerdictBuilder::new(None, &catalogue, false);
            builder.add(a).unwrap();
            let verdict = builder.finish().unwrap();
            std::hint::black_box(serde_json::to_vec(&verdict).unwrap().len())
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
