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

/// A read pin borrows a leaf while another thread drops its last handle: the borrow is never
/// destroyed under the reader, and the destruction has run once both are done. `marked`:
/// whether the leaf was read under a pin before (then the race is with a plain load of its
/// strong word, otherwise with the read-modify-write that marks it).
fn pinned_read_racing_the_last_drop(marked: bool) {
    model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(Value::new(&drops));
        let w = Gc::downgrade(&g);
        if marked {
            assert!(w.get_pinned(&weakling::read_pin()).is_some());
        }
        let reader = thread::spawn(move || {
            let pin = weakling::read_pin();
            if let Some(v) = w.get_pinned(&pin) {
                assert_eq!(v.read(), 7, "a pinned read sees the live value");
            }
            drop(pin);
            w
        });
        drop(g);
        let w = reader.join().unwrap();
        assert!(w.get_pinned(&weakling::read_pin()).is_none());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn pinned_read_marking_racing_the_last_drop() {
    pinned_read_racing_the_last_drop(false);
}

#[test]
fn pinned_read_of_a_marked_leaf_racing_the_last_drop() {
    pinned_read_racing_the_last_drop(true);
}

/// A reader loads a `PinnedSlot` under a pin while another thread replaces (or clears) its
/// value: the value it borrowed is never dropped under it, and each value is dropped once.
/// `publish`: the reader publishes a value of its own with `replace_and_load` first, and
/// the other thread clears the slot, so the race is with the borrow of a fresh value.
fn pinned_slot_read_racing_a_replace(publish: bool) {
    model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(weakling::PinnedSlot::new(Value::new(&drops)));
        let reader = thread::spawn({
            let (slot, drops) = (slot.clone(), drops.clone());
            move || {
                let pin = weakling::read_pin();
                if publish {
                    let v = slot.replace_and_load(Value::new(&drops), &pin);
                    assert_eq!(v.read(), 7, "a published value stays readable");
                } else if let Some(v) = slot.load(&pin) {
                    assert_eq!(v.read(), 7, "a loaded value stays readable");
                }
                drop(pin);
            }
        });
        if publish {
            slot.clear();
        } else {
            slot.replace(Some(Value::new(&drops)));
        }
        reader.join().unwrap();
        // No pin left: every value taken out has been dropped.
        let live = usize::from(slot.load(&weakling::read_pin()).is_some());
        assert_eq!(drops.load(Ordering::SeqCst), 2 - live);
        drop(slot);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn pinned_slot_load_racing_a_replace() {
    pinned_slot_read_racing_a_replace(false);
}

#[test]
fn pinned_slot_publication_racing_a_clear() {
    pinned_slot_read_racing_a_replace(true);
}

/// A pinned read racing the death of a leaf with a death callback: the callback runs at the
/// death, once, and the value is dropped only after the reader's borrow.
#[test]
fn pinned_read_racing_a_death_with_a_callback() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let fired = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(Value::new(&drops));
        let f = fired.clone();
        let w = Gc::downgrade_with(&g, move |dead| {
            assert!(dead.upgrade().is_none());
            f.fetch_add(1, Ordering::SeqCst);
        });
        let plain = w.clone();
        let reader = thread::spawn(move || {
            let pin = weakling::read_pin();
            if let Some(v) = plain.get_pinned(&pin) {
                assert_eq!(v.read(), 7);
            }
        });
        drop(g);
        assert_eq!(fired.load(Ordering::SeqCst), 1, "the callback ran at the death");
        reader.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(w);
    });
}

/// Two readers pin and unpin while the last handle goes: whichever pin ends last (or the
/// dying thread, if none is left) runs the destruction, which never overlaps a borrow.
#[test]
fn two_pinned_readers_and_a_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(Value::new(&drops));
        let w = Gc::downgrade(&g);
        assert!(w.get_pinned(&weakling::read_pin()).is_some());
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || {
                    let pin = weakling::read_pin();
                    if let Some(v) = w.get_pinned(&pin) {
                        assert_eq!(v.read(), 7);
                    }
                })
            })
            .collect();
        drop(g);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
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

