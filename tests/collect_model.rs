//! The collector against an oracle: random graphs, roots, drops and collections.
//!
//! Each case builds up to a few hundred objects with random edges, keeps a random set of
//! roots, drops the rest, sometimes changes edges and drops roots between collections of
//! random generations, and checks after every collection that the objects alive are exactly
//! those an oracle finds reachable from the roots, that no value was dropped twice, and that
//! weak handles are dead exactly for the freed objects. A second model adds finalizers that
//! resurrect their object or cut its edges, with reference counting modelled too (an object
//! that dies by its count is never finalized).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use weakling::{Gc, GcCell, Heap, Trace, Weak};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    id: usize,
    edges: GcCell<Vec<Gc<Node>>>,
    #[trace(skip)]
    drops: Arc<Vec<AtomicUsize>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// Add an edge `from → to` (both must still be alive in the model).
    Link(usize, usize),
    /// Remove all edges of a node.
    Clear(usize),
    /// Drop the root handle of a node.
    Unroot(usize),
    /// Collect a generation.
    Collect(usize),
}

fn steps(n: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0..n, 0..n).prop_map(|(a, b)| Step::Link(a, b)),
            1 => (0..n).prop_map(Step::Clear),
            2 => (0..n).prop_map(Step::Unroot),
            1 => (0..3_usize).prop_map(Step::Collect),
        ],
        0..60,
    )
}

/// Node count, initial edges, which nodes stay rooted, then the steps.
type Case = (usize, Vec<(usize, usize)>, Vec<bool>, Vec<Step>);

fn case() -> impl Strategy<Value = Case> {
    (2..200_usize).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((0..n, 0..n), 0..n * 2),
            prop::collection::vec(prop::bool::weighted(0.3), n),
            steps(n),
        )
    })
}

/// The oracle: nodes reachable from the roots through the model's edges.
fn reachable(edges: &[HashSet<usize>], roots: &[bool]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut stack: Vec<usize> = (0..edges.len()).filter(|&i| roots[i]).collect();
    for &i in &stack {
        seen[i] = true;
    }
    while let Some(i) = stack.pop() {
        for &j in &edges[i] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    seen
}

fn check(
    heap: &Heap,
    weaks: &[Weak<Node>],
    drops: &[AtomicUsize],
    live: &[bool],
) -> Result<(), TestCaseError> {
    for (i, alive) in live.iter().enumerate() {
        let dropped = drops[i].load(Ordering::SeqCst);
        prop_assert!(dropped <= 1, "node {} dropped {} times", i, dropped);
        prop_assert_eq!(dropped == 0, *alive, "node {} alive in model: {}", i, alive);
        prop_assert_eq!(weaks[i].upgrade().is_some(), *alive, "weak handle of node {}", i);
    }
    prop_assert_eq!(heap.counts().live, live.iter().filter(|&&a| a).count() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled(256) as u32, ..ProptestConfig::default() })]

    #[test]
    fn the_collector_frees_exactly_the_unreachable((n, initial, rooted, steps) in case()) {
        let heap = Heap::new();
        heap.set_automatic_collection(false);
        let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        let nodes: Vec<Gc<Node>> = (0..n)
            .map(|id| Gc::new_in(Node { id, edges: GcCell::new(Vec::new()), drops: drops.clone() }, &heap))
            .collect();
        let weaks: Vec<Weak<Node>> = nodes.iter().map(Gc::downgrade).collect();
        let mut model: Vec<HashSet<usize>> = vec![HashSet::new(); n];
        for &(a, b) in &initial {
            if model[a].insert(b) {
                nodes[a].edges.write().push(nodes[b].clone());
            }
        }
        let mut roots = rooted.clone();
        let mut handles: Vec<Option<Gc<Node>>> =
            nodes.into_iter().zip(&roots).map(|(g, &r)| r.then_some(g)).collect();
        heap.collect();
        check(&heap, &weaks, &drops, &reachable(&model, &roots))?;

        for step in steps {
            match step {
                Step::Link(a, b) => {
                    // Only objects that still exist can be linked; one that is unreachable but
                    // not yet collected may be linked again (and so become reachable), as a
                    // Python weakref to uncollected garbage can bring it back.
                    if let (Some(from), Some(to)) = (weaks[a].upgrade(), weaks[b].upgrade()) {
                        if model[a].insert(b) {
                            from.edges.write().push(to);
                        }
                    }
                }
                Step::Clear(a) => {
                    if let Some(node) = weaks[a].upgrade() {
                        node.edges.take();
                        model[a].clear();
                    }
                }
                Step::Unroot(a) => {
                    handles[a] = None;
                    roots[a] = false;
                }
                Step::Collect(generation) => {
                    heap.collect_generation(generation);
                    // Objects of older generations may wait for their generation; only a
                    // full collection promises everything unreachable is gone.
                    if generation == 2 {
                        check(&heap, &weaks, &drops, &reachable(&model, &roots))?;
                    }
                }
            }
        }
        heap.collect();
        check(&heap, &weaks, &drops, &reachable(&model, &roots))?;
        drop(handles);
        heap.collect();
        check(&heap, &weaks, &drops, &vec![false; n])?;
    }
}

