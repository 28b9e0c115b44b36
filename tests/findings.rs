//! Protection and evidence findings, the summary and `--fail-on` (issue 5, items 4-6): every
//! rule on a real capture that triggers it and on one that does not. Expected values come from
//! the peers' stated results (nDPI risks in the .out files, Zeek baselines), from the tools that
//! made our own captures (captures/*.expected), or from the capture's plain facts.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use callproof::verdict::{Finding, Verdict};
use common::{analyze, bin, capture, flow, verdict_of};

fn own(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn expected(name: &str) -> HashMap<String, String> {
    std::fs::read_to_string(own(name))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn raised<'a>(v: &'a Verdict, rule: &str) -> Vec<&'a Finding> {
    v.findings.iter().filter(|f| f.rule == rule).collect()
}

/// The rule fires on `hit` and not on `miss`; returns the findings on `hit`.
fn fires_on(rule: &str, hit: &Verdict, miss: &Verdict) -> Vec<Finding> {
    let on_hit: Vec<Finding> = raised(hit, rule).into_iter().cloned().collect();
    assert!(
        !on_hit.is_empty(),
        "{rule} did not fire on {}",
        hit.inputs[0].path
    );
    assert!(
        raised(miss, rule).is_empty(),
        "{rule} fired on {}: {:?}",
        miss.inputs[0].path,
        raised(miss, rule)
    );
    for f in &on_hit {
        let r = callproof::assess::findings::rule(rule).expect("a rule of the table");
        assert_eq!(f.severity, r.severity.as_str());
        assert_eq!(f.title, r.title);
        assert!(f.first_frame.is_some());
    }
    on_hit
}

fn summary_status(
    v: &Verdict,
    pick: fn(&callproof::verdict::Summary) -> &callproof::verdict::Status,
) -> (&str, &str) {
    let s = pick(v.summary.as_ref().expect("summary"));
    (s.status.as_str(), s.reason.as_str())
}

#[test]
fn webex_obsolete_tls_rc4_and_static_rsa_as_ndpi_rates_them() {
    let webex = verdict_of(&capture("ndpi/webex.pcap"));
    let good = verdict_of(&own("openssl-tls.pcap"));

    // nDPI webex.pcap.out: "Obsolete TLS (v1.1 or older)" with Risk Info TLSv1 on the
    // 173.243.0.110:443 flows; the RC4 suite on radcom.webex.com (64.68.105.103).
    let obsolete = fires_on("obsolete-tls", &webex, &good);
    let f = flow(&webex, "tcp", ("10.8.0.1", 55669), ("173.243.0.110", 443));
    assert_eq!(f.tls.as_ref().unwrap().version.as_deref(), Some("TLS 1.0"));
    assert!(obsolete.iter().any(|o| o.flows.contains(&f.id)));

    let weak = fires_on("weak-cipher", &webex, &good);
    let rc4: Vec<_> = weak
        .iter()
        .filter(|w| w.endpoints.len() == 1 && &*w.endpoints[0] == "64.68.105.103")
        .collect();
    assert_eq!(rc4.len(), 1);
    assert!(rc4[0].detail.contains("TLS_RSA_WITH_RC4_128_MD5"));

    // nDPI folds suites without forward secrecy into "Weak TLS Cipher"; callproof keeps the
    // two apart: TLS_RSA_WITH_AES_256_CBC_SHA is not weak, only without forward secrecy.
    let no_fs = fires_on("no-forward-secrecy", &webex, &good);
    assert!(no_fs.iter().any(|n| n.flows.contains(&f.id)));
    assert!(!weak.iter().any(|w| w.flows.contains(&f.id)));

    // the SIP REGISTERs to 172.16.1.75 in the capture are signalling in clear
    fires_on("plaintext-signalling", &webex, &good);

    let (status, reason) = summary_status(&webex, |s| &s.transport_encryption);
    assert_eq!(status, "fail");
    assert!(reason.contains("weak-cipher"), "{reason}");
    assert_eq!(summary_status(&good, |s| &s.transport_encryption).0, "pass");
}

#[test]
fn client_offering_only_tls10_is_obsolete_without_a_server_hello() {
    // nDPI tls_cipher_lens.pcap.out: "Obsolete TLS (v1.1 or older)" for www.google.it; the
    // capture holds the ClientHello (TLS 1.0, no supported_versions) but no ServerHello.
    let v = verdict_of(&capture("ndpi/tls_cipher_lens.pcap"));
    let good = verdict_of(&own("openssl-tls.pcap"));
    let found = fires_on("obsolete-tls", &v, &good);
    assert!(
        found
            .iter()
            .any(|f| f.detail.contains("client offered only TLS 1.0"))
    );
}

