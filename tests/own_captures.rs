//! The captures this project made itself with real clients (captures/README.md): their
//! expected facts come from OpenSSL and from the generating script's options.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::verdict_of;

/// The text of a bundled capture's expectations file.
fn expected_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(name: &str) -> HashMap<String, String> {
    expected_text(name)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn openssl_tls12_and_tls13_sessions() {
    let exp = expected("openssl-tls.expected");
    let v = verdict_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/openssl-tls.pcap"));
    assert_eq!(v.flows.len(), 2);
    for session in ["tls12", "tls13"] {
        let port: u16 = exp[&format!("{session}.server_port")].parse().unwrap();
        let f = v
            .flows
            .iter()
            .find(|f| f.server.port == port)
            .unwrap_or_else(|| panic!("no flow to port {port}"));
        assert_eq!(f.client.ip, "127.0.0.1");
        assert_eq!(f.role_basis, "tcp-handshake");
        assert_eq!(f.protocols, vec!["tls"]);
        let tls = f.tls.as_ref().unwrap();
        assert_eq!(
            tls.version.as_deref(),
            Some(exp[&format!("{session}.version")].as_str())
        );
        assert_eq!(
            tls.cipher.as_deref(),
            Some(exp[&format!("{session}.cipher")].as_str())
        );
        assert_eq!(
            tls.sni.as_deref(),
            Some(exp[&format!("{session}.sni")].as_str())
        );
        assert!(tls.offered_versions.iter().any(|x| x == "TLS 1.3") || session == "tls12");
    }
    let tls12 = v
        .flows
        .iter()
        .find(|f| f.server.port == 44312)
        .unwrap()
        .tls
        .as_ref()
        .unwrap();
    assert_eq!(tls12.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(
        tls12.alpn_selected.as_deref(),
        Some(exp["tls12.alpn_selected"].as_str())
    );
    // TLS 1.2 shows the chain in clear: leaf then root, as s_server sent them.
    let chain = &tls12.certificates;
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0].subject, exp["leaf.subject"]);
    assert_eq!(chain[0].issuer, exp["leaf.issuer"]);
    assert_eq!(chain[0].sha256, exp["leaf.sha256"]);
    assert_eq!(chain[0].key, "EC P-256");
    assert_eq!(chain[0].signature, "sha256WithRSAEncryption");
    assert_eq!(
        chain[0].san,
        vec!["callproof.test", "media.callproof.test", "127.0.0.1"]
    );
    assert!(!chain[0].self_signed);
    assert_eq!(chain[1].subject, exp["root.subject"]);
    assert_eq!(chain[1].sha256, exp["root.sha256"]);
    assert_eq!(chain[1].key, "RSA 2048");
    assert!(chain[1].self_signed);
    // Both sessions are encrypted, on the evidence of their ServerHellos.
    for session in ["tls12", "tls13"] {
        let port: u16 = exp[&format!("{session}.server_port")].parse().unwrap();
        let f = v.flows.iter().find(|f| f.server.port == port).unwrap();
        assert_eq!(f.encryption.state, "encrypted");
        let want = format!(
            "{} ({})",
            exp[&format!("{session}.version")],
            exp[&format!("{session}.cipher")]
        );
        assert_eq!(f.encryption.protection.as_deref(), Some(want.as_str()));
        assert!(f.encryption.basis[0].contains("ServerHello in frame"));
    }
    // TLS 1.3 encrypts the Certificate message: none may be claimed.
    let tls13 = v
        .flows
        .iter()
        .find(|f| f.server.port == 44313)
        .unwrap()
        .tls
        .as_ref()
        .unwrap();
    assert!(tls13.certificates.is_empty());
}

/// A real peer-to-peer WebRTC call between two aiortc peers on loopback
/// (captures/make-aiortc-call.py): ICE, DTLS-SRTP, Opus both ways. Expected facts are what
/// aiortc reported about its own session.
#[test]
fn aiortc_peer_to_peer_webrtc_call() {
    let exp = expected("aiortc-webrtc-call.expected");
    let v =
        verdict_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/aiortc-webrtc-call.pcap"));
    assert_eq!(
        v.flows.len(),
        1,
        "one ICE-selected 5-tuple carries everything"
    );
    let f = &v.flows[0];
    assert_eq!(f.protocols, vec!["dtls", "stun", "srtp", "srtcp"]);
    // The DTLS client (aiortc's callee here) is the flow's client.
    let (dtls_client, dtls_server) = if exp["callee.dtls_role"] == "client" {
        ("callee", "caller")
    } else {
        ("caller", "callee")
    };
    assert_eq!(
        format!("{}:{}", f.client.ip, f.client.port),
        exp[&format!("{dtls_client}.local")]
    );
    assert_eq!(f.role_basis, "tls-handshake");
    let d = f.dtls.as_ref().unwrap();
    assert_eq!(exp["caller.dtls_version"], "DTLSv1.2");
    assert_eq!(d.version.as_deref(), Some("DTLS 1.2"));
    // OpenSSL's name for the suite and its IANA name
    assert_eq!(exp["caller.cipher"], "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_eq!(
        d.cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(
        d.srtp_profile.as_deref(),
        Some(exp["caller.srtp_profile"].as_str())
    );
    assert_eq!(f.encryption.state, "encrypted");
    let streams = &f.rtp.as_ref().unwrap().streams;
    assert_eq!(streams.len(), 2);
    for (who, direction) in [
        (dtls_client, "client_to_server"),
        (dtls_server, "server_to_client"),
    ] {
        let s = streams
            .iter()
            .find(|s| s.ssrc == exp[&format!("{who}.ssrc")])
            .unwrap_or_else(|| panic!("{who}'s stream"));
        assert_eq!(s.direction, direction);
        assert_eq!(s.encrypted, Some(true));
        assert!(s.packets > 150, "about 4 s of 20 ms Opus frames");
        let h = s.payload_entropy.unwrap();
        assert!(h > 7.9, "SRTP ciphertext is near-uniform: {h}");
    }
    let stun = f.stun.as_ref().unwrap();
    assert_eq!(stun.methods, vec!["Binding"]);
    assert!(stun.username_seen, "ICE connectivity checks carry USERNAME");
}

/// Two real SIP calls between baresip user agents on loopback
/// (captures/make-baresip-calls.sh): G.711 µ-law over plain RTP/AVP, and the same call with
/// SDES-SRTP (RTP/SAVP, a=crypto keys in the clear SDP). Expected facts: the SDP baresip sent.
#[test]
fn baresip_plain_and_sdes_calls() {
    for (name, secure) in [("baresip-sip-rtp", false), ("baresip-sip-sdes-srtp", true)] {
        let exp = expected(&format!("{name}.expected"));
        let v = verdict_of(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("captures/{name}.pcap")),
        );
        let sip = v
            .flows
            .iter()
            .find(|f| f.protocols == ["sip"])
            .unwrap_or_else(|| panic!("{name}: no SIP flow"));
        assert_eq!(
            sip.encryption.state, "plaintext",
            "{name}: SIP over UDP is clear"
        );
        let s = sip.sip.as_ref().unwrap();
        for m in ["INVITE", "200", "ACK", "BYE"] {
            assert!(
                s.methods.iter().any(|x| x == m),
                "{name}: {m} in {:?}",
                s.methods
            );
        }
        assert_eq!(s.media.len(), 2, "{name}: offer and answer");
        for m in &s.media {
            assert_eq!(m.proto, exp["media_proto"], "{name}");
            assert_eq!(m.crypto_in_clear, secure, "{name}");
            if secure {
                assert_eq!(m.crypto_suites, vec!["AES_CM_128_HMAC_SHA1_80"]);
            }
        }
        let media = v
            .flows
            .iter()
            .find(|f| f.rtp.as_ref().is_some_and(|r| !r.streams.is_empty()))
            .unwrap_or_else(|| panic!("{name}: no RTP flow"));
        let want = if secure { "encrypted" } else { "plaintext" };
        assert_eq!(
            media.encryption.state, want,
            "{name}: {:?}",
            media.encryption
        );
        let label = if secure { "srtp" } else { "rtp" };
        assert_eq!(media.protocols, vec![label], "{name}");
        // RTCP on the next port: SRTCP (trailer index) in the SDES call, clear reports otherwise.
        let rtcp = v
            .flows
            .iter()
            .find(|f| f.server.port == media.server.port + 1)
            .unwrap_or_else(|| panic!("{name}: no RTCP flow"));
        let r = rtcp.rtp.as_ref().unwrap();
        assert_eq!(r.srtcp_encrypted, secure.then_some(true), "{name}");
        assert_eq!(rtcp.encryption.state, want, "{name}: {:?}", rtcp.encryption);
        let streams = &media.rtp.as_ref().unwrap().streams;
        assert_eq!(streams.len(), 2, "{name}: one stream each way");
        for st in streams {
            assert_eq!(st.payload_type.to_string(), exp["codec_payload_type"]);
            assert_eq!(st.encrypted, Some(secure), "{name}: {:?}", st.evidence);
            assert!(st.packets >= 250, "{name}: ~6 s of 20 ms packets");
            let h = st.payload_entropy.unwrap();
            assert!(
                if secure { h > 7.9 } else { h < 7.0 },
                "{name}: entropy {h}"
            );
        }
    }
}

/// A real SIP call with Opus over plain RTP/AVP (captures/make-baresip-calls.sh): compressed
/// audio in clear measures 7.9 bits/byte — nearly ciphertext — so entropy alone cannot tell;
/// the Opus TOC byte, the same in every packet, shows the payload is in clear.
#[test]
fn baresip_opus_in_clear_is_told_from_ciphertext() {
    let exp = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-opus-rtp.expected"),
    )
    .unwrap();
    assert!(exp.contains("a=rtpmap:96 opus/48000/2"), "{exp}");
    let v = verdict_of(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-opus-rtp.pcap"),
    );
    let media = v
        .flows
        .iter()
        .find(|f| f.rtp.as_ref().is_some_and(|r| !r.streams.is_empty()))
        .expect("the RTP flow");
    assert_eq!(media.encryption.state, "plaintext");
    for s in &media.rtp.as_ref().unwrap().streams {
        assert_eq!(s.payload_type, 96);
        assert_eq!(s.encrypted, Some(false));
        assert!(
            s.payload_entropy.unwrap() > 7.85,
            "compressed audio is high-entropy"
        );
        assert!(
            s.evidence
                .iter()
                .any(|e| e.contains("first payload byte is the same")),
            "{:?}",
            s.evidence
        );
    }
}

/// A real SIP call signalled over TCP (captures/make-baresip-calls.sh, `transport=tcp`): the SIP
/// messages and their SDP are read from the reassembled TCP stream and link the media.
#[test]
fn baresip_sip_over_tcp() {
    let v =
        verdict_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-tcp.pcap"));
    let sip = v
        .flows
        .iter()
        .find(|f| f.transport == "tcp" && f.protocols == ["sip"])
        .expect("SIP over TCP");
    assert_eq!(sip.encryption.state, "plaintext");
    let s = sip.sip.as_ref().unwrap();
    for m in ["INVITE", "200", "ACK", "BYE"] {
        assert!(s.methods.iter().any(|x| x == m), "{m} in {:?}", s.methods);
    }
    assert_eq!(s.media.len(), 2);
    assert!(s.media.iter().all(|m| m.proto == "RTP/AVP"));
    let media = v
        .flows
        .iter()
        .find(|f| f.protocols == ["rtp"])
        .expect("the RTP flow");
    assert_eq!(media.encryption.state, "plaintext");
    assert!(media.encryption.basis[0].contains("RTP/AVP"));
}

/// DNS over TCP and over UDP to a local dnsmasq (captures/make-dns-tcp.sh): the answers dig
/// printed are in the verdict, whichever transport carried them.
#[test]
fn dns_over_tcp_and_udp() {
    let exp = expected("dns-tcp.expected");
    let v = verdict_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/dns-tcp.pcap"));
    for (transport, name, answer) in [
        ("tcp", &exp["tcp_name"], &exp["tcp_answer"]),
        ("udp", &exp["udp_name"], &exp["udp_answer"]),
    ] {
        let f = v
            .flows
            .iter()
            .find(|f| f.transport == transport && f.protocols == ["dns"])
            .unwrap_or_else(|| panic!("DNS over {transport}"));
        assert_eq!(f.encryption.state, "plaintext");
        let d = f.dns.as_ref().unwrap();
        assert_eq!((d.queries, d.responses), (1, 1));
        assert_eq!(d.answers[0].name, *name);
        assert_eq!(d.answers[0].ip, *answer);
    }
}

/// The `sdp_line=` values of an expectations file (the map above keeps only the last).
fn sdp_lines(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("sdp_line="))
        .map(str::to_string)
        .collect()
}