/// What a node's finalizer does in the finalizer model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fin {
    /// Nothing besides counting.
    Nothing,
    /// Stores its own handle in the vault: resurrection.
    Resurrect,
    /// Removes all its edges.
    Cut,
}

#[derive(Trace)]
#[trace(finalize = FNode::finalize_node)]
struct FNode {
    #[trace(skip)]
    id: usize,
    #[trace(skip)]
    fin: Fin,
    edges: GcCell<Vec<Gc<FNode>>>,
    #[trace(skip)]
    counts: Arc<Counts>,
}

struct Counts {
    drops: Vec<AtomicUsize>,
    finalized: Vec<AtomicUsize>,
    vault: std::sync::Mutex<Vec<Gc<FNode>>>,
}

impl FNode {
    fn finalize_node(this: &Gc<FNode>) {
        this.counts.finalized[this.id].fetch_add(1, Ordering::SeqCst);
        match this.fin {
            Fin::Nothing => {}
            Fin::Resurrect => this.counts.vault.lock().unwrap().push(this.clone()),
            Fin::Cut => drop(this.edges.take()),
        }
    }
}

impl Drop for FNode {
    fn drop(&mut self) {
        self.counts.drops[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Debug)]
enum FStep {
    Link(usize, usize),
    Unroot(usize),
    /// Drops every handle the finalizers saved.
    ClearVault,
    Collect,
}

type FCase = (usize, Vec<Fin>, Vec<(usize, usize)>, Vec<bool>, Vec<FStep>);

fn fcase() -> impl Strategy<Value = FCase> {
    (2..120_usize).prop_flat_map(|n| {
        let fin =
            prop_oneof![2 => Just(Fin::Nothing), 1 => Just(Fin::Resurrect), 1 => Just(Fin::Cut)];
        let step = prop_oneof![
            3 => (0..n, 0..n).prop_map(|(a, b)| FStep::Link(a, b)),
            2 => (0..n).prop_map(FStep::Unroot),
            1 => Just(FStep::ClearVault),
            2 => Just(FStep::Collect),
        ];
        (
            Just(n),
            prop::collection::vec(fin, n),
            prop::collection::vec((0..n, 0..n), 0..n * 2),
            prop::collection::vec(prop::bool::weighted(0.3), n),
            prop::collection::vec(step, 0..40),
        )
    })
}

/// The finalizer oracle's model of the heap.
struct FModel {
    fin: Vec<Fin>,
    edges: Vec<HashSet<usize>>,
    roots: Vec<bool>,
    vault: Vec<bool>,
    alive: Vec<bool>,
    finalized: Vec<bool>,
}

impl FModel {
    fn reachable(&self) -> Vec<bool> {
        let rooted: Vec<bool> =
            (0..self.fin.len()).map(|i| self.roots[i] || self.vault[i]).collect();
        reachable(&self.edges, &rooted)
    }

    /// Reference counting: a node that no live node, root or vault entry refers to dies at
    /// once, without a finalizer, and releases its edges.
    fn settle(&mut self) {
        loop {
            let n = self.fin.len();
            let mut referenced: Vec<bool> =
                (0..n).map(|i| self.roots[i] || self.vault[i]).collect();
            for i in (0..n).filter(|&i| self.alive[i]) {
                for &j in &self.edges[i] {
                    referenced[j] = true;
                }
            }
            let dying: Vec<usize> = (0..n).filter(|&i| self.alive[i] && !referenced[i]).collect();
            if dying.is_empty() {
                return;
            }
            for i in dying {
                self.alive[i] = false;
                self.edges[i].clear();
            }
        }
    }

