//! The object header: the two counted words at the start of every object.
//!
//! ```text
//! strong word  | CONDEMNED (63) | PINNED_READS (62) | strong count (bits 0..62)       |
//! weak word    | heap id (40..64)   | flags (32..40) | weak count (bits 0..32)         |
//! ```
//!
//! The strong count is the number of [`Gc`](crate::Gc) handles. The weak count is the number
//! of weak references plus one that all strong handles own together (as in `std::sync::Arc`),
//! so the box outlives its value for as long as a weak reference may still look at it.
//!
//! Orderings follow `Arc`: increments from an existing handle are `Relaxed` (the new handle is
//! made from one the thread already has, so nothing needs to be published); decrements are
//! `Release` and the one that reaches zero is followed by an `Acquire` fence, so that every
//! use of the object through any handle happens before its destruction. Counts never wrap:
//! past their limits the process aborts, as std does.

use crate::sync::{fence, AtomicUsize, Ordering};

#[cfg(not(target_pointer_width = "64"))]
compile_error!("weakling packs its header for 64-bit targets only");

/// Set in the strong word once the cycle collector has decided the object is garbage: from
/// then on no upgrade succeeds.
pub(crate) const CONDEMNED: usize = 1 << 63;
/// Set in the strong word of a leaf once it has been read under a read pin (see `pin`): the
/// drop of its value and the release of its memory then wait for the pins that exist at its
/// death, and `try_unwrap` refuses it. Kept after the count reaches zero.
const PINNED_READS: usize = 1 << 62;
const STRONG_MASK: usize = PINNED_READS - 1;
/// Far below the mask, so that racing increments cannot reach the flags before one aborts.
const MAX_STRONG: usize = 1 << 61;

const WEAK_MASK: usize = (1 << 32) - 1;
const MAX_WEAK: usize = 1 << 31;
/// The box carries a collector prefix ([`GcHead`](super::layout::GcHead)) and sits on its
/// heap's tracked lists. Fixed at allocation.
pub(crate) const TRACKED: usize = 1 << 32;
/// Some weak reference registered a death callback: dying must consult the registry.
pub(crate) const HAS_CALLBACKS: usize = 1 << 33;
/// The value has been dropped while strong handles still exist (cycle teardown). Plain
/// access panics, `try_` access returns `None`.
pub(crate) const TORN_DOWN: usize = 1 << 34;
/// Some value was attached to this object by an `Ephemeron`: dying must drop it, and the
/// collector traces it as the object's edge.
pub(crate) const HAS_ATTACHMENTS: usize = 1 << 35;
/// The collector has run the object's finalizer ([`Trace::finalize`](crate::Trace::finalize)):
/// it never runs again, even if the object was resurrected.
pub(crate) const FINALIZED: usize = 1 << 36;
const HEAP_SHIFT: u32 = 40;
/// Heap ids fit in the top 24 bits of the weak word.
pub(crate) const MAX_HEAP_ID: u32 = (1 << 24) - 1;

/// The counted words at the start of every object.
#[repr(C)]
pub(crate) struct Header {
    strong: AtomicUsize,
    weak: AtomicUsize,
}

impl Header {
    /// A header for a new object of heap `heap_id`. `strong` is 1 for a finished value and 0
    /// while [`Gc::new_cyclic`](crate::Gc::new_cyclic) builds it (with one extra weak
    /// reference held by the constructor).
    pub(crate) fn new(heap_id: u32, tracked: bool, strong: usize, weak: usize) -> Header {
        debug_assert!(heap_id <= MAX_HEAP_ID);
        let flags = if tracked { TRACKED } else { 0 };
        Header {
            strong: AtomicUsize::new(strong),
            weak: AtomicUsize::new(((heap_id as usize) << HEAP_SHIFT) | flags | weak),
        }
    }

    /// Adds a strong handle, copied from one the caller holds.
    #[inline]
    pub(crate) fn inc_strong(&self) {
        // Relaxed: the caller's handle keeps the object alive and publishes nothing new.
        let old = self.strong.fetch_add(1, Ordering::Relaxed);
        if old & STRONG_MASK > MAX_STRONG {
            std::process::abort();
        }
    }

