//! DTLS 1.0/1.2 (RFC 6347) and DTLS 1.3 (RFC 9147) over UDP: records, handshake fragments
//! reassembled by message sequence, hellos and certificates as [`TlsFacts`], `use_srtp`.
//!
//! Handshake messages are reassembled here (tls-parser leaves DTLS fragments to its caller) and
//! then parsed by tls-parser as whole messages. DTLS 1.3 encrypts everything after the
//! ServerHello in records with the unified header (`001CSLEE`): they are counted, and with a
//! key log holding the session's server handshake traffic secret the server's handshake
//! records (epoch 2) are opened (RFC 9147 §4: record numbers masked with the "sn" key, the
//! header with its record number in clear as additional data, labels prefixed "dtls13") and
//! EncryptedExtensions (`use_srtp`, ALPN) and the certificate chain read.

use std::sync::Arc;

use tls_parser::{DTLSMessage, DTLSMessageHandshakeBody, parse_dtls_message_handshake};

use ring::aead::quic;

use super::tls::keylog::{self, HeldBytes, KeyLog, RecordOpener};
use super::tls::{KeylogOutcome, TlsFacts, hello};

/// Handshake messages reassembled at once per direction.
const MAX_FRAGMENTED_MESSAGES: usize = 4;
/// Largest handshake message reassembled (certificate chains fit).
const MAX_MESSAGE: usize = 256 * 1024;

/// A DTLS record header (13 bytes) at the start of `b`: (content type, version, epoch, length).
fn record_header(b: &[u8]) -> Option<(u8, u16, u16, usize)> {
    if b.len() < 13 {
        return None;
    }
    let ctype = b[0];
    let version = u16::from_be_bytes([b[1], b[2]]);
    if !(20..=26).contains(&ctype) || !matches!(version, 0xFEFF | 0xFEFD | 0xFEFC | 0x0100) {
        return None;
    }
    let epoch = u16::from_be_bytes([b[3], b[4]]);
    let len = usize::from(u16::from_be_bytes([b[11], b[12]]));
    Some((ctype, version, epoch, len))
}

/// Whether a datagram starts with a DTLS record whose length fits, or a DTLS 1.3 unified header.
pub fn looks_like_dtls(b: &[u8]) -> bool {
    match record_header(b) {
        Some((_, _, _, len)) => 13 + len <= b.len(),
        None => false,
    }
}

/// The first byte of a DTLS 1.3 ciphertext record (RFC 9147 §4: `001CSLEE`).
pub fn is_unified_header(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0xE0 == 0x20
}

/// A DTLS 1.3 ciphertext record at the start of `b` (no connection ID: WebRTC negotiates
/// none): (header length, record number bytes, low epoch bits, record length with header).
fn unified_record(b: &[u8]) -> Option<(usize, usize, u8, usize)> {
    let first = *b.first()?;
    if first & 0xE0 != 0x20 || first & 0x10 != 0 {
        return None;
    }
    let seq_len = if first & 0x08 != 0 { 2 } else { 1 };
    let header = 1 + seq_len + if first & 0x04 != 0 { 2 } else { 0 };
    let body = if first & 0x04 != 0 {
        let at = 1 + seq_len;
        usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
    } else {
        b.len().checked_sub(header)?
    };
    (header + body <= b.len()).then_some((header, seq_len, first & 0x03, header + body))
}

/// Encrypted handshake records of the server held at most while the key log lacks the
/// session's secret (a server's flight is a handful).
const MAX_HELD_RECORDS: u32 = 64;

/// Opens a DTLS 1.3 server's handshake records (epoch 2) under its handshake traffic secret.
struct Dtls13Opener {
    records: RecordOpener,
    /// The key that masks record numbers (RFC 9147 §4.2.3). Its mask is QUIC's header
    /// protection mask (RFC 9001 §5.4.3, §5.4.4): the AES block of the first 16 ciphertext
    /// bytes, or the ChaCha20 block keyed by them (counter, then nonce).
    sn: quic::HeaderProtectionKey,
    /// The record number expected next (reconstructing the full number from its low bits).
    next: u64,
}

