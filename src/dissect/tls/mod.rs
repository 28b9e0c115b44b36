//! TLS over a reassembled TCP stream: records, handshake messages, and the facts they show.
//!
//! Owns: record framing per direction (records split across segments, handshake messages split
//! across records), the decision whether a stream is TLS at all, SSLv2-compatible hellos, and
//! turning ClientHello / ServerHello / Certificate / Alert into [`TlsFacts`]. The wire parsing of
//! each message is tls-parser's; certificates are x509-parser's (see [`cert`]).
//! Must not: format text for output (see `verdict`), or buffer without bound.

pub mod cert;
pub mod hello;
pub mod keylog;
pub mod names;
mod sslv2;

use std::sync::Arc;

use tls_parser::{TlsMessage, TlsMessageHandshake, parse_tls_message_handshake};

use crate::flow::tcp::StreamSink;
pub use cert::CertFacts;
pub use hello::{ClientHelloFacts, ServerHelloFacts};
use keylog::{HeldBytes, KeyLog, RecordOpener};

/// Largest TLS record body (2^14 plus the expansion TLS 1.2 allows).
const MAX_RECORD_BODY: usize = 16384 + 2048;
/// A handshake message larger than this is not buffered (long certificate chains fit easily).
const MAX_HANDSHAKE_MESSAGE: usize = 256 * 1024;
/// Certificates kept per flow.
const MAX_CERTIFICATES: usize = 16;
/// Plaintext watched for a TLS upgrade before a direction is given up as not TLS.
const MAX_PLAINTEXT_PRELUDE: u64 = 16 * 1024;
/// Alerts kept per flow.
const MAX_ALERTS: usize = 16;
/// Encrypted server records opened with a key log before giving up on reaching its Finished
/// (a server's TLS 1.3 handshake takes a handful).
const MAX_OPENED_RECORDS: u32 = 64;
/// How long (capture time) a TLS 1.3 connection waits for its session's secret to join the key
/// log (a live capture's browser appends it a moment after the ServerHello; a capture saved
/// live carries it in a Decryption Secrets Block soon after).
pub const SECRET_WAIT_NS: i64 = 10_000_000_000;

/// What a key log did for a TLS 1.3 server's encrypted handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeylogOutcome {
    /// The server's handshake records opened under the key log's secret.
    Decrypted,
    /// The key log has no server handshake secret for this ClientHello's random.
    NoSecret,
    /// The secret did not open the server's records.
    Undecryptable,
    /// A cipher suite without an AEAD here (TLS_AES_128_CCM_SHA256, TLS_AES_128_CCM_8_SHA256).
    UnsupportedCipher,
    /// A TLS 1.3 draft before 20, whose key schedule used other labels.
    UnsupportedVersion,
    /// The records opened, but the certificate came compressed with an algorithm not read
    /// here (zstd) or did not decompress.
    CertificateUnread,
    /// A hole in the captured stream cut the encrypted handshake before its records opened.
    Interrupted,
}

impl KeylogOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decrypted => "decrypted",
            Self::NoSecret => "no-secret",
            Self::Undecryptable => "undecryptable",
            Self::UnsupportedCipher => "unsupported-cipher",
            Self::UnsupportedVersion => "unsupported-version",
            Self::CertificateUnread => "certificate-unread",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A TLS 1.3 server handshake being opened with a key log.
#[derive(Debug)]
struct ServerHandshake {
    opener: RecordOpener,
    /// Bytes of an incomplete handshake message (spanning records).
    messages: Vec<u8>,
    records: u32,
}

