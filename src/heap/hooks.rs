//! Death hooks: actions the heap owns until their object dies.
//!
//! [`Gc::on_death`] puts an action in the death table (`death_table.rs`) under a fresh number
//! and returns a [`DeathHook`], a key that finds it there again. Nothing else refers to the
//! action, so a hook costs one block and one table entry: no weak reference, no handle count.
//! This is what [`finalize`](crate::finalize) is made of.
//!
//! # Ownership
//!
//! The table owns a hook while it is listed. Whoever takes it out under the shard lock (the
//! object's death, the collector, [`DeathHook::cancel`] or [`DeathHook::detach`], or
//! [`run_exit_hooks`]) owns it alone, and runs, returns or drops its action. The one
//! exception is [`DeathHook::peek`], which clones the action outside the lock: it marks itself
//! as the hook's reader under the lock (one at a time, as a mutex would, so that an action
//! that is `Send` but not `Sync` is never shared), and the owner waits for the reader to leave
//! before it moves the action. No reader can arrive after the hook left the table, so the wait
//! ends.
//!
//! A key finds the hook by its object's address *and* its number, which is never reused: a key
//! to a hook that ran finds nothing, even when a new object took the address.

use std::alloc::Layout;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use super::box_cache;
use super::death_table::{self, Entry};
use super::header::{Header, HAS_CALLBACKS};
use super::pause;
use crate::contain::contained;
use crate::sync::{sequence, yield_now, AtomicUsize, ExclusiveCell, Ordering};
use crate::Gc;

/// What a death hook does: runs once when its object dies, unless the hook is taken out
/// before (see [`Gc::on_death`]).
///
/// A panic in `run` is caught and reported with `tracing::error!` as a panic in
/// [`CONTEXT`](DeathAction::CONTEXT), and the other callbacks and hooks of the object still
/// run.
pub trait DeathAction: Send + 'static {
    /// What a panic in `run` is reported as: the `context` field of the error event.
    const CONTEXT: &'static str = "death hook";

    /// Runs the action: its object died, or [`run_exit_hooks`] runs it.
    fn run(self);
}

/// Set in a hook's state: [`run_exit_hooks`] runs it.
const AT_EXIT: usize = 1;
/// Set while a `peek` clones the action.
const READING: usize = 2;

/// The part of a hook's block that the table sees, whatever its action's type.
#[repr(C)]
pub(crate) struct Hook {
    /// Its number: unique in the process, and greater than those of every hook whose
    /// registration happened before its own (`sequence.rs`).
    id: u64,
    /// `READING | AT_EXIT`. Both are set under the shard lock; the reader leaves outside it,
    /// so every change is a read-modify-write.
    state: AtomicUsize,
    /// Runs or drops the action and frees the block, knowing the action's type
    /// ([`hook_op`]).
    op: unsafe fn(NonNull<Hook>, HookOp),
}

/// A hook and its action, in one block.
#[repr(C)]
struct WithAction<A> {
    /// First, so that a pointer to the block is a pointer to the hook.
    hook: Hook,
    /// Read by the `peek` marked in `state`; moved out by the owner once it left.
    action: ExclusiveCell<ManuallyDrop<A>>,
}

/// What [`hook_op`] does.
#[derive(Clone, Copy)]
enum HookOp {
    Run,
    Discard,
}

impl Hook {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    fn at_exit(&self) -> bool {
        self.state.load(Ordering::Relaxed) & AT_EXIT != 0
    }

    fn set_at_exit(&self, at_exit: bool) {
        if at_exit {
            self.state.fetch_or(AT_EXIT, Ordering::Relaxed);
        } else {
            self.state.fetch_and(!AT_EXIT, Ordering::Relaxed);
        }
    }
}

