//! `Account`: reads return plain values at once (the GIL released around the disk); writes
//! are queued at once and return an [`Ack`].

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sessiondb::{Session, UpdateState, UpdateStateChange, User};

use crate::ack::Ack;
use crate::convert::{DcRow, PeerIn, PeerRow, dc_in, dc_row, peer_in, peer_row};
use crate::errors::OrRaise;
use crate::store::Store;

/// (pts, qts, date, seq)
type StateRow = (i32, i32, i32, i32);
/// (id, dc, bot, username)
type UserRow = (i64, i32, bool, Option<String>);
/// (home_dc, dcs, user, update state, channel pts, takeout id)
type SnapshotRow = (
    Option<i32>,
    Vec<DcRow>,
    Option<UserRow>,
    Option<StateRow>,
    BTreeMap<i64, i32>,
    Option<i64>,
);
/// (api_id, test_mode, takeout_id, created_at, custom values)
type AppRow = (
    Option<i32>,
    bool,
    Option<i64>,
    Option<i64>,
    BTreeMap<String, Py<PyBytes>>,
);
/// What `save` takes of a DC: (id, ipv4, ipv6, auth_key).
type DcIn<'py> = (
    i32,
    Option<String>,
    Option<String>,
    Option<Bound<'py, PyBytes>>,
);

fn state_row(s: UpdateState) -> StateRow {
    (s.pts, s.qts, s.date, s.seq)
}

fn user_row(u: User) -> UserRow {
    (u.id, u.dc, u.bot, u.username)
}

fn state_of((pts, qts, date, seq): StateRow) -> UpdateState {
    UpdateState {
        pts,
        qts,
        date,
        seq,
    }
}

/// One account of a [`Store`].
#[pyclass(module = "sessiondb._native", frozen)]
pub struct Account {
    inner: sessiondb::Account,
    /// Keeps the store open while the handle lives.
    _store: Py<Store>,
}

impl Account {
    pub fn new(inner: sessiondb::Account, store: Py<Store>) -> Account {
        Account {
            inner,
            _store: store,
        }
    }

    fn read<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&sessiondb::Account) -> sessiondb::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| f(&self.inner)).or_raise()
    }
}

#[pymethods]
impl Account {
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    // ---- reads ---------------------------------------------------------------------------

    /// (home_dc, dcs, user, update_state, channels, takeout_id) of the account as stored.
    fn snapshot(&self, py: Python<'_>) -> PyResult<SnapshotRow> {
        let session = self.read(py, |a| a.session())?.unwrap_or_default();
        Ok((
            session.home_dc,
            session.dcs.iter().map(|dc| dc_row(py, dc)).collect(),
            session.user.map(user_row),
            session.update_state.map(state_row),
            session.channels,
            session.app.takeout_id,
        ))
    }

    /// The ids of the account's DCs (no keys copied out).
    fn dc_ids(&self, py: Python<'_>) -> PyResult<Vec<i32>> {
        Ok(self.read(py, |a| a.dcs())?.iter().map(|dc| dc.id).collect())
    }

    fn update_state(&self, py: Python<'_>) -> PyResult<Option<StateRow>> {
        Ok(self.read(py, |a| a.update_state())?.map(state_row))
    }

    fn channel_pts(&self, py: Python<'_>, channel_id: i64) -> PyResult<Option<i32>> {
        self.read(py, |a| a.channel_pts(channel_id))
    }

    fn channels(&self, py: Python<'_>) -> PyResult<BTreeMap<i64, i32>> {
        self.read(py, |a| a.channels())
    }

    fn user(&self, py: Python<'_>) -> PyResult<Option<UserRow>> {
        Ok(self.read(py, |a| a.user())?.map(user_row))
    }

    /// A cached peer by marked id, as (id, kind, access_hash, min, usernames, phone, name,
    /// is_self, updated_at).
    fn peer(&self, py: Python<'_>, id: i64) -> PyResult<Option<PeerRow>> {
        Ok(self.read(py, |a| a.peer(id))?.map(peer_row))
    }

    fn peer_by_username(&self, py: Python<'_>, username: &str) -> PyResult<Option<PeerRow>> {
        Ok(self
            .read(py, |a| a.peer_by_username(username))?
            .map(peer_row))
    }

    fn peer_by_phone(&self, py: Python<'_>, phone: &str) -> PyResult<Option<PeerRow>> {
        Ok(self.read(py, |a| a.peer_by_phone(phone))?.map(peer_row))
    }

    /// The cached peer with the lowest id whose display name is `name`: a scan of the cache
    /// (there is no index by name).
    fn peer_by_name(&self, py: Python<'_>, name: &str) -> PyResult<Option<PeerRow>> {
        let found = self.read(py, |a| {
            let mut after = None;
            loop {
                let page = a.peers(after, 1024)?;
                let Some(last) = page.last() else {
                    return Ok(None);
                };
                after = Some(last.id);
                if let Some(p) = page.into_iter().find(|p| p.name.as_deref() == Some(name)) {
                    return Ok(Some(p));
                }
            }
        })?;
        Ok(found.map(peer_row))
    }

    /// Up to `limit` peers with ids above `after`, in id order.
    #[pyo3(signature = (after = None, limit = 1000))]
    fn peers(&self, py: Python<'_>, after: Option<i64>, limit: usize) -> PyResult<Vec<PeerRow>> {
        Ok(self
            .read(py, |a| a.peers(after, limit))?
            .into_iter()
            .map(peer_row)
            .collect())
    }

    fn peer_count(&self, py: Python<'_>) -> PyResult<u64> {
        self.read(py, |a| a.peer_count())
    }

    // ---- writes (durable unless said) ------------------------------------------------------

