//! The finalize registry (`weakling::finalize`): Python's `weakref.finalize` behaviours, heap
//! shutdown, cycles, panics and threads. Process-wide shutdown has its own test binary
//! (`finalizer_exit.rs`): after it, no finalizer in the process runs.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{capture_errors, capture_warnings, quiet_heap, scaled, Log};
use weakling::{finalize, finalize_with, Gc, GcCell, Heap, Trace};

#[test]
fn a_finalizer_runs_once_when_its_object_dies() {
    let log = Log::default();
    let obj = Gc::new(String::from("data"));
    let l = log.clone();
    let f = finalize(&obj, move || l.push("cleaning up data"));
    assert!(f.alive());
    assert!(f.atexit());
    drop(obj);
    assert_eq!(log.take(), ["cleaning up data"]);
    assert!(!f.alive());
    assert_eq!(f.call(), None, "at most once");
    assert!(log.take().is_empty());
}

#[test]
fn call_runs_it_now_and_returns_the_result_once() {
    let obj = Gc::new(7_u32);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let f = finalize(&obj, move || r.fetch_add(1, Ordering::SeqCst) + 100);
    assert_eq!(f.call(), Some(100));
    assert!(!f.alive());
    assert_eq!(f.call(), None);
    drop(obj);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the object's death runs nothing more");
}

