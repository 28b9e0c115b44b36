//! One-port demultiplexing of UDP flows (RFC 7983, RFC 9443) and the per-flow state of the
//! protocols found: STUN/TURN, DTLS, RTP/RTCP, QUIC, DNS, SIP, Zoom.
//!
//! Each datagram is routed by its first byte (0–3 STUN, 16–19 ZRTP, 20–63 DTLS, 64–79 TURN
//! ChannelData, 128–191 RTP/RTCP, 192–255 QUIC long header; 64–127 QUIC short header once QUIC
//! was seen) and validated by the protocol's own structure; what does not validate falls back to
//! the port- and content-based checks (DNS, SIP, Zoom, gQUIC). A flow is labelled with a protocol
//! only when the evidence holds over several packets or one packet validates completely
//! (a STUN message whose length and attributes tile exactly, a parsed DTLS handshake, a QUIC
//! long header of a known version, a parsed DNS message) — never from one byte.

use super::dns::{self, DnsFacts};
use super::dtls::{self, DtlsStream};
use super::quic::{self, QuicFacts};
use super::rtp::{self, Streams};
use super::sip::{self, SipFacts};
use super::srtp::{self, FlowKeys};
use super::stun::{self, StunFacts};
use super::zoom::{self, ZoomFacts};
use super::{Protocol, ProtocolSet};
use crate::dissect::tls::TlsFacts;
use crate::dissect::tls::keylog::KeyLog;
use std::sync::Arc;

/// Datagrams per flow inspected in full; after that only RTP streams are followed.
const INSPECT_LIMIT: u32 = 256;
/// TURN ChannelData nesting followed at most.
const MAX_NESTING: u8 = 2;

#[derive(Debug, Default)]
struct Counts {
    classic_stun: u32,
    channel_data: u32,
    /// Datagrams of a peer carried inside TURN (ChannelData, Send/Data indications).
    relayed_datagrams: u32,
    ms_turn: u32,
    zrtp: u32,
    dtls_records: u32,
    quic_short: u32,
    sip: u32,
    rtp_like: u32,
}

/// Per-flow UDP dissection state.
#[derive(Debug, Default)]
pub struct UdpDissector {
    inspected: u32,
    counts: Counts,
    stun: Option<Box<StunFacts>>,
    dtls: Option<Box<DtlsStream>>,
    rtp: Option<Box<Streams>>,
    quic: Option<Box<QuicFacts>>,
    quic_initials: Option<Box<quic::initial::Initials>>,
    dns: Option<Box<DnsFacts>>,
    sip: Option<Box<SipFacts>>,
    zoom: Option<Box<ZoomFacts>>,
    /// Secrets that open QUIC servers' Handshake packets and DTLS-SRTP media (`--keylog`).
    keylog: Option<Arc<KeyLog>>,
    /// The SRTP keys of the flow's DTLS-SRTP session, with a key log.
    srtp_keys: Option<Box<FlowKeys>>,
    /// With a key log, RTP and SRTCP packets of a DTLS flow seen before its keys could even be
    /// tried (a DTLS 1.3 profile is read from the encrypted handshake, which may wait for its
    /// secret): counted unopened once they can.
    before_keys: [u64; 2],
}

/// What dissecting a UDP flow established.
///
/// Kept for every UDP flow until the verdict is made: the larger facts are boxed, since most
/// flows carry one kind.
#[derive(Debug, Clone, Default)]
pub struct UdpOutcome {
    pub protocols: ProtocolSet,
    pub stun: Option<Box<StunFacts>>,
    pub dtls: Option<Box<TlsFacts>>,
    pub rtp: Option<Box<Streams>>,
    pub quic: Option<QuicFacts>,
    /// The TLS handshake read from QUIC Initial packets.
    pub quic_tls: Option<Box<TlsFacts>>,
    pub dns: Option<DnsFacts>,
    pub sip: Option<SipFacts>,
    pub zoom: Option<Box<ZoomFacts>>,
    pub client_is_responder: bool,
    /// TURN ChannelData messages seen.
    pub channel_data: u32,
    /// Datagrams of a peer carried inside TURN on this flow (the flow's server is a relay).
    pub relayed_datagrams: u32,
    /// SRTP keys from the key log for the flow's DTLS-SRTP session, and what they opened.
    pub srtp_keys: Option<Box<srtp::KeysOutcome>>,
}

