//! Session strings: Telethon, GramJS and Pyrogram here; the Rust clients' (layer-client,
//! ferogram) in `binary_strings`. Detection tries them all.
//!
//! Layouts (all big-endian; see FORMATS.md):
//! - Telethon: `'1' + urlsafe_b64(>B {4|16}s H 256s)`, padding kept: 263 or 275 bytes.
//! - GramJS: `'1' + b64(u8 dc, i16 len, address text, i16 port, 256s)`, standard alphabet.
//! - Pyrogram: `urlsafe_b64(...)` without padding: 2.x `>BI?256sQ?` (271 bytes), 1.x
//!   `>B?256sI?` (263) and `>B?256sQ?` (267).
//!
//! Lengths collide (Telethon IPv4 = Pyrogram 1.x uid32 = 263 bytes, Telethon IPv6 = GramJS
//! with a 14-character IPv4 = 275 bytes), so detection also checks the prefix, the alphabet,
//! the padding and whether the decoded fields are plausible, and refuses to guess when more
//! than one format still fits. An explicit format only checks the layout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use base64::DecodeError;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE, URL_SAFE_NO_PAD,
};

use zeroize::Zeroizing;

use super::binary_strings::{
    COMPACT_LENGTHS, MAX_NATIVE_TEXT, decode_compact, decode_native, encode_compact, encode_native,
};
use super::portable::{ExportOptions, Format, Portable, bad, export_dc};
use crate::error::{Error, Result};
use crate::model::{AUTH_KEY_LEN, AuthKey, DataCenter, Session, User};

/// Telethon IPv4 / IPv6 decoded lengths.
const TELETHON_V4: usize = 1 + 4 + 2 + AUTH_KEY_LEN;
const TELETHON_V6: usize = 1 + 16 + 2 + AUTH_KEY_LEN;
/// Pyrogram 2.x, 1.x (32-bit user id) and 1.x (64-bit user id) decoded lengths.
const PYRO_V2: usize = 1 + 4 + 1 + AUTH_KEY_LEN + 8 + 1;
const PYRO_OLD32: usize = 1 + 1 + AUTH_KEY_LEN + 4 + 1;
const PYRO_OLD64: usize = 1 + 1 + AUTH_KEY_LEN + 8 + 1;
/// GramJS: dc, address length, port, key, plus the address text.
const GRAMJS_FIXED: usize = 1 + 2 + 2 + AUTH_KEY_LEN;
/// Longest address text accepted (an IPv6 address is at most 45 characters).
const MAX_ADDR_TEXT: usize = 64;
/// Longer input is rejected before decoding.
const MAX_TEXT: usize = 1024;

/// Explicit imports accept either alphabet and missing padding, as Python's and Node's
/// decoders do; detection uses the strict engines instead.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const CANDIDATES: [Format; 6] = [
    Format::TelethonString,
    Format::GramjsString,
    Format::PyrogramString,
    Format::FerogramCompactString,
    Format::FerogramString,
    Format::LayerString,
];

/// How strictly to read: `Detect` adds the encoding and plausibility checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Explicit,
    Detect,
}

/// Identifies a session string by its prefix, alphabet, padding and decoded layout.
pub fn detect_string(text: &str) -> Result<Format> {
    let text = compact(text);
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for f in CANDIDATES {
        match decode_mode(&text, f, Mode::Detect) {
            Ok(_) => found.push(f),
            Err(e) => failed.push((unlikeness(&text, f), f, e)),
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            // The most likely format and why it is not that first, the others after.
            failed.sort_by_key(|(unlike, _, _)| *unlike);
            let mut failed = failed.into_iter();
            let (likely, first) = failed.next().map_or_else(Default::default, |(_, f, e)| {
                let reason = match e {
                    Error::Format { reason, .. } => reason,
                    e => e.to_string(),
                };
                (f.name().to_string(), reason)
            });
            let rest: Vec<String> = failed.map(|(_, _, e)| reason_of(&e)).collect();
            Err(Error::Format {
                format: "unknown".into(),
                reason: format!(
                    "not a known session string ({} characters); most like {likely}, but {first}; \
                     also {}",
                    text.len(),
                    rest.join("; ")
                ),
            })
        }
        many => Err(Error::AmbiguousFormat {
            candidates: many.iter().map(|f| f.name().to_string()).collect(),
        }),
    }
}

