//! `Heap`: isolated object spaces and their counters.

mod common;

use std::sync::Barrier;

use weakling::{Gc, GcCell, Heap, HeapCounts, Trace};

#[derive(Trace, Default)]
struct Container {
    items: GcCell<Vec<Gc<u64>>>,
}

fn counts(heap: &Heap) -> (u64, u64, u64, u64) {
    let HeapCounts { allocations, frees, live, tracked, .. } = heap.counts();
    (allocations, frees, live, tracked)
}

#[test]
fn a_new_heap_starts_empty_and_has_its_own_id() {
    let heap = Heap::new();
    assert_eq!(counts(&heap), (0, 0, 0, 0));
    assert_ne!(heap.id(), Heap::global().id());
    assert_ne!(heap.id(), Heap::new().id());
    assert!(format!("{heap:?}").contains("Heap"));
}

#[test]
fn counters_follow_allocations_and_deaths() {
    let heap = Heap::new();
    let leaf = Gc::new_in(1_u64, &heap);
    let container = Gc::new_in(Container::default(), &heap);
    assert_eq!(counts(&heap), (2, 0, 2, 1));
    container.items.write().push(leaf.clone());
    drop(leaf);
    assert_eq!(counts(&heap), (2, 0, 2, 1), "the container still holds the leaf");
    drop(container);
    assert_eq!(counts(&heap), (2, 2, 0, 0));
}

#[test]
fn heaps_do_not_see_each_other() {
    let a = Heap::new();
    let b = Heap::new();
    let in_a: Vec<_> = (0..10).map(|i| Gc::new_in(i, &a)).collect();
    let in_b = Gc::new_in(Container::default(), &b);
    // An object of one heap may hold handles to another's.
    in_b.items.write().extend(in_a.iter().cloned());
    assert_eq!(counts(&a), (10, 0, 10, 0));
    assert_eq!(counts(&b), (1, 0, 1, 1));
    drop(in_a);
    assert_eq!(counts(&a).2, 10);
    drop(in_b);
    assert_eq!(counts(&a), (10, 10, 0, 0));
    assert_eq!(counts(&b), (1, 1, 0, 0));
}

#[test]
fn counters_are_exact_once_other_threads_are_done() {
    let heap = Heap::new();
    let threads = 4;
    let per_thread = common::scaled(20_000);
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (heap, barrier) = (&heap, &barrier);
            s.spawn(move || {
                barrier.wait();
                let mut keep = Vec::new();
                for i in 0..per_thread {
                    let leaf = Gc::new_in(i as u64, heap);
                    let container = Gc::new_in(Container::default(), heap);
                    container.items.write().push(leaf);
                    if (i + t) % 2 == 0 {
                        keep.push(container);
                    }
                }
                keep
            });
        }
    });
    let total = (threads * per_thread * 2) as u64;
    let c = heap.counts();
    assert_eq!(c.allocations, total);
    assert_eq!(c.frees, total);
    assert_eq!((c.live, c.tracked), (0, 0));
}

#[test]
fn objects_freed_on_another_thread_leave_the_right_heap() {
    let heap = Heap::new();
    let objects: Vec<_> = (0..1000).map(|_| Gc::new_in(Container::default(), &heap)).collect();
    std::thread::spawn(move || drop(objects)).join().unwrap();
    assert_eq!(counts(&heap), (1000, 1000, 0, 0));
}

#[test]
fn the_global_heap_serves_gc_new() {
    let before = Heap::global().counts().allocations;
    let g = Gc::new(Container::default());
    assert!(Heap::global().counts().allocations > before);
    drop(g);
}
