//! The offline pipeline: capture → decode → flows → dissect → verdict, for one or more files.
//!
//! Owns: wiring the stages together per input file, collecting decode counters and damage, and
//! building the verdict's inputs, flows and endpoints from the facts. Stages never call each other
//! backwards; this module is the only place that knows all of them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::HashMap;

use crate::assess::brief::{self, FlowBrief, Interner};
use crate::assess::{claims, encryption, findings, media_path, protection, summary};
use crate::capture::{self, CaptureError, CaptureSummary};
use crate::decode::{Decoded, Decoder, Transport, link_type_name};
use crate::dissect::sip::Media;
use crate::dissect::tls::cert::CertFacts;
use crate::dissect::tls::keylog::KeyLog;
use crate::dissect::tls::{TlsFacts, names};
use crate::dissect::{quic, rtp, srtp, stun};
use crate::enrich::{EndpointGeo, GeoData};
use crate::flow::{self, FlowTable, L4, RoleBasis, TableEvent};
use crate::vendor::{self, Catalogue};
use crate::verdict::{self, Verdict};

/// Options of an analysis run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: flow::Limits,
    /// Hash a capture file on the thread that parses it rather than on a thread of its own
    /// (batch mode with several jobs: the cores are busy with other captures already).
    pub hash_inline: bool,
    /// Keep the complete flow records of a verdict in a temporary file until it is written,
    /// rather than in memory (see [`VerdictBuilder`]).
    pub spill_flows: bool,
    /// Secrets that open TLS 1.3 server handshakes (`--keylog`): their certificates and
    /// selected ALPN are then reported.
    pub keylog: Option<Arc<KeyLog>>,
}

/// The result of analysing one file.
pub struct FileAnalysis {
    pub input: verdict::Input,
    pub flows: Vec<flow::Flow>,
}

/// Per-input decode counters.
#[derive(Default)]
struct Counters {
    stats: verdict::DecodeStats,
    unsupported: BTreeMap<u32, (u64, u64)>, // link type -> (first frame, count)
    malformed: BTreeMap<&'static str, (u64, u64)>, // layer -> (first frame, count)
}

/// Analyse one capture file.
pub fn analyze_file(path: &Path, opts: &Options) -> Result<FileAnalysis, CaptureError> {
    analyze_with(opts, None, None, |on_frame| read_file(path, opts, on_frame))
}

/// Cores this process may run on beside the one it runs on (none when pinned to one core, as
/// under `taskset -c 0`): a hashing or judging thread pays only where one is free.
fn spare_cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get() - 1)
}

/// Where a file's flows go as they close: the builder, and the file's input index in it.
type Sink<'s, 'a> = Option<(&'s mut VerdictBuilder<'a>, usize)>;

fn read_file(
    path: &Path,
    opts: &Options,
    on_frame: &mut dyn FnMut(&capture::Frame<'_>),
) -> Result<CaptureSummary, CaptureError> {
    if opts.hash_inline || spare_cores() == 0 {
        capture::read_file_hashing_inline(path, on_frame)
    } else {
        capture::read_file(path, on_frame)
    }
}

/// Analyse one capture file, adding the bytes read so far to `progress` as it goes (about once
/// per MiB; for a compressed file, at most the file's size). With a sink, each flow goes to the
/// builder as it closes (the result then holds no flows).
fn analyze_file_reporting(
    path: &Path,
    opts: &Options,
    progress: &AtomicU64,
    sink: Sink<'_, '_>,
) -> Result<FileAnalysis, CaptureError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut reported = 0u64;
    let mut pending = 0u64;
    let result = analyze_with(
        opts,
        Some(&mut |bytes: u64| {
            pending += bytes;
            if pending >= 1 << 20 {
                let add = pending.min(size - reported);
                progress.fetch_add(add, Ordering::Relaxed);
                reported += add;
                pending = 0;
            }
        }),
        sink,
        |on_frame| read_file(path, opts, on_frame),
    );
    progress.fetch_add(size - reported, Ordering::Relaxed);
    result
}

/// Analyse a capture from any reader; `label` names it in the verdict.
pub fn analyze_reader(
    label: &Path,
    input: impl std::io::Read + Send,
    opts: &Options,
) -> Result<FileAnalysis, CaptureError> {
    analyze_with(opts, None, None, |on_frame| {
        capture::read_from(label, input, 0, on_frame)
    })
}

