//! The one object-safe async trait every backend implements, usable as
//! `Arc<dyn SessionStore>`: the file store ([`Store`]), [`MemoryStore`], and later backends.
//!
//! # Cancel safety
//! Every write is queued when the method is called, before its future is first polled.
//! Dropping the future does not cancel the write: it may still land (and a durable one may
//! still be synced). Reads are cancel-safe.

use crate::account::Account;
use crate::engine::Control;
use crate::error::Result;
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::maintenance::stats::Stats;
use crate::memory::MemoryStore;
use crate::model::{
    AppFields, DEFAULT_ACCOUNT, DataCenter, Peer, Session, UpdateState, UpdateStateChange, User,
};
use crate::options::Durability;
use crate::pending::Pending;
use crate::store::Store;

pub use crate::pending::BoxFuture;

mod sealed {
    use super::*;

    /// How a backend hands out account handles; sealed so the blanket impl stays ours.
    pub trait AccountSource: Send + Sync {
        fn source_account(&self, name: &str) -> Result<Account>;
        /// Whether reads may touch the disk and must leave the async runtime's threads.
        fn offload_reads(&self) -> bool;
        fn source_close(&self) -> BoxFuture<'_, ()>;
        fn source_stats(&self) -> Result<Stats>;
    }
}
use sealed::AccountSource;

/// Every fine-grained call of a session store, per account, as boxed futures.
///
/// Writes of DCs, the user, update state and app fields are durable when their future
/// completes; peer writes follow the given (or the store's) [`Durability`]. The file store
/// runs its reads on tokio's blocking pool, so its futures need a tokio runtime;
/// `MemoryStore`'s run on any executor.
///
/// # Cancel safety
/// A write is queued when its method is called. Dropping the future does not cancel it: a
/// cancelled write (or `save`) may still land, durably. Reads are cancel-safe. `close`
/// closes the store once called, whether or not its future completes.
pub trait SessionStore: Send + Sync {
    /// Accounts that exist, sorted.
    fn accounts(&self) -> BoxFuture<'_, Vec<String>>;
    /// Deletes an account and all its data, durably.
    fn delete_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, ()>;
    /// The whole session of an account, `None` if it does not exist.
    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<Session>>;
    /// Replaces DCs, user, update state, channel pts and app fields, then checkpoints.
    fn save<'a>(&'a self, account: &'a str, session: &'a Session) -> BoxFuture<'a, ()>;
    /// The home DC id.
    fn home_dc<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<i32>>;
    /// Sets the home DC id.
    fn set_home_dc<'a>(&'a self, account: &'a str, dc: i32) -> BoxFuture<'a, ()>;
    /// One DC.
    fn dc<'a>(&'a self, account: &'a str, id: i32) -> BoxFuture<'a, Option<DataCenter>>;
    /// Every DC.
    fn dcs<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<DataCenter>>;
    /// Inserts or replaces a DC.
    fn set_dc<'a>(&'a self, account: &'a str, dc: DataCenter) -> BoxFuture<'a, ()>;
    /// Removes a DC and its key.
    fn remove_dc<'a>(&'a self, account: &'a str, id: i32) -> BoxFuture<'a, ()>;
    /// The logged-in user.
    fn user<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<User>>;
    /// Sets or clears the logged-in user.
    fn set_user<'a>(&'a self, account: &'a str, user: Option<User>) -> BoxFuture<'a, ()>;
    /// The common update state.
    fn update_state<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<UpdateState>>;
    /// A durable update-state change (group-committed with concurrent ones).
    fn set_update_state<'a>(
        &'a self,
        account: &'a str,
        change: UpdateStateChange,
    ) -> BoxFuture<'a, ()>;
    /// One channel's pts.
    fn channel_pts<'a>(&'a self, account: &'a str, channel: i64) -> BoxFuture<'a, Option<i32>>;
    /// Forgets one channel's pts.
    fn remove_channel<'a>(&'a self, account: &'a str, channel: i64) -> BoxFuture<'a, ()>;
    /// App fields.
    fn app_fields<'a>(&'a self, account: &'a str) -> BoxFuture<'a, AppFields>;
    /// Replaces the app fields.
    fn set_app_fields<'a>(&'a self, account: &'a str, app: AppFields) -> BoxFuture<'a, ()>;
    /// Every min-peer context, in user id order.
    fn min_peers<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<MinPeerContext>>;
    /// Stores min-peer contexts (replacing those of the same users), durably.
    fn set_min_peers<'a>(
        &'a self,
        account: &'a str,
        contexts: &'a [MinPeerContext],
    ) -> BoxFuture<'a, ()>;
    /// Forgets the min-peer contexts of these users, durably.
    fn remove_min_peers<'a>(&'a self, account: &'a str, user_ids: &'a [i64]) -> BoxFuture<'a, ()>;
    /// The login token, if one is kept.
    fn login_token<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<LoginToken>>;
    /// Sets or clears the login token, durably.
    fn set_login_token<'a>(
        &'a self,
        account: &'a str,
        token: Option<LoginToken>,
    ) -> BoxFuture<'a, ()>;
    /// The DC endpoints, in the order they were set.
    fn dc_endpoints<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<DcEndpoint>>;
    /// Replaces the DC endpoints, durably (writing or removing a DC drops its endpoints).
    fn set_dc_endpoints<'a>(
        &'a self,
        account: &'a str,
        endpoints: Vec<DcEndpoint>,
    ) -> BoxFuture<'a, ()>;
    /// Caches peers as one batch; `None` uses the store's peer durability.
    fn cache_peers<'a>(
        &'a self,
        account: &'a str,
        peers: &'a [Peer],
        durability: Option<Durability>,
    ) -> BoxFuture<'a, ()>;
    /// Caches peers copied from another session, each keeping its `updated_at` (see
    /// [`crate::Account::restore_peers`]).
    fn restore_peers<'a>(
        &'a self,
        account: &'a str,
        peers: &'a [Peer],
        durability: Option<Durability>,
    ) -> BoxFuture<'a, ()>;
    /// A peer by marked id.
    fn peer<'a>(&'a self, account: &'a str, id: i64) -> BoxFuture<'a, Option<Peer>>;
    /// A peer by username.
    fn peer_by_username<'a>(
        &'a self,
        account: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Option<Peer>>;
    /// A peer by phone.
    fn peer_by_phone<'a>(&'a self, account: &'a str, phone: &'a str)
    -> BoxFuture<'a, Option<Peer>>;
    /// The self user.
    fn self_user<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<Peer>>;
    /// Up to `limit` peers with ids above `after`, in id order.
    fn peers<'a>(
        &'a self,
        account: &'a str,
        after: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'a, Vec<Peer>>;
    /// Number of cached peers.
    fn peer_count<'a>(&'a self, account: &'a str) -> BoxFuture<'a, u64>;
    /// Removes a cached peer.
    fn remove_peer<'a>(&'a self, account: &'a str, id: i64) -> BoxFuture<'a, ()>;
    /// Syncs buffered writes.
    fn flush(&self) -> BoxFuture<'_, ()>;
    /// Folds everything into the index; returns the checkpoint LSN.
    fn checkpoint(&self) -> BoxFuture<'_, u64>;
    /// Checkpoints and closes; later calls return `Error::Closed`.
    fn close(&self) -> BoxFuture<'_, ()>;
    /// Sizes, record counts, log length, last checkpoint, peers per account.
    fn stats(&self) -> BoxFuture<'_, Stats>;
}

