//! The verdict: callproof's one output model (`callproof.verdict/1`, see VERDICT.md).
//!
//! Owns: the serde types of every field, the conversion of facts into their text form (names of
//! versions, ciphers, link types; RFC 3339 times), and the atomic writer. Nothing else in the
//! program writes JSON. Field names here are a public contract: add, never rename.

mod flows;
pub mod traffic;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use flows::{Flows, Spill, SpillFile};
pub use write::{
    AtomicWriter, OutputTarget, make_readable, output_target, to_writer_records, write_atomically,
    write_atomically_with, write_verdict,
};

/// A name from a fixed vocabulary (a protocol, a rule id, a state): borrowed from the program
/// when it is one of ours, so a verdict with a million flows does not hold a million copies.
/// Owned when read back from a file.
pub type Name = std::borrow::Cow<'static, str>;

pub const SCHEMA: &str = "callproof.verdict/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub schema: String,
    pub tool: Tool,
    pub generated_at: String,
    pub inputs: Vec<Input>,
    /// The data the verdict's statements rest on: databases with their dates, the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
    /// The key log given (`analyze --keylog`), as read: the decrypted TLS 1.3 handshakes
    /// (`flows[].tls.keylog`) rest on it. Secrets a capture carries are counted in its input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<KeyLogFile>,
    pub endpoints: Vec<Endpoint>,
    pub flows: Flows,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The five questions a data-protection officer asks, each answered from the findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Files found in the given directories that are not captures (by their first bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// The vendors whose flows the capture holds.
    #[serde(default)]
    pub vendors: Vec<VendorSeen>,
    /// Each claim of each vendor seen, checked against the capture.
    #[serde(default)]
    pub claims: Vec<Claim>,
}

impl Flow {
    /// The inner end-to-end layers its opened SRTP streams carry
    /// (`rtp.streams[].inner_e2ee_layers`), each once, sorted.
    pub fn inner_e2ee_layers(&self) -> Vec<&str> {
        let mut layers: Vec<&str> = self
            .rtp
            .iter()
            .flat_map(|r| &r.streams)
            .flat_map(|s| &s.inner_e2ee_layers)
            .map(String::as_str)
            .collect();
        layers.sort_unstable();
        layers.dedup();
        layers
    }
}

impl Verdict {
    /// The flow with this id: flows are listed in id order and callproof numbers them from 0,
    /// so this is an index, with a search for verdicts numbered otherwise.
    pub fn flow(&self, id: u32) -> Option<&Flow> {
        flow_by_id(&self.flows, id)
    }
}

/// [`Verdict::flow`] on a list of flows (for callers that hold other parts of the verdict).
pub fn flow_by_id(flows: &[Flow], id: u32) -> Option<&Flow> {
    flows.get(id as usize).filter(|f| f.id == id).or_else(|| {
        let i = flows.binary_search_by_key(&id, |f| f.id).ok()?;
        Some(&flows[i])
    })
}

/// A vendor claim checked against the capture (VERDICT.md `claims[]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    /// Vendor id.
    pub vendor: String,
    /// "transport-encryption", "media-encryption", "e2ee" or "server-location".
    pub claim: String,
    pub statement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Where the claim is published, and when it was checked.
    pub source: String,
    pub date: String,
    /// What the capture shows about it.
    pub observed: String,
    /// "consistent", "contradicted" or "unverifiable".
    pub status: String,
    pub reason: String,
    #[serde(default)]
    pub flows: Vec<u32>,
}

/// Which vendor a flow or endpoint belongs to, and the evidence that decided it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct VendorRef {
    /// Catalogue id, e.g. "zoom", "microsoft-teams".
    pub id: String,
    pub name: String,
    /// "strong" (a name, published range or vendor payload), "medium" (AS number, STUN
    /// dialect) or "weak" (a distinctive port range only).
    pub strength: String,
    pub evidence: Vec<String>,
    /// True when more distinct reasons were found than `evidence` lists: an endpoint keeps the
    /// earliest 16 per vendor, while the strength counts every flow (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub evidence_truncated: bool,
}

