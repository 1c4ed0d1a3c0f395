//! Benchmarks of the cycle collector, each against its peers in the same criterion group (so
//! that the report shows them side by side).
//!
//! Run: `cargo bench --bench collect` (one group: `cargo bench --bench collect -- collect_live`).
//!
//! Groups:
//!
//! - `collect_cycles/<peer>/<N>`: one collection that frees `N` two-node cycles (`a.other = b`,
//!   `b.other = a`, every outside handle dropped). The garbage is built outside the timed region
//!   (`iter_custom`); only the collection is timed. Throughput is `2N` objects, so the time per
//!   object is the reported time divided by `2N`.
//! - `collect_live/<peer>`: a collection over `LIVE` live tracked objects (a ring, every node
//!   also held from outside) and no garbage. weakling and gcmodule look at every tracked object
//!   in a full collection, as CPython does. dumpster, bacon_rajan_cc and rust-cc only look at
//!   *candidates* (objects whose count was decremented to a non-zero value since the last
//!   collection), so for them every node is made a candidate (a clone dropped) before each
//!   timed collection, outside the timed region: their worst case, `*_all_candidates`.
//! - `young_with_old/<case>`: weakling's young collection (`collect_generation(0)`) freeing
//!   `YOUNG` young garbage objects, with `LIVE` live objects in the oldest generation and with
//!   none.
//!
//! Before the groups, the bench prints (stderr) the pause of two successive collections of
//! 1,000,000 cycles on a weakling heap and the process's resident memory (VmRSS) around each.
//!
//! The whole bench runs on a thread with a large stack: some peers trace recursively, and a
//! ring of a million nodes is a million frames deep for them. CPython's figures come from
//! `python3 ../shared/peers/cpython_baseline.py`; see BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};

/// Cycles per timed collection in `collect_cycles`.
const CYCLES: [usize; 2] = [100_000, 1_000_000];
/// Live objects in `collect_live` and in the old generation of `young_with_old`.
const LIVE: usize = 1_000_000;
/// Young garbage objects (as two-node cycles) in `young_with_old`.
const YOUNG: usize = 10_000;
/// Stack of the benchmark thread.
const STACK: usize = 4 << 30;

/// One cycle collector under test: a node type with one optional edge, and its collection.
trait Peer {
    type Node: Clone;
    fn name(&self) -> &'static str;
    fn node(&self) -> Self::Node;
    fn link(&self, from: &Self::Node, to: Option<Self::Node>);
    fn collect(&self);
    /// A figure that returns to its starting value once all garbage is freed, where the peer
    /// exposes one (tracked objects, buffered candidates, allocated bytes).
    fn residue(&self) -> Option<usize>;
}

/// Builds `n` two-node cycles and drops every outside handle.
fn garbage_cycles<P: Peer>(peer: &P, n: usize) {
    for _ in 0..n {
        let a = peer.node();
        let b = peer.node();
        peer.link(&a, Some(b.clone()));
        peer.link(&b, Some(a));
    }
}

/// A ring of `n` nodes, each also held from outside.
fn ring<P: Peer>(peer: &P, n: usize) -> Vec<P::Node> {
    let nodes: Vec<P::Node> = (0..n).map(|_| peer.node()).collect();
    for (i, node) in nodes.iter().enumerate() {
        peer.link(node, Some(nodes[(i + 1) % n].clone()));
    }
    nodes
}

/// Breaks a ring without deep recursion, drops it and collects what is left.
fn teardown<P: Peer>(peer: &P, nodes: Vec<P::Node>) {
    for node in &nodes {
        peer.link(node, None);
    }
    drop(nodes);
    peer.collect();
}

mod weakling_peer {
    use weakling::{Gc, GcCell, Heap, Trace};

    #[derive(Trace)]
    pub struct Node {
        other: GcCell<Option<Gc<Node>>>,
    }

    pub struct Weakling(pub Heap);

    impl Weakling {
        pub fn new() -> Weakling {
            let heap = Heap::new();
            heap.set_automatic_collection(false);
            Weakling(heap)
        }
    }

    impl super::Peer for Weakling {
        type Node = Gc<Node>;
        fn name(&self) -> &'static str {
            "weakling"
        }
        fn node(&self) -> Gc<Node> {
            Gc::new_in(Node { other: GcCell::new(None) }, &self.0)
        }
        fn link(&self, from: &Gc<Node>, to: Option<Gc<Node>>) {
            from.other.set(to);
        }
        fn collect(&self) {
            self.0.collect();
        }
        fn residue(&self) -> Option<usize> {
            Some(self.0.counts().tracked as usize)
        }
    }
}

mod dumpster_unsync_peer {
    use dumpster::unsync::{collect, set_collect_condition, Gc};
    use dumpster::Trace;
    use std::cell::RefCell;

    #[derive(Trace)]
    pub struct Node {
        other: RefCell<Option<Gc<Node>>>,
    }

    pub struct DumpsterUnsync;

