//! Benchmarks of the heap's hot paths, each against its peer in the same criterion group
//! (so that the report shows them side by side).
//!
//! Run: `cargo bench --bench heap` (one group: `cargo bench --bench heap -- clone_drop`).
//!
//! Every benchmark times a batch of `BATCH` operations per iteration and declares
//! `Throughput::Elements(BATCH)`, so the time per operation is the reported time divided by
//! `BATCH` (and criterion's throughput line is operations per second). The CPython peers of
//! the `weak_python` group come from `python3 ../shared/peers/cpython_baseline.py`; see
//! BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use weakling::{Gc, GcCell, Trace, Weak};

#[path = "support/parallel.rs"]
mod parallel;

/// Operations per timed iteration.
const BATCH: u64 = 1000;

/// A tracked object: it may hold a handle, so the cycle collector tracks it.
#[derive(Trace)]
struct Tracked {
    next: GcCell<Option<Gc<Tracked>>>,
}

/// The same shape without the heap: a lock around an optional `Arc` to itself.
struct Plain {
    next: parking_lot::RwLock<Option<Arc<Plain>>>,
}

// The `new_drop` peers allocate values of the same size.
const _: () = assert!(size_of::<Tracked>() == size_of::<Plain>());

fn tracked() -> Tracked {
    Tracked { next: GcCell::new(None) }
}

fn plain() -> Plain {
    Plain { next: parking_lot::RwLock::new(None) }
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .throughput(Throughput::Elements(BATCH));
}

/// Clones a handle and drops the clone, `BATCH` times.
#[inline(always)]
fn clone_drop_batch<H: Clone>(handle: &H) {
    for _ in 0..BATCH {
        let copy = black_box(handle).clone();
        drop(black_box(copy));
    }
}

fn clone_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("clone_drop");
    configure(&mut group);

    let leaf = Gc::new(7u64);
    group.bench_function("gc_leaf_u64", |b| b.iter(|| clone_drop_batch(&leaf)));

    let node = Gc::new(tracked());
    assert!(node.next.read().is_none());
    group.bench_function("gc_tracked", |b| b.iter(|| clone_drop_batch(&node)));

    let arc = Arc::new(7u64);
    group.bench_function("arc_u64", |b| b.iter(|| clone_drop_batch(&arc)));

    group.finish();
}

fn upgrade_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("upgrade_drop");
    configure(&mut group);

    let gc = Gc::new(7u64);
    let weak = Gc::downgrade(&gc);
    group.bench_function("weakling_weak_u64", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(black_box(&weak).upgrade()));
            }
        })
    });

    let node = Gc::new(tracked());
    let node_weak = Gc::downgrade(&node);
    group.bench_function("weakling_weak_tracked", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(black_box(&node_weak).upgrade()));
            }
        })
    });

    let arc = Arc::new(7u64);
    let std_weak = Arc::downgrade(&arc);
    group.bench_function("std_weak_u64", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(black_box(&std_weak).upgrade()));
            }
        })
    });

    group.finish();
    drop((gc, node, arc));
}

fn new_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("new_drop");
    configure(&mut group);

    group.bench_function("gc_leaf_u64", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(Gc::new(black_box(7u64))));
            }
        })
    });
    group.bench_function("gc_tracked", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(Gc::new(black_box(tracked()))));
            }
        })
    });
    group.bench_function("arc_u64", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(Arc::new(black_box(7u64))));
            }
        })
    });
    group.bench_function("arc_plain_same_size", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let p = black_box(Arc::new(black_box(plain())));
                debug_assert!(p.next.read().is_none());
                drop(p);
            }
        })
    });

    group.finish();
}

/// Runs `threads` threads for `iters` iterations of `BATCH` clone+drop pairs each, every thread
/// on its own object (made by `make` on that thread, so that the objects come from the
/// threads' own allocator arenas). Returns the span from the first thread's start to the last
/// one's end (see `support/parallel.rs`), excluding thread start-up and the objects'
/// allocation.
fn parallel_clone_drop<H: Clone>(
    threads: usize,
    iters: u64,
    make: impl Fn() -> H + Sync,
) -> Duration {
    parallel::run(
        threads,
        |_| make(),
        |_, handle| {
            for _ in 0..iters {
                clone_drop_batch(handle);
            }
        },
    )
}

fn two_threads_clone_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("two_threads_clone_drop");
    // Throughput is the operations of ONE thread, so that the reported time per operation
    // of the 2-thread runs compares directly with the 1-thread runs (ideal ratio: 1.0).
    configure(&mut group);

    for threads in [1, 2] {
        group.bench_function(format!("gc_leaf_u64/{threads}t"), |b| {
            b.iter_custom(|iters| parallel_clone_drop(threads, iters, || Gc::new(7u64)))
        });
        group.bench_function(format!("gc_tracked/{threads}t"), |b| {
            b.iter_custom(|iters| parallel_clone_drop(threads, iters, || Gc::new(tracked())))
        });
        group.bench_function(format!("arc_u64/{threads}t"), |b| {
            b.iter_custom(|iters| parallel_clone_drop(threads, iters, || Arc::new(7u64)))
        });
    }

    group.finish();
}

fn weak_python(c: &mut Criterion) {
    let mut group = c.benchmark_group("weak_python");
    configure(&mut group);

    // CPython: `r()` on a live object.
    let obj = Gc::new(7u64);
    let weak: Weak<u64> = Gc::downgrade(&obj);
    group.bench_function("weak_deref", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(black_box(&weak).upgrade()));
            }
        })
    });

    // The same through a handle that carries a callback (one more indirection).
    let with_callback = Gc::downgrade_with(&obj, |_| {});
    group.bench_function("weak_deref_with_callback", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(black_box(&with_callback).upgrade()));
            }
        })
    });

    // CPython: `weakref.ref(o, lambda r: None)`, discarded at once.
    group.bench_function("weak_with_callback_created", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                drop(black_box(Gc::downgrade_with(black_box(&obj), |_| {})));
            }
        })
    });

    // CPython: `o = Obj(i); weakref.finalize(o, int, 0); del o`.
    group.bench_function("register_callback_and_fire", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                let fresh = Gc::new(black_box(i));
                let watch = Gc::downgrade_with(&fresh, |dead| {
                    black_box(dead);
                });
                drop(fresh); // fires the callback
                drop(black_box(watch));
            }
        })
    });

    group.finish();
    drop((weak, with_callback, obj));
}

criterion_group!(benches, clone_drop, upgrade_drop, new_drop, two_threads_clone_drop, weak_python);
criterion_main!(benches);
