//! The terminal summary printed after every analysis (colours only when asked for, i.e. when
//! standard error is a terminal and NO_COLOR is unset). The answers come from `assess::summary`.

use std::fmt::Write;

use crate::verdict::{Status, Verdict};

fn paint(text: &str, status: &str, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match status {
        "pass" => "32",
        "warn" => "33",
        "fail" => "1;31",
        _ => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The terminal summary: counts, the five answers with their reasons, findings by severity.
pub fn terminal_summary(v: &Verdict, colour: bool) -> String {
    let mut out = String::new();
    let readable = v.inputs.iter().filter(|i| i.error.is_none()).count();
    let damaged = v.inputs.iter().filter(|i| !i.damage.is_empty()).count();
    let _ = writeln!(
        out,
        "callproof: {readable} input(s), {} flow(s), {} server endpoint(s){}{}",
        v.flows.len(),
        v.endpoints.len(),
        if damaged > 0 {
            format!(", {damaged} input(s) with damage (see inputs[].damage)")
        } else {
            String::new()
        },
        if v.skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; {} file(s) in the directories skipped as not captures (see skipped[])",
                v.skipped.len()
            )
        }
    );
    if let Some(s) = &v.summary {
        let rows: [(&str, &Status); 5] = [
            ("transport encryption", &s.transport_encryption),
            ("media encryption", &s.media_encryption),
            ("end-to-end encryption", &s.e2ee),
            ("third-country transfer", &s.third_country_transfer),
            ("evidence quality", &s.evidence_quality),
        ];
        for (label, st) in rows {
            let tag = format!("{:<7}", st.status.to_uppercase());
            let _ = writeln!(
                out,
                "  {label:<22} {}  {}",
                paint(&tag, &st.status, colour),
                st.reason
            );
        }
    }
    let count = |sev: &str| v.findings.iter().filter(|f| f.severity == sev).count();
    let _ = writeln!(
        out,
        "  findings: {} high, {} medium, {} low, {} info (`callproof rules` explains each rule)",
        count("high"),
        count("medium"),
        count("low"),
        count("info")
    );
    out
}