fn is_zoom_port(p: u16) -> bool {
    (8801..=8810).contains(&p)
}

fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 5353 | 5355)
}

impl UdpDissector {
    /// The flow's ICE session ([`stun::ice_session`]) and its DTLS-SRTP handshake, once the
    /// server's hello is seen: the keying of every candidate pair of that session.
    pub fn ice_dtls(&self) -> Option<(u64, &TlsFacts)> {
        let ice = self.stun.as_ref()?.ice_session?;
        let facts = &self.dtls.as_ref()?.facts;
        let srtp = facts
            .client_hello
            .as_ref()
            .is_some_and(|c| !c.srtp_profiles.is_empty());
        (srtp && facts.server_hello.is_some()).then_some((ice, facts))
    }

    /// A dissector whose QUIC connections open the server's Handshake packets with this key
    /// log.
    pub fn with_keylog(keylog: Option<&Arc<KeyLog>>) -> Self {
        Self {
            keylog: keylog.cloned(),
            ..Self::default()
        }
    }

    /// The key log grew: a QUIC handshake waiting for its secret may open now.
    pub fn secrets_arrived(&mut self, keylog: &Arc<KeyLog>) {
        self.keylog = Some(Arc::clone(keylog));
        if let Some(initials) = self.quic_initials.as_mut() {
            initials.secrets_arrived(keylog);
        }
        if let Some(d) = self.dtls.as_mut() {
            d.secrets_arrived(keylog);
        }
        self.derive_srtp_keys();
    }

    /// With a key log, once the DTLS handshake selected an SRTP profile: the flow's SRTP keys,
    /// or why there are none (again when the key log grew while the secret was missing).
    fn derive_srtp_keys(&mut self) {
        let (Some(keylog), Some(d)) = (self.keylog.as_deref(), self.dtls.as_deref()) else {
            return;
        };
        if self
            .srtp_keys
            .as_ref()
            .is_some_and(|k| k.state != srtp::KeysState::NoSecret)
        {
            return;
        }
        let Some(sh) = d.facts.server_hello.as_ref() else {
            return;
        };
        let [Some(client_random), Some(server_random)] = &d.randoms else {
            return;
        };
        let version = sh.selected_version.unwrap_or(sh.legacy_version);
        let dtls13 = version == 0xFEFC;
        let Some(profile) = sh.srtp_profile else {
            // DTLS 1.3 sends the selected profile encrypted: without the handshake secret it
            // is found by trial among those offered, with the exporter secret
            let offered = d.facts.client_hello.as_ref().map(|c| &c.srtp_profiles);
            if let (true, Some(offered), Some(exporter)) =
                (dtls13, offered, keylog.exporter_secret(client_random))
                && !offered.is_empty()
            {
                let keys = FlowKeys::of_dtls13_offered(
                    offered,
                    u16::try_from(sh.cipher).unwrap_or(0),
                    exporter,
                    d.client_dir(),
                );
                self.install_srtp_keys(keys);
            }
            return;
        };
        let secret = if dtls13 {
            keylog
                .exporter_secret(client_random)
                .map(srtp::SessionSecret::Exporter)
        } else {
            keylog
                .master_secret(client_random)
                .map(srtp::SessionSecret::Master)
        };
        let keys = FlowKeys::of_session(
            profile,
            version,
            u16::try_from(sh.cipher).unwrap_or(0),
            (client_random, server_random),
            secret,
            d.client_dir(),
        );
        self.install_srtp_keys(keys);
    }

