//! Reading inputs: every link type and container format in the shared corpus, hostile and
//! damaged files, and the command's errors and exit codes.

mod common;

use std::collections::BTreeMap;

use common::{analyze, capture, pcap_bytes, pcap_frames, shared, temp_copy, verdict_of};

/// Every capture in the shared corpus decodes: each link type present is decoded (none is
/// named unsupported), and each carries IP packets.
#[test]
fn every_shared_link_type_decodes() {
    let (code, stderr, v) = analyze(&[shared().join("captures")]);
    // The directory also holds .out/.log/key files: found by walking a directory, they are
    // skipped (listed in `skipped`), not errors; named on the command line they are errors.
    assert_eq!(code, 0, "{stderr}");
    let v = v.expect("a verdict for the readable captures");
    let provenance = v
        .skipped
        .iter()
        .find(|s| s.path.ends_with("PROVENANCE.md"))
        .expect("PROVENANCE.md skipped");
    assert!(provenance.reason.contains("not a pcap or pcapng capture"));
    let (code, stderr, _) = analyze(&[shared().join("captures/PROVENANCE.md")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("PROVENANCE.md: not a pcap or pcapng capture"));
    let mut ip_packets_by_link: BTreeMap<String, u64> = BTreeMap::new();
    let mut captures = 0;
    for input in v.inputs.iter().filter(|i| i.error.is_none()) {
        captures += 1;
        let decode = input.decode.as_ref().unwrap();
        for lt in &input.link_types {
            assert!(
                lt.decoded,
                "{}: link type {} not decoded",
                input.path, lt.name
            );
            *ip_packets_by_link.entry(lt.name.clone()).or_default() += decode.ip_packets;
        }
        assert_eq!(decode.unsupported_link_frames, 0, "{}", input.path);
        assert!(
            decode.ip_packets > 0,
            "{}: no IP packet decoded",
            input.path
        );
    }
    assert!(captures >= 150, "only {captures} captures read");
    let names: Vec<&str> = ip_packets_by_link.keys().map(String::as_str).collect();
    // The link types the corpus holds (PROVENANCE.md: ether, linux-sll, null, ppp, rawip, rawip4).
    assert_eq!(
        names,
        ["ETHERNET", "IPV4", "LINUX_SLL", "NULL", "PPP", "RAW"],
        "link types in the shared captures"
    );
    for (lt, n) in &ip_packets_by_link {
        assert!(*n > 0, "{lt}: no IP packets");
    }
}

/// Containers: pcapng saved as .pcap, gzip-compressed pcapng, nanosecond pcap.
#[test]
fn formats_come_from_the_magic_number() {
    // zoom.pcap is pcapng despite its name (PROVENANCE.md: pcapng/ether, 781 pkts)
    let v = verdict_of(&capture("ndpi/zoom.pcap"));
    assert_eq!(v.inputs[0].format.as_deref(), Some("pcapng"));
    assert_eq!(v.inputs[0].frames, 781);
    // gzip-compressed pcap (Wireshark tls-fragmented-handshakes.pcap.gz)
    let v = verdict_of(&capture("wireshark/tls-fragmented-handshakes.pcap.gz"));
    assert_eq!(v.inputs[0].compression.as_deref(), Some("gzip"));
    assert_eq!(v.inputs[0].frames, 589);
    // webex.pcap: classic pcap, 1110 packets (PROVENANCE.md)
    let v = verdict_of(&capture("ndpi/webex.pcap"));
    assert_eq!(v.inputs[0].format.as_deref(), Some("pcap"));
    assert_eq!(v.inputs[0].frames, 1110);
}

/// Decryption Secrets Blocks are found and kept (Wireshark tls12-dsb.pcapng holds two).
#[test]
fn decryption_secrets_blocks_are_counted() {
    let v = verdict_of(&capture("wireshark/tls12-dsb.pcapng"));
    assert_eq!(v.inputs[0].decryption_secrets_blocks, 2);
}

/// ClientHellos fragmented across many records and TCP segments (Wireshark's
/// tls-fragmented-handshakes capture: client side only, 1000 extensions) are reassembled.
#[test]
fn fragmented_handshakes_reassemble() {
    let v = verdict_of(&capture("wireshark/tls-fragmented-handshakes.pcap.gz"));
    assert!(v.flows.len() > 50);
    for f in &v.flows {
        let tls = f.tls.as_ref().expect("every flow is TLS");
        assert!(
            tls.client_hello_frame.is_some(),
            "flow {} lacks its ClientHello",
            f.id
        );
        assert!(!tls.offered_ciphers.is_empty());
        assert_eq!(tls.version, None, "no ServerHello in this capture");
    }
}

/// A certificate chain of many segments (nDPI's tls_verylong_certificate) is parsed whole.
#[test]
fn long_certificate_chain_spanning_segments_parses() {
    let v = verdict_of(&capture("ndpi/tls_verylong_certificate.pcap"));
    let tls = v.flows[0].tls.as_ref().unwrap();
    assert!(tls.certificates.len() >= 2, "{:?}", tls.certificates.len());
    assert!(
        tls.certificates[0].san.len() > 50,
        "the long SAN list is there"
    );
}

/// A capture cut in the middle of a record: the verdict covers what was readable and names
/// the damage with its frame number and byte offset.
#[test]
fn truncated_capture_yields_verdict_with_damage() {
    let original = std::fs::read(capture("zeek/tls1.2.pcap")).unwrap();
    // walk the pcap records (little-endian, 24-byte header) to the start of the last one
    let mut off = 24;
    let mut last = off;
    while off + 16 <= original.len() {
        last = off;
        off += 16 + u32::from_le_bytes(original[off + 8..off + 12].try_into().unwrap()) as usize;
    }
    let (_d, p) = temp_copy(&original[..last + 16 + 10], "cut.pcap");
    let v = verdict_of(&p);
    let input = &v.inputs[0];
    assert_eq!(input.frames, 21, "22 frames, the last one cut");
    let d = input
        .damage
        .iter()
        .find(|d| d.kind == "truncated-record")
        .expect("truncated-record damage");
    assert_eq!(d.frame, Some(22));
    assert_eq!(d.byte_offset, Some(last as u64));
    assert_eq!(v.flows.len(), 1);
    assert_eq!(
        v.flows[0].tls.as_ref().unwrap().version.as_deref(),
        Some("TLS 1.2")
    );
}

/// A corrupt record length in a pcapng stops reading there, with the damage stated.
#[test]
fn corrupt_block_length_is_damage_not_a_crash() {
    let mut bytes = std::fs::read(capture("ndpi/google_meet.pcapng")).unwrap();
    // Find the 5th Enhanced Packet Block and give it an absurd length.
    let mut off = 0;
    let mut epb = 0;
    while off + 8 <= bytes.len() {
        let t = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
        if t == 6 {
            epb += 1;
            if epb == 5 {
                bytes[off + 4..off + 8].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
                break;
            }
        }
        off += len;
    }
    assert_eq!(epb, 5);
    let (_d, p) = temp_copy(&bytes, "corrupt.pcapng");
    let v = verdict_of(&p);
    let input = &v.inputs[0];
    assert_eq!(input.frames, 4);
    assert!(!input.damage.is_empty(), "damage must be stated");
    assert!(input.damage.iter().all(|d| d.byte_offset.is_some()));
}

/// Random corruption of real captures never panics and always yields a verdict or a clean error.
#[test]
fn flipped_bytes_never_panic() {
    let sources = [
        "zeek/tls1.2.pcap",
        "ndpi/tls_verylong_certificate.pcap",
        "ndpi/zoom.pcap",
        "wireshark/tls-fragmented-handshakes.pcap.gz",
    ];
    let mut seed = 0x9E37_79B9u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let original = std::fs::read(capture(src)).unwrap();
        for round in 0..8 {
            let mut b = original.clone();
            // leave the file header mostly intact so parsing goes deep
            for _ in 0..(1 + round * 8) {
                let at = 24 + (next() as usize) % (b.len() - 24);
                b[at] ^= (next() as u8) | 1;
            }
            let p = dir.path().join(format!("mut-{i}-{round}.bin"));
            std::fs::write(&p, &b).unwrap();
            paths.push(p);
        }
    }
    let (code, stderr, v) = analyze(&paths);
    assert!(code == 0 || code == 2, "exit {code}: {stderr}");
    assert!(!stderr.contains("panicked"));
    let v = v.expect("verdict");
    assert_eq!(v.inputs.len(), paths.len());
}

