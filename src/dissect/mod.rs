//! Dissection: per-flow protocol state that turns payload bytes into facts.
//!
//! Owns: the protocol labels a flow can carry ([`Protocol`]), and the TCP dissector that feeds
//! both reassembled directions of a connection to the TLS parser and recognises plain HTTP;
//! the UDP demultiplexer is [`udp`]. Each protocol's wire parsing lives in its own submodule.

pub mod dns;
pub mod dtls;
pub mod quic;
pub mod rtp;
pub mod sip;
pub mod srtp;
pub mod stun;
pub mod tls;
pub mod udp;
pub mod zoom;

use crate::flow::tcp::{Reassembler, StreamSink};
use dns::DnsFacts;
use sip::SipFacts;
use tls::{TlsFacts, TlsStream};

/// Protocol labels of `flows[].protocols` (VERDICT.md), in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Protocol {
    Tls,
    Dtls,
    Quic,
    Stun,
    Turn,
    Rtp,
    Rtcp,
    Srtp,
    Srtcp,
    Zoom,
    Dns,
    Sip,
    Http,
}

impl Protocol {
    pub const ALL: [Protocol; 13] = [
        Protocol::Tls,
        Protocol::Dtls,
        Protocol::Quic,
        Protocol::Stun,
        Protocol::Turn,
        Protocol::Rtp,
        Protocol::Rtcp,
        Protocol::Srtp,
        Protocol::Srtcp,
        Protocol::Zoom,
        Protocol::Dns,
        Protocol::Sip,
        Protocol::Http,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Dtls => "dtls",
            Protocol::Quic => "quic",
            Protocol::Stun => "stun",
            Protocol::Turn => "turn",
            Protocol::Rtp => "rtp",
            Protocol::Rtcp => "rtcp",
            Protocol::Srtp => "srtp",
            Protocol::Srtcp => "srtcp",
            Protocol::Zoom => "zoom",
            Protocol::Dns => "dns",
            Protocol::Sip => "sip",
            Protocol::Http => "http",
        }
    }
}

/// A small set of [`Protocol`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProtocolSet(u16);

impl ProtocolSet {
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= 1 << (p as u8);
    }

    pub fn contains(self, p: Protocol) -> bool {
        self.0 & (1 << (p as u8)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Names in the canonical order; `["unknown"]` when nothing was recognised.
    pub fn names(self) -> Vec<&'static str> {
        if self.is_empty() {
            return vec!["unknown"];
        }
        Protocol::ALL
            .iter()
            .filter(|p| self.contains(**p))
            .map(|p| p.as_str())
            .collect()
    }
}

/// Bytes of a direction kept for length-delimited clear protocols (DNS, SIP) over TCP.
const MAX_TEXT_STREAM: usize = 64 * 1024;

/// Append `bytes` to a direction's waiting bytes and take them all for parsing (the caller puts
/// back what is left); past `cap`, the direction is stopped for good and its bytes dropped.
fn append_bounded(
    pending: &mut Vec<u8>,
    stopped: &mut bool,
    bytes: &[u8],
    cap: usize,
) -> Option<Vec<u8>> {
    if *stopped {
        return None;
    }
    if pending.len() + bytes.len() > cap {
        *stopped = true;
        *pending = Vec::new();
        return None;
    }
    pending.extend_from_slice(bytes);
    Some(std::mem::take(pending))
}

/// Clear protocols over TCP recognised from the stream: DNS (RFC 1035 §4.2.2, two-byte length
/// prefix) on port 53, and SIP (RFC 3261 §18.3, messages delimited by Content-Length).
#[derive(Debug, Default)]
struct ClearStreams {
    dns_port: bool,
    /// SIP over WebSocket (RFC 7118): the HTTP upgrade asked for the "sip" subprotocol.
    websocket_sip: bool,
    /// Per direction: the HTTP head before the WebSocket frames has been passed.
    websocket_head_done: [bool; 2],
    /// A message being assembled from continuation frames, per direction, and whether it is
    /// compressed (RSV1 on its first frame).
    websocket_message: [Vec<u8>; 2],
    websocket_compressed: [bool; 2],
    /// permessage-deflate (RFC 7692) state per direction: the window carries over between
    /// messages unless no_context_takeover was agreed, so one inflater serves the connection.
    websocket_inflate: [Option<Box<flate2::Decompress>>; 2],
    buf: [Vec<u8>; 2],
    sip_dir: [bool; 2],
    /// Per direction: SIP bytes were lost; the next message start is looked for.
    sip_resync: [bool; 2],
    stopped: [bool; 2],
    dns: Option<DnsFacts>,
    sip: Option<SipFacts>,
}

