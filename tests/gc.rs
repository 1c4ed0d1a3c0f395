//! `Gc<T>`: creation, counts, identity, forwarding traits, destruction and its order.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{capture_errors, DropCounter, DropToken, Log};
use weakling::{Gc, GcCell, Heap, Trace, Weak};

#[derive(Trace)]
struct Node {
    id: u32,
    next: GcCell<Option<Gc<Node>>>,
    #[trace(skip)]
    #[allow(dead_code)] // held only to count drops
    token: Option<DropToken>,
}

fn node(id: u32, next: Option<Gc<Node>>, heap: &Heap) -> Gc<Node> {
    Gc::new_in(Node { id, next: GcCell::new(next), token: None }, heap)
}

#[test]
fn value_drops_the_moment_the_last_handle_goes() {
    let drops = DropCounter::default();
    let a = Gc::new(drops.token());
    let b = a.clone();
    drop(a);
    assert_eq!(drops.get(), 0, "a second handle keeps the value");
    drop(b);
    assert_eq!(drops.get(), 1, "dropped at the last handle, not later");
}

#[test]
fn strong_count_walks_like_getrefcount_less_one() {
    let a = Gc::new(String::from("RefExam"));
    let mut seen = vec![Gc::strong_count(&a)];
    let b = a.clone();
    seen.push(Gc::strong_count(&a));
    let c = a.clone();
    seen.push(Gc::strong_count(&a));
    drop(c);
    seen.push(Gc::strong_count(&a));
    drop(b);
    seen.push(Gc::strong_count(&a));
    assert_eq!(seen, [1, 2, 3, 2, 1]);
}

#[test]
fn identity_and_address() {
    let a = Gc::new(7_u64);
    let b = a.clone();
    let c = Gc::new(7_u64);
    assert!(Gc::ptr_eq(&a, &b));
    assert!(!Gc::ptr_eq(&a, &c));
    assert_eq!(Gc::as_ptr(&a), Gc::as_ptr(&b));
    assert_eq!(format!("{a:p}"), format!("{:p}", Gc::as_ptr(&a)));
    // SAFETY: the pointer is to a live value.
    assert_eq!(unsafe { *Gc::as_ptr(&a) }, 7);
}

#[test]
fn formatting_comparison_and_hashing_forward_to_the_value() {
    let a = Gc::new(String::from("b"));
    let b = Gc::new(String::from("a"));
    assert_eq!(format!("{a}"), "b");
    assert_eq!(format!("{a:?}"), "\"b\"");
    assert_eq!(a, Gc::new(String::from("b")), "equality is by value, like Arc");
    assert!(b < a);
    let set: BTreeSet<Gc<String>> = [a.clone(), b.clone()].into_iter().collect();
    assert_eq!(set.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let hashed: HashSet<Gc<String>> = [a.clone(), Gc::new(String::from("b"))].into_iter().collect();
    assert_eq!(hashed.len(), 1);
    assert!(hashed.contains(&String::from("b")) || hashed.contains(&a));
    let default: Gc<Vec<u8>> = Gc::default();
    assert!(default.is_empty());
    let from: Gc<u8> = 3.into();
    assert_eq!(*from, 3);
    let as_ref: &u8 = from.as_ref();
    assert_eq!(*as_ref, 3);
}

#[test]
fn try_unwrap_needs_the_only_handle_and_ends_the_object() {
    let heap = Heap::new();
    let a = Gc::new_in(String::from("x"), &heap);
    let b = a.clone();
    let a = Gc::try_unwrap(a).expect_err("two handles");
    assert_eq!(Gc::strong_count(&a), 2);
    drop(b);
    let log = Log::default();
    let l = log.clone();
    let w = Gc::downgrade_with(&a, move |dead| {
        assert!(dead.upgrade().is_none());
        l.push("callback");
    });
    assert_eq!(Gc::try_unwrap(a).unwrap(), "x");
    assert_eq!(log.take(), ["callback"], "the object died, so its callbacks ran");
    assert!(w.upgrade().is_none());
    let counts = heap.counts();
    assert_eq!((counts.allocations, counts.frees, counts.live), (1, 1, 0));
}

#[test]
fn try_unwrap_refuses_while_a_weak_upgrade_holds_the_object() {
    let a = Gc::new(1_u32);
    let w = Gc::downgrade(&a);
    let up = w.upgrade().unwrap();
    let a = Gc::try_unwrap(a).unwrap_err();
    drop(up);
    assert_eq!(Gc::try_unwrap(a).ok(), Some(1));
    assert!(w.upgrade().is_none());
}

#[derive(Trace)]
struct SelfRef {
    me: Weak<SelfRef>,
    seen_during_build: bool,
}

#[test]
fn new_cyclic_gives_a_weak_that_works_only_after_construction() {
    let heap = Heap::new();
    let g = Gc::new_cyclic_in(
        |w: &Weak<SelfRef>| SelfRef { me: w.clone(), seen_during_build: w.upgrade().is_some() },
        &heap,
    );
    assert!(!g.seen_during_build);
    assert!(Gc::ptr_eq(&g.me.upgrade().unwrap(), &g));
    assert_eq!(Gc::weak_count(&g), 1);
    assert_eq!(heap.counts().live, 1);
    let w = g.me.clone();
    drop(g);
    assert!(w.upgrade().is_none());
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn new_cyclic_that_panics_releases_the_allocation_and_propagates() {
    let heap = Heap::new();
    let escaped = Arc::new(std::sync::Mutex::new(None::<Weak<u64>>));
    let e = escaped.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Gc::new_cyclic_in(
            |w: &Weak<u64>| {
                *e.lock().unwrap() = Some(w.clone());
                panic!("build failed")
            },
            &heap,
        )
    }));
    assert!(result.is_err());
    let w = escaped.lock().unwrap().take().unwrap();
    assert!(w.upgrade().is_none(), "a weak handle that escaped never upgrades");
    assert_eq!(heap.counts().allocations, 0);
    drop(w); // frees the box; valgrind checks nothing leaks or is read after free
}