/// Moves the action out of a block made by [`Gc::on_death`] with `A`, and frees the block.
///
/// # Safety
/// `this` was made with an action of type `A`; the caller owns it (took it out of the table)
/// and no reader is left; nothing uses it after.
unsafe fn take_action<A>(this: NonNull<Hook>) -> A {
    let block = this.cast::<WithAction<A>>();
    // SAFETY: the caller's contract: the owner, with no reader left, moves the action out once
    // and frees the block, whose hook holds nothing that needs dropping but is dropped in
    // place all the same.
    unsafe {
        let action = block.as_ref().action.with_mut(|a| ManuallyDrop::take(a));
        std::ptr::addr_of_mut!((*block.as_ptr()).hook).drop_in_place();
        box_cache::free(block.cast(), Layout::new::<WithAction<A>>());
        action
    }
}

/// Runs or drops the action of a block made with `A`, after freeing the block. A panic is
/// reported and contained.
///
/// # Safety
/// As [`take_action`].
unsafe fn hook_op<A: DeathAction>(this: NonNull<Hook>, op: HookOp) {
    // SAFETY: forwarded contract.
    let action = unsafe { take_action::<A>(this) };
    match op {
        HookOp::Run => drop(contained(A::CONTEXT, || action.run())),
        HookOp::Discard => drop(contained("dropping a death hook's action", || drop(action))),
    }
}

/// The table's ownership of a hook, moved to whoever takes it out; dropping it drops the
/// action unrun.
pub(crate) struct Hooked(NonNull<Hook>);

// SAFETY: the owner of a hook whose action is `Send`; a reader only reads the atomic state and
// clones the action, one reader at a time, ordered with the owner by `READING`.
unsafe impl Send for Hooked {}

impl Hooked {
    pub(crate) fn get(&self) -> &Hook {
        // SAFETY: the block lives until its owner frees it, which takes `self`.
        unsafe { self.0.as_ref() }
    }

    /// Waits until no `peek` reads the action any more. A reader comes only under the shard
    /// lock while the hook is listed, and the owner took it out, so none comes meanwhile.
    fn wait_for_reader(&self) {
        // Acquire: the reader's clone happens before the owner moves the action.
        while self.get().state.load(Ordering::Acquire) & READING != 0 {
            yield_now();
        }
    }

    /// Runs the action; a panic is reported and contained.
    pub(crate) fn fire(self) {
        self.wait_for_reader();
        let this = ManuallyDrop::new(self);
        let op = this.get().op;
        // SAFETY: owned, with no reader left; the block is not used after.
        unsafe { op(this.0, HookOp::Run) };
    }

    /// The action, out of its freed block.
    ///
    /// # Safety
    /// The hook was made with an action of type `A`.
    unsafe fn into_action<A>(self) -> A {
        self.wait_for_reader();
        let this = ManuallyDrop::new(self);
        // SAFETY: the caller's contract; owned, with no reader left, and not used after.
        unsafe { take_action::<A>(this.0) }
    }
}

impl Drop for Hooked {
    fn drop(&mut self) {
        self.wait_for_reader();
        // SAFETY: owned, with no reader left; the block is not used after.
        unsafe { (self.get().op)(self.0, HookOp::Discard) };
    }
}

/// A key to an action that runs when an object dies, made by [`Gc::on_death`].
///
/// The heap owns the action, not the key: dropping the key leaves the hook in place, and
/// copies of the key all find the same hook.
pub struct DeathHook<T, A> {
    /// The object's address: looked up in the table, read only under its lock.
    target: NonNull<Header>,
    /// 0 for a hook that was never registered (the sequence never hands out 0).
    id: u64,
    tracked: bool,
    _types: PhantomData<fn() -> (T, A)>,
}

// SAFETY: a key: the address is read only through the table, under its lock, while the object
// lives. The hook may hand out `Gc<T>` (hence `T: Send + Sync`, as for `Weak<T>`) and move or
// clone `A` on any thread (hence `A: Send`). `peek`s on several threads clone it one at a time,
// each ordered after the last (`READING`), as through a mutex: `A: Send` is enough to share
// the key.
unsafe impl<T: Send + Sync, A: Send> Send for DeathHook<T, A> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync, A: Send> Sync for DeathHook<T, A> {}

impl<T, A> Clone for DeathHook<T, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, A> Copy for DeathHook<T, A> {}

