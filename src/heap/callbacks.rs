//! Death callbacks: the registry behind [`Gc::downgrade_with`](crate::Gc::downgrade_with).
//!
//! A weak reference with a callback is a [`Registration`], shared by the [`Weak`] handles
//! that `downgrade_with` returned and their clones (like a Python `weakref.ref` object
//! shared by several names). Registrations live in the death table (`death_table.rs`), by the
//! address of the object they watch.
//!
//! # Lifecycle
//!
//! * A registration is owned by its handles (a count) and by the table (a flag), and is freed
//!   by whichever lets go last; no other reference counting is involved. It holds one weak
//!   reference on its object while any of its handles exist, so the handles can still
//!   `upgrade` (and fail) after the object died.
//! * When the last handle goes before the object dies, the registration is *cancelled*: its
//!   callback is dropped unrun and its weak reference released. Cancelled entries are pruned
//!   from the table lazily, when the object's list doubles in length.
//! * Finalizer registrations (`Gc::downgrade_with_finalizer`) behave the same, except that
//!   when their object is found in cyclic garbage the collector takes and runs them in its
//!   finalizer phase, while every member is whole, rather than after teardown.
//! * When the object dies, its entries are taken out of the table *after* its strong count
//!   reached zero, so every upgrade already fails; then the callbacks run newest first, each
//!   at most once, each with a dead handle to the registration. A callback races only with
//!   the cancellation of its own registration, and the registration's state word decides
//!   which of the two takes the callback out: exactly one of them gets it.
//! * The table entry of an address exists only while the object lives, so a new object at a
//!   reused address never sees old entries; registering on an object the collector is
//!   tearing down inserts nothing (its death has been decided). An object that is condemned
//!   but not yet torn down (its finalizers are running) still takes registrations: it may
//!   be resurrected.
//!
//! [`Weak`]: crate::Weak

use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use super::box_cache;
use super::death_table::{self, Entry};
use super::header::Header;
use crate::contain::contained;
use crate::sync::{AtomicUsize, ExclusiveCell, Ordering};

/// What a registration's callback is: it receives its registration with one handle count,
/// which it turns into a typed [`Weak`](crate::Weak) handle before calling the user's code.
/// It is stored in the registration's own block ([`WithCallback`]), so a registration costs
/// one allocation whatever its callback holds.
pub(crate) trait Callback: FnOnce(NonNull<Registration>) + Send + 'static {}

impl<C: FnOnce(NonNull<Registration>) + Send + 'static> Callback for C {}

/// The table holds the registration.
const LISTED: usize = 1;
/// The last handle went while the table held the registration, and its cancellation is
/// complete: the table's release frees it.
const CANCELLED: usize = 2;
/// One handle, counted in the bits above the flags.
const HANDLE: usize = 4;

/// One weak reference with a death callback or a death listener.
pub(crate) struct Registration {
    /// `handles * HANDLE | CANCELLED | LISTED`. Every change is a read-modify-write, so
    /// whoever sees the handles and the flag both gone frees the registration, once. The
    /// handles never rise again from zero, and `CANCELLED` implies that they are zero.
    state: AtomicUsize,
    target: NonNull<Header>,
    action: Action,
    /// Releases the registration's weak reference on `target` (frees the box if last).
    release_target: unsafe fn(NonNull<Header>),
    /// A finalizer: when its object dies in cyclic garbage, it runs in the collector's
    /// finalizer phase, before teardown, instead of after.
    finalizer: bool,
}

/// What a registration does at its object's death.
enum Action {
    /// A user closure, stored after the registration in its block ([`WithCallback`]), run at
    /// most once; taken out by whichever of the death and the cancellation comes first. The
    /// handle count keeps the two apart without a lock: the death takes it while holding a
    /// handle it acquired, so the count cannot reach zero meanwhile; the cancellation takes
    /// it once the count reached zero, after which no handle can be acquired. The count's
    /// read-modify-writes order the two.
    Callback {
        /// Whether the callback is still in the block.
        present: ExclusiveCell<bool>,
        /// Runs, drops or frees it, knowing its type ([`callback_op`]).
        op: unsafe fn(NonNull<Registration>, CallbackOp),
    },
    /// A [`DeathListener`] told `(token, object)`. The death tells it while holding a handle
    /// it acquired, as for a callback, and the table held the registration once, so the
    /// listener is told at most once, and never after the cancellation.
    Listener { listener: std::sync::Weak<dyn DeathListener>, token: u64, object: *const () },
}

