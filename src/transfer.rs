//! Copying (or moving) one account between any two backends through [`SessionStore`]: the
//! embedded store to PostgreSQL and back, or a file store to a memory store. The copy is
//! checked against the source before a move deletes anything.

use crate::error::{Error, Result};
use crate::model::Peer;
use crate::options::Durability;
use crate::session_store::SessionStore;

/// Peers per batch while copying.
const PAGE: usize = 1000;

/// What a copy wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferReport {
    /// DCs copied.
    pub dcs: usize,
    /// Channels with a pts copied.
    pub channels: usize,
    /// Peers copied.
    pub peers: u64,
}

/// Copies `account` from `from` to `to` (session and every cached peer, durably) and checks
/// the copy: the loaded sessions, the peer counts and the self user must be equal.
/// The destination account must not exist yet: nothing is overwritten.
///
/// Peers keep their `updated_at` (pruning by age acts on the source's times).
pub async fn copy_account(
    from: &dyn SessionStore,
    to: &dyn SessionStore,
    account: &str,
) -> Result<TransferReport> {
    let Some(session) = from.load(account).await? else {
        return Err(Error::InvalidArgument(format!(
            "account {account:?} does not exist in the source"
        )));
    };
    if to.load(account).await?.is_some() {
        return Err(Error::InvalidArgument(format!(
            "account {account:?} already exists in the destination; delete it first"
        )));
    }
    to.save(account, &session).await?;
    let mut after = None;
    loop {
        let page: Vec<Peer> = from.peers(account, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        to.restore_peers(account, &page, Some(Durability::Durable))
            .await?;
    }
    // The self user is the last peer written as self: write the source's last.
    let me = from.self_user(account).await?;
    if let Some(me) = &me {
        to.restore_peers(account, std::slice::from_ref(me), Some(Durability::Durable))
            .await?;
    }
    // The extras after the session: saving its DCs dropped any endpoints.
    let contexts = from.min_peers(account).await?;
    if !contexts.is_empty() {
        to.set_min_peers(account, &contexts).await?;
    }
    let token = from.login_token(account).await?;
    if token.is_some() {
        to.set_login_token(account, token.clone()).await?;
    }
    let endpoints = from.dc_endpoints(account).await?;
    if !endpoints.is_empty() {
        to.set_dc_endpoints(account, endpoints.clone()).await?;
    }
    let peers = from.peer_count(account).await?;
    let copied = to.peer_count(account).await?;
    let mismatch = |what: &str| {
        Err(Error::InvalidArgument(format!(
            "the copy of {account:?} differs from the source in its {what}; the source is untouched"
        )))
    };
    if to.load(account).await?.as_ref() != Some(&session) {
        return mismatch("session");
    }
    if copied != peers {
        return mismatch("peer count");
    }
    if to.min_peers(account).await? != contexts
        || to.login_token(account).await? != token
        || to.dc_endpoints(account).await? != endpoints
    {
        return mismatch("min peers, login token or DC endpoints");
    }
    if to.self_user(account).await?.map(|p| p.id) != me.map(|p| p.id) {
        return mismatch("self user");
    }
    Ok(TransferReport {
        dcs: session.dcs.len(),
        channels: session.channels.len(),
        peers,
    })
}

/// [`copy_account`], then deletes the account from `from`.
pub async fn move_account(
    from: &dyn SessionStore,
    to: &dyn SessionStore,
    account: &str,
) -> Result<TransferReport> {
    let report = copy_account(from, to, account).await?;
    from.delete_account(account).await?;
    Ok(report)
}
