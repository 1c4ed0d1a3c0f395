//! loom models of the heap's cross-thread protocols.
//!
//! Run with `RUSTFLAGS="--cfg weakling_loom" cargo test --release --test loom`; in other
//! builds this file is empty. The value of each object is a `loom::cell::UnsafeCell` that is
//! read by handle holders and written by its `Drop`, so loom reports any interleaving in
//! which a use of the value is not ordered before its destruction.
#![cfg(weakling_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::cell::UnsafeCell;
use loom::thread;
use weakling::{Gc, Heap, Trace, Tracer};

/// Runs `body` as a loom model, on a spawned thread: loom destroys the main model thread's
/// thread-locals after its lazy statics, too late for the heap's per-thread state to hand
/// over; a spawned thread's locals go while the model is still running.
fn model(body: impl Fn() + Send + Sync + 'static) {
    let body = Arc::new(body);
    loom::model(move || {
        let body = body.clone();
        thread::spawn(move || body()).join().unwrap();
    });
}

struct Value {
    data: UnsafeCell<u64>,
    drops: Arc<AtomicUsize>,
}

impl Value {
    fn new(drops: &Arc<AtomicUsize>) -> Value {
        Value { data: UnsafeCell::new(7), drops: drops.clone() }
    }

    fn read(&self) -> u64 {
        // SAFETY: only Drop writes, and loom checks that this read happens before it.
        self.data.with(|p| unsafe { *p })
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // SAFETY: exclusive access in Drop; loom checks ordering against every read.
        self.data.with_mut(|p| unsafe { *p = 0 });
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: owns no handles.
unsafe impl Trace for Value {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: loom's UnsafeCell is only touched as described above; the model checks it.
unsafe impl Sync for Value {}

#[test]
fn upgrade_racing_the_last_drop() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Heap::new();
        let g = Gc::new_in(Value::new(&drops), &heap);
        let w = Gc::downgrade(&g);
        let upgrader = thread::spawn(move || {
            if let Some(up) = w.upgrade() {
                assert_eq!(up.read(), 7, "an upgraded handle sees the live value");
            }
            w
        });
        assert_eq!(g.read(), 7);
        drop(g);
        let w = upgrader.join().unwrap();
        assert!(w.upgrade().is_none());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn two_last_drops_race() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let g1 = Gc::new(Value::new(&drops));
        let g2 = g1.clone();
        let w = Gc::downgrade(&g1);
        let other = thread::spawn(move || {
            assert_eq!(g2.read(), 7);
            drop(g2);
        });
        assert_eq!(g1.read(), 7);
        drop(g1);
        other.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(w.upgrade().is_none());
    });
}

#[test]
fn callback_registration_racing_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let fired = Arc::new(AtomicUsize::new(0));
        let g1 = Gc::new(Value::new(&drops));
        let g2 = g1.clone();
        let f = fired.clone();
        let registrant = thread::spawn(move || {
            let w = Gc::downgrade_with(&g2, move |dead| {
                assert!(dead.upgrade().is_none());
                f.fetch_add(1, Ordering::SeqCst);
            });
            drop(g2);
            w
        });
        drop(g1);
        let w = registrant.join().unwrap();
        // The registration's handle was kept past the object's death: it fired, once.
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(w);
    });
}

#[test]
fn cancellation_racing_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let fired = Arc::new(AtomicUsize::new(0));
        let heap = Heap::new();
        let g = Gc::new_in(Value::new(&drops), &heap);
        let f = fired.clone();
        let w = Gc::downgrade_with(&g, move |_| {
            f.fetch_add(1, Ordering::SeqCst);
        });
        let canceller = thread::spawn(move || drop(w));
        drop(g);
        canceller.join().unwrap();
        assert!(fired.load(Ordering::SeqCst) <= 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn weak_clone_and_drop_racing_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(Value::new(&drops));
        let w = Gc::downgrade(&g);
        let other = thread::spawn(move || {
            let w2 = w.clone();
            drop(w);
            w2.upgrade().map(|g| g.read())
        });
        drop(g);
        let seen = other.join().unwrap();
        assert!(seen.is_none() || seen == Some(7));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[derive(weakling::Trace)]
struct Node {
    #[trace(skip)]
    value: Value,
    next: weakling::GcCell<Option<Gc<Node>>>,
}

#[test]
fn a_nursery_object_dying_on_another_thread_races_its_makers_flush() {
    // Under loom a nursery flushes at two objects: `third` triggers a flush that moves `first`
    // (or finds it dead) while the other thread drops `first`.
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        let node = |h: &Heap| {
            Gc::new_in(Node { value: Value::new(&drops), next: weakling::GcCell::new(None) }, h)
        };
        let first = node(&heap);
        let second = node(&heap);
        let dropper = thread::spawn(move || {
            assert_eq!(first.value.read(), 7);
            drop(first);
        });
        let third = node(&heap);
        drop(second);
        dropper.join().unwrap();
        drop(third);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        let counts = heap.counts();
        assert_eq!((counts.live, counts.tracked), (0, 0));
    });
}
