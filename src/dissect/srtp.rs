//! SRTP opened with known keys: the keys a DTLS-SRTP handshake exports from a secret a key log
//! holds (or an SDP carried in clear), and each RTP packet authenticated and decrypted with them.
//!
//! Owns: the protection profiles' sizes (RFC 5764 §4.1.2, RFC 7714 §14.2); the exporter
//! `EXTRACTOR-dtls_srtp` (RFC 5764 §4.2) of DTLS 1.2 (RFC 5705 over the TLS 1.2 PRF, RFC 5246
//! §5, from the master secret) and of DTLS 1.3 (RFC 8446 §7.5 with "dtls13" labels, from the
//! exporter secret); the session keys derived from a master key and salt (RFC 3711 §4.3, AES-CM PRF; AES-256
//! per RFC 6188); the rollover counter estimated per SSRC (RFC 3711 §3.3.1); the check of one
//! RTP packet: HMAC-SHA1 tag and AES counter mode (RFC 3711 §4.1.1, §4.2), or AES-GCM (RFC 7714
//! §8–9); the counts per stream; the master key an SDP `a=crypto` line carries in clear
//! (SDES, RFC 4568 §9.2); the look at each decrypted payload for an inner end-to-end layer
//! (Jitsi Meet's frame trailer, [`inner_e2ee_trailer`]; SFrame headers whose counter runs on
//! from frame to frame, [`SframeFollow`]). Must not: keep decrypted media — each
//! payload is decrypted into one scratch buffer, looked at and dropped — nor count a packet
//! whose tag does not verify.
//!
//! SRTCP is checked with the same master keys (labels 3–5), on the flow of its RTP (RFC 5761
//! multiplexing) or, for SDES, on the RTCP port its media line names. Not opened: the NULL
//! profiles (no encryption to remove) nor DTLS 1.0 sessions (their PRF is MD5 + SHA-1).

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use ring::{aead, hmac};

/// The exporter label of DTLS-SRTP (RFC 5764 §4.2).
const EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";

/// Streams (SSRC and direction) followed per flow; packets of further ones are counted.
pub const MAX_STREAMS: usize = 32;

/// An SRTP protection profile this module opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl Profile {
    /// The profile with this `use_srtp` value, when this module opens it.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0001 => Some(Self::AesCm128HmacSha1_80),
            0x0002 => Some(Self::AesCm128HmacSha1_32),
            0x0007 => Some(Self::AeadAes128Gcm),
            0x0008 => Some(Self::AeadAes256Gcm),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    fn salt_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Bytes of authentication tag after each RTP packet.
    fn tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }
}

/// The hash of the TLS 1.2 PRF a cipher suite names (RFC 5246 §5; SHA-384 suites, RFC 5289).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfHash {
    Sha256,
    Sha384,
}

impl PrfHash {
    /// The PRF hash of a TLS 1.2 cipher suite: SHA-384 for the suites whose name ends in
    /// SHA384, SHA-256 otherwise.
    pub fn of_cipher_suite(id: u16) -> Self {
        match tls_parser::TlsCipherSuite::from_id(id) {
            Some(s) if s.prf == tls_parser::TlsPRF::Sha384 => Self::Sha384,
            _ => Self::Sha256,
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// The TLS 1.2 PRF, P_hash (RFC 5246 §5): `len` bytes of `secret`, `label` and `seed`.
fn tls12_prf(hash: PrfHash, secret: &[u8], label: &[u8], seed: &[&[u8]], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.algorithm(), secret);
    let with_seed = |first: &[u8]| {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(first);
        ctx.update(label);
        for part in seed {
            ctx.update(part);
        }
        ctx.sign()
    };
    let mut out = Vec::with_capacity(len);
    // A(1) = HMAC(secret, label + seed); A(i) = HMAC(secret, A(i-1))
    let mut a = with_seed(&[]);
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(label);
        for part in seed {
            ctx.update(part);
        }
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, a.as_ref());
    }
    out.truncate(len);
    out
}

/// One side's SRTP master key and salt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKey {
    pub key: Vec<u8>,
    pub salt: Vec<u8>,
}

/// The SRTP master keys a DTLS 1.2 session exports (RFC 5764 §4.2): `[client's, server's]`,
/// each protecting what that side of the handshake sends.
pub fn dtls_srtp_master_keys(
    profile: Profile,
    prf: PrfHash,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> [MasterKey; 2] {
    let (k, s) = (profile.key_len(), profile.salt_len());
    let m = tls12_prf(
        prf,
        master_secret,
        EXPORTER_LABEL,
        &[client_random, server_random],
        2 * (k + s),
    );
    split_keying_material(profile, &m)
}

/// Exported keying material, `client key | server key | client salt | server salt` (RFC
/// 5764 §4.2), as `[client's, server's]` master keys.
fn split_keying_material(profile: Profile, m: &[u8]) -> [MasterKey; 2] {
    let (k, s) = (profile.key_len(), profile.salt_len());
    let side = |i: usize| MasterKey {
        key: m[i * k..(i + 1) * k].to_vec(),
        salt: m[2 * k + i * s..2 * k + (i + 1) * s].to_vec(),
    };
    [side(0), side(1)]
}

/// The SRTP master keys a DTLS 1.3 session exports (RFC 5764 §4.2 with the TLS 1.3 exporter,
/// RFC 8446 §7.5, labels prefixed "dtls13" as RFC 9147 §5.9 has it): from the session's
/// exporter master secret (a key log's `EXPORTER_SECRET`), with no context. `prf`: the
/// suite's hash (SHA-384 for TLS_AES_256_GCM_SHA384). `[client's, server's]`.
pub fn dtls13_srtp_master_keys(
    profile: Profile,
    prf: PrfHash,
    exporter_secret: &[u8],
) -> Option<[MasterKey; 2]> {
    use crate::dissect::tls::keylog::{LabelPrefix, expand_label_with};
    let (hkdf, digest) = match prf {
        PrfHash::Sha256 => (ring::hkdf::HKDF_SHA256, &ring::digest::SHA256),
        PrfHash::Sha384 => (ring::hkdf::HKDF_SHA384, &ring::digest::SHA384),
    };
    let empty_hash = ring::digest::digest(digest, b"");
    // Derive-Secret(secret, label, "") = HKDF-Expand-Label(secret, label, Hash(""), Hash.length)
    let derived = expand_label_with(
        hkdf,
        LabelPrefix::Dtls13,
        exporter_secret,
        EXPORTER_LABEL,
        empty_hash.as_ref(),
        digest.output_len(),
    )?;
    let (k, s) = (profile.key_len(), profile.salt_len());
    let m = expand_label_with(
        hkdf,
        LabelPrefix::Dtls13,
        &derived,
        b"exporter",
        empty_hash.as_ref(),
        2 * (k + s),
    )?;
    Some(split_keying_material(profile, &m))
}

/// The secret a key log holds for a DTLS session, from which its SRTP keys are exported.
#[derive(Debug, Clone, Copy)]
pub enum SessionSecret<'a> {
    /// DTLS 1.2: the master secret (`CLIENT_RANDOM`), through the TLS 1.2 PRF.
    Master(&'a [u8; 48]),
    /// DTLS 1.3: the exporter master secret (`EXPORTER_SECRET`), through HKDF.
    Exporter(&'a [u8]),
}

/// An AES-128 or AES-256 block cipher, by its key's length: SRTP's counter mode and key
/// derivation.
#[derive(Clone)]
enum Aes {
    A128(Box<aes::Aes128>),
    A256(Box<aes::Aes256>),
}

impl std::fmt::Debug for Aes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::A128(_) => "Aes128",
            Self::A256(_) => "Aes256",
        })
    }
}

impl Aes {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => aes::Aes128::new_from_slice(key)
                .ok()
                .map(|c| Self::A128(Box::new(c))),
            32 => aes::Aes256::new_from_slice(key)
                .ok()
                .map(|c| Self::A256(Box::new(c))),
            _ => None,
        }
    }

    /// Encrypt one block in place.
    fn encrypt_block(&self, block: &mut aes::Block) {
        match self {
            Self::A128(c) => c.encrypt_block(block),
            Self::A256(c) => c.encrypt_block(block),
        }
    }

    /// XOR AES counter mode keystream from `iv` (the whole block counts, RFC 3711 §4.1.1) onto
    /// `data`.
    fn apply_keystream(&self, iv: [u8; 16], data: &mut [u8]) {
        let start = u128::from_be_bytes(iv);
        for (j, chunk) in data.chunks_mut(16).enumerate() {
            let mut block = aes::Block::from(start.wrapping_add(j as u128).to_be_bytes());
            self.encrypt_block(&mut block);
            for (d, k) in chunk.iter_mut().zip(block.iter()) {
                *d ^= k;
            }
        }
    }
}

/// The AES-CM PRF of RFC 3711 §4.3.1–§4.3.3 (key derivation rate 0): `out.len()` bytes for
/// `label` from the master key and salt. A 12-byte (AEAD) salt is padded with zeros to 14
/// bytes, as libsrtp does.
fn derive(master: &Aes, master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    let n = master_salt.len().min(14);
    iv[..n].copy_from_slice(&master_salt[..n]);
    // key_id = label || r (48 bits, 0), right-aligned with the 112-bit salt: the label XORs
    // onto byte 7; then x · 2^16.
    iv[7] ^= label;
    out.fill(0);
    master.apply_keystream(iv, out);
}

enum Cipher {
    Cm { aes: Aes, auth: hmac::Key },
    Gcm(Box<aead::LessSafeKey>),
}

/// The keys of one kind of packet (RTP or RTCP) in one direction.
struct Keys {
    cipher: Cipher,
    salt: [u8; 14],
}

