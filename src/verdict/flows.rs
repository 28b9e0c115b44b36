//! A verdict's flow list, held in memory or spilled to a temporary file.
//!
//! Owns: where flow records live while a verdict is judged and written. A verdict of a large
//! capture lists tens of thousands of flows and most of each record (certificate chains, SDP
//! media lines, RTP streams, evidence texts) matters only for the judgements made on that flow
//! alone. The builder writes each complete record to the spill file as soon as those judgements
//! are made and keeps a slim copy ([`slim`]) for the judgements across flows (endpoints,
//! claims, the summary); serializing the verdict writes the complete records back from the
//! spill, so the output is the same as if all of them had been kept.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::ser::{Error as _, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Flow;

/// The flows of a verdict, in id order.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    records: Vec<Flow>,
    /// When set, `records` are slim copies and the complete records are in the file, one
    /// compact JSON line each, in the same order.
    spill: Option<Arc<SpillFile>>,
}

/// The complete flow records, in the layout `to_writer_records` gives the members of the
/// verdict's `flows` array: each record compact on its own line, indented by four spaces, the
/// lines separated by commas (the file starts with the newline before the first record).
#[derive(Debug)]
pub struct SpillFile {
    file: File,
    lines: usize,
}

impl SpillFile {
    /// How many records the file holds.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Copy the records, as they are, to `w`.
    pub fn copy_to<W: Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        std::io::copy(&mut file, w)?;
        Ok(())
    }
}

/// Writes complete flow records to an anonymous temporary file (removed by the system when
/// closed, also after a crash).
pub struct Spill {
    writer: BufWriter<File>,
    lines: usize,
}

impl Spill {
    /// A spill file in the system's temporary directory (`TMPDIR`).
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            lines: 0,
        })
    }

    /// Append one complete record.
    pub fn push(&mut self, f: &Flow) -> std::io::Result<()> {
        let separator: &[u8] = if self.lines == 0 {
            b"\n    "
        } else {
            b",\n    "
        };
        self.writer.write_all(separator)?;
        serde_json::to_writer(&mut self.writer, f)?;
        self.lines += 1;
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<SpillFile> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        Ok(SpillFile {
            file,
            lines: self.lines,
        })
    }
}

impl Flows {
    /// Flows held in memory.
    pub fn new(records: Vec<Flow>) -> Self {
        Self {
            records,
            spill: None,
        }
    }

    /// Slim records whose complete forms are in `spill`, line for line.
    pub fn spilled(records: Vec<Flow>, spill: SpillFile) -> Self {
        debug_assert_eq!(records.len(), spill.lines);
        Self {
            records,
            spill: Some(Arc::new(spill)),
        }
    }

    /// The complete records, when the records held are slim copies (see [`slim`]).
    pub fn spill_file(&self) -> Option<&SpillFile> {
        self.spill.as_deref()
    }
}

impl Deref for Flows {
    type Target = Vec<Flow>;
    fn deref(&self) -> &Vec<Flow> {
        &self.records
    }
}

impl DerefMut for Flows {
    fn deref_mut(&mut self) -> &mut Vec<Flow> {
        &mut self.records
    }
}

impl<'a> IntoIterator for &'a Flows {
    type Item = &'a Flow;
    type IntoIter = std::slice::Iter<'a, Flow>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

impl<'a> IntoIterator for &'a mut Flows {
    type Item = &'a mut Flow;
    type IntoIter = std::slice::IterMut<'a, Flow>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.iter_mut()
    }
}

impl From<Vec<Flow>> for Flows {
    fn from(records: Vec<Flow>) -> Self {
        Self::new(records)
    }
}

/// Two flow lists are equal when their records are (a spilled list compares its slim copies).
impl PartialEq for Flows {
    fn eq(&self, other: &Self) -> bool {
        self.records == other.records
    }
}

impl Serialize for Flows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(spill) = &self.spill else {
            return self.records.serialize(s);
        };
        // Written by `to_writer_records` without parsing (`write_verdict`); any other
        // serializer gets the records parsed back, as far as RawValue checks them.
        let mut file = &spill.file;
        file.seek(SeekFrom::Start(0)).map_err(S::Error::custom)?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut seq = s.serialize_seq(Some(spill.lines))?;
        let mut line = String::new();
        let mut records = 0;
        while records < spill.lines {
            line.clear();
            let n = reader.read_line(&mut line).map_err(S::Error::custom)?;
            if n == 0 {
                return Err(S::Error::custom("the flow spill file ended early"));
            }
            let record = line.trim_start_matches(' ').trim_end_matches(['\n', ',']);
            if record.is_empty() {
                continue;
            }
            let raw: &serde_json::value::RawValue =
                serde_json::from_str(record).map_err(S::Error::custom)?;
            seq.serialize_element(raw)?;
            records += 1;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Flows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Flow>::deserialize(d).map(Flows::new)
    }
}

/// Drop from a record what only the judgements on the flow itself read (they have been made):
/// certificate chains, offered cipher lists, alerts, SDP media lines, STUN address lists, RTP and
/// Zoom stream lists, DNS answers (kept by the builder), evidence and basis texts. Kept: what the
/// judgements across flows read — ids, addresses, counters, protocols, the vendor's name,
/// media path, encryption state and protection, handshake versions and frames, round trips,
/// DTLS-SRTP profile.
pub fn slim(f: &mut Flow) {
    f.first_timestamp = None;
    f.last_timestamp = None;
    f.media_path_basis = None;
    if let Some(v) = f.vendor.as_mut() {
        v.evidence = Vec::new();
    }
    for t in [f.tls.as_mut(), f.dtls.as_mut()].into_iter().flatten() {
        t.certificates = Vec::new();
        t.offered_ciphers = Vec::new();
        t.offered_versions = Vec::new();
        t.alerts = Vec::new();
        t.alpn = Vec::new();
        t.srtp_profiles_offered = Vec::new();
    }
    if let Some(s) = f.stun.as_mut() {
        s.mapped_addresses = Vec::new();
        s.relayed_addresses = Vec::new();
        s.peer_addresses = Vec::new();
        s.vendor_attributes = Vec::new();
        s.vendor_attribute_names = Vec::new();
        s.methods = Vec::new();
        s.software = None;
    }
    if let Some(r) = f.rtp.as_mut() {
        r.streams = Vec::new();
        r.clear_header_extensions = Vec::new();
    }
    if let Some(z) = f.zoom.as_mut() {
        z.streams = Vec::new();
        z.evidence = Vec::new();
    }
    if let Some(s) = f.sip.as_mut() {
        s.media = Vec::new();
        s.methods = Vec::new();
    }
    if let Some(d) = f.dns.as_mut() {
        d.answers = Vec::new();
    }
    f.encryption.basis = Vec::new();
}
