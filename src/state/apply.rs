//! Applying a logged batch to the active overlay: the same code runs at write time and at
//! replay, so a replayed store answers exactly what the live one did.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::extras::ExtrasRecord;
use crate::index::Base;
use crate::model::{Peer, PeerKind, UpdateStateChange};
use crate::state::op::Op;
use crate::state::overlay::{AccountDelta, Overlay};
use crate::state::view::View;

/// Applies one record's batch to `active`, reading older state through `frozen` and `base`.
pub(crate) fn apply_batch(
    active: &mut Overlay,
    frozen: Option<&Overlay>,
    base: Option<&Base>,
    lsn: u64,
    ops: Vec<Op>,
) -> Result<()> {
    for op in ops {
        apply_op(active, frozen, base, op)?;
    }
    active.last_lsn = lsn;
    active.records += 1;
    Ok(())
}

fn apply_op(
    active: &mut Overlay,
    frozen: Option<&Overlay>,
    base: Option<&Base>,
    op: Op,
) -> Result<()> {
    match op {
        Op::DeleteAccount { account } => {
            active.accounts.insert(account, AccountDelta::wiped());
            return Ok(());
        }
        Op::UpdateState { account, change } => {
            if let UpdateStateChange::Channel { id, pts } = change {
                touch(active, &account).channels.insert(id, Some(pts));
            } else {
                let view = View::new(active, frozen, base);
                let mut state = view.update_state(&account)?.unwrap_or_default();
                state.apply(&change);
                touch(active, &account).update_state = Some(Some(state));
            }
        }
        Op::CachePeers { account, peers } => {
            for peer in peers {
                cache_peer(active, frozen, base, &account, peer)?;
            }
            touch(active, &account);
        }
        Op::KeepDcs { account, keep } => {
            let stored = View::new(active, frozen, base).dcs(&account)?;
            drop_endpoints(active, frozen, base, &account, |dc| !keep.contains(&dc))?;
            remove_unkept(&mut touch(active, &account).dcs, stored, &keep);
        }
        Op::SetDc { account, dc } => {
            drop_endpoints(active, frozen, base, &account, |id| id == dc.id)?;
            touch(active, &account).dcs.insert(dc.id, Some(dc));
        }
        Op::RemoveDc { account, id } => {
            drop_endpoints(active, frozen, base, &account, |dc| dc == id)?;
            touch(active, &account).dcs.insert(id, None);
        }
        Op::KeepChannels { account, keep } => {
            let stored = View::new(active, frozen, base).channels(&account)?;
            remove_unkept(&mut touch(active, &account).channels, stored, &keep);
        }
        Op::SetLoginToken { account, token } => {
            edit_extras(active, frozen, base, &account, |e| {
                e.login_token = token;
                true
            })?;
        }
        Op::SetDcEndpoints { account, endpoints } => {
            edit_extras(active, frozen, base, &account, |e| {
                e.dc_endpoints = endpoints;
                true
            })?;
        }
        Op::RemovePeer { account, id } => {
            let view = View::new(active, frozen, base);
            let old = view.peer(&account, id)?;
            let was_self = view.self_peer_id(&account)? == Some(id);
            let mut changes = PeerChanges::default();
            if let Some(old) = &old {
                changes.unindex(&view, &account, old, &[], None)?;
            }
            let existed = old.is_some();
            let d = touch(active, &account);
            changes.write(d);
            if existed {
                d.peer_count_delta -= 1;
            }
            d.peers.insert(id, None);
            if was_self {
                d.self_peer = Some(None);
            }
        }
        other => {
            let d = touch(active, other.account());
            match other {
                Op::CreateAccount { .. } => {}
                Op::SetHomeDc { dc, .. } => d.home_dc = Some(dc),
                Op::SetUser { user, .. } => d.user = Some(user),
                Op::RemoveChannel { id, .. } => {
                    d.channels.insert(id, None);
                }
                Op::SetAppFields { app, .. } => d.app = Some(app),
                Op::SetUpdateState { state, .. } => d.update_state = Some(state),
                Op::SetMinPeers { contexts, .. } => {
                    for c in contexts {
                        d.min_peers.insert(c.user_id, Some(c));
                    }
                }
                Op::RemoveMinPeers { user_ids, .. } => {
                    for id in user_ids {
                        d.min_peers.insert(id, None);
                    }
                }
                Op::DeleteAccount { .. }
                | Op::UpdateState { .. }
                | Op::CachePeers { .. }
                | Op::RemovePeer { .. }
                | Op::KeepDcs { .. }
                | Op::KeepChannels { .. }
                | Op::SetDc { .. }
                | Op::RemoveDc { .. }
                | Op::SetLoginToken { .. }
                | Op::SetDcEndpoints { .. } => unreachable!("handled above"),
            }
        }
    }
    Ok(())
}