    /// One full collection: finalizers of unreachable, unfinalized nodes run (cutting edges or
    /// resurrecting), then whatever is still unreachable dies.
    fn collect(&mut self) {
        let before = self.reachable();
        let unreachable: Vec<usize> =
            (0..self.fin.len()).filter(|&i| self.alive[i] && !before[i]).collect();
        for &i in &unreachable {
            if !self.finalized[i] {
                self.finalized[i] = true;
                match self.fin[i] {
                    Fin::Nothing => {}
                    Fin::Resurrect => self.vault[i] = true,
                    Fin::Cut => self.edges[i].clear(),
                }
            }
        }
        let after = self.reachable();
        for &i in &unreachable {
            if !after[i] {
                self.alive[i] = false;
                self.edges[i].clear();
            }
        }
        self.settle();
    }
}

fn fcheck(
    heap: &Heap,
    weaks: &[Weak<FNode>],
    counts: &Counts,
    model: &FModel,
) -> Result<(), TestCaseError> {
    for (i, weak) in weaks.iter().enumerate() {
        let dropped = counts.drops[i].load(Ordering::SeqCst);
        let finalized = counts.finalized[i].load(Ordering::SeqCst);
        prop_assert!(
            dropped <= 1 && finalized <= 1,
            "node {}: {} drops, {} finalizations",
            i,
            dropped,
            finalized
        );
        prop_assert_eq!(dropped == 0, model.alive[i], "node {} alive in model", i);
        prop_assert_eq!(finalized == 1, model.finalized[i], "node {} finalized in model", i);
        prop_assert_eq!(weak.upgrade().is_some(), model.alive[i], "weak handle of node {}", i);
    }
    prop_assert_eq!(heap.counts().live, model.alive.iter().filter(|&&a| a).count() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled(128) as u32, ..ProptestConfig::default() })]

    #[test]
    fn finalizers_resurrect_exactly_what_they_reach((n, fin, initial, rooted, steps) in fcase()) {
        let heap = Heap::new();
        heap.set_automatic_collection(false);
        let counts = Arc::new(Counts {
            drops: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            finalized: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            vault: std::sync::Mutex::new(Vec::new()),
        });
        let nodes: Vec<Gc<FNode>> = (0..n)
            .map(|id| Gc::new_in(FNode { id, fin: fin[id], edges: GcCell::new(Vec::new()), counts: counts.clone() }, &heap))
            .collect();
        let weaks: Vec<Weak<FNode>> = nodes.iter().map(Gc::downgrade).collect();
        let mut model = FModel {
            fin,
            edges: vec![HashSet::new(); n],
            roots: rooted,
            vault: vec![false; n],
            alive: vec![true; n],
            finalized: vec![false; n],
        };
        for &(a, b) in &initial {
            if model.edges[a].insert(b) {
                nodes[a].edges.write().push(nodes[b].clone());
            }
        }
        let mut handles: Vec<Option<Gc<FNode>>> =
            nodes.into_iter().zip(&model.roots).map(|(g, &r)| r.then_some(g)).collect();
        model.settle();
        fcheck(&heap, &weaks, &counts, &model)?;
        for step in steps {
            match step {
                FStep::Link(a, b) => {
                    // Only between nodes reachable in the model: linking uncollected garbage
                    // would bring it back without the oracle's knowledge of what is garbage.
                    let live = model.reachable();
                    if live[a] && live[b] && model.edges[a].insert(b) {
                        let (from, to) = (weaks[a].upgrade().unwrap(), weaks[b].upgrade().unwrap());
                        from.edges.write().push(to);
                    }
                }
                FStep::Unroot(a) => {
                    handles[a] = None;
                    model.roots[a] = false;
                    model.settle();
                }
                FStep::ClearVault => {
                    drop(std::mem::take(&mut *counts.vault.lock().unwrap()));
                    model.vault.iter_mut().for_each(|v| *v = false);
                    model.settle();
                }
                FStep::Collect => {
                    heap.collect();
                    model.collect();
                    fcheck(&heap, &weaks, &counts, &model)?;
                }
            }
        }
        drop(handles);
        model.roots.iter_mut().for_each(|r| *r = false);
        model.settle();
        heap.collect();
        model.collect();
        fcheck(&heap, &weaks, &counts, &model)?;
        // Each round may finalize (and resurrect) objects the vault kept out of the last one;
        // every object finalizes once, so this ends.
        for _ in 0..=n {
            drop(std::mem::take(&mut *counts.vault.lock().unwrap()));
            model.vault.iter_mut().for_each(|v| *v = false);
            model.settle();
            heap.collect();
            model.collect();
            fcheck(&heap, &weaks, &counts, &model)?;
        }
        prop_assert_eq!(heap.counts().live, 0);
    }
}