#[test]
fn unreadable_inputs_give_one_line_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.pcap");
    std::fs::write(&text, b"this is not a capture\n").unwrap();
    let missing = dir.path().join("missing.pcap");
    for (p, needle) in [
        (&empty, "empty file"),
        (&text, "not a pcap or pcapng capture"),
        (&missing, "cannot open"),
    ] {
        let (code, stderr, v) = analyze(std::slice::from_ref(p));
        assert_eq!(code, 2, "{}", p.display());
        assert!(v.is_none(), "no verdict when no input was readable");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(
            lines[0].contains(&*p.to_string_lossy()) && lines[0].contains(needle),
            "{stderr}"
        );
    }
    // mixed: the readable capture is analysed, the bad one listed with its error, exit 2
    let (code, _, v) = analyze(&[capture("zeek/tls1.2.pcap"), text.clone()]);
    assert_eq!(code, 2);
    let v = v.unwrap();
    assert_eq!(v.inputs.len(), 2);
    assert!(v.inputs[1].error.as_deref().unwrap().contains("not a pcap"));
    assert_eq!(v.flows.len(), 1);
}

#[test]
fn usage_errors_exit_2() {
    let o = std::process::Command::new(common::bin())
        .args(["analyze"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = std::process::Command::new(common::bin())
        .args(["frobnicate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Every field the verdict promises for issue 2 is present on a real capture, and the input
/// is described (hash, size, times) so the verdict is evidence.
#[test]
fn verdict_describes_its_inputs() {
    let path = capture("zeek/tls1.2.pcap");
    let v = verdict_of(&path);
    assert_eq!(v.schema, "callproof.verdict/1");
    assert_eq!(v.tool.name, "callproof");
    let i = &v.inputs[0];
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(i.bytes, Some(bytes.len() as u64));
    let sha = i.sha256.as_deref().unwrap();
    assert_eq!(sha.len(), 64);
    // sha256sum of the shared file, as PROVENANCE.md lists its first 16 hex digits
    let provenance = std::fs::read_to_string(shared().join("captures/PROVENANCE.md")).unwrap();
    assert!(
        provenance.contains(&format!("| {} |", &sha[..16])),
        "hash not in PROVENANCE.md"
    );
    assert_eq!(
        i.first_timestamp.as_deref(),
        Some("2013-01-04T19:47:28.512314Z")
    );
    assert_eq!(v.endpoints.len(), 1);
    assert_eq!(&*v.endpoints[0].ip, "68.233.76.12");
    assert_eq!(v.endpoints[0].flows, vec![0]);
    let f = &v.flows[0];
    assert_eq!(f.first_frame, 1);
    assert_eq!(f.packets_client_to_server + f.packets_server_to_client, 22);
    assert_eq!(f.role_basis, "tcp-handshake");
}

/// Real frames from tls1.2.pcap (Zeek), as (seconds, microseconds, bytes).
fn real_frames() -> Vec<(u32, u32, Vec<u8>)> {
    pcap_frames(&capture("zeek/tls1.2.pcap"))
}

fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    v.extend_from_slice(&total.to_le_bytes());
    v
}

/// A little-endian pcapng Section Header Block.
fn pcapng_shb() -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    pcapng_block(0x0A0D_0D0A, &shb)
}

/// An Interface Description Block of `link_type` with if_tsresol = 9 (ns).
fn pcapng_idb_ns(link_type: u8) -> Vec<u8> {
    let mut idb = vec![link_type, 0, 0, 0, 0, 0, 4, 0];
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    pcapng_block(1, &idb)
}

/// An Enhanced Packet Block of `data` on interface `iface` at `ticks`.
fn pcapng_epb(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut epb = Vec::new();
    epb.extend_from_slice(&iface.to_le_bytes());
    epb.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(ticks as u32).to_le_bytes());
    epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
    epb.extend_from_slice(data);
    epb.resize(20 + data.len().div_ceil(4) * 4, 0);
    pcapng_block(6, &epb)
}

/// A pcapng with two interfaces of different link types and timestamp resolutions: the same
/// real frames once as Ethernet (µs) and once as raw IP (ns) decode to the same flow facts,
/// with the same timestamps.
#[test]
fn pcapng_with_two_interfaces_of_different_link_types() {
    let frames = real_frames();
    let mut file = pcapng_shb();
    // interface 0: Ethernet, default resolution (µs)
    file.extend(pcapng_block(1, &[1, 0, 0, 0, 0, 0, 4, 0]));
    // interface 1: raw IP (101), ns
    file.extend(pcapng_idb_ns(101));
    for (iface, (s, us, data)) in frames
        .iter()
        .map(|f| (0u32, f))
        .chain(frames.iter().map(|f| (1u32, f)))
    {
        let (payload, ticks): (&[u8], u64) = if iface == 0 {
            (data, u64::from(*s) * 1_000_000 + u64::from(*us))
        } else {
            (
                &data[14..],
                (u64::from(*s) * 1_000_000 + u64::from(*us)) * 1000,
            )
        };
        file.extend(pcapng_epb(iface, ticks, payload));
    }
    let (_d, p) = temp_copy(&file, "two-interfaces.pcapng");
    let v = verdict_of(&p);
    let input = &v.inputs[0];
    assert_eq!(input.format.as_deref(), Some("pcapng"));
    let names: Vec<&str> = input.link_types.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["ETHERNET", "RAW"]);
    assert_eq!(input.frames, 2 * frames.len() as u64);
    assert!(input.damage.is_empty(), "{:?}", input.damage);
    // Both copies land in the same 5-tuple; the second copy's handshake is a retransmission of
    // the first, so there is one flow with every packet counted twice.
    assert_eq!(v.flows.len(), 1);
    let f = &v.flows[0];
    assert_eq!(
        f.packets_client_to_server + f.packets_server_to_client,
        2 * frames.len() as u64
    );
    assert_eq!(
        f.tls.as_ref().unwrap().cipher.as_deref(),
        Some("TLS_RSA_WITH_RC4_128_MD5")
    );
    assert_eq!(
        input.first_timestamp.as_deref(),
        Some("2013-01-04T19:47:28.512314Z")
    );
    assert_eq!(
        input.last_timestamp.as_deref(),
        Some("2013-01-04T19:47:31.807191Z")
    );
}

/// pcapng timestamps are 64-bit ticks: the largest clamp to the end of i64 nanoseconds (the
/// year 2262). Timestamp arithmetic there (the idle sweep's next time, round trips) must
/// saturate, not overflow: found by `fuzz/` (`capture_file`), where a wrapped sweep time would
/// sweep the flow table on every later packet. End to end here, in process and through the
/// binary (a debug build panics without the fix; the release build wraps silently, so the
/// flow table's unit test is the one `cargo test --release` fails on).
#[test]
fn timestamps_at_the_end_of_time_are_analysed() {
    use callproof::analyze::{Options, analyze_reader};
    let frames = real_frames();
    let mut file = pcapng_shb();
    file.extend(pcapng_idb_ns(1));
    for (i, (_, _, data)) in frames.iter().enumerate() {
        // past i64::MAX ns, one second apart: every one clamps to the same instant
        let ticks = u64::MAX - (frames.len() - i) as u64 * 1_000_000_000;
        file.extend(pcapng_epb(0, ticks, data));
    }
    let a = analyze_reader(
        std::path::Path::new("end-of-time.pcapng"),
        &file[..],
        &Options::default(),
    )
    .expect("a readable capture");
    assert_eq!(a.input.frames, frames.len() as u64);
    assert_eq!(a.flows.len(), 1);
    let (_d, p) = temp_copy(&file, "end-of-time.pcapng");
    let v = verdict_of(&p);
    assert_eq!(v.flows.len(), 1);
    assert_eq!(
        v.flows[0].tls.as_ref().unwrap().cipher.as_deref(),
        Some("TLS_RSA_WITH_RC4_128_MD5")
    );
    assert!(
        v.inputs[0]
            .last_timestamp
            .as_deref()
            .is_some_and(|t| t.starts_with("2262-04-11T23:47:16")),
        "{:?}",
        v.inputs[0].last_timestamp
    );
}

/// A link type callproof does not decode is counted and named, not silently dropped.
#[test]
fn unsupported_link_type_is_named() {
    let frames = real_frames();
    let mut file = Vec::new();
    // classic pcap header with LINKTYPE_USER0 (147)
    file.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 147, 0, 0, 0]);
    for (s, us, data) in &frames[..3] {
        for x in [*s, *us, data.len() as u32, data.len() as u32] {
            file.extend_from_slice(&x.to_le_bytes());
        }
        file.extend_from_slice(data);
    }
    let (_d, p) = temp_copy(&file, "user0.pcap");
    let v = verdict_of(&p);
    let input = &v.inputs[0];
    assert_eq!(input.link_types[0].name, "LINKTYPE_147");
    assert!(!input.link_types[0].decoded);
    let d = input
        .damage
        .iter()
        .find(|d| d.kind == "unsupported-link-type")
        .expect("named as damage");
    assert_eq!((d.frame, d.count), (Some(1), 3));
    assert!(v.flows.is_empty());
}

