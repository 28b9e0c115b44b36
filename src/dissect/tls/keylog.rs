//! TLS 1.3 server handshakes opened with a key log (the NSS format browsers write under
//! `SSLKEYLOGFILE` and OpenSSL's `s_client -keylogfile`).
//!
//! Owns: reading a key log (each session's server handshake traffic secret, each TLS 1.2 /
//! DTLS 1.2 session's master secret — `CLIENT_RANDOM` lines — and each TLS 1.3 / DTLS 1.3
//! session's exporter secret — `EXPORTER_SECRET` lines —, from which DTLS-SRTP media keys are
//! exported by [`crate::dissect::srtp`], by the random of its ClientHello), deriving the
//! server's handshake write key and IV from that secret (RFC 8446 §7.1 HKDF-Expand-Label, §7.3), opening the server's handshake records (§5.2 record
//! protection, §5.3 per-record nonce) and reading the messages the handshake encrypts:
//! EncryptedExtensions (the selected ALPN) and Certificate (the server's chain, also when
//! compressed, RFC 8879); following a key log that grows during a live capture
//! ([`KeyLogFollower`]); the budget of encrypted handshake bytes connections hold while their
//! secret is missing ([`HeldBytes`]); the record of the TLS 1.3 sessions whose secret was used
//! (a live capture saves those, and only those, with its packets). Must not: decrypt TLS
//! application data — the key log's traffic secrets (`SERVER_TRAFFIC_SECRET_0`, …) are not
//! even kept, and master and exporter secrets serve only the DTLS-SRTP key export — nor hand a
//! master or exporter secret to a live capture's saved key log.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use foldhash::HashMap;
use ring::{aead, hkdf};

/// A key log larger than this is refused: a browser's log of a long test call is a few MB.
pub const MAX_KEYLOG_BYTES: u64 = 256 * 1024 * 1024;

/// The label of the secret that protects the server's handshake records.
const SERVER_HANDSHAKE_LABEL: &str = "SERVER_HANDSHAKE_TRAFFIC_SECRET";

/// The label of a TLS 1.2 / DTLS 1.2 session's master secret (48 bytes).
const MASTER_SECRET_LABEL: &str = "CLIENT_RANDOM";

/// The label of a TLS 1.3 / DTLS 1.3 session's exporter master secret (RFC 8446 §7.5): a
/// DTLS 1.3 SRTP session exports its media keys from it.
const EXPORTER_SECRET_LABEL: &str = "EXPORTER_SECRET";

/// Encrypted handshake bytes held at most, over all connections, while their sessions' secrets
/// are not (yet) in the key log.
pub const MAX_HELD_BYTES: usize = 64 << 20;

/// Encrypted handshake bytes held at most for one connection (a server's flight with its
/// certificate chain is a few KB; a chain of 16 large certificates stays under this).
pub const MAX_HELD_BYTES_PER_CONNECTION: usize = 96 << 10;

/// The server handshake traffic secrets of a key log, by ClientHello random.
///
/// Clones (the key log grown by a capture's Decryption Secrets Block, or by lines a browser
/// appended during a live capture) share the budget of held bytes and the record of the
/// sessions used.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    server_handshake: HashMap<[u8; 32], Vec<u8>>,
    /// TLS 1.2 / DTLS 1.2 master secrets (`CLIENT_RANDOM` lines): DTLS-SRTP sessions export
    /// their media keys from them. Never written into a live capture's key log block: a master
    /// secret opens everything its session protects.
    master_secrets: HashMap<[u8; 32], [u8; 48]>,
    /// TLS 1.3 / DTLS 1.3 exporter master secrets (`EXPORTER_SECRET` lines): DTLS 1.3 SRTP
    /// sessions export their media keys from them. Never written into a live capture's key
    /// log block, like master secrets.
    exporter_secrets: HashMap<[u8; 32], Vec<u8>>,
    /// Lines with a label this reader uses whose fields did not parse (hex, lengths).
    pub malformed_lines: usize,
    /// The first of those, 1-based.
    pub first_malformed_line: Option<usize>,
    /// Bytes held by connections waiting for their secret ([`HeldBytes`]).
    held: Arc<AtomicUsize>,
    /// Sessions whose secret a connection found, when asked to keep them
    /// ([`Self::record_sessions_used`]): a live capture saves these with its packets.
    used: Option<Arc<Mutex<Vec<[u8; 32]>>>>,
    /// The file this key log was read from ([`Self::read`]), as read: a verdict names the key
    /// log its decrypted handshakes rest on.
    pub source: Option<Arc<KeyLogSource>>,
}

