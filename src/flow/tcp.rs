//! TCP stream reassembly for one direction of a connection, bounded.
//!
//! Delivers the byte stream in order to a [`StreamSink`], whatever order segments arrived in:
//! retransmitted and overlapping bytes are delivered once, out-of-order segments wait (up to
//! [`MAX_PENDING_BYTES`] / [`MAX_PENDING_SEGMENTS`]), and a hole that never fills is reported to
//! the sink as a gap so it can stop parsing instead of misreading. Only the first
//! [`MAX_STREAM_BYTES`] of a direction are delivered: dissectors need the handshake, not the
//! bulk data; signalling in clear (SIP, DNS) asks for all of it ([`Reassembler::deliver_all`]). Offsets are 64-bit, relative to the initial sequence number, so wrap-around of the
//! 32-bit sequence space is handled.

use std::collections::BTreeMap;

/// Bytes held out of order per direction before the oldest hole is declared a gap.
pub const MAX_PENDING_BYTES: usize = 256 * 1024;
/// Segments held out of order per direction.
pub const MAX_PENDING_SEGMENTS: usize = 256;
/// Bytes of a direction delivered to dissectors at most.
pub const MAX_STREAM_BYTES: u64 = 1024 * 1024;

/// Receives a reassembled byte stream.
pub trait StreamSink {
    /// The next in-order bytes of the stream.
    fn data(&mut self, bytes: &[u8]);
    /// `missing` bytes were never captured before the next delivered data.
    fn gap(&mut self, missing: u64);
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0 (the byte after the SYN, or the first byte seen).
    base: Option<u32>,
    /// The stream began before the capture (no SYN seen).
    pub midstream: bool,
    /// Next offset to deliver.
    next: u64,
    /// Highest offset ever seen, to map 32-bit sequence numbers to 64-bit offsets.
    highest: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// Bytes missing from the delivered stream.
    pub gap_bytes: u64,
    /// Segments fully or partly already delivered (retransmissions / overlaps).
    pub retransmitted: u64,
    /// The delivery cap was reached.
    pub capped: bool,
    /// Deliver the whole stream, past [`MAX_STREAM_BYTES`].
    uncapped: bool,
}

