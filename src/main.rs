//! The `callproof` command line: a thin layer over the library.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use callproof::analyze::{self, Options};
use callproof::assess::findings::{self, Severity};
use callproof::batch::{self, BatchOptions};
use callproof::dissect::tls::keylog::KeyLog;
use callproof::enrich::GeoData;
use callproof::flow::Limits;
use callproof::report::terminal_safe;
use callproof::vendor::Catalogue;
use callproof::{report, verdict};

/// mimalloc (v2) rather than glibc's malloc: the per-flow work (records, judgements, JSON) allocates
/// tens of times per flow, and on a capture of many short flows glibc's allocator took a tenth of
/// the user time (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (stable; see the README).
mod exit {
    /// Analysed; the verdict was written.
    pub const OK: u8 = 0;
    /// Internal error (e.g. the verdict could not be written).
    pub const FAILURE: u8 = 1;
    /// Usage error, or an input that could not be read as a capture.
    pub const INPUT: u8 = 2;
    /// `--fail-on`: a finding at or above the given severity exists (the verdict was written).
    pub const FINDINGS: u8 = 3;
}

const EXIT_CODES: &str = "Exit codes: 0 analysed; 1 internal error (verdict not written); \
    2 usage error or an unreadable input (the verdict still covers the readable ones); \
    3 with --fail-on: a finding at or above that severity (verdict written). \
    2 takes precedence over 3.";

#[derive(Parser)]
#[command(
    name = "callproof",
    version,
    about = "Checks on the wire whether a video-conferencing service protects its calls",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every analysing command shares (saved or live captures).
