//! Drop-in storage for ferogram: [`FerogramSession`] implements ferogram-session 0.6's
//! `SessionBackend` on one sessiondb account (feature `ferogram`).
//!
//! ferogram calls `save` with a whole snapshot (every minute when something changed, and
//! at shutdown) and `apply_update_state` every few seconds while pts moves. Each
//! incremental call is one durable write (update state and DCs group-committed with other
//! writers; peers with the store's peer durability); `save` writes only what differs from
//! what is stored, in one durable batch.

mod mapping;
mod mirror;
mod save_peers;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ferogram_session::{
    CachedPeer, DcEntry, PersistedSession, SessionBackend, UpdateStateChange as FChange,
    UpdatesStateSnap,
};

use crate::account::Account;
use crate::adapter_owner::Owner;
use crate::dc_endpoints::{data_centers, visible_endpoints};
use crate::error::{Error, Result};
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext, set_endpoints_op};
use crate::locks::Unpoisoned;
use crate::memory::MemoryStore;
use crate::model::{DEFAULT_ACCOUNT, DataCenter, Session, UpdateState, UpdateStateChange};
use crate::state::op::Op;
use crate::store::Store;

use mapping::*;
use mirror::Mirror;
use save_peers::{change, peer_units};

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
    /// The peers of the last save while they are what the store holds (see `mirror`).
    mirror: Mutex<Option<Mirror>>,
    /// Saves that compared with the mirror instead of the whole stored cache.
    mirrored_saves: std::sync::atomic::AtomicU64,
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
        Owner::file(store, account).map(Self::new)
    }

    /// Uses `account` of an in-memory store.
    pub fn from_memory(store: MemoryStore, account: &str) -> Result<Self> {
        Owner::memory(store, account).map(Self::new)
    }

    fn new((account, owner): (Account, Owner)) -> Self {
        FerogramSession {
            account,
            owner,
            mirror: Mutex::default(),
            mirrored_saves: Default::default(),
        }
    }

    /// The sessiondb account behind this backend.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// How many saves compared with the last one saved instead of the whole stored cache.
    #[cfg(feature = "testing")]
    pub fn mirrored_saves(&self) -> u64 {
        self.mirrored_saves
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Flushes and checkpoints the file store (a no-op for an in-memory one).
    pub fn close(&self) -> Result<()> {
        self.owner.close()
    }

    /// What the account holds, read in one view (`None`: no such account).
    fn stored(&self) -> Result<Option<Stored>> {
        let name = self.account.name();
        self.account.view(|v| {
            let Some(session) = crate::whole_session::session_of(v, name)? else {
                return Ok(None);
            };
            let extras = v.extras(name)?;
            Ok(Some(Stored {
                dcs: session.dcs.iter().map(|d| (d.id, d.clone())).collect(),
                session,
                endpoints: extras.dc_endpoints,
                min_peers: v.min_peers(name)?,
                token: extras.login_token,
            }))
        })
    }

    fn session_snapshot(&self) -> Result<Option<PersistedSession>> {
        let Some(stored) = self.stored()? else {
            return Ok(None);
        };
        let mut peers = Vec::new();
        let mut after = None;
        loop {
            let page = self.account.peers(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            peers.extend(page.iter().filter_map(cached_of));
        }
        let state = stored.session.update_state.unwrap_or_default();
        Ok(Some(PersistedSession {
            home_dc_id: stored.session.home_dc.unwrap_or(0),
            dcs: stored.visible_endpoints().iter().map(entry_of).collect(),
            updates_state: UpdatesStateSnap {
                pts: state.pts,
                qts: state.qts,
                date: state.date,
                seq: state.seq,
                channels: stored.session.channels.into_iter().collect(),
            },
            peers,
            min_peers: stored.min_peers.values().map(min_peer_of).collect(),
            future_auth_token: stored.token.map(|t| t.as_bytes().to_vec()),
        }))
    }

    /// The ops that make the stored DC list `endpoints`: DCs no longer listed removed,
    /// changed DCs rewritten, the endpoint list set last (rewriting a DC drops its
    /// endpoints). Nothing when it already is.
    fn dc_ops(&self, stored: &Stored, endpoints: Vec<DcEndpoint>) -> Result<Vec<Op>> {
        let wanted = data_centers(&endpoints);
        if stored.dcs == wanted && stored.endpoints == endpoints {
            return Ok(Vec::new());
        }
        let account = self.account.acc();
        let mut ops = vec![Op::KeepDcs {
            account: account.clone(),
            keep: wanted.keys().copied().collect(),
        }];
        for dc in wanted.into_values() {
            if stored.dcs.get(&dc.id) != Some(&dc) {
                ops.push(Op::SetDc {
                    account: account.clone(),
                    dc,
                });
            }
        }
        ops.push(set_endpoints_op(&account, endpoints)?);
        Ok(ops)
    }

    fn save_ops(&self, s: &PersistedSession) -> Result<Vec<Op>> {
        let account = self.account.acc();
        let stored = self.stored()?.unwrap_or_default();
        let mut ops = vec![Op::CreateAccount {
            account: account.clone(),
        }];
        if stored.session.home_dc != Some(s.home_dc_id) {
            ops.push(Op::SetHomeDc {
                account: account.clone(),
                dc: Some(s.home_dc_id),
            });
        }
        ops.extend(self.dc_ops(&stored, s.dcs.iter().map(endpoint_of).collect())?);
        let u = &s.updates_state;
        let state = UpdateState {
            pts: u.pts,
            qts: u.qts,
            date: u.date,
            seq: u.seq,
        };
        if stored.session.update_state.unwrap_or_default() != state {
            ops.push(Op::SetUpdateState {
                account: account.clone(),
                state: Some(state),
            });
        }
        let channels: BTreeMap<i64, i32> = u.channels.iter().copied().collect();
        if stored.session.channels != channels {
            ops.push(Op::KeepChannels {
                account: account.clone(),
                keep: channels.keys().copied().collect(),
            });
            for (&id, &pts) in channels
                .iter()
                .filter(|(id, pts)| stored.session.channels.get(id) != Some(pts))
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
        let have = &stored.min_peers;
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
        if stored.token != token {
            ops.push(Op::SetLoginToken { account, token });
        }
        Ok(ops)
    }

    fn save_session(&self, s: &PersistedSession) -> Result<()> {
        let engine = self.account.engine()?;
        let mut ops = self.save_ops(s)?;
        if !engine.config().cache_peers {
            return self.account.submit(ops, true).wait().map(drop);
        }
        // Taken for the whole save: saves run one at a time, and a failed one leaves none.
        let mut mirror = self.mirror.lock().unpoisoned();
        let before = engine.peer_writes(self.account.name());
        let last = mirror.take();
        let fast = match last.as_ref().filter(|m| m.writes == before) {
            Some(m) => self.mirrored_peer_ops(m, &s.peers)?,
            None => None,
        };
        let (peer_ops, distinct) = match fast {
            Some(ops) => {
                self.mirrored_saves
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (ops, true)
            }
            None => self.peer_ops(&s.peers)?,
        };
        // Most saves fit one record: the whole save is then one atomic batch. A larger one
        // writes its peers first, each record whole, and the session last.
        let mut record = Vec::new();
        let (mut units, mut peer_records) = (0, 0);
        for op in peer_ops {
            if units + peer_units(&op) > PEERS_PER_RECORD && !record.is_empty() {
                self.account
                    .submit(std::mem::take(&mut record), true)
                    .wait()?;
                peer_records += 1;
                units = 0;
            }
            units += peer_units(&op);
            record.push(op);
        }
        if !record.is_empty() {
            peer_records += 1;
        }
        ops.extend(record);
        self.account.submit(ops, true).wait()?;
        // Only this save's records moved the count: the store holds exactly the snapshot.
        let after = engine.peer_writes(self.account.name());
        if distinct && after == before + peer_records {
            *mirror = Some(Mirror::of(&s.peers, after, last));
        }
        Ok(())
    }

    fn update_entry(&self, entry: &DcEntry) -> Result<()> {
        let stored = self.stored()?.unwrap_or_default();
        let mut endpoints = stored.visible_endpoints();
        let new = endpoint_of(entry);
        let ipv6 = entry.is_ipv6();
        match endpoints
            .iter_mut()
            .find(|e| e.dc == new.dc && entry_of(e).is_ipv6() == ipv6)
        {
            Some(e) => *e = new,
            None => endpoints.push(new),
        }
        let ops = self.dc_ops(&stored, endpoints)?;
        if ops.is_empty() {
            return Ok(());
        }
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
        let Some((replace, new)) = change(stored.as_ref(), peer_of(p, id, stored.as_ref())) else {
            return Ok(());
        };
        let account = self.account.acc();
        let mut ops = Vec::with_capacity(2);
        if replace {
            ops.push(Op::RemovePeer {
                account: account.clone(),
                id,
            });
        }
        ops.push(Op::CachePeers {
            account,
            peers: crate::account::normalize_batch(&[new], true)?,
        });
        let durable = config.peer_durability == crate::options::Durability::Durable;
        self.account.submit(ops, durable).wait().map(drop)
    }
}

/// What the account holds, as a save compares it and a load returns it.
#[derive(Default)]
struct Stored {
    session: Session,
    dcs: BTreeMap<i32, DataCenter>,
    /// The stored endpoint list (DCs without endpoints are not in it).
    endpoints: Vec<DcEndpoint>,
    min_peers: BTreeMap<i64, MinPeerContext>,
    token: Option<LoginToken>,
}

impl Stored {
    /// The endpoint list a client sees (the stored one, completed from the DCs).
    fn visible_endpoints(&self) -> Vec<DcEndpoint> {
        visible_endpoints(self.endpoints.clone(), &self.dcs)
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