impl<T, A> fmt::Debug for DeathHook<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeathHook").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Gc<T> {
    /// Hands `action` to the heap, to run once when the object dies, unless the returned key
    /// takes it out first. With `at_exit`, [`run_exit_hooks`] runs it too (the object still
    /// alive then). [`finalize`](crate::finalize) is made of this; it is the cheapest way to
    /// run code at a death when nothing needs to upgrade a weak handle.
    ///
    /// The action runs exactly where a [`Gc::downgrade_with_finalizer`] callback would: when
    /// the last strong handle goes, newest first among the object's callbacks and hooks,
    /// before the value is dropped; when the object dies in cyclic garbage, in the
    /// collector's finalizer phase, before any member is torn down (code it runs may
    /// resurrect the object).
    ///
    /// On an object the collector is already tearing down (seen only from a `Drop` during a
    /// collection), the action is dropped and the key finds nothing.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use weakling::{DeathAction, Gc};
    ///
    /// struct Flag(Arc<AtomicBool>);
    /// impl DeathAction for Flag {
    ///     fn run(self) {
    ///         self.0.store(true, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let done = Arc::new(AtomicBool::new(false));
    /// let obj = Gc::new(7_u32);
    /// let hook = Gc::on_death(&obj, Flag(done.clone()), false);
    /// assert!(hook.is_pending());
    /// drop(obj);
    /// assert!(done.load(Ordering::SeqCst));
    /// assert!(!hook.is_pending());
    /// ```
    pub fn on_death<A: DeathAction>(this: &Gc<T>, action: A, at_exit: bool) -> DeathHook<T, A> {
        let target = Gc::header_ptr(this);
        // SAFETY: `this` keeps the header allocated.
        unsafe { target.as_ref() }.set_flags_once(HAS_CALLBACKS);
        let id = sequence::next();
        let block = box_cache::allocate(Layout::new::<WithAction<A>>()).cast::<WithAction<A>>();
        let hook = Hook {
            id,
            state: AtomicUsize::new(if at_exit { AT_EXIT } else { 0 }),
            op: hook_op::<A>,
        };
        let action = ExclusiveCell::new(ManuallyDrop::new(action));
        // SAFETY: a fresh block with the layout of `WithAction<A>`.
        unsafe { block.as_ptr().write(WithAction { hook, action }) };
        let hooked = Hooked(block.cast());
        let tracked = Gc::is_tracked(this);
        // SAFETY: `this` is a strong handle to the target, flagged above.
        let id = match unsafe { death_table::insert(target, Entry::Hook(hooked)) } {
            Ok(()) => id,
            // Being torn down: dropping the refused entry drops the action.
            Err(refused) => {
                drop(refused);
                0
            }
        };
        DeathHook { target, id, tracked, _types: PhantomData }
    }
}