/// How unlike a string of `format` the text looks, by its prefix, alphabet and length (0:
/// alike), to lead a failed detection with the format the user most likely has.
fn unlikeness(text: &str, format: Format) -> usize {
    // Characters of `n` bytes in base64, padded or not; the version '1' adds one.
    let padded = |n: usize| n.div_ceil(3) * 4;
    let unpadded = |n: usize| (n * 4).div_ceil(3);
    // Native strings (a whole binary session, peers included) fit any length: a weak
    // guess, behind a fixed-length format whose length is near.
    let native = matches!(format, Format::FerogramString | Format::LayerString);
    let (prefixed, url_safe, lengths): (bool, bool, Vec<usize>) = match format {
        Format::TelethonString => (true, true, vec![TELETHON_V4, TELETHON_V6]),
        // An address of 7 to 45 characters.
        Format::GramjsString => (true, false, vec![GRAMJS_FIXED + 7, GRAMJS_FIXED + 45]),
        Format::FerogramCompactString => (false, true, COMPACT_LENGTHS.to_vec()),
        _ if native => (false, true, vec![]),
        _ => (false, true, vec![PYRO_V2, PYRO_OLD32, PYRO_OLD64]),
    };
    let chars = |n| if prefixed { 1 + padded(n) } else { unpadded(n) };
    let lengths: Vec<usize> = lengths.into_iter().map(chars).collect();
    let len = text.len();
    let mut score = if native {
        50
    } else if format == Format::GramjsString {
        // Any length between the shortest and the longest address fits.
        lengths[0].saturating_sub(len) + len.saturating_sub(lengths[1])
    } else {
        lengths.iter().map(|&n| n.abs_diff(len)).min().unwrap_or(0)
    };
    // Telethon and GramJS strings start with their version '1'; the others with their
    // first byte's top six bits: zero ('A') for a DC id or a version up to 3, and 'C' for
    // ferogram's binary version 8.
    let first = match format {
        _ if prefixed => '1',
        Format::FerogramString => 'C',
        _ => 'A',
    };
    if !text.starts_with(first) {
        score += 1000;
    }
    let standard_only = text.contains(['+', '/']);
    let url_only = text.contains(['-', '_']);
    if (url_safe && standard_only) || (!url_safe && url_only) {
        score += 1000;
    }
    score
}

pub(crate) fn decode(text: &str, format: Format) -> Result<Portable> {
    decode_mode(&compact(text), format, Mode::Explicit)
}

pub(crate) fn encode(p: &Portable, format: Format, options: &ExportOptions) -> Result<String> {
    match format {
        Format::TelethonString => encode_telethon(p, options),
        Format::GramjsString => encode_gramjs(p, options),
        Format::PyrogramString => encode_pyrogram(p, options),
        Format::FerogramCompactString => encode_compact(p, options),
        Format::FerogramString | Format::LayerString => encode_native(p, format),
        f => Err(Error::InvalidArgument(format!(
            "{f} is a file format: export it to a file"
        ))),
    }
}

/// Drops whitespace: pasted strings are often wrapped or end in a newline.
fn compact(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect())
}

fn reason_of(e: &Error) -> String {
    match e {
        Error::Format { format, reason } => format!("not {format}: {reason}"),
        other => other.to_string(),
    }
}

fn decode_mode(text: &str, format: Format, mode: Mode) -> Result<Portable> {
    // The longest session-only string is GramJS with a 64-byte address (~440 characters);
    // native strings carry peers too.
    let native = matches!(format, Format::FerogramString | Format::LayerString);
    if text.len() > if native { MAX_NATIVE_TEXT } else { MAX_TEXT } {
        return Err(bad(
            format,
            format!("{} characters is too long", text.len()),
        ));
    }
    match format {
        Format::TelethonString => decode_telethon(text, mode),
        Format::GramjsString => decode_gramjs(text, mode),
        Format::PyrogramString => decode_pyrogram(text, mode),
        Format::FerogramCompactString => {
            let b = unbase64(format, text, &URL_SAFE_NO_PAD, mode)?;
            decode_compact(&b, mode == Mode::Detect)
        }
        Format::FerogramString | Format::LayerString => {
            decode_native(&unbase64(format, text, &URL_SAFE_NO_PAD, mode)?, format)
        }
        f => Err(Error::InvalidArgument(format!(
            "{f} is a file format, not a session string"
        ))),
    }
}

