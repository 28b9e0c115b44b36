//! Live capture (`callproof live`, `callproof interfaces`), built with the `live` feature.
//! Owns: opening an interface with libpcap (the `pcap` crate), the capture loop that feeds each
//! frame to the same analysis as a saved file while writing it to a pcapng next to the verdict,
//! stopping on a signal, a duration or an error, the progress display, and the errors that say
//! how to fix a missing permission; with `--keylog`, following the key log, saving the secrets
//! of the capture's own sessions in Decryption Secrets Blocks and holding packets back from the
//! file so that each secret precedes its handshake. Nothing here judges traffic.

use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pcap::{Capture, Device, Precision};

mod view;

pub use view::{Judged, ServerRow, flows_by_protocol, server_rows};

use crate::analyze::{Analyzer, FileAnalysis, Options};
use crate::capture::pcapng_write::{InterfaceStats, PcapngWriter};
use crate::capture::{self, CaptureSummary};
use crate::dissect::tls::keylog::KeyLogFollower;
use crate::enrich::GeoData;
use crate::vendor::Catalogue;
use crate::verdict::{self, LiveSource};

/// One capture interface, as `callproof interfaces` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<String>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "cannot capture on {interface}: {detail}. Capturing needs root, or these capabilities on \
         the binary: sudo setcap cap_net_raw,cap_net_admin=eip {binary}"
    )]
    Permission {
        interface: String,
        detail: String,
        binary: String,
    },
    #[error("no capture interface named {interface} ({detail}); `callproof interfaces` lists them")]
    NoSuchInterface { interface: String, detail: String },
    #[error("bad capture filter {filter:?}: {detail}")]
    BadFilter { filter: String, detail: String },
    #[error("cannot capture on {interface}: {detail}")]
    Open { interface: String, detail: String },
    #[error("{path}: cannot write the capture: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list the capture interfaces: {0}")]
    List(String),
    #[error("cannot drop privileges to {user}: {detail}")]
    Privileges { user: String, detail: String },
}

/// After the interface is open and the capture file created, stop being root: become `user`,
/// or, without one, the user who ran `sudo` (`SUDO_UID`/`SUDO_GID`), as tcpdump's `-Z` does.
/// Returns whom callproof became; `None` when it was not root or there is nobody to become.
pub fn drop_privileges(user: Option<&str>) -> Result<Option<String>, LiveError> {
    use nix::unistd::{Gid, Uid, User, geteuid, setgid, setgroups, setuid};
    let fail = |who: &str, detail: String| LiveError::Privileges {
        user: who.to_string(),
        detail,
    };
    let (who, uid, gid) = match user {
        Some(name) => {
            let u = User::from_name(name)
                .map_err(|e| fail(name, e.to_string()))?
                .ok_or_else(|| fail(name, "no such user".into()))?;
            (name.to_string(), u.uid, u.gid)
        }
        None => {
            let id = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
            match (id("SUDO_UID"), id("SUDO_GID")) {
                (Some(u), Some(g)) if u != 0 => (
                    format!("the sudo user (uid {u})"),
                    Uid::from_raw(u),
                    Gid::from_raw(g),
                ),
                _ => return Ok(None),
            }
        }
    };
    if !geteuid().is_root() {
        return match user {
            Some(_) => Err(fail(&who, "callproof is not running as root".into())),
            None => Ok(None),
        };
    }
    setgroups(&[gid]).map_err(|e| fail(&who, format!("setgroups: {e}")))?;
    setgid(gid).map_err(|e| fail(&who, format!("setgid: {e}")))?;
    setuid(uid).map_err(|e| fail(&who, format!("setuid: {e}")))?;
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(fail(&who, "root could be regained".into()));
    }
    Ok(Some(format!("{who} (uid {uid}, gid {gid})")))
}

/// The interfaces libpcap can capture on.
pub fn interfaces() -> Result<Vec<InterfaceInfo>, LiveError> {
    let devices = Device::list().map_err(|e| LiveError::List(e.to_string()))?;
    Ok(devices
        .into_iter()
        .map(|d| InterfaceInfo {
            addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            name: d.name,
            description: d.desc,
        })
        .collect())
}

