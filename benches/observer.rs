//! Benchmarks of the observer registry (`weakling::observer::Subject`).
//!
//! Run: `cargo bench --bench observer`. Before criterion's groups, the binary prints the bytes
//! each subscription costs (1,000,000 subscriptions on one subject), counted by a global
//! allocator.
//!
//! Groups:
//!
//! * `emit_1000`: one event to 1,000 live subscribers, time per event (divide by 1,000 for the
//!   time per subscriber). Peer in the same group: a loop over `Vec<Box<dyn Fn(&E)>>` doing
//!   the same work per subscriber (a relaxed atomic add).
//! * `subscribe_drop`: a new subscriber object, subscribed, then dropped (the next emit or
//!   subscribe sweep prunes it); time per cycle.
//! * `emit_threads`: 100 events to 1,000 subscribers on one thread, and the same on each of
//!   two threads at once (twice the work); the ratio of the two times is the scaling. Each
//!   side runs twice: with the work above (`writes`: every delivery adds to its subscriber's
//!   counter, which both threads then write) and with work that writes nothing shared
//!   (`reads`: the subscriber reads its own field), which leaves only what the subject itself
//!   shares between emitters.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use weakling::observer::{Observer, Subject};
use weakling::Gc;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/parallel.rs"]
mod parallel;

const SUBSCRIBERS: usize = 1000;

/// The peer's subscriber: a boxed closure.
type Callback = Box<dyn Fn(&u64) + Send + Sync>;

struct Tally(AtomicU64);

impl Observer<u64> for Tally {
    fn notify(&self, event: &u64) {
        self.0.fetch_add(*event, Ordering::Relaxed);
    }
}

/// A subscriber whose work writes nothing: it reads its own field.
struct Reader(u64);

impl Observer<u64> for Reader {
    fn notify(&self, event: &u64) {
        black_box(self.0 ^ *event);
    }
}

fn bytes_per_subscription() {
    const N: usize = 1_000_000;
    let subject = Subject::<u64>::new();
    let objects: Vec<Gc<Tally>> = (0..N).map(|_| Gc::new_leaf(Tally(AtomicU64::new(0)))).collect();
    let ((), bytes) = counting_alloc::allocated_by(|| {
        for o in &objects {
            drop(subject.subscribe(o));
        }
    });
    println!(
        "observer: {:.1} bytes per subscription ({N} on one subject, handles dropped)",
        bytes as f64 / N as f64
    );
    drop(objects);
}

fn subject_with_subscribers() -> (Subject<u64>, Vec<Gc<Tally>>) {
    subject_of(|| Tally(AtomicU64::new(0)))
}

/// A subject with `SUBSCRIBERS` subscribers made by `make`, and the handles that keep them.
fn subject_of<O: Observer<u64>>(make: impl Fn() -> O) -> (Subject<u64>, Vec<Gc<O>>) {
    let subject = Subject::new();
    let objects: Vec<Gc<O>> = (0..SUBSCRIBERS).map(|_| Gc::new_leaf(make())).collect();
    for o in &objects {
        drop(subject.subscribe(o));
    }
    (subject, objects)
}

/// The peer's subscribers: `SUBSCRIBERS` boxed closures, each adding the event to its own
/// counter (the same work as a `Tally`).
fn closures() -> Vec<Callback> {
    (0..SUBSCRIBERS)
        .map(|_| {
            let c = Arc::new(AtomicU64::new(0));
            Box::new(move |e: &u64| {
                c.fetch_add(*e, Ordering::Relaxed);
            }) as Callback
        })
        .collect()
}

/// The same with a `Reader`'s work: each closure reads its own captured value.
fn reading_closures() -> Vec<Callback> {
    (0..SUBSCRIBERS as u64)
        .map(|i| {
            let c = Arc::new(i);
            Box::new(move |e: &u64| {
                black_box(*c ^ *e);
            }) as Callback
        })
        .collect()
}

fn emit(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit_1000");
    group
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(SUBSCRIBERS as u64));
    let (subject, objects) = subject_with_subscribers();
    group.bench_function("weakling_subject", |b| b.iter(|| subject.emit(black_box(&1))));
    let method_subject = Subject::<u64>::new();
    for o in &objects {
        drop(method_subject.subscribe_fn(o, |t: &Tally, e: &u64| {
            t.0.fetch_add(*e, Ordering::Relaxed);
        }));
    }
    group.bench_function("weakling_subject_weak_methods", |b| {
        b.iter(|| method_subject.emit(black_box(&1)))
    });
    let closures = closures();
    group.bench_function("vec_box_dyn_fn", |b| {
        b.iter(|| {
            let e = black_box(&1);
            for f in &closures {
                f(e);
            }
        })
    });
    group.finish();
    drop(objects);
}

fn subscribe_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("subscribe_drop");
    group
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1000));
    let subject = Subject::<u64>::new();
    group.bench_function("weakling_subject", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                let o = Gc::new_leaf(Tally(AtomicU64::new(0)));
                drop(subject.subscribe(&o));
                drop(o);
            }
        })
    });
    group.finish();
}

/// Runs `events` emits on each of `threads` threads at once; returns the wall time.
/// Each of `threads` threads calls `emit(e)` for `events` events; returns the span from the
/// first thread's start to the last one's end (see `support/parallel.rs`).
fn emit_on_threads(threads: usize, events: u64, emit: impl Fn(&u64) + Sync) -> Duration {
    parallel::run(
        threads,
        |_| (),
        |_, ()| {
            for e in 0..events {
                emit(black_box(&e));
            }
        },
    )
}

fn emit_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit_threads");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let (writing, tallies) = subject_with_subscribers();
    let (reading, readers) = subject_of(|| Reader(7));
    let sides = [("writes", writing, closures()), ("reads", reading, reading_closures())];
    for (work, subject, closures) in &sides {
        for threads in [1_usize, 2] {
            group.throughput(Throughput::Elements((threads * SUBSCRIBERS * 100) as u64));
            group.bench_function(format!("weakling_subject/{work}/{threads}_threads"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            emit_on_threads(threads, 100, |e| {
                                black_box(subject.emit(e));
                            })
                        })
                        .sum()
                })
            });
            group.bench_function(format!("vec_box_dyn_fn/{work}/{threads}_threads"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            emit_on_threads(threads, 100, |e| {
                                for f in closures {
                                    f(e);
                                }
                            })
                        })
                        .sum()
                })
            });
        }
    }
    group.finish();
    drop((tallies, readers));
}

criterion_group!(benches, emit, subscribe_drop, emit_threads);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // After the timings: a million subscriptions leave the process's tables larger.
    bytes_per_subscription();
}