/// A TLS 1.3 server's encrypted records, held while the key log lacks the session's secret.
#[derive(Debug)]
struct WaitingHandshake {
    /// The records as sent (5-byte header, then the body), the first [`MAX_OPENED_RECORDS`].
    records: HeldBytes,
    count: u32,
    /// Capture time of the ServerHello's delivery.
    since_ts: i64,
    /// A hole in the server's stream came after the records held.
    interrupted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertFact {
    pub frame: u64,
    pub from_server: bool,
    pub level: u8,
    pub description: u8,
}

/// Everything observed about the TLS session of one flow.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    pub client_hello: Option<ClientHelloFacts>,
    pub server_hello: Option<ServerHelloFacts>,
    /// The server's chain, leaf first, as sent (TLS ≤ 1.2 and SSLv2; TLS 1.3 encrypts it, and
    /// it is here only when a key log opened the server's handshake).
    pub certificates: Vec<CertFacts>,
    /// Certificates of that chain not in `certificates`: beyond the first 16, or not X.509.
    pub unlisted_certificates: u32,
    /// The first 16 alerts sent in clear.
    pub alerts: Vec<AlertFact>,
    /// Alerts sent in clear beyond those.
    pub unlisted_alerts: u32,
    /// Alerts sent after encryption started: their content is not visible.
    pub encrypted_alerts: u32,
    /// Frame of the first application-data record, per direction (client, server).
    pub application_data_frame: [Option<u64>; 2],
    /// ChangeCipherSpec seen, per direction.
    pub change_cipher_spec: [bool; 2],
    /// A hole in the TCP stream interrupted parsing of the handshake.
    pub gap_in_handshake: bool,
    /// Plaintext bytes before the TLS handshake, per direction (STARTTLS, RDP, HTTP CONNECT).
    pub plaintext_prelude_bytes: [u64; 2],
    /// TLS 1.3 with a key log: what it did for the server's encrypted handshake.
    pub keylog: Option<KeylogOutcome>,
}

impl TlsFacts {
    /// Record a ServerHello. A HelloRetryRequest (RFC 8446 §4.1.3: a ServerHello with a fixed
    /// random) is kept until the real ServerHello, which inherits its `hello_retry` mark.
    /// Returns whether this one was a HelloRetryRequest.
    pub fn record_server_hello(&mut self, mut facts: ServerHelloFacts, random: &[u8]) -> bool {
        let retry = random == names::HELLO_RETRY_REQUEST_RANDOM;
        facts.hello_retry = retry || self.server_hello.as_ref().is_some_and(|s| s.hello_retry);
        self.server_hello = Some(facts);
        retry
    }

    /// Record an alert record: its level and description when sent in clear, else a count.
    pub fn record_alert(&mut self, frame: u64, from_server: bool, plaintext: bool, body: &[u8]) {
        match body {
            [level, description] if plaintext => {
                if self.alerts.len() < MAX_ALERTS {
                    self.alerts.push(AlertFact {
                        frame,
                        from_server,
                        level: *level,
                        description: *description,
                    });
                } else {
                    self.unlisted_alerts = self.unlisted_alerts.saturating_add(1);
                }
            }
            _ => self.encrypted_alerts += 1,
        }
    }

    /// Record the server's certificate chain, leaf first: the first `MAX_CERTIFICATES` that
    /// parse as X.509 are listed, the others counted.
    pub fn record_chain<'a>(&mut self, chain: impl Iterator<Item = &'a [u8]>) {
        for (i, der) in chain.enumerate() {
            match (i < MAX_CERTIFICATES).then(|| cert::parse(der)).flatten() {
                Some(c) => self.certificates.push(c),
                None => self.unlisted_certificates = self.unlisted_certificates.saturating_add(1),
            }
        }
    }

    /// Exchange the direction-indexed facts, when the flow's roles turn out to be the reverse.
    pub fn swap_directions(&mut self) {
        self.application_data_frame.swap(0, 1);
        self.change_cipher_spec.swap(0, 1);
        self.plaintext_prelude_bytes.swap(0, 1);
        // Alerts record their sender relative to the hellos already.
    }
}

impl TlsFacts {
    /// The negotiated protocol version, if a ServerHello was seen.
    pub fn version(&self) -> Option<u16> {
        let sh = self.server_hello.as_ref()?;
        Some(sh.selected_version.unwrap_or(sh.legacy_version))
    }

