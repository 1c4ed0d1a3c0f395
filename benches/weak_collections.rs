//! Benchmarks of the weak collections, each against its peers in the same criterion group.
//!
//! Run: `cargo bench --bench weak_collections` (one group: `... -- value_map_get`).
//!
//! Every benchmark times a batch of operations per iteration and declares the batch as its
//! throughput, so time per operation is the reported time divided by the batch. Every map
//! here hashes with ahash, the peers included, so that the figures compare the maps and not
//! their hashers. Before the groups run, the bytes per entry of each map are printed (counted
//! by a counting allocator that is idle during the timed groups). CPython's peers come from
//! `python3 ../shared/peers/cpython_baseline.py`; see BENCHMARKS.md.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput};
use dashmap::DashMap;
use weakling::{Gc, WeakSet, WeakValueMap};

type Hasher = ahash::RandomState;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/floor.rs"]
mod floor;
#[path = "support/parallel.rs"]
mod parallel;
use floor::LockedTable;

/// Bytes that `build` leaves allocated, per entry.
fn bytes_per_entry<T>(entries: usize, build: impl FnOnce() -> T) -> f64 {
    let (built, bytes) = counting_alloc::allocated_by(build);
    drop(built);
    bytes as f64 / entries as f64
}

/// Prints the memory figures. The values exist before counting starts, so only the maps
/// are counted. Every registration of a weak collection also takes a slot in the heap's
/// process-wide callback registry; the first figure is taken in a fresh process and counts
/// the registry's growth too, the later ones find the registry already grown (by the first)
/// and count only the collection itself.
fn memory_report() {
    const N: usize = 100_000;
    let fresh = || -> Vec<Gc<u64>> { (0..N as u64).map(Gc::new).collect() };
    let weak_value_map = |gcs: &[Gc<u64>]| {
        let map: WeakValueMap<u64, u64> = WeakValueMap::new();
        for (k, v) in gcs.iter().enumerate() {
            map.insert(k as u64, v);
        }
        map
    };
    let gcs = fresh();
    let cold = bytes_per_entry(N, || weak_value_map(&gcs));
    drop(gcs); // the registry's entries go; its grown capacity stays
    let gcs = fresh();
    let warm = bytes_per_entry(N, || weak_value_map(&gcs));
    drop(gcs);
    let gcs = fresh();
    let set = bytes_per_entry(N, || {
        let set: WeakSet<u64> = WeakSet::new();
        for v in &gcs {
            set.insert(v);
        }
        set
    });
    drop(gcs);
    let arcs: Vec<Arc<u64>> = (0..N as u64).map(Arc::new).collect();
    let dashmap = bytes_per_entry(N, || {
        let map: DashMap<u64, Arc<u64>, Hasher> = DashMap::with_hasher(Hasher::new());
        for (k, v) in arcs.iter().enumerate() {
            map.insert(k as u64, v.clone());
        }
        map
    });
    let weak_table = bytes_per_entry(N, || {
        let mut map =
            weak_table::WeakValueHashMap::<u64, std::sync::Weak<u64>, Hasher>::with_hasher(
                Hasher::new(),
            );
        for (k, v) in arcs.iter().enumerate() {
            map.insert(k as u64, v.clone());
        }
        map
    });
    println!("bytes_per_entry ({N} entries, u64 keys, values allocated beforehand)");
    println!("  weakling::WeakValueMap<u64, u64>, registry grown    {cold:.1}");
    println!("  weakling::WeakValueMap<u64, u64>                    {warm:.1}");
    println!("  weakling::WeakSet<u64>                              {set:.1}");
    println!("  DashMap<u64, Arc<u64>>                              {dashmap:.1}");
    println!("  weak_table::WeakValueHashMap<u64, Weak<u64>>        {weak_table:.1}");
}

/// Operations per timed iteration.
const BATCH: u64 = 1000;
/// Keys of the lookup benchmarks.
const KEYS: u64 = 10_000;

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, elements: u64) {
    group
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .throughput(Throughput::Elements(elements));
}

/// Spreads lookups over the keys in a fixed, cache-unfriendly order.
#[inline(always)]
fn key(i: u64) -> u64 {
    i.wrapping_mul(7919) % KEYS
}