/// Decodes base64 with the format's own engine when detecting, leniently otherwise.
fn unbase64(
    format: Format,
    body: &str,
    strict: &GeneralPurpose,
    mode: Mode,
) -> Result<Zeroizing<Vec<u8>>> {
    let decoded = match mode {
        Mode::Detect => strict.decode(body),
        Mode::Explicit => LENIENT.decode(body.replace('+', "-").replace('/', "_")),
    };
    decoded
        .map_err(|e| {
            // Never echo the offending character: it is part of the key.
            let why = match e {
                DecodeError::InvalidByte(at, _) => format!("unexpected character at {at}"),
                DecodeError::InvalidLastSymbol(at, _) => format!("bad last character at {at}"),
                DecodeError::InvalidLength(n) => {
                    format!("{n} base64 characters is not a valid length")
                }
                DecodeError::InvalidPadding => "bad padding".to_string(),
            };
            bad(format, format!("invalid base64 ({why}); {}", shape(format)))
        })
        .map(Zeroizing::new)
}

/// What a string of the format looks like, for errors.
fn shape(format: Format) -> String {
    match format {
        Format::TelethonString => format!(
            "Telethon strings are '1' + URL-safe base64 of {TELETHON_V4} bytes (IPv4, 353 \
             characters) or {TELETHON_V6} bytes (IPv6, 369 characters)"
        ),
        Format::GramjsString => format!(
            "GramJS strings are '1' + base64 of {GRAMJS_FIXED} bytes plus the address text \
             (275 bytes, 369 characters, for a 14-character IPv4 address)"
        ),
        Format::FerogramCompactString => format!(
            "ferogram compact strings are URL-safe base64 without padding of {:?} bytes",
            COMPACT_LENGTHS
        ),
        Format::FerogramString | Format::LayerString => format!(
            "{} strings are URL-safe base64 without padding of a binary session",
            format.name()
        ),
        _ => format!(
            "Pyrogram strings are URL-safe base64 without padding of {PYRO_V2} bytes (2.x, \
             362 characters), {PYRO_OLD32} or {PYRO_OLD64} bytes (1.x, 351 or 356 characters)"
        ),
    }
}

fn strip_version(format: Format, text: &str) -> Result<&str> {
    text.strip_prefix('1').ok_or_else(|| {
        bad(
            format,
            format!("no leading version character '1'; {}", shape(format)),
        )
    })
}

fn check_dc(format: Format, dc: u8, mode: Mode) -> Result<i32> {
    // Telegram's DCs are 1 to 5 (test servers reuse 1 to 3); anything else when guessing is
    // more likely another format's bytes.
    if dc == 0 || (mode == Mode::Detect && dc > 5) {
        return Err(bad(format, format!("DC id {dc} is not a Telegram DC")));
    }
    Ok(i32::from(dc))
}

fn check_port(format: Format, port: u16) -> Result<u16> {
    if port == 0 {
        return Err(bad(format, "port 0"));
    }
    Ok(port)
}

fn key(format: Format, bytes: &[u8]) -> Result<AuthKey> {
    AuthKey::from_slice(bytes).map_err(|_| bad(format, "auth key is not 256 bytes"))
}

fn portable(dc: DataCenter) -> Portable {
    Portable {
        session: Session {
            home_dc: Some(dc.id),
            dcs: vec![dc],
            ..Session::default()
        },
        ..Portable::default()
    }
}