#[derive(clap::Args)]
struct Judging {
    /// Flows listed per capture at most; packets of further flows are counted only.
    #[arg(long, default_value_t = Limits::default().max_flows)]
    max_flows: usize,
    /// Flows held with live reassembly/dissection state at once.
    #[arg(long, default_value_t = Limits::default().max_live_flows)]
    max_live_flows: usize,
    /// Print nothing on standard error except errors.
    #[arg(long, short)]
    quiet: bool,
    /// Exit with code 3 when a finding of this severity or higher exists (for CI gates).
    #[arg(long, value_name = "SEVERITY", value_parser = ["info", "low", "medium", "high"])]
    fail_on: Option<String>,
    /// Use these MaxMind-format databases (country.mmdb, asn.mmdb, as-country.mmdb; GeoIP2
    /// country layouts too) instead of the ones built in; missing files keep the built-in ones.
    #[arg(long, value_name = "DIR")]
    geoip_dir: Option<PathBuf>,
    /// Use this transfer policy (CSV with the columns of geoip/transfer-policy.csv).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Add vendors to the built-in catalogue (JSON like vendors/catalogue.json); a vendor
    /// with a built-in id replaces it (e.g. your own Jitsi or BigBlueButton domain).
    #[arg(long, value_name = "FILE")]
    vendors: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// List the rules findings come from: id, severity, title and explanation.
    Rules,
    /// Analyse saved captures (pcap, pcapng, gzip-compressed; files or directories) into one verdict.
    #[command(after_help = EXIT_CODES)]
    Analyze {
        /// Capture files or directories (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write the verdict here (atomically) instead of to standard output.
        #[arg(long, short, conflicts_with = "out_dir")]
        out: Option<PathBuf>,
        /// Batch mode: one verdict per capture in this directory (named after the capture),
        /// plus summary.json across all of them.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Batch mode: captures analysed at once (default: the number of cores).
        #[arg(long, short, value_name = "N", requires = "out_dir")]
        jobs: Option<usize>,
        /// Use this key log (NSS format, as SSLKEYLOGFILE or `openssl s_client -keylogfile`
        /// write it): server handshake secrets open TLS 1.3, QUIC and DTLS 1.3 handshakes for
        /// the certificates, ALPN and SRTP profile they encrypt; DTLS master and exporter
        /// secrets open the SRTP media they key, to prove it encrypted (nothing decrypted is
        /// written out). TLS and QUIC application data stays sealed.
        #[arg(long, value_name = "FILE")]
        keylog: Option<PathBuf>,
        #[command(flatten)]
        judging: Judging,
    },
    /// List the interfaces live capture can use (name, addresses, flags), like `tcpdump -D`.
    #[cfg(feature = "live")]
    Interfaces,
    /// Capture live during a test call; on Ctrl-C, SIGTERM or the end of --duration write the
    /// capture (pcapng) and the verdict.
    #[cfg(feature = "live")]
    #[command(after_help = EXIT_CODES)]
    Live {
        /// The interface to capture on (`callproof interfaces` lists them).
        #[arg(long, short)]
        interface: String,
        /// A capture filter in BPF syntax, as tcpdump takes it (e.g. "not port 22").
        #[arg(long, short, value_name = "BPF")]
        filter: Option<String>,
        /// Stop after this long (e.g. 90s, 5m, 1h30m); otherwise at Ctrl-C or SIGTERM.
        #[arg(long, short, value_parser = callproof::live::parse_duration)]
        duration: Option<std::time::Duration>,
        /// Bytes kept of each packet (tcpdump's default; smaller values can cut handshakes).
        #[arg(long, short, default_value_t = 262_144)]
        snaplen: u32,
        /// Put the interface in promiscuous mode (other hosts' traffic on a shared segment).
        #[arg(long)]
        promisc: bool,
        /// Save the captured packets here (pcapng; default: the verdict's name with .pcapng).
        #[arg(long, short, value_name = "CAPTURE.pcapng")]
        write: Option<PathBuf>,
        /// Write the verdict here (default: callproof-live-<UTC time>.json).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Once the interface is open, run as this user (like tcpdump -Z); by default, when
        /// started with sudo, as the user who ran sudo. The output directory must be writable
        /// by that user.
        #[arg(long, short = 'Z', value_name = "USER")]
        user: Option<String>,
        /// Follow this key log while capturing (the file a browser started with SSLKEYLOGFILE
        /// appends to; it need not exist yet) and use it as `analyze --keylog` does. The saved
        /// capture carries the server handshake secrets of its own sessions (Decryption
        /// Secrets Blocks), never a secret that opens application data or media.
        #[arg(long, value_name = "FILE")]
        keylog: Option<PathBuf>,
        #[command(flatten)]
        judging: Judging,
    },
    /// Show a saved verdict to people: its terminal summary on standard output, or with --html
    /// one self-contained HTML page (no scripts, no external fetches) to file or to print.
    Report {
        /// A verdict written by `callproof analyze`.
        verdict: PathBuf,
        /// Write the HTML report here (atomically) instead of printing the summary.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Print nothing on standard error except errors.
        #[arg(long, short)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Rules => {
            for r in findings::RULES {
                println!(
                    "{}  [{}]  {}\n    {}\n",
                    r.id,
                    r.severity.as_str(),
                    r.title,
                    r.explanation
                );
            }
            ExitCode::from(exit::OK)
        }
        Command::Analyze {
            paths,
            out,
            out_dir,
            jobs,
            keylog,
            judging,
        } => {
            let (mut opts, geo, catalogue, fail_on) = match prepare(&judging) {
                Ok(p) => p,
                Err(code) => return code,
            };
            if let Some(path) = keylog {
                match KeyLog::read(&path) {
                    Ok(log) => {
                        if !judging.quiet {
                            eprintln!(
                                "callproof: key log {}: {} TLS/DTLS 1.3 session(s), {} master secret(s) (TLS/DTLS 1.2), {} exporter secret(s) (TLS/DTLS 1.3){}",
                                path.display(),
                                log.sessions(),
                                log.master_secret_sessions(),
                                log.exporter_secret_sessions(),
                                log.first_malformed_line.map_or(String::new(), |l| format!(
                                    "; {} line(s) do not parse, the first is line {l}",
                                    log.malformed_lines
                                ))
                            );
                        }
                        opts.keylog = Some(std::sync::Arc::new(log));
                    }
                    Err(e) => {
                        eprintln!("callproof: {e}");
                        return ExitCode::from(exit::INPUT);
                    }
                }
            }
            let quiet = judging.quiet;
            if let Some(dir) = out_dir {
                let jobs = jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
                let batch = BatchOptions {
                    out_dir: &dir,
                    jobs,
                    // with several jobs the cores are taken: no hashing thread per capture
                    analysis: Options {
                        hash_inline: jobs > 1,
                        ..opts.clone()
                    },
                    geo: &geo,
                    catalogue: &catalogue,
                    progress: batch::Progress::for_stderr(quiet),
                    fail_on,
                };
                return run_batch(&paths, &batch, quiet);
            }
            run_analyze(&paths, out, &opts, (&geo, &catalogue), quiet, fail_on)
        }
        #[cfg(feature = "live")]
        Command::Interfaces => run_interfaces(),
        #[cfg(feature = "live")]
        Command::Live {
            interface,
            filter,
            duration,
            snaplen,
            promisc,
            write,
            out,
            user,
            keylog,
            judging,
        } => {
            let (opts, geo, catalogue, fail_on) = match prepare(&judging) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let out = out.unwrap_or_else(|| {
                let now = time::OffsetDateTime::now_utc();
                PathBuf::from(format!(
                    "callproof-live-{:04}{:02}{:02}T{:02}{:02}{:02}Z.json",
                    now.year(),
                    u8::from(now.month()),
                    now.day(),
                    now.hour(),
                    now.minute(),
                    now.second()
                ))
            });
            let write = write.unwrap_or_else(|| callproof::live::capture_path_for(&out));
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            if let Err(e) = ctrlc::set_handler(move || {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }) {
                eprintln!("callproof: cannot handle Ctrl-C and SIGTERM: {e}");
                return ExitCode::from(exit::FAILURE);
            }
            let live = callproof::live::LiveOptions {
                interface,
                filter,
                duration,
                snaplen: snaplen.max(64),
                promiscuous: promisc,
                write,
                analysis: opts,
                stop,
                user,
                quiet: judging.quiet,
                keylog,
            };
            run_live(&live, &out, (&geo, &catalogue), fail_on)
        }
        Command::Report {
            verdict,
            html,
            quiet,
        } => run_report(&verdict, html.as_deref(), quiet),
    }
}

