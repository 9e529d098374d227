//! `PgStore`: the shared backend behind the same [`SessionStore`] trait as the embedded
//! store. Reads go through one pipelined connection; writes through the group-commit
//! writer (its own connection). A write to an account this worker holds no lease on
//! acquires one first (`Error::AccountLocked` if another worker holds it); a lease that was
//! lost stays lost until [`PgStore::acquire`] is called again, so a worker that was paused
//! never writes on over a successor's data unawares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::connection::connect_client;
use super::extras;
use super::lease::{self, Lease};
use super::peers::{self, By};
use super::plan::{Plan, Prepared};

use super::session::{self, Reader};
use super::writer::{self, Effect, Request, Shared, Slot};
use crate::error::{Error, Result};
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::maintenance::stats::Stats;
use crate::model::{
    AppFields, DataCenter, Peer, Session, UpdateState, UpdateStateChange, User, validate_account,
};
use crate::options::Durability;
use crate::session_store::{BoxFuture, SessionStore};

/// How a [`PgStore`] holds its leases.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// How long a lease lasts without renewal; the store renews every held lease at a third
    /// of it. A crashed worker's accounts are free again after this long.
    pub lease_ttl: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            lease_ttl: Duration::from_secs(30),
        }
    }
}

/// A session store on a shared PostgreSQL database (see the module docs).
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    /// The read connection, replaced when the server dropped it.
    reader: std::sync::RwLock<Arc<Connection>>,
    queue: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    shared: Arc<Shared>,
    closed: AtomicBool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("worker", &self.inner.shared.worker)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (a libpq-style connection string) as `worker`, the name other
    /// workers see as a lease's holder, and brings the schema up to date. Needs a tokio
    /// runtime with timers.
    pub async fn connect(url: &str, worker: &str) -> Result<PgStore> {
        PgStore::connect_with(url, worker, PgOptions::default()).await
    }

    /// [`PgStore::connect`] with options.
    pub async fn connect_with(url: &str, worker: &str, options: PgOptions) -> Result<PgStore> {
        if worker.is_empty() {
            return Err(Error::InvalidArgument("the worker name is empty".into()));
        }
        if options.lease_ttl < Duration::from_millis(30) {
            return Err(Error::InvalidArgument(
                "a lease lasts at least 30 ms".into(),
            ));
        }
        let reader = Connection::open(url).await?;
        let mut write_client = connect_client(url).await?;
        super::schema::migrate(&mut write_client).await?;
        let shared = Arc::new(Shared {
            worker: worker.to_owned(),
            ttl: options.lease_ttl,
            leases: Mutex::new(HashMap::new()),
            commits: Default::default(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(writer::run(
            url.to_owned(),
            write_client,
            shared.clone(),
            rx,
        ));
        let inner = Arc::new(Inner {
            url: url.to_owned(),
            reader: std::sync::RwLock::new(Arc::new(reader)),
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            shared,
            closed: AtomicBool::new(false),
        });
        tokio::spawn(renew_leases(Arc::downgrade(&inner), options.lease_ttl));
        Ok(PgStore { inner })
    }

    /// This worker's name.
    pub fn worker(&self) -> &str {
        &self.inner.shared.worker
    }

    /// Takes `account` for this worker (again, after a lost lease); the store renews it
    /// until [`PgStore::release`] or close. `Error::AccountLocked` names the holder.
    pub async fn acquire(&self, account: &str) -> Result<Lease> {
        self.open()?;
        let s = &self.inner.shared;
        let conn = self.inner.connection().await?;
        let lease = lease::acquire(&conn.client, &s.worker, account, s.ttl).await?;
        s.set(account, Some(Slot::Held(lease.clone())));
        Ok(lease)
    }

    /// The lease this worker holds on `account`, if any.
    pub fn lease(&self, account: &str) -> Option<Lease> {
        match self.inner.shared.slot(account) {
            Some(Slot::Held(l)) => Some(l),
            _ => None,
        }
    }

    /// Waits for the writes queued before, then gives `account` up.
    pub async fn release(&self, account: &str) -> Result<()> {
        self.barrier().await?;
        let slot = self.inner.shared.slot(account);
        self.inner.shared.set(account, None);
        match slot {
            Some(Slot::Held(l)) => {
                let conn = self.inner.connection().await?;
                lease::release(&conn.client, &l).await
            }
            _ => Ok(()),
        }
    }

    fn open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// The read connection, once the store is known to be open.
    async fn reader(&self) -> Result<Arc<Connection>> {
        self.open()?;
        self.inner.connection().await
    }

    /// Queues a request now (so dropping the future does not cancel it) and waits for it.
    fn submit(
        &self,
        account: Option<&str>,
        effect: Effect,
        plan: Result<Plan>,
    ) -> BoxFuture<'_, ()> {
        let queued: Result<oneshot::Receiver<Result<()>>> = (|| {
            if let Some(a) = account {
                validate_account(a)?;
            }
            let plan = plan?;
            let (done, rx) = oneshot::channel();
            let request = Request {
                account: account.map(str::to_owned),
                effect,
                plan,
                done,
            };
            let queue = self.inner.queue.lock().map_err(|_| Error::Closed)?;
            let sender = queue.as_ref().ok_or(Error::Closed)?;
            sender.send(request).map_err(|_| Error::Closed)?;
            Ok(rx)
        })();
        Box::pin(async move { queued?.await.map_err(|_| Error::Closed)? })
    }

    fn write<'a>(&'a self, account: &'a str, plan: Result<Plan>) -> BoxFuture<'a, ()> {
        self.submit(Some(account), Effect::Register, plan)
    }

    fn barrier(&self) -> BoxFuture<'_, ()> {
        self.submit(None, Effect::Register, Ok(Plan::default()))
    }
}