pub(super) fn set_addr(dc: &mut DataCenter, ip: IpAddr, port: u16) {
    match ip {
        IpAddr::V4(a) => dc.ipv4 = Some(SocketAddrV4::new(a, port)),
        IpAddr::V6(a) => dc.ipv6 = Some(SocketAddrV6::new(a, port, 0, 0)),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn decode_telethon(text: &str, mode: Mode) -> Result<Portable> {
    let f = Format::TelethonString;
    let body = strip_version(f, text)?;
    let b = unbase64(f, body, &URL_SAFE, mode)?;
    let ip_len = match b.len() {
        TELETHON_V4 => 4,
        TELETHON_V6 => 16,
        n => {
            return Err(bad(f, format!("decodes to {n} bytes; {}", shape(f))));
        }
    };
    let mut dc = DataCenter::new(check_dc(f, b[0], mode)?);
    let ip = match ip_len {
        4 => IpAddr::V4(Ipv4Addr::from(field::<4>(f, &b, 1)?)),
        _ => IpAddr::V6(Ipv6Addr::from(field::<16>(f, &b, 1)?)),
    };
    if mode == Mode::Detect && !plausible_raw_ip(ip) {
        return Err(bad(f, "the address bytes are not a public IP address"));
    }
    let port = check_port(f, be16(&b, 1 + ip_len).ok_or_else(|| bad(f, "truncated"))?)?;
    set_addr(&mut dc, ip, port);
    dc.auth_key = Some(key(f, &b[1 + ip_len + 2..])?);
    Ok(portable(dc))
}

/// Raw address bytes from a real Telethon string: not unspecified, and IPv6 in 2000::/3
/// (what Telegram uses), which a GramJS length-and-text header never is.
fn plausible_raw_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !a.is_unspecified() && !a.is_broadcast(),
        IpAddr::V6(a) => a.octets()[0] & 0xe0 == 0x20,
    }
}

fn decode_gramjs(text: &str, mode: Mode) -> Result<Portable> {
    let f = Format::GramjsString;
    let body = strip_version(f, text)?;
    let b = unbase64(f, body, &STANDARD, mode)?;
    let short = || bad(f, format!("decodes to {} bytes; {}", b.len(), shape(f)));
    let dc_byte = *b.first().ok_or_else(short)?;
    let len = usize::from(be16(&b, 1).ok_or_else(short)?);
    if len == 0 || len > MAX_ADDR_TEXT || b.len() != GRAMJS_FIXED + len {
        return Err(bad(
            f,
            format!(
                "decodes to {} bytes with an address length of {len} (1 to {MAX_ADDR_TEXT}); \
                 {}",
                b.len(),
                shape(f)
            ),
        ));
    }
    let mut dc = DataCenter::new(check_dc(f, dc_byte, mode)?);
    let ip: IpAddr = std::str::from_utf8(&b[3..3 + len])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(f, format!("the {len}-byte address is not an IP address")))?;
    let port = check_port(f, be16(&b, 3 + len).ok_or_else(|| bad(f, "truncated"))?)?;
    set_addr(&mut dc, ip, port);
    dc.auth_key = Some(key(f, &b[5 + len..])?);
    Ok(portable(dc))
}

fn decode_pyrogram(text: &str, mode: Mode) -> Result<Portable> {
    let f = Format::PyrogramString;
    let b = unbase64(f, text, &URL_SAFE_NO_PAD, mode)?;
    // (has api_id, width of the user id) per layout; the key starts after dc, api_id, test.
    let (has_api_id, uid_len) = match b.len() {
        PYRO_V2 => (true, 8),
        PYRO_OLD32 => (false, 4),
        PYRO_OLD64 => (false, 8),
        n => {
            return Err(bad(f, format!("decodes to {n} bytes; {}", shape(f))));
        }
    };
    let dc_id = check_dc(f, b[0], mode)?;
    let mut at = 1;
    let api_id = if has_api_id {
        let v = u32::from_be_bytes(field(f, &b, at)?);
        at += 4;
        let v = i32::try_from(v).map_err(|_| bad(f, "api_id does not fit in 32 bits"))?;
        if v == 0 && mode == Mode::Detect {
            return Err(bad(f, "api_id 0"));
        }
        Some(v)
    } else {
        None
    };
    let test_mode = flag(&b, at, "test_mode")?;
    at += 1;
    let auth_key = key(f, b.get(at..at + AUTH_KEY_LEN).unwrap_or_default())?;
    at += AUTH_KEY_LEN;
    let user_id = if uid_len == 4 {
        i64::from(u32::from_be_bytes(field(f, &b, at)?))
    } else {
        i64::try_from(u64::from_be_bytes(field(f, &b, at)?))
            .map_err(|_| bad(f, "user id does not fit in 63 bits"))?
    };
    at += uid_len;
    let bot = flag(&b, at, "is_bot")?;
    if user_id == 0 {
        return Err(bad(f, "user id 0"));
    }
    let mut dc = DataCenter::new(dc_id);
    dc.auth_key = Some(auth_key);
    let mut p = portable(dc);
    p.session.user = Some(User {
        id: user_id,
        dc: dc_id,
        bot,
        username: None,
    });
    p.session.app.api_id = api_id;
    p.session.app.test_mode = test_mode;
    if !has_api_id {
        p.notes
            .push("old (1.x) Pyrogram string: it holds no api_id".to_string());
    }
    Ok(p)
}

