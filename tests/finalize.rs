//! Finalizers of cyclic garbage (`Trace::finalize`): order, once-only, resurrection, panics.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use common::{capture_errors, quiet_heap, scaled, DropCounter, DropToken, Log};
use weakling::{Gc, GcCell, Heap, Trace, Weak};

/// What a finalizer of `FNode` does besides logging.
#[derive(Clone, Default)]
enum Act {
    #[default]
    Nothing,
    /// Stores a clone of its own handle in the shared vault: resurrection.
    SaveSelf(Arc<Mutex<Vec<Gc<FNode>>>>),
    /// Cuts its outgoing edges.
    CutEdges,
    /// Tries to upgrade a weak handle to its successor and logs the outcome.
    UpgradeNext,
    /// Panics.
    Panic,
    /// Sends its own handle to another thread.
    Send(mpsc::Sender<Gc<FNode>>),
    /// Builds a new garbage cycle and asks for a collection (which does nothing).
    BuildCycleAndCollect(&'static Heap),
    /// Registers a death callback on its own object, keeping the weak handle outside.
    WatchSelf(Arc<Mutex<Vec<Weak<FNode>>>>),
}

#[derive(Trace)]
#[trace(finalize = FNode::finalize_node)]
struct FNode {
    name: &'static str,
    next: GcCell<Option<Gc<FNode>>>,
    #[trace(skip)]
    weak_next: Mutex<Option<Weak<FNode>>>,
    #[trace(skip)]
    act: Act,
    #[trace(skip)]
    log: Log,
    #[trace(skip)]
    finalized: Arc<AtomicUsize>,
    #[trace(skip)]
    _token: DropToken,
}

impl FNode {
    fn finalize_node(this: &Gc<FNode>) {
        this.finalized.fetch_add(1, Ordering::SeqCst);
        // Every member is whole: the successor's value can be read.
        let next = this.next.read().as_ref().map(|n| n.name).unwrap_or("-");
        this.log.push(format!("finalize {} (next {next})", this.name));
        match &this.act {
            Act::Nothing => {}
            Act::SaveSelf(vault) => vault.lock().unwrap().push(this.clone()),
            Act::CutEdges => drop(this.next.take()),
            Act::UpgradeNext => {
                let weak = this.weak_next.lock().unwrap().clone();
                let seen = weak.and_then(|w| w.upgrade()).is_some();
                this.log.push(format!("upgrade from finalizer: {seen}"));
            }
            Act::Panic => panic!("finalizer of {} fails", this.name),
            Act::Send(to) => to.send(this.clone()).unwrap(),
            Act::BuildCycleAndCollect(heap) => {
                let drops = DropCounter::default();
                let fresh = Graph::new(heap, &drops).node("fresh", Act::Nothing);
                fresh.next.set(Some(fresh.clone()));
                drop(fresh);
                let inner = heap.collect();
                this.log.push(format!("collect from finalizer: {inner}"));
            }
            Act::WatchSelf(keep) => {
                let log = this.log.clone();
                let w = Gc::downgrade_with(this, move |_| log.push("callback"));
                keep.lock().unwrap().push(w);
            }
        }
    }
}

impl Drop for FNode {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

/// Builds `FNode`s sharing one log, drop counter and finalizer counter.
struct Graph {
    heap: &'static Heap,
    log: Log,
    drops: DropCounter,
    finalized: Arc<AtomicUsize>,
}

impl Graph {
    fn new(heap: &'static Heap, drops: &DropCounter) -> Graph {
        Graph { heap, log: Log::default(), drops: drops.clone(), finalized: Arc::default() }
    }

    fn node(&self, name: &'static str, act: Act) -> Gc<FNode> {
        Gc::new_in(
            FNode {
                name,
                next: GcCell::new(None),
                weak_next: Mutex::new(None),
                act,
                log: self.log.clone(),
                finalized: self.finalized.clone(),
                _token: self.drops.token(),
            },
            self.heap,
        )
    }

    /// A ring of the given nodes, in order.
    fn ring(&self, nodes: &[&Gc<FNode>]) {
        for (i, n) in nodes.iter().enumerate() {
            let next = nodes[(i + 1) % nodes.len()];
            n.next.set(Some(Gc::clone(next)));
            *n.weak_next.lock().unwrap() = Some(Gc::downgrade(next));
        }
    }