impl Keys {
    /// RFC 3711 §4.3 with the labels of RTP (0 encryption, 1 authentication, 2 salt) or of RTCP
    /// (3, 4, 5).
    fn derive(profile: Profile, prf: &Aes, master_salt: &[u8], first_label: u8) -> Option<Self> {
        let mut key = vec![0u8; profile.key_len()];
        derive(prf, master_salt, first_label, &mut key);
        let mut salt = [0u8; 14];
        derive(
            prf,
            master_salt,
            first_label + 2,
            &mut salt[..profile.salt_len()],
        );
        let cipher = match profile {
            Profile::AesCm128HmacSha1_80 | Profile::AesCm128HmacSha1_32 => {
                let mut auth = [0u8; 20];
                derive(prf, master_salt, first_label + 1, &mut auth);
                Cipher::Cm {
                    aes: Aes::new(&key)?,
                    auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &auth),
                }
            }
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => {
                let algorithm = if profile == Profile::AeadAes128Gcm {
                    &aead::AES_128_GCM
                } else {
                    &aead::AES_256_GCM
                };
                Cipher::Gcm(Box::new(aead::LessSafeKey::new(
                    aead::UnboundKey::new(algorithm, &key).ok()?,
                )))
            }
        };
        Some(Self { cipher, salt })
    }
}

/// The session keys of one direction of an SRTP session: its RTP and its RTCP keys.
pub struct SessionKeys {
    profile: Profile,
    rtp: Keys,
    rtcp: Keys,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// The session keys of a master key (RFC 3711 §4.3); `None` when the master key's sizes
    /// do not fit the profile.
    pub fn derive(profile: Profile, master: &MasterKey) -> Option<Self> {
        if master.key.len() != profile.key_len() || master.salt.len() != profile.salt_len() {
            return None;
        }
        let prf = Aes::new(&master.key)?;
        Some(Self {
            profile,
            rtp: Keys::derive(profile, &prf, &master.salt, 0)?,
            rtcp: Keys::derive(profile, &prf, &master.salt, 3)?,
        })
    }

    /// Authenticate (and, when its E flag says so, decrypt) one SRTCP packet (RFC 3711 §3.4,
    /// RFC 7714 §9): whether its tag verified. The SRTCP tag is 80 bits for both HMAC-SHA1
    /// profiles (RFC 5764 §4.1.2); an AEAD packet carries its tag before the index.
    pub fn open_rtcp(&self, packet: &[u8], scratch: &mut Vec<u8>) -> bool {
        let n = packet.len();
        scratch.clear();
        match &self.rtcp.cipher {
            Cipher::Cm { aes, auth } => {
                if n < 8 + 4 + 10 {
                    return false;
                }
                let (authenticated, tag) = packet.split_at(n - 10);
                if hmac::sign(auth, authenticated).as_ref()[..10] != *tag {
                    return false;
                }
                let e_index = u32::from_be_bytes([
                    packet[n - 14],
                    packet[n - 13],
                    packet[n - 12],
                    packet[n - 11],
                ]);
                if e_index & 0x8000_0000 != 0 {
                    let mut iv = [0u8; 16];
                    iv[..14].copy_from_slice(&self.rtcp.salt);
                    for (i, b) in packet[4..8].iter().enumerate() {
                        iv[4 + i] ^= b;
                    }
                    for (i, b) in (e_index & 0x7FFF_FFFF).to_be_bytes().iter().enumerate() {
                        iv[10 + i] ^= b;
                    }
                    scratch.extend_from_slice(&packet[8..n - 14]);
                    aes.apply_keystream(iv, scratch);
                }
                true
            }
            Cipher::Gcm(key) => {
                if n < 8 + 16 + 4 {
                    return false;
                }
                let e_index = &packet[n - 4..];
                let encrypted = e_index[0] & 0x80 != 0;
                // IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) ⊕ salt (RFC 7714 §9.1)
                let mut iv = [0u8; 12];
                iv[2..6].copy_from_slice(&packet[4..8]);
                iv[8..12].copy_from_slice(e_index);
                iv[8] &= 0x7F;
                for (v, s) in iv.iter_mut().zip(&self.rtcp.salt) {
                    *v ^= s;
                }
                // AAD: the header and E||index; without encryption, the whole packet (§9.2–9.3)
                let clear_end = if encrypted { 8 } else { n - 4 - 16 };
                let mut aad = Vec::with_capacity(clear_end + 4);
                aad.extend_from_slice(&packet[..clear_end]);
                aad.extend_from_slice(e_index);
                scratch.extend_from_slice(&packet[clear_end..n - 4]);
                match key.open_in_place(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::from(&aad),
                    scratch,
                ) {
                    Ok(plain) => {
                        let plain = plain.len();
                        scratch.truncate(plain);
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    }

    /// Authenticate and decrypt one SRTP packet (`packet`: the whole datagram, `header_len`:
    /// its RTP header with CSRCs and extension) under packet index `roc · 2^16 + seq`. On
    /// success `scratch` holds the payload in clear (padding removed) and true is returned.
    pub fn open_rtp(
        &self,
        packet: &[u8],
        header_len: usize,
        roc: u32,
        scratch: &mut Vec<u8>,
    ) -> bool {
        let tag_len = self.profile.tag_len();
        if packet.len() < header_len + tag_len || header_len < 12 {
            return false;
        }
        let ssrc = &packet[8..12];
        let seq = &packet[2..4];
        let header = &packet[..header_len];
        scratch.clear();
        let opened = match &self.rtp.cipher {
            Cipher::Cm { aes, auth } => {
                let (authenticated, tag) = packet.split_at(packet.len() - tag_len);
                let mut ctx = hmac::Context::with_key(auth);
                ctx.update(authenticated);
                ctx.update(&roc.to_be_bytes());
                if ctx.sign().as_ref()[..tag_len] != *tag {
                    return false;
                }
                // IV = k_s · 2^16 ⊕ SSRC · 2^64 ⊕ index · 2^16
                let mut iv = [0u8; 16];
                iv[..14].copy_from_slice(&self.rtp.salt);
                for (i, b) in ssrc.iter().enumerate() {
                    iv[4 + i] ^= b;
                }
                for (i, b) in roc.to_be_bytes().iter().chain(seq).enumerate() {
                    iv[8 + i] ^= b;
                }
                scratch.extend_from_slice(&authenticated[header_len..]);
                aes.apply_keystream(iv, scratch);
                true
            }
            Cipher::Gcm(key) => {
                // IV = (0x0000 || SSRC || ROC || SEQ) ⊕ salt (RFC 7714 §8.1)
                let mut iv = [0u8; 12];
                iv[2..6].copy_from_slice(ssrc);
                iv[6..10].copy_from_slice(&roc.to_be_bytes());
                iv[10..12].copy_from_slice(seq);
                for (v, s) in iv.iter_mut().zip(&self.rtp.salt) {
                    *v ^= s;
                }
                scratch.extend_from_slice(&packet[header_len..]);
                match key.open_in_place(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::from(header),
                    scratch,
                ) {
                    Ok(plain) => {
                        let n = plain.len();
                        scratch.truncate(n);
                        true
                    }
                    Err(_) => false,
                }
            }
        };
        if opened && packet[0] & 0x20 != 0 {
            // RFC 3550 §5.1: the last payload byte counts the padding, itself included
            let pad = usize::from(scratch.last().copied().unwrap_or(0));
            scratch.truncate(scratch.len().saturating_sub(pad));
        }
        opened
    }
}

/// The rollover counter of one stream, estimated from its sequence numbers (RFC 3711 §3.3.1,
/// Appendix A); DTLS-SRTP starts every stream at 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rollover {
    started: bool,
    roc: u32,
    highest_seq: u16,
}

impl Rollover {
    fn guess(&self, seq: u16) -> u32 {
        if !self.started {
            return 0;
        }
        let (s_l, seq) = (i32::from(self.highest_seq), i32::from(seq));
        if s_l < 32768 {
            if seq - s_l > 32768 {
                return self.roc.wrapping_sub(1);
            }
        } else if s_l - 32768 > seq {
            return self.roc.wrapping_add(1);
        }
        self.roc
    }

    /// An authenticated packet moves the estimate.
    fn update(&mut self, seq: u16, roc: u32) {
        if !self.started {
            *self = Self {
                started: true,
                roc,
                highest_seq: seq,
            };
        } else if roc == self.roc.wrapping_add(1) {
            self.roc = roc;
            self.highest_seq = seq;
        } else if roc == self.roc && seq > self.highest_seq {
            self.highest_seq = seq;
        }
    }
}

/// What opening one stream's packets showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCheck {
    pub ssrc: u32,
    /// Direction on the flow (0 = client to server).
    pub dir: u8,
    /// Packets whose tag verified (and whose payload was decrypted).
    pub authenticated: u64,
    /// Packets whose tag verified under neither the estimated rollover counter nor its two
    /// neighbours.
    pub failed: u64,
    /// Authenticated packets whose payload in clear ends with Jitsi Meet's frame trailer
    /// ([`inner_e2ee_trailer`]).
    pub jitsi_trailers: u64,
    /// Jitsi Meet's trailers whose IV names another SSRC and timestamp than the packet's.
    pub jitsi_rewritten: RewrittenTrailers,
    /// The SFrame headers followed over the stream's frames.
    pub sframe: SframeFollow,
    /// The payloads that repeat another stream's packets (RFC 4588 retransmissions).
    pub retransmits: Retransmits,
    rollover: Rollover,
}

impl StreamCheck {
    /// Authenticated packets that carry an inner end-to-end layer: a Jitsi Meet frame trailer
    /// or an SFrame header in an established run.
    pub fn inner_e2ee(&self) -> u64 {
        self.jitsi_trailers + self.jitsi_rewritten.packets + self.sframe.frames()
    }
}

/// Opened packets a stream needs before the absence of an inner layer says something: fewer
/// may all be retransmissions or frames too few for an SFrame run ([`SFRAME_RUN`]).
pub const INNER_LAYER_MIN_PACKETS: u64 = 32;

/// Packets remembered per stream, by sequence number, for recognising their retransmissions:
/// a retransmission (RFC 4588) follows its original by less than this many of the original
/// stream's packets.
const RECENT_PACKETS: usize = 512;
/// How far on each side of a missing sequence number its captured neighbours are looked for.
const GAP_NEIGHBOURS: u16 = 16;
/// Payloads that must repeat another stream's packets, and at least half of a stream's, before
/// the stream is taken for that stream's retransmissions.
pub const RTX_MIN_PACKETS: u64 = 4;

/// How a payload repeats a packet of another stream ([`RecentPackets::repeated`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A packet captured earlier: its sequence number, RTP timestamp and payload alike.
    Copy,
    /// A sequence number the capture lacks, below the stream's highest, at an RTP timestamp
    /// between those of its nearest captured neighbours.
    GapFill,
}

/// One opened packet remembered: its sequence number, RTP timestamp and payload digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Recent {
    seen: bool,
    seq: u16,
    timestamp: u32,
    digest: u32,
}

