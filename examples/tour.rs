//! A short guided tour of weakling: `cargo run --example tour`.
//!
//! It walks through what exists today, each step a Python idiom from the seed posts and its
//! weakling form:
//!
//! ```python
//! a = Thing(); b = a; sys.getrefcount(a)      # Gc::new, clone, Gc::strong_count
//! r = weakref.ref(a); r()                     # Gc::downgrade, Weak::upgrade
//! weakref.ref(a, callback)                    # Gc::downgrade_with
//! a.next = b                                  # #[derive(Trace)] + GcCell
//! ```
//!
//! plus what Python does not show: per-heap counters (`Heap::counts`), a 1,000,000-node
//! chain dropped without deep recursion, and the bytes each object costs beyond its value
//! (`weakling::overhead_of`). There is no cycle collector yet, so nothing here builds a
//! strong cycle.
//!
//! The whole tour, the chain included, runs in about a third of a second in a debug build
//! and under a tenth in release. Output is the same on every run: no addresses, no timings.

use weakling::{Gc, GcCell, Heap, Referents, Trace};

/// A value that announces its destruction, like a Python class with `__del__`.
#[derive(Trace)]
struct Thing {
    name: &'static str,
}

impl Drop for Thing {
    fn drop(&mut self) {
        println!("  drop: {} is destroyed", self.name);
    }
}

/// A node whose `next` edge can change after construction.
#[derive(Trace)]
struct Node {
    name: &'static str,
    next: GcCell<Option<Gc<Node>>>,
}

/// A link of the long chain; built front to back, so it needs no cell.
#[derive(Trace)]
struct Link {
    #[allow(dead_code)] // only there to give each link a value, as a real list would
    value: u64,
    next: Option<Gc<Link>>,
}

const CHAIN: u64 = 1_000_000;

fn strong_handles() {
    println!("1. Gc<T>: strong handles, counted like Python's names");
    let a = Gc::new(Thing { name: "thing" });
    let b = a.clone();
    println!("  a = Thing(); b = a -> strong_count(a) = {}", Gc::strong_count(&a));
    println!("  a is b -> {}", Gc::ptr_eq(&a, &b));
    drop(b);
    println!("  del b -> strong_count(a) = {}", Gc::strong_count(&a));
    println!("  del a ->");
    drop(a);
    println!("  (the value was dropped inside `drop(a)`, not later)");
}

fn weak_handles() {
    println!("2. Weak<T>: observe without keeping alive");
    let a = Gc::new(Thing { name: "observed" });
    let r = Gc::downgrade(&a);
    println!(
        "  r = weakref.ref(a) -> r() is {}, weak_count(a) = {}, strong_count(a) = {}",
        r.upgrade().map_or("None", |t| t.name),
        Gc::weak_count(&a),
        Gc::strong_count(&a)
    );
    drop(a);
    println!("  after del a -> r() is {}", r.upgrade().map_or("None", |t| t.name));
}

fn callbacks() {
    println!("3. death callbacks: weakref.ref(obj, callback)");
    let a = Gc::new(Thing { name: "watched" });
    let _first = Gc::downgrade_with(&a, |_| println!("  callback 1 (registered first)"));
    let _second = Gc::downgrade_with(&a, |_| println!("  callback 2 (registered second)"));
    let cancelled = Gc::downgrade_with(&a, |_| println!("  never printed"));
    drop(cancelled); // a callback lives only as long as its weak handle
    println!("  del a ->");
    drop(a); // callbacks newest first, then the value's Drop
}

fn heap_counters() {
    println!("4. Heap: an isolated object space with counters");
    let heap = Heap::new();
    let leaf = Gc::new_in(7_u64, &heap);
    let list = Gc::new_in(vec![leaf.clone(), leaf.clone()], &heap);
    let c = heap.counts();
    println!(
        "  a u64 and a Vec<Gc<u64>>: allocations {}, live {}, tracked {} (only the Vec can hold handles)",
        c.allocations, c.live, c.tracked
    );
    drop(list);
    drop(leaf);
    let c = heap.counts();
    println!("  after dropping both: frees {}, live {}, tracked {}", c.frees, c.live, c.tracked);
}

fn traced_nodes() {
    println!("5. #[derive(Trace)] + GcCell: objects whose edges change");
    let tail = Gc::new(Node { name: "tail", next: GcCell::new(None) });
    let head = Gc::new(Node { name: "head", next: GcCell::new(None) });
    head.next.set(Some(tail.clone())); // head.next = tail, after construction
    let next = head.next.read().as_ref().map(|n| n.name);
    println!(
        "  head.next = tail -> head.next.name = {}, strong_count(tail) = {}",
        next.unwrap_or("None"),
        Gc::strong_count(&tail)
    );
    let edges = Referents::of(&*head);
    println!(
        "  gc.get_referents(head) -> {} edge, to tail: {}",
        edges.len(),
        edges.contains(&tail)
    );
    drop(head);
    println!("  del head -> strong_count(tail) = {}", Gc::strong_count(&tail));
}

fn long_chain() {
    println!("6. a chain of {CHAIN} nodes, dropped without a deep stack");
    let heap = Heap::new();
    let mut head: Option<Gc<Link>> = None;
    for value in 0..CHAIN {
        head = Some(Gc::new_in(Link { value, next: head.take() }, &heap));
    }
    println!("  built: live {}", heap.counts().live);
    // The last handle to the head: a recursive drop would need a million stack frames;
    // weakling queues deep destructions and finishes them inside this same `drop`.
    drop(head);
    let c = heap.counts();
    println!("  dropped: live {}, frees {}", c.live, c.frees);
}

fn overhead() {
    println!("7. memory: bytes per object beyond the value");
    let o = weakling::overhead_of::<u64>();
    println!("  leaf object (a u64, no handles inside): {} bytes", o.leaf);
    println!("  tracked object (may hold handles):      {} bytes", o.tracked);
    println!("  (a leaf pays only for its two counts, as an Arc does)");
}

fn main() {
    println!("weakling: Python's memory model for Rust");
    strong_handles();
    weak_handles();
    callbacks();
    heap_counters();
    traced_nodes();
    long_chain();
    overhead();
}
