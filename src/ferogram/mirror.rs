//! The peers of the last `save`, in its order, kept while nothing but this adapter changed
//! the account's peers. ferogram builds every snapshot by walking the same hash maps, so
//! the peers that did not change come in the same order: the next save walks the new
//! snapshot beside the mirror and looks at the store only where the two differ, instead of
//! reading every stored peer (1M peers: a few milliseconds instead of a few hundred).

use ferogram_session::CachedPeer;

use super::mapping::fero;
use crate::ferogram_peer::FeroPeer;

/// How far ahead the walk looks for where the two lists meet again after a difference.
const LOOKAHEAD: usize = 32;

pub(super) struct Mirror {
    /// The saved snapshot, which the store's peers equal (no id twice).
    peers: Vec<FeroPeer>,
    /// The account's peer-write count right after that save.
    pub writes: u64,
}

/// Where a snapshot differs from the mirror.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Diff {
    /// Positions in the snapshot of the entries the walk did not find in the mirror.
    pub new: Vec<usize>,
    /// Positions in the mirror of the entries the walk did not find in the snapshot.
    pub old: Vec<usize>,
}

impl Mirror {
    /// The mirror of a saved snapshot, reusing `reuse`'s memory (a 1M-peer mirror is 24 MB:
    /// allocating it afresh every save costs more than the walk).
    pub fn of(peers: &[CachedPeer], writes: u64, reuse: Option<Mirror>) -> Mirror {
        let mut kept = reuse.map(|m| m.peers).unwrap_or_default();
        kept.clear();
        kept.extend(peers.iter().map(fero));
        Mirror {
            peers: kept,
            writes,
        }
    }

    /// The mirror entry at `i`.
    pub fn get(&self, i: usize) -> FeroPeer {
        self.peers[i]
    }

    /// Walks `new` beside the mirror. Every entry of either that the walk could not pair with
    /// an equal entry of the other lands in the diff: an entry changed, added or moved shows
    /// up, and one unchanged may too (the walk only looks [`LOOKAHEAD`] ahead).
    pub fn diff(&self, new: &[CachedPeer]) -> Diff {
        let old = &self.peers;
        let (mut i, mut j) = (0, 0);
        let mut d = Diff::default();
        while i < old.len() && j < new.len() {
            if old[i] == fero(&new[j]) {
                i += 1;
                j += 1;
            } else if let Some(k) =
                (1..=LOOKAHEAD).find(|&k| new.get(j + k).is_some_and(|p| fero(p) == old[i]))
            {
                d.new.extend(j..j + k);
                j += k;
            } else if let Some(k) =
                (1..=LOOKAHEAD).find(|&k| old.get(i + k) == Some(&fero(&new[j])))
            {
                d.old.extend(i..i + k);
                i += k;
            } else {
                d.new.push(j);
                d.old.push(i);
                i += 1;
                j += 1;
            }
        }
        d.old.extend(i..old.len());
        d.new.extend(j..new.len());
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: i64, access_hash: i64) -> CachedPeer {
        CachedPeer {
            id,
            access_hash,
            is_channel: false,
            is_chat: false,
            channel_kind: None,
            is_community: false,
        }
    }

    fn diff(old: &[(i64, i64)], new: &[(i64, i64)]) -> Diff {
        let old: Vec<_> = old.iter().map(|&(i, h)| peer(i, h)).collect();
        let new: Vec<_> = new.iter().map(|&(i, h)| peer(i, h)).collect();
        Mirror::of(&old, 0, None).diff(&new)
    }

    #[test]
    fn pairs_what_stayed_and_reports_the_rest() {
        let old = [(1, 1), (2, 2), (3, 3), (4, 4)];
        assert_eq!(diff(&old, &old), Diff::default());
        // 2 changed its hash, 9 came in before 4, 1 left.
        let d = diff(&old, &[(2, 20), (3, 3), (9, 9), (4, 4)]);
        assert_eq!(d.new, vec![0, 2]);
        assert_eq!(d.old, vec![0, 1]);
        // Everything after the mirror's end is new; everything after the snapshot's, gone.
        assert_eq!(diff(&old[..2], &old).new, vec![2, 3]);
        assert_eq!(diff(&old, &old[..1]).old, vec![1, 2, 3]);
    }

    #[test]
    fn a_reordered_snapshot_is_reported_whole_never_missed() {
        let old: Vec<_> = (1..200).map(|i| (i, i)).collect();
        let mut new = old.clone();
        new.reverse();
        let d = diff(&old, &new);
        // Every pairing it made is of equal entries: nothing that differs was skipped.
        assert!(
            d.new.len() >= 150 && d.old.len() >= 150,
            "{} {}",
            d.new.len(),
            d.old.len()
        );
    }
}
