//! `Weak<T>`: upgrading, counts, identity, and death callbacks.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{capture_errors, DropCounter, Log};
use weakling::{Gc, Heap, Weak};

#[test]
fn an_empty_weak_never_upgrades_and_equals_other_empty_ones() {
    let w: Weak<u32> = Weak::new();
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert_eq!(w.weak_count(), 0);
    assert_eq!(w, Weak::default());
    assert_eq!(w.clone(), w);
    assert!(!w.has_callback());
    assert_eq!(format!("{w:?}"), "(Weak; empty)");
}

#[test]
fn upgrade_works_while_alive_and_fails_after() {
    let g = Gc::new(String::from("alive"));
    let w = Gc::downgrade(&g);
    let up = w.upgrade().unwrap();
    assert!(Gc::ptr_eq(&up, &g));
    assert_eq!(w.strong_count(), 2);
    drop(up);
    assert!(format!("{w:?}").ends_with("alive)"));
    drop(g);
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert!(format!("{w:?}").ends_with("dead)"));
}

#[test]
fn weak_counts_follow_handles() {
    let g = Gc::new(1_u8);
    assert_eq!(Gc::weak_count(&g), 0);
    let w1 = Gc::downgrade(&g);
    let w2 = w1.clone();
    assert_eq!(Gc::weak_count(&g), 2);
    assert_eq!(w1.weak_count(), 2);
    drop(w2);
    assert_eq!(Gc::weak_count(&g), 1);
    let cb = Gc::downgrade_with(&g, |_| {});
    let cb2 = cb.clone();
    assert_eq!(Gc::weak_count(&g), 2, "a callback registration counts once, whatever its clones");
    drop((cb, cb2));
    assert_eq!(Gc::weak_count(&g), 1, "a cancelled registration releases its reference");
    drop(g);
    assert_eq!(w1.weak_count(), 0);
}

#[test]
fn equality_and_hashing_are_by_identity_and_survive_death() {
    let a = Gc::new(5_u32);
    let b = Gc::new(5_u32);
    let wa = Gc::downgrade(&a);
    let wa2 = Gc::downgrade_with(&a, |_| {});
    let wb = Gc::downgrade(&b);
    assert_eq!(wa, wa2, "same object, with or without a callback");
    assert_ne!(wa, wb, "equal values, different objects");
    let set: HashSet<Weak<u32>> = [wa.clone(), wa2.clone(), wb.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
    drop(a);
    assert_eq!(wa, wa2, "identity outlives the object");
    assert!(set.contains(&wa));
}

#[test]
fn a_weak_handle_outliving_its_object_keeps_only_the_memory() {
    let heap = Heap::new();
    let drops = DropCounter::default();
    let g = Gc::new_in(drops.token(), &heap);
    let w = Gc::downgrade(&g);
    drop(g);
    assert_eq!(drops.get(), 1, "the value is gone");
    assert_eq!(heap.counts().live, 0);
    let w2 = w.clone();
    drop(w);
    assert!(w2.upgrade().is_none());
}

#[test]
fn a_callback_runs_exactly_once_with_the_dead_handle() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Gc::new(String::from("data"));
    let c = calls.clone();
    let w = Gc::downgrade_with(&g, move |dead| {
        assert!(dead.upgrade().is_none());
        assert!(dead.has_callback());
        c.fetch_add(1, Ordering::SeqCst);
    });
    assert!(w.has_callback());
    let keep = w.clone();
    drop(w);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "a clone keeps the callback armed");
    drop(g);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(keep.upgrade().is_none());
    drop(keep);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn the_dead_handle_given_to_a_callback_is_the_registered_one() {
    let g = Gc::new(0_u8);
    let seen = Arc::new(std::sync::Mutex::new(None::<Weak<u8>>));
    let s = seen.clone();
    let w = Gc::downgrade_with(&g, move |dead| *s.lock().unwrap() = Some(dead.clone()));
    drop(g);
    let dead = seen.lock().unwrap().take().unwrap();
    assert_eq!(dead, w);
}

#[test]
fn callbacks_run_newest_first_after_every_weak_is_cleared() {
    let log = Log::default();
    let g = Gc::new(String::from("x"));
    let plain = Gc::downgrade(&g);
    let mut keep = Vec::new();
    for i in 0..5 {
        let (l, p) = (log.clone(), plain.clone());
        keep.push(Gc::downgrade_with(&g, move |_| {
            l.push(format!("{i} sees upgrade {}", p.upgrade().is_some()));
        }));
    }
    drop(g);
    let expected: Vec<String> = (0..5).rev().map(|i| format!("{i} sees upgrade false")).collect();
    assert_eq!(log.take(), expected);
}

#[test]
fn a_callback_whose_handles_were_dropped_first_never_runs() {
    let log = Log::default();
    let g = Gc::new(1_u32);
    let (l1, l2) = (log.clone(), log.clone());
    let cancelled = Gc::downgrade_with(&g, move |_| l1.push("cancelled"));
    let _kept = Gc::downgrade_with(&g, move |_| l2.push("kept"));
    drop(cancelled);
    drop(g);
    assert_eq!(log.take(), ["kept"]);
}

