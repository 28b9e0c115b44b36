//! QUIC packet headers (RFC 9000 §17, RFC 9369 for v2) and Google QUIC: whether a datagram is
//! QUIC, and which version. The TLS handshake inside Initial packets is read by [`initial`].

mod handshake;
pub mod initial;
mod legacy;

/// A QUIC long header's version, or a gQUIC version, if `b` starts with one.
pub fn long_header_version(b: &[u8]) -> Option<u32> {
    if b.len() < 7 {
        return None;
    }
    if b[0] & 0x80 != 0 {
        let version = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
        if !known_version(version) {
            return None;
        }
        let cids_fit = if b[5] <= 20 {
            // RFC 9000 §17.2: DCID length, DCID, SCID length, SCID (each at most 20 bytes).
            let dcid_len = usize::from(b[5]);
            let scid_len = usize::from(*b.get(6 + dcid_len)?);
            scid_len <= 20 && b.len() >= 7 + dcid_len + scid_len
        } else {
            // Early drafts and gQUIC Q046: one byte of two 4-bit lengths, each +3 when non-zero.
            let nib = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
            b.len() >= 6 + nib(b[5] >> 4) + nib(b[5] & 0x0F)
        };
        return cids_fit.then_some(version);
    }
    // gQUIC (Q039–Q043): public flags with version bit (0x01) and 8-byte connection id (0x08),
    // then the version as 4 ASCII characters "Q0xx".
    if b[0] & 0x09 == 0x09 && b.len() >= 13 && b[9] == b'Q' && b[10].is_ascii_digit() {
        return Some(u32::from_be_bytes([b[9], b[10], b[11], b[12]]));
    }
    None
}

/// A version we recognise: v1, v2, IETF drafts, gQUIC over IETF headers (Qxxx, Txxx),
/// Facebook mvfst, version negotiation (0), and the reserved `0x?a?a?a?a` versions clients send
/// to force version negotiation (RFC 9000 §15).
pub fn known_version(v: u32) -> bool {
    matches!(v, 0 | 1 | 0x6b33_43cf | 0xff00_0000..=0xff00_00ff | 0xface_b000..=0xface_b0ff)
        || v & 0x0F0F_0F0F == 0x0A0A_0A0A
        || (matches!((v >> 24) as u8, b'Q' | b'T') && ((v >> 16) as u8).is_ascii_digit())
}

/// How the verdict names a QUIC version: "1", "2", "draft-29", "Q050", "T051", or hex.
pub fn version_name(v: u32) -> String {
    match v {
        0 => "version-negotiation".into(),
        1 => "1".into(),
        0x6b33_43cf => "2".into(),
        v if v >> 8 == 0xff_0000 => format!("draft-{}", v & 0xFF),
        v if v & 0x0F0F_0F0F == 0x0A0A_0A0A => format!("reserved-0x{v:08x}"),
        v if matches!((v >> 24) as u8, b'Q' | b'T') => {
            String::from_utf8_lossy(&v.to_be_bytes()).into_owned()
        }
        other => format!("0x{other:08x}"),
    }
}

/// What the QUIC packets of one flow showed.
#[derive(Debug, Clone, Default)]
pub struct QuicFacts {
    pub version: Option<u32>,
    pub long_header_packets: u64,
    pub short_header_packets: u64,
    pub gquic: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        // long header, v1, DCID 8 bytes, SCID 0
        let mut p = vec![0xC3, 0, 0, 0, 1, 8];
        p.extend_from_slice(&[7; 8]);
        p.push(0);
        p.extend_from_slice(&[0; 20]);
        assert_eq!(long_header_version(&p), Some(1));
        p[4] = 2; // unknown version 0x00000002
        assert_eq!(long_header_version(&p), None);
        assert_eq!(version_name(0xff00_001d), "draft-29");
        assert_eq!(version_name(0x5130_3530), "Q050");
    }
}