pub struct LiveOptions {
    pub interface: String,
    pub filter: Option<String>,
    /// Stop after this long; otherwise at a signal.
    pub duration: Option<Duration>,
    pub snaplen: u32,
    pub promiscuous: bool,
    /// The pcapng to write (atomically: it appears when the capture ends).
    pub write: PathBuf,
    pub analysis: Options,
    /// Set by the signal handler: stop cleanly.
    pub stop: Arc<AtomicBool>,
    /// Become this user once the interface is open (see `drop_privileges`).
    pub user: Option<String>,
    pub quiet: bool,
    /// A key log to follow while capturing (`--keylog`).
    pub keylog: Option<PathBuf>,
}

/// A finished live capture: its analysis (the input record carries `live`), and the error that
/// ended it early, if one did.
pub struct LiveRun {
    pub analysis: FileAnalysis,
    pub error: Option<String>,
}

fn classify_open_error(interface: &str, detail: String) -> LiveError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::Permission {
            interface: interface.into(),
            detail,
            binary: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "callproof".into()),
        }
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        LiveError::NoSuchInterface {
            interface: interface.into(),
            detail,
        }
    } else {
        LiveError::Open {
            interface: interface.into(),
            detail,
        }
    }
}

/// Parse a duration like `90`, `90s`, `5m`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (e.g. 90s, 5m, 1h30m)");
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        total = total
            .checked_add(number.parse::<u64>().map_err(|_| bad())?)
            .ok_or_else(bad)?;
    } else if text.trim().is_empty() {
        return Err(bad());
    }
    if total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// How often the live view judges the flows so far for new findings.
const JUDGE_EVERY: Duration = Duration::from_secs(3);

/// How often a followed key log is looked at for new lines.
const KEYLOG_LOOK_EVERY: Duration = Duration::from_millis(200);

/// A key log followed during a live capture, and the sessions whose secrets the capture file
/// already carries.
struct FollowedKeyLog {
    follower: KeyLogFollower,
    saved: foldhash::HashSet<[u8; 32]>,
    last_look: Instant,
    /// The last error reading the key log, told once until it changes.
    last_error: Option<String>,
}

impl FollowedKeyLog {
    /// Take the lines appended to the key log into the analysis, and save with the packets the
    /// secrets of the sessions found since the last look (a Decryption Secrets Block).
    fn look<W: std::io::Write>(
        &mut self,
        analyzer: &mut Analyzer,
        writer: &mut PcapngWriter<W>,
        quiet: bool,
    ) -> std::io::Result<()> {
        self.last_look = Instant::now();
        match self.follower.look() {
            Ok(Some(more)) => analyzer.add_secrets(more),
            Ok(None) => {}
            Err(e) => {
                if !quiet && self.last_error.as_ref() != Some(&e) {
                    eprintln!("callproof: {e}");
                }
                self.last_error = Some(e);
            }
        }
        let lines = analyzer
            .keylog()
            .map(|log| log.take_used(&mut self.saved))
            .unwrap_or_default();
        if lines.is_empty() {
            return Ok(());
        }
        writer.secrets(capture::TLS_KEY_LOG, lines.as_bytes())
    }
}

/// With a key log followed, packets reach the file this long after they were captured, so
/// that the secret a browser logs a moment after its handshake is written before the handshake
/// (readers such as Wireshark open only the handshakes that follow a secret).
const WRITE_LAG: Duration = Duration::from_secs(2);
/// Captured bytes held back at most for that (beyond, the oldest packets are written).
const MAX_LAGGED_BYTES: usize = 64 << 20;

/// Packets held back from the file for [`WRITE_LAG`]: their bytes one after another in one
/// ring, which grows to the lag's worth of traffic and is then reused (no allocation per
/// packet in the steady state).
#[derive(Default)]
struct LaggedPackets {
    /// Per packet: when it was held, its timestamp, captured and original length.
    held: std::collections::VecDeque<(Instant, u64, u32, u32)>,
    data: std::collections::VecDeque<u8>,
    /// One packet's bytes made contiguous for the writer.
    scratch: Vec<u8>,
    bytes: usize,
}

impl LaggedPackets {
    fn push(&mut self, ts_ns: u64, data: &[u8], orig_len: u32) {
        self.bytes += data.len();
        self.data.extend(data);
        self.held
            .push_back((Instant::now(), ts_ns, data.len() as u32, orig_len));
    }

