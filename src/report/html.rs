//! The HTML report of `callproof report VERDICT.json --html OUT.html`: one self-contained page
//! with the summary, the findings, where the data went (bytes per country and per operator,
//! drawn as inline SVG), the vendors and claim checks, the endpoints, the flows and the evidence
//! the verdict rests on (input hashes, database dates, policy version).
//!
//! The page carries no script and fetches nothing: its Content-Security-Policy
//! (`default-src 'none'`) makes a browser refuse any load, so it can be opened offline, attached
//! to a compliance file and still show the same thing years later. Every text taken from the
//! verdict is escaped, because much of it (server names, certificate subjects, SIP URIs, file
//! names) was written by whoever sent the captured packets.

use std::collections::HashMap;
use std::fmt::{self, Display, Write};

use crate::verdict::{Flow, Status, Verdict, traffic};

/// Rows drawn per chart; the rest are summed into one "others" row.
const CHART_ROWS: usize = 20;
/// Flows, findings' flow lists: how many ids are spelled out before "and N more".
const IDS_SHOWN: usize = 24;
/// Flow tables longer than this start folded.
const FLOWS_UNFOLDED: usize = 300;
/// Rows per table at most: a capture of 100,000 flows would make a page no browser opens
/// comfortably; the verdict file lists them all, and the page says how many it left out.
const ROWS_SHOWN: usize = 2_000;

fn rows_left_out(out: &mut String, total: usize, what: &str, field: &str) {
    if total > ROWS_SHOWN {
        let _ = write!(
            out,
            "<p class=\"muted\">The first {ROWS_SHOWN} of {total} {what} are shown; the verdict \
             file lists all of them (<code>{field}</code>).</p>"
        );
    }
}

/// Text escaped for HTML content and double- or single-quoted attribute values. Control and
/// bidirectional-override characters are shown as escapes, as on the terminal
/// (`terminal_safe`): a server name with U+202E must not show its letters reordered.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = super::terminal::terminal_safe(self.0);
        let mut rest = &*shown;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// Decimal units, as network tools count bytes.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The first items of a list, joined, and how many more there are.
fn shortened<T: Display>(list: &[T]) -> String {
    let mut s = list
        .iter()
        .take(IDS_SHOWN)
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > IDS_SHOWN {
        let _ = write!(s, " and {} more", list.len() - IDS_SHOWN);
    }
    s
}

fn ids(list: &[u32]) -> String {
    shortened(list)
}

fn names<T: Display>(list: &[T]) -> String {
    shortened(list)
}

/// CSS class of a status, severity or claim status word (a fixed set: never the word itself,
/// which comes from the file).
fn tone(word: &str) -> &'static str {
    match word {
        "pass" | "consistent" | "encrypted" => "good",
        "warn" | "medium" | "low" => "warn",
        "fail" | "high" | "contradicted" | "plaintext" => "bad",
        _ => "neutral",
    }
}

fn badge(out: &mut String, word: &str) {
    let _ = write!(
        out,
        r#"<span class="badge {}">{}</span>"#,
        tone(word),
        esc(word)
    );
}

/// Colour of a transfer-policy region (VERDICT.md: endpoints[].region).
fn region_colour(region: &str) -> &'static str {
    match region {
        "eea" => "#2e7d32",
        "adequate" => "#00838f",
        "adequate-partial" => "#c78c00",
        "third-country" => "#c62828",
        "private" => "#8d8d8d",
        _ => "#5f6b7a",
    }
}

const REGION_LEGEND: [(&str, &str); 6] = [
    ("eea", "EU/EEA"),
    ("adequate", "adequacy decision"),
    ("adequate-partial", "partial adequacy (conditions)"),
    ("third-country", "third country"),
    ("private", "private / local address"),
    ("indeterminate", "not located"),
];

struct Bar {
    label: String,
    bytes: u64,
    flows: usize,
    colour: &'static str,
}

