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
//! | `verdict.rs` | survivors promoted, garbage condemned, while the world is stopped |
//! | `teardown.rs` | the garbage's values dropped and boxes freed, in batches |
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
//! stop fails them.

pub(crate) mod collection;
pub(crate) mod control;
pub(crate) mod finalize;
pub(crate) mod inspect;
mod prefetch;
pub(crate) mod scan;
pub(crate) mod state;
mod teardown;
mod verdict;

pub(crate) use control::at_safe_point;
pub use inspect::is_tracked;
pub use state::{CallbackId, Collection, GenerationStats, Phase, GENERATIONS};