    impl DumpsterUnsync {
        pub fn new() -> DumpsterUnsync {
            set_collect_condition(|_| false);
            DumpsterUnsync
        }
    }

    impl super::Peer for DumpsterUnsync {
        type Node = Gc<Node>;
        fn name(&self) -> &'static str {
            "dumpster_unsync"
        }
        fn node(&self) -> Gc<Node> {
            Gc::new(Node { other: RefCell::new(None) })
        }
        fn link(&self, from: &Gc<Node>, to: Option<Gc<Node>>) {
            *from.other.borrow_mut() = to;
        }
        fn collect(&self) {
            collect();
        }
        fn residue(&self) -> Option<usize> {
            None
        }
    }
}

mod dumpster_sync_peer {
    use dumpster::sync::{collect, set_collect_condition, Gc};
    use dumpster::Trace;
    use std::sync::Mutex;

    #[derive(Trace)]
    pub struct Node {
        other: Mutex<Option<Gc<Node>>>,
    }

    pub struct DumpsterSync;

    impl DumpsterSync {
        pub fn new() -> DumpsterSync {
            set_collect_condition(|_| false);
            DumpsterSync
        }
    }

    impl super::Peer for DumpsterSync {
        type Node = Gc<Node>;
        fn name(&self) -> &'static str {
            "dumpster_sync"
        }
        fn node(&self) -> Gc<Node> {
            Gc::new(Node { other: Mutex::new(None) })
        }
        fn link(&self, from: &Gc<Node>, to: Option<Gc<Node>>) {
            *from.other.lock().unwrap() = to;
        }
        fn collect(&self) {
            collect();
        }
        fn residue(&self) -> Option<usize> {
            None
        }
    }
}

mod gcmodule_peer {
    use gcmodule::{Cc, Trace, Tracer};
    use std::cell::RefCell;

    pub struct Node {
        other: RefCell<Option<Cc<Node>>>,
    }

    // Written by hand: gcmodule's derive recurses forever in `is_type_tracked` on a
    // self-referential type (a stack overflow at the first `Cc::new`).
    impl Trace for Node {
        fn trace(&self, tracer: &mut Tracer) {
            self.other.trace(tracer);
        }
    }

    pub struct Gcmodule;

    impl super::Peer for Gcmodule {
        type Node = Cc<Node>;
        fn name(&self) -> &'static str {
            "gcmodule"
        }
        fn node(&self) -> Cc<Node> {
            Cc::new(Node { other: RefCell::new(None) })
        }
        fn link(&self, from: &Cc<Node>, to: Option<Cc<Node>>) {
            *from.other.borrow_mut() = to;
        }
        fn collect(&self) {
            gcmodule::collect_thread_cycles();
        }
        fn residue(&self) -> Option<usize> {
            Some(gcmodule::count_thread_tracked())
        }
    }
}

mod bacon_peer {
    use bacon_rajan_cc::{collect_cycles, number_of_roots_buffered, Cc, Trace, Tracer};
    use std::cell::RefCell;

    pub struct Node {
        other: RefCell<Option<Cc<Node>>>,
    }

    impl Trace for Node {
        fn trace(&self, tracer: &mut Tracer) {
            if let Some(other) = &*self.other.borrow() {
                other.trace(tracer);
            }
        }
    }

    pub struct Bacon;

    impl super::Peer for Bacon {
        type Node = Cc<Node>;
        fn name(&self) -> &'static str {
            "bacon_rajan_cc"
        }
        fn node(&self) -> Cc<Node> {
            Cc::new(Node { other: RefCell::new(None) })
        }
        fn link(&self, from: &Cc<Node>, to: Option<Cc<Node>>) {
            *from.other.borrow_mut() = to;
        }
        fn collect(&self) {
            collect_cycles();
        }
        fn residue(&self) -> Option<usize> {
            Some(number_of_roots_buffered())
        }
    }
}

mod rust_cc_peer {
    use rust_cc::{collect_cycles, Cc, Finalize, Trace};
    use std::cell::RefCell;

    #[derive(Trace, Finalize)]
    pub struct Node {
        other: RefCell<Option<Cc<Node>>>,
    }

    pub struct RustCc;

    impl super::Peer for RustCc {
        type Node = Cc<Node>;
        fn name(&self) -> &'static str {
            "rust_cc"
        }
        fn node(&self) -> Cc<Node> {
            Cc::new(Node { other: RefCell::new(None) })
        }
        fn link(&self, from: &Cc<Node>, to: Option<Cc<Node>>) {
            *from.other.borrow_mut() = to;
        }
        fn collect(&self) {
            collect_cycles();
        }
        fn residue(&self) -> Option<usize> {
            rust_cc::state::allocated_bytes().ok()
        }
    }
}

use bacon_peer::Bacon;
use dumpster_sync_peer::DumpsterSync;
use dumpster_unsync_peer::DumpsterUnsync;
use gcmodule_peer::Gcmodule;
use rust_cc_peer::RustCc;
use weakling_peer::Weakling;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn configure(group: &mut Group<'_>) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(500));
}

