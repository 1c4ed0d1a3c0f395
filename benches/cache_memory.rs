//! Bytes per cached entry: weakling's `Cache` next to moka's and quick_cache's.
//!
//! Run: `cargo bench --bench cache_memory` (a plain program, no criterion: it prints a table).
//!
//! A counting global allocator tracks the bytes the process has allocated and not freed. The
//! values are made before the count starts (N `Gc<u64>` for weakling, N `Arc<u64>` for the
//! peers: 32 and 24 bytes each, allocator rounding aside), so the figure is what each cache's
//! own tables cost per entry: keys, value handles, links, policy state and the map.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use weakling::cache::{Cache, Policy};
use weakling::Gc;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's obligations are System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const N: u64 = 100_000;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn per_entry(name: &str, fill: impl FnOnce() -> Box<dyn std::any::Any>) {
    let before = live();
    let cache = fill();
    let bytes = live() - before;
    println!("| {name} | {:.1} |", bytes as f64 / N as f64);
    drop(cache);
}

fn main() {
    let gcs: Vec<Gc<u64>> = (0..N).map(Gc::new).collect();
    let arcs: Vec<Arc<u64>> = (0..N).map(Arc::new).collect();
    // Capacity 2N: the keys spread unevenly over the shards, and no entry may be evicted.
    println!("{N} entries (u64 keys), capacity {}; bytes per entry beyond the values\n", 2 * N);
    println!("| cache | bytes per entry |");
    println!("|---|---:|");
    for policy in Policy::ALL {
        let gcs = &gcs;
        per_entry(&format!("weakling `Cache` ({policy})"), move || {
            let cache: Cache<u64, u64> = Cache::builder(2 * N).policy(policy).build();
            for (k, v) in gcs.iter().enumerate() {
                cache.insert(k as u64, v.clone());
            }
            assert_eq!(cache.entry_count(), N);
            Box::new(cache)
        });
    }
    per_entry("moka 0.12 `sync::Cache`", || {
        let cache: moka::sync::Cache<u64, Arc<u64>> = moka::sync::Cache::new(2 * N);
        for (k, v) in arcs.iter().enumerate() {
            cache.insert(k as u64, v.clone());
        }
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), N);
        Box::new(cache)
    });
    per_entry("quick_cache 0.7 `sync::Cache`", || {
        let cache: quick_cache::sync::Cache<u64, Arc<u64>> =
            quick_cache::sync::Cache::new(2 * N as usize);
        for (k, v) in arcs.iter().enumerate() {
            cache.insert(k as u64, v.clone());
        }
        Box::new(cache)
    });
}
