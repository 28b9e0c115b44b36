//! Link-layer headers: find where the network layer starts and which EtherType it carries.
//!
//! etherparse slices Ethernet II and what follows an EtherType (VLAN/QinQ, IPv4, IPv6); the link
//! types it does not know (NULL/loopback, SLL2, PPP, PPPoE) are a few fixed-offset headers,
//! handled here so that every frame reaches the same IP slicing path.

/// Where the network layer of a frame starts.
#[derive(Debug, Clone, Copy)]
pub enum LinkPayload<'a> {
    /// `bytes` start with a header of this EtherType (IPv4, IPv6, or a VLAN tag).
    Ip { ether_type: u16, bytes: &'a [u8] },
    /// A valid frame of a non-IP protocol.
    NotIp,
    /// A link type we do not decode.
    Unsupported,
    /// Too short for its own link header.
    Malformed(&'static str),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// Strip the link header of `link_type` from `data`.
pub fn strip_link(link_type: u32, data: &[u8]) -> LinkPayload<'_> {
    match link_type {
        // Ethernet: 14-byte header; VLAN tags are sliced by etherparse after the EtherType.
        1 => {
            let Some(hdr) = data.get(..14) else {
                return LinkPayload::Malformed("ethernet");
            };
            let et = u16::from_be_bytes([hdr[12], hdr[13]]);
            ether_payload(et, &data[14..])
        }
        // NULL (host byte order) and LOOP (network byte order): 4-byte address family.
        0 | 108 => {
            let Some(fam) = data.get(..4) else {
                return LinkPayload::Malformed("loopback");
            };
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            // Either order may appear in NULL captures from another host.
            let family = if le < 256 { le } else { be };
            match family {
                2 => ip(ETHERTYPE_IPV4, &data[4..]),
                // AF_INET6 differs per OS: Linux 10, BSDs 24, FreeBSD 28, macOS 30.
                10 | 24 | 28 | 30 => ip(ETHERTYPE_IPV6, &data[4..]),
                _ => LinkPayload::NotIp,
            }
        }
        // Raw IP (DLT_RAW has three historical values) and LINKTYPE_IPV4/IPV6.
        12 | 14 | 101 => raw_ip(data),
        228 => ip(ETHERTYPE_IPV4, data),
        229 => ip(ETHERTYPE_IPV6, data),
        // Linux cooked capture v1: 16-byte header, protocol at offset 14.
        113 => {
            let Some(hdr) = data.get(..16) else {
                return LinkPayload::Malformed("linux-sll");
            };
            let proto = u16::from_be_bytes([hdr[14], hdr[15]]);
            ether_payload(proto, &data[16..])
        }
        // Linux cooked capture v2: 20-byte header, protocol at offset 0.
        276 => {
            let Some(hdr) = data.get(..20) else {
                return LinkPayload::Malformed("linux-sll2");
            };
            let proto = u16::from_be_bytes([hdr[0], hdr[1]]);
            ether_payload(proto, &data[20..])
        }
        // PPP and PPP in HDLC framing: optional ff 03, then a 1- or 2-byte protocol.
        9 | 50 => ppp(data),
        _ => LinkPayload::Unsupported,
    }
}

fn ip(ether_type: u16, bytes: &[u8]) -> LinkPayload<'_> {
    LinkPayload::Ip { ether_type, bytes }
}

fn raw_ip(data: &[u8]) -> LinkPayload<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => ip(ETHERTYPE_IPV4, data),
        Some(6) => ip(ETHERTYPE_IPV6, data),
        Some(_) => LinkPayload::Malformed("raw-ip"),
        None => LinkPayload::Malformed("raw-ip"),
    }
}

fn ether_payload(ether_type: u16, rest: &[u8]) -> LinkPayload<'_> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 | 0x8100 | 0x88A8 | 0x9100 => ip(ether_type, rest),
        ETHERTYPE_PPPOE_SESSION => {
            // PPPoE: ver/type, code, session id, length, then the PPP protocol field.
            let Some(hdr) = rest.get(..8) else {
                return LinkPayload::Malformed("pppoe");
            };
            ppp_protocol(u16::from_be_bytes([hdr[6], hdr[7]]), &rest[8..])
        }
        _ => LinkPayload::NotIp,
    }
}

fn ppp(data: &[u8]) -> LinkPayload<'_> {
    let mut rest = data;
    if rest.starts_with(&[0xFF, 0x03]) {
        rest = &rest[2..];
    }
    let Some(&first) = rest.first() else {
        return LinkPayload::Malformed("ppp");
    };
    // Protocol field compression: an odd first byte is a 1-byte protocol.
    if first & 1 == 1 {
        ppp_protocol(u16::from(first), &rest[1..])
    } else {
        let Some(p) = rest.get(..2) else {
            return LinkPayload::Malformed("ppp");
        };
        ppp_protocol(u16::from_be_bytes([p[0], p[1]]), &rest[2..])
    }
}

fn ppp_protocol(protocol: u16, rest: &[u8]) -> LinkPayload<'_> {
    match protocol {
        0x0021 => ip(ETHERTYPE_IPV4, rest),
        0x0057 => ip(ETHERTYPE_IPV6, rest),
        _ => LinkPayload::NotIp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ether_type_of(p: LinkPayload<'_>) -> Option<u16> {
        match p {
            LinkPayload::Ip { ether_type, .. } => Some(ether_type),
            _ => None,
        }
    }

    #[test]
    fn loopback_families() {
        assert_eq!(
            ether_type_of(strip_link(0, &[2, 0, 0, 0, 0x45])),
            Some(0x0800)
        );
        assert_eq!(
            ether_type_of(strip_link(108, &[0, 0, 0, 2, 0x45])),
            Some(0x0800)
        );
        assert_eq!(
            ether_type_of(strip_link(0, &[30, 0, 0, 0, 0x60])),
            Some(0x86DD)
        );
    }

    #[test]
    fn ppp_forms() {
        assert_eq!(
            ether_type_of(strip_link(9, &[0xFF, 0x03, 0x00, 0x21, 0x45])),
            Some(0x0800)
        );
        assert_eq!(ether_type_of(strip_link(9, &[0x21, 0x45])), Some(0x0800));
        assert_eq!(
            ether_type_of(strip_link(50, &[0x00, 0x57, 0x60])),
            Some(0x86DD)
        );
    }

    #[test]
    fn short_headers_are_malformed() {
        assert!(matches!(strip_link(1, &[0; 13]), LinkPayload::Malformed(_)));
        assert!(matches!(
            strip_link(276, &[0; 19]),
            LinkPayload::Malformed(_)
        ));
        assert!(matches!(
            strip_link(147, &[0; 40]),
            LinkPayload::Unsupported
        ));
    }
}
