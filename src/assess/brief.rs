//! What the judgements across flows read of each flow: a brief of about a hundred bytes, made
//! when the flow's record is made.
//!
//! Owns: the facts the locations, the claims, the evidence finding and the summary rest on.
//! Those judgements read briefs rather than flow records, so a verdict's complete records can
//! wait for the writing in a spill file (`verdict::Flows`) and the memory a verdict holds per
//! flow is this brief.

use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use super::media_path::is_media;
use crate::verdict::{Flow, Name, OperatorRef};

/// The vendor a flow is attributed to (id and name, shared by all its flows).
#[derive(Debug, PartialEq, Eq)]
pub struct BriefVendor {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowBrief {
    pub id: u32,
    /// Index into the verdict's `inputs`.
    pub input: usize,
    pub server_ip: Arc<str>,
    pub first_frame: u64,
    /// Transport payload bytes, both directions.
    pub bytes: u64,
    /// A TLS handshake was seen (over TCP, or in QUIC Initial packets).
    pub tls: bool,
    pub quic: bool,
    pub dtls: bool,
    /// Real-time media (`media_path::is_media`).
    pub media: bool,
    /// What the flow carried, for a location finding: media, media control (RTCP without its
    /// media), signalling or other data.
    pub carries_media: bool,
    pub carries_media_control: bool,
    pub carries_signalling: bool,
    /// A TLS connection whose handshake was not (fully) captured.
    pub tls_unseen: bool,
    /// `encryption.state`.
    pub state: Name,
    /// `encryption.protection`.
    pub protection: Option<Arc<str>>,
    pub media_path: Option<Name>,
    pub vendor: Option<Arc<BriefVendor>>,
    /// The smallest round trip the flow shows (TCP handshake or STUN transaction).
    pub rtt_ms: Option<f64>,
    /// SRTP opened on the flow, and every stream with enough packets opened to show one
    /// ([`INNER_LAYER_MIN_PACKETS`](crate::dissect::srtp::INNER_LAYER_MIN_PACKETS)), and at
    /// least one, carried an inner end-to-end layer (`rtp.streams[].inner_e2ee_packets`);
    /// a stream that retransmits another (`rtp.streams[].retransmission_of`) is judged on that
    /// stream.
    pub inner_e2ee: bool,
}

/// Shares the texts many briefs and endpoint records repeat (server addresses, protections,
/// countries, AS organisations, operators, vendors): one allocation per distinct value.
#[derive(Default)]
pub struct Interner {
    texts: HashSet<Arc<str>>,
    operators: HashSet<Arc<OperatorRef>>,
    vendors: HashMap<String, Arc<BriefVendor>>,
}

impl Interner {
    pub fn text(&mut self, s: &str) -> Arc<str> {
        if let Some(t) = self.texts.get(s) {
            return t.clone();
        }
        let t: Arc<str> = Arc::from(s);
        self.texts.insert(t.clone());
        t
    }

    pub fn operator(&mut self, o: OperatorRef) -> Arc<OperatorRef> {
        if let Some(known) = self.operators.get(&o) {
            return known.clone();
        }
        let o = Arc::new(o);
        self.operators.insert(o.clone());
        o
    }

    fn vendor(&mut self, id: &str, name: &str) -> Arc<BriefVendor> {
        if let Some(v) = self.vendors.get(id) {
            return v.clone();
        }
        let v = Arc::new(BriefVendor {
            id: id.to_string(),
            name: name.to_string(),
        });
        self.vendors.insert(id.to_string(), v.clone());
        v
    }
}

/// Protocols that are media, media control, and signalling or other application data, for
/// what a flow carried. RTCP reports on media (and names its sender, CNAME) but carries none.
const MEDIA_PROTOCOLS: [&str; 3] = ["rtp", "srtp", "zoom"];
const MEDIA_CONTROL_PROTOCOLS: [&str; 2] = ["rtcp", "srtcp"];
const SIGNALLING_PROTOCOLS: [&str; 8] =
    ["tls", "quic", "sip", "http", "stun", "turn", "dtls", "dns"];

impl FlowBrief {
    /// The brief of a judged flow record (vendor and media path decided).
    pub fn of(f: &Flow, interner: &mut Interner) -> Self {
        let has = |names: &[&str]| f.protocols.iter().any(|p| names.contains(&p.as_ref()));
        let dtls_srtp = f.dtls.as_ref().is_some_and(|d| d.srtp_profile.is_some());
        FlowBrief {
            id: f.id,
            input: f.input,
            server_ip: interner.text(&f.server.ip),
            first_frame: f.first_frame,
            bytes: f.bytes_client_to_server + f.bytes_server_to_client,
            tls: f.tls.is_some(),
            quic: f.quic.is_some(),
            dtls: f.dtls.is_some(),
            media: is_media(f),
            carries_media: has(&MEDIA_PROTOCOLS) || dtls_srtp,
            carries_media_control: has(&MEDIA_CONTROL_PROTOCOLS),
            carries_signalling: has(&SIGNALLING_PROTOCOLS),
            tls_unseen: f.tls.as_ref().is_some_and(|t| {
                t.gap_in_handshake || (t.version.is_none() && t.client_hello_frame.is_none())
            }),
            state: f.encryption.state.clone(),
            protection: f.encryption.protection.as_deref().map(|p| interner.text(p)),
            media_path: f.media_path.clone(),
            inner_e2ee: f.rtp.as_ref().is_some_and(|r| {
                let opened = || {
                    r.streams
                        .iter()
                        .filter(|s| s.srtp_authenticated.is_some_and(|n| n > 0))
                };
                let carries = |s: &crate::verdict::RtpStream| s.inner_e2ee_packets.unwrap_or(0) > 0;
                // a stream too short to show a layer decides nothing, nor one that
                // retransmits another stream's packets (judged on that stream)
                opened().any(carries)
                    && opened().all(|s| {
                        carries(s)
                            || s.retransmission_of.is_some()
                            || s.srtp_authenticated.unwrap_or(0)
                                < crate::dissect::srtp::INNER_LAYER_MIN_PACKETS
                    })
            }),
            vendor: f.vendor.as_ref().map(|v| interner.vendor(&v.id, &v.name)),
            rtt_ms: flow_rtt_ms(f),
        }
    }
}

/// The smallest round trip a flow shows: TCP handshake or STUN transaction.
pub fn flow_rtt_ms(f: &Flow) -> Option<f64> {
    let tcp = f.tcp.as_ref().and_then(|t| t.rtt_ms);
    let stun = f.stun.as_ref().and_then(|s| s.rtt_ms);
    match (tcp, stun) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The brief with this id: briefs are made in id order from 0.
pub fn by_id(briefs: &[FlowBrief], id: u32) -> Option<&FlowBrief> {
    briefs.get(id as usize).filter(|b| b.id == id)
}
