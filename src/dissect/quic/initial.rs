//! QUIC Initial packets: removing header and packet protection with the keys `rustls::quic`
//! derives from the client's Destination Connection ID (RFC 9001 §5, RFC 9369 for v2), and
//! reassembling the CRYPTO stream, so that the ClientHello and ServerHello they carry can be
//! read. Only Initial packets are decrypted: they are protected with keys anyone can derive.
//!
//! Versions whose Initial salt rustls knows: v1, drafts 29–32 and v2; older drafts and mvfst are
//! opened with keys ring derives from their own salts (`legacy`), as are Google's T050/T051.
//!
//! With a key log, the server's Handshake packets are opened too ([`super::handshake`]): their
//! CRYPTO stream carries EncryptedExtensions (the selected ALPN) and the server's certificate.

use rustls::Side;
use rustls::quic::{Keys, Version};

use std::sync::Arc;

use super::handshake::HandshakeKeys;
use super::legacy;

use crate::dissect::tls::keylog::{HeldBytes, KeyLog};
use crate::dissect::tls::{KeylogOutcome, TlsFacts, hello};
use tls_parser::{TlsMessage, TlsMessageHandshake, parse_tls_message_handshake};

/// CRYPTO bytes reassembled per direction at most.
const MAX_CRYPTO: usize = 64 * 1024;
/// Out-of-order CRYPTO fragments held per direction.
const MAX_PENDING: usize = 32;

fn rustls_version(v: u32) -> Option<Version> {
    match v {
        1 => Some(Version::V1),
        0xff00_001d..=0xff00_0020 => Some(Version::V1Draft),
        0x6b33_43cf => Some(Version::V2),
        _ => None,
    }
}

/// Whether the long-header type bits mean Initial for this version (v2 renumbered them).
/// Google's TLS-based QUIC versions T050 and T051.
fn is_google_tls_version(version: u32) -> bool {
    matches!(version, 0x5430_3530 | 0x5430_3531)
}

/// Whether the long-header type bits mean Handshake for this version (v2 renumbered them).
fn is_handshake(first: u8, version: u32) -> bool {
    let t = (first >> 4) & 0x03;
    if version == 0x6b33_43cf {
        t == 3
    } else {
        t == 2
    }
}

fn is_initial(first: u8, version: u32) -> bool {
    let t = (first >> 4) & 0x03;
    if version == 0x6b33_43cf {
        t == 1
    } else {
        t == 0
    }
}

/// A QUIC variable-length integer (RFC 9000 §16) at the start of `b`: (value, length).
pub fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3F);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    Some((v, len))
}

#[derive(Debug, Default)]
struct CryptoStream {
    data: Vec<u8>,
    pending: Vec<(u64, Vec<u8>)>,
    /// Bytes of `data` already read as handshake messages.
    consumed: usize,
    parsed: bool,
}

impl CryptoStream {
    fn add(&mut self, offset: u64, bytes: &[u8]) {
        let have = self.data.len() as u64;
        if offset <= have {
            let skip = (have - offset) as usize;
            if skip < bytes.len() && self.data.len() < MAX_CRYPTO {
                let room = MAX_CRYPTO - self.data.len();
                let take = (bytes.len() - skip).min(room);
                self.data.extend_from_slice(&bytes[skip..skip + take]);
            }
            // drain what now fits
            loop {
                let have = self.data.len() as u64;
                let Some(i) = self.pending.iter().position(|(o, _)| *o <= have) else {
                    break;
                };
                let (o, b) = self.pending.swap_remove(i);
                let skip = (have - o) as usize;
                if skip < b.len() && self.data.len() < MAX_CRYPTO {
                    let take = (b.len() - skip).min(MAX_CRYPTO - self.data.len());
                    self.data.extend_from_slice(&b[skip..skip + take]);
                }
            }
        } else if offset < MAX_CRYPTO as u64 && self.pending.len() < MAX_PENDING {
            self.pending.push((offset, bytes.to_vec()));
        }
    }