    /// The flow's SRTP keys from now on, with the packets that went by before them.
    fn install_srtp_keys(&mut self, keys: FlowKeys) {
        let unopened = self
            .srtp_keys
            .as_ref()
            .map_or(self.before_keys, |k| [k.unopened, k.rtcp_unopened]);
        let mut keys = Box::new(keys);
        keys.unopened += unopened[0];
        keys.rtcp_unopened += unopened[1];
        self.srtp_keys = Some(keys);
    }

    /// SDP `a=crypto` lines announced these keys in clear for the flow's ends (client's,
    /// server's): its RTP is checked with them.
    pub fn sdes_announced(&mut self, announced: [Option<&srtp::SdesKey>; 2]) {
        if self.srtp_keys.is_none() {
            self.srtp_keys = FlowKeys::of_sdes(announced).map(Box::new);
        }
    }

    /// The SDES key of the end sending in direction `dir`, announced after the flow opened with
    /// its other end's: that end's packets from now on are checked with it.
    pub fn sdes_announced_late(&mut self, dir: usize, key: &srtp::SdesKey) {
        if let Some(k) = self.srtp_keys.as_mut() {
            k.add_sdes(dir, key);
        }
    }

    /// One RTP or RTCP packet of the flow: checked with the SRTP keys, if there are any.
    fn srtp_packet(&mut self, dir: usize, h: rtp::Header, b: &[u8]) {
        let Some(k) = self.srtp_keys.as_mut() else {
            if self.keylog.is_some() && self.dtls.is_some() {
                match h {
                    rtp::Header::Rtp { .. } => self.before_keys[0] += 1,
                    rtp::Header::Rtcp { .. } if !rtp::rtcp_in_clear(b) => self.before_keys[1] += 1,
                    rtp::Header::Rtcp { .. } => {}
                }
            }
            return;
        };
        match h {
            rtp::Header::Rtp {
                ssrc,
                seq,
                payload_offset,
                ..
            } => k.rtp(dir as u8, ssrc, seq, payload_offset, b),
            rtp::Header::Rtcp { .. } => k.rtcp(dir as u8, b),
        }
    }

    /// Whether the flow is decided: further datagrams only follow its RTP streams and counts,
    /// so they add no DNS answers or SDP media lines.
    pub fn decided(&self) -> bool {
        self.inspected >= INSPECT_LIMIT
    }

    /// Whether datagrams may still add DNS answers or SDP (the flow carries DNS or SIP),
    /// decided or not.
    pub fn follows_signalling(&self) -> bool {
        self.dns.is_some() || self.sip.is_some()
    }

    pub fn sip_so_far_mut(&mut self) -> Option<&mut SipFacts> {
        self.sip.as_deref_mut()
    }

    /// One datagram in direction `dir` (0 = client to server).
    #[allow(clippy::too_many_arguments)]
    pub fn datagram(
        &mut self,
        dir: usize,
        frame: u64,
        ts_ns: i64,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
    ) {
        if payload.is_empty() {
            return;
        }
        if self.decided() {
            // Decided: only keep following DNS (a resolver port reused for many lookups names
            // servers to the end), SIP and RTP streams (cheap) for their packet counts, inside TURN
            // ChannelData too (and counting what the relay carried).
            if let Some(d) = self.dns.as_mut()
                && (is_dns_port(src_port) || is_dns_port(dst_port))
                && let Some(p) = dns::parse(payload)
            {
                d.message(&p);
                return;
            }
            // likewise SIP: a trunk's one flow carries the signalling of every call
            if let Some(s) = self.sip.as_mut()
                && sip::looks_like_sip(payload)
            {
                self.counts.sip += 1;
                s.message(frame, payload);
                return;
            }
            let mut inner = payload;
            if self.stun.is_some()
                && let Some(carried) = stun::channel_data(payload)
            {
                self.counts.channel_data += 1;
                if !carried.is_empty() {
                    self.counts.relayed_datagrams += 1;
                }
                inner = carried;
            }
            if let Some(r) = self.rtp.as_mut()
                && let Some(h) = rtp::parse(inner)
            {
                r.packet(h, dir as u8, frame, inner);
                self.srtp_packet(dir, h, inner);
            }
            return;
        }
        self.inspected += 1;
        // DNS's first byte (a random id) lands anywhere in the RFC 7983 ranges: its port and a
        // full parse decide first.
        if (is_dns_port(src_port) || is_dns_port(dst_port))
            && let Some(p) = dns::parse(payload)
        {
            self.dns.get_or_insert_default().message(&p);
            return;
        }
        if !self.by_first_byte(dir, frame, ts_ns, payload, 0) {
            self.by_content(dir, frame, src_port, dst_port, payload);
        }
    }