    /// Write the packets held longer than the lag (or beyond the byte bound); all with
    /// `everything`.
    fn write_due<W: std::io::Write>(
        &mut self,
        writer: &mut PcapngWriter<W>,
        everything: bool,
    ) -> std::io::Result<()> {
        while let Some(&(held_since, ts_ns, len, orig_len)) = self.held.front() {
            if !everything && held_since.elapsed() < WRITE_LAG && self.bytes <= MAX_LAGGED_BYTES {
                break;
            }
            self.held.pop_front();
            let len = len as usize;
            let (first, second) = self.data.as_slices();
            let from_first = len.min(first.len());
            self.scratch.clear();
            self.scratch.extend_from_slice(&first[..from_first]);
            self.scratch.extend_from_slice(&second[..len - from_first]);
            self.data.drain(..len);
            self.bytes -= len;
            writer.packet(0, ts_ns, &self.scratch, orig_len)?;
        }
        Ok(())
    }
}

/// How long the loop sleeps when no packet is waiting (bounds the reaction to Ctrl-C and the
/// delay before a packet is analysed; packets wait in the kernel's buffer meanwhile).
const IDLE_NAP: Duration = Duration::from_millis(5);

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Capture until stopped, analysing each frame and writing it to `o.write`; the live view
/// places servers with `geo`.
pub fn capture(
    o: &LiveOptions,
    geo: &GeoData,
    catalogue: &Catalogue,
) -> Result<LiveRun, LiveError> {
    let open_error = |e: pcap::Error| classify_open_error(&o.interface, e.to_string());
    let mut cap = Capture::from_device(o.interface.as_str())
        .map_err(open_error)?
        .promisc(o.promiscuous)
        .snaplen(o.snaplen.min(i32::MAX as u32) as i32)
        // Not immediate mode: on Linux that switches libpcap to a ring of snaplen-sized slots
        // (32 of them for 8 MiB at 256 KiB), which overflowed within a burst of a few hundred
        // packets on loopback. The default ring hands packets over in blocks, at the latest
        // after the 250 ms timeout, which the live view does not notice.
        .timeout(250)
        .buffer_size(32 << 20)
        .precision(Precision::Nano)
        .open()
        .map_err(open_error)?
        // Non-blocking: on Linux libpcap may wait in poll() without a timeout until a packet
        // comes, so a quiet interface would never notice Ctrl-C. The loop naps instead.
        .setnonblock()
        .map_err(open_error)?;
    if let Some(f) = &o.filter {
        cap.filter(f, true).map_err(|e| LiveError::BadFilter {
            filter: f.clone(),
            detail: e.to_string(),
        })?;
    }
    let link_type = cap.get_datalink().0;

    let write_error = |source| LiveError::Write {
        path: o.write.clone(),
        source,
    };
    // the file the capture is saved to (through a symbolic link, the file it names)
    let saved = match verdict::output_target(&o.write) {
        verdict::OutputTarget::File(file) => file,
        verdict::OutputTarget::Special(_) => {
            return Err(write_error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file: the verdict names the saved capture by its SHA-256, read \
                 back from the file",
            )));
        }
    };
    let dir = match saved.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".callproof-")
        .suffix(".pcapng.tmp")
        .tempfile_in(&dir)
        .map_err(write_error)?;
    let started_ns = now_ns();
    let started = verdict::rfc3339_ns(started_ns as i64);
    let mut comments = vec![format!(
        "captured live by callproof {} on interface {}, started {started}",
        env!("CARGO_PKG_VERSION"),
        o.interface
    )];
    if let Some(f) = &o.filter {
        comments.push(format!("capture filter: {f}"));
    }
    let mut writer = PcapngWriter::new(
        BufWriter::with_capacity(1 << 20, tmp.reopen().map_err(write_error)?),
        &format!("callproof {}", env!("CARGO_PKG_VERSION")),
        &comments,
    )
    .map_err(write_error)?;
    writer
        .add_interface(
            link_type as u16,
            o.snaplen,
            &o.interface,
            o.filter.as_deref(),
        )
        .map_err(write_error)?;

    // opened before privileges are dropped: root's key log stays readable
    let mut followed = match &o.keylog {
        Some(path) => {
            // the sessions whose secrets are found are saved with the packets; a first block
            // says so, and tells a reader of the file to wait for them
            writer
                .secrets(
                    capture::TLS_KEY_LOG,
                    b"# callproof live: the server handshake secrets of this capture's TLS 1.3 \
                      sessions follow, each soon after its handshake\n",
                )
                .map_err(write_error)?;
            Some(FollowedKeyLog {
                follower: KeyLogFollower::new(path),
                saved: foldhash::HashSet::default(),
                last_look: Instant::now(),
                last_error: None,
            })
        }
        None => None,
    };
    if let Some(whom) = drop_privileges(o.user.as_deref())?
        && !o.quiet
    {
        eprintln!("callproof: dropped root privileges: now running as {whom}");
    }
    if !o.quiet {
        eprintln!(
            "callproof: capturing on {}{}, writing {}; Ctrl-C stops",
            o.interface,
            o.filter
                .as_ref()
                .map(|f| format!(" (filter {f:?})"))
                .unwrap_or_default(),
            o.write.display()
        );
    }
    let terminal = std::io::stderr().is_terminal();
    let begun = Instant::now();
    let mut stop_reason;
    let mut error: Option<String> = None;
    let mut stats = pcap::Stat {
        received: 0,
        dropped: 0,
        if_dropped: 0,
    };
    let mut file_complete = false;
    let mut last_shown = Instant::now();
    let mut last_logged = Instant::now();
    let mut bytes_seen = 0u64;
    let mut places = view::Places::new(geo);
    let mut screen = view::Screen::default();
    let mut log = view::Log::default();
    let mut raised = view::Raised::default();
    let mut judged = view::Judged::default();
    let mut last_judged = Instant::now();
    let mut lagged = followed.as_ref().map(|_| LaggedPackets::default());
    let mut analysis_options = o.analysis.clone();
    if o.keylog.is_some() {
        let mut log = o.analysis.keylog.as_deref().cloned().unwrap_or_default();
        log.record_sessions_used();
        analysis_options.keylog = Some(Arc::new(log));
    }
    let mut analyzer = Analyzer::new(&analysis_options);
    let mut summary = CaptureSummary::empty(o.write.clone(), 0, false);
    loop {
        if o.stop.load(Ordering::Relaxed) {
            stop_reason = "signal";
            break;
        }
        if o.duration.is_some_and(|d| begun.elapsed() >= d) {
            stop_reason = "duration";
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                // time_t and suseconds_t are i64 on 64-bit Linux, narrower elsewhere
                #[allow(clippy::useless_conversion)]
                let ts_ns = i64::from(p.header.ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(p.header.ts.tv_usec));
                let written = match lagged.as_mut() {
                    Some(lagged) => {
                        lagged.push(ts_ns.max(0) as u64, p.data, p.header.len);
                        if lagged.bytes > MAX_LAGGED_BYTES {
                            lagged.write_due(&mut writer, false)
                        } else {
                            Ok(())
                        }
                    }
                    None => writer.packet(0, ts_ns.max(0) as u64, p.data, p.header.len),
                };
                if let Err(e) = written {
                    stop_reason = "error";
                    error = Some(format!(
                        "{}: cannot write the capture: {e}",
                        o.write.display()
                    ));
                    break;
                }
                bytes_seen += p.data.len() as u64;
                capture::emit(
                    &mut summary,
                    &mut |frame| analyzer.frame(frame),
                    Some(ts_ns),
                    link_type as u32,
                    p.data,
                    p.header.len,
                );
            }
            Err(pcap::Error::TimeoutExpired) => std::thread::sleep(IDLE_NAP),
            Err(e) => {
                stop_reason = "error";
                error = Some(format!("capture on {} stopped: {e}", o.interface));
                break;
            }
        }
        if let Some(k) = followed.as_mut()
            && k.last_look.elapsed() >= KEYLOG_LOOK_EVERY
            && let Err(e) = k.look(&mut analyzer, &mut writer, o.quiet).and_then(|()| {
                lagged
                    .as_mut()
                    .map_or(Ok(()), |l| l.write_due(&mut writer, false))
            })
        {
            stop_reason = "error";
            error = Some(format!(
                "{}: cannot write the capture: {e}",
                o.write.display()
            ));
            break;
        }
        if !o.quiet && last_shown.elapsed() >= Duration::from_secs(1) {
            last_shown = Instant::now();
            if let Ok(s) = cap.stats() {
                stats = s;
            }
            // the flows so far judged as the verdict would, every few seconds: new findings,
            // and each flow's protection for the rows
            let mut new_findings = Vec::new();
            if last_judged.elapsed() >= JUDGE_EVERY {
                last_judged = Instant::now();
                let judgement = analyzer.snapshot(geo, catalogue);
                new_findings = raised.update(&judgement);
                judged = view::Judged::new(&judgement);
            }
            let rows = server_rows(analyzer.flows(), &judged);
            let headline = view::headline(
                begun.elapsed().as_secs_f64(),
                summary.frames,
                bytes_seen,
                u64::from(stats.dropped + stats.if_dropped),
                analyzer.flows(),
                &judged,
            );
            if terminal {
                screen.draw(&headline, &rows, &mut places, &raised.lines);
            } else {
                for line in &new_findings {
                    eprintln!("callproof: new finding {line}");
                }
                log.new_servers(&rows, &mut places);
                if last_logged.elapsed() >= Duration::from_secs(5) {
                    last_logged = Instant::now();
                    eprintln!("{headline}");
                }
            }
        }
    }
    if let Ok(s) = cap.stats() {
        stats = s;
    }
    if let Some(k) = followed.as_mut()
        && error.is_none()
    {
        // the secrets of the last handshakes: the browser may have written them just now
        if let Err(e) = k.look(&mut analyzer, &mut writer, o.quiet) {
            stop_reason = "error";
            error = Some(format!(
                "{}: cannot write the capture: {e}",
                o.write.display()
            ));
        }
        if k.follower.bytes_read == 0 && !o.quiet {
            eprintln!(
                "callproof: key log {}: missing or empty until the end of the capture (were \
                 the clients started with SSLKEYLOGFILE={}?)",
                o.keylog.as_deref().unwrap_or(Path::new("")).display(),
                o.keylog.as_deref().unwrap_or(Path::new("")).display()
            );
        }
    }
    if let Some(l) = lagged.as_mut() {
        // written even after an error: what reaches the disk is kept
        if let Err(e) = l.write_due(&mut writer, true)
            && error.is_none()
        {
            stop_reason = "error";
            error = Some(format!(
                "{}: cannot write the capture: {e}",
                o.write.display()
            ));
        }
    }
    let isb_offset = writer.bytes_written();
    let end_ns = now_ns();
    let stats_written = writer.statistics(
        0,
        &InterfaceStats {
            start_ns: started_ns,
            end_ns,
            received: u64::from(stats.received),
            interface_dropped: u64::from(stats.if_dropped),
            os_dropped: u64::from(stats.dropped),
        },
    );
    match stats_written.and_then(|()| writer_finish(writer)) {
        Ok((bytes, sha)) => {
            capture::record_drops(
                &mut summary,
                0,
                u64::from(stats.if_dropped),
                u64::from(stats.dropped),
                isb_offset,
            );
            summary.bytes = bytes;
            summary.sha256 = sha;
            file_complete = true;
        }
        Err(e) => {
            stop_reason = "error";
            error.get_or_insert(format!(
                "{}: cannot write the capture: {e}",
                o.write.display()
            ));
        }
    }
    if let Some(e) = &error {
        // the capture ended before it was asked to: the verdict must not read as complete
        capture::push_damage(
            &mut summary,
            "capture-stopped",
            format!(
                "{e}; the frames analysed until then may not all be in the saved file, which \
                 holds what reached the disk"
            ),
            None,
            None,
        );
    }
    let mut analysis = analyzer.finish(&summary);
    let _ = verdict::make_readable(tmp.as_file(), &saved);
    if file_complete {
        tmp.persist(&saved).map_err(|e| write_error(e.error))?;
    } else {
        // keep what reached the disk, under the name asked for, and name it by its own hash
        if tmp.persist(&saved).is_ok()
            && let Ok((bytes, sha)) = hash_file(&saved)
        {
            analysis.input.bytes = Some(bytes);
            analysis.input.sha256 = Some(sha);
        } else {
            analysis.input.bytes = None;
            analysis.input.sha256 = None;
        }
    }
    analysis.input.live = Some(LiveSource {
        interface: o.interface.clone(),
        filter: o.filter.clone(),
        snaplen: o.snaplen,
        started,
        stopped: verdict::rfc3339_ns(now_ns() as i64),
        stop_reason: stop_reason.into(),
        error: error.clone(),
        packets_received: u64::from(stats.received),
        packets_dropped: u64::from(stats.dropped),
        interface_dropped: u64::from(stats.if_dropped),
        keylog: o.keylog.as_ref().map(|p| p.display().to_string()),
        keylog_sessions_saved: followed.as_ref().map(|k| k.saved.len() as u64),
    });
    Ok(LiveRun { analysis, error })
}

