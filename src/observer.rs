//! The observer registry: subjects whose subscribers are held weakly.
//!
//! The seeds keep a subject's observers in a `WeakSet`, so that an observer nobody else
//! holds simply stops receiving, without unsubscribing. [`Subject`] does that with order,
//! explicit unsubscription and safe delivery under reentrancy and threads:
//!
//! ```
//! use weakling::observer::{Observer, Subject};
//! use weakling::Gc;
//!
//! struct Printer(&'static str);
//! impl Observer<String> for Printer {
//!     fn notify(&self, event: &String) {
//!         println!("{} received: {event}", self.0);
//!     }
//! }
//!
//! let subject = Subject::new();
//! let obs1 = Gc::new_leaf(Printer("Observer1"));
//! let obs2 = Gc::new_leaf(Printer("Observer2"));
//! subject.subscribe(&obs1);
//! subject.subscribe(&obs2);
//! assert_eq!(subject.emit(&"Hello".to_string()), 2);
//! drop(obs1); // gone: no unsubscribe needed
//! assert_eq!(subject.emit(&"World".to_string()), 1);
//! ```
//!
//! # Delivery
//!
//! [`Subject::emit`] delivers to the subscribers in subscription order, on the emitting
//! thread, **with no lock held** while subscriber code runs. It works on the list as it was
//! when the emit began:
//!
//! * a subscription made during a delivery (by a subscriber, or on another thread) receives
//!   events from the next emit on;
//! * a subscription removed, or a subscriber dropped, during a delivery does not receive the
//!   event under way if that happens before its turn; if it happens after its turn it has
//!   received it. (On another thread "before its turn" is a race: the delivery to that
//!   subscriber may already have begun.)
//! * a subscriber may emit again from inside a delivery (the nested emit runs to the end
//!   first), subscribe, unsubscribe, and drop itself or others;
//! * many threads may emit at once;
//! * each delivery keeps its subscriber alive for its call. A leaf subscriber (one made with
//!   [`Gc::new_leaf`], or of a type that holds no handles) is borrowed under a
//!   [`ReadPin`] for the whole emit rather than upgraded for each call, so a
//!   delivery writes nothing to it. If such a subscriber dies while an emit is under way
//!   (dropped by another subscriber or on another thread), it stops receiving at once and
//!   its death callbacks run as usual, but its value is dropped only when that emit, and
//!   every other read pin held at its death, has ended. Subscribers the collector tracks
//!   are upgraded for each call instead. Since the pin lasts as long as the emit, a
//!   subscriber that blocks for long also holds back the drop of any pinned-read leaf that
//!   dies meanwhile anywhere in the process (not its death: that is never delayed).
//!
//! The list itself sits in a [`PinnedSlot`] and is borrowed under the same pin: an emit
//! writes nothing shared but the subject's delivery count. A change to the subscriptions
//! retires the list (under the subject's lock), and the next emit rebuilds it under that
//! lock; a retired list is dropped once the emits that may still read it have ended.
//!
//! A subscriber that panics is reported with `tracing::error!` and counted; the others still
//! receive the event. Subscribers whose object died are pruned at the next emit and counted.

use std::fmt;
use std::sync::Arc;

use crate::contain::contained;
use crate::sync::{AtomicBool, AtomicU64, Mutex, Ordering};
use crate::{read_pin, Gc, PinnedSlot, ReadPin, WeakMethod};

/// A subscriber object: receives the events of the subjects it is subscribed to.
pub trait Observer<E>: Send + Sync + 'static {
    /// Called for each event, on the emitting thread, with no lock of the subject held.
    fn notify(&self, event: &E);
}

/// What a subscription delivers to.
trait Target<E>: Send + Sync {
    /// Delivers `event`, reading the subscriber under `pin`; `false` if it is dead.
    fn deliver(&self, event: &E, pin: &ReadPin) -> bool;
    fn alive(&self) -> bool;
}

struct ObjectTarget<O> {
    object: crate::Weak<O>,
}

impl<E, O: Observer<E>> Target<E> for ObjectTarget<O> {
    #[inline]
    fn deliver(&self, event: &E, pin: &ReadPin) -> bool {
        match self.object.get_pinned(pin) {
            Some(object) => {
                object.notify(event);
                true
            }
            None => false,
        }
    }

    fn alive(&self) -> bool {
        self.object.strong_count() > 0
    }
}

struct MethodTarget<T, F> {
    method: WeakMethod<T, F>,
}

impl<E, T, F> Target<E> for MethodTarget<T, F>
where
    T: Send + Sync + 'static,
    F: Fn(&T, &E) + Send + Sync + 'static,
{
    #[inline]
    fn deliver(&self, event: &E, pin: &ReadPin) -> bool {
        self.method.call_pinned(pin, event).is_some()
    }

    fn alive(&self) -> bool {
        self.method.receiver().strong_count() > 0
    }
}

