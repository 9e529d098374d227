//! A one-shot completion that can be awaited from async code or waited on from sync code,
//! without tying the sync path to any runtime.

use crate::locks::Unpoisoned;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

struct Slot<T> {
    value: Option<Result<T>>,
    waker: Option<Waker>,
    taken: bool,
}

struct Inner<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unpoisoned()
    }
}

/// The sending half: completes exactly once (on drop without a value, with `Error::Closed`).
pub(crate) struct Completer<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// The receiving half of a write's acknowledgement.
///
/// Either `.await` it or call [`Pending::wait`]. Dropping it does not cancel the write.
#[must_use = "a write is only known to be acknowledged once this completes"]
pub struct Pending<T> {
    state: State<T>,
}

type Then<T> = Box<dyn FnOnce(T) -> Pending<T> + Send>;

enum State<T> {
    One(Arc<Inner<T>>),
    /// Wait for the first, then for what `then` makes of its value.
    Chain(Box<Pending<T>>, Option<Then<T>>),
}

/// A connected completer and pending pair.
pub(crate) fn completion<T>() -> (Completer<T>, Pending<T>) {
    let inner = Arc::new(Inner {
        slot: Mutex::new(Slot {
            value: None,
            waker: None,
            taken: false,
        }),
        ready: Condvar::new(),
    });
    (
        Completer {
            inner: Some(inner.clone()),
        },
        Pending {
            state: State::One(inner),
        },
    )
}

impl<T> Completer<T> {
    /// Delivers the result and wakes the waiter.
    pub fn complete(mut self, value: Result<T>) {
        self.finish(value);
    }

    fn finish(&mut self, value: Result<T>) {
        if let Some(inner) = self.inner.take() {
            let waker = {
                let mut slot = inner.lock();
                slot.value = Some(value);
                slot.waker.take()
            };
            inner.ready.notify_all();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.finish(Err(Error::Closed));
    }
}

impl<T> Pending<T> {
    /// Blocks the calling thread until the result is there.
    pub fn wait(self) -> Result<T> {
        match self.state {
            State::One(inner) => {
                let mut slot = inner.lock();
                loop {
                    if let Some(v) = slot.value.take() {
                        slot.taken = true;
                        return v;
                    }
                    slot = inner.ready.wait(slot).unpoisoned();
                }
            }
            State::Chain(first, then) => {
                let value = first.wait()?;
                match then {
                    Some(then) => then(value).wait(),
                    None => Err(Error::Closed),
                }
            }
        }
    }

    /// Once `first` succeeds, continues with `then(value)`.
    pub(crate) fn chain(
        first: Pending<T>,
        then: impl FnOnce(T) -> Pending<T> + Send + 'static,
    ) -> Self {
        Pending {
            state: State::Chain(Box::new(first), Some(Box::new(then))),
        }
    }

    /// The result if it is already there (without waiting); a chained one reports `None`.
    pub(crate) fn try_take(&mut self) -> Option<Result<T>> {
        match &self.state {
            State::One(inner) => {
                let mut slot = inner.lock();
                let v = slot.value.take();
                slot.taken |= v.is_some();
                v
            }
            State::Chain(..) => None,
        }
    }

    /// An already-finished pending result.
    pub(crate) fn ready(value: Result<T>) -> Self {
        let (c, p) = completion();
        c.complete(value);
        p
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        match &mut this.state {
            State::One(inner) => {
                let mut slot = inner.lock();
                if let Some(v) = slot.value.take() {
                    slot.taken = true;
                    return Poll::Ready(v);
                }
                if slot.taken {
                    return Poll::Ready(Err(Error::Closed));
                }
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            State::Chain(first, then) => {
                let value = match Pin::new(&mut **first).poll(cx) {
                    Poll::Ready(Ok(v)) => v,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                let Some(then) = then.take() else {
                    return Poll::Ready(Err(Error::Closed));
                };
                this.state = then(value).state;
                Pin::new(this).poll(cx)
            }
        }
    }
}

/// A boxed, sendable future of a `Result`.
pub type BoxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send + 'a>>;
