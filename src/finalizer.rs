//! The finalize registry: Python's `weakref.finalize`.
//!
//! [`finalize`] registers a callback to run once when an object dies, and returns a
//! [`Finalizer`] handle to inspect, run or cancel it. Unlike a weak handle's callback, a
//! registered finalizer stays registered when its handle is dropped: the registry owns it
//! until it runs or is detached.
//!
//! # When a finalizer runs
//!
//! At most once, at the first of:
//!
//! * the object's death. When the last strong handle goes, finalizers run newest first, before
//!   the value is dropped, on the thread that dropped the handle. When the cycle collector
//!   finds the object in cyclic garbage, they run in its finalizer phase, **before any member
//!   of the garbage is torn down**; the collector then checks reachability again, so whatever
//!   a finalizer makes reachable survives (resurrection);
//! * [`Finalizer::call`];
//! * shutdown ([`shutdown`], [`ShutdownGuard`], [`Heap::shutdown`] or
//!   dropping an isolated [`Heap`]), if its at-exit flag is set (the default).
//!
//! [`Finalizer::detach`] takes it out unrun. A panicking finalizer is reported with
//! `tracing::error!`; the other finalizers still run.
//!
//! # Exit
//!
//! Rust runs no destructors for statics, so program exit does not run finalizers by itself.
//! Call [`shutdown`] at the end of `main`, or hold a [`ShutdownGuard`] there: live finalizers
//! whose at-exit flag is set run newest first, those registered while that runs run too, and
//! **no finalizer runs after shutdown completes** (an object dying later runs none, `call`
//! returns `None`), as in Python. An isolated heap does the same for finalizers of its own
//! objects when it is shut down or dropped.
//!
//! # A callback must not own its object
//!
//! The registry owns the callback until it runs. A callback that holds a strong handle to
//! its own object (directly or through other objects) keeps that object alive until
//! shutdown, exactly as in Python. The registry cannot look inside a closure; with
//! [`finalize_with`], whose state is a [`Trace`] value, it checks and reports the mistake
//! with `tracing::warn!`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::contain::contained;
use crate::sync::{
    global, global_atomic, AtomicBool, CachePadded, Mutex, Ordering, RwLock, SpinMutex,
};
use crate::{Gc, Heap, Referents, Trace, Weak};

/// Registers `callback` to run once when `obj` dies (Python's `weakref.finalize(obj, func)`).
///
/// See the [module docs](crate::finalizer) for when it runs. The callback must not hold a strong handle
/// to `obj`, or `obj` lives until shutdown.
///
/// Registering on an object that the cycle collector is already tearing down (from a `Drop`
/// during a collection) registers nothing: the returned finalizer is dead and the callback is
/// dropped.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use weakling::Gc;
///
/// let cleaned = Arc::new(AtomicBool::new(false));
/// let obj = Gc::new(String::from("resource"));
/// let c = cleaned.clone();
/// let f = weakling::finalize(&obj, move || c.store(true, Ordering::SeqCst));
/// assert!(f.alive());
/// drop(obj);
/// assert!(cleaned.load(Ordering::SeqCst));
/// assert!(!f.alive());
/// ```
pub fn finalize<T, F, R>(obj: &Gc<T>, callback: F) -> Finalizer<T, F>
where
    T: Send + Sync + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    Finalizer::register(obj, callback)
}

/// Registers `callback` to run once with `state` when `obj` dies: [`finalize`] with the
/// callback's data passed separately (Python's `finalize(obj, func, *args)`).
///
/// Because `state` is [`Trace`], the registry checks at registration whether it reaches
/// `obj` through strong handles, which would keep `obj` alive until shutdown, and reports
/// that with `tracing::warn!` (the finalizer is still registered, as in Python). The check
/// follows at most 10,000 objects.
///
/// ```
/// use weakling::Gc;
///
/// let log = Gc::new(std::sync::Mutex::new(Vec::<String>::new()));
/// let obj = Gc::new(42_u32);
/// let f = weakling::finalize_with(&obj, log.clone(), |log| {
///     log.lock().unwrap().push("obj is gone".into());
/// });
/// drop(obj);
/// assert_eq!(*log.lock().unwrap(), ["obj is gone"]);
/// assert!(!f.alive());
/// ```
pub fn finalize_with<T, A, F, R>(
    obj: &Gc<T>,
    state: A,
    callback: F,
) -> Finalizer<T, impl FnOnce() -> R + Send + 'static>
where
    T: Send + Sync + 'static,
    A: Trace + Send + 'static,
    F: FnOnce(A) -> R + Send + 'static,
{
    // Bounded, so that registering with a large structure stays cheap: past the limit the
    // mistake goes unreported.
    if Referents::reaches_within(&state, obj, REACH_CHECK_LIMIT) == Some(true) {
        tracing::warn!(
            target: "weakling",
            object = std::any::type_name::<T>(),
            "a finalizer's state holds a strong handle that reaches its own object: the object \
             stays alive until shutdown"
        );
    }
    finalize(obj, move || callback(state))
}