impl std::fmt::Debug for Dtls13Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dtls13Opener")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Dtls13Opener {
    /// The record number mask of a DTLS 1.3 cipher suite; None for the CCM suites (ring has
    /// no AEAD for them).
    fn mask_algorithm(cipher_suite: u32) -> Option<&'static quic::Algorithm> {
        match cipher_suite {
            0x1301 => Some(&quic::AES_128),
            0x1302 => Some(&quic::AES_256),
            0x1303 => Some(&quic::CHACHA20),
            _ => None,
        }
    }

    /// The opener of a DTLS 1.3 suite's records; None for the CCM suites.
    fn new(cipher_suite: u32, secret: &[u8]) -> Option<Self> {
        let mask = Self::mask_algorithm(cipher_suite)?;
        let (records, sn) = RecordOpener::dtls13(cipher_suite, secret)?;
        Some(Self {
            records,
            sn: quic::HeaderProtectionKey::new(mask, &sn).ok()?,
            next: 0,
        })
    }

    /// Open one record (`header_len` and `seq_len` from [`unified_record`]): its inner content
    /// type and plaintext, or None when it does not authenticate. The additional data is the
    /// header with its record number unmasked.
    fn open(&mut self, record: &[u8], header_len: usize, seq_len: usize) -> Option<(u8, Vec<u8>)> {
        let sample = record.get(header_len..header_len + 16)?;
        let mask = self.sn.new_mask(sample).ok()?;
        let mut header = record[..header_len].to_vec();
        let mut low = 0u64;
        for i in 0..seq_len {
            header[1 + i] ^= mask[i];
            low = (low << 8) | u64::from(header[1 + i]);
        }
        let seq = full_record_number(self.next, low, 8 * seq_len as u32);
        let opened = self.records.open_at(seq, &header, &record[header_len..])?;
        self.next = self.next.max(seq + 1);
        Some(opened)
    }
}

/// The full record number whose low `bits` bits are `low`, nearest to `expected` (RFC 9147
/// §4.2.2).
fn full_record_number(expected: u64, low: u64, bits: u32) -> u64 {
    let window = 1u64 << bits;
    let seq = (expected & !(window - 1)) | low;
    if seq.saturating_add(window / 2) < expected {
        seq + window
    } else if seq > expected.saturating_add(window / 2) && seq >= window {
        seq - window
    } else {
        seq
    }
}

/// A DTLS 1.3 server's encrypted handshake, with a key log: being opened, or held until the
/// session's secret joins the key log.
#[derive(Debug, Default)]
struct Dtls13Handshake {
    opener: Option<Dtls13Opener>,
    /// Records held while the secret is missing: each as its frame (8 bytes), its length
    /// (2 bytes), then the record.
    held: Option<HeldBytes>,
    held_records: u32,
    /// Finished read, or the handshake given up: no more records are looked at.
    done: bool,
}

#[derive(Debug)]
struct Fragmented {
    seq: u16,
    msg_type: u8,
    buf: Vec<u8>,
    /// Byte ranges received, merged.
    have: Vec<(usize, usize)>,
}