/// A registration and its callback, in one block.
#[repr(C)]
struct WithCallback<C> {
    /// First, so that a pointer to the block is a pointer to the registration.
    registration: Registration,
    /// Moved out (run or dropped) when `present` is cleared, under the same exclusion.
    callback: ExclusiveCell<ManuallyDrop<C>>,
}

/// What [`callback_op`] does.
#[derive(Clone, Copy)]
enum CallbackOp {
    /// Moves the callback out and calls it with the registration's handle it is given.
    Run,
    /// Drops the callback unrun.
    Discard,
    /// Drops the registration and frees the block; the callback is gone already.
    Free,
}

/// The operations on a registration made by [`Registration::new`] with a callback of type `C`.
///
/// # Safety
/// `this` was made by `Registration::new::<C>`. `Run` and `Discard`: the caller took
/// `present` from `true` to `false` with the exclusion that `present` documents, so the
/// callback is there and nothing else moves it; `Run` also hands over one handle of `this`.
/// `Free`: as [`Registration::free`].
unsafe fn callback_op<C: Callback>(this: NonNull<Registration>, op: CallbackOp) {
    let block = this.cast::<WithCallback<C>>();
    match op {
        CallbackOp::Run => {
            // SAFETY: the caller's contract: the callback is there, and this takes it out
            // once; the block lives while the handle handed over exists.
            let callback = unsafe { block.as_ref().callback.with_mut(|c| ManuallyDrop::take(c)) };
            callback(this);
        }
        CallbackOp::Discard => {
            // SAFETY: as for `Run`; the callback is dropped in place and never used again.
            unsafe { block.as_ref().callback.with_mut(|c| ManuallyDrop::drop(c)) };
        }
        CallbackOp::Free => {
            // SAFETY: the caller's contract: the last reference to a block written by `new`.
            // The callback was moved out or dropped before (the handles reached zero), so
            // only the registration is dropped, and that runs no user code.
            unsafe {
                std::ptr::addr_of_mut!((*block.as_ptr()).registration).drop_in_place();
                box_cache::free(block.cast(), Layout::new::<WithCallback<C>>());
            }
        }
    }
}

/// Something told when objects it watches die, without a closure per object: the cheap form
/// of a death callback, for structures that watch many objects (the weak collections watch
/// every entry's referent this way). Registered with
/// [`Gc::downgrade_notify`](crate::Gc::downgrade_notify).
///
/// A registration holds its listener **weakly**: it never keeps the listener alive, and a
/// death after the listener is gone notifies nobody.
///
/// # When `object_died` runs
///
/// Exactly as a [`Gc::downgrade_with`](crate::Gc::downgrade_with) callback would: once, on
/// the thread that drops the object's last strong handle (or that runs the collection that
/// frees it), after every weak handle to the object stopped upgrading and before its value
/// is dropped, newest registration first among the object's callbacks and listeners; never
/// if every clone of the registration's handle was dropped first.
///
/// It may do anything a callback may: lock the listener's own locks (no lock of the heap's
/// is held), allocate, drop handles, register more. A panic in it is caught and reported
/// with `tracing::error!`, and the other callbacks still run. The caller of the drop that
/// triggered it must not hold a lock that `object_died` takes, or it deadlocks.
pub trait DeathListener: Send + Sync + 'static {
    /// The object registered with `token` died. `object` is its address as
    /// [`Gc::as_ptr`](crate::Gc::as_ptr) gave it (cast to `*const ()`): an identity to
    /// compare, never to read through.
    fn object_died(&self, token: u64, object: *const ());
}

// SAFETY: `target` is only an address whose box the registration keeps allocated (by its weak
// reference) while handles exist; the callback is `Send` and taken out by one thread (see
// `Action`); the listener is `Send + Sync`, and `object` is an identity that is never read
// through.
unsafe impl Send for Registration {}
// SAFETY: as above; all other shared state is atomic.
unsafe impl Sync for Registration {}

impl Registration {
    /// A registration that runs `callback`, with one handle for the caller and the table's
    /// reference for [`register`]. The caller has already added the weak reference on
    /// `target` that the registration now owns. The callback is stored in the registration's
    /// block.
    pub(crate) fn new<C: Callback>(
        target: NonNull<Header>,
        release_target: unsafe fn(NonNull<Header>),
        callback: C,
        finalizer: bool,
    ) -> NonNull<Registration> {
        let block = box_cache::allocate(Layout::new::<WithCallback<C>>()).cast::<WithCallback<C>>();
        let registration = Registration {
            state: AtomicUsize::new(HANDLE | LISTED),
            target,
            action: Action::Callback { present: ExclusiveCell::new(true), op: callback_op::<C> },
            release_target,
            finalizer,
        };
        let callback = ExclusiveCell::new(ManuallyDrop::new(callback));
        // SAFETY: a fresh block with the layout of `WithCallback<C>`.
        unsafe { block.as_ptr().write(WithCallback { registration, callback }) };
        block.cast()
    }