/// The ports of the `m=KIND` lines among an expectations file's `sdp_line=` values.
fn sdp_ports(name: &str, kind: &str) -> Vec<u16> {
    sdp_lines(name)
        .iter()
        .filter_map(|l| l.strip_prefix(&format!("m={kind} ")))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// baresip calls with audio levels (RFC 6464, announced by `a=extmap`) and VP8 video: the
/// header extension IDs seen in clear are named from the SDP, the leak is a finding whether
/// the media is plain RTP or SDES-SRTP, and plain VP8 is recognised by its payload descriptor
/// and key-frame start code (ciphertext VP8 under SRTP is not).
#[test]
fn baresip_audio_levels_and_vp8() {
    for (name, encrypted) in [
        ("baresip-sip-vp8-audiolevel", false),
        ("baresip-sip-srtp-audiolevel", true),
    ] {
        let sdp = sdp_lines(&format!("{name}.expected"));
        // a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        let (id, uri) = sdp
            .iter()
            .find_map(|l| l.strip_prefix("a=extmap:"))
            .and_then(|m| m.split_once(' '))
            .map(|(id, uri)| (id.parse::<u8>().unwrap(), uri.to_string()))
            .expect("the SDP announced an extmap");
        assert_eq!(uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
        let media_port = |kind: &str| sdp_ports(&format!("{name}.expected"), kind);
        let v = verdict_of(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("captures/{name}.pcap")),
        );
        let on = |ports: &[u16]| {
            v.flows
                .iter()
                .filter(|f| ports.contains(&f.client.port) || ports.contains(&f.server.port))
                .filter(|f| f.rtp.as_ref().is_some_and(|r| !r.streams.is_empty()))
                .collect::<Vec<_>>()
        };
        let audio = on(&media_port("audio"));
        assert_eq!(audio.len(), 1, "{name}: one audio RTP flow");
        let r = audio[0].rtp.as_ref().unwrap();
        assert_eq!(r.clear_header_extensions.len(), 1, "{name}");
        let ext = &r.clear_header_extensions[0];
        assert_eq!(ext.id, id, "{name}");
        assert_eq!(ext.uri.as_deref(), Some(uri.as_str()), "{name}");
        assert_eq!(
            audio[0].encryption.state,
            if encrypted { "encrypted" } else { "plaintext" },
            "{name}"
        );
        let levels: Vec<_> = v
            .findings
            .iter()
            .filter(|f| f.rule == "audio-level-in-clear")
            .collect();
        assert_eq!(levels.len(), 1, "{name}");
        assert_eq!(levels[0].flows, vec![audio[0].id], "{name}");
        assert!(levels[0].detail.contains(&uri), "{name}");

        let video = on(&media_port("video"));
        assert_eq!(video.len(), 1, "{name}: one video RTP flow");
        let streams = &video[0].rtp.as_ref().unwrap().streams;
        assert_eq!(streams.len(), 2, "{name}: VP8 both ways");
        for s in streams {
            assert_eq!(s.payload_type, 96, "{name}: a=rtpmap:96 VP8/90000");
            let vp8 = s.evidence.iter().any(|e| e.starts_with("VP8 in clear"));
            assert_eq!(vp8, !encrypted, "{name}: {:?}", s.evidence);
            assert_eq!(s.encrypted, Some(encrypted), "{name}");
        }
    }
}

/// Plain HTTP carrying conferencing traffic (make-http-signalling.py: curl with a Zoom Host
/// header, a `websockets` client speaking SIP over ws://): the request is read, the Host
/// attributes the flow to Zoom by the vendor catalogue, and each case is its finding.
#[test]
fn http_to_a_service_and_sip_over_websocket_in_clear() {
    let exp = expected("http-signalling.expected");
    let v =
        verdict_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/http-signalling.pcap"));
    let port = |k: &str| exp[k].parse::<u16>().unwrap();
    let http = v
        .flows
        .iter()
        .find(|f| f.server.port == port("http.port"))
        .unwrap();
    let h = http.http.as_ref().unwrap();
    assert_eq!(h.method, exp["http.method"]);
    assert_eq!(h.host.as_deref(), Some(exp["http.host"].as_str()));
    assert_eq!(http.vendor.as_ref().unwrap().name, "Zoom");
    assert_eq!(http.encryption.state, "plaintext");
    let ws = v
        .flows
        .iter()
        .find(|f| f.server.port == port("ws.port"))
        .unwrap();
    assert_eq!(
        ws.http.as_ref().unwrap().websocket_protocol.as_deref(),
        Some(exp["ws.subprotocol"].as_str())
    );
    // the SIP messages inside the (permessage-deflate compressed) WebSocket messages
    let sip = ws.sip.as_ref().expect("SIP read from the WebSocket");
    assert_eq!(
        sip.methods,
        vec![exp["ws.sip_method"].clone(), "200".to_string()]
    );
    assert!(ws.protocols.iter().any(|p| p == "sip"));
    let raised = |rule: &str| -> Vec<u32> {
        v.findings
            .iter()
            .filter(|f| f.rule == rule)
            .flat_map(|f| f.flows.clone())
            .collect()
    };
    assert_eq!(raised("plaintext-http-to-service"), vec![http.id]);
    assert_eq!(raised("plaintext-signalling"), vec![ws.id]);
    assert_eq!(
        v.summary.as_ref().unwrap().transport_encryption.status,
        "fail"
    );
}

/// A WebRTC call relayed by coturn over TCP (make-aiortc-turn-tcp.py): the TCP connection to
/// the TURN port carries STUN/TURN and ChannelData, whose datagrams are the DTLS-SRTP call —
/// read as on UDP: DTLS version, cipher and SRTP profile as aiortc reported them, the media
/// relayed and encrypted, and as many RTP packets as on the relay's UDP leg to the callee.
#[test]
fn webrtc_relayed_by_turn_over_tcp() {
    let exp = expected("aiortc-turn-tcp-call.expected");
    let v = verdict_of(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/aiortc-turn-tcp-call.pcap"),
    );
    let turn_port: u16 = exp["turn.port"].parse().unwrap();
    let tcp = v
        .flows
        .iter()
        .find(|f| f.transport == "tcp" && f.server.port == turn_port)
        .expect("the TCP connection to the TURN server");
    for p in ["stun", "turn", "dtls", "srtp"] {
        assert!(
            tcp.protocols.iter().any(|x| x == p),
            "{p}: {:?}",
            tcp.protocols
        );
    }
    let stun = tcp.stun.as_ref().unwrap();
    assert!(stun.methods.iter().any(|m| m == "Allocate"));
    assert!(stun.channel_data > 0 && stun.relayed_datagrams == stun.channel_data);
    assert_eq!(tcp.media_path.as_deref(), Some("relayed"));
    let d = tcp.dtls.as_ref().unwrap();
    assert_eq!(d.version.as_deref(), Some("DTLS 1.2"));
    // OpenSSL's name for the suite aiortc reported, and the SRTP profile
    assert_eq!(exp["caller.cipher"], "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_eq!(
        d.cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    assert_eq!(
        d.srtp_profile.as_deref(),
        Some(exp["caller.srtp_profile"].as_str())
    );
    assert_eq!(tcp.encryption.state, "encrypted");
    // the relay's UDP leg to the callee carries the same media
    let leg = v
        .flows
        .iter()
        .find(|f| f.transport == "udp" && f.rtp.is_some())
        .expect("the relayed UDP leg");
    let count = |f: &callproof::verdict::Flow| -> u64 {
        f.rtp
            .as_ref()
            .unwrap()
            .streams
            .iter()
            .map(|s| s.packets)
            .sum()
    };
    assert_eq!(count(tcp), count(leg));
    assert!(
        tcp.rtp
            .as_ref()
            .unwrap()
            .streams
            .iter()
            .all(|s| s.encrypted == Some(true))
    );
    assert_eq!(v.summary.as_ref().unwrap().media_encryption.status, "pass");
}

#[test]
fn a_chain_longer_than_listed_counts_the_rest() {
    let exp = expected("long-chain.expected");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/long-chain.pcap");
    let v = verdict_of(&path);
    let port: u16 = exp["server_port"].parse().unwrap();
    let f = v.flows.iter().find(|f| f.server.port == port).unwrap();
    let tls = f.tls.as_ref().unwrap();
    assert_eq!(tls.version.as_deref(), Some(exp["version"].as_str()));
    assert_eq!(tls.cipher.as_deref(), Some(exp["cipher"].as_str()));
    assert_eq!(tls.sni.as_deref(), Some(exp["sni"].as_str()));
    // the leaf, then the intermediates from the one that signed it down to level 4
    let mut listed = vec![exp["leaf.sha256"].clone()];
    listed.extend(
        (4..=18)
            .rev()
            .map(|i| exp[&format!("level{i}.sha256")].clone()),
    );
    let seen: Vec<String> = tls.certificates.iter().map(|c| c.sha256.clone()).collect();
    assert_eq!(seen, listed);
    assert_eq!(tls.certificates[0].subject, exp["leaf.subject"]);
    let sent: u32 = exp["chain.sent"].parse().unwrap();
    assert_eq!(
        u32::try_from(seen.len()).unwrap() + tls.unlisted_certificates,
        sent,
        "every certificate the server sent is listed or counted"
    );
    assert!(tls.unlisted_certificates > 0);
    // tests/schema.rs validates this verdict (every bundled capture's) against the schema
}

/// SIP over TLS with SDES-SRTP (make-baresip-sip-tls.sh): the `a=crypto` keys travel inside
/// TLS, so no keying is in sight. The media is told to be SRTP by its length — every G.711
/// payload (one byte per timestamp tick) is longer than its samples by the suite's
/// authentication tag — and encrypted by that tag over payloads as uniform as ciphertext.
#[test]
fn sip_over_tls_srtp_is_shown_by_its_authentication_tag() {
    let exp = expected("baresip-sip-tls-srtp.expected");
    let media_ports = sdp_ports("baresip-sip-tls-srtp.expected", "audio");
    assert_eq!(media_ports.len(), 2);
    // RFC 4568 §6.2: the _80 and _32 suites end in an 80- or 32-bit tag
    let tag = match exp["srtp_suite"].rsplit('_').next().unwrap() {
        "80" => 10,
        "32" => 4,
        other => panic!("suite tag {other}"),
    };
    let v = verdict_of(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-tls-srtp.pcap"),
    );

    let tls_port: u16 = exp["sip_tls_port"].parse().unwrap();
    let signalling: Vec<_> = v
        .flows
        .iter()
        .filter(|f| f.transport == "tcp" && f.server.port == tls_port)
        .collect();
    assert_eq!(signalling.len(), 1, "the caller's SIP over TLS connection");
    assert_eq!(signalling[0].protocols, ["tls"]);
    assert_eq!(signalling[0].encryption.state, "encrypted");
    assert!(v.flows.iter().all(|f| f.sip.is_none()), "no SDP in sight");

    let media: Vec<_> = v
        .flows
        .iter()
        .filter(|f| media_ports.contains(&f.client.port) && media_ports.contains(&f.server.port))
        .collect();
    assert_eq!(media.len(), 1, "one RTP flow between the two m= ports");
    let m = media[0];
    assert_eq!(m.protocols, ["srtp"]);
    assert_eq!(m.encryption.state, "encrypted", "{:?}", m.encryption);
    assert!(
        m.encryption
            .protection
            .as_deref()
            .is_some_and(|p| p.starts_with(&format!("SRTP ({tag}-byte authentication tag"))),
        "{:?}",
        m.encryption
    );
    let streams = &m.rtp.as_ref().unwrap().streams;
    assert_eq!(streams.len(), 2, "PCMU both ways");
    for s in streams {
        assert_eq!(s.payload_type.to_string(), exp["codec_payload_type"]);
        assert_eq!(s.encrypted, Some(true), "{:?}", s.evidence);
        assert!(
            s.evidence
                .iter()
                .any(|e| e.contains(&format!("exceeds the timestamp step by {tag} bytes"))),
            "{:?}",
            s.evidence
        );
    }
    let rules: Vec<&str> = v.findings.iter().map(|f| &*f.rule).collect();
    for absent in [
        "plaintext-rtp",
        "sdes-keys-in-clear",
        "plaintext-signalling",
    ] {
        assert!(!rules.contains(&absent), "{absent}: {rules:?}");
    }
    assert_eq!(v.summary.unwrap().transport_encryption.status, "pass");
}

/// The plain G.711 call of baresip-sip-rtp.pcap without its SIP, with 10 bytes appended to
/// every RTP payload: what SRTP with an 80-bit tag and the NULL cipher would look like. The
/// tag makes it SRTP; the payload, clear G.711, makes it media in clear all the same. And the
/// unaltered call's payloads carry nothing over their samples.
#[test]
fn srtp_framing_around_clear_g711_is_media_in_clear() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/baresip-sip-rtp.pcap");
    let media_ports = sdp_ports("baresip-sip-rtp.expected", "audio");
    let plain = verdict_of(&path);
    let rtp_flow = |v: &callproof::verdict::Verdict| {
        v.flows
            .iter()
            .find(|f| media_ports.contains(&f.client.port) && media_ports.contains(&f.server.port))
            .cloned()
            .expect("the RTP flow")
    };
    for s in &rtp_flow(&plain).rtp.unwrap().streams {
        assert!(
            s.evidence
                .iter()
                .any(|e| e.contains("equals the timestamp step")
                    && e.ends_with("no SRTP authentication tag")),
            "{:?}",
            s.evidence
        );
    }

    // Ethernet (tcpdump on lo), IPv4, UDP: drop the SIP, lengthen the RTP
    let mut frames = Vec::new();
    let mut lengthened = 0;
    for (s, us, mut data) in common::pcap_frames(&path) {
        assert_eq!(&data[12..14], &[0x08, 0x00], "IPv4 over Ethernet");
        let ihl = usize::from(data[14] & 0x0F) * 4;
        let udp = 14 + ihl;
        assert_eq!(data[23], 17, "UDP");
        let port = |at: usize| u16::from_be_bytes([data[at], data[at + 1]]);
        let (src, dst) = (port(udp), port(udp + 2));
        if !(media_ports.contains(&src) && media_ports.contains(&dst)) {
            continue; // the SIP, and the RTCP on the next ports up
        }
        let payload = &data[udp + 8..];
        let rtcp = (192..=223).contains(&payload[1]);
        if !rtcp {
            data.extend_from_slice(&[0x5A, 0x17, 0xC3, 0x02, 0x99, 0xE1, 0x4B, 0x70, 0x0D, 0xA6]);
            for at in [16, udp + 4] {
                let n = u16::from_be_bytes([data[at], data[at + 1]]) + 10;
                data[at..at + 2].copy_from_slice(&n.to_be_bytes());
            }
            data[udp + 6..udp + 8].copy_from_slice(&[0, 0]); // no UDP checksum
            data[24..26].copy_from_slice(&[0, 0]);
            let sum: u32 = data[14..udp]
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum();
            let folded = (sum & 0xFFFF) + (sum >> 16);
            let checksum = !(((folded & 0xFFFF) + (folded >> 16)) as u16);
            data[24..26].copy_from_slice(&checksum.to_be_bytes());
            lengthened += 1;
        }
        frames.push((s, us, data));
    }
    assert!(lengthened > 500, "{lengthened}");
    let (_dir, altered) =
        common::temp_copy(&common::pcap_bytes(&frames, false, false), "null-srtp.pcap");
    let v = verdict_of(&altered);
    let m = rtp_flow(&v);
    assert_eq!(m.protocols, ["srtp"], "the tag is SRTP's framing");
    assert_eq!(m.encryption.state, "plaintext", "{:?}", m.encryption);
    for s in &m.rtp.as_ref().unwrap().streams {
        assert_eq!(s.encrypted, Some(false), "{:?}", s.evidence);
        assert!(
            s.evidence
                .iter()
                .any(|e| e.contains("exceeds the timestamp step by 10 bytes")),
            "{:?}",
            s.evidence
        );
    }
    let clear: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.rule == "plaintext-rtp")
        .collect();
    assert_eq!(clear.len(), 1, "{:?}", v.findings);
    assert_eq!(clear[0].flows, vec![m.id]);
    assert!(
        clear[0].detail.contains("SRTP in clear"),
        "{}",
        clear[0].detail
    );
}

