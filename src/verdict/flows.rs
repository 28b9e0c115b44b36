//! A verdict's flow list, held in memory or spilled to a temporary file.
//!
//! Owns: where flow records live while a verdict is judged and written. A verdict of a large
//! capture lists tens of thousands of flows, each record a kilobyte or more in memory
//! (certificate chains, SDP media lines, RTP streams, evidence texts). The builder makes each
//! flow's own judgements as its record is made, writes the complete record to the spill file
//! and keeps only the flow's brief (`assess::brief`) for the judgements across flows;
//! writing the verdict copies the records from the spill, so the output is the same as if all
//! of them had been kept.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::ser::{Error as _, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Flow;

/// The flows of a verdict, in id order. A spilled list holds no records in memory: it derefs
/// to an empty list; serializing it, [`Flows::len`] and [`Flows::traffic`] see its records.
/// Verdicts read back from JSON, and those built in memory (the live view), hold theirs.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    /// The records, when not spilled.
    records: Vec<Flow>,
    /// The records, one compact JSON line each, in id order.
    spill: Option<Arc<SpillFile>>,
    /// For spilled records: each flow's server address and payload bytes, in id order.
    traffic: Vec<(Arc<str>, u64)>,
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
            traffic: Vec::new(),
        }
    }

    /// Records held only in `spill`, with each flow's server address and payload bytes.
    pub fn spilled(spill: SpillFile, traffic: Vec<(Arc<str>, u64)>) -> Self {
        Self {
            records: Vec::new(),
            spill: Some(Arc::new(spill)),
            traffic,
        }
    }

    /// Each flow's server address and transport payload bytes (both directions), in id order,
    /// whether the records are in memory or spilled.
    pub fn traffic(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        let held = self.records.iter().map(|f| {
            (
                f.server.ip.as_str(),
                f.bytes_client_to_server + f.bytes_server_to_client,
            )
        });
        held.chain(self.traffic.iter().map(|(ip, bytes)| (&**ip, *bytes)))
    }

    /// How many flows the list has (in memory or spilled).
    pub fn len(&self) -> usize {
        self.spill.as_ref().map_or(self.records.len(), |s| s.lines)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file holding the records, when they are not in memory.
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

/// Two flow lists are equal when their records in memory are (a spilled list has none).
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