#[test]
fn weak_handshakes_made_with_openssl_and_gnutls() {
    let exp = expected("weak-handshakes.expected");
    let weak = verdict_of(&own("weak-handshakes.pcap"));
    let good = verdict_of(&own("openssl-tls.pcap"));
    assert_eq!(exp["tls.openssl_cipher"], "NULL-SHA256"); // IANA TLS_RSA_WITH_NULL_SHA256
    let null = fires_on("null-cipher", &weak, &good);
    assert!(null[0].detail.contains("TLS_RSA_WITH_NULL_SHA256"));

    let expired = fires_on("certificate-expired", &weak, &good);
    assert_eq!(exp["leaf.not_after"], "Jan  1 00:00:00 2021 GMT");
    assert!(
        expired[0].detail.contains("2021-01-01T00:00:00Z"),
        "{}",
        expired[0].detail
    );

    let self_signed = fires_on("certificate-self-signed", &weak, &good);
    assert!(self_signed[0].detail.contains(&exp["tls.sni"]));

    let mismatch = fires_on("certificate-name-mismatch", &weak, &good);
    assert!(mismatch[0].detail.contains("weak.callproof.test"));

    let key = fires_on("certificate-weak-key", &weak, &good);
    assert!(
        key[0]
            .detail
            .contains(&format!("RSA key of {} bits", exp["leaf.key_bits"]))
    );

    let srtp = fires_on(
        "null-srtp-profile",
        &weak,
        &own_verdict("aiortc-webrtc-call.pcap"),
    );
    assert!(srtp[0].detail.contains(&exp["dtls.srtp_profile"]));
    let dtls_port: u16 = exp["dtls.server_port"].parse().unwrap();
    let dtls_flow = weak
        .flows
        .iter()
        .find(|f| f.server.port == dtls_port)
        .unwrap();
    assert_eq!(srtp[0].flows, [dtls_flow.id]);

    assert_eq!(summary_status(&weak, |s| &s.transport_encryption).0, "fail");
    assert_eq!(summary_status(&weak, |s| &s.media_encryption).0, "fail");
    assert_eq!(summary_status(&weak, |s| &s.e2ee).0, "fail");
}

fn own_verdict(name: &str) -> Verdict {
    verdict_of(&own(name))
}

#[test]
fn certificate_validity_is_judged_at_capture_time() {
    // Zeek tls-expired-cert.pcap: the baseline's x509 notAfter lies before the connection.
    let good = own_verdict("openssl-tls.pcap");
    let v = verdict_of(&capture("zeek/tls-expired-cert.pcap"));
    fires_on("certificate-expired", &v, &good);
    // tls-rdn-extract.pcap was captured with a clock at 1999-12-31, before the certificate's
    // notBefore (2011-10-21): not yet valid at capture time. nDPI reports "TLS Cert Expired"
    // for both directions of the window; callproof names which one.
    let v = verdict_of(&capture("ndpi/tls-rdn-extract.pcap"));
    let f = fires_on("certificate-not-yet-valid", &v, &good);
    assert!(f[0].detail.contains("2011-10-21"));
    assert!(raised(&v, "certificate-expired").is_empty());
}

#[test]
fn self_signed_certificates_as_ndpi_flags_them_except_dtls_srtp() {
    let good = own_verdict("openssl-tls.pcap");
    // nDPI: "Self-signed Cert" on smtp-starttls (dovecot.weberlab.de), selfsigned.pcap and
    // rdp_over_tls.pcap (no SNI).
    for cap in [
        "ndpi/smtp-starttls.pcap",
        "ndpi/selfsigned.pcap",
        "ndpi/rdp_over_tls.pcap",
    ] {
        fires_on("certificate-self-signed", &verdict_of(&capture(cap)), &good);
    }
    // DTLS-SRTP certificates are self-signed by design (aiortc's is): no finding there, while
    // nDPI raises its risk on DTLS too (stun_dtls_unidirectional_server.pcap).
    let call = own_verdict("aiortc-webrtc-call.pcap");
    assert!(call.flows[0].dtls.as_ref().unwrap().certificates[0].self_signed);
    fires_on(
        "certificate-self-signed",
        &verdict_of(&capture("ndpi/selfsigned.pcap")),
        &call,
    );
}