impl ClearStreams {
    /// Direction `dir` carries signalling in clear that is parsed to the connection's end (SIP,
    /// also over WebSocket, and DNS): a registrar's or trunk's one connection carries every
    /// call's SDP, a resolver's every lookup.
    fn following(&self, dir: usize) -> bool {
        !self.stopped[dir] && (self.websocket_sip || self.dns_port || self.sip_dir[dir])
    }

    /// Bytes of direction `dir` were never captured. DNS's length prefixes and WebSocket's
    /// frames cannot be found again, so that direction stops; SIP drops the message the hole
    /// cut and resumes at the next line that starts a message.
    fn gap(&mut self, dir: usize) {
        if !self.following(dir) {
            return;
        }
        self.buf[dir] = Vec::new();
        if self.websocket_sip || self.dns_port {
            self.stopped[dir] = true;
        } else {
            self.sip_resync[dir] = true;
        }
    }

    fn data(&mut self, dir: usize, frame: u64, first: bool, bytes: &[u8]) {
        if self.websocket_sip {
            self.websocket(dir, frame, bytes);
            return;
        }
        if first && sip::looks_like_sip(bytes) {
            self.sip_dir[dir] = true;
        }
        if !(self.dns_port || self.sip_dir[dir]) {
            return;
        }
        let mut bytes = bytes;
        if self.sip_resync[dir] && !self.dns_port {
            let Some(start) = (0..bytes.len())
                .find(|&i| (i == 0 || bytes[i - 1] == b'\n') && sip::looks_like_sip(&bytes[i..]))
            else {
                return;
            };
            self.sip_resync[dir] = false;
            bytes = &bytes[start..];
        }
        let Some(b) = append_bounded(
            &mut self.buf[dir],
            &mut self.stopped[dir],
            bytes,
            MAX_TEXT_STREAM,
        ) else {
            return;
        };
        let mut used = 0;
        loop {
            let rest = &b[used..];
            if self.dns_port {
                let Some(len) = rest
                    .get(..2)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                else {
                    break;
                };
                let Some(msg) = rest.get(2..2 + len) else {
                    break;
                };
                if let Some(p) = dns::parse(msg) {
                    self.dns.get_or_insert_default().message(&p);
                }
                used += 2 + len;
            } else {
                let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
                    break;
                };
                let head = String::from_utf8_lossy(&rest[..end]);
                let body_len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        let k = k.trim();
                        (k.eq_ignore_ascii_case("content-length") || k == "l")
                            .then(|| v.trim().parse::<usize>().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                let total = end + 4 + body_len;
                let Some(msg) = rest.get(..total) else { break };
                self.sip.get_or_insert_default().message(frame, msg);
                used += total;
            }
        }
        self.buf[dir] = b[used..].to_vec();
    }
}

/// How a TCP connection carries STUN-multiplexed datagrams, decided from a direction's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// RFC 4571 (ICE-TCP, RFC 6544): each packet behind a two-byte length; STUN, DTLS, SRTP.
    Rfc4571,
    /// STUN/TURN over TCP (RFC 8489 §6.2.2, RFC 8656): STUN messages and ChannelData
    /// (padded to four bytes), each self-delimiting.
    Stun,
}

/// Bytes of a direction waiting for the rest of a framed datagram.
const MAX_FRAMED_PENDING: usize = 64 * 1024;

/// Datagram protocols carried over TCP: STUN/TURN, and ICE-TCP's framed STUN/DTLS/(S)RTP. The
/// datagrams go to a [`UdpDissector`] as if they had arrived over UDP, so relayed media,
/// DTLS handshakes and RTP streams are read the same way.
#[derive(Debug, Default)]
struct FramedDatagrams {
    framing: [Option<Framing>; 2],
    pending: [Vec<u8>; 2],
    stopped: [bool; 2],
    ports: [u16; 2],
    udp: Option<Box<udp::UdpDissector>>,
}