/// Checks once, untimed, that a collection frees the peer's garbage cycles.
fn sanity<P: Peer>(peer: &P) {
    peer.collect();
    let before = peer.residue();
    garbage_cycles(peer, 1000);
    peer.collect();
    assert_eq!(peer.residue(), before, "{} left garbage behind", peer.name());
}

fn bench_cycles<P: Peer>(group: &mut Group<'_>, peer: &P, n: usize) {
    sanity(peer);
    group.throughput(Throughput::Elements(2 * n as u64));
    group.bench_function(BenchmarkId::new(peer.name(), n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                garbage_cycles(peer, n);
                let start = Instant::now();
                peer.collect();
                total += start.elapsed();
            }
            total
        })
    });
}

fn collect_cycles(c: &mut Criterion) {
    let mut group = c.benchmark_group("collect_cycles");
    configure(&mut group);
    for n in CYCLES {
        bench_cycles(&mut group, &Weakling::new(), n);
        bench_cycles(&mut group, &DumpsterUnsync::new(), n);
        bench_cycles(&mut group, &DumpsterSync::new(), n);
        bench_cycles(&mut group, &Gcmodule, n);
        bench_cycles(&mut group, &Bacon, n);
        bench_cycles(&mut group, &RustCc, n);
    }
    group.finish();
}

/// `candidates`: make every node a candidate (drop a clone) before each timed collection.
fn bench_live<P: Peer>(group: &mut Group<'_>, peer: &P, candidates: bool) {
    let nodes = ring(peer, LIVE);
    peer.collect();
    let name =
        if candidates { format!("{}_all_candidates", peer.name()) } else { peer.name().to_owned() };
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if candidates {
                    for node in &nodes {
                        drop(black_box(node.clone()));
                    }
                }
                let start = Instant::now();
                peer.collect();
                total += start.elapsed();
            }
            total
        })
    });
    teardown(peer, nodes);
}

fn collect_live(c: &mut Criterion) {
    let mut group = c.benchmark_group("collect_live");
    configure(&mut group);
    group.throughput(Throughput::Elements(LIVE as u64));
    bench_live(&mut group, &Weakling::new(), false);
    bench_live(&mut group, &Gcmodule, false);
    bench_live(&mut group, &DumpsterUnsync::new(), true);
    bench_live(&mut group, &DumpsterSync::new(), true);
    bench_live(&mut group, &Bacon, true);
    bench_live(&mut group, &RustCc, true);
    group.finish();
}

fn bench_young(group: &mut Group<'_>, name: &str, old: usize) {
    let peer = Weakling::new();
    let nodes = ring(&peer, old);
    peer.0.collect();
    peer.0.collect();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                garbage_cycles(&peer, YOUNG / 2);
                let start = Instant::now();
                let collection = peer.0.collect_generation(0);
                total += start.elapsed();
                assert_eq!(collection.unreachable, YOUNG);
            }
            total
        })
    });
    teardown(&peer, nodes);
}

fn young_with_old(c: &mut Criterion) {
    let mut group = c.benchmark_group("young_with_old");
    configure(&mut group);
    group.throughput(Throughput::Elements(YOUNG as u64));
    bench_young(&mut group, "old_1m", LIVE);
    bench_young(&mut group, "old_empty", 0);
    group.finish();
}

/// Resident memory of the process, in KiB.
fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Collections of 1,000,000 cycles on a weakling heap: the pause of each and the memory around
/// it. The first collection of the process also sets up the collector's working arrays (kept
/// for later collections of a similar size); the second reuses them.
fn pause_and_memory() {
    let peer = Weakling::new();
    for round in ["first", "second"] {
        let start_rss = vm_rss_kib();
        garbage_cycles(&peer, 1_000_000);
        let before = vm_rss_kib();
        let collection = peer.0.collect_generation(2);
        let after = vm_rss_kib();
        eprintln!(
            "pause: {round} collection of 1,000,000 two-node cycles on weakling: {:?} ({} \
             examined, {} unreachable, {:.1} ns/object); VmRSS {} KiB before building, {} KiB \
             before collecting, {} KiB after",
            collection.duration,
            collection.examined,
            collection.unreachable,
            collection.duration.as_nanos() as f64 / collection.unreachable.max(1) as f64,
            start_rss,
            before,
            after,
        );
    }
}

fn benches() {
    pause_and_memory();
    let mut criterion = Criterion::default().configure_from_args();
    collect_cycles(&mut criterion);
    collect_live(&mut criterion);
    young_with_old(&mut criterion);
    criterion.final_summary();
}

fn main() {
    // Not criterion_main!: the benches run on a thread with a large stack (see the top).
    std::thread::Builder::new()
        .name("collect-bench".into())
        .stack_size(STACK)
        .spawn(benches)
        .expect("spawn the benchmark thread")
        .join()
        .expect("the benchmark thread panicked");
}