/// The last [`RECENT_PACKETS`] opened packets of one stream, by sequence number: what a
/// retransmission of one of them is checked against.
#[derive(Debug, Clone)]
pub struct RecentPackets {
    slots: Box<[Recent]>,
    highest: Option<u16>,
}

impl Default for RecentPackets {
    fn default() -> Self {
        Self {
            slots: vec![Recent::default(); RECENT_PACKETS].into_boxed_slice(),
            highest: None,
        }
    }
}

/// A digest of a payload in clear: two payloads alike in it are the same payload but once in
/// 2^32.
fn payload_digest(payload: &[u8]) -> u32 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(payload) as u32
}

impl RecentPackets {
    /// One opened packet of the stream, its payload in clear.
    pub fn record(&mut self, seq: u16, timestamp: u32, payload: &[u8]) {
        self.slots[usize::from(seq) % RECENT_PACKETS] = Recent {
            seen: true,
            seq,
            timestamp,
            digest: payload_digest(payload),
        };
        if self.highest.is_none_or(|h| seq.wrapping_sub(h) < 0x8000) {
            self.highest = Some(seq);
        }
    }

    fn get(&self, seq: u16) -> Option<&Recent> {
        Some(&self.slots[usize::from(seq) % RECENT_PACKETS]).filter(|r| r.seen && r.seq == seq)
    }

    /// Whether a payload that begins with sequence number `osn` of this stream, followed by
    /// `original`, at RTP timestamp `timestamp`, repeats one of this stream's packets (RFC 4588
    /// §4: a retransmission carries the original's sequence number before its payload, and its
    /// timestamp): a packet remembered with that sequence number, timestamp and payload; or,
    /// when the capture lacks that sequence number (the original lost before the capture
    /// point), below the highest by less than [`RECENT_PACKETS`] or above it by at most
    /// [`GAP_NEIGHBOURS`], a timestamp not before that of the nearest packet captured below
    /// it and not after that of the nearest captured above it (when there is one yet), each
    /// looked for within [`GAP_NEIGHBOURS`].
    pub fn repeated(&self, osn: u16, timestamp: u32, original: &[u8]) -> Option<Repeat> {
        let highest = self.highest?;
        let behind = highest.wrapping_sub(osn);
        let ahead = osn.wrapping_sub(highest);
        if usize::from(behind) >= RECENT_PACKETS && !(1..=GAP_NEIGHBOURS).contains(&ahead) {
            return None;
        }
        if let Some(r) = self.get(osn) {
            return (r.timestamp == timestamp && r.digest == payload_digest(original))
                .then_some(Repeat::Copy);
        }
        let below = (1..=GAP_NEIGHBOURS).find_map(|d| self.get(osn.wrapping_sub(d)))?;
        let after_below = timestamp.wrapping_sub(below.timestamp);
        if after_below >= 0x8000_0000 {
            return None;
        }
        if usize::from(behind) >= RECENT_PACKETS {
            return Some(Repeat::GapFill); // above the highest: no successor captured yet
        }
        let above = (1..=GAP_NEIGHBOURS.min(behind)).find_map(|d| self.get(osn.wrapping_add(d)))?;
        let span = above.timestamp.wrapping_sub(below.timestamp);
        (span < 0x8000_0000 && after_below <= span).then_some(Repeat::GapFill)
    }
}

/// The payloads of one stream that repeat packets of another stream of its flow and direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retransmits {
    /// The stream the first repeated packet belongs to; repeats of others are not counted.
    pub ssrc: Option<u32>,
    /// Payloads that repeat a packet captured earlier ([`Repeat::Copy`]).
    pub copies: u64,
    /// Payloads that fill a gap in its sequence numbers ([`Repeat::GapFill`]).
    pub gap_fills: u64,
    /// Opened payloads long enough to begin with a sequence number.
    pub payloads: u64,
}

impl Retransmits {
    fn count(&mut self, of: u32, repeat: Repeat) {
        if *self.ssrc.get_or_insert(of) == of {
            match repeat {
                Repeat::Copy => self.copies += 1,
                Repeat::GapFill => self.gap_fills += 1,
            }
        }
    }

    /// The stream this one retransmits: at least [`RTX_MIN_PACKETS`], and at least half, of
    /// its payloads repeat that stream's packets.
    pub fn of(&self) -> Option<u32> {
        let repeats = self.copies + self.gap_fills;
        self.ssrc
            .filter(|_| repeats >= RTX_MIN_PACKETS && 2 * repeats >= self.payloads)
    }
}

/// An SFrame header (RFC 9605 §4.3): the key id, the frame counter, and the header's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SframeHeader {
    pub kid: u64,
    pub ctr: u64,
    pub len: usize,
}

/// The smallest authentication tag of RFC 9605's cipher suites (AES_128_CTR_HMAC_SHA256_32).
const SFRAME_MIN_TAG: usize = 4;

/// The SFrame header at the start of `b` (parsed by the `sframe` crate), when `b` is long
/// enough to hold it and a tag. Its config byte is X | K (3 bits) | Y | C (3 bits): with X
/// clear K is the key id, with X set the key id follows in K + 1 big-endian bytes; likewise Y
/// and C for the counter. Any byte parses as a config byte: whether these are SFrame headers
/// is what [`SframeFollow`] decides.
pub fn sframe_header(b: &[u8]) -> Option<SframeHeader> {
    let header = sframe::header::SframeHeader::deserialize(b).ok()?;
    let len = header.len();
    (b.len() >= len + SFRAME_MIN_TAG).then_some(SframeHeader {
        kid: header.key_id(),
        ctr: header.counter(),
        len,
    })
}

/// Payload offsets where an SFrame header is looked for: 0 (audio; a frame sent whole) and
/// behind the codec headers a packetizer writes in clear before the frame (a RED block
/// header, a VP8 payload descriptor, an RTX original sequence number), up to 15 bytes.
pub const SFRAME_OFFSETS: usize = 16;
/// Frames in a row whose headers must each continue the last (same key id, counter up by 1 to
/// [`SFRAME_MAX_STEP`]) before their packets count as SFrame: random bytes continue a header
/// at most 1 time in 8 (the key id must match), 15 times in a row at most once in 2^45.
/// Real codec payloads do make short runs (4 frames in a Snapchat call of the nDPI captures,
/// counters below 8).
pub const SFRAME_RUN: u16 = 16;
/// The largest counter step between two frames of one stream: the counter belongs to the key,
/// and one sender's audio, video and screen frames all draw from it.
pub const SFRAME_MAX_STEP: u64 = 32;
/// Frames (SFrame) or trailers (Jitsi's, rewritten) in a row an established run may miss (a
/// frame's first packet lost or reordered) before it starts over.
const INNER_LAYER_MISSES: u8 = 8;

/// SFrame headers followed at one payload offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SframeRun {
    /// The last header's key id and counter, when the last frame had one.
    last: Option<(u64, u64)>,
    /// Frames whose headers continued one another, up to the last, and the first one's counter.
    run: u16,
    run_start: u64,
    misses: u8,
    /// Frames counted: those of runs that reached [`SFRAME_RUN`].
    pub frames: u64,
    /// The key id and the first and last counter of the counted frames.
    pub kid: u64,
    pub first_ctr: u64,
    pub last_ctr: u64,
}

impl SframeRun {
    fn next(&mut self, header: Option<SframeHeader>) {
        let continuing = match (self.last, header) {
            (Some((kid, ctr)), Some(h))
                if h.kid == kid && h.ctr > ctr && h.ctr - ctr <= SFRAME_MAX_STEP =>
            {
                Some(h)
            }
            _ => None,
        };
        if let Some(h) = continuing {
            self.last = Some((h.kid, h.ctr));
            self.run = self.run.saturating_add(1);
            self.misses = 0;
            if self.run == SFRAME_RUN {
                if self.frames == 0 {
                    self.kid = h.kid;
                    self.first_ctr = self.run_start;
                }
                self.frames += u64::from(SFRAME_RUN);
            } else if self.run > SFRAME_RUN {
                self.frames += 1;
            }
            if self.run >= SFRAME_RUN {
                self.last_ctr = h.ctr;
            }
        } else if self.run >= SFRAME_RUN && self.misses < INNER_LAYER_MISSES {
            self.misses += 1;
        } else {
            self.last = header.map(|h| (h.kid, h.ctr));
            self.run = u16::from(header.is_some());
            self.run_start = header.map_or(0, |h| h.ctr);
            self.misses = 0;
        }
    }
}

/// SFrame followed over one stream's frames: a header at a fixed payload offset of each
/// frame's first packet (the first of each RTP timestamp), the same key id, the counter
/// rising. A frame split over several packets carries its header in the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SframeFollow {
    last_timestamp: Option<u32>,
    runs: [SframeRun; SFRAME_OFFSETS],
}