    /// The next unread handshake message, once complete.
    fn next_message(&self) -> Option<&[u8]> {
        let d = self.data.get(self.consumed..)?;
        if d.len() < 4 {
            return None;
        }
        let len = (usize::from(d[1]) << 16) | (usize::from(d[2]) << 8) | usize::from(d[3]);
        d.get(..4 + len)
    }
}

/// Initial-packet state of one QUIC flow.
#[derive(Default)]
pub struct Initials {
    /// Direction (0 = flow client) of the first Initial, taken as the QUIC client.
    client_dir: Option<usize>,
    /// The Destination Connection ID the Initial keys derive from.
    key_dcid: Vec<u8>,
    version: u32,
    retry_seen: bool,
    keys_for_client_packets: Option<OpenKeys>,
    keys_for_server_packets: Option<OpenKeys>,
    crypto: [CryptoStream; 2],
    pub facts: TlsFacts,
    pub decrypted_packets: u32,
    pub undecryptable_packets: u32,
    /// The secrets that open the server's Handshake packets, when a key log was given.
    keylog: Option<Arc<KeyLog>>,
    /// The ClientHello's random (kept only with a key log: it names the session there).
    client_random: Option<[u8; 32]>,
    /// The server's Handshake packets being opened.
    opening: Option<Box<ServerHandshake>>,
    /// The server's Handshake packets, held until the session's secret joins the key log.
    waiting: Option<Box<WaitingPackets>>,
}

/// A server's Handshake packets held while the key log lacks the session's secret: each as its
/// length and packet-number offset (two bytes each, big-endian), then the packet.
#[derive(Debug)]
struct WaitingPackets {
    packets: HeldBytes,
    count: u32,
}

/// The server's Handshake packets of one connection, being opened with a key log.
#[derive(Debug)]
struct ServerHandshake {
    keys: HandshakeKeys,
    crypto: CryptoStream,
    packets: u32,
}

/// Server Handshake packets opened at most before giving up on reaching its Finished.
const MAX_HANDSHAKE_PACKETS: u32 = 64;

impl std::fmt::Debug for Initials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initials")
            .field("client_dir", &self.client_dir)
            .field("decrypted_packets", &self.decrypted_packets)
            .finish_non_exhaustive()
    }
}

/// Keys that open one side's Initial packets: rustls-derived, or ring-derived for versions
/// rustls lacks (see [`super::legacy`]).
enum OpenKeys {
    Rustls(Keys),
    Legacy(Vec<legacy::Keys>),
}

/// Keys for the packets the client sends (`client_packets`) or the server sends.
fn derive(version: u32, dcid: &[u8], client_packets: bool) -> Option<OpenKeys> {
    if rustls_version(version).is_some() {
        let v = rustls_version(version)?;
        let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13()?;
        let quic = suite.quic?;
        // The remote keys of the side that receives them.
        let side = if client_packets {
            Side::Server
        } else {
            Side::Client
        };
        return Some(OpenKeys::Rustls(Keys::initial(v, suite, quic, dcid, side)));
    }
    let keys: Vec<_> = legacy::candidate_salts(version)
        .iter()
        .filter_map(|salt| legacy::Keys::derive(salt, dcid, client_packets))
        .collect();
    (!keys.is_empty()).then_some(OpenKeys::Legacy(keys))
}