    /// A registration that notifies `listener`, with one handle for the caller and the
    /// table's reference for [`register`]. The caller has already added the weak reference
    /// on `target` that the registration now owns.
    pub(crate) fn with_listener(
        target: NonNull<Header>,
        release_target: unsafe fn(NonNull<Header>),
        listener: std::sync::Weak<dyn DeathListener>,
        token: u64,
        object: *const (),
    ) -> NonNull<Registration> {
        Registration::allocate(Registration {
            state: AtomicUsize::new(HANDLE | LISTED),
            target,
            action: Action::Listener { listener, token, object },
            release_target,
            finalizer: false,
        })
    }

    /// Moves a registration without a callback into a block of the box cache (registrations
    /// are made and freed at the rate of the objects they watch).
    fn allocate(registration: Registration) -> NonNull<Registration> {
        let block = box_cache::allocate(Layout::new::<Registration>()).cast::<Registration>();
        // SAFETY: a fresh block with the layout of a registration.
        unsafe { block.as_ptr().write(registration) };
        block
    }

    /// Drops and frees a registration that nothing references any more.
    ///
    /// # Safety
    /// The handles and the table have both let go of `this`, and nothing uses it after.
    unsafe fn free(this: NonNull<Registration>) {
        // SAFETY: the caller's contract: the last reference, to a block written by `new` or
        // `allocate`. What it drops runs no user code: a callback was taken out before (by
        // the death or by the cancellation), and a listener is held weakly.
        unsafe {
            if let Action::Callback { op, .. } = this.as_ref().action {
                return op(this, CallbackOp::Free);
            }
            this.as_ptr().drop_in_place();
            box_cache::free(this.cast(), Layout::new::<Registration>());
        }
    }

    pub(crate) fn target(&self) -> NonNull<Header> {
        self.target
    }

    /// Adds a handle, copied from one the caller holds.
    pub(crate) fn acquire_handle(&self) {
        // Relaxed: made from an existing handle, as for strong counts.
        if self.state.fetch_add(HANDLE, Ordering::Relaxed) > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops a handle; the last one cancels the callback and releases the weak reference,
    /// and frees the registration unless the table still holds it.
    ///
    /// # Safety
    /// The caller owns one handle of `this`, and gives it up.
    pub(crate) unsafe fn release_handle(this: NonNull<Registration>) {
        // SAFETY: the caller's handle keeps the registration allocated until the decrement
        // below; after it, only the last handle's owner still uses it.
        let registration = unsafe { this.as_ref() };
        // The only handle of a registration that the table let go of: no other reference can
        // appear (handles are copied from handles, and the table never takes it back), so a
        // load stands in for the decrement. Acquire: the other owners' uses, published by
        // their Release read-modify-writes, happen before the free.
        let old = if registration.state.load(Ordering::Acquire) == HANDLE {
            HANDLE
        } else {
            registration.state.fetch_sub(HANDLE, Ordering::AcqRel)
        };
        if old / HANDLE != 1 {
            return;
        }
        if let Action::Callback { present, op } = &registration.action {
            // SAFETY: the count reached zero here, once: no handle can be acquired any more,
            // so the death cannot take the callback now; if it took it before, its release of
            // the handle it held (ordered by the count) came after.
            if unsafe { present.with_mut(|p| std::mem::replace(p, false)) } {
                // SAFETY: `present` was taken from true to false just above, under that
                // exclusion.
                contained("dropping a cancelled weak-reference callback", || unsafe {
                    op(this, CallbackOp::Discard)
                });
            }
        }
        // SAFETY: the registration owned this weak reference since it was made, and this is
        // the one place it is released (handles reached zero once, and never rise from zero).
        // The table holds no object whose box this could free: an object is in the table
        // only while it lives, and a living object's weak count includes its strong handles'.
        unsafe { (registration.release_target)(registration.target) };
        if old & LISTED != 0 {
            // The table holds it: whichever of this and the table's release comes second
            // frees it.
            let old = registration.state.fetch_or(CANCELLED, Ordering::AcqRel);
            if old & LISTED != 0 {
                return;
            }
        }
        // SAFETY: no handle is left, and the table let go.
        unsafe { Registration::free(this) };
    }

    /// Whether every handle is gone. Relaxed: a drop that happens before the caller's load is
    /// seen by it (coherence); a concurrent one may or may not be, either answer being right.
    fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Relaxed) < HANDLE
    }
}

