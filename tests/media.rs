//! UDP media on real captures (issue 3, first increment): the one-port demultiplexer's labels,
//! DTLS handshake facts with use_srtp, STUN, RTP streams, DNS names. Expected values come from
//! the peers' stated results (PROVENANCE.md, Zeek baselines, nDPI .out files) or the issue text.

mod common;

use common::{capture, flow, verdict_of};
use std::path::{Path, PathBuf};

#[test]
fn dtls_versions_and_ciphers_agree_with_zeek() {
    // scripts.base.protocols.ssl.dtls: ssl.log and ssl1_2.log; dtls-13: ssl-all.log
    for (cap, client, server, version, cipher) in [
        (
            "zeek/dtls1_0.pcap",
            ("192.168.6.86", 63721),
            ("104.236.167.107", 4433),
            "DTLS 1.0",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        ),
        (
            "zeek/dtls1_2.pcap",
            ("192.168.17.58", 60934),
            ("165.227.57.17", 4400),
            "DTLS 1.2",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ),
        (
            "zeek/dtls13-wolfssl.pcap",
            ("10.168.36.147", 33714),
            ("10.168.36.144", 11111),
            "DTLS 1.3",
            "TLS_AES_128_GCM_SHA256",
        ),
    ] {
        let v = verdict_of(&capture(cap));
        let f = flow(&v, "udp", client, server);
        assert!(
            f.protocols.iter().any(|p| p == "dtls"),
            "{cap}: {:?}",
            f.protocols
        );
        let d = f
            .dtls
            .as_ref()
            .unwrap_or_else(|| panic!("{cap}: no dtls facts"));
        assert_eq!(d.version.as_deref(), Some(version), "{cap}");
        assert_eq!(d.cipher.as_deref(), Some(cipher), "{cap}");
        assert_eq!(
            (f.client.ip.as_str(), f.client.port),
            client,
            "{cap}: DTLS client"
        );
    }
}

/// nDPI stun_zoom.pcapng: Zoom web client, STUN + DTLS to Zoom on 8801, DTLSv1.2,
/// TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, certificate O=Zoom Video Communications, Inc.
#[test]
fn zoom_webrtc_stun_and_dtls() {
    let v = verdict_of(&capture("ndpi/stun_zoom.pcapng"));
    let f = flow(
        &v,
        "udp",
        ("192.168.43.169", 48854),
        ("134.224.90.111", 8801),
    );
    assert_eq!(f.protocols, vec!["dtls", "stun"]);
    let d = f.dtls.as_ref().unwrap();
    assert_eq!(d.version.as_deref(), Some("DTLS 1.2"));
    assert_eq!(
        d.cipher.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    );
    assert!(
        d.certificates[0]
            .subject
            .contains("O=Zoom Video Communications\\, Inc.")
    );
    let s = f.stun.as_ref().unwrap();
    assert_eq!(s.methods, vec!["Binding"]);
    assert!(!s.mapped_addresses.is_empty());
}

/// nDPI stun_dtls_rtp.pcapng (Google Meet-like WebRTC): STUN, DTLS with use_srtp, media.
/// The DTLS-SRTP profile negotiated in the ServerHello keys the RTP on the same flow, so the
/// verdict labels it srtp/srtcp rather than rtp.
#[test]
fn webrtc_dtls_srtp_flow() {
    let v = verdict_of(&capture("ndpi/stun_dtls_rtp.pcapng"));
    let f = flow(
        &v,
        "udp",
        ("192.168.12.156", 37967),
        ("142.250.82.76", 19305),
    );
    assert_eq!(f.protocols, vec!["dtls", "stun", "srtp", "srtcp"]);
    let d = f.dtls.as_ref().unwrap();
    assert_eq!(d.srtp_profile.as_deref(), Some("SRTP_AEAD_AES_256_GCM"));
    assert!(d.srtp_profiles_offered.len() >= 2);
    let rtp = f.rtp.as_ref().unwrap();
    assert!(!rtp.streams.is_empty());
    for s in &rtp.streams {
        assert_eq!(s.encrypted, Some(true));
        assert!(
            s.evidence[0].contains("SRTP_AEAD_AES_256_GCM"),
            "{:?}",
            s.evidence
        );
    }
    assert_eq!(f.encryption.state, "encrypted");
    let protection = f.encryption.protection.as_deref().unwrap();
    assert!(
        protection.ends_with("+ SRTP_AEAD_AES_256_GCM"),
        "{protection}"
    );
}

/// Wireshark's sip-rtp.pcapng: SIP signalling and one plaintext G.711 stream, SSRC 0xd2bd4e3e,
/// 548 packets (as the media issue states).
#[test]
fn sip_and_g711_stream() {
    let v = verdict_of(&capture("wireshark/sip-rtp.pcapng"));
    assert!(
        v.flows
            .iter()
            .any(|f| f.protocols.iter().any(|p| p == "sip"))
    );
    let streams: Vec<_> = v
        .flows
        .iter()
        .filter_map(|f| f.rtp.as_ref())
        .flat_map(|r| &r.streams)
        .collect();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].ssrc, "0xd2bd4e3e");
    assert_eq!(streams[0].payload_type, 8);
    assert_eq!(streams[0].packets, 548);
    // The clear SDP negotiated plain RTP/AVP for it: plaintext media, and the SIP itself.
    assert_eq!(streams[0].encrypted, Some(false));
    assert!(
        streams[0].evidence[0].contains("RTP/AVP"),
        "{:?}",
        streams[0].evidence
    );
    let entropy = streams[0].payload_entropy.unwrap();
    assert!(entropy < 7.9, "G.711 is not uniform: {entropy}");
    let media_flow = v.flows.iter().find(|f| f.rtp.is_some()).unwrap();
    assert_eq!(media_flow.encryption.state, "plaintext");
    let sip = v.flows.iter().find_map(|f| f.sip.as_ref()).unwrap();
    assert!(sip.methods.iter().any(|m| m == "INVITE"));
    assert!(
        sip.media
            .iter()
            .all(|m| m.proto == "RTP/AVP" && !m.crypto_in_clear)
    );
    for f in v.flows.iter().filter(|f| f.protocols == ["sip"]) {
        assert_eq!(f.encryption.state, "plaintext");
    }
}

