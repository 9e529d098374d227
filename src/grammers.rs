//! Drop-in storage for grammers: [`GrammersSession`] implements grammers-session 0.11's
//! `Session` trait on one sessiondb account (feature `grammers`).
//!
//! grammers calls `home_dc_id` and `dc_option` before every request, synchronously, so the
//! adapter keeps the home DC and the DC options in memory (loaded at open, updated on every
//! write) and answers those two without touching the store. Peer reads go to the store
//! inline: a lookup is a few microseconds, cheaper than a hop to a blocking thread.
//! Update-state and DC writes are durable and share group commits with concurrent writers;
//! peer writes follow the store's peer durability (buffered by default: peers are a cache).

use crate::locks::Unpoisoned;
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::path::Path;
use std::sync::{Arc, RwLock};

use grammers_session::types::{
    ChannelKind, ChannelState, DcOption, PeerAuth, PeerId, PeerInfo, UpdateState as GUpdate,
    UpdatesState,
};
use grammers_session::{BoxFuture, Session as GrammersTrait, SessionData};

use crate::account::Account;
use crate::adapter_owner::Owner;
use crate::error::{Error, Result};
use crate::memory::MemoryStore;
use crate::model::{
    AuthKey, DEFAULT_ACCOUNT, DataCenter, Peer, PeerKind, UpdateState, UpdateStateChange,
};
use crate::store::Store;

/// The in-memory answers of the two synchronous calls.
struct DcCache {
    home: i32,
    options: HashMap<i32, DcOption>,
}

/// A grammers `Session` backed by a sessiondb account.
///
/// ```no_run
/// # fn main() -> sessiondb::Result<()> {
/// use std::sync::Arc;
/// let session = Arc::new(sessiondb::GrammersSession::open("bot")?);
/// let erased = grammers_session::storages::erase(session);
/// # let _ = erased; Ok(()) }
/// ```
pub struct GrammersSession {
    account: Account,
    owner: Owner,
    dcs: RwLock<DcCache>,
}

impl std::fmt::Debug for GrammersSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrammersSession")
            .field("account", &self.account.name())
            .finish_non_exhaustive()
    }
}

impl GrammersSession {
    /// Opens (or creates) the store at `path` and uses its default account.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_store(Arc::new(Store::open(path)?), DEFAULT_ACCOUNT)
    }

    /// Uses `account` of an open store (several adapters may share one store).
    pub fn from_store(store: Arc<Store>, account: &str) -> Result<Self> {
        Self::with_owner(Owner::file(store, account)?)
    }

    /// Uses `account` of an in-memory store.
    pub fn from_memory(store: MemoryStore, account: &str) -> Result<Self> {
        Self::with_owner(Owner::memory(store, account)?)
    }

    fn with_owner((account, owner): (Account, Owner)) -> Result<Self> {
        let defaults = SessionData::default();
        let mut options = defaults.dc_options;
        for dc in account.dcs()? {
            options.insert(dc.id, dc_option_of(&dc, options.get(&dc.id)));
        }
        let home = account.home_dc()?.unwrap_or(defaults.home_dc);
        Ok(GrammersSession {
            account,
            owner,
            dcs: RwLock::new(DcCache { home, options }),
        })
    }

    /// The sessiondb account behind this session (for usernames, phones, app fields...).
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Flushes and checkpoints the file store (a no-op for an in-memory one).
    pub fn close(&self) -> Result<()> {
        self.owner.close()
    }

    fn cache(&self) -> std::sync::RwLockReadGuard<'_, DcCache> {
        // The cache holds plain values; a panic elsewhere cannot leave it half-written.
        self.dcs.read().unpoisoned()
    }

    fn cache_mut(&self) -> std::sync::RwLockWriteGuard<'_, DcCache> {
        self.dcs.write().unpoisoned()
    }
}

/// grammers' option for a stored DC. grammers needs both addresses; one sessiondb did not
/// store (an import from a format that keeps only one) comes from grammers' own option.
fn dc_option_of(dc: &DataCenter, known: Option<&DcOption>) -> DcOption {
    let unspecified_v4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 443);
    let unspecified_v6 = SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 443, 0, 0);
    DcOption {
        id: dc.id,
        ipv4: dc.ipv4.or(known.map(|k| k.ipv4)).unwrap_or(unspecified_v4),
        ipv6: dc.ipv6.or(known.map(|k| k.ipv6)).unwrap_or(unspecified_v6),
        auth_key: dc.auth_key.as_ref().map(|k| *k.as_bytes()),
    }
}

/// The sessiondb peer for a grammers one. `None` fields stay unknown, so the store's merge
/// keeps what it knew (the same rule as grammers' `PeerInfo::extend_info`).
pub(crate) fn peer_of(info: &PeerInfo) -> Peer {
    let id = info.id().bot_api_dialog_id_unchecked();
    match *info {
        PeerInfo::User {
            auth, bot, is_self, ..
        } => {
            let kind = match bot {
                Some(true) => PeerKind::Bot,
                Some(false) => PeerKind::User,
                None => PeerKind::UserUnknown,
            };
            let mut peer = Peer::new(id, kind, auth.map(PeerAuth::hash));
            peer.is_self = is_self;
            peer
        }
        PeerInfo::Chat { .. } => Peer::new(id, PeerKind::BasicGroup, None),
        PeerInfo::Channel { auth, kind, .. } => {
            let kind = match kind {
                Some(ChannelKind::Broadcast) => PeerKind::Channel,
                Some(ChannelKind::Megagroup) => PeerKind::Megagroup,
                Some(ChannelKind::Gigagroup) => PeerKind::Gigagroup,
                Some(ChannelKind::Community) => PeerKind::Community,
                None => PeerKind::ChannelUnknown,
            };
            Peer::new(id, kind, auth.map(PeerAuth::hash))
        }
    }
}