/// A callback carrying `payload`: run once with it intact when its object dies, or dropped
/// unrun once when its handle goes first.
fn callback_with_payload<P: Send + 'static>(make: fn() -> P, read: fn(&P) -> u64, expected: u64) {
    for cancel in [false, true] {
        let payload = make();
        let drops = DropCounter::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(0_u8);
        let (token, seen) = (drops.token(), runs.clone());
        let w = Gc::downgrade_with(&g, move |_| {
            let _token = &token;
            assert_eq!(read(&payload), expected);
            seen.fetch_add(1, Ordering::SeqCst);
        });
        if cancel {
            drop(w);
            drop(g);
        } else {
            drop(g);
            drop(w);
        }
        assert_eq!(runs.load(Ordering::SeqCst), usize::from(!cancel), "cancelled: {cancel}");
        assert_eq!(drops.get(), 1, "cancelled: {cancel}");
    }
}

#[test]
fn callbacks_of_every_size_and_alignment_run_or_drop_once() {
    #[repr(align(64))]
    struct OverAligned(u64);

    callback_with_payload(|| (), |_| 7, 7);
    callback_with_payload(|| 41_u64, |p| *p + 1, 42);
    callback_with_payload(|| [3_u64; 3], |p| p.iter().sum(), 9);
    // Larger than any block the box cache keeps, and aligned beyond its blocks.
    callback_with_payload(|| [5_u64; 40], |p| p.iter().sum(), 200);
    callback_with_payload(|| OverAligned(64), |p| p.0 + (std::ptr::from_ref(p) as u64 % 64), 64);
}

#[test]
fn cancelled_callbacks_do_not_pile_up_on_a_long_lived_object() {
    let g = Gc::new(1_u32);
    let captured = DropCounter::default();
    for _ in 0..10_000 {
        let token = captured.token();
        drop(Gc::downgrade_with(&g, move |_| drop(token)));
    }
    assert_eq!(captured.get(), 10_000, "each cancelled callback was dropped at once");
    assert_eq!(Gc::weak_count(&g), 0);
    let log = Log::default();
    let l = log.clone();
    let _w = Gc::downgrade_with(&g, move |_| l.push("last"));
    drop(g);
    assert_eq!(log.take(), ["last"]);
}

#[test]
fn a_panicking_callback_is_reported_and_the_others_still_run() {
    let log = Log::default();
    let ((), errors) = capture_errors(|| {
        let g = Gc::new(1_u32);
        let (l1, l3) = (log.clone(), log.clone());
        let _a = Gc::downgrade_with(&g, move |_| l1.push("first registered"));
        let _b = Gc::downgrade_with(&g, |_| panic!("callback exploded"));
        let _c = Gc::downgrade_with(&g, move |_| l3.push("last registered"));
        drop(g);
    });
    assert_eq!(log.take(), ["last registered", "first registered"]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("callback exploded") && e.contains("weak reference callback")),
        "{errors:?}"
    );
}

#[test]
fn callbacks_may_allocate_drop_register_and_upgrade() {
    let heap = Heap::new();
    let log = Log::default();
    let other = Gc::new_in(String::from("other"), &heap);
    let other_weak = Gc::downgrade(&other);
    let l = log.clone();
    let _w_other = Gc::downgrade_with(&other, move |_| l.push("other died"));
    let g = Gc::new_in(String::from("main"), &heap);
    let self_weak = Gc::downgrade(&g);
    let stash = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (l, s, h) = (log.clone(), stash.clone(), Arc::new(heap));
    let h2 = h.clone();
    let _w = Gc::downgrade_with(&g, move |_| {
        l.push(format!("upgrade self: {}", self_weak.upgrade().is_some()));
        drop(other); // the last handle to another object with its own callback
        let fresh = Gc::new_in(String::from("fresh"), &h2);
        let l2 = l.clone();
        s.lock().unwrap().push(Gc::downgrade_with(&fresh, move |_| l2.push("fresh died")));
        s.lock().unwrap().push(Gc::downgrade(&fresh));
        drop(fresh);
        l.push("callback done");
    });
    drop(g);
    assert_eq!(log.take(), ["upgrade self: false", "other died", "fresh died", "callback done"]);
    assert!(other_weak.upgrade().is_none());
    assert_eq!(h.counts().live, 0);
}

#[test]
fn a_callback_that_holds_its_own_object_keeps_it_alive() {
    // As in Python: the callback is owned by the registration, which the object's death
    // would release; a strong handle inside it means that death never comes.
    let g = Gc::new(String::from("immortal"));
    let inside = g.clone();
    let w = Gc::downgrade_with(&g, move |_| drop(inside));
    drop(g);
    let still = w.upgrade().expect("kept alive by its own callback");
    assert_eq!(*still, "immortal");
    drop(still);
    // Dropping the registration's handles cancels it and releases the object.
    let plain = {
        let up = w.upgrade().unwrap();
        Gc::downgrade(&up)
    };
    drop(w);
    assert!(plain.upgrade().is_none());
}

#[test]
fn a_callback_runs_on_the_thread_that_drops_the_last_handle() {
    let log = Log::default();
    let g = Gc::new(1_u8);
    let l = log.clone();
    let _w = Gc::downgrade_with(&g, move |_| {
        l.push(std::thread::current().name().unwrap_or("?").to_owned())
    });
    std::thread::Builder::new()
        .name("dropper".into())
        .spawn(move || drop(g))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(log.take(), ["dropper"]);
}

#[test]
fn callbacks_on_many_objects_each_fire_once() {
    let heap = Heap::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut weaks = Vec::new();
    let objects: Vec<_> = (0..1000).map(|i| Gc::new_in(i, &heap)).collect();
    for o in &objects {
        let c = calls.clone();
        weaks.push(Gc::downgrade_with(o, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        }));
    }
    drop(objects);
    assert_eq!(calls.load(Ordering::SeqCst), 1000);
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}
