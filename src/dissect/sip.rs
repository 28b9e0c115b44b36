//! SIP messages in clear (RFC 3261) and the SDP bodies they carry (RFC 4566): methods and
//! responses, each media line's address, port and transport profile (`RTP/AVP` plain,
//! `RTP/SAVP`/`RTP/SAVPF` secure, `UDP/TLS/RTP/SAVPF` DTLS-SRTP), and `a=crypto` lines (RFC 4568
//! SDES), whose keys are then visible to anyone on the path.

use std::net::IpAddr;

const MAX_METHODS: usize = 16;
/// Characters kept of a method or code.
const MAX_METHOD_CHARS: usize = 32;
/// Media descriptions listed per flow (in the flow's record).
const MAX_MEDIA: usize = 32;
/// Further media descriptions waiting to be announced to the media flows they describe (see
/// `take_unlisted`); a table that keeps its flows (live capture) never takes them: it reads
/// the first `MAX_UNLISTED` at the end, the rest are only counted there.
const MAX_UNLISTED: usize = 64;

/// A media description (`m=` line) with what the session tells about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub frame: u64,
    /// "audio", "video", …
    pub kind: String,
    /// From the media-level `c=` line, else the session-level one.
    pub address: Option<IpAddr>,
    pub port: u16,
    /// "RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", …
    pub proto: String,
    /// Crypto suites of `a=crypto` lines (e.g. "AES_CM_128_HMAC_SHA1_80").
    pub crypto_suites: Vec<String>,
    /// An `a=crypto` line carried an inline key.
    pub key_in_clear: bool,
    /// The first of those keys whose suite [`crate::dissect::srtp`] opens (no MKI): the
    /// sender of this SDP protects its media with it. Never written to a verdict.
    pub sdes_key: Option<std::sync::Arc<crate::dissect::srtp::SdesKey>>,
    /// `a=fingerprint` (DTLS-SRTP) present.
    pub dtls_fingerprint: bool,
    /// RTP header extensions by ID (`a=extmap:ID[/direction] URI`, RFC 8285), session-level ones
    /// included.
    pub extmap: Vec<(u8, String)>,
    /// Where this media's RTCP goes when not on the media port: the port (and address, if
    /// named) of `a=rtcp` (RFC 3605), else for an RTP profile the next port up (RFC 3550
    /// §11, RFC 4566 §5.14). With `a=rtcp-mux` (RFC 5761) RTCP may share the media port too.
    pub rtcp_port: Option<u16>,
    pub rtcp_address: Option<IpAddr>,
}

/// `ID[/direction] URI [attributes]` of an `a=extmap` line: the ID (1–255) and the URI.
fn parse_extmap(value: &str) -> Option<(u8, String)> {
    let mut f = value.split_whitespace();
    let id = f.next()?.split('/').next()?.parse::<u8>().ok()?;
    let uri = f.next()?;
    (id != 0).then(|| (id, uri.chars().take(128).collect()))
}

impl Media {
    /// The profile protects media with SRTP (SDES or DTLS keyed).
    pub fn secure_profile(&self) -> bool {
        self.proto.contains("SAVP")
    }
}

#[derive(Debug, Clone, Default)]
pub struct SipFacts {
    pub messages: u32,
    /// Request methods and response codes ("INVITE", "200"), in order of first appearance.
    pub methods: Vec<String>,
    /// More distinct methods and codes were seen than `methods` holds (16).
    pub methods_truncated: bool,
    /// The first `MAX_MEDIA` media descriptions.
    pub media: Vec<Media>,
    /// Media descriptions beyond those (a trunk's one flow carries every call's SDP): counted,
    /// and still announced to the media flows they describe.
    pub unlisted_media: u32,
    /// Of those, the ones carrying SDES keys in clear.
    pub unlisted_keys_in_clear: u32,
    unlisted: Vec<Media>,
}

/// Whether `b` starts like a SIP message.
pub fn looks_like_sip(b: &[u8]) -> bool {
    const METHODS: [&[u8]; 14] = [
        b"INVITE ",
        b"REGISTER ",
        b"OPTIONS ",
        b"ACK ",
        b"BYE ",
        b"CANCEL ",
        b"SUBSCRIBE ",
        b"NOTIFY ",
        b"MESSAGE ",
        b"INFO ",
        b"PRACK ",
        b"UPDATE ",
        b"REFER ",
        b"PUBLISH ",
    ];
    if b.starts_with(b"SIP/2.0 ") {
        return true;
    }
    METHODS.iter().any(|m| {
        b.starts_with(m) && {
            let rest = &b[m.len()..];
            rest.starts_with(b"sip:") || rest.starts_with(b"sips:") || rest.starts_with(b"tel:")
        }
    })
}