fn run_batch(paths: &[PathBuf], o: &BatchOptions, quiet: bool) -> ExitCode {
    let run = match batch::run(paths, o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("callproof: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let t = &run.summary.totals;
    // In line mode each failure was reported as it happened.
    if o.progress != batch::Progress::Lines {
        for e in &run.errors {
            eprintln!("callproof: {}", terminal_safe(&e.to_string()));
        }
    }
    if !quiet {
        for c in &run.summary.captures {
            if c.damaged {
                eprintln!(
                    "callproof: {}: the capture file is damaged (see its verdict's inputs[].damage)",
                    terminal_safe(&c.path)
                );
            }
        }
        eprintln!(
            "callproof: {} file(s): {} analysed ({} damaged), {} failed, {} skipped as not captures; \
             verdicts and {} in {}",
            t.captures,
            t.analysed,
            t.damaged,
            t.failed,
            t.skipped,
            batch::SUMMARY_FILE,
            o.out_dir.display()
        );
    }
    if t.analysed == 0 || t.failed > 0 {
        return ExitCode::from(exit::INPUT);
    }
    if run.over_threshold > 0 {
        if !quiet {
            eprintln!(
                "callproof: {} capture(s) with a finding at or above --fail-on: exit {}",
                run.over_threshold,
                exit::FINDINGS
            );
        }
        return ExitCode::from(exit::FINDINGS);
    }
    ExitCode::from(exit::OK)
}

fn read_verdict(path: &std::path::Path) -> Result<verdict::Verdict, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: verdict::Verdict = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: not a callproof verdict: {e}", path.display()))?;
    if v.schema != verdict::SCHEMA {
        return Err(format!(
            "{}: verdict schema {:?}, this callproof reads {:?}",
            path.display(),
            v.schema,
            verdict::SCHEMA
        ));
    }
    Ok(v)
}

fn run_report(path: &std::path::Path, html: Option<&std::path::Path>, quiet: bool) -> ExitCode {
    let v = match read_verdict(path) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("callproof: {e}");
            return ExitCode::from(exit::INPUT);
        }
    };
    match html {
        Some(out) => {
            let page = report::html_report(&v);
            if let Err(e) = verdict::write_atomically(out, page.as_bytes()) {
                eprintln!("callproof: {}: cannot write the report: {e}", out.display());
                return ExitCode::from(exit::FAILURE);
            }
            if !quiet {
                eprintln!("callproof: report written to {}", out.display());
            }
        }
        None => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut stdout = std::io::stdout().lock();
            let text = report::terminal_summary(&v, colour);
            let written = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush());
            // A closed pipe (`| head`) is the reader's choice, not an error.
            if let Err(e) = written
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                eprintln!("callproof: cannot write the summary: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        }
    }
    ExitCode::from(exit::OK)
}

