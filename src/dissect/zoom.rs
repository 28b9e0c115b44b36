//! Zoom's own UDP media encapsulation (facts: ../shared/reference/wire-formats.md §2.2, from the
//! IMC 2022 study and nDPI): the 8-byte SFU header of client↔server mode (UDP 8801–8810), the
//! media header inside it (also used alone between peers), the media type, and the standard RTP
//! header it wraps, whose payload Zoom encrypts.

use super::rtp::{self, Header, Streams};

/// Media carried in a Zoom media header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Audio,
    Video,
    ScreenShare,
    Rtcp,
    Other(u8),
}

impl MediaType {
    pub fn name(self) -> String {
        match self {
            MediaType::Audio => "audio".into(),
            MediaType::Video => "video".into(),
            MediaType::ScreenShare => "screen-share".into(),
            MediaType::Rtcp => "rtcp".into(),
            MediaType::Other(t) => format!("type-{t}"),
        }
    }
}

/// A parsed Zoom media packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub media: MediaType,
    /// Offset of the inner RTP/RTCP header in the datagram.
    pub rtp_offset: usize,
    /// Server mode: true when the packet goes to the Zoom server (direction byte 0).
    pub to_server: Option<bool>,
    /// Video: packets in this frame, when the frame-info flag is set.
    pub frame_packets: Option<u8>,
}

/// Where the RTP (or RTCP) header sits inside a Zoom media header, by media type.
fn inner_offset(zme: &[u8]) -> Option<(MediaType, usize)> {
    Some(match *zme.first()? {
        15 => (MediaType::Audio, 19),
        16 => (
            MediaType::Video,
            if *zme.get(20)? == 0x02 { 24 } else { 20 },
        ),
        13 if *zme.get(7)? == 0x1E => (MediaType::ScreenShare, 27),
        30 => (MediaType::ScreenShare, 20),
        33..=35 => (MediaType::Rtcp, 16),
        t => return Some((MediaType::Other(t), usize::MAX)),
    })
}

/// Parse a Zoom media header at `base` of `b` (8 in server mode, 0 between peers), requiring a
/// version-2 RTP/RTCP header at the offset its media type implies.
fn media(b: &[u8], base: usize, to_server: Option<bool>) -> Option<Packet> {
    let zme = b.get(base..)?;
    let (media, off) = inner_offset(zme)?;
    if off == usize::MAX {
        return None;
    }
    let inner = zme.get(off..)?;
    rtp::parse(inner)?;
    let frame_packets = (media == MediaType::Video && zme.get(20) == Some(&0x02))
        .then(|| zme.get(23).copied())
        .flatten();
    Some(Packet {
        media,
        rtp_offset: base + off,
        to_server,
        frame_packets,
    })
}

/// Server mode (SFU encapsulation type 5, direction byte 0 or 4 at offset 7).
pub fn parse_server_mode(b: &[u8]) -> Option<Packet> {
    if b.len() < 8 || b[0] != 5 || !matches!(b[7], 0 | 4) {
        return None;
    }
    media(b, 8, Some(b[7] == 0))
}

/// Peer-to-peer mode: the media header alone.
pub fn parse_peer_to_peer(b: &[u8]) -> Option<Packet> {
    media(b, 0, None)
}

/// Zoom media of one flow.
#[derive(Debug, Clone, Default)]
pub struct ZoomFacts {
    pub server_mode_packets: u64,
    pub peer_to_peer_packets: u64,
    /// SFU header types 1–4 (session control) seen.
    pub control_packets: u64,
    pub to_server: u64,
    pub from_server: u64,
    /// Media types in order of first appearance.
    pub media_types: Vec<MediaType>,
    /// The inner RTP streams, with their payload entropy.
    pub streams: Streams,
}

impl ZoomFacts {
    pub fn packet(&mut self, p: &Packet, datagram: &[u8], direction: u8, frame: u64) {
        match p.to_server {
            Some(true) => self.to_server += 1,
            Some(false) => self.from_server += 1,
            None => {}
        }
        if p.to_server.is_some() {
            self.server_mode_packets += 1;
        } else {
            self.peer_to_peer_packets += 1;
        }
        if !self.media_types.contains(&p.media) && self.media_types.len() < 8 {
            self.media_types.push(p.media);
        }
        let inner = &datagram[p.rtp_offset..];
        if let Some(h @ Header::Rtp { .. }) = rtp::parse(inner) {
            self.streams.packet(h, direction, frame, inner);
        }
    }

    pub fn packets(&self) -> u64 {
        self.server_mode_packets + self.peer_to_peer_packets
    }

    /// Highest payload entropy of a stream with enough sampled bytes, and the bytes sampled.
    pub fn payload_entropy(&self) -> Option<(f64, u32)> {
        self.streams
            .streams
            .iter()
            .filter(|s| s.sampled_bytes >= 4096)
            .filter_map(|s| s.payload_entropy().map(|h| (h, s.sampled_bytes)))
            .max_by(|a, b| a.1.cmp(&b.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of wire-formats.md §2.2 (zoom-analysis test_packets.h, server video).
    #[test]
    fn server_video_example() {
        let mut b = vec![
            0x05, 0x00, 0x07, 0x00, 0xfe, 0x51, 0x32, 0x04, 0x10, 0x01, 0x00, 0xfb, 0x90, 0x16,
            0x18, 0x0c, 0x03, 0x00, 0x05, 0x69, 0x65, 0x92, 0xaa, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x33, 0x18, 0x05, 0x90, 0x62, 0x1e, 0x23, 0xf3, 0xe7, 0x9e, 0x30, 0x01, 0x00,
            0x08, 0x01, 0xbe, 0xde, 0x00, 0x04,
        ];
        b.extend_from_slice(&[0u8; 16]); // the 4-word header extension and some payload
        b.extend_from_slice(&[0xAB; 32]);
        let p = parse_server_mode(&b).expect("zoom server-mode video");
        assert_eq!(p.media, MediaType::Video);
        assert_eq!(p.to_server, Some(false));
        assert_eq!(p.frame_packets, Some(5));
        assert_eq!(p.rtp_offset, 32);
        match rtp::parse(&b[p.rtp_offset..]) {
            Some(Header::Rtp {
                payload_type,
                ssrc,
                seq,
                ..
            }) => assert_eq!((payload_type, ssrc, seq), (98, 0x0100_0801, 7715)),
            other => panic!("inner RTP expected, got {other:?}"),
        }
    }
}