/// DNS answers in the capture name the endpoints (nDPI zoom.pcap: DNS.Zoom flows to 192.168.1.1).
#[test]
fn dns_answers_name_endpoints() {
    let v = verdict_of(&capture("ndpi/zoom.pcap"));
    let dns_flows = v
        .flows
        .iter()
        .filter(|f| f.protocols.iter().any(|p| p == "dns"))
        .count();
    assert!(dns_flows >= 6, "{dns_flows}");
    let named: Vec<_> = v
        .endpoints
        .iter()
        .filter(|e| e.names.iter().any(|n| n.ends_with("zoom.us")))
        .collect();
    assert!(
        !named.is_empty(),
        "Zoom servers named from DNS answers or SNI"
    );
}

/// The disagreement with nDPI on dtls_certificate_fragments.pcap is nDPI's: the server's
/// ServerHello (frame 4, UDP 44443 → 39347) carries server_version 0xFEFF, DTLS 1.0, while the
/// client offered 0xFEFD. nDPI prints "DTLSv1.2" for the flow.
#[test]
fn ndpi_dtls_version_disagreement_is_explained() {
    let path = capture("ndpi/dtls_certificate_fragments.pcap");
    let v = verdict_of(&path);
    let f = flow(
        &v,
        "udp",
        ("10.186.198.149", 39347),
        ("35.210.59.134", 44443),
    );
    let d = f.dtls.as_ref().unwrap();
    assert_eq!(d.version.as_deref(), Some("DTLS 1.0"));
    assert_eq!(d.offered_versions, vec!["DTLS 1.2"]);
    // The bytes themselves: the ServerHello record starts 16 fe ff … 02 …, its body fe ff.
    let bytes = std::fs::read(&path).unwrap();
    let sh = bytes
        .windows(27)
        .position(|w| w[0] == 0x16 && w[1..3] == [0xFE, 0xFF] && w[13] == 0x02)
        .expect("ServerHello record in the file");
    assert_eq!(&bytes[sh + 25..sh + 27], &[0xFE, 0xFF]);
}

/// QUIC Initial packets decrypted with rustls-derived keys: the TLS handshake inside matches
/// Zeek's ssl.log (quic-go interop traces, including a Retry; curl HTTP/3; QUIC v2) and nDPI
/// (google_meet.pcapng: meet.google.com).
#[test]
fn quic_initials_reveal_the_tls_handshake() {
    for (cap, client, server, sni) in [
        (
            "zeek/quic-go_handshake.pcap",
            ("193.167.0.100", 40084),
            ("193.167.100.100", 443),
            Some("server4:443"),
        ),
        (
            "zeek/quic-go_retry.pcap",
            ("193.167.0.100", 42834),
            ("193.167.100.100", 443),
            Some("server4:443"),
        ),
        (
            "zeek/curl-8.1.2-dev-http3-www-google-de.pcap",
            ("172.17.0.2", 34347),
            ("64.233.166.94", 443),
            Some("www.google.de"),
        ),
        (
            "zeek/quicv2-http3-443.pcap",
            ("127.0.0.1", 50841),
            ("127.0.0.1", 443),
            None,
        ),
    ] {
        let v = verdict_of(&capture(cap));
        let f = flow(&v, "udp", client, server);
        assert!(f.protocols.iter().any(|p| p == "quic"), "{cap}");
        let tls = f
            .tls
            .as_ref()
            .unwrap_or_else(|| panic!("{cap}: no TLS from the Initials"));
        assert_eq!(tls.version.as_deref(), Some("TLS 1.3"), "{cap}");
        assert_eq!(
            tls.cipher.as_deref(),
            Some("TLS_AES_128_GCM_SHA256"),
            "{cap}"
        );
        assert_eq!(tls.sni.as_deref(), sni, "{cap}");
        assert_eq!(f.quic.as_ref().unwrap().sni.as_deref(), sni, "{cap}");
    }
    let v = verdict_of(&capture("ndpi/google_meet.pcapng"));
    let f = flow(
        &v,
        "udp",
        ("192.168.88.231", 59369),
        ("173.194.73.101", 443),
    );
    assert_eq!(
        f.quic.as_ref().unwrap().sni.as_deref(),
        Some("meet.google.com")
    );
}