/// A vendor seen in the capture (`vendors[]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VendorSeen {
    pub id: String,
    pub name: String,
    pub operator: String,
    /// ISO code of the operator's home country; empty when it depends on the host.
    pub jurisdiction: String,
    pub flows: Vec<u32>,
    pub endpoints: Vec<String>,
    /// Where the catalogue's endpoints for this vendor come from.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// `summary` (VERDICT.md): each answer is decided in `assess::summary` and nowhere else.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub transport_encryption: Status,
    pub media_encryption: Status,
    pub e2ee: Status,
    pub third_country_transfer: Status,
    pub evidence_quality: Status,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// "pass", "warn", "fail" or "unknown".
    pub status: String,
    pub reason: String,
}

/// A rule that fired, with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// Stable rule id (e.g. "third-country-transfer"); `callproof rules` lists them.
    pub rule: Name,
    /// "info", "low", "medium" or "high".
    pub severity: Name,
    pub title: Name,
    pub detail: String,
    pub flows: Vec<u32>,
    /// Server addresses (shared with `endpoints[].ip`).
    pub endpoints: Vec<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Data {
    pub databases: Vec<DatabaseRef>,
    pub policy: PolicyRef,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseRef {
    pub name: String,
    /// "country", "asn" or "as-country".
    #[serde(rename = "type")]
    pub kind: String,
    pub database_type: String,
    pub build_date: String,
    pub age_days: i64,
    pub source: String,
    /// Set when the database is older than 90 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A key log file as read (`verdict.keylog`), or, when no file was given, the key logs the
/// Decryption Secrets Blocks of a capture carried (`source`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyLogFile {
    /// The key log file; for secrets from a capture, the first input whose blocks held them.
    pub path: String,
    /// `decryption-secrets-blocks` when the secrets came from the capture itself (pcapng
    /// Decryption Secrets Blocks, `inputs[].key_log_blocks`) and no key log file was given;
    /// `sha256` and `bytes` are then those of the blocks' key-log text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub sha256: String,
    pub bytes: u64,
    /// TLS 1.3 and DTLS 1.3 sessions with a server handshake traffic secret.
    pub sessions: u64,
    /// Sessions with a master secret (`CLIENT_RANDOM` lines, TLS 1.2 and DTLS 1.2): DTLS-SRTP
    /// media keys are exported from them (`flows[].rtp.srtp_keys`).
    #[serde(default)]
    pub master_secrets: u64,
    /// Sessions with an exporter secret (`EXPORTER_SECRET` lines, TLS 1.3 and DTLS 1.3):
    /// DTLS 1.3 SRTP media keys are exported from them.
    #[serde(default)]
    pub exporter_secrets: u64,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET` lines whose fields did not parse.
    #[serde(default)]
    pub malformed_lines: u64,
    /// The first of those, 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_malformed_line: Option<u64>,
    /// TLS 1.3 handshakes (over TCP, in QUIC, and DTLS 1.3) by what the key log did for them
    /// (`flows[].tls.keylog`): whether the key log belongs to the capture at all.
    #[serde(default)]
    pub handshakes: BTreeMap<String, u64>,
    /// DTLS-SRTP flows by what the key log did for their media (`flows[].rtp.srtp_keys.state`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub srtp: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyRef {
    pub name: String,
    pub version: String,
    pub date: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn this() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One analysed capture file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Input {
    pub path: String,
    /// Set when the file could not be read at all; the other facts are then absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// "pcap", "pcap-ns" or "pcapng".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// "gzip" when the capture was compressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default)]
    pub link_types: Vec<LinkType>,
    #[serde(default)]
    pub frames: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    /// What was truncated, corrupt or skipped, with the frame number or byte offset.
    #[serde(default)]
    pub damage: Vec<Damage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode: Option<DecodeStats>,
    /// Decryption Secrets Blocks found (pcapng), kept for key-log use.
    #[serde(default)]
    pub decryption_secrets_blocks: usize,
    /// The TLS key logs those blocks carried, as read (absent when none did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_log_blocks: Option<KeyLogBlocks>,
    /// How the input was captured, when `callproof live` captured it (`path` and `sha256` then
    /// name the saved pcapng).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSource>,
}

/// A live capture: where, how, and what libpcap says it lost.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveSource {
    pub interface: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    pub snaplen: u32,
    pub started: String,
    pub stopped: String,
    /// "signal" (Ctrl-C, SIGTERM), "duration" or "error".
    pub stop_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// libpcap's counters: received (`ps_recv`), dropped by the OS (`ps_drop`) and by the
    /// interface (`ps_ifdrop`).
    pub packets_received: u64,
    pub packets_dropped: u64,
    pub interface_dropped: u64,
    /// The key log followed (`--keylog`), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<String>,
    /// Sessions whose server handshake secret the saved pcapng carries (with `keylog`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog_sessions_saved: Option<u64>,
}

/// The TLS key-log text of a capture's Decryption Secrets Blocks, in file order, as read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KeyLogBlocks {
    /// SHA-256 of the blocks' key-log text, concatenated in file order, lowercase hex.
    pub sha256: String,
    pub bytes: u64,
    /// Sessions with a server handshake traffic secret, a master secret, an exporter secret.
    pub sessions: u64,
    pub master_secrets: u64,
    pub exporter_secrets: u64,
    /// Lines with a label read here whose fields did not parse.
    pub malformed_lines: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkType {
    /// LINKTYPE_ name without the prefix, e.g. "ETHERNET", "LINUX_SLL2".
    pub name: String,
    pub value: u32,
    /// Whether callproof decodes this link type.
    pub decoded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Damage {
    /// Stable id, e.g. "truncated-record", "corrupt-block", "unsupported-link-type".
    pub kind: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    pub count: u64,
}

/// How the frames of an input decoded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DecodeStats {
    pub ip_packets: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    pub other_ip_packets: u64,
    pub non_ip_frames: u64,
    pub unsupported_link_frames: u64,
    pub malformed_frames: u64,
    pub snaplen_truncated_frames: u64,
    pub ip_fragments: u64,
    pub ip_datagrams_reassembled: u64,
    pub ip_datagrams_abandoned: u64,
    pub flows: u64,
    /// Flows closed early because the live-flow limit was reached.
    pub flows_evicted: u64,
    /// Packets of flows beyond the flow limit (counted, not listed).
    pub untracked_packets: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// A server endpoint and the flows that reach it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub ip: Arc<str>,
    pub flows: Vec<u32>,
    /// Names this endpoint was reached by (SNI, DNS answers in the capture), at most
    /// `vendor::MAX_NAMES_PER_ADDRESS`.
    pub names: Vec<String>,
    /// True when the capture gave this endpoint more names than `names` lists (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub names_truncated: bool,
    pub ports: Vec<u16>,
    /// ISO country code from the country database (absent when it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Arc<str>>,
    /// The database (and its build date) that said so (one text shared by all endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_source: Option<Arc<str>>,
    /// "eea", "adequate", "adequate-partial", "third-country", "private" or "indeterminate".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Name>,
    /// The scope of a partial adequacy decision (e.g. US: DPF-certified organisations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_scope: Option<Arc<str>>,
    /// Why the region is private or indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_reason: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_org: Option<Arc<str>>,
    /// Where the AS is registered: an operator signal, not a location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_country: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Arc<OperatorRef>>,
    /// Smallest round trip measured to this endpoint (TCP handshake or STUN transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Heuristic: whether that RTT allows the server to be in its database country, seen from
    /// the capture point's country; absent when either is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_plausible: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Shared by the endpoints with the same attribution and evidence.
    pub vendor: Option<Arc<VendorRef>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct OperatorRef {
    pub name: String,
    pub parent: String,
    /// ISO code of the parent's home country (the law it answers to).
    pub jurisdiction: String,
    pub source: Name,
}

/// A named vendor STUN attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StunAttribute {
    /// The attribute type, hex ("0xC057").
    #[serde(rename = "type")]
    pub attribute_type: String,
    pub name: String,
    /// Who defined it ("Microsoft", "Google", "Cisco"); absent when the registrant is a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Address {
    pub ip: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
/// Boxed sections: a flow carries one or two of them, and a verdict may list a million flows.
pub struct Flow {
    pub id: u32,
    /// Index into `inputs` of the capture the flow was seen in.
    pub input: usize,
    /// "tcp" or "udp".
    pub transport: Name,
    pub client: Address,
    pub server: Address,
    /// How client and server were told apart: "tcp-handshake", "tls-handshake",
    /// "service-port", "first-packet".
    pub role_basis: Name,
    pub packets_client_to_server: u64,
    pub packets_server_to_client: u64,
    /// Transport payload bytes (TCP/UDP payload, as captured).
    pub bytes_client_to_server: u64,
    pub bytes_server_to_client: u64,
    pub first_frame: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    pub protocols: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<Box<VendorRef>>,
    /// Where this flow's media ends: "relayed" (a TURN relay carries a peer's datagrams; the
    /// relay does not decrypt), "server" (a vendor's media server terminates it) or
    /// "peer-to-peer" (the two ends are participants); absent when the capture does not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_path: Option<Name>,
    /// The evidence `media_path` rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_path_basis: Option<String>,
    /// UDP without a DTLS handshake of its own, whose ICE connectivity checks carry the
    /// username fragments of a session whose DTLS-SRTP handshake another flow carried: that
    /// flow's ends (its handshake keys this flow's SRTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_session_dtls: Option<IceSessionDtls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Box<Tcp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<Tls>>,
    /// DTLS handshake facts, same shape as `tls` plus the DTLS-SRTP profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtls: Option<Box<Tls>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic: Option<Box<Quic>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stun: Option<Box<Stun>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp: Option<Box<Rtp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Box<Dns>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<Box<Sip>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoom: Option<Box<Zoom>>,
    /// The first HTTP/1.x request of a TCP connection in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<Http>>,
    pub encryption: Encryption,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Http {
    pub frame: u64,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Sec-WebSocket-Protocol of a WebSocket upgrade (e.g. "sip", RFC 7118).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket_protocol: Option<String>,
}

/// Whether the flow's content is encrypted, and the evidence (VERDICT.md: `encryption`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encryption {
    /// "encrypted", "plaintext" or "unknown".
    pub state: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<String>,
    pub basis: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Quic {
    /// "1", "2", "draft-29", "Q050", "T051", or hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Server name from the decrypted Initial (absent when no Initial could be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(default)]
    pub alpn: Vec<String>,
    pub long_header_packets: u64,
    pub short_header_packets: u64,
    /// Google QUIC (its own header, not RFC 9000).
    #[serde(default)]
    pub gquic: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stun {
    pub messages: u32,
    /// Method names ("Binding", "Allocate", …, or hex); the first 16.
    pub methods: Vec<String>,
    /// True when the flow carried more distinct methods than `methods` lists (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub methods_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    #[serde(default)]
    pub username_seen: bool,
    /// "ip:port" as the STUN server saw the client (XOR-MAPPED-ADDRESS / MAPPED-ADDRESS).
    pub mapped_addresses: Vec<String>,
    /// TURN relay addresses allocated (XOR-RELAYED-ADDRESS).
    pub relayed_addresses: Vec<String>,
    /// Peers reached through a TURN relay (XOR-PEER-ADDRESS).
    pub peer_addresses: Vec<String>,
    /// True when one of the three address lists (8 each) left out addresses the flow carried
    /// (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub addresses_truncated: bool,
    /// Attribute types outside the IETF ones (vendor extensions), hex; the first 16.
    #[serde(default)]
    pub vendor_attributes: Vec<String>,
    /// True when the flow carried more distinct vendor attributes than listed (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub vendor_attributes_truncated: bool,
    /// Those of `vendor_attributes` whose name is known, with who defined them (Microsoft's
    /// MS-TURN/MS-ICE2 extensions, Google's libwebrtc ones, …): which implementation family
    /// the ICE agents belong to, not which service they connect to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vendor_attribute_names: Vec<StunAttribute>,
    /// Smallest request-to-response time, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// TURN ChannelData messages (relayed media) and Microsoft TURN (0xFF10) messages.
    #[serde(default)]
    pub channel_data: u32,
    #[serde(default)]
    pub ms_turn: u32,
    /// Datagrams of a peer carried through TURN on this flow (ChannelData, Send/Data).
    #[serde(default)]
    pub relayed_datagrams: u32,
    /// STUN Binding requests (ICE connectivity checks) sent by each end.
    #[serde(default)]
    pub binding_requests_client_to_server: u32,
    #[serde(default)]
    pub binding_requests_server_to_client: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rtp {
    pub streams: Vec<RtpStream>,
    /// RTP packets of SSRCs beyond the 32 streams followed per flow: counted, neither listed
    /// nor judged (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untracked_packets: u64,
    pub rtcp_packets: u64,
    /// RTCP datagrams whose compound packets tile them exactly (RTCP in clear).
    #[serde(default)]
    pub rtcp_in_clear: u64,
    /// SRTCP trailer found (index growing by one per packet): its E flag (true = encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtcp_encrypted: Option<bool>,
    /// The established SRTCP trailer's layout: `hmac-sha1-80` (the index word followed by an
    /// 80-bit HMAC-SHA1 tag: the AES-CM profiles), `hmac-sha1-32`, or `aead` (the index word
    /// last, after the 16-byte AEAD tag: the AEAD_AES_GCM profiles, RFC 7714 §9.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtcp_tag: Option<String>,
    /// RTP packets whose header extensions are in clear (SRTP leaves them readable).
    #[serde(default)]
    pub header_extensions_in_clear: u64,
    /// RTP packets whose header extensions are encrypted (cryptex, RFC 9335).
    #[serde(default)]
    pub cryptex_packets: u64,
    /// The header extension elements seen in clear (RFC 8285), by ID, with what the SDP's
    /// `a=extmap` says each carries (e.g. RFC 6464 audio levels) when the capture has the SDP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clear_header_extensions: Vec<RtpHeaderExtension>,
    /// The SRTP keys of this flow's media, and what they opened: exported from its DTLS-SRTP
    /// handshake with a key log, or read from SDP `a=crypto` lines in clear signalling (absent
    /// without either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp_keys: Option<SrtpKeys>,
}

/// SRTP keys of a flow's media — exported (RFC 5764 §4.2) from its DTLS 1.2 handshake with the
/// master secret a key log holds for it, or carried in clear by SDP `a=crypto` lines (RFC
/// 4568) — and the RTP packets checked with them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SrtpKeys {
    /// Where the keys came from: "dtls-key-log" or "sdes-in-clear".
    pub source: Name,
    /// The SRTP profile the DTLS ServerHello selected (or the SDES suite's).
    pub profile: String,
    /// DTLS 1.3 without the handshake secret (the server's choice travels encrypted): `true`
    /// when `profile` was found by trial — the first RTP packets authenticated under its keys,
    /// exported with the key log's exporter secret, among the profiles the client offered —,
    /// `false` when no offered profile's keys opened the first 64 (`profile` is then the
    /// client's first offer, not a fact of the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_found_by_trial: Option<bool>,
    /// "opened" (RTP or SRTCP packets authenticated and decrypted), "rejected" (packets checked, none
    /// authenticated: the key log's secret does not open this media), "secret-after-media"
    /// (the secret joined the key log — a Decryption Secrets Block — after the media had gone
    /// by), "no-media" (no RTP or SRTCP after the handshake), "no-secret" (the key log has no master secret for this
    /// session), "unsupported-version" (DTLS 1.0 or 1.3), "unsupported-profile" (NULL or
    /// unknown profile).
    pub state: Name,
    /// RTP packets whose authentication tag verified under the keys; their payloads were
    /// decrypted (and not kept).
    pub packets_authenticated: u64,
    /// RTP packets whose tag did not verify.
    pub packets_failed_authentication: u64,
    /// RTP packets seen while there were no keys (no secret, or an unsupported session), or
    /// sent by an end whose keys were not known yet.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub packets_unopened: u64,
    /// RTP packets of streams beyond the 32 checked per flow.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub packets_unchecked: u64,
    /// SRTCP packets on this flow whose authentication tag verified under the keys (and, when
    /// encrypted, were decrypted), and those whose tag did not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rtcp_packets_authenticated: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rtcp_packets_failed_authentication: u64,
    /// SRTCP packets seen while there were no keys, or sent by an end whose keys were not
    /// known yet (an SDES answer's key arrives after the offerer's first packets). RTCP in
    /// clear is not counted here (`rtcp_in_clear`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rtcp_packets_unopened: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RtpHeaderExtension {
    pub id: u8,
    /// The extension's URI from the signalled `a=extmap` line; absent without the SDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The frame of the SDP that named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signalled_frame: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RtpStream {
    /// e.g. "0xd2bd4e3e".
    pub ssrc: String,
    pub payload_type: u8,
    /// "client_to_server" or "server_to_client".
    pub direction: String,
    pub packets: u64,
    pub first_frame: u64,
    /// Sequence numbers skipped (lost or not captured).
    pub missing: u64,
    /// Whether the payload is encrypted; null when no evidence decides it.
    pub encrypted: Option<bool>,
    /// The evidence, strongest first (keying handshake, signalling, payload measurements).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Shannon entropy of the sampled payload bytes, bits per byte (8 for ciphertext).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_entropy: Option<f64>,
    #[serde(default)]
    pub payload_bytes_sampled: u32,
    /// With SRTP keys (`rtp.srtp_keys`): this stream's packets whose authentication tag
    /// verified, and those whose tag did not (absent when the stream was not checked: its
    /// sender's key unknown, or beyond the 32 streams checked per flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp_authenticated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp_failed_authentication: Option<u64>,
    /// With SRTP opened: authenticated packets whose decrypted payload carries an inner
    /// end-to-end layer beneath SRTP: the frame trailer of Jitsi Meet's E2EE (an IV naming the
    /// packet's SSRC and RTP timestamp, its length and a key index), or the SFrame header
    /// (RFC 9605) beginning a frame, in a run of frames whose counter rises under one key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_e2ee_packets: Option<u64>,
    /// The inner layers found: `jitsi-meet-e2ee`, `sframe` (empty when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inner_e2ee_layers: Vec<String>,
    /// With SRTP opened: the stream whose retransmissions (RFC 4588) this one carries, when
    /// at least 4, and at least half, of its opened payloads repeat that stream's packets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmission_of: Option<Retransmission>,
}

/// The flow whose DTLS-SRTP handshake keys another candidate pair of its ICE session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IceSessionDtls {
    pub client: Address,
    pub server: Address,
}

/// The stream a retransmission stream (RFC 4588) repeats, and how its payloads showed it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retransmission {
    /// The original stream's SSRC, e.g. "0x48dae936".
    pub ssrc: String,
    /// Payloads that repeat a packet the capture holds: its sequence number first, then its
    /// payload, at its RTP timestamp.
    pub copies: u64,
    /// Payloads whose original the capture lacks: a sequence number missing from the original
    /// stream (or just above its highest so far), at an RTP timestamp between those of its
    /// captured neighbours.
    pub gap_fills: u64,
}

/// Zoom's own media encapsulation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Zoom {
    /// "server" (SFU encapsulation, UDP 8801–8810) or "peer-to-peer".
    pub mode: String,
    /// "audio", "video", "screen-share", "rtcp", or "type-N".
    pub media_types: Vec<String>,
    pub media_packets: u64,
    pub control_packets: u64,
    pub packets_to_server: u64,
    pub packets_from_server: u64,
    /// The RTP streams inside the encapsulation (headers in clear, payloads measured).
    pub streams: Vec<RtpStream>,
    /// Whether the media payloads are encrypted, on the evidence below; null if undecided.
    pub encrypted: Option<bool>,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sip {
    pub messages: u32,
    /// Request methods and response codes, in order of first appearance; the first 16, each
    /// up to 32 characters.
    pub methods: Vec<String>,
    /// True when the flow carried more distinct methods and codes than listed (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub methods_truncated: bool,
    /// The first 32 media descriptions (SDP `m=` lines) of the flow.
    pub media: Vec<SipMedia>,
    /// Media descriptions beyond those: counted, not listed; they still tell the media flows
    /// they describe how they are keyed (absent when none).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub unlisted_media: u32,
    /// Of those, the ones carrying SDES keys in clear (absent when none).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub unlisted_media_keys_in_clear: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SipMedia {
    pub frame: u64,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub port: u16,
    /// "RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", …
    pub proto: String,
    #[serde(default)]
    pub crypto_suites: Vec<String>,
    /// SDES keys (`a=crypto … inline:`) visible in clear signalling.
    pub crypto_in_clear: bool,
    #[serde(default)]
    pub dtls_fingerprint: bool,
    /// Where the media's RTCP goes when not on `port`: `a=rtcp` (RFC 3605), else the next port
    /// up for an RTP profile (RFC 3550 §11); flows there are keyed by this media line too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtcp_port: Option<u16>,
    /// The address `a=rtcp` named, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtcp_address: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Dns {
    pub queries: u32,
    pub responses: u32,
    /// The first 64 distinct answers; all of them name their addresses (`endpoints[].names`).
    pub answers: Vec<DnsAnswer>,
    /// True when the flow carried more distinct answers than `answers` lists (absent when not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub answers_truncated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DnsAnswer {
    pub name: String,
    pub ip: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tcp {
    pub syn_seen: bool,
    /// SYN to SYN-ACK, milliseconds: the round trip from the capture point to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The connection began before the capture did.
    pub midstream: bool,
    /// "fin", "rst" or "open" at the end of the capture.
    pub state: String,
    pub gap_bytes_client_to_server: u64,
    pub gap_bytes_server_to_client: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Tls {
    /// Negotiated version; absent when no ServerHello was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Negotiated cipher suite (IANA name); absent when no ServerHello was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ALPN protocols the client offered.
    #[serde(default)]
    pub alpn: Vec<String>,
    /// ALPN protocol the server selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn_selected: Option<String>,
    /// Versions the client offered (supported_versions, else its hello version), GREASE removed.
    #[serde(default)]
    pub offered_versions: Vec<String>,
    /// Cipher suites the client offered, in its order, GREASE removed (known names are not
    /// copied per flow).
    #[serde(default)]
    pub offered_ciphers: Vec<std::borrow::Cow<'static, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_hello_frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_hello_frame: Option<u64>,
    #[serde(default)]
    pub hello_retry: bool,
    /// Alerts sent in clear; the first 16.
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// Alerts sent in clear beyond those listed (absent when none).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub unlisted_alerts: u32,
    #[serde(default)]
    pub encrypted_alerts: u32,
    /// The server's certificate chain, leaf first, as sent; the first 16.
    #[serde(default)]
    pub certificates: Vec<std::sync::Arc<Certificate>>,
    /// Certificates of the chain not listed: beyond the first 16, or not parseable as X.509
    /// (absent when none).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub unlisted_certificates: u32,
    /// A hole in the captured TCP stream interrupted the handshake.
    #[serde(default)]
    pub gap_in_handshake: bool,
    /// Plaintext bytes exchanged before TLS started (STARTTLS, RDP negotiation, HTTP CONNECT);
    /// 0 when the connection began with TLS.
    #[serde(default)]
    pub plaintext_prefix_bytes: u64,
    /// TLS 1.3 with a key log (`--keylog`, or the capture's Decryption Secrets Blocks): what it did for the server's encrypted
    /// handshake — `decrypted` (its certificates and selected ALPN are then listed),
    /// `no-secret` (the key log has no secret for this ClientHello's random),
    /// `undecryptable` (the secret did not open the server's records), `unsupported-cipher`
    /// (a CCM suite), `unsupported-version` (a TLS 1.3 draft before 20), `certificate-unread` (decrypted, but the
    /// certificate came compressed with zstd or did not decompress), `interrupted` (a hole in the capture cut the encrypted handshake).
    /// Absent without a key log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<String>,
    /// DTLS only: the SRTP protection profile the server selected (`use_srtp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp_profile: Option<String>,
    /// DTLS only: the SRTP protection profiles the client offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub srtp_profiles_offered: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// "client" or "server".
    pub from: String,
    pub level: String,
    pub description: String,
    pub frame: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    pub san: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub key: String,
    pub signature: String,
    pub self_signed: bool,
    pub serial: String,
    pub sha256: String,
}

/// Nanoseconds since the epoch as RFC 3339 UTC with nanoseconds, e.g. "2026-11-22T13:09:34.329565811Z".
pub fn rfc3339_ns(ns: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) {
        Ok(t) => format_time(t),
        Err(_) => format!("@{ns}ns"),
    }
}

/// Seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339_s(s: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(s) {
        Ok(t) => format_time(t),
        Err(_) => format!("@{s}s"),
    }
}

fn format_time(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub fn now_rfc3339() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_as_rfc3339() {
        assert_eq!(
            rfc3339_ns(1_795_352_974_329_565_811),
            "2026-11-22T13:09:34.329565811Z"
        );
        assert_eq!(rfc3339_s(0), "1970-01-01T00:00:00Z");
    }

    /// A verdict holds one endpoint record per server address until it is written, and a
    /// crafted capture can reach a million of them: the record keeps its repeated texts shared
    /// (Arc) and its rare parts (operator, vendor) behind a pointer. It was 496 bytes with owned
    /// Strings.
    #[test]
    fn an_endpoint_record_stays_compact() {
        assert!(
            std::mem::size_of::<Endpoint>() <= 288,
            "{} bytes",
            std::mem::size_of::<Endpoint>()
        );
    }
}