/// Changes the account's extras row as `edit` says; `edit` returns whether it changed it
/// (an unchanged row is not written into the layer).
fn edit_extras(
    active: &mut Overlay,
    frozen: Option<&Overlay>,
    base: Option<&Base>,
    account: &str,
    edit: impl FnOnce(&mut ExtrasRecord) -> bool,
) -> Result<()> {
    let mut extras = View::new(active, frozen, base).extras(account)?;
    if edit(&mut extras) {
        touch(active, account).extras = Some(extras);
    }
    Ok(())
}

/// Drops the DC endpoints of the DCs `gone` picks: a DC written or removed by any front
/// makes the endpoints a client kept for it stale.
fn drop_endpoints(
    active: &mut Overlay,
    frozen: Option<&Overlay>,
    base: Option<&Base>,
    account: &str,
    gone: impl Fn(i32) -> bool,
) -> Result<()> {
    edit_extras(active, frozen, base, account, |e| {
        let before = e.dc_endpoints.len();
        e.dc_endpoints.retain(|e| !gone(e.dc));
        e.dc_endpoints.len() != before
    })
}

/// Records the deletion of every stored key not in `keep`.
fn remove_unkept<K: Ord + Copy, V>(
    delta: &mut BTreeMap<K, Option<V>>,
    stored: BTreeMap<K, V>,
    keep: &[K],
) {
    for id in stored.into_keys().filter(|id| !keep.contains(id)) {
        delta.insert(id, None);
    }
}

/// Marks the account as existing (any write creates it) and returns its delta.
fn touch<'a>(active: &'a mut Overlay, account: &str) -> &'a mut AccountDelta {
    let d = active.delta(account);
    d.exists = Some(true);
    d
}

fn is_channel(kind: PeerKind) -> bool {
    matches!(
        kind,
        PeerKind::Channel
            | PeerKind::Megagroup
            | PeerKind::Gigagroup
            | PeerKind::Community
            | PeerKind::ChannelUnknown
    )
}

/// The rules for a newly seen version of a known peer: a `min` hash (or none) never replaces
/// a full one; unknown kind or self-ness never erase a known one.
pub(crate) fn merge_peer(old: Option<&Peer>, mut new: Peer) -> Peer {
    let Some(old) = old else { return new };
    let old_full = old.access_hash.is_some() && !old.min;
    if new.access_hash.is_none() || (new.min && old_full) {
        new.access_hash = old.access_hash;
        new.min = old.min;
    }
    if new.is_self.is_none() {
        new.is_self = old.is_self;
    }
    let unknown_user = new.kind == PeerKind::UserUnknown && old.kind.is_user();
    let unknown_channel = new.kind == PeerKind::ChannelUnknown && is_channel(old.kind);
    if unknown_user || unknown_channel {
        new.kind = old.kind;
    }
    new
}

