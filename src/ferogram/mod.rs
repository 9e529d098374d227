//! Drop-in storage for ferogram: [`FerogramSession`] implements ferogram-session 0.6's
//! `SessionBackend` on one sessiondb account (feature `ferogram`).
//!
//! ferogram calls `save` with a whole snapshot (every minute when something changed, and
//! at shutdown) and `apply_update_state` every few seconds while pts moves. Each
//! incremental call is one durable write (update state and DCs group-committed with other
//! writers; peers with the store's peer durability); `save` writes only what differs from
//! what is stored, in one durable batch.

mod mapping;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use ferogram_session::{
    CachedPeer, DcEntry, PersistedSession, SessionBackend, UpdateStateChange as FChange,
    UpdatesStateSnap,
};

use crate::account::Account;
use crate::adapter_owner::Owner;
use crate::error::{Error, Result};
use crate::extras::{
    DcEndpoint, LoginToken, MinPeerContext, data_centers, set_endpoints_op, visible_endpoints,
};
use crate::memory::MemoryStore;
use crate::model::{DEFAULT_ACCOUNT, Peer, UpdateState, UpdateStateChange};
use crate::state::apply::merge_peer;
use crate::state::op::Op;
use crate::store::Store;

use mapping::*;

/// Peer changes per record when a `save` changes more than fit in one: each record stays
/// far below the log's payload limit.
const PEERS_PER_RECORD: usize = 50_000;
/// Peers read per page when a `save` compares or a `load` reads the cache.
const PAGE: usize = 8192;

/// A ferogram `SessionBackend` backed by a sessiondb account.
///
/// ```no_run
/// # fn main() -> sessiondb::Result<()> {
/// use std::sync::Arc;
/// let backend = Arc::new(sessiondb::FerogramSession::open("bot")?);
/// // ferogram::Client::builder().session_backend(backend) ...
/// # let _ = backend; Ok(()) }
/// ```
pub struct FerogramSession {
    account: Account,
    owner: Owner,
}

impl std::fmt::Debug for FerogramSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FerogramSession")
            .field("account", &self.account.name())
            .finish_non_exhaustive()
    }
}