    /// RFC 7983/9443 routing; true when the datagram validated as the protocol of its range.
    fn by_first_byte(&mut self, dir: usize, frame: u64, ts_ns: i64, b: &[u8], depth: u8) -> bool {
        match b[0] {
            0..=3 => match stun::parse(b) {
                Some(m) => {
                    if m.classic {
                        self.counts.classic_stun += 1;
                    }
                    self.stun.get_or_insert_default().message(&m, dir, ts_ns);
                    // TURN Send/Data indications carry a peer's datagram in DATA.
                    if let Some(inner) = m.relayed_data()
                        && depth < MAX_NESTING
                        && !inner.is_empty()
                    {
                        self.counts.relayed_datagrams += 1;
                        self.by_first_byte(dir, frame, ts_ns, inner, depth + 1);
                    }
                    true
                }
                None => false,
            },
            16..=19 => {
                let zrtp = b.len() >= 12 && &b[4..8] == b"ZRTP";
                self.counts.zrtp += u32::from(zrtp);
                zrtp
            }
            20..=63 => {
                let unified = dtls::is_unified_header(b)
                    && self.dtls.as_ref().is_some_and(|d| d.handshake_seen);
                if dtls::looks_like_dtls(b) || unified {
                    self.counts.dtls_records += 1;
                    let keylog = self.keylog.as_ref();
                    self.dtls
                        .get_or_insert_with(|| Box::new(DtlsStream::with_keylog(keylog)))
                        .datagram(dir, frame, b);
                    if self.keylog.is_some() && self.srtp_keys.is_none() {
                        self.derive_srtp_keys();
                    }
                    true
                } else {
                    false
                }
            }
            64..=79 if self.stun.is_some() && stun::is_channel_data(b) => {
                self.counts.channel_data += 1;
                let inner = stun::channel_data(b).unwrap_or_default();
                if depth < MAX_NESTING && !inner.is_empty() {
                    self.counts.relayed_datagrams += 1;
                    self.by_first_byte(dir, frame, ts_ns, inner, depth + 1);
                }
                true
            }
            64..=127 if self.quic.is_some() => {
                self.counts.quic_short += 1;
                self.quic.get_or_insert_default().short_header_packets += 1;
                true
            }
            128..=191 => match rtp::parse(b) {
                Some(h) => {
                    self.counts.rtp_like += 1;
                    self.rtp
                        .get_or_insert_default()
                        .packet(h, dir as u8, frame, b);
                    self.srtp_packet(dir, h, b);
                    true
                }
                None => false,
            },
            192..=255 => {
                if let Some(v) = quic::long_header_version(b) {
                    let q = self.quic.get_or_insert_default();
                    q.version.get_or_insert(v);
                    q.long_header_packets += 1;
                    let initials = self.quic_initials.get_or_insert_with(|| {
                        Box::new(quic::initial::Initials::with_keylog(self.keylog.clone()))
                    });
                    if !initials.done() {
                        initials.datagram(dir, frame, b);
                    }
                    true
                } else if stun::is_ms_turn(b) {
                    self.counts.ms_turn += 1;
                    true
                } else {
                    false
                }
            }
            _ => false,
        }
    }

    /// Protocols outside the RFC 7983 ranges, recognised by port and content.
    fn zoom_packet(&self, src_port: u16, dst_port: u16, b: &[u8]) -> Option<zoom::Packet> {
        if (is_zoom_port(src_port) || is_zoom_port(dst_port))
            && let Some(p) = zoom::parse_server_mode(b)
        {
            return Some(p);
        }
        zoom::parse_peer_to_peer(b)
    }