/// One connection with its prepared statements.
struct Connection {
    client: tokio_postgres::Client,
    prepared: Prepared,
}

impl Connection {
    async fn open(url: &str) -> Result<Connection> {
        Ok(Connection {
            client: connect_client(url).await?,
            prepared: Prepared::default(),
        })
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            client: &self.client,
            prepared: &self.prepared,
        }
    }
}

impl Inner {
    /// The read connection, reconnected first if the server dropped it (a restart, a
    /// network cut): a store outlives its connections.
    async fn connection(&self) -> Result<Arc<Connection>> {
        let current = self.reader.read().map_err(|_| Error::Closed)?.clone();
        if !current.client.is_closed() {
            return Ok(current);
        }
        let fresh = Arc::new(Connection::open(&self.url).await?);
        if let Ok(mut slot) = self.reader.write() {
            *slot = fresh.clone();
        }
        Ok(fresh)
    }
}

/// Renews every held lease at a third of its life; a lease the server no longer grants
/// becomes lost. Ends when the store is gone.
async fn renew_leases(inner: Weak<Inner>, ttl: Duration) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let held: Vec<Lease> = match inner.shared.leases.lock() {
            Ok(m) => m
                .values()
                .filter_map(|s| match s {
                    Slot::Held(l) => Some(l.clone()),
                    Slot::Lost(_) => None,
                })
                .collect(),
            Err(_) => return,
        };
        for l in held {
            let Ok(conn) = inner.connection().await else {
                break; // the server is away: try again next round
            };
            if let Err(Error::LeaseLost { token, .. }) = lease::renew(&conn.client, &l, ttl).await {
                inner.shared.mark_lost(&l.account, token);
            }
        }
    }
}

/// A read: the account checked, then `$body` with `$r` bound to the store's reader.
macro_rules! read {
    ($self:ident, $account:expr, |$r:ident| $body:expr) => {
        Box::pin(async move {
            validate_account($account)?;
            let conn = $self.reader().await?;
            let $r = conn.reader();
            $body.await
        })
    };
}

