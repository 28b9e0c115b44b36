//! Human-readable reports of a verdict. Owns: the terminal summary printed after every analysis
//! and the escaping of text from captures for terminals (`terminal`), and the self-contained
//! HTML page of `callproof report --html` (`html`).
//! Both read the verdict only and decide nothing: every status, finding and claim check they
//! show was decided by `assess` when the verdict was made.

mod html;
mod terminal;

pub use html::html_report;
pub use terminal::{terminal_safe, terminal_summary};
