//! `callproof live` (issue 6): a capture on the loopback interface while this test makes real
//! traffic there — a TLS 1.3 and a TLS 1.2 session between `openssl s_server` and `s_client`,
//! and the UDP datagrams of a real WebRTC call (DTLS-SRTP, captures/aiortc-webrtc-call.pcap)
//! sent between two local sockets — stopped with SIGINT. The verdict and the pcapng must be
//! written, the facts right, and `analyze` of the pcapng must give the same flows and findings.
//! Where this machine cannot capture (no root or capabilities), the tests say SKIPPED.
#![cfg(feature = "live")]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use callproof::verdict::Verdict;
use common::bin;
use sha2::{Digest, Sha256};

fn free_tcp_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// On the panicking paths the test fails and its process ends, taking the child with it.
#[allow(clippy::zombie_processes)]
/// Start `callproof live` with `args` and wait until it says it is capturing. `None` (after
/// printing SKIPPED) when this machine does not let it capture.
fn start_live(args: &[&str]) -> Option<(Child, mpsc::Receiver<String>)> {
    let mut child = Command::new(bin())
        .arg("live")
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("capturing on") => return Some((child, rx)),
            Ok(line) if line.contains("dropped root privileges") => {}
            Ok(line) if line.contains("Capturing needs root") => {
                eprintln!("SKIPPED: this machine does not allow capturing on lo: {line}");
                let _ = child.wait();
                return None;
            }
            Ok(line) => panic!("unexpected output before capturing: {line}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("callproof live ended before capturing: {:?}", child.wait())
            }
        }
    }
    panic!("callproof live did not start capturing within 20 s");
}

fn wait_for_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "callproof live did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// key.pem and cert.pem (CN=live.callproof.test) in `dir`, for `openssl_session`.
fn self_signed_cert(dir: &Path) {
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=live.callproof.test", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl (Debian package openssl)");
    assert!(made.success());
}

fn openssl_session(dir: &Path, port: u16, version_flag: &str, sni: &str) {
    let mut server = Command::new("openssl")
        .args(["s_server", "-naccept", "1", "-accept"])
        .arg(port.to_string())
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        // an open stdin: at end of input s_server closes the connection before answering
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server (Debian package openssl)");
    // s_server prints ACCEPT once it listens
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.starts_with("ACCEPT"))),
        "s_server did not start"
    );
    std::thread::spawn(move || lines.for_each(drop));
    // s_client exits 1 when the server closes after its one session; the verdict shows
    // whether the handshake happened
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo hello | timeout 10 openssl s_client -connect 127.0.0.1:{port} {version_flag} -servername {sni}"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl s_client");
    let _ = server.kill();
    let _ = server.wait();
}

/// Held by the tests that replay UDP on loopback for their whole capture: each captures every
/// UDP datagram on `lo`, so one's replay must not land in the other's counts.
static UDP_REPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Send the UDP payloads of a real capture's first conversation (the two addresses of its
/// first UDP datagram) between two local sockets, each datagram from the socket standing for
/// its original sender. Returns the first socket's port.
fn replay_udp(capture: &Path) -> u16 {
    replay_udp_pausing(capture, |_| false, || {})
}

/// Replay the first UDP conversation of `capture` (Ethernet or Linux cooked v2, IPv4) between
/// two loopback sockets; before the first datagram `pause_before` picks, `pause` runs once.
fn replay_udp_pausing(
    capture: &Path,
    mut pause_before: impl FnMut(&[u8]) -> bool,
    pause: impl FnOnce(),
) -> u16 {
    let a = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let (pa, pb) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let mut first: Option<(SocketAddr, SocketAddr)> = None;
    let mut datagrams: Vec<(bool, Vec<u8>)> = Vec::new();
    callproof::capture::read_file(capture, |frame| {
        let parsed = match frame.link_type {
            1 => etherparse::SlicedPacket::from_ethernet(frame.data),
            276 => etherparse::SlicedPacket::from_ip(frame.data.get(20..).unwrap_or_default()),
            _ => return,
        };
        let Ok(p) = parsed else {
            return;
        };
        let (Some(etherparse::NetSlice::Ipv4(ip)), Some(etherparse::TransportSlice::Udp(udp))) =
            (p.net, p.transport)
        else {
            return;
        };
        let src = SocketAddr::from((ip.header().source_addr(), udp.source_port()));
        let dst = SocketAddr::from((ip.header().destination_addr(), udp.destination_port()));
        let (first_src, first_dst) = *first.get_or_insert((src, dst));
        if (src, dst) == (first_src, first_dst) || (dst, src) == (first_src, first_dst) {
            datagrams.push((src == first_src, udp.payload().to_vec()));
        }
    })
    .unwrap();
    assert!(datagrams.len() > 100);
    let mut pause = Some(pause);
    for (from_first, payload) in &datagrams {
        if pause.is_some() && pause_before(payload) {
            pause.take().unwrap()();
        }
        if *from_first {
            a.send_to(payload, pb).unwrap();
        } else {
            b.send_to(payload, pa).unwrap();
        }
    }
    pa.port()
}

