//! Frames per second of the whole offline pipeline (read, hash, decode, flows, TLS, verdict
//! model) on a large capture built from the shared real captures.
//!
//! The capture is made by `benches/make-bench-capture.py` (run automatically if missing):
//! `cargo bench --bench pipeline`. Set CALLPROOF_BENCH_CAPTURE to measure another file.

use std::path::PathBuf;
use std::process::Command;

use callproof::analyze::{Options, VerdictBuilder, analyze_file};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_capture() -> PathBuf {
    if let Some(p) = std::env::var_os("CALLPROOF_BENCH_CAPTURE") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("benches/data/bench.pcap");
    if !path.exists() {
        let status = Command::new("python3")
            .arg(root.join("benches/make-bench-capture.py"))
            .arg("--out")
            .arg(&path)
            .status()
            .expect("python3 runs benches/make-bench-capture.py");
        assert!(status.success(), "could not build the benchmark capture");
    }
    path
}

fn pipeline(c: &mut Criterion) {
    let path = bench_capture();
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
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Elements(frames));
    group.bench_function("analyze_file+verdict", |b| {
        b.iter(|| {
            let a = analyze_file(&path, &opts).unwrap();
            let mut builder = VerdictBuilder::default();
            builder.add(a);
            let verdict = builder.finish();
            std::hint::black_box(serde_json::to_vec(&verdict).unwrap().len())
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