/// Remove header and packet protection; `None` unless the AEAD tag verified.
fn open_packet(keys: &mut OpenKeys, pkt: &[u8], pn_offset: usize) -> Option<Vec<u8>> {
    match keys {
        OpenKeys::Rustls(k) => {
            let mut p = pkt.to_vec();
            let sample_len = k.remote.header.sample_len();
            let sample = p.get(pn_offset + 4..pn_offset + 4 + sample_len)?.to_vec();
            let (head, rest) = p.split_at_mut(pn_offset);
            k.remote
                .header
                .decrypt_in_place(&sample, &mut head[0], rest.get_mut(..4)?)
                .ok()?;
            let (pn, header_len) = packet_number(&p, pn_offset);
            let (header, payload) = p.split_at_mut(header_len);
            let plain = k.remote.packet.decrypt_in_place(pn, header, payload).ok()?;
            Some(plain.to_vec())
        }
        OpenKeys::Legacy(candidates) => {
            // The first candidate whose tag verifies is the version's salt: keep only it.
            let found = candidates.iter().enumerate().find_map(|(i, k)| {
                let mut p = pkt.to_vec();
                let sample = p
                    .get(pn_offset + 4..pn_offset + 4 + k.sample_len())?
                    .to_vec();
                let (head, rest) = p.split_at_mut(pn_offset);
                k.unprotect_header(&sample, &mut head[0], rest.get_mut(..4)?)?;
                let (pn, header_len) = packet_number(&p, pn_offset);
                let (header, payload) = p.split_at_mut(header_len);
                let plain = k.open(pn, header, payload)?.to_vec();
                Some((i, plain))
            })?;
            let (i, plain) = found;
            if candidates.len() > 1 {
                let keep = candidates.swap_remove(i);
                *candidates = vec![keep];
            }
            Some(plain)
        }
    }
}

/// The (truncated) packet number after header protection was removed, and the header length.
fn packet_number(p: &[u8], pn_offset: usize) -> (u64, usize) {
    let pn_len = usize::from(p[0] & 0x03) + 1;
    let pn = p[pn_offset..pn_offset + pn_len]
        .iter()
        .fold(0u64, |a, &x| (a << 8) | u64::from(x));
    (pn, pn_offset + pn_len)
}

impl Initials {
    /// Initials that open the server's Handshake packets with this key log's secrets.
    pub fn with_keylog(keylog: Option<Arc<KeyLog>>) -> Self {
        Self {
            keylog,
            ..Self::default()
        }
    }

    /// Whether both hellos have been read (nothing more to learn from Initials), and the
    /// server's handshake opened when a key log can open it.
    pub fn done(&self) -> bool {
        self.crypto[0].parsed
            && self.crypto[1].parsed
            && self.opening.is_none()
            && self
                .waiting
                .as_ref()
                .is_none_or(|w| w.count >= MAX_HANDSHAKE_PACKETS)
    }

    /// The key log grew: Handshake packets held for their secret are opened if it is there
    /// now, and a handshake still to come will look it up there.
    pub fn secrets_arrived(&mut self, keylog: &Arc<KeyLog>) {
        self.keylog = Some(Arc::clone(keylog));
        let Some(waiting) = self.waiting.take() else {
            return;
        };
        if !keylog.knows(self.client_random.as_ref()) {
            self.waiting = Some(waiting);
            return;
        }
        self.facts.keylog = None;
        self.start_opening();
        let mut held = waiting.packets.bytes();
        while held.len() >= 4 && self.opening.is_some() {
            let len = usize::from(u16::from_be_bytes([held[0], held[1]]));
            let pn_offset = usize::from(u16::from_be_bytes([held[2], held[3]]));
            let Some(packet) = held.get(4..4 + len) else {
                break;
            };
            self.server_handshake_packet(packet, pn_offset);
            held = &held[4 + len..];
        }
    }

    /// The QUIC client is the flow's responder (the flow table guessed the roles wrong).
    pub fn client_is_responder(&self) -> bool {
        self.client_dir == Some(1)
    }

    /// Every long-header packet coalesced in one datagram.
    pub fn datagram(&mut self, dir: usize, frame: u64, mut b: &[u8]) {
        while b.len() >= 7 && b[0] & 0x80 != 0 {
            let Some(consumed) = self.packet(dir, frame, b) else {
                return;
            };
            b = &b[consumed..];
        }
    }