/// `get` of a present key: a strong handle out, dropped.
fn value_map_get(c: &mut Criterion) {
    let mut group = c.benchmark_group("value_map_get");
    configure(&mut group, BATCH);

    let gcs: Vec<Gc<u64>> = (0..KEYS).map(Gc::new).collect();
    let map: WeakValueMap<u64, u64> = WeakValueMap::new();
    for (k, v) in gcs.iter().enumerate() {
        map.insert(k as u64, v);
    }
    group.bench_function("weakling_value_map", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                drop(black_box(map.get(&key(i))));
            }
        })
    });

    let arcs: Vec<Arc<u64>> = (0..KEYS).map(Arc::new).collect();
    let dash: DashMap<u64, Arc<u64>, Hasher> = DashMap::with_hasher(Hasher::new());
    for (k, v) in arcs.iter().enumerate() {
        dash.insert(k as u64, v.clone());
    }
    group.bench_function("dashmap_arc_clone", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                drop(black_box(dash.get(&key(i)).map(|r| r.value().clone())));
            }
        })
    });

    let mut table = weak_table::WeakValueHashMap::<u64, std::sync::Weak<u64>, Hasher>::with_hasher(
        Hasher::new(),
    );
    for (k, v) in arcs.iter().enumerate() {
        table.insert(k as u64, v.clone());
    }
    let table = Mutex::new(table);
    group.bench_function("weak_table_mutex", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                drop(black_box(table.lock().unwrap().get(&key(i))));
            }
        })
    });
    group.finish();
}

/// An object is made, inserted, and dropped at once: its entry must be gone.
fn insert_then_die(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert_then_die");
    configure(&mut group, BATCH);

    let map: WeakValueMap<u64, u64> = WeakValueMap::new();
    group.bench_function("weakling_value_map", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                let v = Gc::new(i);
                map.insert(key(i), &v);
                drop(v); // the death callback removes the entry here
            }
        });
        assert!(map.is_empty());
    });

    // The design the map had before `DeathListener`: a closure per entry
    // (`Gc::downgrade_with`) that removes its entry from a concurrent map.
    let by_closure: Arc<DashMap<u64, weakling::Weak<u64>, Hasher>> =
        Arc::new(DashMap::with_hasher(Hasher::new()));
    group.bench_function("dashmap_downgrade_with_closure", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                let v = Gc::new(i);
                let k = key(i);
                let map = Arc::downgrade(&by_closure);
                let w = Gc::downgrade_with(&v, move |dead| {
                    if let Some(map) = map.upgrade() {
                        drop(map.remove_if(&k, |_, w| w.ptr_eq(dead)));
                    }
                });
                drop(by_closure.insert(k, w));
                drop(v);
            }
        });
        assert!(by_closure.is_empty());
    });

    // The same bookkeeping done by hand with strong handles: allocate, insert, remove.
    let dash: DashMap<u64, Arc<u64>, Hasher> = DashMap::with_hasher(Hasher::new());
    group.bench_function("dashmap_arc_insert_remove", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                dash.insert(key(i), Arc::new(i));
                drop(dash.remove(&key(i)));
            }
        });
    });

    // Floors (benches/support/floor.rs): the object made and freed, and its key put in a hash
    // table and taken out when it dies, with no weak reference, no registration and no
    // notification; first behind the cheapest lock (taken once for the insert and once for
    // the removal), then in a table of one thread with no lock at all.
    let floor: LockedTable<u64, usize> = LockedTable::default();
    group.bench_function("floor_locked_table", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                let v = Gc::new(i);
                floor.with(|m| m.insert(key(i), Gc::as_ptr(&v) as usize));
                floor.with(|m| black_box(m.remove(&key(i))));
                drop(v);
            }
        });
    });
    let unlocked: RefCell<HashMap<u64, usize, Hasher>> = RefCell::default();
    group.bench_function("floor_one_thread_table", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                let v = Gc::new(i);
                unlocked.borrow_mut().insert(key(i), Gc::as_ptr(&v) as usize);
                black_box(unlocked.borrow_mut().remove(&key(i)));
                drop(v);
            }
        });
    });

    // weak-table removes dead entries lazily (when it grows), so it does less per operation.
    let table =
        Mutex::new(weak_table::WeakValueHashMap::<u64, std::sync::Weak<u64>, Hasher>::with_hasher(
            Hasher::new(),
        ));
    group.bench_function("weak_table_mutex_lazy", |b| {
        let mut i = 0;
        b.iter(|| {
            for _ in 0..BATCH {
                i += 1;
                let v = Arc::new(i);
                table.lock().unwrap().insert(key(i), v.clone());
                drop(v);
            }
        });
    });
    group.finish();
}

