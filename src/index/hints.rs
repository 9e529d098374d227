//! Username → peer id hints in memory, so a lookup by username costs one B-tree descent
//! (the peer) instead of two (the username table, then the peer): at a million peers each
//! descent is a chain of cache misses, and two of them are most of a lookup.
//!
//! A hint is only a guess. It is checked against the peer it names (the peer's usernames
//! must hold the name); on a miss or a wrong guess the username table answers and the hint
//! is corrected. So hints never make an answer wrong, need no updating at checkpoints, and
//! are filled in the background after open. They are bounded: a quarter of the redb cache
//! size, at 32 bytes a hint.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Keys are already hashes: use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Bytes one hint costs, counted generously (key, value, table slack).
const HINT_BYTES: usize = 32;

pub(crate) struct UsernameHints {
    map: RwLock<HashMap<u64, i64, BuildHasherDefault<Identity>>>,
    seed: RandomState,
    cap: usize,
    /// The background fill, and its stop flag: the fill holds a read snapshot of the index,
    /// so closing the store stops it and waits for it (nothing of a store outlives it).
    fill: Mutex<Option<std::thread::JoinHandle<()>>>,
    stopping: AtomicBool,
}

impl UsernameHints {
    /// Hints within `budget` bytes.
    pub fn new(budget: usize) -> UsernameHints {
        UsernameHints {
            map: RwLock::default(),
            seed: RandomState::new(),
            cap: budget / HINT_BYTES,
            fill: Mutex::default(),
            stopping: AtomicBool::new(false),
        }
    }

    fn key(&self, account: u32, name: &str) -> u64 {
        let mut h = self.seed.build_hasher();
        h.write_u32(account);
        h.write(name.as_bytes());
        h.finish()
    }

    /// The peer id last seen holding `name` (the username table's key form) in `account`.
    pub fn get(&self, account: u32, name: &str) -> Option<i64> {
        let key = self.key(account, name);
        self.map.read().ok()?.get(&key).copied()
    }

    /// Records what the username table answered (`None`: nobody holds the name).
    pub fn set(&self, account: u32, name: &str, id: Option<i64>) {
        let key = self.key(account, name);
        if let Ok(mut map) = self.map.write() {
            match id {
                Some(id) if map.len() < self.cap || map.contains_key(&key) => {
                    map.insert(key, id);
                }
                Some(_) => {}
                None => {
                    map.remove(&key);
                }
            }
        }
    }

    /// Fills the hints from the username table `source` reads (from the base of the last
    /// checkpoint, which it keeps alive) on a background thread; a lookup meanwhile falls
    /// back to the table. Stops at the cap, and when the hints were dropped.
    pub fn fill_in_background<S>(hints: Arc<UsernameHints>, source: S)
    where
        S: Fn() -> Option<UsernameRange> + Send + 'static,
    {
        let filled = hints.clone();
        let spawned = std::thread::Builder::new()
            .name("sessiondb-hints".into())
            .spawn(move || {
                // A damaged index may make redb panic: the fill just stops (lookups still
                // work through the table, and report the damage themselves).
                let fill = std::panic::AssertUnwindSafe(|| fill(&filled, &source));
                let _ = std::panic::catch_unwind(fill);
            });
        // Without the thread, lookups still work: through the username table.
        if let (Ok(handle), Ok(mut slot)) = (spawned, hints.fill.lock()) {
            *slot = Some(handle);
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Stops the background fill and waits for it (the store is closing).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let handle = self.fill.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// Adds a batch of hints; false once the cap is reached or the store is closing.
    fn extend(&self, batch: &mut Vec<(u64, i64)>) -> bool {
        if self.stopping() {
            return false;
        }
        let Ok(mut map) = self.map.write() else {
            return false;
        };
        for (key, id) in batch.drain(..) {
            if map.len() >= self.cap {
                return false;
            }
            map.entry(key).or_insert(id);
        }
        true
    }
}

/// Fills `hints` from the username table, stopping at the first error (a damaged or
/// truncated index gives the same error for ever), at the cap, or when the store closes.
fn fill(hints: &UsernameHints, source: &dyn Fn() -> Option<UsernameRange>) {
    let Some(entries) = source() else {
        return;
    };
    let mut batch = Vec::with_capacity(4096);
    for entry in entries {
        let Ok(entry) = entry else { return };
        if hints.stopping() {
            return;
        }
        let (account, name) = entry.0.value();
        let Ok(id) = crate::codec::decode_id("usernames", account, name, entry.1.value()) else {
            return;
        };
        batch.push((hints.key(account, name), id));
        if batch.len() == batch.capacity() && !hints.extend(&mut batch) {
            return;
        }
    }
    hints.extend(&mut batch);
}

impl std::fmt::Debug for UsernameHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.map.read().map_or(0, |m| m.len());
        f.debug_struct("UsernameHints").field("len", &len).finish()
    }
}

/// A whole username table, for the fill.
pub(crate) type UsernameRange = redb::Range<'static, (u32, &'static str), &'static [u8]>;