    fn finalized(&self) -> usize {
        self.finalized.load(Ordering::SeqCst)
    }
}

/// An isolated heap without automatic collections, for the rest of the process (a heap's
/// bookkeeping is never freed anyway).
fn heap() -> &'static Heap {
    // Listed so that leak checkers see them as still reachable.
    static HEAPS: Mutex<Vec<&'static Heap>> = Mutex::new(Vec::new());
    let heap = Box::leak(Box::new(quiet_heap()));
    HEAPS.lock().unwrap().push(heap);
    heap
}

#[test]
fn the_derive_sets_finalize_only_when_asked() {
    #[derive(Trace)]
    struct Plain {
        _next: Option<Gc<Plain>>,
    }
    const { assert!(<FNode as Trace>::FINALIZE) };
    const { assert!(!<Plain as Trace>::FINALIZE) };
}

#[test]
fn finalizers_run_once_each_before_any_member_is_torn_down() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let (a, b, c) =
        (g.node("a", Act::Nothing), g.node("b", Act::Nothing), g.node("c", Act::Nothing));
    g.ring(&[&a, &b, &c]);
    drop((a, b, c));
    let stats = heap.collect_generation(2);
    assert_eq!((stats.unreachable, stats.collected, stats.resurrected), (3, 3, 0));
    let log = g.log.take();
    assert_eq!(log.len(), 6, "{log:?}");
    let mut finalized: Vec<_> = log[..3].to_vec();
    finalized.sort();
    assert_eq!(finalized, ["finalize a (next b)", "finalize b (next c)", "finalize c (next a)"]);
    assert!(log[3..].iter().all(|e| e.starts_with("drop ")), "{log:?}");
    assert_eq!((g.finalized(), drops.get()), (3, 3));
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn objects_dying_by_their_count_alone_are_not_finalized() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let a = g.node("a", Act::Nothing);
    a.next.set(Some(g.node("b", Act::Nothing)));
    drop(a);
    assert_eq!((g.finalized(), drops.get()), (0, 2));
    assert_eq!(heap.collect(), 0);
}

#[test]
fn a_finalizer_that_stores_its_object_resurrects_the_whole_cycle() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let vault = Arc::new(Mutex::new(Vec::new()));
    let a = g.node("a", Act::SaveSelf(vault.clone()));
    let b = g.node("b", Act::Nothing);
    g.ring(&[&a, &b]);
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));

    let stats = heap.collect_generation(2);
    assert_eq!((stats.unreachable, stats.collected, stats.resurrected), (0, 0, 2));
    assert_eq!((g.finalized(), drops.get()), (2, 0));
    // Whole and alive again: the saved handle reads its successor, weak handles upgrade.
    let saved = vault.lock().unwrap()[0].clone();
    assert_eq!(saved.name, "a");
    assert_eq!(saved.next.read().as_ref().unwrap().name, "b");
    assert!(wa.upgrade().is_some() && wb.upgrade().is_some());
    assert_eq!(heap.counts().live, 2);
    drop(saved);

    // Still held by the vault: the next collections keep it, without finalizing again.
    assert_eq!(heap.collect(), 0);
    vault.lock().unwrap().clear();
    let stats = heap.collect_generation(2);
    assert_eq!((stats.unreachable, stats.collected, stats.resurrected), (2, 2, 0));
    assert_eq!((g.finalized(), drops.get()), (2, 2), "finalizers run at most once per object");
    assert!(wa.upgrade().is_none() && wb.upgrade().is_none());
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn only_what_a_finalizer_reaches_is_resurrected() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let vault = Arc::new(Mutex::new(Vec::new()));
    // Two garbage cycles in one collection, and a chain hanging off the saved one.
    let (a, b) = (g.node("a", Act::Nothing), g.node("b", Act::Nothing));
    g.ring(&[&a, &b]);
    let (c, d) = (g.node("c", Act::SaveSelf(vault.clone())), g.node("d", Act::Nothing));
    g.ring(&[&c, &d]);
    drop((a, b, c, d));

    let stats = heap.collect_generation(2);
    assert_eq!((stats.collected, stats.resurrected), (2, 2));
    let mut dropped: Vec<_> = g.log.take().into_iter().filter(|e| e.starts_with("drop")).collect();
    dropped.sort();
    assert_eq!(dropped, ["drop a", "drop b"]);
    assert_eq!(heap.counts().live, 2);
    vault.lock().unwrap().clear();
    assert_eq!(heap.collect(), 2);
    assert_eq!((g.finalized(), drops.get()), (4, 4));
}

