//! How many applied batches changed each account's peers since the store opened: an adapter
//! that mirrors an account's peers in memory (the ferogram adapter's `save`) knows its mirror
//! still holds when the count moved by its own writes only.

use std::collections::HashMap;

use crate::state::op::Op;

#[derive(Debug, Default)]
pub(crate) struct PeerWrites(HashMap<String, u64>);

impl PeerWrites {
    /// Counts one batch, once for every account whose peers it adds, removes or wipes.
    pub fn note(&mut self, ops: &[Op]) {
        // A batch rarely names more than one account: a short list beats a set.
        let mut seen: Vec<&str> = Vec::new();
        for op in ops {
            if let Op::CachePeers { account, .. }
            | Op::RemovePeer { account, .. }
            | Op::DeleteAccount { account } = op
                && !seen.contains(&account.as_str())
            {
                seen.push(account);
            }
        }
        for account in seen {
            match self.0.get_mut(account) {
                Some(n) => *n += 1,
                None => {
                    self.0.insert(account.to_owned(), 1);
                }
            }
        }
    }

    #[cfg_attr(not(feature = "ferogram"), allow(dead_code))]
    pub fn get(&self, account: &str) -> u64 {
        self.0.get(account).copied().unwrap_or(0)
    }
}
