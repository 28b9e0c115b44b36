//! The live view: what a tester watches during the call. From the flows analysed so far it
//! groups traffic by server endpoint (address, names from TLS, country and operator from the
//! built-in databases, protocols, what the handshakes show so far) and draws it on a terminal
//! about once a second, or prints plain lines (a line per new server, a counter line every
//! 5 s) when standard error is not a terminal. It shows the state so far; the verdict written
//! at the end is what counts. Every few seconds the flows so far are judged as the verdict
//! would judge them ([`Judged`]); a flow's row shows that judgement, and the dissectors' glimpse
//! for flows newer than it or left undecided by it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write;
use std::net::IpAddr;

use crate::dissect::Protocol;
use crate::dissect::tls::names;
use crate::enrich::GeoData;
use crate::flow::{self, L4};
use crate::report::terminal_safe;
use crate::verdict::Verdict;

/// One server endpoint as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    pub ip: IpAddr,
    pub names: BTreeSet<String>,
    pub protocols: BTreeSet<&'static str>,
    /// What its flows show so far, each different state once, plaintext first, then by the
    /// bytes of the flows in that state, at most [`STATES`] of them joined by "; ", e.g.
    /// "plaintext SIP", "TLS 1.3 (TLS_AES_128_GCM_SHA256); Zoom media (so far)".
    pub state: String,
    /// Whether any part of `state` is the last judgement's (else the dissectors' glimpse).
    pub judged: bool,
    pub flows: usize,
    pub bytes: u64,
}

/// What the last judgement of the flows so far said of each flow, by flow id: its protection
/// when decided, and its protocols.
#[derive(Debug, Default)]
pub struct Judged {
    flows: HashMap<u32, JudgedFlow>,
}

#[derive(Debug)]
struct JudgedFlow {
    /// e.g. "SRTP (AES_CM_128_HMAC_SHA1_80, SDES keys from clear SIP)", "plaintext SIP";
    /// `None` when the judgement left the protection unknown.
    state: Option<String>,
    protocols: Vec<&'static str>,
}

impl Judged {
    /// Take in a judgement of the flows so far (`Analyzer::snapshot`).
    pub fn new(v: &Verdict) -> Self {
        let flows = v
            .flows
            .iter()
            .map(|f| {
                let protocols: Vec<&'static str> = f
                    .protocols
                    .iter()
                    .filter_map(|name| {
                        Protocol::ALL
                            .iter()
                            .map(|p| p.as_str())
                            .find(|p| *p == name.as_ref())
                    })
                    .collect();
                let e = &f.encryption;
                // an end-to-end layer seen beneath the SRTP a key opened
                let layers = f.inner_e2ee_layers();
                let inner = if layers.is_empty() {
                    String::new()
                } else {
                    format!(" + inner layer {}", layers.join(", "))
                };
                let state = match e.state.as_ref() {
                    "encrypted" => {
                        Some(e.protection.clone().unwrap_or_else(|| "encrypted".into()) + &inner)
                    }
                    "plaintext" => Some(format!(
                        "plaintext {}",
                        e.protection.clone().unwrap_or_else(|| protocols
                            .iter()
                            .map(|p| p.to_ascii_uppercase())
                            .collect::<Vec<_>>()
                            .join("/"))
                    )),
                    _ => None,
                };
                (f.id, JudgedFlow { state, protocols })
            })
            .collect();
        Self { flows }
    }

    fn state(&self, f: &flow::Flow) -> Option<&str> {
        self.flows.get(&f.id).and_then(|j| j.state.as_deref())
    }

    fn protocols(&self, f: &flow::Flow) -> &[&'static str] {
        self.flows
            .get(&f.id)
            .map_or(&[], |j| j.protocols.as_slice())
    }
}