/// TLS 1.3 encrypts the server's certificate; with the clients' key log
/// (captures/make-openssl-tls13-keylog.sh: four OpenSSL sessions, the fourth's secrets kept
/// out of the log) the verdict reads it. Expected facts come from OpenSSL; tshark, given the
/// same key log, decrypts the same three sessions.
#[test]
fn tls13_certificates_read_with_the_clients_key_log() {
    let exp = expected("openssl-tls13-keylog.expected");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join("openssl-tls13-keylog.pcap");
    let keys = dir.join("openssl-tls13-keylog.keys");
    let ports: Vec<u16> = exp["ports"]
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    let withheld: u16 = exp["withheld"].parse().unwrap();
    let mismatch_port = 44332;
    assert_eq!(exp[&format!("{mismatch_port}.sni")], "other.example");
    let tls_of = |v: &callproof::verdict::Verdict, port: u16| {
        let f = v.flows.iter().find(|f| f.server.port == port).unwrap();
        (f.id, f.tls.clone().unwrap())
    };

    // Without the key log: the certificates stay sealed, nothing is said of a key log.
    let plain = verdict_of(&capture);
    for &port in &ports {
        let (_, tls) = tls_of(&plain, port);
        assert_eq!(
            tls.cipher.as_deref(),
            Some(exp[&format!("{port}.cipher")].as_str())
        );
        assert!(tls.certificates.is_empty(), "port {port}");
        assert_eq!(tls.keylog, None);
        assert_eq!(tls.alpn_selected, None);
    }
    assert!(
        plain
            .findings
            .iter()
            .all(|f| f.rule != "certificate-name-mismatch")
    );

    let opened = common::verdict_with(&["--keylog".as_ref(), keys.as_os_str()], &capture);
    common::assert_schema_valid(&common::verdict_json_of(
        &capture,
        &["--keylog".as_ref(), keys.as_os_str()],
    ));
    for &port in &ports {
        let (id, tls) = tls_of(&opened, port);
        assert_eq!(
            tls.cipher.as_deref(),
            Some(exp[&format!("{port}.cipher")].as_str())
        );
        let mismatch = opened
            .findings
            .iter()
            .any(|f| f.rule == "certificate-name-mismatch" && f.flows.contains(&id));
        if port == withheld {
            assert_eq!(tls.keylog.as_deref(), Some("no-secret"));
            assert!(tls.certificates.is_empty());
            assert_eq!(tls.alpn_selected, None);
            assert!(!mismatch);
            continue;
        }
        assert_eq!(tls.keylog.as_deref(), Some("decrypted"), "port {port}");
        assert_eq!(
            tls.alpn_selected.as_deref(),
            Some(exp["alpn_selected"].as_str())
        );
        let chain = &tls.certificates;
        assert_eq!(chain.len(), 2, "port {port}");
        assert_eq!(chain[0].subject, exp["leaf.subject"]);
        assert_eq!(chain[0].sha256, exp["leaf.sha256"]);
        assert_eq!(chain[1].subject, exp["root.subject"]);
        assert_eq!(chain[1].sha256, exp["root.sha256"]);
        // other.example is not a name of the certificate: only the key log shows it.
        assert_eq!(mismatch, port == mismatch_port, "port {port}");
    }
}

/// Secrets saved after the packets (as `callproof live --keylog` saves them, each soon after
/// its handshake) still open the handshakes: a first block announces a key log, the
/// connections hold their encrypted handshake records until their secrets come.
#[test]
fn tls13_handshakes_wait_for_secrets_saved_after_them() {
    let exp = expected("openssl-tls13-keylog.expected");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let keys = std::fs::read(dir.join("openssl-tls13-keylog.keys")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let late = tmp.path().join("late.pcapng");
    let withheld: u16 = exp["withheld"].parse().unwrap();
    // one block, and a block per line (the blocks after the first are handed to the flows
    // together, not one by one)
    for one_block_per_line in [false, true] {
        common::with_key_log_after_the_packets(
            &dir.join("openssl-tls13-keylog.pcap"),
            &keys,
            one_block_per_line,
            &late,
        );
        let v = verdict_of(&late);
        let blocks = v.inputs[0].decryption_secrets_blocks;
        assert!(blocks > if one_block_per_line { 4 } else { 1 }, "{blocks}");
        let mut opened = 0;
        for f in &v.flows {
            let tls = f.tls.as_ref().unwrap();
            if f.server.port == withheld {
                assert_eq!(tls.keylog.as_deref(), Some("no-secret"));
                assert!(tls.certificates.is_empty());
                continue;
            }
            assert_eq!(
                tls.keylog.as_deref(),
                Some("decrypted"),
                "port {}",
                f.server.port
            );
            assert_eq!(
                tls.alpn_selected.as_deref(),
                Some(exp["alpn_selected"].as_str())
            );
            let chain: Vec<_> = tls.certificates.iter().map(|c| c.sha256.as_str()).collect();
            assert_eq!(
                chain,
                [exp["leaf.sha256"].as_str(), exp["root.sha256"].as_str()]
            );
            opened += 1;
        }
        assert_eq!(opened, 3);
    }
}

/// A key log whose secret does not match the session opens nothing: the records are
/// authenticated, so a wrong secret is told, and no certificate is made up.
#[test]
fn a_wrong_secret_opens_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join("openssl-tls13-keylog.pcap");
    let keys = std::fs::read_to_string(dir.join("openssl-tls13-keylog.keys")).unwrap();
    // flip the last hex digit of every server handshake secret
    let damaged: String = keys
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            if l.starts_with("SERVER_HANDSHAKE_TRAFFIC_SECRET ") {
                let last = if l.ends_with('0') { "1" } else { "0" };
                l.replace_range(l.len() - 1.., last);
            }
            l + "\n"
        })
        .collect();
    let (_tmp, wrong) = common::temp_copy(damaged.as_bytes(), "wrong.keys");
    let v = common::verdict_with(&["--keylog".as_ref(), wrong.as_os_str()], &capture);
    let states: Vec<_> = v
        .flows
        .iter()
        .map(|f| {
            let t = f.tls.as_ref().unwrap();
            assert!(t.certificates.is_empty());
            t.keylog.clone().unwrap()
        })
        .collect();
    assert_eq!(
        states.iter().filter(|s| *s == "undecryptable").count(),
        3,
        "{states:?}"
    );
    assert_eq!(states.iter().filter(|s| *s == "no-secret").count(), 1);
}

/// A key log that cannot be used stops the run before any capture is read, naming the file.
#[test]
fn an_unusable_key_log_is_an_input_error() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/openssl-tls13-keylog.pcap");
    let (_tmp, not_a_log) = common::temp_copy(b"CLIENT_RANDOM only\n", "other.keys");
    for keylog in [
        Path::new("/nonexistent/callproof.keys"),
        not_a_log.as_path(),
    ] {
        let o = std::process::Command::new(common::bin())
            .args(["analyze", "--keylog"])
            .arg(keylog)
            .arg(&capture)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&keylog.display().to_string()), "{err}");
        assert!(o.stdout.is_empty());
    }
}