/// One subscription as the subject's list holds it: whether it is in place (cleared by
/// unsubscribe or when found dead) and what it delivers to, in one allocation shared with the
/// [`Subscription`] handle.
struct Entry<T: ?Sized> {
    active: AtomicBool,
    target: T,
}

type Shared<E> = Arc<Entry<dyn Target<E>>>;

/// The counters of a [`Subject`]. Each is exact once the operations it counts have returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectStats {
    /// Events delivered, counted once per subscriber that received one.
    pub delivered: u64,
    /// Subscribers found dead and removed from the list.
    pub pruned: u64,
    /// Deliveries that panicked (reported with `tracing::error!`).
    pub panics: u64,
}

struct Inner<E> {
    state: Mutex<State<E>>,
    /// The list as emits see it, read under their pins; emptied on every change (under
    /// `state`'s lock) and rebuilt by the next emit.
    snapshot: PinnedSlot<Box<[Shared<E>]>>,
    delivered: AtomicU64,
    pruned: AtomicU64,
    panics: AtomicU64,
}

struct State<E> {
    /// Active subscriptions, in subscription order.
    entries: Vec<Shared<E>>,
}

impl<E> Inner<E> {
    /// Retires the snapshot after a change to the entries. Called with `state` locked (the
    /// guard is the proof), so that a rebuild, under the same lock, never publishes a list
    /// older than the change.
    fn changed(&self, _locked: &State<E>) {
        self.snapshot.clear();
    }
}

impl<E: 'static> Inner<E> {
    /// Publishes the list after a change and borrows it under `pin`.
    fn rebuild<'p>(&self, pin: &'p ReadPin) -> &'p [Shared<E>] {
        let state = self.state.lock();
        // Another emit may have rebuilt it since the caller looked.
        if let Some(snapshot) = self.snapshot.load(pin) {
            return snapshot;
        }
        self.snapshot.replace_and_load(state.entries.as_slice().into(), pin)
    }
}

/// A subject: delivers events to subscribers it holds weakly (DESIGN's observer registry).
///
/// Clones share one subscriber list. See the [module docs](crate::observer) for the
/// delivery rules.
pub struct Subject<E> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for Subject<E> {
    fn clone(&self) -> Self {
        Subject { inner: Arc::clone(&self.inner) }
    }
}

impl<E: 'static> Default for Subject<E> {
    fn default() -> Self {
        Subject::new()
    }
}