    /// Inserts or replaces one DC; `ipv4` as `ip:port`, `ipv6` as `[ip]:port`.
    #[pyo3(signature = (id, ipv4 = None, ipv6 = None, auth_key = None, server_salt = 0, time_offset = 0, flags = 0))]
    #[allow(clippy::too_many_arguments)]
    fn set_dc(
        &self,
        id: i32,
        ipv4: Option<&str>,
        ipv6: Option<&str>,
        auth_key: Option<&[u8]>,
        server_salt: i64,
        time_offset: i32,
        flags: u32,
    ) -> PyResult<Ack> {
        let mut dc = dc_in(id, ipv4, ipv6, auth_key)?;
        dc.server_salt = server_salt;
        dc.time_offset = time_offset;
        dc.flags = flags;
        Ok(Ack::pending(self.inner.set_dc_async(dc)))
    }

    fn set_home_dc(&self, id: i32) -> Ack {
        Ack::pending(self.inner.set_home_dc_async(id))
    }

    fn remove_dc(&self, id: i32) -> Ack {
        Ack::pending(self.inner.remove_dc_async(id))
    }

    #[pyo3(signature = (id, dc, bot, username = None))]
    fn set_user(&self, id: i64, dc: i32, bot: bool, username: Option<String>) -> Ack {
        let user = User {
            id,
            dc,
            bot,
            username,
        };
        Ack::pending(self.inner.set_user_async(Some(user)))
    }

    fn clear_user(&self) -> Ack {
        Ack::pending(self.inner.set_user_async(None))
    }

    /// Replaces pts, qts, date and seq.
    fn set_update_state(&self, pts: i32, qts: i32, date: i32, seq: i32) -> Ack {
        let state = state_of((pts, qts, date, seq));
        Ack::pending(
            self.inner
                .set_update_state_async(UpdateStateChange::All(state)),
        )
    }

    /// Forgets the common update state (channels keep theirs).
    fn clear_update_state(&self) -> Ack {
        Ack::pending(self.inner.clear_update_state_async())
    }

    fn set_channel_pts(&self, channel_id: i64, pts: i32) -> Ack {
        let change = UpdateStateChange::Channel {
            id: channel_id,
            pts,
        };
        Ack::pending(self.inner.set_update_state_async(change))
    }

    fn remove_channel(&self, channel_id: i64) -> Ack {
        Ack::pending(self.inner.remove_channel_async(channel_id))
    }

    /// Replaces the common state and every channel's pts (others forgotten), in one batch.
    fn replace_update_state(&self, state: StateRow, channels: BTreeMap<i64, i32>) -> Ack {
        Ack::pending(
            self.inner
                .replace_update_state_async(state_of(state), channels),
        )
    }

    /// (api_id, test_mode, takeout_id, created_at, custom) of the account.
    fn app_fields(&self, py: Python<'_>) -> PyResult<AppRow> {
        let app = self.read(py, |a| a.app_fields())?;
        let custom = app
            .custom
            .into_iter()
            .map(|(k, v)| (k, PyBytes::new(py, &v).unbind()))
            .collect();
        Ok((
            app.api_id,
            app.test_mode,
            app.takeout_id,
            app.created_at,
            custom,
        ))
    }

    /// Replaces the app fields: api_id, test_mode, takeout_id, created_at and the custom
    /// values (key → bytes; at most 64, each at most 4 KiB).
    fn set_app_fields(
        &self,
        api_id: Option<i32>,
        test_mode: bool,
        takeout_id: Option<i64>,
        created_at: Option<i64>,
        custom: BTreeMap<String, Vec<u8>>,
    ) -> Ack {
        let app = sessiondb::AppFields {
            api_id,
            test_mode,
            takeout_id,
            created_at,
            custom,
        };
        Ack::pending(self.inner.set_app_fields_async(app))
    }

    /// Sets or clears the takeout session id (an app field).
    fn set_takeout_id(&self, py: Python<'_>, takeout_id: Option<i64>) -> PyResult<Ack> {
        let mut app = self.read(py, |a| a.app_fields())?;
        app.takeout_id = takeout_id;
        Ok(Ack::pending(self.inner.set_app_fields_async(app)))
    }

    /// Caches peers given as (id, kind, access_hash, username or [usernames], phone, name,
    /// is_self), each replacing what was cached under its id, with the store's peer
    /// durability (buffered unless the store says otherwise).
    fn cache_peers(&self, peers: Vec<PeerIn>) -> PyResult<Ack> {
        let peers = peers
            .into_iter()
            .map(peer_in)
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Ack::pending(self.inner.cache_peers_async(&peers, None)))
    }

    fn remove_peer(&self, id: i64) -> Ack {
        Ack::pending(self.inner.remove_peer_async(id))
    }

    /// Replaces the DCs (each given as (id, ipv4, ipv6, auth_key)), home DC, user, update
    /// state and channel pts in one durable batch, keeping the app fields; then checkpoints.
    fn save(
        &self,
        py: Python<'_>,
        home_dc: Option<i32>,
        dcs: Vec<DcIn<'_>>,
        user: Option<UserRow>,
        state: Option<StateRow>,
        channels: BTreeMap<i64, i32>,
    ) -> PyResult<Ack> {
        let dcs = dcs
            .iter()
            .map(|(id, v4, v6, key)| {
                dc_in(
                    *id,
                    v4.as_deref(),
                    v6.as_deref(),
                    key.as_ref().map(|k| k.as_bytes()),
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        let session = Session {
            home_dc,
            dcs,
            user: user.map(|(id, dc, bot, username)| User {
                id,
                dc,
                bot,
                username,
            }),
            update_state: state.map(state_of),
            channels,
            app: self.read(py, |a| a.app_fields())?,
        };
        Ok(Ack::pending(self.inner.save_async(&session)))
    }
}