/// `live -i lo` on UDP with `--keylog keys` writing `out`, while `replay` sends a call on
/// loopback (the key log is looked at every 200 ms: its first look comes before the call);
/// stopped with SIGINT. The verdict, checked against the schema, and the port `replay`
/// returned; None when live capture is not possible here.
/// SRTP opened on a media flow: every RTP packet of its streams authenticated, none failed.
fn assert_every_packet_opened(rtp: &callproof::verdict::Rtp) {
    let k = rtp.srtp_keys.as_ref().expect("SRTP keys");
    assert_eq!(k.state, "opened");
    assert_eq!(
        (k.packets_authenticated, k.packets_failed_authentication),
        (rtp.streams.iter().map(|s| s.packets).sum::<u64>(), 0)
    );
}

/// The sessions whose secrets a live capture saved in its pcapng.
fn keylog_sessions_saved(v: &Verdict) -> Option<u64> {
    v.inputs[0].live.as_ref().unwrap().keylog_sessions_saved
}

fn live_udp_with_keylog(
    out: &Path,
    keys: &Path,
    replay: impl FnOnce() -> u16,
) -> Option<(Verdict, u16)> {
    let _replaying = UDP_REPLAY.lock().unwrap_or_else(|e| e.into_inner());
    let (mut live, _lines) = start_live(&[
        "-i",
        "lo",
        "-f",
        "udp and host 127.0.0.1",
        "-o",
        out.to_str().unwrap(),
        "--keylog",
        keys.to_str().unwrap(),
    ])?;
    std::thread::sleep(Duration::from_millis(500));
    let port = replay();
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&live);
    assert_eq!(wait_for_exit(&mut live), 0, "exit code after SIGINT");
    common::assert_schema_valid(&serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap());
    Some((read_verdict(out), port))
}

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn read_verdict(path: &Path) -> Verdict {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn live_capture_on_loopback_writes_verdict_and_pcapng_that_analyze_agrees_with() {
    let dir = tempfile::tempdir().unwrap();
    self_signed_cert(dir.path());
    let (tls13, tls12) = (free_tcp_port(), free_tcp_port());
    let out = dir.path().join("verdict.json");
    // the UDP ports are chosen by replay_udp after the capture starts: filter on all UDP of lo
    let _replaying = UDP_REPLAY.lock().unwrap_or_else(|e| e.into_inner());
    let filter = format!("tcp port {tls13} or tcp port {tls12} or udp");
    let Some((mut live, lines)) =
        start_live(&["-i", "lo", "-f", &filter, "-o", out.to_str().unwrap()])
    else {
        return;
    };
    openssl_session(dir.path(), tls13, "-tls1_3", "tls13.callproof.test");
    openssl_session(dir.path(), tls12, "-tls1_2", "tls12.callproof.test");
    let udp_port =
        replay_udp(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/aiortc-webrtc-call.pcap"));
    // the live view refreshes once a second, judges the flows so far every 3 s and prints its
    // counters every 5 s when not on a terminal
    std::thread::sleep(Duration::from_millis(5500));
    interrupt(&live);
    assert_eq!(wait_for_exit(&mut live), 0, "exit code after SIGINT");
    // without a terminal: plain lines, one per new server with what its handshakes showed
    let said: Vec<String> = lines.try_iter().collect();
    assert!(
        said.iter()
            .any(|l| l.starts_with("callproof: new server 127.0.0.1")
                && (l.contains("[TLS 1.") || l.contains("; TLS 1."))),
        "{said:#?}"
    );
    // and, once judged (every 3 s), the WebRTC flow's protection as the verdict names it:
    // the DTLS cipher suite, which the handshake's glimpse so far does not show
    assert!(
        said.iter()
            .any(|l| (l.starts_with("callproof: new server 127.0.0.1")
                || l.starts_with("callproof: server 127.0.0.1 now ["))
                && l.contains("DTLS 1.2 (TLS_")),
        "{said:#?}"
    );
    assert!(
        !said.iter().any(|l| l.contains('\x1b')),
        "no escape codes: {said:#?}"
    );
    // the counters line, every 5 s: flows by protocol
    assert!(
        said.iter().any(|l| l.contains(" elapsed, ")
                && l.contains(" flows (")
                && l.contains("tls 2")
                // the WebRTC flow, still being dissected, already shows its DTLS handshake
                && l.contains("dtls 1")),
        "{said:#?}"
    );
    // findings raised while it ran: the TLS 1.2 server's certificate (CN=live.callproof.test)
    // does not name tls12.callproof.test
    assert!(
        said.iter()
            .any(|l| l.starts_with("callproof: new finding [")
                && l.contains("certificate-name-mismatch")),
        "{said:#?}"
    );

    let pcapng = dir.path().join("verdict.pcapng");
    let v = read_verdict(&out);
    let input = &v.inputs[0];
    let live_source = input.live.as_ref().expect("inputs[0].live");
    assert_eq!(live_source.interface, "lo");
    assert_eq!(live_source.stop_reason, "signal");
    assert_eq!(live_source.filter.as_deref(), Some(filter.as_str()));
    assert_eq!(input.path, pcapng.display().to_string());
    let bytes = std::fs::read(&pcapng).expect("the pcapng was written");
    assert_eq!(
        input.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&bytes)).as_str())
    );
    assert_eq!(input.format.as_deref(), Some("pcapng"));

    let tls_flow = |port: u16| {
        v.flows
            .iter()
            .find(|f| f.transport == "tcp" && f.server.port == port)
            .unwrap_or_else(|| panic!("no TCP flow to port {port}"))
    };
    let t13 = tls_flow(tls13).tls.as_ref().expect("TLS facts");
    assert_eq!(t13.version.as_deref(), Some("TLS 1.3"), "{t13:?}");
    assert_eq!(t13.sni.as_deref(), Some("tls13.callproof.test"));
    let t12 = tls_flow(tls12).tls.as_ref().expect("TLS facts");
    assert_eq!(t12.version.as_deref(), Some("TLS 1.2"));
    assert_eq!(t12.sni.as_deref(), Some("tls12.callproof.test"));
    assert_eq!(
        t12.certificates.first().map(|c| c.subject.as_str()),
        Some("CN=live.callproof.test")
    );
    let media = v
        .flows
        .iter()
        .find(|f| f.transport == "udp" && (f.client.port == udp_port || f.server.port == udp_port))
        .expect("the replayed WebRTC flow");
    assert!(
        media.protocols.iter().any(|p| p == "dtls"),
        "{:?}",
        media.protocols
    );
    assert!(media.dtls.as_ref().is_some_and(|d| d.version.is_some()));

    // the verdict, with its `live` record, is what the schema describes
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/verdict-1.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let instance: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // the saved capture, analysed offline, tells the same
    let again = common::verdict_of(&pcapng);
    assert_eq!(again.flows, v.flows);
    assert_eq!(again.findings, v.findings);
    assert_eq!(again.summary, v.summary);
}