/// A node for the collector's models: a value loom watches, and an edge that can change.
#[derive(weakling::Trace)]
struct Cell {
    #[trace(skip)]
    value: Value,
    edge: weakling::GcCell<Option<Gc<Cell>>>,
}

fn cell(heap: &Heap, drops: &Arc<AtomicUsize>) -> Gc<Cell> {
    Gc::new_in(Cell { value: Value::new(drops), edge: weakling::GcCell::new(None) }, heap)
}

#[test]
fn a_count_dropping_to_zero_during_a_collection() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let x = cell(&heap, &drops);
        let y = cell(&heap, &drops);
        y.edge.set(Some(y.clone())); // garbage once `y` goes
        drop(y);
        let dropper = thread::spawn(move || {
            assert_eq!(x.value.read(), 7);
            drop(x);
        });
        let found = heap.collect();
        dropper.join().unwrap();
        assert_eq!(found, 1, "exactly the self-cycle is garbage");
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn an_upgrade_during_a_collection() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let x = cell(&heap, &drops);
        x.edge.set(Some(x.clone()));
        let w = Gc::downgrade(&x);
        drop(x);
        let upgrader = thread::spawn(move || {
            // Either the collector decided first (no upgrade), or this thread holds the
            // object and the collector must keep it intact.
            w.upgrade().map(|x| {
                assert!(Gc::try_get(&x).is_some(), "upgraded to a torn-down object");
                assert_eq!(x.value.read(), 7);
                x.edge.take();
            })
        });
        heap.collect();
        let upgraded = upgrader.join().unwrap().is_some();
        heap.collect();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "freed once, whoever won (upgraded: {upgraded})"
        );
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn a_handle_moved_out_of_a_scanned_object_during_the_scan() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let root = cell(&heap, &drops);
        let inner = cell(&heap, &drops);
        inner.edge.set(Some(inner.clone())); // a cycle, reachable only through `root`
        root.edge.set(Some(inner));
        let mover = thread::spawn(move || {
            // Take the cycle out of `root` onto this thread's stack, then let `root` go.
            let moved = root.edge.take().unwrap();
            drop(root);
            assert!(Gc::try_get(&moved).is_some(), "a held object was torn down");
            assert_eq!(moved.value.read(), 7);
            moved.edge.take();
        });
        heap.collect();
        mover.join().unwrap();
        heap.collect();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn a_cell_locked_during_the_scan_by_another_thread_or_the_collector_itself() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let held = cell(&heap, &drops);
        let garbage = cell(&heap, &drops);
        garbage.edge.set(Some(garbage.clone()));
        drop(garbage);
        let other = cell(&heap, &drops);
        let writer = thread::spawn(move || {
            // Another thread writes a cell while the collector may be scanning.
            let target = other.clone();
            other.edge.set(Some(target));
            other.edge.take();
        });
        // The collecting thread itself holds a write guard: it must not wait for itself.
        let guard = held.edge.write();
        let found = heap.collect();
        drop(guard);
        writer.join().unwrap();
        assert_eq!(found, 1);
        assert_eq!(drops.load(Ordering::SeqCst), 2, "the garbage and `other` are gone");
        assert_eq!(held.value.read(), 7);
    });
}

/// A self-cycle whose finalizer lets its own handle out through `slot`.
#[derive(weakling::Trace)]
#[trace(finalize = Resurrecting::finalize_self)]
struct Resurrecting {
    #[trace(skip)]
    value: Value,
    #[trace(skip)]
    slot: Arc<loom::sync::Mutex<Option<Gc<Resurrecting>>>>,
    edge: weakling::GcCell<Option<Gc<Resurrecting>>>,
}

impl Resurrecting {
    fn finalize_self(this: &Gc<Resurrecting>) {
        *this.slot.lock().unwrap() = Some(this.clone());
    }
}