/// Google's T050/T051: Initial keys from Google's own salts (proven by the AEAD tag), the TLS
/// handshake in Google QUIC's frame encoding (an ACK frame before the ServerHello's CRYPTO frame).
/// SNI as nDPI states it; ALPN and the selected cipher as tshark reads them from the same files.
#[test]
fn google_quic_t050_t051_initials_are_decrypted() {
    for (cap, version, sni, alpn, cipher) in [
        (
            "ndpi/quic_t50.pcap",
            "T050",
            "fonts.googleapis.com",
            "h3-T050",
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
        (
            "ndpi/quic_t51.pcap",
            "T051",
            "www.google.com",
            "h3-T051",
            "TLS_AES_128_GCM_SHA256",
        ),
    ] {
        let v = verdict_of(&capture(cap));
        assert_eq!(v.flows.len(), 1, "{cap}");
        let f = &v.flows[0];
        let q = f.quic.as_ref().unwrap();
        assert_eq!(q.version.as_deref(), Some(version), "{cap}");
        assert_eq!(q.sni.as_deref(), Some(sni), "{cap}");
        assert_eq!(q.alpn, vec![alpn.to_string()], "{cap}");
        let tls = f.tls.as_ref().unwrap();
        assert_eq!(tls.version.as_deref(), Some("TLS 1.3"), "{cap}");
        assert_eq!(tls.cipher.as_deref(), Some(cipher), "{cap}");
        assert_eq!(f.encryption.state, "encrypted", "{cap}");
    }
}

/// Wireshark's quic-fragmented-handshakes: ClientHellos split over several Initial packets,
/// out of order, and a HelloRetryRequest. 16 of the 17 connections send an SNI; the one on port
/// 4443 sends a 1,574-byte ClientHello (two Initials, received in reverse order) without one.
#[test]
fn quic_crypto_frames_reassemble() {
    let v = verdict_of(&capture("wireshark/quic-fragmented-handshakes.pcapng.gz"));
    assert_eq!(v.flows.len(), 17);
    let with_sni = v
        .flows
        .iter()
        .filter(|f| f.quic.as_ref().is_some_and(|q| q.sni.is_some()))
        .count();
    assert_eq!(with_sni, 16);
    let split = v.flows.iter().find(|f| f.server.port == 4443).unwrap();
    let tls = split.tls.as_ref().expect("the split ClientHello was read");
    assert!(tls.client_hello_frame.is_some() && !tls.offered_ciphers.is_empty());
    let hrr = v.flows.iter().find(|f| f.client.port == 36588).unwrap();
    let tls = hrr.tls.as_ref().unwrap();
    assert!(tls.hello_retry);
    assert_eq!(tls.cipher.as_deref(), Some("TLS_CHACHA20_POLY1305_SHA256"));
}

/// Zoom's encapsulation against the zoom-analysis ground truth (PROVENANCE.md and
/// wire-formats.md §2.2): zoom_test.pcap's P2P packet 1 is video, RTP PT 98, SSRC 16778241
/// (0x01000401), seq 26342; its server-mode video from UDP 8801 to 65027 carries SSRC
/// 0x01000801, PT 98 (the worked example). Payloads are cut by the capture's snaplen, so their
/// encryption cannot be measured and is not claimed.
#[test]
fn zoom_encapsulation_matches_ground_truth() {
    let v = verdict_of(&capture("other/zoom-analysis/zoom_test.pcap"));
    let p2p = flow(&v, "udp", ("10.9.121.28", 50508), ("10.9.74.172", 64904));
    assert_eq!(p2p.protocols, vec!["zoom"]);
    let z = p2p.zoom.as_ref().unwrap();
    assert_eq!(z.mode, "peer-to-peer");
    assert!(z.media_types.iter().any(|m| m == "video"));
    let first = z.streams.iter().find(|s| s.first_frame == 1).unwrap();
    assert_eq!(
        (first.ssrc.as_str(), first.payload_type),
        ("0x01000401", 98)
    );
    assert_eq!(
        u32::from_str_radix(&first.ssrc[2..], 16).unwrap(),
        16_778_241
    );
    assert_eq!(z.encrypted, None, "snaplen-cut payloads: not measurable");
    assert_eq!(p2p.encryption.state, "unknown");

    let srv = flow(&v, "udp", ("10.9.121.28", 65027), ("144.195.52.3", 8801));
    let z = srv.zoom.as_ref().unwrap();
    assert_eq!(z.mode, "server");
    assert!(z.packets_from_server > 0 && z.control_packets > 0);
    assert!(
        z.streams
            .iter()
            .any(|s| s.ssrc == "0x01000801" && s.payload_type == 98)
    );
}

/// TURN relaying in nDPI's stun_signal.pcapng (Signal call): the addresses nDPI's .out states
/// (Mapped, Peer, Relayed IP/Port), and the relayed media: the peer's datagrams inside TURN
/// Send/Data indications, which make the flow's media path "relayed" through that server.
#[test]
fn turn_relay_addresses_and_relayed_media() {
    let v = verdict_of(&capture("ndpi/stun_signal.pcapng"));
    let f = flow(
        &v,
        "udp",
        ("192.168.12.169", 43068),
        ("35.158.183.167", 3478),
    );
    assert_eq!(f.protocols, vec!["stun", "turn"]);
    let s = f.stun.as_ref().unwrap();
    assert!(
        s.mapped_addresses
            .contains(&"93.47.225.19:11910".to_string())
    );
    assert!(
        s.peer_addresses
            .contains(&"18.195.131.143:61156".to_string())
    );
    assert!(
        s.relayed_addresses
            .contains(&"35.158.183.167:64458".to_string())
    );
    for m in ["Allocate", "CreatePermission", "Send", "Data"] {
        assert!(s.methods.iter().any(|x| x == m), "{m} in {:?}", s.methods);
    }
    assert!(s.relayed_datagrams > 0);
    assert_eq!(f.media_path.as_deref(), Some("relayed"));
}

/// QUIC drafts 23–28 and Facebook's mvfst: Initials opened with keys derived from each version's
/// own salt (the AEAD tag proves the salt), giving the SNI nDPI states.
#[test]
fn older_quic_versions_are_decrypted() {
    for (cap, sni) in [
        ("ndpi/quic-23.pcap", "quic.aiortc.org"),
        ("ndpi/quic-24.pcap", "localhost"),
        ("ndpi/quic-27.pcap", "play.google.com"),
        ("ndpi/quic-28.pcap", "www.wireshark.org"),
        ("ndpi/quic-mvfst-22.pcap", "graph.facebook.com"),
        ("ndpi/quic-mvfst-27.pcapng", "graph.facebook.com"),
        ("ndpi/quic-mvfst-exp.pcap", "video.fmct2-3.fna.fbcdn.net"),
    ] {
        let v = verdict_of(&capture(cap));
        let snis: Vec<_> = v
            .flows
            .iter()
            .filter_map(|f| f.quic.as_ref().and_then(|q| q.sni.as_deref()))
            .collect();
        assert!(snis.contains(&sni), "{cap}: {snis:?}");
    }
}

/// Vendor STUN attributes are named, and the names agree with Wireshark's. Pinned from the
/// captures' bytes: Teams' MS-IMPLEMENTATION-VERSION (nDPI stun_msteams_unidir, and the ICE
/// checks over TCP in stun.pcap with MS-APP-ID and MS-CANDIDATE-IDENTIFIER), libwebrtc's
/// GOOG-NETWORK-INFO and GOOG-LOGGING-ID (stun.pcap, Google's TURN server on 3478), an
/// individually registered ENF attribute (stun_signal); 0xDAB9/0xDABA stay unnamed hex.
/// IETF-defined optional attributes (RESPONSE-ORIGIN, OTHER-ADDRESS of RFC 5780) are not vendor
/// attributes. Where tshark is installed, each named code is also looked up in its dissection.
#[test]
fn stun_vendor_attributes_are_named_as_wireshark_names_them() {
    // (attribute type, name, defined by)
    type Named = (&'static str, &'static str, Option<&'static str>);
    let expected: &[(&str, &[Named], &[&str])] = &[
        (
            "ndpi/stun_msteams_unidir.pcapng",
            &[("0x8070", "MS-IMPLEMENTATION-VERSION", Some("Microsoft"))],
            &[],
        ),
        (
            // the MS- attributes travel in STUN over TCP (nDPI: STUN.Skype_TeamsCall)
            "ndpi/stun.pcap",
            &[
                ("0x8037", "MS-APP-ID", Some("Microsoft")),
                ("0x8054", "MS-CANDIDATE-IDENTIFIER", Some("Microsoft")),
                ("0x8070", "MS-IMPLEMENTATION-VERSION", Some("Microsoft")),
                ("0xC057", "GOOG-NETWORK-INFO", Some("Google")),
                ("0xFF05", "GOOG-LOGGING-ID", Some("Google")),
            ],
            &[],
        ),
        (
            "ndpi/stun_signal.pcapng",
            &[
                ("0xC001", "ENF-FLOW-DESCRIPTION", None),
                ("0xC057", "GOOG-NETWORK-INFO", Some("Google")),
            ],
            &[],
        ),
        (
            "ndpi/lru_ipv6_caches.pcapng",
            &[("0xC057", "GOOG-NETWORK-INFO", Some("Google"))],
            &["0xDAB9", "0xDABA"],
        ),
    ];
    let tshark = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    for (cap, named, unnamed) in expected {
        let path = capture(cap);
        let v = verdict_of(&path);
        let mut got: Vec<(String, String, Option<String>)> = Vec::new();
        let mut hex: Vec<String> = Vec::new();
        for s in v.flows.iter().filter_map(|f| f.stun.as_ref()) {
            for a in &s.vendor_attribute_names {
                let item = (
                    a.attribute_type.clone(),
                    a.name.clone(),
                    a.defined_by.clone(),
                );
                if !got.contains(&item) {
                    got.push(item);
                }
            }
            hex.extend(s.vendor_attributes.iter().cloned());
            assert!(
                !s.vendor_attributes
                    .iter()
                    .any(|t| t == "0x802B" || t == "0x802C"),
                "{cap}: RFC 5780 attributes listed as vendor ones"
            );
        }
        got.sort();
        let want: Vec<(String, String, Option<String>)> = named
            .iter()
            .map(|(t, n, d)| (t.to_string(), n.to_string(), d.map(str::to_string)))
            .collect();
        assert_eq!(got, want, "{cap}");
        for u in *unnamed {
            assert!(hex.iter().any(|h| h == u), "{cap}: {u} not listed");
        }
        if !tshark {
            eprintln!("SKIPPED the Wireshark cross-check of {cap}: tshark is not installed");
            continue;
        }
        let out = std::process::Command::new("tshark")
            .args([
                "-r",
                path.to_str().unwrap(),
                "-n",
                "-T",
                "pdml",
                "-Y",
                "stun",
            ])
            .output()
            .expect("tshark runs");
        let pdml = String::from_utf8_lossy(&out.stdout);
        for (t, name, _) in *named {
            // <field name="stun.attribute" showname="NAME: …" … show="0xc057" …>
            let show = format!("show=\"{}\"", t.to_lowercase());
            let line = pdml
                .lines()
                .find(|l| l.contains("name=\"stun.attribute\"") && l.contains(&show))
                .unwrap_or_else(|| panic!("{cap}: tshark shows no attribute {t}"));
            let shown = line
                .split("showname=\"")
                .nth(1)
                .and_then(|s| s.split(['"', ':']).next())
                .unwrap();
            assert_eq!(shown, *name, "{cap}: {t}");
        }
    }
}

/// STUN and TURN over TCP (nDPI stun.pcap, both flows labelled STUN there): Teams' ICE checks
/// framed by RFC 4571 on port 42000, and a TURN allocation over plain TCP to coturn on 3478
/// whose mapped and relayed addresses are the ones nDPI prints.
#[test]
fn stun_and_turn_over_tcp() {
    let v = verdict_of(&capture("ndpi/stun.pcap"));
    let ice = flow(&v, "tcp", ("10.77.110.51", 41588), ("10.206.50.239", 42000));
    assert_eq!(ice.protocols, vec!["stun"]);
    let s = ice.stun.as_ref().unwrap();
    assert_eq!(s.methods, vec!["Binding"]);
    assert_eq!(
        s.mapped_addresses,
        vec!["10.77.110.51:41588", "10.206.50.239:42000"]
    );
    let turn = flow(&v, "tcp", ("54.1.57.155", 37257), ("87.47.100.17", 3478));
    assert_eq!(turn.protocols, vec!["stun", "turn"]);
    let s = turn.stun.as_ref().unwrap();
    // nDPI: [Mapped IP/Port: 5.37.217.126:37257][Relayed IP/Port: 66.55.92.16:40576]
    assert_eq!(s.mapped_addresses, vec!["5.37.217.126:37257"]);
    assert_eq!(s.relayed_addresses, vec!["66.55.92.16:40576"]);
    assert!(s.software.as_deref().unwrap().starts_with("Coturn-4.5"));
    assert_eq!(turn.encryption.state, "unknown");
    assert!(
        turn.encryption.basis[0].starts_with("TURN relay"),
        "{:?}",
        turn.encryption
    );
}

/// A flow carrying more SSRCs than the 32 streams followed (an SFU forwarding many
/// participants on one port can): the further streams' packets are counted as
/// `untracked_packets`, never silently dropped. This project's baresip-sip-opus-rtp.pcap, its
/// plain Opus stream from port 20008 rewritten round-robin over 40 SSRCs.
#[test]
fn streams_beyond_the_followed_ones_are_counted() {
    const SSRCS: u32 = 40;
    let bundled =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-opus-rtp.pcap");
    let mut frames = common::pcap_frames(&bundled);
    let mut rewritten = 0u32;
    let mut expected_untracked = 0u64;
    for (_, _, data) in &mut frames {
        // Ethernet, IPv4 without options, UDP from port 20008, RTP with SSRC 0x81f9ee63
        let is_stream = data.len() > 54
            && data[12..14] == [0x08, 0x00]
            && data[14] == 0x45
            && data[23] == 17
            && data[34..36] == 20008u16.to_be_bytes()
            && data[50..54] == 0x81f9_ee63u32.to_be_bytes();
        if !is_stream {
            continue;
        }
        let ssrc = 0x81f9_ee63u32 ^ (rewritten % SSRCS);
        data[50..54].copy_from_slice(&ssrc.to_be_bytes());
        data[40..42].copy_from_slice(&[0, 0]); // UDP checksum: none
        // 32 streams per flow, both directions, by first packet: the reply stream's first
        // packet (frame 8) comes after this stream's first (frame 7), so it takes the second slot
        if rewritten % SSRCS >= 31 {
            expected_untracked += 1;
        }
        rewritten += 1;
    }
    assert_eq!(rewritten, 501);
    let (_dir, path) = common::temp_copy(&common::pcap_bytes(&frames, false, false), "ssrcs.pcap");
    let v = verdict_of(&path);
    common::assert_schema_valid(&serde_json::to_value(&v).unwrap());
    let rtp = v
        .flows
        .iter()
        .find_map(|f| f.rtp.as_ref().filter(|r| !r.streams.is_empty()))
        .unwrap();
    assert_eq!(rtp.untracked_packets, expected_untracked);
    let followed: Vec<_> = rtp
        .streams
        .iter()
        .filter(|s| s.ssrc != "0xe9d28cd5")
        .collect();
    assert_eq!(followed.len(), 31);
    assert_eq!(rtp.streams.len(), 32);
    assert_eq!(
        followed.iter().map(|s| s.packets).sum::<u64>() + rtp.untracked_packets,
        501
    );
    // as captured: two streams, nothing untracked
    let original = verdict_of(&bundled);
    let rtp = original
        .flows
        .iter()
        .find_map(|f| f.rtp.as_ref().filter(|r| !r.streams.is_empty()))
        .unwrap();
    assert_eq!((rtp.streams.len(), rtp.untracked_packets), (2, 0));
}

/// A SIP trunk carries every call's signalling on one flow: SDP beyond the 32 media
/// descriptions listed and beyond the 256 datagrams a UDP flow is inspected for still keys the
/// media flows it describes, and SDES keys in clear there are still found. This project's
/// baresip-sip-sdes-srtp.pcap with 150 copies of its INVITE and its 200 OK (each with one
/// `m=audio` line, SDES keys in clear), their media ports rewritten to unused ones, before the
/// call itself.
#[test]
fn sdp_beyond_the_listed_media_still_counts() {
    const COPIES: usize = 150;
    let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures/baresip-sip-sdes-srtp.pcap");
    let frames = common::pcap_frames(&bundled);
    let (invite, ok) = (&frames[0], &frames[4]);
    let mut out = Vec::new();
    for i in 0..COPIES {
        for (n, (s, us, data)) in [invite, ok].into_iter().enumerate() {
            let mut data = data.clone();
            let at = data
                .windows(13)
                .position(|w| w.starts_with(b"m=audio 200"))
                .unwrap();
            let port = format!("{}", 30000 + 2 * i + n);
            data[at + 8..at + 13].copy_from_slice(port.as_bytes());
            data[40..42].copy_from_slice(&[0, 0]); // UDP checksum: none
            out.push((*s, *us, data));
        }
    }
    out.extend(frames.iter().cloned());
    let (_dir, path) = common::temp_copy(&common::pcap_bytes(&out, false, false), "trunk.pcap");
    let v = verdict_of(&path);
    common::assert_schema_valid(&serde_json::to_value(&v).unwrap());

    let trunk = v.flows.iter().find_map(|f| f.sip.as_ref()).unwrap();
    let descriptions = 2 * COPIES as u32 + 2;
    assert_eq!(trunk.messages, descriptions + 6); // and 180, ACK, 2 BYEs, 2 200 OKs
    assert_eq!(trunk.media.len(), 32);
    assert_eq!(trunk.unlisted_media, descriptions - 32);
    assert_eq!(trunk.unlisted_media_keys_in_clear, descriptions - 32);
    let keys_in_clear: Vec<&str> = v
        .findings
        .iter()
        .filter(|f| f.rule == "sdes-keys-in-clear")
        .map(|f| f.detail.as_str())
        .collect();
    assert!(
        keys_in_clear.iter().any(|d| d.contains(&format!(
            "{} SDP m-line(s) beyond the 32 listed carry keys in clear",
            descriptions - 32
        ))),
        "{keys_in_clear:?}"
    );
    // the call's own SDP (the last two descriptions) still keys its media
    let media = common::flow(&v, "udp", ("192.0.2.2", 20066), ("192.0.2.2", 20078));
    assert_eq!(media.encryption.state, "encrypted");
    assert!(
        media
            .encryption
            .protection
            .as_deref()
            .is_some_and(|p| p.contains("SDES keys from clear SIP")),
        "{:?}",
        media.encryption
    );
}

/// A TURN client permits every candidate address of every peer: the 8 peer addresses a flow
/// lists say when the flow carried more. nDPI's stun.pcap, whose TURN flow already names 6
/// peers, with copies of its first CreatePermission (frame 71) for further peers 203.0.113.x.
#[test]
fn turn_peers_beyond_the_listed_ones_are_marked() {
    const COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    let frames = common::pcap_frames(&capture("ndpi/stun.pcap"));
    let permission = 70;
    // Ethernet, IPv4, UDP, STUN header; then XOR-PEER-ADDRESS (type 0x0012, length 8) at 62:
    // reserved, family IPv4, X-Port, X-Address
    assert_eq!(
        frames[permission].2[42..44],
        [0x00, 0x08],
        "CreatePermission"
    );
    assert_eq!(
        frames[permission].2[62..68],
        [0x00, 0x12, 0x00, 0x08, 0x00, 0x01]
    );
    let peers_with = |copies: u8| {
        let mut out = frames[..=permission].to_vec();
        for i in 0..copies {
            let (s, us, mut data) = frames[permission].clone();
            for (k, b) in [203, 0, 113, i].iter().enumerate() {
                data[70 + k] = b ^ COOKIE[k];
            }
            data[40..42].copy_from_slice(&[0, 0]); // UDP checksum: none
            out.push((s, us, data));
        }
        out.extend_from_slice(&frames[permission + 1..]);
        let (_dir, path) = common::temp_copy(&common::pcap_bytes(&out, false, false), "turn.pcap");
        let json = common::verdict_json_of(&path, &[]);
        common::assert_schema_valid(&json);
        let stun = json["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["server"]["ip"] == "31.13.86.54" && f["server"]["port"] == 40003)
            .unwrap()["stun"]
            .clone();
        let peers: Vec<String> = stun["peer_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        (peers, stun.get("addresses_truncated").cloned())
    };
    // as captured (PROVENANCE: nDPI's stun.pcap), tshark shows 6 distinct XOR-PEER-ADDRESSes
    let (captured, truncated) = peers_with(0);
    assert_eq!((captured.len(), truncated), (6, None));
    assert_eq!(captured[0], "192.168.0.102:44459");
    // two more fill the list, and nothing is left out
    let (peers, truncated) = peers_with(2);
    assert_eq!((peers.len(), truncated), (8, None));
    // with a third, the captured flow's last peer is left out and said to be
    let (peers, truncated) = peers_with(3);
    assert_eq!(truncated, Some(serde_json::Value::Bool(true)));
    let mut listed = vec![captured[0].clone()];
    listed.extend((0..3).map(|i| format!("203.0.113.{i}:44459")));
    listed.extend_from_slice(&captured[1..5]);
    assert_eq!(peers, listed);
}

/// baresip-sip-tcp.pcap with `copies` copies of its 883-byte INVITE sent on the connection
/// before the INVITE of the call; `cut` keeps only the first bytes of one copy, as if the
/// capture lost the rest of that segment.
fn sip_tcp_trunk(copies: u32, cut: Option<(u32, usize)>) -> (tempfile::TempDir, PathBuf) {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-tcp.pcap");
    let frames = common::pcap_frames(&bundled);
    // Ethernet, IPv4, TCP: where the TCP header and its payload start
    let tcp = |d: &[u8]| -> Option<(usize, usize)> {
        (d.len() > 54 && d[12..14] == [0x08, 0x00] && d[23] == 6).then(|| {
            let t = 14 + usize::from(d[14] & 0x0F) * 4;
            (t, t + usize::from(d[t + 12] >> 4) * 4)
        })
    };
    let invite = frames
        .iter()
        .position(|(_, _, d)| tcp(d).is_some_and(|(_, p)| d[p..].starts_with(b"INVITE ")))
        .unwrap();
    let (t, p) = tcp(&frames[invite].2).unwrap();
    let ports = frames[invite].2[t..t + 4].to_vec();
    let length = u32::try_from(frames[invite].2.len() - p).unwrap();
    assert_eq!(length, 883);
    let shift_seq = |d: &mut Vec<u8>, by: u32| {
        let seq = u32::from_be_bytes(d[t + 4..t + 8].try_into().unwrap());
        d[t + 4..t + 8].copy_from_slice(&seq.wrapping_add(by).to_be_bytes());
    };
    let mut out = Vec::new();
    for (i, (s, us, d)) in frames.iter().enumerate() {
        let mut d = d.clone();
        if i == invite {
            for k in 0..copies {
                let mut copy = d.clone();
                shift_seq(&mut copy, k * length);
                if let Some((_, keep)) = cut.filter(|(at, _)| *at == k) {
                    copy.truncate(p + keep);
                    let ip_length = u16::try_from(copy.len() - 14).unwrap();
                    copy[16..18].copy_from_slice(&ip_length.to_be_bytes());
                }
                out.push((*s, *us, copy));
            }
        }
        // the client's later segments follow the copies in its byte stream
        if i >= invite && tcp(&d).is_some_and(|(t, _)| d[t..t + 4] == ports[..]) {
            shift_seq(&mut d, copies * length);
        }
        out.push((*s, *us, d));
    }
    common::temp_copy(&common::pcap_bytes(&out, false, false), "trunk.pcap")
}

/// The flow's SIP facts and the media flow's encryption basis.
fn sip_and_basis(v: &callproof::verdict::Verdict) -> (callproof::verdict::Sip, Vec<String>) {
    let sip = v.flows.iter().find_map(|f| f.sip.clone()).unwrap();
    let media = v
        .flows
        .iter()
        .find(|f| f.protocols.iter().any(|p| p == "rtp"))
        .unwrap();
    (*sip, media.encryption.basis.clone())
}

/// The frame of the SDP that keyed a media flow, from its encryption basis.
fn sdp_frame(basis: &[String]) -> u64 {
    let b = basis
        .iter()
        .find(|b| b.starts_with("SDP in SIP frame "))
        .unwrap();
    b["SDP in SIP frame ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A phone's one TCP connection to its registrar (or a trunk's) carries every call's SIP: it is
/// parsed to its end, not only for the first 16 KiB other plaintext TCP is watched for nor the
/// first 1 MiB other TCP streams deliver. 1,300 INVITEs (1.1 MB) before the call's.
#[test]
fn sip_over_tcp_is_followed_to_the_connection_end() {
    const COPIES: u32 = 1300;
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-tcp.pcap");
    let (captured, captured_basis) = sip_and_basis(&verdict_of(&bundled));
    let (_dir, path) = sip_tcp_trunk(COPIES, None);
    let v = verdict_of(&path);
    common::assert_schema_valid(&serde_json::to_value(&v).unwrap());
    let (sip, basis) = sip_and_basis(&v);
    assert_eq!(sip.messages, captured.messages + COPIES);
    assert_eq!(
        sip.methods, captured.methods,
        "the server's answers are read too"
    );
    let descriptions = u32::try_from(captured.media.len()).unwrap() + COPIES;
    assert_eq!(sip.media.len(), 32);
    assert_eq!(sip.unlisted_media, descriptions - 32);
    // the media is keyed by the call's own answer, which comes after the copies
    assert_eq!(
        sdp_frame(&basis),
        sdp_frame(&captured_basis) + u64::from(COPIES)
    );
}

/// A hole in the captured SIP stream costs the message it cut, not the framing of the ones after
/// it: one of 40 INVITEs loses its last 283 bytes (its SDP body's end).
#[test]
fn sip_over_tcp_resumes_after_a_hole() {
    const COPIES: u32 = 40;
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-tcp.pcap");
    let (captured, captured_basis) = sip_and_basis(&verdict_of(&bundled));
    let (_dir, path) = sip_tcp_trunk(COPIES, Some((20, 600)));
    let v = verdict_of(&path);
    let (sip, basis) = sip_and_basis(&v);
    assert_eq!(sip.methods, captured.methods, "no line read as a method");
    assert_eq!(sip.messages, captured.messages + COPIES - 1);
    assert_eq!(
        sdp_frame(&basis),
        sdp_frame(&captured_basis) + u64::from(COPIES)
    );
    let trunk = v.flows.iter().find(|f| f.sip.is_some()).unwrap();
    assert_eq!(trunk.tcp.as_ref().unwrap().gap_bytes_client_to_server, 283);
}

/// baresip keys SRTP with SDES (`m=audio 20066 RTP/SAVP` and `a=crypto`, no `a=rtcp`) and sends
/// RTCP to the next port up: first an RTCP APP "PING" keep-alive in clear (frames 3 and 6,
/// 16 bytes each, no trailer), its first SRTCP report only 5 s in (frame 509, index 2). A call
/// captured for its first 300 frames has seen only that clear RTCP on 20067 <-> 20079: the SDP
/// keys it, so it is SRTCP due and RTCP in clear there is `rtcp-in-clear`, not media in clear.
#[test]
fn rtcp_flows_are_keyed_by_their_media_line_rtcp_port() {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-sdes-srtp.pcap");
    let whole = verdict_of(&bundled);
    let sip = whole.flows.iter().find_map(|f| f.sip.as_ref()).unwrap();
    let rtcp_ports: Vec<(u16, Option<u16>)> =
        sip.media.iter().map(|m| (m.port, m.rtcp_port)).collect();
    assert_eq!(rtcp_ports, [(20078, Some(20079)), (20066, Some(20067))]);
    let rtcp = flow(&whole, "udp", ("192.0.2.2", 20067), ("192.0.2.2", 20079));
    assert_eq!(rtcp.protocols, ["srtcp"]);
    assert!(
        rtcp.encryption.basis[0].starts_with("SRTCP trailer"),
        "{:?}",
        rtcp.encryption
    );

    let frames = common::pcap_frames(&bundled);
    let (_dir, cut) = common::temp_copy(
        &common::pcap_bytes(&frames[..300], false, false),
        "cut.pcap",
    );
    let v = verdict_of(&cut);
    let rtcp = flow(&v, "udp", ("192.0.2.2", 20067), ("192.0.2.2", 20079));
    let r = rtcp.rtp.as_ref().unwrap();
    assert_eq!(
        (r.rtcp_packets, r.rtcp_in_clear, r.srtcp_encrypted),
        (4, 2, None)
    );
    assert_eq!(rtcp.protocols, ["srtcp"]);
    assert_eq!(rtcp.encryption.state, "encrypted");
    assert!(
        rtcp.encryption.basis[0].contains("as the RTCP port of audio port 20066 with RTP/SAVP"),
        "{:?}",
        rtcp.encryption
    );
    let rules: Vec<&str> = v.findings.iter().map(|f| &*f.rule).collect();
    assert!(rules.contains(&"rtcp-in-clear"), "{rules:?}");
    assert!(!rules.contains(&"plaintext-rtp"), "{rules:?}");
    assert_eq!(v.summary.as_ref().unwrap().media_encryption.status, "warn");

    // RTP/AVP: the RTCP port of a plain media line is plain RTCP
    let plain =
        verdict_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-rtp.pcap"));
    let rtcp = plain
        .flows
        .iter()
        .find(|f| f.protocols == ["rtcp"])
        .expect("the call's RTCP flow");
    assert_eq!(rtcp.encryption.state, "plaintext");
    assert!(
        rtcp.encryption
            .basis
            .iter()
            .any(|b| b.contains("as the RTCP port of audio port") && b.contains("RTP/AVP")),
        "{:?}",
        rtcp.encryption
    );
}

/// `RTP/SAVP` whose keys the SDP does not carry (no `a=crypto`: MIKEY, or keys agreed where the
/// capture cannot see) says SRTP is used, not which keys: the SDP alone decides nothing, and
/// the media is judged on what the packets show. The bundled SDES call with its two `a=crypto`
/// lines renamed `a=xrypto` (same length): before, the media flow was labelled srtp yet judged
/// plaintext, raising plaintext-rtp. Its packets show SRTP's 10-byte tag after G.711 payloads
/// as uniform as ciphertext: encrypted, on that evidence and the SDP's.
#[test]
fn a_secure_profile_without_keys_in_the_sdp_is_not_plaintext() {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-sdes-srtp.pcap");
    let mut frames = common::pcap_frames(&bundled);
    let mut renamed = 0;
    for (_, _, data) in &mut frames {
        while let Some(at) = data.windows(9).position(|w| w == b"a=crypto:") {
            data[at + 2] = b'x';
            data[40..42].copy_from_slice(&[0, 0]); // UDP checksum: none
            renamed += 1;
        }
    }
    assert_eq!(renamed, 2, "the INVITE's and the 200 OK's a=crypto");
    let (_dir, path) = common::temp_copy(&common::pcap_bytes(&frames, false, false), "mikey.pcap");
    let v = verdict_of(&path);
    let media = flow(&v, "udp", ("192.0.2.2", 20066), ("192.0.2.2", 20078));
    assert_eq!(media.protocols, ["srtp"]);
    assert_eq!(
        media.encryption.state, "encrypted",
        "{:?}",
        media.encryption
    );
    let basis = &media.encryption.basis;
    assert!(
        basis[0].contains("secure profile whose keys it does not carry")
            && basis[1].contains("with RTP/SAVP")
            && basis
                .iter()
                .any(|b| b.contains("exceeds the timestamp step by 10 bytes")),
        "{:?}",
        media.encryption
    );
    let rules: Vec<&str> = v.findings.iter().map(|f| &*f.rule).collect();
    assert!(!rules.contains(&"plaintext-rtp"), "{rules:?}");
    assert!(!rules.contains(&"sdes-keys-in-clear"), "{rules:?}");
}

/// SRTCP multiplexed with RTP on one 5-tuple (RFC 5761) shows that the RTP beside it is SRTP:
/// SRTCP exists only for an SRTP session (RFC 3711 §3.4). nDPI's WhatsApp voice call
/// (ndpi/wa_voice.pcap) keys its media out of sight; nDPI's expected output labels the flow
/// 192.168.2.12:56328 <-> 91.252.56.51:32704 SRTP.WhatsAppCall. callproof said rtp beside
/// srtcp; now srtp, with its protection still unknown (no keys, no length arithmetic for
/// its codec) and the SRTCP evidence named.
#[test]
fn rtp_beside_srtcp_on_one_flow_is_srtp() {
    let v = verdict_of(&common::capture("ndpi/wa_voice.pcap"));
    let media = flow(&v, "udp", ("192.168.2.12", 56328), ("91.252.56.51", 32704));
    assert_eq!(media.protocols, ["stun", "srtp", "srtcp"]);
    assert_eq!(media.rtp.as_ref().unwrap().srtcp_encrypted, Some(true));
    assert_eq!(media.encryption.state, "unknown");
    assert!(
        media.encryption.basis[0].starts_with("SRTP: the SRTCP trailer on this flow"),
        "{:?}",
        media.encryption
    );
    // RTP and RTCP in clear on the TURN flow of the same call stay rtp and rtcp
    let turn = flow(&v, "udp", ("192.168.2.12", 56328), ("31.13.86.48", 3478));
    assert_eq!(turn.protocols, ["stun", "turn", "rtp", "rtcp"]);
}

/// The inner-layer detectors on every RTP-shaped UDP payload of the shared captures and this
/// project's (clear codecs of SIP calls, SRTP ciphertext, Zoom's media, whatever else starts
/// with version 2): no stream makes a run of rising SFrame counters at any offset, no payload
/// ends with a Jitsi trailer naming its packet, no stream makes a run of Jitsi-shaped trailers
/// naming one other SSRC at one timestamp offset. The
/// follower sees decrypted payloads in `analyze`; these are the payloads it would see of
/// media without an inner layer (clear RTP) and of random bytes (ciphertext).
#[test]
fn inner_layers_are_not_seen_in_the_rtp_payloads_of_real_captures() {
    use callproof::decode::{Decoded, Decoder, Transport};
    use callproof::dissect::srtp::{
        RewrittenTrailers, SframeFollow, inner_e2ee_trailer, jitsi_trailer_iv,
    };
    use std::collections::HashMap;
    let mut files = Vec::new();
    for root in [
        common::shared().join("captures"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
    ] {
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| ["pcap", "pcapng", "cap", "gz"].iter().any(|x| e == *x))
                {
                    files.push(path);
                }
            }
        }
    }
    let (mut streams, mut frames) = (0usize, 0u64);
    for file in &files {
        let mut decoder = Decoder::new();
        let mut follow: HashMap<(Vec<u8>, u32), (SframeFollow, u32)> = HashMap::new();
        let mut rewritten: HashMap<(Vec<u8>, u32), RewrittenTrailers> = HashMap::new();
        let _ = callproof::capture::read_file(file, |frame| {
            let Decoded::Packet(p) = decoder.decode(frame.link_type, frame.data, 0) else {
                return;
            };
            let Transport::Udp {
                src_port,
                dst_port,
                payload: b,
            } = p.transport
            else {
                return;
            };
            let header = 12 + 4 * usize::from(b.first().map_or(0, |b| b & 0x0f));
            if b.len() < header || b[0] >> 6 != 2 || (64..96).contains(&(b[1] & 0x7f)) {
                return;
            }
            let key = format!("{}:{src_port}>{}:{dst_port}", p.src, p.dst).into_bytes();
            let ssrc = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            let timestamp = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            assert!(!inner_e2ee_trailer(&b[header..], b), "{}", file.display());
            if let Some(iv) = jitsi_trailer_iv(&b[header..]) {
                let trailers = rewritten.entry((key.clone(), ssrc)).or_default();
                trailers.trailer(iv, timestamp);
                assert_eq!(trailers.packets, 0, "{}: {trailers:?}", file.display());
            }
            let (stream, last) = follow.entry((key, ssrc)).or_default();
            if *last != timestamp {
                frames += 1;
                *last = timestamp;
            }
            stream.packet(&b[header..], timestamp);
        });
        streams += follow.len();
        for ((flow, ssrc), (stream, _)) in &follow {
            assert_eq!(
                stream.frames(),
                0,
                "{}: {} SSRC {ssrc:#x}: {:?}",
                file.display(),
                String::from_utf8_lossy(flow),
                stream.best()
            );
        }
    }
    // the test means something: many streams and frames went through the follower
    assert!(files.len() > 100, "{}", files.len());
    assert!(
        streams > 100 && frames > 10_000,
        "{streams} streams, {frames} frames"
    );
}
