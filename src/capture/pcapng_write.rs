//! Writing pcapng (the live capture's saved file): a Section Header with the recording tool and
//! comments, one Interface Description per capture interface (name, filter, nanosecond
//! timestamps, snap length), Enhanced Packet Blocks, and Interface Statistics at the end with
//! the capture's start and end times and libpcap's receive and drop counters — so the file
//! itself records how it was made. Little-endian, per the pcapng specification
//! (draft-ietf-opsawg-pcapng). The SHA-256 of every byte written is kept, so the verdict can
//! name the file without reading it again.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const ISB: u32 = 0x0000_0005;
const EPB: u32 = 0x0000_0006;
const DSB: u32 = 0x0000_000A;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_OS: u16 = 3;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const IF_FILTER: u16 = 11;
const ISB_STARTTIME: u16 = 2;
const ISB_ENDTIME: u16 = 3;
const ISB_IFRECV: u16 = 4;
const ISB_IFDROP: u16 = 5;
const ISB_OSDROP: u16 = 7;

/// What the Interface Statistics Block records at the end of a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    pub start_ns: u64,
    pub end_ns: u64,
    /// Packets the kernel received (libpcap `ps_recv`).
    pub received: u64,
    /// Dropped by the network interface or its driver (`ps_ifdrop`).
    pub interface_dropped: u64,
    /// Dropped by the operating system for lack of buffer space (`ps_drop`).
    pub os_dropped: u64,
}

pub struct PcapngWriter<W: Write> {
    out: W,
    hash: Sha256,
    bytes: u64,
    block: Vec<u8>,
}

fn option(block: &mut Vec<u8>, code: u16, value: &[u8]) {
    // An option value is at most 65,535 bytes; longer comments are cut.
    let value = &value[..value.len().min(u16::MAX as usize - 3)];
    block.extend_from_slice(&code.to_le_bytes());
    block.extend_from_slice(&(value.len() as u16).to_le_bytes());
    block.extend_from_slice(value);
    pad(block);
}

fn pad(block: &mut Vec<u8>) {
    while !block.len().is_multiple_of(4) {
        block.push(0);
    }
}

fn timestamp(block: &mut Vec<u8>, ns: u64) {
    block.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
    block.extend_from_slice(&(ns as u32).to_le_bytes());
}

impl<W: Write> PcapngWriter<W> {
    /// Start a section recorded by `application`, with `comments` (e.g. how it was captured).
    pub fn new(out: W, application: &str, comments: &[String]) -> io::Result<Self> {
        let mut w = Self {
            out,
            hash: Sha256::new(),
            bytes: 0,
            block: Vec::with_capacity(1 << 16),
        };
        w.begin();
        w.block.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        w.block.extend_from_slice(&1u16.to_le_bytes());
        w.block.extend_from_slice(&0u16.to_le_bytes());
        w.block.extend_from_slice(&(-1i64).to_le_bytes()); // section length not given
        for c in comments {
            option(&mut w.block, OPT_COMMENT, c.as_bytes());
        }
        option(&mut w.block, SHB_OS, std::env::consts::OS.as_bytes());
        option(&mut w.block, SHB_USERAPPL, application.as_bytes());
        option(&mut w.block, OPT_END, &[]);
        w.end(SHB)?;
        Ok(w)
    }

    /// Describe an interface (they are numbered from 0 in the order added); timestamps of its
    /// packets are nanoseconds.
    pub fn add_interface(
        &mut self,
        link_type: u16,
        snaplen: u32,
        name: &str,
        filter: Option<&str>,
    ) -> io::Result<()> {
        self.begin();
        self.block.extend_from_slice(&link_type.to_le_bytes());
        self.block.extend_from_slice(&0u16.to_le_bytes());
        self.block.extend_from_slice(&snaplen.to_le_bytes());
        option(&mut self.block, IF_NAME, name.as_bytes());
        if let Some(f) = filter {
            // first byte 0: a libpcap filter expression
            let mut value = vec![0u8];
            value.extend_from_slice(f.as_bytes());
            option(&mut self.block, IF_FILTER, &value);
        }
        option(&mut self.block, IF_TSRESOL, &[9]);
        option(&mut self.block, OPT_END, &[]);
        self.end(IDB)
    }

