//! [`Heap`]: an object space with its own bookkeeping.
//!
//! Every object belongs to one heap, named by the id in its header. A heap keeps
//!
//! * its *tracked lists*: every live tracked object (one that may hold handles) sits on one
//!   list of one shard. Shards are picked per thread, so threads allocating at once rarely
//!   meet on a lock; an object remembers its shard, list and index in its
//!   [`GcHead`](super::layout::GcHead) slot, so taking it off is O(1) wherever it dies. The
//!   cycle collector walks these lists; list 0 receives new objects.
//! * its counters: allocations and frees, exact whenever no other thread is allocating or
//!   freeing in the heap at that moment. Leaf counts live in per-thread stripes (no shared
//!   write); tracked counts live beside the lists under the shard lock that is taken anyway.
//!
//! A process-wide default heap serves [`Gc::new`](crate::Gc::new). Isolated heaps
//! ([`Heap::new`]) keep their own counters (and, with the collector, their own settings and
//! statistics), so that for example tests running in parallel do not disturb each other.

use std::fmt;
use std::ptr::NonNull;

use super::header::{Header, MAX_HEAP_ID};
use super::layout::gc_head_of;
use super::thread_state::{registry, Tally};
use crate::collect::state::{CollectorState, DEFAULT_THRESHOLDS};
use crate::sync::{global, AtomicUsize, CachePadded, Mutex, MutexGuard, Ordering};

/// Shards per heap (two under loom, to keep models small).
pub(crate) const SHARDS: usize = if cfg!(weakling_loom) { 2 } else { 16 };
/// Tracked lists per shard: three generations and the frozen (permanent) list.
pub(crate) const LISTS: usize = 4;
/// Slot list tag: on a thread's nursery (the middle field names the thread).
pub(crate) const NURSERY: usize = 0xFD;
/// Slot list tag: died on another thread while on a nursery.
pub(crate) const DEAD_IN_NURSERY: usize = 0xFC;
/// Slot list tag: on no list: condemned by the collector, or not listed yet.
pub(crate) const UNLISTED: usize = 0xFE;
/// Slot list tag: condemned by the collection that runs on the thread the middle field names,
/// which is tearing it down; the index field counts the handles to it that the teardown's
/// drops let go without decrementing its count (see `thread_state::ThreadState::tearing`).
pub(crate) const TEARING: usize = 0xFB;
/// The slot of a tracked box that is on no list (yet): it names no list, so the collector
/// never takes it for an object of its working set.
pub(crate) const OFF_LIST: u64 = (UNLISTED as u64) << 48;

/// An object's header address, as the tracked lists store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ObjPtr(pub(crate) NonNull<Header>);

// SAFETY: an ObjPtr is only an address; it is dereferenced only by code that knows the object
// is still on a list or nursery (taken off before its box is freed), under that list's rules.
unsafe impl Send for ObjPtr {}

/// One shard: some tracked lists, under one lock.
#[derive(Default)]
pub(crate) struct Shard {
    pub(crate) lists: [Vec<ObjPtr>; LISTS],
}

/// The state of one heap; lives for the rest of the process once made.
pub(crate) struct HeapInner {
    id: u32,
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// Counts of threads that have exited, folded in.
    retired: Tally,
    /// Counts of operations run while a thread's thread-locals were already gone.
    orphans: Tally,
    /// Tracked objects that entered generation 0 since the last collection.
    young: AtomicUsize,
    /// Generation 0's threshold while automatic collection is enabled, else `usize::MAX`:
    /// read without the collector lock on every nursery flush.
    auto_threshold: AtomicUsize,
    collector: Mutex<CollectorState>,
}

/// Slot encoding in a GcHead: | list (8) | shard or thread (16) | index (32) |.
pub(crate) fn encode(list: usize, owner: usize, index: usize) -> u64 {
    debug_assert!(index <= u32::MAX as usize && owner <= u16::MAX as usize && list <= 0xff);
    ((list as u64) << 48) | ((owner as u64) << 32) | index as u64
}

