//! Flows: the bidirectional flow table keyed by the 5-tuple, with per-direction counters.
//!
//! Owns: deciding which side is client and which is server, counting packets and payload bytes
//! per direction, first/last timestamps and the first frame, handing TCP segments to the flow's
//! dissector until it has decided, expiring idle and closed flows, and the caps that bound memory
//! (live flows, recorded flows). Must not: parse application protocols (that is `dissect`).

pub mod tcp;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::{Packet, Transport, tcp_flags};
use crate::dissect::dns::DnsFacts;
use crate::dissect::sip::SipFacts;
use crate::dissect::srtp::SdesKey;
use crate::dissect::tls::TlsFacts;
use crate::dissect::tls::keylog::KeyLog;
use crate::dissect::udp::{UdpDissector, UdpOutcome};
use crate::dissect::{HttpRequest, Protocol, ProtocolSet, TcpDissector, TcpOutcome};

/// Limits that bound the table's memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Flows held with live state at once; beyond it the least recently active are closed.
    pub max_live_flows: usize,
    /// Flows recorded per capture; packets of further flows are counted, not listed.
    pub max_flows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_live_flows: 200_000,
            max_flows: 1_000_000,
        }
    }
}

/// Idle time after which a flow is closed, by state.
const IDLE_CLOSED_TCP_NS: i64 = 10_000_000_000;
const IDLE_TCP_NS: i64 = 3_600_000_000_000;
const IDLE_UDP_NS: i64 = 300_000_000_000;
/// Capture time between sweeps of idle flows.
const SWEEP_INTERVAL_NS: i64 = 10_000_000_000;
/// Media and RTCP ends whose SDES keys are kept: 4,096 media lines with their RTCP ports (a
/// trunk announcing more: later ones are not opened).
const MAX_SDES_KEYS: usize = 8192;
/// ICE sessions whose DTLS-SRTP handshake is kept for their other candidate pairs (the first
/// of each; sessions beyond: their other pairs are judged on their own).
const MAX_ICE_SESSIONS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// Direction-independent flow key: the lower endpoint first. Each address is held as the bits
/// of an IPv6 address (IPv4 as IPv4-mapped), so the key is compared and hashed as three plain
/// integers per packet rather than field by field through `IpAddr`'s enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    a: u128,
    b: u128,
    /// The lower endpoint's port, the higher's, and the transport.
    ports_and_l4: u64,
}

impl FlowKey {
    fn new(l4: L4, x: Endpoint, y: Endpoint) -> Self {
        let (x_bits, y_bits) = (address_bits(x.ip), address_bits(y.ip));
        let ((a, a_port), (b, b_port)) = if (x_bits, x.port) <= (y_bits, y.port) {
            ((x_bits, x.port), (y_bits, y.port))
        } else {
            ((y_bits, y.port), (x_bits, x.port))
        };
        let l4 = match l4 {
            L4::Tcp => 6u64,
            L4::Udp => 17,
        };
        Self {
            a,
            b,
            ports_and_l4: u64::from(a_port) << 32 | u64::from(b_port) << 16 | l4,
        }
    }
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u128(self.a);
        h.write_u128(self.b);
        h.write_u64(self.ports_and_l4);
    }
}

/// An address as IPv6 bits, IPv4 as IPv4-mapped (an IPv4-mapped IPv6 address is the same
/// address as its IPv4 form; the table makes it IPv4 with `IpAddr::to_canonical` anyway).
fn address_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// How the client/server roles were decided, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleBasis {
    /// The client sent the TCP SYN (or the server the SYN-ACK).
    TcpHandshake,
    /// The client sent the TLS ClientHello.
    Handshake,
    /// The server port is a well-known or registered service port.
    ServicePort,
    /// The client sent the first packet seen.
    FirstPacket,
}

/// One flow. Index 0 of the counters is client→server, 1 is server→client.
#[derive(Debug)]
pub struct Flow {
    pub id: u32,
    pub l4: L4,
    pub client: Endpoint,
    pub server: Endpoint,
    pub role_basis: RoleBasis,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub first_frame: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub protocols: ProtocolSet,
    pub tls: Option<Box<TlsFacts>>,
    /// UDP: what the demultiplexer and the media dissectors found.
    pub udp: Option<Box<UdpOutcome>>,
    /// TCP: DNS or SIP carried in clear on the connection.
    pub tcp_dns: Option<Box<DnsFacts>>,
    pub tcp_sip: Option<Box<SipFacts>>,
    /// TCP: the first HTTP request in clear.
    pub http: Option<Box<HttpRequest>>,
    /// TCP: SYN seen from the client; FIN or RST seen.
    pub syn_seen: bool,
    syn_ts: Option<i64>,
    /// TCP: SYN to SYN-ACK time, nanoseconds (the round trip from the capture point).
    pub tcp_rtt_ns: Option<i64>,
    pub fin_seen: [bool; 2],
    pub rst_seen: bool,
    /// TCP: the connection began before the capture.
    pub midstream: bool,
    /// TCP: bytes missing from the reassembled streams (capture loss), per direction.
    pub gap_bytes: [u64; 2],
    /// TCP: the reassembly cap was reached before the dissector decided.
    pub reassembly_capped: bool,
    dissector: Option<Dissector>,
    live: bool,
    /// DNS answers and SDP media lines already published (release mode, see `TableEvent`).
    published_answers: u32,
    published_media: u32,
    /// SDP media lines of this flow already looked at for SDES keys.
    sdes_registered: u32,
    /// UDP without a DTLS handshake of its own: the DTLS-SRTP handshake of another candidate
    /// pair of the same ICE session, which keys this flow's SRTP too (set when it closes).
    pub ice_keying: Option<Arc<IceKeying>>,
    /// The flow's DTLS handshake is registered as its ICE session's keying.
    ice_registered: bool,
}