#[test]
fn leaves_need_no_trace_and_may_be_thread_bound() {
    let heap = Heap::new();
    let rc = std::rc::Rc::new(5);
    let g = Gc::new_leaf_in(rc.clone(), &heap);
    assert_eq!(std::rc::Rc::strong_count(&rc), 2);
    assert_eq!(heap.counts().tracked, 0);
    assert_eq!(heap.counts().live, 1);
    drop(g);
    assert_eq!(std::rc::Rc::strong_count(&rc), 1);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn only_types_that_may_hold_handles_are_tracked() {
    let heap = Heap::new();
    let leaf = Gc::new_in(vec![1_u8, 2, 3], &heap);
    let tracked = Gc::new_in(vec![leaf.clone()], &heap);
    let counts = heap.counts();
    assert_eq!((counts.live, counts.tracked), (2, 1));
    drop(tracked);
    assert_eq!(heap.counts().tracked, 0);
    drop(leaf);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn a_million_long_chain_drops_without_overflowing_the_stack() {
    let heap = Heap::new();
    let n = common::scaled(1_000_000) as u32;
    let drops = DropCounter::default();
    let mut head: Option<Gc<Node>> = None;
    for id in 0..n {
        head = Some(Gc::new_in(
            Node { id, next: GcCell::new(head.take()), token: Some(drops.token()) },
            &heap,
        ));
    }
    assert_eq!(heap.counts().live, u64::from(n));
    // Run on a thread with a small stack: recursion of even a few thousand frames would fail.
    let handle =
        std::thread::Builder::new().stack_size(256 * 1024).spawn(move || drop(head)).unwrap();
    handle.join().unwrap();
    assert_eq!(drops.get(), n as usize);
    assert_eq!(heap.counts().live, 0);
    assert_eq!(heap.counts().tracked, 0);
}

#[test]
fn deep_destruction_keeps_the_natural_order_for_shallow_structures() {
    // A shallow chain is destroyed head first, each value right after its callbacks.
    let log = Log::default();
    #[allow(dead_code)] // the chain link is held only to be dropped
    struct Loud(u32, Log, Option<Gc<Loud>>);
    impl Drop for Loud {
        fn drop(&mut self) {
            self.1.push(format!("drop {}", self.0));
        }
    }
    let c = Gc::new_leaf(Loud(3, log.clone(), None));
    let b = Gc::new_leaf(Loud(2, log.clone(), Some(c)));
    let a = Gc::new_leaf(Loud(1, log.clone(), Some(b)));
    drop(a);
    assert_eq!(log.take(), ["drop 1", "drop 2", "drop 3"]);
}

#[test]
fn callbacks_run_before_the_value_drops() {
    let value_dropped = Arc::new(AtomicBool::new(false));
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let g = Gc::new_leaf(Flag(value_dropped.clone()));
    let seen = Arc::new(AtomicBool::new(true));
    let (v, s) = (value_dropped.clone(), seen.clone());
    let _w = Gc::downgrade_with(&g, move |_| s.store(v.load(Ordering::SeqCst), Ordering::SeqCst));
    drop(g);
    assert!(!seen.load(Ordering::SeqCst), "the callback saw the value not yet dropped");
    assert!(value_dropped.load(Ordering::SeqCst));
}

#[test]
fn a_panicking_drop_is_contained_and_reported() {
    #[allow(dead_code)] // held only to be dropped
    struct Bomb(DropToken);
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb went off");
        }
    }
    let heap = Heap::new();
    let drops = DropCounter::default();
    let ((), errors) = capture_errors(|| {
        let g = Gc::new_leaf_in(Bomb(drops.token()), &heap);
        let w = Gc::downgrade(&g);
        drop(g); // must not unwind into this frame
        assert!(w.upgrade().is_none());
    });
    assert_eq!(drops.get(), 1, "the fields still drop while unwinding");
    assert!(
        errors.iter().any(|e| e.contains("bomb went off") && e.contains("Drop of a Gc value")),
        "{errors:?}"
    );
    assert_eq!(heap.counts().live, 0);
    // The heap keeps working.
    let again = Gc::new_in(1_u8, &heap);
    assert_eq!(*again, 1);
}

