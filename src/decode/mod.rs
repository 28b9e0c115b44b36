//! Decoding: from a frame's link-layer bytes to IP addresses and a TCP/UDP payload.
//!
//! Owns: link-layer headers (Ethernet and VLAN/QinQ and PPPoE, Linux SLL/SLL2, raw IP, NULL and
//! loopback, PPP), IPv4/IPv6 with extension headers (via `etherparse`), IP fragment reassembly
//! (bounded, see [`defrag`]), and tunnels that carry whole IP packets (IP-in-IP, GTP-U).
//! Must not: keep per-flow state or look at application payloads.

pub mod defrag;
mod link;

use std::net::IpAddr;

use etherparse::{
    EtherType, LaxIpPayloadSlice, LaxIpSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice,
    TransportSlice, UdpSlice,
};

pub use crate::capture::link_type_name;
pub use link::{LinkPayload, strip_link};

/// TCP flag bits as they appear in the header's flags byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        flags: u8,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// Another IP protocol (ICMP, ESP, SCTP, …): counted, not dissected.
    Other { protocol: u8 },
}

/// An IP packet with its transport layer, after tunnels and fragments were taken care of.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
    /// The IP length field promised more bytes than were captured (snaplen).
    pub truncated: bool,
}

/// What decoding one frame gave.
#[derive(Debug)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// A fragment was stored; the datagram is not complete yet.
    FragmentHeld,
    /// A valid frame that carries no IP (ARP, LLDP, STP, …).
    NotIp,
    /// The link type is one we do not decode.
    UnsupportedLink,
    /// The frame is too short or malformed at the named layer.
    Malformed(&'static str),
}

/// Tunnels are followed to this depth; deeper nesting is treated as malformed.
const MAX_TUNNEL_DEPTH: u8 = 3;
const GTP_U_PORT: u16 = 2152;

/// Decoder with the state that crosses frames (the fragment pool).
#[derive(Default)]
pub struct Decoder {
    defrag: defrag::Defragmenter,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters of the fragment pool, for the verdict.
    pub fn defrag_stats(&self) -> defrag::DefragStats {
        self.defrag.stats()
    }

    /// Decode one frame of the given link type.
    pub fn decode<'a>(&'a mut self, link_type: u32, data: &'a [u8], ts_ns: i64) -> Decoded<'a> {
        match strip_link(link_type, data) {
            LinkPayload::Ip { ether_type, bytes } => {
                decode_ip(&mut self.defrag, ether_type, bytes, ts_ns, 0)
            }
            LinkPayload::NotIp => Decoded::NotIp,
            LinkPayload::Unsupported => Decoded::UnsupportedLink,
            LinkPayload::Malformed(layer) => Decoded::Malformed(layer),
        }
    }
}

/// The transport header the IP layer's payload starts with, as far as it parsed.
enum Layer4<'a> {
    Tcp(TcpSlice<'a>),
    Udp(UdpSlice<'a>),
    /// Another protocol (ICMP, IGMP, ...): decoded as such whether or not its header parses.
    Other,
    /// No header parsed: fragmented, cut short, malformed, or a protocol etherparse does not
    /// slice (IP-in-IP); `stopped` tells whether slicing stopped at an error.
    None {
        stopped: bool,
    },
}

/// What the IP layer of a packet gives the transport decode: its addresses, its payload and
/// the transport header found there.
type IpLayers<'a> = (IpAddr, IpAddr, LaxIpPayloadSlice<'a>, Layer4<'a>);

/// The IP layers of a packet of `ether_type`; `Err` with the decode result when there is no IP
/// layer.
fn slice_ip(ether_type: u16, bytes: &[u8]) -> Result<IpLayers<'_>, Decoded<'_>> {
    if ether_type == 0x0800 || ether_type == 0x86DD {
        slice_ip_by_layer(bytes)
    } else {
        slice_ip_whole(ether_type, bytes)
    }
}

/// An IPv4 or IPv6 packet sliced layer by layer: the parsers `LaxSlicedPacket` runs, without
/// building and moving its large result (memmove was 3 % of a pinned run).
fn slice_ip_by_layer(bytes: &[u8]) -> Result<IpLayers<'_>, Decoded<'_>> {
    let Ok((ip, ext_error)) = LaxIpSlice::from_slice(bytes) else {
        return Err(Decoded::Malformed("ip"));
    };
    let (src, dst) = addresses(&ip);
    let payload = ip.payload().clone();
    let layer4 = if payload.fragmented || ext_error.is_some() {
        Layer4::None {
            stopped: ext_error.is_some(),
        }
    } else {
        match payload.ip_number.0 {
            6 => TcpSlice::from_slice(payload.payload)
                .map_or(Layer4::None { stopped: true }, Layer4::Tcp),
            17 => UdpSlice::from_slice_lax(payload.payload)
                .map_or(Layer4::None { stopped: true }, Layer4::Udp),
            // the packet inside is decoded here
            4 | 41 => Layer4::None { stopped: false },
            // decoded as "another protocol" whether or not its header parses
            _ => Layer4::Other,
        }
    };
    Ok((src, dst, payload, layer4))
}

/// The source and destination addresses of an IP packet.
fn addresses(ip: &LaxIpSlice<'_>) -> (IpAddr, IpAddr) {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
            )
        }
    }
}