/// nDPI's rtcp_multiple_pkts_in_the_same_datagram.pcap holds five RTCP datagrams and no RTP
/// (nDPI labels the flow RTCP): reports in clear, no audio or video. That is RTCP in clear, not
/// media in clear, and the media answer cannot fail on media the capture does not hold. Its
/// server is in Russia (DB-IP): the transfer finding says the flow carried RTCP, not
/// media.
#[test]
fn rtcp_without_its_media_is_not_media_in_clear() {
    let v = verdict_of(&capture(
        "ndpi/rtcp_multiple_pkts_in_the_same_datagram.pcap",
    ));
    assert_eq!(v.flows.len(), 1);
    assert_eq!(v.flows[0].protocols, ["rtcp"]);
    assert_eq!(v.flows[0].encryption.state, "plaintext");
    assert!(raised(&v, "plaintext-rtp").is_empty());
    let rtcp = raised(&v, "plaintext-rtcp");
    assert_eq!(rtcp.len(), 1);
    assert!(
        rtcp[0]
            .detail
            .starts_with("5 RTCP packet(s) in clear, no RTP on this flow"),
        "{}",
        rtcp[0].detail
    );
    let (status, reason) = summary_status(&v, |s| &s.media_encryption);
    assert_eq!(status, "warn", "{reason}");
    assert!(
        reason.contains("plaintext-rtcp") && reason.contains("no media flow in the capture shows"),
        "{reason}"
    );
    assert_ne!(summary_status(&v, |s| &s.e2ee).0, "fail");
    let transfer = raised(&v, "third-country-transfer");
    assert_eq!(transfer.len(), 1);
    assert!(
        transfer[0]
            .detail
            .ends_with("520 bytes in 1 flow(s), carrying RTCP media control (no media seen)."),
        "{}",
        transfer[0].detail
    );
    // an RTP flow still carries media (nDPI's rtp.pcapng, a server in a third country)
    let v = verdict_of(&capture("ndpi/rtp.pcapng"));
    let transfer = raised(&v, "third-country-transfer");
    assert!(
        transfer
            .iter()
            .any(|f| f.detail.ends_with(", carrying media.")),
        "{transfer:?}"
    );
}

#[test]
fn plain_and_sdes_calls() {
    let plain = own_verdict("baresip-sip-rtp.pcap");
    let sdes = own_verdict("baresip-sip-sdes-srtp.pcap");
    let rtp = fires_on("plaintext-rtp", &plain, &sdes);
    assert_eq!(rtp.len(), 1, "the RTP flow: {rtp:?}");
    let rtp_flow = plain
        .flows
        .iter()
        .find(|f| f.id == rtp[0].flows[0])
        .unwrap();
    assert_eq!(rtp_flow.protocols, ["rtp"]);
    // its RTCP, on the next port up, carries reports and no media: a finding of its own
    let rtcp = fires_on("plaintext-rtcp", &plain, &sdes);
    assert_eq!(rtcp.len(), 1, "the RTCP flow: {rtcp:?}");
    assert_eq!(rtcp[0].severity, "medium");
    assert!(
        rtcp[0].detail.starts_with("6 RTCP packet(s) in clear"),
        "{}",
        rtcp[0].detail
    );
    let keys = fires_on("sdes-keys-in-clear", &sdes, &plain);
    assert!(
        keys.iter()
            .all(|k| k.detail.contains("AES_CM_128_HMAC_SHA1_80"))
    );
    fires_on(
        "plaintext-signalling",
        &plain,
        &own_verdict("openssl-tls.pcap"),
    );
    // baresip sends its RTCP APP keepalives and the final BYE/SDES unencrypted beside SRTCP
    // (seen in its own trace); the WebRTC call encrypts every RTCP packet
    let rtcp = fires_on(
        "rtcp-in-clear",
        &sdes,
        &own_verdict("aiortc-webrtc-call.pcap"),
    );
    assert!(
        rtcp[0].detail.contains("4 of 8 RTCP packet(s)"),
        "{}",
        rtcp[0].detail
    );
    // the plain call's RTCP is plaintext-rtcp already, not this rule
    assert!(raised(&plain, "rtcp-in-clear").is_empty());

    // the plaintext call fails media encryption; the SDES call passes it with a warning
    assert_eq!(summary_status(&plain, |s| &s.media_encryption).0, "fail");
    let (status, reason) = summary_status(&sdes, |s| &s.media_encryption);
    assert_eq!(status, "warn");
    assert!(reason.contains("sdes-keys-in-clear"));
    assert_eq!(summary_status(&sdes, |s| &s.e2ee).0, "fail");

    // the WebRTC call: DTLS-SRTP media passes, and peer-to-peer it is end to end
    let call = own_verdict("aiortc-webrtc-call.pcap");
    assert_eq!(summary_status(&call, |s| &s.media_encryption).0, "pass");
    let (status, reason) = summary_status(&call, |s| &s.e2ee);
    assert_eq!(status, "pass");
    assert!(reason.contains("peer-to-peer"));
}