/// The verdict names the key log its decrypted handshakes rest on — path, SHA-256 (as
/// coreutils' `sha256sum` gives it), sessions, lines that do not parse — so a reviewer can
/// repeat the analysis; a capture's own key log with a broken line is damage of that capture,
/// named by the byte offset of its block.
#[test]
fn the_verdict_names_the_key_log_its_handshakes_rest_on() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join("openssl-tls13-keylog.pcap");
    let keys = std::fs::read_to_string(dir.join("openssl-tls13-keylog.keys")).unwrap();
    let sessions = keys
        .lines()
        .filter(|l| l.starts_with("SERVER_HANDSHAKE_TRAFFIC_SECRET "))
        .count() as u64;
    assert_eq!(sessions, 3);
    let broken = format!("{keys}SERVER_HANDSHAKE_TRAFFIC_SECRET 00zz 00\n");
    let broken_line = keys.lines().count() as u64 + 1;
    let (_tmp, path) = common::temp_copy(broken.as_bytes(), "broken.keys");
    let sha256sum = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .unwrap();
    let expected_sha256 = String::from_utf8(sha256sum.stdout).unwrap()[..64].to_string();

    assert_eq!(verdict_of(&capture).keylog, None);
    let v = common::verdict_with(&["--keylog".as_ref(), path.as_os_str()], &capture);
    let named = v.keylog.as_ref().expect("the key log is named");
    assert_eq!(named.path, path.display().to_string());
    assert_eq!(named.sha256, expected_sha256);
    assert_eq!(named.bytes, broken.len() as u64);
    assert_eq!(named.sessions, sessions);
    assert_eq!(
        (named.malformed_lines, named.first_malformed_line),
        (1, Some(broken_line))
    );
    // four connections, one of whose secrets make-openssl-tls13-keylog.sh withholds
    let handshakes: Vec<(&str, u64)> = named
        .handshakes
        .iter()
        .map(|(state, n)| (state.as_str(), *n))
        .collect();
    assert_eq!(handshakes, [("decrypted", 3), ("no-secret", 1)]);
    let told = std::process::Command::new(common::bin())
        .args(["analyze", "--out", "/dev/null", "--keylog"])
        .arg(&path)
        .arg(&capture)
        .output()
        .unwrap();
    let told = String::from_utf8_lossy(&told.stderr);
    assert!(
        told.contains(&format!(
            "key log {}: 3 session(s); opened 3 of 4 TLS/DTLS 1.3 handshake(s) (1 no-secret)",
            path.display()
        )),
        "{told}"
    );
    let decrypted = |v: &callproof::verdict::Verdict| {
        v.flows
            .iter()
            .filter(|f| f.tls.as_ref().unwrap().keylog.as_deref() == Some("decrypted"))
            .count()
    };
    assert_eq!(decrypted(&v), 3, "the broken line spoils nothing else");
    assert!(
        v.inputs[0].damage.is_empty(),
        "a given key log is no capture damage"
    );
    common::assert_schema_valid(&common::verdict_json_of(
        &capture,
        &["--keylog".as_ref(), path.as_os_str()],
    ));

    // the same lines carried by the capture itself, one block per line
    let tmp = tempfile::tempdir().unwrap();
    let carried = tmp.path().join("carried.pcapng");
    common::with_key_log_after_the_packets(&capture, broken.as_bytes(), true, &carried);
    let v = verdict_of(&carried);
    // no key log file was given: the section sums up the blocks' secrets
    let carried_log = v.keylog.as_ref().expect("the blocks' key log is summed up");
    assert_eq!(
        carried_log.source.as_deref(),
        Some("decryption-secrets-blocks")
    );
    assert_eq!(carried_log.path, carried.display().to_string());
    assert_eq!(
        (carried_log.sessions, carried_log.malformed_lines),
        (sessions, 1)
    );
    assert_eq!(carried_log.handshakes, named.handshakes);
    assert_eq!(decrypted(&v), 3);
    let damage: Vec<_> = v.inputs[0].damage.iter().collect();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!(damage[0].kind, "malformed-key-log");
    assert_eq!(damage[0].count, 1);
    let at = damage[0].byte_offset.unwrap() as usize;
    let file = std::fs::read(&carried).unwrap();
    let block = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    assert_eq!(
        block(at),
        0x0000_000A,
        "a Decryption Secrets Block starts there"
    );
    let secrets = u32::from_le_bytes(file[at + 12..at + 16].try_into().unwrap()) as usize;
    assert_eq!(
        &file[at + 16..at + 16 + secrets],
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET 00zz 00\n"
    );
    assert!(
        v.findings
            .iter()
            .any(|f| f.rule == "capture-incomplete" && f.detail.contains("malformed-key-log")),
        "{:?}",
        v.findings
    );
    assert_eq!(v.summary.as_ref().unwrap().evidence_quality.status, "warn");
    common::assert_schema_valid(&common::verdict_json_of(&carried, &[]));
}

/// One line of aiortc-dtls-keylog.expected (`call key=value …` or `sent key=value …`).
fn expected_records(name: &str, kind: &str) -> Vec<HashMap<String, String>> {
    expected_text(name)
        .lines()
        .filter_map(|l| l.strip_prefix(kind)?.strip_prefix(' '))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The master secrets of an NSS key log's CLIENT_RANDOM lines, by client random (hex).
fn master_secrets(keys: &Path) -> HashMap<String, Vec<u8>> {
    std::fs::read_to_string(keys)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == "CLIENT_RANDOM").then_some(())?;
            Some((f.next()?.to_string(), hex::decode(f.next()?).ok()?))
        })
        .collect()
}

/// SRTP keys exported from the DTLS sessions of the key log open every RTP packet aiortc sent
/// (captures/make-aiortc-dtls-keylog.py: three calls, one per SRTP profile), and the payloads
/// in clear are those aiortc handed to libsrtp: the digest of each stream's payloads matches
/// the one the script recorded before encryption. An independent implementation (libsrtp)
/// protected the packets and OpenSSL exported the keys, so the exporter, the key derivation
/// and both ciphers are checked against them. Every SRTCP packet authenticates too and
/// decrypts into RTCP that tiles exactly.
#[test]
fn dtls_srtp_keys_from_the_key_log_open_what_libsrtp_protected() {
    use callproof::dissect::srtp::{self, PrfHash, Profile};
    use sha2::Digest;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let secrets = master_secrets(&dir.join("aiortc-dtls-keylog.keys"));
    // per SSRC: the session keys of its sender
    let mut keys_of: HashMap<u32, srtp::SessionKeys> = HashMap::new();
    let mut profiles = Vec::new();
    for call in expected_records("aiortc-dtls-keylog.expected", "call") {
        let profile = match call["srtp_profile"].as_str() {
            "SRTP_AEAD_AES_256_GCM" => Profile::AeadAes256Gcm,
            "SRTP_AEAD_AES_128_GCM" => Profile::AeadAes128Gcm,
            "SRTP_AES128_CM_SHA1_80" => Profile::AesCm128HmacSha1_80,
            other => panic!("profile {other}"),
        };
        profiles.push(profile);
        assert_eq!(call["cipher"], "ECDHE-ECDSA-AES128-GCM-SHA256");
        let client_random: [u8; 32] = hex::decode(&call["client_random"])
            .unwrap()
            .try_into()
            .unwrap();
        let server_random: [u8; 32] = hex::decode(&call["server_random"])
            .unwrap()
            .try_into()
            .unwrap();
        let masters = srtp::dtls_srtp_master_keys(
            profile,
            PrfHash::of_cipher_suite(0xC02B),
            &secrets[&call["client_random"]],
            &client_random,
            &server_random,
        );
        let side = usize::from(call["role"] == "server");
        let ssrc = u32::from_str_radix(call["ssrc"].trim_start_matches("0x"), 16).unwrap();
        keys_of.insert(
            ssrc,
            srtp::SessionKeys::derive(profile, &masters[side]).unwrap(),
        );
    }
    assert_eq!(keys_of.len(), 6);
    profiles.dedup();
    assert_eq!(profiles.len(), 3, "one call per profile");

    let mut opened: HashMap<u32, (u64, sha2::Sha256)> = HashMap::new();
    let mut scratch = Vec::new();
    let (mut rtcp_opened, mut with_sdes) = (0, 0);
    for (_, _, frame) in common::pcap_frames(&dir.join("aiortc-dtls-keylog.pcap")) {
        let Ok(p) = etherparse::SlicedPacket::from_ethernet(&frame) else {
            continue;
        };
        let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
            continue;
        };
        let b = udp.payload();
        let (ssrc, payload_offset) = match callproof::dissect::rtp::parse(b) {
            Some(callproof::dissect::rtp::Header::Rtp {
                ssrc,
                payload_offset,
                ..
            }) => (ssrc, payload_offset),
            Some(callproof::dissect::rtp::Header::Rtcp { sender_ssrc, .. }) => {
                // SRTCP: authenticated, and decrypted into a compound of RTCP packets that
                // tile it exactly (each V=2, its length in words)
                let Some(keys) = keys_of.get(&sender_ssrc) else {
                    continue;
                };
                assert!(keys.open_rtcp(b, &mut scratch), "SRTCP of {sender_ssrc:#x}");
                let plain: Vec<u8> = b[..8].iter().chain(&scratch).copied().collect();
                let mut at = 0;
                let mut types = Vec::new();
                while at + 4 <= plain.len() {
                    assert_eq!(plain[at] >> 6, 2, "{sender_ssrc:#x}: {plain:02x?}");
                    types.push(plain[at + 1]);
                    at += 4 * (usize::from(u16::from_be_bytes([plain[at + 2], plain[at + 3]])) + 1);
                }
                assert_eq!(at, plain.len(), "{sender_ssrc:#x}: the compound tiles");
                with_sdes += u32::from(types.contains(&202));
                rtcp_opened += 1;
                continue;
            }
            None => continue,
        };
        let Some(keys) = keys_of.get(&ssrc) else {
            continue;
        };
        assert!(
            keys.open_rtp(b, payload_offset, 0, &mut scratch),
            "ssrc {ssrc:#x} seq {}",
            u16::from_be_bytes([b[2], b[3]])
        );
        let entry = opened.entry(ssrc).or_default();
        entry.0 += 1;
        entry.1.update(&scratch);
    }
    for sent in expected_records("aiortc-dtls-keylog.expected", "sent") {
        let ssrc = u32::from_str_radix(sent["ssrc"].trim_start_matches("0x"), 16).unwrap();
        let (packets, digest) = opened.remove(&ssrc).unwrap_or_else(|| panic!("{ssrc:#x}"));
        assert_eq!(packets.to_string(), sent["packets"], "{ssrc:#x}");
        assert_eq!(
            hex::encode(digest.finalize()),
            sent["payload_sha256"],
            "{ssrc:#x}"
        );
    }
    assert!(opened.is_empty());
    assert!(rtcp_opened >= 18, "{rtcp_opened} SRTCP packets");
    // aiortc's reports carry its CNAME in an SDES packet, now readable
    assert!(with_sdes >= 6, "{with_sdes} with SDES");
}

/// `analyze --keylog` on the three aiortc calls: every DTLS-SRTP flow's media is opened with
/// the keys exported from its handshake, each stream's packets authenticate exactly as many
/// as aiortc sent, and the key log's record says so. Without the key log nothing claims to
/// be opened; with secrets that do not belong to the sessions every packet fails; with one
/// session's line missing that flow is `no-secret` and its packets unopened.
#[test]
fn dtls_srtp_media_opened_with_the_key_log() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join("aiortc-dtls-keylog.pcap");
    let keys = dir.join("aiortc-dtls-keylog.keys");
    let sent: HashMap<String, u64> = expected_records("aiortc-dtls-keylog.expected", "sent")
        .into_iter()
        .map(|s| (s["ssrc"].clone(), s["packets"].parse().unwrap()))
        .collect();
    let profiles: HashMap<String, String> = expected_records("aiortc-dtls-keylog.expected", "call")
        .into_iter()
        // OpenSSL's name of the CM profile leaves out "HMAC" (RFC 5764 §4.1.2 has it)
        .map(|c| {
            (
                c["ssrc"].clone(),
                c["srtp_profile"].replace("CM_SHA1", "CM_HMAC_SHA1"),
            )
        })
        .collect();
    let with_keys = |keys: &Path| {
        common::schema_valid_verdict_with(&["--keylog".as_ref(), keys.as_os_str()], &capture)
    };

    let v = with_keys(&keys);
    let k = v.keylog.as_ref().unwrap();
    assert_eq!((k.sessions, k.master_secrets), (0, 3));
    assert_eq!(k.srtp.get("opened"), Some(&3));
    assert_eq!(v.flows.len(), 3);
    for f in &v.flows {
        let rtp = f.rtp.as_deref().unwrap();
        let opened = rtp.srtp_keys.as_ref().unwrap();
        assert_eq!(opened.state, "opened");
        assert_eq!(opened.source, "dtls-key-log");
        assert_eq!(rtp.streams.len(), 2);
        for s in &rtp.streams {
            let packets = sent[&s.ssrc];
            assert_eq!(s.packets, packets, "{}", s.ssrc);
            assert_eq!(s.srtp_authenticated, Some(packets), "{}", s.ssrc);
            assert_eq!(s.srtp_failed_authentication, Some(0), "{}", s.ssrc);
            assert_eq!(profiles[&s.ssrc], opened.profile);
            assert!(s.evidence[0].starts_with("SRTP opened with the key log"));
        }
        assert_eq!(
            opened.packets_authenticated,
            rtp.streams.iter().map(|s| s.packets).sum::<u64>()
        );
        assert_eq!(opened.packets_failed_authentication, 0);
        assert_eq!(opened.rtcp_packets_authenticated, rtp.rtcp_packets);
        assert_eq!(opened.rtcp_packets_failed_authentication, 0);
        assert!(
            f.encryption
                .basis
                .iter()
                .any(|b| b.starts_with("SRTP opened with the key log"))
        );
    }

    // no key log: no keys, no claim
    let plain = verdict_of(&capture);
    for f in &plain.flows {
        let rtp = f.rtp.as_deref().unwrap();
        assert_eq!(rtp.srtp_keys, None);
        assert!(rtp.streams.iter().all(|s| s.srtp_authenticated.is_none()));
    }

    // secrets that are not these sessions': one hex digit of each master secret changed
    let text = std::fs::read_to_string(&keys).unwrap();
    let wrong: String = text
        .lines()
        .map(|l| {
            let (head, last) = l.split_at(l.len() - 1);
            format!("{head}{}\n", if last == "0" { "1" } else { "0" })
        })
        .collect();
    assert_ne!(wrong, text);
    let (_tmp, wrong_keys) = common::temp_copy(wrong.as_bytes(), "wrong.keys");
    let v = with_keys(&wrong_keys);
    assert_eq!(v.keylog.as_ref().unwrap().srtp.get("rejected"), Some(&3));
    for f in &v.flows {
        let rtp = f.rtp.as_deref().unwrap();
        let k = rtp.srtp_keys.as_ref().unwrap();
        assert_eq!(k.state, "rejected");
        assert_eq!(k.packets_authenticated, 0);
        assert_eq!(k.rtcp_packets_authenticated, 0);
        assert_eq!(k.rtcp_packets_failed_authentication, rtp.rtcp_packets);
        assert_eq!(
            k.packets_failed_authentication,
            rtp.streams.iter().map(|s| s.packets).sum::<u64>()
        );
    }

    // one session's lines left out
    let first_random = text.split_whitespace().nth(1).unwrap();
    let partial: String = text
        .lines()
        .filter(|l| !l.contains(first_random))
        .map(|l| format!("{l}\n"))
        .collect();
    let (_tmp2, partial_keys) = common::temp_copy(partial.as_bytes(), "partial.keys");
    let v = with_keys(&partial_keys);
    let k = v.keylog.as_ref().unwrap();
    assert_eq!(
        (k.srtp.get("opened"), k.srtp.get("no-secret")),
        (Some(&2), Some(&1))
    );
    let unopened = v
        .flows
        .iter()
        .filter_map(|f| f.rtp.as_deref())
        .find(|r| r.srtp_keys.as_ref().unwrap().state == "no-secret")
        .unwrap();
    let k = unopened.srtp_keys.as_ref().unwrap();
    assert_eq!(k.packets_authenticated + k.packets_failed_authentication, 0);
    assert_eq!(
        k.packets_unopened,
        unopened.streams.iter().map(|s| s.packets).sum::<u64>()
    );
    assert!(
        unopened
            .streams
            .iter()
            .all(|s| s.srtp_authenticated.is_none())
    );
}

