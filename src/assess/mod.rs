//! Assessment: judgements derived from the facts of a flow (and, later, findings and claims).
//!
//! Owns: the one place that decides whether a flow is encrypted and on what evidence, the
//! table of finding rules with the checks that raise them, and the summary. Must not
//! parse bytes (that is `dissect`) or format JSON (that is `verdict`).

pub mod brief;
pub mod claims;
pub mod encryption;
pub mod findings;
pub mod media_path;
pub mod protection;
pub mod summary;
