//! Threads clone, drop and upgrade shared objects while others drop the last handles.
//!
//! Checked at the end, once every thread is done: every object's value was dropped exactly
//! once, every death callback fired exactly once, no upgrade ever saw a dropped value, and
//! the heap's books balance. CI also runs this under valgrind (smaller, via
//! `WEAKLING_TEST_SCALE`), where any read of freed memory or leak fails the run.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use weakling::{Gc, Heap, Trace, Tracer, Weak};

struct Obj {
    id: usize,
    dropped: AtomicBool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Obj {
    fn drop(&mut self) {
        assert!(!self.dropped.swap(true, Ordering::SeqCst), "value {} dropped twice", self.id);
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: owns no handles.
unsafe impl Trace for Obj {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

/// A tiny deterministic generator, one per thread.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }
}

#[test]
fn threads_share_clone_upgrade_and_drop_last_handles() {
    const SLOTS: usize = 32;
    let threads = 4;
    let ops = common::scaled(40_000);
    let heap = Heap::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let fired = Arc::new(AtomicUsize::new(0));
    let created = AtomicUsize::new(0);
    let strong: Vec<Mutex<Option<Gc<Obj>>>> = (0..SLOTS).map(|_| Mutex::new(None)).collect();
    let weak: Vec<Mutex<Weak<Obj>>> = (0..SLOTS).map(|_| Mutex::new(Weak::new())).collect();
    // Callback handles are kept to the end so that every registration must fire.
    let registrations = Mutex::new(Vec::new());
    let barrier = Barrier::new(threads);

    std::thread::scope(|s| {
        for t in 0..threads {
            let (heap, drops, fired, created) = (&heap, &drops, &fired, &created);
            let (strong, weak, registrations, barrier) = (&strong, &weak, &registrations, &barrier);
            s.spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                let mut held: Vec<Gc<Obj>> = Vec::new();
                barrier.wait();
                for _ in 0..ops {
                    let i = rng.next() % SLOTS;
                    match rng.next() % 6 {
                        0 => {
                            let id = created.fetch_add(1, Ordering::SeqCst);
                            let obj = Gc::new_in(
                                Obj { id, dropped: AtomicBool::new(false), drops: drops.clone() },
                                heap,
                            );
                            let f = fired.clone();
                            let w = Gc::downgrade_with(&obj, move |dead| {
                                assert!(dead.upgrade().is_none());
                                f.fetch_add(1, Ordering::SeqCst);
                            });
                            registrations.lock().unwrap().push(w);
                            *weak[i].lock().unwrap() = Gc::downgrade(&obj);
                            // The old object may die here, on this thread, while others use it.
                            let old = strong[i].lock().unwrap().replace(obj);
                            drop(old);
                        }
                        1 | 2 => {
                            if let Some(g) = strong[i].lock().unwrap().as_ref() {
                                held.push(g.clone());
                            }
                        }
                        3 => {
                            let w = weak[i].lock().unwrap().clone();
                            if let Some(g) = w.upgrade() {
                                assert!(
                                    !g.dropped.load(Ordering::SeqCst),
                                    "upgraded to a dropped value"
                                );
                                held.push(g);
                            }
                        }
                        4 => {
                            let taken = strong[i].lock().unwrap().take();
                            drop(taken);
                        }
                        _ => {
                            // Drop a held handle, often the last one.
                            if !held.is_empty() {
                                let k = rng.next() % held.len();
                                let g = held.swap_remove(k);
                                assert!(!g.dropped.load(Ordering::SeqCst));
                                drop(g);
                            }
                        }
                    }
                }
            });
        }
    });

    for slot in &strong {
        slot.lock().unwrap().take();
    }
    let created = created.load(Ordering::SeqCst);
    assert!(created > 0);
    assert_eq!(drops.load(Ordering::SeqCst), created, "each value dropped exactly once");
    assert_eq!(fired.load(Ordering::SeqCst), created, "each callback fired exactly once");
    let counts = heap.counts();
    assert_eq!(
        (counts.allocations, counts.frees, counts.live),
        (created as u64, created as u64, 0)
    );
    let registrations = registrations.into_inner().unwrap();
    assert!(registrations.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn racing_last_drops_and_cancellations_fire_each_callback_at_most_once() {
    let rounds = common::scaled(20_000);
    let fired = Arc::new(AtomicUsize::new(0));
    let mut kept = 0;
    for round in 0..rounds {
        let g1 = Gc::new(round);
        let g2 = g1.clone();
        let f = fired.clone();
        let w = Gc::downgrade_with(&g1, move |_| {
            f.fetch_add(1, Ordering::SeqCst);
        });
        let keep = round % 2 == 0;
        let other = std::thread::spawn(move || {
            drop(g2);
            if keep {
                Some(w)
            } else {
                drop(w);
                None
            }
        });
        drop(g1);
        if other.join().unwrap().is_some() {
            kept += 1;
        }
    }
    let fired = fired.load(Ordering::SeqCst);
    assert!(fired >= kept, "every kept registration fired ({fired} < {kept})");
    assert!(fired <= rounds, "no callback fired twice");
}

#[derive(weakling::Trace)]
struct Tracked {
    #[trace(skip)]
    #[allow(dead_code)] // held only to count drops
    token: common::DropToken,
    next: weakling::GcCell<Option<Gc<Tracked>>>,
}

#[test]
fn tracked_objects_made_on_one_thread_die_on_another() {
    // New tracked objects sit on their maker's nursery; here most die on another thread,
    // racing the maker's flushes, and some survive the flush onto the heap's lists first.
    let heap = Heap::new();
    let drops = common::DropCounter::default();
    let rounds = common::scaled(200);
    let per_round = 300;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Gc<Tracked>>>(4);
    std::thread::scope(|s| {
        let (heap, drops) = (&heap, &drops);
        s.spawn(move || {
            for batch in rx {
                drop(batch);
            }
        });
        s.spawn(move || {
            let mut kept = Vec::new();
            for round in 0..rounds {
                let mut batch = Vec::with_capacity(per_round);
                for i in 0..per_round {
                    let obj = Gc::new_in(
                        Tracked {
                            token: drops.token(),
                            next: weakling::GcCell::new(batch.last().cloned()),
                        },
                        heap,
                    );
                    if i % 50 == 0 {
                        kept.push(obj.clone());
                    }
                    batch.push(obj);
                }
                tx.send(batch).unwrap();
                if round % 3 == 0 {
                    kept.clear();
                }
            }
        });
    });
    let expected = rounds * per_round;
    assert_eq!(drops.get(), expected);
    let c = heap.counts();
    assert_eq!(
        (c.allocations, c.frees, c.live, c.tracked),
        (expected as u64, expected as u64, 0, 0)
    );
}
