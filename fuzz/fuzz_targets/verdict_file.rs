//! Any bytes as a verdict file, as `callproof report` reads one: a verdict may come from
//! anyone, so a parsed one with any values (flows naming no flow, empty lists, huge numbers,
//! any text) must render as HTML and as the terminal summary without a panic.
#![no_main]

use callproof::verdict::Verdict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Verdict>(data) else {
        return;
    };
    std::hint::black_box(callproof::report::html_report(&v));
    std::hint::black_box(callproof::report::terminal_summary(&v, true));
});