/// A TLS server name is whatever a host on the network sends. One with terminal escape
/// sequences (set the window title, clear the screen) is shown escaped in the live view's
/// lines, never sent to the terminal or the log; the verdict keeps it exactly.
#[test]
fn hostile_server_names_are_shown_escaped_in_the_live_view() {
    let dir = tempfile::tempdir().unwrap();
    self_signed_cert(dir.path());
    let port = free_tcp_port();
    let out = dir.path().join("verdict.json");
    let filter = format!("tcp port {port}");
    let Some((mut live, lines)) =
        start_live(&["-i", "lo", "-f", &filter, "-o", out.to_str().unwrap()])
    else {
        return;
    };
    // the shell makes the bytes: ESC ] 0 ; owned BEL  ESC [ 2 J
    let hostile = r#""$(printf 'evil\033]0;owned\007\033[2J.callproof.test')""#;
    openssl_session(dir.path(), port, "-tls1_2", hostile);
    std::thread::sleep(Duration::from_millis(2500));
    interrupt(&live);
    assert_eq!(wait_for_exit(&mut live), 0, "exit code after SIGINT");
    let said: Vec<String> = lines.try_iter().collect();
    assert!(
        said.iter()
            .any(|l| l.starts_with("callproof: new server 127.0.0.1")
                && l.contains(r"evil\x1b]0;owned\x07\x1b[2J.callproof.test")),
        "{said:#?}"
    );
    assert!(
        !said
            .iter()
            .any(|l| l.contains('\x1b') || l.contains('\x07')),
        "no control characters: {said:#?}"
    );
    let v = read_verdict(&out);
    let sni = v.flows.iter().find_map(|f| f.tls.as_ref()?.sni.clone());
    assert_eq!(
        sni.as_deref(),
        Some("evil\x1b]0;owned\x07\x1b[2J.callproof.test")
    );
}

