//! A cache of freed object boxes in front of the global allocator, per thread and per size
//! class, as CPython's small-object allocator sits in front of `malloc`.
//!
//! Boxes come and go in bursts of one shape: a collection frees its garbage by the hundred
//! thousand, and the program that made it makes the next lot alike. In a process with more
//! than one thread, glibc's `free` of a small block takes a locked compare-and-swap once its
//! own per-thread cache (seven blocks per size) is full; in a collection of two-node cycles
//! that one instruction was about a quarter of the collection's time. Here a freed box goes on a
//! list of its thread, and the next box of its class comes off it: no locked instruction, no
//! call. The registrations of death callbacks, made and freed at the rate of the objects they
//! watch, use it too.
//!
//! # Classes
//!
//! A request of at most [`LARGEST`] bytes with an alignment of at most 16 falls in one of the
//! classes, multiples of [`GRANULE`] bytes; its block is allocated from the global allocator
//! with the layout of its class, so that any block of a class serves any request of it, and is
//! handed back with that same layout. A class whose size is a multiple of 16 is aligned to 16
//! (the only sizes a 16-aligned type can have), the others to 8. Other requests go straight to
//! the global allocator. Rounding up to a multiple of 8 costs nothing under glibc, whose blocks
//! grow in steps of 16 bytes from 24.
//!
//! # Chains, spares and the depot
//!
//! For each class, a thread keeps a *loaded* chain of free blocks (linked through their first
//! word) that it takes from and gives to, and a *spare* chain, either empty or full
//! ([`CHAIN`] blocks). A free that finds the loaded chain full moves it to the spare place if
//! that is empty, or else to the shared depot; an allocation that finds it empty takes the
//! spare, or else a chain from the depot, or else calls the global allocator. The depot is
//! locked once per [`CHAIN`] blocks, and a thread that frees what another allocates passes
//! chains, not blocks. The depot holds at most [`limit`] bytes; a chain that would pass it is
//! handed back to the global allocator block by block. When a thread exits, its chains go to
//! the depot.
//!
//! What a burst leaves behind does not stay: as the magazine depot of Bonwick and Adams'
//! allocator does with its working set, the depot notes the fewest bytes it held over each
//! [`IDLE`] interval, and at the first hand-over after the interval it gives that many back to
//! the allocator, oldest chains first: no thread needed them the whole time. A program that
//! frees a million boxes and makes no more gets their memory back about two intervals after
//! (at the depot's next use); one that frees and remakes them in rounds, as a program with a
//! collector does, keeps them.
//!
//! A thread keeps at most two chains per class, about 530 KiB in the worst case; [`release`]
//! hands the calling thread's chains and the depot's back to the allocator.
//!
//! # Turning it off
//!
//! With `WEAKLING_BOX_CACHE=off` in the environment (read once, at the first box), every box is
//! allocated and freed by the global allocator, so that valgrind and AddressSanitizer see the
//! whole life of each box, as `PYTHONMALLOC=malloc` does for CPython. The crate's CI runs its
//! memory checkers that way. Under `--cfg weakling_loom` the cache is bypassed too, and only the
//! depot, the one structure threads share, is modelled.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
#[cfg(not(weakling_loom))]
use std::cell::Cell;
use std::collections::VecDeque;
use std::ptr::{self, NonNull};
use std::time::{Duration, Instant};

use crate::sync::{global, global_atomic, AtomicUsize, Mutex, Ordering};

/// The step between class sizes, in bytes.
pub const GRANULE: usize = 8;
/// The largest alignment the cache serves.
const MAX_ALIGN: usize = 16;
/// The number of classes.
const CLASSES: usize = 32;
/// The largest request the cache serves, in bytes.
pub const LARGEST: usize = GRANULE * CLASSES;
/// Blocks in a full chain: the unit passed between a thread and the depot.
pub const CHAIN: usize = 64;
/// The depot's limit until [`set_limit`] changes it.
pub const DEFAULT_LIMIT: usize = 256 << 20;
/// How long a chain can sit unused in the depot before it goes back to the allocator.
pub const IDLE: Duration = Duration::from_secs(1);

/// The class that serves `layout`, if any.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size();
    (size != 0 && size <= LARGEST && layout.align() <= MAX_ALIGN).then(|| (size - 1) / GRANULE)
}