    /// One message of a server's encrypted TLS 1.3 handshake, opened with a key log (over TCP
    /// or QUIC): EncryptedExtensions gives the selected ALPN, (Compressed)Certificate the
    /// chain. True at its Finished.
    pub fn encrypted_server_message(&mut self, msg_type: u8, body: &[u8]) -> bool {
        match msg_type {
            8 => {
                if let Some(sh) = self.server_hello.as_mut()
                    && sh.alpn.is_none()
                {
                    sh.alpn = keylog::selected_alpn(body);
                }
            }
            11 if self.certificates.is_empty() => {
                if let Some(entries) = keylog::certificate_entries(body) {
                    self.record_chain(entries.into_iter());
                }
            }
            25 if self.certificates.is_empty() => {
                let message = keylog::decompress_certificate(body, MAX_HANDSHAKE_MESSAGE);
                match message.as_deref().and_then(keylog::certificate_entries) {
                    Some(entries) => self.record_chain(entries.into_iter()),
                    None => self.keylog = Some(KeylogOutcome::CertificateUnread),
                }
            }
            20 => return true,
            _ => {}
        }
        false
    }

    /// The negotiated cipher suite, if a ServerHello was seen.
    pub fn cipher(&self) -> Option<u32> {
        self.server_hello.as_ref().map(|sh| sh.cipher)
    }
}

/// Whether the bytes that start a stream direction look like a TLS record (SSL 3.0 to TLS 1.3).
pub fn looks_like_tls_record(b: &[u8]) -> bool {
    b.len() >= 3 && (20..=23).contains(&b[0]) && b[1] == 3 && b[2] <= 4
}

