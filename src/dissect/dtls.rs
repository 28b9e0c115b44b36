//! DTLS 1.0/1.2 (RFC 6347) and DTLS 1.3 (RFC 9147) over UDP: records, handshake fragments
//! reassembled by message sequence, hellos and certificates as [`TlsFacts`], `use_srtp`.
//!
//! Handshake messages are reassembled here (tls-parser leaves DTLS fragments to its caller) and
//! then parsed by tls-parser as whole messages. DTLS 1.3 encrypts everything after the
//! ServerHello in records with the unified header (`001CSLEE`), which are counted, not parsed.

use tls_parser::{DTLSMessage, DTLSMessageHandshakeBody, parse_dtls_message_handshake};

use super::tls::{TlsFacts, hello};

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
}

impl DtlsStream {
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
                return; // its length field may be absent: the rest is not parseable
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
            22 if plaintext => self.handshake_fragments(dir, frame, body),
            23 => {
                self.facts.application_data_frame[dir].get_or_insert(frame);
            }
            _ => {}
        }
    }

    fn handshake_fragments(&mut self, dir: usize, frame: u64, mut b: &[u8]) {
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
                self.message(dir, frame, msg_type, seq, data);
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
                self.message(dir, frame, f.msg_type, seq, &f.buf);
            }
        }
    }

    /// A whole handshake message: rebuild an unfragmented header and let tls-parser parse it.
    fn message(&mut self, dir: usize, frame: u64, msg_type: u8, seq: u16, body: &[u8]) {
        let d = &mut self.dirs[dir];
        if d.done_seqs.len() >= 32 {
            d.done_seqs.remove(0);
        }
        d.done_seqs.push(seq);
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
                self.randoms[1] = sh.random.try_into().ok();
                let facts = hello::server_hello(frame, sh.version.0, sh.cipher.0, sh.ext);
                let dtls13 = facts.selected_version == Some(0xFEFC);
                self.facts.server_hello = Some(facts);
                if dtls13 {
                    self.dirs[dir].encrypted = true;
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
    fn record_header_validation() {
        let mut r = vec![22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2];
        assert!(looks_like_dtls(&r));
        r[12] = 9;
        assert!(!looks_like_dtls(&r));
        assert!(!looks_like_dtls(&[22, 3, 3, 0, 5]));
    }
}
