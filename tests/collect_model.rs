//! The collector against an oracle: random graphs, roots, drops and collections.
//!
//! Each case builds up to a few hundred objects with random edges, keeps a random set of
//! roots, drops the rest, sometimes changes edges and drops roots between collections of
//! random generations, and checks after every collection that the objects alive are exactly
//! those an oracle finds reachable from the roots, that no value was dropped twice, and that
//! weak handles are dead exactly for the freed objects.

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