impl FerogramSession {
    /// Opens (or creates) the store at `path` and uses its default account.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_store(Arc::new(Store::open(path)?), DEFAULT_ACCOUNT)
    }

    /// Uses `account` of an open store (several adapters may share one store).
    pub fn from_store(store: Arc<Store>, account: &str) -> Result<Self> {
        let account = store.account(account)?;
        Ok(FerogramSession {
            account,
            owner: Owner::File(store),
        })
    }

    /// Uses `account` of an in-memory store.
    pub fn from_memory(store: MemoryStore, account: &str) -> Result<Self> {
        let account = store.account(account)?;
        Ok(FerogramSession {
            account,
            owner: Owner::Memory { _alive: store },
        })
    }

    /// The sessiondb account behind this backend.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Flushes and checkpoints the file store (a no-op for an in-memory one).
    pub fn close(&self) -> Result<()> {
        self.owner.close()
    }

    fn name_owned(&self) -> String {
        self.account.name().to_owned()
    }

    /// The endpoint list a client sees (the stored one, completed from the DCs).
    fn endpoints(&self) -> Result<Vec<DcEndpoint>> {
        let dcs = self.account.view(|v| v.dcs(self.account.name()))?;
        Ok(visible_endpoints(self.account.dc_endpoints()?, &dcs))
    }

    fn session_snapshot(&self) -> Result<Option<PersistedSession>> {
        let Some(session) = self.account.session()? else {
            return Ok(None);
        };
        let dcs: BTreeMap<_, _> = session.dcs.iter().map(|d| (d.id, d.clone())).collect();
        let endpoints = visible_endpoints(self.account.dc_endpoints()?, &dcs);
        let state = session.update_state.unwrap_or_default();
        let mut peers = Vec::new();
        let mut after = None;
        loop {
            let page = self.account.peers(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            peers.extend(page.iter().filter_map(cached_of));
        }
        Ok(Some(PersistedSession {
            home_dc_id: session.home_dc.unwrap_or(0),
            dcs: endpoints.iter().map(entry_of).collect(),
            updates_state: UpdatesStateSnap {
                pts: state.pts,
                qts: state.qts,
                date: state.date,
                seq: state.seq,
                channels: session.channels.into_iter().collect(),
            },
            peers,
            min_peers: self.account.min_peers()?.iter().map(min_peer_of).collect(),
            future_auth_token: self.account.login_token()?.map(|t| t.as_bytes().to_vec()),
        }))
    }

    /// The ops of a whole DC list: DCs no longer listed removed, changed DCs rewritten, the
    /// endpoint list set last (rewriting a DC drops its endpoints). Nothing when unchanged.
    fn dc_ops(&self, endpoints: Vec<DcEndpoint>, force: bool) -> Result<Vec<Op>> {
        let wanted = data_centers(&endpoints);
        let stored = self.account.view(|v| v.dcs(self.account.name()))?;
        if !force && stored == wanted && self.account.dc_endpoints()? == endpoints {
            return Ok(Vec::new());
        }
        let account = self.name_owned();
        let mut ops = vec![Op::KeepDcs {
            account: account.clone(),
            keep: wanted.keys().copied().collect(),
        }];
        for dc in wanted.into_values() {
            if stored.get(&dc.id) != Some(&dc) {
                ops.push(Op::SetDc {
                    account: account.clone(),
                    dc,
                });
            }
        }
        ops.push(set_endpoints_op(&account, endpoints)?);
        Ok(ops)
    }

    /// The ops that make the stored peers equal to `peers` (later duplicates win): a merge
    /// of the snapshot, sorted by marked id, with the store's peers read in id order.
    fn peer_ops(&self, peers: &[CachedPeer]) -> Result<Vec<Op>> {
        let mut wanted = Vec::with_capacity(peers.len());
        for (i, p) in peers.iter().enumerate() {
            wanted.push((marked_id(p)?, i));
        }
        // Stable by id, then the last of equal ids is the one kept.
        wanted.sort_by_key(|&(id, _)| id);
        wanted.reverse();
        wanted.dedup_by_key(|&mut (id, _)| id);
        wanted.reverse();
        let account = self.name_owned();
        let (mut removed, mut cached) = (Vec::new(), Vec::new());
        let mut next = wanted.iter().peekable();
        let mut after = None;
        let mut handle = |stored: Option<&Peer>, want: Option<(i64, usize)>| {
            match (stored, want) {
                (Some(s), None) => removed.push(s.id),
                (stored, Some((id, i))) => {
                    let new = peer_of(&peers[i], id, stored);
                    if stored == Some(&new) {
                        return;
                    }
                    // The store merges a new version into the old (a missing hash or an
                    // unknown channel kind keeps the old one): replace where that would
                    // not give the snapshot's peer.
                    if stored.is_some() && merge_peer(stored, new.clone()) != new {
                        removed.push(id);
                    }
                    cached.push(restamped(new));
                }
                (None, None) => {}
            }
        };
        loop {
            let page = self.account.peers(after, PAGE)?;
            for s in &page {
                while let Some(&&(id, i)) = next.peek()
                    && id < s.id
                {
                    handle(None, Some((id, i)));
                    next.next();
                }
                match next.peek() {
                    Some(&&(id, i)) if id == s.id => {
                        handle(Some(s), Some((id, i)));
                        next.next();
                    }
                    _ => handle(Some(s), None),
                }
            }
            match page.last() {
                Some(last) => after = Some(last.id),
                None => break,
            }
        }
        for &(id, i) in next {
            handle(None, Some((id, i)));
        }
        let mut ops: Vec<Op> = removed
            .into_iter()
            .map(|id| Op::RemovePeer {
                account: account.clone(),
                id,
            })
            .collect();
        if !cached.is_empty() {
            let peers = crate::account::normalize_batch(&cached, true)?;
            for chunk in peers.chunks(PEERS_PER_RECORD) {
                ops.push(Op::CachePeers {
                    account: account.clone(),
                    peers: chunk.to_vec(),
                });
            }
        }
        Ok(ops)
    }

    fn save_ops(&self, s: &PersistedSession) -> Result<Vec<Op>> {
        let account = self.name_owned();
        let stored = self.account.session()?.unwrap_or_default();
        let mut ops = vec![Op::CreateAccount {
            account: account.clone(),
        }];
        if stored.home_dc != Some(s.home_dc_id) {
            ops.push(Op::SetHomeDc {
                account: account.clone(),
                dc: Some(s.home_dc_id),
            });
        }
        ops.extend(self.dc_ops(s.dcs.iter().map(endpoint_of).collect(), false)?);
        let u = &s.updates_state;
        let state = UpdateState {
            pts: u.pts,
            qts: u.qts,
            date: u.date,
            seq: u.seq,
        };
        if stored.update_state.unwrap_or_default() != state {
            ops.push(Op::SetUpdateState {
                account: account.clone(),
                state: Some(state),
            });
        }
        let channels: BTreeMap<i64, i32> = u.channels.iter().copied().collect();
        if stored.channels != channels {
            ops.push(Op::KeepChannels {
                account: account.clone(),
                keep: channels.keys().copied().collect(),
            });
            for (&id, &pts) in channels
                .iter()
                .filter(|(id, pts)| stored.channels.get(id) != Some(pts))
            {
                ops.push(Op::UpdateState {
                    account: account.clone(),
                    change: UpdateStateChange::Channel { id, pts },
                });
            }
        }
        let wanted: BTreeMap<i64, MinPeerContext> = s
            .min_peers
            .iter()
            .map(|m| (m.user_id, min_context_of(m)))
            .collect();
        let have: BTreeMap<i64, MinPeerContext> = self
            .account
            .min_peers()?
            .into_iter()
            .map(|m| (m.user_id, m))
            .collect();
        let gone: Vec<i64> = have
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        if !gone.is_empty() {
            ops.push(Op::RemoveMinPeers {
                account: account.clone(),
                user_ids: gone,
            });
        }
        let changed: Vec<MinPeerContext> = wanted
            .values()
            .filter(|m| have.get(&m.user_id) != Some(m))
            .copied()
            .collect();
        if !changed.is_empty() {
            ops.push(Op::SetMinPeers {
                account: account.clone(),
                contexts: changed,
            });
        }
        let token = match &s.future_auth_token {
            Some(t) => Some(LoginToken::new(t.clone())?),
            None => None,
        };
        if self.account.login_token()? != token {
            ops.push(Op::SetLoginToken { account, token });
        }
        Ok(ops)
    }

    fn save_session(&self, s: &PersistedSession) -> Result<()> {
        let mut ops = self.save_ops(s)?;
        if self.account.engine()?.config().cache_peers {
            let peer_ops = self.peer_ops(&s.peers)?;
            // Most saves fit one record: the whole save is then one atomic batch. A larger
            // one writes its peers first, each record whole, and the session last.
            let mut record = Vec::new();
            let mut units = 0;
            for op in peer_ops {
                if units + peer_units(&op) > PEERS_PER_RECORD && !record.is_empty() {
                    self.account
                        .submit(std::mem::take(&mut record), true)
                        .wait()?;
                    units = 0;
                }
                units += peer_units(&op);
                record.push(op);
            }
            ops.extend(record);
        }
        self.account.submit(ops, true).wait().map(drop)
    }

    fn update_entry(&self, entry: &DcEntry) -> Result<()> {
        let mut endpoints = self.endpoints()?;
        let new = endpoint_of(entry);
        let ipv6 = entry.is_ipv6();
        match endpoints
            .iter_mut()
            .find(|e| e.dc == new.dc && entry_of(e).is_ipv6() == ipv6)
        {
            Some(e) => *e = new,
            None => endpoints.push(new),
        }
        let ops = self.dc_ops(endpoints, true)?;
        self.account.submit(ops, true).wait().map(drop)
    }

    fn apply_change(&self, change: FChange) -> Result<()> {
        let written = match change {
            FChange::All(all) => {
                let state = UpdateState {
                    pts: all.pts,
                    qts: all.qts,
                    date: all.date,
                    seq: all.seq,
                };
                // Later entries win, as in ferogram's own backends.
                let channels: BTreeMap<i64, i32> = all.channels.iter().copied().collect();
                self.account.replace_update_state_async(state, channels)
            }
            FChange::Primary { pts, date, seq } => self
                .account
                .set_update_state_async(UpdateStateChange::Primary { pts, date, seq }),
            FChange::Secondary { qts } => self
                .account
                .set_update_state_async(UpdateStateChange::Secondary { qts }),
            FChange::Channel { id, pts } => self
                .account
                .set_update_state_async(UpdateStateChange::Channel { id, pts }),
        };
        written.wait().map(drop)
    }

    fn cache_one(&self, p: &CachedPeer) -> Result<()> {
        let config = self.account.engine()?.config();
        if !config.cache_peers {
            return Ok(());
        }
        let id = marked_id(p)?;
        let stored = self.account.peer(id)?;
        let new = peer_of(p, id, stored.as_ref());
        if stored.as_ref() == Some(&new) {
            return Ok(());
        }
        let account = self.name_owned();
        let mut ops = Vec::with_capacity(2);
        if stored.is_some() && merge_peer(stored.as_ref(), new.clone()) != new {
            ops.push(Op::RemovePeer {
                account: account.clone(),
                id,
            });
        }
        ops.push(Op::CachePeers {
            account,
            peers: crate::account::normalize_batch(&[restamped(new)], true)?,
        });
        let durable = config.peer_durability == crate::options::Durability::Durable;
        self.account.submit(ops, durable).wait().map(drop)
    }
}