    fn by_content(&mut self, dir: usize, frame: u64, src_port: u16, dst_port: u16, b: &[u8]) {
        if sip::looks_like_sip(b) {
            self.counts.sip += 1;
            self.sip.get_or_insert_default().message(frame, b);
        } else if let Some(z) = self.zoom_packet(src_port, dst_port, b) {
            self.zoom
                .get_or_insert_default()
                .packet(&z, b, dir as u8, frame);
        } else if (is_zoom_port(src_port) || is_zoom_port(dst_port))
            && (1..=4).contains(&b[0])
            && b.len() >= 3
        {
            // SFU encapsulation types 1–4: session control around the media
            self.zoom.get_or_insert_default().control_packets += 1;
        } else if let Some(v) = quic::long_header_version(b) {
            // gQUIC's public header has no long-header bit.
            let q = self.quic.get_or_insert_default();
            q.version.get_or_insert(v);
            q.gquic = true;
            q.long_header_packets += 1;
        }
    }

    /// The DNS facts found so far, while the flow is still being dissected.
    pub fn dns_so_far(&self) -> Option<&DnsFacts> {
        self.dns.as_deref()
    }

    pub fn dns_so_far_mut(&mut self) -> Option<&mut DnsFacts> {
        self.dns.as_deref_mut()
    }

    /// The SIP/SDP facts found so far, while the flow is still being dissected.
    pub fn sip_so_far(&self) -> Option<&SipFacts> {
        self.sip.as_deref()
    }

    /// What the datagrams so far suggest, while the flow is still being dissected (the live
    /// view): the protocol and, where a handshake shows it, the protection. Only `finish`
    /// decides; this is a glimpse that can only be confirmed or refined.
    pub fn glimpse(&self) -> Option<(&'static str, Option<String>)> {
        if let Some(d) = &self.dtls
            && d.handshake_seen
        {
            let version = d
                .facts
                .version()
                .map(crate::dissect::tls::names::version_name);
            let profile = d
                .facts
                .server_hello
                .as_ref()
                .and_then(|s| s.srtp_profile)
                .map(crate::dissect::tls::names::srtp_profile_name);
            let state = match (version, profile) {
                (Some(v), Some(p)) => Some(format!("{v} + {p}")),
                (Some(v), None) => Some(v),
                _ => None,
            };
            return Some(("dtls", state));
        }
        // signalling in clear is plaintext from its first message
        if self.counts.sip >= 1 {
            return Some(("sip", Some("plaintext SIP".into())));
        }
        if self.dns.is_some() {
            return Some(("dns", Some("plaintext DNS".into())));
        }
        if self.quic.is_some() {
            return Some(("quic", None));
        }
        if self.zoom.is_some() {
            return Some(("zoom", None));
        }
        if self.counts.rtp_like >= 8 {
            return Some(("rtp", None));
        }
        if self.stun.is_some() || self.counts.classic_stun >= 2 {
            return Some(("stun", None));
        }
        None
    }

    /// End the dissection: the protocols established and their facts; the state is freed.
    pub fn finish(&mut self) -> UdpOutcome {
        let dtls = self.dtls.take().map(|mut d| {
            let facts = std::mem::take(&mut d.facts);
            DtlsPart::of(&d, facts)
        });
        let quic_tls = self
            .quic_initials
            .take()
            .map(|i| (i.client_is_responder(), i.facts));
        let parts = Parts {
            stun: self.stun.take().map(|b| *b),
            dtls,
            quic_tls,
            rtp: self.rtp.take().map(|b| *b),
            quic: self.quic.take().map(|b| *b),
            dns: self.dns.take().map(|b| *b),
            sip: self.sip.take().map(|b| *b),
            zoom: self.zoom.take().map(|b| *b),
            srtp_keys: self.srtp_keys.take().map(|k| k.outcome()),
        };
        outcome(&self.counts, parts)
    }