/// How many objects [`finalize_with`] traces at most to look for its own object.
const REACH_CHECK_LIMIT: usize = 10_000;

/// A registered finalizer (Python's `weakref.finalize` object).
///
/// Dropping it leaves the finalizer registered. Clones share one registration.
pub struct Finalizer<T, F> {
    slot: Arc<Slot<T, F>>,
}

impl<T, F> Clone for Finalizer<T, F> {
    fn clone(&self) -> Self {
        Finalizer { slot: Arc::clone(&self.slot) }
    }
}

/// One registration: the callback until it runs, and the finalizer weak handle whose death
/// callback runs it (found in the registry by `id`: the death callback owns nothing).
struct Slot<T, F> {
    id: u64,
    heap: u32,
    atexit: AtomicBool,
    // A parking lock: `peek` runs the callback's `Clone` under it.
    state: Mutex<State<T, F>>,
}

struct State<T, F> {
    callback: Option<F>,
    watch: Option<Weak<T>>,
}

impl<T, F> Slot<T, F> {
    /// Takes the callback and the watch out (at most once overall) and unregisters. The
    /// watch is dropped by the caller, outside the lock: dropping it may cancel its
    /// registration.
    fn take(&self) -> Option<(F, Option<Weak<T>>)> {
        let taken = self.take_unlisted()?;
        drop(registry().remove(self.id));
        Some(taken)
    }

    /// [`take`](Slot::take) for a slot the registry no longer holds.
    fn take_unlisted(&self) -> Option<(F, Option<Weak<T>>)> {
        let mut state = self.state.lock();
        let callback = state.callback.take()?;
        Some((callback, state.watch.take()))
    }
}

impl<T, F, R> Slot<T, F>
where
    F: FnOnce() -> R,
{
    /// Runs the callback now unless it already ran, was detached, or shutdown is complete.
    fn run(&self) -> Option<R> {
        self.run_taken(self.take()?)
    }

    fn run_taken(&self, (callback, watch): (F, Option<Weak<T>>)) -> Option<R> {
        drop(watch);
        if registry().is_shut_down(self.heap) {
            contained("dropping a finalizer after shutdown", || drop(callback));
            return None;
        }
        contained("finalizer", callback)
    }
}

/// A registration as the registry sees it: something to run at exit or at its object's death.
trait Pending: Send + Sync {
    fn heap(&self) -> u32;
    fn atexit(&self) -> bool;
    fn run_at_exit(&self);
    /// Runs it once the registry let go of it (its object died).
    fn run_unlisted(&self);
}

impl<T, F, R> Pending for Slot<T, F>
where
    T: Send + Sync,
    F: FnOnce() -> R + Send,
{
    fn heap(&self) -> u32 {
        self.heap
    }

    fn atexit(&self) -> bool {
        self.atexit.load(Ordering::Relaxed)
    }

    fn run_at_exit(&self) {
        drop(self.run());
    }

    fn run_unlisted(&self) {
        if let Some(taken) = self.take_unlisted() {
            drop(self.run_taken(taken));
        }
    }
}