/// The DTLS-SRTP handshake of an ICE session (RFC 8445: the agents' username fragments name
/// it on every candidate pair they check): the one DTLS association whose keys protect the
/// SRTP on whichever pair ICE selects (RFC 5764 §5.1.1: one association per ICE component).
#[derive(Debug)]
pub struct IceKeying {
    /// The flow that carried the handshake.
    pub client: Endpoint,
    pub server: Endpoint,
    pub dtls: TlsFacts,
}

/// The live dissection state of a flow, dropped once the flow is decided or closed.
#[derive(Debug)]
enum Dissector {
    Tcp(Box<TcpDissector>),
    Udp(Box<UdpDissector>),
}

impl Flow {
    fn new(
        id: u32,
        l4: L4,
        (client, server, basis): (Endpoint, Endpoint, RoleBasis),
        keylog: Option<&Arc<KeyLog>>,
    ) -> Self {
        Self {
            dissector: Some(match l4 {
                L4::Tcp => Dissector::Tcp(Box::new(TcpDissector::new(
                    client.port,
                    server.port,
                    keylog,
                ))),
                L4::Udp => Dissector::Udp(Box::new(UdpDissector::with_keylog(keylog))),
            }),
            live: true,
            ..Self::vacant(id, l4, client, server, basis)
        }
    }

    /// A flow without state, not live: what is left in a table slot when its flow has been
    /// handed out.
    fn vacant(id: u32, l4: L4, client: Endpoint, server: Endpoint, basis: RoleBasis) -> Self {
        Self {
            id,
            l4,
            client,
            server,
            role_basis: basis,
            packets: [0; 2],
            bytes: [0; 2],
            first_frame: 0,
            first_ts: None,
            last_ts: None,
            protocols: ProtocolSet::default(),
            tls: None,
            udp: None,
            tcp_dns: None,
            tcp_sip: None,
            http: None,
            syn_seen: false,
            syn_ts: None,
            tcp_rtt_ns: None,
            fin_seen: [false; 2],
            rst_seen: false,
            midstream: false,
            gap_bytes: [0; 2],
            reassembly_capped: false,
            dissector: None,
            live: false,
            published_answers: 0,
            published_media: 0,
            sdes_registered: 0,
            ice_keying: None,
            ice_registered: false,
        }
    }

    /// DNS facts so far: the finished dissection's, or the dissector's while it runs.
    fn dns_current_mut(&mut self) -> Option<&mut DnsFacts> {
        if self.tcp_dns.is_some() {
            return self.tcp_dns.as_deref_mut();
        }
        if let Some(d) = self.udp.as_mut().and_then(|u| u.dns.as_mut()) {
            return Some(d);
        }
        match &mut self.dissector {
            Some(Dissector::Tcp(d)) => d.dns_so_far_mut(),
            Some(Dissector::Udp(d)) => d.dns_so_far_mut(),
            None => None,
        }
    }

    /// SIP/SDP facts so far: the finished dissection's, or the dissector's while it runs.
    fn sip_current_mut(&mut self) -> Option<&mut SipFacts> {
        if self.tcp_sip.is_some() {
            return self.tcp_sip.as_deref_mut();
        }
        if let Some(s) = self.udp.as_mut().and_then(|u| u.sip.as_mut()) {
            return Some(s);
        }
        match &mut self.dissector {
            Some(Dissector::Tcp(d)) => d.sip_so_far_mut(),
            Some(Dissector::Udp(d)) => d.sip_so_far_mut(),
            None => None,
        }
    }

    /// The TLS facts: those of the finished dissection, or while the flow is still being
    /// dissected, what its handshake has shown so far (the live view's rows show these).
    pub fn tls_so_far(&self) -> Option<&TlsFacts> {
        if let Some(t) = self.tls.as_deref() {
            return Some(t);
        }
        match &self.dissector {
            Some(Dissector::Tcp(d)) => d.tls_so_far(),
            _ => None,
        }
    }

    /// A UDP flow still being dissected: what its datagrams suggest so far (see
    /// `UdpDissector::glimpse`); `None` once dissection ended (then `protocols` says it).
    pub fn udp_glimpse(&self) -> Option<(&'static str, Option<String>)> {
        match &self.dissector {
            Some(Dissector::Udp(d)) => d.glimpse(),
            _ => None,
        }
    }

    /// DNS facts of the flow, over UDP or TCP.
    pub fn dns(&self) -> Option<&DnsFacts> {
        self.tcp_dns
            .as_deref()
            .or_else(|| self.udp.as_ref().and_then(|u| u.dns.as_ref()))
    }

    /// SIP/SDP facts of the flow, over UDP or TCP.
    pub fn sip(&self) -> Option<&SipFacts> {
        self.tcp_sip
            .as_deref()
            .or_else(|| self.udp.as_ref().and_then(|u| u.sip.as_ref()))
    }

    /// 0 when `src` is the client, 1 when it is the server.
    fn direction_of(&self, src: Endpoint) -> usize {
        usize::from(src != self.client)
    }

