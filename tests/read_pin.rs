//! Read pins: borrowing weakly held leaves without counting them, and the destructions that
//! wait for pins.
//!
//! Pins are process-wide, so every test takes `common::serial`: a pin held by a test running beside
//! another would hold that test's destructions back too.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{capture_errors, serial, DropCounter, DropToken};
use weakling::{read_pin, Gc, GcCell, Trace, Weak};

#[derive(Trace)]
struct Tracked {
    next: GcCell<Option<Gc<Tracked>>>,
    _token: DropToken,
}

#[test]
fn a_pinned_read_sees_a_live_leaf_and_nothing_once_it_died() {
    let _serial = serial();
    let g = Gc::new_leaf(String::from("alive"));
    let w = Gc::downgrade(&g);
    {
        let pin = read_pin();
        let r = w.get_pinned(&pin).expect("alive");
        assert_eq!(*r, "alive");
        assert_eq!(format!("{r:?}"), "\"alive\"");
        // A pinned read writes no handle.
        assert_eq!(Gc::strong_count(&g), 1);
    }
    drop(g);
    assert!(w.get_pinned(&read_pin()).is_none());
    assert!(Weak::<u8>::new().get_pinned(&read_pin()).is_none());
}

#[test]
fn a_leaf_that_dies_under_a_pin_is_destroyed_when_the_pin_ends() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let w = Gc::downgrade(&g);
    let pin = read_pin();
    let r = w.get_pinned(&pin).expect("alive");
    drop(g);
    // Dead at once for every reader...
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert!(w.get_pinned(&pin).is_none());
    // ...but the borrowed value is still there.
    let _still_readable: &DropToken = &r;
    assert_eq!(drops.get(), 0);
    drop(r);
    drop(pin);
    assert_eq!(drops.get(), 1);
}

#[test]
fn without_a_pin_a_leaf_read_before_is_destroyed_at_once() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let w = Gc::downgrade(&g);
    assert!(w.get_pinned(&read_pin()).is_some());
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_leaf_never_read_under_a_pin_dies_at_once_even_while_pins_exist() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let _pin = read_pin();
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn death_callbacks_of_a_pinned_leaf_run_at_its_death_and_its_drop_after_the_pin() {
    let _serial = serial();
    let fired = Arc::new(AtomicBool::new(false));
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let f = fired.clone();
    let w = Gc::downgrade_with(&g, move |dead| {
        assert!(dead.upgrade().is_none());
        f.store(true, Ordering::SeqCst);
    });
    let set = weakling::WeakIdSet::new();
    set.insert(&g);
    let pin = read_pin();
    assert!(w.get_pinned(&pin).is_some());
    drop(g);
    assert!(fired.load(Ordering::SeqCst), "the callback ran at the death");
    assert_eq!(set.len(), 0, "the weak set dropped its entry at the death");
    assert_eq!(drops.get(), 0, "the value waits for the pin");
    drop(pin);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_borrow_outlives_the_weak_handle_it_came_from() {
    let _serial = serial();
    let g = Gc::new_leaf(String::from("still here"));
    let w = Gc::downgrade(&g);
    let pin = read_pin();
    let r = w.get_pinned(&pin).expect("alive");
    drop(w);
    drop(g);
    // Neither a handle nor a weak reference of ours is left: the pin keeps value and memory.
    assert_eq!(*r, "still here");
    // The same for a value with nothing to drop and no callbacks, whose memory is otherwise
    // freed at once (valgrind in CI reports a read of freed memory).
    let n = Gc::new_leaf(42_u64);
    let w = Gc::downgrade(&n);
    let m = w.get_pinned(&pin).expect("alive");
    drop(w);
    drop(n);
    assert_eq!(*m, 42);
    drop((r, m));
    drop(pin);
}

#[test]
fn nested_pins_hold_a_destruction_until_the_outermost_ends() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let w = Gc::downgrade(&g);
    let outer = read_pin();
    assert!(w.get_pinned(&outer).is_some());
    let inner = read_pin();
    drop(g);
    drop(inner);
    assert_eq!(drops.get(), 0, "the outer pin existed at the death");
    drop(outer);
    assert_eq!(drops.get(), 1);
}

/// Overlapping pins never all end at once here, and the destruction still runs: it waits for
/// the pins that existed at the death, not for a moment without pins.
#[test]
fn overlapping_pins_do_not_hold_a_destruction_back_for_ever() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let w = Gc::downgrade(&g);
    let mut held = read_pin();
    assert!(w.get_pinned(&held).is_some());
    drop(g);
    for _ in 0..4 {
        let next = read_pin();
        drop(std::mem::replace(&mut held, next));
        if drops.get() == 1 {
            break;
        }
    }
    assert_eq!(drops.get(), 1, "destroyed while a later pin is still held");
    drop(held);
}

