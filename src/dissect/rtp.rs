//! RTP and RTCP headers (RFC 3550, RFC 5761 multiplexing): telling them apart, and following
//! RTP streams by SSRC with their payload type, packet count and sequence-number gaps.
//!
//! Whether a stream's payload is encrypted (SRTP) is not decided here: the header is the same
//! in RTP and SRTP. This module establishes that RTP is present, from sequence numbers that
//! advance over several packets, never from one packet; and it measures what the judgement
//! rests on: payload structure and entropy, the SRTCP trailer, and for codecs of one byte per
//! timestamp tick what a payload carries beyond its samples (SRTP's authentication tag).

/// Streams followed per flow.
const MAX_STREAMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    Rtp {
        ssrc: u32,
        payload_type: u8,
        seq: u16,
        /// Where the payload starts (after CSRCs and any header extension).
        payload_offset: usize,
        /// The header extension's "defined by profile" field, if the X bit is set.
        extension_profile: Option<u16>,
    },
    /// RTCP packet type of the first packet of a compound.
    Rtcp { packet_type: u8, sender_ssrc: u32 },
}

/// Parse the fixed header of an RTP or RTCP packet (version 2).
pub fn parse(b: &[u8]) -> Option<Header> {
    if b.len() < 8 || b[0] >> 6 != 2 {
        return None;
    }
    // RFC 5761 §4: second byte 192–223 is RTCP (packet types 200–207 in use).
    if (192..=223).contains(&b[1]) {
        if !(200..=207).contains(&b[1]) {
            return None;
        }
        let words = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if (words + 1) * 4 > b.len() {
            return None;
        }
        return Some(Header::Rtcp {
            packet_type: b[1],
            sender_ssrc: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        });
    }
    let csrc = usize::from(b[0] & 0x0F);
    let mut header = 12 + 4 * csrc;
    if b.len() < header {
        return None;
    }
    let mut extension_profile = None;
    if b[0] & 0x10 != 0 {
        let ext = b.get(header..header + 4)?;
        extension_profile = Some(u16::from_be_bytes([ext[0], ext[1]]));
        header += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        if b.len() < header {
            return None;
        }
    }
    Some(Header::Rtp {
        ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        payload_type: b[1] & 0x7F,
        seq: u16::from_be_bytes([b[2], b[3]]),
        payload_offset: header,
        extension_profile,
    })
}

/// One RTP stream (an SSRC in one direction).
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub ssrc: u32,
    pub payload_type: u8,
    /// 0 = client to server.
    pub direction: u8,
    pub packets: u64,
    pub first_frame: u64,
    /// Packets whose sequence number followed the previous one within a small window.
    pub in_sequence: u64,
    /// Sequence numbers skipped (lost or not captured).
    pub missing: u64,
    last_seq: u16,
    /// Byte histogram of the first [`SAMPLE_BYTES`] payload bytes (for the entropy measure).
    histogram: Option<Box<[u32; 256]>>,
    /// The entropy, kept once the histogram is released.
    entropy: Option<f64>,
    pub sampled_bytes: u32,
    /// Structure of the payload's first byte over the sampled packets (codec headers such as
    /// the Opus TOC or the H.264 NAL header sit there; ciphertext makes it uniform).
    pub first_byte: FirstByte,
    /// The VP8 payload descriptor and key-frame test over the same packets.
    pub vp8: Vp8Check,
    /// Payload length against the timestamp's advance, for codecs of one byte per tick.
    pub length: LengthCheck,
}

/// Static payload types whose payload is one byte per RTP timestamp unit (RFC 3551 §4.5.14
/// PCMU and PCMA: 8-bit samples at 8000 Hz; §4.5.2 G722: 4-bit codes of 16 kHz audio, 8000 Hz
/// clock by the RFC's own historical error): a packet carries exactly as many payload bytes
/// as the timestamp advances to the next packet.
pub const ONE_BYTE_PER_TICK: [u8; 3] = [0, 8, 9];