impl<T, F, R> Finalizer<T, F>
where
    T: Send + Sync + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    fn register(obj: &Gc<T>, callback: F) -> Finalizer<T, F> {
        let registry = registry();
        let id = registry.next_id();
        let heap = Gc::heap_id(obj);
        let atexit = AtomicBool::new(true);
        if Gc::try_get(obj).is_none() {
            // Being torn down by the collector: it will never die again.
            contained("dropping a finalizer registered too late", || drop(callback));
            let state = Mutex::new(State { callback: None, watch: None });
            return Finalizer { slot: Arc::new(Slot { id, heap, atexit, state }) };
        }
        // The object cannot die before the slot is in the registry (`obj` is borrowed), so
        // its death finds it there.
        let watch = Gc::downgrade_with_finalizer(obj, move |_| registry.run_at_death(id));
        let state = Mutex::new(State { callback: Some(callback), watch: Some(watch) });
        let slot = Arc::new(Slot { id, heap, atexit, state });
        registry.insert(id, Arc::clone(&slot) as Arc<dyn Pending>);
        Finalizer { slot }
    }

    /// Whether the finalizer has neither run nor been detached (Python's `alive`).
    #[must_use]
    pub fn alive(&self) -> bool {
        self.slot.state.lock().callback.is_some()
    }

    /// Runs the finalizer now, if it is still alive, and unregisters it (Python's `f()`).
    ///
    /// Returns the callback's result, or `None` if it already ran, was detached, shutdown is
    /// complete, or it panicked (the panic is reported with `tracing::error!`). It runs on
    /// this thread with no registry lock held.
    pub fn call(&self) -> Option<R> {
        self.slot.run()
    }

    /// Unregisters the finalizer without running it and hands back the object and the
    /// callback, if the object is still alive (Python's `detach`). Returns `None` if the
    /// finalizer is dead or its object is dying (its death will run the finalizer).
    pub fn detach(&self) -> Option<(Gc<T>, F)> {
        let (obj, callback, watch) = {
            let mut state = self.slot.state.lock();
            let obj = state.watch.as_ref()?.upgrade()?;
            let callback = state.callback.take()?;
            (obj, callback, state.watch.take())
        };
        drop(registry().remove(self.slot.id));
        drop(watch);
        Some((obj, callback))
    }

    /// The object and a copy of the callback, if the finalizer is alive and its object too
    /// (Python's `peek`).
    #[must_use]
    pub fn peek(&self) -> Option<(Gc<T>, F)>
    where
        F: Clone,
    {
        let state = self.slot.state.lock();
        let obj = state.watch.as_ref()?.upgrade()?;
        Some((obj, state.callback.clone()?))
    }

    /// Whether the finalizer runs at shutdown if it is still alive then (default `true`).
    #[must_use]
    pub fn atexit(&self) -> bool {
        self.slot.atexit.load(Ordering::Relaxed)
    }

    /// Sets whether the finalizer runs at shutdown. Does nothing on a dead finalizer.
    pub fn set_atexit(&self, atexit: bool) {
        let state = self.slot.state.lock();
        if state.callback.is_some() {
            self.slot.atexit.store(atexit, Ordering::Relaxed);
        }
    }
}

impl<T, F> fmt::Debug for Finalizer<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alive = self.slot.state.lock().callback.is_some();
        f.debug_struct("Finalizer")
            .field("object", &std::any::type_name::<T>())
            .field("alive", &alive)
            .field("atexit", &self.slot.atexit.load(Ordering::Relaxed))
            .finish()
    }
}

/// Runs every live finalizer whose at-exit flag is set, newest first (including those
/// registered meanwhile), then stops all finalizers for good: objects that die later run
/// none, and [`Finalizer::call`] returns `None`. Calling it again does nothing.
///
/// Call it at the end of `main` (or hold a [`ShutdownGuard`]). Finalizers run on this
/// thread; a panic in one is reported and the others still run.
pub fn shutdown() {
    registry().shut_down(None);
}

/// Calls [`shutdown`] when dropped: hold one in `main`.
///
/// ```
/// // At the top of `main`:
/// let obj = weakling::Gc::new(1_u8); // declared first: dropped after the guard
/// let _shutdown = weakling::ShutdownGuard::new();
/// let _f = weakling::finalize(&obj, || println!("cleaned up at exit"));
/// // `_shutdown` drops before `obj` and prints "cleaned up at exit".
/// ```
#[derive(Debug, Default)]
#[must_use = "shutdown runs when the guard is dropped"]
pub struct ShutdownGuard(());

impl ShutdownGuard {
    /// A guard that shuts the finalize registry down when dropped.
    pub fn new() -> ShutdownGuard {
        ShutdownGuard(())
    }
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        shutdown();
    }
}

impl Heap {
    /// Runs the live at-exit finalizers of this heap's objects, newest first (including those
    /// registered meanwhile), then stops this heap's finalizers for good. Dropping an isolated
    /// heap does this too. Calling it again does nothing.
    pub fn shutdown(&self) {
        registry().shut_down(Some(self.id()));
    }
}