    /// What `finish` would establish from the datagrams so far, with the dissection going on
    /// (the live view judges open flows with it): the same rules on copies of the facts.
    pub fn outcome_so_far(&self) -> UdpOutcome {
        let parts = Parts {
            stun: self.stun.as_deref().cloned(),
            dtls: self
                .dtls
                .as_deref()
                .map(|d| DtlsPart::of(d, d.facts.clone())),
            quic_tls: self
                .quic_initials
                .as_deref()
                .map(|i| (i.client_is_responder(), i.facts.clone())),
            rtp: self.rtp.as_deref().cloned(),
            quic: self.quic.as_deref().cloned(),
            dns: self.dns.as_deref().cloned(),
            sip: self.sip.as_deref().cloned(),
            zoom: self.zoom.as_deref().cloned(),
            srtp_keys: self.srtp_keys.as_deref().map(FlowKeys::outcome),
        };
        outcome(&self.counts, parts)
    }
}

/// What DTLS on a flow showed, with its facts.
struct DtlsPart {
    facts: TlsFacts,
    /// A handshake parsed, two records, or one datagram tiled exactly by records.
    confirmed: bool,
    /// The handshake negotiated or offered DTLS-SRTP (use_srtp).
    srtp_keyed: bool,
    client_is_responder: bool,
}

impl DtlsPart {
    fn of(d: &DtlsStream, facts: TlsFacts) -> Self {
        let srtp_keyed = facts
            .server_hello
            .as_ref()
            .and_then(|s| s.srtp_profile)
            .is_some()
            || facts
                .client_hello
                .as_ref()
                .is_some_and(|c| !c.srtp_profiles.is_empty());
        Self {
            confirmed: d.handshake_seen || d.records >= 2 || d.exact_datagrams >= 1,
            srtp_keyed,
            client_is_responder: d.client_is_responder(),
            facts,
        }
    }
}

/// The facts a UDP dissection holds, taken at its end or copied while it runs.
struct Parts {
    stun: Option<StunFacts>,
    dtls: Option<DtlsPart>,
    /// The TLS handshake read from QUIC Initials, and whether the QUIC client is the responder.
    quic_tls: Option<(bool, TlsFacts)>,
    rtp: Option<Streams>,
    quic: Option<QuicFacts>,
    dns: Option<DnsFacts>,
    sip: Option<SipFacts>,
    zoom: Option<ZoomFacts>,
    srtp_keys: Option<srtp::KeysOutcome>,
}