/// Iterating every live member, per member.
fn iterate(c: &mut Criterion) {
    let mut group = c.benchmark_group("iterate");
    configure(&mut group, KEYS);

    let gcs: Vec<Gc<u64>> = (0..KEYS).map(Gc::new).collect();
    let set: WeakSet<u64> = WeakSet::new();
    for v in &gcs {
        set.insert(v);
    }
    group.bench_function("weakling_set", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for member in set.iter() {
                n += *black_box(member);
            }
            n
        })
    });

    group.bench_function("weakling_set_pinned", |b| {
        b.iter(|| {
            let pin = weakling::read_pin();
            let mut n = 0u64;
            for member in set.iter_pinned(&pin) {
                n += *black_box(member);
            }
            n
        })
    });

    let map: WeakValueMap<u64, u64> = WeakValueMap::new();
    for (k, v) in gcs.iter().enumerate() {
        map.insert(k as u64, v);
    }
    group.bench_function("weakling_value_map_values_pinned", |b| {
        b.iter(|| {
            let pin = weakling::read_pin();
            let mut n = 0u64;
            for v in map.values_pinned(&pin) {
                n += *black_box(v);
            }
            n
        })
    });
    group.bench_function("weakling_value_map_values", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for v in map.values() {
                n += *black_box(v);
            }
            n
        })
    });

    let arcs: Vec<Arc<u64>> = (0..KEYS).map(Arc::new).collect();
    let dash: DashMap<u64, Arc<u64>, Hasher> = DashMap::with_hasher(Hasher::new());
    for (k, v) in arcs.iter().enumerate() {
        dash.insert(k as u64, v.clone());
    }
    group.bench_function("dashmap_arc_clone", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for r in dash.iter() {
                n += *black_box(r.value().clone());
            }
            n
        })
    });
    group.finish();
}

/// `threads` threads each run `ops` operations, 90 % `get` and 10 % `insert`, over `keys`
/// keys; an insert stores one of the key's two values (index `k` or `k + keys`, so it usually
/// replaces the other). The time is the span from the first thread's start to the last one's
/// end (see `support/parallel.rs`).
fn mixed_ops(
    threads: usize,
    ops: u64,
    keys: u64,
    get: impl Fn(u64) + Sync,
    insert: impl Fn(u64, usize) + Sync,
) -> Duration {
    parallel::run(
        threads,
        |t| 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1),
        |_, &seed| {
            let mut x = seed;
            for _ in 0..ops {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = x % keys;
                if x.is_multiple_of(10) {
                    insert(k, (k + keys * (x >> 40 & 1)) as usize);
                } else {
                    get(k);
                }
            }
        },
    )
}

fn mixed_run(
    map: &WeakValueMap<u64, u64>,
    values: &[Gc<u64>],
    threads: usize,
    ops: u64,
) -> Duration {
    mixed_ops(
        threads,
        ops,
        values.len() as u64 / 2,
        |k| drop(black_box(map.get(&k))),
        |k, v| drop(black_box(map.insert(k, &values[v]))),
    )
}

/// The same mix on a `DashMap<u64, Arc<u64>>`, for comparison.
fn mixed_run_dashmap(
    map: &DashMap<u64, Arc<u64>, Hasher>,
    values: &[Arc<u64>],
    threads: usize,
    ops: u64,
) -> Duration {
    mixed_ops(
        threads,
        ops,
        values.len() as u64 / 2,
        |k| drop(black_box(map.get(&k).map(|r| r.value().clone()))),
        |k, v| drop(black_box(map.insert(k, values[v].clone()))),
    )
}

/// Throughput of one and two threads on a shared map of 100,000 keys.
fn threads_get_insert(c: &mut Criterion) {
    const MIXED_KEYS: u64 = 100_000;
    let mut group = c.benchmark_group("threads_get_insert");
    let values: Vec<Gc<u64>> = (0..2 * MIXED_KEYS).map(Gc::new).collect();
    let map: WeakValueMap<u64, u64> = WeakValueMap::new();
    for (k, v) in values.iter().take(MIXED_KEYS as usize).enumerate() {
        map.insert(k as u64, v);
    }
    let arcs: Vec<Arc<u64>> = (0..2 * MIXED_KEYS).map(Arc::new).collect();
    let dash: DashMap<u64, Arc<u64>, Hasher> = DashMap::with_hasher(Hasher::new());
    for (k, v) in arcs.iter().take(MIXED_KEYS as usize).enumerate() {
        dash.insert(k as u64, v.clone());
    }
    for threads in [1usize, 2] {
        // Throughput counts the operations of all threads: elements per second is the
        // figure to compare (ideal ratio 2.0).
        configure(&mut group, BATCH * threads as u64);
        group.bench_function(format!("weakling_value_map/{threads}t"), |b| {
            b.iter_custom(|iters| mixed_run(&map, &values, threads, iters * BATCH))
        });
        group.bench_function(format!("dashmap_arc/{threads}t"), |b| {
            b.iter_custom(|iters| mixed_run_dashmap(&dash, &arcs, threads, iters * BATCH))
        });
    }
    group.finish();
}

fn main() {
    memory_report();
    let mut c = Criterion::default().configure_from_args();
    value_map_get(&mut c);
    insert_then_die(&mut c);
    iterate(&mut c);
    threads_get_insert(&mut c);
    c.final_summary();
}
