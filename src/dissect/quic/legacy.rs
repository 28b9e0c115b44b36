//! Initial-packet keys for QUIC versions whose salts rustls does not carry: IETF drafts 21–28,
//! Facebook's mvfst versions and Google's TLS-based T050/T051 (salts as published in Chromium's
//! QUIC library, `crypto_utils.cc`). Derived as RFC 9001 §5.2 describes (HKDF
//! with the version's Initial salt, "tls13 " labels, AES-128-GCM and AES header protection) with
//! ring, which rustls already builds on.
//!
//! A salt that is wrong for a version cannot produce a packet whose AEAD tag verifies, so trying
//! the candidate salts of a version is self-checking: the verdict never reads a ClientHello out
//! of a packet that did not authenticate.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, quic};
use ring::hkdf;

/// IETF drafts 23–28 (and mvfst builds of that era).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// IETF drafts 21–22.
const SALT_DRAFT_21: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// IETF drafts 29–32 (also in rustls), tried for mvfst's later builds.
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// Google QUIC T050 ("T050", TLS 1.3 handshake in IETF-style Initial packets).
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google QUIC T051.
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];
/// The salts to try for a version rustls does not know, most likely first.
pub fn candidate_salts(version: u32) -> &'static [[u8; 20]] {
    match version {
        0xff00_0015..=0xff00_0016 => &[SALT_DRAFT_21],
        0xff00_0017..=0xff00_001c => &[SALT_DRAFT_23],
        0xface_b000..=0xface_b0ff => &[SALT_DRAFT_23, SALT_DRAFT_21, SALT_DRAFT_29],
        0x5430_3530 => &[SALT_T050],
        0x5430_3531 => &[SALT_T051],
        _ => &[],
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    let full_len = 6 + label.len();
    let len = (out.len() as u16).to_be_bytes();
    let info: [&[u8]; 5] = [&len, &[full_len as u8], b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// Keys that open the Initial packets one side sends.
pub struct Keys {
    header: quic::HeaderProtectionKey,
    packet: LessSafeKey,
    iv: [u8; 12],
}

impl Keys {
    /// Keys for the packets of the client (`client_side`) or of the server.
    pub fn derive(salt: &[u8; 20], dcid: &[u8], client_side: bool) -> Option<Self> {
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(dcid);
        let mut secret = [0u8; 32];
        let label: &[u8] = if client_side {
            b"client in"
        } else {
            b"server in"
        };
        expand_label(&initial, label, &mut secret)?;
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        expand_label(&prk, b"quic key", &mut key)?;
        expand_label(&prk, b"quic iv", &mut iv)?;
        expand_label(&prk, b"quic hp", &mut hp)?;
        Some(Self {
            header: quic::HeaderProtectionKey::new(&quic::AES_128, &hp).ok()?,
            packet: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).ok()?),
            iv,
        })
    }

    pub fn sample_len(&self) -> usize {
        16
    }

    /// Remove header protection from the first byte and the (up to 4) packet-number bytes.
    pub fn unprotect_header(&self, sample: &[u8], first: &mut u8, pn: &mut [u8]) -> Option<()> {
        let mask = self.header.new_mask(sample).ok()?;
        *first ^= mask[0] & if *first & 0x80 != 0 { 0x0F } else { 0x1F };
        let pn_len = usize::from(*first & 0x03) + 1;
        for (b, m) in pn.iter_mut().take(pn_len).zip(&mask[1..]) {
            *b ^= m;
        }
        Some(())
    }

    /// Decrypt and authenticate the payload in place.
    pub fn open<'p>(&self, pn: u64, header: &[u8], payload: &'p mut [u8]) -> Option<&'p [u8]> {
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let plain = self
            .packet
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                payload,
            )
            .ok()?;
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 Appendix A.1 derivation, run with this module's code and the v1 salt: the client
    /// Initial key, IV and header-protection key the RFC lists.
    #[test]
    fn rfc9001_appendix_a_keys() {
        let v1_salt: [u8; 20] = [
            0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
        ];
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &v1_salt).extract(&dcid);
        let mut secret = [0u8; 32];
        expand_label(&initial, b"client in", &mut secret).unwrap();
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(&prk, b"quic key", &mut key).unwrap();
        expand_label(&prk, b"quic iv", &mut iv).unwrap();
        assert_eq!(hex::encode(key), "1f369613dd76d5467730efcbe3b1a22d");
        assert_eq!(hex::encode(iv), "fa044b2f42a3fd3b46fb255c");
    }
}