pub(crate) fn decode(slot: u64) -> (usize, usize, usize) {
    ((slot >> 48) as usize & 0xff, (slot >> 32) as usize & 0xffff, slot as u32 as usize)
}

impl HeapInner {
    fn new(id: u32) -> HeapInner {
        HeapInner {
            id,
            shards: (0..SHARDS).map(|_| CachePadded(Mutex::new(Shard::default()))).collect(),
            retired: Tally::default(),
            orphans: Tally::default(),
            young: AtomicUsize::new(0),
            auto_threshold: AtomicUsize::new(DEFAULT_THRESHOLDS[0]),
            collector: Mutex::new(CollectorState::default()),
        }
    }

    /// The collector's settings and statistics, locked.
    pub(crate) fn collector(&self) -> MutexGuard<'_, CollectorState> {
        self.collector.lock()
    }

    /// Books `n` tracked objects entering generation 0; `true` when that makes an automatic
    /// collection due.
    pub(crate) fn note_young(&self, n: usize) -> bool {
        let young = self.young.fetch_add(n, Ordering::Relaxed) + n;
        young > self.auto_threshold.load(Ordering::Relaxed)
    }

    pub(crate) fn young(&self) -> usize {
        self.young.load(Ordering::Relaxed)
    }

    pub(crate) fn reset_young(&self) {
        self.young.store(0, Ordering::Relaxed);
    }

    /// Mirrors the collector state's automatic threshold for the lock-free check.
    pub(crate) fn publish_auto_threshold(&self, state: &CollectorState) {
        let t = if state.enabled { state.thresholds[0] } else { usize::MAX };
        self.auto_threshold.store(t, Ordering::Relaxed);
    }

    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Locks shard `i` (modulo the shard count).
    pub(crate) fn lock_shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i % SHARDS].lock()
    }

    /// Puts a new tracked object directly on list 0 of shard 0 (threads without a nursery).
    /// Returns whether an automatic collection became due.
    ///
    /// # Safety
    /// `header` must be a tracked box of this heap, on no list yet.
    pub(crate) unsafe fn track_in_shard(&self, header: NonNull<Header>) -> bool {
        let mut shard = self.shards[0].lock();
        let index = shard.lists[0].len();
        shard.lists[0].push(ObjPtr(header));
        // SAFETY: tracked box, allocated; the slot is written under the shard lock.
        unsafe { gc_head_of(header).as_ref() }.slot.store(encode(0, 0, index), Ordering::Release);
        drop(shard);
        self.note_young(1)
    }

    /// Takes a dying tracked object off its list.
    ///
    /// # Safety
    /// `header` must be a tracked box of this heap currently on a list (not a nursery), and no
    /// one else may take it off concurrently.
    pub(crate) unsafe fn untrack_in_shard(&self, header: NonNull<Header>) {
        // SAFETY: tracked and allocated per the contract.
        let head = unsafe { gc_head_of(header).as_ref() };
        // The shard part of a list slot never changes, so it can be read before locking.
        let (_, shard_index, _) = decode(head.slot.load(Ordering::Acquire));
        let mut shard = self.shards[shard_index].lock();
        let (list, _, index) = decode(head.slot.load(Ordering::Acquire));
        let list_vec = &mut shard.lists[list];
        debug_assert_eq!(list_vec[index], ObjPtr(header));
        list_vec.swap_remove(index);
        if let Some(moved) = list_vec.get(index) {
            // SAFETY: `moved` is on a list, hence tracked and allocated.
            let moved_head = unsafe { gc_head_of(moved.0).as_ref() };
            moved_head.slot.store(encode(list, shard_index, index), Ordering::Release);
        }
    }

    pub(crate) fn orphan_tally(&self) -> &Tally {
        &self.orphans
    }

    /// Folds an exiting thread's tally into the retired totals.
    pub(crate) fn retire(&self, tally: &Tally) {
        for (into, from) in [
            (&self.retired.leaf_allocations, &tally.leaf_allocations),
            (&self.retired.leaf_frees, &tally.leaf_frees),
            (&self.retired.tracked_allocations, &tally.tracked_allocations),
            (&self.retired.tracked_frees, &tally.tracked_frees),
        ] {
            into.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    fn counts(&self) -> HeapCounts {
        let mut sum = [0_u64; 4];
        let mut add = |t: &Tally| {
            sum[0] += t.leaf_allocations.load(Ordering::Relaxed);
            sum[1] += t.leaf_frees.load(Ordering::Relaxed);
            sum[2] += t.tracked_allocations.load(Ordering::Relaxed);
            sum[3] += t.tracked_frees.load(Ordering::Relaxed);
        };
        // Under the registry lock, so that an exiting thread is counted exactly once.
        let registry = registry();
        add(&self.retired);
        add(&self.orphans);
        for state in registry.states() {
            if let Some(t) = state.tally_of(self.id) {
                add(&t);
            }
        }
        let allocations = sum[0] + sum[2];
        let frees = sum[1] + sum[3];
        HeapCounts {
            allocations,
            frees,
            live: allocations.saturating_sub(frees),
            tracked: sum[2].saturating_sub(sum[3]),
        }
    }
}

/// What a heap has allocated and freed so far.
///
/// Each thread counts on its own and readers add the counts up, so the figures are exact
/// whenever the other threads' allocations and frees happen before the call (for example,
/// those threads were joined, or signalled the caller); counts of threads still running may
/// lag by their latest operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapCounts {
    /// Objects allocated in this heap since it was made.
    pub allocations: u64,
    /// Objects that died (their value dropped or moved out) since it was made.
    pub frees: u64,
    /// Objects alive now: `allocations - frees`.
    pub live: u64,
    /// Live objects that may hold handles, which the cycle collector watches.
    pub tracked: u64,
}