impl FramedDatagrams {
    /// The framing the bytes at the start of a direction show, if any.
    fn sniff(b: &[u8]) -> Option<Framing> {
        if stun::parse(b.get(..20 + usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?])))?)
            .is_some_and(|m| !m.classic)
        {
            return Some(Framing::Stun);
        }
        let len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
        let inner = b.get(2..2 + len)?;
        stun::parse(inner)
            .is_some_and(|m| !m.classic)
            .then_some(Framing::Rfc4571)
    }

    fn active(&self) -> bool {
        self.framing.iter().any(Option::is_some) && !(self.stopped[0] && self.stopped[1])
    }

    /// Bytes of direction `dir` were never captured: the framing is lost; stop rather than guess.
    fn gap(&mut self, dir: usize) {
        if self.framing[dir].is_some() {
            self.stopped[dir] = true;
            self.pending[dir] = Vec::new();
        }
    }

    fn data(&mut self, dir: usize, frame: u64, ts: i64, first: bool, bytes: &[u8]) {
        if first && self.framing[dir].is_none() {
            self.framing[dir] = Self::sniff(bytes).or(self.framing[dir ^ 1]);
        }
        let Some(framing) = self.framing[dir] else {
            return;
        };
        let Some(buf) = append_bounded(
            &mut self.pending[dir],
            &mut self.stopped[dir],
            bytes,
            MAX_FRAMED_PENDING,
        ) else {
            return;
        };
        let mut used = 0;
        let (src, dst) = if dir == 0 {
            (self.ports[0], self.ports[1])
        } else {
            (self.ports[1], self.ports[0])
        };
        let udp = self.udp.get_or_insert_default();
        loop {
            let rest = &buf[used..];
            let Some(head) = rest.get(..4) else { break };
            let (start, len, step) = match framing {
                Framing::Rfc4571 => {
                    let len = usize::from(u16::from_be_bytes([head[0], head[1]]));
                    (2, len, 2 + len)
                }
                Framing::Stun => {
                    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
                    match head[0] {
                        0..=3 => (0, 20 + len, 20 + len),
                        // ChannelData: 4-byte header, padded to a multiple of 4 over TCP
                        64..=79 => (0, 4 + len, (4 + len).next_multiple_of(4)),
                        _ => {
                            // lost framing: stop rather than guess
                            self.stopped[dir] = true;
                            return;
                        }
                    }
                }
            };
            if rest.len() < step {
                break;
            }
            if len > 0 {
                udp.datagram(dir, frame, ts, src, dst, &rest[start..start + len]);
            }
            used += step;
        }
        self.pending[dir] = buf[used..].to_vec();
    }
}

/// The first HTTP/1.x request of a connection in clear: what it asked for and of whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub frame: u64,
    pub method: String,
    /// The Host header (RFC 9112 §3.2), without a port.
    pub host: Option<String>,
    /// A WebSocket upgrade's Sec-WebSocket-Protocol (RFC 6455), e.g. "sip" (RFC 7118).
    pub websocket_protocol: Option<String>,
}

impl HttpRequest {
    /// The request head at the start of `b` (the first segment's bytes; a head split over
    /// segments gives what its first part holds).
    fn parse(frame: u64, b: &[u8]) -> Option<Self> {
        let head = &b[..b.len().min(4096)];
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let method = lines.next()?.split(' ').next()?;
        if method.starts_with("HTTP/") {
            return None;
        }
        let mut req = HttpRequest {
            frame,
            method: method.chars().take(16).collect(),
            ..Default::default()
        };
        let mut upgrade = false;
        for line in lines.take_while(|l| !l.is_empty()) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("host") {
                let host = match v.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or_default(),
                    None => v.split(':').next().unwrap_or_default(),
                };
                req.host = Some(host.to_ascii_lowercase().chars().take(255).collect());
            } else if k.eq_ignore_ascii_case("upgrade") {
                upgrade = v.eq_ignore_ascii_case("websocket");
            } else if k.eq_ignore_ascii_case("sec-websocket-protocol") {
                req.websocket_protocol = Some(v.chars().take(64).collect());
            }
        }
        if !upgrade {
            req.websocket_protocol = None;
        }
        Some(req)
    }
}

