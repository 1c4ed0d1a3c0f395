//! A shared slot whose value is read under a read pin, with no write per read.
//!
//! The slot owns its value as a leaf on the heap, marked as read under pins from the start
//! (`PINNED_READS`), and publishes the leaf's address in one atomic word. A reader loads the
//! word after its pin's fence and borrows the value for as long as the pin lasts. Replacing
//! or clearing the value swaps the word and drops the slot's strong handle: since the leaf is
//! marked, that drop goes through the dying side of the pin protocol (a `SeqCst` fence, then
//! the reader counts), so either a reader's load saw the new word, or the drop saw the
//! reader's pin and the old value's destruction waits for it (see `pin`). The swap is the
//! write that the fence pair orders, as the strong count's fall is for a weakly held leaf.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::gc::Gc;
use super::header::Header;
use super::layout::GcBox;
use super::pin::ReadPin;
use crate::sync::{AtomicPtr, Ordering};

/// A shared slot holding at most one value, which readers borrow under a [`ReadPin`]
/// without writing to anything shared: no lock, no count.
///
/// This is for a value that many threads read on a hot path and that changes rarely, such as
/// a list that a [`Subject`](crate::observer::Subject) delivers to. A reader calls
/// [`load`](PinnedSlot::load) with its pin and gets a reference that lives as long as the
/// pin; a writer [`replace`](PinnedSlot::replace)s the value. A replaced value is dropped
/// once no pin that existed at the replacement remains, on whichever thread ends the last of
/// them or replaces something next; with no pin held it is dropped at once, by the
/// replacing thread.
///
/// Writers do not coordinate with each other: two concurrent replacements both take effect,
/// in some order, and each drops the value it took out. Use a lock around a
/// read-build-replace sequence that must not lose an update.
///
/// ```
/// use weakling::{read_pin, PinnedSlot};
///
/// let slot = PinnedSlot::new(vec![1, 2, 3]);
/// let pin = read_pin();
/// let before = slot.load(&pin).unwrap();
/// slot.replace(Some(vec![4]));
/// // The old vector is still readable under the pin that borrowed it...
/// assert_eq!(before, &[1, 2, 3]);
/// // ...and readers now load the new one.
/// assert_eq!(slot.load(&pin).unwrap(), &[4]);
/// drop(pin); // the old vector is dropped here
/// ```
pub struct PinnedSlot<T> {
    /// The header of a leaf `GcBox<T>` whose one strong count the slot owns; null when empty.
    current: AtomicPtr<Header>,
    owns: PhantomData<Gc<T>>,
}

impl<T> PinnedSlot<T> {
    /// An empty slot.
    #[must_use]
    pub fn empty() -> PinnedSlot<T> {
        PinnedSlot { current: AtomicPtr::new(ptr::null_mut()), owns: PhantomData }
    }

    /// Empties the slot; returns whether it held a value. The value taken out is dropped
    /// once the pins that may be reading it have ended.
    pub fn clear(&self) -> bool {
        // An empty slot is left without a write (a replacement that happens before this call
        // is seen here). Relaxed: nothing is read through the value when it is null.
        if self.current.load(Ordering::Relaxed).is_null() {
            return false;
        }
        self.swap_in(ptr::null_mut())
    }

    /// Publishes `new` (null or a leaf made by `publishable`, whose strong count the slot
    /// takes) and drops the slot's count of the value it replaces; whether there was one.
    fn swap_in(&self, new: *mut Header) -> bool {
        // Release: the new value is written before readers can load its address. Acquire:
        // the old value's last uses by earlier writers happen before its drop here.
        let old = self.current.swap(new, Ordering::AcqRel);
        // SAFETY: the slot owned one strong count of the leaf at `old` and gives it up here,
        // once (the swap took the address out of the slot).
        unsafe { release::<T>(old) }
    }
}

impl<T> Default for PinnedSlot<T> {
    fn default() -> PinnedSlot<T> {
        PinnedSlot::empty()
    }
}

impl<T: Send + Sync + 'static> PinnedSlot<T> {
    /// A slot holding `value`.
    #[must_use]
    pub fn new(value: T) -> PinnedSlot<T> {
        PinnedSlot { current: AtomicPtr::new(publishable(value).as_ptr()), owns: PhantomData }
    }

    /// Puts `value` in the slot (or empties it with `None`); returns whether it held a value.
    /// The value taken out is dropped once the pins that may be reading it have ended.
    pub fn replace(&self, value: Option<T>) -> bool {
        self.swap_in(value.map_or(ptr::null_mut(), |v| publishable(v).as_ptr()))
    }

    /// Puts `value` in the slot and borrows it under `pin`, in one step: the borrow holds
    /// even if another thread replaces the value right after.
    pub fn replace_and_load<'p>(&self, value: T, _pin: &'p ReadPin) -> &'p T {
        let new = publishable(value);
        self.swap_in(new.as_ptr());
        // SAFETY: `new` is a marked leaf whose strong count the slot held when this thread,
        // holding the pin, published it. Whoever takes it out later does so with a swap that
        // reads this one's write (the slot's modification order), so this thread's pin count,
        // raised before, is visible to that drop's reading of the counts, and the value's
        // destruction waits for the pin to end.
        unsafe { borrow(new) }
    }

    /// Borrows the value for as long as `pin` lasts; `None` when the slot is empty.
    #[inline]
    #[must_use]
    pub fn load<'p>(&self, _pin: &'p ReadPin) -> Option<&'p T> {
        // Acquire: pairs with the Release of the swap that published the value. Loaded after
        // the pin's SeqCst fence (taken when the pin began).
        let current = NonNull::new(self.current.load(Ordering::Acquire))?;
        // SAFETY: the pin's fence precedes this load, and the drop of a replaced value runs a
        // fence after its swap before reading the reader counts (Dekker's pattern, see
        // `pin`): either this load saw the swap (and not this address), or the drop saw this
        // thread's pin and defers the value's destruction until the pin ends.
        Some(unsafe { borrow(current) })
    }
}

impl<T> Drop for PinnedSlot<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<T> std::fmt::Debug for PinnedSlot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let empty = self.current.load(Ordering::Relaxed).is_null();
        f.debug_struct("PinnedSlot").field("empty", &empty).finish_non_exhaustive()
    }
}

/// Puts `value` in a fresh leaf marked as read under pins, and hands over its strong count.
fn publishable<T: Send + Sync + 'static>(value: T) -> NonNull<Header> {
    let leaf = Gc::new_leaf(value);
    let header = Gc::header_ptr(&leaf);
    // Marked before anyone can read it, so that every drop of it waits for the pins held.
    // SAFETY: `leaf` keeps the header allocated.
    let alive = unsafe { header.as_ref() }.mark_pinned_reads_if_alive();
    debug_assert!(alive);
    std::mem::forget(leaf);
    header
}

/// Drops the strong count of the leaf at `header`, if any.
///
/// # Safety
/// `header` is null or a leaf `GcBox<T>` whose strong count the caller owns and gives up.
unsafe fn release<T>(header: *mut Header) -> bool {
    let Some(header) = NonNull::new(header) else { return false };
    // SAFETY: per the contract, a leaf's strong count handed to the handle.
    drop(unsafe { Gc::<T>::from_header(header, false) });
    true
}

/// # Safety
/// `header` is a leaf `GcBox<T>` that stays allocated and whose value stays undropped for
/// `'p`.
unsafe fn borrow<'p, T>(header: NonNull<Header>) -> &'p T {
    // SAFETY: per the contract.
    unsafe { &(*header.cast::<GcBox<T>>().as_ptr()).value }
}
