//! `Gc::downgrade_notify`, `DeathListener` and `Watch`: death notification without a closure.

mod common;

use std::sync::{Arc, Mutex};

use common::{capture_errors, DropCounter, Log};
use weakling::{DeathListener, Gc, GcCell, Trace, Weak};

/// Records `(token, object)` of every notification, and whether the object could still be
/// upgraded through a handle it was given.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(u64, usize)>>,
    probe: Mutex<Option<Weak<u32>>>,
    upgraded_during: Mutex<Vec<bool>>,
}

impl DeathListener for Recorder {
    fn object_died(&self, token: u64, object: *const ()) {
        self.seen.lock().unwrap().push((token, object as usize));
        if let Some(w) = self.probe.lock().unwrap().as_ref() {
            self.upgraded_during.lock().unwrap().push(w.upgrade().is_some());
        }
    }
}

#[test]
fn the_listener_is_told_once_with_token_and_identity() {
    let rec = Arc::new(Recorder::default());
    let g = Gc::new(5u32);
    let address = Gc::as_ptr(&g) as usize;
    *rec.probe.lock().unwrap() = Some(Gc::downgrade(&g));
    let w = Gc::downgrade_notify(&g, &rec, 42).unwrap();
    assert!(w.to_weak().upgrade().is_some() && !w.to_weak().has_callback());
    assert!(Gc::ptr_eq(&w.upgrade().unwrap(), &g));
    let w2 = w.clone();
    assert!(w2 == w);
    assert_eq!(Gc::weak_count(&g), 2, "the probe's handle and the registration's");
    drop(g);
    assert_eq!(*rec.seen.lock().unwrap(), [(42, address)]);
    assert_eq!(*rec.upgraded_during.lock().unwrap(), [false], "dead before the listener runs");
    assert!(w.upgrade().is_none() && w2.upgrade().is_none());
    assert_eq!(w.as_ptr() as usize, address);
}

#[test]
fn dropping_every_handle_first_cancels_the_notification() {
    let rec = Arc::new(Recorder::default());
    let g = Gc::new(1u32);
    let w = Gc::downgrade_notify(&g, &rec, 1).unwrap();
    let w2 = w.clone();
    drop(w);
    drop(w2);
    assert_eq!(Gc::weak_count(&g), 0);
    drop(g);
    assert!(rec.seen.lock().unwrap().is_empty());
}

#[test]
fn the_listener_is_held_weakly() {
    let rec = Arc::new(Recorder::default());
    let g = Gc::new(1u32);
    let w = Gc::downgrade_notify(&g, &rec, 1).unwrap();
    assert_eq!(Arc::strong_count(&rec), 1, "registrations do not keep the listener alive");
    let weak_listener = Arc::downgrade(&rec);
    drop(rec);
    assert!(weak_listener.upgrade().is_none());
    drop(g); // nobody to tell: nothing happens
    assert!(w.upgrade().is_none());
}