    /// One packet: `data` as captured, `orig_len` its length on the wire.
    pub fn packet(
        &mut self,
        interface: u32,
        ts_ns: u64,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        self.begin();
        self.block.extend_from_slice(&interface.to_le_bytes());
        timestamp(&mut self.block, ts_ns);
        self.block
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.block.extend_from_slice(&orig_len.to_le_bytes());
        self.block.extend_from_slice(data);
        pad(&mut self.block);
        self.end(EPB)
    }

    /// A Decryption Secrets Block (`secrets_type`, e.g. [`super::TLS_KEY_LOG`] for lines of
    /// an NSS key log): it opens the packets after it, and readers (Wireshark, callproof) also
    /// apply it to connections in progress.
    pub fn secrets(&mut self, secrets_type: u32, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "secrets over 4 GiB"))?;
        self.begin();
        self.block.extend_from_slice(&secrets_type.to_le_bytes());
        self.block.extend_from_slice(&len.to_le_bytes());
        self.block.extend_from_slice(data);
        pad(&mut self.block);
        self.end(DSB)
    }

    /// The interface's statistics, written at the end of the capture.
    pub fn statistics(&mut self, interface: u32, s: &InterfaceStats) -> io::Result<()> {
        self.begin();
        self.block.extend_from_slice(&interface.to_le_bytes());
        timestamp(&mut self.block, s.end_ns);
        let mut ts = Vec::with_capacity(8);
        timestamp(&mut ts, s.start_ns);
        option(&mut self.block, ISB_STARTTIME, &ts);
        ts.clear();
        timestamp(&mut ts, s.end_ns);
        option(&mut self.block, ISB_ENDTIME, &ts);
        option(&mut self.block, ISB_IFRECV, &s.received.to_le_bytes());
        option(
            &mut self.block,
            ISB_IFDROP,
            &s.interface_dropped.to_le_bytes(),
        );
        option(&mut self.block, ISB_OSDROP, &s.os_dropped.to_le_bytes());
        option(&mut self.block, OPT_END, &[]);
        self.end(ISB)
    }

    /// Bytes written so far (the offset of the next block).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Flush, and return the writer, the bytes written and their SHA-256 (hex).
    pub fn finish(mut self) -> io::Result<(W, u64, String)> {
        self.out.flush()?;
        Ok((self.out, self.bytes, hex::encode(self.hash.finalize())))
    }

    fn begin(&mut self) {
        self.block.clear();
        self.block.extend_from_slice(&[0; 8]); // type and length, filled in by `end`
    }

    fn end(&mut self, block_type: u32) -> io::Result<()> {
        let total = (self.block.len() + 4) as u32;
        self.block[..4].copy_from_slice(&block_type.to_le_bytes());
        self.block[4..8].copy_from_slice(&total.to_le_bytes());
        self.block.extend_from_slice(&total.to_le_bytes());
        self.out.write_all(&self.block)?;
        self.hash.update(&self.block);
        self.bytes += u64::from(total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_their_lengths_at_both_ends_and_are_aligned() {
        let mut w = PcapngWriter::new(Vec::new(), "callproof test", &["a comment".into()]).unwrap();
        w.add_interface(1, 65535, "lo", Some("udp port 53"))
            .unwrap();
        w.packet(0, 1_700_000_000_123_456_789, &[1, 2, 3, 4, 5], 60)
            .unwrap();
        let (bytes, len, sha) = w.finish().unwrap();
        assert_eq!(len as usize, bytes.len());
        assert_eq!(sha, hex::encode(Sha256::digest(&bytes)));
        let mut at = 0;
        let mut types = Vec::new();
        while at < bytes.len() {
            let t = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let l = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            assert_eq!(l % 4, 0);
            assert_eq!(
                u32::from_le_bytes(bytes[at + l - 4..at + l].try_into().unwrap()) as usize,
                l
            );
            types.push(t);
            at += l;
        }
        assert_eq!(types, [SHB, IDB, EPB]);
    }
}
