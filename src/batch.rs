//! Batch analysis (`callproof analyze PATHS... --out-dir DIR`): one verdict per capture, analysed
//! in parallel, and `summary.json` across them. Owns: naming the verdict files, the worker pool,
//! the progress display, and the batch summary's model. Each capture goes through exactly the
//! pipeline a single `analyze` runs; nothing here judges a capture.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::{self, InputOutcome, InputPath, Options, VerdictBuilder};
use crate::assess::findings::{self, Severity};
use crate::enrich::GeoData;
use crate::vendor::Catalogue;
use crate::verdict::{self, Tool, Verdict, traffic};

pub const SCHEMA: &str = "callproof.batch/1";
/// The summary's file name in the output directory (never given to a verdict).
pub const SUMMARY_FILE: &str = "summary.json";

/// How progress is shown on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// An indicatif bar (standard error is a terminal).
    Bar,
    /// A plain line every few seconds and one per finished capture with a problem.
    Lines,
    Quiet,
}

impl Progress {
    /// The bar on a terminal, plain lines otherwise, nothing with `--quiet`.
    pub fn for_stderr(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

pub struct BatchOptions<'a> {
    pub out_dir: &'a Path,
    /// Captures analysed at once (at least 1).
    pub jobs: usize,
    pub analysis: Options,
    pub geo: &'a GeoData,
    pub catalogue: &'a Catalogue,
    pub progress: Progress,
    pub fail_on: Option<Severity>,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchSummary {
    pub schema: String,
    pub tool: Tool,
    pub generated_at: String,
    /// One entry per file considered, in input order.
    pub captures: Vec<CaptureEntry>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaptureEntry {
    pub path: String,
    /// "analysed", "failed" (no verdict) or "skipped" (found in a directory, not a capture).
    pub status: String,
    /// The verdict's file name in the output directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Why the file failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default)]
    pub frames: u64,
    #[serde(default)]
    pub flows: usize,
    /// The capture file itself is damaged (truncated or corrupt records; see the verdict's
    /// `inputs[].damage`).
    #[serde(default)]
    pub damaged: bool,
    /// The verdict's five summary statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<StatusLine>,
    /// Findings by severity.
    #[serde(default)]
    pub findings: SeverityCounts,
    /// Vendor ids seen.
    #[serde(default)]
    pub vendors: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusLine {
    pub transport_encryption: String,
    pub media_encryption: String,
    pub e2ee: String,
    pub third_country_transfer: String,
    pub evidence_quality: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeverityCounts {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    pub captures: usize,
    pub analysed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub damaged: usize,
    /// Per summary question, how many captures got each status.
    pub statuses: BTreeMap<String, BTreeMap<String, usize>>,
    pub vendors: Vec<VendorTotal>,
    pub countries: Vec<CountryTotal>,
    pub operators: Vec<OperatorTotal>,
    pub findings: Vec<FindingTotal>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VendorTotal {
    pub id: String,
    pub name: String,
    pub captures: usize,
    pub flows: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CountryTotal {
    /// Absent for private or unlocated server addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub region: String,
    pub captures: usize,
    pub flows: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OperatorTotal {
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    pub captures: usize,
    pub flows: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FindingTotal {
    pub rule: String,
    pub severity: String,
    pub title: String,
    pub captures: usize,
    pub findings: usize,
}

/// The outcome of a batch run.
pub struct BatchRun {
    pub summary: BatchSummary,
    /// One line per failed capture (naming it) and per verdict that could not be written.
    pub errors: Vec<String>,
    /// Captures with a finding at or above `fail_on`.
    pub over_threshold: usize,
}

/// Verdict file names for the inputs: the capture's file name with `.json` added (characters
/// outside `[A-Za-z0-9._-]` replaced by `_`), `-2`, `-3`… before `.json` on a collision
/// (compared without case, for case-insensitive file systems), never `summary.json`.
pub fn verdict_names(inputs: &[InputPath]) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    taken.insert(SUMMARY_FILE.to_string());
    inputs
        .iter()
        .map(|input| {
            let raw = input
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "capture".into());
            let mut stem: String = raw
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if stem.starts_with('.') {
                stem.insert(0, '_');
            }
            let mut name = format!("{stem}.json");
            let mut n = 2;
            while !taken.insert(name.to_ascii_lowercase()) {
                name = format!("{stem}-{n}.json");
                n += 1;
            }
            name
        })
        .collect()
}

enum Done {
    Analysed(CaptureEntry),
    Failed(CaptureEntry, String),
    Skipped(CaptureEntry),
}

fn entry(path: &Path, status: &str) -> CaptureEntry {
    CaptureEntry {
        path: path.display().to_string(),
        status: status.into(),
        verdict: None,
        reason: None,
        sha256: None,
        frames: 0,
        flows: 0,
        damaged: false,
        summary: None,
        findings: SeverityCounts::default(),
        vendors: Vec::new(),
    }
}

/// Damage to the capture file itself, as opposed to frames the decoder could not use.
const FILE_DAMAGE: [&str; 4] = [
    "read-error",
    "oversized-record",
    "truncated-record",
    "corrupt-block",
];

/// Analyse one capture, write its verdict, add it to the tally; the verdict is not kept.
fn analyse_one(
    input: &InputPath,
    name: &str,
    o: &BatchOptions,
    read: &AtomicU64,
    tally: &Mutex<Tally>,
) -> Done {
    let mut builder = VerdictBuilder::new(Some(o.geo), o.catalogue, o.analysis.spill_flows);
    match analyze::analyze_input_into(input, &o.analysis, Some(read), &mut builder) {
        InputOutcome::Skipped(s) => {
            let mut e = entry(&input.path, "skipped");
            e.reason = Some(s.reason);
            Done::Skipped(e)
        }
        InputOutcome::Failed(err) => {
            let mut e = entry(&input.path, "failed");
            e.reason = Some(err.to_string());
            Done::Failed(e, err.to_string())
        }
        InputOutcome::Analysed => {
            let v = match builder.finish() {
                Ok(v) => v,
                Err(err) => {
                    let mut e = entry(&input.path, "failed");
                    let msg = format!(
                        "{}: cannot write flow records to a temporary file: {err}",
                        input.path.display()
                    );
                    e.reason = Some(msg.clone());
                    return Done::Failed(e, msg);
                }
            };
            let path = o.out_dir.join(name);
            let write = verdict::write_atomically_with(&path, |w| {
                crate::verdict::write_verdict(w, &v)?;
                w.write_all(b"\n")
            });
            let mut e = entry(&input.path, "analysed");
            let i = &v.inputs[0];
            e.sha256 = i.sha256.clone();
            e.frames = i.frames;
            e.flows = v.flows.len();
            e.damaged = i
                .damage
                .iter()
                .any(|d| FILE_DAMAGE.contains(&d.kind.as_str()));
            if let Err(err) = write {
                e.status = "failed".into();
                let msg = format!("{}: cannot write the verdict: {err}", path.display());
                e.reason = Some(msg.clone());
                return Done::Failed(e, msg);
            }
            e.verdict = Some(name.to_string());
            e.summary = v.summary.as_ref().map(|s| StatusLine {
                transport_encryption: s.transport_encryption.status.clone(),
                media_encryption: s.media_encryption.status.clone(),
                e2ee: s.e2ee.status.clone(),
                third_country_transfer: s.third_country_transfer.status.clone(),
                evidence_quality: s.evidence_quality.status.clone(),
            });
            for f in &v.findings {
                match f.severity.as_ref() {
                    "high" => e.findings.high += 1,
                    "medium" => e.findings.medium += 1,
                    "low" => e.findings.low += 1,
                    _ => e.findings.info += 1,
                }
            }
            e.vendors = v.vendors.iter().map(|s| s.id.clone()).collect();
            tally.lock().unwrap_or_else(|p| p.into_inner()).add(&e, &v);
            Done::Analysed(e)
        }
    }
}

/// Running totals, fed one verdict at a time (verdicts are not kept).
#[derive(Default)]
struct Tally {
    totals: Totals,
    vendors: BTreeMap<String, VendorTotal>,
    countries: BTreeMap<(Option<String>, String), CountryTotal>,
    operators: BTreeMap<(String, Option<String>), OperatorTotal>,
    findings: BTreeMap<String, FindingTotal>,
}

impl Tally {
    fn add(&mut self, e: &CaptureEntry, v: &Verdict) {
        if let Some(s) = &e.summary {
            for (question, status) in [
                ("transport_encryption", &s.transport_encryption),
                ("media_encryption", &s.media_encryption),
                ("e2ee", &s.e2ee),
                ("third_country_transfer", &s.third_country_transfer),
                ("evidence_quality", &s.evidence_quality),
            ] {
                *self
                    .totals
                    .statuses
                    .entry(question.into())
                    .or_default()
                    .entry(status.clone())
                    .or_default() += 1;
            }
        }
        for s in &v.vendors {
            let t = self
                .vendors
                .entry(s.id.clone())
                .or_insert_with(|| VendorTotal {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    ..Default::default()
                });
            t.captures += 1;
            t.flows += s.flows.len();
        }
        let mut countries_here = std::collections::BTreeSet::new();
        let mut operators_here = std::collections::BTreeSet::new();
        for d in traffic::destinations(v) {
            let ckey = (d.country.clone(), d.region.clone());
            let c = self
                .countries
                .entry(ckey.clone())
                .or_insert_with(|| CountryTotal {
                    country: d.country.clone(),
                    region: d.region.clone(),
                    ..Default::default()
                });
            c.flows += d.flows;
            c.bytes += d.bytes;
            if countries_here.insert(ckey) {
                c.captures += 1;
            }
            if let Some(op) = &d.operator {
                let okey = (op.clone(), d.jurisdiction.clone());
                let t = self
                    .operators
                    .entry(okey.clone())
                    .or_insert_with(|| OperatorTotal {
                        operator: op.clone(),
                        jurisdiction: d.jurisdiction.clone(),
                        ..Default::default()
                    });
                t.flows += d.flows;
                t.bytes += d.bytes;
                if operators_here.insert(okey) {
                    t.captures += 1;
                }
            }
        }
        let mut rules_here = std::collections::BTreeSet::new();
        for f in &v.findings {
            let t = self
                .findings
                .entry(f.rule.to_string())
                .or_insert_with(|| FindingTotal {
                    rule: f.rule.to_string(),
                    severity: f.severity.to_string(),
                    title: f.title.to_string(),
                    ..Default::default()
                });
            t.findings += 1;
            if rules_here.insert(f.rule.as_ref()) {
                t.captures += 1;
            }
        }
    }

    fn finish(mut self) -> Totals {
        self.totals.vendors = self.vendors.into_values().collect();
        let mut countries: Vec<_> = self.countries.into_values().collect();
        countries.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.country.cmp(&b.country)));
        self.totals.countries = countries;
        let mut operators: Vec<_> = self.operators.into_values().collect();
        operators.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.operator.cmp(&b.operator)));
        self.totals.operators = operators;
        let mut found: Vec<_> = self.findings.into_values().collect();
        found.sort_by(|a, b| {
            let rank = |s: &str| findings::severity_named(s);
            rank(&b.severity)
                .cmp(&rank(&a.severity))
                .then(a.rule.cmp(&b.rule))
        });
        self.totals.findings = found;
        self.totals
    }
}

/// Analyse every capture under `paths` into `o.out_dir`, then write `summary.json` there.
/// Errors creating the directory or writing the summary end the run; a capture that fails is
/// recorded and the others go on.
pub fn run(paths: &[PathBuf], o: &BatchOptions) -> Result<BatchRun, String> {
    std::fs::create_dir_all(o.out_dir).map_err(|e| {
        format!(
            "{}: cannot create the output directory: {e}",
            o.out_dir.display()
        )
    })?;
    let inputs = analyze::expand_inputs(paths);
    let names = verdict_names(&inputs);
    let sizes: Vec<u64> = inputs
        .iter()
        .map(|i| std::fs::metadata(&i.path).map_or(0, |m| m.len()))
        .collect();
    let total_bytes: u64 = sizes.iter().sum();
    // Largest first, so one big capture does not start last and finish alone.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));

    let read = AtomicU64::new(0);
    let done = AtomicUsize::new(0);
    let finished = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {} worker thread(s): {e}", o.jobs))?;
    let tally = Mutex::new(Tally::default());

    let mut results: Vec<(usize, Done)> = std::thread::scope(|scope| {
        let shown = scope.spawn(|| {
            show_progress(
                o.progress,
                &read,
                &done,
                &finished,
                inputs.len(),
                total_bytes,
            )
        });
        let results: Vec<(usize, Done)> = pool.install(|| {
            order
                .par_iter()
                .with_max_len(1)
                .map(|&i| {
                    let d = analyse_one(&inputs[i], &names[i], o, &read, &tally);
                    if let (Done::Failed(_, msg), Progress::Lines) = (&d, o.progress) {
                        eprintln!("callproof: {}", crate::report::terminal_safe(msg));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    (i, d)
                })
                .collect()
        });
        finished.store(true, Ordering::Relaxed);
        let _ = shown.join();
        results
    });
    results.sort_by_key(|(i, _)| *i);

    let mut tally = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut captures = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    let mut over_threshold = 0;
    for (_, d) in results {
        match d {
            Done::Analysed(entry) => {
                tally.totals.analysed += 1;
                if entry.damaged {
                    tally.totals.damaged += 1;
                }
                if let Some(t) = o.fail_on {
                    let f = &entry.findings;
                    let worst = [
                        (f.high, Severity::High),
                        (f.medium, Severity::Medium),
                        (f.low, Severity::Low),
                        (f.info, Severity::Info),
                    ]
                    .into_iter()
                    .find(|(n, _)| *n > 0)
                    .map(|(_, s)| s);
                    if worst.is_some_and(|w| w >= t) {
                        over_threshold += 1;
                    }
                }
                captures.push(entry);
            }
            Done::Failed(entry, msg) => {
                tally.totals.failed += 1;
                errors.push(msg);
                captures.push(entry);
            }
            Done::Skipped(entry) => {
                tally.totals.skipped += 1;
                captures.push(entry);
            }
        }
    }
    tally.totals.captures = captures.len();
    let summary = BatchSummary {
        schema: SCHEMA.into(),
        tool: Tool::this(),
        generated_at: verdict::now_rfc3339(),
        captures,
        totals: tally.finish(),
    };
    let path = o.out_dir.join(SUMMARY_FILE);
    verdict::write_atomically_with(&path, |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        w.write_all(b"\n")
    })
    .map_err(|e| format!("{}: cannot write the summary: {e}", path.display()))?;
    Ok(BatchRun {
        summary,
        errors,
        over_threshold,
    })
}

/// The progress display, until `finished`: an indicatif bar on a terminal (bytes read, captures
/// done, rate, ETA), else a plain line about every 5 s while work remains.
fn show_progress(
    mode: Progress,
    read: &AtomicU64,
    done: &AtomicUsize,
    finished: &AtomicBool,
    captures: usize,
    total_bytes: u64,
) {
    match mode {
        Progress::Quiet => {}
        Progress::Bar => {
            let bar = indicatif::ProgressBar::new(total_bytes);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {msg} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            while !finished.load(Ordering::Relaxed) {
                bar.set_position(read.load(Ordering::Relaxed).min(total_bytes));
                bar.set_message(format!(
                    "{}/{} captures",
                    done.load(Ordering::Relaxed),
                    captures
                ));
                std::thread::sleep(Duration::from_millis(200));
            }
            bar.finish_and_clear();
        }
        Progress::Lines => {
            let started = Instant::now();
            let mut last = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_secs(5) {
                    last = Instant::now();
                    let bytes = read.load(Ordering::Relaxed).min(total_bytes);
                    let secs = started.elapsed().as_secs_f64().max(0.001);
                    eprintln!(
                        "callproof: {}/{} captures, {:.0} of {:.0} MB, {:.0} MB/s",
                        done.load(Ordering::Relaxed),
                        captures,
                        bytes as f64 / 1e6,
                        total_bytes as f64 / 1e6,
                        bytes as f64 / 1e6 / secs
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: &str) -> InputPath {
        InputPath {
            path: PathBuf::from(p),
            from_directory: true,
        }
    }

    #[test]
    fn verdict_names_come_from_file_names_and_never_collide() {
        let names = verdict_names(&[
            input("a/call.pcap"),
            input("b/call.pcap"),
            input("b/CALL.pcap"),
            input("c/summary"),
            input("d/.hidden"),
            input("e/zoom test (1).pcapng"),
        ]);
        assert_eq!(
            names,
            [
                "call.pcap.json",
                "call.pcap-2.json",
                "CALL.pcap-3.json",
                "summary-2.json",
                "_.hidden.json",
                "zoom_test__1_.pcapng.json"
            ]
        );
    }
}
