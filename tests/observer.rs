//! The observer registry (`weakling::observer`): the seeds' sequence, order, reentrancy,
//! panics, counters and threads.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{capture_errors, scaled, Log};
use weakling::observer::{Observer, Subject, Subscription};
use weakling::Gc;

struct Named {
    name: &'static str,
    log: Log,
}

impl Observer<String> for Named {
    fn notify(&self, event: &String) {
        self.log.push(format!("{} received: {event}", self.name));
    }
}

fn named(name: &'static str, log: &Log) -> Gc<Named> {
    Gc::new_leaf(Named { name, log: log.clone() })
}

#[test]
fn the_seeds_sequence_a_deleted_observer_stops_receiving() {
    let log = Log::default();
    let subject = Subject::new();
    let obs1 = named("Observer1", &log);
    let obs2 = named("Observer2", &log);
    let _s1 = subject.subscribe(&obs1);
    let _s2 = subject.subscribe(&obs2);
    assert_eq!(subject.emit(&"Hello".to_string()), 2);
    assert_eq!(log.take(), ["Observer1 received: Hello", "Observer2 received: Hello"]);
    drop(obs1);
    assert_eq!(subject.len(), 1);
    assert_eq!(subject.emit(&"World".to_string()), 1);
    assert_eq!(log.take(), ["Observer2 received: World"]);
    let stats = subject.stats();
    assert_eq!((stats.delivered, stats.pruned, stats.panics), (3, 1, 0));
}

#[test]
fn delivery_follows_subscription_order_across_objects_and_weak_methods() {
    let log = Log::default();
    let subject = Subject::new();
    let a = named("a", &log);
    let b = named("b", &log);
    let _sa = subject.subscribe(&a);
    let _sm = subject
        .subscribe_fn(&b, |b: &Named, e: &String| b.log.push(format!("method of {}: {e}", b.name)));
    let _sb = subject.subscribe(&b);
    let _sa2 = subject.subscribe(&a);
    subject.emit(&"x".to_string());
    assert_eq!(log.take(), ["a received: x", "method of b: x", "b received: x", "a received: x"]);
}

#[test]
fn dropping_the_handle_keeps_the_subscription_and_unsubscribe_ends_it_once() {
    let log = Log::default();
    let subject = Subject::new();
    let a = named("a", &log);
    let b = named("b", &log);
    drop(subject.subscribe(&a));
    let sb = subject.subscribe(&b);
    assert!(sb.is_active());
    assert!(sb.unsubscribe());
    assert!(!sb.unsubscribe());
    assert!(!sb.is_active());
    subject.emit(&"x".to_string());
    assert_eq!(log.take(), ["a received: x"]);
    // A subscription whose subscriber died is no longer active.
    let sa = subject.subscribe(&a);
    drop(a);
    assert!(!sa.is_active());
    assert_eq!(subject.emit(&"y".to_string()), 0);
    assert!(!sa.unsubscribe(), "already pruned");
}

/// An observer that changes the subject while it receives.
struct Meddler {
    subject: Subject<String>,
    log: Log,
    /// Subscribed during a delivery.
    newcomer: Gc<Named>,
    /// Unsubscribed during a delivery (it comes later in the list).
    victim: Mutex<Option<Subscription<String>>>,
    /// Dropped during a delivery (it comes later in the list).
    doomed: Mutex<Option<Gc<Named>>>,
    /// This observer's own last handle, dropped during its delivery.
    me: Mutex<Option<Gc<Meddler>>>,
    depth: AtomicUsize,
    kept: Mutex<Vec<Subscription<String>>>,
}