/// Thousands of mutations of real captures through the library's reader entry point: every one
/// yields a summary or a clean error, never a panic (a deterministic, in-process fuzz pass).
#[test]
fn mutated_captures_in_process_never_panic() {
    use callproof::analyze::{Options, analyze_reader};
    let own = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name)
    };
    // shared captures, and our own that reach the newer paths: STUN/TURN and ChannelData over
    // TCP, WebSocket frames with permessage-deflate, SDP extmap and VP8, Google QUIC frames
    let sources = [
        capture("zeek/tls1.2.pcap"),
        capture("ndpi/google_meet.pcapng"),
        capture("zeek/ssl-v2.pcap"),
        capture("ndpi/quic_t51.pcap"),
        own("aiortc-turn-tcp-call.pcap"),
        own("http-signalling.pcap"),
        own("baresip-sip-vp8-audiolevel.pcap"),
    ];
    let mut next = common::xorshift64(0x2545_F491);
    let opts = Options::default();
    let mut analysed = 0;
    for src in &sources {
        let original = std::fs::read(src).unwrap();
        for round in 0..700 {
            let mut b = original.clone();
            match round % 4 {
                // flip a few bytes anywhere after the first 8
                0 | 1 => {
                    for _ in 0..1 + (next() % 6) {
                        let at = 8 + (next() as usize) % (b.len() - 8);
                        b[at] ^= next() as u8 | 1;
                    }
                }
                // truncate anywhere
                2 => b.truncate((next() as usize) % b.len()),
                // splice a random-length run of one value (lengths, counts)
                _ => {
                    let at = (next() as usize) % b.len();
                    let n = ((next() as usize) % 16).min(b.len() - at);
                    let v = next() as u8;
                    b[at..at + n].fill(v);
                }
            }
            if analyze_reader(src, &b[..], &opts).is_ok() {
                analysed += 1;
            }
        }
    }
    assert!(
        analysed > 2500,
        "most mutations still read as captures ({analysed})"
    );
}

/// Captures whose DTLS-SRTP media the key log opens, mutated: DTLS hellos, RTP headers and
/// SRTP tags that strangers' packets may carry reach the key export and the packet checks
/// (every round analysed with the key log): aiortc's DTLS 1.2 calls, and Firefox's DTLS 1.3
/// calls (AES-GCM, ChaCha20, and with an inner E2EE layer: Jitsi's, SFrame), whose encrypted handshake records
/// (masked record numbers, lengths, fragments) are opened too — half their rounds mutate the
/// first 6 KB, where the handshake is. Nothing
/// panics; some rounds still open their media and some see packets fail authentication, and
/// some DTLS 1.3 handshakes still open while others no longer authenticate, so the mutations
/// reached every outcome.
#[test]
fn mutated_dtls_srtp_with_its_key_log_never_panics() {
    use callproof::analyze::{Options, analyze_reader};
    use callproof::dissect::tls::KeylogOutcome;
    use callproof::dissect::tls::keylog::KeyLog;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    for name in [
        "aiortc-dtls-keylog",
        "firefox-dtls13-keylog",
        "firefox-dtls13-chacha20-keylog",
        "firefox-dtls13-frame-e2ee-keylog",
        "firefox-dtls13-frame-e2ee-rewritten-iv-keylog",
        "firefox-dtls13-sframe-keylog",
        "firefox-dtls13-sframe-lossy-keylog",
    ] {
        let src = dir.join(format!("{name}.pcap"));
        let keys = std::fs::read_to_string(dir.join(format!("{name}.keys"))).unwrap();
        let opts = Options {
            keylog: Some(std::sync::Arc::new(KeyLog::parse(&keys))),
            ..Options::default()
        };
        let original = std::fs::read(&src).unwrap();
        let mut next = common::xorshift64(0x5EED_5A17);
        let (mut opened, mut failed) = (0u64, 0u64);
        let (mut decrypted, mut undecryptable) = (0u64, 0u64);
        for round in 0..800 {
            let mut b = original.clone();
            let span = if name.starts_with("firefox") && round % 2 == 0 {
                6000.min(b.len() - 24)
            } else {
                b.len() - 24
            };
            match round % 3 {
                0 => {
                    for _ in 0..1 + (next() % 8) {
                        let at = 24 + (next() as usize) % span;
                        b[at] ^= next() as u8 | 1;
                    }
                }
                1 => {
                    let at = 24 + (next() as usize) % span;
                    let n = ((next() as usize) % 24).min(b.len() - at);
                    let v = next() as u8;
                    b[at..at + n].fill(v);
                }
                _ => b.truncate(24 + (next() as usize) % (b.len() - 24)),
            }
            let Ok(a) = analyze_reader(&src, &b[..], &opts) else {
                continue;
            };
            for f in a.flows.iter().filter_map(|f| f.udp.as_ref()) {
                if let Some(k) = f.srtp_keys.as_deref() {
                    opened += k.authenticated();
                    failed += k.failed();
                }
                match f.dtls.as_ref().and_then(|d| d.keylog) {
                    Some(KeylogOutcome::Decrypted) => decrypted += 1,
                    Some(KeylogOutcome::Undecryptable) => undecryptable += 1,
                    _ => {}
                }
            }
        }
        assert!(opened > 0 && failed > 0, "{name}: {opened} {failed}");
        if name.starts_with("firefox") {
            assert!(
                decrypted > 0 && undecryptable > 0,
                "{name}: {decrypted} {undecryptable}"
            );
        }
    }
}