#[test]
fn a_pin_on_another_thread_holds_the_destruction_and_runs_it_when_it_ends() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(drops.token());
    let w = Gc::downgrade(&g);
    let pinned = Arc::new(Barrier::new(2));
    let died = Arc::new(Barrier::new(2));
    let reader = {
        let (pinned, died, drops) = (pinned.clone(), died.clone(), drops.clone());
        thread::spawn(move || {
            let pin = read_pin();
            let r = w.get_pinned(&pin).expect("alive");
            pinned.wait();
            died.wait();
            // The other thread dropped the last handle; the value is still readable.
            let _token: &DropToken = &r;
            assert_eq!(drops.get(), 0);
            drop(r);
            drop(pin);
            // This pin was the last one at the death: its end ran the destruction.
            assert_eq!(drops.get(), 1);
        })
    };
    pinned.wait();
    drop(g);
    assert_eq!(drops.get(), 0);
    died.wait();
    reader.join().unwrap();
    assert_eq!(drops.get(), 1);
}

#[test]
fn try_unwrap_refuses_a_leaf_read_under_a_pin() {
    let _serial = serial();
    let g = Gc::new_leaf(5_u32);
    let w = Gc::downgrade(&g);
    assert!(w.get_pinned(&read_pin()).is_some());
    let g = Gc::try_unwrap(g).expect_err("read under a pin");
    assert_eq!(*g, 5);
    // A leaf never pinned unwraps as before.
    assert_eq!(Gc::try_unwrap(Gc::new_leaf(6_u32)).ok(), Some(6));
}

#[test]
fn a_tracked_object_is_held_by_a_strong_handle_and_dies_as_usual() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new(Tracked { next: GcCell::new(None), _token: drops.token() });
    let w = Gc::downgrade(&g);
    let pin = read_pin();
    let r = w.get_pinned(&pin).expect("alive");
    assert_eq!(Gc::strong_count(&g), 2, "held, not borrowed");
    drop(g);
    assert_eq!(drops.get(), 0);
    drop(r);
    assert_eq!(drops.get(), 1, "no wait for the pin");
    drop(pin);
}

struct Panicky(#[allow(dead_code)] DropToken);

impl Drop for Panicky {
    fn drop(&mut self) {
        panic!("Drop fails after waiting for a pin");
    }
}

// SAFETY: owns no handles.
unsafe impl Trace for Panicky {
    const LEAF: bool = true;
    fn trace(&self, _: &mut weakling::Tracer<'_>) {}
}

#[test]
fn a_panicking_drop_that_waited_for_a_pin_is_reported_and_contained() {
    let _serial = serial();
    let drops = DropCounter::default();
    let g = Gc::new_leaf(Panicky(drops.token()));
    let w = Gc::downgrade(&g);
    let pin = read_pin();
    assert!(w.get_pinned(&pin).is_some());
    drop(g);
    let ((), errors) = capture_errors(|| drop(pin));
    assert_eq!(drops.get(), 1, "the fields were dropped after the panic");
    assert!(errors.iter().any(|e| e.contains("Drop fails after waiting for a pin")), "{errors:?}");
    // Pins and destructions still work.
    let g = Gc::new_leaf(drops.token());
    let w = Gc::downgrade(&g);
    let pin = read_pin();
    assert!(w.get_pinned(&pin).is_some());
    drop(g);
    drop(pin);
    assert_eq!(drops.get(), 2);
}

/// Readers on several threads borrow leaves under pins while other threads drop them: no
/// value is read after its destruction (each value checks it on every read), every value is
/// destroyed exactly once, and all of them are destroyed once the threads are done.
#[test]
fn readers_and_droppers_on_several_threads() {
    const OBJECTS: usize = 64;
    struct Checked {
        alive: AtomicBool,
        drops: Arc<AtomicUsize>,
    }
    impl Drop for Checked {
        fn drop(&mut self) {
            assert!(self.alive.swap(false, Ordering::SeqCst), "destroyed twice");
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }
    // SAFETY: owns no handles.
    unsafe impl Trace for Checked {
        const LEAF: bool = true;
        fn trace(&self, _: &mut weakling::Tracer<'_>) {}
    }

    let _serial = serial();
    let scale: usize =
        std::env::var("WEAKLING_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let rounds = 400 / scale.max(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let mut made = 0;
    for _ in 0..rounds {
        let objects: Vec<Gc<Checked>> = (0..OBJECTS)
            .map(|_| Gc::new_leaf(Checked { alive: AtomicBool::new(true), drops: drops.clone() }))
            .collect();
        made += OBJECTS;
        let weak: Arc<Vec<Weak<Checked>>> = Arc::new(objects.iter().map(Gc::downgrade).collect());
        let start = Arc::new(Barrier::new(3));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (weak, start) = (weak.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    for _ in 0..4 {
                        let pin = read_pin();
                        for w in weak.iter() {
                            if let Some(v) = w.get_pinned(&pin) {
                                assert!(v.alive.load(Ordering::SeqCst), "read after destruction");
                            }
                        }
                    }
                })
            })
            .collect();
        start.wait();
        drop(objects);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), made);
    }
    // Every destruction that waited for a pin ran when the last of those pins ended.
    assert_eq!(drops.load(Ordering::SeqCst), made);
}

