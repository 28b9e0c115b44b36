//! TLS facts on real captures compared with what the peers' own test suites state.
//!
//! Every expected value below is copied from a peer's expected output in ../shared/captures
//! (Zeek btest baselines `ssl*.log`/`x509.log`, nDPI `*.out`), never from callproof's output.
//! Naming differences are normalised (Zeek "TLSv12" = "TLS 1.2"; nDPI prints subjects in DER
//! order with ", ", Zeek and callproof in RFC 4514 order). The exhaustive comparison over every
//! shared capture is `peercheck_finds_no_tls_disagreement` at the end.

mod common;

use common::{capture, flow, verdict_of};

struct Expect {
    capture: &'static str,
    client: (&'static str, u16),
    server: (&'static str, u16),
    version: Option<&'static str>,
    cipher: Option<&'static str>,
    sni: Option<&'static str>,
    /// Leaf certificate subject, RFC 4514.
    subject: Option<&'static str>,
}

/// Zeek baselines (scripts.base.protocols.ssl.* and scripts.policy.protocols.ssl.*).
const ZEEK: &[Expect] = &[
    Expect {
        capture: "zeek/tls1.2.pcap",
        client: ("10.0.0.80", 56637),
        server: ("68.233.76.12", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
        sni: None,
        subject: Some(
            "CN=*.taleo.net,OU=Comodo PremiumSSL Wildcard,OU=Web,O=Taleo Inc.,street=4140 Dublin Boulevard,street=Suite 400,L=Dublin,ST=CA,postalCode=94568,C=US",
        ),
    },
    Expect {
        capture: "zeek/tls1_1.pcap",
        client: ("192.168.17.58", 62987),
        server: ("216.58.192.14", 443),
        version: Some("TLS 1.1"),
        cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
        sni: None,
        subject: Some("CN=*.google.com,O=Google Inc,L=Mountain View,ST=California,C=US"),
    },
    Expect {
        capture: "zeek/dhe.pcap",
        client: ("192.168.18.50", 62277),
        server: ("162.219.2.166", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "zeek/ecdhe.pcap",
        client: ("192.168.18.50", 56981),
        server: ("74.125.239.97", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "zeek/ecdsa-cert.pcap",
        client: ("192.168.4.149", 49422),
        server: ("23.92.19.75", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "zeek/tls-conn-with-extensions.pcap",
        client: ("192.168.1.105", 62045),
        server: ("74.125.224.79", 443),
        version: Some("TLS 1.0"),
        cipher: Some("TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
        sni: Some("ssl.gstatic.com"),
        subject: None,
    },
    Expect {
        capture: "zeek/ssl.v3.pcap",
        client: ("192.150.187.164", 58868),
        server: ("194.127.84.106", 443),
        version: Some("TLS 1.0"),
        cipher: Some("TLS_RSA_WITH_RC4_128_MD5"),
        sni: None,
        // weak-keys notice: "Subject: CN=www.dresdner-privat.de,OU=Terms of use at ..."
        subject: Some(
            "CN=www.dresdner-privat.de,OU=Terms of use at www.verisign.com/rpa (c)00,O=AGIS Allianz Dresdner Informationssysteme GmbH,L=Muenchen,ST=Bayern,C=DE",
        ),
    },
    Expect {
        capture: "zeek/tls-expired-cert.pcap",
        client: ("192.168.4.149", 60539),
        server: ("87.98.220.10", 443),
        version: Some("TLS 1.0"),
        cipher: Some("TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
        sni: None,
        // expiring-certs notice: "Certificate CN=www.spidh.org,OU=COMODO SSL,OU=Domain Control Validated expired"
        subject: Some("CN=www.spidh.org,OU=COMODO SSL,OU=Domain Control Validated"),
    },
    Expect {
        capture: "zeek/missing-intermediate.pcap",
        client: ("192.168.4.149", 58530),
        server: ("72.167.102.91", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "zeek/ml-dsa-44-cert.pcap",
        client: ("10.0.0.1", 55001),
        server: ("10.0.0.2", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_RSA_WITH_AES_128_CBC_SHA"),
        sni: None,
        subject: Some("CN=ml-dsa.example.com,O=PQC-Test,C=US"),
    },
    Expect {
        capture: "zeek/hrr.pcap",
        client: ("10.192.48.168", 63564),
        server: ("64.233.185.139", 443),
        version: Some("TLS 1.3"),
        cipher: Some("TLS_AES_256_GCM_SHA384"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "zeek/tls13_wolfssl.pcap",
        client: ("192.168.186.133", 43056),
        server: ("192.168.186.134", 9090),
        version: Some("TLS 1.3"),
        cipher: Some("TLS_AES_256_GCM_SHA384"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "zeek/tls13-ech.pcap",
        client: ("192.168.20.65", 51066),
        server: ("162.159.138.85", 443),
        version: Some("TLS 1.3"),
        cipher: Some("TLS_AES_128_GCM_SHA256"),
        sni: Some("cloudflare-ech.com"),
        subject: None,
    },
    Expect {
        capture: "zeek/chrome-1250-tls-x25519-kyber.pcap",
        client: ("0.0.51.217", 13783),
        server: ("142.250.200.14", 443),
        version: Some("TLS 1.3"),
        cipher: Some("TLS_AES_128_GCM_SHA256"),
        sni: Some("lh3.google.com"),
        subject: None,
    },
];

/// nDPI default-config expected outputs (tests/cfgs/default/result/*.out).
const NDPI: &[Expect] = &[
    Expect {
        capture: "ndpi/tls_verylong_certificate.pcap",
        client: ("192.168.1.160", 54804),
        server: ("151.101.66.49", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        sni: Some("feodotracker.abuse.ch"),
        subject: Some(
            "C=US, ST=California, L=San Francisco, O=Fastly, Inc., CN=p2.shared.global.fastly.net",
        ),
    },
    Expect {
        capture: "ndpi/selfsigned.pcap",
        client: ("127.0.0.1", 51607),
        server: ("127.0.0.1", 3001),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        sni: Some("localhost"),
        subject: Some("C=IT, ST=Some-State, O=ntop.org"),
    },
    Expect {
        capture: "ndpi/no_sni.pcap",
        client: ("192.168.1.119", 51612),
        server: ("104.16.124.96", 443),
        version: Some("TLS 1.3"),
        cipher: Some("TLS_AES_128_GCM_SHA256"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "ndpi/google_meet.pcapng",
        client: ("192.168.88.231", 43268),
        server: ("173.194.73.101", 443),
        version: Some("TLS 1.3"),
        cipher: Some("TLS_AES_128_GCM_SHA256"),
        sni: Some("meet.google.com"),
        subject: None,
    },
    Expect {
        // only the server's half was captured
        capture: "ndpi/tls_1.2_unidirectional_server.pcapng",
        client: ("192.168.12.156", 43854),
        server: ("216.58.209.42", 443),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        sni: None,
        subject: Some("CN=upload.video.google.com"),
    },
    Expect {
        // only the client's half: no ServerHello, so no negotiated version or cipher
        capture: "ndpi/tls_1.3_unidirectional_client.pcapng",
        client: ("192.168.12.156", 39750),
        server: ("142.250.184.68", 443),
        version: None,
        cipher: None,
        sni: Some("www.google.com"),
        subject: None,
    },
    Expect {
        capture: "ndpi/rdp_over_tls.pcap",
        client: ("91.238.181.21", 35888),
        server: ("89.31.79.12", 3389),
        version: Some("TLS 1.2"),
        cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        sni: None,
        subject: None,
    },
    Expect {
        capture: "ndpi/smtp-starttls.pcap",
        client: ("10.0.0.1", 57406),
        server: ("173.194.68.26", 25),
        version: Some("TLS 1.0"),
        cipher: Some("TLS_RSA_WITH_RC4_128_SHA"),
        sni: None,
        subject: None,
    },
];

/// RDNs of a DN in either spelling, as a sorted list (order and separators are naming).
fn rdns(dn: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = dn.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            // nDPI separates with ", " and does not escape commas inside values; a comma
            // followed by a space and an attribute name starts a new RDN.
            ',' => {
                let rest: String = chars.clone().collect();
                let rest = rest.trim_start();
                let next_is_attr = rest.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric())
                });
                if next_is_attr {
                    out.push(cur.trim().to_string());
                    cur.clear();
                } else {
                    cur.push(c);
                }
            }
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out.sort();
    out
}

fn check(expectations: &[Expect]) {
    let mut failures = Vec::new();
    for e in expectations {
        let v = verdict_of(&capture(e.capture));
        let f = flow(&v, "tcp", e.client, e.server);
        if (f.client.ip.as_str(), f.client.port) != e.client {
            failures.push(format!("{}: client is {:?}", e.capture, f.client));
        }
        let tls = f.tls.clone().unwrap_or_default();
        if !f.protocols.iter().any(|p| p == "tls") {
            failures.push(format!(
                "{}: protocols {:?} lack tls",
                e.capture, f.protocols
            ));
        }
        for (what, got, want) in [
            ("version", tls.version.as_deref(), e.version),
            ("cipher", tls.cipher.as_deref(), e.cipher),
            ("sni", tls.sni.as_deref(), e.sni),
        ] {
            if got != want {
                failures.push(format!("{}: {what} {got:?}, peer says {want:?}", e.capture));
            }
        }
        if let Some(want) = e.subject {
            let got = tls.certificates.first().map(|c| c.subject.clone());
            if got.as_deref().map(rdns) != Some(rdns(want)) {
                failures.push(format!(
                    "{}: subject {got:?}, peer says {want:?}",
                    e.capture
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tls_facts_agree_with_zeek_baselines() {
    check(ZEEK);
}

#[test]
fn tls_facts_agree_with_ndpi_results() {
    check(NDPI);
}

#[test]
fn rdn_normalisation_treats_spellings_alike() {
    assert_eq!(
        rdns("C=US, ST=California, O=Fastly, Inc., CN=x"),
        rdns("CN=x,O=Fastly\\, Inc.,ST=California,C=US")
    );
    assert_ne!(rdns("CN=a,O=b"), rdns("CN=a,O=c"));
}

/// Zeek's weak-keys baseline: the SSLv2 trace uses "SSLv2, lower than the safe minimum".
#[test]
fn sslv2_handshake_is_recognised() {
    let v = verdict_of(&capture("zeek/ssl-v2.pcap"));
    let f = flow(&v, "tcp", ("192.168.4.149", 59062), ("91.227.4.92", 443));
    let tls = f.tls.as_ref().expect("tls facts");
    assert_eq!(tls.version.as_deref(), Some("SSL 2.0"));
    // The SSLv2 ServerHello carries the certificate (Zeek x509: CN=plesk … O=Parallels).
    let subject = &tls.certificates[0].subject;
    assert!(
        subject.contains("CN=plesk") && subject.contains("O=Parallels"),
        "{subject}"
    );
}

/// Disagreements with the peers that are explained (each line of peercheck output that
/// contains both strings is accepted, with the reason).
const EXPLAINED: &[(&str, &str, &str)] = &[
    (
        "dtls_certificate_fragments.pcap",
        "dtls.version: peer says 'DTLS 1.2'",
        "the ServerHello says 0xFEFF (DTLS 1.0); nDPI reports 1.2 — see \
         tests/media.rs::ndpi_dtls_version_disagreement_is_explained",
    ),
    (
        "quic.pcap [('172.217.16.3', 443), ('192.168.1.105', 40461)]",
        "protocols: peer says quic",
        "nDPI's own line says 'Confidence: Match by port': a guess from port 443; the \
         datagrams are not a QUIC header we can validate",
    ),
    (
        "viber.pcap [('172.217.23.106', 443), ('192.168.0.17', 41993)]",
        "protocols: peer says quic",
        "nDPI: 'Confidence: Match by port', a port-443 guess",
    ),
    (
        "stun.pcap [('2001:b07:a3d:c112:48a1:1094:1227:281e', 48094), ('2600:1900:4160:5999::19::', 3478)]",
        "protocols: peer says stun",
        "nDPI prints the address 2600:1900:4160:5999:0:19:: as '…5999::19::' (two '::'), so \
         peercheck cannot find the flow; callproof labels that flow stun+turn",
    ),
];

/// Wireshark's TLS 1.3 captures with the key logs its test suite decrypts them with
/// (PROVENANCE: test_tls13_rfc8446, test_tls13_chacha20poly1305). The certificate hashes are
/// those of the certificates tshark 4.0 shows with the same key log
/// (`-o tls.keylog_file:… -e tls.handshake.certificate`, hashed with SHA-256): stream 0 of
/// tls13-rfc8446 sends one, its resumption (stream 1) none; both draft-20 sessions send one.
#[test]
fn wireshark_tls13_sessions_open_with_their_key_logs() {
    let keys = |name: &str| capture(&format!("wireshark/keys/{name}"));
    let rfc = capture("wireshark/tls13-rfc8446.pcap");
    let v = common::verdict_with(
        &["--keylog".as_ref(), keys("tls13-rfc8446.keys").as_os_str()],
        &rfc,
    );
    let mut sessions: Vec<_> = v.flows.iter().map(|f| f.tls.clone().unwrap()).collect();
    sessions.sort_by_key(|t| t.client_hello_frame);
    assert_eq!(sessions.len(), 2);
    for t in &sessions {
        assert_eq!(t.version.as_deref(), Some("TLS 1.3"));
        assert_eq!(t.keylog.as_deref(), Some("decrypted"));
        assert_eq!(
            t.alpn_selected, None,
            "tshark shows no ALPN in EncryptedExtensions"
        );
    }
    let leaf: Vec<_> = sessions[0].certificates.iter().map(|c| &c.sha256).collect();
    assert_eq!(
        leaf,
        ["7bbbee911f2f902f5c83de542f1ae91301cc3cd0b5c2a6c07d6d7c5758d73e48"]
    );
    assert!(
        sessions[1].certificates.is_empty(),
        "a PSK resumption sends no certificate"
    );

    // Draft 20 (0x7f14): its ServerHello has no legacy_session_id; the records' header is not
    // yet authenticated data.
    let draft = capture("wireshark/tls13-20-chacha20poly1305.pcap");
    let without = verdict_of(&draft);
    let with = common::verdict_with(
        &[
            "--keylog".as_ref(),
            keys("tls13-20-chacha20poly1305.keys").as_os_str(),
        ],
        &draft,
    );
    let mut server_hello_frames = Vec::new();
    for f in &without.flows {
        let t = f.tls.as_ref().unwrap();
        assert_eq!(t.version.as_deref(), Some("TLS 1.3 (draft 20)"));
        assert_eq!(t.cipher.as_deref(), Some("TLS_CHACHA20_POLY1305_SHA256"));
        assert_eq!(f.encryption.state, "encrypted");
        assert!(t.certificates.is_empty());
        server_hello_frames.push(t.server_hello_frame.unwrap());
    }
    server_hello_frames.sort();
    assert_eq!(server_hello_frames, [2, 10], "tshark's ServerHello frames");
    // a draft was never a standard version: the transport answer does not call it current
    let obsolete: Vec<_> = without
        .findings
        .iter()
        .filter(|f| f.rule == "obsolete-tls")
        .collect();
    assert_eq!(obsolete.len(), 1, "{:?}", without.findings);
    assert!(
        obsolete[0]
            .detail
            .starts_with("TLS 1.3 (draft 20) negotiated (ServerHello)"),
        "{}",
        obsolete[0].detail
    );
    assert_eq!(obsolete[0].flows, [0, 1]);
    assert_eq!(
        without
            .summary
            .as_ref()
            .unwrap()
            .transport_encryption
            .status,
        "warn"
    );
    assert_eq!(with.flows.len(), 2);
    for f in &with.flows {
        let t = f.tls.as_ref().unwrap();
        assert_eq!(t.keylog.as_deref(), Some("decrypted"));
        let chain: Vec<_> = t.certificates.iter().map(|c| &c.sha256).collect();
        assert_eq!(
            chain,
            ["793db9be68acd02e2c21969792c0a90ccc3f3b6aa9df9f81f1b740d706af79bc"]
        );
    }
}

/// A copy of a little-endian pcapng without its Decryption Secrets Blocks (type 10).
fn without_secrets_blocks(path: &std::path::Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let bytes = std::fs::read(path).unwrap();
    let (mut kept, mut at) = (Vec::new(), 0);
    while at + 8 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        let (kind, len) = (word(at), word(at + 4));
        if kind != 10 {
            kept.extend_from_slice(&bytes[at..at + len]);
        }
        at += len;
    }
    assert_eq!(at, bytes.len(), "a little-endian pcapng walked to its end");
    common::temp_copy(&kept, "without-secrets.pcapng")
}

/// nDPI's dtls.pcap ends with a wolfSSL DTLS 1.3 handshake on loopback (port 11111, wolfSSL's
/// example server) whose key log the pcapng carries. nDPI's expected output has DTLSv1.3 with
/// TLS_AES_128_GCM_SHA256 and cannot see further; tshark 4.0 shows a HelloRetryRequest in frame
/// 8 (its random is RFC 8446's fixed one), a second ClientHello and the ServerHello in frame 10,
/// and no DTLS 1.3 records after it. Opened with the capture's secrets (RFC 9147 record
/// protection), the server's Certificate is wolfSSL's test chain: certs/server-cert.pem
/// (O=wolfSSL, OU=Support, SAN example.com and 127.0.0.1, RSA 2048, serial 01) issued by its
/// Sawtooth test CA, as the wolfSSL repository describes both (this capture holds the copies
/// renewed in December 2023, so their hashes are not compared). Without the Decryption
/// Secrets Block only the hellos are read.
#[test]
fn wolfssl_dtls13_handshake_opens_with_the_key_log_the_capture_carries() {
    let path = capture("ndpi/dtls.pcap");
    let dtls13 = |v: &callproof::verdict::Verdict| {
        v.flows
            .iter()
            .filter_map(|f| f.dtls.as_deref())
            .find(|d| d.version.as_deref() == Some("DTLS 1.3"))
            .cloned()
            .expect("the DTLS 1.3 flow")
    };
    let d = dtls13(&verdict_of(&path));
    assert_eq!(d.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!((d.hello_retry, d.server_hello_frame), (true, Some(10)));
    assert_eq!(d.keylog.as_deref(), Some("decrypted"));
    assert_eq!(d.certificates.len(), 2);
    let (leaf, ca) = (&d.certificates[0], &d.certificates[1]);
    assert!(
        leaf.subject.contains("O=wolfSSL,L=Bozeman"),
        "{}",
        leaf.subject
    );
    assert!(leaf.subject.contains("OU=Support"), "{}", leaf.subject);
    assert_eq!(leaf.issuer, ca.subject);
    assert!(ca.subject.contains("O=Sawtooth") && ca.self_signed);
    assert_eq!(leaf.san, ["example.com", "127.0.0.1"]);
    assert_eq!(
        (leaf.key.as_str(), leaf.serial.as_str()),
        ("RSA 2048", "01")
    );

    let (_tmp, stripped) = without_secrets_blocks(&path);
    let d = dtls13(&verdict_of(&stripped));
    assert_eq!((d.hello_retry, d.server_hello_frame), (true, Some(10)));
    assert!(d.certificates.is_empty() && d.keylog.is_none());

    // Zeek's wolfSSL DTLS 1.3 trace (no key log): tshark shows the HelloRetryRequest random in
    // frame 2 and the ServerHello (message sequence 1) in frame 4; Zeek's baseline history for
    // the connection, CjCs, has a second client hello too. Before, the retry request was taken
    // for the ServerHello and the real one, read as encrypted, was not looked at.
    let d = dtls13(&verdict_of(&capture("zeek/dtls13-wolfssl.pcap")));
    assert_eq!((d.hello_retry, d.server_hello_frame), (true, Some(4)));
}

/// Wireshark's quic-with-secrets.pcapng carries its key log in a pcapng Decryption Secrets
/// Block; its HTTP/2-over-TLS 1.3 connection to Cloudflare sends the certificate brotli-
/// compressed (RFC 8879). Expected: what tshark 4.0 shows for frame 8 (Compressed
/// Certificate, brotli, uncompressed 2629 bytes): two certificates, their SHA-256 computed from
/// `-e tls.handshake.certificate`, the leaf's dNSNames, and the selected ALPN h2.
#[test]
fn a_capture_that_carries_its_key_log_opens_a_compressed_certificate() {
    let path = capture("wireshark/quic-with-secrets.pcapng");
    let with = verdict_of(&path);
    let tcp: Vec<_> = with.flows.iter().filter(|f| f.transport == "tcp").collect();
    assert_eq!(tcp.len(), 1);
    let t = tcp[0].tls.as_ref().unwrap();
    assert_eq!(t.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(t.sni.as_deref(), Some("cloudflare-quic.com"));
    assert_eq!(t.keylog.as_deref(), Some("decrypted"));
    assert_eq!(t.alpn_selected.as_deref(), Some("h2"));
    let chain: Vec<_> = t.certificates.iter().map(|c| c.sha256.as_str()).collect();
    assert_eq!(
        chain,
        [
            "31bd22783c4dba6fc20c976f3aa8d69344c0f38bd03f02c64602279d832995eb",
            "3abbe63daf756c5016b6b85f52015fd8e8acbe277c5087b127a60563a841ed8a"
        ]
    );
    let mut san = t.certificates[0].san.clone();
    san.sort();
    assert_eq!(
        san,
        [
            "*.cloudflare-quic.com",
            "cloudflare-quic.com",
            "sni.cloudflaressl.com"
        ]
    );

    // The same capture without its Decryption Secrets Block: nothing opens.
    let (_tmp, stripped) = without_secrets_blocks(&path);
    let without = verdict_of(&stripped);
    let t = without
        .flows
        .iter()
        .find(|f| f.transport == "tcp")
        .and_then(|f| f.tls.as_ref())
        .unwrap();
    assert!(t.certificates.is_empty());
    assert_eq!(
        (t.keylog.as_deref(), t.alpn_selected.as_deref()),
        (None, None)
    );
}

/// QUIC's Handshake packets opened with the key log the capture carries: tshark 4.0 shows,
/// for quic-with-secrets.pcapng, EncryptedExtensions with ALPN h3 (frame 50) and a brotli
/// CompressedCertificate (frame 51) holding the same chain as the TCP connection; for
/// quic_follow_multistream.pcapng (Google, its embedded key log ends each line with `\`),
/// ALPN h3-29 (frame 4) and a two-certificate chain (frame 6). Hashes: SHA-256 of tshark's
/// `-e tls.handshake.certificate`.
#[test]
fn quic_handshakes_open_with_the_key_log_the_capture_carries() {
    let cases = [
        (
            "wireshark/quic-with-secrets.pcapng",
            "h3",
            [
                "31bd22783c4dba6fc20c976f3aa8d69344c0f38bd03f02c64602279d832995eb",
                "3abbe63daf756c5016b6b85f52015fd8e8acbe277c5087b127a60563a841ed8a",
            ],
        ),
        (
            "wireshark/quic_follow_multistream.pcapng",
            "h3-29",
            [
                "0ac1d5338804f116750965ffdc1158424b38a69d014a76d4d8a8081b02a334c9",
                "95c074e35902a14abd9d19afb6e7f80e669ff8e2363270539d963613f04aaa21",
            ],
        ),
    ];
    for (name, alpn, chain) in cases {
        let v = verdict_of(&capture(name));
        let quic: Vec<_> = v.flows.iter().filter(|f| f.quic.is_some()).collect();
        assert_eq!(quic.len(), 1, "{name}");
        let t = quic[0].tls.as_ref().unwrap();
        assert_eq!(t.keylog.as_deref(), Some("decrypted"), "{name}");
        assert_eq!(t.alpn_selected.as_deref(), Some(alpn), "{name}");
        let got: Vec<_> = t.certificates.iter().map(|c| c.sha256.as_str()).collect();
        assert_eq!(got, chain, "{name}");
    }
}

/// The same QUIC handshakes with their key logs saved after the packets (as a live capture
/// saves the secrets it finds): the Handshake packets are held until the secrets come.
#[test]
fn quic_handshakes_wait_for_secrets_saved_after_them() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "wireshark/quic-with-secrets.pcapng",
        "wireshark/quic_follow_multistream.pcapng",
    ] {
        let late = tmp.path().join("late.pcapng");
        common::with_key_log_after_the_packets(&capture(name), b"", false, &late);
        let tls_of = |v: &callproof::verdict::Verdict| {
            let quic: Vec<_> = v.flows.iter().filter(|f| f.quic.is_some()).collect();
            assert_eq!(quic.len(), 1, "{name}");
            quic[0].tls.clone().unwrap()
        };
        let first = tls_of(&verdict_of(&capture(name)));
        let after = tls_of(&verdict_of(&late));
        assert_eq!(after.keylog.as_deref(), Some("decrypted"), "{name}");
        assert_eq!(after.alpn_selected, first.alpn_selected, "{name}");
        assert_eq!(after.certificates, first.certificates, "{name}");
        assert_eq!(after.certificates.len(), 2, "{name}");
    }
}

/// Runs the shared peercheck tool over every shared capture and fails on any disagreement that
/// is not explained above.
#[test]
fn peercheck_finds_no_unexplained_disagreement() {
    let shared = common::shared();
    let caps = shared.join("captures");
    let mut files = Vec::new();
    for sub in ["ndpi", "zeek", "wireshark", "other/zoom-analysis"] {
        for e in std::fs::read_dir(caps.join(sub)).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let is_capture = [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"]
                .iter()
                .any(|s| name.ends_with(s));
            if p.is_file() && is_capture {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() > 100,
        "expected the shared corpus, found {}",
        files.len()
    );
    let out = std::process::Command::new("python3")
        .arg(shared.join("tools/peercheck.py"))
        .arg("--min")
        .arg("0")
        .arg("--zeek-baselines")
        .arg(caps.join("zeek/baselines"))
        .args(&files)
        .env("CALLPROOF", common::bin())
        .output()
        .expect("python3 runs peercheck.py");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap_or_default();
    assert!(
        last.starts_with("agree "),
        "peercheck did not finish: {text}"
    );
    let unexplained: Vec<&str> = lines
        .into_iter()
        .filter(|l| {
            !EXPLAINED
                .iter()
                .any(|(a, b, _)| l.contains(a) && l.contains(b))
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "unexplained peercheck disagreements:\n{}",
        unexplained.join("\n")
    );
    eprintln!("peercheck: {last}");
}