#[test]
fn a_resurrected_handle_dropped_by_another_thread_during_the_check() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let slot = Arc::new(loom::sync::Mutex::new(None));
        let x = Gc::new_in(
            Resurrecting {
                value: Value::new(&drops),
                slot: slot.clone(),
                edge: weakling::GcCell::new(None),
            },
            &heap,
        );
        x.edge.set(Some(x.clone()));
        drop(x);
        let taker = {
            let slot = slot.clone();
            thread::spawn(move || {
                // Takes the handle the finalizer let out, if it is there yet, and uses it
                // while the collector may be checking the garbage again.
                let taken = slot.lock().unwrap().take();
                if let Some(x) = taken {
                    assert!(Gc::try_get(&x).is_some(), "a resurrected object was torn down");
                    assert_eq!(x.value.read(), 7);
                }
            })
        };
        heap.collect();
        taker.join().unwrap();
        drop(slot.lock().unwrap().take());
        heap.collect();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "finalized, maybe resurrected, freed once");
        assert_eq!(heap.counts().live, 0);
    });
}

/// A member of a self-cycle whose `Drop` clones its own handle (through its edge) into `slot`
/// and drops a second clone at once, on the collecting thread.
#[derive(weakling::Trace)]
struct Leaking {
    /// Held for its `Drop`, which counts in `drops`.
    #[trace(skip)]
    _value: Value,
    #[trace(skip)]
    slot: Arc<loom::sync::Mutex<Option<Gc<Leaking>>>>,
    edge: weakling::GcCell<Option<Gc<Leaking>>>,
}

impl Drop for Leaking {
    fn drop(&mut self) {
        if let Some(me) = self.edge.read().as_ref() {
            *self.slot.lock().unwrap() = Some(me.clone());
            drop(me.clone());
        }
    }
}

#[test]
fn a_handle_cloned_out_of_a_cycle_by_its_drop_and_dropped_on_another_thread() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let slot = Arc::new(loom::sync::Mutex::new(None));
        let x = Gc::new_in(
            Leaking {
                _value: Value::new(&drops),
                slot: slot.clone(),
                edge: weakling::GcCell::new(None),
            },
            &heap,
        );
        x.edge.set(Some(x.clone()));
        drop(x);
        let taker = {
            let slot = slot.clone();
            thread::spawn(move || {
                // Drops the escaped handle, if it is there yet, while the collector may be
                // settling the drops its teardown counted aside.
                let taken = slot.lock().unwrap().take();
                if let Some(x) = taken {
                    assert!(Gc::try_get(&x).is_none(), "the escaped handle sees a torn-down value");
                }
            })
        };
        assert_eq!(heap.collect(), 1);
        if let Some(x) = slot.lock().unwrap().as_ref() {
            // Not taken yet: the collector settled its tally, and this is the last handle.
            assert_eq!(Gc::strong_count(x), 1);
        }
        taker.join().unwrap();
        drop(slot.lock().unwrap().take());
        assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped once");
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn a_finalizer_detached_or_called_while_its_object_dies_on_another_thread() {
    model(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Arc::new(Heap::new());
        heap.set_automatic_collection(false);
        let obj = Gc::new_in(Value::new(&drops), &heap);
        let r = runs.clone();
        let f = weakling::finalize(&obj, move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let g = f.clone();
        let dier = thread::spawn(move || drop(obj));
        // Exactly one of: this detach wins (the death then runs nothing), or the death runs
        // the finalizer (detach finds it dead or its object dying).
        let detached = g.detach();
        let detached_won = detached.is_some();
        drop(detached);
        dier.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), usize::from(!detached_won));
        assert!(!f.alive());
        assert_eq!(f.call(), None);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

struct Seen(Arc<AtomicUsize>, Value);

impl weakling::observer::Observer<u8> for Seen {
    fn notify(&self, _: &u8) {
        assert_eq!(self.1.read(), 7, "delivered to a dropped subscriber");
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: owns no handles.
unsafe impl Trace for Seen {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

#[test]
fn an_emit_racing_an_unsubscribe_and_a_subscriber_drop() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let subject = weakling::observer::Subject::<u8>::new();
        let a = Gc::new(Seen(seen.clone(), Value::new(&drops)));
        let b = Gc::new(Seen(seen.clone(), Value::new(&drops)));
        let _sa = subject.subscribe(&a);
        let sb = subject.subscribe(&b);
        let other = thread::spawn(move || {
            // Drops one subscriber and unsubscribes the other while the emit may be running.
            drop(a);
            sb.unsubscribe();
        });
        let delivered = subject.emit(&1);
        other.join().unwrap();
        assert!(delivered <= 2);
        assert_eq!(seen.load(Ordering::SeqCst), delivered);
        // Afterwards neither receives; `a` is gone, `b` lives but is unsubscribed.
        assert_eq!(subject.emit(&2), 0);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(b);
        assert_eq!(subject.stats().delivered, delivered as u64);
    });
}

/// A value's death callback races an insert of the same key on another thread: whichever
/// order the model picks, the new entry stays, and the dead value's callback removes only
/// its own entry (never the new one, never twice).
#[test]
fn a_value_map_death_callback_racing_an_insert_of_the_same_key() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Heap::new();
        let map = Arc::new(weakling::WeakValueMap::<u32, Value>::new());
        let old = Gc::new_in(Value::new(&drops), &heap);
        map.insert(1, &old);
        let new = Gc::new_in(Value::new(&drops), &heap);
        let (m, n) = (map.clone(), new.clone());
        let inserter = thread::spawn(move || {
            // The old value, if still alive when replaced, is handed back alive.
            if let Some(replaced) = m.insert(1, &n) {
                assert_eq!(replaced.read(), 7);
            }
        });
        drop(old); // its callback runs here, racing the insert
        inserter.join().unwrap();
        assert!(Gc::ptr_eq(&map.get(&1).expect("the new entry stays"), &new));
        assert_eq!(map.len(), 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(new);
        assert_eq!(map.len(), 0);
    });
}