impl<T, A> DeathHook<T, A> {
    /// Whether the action is still with the heap: it has not run, nor been taken out.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        death_table::with_hook(self.target, self.id, |_, _| ()).is_some()
    }

    /// Takes the action out unrun, if it is still pending. It will not run.
    pub fn cancel(&self) -> Option<A> {
        let hooked = death_table::remove_hook(self.target, self.id, |_, _| true)?;
        // SAFETY: the hook numbered `self.id` was made by `on_death` with `A`.
        Some(unsafe { hooked.into_action::<A>() })
    }

    /// Takes the action out unrun together with a strong handle to the object, if the action
    /// is pending and the object alive (not dying, nor condemned by the collector).
    pub fn detach(&self) -> Option<(Gc<T>, A)> {
        // Raising a tracked object's count is a mutator operation, begun before any lock.
        let op = self.tracked.then(pause::begin);
        let hooked =
            death_table::remove_hook(self.target, self.id, |_, header| header.try_inc_strong())?;
        // SAFETY: the count raised above, of the object the hook was made on (a `Gc<T>`).
        let obj = unsafe { Gc::from_header(self.target, self.tracked) };
        drop(op);
        // SAFETY: the hook numbered `self.id` was made by `on_death` with `A`.
        Some((obj, unsafe { hooked.into_action::<A>() }))
    }

    /// A strong handle to the object and a copy of the action, if the action is pending and
    /// the object alive. The action's `clone` runs outside every lock, holding the object
    /// (so it cannot die meanwhile); a `cancel`, `detach` or exit run on another thread waits
    /// for the clone to finish, and so does a `peek` of the same hook.
    #[must_use]
    pub fn peek(&self) -> Option<(Gc<T>, A)>
    where
        A: Clone,
    {
        let (obj, hook) = loop {
            let op = self.tracked.then(pause::begin);
            let found = death_table::with_hook(self.target, self.id, |hook, header| {
                // Acquire: the last reader's clone happens before this one's.
                if hook.state.load(Ordering::Acquire) & READING != 0 {
                    return None;
                }
                // Relaxed: the lock orders it before the owner's take; the owner's Acquire
                // load pairs with the Release when the reader leaves.
                Some(header.try_inc_strong().then(|| {
                    hook.state.fetch_or(READING, Ordering::Relaxed);
                    NonNull::from(hook)
                }))
            })?;
            match found {
                Some(Some(hook)) => {
                    // SAFETY: the count raised above, of the object the hook was made on.
                    let obj = unsafe { Gc::from_header(self.target, self.tracked) };
                    break (obj, hook);
                }
                // The object is dying or condemned.
                Some(None) => return None,
                // Another peek is cloning: come back once it is done, outside the operation.
                None => {
                    drop(op);
                    yield_now();
                }
            }
        };
        /// Leaves the hook, even if `clone` panics.
        struct Reading(NonNull<Hook>);
        impl Drop for Reading {
            fn drop(&mut self) {
                // SAFETY: the marked reader keeps the block allocated until this.
                unsafe { self.0.as_ref() }.state.fetch_and(!READING, Ordering::Release);
            }
        }
        let reading = Reading(hook);
        // SAFETY: the marked reader keeps the block allocated and the action in place (the
        // owner waits for it before moving the action), and no other reader reads meanwhile.
        // Made with `A` (`self.id`).
        let action =
            unsafe { hook.cast::<WithAction<A>>().as_ref().action.with(|a| (**a).clone()) };
        drop(reading);
        Some((obj, action))
    }

    /// Whether [`run_exit_hooks`] runs the action: `false` once it is no longer pending.
    #[must_use]
    pub fn at_exit(&self) -> bool {
        death_table::with_hook(self.target, self.id, |hook, _| hook.at_exit()).unwrap_or(false)
    }

    /// Sets whether [`run_exit_hooks`] runs the action. Does nothing once it is no longer
    /// pending.
    pub fn set_at_exit(&self, at_exit: bool) {
        death_table::with_hook(self.target, self.id, |hook, _| hook.set_at_exit(at_exit));
    }
}

/// Runs every pending hook flagged at exit, newest first, of objects on heap `heap` (every
/// heap for `None`), hooks added while it runs included; each is taken out, so it never runs
/// again. The objects stay alive. What [`shutdown`](crate::shutdown) runs.
pub fn run_exit_hooks(heap: Option<u32>) {
    loop {
        let mut pending = exit_hooks(heap);
        if pending.is_empty() {
            return;
        }
        // A hook that an action adds on this thread is selected again at once (it is the
        // newest); one added on another thread meanwhile, at the latest when these ran.
        let mut seen = sequence::mark();
        while let Some((id, target)) = pending.pop() {
            if let Some(hooked) = death_table::remove_hook(target, id, |hook, _| hook.at_exit()) {
                hooked.fire();
            }
            let now = sequence::mark();
            if now != seen {
                seen = now;
                pending = exit_hooks(heap);
            }
        }
    }
}

/// The hooks flagged at exit of `heap`'s objects (every heap's for `None`), oldest first.
fn exit_hooks(heap: Option<u32>) -> Vec<(u64, NonNull<Header>)> {
    let mut selected = Vec::new();
    death_table::for_each_hook(|hook, target, header| {
        if hook.at_exit() && heap.is_none_or(|h| header.heap_id() == h) {
            selected.push((hook.id(), target));
        }
    });
    selected.sort_unstable_by_key(|&(id, _)| id);
    selected
}