    fn swap_roles(&mut self, basis: RoleBasis) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.packets.swap(0, 1);
        self.bytes.swap(0, 1);
        self.fin_seen.swap(0, 1);
        self.gap_bytes.swap(0, 1);
        self.role_basis = basis;
    }

    /// A handshake agrees with the guessed roles: it becomes their basis.
    fn confirm_roles(&mut self) {
        if matches!(
            self.role_basis,
            RoleBasis::ServicePort | RoleBasis::FirstPacket
        ) {
            self.role_basis = RoleBasis::Handshake;
        }
    }

    /// Stop dissecting: move the dissector's facts onto the flow and free its state.
    fn finish_dissection(&mut self) {
        match self.dissector.take() {
            Some(Dissector::Tcp(mut d)) => self.take_tcp_outcome(d.finish()),
            Some(Dissector::Udp(mut d)) => self.take_udp_outcome(d.finish()),
            None => {}
        }
    }

    /// A flow still being dissected as it would be if it closed now: a copy carrying the facts
    /// of what its dissector has read so far (the live view judges open flows with it).
    /// `None` when the flow's dissection has ended: the flow itself is that.
    pub fn with_facts_so_far(&self) -> Option<Flow> {
        let dissector = self.dissector.as_ref()?;
        let Flow {
            id,
            l4,
            client,
            server,
            role_basis,
            packets,
            bytes,
            first_frame,
            first_ts,
            last_ts,
            protocols,
            tls,
            udp,
            tcp_dns,
            tcp_sip,
            http,
            syn_seen,
            syn_ts,
            tcp_rtt_ns,
            fin_seen,
            rst_seen,
            midstream,
            gap_bytes,
            reassembly_capped,
            dissector: _,
            live,
            published_answers,
            published_media,
            sdes_registered,
            ice_keying,
            ice_registered,
        } = self;
        let mut copy = Flow {
            id: *id,
            l4: *l4,
            client: *client,
            server: *server,
            role_basis: *role_basis,
            packets: *packets,
            bytes: *bytes,
            first_frame: *first_frame,
            first_ts: *first_ts,
            last_ts: *last_ts,
            protocols: *protocols,
            tls: tls.clone(),
            udp: udp.clone(),
            tcp_dns: tcp_dns.clone(),
            tcp_sip: tcp_sip.clone(),
            http: http.clone(),
            syn_seen: *syn_seen,
            syn_ts: *syn_ts,
            tcp_rtt_ns: *tcp_rtt_ns,
            fin_seen: *fin_seen,
            rst_seen: *rst_seen,
            midstream: *midstream,
            gap_bytes: *gap_bytes,
            reassembly_capped: *reassembly_capped,
            dissector: None,
            live: *live,
            published_answers: *published_answers,
            published_media: *published_media,
            sdes_registered: *sdes_registered,
            ice_keying: ice_keying.clone(),
            ice_registered: *ice_registered,
        };
        match dissector {
            Dissector::Tcp(d) => copy.take_tcp_outcome(d.outcome_so_far()),
            Dissector::Udp(d) => copy.take_udp_outcome(d.outcome_so_far()),
        }
        Some(copy)
    }

    /// SDES keys announced in clear for this flow's ends (client's, server's).
    fn sdes_announced(&mut self, announced: [Option<&SdesKey>; 2]) {
        if let Some(Dissector::Udp(d)) = self.dissector.as_mut() {
            d.sdes_announced(announced);
        }
    }

    /// The SDES key of the end that sends in direction `dir`, announced after the flow opened
    /// with its other end's.
    fn sdes_announced_late(&mut self, dir: usize, key: &SdesKey) {
        if let Some(Dissector::Udp(d)) = self.dissector.as_mut() {
            d.sdes_announced_late(dir, key);
        }
    }

    /// Move a UDP dissection's facts onto the flow; the handshake may correct the roles.
    fn take_udp_outcome(&mut self, mut outcome: UdpOutcome) {
        self.protocols = outcome.protocols;
        if outcome.client_is_responder && self.role_basis != RoleBasis::TcpHandshake {
            self.swap_roles(RoleBasis::Handshake);
            for t in [outcome.dtls.as_mut(), outcome.quic_tls.as_mut()]
                .into_iter()
                .flatten()
            {
                t.swap_directions();
            }
            if let Some(r) = outcome.rtp.as_mut() {
                for s in &mut r.streams {
                    s.direction ^= 1;
                }
            }
            if let Some(k) = outcome.srtp_keys.as_mut() {
                for s in &mut k.streams {
                    s.dir ^= 1;
                }
            }
        } else if outcome.dtls.is_some() || outcome.quic_tls.is_some() {
            self.confirm_roles();
        }
        self.udp = Some(Box::new(outcome));
    }

    /// Move a TCP dissection's facts onto the flow; the handshake may correct the roles.
    fn take_tcp_outcome(&mut self, outcome: TcpOutcome) {
        self.midstream = outcome.midstream;
        self.gap_bytes = outcome.gap_bytes;
        self.reassembly_capped = outcome.capped;
        if outcome.http {
            self.protocols.insert(Protocol::Http);
        }
        self.http = outcome.http_request.map(Box::new);
        if let Some(u) = outcome.datagrams {
            // STUN/TURN over TCP or ICE-TCP: the TCP handshake keeps deciding the roles
            for p in Protocol::ALL {
                if u.protocols.contains(p) {
                    self.protocols.insert(p);
                }
            }
            self.udp = Some(Box::new(u));
        }
        if let Some(d) = outcome.dns {
            self.protocols.insert(Protocol::Dns);
            self.tcp_dns = Some(Box::new(d));
        }
        if let Some(sip) = outcome.sip {
            self.protocols.insert(Protocol::Sip);
            self.tcp_sip = Some(Box::new(sip));
        }
        if let Some(mut tls) = outcome.tls {
            self.protocols.insert(Protocol::Tls);
            if outcome.client_is_responder && self.role_basis != RoleBasis::TcpHandshake {
                self.swap_roles(RoleBasis::Handshake);
                tls.swap_directions();
            } else if tls.client_hello.is_some() || tls.server_hello.is_some() {
                self.confirm_roles();
            }
            self.tls = Some(Box::new(tls));
        }
    }
}

