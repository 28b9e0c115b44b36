//! STUN (RFC 8489, and classic RFC 3489 without the magic cookie) and TURN (RFC 8656) messages:
//! validation, class and method, the address attributes, SOFTWARE, USERNAME presence, and
//! request/response matching by transaction id (which gives a round-trip time).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Requests remembered for RTT matching, per flow.
const MAX_PENDING_REQUESTS: usize = 16;
/// Addresses kept per attribute kind, per flow.
const MAX_ADDRESSES: usize = 8;
const MAX_METHODS: usize = 16;
const MAX_VENDOR_ATTRIBUTES: usize = 16;

/// A validated STUN message header with its attribute bytes.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// 0 request, 1 indication, 2 success response, 3 error response.
    pub class: u8,
    pub method: u16,
    pub transaction_id: [u8; 12],
    /// RFC 3489 message without the magic cookie.
    pub classic: bool,
    attributes: &'a [u8],
}

/// Parse and validate one STUN message occupying the whole datagram.
pub fn parse(b: &[u8]) -> Option<Message<'_>> {
    if b.len() < 20 || b[0] & 0xC0 != 0 {
        return None;
    }
    let msg_type = u16::from_be_bytes([b[0], b[1]]);
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    if len % 4 != 0 || 20 + len != b.len() {
        return None;
    }
    let cookie = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let class = (((msg_type >> 7) & 0x2) | ((msg_type >> 4) & 0x1)) as u8;
    let method = (msg_type & 0x000F) | ((msg_type >> 1) & 0x0070) | ((msg_type >> 2) & 0x0F80);
    let classic = cookie != MAGIC_COOKIE;
    // Without the cookie only the classic Binding and Shared Secret methods are plausible.
    if classic && !matches!(method, 0x001 | 0x002) {
        return None;
    }
    let attributes = &b[20..];
    // The attributes must tile the body exactly.
    let mut pos = 0;
    while pos < attributes.len() {
        let alen = usize::from(u16::from_be_bytes([
            *attributes.get(pos + 2)?,
            *attributes.get(pos + 3)?,
        ]));
        pos += 4 + alen.div_ceil(4) * 4;
    }
    if pos != attributes.len() {
        return None;
    }
    let mut transaction_id = [0u8; 12];
    transaction_id.copy_from_slice(&b[8..20]);
    Some(Message {
        class,
        method,
        transaction_id,
        classic,
        attributes,
    })
}

impl<'a> Message<'a> {
    /// (type, value) of each attribute.
    pub fn attributes(&self) -> impl Iterator<Item = (u16, &'a [u8])> + 'a {
        let mut rest = self.attributes;
        std::iter::from_fn(move || {
            if rest.len() < 4 {
                return None;
            }
            let t = u16::from_be_bytes([rest[0], rest[1]]);
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            let value = rest.get(4..4 + len)?;
            rest = rest.get(4 + len.div_ceil(4) * 4..).unwrap_or_default();
            Some((t, value))
        })
    }

    /// The DATA attribute (0x0013) of a TURN Send or Data indication: a peer's datagram.
    pub fn relayed_data(&self) -> Option<&'a [u8]> {
        if self.class != 1 || !matches!(self.method, 0x006 | 0x007) {
            return None;
        }
        self.attributes()
            .find(|(t, _)| *t == 0x0013)
            .map(|(_, v)| v)
    }

    /// Methods that only TURN defines.
    pub fn is_turn(&self) -> bool {
        matches!(self.method, 0x003..=0x009)
    }
}