/// Length and SHA-256 (hex) of a file as it is on disk.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut hash = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(hash.finalize())))
}

fn writer_finish(w: PcapngWriter<BufWriter<std::fs::File>>) -> std::io::Result<(u64, String)> {
    let (buffered, bytes, sha) = w.finish()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((bytes, sha))
}

/// The saved capture's default name: the verdict's with `.pcapng` for `.json`.
pub fn capture_path_for(verdict: &Path) -> PathBuf {
    verdict.with_extension("pcapng")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets held for the write lag reach the file whole and in order, also when their bytes
    /// wrap around the ring; the ring is reused rather than grown.
    #[test]
    fn lagged_packets_reach_the_file_whole_and_in_order() {
        let mut w = PcapngWriter::new(Vec::new(), "callproof test", &[]).unwrap();
        w.add_interface(1, 262_144, "test", None).unwrap();
        let mut lagged = LaggedPackets::default();
        let mut sent = Vec::new();
        let mut seed = 0x1234_5678u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut ring_after_warm_up = None;
        for round in 0..200 {
            for _ in 0..1 + next() % 40 {
                let len = (next() % 1600) as usize;
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let ts = 1_700_000_000_000_000_000 + sent.len() as u64 * 1000;
                let orig_len = len as u32 + next() % 3;
                lagged.push(ts, &data, orig_len);
                sent.push((ts, data, orig_len));
            }
            // the oldest part of what is held has waited the lag: only that is written, the
            // rest stays in the ring, and the next packets' bytes wrap around its end
            let held = lagged.held.len();
            let due = (next() as usize) % (held + 1);
            let waited = Instant::now().checked_sub(2 * WRITE_LAG).unwrap();
            for h in lagged.held.iter_mut().take(due) {
                h.0 = waited;
            }
            lagged.write_due(&mut w, false).unwrap();
            assert_eq!(lagged.held.len(), held - due);
            if round == 20 {
                ring_after_warm_up = Some(lagged.data.capacity());
            }
        }
        lagged.write_due(&mut w, true).unwrap();
        assert_eq!((lagged.bytes, lagged.data.len()), (0, 0));
        // what is held stays below a few rounds' worth: the ring does not grow with the packets
        assert!(lagged.data.capacity() <= 4 * ring_after_warm_up.unwrap().max(40 * 1600));
        let (bytes, _, _) = w.finish().unwrap();
        let mut read = Vec::new();
        capture::read_from(Path::new("lagged.pcapng"), &bytes[..], 0, |f| {
            read.push((f.ts_ns.unwrap() as u64, f.data.to_vec(), f.orig_len));
        })
        .unwrap();
        assert_eq!(read.len(), sent.len());
        assert!(read == sent, "the packets as written");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2m10s").unwrap(), Duration::from_secs(130));
        for bad in ["", "0", "5x", "m", "1.5m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permission_errors_say_how_to_fix_them() {
        let e = classify_open_error("eth0", "eth0: You don't have permission to perform this capture on that device (socket: Operation not permitted)".into());
        let text = e.to_string();
        assert!(
            text.contains("setcap cap_net_raw,cap_net_admin=eip"),
            "{text}"
        );
        let e = classify_open_error("nope0", "nope0: SIOCGIFHWADDR: No such device".into());
        assert!(matches!(e, LiveError::NoSuchInterface { .. }));
    }
}