/// An object space: the heap that objects are allocated in, with its own counters.
///
/// [`Gc::new`](crate::Gc::new) allocates in the process-wide [`Heap::global`];
/// [`Gc::new_in`](crate::Gc::new_in) in any other.
///
/// Each heap is collected on its own: handles from objects of other heaps count as references
/// from outside, so a cycle that spans two heaps is never collected. Keep the objects of one
/// structure in one heap.
///
/// A heap's bookkeeping (a few KiB) stays reserved until the process ends, because objects
/// may outlive the `Heap` value that made them; make a few long-lived heaps, not one per
/// request. At most 2<sup>24</sup> − 1 heaps can be made in one process.
///
/// ```
/// use weakling::{Gc, Heap};
///
/// let heap = Heap::new();
/// let a = Gc::new_in(String::from("leaf"), &heap);
/// let b = Gc::new_in(vec![a.clone()], &heap);
/// assert_eq!(heap.counts().live, 2);
/// assert_eq!(heap.counts().tracked, 1); // only `b` can hold handles
/// drop((a, b));
/// assert_eq!(heap.counts().live, 0);
/// assert_eq!(heap.counts().frees, 2);
/// ```
pub struct Heap {
    inner: &'static HeapInner,
}

impl Heap {
    /// Makes an isolated heap.
    ///
    /// # Panics
    ///
    /// If 2<sup>24</sup> − 1 heaps have already been made in this process.
    #[must_use = "a heap is only useful to allocate in"]
    pub fn new() -> Heap {
        let id = NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed);
        assert!(id <= MAX_HEAP_ID as usize, "weakling: too many heaps made in this process");
        Heap { inner: register(id as u32) }
    }

    /// The process-wide default heap, used by [`Gc::new`](crate::Gc::new).
    pub fn global() -> &'static Heap {
        &GLOBAL_HEAP
    }

    /// The counters of this heap.
    #[must_use]
    pub fn counts(&self) -> HeapCounts {
        self.inner.counts()
    }

    /// A number that identifies this heap within the process.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    pub(crate) fn inner(&self) -> &'static HeapInner {
        self.inner
    }
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new()
    }
}