#[test]
fn a_finalizer_that_cuts_edges_leaves_nothing_dropped_twice() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let (a, b, c) =
        (g.node("a", Act::CutEdges), g.node("b", Act::CutEdges), g.node("c", Act::Nothing));
    g.ring(&[&a, &b, &c]);
    drop((a, b, c));
    let stats = heap.collect_generation(2);
    assert_eq!((stats.collected, stats.resurrected), (3, 0));
    assert_eq!((g.finalized(), drops.get()), (3, 3));
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn weak_handles_to_members_do_not_upgrade_inside_finalizers() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let (a, b) = (g.node("a", Act::UpgradeNext), g.node("b", Act::Nothing));
    g.ring(&[&a, &b]);
    drop((a, b));
    assert_eq!(heap.collect(), 2);
    assert!(g.log.take().contains(&"upgrade from finalizer: false".to_string()));
}

#[test]
fn a_panicking_finalizer_is_reported_and_the_collection_finishes() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let (a, b) = (g.node("a", Act::Panic), g.node("b", Act::Nothing));
    g.ring(&[&a, &b]);
    drop((a, b));
    let (found, errors) = capture_errors(|| heap.collect());
    assert_eq!(found, 2);
    assert!(
        errors.iter().any(|e| e.contains("finalizer") && e.contains("finalizer of a fails")),
        "{errors:?}"
    );
    assert_eq!((g.finalized(), drops.get()), (2, 2));

    // Later collections work.
    let (c, d) = (g.node("c", Act::Nothing), g.node("d", Act::Nothing));
    g.ring(&[&c, &d]);
    drop((c, d));
    assert_eq!(heap.collect(), 2);
    assert_eq!(drops.get(), 4);
}

#[test]
fn a_finalizer_may_build_cycles_and_its_collect_request_does_nothing() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let (a, b) = (g.node("a", Act::BuildCycleAndCollect(heap)), g.node("b", Act::Nothing));
    g.ring(&[&a, &b]);
    drop((a, b));
    assert_eq!(heap.collect(), 2);
    assert!(g.log.take().contains(&"collect from finalizer: 0".to_string()));
    // The cycle it built is ordinary garbage for the next collection.
    assert_eq!(heap.counts().live, 1);
    assert_eq!(heap.collect(), 1);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn a_callback_registered_by_a_finalizer_fires_when_the_object_dies() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let keep = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (g.node("a", Act::WatchSelf(keep.clone())), g.node("b", Act::Nothing));
    g.ring(&[&a, &b]);
    drop((a, b));
    assert_eq!(heap.collect(), 2);
    let log = g.log.take();
    assert_eq!(log.iter().filter(|e| *e == "callback").count(), 1, "{log:?}");
    assert_eq!(log.last().unwrap(), "callback", "callbacks run after teardown: {log:?}");
    assert!(keep.lock().unwrap()[0].upgrade().is_none());
}

#[test]
fn the_keep_garbage_mode_keeps_objects_unfinalized() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    heap.set_keep_garbage(true);
    let (a, b) = (g.node("a", Act::Nothing), g.node("b", Act::Nothing));
    g.ring(&[&a, &b]);
    drop((a, b));
    assert_eq!(heap.collect(), 2);
    assert_eq!((g.finalized(), drops.get()), (0, 0));
    heap.set_keep_garbage(false);
    drop(heap.take_garbage());
    assert_eq!(heap.collect(), 2);
    assert_eq!((g.finalized(), drops.get()), (2, 2));
}