/// The layout every block of `class` is allocated and freed with.
#[inline]
fn class_layout(class: usize) -> Layout {
    let size = (class + 1) * GRANULE;
    let align = if size.is_multiple_of(MAX_ALIGN) { MAX_ALIGN } else { GRANULE };
    // Cannot fail: a non-zero multiple of its power-of-two alignment, far below isize::MAX.
    Layout::from_size_align(size, align).expect("a class layout")
}

/// A list of free blocks of one class, linked through each block's first word.
#[derive(Clone, Copy)]
struct Chain {
    head: *mut u8,
    len: usize,
}

// SAFETY: a chain is the only reference to its blocks, free memory owned by whoever holds the
// chain; moving it to another thread moves that ownership.
unsafe impl Send for Chain {}

impl Chain {
    const EMPTY: Chain = Chain { head: ptr::null_mut(), len: 0 };

    /// Adds a block.
    ///
    /// # Safety
    /// `block` is a free block of this chain's class, owned by the caller and given up.
    #[inline]
    unsafe fn push(&mut self, block: NonNull<u8>) {
        // SAFETY: a block is at least 8 bytes and 8-aligned: its first word is ours to write.
        unsafe { block.as_ptr().cast::<*mut u8>().write(self.head) };
        self.head = block.as_ptr();
        self.len += 1;
    }

    /// Takes a block off a chain that is not empty.
    ///
    /// # Safety
    /// `self.len > 0`.
    #[inline]
    unsafe fn pop(&mut self) -> NonNull<u8> {
        debug_assert!(self.len > 0);
        let block = self.head;
        // SAFETY: a chain of `len > 0` blocks has a valid head, whose first word links on.
        self.head = unsafe { block.cast::<*mut u8>().read() };
        self.len -= 1;
        // SAFETY: the head of a non-empty chain is a block, not null.
        unsafe { NonNull::new_unchecked(block) }
    }

    /// Hands every block back to the global allocator; returns the bytes released.
    ///
    /// # Safety
    /// The chain holds blocks of `class`, allocated with its layout, and the caller owns it.
    unsafe fn free(mut self, class: usize) -> usize {
        let layout = class_layout(class);
        let bytes = self.len * layout.size();
        while self.len > 0 {
            // SAFETY: `len > 0`; the block was allocated with the class's layout.
            unsafe { dealloc(self.pop().as_ptr(), layout) };
        }
        bytes
    }
}

/// Chains handed over by threads, shared by all of them.
struct Depot {
    chains: Mutex<Stock>,
    /// Chains per class, kept beside the lock so that a thread finding its class empty does
    /// not take the lock (a hint: read without ordering, and checked again under the lock).
    counts: [AtomicUsize; CLASSES],
}

struct Stock {
    /// Per class, oldest chain first.
    chains: [VecDeque<Chain>; CLASSES],
    bytes: usize,
    /// The fewest bytes the depot held since `since`: chains worth that much sat unused the
    /// whole time.
    low: usize,
    since: Instant,
}

impl Stock {
    /// Takes chains out, oldest first within each class, until at most `keep` bytes are left.
    fn shed(&mut self, keep: usize, counts: &[AtomicUsize; CLASSES]) -> Vec<(usize, Chain)> {
        let mut shed = Vec::new();
        for (class, chains) in self.chains.iter_mut().enumerate() {
            while self.bytes > keep {
                let Some(chain) = chains.pop_front() else { break };
                self.bytes -= chain.len * class_layout(class).size();
                counts[class].fetch_sub(1, Ordering::Relaxed);
                shed.push((class, chain));
            }
        }
        self.low = self.low.min(self.bytes);
        shed
    }

    /// Once per [`IDLE`]: takes out the chains that no thread needed during the last one (as
    /// many bytes as the depot never went below), and starts the next.
    fn shed_idle(&mut self, now: Instant, counts: &[AtomicUsize; CLASSES]) -> Vec<(usize, Chain)> {
        if now.duration_since(self.since) < IDLE {
            return Vec::new();
        }
        self.since = now;
        let shed = self.shed(self.bytes - self.low, counts);
        self.low = self.bytes;
        shed
    }
}

