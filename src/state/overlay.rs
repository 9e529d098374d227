//! The in-memory overlay: every change since the last checkpoint, per account, in key order.
//!
//! Reads consult the overlay (newest layer first) before the redb index; a checkpoint folds a
//! frozen overlay into redb in one durable transaction. `None` values are deletions, and
//! `wiped` says that nothing older than this layer exists for the account any more.

use std::collections::BTreeMap;

use crate::extras::{ExtrasRecord, MinPeerContext};
use crate::model::{AppFields, DataCenter, Peer, UpdateState, User};

/// Changes to one account.
#[derive(Debug, Default, Clone)]
pub(crate) struct AccountDelta {
    /// Older layers and the index hold nothing for this account (it was deleted).
    pub wiped: bool,
    /// Created (`true`) or deleted (`false`).
    pub exists: Option<bool>,
    pub home_dc: Option<Option<i32>>,
    pub user: Option<Option<User>>,
    pub self_peer: Option<Option<i64>>,
    /// Peers added minus peers removed in this layer (relative to 0 when `wiped`).
    pub peer_count_delta: i64,
    pub dcs: BTreeMap<i32, Option<DataCenter>>,
    pub update_state: Option<Option<UpdateState>>,
    pub channels: BTreeMap<i64, Option<i32>>,
    pub app: Option<AppFields>,
    pub peers: BTreeMap<i64, Option<Peer>>,
    pub usernames: BTreeMap<String, Option<i64>>,
    pub phones: BTreeMap<String, Option<i64>>,
    /// Min-peer contexts by user id.
    pub min_peers: BTreeMap<i64, Option<MinPeerContext>>,
    /// The whole extras row, when this layer changed it.
    pub extras: Option<ExtrasRecord>,
}

impl AccountDelta {
    /// A delta that deletes the account and everything older.
    pub fn wiped() -> Self {
        AccountDelta {
            wiped: true,
            exists: Some(false),
            ..AccountDelta::default()
        }
    }
}

/// One layer of changes: the active one being written, or a frozen one being checkpointed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overlay {
    pub accounts: BTreeMap<String, AccountDelta>,
    /// LSN of the newest record applied to this layer (0 if none).
    pub last_lsn: u64,
    /// Records applied.
    pub records: u64,
}

impl Overlay {
    /// The delta of `account`, created empty on first use.
    pub fn delta(&mut self, account: &str) -> &mut AccountDelta {
        // Look up before inserting: this runs once per cached peer, and the name is rarely new.
        if !self.accounts.contains_key(account) {
            self.accounts
                .insert(account.to_owned(), AccountDelta::default());
        }
        match self.accounts.get_mut(account) {
            Some(d) => d,
            None => unreachable!("inserted above"),
        }
    }

    /// Whether nothing was applied.
    pub fn is_empty(&self) -> bool {
        self.records == 0 && self.accounts.is_empty()
    }
}