/// The protocols the evidence establishes, and the facts kept for the verdict.
fn outcome(c: &Counts, parts: Parts) -> UdpOutcome {
    let Parts {
        stun,
        dtls,
        quic_tls,
        mut rtp,
        quic,
        dns,
        sip,
        mut zoom,
        srtp_keys,
    } = parts;
    let mut p = ProtocolSet::default();
    if let Some(s) = &stun {
        // A message with the cookie validates alone; classic STUN needs two.
        if s.messages > s.classic_messages || c.classic_stun >= 2 {
            p.insert(Protocol::Stun);
        }
        if s.methods.iter().any(|&m| (0x003..=0x009).contains(&m)) || c.channel_data >= 2 {
            p.insert(Protocol::Turn);
        }
    }
    if c.ms_turn >= 2 {
        p.insert(Protocol::Turn);
    }
    let client_is_responder = dtls.as_ref().is_some_and(|d| d.client_is_responder)
        || quic_tls.as_ref().is_some_and(|(responder, _)| *responder);
    let quic_tls = quic_tls
        .map(|(_, facts)| facts)
        .filter(|f| f.client_hello.is_some() || f.server_hello.is_some());
    let dtls_confirmed = dtls.as_ref().is_some_and(|d| d.confirmed);
    let srtp_keyed = dtls.as_ref().is_some_and(|d| d.srtp_keyed);
    if dtls_confirmed {
        p.insert(Protocol::Dtls);
    }
    if let Some(r) = rtp.as_mut() {
        r.release_histograms();
    }
    if let Some(r) = &rtp {
        let rtp_ok = r.rtp_confirmed();
        let rtcp_ok = r.rtcp_packets >= 2 || (r.rtcp_packets >= 1 && rtp_ok);
        // DTLS-SRTP keying on the same flow is the evidence that RTP here is SRTP.
        let (mut rtp_label, mut rtcp_label) = if dtls_confirmed && srtp_keyed {
            (Protocol::Srtp, Protocol::Srtcp)
        } else {
            (Protocol::Rtp, Protocol::Rtcp)
        };
        // So is an authentication tag after payloads of a known length.
        if r.srtp_by_length() {
            rtp_label = Protocol::Srtp;
        }
        // The SRTCP trailer is evidence of its own: of SRTCP, and of SRTP for the RTP of the
        // same session on the same flow (RFC 5761 multiplexing; SRTCP exists only beside SRTP,
        // RFC 3711 §3.4).
        if r.srtcp().is_some() {
            rtcp_label = Protocol::Srtcp;
            rtp_label = Protocol::Srtp;
        }
        if rtp_ok {
            p.insert(rtp_label);
        }
        if rtcp_ok {
            p.insert(rtcp_label);
        }
    }
    if quic.as_ref().is_some_and(|q| q.long_header_packets >= 1) {
        p.insert(Protocol::Quic);
    }
    if dns.is_some() {
        p.insert(Protocol::Dns);
    }
    if c.sip >= 1 {
        p.insert(Protocol::Sip);
    }
    if let Some(z) = zoom.as_mut() {
        z.streams.release_histograms();
    }
    let zoom_confirmed = zoom.as_ref().is_some_and(|z| {
        z.server_mode_packets >= 1
            || z.control_packets >= 2
            || (z.peer_to_peer_packets >= 3 && z.streams.rtp_confirmed())
    });
    if zoom_confirmed {
        p.insert(Protocol::Zoom);
    }
    UdpOutcome {
        protocols: p,
        stun: stun.map(Box::new),
        dtls: dtls.filter(|_| dtls_confirmed).map(|d| Box::new(d.facts)),
        rtp: rtp
            .filter(|r| r.rtp_confirmed() || r.rtcp_packets > 0)
            .map(Box::new),
        quic,
        quic_tls: quic_tls.map(Box::new),
        dns,
        sip,
        zoom: zoom.filter(|_| zoom_confirmed).map(Box::new),
        client_is_responder,
        channel_data: c.channel_data,
        relayed_datagrams: c.relayed_datagrams,
        // keys from a DTLS handshake only where DTLS is established
        srtp_keys: srtp_keys
            .filter(|k| dtls_confirmed || !matches!(k.source, srtp::KeySource::DtlsKeyLog { .. }))
            .map(Box::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_and_zoom_shapes() {
        assert!(sip::looks_like_sip(
            b"INVITE sip:bob@example.com SIP/2.0\r\n"
        ));
        assert!(sip::looks_like_sip(b"SIP/2.0 200 OK\r\n"));
        assert!(!sip::looks_like_sip(b"INVITE everyone to the party"));
    }

    #[test]
    fn a_glimpse_shows_clear_signalling_as_plaintext() {
        let mut d = UdpDissector::default();
        assert_eq!(d.glimpse(), None);
        let invite = b"INVITE sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\r\n";
        d.datagram(0, 1, 0, 5062, 5060, invite);
        assert_eq!(d.glimpse(), Some(("sip", Some("plaintext SIP".into()))));
    }

    #[test]
    fn one_rtp_packet_is_not_rtp() {
        let mut d = UdpDissector::default();
        let mut pkt = vec![0x80, 0x00, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
        pkt.extend_from_slice(&[0u8; 160]);
        d.datagram(0, 1, 0, 40000, 40002, &pkt);
        assert!(!d.finish().protocols.contains(Protocol::Rtp));
    }
}