/// Trailing bytes an SRTP packet adds to its payload (RFC 3711 §3.1, RFC 7714 §8): the
/// HMAC-SHA1 authentication tag of 4 or 10 bytes, or the 16-byte AEAD tag. Slot 0 counts
/// packets with nothing added.
pub const TRAILER_BYTES: [u32; 4] = [0, 4, 10, 16];

/// Packets measured per stream by [`LengthCheck`].
pub const LENGTH_PACKETS: u32 = 512;

/// Length arithmetic (wire-formats §2.4, 4): for a stream of [`ONE_BYTE_PER_TICK`] codecs,
/// each packet's payload length minus the timestamp step to the next packet in sequence. Clear
/// RTP leaves nothing over; SRTP leaves its authentication tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LengthCheck {
    /// Packets measured: followed in sequence by the next, both of such a codec, unpadded.
    pub measured: u32,
    /// By [`TRAILER_BYTES`] slot: packets whose payload exceeded the step by that much.
    pub trailer: [u32; 4],
    /// The previous packet: sequence number, timestamp, payload length.
    last: Option<(u16, u32, usize)>,
}

impl LengthCheck {
    /// One packet of the stream; `None` for a packet that cannot be measured (another payload
    /// type such as comfort noise or DTMF, padding whose length SRTP hides), which breaks the
    /// chain.
    fn add(&mut self, packet: Option<(u16, u32, usize)>) {
        if self.measured >= LENGTH_PACKETS {
            return;
        }
        if let (Some((seq, ts, _)), Some((last_seq, last_ts, last_len))) = (packet, self.last)
            && seq == last_seq.wrapping_add(1)
        {
            let step = ts.wrapping_sub(last_ts);
            // a step up to a second of 8000 Hz audio; silence suppression makes longer ones
            if (1..=8000).contains(&step) {
                self.measured += 1;
                if let Some(slot) = TRAILER_BYTES
                    .iter()
                    .position(|&t| last_len == step as usize + t as usize)
                {
                    self.trailer[slot] += 1;
                }
            }
        }
        self.last = packet;
    }

    /// The trailer length left over in at least 90 % of at least 32 measured packets.
    pub fn trailer_bytes(&self) -> Option<u32> {
        if self.measured < 32 {
            return None;
        }
        let (slot, &count) = self.trailer.iter().enumerate().max_by_key(|(_, c)| **c)?;
        (u64::from(count) * 10 >= u64::from(self.measured) * 9).then_some(TRAILER_BYTES[slot])
    }
}

/// VP8 structure over a stream's first packets (RFC 7741 §4.2 payload descriptor, RFC 6386
/// §9.1 key frame header): in clear VP8 the descriptor's reserved bits are zero, and a packet
/// that starts partition 0 of a key frame carries the start code 9d 01 2a three bytes into the
/// VP8 payload, at an offset the descriptor's own flags give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vp8Check {
    pub packets: u32,
    /// Packets whose descriptor parsed with every reserved bit zero.
    pub descriptor_ok: u32,
    /// Packets starting a key frame with the start code where the descriptor puts it.
    pub key_frame_start_codes: u32,
}

impl Vp8Check {
    fn add(&mut self, p: &[u8]) {
        if self.packets >= FIRST_BYTE_PACKETS || p.is_empty() {
            return;
        }
        self.packets += 1;
        let Some(payload) = vp8_payload(p) else {
            return;
        };
        self.descriptor_ok += 1;
        let (start_of_partition_0, header) = payload;
        if start_of_partition_0
            && header.first().is_some_and(|b| b & 0x01 == 0)
            && header.get(3..6) == Some(&[0x9d, 0x01, 0x2a])
        {
            self.key_frame_start_codes += 1;
        }
    }