/// A capture that carries its own key log (pcapng Decryption Secrets Block) opens its DTLS-SRTP
/// media without `--keylog` when the block comes before the media, as `editcap
/// --inject-secrets` puts it; when the block comes after the packets, the media has gone by
/// unopened and the verdict says so rather than claiming it opened or that no secret exists.
#[test]
fn dtls_srtp_media_opened_with_the_captures_own_key_log() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join("aiortc-dtls-keylog.pcap");
    let keys = std::fs::read(dir.join("aiortc-dtls-keylog.keys")).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    let first = tmp.path().join("secrets-first.pcapng");
    let mut once = Some(keys.clone());
    common::pcapng_with_secrets(&capture, &first, |_| once.take());
    let v = verdict_of(&first);
    assert_eq!(v.flows.len(), 3);
    for f in &v.flows {
        let rtp = f.rtp.as_deref().unwrap();
        let k = rtp.srtp_keys.as_ref().unwrap();
        assert_eq!(k.state, "opened");
        assert_eq!(
            (k.packets_authenticated, k.packets_failed_authentication),
            (rtp.streams.iter().map(|s| s.packets).sum::<u64>(), 0)
        );
    }

    let after = tmp.path().join("secrets-after.pcapng");
    common::with_key_log_after_the_packets(&capture, &keys, false, &after);
    let v = verdict_of(&after);
    for f in &v.flows {
        let rtp = f.rtp.as_deref().unwrap();
        let k = rtp.srtp_keys.as_ref().unwrap();
        assert_eq!(k.state, "secret-after-media");
        assert_eq!(k.packets_authenticated + k.packets_failed_authentication, 0);
        assert_eq!(
            k.packets_unopened,
            rtp.streams.iter().map(|s| s.packets).sum::<u64>()
        );
        assert!(f.encryption.basis.iter().any(|b| b.contains("had gone by")));
    }
}

/// Firefox (ESR 153) negotiates DTLS 1.3 for WebRTC: everything after its ServerHello is
/// encrypted, `use_srtp`'s answer and the certificate included. Its key log
/// (captures/make-firefox-dtls13-keylog.py) opens the server's handshake records with
/// SERVER_HANDSHAKE_TRAFFIC_SECRET (RFC 9147: record numbers masked, "dtls13" labels), which
/// gives the selected SRTP profile and the certificate — the SHA-256 the sending peer's SDP
/// announced in a=fingerprint — and EXPORTER_SECRET exports the media keys (RFC 8446 §7.5):
/// every RTP packet Firefox says it sent, and every SRTCP packet libsrtp authenticates under
/// keys the capture script exported on its own, authenticates. Without EXPORTER_SECRET the
/// profile is still read and the media stays unopened (`no-secret`); without the handshake
/// secret nothing of the media is claimed, since the profile stays unknown.
#[test]
fn firefox_dtls13_key_log_opens_the_handshake_and_the_media() {
    let facts = expected("firefox-dtls13-keylog.expected");
    assert_eq!(facts["dtls_cipher"], "TLS_AES_128_GCM_SHA256");
    assert_firefox_dtls13_call_opens_with_its_key_log("firefox-dtls13-keylog");
}

/// The same Firefox call with DTLS 1.3 over TLS_CHACHA20_POLY1305_SHA256
/// (`make-firefox-dtls13-keylog.py --chacha20`), as Firefox runs it towards a peer that
/// prefers ChaCha20: its record numbers are masked with a ChaCha20 block keyed by the first
/// 16 ciphertext bytes (RFC 9147 §4.2.3) instead of an AES block. Before, this handshake was
/// `unsupported-cipher` and the media unopened.
#[test]
fn firefox_dtls13_chacha20_key_log_opens_the_handshake_and_the_media() {
    let facts = expected("firefox-dtls13-chacha20-keylog.expected");
    assert_eq!(facts["dtls_cipher"], "TLS_CHACHA20_POLY1305_SHA256");
    assert_firefox_dtls13_call_opens_with_its_key_log("firefox-dtls13-chacha20-keylog");
}

/// A Firefox DTLS 1.3 call of `make-firefox-dtls13-keylog.py` (`name`: the capture's name
/// without extension) opens with its key log as its `.expected` says; without the exporter
/// secret the media stays unopened; without the handshake secret the media opens under the
/// profile found by trial (Firefox's own srtpCipher), and with another session's exporter
/// secret no profile opens it — said without naming a profile as fact.
fn assert_firefox_dtls13_call_opens_with_its_key_log(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join(format!("{name}.pcap"));
    let keys = dir.join(format!("{name}.keys"));
    let expected_file = format!("{name}.expected");
    let facts = expected(&expected_file);
    let sent: HashMap<String, u64> = expected_records(&expected_file, "sent")
        .into_iter()
        .map(|s| (s["ssrc"].clone(), s["packets"].parse().unwrap()))
        .collect();
    let libsrtp = expected_records(&expected_file, "libsrtp");
    let srtcp: u64 = libsrtp
        .iter()
        .filter_map(|r| r.get("srtcp_authenticated")?.parse::<u64>().ok())
        .sum();
    for r in libsrtp.iter().filter(|r| r.contains_key("ssrc")) {
        assert_eq!(
            r["rtp_authenticated"].parse::<u64>().unwrap(),
            sent[&r["ssrc"]]
        );
    }
    assert_eq!(facts["sender_dtls_role"], "server");
    let with_keys = |keys: &Path| {
        common::schema_valid_verdict_with(&["--keylog".as_ref(), keys.as_os_str()], &capture)
    };

    let v = with_keys(&keys);
    let k = v.keylog.as_ref().unwrap();
    assert_eq!(
        (k.sessions, k.master_secrets, k.exporter_secrets),
        (1, 0, 1)
    );
    assert_eq!(k.handshakes.get("decrypted"), Some(&1));
    assert_eq!(k.srtp.get("opened"), Some(&1));
    let media: Vec<_> = v.flows.iter().filter(|f| f.dtls.is_some()).collect();
    assert_eq!(media.len(), 1);
    let f = media[0];
    let d = f.dtls.as_deref().unwrap();
    assert_eq!(d.version.as_deref(), Some("DTLS 1.3"));
    assert_eq!(d.cipher.as_deref(), Some(facts["dtls_cipher"].as_str()));
    assert_eq!(d.keylog.as_deref(), Some("decrypted"));
    assert_eq!(
        d.srtp_profile.as_deref(),
        Some(facts["srtp_cipher"].as_str())
    );
    let certs: Vec<&str> = d.certificates.iter().map(|c| c.sha256.as_str()).collect();
    assert_eq!(certs, [facts["sender_certificate_sha256"].as_str()]);
    let rtp = f.rtp.as_deref().unwrap();
    let opened = rtp.srtp_keys.as_ref().unwrap();
    assert_eq!(
        (opened.source.as_ref(), opened.state.as_ref()),
        ("dtls-key-log", "opened")
    );
    assert_eq!(opened.profile, facts["srtp_cipher"]);
    assert_eq!(rtp.streams.len(), sent.len());
    for s in &rtp.streams {
        assert_eq!(s.packets, sent[&s.ssrc], "{}", s.ssrc);
        assert_eq!(s.srtp_authenticated, Some(s.packets), "{}", s.ssrc);
        assert_eq!(s.srtp_failed_authentication, Some(0), "{}", s.ssrc);
        assert_eq!(s.direction, "server_to_client", "the DTLS server sends");
    }
    assert_eq!(
        (
            opened.rtcp_packets_authenticated,
            opened.rtcp_packets_failed_authentication
        ),
        (srtcp, 0)
    );
    common::assert_basis_mentions(f, "exporter secret (EXPORTER_SECRET)");

    let key_text = std::fs::read_to_string(&keys).unwrap();
    let without = |label: &str| {
        let kept: String = key_text
            .lines()
            .filter(|l| !l.starts_with(label))
            .map(|l| format!("{l}\n"))
            .collect();
        common::temp_copy(kept.as_bytes(), "keys.txt")
    };

    // the handshake opened, the media not: the profile is known, the exporter secret is not
    let (_tmp, no_exporter) = without("EXPORTER_SECRET");
    let v = with_keys(&no_exporter);
    let f = dtls_flow(&v);
    assert_eq!(
        f.dtls.as_deref().unwrap().keylog.as_deref(),
        Some("decrypted")
    );
    let k = f.rtp.as_deref().unwrap().srtp_keys.as_ref().unwrap();
    assert_eq!(k.state, "no-secret");
    assert_eq!(
        k.packets_unopened,
        sent.values().sum::<u64>(),
        "every RTP packet went by unopened"
    );
    assert_eq!(k.rtcp_packets_unopened, srtcp);

    // no handshake secret: the profile stays encrypted; the exporter secret opens the media
    // under the offered profile whose keys authenticate its first packet (Firefox's own
    // srtpCipher), and every packet as with the whole key log
    let (_tmp, no_handshake) = without("SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let v = with_keys(&no_handshake);
    let f = dtls_flow(&v);
    let d = f.dtls.as_deref().unwrap();
    assert_eq!(d.keylog.as_deref(), Some("no-secret"));
    assert!(d.certificates.is_empty() && d.srtp_profile.is_none());
    assert!(d.srtp_profiles_offered.len() > 1, "a trial among several");
    let rtp = f.rtp.as_deref().unwrap();
    let k = rtp.srtp_keys.as_ref().unwrap();
    assert_eq!(
        (k.state.as_ref(), k.profile_found_by_trial),
        ("opened", Some(true))
    );
    assert_eq!(k.profile, facts["srtp_cipher"]);
    assert_eq!(
        (k.packets_authenticated, k.rtcp_packets_authenticated),
        (sent.values().sum::<u64>(), srtcp)
    );
    assert!(
        rtp.streams
            .iter()
            .all(|s| s.srtp_authenticated == Some(s.packets))
    );
    common::assert_basis_mentions(f, "found by trial among the profiles the client offered");
    // the profile is one of those offered, all of which encrypt
    assert_eq!(f.encryption.state, "encrypted");
    common::assert_basis_mentions(f, "every profile the client offered encrypts the media");

    // another session's exporter secret under this session's client random: no offered
    // profile's keys open the media, and the verdict says so without naming a profile as fact
    let other = if name.contains("chacha20") {
        "firefox-dtls13-keylog"
    } else {
        "firefox-dtls13-chacha20-keylog"
    };
    let other_exporter = std::fs::read_to_string(dir.join(format!("{other}.keys")))
        .unwrap()
        .lines()
        .find_map(|l| {
            Some(
                l.strip_prefix("EXPORTER_SECRET ")?
                    .split_once(' ')?
                    .1
                    .to_string(),
            )
        })
        .unwrap();
    let swapped: String = key_text
        .lines()
        .filter(|l| !l.starts_with("SERVER_HANDSHAKE_TRAFFIC_SECRET"))
        .map(|l| match l.strip_prefix("EXPORTER_SECRET ") {
            Some(rest) => format!(
                "EXPORTER_SECRET {} {other_exporter}\n",
                rest.split(' ').next().unwrap()
            ),
            None => format!("{l}\n"),
        })
        .collect();
    let (_tmp, swapped) = common::temp_copy(swapped.as_bytes(), "swapped.txt");
    let v = with_keys(&swapped);
    let f = dtls_flow(&v);
    let k = f.rtp.as_deref().unwrap().srtp_keys.as_ref().unwrap();
    assert_eq!(
        (k.state.as_ref(), k.profile_found_by_trial),
        ("rejected", Some(false))
    );
    assert_eq!(k.packets_authenticated, 0);
    common::assert_basis_mentions(f, "none of the first 64 RTP packets authenticated");
}

/// The DTLS 1.3 call with its key log in a Decryption Secrets Block that comes after the
/// server's encrypted handshake flight and before the media, a first block (another session's
/// secret) before everything: as `live --keylog` meets a browser's key log, followed from the
/// start and given the session's lines after its handshake went by. The server's records were
/// held while the secret was missing and are opened when it arrives, so the SRTP profile is
/// read and the media opens; the packets that went by before the block reached the flow
/// (blocks after the first are applied together, within 1,024 frames) are counted unopened,
/// none lost from the count.
#[test]
fn dtls13_handshake_held_until_its_secret_arrives() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let capture = dir.join("firefox-dtls13-keylog.pcap");
    let keys = std::fs::read(dir.join("firefox-dtls13-keylog.keys")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let late = tmp.path().join("secrets-late.pcapng");
    let other_session = format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "cd".repeat(48));
    let mut first_block = Some(other_session.into_bytes());
    let (mut dtls_seen, mut injected) = (false, false);
    common::pcapng_with_secrets(&capture, &late, |data| {
        // Linux cooked v2 header (20), IPv4 (20), UDP (8): the first payload byte
        let first = data.get(20 + 20 + 8).copied().unwrap_or(0);
        dtls_seen |= (20..=63).contains(&first);
        if first_block.is_some() {
            return first_block.take();
        }
        if dtls_seen && !injected && (128..=191).contains(&first) {
            injected = true;
            return Some(keys.clone());
        }
        None
    });
    assert!(injected);
    let v = verdict_of(&late);
    let f = dtls_flow(&v);
    let d = f.dtls.as_deref().unwrap();
    assert_eq!(d.keylog.as_deref(), Some("decrypted"));
    assert_eq!(d.srtp_profile.as_deref(), Some("SRTP_AEAD_AES_128_GCM"));
    assert_eq!(d.certificates.len(), 1);
    let rtp = f.rtp.as_deref().unwrap();
    let k = rtp.srtp_keys.as_ref().unwrap();
    assert_eq!(k.state, "opened");
    assert!(
        k.packets_authenticated > 0 && k.packets_unopened > 0,
        "{k:?}"
    );
    assert_eq!(k.packets_failed_authentication, 0);
    assert_eq!(
        k.packets_authenticated + k.packets_unopened,
        rtp.streams.iter().map(|s| s.packets).sum::<u64>()
    );
    common::assert_basis_mentions(f, "went by before the key log held the exporter secret");
}