impl SframeFollow {
    /// One authenticated packet's payload in clear and its RTP timestamp.
    pub fn packet(&mut self, payload: &[u8], timestamp: u32) {
        if self.last_timestamp == Some(timestamp) {
            return; // a further packet of the same frame
        }
        self.last_timestamp = Some(timestamp);
        for (offset, run) in self.runs.iter_mut().enumerate() {
            run.next(payload.get(offset..).and_then(sframe_header));
        }
    }

    /// The offset whose runs counted the most frames, and those runs.
    pub fn best(&self) -> Option<(usize, &SframeRun)> {
        self.runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.frames > 0)
            .max_by_key(|(offset, r)| (r.frames, std::cmp::Reverse(*offset)))
    }

    /// Packets that began a frame with an SFrame header, at the best offset.
    pub fn frames(&self) -> u64 {
        self.best().map_or(0, |(_, r)| r.frames)
    }
}

/// Whether an RTP packet's payload, decrypted from SRTP, ends with the trailer of Jitsi
/// Meet's end-to-end frame encryption (lib-jitsi-meet `modules/e2ee/Context.ts`): each
/// encoded frame keeps its first 1 (audio), 3 or 10 (VP8) bytes in clear, then comes the
/// AES-GCM ciphertext with its 16-byte tag, the 12-byte IV — the frame's SSRC, its RTP
/// timestamp, a send counter —, the IV's length (12) and the key index (below 16). The IV
/// must name this packet's own SSRC and RTP timestamp: 76 bits that random codec bytes match
/// once in 2^76 packets. A frame split over several packets carries the trailer in its last.
pub fn inner_e2ee_trailer(payload: &[u8], packet: &[u8]) -> bool {
    match (jitsi_trailer_iv(payload), packet.get(4..12)) {
        (Some(iv), Some(header)) => iv.0 == be32(&header[4..8]) && iv.1 == be32(&header[..4]),
        _ => false,
    }
}

/// The SSRC and RTP timestamp the IV of a payload names whose last bytes have the shape of
/// Jitsi Meet's frame trailer ([`inner_e2ee_trailer`]): room for a frame, the IV's length 12,
/// a key index below 16 (random bytes take this shape once in 2^12).
pub fn jitsi_trailer_iv(payload: &[u8]) -> Option<(u32, u32)> {
    let n = payload.len();
    (n >= 1 + 16 + 14 && payload[n - 2] == 12 && payload[n - 1] < 16).then(|| {
        (
            be32(&payload[n - 14..n - 10]),
            be32(&payload[n - 10..n - 6]),
        )
    })
}

fn be32(b: &[u8]) -> u32 {
    b.iter().take(4).fold(0, |v, &x| v << 8 | u32::from(x))
}

/// Packets in a row whose Jitsi trailers must name one SSRC and keep one offset between the
/// IV's timestamp and the packet's before they count as rewritten trailers: random bytes take
/// the shape once in 2^12 and repeat a previous IV's SSRC and offset once in 2^64.
pub const JITSI_REWRITTEN_RUN: u16 = 8;

/// Jitsi Meet's frame trailers on a stream whose RTP header a media server rewrote: the IV
/// keeps the sender's SSRC and timestamp while the header carries the server's (Jitsi
/// Videobridge rewrites SSRCs, and timestamps when it switches simulcast layers). Counted once
/// a run of [`JITSI_REWRITTEN_RUN`] trailers names the same SSRC at the same timestamp offset;
/// a switch to another sender or layer starts a new run, and an established run bridges a
/// few trailers of other shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrittenTrailers {
    /// The last trailer's IV SSRC and its timestamp minus the packet's.
    last: Option<(u32, u32)>,
    run: u16,
    misses: u8,
    /// Packets counted: those of runs that reached [`JITSI_REWRITTEN_RUN`].
    pub packets: u64,
    /// The IV SSRC and timestamp offset of the first run counted.
    pub iv_ssrc: u32,
    pub timestamp_offset: u32,
}

impl RewrittenTrailers {
    /// A trailer's IV ([`jitsi_trailer_iv`]), on a packet of RTP timestamp `rtp_timestamp`
    /// whose SSRC and timestamp it does not name.
    pub fn trailer(&mut self, iv: (u32, u32), rtp_timestamp: u32) {
        let key = (iv.0, iv.1.wrapping_sub(rtp_timestamp));
        if self.last == Some(key) {
            self.run = self.run.saturating_add(1);
            self.misses = 0;
            if self.run == JITSI_REWRITTEN_RUN {
                if self.packets == 0 {
                    (self.iv_ssrc, self.timestamp_offset) = key;
                }
                self.packets += u64::from(JITSI_REWRITTEN_RUN);
            } else if self.run > JITSI_REWRITTEN_RUN {
                self.packets += 1;
            }
        } else if self.run >= JITSI_REWRITTEN_RUN && self.misses < INNER_LAYER_MISSES {
            self.misses += 1;
        } else {
            self.last = Some(key);
            self.run = 1;
            self.misses = 0;
        }
    }
}

/// SRTP opened on one flow: the session keys of both directions and the streams checked.
#[derive(Debug)]
pub struct Opener {
    /// Session keys protecting what each direction of the flow sends (0 = client to server),
    /// where known.
    keys: [Option<SessionKeys>; 2],
    /// Packets of a direction whose keys are not known.
    pub without_keys: u64,
    pub streams: Vec<StreamCheck>,
    /// The last packets of each stream (as `streams`), for recognising retransmissions.
    recent: Vec<RecentPackets>,
    /// Packets of streams beyond [`MAX_STREAMS`]: not checked.
    pub unchecked: u64,
    /// SRTCP packets whose tag verified, and those whose tag did not.
    pub rtcp_authenticated: u64,
    pub rtcp_failed: u64,
    /// SRTCP packets of a direction whose keys are not known.
    pub rtcp_without_keys: u64,
    scratch: Vec<u8>,
}

impl Opener {
    /// An opener for a flow whose direction `client_dir` carries what the DTLS client sends.
    pub fn new(profile: Profile, masters: &[MasterKey; 2], client_dir: usize) -> Option<Self> {
        let client = SessionKeys::derive(profile, &masters[0])?;
        let server = SessionKeys::derive(profile, &masters[1])?;
        let keys = if client_dir == 0 {
            [Some(client), Some(server)]
        } else {
            [Some(server), Some(client)]
        };
        Some(Self::with_keys(keys))
    }

    /// An opener with these session keys per direction (0 = client to server).
    fn with_keys(keys: [Option<SessionKeys>; 2]) -> Self {
        Self {
            keys,
            without_keys: 0,
            streams: Vec::new(),
            recent: Vec::new(),
            unchecked: 0,
            rtcp_authenticated: 0,
            rtcp_failed: 0,
            rtcp_without_keys: 0,
            scratch: Vec::new(),
        }
    }

    /// One RTCP packet in direction `dir` (SRTCP, RFC 3711 §3.4), checked with the keys of its
    /// sender's side. RTCP in clear (its compound ends the datagram: no SRTCP trailer) carries
    /// no tag to fail: it is not counted here (`rtp.rtcp_in_clear` counts it).
    pub fn rtcp(&mut self, dir: u8, packet: &[u8]) {
        let Some(keys) = &self.keys[usize::from(dir.min(1))] else {
            if !super::rtp::rtcp_in_clear(packet) {
                self.rtcp_without_keys += 1;
            }
            return;
        };
        if keys.open_rtcp(packet, &mut self.scratch) {
            self.rtcp_authenticated += 1;
        } else if !super::rtp::rtcp_in_clear(packet) {
            self.rtcp_failed += 1;
        }
    }

    /// Whether an RTP packet in direction `dir` authenticates under this opener's keys at
    /// rollover counter 0 (a call's first packets), without counting it.
    fn authenticates(&mut self, dir: u8, header_len: usize, packet: &[u8]) -> bool {
        self.keys[usize::from(dir.min(1))]
            .as_ref()
            .is_some_and(|k| k.open_rtp(packet, header_len, 0, &mut self.scratch))
    }

    /// One RTP packet in direction `dir`: authenticated and decrypted (into a scratch buffer),
    /// or counted as failed. A payload that repeats a packet of another stream of the
    /// direction (a retransmission, RFC 4588) is looked at for an inner layer without the
    /// original sequence number that begins it, and its Jitsi trailer names the original's SSRC.
    pub fn rtp(&mut self, dir: u8, ssrc: u32, seq: u16, header_len: usize, packet: &[u8]) {
        let dir = dir.min(1);
        if self.keys[usize::from(dir)].is_none() {
            self.without_keys += 1;
            return;
        }
        let index = match self
            .streams
            .iter()
            .position(|s| s.ssrc == ssrc && s.dir == dir)
        {
            Some(i) => i,
            None if self.streams.len() < MAX_STREAMS => self.add_stream(ssrc, dir),
            None => {
                self.unchecked += 1;
                return;
            }
        };
        let Some(keys) = &self.keys[usize::from(dir)] else {
            return; // checked above
        };
        let stream = &mut self.streams[index];
        let guess = stream.rollover.guess(seq);
        // the estimate, then its neighbours (a long gap in the capture moves the counter)
        let tried = [guess, guess.wrapping_add(1), guess.wrapping_sub(1)];
        let limit = if stream.rollover.started { 3 } else { 1 };
        let Some(roc) = tried
            .into_iter()
            .take(limit)
            .find(|&roc| keys.open_rtp(packet, header_len, roc, &mut self.scratch))
        else {
            stream.failed += 1;
            return;
        };
        stream.rollover.update(seq, roc);
        stream.authenticated += 1;
        if let Some(&[t0, t1, t2, t3]) = packet.get(4..8) {
            self.look_at_payload(index, seq, u32::from_be_bytes([t0, t1, t2, t3]));
        }
    }

    /// A new stream to check, with its remembered packets: its index.
    fn add_stream(&mut self, ssrc: u32, dir: u8) -> usize {
        self.streams.push(StreamCheck {
            ssrc,
            dir,
            authenticated: 0,
            failed: 0,
            jitsi_trailers: 0,
            jitsi_rewritten: RewrittenTrailers::default(),
            sframe: SframeFollow::default(),
            retransmits: Retransmits::default(),
            rollover: Rollover::default(),
        });
        self.recent.push(RecentPackets::default());
        self.streams.len() - 1
    }