    /// One long-header packet; returns its length.
    fn packet(&mut self, dir: usize, frame: u64, b: &[u8]) -> Option<usize> {
        let version = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?);
        let dcid_len = usize::from(*b.get(5)?);
        let dcid = b.get(6..6 + dcid_len)?;
        let scid_len = usize::from(*b.get(6 + dcid_len)?);
        let mut pos = 7 + dcid_len + scid_len;
        let long_type_initial = is_initial(b[0], version);
        if version == 0
            || (rustls_version(version).is_none() && legacy::candidate_salts(version).is_empty())
        {
            return None;
        }
        if long_type_initial {
            let (token_len, n) = varint(b.get(pos..)?)?;
            pos += n + usize::try_from(token_len).ok()?;
        } else if (b[0] >> 4) & 0x03 == if version == 0x6b33_43cf { 0 } else { 3 } {
            // Retry: the client's next Initial uses (and derives its keys from) a new DCID.
            self.retry_seen = true;
            return None; // no Length field: it ends the datagram
        }
        let (length, n) = varint(b.get(pos..)?)?;
        pos += n;
        let end = pos.checked_add(usize::try_from(length).ok()?)?;
        if end > b.len() {
            return None;
        }
        if long_type_initial {
            self.initial(dir, frame, version, dcid, &b[..end], pos);
        } else if self.client_dir.is_some_and(|c| c != dir) && is_handshake(b[0], version) {
            if self.opening.is_some() {
                self.server_handshake_packet(&b[..end], pos);
            } else if let Some(w) = self.waiting.as_mut()
                && w.count < MAX_HANDSHAKE_PACKETS
            {
                w.count += 1;
                let (Ok(len), Ok(pn_offset)) = (u16::try_from(end), u16::try_from(pos)) else {
                    return Some(end);
                };
                if !w
                    .packets
                    .push(&[&len.to_be_bytes(), &pn_offset.to_be_bytes(), &b[..end]])
                {
                    w.count = MAX_HANDSHAKE_PACKETS; // the budget is spent: hold no more
                }
            }
        }
        Some(end)
    }

    fn initial(
        &mut self,
        dir: usize,
        frame: u64,
        version: u32,
        dcid: &[u8],
        pkt: &[u8],
        pn_offset: usize,
    ) {
        if self.client_dir.is_none() {
            self.client_dir = Some(dir);
            self.version = version;
            self.key_dcid = dcid.to_vec();
        }
        let from_client = self.client_dir == Some(dir);
        if from_client && self.retry_seen && dcid != self.key_dcid.as_slice() {
            self.retry_seen = false;
            self.key_dcid = dcid.to_vec();
            self.keys_for_client_packets = None;
            self.keys_for_server_packets = None;
        }
        let stream = usize::from(!from_client);
        if self.crypto[stream].parsed {
            return;
        }
        let mut plaintext = self.decrypt(from_client, version, pkt, pn_offset);
        if plaintext.is_none() && from_client && dcid != self.key_dcid.as_slice() {
            // After a Retry the client derives new Initial keys from the new DCID.
            let old = std::mem::replace(&mut self.key_dcid, dcid.to_vec());
            self.keys_for_client_packets = None;
            self.keys_for_server_packets = None;
            plaintext = self.decrypt(from_client, version, pkt, pn_offset);
            if plaintext.is_none() {
                self.key_dcid = old;
                self.keys_for_client_packets = None;
                self.keys_for_server_packets = None;
            }
        }
        let Some(plain) = plaintext else {
            self.undecryptable_packets += 1;
            return;
        };
        self.decrypted_packets += 1;
        if is_google_tls_version(version) {
            self.google_frames(stream, &plain);
        } else {
            self.frames(stream, &plain);
        }
        self.read_hello(stream, frame);
    }

    fn decrypt(
        &mut self,
        from_client: bool,
        version: u32,
        pkt: &[u8],
        pn_offset: usize,
    ) -> Option<Vec<u8>> {
        let slot = if from_client {
            &mut self.keys_for_client_packets
        } else {
            &mut self.keys_for_server_packets
        };
        if slot.is_none() {
            *slot = derive(version, &self.key_dcid, from_client);
        }
        open_packet(slot.as_mut()?, pkt, pn_offset)
    }

    /// After the ServerHello: find the session's secret in the key log, if one was given.
    fn start_opening(&mut self) {
        let Some(keylog) = &self.keylog else { return };
        let secret = self
            .client_random
            .as_ref()
            .and_then(|random| keylog.server_handshake_secret(random));
        let Some(cipher) = self.facts.cipher() else {
            self.facts.keylog = Some(KeylogOutcome::NoSecret);
            return;
        };
        let Some(secret) = secret else {
            self.facts.keylog = Some(KeylogOutcome::NoSecret);
            if self.client_random.is_some() && HandshakeKeys::supports(self.version, cipher) {
                // the secret may join the key log later
                self.waiting = Some(Box::new(WaitingPackets {
                    packets: keylog.hold(),
                    count: 0,
                }));
            }
            return;
        };
        match HandshakeKeys::new(self.version, cipher, secret) {
            Some(keys) => {
                self.opening = Some(Box::new(ServerHandshake {
                    keys,
                    crypto: CryptoStream::default(),
                    packets: 0,
                }));
            }
            None if matches!(cipher, 0x1301..=0x1303) => {
                self.facts.keylog = Some(KeylogOutcome::UnsupportedVersion);
            }
            None => self.facts.keylog = Some(KeylogOutcome::UnsupportedCipher),
        }
    }

    /// One Handshake packet of the server's, while its handshake is being opened.
    fn server_handshake_packet(&mut self, packet: &[u8], pn_offset: usize) {
        let Some(mut hs) = self.opening.take() else {
            return;
        };
        hs.packets += 1;
        let Some(plain) = hs.keys.open(packet, pn_offset) else {
            // one packet may be damaged or use other keys: give up only when none opened
            self.facts
                .keylog
                .get_or_insert(KeylogOutcome::Undecryptable);
            if hs.packets < MAX_HANDSHAKE_PACKETS {
                self.opening = Some(hs);
            }
            return;
        };
        self.facts.keylog = Some(KeylogOutcome::Decrypted);
        crypto_frames(&mut hs.crypto, &plain);
        let mut finished = false;
        while let Some(msg) = hs.crypto.next_message() {
            let len = msg.len();
            finished |= self.facts.encrypted_server_message(msg[0], &msg[4..]);
            hs.crypto.consumed += len;
        }
        if !finished && hs.packets < MAX_HANDSHAKE_PACKETS {
            self.opening = Some(hs);
        }
    }

    /// Walk the frames an Initial packet may carry.
    fn frames(&mut self, stream: usize, b: &[u8]) {
        crypto_frames(&mut self.crypto[stream], b);
    }

    /// Walk the frames of a Google T050/T051 Initial packet. These versions wrap the TLS
    /// handshake in IETF-style Initial packets but keep Google QUIC's frame encoding: PADDING
    /// 0x00, PING 0x07, CRYPTO 0x08 (varint offset and length, as in IETF QUIC), and ACK
    /// 0x40–0x7F, whose type byte gives the widths of its fields (bit 5: more than one ACK block;
    /// bits 3–2 and 1–0: widths of the largest acknowledged packet number and of each ACK block
    /// length, 1, 2, 4 or 6 bytes).
    fn google_frames(&mut self, stream: usize, mut b: &[u8]) {
        const WIDTH: [usize; 4] = [1, 2, 4, 6];
        while let Some((&ftype, rest)) = b.split_first() {
            b = rest;
            match ftype {
                0x00 | 0x07 => {}
                0x08 => {
                    let Some(rest) = crypto_frame(&mut self.crypto[stream], b) else {
                        return;
                    };
                    b = rest;
                }
                0x40..=0x7f => {
                    let largest = WIDTH[usize::from((ftype >> 2) & 0x03)];
                    let block = WIDTH[usize::from(ftype & 0x03)];
                    // largest acknowledged, 16-bit ACK delay, then the block count (if any)
                    let Some(after) = b.get(largest + 2..) else {
                        return;
                    };
                    b = after;
                    let blocks = if ftype & 0x20 != 0 {
                        let Some((&n, after)) = b.split_first() else {
                            return;
                        };
                        b = after;
                        usize::from(n)
                    } else {
                        0
                    };
                    // the first block's length, then (gap byte + length) per further block
                    let Some(after) = b.get(block + blocks * (1 + block)..) else {
                        return;
                    };
                    b = after;
                    // timestamps: a count, then (delta byte + 32-bit time) for the first and
                    // (delta byte + 16-bit time) for each further one
                    let Some((&stamps, after)) = b.split_first() else {
                        return;
                    };
                    b = after;
                    let skip = match stamps {
                        0 => 0,
                        n => 5 + (usize::from(n) - 1) * 3,
                    };
                    let Some(after) = b.get(skip..) else { return };
                    b = after;
                }
                _ => return, // anything else: nothing further to read in an Initial
            }
        }
    }

    /// Read the hellos at the start of a CRYPTO stream: the ClientHello (a second one after a
    /// HelloRetryRequest is not needed), or the ServerHello, skipping a HelloRetryRequest.
    fn read_hello(&mut self, stream: usize, frame: u64) {
        loop {
            let c = &self.crypto[stream];
            let Some(msg) = c.next_message() else {
                return;
            };
            let msg_len = msg.len();
            let parsed = parse_tls_message_handshake(msg);
            let mut finished = true;
            match parsed {
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) => {
                    if self.keylog.is_some() {
                        self.client_random = ch.random.try_into().ok();
                    }
                    self.facts.client_hello = Some(hello::client_hello(
                        frame,
                        ch.version.0,
                        &ch.ciphers,
                        ch.ext,
                    ));
                }
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)))) => {
                    let facts = hello::server_hello(frame, sh.version.0, sh.cipher.0, sh.ext);
                    // after a HelloRetryRequest the real ServerHello follows in the same stream
                    finished = !self.facts.record_server_hello(facts, sh.random);
                    if finished {
                        self.start_opening();
                    }
                }
                _ => {}
            }
            let c = &mut self.crypto[stream];
            c.consumed += msg_len;
            if finished {
                c.parsed = true;
                c.data = Vec::new();
                c.pending = Vec::new();
                return;
            }
        }
    }
}