fn field<const N: usize>(f: Format, b: &[u8], at: usize) -> Result<[u8; N]> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad(f, "truncated"))
}

/// Python packs `?` as 0 or 1; any other byte means the string is not this layout.
fn flag(b: &[u8], at: usize, name: &str) -> Result<bool> {
    match b.get(at) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(v) => Err(bad(
            Format::PyrogramString,
            format!("{name} byte is {v}, not 0 or 1"),
        )),
        None => Err(bad(Format::PyrogramString, "truncated")),
    }
}

/// A DC id that fits the one-byte field of every string format.
fn dc_byte(format: Format, id: i32) -> Result<u8> {
    u8::try_from(id)
        .ok()
        .filter(|&b| b != 0)
        .ok_or_else(|| bad(format, format!("DC id {id} does not fit in one byte")))
}

/// The DC's address as the string formats hold it: IP and port.
fn export_addr(format: Format, dc: &DataCenter) -> Result<(IpAddr, u16)> {
    let addr = super::portable::export_address(format, dc)?;
    Ok((addr.ip(), addr.port()))
}

fn encode_telethon(p: &Portable, options: &ExportOptions) -> Result<String> {
    let f = Format::TelethonString;
    let dc = export_dc(p, f, options)?;
    let (ip, port) = export_addr(f, dc)?;
    let mut b = Zeroizing::new(Vec::with_capacity(TELETHON_V6));
    b.push(dc_byte(f, dc.id)?);
    match ip {
        IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
    }
    b.extend_from_slice(&port.to_be_bytes());
    b.extend_from_slice(key_of(dc)?);
    Ok(format!("1{}", URL_SAFE.encode(&b)))
}

fn encode_gramjs(p: &Portable, options: &ExportOptions) -> Result<String> {
    let f = Format::GramjsString;
    let dc = export_dc(p, f, options)?;
    let (ip, port) = export_addr(f, dc)?;
    // GramJS writes the address as text without brackets, like `ip.toString()`.
    let text = ip.to_string();
    let mut b = Zeroizing::new(Vec::with_capacity(GRAMJS_FIXED + text.len()));
    b.push(dc_byte(f, dc.id)?);
    let len = u16::try_from(text.len()).map_err(|_| bad(f, "address too long"))?;
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(&port.to_be_bytes());
    b.extend_from_slice(key_of(dc)?);
    Ok(format!("1{}", STANDARD.encode(&b)))
}

fn encode_pyrogram(p: &Portable, options: &ExportOptions) -> Result<String> {
    let f = Format::PyrogramString;
    let dc = export_dc(p, f, options)?;
    let s = &p.session;
    // The same rules and flags as the Pyrogram file export: options override the session.
    let api_id = options
        .api_id
        .or(s.app.api_id)
        .ok_or_else(|| super::portable::missing(f, "api_id", "api_id"))?;
    let api_id = u32::try_from(api_id)
        .ok()
        .filter(|&v| v != 0)
        .ok_or_else(|| Error::InvalidArgument(format!("api_id {api_id} is not valid")))?;
    let (user_id, is_bot) = super::portable::user_and_bot(p, f, options)?;
    let user_id = u64::try_from(user_id)
        .ok()
        .filter(|&v| v != 0)
        .ok_or_else(|| Error::InvalidArgument(format!("user id {user_id} is not a user id")))?;
    let mut b = Zeroizing::new(Vec::with_capacity(PYRO_V2));
    b.push(dc_byte(f, dc.id)?);
    b.extend_from_slice(&api_id.to_be_bytes());
    b.push(u8::from(s.app.test_mode));
    b.extend_from_slice(key_of(dc)?);
    b.extend_from_slice(&user_id.to_be_bytes());
    b.push(u8::from(is_bot));
    Ok(URL_SAFE_NO_PAD.encode(&b))
}

fn key_of(dc: &DataCenter) -> Result<&[u8]> {
    // export_dc already refused a DC without a key; this keeps the encoders total.
    dc.auth_key
        .as_ref()
        .map(|k| &k.as_bytes()[..])
        .ok_or_else(|| Error::InvalidArgument(format!("DC {} has no auth key", dc.id)))
}
