//! Account data some clients keep beyond the common session (ferogram first): where users
//! seen only as `min` were met, the login token `auth.logOut` hands back, and a DC list with
//! several endpoints per DC. Each is first-class account data, sealed at rest like the rest.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::account::{Account, waited};
use crate::error::{Error, Result};
use crate::model::AuthKey;
use crate::pending::Pending;
use crate::state::op::Op;
use crate::state::view::View;

/// Where a user seen only as `min` was met: with it a client can address the user as
/// `InputPeerUserFromMessage` (peer and message), keyed by the user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MinPeerContext {
    /// The user's bare id.
    pub user_id: i64,
    /// The bare id of the chat, channel or user whose message mentioned the user.
    pub peer_id: i64,
    /// That message's id.
    pub msg_id: i32,
}

/// Longest login token kept, in bytes (Telegram's are a few dozen).
pub const MAX_LOGIN_TOKEN_LEN: usize = 4096;

/// The `future_auth_token` of `auth.logOut`, passed back at the next login to skip the code.
/// It logs the device in: zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginToken(Vec<u8>);

impl LoginToken {
    /// Wraps token bytes: at most [`MAX_LOGIN_TOKEN_LEN`] of them.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() > MAX_LOGIN_TOKEN_LEN {
            let len = bytes.len();
            drop(LoginToken(bytes));
            return Err(Error::InvalidArgument(format!(
                "a login token is at most {MAX_LOGIN_TOKEN_LEN} bytes, got {len}"
            )));
        }
        Ok(LoginToken(bytes))
    }

    /// The token bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for LoginToken {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for LoginToken {}

impl fmt::Debug for LoginToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginToken(<redacted>)")
    }
}

/// One endpoint of a client that keeps several per DC (ferogram: IPv4 and IPv6, media-only
/// and CDN entries, each with the address text as the client wrote it). The account's
/// [`crate::DataCenter`] rows stay the truth every other front reads: setting or removing a
/// DC drops its endpoints, so a list never disagrees with a key set elsewhere.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcEndpoint {
    /// The DC id.
    pub dc: i32,
    /// The address as the client keeps it (`ip:port`, `[ipv6]:port`).
    pub address: String,
    /// The client's flags for this endpoint.
    pub flags: u32,
    /// The endpoint's auth key.
    pub auth_key: Option<AuthKey>,
    /// Its server salt.
    pub server_salt: i64,
    /// Server time minus local time, in seconds.
    pub time_offset: i32,
}

impl fmt::Debug for DcEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DcEndpoint")
            .field("dc", &self.dc)
            .field("address", &self.address)
            .field("flags", &self.flags)
            .field("auth_key", &self.auth_key)
            .field("server_salt", &"<redacted>")
            .field("time_offset", &self.time_offset)
            .finish()
    }
}

/// Longest endpoint address kept, in bytes.
pub const MAX_ENDPOINT_ADDRESS_LEN: usize = 255;
/// Most endpoints kept per account.
pub const MAX_DC_ENDPOINTS: usize = 255;

/// Refuses more endpoints, or longer addresses, than a client's format holds.
pub(crate) fn check_endpoints(endpoints: &[DcEndpoint]) -> Result<()> {
    if endpoints.len() > MAX_DC_ENDPOINTS {
        return Err(Error::InvalidArgument(format!(
            "at most {MAX_DC_ENDPOINTS} DC endpoints, got {}",
            endpoints.len()
        )));
    }
    if let Some(e) = endpoints
        .iter()
        .find(|e| e.address.len() > MAX_ENDPOINT_ADDRESS_LEN)
    {
        return Err(Error::InvalidArgument(format!(
            "DC {} endpoint address is longer than {MAX_ENDPOINT_ADDRESS_LEN} bytes",
            e.dc
        )));
    }
    Ok(())
}

/// The index row of an account's extras (one per account, absent when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExtrasRecord {
    pub login_token: Option<LoginToken>,
    pub dc_endpoints: Vec<DcEndpoint>,
}

impl Account {
    /// Every min-peer context, in user id order.
    pub fn min_peers(&self) -> Result<Vec<MinPeerContext>> {
        self.view(|v| Ok(v.min_peers(self.name())?.into_values().collect()))
    }