#[test]
fn incomplete_captures_are_named() {
    let good = own_verdict("openssl-tls.pcap");
    // webex.pcap holds a TLS connection whose handshake precedes the capture
    let webex = verdict_of(&capture("ndpi/webex.pcap"));
    let f = fires_on("capture-incomplete", &webex, &good);
    assert!(f[0].detail.contains("handshake was not (fully) captured"));
    assert_eq!(summary_status(&webex, |s| &s.evidence_quality).0, "warn");
    assert_eq!(summary_status(&good, |s| &s.evidence_quality).0, "pass");

    // a capture cut mid-record (a download that stopped) is damaged, and says so
    let bytes = std::fs::read(own("openssl-tls.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let v = verdict_of(&cut);
    let f = fires_on("capture-incomplete", &v, &good);
    assert!(f[0].detail.contains("truncated-record"), "{}", f[0].detail);
}

#[test]
fn summary_answers_rest_on_findings() {
    // every fail or warn answer names a rule that fired in the same verdict
    for cap in [
        capture("ndpi/webex.pcap"),
        own("weak-handshakes.pcap"),
        own("baresip-sip-sdes-srtp.pcap"),
    ] {
        let v = verdict_of(&cap);
        let s = v.summary.as_ref().unwrap();
        for status in [
            &s.transport_encryption,
            &s.media_encryption,
            &s.e2ee,
            &s.third_country_transfer,
            &s.evidence_quality,
        ] {
            if matches!(status.status.as_str(), "fail" | "warn") {
                assert!(
                    v.findings
                        .iter()
                        .any(|f| status.reason.contains(f.rule.as_ref()))
                        || status.reason.contains("claims[]"),
                    "{}: {status:?} names no finding",
                    cap.display()
                );
            }
        }
    }
}

#[test]
fn fail_on_sets_exit_code_3() {
    let run = |cap: &Path, severity: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("v.json");
        let o = Command::new(bin())
            .args(["analyze", "--quiet", "--fail-on", severity, "--out"])
            .arg(&out)
            .arg(cap)
            .output()
            .unwrap();
        assert!(
            out.exists(),
            "the verdict is written whatever the exit code"
        );
        o.status.code()
    };
    let sdes = own("baresip-sip-sdes-srtp.pcap");
    assert_eq!(run(&sdes, "high"), Some(3));
    assert_eq!(run(&own("openssl-tls.pcap"), "info"), Some(0));
    // the plain call's worst is high (plaintext RTP); so medium and low trip too
    assert_eq!(run(&own("baresip-sip-rtp.pcap"), "low"), Some(3));
    // an unknown severity is a usage error
    let o = Command::new(bin())
        .args(["analyze", "--fail-on", "severe"])
        .arg(&sdes)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // the exit codes are documented in the command's help
    let help = Command::new(bin())
        .args(["analyze", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("3 with --fail-on"));
    // without --fail-on findings do not change the exit code
    let (code, _, v) = analyze(&[sdes]);
    assert_eq!(code, 0);
    assert!(!v.unwrap().findings.is_empty());
}

#[test]
fn terminal_summary_after_every_analysis() {
    let cap = own("baresip-sip-sdes-srtp.pcap");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.json");
    let o = Command::new(bin())
        .args(["analyze", "--out"])
        .arg(&out)
        .arg(&cap)
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    // standard error is a pipe here: no colour codes
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    for line in [
        "transport encryption   FAIL",
        "media encryption       WARN",
        "end-to-end encryption  FAIL",
        "findings: 2 high, 1 medium, 1 low, 0 info",
        "verdict written to",
    ] {
        assert!(stderr.contains(line), "{line:?} missing from {stderr}");
    }
    // the summary printed is the one in the verdict
    let v: Verdict = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(stderr.contains(&v.summary.unwrap().media_encryption.reason));
    let o = Command::new(bin())
        .args(["analyze", "--quiet", "--out"])
        .arg(&out)
        .arg(&cap)
        .output()
        .unwrap();
    assert!(o.stderr.is_empty(), "--quiet prints nothing");
}