/// Databases, policy, catalogue, limits and threshold from the shared options; the exit code
/// when one of them cannot be loaded.
fn prepare(j: &Judging) -> Result<(Options, GeoData, Catalogue, Option<Severity>), ExitCode> {
    let geo = load_geo(j.geoip_dir.as_deref(), j.policy.as_deref()).map_err(|e| {
        eprintln!("callproof: {e}");
        ExitCode::from(exit::INPUT)
    })?;
    let opts = Options {
        limits: Limits {
            max_flows: j.max_flows.max(1),
            max_live_flows: j.max_live_flows.max(1),
        },
        hash_inline: false,
        spill_flows: true,
        keylog: None,
    };
    let catalogue = match &j.vendors {
        Some(path) => Catalogue::embedded().with_file(path).map_err(|e| {
            eprintln!("callproof: {e}");
            ExitCode::from(exit::INPUT)
        })?,
        None => Catalogue::embedded(),
    };
    let fail_on = j.fail_on.as_deref().and_then(findings::severity_named);
    Ok((opts, geo, catalogue, fail_on))
}

#[cfg(feature = "live")]
fn run_interfaces() -> ExitCode {
    match callproof::live::interfaces() {
        Ok(list) => {
            for (n, i) in list.iter().enumerate() {
                let mut flags = Vec::new();
                if i.up {
                    flags.push("Up");
                }
                if i.running {
                    flags.push("Running");
                }
                if i.loopback {
                    flags.push("Loopback");
                }
                let addresses = if i.addresses.is_empty() {
                    String::new()
                } else {
                    format!(" {}", i.addresses.join(" "))
                };
                let description = i
                    .description
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                println!(
                    "{}.{} [{}]{addresses}{description}",
                    n + 1,
                    i.name,
                    flags.join(", ")
                );
            }
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("callproof: {e}");
            ExitCode::from(exit::INPUT)
        }
    }
}

#[cfg(feature = "live")]
fn run_live(
    o: &callproof::live::LiveOptions,
    out: &std::path::Path,
    (geo, catalogue): (&GeoData, &Catalogue),
    fail_on: Option<Severity>,
) -> ExitCode {
    let run = match callproof::live::capture(o, geo, catalogue) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("callproof: {e}");
            return ExitCode::from(exit::INPUT);
        }
    };
    // held in memory: a live capture's verdict must not depend on a temporary file
    let mut builder = analyze::VerdictBuilder::new(Some(geo), catalogue, false);
    let verdict = builder
        .add(run.analysis)
        .and_then(|()| builder.finish())
        .expect("a verdict held in memory has no spill file to fail");
    if let Some(e) = &run.error {
        eprintln!("callproof: {e}");
    }
    if !o.quiet {
        eprintln!(
            "callproof: capture{} written to {}",
            if run.error.is_some() {
                " (up to the error)"
            } else {
                ""
            },
            o.write.display()
        );
    }
    deliver(&verdict, Some(out), o.quiet, run.error.is_some(), fail_on)
}