/// Index and peer-row changes caused by one peer write, gathered before they are applied.
#[derive(Default)]
struct PeerChanges {
    usernames: Vec<(String, Option<i64>)>,
    phones: Vec<(String, Option<i64>)>,
    /// Other peers that lost a username or phone to the written one.
    losers: BTreeMap<i64, Peer>,
}

impl PeerChanges {
    /// Drops index entries of `old` that the new version (`keep_names`, `keep_phone`) no
    /// longer has, where they still point at it.
    fn unindex(
        &mut self,
        view: &View<'_>,
        account: &str,
        old: &Peer,
        keep_names: &[String],
        keep_phone: Option<&str>,
    ) -> Result<()> {
        for name in old.usernames.iter().filter(|n| !keep_names.contains(n)) {
            if view.peer_id_by_username(account, name)? == Some(old.id) {
                self.usernames.push((name.clone(), None));
            }
        }
        if let Some(phone) = old.phone.as_deref().filter(|p| Some(*p) != keep_phone)
            && view.peer_id_by_phone(account, phone)? == Some(old.id)
        {
            self.phones.push((phone.to_owned(), None));
        }
        Ok(())
    }

    /// Points the new version's names at it; a previous holder loses the name (the holder
    /// written last wins). Entries that already point at it are left alone, so re-caching a
    /// known peer does not rewrite index pages.
    fn index(&mut self, view: &View<'_>, account: &str, peer: &Peer) -> Result<()> {
        for name in &peer.usernames {
            let holder = view.peer_id_by_username(account, name)?;
            if holder == Some(peer.id) {
                continue;
            }
            if let Some(h) = holder
                && let Some(loser) = self.loser(view, account, h)?
            {
                loser.usernames.retain(|n| n != name);
            }
            self.usernames.push((name.clone(), Some(peer.id)));
        }
        if let Some(phone) = &peer.phone {
            let holder = view.peer_id_by_phone(account, phone)?;
            if holder == Some(peer.id) {
                return Ok(());
            }
            if let Some(h) = holder
                && let Some(loser) = self.loser(view, account, h)?
            {
                loser.phone = None;
            }
            self.phones.push((phone.clone(), Some(peer.id)));
        }
        Ok(())
    }

    fn loser(&mut self, view: &View<'_>, account: &str, id: i64) -> Result<Option<&mut Peer>> {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.losers.entry(id) {
            match view.peer(account, id)? {
                Some(p) => slot.insert(p),
                None => return Ok(None),
            };
        }
        Ok(self.losers.get_mut(&id))
    }

    fn write(self, d: &mut AccountDelta) {
        d.usernames.extend(self.usernames);
        d.phones.extend(self.phones);
        for (id, p) in self.losers {
            d.peers.insert(id, Some(p));
        }
    }
}