/// Big-endian and nanosecond pcaps of the same frames give the same flows and TLS facts.
#[test]
fn pcap_byte_orders_and_precisions_agree() {
    let frames = real_frames();
    let mut seen = Vec::new();
    for (be, ns) in [(false, false), (true, false), (false, true), (true, true)] {
        let (_d, p) = temp_copy(&pcap_bytes(&frames, be, ns), "variant.pcap");
        let v = verdict_of(&p);
        let i = &v.inputs[0];
        assert_eq!(
            i.format.as_deref(),
            Some(if ns { "pcap-ns" } else { "pcap" })
        );
        let want_first = if ns {
            "2013-01-04T19:47:28.512314007Z"
        } else {
            "2013-01-04T19:47:28.512314Z"
        };
        assert_eq!(i.first_timestamp.as_deref(), Some(want_first));
        let f = &v.flows[0];
        seen.push((
            v.flows.len(),
            f.packets_client_to_server,
            f.bytes_server_to_client,
            f.tls.as_ref().unwrap().cipher.clone(),
            f.tls.as_ref().unwrap().certificates.len(),
        ));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

/// Split the IPv4 payload of an Ethernet frame into fragments of `chunk` bytes (a multiple of 8).
fn fragment_ipv4(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0F) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let payload = &ip[ihl..total];
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let end = (off + chunk).min(payload.len());
        let more = end < payload.len();
        let mut f = frame[..14].to_vec();
        let mut hdr = ip[..ihl].to_vec();
        hdr[2..4].copy_from_slice(&((ihl + end - off) as u16).to_be_bytes());
        let flags = (if more { 0x2000u16 } else { 0 }) | (off / 8) as u16;
        hdr[6..8].copy_from_slice(&flags.to_be_bytes());
        f.extend_from_slice(&hdr);
        f.extend_from_slice(&payload[off..end]);
        out.push(f);
        off = end;
    }
    out
}

/// The real TLS 1.2 session with every large packet sent as IPv4 fragments (last fragment
/// first): the same handshake facts come out, and the reassembly is counted.
#[test]
fn ip_fragments_of_a_real_session_reassemble() {
    let frames = real_frames();
    let mut fragmented = Vec::new();
    let mut expected_reassembled = 0;
    for (s, us, data) in &frames {
        if data.len() > 600 {
            expected_reassembled += 1;
            let mut parts = fragment_ipv4(data, 512);
            parts.rotate_right(1);
            for p in parts {
                fragmented.push((*s, *us, p));
            }
        } else {
            fragmented.push((*s, *us, data.clone()));
        }
    }
    assert!(expected_reassembled >= 3, "the server flight is large");
    let (_d, p) = temp_copy(&pcap_bytes(&fragmented, false, false), "fragmented.pcap");
    let v = verdict_of(&p);
    let d = v.inputs[0].decode.as_ref().unwrap();
    assert_eq!(d.ip_datagrams_reassembled, expected_reassembled);
    assert_eq!(d.ip_datagrams_abandoned, 0);
    let reference = verdict_of(&capture("zeek/tls1.2.pcap"));
    assert_eq!(v.flows.len(), 1);
    // Frame numbers differ (fragments are frames of their own); every other fact is the same.
    let without_frames = |t: &callproof::verdict::Tls| {
        let mut t = t.clone();
        t.client_hello_frame = None;
        t.server_hello_frame = None;
        t
    };
    let got = without_frames(v.flows[0].tls.as_ref().unwrap());
    let want = without_frames(reference.flows[0].tls.as_ref().unwrap());
    assert!(got == want, "TLS facts differ after fragmentation");
    assert_eq!(got.certificates.len(), 3);
    assert_eq!(
        v.flows[0].bytes_server_to_client,
        reference.flows[0].bytes_server_to_client
    );
}

/// A record larger than the initial 1 MiB read buffer (but plausible, 3 MiB) is read by growing
/// the buffer; the frames after it are read too.
#[test]
fn record_larger_than_the_read_buffer_is_read() {
    let mut frames = real_frames();
    let mut big = frames[0].2.clone();
    big.resize(3 << 20, 0);
    frames.insert(1, (frames[0].0, frames[0].1, big));
    let (_d, p) = temp_copy(&pcap_bytes(&frames, false, false), "big.pcap");
    let v = verdict_of(&p);
    assert_eq!(v.inputs[0].frames, frames.len() as u64);
    assert!(v.inputs[0].damage.is_empty(), "{:?}", v.inputs[0].damage);
}

/// Both ways of hashing a file (a hashing thread fed by the parser; inline, for batch jobs)
/// give the file's SHA-256 as computed independently, and the same frames.
#[test]
fn hashing_thread_and_inline_hashing_agree() {
    use sha2::Digest;
    for src in ["zeek/tls1.2.pcap", "ndpi/google_meet.pcapng"] {
        let path = capture(src);
        let bytes = std::fs::read(&path).unwrap();
        let want = hex::encode(sha2::Sha256::digest(&bytes));
        let (mut a, mut b) = (0u64, 0u64);
        let threaded = callproof::capture::read_file(&path, |_| a += 1).unwrap();
        let inline = callproof::capture::read_file_hashing_inline(&path, |_| b += 1).unwrap();
        assert_eq!(threaded.sha256, want, "{src}");
        assert_eq!(inline.sha256, want, "{src}");
        assert_eq!((a, threaded.bytes), (b, inline.bytes), "{src}");
        assert_eq!(threaded.bytes, bytes.len() as u64, "{src}");
    }
}

