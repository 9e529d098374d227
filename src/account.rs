//! One account of a store: its session, update state, app fields and peer cache.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Weak};

use crate::engine::{Control, Engine};
use crate::error::{Error, Result};
use crate::model::{
    AppFields, DataCenter, Peer, Session, UpdateState, UpdateStateChange, User, normalize_phone,
    normalize_username,
};
use crate::options::Durability;
use crate::pending::Pending;
use crate::state::op::Op;
use crate::state::view::View;

/// A blocking call over its `*_async` form: `fn name = name_async(arg: T);` defines
/// `pub fn name(&self, arg: T) -> Result<()>`, which waits for the acknowledgement.
macro_rules! waited {
    ($(#[$doc:meta])* fn $name:ident = $async:ident($arg:ident: $ty:ty);) => {
        $(#[$doc])*
        pub fn $name(&self, $arg: $ty) -> Result<()> {
            self.$async($arg).wait().map(drop)
        }
    };
}
pub(crate) use waited;

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

    pub(crate) fn engine(&self) -> Result<Arc<dyn Engine>> {
        self.engine.upgrade().ok_or(Error::Closed)
    }

    /// The account name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn view<T>(&self, f: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
        crate::engine::view(self.engine()?.as_ref(), f)
    }

    /// Queues `ops` and returns the acknowledgement (LSN) to wait for.
    pub(crate) fn submit(&self, ops: Vec<Op>, durable: bool) -> Pending<u64> {
        match self.engine() {
            Ok(engine) => engine.submit(ops, durable),
            Err(e) => Pending::ready(Err(e)),
        }
    }

    /// A handle on `name`, refusing a new account whose name breaks
    /// [`crate::model::validate_new_account`] (an existing one keeps its name).
    pub(crate) fn checked(engine: Weak<dyn Engine>, name: &str) -> Result<Account> {
        let account = Account::new(engine, name.to_owned());
        if let Err(e) = crate::model::validate_new_account(name) {
            crate::model::validate_account(name)?;
            if !account.exists()? {
                return Err(e);
            }
        }
        Ok(account)
    }

    pub(crate) fn acc(&self) -> String {
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
        self.view(|v| crate::whole_session::session_of(v, &self.name))
    }

    /// A cached peer by marked id.
    pub fn peer(&self, id: i64) -> Result<Option<Peer>> {
        self.view(|v| v.peer(&self.name, id))
    }

    /// A cached peer by username (case-insensitive, leading `@` ignored).
    pub fn peer_by_username(&self, username: &str) -> Result<Option<Peer>> {
        let name = normalize_username(username)?;
        self.view(|v| v.peer_by_username(&self.name, &name))
    }

    /// A cached peer by phone number (only digits count).
    pub fn peer_by_phone(&self, phone: &str) -> Result<Option<Peer>> {
        let phone = normalize_phone(phone)?;
        self.view(|v| v.peer_by_phone(&self.name, &phone))
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

    // ---- writes ------------------------------------------------------------------------
    //
    // Each `*_async` call queues its batch at once and returns the acknowledgement; the plain
    // form waits for it. # Cancel safety (all `*_async`): dropping the returned future does
    // not cancel the write, which may still land.

    pub(crate) fn durable(&self, op: Op) -> Pending<u64> {
        self.submit(vec![op], true)
    }

    waited! {
        /// Sets the home DC.
        fn set_home_dc = set_home_dc_async(dc: i32);
    }

    /// [`Account::set_home_dc`] without blocking. Cancel safety: see the type docs.
    pub fn set_home_dc_async(&self, dc: i32) -> Pending<u64> {
        self.durable(Op::SetHomeDc {
            account: self.acc(),
            dc: Some(dc),
        })
    }

    waited! {
        /// Inserts or replaces one DC (its auth key included).
        fn set_dc = set_dc_async(dc: DataCenter);
    }

    /// [`Account::set_dc`] without blocking.
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the write: it may still land.
    pub fn set_dc_async(&self, dc: DataCenter) -> Pending<u64> {
        self.durable(Op::SetDc {
            account: self.acc(),
            dc,
        })
    }

    waited! {
        /// Removes one DC and its auth key.
        fn remove_dc = remove_dc_async(id: i32);
    }

    /// [`Account::remove_dc`] without blocking. Cancel safety: see [`Account::set_dc_async`].
    pub fn remove_dc_async(&self, id: i32) -> Pending<u64> {
        self.durable(Op::RemoveDc {
            account: self.acc(),
            id,
        })
    }

    waited! {
        /// Sets or clears the logged-in user.
        fn set_user = set_user_async(user: Option<User>);
    }

    /// [`Account::set_user`] without blocking. Cancel safety: see [`Account::set_dc_async`].
    pub fn set_user_async(&self, user: Option<User>) -> Pending<u64> {
        if let Some(name) = user.as_ref().and_then(|u| u.username.as_deref())
            && let Err(e) = crate::model::normalize_stored_username(name)
        {
            return Pending::ready(Err(e));
        }
        self.durable(Op::SetUser {
            account: self.acc(),
            user,
        })
    }

    waited! {
        /// Persists an update-state change durably. Store only what the bot has handled.
        fn set_update_state = set_update_state_async(change: UpdateStateChange);
    }

    /// [`Account::set_update_state`] without blocking; concurrent calls share one sync.
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the write: it may still land.
    pub fn set_update_state_async(&self, change: UpdateStateChange) -> Pending<u64> {
        self.durable(Op::UpdateState {
            account: self.acc(),
            change,
        })
    }

    /// Replaces the common update state and every channel's pts in one durable batch
    /// (channels absent from `channels` are forgotten).
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the write: it may still land.
    pub fn replace_update_state_async(
        &self,
        state: UpdateState,
        channels: BTreeMap<i64, i32>,
    ) -> Pending<u64> {
        let account = self.acc();
        let mut ops = vec![
            Op::SetUpdateState {
                account: account.clone(),
                state: Some(state),
            },
            Op::KeepChannels {
                account: account.clone(),
                keep: channels.keys().copied().collect(),
            },
        ];
        ops.extend(channels.into_iter().map(|(id, pts)| Op::UpdateState {
            account: account.clone(),
            change: UpdateStateChange::Channel { id, pts },
        }));
        self.submit(ops, true)
    }

    /// Forgets the common update state (pts, qts, date, seq); the channels' pts stay.
    pub fn clear_update_state(&self) -> Result<()> {
        self.clear_update_state_async().wait().map(drop)
    }

    /// [`Account::clear_update_state`] without blocking. Cancel safety: see
    /// [`Account::set_dc_async`].
    pub fn clear_update_state_async(&self) -> Pending<u64> {
        self.durable(Op::SetUpdateState {
            account: self.acc(),
            state: None,
        })
    }

    waited! {
        /// Forgets one channel's pts.
        fn remove_channel = remove_channel_async(channel_id: i64);
    }

    /// [`Account::remove_channel`] without blocking. Cancel safety: see
    /// [`Account::set_dc_async`].
    pub fn remove_channel_async(&self, channel_id: i64) -> Pending<u64> {
        self.durable(Op::RemoveChannel {
            account: self.acc(),
            id: channel_id,
        })
    }

    waited! {
        /// Replaces the app fields.
        fn set_app_fields = set_app_fields_async(app: AppFields);
    }

    /// [`Account::set_app_fields`] without blocking. Cancel safety: see
    /// [`Account::set_dc_async`].
    pub fn set_app_fields_async(&self, app: AppFields) -> Pending<u64> {
        if let Err(e) = app.validate() {
            return Pending::ready(Err(e));
        }
        self.durable(Op::SetAppFields {
            account: self.acc(),
            app,
        })
    }

    waited! {
        /// Replaces the account's DCs, user, update state, channel pts and app fields in one
        /// durable batch (DCs and channels absent from `session` are deleted), then checkpoints.
        fn save = save_async(session: &Session);
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
        let ops = match crate::whole_session::save_ops(&self.name, session) {
            Ok(ops) => ops,
            Err(e) => return Pending::ready(Err(e)),
        };
        let written = engine.submit(ops, true);
        drop(engine);
        // Weak, like the handle: a save not yet awaited must not keep a closed store open.
        let weak = self.engine.clone();
        Pending::chain(written, move |_| match weak.upgrade() {
            Some(engine) => engine.control(Control::Checkpoint),
            None => Pending::ready(Err(Error::Closed)),
        })
    }

    /// Replaces the whole account (session and cached peers, every old peer gone) with one
    /// durable record, then checkpoints as [`Account::save`] does: a crash leaves the old
    /// account or the new one, never a mix. Peers keep their dates, as in
    /// [`Account::restore_peers`]. The whole batch must fit in one record (16 MiB, about
    /// 100,000 peers); a larger one is refused and nothing changes.
    pub fn replace(&self, session: &Session, peers: &[Peer]) -> Result<()> {
        self.replace_with(session, peers, Vec::new())
    }

    /// [`Account::replace`], with `extra` ops (written after the session's) in the same
    /// record.
    pub(crate) fn replace_with(
        &self,
        session: &Session,
        peers: &[Peer],
        extra: Vec<Op>,
    ) -> Result<()> {
        let engine = self.engine()?;
        let mut ops = vec![Op::DeleteAccount {
            account: self.acc(),
        }];
        ops.extend(crate::whole_session::save_ops(&self.name, session)?);
        ops.extend(extra);
        if engine.config().cache_peers && !peers.is_empty() {
            ops.push(Op::CachePeers {
                account: self.acc(),
                peers: normalize_batch(peers, true)?,
            });
        }
        engine.submit(ops, true).wait()?;
        engine.control(Control::Checkpoint).wait().map(drop)
    }

    /// Caches a batch of peers as one log record, with the store's peer durability.
    pub fn cache_peers(&self, peers: &[Peer]) -> Result<()> {
        self.cache_peers_async(peers, None).wait().map(drop)
    }

    /// Caches a batch of peers with the given durability.
    pub fn cache_peers_with(&self, peers: &[Peer], durability: Durability) -> Result<()> {
        self.cache_peers_async(peers, Some(durability))
            .wait()
            .map(drop)
    }

    /// Caches a batch without blocking; `None` uses the store's peer durability.
    ///
    /// # Cancel safety
    /// Dropping the returned future does not cancel the write: it may still land.
    pub fn cache_peers_async(
        &self,
        peers: &[Peer],
        durability: Option<Durability>,
    ) -> Pending<u64> {
        self.write_peers(peers, durability, false)
    }

    /// Caches peers copied from another session (an import, a copy, a move): each keeps its
    /// `updated_at`, so pruning by age and the most-recently-written order see the source's
    /// times. A peer without one (0), or with one after now, gets the write time.
    pub fn restore_peers(&self, peers: &[Peer], durability: Durability) -> Result<()> {
        self.restore_peers_async(peers, Some(durability))
            .wait()
            .map(drop)
    }

    /// [`Account::restore_peers`] without blocking; `None` uses the store's peer durability.
    /// Cancel safety: see [`Account::cache_peers_async`].
    pub fn restore_peers_async(
        &self,
        peers: &[Peer],
        durability: Option<Durability>,
    ) -> Pending<u64> {
        self.write_peers(peers, durability, true)
    }

    /// Caches `peers`; `copied` as `normalize_peer` says.
    fn write_peers(
        &self,
        peers: &[Peer],
        durability: Option<Durability>,
        copied: bool,
    ) -> Pending<u64> {
        let engine = match self.engine() {
            Ok(e) => e,
            Err(e) => return Pending::ready(Err(e)),
        };
        let config = engine.config();
        if !config.cache_peers || peers.is_empty() {
            return Pending::ready(Ok(0));
        }
        let batch = match normalize_batch(peers, copied) {
            Ok(b) => b,
            Err(e) => return Pending::ready(Err(e)),
        };
        let durable = durability.unwrap_or(config.peer_durability) == Durability::Durable;
        engine.submit(
            vec![Op::CachePeers {
                account: self.acc(),
                peers: batch,
            }],
            durable,
        )
    }

    waited! {
        /// Removes one cached peer (and its username and phone entries).
        fn remove_peer = remove_peer_async(id: i64);
    }

    /// [`Account::remove_peer`] without blocking, with the store's peer durability.
    /// Cancel safety: see [`Account::set_dc_async`].
    pub fn remove_peer_async(&self, id: i64) -> Pending<u64> {
        let durable = match self.engine() {
            Ok(e) => e.config().peer_durability == Durability::Durable,
            Err(e) => return Pending::ready(Err(e)),
        };
        self.submit(
            vec![Op::RemovePeer {
                account: self.acc(),
                id,
            }],
            durable,
        )
    }

    // ---- store-wide calls through any account handle (used by the async trait) ---------

    pub(crate) fn all_accounts(&self) -> Result<Vec<String>> {
        crate::engine::accounts(self.engine()?.as_ref())
    }

    pub(crate) fn delete_self_async(&self) -> Pending<u64> {
        match self.engine() {
            Ok(e) => crate::engine::delete_account(e.as_ref(), &self.name),
            Err(e) => Pending::ready(Err(e)),
        }
    }

    pub(crate) fn control_async(&self, what: Control) -> Pending<u64> {
        match self.engine() {
            Ok(e) => e.control(what),
            Err(e) => Pending::ready(Err(e)),
        }
    }
}

/// Every peer of a batch through [`normalize_peer`], stamped now.
pub(crate) fn normalize_batch(peers: &[Peer], copied: bool) -> Result<Vec<Peer>> {
    let now = crate::model::unix_now();
    peers
        .iter()
        .map(|p| normalize_peer(p, now, copied))
        .collect()
}

/// Lowercases usernames, keeps phone digits, stamps the write time `now`. A `copied` peer
/// (an import, a copy, a move) keeps what its source stored: its date when it has one no
/// later than `now`, and usernames under the rule they were stored by.
pub(crate) fn normalize_peer(p: &Peer, now: i64, copied: bool) -> Result<Peer> {
    let mut p = p.clone();
    let mut names = Vec::with_capacity(p.usernames.len());
    for n in &p.usernames {
        // A copy carries what its source stored; a live write takes Telegram's alphabet.
        let n = if copied {
            crate::model::normalize_stored_username(n)?
        } else {
            normalize_username(n)?
        };
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
    if !(copied && (1..=now).contains(&p.updated_at)) {
        p.updated_at = now;
    }
    Ok(p)
}