/// A member's death races the insert of an equal object: the set keeps the first of two
/// equal members, so the new one is in the set exactly when its insert said so, and the old
/// member's callback never removes it.
#[test]
fn a_weak_set_member_dying_while_an_equal_one_is_inserted() {
    model(|| {
        let set = Arc::new(weakling::WeakSet::<u32>::new());
        let old = Gc::new(1u32);
        set.insert(&old);
        let new = Gc::new(1u32);
        let (s, n) = (set.clone(), new.clone());
        let inserter = thread::spawn(move || s.insert(&n));
        drop(old);
        let inserted = inserter.join().unwrap();
        assert_eq!(set.contains(&new), inserted);
        assert_eq!(set.len(), usize::from(inserted));
        drop(new);
        assert_eq!(set.len(), 0);
    });
}

/// Counts death notifications.
#[derive(Default)]
struct Notified(AtomicUsize);

impl weakling::DeathListener for Notified {
    fn object_died(&self, _: u64, _: *const ()) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A listener registration made on one thread while the object's last handle drops on
/// another: the handle kept past the death sees exactly one notification.
#[test]
fn listener_registration_racing_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let listener = Arc::new(Notified::default());
        let g1 = Gc::new(Value::new(&drops));
        let g2 = g1.clone();
        let l = listener.clone();
        let registrant = thread::spawn(move || {
            let w = Gc::downgrade_notify(&g2, &l, 1).unwrap();
            drop(g2);
            w
        });
        drop(g1);
        let w = registrant.join().unwrap();
        assert!(w.upgrade().is_none());
        assert_eq!(listener.0.load(Ordering::SeqCst), 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Cancelling a listener registration (dropping its last handle) races the object's death:
/// at most one notification, the value dropped once, nothing left on the heap.
#[test]
fn listener_cancellation_racing_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let listener = Arc::new(Notified::default());
        let heap = Heap::new();
        let g = Gc::new_in(Value::new(&drops), &heap);
        let w = Gc::downgrade_notify(&g, &listener, 1).unwrap();
        let canceller = thread::spawn(move || drop(w));
        drop(g);
        canceller.join().unwrap();
        assert!(listener.0.load(Ordering::SeqCst) <= 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(heap.counts().live, 0);
    });
}