/// Any packet of `ether_type` (VLAN tags, ARP, ...) sliced by `LaxSlicedPacket`.
fn slice_ip_whole(ether_type: u16, bytes: &[u8]) -> Result<IpLayers<'_>, Decoded<'_>> {
    let sliced = LaxSlicedPacket::from_ether_type(EtherType(ether_type), bytes);
    let Some(net) = &sliced.net else {
        return Err(match sliced.stop_err {
            Some(_) if is_ip_ether_type(ether_type) => Decoded::Malformed("ip"),
            _ => Decoded::NotIp,
        });
    };
    let ip = match net {
        LaxNetSlice::Ipv4(v4) => LaxIpSlice::Ipv4(v4.clone()),
        LaxNetSlice::Ipv6(v6) => LaxIpSlice::Ipv6(v6.clone()),
        LaxNetSlice::Arp(_) => return Err(Decoded::NotIp),
    };
    let (src, dst) = addresses(&ip);
    let payload = ip.payload().clone();
    let layer4 = match sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Layer4::Tcp(tcp),
        Some(TransportSlice::Udp(udp)) => Layer4::Udp(udp),
        Some(_) => Layer4::Other,
        None => Layer4::None {
            stopped: sliced.stop_err.is_some(),
        },
    };
    Ok((src, dst, payload, layer4))
}

fn decode_ip<'a>(
    defrag: &'a mut defrag::Defragmenter,
    ether_type: u16,
    bytes: &'a [u8],
    ts_ns: i64,
    depth: u8,
) -> Decoded<'a> {
    let (src, dst, payload, layer4) = match slice_ip(ether_type, bytes) {
        Ok(sliced) => sliced,
        Err(decoded) => return decoded,
    };
    let truncated = payload.incomplete;
    let protocol = payload.ip_number.0;
    if payload.fragmented {
        return match defrag.add(ether_type, bytes, ts_ns) {
            Some((datagram, reassembled_protocol)) => {
                transport_from_bytes(datagram, src, dst, reassembled_protocol)
            }
            None => Decoded::FragmentHeld,
        };
    }
    match layer4 {
        Layer4::Tcp(tcp) => Decoded::Packet(Packet {
            src,
            dst,
            transport: Transport::Tcp {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                flags: tcp_flags_byte(tcp.slice()),
                payload: tcp.payload(),
            },
            truncated,
        }),
        Layer4::Udp(udp) => {
            let (sp, dp, pl) = (udp.source_port(), udp.destination_port(), udp.payload());
            if depth < MAX_TUNNEL_DEPTH
                && let Some((inner_type, inner)) = gtp_u_inner(sp, dp, pl)
                && let Decoded::Packet(p) = decode_ip(defrag, inner_type, inner, ts_ns, depth + 1)
            {
                return Decoded::Packet(p);
            }
            // Not a tunnel, or not a decodable inner packet: the outer UDP view.
            Decoded::Packet(Packet {
                src,
                dst,
                transport: Transport::Udp {
                    src_port: sp,
                    dst_port: dp,
                    payload: pl,
                },
                truncated,
            })
        }
        Layer4::Other => Decoded::Packet(Packet {
            src,
            dst,
            transport: Transport::Other { protocol },
            truncated,
        }),
        Layer4::None { stopped } => {
            // IP-in-IP (4) and IPv6-in-IP (41) carry a whole packet.
            if (protocol == 4 || protocol == 41) && !stopped {
                if depth >= MAX_TUNNEL_DEPTH {
                    return Decoded::Malformed("tunnel depth");
                }
                let et = if protocol == 4 { 0x0800 } else { 0x86DD };
                return decode_ip(defrag, et, payload.payload, ts_ns, depth + 1);
            }
            // A header cut by the snaplen: keep what identifies the flow (ports, seq, flags).
            let b = payload.payload;
            match protocol {
                6 if b.len() >= 14 => Decoded::Packet(Packet {
                    src,
                    dst,
                    transport: Transport::Tcp {
                        src_port: u16::from_be_bytes([b[0], b[1]]),
                        dst_port: u16::from_be_bytes([b[2], b[3]]),
                        seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                        flags: b[13],
                        payload: &[],
                    },
                    truncated: true,
                }),
                17 if b.len() >= 4 => Decoded::Packet(Packet {
                    src,
                    dst,
                    transport: Transport::Udp {
                        src_port: u16::from_be_bytes([b[0], b[1]]),
                        dst_port: u16::from_be_bytes([b[2], b[3]]),
                        payload: &[],
                    },
                    truncated: true,
                }),
                6 => Decoded::Malformed("tcp"),
                17 => Decoded::Malformed("udp"),
                _ => Decoded::Packet(Packet {
                    src,
                    dst,
                    transport: Transport::Other { protocol },
                    truncated,
                }),
            }
        }
    }
}

