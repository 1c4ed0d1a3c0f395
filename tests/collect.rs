//! The cycle collector: what it frees, what it keeps, and the order of events.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{capture_errors, link, node, quiet_heap, DropCounter, DropToken, Log, Node};
use weakling::{Gc, GcCell, Heap, Trace, Weak};

#[test]
fn a_self_cycle_leaks_until_collected() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let a = node(&heap, "me", &drops);
    link(&a, &a); // self.me = self
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(drops.get(), 0, "reference counting alone cannot free a cycle");
    assert!(w.upgrade().is_some());
    assert_eq!(heap.collect(), 1);
    assert_eq!(drops.get(), 1);
    assert!(w.upgrade().is_none());
    assert_eq!(heap.counts().live, 0);
    assert_eq!(heap.collect(), 0, "nothing left to find");
}

#[test]
fn two_and_three_node_cycles_are_freed_and_outside_references_keep_them() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let a = node(&heap, "a", &drops);
    let b = node(&heap, "b", &drops);
    link(&a, &b);
    link(&b, &a);
    let (x, y, z) = (node(&heap, "x", &drops), node(&heap, "y", &drops), node(&heap, "z", &drops));
    link(&x, &y);
    link(&y, &z);
    link(&z, &x);
    drop((a, x, y));
    // `b` is still held: its cycle with `a` must survive; x → y → z → x is held through z.
    assert_eq!(heap.collect(), 0);
    assert_eq!(drops.get(), 0);
    drop(z);
    assert_eq!(heap.collect(), 3);
    assert_eq!(drops.get(), 3);
    assert_eq!(b.edges.read()[0].name, "a");
    drop(b);
    assert_eq!(heap.collect(), 2);
    assert_eq!(drops.get(), 5);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn objects_hanging_off_a_cycle_are_freed_with_it() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let a = node(&heap, "a", &drops);
    let b = node(&heap, "b", &drops);
    link(&a, &b);
    link(&b, &a);
    let tail = node(&heap, "tail", &drops);
    link(&b, &tail);
    let leaf = Gc::new_in(String::from("leaf"), &heap);
    let leaf_holder = Gc::new_in(vec![leaf.clone()], &heap);
    a.edges.write().clear();
    a.edges.write().push(b.clone());
    drop(leaf);
    drop((a, b, tail));
    assert_eq!(heap.collect(), 3);
    assert_eq!(drops.get(), 3);
    assert_eq!(*leaf_holder[0], "leaf", "unrelated objects are untouched");
}

#[test]
fn weak_handles_to_garbage_die_and_outside_callbacks_run_newest_first() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let log = Log::default();
    let a = node(&heap, "a", &drops);
    let b = node(&heap, "b", &drops);
    link(&a, &b);
    link(&b, &a);
    let plain = Gc::downgrade(&a);
    let (l1, l2) = (log.clone(), log.clone());
    let first = Gc::downgrade_with(&a, move |dead| {
        assert!(dead.upgrade().is_none());
        l1.push("first");
    });
    let second = Gc::downgrade_with(&a, move |_| l2.push("second"));
    drop((a, b));
    heap.collect();
    assert_eq!(log.take(), ["second", "first"]);
    assert!(plain.upgrade().is_none());
    drop((first, second));
    assert!(log.take().is_empty(), "each callback runs once");
}

#[derive(Trace)]
struct Watcher {
    peer: GcCell<Option<Gc<Watcher>>>,
    watch: GcCell<Option<Weak<Watcher>>>,
}

#[test]
fn callbacks_of_weak_handles_inside_the_garbage_never_run() {
    let heap = quiet_heap();
    let fired = Arc::new(AtomicUsize::new(0));
    let a = Gc::new_in(Watcher { peer: GcCell::new(None), watch: GcCell::new(None) }, &heap);
    let b =
        Gc::new_in(Watcher { peer: GcCell::new(Some(a.clone())), watch: GcCell::new(None) }, &heap);
    a.peer.set(Some(b.clone()));
    let f = fired.clone();
    // b holds the only handle of a weak reference (with a callback) to a.
    b.watch.set(Some(Gc::downgrade_with(&a, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
    })));
    drop((a, b));
    assert_eq!(heap.collect(), 2);
    assert_eq!(fired.load(Ordering::SeqCst), 0);
}

