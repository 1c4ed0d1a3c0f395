//! The finalize registry: Python's `weakref.finalize`.
//!
//! [`finalize`] registers a callback to run once when an object dies, and returns a
//! [`Finalizer`] handle to inspect, run or cancel it. Unlike a weak handle's callback, a
//! registered finalizer stays registered when its handle is dropped: the heap owns it until it
//! runs or is detached.
//!
//! A finalizer is a death hook ([`Gc::on_death`]) flagged to run at exit: its callback sits in
//! the heap's death table beside the object's weak callbacks, and the handle is a key to it.
//! The same table is the at-exit registry, so a registration costs one table entry.
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

use std::collections::HashSet;
use std::fmt;

use crate::contain::contained;
use crate::sync::{global, global_atomic, Ordering, RwLock};
use crate::{run_exit_hooks, DeathAction, DeathHook, Gc, Heap, Referents, Trace};

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
/// Dropping it leaves the finalizer registered. Clones find the same registration.
pub struct Finalizer<T, F> {
    hook: DeathHook<T, Pending<F>>,
}

impl<T, F> Clone for Finalizer<T, F> {
    fn clone(&self) -> Self {
        Finalizer { hook: self.hook }
    }
}

/// What the heap holds for a finalizer until it runs: the callback, and the heap whose
/// shutdown ends it.
#[derive(Clone)]
struct Pending<F> {
    heap: u32,
    callback: F,
}

impl<F, R> Pending<F>
where
    F: FnOnce() -> R,
{
    /// Runs the callback unless its heap's finalizers are shut down (then drops it). A panic
    /// goes to the caller, which contains it as a finalizer's: the heap at the death or at
    /// exit, [`Finalizer::call`] otherwise.
    fn run_unless_shut_down(self) -> Option<R> {
        if is_shut_down(Some(self.heap)) {
            drop(self.callback);
            return None;
        }
        Some((self.callback)())
    }
}

impl<F, R> DeathAction for Pending<F>
where
    F: FnOnce() -> R + Send + 'static,
{
    const CONTEXT: &'static str = "finalizer";

    fn run(self) {
        drop(self.run_unless_shut_down());
    }
}

impl<T, F, R> Finalizer<T, F>
where
    T: Send + Sync + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    fn register(obj: &Gc<T>, callback: F) -> Finalizer<T, F> {
        let pending = Pending { heap: Gc::heap_id(obj), callback };
        Finalizer { hook: Gc::on_death(obj, pending, true) }
    }

    /// Whether the finalizer has neither run nor been detached (Python's `alive`).
    #[must_use]
    pub fn alive(&self) -> bool {
        self.hook.is_pending()
    }

    /// Runs the finalizer now, if it is still alive, and unregisters it (Python's `f()`).
    ///
    /// Returns the callback's result, or `None` if it already ran, was detached, shutdown is
    /// complete, or it panicked (the panic is reported with `tracing::error!`). It runs on
    /// this thread with no registry lock held.
    pub fn call(&self) -> Option<R> {
        let pending = self.hook.cancel()?;
        contained("finalizer", || pending.run_unless_shut_down()).flatten()
    }

    /// Unregisters the finalizer without running it and hands back the object and the
    /// callback, if the object is still alive (Python's `detach`). Returns `None` if the
    /// finalizer is dead or its object is dying (its death will run the finalizer).
    pub fn detach(&self) -> Option<(Gc<T>, F)> {
        self.hook.detach().map(|(obj, pending)| (obj, pending.callback))
    }

    /// The object and a copy of the callback, if the finalizer is alive and its object too
    /// (Python's `peek`). The copy is made outside every lock, holding the object; a `call`,
    /// `detach` or shutdown on another thread waits for it to finish.
    #[must_use]
    pub fn peek(&self) -> Option<(Gc<T>, F)>
    where
        F: Clone,
    {
        self.hook.peek().map(|(obj, pending)| (obj, pending.callback))
    }

    /// Whether the finalizer runs at shutdown if it is still alive then (default `true`;
    /// `false` once it is dead, as in Python).
    #[must_use]
    pub fn atexit(&self) -> bool {
        self.hook.at_exit()
    }

    /// Sets whether the finalizer runs at shutdown. Does nothing on a dead finalizer.
    pub fn set_atexit(&self, atexit: bool) {
        self.hook.set_at_exit(atexit);
    }
}

impl<T, F> fmt::Debug for Finalizer<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finalizer")
            .field("object", &std::any::type_name::<T>())
            .field("alive", &self.hook.is_pending())
            .field("atexit", &self.hook.at_exit())
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
    shut_down(None);
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
        shut_down(Some(self.id()));
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

/// Heaps whose finalizers are shut down.
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
    static SHUT_DOWN: RwLock<ShutDown> = RwLock::new(ShutDown::default());
}

global_atomic! {
    /// Whether any shutdown happened: spares every run a look at the set.
    static ANY_SHUT_DOWN: AtomicBool = false;
}

/// Whether `heap`'s finalizers (every heap's for `None`) are shut down.
fn is_shut_down(heap: Option<u32>) -> bool {
    ANY_SHUT_DOWN.load(Ordering::Acquire) && SHUT_DOWN.read().covers(heap)
}

/// Runs the at-exit finalizers of `heap` (every heap for `None`), then marks it shut down.
fn shut_down(heap: Option<u32>) {
    if is_shut_down(heap) {
        return;
    }
    // Newest first, those registered meanwhile too. Finalizers are the hooks flagged at exit;
    // one whose flag was cleared stays registered, and its object's death still runs it
    // unless shutdown completed first.
    run_exit_hooks(heap);
    {
        let mut done = SHUT_DOWN.write();
        match heap {
            Some(h) => drop(done.heaps.insert(h)),
            None => done.everything = true,
        }
    }
    ANY_SHUT_DOWN.store(true, Ordering::Release);
}