/// Whether the bytes that start a stream direction look like TLS or an SSLv2 hello.
pub fn looks_like_tls_start(b: &[u8]) -> bool {
    looks_like_tls_record(b) || sslv2::looks_like_hello(b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirState {
    /// Nothing delivered yet.
    Start,
    /// Plaintext so far; watching for a TLS upgrade (STARTTLS, RDP, HTTP CONNECT).
    Prelude,
    /// Parsing TLS records.
    Records,
    /// The direction is not (or no longer parseably) TLS.
    Stopped,
}

/// Per-direction record parser state.
#[derive(Debug)]
struct Direction {
    state: DirState,
    /// Bytes of an incomplete record.
    partial: Vec<u8>,
    /// Bytes of an incomplete handshake message (spanning records).
    handshake: Vec<u8>,
    /// Records after ChangeCipherSpec (or TLS 1.3 keys) are ciphertext.
    encrypted: bool,
    /// Plaintext bytes before TLS started (or so far).
    prelude_bytes: u64,
}

impl Direction {
    fn new() -> Self {
        Self {
            state: DirState::Start,
            partial: Vec::new(),
            handshake: Vec::new(),
            encrypted: false,
            prelude_bytes: 0,
        }
    }
}

/// The TLS dissector for one TCP connection (both directions).
#[derive(Debug)]
pub struct TlsStream {
    dirs: [Direction; 2],
    pub facts: TlsFacts,
    /// At least one direction was recognised as TLS.
    pub is_tls: bool,
    /// Direction (0 = flow's client side) that sent the ClientHello / ServerHello.
    sides: hello::HelloSides,
    /// The secrets that open TLS 1.3 server handshakes, when a key log was given.
    keylog: Option<Arc<KeyLog>>,
    /// The ClientHello's random (kept only with a key log: it names the session there).
    client_random: Option<[u8; 32]>,
    /// The server's encrypted handshake being opened.
    opening: Option<Box<ServerHandshake>>,
    /// The server's encrypted handshake, held until its secret joins the key log.
    waiting: Option<Box<WaitingHandshake>>,
    /// Capture time of the bytes being fed.
    now_ts: i64,
}

impl Default for TlsStream {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsStream {
    pub fn new() -> Self {
        Self::with_keylog(None)
    }

    /// A dissector that opens TLS 1.3 server handshakes with this key log's secrets.
    pub fn with_keylog(keylog: Option<Arc<KeyLog>>) -> Self {
        Self {
            dirs: [Direction::new(), Direction::new()],
            facts: TlsFacts::default(),
            is_tls: false,
            sides: hello::HelloSides::default(),
            keylog,
            client_random: None,
            opening: None,
            waiting: None,
            now_ts: 0,
        }
    }

    /// A sink for one direction (0 = client to server) while processing `frame`, captured at
    /// `ts` (ns).
    pub fn sink(&mut self, direction: usize, frame: u64, ts: i64) -> DirectionSink<'_> {
        self.now_ts = ts;
        DirectionSink {
            stream: self,
            dir: direction.min(1),
            frame,
        }
    }

    /// Both directions have nothing more to tell (encrypted data flows, or not TLS), and the
    /// server's handshake is neither being opened nor waiting for its secret.
    pub fn is_done(&self) -> bool {
        let waiting = self
            .waiting
            .as_ref()
            .is_some_and(|w| self.now_ts.saturating_sub(w.since_ts) < SECRET_WAIT_NS);
        let dir_done = |i: usize| {
            self.dirs[i].state == DirState::Stopped
                || (self.facts.application_data_frame[i].is_some()
                    && ((self.opening.is_none() && !waiting) || i != self.server_dir()))
        };
        dir_done(0) && dir_done(1)
    }

    /// The key log grew (a Decryption Secrets Block, or lines a browser appended during a live
    /// capture): a handshake waiting for its secret is opened if the secret is there now, and
    /// a handshake still to come will look it up there.
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
        let mut records = waiting.records.bytes();
        while records.len() >= 5 && self.opening.is_some() {
            let header: [u8; 5] = records[..5].try_into().unwrap_or_default();
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            let Some(body) = records.get(5..5 + len) else {
                break;
            };
            self.open_server_record(&header, body);
            records = &records[5 + len..];
        }
        if waiting.interrupted && self.opening.take().is_some() {
            self.facts.keylog = Some(KeylogOutcome::Interrupted);
        }
    }

    /// The ClientHello came from the side the flow table took for the server.
    pub fn client_is_responder(&self) -> bool {
        self.sides.client_is_responder()
    }

    fn server_dir(&self) -> usize {
        self.sides.server_dir()
    }

    /// Whether the given direction was seen not to be TLS at its start.
    pub fn direction_rejected(&self, direction: usize) -> bool {
        self.dirs[direction].state == DirState::Stopped && !self.is_tls
    }

    /// The TLS 1.3 server encrypts everything after ServerHello.
    fn tls13_selected(&self) -> bool {
        matches!(self.facts.version(), Some(v) if v == 0x0304 || (v >> 8) == 0x7F)
    }

    fn feed(&mut self, dir: usize, frame: u64, data: &[u8]) {
        match self.dirs[dir].state {
            DirState::Stopped => return,
            DirState::Records => {}
            DirState::Start | DirState::Prelude => return self.feed_start(dir, frame, data),
        }
        // Fast path: no leftover, parse records straight from the segment.
        if self.dirs[dir].partial.is_empty() {
            let used = self.records(dir, frame, data);
            if self.dirs[dir].state == DirState::Records && used < data.len() {
                self.dirs[dir].partial.extend_from_slice(&data[used..]);
            }
        } else {
            let mut buf = std::mem::take(&mut self.dirs[dir].partial);
            buf.extend_from_slice(data);
            let used = self.records(dir, frame, &buf);
            if self.dirs[dir].state == DirState::Records {
                buf.drain(..used);
                self.dirs[dir].partial = buf;
            }
        }
        if self.dirs[dir].partial.len() > MAX_RECORD_BODY + 5 {
            // cannot happen with valid framing; never hold more than one record
            self.stop(dir);
        }
    }

    /// The first bytes of a direction, or of a chunk after a plaintext prelude.
    fn feed_start(&mut self, dir: usize, frame: u64, data: &[u8]) {
        let state = self.dirs[dir].state;
        let mut buf = std::mem::take(&mut self.dirs[dir].partial);
        buf.extend_from_slice(data);
        if buf.len() < 6 && state == DirState::Start {
            self.dirs[dir].partial = buf;
            return;
        }
        if state == DirState::Start && !looks_like_tls_record(&buf) && sslv2::looks_like_hello(&buf)
        {
            return self.feed_sslv2(dir, frame, buf);
        }
        let starts_tls = match state {
            DirState::Start => looks_like_tls_record(&buf),
            // After plaintext, only a hello record counts as the upgrade (STARTTLS, RDP, CONNECT).
            _ => {
                buf.len() >= 6
                    && buf[0] == 22
                    && looks_like_tls_record(&buf)
                    && matches!(buf[5], 1 | 2)
            }
        };
        if !starts_tls {
            let d = &mut self.dirs[dir];
            d.prelude_bytes += buf.len() as u64;
            d.state = if d.prelude_bytes > MAX_PLAINTEXT_PRELUDE {
                DirState::Stopped
            } else {
                DirState::Prelude
            };
            return;
        }
        self.dirs[dir].state = DirState::Records;
        self.is_tls = true;
        self.facts.plaintext_prelude_bytes[dir] = self.dirs[dir].prelude_bytes;
        let used = self.records(dir, frame, &buf);
        if self.dirs[dir].state == DirState::Records && used < buf.len() {
            buf.drain(..used);
            self.dirs[dir].partial = buf;
        }
    }

    fn feed_sslv2(&mut self, dir: usize, frame: u64, buf: Vec<u8>) {
        match sslv2::parse_record(&buf) {
            sslv2::Parsed::Incomplete => self.dirs[dir].partial = buf,
            sslv2::Parsed::Invalid => self.stop(dir),
            sslv2::Parsed::ClientHello(ch) => {
                self.is_tls = true;
                if self.facts.client_hello.is_none() {
                    self.sides.client = Some(dir);
                    self.facts.client_hello = Some(ClientHelloFacts {
                        frame,
                        legacy_version: ch.version,
                        sni: None,
                        alpn: Vec::new(),
                        supported_versions: Vec::new(),
                        ciphers: ch.ciphers,
                        sslv2_format: true,
                        srtp_profiles: Vec::new(),
                    });
                }
                // The server may answer in SSLv2 or SSLv3/TLS; the client's later records are
                // SSLv2 ciphertext or TLS records, neither of which we need.
                self.stop(dir);
            }
            sslv2::Parsed::ServerHello(sh) => {
                self.is_tls = true;
                if self.facts.server_hello.is_none() {
                    self.sides.server = Some(dir);
                    self.facts.server_hello = Some(ServerHelloFacts {
                        frame,
                        legacy_version: 0x0002,
                        selected_version: None,
                        cipher: sh.cipher,
                        alpn: None,
                        hello_retry: false,
                        srtp_profile: None,
                    });
                }
                if let Some(der) = sh.certificate {
                    self.facts.record_chain(std::iter::once(der));
                }
                self.stop(dir);
            }
        }
    }

    fn stop(&mut self, dir: usize) {
        let d = &mut self.dirs[dir];
        d.state = DirState::Stopped;
        d.partial = Vec::new();
        d.handshake = Vec::new();
    }

    /// Parse whole records from `buf`; returns the bytes consumed.
    fn records(&mut self, dir: usize, frame: u64, buf: &[u8]) -> usize {
        let mut pos = 0;
        while buf.len() - pos >= 5 {
            let h = &buf[pos..pos + 5];
            let (ctype, major, len) = (h[0], h[1], usize::from(u16::from_be_bytes([h[3], h[4]])));
            if !(20..=24).contains(&ctype) || major != 3 || len > MAX_RECORD_BODY {
                // Not a record boundary any more: stop rather than misread.
                self.stop(dir);
                return pos;
            }
            if buf.len() - pos < 5 + len {
                break;
            }
            let header = [h[0], h[1], h[2], h[3], h[4]];
            let body = &buf[pos + 5..pos + 5 + len];
            pos += 5 + len;
            self.record(dir, frame, &header, body);
            if self.dirs[dir].state == DirState::Stopped {
                return pos;
            }
        }
        pos
    }

    fn record(&mut self, dir: usize, frame: u64, header: &[u8; 5], body: &[u8]) {
        match header[0] {
            20 => {
                self.facts.change_cipher_spec[dir] = true;
                // In TLS 1.3 the CCS is a compatibility no-op; the keys changed already.
                self.dirs[dir].encrypted = true;
            }
            21 => {
                let (plaintext, from_server) =
                    (!self.dirs[dir].encrypted, dir == self.server_dir());
                self.facts.record_alert(frame, from_server, plaintext, body);
            }
            22 => {
                if self.dirs[dir].encrypted {
                    return;
                }
                let d = &mut self.dirs[dir];
                if d.handshake.is_empty() {
                    let used = self.handshake_messages(dir, frame, body);
                    if used < body.len() && self.dirs[dir].state == DirState::Records {
                        self.dirs[dir].handshake.extend_from_slice(&body[used..]);
                    }
                } else {
                    let mut hs = std::mem::take(&mut d.handshake);
                    hs.extend_from_slice(body);
                    let used = self.handshake_messages(dir, frame, &hs);
                    if self.dirs[dir].state == DirState::Records {
                        hs.drain(..used);
                        self.dirs[dir].handshake = hs;
                    }
                }
            }
            23 => {
                if self.facts.application_data_frame[dir].is_none() {
                    self.facts.application_data_frame[dir] = Some(frame);
                }
                self.dirs[dir].encrypted = true;
                self.dirs[dir].handshake = Vec::new();
                if dir == self.server_dir() {
                    if self.opening.is_some() {
                        self.open_server_record(header, body);
                    } else if let Some(w) = self.waiting.as_mut()
                        && w.count < MAX_OPENED_RECORDS
                    {
                        w.count += 1;
                        if !w.records.push(&[header, body]) {
                            w.count = MAX_OPENED_RECORDS; // the budget is spent: hold no more
                        }
                    }
                }
            }
            _ => {} // heartbeat: not a handshake fact
        }
    }

    /// Parse complete handshake messages; returns the bytes consumed.
    fn handshake_messages(&mut self, dir: usize, frame: u64, buf: &[u8]) -> usize {
        let mut pos = 0;
        while buf.len() - pos >= 4 {
            let len = (usize::from(buf[pos + 1]) << 16)
                | (usize::from(buf[pos + 2]) << 8)
                | usize::from(buf[pos + 3]);
            if len > MAX_HANDSHAKE_MESSAGE {
                self.stop(dir);
                return pos;
            }
            if buf.len() - pos < 4 + len {
                break;
            }
            let msg = &buf[pos..pos + 4 + len];
            pos += 4 + len;
            self.handshake_message(dir, frame, msg);
            if self.dirs[dir].encrypted || self.dirs[dir].state == DirState::Stopped {
                // TLS 1.3: what follows the ServerHello is encrypted even inside this record.
                return buf.len();
            }
        }
        pos
    }

    fn handshake_message(&mut self, dir: usize, frame: u64, msg: &[u8]) {
        let Ok((_, TlsMessage::Handshake(hs))) = parse_tls_message_handshake(msg) else {
            if let Some((version, cipher)) = tls13_draft_server_hello(msg) {
                self.draft_server_hello(dir, frame, version, cipher);
            }
            return;
        };
        match hs {
            TlsMessageHandshake::ClientHello(ch) => {
                if self.facts.client_hello.is_some() {
                    return; // second ClientHello after HelloRetryRequest: keep the first
                }
                let facts = hello::client_hello(frame, ch.version.0, &ch.ciphers, ch.ext);
                if self.keylog.is_some() {
                    self.client_random = ch.random.try_into().ok();
                }
                self.sides.client = Some(dir);
                self.facts.client_hello = Some(facts);
            }
            TlsMessageHandshake::ServerHello(sh) => {
                self.sides.server = Some(dir);
                let facts = hello::server_hello(frame, sh.version.0, sh.cipher.0, sh.ext);
                if self.facts.record_server_hello(facts, sh.random) {
                    return; // a HelloRetryRequest: the real ServerHello follows
                }
                if self.tls13_selected() {
                    self.dirs[dir].encrypted = true;
                    self.start_opening();
                }
            }
            TlsMessageHandshake::ServerHelloV13Draft18(sh) => {
                self.draft_server_hello(dir, frame, sh.version.0, sh.cipher.0);
            }
            TlsMessageHandshake::HelloRetryRequest(hrr) => {
                self.sides.server = Some(dir);
                self.facts.server_hello = Some(ServerHelloFacts {
                    frame,
                    legacy_version: hrr.version.0,
                    selected_version: Some(hrr.version.0),
                    cipher: u32::from(hrr.cipher.0),
                    hello_retry: true,
                    ..Default::default()
                });
            }
            // The client's certificate (mutual TLS) is not the server's identity.
            TlsMessageHandshake::Certificate(certs)
                if dir == self.server_dir() && self.facts.certificates.is_empty() =>
            {
                self.facts
                    .record_chain(certs.cert_chain.iter().map(|raw| raw.data));
            }
            _ => {}
        }
    }
}

/// The version and cipher suite of a ServerHello of TLS 1.3 drafts up to 21, which has no
/// legacy_session_id (draft 22 added it back); tls-parser reads only draft 18's.
fn tls13_draft_server_hello(msg: &[u8]) -> Option<(u16, u16)> {
    let body = msg.get(4..)?;
    let version = u16::from_be_bytes(body.get(..2)?.try_into().ok()?);
    if msg[0] != 2 || version >> 8 != 0x7F || version & 0xFF > 21 {
        return None;
    }
    let cipher = u16::from_be_bytes(body.get(34..36)?.try_into().ok()?);
    Some((version, cipher))
}

impl TlsStream {
    /// A ServerHello of a TLS 1.3 draft that named its version in the version field.
    fn draft_server_hello(&mut self, dir: usize, frame: u64, version: u16, cipher: u16) {
        self.sides.server = Some(dir);
        self.facts.server_hello = Some(ServerHelloFacts {
            frame,
            legacy_version: version,
            selected_version: Some(version),
            cipher: u32::from(cipher),
            ..Default::default()
        });
        self.dirs[dir].encrypted = true;
        self.start_opening();
    }

    /// After a TLS 1.3 ServerHello: find the session's secret in the key log, if one was given.
    fn start_opening(&mut self) {
        let Some(keylog) = &self.keylog else { return };
        // Drafts before 20 used other HKDF labels ("TLS 1.3, "); before 25 the record header
        // was not authenticated.
        let header_is_aad = match self.facts.version() {
            Some(0x0304) => true,
            Some(v) if v >> 8 == 0x7F && v & 0xFF >= 20 => v & 0xFF >= 25,
            _ => {
                self.facts.keylog = Some(KeylogOutcome::UnsupportedVersion);
                return;
            }
        };
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
            if self.client_random.is_some() && matches!(cipher, 0x1301..=0x1303) {
                // the secret may join the key log later
                self.waiting = Some(Box::new(WaitingHandshake {
                    records: keylog.hold(),
                    count: 0,
                    since_ts: self.now_ts,
                    interrupted: false,
                }));
            }
            return;
        };
        match RecordOpener::new(cipher, secret, header_is_aad) {
            Some(opener) => {
                self.opening = Some(Box::new(ServerHandshake {
                    opener,
                    messages: Vec::new(),
                    records: 0,
                }));
            }
            None => self.facts.keylog = Some(KeylogOutcome::UnsupportedCipher),
        }
    }

    /// One encrypted record of the server's, while its handshake is being opened.
    fn open_server_record(&mut self, header: &[u8; 5], body: &[u8]) {
        let Some(mut hs) = self.opening.take() else {
            return;
        };
        hs.records += 1;
        match hs.opener.open(header, body) {
            None => {
                if self.facts.keylog.is_none() {
                    self.facts.keylog = Some(KeylogOutcome::Undecryptable);
                }
                return;
            }
            Some((content_type, plain)) => {
                self.facts.keylog.get_or_insert(KeylogOutcome::Decrypted);
                if content_type != 22 {
                    return; // an alert, or data: the handshake is over
                }
                hs.messages.extend_from_slice(&plain);
            }
        }
        let mut pos = 0;
        let mut finished = false;
        while hs.messages.len() - pos >= 4 {
            let m = &hs.messages[pos..];
            let len = (usize::from(m[1]) << 16) | (usize::from(m[2]) << 8) | usize::from(m[3]);
            if len > MAX_HANDSHAKE_MESSAGE {
                return;
            }
            if m.len() < 4 + len {
                break;
            }
            finished |= self.facts.encrypted_server_message(m[0], &m[4..4 + len]);
            pos += 4 + len;
        }
        hs.messages.drain(..pos);
        if !finished && hs.records < MAX_OPENED_RECORDS {
            self.opening = Some(hs);
        }
    }
}

