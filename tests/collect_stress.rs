//! Four threads mutate a shared random graph while a fifth collects; at quiescent points the
//! objects alive are exactly those an oracle finds reachable from the roots.
//!
//! The workers change the real graph and a model of it under one lock, so the model is always
//! the graph's true shape; the collector never takes that lock. CI runs this under valgrind
//! (smaller, via `WEAKLING_TEST_SCALE`).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use weakling::{Gc, GcCell, Heap, Trace, Weak};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    id: usize,
    edges: GcCell<Vec<Gc<Node>>>,
    #[trace(skip)]
    drops: Arc<Mutex<Vec<usize>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.lock().unwrap().push(self.id);
    }
}

/// The graph's true shape: roots and edges by node id.
#[derive(Default)]
struct Model {
    roots: Vec<Option<Gc<Node>>>,
    root_ids: Vec<Option<usize>>,
    edges: Vec<HashSet<usize>>,
    weaks: Vec<Weak<Node>>,
}

impl Model {
    fn reachable(&self) -> HashSet<usize> {
        let mut seen: HashSet<usize> = self.root_ids.iter().flatten().copied().collect();
        let mut stack: Vec<usize> = seen.iter().copied().collect();
        while let Some(i) = stack.pop() {
            for &j in &self.edges[i] {
                if seen.insert(j) {
                    stack.push(j);
                }
            }
        }
        seen
    }
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn four_mutators_and_a_collector_free_exactly_the_unreachable() {
    const ROOTS: usize = 16;
    let threads = 4;
    let rounds = common::scaled(50).max(2);
    let ops = 60;
    let heap = Arc::new(Heap::new());
    heap.set_automatic_collection(false);
    let drops = Arc::new(Mutex::new(Vec::new()));
    let model = Arc::new(Mutex::new(Model {
        roots: vec![None; ROOTS],
        root_ids: vec![None; ROOTS],
        ..Model::default()
    }));
    let quiet = Arc::new(Barrier::new(threads + 1));
    let resume = Arc::new(Barrier::new(threads + 1));
    let finished = Arc::new(AtomicBool::new(false));
    let collections = Arc::new(AtomicUsize::new(0));

    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (heap, drops, model) = (heap.clone(), drops.clone(), model.clone());
            let (quiet, resume) = (quiet.clone(), resume.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ ((t as u64 + 1) * 0x9e37_79b9));
                for _ in 0..rounds {
                    for _ in 0..ops {
                        let mut m = model.lock().unwrap();
                        let live: Vec<usize> = (0..m.weaks.len()).collect();
                        match rng.below(5) {
                            0 | 1 => {
                                let id = m.weaks.len();
                                let node = Gc::new_in(
                                    Node {
                                        id,
                                        edges: GcCell::new(Vec::new()),
                                        drops: drops.clone(),
                                    },
                                    &heap,
                                );
                                m.weaks.push(Gc::downgrade(&node));
                                m.edges.push(HashSet::new());
                                let slot = rng.below(ROOTS);
                                m.root_ids[slot] = Some(id);
                                let old = m.roots[slot].replace(node);
                                drop(m);
                                drop(old); // may free objects by reference counting
                            }
                            2 if !live.is_empty() => {
                                let (a, b) =
                                    (live[rng.below(live.len())], live[rng.below(live.len())]);
                                if let (Some(x), Some(y)) =
                                    (m.weaks[a].upgrade(), m.weaks[b].upgrade())
                                {
                                    if m.edges[a].insert(b) {
                                        x.edges.write().push(y);
                                    }
                                }
                            }
                            3 if !live.is_empty() => {
                                let a = live[rng.below(live.len())];
                                if let Some(x) = m.weaks[a].upgrade() {
                                    let old = x.edges.take();
                                    m.edges[a].clear();
                                    drop(m);
                                    drop((x, old));
                                }
                            }
                            _ => {
                                let slot = rng.below(ROOTS);
                                m.root_ids[slot] = None;
                                let old = m.roots[slot].take();
                                drop(m);
                                drop(old);
                            }
                        }
                    }
                    quiet.wait();
                    resume.wait();
                }
            })
        })
        .collect();

    let collector = {
        let (heap, finished, collections) = (heap.clone(), finished.clone(), collections.clone());
        std::thread::spawn(move || {
            while !finished.load(Ordering::SeqCst) {
                heap.collect_generation(collections.fetch_add(1, Ordering::SeqCst) % 3);
            }
        })
    };

    for _ in 0..rounds {
        quiet.wait();
        // Quiescent: no worker runs. A full collection must leave exactly the reachable set.
        heap.collect();
        let m = model.lock().unwrap();
        let expected = m.reachable();
        let alive: HashSet<usize> =
            (0..m.weaks.len()).filter(|&i| m.weaks[i].upgrade().is_some()).collect();
        assert_eq!(alive, expected, "alive objects differ from the oracle's reachable set");
        let dropped = drops.lock().unwrap();
        let unique: HashSet<usize> = dropped.iter().copied().collect();
        assert_eq!(unique.len(), dropped.len(), "a value was dropped twice");
        assert_eq!(dropped.len() + alive.len(), m.weaks.len(), "every object is alive xor dropped");
        drop((m, dropped));
        resume.wait();
    }
    for w in workers {
        w.join().unwrap();
    }
    finished.store(true, Ordering::SeqCst);
    collector.join().unwrap();
    assert!(collections.load(Ordering::SeqCst) > 0);
    let mut m = model.lock().unwrap();
    m.roots.iter_mut().for_each(|r| drop(r.take()));
    drop(m);
    heap.collect();
    assert_eq!(heap.counts().live, 0);
}