/// SDES keys by the media end that announced them (it sends with them).
type SdesKeys = HashMap<Endpoint, AnnouncedKey, foldhash::fast::RandomState>;

/// An SDES key, and whether the end it is kept by is the RTCP port of its media line (RTCP
/// without rtcp-mux: `a=rtcp`, RFC 3605, else the media port plus one, RFC 3550 §11).
#[derive(Debug)]
struct AnnouncedKey {
    key: Arc<SdesKey>,
    rtcp_port: bool,
}

/// Keep the SDES key of an SDP media line by the media end it announced and by its RTCP port
/// (the first key of an end is kept, a media port's over an RTCP port's; at most
/// [`MAX_SDES_KEYS`] ends). The ends given a key are added to `keyed`.
fn keep_sdes_key(keys: &mut SdesKeys, m: &crate::dissect::sip::Media, keyed: &mut Vec<Endpoint>) {
    let (Some(key), Some(ip)) = (&m.sdes_key, m.address) else {
        return;
    };
    let rtcp = m
        .rtcp_port
        .map(|port| (m.rtcp_address.unwrap_or(ip), port, true));
    for (ip, port, rtcp_port) in std::iter::once((ip, m.port, false)).chain(rtcp) {
        if ip.is_unspecified() || port == 0 {
            continue;
        }
        let end = Endpoint {
            ip: ip.to_canonical(),
            port,
        };
        let full = keys.len() >= MAX_SDES_KEYS;
        match keys.entry(end) {
            Entry::Occupied(mut kept) if kept.get().rtcp_port && !rtcp_port => {
                kept.insert(AnnouncedKey {
                    key: Arc::clone(key),
                    rtcp_port,
                });
                keyed.push(end);
            }
            Entry::Vacant(vacant) if !full => {
                vacant.insert(AnnouncedKey {
                    key: Arc::clone(key),
                    rtcp_port,
                });
                keyed.push(end);
            }
            _ => {}
        }
    }
}

/// Table-wide counters for the verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableStats {
    /// Flows closed early because `max_live_flows` was reached.
    pub evicted_live: u64,
    /// Packets of flows not recorded because `max_flows` was reached.
    pub untracked_packets: u64,
    pub untracked_flows_hint: u64,
    /// IP packets of other protocols (ICMP, ESP, …).
    pub other_ip_packets: u64,
}

/// What a table in release mode hands out, in the order it happened: the DNS answers and the
/// SDP media lines as they are parsed (each with its flow and its place in that flow's list,
/// so a reader can order them as the flows are numbered), and each flow when it closes.
#[derive(Debug)]
pub enum TableEvent {
    DnsAnswer {
        flow: u32,
        seq: u32,
        name: String,
        ip: IpAddr,
    },
    Announced {
        flow: u32,
        seq: u32,
        media: crate::dissect::sip::Media,
    },
    Closed(Box<Flow>),
}

/// A closed UDP flow without a DTLS handshake of its own, whose ICE connectivity checks name a
/// session whose DTLS-SRTP handshake another flow carried, takes that handshake as its keying.
fn link_ice_keying(
    f: &mut Flow,
    sessions: &HashMap<u64, Arc<IceKeying>, foldhash::fast::RandomState>,
) {
    if sessions.is_empty() || f.ice_keying.is_some() {
        return;
    }
    let Some(u) = f.udp.as_deref() else { return };
    if u.dtls.is_some() {
        return;
    }
    if let Some(k) = u
        .stun
        .as_ref()
        .and_then(|s| s.ice_session)
        .and_then(|i| sessions.get(&i))
    {
        f.ice_keying = Some(Arc::clone(k));
    }
}

/// A closed flow whose DTLS handshake is its ICE session's registered keying: the registration
/// takes the finished handshake (a DTLS 1.3 profile read from EncryptedExtensions once a key
/// log's secret came; the roles as the handshake settled them).
fn settle_ice_keying(
    f: &Flow,
    sessions: &mut HashMap<u64, Arc<IceKeying>, foldhash::fast::RandomState>,
) {
    let Some(u) = f.udp.as_deref() else { return };
    let (Some(dtls), Some(session)) = (
        u.dtls.as_deref(),
        u.stun.as_ref().and_then(|s| s.ice_session),
    ) else {
        return;
    };
    if let Some(k) = sessions.get_mut(&session)
        && [k.client, k.server].contains(&f.client)
        && [k.client, k.server].contains(&f.server)
    {
        *k = Arc::new(IceKeying::new(f.client, f.server, dtls));
    }
}

impl IceKeying {
    /// The keying of a flow's DTLS handshake: its hellos, what judging the media needs (the
    /// certificates and alerts are left with the flow).
    fn new(client: Endpoint, server: Endpoint, dtls: &TlsFacts) -> Self {
        Self {
            client,
            server,
            dtls: TlsFacts {
                client_hello: dtls.client_hello.clone(),
                server_hello: dtls.server_hello.clone(),
                ..TlsFacts::default()
            },
        }
    }
}

