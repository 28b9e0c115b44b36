//! Names of TLS code points, in the spelling the verdict uses (VERDICT.md): versions as
//! "TLS 1.2", cipher suites by IANA name (tls-parser's table, generated from the IANA registry),
//! unknown values as hex so they are never dropped.

use tls_parser::TlsCipherSuite;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest").
pub const HELLO_RETRY_REQUEST_RANDOM: &[u8] = &[
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// GREASE values (RFC 8701) are `0x?A?A` with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0F0F == 0x0A0A && (v >> 8) == (v & 0xFF)
}

/// "SSL 3.0", "TLS 1.2", "DTLS 1.2", "TLS 1.3 (draft 23)", or "0x1234".
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0xFEFF => "DTLS 1.0".into(),
        0xFEFD => "DTLS 1.2".into(),
        0xFEFC => "DTLS 1.3".into(),
        0x0100 => "DTLS 1.0 (OpenSSL pre-0.9.8f)".into(),
        v if v >> 8 == 0x7F => format!("TLS 1.3 (draft {})", v & 0xFF),
        // Facebook's experimental TLS 1.3 drafts (fizz)
        v if v >> 8 == 0xFB => format!("TLS 1.3 (Facebook draft {})", v & 0xFF),
        other => format!("0x{other:04X}"),
    }
}

/// IANA cipher-suite name, SSLv2 cipher-kind name, or hex.
pub fn cipher_name(id: u32) -> String {
    cipher_name_static(id).into_owned()
}

/// The cipher suite name without an allocation when it is a known one (a verdict lists the
/// offered suites of every ClientHello: tens of names per flow, a million flows).
pub fn cipher_name_static(id: u32) -> std::borrow::Cow<'static, str> {
    use std::borrow::Cow;
    if id > 0xFFFF {
        return match id {
            0x010080 => Cow::Borrowed("SSL2_RC4_128_WITH_MD5"),
            0x020080 => Cow::Borrowed("SSL2_RC4_128_EXPORT40_WITH_MD5"),
            0x030080 => Cow::Borrowed("SSL2_RC2_128_CBC_WITH_MD5"),
            0x040080 => Cow::Borrowed("SSL2_RC2_128_CBC_EXPORT40_WITH_MD5"),
            0x050080 => Cow::Borrowed("SSL2_IDEA_128_CBC_WITH_MD5"),
            0x060040 => Cow::Borrowed("SSL2_DES_64_CBC_WITH_MD5"),
            0x0700C0 => Cow::Borrowed("SSL2_DES_192_EDE3_CBC_WITH_MD5"),
            other => Cow::Owned(format!("0x{other:06X}")),
        };
    }
    match TlsCipherSuite::from_id(id as u16) {
        Some(cs) => Cow::Borrowed(cs.name),
        None => match id {
            0x00FF => Cow::Borrowed("TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
            0x5600 => Cow::Borrowed("TLS_FALLBACK_SCSV"),
            other => Cow::Owned(format!("0x{other:04X}")),
        },
    }
}

/// DTLS-SRTP protection profile name (IANA "DTLS-SRTP Protection Profiles"), or hex.
pub fn srtp_profile_name(p: u16) -> String {
    match p {
        0x0001 => "SRTP_AES128_CM_HMAC_SHA1_80".into(),
        0x0002 => "SRTP_AES128_CM_HMAC_SHA1_32".into(),
        0x0005 => "SRTP_NULL_HMAC_SHA1_80".into(),
        0x0006 => "SRTP_NULL_HMAC_SHA1_32".into(),
        0x0007 => "SRTP_AEAD_AES_128_GCM".into(),
        0x0008 => "SRTP_AEAD_AES_256_GCM".into(),
        0x0009 => "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM".into(),
        0x000A => "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM".into(),
        0x000B => "SRTP_ARIA_128_CTR_HMAC_SHA1_80".into(),
        0x000C => "SRTP_ARIA_128_CTR_HMAC_SHA1_32".into(),
        0x000D => "SRTP_ARIA_256_CTR_HMAC_SHA1_80".into(),
        0x000E => "SRTP_ARIA_256_CTR_HMAC_SHA1_32".into(),
        0x000F => "SRTP_AEAD_ARIA_128_GCM".into(),
        0x0010 => "SRTP_AEAD_ARIA_256_GCM".into(),
        other => format!("0x{other:04X}"),
    }
}

/// Alert level name (RFC 8446 §6).
pub fn alert_level_name(level: u8) -> String {
    match level {
        1 => "warning".into(),
        2 => "fatal".into(),
        other => other.to_string(),
    }
}

/// Alert description name as in the IANA TLS Alerts registry.
pub fn alert_description_name(d: u8) -> String {
    let name = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        other => return other.to_string(),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x7F17), "TLS 1.3 (draft 23)");
        assert_eq!(version_name(0x1234), "0x1234");
        assert_eq!(cipher_name(0xC02F), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0xFFFE), "0xFFFE");
        assert!(is_grease(0x1A1A) && is_grease(0xFAFA) && !is_grease(0x1A2A));
    }
}