impl fmt::Debug for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heap").field("id", &self.inner.id).field("counts", &self.counts()).finish()
    }
}

const CHUNK: usize = 4096;

/// Heap id → heap state, in lazily made chunks; entries are written once and never freed.
struct HeapTable {
    chunks: Box<[AtomicUsize]>,
}

global! {
    static TABLE: HeapTable = HeapTable {
        chunks: (0..(MAX_HEAP_ID as usize + 1).div_ceil(CHUNK)).map(|_| AtomicUsize::new(0)).collect(),
    };
}
global! {
    static NEXT_HEAP_ID: AtomicUsize = AtomicUsize::new(1);
}
global! {
    static GLOBAL_HEAP: Heap = Heap { inner: register(0) };
}

fn register(id: u32) -> &'static HeapInner {
    let inner: &'static HeapInner = Box::leak(Box::new(HeapInner::new(id)));
    let slot = &TABLE.chunks[id as usize / CHUNK];
    let mut chunk = slot.load(Ordering::Acquire) as *const AtomicUsize;
    if chunk.is_null() {
        let fresh: Box<[AtomicUsize]> = (0..CHUNK).map(|_| AtomicUsize::new(0)).collect();
        let fresh_ptr = fresh.as_ptr();
        // Release: the zeroed entries are visible to whoever loads the chunk pointer.
        chunk =
            match slot.compare_exchange(0, fresh_ptr as usize, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => Box::leak(fresh).as_ptr(),
                // Another thread installed a chunk first; ours is dropped unused.
                Err(existing) => existing as *const AtomicUsize,
            };
    }
    // SAFETY: chunks are leaked slices of CHUNK entries, and the index is within one.
    let entry = unsafe { &*chunk.add(id as usize % CHUNK) };
    // Release: the heap state is visible to whoever looks the id up (Acquire).
    entry.store(inner as *const HeapInner as usize, Ordering::Release);
    inner
}

/// The heap an object belongs to.
#[inline]
pub(crate) fn heap_of(header: &Header) -> &'static HeapInner {
    heap_by_id(header.heap_id())
}

/// The heap with id `id`, which must have been registered.
#[inline]
pub(crate) fn heap_by_id(id: u32) -> &'static HeapInner {
    if id == 0 {
        return GLOBAL_HEAP.inner;
    }
    let chunk = TABLE.chunks[id as usize / CHUNK].load(Ordering::Acquire) as *const AtomicUsize;
    // SAFETY: heap `id` was registered (an object or tally of it exists, made after
    // `register(id)` completed and before this call); chunks and entries are never freed.
    let entry = unsafe { &*chunk.add(id as usize % CHUNK) };
    // SAFETY: as above, the entry holds a leaked, never-freed HeapInner.
    unsafe { &*(entry.load(Ordering::Acquire) as *const HeapInner) }
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip() {
        assert_eq!(decode(OFF_LIST), (UNLISTED, 0, 0));
        assert_eq!(decode(encode(3, 15, 123_456)), (3, 15, 123_456));
        assert_eq!(decode(encode(0, 0, u32::MAX as usize)), (0, 0, u32::MAX as usize));
    }

    #[test]
    fn heaps_get_distinct_ids_and_are_found_again() {
        let a = Heap::new();
        let b = Heap::new();
        assert_ne!(a.id(), b.id());
        assert_ne!(a.id(), Heap::global().id());
        let h = Header::new(b.id(), false, 1, 1);
        assert_eq!(heap_of(&h).id(), b.id());
        let g = Header::new(0, false, 1, 1);
        assert_eq!(heap_of(&g).id(), 0);
    }
}