/// Horizontal bars, longest first, with the byte count written beside each; a `<title>` on
/// every row gives the exact figures on hover (no script needed).
fn bar_chart(out: &mut String, caption: &str, mut bars: Vec<Bar>) {
    bars.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.label.cmp(&b.label)));
    if bars.len() > CHART_ROWS {
        let rest = bars.split_off(CHART_ROWS - 1);
        bars.push(Bar {
            label: format!("{} others", rest.len()),
            bytes: rest.iter().map(|b| b.bytes).sum(),
            flows: rest.iter().map(|b| b.flows).sum(),
            colour: "#5f6b7a",
        });
    }
    let total: u64 = bars.iter().map(|b| b.bytes).sum();
    let max = bars.iter().map(|b| b.bytes).max().unwrap_or(0).max(1);
    const ROW: usize = 26;
    const LABEL_W: usize = 270;
    const BAR_W: usize = 360;
    const WIDTH: usize = LABEL_W + BAR_W + 150;
    let height = bars.len().max(1) * ROW + 8;
    let _ = write!(
        out,
        r#"<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" font-size="13"><title>{}</title>"#,
        esc(caption)
    );
    if bars.is_empty() {
        let _ = write!(
            out,
            r##"<text x="0" y="18" fill="#5f6b7a">no flows</text>"##
        );
    }
    for (row, bar) in bars.iter().enumerate() {
        let y = row * ROW + 4;
        let width = if bar.bytes == 0 {
            1
        } else {
            ((bar.bytes as f64 / max as f64) * BAR_W as f64)
                .round()
                .max(2.0) as usize
        };
        let share = if total == 0 {
            0.0
        } else {
            bar.bytes as f64 * 100.0 / total as f64
        };
        let shown: String = if bar.label.chars().count() > 38 {
            bar.label.chars().take(37).chain(['…']).collect()
        } else {
            bar.label.clone()
        };
        let _ = write!(
            out,
            r##"<g><title>{label}: {bytes} bytes in {flows} flow(s), {share:.1} % of all</title><text x="{lx}" y="{ty}" text-anchor="end">{shown}</text><rect x="{bx}" y="{y}" width="{width}" height="18" rx="2" fill="{colour}"/><text x="{vx}" y="{ty}" fill="#24292f">{human} · {share:.1} %</text></g>"##,
            label = esc(&bar.label),
            bytes = bar.bytes,
            flows = bar.flows,
            lx = LABEL_W - 8,
            ty = y + 14,
            shown = esc(&shown),
            bx = LABEL_W,
            colour = bar.colour,
            vx = LABEL_W + width + 6,
            human = human_bytes(bar.bytes),
        );
    }
    let _ = write!(
        out,
        "</svg><figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

fn flow_bytes(f: &Flow) -> u64 {
    f.bytes_client_to_server + f.bytes_server_to_client
}

fn where_data_went(out: &mut String, v: &Verdict) {
    out.push_str(r#"<section id="where"><h2>Where the data went</h2>"#);
    out.push_str(
        "<p>Transport payload bytes of every flow (both directions), counted at the flow's \
         server endpoint: its country as the bundled offline databases place it, coloured by \
         the transfer policy's region, and the operator of its network. See the evidence \
         section for the databases' dates.</p>",
    );
    let mut by_country: HashMap<(String, &str), (u64, usize)> = HashMap::new();
    let mut by_operator: HashMap<String, (u64, usize)> = HashMap::new();
    let mut by_region: HashMap<&str, u64> = HashMap::new();
    for d in traffic::destinations(v) {
        let region = region_key(&d.region);
        let located = d.country.is_some();
        let country = match d.country {
            Some(c) => c,
            None if region == "private" => "private / local".to_string(),
            None => "not located".to_string(),
        };
        let operator = match (d.operator, d.jurisdiction) {
            (Some(op), Some(j)) => format!("{op} ({j})"),
            (Some(op), None) => op,
            (None, _) if region == "private" => "private / local".to_string(),
            (None, _) if !located => "not located".to_string(),
            (None, _) => "unknown operator".to_string(),
        };
        let c = by_country.entry((country, region)).or_default();
        c.0 += d.bytes;
        c.1 += d.flows;
        let o = by_operator.entry(operator).or_default();
        o.0 += d.bytes;
        o.1 += d.flows;
        *by_region.entry(region).or_default() += d.bytes;
    }
    let total: u64 = by_region.values().sum();
    if total > 0 {
        let third = by_region.get("third-country").copied().unwrap_or(0);
        let partial = by_region.get("adequate-partial").copied().unwrap_or(0);
        let _ = write!(
            out,
            "<p class=\"lead\">{} of {} ({:.1} %) went to endpoints in third countries; {} ({:.1} %) to countries whose adequacy holds only under conditions.</p>",
            human_bytes(third),
            human_bytes(total),
            third as f64 * 100.0 / total as f64,
            human_bytes(partial),
            partial as f64 * 100.0 / total as f64,
        );
    }
    let country_bars = by_country
        .into_iter()
        .map(|((label, region), (bytes, flows))| Bar {
            label,
            bytes,
            flows,
            colour: region_colour(region),
        })
        .collect();
    bar_chart(out, "Bytes per server country", country_bars);
    out.push_str(r#"<p class="legend">"#);
    for (region, label) in REGION_LEGEND {
        let _ = write!(
            out,
            r#"<span><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{}"/></svg> {}</span>"#,
            region_colour(region),
            label
        );
    }
    out.push_str("</p>");
    let operator_bars = by_operator
        .into_iter()
        .map(|(label, (bytes, flows))| Bar {
            label,
            bytes,
            flows,
            colour: "#455a8a",
        })
        .collect();
    bar_chart(
        out,
        "Bytes per network operator (jurisdiction)",
        operator_bars,
    );
    out.push_str("</section>");
}

/// The region words the verdict uses, as fixed strings (anything else counts as not located).
fn region_key(region: &str) -> &'static str {
    match region {
        "eea" => "eea",
        "adequate" => "adequate",
        "adequate-partial" => "adequate-partial",
        "third-country" => "third-country",
        "private" => "private",
        _ => "indeterminate",
    }
}

fn summary(out: &mut String, v: &Verdict) {
    out.push_str(r#"<section id="summary"><h2>Summary</h2>"#);
    let Some(s) = &v.summary else {
        out.push_str(
            "<p>This verdict has no summary (made before assessment existed).</p></section>",
        );
        return;
    };
    let rows: [(&str, &Status); 5] = [
        ("Transport encryption", &s.transport_encryption),
        ("Media encryption", &s.media_encryption),
        ("End-to-end encryption", &s.e2ee),
        ("Third-country transfer", &s.third_country_transfer),
        ("Evidence quality", &s.evidence_quality),
    ];
    out.push_str(r#"<table class="summary"><tbody>"#);
    for (label, st) in rows {
        let _ = write!(out, "<tr><th>{label}</th><td>");
        badge(out, &st.status);
        let _ = write!(out, "</td><td>{}</td></tr>", esc(&st.reason));
    }
    out.push_str("</tbody></table></section>");
}

fn findings(out: &mut String, v: &Verdict) {
    let _ = write!(
        out,
        r#"<section id="findings"><h2>Findings ({})</h2>"#,
        v.findings.len()
    );
    if v.findings.is_empty() {
        out.push_str("<p>No rule raised a finding.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Severity</th><th>Rule</th><th>Finding</th><th>Flows</th>\
         <th>Endpoints</th><th>First frame</th></tr></thead><tbody>",
    );
    for f in v.findings.iter().take(ROWS_SHOWN) {
        out.push_str("<tr><td>");
        badge(out, &f.severity);
        let _ = write!(
            out,
            "</td><td class=\"rule\"><code>{}</code></td><td><strong>{}</strong><br>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.rule),
            esc(&f.title),
            esc(&f.detail),
            ids(&f.flows),
            esc(&names(&f.endpoints)),
            f.first_frame.map(|n| n.to_string()).unwrap_or_default()
        );
    }
    out.push_str("</tbody></table>");
    rows_left_out(
        out,
        v.findings.len(),
        "findings (most severe first)",
        "findings[]",
    );
    out.push_str("</section>");
}

/// Source text with its web addresses as links; nothing else becomes a link (a user's
/// catalogue could hold any text, e.g. a `javascript:` address).
fn source_link(out: &mut String, source: &str) {
    let mut rest = source;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let tail = &rest[start..];
        let mut end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        end = tail[..end]
            .trim_end_matches([')', ',', '.', ';', ']', '"', '\''])
            .len();
        let url = &tail[..end];
        let _ = write!(
            out,
            r#"{}<a href="{1}" rel="noreferrer">{1}</a>"#,
            esc(&rest[..start]),
            esc(url)
        );
        rest = &tail[end..];
    }
    let _ = write!(out, "{}", esc(rest));
}

fn vendors_and_claims(out: &mut String, v: &Verdict) {
    let vendor_name = |id: &str| -> String {
        v.vendors
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    };
    out.push_str(r#"<section id="vendors"><h2>Vendors and their claims</h2>"#);
    if v.vendors.is_empty() {
        out.push_str("<p>No flow was attributed to a catalogued vendor.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>Vendor</th><th>Operator</th><th>Jurisdiction</th>\
             <th>Flows</th><th>Endpoints</th></tr></thead><tbody>",
        );
        for s in &v.vendors {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.name),
                esc(&s.operator),
                esc(&s.jurisdiction),
                ids(&s.flows),
                esc(&names(&s.endpoints))
            );
        }
        out.push_str("</tbody></table>");
    }
    if !v.claims.is_empty() {
        out.push_str(
            "<h3>Claim checks</h3><table><thead><tr><th>Vendor</th><th>Claim</th>\
             <th>Status</th><th>Observed</th><th>Source</th></tr></thead><tbody>",
        );
        for c in &v.claims {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code><br>{}",
                esc(&vendor_name(&c.vendor)),
                esc(&c.claim),
                esc(&c.statement)
            );
            if let Some(cond) = &c.condition {
                let _ = write!(out, "<br><em>Condition: {}</em>", esc(cond));
            }
            out.push_str("</td><td>");
            badge(out, &c.status);
            let _ = write!(
                out,
                "</td><td>{}<br><span class=\"muted\">{}</span></td><td>",
                esc(&c.observed),
                esc(&c.reason)
            );
            source_link(out, &c.source);
            let _ = write!(out, "<br>{}</td></tr>", esc(&c.date));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

fn endpoints(out: &mut String, v: &Verdict) {
    let _ = write!(
        out,
        r#"<section id="endpoints"><h2>Server endpoints ({})</h2>"#,
        v.endpoints.len()
    );
    if v.endpoints.is_empty() {
        out.push_str("<p>None.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Address</th><th>Names</th><th>Ports</th><th>Country</th>\
         <th>Region</th><th>Network</th><th>Operator</th><th>Vendor</th><th>Flows</th>\
         </tr></thead><tbody>",
    );
    for e in v.endpoints.iter().take(ROWS_SHOWN) {
        let ports = e
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let network = match (e.asn, &e.as_org) {
            (Some(asn), Some(org)) => format!("AS{asn} {org}"),
            (Some(asn), None) => format!("AS{asn}"),
            _ => String::new(),
        };
        let operator = e
            .operator
            .as_ref()
            .map(|o| format!("{} ({}; {})", o.name, o.parent, o.jurisdiction))
            .unwrap_or_default();
        let region = e.region.as_deref().unwrap_or("");
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"region\" style=\"border-color:{}\">{}</span>",
            esc(&e.ip),
            esc(&names(&e.names)),
            ports,
            esc(e.country.as_deref().unwrap_or("")),
            region_colour(region_key(region)),
            esc(region),
        );
        if let Some(scope) = &e.region_scope {
            let _ = write!(out, "<br><span class=\"muted\">{}</span>", esc(scope));
        }
        if let Some(check) = &e.location_check {
            let _ = write!(out, "<br><span class=\"muted\">{}</span>", esc(check));
        }
        let _ = write!(
            out,
            "</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&network),
            esc(&operator),
            esc(e.vendor.as_ref().map(|x| x.name.as_str()).unwrap_or("")),
            ids(&e.flows)
        );
    }
    out.push_str("</tbody></table>");
    rows_left_out(out, v.endpoints.len(), "server endpoints", "endpoints[]");
    out.push_str("</section>");
}

/// The name a flow was addressed by, as the handshake states it.
fn flow_name(f: &Flow) -> Option<&str> {
    f.tls
        .as_ref()
        .and_then(|t| t.sni.as_deref())
        .or_else(|| f.quic.as_ref().and_then(|q| q.sni.as_deref()))
        .or_else(|| f.dtls.as_ref().and_then(|t| t.sni.as_deref()))
}

fn flows(out: &mut String, v: &Verdict) {
    let _ = write!(
        out,
        r#"<section id="flows"><h2>Flows ({})</h2>"#,
        v.flows.len()
    );
    if v.flows.is_empty() {
        out.push_str("<p>None.</p></section>");
        return;
    }
    let folded = v.flows.len() > FLOWS_UNFOLDED;
    if folded {
        let _ = write!(
            out,
            "<details><summary>Show the flows ({})</summary>",
            v.flows.len().min(ROWS_SHOWN)
        );
    }
    out.push_str(
        "<table class=\"flows\"><thead><tr><th>#</th><th>Client → server</th><th>Protocols</th>\
         <th>Name</th><th>Vendor</th><th>Media path</th><th>Encryption</th><th>Packets</th>\
         <th>Bytes</th></tr></thead><tbody>",
    );
    for f in v.flows.iter().take(ROWS_SHOWN) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}:{} → {}:{}</code> {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
            f.id,
            esc(&f.client.ip),
            f.client.port,
            esc(&f.server.ip),
            f.server.port,
            esc(&f.transport),
            esc(&f.protocols.join(", ")),
            esc(flow_name(f).unwrap_or("")),
            esc(f.vendor.as_ref().map(|x| x.name.as_str()).unwrap_or("")),
            esc(f.media_path.as_deref().unwrap_or("")),
        );
        badge(out, &f.encryption.state);
        if let Some(p) = &f.encryption.protection {
            let _ = write!(out, " {}", esc(p));
        }
        // an end-to-end layer seen beneath the SRTP a key opened
        let layers = f.inner_e2ee_layers();
        if !layers.is_empty() {
            let _ = write!(out, "; inner layer: {}", esc(&layers.join(", ")));
        }
        let _ = write!(
            out,
            "</td><td>{}</td><td>{}</td></tr>",
            f.packets_client_to_server + f.packets_server_to_client,
            human_bytes(flow_bytes(f))
        );
    }
    out.push_str("</tbody></table>");
    rows_left_out(out, v.flows.len(), "flows", "flows[]");
    if folded {
        out.push_str("</details>");
    }
    out.push_str("</section>");
}

fn evidence(out: &mut String, v: &Verdict) {
    out.push_str(
        r#"<section id="evidence"><h2>Evidence</h2><h3>Captures</h3><table><thead><tr><th>File</th><th>SHA-256</th><th>Size</th><th>Format</th><th>Frames</th><th>Time span</th><th>Damage</th></tr></thead><tbody>"#,
    );
    for i in &v.inputs {
        let _ = write!(out, "<tr><td>{}</td>", esc(&i.path));
        if let Some(e) = &i.error {
            let _ = write!(
                out,
                "<td colspan=\"6\"><span class=\"badge bad\">unreadable</span> {}</td></tr>",
                esc(e)
            );
            continue;
        }
        let format = match (&i.format, &i.compression) {
            (Some(f), Some(c)) => format!("{f} ({c})"),
            (Some(f), None) => f.clone(),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<td><code class=\"hash\">{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>",
            esc(i.sha256.as_deref().unwrap_or("")),
            i.bytes.map(|b| format!("{b} bytes")).unwrap_or_default(),
            esc(&format),
            i.frames,
            esc(i.first_timestamp.as_deref().unwrap_or("")),
            esc(i.last_timestamp.as_deref().unwrap_or("")),
        );
        if i.damage.is_empty() {
            out.push_str("none");
        }
        for d in &i.damage {
            let _ = write!(out, "<div>{}: {}", esc(&d.kind), esc(&d.detail));
            if let Some(frame) = d.frame {
                let _ = write!(out, " (frame {frame})");
            }
            if d.count > 1 {
                let _ = write!(out, " ×{}", d.count);
            }
            out.push_str("</div>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    if !v.skipped.is_empty() {
        out.push_str("<h3>Files skipped as not captures</h3><ul>");
        for s in &v.skipped {
            let _ = write!(out, "<li>{}: {}</li>", esc(&s.path), esc(&s.reason));
        }
        out.push_str("</ul>");
    }
    match &v.data {
        Some(data) => {
            out.push_str(
                "<h3>Location databases</h3><table><thead><tr><th>Database</th><th>Kind</th>\
                 <th>Built</th><th>Age</th><th>Source and licence</th></tr></thead><tbody>",
            );
            for d in &data.databases {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} days</td><td>{}",
                    esc(&d.name),
                    esc(&d.kind),
                    esc(&d.build_date),
                    d.age_days,
                    esc(&d.source)
                );
                if let Some(w) = &d.warning {
                    let _ = write!(
                        out,
                        "<br><span class=\"badge warn\">warning</span> {}",
                        esc(w)
                    );
                }
                out.push_str("</td></tr>");
            }
            let _ = write!(
                out,
                "</tbody></table><h3>Transfer policy</h3><p>{}, version {} of {}.</p>",
                esc(&data.policy.name),
                esc(&data.policy.version),
                esc(&data.policy.date)
            );
        }
        None => out.push_str("<p>The verdict records no location databases.</p>"),
    }
    let _ = write!(
        out,
        "<h3>This verdict</h3><p>Schema <code>{}</code>, made by {} {} at {}. This page was \
         drawn from the verdict file alone and adds no judgement of its own.</p></section>",
        esc(&v.schema),
        esc(&v.tool.name),
        esc(&v.tool.version),
        esc(&v.generated_at)
    );
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#24292f;margin:0 auto;max-width:1200px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}table.summary th{width:200px;background:#f6f8fa}
code{font:12px ui-monospace,'DejaVu Sans Mono',monospace;word-break:break-all}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:#6e7781;white-space:nowrap}
.badge.good{background:#1a7f37}.badge.warn{background:#9a6700}.badge.bad{background:#cf222e}
.muted{color:#57606a;font-size:12px}.lead{font-size:15px}
.legend span{margin-right:14px;white-space:nowrap}.region{border-left:6px solid;padding-left:4px}
figure{margin:8px 0 16px}figcaption{color:#57606a;font-size:12px}
table.flows td{font-size:12px}td.rule{white-space:nowrap}
@media print{body{max-width:none;padding:0}details{display:block}}
";

/// The whole page. Deterministic: the same verdict gives the same bytes.
pub fn html_report(v: &Verdict) -> String {
    let mut out = String::with_capacity(64 * 1024 + v.flows.len() * 400);
    let title = match v.inputs.as_slice() {
        [one] => one.path.clone(),
        many => format!("{} captures", many.len()),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>callproof verdict: {}</title><style>{STYLE}</style></head><body>\
         <header><h1>callproof verdict</h1><p class=\"muted\">{} · {} flow(s) · {} server endpoint(s) · made by {} {} at {}</p></header>",
        esc(&title),
        esc(&title),
        v.flows.len(),
        v.endpoints.len(),
        esc(&v.tool.name),
        esc(&v.tool.version),
        esc(&v.generated_at),
    );
    summary(&mut out, v);
    where_data_went(&mut out, v);
    findings(&mut out, v);
    vendors_and_claims(&mut out, v);
    endpoints(&mut out, v);
    flows(&mut out, v);
    evidence(&mut out, v);
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            esc(r#"<script>alert("x") & 'y'</script>"#).to_string(),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(esc("plain ünïcode").to_string(), "plain ünïcode");
        // "evil" then a right-to-left override: a browser would show moc.elgoog reversed
        assert_eq!(
            esc("evil\u{202e}moc.elgoog\x1b<").to_string(),
            "evil\\u{202e}moc.elgoog\\x1b&lt;"
        );
    }

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 kB");
        assert_eq!(human_bytes(2_340_000_000), "2.3 GB");
    }

    #[test]
    fn long_id_lists_are_shortened_with_a_count() {
        let list: Vec<u32> = (0..30).collect();
        assert!(ids(&list).ends_with("23 and 6 more"));
        assert_eq!(ids(&[1, 2]), "1, 2");
    }

    #[test]
    fn only_web_addresses_become_links() {
        let mut s = String::new();
        source_link(&mut s, "javascript:alert(1)");
        assert!(!s.contains("href"));
        s.clear();
        source_link(&mut s, "White Paper (Aug 2021), https://example.org/w.pdf.");
        assert_eq!(
            s,
            r#"White Paper (Aug 2021), <a href="https://example.org/w.pdf" rel="noreferrer">https://example.org/w.pdf</a>."#
        );
        s.clear();
        source_link(&mut s, "https://example.org/a?b=\"1\"&c=2");
        assert_eq!(
            s,
            r#"<a href="https://example.org/a?b=&quot;1&quot;&amp;c=2" rel="noreferrer">https://example.org/a?b=&quot;1&quot;&amp;c=2</a>"#
        );
    }
}
