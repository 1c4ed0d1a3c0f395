//! The cycle collector: CPython's generational `gc`, correct while other threads run.
//!
//! Reference counting frees an object when its last strong handle goes, but a cycle
//! (`self.me = self`, `a.friend = b; b.friend = a`) keeps its own counts above zero forever.
//! The collector finds such cycles among *tracked* objects (those whose type may hold
//! handles) by trial deletion, as CPython does:
//!
//! 1. `gc_refs` of each object of the generations collected = its strong count;
//! 2. for each edge between two of them (reported by [`Trace`](crate::Trace)), subtract one
//!    from the target: what stays above zero is referenced from outside;
//! 3. everything reachable from those survives; the rest is unreachable garbage.
//!
//! Three generations with CPython 3.13's thresholds (2000/10/10, and the oldest generation
//! only when 25 % of it is waiting to be promoted); survivors of a collection move to the next
//! generation. Automatic collections run at safe points only: after an allocation, never
//! inside a `Drop`, a callback, a trace, or a cell write, and never inside another collection.
//!
//! | file | concept |
//! |---|---|
//! | `state.rs` | settings, counts and statistics of a heap's collector |
//! | `scan.rs` | trial deletion over a working set, in place on the heap's lists |
//! | `verdict.rs` | survivors promoted, garbage condemned (and torn down when no member needs finalizing), while the world is stopped |
//! | `teardown.rs` | the garbage's values dropped and boxes freed, in batches |
//! | `world.rs` | the world stopped for a collector: the collector lock, the stop, the lists locked |
//! | `collection.rs` | one collection: stop, scan, condemn, tear down, call back, free |
//! | `finalize.rs` | finalizers of garbage, and the second look that allows resurrection |
//! | `control.rs` | the `gc` surface on [`Heap`](crate::Heap), the automatic trigger |
//! | `inspect.rs` | freezing, the census by type, `is_tracked` |
//!
//! # Why every interleaving with other threads is safe
//!
//! Handles are `Send + Sync`, so other threads clone, drop, upgrade and move handles while a
//! collection runs. Trial deletion reads many counts and many edges over time, and a thread
//! that moves a handle between two of those reads can make both objects look internally
//! referenced while it still holds one. The collector therefore **stops the world at operation
//! boundaries** (`heap::pause`): dropping a strong handle to a tracked object, upgrading a weak
//! handle to one, `Gc::try_unwrap` and holding a `GcCell` write guard are *mutator
//! operations*; the collector raises a stop flag, then waits until no thread is inside one,
//! and no thread begins one until the world runs again. Between the stop and the restart:
//!
//! * no strong count of a tracked object falls (drops are held off) and no count rises from
//!   zero or from a weak handle (upgrades are held off); counts can rise only by cloning a
//!   handle the cloning thread already holds or reads through a path it holds;
//! * no traced edge changes: edges change only inside `GcCell` write guards (held off), or by
//!   moving a handle into a brand-new object, which is not in the working set. Contents behind
//!   a lock that is held (by anyone, this thread included) are reported as opaque and keep
//!   their object alive. Since no other thread can hold or take a `GcCell` write guard now,
//!   the scan reads a cell's contents without locking it, after checking that the collecting
//!   thread itself does not hold it for writing (a read guard held elsewhere only reads).
//!
//! So the graph the scan reads is the graph at the stop, except for counts that grew. Grown
//! counts only make objects look *more* referenced (conservative). An object with a reference
//! from outside at the stop has `gc_refs > 0` and survives with all it reaches; an object
//! unreachable at the stop stays unreachable (no thread reaches it, nothing can upgrade to
//! it), and every object it reaches that a thread *could* reach is reachable from that thread's
//! handle, hence from a root. The decision is applied before the world restarts: garbage is
//! *condemned* (upgrades fail from then on, and callback registration on it is refused) and
//! taken off the lists, so user code that runs afterwards (callbacks, `Drop`) cannot bring it
//! back. Condemning is a plain store to the strong word: while the world is stopped no other
//! thread can change it (no thread holds a handle to garbage, and upgrades wait), and a thread
//! reads the restart with `Acquire`, so every operation that begins afterwards sees the mark.
//! The garbage's boxes stay allocated until their last count goes, and a `Drop` that reaches
//! another member of its cycle finds it torn down instead of freed memory. When the
//! collector's own handle is the last strong one and no weak reference remains, nothing can
//! reach the object any more (no handle to clone, upgrades refused, registrations and
//! attachments refused), so its box is freed without the last-drop operation.
//!
//! When no member of the garbage needs finalizing (no type finalizer left to run, no callback
//! registered: the flag decides, conservatively), the verdict also marks each member torn down
//! in the same pass, before the world restarts. Nothing can observe the mark early: reading it
//! through a strong handle needs one (none exists outside the garbage), registrations and
//! attachments need a strong handle too, and upgrades fail on condemned objects anyway. When
//! some member does need finalizing, the verdict takes every mark back before the restart.
//!
//! ## Drops the teardown need not count
//!
//! Dropping the garbage's values drops the handles they hold, mostly to other members. Each
//! would decrement its target's count only so that the collector can later see whether its own
//! count is the last one. Instead, while this thread drops its garbage's values, a handle to an
//! object that is torn down and whose slot carries this thread's `TEARING` tag is let go without
//! touching the count, and counted in the slot's index field. That slot was written by this
//! thread's verdict, and no other thread writes it (the object is on no list; another thread
//! reads only the tag, which stays above every generation, so its scans take the object for an
//! outside one). The invariant is *count = the collector's handle + live handles + tally*: a
//! clone adds to the count, a drop on this thread adds to the tally, a drop elsewhere (a handle
//! a `Drop` let out) decrements atomically as always. So the collector's handle is the last one
//! exactly when the count equals one plus the tally (read with `Acquire`, pairing with other
//! threads' `Release` decrements), and then the box is freed as above. Otherwise handles
//! outlived the teardown: the collector resets the slot (later drops on this thread decrement),
//! subtracts the tally with a `Release` decrement (the count stays above zero: its own handle is
//! still there), and drops its handle the ordinary way. A thread tears down at most one
//! collection's garbage at a time and settles every tally before it finishes, so a slot never
//! carries a stale tag of a thread; objects torn down by another thread's collection carry that
//! thread's tag, and their handles are dropped the ordinary way.
//!
//! Finalizers are user code that runs after that decision, with every member whole, and may
//! hand a member's handle to anyone (resurrection). The collector still holds one count on
//! every garbage object, so none can be freed meanwhile; after the finalizers it stops the
//! world again and repeats trial deletion on the garbage alone, discounting its own count: an
//! object a thread or a live object now holds has `gc_refs > 0` by the same argument as above,
//! and is resurrected with everything it reaches before the world restarts. Only objects
//! unreachable at that second stop are torn down.
//!
//! Threads never run user code inside an operation, and operations wait only for short list
//! locks, so the stop is short. A thread that keeps a `GcCell` locked for writing delays it; past
//! a time limit the collection is abandoned (nothing freed) rather than risk a deadlock with
//! that thread.
//!
//! The loom models in `tests/loom.rs` check the pause against a last drop, an upgrade, a handle
//! moved out of a scanned object and cell writes on both threads; making operations ignore the
//! stop fails them. Another has a `Drop` let a handle out of its cycle, counted aside on the
//! collecting thread and dropped on another thread while the collector settles the tally.

pub(crate) mod collection;
pub(crate) mod control;
pub(crate) mod finalize;
pub(crate) mod inspect;
mod prefetch;
pub(crate) mod scan;
pub(crate) mod state;
mod teardown;
mod verdict;
mod world;

pub(crate) use control::at_safe_point;
pub use inspect::is_tracked;
pub use state::{CallbackId, Collection, GenerationStats, Phase, GENERATIONS};