fn analyze_with(
    opts: &Options,
    progress: Option<&mut dyn FnMut(u64)>,
    sink: Sink<'_, '_>,
    read: impl FnOnce(&mut dyn FnMut(&capture::Frame<'_>)) -> Result<CaptureSummary, CaptureError>,
) -> Result<FileAnalysis, CaptureError> {
    let Some((builder, input)) = sink else {
        return run_analysis(opts, progress, None, read);
    };
    if opts.hash_inline || spare_cores() == 0 {
        return run_analysis(
            opts,
            progress,
            Some(&mut |events| {
                for e in events {
                    builder.event(input, e);
                }
            }),
            read,
        );
    }
    // A core to spare: the closed flows are judged, and their records written, on a thread
    // beside the packet path, in the order the table hands them out.
    const BATCH: usize = 256;
    std::thread::scope(|scope| {
        let (batches, for_judge) = std::sync::mpsc::sync_channel::<Vec<TableEvent>>(16);
        let judge = scope.spawn(move || {
            for batch in for_judge {
                for e in batch {
                    builder.event(input, e);
                }
            }
        });
        let mut batch = Vec::with_capacity(BATCH);
        let result = run_analysis(
            opts,
            progress,
            Some(&mut |events| {
                batch.extend(events);
                if batch.len() >= BATCH {
                    // the judge ends only after the sender is dropped: sending cannot fail
                    let _ = batches.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            }),
            read,
        );
        if !batch.is_empty() {
            let _ = batches.send(batch);
        }
        drop(batches);
        if let Err(panic) = judge.join() {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// Events the flow table hands out, as they come.
type EventSink<'s> = Option<&'s mut dyn FnMut(std::vec::Drain<'_, TableEvent>)>;

/// Read, decode and dissect; with `on_events`, the flow table releases each flow as it closes
/// and hands it (and the DNS answers and SDP before it) to `on_events`.
fn run_analysis(
    opts: &Options,
    mut progress: Option<&mut dyn FnMut(u64)>,
    mut on_events: EventSink<'_>,
    read: impl FnOnce(&mut dyn FnMut(&capture::Frame<'_>)) -> Result<CaptureSummary, CaptureError>,
) -> Result<FileAnalysis, CaptureError> {
    let mut analyzer = match on_events {
        Some(_) => Analyzer::releasing(opts),
        None => Analyzer::new(opts),
    };
    let summary = read(&mut |frame: &capture::Frame<'_>| {
        if let Some(report) = progress.as_mut() {
            // the record header (16 bytes in pcap; pcapng's are larger) and the data
            report(frame.data.len() as u64 + 16);
        }
        analyzer.frame(frame);
        if let Some(forward) = on_events.as_mut()
            && analyzer.table.has_events()
        {
            forward(analyzer.table.drain_events());
        }
    })?;
    analyzer.take_trailing_secrets(&summary);
    if let Some(forward) = on_events.as_mut() {
        analyzer.table.close_all();
        forward(analyzer.table.drain_events());
    }
    Ok(analyzer.finish(&summary))
}

/// The per-capture analysis, one frame at a time: decoding, the flow table and its dissectors,
/// the decode counters. A file reader or a live capture drives it; the live view reads its flows
/// while it runs.
pub struct Analyzer {
    opts: Options,
    decoder: Decoder,
    table: FlowTable,
    counters: Counters,
    last_ts: i64,
    /// Secrets of Decryption Secrets Blocks not yet handed to the flows, with the frame and
    /// capture time they came at ([`SECRETS_APPLIED_EVERY_FRAMES`]).
    pending_secrets: Option<Box<(KeyLog, u64, i64)>>,
    /// The Decryption Secrets Blocks after the last packet were handed over (by the reader
    /// before the flows close, or by `finish`): once is enough.
    trailing_secrets_taken: bool,
}

/// Secrets of a capture's Decryption Secrets Blocks reach the flows at the latest this many
/// frames, or this much capture time, after they came: every hand-over clones the key log and
/// visits every live flow, so a file of one tiny block per frame must not make it per frame.
const SECRETS_APPLIED_EVERY_FRAMES: u64 = 1024;
const SECRETS_APPLIED_EVERY_NS: i64 = 1_000_000_000;

impl Analyzer {
    pub fn new(opts: &Options) -> Self {
        Self {
            opts: opts.clone(),
            decoder: Decoder::new(),
            table: FlowTable::new(opts.limits).with_keylog(opts.keylog.clone()),
            counters: Counters::default(),
            last_ts: 0,
            pending_secrets: None,
            trailing_secrets_taken: false,
        }
    }

    /// The key logs a capture carries (pcapng Decryption Secrets Blocks) join the one given
    /// (`--keylog`), for the connections after them, as Wireshark uses them, and for those
    /// that wait for their secret (a capture saved live carries each secret soon after its
    /// handshake).
    #[cold]
    fn take_secrets(&mut self, blocks: &[capture::SecretsBlock], frame: u64, ts: i64) {
        let mut key_logs = blocks
            .iter()
            .filter(|b| b.secrets_type == capture::TLS_KEY_LOG)
            .peekable();
        if key_logs.peek().is_none() {
            return;
        }
        let mut more = KeyLog::default();
        for block in key_logs {
            more.extend(KeyLog::parse(&String::from_utf8_lossy(&block.data)));
        }
        if self.opts.keylog.is_none() {
            // the first key log: connections from now on wait for their secrets
            self.add_secrets(more);
            return;
        }
        match self.pending_secrets.as_mut() {
            Some(pending) => pending.0.extend(more),
            None => self.pending_secrets = Some(Box::new((more, frame, ts))),
        }
    }

    /// Hand the secrets of blocks read so far to the flows.
    #[cold]
    fn apply_pending_secrets(&mut self) {
        if let Some(pending) = self.pending_secrets.take() {
            self.add_secrets(pending.0);
        }
    }

    /// Secrets that join the key log mid-capture (a Decryption Secrets Block, or the lines a
    /// browser appended to its key log during a live capture): the flows being dissected take
    /// them, and a handshake that waits for its secret is opened if it is there now.
    #[cold]
    pub fn add_secrets(&mut self, more: KeyLog) {
        let first = self.opts.keylog.is_none();
        let mut log = self.opts.keylog.as_deref().cloned().unwrap_or_default();
        let sessions =
            |l: &KeyLog| l.sessions() + l.master_secret_sessions() + l.exporter_secret_sessions();
        let before = sessions(&log);
        log.extend(more);
        if first || sessions(&log) > before {
            let log = Some(Arc::new(log));
            self.table.set_keylog(log.clone());
            self.opts.keylog = log;
        }
    }

    /// The key log in use (`--keylog` and the secrets that joined it), if any.
    pub fn keylog(&self) -> Option<&Arc<KeyLog>> {
        self.opts.keylog.as_ref()
    }

    /// Decryption Secrets Blocks after the capture's last packet reach the flows still open.
    fn take_trailing_secrets(&mut self, summary: &CaptureSummary) {
        if std::mem::replace(&mut self.trailing_secrets_taken, true) {
            return;
        }
        let trailing = summary.undelivered_secrets();
        if !trailing.is_empty() {
            self.take_secrets(trailing, 0, 0);
        }
        self.apply_pending_secrets();
    }

    /// An analysis whose flow table hands each flow out as it closes (`FlowTable::releasing`).
    fn releasing(opts: &Options) -> Self {
        Self {
            table: FlowTable::releasing(opts.limits).with_keylog(opts.keylog.clone()),
            ..Self::new(opts)
        }
    }

    pub fn frame(&mut self, frame: &capture::Frame<'_>) {
        if !frame.secrets.is_empty() {
            self.take_secrets(
                frame.secrets,
                frame.number,
                frame.ts_ns.unwrap_or(self.last_ts),
            );
        }
        if let Some(pending) = &self.pending_secrets
            && (frame.number.saturating_sub(pending.1) >= SECRETS_APPLIED_EVERY_FRAMES
                || frame
                    .ts_ns
                    .unwrap_or(self.last_ts)
                    .saturating_sub(pending.2)
                    >= SECRETS_APPLIED_EVERY_NS)
        {
            self.apply_pending_secrets();
        }
        let c = &mut self.counters;
        let ts = frame.ts_ns.unwrap_or(self.last_ts);
        self.last_ts = ts;
        match self.decoder.decode(frame.link_type, frame.data, ts) {
            Decoded::Packet(p) => {
                c.stats.ip_packets += 1;
                match p.transport {
                    Transport::Tcp { .. } => c.stats.tcp_packets += 1,
                    Transport::Udp { .. } => c.stats.udp_packets += 1,
                    Transport::Other { .. } => {}
                }
                self.table.packet(frame.number, frame.ts_ns, &p);
            }
            Decoded::FragmentHeld => {}
            Decoded::NotIp => c.stats.non_ip_frames += 1,
            Decoded::UnsupportedLink => {
                c.stats.unsupported_link_frames += 1;
                c.unsupported
                    .entry(frame.link_type)
                    .or_insert((frame.number, 0))
                    .1 += 1;
            }
            Decoded::Malformed(layer) => {
                c.stats.malformed_frames += 1;
                c.malformed.entry(layer).or_insert((frame.number, 0)).1 += 1;
            }
        }
    }

    /// The flows so far, live and closed (a live flow's facts are those decided until now).
    pub fn flows(&self) -> &[flow::Flow] {
        self.table.flows()
    }

    /// A verdict of the flows so far, judged as a finished one would be (for the live view):
    /// flows still open are judged on what they have read so far, as if they closed now.
    pub fn snapshot(&self, geo: &GeoData, catalogue: &Catalogue) -> Verdict {
        const IN_MEMORY: &str = "a verdict held in memory has no spill file to fail";
        let mut builder = VerdictBuilder::new(Some(geo), catalogue, false);
        builder.inputs.push(verdict::Input {
            path: "(live)".into(),
            ..Default::default()
        });
        // open flows judged as if they closed now, on copies of what they have read so far
        let copies: Vec<Option<flow::Flow>> = self
            .table
            .flows()
            .iter()
            .map(|f| {
                let mut copy = f.with_facts_so_far()?;
                self.table.link_ice_session(&mut copy);
                Some(copy)
            })
            .collect();
        let flows = || {
            self.table
                .flows()
                .iter()
                .zip(&copies)
                .map(|(f, copy)| copy.as_ref().unwrap_or(f))
        };
        for f in flows() {
            builder.learn(0, f);
        }
        for f in flows() {
            builder.close(0, f, true);
        }
        builder.finish().expect(IN_MEMORY)
    }

    /// End the analysis: close every flow and make the input's record from `summary`.
    pub fn finish(mut self, summary: &CaptureSummary) -> FileAnalysis {
        self.take_trailing_secrets(summary);
        let mut c = self.counters;
        let defrag = self.decoder.defrag_stats();
        let recorded = self.table.recorded();
        let (flows, table_stats) = self.table.finish();
        c.stats.other_ip_packets = table_stats.other_ip_packets;
        c.stats.snaplen_truncated_frames = summary.frames_snaplen_truncated;
        c.stats.ip_fragments = defrag.fragments;
        c.stats.ip_datagrams_reassembled = defrag.reassembled;
        c.stats.ip_datagrams_abandoned = defrag.abandoned;
        c.stats.flows = recorded as u64;
        c.stats.flows_evicted = table_stats.evicted_live;
        c.stats.untracked_packets = table_stats.untracked_packets;
        let input = input_record(summary, c, &self.opts);
        FileAnalysis { input, flows }
    }
}

fn input_record(s: &CaptureSummary, c: Counters, opts: &Options) -> verdict::Input {
    let mut damage: Vec<verdict::Damage> = s
        .damage
        .iter()
        .map(|d| verdict::Damage {
            kind: d.kind.into(),
            detail: d.detail.clone(),
            frame: d.frame,
            byte_offset: d.byte_offset,
            count: d.count,
        })
        .collect();
    for (lt, (first, count)) in &c.unsupported {
        damage.push(verdict::Damage {
            kind: "unsupported-link-type".into(),
            detail: format!(
                "frames of link type {} ({lt}) are not decoded",
                link_type_name(*lt)
            ),
            frame: Some(*first),
            byte_offset: None,
            count: *count,
        });
    }
    for (layer, (first, count)) in &c.malformed {
        damage.push(verdict::Damage {
            kind: "malformed-frame".into(),
            detail: format!("frames too short or malformed at the {layer} layer"),
            frame: Some(*first),
            byte_offset: None,
            count: *count,
        });
    }
    if c.stats.snaplen_truncated_frames > 0 {
        damage.push(verdict::Damage {
            kind: "snaplen-truncated".into(),
            detail: "frames captured shorter than they were on the wire (snaplen)".into(),
            frame: None,
            byte_offset: None,
            count: c.stats.snaplen_truncated_frames,
        });
    }
    let (key_log_blocks, malformed_key_logs) = key_log_blocks(&s.secrets);
    if let Some(d) = malformed_key_logs {
        damage.push(d);
    }
    if c.stats.untracked_packets > 0 {
        damage.push(verdict::Damage {
            kind: "flow-limit".into(),
            detail: format!(
                "more than {} flows: packets of further flows were counted but not listed",
                opts.limits.max_flows
            ),
            frame: None,
            byte_offset: None,
            count: c.stats.untracked_packets,
        });
    }
    verdict::Input {
        path: s.path.display().to_string(),
        error: None,
        sha256: Some(s.sha256.clone()),
        bytes: Some(s.bytes),
        format: Some(s.format.to_string()),
        compression: s.gzip.then(|| "gzip".to_string()),
        link_types: s
            .link_types
            .iter()
            .map(|&lt| verdict::LinkType {
                name: link_type_name(lt),
                value: lt,
                decoded: !c.unsupported.contains_key(&lt),
            })
            .collect(),
        frames: s.frames,
        first_timestamp: s.first_ts_ns.map(verdict::rfc3339_ns),
        last_timestamp: s.last_ts_ns.map(verdict::rfc3339_ns),
        damage,
        decode: Some(c.stats),
        decryption_secrets_blocks: s.secrets.len(),
        key_log_blocks,
        live: None,
    }
}

/// The key logs of a capture's Decryption Secrets Blocks, as read (`inputs[].key_log_blocks`),
/// each block parsed alone as the analysis takes them; and the damage its lines that name a
/// secret but do not parse make (a damaged block, whose sessions cannot be opened).
fn key_log_blocks(
    blocks: &[capture::SecretsBlock],
) -> (Option<verdict::KeyLogBlocks>, Option<verdict::Damage>) {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let (mut bytes, mut malformed) = (0u64, 0u64);
    let mut first_malformed = None;
    let mut log: Option<KeyLog> = None;
    for block in blocks
        .iter()
        .filter(|b| b.secrets_type == capture::TLS_KEY_LOG)
    {
        hash.update(&block.data);
        bytes += block.data.len() as u64;
        let more = KeyLog::parse(&String::from_utf8_lossy(&block.data));
        malformed += more.malformed_lines as u64;
        if first_malformed.is_none() {
            first_malformed = more.first_malformed_line.map(|l| (l, block.byte_offset));
        }
        log.get_or_insert_default().extend(more);
    }
    let damage = first_malformed.map(|(line, byte_offset)| verdict::Damage {
        kind: "malformed-key-log".into(),
        detail: format!(
            "lines of the capture's key logs (Decryption Secrets Blocks) that name a TLS 1.3 \
             server handshake secret but do not parse; the first is line {line} of the block \
             at byte {byte_offset}"
        ),
        frame: None,
        byte_offset: Some(byte_offset),
        count: malformed,
    });
    let summary = log.map(|log| verdict::KeyLogBlocks {
        sha256: hex::encode(hash.finalize()),
        bytes,
        sessions: log.sessions() as u64,
        master_secrets: log.master_secret_sessions() as u64,
        exporter_secrets: log.exporter_secret_sessions() as u64,
        malformed_lines: malformed,
    });
    (summary, damage)
}

/// An input file, and whether it was found by walking a directory (rather than named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPath {
    pub path: PathBuf,
    pub from_directory: bool,
}

/// Expand directories (recursively, sorted) into the files they contain.
pub fn expand_inputs(paths: &[PathBuf]) -> Vec<InputPath> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            let mut files = Vec::new();
            while let Some(dir) = stack.pop() {
                let Ok(rd) = std::fs::read_dir(&dir) else {
                    files.push(dir);
                    continue;
                };
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        files.push(path);
                    }
                }
            }
            files.sort();
            out.extend(files.into_iter().map(|path| InputPath {
                path,
                from_directory: true,
            }));
        } else {
            out.push(InputPath {
                path: p.clone(),
                from_directory: false,
            });
        }
    }
    out
}

/// Names capture files carry: a file found in a directory under one of these names that is not
/// a capture is an error (a damaged or mislabelled capture), not a note to skip.
const CAPTURE_SUFFIXES: [&str; 7] = [
    ".pcap",
    ".pcapng",
    ".cap",
    ".ntar",
    ".pcap.gz",
    ".pcapng.gz",
    ".cap.gz",
];

fn named_like_a_capture(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    CAPTURE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// What became of one input.
pub enum InputOutcome {
    /// Read: its record and flows went to the builder.
    Analysed,
    /// Found in a directory, not named like a capture, and not one: a note beside the captures.
    Skipped(verdict::Skipped),
    Failed(CaptureError),
}

/// Analyse one input into `builder` (adding the bytes read to `progress` when given): each flow
/// is judged as it closes and the flow table holds only the flows open at once. The input's
/// record (or, when it fails, its error) is added to the builder; flows it handed over before
/// failing stay, under that record. Files found in a directory that are not captures at all
/// (notes, logs, expected-output files beside the captures) are skipped, as tcpdump users keep
/// them together; one named on the command line, or named like a capture, is an error.
pub fn analyze_input_into(
    input: &InputPath,
    opts: &Options,
    progress: Option<&AtomicU64>,
    builder: &mut VerdictBuilder<'_>,
) -> InputOutcome {
    builder.keylog_from(opts.keylog.as_deref());
    let index = builder.begin_input();
    let sink = Some((&mut *builder, index));
    let result = match progress {
        Some(p) => analyze_file_reporting(&input.path, opts, p, sink),
        None => analyze_with(opts, None, sink, |on_frame| {
            read_file(&input.path, opts, on_frame)
        }),
    };
    let outcome = match result {
        Ok(a) => {
            builder.add_input(a.input);
            return InputOutcome::Analysed;
        }
        Err(e) => failure(input, e),
    };
    if let InputOutcome::Failed(e) = &outcome {
        builder.add_input(failed_input(&input.path, e));
    }
    outcome
}

/// A file that could not be analysed: skipped (see `analyze_input_into`) or failed.
fn failure(input: &InputPath, e: CaptureError) -> InputOutcome {
    match e {
        e @ CaptureError::NotACapture { .. }
            if input.from_directory && !named_like_a_capture(&input.path) =>
        {
            InputOutcome::Skipped(verdict::Skipped {
                path: input.path.display().to_string(),
                reason: e.to_string(),
            })
        }
        e => InputOutcome::Failed(e),
    }
}

/// The `inputs[]` record of an input that could not be read.
pub fn failed_input(path: &Path, e: &CaptureError) -> verdict::Input {
    verdict::Input {
        path: path.display().to_string(),
        error: Some(e.to_string()),
        ..Default::default()
    }
}

/// Analyse every input into one verdict. Unreadable inputs are listed with their error;
/// skipped ones (see `analyze_input_into`) in `skipped`. With `opts.spill_flows` the flow records
/// wait for the verdict's writing in a temporary file (see [`VerdictBuilder`]); an error of that
/// file is the `Err`.
pub fn analyze_paths(
    paths: &[PathBuf],
    opts: &Options,
    geo: &GeoData,
    catalogue: &Catalogue,
) -> std::io::Result<(Verdict, Vec<CaptureError>)> {
    let mut builder = VerdictBuilder::new(Some(geo), catalogue, opts.spill_flows);
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for input in expand_inputs(paths) {
        match analyze_input_into(&input, opts, None, &mut builder) {
            InputOutcome::Analysed => {}
            InputOutcome::Skipped(s) => skipped.push(s),
            InputOutcome::Failed(e) => errors.push(e),
        }
    }
    let mut v = builder.finish()?;
    v.skipped = skipped;
    Ok((v, errors))
}

/// Media addresses announced in clear SDP: (address, port) → ((flow, line), the media line,
/// whether the port is the line's RTCP port).
type Announced = HashMap<(IpAddr, u16), ((u32, u32), Media, bool)>;

/// Builds a verdict from analysed inputs. Each flow is judged as its record is made — vendor
/// attribution, media path, protection findings — and added to its server endpoint; what
/// needs all flows (locations, claims, the summary) is judged by [`VerdictBuilder::finish`]
/// from the flows' briefs (`assess::brief`). Flows may come as they close (`event`, from a
/// releasing flow table), in any order, with the DNS answers and SDP seen until then; the
/// verdict lists and judges them as if they had come in id order. With a spill file, each
/// complete record is written to it once judged and only its brief is kept, so the memory a
/// verdict holds per flow is about a hundred bytes.
pub struct VerdictBuilder<'a> {
    geo: Option<&'a GeoData>,
    catalogue: &'a Catalogue,
    inputs: Vec<verdict::Input>,
    /// The complete flow records, when they are not spilled.
    flows: Vec<verdict::Flow>,
    spill: Option<verdict::Spill>,
    /// The first error of the spill file, reported by `finish`.
    spill_error: Option<std::io::Error>,
    /// Every flow's brief: what the judgements across flows read.
    briefs: Vec<FlowBrief>,
    interner: brief::Interner,
    /// The id of the current input's first flow (flows are numbered across inputs).
    id_base: u32,
    /// The current input and the media addresses its clear SIP/SDP announced so far, each with
    /// the announcing flow and the line's place in it (the earliest announcement counts).
    announced: (usize, Announced),
    /// Names the DNS answers of the inputs so far give each address.
    dns: vendor::DnsNames,
    /// Server endpoints in the order first seen: flows, ports, names from SNI and certificates,
    /// round trip, location when `geo` is given; and where each address is in that list.
    endpoints: Vec<verdict::Endpoint>,
    endpoint_at: HashMap<Arc<str>, usize>,
    vendors: vendor::Attributor,
    protection: protection::Collector,
    /// (input, country) → how often a STUN server reported a client address there.
    vantage: BTreeMap<(usize, String), usize>,
    /// The key log file the inputs were analysed with (`Options::keylog`).
    keylog: Option<verdict::KeyLogFile>,
    /// TLS 1.3 handshakes and DTLS-SRTP flows by what the key log (the file's, or the secrets
    /// of the captures' Decryption Secrets Blocks) did for them.
    keylog_handshakes: BTreeMap<String, u64>,
    keylog_srtp: BTreeMap<String, u64>,
}

impl<'a> VerdictBuilder<'a> {
    /// A builder locating endpoints with `geo` (none: no `data` section, endpoints without
    /// locations) and attributing vendors by `catalogue`; `spill`: keep complete flow records in
    /// a temporary file rather than in memory (in memory when no temporary file can be made).
    pub fn new(geo: Option<&'a GeoData>, catalogue: &'a Catalogue, spill: bool) -> Self {
        Self {
            geo,
            catalogue,
            inputs: Vec::new(),
            flows: Vec::new(),
            spill: spill.then(verdict::Spill::new).and_then(Result::ok),
            spill_error: None,
            briefs: Vec::new(),
            interner: brief::Interner::default(),
            id_base: 0,
            announced: (0, HashMap::default()),
            dns: vendor::DnsNames::default(),
            endpoints: Vec::new(),
            endpoint_at: HashMap::default(),
            vendors: vendor::Attributor::default(),
            protection: protection::Collector::default(),
            vantage: BTreeMap::new(),
            keylog: None,
            keylog_handshakes: BTreeMap::new(),
            keylog_srtp: BTreeMap::new(),
        }
    }

    /// Name the key log file the inputs are analysed with, if `log` was read from one.
    pub fn keylog_from(&mut self, log: Option<&KeyLog>) {
        if self.keylog.is_some() {
            return; // one key log for all inputs: its handshakes are counted across them
        }
        if let Some(source) = log.and_then(|l| l.source.as_deref()) {
            self.keylog = Some(verdict::KeyLogFile {
                path: source.path.display().to_string(),
                source: None,
                sha256: source.sha256.clone(),
                bytes: source.bytes,
                sessions: source.sessions as u64,
                master_secrets: source.master_secrets as u64,
                exporter_secrets: source.exporter_secrets as u64,
                malformed_lines: source.malformed_lines as u64,
                first_malformed_line: source.first_malformed_line.map(|l| l as u64),
                handshakes: BTreeMap::new(),
                srtp: BTreeMap::new(),
            });
        }
    }

    /// Add an analysed input whose flows were all kept: its record and its flows, each judged
    /// as its record is made, with the DNS answers and SDP of all of them.
    pub fn add(&mut self, a: FileAnalysis) -> std::io::Result<()> {
        let input = self.begin_input();
        self.inputs.push(a.input);
        for f in &a.flows {
            self.learn(input, f);
        }
        self.briefs.reserve_exact(a.flows.len());
        if self.spill.is_none() {
            self.flows.reserve_exact(a.flows.len());
        }
        // Each flow's dissection state is dropped as soon as its record is made, so the two
        // forms of all flows are never held at once.
        for f in a.flows {
            self.close(input, &f, true);
        }
        self.end_input();
        self.take_error()
    }

    /// The next input's index; its flows come as `event`s, then its record (`add_input`).
    pub fn begin_input(&mut self) -> usize {
        self.id_base = self.briefs.len() as u32;
        self.inputs.len()
    }

    /// What a table releasing its flows handed out for input `input`, in order.
    pub fn event(&mut self, input: usize, e: TableEvent) {
        match e {
            TableEvent::DnsAnswer {
                flow,
                seq,
                name,
                ip,
            } => self.dns.add(&ip.to_string(), &name, (input, flow, seq)),
            TableEvent::Announced { flow, seq, media } => self.announce(input, (flow, seq), &media),
            TableEvent::Closed(f) => self.close(input, &f, true),
        }
    }

    /// The record of an input whose flows came as events (or of one that failed).
    pub fn add_input(&mut self, record: verdict::Input) {
        self.inputs.push(record);
        self.end_input();
    }

    fn end_input(&mut self) {
        self.announced.1.clear();
    }

    fn take_error(&mut self) -> std::io::Result<()> {
        self.spill_error.take().map_or(Ok(()), Err)
    }

    /// The DNS answers and SDP media lines of a whole flow (those beyond the listed ones that
    /// a table keeping its flows still holds too).
    fn learn(&mut self, input: usize, f: &flow::Flow) {
        let answers = f
            .dns()
            .into_iter()
            .flat_map(|d| d.answers.iter().chain(d.unlisted()));
        for (seq, (name, ip)) in answers.enumerate() {
            self.dns
                .add(&ip.to_string(), name, (input, f.id, seq as u32));
        }
        let media = f
            .sip()
            .into_iter()
            .flat_map(|s| s.media.iter().chain(s.unlisted()));
        for (seq, m) in media.enumerate() {
            self.announce(input, (f.id, seq as u32), m);
        }
    }

    /// A media address announced in clear SDP: the earliest announcement counts, and a media
    /// port outranks another line's implied RTCP port (a line with `a=rtcp-mux` may leave the
    /// next port up to the next line's media).
    fn announce(&mut self, input: usize, order: (u32, u32), m: &Media) {
        if self.announced.0 != input {
            self.announced = (input, HashMap::default());
        }
        let Some(ip) = m.address.filter(|_| m.port != 0) else {
            return;
        };
        let rtcp = m.rtcp_port.map(|port| (m.rtcp_address.unwrap_or(ip), port));
        for (at, rtcp_port) in [(Some((ip, m.port)), false), (rtcp, true)] {
            let Some(at) = at else { continue };
            match self.announced.1.get_mut(&at) {
                Some(known) if (known.2, known.0) <= (rtcp_port, order) => {}
                Some(known) => *known = (order, m.clone(), rtcp_port),
                None => {
                    self.announced.1.insert(at, (order, m.clone(), rtcp_port));
                }
            }
        }
    }

    /// Make the record of a closed flow and judge it (a spill error is kept for `finish`).
    fn close(&mut self, input: usize, f: &flow::Flow, signalling: bool) {
        let signalled = if signalling && self.announced.0 == input {
            [f.client, f.server]
                .iter()
                .find_map(|e| self.announced.1.get(&(e.ip, e.port)))
                .map(|(_, media, rtcp_port)| encryption::Signal {
                    media,
                    rtcp_port: *rtcp_port,
                })
        } else {
            None
        };
        let record = flow_record(self.id_base + f.id, input, f, signalled);
        if let Err(e) = self.judge(record)
            && self.spill_error.is_none()
        {
            self.spill_error = Some(e);
        }
    }

    /// The judgements on one flow alone; then the record is kept, or spilled, and its brief kept.
    fn judge(&mut self, mut f: verdict::Flow) -> std::io::Result<()> {
        if let Some(state) = f
            .tls
            .as_ref()
            .or(f.dtls.as_ref())
            .and_then(|t| t.keylog.as_deref())
        {
            match self.keylog_handshakes.get_mut(state) {
                Some(n) => *n += 1,
                None => {
                    self.keylog_handshakes.insert(state.to_string(), 1);
                }
            }
        }
        if let Some(keys) = f.rtp.as_ref().and_then(|r| r.srtp_keys.as_ref())
            && keys.source == "dtls-key-log"
        {
            *self.keylog_srtp.entry(keys.state.to_string()).or_default() += 1;
        }
        let endpoint = self.endpoint(&f.server.ip);
        let asn = self.endpoints[endpoint].asn;
        self.vendors.flow(self.catalogue, &mut f, &self.dns, asn);
        media_path::assess_flow(&mut f);
        self.protection.check_flow(&f);
        add_to_endpoint(&mut self.endpoints[endpoint], &f);
        if let Some(geo) = self.geo {
            for a in f.stun.iter().flat_map(|s| &s.mapped_addresses) {
                let Ok(sa) = a.parse::<std::net::SocketAddr>() else {
                    continue;
                };
                if let Some(cc) = geo.lookup(sa.ip()).country {
                    *self.vantage.entry((f.input, cc)).or_default() += 1;
                }
            }
        }
        self.briefs.push(FlowBrief::of(&f, &mut self.interner));
        match self.spill.as_mut() {
            Some(spill) => spill.push(&f)?,
            None => self.flows.push(f),
        }
        Ok(())
    }

    /// Where the server endpoint at `ip` is in `endpoints`; made (and located) when first seen.
    fn endpoint(&mut self, ip: &str) -> usize {
        if let Some(&at) = self.endpoint_at.get(ip) {
            return at;
        }
        let ip = self.interner.text(ip);
        let mut e = new_endpoint(ip.clone());
        if let (Some(geo), Ok(addr)) = (self.geo, ip.parse::<IpAddr>()) {
            enrich_endpoint(&mut e, &geo.lookup(addr), &mut self.interner);
        }
        let at = self.endpoints.len();
        self.endpoints.push(e);
        self.endpoint_at.insert(ip, at);
        at
    }

    /// The verdict: endpoints named and checked, every finding raised, the vendors' claims
    /// checked and the summary decided.
    pub fn finish(self) -> std::io::Result<Verdict> {
        let Self {
            geo,
            catalogue,
            inputs,
            mut flows,
            spill,
            spill_error,
            mut briefs,
            interner,
            id_base: _,
            announced: _,
            dns,
            mut endpoints,
            endpoint_at,
            vendors,
            protection,
            vantage,
            keylog,
            keylog_handshakes,
            keylog_srtp,
        } = self;
        // the key log file given, or else the secrets the captures carried
        let keylog = keylog.or_else(|| {
            let (input, blocks) = inputs
                .iter()
                .find_map(|i| Some((i, i.key_log_blocks.as_ref()?)))?;
            Some(verdict::KeyLogFile {
                path: input.path.clone(),
                source: Some("decryption-secrets-blocks".into()),
                sha256: blocks.sha256.clone(),
                bytes: blocks.bytes,
                sessions: blocks.sessions,
                master_secrets: blocks.master_secrets,
                exporter_secrets: blocks.exporter_secrets,
                malformed_lines: blocks.malformed_lines,
                first_malformed_line: None,
                handshakes: BTreeMap::new(),
                srtp: BTreeMap::new(),
            })
        });
        let keylog = keylog.map(|k| verdict::KeyLogFile {
            handshakes: keylog_handshakes,
            srtp: keylog_srtp,
            ..k
        });
        drop((endpoint_at, interner));
        if let Some(e) = spill_error {
            return Err(e);
        }
        // flows closed in any order; listed by id
        briefs.sort_unstable_by_key(|b| b.id);
        flows.sort_unstable_by_key(|f| f.id);
        let flows = match spill {
            Some(spill) => {
                let traffic = briefs
                    .iter()
                    .map(|b| (b.server_ip.clone(), b.bytes))
                    .collect();
                verdict::Flows::spilled(spill.finish()?, traffic)
            }
            None => verdict::Flows::new(flows),
        };
        // listed by address (as text), as callproof always has
        endpoints.sort_unstable_by(|a, b| a.ip.cmp(&b.ip));
        endpoints.shrink_to_fit();
        for e in &mut endpoints {
            e.flows.sort_unstable();
            e.flows.shrink_to_fit();
            e.names_truncated |= dns.names_dropped(&e.ip);
            for name in dns.names(&e.ip) {
                if !e.names.iter().any(|n| n == name) {
                    if e.names.len() >= vendor::MAX_NAMES_PER_ADDRESS {
                        e.names_truncated = true;
                        break;
                    }
                    e.names.push(name.to_string());
                }
            }
            e.ports.sort_unstable();
            e.names.sort();
        }
        drop(dns);
        let mut v = Verdict {
            schema: verdict::SCHEMA.into(),
            tool: verdict::Tool::this(),
            generated_at: verdict::now_rfc3339(),
            inputs,
            data: None,
            keylog,
            endpoints,
            flows,
            findings: Vec::new(),
            summary: None,
            skipped: Vec::new(),
            vendors: Vec::new(),
            claims: Vec::new(),
        };
        let mut located = Vec::new();
        if let Some(geo) = geo {
            check_plausibility(&mut v, &briefs, &vantage_countries(vantage));
            v.data = Some(data_section(geo));
            located = findings::location_findings(&v, &briefs, |cc| {
                Some(geo.policy.region(cc).0.as_str().to_string())
            });
        }
        vendors.endpoints(catalogue, &mut v.endpoints);
        drop(vendors);
        v.vendors = vendor::vendors_seen(&briefs, catalogue);
        assess(&mut v, &briefs, protection, located, catalogue);
        Ok(v)
    }
}

/// Check each located endpoint's location against the round trips measured from each capture
/// point.
fn check_plausibility(v: &mut Verdict, briefs: &[FlowBrief], vantage: &BTreeMap<usize, String>) {
    for e in &mut v.endpoints {
        // per capture: its own capture point, its own round trips
        let mut checks: Vec<(bool, String)> = Vec::new();
        for (input, cc) in vantage {
            let rtt = e
                .flows
                .iter()
                .filter_map(|&id| brief::by_id(briefs, id))
                .filter(|f| f.input == *input)
                .filter_map(|f| f.rtt_ms)
                .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
            if let (Some(rtt), Some(country)) = (rtt, e.country.as_deref())
                && let Some(check) = plausibility(country, e.region.as_deref(), rtt, cc)
            {
                checks.push(check);
            }
        }
        let worst = checks.iter().find(|(ok, _)| !ok).or(checks.first());
        if let Some((ok, why)) = worst {
            e.location_plausible = Some(*ok);
            e.location_check = Some(why.clone());
        }
    }
}

/// Raise the findings (the protection ones collected flow by flow, the location ones given),
/// check the vendors' claims and decide the summary from them.
fn assess(
    v: &mut Verdict,
    briefs: &[FlowBrief],
    protection: protection::Collector,
    location: Vec<verdict::Finding>,
    catalogue: &Catalogue,
) {
    let raised = protection.into_findings();
    let evidence = protection::evidence_findings(v, briefs);
    // A verdict may hold hundreds of thousands of findings, most of them location findings:
    // their list is extended in place rather than copied into a new one, so that the two are
    // not held at once.
    let mut all = location;
    all.reserve_exact(raised.len() + evidence.len());
    all.splice(0..0, raised);
    all.extend(evidence);
    for f in &mut all {
        f.detail = findings::exact_size(std::mem::take(&mut f.detail));
    }
    most_severe_first(&mut all);
    v.findings = all;
    v.claims = claims::check(v, briefs, catalogue);
    // claims are checked against the findings above; a contradicted one is a finding of its own
    let contradicted = claims::contradiction_findings(v, briefs);
    if !contradicted.is_empty() {
        v.findings.reserve_exact(contradicted.len());
        v.findings.extend(contradicted);
        most_severe_first(&mut v.findings);
    }
    v.summary = Some(summary::summarize(v, briefs));
}

/// Most severe first; within a severity, in the order the checks raised them (a stable sort).
/// (A cached-key sort is stable and permutes in place: no merge buffer of half the findings.)
fn most_severe_first(found: &mut [verdict::Finding]) {
    found.sort_by_cached_key(|f| {
        std::cmp::Reverse(findings::severity_named(&f.severity).unwrap_or(findings::Severity::Info))
    });
}

fn flow_record(
    id: u32,
    input: usize,
    f: &flow::Flow,
    signalled: encryption::Signalled<'_>,
) -> verdict::Flow {
    let relayed = f
        .udp
        .as_ref()
        .map(|u| u.relayed_datagrams)
        .filter(|n| *n > 0);
    let enc = encryption::assess_with(f, signalled);
    // Strongest evidence for RTP payloads: DTLS-SRTP keying on the same flow.
    let media_keying = f
        .udp
        .as_ref()
        .and_then(|u| u.dtls.as_deref())
        .or(f.ice_keying.as_deref().map(|k| &k.dtls))
        .and_then(|d| d.server_hello.as_ref())
        .and_then(|sh| sh.srtp_profile.map(|p| (sh.frame, p)))
        .map(|(frame, p)| {
            let null = matches!(p, 0x0005 | 0x0006);
            let why = format!(
                "DTLS-SRTP: the DTLS ServerHello in frame {frame} selected {}{}",
                names::srtp_profile_name(p),
                if null { " (no encryption)" } else { "" }
            );
            (!null, why)
        });
    let srtp_keys = f.udp.as_ref().and_then(|u| u.srtp_keys.as_deref());
    let addr = |e: flow::Endpoint| verdict::Address {
        ip: e.ip.to_string(),
        port: e.port,
    };
    verdict::Flow {
        id,
        input,
        transport: match f.l4 {
            L4::Tcp => "tcp".into(),
            L4::Udp => "udp".into(),
        },
        client: addr(f.client),
        server: addr(f.server),
        role_basis: match f.role_basis {
            RoleBasis::TcpHandshake => "tcp-handshake",
            RoleBasis::Handshake => "tls-handshake",
            RoleBasis::ServicePort => "service-port",
            RoleBasis::FirstPacket => "first-packet",
        }
        .into(),
        packets_client_to_server: f.packets[0],
        packets_server_to_client: f.packets[1],
        bytes_client_to_server: f.bytes[0],
        bytes_server_to_client: f.bytes[1],
        first_frame: f.first_frame,
        first_timestamp: f.first_ts.map(verdict::rfc3339_ns),
        last_timestamp: f.last_ts.map(verdict::rfc3339_ns),
        vendor: None,
        protocols: f
            .protocols
            .names()
            .into_iter()
            // SRTP negotiated in clear SDP for this address: the RTP here is SRTP.
            .map(|p| match p {
                "rtp" if signalled.is_some_and(|s| s.media.secure_profile()) => "srtp",
                "rtcp"
                    if signalled
                        .is_some_and(|s| encryption::sdp_protection(s.media) == Some(true)) =>
                {
                    "srtcp"
                }
                other => other,
            })
            .map(verdict::Name::Borrowed)
            .collect(),
        media_path: relayed.map(|_| "relayed".into()),
        media_path_basis: relayed.map(|n| {
            format!(
                "{n} datagram(s) of a peer carried in TURN Data/Send indications or ChannelData"
            )
        }),
        ice_session_dtls: f.ice_keying.as_deref().map(|k| verdict::IceSessionDtls {
            client: addr(k.client),
            server: addr(k.server),
        }),
        tcp: (f.l4 == L4::Tcp)
            .then(|| verdict::Tcp {
                syn_seen: f.syn_seen,
                rtt_ms: f.tcp_rtt_ns.map(|n| n as f64 / 1e6),
                midstream: f.midstream,
                state: if f.rst_seen {
                    "rst"
                } else if f.fin_seen[0] || f.fin_seen[1] {
                    "fin"
                } else {
                    "open"
                }
                .into(),
                gap_bytes_client_to_server: f.gap_bytes[0],
                gap_bytes_server_to_client: f.gap_bytes[1],
            })
            .map(Box::new),
        // TLS over TCP, or the TLS handshake carried in QUIC Initial packets.
        tls: f
            .tls
            .as_deref()
            .or_else(|| f.udp.as_ref().and_then(|u| u.quic_tls.as_deref()))
            .map(tls_record)
            .map(Box::new),
        dtls: f
            .udp
            .as_ref()
            .and_then(|u| u.dtls.as_deref())
            .map(tls_record)
            .map(Box::new),
        quic: f
            .udp
            .as_ref()
            .and_then(|u| u.quic.as_ref())
            .map(|q| {
                let hello = f
                    .udp
                    .as_ref()
                    .and_then(|u| u.quic_tls.as_ref())
                    .and_then(|t| t.client_hello.as_ref());
                verdict::Quic {
                    version: q.version.map(quic::version_name),
                    sni: hello.and_then(|h| h.sni.clone()),
                    alpn: hello.map(|h| h.alpn.clone()).unwrap_or_default(),
                    long_header_packets: q.long_header_packets,
                    short_header_packets: q.short_header_packets,
                    gquic: q.gquic,
                }
            })
            .map(Box::new),
        stun: f
            .udp
            .as_ref()
            .and_then(|u| u.stun.as_ref())
            .map(|s| verdict::Stun {
                messages: s.messages,
                methods: s.methods.iter().map(|&m| stun::method_name(m)).collect(),
                methods_truncated: s.methods_truncated,
                software: s.software.clone(),
                username_seen: s.username_seen,
                mapped_addresses: s.mapped_addresses.iter().map(ToString::to_string).collect(),
                relayed_addresses: s
                    .relayed_addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                peer_addresses: s.peer_addresses.iter().map(ToString::to_string).collect(),
                addresses_truncated: s.addresses_truncated,
                vendor_attributes: s
                    .vendor_attributes
                    .iter()
                    .map(|a| format!("0x{a:04X}"))
                    .collect(),
                vendor_attributes_truncated: s.vendor_attributes_truncated,
                vendor_attribute_names: s
                    .vendor_attributes
                    .iter()
                    .filter_map(|&a| {
                        let (name, by) = stun::vendor_attribute(a)?;
                        Some(verdict::StunAttribute {
                            attribute_type: format!("0x{a:04X}"),
                            name: name.into(),
                            defined_by: by.map(Into::into),
                        })
                    })
                    .collect(),
                rtt_ms: s.rtt_ns.map(|n| n as f64 / 1e6),
                channel_data: s.channel_data + f.udp.as_ref().map_or(0, |u| u.channel_data),
                ms_turn: s.ms_turn,
                relayed_datagrams: f.udp.as_ref().map_or(0, |u| u.relayed_datagrams),
                binding_requests_client_to_server: s.binding_requests[0],
                binding_requests_server_to_client: s.binding_requests[1],
            })
            .map(Box::new),
        rtp: f
            .udp
            .as_ref()
            .and_then(|u| u.rtp.as_ref())
            .map(|r| verdict::Rtp {
                streams: r
                    .confirmed()
                    .map(|s| {
                        let (encrypted, mut evidence) =
                            encryption::rtp_stream(s, media_keying.clone(), signalled);
                        // the stream's packets checked with the flow's SRTP keys, if any
                        let checked = srtp_keys
                            .filter(|k| k.state == srtp::KeysState::Derived)
                            .and_then(|k| Some((k.stream(s.ssrc, s.direction)?, k)));
                        if let Some((check, k)) = checked {
                            evidence.insert(0, srtp_stream_evidence(check, k.source_words()));
                            for (i, inner) in inner_e2ee_evidence(check).into_iter().enumerate() {
                                evidence.insert(1 + i, inner);
                            }
                        }
                        let mut record = stream_record(s, encrypted, evidence);
                        if let Some((check, _)) = checked {
                            record.srtp_authenticated = Some(check.authenticated);
                            record.srtp_failed_authentication = Some(check.failed);
                            record.inner_e2ee_packets = Some(check.inner_e2ee());
                            record.inner_e2ee_layers = inner_e2ee_layers(check);
                            record.retransmission_of =
                                check.retransmits.of().map(|of| verdict::Retransmission {
                                    ssrc: format!("0x{of:08x}"),
                                    copies: check.retransmits.copies,
                                    gap_fills: check.retransmits.gap_fills,
                                });
                        }
                        record
                    })
                    .collect(),
                untracked_packets: r.untracked_packets,
                rtcp_packets: r.rtcp_packets,
                rtcp_in_clear: r.rtcp_in_clear,
                srtcp_encrypted: r.srtcp(),
                srtcp_tag: r.srtcp_tag().map(|t| t.name().to_string()),
                header_extensions_in_clear: r.clear_extension_packets,
                cryptex_packets: r.cryptex_packets,
                clear_header_extensions: clear_extensions(&r.clear_extension_ids, signalled),
                srtp_keys: srtp_keys.map(|k| verdict::SrtpKeys {
                    source: match k.source {
                        srtp::KeySource::DtlsKeyLog { .. } => "dtls-key-log",
                        srtp::KeySource::Sdes(_) => "sdes-in-clear",
                    }
                    .into(),
                    profile: names::srtp_profile_name(k.profile),
                    profile_found_by_trial: k.profile_by_trial,
                    state: k.state_name().into(),
                    packets_authenticated: k.authenticated(),
                    packets_failed_authentication: k.failed(),
                    packets_unopened: k.unopened,
                    packets_unchecked: k.unchecked,
                    rtcp_packets_authenticated: k.rtcp_authenticated,
                    rtcp_packets_failed_authentication: k.rtcp_failed,
                    rtcp_packets_unopened: k.rtcp_unopened,
                }),
            })
            .map(Box::new),
        zoom: f
            .udp
            .as_ref()
            .and_then(|u| u.zoom.as_ref())
            .map(|z| {
                let (encrypted, evidence) = encryption::zoom_media(z);
                verdict::Zoom {
                    mode: if z.server_mode_packets > 0 || z.control_packets > 0 {
                        "server"
                    } else {
                        "peer-to-peer"
                    }
                    .into(),
                    media_types: z.media_types.iter().map(|m| m.name()).collect(),
                    media_packets: z.packets(),
                    control_packets: z.control_packets,
                    packets_to_server: z.to_server,
                    packets_from_server: z.from_server,
                    streams: z
                        .streams
                        .streams
                        .iter()
                        .map(|s| stream_record(s, encrypted, Vec::new()))
                        .collect(),
                    encrypted,
                    evidence,
                }
            })
            .map(Box::new),
        sip: f
            .sip()
            .map(|s| verdict::Sip {
                messages: s.messages,
                methods: s.methods.clone(),
                methods_truncated: s.methods_truncated,
                unlisted_media: s.unlisted_media,
                unlisted_media_keys_in_clear: s.unlisted_keys_in_clear,
                media: s
                    .media
                    .iter()
                    .map(|m| verdict::SipMedia {
                        frame: m.frame,
                        kind: m.kind.clone(),
                        address: m.address.map(|a| a.to_string()),
                        port: m.port,
                        proto: m.proto.clone(),
                        crypto_suites: m.crypto_suites.clone(),
                        crypto_in_clear: m.key_in_clear,
                        dtls_fingerprint: m.dtls_fingerprint,
                        rtcp_port: m.rtcp_port,
                        rtcp_address: m.rtcp_address.map(|a| a.to_string()),
                    })
                    .collect(),
            })
            .map(Box::new),
        http: f.http.as_ref().map(|h| {
            Box::new(verdict::Http {
                frame: h.frame,
                method: h.method.clone(),
                host: h.host.clone(),
                websocket_protocol: h.websocket_protocol.clone(),
            })
        }),
        encryption: verdict::Encryption {
            state: enc.state.as_str().into(),
            protection: enc.protection,
            basis: enc.basis,
        },
        dns: f
            .dns()
            .map(|d| verdict::Dns {
                queries: d.queries,
                responses: d.responses,
                answers_truncated: d.answers_truncated,
                answers: d
                    .answers
                    .iter()
                    .map(|(name, ip)| verdict::DnsAnswer {
                        name: name.clone(),
                        ip: ip.to_string(),
                    })
                    .collect(),
            })
            .map(Box::new),
    }
}

/// The evidence of one stream's packets checked with the flow's SRTP keys (`source`: where
/// they came from, in words).
fn srtp_stream_evidence(check: &srtp::StreamCheck, source: &str) -> String {
    match (check.authenticated, check.failed) {
        (opened, 0) => format!(
            "SRTP opened with {source}: all {opened} packets checked authenticated and decrypted"
        ),
        (0, failed) => {
            format!("none of {failed} packets authenticated under the SRTP keys ({source})")
        }
        (opened, failed) => format!(
            "SRTP opened with {source}: {opened} packets authenticated and decrypted, {failed} failed authentication"
        ),
    }
}

/// What the payloads SRTP opened show of an inner end-to-end layer: each layer found, or
/// (over enough packets) none found in a form recognised here.
fn inner_e2ee_evidence(check: &srtp::StreamCheck) -> Vec<String> {
    let opened = check.authenticated;
    let mut lines = Vec::new();
    if check.jitsi_trailers > 0 {
        lines.push(format!(
            "inner layer: {} of {opened} opened payloads end with the frame trailer of \
             Jitsi Meet's E2EE (an IV naming this stream's SSRC and the packet's RTP \
             timestamp, its length, a key index): beneath SRTP the frames are encrypted \
             again, with keys the capture does not show",
            check.jitsi_trailers
        ));
    }
    let rewritten = &check.jitsi_rewritten;
    if rewritten.packets > 0 {
        lines.push(format!(
            "inner layer: {} of {opened} opened payloads end with the frame trailer of \
             Jitsi Meet's E2EE whose IV names SSRC {:#010x} and RTP timestamps {} (modulo \
             2^32) ahead of the packet's, in runs of at least {} packets alike: the IV keeps \
             the sender's values and the RTP header another's, as a media server that \
             rewrites SSRCs and timestamps leaves them; beneath SRTP the frames are \
             encrypted again, with keys the capture does not show",
            rewritten.packets,
            rewritten.iv_ssrc,
            rewritten.timestamp_offset,
            srtp::JITSI_REWRITTEN_RUN
        ));
    }
    if let Some((offset, run)) = check.sframe.best() {
        lines.push(format!(
            "inner layer: {} of {opened} opened payloads begin a frame with an SFrame header \
             (RFC 9605) at payload byte {offset}: key id {:#x}, the counter rising frame by \
             frame from {} to {} (runs of at least {} frames, steps of at most {}): beneath \
             SRTP the frames are encrypted again, with keys the capture does not show",
            run.frames,
            run.kid,
            run.first_ctr,
            run.last_ctr,
            srtp::SFRAME_RUN,
            srtp::SFRAME_MAX_STEP
        ));
    }
    if let Some(of) = check.retransmits.of() {
        let r = &check.retransmits;
        lines.push(format!(
            "retransmissions (RFC 4588) of SSRC {of:#010x}: {} of {opened} opened payloads \
             repeat its packets, the original sequence number first ({} a packet the capture \
             holds, payload and RTP timestamp alike; {} a sequence number it lacks, at a \
             timestamp between its captured neighbours'): what lies beneath SRTP is that \
             stream's payload, and its inner layer is judged there",
            r.copies + r.gap_fills,
            r.copies,
            r.gap_fills
        ));
    } else if lines.is_empty() && opened >= srtp::INNER_LAYER_MIN_PACKETS {
        lines.push(format!(
            "inner layer: none of the {opened} opened payloads carries an end-to-end layer \
             recognised here (Jitsi Meet's frame trailer; SFrame headers whose counter runs \
             on over {} frames at one of the first {} payload bytes); others are not looked \
             for",
            srtp::SFRAME_RUN,
            srtp::SFRAME_OFFSETS
        ));
    } else if lines.is_empty() && opened > 0 {
        lines.push(format!(
            "inner layer: {opened} opened payload{} too few to show whether an end-to-end \
             layer lies beneath SRTP (at least {} are looked at)",
            if opened == 1 { ":" } else { "s:" },
            srtp::INNER_LAYER_MIN_PACKETS
        ));
    }
    lines
}

/// The names of the inner end-to-end layers a stream's opened payloads carry
/// (`rtp.streams[].inner_e2ee_layers`).
fn inner_e2ee_layers(check: &srtp::StreamCheck) -> Vec<String> {
    let mut layers = Vec::new();
    if check.jitsi_trailers + check.jitsi_rewritten.packets > 0 {
        layers.push("jitsi-meet-e2ee".to_string());
    }
    if check.sframe.frames() > 0 {
        layers.push("sframe".to_string());
    }
    layers
}

fn stream_record(
    s: &rtp::Stream,
    encrypted: Option<bool>,
    evidence: Vec<String>,
) -> verdict::RtpStream {
    verdict::RtpStream {
        ssrc: format!("0x{:08x}", s.ssrc),
        payload_type: s.payload_type,
        direction: if s.direction == 0 {
            "client_to_server"
        } else {
            "server_to_client"
        }
        .into(),
        packets: s.packets,
        first_frame: s.first_frame,
        missing: s.missing,
        encrypted,
        evidence,
        payload_entropy: s.payload_entropy().map(|h| (h * 1000.0).round() / 1000.0),
        payload_bytes_sampled: s.sampled_bytes,
        srtp_authenticated: None,
        srtp_failed_authentication: None,
        inner_e2ee_packets: None,
        inner_e2ee_layers: Vec::new(),
        retransmission_of: None,
    }
}

/// Distinct certificate records shared per thread: many connections present the same chain,
/// and a verdict may list a million of them.
const SHARED_CERTIFICATES: usize = 4096;

thread_local! {
    static CERTIFICATES: std::cell::RefCell<HashMap<String, Arc<verdict::Certificate>>> =
        std::cell::RefCell::new(HashMap::default());
}

/// The header extension IDs seen in clear, each named by the signalled `a=extmap` line when the
/// capture carried the SDP.
fn clear_extensions(
    ids: &[u64; 4],
    signalled: encryption::Signalled<'_>,
) -> Vec<verdict::RtpHeaderExtension> {
    (1..=255u8)
        .filter(|&id| ids[usize::from(id >> 6)] & (1 << (id & 63)) != 0)
        .map(|id| {
            let mapped = signalled.and_then(|s| s.media.extmap.iter().find(|(i, _)| *i == id));
            verdict::RtpHeaderExtension {
                id,
                uri: mapped.map(|(_, uri)| uri.clone()),
                signalled_frame: mapped.and(signalled.map(|s| s.media.frame)),
            }
        })
        .collect()
}

fn certificate_record(c: &CertFacts) -> Arc<verdict::Certificate> {
    if let Some(known) = CERTIFICATES.with(|m| m.borrow().get(&c.sha256).cloned()) {
        return known;
    }
    let record = Arc::new(verdict::Certificate {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        san: c.san.clone(),
        not_before: verdict::rfc3339_s(c.not_before),
        not_after: verdict::rfc3339_s(c.not_after),
        key: c.key.clone(),
        signature: c.signature.clone(),
        self_signed: c.self_signed,
        serial: c.serial.clone(),
        sha256: c.sha256.clone(),
    });
    CERTIFICATES.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= SHARED_CERTIFICATES {
            m.clear();
        }
        m.insert(c.sha256.clone(), record.clone());
    });
    record
}

fn tls_record(t: &TlsFacts) -> verdict::Tls {
    let ch = t.client_hello.as_ref();
    let offered_versions = match ch {
        Some(ch) if !ch.supported_versions.is_empty() => ch
            .supported_versions
            .iter()
            .map(|&v| names::version_name(v))
            .collect(),
        Some(ch) => vec![names::version_name(ch.legacy_version)],
        None => Vec::new(),
    };
    verdict::Tls {
        version: t.version().map(names::version_name),
        cipher: t.cipher().map(names::cipher_name),
        sni: ch.and_then(|c| c.sni.clone()),
        alpn: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
        alpn_selected: t.server_hello.as_ref().and_then(|s| s.alpn.clone()),
        offered_versions,
        offered_ciphers: ch
            .map(|c| {
                c.ciphers
                    .iter()
                    .map(|&x| names::cipher_name_static(x))
                    .collect()
            })
            .unwrap_or_default(),
        client_hello_frame: ch.map(|c| c.frame),
        server_hello_frame: t.server_hello.as_ref().map(|s| s.frame),
        hello_retry: t.server_hello.as_ref().is_some_and(|s| s.hello_retry),
        alerts: t
            .alerts
            .iter()
            .map(|a| verdict::Alert {
                from: if a.from_server { "server" } else { "client" }.into(),
                level: names::alert_level_name(a.level),
                description: names::alert_description_name(a.description),
                frame: a.frame,
            })
            .collect(),
        unlisted_alerts: t.unlisted_alerts,
        encrypted_alerts: t.encrypted_alerts,
        certificates: t.certificates.iter().map(certificate_record).collect(),
        unlisted_certificates: t.unlisted_certificates,
        gap_in_handshake: t.gap_in_handshake,
        plaintext_prefix_bytes: t.plaintext_prelude_bytes[0] + t.plaintext_prelude_bytes[1],
        keylog: t.keylog.map(|k| k.as_str().to_string()),
        srtp_profile: t
            .server_hello
            .as_ref()
            .and_then(|s| s.srtp_profile)
            .map(names::srtp_profile_name),
        srtp_profiles_offered: ch
            .map(|c| {
                c.srtp_profiles
                    .iter()
                    .map(|&p| names::srtp_profile_name(p))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Fill in what enrichment says of an endpoint; the texts many endpoints repeat (countries,
/// AS organisations, operators, reasons) are shared through `interner`.
fn enrich_endpoint(e: &mut verdict::Endpoint, g: &EndpointGeo, interner: &mut Interner) {
    let mut text = |t: &Option<String>| t.as_deref().map(|t| interner.text(t));
    e.country = text(&g.country);
    // which database was asked, also when it had no country (indeterminate)
    e.location_source = g.location_source.clone();
    e.region = g.region.map(|r| r.as_str().into());
    e.region_scope = g.region_scope.clone();
    e.region_reason = text(&g.region_reason);
    e.asn = g.asn;
    e.as_org = text(&g.as_org);
    e.as_country = text(&g.as_country);
    e.operator = g.operator.as_ref().map(|o| {
        interner.operator(verdict::OperatorRef {
            name: o.name.clone(),
            parent: o.parent.clone(),
            jurisdiction: o.jurisdiction.clone(),
            source: g.operator_source.unwrap_or_default().into(),
        })
    });
}

/// Each capture's capture-point country: where the public addresses STUN servers reported for
/// its client (XOR-MAPPED-ADDRESS) are, by the country database; the most frequent one wins.
/// `counts`: (input, country) → reports.
fn vantage_countries(counts: BTreeMap<(usize, String), usize>) -> BTreeMap<usize, String> {
    let mut best: BTreeMap<usize, (String, usize)> = BTreeMap::new();
    for ((input, cc), n) in counts {
        let e = best.entry(input).or_insert((cc.clone(), 0));
        if n > e.1 {
            *e = (cc, n);
        }
    }
    best.into_iter().map(|(i, (cc, _))| (i, cc)).collect()
}

/// Countries of geographic Europe (the EEA, the adequate European states and their neighbours):
/// a round trip between Europe and another continent takes tens of milliseconds at least.
fn in_europe(cc: &str) -> bool {
    const EUROPE: &[&str] = &[
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
        "CH", "GB", "AD", "MC", "SM", "VA", "FO", "GG", "JE", "IM", "GI", "AX", "AL", "BA", "ME",
        "MK", "RS", "XK", "MD", "UA", "BY",
    ];
    EUROPE.contains(&cc)
}

/// Below this round trip a server cannot be on another continent than the capture point
/// (light in fibre covers about 100 km per millisecond of RTT; Europe to North America's
/// nearest points is over 3,000 km).
const INTERCONTINENTAL_MIN_RTT_MS: f64 = 30.0;

/// Whether a round trip of `rtt` ms from a capture point in `vantage` allows a server in `cc`:
/// only judged across continents (Europe and elsewhere), where light needs tens of ms.
fn plausibility(cc: &str, region: Option<&str>, rtt: f64, vantage: &str) -> Option<(bool, String)> {
    if !matches!(
        region,
        Some("eea" | "adequate" | "adequate-partial" | "third-country")
    ) {
        return None;
    }
    if in_europe(cc) == in_europe(vantage) {
        return None; // same continent: a round trip cannot tell the countries apart reliably
    }
    let ok = rtt >= INTERCONTINENTAL_MIN_RTT_MS;
    Some((
        ok,
        format!(
            "heuristic: RTT {rtt:.1} ms from a capture point in {vantage} (its public address, per STUN); a server in {cc}, on another continent, needs at least {INTERCONTINENTAL_MIN_RTT_MS:.0} ms ({})",
            if ok {
                "not contradicted; a lower bound only, not a confirmation"
            } else {
                "too fast: anycast or mis-geolocated"
            }
        ),
    ))
}

/// Databases older than this are flagged in the verdict.
const DATABASE_MAX_AGE_DAYS: i64 = 90;

fn data_section(geo: &GeoData) -> verdict::Data {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    verdict::Data {
        databases: geo
            .databases()
            .iter()
            .map(|d| {
                let age_days = (now - d.build_epoch as i64) / 86_400;
                verdict::DatabaseRef {
                    name: d.name.clone(),
                    kind: d.role.to_string(),
                    database_type: d.database_type.clone(),
                    build_date: verdict::rfc3339_s(d.build_epoch as i64)
                        .get(..10)
                        .unwrap_or_default()
                        .to_string(),
                    age_days,
                    source: d.source.clone(),
                    warning: (age_days > DATABASE_MAX_AGE_DAYS).then(|| {
                        format!(
                            "built {age_days} days ago (more than {DATABASE_MAX_AGE_DAYS}): addresses may have moved since"
                        )
                    }),
                }
            })
            .collect(),
        policy: verdict::PolicyRef {
            name: geo.policy.name.clone(),
            version: geo.policy.version.clone(),
            date: geo.policy.version.clone(),
        },
    }
}

fn new_endpoint(ip: Arc<str>) -> verdict::Endpoint {
    verdict::Endpoint {
        ip,
        flows: Vec::new(),
        names: Vec::new(),
        names_truncated: false,
        ports: Vec::new(),
        country: None,
        location_source: None,
        region: None,
        region_scope: None,
        region_reason: None,
        asn: None,
        as_org: None,
        as_country: None,
        operator: None,
        rtt_ms: None,
        location_plausible: None,
        location_check: None,
        vendor: None,
    }
}

/// Add a flow to its server endpoint: its id, port, round trip, and the names its TLS
/// handshake gives the server (SNI, a few of the certificate's names).
fn add_to_endpoint(e: &mut verdict::Endpoint, f: &verdict::Flow) {
    e.flows.push(f.id);
    if let Some(r) = brief::flow_rtt_ms(f) {
        e.rtt_ms = Some(e.rtt_ms.map_or(r, |m| m.min(r)));
    }
    if !e.ports.contains(&f.server.port) {
        e.ports.push(f.server.port);
    }
    // at most MAX_NAMES_PER_ADDRESS names: the SNIs and certificate names of the flows closed
    // first (a crafted capture could give a server a million)
    let mut add_name = |name: &String| {
        if !e.names.contains(name) {
            if e.names.len() < vendor::MAX_NAMES_PER_ADDRESS {
                e.names.push(name.clone());
            } else {
                e.names_truncated = true;
            }
        }
    };
    if let Some(sni) = f.tls.as_ref().and_then(|t| t.sni.as_ref()) {
        add_name(sni);
    }
    // the names the server's own certificate claims (leaf SANs, a few)
    for t in [f.tls.as_ref(), f.dtls.as_ref()].into_iter().flatten() {
        for san in t
            .certificates
            .first()
            .iter()
            .flat_map(|c| c.san.iter())
            .take(8)
        {
            if san.parse::<IpAddr>().is_err() {
                add_name(san);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events a releasing analysis of `path` hands out, and the input's record.
    fn released(path: &Path) -> (Vec<TableEvent>, verdict::Input) {
        let opts = Options::default();
        let mut analyzer = Analyzer::releasing(&opts);
        let summary = capture::read_file(path, |frame| analyzer.frame(frame)).unwrap();
        analyzer.table.close_all();
        let events: Vec<TableEvent> = analyzer.table.drain_events().collect();
        (events, analyzer.finish(&summary).input)
    }

    fn written(v: &Verdict) -> String {
        let mut out = Vec::new();
        verdict::write_verdict(&mut out, v).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|l| !l.contains("\"generated_at\""))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// An SDP media line's implied RTCP port (the next port up) never takes a port another
    /// line announced for media, whichever came first; the earliest announcement of a port
    /// counts otherwise.
    #[test]
    fn a_media_port_outranks_an_implied_rtcp_port() {
        let catalogue = Catalogue::embedded();
        let mut builder = VerdictBuilder::new(None, &catalogue, false);
        let line = |frame: u64, kind: &str, port: u16| Media {
            frame,
            kind: kind.into(),
            address: Some("192.0.2.7".parse().unwrap()),
            port,
            proto: "RTP/SAVP".into(),
            crypto_suites: Vec::new(),
            key_in_clear: false,
            sdes_key: None,
            dtls_fingerprint: false,
            extmap: Vec::new(),
            rtcp_port: Some(port + 1),
            rtcp_address: None,
        };
        // audio on 5000 (RTCP muxed, so 5001 is free), video on 5001
        builder.announce(0, (0, 0), &line(1, "audio", 5000));
        builder.announce(0, (0, 1), &line(1, "video", 5001));
        // a later offer for the same audio port does not replace the first
        builder.announce(0, (1, 0), &line(9, "audio", 5000));
        let at = |port: u16| {
            let (_, m, rtcp) = &builder.announced.1[&("192.0.2.7".parse().unwrap(), port)];
            (m.kind.as_str(), m.frame, *rtcp)
        };
        assert_eq!(at(5000), ("audio", 1, false));
        assert_eq!(at(5001), ("video", 1, false));
        assert_eq!(at(5002), ("video", 1, true));
    }

    /// Flows close in any order (idle sweeps, evictions, FIN): the verdict lists and judges them
    /// as if they had come in id order — DNS names, SDP announcements, endpoint evidence,
    /// grouped findings, spilled records.
    #[test]
    fn flows_closing_in_any_order_give_the_same_verdict() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
        let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let geo = GeoData::embedded();
        let catalogue = Catalogue::embedded();
        for path in [
            shared.join("ndpi/zoom.pcap"),
            shared.join("ndpi/webex.pcap"),
            shared.join("ndpi/sip.pcap"),
            own.join("http-signalling.pcap"),
            own.join("baresip-sip-vp8-audiolevel.pcap"),
        ] {
            let mut verdicts = Vec::new();
            for reverse in [false, true] {
                let (events, input) = released(&path);
                // the DNS answers and SDP first, then the flows: in id order, or reversed
                let (context, mut closed): (Vec<TableEvent>, Vec<TableEvent>) = events
                    .into_iter()
                    .partition(|e| !matches!(e, TableEvent::Closed(_)));
                let id = |e: &TableEvent| match e {
                    TableEvent::Closed(f) => f.id,
                    _ => u32::MAX,
                };
                closed.sort_by_key(id);
                if reverse {
                    closed.reverse();
                }
                assert!(closed.len() >= 2, "{}", path.display());
                let mut builder = VerdictBuilder::new(Some(&geo), &catalogue, reverse);
                let index = builder.begin_input();
                for e in context.into_iter().chain(closed) {
                    builder.event(index, e);
                }
                builder.add_input(input);
                verdicts.push(written(&builder.finish().unwrap()));
            }
            assert!(
                verdicts[0] == verdicts[1],
                "{}: flows judged in reverse order give another verdict",
                path.display()
            );
        }
    }
}
