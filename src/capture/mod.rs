//! Capture sources: turns a saved capture file into a stream of [`Frame`]s.
//!
//! Owns: format detection by magic number (pcap in both byte orders, micro- and nanosecond,
//! pcapng with several sections/interfaces/link types, gzip around either), streaming reads with a
//! bounded buffer, per-interface timestamp resolution, the SHA-256 of the input file, Decryption
//! Secrets Blocks (kept, bounded, and handed to the analysis with the frames after them) and the record of what was damaged.
//! Must not: decode packet contents (that is `decode`), or hold more than one block in memory.

mod hashing;
pub mod pcapng_write;

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::{Block, OptionCode};
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

pub use hashing::HashingReader;

/// Initial read buffer; it grows for unusually large blocks, up to [`MAX_BLOCK_BYTES`].
const READ_BUFFER_BYTES: usize = 1 << 20;
/// Chunks read but not yet hashed: bounds the memory the hashing thread may fall behind by.
const HASH_CHUNKS_IN_FLIGHT: usize = 8;
/// The largest single record/block we accept. Larger claims are treated as corruption, so a
/// hostile length field cannot make us allocate gigabytes.
const MAX_BLOCK_BYTES: usize = 16 << 20;
/// The Decryption Secrets Block type of an NSS key log ("TLSK").
pub const TLS_KEY_LOG: u32 = 0x544c_534b;
/// Upper bound on key-log text kept from Decryption Secrets Blocks.
const MAX_SECRETS_BYTES: usize = 16 << 20;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number, counted over packet records as Wireshark numbers them.
    pub number: u64,
    /// Nanoseconds since the Unix epoch; `None` where the format has none (pcapng SPB).
    pub ts_ns: Option<i64>,
    /// DLT/LINKTYPE value of the interface the frame was captured on.
    pub link_type: u32,
    /// The captured bytes (possibly fewer than `orig_len` when a snaplen applied).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// pcapng Decryption Secrets Blocks read since the previous frame, in file order (they
    /// apply to the packets after them).
    pub secrets: &'a [SecretsBlock],
}

/// The container format, as detected from the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap { nanosecond: bool, big_endian: bool },
    PcapNg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Pcap { nanosecond, .. } => {
                write!(f, "{}", if *nanosecond { "pcap-ns" } else { "pcap" })
            }
            Format::PcapNg => write!(f, "pcapng"),
        }
    }
}

/// Something in the file that could not be read as it should have been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Stable identifier, e.g. `truncated-record`, `corrupt-block`, `oversized-record`.
    pub kind: &'static str,
    pub detail: String,
    /// The frame number the damage concerns (the first one, for counted damage).
    pub frame: Option<u64>,
    /// Offset in the (decompressed) capture stream.
    pub byte_offset: Option<u64>,
    /// How many times it occurred.
    pub count: u64,
}

/// A Decryption Secrets Block's payload (a TLS key log when `secrets_type` is
/// [`TLS_KEY_LOG`]), handed to the analysis with the next frame.
#[derive(Debug, Clone)]
pub struct SecretsBlock {
    pub secrets_type: u32,
    pub data: Vec<u8>,
    /// Where the block starts in the file (in the decompressed stream for gzip input).
    pub byte_offset: u64,
}

/// What reading a capture file established about the file itself.
#[derive(Debug, Clone)]
pub struct CaptureSummary {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub gzip: bool,
    pub format: Format,
    /// Link types in order of first appearance.
    pub link_types: Vec<u32>,
    pub frames: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    /// Frames whose captured length is smaller than the wire length (snaplen).
    pub frames_snaplen_truncated: u64,
    pub damage: Vec<Damage>,
    pub secrets: Vec<SecretsBlock>,
    /// Secrets handed out with frames so far.
    secrets_delivered: usize,
}

impl CaptureSummary {
    /// Nothing read yet from `path` (`bytes` long; pcapng until a header says otherwise).
    pub fn empty(path: PathBuf, bytes: u64, gzip: bool) -> Self {
        Self {
            path,
            sha256: String::new(),
            bytes,
            gzip,
            format: Format::PcapNg,
            link_types: Vec::new(),
            frames: 0,
            first_ts_ns: None,
            last_ts_ns: None,
            frames_snaplen_truncated: 0,
            damage: Vec::new(),
            secrets: Vec::new(),
            secrets_delivered: 0,
        }
    }