fn load_geo(
    dir: Option<&std::path::Path>,
    policy: Option<&std::path::Path>,
) -> Result<GeoData, callproof::enrich::GeoError> {
    let geo = match dir {
        Some(d) => GeoData::from_dir(d)?,
        None => GeoData::embedded(),
    };
    match policy {
        Some(p) => geo.with_policy_file(p),
        None => Ok(geo),
    }
}

fn run_analyze(
    paths: &[PathBuf],
    out: Option<PathBuf>,
    opts: &Options,
    (geo, catalogue): (&GeoData, &Catalogue),
    quiet: bool,
    fail_on: Option<Severity>,
) -> ExitCode {
    let (verdict, errors) = match analyze::analyze_paths(paths, opts, geo, catalogue) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("callproof: cannot write flow records to a temporary file: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    // The process ends after this function: freeing a verdict of a million flows piece by piece
    // would only cost time (8 % of a 1 GB run's profile was the allocator, much of it here).
    let verdict = std::mem::ManuallyDrop::new(verdict);
    for e in &errors {
        // errors name files, found in directories of captures from anywhere
        eprintln!("callproof: {}", terminal_safe(&e.to_string()));
    }
    let readable = verdict.inputs.iter().filter(|i| i.error.is_none()).count();
    if readable == 0 {
        if errors.is_empty() {
            eprintln!(
                "callproof: no capture found ({} file(s) skipped as not captures)",
                verdict.skipped.len()
            );
        }
        return ExitCode::from(exit::INPUT);
    }
    deliver(&verdict, out.as_deref(), quiet, !errors.is_empty(), fail_on)
}

/// Write the verdict (to `out`, or standard output), show its summary, and decide the exit code.
fn deliver(
    verdict: &verdict::Verdict,
    out: Option<&std::path::Path>,
    quiet: bool,
    input_errors: bool,
    fail_on: Option<Severity>,
) -> ExitCode {
    // generic rather than over `dyn Write`: serde_json's many small writes stay copies into the
    // buffer instead of calls through a vtable
    fn write_json<W: Write>(w: &mut W, verdict: &verdict::Verdict) -> std::io::Result<()> {
        verdict::write_verdict(w, verdict)?;
        w.write_all(b"\n")
    }
    match out {
        Some(path) => {
            if let Err(e) = verdict::write_atomically_with(path, |w| write_json(w, verdict)) {
                eprintln!(
                    "callproof: {}: cannot write the verdict: {e}",
                    path.display()
                );
                return ExitCode::from(exit::FAILURE);
            }
        }
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            if let Err(e) = write_json(&mut stdout, verdict).and_then(|()| stdout.flush()) {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("callproof: cannot write the verdict: {e}");
                    return ExitCode::from(exit::FAILURE);
                }
            }
        }
    }
    if !quiet {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!("{}", report::terminal_summary(verdict, colour));
        if let Some(path) = out {
            eprintln!("callproof: verdict written to {}", path.display());
        }
    }
    if input_errors {
        return ExitCode::from(exit::INPUT);
    }
    if let Some(threshold) = fail_on {
        let at_or_above = verdict
            .findings
            .iter()
            .filter(|f| findings::severity_named(&f.severity).is_some_and(|s| s >= threshold))
            .count();
        if at_or_above > 0 {
            if !quiet {
                eprintln!(
                    "callproof: {at_or_above} finding(s) at or above {} (--fail-on): exit {}",
                    threshold.as_str(),
                    exit::FINDINGS
                );
            }
            return ExitCode::from(exit::FINDINGS);
        }
    }
    ExitCode::from(exit::OK)
}
