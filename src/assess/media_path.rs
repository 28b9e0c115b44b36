//! The media path of each media flow: where its encryption ends. "relayed" is decided by the
//! dissector (a TURN relay carrying a peer's datagrams); this module adds "server" (a vendor's
//! media server terminates the flow) and "peer-to-peer" (both ends behave as participants),
//! each with the evidence, and leaves the path absent when the capture does not tell.
//!
//! Peer-to-peer needs all of: ICE connectivity checks (STUN Binding requests) sent by both ends,
//! so both are full ICE agents; media keyed by DTLS-SRTP on the flow itself, or Zoom's
//! peer-to-peer encapsulation; and no vendor attribution of the far end. A media server that is
//! a full ICE agent and is missing from the vendor catalogue would look the same; the basis says
//! so, and `--vendors` is the remedy.

use crate::verdict::{Flow, Verdict};

/// Whether the flow carries real-time media.
pub fn is_media(f: &Flow) -> bool {
    f.protocols
        .iter()
        .any(|p| matches!(p.as_ref(), "rtp" | "rtcp" | "srtp" | "srtcp" | "zoom"))
        || f.dtls.as_ref().is_some_and(|d| d.srtp_profile.is_some())
}

fn decide(f: &Flow) -> Option<(&'static str, String)> {
    if let Some(v) = &f.vendor {
        return Some((
            "server",
            format!(
                "the far end {} is a {} endpoint ({} evidence: {})",
                f.server.ip,
                v.name,
                v.strength,
                v.evidence.first().map_or("", String::as_str)
            ),
        ));
    }
    let checks = f.stun.as_ref().map_or((0, 0), |s| {
        (
            s.binding_requests_client_to_server,
            s.binding_requests_server_to_client,
        )
    });
    let zoom_p2p = f.zoom.as_ref().is_some_and(|z| z.mode == "peer-to-peer");
    let dtls_srtp = f
        .dtls
        .as_ref()
        .and_then(|d| d.srtp_profile.as_deref())
        .map(str::to_string);
    if checks.0 > 0 && checks.1 > 0 && (dtls_srtp.is_some() || zoom_p2p) {
        let keyed = match dtls_srtp {
            Some(p) => format!("SRTP keyed by DTLS between the two ends ({p})"),
            None => "Zoom's peer-to-peer media encapsulation".to_string(),
        };
        return Some((
            "peer-to-peer",
            format!(
                "ICE connectivity checks from both ends ({} and {} Binding requests), {keyed}, \
                 and no vendor endpoint: both ends act as participants (a full-ICE media server \
                 missing from the vendor catalogue would look the same)",
                checks.0, checks.1
            ),
        ));
    }
    None
}

/// Decide the media path of every media flow not already known to be relayed.
pub fn assess(v: &mut Verdict) {
    for f in &mut v.flows {
        assess_flow(f);
    }
}

/// Decide the media path of one flow (after its vendor attribution), unless it is not a media
/// flow or already known to be relayed.
pub fn assess_flow(f: &mut Flow) {
    if f.media_path.is_some() || !is_media(f) {
        return;
    }
    if let Some((path, basis)) = decide(f) {
        f.media_path = Some(path.into());
        f.media_path_basis = Some(basis);
    }
}