/// Hands chains taken out of the depot back to the allocator; returns the bytes released.
fn free_all(chains: Vec<(usize, Chain)>) -> usize {
    // SAFETY: each chain was the depot's, which holds blocks of its class only.
    chains.into_iter().map(|(class, chain)| unsafe { chain.free(class) }).sum()
}

global! {
    static DEPOT: Depot = Depot::new();
}

global_atomic! {
    static LIMIT: AtomicUsize = DEFAULT_LIMIT;
}

impl Depot {
    fn new() -> Depot {
        Depot {
            chains: Mutex::new(Stock {
                chains: Default::default(),
                bytes: 0,
                low: 0,
                since: Instant::now(),
            }),
            counts: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// Keeps `chain` if the limit allows, or frees its blocks; hands back the chains that sat
    /// unused for a whole [`IDLE`] (see [`Stock::shed_idle`]).
    ///
    /// # Safety
    /// As for [`Chain::free`].
    unsafe fn give(&self, class: usize, chain: Chain) {
        if chain.len == 0 {
            return;
        }
        let bytes = chain.len * class_layout(class).size();
        let now = Instant::now();
        let (kept, idle) = {
            let mut stock = self.chains.lock();
            let idle = stock.shed_idle(now, &self.counts);
            let kept = stock.bytes + bytes <= LIMIT.load(Ordering::Relaxed);
            if kept {
                stock.bytes += bytes;
                stock.chains[class].push_back(chain);
                self.counts[class].fetch_add(1, Ordering::Relaxed);
            }
            (kept, idle)
        };
        free_all(idle);
        if !kept {
            // SAFETY: forwarded contract; the chain was not kept.
            unsafe { chain.free(class) };
        }
    }

    /// A chain of `class`, if the depot has one.
    fn take(&self, class: usize) -> Option<Chain> {
        if self.counts[class].load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut stock = self.chains.lock();
        // The newest chain: the one most likely still in cache.
        let chain = stock.chains[class].pop_back()?;
        stock.bytes -= chain.len * class_layout(class).size();
        stock.low = stock.low.min(stock.bytes);
        self.counts[class].fetch_sub(1, Ordering::Relaxed);
        Some(chain)
    }

    /// Frees chains until the depot holds at most `keep` bytes; returns the bytes released.
    fn trim(&self, keep: usize) -> usize {
        let shed = self.chains.lock().shed(keep, &self.counts);
        free_all(shed)
    }
}

/// A thread's chains: for each class, the loaded one and the spare.
#[cfg(not(weakling_loom))]
struct Local {
    /// [`UNKNOWN`] until the first use reads the environment, then [`ON`] or [`OFF`].
    state: Cell<u8>,
    loaded: [Cell<Chain>; CLASSES],
    spare: [Cell<Chain>; CLASSES],
}

#[cfg(not(weakling_loom))]
const UNKNOWN: u8 = 0;
#[cfg(not(weakling_loom))]
const ON: u8 = 1;
#[cfg(not(weakling_loom))]
const OFF: u8 = 2;

#[cfg(not(weakling_loom))]
std::thread_local! {
    static LOCAL: Local = const {
        Local {
            state: Cell::new(UNKNOWN),
            loaded: [const { Cell::new(Chain::EMPTY) }; CLASSES],
            spare: [const { Cell::new(Chain::EMPTY) }; CLASSES],
        }
    };
}

/// Whether the environment leaves the cache on (read once per process).
#[cfg(not(weakling_loom))]
fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("WEAKLING_BOX_CACHE").is_none_or(|v| v != "off"))
}

#[cfg(not(weakling_loom))]
impl Local {
    /// Whether this thread caches boxes; the first call reads the environment.
    fn on(&self) -> bool {
        if self.state.get() == UNKNOWN {
            self.state.set(if enabled() { ON } else { OFF });
        }
        self.state.get() == ON
    }

    /// A block of `class` from this thread's chains or the depot.
    #[inline]
    fn take(&self, class: usize) -> Option<NonNull<u8>> {
        let mut loaded = self.loaded[class].get();
        if loaded.len == 0 {
            loaded = self.refill(class)?;
        }
        // SAFETY: `loaded` is not empty.
        let block = unsafe { loaded.pop() };
        self.loaded[class].set(loaded);
        Some(block)
    }

