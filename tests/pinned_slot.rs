//! `PinnedSlot`: a value borrowed under read pins, replaced while borrowed, and dropped once
//! the pins that may read it have ended.
//!
//! Pins are process-wide, so every test takes `common::serial`: a pin held by a test running beside
//! another would hold that test's drops back too.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use common::{serial, DropCounter, DropToken};
use weakling::{read_pin, PinnedSlot};

#[test]
fn an_empty_slot_loads_nothing_and_a_filled_one_its_value() {
    let _serial = serial();
    let slot = PinnedSlot::<String>::empty();
    assert!(slot.load(&read_pin()).is_none());
    assert!(!slot.clear());
    assert_eq!(format!("{slot:?}"), "PinnedSlot { empty: true, .. }");
    assert!(!slot.replace(Some("one".to_string())));
    assert_eq!(slot.load(&read_pin()).map(String::as_str), Some("one"));
    assert!(slot.replace(None));
    assert!(slot.load(&read_pin()).is_none());
    assert!(PinnedSlot::<u8>::default().load(&read_pin()).is_none());
}

#[test]
fn without_pins_a_replaced_value_is_dropped_at_once() {
    let _serial = serial();
    let drops = DropCounter::default();
    let slot = PinnedSlot::new(drops.token());
    assert!(slot.replace(Some(drops.token())));
    assert_eq!(drops.get(), 1);
    assert!(slot.clear());
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_value_replaced_under_a_pin_is_dropped_when_the_pin_ends() {
    let _serial = serial();
    let drops = DropCounter::default();
    let slot = PinnedSlot::new((1_u32, drops.token()));
    let pin = read_pin();
    let old = slot.load(&pin).expect("filled");
    slot.replace(Some((2, drops.token())));
    // Readers load the new value at once...
    assert_eq!(slot.load(&pin).expect("filled").0, 2);
    // ...and the old one stays readable, undropped, while the pin lasts.
    assert_eq!(old.0, 1);
    assert_eq!(drops.get(), 0);
    drop(pin);
    assert_eq!(drops.get(), 1);
    drop(slot);
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_slot_dropped_under_a_pin_keeps_its_value_until_the_pin_ends() {
    let _serial = serial();
    let drops = DropCounter::default();
    let slot = PinnedSlot::new(drops.token());
    let pin = read_pin();
    let value: &DropToken = slot.load(&pin).expect("filled");
    drop(slot);
    let _still_readable = value;
    assert_eq!(drops.get(), 0);
    drop(pin);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_published_value_stays_borrowed_when_it_is_replaced_at_once() {
    let _serial = serial();
    let drops = DropCounter::default();
    let slot = PinnedSlot::empty();
    let pin = read_pin();
    let mine = slot.replace_and_load((7_u8, drops.token()), &pin);
    slot.clear();
    assert_eq!(mine.0, 7);
    assert_eq!(drops.get(), 0);
    drop(pin);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_pin_on_another_thread_holds_a_replaced_value_back() {
    let _serial = serial();
    let drops = DropCounter::default();
    let slot = Arc::new(PinnedSlot::new(drops.token()));
    let (loaded_tx, loaded_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let reader = thread::spawn({
        let slot = slot.clone();
        move || {
            let pin = read_pin();
            let value = slot.load(&pin).expect("filled");
            loaded_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            let _still_readable: &DropToken = value;
        }
    });
    loaded_rx.recv().unwrap();
    slot.replace(None);
    assert_eq!(drops.get(), 0, "the other thread's pin may still read it");
    go_tx.send(()).unwrap();
    reader.join().unwrap();
    assert_eq!(drops.get(), 1);
}

/// A value whose parts must agree: a torn or dropped value would show as a mismatch.
struct Checked {
    n: u64,
    twice: u64,
    dropped: Arc<AtomicU64>,
}

impl Drop for Checked {
    fn drop(&mut self) {
        assert_eq!(self.twice, self.n * 2);
        self.twice = u64::MAX;
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn readers_and_writers_on_several_threads() {
    let _serial = serial();
    let scale: u64 =
        std::env::var("WEAKLING_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let rounds = 20 * scale;
    let dropped = Arc::new(AtomicU64::new(0));
    let slot = Arc::new(PinnedSlot::new(Checked { n: 0, twice: 0, dropped: dropped.clone() }));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (slot, done) = (slot.clone(), done.clone());
            thread::spawn(move || {
                let mut seen = 0_u64;
                while !done.load(Ordering::Acquire) {
                    let pin = read_pin();
                    if let Some(v) = slot.load(&pin) {
                        thread::yield_now();
                        assert_eq!(v.twice, v.n * 2, "a value read under a pin is whole");
                        seen += 1;
                    }
                }
                seen
            })
        })
        .collect();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (slot, dropped) = (slot.clone(), dropped.clone());
            thread::spawn(move || {
                for i in 1..=rounds {
                    let n = i * 2 + w;
                    if i % 7 == 0 {
                        slot.clear();
                    } else {
                        slot.replace(Some(Checked { n, twice: n * 2, dropped: dropped.clone() }));
                    }
                }
            })
        })
        .collect();
    let made = 1 + 2 * (rounds - rounds / 7);
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    drop(Arc::try_unwrap(slot).expect("the threads are gone"));
    assert_eq!(dropped.load(Ordering::SeqCst), made, "every value dropped once");
}