pub struct FlowTable {
    /// Live flows: their slot in `flows`.
    live: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    /// Every flow in id order; in release mode, the slots of live flows (reused once vacant).
    flows: Vec<Flow>,
    /// Release mode: closed flows are handed out (`events`) and their slots reused.
    release: bool,
    vacant: Vec<u32>,
    events: Vec<TableEvent>,
    /// Flows recorded so far (the next flow's id).
    recorded: u32,
    limits: Limits,
    /// Secrets that open TLS 1.3 server handshakes (`--keylog`).
    keylog: Option<Arc<KeyLog>>,
    /// SRTP master keys SDP `a=crypto` lines carried in clear, by the media end that announced
    /// them (it sends with them), and by their RTCP ports: UDP flows opened later from or to
    /// such an end check their RTP and SRTCP with them. At most [`MAX_SDES_KEYS`]; the first
    /// announcement of an end is kept.
    sdes_keys: SdesKeys,
    /// UDP flows that opened with the SDES key of one end only, by their other end (slot, flow
    /// id): an answer's SDP often follows the offerer's first packets (baresip sends its RTCP
    /// keep-alive between INVITE and 200 OK), and its key opens that end's later packets. At
    /// most [`MAX_SDES_KEYS`]; a flow stops waiting when it closes.
    sdes_waiting: HashMap<Endpoint, (u32, u32), foldhash::fast::RandomState>,
    /// The DTLS-SRTP handshake of each ICE session seen, by session ([`IceKeying`]): a flow of
    /// the session without a handshake of its own takes it when it closes.
    ice_sessions: HashMap<u64, Arc<IceKeying>, foldhash::fast::RandomState>,
    next_sweep_ts: Option<i64>,
    last_ts: Option<i64>,
    pub stats: TableStats,
}

impl FlowTable {
    pub fn new(limits: Limits) -> Self {
        Self {
            live: HashMap::default(),
            flows: Vec::new(),
            release: false,
            vacant: Vec::new(),
            events: Vec::new(),
            recorded: 0,
            limits,
            keylog: None,
            sdes_keys: HashMap::default(),
            sdes_waiting: HashMap::default(),
            ice_sessions: HashMap::default(),
            next_sweep_ts: None,
            last_ts: None,
            stats: TableStats::default(),
        }
    }

    /// A table that hands each flow out when it closes, with the DNS answers and SDP media
    /// lines as they are parsed (`drain_events`), and keeps only live flows: its memory
    /// follows the flows open at once, not the flows seen.
    pub fn releasing(limits: Limits) -> Self {
        Self {
            release: true,
            ..Self::new(limits)
        }
    }

    /// TCP flows opened from now on open their TLS 1.3 server handshakes with this key log.
    pub fn with_keylog(mut self, keylog: Option<Arc<KeyLog>>) -> Self {
        self.set_keylog(keylog);
        self
    }

    /// As [`Self::with_keylog`], mid-capture (a Decryption Secrets Block was read, or a live
    /// capture's browser appended to its key log): the flows being dissected take it too, and
    /// a TLS 1.3 or QUIC handshake that waits for its secret is opened if it is there now.
    pub fn set_keylog(&mut self, keylog: Option<Arc<KeyLog>>) {
        if let Some(log) = &keylog {
            for flow in self.flows.iter_mut().filter(|f| f.live) {
                match flow.dissector.as_mut() {
                    Some(Dissector::Tcp(d)) => d.secrets_arrived(log),
                    Some(Dissector::Udp(d)) => d.secrets_arrived(log),
                    None => {}
                }
            }
        }
        self.keylog = keylog;
    }