#[derive(Trace)]
struct Peeker {
    other: GcCell<Option<Gc<Peeker>>>,
    #[trace(skip)]
    saw: Arc<Mutex<Vec<String>>>,
}

impl Drop for Peeker {
    fn drop(&mut self) {
        if let Some(other) = self.other.read().as_ref() {
            let seen = match Gc::try_get(other) {
                Some(_) => "alive".to_string(),
                None => "torn down".to_string(),
            };
            self.saw.lock().unwrap().push(seen);
        }
    }
}

#[test]
fn a_drop_that_reaches_its_cycle_sees_torn_down_members() {
    let heap = quiet_heap();
    let saw = Arc::new(Mutex::new(Vec::new()));
    let a = Gc::new_in(Peeker { other: GcCell::new(None), saw: saw.clone() }, &heap);
    let b = Gc::new_in(Peeker { other: GcCell::new(Some(a.clone())), saw: saw.clone() }, &heap);
    a.other.set(Some(b.clone()));
    drop((a, b));
    heap.collect();
    assert_eq!(*saw.lock().unwrap(), ["torn down", "torn down"]);
}

#[derive(Trace)]
struct Toucher {
    other: GcCell<Option<Gc<Toucher>>>,
}

impl Drop for Toucher {
    fn drop(&mut self) {
        if let Some(other) = self.other.read().as_ref() {
            // Plain access to a torn-down member panics with a clear message.
            let _ = &other.other;
        }
    }
}

#[test]
fn plain_access_to_a_torn_down_member_panics_and_is_contained() {
    let heap = quiet_heap();
    let a = Gc::new_in(Toucher { other: GcCell::new(None) }, &heap);
    let b = Gc::new_in(Toucher { other: GcCell::new(Some(a.clone())) }, &heap);
    a.other.set(Some(b.clone()));
    drop((a, b));
    let (found, errors) = capture_errors(|| heap.collect());
    assert_eq!(found, 2);
    assert!(
        errors.iter().any(|e| e.contains("torn down by the cycle collector")
            || e.contains("already dropped by the cycle collector")),
        "{errors:?}"
    );
    assert_eq!(heap.counts().live, 0);
    // The collector still works.
    let c = Gc::new_in(Toucher { other: GcCell::new(None) }, &heap);
    c.other.set(Some(c.clone()));
    drop(c);
    assert_eq!(heap.collect(), 1);
}

#[derive(Trace)]
struct Escaper {
    other: GcCell<Option<Gc<Escaper>>>,
    #[trace(skip)]
    stash: Arc<Mutex<Vec<Gc<Escaper>>>>,
}

impl Drop for Escaper {
    fn drop(&mut self) {
        if let Some(other) = self.other.write().take() {
            self.stash.lock().unwrap().push(other);
        }
    }
}