    /// Decryption Secrets Blocks read after the last frame handed out (trailing the capture's
    /// packets), which no frame carried.
    pub fn undelivered_secrets(&self) -> &[SecretsBlock] {
        &self.secrets[self.secrets_delivered.min(self.secrets.len())..]
    }
}

/// Why a file could not be read as a capture at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: is a directory")]
    IsDirectory { path: PathBuf },
    #[error("{path}: empty file")]
    Empty { path: PathBuf },
    #[error("{path}: not a pcap or pcapng capture (starts with {magic})")]
    NotACapture { path: PathBuf, magic: String },
    #[error("{path}: cannot read: {detail}")]
    Read { path: PathBuf, detail: String },
}

/// Read `path` and call `on_frame` for every frame, in file order.
///
/// The file is streamed through a fixed-size buffer; a damaged file stops at the first record that
/// cannot be parsed, and the damage is recorded in the summary rather than returned as an error.
/// The SHA-256 of the file is computed on a second thread from the very bytes the parser reads
/// (handed over in pooled chunks), so the file is read once and hashing does not slow the parse.
pub fn read_file(
    path: &Path,
    on_frame: impl FnMut(&Frame<'_>),
) -> Result<CaptureSummary, CaptureError> {
    let (file, len) = open_file(path)?;
    let (chunks, for_hasher) = std::sync::mpsc::sync_channel::<Vec<u8>>(HASH_CHUNKS_IN_FLIGHT);
    let (spent, for_reader) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || hashing::hash_chunks(for_hasher, spent));
        let mut tee = hashing::TeeReader::new(file, chunks, for_reader);
        let mut parsed = parse(path, &mut tee, len, on_frame);
        if parsed.is_ok() {
            // parsing may stop early (damage): the digest still covers the whole file
            if let Err(e) = std::io::copy(&mut tee, &mut std::io::sink()) {
                parsed = Err(CaptureError::Read {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                });
            }
        }
        // not a capture: no digest is reported; dropping the tee ends the hashing thread
        drop(tee);
        let hashed = hasher
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread stopped")));
        finish(path, parsed, hashed)
    })
}