/// A key log file as [`KeyLog::read`] found it, before any secret joined it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLogSource {
    pub path: std::path::PathBuf,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    pub bytes: u64,
    /// Sessions with a server handshake traffic secret.
    pub sessions: usize,
    /// Sessions with a master secret (`CLIENT_RANDOM`).
    pub master_secrets: usize,
    /// Sessions with an exporter secret (`EXPORTER_SECRET`).
    pub exporter_secrets: usize,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_RANDOM` and `EXPORTER_SECRET` lines whose
    /// fields did not parse, and the first.
    pub malformed_lines: usize,
    pub first_malformed_line: Option<usize>,
}

impl KeyLog {
    /// The secrets of a key log's text; comments, blank lines and other labels are skipped.
    pub fn parse(text: &str) -> Self {
        let mut log = KeyLog::default();
        for (number, line) in text.lines().enumerate() {
            let mut fields = line.split_ascii_whitespace();
            let label = fields.next();
            if label != Some(SERVER_HANDSHAKE_LABEL)
                && label != Some(MASTER_SECRET_LABEL)
                && label != Some(EXPORTER_SECRET_LABEL)
            {
                continue;
            }
            let random = fields.next().and_then(|r| hex::decode(r).ok());
            let secret = fields.next().and_then(|s| hex::decode(leading_hex(s)).ok());
            match (random.map(<[u8; 32]>::try_from), secret) {
                (Some(Ok(random)), Some(secret))
                    if label == Some(MASTER_SECRET_LABEL)
                        && fields.next().is_none()
                        && let Ok(master) = <[u8; 48]>::try_from(secret.as_slice()) =>
                {
                    log.master_secrets.insert(random, master);
                }
                (Some(Ok(random)), Some(secret))
                    if label == Some(SERVER_HANDSHAKE_LABEL)
                        && matches!(secret.len(), 32 | 48)
                        && fields.next().is_none() =>
                {
                    log.server_handshake.insert(random, secret);
                }
                (Some(Ok(random)), Some(secret))
                    if label == Some(EXPORTER_SECRET_LABEL)
                        && matches!(secret.len(), 32 | 48)
                        && fields.next().is_none() =>
                {
                    log.exporter_secrets.insert(random, secret);
                }
                _ => {
                    log.malformed_lines += 1;
                    log.first_malformed_line.get_or_insert(number + 1);
                }
            }
        }
        log
    }

    /// Read a key log file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let named = |e: &dyn std::fmt::Display| format!("key log {}: {e}", path.display());
        let size = std::fs::metadata(path).map_err(|e| named(&e))?.len();
        if size > MAX_KEYLOG_BYTES {
            return Err(named(&format!(
                "{size} bytes, more than the {MAX_KEYLOG_BYTES} a key log may have"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| named(&e))?;
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let text = String::from_utf8(bytes).map_err(|_| named(&"not a text file"))?;
        let mut log = Self::parse(&text);
        log.source = Some(Arc::new(KeyLogSource {
            path: path.to_path_buf(),
            sha256,
            bytes: text.len() as u64,
            sessions: log.sessions(),
            master_secrets: log.master_secrets.len(),
            exporter_secrets: log.exporter_secrets.len(),
            malformed_lines: log.malformed_lines,
            first_malformed_line: log.first_malformed_line,
        }));
        if log.server_handshake.is_empty()
            && log.master_secrets.is_empty()
            && log.exporter_secrets.is_empty()
        {
            return Err(named(&format!(
                "no {SERVER_HANDSHAKE_LABEL}, {MASTER_SECRET_LABEL} or {EXPORTER_SECRET_LABEL} \
                 line (an NSS key log has one per TLS 1.3 or DTLS 1.2 session){}",
                log.first_malformed_line
                    .map_or(String::new(), |l| format!("; line {l} does not parse"))
            )));
        }
        Ok(log)
    }

    /// Add another key log's secrets (a capture's Decryption Secrets Block).
    pub fn extend(&mut self, other: KeyLog) {
        self.server_handshake.extend(other.server_handshake);
        self.master_secrets.extend(other.master_secrets);
        self.exporter_secrets.extend(other.exporter_secrets);
        self.malformed_lines += other.malformed_lines;
        if self.first_malformed_line.is_none() {
            self.first_malformed_line = other.first_malformed_line;
        }
    }

    /// Sessions the key log holds a server handshake secret for.
    pub fn sessions(&self) -> usize {
        self.server_handshake.len()
    }

    /// Sessions the key log holds a master secret for (`CLIENT_RANDOM`).
    pub fn master_secret_sessions(&self) -> usize {
        self.master_secrets.len()
    }

    /// Sessions the key log holds an exporter secret for (`EXPORTER_SECRET`).
    pub fn exporter_secret_sessions(&self) -> usize {
        self.exporter_secrets.len()
    }

    /// The exporter master secret of the TLS 1.3 / DTLS 1.3 session with this ClientHello
    /// random.
    pub fn exporter_secret(&self, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.exporter_secrets.get(client_random).map(Vec::as_slice)
    }

    /// The master secret of the TLS 1.2 / DTLS 1.2 session with this ClientHello random.
    pub fn master_secret(&self, client_random: &[u8; 32]) -> Option<&[u8; 48]> {
        self.master_secrets.get(client_random)
    }

    /// The server handshake traffic secret of the session with this ClientHello random.
    pub fn server_handshake_secret(&self, client_random: &[u8; 32]) -> Option<&[u8]> {
        let secret = self.server_handshake.get(client_random).map(Vec::as_slice);
        if secret.is_some()
            && let Some(used) = &self.used
            && let Ok(mut used) = used.lock()
        {
            used.push(*client_random);
        }
        secret
    }

    /// Whether the key log holds the secret of the session with this ClientHello random (a
    /// connection waiting for it can be opened now).
    pub fn knows(&self, client_random: Option<&[u8; 32]>) -> bool {
        client_random.is_some_and(|r| self.server_handshake.contains_key(r))
    }

    /// From now on, note each session whose secret a connection finds ([`Self::take_used`]).
    pub fn record_sessions_used(&mut self) {
        self.used.get_or_insert_default();
    }

    /// The sessions found since the last call, as key log lines (their server handshake
    /// secrets only, which open no application data), in the order found; each session once
    /// over all calls as long as `already` is kept.
    pub fn take_used(&self, already: &mut foldhash::HashSet<[u8; 32]>) -> String {
        let randoms = match self.used.as_ref().map(|u| u.lock()) {
            Some(Ok(mut used)) => std::mem::take(&mut *used),
            _ => return String::new(),
        };
        let mut lines = String::new();
        for random in randoms {
            if let Some(secret) = self.server_handshake.get(&random)
                && already.insert(random)
            {
                lines.push_str(&format!(
                    "{SERVER_HANDSHAKE_LABEL} {} {}\n",
                    hex::encode(random),
                    hex::encode(secret)
                ));
            }
        }
        lines
    }

    /// A holder of encrypted handshake bytes under this key log's shared budget.
    pub fn hold(&self) -> HeldBytes {
        HeldBytes {
            bytes: Vec::new(),
            budget: Arc::clone(&self.held),
        }
    }
}

/// Bytes read at most per look at a followed key log (the rest waits for the next look).
const FOLLOW_CHUNK: usize = 4 << 20;
/// A line longer than this is no key log line; it is skipped.
const MAX_LINE: usize = 4096;

/// A key log that grows while a live capture runs (a browser appends a session's secrets
/// right after its handshake): each look reads the complete lines appended since the last.
/// The file need not exist yet; if it shrinks (rewritten), it is read again from its start.
#[derive(Debug)]
pub struct KeyLogFollower {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
    offset: u64,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
    /// Bytes read so far, over all looks.
    pub bytes_read: u64,
}

impl KeyLogFollower {
    /// Follow the key log at `path`, opening it now if it exists (so that it stays readable
    /// once privileges are dropped); its present lines are read at the first look.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            file: std::fs::File::open(path).ok(),
            offset: 0,
            partial: Vec::new(),
            bytes_read: 0,
        }
    }

    /// The secrets of the complete lines appended since the last look (none: nothing new, or
    /// the file cannot be read yet); an error names the file when reading it fails.
    pub fn look(&mut self) -> Result<Option<KeyLog>, String> {
        use std::io::{Read, Seek, SeekFrom};
        let named = |e: &dyn std::fmt::Display| format!("key log {}: {e}", self.path.display());
        if self.file.is_none() {
            match std::fs::File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(named(&e)),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(None);
        };
        let len = file.metadata().map_err(|e| named(&e))?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(None);
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| named(&e))?;
        let want = (len - self.offset).min(FOLLOW_CHUNK as u64) as usize;
        let mut chunk = vec![0; want];
        let got = file.read(&mut chunk).map_err(|e| named(&e))?;
        chunk.truncate(got);
        self.offset += got as u64;
        self.bytes_read += got as u64;
        let Some(last_newline) = chunk.iter().rposition(|&b| b == b'\n') else {
            if self.partial.len() + chunk.len() <= MAX_LINE {
                self.partial.extend_from_slice(&chunk);
            } else {
                self.partial.clear(); // not a key log line: skipped
            }
            return Ok(None);
        };
        let mut text = std::mem::take(&mut self.partial);
        text.extend_from_slice(&chunk[..=last_newline]);
        let rest = &chunk[last_newline + 1..];
        if rest.len() <= MAX_LINE {
            self.partial.extend_from_slice(rest);
        }
        let log = KeyLog::parse(&String::from_utf8_lossy(&text));
        Ok((log.sessions() + log.master_secret_sessions() > 0).then_some(log))
    }
}

/// Encrypted handshake bytes of one connection, held until its session's secret turns up; the
/// bytes count against a budget shared by every connection ([`MAX_HELD_BYTES`]).
#[derive(Debug)]
pub struct HeldBytes {
    bytes: Vec<u8>,
    budget: Arc<AtomicUsize>,
}

impl HeldBytes {
    /// Hold these bytes as one piece; false (nothing held) when the connection's or the
    /// shared budget would be exceeded.
    pub fn push(&mut self, pieces: &[&[u8]]) -> bool {
        let n: usize = pieces.iter().map(|p| p.len()).sum();
        if self.bytes.len() + n > MAX_HELD_BYTES_PER_CONNECTION {
            return false;
        }
        let reserved = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                (held + n <= MAX_HELD_BYTES).then_some(held + n)
            });
        if reserved.is_err() {
            return false;
        }
        for piece in pieces {
            self.bytes.extend_from_slice(piece);
        }
        true
    }

    /// The bytes held, in the order pushed.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for HeldBytes {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.bytes.len(), Ordering::Relaxed);
    }
}

/// The hex digits a secret field starts with. Wireshark reads a secret followed by other
/// characters (a key log embedded in quic_follow_multistream.pcapng ends every line with
/// `\`); the secret's length (32 or 48 bytes) is still checked.
fn leading_hex(field: &str) -> &str {
    let end = field
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(field.len());
    &field[..end]
}

/// An output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", len) of RFC 8446 §7.1.
pub fn expand_label(
    algorithm: hkdf::Algorithm,
    secret: &[u8],
    label: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    expand_label_with(algorithm, LabelPrefix::Tls13, secret, label, &[], len)
}

/// The prefix of HKDF-Expand-Label's labels: "tls13 " (RFC 8446 §7.1), "dtls13" for DTLS 1.3
/// (RFC 9147 §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelPrefix {
    Tls13,
    Dtls13,
}

/// HKDF-Expand-Label(secret, label, context, len) with the label prefix of TLS 1.3 or DTLS 1.3.
pub fn expand_label_with(
    algorithm: hkdf::Algorithm,
    prefix: LabelPrefix,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    let prefix: &[u8] = match prefix {
        LabelPrefix::Tls13 => b"tls13 ",
        LabelPrefix::Dtls13 => b"dtls13",
    };
    let full_label_len = u8::try_from(prefix.len() + label.len()).ok()?;
    let context_len = u8::try_from(context.len()).ok()?;
    let length = u16::try_from(len).ok()?.to_be_bytes();
    let info: [&[u8]; 6] = [
        &length,
        &[full_label_len],
        prefix,
        label,
        &[context_len],
        context,
    ];
    let prk = hkdf::Prk::new_less_safe(algorithm, secret);
    let mut out = vec![0; len];
    prk.expand(&info, Len(len)).ok()?.fill(&mut out).ok()?;
    Some(out)
}

/// Opens one direction's records under one traffic secret, counting their sequence numbers.
pub struct RecordOpener {
    key: aead::LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
    sequence: u64,
    /// The record header is the additional data (RFC 8446 and drafts from 25; empty before).
    header_is_aad: bool,
}

impl std::fmt::Debug for RecordOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordOpener")
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl RecordOpener {
    /// The opener of a TLS 1.3 cipher suite's records under `secret`; None for a suite ring
    /// has no AEAD for (the CCM suites 0x1304 and 0x1305). `header_is_aad`: false for drafts
    /// before 25, which authenticated no additional data.
    pub fn new(cipher_suite: u32, secret: &[u8], header_is_aad: bool) -> Option<Self> {
        Self::with_prefix(cipher_suite, secret, header_is_aad, LabelPrefix::Tls13)
            .map(|(opener, _)| opener)
    }

    /// The opener of a DTLS 1.3 cipher suite's records (labels prefixed "dtls13", RFC 9147
    /// §5.9), and the key that masks their record numbers ("sn", as long as the AEAD key).
    pub fn dtls13(cipher_suite: u32, secret: &[u8]) -> Option<(Self, Vec<u8>)> {
        Self::with_prefix(cipher_suite, secret, true, LabelPrefix::Dtls13)
    }

    fn with_prefix(
        cipher_suite: u32,
        secret: &[u8],
        header_is_aad: bool,
        prefix: LabelPrefix,
    ) -> Option<(Self, Vec<u8>)> {
        let (aead_algorithm, hash) = match cipher_suite {
            0x1301 => (&aead::AES_128_GCM, hkdf::HKDF_SHA256),
            0x1302 => (&aead::AES_256_GCM, hkdf::HKDF_SHA384),
            0x1303 => (&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256),
            _ => return None,
        };
        let label = |label: &[u8], len| expand_label_with(hash, prefix, secret, label, &[], len);
        let key = label(b"key", aead_algorithm.key_len())?;
        let iv = label(b"iv", aead::NONCE_LEN)?;
        let sn = label(b"sn", aead_algorithm.key_len())?;
        let opener = Self {
            key: aead::LessSafeKey::new(aead::UnboundKey::new(aead_algorithm, &key).ok()?),
            iv: iv.try_into().ok()?,
            sequence: 0,
            header_is_aad,
        };
        Some((opener, sn))
    }

    /// Open the next record (its 5-byte header is the additional data, from draft 25): the inner content type
    /// and the plaintext, or None when it does not authenticate under this key.
    pub fn open(&mut self, header: &[u8; 5], body: &[u8]) -> Option<(u8, Vec<u8>)> {
        let sequence = self.sequence;
        self.sequence += 1;
        let aad: &[u8] = if self.header_is_aad { header } else { &[] };
        self.open_at(sequence, aad, body)
    }

    /// Open the record with this sequence number and additional data (DTLS 1.3 numbers its
    /// records on the wire): the inner content type and the plaintext.
    pub fn open_at(&self, sequence: u64, aad: &[u8], body: &[u8]) -> Option<(u8, Vec<u8>)> {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(sequence.to_be_bytes()) {
            *n ^= s;
        }
        let mut buf = body.to_vec();
        let plain_len = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut buf,
            )
            .ok()?
            .len();
        buf.truncate(plain_len);
        // (D)TLSInnerPlaintext: content, the content type, then zero padding
        let type_at = buf.iter().rposition(|&b| b != 0)?;
        let content_type = buf[type_at];
        buf.truncate(type_at);
        Some((content_type, buf))
    }
}

/// The certificates of a TLS 1.3 Certificate message body (RFC 8446 §4.4.2): each entry's
/// DER, in the order sent (leaf first); None when the framing does not hold.
pub fn certificate_entries(body: &[u8]) -> Option<Vec<&[u8]>> {
    let context_len = usize::from(*body.first()?);
    let rest = body.get(1 + context_len..)?;
    let list_len = u24(rest.get(..3)?);
    let mut list = rest.get(3..3 + list_len)?;
    let mut entries = Vec::new();
    while !list.is_empty() {
        let der_len = u24(list.get(..3)?);
        let der = list.get(3..3 + der_len)?;
        let ext_at = 3 + der_len;
        let ext_len = usize::from(u16::from_be_bytes(
            list.get(ext_at..ext_at + 2)?.try_into().ok()?,
        ));
        list = list.get(ext_at + 2 + ext_len..)?;
        entries.push(der);
    }
    Some(entries)
}

/// The Certificate message inside a CompressedCertificate body (RFC 8879, handshake type 25;
/// Chrome asks for it and Cloudflare or Google answer with brotli): zlib (1) and brotli (2).
/// None for another algorithm (zstd, 3), a declared length above `max`, or data that does not
/// decompress to exactly the declared length.
pub fn decompress_certificate(body: &[u8], max: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let algorithm = u16::from_be_bytes(body.get(..2)?.try_into().ok()?);
    let declared = u24(body.get(2..5)?);
    let compressed_len = u24(body.get(5..8)?);
    let compressed = body.get(8..8 + compressed_len)?;
    if declared > max {
        return None;
    }
    let mut out = Vec::with_capacity(declared);
    // one byte beyond the declared length tells a message longer than declared
    let limit = declared as u64 + 1;
    let read = match algorithm {
        1 => flate2::read::ZlibDecoder::new(compressed)
            .take(limit)
            .read_to_end(&mut out),
        2 => brotli_decompressor::Decompressor::new(compressed, 4096)
            .take(limit)
            .read_to_end(&mut out),
        _ => return None,
    };
    (read.is_ok() && out.len() == declared).then_some(out)
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// The protocol an EncryptedExtensions body's ALPN extension (type 16) selected.
pub fn selected_alpn(body: &[u8]) -> Option<String> {
    // ProtocolNameList: u16 length, then one u8-prefixed name
    let data = extension(body, 16)?;
    let name_len = usize::from(*data.get(2)?);
    let name = data.get(3..3 + name_len)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

/// The SRTP protection profile an EncryptedExtensions body selected (DTLS 1.3 `use_srtp`,
/// RFC 5764 §4.1.1: a list of one profile, then the MKI).
pub fn selected_srtp_profile(body: &[u8]) -> Option<u16> {
    let data = extension(body, 14)?;
    let list_len = usize::from(u16::from_be_bytes(data.get(..2)?.try_into().ok()?));
    let profile = data.get(2..4).filter(|_| list_len >= 2)?;
    Some(u16::from_be_bytes(profile.try_into().ok()?))
}

/// The data of the first extension of this type in an extension list (u16 length first).
fn extension(body: &[u8], wanted: u16) -> Option<&[u8]> {
    let total = usize::from(u16::from_be_bytes(body.get(..2)?.try_into().ok()?));
    let mut exts = body.get(2..2 + total)?;
    while exts.len() >= 4 {
        let ext_type = u16::from_be_bytes([exts[0], exts[1]]);
        let len = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
        let data = exts.get(4..4 + len)?;
        exts = &exts[4 + len..];
        if ext_type == wanted {
            return Some(data);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_log_keeps_the_server_handshake_secrets_and_counts_what_does_not_parse() {
        let random = "ab".repeat(32);
        let secret = "cd".repeat(32);
        let text = format!(
            "# SSL/TLS secrets log file\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {secret}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {random} {secret}\n\
             SERVER_TRAFFIC_SECRET_0 {random} {secret}\n\
             CLIENT_RANDOM {random} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {} {secret}\\\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {random} zz\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET abcd {secret}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {random} {}\\\n\n",
            "ef".repeat(48),
            "12".repeat(32),
            &secret[1..],
        );
        let log = KeyLog::parse(&text);
        assert_eq!(log.sessions(), 2);
        assert_eq!(
            log.server_handshake_secret(&[0xab; 32]),
            Some(&[0xcd; 32][..])
        );
        // a trailing `\` after a whole secret is read past, as Wireshark does
        assert_eq!(
            log.server_handshake_secret(&[0x12; 32]),
            Some(&[0xcd; 32][..])
        );
        assert_eq!(log.server_handshake_secret(&[0; 32]), None);
        assert_eq!(
            (log.malformed_lines, log.first_malformed_line),
            (3, Some(7))
        );
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic secret and the
    /// write key and IV derived from it; `openssl kdf … -kdfopt mode:EXPAND_ONLY HKDF` with
    /// the same info bytes prints the same values.
    #[test]
    fn a_followed_key_log_yields_each_complete_line_once() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        let line = |n: u8| {
            format!(
                "SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}\n",
                hex::encode([n; 32]),
                "cd".repeat(32)
            )
        };
        let mut follower = KeyLogFollower::new(&path);
        assert!(follower.look().unwrap().is_none(), "no file yet");
        let mut file = std::fs::File::create(&path).unwrap();
        let first = line(1);
        // a line cut where the writer's buffer ended: nothing until it is complete
        file.write_all(&first.as_bytes()[..40]).unwrap();
        assert!(follower.look().unwrap().is_none());
        file.write_all(&first.as_bytes()[40..]).unwrap();
        file.write_all(b"CLIENT_TRAFFIC_SECRET_0 00 00\n").unwrap();
        let log = follower.look().unwrap().unwrap();
        assert_eq!(log.sessions(), 1);
        assert!(log.server_handshake_secret(&[1; 32]).is_some());
        assert!(follower.look().unwrap().is_none(), "nothing new");
        file.write_all(line(2).as_bytes()).unwrap();
        let log = follower.look().unwrap().unwrap();
        assert_eq!(log.sessions(), 1);
        assert!(log.server_handshake_secret(&[2; 32]).is_some());
        // rewritten from scratch (shorter than what was read): read again from its start
        std::fs::write(&path, line(3)).unwrap();
        let log = follower.look().unwrap().unwrap();
        assert!(log.server_handshake_secret(&[3; 32]).is_some());
        assert_eq!(
            follower.bytes_read as usize,
            2 * first.len() + 30 + first.len()
        );
    }

    #[test]
    fn sessions_used_are_told_once_with_their_handshake_secret_only() {
        let text = format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {r} {s}\nSERVER_TRAFFIC_SECRET_0 {r} {t}\n\
             EXPORTER_SECRET {r} {x}\n",
            r = "01".repeat(32),
            s = "ab".repeat(32),
            t = "ef".repeat(32),
            x = "77".repeat(32)
        );
        let mut log = KeyLog::parse(&text);
        // the exporter secret is read (DTLS 1.3 media keys), never told
        assert_eq!(log.exporter_secret(&[1; 32]), Some(&[0x77; 32][..]));
        log.record_sessions_used();
        let grown = log.clone(); // a grown key log shares the record
        let mut saved = foldhash::HashSet::default();
        assert_eq!(log.take_used(&mut saved), "");
        assert!(grown.server_handshake_secret(&[1; 32]).is_some());
        assert!(log.server_handshake_secret(&[1; 32]).is_some());
        assert!(log.server_handshake_secret(&[2; 32]).is_none());
        let lines = log.take_used(&mut saved);
        assert_eq!(lines, text.lines().next().unwrap().to_string() + "\n");
        assert!(grown.server_handshake_secret(&[1; 32]).is_some());
        assert_eq!(log.take_used(&mut saved), "", "each session once");
    }

    #[test]
    fn held_bytes_stay_within_the_connection_and_shared_budgets() {
        let log = KeyLog::default();
        let piece = vec![0u8; 32 << 10];
        let mut held = Vec::new();
        let mut first = log.hold();
        assert!(first.push(&[&piece, &piece]));
        assert!(first.push(&[&piece]));
        assert!(!first.push(&[&piece]), "over the connection's budget");
        assert_eq!(first.bytes().len(), 96 << 10);
        held.push(first);
        loop {
            let mut h = log.hold();
            if !h.push(&[&piece, &piece, &piece]) {
                break;
            }
            held.push(h);
        }
        assert_eq!(held.len(), MAX_HELD_BYTES / (96 << 10));
        assert!(
            !log.hold().push(&[&piece, &piece, &piece]),
            "the shared budget is spent"
        );
        held.pop(); // a connection done with its bytes gives them back
        assert!(log.hold().push(&[&piece, &piece, &piece]));
    }

    #[test]
    fn key_and_iv_of_rfc8448_server_handshake_secret() {
        let secret =
            hex::decode("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
                .unwrap();
        let key = expand_label(hkdf::HKDF_SHA256, &secret, b"key", 16).unwrap();
        let iv = expand_label(hkdf::HKDF_SHA256, &secret, b"iv", 12).unwrap();
        assert_eq!(hex::encode(key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex::encode(iv), "5d313eb2671276ee13000b30");
        assert!(RecordOpener::new(0x1301, &secret, true).is_some());
        assert!(
            RecordOpener::new(0x1304, &secret, true).is_none(),
            "CCM: no AEAD here"
        );
    }

    #[test]
    fn certificate_entries_follow_the_tls13_framing() {
        // context "", two entries ("AB" with no extensions, "C" with a 1-byte extension block)
        let body = [0, 0, 0, 12, 0, 0, 2, b'A', b'B', 0, 0, 0, 0, 1, b'C', 0, 1];
        assert_eq!(certificate_entries(&body[..]), None, "extension cut short");
        let body = [
            0, 0, 0, 14, 0, 0, 2, b'A', b'B', 0, 0, 0, 0, 1, b'C', 0, 1, 9,
        ];
        assert_eq!(
            certificate_entries(&body[..]),
            Some(vec![&b"AB"[..], &b"C"[..]])
        );
        assert_eq!(certificate_entries(&body[..5]), None);
    }

    #[test]
    fn a_compressed_certificate_must_decompress_to_its_declared_length() {
        use std::io::Write;
        let message = b"a Certificate message".repeat(20);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&message).unwrap();
        let compressed = z.finish().unwrap();
        let body = |algorithm: u8, declared: usize| {
            let mut b = vec![0, algorithm];
            b.extend_from_slice(&(declared as u32).to_be_bytes()[1..]);
            b.extend_from_slice(&(compressed.len() as u32).to_be_bytes()[1..]);
            b.extend_from_slice(&compressed);
            b
        };
        let n = message.len();
        assert_eq!(decompress_certificate(&body(1, n), 1 << 16), Some(message));
        assert_eq!(
            decompress_certificate(&body(1, n - 1), 1 << 16),
            None,
            "longer"
        );
        assert_eq!(
            decompress_certificate(&body(1, n + 1), 1 << 16),
            None,
            "shorter"
        );
        assert_eq!(
            decompress_certificate(&body(1, n), n - 1),
            None,
            "above the cap"
        );
        assert_eq!(decompress_certificate(&body(3, n), 1 << 16), None, "zstd");
        assert_eq!(
            decompress_certificate(&body(2, n), 1 << 16),
            None,
            "not brotli"
        );
    }

    #[test]
    fn the_alpn_of_encrypted_extensions() {
        // supported_groups (10) then ALPN (16) "h2"
        let body = [0, 15, 0, 10, 0, 2, 0, 0, 0, 16, 0, 5, 0, 3, 2, b'h', b'2'];
        assert_eq!(selected_alpn(&body), Some("h2".into()));
        assert_eq!(selected_alpn(&body[..10]), None);
    }
}
