//! `Cache::get` on a hit, against moka and quick_cache in the same criterion groups.
//!
//! Run: `cargo bench --bench cache` (one group: `cargo bench --bench cache -- get_hit_1t`).
//!
//! Every cache holds the same 1,000 keys (`u64` keys, shared `u64` values: `Gc<u64>` for
//! weakling, `Arc<u64>` for the peers) with room for 10,000, so every lookup hits. Each timed
//! iteration looks up `BATCH` keys from a fixed pseudo-random sequence and drops the returned
//! handle; weakling's statistics are always on. `Throughput::Elements(BATCH)`: the time per
//! lookup is the reported time divided by `BATCH`. `weakling` runs the default policy,
//! [`Policy::Adaptive`] (the hit also feeds its frequency sketch while S3-FIFO is live, and
//! replays a sampled share of the lookups in its miniatures); `weakling_s3fifo` runs S3-FIFO,
//! the cheapest policy on a hit.
//!
//! `get_hit_2t` runs two threads on one shared cache, each with its own key sequence; its
//! figures are the time per lookup *per thread* (equal to `get_hit_1t`'s when two threads scale
//! perfectly).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use weakling::cache::{workload::Rng, Cache, Policy};
use weakling::Gc;

#[path = "support/parallel.rs"]
mod parallel;

const BATCH: u64 = 1000;
const KEYS: u64 = 1000;
const CAPACITY: u64 = 10_000;

/// The three caches behind one lookup.
trait Lookup: Send + Sync {
    fn hit(&self, key: u64) -> bool;
}

impl Lookup for Cache<u64, u64> {
    #[inline]
    fn hit(&self, key: u64) -> bool {
        self.get(&key).is_some()
    }
}

impl Lookup for moka::sync::Cache<u64, Arc<u64>> {
    #[inline]
    fn hit(&self, key: u64) -> bool {
        self.get(&key).is_some()
    }
}

impl Lookup for quick_cache::sync::Cache<u64, Arc<u64>> {
    #[inline]
    fn hit(&self, key: u64) -> bool {
        self.get(&key).is_some()
    }
}

fn weakling_cache(policy: Policy) -> Cache<u64, u64> {
    let cache = Cache::builder(CAPACITY).policy(policy).build();
    for k in 0..KEYS {
        cache.insert(k, Gc::new(k));
    }
    cache
}

fn moka_cache() -> moka::sync::Cache<u64, Arc<u64>> {
    let cache = moka::sync::Cache::new(CAPACITY);
    for k in 0..KEYS {
        cache.insert(k, Arc::new(k));
    }
    cache.run_pending_tasks();
    cache
}

fn quick_cache() -> quick_cache::sync::Cache<u64, Arc<u64>> {
    let cache = quick_cache::sync::Cache::new(CAPACITY as usize);
    for k in 0..KEYS {
        cache.insert(k, Arc::new(k));
    }
    cache
}

/// A fixed sequence of keys to look up, one per seed.
fn sequence(seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..BATCH).map(|_| rng.next_u64() % KEYS).collect()
}

fn lookups(cache: &dyn Lookup, keys: &[u64]) {
    for &k in keys {
        assert!(black_box(cache.hit(black_box(k))));
    }
}

/// Each of `threads` threads runs `iters` batches on `cache`, each with its own key sequence;
/// returns the span from the first thread's start to the last one's end (see
/// `support/parallel.rs`), so the per-thread throughput is `iters * BATCH` over it.
fn lookups_on_threads(cache: &Arc<dyn Lookup>, threads: usize, iters: u64) -> Duration {
    parallel::run(
        threads,
        |t| sequence(t as u64 + 1),
        |_, keys| {
            for _ in 0..iters {
                lookups(&**cache, keys);
            }
        },
    )
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(BATCH));
}

fn peers() -> Vec<(&'static str, Arc<dyn Lookup>)> {
    vec![
        ("weakling", Arc::new(weakling_cache(Policy::default()))),
        ("weakling_s3fifo", Arc::new(weakling_cache(Policy::S3Fifo))),
        ("moka", Arc::new(moka_cache())),
        ("quick_cache", Arc::new(quick_cache())),
    ]
}

fn get_hit_1t(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_hit_1t");
    configure(&mut group);
    let keys = sequence(1);
    for (name, cache) in peers() {
        group.bench_function(name, |b| b.iter(|| lookups(&*cache, &keys)));
    }
    group.finish();
}

fn get_hit_2t(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_hit_2t");
    configure(&mut group);
    for (name, cache) in peers() {
        group.bench_function(name, |b| b.iter_custom(|iters| lookups_on_threads(&cache, 2, iters)));
    }
    group.finish();
}

criterion_group!(benches, get_hit_1t, get_hit_2t);
criterion_main!(benches);
