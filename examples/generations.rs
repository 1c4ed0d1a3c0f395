//! Generations and thresholds: how the cycle collector decides when to run (seed 002's
//! "Automatic Garbage Collection" section).
//!
//! Seed 002 describes CPython's collector: objects are split into three generations, each
//! with a threshold; when a count exceeds its threshold a collection runs; `collect()` finds
//! the unreachable objects (cycles) of a generation and frees them, and moves the reachable
//! ones up to the next generation (the generational hypothesis: most objects die young).
//!
//! ```python
//! import gc
//! gc.get_threshold()      # (2000, 10, 10) in CPython 3.13
//! gc.get_count()          # objects entered into generation 0, collections of 0, of 1
//! gc.collect(0)           # collect generation 0 only; survivors move to generation 1
//! gc.get_stats()          # collections, collected, uncollectable per generation
//! gc.set_threshold(500, 10, 10)
//! ```
//!
//! weakling's counterparts are methods on a [`Heap`] (and the same functions in
//! `weakling::gc` for the default heap). This example uses an isolated heap so that its
//! numbers do not depend on anything else in the process.
//!
//! One difference from CPython: a new tracked object first sits on its thread's nursery,
//! which is flushed to generation 0 every 128 objects (and by every collection), so the first
//! number of `get_count()` rises in steps of 128.
//!
//! `len(gc.get_objects())` stands for `heap.counts().live`: every object here is tracked.
//!
//! Lines starting with `>>>` are the Python statements; lines starting with `#` are
//! commentary.

use weakling::{gc, Collection, Gc, GcCell, GenerationStats, Heap, Trace};

/// A tracked object that may refer to itself: `n.me = n` makes a cycle of one.
#[derive(Trace)]
struct Node {
    me: GcCell<Option<Gc<Node>>>,
}

impl Node {
    fn new(heap: &Heap) -> Gc<Node> {
        Gc::new_in(Node { me: GcCell::new(None) }, heap)
    }

    /// `n = Node(); n.me = n; del n`: garbage that only the collector can free.
    fn self_cycle(heap: &Heap) {
        let n = Node::new(heap);
        n.me.set(Some(n.clone()));
    }
}

fn print_tuple(values: [usize; 3]) {
    println!("({}, {}, {})", values[0], values[1], values[2]);
}

fn print_count(heap: &Heap) {
    println!(">>> gc.get_count()");
    print_tuple(heap.collection_counts());
}

/// Python's `gc.collect(generation)`: prints the returned count, then weakling's details.
fn collect_generation(heap: &Heap, generation: usize) -> Collection {
    println!(">>> gc.collect({generation})");
    let c = heap.collect_generation(generation);
    println!("{}", c.unreachable);
    println!(
        "Collection {{ generation: {}, examined: {}, unreachable: {}, .. }}",
        c.generation, c.examined, c.unreachable
    );
    c
}

fn print_stats(heap: &Heap) {
    println!(">>> gc.get_stats()");
    let stats: [GenerationStats; 3] = heap.collection_stats();
    for (generation, s) in stats.iter().enumerate() {
        println!(
            "generation {generation}: {{'collections': {}, 'collected': {}, 'uncollectable': {}}}",
            s.collections, s.collected, s.uncollectable
        );
    }
}

/// `for _ in range(count): n = Node(); n.me = n; del n`, returning the peak number of live
/// objects on the heap seen after each iteration.
fn churn(heap: &Heap, count: usize) -> u64 {
    let mut peak = 0;
    for _ in 0..count {
        Node::self_cycle(heap);
        peak = peak.max(heap.counts().live);
    }
    peak
}

fn thresholds(heap: &Heap) {
    println!("# the thresholds: CPython 3.13's defaults");
    println!(">>> gc.get_threshold()");
    print_tuple(gc::get_threshold());
    println!(">>> heap = Heap()   # an isolated heap, same defaults");
    println!(">>> heap.get_threshold()");
    print_tuple(heap.thresholds());
    println!(">>> gc.disable()   # on the isolated heap: explicit collections only");
    heap.set_automatic_collection(false);
}