#[test]
fn a_handle_that_escapes_a_cycle_keeps_the_box_but_never_the_value() {
    let heap = quiet_heap();
    let stash = Arc::new(Mutex::new(Vec::new()));
    let a = Gc::new_in(Escaper { other: GcCell::new(None), stash: stash.clone() }, &heap);
    let b =
        Gc::new_in(Escaper { other: GcCell::new(Some(a.clone())), stash: stash.clone() }, &heap);
    a.other.set(Some(b.clone()));
    drop((a, b));
    assert_eq!(heap.collect(), 2);
    let escaped = std::mem::take(&mut *stash.lock().unwrap());
    assert_eq!(escaped.len(), 2);
    assert!(escaped.iter().all(|e| Gc::try_get(e).is_none()));
    assert!(Gc::downgrade(&escaped[0]).upgrade().is_none(), "condemned: no upgrade");
    drop(escaped); // frees the boxes; valgrind checks no value is dropped twice
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn a_panicking_drop_in_a_cycle_is_contained_and_the_rest_is_freed() {
    #[derive(Trace)]
    struct Bomb {
        other: GcCell<Option<Gc<Bomb>>>,
        #[trace(skip)]
        #[allow(dead_code)] // held only to count drops
        token: DropToken,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb in a cycle");
        }
    }
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let a = Gc::new_in(Bomb { other: GcCell::new(None), token: drops.token() }, &heap);
    let b = Gc::new_in(Bomb { other: GcCell::new(Some(a.clone())), token: drops.token() }, &heap);
    a.other.set(Some(b.clone()));
    drop((a, b));
    let (found, errors) = capture_errors(|| heap.collect());
    assert_eq!(found, 2);
    assert_eq!(drops.get(), 2, "fields still drop while the panic unwinds");
    assert_eq!(errors.iter().filter(|e| e.contains("bomb in a cycle")).count(), 2);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn a_million_node_garbage_ring_and_live_chain_collect_without_deep_stacks() {
    let heap = quiet_heap();
    let n = common::scaled(1_000_000);
    let drops = DropCounter::default();
    let first = node(&heap, "ring", &drops);
    let mut prev = first.clone();
    for _ in 1..n {
        let next = node(&heap, "ring", &drops);
        link(&prev, &next);
        prev = next;
    }
    link(&prev, &first);
    drop((first, prev));
    let chain_head = node(&heap, "chain", &drops);
    let mut prev = chain_head.clone();
    for _ in 1..n {
        let next = node(&heap, "chain", &drops);
        link(&prev, &next);
        prev = next;
    }
    drop(prev);
    let found = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn({
            let heap = Arc::new(heap);
            move || (heap.collect(), heap)
        })
        .unwrap()
        .join()
        .unwrap();
    let (found, heap) = found;
    assert_eq!(found, n);
    assert_eq!(drops.get(), n);
    assert_eq!(heap.counts().live, n as u64, "the live chain survives");
    drop(chain_head);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn survivors_move_up_the_generations() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let keep = node(&heap, "kept", &drops);
    let young = heap.collect_generation(0);
    assert_eq!((young.generation, young.examined, young.unreachable), (0, 1, 0));
    // Now in generation 1: a young collection does not look at it again.
    assert_eq!(heap.collect_generation(0).examined, 0);
    assert_eq!(heap.collect_generation(1).examined, 1);
    assert_eq!(heap.collect_generation(2).examined, 1);
    let stats = heap.collection_stats();
    assert_eq!((stats[0].collections, stats[1].collections, stats[2].collections), (2, 1, 1));
    drop(keep);
}

#[test]
fn generation_counts_follow_cpython() {
    let heap = quiet_heap();
    assert_eq!(heap.thresholds(), [2000, 10, 10]);
    heap.set_thresholds([700, 5, 3]);
    assert_eq!(heap.thresholds(), [700, 5, 3]);
    let drops = DropCounter::default();
    let objects: Vec<_> = (0..300).map(|_| node(&heap, "n", &drops)).collect();
    heap.collect_generation(0);
    heap.collect_generation(0);
    assert_eq!(heap.collection_counts()[1], 2);
    heap.collect_generation(1);
    assert_eq!(heap.collection_counts()[1..], [0, 1]);
    drop(objects);
}

#[test]
fn automatic_collection_keeps_a_self_cycle_loop_in_flat_memory() {
    let heap = Heap::new();
    assert!(heap.automatic_collection());
    let drops = DropCounter::default();
    let n = common::scaled(100_000);
    let mut peak = 0;
    for _ in 0..n {
        let a = node(&heap, "loop", &drops);
        link(&a, &a);
        drop(a);
        peak = peak.max(heap.counts().live);
    }
    assert!(peak < 10_000, "live objects peaked at {peak}: automatic collection did not keep up");
    assert!(drops.get() > n / 2, "freed only {}", drops.get());
    assert!(heap.collection_stats()[0].collections > 0);
}

#[test]
fn disabled_automatic_collection_leaks_until_an_explicit_collect() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    for _ in 0..5000 {
        let a = node(&heap, "loop", &drops);
        link(&a, &a);
    }
    assert_eq!(drops.get(), 0);
    assert_eq!(heap.collect(), 5000);
    assert_eq!(drops.get(), 5000);
}

#[test]
fn collect_inside_a_callback_or_drop_is_a_no_op() {
    let heap = Arc::new(quiet_heap());
    let inner_result = Arc::new(Mutex::new(None));
    let (h, r) = (heap.clone(), inner_result.clone());
    let drops = DropCounter::default();
    let a = node(&heap, "a", &drops);
    link(&a, &a);
    let _w = Gc::downgrade_with(&a, move |_| {
        *r.lock().unwrap() = Some(h.collect());
    });
    drop(a);
    assert_eq!(heap.collect(), 1);
    assert_eq!(*inner_result.lock().unwrap(), Some(0));
}