/// SDES keys in clear SIP (captures/make-baresip-media.sh, `mediaenc=srtp-mand`) open the media
/// they key, as they would for any eavesdropper: every RTP packet libsrtp protected in the
/// baresip calls authenticates under the key its sender announced. With one side's key changed
/// in the capture, that side's stream fails and the other still opens: each SDP's key protects
/// what its own sender sends (RFC 4568 §6.1). Keys sent over SIP over TLS are not seen, and
/// nothing is claimed opened.
///
/// baresip sends RTCP without rtcp-mux, to the media port plus one (no `a=rtcp`): each RTCP
/// flow carries 4 RTCP datagrams in clear (an APP "PING" keep-alive each way at the start, a
/// report and BYE each way at hang-up) and 4 SRTCP packets (an APP keep-alive and a report each
/// way), all 4 of which libsrtp 2 (pylibsrtp 1.0, `unprotect_rtcp` with the SDP keys) authenticates.
/// The answerer's first SRTCP packet (frame 4 of the SDES call) precedes the 200 OK that
/// announces its key (frame 5): it is counted as unopened, and the flow, which opened knowing
/// the offerer's key only, takes the answerer's when it is announced (its report, frame 509,
/// opens).
#[test]
fn sdes_keys_in_clear_sip_open_the_media() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    for (name, media_flows) in [
        ("baresip-sip-sdes-srtp.pcap", 1),
        ("baresip-sip-srtp-audiolevel.pcap", 2),
    ] {
        let json = common::verdict_json_of(&dir.join(name), &[]);
        common::assert_schema_valid(&json);
        let v: callproof::verdict::Verdict = serde_json::from_value(json).unwrap();
        let opened: Vec<_> = v
            .flows
            .iter()
            .filter_map(|f| f.rtp.as_deref())
            .filter(|r| !r.streams.is_empty())
            .collect();
        assert_eq!(opened.len(), media_flows, "{name}");
        for rtp in opened {
            let k = rtp.srtp_keys.as_ref().unwrap();
            assert_eq!(
                (k.source.as_ref(), k.profile.as_str(), k.state.as_ref()),
                ("sdes-in-clear", "SRTP_AES128_CM_HMAC_SHA1_80", "opened"),
                "{name}"
            );
            for s in &rtp.streams {
                assert_eq!(s.srtp_authenticated, Some(s.packets), "{name} {}", s.ssrc);
                assert_eq!(s.srtp_failed_authentication, Some(0), "{name} {}", s.ssrc);
            }
        }
        // RTCP ports of their own: SRTCP opened, RTCP in clear neither opened nor failed
        let rtcp_flows: Vec<_> = v
            .flows
            .iter()
            .filter_map(|f| f.rtp.as_deref())
            .filter(|r| r.streams.is_empty() && r.rtcp_packets > 0)
            .collect();
        assert_eq!(rtcp_flows.len(), media_flows, "{name}");
        for rtp in rtcp_flows {
            let k = rtp.srtp_keys.as_ref().expect("keys on the RTCP port");
            assert_eq!(
                (k.source.as_ref(), k.state.as_ref()),
                ("sdes-in-clear", "opened")
            );
            assert_eq!((rtp.rtcp_packets, rtp.rtcp_in_clear), (8, 4), "{name}");
            assert_eq!(
                (
                    k.rtcp_packets_authenticated,
                    k.rtcp_packets_unopened,
                    k.rtcp_packets_failed_authentication
                ),
                (3, 1, 0),
                "{name}"
            );
        }
        // no key log was given: the key log record stays absent
        assert!(v.keylog.is_none());
    }

    // the first a=crypto key in the capture, one base64 digit changed
    let original = std::fs::read(dir.join("baresip-sip-sdes-srtp.pcap")).unwrap();
    let at = original.windows(7).position(|w| w == b"inline:").unwrap() + 7;
    let mut changed = original.clone();
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let announced_port: u16 = {
        // the m=audio line of the SDP that carried the changed key
        let text = String::from_utf8_lossy(&original[..at]);
        let m = text.rfind("m=audio ").unwrap();
        text[m + 8..].split(' ').next().unwrap().parse().unwrap()
    };
    let (_tmp, path) = common::temp_copy(&changed, "changed-key.pcap");
    let v = verdict_of(&path);
    let f = v
        .flows
        .iter()
        .find(|f| f.rtp.as_ref().is_some_and(|r| !r.streams.is_empty()))
        .unwrap();
    let from_changed_side = if f.client.port == announced_port {
        "client_to_server"
    } else {
        assert_eq!(f.server.port, announced_port);
        "server_to_client"
    };
    for s in &f.rtp.as_ref().unwrap().streams {
        let (opened, failed) = if s.direction == from_changed_side {
            (0, s.packets)
        } else {
            (s.packets, 0)
        };
        assert_eq!(s.srtp_authenticated, Some(opened), "{}", s.direction);
        assert_eq!(
            s.srtp_failed_authentication,
            Some(failed),
            "{}",
            s.direction
        );
    }
    // its RTCP port: the changed side's two SRTCP packets fail, the other side's report opens
    let rtcp = v
        .flows
        .iter()
        .filter_map(|f| f.rtp.as_deref())
        .find(|r| r.streams.is_empty() && r.rtcp_packets > 0)
        .and_then(|r| r.srtp_keys.as_ref())
        .unwrap();
    assert_eq!(
        (
            rtcp.rtcp_packets_authenticated,
            rtcp.rtcp_packets_failed_authentication,
            rtcp.rtcp_packets_unopened
        ),
        (1, 2, 1)
    );

    // the same in a flow table that keeps its flows (the live capture's kind, which registers
    // the keys itself rather than as it hands out SDP lines)
    let path = dir.join("baresip-sip-sdes-srtp.pcap");
    let kept = callproof::analyze::analyze_reader(
        &path,
        std::fs::File::open(&path).unwrap(),
        &callproof::analyze::Options::default(),
    )
    .unwrap();
    let keys: Vec<_> = kept
        .flows
        .iter()
        .filter_map(|f| f.udp.as_ref()?.srtp_keys.as_deref())
        .collect();
    assert_eq!(keys.len(), 2, "the media flow and its RTCP flow");
    let opened: Vec<_> = keys
        .iter()
        .map(|k| {
            (
                k.authenticated(),
                k.failed(),
                k.rtcp_authenticated,
                k.rtcp_failed,
                k.rtcp_unopened,
            )
        })
        .collect();
    assert!(opened.contains(&(602, 0, 0, 0, 0)), "{opened:?}");
    assert!(opened.contains(&(0, 0, 3, 0, 1)), "{opened:?}");

    // SIP over TLS: the keys are encrypted, nothing is opened
    let tls = verdict_of(&dir.join("baresip-sip-tls-srtp.pcap"));
    assert!(
        tls.flows
            .iter()
            .filter_map(|f| f.rtp.as_deref())
            .all(|r| r.srtp_keys.is_none())
    );
}

/// One of the Firefox calls `make-firefox-dtls13-keylog.py` made: its capture, its key log,
/// and its .expected.
struct FirefoxCall {
    capture: std::path::PathBuf,
    keys: std::path::PathBuf,
    expected_file: String,
}

impl FirefoxCall {
    fn named(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        Self {
            capture: dir.join(format!("{name}.pcap")),
            keys: dir.join(format!("{name}.keys")),
            expected_file: format!("{name}.expected"),
        }
    }

    /// The call's verdict with its key log (schema-checked).
    fn verdict_with_key_log(&self) -> callproof::verdict::Verdict {
        common::schema_valid_verdict_with(
            &["--keylog".as_ref(), self.keys.as_os_str()],
            &self.capture,
        )
    }

    /// A number per SSRC from the .expected lines of `kind`: the `field` of each line that
    /// names an SSRC.
    fn per_ssrc(&self, kind: &str, field: &str) -> HashMap<String, u64> {
        expected_records(&self.expected_file, kind)
            .into_iter()
            .filter_map(|r| Some((r.get("ssrc")?.clone(), r.get(field)?.parse().ok()?)))
            .collect()
    }
}

/// The flow of a verdict that carries DTLS (the calls' one media flow).
fn dtls_flow(v: &callproof::verdict::Verdict) -> &callproof::verdict::Flow {
    v.flows.iter().find(|f| f.dtls.is_some()).unwrap()
}