    /// Clear VP8: the start code seen, and the reserved bits zero in every one of at least 16
    /// packets. Ciphertext would need a 24-bit constant at a place other bits point to.
    pub fn clear_structure(&self) -> Option<String> {
        (self.packets >= 16
            && self.descriptor_ok == self.packets
            && self.key_frame_start_codes >= 1)
            .then(|| {
                format!(
                    "VP8 in clear: payload descriptor reserved bits zero in all {} packets and the key-frame start code 9d 01 2a where the descriptor places it in {} packet(s) (RFC 7741, RFC 6386)",
                    self.packets, self.key_frame_start_codes
                )
            })
    }
}

/// Parse a VP8 payload descriptor: whether the packet starts partition 0 (S=1, PID=0), and the
/// VP8 payload after the descriptor. `None` when a reserved bit is set or the packet is too short.
fn vp8_payload(p: &[u8]) -> Option<(bool, &[u8])> {
    let b0 = *p.first()?;
    if b0 & 0x48 != 0 {
        return None;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = *p.get(1)?;
        if x & 0x0F != 0 {
            return None;
        }
        i = 2;
        if x & 0x80 != 0 {
            // PictureID: 15 bits when its first bit (M) is set, else 7
            i += if *p.get(i)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID | Y | KEYIDX
        }
    }
    let rest = p.get(i..)?;
    Some((b0 & 0x10 != 0 && b0 & 0x07 == 0, rest))
}

/// Statistics of the first payload byte of a stream's packets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstByte {
    pub packets: u32,
    /// Packets whose first payload byte had its most significant bit clear (H.264's forbidden
    /// bit, VP8's X bit in practice, Opus TOC configs below 16).
    pub msb_clear: u32,
    /// Packets whose first byte equalled the first packet's (a constant codec header).
    pub same_as_first: u32,
    first: Option<u8>,
}

/// Packets of a stream whose first payload byte is examined.
pub const FIRST_BYTE_PACKETS: u32 = 512;

impl FirstByte {
    fn add(&mut self, b: u8) {
        if self.packets >= FIRST_BYTE_PACKETS {
            return;
        }
        self.packets += 1;
        if b & 0x80 == 0 {
            self.msb_clear += 1;
        }
        match self.first {
            None => {
                self.first = Some(b);
                self.same_as_first += 1;
            }
            Some(f) if f == b => self.same_as_first += 1,
            Some(_) => {}
        }
    }

    /// A structure ciphertext cannot have: over at least 64 packets, the first byte repeats in at
    /// least half of them (chance for random bytes: about 1/256), or its top bit is never set
    /// (chance 2^-64 or less). Returns the reason, with the numbers.
    pub fn clear_structure(&self) -> Option<String> {
        if self.packets < 64 {
            return None;
        }
        if self.same_as_first * 2 >= self.packets {
            return Some(format!(
                "heuristic: the first payload byte is the same in {} of {} packets (a codec header in clear; ciphertext would repeat it about 1 time in 256)",
                self.same_as_first, self.packets
            ));
        }
        if self.msb_clear == self.packets {
            return Some(format!(
                "heuristic: the first payload byte has its top bit clear in all {} packets (a codec header in clear, e.g. H.264's forbidden bit; ciphertext sets it half the time)",
                self.packets
            ));
        }
        None
    }
}

/// Payload bytes sampled per stream for the entropy measure.
pub const SAMPLE_BYTES: u32 = 32 * 1024;

impl Stream {
    /// Shannon entropy of the sampled payload bytes, bits per byte (8 = uniform, as ciphertext).
    pub fn payload_entropy(&self) -> Option<f64> {
        if self.histogram.is_none() {
            return self.entropy;
        }
        self.measure()
    }

    fn measure(&self) -> Option<f64> {
        let h = self.histogram.as_ref()?;
        let n = f64::from(self.sampled_bytes);
        if self.sampled_bytes == 0 {
            return None;
        }
        Some(
            h.iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = f64::from(c) / n;
                    -p * p.log2()
                })
                .sum(),
        )
    }

    fn sample(&mut self, payload: &[u8]) {
        if let Some(&b) = payload.first() {
            self.first_byte.add(b);
        }
        self.vp8.add(payload);
        if self.sampled_bytes >= SAMPLE_BYTES || payload.is_empty() {
            return;
        }
        let h = self.histogram.get_or_insert_with(|| Box::new([0; 256]));
        let take = payload
            .len()
            .min((SAMPLE_BYTES - self.sampled_bytes) as usize);
        for &b in &payload[..take] {
            h[usize::from(b)] += 1;
        }
        self.sampled_bytes += take as u32;
    }
}

