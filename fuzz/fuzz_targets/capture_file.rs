//! Any bytes as a capture file: format detection (pcap in both byte orders and precisions,
//! pcapng, gzip), record and block parsing, damage accounting, then the packet path.
#![no_main]

use callproof::analyze::{Options, analyze_reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // an error (not a capture, unreadable) is a fine outcome; a panic or a hang is not
    let _ = analyze_reader(
        std::path::Path::new("fuzz-input"),
        data,
        &Options::default(),
    );
});
