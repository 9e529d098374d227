//! Plain data types of a Telegram client session.
//!
//! These are what callers hand in and get back. Every type here derives `Serialize` and
//! `Deserialize` for the log and index codecs; postcard has no field tags, so any change to a
//! field list needs a new record version (see `codec`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddrV4, SocketAddrV6};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// Length of an MTProto auth key in bytes.
pub const AUTH_KEY_LEN: usize = 256;

/// A 256-byte MTProto authorization key. Zeroized on drop; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey(Box<[u8; AUTH_KEY_LEN]>);

impl AuthKey {
    /// Wraps 256 key bytes.
    pub fn new(bytes: [u8; AUTH_KEY_LEN]) -> Self {
        AuthKey(Box::new(bytes))
    }

    /// Copies a key from a slice; anything but 256 bytes is `InvalidArgument`.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; AUTH_KEY_LEN] = bytes.try_into().map_err(|_| {
            Error::InvalidArgument(format!(
                "auth key must be {AUTH_KEY_LEN} bytes, got {}",
                bytes.len()
            ))
        })?;
        Ok(AuthKey::new(arr))
    }

    /// The key bytes. Handle with care: this is the account's password.
    pub fn as_bytes(&self) -> &[u8; AUTH_KEY_LEN] {
        &self.0
    }
}

impl Drop for AuthKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for AuthKey {}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

impl fmt::Display for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted auth key>")
    }
}

impl Serialize for AuthKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0[..])
    }
}

impl<'de> Deserialize<'de> for AuthKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = AuthKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{AUTH_KEY_LEN} key bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<AuthKey, E> {
                let arr: [u8; AUTH_KEY_LEN] = v
                    .try_into()
                    .map_err(|_| E::invalid_length(v.len(), &self))?;
                Ok(AuthKey::new(arr))
            }
        }
        d.deserialize_bytes(KeyVisitor)
    }
}

/// One Telegram data center as seen by this account: addresses, key, salt, clock offset.
/// `Debug` redacts the auth key and the server salt.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCenter {
    /// DC id (Telegram binds an auth key to a DC id).
    pub id: i32,
    /// IPv4 `ip:port`.
    pub ipv4: Option<SocketAddrV4>,
    /// IPv6 `[ip]:port`.
    pub ipv6: Option<SocketAddrV6>,
    /// The permanent auth key for this DC, if one was negotiated.
    pub auth_key: Option<AuthKey>,
    /// Current server salt.
    pub server_salt: i64,
    /// Server time minus local time, in seconds.
    pub time_offset: i32,
    /// Caller-defined flags (media-only, CDN, test, ...).
    pub flags: u32,
}

/// What `Debug` shows of a secret: whether there is one.
fn redacted(present: bool) -> &'static str {
    if present { "<redacted>" } else { "<none>" }
}

impl fmt::Debug for DataCenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataCenter")
            .field("id", &self.id)
            .field("ipv4", &self.ipv4)
            .field("ipv6", &self.ipv6)
            .field("auth_key", &self.auth_key)
            .field(
                "server_salt",
                &format_args!("{}", redacted(self.server_salt != 0)),
            )
            .field("time_offset", &self.time_offset)
            .field("flags", &self.flags)
            .finish()
    }
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field(
                "access_hash",
                &format_args!("{}", redacted(self.access_hash.is_some())),
            )
            .field("min", &self.min)
            .field("usernames", &self.usernames)
            .field("phone", &self.phone)
            .field("name", &self.name)
            .field("is_self", &self.is_self)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl DataCenter {
    /// A DC with only its id set.
    pub fn new(id: i32) -> Self {
        DataCenter {
            id,
            ipv4: None,
            ipv6: None,
            auth_key: None,
            server_salt: 0,
            time_offset: 0,
            flags: 0,
        }
    }
}

/// The logged-in user of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: i64,
    /// The DC the user's account lives on.
    pub dc: i32,
    /// Whether this is a bot account.
    pub bot: bool,
    /// The user's username, if any.
    pub username: Option<String>,
}