/// RTP streams and RTCP packets of one flow.
#[derive(Debug, Clone, Default)]
pub struct Streams {
    pub streams: Vec<Stream>,
    pub rtcp_packets: u64,
    /// Packets of SSRCs beyond [`MAX_STREAMS`].
    pub untracked_packets: u64,
    /// RTCP datagrams whose compound packets tile the datagram exactly: RTCP in clear.
    pub rtcp_in_clear: u64,
    /// RTP packets with header extensions in clear (RFC 8285 one/two-byte forms), which SRTP
    /// does not encrypt: metadata such as RFC 6464 audio levels stays readable.
    pub clear_extension_packets: u64,
    /// RTP packets whose header extensions are encrypted (cryptex, RFC 9335).
    pub cryptex_packets: u64,
    /// Header extension element IDs seen in clear (RFC 8285 one-byte 1–14, two-byte 1–255),
    /// a bit per ID: what the signalled `a=extmap` lines name.
    pub clear_extension_ids: [u64; 4],
    srtcp: Srtcp,
}

/// The element IDs of an RFC 8285 header extension block (`profile` and its `data`, the words
/// after the 4-byte extension header): one-byte form 0xBEDE (ID 1–14, 15 stops the walk), two-byte
/// form 0x100X (ID 1–255). Padding bytes (0) are skipped. Other profiles have no elements.
pub fn extension_ids(profile: u16, data: &[u8], mut seen: impl FnMut(u8)) {
    let mut i = 0;
    if profile == 0xBEDE {
        while let Some(&b) = data.get(i) {
            if b == 0 {
                i += 1;
                continue;
            }
            let id = b >> 4;
            if id == 0 || id == 15 {
                return; // ID 0 with a length is invalid; 15 ends the block
            }
            seen(id);
            i += 2 + usize::from(b & 0x0F);
        }
    } else if profile & 0xFFF0 == 0x1000 {
        while let Some(&id) = data.get(i) {
            if id == 0 {
                i += 1;
                continue;
            }
            let Some(&len) = data.get(i + 1) else { return };
            seen(id);
            i += 2 + usize::from(len);
        }
    }
}

/// Where the SRTCP trailer's `E | SRTCP index` word can sit: followed by an HMAC-SHA1 tag of
/// 80 bits (RFC 3711 §3.4; the SRTCP tag of every AES-CM profile, RFC 5764 §4.1.2) or of 32
/// bits, or last of all (AEAD, RFC 7714 §9.1: its 16-byte tag ends the encrypted portion,
/// before the word). Slots as [`SrtcpTag`].
const SRTCP_BYTES_AFTER_INDEX: [usize; 3] = [10, 4, 0];

/// The SRTCP trailer's layout, by where its index word sits ([`SRTCP_BYTES_AFTER_INDEX`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtcpTag {
    /// An 80-bit HMAC-SHA1 tag after the index: the AES-CM profiles (and the NULL ones).
    HmacSha1_80,
    /// A 32-bit HMAC-SHA1 tag after the index: no DTLS-SRTP or SDES profile's SRTCP.
    HmacSha1_32,
    /// The index last, after the AEAD tag: AEAD_AES_128_GCM and AEAD_AES_256_GCM.
    Aead,
}

impl SrtcpTag {
    const ALL: [SrtcpTag; 3] = [Self::HmacSha1_80, Self::HmacSha1_32, Self::Aead];