/// The grammers peer for a stored one; `None` when its id is outside grammers' ranges.
pub(crate) fn info_of(peer: &Peer) -> Option<PeerInfo> {
    let id = PeerId::from_bot_api_dialog_id(peer.id)?.bare_id()?;
    let auth = peer.access_hash.map(PeerAuth::from_hash);
    let channel = |kind| Some(PeerInfo::Channel { id, auth, kind });
    match peer.kind {
        PeerKind::User | PeerKind::Bot | PeerKind::UserUnknown => Some(PeerInfo::User {
            id,
            auth,
            bot: match peer.kind {
                PeerKind::Bot => Some(true),
                PeerKind::User => Some(false),
                _ => None,
            },
            is_self: peer.is_self,
        }),
        PeerKind::BasicGroup => Some(PeerInfo::Chat { id }),
        PeerKind::Channel => channel(Some(ChannelKind::Broadcast)),
        PeerKind::Megagroup => channel(Some(ChannelKind::Megagroup)),
        PeerKind::Gigagroup => channel(Some(ChannelKind::Gigagroup)),
        PeerKind::Community => channel(Some(ChannelKind::Community)),
        PeerKind::ChannelUnknown => channel(None),
    }
}

impl GrammersTrait for GrammersSession {
    type Error = Error;

    fn home_dc_id(&self) -> Result<i32> {
        Ok(self.cache().home)
    }

    fn set_home_dc_id(&self, dc_id: i32) -> BoxFuture<'_, Result<()>> {
        let written = self.account.set_home_dc_async(dc_id);
        Box::pin(async move {
            written.await?;
            self.cache_mut().home = dc_id;
            Ok(())
        })
    }

    fn dc_option(&self, dc_id: i32) -> Result<Option<DcOption>> {
        Ok(self.cache().options.get(&dc_id).cloned())
    }

    fn set_dc_option(&self, option: &DcOption) -> BoxFuture<'_, Result<()>> {
        let option = option.clone();
        Box::pin(async move {
            // grammers knows no salt, clock offset or flags: keep the stored ones.
            let mut dc = self
                .account
                .dc(option.id)?
                .unwrap_or_else(|| DataCenter::new(option.id));
            dc.ipv4 = Some(option.ipv4);
            dc.ipv6 = Some(option.ipv6);
            dc.auth_key = option.auth_key.map(AuthKey::new);
            self.account.set_dc_async(dc).await?;
            self.cache_mut().options.insert(option.id, option);
            Ok(())
        })
    }

    fn peer(&self, peer: PeerId) -> BoxFuture<'_, Result<Option<PeerInfo>>> {
        Box::pin(async move {
            let found = match peer.bot_api_dialog_id() {
                Some(id) => self.account.peer(id)?,
                None => self.account.self_user()?,
            };
            Ok(found.as_ref().and_then(info_of))
        })
    }

    fn cache_peer(&self, peer: PeerInfo) -> BoxFuture<'_, Result<()>> {
        let written = self.account.cache_peers_async(&[peer_of(&peer)], None);
        Box::pin(async move { written.await.map(drop) })
    }

    fn cache_peers(&self, peers: Vec<PeerInfo>) -> BoxFuture<'_, Result<()>> {
        let batch: Vec<Peer> = peers.iter().map(peer_of).collect();
        let written = self.account.cache_peers_async(&batch, None);
        Box::pin(async move { written.await.map(drop) })
    }

    fn updates_state(&self) -> BoxFuture<'_, Result<UpdatesState>> {
        Box::pin(async move {
            let s = self.account.update_state()?.unwrap_or_default();
            let channels = self.account.channels();
            Ok(UpdatesState {
                pts: s.pts,
                qts: s.qts,
                date: s.date,
                seq: s.seq,
                channels: channels?
                    .into_iter()
                    .map(|(id, pts)| ChannelState { id, pts })
                    .collect(),
            })
        })
    }

    fn set_update_state(&self, update: GUpdate) -> BoxFuture<'_, Result<()>> {
        let written = match update {
            GUpdate::All(all) => {
                let state = UpdateState {
                    pts: all.pts,
                    qts: all.qts,
                    date: all.date,
                    seq: all.seq,
                };
                // Later entries win, as in grammers' own stores.
                let channels: BTreeMap<i64, i32> =
                    all.channels.iter().map(|c| (c.id, c.pts)).collect();
                self.account.replace_update_state_async(state, channels)
            }
            GUpdate::Primary { pts, date, seq } => self
                .account
                .set_update_state_async(UpdateStateChange::Primary { pts, date, seq }),
            GUpdate::Secondary { qts } => self
                .account
                .set_update_state_async(UpdateStateChange::Secondary { qts }),
            GUpdate::Channel { id, pts } => self
                .account
                .set_update_state_async(UpdateStateChange::Channel { id, pts }),
        };
        Box::pin(async move { written.await.map(drop) })
    }
}