    /// An authenticated packet of direction 0 whose payload in clear is `payload`.
    #[cfg(test)]
    fn open_in_test(&mut self, ssrc: u32, seq: u16, timestamp: u32, payload: &[u8]) {
        let index = match self.streams.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => i,
            None => self.add_stream(ssrc, 0),
        };
        self.streams[index].authenticated += 1;
        self.scratch = payload.to_vec();
        self.look_at_payload(index, seq, timestamp);
    }

    /// The payload in clear of an authenticated packet (in the scratch buffer) of stream
    /// `index`: whether it repeats another stream's packet, and what inner layer it carries.
    fn look_at_payload(&mut self, index: usize, seq: u16, timestamp: u32) {
        let (ssrc, dir) = (self.streams[index].ssrc, self.streams[index].dir);
        let payload = &self.scratch;
        let repeat = match payload.as_slice() {
            [o0, o1, original @ ..] => {
                let osn = u16::from_be_bytes([*o0, *o1]);
                self.streams
                    .iter()
                    .zip(&self.recent)
                    .enumerate()
                    .filter(|(i, (s, _))| *i != index && s.dir == dir)
                    .find_map(|(_, (s, recent))| {
                        Some((s.ssrc, recent.repeated(osn, timestamp, original)?))
                    })
            }
            _ => None,
        };
        let stream = &mut self.streams[index];
        if payload.len() >= 2 {
            stream.retransmits.payloads += 1;
        }
        let (inner, iv_ssrc) = match repeat {
            Some((of, how)) => {
                stream.retransmits.count(of, how);
                (&payload[2..], of)
            }
            None => (&payload[..], ssrc),
        };
        match jitsi_trailer_iv(inner) {
            Some(iv) if iv == (iv_ssrc, timestamp) => stream.jitsi_trailers += 1,
            Some(iv) => stream.jitsi_rewritten.trailer(iv, timestamp),
            None => {} // not the end of a frame, or no such layer
        }
        stream.sframe.packet(inner, timestamp);
        self.recent[index].record(seq, timestamp, payload);
    }
}

/// An SRTP master key an SDP `a=crypto` line carried in clear (SDES, RFC 4568): the side that
/// sent the SDP protects the media it sends with it (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesKey {
    /// The profile of the line's crypto suite, as a `use_srtp` value.
    pub profile: u16,
    pub master: MasterKey,
    /// The frame of the SIP message that carried it.
    pub frame: u64,
}

/// The master key of an `a=crypto` value (`TAG SUITE inline:KEY||SALT[|LIFETIME][|MKI:LEN]`,
/// RFC 4568 §9.1), when its suite is one opened here and it has no MKI (an MKI would sit
/// between payload and tag in every packet: not followed).
pub fn sdes_key(value: &str, frame: u64) -> Option<SdesKey> {
    use base64::Engine;
    let mut fields = value.split_whitespace();
    let _tag = fields.next()?;
    let profile = match fields.next()? {
        "AES_CM_128_HMAC_SHA1_80" => 0x0001,
        "AES_CM_128_HMAC_SHA1_32" => 0x0002,
        "AEAD_AES_128_GCM" => 0x0007,
        "AEAD_AES_256_GCM" => 0x0008,
        _ => return None,
    };
    let p = Profile::from_id(profile)?;
    // the first of `;`-separated key parameters
    let params = fields.next()?.split(';').next()?.strip_prefix("inline:")?;
    let mut parts = params.split('|');
    let encoded = parts.next()?;
    if parts.any(|part| part.contains(':')) {
        return None; // MKI:LENGTH
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    if bytes.len() != p.key_len() + p.salt_len() {
        return None;
    }
    let (key, salt) = bytes.split_at(p.key_len());
    Some(SdesKey {
        profile,
        master: MasterKey {
            key: key.to_vec(),
            salt: salt.to_vec(),
        },
        frame,
    })
}

/// Where a flow's SRTP keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Exported from the flow's DTLS-SRTP handshake with the key log's master secret (DTLS
    /// 1.2) or exporter secret (`dtls13`).
    DtlsKeyLog { dtls13: bool },
    /// Read from SDP `a=crypto` lines in clear signalling: the frame of each side's line
    /// (client's, server's), where announced.
    Sdes([Option<u64>; 2]),
}

/// What a key log did for a flow's DTLS-SRTP session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysState {
    /// The session keys are derived: packets are checked with them.
    Derived,
    /// The key log has no master secret for this session (yet).
    NoSecret,
    /// DTLS 1.0 (MD5 + SHA-1 PRF): not exported here.
    UnsupportedVersion,
    /// A NULL or unknown protection profile.
    UnsupportedProfile,
}

/// The SRTP keys of one flow: where its DTLS-SRTP session stands with the key log, and the
/// packets checked.
#[derive(Debug)]
pub struct FlowKeys {
    pub source: KeySource,
    /// The `use_srtp` profile the server selected (or the SDES suite's equivalent).
    pub profile: u16,
    pub state: KeysState,
    opener: Option<Opener>,
    /// RTP packets seen while the keys were not derived.
    pub unopened: u64,
    /// SRTCP packets (RTCP not in clear) seen while the keys were not derived.
    pub rtcp_unopened: u64,
    /// A DTLS 1.3 session whose selected profile was not read (the server sends it
    /// encrypted, and the key log has no handshake secret): the keys of each profile the
    /// client offered, tried on the first RTP packets ([`PROFILE_TRIALS`]).
    candidates: Vec<(u16, Opener)>,
    /// RTP packets tried against `candidates`.
    trials: u64,
    /// `Some(true)` when the profile was found by trial, `Some(false)` when no candidate
    /// opened any of the packets tried; `None` when the handshake showed the profile.
    pub profile_by_trial: Option<bool>,
}

/// RTP packets tried against each offered profile's keys, when the selected profile is not
/// known, before the trial gives up.
pub const PROFILE_TRIALS: u64 = 64;

impl FlowKeys {
    /// The keys of a DTLS session whose ServerHello (DTLS 1.2) or EncryptedExtensions (DTLS
    /// 1.3) selected `profile`: derived from the key log's secret for it when it has one
    /// (`version`: the negotiated one, DTLS 1.2 or 1.3 — not 1.0; `cipher`: the suite, which names the
    /// PRF or HKDF hash; `client_dir`: the direction the DTLS client sends in).
    pub fn of_session(
        profile: u16,
        version: u16,
        cipher: u16,
        randoms: (&[u8; 32], &[u8; 32]),
        secret: Option<SessionSecret<'_>>,
        client_dir: usize,
    ) -> Self {
        let mut keys = Self {
            source: KeySource::DtlsKeyLog {
                dtls13: version == 0xFEFC,
            },
            profile,
            state: KeysState::NoSecret,
            opener: None,
            unopened: 0,
            rtcp_unopened: 0,
            candidates: Vec::new(),
            trials: 0,
            profile_by_trial: None,
        };
        let Some(p) = Profile::from_id(profile) else {
            keys.state = KeysState::UnsupportedProfile;
            return keys;
        };
        if !matches!(version, 0xFEFD | 0xFEFC) {
            keys.state = KeysState::UnsupportedVersion;
            return keys;
        }
        let prf = PrfHash::of_cipher_suite(cipher);
        let masters = match secret {
            None => return keys,
            Some(SessionSecret::Master(master)) => {
                dtls_srtp_master_keys(p, prf, master, randoms.0, randoms.1)
            }
            Some(SessionSecret::Exporter(exporter)) => {
                match dtls13_srtp_master_keys(p, prf, exporter) {
                    Some(masters) => masters,
                    None => return keys,
                }
            }
        };
        if let Some(opener) = Opener::new(p, &masters, client_dir) {
            keys.opener = Some(opener);
            keys.state = KeysState::Derived;
        }
        keys
    }

    /// The keys of a DTLS 1.3 session whose selected profile is not known (the server's
    /// EncryptedExtensions were not opened: no handshake secret) but whose exporter secret
    /// is: the keys of each profile the client `offered` that this module opens, tried on the
    /// flow's first RTP packets; the first that authenticates one is the session's profile.
    pub fn of_dtls13_offered(
        offered: &[u16],
        cipher: u16,
        exporter: &[u8],
        client_dir: usize,
    ) -> Self {
        let prf = PrfHash::of_cipher_suite(cipher);
        let mut candidates: Vec<(u16, Opener)> = Vec::new();
        // each profile opened here once, in the client's order (a hello from a stranger may
        // repeat one many times)
        for &id in offered {
            if candidates.iter().any(|c| c.0 == id) {
                continue;
            }
            let Some(p) = Profile::from_id(id) else {
                continue;
            };
            if let Some(opener) = dtls13_srtp_master_keys(p, prf, exporter)
                .and_then(|masters| Opener::new(p, &masters, client_dir))
            {
                candidates.push((id, opener));
            }
        }
        Self {
            source: KeySource::DtlsKeyLog { dtls13: true },
            profile: candidates
                .first()
                .map_or(offered.first().copied().unwrap_or(0), |c| c.0),
            state: if candidates.is_empty() {
                KeysState::UnsupportedProfile
            } else {
                KeysState::Derived
            },
            opener: None,
            unopened: 0,
            rtcp_unopened: 0,
            candidates,
            trials: 0,
            profile_by_trial: Some(false),
        }
    }

    /// Whether the profile is still being looked for.
    pub fn in_trial(&self) -> bool {
        !self.candidates.is_empty()
    }