impl ClearStreams {
    /// WebSocket frames (RFC 6455 §5.2) after the HTTP upgrade; their text or binary messages
    /// are SIP messages (RFC 7118 §5.2: one SIP message per WebSocket message).
    fn websocket(&mut self, dir: usize, frame: u64, bytes: &[u8]) {
        let Some(b) = append_bounded(
            &mut self.buf[dir],
            &mut self.stopped[dir],
            bytes,
            MAX_TEXT_STREAM,
        ) else {
            return;
        };
        let mut used = 0;
        if !self.websocket_head_done[dir] {
            let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
                self.buf[dir] = b;
                return;
            };
            self.websocket_head_done[dir] = true;
            used = end + 4;
        }
        while let Some((b0, payload, len)) = websocket_frame(&b[used..]) {
            used += len;
            let (opcode, fin, rsv1) = (b0 & 0x0F, b0 & 0x80 != 0, b0 & 0x40 != 0);
            if !(0..=2).contains(&opcode) {
                continue; // close, ping, pong
            }
            if opcode != 0 {
                self.websocket_message[dir].clear();
                self.websocket_compressed[dir] = rsv1;
            }
            let message = &mut self.websocket_message[dir];
            if message.len() + payload.len() > MAX_TEXT_STREAM {
                self.stopped[dir] = true;
                return;
            }
            message.extend_from_slice(&payload);
            if !fin {
                continue;
            }
            let mut m = std::mem::take(message);
            if self.websocket_compressed[dir] {
                let inflater = self.websocket_inflate[dir]
                    .get_or_insert_with(|| Box::new(flate2::Decompress::new(false)));
                match inflate_message(inflater, &m) {
                    Some(plain) => m = plain,
                    None => {
                        self.stopped[dir] = true; // a broken stream cannot be resumed
                        return;
                    }
                }
            }
            if sip::looks_like_sip(&m) {
                self.sip.get_or_insert_default().message(frame, &m);
            }
        }
        self.buf[dir] = b[used..].to_vec();
    }
}

/// Inflate one permessage-deflate message (RFC 7692 §7.2.2: the sender removed the final
/// 00 00 FF FF of the flush, which is appended back), at most 64 KiB of output.
fn inflate_message(inflater: &mut flate2::Decompress, m: &[u8]) -> Option<Vec<u8>> {
    let mut input = m.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xFF, 0xFF]);
    let mut out = Vec::with_capacity(4 * input.len().min(MAX_TEXT_STREAM / 4));
    let start_in = inflater.total_in();
    loop {
        let consumed = usize::try_from(inflater.total_in() - start_in).ok()?;
        if out.len() == out.capacity() {
            if out.len() >= MAX_TEXT_STREAM {
                return None;
            }
            out.reserve(4096);
        }
        let before = out.len();
        inflater
            .decompress_vec(&input[consumed..], &mut out, flate2::FlushDecompress::Sync)
            .ok()?;
        // room left after the call: everything the input gives has been written
        if out.len() < out.capacity() {
            let done = usize::try_from(inflater.total_in() - start_in).ok()? >= input.len();
            if done || out.len() == before {
                return Some(out);
            }
        }
    }
}

/// One WebSocket frame at the start of `b`: its first byte (FIN, RSV1, opcode), the unmasked
/// payload and the frame's length; `None` until the whole frame is there (payloads over 64 KiB
/// are not assembled).
fn websocket_frame(b: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (b0, b1) = (*b.first()?, *b.get(1)?);
    let mut pos = 2;
    let mut len = u64::from(b1 & 0x7F);
    if len == 126 {
        len = u64::from(u16::from_be_bytes(b.get(2..4)?.try_into().ok()?));
        pos = 4;
    } else if len == 127 {
        len = u64::from_be_bytes(b.get(2..10)?.try_into().ok()?);
        pos = 10;
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_TEXT_STREAM)?;
    let key = if b1 & 0x80 != 0 {
        let k: [u8; 4] = b.get(pos..pos + 4)?.try_into().ok()?;
        pos += 4;
        Some(k)
    } else {
        None
    };
    let mut payload = b.get(pos..pos + len)?.to_vec();
    if let Some(k) = key {
        for (i, x) in payload.iter_mut().enumerate() {
            *x ^= k[i % 4];
        }
    }
    Some((b0, payload, pos + len))
}