impl SipFacts {
    /// One SIP message (a UDP datagram or a TCP segment starting a message).
    pub fn message(&mut self, frame: u64, b: &[u8]) {
        self.messages += 1;
        let text = String::from_utf8_lossy(b);
        let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
        let Some(start) = lines.next() else {
            return;
        };
        let what = if let Some(rest) = start.strip_prefix("SIP/2.0 ") {
            rest.split(' ').next().unwrap_or_default()
        } else {
            start.split(' ').next().unwrap_or_default()
        };
        // Methods are short tokens and codes three digits; a longer one is kept shortened.
        let what = match what.char_indices().nth(MAX_METHOD_CHARS) {
            Some((end, _)) => &what[..end],
            None => what,
        };
        if !what.is_empty() && !self.methods.iter().any(|m| m == what) {
            if self.methods.len() < MAX_METHODS {
                self.methods.push(what.to_string());
            } else {
                self.methods_truncated = true;
            }
        }
        // The body follows the first empty line.
        let body = match text.find("\r\n\r\n") {
            Some(i) => &text[i + 4..],
            None => match text.find("\n\n") {
                Some(i) => &text[i + 2..],
                None => return,
            },
        };
        self.sdp(frame, body);
    }

    fn sdp(&mut self, frame: u64, body: &str) {
        let mut session_addr: Option<IpAddr> = None;
        let mut session_extmap: Vec<(u8, String)> = Vec::new();
        // a=fingerprint before the first m= line applies to every media line (RFC 8122 §5)
        let mut session_fingerprint = false;
        let mut current: Option<Media> = None;
        for line in body.lines().map(str::trim_end) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "c" => {
                    // c=IN IP4 192.0.2.1
                    let addr = value
                        .split_whitespace()
                        .nth(2)
                        .and_then(|a| a.split('/').next().and_then(|a| a.parse::<IpAddr>().ok()));
                    match current.as_mut() {
                        Some(m) => m.address = addr.or(m.address),
                        None => session_addr = addr,
                    }
                }
                "m" => {
                    if let Some(m) = current.take() {
                        self.push(m);
                    }
                    let mut parts = value.split_whitespace();
                    let kind = parts.next().unwrap_or_default().to_string();
                    let port = parts
                        .next()
                        .and_then(|p| p.split('/').next())
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0);
                    let proto = parts.next().unwrap_or_default().to_string();
                    current = Some(Media {
                        frame,
                        kind,
                        address: session_addr,
                        port,
                        proto,
                        crypto_suites: Vec::new(),
                        key_in_clear: false,
                        sdes_key: None,
                        dtls_fingerprint: session_fingerprint,
                        extmap: session_extmap.clone(),
                        rtcp_port: None,
                        rtcp_address: None,
                    });
                }
                "a" => {
                    if let Some(map) = value.strip_prefix("extmap:").and_then(parse_extmap) {
                        let list = match current.as_mut() {
                            Some(m) => &mut m.extmap,
                            None => &mut session_extmap,
                        };
                        if list.len() < 16 && !list.iter().any(|(id, _)| *id == map.0) {
                            list.push(map);
                        }
                        continue;
                    }
                    let Some(m) = current.as_mut() else {
                        session_fingerprint |= value.starts_with("fingerprint:");
                        continue;
                    };
                    if let Some(crypto) = value.strip_prefix("crypto:") {
                        // a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20|1:32
                        let mut f = crypto.split_whitespace();
                        let _tag = f.next();
                        if let Some(suite) = f.next()
                            && m.crypto_suites.len() < 8
                        {
                            m.crypto_suites.push(suite.to_string());
                        }
                        if f.next().is_some_and(|k| k.starts_with("inline:")) {
                            m.key_in_clear = true;
                            if m.sdes_key.is_none() {
                                m.sdes_key = crate::dissect::srtp::sdes_key(crypto, frame)
                                    .map(std::sync::Arc::new);
                            }
                        }
                    } else if value.starts_with("fingerprint:") {
                        m.dtls_fingerprint = true;
                    } else if let Some(rtcp) = value.strip_prefix("rtcp:") {
                        // a=rtcp:53020 [IN IP4 126.16.64.4]
                        let mut f = rtcp.split_whitespace();
                        if let Some(port) = f.next().and_then(|p| p.parse().ok()) {
                            m.rtcp_port = Some(port);
                            m.rtcp_address = f.nth(2).and_then(|a| a.parse().ok());
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(m) = current.take() {
            self.push(m);
        }
    }

    fn push(&mut self, mut m: Media) {
        if m.rtcp_port.is_none() && m.port != 0 && m.proto.contains("RTP/") {
            m.rtcp_port = m.port.checked_add(1);
        }
        if self.media.contains(&m) {
            return;
        }
        if self.media.len() < MAX_MEDIA {
            self.media.push(m);
            return;
        }
        self.unlisted_media = self.unlisted_media.saturating_add(1);
        if m.key_in_clear {
            self.unlisted_keys_in_clear = self.unlisted_keys_in_clear.saturating_add(1);
        }
        if self.unlisted.len() < MAX_UNLISTED {
            self.unlisted.push(m);
        }
    }

    /// The media descriptions beyond those listed, since the last call.
    pub fn take_unlisted(&mut self) -> std::vec::Drain<'_, Media> {
        self.unlisted.drain(..)
    }

    /// The media descriptions beyond those listed not taken yet.
    pub fn unlisted(&self) -> &[Media] {
        &self.unlisted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\
        Content-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n\
        c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n\
        m=video 0 RTP/AVP 96\r\n";

    #[test]
    fn sdes_keys_in_clear_are_seen() {
        let mut f = SipFacts::default();
        f.message(7, INVITE.as_bytes());
        assert_eq!(f.methods, vec!["INVITE"]);
        assert_eq!(f.media.len(), 2);
        let a = &f.media[0];
        assert_eq!(a.address, Some("192.0.2.1".parse().unwrap()));
        assert_eq!((a.port, a.proto.as_str()), (4000, "RTP/SAVP"));
        assert_eq!(a.crypto_suites, vec!["AES_CM_128_HMAC_SHA1_80"]);
        assert!(a.key_in_clear && a.secure_profile());
        assert!(!f.media[1].secure_profile());
        f.message(9, b"SIP/2.0 200 OK\r\n\r\n");
        assert_eq!(f.methods, vec!["INVITE", "200"]);
    }

    #[test]
    fn each_media_line_says_where_its_rtcp_goes() {
        let mut f = SipFacts::default();
        f.message(7, INVITE.as_bytes());
        // RFC 3550 §11: the next port up; a rejected stream (port 0) has none
        assert_eq!(
            (f.media[0].rtcp_port, f.media[0].rtcp_address),
            (Some(4001), None)
        );
        assert_eq!(f.media[1].rtcp_port, None);
        // RFC 3605 §2.1's example, and one without an address
        let sdp = "SIP/2.0 200 OK\r\n\r\nv=0\r\nc=IN IP4 192.0.2.9\r\n\
            m=audio 49170 RTP/AVP 0\r\na=rtcp:53020 IN IP4 126.16.64.4\r\n\
            m=video 49180 RTP/AVP 31\r\na=rtcp:49190\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        f.message(8, sdp.as_bytes());
        let (audio, video, data) = (&f.media[2], &f.media[3], &f.media[4]);
        assert_eq!(audio.rtcp_port, Some(53020));
        assert_eq!(audio.rtcp_address, Some("126.16.64.4".parse().unwrap()));
        assert_eq!((video.rtcp_port, video.rtcp_address), (Some(49190), None));
        assert_eq!(data.rtcp_port, None, "not an RTP profile");
    }

    #[test]
    fn a_session_level_fingerprint_applies_to_every_media_line() {
        let mut f = SipFacts::default();
        let sdp = "SIP/2.0 200 OK\r\n\r\nv=0\r\nc=IN IP4 192.0.2.9\r\n\
            a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n\
            m=audio 49170 UDP/TLS/RTP/SAVP 0\r\nm=video 49180 UDP/TLS/RTP/SAVP 31\r\n";
        f.message(8, sdp.as_bytes());
        assert!(f.media.iter().all(|m| m.dtls_fingerprint), "{:?}", f.media);
        let mut g = SipFacts::default();
        g.message(9, INVITE.as_bytes());
        assert!(g.media.iter().all(|m| !m.dtls_fingerprint));
    }

    #[test]
    fn methods_are_capped_and_say_so() {
        let mut f = SipFacts::default();
        let long = "X".repeat(5000);
        f.message(1, format!("{long} sip:a SIP/2.0\r\n\r\n").as_bytes());
        assert_eq!(f.methods, vec!["X".repeat(MAX_METHOD_CHARS)]);
        for code in 100..100 + MAX_METHODS - 1 {
            f.message(2, format!("SIP/2.0 {code} X\r\n\r\n").as_bytes());
        }
        f.message(3, format!("{long} sip:a SIP/2.0\r\n\r\n").as_bytes());
        assert_eq!(f.methods.len(), MAX_METHODS);
        assert!(!f.methods_truncated, "every one seen is listed");
        f.message(4, b"BYE sip:a SIP/2.0\r\n\r\n");
        assert!(f.methods_truncated);
        assert_eq!(f.methods.len(), MAX_METHODS);
    }
}