#[test]
fn live_stops_by_itself_after_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.json");
    let Some((mut live, _lines)) = start_live(&[
        "-i",
        "lo",
        "-f",
        "udp port 9",
        "--duration",
        "1s",
        "-o",
        out.to_str().unwrap(),
    ]) else {
        return;
    };
    assert_eq!(wait_for_exit(&mut live), 0);
    let v = read_verdict(&out);
    assert_eq!(v.inputs[0].live.as_ref().unwrap().stop_reason, "duration");
    assert!(PathBuf::from(&v.inputs[0].path).exists());
}

#[test]
fn bad_filters_and_missing_interfaces_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.json");
    let o = Command::new(bin())
        .args(["live", "-i", "lo", "-f", "port nonsense", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("Capturing needs root") {
        eprintln!("SKIPPED: this machine does not allow capturing on lo: {err}");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad capture filter \"port nonsense\""),
        "{err}"
    );
    let o = Command::new(bin())
        .args(["live", "-i", "callproof-no-such0", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("callproof-no-such0"), "{err}");
    assert!(!err.contains("panicked"));
    let o = Command::new(bin())
        .args(["live", "-i", "lo", "-Z", "callproof-no-such-user", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot drop privileges to callproof-no-such-user: no such user"),
        "{err}"
    );
    assert!(!out.exists(), "nothing captured, nothing written");
}

/// The uid fields (real, effective, saved, filesystem) of a process.
fn uids(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn live_drops_root_to_the_user_asked_for_once_the_interface_is_open() {
    if uids(std::process::id())[1] != 0 {
        eprintln!("SKIPPED: not running as root, nothing to drop");
        return;
    }
    let nobody = Command::new("id").args(["-u", "nobody"]).output().unwrap();
    let Ok(nobody) = String::from_utf8_lossy(&nobody.stdout)
        .trim()
        .parse::<u32>()
    else {
        eprintln!("SKIPPED: this machine has no user nobody");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = dir.path().join("v.json");
    let Some((mut live, _lines)) = start_live(&[
        "-i",
        "lo",
        "-f",
        "udp port 9",
        "-Z",
        "nobody",
        "-o",
        out.to_str().unwrap(),
    ]) else {
        return;
    };
    assert_eq!(uids(live.id()), vec![nobody; 4], "every uid is nobody's");
    interrupt(&live);
    assert_eq!(wait_for_exit(&mut live), 0);
    assert_eq!(std::fs::metadata(&out).unwrap().uid(), nobody);
    assert!(dir.path().join("v.pcapng").exists());
}

#[test]
fn a_vanished_interface_stops_the_capture_and_both_files_are_still_written() {
    let created = Command::new("ip")
        .args([
            "link",
            "add",
            "cpvanish0",
            "type",
            "veth",
            "peer",
            "name",
            "cpvanish1",
        ])
        .status();
    if !created.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot create a veth pair here (needs root and the veth driver)");
        return;
    }
    for dev in ["cpvanish0", "cpvanish1"] {
        let _ = Command::new("ip").args(["link", "set", dev, "up"]).status();
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.json");
    let Some((mut live, _lines)) = start_live(&["-i", "cpvanish0", "-o", out.to_str().unwrap()])
    else {
        let _ = Command::new("ip")
            .args(["link", "del", "cpvanish0"])
            .status();
        return;
    };
    std::thread::sleep(Duration::from_millis(300));
    let deleted = Command::new("ip")
        .args(["link", "del", "cpvanish0"])
        .status()
        .unwrap();
    assert!(deleted.success());
    assert_eq!(wait_for_exit(&mut live), 2, "an error stop exits 2");
    let v = read_verdict(&out);
    let input = &v.inputs[0];
    let source = input.live.as_ref().unwrap();
    assert_eq!(source.stop_reason, "error");
    assert!(source.error.as_deref().unwrap_or("").contains("cpvanish0"));
    assert!(input.damage.iter().any(|d| d.kind == "capture-stopped"));
    assert_ne!(v.summary.as_ref().unwrap().evidence_quality.status, "pass");
    assert!(dir.path().join("v.pcapng").exists());
}

#[test]
fn without_permission_the_error_says_how_to_get_it() {
    if uids(std::process::id())[1] != 0 {
        eprintln!("SKIPPED: needs root to run callproof as an unprivileged user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .args(["--inh-caps", "-all", "--bounding-set", "-all"])
        .arg(bin())
        .args(["live", "-i", "lo", "-o"])
        .arg(dir.path().join("v.json"))
        .output();
    let Ok(o) = o else {
        eprintln!("SKIPPED: setpriv (util-linux) is not installed");
        return;
    };
    let err = String::from_utf8_lossy(&o.stderr);
    if err.starts_with("setpriv:") {
        eprintln!("SKIPPED: nobody cannot run the test binary here: {err}");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("Capturing needs root"), "{err}");
    assert!(
        err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no trace: {err}");
}

#[test]
fn a_full_disk_stops_the_capture_and_the_verdict_names_what_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&full)
        .stderr(Stdio::null())
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let out = dir.path().join("v.json");
    let capture = full.join("c.pcapng");
    let started = start_live(&[
        "-i",
        "lo",
        "-f",
        "udp port 9",
        "-w",
        capture.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    if let Some((mut live, _lines)) = started {
        // 3 MB of datagrams to the discard port: more than the 128 kB the disk holds
        let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for _ in 0..3000 {
            let _ = s.send_to(&[0x55; 1000], (Ipv4Addr::LOCALHOST, 9));
        }
        let code = {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(status) = live.try_wait().unwrap() {
                    break status.code();
                }
                if Instant::now() > deadline {
                    interrupt(&live);
                    break Some(wait_for_exit(&mut live));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        assert_eq!(code, Some(2), "a write error ends the capture with exit 2");
        let v = read_verdict(&out);
        let input = &v.inputs[0];
        assert_eq!(input.live.as_ref().unwrap().stop_reason, "error");
        assert!(
            input
                .live
                .as_ref()
                .unwrap()
                .error
                .as_deref()
                .unwrap()
                .contains("No space left")
        );
        let saved = std::fs::read(&capture).unwrap();
        assert_eq!(input.bytes, Some(saved.len() as u64));
        assert_eq!(
            input.sha256.as_deref(),
            Some(hex::encode(Sha256::digest(&saved)).as_str())
        );
    }
    let _ = Command::new("umount").arg(&full).status();
}

#[test]
fn interfaces_are_listed_like_tcpdump_d() {
    let o = Command::new(bin()).arg("interfaces").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // "N.lo [Up, Running, Loopback] 127.0.0.1 ::1", as tcpdump -D numbers and flags them
    let lo = out
        .lines()
        .find(|l| {
            l.split_once('.')
                .is_some_and(|(_, rest)| rest.starts_with("lo "))
        })
        .unwrap_or_else(|| panic!("no lo in:\n{out}"));
    assert!(lo.contains("Loopback") && lo.contains("127.0.0.1"), "{lo}");
    assert!(lo.split_once('.').unwrap().0.parse::<u32>().is_ok(), "{lo}");
}

/// `live --keylog` follows the key log `openssl s_client -keylogfile` writes during the
/// capture (the file does not exist when the capture starts, and gets the session's secrets
/// after its handshake is over): the TLS 1.3 server's certificate
/// is in the verdict, the saved pcapng carries the session's server handshake secret and none
/// of the secrets that open application data, and both `analyze` of the pcapng and tshark
/// open the handshake with what it carries.
#[test]
fn live_keylog_opens_tls13_certificates_and_saves_only_handshake_secrets() {
    let dir = tempfile::tempdir().unwrap();
    self_signed_cert(dir.path());
    let port = free_tcp_port();
    let keys = dir.path().join("keys.log");
    let out = dir.path().join("verdict.json");
    let filter = format!("tcp port {port}");
    let Some((mut live, _lines)) = start_live(&[
        "-i",
        "lo",
        "-f",
        &filter,
        "-o",
        out.to_str().unwrap(),
        "--keylog",
        keys.to_str().unwrap(),
    ]) else {
        return;
    };
    // s_client writes its key log elsewhere; it reaches the followed file (created only now)
    // 0.7 s after the handshake, as from a browser slow to log: the connection waits for its
    // secret, and the file gets the secret before the handshake's packets
    let client_keys = dir.path().join("client-keys.log");
    openssl_session(
        dir.path(),
        port,
        &format!("-tls1_3 -keylogfile {}", client_keys.display()),
        "keylog.callproof.test",
    );
    std::thread::sleep(Duration::from_millis(700));
    std::fs::copy(&client_keys, &keys).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&live);
    assert_eq!(wait_for_exit(&mut live), 0, "exit code after SIGINT");

    // the certificate s_server sent, as DER
    let der = Command::new("openssl")
        .args(["x509", "-outform", "der", "-in"])
        .arg(dir.path().join("cert.pem"))
        .output()
        .unwrap()
        .stdout;
    let cert_sha = hex::encode(Sha256::digest(&der));
    let opened = |v: &Verdict| {
        let f = v
            .flows
            .iter()
            .find(|f| f.server.port == port)
            .expect("the TLS flow");
        let t = f.tls.as_ref().unwrap();
        assert_eq!(t.version.as_deref(), Some("TLS 1.3"));
        assert_eq!(t.keylog.as_deref(), Some("decrypted"));
        let chain: Vec<_> = t.certificates.iter().map(|c| c.sha256.as_str()).collect();
        assert_eq!(chain, [cert_sha.as_str()]);
    };
    let verdict = read_verdict(&out);
    opened(&verdict);
    let live = verdict.inputs[0].live.as_ref().unwrap();
    assert_eq!(live.keylog.as_deref(), keys.to_str());
    assert_eq!(live.keylog_sessions_saved, Some(1));
    common::assert_schema_valid(&serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap());

    let pcapng = out.with_extension("pcapng");
    let saved = common::verdict_of(&pcapng);
    opened(&saved);

    // what the pcapng carries of the key log: the server handshake secret, nothing else
    let log = std::fs::read_to_string(&keys).unwrap();
    let bytes = std::fs::read(&pcapng).unwrap();
    let carries = |secret: &str| bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
    let mut labels = Vec::new();
    for line in log.lines() {
        let fields: Vec<_> = line.split_whitespace().collect();
        let [label, _random, secret] = fields[..] else {
            continue;
        };
        labels.push(label);
        assert_eq!(
            carries(secret),
            label == "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "{label} in the saved capture"
        );
    }
    assert!(labels.contains(&"CLIENT_TRAFFIC_SECRET_0"), "{labels:?}");

    // Wireshark reads the Decryption Secrets Block, which precedes the handshake in the file
    // (packets reach it two seconds late): it opens the certificate too, in one pass
    let tshark = Command::new("tshark")
        .arg("-r")
        .arg(&pcapng)
        .args(["-Y", "tls.handshake.type == 11", "-T", "fields", "-e"])
        .arg("tls.handshake.certificate")
        .output()
        .expect("tshark (Debian package tshark)");
    let shown = String::from_utf8_lossy(&tshark.stdout).trim().to_string();
    assert_eq!(
        shown.split(',').next().unwrap(),
        hex::encode(&der),
        "tshark's certificate"
    );
}

/// `live --keylog` with a DTLS-SRTP call (the first aiortc call of
/// captures/aiortc-dtls-keylog.pcap, replayed on loopback) opens its media with the master
/// secret of the key log, and the saved pcapng does not carry that secret: it would open the
/// whole session, so analysing the pcapng alone does not open the media.
#[test]
fn live_keylog_opens_dtls_srtp_media_and_saves_no_master_secret() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.log");
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    std::fs::copy(bundled.join("aiortc-dtls-keylog.keys"), &keys).unwrap();
    let out = dir.path().join("verdict.json");
    let Some((verdict, port)) = live_udp_with_keylog(&out, &keys, || {
        replay_udp(&bundled.join("aiortc-dtls-keylog.pcap"))
    }) else {
        return;
    };
    let media = |v: &Verdict| {
        v.flows
            .iter()
            .find(|f| f.client.port == port || f.server.port == port)
            .and_then(|f| f.rtp.clone())
            .expect("the media flow")
    };
    let rtp = media(&verdict);
    assert_every_packet_opened(&rtp);
    assert_eq!(
        rtp.srtp_keys.as_ref().unwrap().profile,
        "SRTP_AEAD_AES_256_GCM"
    );
    assert_eq!(rtp.streams.len(), 2);
    assert_eq!(keylog_sessions_saved(&verdict), Some(0));

    let pcapng = out.with_extension("pcapng");
    let bytes = std::fs::read(&pcapng).unwrap();
    for line in std::fs::read_to_string(&keys).unwrap().lines() {
        let secret = line.split_whitespace().nth(2).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a master secret in the saved capture"
        );
    }
    let saved = media(&common::verdict_of(&pcapng));
    assert_ne!(saved.srtp_keys.map(|k| k.state), Some("opened".into()));
}

/// `live --keylog` with Firefox's DTLS 1.3 call (captures/firefox-dtls13-keylog.pcap, replayed
/// on loopback) whose key log lines land, as a browser writes them, after the handshake went by
/// and before the media: the server's encrypted handshake records were held, open when the
/// lines are read, and the media opens with the exporter secret. The saved pcapng keeps the
/// session's handshake secret only: analysed alone it reads the handshake again, never the
/// media (no exporter or traffic secret is saved).
#[test]
fn live_keylog_opens_a_dtls13_handshake_after_it_went_by_and_saves_no_exporter_secret() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.log");
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let lines = std::fs::read_to_string(bundled.join("firefox-dtls13-keylog.keys")).unwrap();
    let out = dir.path().join("verdict.json");
    let Some((verdict, port)) = live_udp_with_keylog(&out, &keys, || {
        let mut dtls_seen = false;
        replay_udp_pausing(
            &bundled.join("firefox-dtls13-keylog.pcap"),
            |payload| {
                dtls_seen |= (20..=63).contains(&payload[0]);
                dtls_seen && (128..=191).contains(&payload[0])
            },
            || {
                // the handshake has gone by: the browser appends its lines now
                std::thread::sleep(Duration::from_millis(300));
                std::fs::write(&keys, &lines).unwrap();
                std::thread::sleep(Duration::from_millis(800));
            },
        )
    }) else {
        return;
    };
    let call = |v: &Verdict| {
        v.flows
            .iter()
            .find(|f| f.client.port == port || f.server.port == port)
            .cloned()
            .expect("the call's flow")
    };
    let f = call(&verdict);
    let d = f.dtls.as_deref().unwrap();
    assert_eq!(d.version.as_deref(), Some("DTLS 1.3"));
    assert_eq!(d.keylog.as_deref(), Some("decrypted"));
    assert_eq!(d.srtp_profile.as_deref(), Some("SRTP_AEAD_AES_128_GCM"));
    assert_every_packet_opened(f.rtp.as_deref().unwrap());
    assert_eq!(keylog_sessions_saved(&verdict), Some(1));

    let pcapng = out.with_extension("pcapng");
    let bytes = std::fs::read(&pcapng).unwrap();
    for line in lines.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split_whitespace();
        let (label, secret) = (fields.next().unwrap(), fields.nth(1).unwrap());
        let saved = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert_eq!(saved, label == "SERVER_HANDSHAKE_TRAFFIC_SECRET", "{label}");
    }
    let again = call(&common::verdict_of(&pcapng));
    assert_eq!(
        again.dtls.as_deref().unwrap().keylog.as_deref(),
        Some("decrypted")
    );
    let k = again.rtp.as_deref().unwrap().srtp_keys.clone().unwrap();
    assert_eq!(k.state, "no-secret");
}