    /// Whether events wait to be drained (most packets make none).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The events since the last call (release mode; empty otherwise).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, TableEvent> {
        self.events.drain(..)
    }

    /// Publish the DNS answers and SDP media lines of the flow in `slot` not published yet.
    fn publish(&mut self, slot: usize) {
        let f = &mut self.flows[slot];
        let id = f.id;
        let (mut answers, mut media) = (f.published_answers, f.published_media);
        let mut keyed = Vec::new();
        if let Some(d) = f.dns_current_mut() {
            for (name, ip) in d.answers.iter().skip(answers as usize) {
                self.events.push(TableEvent::DnsAnswer {
                    flow: id,
                    seq: answers,
                    name: name.clone(),
                    ip: *ip,
                });
                answers += 1;
            }
            // beyond the listed ones: handed on, never kept
            for (name, ip) in d.take_unlisted() {
                self.events.push(TableEvent::DnsAnswer {
                    flow: id,
                    seq: answers,
                    name,
                    ip,
                });
                answers = answers.saturating_add(1);
            }
        }
        if let Some(sip) = f.sip_current_mut() {
            for m in sip.media.iter().skip(media as usize) {
                keep_sdes_key(&mut self.sdes_keys, m, &mut keyed);
                self.events.push(TableEvent::Announced {
                    flow: id,
                    seq: media,
                    media: m.clone(),
                });
                media += 1;
            }
            // beyond the listed ones: announced, never kept
            for m in sip.take_unlisted() {
                keep_sdes_key(&mut self.sdes_keys, &m, &mut keyed);
                self.events.push(TableEvent::Announced {
                    flow: id,
                    seq: media,
                    media: m,
                });
                media = media.saturating_add(1);
            }
        }
        f.published_answers = answers;
        f.published_media = media;
        if !keyed.is_empty() {
            self.key_waiting_flows(&keyed);
        }
    }

    /// Hand keys announced for these ends to the live flows waiting for them.
    fn key_waiting_flows(&mut self, keyed: &[Endpoint]) {
        for end in keyed {
            let (Some((slot, id)), Some(kept)) =
                (self.sdes_waiting.remove(end), self.sdes_keys.get(end))
            else {
                continue;
            };
            let f = &mut self.flows[slot as usize];
            if f.id == id && f.live {
                let dir = f.direction_of(*end);
                f.sdes_announced_late(dir, &kept.key);
            }
        }
    }

    /// A UDP flow opened with the SDES key of one end only: it waits for its other end's
    /// (until it closes; none waits once [`MAX_SDES_KEYS`] do).
    fn wait_for_sdes_key(&mut self, end: Endpoint, slot: u32, id: u32) {
        if self.sdes_waiting.len() < MAX_SDES_KEYS {
            self.sdes_waiting.insert(end, (slot, id));
        }
    }

    /// Account one decoded packet.
    pub fn packet(&mut self, frame: u64, ts: Option<i64>, pkt: &Packet<'_>) {
        let ts = ts.or(self.last_ts);
        if let Some(t) = ts {
            self.last_ts = Some(t);
            match self.next_sweep_ts {
                // saturating: a timestamp near the end of i64 (a damaged or crafted capture)
                // must not wrap to a sweep on every packet
                None => self.next_sweep_ts = Some(t.saturating_add(SWEEP_INTERVAL_NS)),
                Some(next) if t >= next => {
                    self.sweep(t);
                    self.next_sweep_ts = Some(t.saturating_add(SWEEP_INTERVAL_NS));
                }
                _ => {}
            }
        }
        let (l4, sp, dp, payload, flags, seq) = match pkt.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                flags,
                payload,
            } => (L4::Tcp, src_port, dst_port, payload, flags, seq),
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => (L4::Udp, src_port, dst_port, payload, 0, 0),
            Transport::Other { .. } => {
                self.stats.other_ip_packets += 1;
                return;
            }
        };
        let src = Endpoint {
            ip: pkt.src.to_canonical(),
            port: sp,
        };
        let dst = Endpoint {
            ip: pkt.dst.to_canonical(),
            port: dp,
        };
        let key = FlowKey::new(l4, src, dst);
        let idx = match self.live.get(&key) {
            Some(&i) => i as usize,
            None => {
                if self.recorded as usize >= self.limits.max_flows {
                    self.stats.untracked_packets += 1;
                    return;
                }
                if self.live.len() >= self.limits.max_live_flows {
                    self.evict_oldest();
                }
                let (client, server, basis) = decide_roles(l4, src, dst, flags);
                let id = self.recorded;
                self.recorded += 1;
                let mut flow = Flow::new(id, l4, (client, server, basis), self.keylog.as_ref());
                let mut waiting = None;
                if l4 == L4::Udp && !self.sdes_keys.is_empty() {
                    let announced =
                        [client, server].map(|e| self.sdes_keys.get(&e).map(|k| &*k.key));
                    waiting = match announced {
                        [Some(_), None] => Some(server),
                        [None, Some(_)] => Some(client),
                        _ => None,
                    };
                    if announced.iter().any(Option::is_some) {
                        flow.sdes_announced(announced);
                    }
                }
                flow.first_frame = frame;
                flow.first_ts = ts;
                let slot = match self.vacant.pop() {
                    Some(slot) => {
                        self.flows[slot as usize] = flow;
                        slot
                    }
                    None => {
                        self.flows.push(flow);
                        (self.flows.len() - 1) as u32
                    }
                };
                self.live.insert(key, slot);
                if let Some(end) = waiting {
                    self.wait_for_sdes_key(end, slot, id);
                }
                slot as usize
            }
        };
        let flow = &mut self.flows[idx];
        let mut may_publish = true;
        let dir = flow.direction_of(src);
        flow.packets[dir] += 1;
        flow.bytes[dir] += payload.len() as u64;
        if ts.is_some() {
            flow.last_ts = ts;
        }
        if l4 == L4::Tcp {
            if flags & tcp_flags::SYN != 0 {
                flow.syn_seen = true;
                // Handshake RTT seen from the capture point: SYN out, SYN-ACK back.
                match (dir, flags & tcp_flags::ACK != 0, ts) {
                    (0, false, Some(t)) => flow.syn_ts = Some(t),
                    (1, true, Some(t)) if flow.tcp_rtt_ns.is_none() => {
                        flow.tcp_rtt_ns = flow
                            .syn_ts
                            .and_then(|s| t.checked_sub(s))
                            .filter(|r| *r >= 0);
                    }
                    _ => {}
                }
            }
            if flags & tcp_flags::FIN != 0 {
                flow.fin_seen[dir] = true;
            }
            if flags & tcp_flags::RST != 0 {
                flow.rst_seen = true;
            }
            if let Some(Dissector::Tcp(d)) = flow.dissector.as_mut() {
                d.segment(dir, frame, ts.unwrap_or(0), seq, flags, payload);
                if d.is_done() {
                    flow.finish_dissection();
                }
            }
        } else if let Some(Dissector::Udp(d)) = flow.dissector.as_mut() {
            // a decided flow's datagrams add DNS answers or SDP only on a DNS or SIP flow
            may_publish = !d.decided() || d.follows_signalling();
            d.datagram(dir, frame, ts.unwrap_or(0), sp, dp, payload);
            if !flow.ice_registered
                && let Some((session, dtls)) = d.ice_dtls()
            {
                flow.ice_registered = true;
                if self.ice_sessions.len() < MAX_ICE_SESSIONS {
                    self.ice_sessions.entry(session).or_insert_with(|| {
                        Arc::new(IceKeying::new(flow.client, flow.server, dtls))
                    });
                }
            }
        }
        if may_publish {
            if self.release {
                self.publish(idx); // keeps the SDES keys of what it publishes
            } else {
                self.register_sdes(idx);
            }
        }
    }

    /// Keep the SDES keys of the flow's SDP media lines not looked at yet (a table that does
    /// not release its flows: one that does keeps them as it publishes the lines).
    fn register_sdes(&mut self, idx: usize) {
        let mut keyed = Vec::new();
        let Self {
            flows, sdes_keys, ..
        } = self;
        let f = &mut flows[idx];
        let seen = f.sdes_registered as usize;
        let Some(sip) = f.sip_current_mut() else {
            return;
        };
        if sip.media.len() <= seen {
            return;
        }
        for m in &sip.media[seen..] {
            keep_sdes_key(sdes_keys, m, &mut keyed);
        }
        f.sdes_registered = sip.media.len() as u32;
        if !keyed.is_empty() {
            self.key_waiting_flows(&keyed);
        }
    }

    /// Every flow so far, live and closed, in the order first seen (a table that releases its
    /// flows holds only its live ones, in slots).
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// A copy of an open flow judged as if it closed now ([`Flow::with_facts_so_far`]) takes
    /// its ICE session's DTLS handshake as closing it would.
    pub fn link_ice_session(&self, f: &mut Flow) {
        link_ice_keying(f, &self.ice_sessions);
    }

    /// How many flows have been recorded (listed in the verdict), open or closed.
    pub fn recorded(&self) -> usize {
        self.recorded as usize
    }

    /// Release mode: close every live flow, in id order, handing each out (`drain_events`).
    pub fn close_all(&mut self) {
        let mut slots: Vec<u32> = self.live.values().copied().collect();
        slots.sort_unstable_by_key(|&s| self.flows[s as usize].id);
        for slot in slots {
            self.close(slot as usize);
        }
    }

    /// Close every live flow. Returns every flow in id order; in release mode, none (each was
    /// handed out as it closed: call `close_all` and `drain_events` first).
    pub fn finish(mut self) -> (Vec<Flow>, TableStats) {
        if self.release {
            return (Vec::new(), self.stats);
        }
        for f in &mut self.flows {
            if f.live {
                f.live = false;
                f.finish_dissection();
            }
            settle_ice_keying(f, &mut self.ice_sessions);
        }
        for f in &mut self.flows {
            link_ice_keying(f, &self.ice_sessions);
        }
        (self.flows, self.stats)
    }

    /// Close the flow in slot `idx`: in release mode, hand it out and free the slot.
    fn close(&mut self, idx: usize) {
        let f = &mut self.flows[idx];
        if !f.live {
            return;
        }
        f.live = false;
        f.finish_dissection();
        settle_ice_keying(f, &mut self.ice_sessions);
        link_ice_keying(f, &self.ice_sessions);
        let (l4, client, server, id) = (f.l4, f.client, f.server, f.id);
        self.live.remove(&FlowKey::new(l4, client, server));
        if !self.sdes_waiting.is_empty() {
            for end in [client, server] {
                if self.sdes_waiting.get(&end) == Some(&(idx as u32, id)) {
                    self.sdes_waiting.remove(&end);
                }
            }
        }
        if self.release {
            self.publish(idx);
            let vacant = Flow::vacant(u32::MAX, l4, client, server, RoleBasis::FirstPacket);
            let flow = std::mem::replace(&mut self.flows[idx], vacant);
            self.events.push(TableEvent::Closed(Box::new(flow)));
            self.vacant.push(idx as u32);
        }
    }

    fn sweep(&mut self, now: i64) {
        let mut expired: Vec<usize> = self
            .live
            .values()
            .map(|&i| i as usize)
            .filter(|&i| {
                let f = &self.flows[i];
                let idle = now.saturating_sub(f.last_ts.unwrap_or(now));
                let limit = match f.l4 {
                    L4::Tcp if f.rst_seen || (f.fin_seen[0] && f.fin_seen[1]) => IDLE_CLOSED_TCP_NS,
                    L4::Tcp => IDLE_TCP_NS,
                    L4::Udp => IDLE_UDP_NS,
                };
                idle > limit
            })
            .collect();
        // in id order: a releasing table hands them out in the order they are listed
        expired.sort_unstable_by_key(|&i| self.flows[i].id);
        for i in expired {
            self.close(i);
        }
    }

    /// Close the least recently active eighth of the live flows.
    fn evict_oldest(&mut self) {
        let mut by_age: Vec<(i64, usize)> = self
            .live
            .values()
            .map(|&i| {
                (
                    self.flows[i as usize].last_ts.unwrap_or(i64::MIN),
                    i as usize,
                )
            })
            .collect();
        let n = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable(n - 1);
        let oldest = &mut by_age[..n];
        oldest.sort_unstable_by_key(|&(_, i)| self.flows[i].id);
        for &(_, i) in oldest.iter() {
            self.close(i);
            self.stats.evicted_live += 1;
        }
    }
}