#[test]
fn collecting_while_this_thread_holds_a_cell_for_writing_does_not_wait_for_itself() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let keeper = node(&heap, "keeper", &drops);
    let kept = node(&heap, "kept", &drops);
    link(&keeper, &kept);
    let garbage = node(&heap, "garbage", &drops);
    link(&garbage, &garbage);
    drop((kept, garbage));
    let guard = keeper.edges.write();
    // The guard is an operation on this thread; the collector does not wait for its own thread
    // and reads the locked cell as opaque (its contents stay alive).
    assert_eq!(heap.collect(), 1);
    assert_eq!(guard[0].name, "kept");
    drop(guard);
    assert_eq!(drops.get(), 1);
}

#[test]
fn collections_run_while_other_threads_mutate() {
    // Three threads build cycles, hang some on a root, and move handles between objects, a
    // bounded number of times, while this thread collects again and again.
    let heap = Arc::new(Heap::new());
    let drops = DropCounter::default();
    let done = Arc::new(AtomicUsize::new(0));
    let rounds = common::scaled(20_000);
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let (heap, drops, done) = (heap.clone(), drops.clone(), done.clone());
            std::thread::spawn(move || {
                let root = node(&heap, "root", &drops);
                for i in 0..rounds {
                    let a = node(&heap, "a", &drops);
                    let b = node(&heap, "b", &drops);
                    link(&a, &b);
                    link(&b, &a);
                    if (i + t) % 3 == 0 {
                        root.edges.write().push(a.clone());
                    }
                    if i % 50 == 0 {
                        root.edges.write().clear();
                    }
                    // Move a handle from one object to another while collections run.
                    let moved = b.edges.write().pop();
                    if let Some(m) = moved {
                        a.edges.write().push(m);
                    }
                    // The root's children must all be intact, whatever the collector does.
                    for child in root.edges.read().iter() {
                        assert!(Gc::try_get(child).is_some(), "a reachable object was torn down");
                    }
                }
                root.edges.write().clear();
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let mut collections = 0;
    while done.load(Ordering::SeqCst) < 3 {
        heap.collect();
        collections += 1;
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for w in workers {
        w.join().unwrap();
    }
    heap.collect();
    assert!(collections > 0);
    // Every object ever made is gone: nothing reachable is left, nothing was freed twice
    // (DropToken counts each drop once; a double free would trip valgrind in CI).
    assert_eq!(drops.get(), rounds * 2 * 3 + 3);
    assert_eq!(heap.counts().live, 0);
}

#[derive(Trace)]
struct ThroughMutex {
    other: Mutex<Option<Gc<ThroughMutex>>>,
}

#[test]
fn a_cycle_through_a_std_mutex_is_kept_and_one_through_a_gc_cell_is_freed() {
    // A thread may change a std Mutex's contents while a collection scans, so the collector
    // never reads through one: the cycle leaks (safely). The same cycle through GcCell goes.
    let heap = quiet_heap();
    let a = Gc::new_in(ThroughMutex { other: Mutex::new(None) }, &heap);
    *a.other.lock().unwrap() = Some(a.clone());
    let w = Gc::downgrade(&a);
    drop(a);
    assert_eq!(heap.collect(), 0);
    assert!(w.upgrade().is_some());
    let drops = DropCounter::default();
    let b = node(&heap, "b", &drops);
    link(&b, &b);
    drop(b);
    assert_eq!(heap.collect(), 1);
    // Break the first cycle by hand so the test ends clean.
    let a = w.upgrade().unwrap();
    a.other.lock().unwrap().take();
}

#[test]
fn frozen_objects_are_not_examined_until_unfrozen() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let kept: Vec<_> = (0..10).map(|_| node(&heap, "kept", &drops)).collect();
    let cycle = node(&heap, "cycle", &drops);
    link(&cycle, &cycle);
    drop(cycle);
    assert!(heap.freeze());
    assert_eq!(heap.freeze_count(), 11);
    let c = heap.collect_generation(2);
    assert_eq!((c.examined, c.unreachable), (0, 0), "frozen objects are never examined");
    assert_eq!(drops.get(), 0);
    let young = node(&heap, "young", &drops);
    assert_eq!(heap.collect_generation(2).examined, 1, "new objects are collected as usual");
    assert!(heap.unfreeze());
    assert_eq!(heap.freeze_count(), 0);
    assert_eq!(heap.collect(), 1, "the frozen cycle is freed once unfrozen");
    drop((kept, young));
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn a_census_counts_tracked_objects_by_type() {
    #[derive(Trace)]
    struct Other {
        link: GcCell<Option<Gc<Other>>>,
    }
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let nodes: Vec<_> = (0..3).map(|_| node(&heap, "n", &drops)).collect();
    let others: Vec<_> =
        (0..5).map(|_| Gc::new_in(Other { link: GcCell::new(None) }, &heap)).collect();
    let leaf = Gc::new_in(7_u64, &heap);
    let census = heap.census();
    assert_eq!(census.len(), 2, "leaves are not tracked: {census:?}");
    assert!(census[0].0.ends_with("Other") && census[0].1 == 5, "{census:?}");
    assert!(census[1].0.ends_with("Node") && census[1].1 == 3, "{census:?}");
    assert!(weakling::gc::is_tracked(&nodes[0]));
    assert!(!weakling::gc::is_tracked(&leaf));
    drop((nodes, others, leaf));
    assert!(heap.census().is_empty());
}

#[test]
fn collection_callbacks_see_start_and_stop_and_survive_panics() {
    let heap = Arc::new(quiet_heap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let h = heap.clone();
    let id = heap.add_collection_callback(move |phase| {
        // A collection requested from a callback does nothing.
        let nested = h.collect();
        s.lock().unwrap().push((phase, nested));
    });
    let bomb = heap.add_collection_callback(|_| panic!("callback bomb"));
    let drops = DropCounter::default();
    let a = node(&heap, "a", &drops);
    link(&a, &a);
    drop(a);
    let (found, errors) = capture_errors(|| heap.collect());
    assert_eq!(found, 1);
    // One Start and one Stop per attempt: an attempt abandoned because another thread stayed
    // inside an operation (this process runs other tests) is reported too, then retried.
    let seen_now = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen_now.len() >= 2 && seen_now.len() % 2 == 0, "{seen_now:?}");
    assert_eq!(errors.iter().filter(|e| e.contains("callback bomb")).count(), seen_now.len());
    for pair in seen_now.chunks(2) {
        assert_eq!(pair[0], (weakling::Phase::Start { generation: 2 }, 0), "{seen_now:?}");
        assert!(
            matches!(pair[1], (weakling::Phase::Stop(c), 0) if c.generation == 2),
            "{seen_now:?}"
        );
    }
    match seen_now[seen_now.len() - 1] {
        (weakling::Phase::Stop(c), 0) => {
            assert_eq!((c.unreachable, c.abandoned), (1, false));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(heap.remove_collection_callback(id) && heap.remove_collection_callback(bomb));
    assert!(!heap.remove_collection_callback(id));
    heap.collect();
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn referrers_name_who_holds_an_object() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let target = node(&heap, "target", &drops);
    let a = node(&heap, "a", &drops);
    let b = node(&heap, "b", &drops);
    link(&a, &target);
    link(&b, &target);
    let _unrelated = node(&heap, "c", &drops);
    let found = heap.referrers(&target);
    assert_eq!(found.len(), 2, "a thread's own handle is not a referrer");
    assert!(found.iter().any(|f| f.ptr_eq(&a)) && found.iter().any(|f| f.ptr_eq(&b)));
    assert!(found.iter().all(|f| f.type_name().ends_with("Node") && f.is::<Node>()));
    let typed = found.into_iter().next().unwrap().downcast::<Node>().ok().unwrap();
    assert!(typed.name == "a" || typed.name == "b");
    assert!(weakling::AnyGc::downcast::<u64>(heap.referrers(&target).pop().unwrap()).is_err());
}

#[test]
fn an_any_gc_that_is_the_last_handle_destroys_its_object() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let target = node(&heap, "target", &drops);
    let holder = node(&heap, "holder", &drops);
    link(&holder, &target);
    let mut found = heap.referrers(&target);
    drop((holder, target));
    assert_eq!(drops.get(), 0, "the AnyGc keeps the holder, which keeps the target");
    let any = found.pop().unwrap();
    let copy = any.clone();
    assert_eq!(any.strong_count(), 2);
    drop((any, copy));
    assert_eq!(drops.get(), 2);
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn keep_garbage_mode_shows_what_the_cycles_were() {
    let heap = quiet_heap();
    heap.set_keep_garbage(true);
    let drops = DropCounter::default();
    let a = node(&heap, "a", &drops);
    let b = node(&heap, "b", &drops);
    link(&a, &b);
    link(&b, &a);
    let w = Gc::downgrade(&a);
    drop((a, b));
    let c = heap.collect_generation(2);
    assert_eq!((c.unreachable, c.collected), (2, 0));
    assert_eq!(drops.get(), 0, "kept, not freed");
    let garbage = heap.garbage();
    let mut names: Vec<_> =
        garbage.into_iter().map(|g| g.downcast::<Node>().ok().unwrap().name).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert!(w.upgrade().is_some(), "kept objects stay whole");
    heap.set_keep_garbage(false);
    assert_eq!(heap.collect(), 0, "the garbage list holds them");
    drop(heap.take_garbage());
    assert_eq!(heap.collect(), 2);
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_panicking_trace_keeps_its_object_and_the_scan_goes_on() {
    /// Traces its edge, or panics (before reporting it) while `fail` is set.
    struct Faulty {
        fail: Arc<std::sync::atomic::AtomicBool>,
        other: GcCell<Option<Gc<Faulty>>>,
        _token: DropToken,
    }
    // SAFETY: reports its one owned handle, or nothing by panicking first.
    unsafe impl Trace for Faulty {
        fn trace(&self, tracer: &mut weakling::Tracer<'_>) {
            assert!(!self.fail.load(Ordering::SeqCst), "trace failed");
            self.other.trace(tracer);
        }
    }
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let faulty = |fail: bool| Faulty {
        fail: Arc::new(std::sync::atomic::AtomicBool::new(fail)),
        other: GcCell::new(None),
        _token: drops.token(),
    };
    // A self cycle before the faulty cycle on the list, and one after it: the scan must go
    // on after the panic.
    let before = node(&heap, "before", &drops);
    link(&before, &before);
    drop(before);
    let a = Gc::new_in(faulty(true), &heap);
    let b = Gc::new_in(faulty(false), &heap);
    a.other.set(Some(b.clone()));
    b.other.set(Some(a.clone()));
    let after = node(&heap, "after", &drops);
    link(&after, &after);
    drop(after);
    let (weak_a, weak_b) = (Gc::downgrade(&a), Gc::downgrade(&b));
    let fail = a.fail.clone();
    drop((a, b));

    let (found, errors) = capture_errors(|| heap.collect());
    assert_eq!(errors.iter().filter(|e| e.contains("trace failed")).count(), 1, "{errors:?}");
    // The object whose trace panicked is a root: it and what it reaches are kept.
    assert_eq!(found, 2, "only the two self cycles are garbage");
    assert_eq!(drops.get(), 2);
    assert!(weak_a.upgrade().is_some() && weak_b.upgrade().is_some());

    fail.store(false, Ordering::SeqCst);
    let (found, errors) = capture_errors(|| heap.collect());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(found, 2, "the faulty cycle, traced this time");
    assert_eq!(drops.get(), 4);
    assert!(weak_a.upgrade().is_none() && weak_b.upgrade().is_none());
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn edges_into_another_heap_never_count_against_this_one() {
    // x (heap A) and z (heap B) sit at the same place of their heaps' lists (the same shard,
    // list 0, index 0); an edge from heap A to z must not be taken for an edge to x.
    let (a, b) = (quiet_heap(), quiet_heap());
    let drops = DropCounter::default();
    let x = node(&a, "x", &drops);
    let z = node(&b, "z", &drops);
    let holder = node(&a, "holder", &drops);
    link(&holder, &z);
    link(&holder, &holder);
    drop((holder, z));
    assert_eq!(a.collect(), 1, "the holder's self cycle");
    assert_eq!(Gc::try_get(&x).map(|n| n.name), Some("x"), "x is referenced from outside");
    assert_eq!(drops.get(), 2, "the holder, and z with its last handle");
    assert_eq!(b.counts().live, 0);
    drop(x);
    assert_eq!(a.counts().live, 0);
}

#[test]
fn survivors_keep_exact_places_when_garbage_is_removed_between_them() {
    // Garbage interleaved with survivors in the oldest generation: the list is compacted in
    // place, and every survivor must still be found where its slot says (its own death and
    // later collections rely on that).
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let mut live = Vec::new();
    for i in 0..1000 {
        let n = node(&heap, "n", &drops);
        if i % 3 == 0 {
            link(&n, &n);
        } else {
            live.push(n);
        }
    }
    // Promote everything to the oldest generation first, garbage included: it is freed by
    // the first collection, which already compacts; then make more garbage among survivors.
    assert_eq!(heap.collect(), 334);
    for (i, n) in live.iter().enumerate() {
        if i % 2 == 0 {
            link(n, n);
        }
    }
    let young: Vec<_> = (0..100).map(|_| node(&heap, "young", &drops)).collect();
    let mut kept = Vec::new();
    for (i, n) in live.into_iter().enumerate() {
        if i % 2 != 0 {
            kept.push(n);
        }
    }
    assert_eq!(heap.collect(), 333);
    assert_eq!(heap.counts().live, (kept.len() + young.len()) as u64);
    // Dropping every survivor takes it off its list through its slot, in an order unlike the
    // lists' (every other one first).
    let (odd, even): (Vec<_>, Vec<_>) = kept.into_iter().enumerate().partition(|(i, _)| i % 2 == 1);
    drop(odd);
    assert_eq!(heap.collect(), 0);
    drop(even);
    drop(young);
    assert_eq!(heap.counts().live, 0);
    assert_eq!(heap.collect(), 0);
    assert_eq!(drops.get(), 1100);
}

#[test]
fn every_collector_count_is_released_when_drops_panic_in_a_large_batch() {
    // Enough garbage for the teardown to free boxes behind the drops as it goes, with panics
    // among the drops: every object must still lose the collector's count, with or without a
    // weak handle looking at it.
    #[derive(Trace)]
    struct Sometimes {
        me: GcCell<Option<Gc<Sometimes>>>,
        #[trace(skip)]
        panics: bool,
    }
    impl Drop for Sometimes {
        fn drop(&mut self) {
            if self.panics {
                panic!("sometimes");
            }
        }
    }
    let heap = quiet_heap();
    let mut weak = Vec::new();
    for i in 0..500 {
        let obj = Gc::new_in(Sometimes { me: GcCell::new(None), panics: i % 37 == 5 }, &heap);
        obj.me.set(Some(obj.clone()));
        if i % 2 == 0 {
            weak.push(Gc::downgrade(&obj));
        }
    }
    let (found, errors) = capture_errors(|| heap.collect());
    assert_eq!(found, 500);
    assert_eq!(errors.iter().filter(|e| e.contains("sometimes")).count(), 14);
    assert!(weak.iter().all(|w| w.strong_count() == 0 && w.upgrade().is_none()));
    assert_eq!(heap.counts().live, 0);
}

/// A cycle member whose `Drop` clones its partner's handle twice: one clone escapes, the
/// other is dropped at once, on the collecting thread.
#[derive(Trace)]
struct Cloner {
    other: GcCell<Option<Gc<Cloner>>>,
    #[trace(skip)]
    stash: Arc<Mutex<Vec<Gc<Cloner>>>>,
    #[trace(skip)]
    #[allow(dead_code)] // held only to count drops
    token: DropToken,
}

impl Drop for Cloner {
    fn drop(&mut self) {
        if let Some(other) = self.other.read().as_ref() {
            self.stash.lock().unwrap().push(other.clone());
            drop(other.clone());
        }
    }
}

#[test]
fn handles_cloned_out_of_cycles_by_their_drops_free_each_box_once_on_any_thread() {
    let heap = quiet_heap();
    let drops = DropCounter::default();
    let stash = Arc::new(Mutex::new(Vec::new()));
    let n = common::scaled(1000).max(2);
    let node = |heap: &Heap| {
        Gc::new_in(
            Cloner { other: GcCell::new(None), stash: stash.clone(), token: drops.token() },
            heap,
        )
    };
    for _ in 0..n {
        let (a, b) = (node(&heap), node(&heap));
        a.other.set(Some(b.clone()));
        b.other.set(Some(a));
    }
    assert_eq!(heap.collect(), 2 * n);
    assert_eq!(drops.get(), 2 * n, "every value dropped once");
    let escaped = std::mem::take(&mut *stash.lock().unwrap());
    assert_eq!(escaped.len(), 2 * n);
    assert!(escaped.iter().all(|e| Gc::try_get(e).is_none()));
    // The drops on the collecting thread are settled: each escaped handle is the last one.
    assert!(escaped.iter().all(|e| Gc::strong_count(e) == 1));
    // The last handles go on another thread: valgrind checks each box is freed once.
    std::thread::spawn(move || drop(escaped)).join().unwrap();
    assert_eq!(heap.counts().live, 0);
    assert_eq!(drops.get(), 2 * n);
}