impl Reassembler {
    /// Note a SYN: the stream starts at `seq + 1`.
    pub fn syn(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq.wrapping_add(1));
        }
    }

    /// Deliver the whole stream from now on, not only its first [`MAX_STREAM_BYTES`] (for
    /// signalling parsed to the connection's end; what waits out of order stays bounded).
    pub fn deliver_all(&mut self) {
        self.uncapped = true;
    }

    /// Offer a segment with sequence number `seq`.
    pub fn segment(&mut self, seq: u32, payload: &[u8], sink: &mut impl StreamSink) {
        if payload.is_empty() || self.capped {
            return;
        }
        let base = *self.base.get_or_insert_with(|| {
            self.midstream = true;
            seq
        });
        let start = self.offset_of(seq.wrapping_sub(base));
        let end = start + payload.len() as u64;
        self.highest = self.highest.max(end);
        if end <= self.next {
            self.retransmitted += 1;
            return;
        }
        if start <= self.next {
            if start < self.next {
                self.retransmitted += 1;
            }
            let skip = (self.next - start) as usize;
            self.deliver(&payload[skip..], sink);
            self.drain_pending(sink);
        } else {
            self.hold(start, payload, sink);
        }
    }

    /// The connection ended: deliver what waits behind holes, reporting the holes.
    pub fn finish(&mut self, sink: &mut impl StreamSink) {
        while let Some((&start, _)) = self.pending.iter().next() {
            if self.capped {
                break;
            }
            if start > self.next {
                let missing = start - self.next;
                self.gap_bytes += missing;
                sink.gap(missing);
                self.next = start;
            }
            self.drain_pending(sink);
        }
        self.pending.clear();
        self.pending_bytes = 0;
    }

    /// Map a 32-bit relative sequence number to the 64-bit offset closest to what we have seen.
    fn offset_of(&self, rel: u32) -> u64 {
        let epoch = self.highest & !0xFFFF_FFFF;
        let candidates = [
            epoch.wrapping_sub(1 << 32) | u64::from(rel),
            epoch | u64::from(rel),
            (epoch + (1 << 32)) | u64::from(rel),
        ];
        candidates
            .into_iter()
            .filter(|c| *c < (1u64 << 63))
            .min_by_key(|c| c.abs_diff(self.highest))
            .unwrap_or(u64::from(rel))
    }

    fn hold(&mut self, start: u64, payload: &[u8], sink: &mut impl StreamSink) {
        if start >= MAX_STREAM_BYTES && !self.uncapped {
            return;
        }
        let replace = match self.pending.get(&start) {
            Some(existing) => existing.len() < payload.len(),
            None => true,
        };
        if replace {
            if let Some(old) = self.pending.insert(start, payload.to_vec()) {
                self.pending_bytes -= old.len();
            }
            self.pending_bytes += payload.len();
        }
        // Too much waits behind the hole: the hole will not be filled (capture loss).
        while self.pending_bytes > MAX_PENDING_BYTES || self.pending.len() > MAX_PENDING_SEGMENTS {
            let Some((&first, _)) = self.pending.iter().next() else {
                break;
            };
            if first > self.next {
                let missing = first - self.next;
                self.gap_bytes += missing;
                sink.gap(missing);
                self.next = first;
            }
            self.drain_pending(sink);
            if self.capped {
                self.pending.clear();
                self.pending_bytes = 0;
            }
        }
    }

    fn drain_pending(&mut self, sink: &mut impl StreamSink) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let seg = entry.remove();
            self.pending_bytes -= seg.len();
            let end = start + seg.len() as u64;
            if end > self.next {
                let skip = (self.next - start) as usize;
                self.deliver(&seg[skip..], sink);
            }
        }
    }

    fn deliver(&mut self, bytes: &[u8], sink: &mut impl StreamSink) {
        let room = if self.uncapped {
            u64::MAX
        } else {
            MAX_STREAM_BYTES.saturating_sub(self.next)
        };
        let n = (bytes.len() as u64).min(room) as usize;
        if n > 0 {
            sink.data(&bytes[..n]);
        }
        self.next += bytes.len() as u64;
        if self.next >= MAX_STREAM_BYTES && !self.uncapped {
            self.capped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        out: Vec<u8>,
        gaps: Vec<u64>,
    }
    impl StreamSink for Collect {
        fn data(&mut self, b: &[u8]) {
            self.out.extend_from_slice(b);
        }
        fn gap(&mut self, n: u64) {
            self.gaps.push(n);
        }
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let mut r = Reassembler::default();
        let mut c = Collect::default();
        r.syn(999);
        r.segment(1000, b"hello ", &mut c);
        r.segment(1012, b"!!", &mut c); // ahead of a hole
        r.segment(1000, b"hello ", &mut c); // retransmission
        r.segment(1006, b"world!", &mut c); // fills the hole
        assert_eq!(c.out, b"hello world!!!");
        assert!(c.gaps.is_empty());
        assert_eq!(r.retransmitted, 1);
    }

    #[test]
    fn overlapping_segment_delivers_only_new_bytes() {
        let mut r = Reassembler::default();
        let mut c = Collect::default();
        r.segment(10, b"abcd", &mut c);
        r.segment(12, b"cdef", &mut c);
        assert_eq!(c.out, b"abcdef");
        assert!(r.midstream);
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reassembler::default();
        let mut c = Collect::default();
        r.syn(u32::MAX - 2);
        r.segment(u32::MAX - 1, b"ab", &mut c);
        r.segment(0, b"cd", &mut c);
        r.segment(2, b"ef", &mut c);
        assert_eq!(c.out, b"abcdef");
    }

    #[test]
    fn hole_reported_as_gap_at_finish() {
        let mut r = Reassembler::default();
        let mut c = Collect::default();
        r.syn(0);
        r.segment(1, b"ab", &mut c);
        r.segment(10, b"zz", &mut c);
        r.finish(&mut c);
        assert_eq!(c.out, b"abzz");
        assert_eq!(c.gaps, vec![7]);
    }

    #[test]
    fn pending_is_bounded() {
        let mut r = Reassembler::default();
        let mut c = Collect::default();
        r.syn(0);
        for i in 0..2000u32 {
            r.segment(100 + i * 1000, &[7u8; 900], &mut c);
        }
        assert!(r.pending_bytes <= MAX_PENDING_BYTES);
        assert!(r.pending.len() <= MAX_PENDING_SEGMENTS);
        assert!(!c.gaps.is_empty());
        assert!(c.out.len() as u64 <= MAX_STREAM_BYTES);
    }

    #[test]
    fn deliver_all_passes_the_cap_and_still_bounds_what_waits() {
        let (mut capped, mut whole) = (Reassembler::default(), Reassembler::default());
        let (mut c1, mut c2) = (Collect::default(), Collect::default());
        whole.deliver_all();
        for r in [&mut capped, &mut whole] {
            r.syn(0);
        }
        let chunk = [5u8; 1000];
        for i in 0..1500u32 {
            capped.segment(1 + i * 1000, &chunk, &mut c1);
            whole.segment(1 + i * 1000, &chunk, &mut c2);
        }
        assert_eq!(c1.out.len() as u64, MAX_STREAM_BYTES);
        assert!(capped.capped);
        assert_eq!(c2.out.len(), 1_500_000);
        assert!(!whole.capped);
        // out of order beyond the cap: held within the bounds, then delivered
        for i in (1600..2000u32).rev() {
            whole.segment(1 + i * 1000, &chunk, &mut c2);
        }
        assert!(whole.pending_bytes <= MAX_PENDING_BYTES);
        whole.finish(&mut c2);
        assert!(c2.out.len() > 1_500_000);
    }
}