#[test]
fn resurrected_handles_sent_to_another_thread_are_freed_exactly_once() {
    let heap = heap();
    let drops = DropCounter::default();
    let g = Graph::new(heap, &drops);
    let rounds = scaled(200);
    let (to, from) = mpsc::channel::<Gc<FNode>>();
    // The receiver clones and drops what arrives while the collector checks it again.
    let receiver = std::thread::spawn(move || {
        let mut seen = 0;
        // Senders live on in resurrected nodes, so the channel does not close: count instead.
        for handle in from.iter().take(rounds) {
            let copy = handle.clone();
            drop(handle);
            assert!(copy.next.read().is_some());
            drop(copy);
            seen += 1;
        }
        seen
    });
    for _ in 0..rounds {
        let (a, b) = (g.node("a", Act::Send(to.clone())), g.node("b", Act::Nothing));
        g.ring(&[&a, &b]);
        drop((a, b));
        heap.collect();
    }
    drop(to);
    assert_eq!(receiver.join().unwrap(), rounds);
    // Whatever survived a round (still held by the receiver at its check) is garbage now.
    heap.collect();
    assert_eq!(drops.get(), 2 * rounds);
    assert_eq!(g.finalized(), 2 * rounds, "each object finalized once");
    assert_eq!(heap.counts().live, 0);
}

/// A member without a finalizer of its own, for cycles that mix it with finalizing ones.
#[derive(Trace)]
struct Link {
    name: usize,
    next: GcCell<Option<Gc<Link>>>,
    tail: GcCell<Option<Gc<Finalizing>>>,
}

/// A member whose finalizer walks the whole cycle and records which members it found whole.
#[derive(Trace)]
#[trace(finalize = Finalizing::finalize_node)]
struct Finalizing {
    head: GcCell<Option<Gc<Link>>>,
    #[trace(skip)]
    whole: Arc<Mutex<Vec<bool>>>,
}

impl Finalizing {
    fn finalize_node(this: &Gc<Finalizing>) {
        let mut whole = this.whole.lock().unwrap();
        let mut at = this.head.read().clone();
        while let Some(link) = at {
            let Some(value) = Gc::try_get(&link) else {
                whole.push(false);
                break;
            };
            whole.push(true);
            at = value.next.read().clone();
        }
    }
}

/// Members without finalizers that come before the finalizing one in the collector's order are
/// whole when the finalizer runs, and the cycle is freed afterwards.
#[test]
fn members_without_finalizers_are_whole_when_another_member_finalizes() {
    let heap = heap();
    let n = scaled(200).max(4);
    let whole = Arc::new(Mutex::new(Vec::new()));
    // Links first (allocation order is list order), the finalizing member last.
    let links: Vec<_> = (0..n)
        .map(|name| {
            Gc::new_in(Link { name, next: GcCell::new(None), tail: GcCell::new(None) }, heap)
        })
        .collect();
    for pair in links.windows(2) {
        pair[0].next.set(Some(pair[1].clone()));
    }
    let fin = Gc::new_in(
        Finalizing { head: GcCell::new(Some(links[0].clone())), whole: whole.clone() },
        heap,
    );
    links[n - 1].tail.set(Some(fin.clone()));
    assert_eq!(links.iter().map(|l| l.name).sum::<usize>(), n * (n - 1) / 2);
    drop((links, fin));

    let stats = heap.collect_generation(2);
    assert_eq!((stats.unreachable, stats.collected, stats.resurrected), (n + 1, n + 1, 0));
    assert_eq!(*whole.lock().unwrap(), vec![true; n], "every link whole while finalizing");
    assert_eq!(heap.counts().live, 0);
}

/// A finalizer callback (`Gc::downgrade_with_finalizer`) on a member whose type has no
/// finalizer makes the collection take the finalizer path: the callback runs once, before
/// teardown, and the cycle is freed.
#[test]
fn a_finalizer_callback_on_a_member_runs_once_and_its_cycle_is_freed() {
    let heap = heap();
    let n = scaled(200).max(4);
    let links: Vec<_> = (0..n)
        .map(|name| {
            Gc::new_in(Link { name, next: GcCell::new(None), tail: GcCell::new(None) }, heap)
        })
        .collect();
    for (i, link) in links.iter().enumerate() {
        link.next.set(Some(links[(i + 1) % n].clone()));
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let first = Gc::downgrade(&links[0]);
    let record = runs.clone();
    let watch = Gc::downgrade_with_finalizer(&links[n - 1], move |_| {
        record.fetch_add(1, Ordering::SeqCst);
        // Condemned: no upgrade succeeds, even while the members are whole.
        assert!(first.upgrade().is_none());
    });
    drop(links);
    let stats = heap.collect_generation(2);
    assert_eq!((stats.unreachable, stats.collected, stats.resurrected), (n, n, 0));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    drop(watch);
    assert_eq!(heap.collect(), 0);
    assert_eq!(heap.counts().live, 0);
}