impl<E: 'static> Subject<E> {
    /// A subject without subscribers.
    #[must_use]
    pub fn new() -> Subject<E> {
        Subject {
            inner: Arc::new(Inner {
                state: Mutex::new(State { entries: Vec::new() }),
                snapshot: PinnedSlot::empty(),
                delivered: AtomicU64::new(0),
                pruned: AtomicU64::new(0),
                panics: AtomicU64::new(0),
            }),
        }
    }

    /// Subscribes `observer`, held weakly: it receives events while it lives, and is gone
    /// when it dies. Subscribing one object twice delivers to it twice.
    ///
    /// Takes the subject's lock briefly; may be called from inside a delivery.
    pub fn subscribe<O: Observer<E>>(&self, observer: &Gc<O>) -> Subscription<E> {
        self.add(Arc::new(Entry {
            active: AtomicBool::new(true),
            target: ObjectTarget { object: Gc::downgrade(observer) },
        }))
    }

    /// Subscribes a weak method: `method`'s function is called with its receiver (held
    /// weakly) and each event, while the receiver lives.
    ///
    /// ```
    /// use weakling::observer::Subject;
    /// use weakling::{Gc, WeakMethod};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// struct Counter(AtomicU32);
    /// let subject = Subject::<u32>::new();
    /// let counter = Gc::new_leaf(Counter(AtomicU32::new(0)));
    /// subject.subscribe_method(WeakMethod::new(&counter, |c: &Counter, n: &u32| {
    ///     c.0.fetch_add(*n, Ordering::SeqCst);
    /// }));
    /// subject.emit(&5);
    /// assert_eq!(counter.0.load(Ordering::SeqCst), 5);
    /// ```
    pub fn subscribe_method<T, F>(&self, method: WeakMethod<T, F>) -> Subscription<E>
    where
        T: Send + Sync + 'static,
        F: Fn(&T, &E) + Send + Sync + 'static,
    {
        self.add(Arc::new(Entry { active: AtomicBool::new(true), target: MethodTarget { method } }))
    }

    /// Subscribes `function` bound to `receiver`, held weakly: shorthand for
    /// [`Subject::subscribe_method`] with [`WeakMethod::new`].
    pub fn subscribe_fn<T, F>(&self, receiver: &Gc<T>, function: F) -> Subscription<E>
    where
        T: Send + Sync + 'static,
        F: Fn(&T, &E) + Send + Sync + 'static,
    {
        self.subscribe_method(WeakMethod::new(receiver, function))
    }

    fn add(&self, entry: Shared<E>) -> Subscription<E> {
        let mut state = self.inner.state.lock();
        // Dead subscribers of a subject that rarely emits are swept here too, when the list
        // doubles: amortised O(1) per subscription.
        let len = state.entries.len();
        if len >= 8 && len.is_power_of_two() {
            let before = state.entries.len();
            state.entries.retain(|e| e.active.load(Ordering::Relaxed) && e.target.alive());
            let removed = before - state.entries.len();
            self.inner.pruned.fetch_add(removed as u64, Ordering::Relaxed);
        }
        state.entries.push(Arc::clone(&entry));
        self.inner.changed(&state);
        drop(state);
        Subscription { subject: Arc::downgrade(&self.inner), entry }
    }

    /// Delivers `event` to every live subscriber, in subscription order, and returns how many
    /// received it (panicking ones excluded). See the [module docs](crate::observer) for
    /// what changes during a delivery do.
    ///
    /// Takes the subject's lock only to rebuild the list after a change, or to prune dead
    /// subscribers; subscriber code runs with no lock held, so it may subscribe,
    /// unsubscribe, drop subscribers and emit again.
    pub fn emit(&self, event: &E) -> usize {
        // The list and the subscribers are borrowed under one read pin for the whole
        // delivery, not counted: a delivery writes nothing to the list or to a leaf
        // subscriber.
        let pin = read_pin();
        let snapshot = match self.inner.snapshot.load(&pin) {
            Some(snapshot) => snapshot,
            None => self.inner.rebuild(&pin),
        };
        let (mut delivered, mut dead, mut panics) = (0_u64, 0_u64, 0_u64);
        // One unwind frame for the whole list, not one per subscriber: after a panic the
        // delivery resumes with the next subscriber.
        let mut next = 0;
        while next < snapshot.len() {
            let outcome = contained("observer", || {
                while let Some(entry) = snapshot.get(next) {
                    next += 1;
                    if !entry.active.load(Ordering::Acquire) {
                        continue;
                    }
                    if entry.target.deliver(event, &pin) {
                        delivered += 1;
                    } else if entry.active.swap(false, Ordering::AcqRel) {
                        // Dead: the first emit to see it retires it.
                        dead += 1;
                    }
                }
            });
            if outcome.is_none() {
                panics += 1;
            }
        }
        drop(pin);
        if dead > 0 {
            let mut state = self.inner.state.lock();
            state.entries.retain(|e| e.active.load(Ordering::Relaxed));
            self.inner.changed(&state);
            drop(state);
            self.inner.pruned.fetch_add(dead, Ordering::Relaxed);
        }
        if panics > 0 {
            self.inner.panics.fetch_add(panics, Ordering::Relaxed);
        }
        self.inner.delivered.fetch_add(delivered, Ordering::Relaxed);
        delivered as usize
    }

    /// The number of subscriptions whose subscriber is alive.
    #[must_use]
    pub fn len(&self) -> usize {
        let state = self.inner.state.lock();
        state.entries.iter().filter(|e| e.target.alive()).count()
    }

    /// Whether no subscriber is alive.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The subject's counters.
    #[must_use]
    pub fn stats(&self) -> SubjectStats {
        SubjectStats {
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            pruned: self.inner.pruned.load(Ordering::Relaxed),
            panics: self.inner.panics.load(Ordering::Relaxed),
        }
    }
}

impl<E> fmt::Debug for Subject<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscriptions = self.inner.state.lock().entries.len();
        f.debug_struct("Subject").field("subscriptions", &subscriptions).finish_non_exhaustive()
    }
}

/// A handle to one subscription. Dropping it leaves the subscription in place; use
/// [`Subscription::unsubscribe`] to end it.
#[must_use = "dropping the handle keeps the subscription; keep it to unsubscribe later"]
pub struct Subscription<E> {
    subject: std::sync::Weak<Inner<E>>,
    entry: Shared<E>,
}

impl<E> Subscription<E> {
    /// Ends the subscription: emits that begin afterwards do not deliver to it (one under way
    /// on another thread may already be delivering to it). Returns `false` if it had already
    /// ended (unsubscribed, or its subscriber died and was pruned). Takes the subject's lock
    /// briefly; may be called from inside a delivery.
    pub fn unsubscribe(&self) -> bool {
        if !self.entry.active.swap(false, Ordering::AcqRel) {
            return false;
        }
        if let Some(inner) = self.subject.upgrade() {
            let mut state = inner.state.lock();
            state.entries.retain(|e| !Arc::ptr_eq(e, &self.entry));
            inner.changed(&state);
        }
        true
    }

    /// Whether the subscription is in place and its subscriber alive.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.entry.active.load(Ordering::Acquire) && self.entry.target.alive()
    }
}

impl<E> fmt::Debug for Subscription<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("active", &self.is_active()).finish()
    }
}
