//! Single-flight loading: one loader per key at a time, its outcome handed to every caller
//! that missed the same key meanwhile.
//!
//! The protocol, per key (the shard's lock guards the table of flights):
//!
//! 1. A caller that misses looks for a flight under the shard's lock. If there is none it
//!    registers one and becomes the *leader*; otherwise it clones the flight and becomes a
//!    *waiter*. Either way it releases the lock before running or waiting, so the loader runs
//!    with no lock of the cache held.
//! 2. The leader runs the loader, takes the shard's lock, stores the value (only if its flight
//!    is still the registered one: an invalidation meanwhile unregisters it), unregisters the
//!    flight, releases the lock, and only then publishes the outcome to the flight and wakes
//!    the waiters.
//! 3. A waiter sleeps on the flight until an outcome is published: a value (returned), an
//!    error (returned to a fallible caller with the same error type; any other caller retries),
//!    or a panic (every waiter retries from step 1, with its own loader).
//!
//! Because the leader unregisters before publishing, a waiter that retries never finds the
//! finished flight again, so a panicking or failing loader cannot wedge its key. The leader
//! publishes in every case: the loader runs under `catch_unwind`. `tests/loom.rs` checks the
//! protocol with loom.

use std::any::Any;
use std::sync::Arc;

use crate::sync::{thread_id, Condvar, Mutex, ThreadId};
use crate::Gc;

/// How a load ended.
pub(crate) enum Outcome<V> {
    Loaded(Gc<V>),
    /// The loader's error, shared by every waiter (an `Arc<E>` behind the `Any`).
    Failed(Arc<dyn Any + Send + Sync>),
    Panicked,
}

impl<V> Clone for Outcome<V> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Loaded(v) => Outcome::Loaded(v.clone()),
            Outcome::Failed(e) => Outcome::Failed(e.clone()),
            Outcome::Panicked => Outcome::Panicked,
        }
    }
}

pub(crate) struct Flight<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    done: Condvar,
    leader: ThreadId,
}

impl<V> Flight<V> {
    /// A flight led by the calling thread.
    pub(crate) fn new() -> Flight<V> {
        Flight { outcome: Mutex::new(None), done: Condvar::new(), leader: thread_id() }
    }

    /// Publishes the outcome and wakes every waiter. Called once, by the leader.
    pub(crate) fn complete(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = Some(outcome);
        self.done.notify_all();
    }

    /// Sleeps until the outcome is published and returns it.
    ///
    /// # Panics
    ///
    /// When called by the leader's own thread (a loader that looks up its own key would wait
    /// for itself forever).
    pub(crate) fn wait(&self) -> Outcome<V> {
        assert!(
            self.leader != thread_id(),
            "a cache loader looked up the key it is loading (it would wait for itself)"
        );
        let mut guard = self.outcome.lock();
        loop {
            if let Some(outcome) = guard.as_ref() {
                return outcome.clone();
            }
            guard = self.done.wait(guard);
        }
    }
}
