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
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
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

/// The complete flow records, compact JSON each, in the order they were judged (flows close in
/// any order), with where each flow's record is, by id.
#[derive(Debug)]
pub struct SpillFile {
    file: File,
    /// By flow id: (offset, length) of its record.
    index: Vec<(u64, u32)>,
}

/// An index slot no record filled.
const MISSING: (u64, u32) = (u64::MAX, 0);

impl SpillFile {
    /// How many records the file holds.
    pub fn lines(&self) -> usize {
        self.index.len()
    }

    /// Visit each record in id order.
    fn each_record(
        &self,
        mut visit: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        // a window of the file: records judged one after another are read together
        const WINDOW: usize = 1 << 20;
        let mut window: Vec<u8> = Vec::new();
        let mut window_at = 0u64;
        for (id, &(offset, len)) in self.index.iter().enumerate() {
            if (offset, len) == MISSING {
                return Err(std::io::Error::other(format!(
                    "the record of flow {id} was never written to the spill file"
                )));
            }
            let len = len as usize;
            let inside = offset >= window_at && (offset - window_at) as usize + len <= window.len();
            if !inside {
                window.resize(WINDOW.max(len), 0);
                let mut file = &self.file;
                file.seek(SeekFrom::Start(offset))?;
                let mut got = 0;
                while got < len {
                    match file.read(&mut window[got..])? {
                        0 => break,
                        n => got += n,
                    }
                }
                if got < len {
                    return Err(std::io::Error::other("the flow spill file ended early"));
                }
                window.truncate(got);
                window_at = offset;
            }
            let start = (offset - window_at) as usize;
            visit(&window[start..start + len])?;
        }
        Ok(())
    }

    /// Write the records to `w` in id order, as `to_writer_records` lays out the members of
    /// the verdict's `flows` array: each on its own line, indented by four spaces, separated by
    /// commas (starting with the newline before the first).
    pub fn copy_to<W: Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        let mut first = true;
        self.each_record(|record| {
            w.write_all(if first { b"\n    " } else { b",\n    " })?;
            first = false;
            w.write_all(record)
        })
    }
}

/// Writes complete flow records to an anonymous temporary file (removed by the system when
/// closed, also after a crash).
pub struct Spill {
    writer: BufWriter<File>,
    written: u64,
    index: Vec<(u64, u32)>,
    record: Vec<u8>,
}

impl Spill {
    /// A spill file in the system's temporary directory (`TMPDIR`).
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            written: 0,
            index: Vec::new(),
            record: Vec::new(),
        })
    }

    /// Append one complete record (flows may come in any order).
    pub fn push(&mut self, f: &Flow) -> std::io::Result<()> {
        self.record.clear();
        serde_json::to_writer(&mut self.record, f)?;
        let len = u32::try_from(self.record.len())
            .map_err(|_| std::io::Error::other("a flow record over 4 GiB"))?;
        self.writer.write_all(&self.record)?;
        let id = f.id as usize;
        if self.index.len() <= id {
            self.index.resize(id + 1, MISSING);
        }
        self.index[id] = (self.written, len);
        self.written += u64::from(len);
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<SpillFile> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        Ok(SpillFile {
            file,
            index: self.index,
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
        self.spill
            .as_ref()
            .map_or(self.records.len(), |s| s.lines())
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
        // Written by `write_verdict` without parsing; any other serializer gets the records
        // parsed back, as far as RawValue checks them.
        let mut seq = s.serialize_seq(Some(spill.lines()))?;
        let mut failed = None;
        let read = spill.each_record(|record| {
            let text = std::str::from_utf8(record).map_err(std::io::Error::other)?;
            let raw: &serde_json::value::RawValue =
                serde_json::from_str(text).map_err(std::io::Error::other)?;
            seq.serialize_element(raw).map_err(|e| {
                failed = Some(e);
                std::io::Error::other("serializing a flow record")
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(S::Error::custom)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Flows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Flow>::deserialize(d).map(Flows::new)
    }
}
