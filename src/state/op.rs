//! The operations a log record carries. A record is one batch: `Vec<Op>`, applied in order.
//!
//! Variants are encoded by index: new variants go at the end, existing ones never change
//! shape (a changed shape needs a new payload version in `log::frame`).

use serde::{Deserialize, Serialize};

use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::model::{AppFields, DataCenter, Peer, UpdateState, UpdateStateChange, User};

/// One change to one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    /// Makes the account exist (idempotent).
    CreateAccount { account: String },
    /// Removes the account and everything stored under it.
    DeleteAccount { account: String },
    /// Sets or clears the home DC.
    SetHomeDc { account: String, dc: Option<i32> },
    /// Inserts or replaces one DC.
    SetDc { account: String, dc: DataCenter },
    /// Removes one DC (and its auth key).
    RemoveDc { account: String, id: i32 },
    /// Sets or clears the logged-in user.
    SetUser { account: String, user: Option<User> },
    /// Changes the update state in one of the protocol's groups.
    UpdateState {
        account: String,
        change: UpdateStateChange,
    },
    /// Forgets one channel's pts.
    RemoveChannel { account: String, id: i64 },
    /// Replaces the app fields.
    SetAppFields { account: String, app: AppFields },
    /// Caches a batch of peers (already normalised, `updated_at` set).
    CachePeers { account: String, peers: Vec<Peer> },
    /// Removes one cached peer.
    RemovePeer { account: String, id: i64 },
    /// Replaces (or clears) the whole common update state.
    SetUpdateState {
        account: String,
        state: Option<UpdateState>,
    },
    /// Removes every DC whose id is not in `keep` (resolved when applied, so `save` also
    /// removes a DC set by a write queued just before it).
    KeepDcs { account: String, keep: Vec<i32> },
    /// Removes every channel pts whose channel is not in `keep`.
    KeepChannels { account: String, keep: Vec<i64> },
    /// Stores min-peer contexts (one per user id).
    SetMinPeers {
        account: String,
        contexts: Vec<MinPeerContext>,
    },
    /// Forgets the min-peer contexts of these users.
    RemoveMinPeers { account: String, user_ids: Vec<i64> },
    /// Sets or clears the login token.
    SetLoginToken {
        account: String,
        token: Option<LoginToken>,
    },
    /// Replaces the DC endpoints.
    SetDcEndpoints {
        account: String,
        endpoints: Vec<DcEndpoint>,
    },
}

impl Op {
    /// The account the operation changes.
    pub(crate) fn account(&self) -> &str {
        match self {
            Op::CreateAccount { account }
            | Op::DeleteAccount { account }
            | Op::SetHomeDc { account, .. }
            | Op::SetDc { account, .. }
            | Op::RemoveDc { account, .. }
            | Op::SetUser { account, .. }
            | Op::UpdateState { account, .. }
            | Op::RemoveChannel { account, .. }
            | Op::SetAppFields { account, .. }
            | Op::CachePeers { account, .. }
            | Op::RemovePeer { account, .. }
            | Op::SetUpdateState { account, .. }
            | Op::KeepDcs { account, .. }
            | Op::KeepChannels { account, .. }
            | Op::SetMinPeers { account, .. }
            | Op::RemoveMinPeers { account, .. }
            | Op::SetLoginToken { account, .. }
            | Op::SetDcEndpoints { account, .. } => account,
        }
    }
}