fn read<'a, S, T, F>(s: &'a S, account: &str, f: F) -> BoxFuture<'a, T>
where
    S: AccountSource + ?Sized,
    T: Send + 'static,
    F: FnOnce(&Account) -> Result<T> + Send + 'static,
{
    let acc = s.source_account(account);
    let offload = s.offload_reads();
    Box::pin(async move {
        let acc = acc?;
        if offload {
            crate::blocking::off_runtime("running a read", move || f(&acc)).await
        } else {
            f(&acc)
        }
    })
}

fn write<'a, S, F>(s: &'a S, account: &str, f: F) -> BoxFuture<'a, ()>
where
    S: AccountSource + ?Sized,
    F: FnOnce(&Account) -> Pending<u64>,
{
    let pending = s.source_account(account).map(|acc| f(&acc));
    Box::pin(async move { pending?.await.map(drop) })
}

impl<S: AccountSource> SessionStore for S {
    fn accounts(&self) -> BoxFuture<'_, Vec<String>> {
        read(self, DEFAULT_ACCOUNT, |a| a.all_accounts())
    }
    fn delete_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.delete_self_async())
    }
    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<Session>> {
        read(self, account, |a| a.session())
    }
    fn save<'a>(&'a self, account: &'a str, session: &'a Session) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.save_async(session))
    }
    fn home_dc<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<i32>> {
        read(self, account, |a| a.home_dc())
    }
    fn set_home_dc<'a>(&'a self, account: &'a str, dc: i32) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_home_dc_async(dc))
    }
    fn dc<'a>(&'a self, account: &'a str, id: i32) -> BoxFuture<'a, Option<DataCenter>> {
        read(self, account, move |a| a.dc(id))
    }
    fn dcs<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<DataCenter>> {
        read(self, account, |a| a.dcs())
    }
    fn set_dc<'a>(&'a self, account: &'a str, dc: DataCenter) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_dc_async(dc))
    }
    fn remove_dc<'a>(&'a self, account: &'a str, id: i32) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.remove_dc_async(id))
    }
    fn user<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<User>> {
        read(self, account, |a| a.user())
    }
    fn set_user<'a>(&'a self, account: &'a str, user: Option<User>) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_user_async(user))
    }
    fn update_state<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<UpdateState>> {
        read(self, account, |a| a.update_state())
    }
    fn set_update_state<'a>(
        &'a self,
        account: &'a str,
        change: UpdateStateChange,
    ) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_update_state_async(change))
    }
    fn channel_pts<'a>(&'a self, account: &'a str, channel: i64) -> BoxFuture<'a, Option<i32>> {
        read(self, account, move |a| a.channel_pts(channel))
    }
    fn remove_channel<'a>(&'a self, account: &'a str, channel: i64) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.remove_channel_async(channel))
    }
    fn app_fields<'a>(&'a self, account: &'a str) -> BoxFuture<'a, AppFields> {
        read(self, account, |a| a.app_fields())
    }
    fn set_app_fields<'a>(&'a self, account: &'a str, app: AppFields) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_app_fields_async(app))
    }
    fn min_peers<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<MinPeerContext>> {
        read(self, account, |a| a.min_peers())
    }
    fn set_min_peers<'a>(
        &'a self,
        account: &'a str,
        contexts: &'a [MinPeerContext],
    ) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_min_peers_async(contexts))
    }
    fn remove_min_peers<'a>(&'a self, account: &'a str, user_ids: &'a [i64]) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.remove_min_peers_async(user_ids))
    }
    fn login_token<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<LoginToken>> {
        read(self, account, |a| a.login_token())
    }
    fn set_login_token<'a>(
        &'a self,
        account: &'a str,
        token: Option<LoginToken>,
    ) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_login_token_async(token))
    }
    fn dc_endpoints<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<DcEndpoint>> {
        read(self, account, |a| a.dc_endpoints())
    }
    fn set_dc_endpoints<'a>(
        &'a self,
        account: &'a str,
        endpoints: Vec<DcEndpoint>,
    ) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.set_dc_endpoints_async(endpoints))
    }
    fn cache_peers<'a>(
        &'a self,
        account: &'a str,
        peers: &'a [Peer],
        durability: Option<Durability>,
    ) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.cache_peers_async(peers, durability))
    }
    fn restore_peers<'a>(
        &'a self,
        account: &'a str,
        peers: &'a [Peer],
        durability: Option<Durability>,
    ) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.restore_peers_async(peers, durability))
    }
    fn peer<'a>(&'a self, account: &'a str, id: i64) -> BoxFuture<'a, Option<Peer>> {
        read(self, account, move |a| a.peer(id))
    }
    fn peer_by_username<'a>(
        &'a self,
        account: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Option<Peer>> {
        let name = name.to_owned();
        read(self, account, move |a| a.peer_by_username(&name))
    }
    fn peer_by_phone<'a>(
        &'a self,
        account: &'a str,
        phone: &'a str,
    ) -> BoxFuture<'a, Option<Peer>> {
        let phone = phone.to_owned();
        read(self, account, move |a| a.peer_by_phone(&phone))
    }
    fn self_user<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<Peer>> {
        read(self, account, |a| a.self_user())
    }
    fn peers<'a>(
        &'a self,
        account: &'a str,
        after: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'a, Vec<Peer>> {
        read(self, account, move |a| a.peers(after, limit))
    }
    fn peer_count<'a>(&'a self, account: &'a str) -> BoxFuture<'a, u64> {
        read(self, account, |a| a.peer_count())
    }
    fn remove_peer<'a>(&'a self, account: &'a str, id: i64) -> BoxFuture<'a, ()> {
        write(self, account, |a| a.remove_peer_async(id))
    }
    fn flush(&self) -> BoxFuture<'_, ()> {
        write(self, DEFAULT_ACCOUNT, |a| a.control_async(Control::Flush))
    }
    fn checkpoint(&self) -> BoxFuture<'_, u64> {
        let pending = self
            .source_account(DEFAULT_ACCOUNT)
            .map(|a| a.control_async(Control::Checkpoint));
        Box::pin(async move { pending?.await })
    }
    fn close(&self) -> BoxFuture<'_, ()> {
        self.source_close()
    }
    fn stats(&self) -> BoxFuture<'_, Stats> {
        let stats = self.source_stats();
        Box::pin(async move { stats })
    }
}

impl AccountSource for MemoryStore {
    fn source_account(&self, name: &str) -> Result<Account> {
        self.account(name)
    }
    fn offload_reads(&self) -> bool {
        false
    }
    fn source_close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn source_stats(&self) -> Result<Stats> {
        self.stats()
    }
}

impl AccountSource for Store {
    fn source_account(&self, name: &str) -> Result<Account> {
        self.account(name)
    }
    fn offload_reads(&self) -> bool {
        true
    }
    fn source_close(&self) -> BoxFuture<'_, ()> {
        self.close_async()
    }
    fn source_stats(&self) -> Result<Stats> {
        self.stats()
    }
}