/// The common update state of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateState {
    /// Common message box pts.
    pub pts: i32,
    /// Secret-chat / bot qts.
    pub qts: i32,
    /// Date of the last update.
    pub date: i32,
    /// Sequence number of the last update group.
    pub seq: i32,
}

/// One change to the update state, in the groups the MTProto update rules use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStateChange {
    /// Replace all four values.
    All(UpdateState),
    /// pts, date and seq move together.
    Primary {
        /// New pts.
        pts: i32,
        /// New date.
        date: i32,
        /// New seq.
        seq: i32,
    },
    /// qts moves alone.
    Secondary {
        /// New qts.
        qts: i32,
    },
    /// One channel's pts.
    Channel {
        /// Channel id (bare, as Telegram sends it in updates).
        id: i64,
        /// New pts.
        pts: i32,
    },
}

impl UpdateState {
    /// Applies a non-channel change; a channel change leaves the common state alone.
    pub fn apply(&mut self, change: &UpdateStateChange) {
        match *change {
            UpdateStateChange::All(s) => *self = s,
            UpdateStateChange::Primary { pts, date, seq } => {
                self.pts = pts;
                self.date = date;
                self.seq = seq;
            }
            UpdateStateChange::Secondary { qts } => self.qts = qts,
            UpdateStateChange::Channel { .. } => {}
        }
    }
}

/// Largest caller-defined app value, in bytes.
pub const MAX_CUSTOM_VALUE_LEN: usize = 4096;
/// Most caller-defined app values per account.
pub const MAX_CUSTOM_FIELDS: usize = 64;

/// Per-account application fields other libraries' formats need (Pyrogram: api_id, test mode).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppFields {
    /// The api_id the session was created with.
    pub api_id: Option<i32>,
    /// Whether the session talks to Telegram's test servers.
    pub test_mode: bool,
    /// Takeout session id, if one is open.
    pub takeout_id: Option<i64>,
    /// When the session was created (unix seconds).
    pub created_at: Option<i64>,
    /// Small caller-defined values (key at most 64 bytes, value at most 4 KiB, 64 entries).
    pub custom: BTreeMap<String, Vec<u8>>,
}

impl AppFields {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.custom.len() > MAX_CUSTOM_FIELDS {
            return Err(Error::InvalidArgument(format!(
                "at most {MAX_CUSTOM_FIELDS} custom app fields"
            )));
        }
        for (k, v) in &self.custom {
            if k.is_empty() || k.len() > 64 {
                return Err(Error::InvalidArgument(
                    "custom app field names must be 1 to 64 bytes".into(),
                ));
            }
            if v.len() > MAX_CUSTOM_VALUE_LEN {
                return Err(Error::InvalidArgument(format!(
                    "custom app field {k:?} is larger than {MAX_CUSTOM_VALUE_LEN} bytes"
                )));
            }
        }
        Ok(())
    }
}

/// Everything `save` replaces and `load` returns for one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The home DC id.
    pub home_dc: Option<i32>,
    /// Every known DC, one per DC id.
    pub dcs: Vec<DataCenter>,
    /// The logged-in user.
    pub user: Option<User>,
    /// The common update state.
    pub update_state: Option<UpdateState>,
    /// Per-channel pts, keyed by bare channel id.
    pub channels: BTreeMap<i64, i32>,
    /// Application fields.
    pub app: AppFields,
}

/// The kind of a cached peer. Marked ids are unique across kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeerKind {
    /// A user account that is not a bot.
    User,
    /// A bot account.
    Bot,
    /// A user of which it is not known whether it is a bot.
    UserUnknown,
    /// A basic (small, legacy) group.
    BasicGroup,
    /// A broadcast channel.
    Channel,
    /// A supergroup.
    Megagroup,
    /// A gigagroup (broadcast group).
    Gigagroup,
    /// A community (forum of channels).
    Community,
    /// A channel whose subtype is not known.
    ChannelUnknown,
}

impl PeerKind {
    /// Whether this kind is a user (bot or not).
    pub fn is_user(self) -> bool {
        matches!(self, PeerKind::User | PeerKind::Bot | PeerKind::UserUnknown)
    }
}