/// What dissecting a TCP connection established.
#[derive(Debug, Default)]
pub struct TcpOutcome {
    pub dns: Option<DnsFacts>,
    pub sip: Option<SipFacts>,
    pub tls: Option<TlsFacts>,
    pub http: bool,
    pub http_request: Option<HttpRequest>,
    /// STUN/TURN or ICE-TCP framed datagrams, dissected as UDP's are.
    pub datagrams: Option<udp::UdpOutcome>,
    pub client_is_responder: bool,
    pub midstream: bool,
    pub gap_bytes: [u64; 2],
    pub capped: bool,
}

/// Per-connection dissection state: two reassemblers and the protocol parsers they feed.
#[derive(Debug, Default)]
pub struct TcpDissector {
    reassembly: [Reassembler; 2],
    tls: TlsStream,
    started: [bool; 2],
    http: bool,
    http_request: Option<HttpRequest>,
    /// Frame and capture time of the latest segment per direction, for data delivered at the end.
    last_frame: [u64; 2],
    last_ts: [i64; 2],
    clear: ClearStreams,
    framed: FramedDatagrams,
}

/// Feeds one direction's reassembled bytes to the parsers, sniffing the stream start first.
struct DirectionFeed<'a> {
    tls: &'a mut TlsStream,
    clear: &'a mut ClearStreams,
    started: &'a mut bool,
    http: &'a mut bool,
    http_request: &'a mut Option<HttpRequest>,
    framed: &'a mut FramedDatagrams,
    dir: usize,
    frame: u64,
    ts: i64,
}

impl StreamSink for DirectionFeed<'_> {
    fn data(&mut self, bytes: &[u8]) {
        let first = !*self.started;
        if first {
            *self.started = true;
            if looks_like_http(bytes) {
                *self.http = true;
                if self.http_request.is_none() {
                    *self.http_request = HttpRequest::parse(self.frame, bytes);
                    self.clear.websocket_sip = self.http_request.as_ref().is_some_and(|r| {
                        r.websocket_protocol
                            .as_deref()
                            .is_some_and(|p| p.eq_ignore_ascii_case("sip"))
                    });
                }
            }
        }
        self.clear.data(self.dir, self.frame, first, bytes);
        self.framed
            .data(self.dir, self.frame, self.ts, first, bytes);
        self.tls.sink(self.dir, self.frame, self.ts).data(bytes);
    }

    fn gap(&mut self, missing: u64) {
        self.tls.sink(self.dir, self.frame, self.ts).gap(missing);
        self.clear.gap(self.dir);
        self.framed.gap(self.dir);
    }
}

impl TcpDissector {
    /// A dissector for a connection between these ports; with a key log, its TLS 1.3 server
    /// handshake is opened (`tls::keylog`).
    pub fn new(
        client_port: u16,
        server_port: u16,
        keylog: Option<&std::sync::Arc<tls::keylog::KeyLog>>,
    ) -> Self {
        let mut d = Self::default();
        if keylog.is_some() {
            d.tls = TlsStream::with_keylog(keylog.cloned());
        }
        d.framed.ports = [client_port, server_port];
        d.clear.dns_port = matches!(server_port, 53 | 5353) || matches!(client_port, 53 | 5353);
        d
    }

    /// The key log grew: a TLS 1.3 handshake waiting for its secret may open now.
    pub fn secrets_arrived(&mut self, keylog: &std::sync::Arc<tls::keylog::KeyLog>) {
        self.tls.secrets_arrived(keylog);
    }

    /// One TCP segment in direction `dir` (0 = client to server).
    pub fn segment(
        &mut self,
        dir: usize,
        frame: u64,
        ts: i64,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let dir = dir.min(1);
        self.last_frame[dir] = frame;
        self.last_ts[dir] = ts;
        if flags & crate::decode::tcp_flags::SYN != 0 {
            self.reassembly[dir].syn(seq);
        }
        if payload.is_empty() {
            return;
        }
        if self.clear.following(dir) {
            self.reassembly[dir].deliver_all();
        }
        let mut feed = DirectionFeed {
            tls: &mut self.tls,
            clear: &mut self.clear,
            started: &mut self.started[dir],
            http: &mut self.http,
            http_request: &mut self.http_request,
            framed: &mut self.framed,
            dir,
            frame,
            ts,
        };
        self.reassembly[dir].segment(seq, payload, &mut feed);
    }

