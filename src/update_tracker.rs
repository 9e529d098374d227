//! The ordered update watermark: at-least-once update handling with no gaps.
//!
//! A bot handles updates concurrently and out of order. Storing a pts before every update
//! below it is handled would make a crash skip those updates forever; storing it late only
//! brings duplicates back, which the pts rules filter. The tracker takes each update's
//! position in its sequence (`pts` and `pts_count`: the update covers `(pts - count, pts]`),
//! learns when it is handled, and persists per sequence the highest value below which
//! everything registered is handled — never more — through the store's group commit.

use crate::locks::Unpoisoned;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::account::Account;
use crate::error::{Error, Result};
use crate::model::UpdateStateChange;
use crate::pending::Pending;
use crate::state::op::Op;

/// An update sequence with its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sequence {
    /// The common message box (`pts`).
    Common,
    /// Secret chats and bot updates (`qts`).
    Secondary,
    /// Update groups (`seq`); their `date` is persisted with it.
    Seq,
    /// One channel's `pts` (bare channel id).
    Channel(i64),
}

/// When the tracker writes its watermarks.
#[derive(Clone, Copy, Debug)]
pub struct TrackerOptions {
    /// Persist once the watermarks have moved past this many handled updates since the last
    /// write (1: after every advance). Default: 64. [`UpdateTracker::persist`] writes now.
    pub persist_every: u32,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions { persist_every: 64 }
    }
}

/// A registered update; hand it back to [`UpdateTracker::handled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    sequence: Sequence,
    start: i32,
    end: i32,
    date: i32,
}

#[derive(Default)]
struct Track {
    /// Everything up to here is handled (and at least registered).
    watermark: i32,
    /// Last value acknowledged durable.
    persisted: i32,
    /// Last value queued for writing (at least `persisted`): not sent again.
    queued: i32,
    /// Registered ranges by start: (end, date, handled).
    ranges: BTreeMap<i32, (i32, i32, bool)>,
    /// Date of the update that last moved the watermark (for `Seq`).
    date: i32,
}

impl Track {
    /// Moves the watermark over handled ranges that start exactly at it.
    fn advance(&mut self) -> u32 {
        let mut moved = 0;
        while let Some(&(end, date, true)) = self.ranges.get(&self.watermark) {
            self.ranges.remove(&self.watermark);
            self.watermark = end;
            self.date = self.date.max(date);
            moved += 1;
        }
        moved
    }
}

type Targets = Vec<(Sequence, i32)>;

#[derive(Default)]
struct State {
    tracks: HashMap<Sequence, Track>,
    unpersisted: u32,
    /// Writes not yet known to be acknowledged, with what each persists.
    inflight: Vec<(Pending<u64>, Targets)>,
}

impl State {
    fn mark_persisted(&mut self, targets: &Targets) {
        for &(sequence, value) in targets {
            let t = self.tracks.entry(sequence).or_default();
            t.persisted = t.persisted.max(value);
        }
    }

    /// Takes note of writes acknowledged since last time.
    fn settle(&mut self) {
        let mut done = Vec::new();
        self.inflight
            .retain_mut(|(pending, targets)| match pending.try_take() {
                Some(Ok(_)) => {
                    done.push(std::mem::take(targets));
                    false
                }
                Some(Err(_)) => false,
                None => true,
            });
        for targets in done {
            self.mark_persisted(&targets);
        }
    }
}

/// Tracks handled updates of one account and persists the gap-free watermark of each
/// sequence. Cheap to call from many tasks; writes ride on the store's group commit.
#[derive(Clone)]
pub struct UpdateTracker {
    account: Account,
    options: TrackerOptions,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for UpdateTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateTracker")
            .field("account", &self.account.name())
            .finish_non_exhaustive()
    }
}

