//! Per-thread heap state: the operation depth that `pause` reads, the *nursery* of tracked
//! objects this thread made recently, and the thread's allocation tallies.
//!
//! # The nursery
//!
//! Most objects die young, often on the thread that made them. A new tracked object goes on
//! its thread's nursery, a plain vector that only that thread touches (inside mutator
//! operations), so making and dropping it costs no lock and no atomic read-modify-write. When
//! the nursery fills, its survivors move in one batch, under one lock per heap, to list 0 of
//! the thread's shard in their heap. A collector flushes every nursery while the world is
//! stopped, so it always sees every tracked object.
//!
//! An object that dies on another thread while still in a nursery cannot be taken out by that
//! thread; it is marked dead in its slot (one compare-and-swap) and the nursery keeps one weak
//! reference to its box, released when the owner next flushes. The slot is the only word both
//! threads write, and both write it by compare-and-swap, so exactly one of "moved to a list"
//! and "died in the nursery" wins.
//!
//! # Tallies
//!
//! Allocation and free counts are kept per thread and per heap, written only by the owning
//! thread (plain load and store, no read-modify-write) and summed by readers. A thread that
//! exits folds its tallies into its heaps' retired totals, under the registry lock that
//! readers also take, so no count is lost or counted twice.

use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;
use std::sync::Arc;

use super::header::Header;
use super::layout::gc_head_of;
use super::pause::Operation;
use super::space::{decode, encode, heap_of, HeapInner, ObjPtr, DEAD_IN_NURSERY, NURSERY, TEARING};
use crate::sync::{global, AtomicU64, AtomicUsize, Mutex, Ordering};

/// Survivors move from a nursery to the heap's lists once it holds this many objects (few
/// under loom, so that models reach a flush).
const NURSERY_CAPACITY: usize = if cfg!(weakling_loom) { 2 } else { 128 };

/// Counts of one thread in one heap.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) leaf_allocations: AtomicU64,
    pub(crate) leaf_frees: AtomicU64,
    pub(crate) tracked_allocations: AtomicU64,
    pub(crate) tracked_frees: AtomicU64,
}

impl Tally {
    /// Adds one; only the owning thread writes, so no read-modify-write is needed.
    #[inline]
    fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// The state of one registered thread.
pub(crate) struct ThreadState {
    /// Small number naming the thread in nursery slots; `None` past 65,535 live threads
    /// (such threads put new objects straight on the heap's lists).
    index: Option<u16>,
    /// Operation depth (see `pause`); written only by the owner.
    pub(crate) busy: AtomicUsize,
    /// Touched by the owner inside operations, by a collector while the world is stopped, and
    /// by the owner at exit under the orphan lock; never two at once.
    nursery: UnsafeCell<Vec<ObjPtr>>,
    tallies: Mutex<Vec<(u32, Arc<Tally>)>>,
    /// The tally of the heap this thread used last; touched only by the owner.
    cache: Cell<Option<(u32, *const Tally)>>,
    /// While this thread's collection drops the values of its garbage: the slot of a garbage
    /// object of that collection less its index field (`encode(TEARING, index, 0)`); 0
    /// otherwise. Touched only by the owner.
    tearing: Cell<u64>,
}

// SAFETY: the nursery is used under the exclusion described on the field; everything else is
// atomic or locked.
unsafe impl Sync for ThreadState {}
// SAFETY: as above; the ObjPtrs are addresses whose boxes the protocol keeps allocated.
unsafe impl Send for ThreadState {}

pub(crate) struct Registry {
    threads: Vec<Arc<ThreadState>>,
    free_indices: Vec<u16>,
    next_index: u32,
}

global! {
    static REGISTRY: Mutex<Registry> =
        Mutex::new(Registry { threads: Vec::new(), free_indices: Vec::new(), next_index: 0 });
}

/// The thread-local handle on this thread's state.
pub(crate) struct Local {
    pub(crate) state: Arc<ThreadState>,
}

crate::sync::thread_local! {
    static LOCAL: Local = Local::register();
}

std::thread_local! {
    /// This thread's state while `LOCAL` is alive, null before and after: the hot paths read
    /// this constant-initialised cell (one thread-pointer-relative load) instead of `LOCAL`.
    static CURRENT: Cell<*const ThreadState> = const { Cell::new(std::ptr::null()) };
}

impl Local {
    fn register() -> Local {
        super::pause::prepare();
        let mut reg = REGISTRY.lock();
        let index = reg.free_indices.pop().or_else(|| {
            let i = reg.next_index;
            (i <= u16::MAX as u32).then(|| {
                reg.next_index += 1;
                i as u16
            })
        });
        let state = Arc::new(ThreadState {
            index,
            busy: AtomicUsize::new(0),
            nursery: UnsafeCell::new(Vec::new()),
            tallies: Mutex::new(Vec::new()),
            cache: Cell::new(None),
            tearing: Cell::new(0),
        });
        reg.threads.push(state.clone());
        #[cfg(not(weakling_loom))]
        CURRENT.with(|c| c.set(Arc::as_ptr(&state)));
        Local { state }
    }
}

impl ThreadState {
    /// This thread's tally for `heap`. Only the owning thread may call this.
    #[inline]
    fn tally(&self, heap: &HeapInner) -> &Tally {
        if let Some((id, tally)) = self.cache.get() {
            if id == heap.id() {
                // SAFETY: the Arc is kept in `self.tallies` for the thread's life.
                return unsafe { &*tally };
            }
        }
        self.tally_slow(heap)
    }