    /// The verdict's word (`rtp.srtcp_tag`).
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha1_80 => "hmac-sha1-80",
            Self::HmacSha1_32 => "hmac-sha1-32",
            Self::Aead => "aead",
        }
    }

    /// Whether the SRTP protection profile `profile` (a `use_srtp` value) protects SRTCP with
    /// this trailer.
    pub fn fits(self, profile: u16) -> bool {
        match self {
            Self::HmacSha1_80 => matches!(profile, 0x0001 | 0x0002 | 0x0005 | 0x0006),
            Self::HmacSha1_32 => false,
            Self::Aead => matches!(profile, 0x0007 | 0x0008),
        }
    }
}

/// The SRTCP trailer test (RFC 3711 §3.4, RFC 7714 §9.1): after the RTCP compound's encrypted
/// portion comes `E | SRTCP index (31)` and, but for AEAD, the authentication tag; the index
/// grows by one per packet in each direction.
#[derive(Debug, Clone, Default)]
struct Srtcp {
    /// Per direction and tag length: the last index seen, and how often the next one followed.
    last: [[Option<u32>; 3]; 2],
    in_sequence: [[u32; 3]; 2],
    /// E flags seen with a confirmed tag length (encrypted, authenticated only).
    encrypted_flags: u32,
    clear_flags: u32,
}

/// Whether the RTCP packets of a compound tile the datagram to its last byte: RTCP in clear
/// (SRTCP appends its index and tag after the compound, RFC 3711 §3.4).
pub fn rtcp_in_clear(b: &[u8]) -> bool {
    // Walk the compound: each packet's length field in 32-bit words minus one.
    let mut pos = 0;
    while pos + 4 <= b.len() && b[pos] >> 6 == 2 && (200..=207).contains(&b[pos + 1]) {
        pos += (usize::from(u16::from_be_bytes([b[pos + 2], b[pos + 3]])) + 1) * 4;
    }
    pos == b.len()
}

impl Streams {
    fn rtcp(&mut self, b: &[u8], direction: u8) {
        if rtcp_in_clear(b) {
            self.rtcp_in_clear += 1;
            return;
        }
        let d = usize::from(direction.min(1));
        for (t, &after) in SRTCP_BYTES_AFTER_INDEX.iter().enumerate() {
            let Some(end) = b.len().checked_sub(after) else {
                continue;
            };
            let Some(word) = end.checked_sub(4).and_then(|s| b.get(s..end)) else {
                continue;
            };
            let raw = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            let index = raw & 0x7FFF_FFFF;
            if let Some(prev) = self.srtcp.last[d][t]
                && index == prev.wrapping_add(1) & 0x7FFF_FFFF
            {
                self.srtcp.in_sequence[d][t] += 1;
                if raw >> 31 == 1 {
                    self.srtcp.encrypted_flags += 1;
                } else {
                    self.srtcp.clear_flags += 1;
                }
            }
            self.srtcp.last[d][t] = Some(index);
        }
    }

    /// SRTCP established: a 31-bit index after the compound grew by exactly one from one packet
    /// to the next (by chance: about 2^-31). Returns whether its E flag said "encrypted".
    pub fn srtcp(&self) -> Option<bool> {
        let confirmed = self.srtcp.in_sequence.iter().flatten().any(|&n| n >= 1);
        confirmed.then_some(self.srtcp.encrypted_flags >= self.srtcp.clear_flags)
    }

    /// The layout of the established SRTCP trailer: the slot whose index grew by one most
    /// often, both directions together.
    pub fn srtcp_tag(&self) -> Option<SrtcpTag> {
        let [a, b] = &self.srtcp.in_sequence;
        (0..SrtcpTag::ALL.len())
            .map(|t| (a[t] + b[t], t))
            .filter(|&(n, _)| n >= 1)
            .max()
            .map(|(_, t)| SrtcpTag::ALL[t])
    }
}