    /// Adds a strong handle only if the object is still alive and not condemned; this is
    /// `upgrade`.
    #[inline]
    pub(crate) fn try_inc_strong(&self) -> bool {
        let mut n = self.strong.load(Ordering::Relaxed);
        loop {
            if n & STRONG_MASK == 0 || n & CONDEMNED != 0 {
                return false;
            }
            if n & STRONG_MASK > MAX_STRONG {
                std::process::abort();
            }
            // Acquire on success: the upgraded handle may read the value, whose last writes
            // were published by the Release decrements of earlier handles.
            match self.strong.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => n = seen,
            }
        }
    }

    /// Drops a strong handle; `true` when it was the last one. After `true`, every earlier
    /// use of the object through any handle happens before the caller's next step.
    #[inline]
    pub(crate) fn dec_strong(&self) -> bool {
        // Release: this handle's uses of the value happen before its destruction.
        if self.strong.fetch_sub(1, Ordering::Release) & STRONG_MASK != 1 {
            return false;
        }
        // Acquire: pairs with every earlier Release decrement (they form one release sequence).
        fence(Ordering::Acquire);
        true
    }

    /// Takes the count from 1 to 0 if the caller holds the only strong handle
    /// (`Gc::try_unwrap`).
    pub(crate) fn try_take_unique(&self) -> bool {
        if self.strong.compare_exchange(1, 0, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return false;
        }
        fence(Ordering::Acquire);
        true
    }

    /// Marks the object `PINNED_READS` unless it is dead; whether it is alive. Called under a
    /// read pin, after its fence (see `pin`).
    #[inline]
    pub(crate) fn mark_pinned_reads_if_alive(&self) -> bool {
        // The pin's SeqCst fence orders this load against a dying thread's fence (see `pin`).
        // Acquire, as for an upgrade: the value written before a `new_cyclic` publication is
        // visible to the borrower.
        let word = self.strong.load(Ordering::Acquire);
        if word & PINNED_READS != 0 {
            return word & STRONG_MASK != 0;
        }
        // First read under a pin: the mark goes in with a read-modify-write on the strong
        // word, so that the drop taking the count to zero (the next read-modify-write in this
        // word's order, or an earlier one that leaves zero here) sees it.
        self.strong.fetch_or(PINNED_READS, Ordering::AcqRel) & STRONG_MASK != 0
    }

    /// Whether the object was read under a read pin (only meaningful once the count reached
    /// zero, read by the thread that took it there).
    #[inline]
    pub(crate) fn was_pinned_read(&self) -> bool {
        self.strong.load(Ordering::Relaxed) & PINNED_READS != 0
    }

    /// Makes a [`Gc::new_cyclic`](crate::Gc::new_cyclic) value reachable: 0 → 1.
    pub(crate) fn publish_first_strong(&self) {
        // Release: the value written before this is visible to whoever upgrades (Acquire).
        self.strong.store(1, Ordering::Release);
    }

    /// Marks the object as decided garbage (`upgrade` fails from now on) and adds the
    /// collector's strong handle, in one step, without a read-modify-write.
    ///
    /// # Safety
    /// The world is stopped and the object unreachable: no thread holds a handle to it that it
    /// could clone or drop, and upgrades wait for the world. Threads see the new word once the
    /// world runs again (`pause::resume` publishes it).
    pub(crate) unsafe fn condemn_and_hold(&self) {
        // Relaxed load and store: no other thread writes the word until the world runs again
        // (contract), and the stop orders earlier writes before this load.
        let old = self.strong.load(Ordering::Relaxed);
        debug_assert_eq!(old & CONDEMNED, 0, "condemned twice");
        if old & STRONG_MASK > MAX_STRONG {
            std::process::abort();
        }
        self.strong.store(old + CONDEMNED + 1, Ordering::Relaxed);
    }

    /// Whether the caller's strong handle to this condemned object is the only one left, once
    /// `skipped` handles that were dropped without decrementing the count are discounted: then
    /// no other handle exists that could be cloned, and no upgrade can add one.
    #[inline]
    pub(crate) fn is_last_condemned_handle(&self, skipped: usize) -> bool {
        // Acquire: pairs with the Release decrements of the other handles, so their uses of
        // the object happen before whatever the caller does next (free it).
        self.strong.load(Ordering::Acquire) == CONDEMNED | (1 + skipped)
    }

    /// Takes `skipped` handles that were dropped without decrementing the count off it. The
    /// caller still holds a strong handle, so the count stays above zero.
    #[inline]
    pub(crate) fn release_skipped(&self, skipped: usize) {
        if skipped != 0 {
            // Release: the dropped handles' uses of the object happen before its destruction,
            // as for any decrement.
            self.strong.fetch_sub(skipped, Ordering::Release);
        }
    }

    /// Marks the value of a condemned object torn down and returns the flags it had before.
    ///
    /// # Safety
    /// The object is condemned, and the calling thread holds its only strong handles (no other
    /// thread can make a new weak reference to it) and runs no user code meanwhile.
    #[inline]
    pub(crate) unsafe fn tear_down(&self) -> usize {
        // Acquire: the last uses of weak references dropped on other threads happen before.
        let word = self.weak.load(Ordering::Acquire);
        let old = if word & WEAK_MASK == 1 {
            // No weak reference besides the strong handles' own: no other thread can reach
            // the word (a new weak reference needs a handle), so a plain store does.
            self.weak.store(word | TORN_DOWN, Ordering::Relaxed);
            word
        } else {
            // Weak handles elsewhere may be cloned or dropped right now.
            self.weak.fetch_or(TORN_DOWN, Ordering::AcqRel)
        };
        old & !WEAK_MASK & ((1 << HEAP_SHIFT) - 1)
    }

    /// Takes back [`tear_down`](Header::tear_down) before anything could see the mark.
    ///
    /// # Safety
    /// The caller marked the object torn down while the world is stopped, the world is still
    /// stopped, and the value has not been dropped.
    #[inline]
    pub(crate) unsafe fn untear(&self) {
        // A read-modify-write: weak handles on other threads may change the weak count now.
        // Relaxed: no thread reads the flag until the world runs again, and the restart
        // publishes this store as it publishes the condemned mark.
        self.weak.fetch_and(!TORN_DOWN, Ordering::Relaxed);
    }

    /// Whether the object is tracked and belongs to heap `heap_id`, from one load.
    #[inline]
    pub(crate) fn is_tracked_in(&self, heap_id: u32) -> bool {
        let word = self.weak.load(Ordering::Relaxed);
        word & TRACKED != 0 && (word >> HEAP_SHIFT) as u32 == heap_id
    }

    /// Takes back the collector's decision: the object was resurrected by a finalizer, and
    /// upgrades succeed again.
    pub(crate) fn uncondemn(&self) {
        self.strong.fetch_and(!CONDEMNED, Ordering::AcqRel);
    }

    /// The number of strong handles.
    #[inline]
    pub(crate) fn strong_count(&self) -> usize {
        self.strong.load(Ordering::Acquire) & STRONG_MASK
    }

    /// Adds a weak reference.
    #[inline]
    pub(crate) fn inc_weak(&self) {
        // Relaxed, as for strong increments: made from a reference the caller holds.
        let old = self.weak.fetch_add(1, Ordering::Relaxed);
        if old & WEAK_MASK > MAX_WEAK {
            std::process::abort();
        }
    }

    /// Adds a weak reference and sets `flags`, in one read-modify-write when they are not set
    /// yet (a registration's weak reference and `HAS_CALLBACKS`), or in one plain store when
    /// the caller's handle is the object's only reference ([`unshared_weak_word`]).
    ///
    /// [`unshared_weak_word`]: Header::unshared_weak_word
    #[inline]
    pub(crate) fn inc_weak_flagging(&self, flags: usize) {
        debug_assert_eq!(flags & (WEAK_MASK | !((1 << HEAP_SHIFT) - 1)), 0);
        if let Some(w) = self.unshared_weak_word() {
            // Release: as `set_flags_once`.
            return self.weak.store((w + 1) | flags, Ordering::Release);
        }
        let mut w = self.weak.load(Ordering::Relaxed);
        if w & flags == flags {
            return self.inc_weak();
        }
        loop {
            if w & WEAK_MASK > MAX_WEAK {
                std::process::abort();
            }
            // AcqRel on success, as `set_flags`.
            match self.weak.compare_exchange_weak(
                w,
                (w + 1) | flags,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => w = seen,
            }
        }
    }

    /// Drops a weak reference; `true` when the box may be freed now.
    #[inline]
    pub(crate) fn dec_weak(&self) -> bool {
        if self.weak.fetch_sub(1, Ordering::Release) & WEAK_MASK != 1 {
            return false;
        }
        fence(Ordering::Acquire);
        true
    }

    /// Releases the weak reference that the strong handles shared, once the last of them is
    /// gone; `true` when it was the last reference of any kind (the box may be freed).
    ///
    /// When it is the only weak reference, no other can appear (weak references are made from
    /// strong handles, none of which is left, or copied from weak references, none of which
    /// exists), so a load stands in for the decrement. Acquire: the other references' uses,
    /// published by their Release decrements, happen before the caller frees the box (as in
    /// the collector's `free_if_unreferenced`).
    #[inline]
    pub(crate) fn release_strong_share(&self) -> bool {
        debug_assert_eq!(self.strong_count(), 0);
        self.raw_weak_count() == 1 || self.dec_weak()
    }

    /// The raw weak count, the strong handles' shared reference included.
    #[inline]
    pub(crate) fn raw_weak_count(&self) -> usize {
        self.weak.load(Ordering::Acquire) & WEAK_MASK
    }

    /// The flag bits of the weak word.
    #[inline]
    pub(crate) fn flags(&self, ordering: Ordering) -> usize {
        self.weak.load(ordering) & !WEAK_MASK & ((1 << HEAP_SHIFT) - 1)
    }

    #[inline]
    pub(crate) fn set_flags(&self, flags: usize) {
        debug_assert_eq!(flags & (WEAK_MASK | !((1 << HEAP_SHIFT) - 1)), 0);
        self.weak.fetch_or(flags, Ordering::AcqRel);
    }

    /// Sets `flags` unless they are all set already, which a load tells without writing; with
    /// a plain store when the caller's handle is the object's only reference
    /// ([`unshared_weak_word`](Header::unshared_weak_word)).
    #[inline]
    pub(crate) fn set_flags_once(&self, flags: usize) {
        if let Some(w) = self.unshared_weak_word() {
            // Release, as the read-modify-write it stands for. Whoever reads the flag (the
            // object's death, after this handle's drop; a thread given a reference later) is
            // ordered after this store through the handle.
            return self.weak.store(w | flags, Ordering::Release);
        }
        if self.flags(Ordering::Relaxed) & flags != flags {
            self.set_flags(flags);
        }
    }

    /// The weak word, if the caller's strong handle is the object's only reference of any
    /// kind and its flags show nothing that another thread may act on (no death entries, not
    /// torn down): then no other thread can write the word until this thread hands out a
    /// reference, and the caller may replace it with a plain store.
    ///
    /// Why the two loads prove it. The strong word is read first, with Acquire: when it reads
    /// exactly 1 (this handle, not condemned, never read under a pin), every other strong
    /// handle that ever existed was dropped by a Release decrement earlier in the word's order,
    /// and all those decrements happen before this load (later read-modify-writes continue
    /// their release sequences). A weak reference is made only from a strong handle, or from a
    /// weak reference, which itself goes back to a strong handle: so every weak reference made
    /// on another thread was made before such a drop, and the weak word read afterwards counts
    /// it unless it is gone. A weak count of 1 (the strong handles' shared reference) thus
    /// means no weak reference exists; with no strong handle elsewhere and no weak reference,
    /// nothing can be upgraded or copied into a new reference. The one other way to a handle,
    /// a death hook's key (`peek`, `detach`), exists only on an object flagged
    /// `HAS_CALLBACKS`, and that flag, set before such a drop or by this thread, is seen here.
    #[inline]
    fn unshared_weak_word(&self) -> Option<usize> {
        if self.strong.load(Ordering::Acquire) != 1 {
            return None;
        }
        let w = self.weak.load(Ordering::Relaxed);
        (w & (WEAK_MASK | HAS_CALLBACKS | TORN_DOWN) == 1).then_some(w)
    }

    #[inline]
    pub(crate) fn is_tracked(&self) -> bool {
        self.flags(Ordering::Relaxed) & TRACKED != 0
    }

    /// Whether the value has been dropped by cycle teardown while handles remain.
    #[inline]
    pub(crate) fn is_torn_down(&self) -> bool {
        // Relaxed: only the thread tearing down (and the Drop code it runs) can still reach a
        // torn-down object through a strong handle.
        self.flags(Ordering::Relaxed) & TORN_DOWN != 0
    }

    #[inline]
    pub(crate) fn heap_id(&self) -> u32 {
        (self.weak.load(Ordering::Relaxed) >> HEAP_SHIFT) as u32
    }
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;

    #[test]
    fn counts_and_flags_share_the_weak_word_without_interfering() {
        let h = Header::new(MAX_HEAP_ID, true, 1, 1);
        assert_eq!(h.heap_id(), MAX_HEAP_ID);
        assert!(h.is_tracked());
        h.inc_weak();
        h.set_flags(HAS_CALLBACKS);
        assert_eq!(h.raw_weak_count(), 2);
        assert_eq!(h.heap_id(), MAX_HEAP_ID);
        assert_eq!(h.flags(Ordering::Relaxed), TRACKED | HAS_CALLBACKS);
        assert!(!h.dec_weak());
        assert!(h.dec_weak());
    }

    #[test]
    fn a_weak_reference_and_its_flag_in_one_step() {
        let h = Header::new(7, false, 1, 1);
        h.inc_weak_flagging(HAS_CALLBACKS);
        assert_eq!(h.raw_weak_count(), 2);
        assert_eq!(h.flags(Ordering::Relaxed), HAS_CALLBACKS);
        // Already flagged: only the count moves.
        h.inc_weak_flagging(HAS_CALLBACKS);
        assert_eq!(h.raw_weak_count(), 3);
        assert_eq!((h.flags(Ordering::Relaxed), h.heap_id()), (HAS_CALLBACKS, 7));
    }

    #[test]
    fn upgrade_fails_at_zero_and_when_condemned() {
        let h = Header::new(0, false, 1, 1);
        assert!(h.try_inc_strong());
        assert_eq!(h.strong_count(), 2);
        // SAFETY: no other thread knows the header.
        unsafe { h.condemn_and_hold() };
        assert!(!h.try_inc_strong());
        assert_eq!(h.strong_count(), 3);
        // A resurrection takes the decision back; the collector's count goes the usual way.
        h.uncondemn();
        assert!(h.try_inc_strong());
        assert!(!h.dec_strong());
        assert!(!h.dec_strong());
        // SAFETY: as above.
        unsafe { h.condemn_and_hold() };
        assert!(!h.try_inc_strong());
        assert!(!h.dec_strong());
        assert!(!h.dec_strong());
        assert!(!h.is_last_condemned_handle(1));
        h.inc_strong();
        // A handle let go without a decrement, counted aside.
        assert!(h.is_last_condemned_handle(1));
        h.release_skipped(1);
        assert!(h.is_last_condemned_handle(0));
        assert!(h.dec_strong());
        assert!(!h.try_inc_strong());
    }

    #[test]
    fn unique_take_needs_exactly_one_handle() {
        let h = Header::new(0, false, 1, 1);
        h.inc_strong();
        assert!(!h.try_take_unique());
        assert!(!h.dec_strong());
        assert!(h.try_take_unique());
        assert_eq!(h.strong_count(), 0);
    }
}
