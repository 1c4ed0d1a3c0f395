//! Benchmarks of the finalize registry (`weakling::finalize`).
//!
//! Run: `cargo bench --bench finalize`. Before criterion's groups, the binary prints the bytes
//! each live finalizer costs with 1,000,000 registered, counted by a global allocator.
//!
//! Groups (time per operation = reported time / `BATCH`):
//!
//! * `finalize_register_and_fire`: a fresh object, a finalizer registered on it, the object
//!   dropped so that the finalizer fires: CPython's `finalize_cost` in
//!   `../shared/peers/cpython_baseline.py` (`o = Obj(i); weakref.finalize(o, int, 0); del o`).
//!   Beside it, in the same group, the parts: the object alone, and the object with a plain
//!   weak callback (`Gc::downgrade_with`), which the registry is built on; and a floor
//!   (`benches/support/floor.rs`): the object, and a boxed callback put in a locked table and
//!   taken out and run at the object's death, with nothing else.
//! * `finalize_register_and_fire_beside_a_million`: the finalizer and the floor again, with
//!   1,000,000 other finalizers alive (and as many entries in the floor's table), so that every
//!   table operation works at the load a program with many finalizers sees.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};
use weakling::{finalize, Gc};

const BATCH: u64 = 1000;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/floor.rs"]
mod floor;
use floor::LockedTable;

/// Python's `Obj` with `__slots__ = ("k", "__weakref__")`: one integer.
struct Obj {
    #[allow(dead_code)]
    k: u64,
}

fn bytes_per_finalizer() {
    const N: usize = 1_000_000;
    let objects: Vec<Gc<Obj>> = (0..N as u64).map(|k| Gc::new_leaf(Obj { k })).collect();
    let ((), bytes) = counting_alloc::allocated_by(|| {
        let finalizers: Vec<_> = objects.iter().map(|o| finalize(o, || ())).collect();
        drop(finalizers); // handles dropped: the registrations stay
    });
    println!(
        "finalize: {:.1} bytes per live finalizer ({N} registered, handles dropped)",
        bytes as f64 / N as f64
    );
    drop(objects);
}

/// The floor's table: boxed callbacks by a fresh number.
type FloorTable = LockedTable<u64, Box<dyn FnOnce() -> u64 + Send>>;

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(BATCH));
    group
}

/// The floor (benches/support/floor.rs): the object made and freed, and a boxed callback put in
/// a locked table under a fresh number (from `next_id` on) and taken out and run when the
/// object dies, with nothing that ties the two together: no weak reference and no death
/// registration.
fn floor_locked_table(group: &mut BenchmarkGroup<'_, WallTime>, floor: &FloorTable, next_id: u64) {
    group.bench_function("floor_locked_table", |b| {
        let mut id = next_id;
        b.iter(|| {
            for k in 0..BATCH {
                id += 1;
                let o = Gc::new_leaf(Obj { k });
                floor.with(|m| m.insert(id, Box::new(|| black_box(0_u64))));
                drop(o);
                if let Some(callback) = floor.with(|m| m.remove(&id)) {
                    black_box(callback());
                }
            }
        })
    });
}

fn weakling_finalize(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("weakling_finalize", |b| {
        b.iter(|| {
            for k in 0..BATCH {
                let o = Gc::new_leaf(Obj { k });
                let _ = finalize(&o, || black_box(0_u64));
                drop(o);
            }
        })
    });
}

fn register_and_fire(c: &mut Criterion) {
    let mut group = group(c, "finalize_register_and_fire");
    group.bench_function("object_only", |b| {
        b.iter(|| {
            for k in 0..BATCH {
                drop(black_box(Gc::new_leaf(Obj { k })));
            }
        })
    });
    group.bench_function("object_with_weak_callback", |b| {
        b.iter(|| {
            for k in 0..BATCH {
                let o = Gc::new_leaf(Obj { k });
                let w = Gc::downgrade_with(&o, |_| ());
                drop(o);
                drop(w);
            }
        })
    });
    floor_locked_table(&mut group, &FloorTable::default(), 0);
    weakling_finalize(&mut group);
    group.finish();
}

/// The same register-and-fire with 1,000,000 other finalizers alive, spread over the death
/// table's shards as a program with many finalized objects would have them: the table is large
/// and busy, and every insert and take probes it at its real load. The floor's table holds as
/// many entries.
fn register_and_fire_beside_a_million(c: &mut Criterion) {
    const LIVE: u64 = 1_000_000;
    let mut group = group(c, "finalize_register_and_fire_beside_a_million");
    let objects: Vec<Gc<Obj>> = (0..LIVE).map(|k| Gc::new_leaf(Obj { k })).collect();
    for o in &objects {
        let _ = finalize(o, || black_box(0_u64));
    }
    let floor = FloorTable::default();
    for id in 0..LIVE {
        floor.with(|m| m.insert(id, Box::new(|| black_box(0_u64))));
    }
    floor_locked_table(&mut group, &floor, LIVE);
    weakling_finalize(&mut group);
    group.finish();
    drop(objects);
}

criterion_group!(benches, register_and_fire, register_and_fire_beside_a_million);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // After the timings: a million registrations leave the process's tables larger.
    bytes_per_finalizer();
}