/// What the flows so far show about their protection (the verdict decides at the end): the
/// last judgement's, else what the dissectors have seen.
fn flow_state(f: &flow::Flow, judged: &Judged) -> Option<String> {
    if let Some(state) = judged.state(f) {
        return Some(state.to_string());
    }
    if let Some(t) = f.tls_so_far() {
        return Some(match t.version() {
            Some(v) => names::version_name(v),
            None if t.client_hello.is_some() => "TLS handshake under way".into(),
            None => "TLS, handshake not seen".into(),
        });
    }
    if let Some((protocol, state)) = f.udp_glimpse() {
        return Some(match state {
            Some(s) => format!("{s} (so far)"),
            None => format!(
                "{} so far, protection not decided",
                protocol.to_ascii_uppercase()
            ),
        });
    }
    let names = f.protocols.names();
    for clear in ["sip", "http", "dns", "rtp"] {
        if names.contains(&clear) {
            return Some(format!("plaintext {}", clear.to_ascii_uppercase()));
        }
    }
    None
}

/// Different states a server row shows at most.
const STATES: usize = 3;

/// Traffic so far grouped by server address, most bytes first.
pub fn server_rows(flows: &[flow::Flow], judged: &Judged) -> Vec<ServerRow> {
    let mut rows: HashMap<IpAddr, ServerRow> = HashMap::new();
    // by server: each state its flows show, with their bytes and whether it was judged
    let mut states: HashMap<IpAddr, Vec<(String, u64, bool)>> = HashMap::new();
    for f in flows {
        let row = rows.entry(f.server.ip).or_insert_with(|| ServerRow {
            ip: f.server.ip,
            names: BTreeSet::new(),
            protocols: BTreeSet::new(),
            state: String::new(),
            judged: false,
            flows: 0,
            bytes: 0,
        });
        row.flows += 1;
        row.bytes += f.bytes[0] + f.bytes[1];
        if let Some(sni) = f
            .tls_so_far()
            .and_then(|t| t.client_hello.as_ref())
            .and_then(|c| c.sni.as_ref())
            && row.names.len() < 3
        {
            row.names.insert(sni.clone());
        }
        let judged_protocols = judged.protocols(f);
        if judged_protocols.is_empty() {
            row.protocols
                .extend(f.protocols.names().into_iter().filter(|p| *p != "unknown"));
            if let Some((protocol, _)) = f.udp_glimpse() {
                row.protocols.insert(protocol);
            }
        } else {
            row.protocols.extend(judged_protocols);
        }
        row.protocols.insert(match f.l4 {
            L4::Tcp => "tcp",
            L4::Udp => "udp",
        });
        if let Some(state) = flow_state(f, judged) {
            let flow_bytes = f.bytes[0] + f.bytes[1];
            let judged_state = judged.state(f).is_some();
            let known = states.entry(f.server.ip).or_default();
            match known.iter_mut().find(|(s, _, _)| *s == state) {
                Some(k) => {
                    k.1 += flow_bytes;
                    k.2 |= judged_state;
                }
                None => known.push((state, flow_bytes, judged_state)),
            }
        }
    }
    for (ip, mut known) in states {
        // a plaintext protocol first: it is what the tester must see; then the busiest
        // (a call's media before its RTCP beside it)
        known.sort_by(|a, b| {
            (b.0.starts_with("plaintext"), b.1)
                .cmp(&(a.0.starts_with("plaintext"), a.1))
                .then(a.0.cmp(&b.0))
        });
        let row = rows
            .get_mut(&ip)
            .expect("a row for each server with a state");
        let shown = &known[..known.len().min(STATES)];
        row.judged = shown.iter().any(|k| k.2);
        row.state = shown
            .iter()
            .map(|k| k.0.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if known.len() > STATES {
            let _ = write!(row.state, "; {} more", known.len() - STATES);
        }
    }
    let mut rows: Vec<ServerRow> = rows.into_values().collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.ip.cmp(&b.ip)));
    rows
}

/// Country and operator of an address, looked up once.
pub struct Places<'g> {
    geo: &'g GeoData,
    known: HashMap<IpAddr, String>,
}

impl<'g> Places<'g> {
    pub fn new(geo: &'g GeoData) -> Self {
        Self {
            geo,
            known: HashMap::new(),
        }
    }