/// Ports whose owner is a server whatever the other port is (IANA service ports that
/// conferencing and its signalling use).
fn is_service_port(port: u16) -> bool {
    matches!(
        port,
        53 | 80 | 443 | 853 | 993 | 995 | 465 | 587 | 5060 | 5061 | 3478..=3481 | 5349
            | 8443 | 8080 | 8801..=8810 | 19302..=19309 | 10000 | 4443 | 9000 | 5004
    )
}

fn port_rank(port: u16) -> u8 {
    if is_service_port(port) {
        0
    } else if port < 1024 {
        1
    } else if port < 49152 {
        2
    } else {
        3
    }
}

fn decide_roles(
    l4: L4,
    src: Endpoint,
    dst: Endpoint,
    flags: u8,
) -> (Endpoint, Endpoint, RoleBasis) {
    if l4 == L4::Tcp && flags & tcp_flags::SYN != 0 {
        return if flags & tcp_flags::ACK != 0 {
            (dst, src, RoleBasis::TcpHandshake)
        } else {
            (src, dst, RoleBasis::TcpHandshake)
        };
    }
    match port_rank(src.port).cmp(&port_rank(dst.port)) {
        std::cmp::Ordering::Less => (dst, src, RoleBasis::ServicePort),
        std::cmp::Ordering::Greater => (src, dst, RoleBasis::ServicePort),
        std::cmp::Ordering::Equal => (src, dst, RoleBasis::FirstPacket),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn flow_key_is_the_same_both_ways_and_tells_flows_apart() {
        let (c, s) = (ep("192.0.2.1", 50000), ep("198.51.100.7", 443));
        let key = FlowKey::new(L4::Udp, c, s);
        assert_eq!(key, FlowKey::new(L4::Udp, s, c));
        assert_ne!(key, FlowKey::new(L4::Tcp, c, s));
        // ports swapped between the two addresses: another flow
        assert_ne!(
            key,
            FlowKey::new(L4::Udp, ep("192.0.2.1", 443), ep("198.51.100.7", 50000))
        );
        // an IPv6 address whose low bits are an IPv4 address's is not that address
        let v6 = FlowKey::new(L4::Udp, ep("::c000:201", 50000), s);
        assert_ne!(key, v6);
        // the IPv4-mapped form is the same address
        let mapped = ep("::ffff:192.0.2.1", 50000);
        assert_eq!(key, FlowKey::new(L4::Udp, mapped, s));
    }

    #[test]
    fn roles_from_syn_synack_and_ports() {
        let c = ep("10.0.0.1", 50000);
        let s = ep("10.0.0.2", 443);
        assert_eq!(decide_roles(L4::Tcp, c, s, tcp_flags::SYN).0, c);
        assert_eq!(
            decide_roles(L4::Tcp, s, c, tcp_flags::SYN | tcp_flags::ACK).0,
            c
        );
        assert_eq!(decide_roles(L4::Udp, s, c, 0).1, s);
        let (client, _, basis) =
            decide_roles(L4::Udp, ep("1.1.1.1", 40000), ep("2.2.2.2", 40001), 0);
        assert_eq!(
            (client, basis),
            (ep("1.1.1.1", 40000), RoleBasis::FirstPacket)
        );
    }

    fn udp<'a>(src: &str, dst: &str, payload: &'a [u8]) -> Packet<'a> {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: Transport::Udp {
                src_port: 40000,
                dst_port: 3478,
                payload,
            },
            truncated: false,
        }
    }

    /// A timestamp at the end of i64 (pcapng's 64-bit ticks clamp there): the idle sweep's
    /// next time saturates. It overflowed (found by `fuzz/`): a debug build panicked, a
    /// release build wrapped to a time long past and swept the table on every later packet.
    #[test]
    fn a_timestamp_at_the_end_of_i64_saturates_the_next_sweep() {
        let (c, s) = ("10.0.0.1", "10.0.0.2");
        let mut table = FlowTable::new(Limits::default());
        table.packet(1, Some(i64::MAX - 1), &udp(c, s, b"x"));
        assert_eq!(table.next_sweep_ts, Some(i64::MAX));
        table.packet(2, Some(i64::MAX), &udp(c, s, b"y"));
        assert_eq!(table.next_sweep_ts, Some(i64::MAX));
        let (flows, _) = table.finish();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].packets, [2, 0]);
    }

    /// A releasing table holds the flows open at once, not the flows seen: a thousand flows one
    /// after another (each idle long before the next) leave a handful of slots, and every flow
    /// is handed out once, closed, with its counters.
    #[test]
    fn a_releasing_table_holds_only_the_flows_open_at_once() {
        let mut table = FlowTable::releasing(Limits::default());
        let mut handed_out = Vec::new();
        const FLOWS: u32 = 1000;
        for n in 0..FLOWS {
            let ts = i64::from(n) * 2 * IDLE_UDP_NS;
            let client = format!("10.0.{}.{}", n / 250, n % 250 + 1);
            for k in 0..3 {
                table.packet(
                    u64::from(n) * 3 + k,
                    Some(ts + k as i64),
                    &udp(&client, "192.0.2.1", b"x"),
                );
            }
            assert!(table.flows().len() <= 2, "slots: {}", table.flows().len());
            for e in table.drain_events() {
                if let TableEvent::Closed(f) = e {
                    handed_out.push(f);
                }
            }
        }
        table.close_all();
        for e in table.drain_events() {
            if let TableEvent::Closed(f) = e {
                handed_out.push(f);
            }
        }
        assert_eq!(table.recorded(), FLOWS as usize);
        let ids: Vec<u32> = handed_out.iter().map(|f| f.id).collect();
        assert_eq!(ids, (0..FLOWS).collect::<Vec<_>>());
        assert!(handed_out.iter().all(|f| f.packets[0] == 3 && !f.live));
        let (kept, _) = table.finish();
        assert!(kept.is_empty());
    }
}