    /// The min-peer context of one user.
    pub fn min_peer(&self, user_id: i64) -> Result<Option<MinPeerContext>> {
        self.view(|v| v.min_peer(self.name(), user_id))
    }

    waited! {
        /// Stores min-peer contexts (replacing those of the same users), durably.
        fn set_min_peers = set_min_peers_async(contexts: &[MinPeerContext]);
    }

    /// [`Account::set_min_peers`] without blocking.
    pub fn set_min_peers_async(&self, contexts: &[MinPeerContext]) -> Pending<u64> {
        self.durable(Op::SetMinPeers {
            account: self.acc(),
            contexts: contexts.to_vec(),
        })
    }

    waited! {
        /// Forgets the min-peer contexts of these users, durably.
        fn remove_min_peers = remove_min_peers_async(user_ids: &[i64]);
    }

    /// [`Account::remove_min_peers`] without blocking.
    pub fn remove_min_peers_async(&self, user_ids: &[i64]) -> Pending<u64> {
        self.durable(Op::RemoveMinPeers {
            account: self.acc(),
            user_ids: user_ids.to_vec(),
        })
    }

    /// The login token, if one is kept.
    pub fn login_token(&self) -> Result<Option<LoginToken>> {
        self.view(|v| Ok(v.extras(self.name())?.login_token))
    }

    waited! {
        /// Sets or clears the login token, durably.
        fn set_login_token = set_login_token_async(token: Option<LoginToken>);
    }

    /// [`Account::set_login_token`] without blocking.
    pub fn set_login_token_async(&self, token: Option<LoginToken>) -> Pending<u64> {
        self.durable(Op::SetLoginToken {
            account: self.acc(),
            token,
        })
    }

    /// The account's DC endpoints, in the order they were set (empty when none are kept).
    pub fn dc_endpoints(&self) -> Result<Vec<DcEndpoint>> {
        self.view(|v| Ok(v.extras(self.name())?.dc_endpoints))
    }

    waited! {
        /// Replaces the DC endpoints, durably. Each endpoint's DC should be stored as a
        /// [`crate::DataCenter`] in the same or an earlier write: a later write of that DC
        /// drops its endpoints.
        fn set_dc_endpoints = set_dc_endpoints_async(endpoints: Vec<DcEndpoint>);
    }

    /// [`Account::set_dc_endpoints`] without blocking.
    pub fn set_dc_endpoints_async(&self, endpoints: Vec<DcEndpoint>) -> Pending<u64> {
        match set_endpoints_op(self.name(), endpoints) {
            Ok(op) => self.durable(op),
            Err(e) => Pending::ready(Err(e)),
        }
    }
}

/// The ops that write extras into an account after its session's ops (writing a DC drops
/// its endpoints): what is empty is left out. For a backup, a compaction or a rotation
/// ([`copy_ops`]) and an import (`formats::Portable`).
pub(crate) fn write_ops(
    account: &str,
    contexts: Vec<MinPeerContext>,
    token: Option<LoginToken>,
    endpoints: Vec<DcEndpoint>,
) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    if !contexts.is_empty() {
        ops.push(Op::SetMinPeers {
            account: account.to_owned(),
            contexts,
        });
    }
    if token.is_some() {
        ops.push(Op::SetLoginToken {
            account: account.to_owned(),
            token,
        });
    }
    if !endpoints.is_empty() {
        ops.push(set_endpoints_op(account, endpoints)?);
    }
    Ok(ops)
}

/// [`write_ops`] of `account`'s extras as `view` sees them.
pub(crate) fn copy_ops(view: &View<'_>, account: &str) -> Result<Vec<Op>> {
    let extras = view.extras(account)?;
    let contexts = view.min_peers(account)?.into_values().collect();
    write_ops(account, contexts, extras.login_token, extras.dc_endpoints)
}

/// The op that replaces `account`'s DC endpoints, refusing more than fit.
pub(crate) fn set_endpoints_op(account: &str, endpoints: Vec<DcEndpoint>) -> Result<Op> {
    check_endpoints(&endpoints)?;
    Ok(Op::SetDcEndpoints {
        account: account.to_owned(),
        endpoints,
    })
}