/// Jitsi Meet's E2EE under SRTP, seen with the key log: the Firefox call of
/// `make-firefox-dtls13-keylog.py --frame-e2ee` encrypts each encoded frame again before SRTP
/// (an RTCRtpScriptTransform worker writing Jitsi's frame format: AES-GCM, then the IV — the
/// frame's SSRC and RTP timestamp, a send counter —, its length and a key index), and the
/// receiving peer connection decrypts every frame. With the key log SRTP opens, and every
/// opened payload ends with that trailer: as many packets as libsrtp's plaintext shows (the
/// script's own count) and as frames the worker encrypted. The same call without the inner
/// layer shows none, and says which layers were looked for; without the key log nothing is
/// said of an inner layer. Through a vendor's media server the E2EE answer stays `unknown`
/// (the inner layer's keys are not on the wire) but names the inner layer it saw.
#[test]
fn jitsi_frame_e2ee_under_srtp_is_seen_with_the_key_log() {
    let call = FirefoxCall::named("firefox-dtls13-frame-e2ee-keylog");
    let (capture, keys) = (&call.capture, &call.keys);
    let per_ssrc = |kind: &str, field: &str| call.per_ssrc(kind, field);
    let (sent, received) = (per_ssrc("frames", "sent"), per_ssrc("frames", "received"));
    let trailers = per_ssrc("libsrtp", "frame_trailers");
    assert_eq!(sent, received, "the receiver decrypted every frame");
    assert!(per_ssrc("frames", "failed").is_empty());
    assert_eq!(sent.len(), 2);
    let with = |options: &[&std::ffi::OsStr], capture: &Path| {
        common::schema_valid_verdict_with(options, capture)
    };

    let v = with(&["--keylog".as_ref(), keys.as_os_str()], capture);
    let f = dtls_flow(&v);
    let streams = &f.rtp.as_deref().unwrap().streams;
    assert_eq!(streams.len(), 2);
    for s in streams {
        assert_eq!(s.srtp_authenticated, Some(s.packets), "{}", s.ssrc);
        assert_eq!(s.inner_e2ee_layers, ["jitsi-meet-e2ee"]);
        assert_eq!(s.inner_e2ee_packets, Some(trailers[&s.ssrc]), "{}", s.ssrc);
        // one frame a packet in this call (small video frames, audio)
        assert_eq!(s.inner_e2ee_packets, Some(sent[&s.ssrc]), "{}", s.ssrc);
        assert!(
            s.evidence[1].contains("frame trailer of Jitsi Meet's E2EE"),
            "{:?}",
            s.evidence
        );
    }
    let server = f.server.ip.to_string();

    // no key log: nothing is said of an inner layer
    let v = with(&[], capture);
    let f = dtls_flow(&v);
    for s in &f.rtp.as_deref().unwrap().streams {
        assert_eq!(s.inner_e2ee_packets, None);
        assert!(!s.evidence.iter().any(|e| e.starts_with("inner layer")));
    }

    // the same call without the inner layer: SRTP opens, no trailer
    let plain_call = FirefoxCall::named("firefox-dtls13-keylog");
    let (plain, plain_keys) = (&plain_call.capture, &plain_call.keys);
    let v = with(&["--keylog".as_ref(), plain_keys.as_os_str()], plain);
    let f = dtls_flow(&v);
    for s in &f.rtp.as_deref().unwrap().streams {
        assert_eq!(s.srtp_authenticated, Some(s.packets));
        assert_eq!(s.inner_e2ee_packets, Some(0));
        assert!(s.evidence[1].contains("none of the"), "{:?}", s.evidence);
        assert!(s.inner_e2ee_layers.is_empty());
    }

    // the far end made a vendor's media server: the E2EE answer names the inner layer
    let reason = inner_layer_through_vendor_media_server(capture, keys, &server);
    assert!(reason.contains("only the participants hold its keys the capture cannot show"));
    through_vendor_media_server(
        plain,
        plain_keys,
        &server,
        "unless an inner end-to-end layer exists",
        "unverifiable",
    );
}

/// The call of `capture` opened with `keys`, its far end `server` made a vendor's media server
/// (a catalogue naming its address, with an E2EE claim): the E2EE answer stays unknown and its
/// reason contains `answer`; the claim has `claim_status` (consistent with an inner layer in
/// every stream, unverifiable without). Returns the claim's reason.
fn through_vendor_media_server(
    capture: &Path,
    keys: &Path,
    server: &str,
    answer: &str,
    claim_status: &str,
) -> String {
    let catalogue = format!(
        r#"{{"name": "test", "version": "1", "vendors": [{{"id": "sfu", "name": "SFU",
            "operator": "test", "jurisdiction": "DE", "ip_ranges": ["{server}/32"],
            "sources": ["test"], "claims": [{{"claim": "e2ee", "statement": "E2EE",
            "source": "test", "date": "2026-11"}}]}}]}}"#
    );
    let (_tmp, catalogue) = common::temp_copy(catalogue.as_bytes(), "vendors.json");
    let options = [
        "--keylog".as_ref(),
        keys.as_os_str(),
        "--vendors".as_ref(),
        catalogue.as_os_str(),
    ];
    let v = common::schema_valid_verdict_with(&options, capture);
    let f = dtls_flow(&v);
    assert_eq!(f.media_path.as_deref(), Some("server"));
    let e2ee = v.summary.unwrap().e2ee;
    assert_eq!(e2ee.status, "unknown");
    assert!(e2ee.reason.contains(answer), "{}", e2ee.reason);
    let claim = v.claims.iter().find(|c| c.claim == "e2ee").unwrap();
    assert_eq!(claim.status, claim_status, "{}", claim.reason);
    claim.reason.clone()
}

/// [`through_vendor_media_server`] for a call whose every opened stream carries an inner
/// layer: the e2ee answer names the flow, and the vendor's claim is consistent.
fn inner_layer_through_vendor_media_server(capture: &Path, keys: &Path, server: &str) -> String {
    through_vendor_media_server(
        capture,
        keys,
        server,
        "1 of them carry an inner end-to-end layer",
        "consistent",
    )
}

/// Jitsi Meet's E2EE through a media server that rewrites the RTP header, seen with the key
/// log: `make-firefox-dtls13-keylog.py --frame-e2ee --rewritten-iv` writes each trailer's IV
/// with the SSRC XOR 0x5a5a5a5a and the timestamp plus 0x10000 (the .expected says so), as a
/// participant receives trailers through a bridge that rewrote SSRCs and timestamps (simulated
/// on the sending side: no bridge here); the receiver opens every frame. No trailer names its
/// packet, yet every one libsrtp's plaintext shows is counted, the evidence names the IV's
/// SSRC and offset, and through a vendor's media server the e2ee claim is consistent.
#[test]
fn jitsi_frame_e2ee_behind_a_rewriting_media_server_is_seen_with_the_key_log() {
    let call = FirefoxCall::named("firefox-dtls13-frame-e2ee-rewritten-iv-keylog");
    let (capture, keys, expected_file) = (&call.capture, &call.keys, &call.expected_file);
    let per_ssrc = |kind: &str, field: &str| call.per_ssrc(kind, field);
    let shift = expected_records(expected_file, "frame_e2ee")
        .into_iter()
        .find(|r| r.contains_key("iv_ssrc_xor"))
        .unwrap();
    let hex = |v: &str| u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
    let (xor, add) = (hex(&shift["iv_ssrc_xor"]), hex(&shift["iv_timestamp_add"]));
    let (sent, received) = (per_ssrc("frames", "sent"), per_ssrc("frames", "received"));
    assert_eq!(sent, received, "the receiver decrypted every frame");
    let trailers = per_ssrc("libsrtp", "frame_trailers");

    let v = call.verdict_with_key_log();
    let f = dtls_flow(&v);
    let streams = &f.rtp.as_deref().unwrap().streams;
    assert_eq!(streams.len(), 2);
    for s in streams {
        assert_eq!(s.srtp_authenticated, Some(s.packets), "{}", s.ssrc);
        assert_eq!(s.inner_e2ee_packets, Some(trailers[&s.ssrc]), "{}", s.ssrc);
        assert_eq!(s.inner_e2ee_layers, ["jitsi-meet-e2ee"]);
        let line = &s.evidence[1];
        let iv_ssrc = format!("SSRC {:#010x}", hex(&s.ssrc) ^ xor);
        assert!(line.contains(&iv_ssrc), "{iv_ssrc}: {line}");
        assert!(
            line.contains(&format!("timestamps {add} (modulo 2^32) ahead")),
            "{line}"
        );
    }
    let reason = inner_layer_through_vendor_media_server(capture, keys, &f.server.ip.to_string());
    assert!(reason.contains("Jitsi Meet's frame encryption"), "{reason}");
}

/// SFrame (RFC 9605) under SRTP, seen with the key log: the Firefox call of
/// `make-firefox-dtls13-keylog.py --sframe` seals each encoded frame with SFrame before SRTP
/// (a worker whose SFrame reproduced the RFC's AES_128_GCM_SHA256_128 test vector first; one
/// key id, one counter for the sender's audio and video), and the receiving peer connection
/// opens every frame. With the key log SRTP opens, and each frame's first packet carries the
/// header: at byte 0 of the Opus payloads, at byte 5 of the video (behind the RED block header
/// and the VP8 payload descriptor). callproof counts as many as the script found in libsrtp's
/// plaintext naming a frame the worker sealed under that SSRC and RTP timestamp, and reports
/// the key id. A retransmission stream of 3 packets is too short to decide. Through a vendor's
/// media server the E2EE claim is consistent with the inner layer.
#[test]
fn sframe_under_srtp_is_seen_with_the_key_log() {
    let call = FirefoxCall::named("firefox-dtls13-sframe-keylog");
    let (capture, keys, expected_file) = (&call.capture, &call.keys, &call.expected_file);
    let per_ssrc = |kind: &str, field: &str| call.per_ssrc(kind, field);
    let sframe = expected_records(expected_file, "sframe");
    assert!(
        sframe
            .iter()
            .any(|r| r.get("rfc9605_test_vector").map(String::as_str) == Some("reproduced"))
    );
    let kid = sframe.iter().find_map(|r| r.get("kid")).unwrap().clone();
    let (sent, received) = (per_ssrc("frames", "sent"), per_ssrc("frames", "received"));
    assert_eq!(sent, received, "the receiver opened every frame");
    assert!(per_ssrc("frames", "failed").is_empty());
    let headers = per_ssrc("libsrtp", "sframe_headers");
    let opened = per_ssrc("libsrtp", "sframe_opened");
    let authenticated = per_ssrc("libsrtp", "rtp_authenticated");

    let v = call.verdict_with_key_log();
    let f = dtls_flow(&v);
    let streams = &f.rtp.as_deref().unwrap().streams;
    assert_eq!(streams.len(), 3);
    for s in streams {
        assert_eq!(
            s.srtp_authenticated,
            Some(authenticated[&s.ssrc]),
            "{}",
            s.ssrc
        );
        assert_eq!(s.inner_e2ee_packets, Some(headers[&s.ssrc]), "{}", s.ssrc);
        if sent.contains_key(&s.ssrc) {
            // a media stream: a header in every frame's first packet
            assert_eq!(s.inner_e2ee_packets, Some(sent[&s.ssrc]), "{}", s.ssrc);
            assert_eq!(s.inner_e2ee_layers, ["sframe"]);
            let line = &s.evidence[1];
            assert!(line.contains("SFrame header (RFC 9605)"), "{line}");
            assert!(line.contains(&format!("key id {kid}")), "{line}");
        } else {
            assert!(s.inner_e2ee_layers.is_empty());
            assert!(
                s.evidence[1].contains("too few to show"),
                "{:?}",
                s.evidence
            );
        }
    }
    // the audio frames: one a packet, and their SFrame ciphertext opened with the frame key
    let audio = streams
        .iter()
        .find(|s| s.evidence[1].contains("at payload byte 0"))
        .unwrap();
    assert_eq!(audio.inner_e2ee_packets, opened.get(&audio.ssrc).copied());
    let video = streams
        .iter()
        .find(|s| s.evidence[1].contains("at payload byte 5"))
        .unwrap();
    assert!(
        video.packets > 3 * video.inner_e2ee_packets.unwrap(),
        "frames of several packets"
    );
    let server = f.server.ip.to_string();

    // the Jitsi call shows Jitsi's layer and no SFrame
    let jitsi = FirefoxCall::named("firefox-dtls13-frame-e2ee-keylog");
    let v = common::schema_valid_verdict_with(
        &["--keylog".as_ref(), jitsi.keys.as_os_str()],
        &jitsi.capture,
    );
    let f = dtls_flow(&v);
    for s in &f.rtp.as_deref().unwrap().streams {
        assert_eq!(s.inner_e2ee_layers, ["jitsi-meet-e2ee"]);
    }

    let reason = inner_layer_through_vendor_media_server(capture, keys, &server);
    assert!(
        reason.contains("Jitsi Meet's frame encryption or SFrame"),
        "{reason}"
    );
}