impl UpdateTracker {
    /// Starts from the account's stored state: what is stored counts as handled.
    pub fn new(account: Account, options: TrackerOptions) -> Result<Self> {
        let mut state = State::default();
        let stored = account.update_state()?.unwrap_or_default();
        let mut start = |s: Sequence, v: i32, date: i32| {
            let track = Track {
                watermark: v,
                persisted: v,
                queued: v,
                date,
                ..Track::default()
            };
            state.tracks.insert(s, track);
        };
        start(Sequence::Common, stored.pts, stored.date);
        start(Sequence::Secondary, stored.qts, stored.date);
        start(Sequence::Seq, stored.seq, stored.date);
        for (id, pts) in account.channels()? {
            start(Sequence::Channel(id), pts, 0);
        }
        Ok(UpdateTracker {
            account,
            options,
            state: Arc::new(Mutex::new(state)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unpoisoned()
    }

    /// Registers an update covering `(value - count, value]` of `sequence` (`count` is the
    /// update's `pts_count`; 1 for `qts`; `seq - seq_start + 1` for groups), with its date.
    /// An update at or below the watermark was handled before: `InvalidArgument`
    /// (a duplicate the caller should skip).
    pub fn register(
        &self,
        sequence: Sequence,
        value: i32,
        count: i32,
        date: i32,
    ) -> Result<Ticket> {
        if count < 0 || value.checked_sub(count).is_none() {
            return Err(Error::InvalidArgument(format!(
                "bad update range {value}/{count}"
            )));
        }
        let start = value - count;
        let mut state = self.lock();
        let track = state.tracks.entry(sequence).or_default();
        // At or below the watermark: handled before. Straddling it: Telegram's rules count
        // it as applied too, and it could never be consumed in order.
        if value <= track.watermark || start < track.watermark {
            return Err(Error::InvalidArgument(format!(
                "update {value} of {sequence:?} is at or below the handled watermark {}",
                track.watermark
            )));
        }
        // Updates of one sequence never overlap; one that does is a caller error.
        let before = track.ranges.range(..value).next_back();
        if before.is_some_and(|(&s, &(e, _, _))| e > start && !(s == start && e == value)) {
            return Err(Error::InvalidArgument(format!(
                "update ({start}, {value}] of {sequence:?} overlaps one already registered"
            )));
        }
        track.ranges.entry(start).or_insert((value, date, false));
        Ok(Ticket {
            sequence,
            start,
            end: value,
            date,
        })
    }

    /// Marks a registered update handled. The watermark moves over every handled update that
    /// follows it without a gap; once it has moved `persist_every` times since the last
    /// write, the watermarks are written (not waited for: see [`UpdateTracker::persist`]).
    pub fn handled(&self, ticket: Ticket) -> Result<()> {
        let moved = {
            let mut state = self.lock();
            let track = state.tracks.entry(ticket.sequence).or_default();
            match track.ranges.get_mut(&ticket.start) {
                Some(r) if r.0 == ticket.end => r.2 = true,
                _ => {
                    return Err(Error::InvalidArgument("ticket was not registered".into()));
                }
            }
            let moved = track.advance();
            state.unpersisted += moved;
            state.unpersisted >= self.options.persist_every.max(1)
        };
        if moved {
            drop(self.persist());
        }
        Ok(())
    }

    /// Writes every watermark that moved, in one durable batch; the returned acknowledgement
    /// completes once it is durable, and [`UpdateTracker::persisted`] then reports it.
    ///
    /// # Cancel safety
    /// Dropping the result does not cancel the write.
    pub fn persist(&self) -> Pending<u64> {
        let account = self.account.name().to_owned();
        // The lock is held until the batch is queued, so batches reach the log in the order
        // their watermarks were read: a stored value never goes backwards.
        let mut state = self.lock();
        state.unpersisted = 0;
        let mut ops = Vec::new();
        let mut targets = Vec::new();
        if let (Some(c), Some(s)) = (
            state.tracks.get(&Sequence::Common),
            state.tracks.get(&Sequence::Seq),
        ) && (c.watermark != c.queued || s.watermark != s.queued)
        {
            let date = c.date.max(s.date);
            let change = UpdateStateChange::Primary {
                pts: c.watermark,
                date,
                seq: s.watermark,
            };
            ops.push(Op::UpdateState {
                account: account.clone(),
                change,
            });
            targets.push((Sequence::Common, c.watermark));
            targets.push((Sequence::Seq, s.watermark));
        }
        for (&sequence, t) in &state.tracks {
            let change = match sequence {
                _ if t.watermark == t.queued => continue,
                Sequence::Secondary => UpdateStateChange::Secondary { qts: t.watermark },
                Sequence::Channel(id) => UpdateStateChange::Channel {
                    id,
                    pts: t.watermark,
                },
                Sequence::Common | Sequence::Seq => continue,
            };
            ops.push(Op::UpdateState {
                account: account.clone(),
                change,
            });
            targets.push((sequence, t.watermark));
        }
        if !ops.is_empty() {
            let written = self.account.submit(ops, true);
            for &(sequence, value) in &targets {
                let t = state.tracks.entry(sequence).or_default();
                t.queued = t.queued.max(value);
            }
            state.settle();
            state.inflight.push((written, targets.clone()));
        }
        drop(state);
        // The caller's acknowledgement: a flush queued after the batch (and after earlier
        // writes still in flight) completes only once they are durable — one log, in order.
        // The batch's own acknowledgement is settled by the tracker whenever it looks.
        let flush = self.account.control_async(crate::engine::Control::Flush);
        let state = self.state.clone();
        Pending::chain(flush, move |lsn| {
            let mut state = state.lock().unpoisoned();
            state.settle();
            state.mark_persisted(&targets);
            Pending::ready(Ok(lsn))
        })
    }

    /// The in-memory watermark: everything up to it is handled.
    pub fn watermark(&self, sequence: Sequence) -> i32 {
        self.lock().tracks.get(&sequence).map_or(0, |t| t.watermark)
    }

    /// The highest watermark acknowledged durable: after a crash the store holds at least
    /// this (and never more than the watermark).
    pub fn persisted(&self, sequence: Sequence) -> i32 {
        let mut state = self.lock();
        state.settle();
        state.tracks.get(&sequence).map_or(0, |t| t.persisted)
    }
}