struct Ordered(Log, &'static str);

impl DeathListener for Ordered {
    fn object_died(&self, token: u64, _: *const ()) {
        self.0.push(format!("{}{token}", self.1));
    }
}

#[test]
fn listeners_and_callbacks_run_newest_first() {
    let log = Log::default();
    let listener = Arc::new(Ordered(log.clone(), "listener "));
    let g = Gc::new(0u32);
    let l = log.clone();
    let a = Gc::downgrade_with(&g, move |_| l.push("callback a"));
    let b = Gc::downgrade_notify(&g, &listener, 1).unwrap();
    let l = log.clone();
    let c = Gc::downgrade_with(&g, move |_| l.push("callback c"));
    let d = Gc::downgrade_notify(&g, &listener, 2).unwrap();
    drop(g);
    assert_eq!(log.take(), ["listener 2", "callback c", "listener 1", "callback a"]);
    drop((a, b, c, d));
}

struct Panicking;

impl DeathListener for Panicking {
    fn object_died(&self, _: u64, _: *const ()) {
        panic!("listener panics");
    }
}

#[test]
fn a_panicking_listener_is_reported_and_the_others_still_run() {
    let rec = Arc::new(Recorder::default());
    let bad = Arc::new(Panicking);
    let drops = DropCounter::default();
    let g = Gc::new(drops.token());
    let first = Gc::downgrade_notify(&g, &rec, 1).unwrap();
    let second = Gc::downgrade_notify(&g, &bad, 2).unwrap();
    let ((), errors) = capture_errors(|| drop(g));
    assert!(errors.iter().any(|e| e.contains("listener panics")), "{errors:?}");
    assert_eq!(rec.seen.lock().unwrap().len(), 1);
    assert_eq!(drops.get(), 1);
    drop((first, second));
}

#[derive(Trace)]
struct Cyclic {
    me: GcCell<Option<Gc<Cyclic>>>,
}

#[test]
fn a_collected_cycle_notifies_its_listeners() {
    let heap = common::quiet_heap();
    let rec = Arc::new(Recorder::default());
    let g = Gc::new_in(Cyclic { me: GcCell::new(None) }, &heap);
    *g.me.write() = Some(g.clone());
    let w = Gc::downgrade_notify(&g, &rec, 7).unwrap();
    drop(g);
    assert!(rec.seen.lock().unwrap().is_empty());
    heap.collect();
    assert_eq!(rec.seen.lock().unwrap().len(), 1);
    assert!(w.upgrade().is_none());
}

#[test]
fn re_registering_after_cancelling_keeps_the_object_clean() {
    let rec = Arc::new(Recorder::default());
    let g = Gc::new(3u32);
    for token in 0..100 {
        drop(Gc::downgrade_notify(&g, &rec, token).unwrap());
    }
    let kept: Vec<_> = (100..110).map(|t| Gc::downgrade_notify(&g, &rec, t).unwrap()).collect();
    assert_eq!(Gc::weak_count(&g), 10);
    drop(g);
    let mut tokens: Vec<u64> = rec.seen.lock().unwrap().iter().map(|s| s.0).collect();
    tokens.sort();
    assert_eq!(tokens, (100..110).collect::<Vec<_>>());
    drop(kept);
}

#[test]
fn the_listener_runs_on_the_thread_of_the_last_drop() {
    struct Where(Mutex<Option<std::thread::ThreadId>>);
    impl DeathListener for Where {
        fn object_died(&self, _: u64, _: *const ()) {
            *self.0.lock().unwrap() = Some(std::thread::current().id());
        }
    }
    let place = Arc::new(Where(Mutex::new(None)));
    let g = Gc::new(1u32);
    let w = Gc::downgrade_notify(&g, &place, 0).unwrap();
    let id = std::thread::spawn(move || {
        drop(g);
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_eq!(*place.0.lock().unwrap(), Some(id));
    drop(w);
}

/// A member of a cycle whose `Drop` registers a listener on the other member, which the
/// collector has already condemned.
#[derive(Trace)]
struct Member {
    other: GcCell<Option<Gc<Member>>>,
    #[trace(skip)]
    rec: Arc<Recorder>,
    #[trace(skip)]
    refused: Arc<Mutex<Vec<bool>>>,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(other) = self.other.write().take() {
            let watch = Gc::downgrade_notify(&other, &self.rec, 9);
            self.refused.lock().unwrap().push(watch.is_none());
        }
    }
}

#[test]
fn registering_on_a_condemned_object_is_refused() {
    let heap = common::quiet_heap();
    let rec = Arc::new(Recorder::default());
    let refused = Arc::new(Mutex::new(Vec::new()));
    let make = || Member { other: GcCell::new(None), rec: rec.clone(), refused: refused.clone() };
    let a = Gc::new_in(make(), &heap);
    let b = Gc::new_in(make(), &heap);
    *a.other.write() = Some(b.clone());
    *b.other.write() = Some(a.clone());
    drop((a, b));
    heap.collect();
    let refused = refused.lock().unwrap().clone();
    assert!(!refused.is_empty(), "a Drop ran during the collection");
    assert!(refused.iter().all(|&r| r), "no registration on a condemned object");
    assert!(rec.seen.lock().unwrap().is_empty());
}

/// A listener that drops its own registration's last handle while it is being told: the
/// notification finishes on a registration that is now cancelled, and nothing else changes.
#[test]
fn a_listener_may_drop_its_own_handle_while_it_runs() {
    #[derive(Default)]
    struct DropsOwn {
        handle: Mutex<Option<weakling::Watch<u32>>>,
        told: Mutex<Vec<u64>>,
    }
    impl DeathListener for DropsOwn {
        fn object_died(&self, token: u64, _: *const ()) {
            let own = self.handle.lock().unwrap().take();
            assert!(own.as_ref().is_some_and(|w| w.upgrade().is_none()));
            drop(own);
            self.told.lock().unwrap().push(token);
        }
    }
    let listener = Arc::new(DropsOwn::default());
    let rec = Arc::new(Recorder::default());
    let g = Gc::new(4u32);
    let other = Gc::downgrade_notify(&g, &rec, 2).unwrap();
    *listener.handle.lock().unwrap() = Gc::downgrade_notify(&g, &listener, 1);
    drop(g);
    assert_eq!(*listener.told.lock().unwrap(), [1]);
    assert!(listener.handle.lock().unwrap().is_none());
    assert_eq!(rec.seen.lock().unwrap().len(), 1, "the older registration is still told");
    assert!(other.upgrade().is_none());
}