/// The two flags that bound memory on captures from strangers (README, Memory and limits) lose
/// nothing silently, on a real capture of 56 flows: `--max-flows 10` lists the same first ten
/// flows as an unbounded run and counts every packet of the others as `flow-limit` damage;
/// `--max-live-flows 5` closes flows early and splits them, but every packet stays in a listed
/// flow. Both say so in the evidence answer.
#[test]
fn flow_limits_are_stated_not_silent() {
    let path = capture("ndpi/whatsapp_login_call.pcap");
    let full = verdict_of(&path);
    let packets =
        |f: &callproof::verdict::Flow| f.packets_client_to_server + f.packets_server_to_client;
    let decode = |v: &callproof::verdict::Verdict| v.inputs[0].decode.clone().unwrap();
    assert!(full.flows.len() > 10, "{} flows", full.flows.len());
    assert!(full.inputs[0].damage.is_empty());
    let incomplete = |v: &callproof::verdict::Verdict| {
        v.findings
            .iter()
            .filter(|f| f.rule == "capture-incomplete")
            .map(|f| f.detail.clone())
            .collect::<String>()
    };

    let limited = common::verdict_with(&["--max-flows".as_ref(), "10".as_ref()], &path);
    assert_eq!(decode(&limited).flows, 10);
    let first: Vec<_> = full.flows.iter().filter(|f| f.id < 10).collect();
    assert_eq!(limited.flows.len(), 10);
    for (a, b) in first.iter().zip(limited.flows.iter()) {
        assert_eq!((a.id, &a.client, &a.server), (b.id, &b.client, &b.server));
        assert_eq!(packets(a), packets(b), "flow {}", a.id);
    }
    let mut servers: Vec<&str> = first.iter().map(|f| f.server.ip.as_str()).collect();
    servers.sort_unstable();
    servers.dedup();
    let listed: Vec<&str> = limited.endpoints.iter().map(|e| &*e.ip).collect();
    assert_eq!(listed, servers);
    let beyond: u64 = full.flows.iter().filter(|f| f.id >= 10).map(packets).sum();
    let damage = &limited.inputs[0].damage;
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!(
        (damage[0].kind.as_str(), damage[0].count),
        ("flow-limit", beyond)
    );
    assert_eq!(decode(&limited).untracked_packets, beyond);
    assert_eq!(
        decode(&limited).tcp_packets + decode(&limited).udp_packets,
        decode(&full).tcp_packets + decode(&full).udp_packets
    );
    let summary = limited.summary.as_ref().unwrap();
    assert_eq!(summary.evidence_quality.status, "warn");
    assert!(
        incomplete(&limited).contains(&format!(
            "{beyond} packet(s) of flows beyond the flow limit"
        )),
        "{}",
        incomplete(&limited)
    );

    let evicting = common::verdict_with(&["--max-live-flows".as_ref(), "5".as_ref()], &path);
    let evicted = decode(&evicting).flows_evicted;
    assert!(evicted > 0);
    assert!(evicting.flows.len() > full.flows.len());
    assert!(evicting.inputs[0].damage.is_empty());
    assert_eq!(
        evicting.flows.iter().map(packets).sum::<u64>(),
        full.flows.iter().map(packets).sum::<u64>()
    );
    assert_eq!(
        evicting.summary.as_ref().unwrap().evidence_quality.status,
        "warn"
    );
    assert!(
        incomplete(&evicting).contains(&format!(
            "{evicted} flow(s) closed early at the live-flow limit"
        )),
        "{}",
        incomplete(&evicting)
    );
}

/// A server's names are capped at 256 and the verdict says when some were left out: nDPI's
/// wa_voice.pcap, with its real DNS answer for WhatsApp's media server 31.13.86.51 (frame 61)
/// repeated under distinct names on the same resolver flow before the TLS flow to that server.
/// 200 more names are all listed; of 300 more, the earliest are kept and `names_truncated` is
/// set (and serialized). The DNS flow lists its first 64 answers and says it has more, yet
/// every answer names the server, also after the 256 datagrams a UDP flow is inspected for.
/// With WhatsApp added as a vendor, each name is a reason: the endpoint lists 16 and says so.
/// Live capture's flow table, which keeps its flows, names the server the same way.
#[test]
fn capped_lists_say_so() {
    struct Seen {
        names: Vec<String>,
        names_truncated: Option<serde_json::Value>,
        /// responses, answers listed, answers_truncated
        dns: (u64, usize, Option<serde_json::Value>),
        evidence: Vec<String>,
        evidence_truncated: Option<serde_json::Value>,
        /// The server's names from a table that keeps its flows (live capture's way).
        kept_names: Vec<String>,
    }
    let geo = callproof::enrich::GeoData::embedded();
    let embedded = callproof::vendor::Catalogue::embedded();
    let yes = Some(serde_json::Value::Bool(true));
    let frames = pcap_frames(&capture("ndpi/wa_voice.pcap"));
    let answer = 60;
    let first_label = 55..67; // after Ethernet, IPv4, UDP, the DNS header and a length byte
    assert_eq!(&frames[answer].2[first_label.clone()], b"media-mxp1-1");
    let copy_name = |i: usize| {
        format!(
            "{}{}dia-mxp1-1.cdn.whatsapp.net",
            (b'a' + (i / 26) as u8) as char,
            (b'a' + (i % 26) as u8) as char
        )
    };
    let (_catalogue_dir, catalogue) = temp_copy(
        br#"{"name": "test", "version": "1", "vendors": [{
            "id": "whatsapp", "name": "WhatsApp", "operator": "Meta Platforms, Inc.",
            "jurisdiction": "US", "domains": ["whatsapp.net"], "sources": ["test"]}]}"#,
        "vendors.json",
    );
    let server = |copies: usize| {
        let mut out = frames[..=answer].to_vec();
        for i in 0..copies {
            let (s, us, mut data) = frames[answer].clone();
            data[first_label.start..first_label.start + 2]
                .copy_from_slice(&copy_name(i).as_bytes()[..2]);
            data[40..42].copy_from_slice(&[0, 0]); // UDP checksum: none
            out.push((s, us, data));
        }
        out.extend_from_slice(&frames[answer + 1..]);
        let (_dir, path) = temp_copy(&pcap_bytes(&out, false, false), "names.pcap");
        let json = common::verdict_json_of(&path, &["--vendors".as_ref(), catalogue.as_os_str()]);
        common::assert_schema_valid(&json);
        let resolver = json["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["dns"]["answers"][0]["ip"] == "31.13.86.51")
            .unwrap();
        let e = json["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["ip"] == "31.13.86.51")
            .unwrap();
        let kept = callproof::analyze::analyze_file(&path, &Default::default()).unwrap();
        let mut builder = callproof::analyze::VerdictBuilder::new(Some(&geo), &embedded, false);
        builder.add(kept).unwrap();
        let kept_names = builder
            .finish()
            .unwrap()
            .endpoints
            .into_iter()
            .find(|e| &*e.ip == "31.13.86.51")
            .unwrap()
            .names;
        let texts = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect()
        };
        Seen {
            names: texts(&e["names"]),
            names_truncated: e.get("names_truncated").cloned(),
            dns: (
                resolver["dns"]["responses"].as_u64().unwrap(),
                resolver["dns"]["answers"].as_array().unwrap().len(),
                resolver["dns"].get("answers_truncated").cloned(),
            ),
            evidence: texts(&e["vendor"]["evidence"]),
            evidence_truncated: e["vendor"].get("evidence_truncated").cloned(),
            kept_names,
        }
    };
    let max_reasons = callproof::vendor::MAX_REASONS_PER_ENDPOINT;

    let original = server(0);
    assert!(
        original
            .names
            .contains(&"media-mxp1-1.cdn.whatsapp.net".to_string())
    );
    assert_eq!(original.names_truncated, None);
    assert_eq!((original.dns.1, original.dns.2.clone()), (1, None));
    assert!(
        original.evidence.len() < max_reasons,
        "{:?}",
        original.evidence
    );
    assert_eq!(original.evidence_truncated, None);
    let responses = original.dns.0;

    let more = server(200);
    assert_eq!(more.dns, (responses + 200, 64, yes.clone()));
    assert_eq!(more.names_truncated, None);
    assert_eq!(more.names.len(), original.names.len() + 200);
    assert!((0..200).all(|i| more.names.contains(&copy_name(i))));
    assert_eq!(more.evidence.len(), max_reasons);
    assert_eq!(more.evidence_truncated, yes);

    let too_many = server(300);
    assert_eq!(too_many.dns, (responses + 300, 64, yes.clone()));
    assert_eq!(too_many.names_truncated, yes);
    let names = &too_many.names;
    assert_eq!(names.len(), callproof::vendor::MAX_NAMES_PER_ADDRESS);
    assert!(original.names.iter().all(|n| names.contains(n)));
    let kept = callproof::vendor::MAX_NAMES_PER_ADDRESS - original.names.len();
    assert!((0..kept).all(|i| names.contains(&copy_name(i))));
    assert!((kept..300).all(|i| !names.contains(&copy_name(i))));
    assert_eq!(too_many.evidence_truncated, yes);
    // a table that keeps its flows names the server alike (it holds 256 answers beyond the
    // 64 listed per flow for the end; the releasing table hands them on as they come)
    for seen in [&original, &more, &too_many] {
        assert_eq!(seen.kept_names, seen.names);
    }
}