impl Streams {
    /// One packet with header `h` parsed from `datagram`.
    pub fn packet(&mut self, h: Header, direction: u8, frame: u64, datagram: &[u8]) {
        match h {
            Header::Rtcp { .. } => {
                self.rtcp_packets += 1;
                self.rtcp(datagram, direction);
            }
            Header::Rtp {
                ssrc,
                payload_type,
                seq,
                payload_offset,
                extension_profile,
            } => {
                let payload = datagram.get(payload_offset..).unwrap_or_default();
                match extension_profile {
                    // RFC 9335 cryptex: the header extensions are encrypted too
                    Some(0xC0DE | 0xC2DE) => self.cryptex_packets += 1,
                    Some(profile) => {
                        self.clear_extension_packets += 1;
                        let start = 12 + 4 * usize::from(datagram[0] & 0x0F) + 4;
                        let ids = &mut self.clear_extension_ids;
                        if let Some(data) = datagram.get(start..payload_offset) {
                            extension_ids(profile, data, |id| {
                                ids[usize::from(id >> 6)] |= 1 << (id & 63);
                            });
                        }
                    }
                    None => {}
                }
                // (sequence number, timestamp, payload length) where the length arithmetic
                // applies: a one-byte-per-tick codec, no padding
                let measurable = match datagram.get(..8) {
                    Some(&[b0, _, _, _, t0, t1, t2, t3])
                        if ONE_BYTE_PER_TICK.contains(&payload_type) && b0 & 0x20 == 0 =>
                    {
                        Some((seq, u32::from_be_bytes([t0, t1, t2, t3]), payload.len()))
                    }
                    _ => None,
                };
                if let Some(s) = self
                    .streams
                    .iter_mut()
                    .find(|s| s.ssrc == ssrc && s.direction == direction)
                {
                    s.packets += 1;
                    let delta = seq.wrapping_sub(s.last_seq);
                    if (1..=100).contains(&delta) {
                        s.in_sequence += 1;
                        s.missing += u64::from(delta - 1);
                    }
                    s.last_seq = seq;
                    s.sample(payload);
                    s.length.add(measurable);
                } else if self.streams.len() < MAX_STREAMS {
                    let mut s = Stream {
                        ssrc,
                        payload_type,
                        direction,
                        packets: 1,
                        first_frame: frame,
                        in_sequence: 0,
                        missing: 0,
                        last_seq: seq,
                        histogram: None,
                        entropy: None,
                        sampled_bytes: 0,
                        first_byte: FirstByte::default(),
                        vp8: Vp8Check::default(),
                        length: LengthCheck::default(),
                    };
                    s.sample(payload);
                    s.length.add(measurable);
                    self.streams.push(s);
                } else {
                    self.untracked_packets += 1;
                }
            }
        }
    }

    /// Keep each stream's entropy and release the histograms (1 KiB each) once the flow ends.
    pub fn release_histograms(&mut self) {
        for s in &mut self.streams {
            s.entropy = s.measure();
            s.histogram = None;
        }
    }

    /// RTP is established when a stream advanced its sequence number at least twice.
    pub fn rtp_confirmed(&self) -> bool {
        self.streams.iter().any(|s| s.in_sequence >= 2)
    }

    /// SRTP shown by length arithmetic: a confirmed stream's payloads carry an authentication
    /// tag, and none carries nothing over.
    pub fn srtp_by_length(&self) -> bool {
        let trailers: Vec<u32> = self
            .confirmed()
            .filter_map(|s| s.length.trailer_bytes())
            .collect();
        trailers.iter().any(|&t| t > 0) && !trailers.contains(&0)
    }

