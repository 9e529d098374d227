//! The Rust clients' session strings (URL-safe base64 without padding):
//!
//! - `layer-string`: layer-client's `StringSessionBackend` / `export_session_string`, the
//!   base64 of its binary session (`layer` module).
//! - `ferogram-string`: ferogram's native string (`export_native_session_string`,
//!   `StringSessionBackend`), the base64 of its binary session (`ferogram` module).
//! - `ferogram-compact-string`: ferogram's `string_session` (`export_session_string`), big-endian:
//!
//! ```text
//! V2: u8 2, u8 dc, u8 ip type (4|6), [4|16] ip, u16 port, i64 user id, [256] key
//! V1: u8 1, u8 dc, u8 ip type (4|6), [4|16] ip, u16 port, i64 user id, i64 salt,
//!     u32 seq_no, u32 layer, [256] key
//! ```
//!
//! ferogram writes V2 and reads both; so does this module.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::portable::{ExportOptions, Format, Portable, bad, export_dc, user_and_bot};
use crate::error::Result;
use crate::model::{AUTH_KEY_LEN, AuthKey, DataCenter, Session, User};

/// Longest native string accepted (its peers included): 64 MiB of text.
pub(super) const MAX_NATIVE_TEXT: usize = 64 << 20;
/// Compact V2 and V1 lengths after the IP bytes.
const V2_TAIL: usize = 2 + 8 + AUTH_KEY_LEN;
const V1_TAIL: usize = 2 + 8 + 8 + 4 + 4 + AUTH_KEY_LEN;
/// The four compact lengths (V2 IPv4, V2 IPv6, V1 IPv4, V1 IPv6).
pub(super) const COMPACT_LENGTHS: [usize; 4] = [
    3 + 4 + V2_TAIL,
    3 + 16 + V2_TAIL,
    3 + 4 + V1_TAIL,
    3 + 16 + V1_TAIL,
];

/// The binary session inside a native string, decoded by its file format's decoder.
pub(super) fn decode_native(bytes: &[u8], format: Format) -> Result<Portable> {
    let inner = match format {
        Format::LayerString => super::layer::decode(bytes),
        _ => super::ferogram::decode(bytes),
    };
    // Name the string format, not the file format, in the error.
    inner.map_err(|e| match e {
        crate::error::Error::Format { reason, .. } => bad(format, reason),
        e => e,
    })
}

pub(super) fn encode_native(p: &Portable, format: Format) -> Result<String> {
    let bytes = Zeroizing::new(match format {
        Format::LayerString => super::layer::encode(p)?,
        _ => super::ferogram::encode(p)?,
    });
    Ok(URL_SAFE_NO_PAD.encode(&*bytes))
}

/// A compact string's bytes; `detect` also requires a plausible DC and address.
pub(super) fn decode_compact(b: &[u8], detect: bool) -> Result<Portable> {
    let f = Format::FerogramCompactString;
    let shape = || {
        bad(
            f,
            format!(
                "decodes to {} bytes; ferogram compact strings are {:?} bytes (V2 IPv4, V2 \
                 IPv6, V1 IPv4, V1 IPv6)",
                b.len(),
                COMPACT_LENGTHS
            ),
        )
    };
    let (&version, rest) = b.split_first().ok_or_else(shape)?;
    let [dc, ip_type, rest @ ..] = rest else {
        return Err(shape());
    };
    let ip_len = match ip_type {
        4 => 4,
        6 => 16,
        t => return Err(bad(f, format!("address type {t}, not 4 or 6"))),
    };
    let tail = match version {
        1 => V1_TAIL,
        2 => V2_TAIL,
        v => return Err(bad(f, format!("version {v}, not 1 or 2"))),
    };
    if rest.len() != ip_len + tail {
        return Err(shape());
    }
    let (ip, rest) = rest.split_at(ip_len);
    let ip = match <[u8; 4]>::try_from(ip) {
        Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
        Err(_) => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(ip).map_err(|_| shape())?,
        )),
    };
    let be = |at: usize, n: usize| -> u64 {
        rest[at..at + n]
            .iter()
            .fold(0, |v, &byte| v << 8 | u64::from(byte))
    };
    let port = be(0, 2) as u16;
    let user_id = be(2, 8) as i64;
    let dc_id = i32::from(*dc);
    if dc_id == 0 || (detect && dc_id > 5) {
        return Err(bad(f, format!("DC id {dc_id} is not a Telegram DC")));
    }
    if port == 0 || (detect && (ip.is_unspecified() || user_id <= 0)) {
        return Err(bad(f, "the address or the user id is not plausible"));
    }
    let mut dc = DataCenter::new(dc_id);
    super::strings::set_addr(&mut dc, ip, port);
    let key_at = if version == 1 {
        dc.server_salt = be(10, 8) as i64;
        10 + 8 + 4 + 4
    } else {
        10
    };
    dc.auth_key = Some(
        AuthKey::from_slice(&rest[key_at..]).map_err(|_| bad(f, "auth key is not 256 bytes"))?,
    );
    let mut p = Portable {
        session: Session {
            home_dc: Some(dc_id),
            dcs: vec![dc],
            ..Session::default()
        },
        ..Portable::default()
    };
    if user_id > 0 {
        p.session.user = Some(User {
            id: user_id,
            dc: dc_id,
            bot: false,
            username: None,
        });
        p.notes.push(
            "ferogram compact strings do not say whether the account is a bot: taken as a user"
                .into(),
        );
    }
    Ok(p)
}

/// A V2 compact string, as ferogram's `export_session_string` writes it.
pub(super) fn encode_compact(p: &Portable, options: &ExportOptions) -> Result<String> {
    let f = Format::FerogramCompactString;
    let dc = export_dc(p, f, options)?;
    let addr = super::portable::export_address(f, dc)?;
    let (user_id, _) = user_and_bot(p, f, options)?;
    let dc_id = u8::try_from(dc.id).map_err(|_| bad(f, format!("DC id {} does not fit", dc.id)))?;
    let key = dc
        .auth_key
        .as_ref()
        .ok_or_else(|| bad(f, format!("DC {} has no auth key", dc.id)))?;
    let mut b = Zeroizing::new(Vec::with_capacity(COMPACT_LENGTHS[1]));
    b.extend_from_slice(&[2, dc_id]);
    match addr.ip() {
        IpAddr::V4(a) => {
            b.push(4);
            b.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            b.push(6);
            b.extend_from_slice(&a.octets());
        }
    }
    b.extend_from_slice(&addr.port().to_be_bytes());
    b.extend_from_slice(&user_id.to_be_bytes());
    b.extend_from_slice(key.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(&*b))
}