/// Adapter that feeds one direction of a [`TlsStream`] from the TCP reassembler.
pub struct DirectionSink<'a> {
    stream: &'a mut TlsStream,
    dir: usize,
    frame: u64,
}

impl StreamSink for DirectionSink<'_> {
    fn data(&mut self, bytes: &[u8]) {
        self.stream.feed(self.dir, self.frame, bytes);
    }

    fn gap(&mut self, _missing: u64) {
        let server = self.dir == self.stream.server_dir();
        if server && let Some(w) = self.stream.waiting.as_mut() {
            // what was held before the hole can still be opened, nothing after it
            w.count = MAX_OPENED_RECORDS;
            w.interrupted = true;
        }
        if server && self.stream.opening.take().is_some() {
            // the records' sequence numbers are lost with the hole
            self.stream
                .facts
                .keylog
                .get_or_insert(KeylogOutcome::Interrupted);
        }
        let d = &self.stream.dirs[self.dir];
        let mid_handshake = d.state == DirState::Records && !d.encrypted;
        if mid_handshake || d.state == DirState::Start || d.state == DirState::Prelude {
            if mid_handshake {
                self.stream.facts.gap_in_handshake = true;
            }
            self.stream.stop(self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ctype: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ctype, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    /// A minimal TLS 1.2 ServerHello choosing cipher 0xC02F.
    fn server_hello() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0x11; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0xC0, 0x2F, 0]); // cipher, compression
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn server_hello_split_across_deliveries_parses() {
        let bytes = record(22, &server_hello());
        let mut s = TlsStream::new();
        for chunk in bytes.chunks(3) {
            s.sink(1, 5, 0).data(chunk);
        }
        assert_eq!(s.facts.version(), Some(0x0303));
        assert_eq!(s.facts.cipher(), Some(0xC02F));
        assert!(s.is_tls);
    }

    #[test]
    fn handshake_message_split_across_records_parses() {
        let msg = server_hello();
        let mut bytes = record(22, &msg[..10]);
        bytes.extend(record(22, &msg[10..]));
        let mut s = TlsStream::new();
        s.sink(1, 1, 0).data(&bytes);
        assert_eq!(s.facts.cipher(), Some(0xC02F));
    }

    #[test]
    fn plaintext_is_watched_for_an_upgrade_then_given_up() {
        let mut s = TlsStream::new();
        s.sink(0, 1, 0).data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!s.is_tls);
        assert!(!s.direction_rejected(0));
        s.sink(0, 2, 0).data(&[b'x'; 17 * 1024]);
        assert!(s.direction_rejected(0));
    }

    #[test]
    fn starttls_upgrade_is_followed() {
        let mut s = TlsStream::new();
        s.sink(1, 1, 0).data(b"220 mail ESMTP\r\n");
        s.sink(1, 3, 0).data(b"220 Ready to start TLS\r\n");
        s.sink(1, 5, 0).data(&record(22, &server_hello()));
        assert!(s.is_tls);
        assert_eq!(s.facts.cipher(), Some(0xC02F));
        assert_eq!(s.facts.plaintext_prelude_bytes[1], 40);
    }

    #[test]
    fn alert_in_clear_is_recorded() {
        let mut s = TlsStream::new();
        s.sink(1, 9, 0).data(&record(21, &[2, 40]));
        assert_eq!(
            s.facts.alerts,
            vec![AlertFact {
                frame: 9,
                from_server: true,
                level: 2,
                description: 40
            }]
        );
    }
    #[test]
    fn alerts_beyond_the_listed_are_counted() {
        let mut s = TlsStream::new();
        for frame in 0..MAX_ALERTS as u64 + 3 {
            s.sink(1, frame, 0).data(&record(21, &[1, 0]));
        }
        assert_eq!(s.facts.alerts.len(), MAX_ALERTS);
        assert_eq!(s.facts.unlisted_alerts, 3);
    }

    #[test]
    fn chain_entries_that_are_not_x509_are_counted() {
        let mut f = TlsFacts::default();
        f.record_chain([&b"not a certificate"[..], &[0x30, 0x03, 1, 2, 3]].into_iter());
        assert!(f.certificates.is_empty());
        assert_eq!(f.unlisted_certificates, 2);
    }
}