fn cache_peer(
    active: &mut Overlay,
    frozen: Option<&Overlay>,
    base: Option<&Base>,
    account: &str,
    peer: Peer,
) -> Result<()> {
    let view = View::new(active, frozen, base);
    let old = view.peer(account, peer.id)?;
    let merged = merge_peer(old.as_ref(), peer);
    let mut changes = PeerChanges::default();
    if let Some(old) = &old {
        changes.unindex(
            &view,
            account,
            old,
            &merged.usernames,
            merged.phone.as_deref(),
        )?;
    }
    changes.index(&view, account, &merged)?;
    // Only a peer stored as the self user can stop being it: no index read otherwise.
    let was_self = old.as_ref().is_some_and(|o| o.is_self == Some(true));
    let self_change = match merged.is_self {
        Some(true) => Some(Some(merged.id)),
        Some(false) if was_self && view.self_peer_id(account)? == Some(merged.id) => Some(None),
        _ => None,
    };
    let d = active.delta(account);
    changes.write(d);
    if old.is_none() {
        d.peer_count_delta += 1;
    }
    if let Some(s) = self_change {
        d.self_peer = Some(s);
    }
    d.peers.insert(merged.id, Some(merged));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: i64, hash: Option<i64>, names: &[&str]) -> Peer {
        let mut p = Peer::new(id, PeerKind::User, hash);
        p.usernames = names.iter().map(|n| n.to_string()).collect();
        p
    }

    fn cache(layer: &mut Overlay, below: Option<&Overlay>, lsn: u64, peers: Vec<Peer>) {
        let ops = vec![
            Op::CreateAccount {
                account: "a".into(),
            },
            Op::CachePeers {
                account: "a".into(),
                peers,
            },
        ];
        apply_batch(layer, below, None, lsn, ops).expect("apply");
    }

    #[test]
    fn a_min_or_missing_hash_never_replaces_a_full_one() {
        let old = peer(1, Some(10), &[]);
        let mut min = peer(1, Some(20), &[]);
        min.min = true;
        assert_eq!(merge_peer(Some(&old), min).access_hash, Some(10));
        assert_eq!(
            merge_peer(Some(&old), peer(1, None, &[])).access_hash,
            Some(10)
        );
        assert_eq!(
            merge_peer(Some(&old), peer(1, Some(30), &[])).access_hash,
            Some(30)
        );
        let mut known = old.clone();
        known.kind = PeerKind::Bot;
        known.is_self = Some(false);
        let mut vague = peer(1, Some(10), &[]);
        vague.kind = PeerKind::UserUnknown;
        let merged = merge_peer(Some(&known), vague);
        assert_eq!((merged.kind, merged.is_self), (PeerKind::Bot, Some(false)));
    }

    #[test]
    fn a_username_moves_to_the_peer_written_last() {
        let mut active = Overlay::default();
        cache(&mut active, None, 1, vec![peer(1, Some(1), &["x", "y"])]);
        cache(&mut active, None, 2, vec![peer(2, Some(2), &["x"])]);
        let view = View::new(&active, None, None);
        assert_eq!(view.peer_id_by_username("a", "x").expect("read"), Some(2));
        assert_eq!(view.peer_id_by_username("a", "y").expect("read"), Some(1));
        let first = view.peer("a", 1).expect("read").expect("peer 1");
        assert_eq!(first.usernames, vec!["y".to_owned()], "1 lost x");
        assert_eq!((active.last_lsn, active.records), (2, 2));
    }

    #[test]
    fn the_newest_layer_answers_and_a_deleted_account_hides_the_older_ones() {
        let mut frozen = Overlay::default();
        cache(
            &mut frozen,
            None,
            1,
            vec![peer(1, Some(1), &["x"]), peer(2, Some(2), &[])],
        );
        let mut active = Overlay::default();
        cache(&mut active, Some(&frozen), 2, vec![peer(1, Some(5), &[])]);
        let view = View::new(&active, Some(&frozen), None);
        assert_eq!(
            view.peer("a", 1).expect("read").and_then(|p| p.access_hash),
            Some(5)
        );
        assert_eq!(
            view.peer("a", 2).expect("read").and_then(|p| p.access_hash),
            Some(2)
        );
        assert_eq!(
            view.peer_id_by_username("a", "x").expect("read"),
            None,
            "x dropped"
        );
        assert_eq!(view.peer_count("a").expect("count"), 2);
        let older = View::new(&frozen, None, None);
        assert_eq!(
            older
                .peer("a", 1)
                .expect("read")
                .and_then(|p| p.access_hash),
            Some(1)
        );

        let delete = vec![Op::DeleteAccount {
            account: "a".into(),
        }];
        apply_batch(&mut active, Some(&frozen), None, 3, delete).expect("delete");
        let view = View::new(&active, Some(&frozen), None);
        assert!(!view.account_exists("a").expect("read"));
        assert_eq!(
            view.peer("a", 2).expect("read"),
            None,
            "frozen's peer is hidden"
        );
        assert_eq!(view.peer_count("a").expect("count"), 0);
    }
}