fn counts(heap: &Heap) -> Vec<Gc<Node>> {
    println!("# gc.get_count(): the nursery is flushed to generation 0 every 128 objects");
    print_count(heap);
    println!(">>> kept = [Node() for _ in range(100)]");
    let mut kept: Vec<Gc<Node>> = (0..100).map(|_| Node::new(heap)).collect();
    print_count(heap);
    println!("# the 100 still wait on this thread's nursery: not counted yet");
    println!(">>> kept += [Node() for _ in range(28)]");
    kept.extend((0..28).map(|_| Node::new(heap)));
    print_count(heap);
    println!("# the 128th filled the nursery, which went to generation 0 in one step");
    println!(">>> for _ in range(300): n = Node(); n.me = n; del n");
    for _ in 0..300 {
        Node::self_cycle(heap);
    }
    print_count(heap);
    println!("# 428 made: 3 flushes of 128 counted, 44 still on the nursery");
    println!(">>> len(gc.get_objects())");
    println!("{}", heap.counts().live);
    kept
}

fn young_collections(heap: &Heap, kept: &[Gc<Node>]) {
    println!("# collecting generation 0: cycles freed, survivors promoted to generation 1");
    collect_generation(heap, 0);
    println!("# the collection flushed the nursery first: all 428 examined, the 300 cycles freed");
    print_count(heap);
    println!(">>> len(gc.get_objects())");
    println!("{}", heap.counts().live);
    collect_generation(heap, 0);
    println!("# generation 0 is empty: the 128 survivors now live in generation 1");
    print_count(heap);
    collect_generation(heap, 1);
    println!("# generations 0 and 1 examined; the survivors move on to generation 2");
    print_count(heap);
    println!(">>> gc.collect()   # every generation");
    let found = heap.collect();
    println!("{found}");
    print_count(heap);
    print_stats(heap);
    assert_eq!(kept.len(), 128);
}

fn automatic(heap: &Heap) {
    println!("# automatic collection: cycles made in a loop stay in flat memory");
    println!(">>> gc.enable()");
    heap.set_automatic_collection(true);
    println!(">>> for _ in range(100_000): n = Node(); n.me = n; del n");
    let peak = churn(heap, 100_000);
    println!("peak live objects: {peak}");
    println!("# 128 kept + 2048 cycles (generation 0 is collected when a flush takes it past");
    println!("# 2000) + a few survivors: the object being allocated when a collection runs is");
    println!("# still held by its maker, so it survives and is promoted; an older collection");
    println!("# frees it later");
    println!(">>> len(gc.get_objects())");
    println!("{}", heap.counts().live);
    print_count(heap);
    println!("# 4 collections of generation 1 since the last of generation 2 (threshold 10);");
    println!("# their survivors wait in generation 2 for a full collection");
    print_stats(heap);
    println!(">>> gc.collect()");
    println!("{}", heap.collect());
    println!(">>> gc.set_threshold(500, 10, 10)");
    heap.set_thresholds([500, 10, 10]);
    println!(">>> gc.get_threshold()");
    print_tuple(heap.thresholds());
    println!(">>> for _ in range(100_000): n = Node(); n.me = n; del n");
    let peak = churn(heap, 100_000);
    println!("peak live objects: {peak}");
    println!("# 128 kept + 512 cycles (500 exceeded at the fourth flush of 128) + a few survivors");
    print_stats(heap);
}

fn without_collector(heap: &Heap) {
    println!("# the same loop with automatic collection off: every cycle stays");
    println!(">>> gc.collect(); gc.disable()");
    heap.collect();
    heap.set_automatic_collection(false);
    println!(">>> for _ in range(10_000): n = Node(); n.me = n; del n");
    let peak = churn(heap, 10_000);
    println!("peak live objects: {peak}");
    println!("# 128 kept + all 10000 cycles");
    println!(">>> gc.collect()");
    println!("{}", heap.collect());
    println!(">>> len(gc.get_objects())");
    println!("{}", heap.counts().live);
}

fn main() {
    let heap = Heap::new();
    thresholds(&heap);
    let kept = counts(&heap);
    young_collections(&heap, &kept);
    automatic(&heap);
    without_collector(&heap);
    drop(kept);
    println!(">>> del kept; len(gc.get_objects())");
    println!("{}", heap.counts().live);
}