#[test]
fn detach_hands_back_object_and_callback_unrun() {
    let obj = Gc::new(5_u32);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let f = finalize(&obj, move || r.fetch_add(1, Ordering::SeqCst));
    let (back, callback) = f.detach().expect("alive");
    assert!(Gc::ptr_eq(&back, &obj));
    assert!(!f.alive());
    assert!(f.detach().is_none() && f.call().is_none());
    drop((back, obj));
    assert_eq!(runs.load(Ordering::SeqCst), 0, "a detached finalizer does not run at death");
    callback();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn peek_shows_object_and_callback_while_alive() {
    let obj = Gc::new(3_u32);
    let f = finalize(&obj, || 9_u32);
    let (seen, callback) = f.peek().expect("alive");
    assert!(Gc::ptr_eq(&seen, &obj));
    assert_eq!(callback(), 9);
    assert!(f.alive(), "peek changes nothing");
    drop((seen, obj));
    assert!(f.peek().is_none());
}

#[test]
fn several_finalizers_on_one_object_run_newest_first_and_dropped_handles_stay_registered() {
    let log = Log::default();
    let obj = Gc::new(1_u8);
    for name in ["first", "second", "third"] {
        let l = log.clone();
        // The handle is dropped at once: the finalizer stays registered.
        let _ = finalize(&obj, move || l.push(name));
    }
    drop(obj);
    assert_eq!(log.take(), ["third", "second", "first"]);
}

#[test]
fn a_panicking_finalizer_is_reported_and_the_others_run() {
    let log = Log::default();
    let obj = Gc::new(1_u8);
    let l = log.clone();
    let _a = finalize(&obj, move || l.push("older"));
    let _b = finalize(&obj, || panic!("it fails"));
    let l = log.clone();
    let _c = finalize(&obj, move || l.push("newer"));
    let ((), errors) = capture_errors(|| drop(obj));
    assert_eq!(log.take(), ["newer", "older"]);
    let reported = |e: &String| e.contains("context=\"finalizer\"") && e.contains("it fails");
    assert!(errors.iter().any(reported), "reported as a finalizer's: {errors:?}");
}

#[test]
fn set_atexit_on_a_dead_finalizer_does_nothing() {
    let heap = Heap::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let obj = Gc::new_in(1_u8, &heap);
    let r = runs.clone();
    let f = finalize(&obj, move || r.fetch_add(1, Ordering::SeqCst));
    assert!(f.atexit(), "set by default");
    f.set_atexit(false);
    assert!(!f.atexit());
    f.set_atexit(true);
    assert!(f.atexit());
    assert_eq!(f.call(), Some(0));
    // Dead: the flag reads false, as Python's `bool(info) and info.atexit`, and setting it
    // arms nothing for the shutdown.
    assert!(!f.atexit());
    f.set_atexit(true);
    assert!(!f.atexit());
    assert!(!f.alive());
    heap.shutdown();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    drop(obj);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[derive(Trace)]
struct Node {
    name: &'static str,
    next: GcCell<Option<Gc<Node>>>,
    #[trace(skip)]
    log: Log,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

fn ring(heap: &Heap, log: &Log) -> (Gc<Node>, Gc<Node>) {
    let a = Gc::new_in(Node { name: "a", next: GcCell::new(None), log: log.clone() }, heap);
    let b =
        Gc::new_in(Node { name: "b", next: GcCell::new(Some(a.clone())), log: log.clone() }, heap);
    a.next.set(Some(b.clone()));
    (a, b)
}

#[test]
fn finalizers_of_cyclic_garbage_run_before_teardown() {
    let heap = quiet_heap();
    let log = Log::default();
    let (a, b) = ring(&heap, &log);
    let l = log.clone();
    let f = finalize(&a, move || l.push("finalize a"));
    drop((a, b));
    assert!(f.alive(), "a cycle does not die by its count");
    assert_eq!(heap.collect(), 2);
    let entries = log.take();
    assert_eq!(entries[0], "finalize a", "before any member is dropped: {entries:?}");
    assert_eq!(entries.len(), 3);
    assert!(!f.alive());
}

/// A cycle member whose own finalizer resurrects it, with a registry finalizer beside it.
#[derive(Trace)]
#[trace(finalize = Phoenix::rise)]
struct Phoenix {
    me: GcCell<Option<Gc<Phoenix>>>,
    #[trace(skip)]
    vault: Arc<Mutex<Vec<Gc<Phoenix>>>>,
}

impl Phoenix {
    fn rise(this: &Gc<Phoenix>) {
        this.vault.lock().unwrap().push(this.clone());
    }
}

#[test]
fn an_object_resurrected_in_the_finalizer_phase_keeps_its_registry_finalizer_spent() {
    let heap = quiet_heap();
    let vault = Arc::new(Mutex::new(Vec::new()));
    let p = Gc::new_in(Phoenix { me: GcCell::new(None), vault: vault.clone() }, &heap);
    p.me.set(Some(p.clone()));
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let f = finalize(&p, move || r.fetch_add(1, Ordering::SeqCst));
    drop(p);
    let stats = heap.collect_generation(2);
    assert_eq!((stats.collected, stats.resurrected), (0, 1));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "it ran in the finalizer phase");
    assert!(!f.alive());
    let saved = vault.lock().unwrap().pop().unwrap();
    assert!(Gc::try_get(&saved).is_some(), "resurrected whole");
    saved.me.take();
    drop(saved);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "at most once, even after resurrection");
    assert_eq!(heap.counts().live, 0);
}

#[test]
fn a_finalizer_state_that_reaches_its_object_is_reported() {
    let heap = quiet_heap();
    let log = Log::default();
    let (a, b) = ring(&heap, &log);
    // The state holds `b`, and `b` reaches `a`: `a` can never die.
    let (f, warnings) = capture_warnings(|| finalize_with(&a, b.clone(), |_b| ()));
    assert!(warnings.iter().any(|w| w.contains("reaches its own object")), "{warnings:?}");
    let unrelated =
        Gc::new_in(Node { name: "c", next: GcCell::new(None), log: log.clone() }, &heap);
    let (g, quiet) = capture_warnings(|| finalize_with(&a, unrelated.clone(), |_c| ()));
    assert!(!quiet.iter().any(|w| w.contains("reaches its own object")), "{quiet:?}");
    assert!(f.detach().is_some() && g.detach().is_some());
    a.next.take();
}

#[test]
fn a_heap_shutdown_runs_its_atexit_finalizers_newest_first_then_nothing() {
    let heap = quiet_heap();
    let other = quiet_heap();
    let log = Log::default();
    let objects: Vec<Gc<u32>> = (0..4).map(|i| Gc::new_in(i, &heap)).collect();
    let outsider = Gc::new_in(99_u32, &other);
    let l = log.clone();
    let _outside = finalize(&outsider, move || l.push("other heap"));
    let l = log.clone();
    let _a = finalize(&objects[0], move || l.push("0"));
    let skipped = finalize(&objects[1], || panic!("must not run: at-exit flag cleared"));
    skipped.set_atexit(false);
    let _c = finalize(&objects[2], || panic!("failing finalizer at exit"));
    let (l, registrar) = (log.clone(), objects[0].clone());
    let _d = finalize(&objects[3], move || {
        l.push("3, registering another");
        let l2 = l.clone();
        let _ = finalize(&registrar, move || l2.push("registered during shutdown"));
    });
    let ((), errors) = capture_errors(|| heap.shutdown());
    assert_eq!(log.take(), ["3, registering another", "registered during shutdown", "0"]);
    assert!(errors.iter().any(|e| e.contains("failing finalizer at exit")), "{errors:?}");
    assert!(skipped.alive(), "not run at exit, still registered");

    // Nothing runs for this heap any more: not at death, not by call.
    assert_eq!(skipped.call(), None);
    drop(objects);
    assert!(log.take().is_empty());
    let late = Gc::new_in(5_u32, &heap);
    let l = log.clone();
    let f = finalize(&late, move || l.push("after shutdown"));
    drop(late);
    assert!(log.take().is_empty());
    assert!(!f.alive());
    heap.shutdown(); // twice: nothing

    // Other heaps are unaffected.
    drop(outsider);
    assert_eq!(log.take(), ["other heap"]);
}

#[test]
fn dropping_an_isolated_heap_shuts_its_finalizers_down() {
    let log = Log::default();
    let heap = quiet_heap();
    let obj = Gc::new_in(1_u8, &heap);
    let l = log.clone();
    let f = finalize(&obj, move || l.push("at heap drop"));
    drop(heap);
    assert_eq!(log.take(), ["at heap drop"]);
    assert!(!f.alive());
    drop(obj);
    assert!(log.take().is_empty());
}

#[test]
fn finalizers_fire_on_many_threads_while_others_register_detach_and_call() {
    let threads = 4;
    let per_thread = scaled(2_000);
    let fired = Arc::new(AtomicUsize::new(0));
    let expected = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (fired, expected) = (fired.clone(), expected.clone());
            scope.spawn(move || {
                let mut kept = Vec::new();
                for i in 0..per_thread {
                    let obj = Gc::new(i as u64);
                    let fd = fired.clone();
                    let f = finalize(&obj, move || {
                        fd.fetch_add(1, Ordering::SeqCst);
                    });
                    match (i + t) % 4 {
                        // Dies here: fires on this thread.
                        0 => {
                            drop(obj);
                            expected.fetch_add(1, Ordering::SeqCst);
                        }
                        // Detached: never fires.
                        1 => drop(f.detach().expect("alive")),
                        // Called explicitly, then dies.
                        2 => {
                            assert!(f.call().is_some());
                            expected.fetch_add(1, Ordering::SeqCst);
                        }
                        // Handed over: dies later, on another thread's turn of the loop.
                        _ => {
                            kept.push(obj);
                            expected.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    if kept.len() > 16 {
                        // Objects made by this thread die on whichever thread drops them.
                        let batch = std::mem::take(&mut kept);
                        std::thread::spawn(move || drop(batch)).join().unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(fired.load(Ordering::SeqCst), expected.load(Ordering::SeqCst));
}

#[test]
fn a_finalizer_whose_callback_is_send_but_not_sync_is_shared_between_threads() {
    let obj = Gc::new(1_u8);
    let cell = std::cell::Cell::new(5_u32); // `Send`, not `Sync`
    let f = finalize(&obj, move || cell.get());
    fn shared<S: Send + Sync>(s: S) -> S {
        s
    }
    let f = shared(f);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    let (o, copy) = f.peek().expect("alive");
                    assert_eq!((*o, copy()), (1, 5));
                }
            });
        }
    });
    assert_eq!(f.call(), Some(5));
}