/// As [`read_file`], hashing on the calling thread (for batch mode, where other captures keep
/// the other cores busy and a hashing thread per capture would only add copies and switches).
pub fn read_file_hashing_inline(
    path: &Path,
    on_frame: impl FnMut(&Frame<'_>),
) -> Result<CaptureSummary, CaptureError> {
    let (file, len) = open_file(path)?;
    read_from(path, file, len, on_frame)
}

/// Open a capture file: the handle and the file's size; a directory is an error of its own.
fn open_file(path: &Path) -> Result<(File, u64), CaptureError> {
    let open_error = |source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(open_error)?;
    if meta.is_dir() {
        return Err(CaptureError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok((File::open(path).map_err(open_error)?, meta.len()))
}

/// Read a capture from any reader (`label` names it in errors and the summary); `len` is its
/// size if known. The same path as [`read_file`], hashing inline, for stdin, tests and fuzzing.
pub fn read_from(
    label: &Path,
    input: impl Read + Send,
    len: u64,
    on_frame: impl FnMut(&Frame<'_>),
) -> Result<CaptureSummary, CaptureError> {
    let mut hashing = HashingReader::new(input);
    let parsed = parse(label, &mut hashing, len, on_frame);
    // Hash the whole input even when parsing stopped early, so the digest always names it.
    finish(label, parsed, hashing.finish())
}

fn finish(
    label: &Path,
    parsed: Result<CaptureSummary, CaptureError>,
    hashed: std::io::Result<(String, u64)>,
) -> Result<CaptureSummary, CaptureError> {
    let mut summary = parsed?;
    let (digest, bytes) = hashed.map_err(|e| CaptureError::Read {
        path: label.to_path_buf(),
        detail: e.to_string(),
    })?;
    summary.sha256 = digest;
    summary.bytes = summary.bytes.max(bytes);
    Ok(summary)
}

/// Parse a capture stream (format by magic number, gzip or not); the digest is filled in later.
fn parse(
    label: &Path,
    mut input: impl Read + Send,
    len: u64,
    mut on_frame: impl FnMut(&Frame<'_>),
) -> Result<CaptureSummary, CaptureError> {
    let pathbuf = label.to_path_buf();
    let mut head_buf = [0u8; 64];
    let got = ReadFully(&mut input)
        .read(&mut head_buf)
        .map_err(|e| CaptureError::Read {
            path: pathbuf.clone(),
            detail: e.to_string(),
        })?;
    let head = &head_buf[..got];
    if head.is_empty() {
        return Err(CaptureError::Empty { path: pathbuf });
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let magic = describe_magic(head);
    let mut summary = CaptureSummary::empty(pathbuf, len, gzip);
    // No BufReader for plain captures: pcap-parser keeps its own large buffer.
    let stream = head.chain(input);
    if gzip {
        let gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, stream));
        read_stream(ReadFully(gz), magic, &mut summary, &mut on_frame)?;
    } else {
        read_stream(ReadFully(stream), magic, &mut summary, &mut on_frame)?;
    }
    Ok(summary)
}

/// A reader whose `read` fills the whole buffer unless the input ends: pcap-parser decides the
/// format from what one `read` returns, so a short read (gzip, pipes) must not starve it.
struct ReadFully<R>(R);

impl<R: Read> Read for ReadFully<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.0.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if n > 0 => {
                    // report the error on the next call, after the bytes we have
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

/// Per-interface facts of a pcapng section.
#[derive(Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    offset_sec: i64,
}

fn read_stream<R: Read + Send>(
    stream: R,
    first_bytes: String,
    summary: &mut CaptureSummary,
    on_frame: &mut impl FnMut(&Frame<'_>),
) -> Result<(), CaptureError> {
    let path = summary.path.clone();
    let mut reader = match create_reader(READ_BUFFER_BYTES, stream) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Err(CaptureError::Empty { path }),
        Err(PcapError::HeaderNotRecognized) | Err(PcapError::Incomplete(_)) => {
            return Err(CaptureError::NotACapture {
                path,
                magic: first_bytes,
            });
        }
        Err(e) => {
            return Err(CaptureError::Read {
                path,
                detail: describe_error(&e),
            });
        }
    };
    let mut legacy: Option<(u32, bool)> = None; // (link type, nanosecond)
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut offset: u64 = 0;
    let mut secrets_bytes = 0usize;
    let mut saw_header = false;
    let mut capacity = READ_BUFFER_BYTES;
    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        saw_header = true;
                        let ns = h.is_nanosecond_precision();
                        summary.format = Format::Pcap {
                            nanosecond: ns,
                            big_endian: h.is_bigendian(),
                        };
                        // The upper bits of the link-type field carry FCS information.
                        legacy = Some(((h.network.0 as u32) & 0x0FFF_FFFF, ns));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let (link_type, ns) = legacy.unwrap_or((1, false));
                        let sub = if ns {
                            i64::from(b.ts_usec)
                        } else {
                            i64::from(b.ts_usec) * 1000
                        };
                        let ts = i64::from(b.ts_sec) * 1_000_000_000 + sub;
                        let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                        emit(summary, on_frame, Some(ts), link_type, data, b.origlen);
                    }
                    PcapBlockOwned::NG(block) => {
                        saw_header = true;
                        handle_ng_block(
                            block,
                            summary,
                            on_frame,
                            &mut interfaces,
                            &mut secrets_bytes,
                            offset,
                        );
                    }
                }
                offset += consumed as u64;
                // `consume` would move the unread half of the buffer to its front whenever
                // more than half is consumed (a second copy of the whole file); `refill`
                // moves only the partial record left at the end.
                reader.consume_noshift(consumed);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(detail) = reader.refill().map_err(|e| describe_error(&e)) {
                    push_damage(summary, "read-error", detail, None, Some(offset));
                    break;
                }
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity < MAX_BLOCK_BYTES {
                    capacity *= 2;
                    reader.grow(capacity);
                    // the next `next()` reports Incomplete if more must be read
                    continue;
                }
                push_damage(
                    summary,
                    "oversized-record",
                    format!(
                        "record after frame {} claims more than {} MiB; reading stopped (corrupt length field?)",
                        summary.frames,
                        MAX_BLOCK_BYTES >> 20
                    ),
                    Some(summary.frames + 1),
                    Some(offset),
                );
                break;
            }
            Err(PcapError::UnexpectedEof) => {
                push_damage(
                    summary,
                    "truncated-record",
                    format!(
                        "file ends inside the record after frame {}; {} trailing bytes ignored",
                        summary.frames,
                        reader.data().len()
                    ),
                    Some(summary.frames + 1),
                    Some(offset),
                );
                break;
            }
            Err(e) => {
                if !saw_header {
                    return Err(CaptureError::NotACapture {
                        path,
                        magic: "an unreadable header".into(),
                    });
                }
                push_damage(
                    summary,
                    "corrupt-block",
                    format!(
                        "unparseable record after frame {}: {}; reading stopped",
                        summary.frames,
                        describe_error(&e)
                    ),
                    Some(summary.frames + 1),
                    Some(offset),
                );
                break;
            }
        }
    }
    if !saw_header {
        return Err(CaptureError::NotACapture {
            path,
            magic: "no capture header".into(),
        });
    }
    Ok(())
}