/// A lookup races the value's death: it sees the live value or nothing, never a dropped one,
/// and whichever thread drops the last handle removes the entry.
#[test]
fn a_value_map_lookup_racing_the_values_death() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Heap::new();
        let map = Arc::new(weakling::WeakValueMap::<u32, Value>::new());
        let v = Gc::new_in(Value::new(&drops), &heap);
        map.insert(1, &v);
        let m = map.clone();
        let reader = thread::spawn(move || {
            if let Some(found) = m.get(&1) {
                assert_eq!(found.read(), 7, "a value found is alive");
            }
        });
        drop(v);
        reader.join().unwrap();
        assert_eq!(map.len(), 0);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(heap.counts().live, 0);
    });
}

mod cache {
    //! Single-flight loading (src/cache/flight.rs): two threads miss one key together.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use loom::thread;
    use weakling::cache::Cache;
    use weakling::Gc;

    fn small_cache() -> Cache<u32, u64> {
        Cache::builder(4).shards(1).build()
    }

    #[test]
    fn two_misses_of_one_key_run_one_loader() {
        super::model(|| {
            let cache = small_cache();
            let loads = Arc::new(AtomicUsize::new(0));
            let other = {
                let (cache, loads) = (cache.clone(), loads.clone());
                thread::spawn(move || {
                    cache.get_with(1, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Gc::new(10)
                    })
                })
            };
            let mine = cache.get_with(1, || {
                loads.fetch_add(1, Ordering::SeqCst);
                Gc::new(10)
            });
            let theirs = other.join().unwrap();
            // Either one load shared by both, or the second call came after the first stored
            // its value (a hit): one load in every interleaving.
            assert_eq!(loads.load(Ordering::SeqCst), 1);
            assert!(Gc::ptr_eq(&mine, &theirs));
            assert_eq!(cache.stats().requests(), 2);
        });
    }

    #[test]
    fn a_panicking_leader_never_wedges_the_key() {
        super::model(|| {
            let cache = small_cache();
            let other = {
                let cache = cache.clone();
                thread::spawn(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        cache.get_with(1, || panic!("loader failed"))
                    }))
                    .is_err()
                })
            };
            let mine = cache.get_with(1, || Gc::new(20));
            let panicked = other.join().unwrap();
            assert_eq!(*mine, 20);
            // The other caller either panicked (it led), or found the value (hit or waited).
            let stats = cache.stats();
            assert_eq!(stats.loads, 1);
            assert_eq!(stats.load_failures, u64::from(panicked));
            assert_eq!(*cache.get(&1).unwrap(), 20);
        });
    }

    #[test]
    fn invalidation_racing_a_load_leaves_no_stale_flight() {
        super::model(|| {
            let cache = small_cache();
            let other = {
                let cache = cache.clone();
                thread::spawn(move || cache.invalidate(&1))
            };
            let v = cache.get_with(1, || Gc::new(30));
            other.join().unwrap();
            assert_eq!(*v, 30);
            // Whatever the order, the key loads again (or hits) without waiting forever.
            assert_eq!(
                *cache.get_with(1, || Gc::new(31)),
                if cache.stats().loads == 2 { 31 } else { 30 }
            );
        });
    }
}

/// A death hook's action whose clone, run and drop all touch a loom cell: loom reports a
/// `peek`'s clone that is not ordered before the owner's run or drop.
struct Probe {
    value: Value,
    runs: Arc<AtomicUsize>,
}

impl Clone for Probe {
    fn clone(&self) -> Self {
        assert_eq!(self.value.read(), 7, "cloned while the action is in place");
        Probe { value: Value::new(&self.value.drops), runs: self.runs.clone() }
    }
}

impl weakling::DeathAction for Probe {
    fn run(self) {
        assert_eq!(self.value.read(), 7);
        self.runs.fetch_add(1, Ordering::SeqCst);
    }
}

/// An object on its own heap, and a hook on it whose action is a `Probe`.
fn probed(
    drops: &Arc<AtomicUsize>,
    runs: &Arc<AtomicUsize>,
) -> (Heap, Gc<Value>, weakling::DeathHook<Value, Probe>) {
    let heap = Heap::new();
    let obj = Gc::new_in(Value::new(drops), &heap);
    let probe = Probe { value: Value::new(drops), runs: runs.clone() };
    let hook = Gc::on_death(&obj, probe, false);
    (heap, obj, hook)
}

