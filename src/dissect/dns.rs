//! DNS over UDP (RFC 1035, via simple-dns): queries and the addresses answers map names to, so
//! that endpoints can be named by what the client looked up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::{Packet, PacketFlag, rdata::RData};

/// Answers listed per flow (in the flow's record).
const MAX_ANSWERS: usize = 64;

/// Answers beyond the listed ones waiting to be handed to endpoint naming. A table that
/// releases its flows takes them after every packet; one that keeps its flows (live capture)
/// never does: it reads the first `MAX_UNLISTED` at the end, the rest are lost there.
const MAX_UNLISTED: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct DnsFacts {
    pub queries: u32,
    pub responses: u32,
    /// (name asked for, address answered), CNAME chains resolved to the first question: the
    /// first `MAX_ANSWERS` distinct ones.
    pub answers: Vec<(String, IpAddr)>,
    /// Further answers (a resolver's port reused for many lookups), not listed but still
    /// naming their addresses: see `take_unlisted`.
    unlisted: Vec<(String, IpAddr)>,
    /// More distinct answers were seen than `answers` lists.
    pub answers_truncated: bool,
}

/// Parse a DNS message; `None` if it is not one.
pub fn parse(b: &[u8]) -> Option<Packet<'_>> {
    if b.len() < 12 {
        return None;
    }
    let p = Packet::parse(b).ok()?;
    // A real message asks at least one question (responses repeat it).
    if p.questions.is_empty() {
        return None;
    }
    Some(p)
}

impl DnsFacts {
    pub fn message(&mut self, p: &Packet<'_>) {
        if !p.has_flags(PacketFlag::RESPONSE) {
            self.queries += 1;
            return;
        }
        self.responses += 1;
        let asked = p.questions.first().map(|q| q.qname.to_string());
        for rr in &p.answers {
            let ip = match &rr.rdata {
                RData::A(a) => IpAddr::V4(Ipv4Addr::from(a.address)),
                RData::AAAA(a) => IpAddr::V6(Ipv6Addr::from(a.address)),
                _ => continue,
            };
            let name = asked.clone().unwrap_or_else(|| rr.name.to_string());
            if self.answers.iter().any(|(n, i)| *n == name && *i == ip) {
                continue;
            }
            if self.answers.len() < MAX_ANSWERS {
                self.answers.push((name, ip));
            } else {
                self.answers_truncated = true;
                if self.unlisted.len() < MAX_UNLISTED {
                    self.unlisted.push((name, ip));
                }
            }
        }
    }

    /// The answers beyond those listed, since the last call (possibly repeating each other).
    pub fn take_unlisted(&mut self) -> std::vec::Drain<'_, (String, IpAddr)> {
        self.unlisted.drain(..)
    }

    /// The answers beyond those listed not taken yet.
    pub fn unlisted(&self) -> &[(String, IpAddr)] {
        &self.unlisted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for www3.zoom.us from nDPI's zoom.pcap (frame bytes of UDP port 62988 → 53).
    const QUERY: &str = "a17d010000010000000000000477777733047a6f6f6d0275730000010001";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn real_query_parses() {
        let q = unhex(QUERY);
        let p = parse(&q).expect("a DNS query");
        assert_eq!(p.questions[0].qname.to_string(), "www3.zoom.us");
        let mut f = DnsFacts::default();
        f.message(&p);
        assert_eq!(f.queries, 1);
    }
}
