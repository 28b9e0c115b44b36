//! callproof: checks on the wire what video-conferencing vendors claim about encryption and
//! data location. The modules follow the pipeline of DESIGN.md:
//! [`capture`] → [`decode`] → [`flow`] → [`dissect`] → [`enrich`] → [`assess`] → [`verdict`],
//! wired by [`analyze`].
#![forbid(unsafe_code)]

pub mod analyze;
pub mod assess;
pub mod batch;
pub mod capture;
pub mod decode;
pub mod dissect;
pub mod enrich;
pub mod flow;
#[cfg(feature = "live")]
pub mod live;
pub mod report;
pub mod vendor;
pub mod verdict;
