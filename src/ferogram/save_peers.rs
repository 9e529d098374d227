//! How a `save` finds the peers that differ from the store: a merge of the whole snapshot
//! with the stored cache, or a walk beside the mirror of the last save (`mirror`).

use ferogram_session::CachedPeer;

use super::mapping::{marked_id, peer_of};
use super::mirror::Mirror;
use super::{FerogramSession, PAGE, PEERS_PER_RECORD};
use crate::error::Result;
use crate::model::Peer;
use crate::state::apply::merge_peer;
use crate::state::op::Op;

impl FerogramSession {
    /// The ops that make the stored peers equal to `peers` (later duplicates win): a merge
    /// of the snapshot, sorted by marked id, with the store's peers read in id order; and
    /// whether no id came twice.
    pub(super) fn peer_ops(&self, peers: &[CachedPeer]) -> Result<(Vec<Op>, bool)> {
        let mut wanted = Vec::with_capacity(peers.len());
        for (i, p) in peers.iter().enumerate() {
            wanted.push((marked_id(p)?, i));
        }
        // The last of equal ids first, and the one kept.
        wanted.sort_by_key(|&(id, i)| (id, std::cmp::Reverse(i)));
        wanted.dedup_by_key(|&mut (id, _)| id);
        let distinct = wanted.len() == peers.len();
        let (mut removed, mut cached) = (Vec::new(), Vec::new());
        let mut next = wanted.iter().peekable();
        let mut after = None;
        let mut handle = |stored: Option<&Peer>, want: Option<(i64, usize)>| match (stored, want) {
            (Some(s), None) => removed.push(s.id),
            (stored, Some((id, i))) => rewrite(stored, &peers[i], id, &mut removed, &mut cached),
            (None, None) => {}
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
        Ok((self.peer_change_ops(removed, cached)?, distinct))
    }

    /// [`Self::peer_ops`] from the mirror of the last save: the store is read only for the
    /// snapshot entries the mirror walk did not pair. `None` when the snapshot names an id
    /// twice (the full merge then decides which one wins).
    pub(super) fn mirrored_peer_ops(
        &self,
        mirror: &Mirror,
        peers: &[CachedPeer],
    ) -> Result<Option<Vec<Op>>> {
        let diff = mirror.diff(peers);
        let mut wanted = Vec::with_capacity(diff.new.len());
        for &j in &diff.new {
            wanted.push((marked_id(&peers[j])?, j));
        }
        wanted.sort_unstable();
        if wanted.windows(2).any(|w| w[0].0 == w[1].0) {
            return Ok(None);
        }
        let mut unpaired: Vec<i64> = Vec::with_capacity(diff.old.len());
        for &i in &diff.old {
            // Mirror entries were saved, so their ids are valid.
            unpaired.extend(mirror.get(i).marked_id());
        }
        unpaired.sort_unstable();
        let name = self.account.name();
        let stored: Vec<Option<Peer>> = self
            .account
            .view(|v| wanted.iter().map(|&(id, _)| v.peer(name, id)).collect())?;
        let (mut removed, mut cached) = (Vec::new(), Vec::new());
        for (&(id, j), stored) in wanted.iter().zip(&stored) {
            // Stored but paired nowhere in the mirror walk: the snapshot has it twice.
            if stored.is_some() && unpaired.binary_search(&id).is_err() {
                return Ok(None);
            }
            rewrite(stored.as_ref(), &peers[j], id, &mut removed, &mut cached);
        }
        removed.extend(
            unpaired
                .into_iter()
                .filter(|id| wanted.binary_search_by_key(id, |w| w.0).is_err()),
        );
        self.peer_change_ops(removed, cached).map(Some)
    }

    /// The ops that remove `removed` and then cache `cached`, in records of bounded size.
    fn peer_change_ops(&self, removed: Vec<i64>, cached: Vec<Peer>) -> Result<Vec<Op>> {
        let account = self.account.acc();
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
}

/// How the stored peer `stored` becomes `new`: `None` when it already is; else the peer to
/// write (stamped now by the store; it keeps what other fronts stored, under the rules they
/// were stored by, so it is normalized as a copy) and whether the old one is removed first
/// (the store merges a new version into the old, keeping an old hash or channel kind where
/// the new one has none, which would not give ferogram's peer).
pub(super) fn change(stored: Option<&Peer>, mut new: Peer) -> Option<(bool, Peer)> {
    if stored == Some(&new) {
        return None;
    }
    let replace = stored.is_some() && merge_peer(stored, new.clone()) != new;
    new.updated_at = 0;
    Some((replace, new))
}

/// Notes what makes the stored peer at `id` ferogram's `p`: the peer to write, and its id
/// among those removed first when the store's merge would not give `p`.
fn rewrite(
    stored: Option<&Peer>,
    p: &CachedPeer,
    id: i64,
    removed: &mut Vec<i64>,
    cached: &mut Vec<Peer>,
) {
    if let Some((replace, new)) = change(stored, peer_of(p, id, stored)) {
        if replace {
            removed.push(id);
        }
        cached.push(new);
    }
}

/// How many peers an op writes or removes (the size of a record, roughly).
pub(super) fn peer_units(op: &Op) -> usize {
    match op {
        Op::CachePeers { peers, .. } => peers.len(),
        _ => 1,
    }
}
