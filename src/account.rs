//! One account of a store: its session, update state, app fields and peer cache.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Weak};

use crate::completion::Pending;
use crate::engine::{Control, Engine};
use crate::error::{Error, Result};
use crate::model::{
    AppFields, DataCenter, Peer, Session, UpdateState, UpdateStateChange, User, normalize_phone,
    normalize_username,
};
use crate::op::Op;
use crate::store::Durability;
use crate::view::View;

/// A cheap, cloneable handle on one account of an open store.
///
/// Reads see every acknowledged write (and buffered peer writes at once). Writes block until
/// acknowledged; the `*_async` forms return a [`Pending`] to `.await` instead. A handle does
/// not keep the store open: once the store is closed or dropped, calls return `Error::Closed`.
#[derive(Clone)]
pub struct Account {
    engine: Weak<dyn Engine>,
    name: String,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}

impl Account {
    pub(crate) fn new(engine: Weak<dyn Engine>, name: String) -> Self {
        Account { engine, name }
    }

    fn engine(&self) -> Result<Arc<dyn Engine>> {
        self.engine.upgrade().ok_or(Error::Closed)
    }

    /// The account name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn view<T>(&self, f: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
        crate::engine::view(self.engine()?.as_ref(), f)
    }

    /// Queues `ops` and returns the acknowledgement (LSN) to wait for.
    pub(crate) fn submit(&self, ops: Vec<Op>, durable: bool) -> Pending<u64> {
        match self.engine() {
            Ok(engine) => engine.submit(ops, durable),
            Err(e) => Pending::ready(Err(e)),
        }
    }

    pub(crate) fn write(&self, ops: Vec<Op>, durable: bool) -> Result<u64> {
        self.submit(ops, durable).wait()
    }

    fn acc(&self) -> String {
        self.name.clone()
    }

    // ---- reads -------------------------------------------------------------------------

    /// Whether anything was ever written to this account (and it was not deleted since).
    pub fn exists(&self) -> Result<bool> {
        self.view(|v| v.account_exists(&self.name))
    }

    /// The home DC id.
    pub fn home_dc(&self) -> Result<Option<i32>> {
        self.view(|v| v.home_dc(&self.name))
    }

    /// One DC.
    pub fn dc(&self, id: i32) -> Result<Option<DataCenter>> {
        self.view(|v| v.dc(&self.name, id))
    }

    /// Every DC, by id.
    pub fn dcs(&self) -> Result<Vec<DataCenter>> {
        self.view(|v| Ok(v.dcs(&self.name)?.into_values().collect()))
    }

    /// The logged-in user.
    pub fn user(&self) -> Result<Option<User>> {
        self.view(|v| v.user(&self.name))
    }

    /// The common update state.
    pub fn update_state(&self) -> Result<Option<UpdateState>> {
        self.view(|v| v.update_state(&self.name))
    }

    /// One channel's pts.
    pub fn channel_pts(&self, channel_id: i64) -> Result<Option<i32>> {
        self.view(|v| v.channel_pts(&self.name, channel_id))
    }

    /// Every channel's pts.
    pub fn channels(&self) -> Result<BTreeMap<i64, i32>> {
        self.view(|v| v.channels(&self.name))
    }

    /// The app fields (defaults if never set).
    pub fn app_fields(&self) -> Result<AppFields> {
        self.view(|v| Ok(v.app(&self.name)?.unwrap_or_default()))
    }

    /// The whole session, or `None` if the account does not exist.
    pub fn session(&self) -> Result<Option<Session>> {
        self.view(|v| {
            if !v.account_exists(&self.name)? {
                return Ok(None);
            }
            Ok(Some(Session {
                home_dc: v.home_dc(&self.name)?,
                dcs: v.dcs(&self.name)?.into_values().collect(),
                user: v.user(&self.name)?,
                update_state: v.update_state(&self.name)?,
                channels: v.channels(&self.name)?,
                app: v.app(&self.name)?.unwrap_or_default(),
            }))
        })
    }

    /// A cached peer by marked id.
    pub fn peer(&self, id: i64) -> Result<Option<Peer>> {
        self.view(|v| v.peer(&self.name, id))
    }

    /// A cached peer by username (case-insensitive, leading `@` ignored).
    pub fn peer_by_username(&self, username: &str) -> Result<Option<Peer>> {
        let name = normalize_username(username)?;
        self.view(|v| match v.peer_id_by_username(&self.name, &name)? {
            Some(id) => v.peer(&self.name, id),
            None => Ok(None),
        })
    }

    /// A cached peer by phone number (only digits count).
    pub fn peer_by_phone(&self, phone: &str) -> Result<Option<Peer>> {
        let phone = normalize_phone(phone)?;
        self.view(|v| match v.peer_id_by_phone(&self.name, &phone)? {
            Some(id) => v.peer(&self.name, id),
            None => Ok(None),
        })
    }

    /// Up to `limit` cached peers with ids above `after` (`None`: from the start), in id
    /// order. Page through the cache by passing the last id seen.
    pub fn peers(&self, after: Option<i64>, limit: usize) -> Result<Vec<Peer>> {
        self.view(|v| v.peers(&self.name, after, limit))
    }

    /// Number of cached peers, in O(1).
    pub fn peer_count(&self) -> Result<u64> {
        self.view(|v| v.peer_count(&self.name))
    }

    /// The cached peer marked `is_self`, in O(1).
    pub fn self_user(&self) -> Result<Option<Peer>> {
        self.view(|v| match v.self_peer_id(&self.name)? {
            Some(id) => v.peer(&self.name, id),
            None => Ok(None),
        })
    }

    // ---- durable writes ----------------------------------------------------------------

    /// Sets the home DC.
    pub fn set_home_dc(&self, dc: i32) -> Result<()> {
        self.write(
            vec![Op::SetHomeDc {
                account: self.acc(),
                dc: Some(dc),
            }],
            true,
        )
        .map(drop)
    }

    /// Inserts or replaces one DC (its auth key included).
    pub fn set_dc(&self, dc: DataCenter) -> Result<()> {
        self.write(
            vec![Op::SetDc {
                account: self.acc(),
                dc,
            }],
            true,
        )
        .map(drop)
    }

    /// Removes one DC and its auth key.
    pub fn remove_dc(&self, id: i32) -> Result<()> {
        self.write(
            vec![Op::RemoveDc {
                account: self.acc(),
                id,
            }],
            true,
        )
        .map(drop)
    }

    /// Sets or clears the logged-in user.
    pub fn set_user(&self, user: Option<User>) -> Result<()> {
        if let Some(name) = user.as_ref().and_then(|u| u.username.as_deref()) {
            normalize_username(name)?;
        }
        self.write(
            vec![Op::SetUser {
                account: self.acc(),
                user,
            }],
            true,
        )
        .map(drop)
    }

    /// Persists an update-state change durably. Store only what the bot has handled.
    pub fn set_update_state(&self, change: UpdateStateChange) -> Result<()> {
        self.set_update_state_async(change).wait().map(drop)
    }

    /// [`Account::set_update_state`] without blocking: await or wait on the result.
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the write: it may still land.
    pub fn set_update_state_async(&self, change: UpdateStateChange) -> Pending<u64> {
        self.submit(
            vec![Op::UpdateState {
                account: self.acc(),
                change,
            }],
            true,
        )
    }

    /// Forgets one channel's pts.
    pub fn remove_channel(&self, channel_id: i64) -> Result<()> {
        self.write(
            vec![Op::RemoveChannel {
                account: self.acc(),
                id: channel_id,
            }],
            true,
        )
        .map(drop)
    }

    /// Replaces the app fields.
    pub fn set_app_fields(&self, app: AppFields) -> Result<()> {
        app.validate()?;
        self.write(
            vec![Op::SetAppFields {
                account: self.acc(),
                app,
            }],
            true,
        )
        .map(drop)
    }

    /// Replaces the account's DCs, user, update state, channel pts and app fields in one
    /// durable batch (DCs and channels absent from `session` are deleted), then checkpoints.
    pub fn save(&self, session: &Session) -> Result<()> {
        self.save_async(session).wait().map(drop)
    }

    /// [`Account::save`] without blocking.
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the save: it may still land.
    pub fn save_async(&self, session: &Session) -> Pending<u64> {
        let engine = match self.engine() {
            Ok(e) => e,
            Err(e) => return Pending::ready(Err(e)),
        };
        let ops = match self.save_ops(session) {
            Ok(ops) => ops,
            Err(e) => return Pending::ready(Err(e)),
        };
        let written = engine.submit(ops, true);
        Pending::chain(written, move |_| engine.control(Control::Checkpoint))
    }

    fn save_ops(&self, session: &Session) -> Result<Vec<Op>> {
        session.app.validate()?;
        let mut ids = BTreeMap::new();
        for dc in &session.dcs {
            if ids.insert(dc.id, ()).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "DC {} appears twice",
                    dc.id
                )));
            }
        }
        let (old_dcs, old_channels) =
            self.view(|v| Ok((v.dcs(&self.name)?, v.channels(&self.name)?)))?;
        let account = self.acc();
        let mut ops = vec![
            Op::CreateAccount {
                account: account.clone(),
            },
            Op::SetHomeDc {
                account: account.clone(),
                dc: session.home_dc,
            },
        ];
        for id in old_dcs.keys().filter(|id| !ids.contains_key(id)) {
            ops.push(Op::RemoveDc {
                account: account.clone(),
                id: *id,
            });
        }
        for dc in &session.dcs {
            ops.push(Op::SetDc {
                account: account.clone(),
                dc: dc.clone(),
            });
        }
        ops.push(Op::SetUser {
            account: account.clone(),
            user: session.user.clone(),
        });
        ops.push(Op::SetUpdateState {
            account: account.clone(),
            state: session.update_state,
        });
        for id in old_channels
            .keys()
            .filter(|id| !session.channels.contains_key(id))
        {
            ops.push(Op::RemoveChannel {
                account: account.clone(),
                id: *id,
            });
        }
        for (&id, &pts) in &session.channels {
            ops.push(Op::UpdateState {
                account: account.clone(),
                change: UpdateStateChange::Channel { id, pts },
            });
        }
        ops.push(Op::SetAppFields {
            account,
            app: session.app.clone(),
        });
        Ok(ops)
    }

    // ---- peer cache --------------------------------------------------------------------

    /// Caches a batch of peers as one log record, with the store's peer durability.
    pub fn cache_peers(&self, peers: &[Peer]) -> Result<()> {
        let durability = self.engine()?.config().peer_durability;
        self.cache_peers_with(peers, durability)
    }

    /// Caches a batch of peers with the given durability.
    pub fn cache_peers_with(&self, peers: &[Peer], durability: Durability) -> Result<()> {
        self.cache_peers_async(peers, durability).wait().map(drop)
    }

    /// [`Account::cache_peers_with`] without blocking.
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the write: it may still land.
    pub fn cache_peers_async(&self, peers: &[Peer], durability: Durability) -> Pending<u64> {
        let enabled = match self.engine() {
            Ok(engine) => engine.config().cache_peers,
            Err(e) => return Pending::ready(Err(e)),
        };
        if !enabled || peers.is_empty() {
            return Pending::ready(Ok(0));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut batch = Vec::with_capacity(peers.len());
        for p in peers {
            match normalize_peer(p, now) {
                Ok(p) => batch.push(p),
                Err(e) => return Pending::ready(Err(e)),
            }
        }
        let op = Op::CachePeers {
            account: self.acc(),
            peers: batch,
        };
        self.submit(vec![op], durability == Durability::Durable)
    }

    /// Removes one cached peer (and its username and phone entries).
    pub fn remove_peer(&self, id: i64) -> Result<()> {
        let durable = self.engine()?.config().peer_durability == Durability::Durable;
        self.write(
            vec![Op::RemovePeer {
                account: self.acc(),
                id,
            }],
            durable,
        )
        .map(drop)
    }
}

/// Lowercases usernames, keeps phone digits, stamps the write time.
fn normalize_peer(p: &Peer, now: i64) -> Result<Peer> {
    let mut p = p.clone();
    let mut names = Vec::with_capacity(p.usernames.len());
    for n in &p.usernames {
        let n = normalize_username(n)?;
        if !names.contains(&n) {
            names.push(n);
        }
    }
    p.usernames = names;
    p.phone = match p.phone.as_deref() {
        Some(phone) => Some(normalize_phone(phone)?),
        None => None,
    };
    if p.name.as_ref().is_some_and(|n| n.len() > 1024) {
        return Err(Error::InvalidArgument(
            "peer names are at most 1024 bytes".into(),
        ));
    }
    p.updated_at = now;
    Ok(p)
}