    /// Streams that look real (advancing sequence numbers), for the verdict.
    pub fn confirmed(&self) -> impl Iterator<Item = &Stream> {
        self.streams.iter().filter(|s| s.in_sequence >= 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 160, 0xd2, 0xbd, 0x4e, 0x3e]);
        p.extend_from_slice(&[0xFF; 160]);
        p
    }

    #[test]
    fn streams_need_advancing_sequence_numbers() {
        let mut s = Streams::default();
        for (seq, frame) in [(10, 1), (11, 2)] {
            s.packet(parse(&rtp(seq)).unwrap(), 0, frame, &rtp(seq));
        }
        assert!(!s.rtp_confirmed());
        s.packet(parse(&rtp(13)).unwrap(), 0, 3, &rtp(13));
        assert!(s.rtp_confirmed());
        let st = &s.streams[0];
        assert_eq!(
            (st.ssrc, st.payload_type, st.packets, st.missing),
            (0xd2bd4e3e, 0, 3, 1)
        );
    }

    /// A PCMU packet: sequence number, timestamp, payload length; payload type 13 (comfort
    /// noise) with `cn`.
    fn pcmu(seq: u16, ts: u32, len: usize, cn: bool) -> Vec<u8> {
        let mut p = vec![0x80, if cn { 13 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[0xd2, 0xbd, 0x4e, 0x3e]);
        p.resize(12 + len, 0x55);
        p
    }

    #[test]
    fn length_arithmetic_finds_the_srtp_tag() {
        let run = |trailer: usize| {
            let mut s = Streams::default();
            let mut ts = 1000u32;
            for seq in 0..80u16 {
                // a talk spurt gap (the timestamp jumps 2 s), and comfort noise between: neither
                // is measured, neither counts against the tag
                if seq == 30 {
                    ts += 16_000;
                }
                let p = pcmu(seq, ts, 160 + trailer, seq == 50);
                s.packet(parse(&p).unwrap(), 0, u64::from(seq), &p);
                ts += 160;
            }
            s
        };
        for trailer in [0usize, 4, 10, 16] {
            let s = run(trailer);
            let l = &s.streams[0].length;
            // 79 steps, less the gap and the two steps into and out of comfort noise
            assert_eq!(l.measured, 76, "{trailer}");
            assert_eq!(l.trailer_bytes(), Some(trailer as u32));
            assert_eq!(s.srtp_by_length(), trailer > 0);
        }
        let odd = run(7);
        assert_eq!(
            odd.streams[0].length.trailer_bytes(),
            None,
            "7 bytes is no tag"
        );
        assert!(!odd.srtp_by_length());
        // padding hides the payload's length under SRTP: not measured
        let mut s = Streams::default();
        for seq in 0..40u16 {
            let mut p = pcmu(seq, u32::from(seq) * 160, 170, false);
            p[0] |= 0x20;
            s.packet(parse(&p).unwrap(), 0, 1, &p);
        }
        assert_eq!(s.streams[0].length.measured, 0);
    }

    #[test]
    fn srtcp_trailer_index_is_followed() {
        let mut s = Streams::default();
        for index in 7u32..11 {
            // an RTCP RR header (1 word) + 12 bytes of ciphertext + E|index + 10-byte tag
            let mut p = vec![0x80, 201, 0, 1, 1, 2, 3, 4];
            p.extend_from_slice(&[0x5A; 12]);
            p.extend_from_slice(&(0x8000_0000 | index).to_be_bytes());
            p.extend_from_slice(&[0xEE; 10]);
            s.packet(parse(&p).unwrap(), 0, 1, &p);
        }
        assert_eq!(s.srtcp(), Some(true));
        assert_eq!(s.srtcp_tag(), Some(SrtcpTag::HmacSha1_80));
        assert_eq!(s.rtcp_in_clear, 0);
        // AEAD (RFC 7714 §9.1): the 16-byte tag inside, E|index last
        let mut aead = Streams::default();
        for index in 7u32..11 {
            let mut p = vec![0x80, 201, 0, 1, 1, 2, 3, 4];
            p.extend_from_slice(&[0x5A; 12 + 16]);
            p.extend_from_slice(&(0x8000_0000 | index).to_be_bytes());
            aead.packet(parse(&p).unwrap(), 1, 1, &p);
        }
        assert_eq!(aead.srtcp(), Some(true));
        assert_eq!(aead.srtcp_tag(), Some(SrtcpTag::Aead));
        let mut clear = Streams::default();
        let mut rr = vec![0x80, 201, 0, 1, 1, 2, 3, 4];
        clear.packet(parse(&rr).unwrap(), 0, 1, &rr);
        rr.extend_from_slice(&[0x81, 202, 0, 0]);
        clear.packet(parse(&rr).unwrap(), 0, 2, &rr);
        assert_eq!((clear.rtcp_in_clear, clear.srtcp()), (2, None));
    }

    #[test]
    fn first_byte_structure_tells_codec_headers_from_ciphertext() {
        let mut opus_like = FirstByte::default();
        let mut random = FirstByte::default();
        let mut x = 0x1234_5678u32;
        for _ in 0..200 {
            opus_like.add(0x78); // an Opus TOC byte, constant for the stream
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            random.add(x as u8);
        }
        assert!(opus_like.clear_structure().is_some());
        assert!(random.clear_structure().is_none());
        let mut few = FirstByte::default();
        for _ in 0..10 {
            few.add(0x78);
        }
        assert!(few.clear_structure().is_none(), "too few packets to judge");
    }

    #[test]
    fn rtcp_is_told_apart() {
        // RTCP SR header: V=2, PT=200, length 6 words
        let mut sr = vec![0x80, 200, 0, 6, 1, 2, 3, 4];
        sr.resize(28, 0);
        assert!(matches!(
            parse(&sr),
            Some(Header::Rtcp {
                packet_type: 200,
                ..
            })
        ));
        sr[3] = 60;
        assert_eq!(parse(&sr), None, "length beyond the datagram");
    }

    #[test]
    fn extension_elements_one_and_two_byte_forms() {
        let mut ids = Vec::new();
        // one-byte: ID 1 with 1 byte, a padding byte, ID 3 with 2 bytes
        extension_ids(0xBEDE, &[0x10, 0x7F, 0x00, 0x31, 1, 2], |i| ids.push(i));
        assert_eq!(ids, vec![1, 3]);
        ids.clear();
        // a byte with ID 0 and a length is invalid: the walk stops
        extension_ids(0xBEDE, &[0x10, 0x7F, 0x03, 0x20, 0], |i| ids.push(i));
        assert_eq!(ids, vec![1]);
        ids.clear();
        // ID 15 stops the walk; a length running past the end is harmless
        extension_ids(0xBEDE, &[0xF0, 0x10, 0x00], |i| ids.push(i));
        extension_ids(0xBEDE, &[0x2F], |i| ids.push(i));
        assert_eq!(ids, vec![2]);
        ids.clear();
        // two-byte form (0x100X): ID 200 with 1 byte, ID 5 with 0 bytes; truncated length
        extension_ids(0x1000, &[200, 1, 9, 5, 0, 7], |i| ids.push(i));
        assert_eq!(ids, vec![200, 5]);
        ids.clear();
        extension_ids(0xABCD, &[1, 2, 3, 4], |i| ids.push(i));
        assert!(ids.is_empty(), "other profiles have no elements");
    }

    #[test]
    fn vp8_descriptor_and_key_frame() {
        // X=1 S=1 PID=0; I=1 with a 15-bit PictureID; then a key frame header and start code
        let key = [
            0x90, 0x80, 0x81, 0x23, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01,
        ];
        assert_eq!(vp8_payload(&key), Some((true, &key[4..])));
        // a reserved bit set: not VP8 in clear
        assert_eq!(vp8_payload(&[0x50, 0, 0]), None);
        assert_eq!(
            vp8_payload(&[0x80, 0x01]),
            None,
            "reserved bits of the extension"
        );
        assert_eq!(vp8_payload(&[0x80, 0x80]), None, "PictureID missing");
        let mut check = Vp8Check::default();
        for _ in 0..15 {
            check.add(&[0x10, 0x01, 0x00, 0x00]); // interframe starts (P=1)
        }
        check.add(&key);
        assert_eq!(check.key_frame_start_codes, 1);
        assert!(check.clear_structure().is_some());
        check.add(&[0x48]); // a reserved bit: the stream is no longer clear VP8
        assert!(check.clear_structure().is_none());
    }
}
