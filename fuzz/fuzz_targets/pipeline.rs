//! The whole offline pipeline on frames the fuzzer makes: capture reading, decoding, the flow
//! table and TCP reassembly, every dissector, the judgements, geolocation and the verdict's
//! JSON and both reports, and the live view's judgement of open flows (`Analyzer::snapshot`)
//! after frames 1, 2, 4, 8, …. The input is a link-type selector byte, then frames, each `[gap][len: u16 BE][bytes]`
//! (`gap` seconds after the frame before, so idle timeouts and late closes are reached too);
//! see `fuzz/README.md`.
#![no_main]

use std::io::Write;
use std::sync::LazyLock;

use callproof::analyze::{Analyzer, Options, analyze_paths};
use callproof::enrich::GeoData;
use callproof::vendor::Catalogue;
use libfuzzer_sys::fuzz_target;

static GEO: LazyLock<GeoData> = LazyLock::new(GeoData::embedded);
static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(Catalogue::embedded);
static PATH: LazyLock<std::path::PathBuf> = LazyLock::new(|| {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("callproof-fuzz-{}.pcap", std::process::id()))
});

/// Link types the selector byte picks from: Ethernet, raw IP, Linux cooked v1, BSD loopback.
const LINK_TYPES: [u32; 4] = [1, 101, 113, 0];

/// A classic pcap (microsecond timestamps) of the frames in `data`.
fn pcap_of(data: &[u8]) -> Vec<u8> {
    let (&selector, mut rest) = data.split_first().unwrap_or((&0, &[]));
    let mut out = Vec::with_capacity(data.len() + 24 + data.len() / 4);
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINK_TYPES[selector as usize % LINK_TYPES.len()].to_le_bytes());
    let (mut secs, mut micros) = (1_700_000_000u32, 0u32);
    while rest.len() >= 3 {
        let gap = rest[0];
        let len = (u16::from_be_bytes([rest[1], rest[2]]) as usize).min(rest.len() - 3);
        let frame = &rest[3..3 + len];
        rest = &rest[3 + len..];
        // a gap of 0 is 1 ms, so frames keep their order in time
        if gap == 0 {
            micros += 1000;
            secs += micros / 1_000_000;
            micros %= 1_000_000;
        } else {
            secs += u32::from(gap);
        }
        for v in [secs, micros, len as u32, len as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(frame);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let path = &*PATH;
    std::fs::write(path, pcap_of(data)).expect("the fuzz capture can be written");
    let opts = Options::default();
    let (verdict, _errors) = analyze_paths(std::slice::from_ref(path), &opts, &GEO, &CATALOGUE)
        .expect("no spill file, so no spill error");
    let mut sink = std::io::sink();
    callproof::verdict::write_verdict(&mut sink, &verdict).expect("writing to a sink");
    sink.flush().unwrap();
    // the reports read everything the capture put into the verdict
    std::hint::black_box(callproof::report::html_report(&verdict));
    std::hint::black_box(callproof::report::terminal_summary(&verdict, true));
    // the live view judges the flows so far while they are open
    let mut analyzer = Analyzer::new(&opts);
    let _ = callproof::capture::read_file(path, |frame| {
        analyzer.frame(frame);
        if frame.number.is_power_of_two() {
            std::hint::black_box(analyzer.snapshot(&GEO, &CATALOGUE));
        }
    });
});