    /// Nothing more is to be learnt from this connection's payload.
    pub fn is_done(&self) -> bool {
        if self.clear.following(0) || self.clear.following(1) {
            return false;
        }
        let capped = self.reassembly[0].capped && self.reassembly[1].capped;
        if self.framed.active() {
            // STUN/TURN over TCP: followed until the delivery cap, like a UDP flow's datagrams
            return capped;
        }
        self.tls.is_done()
            || ((self.tls.direction_rejected(0) || self.tls.direction_rejected(1))
                && !self.tls.is_tls)
            || capped
    }

    /// The TLS facts decided so far, while the connection is still being dissected.
    pub fn tls_so_far(&self) -> Option<&TlsFacts> {
        self.tls.is_tls.then_some(&self.tls.facts)
    }

    /// DNS carried in clear, so far.
    pub fn dns_so_far(&self) -> Option<&DnsFacts> {
        self.clear.dns.as_ref()
    }

    pub fn dns_so_far_mut(&mut self) -> Option<&mut DnsFacts> {
        self.clear.dns.as_mut()
    }

    /// SIP/SDP carried in clear (also over WebSocket), so far.
    pub fn sip_so_far(&self) -> Option<&SipFacts> {
        self.clear.sip.as_ref()
    }

    pub fn sip_so_far_mut(&mut self) -> Option<&mut SipFacts> {
        self.clear.sip.as_mut()
    }

    /// The facts of the bytes delivered so far, with the dissection going on (the live view
    /// judges open connections with it); what waits behind a hole is left for `finish`.
    pub fn outcome_so_far(&self) -> TcpOutcome {
        TcpOutcome {
            dns: self.clear.dns.clone(),
            sip: self.clear.sip.clone(),
            tls: self.tls.is_tls.then(|| self.tls.facts.clone()),
            http_request: self.http_request.clone(),
            datagrams: self
                .framed
                .udp
                .as_ref()
                .map(|u| u.outcome_so_far())
                .filter(|u| !u.protocols.is_empty()),
            ..self.connection_facts()
        }
    }

    /// The outcome's facts of the connection itself (not of a protocol's messages).
    fn connection_facts(&self) -> TcpOutcome {
        TcpOutcome {
            http: self.http,
            client_is_responder: self.tls.client_is_responder(),
            midstream: self.reassembly[0].midstream || self.reassembly[1].midstream,
            gap_bytes: [self.reassembly[0].gap_bytes, self.reassembly[1].gap_bytes],
            capped: self.reassembly[0].capped || self.reassembly[1].capped,
            ..TcpOutcome::default()
        }
    }

    /// Deliver what still waits behind holes and return the facts.
    pub fn finish(&mut self) -> TcpOutcome {
        for dir in 0..2 {
            let mut feed = DirectionFeed {
                tls: &mut self.tls,
                clear: &mut self.clear,
                started: &mut self.started[dir],
                http: &mut self.http,
                http_request: &mut self.http_request,
                framed: &mut self.framed,
                dir,
                frame: self.last_frame[dir],
                ts: self.last_ts[dir],
            };
            self.reassembly[dir].finish(&mut feed);
        }
        let connection = self.connection_facts();
        let tls = std::mem::take(&mut self.tls);
        TcpOutcome {
            dns: self.clear.dns.take(),
            sip: self.clear.sip.take(),
            tls: tls.is_tls.then_some(tls.facts),
            http_request: self.http_request.take(),
            datagrams: self
                .framed
                .udp
                .take()
                .map(|mut u| u.finish())
                .filter(|u| !u.protocols.is_empty()),
            ..connection
        }
    }
}