impl SessionStore for PgStore {
    fn accounts(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { self.reader().await?.reader().accounts().await })
    }
    fn delete_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, ()> {
        let plan = Ok(session::delete_account(account));
        self.submit(Some(account), Effect::Delete, plan)
    }
    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<Session>> {
        read!(self, account, |r| r.load(account))
    }
    fn save<'a>(&'a self, account: &'a str, s: &'a Session) -> BoxFuture<'a, ()> {
        self.write(account, session::save(account, s))
    }
    fn home_dc<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<i32>> {
        read!(self, account, |r| r.home_dc(account))
    }
    fn set_home_dc<'a>(&'a self, account: &'a str, dc: i32) -> BoxFuture<'a, ()> {
        self.write(account, Ok(session::set_home_dc(account, Some(dc))))
    }
    fn dc<'a>(&'a self, account: &'a str, id: i32) -> BoxFuture<'a, Option<DataCenter>> {
        read!(self, account, |r| async move {
            Ok(r.dcs(account, Some(id)).await?.pop())
        })
    }
    fn dcs<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<DataCenter>> {
        read!(self, account, |r| r.dcs(account, None))
    }
    fn set_dc<'a>(&'a self, account: &'a str, dc: DataCenter) -> BoxFuture<'a, ()> {
        self.write(account, Ok(session::set_dc(account, &dc)))
    }
    fn remove_dc<'a>(&'a self, account: &'a str, id: i32) -> BoxFuture<'a, ()> {
        self.write(account, Ok(session::remove_dc(account, id)))
    }
    fn user<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<User>> {
        read!(self, account, |r| r.user(account))
    }
    fn set_user<'a>(&'a self, account: &'a str, user: Option<User>) -> BoxFuture<'a, ()> {
        self.write(account, session::set_user(account, user.as_ref()))
    }
    fn update_state<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<UpdateState>> {
        read!(self, account, |r| r.update_state(account))
    }
    fn set_update_state<'a>(
        &'a self,
        account: &'a str,
        change: UpdateStateChange,
    ) -> BoxFuture<'a, ()> {
        self.write(account, Ok(session::update_state(account, change)))
    }
    fn channel_pts<'a>(&'a self, account: &'a str, channel: i64) -> BoxFuture<'a, Option<i32>> {
        read!(self, account, |r| async move {
            Ok(r.channels(account, Some(channel)).await?.remove(&channel))
        })
    }
    fn remove_channel<'a>(&'a self, account: &'a str, channel: i64) -> BoxFuture<'a, ()> {
        self.write(account, Ok(session::remove_channel(account, channel)))
    }
    fn app_fields<'a>(&'a self, account: &'a str) -> BoxFuture<'a, AppFields> {
        read!(self, account, |r| r.app_fields(account))
    }
    fn set_app_fields<'a>(&'a self, account: &'a str, app: AppFields) -> BoxFuture<'a, ()> {
        self.write(account, session::set_app_fields(account, &app))
    }
    fn min_peers<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<MinPeerContext>> {
        read!(self, account, |r| r.min_peers(account))
    }
    fn set_min_peers<'a>(
        &'a self,
        account: &'a str,
        contexts: &'a [MinPeerContext],
    ) -> BoxFuture<'a, ()> {
        self.write(account, Ok(extras::set_min_peers(account, contexts)))
    }
    fn remove_min_peers<'a>(&'a self, account: &'a str, user_ids: &'a [i64]) -> BoxFuture<'a, ()> {
        self.write(account, Ok(extras::remove_min_peers(account, user_ids)))
    }
    fn login_token<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<LoginToken>> {
        read!(self, account, |r| r.login_token(account))
    }
    fn set_login_token<'a>(
        &'a self,
        account: &'a str,
        token: Option<LoginToken>,
    ) -> BoxFuture<'a, ()> {
        self.write(
            account,
            Ok(extras::set_login_token(account, token.as_ref())),
        )
    }
    fn dc_endpoints<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Vec<DcEndpoint>> {
        read!(self, account, |r| r.dc_endpoints(account))
    }
    fn set_dc_endpoints<'a>(
        &'a self,
        account: &'a str,
        endpoints: Vec<DcEndpoint>,
    ) -> BoxFuture<'a, ()> {
        self.write(account, extras::set_dc_endpoints(account, &endpoints))
    }
    /// Every batch is committed before it is acknowledged, whatever `durability` says.
    fn cache_peers<'a>(
        &'a self,
        account: &'a str,
        peers: &'a [Peer],
        _durability: Option<Durability>,
    ) -> BoxFuture<'a, ()> {
        self.write(account, peers::cache(account, peers, false))
    }
    /// As `cache_peers`, each peer keeping its `updated_at`.
    fn restore_peers<'a>(
        &'a self,
        account: &'a str,
        peers: &'a [Peer],
        _durability: Option<Durability>,
    ) -> BoxFuture<'a, ()> {
        self.write(account, peers::cache(account, peers, true))
    }
    fn peer<'a>(&'a self, account: &'a str, id: i64) -> BoxFuture<'a, Option<Peer>> {
        read!(self, account, |r| async move {
            peers::get(&r, account, By::Id(id)).await
        })
    }
    fn peer_by_username<'a>(
        &'a self,
        account: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Option<Peer>> {
        read!(self, account, |r| async move {
            peers::get(&r, account, By::Username(name)).await
        })
    }
    fn peer_by_phone<'a>(
        &'a self,
        account: &'a str,
        phone: &'a str,
    ) -> BoxFuture<'a, Option<Peer>> {
        read!(self, account, |r| async move {
            peers::get(&r, account, By::Phone(phone)).await
        })
    }
    fn self_user<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Option<Peer>> {
        read!(self, account, |r| async move {
            peers::get(&r, account, By::SelfUser).await
        })
    }
    fn peers<'a>(
        &'a self,
        account: &'a str,
        after: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'a, Vec<Peer>> {
        read!(self, account, |r| async move {
            peers::page(&r, account, after, limit).await
        })
    }
    fn peer_count<'a>(&'a self, account: &'a str) -> BoxFuture<'a, u64> {
        read!(
            self,
            account,
            |r| async move { peers::count(&r, account).await }
        )
    }
    fn remove_peer<'a>(&'a self, account: &'a str, id: i64) -> BoxFuture<'a, ()> {
        self.write(account, Ok(peers::remove(account, id)))
    }
    /// Waits for every write queued before it (each is committed when acknowledged).
    fn flush(&self) -> BoxFuture<'_, ()> {
        self.barrier()
    }
    /// As `flush`; returns the number of transactions this store committed.
    fn checkpoint(&self) -> BoxFuture<'_, u64> {
        Box::pin(async move {
            self.barrier().await?;
            Ok(self.inner.shared.commits.load(Ordering::Relaxed))
        })
    }
    /// Lets queued writes commit, releases this worker's leases, and closes.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let queue = self.inner.queue.lock().ok().and_then(|mut q| q.take());
            self.inner.closed.store(true, Ordering::Release);
            drop(queue);
            let writer = self.inner.writer.lock().ok().and_then(|mut w| w.take());
            if let Some(w) = writer {
                let _ = w.await;
            }
            let held: Vec<Lease> = match self.inner.shared.leases.lock() {
                Ok(mut m) => m
                    .drain()
                    .filter_map(|(_, s)| match s {
                        Slot::Held(l) => Some(l),
                        Slot::Lost(_) => None,
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            for l in held {
                let conn = self.inner.connection().await?;
                lease::release(&conn.client, &l).await?;
            }
            Ok(())
        })
    }
    /// Per-account counts; `log_syncs`, `last_lsn` and `checkpoint_lsn` count this store's
    /// commits. The other figures are the embedded store's and stay 0.
    fn stats(&self) -> BoxFuture<'_, Stats> {
        Box::pin(async move {
            let accounts = self.reader().await?.reader().account_stats().await?;
            let commits = self.inner.shared.commits.load(Ordering::Relaxed);
            Ok(Stats {
                log_syncs: commits,
                checkpoint_lsn: commits,
                last_lsn: commits,
                accounts,
                ..Stats::default()
            })
        })
    }
}