/// A Chromium call (`make-chromium-call.py`) on a machine with an IPv4 and an IPv6 address:
/// ICE runs the DTLS 1.3 handshake on an IPv4 pair, then moves the media to the IPv6 pair
/// Chromium prefers (getStats' selected pair). The media flow has no handshake of its own; its
/// ICE checks carry the same username fragments as the DTLS flow's, so it is keyed by that
/// handshake: encrypted, under the profile the SRTCP trailer narrows the hidden DTLS 1.3 choice
/// to, Chromium's srtpCipher. Before, that flow was "keyed out of sight" and the call's media
/// encryption came out `warn` on a call whose every packet was SRTP. With the username
/// fragments of the media flow's checks altered, the link is gone: it rests on the ICE
/// session, not on the addresses.
#[test]
fn media_moved_to_another_candidate_pair_is_keyed_by_its_ice_sessions_dtls() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/chromium-call.pcap");
    let facts = expected("chromium-call.expected");
    let srtp_cipher = facts["srtp_cipher"].as_str();
    let pair = expected_records("chromium-call.expected", "selected_pair")
        .pop()
        .unwrap();
    let sent: Vec<String> = expected_records("chromium-call.expected", "sent")
        .into_iter()
        .map(|r| r["ssrc"].clone())
        .collect();
    // as the .expected writes a candidate: address, colon, port
    let end = |f: &callproof::verdict::Address| format!("{}:{}", f.ip, f.port);

    let v = common::schema_valid_verdict_with(&[], &capture);
    assert_eq!(v.summary.as_ref().unwrap().media_encryption.status, "pass");
    let dtls = dtls_flow(&v);
    assert_eq!(
        dtls.dtls.as_deref().unwrap().version.as_deref(),
        Some("DTLS 1.3")
    );
    assert_eq!(dtls.ice_session_dtls, None);
    let media: Vec<_> = v
        .flows
        .iter()
        .filter(|f| f.dtls.is_none() && f.rtp.is_some())
        .collect();
    assert_eq!(media.len(), 1);
    let m = media[0];
    let ends = [end(&m.client), end(&m.server)];
    assert!(
        ends.contains(&pair["local"]) && ends.contains(&pair["remote"]),
        "the selected pair {pair:?}: {ends:?}"
    );
    let link = m.ice_session_dtls.as_ref().expect("keyed by the DTLS flow");
    assert_eq!((&link.client, &link.server), (&dtls.client, &dtls.server));
    assert_eq!(m.encryption.state, "encrypted");
    assert_eq!(
        m.encryption.protection.as_deref(),
        Some(format!("DTLS 1.3 ({}) + {srtp_cipher}", facts["dtls_cipher"]).as_str())
    );
    assert!(m.encryption.basis[0].starts_with("keyed by the DTLS handshake between"));
    let mut ssrcs: Vec<String> = m
        .rtp
        .as_deref()
        .unwrap()
        .streams
        .iter()
        .map(|s| s.ssrc.clone())
        .collect();
    ssrcs.sort();
    assert_eq!(ssrcs, sent, "the call's streams");

    // the media flow's checks with other username fragments: no longer one ICE session
    let mut frames = common::pcap_frames(&capture);
    let mut altered = 0;
    for (_, _, data) in &mut frames {
        // Linux cooked v2 (20 bytes), IPv6 (40), UDP (8): the IPv6 pair's datagrams
        let stun = 20 + 40 + 8;
        if data.get(..2) != Some(&[0x86, 0xdd][..])
            || data.get(stun + 4..stun + 8) != Some(&[0x21, 0x12, 0xa4, 0x42][..])
        {
            continue;
        }
        let mut at = stun + 20;
        while let Some(&[t0, t1, l0, l1]) = data.get(at..at + 4) {
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if u16::from_be_bytes([t0, t1]) == 0x0006 {
                data[at + 4] ^= 0x01;
                altered += 1;
            }
            at += 4 + len.div_ceil(4) * 4;
        }
    }
    assert!(altered > 0);
    let mut bytes = common::pcap_bytes(&frames, false, false);
    bytes[20..24].copy_from_slice(&276u32.to_le_bytes()); // LINKTYPE_LINUX_SLL2
    let (_tmp, other) = common::temp_copy(&bytes, "other-session.pcap");
    let v = common::schema_valid_verdict_with(&[], &other);
    let m = v
        .flows
        .iter()
        .find(|f| f.dtls.is_none() && f.rtp.is_some())
        .unwrap();
    assert_eq!(m.ice_session_dtls, None);
    assert_ne!(m.encryption.state, "encrypted");
    assert_eq!(v.summary.unwrap().media_encryption.status, "warn");
}

/// The SRTCP trailer's layout (RFC 3711 §3.4: the E|index word followed by the HMAC-SHA1
/// tag; RFC 7714 §9.1: the AEAD tag before the word, which ends the packet) is read on every
/// bundled DTLS-SRTP and SDES call and agrees with the profile the call used: the one the
/// DTLS 1.2 ServerHello selected (aiortc: one call per profile), the SDP's crypto suite
/// (baresip), the srtpCipher Firefox's getStats reported (`.expected`). Where DTLS 1.3 hides
/// the selected profile (Firefox without its key log), the trailer narrows the offered ones
/// to those that lay SRTCP out so, among them Firefox's own, and the protection names them;
/// with the key log, the profile read from EncryptedExtensions is confirmed. (Before, the
/// AEAD layout was looked for with the index 16 bytes from the end: no AEAD call showed an
/// SRTCP trailer, and its flow's RTCP was labelled `rtcp`.)
#[test]
fn the_srtcp_trailer_shows_the_profiles_layout() {
    let family = |profile: &str| {
        if profile.contains("AEAD_AES") {
            "aead"
        } else {
            "hmac-sha1-80"
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut seen = HashMap::<&str, u32>::new();
    for name in [
        "aiortc-dtls-keylog",
        "aiortc-webrtc-call",
        "aiortc-turn-tcp-call",
    ] {
        let v = common::schema_valid_verdict_with(&[], &dir.join(format!("{name}.pcap")));
        for f in v.flows.iter().filter(|f| f.dtls.is_some()) {
            let profile = f.dtls.as_deref().unwrap().srtp_profile.clone().unwrap();
            let rtp = f.rtp.as_deref().unwrap();
            assert_eq!(rtp.srtcp_tag.as_deref(), Some(family(&profile)), "{name}");
            assert_eq!(rtp.srtcp_encrypted, Some(true));
            assert!(f.protocols.iter().any(|p| p == "srtcp"), "{name}");
            common::assert_basis_mentions(f, &format!("as {profile} lays SRTCP out"));
            *seen.entry(family(&profile)).or_default() += 1;
        }
    }
    assert_eq!((seen["aead"], seen["hmac-sha1-80"]), (5, 1), "{seen:?}");
    let v = common::schema_valid_verdict_with(&[], &dir.join("baresip-sip-sdes-srtp.pcap"));
    let suites: Vec<&str> = v
        .flows
        .iter()
        .filter_map(|f| f.sip.as_deref())
        .flat_map(|s| &s.media)
        .flat_map(|m| m.crypto_suites.iter().map(String::as_str))
        .collect();
    assert!(!suites.is_empty() && suites.iter().all(|s| *s == "AES_CM_128_HMAC_SHA1_80"));
    let rtcp: Vec<_> = v
        .flows
        .iter()
        .filter_map(|f| f.rtp.as_deref()?.srtcp_tag.as_deref())
        .collect();
    assert_eq!(rtcp, ["hmac-sha1-80"]);

    for name in [
        "firefox-dtls13-keylog",
        "firefox-dtls13-chacha20-keylog",
        "firefox-dtls13-sframe-keylog",
    ] {
        let call = FirefoxCall::named(name);
        let facts = expected(&call.expected_file);
        let cipher = facts["srtp_cipher"].as_str();
        let v = common::schema_valid_verdict_with(&[], &call.capture);
        let f = dtls_flow(&v);
        assert_eq!(f.dtls.as_deref().unwrap().srtp_profile, None, "hidden");
        assert_eq!(
            f.rtp.as_deref().unwrap().srtcp_tag.as_deref(),
            Some(family(cipher))
        );
        let protection = f.encryption.protection.as_deref().unwrap();
        let (_, profiles) = protection.split_once(" + ").unwrap();
        let named: Vec<&str> = profiles.split(" or ").collect();
        assert!(named.contains(&cipher), "{protection}");
        assert!(
            named.iter().all(|p| family(p) == family(cipher)),
            "{protection}"
        );
        let offered = &f.dtls.as_deref().unwrap().srtp_profiles_offered;
        assert!(
            named.len() < offered.len(),
            "narrowed: {named:?} of {offered:?}"
        );
        common::assert_basis_mentions(f, "of the profiles the client offered");
        let v = call.verdict_with_key_log();
        common::assert_basis_mentions(dtls_flow(&v), &format!("as {cipher} lays SRTCP out"));
    }
}

/// A lossy SFrame call (`make-firefox-dtls13-keylog.py --sframe --loss`: nftables dropped
/// 8 % of the video before the capture point and 8 % after it), in which Firefox retransmits
/// video on its RTX stream (RFC 4588): over 32 packets, most of them padding to probe the
/// bandwidth. The RTX stream is named the retransmissions of the SSRC the SDP's
/// `a=ssrc-group:FID` pairs it with, and it counts as many copies and gap fills as the
/// script's own reading of libsrtp's plaintext. It carries no SFrame run of its own, yet it is
/// judged on the video it repeats: through a vendor's media server the e2ee claim is
/// consistent, as without the losses. (Before retransmissions were recognised, this stream of
/// 154 opened packets without a layer left the claim unverifiable.)
#[test]
fn a_retransmission_stream_is_judged_on_the_stream_it_repeats() {
    let call = FirefoxCall::named("firefox-dtls13-sframe-lossy-keylog");
    let authenticated = call.per_ssrc("libsrtp", "rtp_authenticated");
    let (copies, gap_fills) = (
        call.per_ssrc("libsrtp", "rtx_copies"),
        call.per_ssrc("libsrtp", "rtx_gap_fills"),
    );
    let headers = call.per_ssrc("libsrtp", "sframe_headers");
    let rtx: Vec<_> = expected_records(&call.expected_file, "rtx");
    assert_eq!(rtx.len(), 1, "one RTX stream in the SDP");
    let (rtx_ssrc, original) = (&rtx[0]["ssrc"], &rtx[0]["of"]);
    assert!(authenticated[rtx_ssrc] >= 32, "long enough to decide");

    let v = call.verdict_with_key_log();
    let f = dtls_flow(&v);
    let streams = &f.rtp.as_deref().unwrap().streams;
    assert_eq!(streams.len(), 3);
    for s in streams {
        assert_eq!(
            s.srtp_authenticated,
            Some(authenticated[&s.ssrc]),
            "{}",
            s.ssrc
        );
        if &s.ssrc == rtx_ssrc {
            let r = s
                .retransmission_of
                .as_ref()
                .expect("named a retransmission stream");
            assert_eq!(&r.ssrc, original);
            assert_eq!(r.copies, copies[&s.ssrc]);
            assert_eq!(r.gap_fills, gap_fills[&s.ssrc]);
            assert!(r.copies > 0 && r.gap_fills > 0, "both kinds in the capture");
            assert!(s.inner_e2ee_layers.is_empty());
            let line = &s.evidence[1];
            assert!(
                line.contains(&format!("retransmissions (RFC 4588) of SSRC {original}")),
                "{line}"
            );
            assert!(!s.evidence.iter().any(|e| e.contains("none of the")));
        } else {
            assert_eq!(s.retransmission_of, None, "{}", s.ssrc);
            assert_eq!(s.inner_e2ee_layers, ["sframe"], "{}", s.ssrc);
            // every header libsrtp's plaintext shows of a frame the worker reported sealing, and
            // more: all 249 audio packets carry a header in the run, one more than the worker
            // reported sealing (its report went out before its last frame)
            assert!(s.inner_e2ee_packets >= Some(headers[&s.ssrc]), "{}", s.ssrc);
        }
    }
    let reason = inner_layer_through_vendor_media_server(
        &call.capture,
        &call.keys,
        &f.server.ip.to_string(),
    );
    assert!(reason.contains("SFrame"), "{reason}");
}

/// A capture that carries its key log (a pcapng Decryption Secrets Block, as `editcap
/// --inject-secrets` writes one) and no `--keylog` file: the verdict's `keylog` section names
/// the capture and the blocks as their source, their text (its SHA-256 that of the key log
/// file the block was made from, computed here), the sessions it holds, and what it opened —
/// the same as with that file given: the Firefox SFrame call's DTLS 1.3 handshake and media.
#[test]
fn a_key_log_the_capture_carries_is_summed_up_as_a_key_log_file_is() {
    use sha2::Digest;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let name = "firefox-dtls13-sframe-keylog";
    let keys = std::fs::read(dir.join(format!("{name}.keys"))).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let carried = tmp.path().join("carried.pcapng");
    let mut first = true;
    common::pcapng_with_secrets(&dir.join(format!("{name}.pcap")), &carried, |_| {
        std::mem::replace(&mut first, false).then(|| keys.clone())
    });
    let v = common::schema_valid_verdict_with(&[], &carried);
    let k = v.keylog.expect("a keylog section");
    assert_eq!(k.source.as_deref(), Some("decryption-secrets-blocks"));
    assert_eq!(k.path, carried.display().to_string());
    assert_eq!(k.sha256, hex::encode(sha2::Sha256::digest(&keys)));
    assert_eq!(k.bytes, keys.len() as u64);
    let blocks = v.inputs[0].key_log_blocks.as_ref().unwrap();
    assert_eq!((&blocks.sha256, blocks.bytes), (&k.sha256, k.bytes));

    let file = dir.join(format!("{name}.keys"));
    let given = common::schema_valid_verdict_with(
        &["--keylog".as_ref(), file.as_os_str()],
        &dir.join(format!("{name}.pcap")),
    );
    let g = given.keylog.unwrap();
    assert_eq!(g.source, None);
    assert_eq!(g.sha256, k.sha256);
    assert_eq!(
        (k.sessions, k.master_secrets, k.exporter_secrets),
        (g.sessions, g.master_secrets, g.exporter_secrets)
    );
    assert_eq!((&k.handshakes, &k.srtp), (&g.handshakes, &g.srtp));
    assert_eq!(k.handshakes.get("decrypted"), Some(&1));
    assert_eq!(k.srtp.get("opened"), Some(&1));
    assert!(given.inputs[0].key_log_blocks.is_none());
}