/// An HTTP/1.x request or response line at the start of a stream.
pub fn looks_like_http(b: &[u8]) -> bool {
    const STARTS: [&[u8]; 10] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
        b"HTTP/1.",
    ];
    STARTS.iter().any(|s| b.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_request_head() {
        let r = HttpRequest::parse(
            3,
            b"GET /x HTTP/1.1\r\nHOST: [2001:db8::1]:8443\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.host.as_deref(), Some("2001:db8::1"));
        // a subprotocol without an Upgrade: websocket header is not a WebSocket
        assert_eq!(r.websocket_protocol, None);
        let ws = HttpRequest::parse(
            4,
            b"GET / HTTP/1.1\r\nHost: Meet.Example:80\r\nUpgrade: WebSocket\r\nSec-WebSocket-Protocol: sip\r\n",
        )
        .unwrap();
        assert_eq!(ws.host.as_deref(), Some("meet.example"));
        assert_eq!(ws.websocket_protocol.as_deref(), Some("sip"));
        assert_eq!(HttpRequest::parse(5, b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert!(HttpRequest::parse(6, &[0xff; 10]).is_some_and(|r| r.host.is_none()));
    }

    #[test]
    fn websocket_frames_masked_and_deflated() {
        // a masked text frame with a 16-bit length
        let text = b"OPTIONS sip:a@b SIP/2.0\r\n".repeat(6);
        let key = [1u8, 2, 3, 4];
        let mut f = vec![0x81, 0x80 | 126];
        f.extend_from_slice(&(text.len() as u16).to_be_bytes());
        f.extend_from_slice(&key);
        f.extend(text.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        let (b0, payload, len) = websocket_frame(&f).unwrap();
        assert_eq!((b0, payload.as_slice(), len), (0x81, &text[..], f.len()));
        assert!(websocket_frame(&f[..f.len() - 1]).is_none(), "incomplete");
        // permessage-deflate: two messages sharing one window, the flush tail removed
        let mut deflater = flate2::Compress::new(flate2::Compression::default(), false);
        let mut inflater = flate2::Decompress::new(false);
        for msg in [&text[..], &text[..]] {
            let mut out = Vec::with_capacity(1024);
            deflater
                .compress_vec(msg, &mut out, flate2::FlushCompress::Sync)
                .unwrap();
            assert_eq!(out[out.len() - 4..], [0, 0, 0xFF, 0xFF]);
            out.truncate(out.len() - 4);
            assert_eq!(inflate_message(&mut inflater, &out).unwrap(), msg);
        }
        // garbage does not inflate, and does not panic
        let mut fresh = flate2::Decompress::new(false);
        assert!(inflate_message(&mut fresh, &[0xFF; 64]).is_none());
    }

    #[test]
    fn a_hole_stops_what_cannot_be_reframed() {
        // DNS over TCP: the next two-byte length cannot be found again
        let mut dns = ClearStreams {
            dns_port: true,
            ..Default::default()
        };
        assert!(dns.following(0));
        dns.gap(0);
        assert!(!dns.following(0) && dns.following(1));
        // STUN over TCP likewise
        let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        stun.extend_from_slice(&[7; 12]);
        let mut framed = FramedDatagrams::default();
        framed.data(0, 1, 0, true, &stun);
        framed.data(0, 2, 0, false, &stun[..10]);
        assert_eq!(framed.pending[0].len(), 10);
        framed.gap(0);
        assert!(framed.stopped[0] && framed.pending[0].is_empty());
        // SIP resumes at the next line that starts a message
        let mut sip = ClearStreams::default();
        sip.data(
            0,
            1,
            true,
            b"INVITE sip:a SIP/2.0\r\nContent-Length: 9\r\n\r\nv=0",
        );
        sip.gap(0);
        assert!(sip.following(0));
        sip.data(0, 2, false, b"o=x\r\nBYE sip:a SIP/2.0\r\nl: 0\r\n\r\n");
        let facts = sip.sip.as_ref().unwrap();
        assert_eq!(
            (facts.messages, facts.methods.clone()),
            (1, vec!["BYE".into()])
        );
    }

    #[test]
    fn framed_datagrams_survive_garbage() {
        // a valid STUN Binding request to start, then pseudo-random bytes in both directions
        let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        stun.extend_from_slice(&[7; 12]);
        assert_eq!(FramedDatagrams::sniff(&stun), Some(Framing::Stun));
        let mut framed_4571 = vec![0x00, 20];
        framed_4571.extend_from_slice(&stun);
        assert_eq!(FramedDatagrams::sniff(&framed_4571), Some(Framing::Rfc4571));
        assert_eq!(FramedDatagrams::sniff(b"GET / HTTP/1.1\r\n"), None);
        let mut seed = 0x9E37_79B9u32;
        for start in [&stun, &framed_4571] {
            let mut f = FramedDatagrams {
                ports: [40000, 3478],
                ..Default::default()
            };
            f.data(0, 1, 0, true, start);
            for round in 0..2000u64 {
                let len = (seed % 700) as usize;
                let chunk: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as u8
                    })
                    .collect();
                f.data((round % 2) as usize, round, 0, round < 2, &chunk);
                assert!(f.pending.iter().all(|p| p.len() <= MAX_FRAMED_PENDING));
            }
        }
    }
}
