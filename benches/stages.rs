//! Where the time goes, stage by stage, on the frames of the benchmark capture (built from the
//! shared real captures by `benches/make-bench-capture.py`; see `pipeline.rs`):
//! `cargo bench --bench stages`.
//!
//! - decode: link, IP and transport headers (etherparse, tunnels, fragments) per frame;
//! - flow-table: decode plus the flow lookup and every per-flow dissector (TCP reassembly, TLS,
//!   the UDP demultiplexer and media dissectors), minus nothing: subtract decode to see them;
//! - udp-demux: the UDP demultiplexer and media dissectors alone, per datagram;
//! - tls-client-hello: tls-parser's handshake parse and our ClientHello facts, per hello;
//! - certificate: x509-parser and our certificate facts, per DER certificate.
//!
//! The frames are read into memory first, so no stage measures the disk or the hash.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use callproof::decode::{Decoded, Decoder, Transport};
use callproof::dissect::tls::{cert, hello};
use callproof::dissect::udp::UdpDissector;
use callproof::flow::{FlowTable, Limits};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tls_parser::{TlsMessage, TlsMessageHandshake, parse_tls_plaintext};

/// Frames measured per iteration (the first of the mixed benchmark capture).
const FRAMES: usize = 100_000;

fn bench_capture() -> PathBuf {
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

/// (source address, source port, destination address, destination port) of a flow's first packet.
type FlowKey = (String, u16, String, u16);
/// (direction, source port, destination port, payload).
type Datagram = (usize, u16, u16, Vec<u8>);

struct Frame {
    link_type: u32,
    ts: i64,
    data: Vec<u8>,
}

fn load() -> Vec<Frame> {
    let mut frames = Vec::with_capacity(FRAMES);
    callproof::capture::read_file(&bench_capture(), |f| {
        if frames.len() < FRAMES {
            frames.push(Frame {
                link_type: f.link_type,
                ts: f.ts_ns.unwrap_or(0),
                data: f.data.to_vec(),
            });
        }
    })
    .expect("benchmark capture readable");
    frames
}

fn stages(c: &mut Criterion) {
    let frames = load();
    let mut group = c.benchmark_group("stages");
    group.sample_size(20);

    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new();
            let mut packets = 0u64;
            for f in &frames {
                if let Decoded::Packet(_) = decoder.decode(f.link_type, &f.data, f.ts) {
                    packets += 1;
                }
            }
            packets
        })
    });
    group.bench_function("flow-table", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new();
            let mut table = FlowTable::new(Limits::default());
            for (n, f) in frames.iter().enumerate() {
                if let Decoded::Packet(p) = decoder.decode(f.link_type, &f.data, f.ts) {
                    table.packet(n as u64 + 1, Some(f.ts), &p);
                }
            }
            table.finish().0.len()
        })
    });

    // UDP datagrams by flow (direction 0 is the first sender), as the flow table would hand
    // them to a flow's dissector
    let mut decoder = Decoder::new();
    let mut udp: HashMap<FlowKey, Vec<Datagram>> = HashMap::new();
    let mut hellos: Vec<Vec<u8>> = Vec::new();
    for f in &frames {
        if let Decoded::Packet(p) = decoder.decode(f.link_type, &f.data, f.ts) {
            match p.transport {
                Transport::Udp {
                    src_port,
                    dst_port,
                    payload,
                } => {
                    let (a, b) = (p.src.to_string(), p.dst.to_string());
                    let forward = (a.clone(), src_port, b.clone(), dst_port);
                    let backward = (b, dst_port, a, src_port);
                    if let Some(list) = udp.get_mut(&backward) {
                        list.push((1, src_port, dst_port, payload.to_vec()));
                    } else {
                        udp.entry(forward).or_default().push((
                            0,
                            src_port,
                            dst_port,
                            payload.to_vec(),
                        ));
                    }
                }
                // a ClientHello that fits one segment: record type 22, handshake type 1
                Transport::Tcp { payload, .. }
                    if payload.len() > 9 && payload[0] == 0x16 && payload[5] == 0x01 =>
                {
                    hellos.push(payload.to_vec());
                }
                _ => {}
            }
        }
    }
    let datagrams: usize = udp.values().map(Vec::len).sum();
    group.throughput(Throughput::Elements(datagrams as u64));
    group.bench_function("udp-demux", |b| {
        b.iter(|| {
            let mut classified = 0usize;
            for list in udp.values() {
                let mut d = UdpDissector::default();
                for (n, (dir, sp, dp, payload)) in list.iter().enumerate() {
                    d.datagram(*dir, n as u64, 0, *sp, *dp, payload);
                }
                classified += usize::from(!d.finish().protocols.is_empty());
            }
            classified
        })
    });

    group.throughput(Throughput::Elements(hellos.len() as u64));
    let mut certificates: Vec<Vec<u8>> = Vec::new();
    group.bench_function("tls-client-hello", |b| {
        b.iter(|| {
            let mut parsed = 0usize;
            for h in &hellos {
                if let Ok((_, record)) = parse_tls_plaintext(h) {
                    for m in &record.msg {
                        if let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = m {
                            let facts = hello::client_hello(0, ch.version.0, &ch.ciphers, ch.ext);
                            parsed += facts.ciphers.len();
                        }
                    }
                }
            }
            parsed
        })
    });

    // DER certificates: every Certificate message in single-segment server flights
    for f in &frames {
        if let Decoded::Packet(p) = decoder.decode(f.link_type, &f.data, f.ts)
            && let Transport::Tcp { payload, .. } = p.transport
            && payload.first() == Some(&0x16)
            && let Ok((_, record)) = parse_tls_plaintext(payload)
        {
            for m in &record.msg {
                if let TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)) = m {
                    certificates.extend(c.cert_chain.iter().map(|c| c.data.to_vec()));
                }
            }
        }
    }
    if !certificates.is_empty() {
        group.throughput(Throughput::Elements(certificates.len() as u64));
        group.bench_function("certificate", |b| {
            b.iter(|| {
                certificates
                    .iter()
                    .filter(|der| cert::parse(der).is_some())
                    .count()
            })
        });
    }
    eprintln!(
        "stages: {} frames, {} UDP flows with {datagrams} datagrams, {} ClientHellos, {} certificates",
        frames.len(),
        udp.len(),
        hellos.len(),
        certificates.len()
    );
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