/// The table's reference to a registration; dropping it lets go.
pub(crate) struct Listed(NonNull<Registration>);

// SAFETY: a reference to a `Sync` registration, released with atomics.
unsafe impl Send for Listed {}

impl Listed {
    fn get(&self) -> &Registration {
        // SAFETY: the table's reference keeps the registration allocated.
        unsafe { self.0.as_ref() }
    }

    /// Turns the table's reference into a handle, unless the registration is cancelled:
    /// what the death holds while it runs the callback or tells the listener.
    fn into_handle(self) -> Option<NonNull<Registration>> {
        let state = &self.get().state;
        let mut n = state.load(Ordering::Relaxed);
        loop {
            if n < HANDLE {
                // Cancelled: dropping `self` lets go.
                return None;
            }
            // One read-modify-write acquires the handle and clears the flag. Acquire: the
            // callback or listener reads what the registration's maker wrote.
            match state.compare_exchange_weak(
                n,
                n + HANDLE - LISTED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let registration = self.0;
                    std::mem::forget(self);
                    return Some(registration);
                }
                Err(seen) => n = seen,
            }
        }
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        let old = self.get().state.fetch_and(!LISTED, Ordering::AcqRel);
        if old & CANCELLED != 0 {
            // SAFETY: cancelled (no handle is left) and now unlisted; this was the last
            // reference.
            unsafe { Registration::free(self.0) };
        }
    }
}

/// Hands the table's reference to `registration` (made by [`Registration::new`] or
/// [`Registration::with_listener`]) to its object's entries in the death table. Returns
/// `false`, inserting nothing and letting go of that reference, when the collector is already
/// tearing the object down.
///
/// # Safety
/// The caller holds a strong handle to the registration's target and a handle of the
/// registration, gives up the table's reference, and has set the target's `HAS_CALLBACKS`
/// (with the registration's weak reference, `Header::inc_weak_flagging`).
pub(crate) unsafe fn register(registration: NonNull<Registration>) -> bool {
    let listed = Listed(registration);
    let target = listed.get().target;
    // SAFETY: the caller's contract. A refused entry is dropped here: letting go of the
    // table's reference frees nothing, as the caller holds a handle.
    unsafe { death_table::insert(target, Entry::Callback(listed)) }.is_ok()
}

impl Listed {
    pub(super) fn is_finalizer(&self) -> bool {
        self.get().finalizer
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.get().is_cancelled()
    }

    /// Runs the callback or tells the listener, unless the registration is cancelled; a
    /// panic is reported and contained.
    pub(super) fn fire(self) {
        // A cancelled registration is let go of untold. Otherwise the handle acquired here keeps
        // the count above zero while the callback or listener runs, so that a concurrent last
        // drop cannot cancel it under its feet.
        let Some(registration) = self.into_handle() else { return };
        // SAFETY: the handle acquired above keeps it allocated.
        let action = unsafe { &registration.as_ref().action };
        match action {
            Action::Callback { present, op } => {
                // SAFETY: the handle acquired above keeps the count above zero, so the
                // cancellation cannot take the callback now, and did not before (the acquire
                // would have failed); the registration was in the table once, so no other death
                // takes it.
                if unsafe { present.with_mut(|p| std::mem::replace(p, false)) } {
                    // SAFETY: `present` was taken from true to false just above; the callback
                    // adopts the handle acquired above.
                    contained("weak reference callback", || unsafe {
                        op(registration, CallbackOp::Run)
                    });
                } else {
                    // SAFETY: the handle acquired above, given up.
                    unsafe { Registration::release_handle(registration) };
                }
            }
            Action::Listener { listener, token, object } => {
                if let Some(listener) = listener.upgrade() {
                    contained("death listener", || listener.object_died(*token, *object));
                    // Dropped outside `contained`'s report but still contained: a listener's
                    // last strong reference may go here.
                    contained("dropping a death listener", || drop(listener));
                }
                // SAFETY: the handle acquired above, given up.
                unsafe { Registration::release_handle(registration) };
            }
        }
    }
}