/// An address attribute; XOR-ed ones are decoded with the cookie and transaction id.
fn address(value: &[u8], xor: bool, txid: &[u8; 12]) -> Option<SocketAddr> {
    let family = *value.get(1)?;
    let mut port = u16::from_be_bytes([*value.get(2)?, *value.get(3)?]);
    if xor {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match family {
        1 => {
            let mut a = u32::from_be_bytes(value.get(4..8)?.try_into().ok()?);
            if xor {
                a ^= MAGIC_COOKIE;
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        2 => {
            let mut a: [u8; 16] = value.get(4..20)?.try_into().ok()?;
            if xor {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(txid);
                for (x, k) in a.iter_mut().zip(key) {
                    *x ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// What the STUN/TURN messages of one flow showed.
#[derive(Debug, Clone, Default)]
pub struct StunFacts {
    pub messages: u32,
    pub classic_messages: u32,
    /// Methods seen, in order of first appearance (the first 16).
    pub methods: Vec<u16>,
    /// More distinct methods were seen than `methods` holds.
    pub methods_truncated: bool,
    pub software: Option<String>,
    pub username_seen: bool,
    pub mapped_addresses: Vec<SocketAddr>,
    pub relayed_addresses: Vec<SocketAddr>,
    pub peer_addresses: Vec<SocketAddr>,
    /// One of the three address lists was full when a new address came (8 each).
    pub addresses_truncated: bool,
    /// Vendor attributes seen (comprehension-optional range and known vendor types).
    pub vendor_attributes: Vec<u16>,
    /// More distinct vendor attributes were seen than `vendor_attributes` holds (16).
    pub vendor_attributes_truncated: bool,
    /// Smallest request→response time seen, nanoseconds.
    pub rtt_ns: Option<i64>,
    /// TURN ChannelData messages.
    pub channel_data: u32,
    /// Microsoft's multiplexed TURN framing (0xFF10).
    pub ms_turn: u32,
    /// Binding requests sent client→server and server→client: ICE connectivity checks from
    /// both ends mean both are full ICE agents.
    pub binding_requests: [u32; 2],
    /// The ICE session of the flow's first connectivity check ([`ice_session`]).
    pub ice_session: Option<u64>,
    pending: Vec<([u8; 12], i64)>,
}

/// The ICE session a connectivity check belongs to (RFC 8445 §7.1.2: a Binding request with
/// PRIORITY, whose USERNAME is `RFRAG:LFRAG`): a digest of its two username fragments, the
/// same whichever agent sends it and on whichever candidate pair. The fragments themselves
/// are not kept.
pub fn ice_session(m: &Message<'_>) -> Option<u64> {
    if m.class != 0 || m.method != 0x0001 {
        return None;
    }
    let (mut username, mut priority) = (None, false);
    for (t, value) in m.attributes() {
        match t {
            0x0006 => username = Some(value),
            0x0024 => priority = true,
            _ => {}
        }
    }
    let username = username.filter(|_| priority)?;
    let colon = username.iter().position(|&b| b == b':')?;
    let (a, b) = (&username[..colon], &username[colon + 1..]);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let pair = if a <= b { (a, b) } else { (b, a) };
    use std::hash::BuildHasher;
    Some(foldhash::fast::FixedState::with_seed(0x1ce5).hash_one(pair))
}

impl StunFacts {
    /// One message, sent in direction `dir` (0 client→server, 1 server→client).
    pub fn message(&mut self, m: &Message<'_>, dir: usize, ts_ns: i64) {
        self.messages += 1;
        if m.class == 0 && m.method == 0x0001 {
            self.binding_requests[dir & 1] += 1;
            if self.ice_session.is_none() {
                self.ice_session = ice_session(m);
            }
        }
        if m.classic {
            self.classic_messages += 1;
        }
        if !self.methods.contains(&m.method) {
            if self.methods.len() < MAX_METHODS {
                self.methods.push(m.method);
            } else {
                self.methods_truncated = true;
            }
        }
        match m.class {
            0 => {
                if self.pending.len() >= MAX_PENDING_REQUESTS {
                    self.pending.remove(0);
                }
                self.pending.push((m.transaction_id, ts_ns));
            }
            2 | 3 => {
                if let Some(i) = self
                    .pending
                    .iter()
                    .position(|(t, _)| *t == m.transaction_id)
                {
                    let (_, sent) = self.pending.swap_remove(i);
                    let rtt = ts_ns.saturating_sub(sent);
                    if rtt >= 0 {
                        self.rtt_ns = Some(self.rtt_ns.map_or(rtt, |r| r.min(rtt)));
                    }
                }
            }
            _ => {}
        }
        for (t, value) in m.attributes() {
            let (list, xor) = match t {
                0x0001 => (&mut self.mapped_addresses, false),
                0x0020 | 0x8020 => (&mut self.mapped_addresses, true),
                0x0016 => (&mut self.relayed_addresses, true),
                0x0012 => (&mut self.peer_addresses, true),
                0x0006 => {
                    self.username_seen = true;
                    continue;
                }
                0x8022 => {
                    if self.software.is_none() {
                        let text = String::from_utf8_lossy(value);
                        self.software =
                            Some(text.trim_end_matches('\0').chars().take(128).collect());
                    }
                    continue;
                }
                t if t >= 0x8000 && !is_ietf_optional(t) => {
                    if !self.vendor_attributes.contains(&t) {
                        if self.vendor_attributes.len() < MAX_VENDOR_ATTRIBUTES {
                            self.vendor_attributes.push(t);
                        } else {
                            self.vendor_attributes_truncated = true;
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            if let Some(a) = address(value, xor, &m.transaction_id)
                && !list.contains(&a)
            {
                if list.len() < MAX_ADDRESSES {
                    list.push(a);
                } else {
                    self.addresses_truncated = true;
                }
            }
        }
    }
}

/// Comprehension-optional attributes the IETF defined (IANA STUN Attributes registry: RFC 8489,
/// 8656, 8445, 5780, 6679, 7635, 7982, 8016): not vendor extensions. 0x8020 is the pre-RFC
/// XOR-MAPPED-ADDRESS, read as such above.
fn is_ietf_optional(t: u16) -> bool {
    matches!(t, 0x8000..=0x8004 | 0x8020 | 0x8022..=0x8030)
}

/// Who defined a vendor attribute.
pub const MICROSOFT: &str = "Microsoft";
pub const GOOGLE: &str = "Google";
pub const CISCO: &str = "Cisco";

/// Name and definer of a vendor STUN attribute, where known. Sources: the IANA STUN Attributes
/// registry (0xC000–0xC060: Cisco's and Google's registrations, the latter by the WebRTC team),
/// Microsoft's open specifications [MS-TURN], [MS-ICE2] and [MS-TURNBWM] for the 0x80xx
/// `MS-` and bandwidth-management attributes, and libwebrtc for GOOG-MULTI-MAPPING and
/// GOOG-LOGGING-ID (0xFF04/0xFF05, not IANA-registered). Every entry was checked against
/// Wireshark's naming of the same code (`tests/media.rs`). ENF-* (0xC001/0xC002) is registered
/// by an individual; its definer is left unnamed.
pub fn vendor_attribute(t: u16) -> Option<(&'static str, Option<&'static str>)> {
    let ms = Some(MICROSOFT);
    let google = Some(GOOGLE);
    Some(match t {
        0x8008 => ("MS-VERSION", ms),
        0x8032 => ("MS-ALTERNATE-HOST-NAME", ms),
        0x8037 => ("MS-APP-ID", ms),
        0x8039 => ("MS-SECURE-TAG", ms),
        0x8050 => ("MS-SEQUENCE-NUMBER", ms),
        0x8054 => ("MS-CANDIDATE-IDENTIFIER", ms),
        0x8055 => ("MS-SERVICE-QUALITY", ms),
        0x8056 => ("Bandwidth Admission Control Message", ms),
        0x8057 => ("Bandwidth Reservation Identifier", ms),
        0x8058 => ("Bandwidth Reservation Amount", ms),
        0x8059 => ("Remote Site Address", ms),
        0x805A => ("Remote Relay Site Address", ms),
        0x805B => ("Local Site Address", ms),
        0x805C => ("Local Relay Site Address", ms),
        0x805D => ("Remote Site Address Response", ms),
        0x805E => ("Remote Relay Site Address Response", ms),
        0x805F => ("Local Site Address Response", ms),
        0x8060 => ("Local Relay Site Address Response", ms),
        0x8061 => ("SIP Dialog Identifier", ms),
        0x8062 => ("SIP Call Identifier", ms),
        0x8068 => ("Location Profile", ms),
        0x8070 => ("MS-IMPLEMENTATION-VERSION", ms),
        0x8090 => ("MS-ALT-MAPPED-ADDRESS", ms),
        0x8095 => ("MS-MULTIPLEXED-TURN-SESSION-ID", ms),
        0xC000 => ("CISCO-STUN-FLOWDATA", Some(CISCO)),
        0xC001 => ("ENF-FLOW-DESCRIPTION", None),
        0xC002 => ("ENF-NETWORK-STATUS", None),
        0xC057 => ("GOOG-NETWORK-INFO", google),
        0xC058 => ("GOOG-LAST-ICE-CHECK-RECEIVED", google),
        0xC059 => ("GOOG-MISC-INFO", google),
        0xC05A => ("GOOG-OBSOLETE-1", google),
        0xC05B => ("GOOG-CONNECTION-ID", google),
        0xC05C => ("GOOG-DELTA", google),
        0xC05D => ("GOOG-DELTA-ACK", google),
        0xC05E => ("GOOG-DELTA-SYNC-REQ", google),
        0xC060 => ("GOOG-MESSAGE-INTEGRITY-32", google),
        0xFF04 => ("GOOG-MULTI-MAPPING", google),
        0xFF05 => ("GOOG-LOGGING-ID", google),
        _ => return None,
    })
}

/// STUN/TURN method name (IANA STUN Methods registry), or hex.
pub fn method_name(m: u16) -> String {
    match m {
        0x001 => "Binding".into(),
        0x002 => "SharedSecret".into(),
        0x003 => "Allocate".into(),
        0x004 => "Refresh".into(),
        0x006 => "Send".into(),
        0x007 => "Data".into(),
        0x008 => "CreatePermission".into(),
        0x009 => "ChannelBind".into(),
        0x00A => "Connect".into(),
        0x00B => "ConnectionBind".into(),
        0x00C => "ConnectionAttempt".into(),
        other => format!("0x{other:03X}"),
    }
}

/// A TURN ChannelData message (RFC 8656 §12): channel 0x4000–0x4FFF and a length that fits.
pub fn is_channel_data(b: &[u8]) -> bool {
    channel_data(b).is_some()
}

/// The datagram a TURN ChannelData message carries, if `b` is one.
pub fn channel_data(b: &[u8]) -> Option<&[u8]> {
    if b.len() < 4 || !(0x40..=0x4F).contains(&b[0]) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    // over UDP the padding to 4 bytes is optional
    (4 + len <= b.len() && b.len() <= 4 + len.div_ceil(4) * 4).then(|| &b[4..4 + len])
}

/// Microsoft's multiplexed TURN framing ([MS-TURN] 2.2.3): `FF 10`, length, session id.
pub fn is_ms_turn(b: &[u8]) -> bool {
    b.len() >= 12 && b[0] == 0xFF && b[1] == 0x10
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 §2.2: sample IPv4 Binding response.
    const RFC5769_RESPONSE: &[u8] = &[
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
        0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
        0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00,
        0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ];

    #[test]
    fn rfc5769_binding_response() {
        let m = parse(RFC5769_RESPONSE).expect("valid STUN");
        assert_eq!((m.class, m.method, m.classic), (2, 1, false));
        let mut f = StunFacts::default();
        f.message(&m, 1, 0);
        assert_eq!(f.software.as_deref(), Some("test vector"));
        assert_eq!(
            f.binding_requests,
            [0, 0],
            "a response is not a connectivity check"
        );
        assert_eq!(
            f.mapped_addresses,
            vec!["192.0.2.1:32853".parse::<SocketAddr>().unwrap()]
        );
    }

    /// The RFC 5769 response as method `method` (same class), with vendor attributes of the
    /// given types (empty values) appended.
    fn variant(method: u16, vendor_types: &[u16]) -> Vec<u8> {
        let mut b = RFC5769_RESPONSE.to_vec();
        let class_bits = u16::from_be_bytes([b[0], b[1]]) & 0x0110;
        let t = ((method & 0xF80) << 2) | ((method & 0x70) << 1) | (method & 0xF) | class_bits;
        b[..2].copy_from_slice(&t.to_be_bytes());
        for v in vendor_types {
            b.extend_from_slice(&v.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
        }
        let len = u16::try_from(b.len() - 20).unwrap();
        b[2..4].copy_from_slice(&len.to_be_bytes());
        b
    }

    #[test]
    fn full_method_and_attribute_lists_say_so() {
        let mut f = StunFacts::default();
        for method in 1..=MAX_METHODS as u16 {
            let b = variant(method, &[0xC000 + method]);
            let m = parse(&b).expect("valid STUN");
            assert_eq!(m.method, method);
            f.message(&m, 1, 0);
        }
        assert_eq!(f.methods.len(), MAX_METHODS);
        assert_eq!(f.vendor_attributes.len(), MAX_VENDOR_ATTRIBUTES);
        assert!(!f.methods_truncated && !f.vendor_attributes_truncated);
        // one already listed: nothing left out
        f.message(&parse(&variant(1, &[0xC001])).unwrap(), 1, 0);
        assert!(!f.methods_truncated && !f.vendor_attributes_truncated);
        f.message(&parse(&variant(0x0FFF, &[])).unwrap(), 1, 0);
        assert!(f.methods_truncated && !f.vendor_attributes_truncated);
        f.message(&parse(&variant(1, &[0xFFFF])).unwrap(), 1, 0);
        assert!(f.vendor_attributes_truncated);
        assert_eq!(
            (f.methods.len(), f.vendor_attributes.len()),
            (MAX_METHODS, MAX_VENDOR_ATTRIBUTES)
        );
        assert!(!f.addresses_truncated, "one mapped address");
    }

    /// A Binding request with the given USERNAME (and PRIORITY, when `check`).
    fn binding_request(username: &[u8], check: bool) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&[0x00, 0x06]);
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        attrs.resize(attrs.len().div_ceil(4) * 4, 0);
        if check {
            attrs.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0x6e, 0x7f, 0x1e, 0xff]);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    /// Both agents' checks name one session, whichever sends (RFC 8445 §7.2.2: `RFRAG:LFRAG`);
    /// other fragments another; a USERNAME without PRIORITY (a TURN credential) or without the
    /// colon names none.
    #[test]
    fn ice_checks_of_both_agents_name_one_session() {
        let session = |b: &[u8]| ice_session(&parse(b).unwrap());
        let a = session(&binding_request(b"Xq3z:9fLw", true));
        assert!(a.is_some());
        assert_eq!(session(&binding_request(b"9fLw:Xq3z", true)), a);
        assert_ne!(session(&binding_request(b"9fLw:Xq3y", true)), a);
        assert_eq!(session(&binding_request(b"Xq3z:9fLw", false)), None);
        assert_eq!(session(&binding_request(b"Xq3z9fLw", true)), None);
        assert_eq!(session(&binding_request(b":9fLw", true)), None);
    }

    #[test]
    fn rejects_non_stun() {
        assert!(parse(&RFC5769_RESPONSE[..40]).is_none());
        let mut bad = RFC5769_RESPONSE.to_vec();
        bad[0] = 0x80;
        assert!(parse(&bad).is_none());
        assert!(is_channel_data(&[0x40, 0x00, 0x00, 0x02, 1, 2]));
        assert!(!is_channel_data(&[0x40, 0x00, 0x00, 0x09, 1, 2]));
    }
}