    /// One RTP packet tried against each candidate profile's keys: the first that opens it
    /// becomes the flow's; after [`PROFILE_TRIALS`] packets opened by none, the trial stops.
    fn try_profiles(&mut self, dir: u8, header_len: usize, packet: &[u8]) {
        self.trials += 1;
        let found = self
            .candidates
            .iter_mut()
            .position(|(_, o)| o.authenticates(dir, header_len, packet));
        if let Some(i) = found {
            let (profile, opener) = self.candidates.swap_remove(i);
            self.profile = profile;
            self.opener = Some(opener);
            self.profile_by_trial = Some(true);
            self.candidates = Vec::new();
        } else if self.trials >= PROFILE_TRIALS {
            self.candidates = Vec::new();
        }
    }

    /// The keys SDP `a=crypto` lines announced in clear for the two ends of a flow (client's,
    /// server's: each protects what that end sends); `None` when neither is usable or the two
    /// name different profiles.
    pub fn of_sdes(announced: [Option<&SdesKey>; 2]) -> Option<Self> {
        let profile = match announced {
            [Some(a), Some(b)] if a.profile != b.profile => return None,
            [Some(a), _] | [None, Some(a)] => a.profile,
            [None, None] => return None,
        };
        let p = Profile::from_id(profile)?;
        let keys = announced.map(|k| k.and_then(|k| SessionKeys::derive(p, &k.master)));
        if keys.iter().all(Option::is_none) {
            return None;
        }
        Some(Self {
            source: KeySource::Sdes(announced.map(|k| k.map(|k| k.frame))),
            profile,
            state: KeysState::Derived,
            opener: Some(Opener::with_keys(keys)),
            unopened: 0,
            rtcp_unopened: 0,
            candidates: Vec::new(),
            trials: 0,
            profile_by_trial: None,
        })
    }

    /// SDES keys: the key of the end sending in direction `dir`, announced after the flow
    /// opened with its other end's (same profile; a side already keyed keeps its key).
    pub fn add_sdes(&mut self, dir: usize, key: &SdesKey) {
        let (KeySource::Sdes(frames), Some(opener), Some(p)) = (
            &mut self.source,
            self.opener.as_mut(),
            Profile::from_id(key.profile),
        ) else {
            return;
        };
        let dir = dir.min(1);
        if key.profile != self.profile || opener.keys[dir].is_some() {
            return;
        }
        if let Some(keys) = SessionKeys::derive(p, &key.master) {
            opener.keys[dir] = Some(keys);
            frames[dir] = Some(key.frame);
        }
    }

    /// One RTP packet of the flow.
    pub fn rtp(&mut self, dir: u8, ssrc: u32, seq: u16, header_len: usize, packet: &[u8]) {
        if self.in_trial() {
            self.try_profiles(dir, header_len, packet);
        }
        match self.opener.as_mut() {
            Some(o) => o.rtp(dir, ssrc, seq, header_len, packet),
            None => self.unopened += 1,
        }
    }

    /// One RTCP packet of the flow (RTCP in clear is not counted: it has no tag to check).
    pub fn rtcp(&mut self, dir: u8, packet: &[u8]) {
        match self.opener.as_mut() {
            Some(o) => o.rtcp(dir, packet),
            None if !super::rtp::rtcp_in_clear(packet) => self.rtcp_unopened += 1,
            None => {}
        }
    }

    /// What the checks showed so far.
    pub fn outcome(&self) -> KeysOutcome {
        let (streams, unchecked, without_keys, rtcp) =
            self.opener
                .as_ref()
                .map_or((Vec::new(), 0, 0, (0, 0, 0)), |o| {
                    (
                        o.streams.clone(),
                        o.unchecked,
                        o.without_keys,
                        (o.rtcp_authenticated, o.rtcp_failed, o.rtcp_without_keys),
                    )
                });
        KeysOutcome {
            source: self.source,
            profile: self.profile,
            profile_by_trial: self.profile_by_trial,
            trials: self.trials,
            state: self.state,
            streams,
            unchecked,
            unopened: self.unopened + without_keys,
            rtcp_authenticated: rtcp.0,
            rtcp_failed: rtcp.1,
            rtcp_unopened: self.rtcp_unopened + rtcp.2,
        }
    }
}

/// The SRTP keys of a flow as its verdict reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysOutcome {
    pub source: KeySource,
    pub profile: u16,
    /// As [`FlowKeys::profile_by_trial`], with the RTP packets tried.
    pub profile_by_trial: Option<bool>,
    pub trials: u64,
    pub state: KeysState,
    pub streams: Vec<StreamCheck>,
    /// Packets of streams beyond [`MAX_STREAMS`].
    pub unchecked: u64,
    /// RTP packets seen while the keys were not derived, or sent by an end whose keys are
    /// not known.
    pub unopened: u64,
    /// SRTCP packets whose tag verified, and those whose tag did not.
    pub rtcp_authenticated: u64,
    pub rtcp_failed: u64,
    /// SRTCP packets seen while the keys were not derived, or sent by an end whose keys are
    /// not known (yet).
    pub rtcp_unopened: u64,
}

impl KeysOutcome {
    pub fn authenticated(&self) -> u64 {
        self.streams.iter().map(|s| s.authenticated).sum()
    }

    pub fn failed(&self) -> u64 {
        self.streams.iter().map(|s| s.failed).sum()
    }

