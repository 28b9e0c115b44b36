//! IP fragment reassembly with the bounds etherparse's pool leaves to its caller.
//!
//! `etherparse::defrag::IpDefragPool` reassembles IPv4 and IPv6 fragments but documents that it is
//! not safe against never-finished fragment streams. This wrapper sweeps it regularly: datagrams
//! idle for [`FRAGMENT_TIMEOUT_NS`] are dropped (as a host's reassembly timer would), and if more
//! than [`MAX_PENDING_DATAGRAMS`] are still pending the pool is emptied, so memory stays bounded by
//! roughly `(MAX_PENDING_DATAGRAMS + SWEEP_EVERY) * 64 KiB` whatever the capture contains.

use std::cell::Cell;

use etherparse::defrag::{IpDefragPayloadVec, IpDefragPool};
use etherparse::{EtherType, SlicedPacket};

pub const FRAGMENT_TIMEOUT_NS: i64 = 30_000_000_000;
pub const MAX_PENDING_DATAGRAMS: usize = 256;
const SWEEP_EVERY: u32 = 64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments handed to the pool.
    pub fragments: u64,
    /// Datagrams completed from fragments.
    pub reassembled: u64,
    /// Datagrams abandoned (timeout, pool overflow, or inconsistent fragments).
    pub abandoned: u64,
}

#[derive(Default)]
pub struct Defragmenter {
    pool: IpDefragPool<i64, ()>,
    done: Option<IpDefragPayloadVec>,
    since_sweep: u32,
    stats: DefragStats,
}

impl Defragmenter {
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Add the fragment in `ip_bytes` (starting at a header of `ether_type`). Returns the
    /// reassembled transport-layer bytes and IP protocol number when the datagram is complete.
    pub fn add(&mut self, ether_type: u16, ip_bytes: &[u8], ts_ns: i64) -> Option<(&[u8], u8)> {
        self.stats.fragments += 1;
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.sweep(ts_ns);
        }
        let sliced = SlicedPacket::from_ether_type(EtherType(ether_type), ip_bytes).ok()?;
        match self.pool.process_sliced_packet(&sliced, ts_ns, ()) {
            Ok(Some(done)) => {
                if let Some(old) = self.done.take() {
                    self.pool.return_buf(old);
                }
                self.stats.reassembled += 1;
                let done = self.done.insert(done);
                Some((&done.payload, done.ip_number.0))
            }
            Ok(None) => None,
            Err(_) => {
                self.stats.abandoned += 1;
                None
            }
        }
    }

    fn sweep(&mut self, now_ns: i64) {
        self.since_sweep = 0;
        let kept = Cell::new(0usize);
        let dropped = Cell::new(0u64);
        self.pool.retain(|last_seen| {
            let keep = now_ns.saturating_sub(*last_seen) < FRAGMENT_TIMEOUT_NS;
            if keep {
                kept.set(kept.get() + 1);
            } else {
                dropped.set(dropped.get() + 1);
            }
            keep
        });
        self.stats.abandoned += dropped.get();
        if kept.get() > MAX_PENDING_DATAGRAMS {
            self.pool.retain(|_| false);
            self.stats.abandoned += kept.get() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 fragment of a UDP datagram: id 7, offset in 8-byte units, more-fragments flag.
    fn fragment(offset_units: u16, more: bool, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let flags_off = (if more { 0x2000 } else { 0 }) | offset_units;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 7]);
        p.extend_from_slice(&flags_off.to_be_bytes());
        p.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn reassembles_two_fragments_out_of_order() {
        let mut udp = vec![0x04, 0xD2, 0x16, 0x2E, 0, 24, 0, 0];
        udp.extend(0u8..16);
        let first = fragment(0, true, &udp[..16]);
        let second = fragment(2, false, &udp[16..]);
        let mut d = Defragmenter::default();
        assert!(d.add(0x0800, &second, 0).is_none());
        let (bytes, proto) = d.add(0x0800, &first, 1).expect("complete");
        assert_eq!(proto, 17);
        assert_eq!(bytes, &udp[..]);
        assert_eq!(d.stats().reassembled, 1);
    }

    #[test]
    fn never_finished_fragments_stay_bounded() {
        let mut d = Defragmenter::default();
        for i in 0..20_000u32 {
            let mut f = fragment(0, true, &[0u8; 64]);
            f[4..6].copy_from_slice(&(i as u16).to_be_bytes());
            f[12] = (i >> 16) as u8;
            let _ = d.add(0x0800, &f, i64::from(i));
        }
        let held = Cell::new(0usize);
        d.pool.retain(|_| {
            held.set(held.get() + 1);
            true
        });
        assert!(held.get() <= MAX_PENDING_DATAGRAMS + SWEEP_EVERY as usize);
        assert!(d.stats().abandoned > 19_000);
    }
}
