//! A consistent read view: overlay layers (newest first) over the checkpointed tables.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::Result;
use crate::extras::{ExtrasRecord, MinPeerContext};
use crate::index::{self, Base, SessionRecord};
use crate::model::{AppFields, DataCenter, Peer, UpdateState, User};
use crate::state::overlay::{AccountDelta, Overlay};

/// Overlay layers over the checkpointed index.
pub(crate) struct View<'a> {
    /// Newest first: the active layer, then the frozen one being checkpointed.
    layers: [Option<&'a Overlay>; 2],
    base: Option<&'a Base>,
}

impl<'a> View<'a> {
    pub fn new(active: &'a Overlay, frozen: Option<&'a Overlay>, base: Option<&'a Base>) -> Self {
        View {
            layers: [Some(active), frozen],
            base,
        }
    }

    fn deltas(&self, account: &str) -> impl Iterator<Item = &'a AccountDelta> {
        self.layers
            .into_iter()
            .flatten()
            .filter_map(move |l| l.accounts.get(account))
    }

    /// The newest layer's answer, or the index's when no layer knows.
    fn point<T>(
        &self,
        account: &str,
        pick: impl Fn(&'a AccountDelta) -> Option<Option<T>>,
        base: impl FnOnce(&Base) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        for d in self.deltas(account) {
            if let Some(v) = pick(d) {
                return Ok(v);
            }
            if d.wiped {
                return Ok(None);
            }
        }
        match self.base {
            Some(txn) => base(txn),
            None => Ok(None),
        }
    }

    /// A whole per-account map: the index's, with each layer's changes applied oldest first.
    fn map<K: Ord + Clone + 'a, V: Clone + 'a>(
        &self,
        account: &str,
        pick: impl Fn(&'a AccountDelta) -> &'a BTreeMap<K, Option<V>>,
        base: impl FnOnce(&Base) -> Result<BTreeMap<K, V>>,
    ) -> Result<BTreeMap<K, V>> {
        let deltas: Vec<&AccountDelta> = self.deltas(account).collect();
        let cut = deltas.iter().position(|d| d.wiped);
        let mut out = match (cut, self.base) {
            (None, Some(txn)) => base(txn)?,
            _ => BTreeMap::new(),
        };
        let upto = cut.map_or(deltas.len(), |c| c + 1);
        for d in deltas[..upto].iter().rev() {
            for (k, v) in pick(d) {
                match v {
                    Some(v) => out.insert(k.clone(), v.clone()),
                    None => out.remove(k),
                };
            }
        }
        Ok(out)
    }

    pub fn account_exists(&self, account: &str) -> Result<bool> {
        let found = self.point(
            account,
            |d| d.exists.map(|e| e.then_some(())),
            |txn| Ok(index::read::account_exists(txn, account)?.then_some(())),
        )?;
        Ok(found.is_some())
    }

    pub fn accounts(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = match self.base {
            Some(txn) => index::read::accounts(txn)?,
            None => Vec::new(),
        };
        for layer in self.layers.iter().rev().flatten() {
            for (name, d) in &layer.accounts {
                match d.exists {
                    Some(true) if !names.contains(name) => names.push(name.clone()),
                    Some(false) => names.retain(|n| n != name),
                    _ => {}
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn session_row(&self, account: &str) -> Result<SessionRecord> {
        match self.base {
            Some(txn) => index::read::session(txn, account),
            None => Ok(SessionRecord::default()),
        }
    }

    pub fn home_dc(&self, account: &str) -> Result<Option<i32>> {
        self.point(
            account,
            |d| d.home_dc,
            |_| Ok(self.session_row(account)?.home_dc),
        )
    }

    pub fn user(&self, account: &str) -> Result<Option<User>> {
        self.point(
            account,
            |d| d.user.clone(),
            |_| Ok(self.session_row(account)?.user),
        )
    }

    pub fn self_peer_id(&self, account: &str) -> Result<Option<i64>> {
        self.point(
            account,
            |d| d.self_peer,
            |_| Ok(self.session_row(account)?.self_peer),
        )
    }

    pub fn peer_count(&self, account: &str) -> Result<u64> {
        let mut total: i64 = 0;
        let mut wiped = false;
        for d in self.deltas(account) {
            total += d.peer_count_delta;
            if d.wiped {
                wiped = true;
                break;
            }
        }
        if !wiped {
            total += self.session_row(account)?.peer_count as i64;
        }
        Ok(total.max(0) as u64)
    }

    pub fn dc(&self, account: &str, id: i32) -> Result<Option<DataCenter>> {
        self.point(
            account,
            |d| d.dcs.get(&id).cloned(),
            |txn| index::read::dc(txn, account, id),
        )
    }

    pub fn dcs(&self, account: &str) -> Result<BTreeMap<i32, DataCenter>> {
        self.map(account, |d| &d.dcs, |txn| index::read::dcs(txn, account))
    }

    pub fn update_state(&self, account: &str) -> Result<Option<UpdateState>> {
        self.point(
            account,
            |d| d.update_state,
            |txn| index::read::update_state(txn, account),
        )
    }

    pub fn channel_pts(&self, account: &str, id: i64) -> Result<Option<i32>> {
        self.point(
            account,
            |d| d.channels.get(&id).copied(),
            |txn| index::read::channel(txn, account, id),
        )
    }

    pub fn channels(&self, account: &str) -> Result<BTreeMap<i64, i32>> {
        self.map(
            account,
            |d| &d.channels,
            |txn| index::read::channels(txn, account),
        )
    }

    pub fn app(&self, account: &str) -> Result<Option<AppFields>> {
        self.point(
            account,
            |d| d.app.clone().map(Some),
            |txn| index::read::app(txn, account),
        )
    }

    pub fn peer(&self, account: &str, id: i64) -> Result<Option<Peer>> {
        self.point(
            account,
            |d| d.peers.get(&id).cloned(),
            |txn| index::read::peer(txn, account, id),
        )
    }

    /// Up to `limit` peers with ids above `after`, in id order: a merge of every layer's
    /// range and the index's range, newest source winning.
    pub fn peers(&self, account: &str, after: Option<i64>, limit: usize) -> Result<Vec<Peer>> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let deltas: Vec<&AccountDelta> = self.deltas(account).collect();
        let cut = deltas.iter().position(|d| d.wiped);
        let used = &deltas[..cut.map_or(deltas.len(), |c| c + 1)];
        let mut layers: Vec<_> = used
            .iter()
            .map(|d| d.peers.range((lower, Bound::Unbounded)).peekable())
            .collect();
        let start = match after {
            Some(i64::MAX) => None,
            Some(a) => Some(a + 1),
            None => Some(i64::MIN),
        };
        let (mut base, number) = match (cut, self.base, start) {
            (None, Some(base), Some(start)) => match base.peers_from(account, start)? {
                Some((n, range)) => (Some(range.peekable()), n),
                None => (None, 0),
            },
            _ => (None, 0),
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let base_key = match base.as_mut().and_then(|b| b.peek()) {
                Some(Ok((k, _))) => Some(k.value().1),
                Some(Err(_)) => {
                    // Surface the storage error through next().
                    if let Some(Some(Err(e))) = base.as_mut().map(|b| b.next()) {
                        return Err(e.into());
                    }
                    None
                }
                None => None,
            };
            let Some(key) = layers
                .iter_mut()
                .filter_map(|l| l.peek().map(|(k, _)| **k))
                .chain(base_key)
                .min()
            else {
                break;
            };
            let mut chosen: Option<Option<Peer>> = None;
            for l in &mut layers {
                if let Some((_, v)) = l.next_if(|(k, _)| **k == key) {
                    chosen.get_or_insert_with(|| v.clone());
                }
            }
            if base_key == Some(key)
                && let Some(Some(Ok((_, v)))) = base.as_mut().map(|b| b.next())
                && chosen.is_none()
                && let Some(b) = self.base
            {
                chosen = Some(Some(b.decode_peer(number, key, v.value())?));
            }
            if let Some(Some(p)) = chosen {
                out.push(p);
            }
        }
        Ok(out)
    }

    pub fn min_peer(&self, account: &str, user_id: i64) -> Result<Option<MinPeerContext>> {
        self.point(
            account,
            |d| d.min_peers.get(&user_id).copied(),
            |txn| index::read::min_peer(txn, account, user_id),
        )
    }

    pub fn min_peers(&self, account: &str) -> Result<BTreeMap<i64, MinPeerContext>> {
        self.map(
            account,
            |d| &d.min_peers,
            |txn| index::read::min_peers(txn, account),
        )
    }

    /// The extras row (empty when never set).
    pub fn extras(&self, account: &str) -> Result<ExtrasRecord> {
        let found = self.point(
            account,
            |d| d.extras.clone().map(Some),
            |txn| index::read::extras(txn, account),
        )?;
        Ok(found.unwrap_or_default())
    }

    pub fn peer_id_by_username(&self, account: &str, name: &str) -> Result<Option<i64>> {
        self.point(
            account,
            |d| d.usernames.get(name).copied(),
            |txn| index::read::by_username(txn, account, name),
        )
    }

    /// A peer by username: the layers' answer if they changed the name, else the index's,
    /// read with one descent when the hint holds (and replaced by a layer's newer version
    /// of that peer, if any).
    pub fn peer_by_username(&self, account: &str, name: &str) -> Result<Option<Peer>> {
        let mut from_base = None;
        let id = self.point(
            account,
            |d| d.usernames.get(name).copied(),
            |base| {
                from_base = index::read::peer_by_username(base, account, name)?;
                Ok(from_base.as_ref().map(|p| p.id))
            },
        )?;
        let found = match (id, from_base) {
            (None, _) => None,
            (Some(id), Some(p)) if p.id == id => {
                self.point(account, |d| d.peers.get(&id).cloned(), |_| Ok(Some(p)))?
            }
            (Some(id), _) => self.peer(account, id)?,
        };
        holds(found, "usernames", |p| {
            p.usernames.iter().any(|u| u == name)
        })
    }

    /// A peer by phone, which must hold that phone.
    pub fn peer_by_phone(&self, account: &str, phone: &str) -> Result<Option<Peer>> {
        let found = match self.peer_id_by_phone(account, phone)? {
            Some(id) => self.peer(account, id)?,
            None => None,
        };
        holds(found, "phones", |p| p.phone.as_deref() == Some(phone))
    }

    pub fn peer_id_by_phone(&self, account: &str, phone: &str) -> Result<Option<i64>> {
        self.point(
            account,
            |d| d.phones.get(phone).copied(),
            |txn| index::read::by_phone(txn, account, phone),
        )
    }
}

/// A peer found through the username or phone table must hold the name it was found by: a
/// damaged or edited table must not hand out another peer (and its access hash).
fn holds(found: Option<Peer>, table: &str, check: impl Fn(&Peer) -> bool) -> Result<Option<Peer>> {
    match found {
        Some(p) if !check(&p) => Err(crate::Error::CorruptValue {
            location: table.into(),
            key: format!("peer {}", p.id),
            reason: "the index points at a peer that does not hold the name".into(),
        }),
        found => Ok(found),
    }
}