    #[cold]
    fn tally_slow(&self, heap: &HeapInner) -> &Tally {
        let mut tallies = self.tallies.lock();
        let tally = match tallies.iter().find(|(id, _)| *id == heap.id()) {
            Some((_, t)) => Arc::as_ptr(t),
            None => {
                let t = Arc::new(Tally::default());
                let p = Arc::as_ptr(&t);
                tallies.push((heap.id(), t));
                p
            }
        };
        self.cache.set(Some((heap.id(), tally)));
        // SAFETY: as in `tally`.
        unsafe { &*tally }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // loom cannot run synchronisation inside thread-local destructors; under loom an
        // exited thread simply stays registered (its tallies still count, its nursery stays
        // listed), which the fresh registry of each model run makes harmless.
        #[cfg(not(weakling_loom))]
        self.retire();
    }
}

impl Local {
    #[cfg_attr(weakling_loom, allow(dead_code))]
    /// Exiting: serialise with collectors, hand the nursery over, fold the tallies.
    fn retire(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(std::ptr::null()));
        let _orphans = super::pause::orphan_lock();
        // SAFETY: the owner, at exit, under the orphan lock: no collector runs.
        unsafe { flush(&self.state) };
        let mut reg = REGISTRY.lock();
        for (heap_id, tally) in self.state.tallies.lock().iter() {
            super::space::heap_by_id(*heap_id).retire(tally);
        }
        reg.threads.retain(|s| !Arc::ptr_eq(s, &self.state));
        if let Some(i) = self.state.index {
            reg.free_indices.push(i);
        }
    }
}

/// The registered threads, locked (for collectors and for readers of counts).
pub(crate) fn registry() -> crate::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock()
}

impl Registry {
    pub(crate) fn states(&self) -> &[Arc<ThreadState>] {
        &self.threads
    }
}

impl ThreadState {
    /// This thread's tally for `heap_id`, if it has one.
    pub(crate) fn tally_of(&self, heap_id: u32) -> Option<Arc<Tally>> {
        self.tallies.lock().iter().find(|(id, _)| *id == heap_id).map(|(_, t)| t.clone())
    }
}

/// The current thread's state, while its thread-locals exist (registering it on first use).
#[inline]
pub(crate) fn current() -> Option<&'static ThreadState> {
    registered().or_else(current_slow)
}

/// The current thread's state if it is registered and its thread-locals exist; never
/// registers it (see [`current`]).
///
/// Under loom, where `CURRENT` (a std thread-local) is never set, this is [`current`]'s slow
/// path, so that the models run the hot paths that start here.
#[inline]
pub(crate) fn registered() -> Option<&'static ThreadState> {
    #[cfg(weakling_loom)]
    return current_slow();
    #[cfg(not(weakling_loom))]
    {
        let p = CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null());
        // SAFETY: set while `LOCAL` keeps the state alive, cleared before `LOCAL` lets go; the
        // reference is used only by this thread, within a call that cannot outlive `LOCAL`.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