#[test]
fn a_peek_racing_a_cancel() {
    // A peek holds a strong handle while it clones, so the death cannot race it; a cancel
    // (as `detach` and the exit run) can, and must wait for the clone.
    model(|| {
        let (drops, runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (heap, obj, hook) = probed(&drops, &runs);
        let peeker = thread::spawn(move || {
            // Either before the cancel (object and a copy), or after it (nothing).
            if let Some((obj, copy)) = hook.peek() {
                assert_eq!(obj.read(), 7);
                drop(copy);
            }
        });
        let cancelled = hook.cancel().expect("nothing else takes it");
        drop(cancelled);
        peeker.join().unwrap();
        drop(obj);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert!(!hook.is_pending());
        assert_eq!(heap.counts().live, 0);
    });
}

#[test]
fn a_cancel_racing_the_death_of_its_object() {
    model(|| {
        let (drops, runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (heap, obj, hook) = probed(&drops, &runs);
        let canceller = thread::spawn(move || hook.cancel().is_some());
        drop(obj);
        let cancelled = canceller.join().unwrap();
        // Exactly one of the two took the action.
        assert_eq!(runs.load(Ordering::SeqCst), usize::from(!cancelled));
        assert_eq!(drops.load(Ordering::SeqCst), 2, "the object and the action, once each");
    });
}

/// An action whose clone writes state shared by its copies, as `RefCell`'s borrow flag would:
/// loom reports two clones that are not ordered one after the other.
struct Tally(Arc<UnsafeCell<u32>>);

impl Clone for Tally {
    fn clone(&self) -> Self {
        // SAFETY: peeks clone one at a time; loom checks it.
        self.0.with_mut(|n| unsafe { *n += 1 });
        Tally(self.0.clone())
    }
}

impl weakling::DeathAction for Tally {
    fn run(self) {}
}

// SAFETY: only clones touch the cell, one at a time; the model checks it.
unsafe impl Send for Tally {}

#[test]
fn two_peeks_clone_one_at_a_time() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let heap = Heap::new();
        let obj = Gc::new_in(Value::new(&drops), &heap);
        let tally = Arc::new(UnsafeCell::new(0));
        let hook = Gc::on_death(&obj, Tally(tally.clone()), false);
        let peeker = thread::spawn(move || drop(hook.peek().expect("alive")));
        drop(hook.peek().expect("alive"));
        peeker.join().unwrap();
        let cancelled = hook.cancel().expect("still pending");
        drop(cancelled);
        // SAFETY: both peeks are over.
        assert_eq!(tally.with(|n| unsafe { *n }), 2);
        drop(obj);
    });
}

struct Counted(Arc<AtomicUsize>);

impl weakling::DeathAction for Counted {
    fn run(self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Another thread makes weak references from its own handle and drops the handle while this
/// one registers at the object's death: the registration may flag the object with a plain
/// store only when no other reference can exist, and a flag stored over another thread's
/// count would show in the counts or the death.
fn a_registration_racing_weak_references_of_a_dropped_handle(hook: bool) {
    model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(Value::new(&drops));
        let theirs = g.clone();
        let other = thread::spawn(move || {
            let w = Gc::downgrade(&theirs);
            drop(theirs);
            let w2 = w.clone();
            drop(w);
            w2.upgrade().map(|g| g.read())
        });
        let registered = if hook {
            let _key = Gc::on_death(&g, Counted(runs.clone()), false);
            None
        } else {
            let runs = runs.clone();
            Some(Gc::downgrade_with(&g, move |_| drop(runs.fetch_add(1, Ordering::SeqCst))))
        };
        assert_eq!(other.join().unwrap(), Some(7));
        assert_eq!(Gc::strong_count(&g), 1);
        assert_eq!(Gc::weak_count(&g), usize::from(!hook));
        drop(g);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(registered);
    });
}

#[test]
fn a_death_hook_registered_while_weak_references_of_a_dropped_handle_come_and_go() {
    a_registration_racing_weak_references_of_a_dropped_handle(true);
}

#[test]
fn a_weak_callback_registered_while_weak_references_of_a_dropped_handle_come_and_go() {
    a_registration_racing_weak_references_of_a_dropped_handle(false);
}