impl Drop for Heap {
    /// Shuts down an isolated heap's finalizers ([`Heap::shutdown`]). The heap's objects live
    /// on while handles to them exist. (The default heap is never dropped: [`shutdown`] is
    /// its end.)
    fn drop(&mut self) {
        // The default heap is heap 0.
        if self.id() != 0 {
            self.shutdown();
        }
    }
}

const SHARDS: usize = 16;

type Entries = HashMap<u64, Arc<dyn Pending>, ahash::RandomState>;

/// Every live registration, by id (registration order), sharded to keep threads apart.
struct Registry {
    shards: Box<[CachePadded<SpinMutex<Entries>>]>,
    /// Heaps whose finalizers are shut down.
    shut_down: RwLock<ShutDown>,
}

#[derive(Default)]
struct ShutDown {
    everything: bool,
    heaps: HashSet<u32, ahash::RandomState>,
}

impl ShutDown {
    fn covers(&self, heap: Option<u32>) -> bool {
        self.everything || heap.is_some_and(|h| self.heaps.contains(&h))
    }
}

global! {
    static REGISTRY: Registry = Registry {
        shards: (0..SHARDS).map(|_| CachePadded(SpinMutex::new(HashMap::default()))).collect(),
        shut_down: RwLock::new(ShutDown::default()),
    };
}

global_atomic! {
    static NEXT_ID: AtomicU64 = 0;
}

global_atomic! {
    /// Whether any shutdown happened: spares every run a look at the list.
    static ANY_SHUT_DOWN: AtomicBool = false;
}

fn registry() -> &'static Registry {
    &REGISTRY
}

impl Registry {
    fn next_id(&self) -> u64 {
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    }

    fn shard(&self, id: u64) -> &SpinMutex<Entries> {
        &self.shards[id as usize % SHARDS]
    }

    fn insert(&self, id: u64, pending: Arc<dyn Pending>) {
        self.shard(id).lock().insert(id, pending);
    }

    /// Takes `id`'s entry out. The caller drops it, outside the lock: it may be the last owner
    /// of a callback.
    fn remove(&self, id: u64) -> Option<Arc<dyn Pending>> {
        let mut shard = self.shard(id).lock();
        let removed = shard.remove(&id);
        // A table emptied after a burst gives its memory back: lookups in a large, sparse
        // table would miss the cache on every call.
        let len = shard.len();
        if shard.capacity() > 64 && len < shard.capacity() / 8 {
            shard.shrink_to(len * 2);
        }
        removed
    }

    /// Runs the finalizer numbered `id` if the registry still holds it: its object died.
    fn run_at_death(&self, id: u64) {
        if let Some(pending) = self.remove(id) {
            pending.run_unlisted();
        }
    }

    fn is_shut_down(&self, heap: u32) -> bool {
        ANY_SHUT_DOWN.load(Ordering::Acquire) && self.shut_down.read().covers(Some(heap))
    }

    /// The live at-exit registrations of `heap` (every heap for `None`), oldest first.
    fn select_for_exit(&self, heap: Option<u32>) -> Vec<Arc<dyn Pending>> {
        let mut selected: Vec<(u64, Arc<dyn Pending>)> = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            selected.extend(
                shard
                    .iter()
                    .filter(|(_, p)| p.atexit() && heap.is_none_or(|h| p.heap() == h))
                    .map(|(&id, p)| (id, Arc::clone(p))),
            );
        }
        selected.sort_unstable_by_key(|&(id, _)| id);
        selected.into_iter().map(|(_, p)| p).collect()
    }

    fn shut_down(&self, heap: Option<u32>) {
        if ANY_SHUT_DOWN.load(Ordering::Acquire) && self.shut_down.read().covers(heap) {
            return;
        }
        // Newest first; selected again whenever finalizers were registered meanwhile (a
        // finalizer may register others). Entries detached or run meanwhile do nothing.
        let mut seen = NEXT_ID.load(Ordering::Acquire);
        let mut pending = self.select_for_exit(heap);
        while let Some(next) = pending.pop() {
            if next.atexit() {
                next.run_at_exit();
            }
            let now = NEXT_ID.load(Ordering::Acquire);
            if now != seen {
                seen = now;
                pending = self.select_for_exit(heap);
            }
        }
        {
            let mut done = self.shut_down.write();
            match heap {
                Some(h) => drop(done.heaps.insert(h)),
                None => done.everything = true,
            }
        }
        ANY_SHUT_DOWN.store(true, Ordering::Release);
    }
}