    /// The spare chain or one from the depot, for a thread whose loaded chain is empty.
    #[cold]
    fn refill(&self, class: usize) -> Option<Chain> {
        let spare = self.spare[class].replace(Chain::EMPTY);
        if spare.len > 0 {
            return Some(spare);
        }
        if !self.on() {
            return None;
        }
        DEPOT.take(class)
    }

    /// Keeps `block`; `false` when the cache is off and the caller must free it.
    ///
    /// # Safety
    /// `block` is a free block of `class`, allocated with its layout and given up.
    #[inline]
    unsafe fn give(&self, class: usize, block: NonNull<u8>) -> bool {
        let mut loaded = self.loaded[class].get();
        if loaded.len == CHAIN || self.state.get() != ON {
            match self.make_room(class, loaded) {
                Some(chain) => loaded = chain,
                None => return false,
            }
        }
        // SAFETY: forwarded contract.
        unsafe { loaded.push(block) };
        self.loaded[class].set(loaded);
        true
    }

    /// The chain to push on when the loaded one may be full or the cache may be off (`None`).
    /// A full chain becomes the spare if there is none, or goes to the depot.
    #[cold]
    fn make_room(&self, class: usize, loaded: Chain) -> Option<Chain> {
        if !self.on() {
            return None;
        }
        if loaded.len < CHAIN {
            return Some(loaded);
        }
        if self.spare[class].get().len == 0 {
            self.spare[class].set(loaded);
        } else {
            // SAFETY: this thread's chain of `class`, given up.
            unsafe { DEPOT.give(class, loaded) };
        }
        Some(Chain::EMPTY)
    }

    /// Takes every chain of this thread.
    fn drain(&self) -> impl Iterator<Item = (usize, Chain)> + '_ {
        (0..CLASSES).flat_map(move |class| {
            [self.loaded[class].replace(Chain::EMPTY), self.spare[class].replace(Chain::EMPTY)]
                .map(|chain| (class, chain))
        })
    }
}

#[cfg(not(weakling_loom))]
impl Drop for Local {
    fn drop(&mut self) {
        for (class, chain) in self.drain() {
            // SAFETY: this thread's chains, given up as it exits.
            unsafe { DEPOT.give(class, chain) };
        }
    }
}

/// Allocates a block for `layout` (non-zero size), from the cache when it serves the layout.
#[inline]
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let layout = match class_of(layout) {
        #[cfg(not(weakling_loom))]
        Some(class) => {
            // A thread whose local state is gone (a handle created in a thread-local's
            // destructor) uses the allocator.
            if let Ok(Some(block)) = LOCAL.try_with(|local| local.take(class)) {
                return block;
            }
            class_layout(class)
        }
        #[cfg(weakling_loom)]
        Some(class) => class_layout(class),
        None => layout,
    };
    // SAFETY: the layout has a non-zero size.
    let block = unsafe { alloc(layout) };
    NonNull::new(block).unwrap_or_else(|| handle_alloc_error(layout))
}

/// Frees a block from [`allocate`] for the same `layout`, into the cache when it serves it.
///
/// # Safety
/// `block` came from [`allocate`] with `layout` and nothing uses it afterwards.
#[inline]
pub(crate) unsafe fn free(block: NonNull<u8>, layout: Layout) {
    let layout = match class_of(layout) {
        #[cfg(not(weakling_loom))]
        Some(class) => {
            // SAFETY: a block of `class` (allocated with its layout, by the cache or not),
            // given up by the caller.
            if let Ok(true) = LOCAL.try_with(|local| unsafe { local.give(class, block) }) {
                return;
            }
            class_layout(class)
        }
        #[cfg(weakling_loom)]
        Some(class) => class_layout(class),
        None => layout,
    };
    // SAFETY: allocated by the global allocator with this layout (the class's, for a request
    // a class serves: see `allocate`).
    unsafe { dealloc(block.as_ptr(), layout) };
}

/// The most bytes of free boxes the shared depot keeps (256 MiB unless [`set_limit`] changed
/// it), whatever the idle chains it gives back. A thread's own chains come on top: at most two
/// chains of 64 boxes per class.
#[must_use]
pub fn limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Sets [`limit`], handing back at once what the depot holds beyond it. `0` makes every full
/// chain go back to the allocator as it leaves its thread.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    DEPOT.trim(bytes);
}