/// A changed peer to write: stamped now by the store (it keeps what other fronts stored,
/// under the rules they were stored by, so it is normalized as a copy).
fn restamped(mut peer: Peer) -> Peer {
    peer.updated_at = 0;
    peer
}

/// How many peers an op writes or removes (the size of a record, roughly).
fn peer_units(op: &Op) -> usize {
    match op {
        Op::CachePeers { peers, .. } => peers.len(),
        _ => 1,
    }
}

/// A sessiondb error as ferogram's `io::Error`, keeping it as the source.
fn io_error(e: Error) -> io::Error {
    let kind = match &e {
        Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
        Error::Io { source, .. } => source.kind(),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl SessionBackend for FerogramSession {
    fn save(&self, session: &PersistedSession) -> io::Result<()> {
        self.save_session(session).map_err(io_error)
    }

    fn load(&self) -> io::Result<Option<PersistedSession>> {
        self.session_snapshot().map_err(io_error)
    }

    fn delete(&self) -> io::Result<()> {
        self.account
            .delete_self_async()
            .wait()
            .map(drop)
            .map_err(io_error)
    }

    fn name(&self) -> &str {
        "sessiondb"
    }

    fn update_dc(&self, entry: &DcEntry) -> io::Result<()> {
        self.update_entry(entry).map_err(io_error)
    }

    fn set_home_dc(&self, dc_id: i32) -> io::Result<()> {
        self.account.set_home_dc(dc_id).map_err(io_error)
    }

    fn apply_update_state(&self, update: FChange) -> io::Result<()> {
        self.apply_change(update).map_err(io_error)
    }

    fn cache_peer(&self, peer: &CachedPeer) -> io::Result<()> {
        self.cache_one(peer).map_err(io_error)
    }
}