    /// The verdict's word for it: "opened" (RTP or SRTCP packets authenticated), "rejected"
    /// (packets checked, none authenticated), "secret-after-media" (the secret joined the key
    /// log after the media had gone by), "no-media" (keys but no RTP or SRTCP), "no-secret",
    /// "unsupported-version", "unsupported-profile".
    pub fn state_name(&self) -> &'static str {
        match self.state {
            KeysState::Derived if self.authenticated() + self.rtcp_authenticated > 0 => "opened",
            KeysState::Derived if self.failed() + self.rtcp_failed > 0 => "rejected",
            // no offered profile's keys opened the packets tried
            KeysState::Derived if self.profile_by_trial == Some(false) && self.trials > 0 => {
                "rejected"
            }
            KeysState::Derived
                if self.unopened + self.rtcp_unopened > 0
                    && matches!(self.source, KeySource::DtlsKeyLog { .. }) =>
            {
                "secret-after-media"
            }
            KeysState::Derived => "no-media",
            KeysState::NoSecret => "no-secret",
            KeysState::UnsupportedVersion => "unsupported-version",
            KeysState::UnsupportedProfile => "unsupported-profile",
        }
    }

    /// "the key log" or "the SDP's keys in clear".
    pub fn source_words(&self) -> &'static str {
        match self.source {
            KeySource::DtlsKeyLog { .. } => "the key log",
            KeySource::Sdes(_) => "the SDP's keys in clear",
        }
    }

    /// The key log's secret the keys are exported from: "master secret" (DTLS 1.2,
    /// `CLIENT_RANDOM`) or "exporter secret" (DTLS 1.3, `EXPORTER_SECRET`).
    fn secret_words(&self) -> &'static str {
        if matches!(self.source, KeySource::DtlsKeyLog { dtls13: true }) {
            "exporter secret (EXPORTER_SECRET)"
        } else {
            "master secret (CLIENT_RANDOM)"
        }
    }

    /// The check of one stream.
    pub fn stream(&self, ssrc: u32, dir: u8) -> Option<&StreamCheck> {
        self.streams.iter().find(|s| s.ssrc == ssrc && s.dir == dir)
    }

    /// What the keys did for the flow, in words.
    pub fn describe(&self) -> String {
        let profile = super::tls::names::srtp_profile_name(self.profile);
        let (opened, failed) = (self.authenticated(), self.failed());
        const TRIAL: &str = "the server's choice of profile travels encrypted and the key log \
                             has no handshake secret to read it";
        let keys = match self.source {
            KeySource::DtlsKeyLog { .. } => format!(
                "the {profile} keys exported from this DTLS handshake with the key log's {}{}",
                self.secret_words(),
                if self.profile_by_trial == Some(true) {
                    format!(
                        " ({profile} found by trial among the profiles the client offered: {TRIAL})"
                    )
                } else {
                    String::new()
                }
            ),
            KeySource::Sdes(frames) => {
                let mut frames: Vec<u64> = frames.iter().flatten().copied().collect();
                frames.sort_unstable();
                frames.dedup();
                let named: Vec<String> = frames.iter().map(u64::to_string).collect();
                format!(
                    "the {profile} keys the SDP carried in clear (a=crypto, frame{} {})",
                    if named.len() > 1 { "s" } else { "" },
                    named.join(" and ")
                )
            }
        };
        let (rtcp_opened, rtcp_failed) = (self.rtcp_authenticated, self.rtcp_failed);
        let unopened = self.unopened + self.rtcp_unopened;
        // "N of M RTP packets", "N of M SRTCP packets", or both; "M RTP packets" with no N
        let tally = |rtp: (Option<u64>, u64), rtcp: (Option<u64>, u64)| {
            let parts: Vec<String> = [(rtp, "RTP"), (rtcp, "SRTCP")]
                .into_iter()
                .filter(|((_, all), _)| *all > 0)
                .map(|((some, all), kind)| match some {
                    Some(n) => format!("{n} of {all} {kind}"),
                    None => format!("{all} {kind}"),
                })
                .collect();
            let total = rtp.1 + rtcp.1;
            format!(
                "{} packet{}",
                parts.join(" and "),
                if total == 1 { "" } else { "s" }
            )
        };
        match self.state {
            KeysState::Derived if opened + rtcp_opened > 0 => format!(
                "{} opened with {}: {} authenticated and decrypted under {keys}{}",
                if opened + failed > 0 { "SRTP" } else { "SRTCP" },
                self.source_words(),
                tally(
                    (Some(opened), opened + failed),
                    (Some(rtcp_opened), rtcp_opened + rtcp_failed)
                ),
                match (unopened, self.source) {
                    (0, _) => String::new(),
                    (_, KeySource::Sdes(_)) => format!(
                        "; {} sent by an end whose key was not announced (yet)",
                        tally((None, self.unopened), (None, self.rtcp_unopened))
                    ),
                    (_, KeySource::DtlsKeyLog { .. }) => format!(
                        "; {} went by before the key log held the {}",
                        tally((None, self.unopened), (None, self.rtcp_unopened)),
                        self.secret_words()
                    ),
                }
            ),
            KeysState::Derived if failed + rtcp_failed > 0 => format!(
                "{keys} authenticated none of {}",
                tally((None, failed), (None, rtcp_failed))
            ),
            KeysState::Derived if self.profile_by_trial == Some(false) && self.trials > 0 => {
                format!(
                    "none of the first {} RTP packets authenticated under the keys of any profile \
                     the client offered, exported with the key log's {} ({TRIAL}): the media \
                     was not opened",
                    self.trials,
                    self.secret_words()
                )
            }
            KeysState::Derived if unopened > 0 && matches!(self.source, KeySource::DtlsKeyLog { .. }) => format!(
                "the key log's {} for this DTLS session came after its {} had gone by: they were not opened",
                self.secret_words(),
                tally((None, self.unopened), (None, self.rtcp_unopened))
            ),
            KeysState::Derived => {
                format!("{keys} were derived, but no RTP or SRTCP they protect was seen")
            }
            KeysState::NoSecret => format!(
                "the key log has no {} for this DTLS session: its media was not opened",
                self.secret_words()
            ),
            KeysState::UnsupportedVersion => {
                "SRTP keys are exported from DTLS 1.2 and 1.3 sessions only (not DTLS 1.0): the media was not opened".into()
            }
            KeysState::UnsupportedProfile => {
                format!("{profile} is not a profile whose media is opened here")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9605's header encodings (the working group's header test vectors, and the header
    /// of its AES_128_GCM_SHA256_128 frame vector), each followed by a tag's room.
    #[test]
    fn sframe_header_reads_the_rfc_9605_vectors() {
        for (kid, ctr, header) in [
            (0, 0, "00"),
            (0, 1, "01"),
            (0, 0xff, "08ff"),
            (0, 0x100, "090100"),
            (0, 0xffff_ffff, "0bffffffff"),
            (1, 1, "11"),
            (1, 0xff, "18ff"),
            (0x123, 0x4567, "9901234567"),
            (u64::MAX, u64::MAX, "ffffffffffffffffffffffffffffffffff"),
        ] {
            let bytes: Vec<u8> = (0..header.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&header[i..i + 2], 16).unwrap())
                .collect();
            let mut frame = bytes.clone();
            frame.extend_from_slice(&[0xa5; SFRAME_MIN_TAG]);
            let len = bytes.len();
            assert_eq!(
                sframe_header(&frame),
                Some(SframeHeader { kid, ctr, len }),
                "{header}"
            );
            // no room for a tag, or a header cut short
            assert_eq!(sframe_header(&frame[..frame.len() - 1]), None, "{header}");
            if len > 1 {
                assert_eq!(sframe_header(&bytes[..len - 1]), None, "{header}");
            }
        }
        assert_eq!(sframe_header(&[]), None);
    }

    /// A frame of `offset` + 60 random bytes whose SFrame header, of key id `kid` and counter
    /// `ctr`, sits at `offset`.
    fn sframe_frame(next: &mut impl FnMut() -> u64, offset: usize, kid: u64, ctr: u64) -> Vec<u8> {
        let mut frame: Vec<u8> = (0..offset + 60).map(|_| next() as u8).collect();
        let mut header = [0u8; 17];
        let h = sframe::header::SframeHeader::new(kid, ctr);
        h.serialize(&mut header[..]).unwrap();
        frame[offset..offset + h.len()].copy_from_slice(&header[..h.len()]);
        frame
    }

    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Frames whose headers continue one another at one offset count once the run is long
    /// enough, all of it; a further packet of a frame (its RTP timestamp already seen) is not
    /// a frame; a lost frame's gap and a few frames out of order are bridged.
    #[test]
    fn sframe_follow_counts_runs_of_rising_counters() {
        let mut next = xorshift(7);
        let mut follow = SframeFollow::default();
        let mut ctr = 300;
        for frame in 0..SFRAME_RUN as u32 - 1 {
            follow.packet(&sframe_frame(&mut next, 5, 0x2a7, ctr), 1000 + frame * 3000);
            // the frame's second packet: no header
            follow.packet(&[next() as u8; 80], 1000 + frame * 3000);
            ctr += 1 + next() % 3;
        }
        assert_eq!(follow.frames(), 0, "a run one frame short counts nothing");
        follow.packet(&sframe_frame(&mut next, 5, 0x2a7, ctr), 999_000);
        assert_eq!(follow.frames(), u64::from(SFRAME_RUN));
        let (offset, run) = follow.best().unwrap();
        assert_eq!(
            (offset, run.kid, run.first_ctr, run.last_ctr),
            (5, 0x2a7, 300, ctr)
        );
        // a frame with garbage where the header was (its first packet lost), then the run goes on
        follow.packet(&[0xee; 80], 1_002_000);
        ctr += SFRAME_MAX_STEP;
        follow.packet(&sframe_frame(&mut next, 5, 0x2a7, ctr), 1_005_000);
        assert_eq!(follow.frames(), u64::from(SFRAME_RUN) + 1);
        // a counter that does not rise, another key id, a step too long: none continues
        for (kid, step) in [(0x2a7, 0), (0x2a8, 1), (0x2a7, SFRAME_MAX_STEP + 1)] {
            let mut probe = follow;
            probe.packet(&sframe_frame(&mut next, 5, kid, ctr + step), 2_000_000);
            assert_eq!(
                probe.frames(),
                u64::from(SFRAME_RUN) + 1,
                "{kid:#x} +{step}"
            );
        }
    }

    /// Trailers whose IV names one other SSRC at one timestamp offset count once eight in a
    /// row do, all of them; a new sender (another SSRC or offset) starts a new run; a run
    /// bridges a few trailers of another sender; random trailer-shaped payloads never count.
    #[test]
    fn rewritten_jitsi_trailers_count_in_runs_of_one_ssrc_and_offset() {
        let mut t = RewrittenTrailers::default();
        for i in 0..u32::from(JITSI_REWRITTEN_RUN) - 1 {
            t.trailer((0x6a4c_a3b7, 1000 + 960 * i + 0x10000), 1000 + 960 * i);
        }
        assert_eq!(t.packets, 0, "a run one short counts nothing");
        t.trailer((0x6a4c_a3b7, 90_000 + 0x10000), 90_000);
        assert_eq!(t.packets, u64::from(JITSI_REWRITTEN_RUN));
        assert_eq!((t.iv_ssrc, t.timestamp_offset), (0x6a4c_a3b7, 0x10000));
        // a stray trailer of another sender, then the run goes on
        t.trailer((0x1111_1111, 5), 100_000);
        t.trailer((0x6a4c_a3b7, 100_960 + 0x10000), 100_960);
        assert_eq!(t.packets, u64::from(JITSI_REWRITTEN_RUN) + 1);
        // the timestamp offset wraps: a header ahead of the IV
        let mut t = RewrittenTrailers::default();
        for i in 0..u32::from(JITSI_REWRITTEN_RUN) {
            t.trailer((7, i * 3000), i * 3000 + 0x9000_0000);
        }
        assert_eq!(t.packets, u64::from(JITSI_REWRITTEN_RUN));
        assert_eq!(t.timestamp_offset, 0x7000_0000);

        let mut next = xorshift(0x7a11);
        let mut t = RewrittenTrailers::default();
        let mut shaped = 0;
        for frame in 0..2_000_000u32 {
            let mut payload = [0u8; 40];
            payload.iter_mut().for_each(|b| *b = next() as u8);
            if let Some(iv) = jitsi_trailer_iv(&payload) {
                shaped += 1;
                t.trailer(iv, frame * 960);
            }
        }
        assert!(shaped > 200, "{shaped}");
        assert_eq!(t.packets, 0);
    }

    /// A DTLS 1.3 profile trial holds each offered profile opened here once, in the client's
    /// order, however often a hello repeats it; none opened here: an unsupported profile.
    #[test]
    fn a_profile_offered_many_times_is_tried_once() {
        let mut offered = vec![0x0007; 1000];
        offered.extend([0x0001, 0x0005, 0x0007]);
        let keys = FlowKeys::of_dtls13_offered(&offered, 0x1301, &[7; 32], 0);
        let ids: Vec<u16> = keys.candidates.iter().map(|c| c.0).collect();
        assert_eq!(ids, [0x0007, 0x0001]);
        assert_eq!((keys.state, keys.profile), (KeysState::Derived, 0x0007));
        let none = FlowKeys::of_dtls13_offered(&[0x0005, 0x0006], 0x1301, &[7; 32], 0);
        assert_eq!(none.state, KeysState::UnsupportedProfile);
        assert!(!none.in_trial());
    }

    /// Random payloads (ciphertext, compressed media) do not make runs at any offset.
    #[test]
    fn sframe_follow_finds_nothing_in_random_payloads() {
        let mut next = xorshift(0x5eed);
        let mut follow = SframeFollow::default();
        for frame in 0..200_000u32 {
            let len = 20 + (next() % 200) as usize;
            let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            follow.packet(&payload, frame);
        }
        assert_eq!(follow.frames(), 0);
    }

    /// A stream's packets remembered: a payload that names one of them by sequence number is
    /// a copy only with its timestamp and payload; one that names a sequence number the capture
    /// lacks fills a gap only at a timestamp between its captured neighbours' (or, just above
    /// the highest, not before it); too far behind or ahead it is nothing. Across the
    /// sequence number's wrap.
    #[test]
    fn retransmissions_repeat_packets_remembered_or_fill_their_gaps() {
        let mut next = xorshift(11);
        let payloads: Vec<Vec<u8>> = (0..40).map(|_| vec![next() as u8; 30]).collect();
        for first in [1000u16, 65520] {
            let seq = |i: usize| first.wrapping_add(i as u16);
            let ts = |i: usize| 90_000 + 3000 * (i as u32 / 4); // frames of 4 packets
            let mut recent = RecentPackets::default();
            assert_eq!(recent.repeated(seq(0), ts(0), &payloads[0]), None);
            for i in (0..40).filter(|i| ![9, 10, 11, 30].contains(i)) {
                recent.record(seq(i), ts(i), &payloads[i]);
            }
            assert_eq!(
                recent.repeated(seq(5), ts(5), &payloads[5]),
                Some(Repeat::Copy)
            );
            assert_eq!(
                recent.repeated(seq(39), ts(39), &payloads[39]),
                Some(Repeat::Copy)
            );
            assert_eq!(
                recent.repeated(seq(5), ts(5), &payloads[6]),
                None,
                "payload"
            );
            assert_eq!(
                recent.repeated(seq(5), ts(5) + 1, &payloads[5]),
                None,
                "timestamp"
            );
            // 9..=11 lost: between 8 (frame 2) and 12 (frame 3)
            for i in [9, 10, 11] {
                for t in [ts(8), ts(12)] {
                    assert_eq!(recent.repeated(seq(i), t, &[]), Some(Repeat::GapFill));
                }
                assert_eq!(recent.repeated(seq(i), ts(8) - 1, &[]), None);
                assert_eq!(recent.repeated(seq(i), ts(12) + 1, &[]), None);
            }
            // just above the highest (39): not before its timestamp, and at most 16 ahead
            assert_eq!(recent.repeated(seq(40), ts(39), &[]), Some(Repeat::GapFill));
            assert_eq!(
                recent.repeated(seq(55), ts(39) + 3000, &[]),
                Some(Repeat::GapFill)
            );
            assert_eq!(recent.repeated(seq(40), ts(39) - 1, &[]), None);
            assert_eq!(recent.repeated(seq(56), ts(39), &[]), None);
            // far behind: forgotten
            assert_eq!(
                recent.repeated(first.wrapping_sub(600), ts(0), &payloads[0]),
                None
            );
        }
    }

    /// A retransmission stream (RFC 4588) whose original sequence numbers, the first two
    /// bytes of each payload, read as an SFrame header of key id 0 and a counter rising from
    /// frame to frame (0x08: a 1-byte counter follows; the original stream's sequence numbers
    /// 0x0800..0x08ff), with a frame of the original lost every so often: followed as they
    /// come, the payloads make an SFrame run at byte 0. Recognised as retransmissions they are
    /// followed without the original sequence number: no run, and the stream is named the
    /// original's retransmissions.
    #[test]
    fn retransmitted_sequence_numbers_are_not_taken_for_sframe_headers() {
        let mut next = xorshift(23);
        let mut opener = Opener::with_keys([None, None]);
        let mut raw = SframeFollow::default();
        let original =
            |seq: u16| -> (u32, Vec<u8>) { (u32::from(seq) * 3000, vec![seq as u8 ^ 0x5a; 40]) };
        let (video, rtx) = (0x1111_1111, 0x2222_2222);
        let mut rtx_seq = 7000u16;
        for seq in 0x0800u16..0x0900 {
            let (timestamp, payload) = original(seq);
            if seq % 3 == 0 {
                // lost before the capture point, sent again on the RTX stream
                let mut repeated = seq.to_be_bytes().to_vec();
                repeated.extend_from_slice(&payload);
                raw.packet(&repeated, timestamp);
                opener.open_in_test(rtx, rtx_seq, timestamp, &repeated);
                rtx_seq += 1;
            } else {
                opener.open_in_test(video, seq, timestamp, &payload);
            }
            // other payloads of the flow's direction, of no account here
            let noise: Vec<u8> = (0..60).map(|_| next() as u8).collect();
            opener.open_in_test(0x3333_3333, seq, timestamp ^ 0x1234_5678, &noise);
        }
        assert!(raw.frames() > 0, "the original sequence numbers make a run");
        let check = opener.streams.iter().find(|s| s.ssrc == rtx).unwrap();
        assert_eq!(check.sframe.frames(), 0);
        assert_eq!(check.retransmits.of(), Some(video));
        assert_eq!(check.retransmits.gap_fills, 85);
        assert_eq!(check.retransmits.copies, 0);
        for other in opener.streams.iter().filter(|s| s.ssrc != rtx) {
            assert_eq!(other.retransmits.of(), None);
        }
    }

    /// The trailer must end the payload and its IV must start with the packet's own SSRC and
    /// RTP timestamp (bytes 8..12 and 4..8 of the RTP header).
    #[test]
    fn inner_e2ee_trailer_names_the_packets_ssrc_and_timestamp() {
        let mut packet = vec![0x80, 111, 0, 1, 0, 0, 0x0f, 0xa0, 0xde, 0xad, 0xbe, 0xef];
        let mut payload = vec![0xfc; 1 + 40 + 16];
        payload.extend_from_slice(&packet[8..12]);
        payload.extend_from_slice(&packet[4..8]);
        payload.extend_from_slice(&[0, 0, 0x12, 0x34, 12, 3]);
        assert!(inner_e2ee_trailer(&payload, &packet));
        assert!(!inner_e2ee_trailer(&payload[..payload.len() - 1], &packet));
        assert!(!inner_e2ee_trailer(&payload[payload.len() - 20..], &packet));
        let mut other_key_index = payload.clone();
        *other_key_index.last_mut().unwrap() = 16;
        assert!(!inner_e2ee_trailer(&other_key_index, &packet));
        packet[7] ^= 1; // another timestamp
        assert!(!inner_e2ee_trailer(&payload, &packet));
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 3711 Appendix B.3: the session keys of a known master key and salt.
    #[test]
    fn key_derivation_matches_rfc3711_b3() {
        let master = Aes::new(&unhex("E1F97A0D3E018BE0D64FA32C06DE4139")).unwrap();
        let salt = unhex("0EC675AD498AFEEBB6960B3AABE6");
        let mut key = [0u8; 16];
        derive(&master, &salt, 0, &mut key);
        assert_eq!(hex::encode_upper(key), "C61E7A93744F39EE10734AFE3FF7A087");
        let mut session_salt = [0u8; 14];
        derive(&master, &salt, 2, &mut session_salt);
        assert_eq!(
            hex::encode_upper(session_salt),
            "30CBBC08863D8C85D49DB34A9AE1"
        );
        let mut auth = [0u8; 20];
        derive(&master, &salt, 1, &mut auth);
        assert_eq!(
            hex::encode_upper(auth),
            "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
        );
    }

    #[test]
    fn rollover_follows_a_wrap_and_reordering() {
        let mut r = Rollover::default();
        assert_eq!(r.guess(65500), 0);
        r.update(65500, 0);
        assert_eq!(r.guess(65535), 0);
        r.update(65535, 0);
        assert_eq!(r.guess(3), 1); // wrapped
        r.update(3, 1);
        assert_eq!(r.guess(65534), 0); // a late packet from before the wrap
        assert_eq!(r.guess(10), 1);
    }

    #[test]
    fn profiles_and_their_sizes() {
        assert_eq!(Profile::from_id(1), Some(Profile::AesCm128HmacSha1_80));
        assert_eq!(Profile::from_id(5), None); // NULL: nothing to decrypt
        assert_eq!(Profile::AeadAes256Gcm.key_len(), 32);
        assert_eq!(Profile::AeadAes128Gcm.salt_len(), 12);
        assert_eq!(Profile::AesCm128HmacSha1_32.tag_len(), 4);
        assert_eq!(PrfHash::of_cipher_suite(0xC02B), PrfHash::Sha256);
        assert_eq!(PrfHash::of_cipher_suite(0xC02C), PrfHash::Sha384);
    }

    #[test]
    fn sdes_keys_of_crypto_lines() {
        // RFC 4568 §9.1's example line: 30 bytes of key and salt, lifetime, MKI 1 of 4 bytes
        let rfc =
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";
        assert_eq!(
            sdes_key(rfc, 3),
            None,
            "an MKI in every packet is not followed"
        );
        let plain =
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
        let key = sdes_key(plain, 3).unwrap();
        assert_eq!((key.profile, key.frame), (1, 3));
        assert_eq!((key.master.key.len(), key.master.salt.len()), (16, 14));
        assert_eq!(&key.master.key[..4], b"=-n@");
        // unpadded base64 of 44 bytes (AEAD_AES_256_GCM: 32 + 12)
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD_NO_PAD.encode([7u8; 44]);
        let gcm = sdes_key(&format!("2 AEAD_AES_256_GCM inline:{b}"), 9).unwrap();
        assert_eq!((gcm.profile, gcm.master.key.len()), (8, 32));
        for other in [
            "1 NULL_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc",
            "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64",
            "1 AES_CM_128_HMAC_SHA1_80",
            "1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        ] {
            assert_eq!(sdes_key(other, 1), None, "{other}");
        }
    }

    #[test]
    fn truncated_and_corrupted_packets_fail_without_panicking() {
        for profile in [Profile::AesCm128HmacSha1_80, Profile::AeadAes256Gcm] {
            let master = MasterKey {
                key: vec![7; profile.key_len()],
                salt: vec![9; profile.salt_len()],
            };
            let keys = SessionKeys::derive(profile, &master).unwrap();
            let mut scratch = Vec::new();
            let packet = [
                0x80u8, 0x60, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
            ];
            for end in 0..packet.len() {
                assert!(!keys.open_rtp(&packet[..end], 12, 0, &mut scratch));
            }
            assert!(!keys.open_rtp(&packet, 40, 0, &mut scratch));
            assert!(!keys.open_rtp(&packet, 0, 0, &mut scratch));
            let mut rtcp = vec![0x80u8, 0xC8, 0, 6, 1, 2, 3, 4];
            rtcp.resize(64, 0xA5);
            for end in 0..rtcp.len() {
                assert!(!keys.open_rtcp(&rtcp[..end], &mut scratch));
            }
        }
    }
}