/// A server writes what its encrypted TLS 1.3 handshake holds, and a key log opens it: the
/// plaintext behind an authentic AEAD tag is as hostile as any packet. Each round opens the
/// server flights of the bundled OpenSSL capture with their secrets (from its key log), mutates
/// the plaintext — flipped bytes, runs of one value over lengths, a Certificate turned into a
/// CompressedCertificate with a zlib bomb or a length beyond the data —, seals it again under
/// the same key and nonce, and analyses the capture with the key log in process: never a
/// panic, and never `undecryptable` (which would mean the mutation did not reach the parsers
/// behind the AEAD).
#[test]
fn authentic_but_hostile_tls13_handshakes_never_panic() {
    use std::collections::HashMap;
    use std::io::Write;

    use callproof::analyze::{Options, VerdictBuilder, analyze_reader};
    use callproof::dissect::tls::keylog::{KeyLog, expand_label};
    use ring::{aead, hkdf};

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let path = dir.join("openssl-tls13-keylog.pcap");
    let keys = std::fs::read_to_string(dir.join("openssl-tls13-keylog.keys")).unwrap();
    let secret_of = |random: &[u8]| {
        keys.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3
                && f[0] == "SERVER_HANDSHAKE_TRAFFIC_SECRET"
                && hex::decode(f[1]).unwrap() == random)
                .then(|| hex::decode(f[2]).unwrap())
        })
    };
    let frames = pcap_frames(&path);
    // Ethernet, IPv4 and TCP as in this capture: (client-side port, TCP payload offset)
    let payload_at = |frame: &[u8], from_server: bool| {
        let ip = 14;
        let tcp = ip + usize::from(frame[ip] & 0x0F) * 4;
        let port = |at: usize| u16::from_be_bytes([frame[at], frame[at + 1]]);
        let data = tcp + usize::from(frame[tcp + 12] >> 4) * 4;
        let client_port = if from_server {
            port(tcp + 2)
        } else {
            port(tcp)
        };
        (client_port, data)
    };

    // Each server flight: its frame, and each encrypted record's header offset, inner
    // plaintext (content, type, padding), key and nonce.
    struct Sealed {
        header_at: usize,
        inner: Vec<u8>,
        nonce: [u8; 12],
    }
    struct Flight {
        frame: usize,
        key: aead::LessSafeKey,
        records: Vec<Sealed>,
    }
    let mut randoms: HashMap<u16, Vec<u8>> = HashMap::new();
    let mut flights = Vec::new();
    for (index, (_, _, frame)) in frames.iter().enumerate() {
        let (client_port, at) = payload_at(frame, false);
        let tls = &frame[at..];
        if tls.len() > 43 && tls[0] == 22 && tls[5] == 1 {
            randoms.insert(client_port, tls[11..43].to_vec());
            continue;
        }
        if tls.len() < 50 || tls[0] != 22 || tls[5] != 2 {
            continue;
        }
        let (client_port, at) = payload_at(frame, true);
        let tls = &frame[at..];
        let session_id = usize::from(tls[43]);
        let cipher = u16::from_be_bytes([tls[44 + session_id], tls[45 + session_id]]);
        // one session's secret is withheld from the key log (make-openssl-tls13-keylog.sh)
        let Some(secret) = secret_of(&randoms[&client_port]) else {
            continue;
        };
        let (algorithm, hash) = match cipher {
            0x1301 => (&aead::AES_128_GCM, hkdf::HKDF_SHA256),
            0x1302 => (&aead::AES_256_GCM, hkdf::HKDF_SHA384),
            0x1303 => (&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256),
            other => panic!("cipher suite {other:#06x}"),
        };
        let key = expand_label(hash, &secret, b"key", algorithm.key_len()).unwrap();
        let iv = expand_label(hash, &secret, b"iv", 12).unwrap();
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, &key).unwrap());
        let mut records = Vec::new();
        let mut offset = at;
        while offset + 5 <= frame.len() {
            let length = usize::from(u16::from_be_bytes([frame[offset + 3], frame[offset + 4]]));
            if frame[offset] == 23 {
                let mut nonce: [u8; 12] = iv.clone().try_into().unwrap();
                for (n, s) in nonce[4..]
                    .iter_mut()
                    .zip((records.len() as u64).to_be_bytes())
                {
                    *n ^= s;
                }
                let mut body = frame[offset + 5..offset + 5 + length].to_vec();
                let header = &frame[offset..offset + 5];
                let inner = key
                    .open_in_place(
                        aead::Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(header),
                        &mut body,
                    )
                    .expect("the key log's secret opens the server's handshake")
                    .to_vec();
                records.push(Sealed {
                    header_at: offset,
                    inner,
                    nonce,
                });
            }
            offset += 5 + length;
        }
        flights.push(Flight {
            frame: index,
            key,
            records,
        });
    }
    assert_eq!(flights.len(), 3, "three TLS 1.3 sessions in the key log");
    assert!(
        flights.iter().all(|f| f.records.len() == 4),
        "EE, Certificate, CV, Finished"
    );

    // a zlib stream of 1 MiB of zeros, for a certificate declared far shorter
    let bomb = {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0; 1 << 20]).unwrap();
        z.finish().unwrap()
    };
    let mut next = common::xorshift64(0x9E37_79B9_7F4A_7C15);
    let catalogue = callproof::vendor::Catalogue::embedded();
    let opts = Options {
        keylog: Some(std::sync::Arc::new(KeyLog::parse(&keys))),
        ..Options::default()
    };
    let expected: HashMap<String, String> =
        std::fs::read_to_string(dir.join("openssl-tls13-keylog.expected"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
    let (leaf, root) = (&expected["leaf.sha256"], &expected["root.sha256"]);
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..600 {
        let mut mutated = frames.clone();
        for flight in &flights {
            let frame = &mut mutated[flight.frame].2;
            // the Certificate is the second record; the other mutations hit any record
            let pick = if round % 4 == 3 {
                1
            } else {
                (next() as usize) % flight.records.len()
            };
            for (i, record) in flight.records.iter().enumerate() {
                let mut inner = record.inner.clone();
                if i == pick {
                    let n = inner.len();
                    match round % 4 {
                        0 | 1 => {
                            for _ in 0..1 + next() % 6 {
                                inner[(next() as usize) % n] ^= next() as u8 | 1;
                            }
                        }
                        2 => {
                            let at = (next() as usize) % n;
                            let run = ((next() as usize) % 16).min(n - at);
                            inner[at..at + run].fill(next() as u8);
                        }
                        // CompressedCertificate (RFC 8879) in the Certificate's place, the
                        // rest of the record zero padding after the content type
                        _ => {
                            let body_room = n - 4 - 8 - 1;
                            let compressed: Vec<u8> =
                                if next().is_multiple_of(2) && bomb.len() <= body_room {
                                    bomb.clone()
                                } else {
                                    (0..(next() as usize) % body_room)
                                        .map(|_| next() as u8)
                                        .collect()
                                };
                            let declared = match next() % 3 {
                                0 => 0xFF_FFFF,
                                1 => (next() as usize) % 4096,
                                _ => 1 << 20,
                            };
                            let algorithm = 1 + (next() % 3) as u16;
                            let claimed = if next().is_multiple_of(4) {
                                0xFF_FFFF
                            } else {
                                compressed.len()
                            };
                            let mut message = vec![25];
                            let body_len = 8 + compressed.len();
                            message.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
                            message.extend_from_slice(&algorithm.to_be_bytes());
                            message.extend_from_slice(&(declared as u32).to_be_bytes()[1..]);
                            message.extend_from_slice(&(claimed as u32).to_be_bytes()[1..]);
                            message.extend_from_slice(&compressed);
                            message.push(22);
                            message.resize(n, 0);
                            inner = message;
                        }
                    }
                }
                let header: [u8; 5] = frame[record.header_at..record.header_at + 5]
                    .try_into()
                    .unwrap();
                let body = record.header_at + 5;
                let tag = flight
                    .key
                    .seal_in_place_separate_tag(
                        aead::Nonce::assume_unique_for_key(record.nonce),
                        aead::Aad::from(header),
                        &mut inner,
                    )
                    .unwrap();
                frame[body..body + inner.len()].copy_from_slice(&inner);
                frame[body + inner.len()..body + inner.len() + 16].copy_from_slice(tag.as_ref());
            }
        }
        let bytes = pcap_bytes(&mutated, false, false);
        let analysis = analyze_reader(&path, &bytes[..], &opts).expect("the frames are intact");
        let mut builder = VerdictBuilder::new(None, &catalogue, false);
        builder.add(analysis).unwrap();
        for f in builder.finish().unwrap().flows.iter() {
            let tls = f.tls.as_ref().unwrap();
            let state = tls.keylog.clone().unwrap_or_default();
            if state == "decrypted" {
                let chain: Vec<&str> = tls.certificates.iter().map(|c| c.sha256.as_str()).collect();
                if chain != [leaf.as_str(), root.as_str()] {
                    *states.entry("decrypted, another chain".into()).or_default() += 1;
                }
            }
            *states.entry(state).or_default() += 1;
        }
    }
    assert_eq!(states.get("undecryptable"), None, "{states:?}");
    // flipped certificate bytes reach the X.509 parser: some chains differ or are cut short
    assert!(
        states
            .get("decrypted, another chain")
            .is_some_and(|&n| n > 20),
        "{states:?}"
    );
    assert!(
        states.get("decrypted").is_some_and(|&n| n > 600),
        "{states:?}"
    );
    assert!(states.contains_key("certificate-unread"), "{states:?}");
}

/// The same for QUIC: the server's Handshake packets, opened with the capture's own key log
/// (its Decryption Secrets Blocks), hold CRYPTO frames whose offsets, lengths and contents the
/// server chose. Each round removes header protection (RFC 9001 §5.4), opens each server
/// Handshake packet, mutates its frames, seals it again and puts header protection back;
/// the capture is analysed with the key log in process. Two captures: Wireshark's
/// quic-with-secrets (QUIC v1, AES-128-GCM, IPv6) and quic-fragmented-handshakes (draft 29,
/// ChaCha20-Poly1305, a certificate in many CRYPTO frames).
#[test]
fn authentic_but_hostile_quic_handshakes_never_panic() {
    use callproof::analyze::{Options, VerdictBuilder, analyze_reader};
    use callproof::dissect::tls::keylog::{KeyLog, expand_label};
    use ring::aead::{self, quic};
    use ring::hkdf;

    fn varint(b: &[u8], at: usize) -> (u64, usize) {
        let len = 1usize << (b[at] >> 6);
        let mut v = u64::from(b[at] & 0x3F);
        for &x in &b[at + 1..at + len] {
            v = (v << 8) | u64::from(x);
        }
        (v, len)
    }
    // the UDP payload of an Ethernet frame with IPv4 or IPv6: (source port, offset)
    fn udp_payload(frame: &[u8]) -> Option<(u16, usize)> {
        let udp = match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 if frame[14 + 9] == 17 => 14 + usize::from(frame[14] & 0x0F) * 4,
            0x86DD if frame[14 + 6] == 17 => 14 + 40,
            _ => return None,
        };
        Some((u16::from_be_bytes([frame[udp], frame[udp + 1]]), udp + 8))
    }
    struct Sealed {
        frame: usize,
        start: usize,
        pn_at: usize,
        end: usize,
        first: u8,
        pn_len: usize,
        nonce: [u8; 12],
        plain: Vec<u8>,
        key: std::sync::Arc<(aead::LessSafeKey, quic::HeaderProtectionKey)>,
    }
    type Suite = (
        &'static aead::Algorithm,
        &'static quic::Algorithm,
        hkdf::Algorithm,
    );
    let suites: [Suite; 3] = [
        (&aead::AES_128_GCM, &quic::AES_128, hkdf::HKDF_SHA256),
        (&aead::AES_256_GCM, &quic::AES_256, hkdf::HKDF_SHA384),
        (&aead::CHACHA20_POLY1305, &quic::CHACHA20, hkdf::HKDF_SHA256),
    ];

    let catalogue = callproof::vendor::Catalogue::embedded();
    let mut next = common::xorshift64(0xD1B5_4A32_D192_ED03);
    for name in [
        "wireshark/quic-with-secrets.pcapng",
        "wireshark/quic-fragmented-handshakes.pcapng.gz",
    ] {
        let path = capture(name);
        let mut keys = String::new();
        let frames = {
            let mut frames = Vec::new();
            let summary = callproof::capture::read_file(&path, |f| {
                let us = f.ts_ns.unwrap_or(0) / 1000;
                frames.push((
                    (us / 1_000_000) as u32,
                    (us % 1_000_000) as u32,
                    f.data.to_vec(),
                ));
            })
            .unwrap();
            for block in &summary.secrets {
                keys.push_str(&String::from_utf8_lossy(&block.data));
            }
            frames
        };
        let secrets: Vec<Vec<u8>> = keys
            .lines()
            .filter_map(|l| l.strip_prefix("SERVER_HANDSHAKE_TRAFFIC_SECRET "))
            .map(|rest| hex::decode(rest.split_whitespace().nth(1).unwrap()).unwrap())
            .collect();
        assert!(
            !secrets.is_empty(),
            "{name}: the capture carries its key log"
        );
        // each secret's keys under each suite, made once
        let mut keyed = Vec::new();
        for secret in &secrets {
            for (algorithm, hp, hash) in suites {
                let key = expand_label(hash, secret, b"quic key", algorithm.key_len()).unwrap();
                let iv = expand_label(hash, secret, b"quic iv", 12).unwrap();
                let hp_key = expand_label(hash, secret, b"quic hp", hp.key_len()).unwrap();
                keyed.push((
                    std::sync::Arc::new((
                        aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, &key).unwrap()),
                        quic::HeaderProtectionKey::new(hp, &hp_key).unwrap(),
                    )),
                    <[u8; 12]>::try_from(iv).unwrap(),
                ));
            }
        }

        // every server Handshake packet, opened
        let mut sealed = Vec::new();
        for (index, (_, _, frame)) in frames.iter().enumerate() {
            let Some((443, mut p)) = udp_payload(frame) else {
                continue;
            };
            while p + 7 < frame.len() && frame[p] & 0x80 != 0 {
                let packet_type = (frame[p] >> 4) & 3;
                let mut at = p + 5;
                at += 1 + usize::from(frame[at]); // destination connection id
                at += 1 + usize::from(frame[at]); // source connection id
                if packet_type == 0 {
                    let (token, n) = varint(frame, at);
                    at += n + token as usize;
                }
                let (length, n) = varint(frame, at);
                let pn_at = at + n;
                let end = pn_at + length as usize;
                if packet_type == 2 {
                    let sample: [u8; 16] = frame[pn_at + 4..pn_at + 20].try_into().unwrap();
                    let opened = keyed.iter().find_map(|(key, iv)| {
                        let mask = key.1.new_mask(&sample).ok()?;
                        let first = frame[p] ^ (mask[0] & 0x0F);
                        let pn_len = usize::from(first & 3) + 1;
                        let mut header = frame[p..pn_at + pn_len].to_vec();
                        header[0] = first;
                        let mut pn = 0u64;
                        for i in 0..pn_len {
                            header[pn_at - p + i] ^= mask[1 + i];
                            pn = (pn << 8) | u64::from(header[pn_at - p + i]);
                        }
                        let mut nonce = *iv;
                        for (x, y) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
                            *x ^= y;
                        }
                        let mut body = frame[pn_at + pn_len..end].to_vec();
                        let plain = key
                            .0
                            .open_in_place(
                                aead::Nonce::assume_unique_for_key(nonce),
                                aead::Aad::from(&header),
                                &mut body,
                            )
                            .ok()?
                            .to_vec();
                        Some(Sealed {
                            frame: index,
                            start: p,
                            pn_at,
                            end,
                            first,
                            pn_len,
                            nonce,
                            plain,
                            key: key.clone(),
                        })
                    });
                    sealed.push(opened.expect("the capture's key log opens its Handshake packets"));
                }
                p = end;
            }
        }
        assert!(
            sealed.len() >= 2,
            "{name}: {} Handshake packets",
            sealed.len()
        );

        let opts = Options {
            keylog: Some(std::sync::Arc::new(KeyLog::parse(&keys))),
            ..Options::default()
        };
        // each flow's state and certificate chain
        let facts = |bytes: &[u8]| -> Vec<(String, Vec<String>)> {
            let analysis = analyze_reader(&path, bytes, &opts).expect("the frames are intact");
            let mut builder = VerdictBuilder::new(None, &catalogue, false);
            builder.add(analysis).unwrap();
            let v = builder.finish().unwrap();
            v.flows
                .iter()
                .filter_map(|f| f.tls.as_ref())
                .filter_map(|t| {
                    let chain = t.certificates.iter().map(|c| c.sha256.clone()).collect();
                    Some((t.keylog.clone()?, chain))
                })
                .collect()
        };
        let unmutated = facts(&pcap_bytes(&frames, false, false));
        assert!(
            unmutated
                .iter()
                .all(|(state, chain)| state == "decrypted" && !chain.is_empty()),
            "{name}: {unmutated:?}"
        );
        let mut states: BTreeMap<String, usize> = BTreeMap::new();
        for round in 0..400 {
            let mut mutated = frames.clone();
            let pick = (next() as usize) % sealed.len();
            for (i, s) in sealed.iter().enumerate() {
                let mut plain = s.plain.clone();
                if i == pick || round % 5 == 4 {
                    let n = plain.len();
                    if round % 2 == 0 {
                        for _ in 0..1 + next() % 4 {
                            plain[(next() as usize) % n] ^= next() as u8 | 1;
                        }
                    } else {
                        let at = (next() as usize) % n;
                        let run = ((next() as usize) % 12).min(n - at);
                        plain[at..at + run].fill(next() as u8);
                    }
                }
                let frame = &mut mutated[s.frame].2;
                let mut header = frame[s.start..s.pn_at + s.pn_len].to_vec();
                header[0] = s.first;
                let pn_in_header = s.pn_at - s.start;
                // the packet number in clear (the stored bytes are still masked)
                let original = &frames[s.frame].2;
                let sample: [u8; 16] = original[s.pn_at + 4..s.pn_at + 20].try_into().unwrap();
                let old_mask = s.key.1.new_mask(&sample).unwrap();
                for i in 0..s.pn_len {
                    header[pn_in_header + i] = original[s.pn_at + i] ^ old_mask[1 + i];
                }
                let tag = s
                    .key
                    .0
                    .seal_in_place_separate_tag(
                        aead::Nonce::assume_unique_for_key(s.nonce),
                        aead::Aad::from(&header),
                        &mut plain,
                    )
                    .unwrap();
                let body = s.pn_at + s.pn_len;
                frame[body..body + plain.len()].copy_from_slice(&plain);
                frame[body + plain.len()..s.end].copy_from_slice(tag.as_ref());
                let sample: [u8; 16] = frame[s.pn_at + 4..s.pn_at + 20].try_into().unwrap();
                let mask = s.key.1.new_mask(&sample).unwrap();
                frame[s.start] = s.first ^ (mask[0] & 0x0F);
                for i in 0..s.pn_len {
                    frame[s.pn_at + i] = header[pn_in_header + i] ^ mask[1 + i];
                }
            }
            for (state, chain) in facts(&pcap_bytes(&mutated, false, false)) {
                if state == "decrypted" && !unmutated.iter().any(|(_, c)| *c == chain) {
                    *states.entry("decrypted, another chain".into()).or_default() += 1;
                }
                *states.entry(state).or_default() += 1;
            }
        }
        eprintln!("{name}: {states:?}");
        assert_eq!(states.get("undecryptable"), None, "{name}: {states:?}");
        assert!(
            states.get("decrypted").is_some_and(|&n| n > 100),
            "{name}: {states:?}"
        );
        // the mutations reach the CRYPTO stream and the certificate parser behind it
        assert!(
            states
                .get("decrypted, another chain")
                .is_some_and(|&n| n > 10),
            "{name}: {states:?}"
        );
    }
}
