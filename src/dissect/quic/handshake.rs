//! QUIC Handshake packets opened with a key log: the server's handshake keys derived from the
//! session's server handshake traffic secret (RFC 9001 §5.1: "quic key", "quic iv", "quic hp";
//! RFC 9369 §3.3.2 for v2's "quicv2 …" labels), header protection removed (§5.4), the packet
//! number recovered (RFC 9000 §A.3) and the payload opened (§5.3). What the packets carry (the
//! CRYPTO stream of EncryptedExtensions and Certificate) is read by [`super::initial`].

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, quic};
use ring::hkdf;

use crate::dissect::tls::keylog::expand_label;

/// The keys that open one side's Handshake packets.
pub struct HandshakeKeys {
    header: quic::HeaderProtectionKey,
    packet: LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
    largest_packet_number: Option<u64>,
}

impl std::fmt::Debug for HandshakeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeKeys")
            .field("largest_packet_number", &self.largest_packet_number)
            .finish_non_exhaustive()
    }
}

impl HandshakeKeys {
    /// Keys of a TLS 1.3 cipher suite under `secret`, for QUIC v1 (and its drafts 29-32) or v2;
    /// None for another version or a suite without an AEAD here (CCM).
    /// Whether this version's and cipher suite's Handshake packets can be opened ([`Self::new`]
    /// with the session's secret).
    pub fn supports(version: u32, cipher_suite: u32) -> bool {
        matches!(version, 1 | 0xff00_001d..=0xff00_0020 | 0x6b33_43cf)
            && matches!(cipher_suite, 0x1301..=0x1303)
    }

    pub fn new(version: u32, cipher_suite: u32, secret: &[u8]) -> Option<Self> {
        let (key_label, iv_label, hp_label): (&[u8], &[u8], &[u8]) = match version {
            1 | 0xff00_001d..=0xff00_0020 => (b"quic key", b"quic iv", b"quic hp"),
            0x6b33_43cf => (b"quicv2 key", b"quicv2 iv", b"quicv2 hp"),
            _ => return None,
        };
        let (packet_algorithm, header_algorithm, hash) = match cipher_suite {
            0x1301 => (&aead::AES_128_GCM, &quic::AES_128, hkdf::HKDF_SHA256),
            0x1302 => (&aead::AES_256_GCM, &quic::AES_256, hkdf::HKDF_SHA384),
            0x1303 => (&aead::CHACHA20_POLY1305, &quic::CHACHA20, hkdf::HKDF_SHA256),
            _ => return None,
        };
        let key = expand_label(hash, secret, key_label, packet_algorithm.key_len())?;
        let iv = expand_label(hash, secret, iv_label, aead::NONCE_LEN)?;
        let hp = expand_label(hash, secret, hp_label, header_algorithm.key_len())?;
        Some(Self {
            header: quic::HeaderProtectionKey::new(header_algorithm, &hp).ok()?,
            packet: LessSafeKey::new(UnboundKey::new(packet_algorithm, &key).ok()?),
            iv: iv.try_into().ok()?,
            largest_packet_number: None,
        })
    }

    /// Open one long-header packet whose packet number starts at `pn_offset`: its frames, or
    /// None when the tag does not verify.
    pub fn open(&mut self, packet: &[u8], pn_offset: usize) -> Option<Vec<u8>> {
        let sample = packet.get(pn_offset + 4..pn_offset + 4 + 16)?;
        let mask = self.header.new_mask(sample).ok()?;
        let mut p = packet.to_vec();
        p[0] ^= mask[0] & 0x0F;
        let pn_len = usize::from(p[0] & 0x03) + 1;
        let mut truncated = 0u64;
        for (b, m) in p
            .get_mut(pn_offset..pn_offset + pn_len)?
            .iter_mut()
            .zip(&mask[1..])
        {
            *b ^= m;
            truncated = (truncated << 8) | u64::from(*b);
        }
        let number = decode_packet_number(self.largest_packet_number, truncated, pn_len * 8);
        let mut nonce = self.iv;
        for (n, x) in nonce[4..].iter_mut().zip(number.to_be_bytes()) {
            *n ^= x;
        }
        let (header, payload) = p.split_at_mut(pn_offset + pn_len);
        let plain = self
            .packet
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*header),
                payload,
            )
            .ok()?
            .to_vec();
        self.largest_packet_number =
            Some(self.largest_packet_number.map_or(number, |l| l.max(number)));
        Some(plain)
    }
}

/// The full packet number nearest the next expected one (RFC 9000 §A.3).
fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let window = 1u64 << bits;
    let half = window / 2;
    let candidate = (expected & !(window - 1)) | truncated;
    if candidate + half <= expected && candidate < (1 << 62) - window {
        candidate + window
    } else if candidate > expected + half && candidate >= window {
        candidate - window
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §A.3's example: largest 0xa82f30ea, truncated 0x9b32 (16 bits).
    #[test]
    fn packet_numbers_decode_as_rfc9000_shows() {
        assert_eq!(
            decode_packet_number(Some(0xa82f_30ea), 0x9b32, 16),
            0xa82f_9b32
        );
        assert_eq!(decode_packet_number(None, 0, 8), 0);
        assert_eq!(decode_packet_number(Some(255), 0, 8), 256);
    }

    /// RFC 9001 §A.1/A.3: the server Initial secret's key, IV and HP key use the same labels
    /// (the Initial secret is just another secret to these derivations).
    #[test]
    fn rfc9001_server_initial_keys() {
        let secret =
            hex::decode("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
                .unwrap();
        let key = expand_label(hkdf::HKDF_SHA256, &secret, b"quic key", 16).unwrap();
        let iv = expand_label(hkdf::HKDF_SHA256, &secret, b"quic iv", 12).unwrap();
        let hp = expand_label(hkdf::HKDF_SHA256, &secret, b"quic hp", 16).unwrap();
        assert_eq!(hex::encode(key), "cf3a5331653c364c88f0f379b6067e37");
        assert_eq!(hex::encode(iv), "0ac1493ca1905853b0bba03e");
        assert_eq!(hex::encode(hp), "c206b8d9b9f0f37644430b490eeaa314");
        assert!(HandshakeKeys::new(1, 0x1301, &secret).is_some());
        assert!(HandshakeKeys::new(0xff00_0017, 0x1301, &secret).is_none());
    }
}