/// A cached peer: what a client needs to address a user, chat or channel again. `Debug`
/// redacts the access hash (with the account's key it addresses the peer).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Marked (Bot-API style) id: user = +id, chat = -id, channel = -(10^12 + id).
    pub id: i64,
    /// The kind of peer.
    pub kind: PeerKind,
    /// Access hash (`None` for basic groups, or when not known).
    pub access_hash: Option<i64>,
    /// Whether the hash came from a `min` constructor (not usable everywhere).
    pub min: bool,
    /// Usernames (a peer may have several), stored ASCII-lowercased.
    pub usernames: Vec<String>,
    /// Phone number, digits only.
    pub phone: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Whether this is the logged-in user; `None` when unknown.
    pub is_self: Option<bool>,
    /// Unix seconds when the store last wrote this peer (set by the store; a copy or an
    /// import keeps the source's, see `Account::restore_peers`).
    pub updated_at: i64,
}

impl Peer {
    /// A peer with the given id, kind and hash, and nothing else.
    pub fn new(id: i64, kind: PeerKind, access_hash: Option<i64>) -> Self {
        Peer {
            id,
            kind,
            access_hash,
            min: false,
            usernames: Vec::new(),
            phone: None,
            name: None,
            is_self: None,
            updated_at: 0,
        }
    }
}

/// Longest account name, in bytes.
pub const MAX_ACCOUNT_NAME_LEN: usize = 64;

/// The account used when the caller names none.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Checks an account name: 1 to 64 bytes of UTF-8 without control characters.
pub fn validate_account(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_ACCOUNT_NAME_LEN {
        return Err(Error::InvalidArgument(format!(
            "account names are 1 to {MAX_ACCOUNT_NAME_LEN} bytes, got {}",
            name.len()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "account names may not contain control characters".into(),
        ));
    }
    Ok(())
}

/// Now, in Unix seconds (0 if the clock is before 1970): the time a peer write stamps.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The rule for a new account's name: [`validate_account`], and no invisible formatting
/// (bidi controls, zero-width characters) and no whitespace around it, so that a name
/// cannot pass for another in `accounts list`. An account named before this rule still
/// opens under its name.
pub fn validate_new_account(name: &str) -> Result<()> {
    validate_account(name)?;
    if name.chars().any(is_invisible_format) {
        return Err(Error::InvalidArgument(format!(
            "account name {name:?}: no bidi controls or zero-width characters"
        )));
    }
    if name.trim() != name {
        return Err(Error::InvalidArgument(format!(
            "account name {name:?}: no whitespace around a name"
        )));
    }
    Ok(())
}

/// Unicode format characters (category Cf) that reorder or hide text: the bidi controls,
/// zero-width characters, the soft hyphen and the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// Lowercases a username and strips one optional leading `@`; refuses anything but
/// Telegram's alphabet (ASCII letters, digits, `_`), and more than 64 of them.
pub fn normalize_username(name: &str) -> Result<String> {
    let bare = name.strip_prefix('@').unwrap_or(name);
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match normalize_stored_username(bare) {
        Ok(n) if bare.bytes().all(alphabet) => Ok(n),
        _ => Err(Error::InvalidArgument(format!(
            "username {name:?}: usernames are 1 to 64 letters, digits and underscores, with \
             one optional leading @"
        ))),
    }
}

/// The rule usernames were stored under before [`normalize_username`] took Telegram's
/// alphabet only: 1 to 64 bytes after one `@`. For copies of stored data (a copy, a move,
/// a saved session's own user), which must not fail on what a store already holds.
pub(crate) fn normalize_stored_username(name: &str) -> Result<String> {
    let bare = name.strip_prefix('@').unwrap_or(name);
    if bare.is_empty() || bare.len() > 64 {
        return Err(Error::InvalidArgument("usernames are 1 to 64 bytes".into()));
    }
    Ok(bare.to_ascii_lowercase())
}

/// Keeps only the digits of a phone number; rejects one without digits.
pub fn normalize_phone(phone: &str) -> Result<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 32 {
        return Err(Error::InvalidArgument(
            "phone numbers need 1 to 32 digits".into(),
        ));
    }
    Ok(digits)
}
