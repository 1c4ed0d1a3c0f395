//! A panicking `Hash` or `Eq` leaves every weak collection consistent and usable (as
//! hashbrown's `hasher_unwind` test checks for its tables).

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

use weakling::{Gc, WeakKeyMap, WeakSet, WeakValueMap};

thread_local! {
    static PANIC_IN_HASH: Cell<bool> = const { Cell::new(false) };
    static PANIC_IN_EQ: Cell<bool> = const { Cell::new(false) };
}

/// A key whose hashes all collide (so every lookup compares), and whose `Hash` or `Eq`
/// panics on demand.
#[derive(Debug, Clone)]
struct Touchy(u32);

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if PANIC_IN_HASH.with(Cell::get) {
            panic!("Hash panics");
        }
        0u8.hash(state);
    }
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Touchy) -> bool {
        if PANIC_IN_EQ.with(Cell::get) {
            panic!("Eq panics");
        }
        self.0 == other.0
    }
}

impl Eq for Touchy {}

/// Runs `f` with `flag` set; it must panic.
fn panics_with(flag: &'static std::thread::LocalKey<Cell<bool>>, f: impl FnOnce()) {
    flag.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    flag.with(|c| c.set(false));
    assert!(result.is_err(), "the operation ran the panicking code");
}

#[test]
fn value_map_survives_panicking_hash_and_eq() {
    let map: WeakValueMap<Touchy, u32> = WeakValueMap::new();
    let values: Vec<Gc<u32>> = (0..8).map(Gc::new).collect();
    for v in &values {
        map.insert(Touchy(**v), v);
    }
    let extra = Gc::new(100);
    for flag in [&PANIC_IN_HASH, &PANIC_IN_EQ] {
        panics_with(flag, || drop(map.insert(Touchy(100), &extra)));
        panics_with(flag, || drop(map.insert(Touchy(3), &extra)));
        panics_with(flag, || drop(map.get(&Touchy(3))));
        panics_with(flag, || drop(map.remove(&Touchy(3))));
        panics_with(flag, || drop(map.get_or_insert(Touchy(100), &extra)));
    }
    // Nothing changed, nothing leaked: the interrupted inserts' callbacks are cancelled.
    assert_eq!(map.len(), 8);
    assert_eq!(Gc::weak_count(&extra), 0);
    for v in &values {
        assert!(Gc::ptr_eq(&map.get(&Touchy(**v)).unwrap(), v));
    }
    // And it still works: inserts, removals, deaths.
    map.insert(Touchy(100), &extra);
    assert_eq!(map.len(), 9);
    drop(values);
    assert_eq!(map.len(), 1);
    drop(extra);
    assert!(map.is_empty());
}

#[test]
fn key_map_and_set_survive_panicking_hash_and_eq() {
    let map: WeakKeyMap<Touchy, u32> = WeakKeyMap::new();
    let set: WeakSet<Touchy> = WeakSet::new();
    let keys: Vec<Gc<Touchy>> = (0..8).map(|i| Gc::new_leaf(Touchy(i))).collect();
    for k in &keys {
        map.insert(k, Gc::new(k.0));
        set.insert(k);
    }
    let other = Gc::new_leaf(Touchy(3)); // equal to a present key
    let fresh = Gc::new_leaf(Touchy(100));
    for flag in [&PANIC_IN_HASH, &PANIC_IN_EQ] {
        for k in [&other, &fresh] {
            panics_with(flag, || drop(map.insert(k, Gc::new(0))));
            panics_with(flag, || drop(map.get(k)));
            panics_with(flag, || drop(map.remove(k)));
            panics_with(flag, || drop(map.get_or_insert_with(k, || Gc::new(0))));
            panics_with(flag, || {
                set.insert(k);
            });
            panics_with(flag, || {
                let _ = set.contains(k);
            });
            panics_with(flag, || {
                set.remove(k);
            });
        }
    }
    assert_eq!(map.len(), 8);
    assert_eq!(set.len(), 8);
    assert_eq!(Gc::weak_count(&fresh), 0);
    assert_eq!(Gc::weak_count(&other), 0);
    for k in &keys {
        assert_eq!(*map.get(k).unwrap(), k.0);
        assert!(set.contains(k));
    }
    assert_eq!(*map.get(&other).unwrap(), 3, "equal keys still find the entry");
    drop(keys);
    assert!(map.is_empty() && set.is_empty());
    map.insert(&fresh, Gc::new(1));
    set.insert(&fresh);
    assert_eq!((map.len(), set.len()), (1, 1));
}