/// Hands the free boxes of the calling thread and of the depot back to the global allocator;
/// returns how many bytes that was. Other threads' own chains stay with them.
///
/// Useful before measuring memory, or after a burst of garbage that will not come again.
pub fn release() -> usize {
    #[cfg(not(weakling_loom))]
    let own = LOCAL
        .try_with(|local| {
            // SAFETY: this thread's chains, given up.
            local.drain().map(|(class, chain)| unsafe { chain.free(class) }).sum()
        })
        .unwrap_or(0);
    #[cfg(weakling_loom)]
    let own = 0;
    own + DEPOT.trim(0)
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_small_layouts_at_most_sixteen_aligned() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(1, 1)), Some(0));
        assert_eq!(class_of(l(8, 8)), Some(0));
        assert_eq!(class_of(l(24, 8)), Some(2));
        assert_eq!(class_of(l(25, 1)), Some(3));
        assert_eq!(class_of(l(48, 16)), Some(5));
        assert_eq!(class_of(l(256, 16)), Some(31));
        assert_eq!(class_of(l(257, 8)), None);
        assert_eq!(class_of(l(64, 32)), None);
        assert_eq!(class_of(l(0, 1)), None);
        for class in 0..CLASSES {
            let layout = class_layout(class);
            assert_eq!(class_of(layout), Some(class));
            // Every request of the class fits, at its own alignment.
            for size in (class * GRANULE + 1)..=layout.size() {
                for align in [1, 2, 4, 8, 16] {
                    if size.is_multiple_of(align) && class_of(l(size, align)) == Some(class) {
                        assert!(align <= layout.align(), "class {class}: {size} B at {align}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_chain_gives_back_its_blocks_last_in_first_out() {
        let layout = class_layout(3);
        let mut chain = Chain::EMPTY;
        // SAFETY: fresh blocks of class 3.
        let blocks: Vec<_> =
            (0..3).map(|_| NonNull::new(unsafe { alloc(layout) }).unwrap()).collect();
        for &b in &blocks {
            // SAFETY: a free block of class 3, given up.
            unsafe { chain.push(b) };
        }
        assert_eq!(chain.len, 3);
        // SAFETY: three blocks on the chain.
        assert_eq!(unsafe { chain.pop() }, blocks[2]);
        // SAFETY: the chain owns its two blocks of class 3.
        assert_eq!(unsafe { chain.free(3) }, 2 * layout.size());
        // SAFETY: the block popped above, allocated with this layout.
        unsafe { dealloc(blocks[2].as_ptr(), layout) };
    }
}

/// The depot under loom: chains handed over and taken by several threads stay whole, and the
/// bytes it counts are the bytes it holds.
#[cfg(all(test, weakling_loom))]
mod loom_tests {
    use super::*;

    fn chain_of(class: usize, len: usize) -> Chain {
        let mut chain = Chain::EMPTY;
        for _ in 0..len {
            // SAFETY: a fresh block of the class, given to the chain.
            unsafe { chain.push(NonNull::new(alloc(class_layout(class))).unwrap()) };
        }
        chain
    }

    #[test]
    fn chains_pass_between_threads_whole() {
        loom::model(|| {
            let a = loom::thread::spawn(|| {
                // SAFETY: the thread's own fresh chain.
                unsafe { DEPOT.give(0, chain_of(0, 2)) };
                DEPOT.take(0).expect("a chain, the thread's own or the other's")
            });
            let b = loom::thread::spawn(|| {
                // SAFETY: as above.
                unsafe { DEPOT.give(0, chain_of(0, 3)) };
            });
            let taken = a.join().unwrap();
            b.join().unwrap();
            assert!(matches!(taken.len, 2 | 3));
            let left = DEPOT.take(0).expect("one chain left");
            assert_eq!(left.len + taken.len, 5);
            assert!(DEPOT.take(0).is_none());
            assert_eq!(DEPOT.chains.lock().bytes, 0);
            // SAFETY: chains taken from the depot, of class 0.
            unsafe { (left.free(0), taken.free(0)) };
        });
    }
}