/// Build a packet from a reassembled IP payload (a transport header and its data).
fn transport_from_bytes<'a>(
    bytes: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
) -> Decoded<'a> {
    let transport = match protocol {
        6 => match etherparse::TcpSlice::from_slice(bytes) {
            Ok(tcp) => Transport::Tcp {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                flags: tcp_flags_byte(tcp.slice()),
                payload: tcp.payload(),
            },
            Err(_) => return Decoded::Malformed("tcp"),
        },
        17 => match etherparse::UdpSlice::from_slice_lax(bytes) {
            Ok(udp) => Transport::Udp {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
                payload: udp.payload(),
            },
            Err(_) => return Decoded::Malformed("udp"),
        },
        other => Transport::Other { protocol: other },
    };
    Decoded::Packet(Packet {
        src,
        dst,
        transport,
        truncated: false,
    })
}

fn tcp_flags_byte(tcp_header: &[u8]) -> u8 {
    tcp_header.get(13).copied().unwrap_or(0)
}

fn is_ip_ether_type(et: u16) -> bool {
    matches!(et, 0x0800 | 0x86DD | 0x8100 | 0x88A8 | 0x9100)
}

/// The inner IP packet of a GTP-U G-PDU (3GPP TS 29.281), if this UDP payload is one.
fn gtp_u_inner(src_port: u16, dst_port: u16, payload: &[u8]) -> Option<(u16, &[u8])> {
    if src_port != GTP_U_PORT && dst_port != GTP_U_PORT {
        return None;
    }
    let flags = *payload.first()?;
    // version 1, protocol type GTP, message type 255 (G-PDU)
    if flags >> 5 != 1 || flags & 0x10 == 0 || *payload.get(1)? != 0xFF {
        return None;
    }
    let mut offset = 8usize;
    if flags & 0x07 != 0 {
        offset = 12;
        // extension headers: each starts with its length in 4-byte units, ends with next type
        let mut next_type = *payload.get(11)?;
        if flags & 0x04 != 0 {
            let mut hops = 0;
            while next_type != 0 {
                let units = usize::from(*payload.get(offset)?);
                if units == 0 || hops > 8 {
                    return None;
                }
                offset += units * 4;
                next_type = *payload.get(offset - 1)?;
                hops += 1;
            }
        }
    }
    let inner = payload.get(offset..)?;
    match inner.first()? >> 4 {
        4 => Some((0x0800, inner)),
        6 => Some((0x86DD, inner)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4/UDP 10.0.0.1:1000 -> 10.0.0.2:53 with 4 payload bytes; checksums are not checked.
    fn ipv4_udp() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p.extend_from_slice(&[0x03, 0xE8, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4]);
        p
    }

    #[test]
    fn raw_ipv4_udp_decodes() {
        let mut d = Decoder::new();
        let pkt = ipv4_udp();
        match d.decode(101, &pkt, 0) {
            Decoded::Packet(p) => {
                assert_eq!(p.src.to_string(), "10.0.0.1");
                assert_eq!(p.dst.to_string(), "10.0.0.2");
                match p.transport {
                    Transport::Udp {
                        src_port,
                        dst_port,
                        payload,
                    } => {
                        assert_eq!((src_port, dst_port), (1000, 53));
                        assert_eq!(payload, &[1, 2, 3, 4]);
                    }
                    other => panic!("expected UDP, got {other:?}"),
                }
            }
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    #[test]
    fn ip_in_ip_is_followed() {
        let inner = ipv4_udp();
        let mut outer = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, 4, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        let total = (20 + inner.len()) as u16;
        outer[2..4].copy_from_slice(&total.to_be_bytes());
        outer.extend_from_slice(&inner);
        let mut d = Decoder::new();
        match d.decode(228, &outer, 0) {
            Decoded::Packet(p) => assert_eq!(p.src.to_string(), "10.0.0.1"),
            other => panic!("expected inner packet, got {other:?}"),
        }
    }

    /// What `decode_ip` makes of the IP layers: the addresses, the payload, and the transport
    /// header where it matters (another protocol is "other" whether its header parsed or not).
    fn as_decoded(r: Result<IpLayers<'_>, Decoded<'_>>) -> String {
        match r {
            Err(d) => format!("{d:?}"),
            Ok((src, dst, payload, layer4)) => {
                let protocol = payload.ip_number.0;
                let l4 = match layer4 {
                    Layer4::Tcp(t) => format!("tcp {:?}", t.slice()),
                    Layer4::Udp(u) => format!("udp {:?}", u.slice()),
                    Layer4::None { stopped } if matches!(protocol, 4 | 41) => {
                        format!("tunnel stopped={stopped}")
                    }
                    Layer4::None { .. } if matches!(protocol, 6 | 17) => "cut".into(),
                    Layer4::Other | Layer4::None { .. } => "other".into(),
                };
                format!(
                    "{src} {dst} {protocol} frag={} incomplete={} {:?} {l4}",
                    payload.fragmented, payload.incomplete, payload.payload
                )
            }
        }
    }

    #[test]
    fn slicing_by_layer_agrees_with_etherparse_whole_packet_slicing() {
        // real IPv4/IPv6 packets of every shape the by-layer path handles, then each cut at
        // every length and with bytes flipped: both ways must decode them alike
        let v4_tcp: Vec<u8> = {
            let mut p = vec![
                0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            p.extend_from_slice(&[0x1f, 0x90, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18]);
            p.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0, b'h', b'i']);
            let len = p.len() as u16;
            p[2..4].copy_from_slice(&len.to_be_bytes());
            p
        };
        let v6_ext_udp: Vec<u8> = {
            let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].repeat(4));
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb9].repeat(4));
            // hop-by-hop options header (8 bytes), then UDP
            p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
            p.extend_from_slice(&[0x13, 0x88, 0x0d, 0x96, 0, 12, 0, 0, 1, 2, 3, 4]);
            let len = (p.len() - 40) as u16;
            p[4..6].copy_from_slice(&len.to_be_bytes());
            p[6] = 0; // next header: hop-by-hop
            p
        };
        let v4_icmp = {
            let mut p = ipv4_udp();
            p[9] = 1;
            p
        };
        let v4_fragment = {
            let mut p = ipv4_udp();
            p[6] = 0x20; // more fragments
            p
        };
        let ip_in_ip = {
            let inner = &ipv4_udp();
            let mut p = vec![
                0x45, 0, 0, 0, 0, 1, 0, 0, 64, 4, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
            ];
            let total = (20 + inner.len()) as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            p.extend_from_slice(inner);
            p
        };
        let originals = [v4_tcp, v6_ext_udp, v4_icmp, v4_fragment, ip_in_ip];
        let mut seed = 0x9e37_79b9u32;
        let mut compared = 0;
        for original in &originals {
            let ether_type = if original[0] >> 4 == 6 {
                0x86DD
            } else {
                0x0800
            };
            let mut variants = vec![original.clone()];
            for cut in 0..original.len() {
                variants.push(original[..cut].to_vec());
            }
            for _ in 0..400 {
                let mut v = original.clone();
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let at = seed as usize % v.len();
                v[at] ^= (seed >> 8) as u8 | 1;
                variants.push(v);
            }
            for v in &variants {
                assert_eq!(
                    as_decoded(slice_ip_by_layer(v)),
                    as_decoded(slice_ip_whole(ether_type, v)),
                    "packet {v:02x?}"
                );
                compared += 1;
            }
        }
        // the full packets reach their transport layer
        let full: Vec<String> = originals
            .iter()
            .map(|p| as_decoded(slice_ip_by_layer(p)))
            .collect();
        assert!(full[0].ends_with("tcp [31, 144, 1, 187, 0, 0, 0, 1, 0, 0, 0, 0, 80, 24, 255, 255, 0, 0, 0, 0, 104, 105]"), "{}", full[0]);
        assert!(
            full[1].contains(" 17 ") && full[1].contains("udp "),
            "{}",
            full[1]
        );
        assert!(full[2].ends_with("other"), "{}", full[2]);
        assert!(full[3].contains("frag=true"), "{}", full[3]);
        assert!(full[4].ends_with("tunnel stopped=false"), "{}", full[4]);
        assert!(compared > 2000);
    }

    #[test]
    fn garbage_never_panics() {
        let mut d = Decoder::new();
        let mut seed = 0x1234_5678u32;
        for len in 0..300usize {
            let mut buf = vec![0u8; len];
            for b in &mut buf {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *b = seed as u8;
            }
            for lt in [0u32, 1, 9, 12, 50, 101, 108, 113, 228, 229, 276, 999] {
                let _ = d.decode(lt, &buf, len as i64);
            }
        }
    }
}