#[test]
fn a_panicking_drop_deep_in_a_chain_does_not_lose_the_rest() {
    #[allow(dead_code)] // the link and token are held only to be dropped
    struct MaybeBomb(u32, Option<Gc<MaybeBomb>>, DropToken);
    impl Drop for MaybeBomb {
        fn drop(&mut self) {
            if self.0 % 1000 == 7 {
                panic!("bomb {}", self.0);
            }
        }
    }
    let heap = Heap::new();
    let drops = DropCounter::default();
    let n = 10_000;
    let ((), errors) = capture_errors(|| {
        let mut head = None;
        for i in 0..n {
            head = Some(Gc::new_leaf_in(MaybeBomb(i, head.take(), drops.token()), &heap));
        }
        drop(head);
    });
    assert_eq!(drops.get(), n as usize);
    assert_eq!(errors.iter().filter(|e| e.contains("bomb")).count(), 10);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn handles_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gc<String>>();
    assert_send_sync::<Weak<String>>();
    let heap = Heap::new();
    let g = Gc::new_in(vec![1_u64, 2, 3], &heap);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let g = g.clone();
            std::thread::spawn(move || g.iter().sum::<u64>())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 6);
    }
    assert_eq!(Gc::strong_count(&g), 1);
}

#[test]
fn values_are_dropped_on_the_thread_that_drops_the_last_handle() {
    let log = Log::default();
    struct Where(Log);
    impl Drop for Where {
        fn drop(&mut self) {
            self.0.push(std::thread::current().name().unwrap_or("?").to_owned());
        }
    }
    let g = Gc::new_leaf(Where(log.clone()));
    std::thread::Builder::new().name("last".into()).spawn(move || drop(g)).unwrap().join().unwrap();
    assert_eq!(log.take(), ["last"]);
}

#[test]
fn nodes_hold_and_release_each_other() {
    let heap = Heap::new();
    let c = node(3, None, &heap);
    let b = node(2, Some(c.clone()), &heap);
    let a = node(1, Some(b.clone()), &heap);
    assert_eq!(Gc::strong_count(&c), 2);
    drop((b, c));
    assert_eq!(heap.counts().live, 3);
    let next = a.next.read().as_ref().map(|n| n.id);
    assert_eq!(next, Some(2));
    a.next.set(None);
    assert_eq!(heap.counts().live, 1);
}
