//! The per-packet path allocates nothing in the steady state: once a flow's handshake is decided
//! and its RTP streams are known, further packets are counted without touching the heap
//! (measured with dhat's heap statistics as the global allocator of this test binary).

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

use std::path::Path;

use callproof::analyze::{Analyzer, Options};
use callproof::capture::{self, Frame};

/// Every frame of a capture, owned: (number, timestamp, link type, bytes).
fn frames(path: &Path) -> Vec<(u64, Option<i64>, u32, Vec<u8>)> {
    let mut out = Vec::new();
    capture::read_file(path, |f: &Frame<'_>| {
        out.push((f.number, f.ts_ns, f.link_type, f.data.to_vec()))
    })
    .unwrap();
    out
}

/// The UDP ports of an Ethernet frame, if it is UDP.
fn udp_ports(frame: &[u8]) -> Option<(u16, u16)> {
    let p = etherparse::SlicedPacket::from_ethernet(frame).ok()?;
    match p.transport? {
        etherparse::TransportSlice::Udp(u) => Some((u.source_port(), u.destination_port())),
        _ => None,
    }
}

/// Heap allocations made while the analyzer takes `frames`.
fn allocations_during(analyzer: &mut Analyzer, frames: &[(u64, Option<i64>, u32, Vec<u8>)]) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    for (number, ts_ns, link_type, data) in frames {
        analyzer.frame(&Frame {
            number: *number,
            ts_ns: *ts_ns,
            link_type: *link_type,
            orig_len: data.len() as u32,
            data,
            secrets: &[],
        });
    }
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn steady_state_media_packets_do_not_allocate() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    // a DTLS-SRTP call (aiortc) and a plain RTP call (baresip): after their first 250 frames
    // (ICE, DTLS, SIP, the streams' first packets), the rest is media on known streams
    for name in ["aiortc-webrtc-call.pcap", "baresip-sip-rtp.pcap"] {
        let all = frames(&root.join(name));
        assert!(all.len() >= 400, "{name}: {} frames", all.len());
        let (warm_up, steady) = all.split_at(250);
        let mut analyzer = Analyzer::new(&Options::default());
        let warm = allocations_during(&mut analyzer, warm_up);
        assert!(warm > 0, "{name}: the warm-up creates flows and streams");
        // media only: the SIP BYE and its answers at the end are messages to parse, not media
        let media: Vec<_> = steady
            .iter()
            .filter(|f| udp_ports(&f.3).is_some_and(|(s, d)| s >= 10_000 && d >= 10_000))
            .cloned()
            .collect();
        assert!(media.len() >= 150, "{name}: {} media frames", media.len());
        let steady_allocs = allocations_during(&mut analyzer, &media);
        assert_eq!(
            steady_allocs,
            0,
            "{name}: {} steady-state media frames allocated {steady_allocs} blocks",
            media.len()
        );
    }
}