impl Observer<String> for Meddler {
    fn notify(&self, event: &String) {
        self.log.push(format!("meddler received: {event}"));
        if self.depth.fetch_add(1, Ordering::SeqCst) == 0 {
            self.kept.lock().unwrap().push(self.subject.subscribe(&self.newcomer));
            if let Some(s) = self.victim.lock().unwrap().take() {
                assert!(s.unsubscribe());
            }
            drop(self.doomed.lock().unwrap().take());
            // Emitting again from inside a delivery: the nested emit runs to the end first.
            self.subject.emit(&format!("{event} (nested)"));
            drop(self.me.lock().unwrap().take());
        }
        self.depth.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn subscribing_unsubscribing_dropping_and_emitting_from_inside_a_delivery() {
    let log = Log::default();
    let subject = Subject::new();
    let first = named("first", &log);
    let victim = named("victim", &log);
    let doomed = named("doomed", &log);
    let last = named("last", &log);
    let newcomer = named("newcomer", &log);
    let meddler = Gc::new_leaf(Meddler {
        subject: subject.clone(),
        log: log.clone(),
        newcomer: newcomer.clone(),
        victim: Mutex::new(None),
        doomed: Mutex::new(Some(doomed.clone())),
        me: Mutex::new(None),
        depth: AtomicUsize::new(0),
        kept: Mutex::new(Vec::new()),
    });
    let _s = subject.subscribe(&first);
    let _m = subject.subscribe(&meddler);
    *meddler.victim.lock().unwrap() = Some(subject.subscribe(&victim));
    let _d = subject.subscribe(&doomed);
    let _l = subject.subscribe(&last);
    drop(doomed);
    *meddler.me.lock().unwrap() = Some(meddler.clone());
    let watch = Gc::downgrade(&meddler);
    drop(meddler);

    subject.emit(&"one".to_string());
    assert_eq!(
        log.take(),
        [
            "first received: one",
            "meddler received: one",
            // The nested emit sees the changes: the newcomer, no victim, no doomed.
            "first received: one (nested)",
            "meddler received: one (nested)",
            "last received: one (nested)",
            "newcomer received: one (nested)",
            // Back in the outer emit: victim and doomed were removed before their turn,
            // the newcomer came after it began.
            "last received: one",
        ]
    );
    assert!(watch.upgrade().is_none(), "the meddler dropped itself after its delivery");
    subject.emit(&"two".to_string());
    assert_eq!(log.take(), ["first received: two", "last received: two", "newcomer received: two"]);
    assert_eq!(subject.len(), 3);
}

struct Faulty;

impl Observer<String> for Faulty {
    fn notify(&self, event: &String) {
        panic!("observer fails on {event}");
    }
}

#[test]
fn a_panicking_subscriber_is_reported_and_the_others_still_receive() {
    let log = Log::default();
    let subject = Subject::new();
    let a = named("a", &log);
    let faulty = Gc::new_leaf(Faulty);
    let b = named("b", &log);
    let _sa = subject.subscribe(&a);
    let _sf = subject.subscribe(&faulty);
    let _sb = subject.subscribe(&b);
    let (delivered, errors) = capture_errors(|| subject.emit(&"e".to_string()));
    assert_eq!(delivered, 2);
    assert_eq!(log.take(), ["a received: e", "b received: e"]);
    assert!(errors.iter().any(|e| e.contains("observer fails on e")), "{errors:?}");
    assert_eq!(subject.stats().panics, 1);
    // Still subscribed, still usable.
    let (delivered, _) = capture_errors(|| subject.emit(&"f".to_string()));
    assert_eq!(delivered, 2);
    assert_eq!(subject.stats().panics, 2);
    assert_eq!(log.take(), ["a received: f", "b received: f"]);
}

#[test]
fn dead_subscribers_of_a_quiet_subject_are_swept_as_it_grows() {
    let subject = Subject::<String>::new();
    let log = Log::default();
    let keep = named("kept", &log);
    let _k = subject.subscribe(&keep);
    for _ in 0..100 {
        let gone = named("gone", &log);
        drop(subject.subscribe(&gone));
    }
    assert_eq!(subject.len(), 1);
    assert!(subject.stats().pruned > 80, "swept on subscribe: {:?}", subject.stats());
    assert_eq!(subject.emit(&"x".to_string()), 1);
}

struct Counter(AtomicUsize);

impl Observer<u64> for Counter {
    fn notify(&self, _: &u64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn emitting_subscribing_and_dropping_from_several_threads() {
    let subject = Subject::<u64>::new();
    let stable: Vec<Gc<Counter>> =
        (0..8).map(|_| Gc::new_leaf(Counter(AtomicUsize::new(0)))).collect();
    for c in &stable {
        let _ = subject.subscribe(c);
    }
    let rounds = scaled(2_000);
    let total = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for t in 0..2 {
            let (subject, total) = (subject.clone(), total.clone());
            scope.spawn(move || {
                for i in 0..rounds {
                    total.fetch_add(subject.emit(&((t * rounds + i) as u64)), Ordering::Relaxed);
                }
            });
        }
        for _ in 0..2 {
            let subject = subject.clone();
            scope.spawn(move || {
                for i in 0..rounds {
                    let c = Gc::new_leaf(Counter(AtomicUsize::new(0)));
                    let s = subject.subscribe(&c);
                    if i % 3 == 0 {
                        s.unsubscribe();
                    }
                    if i % 2 == 0 {
                        drop(c);
                    } else {
                        // Handed to another thread and dropped there.
                        std::thread::spawn(move || drop(c)).join().unwrap();
                    }
                }
            });
        }
    });
    // Every emit reached every stable subscriber.
    for c in &stable {
        assert_eq!(c.0.load(Ordering::Relaxed), 2 * rounds);
    }
    assert_eq!(subject.stats().delivered as usize, total.load(Ordering::Relaxed));
    assert_eq!(subject.len(), stable.len());
}
