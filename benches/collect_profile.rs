//! One collection of a chosen shape, for instruction-level profiling of the collector
//! (criterion's repetitions would drown the collection under a profiler).
//!
//! ```sh
//! cargo bench --bench collect_profile --no-run
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*collect_generation*' \
//!     target/release/deps/collect_profile-<hash> cycles 100000
//! ```
//!
//! Shapes (each collected `ROUNDS` times, 3 by default: `cycles N ROUNDS`): `cycles N` (N
//! two-node garbage cycles, one full collection), `live N` (a ring of N nodes each held from
//! outside, promoted to the oldest generation, then a full collection with no garbage),
//! `young N` (10,000 young garbage objects over N live old objects, one young collection).
//! Prints each collection's figures. `clone_drop N` instead clones and drops a tracked handle
//! N times (the mutator's side of the collector's protocol); `floor N` times an atomic
//! decrement and a `free` over N boxes of a tracked node's size, the part of freeing garbage
//! that is not the collector's.

use weakling::{Gc, GcCell, Heap, Trace};

#[derive(Trace)]
struct Node {
    other: GcCell<Option<Gc<Node>>>,
}

fn node(heap: &Heap) -> Gc<Node> {
    Gc::new_in(Node { other: GcCell::new(None) }, heap)
}

fn cycles(heap: &Heap, n: usize) {
    for _ in 0..n {
        let a = node(heap);
        let b = node(heap);
        a.other.set(Some(b.clone()));
        b.other.set(Some(a));
    }
}

fn ring(heap: &Heap, n: usize) -> Vec<Gc<Node>> {
    let nodes: Vec<Gc<Node>> = (0..n).map(|_| node(heap)).collect();
    for (i, node) in nodes.iter().enumerate() {
        node.other.set(Some(nodes[(i + 1) % n].clone()));
    }
    nodes
}

fn run() {
    // `cargo bench` runs every bench target with `--bench` (and any filter given to the other
    // benches): this one is meant to be run directly, so it does nothing then.
    if std::env::args().any(|a| a == "--bench") {
        eprintln!("collect_profile: run the binary directly (see benches/collect_profile.rs)");
        return;
    }
    let mut args = std::env::args().skip(1);
    let shape = args.next().unwrap_or_else(|| "cycles".into());
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("a count"));
    let rounds: usize = args.next().map_or(3, |s| s.parse().expect("a count of rounds"));
    let heap = Heap::new();
    heap.set_automatic_collection(false);
    if shape == "floor" {
        floor(n);
        return;
    }
    if shape == "clone_drop" {
        // The mutator's side of the pause protocol: clone and drop a tracked handle.
        let node = node(&heap);
        for _ in 0..n {
            drop(std::hint::black_box(node.clone()));
        }
        println!("clone_drop {n}");
        return;
    }
    let live = match shape.as_str() {
        "cycles" => Vec::new(),
        "live" | "young" => {
            let nodes = ring(&heap, n);
            heap.collect_generation(2);
            nodes
        }
        other => panic!("unknown shape {other}: cycles, live or young"),
    };
    // Several rounds: the first one also pays for the collector's buffers (kept afterwards).
    for _ in 0..rounds {
        let collection = match shape.as_str() {
            "cycles" => {
                cycles(&heap, n);
                heap.collect_generation(2)
            }
            "live" => heap.collect_generation(2),
            _ => {
                cycles(&heap, 5_000);
                heap.collect_generation(0)
            }
        };
        println!("{shape} {n}: {collection:?}");
    }
    for node in &live {
        node.other.set(None);
    }
}

/// What freeing garbage costs outside the collector: one atomic decrement per object (a `Gc`
/// dropped by a value) and one `free` of a box of the size of a tracked `Node`, each in a pass
/// over `n` boxes, timed.
fn floor(n: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;
    // A tracked Node's allocation: prefix, header and value, 48 bytes.
    type Box48 = [AtomicUsize; 6];
    for _ in 0..3 {
        let boxes: Vec<*mut Box48> = (0..n)
            .map(|i| Box::into_raw(Box::new(std::array::from_fn(|_| AtomicUsize::new(i)))))
            .collect();
        let start = Instant::now();
        for &b in &boxes {
            // SAFETY: allocated above, freed only below.
            unsafe { (*b)[2].fetch_sub(1, Ordering::Release) };
        }
        let decrement = start.elapsed();
        let start = Instant::now();
        for &b in &boxes {
            // SAFETY: allocated above by Box, freed once.
            drop(unsafe { Box::from_raw(b) });
        }
        let free = start.elapsed();
        println!(
            "floor {n}: atomic decrement {:.1} ns/box, free {:.1} ns/box",
            decrement.as_nanos() as f64 / n as f64,
            free.as_nanos() as f64 / n as f64
        );
    }
}

fn main() {
    // On a second thread, as in the benchmarks: a process with one thread takes cheaper paths
    // in the allocator.
    std::thread::spawn(run).join().expect("the profiled run panicked");
}