    pub fn of(&mut self, ip: IpAddr) -> &str {
        self.known.entry(ip).or_insert_with(|| {
            let g = self.geo.lookup(ip);
            let country = g.country.unwrap_or_else(|| match g.region {
                Some(r) => r.as_str().to_string(),
                None => "?".into(),
            });
            match (g.operator, g.as_org) {
                (Some(op), _) => format!("{country}, {} ({})", op.name, op.jurisdiction),
                (None, Some(org)) => format!("{country}, {org}"),
                (None, None) => country,
            }
        })
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else if bytes >= 1_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Flows so far by protocol ("tls 12, quic 3, dtls 1, udp (not yet classified) 4"), most first:
/// a flow's protocols as the last judgement named them, else as the dissectors have seen.
pub fn flows_by_protocol(flows: &[flow::Flow], judged: &Judged) -> String {
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    for f in flows {
        let mut names: Vec<&'static str> = judged.protocols(f).to_vec();
        if names.is_empty() {
            names = f.protocols.names();
            names.retain(|p| *p != "unknown");
        }
        if names.is_empty() {
            let label = match (f.tls_so_far().is_some(), f.udp_glimpse(), f.l4) {
                (true, _, _) => "tls",
                (false, Some((protocol, _)), _) => protocol,
                (false, None, L4::Tcp) => "tcp (not yet classified)",
                (false, None, L4::Udp) => "udp (not yet classified)",
            };
            *counts.entry(label).or_default() += 1;
        }
        for n in names {
            *counts.entry(n).or_default() += 1;
        }
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The counters line.
pub fn headline(
    elapsed_s: f64,
    packets: u64,
    bytes: u64,
    dropped: u64,
    flows: &[flow::Flow],
    judged: &Judged,
) -> String {
    let mut line = format!(
        "callproof: {:02}:{:02} elapsed, {packets} packets ({}), {dropped} dropped, {} flows",
        (elapsed_s as u64) / 60,
        (elapsed_s as u64) % 60,
        human(bytes),
        flows.len()
    );
    if !flows.is_empty() {
        let _ = write!(line, " ({})", flows_by_protocol(flows, judged));
    }
    line
}

/// One server's line.
pub fn row_line(row: &ServerRow, place: &str) -> String {
    let mut line = format!("  {:<39} {:<34}", row.ip.to_string(), place);
    let _ = write!(
        line,
        " {:>9}  {}",
        human(row.bytes),
        row.protocols.iter().copied().collect::<Vec<_>>().join(",")
    );
    if !row.state.is_empty() {
        let _ = write!(line, "  [{}]", row.state);
    }
    if !row.names.is_empty() {
        let _ = write!(
            line,
            "  {}",
            row.names.iter().cloned().collect::<Vec<_>>().join(" ")
        );
    }
    // the names are the clients' TLS server names: anything a host on the network sent
    terminal_safe(&line).into_owned()
}

/// Findings raised so far, each reported once: by rule, servers and first flow (their details
/// grow with the traffic). What the capture lacks is left out while it runs (a handshake under
/// way is not missing); the verdict at the end has it.
#[derive(Default)]
pub struct Raised {
    seen: HashSet<(String, Vec<std::sync::Arc<str>>, u32)>,
    /// The lines of the findings raised so far, in order.
    pub lines: Vec<String>,
}

impl Raised {
    /// Take in a snapshot verdict; return the lines of findings not raised before.
    pub fn update(&mut self, v: &Verdict) -> Vec<String> {
        let mut new = Vec::new();
        for f in &v.findings {
            if f.rule == "capture-incomplete" {
                continue;
            }
            let key = (
                f.rule.to_string(),
                f.endpoints.clone(),
                f.flows.first().copied().unwrap_or(0),
            );
            if self.seen.insert(key) {
                let mut line = format!("[{}] {}: {}", f.severity, f.rule, f.title);
                if !f.endpoints.is_empty() {
                    let _ = write!(line, " ({})", f.endpoints.join(", "));
                }
                let line = terminal_safe(&line).into_owned();
                self.lines.push(line.clone());
                new.push(line);
            }
        }
        new
    }
}

/// Terminal drawing: the previous frame's lines are overwritten in place.
#[derive(Default)]
pub struct Screen {
    lines_drawn: usize,
}

/// Rows shown on a terminal at most.
const ROWS: usize = 12;
/// The most recent findings shown on a terminal.
const FINDING_LINES: usize = 6;

impl Screen {
    pub fn draw(
        &mut self,
        headline: &str,
        rows: &[ServerRow],
        places: &mut Places<'_>,
        raised: &[String],
    ) {
        let mut lines = vec![headline.to_string()];
        for r in rows.iter().take(ROWS) {
            let place = places.of(r.ip).to_string();
            lines.push(row_line(r, &place));
        }
        if rows.len() > ROWS {
            lines.push(format!("  … and {} more server(s)", rows.len() - ROWS));
        }
        if !raised.is_empty() {
            lines.push(format!("findings so far ({}):", raised.len()));
            let skip = raised.len().saturating_sub(FINDING_LINES);
            lines.extend(raised[skip..].iter().map(|line| format!("  {line}")));
        }
        let columns = console::Term::stderr()
            .size_checked()
            .map(|(_, columns)| usize::from(columns));
        let mut out = String::new();
        if self.lines_drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.lines_drawn);
        }
        out.push_str("\x1b[J");
        out.push_str(&screen_text(&lines, columns));
        self.lines_drawn = lines.len();
        eprint!("{out}");
    }
}

/// The lines as drawn on a terminal `columns` wide: each cut to fit, so that none wraps and
/// the next frame, moving the cursor up one row per line, overwrites exactly this one.
fn screen_text(lines: &[String], columns: Option<usize>) -> String {
    let mut out = String::new();
    for line in lines {
        match columns {
            // one column spare: a line filling the last one leaves some terminals' cursor
            // past it
            Some(c) => out.push_str(&console::truncate_str(
                line,
                c.saturating_sub(1).max(1),
                "…",
            )),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Plain lines: one per server not reported before, and one each time the judgement of a
/// server's flows says something new of its protection.
#[derive(Default)]
pub struct Log {
    reported: HashMap<IpAddr, String>,
}

impl Log {
    pub fn new_servers(&mut self, rows: &[ServerRow], places: &mut Places<'_>) {
        for r in rows {
            match self.reported.get_mut(&r.ip) {
                None => {
                    self.reported.insert(r.ip, r.state.clone());
                    let place = places.of(r.ip).to_string();
                    eprintln!("callproof: new server {}", row_line(r, &place).trim());
                }
                // "plaintext SIP (so far)" judged "plaintext SIP" says nothing new
                Some(said) if r.judged && said.replace(" (so far)", "") != r.state => {
                    said.clone_from(&r.state);
                    let line = format!("callproof: server {} now [{}]", r.ip, r.state);
                    eprintln!("{}", terminal_safe(&line));
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_lines_are_cut_to_the_terminal_width() {
        let long = format!(
            "  192.0.2.2  private  17.4 kB  srtcp,srtp,udp  [{}]",
            "SRTP (AES_CM_128_HMAC_SHA1_80, SDES keys from clear SIP); ".repeat(3)
        );
        let lines = vec!["callproof: 00:03 elapsed".to_string(), long.clone()];
        let text = screen_text(&lines, Some(80));
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            assert!(console::measure_text_width(line) <= 79, "{line}");
        }
        assert!(text.lines().nth(1).unwrap().ends_with('…'));
        // wide characters count twice
        let wide = vec!["会議".repeat(60)];
        assert!(console::measure_text_width(screen_text(&wide, Some(80)).trim_end()) <= 79);
        // no terminal size known: as they are
        assert_eq!(screen_text(&lines, None), format!("{}\n{long}\n", lines[0]));
    }
}