/// Walk the frames of an Initial or Handshake packet (RFC 9000 §17.2.2, §17.2.4): PADDING,
/// PING, ACK, CRYPTO (added to `crypto`), CONNECTION_CLOSE.
fn crypto_frames(crypto: &mut CryptoStream, mut b: &[u8]) {
    while let Some((ftype, n)) = varint(b) {
        b = &b[n..];
        match ftype {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                // largest, delay, range count, first range, then ranges (and ECN counts)
                let mut fields = Vec::with_capacity(4);
                for _ in 0..4 {
                    let Some((v, n)) = varint(b) else { return };
                    fields.push(v);
                    b = &b[n..];
                }
                let extra = fields[2].saturating_mul(2) + if ftype == 0x03 { 3 } else { 0 };
                for _ in 0..extra.min(1024) {
                    let Some((_, n)) = varint(b) else { return };
                    b = &b[n..];
                }
            }
            0x06 => {
                let Some(rest) = crypto_frame(crypto, b) else {
                    return;
                };
                b = rest;
            }
            _ => return, // CONNECTION_CLOSE or anything else: nothing further to read
        }
    }
}

/// A CRYPTO frame's body (varint offset and length, then the data, RFC 9000 §19.6) added to
/// the stream; the bytes after it, or `None` when the frame is cut short.
fn crypto_frame<'b>(crypto: &mut CryptoStream, b: &'b [u8]) -> Option<&'b [u8]> {
    let (offset, n) = varint(b)?;
    let b = &b[n..];
    let (len, n) = varint(b)?;
    let b = &b[n..];
    let data = b.get(..usize::try_from(len).ok()?)?;
    crypto.add(offset, data);
    Some(&b[data.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_rfc9000_appendix_a1() {
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d]), Some((494_878_333, 4)));
        assert_eq!(varint(&[0x7b, 0xbd]), Some((15_293, 2)));
        assert_eq!(varint(&[0x25]), Some((37, 1)));
        assert_eq!(varint(&[0x40]), None);
    }

    #[test]
    fn crypto_stream_out_of_order() {
        let mut c = CryptoStream::default();
        c.add(4, &[0xAA, 0xBB]);
        assert!(c.next_message().is_none());
        c.add(0, &[1, 0, 0, 2]);
        assert_eq!(c.next_message(), Some(&[1, 0, 0, 2, 0xAA, 0xBB][..]));
    }
}