#[test]
fn a_pinned_iteration_of_a_weak_set_borrows_live_members() {
    let _serial = serial();
    let drops = DropCounter::default();
    let members: Vec<Gc<(u64, DropToken)>> =
        (1..=4).map(|i| Gc::new_leaf((i, drops.token()))).collect();
    let set: weakling::WeakIdSet<(u64, DropToken)> = members.iter().collect();
    let mut members = members;
    drop(members.pop());
    assert_eq!(drops.get(), 1, "no pin: dropped at once");
    let pin = read_pin();
    assert_eq!(set.iter_pinned(&pin).map(|m| m.0).sum::<u64>(), 1 + 2 + 3);
    assert!(members.iter().all(|m| Gc::strong_count(m) == 1), "no handle was made");

    // A member dying during the iteration: its entry goes at once, its value stays intact
    // (yielded if its shard was already read) until the pin ends.
    let mut seen = Vec::new();
    for m in set.iter_pinned(&pin) {
        seen.push(m.0);
        // Every member dies at the first step, the one being looked at included.
        members.clear();
        // Every item yielded is intact, dead or not.
        assert!((1..=3).contains(&m.0));
    }
    assert!(members.is_empty() && set.is_empty());
    assert!(!seen.is_empty());
    assert_eq!(drops.get(), 1, "the three values wait for the pin");
    drop(pin);
    assert_eq!(drops.get(), 4);
}

#[test]
fn a_pinned_iteration_of_a_weak_value_map_borrows_live_values() {
    let _serial = serial();
    let values: Vec<Gc<u64>> = (10..13).map(Gc::new_leaf).collect();
    let map: weakling::WeakValueMap<u64, u64> = weakling::WeakValueMap::new();
    for v in &values {
        map.insert(**v, v);
    }
    let pin = read_pin();
    let mut seen: Vec<u64> = map.values_pinned(&pin).map(|v| *v).collect();
    seen.sort_unstable();
    assert_eq!(seen, [10, 11, 12]);
    drop(pin);
    drop(values);
    assert!(map.is_empty());
    assert_eq!(map.values_pinned(&read_pin()).count(), 0);
}

#[test]
fn a_pinned_iteration_upgrades_tracked_members() {
    let _serial = serial();
    let drops = DropCounter::default();
    let member = Gc::new(Tracked { next: GcCell::new(None), _token: drops.token() });
    let set: weakling::WeakIdSet<Tracked> = std::iter::once(&member).collect();
    let pin = read_pin();
    let items: Vec<_> = set.iter_pinned(&pin).collect();
    assert_eq!(items.len(), 1);
    assert_eq!(Gc::strong_count(&member), 2, "held by the item");
    drop(items);
    drop(member);
    assert_eq!(drops.get(), 1, "tracked objects never wait for pins");
    drop(pin);
}

/// Many deaths while one pin is held queue in constant time each, and all run when it ends.
#[test]
fn many_deaths_under_one_pin_wait_and_then_all_run() {
    let _serial = serial();
    let scale: usize =
        std::env::var("WEAKLING_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let n = 200_000 / scale.max(1);
    let drops = DropCounter::default();
    let objects: Vec<Gc<DropToken>> = (0..n).map(|_| Gc::new_leaf(drops.token())).collect();
    let weak: Vec<Weak<DropToken>> = objects.iter().map(Gc::downgrade).collect();
    let pin = read_pin();
    assert_eq!(weak.iter().filter(|w| w.get_pinned(&pin).is_some()).count(), n);
    drop(objects);
    assert_eq!(drops.get(), 0);
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
    drop(pin);
    assert_eq!(drops.get(), n);
}
