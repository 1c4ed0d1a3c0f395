//! Death hooks (`Gc::on_death`): actions the heap owns until their object dies.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{capture_errors, quiet_heap, Log};
use weakling::{run_exit_hooks, DeathAction, Gc, GcCell, Trace};

/// Logs its name when it runs, and counts its drops.
#[derive(Clone)]
struct Say {
    log: Log,
    name: String,
    drops: Arc<AtomicUsize>,
}

impl Say {
    fn new(log: &Log, name: &str, drops: &Arc<AtomicUsize>) -> Say {
        Say { log: log.clone(), name: name.into(), drops: drops.clone() }
    }
}

impl DeathAction for Say {
    fn run(self) {
        if self.name.starts_with("panic") {
            panic!("{} fails", self.name);
        }
        self.log.push(self.name.clone());
    }
}

impl Drop for Say {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn hooks_and_callbacks_run_once_at_the_death_newest_first() {
    let (log, drops) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let obj = Gc::new(5_u32);
    let first = Gc::on_death(&obj, Say::new(&log, "first", &drops), false);
    let l = log.clone();
    let _weak = Gc::downgrade_with(&obj, move |_| l.push("callback"));
    let last = Gc::on_death(&obj, Say::new(&log, "last", &drops), false);
    assert!(first.is_pending() && last.is_pending());
    drop(obj);
    assert_eq!(log.take(), ["last", "callback", "first"]);
    assert!(!first.is_pending() && !last.is_pending());
    assert_eq!(drops.load(Ordering::SeqCst), 2, "each action dropped once, after running");
    assert!(first.cancel().is_none());
}

#[test]
fn cancel_detach_and_peek_take_or_copy_the_action_unrun() {
    let (log, drops) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let obj = Gc::new(String::from("obj"));
    let cancelled = Gc::on_death(&obj, Say::new(&log, "cancelled", &drops), false);
    let detached = Gc::on_death(&obj, Say::new(&log, "detached", &drops), false);
    let peeked = Gc::on_death(&obj, Say::new(&log, "peeked", &drops), false);

    let (o, copy) = peeked.peek().expect("pending, object alive");
    assert_eq!((o.as_str(), copy.name.as_str()), ("obj", "peeked"));
    drop((o, copy));
    assert!(peeked.is_pending(), "a peek leaves the hook in place");

    assert_eq!(cancelled.cancel().map(|s| s.name.clone()), Some("cancelled".into()));
    assert!(cancelled.cancel().is_none() && !cancelled.is_pending());
    let (o, action) = detached.detach().expect("pending, object alive");
    assert!(Gc::ptr_eq(&o, &obj));
    assert_eq!(action.name, "detached");
    drop((o, action));
    assert!(detached.detach().is_none());

    drop(obj);
    assert_eq!(log.take(), ["peeked"], "only the hook left in place ran");
    assert!(peeked.peek().is_none() && peeked.detach().is_none());
    assert_eq!(drops.load(Ordering::SeqCst), 4, "three actions and the peeked copy");
}

#[test]
fn a_key_finds_nothing_once_its_hook_ran_even_at_a_reused_address() {
    let (log, drops) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let old = Gc::new_leaf(1_u64);
    let addr = Gc::as_ptr(&old);
    let stale = Gc::on_death(&old, Say::new(&log, "old", &drops), true);
    drop(old);
    // Freed boxes are reused, most recent first: look for a new object at the old address.
    let mut kept = Vec::new();
    let new = loop {
        let candidate = Gc::new_leaf(2_u64);
        if Gc::as_ptr(&candidate) == addr || kept.len() == 1000 {
            break candidate;
        }
        kept.push(candidate);
    };
    let fresh = Gc::on_death(&new, Say::new(&log, "new", &drops), true);
    assert!(!stale.is_pending() && !stale.at_exit());
    assert!(stale.cancel().is_none() && stale.peek().is_none() && stale.detach().is_none());
    stale.set_at_exit(false);
    assert!(fresh.is_pending() && fresh.at_exit(), "the new object's hook is untouched");
    drop(new);
    assert_eq!(log.take(), ["old", "new"]);
}

#[test]
fn exit_runs_the_flagged_hooks_of_one_heap_newest_first_and_those_added_meanwhile() {
    let (log, drops) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let heap = quiet_heap();
    let other = quiet_heap();
    let a = Gc::new_in(1_u8, &heap);
    let b = Gc::new_in(2_u8, &heap);
    let elsewhere = Gc::new_in(3_u8, &other);
    let _older = Gc::on_death(&a, Say::new(&log, "older", &drops), true);
    let unflagged = Gc::on_death(&a, Say::new(&log, "unflagged", &drops), false);
    let cleared = Gc::on_death(&b, Say::new(&log, "cleared", &drops), true);
    cleared.set_at_exit(false);
    let _other_heap = Gc::on_death(&elsewhere, Say::new(&log, "other heap", &drops), true);

    /// Adds a flagged hook on its object when it runs.
    struct AddsOne(Gc<u8>, Say);
    impl DeathAction for AddsOne {
        fn run(self) {
            self.1.log.push("adds one");
            let added = Say::new(&self.1.log, "added", &self.1.drops);
            let _ = Gc::on_death(&self.0, added, true);
        }
    }
    let _adder = Gc::on_death(&b, AddsOne(b.clone(), Say::new(&log, "-", &drops)), true);

    run_exit_hooks(Some(heap.id()));
    assert_eq!(log.take(), ["adds one", "added", "older"]);
    assert!(unflagged.is_pending() && cleared.is_pending(), "unflagged hooks stay");
    run_exit_hooks(Some(heap.id()));
    assert!(log.take().is_empty(), "each ran once");
    assert_eq!(*a, 1, "the objects live on");
    drop((a, b));
    assert_eq!(log.take(), ["unflagged", "cleared"], "`a` dies first");
    run_exit_hooks(None);
    assert_eq!(log.take(), ["other heap"]);
    drop(elsewhere);
    assert!(log.take().is_empty());
}

#[test]
fn a_panicking_action_is_reported_and_the_others_run() {
    let (log, drops) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let obj = Gc::new(0_u8);
    let _a = Gc::on_death(&obj, Say::new(&log, "older", &drops), false);
    let _b = Gc::on_death(&obj, Say::new(&log, "panic here", &drops), false);
    let ((), errors) = capture_errors(|| drop(obj));
    assert_eq!(log.take(), ["older"]);
    let reported =
        |e: &String| e.contains("context=\"death hook\"") && e.contains("panic here fails");
    assert!(errors.iter().any(reported), "{errors:?}");
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A member of a cycle whose `Drop` adds a hook on the other member, which the collector is
/// tearing down by then.
#[derive(Trace)]
struct Member {
    other: GcCell<Option<Gc<Member>>>,
    #[trace(skip)]
    pending: Arc<Mutex<Vec<bool>>>,
    #[trace(skip)]
    log: Log,
    #[trace(skip)]
    drops: Arc<AtomicUsize>,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(other) = self.other.write().take() {
            let hook = Gc::on_death(&other, Say::new(&self.log, "late", &self.drops), true);
            self.pending.lock().unwrap().push(hook.is_pending());
        }
    }
}

#[test]
fn a_hook_on_an_object_being_torn_down_is_dropped_unrun() {
    let heap = quiet_heap();
    let (log, drops) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let pending = Arc::new(Mutex::new(Vec::new()));
    let make = || Member {
        other: GcCell::new(None),
        pending: pending.clone(),
        log: log.clone(),
        drops: drops.clone(),
    };
    let a = Gc::new_in(make(), &heap);
    let b = Gc::new_in(make(), &heap);
    *a.other.write() = Some(b.clone());
    *b.other.write() = Some(a.clone());
    drop((a, b));
    heap.collect();
    let pending = pending.lock().unwrap().clone();
    assert!(!pending.is_empty(), "a Drop ran during the collection");
    assert!(pending.iter().all(|&p| !p), "nothing registered on a torn-down object");
    assert_eq!(drops.load(Ordering::SeqCst), pending.len(), "each action dropped");
    run_exit_hooks(Some(heap.id()));
    assert!(log.take().is_empty());
}

#[test]
fn peeks_cancels_and_deaths_on_many_threads() {
    let rounds = common::scaled(2_000);
    let runs = Arc::new(AtomicUsize::new(0));
    /// Counts its runs.
    #[derive(Clone)]
    struct Count(Arc<AtomicUsize>, [u64; 4]);
    impl DeathAction for Count {
        fn run(self) {
            assert_eq!(self.1, [1, 2, 3, 4]);
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let cancelled = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(64);
        let runs2 = runs.clone();
        s.spawn(move || {
            for i in 0..rounds {
                let obj = Gc::new_leaf(i);
                let hook = Gc::on_death(&obj, Count(runs2.clone(), [1, 2, 3, 4]), i % 2 == 0);
                tx.send(hook).unwrap();
                drop(obj);
            }
        });
        let mut cancelled = 0;
        for hook in rx {
            if let Some((_, copy)) = hook.peek() {
                assert_eq!(copy.1, [1, 2, 3, 4]);
            }
            cancelled += usize::from(hook.cancel().is_some());
        }
        cancelled
    });
    assert_eq!(runs.load(Ordering::SeqCst) + cancelled, rounds, "each once");
}