#[cold]
fn current_slow() -> Option<&'static ThreadState> {
    // SAFETY: as in `current`: `LOCAL` lives until this thread's thread-locals are destroyed,
    // and after that `try_with` fails.
    LOCAL.try_with(|l| unsafe { &*Arc::as_ptr(&l.state) }).ok()
}

/// Counts a leaf allocation in `heap`.
#[inline]
pub(crate) fn count_leaf_allocation(heap: &HeapInner) {
    match current() {
        Some(state) => Tally::bump(&state.tally(heap).leaf_allocations),
        None => {
            heap.orphan_tally().leaf_allocations.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts a leaf death in `heap`.
#[inline]
pub(crate) fn count_leaf_free(heap: &HeapInner) {
    match current() {
        Some(state) => Tally::bump(&state.tally(heap).leaf_frees),
        None => {
            heap.orphan_tally().leaf_frees.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Puts a new tracked object on this thread's nursery (or straight on the heap's lists).
///
/// Returns whether an automatic collection became due.
///
/// # Safety
/// `header` is a tracked box of `heap` on no list yet; `op` is this thread's operation.
#[inline]
pub(crate) unsafe fn track(
    op: &Operation,
    heap: &'static HeapInner,
    header: NonNull<Header>,
) -> bool {
    let Some(state) = op.thread() else {
        heap.orphan_tally().tracked_allocations.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        return unsafe { heap.track_in_shard(header) };
    };
    Tally::bump(&state.tally(heap).tracked_allocations);
    let Some(index) = state.index else {
        // SAFETY: forwarded contract.
        return unsafe { heap.track_in_shard(header) };
    };
    // SAFETY: the owner, inside an operation.
    let nursery = unsafe { &mut *state.nursery.get() };
    let at = nursery.len();
    nursery.push(ObjPtr(header));
    // SAFETY: tracked box, allocated.
    let head = unsafe { gc_head_of(header).as_ref() };
    head.slot.store(encode(NURSERY, index as usize, at), Ordering::Release);
    if nursery.len() >= NURSERY_CAPACITY {
        // SAFETY: the owner, inside an operation.
        return unsafe { flush(state) };
    }
    false
}

/// Takes a tracked object whose strong count just reached zero off its nursery or list.
///
/// # Safety
/// By the thread that took the strong count to zero, once, inside its operation `op`.
#[inline]
pub(crate) unsafe fn untrack(op: &Operation, heap: &'static HeapInner, header: NonNull<Header>) {
    let me = op.thread();
    match me {
        Some(state) => Tally::bump(&state.tally(heap).tracked_frees),
        None => {
            heap.orphan_tally().tracked_frees.fetch_add(1, Ordering::Relaxed);
        }
    }
    // SAFETY: tracked box, allocated (the caller's object is not freed yet).
    let head = unsafe { gc_head_of(header).as_ref() };
    loop {
        let slot = head.slot.load(Ordering::Acquire);
        let (list, owner, at) = decode(slot);
        if list != NURSERY {
            // SAFETY: on a list of `heap`; only this thread takes it off.
            unsafe { heap.untrack_in_shard(header) };
            return;
        }
        if let Some(me) = me.filter(|s| s.index == Some(owner as u16)) {
            // SAFETY: our own nursery, inside an operation.
            let nursery = unsafe { &mut *me.nursery.get() };
            debug_assert_eq!(nursery[at], ObjPtr(header));
            let last = nursery.len() - 1;
            nursery.swap_remove(at);
            if let Some(moved) = nursery.get(at) {
                // SAFETY: nursery entries are tracked boxes kept allocated.
                let moved_head = unsafe { gc_head_of(moved.0).as_ref() };
                // Compare-and-swap: another thread may be marking the moved object dead right
                // now. If it won, the dead mark stays and the next flush releases the entry.
                let _ = moved_head.slot.compare_exchange(
                    encode(NURSERY, owner, last),
                    encode(NURSERY, owner, at),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            return;
        }
        // Another thread's nursery: leave the entry, dead, holding a weak reference that the
        // owner releases when it flushes.
        // SAFETY: header allocated (see above).
        let h = unsafe { header.as_ref() };
        h.inc_weak();
        let dead = encode(DEAD_IN_NURSERY, owner, at);
        if head.slot.compare_exchange(slot, dead, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return;
        }
        // The owner moved it to a list meanwhile: undo (cannot reach zero: the strong handles'
        // shared weak reference is still held by our caller) and take the list path.
        h.dec_weak();
    }
}

/// Moves the survivors of `state`'s nursery to their heaps' lists and releases the boxes of
/// objects that died there on other threads.
///
/// Returns whether the survivors made an automatic collection due in one of their heaps.
///
/// # Safety
/// Called by the owner inside an operation, by the owner at exit under the orphan lock, or by
/// a collector while the world is stopped.
pub(crate) unsafe fn flush(state: &ThreadState) -> bool {
    let Some(owner) = state.index else { return false };
    let mut due = false;
    let mut moved = 0;
    // SAFETY: exclusive access per the contract.
    let nursery = std::mem::take(unsafe { &mut *state.nursery.get() });
    let shard = owner as usize;
    let mut current: Option<(
        &'static HeapInner,
        crate::sync::MutexGuard<'static, super::space::Shard>,
    )> = None;
    for (at, obj) in nursery.iter().enumerate() {
        // SAFETY: a nursery entry is allocated: alive, or dead and kept by the entry's weak.
        let h = unsafe { obj.0.as_ref() };
        let heap = heap_of(h);
        if current.as_ref().is_none_or(|(c, _)| !std::ptr::eq(*c, heap)) {
            if let Some((previous, guard)) = current.take() {
                drop(guard); // unlock before locking the next heap's shard
                due |= previous.note_young(std::mem::take(&mut moved));
            }
            current = Some((heap, heap.lock_shard(shard)));
        }
        let (_, list) = current.as_mut().expect("just set");
        // SAFETY: tracked box, allocated.
        let head = unsafe { gc_head_of(obj.0).as_ref() };
        let expected = encode(NURSERY, owner as usize, at);
        let new = encode(0, shard % super::space::SHARDS, list.lists[0].len());
        match head.slot.compare_exchange(expected, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                list.lists[0].push(*obj);
                moved += 1;
            }
            Err(_) => {
                // Died on another thread while here; release the entry's weak reference.
                if h.dec_weak() {
                    // SAFETY: the last reference of any kind: free through the vtable.
                    unsafe { (head.vtable.dealloc)(obj.0) };
                }
            }
        }
    }
    if let Some((previous, guard)) = current {
        drop(guard);
        due |= previous.note_young(moved);
    }
    // Keep the allocation for the next round.
    // SAFETY: as above.
    let slot = unsafe { &mut *state.nursery.get() };
    if slot.is_empty() {
        let mut reuse = nursery;
        reuse.clear();
        *slot = reuse;
    }
    due
}

/// Counts `n` tracked objects of `heap` freed by this thread's collector.
pub(crate) fn count_tracked_frees(heap: &HeapInner, n: usize) {
    let counter = match current() {
        Some(state) => &state.tally(heap).tracked_frees,
        None => {
            heap.orphan_tally().tracked_frees.fetch_add(n as u64, Ordering::Relaxed);
            return;
        }
    };
    counter.store(counter.load(Ordering::Relaxed) + n as u64, Ordering::Relaxed);
}

/// Flushes every registered thread's nursery.
///
/// # Safety
/// The world is stopped, and the caller's own thread runs no operation.
pub(crate) unsafe fn flush_all() {
    for state in REGISTRY.lock().threads.iter() {
        // SAFETY: forwarded contract. Due collections are the caller's business already.
        let _ = unsafe { flush(state) };
    }
}

impl ThreadState {
    /// The slot that this thread's collection gives its garbage, if this thread has an index:
    /// `encode(TEARING, index, 0)`.
    pub(crate) fn tearing_slot(&self) -> Option<u64> {
        self.index.map(|i| encode(TEARING, i as usize, 0))
    }

    /// The slot prefix of the garbage whose values this thread's collection is dropping, or
    /// 0; see [`Operation::tearing`](super::pause::Operation::tearing).
    #[inline]
    pub(crate) fn tearing(&self) -> u64 {
        self.tearing.get()
    }

    /// Sets or clears (0) [`tearing`](ThreadState::tearing).
    pub(crate) fn set_tearing(&self, slot: u64) {
        self.tearing.set(slot);
    }
}