fn handle_ng_block(
    block: Block<'_>,
    summary: &mut CaptureSummary,
    on_frame: &mut impl FnMut(&Frame<'_>),
    interfaces: &mut Vec<Interface>,
    secrets_bytes: &mut usize,
    offset: u64,
) {
    match block {
        Block::SectionHeader(_) => {
            summary.format = Format::PcapNg;
            interfaces.clear();
        }
        Block::InterfaceDescription(idb) => {
            let units = idb.ts_resolution().unwrap_or(1_000_000).max(1);
            interfaces.push(Interface {
                link_type: (idb.linktype.0 as u32) & 0x0FFF_FFFF,
                units_per_sec: units,
                offset_sec: idb.ts_offset(),
            });
        }
        Block::EnhancedPacket(epb) => {
            let Some(iface) = interfaces.get(epb.if_id as usize).copied() else {
                push_damage(
                    summary,
                    "unknown-interface",
                    format!(
                        "packet refers to interface {} that no Interface Description Block defined; skipped",
                        epb.if_id
                    ),
                    Some(summary.frames + 1),
                    Some(offset),
                );
                summary.frames += 1;
                return;
            };
            let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let ts = ticks_to_ns(ticks, iface.units_per_sec, iface.offset_sec);
            let data = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
            emit(
                summary,
                on_frame,
                Some(ts),
                iface.link_type,
                data,
                epb.origlen,
            );
        }
        Block::SimplePacket(spb) => {
            let link_type = interfaces.first().map_or(1, |i| i.link_type);
            let snap = spb.data.len().min(spb.origlen as usize);
            emit(
                summary,
                on_frame,
                None,
                link_type,
                &spb.data[..snap],
                spb.origlen,
            );
        }
        Block::InterfaceStatistics(isb) => {
            // Packets the capturing host lost (the values are little-endian in the files
            // callproof and dumpcap write on x86 and ARM; a big-endian section's would be misread).
            let count = |code: OptionCode| {
                isb.options
                    .iter()
                    .find(|o| o.code == code)
                    .and_then(|o| o.as_u64_le().ok())
                    .unwrap_or(0)
            };
            let (interface, os) = (count(OptionCode::IsbIfDrop), count(OptionCode::IsbOsDrop));
            record_drops(summary, isb.if_id, interface, os, offset);
        }
        Block::DecryptionSecrets(dsb) => {
            let take = dsb
                .data
                .len()
                .min(dsb.secrets_len as usize)
                .min(MAX_SECRETS_BYTES.saturating_sub(*secrets_bytes));
            if take < dsb.data.len().min(dsb.secrets_len as usize) {
                push_damage(
                    summary,
                    "secrets-capped",
                    format!(
                        "Decryption Secrets Blocks exceed {} MiB; the rest is ignored",
                        MAX_SECRETS_BYTES >> 20
                    ),
                    None,
                    Some(offset),
                );
            }
            if take > 0 {
                *secrets_bytes += take;
                summary.secrets.push(SecretsBlock {
                    secrets_type: dsb.secrets_type.0,
                    data: dsb.data[..take].to_vec(),
                    byte_offset: offset,
                });
            }
        }
        _ => {}
    }
}

/// Packets the capturing host lost, as an Interface Statistics Block at `offset` records them
/// (the live capture records its own the same way, so re-reading its file agrees).
pub fn record_drops(
    summary: &mut CaptureSummary,
    if_id: u32,
    interface: u64,
    os: u64,
    offset: u64,
) {
    if interface + os > 0 {
        push_damage(
            summary,
            "packets-dropped",
            format!(
                "the capturing host recorded {} packet(s) dropped on interface {if_id} \
                 ({interface} by the interface, {os} by the operating system): they are not in \
                 the file",
                interface + os
            ),
            None,
            Some(offset),
        );
    }
}

fn ticks_to_ns(ticks: u64, units_per_sec: u64, offset_sec: i64) -> i64 {
    let ns = if units_per_sec == 1_000_000_000 {
        i128::from(ticks)
    } else {
        i128::from(ticks) * 1_000_000_000 / i128::from(units_per_sec)
    };
    let total = ns + i128::from(offset_sec) * 1_000_000_000;
    total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Count one frame into `summary` and hand it to `on_frame`, numbered as Wireshark numbers it.
pub fn emit(
    summary: &mut CaptureSummary,
    on_frame: &mut (impl FnMut(&Frame<'_>) + ?Sized),
    ts_ns: Option<i64>,
    link_type: u32,
    data: &[u8],
    orig_len: u32,
) {
    summary.frames += 1;
    if !summary.link_types.contains(&link_type) {
        summary.link_types.push(link_type);
    }
    if let Some(ts) = ts_ns {
        if summary.first_ts_ns.is_none() {
            summary.first_ts_ns = Some(ts);
        }
        summary.last_ts_ns = Some(ts);
    }
    if (data.len() as u64) < u64::from(orig_len) {
        summary.frames_snaplen_truncated += 1;
    }
    let fresh = summary.secrets_delivered;
    summary.secrets_delivered = summary.secrets.len();
    on_frame(&Frame {
        number: summary.frames,
        ts_ns,
        link_type,
        data,
        orig_len,
        secrets: &summary.secrets[fresh..],
    });
}

/// Record damage, merging repeated kinds into one entry with a count.
pub fn push_damage(
    summary: &mut CaptureSummary,
    kind: &'static str,
    detail: String,
    frame: Option<u64>,
    byte_offset: Option<u64>,
) {
    if let Some(d) = summary.damage.iter_mut().find(|d| d.kind == kind) {
        d.count += 1;
        return;
    }
    summary.damage.push(Damage {
        kind,
        detail,
        frame,
        byte_offset,
        count: 1,
    });
}

fn describe_error<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof => "end of file".into(),
        PcapError::BufferTooSmall => "record larger than the read buffer".into(),
        PcapError::UnexpectedEof => "unexpected end of file".into(),
        PcapError::ReadError => "read error (or corrupt gzip stream)".into(),
        PcapError::Incomplete(_) => "incomplete record".into(),
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed data ({kind:?})")
        }
    }
}

/// The first bytes of a file, in hex, with a hint when it is text.
fn describe_magic(head: &[u8]) -> String {
    let n = head.len().min(4);
    let hex: Vec<String> = head[..n].iter().map(|b| format!("{b:02x}")).collect();
    let text = head
        .iter()
        .take(64)
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    format!(
        "{}{}",
        hex.join(" "),
        if text { ", which looks like text" } else { "" }
    )
}

/// Name a LINKTYPE value as tcpdump does.
pub fn link_type_name(lt: u32) -> String {
    match lt {
        0 => "NULL".into(),
        1 => "ETHERNET".into(),
        9 => "PPP".into(),
        12 | 14 | 101 => "RAW".into(),
        50 => "PPP_HDLC".into(),
        51 => "PPP_ETHER".into(),
        105 => "IEEE802_11".into(),
        108 => "LOOP".into(),
        113 => "LINUX_SLL".into(),
        127 => "IEEE802_11_RADIOTAP".into(),
        228 => "IPV4".into(),
        229 => "IPV6".into(),
        276 => "LINUX_SLL2".into(),
        other => format!("LINKTYPE_{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_conversion_handles_resolutions() {
        assert_eq!(ticks_to_ns(1_500_000, 1_000_000, 0), 1_500_000_000);
        assert_eq!(ticks_to_ns(7, 1_000_000_000, 0), 7);
        assert_eq!(ticks_to_ns(3, 1, 10), 13_000_000_000);
        // 2^-10 s resolution
        assert_eq!(ticks_to_ns(1024, 1024, 0), 1_000_000_000);
    }
}
