//! The terminal summary printed after every analysis (colours only when asked for, i.e. when
//! standard error is a terminal and NO_COLOR is unset; the answers come from `assess::summary`),
//! and `terminal_safe`, the form in which text from a capture or a verdict file reaches a
//! terminal anywhere in callproof.

use std::borrow::Cow;
use std::fmt::Write;

use crate::verdict::{Status, Verdict};

/// `text` as it may be written to a terminal: control characters (C0, DEL, C1) and the Unicode
/// bidirectional controls shown as escapes (`\x1b`, `\u{202e}`) rather than sent. Text from a
/// capture — a TLS server name, a certificate name, a file name in a directory of strangers'
/// captures, any string of a verdict file — could otherwise move the cursor, rewrite the
/// screen, set the window title or reorder what is shown. tshark and `ls` escape the same way;
/// the verdict keeps the exact text (JSON escapes it).
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    fn escaped(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !escaped(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

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
    if let Some(k) = &v.keylog {
        // "opened X of Y …" with the other states in brackets
        let counted = |states: &std::collections::BTreeMap<String, u64>, done: &str, what: &str| {
            let all: u64 = states.values().sum();
            let opened = states.get(done).copied().unwrap_or(0);
            let others: Vec<String> = states
                .iter()
                .filter(|(state, _)| *state != done)
                .map(|(state, n)| format!("{n} {state}"))
                .collect();
            format!(
                "opened {opened} of {all} {what}{}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", others.join(", "))
                }
            )
        };
        let mut parts = Vec::new();
        if k.sessions > 0 || !k.handshakes.is_empty() {
            parts.push(counted(
                &k.handshakes,
                "decrypted",
                "TLS/DTLS 1.3 handshake(s)",
            ));
        }
        if k.master_secrets + k.exporter_secrets > 0 || !k.srtp.is_empty() {
            parts.push(counted(&k.srtp, "opened", "DTLS-SRTP flow(s)' media"));
        }
        let _ = writeln!(
            out,
            "  key log {}{}: {} session(s); {}",
            if k.source.is_some() {
                "in the Decryption Secrets Blocks of "
            } else {
                ""
            },
            terminal_safe(&k.path),
            k.sessions + k.master_secrets,
            parts.join("; ")
        );
    }
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
                terminal_safe(&st.reason)
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

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn control_and_bidi_characters_are_shown_as_escapes() {
        assert!(matches!(
            terminal_safe("zoom.us — Köln"),
            std::borrow::Cow::Borrowed(_)
        ));
        // clear screen, set the window title, a C1 CSI, a right-to-left override, a tab
        assert_eq!(
            terminal_safe("a\x1b[2Jb\x1b]0;t\x07c\u{9b}31md\u{202e}moc.e\tf"),
            "a\\x1b[2Jb\\x1b]0;t\\x07c\\u{9b}31md\\u{202e}moc.e\\x09f"
        );
    }
}