impl Fragmented {
    fn add(&mut self, offset: usize, data: &[u8]) {
        let end = (offset + data.len()).min(self.buf.len());
        if offset >= end {
            return;
        }
        self.buf[offset..end].copy_from_slice(&data[..end - offset]);
        self.have.push((offset, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }

    fn complete(&self) -> bool {
        self.have.first() == Some(&(0, self.buf.len()))
    }
}

#[derive(Debug, Default)]
struct Direction {
    done_seqs: Vec<u16>,
    fragments: Vec<Fragmented>,
    encrypted: bool,
}

/// DTLS state of one flow (both directions).
#[derive(Debug, Default)]
pub struct DtlsStream {
    dirs: [Direction; 2],
    pub facts: TlsFacts,
    pub records: u64,
    /// DTLS 1.3 records with the unified (encrypted) header.
    pub unified_header_records: u64,
    /// Handshake parsed from a record: the flow certainly carries DTLS.
    pub handshake_seen: bool,
    /// Datagrams whose records tiled them exactly (every header and length consistent).
    pub exact_datagrams: u64,
    sides: hello::HelloSides,
    /// The hello randoms (client's, server's): a key log names the session by the first, and
    /// both seed the DTLS-SRTP key export.
    pub randoms: [Option<[u8; 32]>; 2],
    /// The key log that may open a DTLS 1.3 server's handshake.
    keylog: Option<Arc<KeyLog>>,
    dtls13: Option<Box<Dtls13Handshake>>,
}

impl DtlsStream {
    /// A stream whose DTLS 1.3 server handshake is opened with this key log.
    pub fn with_keylog(keylog: Option<&Arc<KeyLog>>) -> Self {
        Self {
            keylog: keylog.cloned(),
            ..Self::default()
        }
    }

    /// The key log grew: a DTLS 1.3 handshake held for its secret may open now.
    pub fn secrets_arrived(&mut self, keylog: &Arc<KeyLog>) {
        self.keylog = Some(Arc::clone(keylog));
        let waiting = self
            .dtls13
            .as_ref()
            .is_some_and(|h| h.opener.is_none() && !h.done);
        if waiting {
            self.start_opening();
        }
    }

    /// After a DTLS 1.3 ServerHello, with a key log: the opener of the server's handshake
    /// records, or a holder of them while the secret is missing. Held records are opened as
    /// soon as the opener exists.
    fn start_opening(&mut self) {
        let Some(keylog) = self.keylog.clone() else {
            return;
        };
        let hs = self.dtls13.get_or_insert_default();
        let Some(cipher) = self.facts.cipher() else {
            return;
        };
        let secret = self.randoms[0]
            .as_ref()
            .and_then(|random| keylog.server_handshake_secret(random));
        let Some(secret) = secret else {
            self.facts.keylog = Some(KeylogOutcome::NoSecret);
            if hs.held.is_none() && Dtls13Opener::mask_algorithm(cipher).is_some() {
                hs.held = Some(keylog.hold());
            }
            return;
        };
        match Dtls13Opener::new(cipher, secret) {
            Some(opener) => {
                self.facts.keylog = None;
                hs.opener = Some(opener);
            }
            None => {
                self.facts.keylog = Some(KeylogOutcome::UnsupportedCipher);
                hs.done = true;
                hs.held = None;
                return;
            }
        }
        let Some(held) = hs.held.take() else {
            return;
        };
        let mut rest = held.bytes();
        while rest.len() >= 10 {
            let frame = u64::from_be_bytes(rest[..8].try_into().unwrap_or_default());
            let len = usize::from(u16::from_be_bytes([rest[8], rest[9]]));
            let Some(record) = rest.get(10..10 + len) else {
                break;
            };
            rest = &rest[10 + len..];
            if let Some((header, seq_len, _, _)) = unified_record(record) {
                self.open_server_record(frame, record, header, seq_len);
            }
        }
    }

    /// One DTLS 1.3 ciphertext record of the server's in epoch 2 (its handshake), with a key
    /// log: opened, or held while the secret is missing.
    fn server_handshake_record(
        &mut self,
        frame: u64,
        record: &[u8],
        header: usize,
        seq_len: usize,
    ) {
        let Some(hs) = self.dtls13.as_mut() else {
            return;
        };
        if hs.done {
            return;
        }
        if hs.opener.is_some() {
            self.open_server_record(frame, record, header, seq_len);
            return;
        }
        if let Some(held) = hs.held.as_mut()
            && hs.held_records < MAX_HELD_RECORDS
            && let Ok(len) = u16::try_from(record.len())
            && held.push(&[&frame.to_be_bytes(), &len.to_be_bytes(), record])
        {
            hs.held_records += 1;
        }
    }

    fn open_server_record(&mut self, frame: u64, record: &[u8], header: usize, seq_len: usize) {
        let Some(opener) = self.dtls13.as_mut().and_then(|h| h.opener.as_mut()) else {
            return;
        };
        match opener.open(record, header, seq_len) {
            Some((22, plain)) => {
                self.facts.keylog.get_or_insert(KeylogOutcome::Decrypted);
                let dir = self.server_dir();
                self.handshake_fragments(dir, frame, &plain, true);
            }
            Some(_) => {
                self.facts.keylog.get_or_insert(KeylogOutcome::Decrypted);
            }
            None => {
                self.facts
                    .keylog
                    .get_or_insert(KeylogOutcome::Undecryptable);
            }
        }
    }

    /// The ClientHello came from the side the flow table took for the server.
    pub fn client_is_responder(&self) -> bool {
        self.sides.client_is_responder()
    }

    fn server_dir(&self) -> usize {
        self.sides.server_dir()
    }

    /// The direction the DTLS client sends in (0 = the flow's client to server).
    pub fn client_dir(&self) -> usize {
        1 - self.server_dir()
    }

    /// All records of one datagram.
    pub fn datagram(&mut self, dir: usize, frame: u64, mut b: &[u8]) {
        let dir = dir.min(1);
        let mut tiled = true;
        while !b.is_empty() {
            if is_unified_header(b) {
                self.unified_header_records += 1;
                self.facts.application_data_frame[dir].get_or_insert(frame);
                let Some((header, seq_len, epoch, len)) = unified_record(b) else {
                    return; // a connection ID's length is not known here: not parseable
                };
                if epoch == 2 && dir == self.server_dir() && self.dtls13.is_some() {
                    self.server_handshake_record(frame, &b[..len], header, seq_len);
                }
                b = &b[len..];
                continue;
            }
            let Some((ctype, _version, epoch, len)) = record_header(b) else {
                tiled = false;
                break;
            };
            let Some(body) = b.get(13..13 + len) else {
                tiled = false;
                break;
            };
            self.records += 1;
            self.record(dir, frame, ctype, epoch, body);
            b = &b[13 + len..];
        }
        if tiled {
            self.exact_datagrams += 1;
        }
    }

    fn record(&mut self, dir: usize, frame: u64, ctype: u8, epoch: u16, body: &[u8]) {
        let plaintext = epoch == 0 && !self.dirs[dir].encrypted;
        match ctype {
            20 => {
                self.facts.change_cipher_spec[dir] = true;
                self.dirs[dir].encrypted = true;
            }
            21 => {
                let from_server = dir == self.server_dir();
                self.facts.record_alert(frame, from_server, plaintext, body);
            }
            22 if plaintext => self.handshake_fragments(dir, frame, body, false),
            23 => {
                self.facts.application_data_frame[dir].get_or_insert(frame);
            }
            _ => {}
        }
    }

    /// Handshake messages (`encrypted`: opened from a DTLS 1.3 server's records).
    fn handshake_fragments(&mut self, dir: usize, frame: u64, mut b: &[u8], encrypted: bool) {
        while b.len() >= 12 {
            let msg_type = b[0];
            let total = (usize::from(b[1]) << 16) | (usize::from(b[2]) << 8) | usize::from(b[3]);
            let seq = u16::from_be_bytes([b[4], b[5]]);
            let offset = (usize::from(b[6]) << 16) | (usize::from(b[7]) << 8) | usize::from(b[8]);
            let flen = (usize::from(b[9]) << 16) | (usize::from(b[10]) << 8) | usize::from(b[11]);
            let Some(data) = b.get(12..12 + flen) else {
                return;
            };
            b = &b[12 + flen..];
            if total > MAX_MESSAGE || offset + flen > total {
                continue;
            }
            if self.dirs[dir].done_seqs.contains(&seq) {
                continue; // retransmission
            }
            if offset == 0 && flen == total {
                self.message(dir, frame, msg_type, seq, data, encrypted);
                continue;
            }
            let d = &mut self.dirs[dir];
            let idx = match d.fragments.iter().position(|f| f.seq == seq) {
                Some(i) => i,
                None => {
                    if d.fragments.len() >= MAX_FRAGMENTED_MESSAGES {
                        d.fragments.remove(0);
                    }
                    d.fragments.push(Fragmented {
                        seq,
                        msg_type,
                        buf: vec![0; total],
                        have: Vec::new(),
                    });
                    d.fragments.len() - 1
                }
            };
            d.fragments[idx].add(offset, data);
            if d.fragments[idx].complete() {
                let f = d.fragments.remove(idx);
                self.message(dir, frame, f.msg_type, seq, &f.buf, encrypted);
            }
        }
    }

    /// A whole handshake message: rebuild an unfragmented header and let tls-parser parse it
    /// (one a DTLS 1.3 server encrypted is read as TLS 1.3's).
    fn message(
        &mut self,
        dir: usize,
        frame: u64,
        msg_type: u8,
        seq: u16,
        body: &[u8],
        encrypted: bool,
    ) {
        let d = &mut self.dirs[dir];
        if d.done_seqs.len() >= 32 {
            d.done_seqs.remove(0);
        }
        d.done_seqs.push(seq);
        if encrypted {
            if msg_type == 8
                && let Some(sh) = self.facts.server_hello.as_mut()
                && sh.srtp_profile.is_none()
            {
                sh.srtp_profile = keylog::selected_srtp_profile(body);
            }
            if self.facts.encrypted_server_message(msg_type, body)
                && let Some(hs) = self.dtls13.as_mut()
            {
                // Finished: the handshake is read
                hs.done = true;
                hs.opener = None;
            }
            return;
        }
        let len = body.len() as u32;
        let mut msg = Vec::with_capacity(12 + body.len());
        msg.push(msg_type);
        msg.extend_from_slice(&len.to_be_bytes()[1..]);
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(&[0, 0, 0]);
        msg.extend_from_slice(&len.to_be_bytes()[1..]);
        msg.extend_from_slice(body);
        let Ok((_, DTLSMessage::Handshake(h))) = parse_dtls_message_handshake(&msg) else {
            return;
        };
        self.handshake_seen = true;
        match h.body {
            // a second ClientHello (after HelloVerifyRequest) repeats the first
            DTLSMessageHandshakeBody::ClientHello(ch) if self.facts.client_hello.is_none() => {
                self.sides.client = Some(dir);
                self.randoms[0] = ch.random.try_into().ok();
                self.facts.client_hello = Some(hello::client_hello(
                    frame,
                    ch.version.0,
                    &ch.ciphers,
                    ch.ext,
                ));
            }
            DTLSMessageHandshakeBody::ServerHello(sh) => {
                self.sides.server = Some(dir);
                let facts = hello::server_hello(frame, sh.version.0, sh.cipher.0, sh.ext);
                let dtls13 = facts.selected_version == Some(0xFEFC);
                // a HelloRetryRequest (DTLS 1.3) is answered by a second ClientHello, then the
                // real ServerHello comes in clear too
                if self.facts.record_server_hello(facts, sh.random) {
                    return;
                }
                self.randoms[1] = sh.random.try_into().ok();
                if dtls13 {
                    self.dirs[dir].encrypted = true;
                    if self.keylog.is_some() && self.dtls13.is_none() {
                        self.start_opening();
                    }
                }
            }
            DTLSMessageHandshakeBody::Certificate(certs)
                if dir == self.server_dir() && self.facts.certificates.is_empty() =>
            {
                self.facts
                    .record_chain(certs.cert_chain.iter().map(|raw| raw.data));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_merge_in_any_order() {
        let mut f = Fragmented {
            seq: 0,
            msg_type: 2,
            buf: vec![0; 10],
            have: Vec::new(),
        };
        f.add(6, &[6, 7, 8, 9]);
        assert!(!f.complete());
        f.add(0, &[0, 1, 2, 3]);
        f.add(3, &[3, 4, 5, 6]);
        assert!(f.complete());
        assert_eq!(f.buf, (0u8..10).collect::<Vec<_>>());
    }

    #[test]
    fn unified_headers_and_record_numbers() {
        // 001 C=0 S=1 L=1 EE=2: 16-bit record number, length 3
        let long = [0x2E, 0xAA, 0xBB, 0x00, 0x03, 1, 2, 3, 9];
        assert_eq!(unified_record(&long), Some((5, 2, 2, 8)));
        // S=0 L=0: 8-bit record number, the record runs to the datagram's end
        assert_eq!(unified_record(&[0x22, 0x07, 1, 2]), Some((2, 1, 2, 4)));
        assert_eq!(
            unified_record(&[0x2E, 0, 0, 0, 9, 1]),
            None,
            "length beyond"
        );
        assert_eq!(unified_record(&[0x3E, 0, 0, 0, 0]), None, "a connection ID");
        assert_eq!(full_record_number(0, 5, 8), 5);
        assert_eq!(full_record_number(0x1FE, 0x01, 8), 0x201);
        assert_eq!(full_record_number(0x205, 0xFF, 8), 0x1FF);
        assert_eq!(full_record_number(0x1_0003, 0xFFFE, 16), 0xFFFE);
    }

    #[test]
    fn record_header_validation() {
        let mut r = vec![22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2];
        assert!(looks_like_dtls(&r));
        r[12] = 9;
        assert!(!looks_like_dtls(&r));
        assert!(!looks_like_dtls(&[22, 3, 3, 0, 5]));
    }
}
