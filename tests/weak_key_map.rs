//! `WeakKeyMap` and `WeakKeyIdMap`: Python's `WeakKeyDictionary` behaviours, ephemeron keys,
//! and the map's own guarantees.

mod common;

use std::collections::HashMap;

use common::{DropCounter, DropToken};
use weakling::{Gc, GcCell, Trace, WeakKeyIdMap, WeakKeyMap};

#[test]
fn an_entry_and_its_value_go_with_the_key() {
    let drops = DropCounter::default();
    let map: WeakKeyMap<String, DropToken> = WeakKeyMap::new();
    let user = Gc::new(String::from("Alice"));
    assert!(map.insert(&user, Gc::new(drops.token())).is_none());
    assert_eq!(map.len(), 1);
    assert!(map.contains_key(&user));
    assert!(map.get(&user).is_some());
    drop(user);
    assert_eq!(map.len(), 0);
    assert_eq!(drops.get(), 1, "the value is dropped with its key");
}

#[test]
fn by_value_keeps_the_first_key_object_and_replaces_the_value() {
    let map: WeakKeyMap<String, u32> = WeakKeyMap::new();
    let first = Gc::new(String::from("k"));
    let equal = Gc::new(String::from("k"));
    map.insert(&first, Gc::new(1));
    let old = map.insert(&equal, Gc::new(2)).unwrap();
    assert_eq!(*old, 1);
    assert_eq!(map.len(), 1);
    assert_eq!(*map.get(&equal).unwrap(), 2);
    assert_eq!(*map.get(&first).unwrap(), 2);
    // The key object in the map is the first one: the equal one's death changes nothing.
    let stored = map.keys().next().unwrap();
    assert!(Gc::ptr_eq(&stored, &first));
    drop(stored);
    drop(equal);
    assert_eq!(*map.get(&first).unwrap(), 2);
    drop(first);
    assert!(map.is_empty());
}

#[test]
fn by_identity_tells_equal_objects_apart() {
    let map: WeakKeyIdMap<String, u32> = WeakKeyIdMap::new();
    let a = Gc::new(String::from("k"));
    let b = Gc::new(String::from("k"));
    map.insert(&a, Gc::new(1));
    map.insert(&b, Gc::new(2));
    assert_eq!(map.len(), 2);
    assert_eq!(*map.get(&a).unwrap(), 1);
    assert_eq!(*map.get(&b).unwrap(), 2);
    assert_eq!(*map.insert(&a, Gc::new(3)).unwrap(), 1);
    drop(a);
    assert_eq!(map.len(), 1);
    assert_eq!(*map.get(&b).unwrap(), 2);
}

/// Keys without `Hash`/`Eq` work by identity.
struct Opaque;
// SAFETY: no handles.
unsafe impl Trace for Opaque {
    const LEAF: bool = true;
    fn trace(&self, _: &mut weakling::Tracer<'_>) {}
}

#[test]
fn identity_keys_need_no_hash_or_eq() {
    let map: WeakKeyIdMap<Opaque, u32> = WeakKeyIdMap::new();
    let k = Gc::new(Opaque);
    map.insert(&k, Gc::new(1));
    assert_eq!(*map.get(&k).unwrap(), 1);
    assert_eq!(*map.remove(&k).unwrap(), 1);
    assert!(map.get(&k).is_none());
}

/// A key type that may hold handles, so the collector tracks it.
#[derive(Trace)]
struct Key {
    name: &'static str,
    #[trace(skip)]
    _token: Option<DropToken>,
    other: GcCell<Option<Gc<Key>>>,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.name == other.name
    }
}
impl Eq for Key {}
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

/// A value that refers to its own key: CPython's `d[k] = [k]`.
#[derive(Trace)]
struct Back {
    key: Vec<Gc<Key>>,
    #[trace(skip)]
    _token: Option<DropToken>,
}

#[test]
fn a_value_that_refers_to_its_key_does_not_keep_it_alive() {
    let heap = common::quiet_heap();
    let drops = DropCounter::default();
    let map: WeakKeyMap<Key, Back> = WeakKeyMap::new();
    let k =
        Gc::new_in(Key { name: "k", _token: Some(drops.token()), other: GcCell::new(None) }, &heap);
    let w = Gc::downgrade(&k);
    // d[k] = [k]
    map.insert(&k, Gc::new_in(Back { key: vec![k.clone()], _token: Some(drops.token()) }, &heap));
    drop(k);
    // Reference counting alone cannot free it: the value holds the key.
    assert_eq!(map.len(), 1);
    assert!(w.upgrade().is_some());
    // In CPython the entry would stay for the map's lifetime; here one collection frees the
    // key and its value, and the entry goes with them.
    heap.collect();
    assert!(w.upgrade().is_none());
    assert_eq!(map.len(), 0);
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_value_that_reaches_its_key_through_other_objects_is_freed_too() {
    let heap = common::quiet_heap();
    let drops = DropCounter::default();
    let map: WeakKeyIdMap<Key, Back> = WeakKeyIdMap::new();
    let k =
        Gc::new_in(Key { name: "k", _token: Some(drops.token()), other: GcCell::new(None) }, &heap);
    let middle = Gc::new_in(
        Key { name: "m", _token: Some(drops.token()), other: GcCell::new(Some(k.clone())) },
        &heap,
    );
    map.insert(&k, Gc::new_in(Back { key: vec![middle], _token: Some(drops.token()) }, &heap));
    let survivor =
        Gc::new_in(Key { name: "s", _token: Some(drops.token()), other: GcCell::new(None) }, &heap);
    map.insert(&survivor, Gc::new_in(Back { key: vec![], _token: Some(drops.token()) }, &heap));
    drop(k);
    heap.collect();
    assert_eq!(map.len(), 1, "the key held from outside stays");
    assert_eq!(drops.get(), 3);
    assert!(map.get(&survivor).is_some());
}

#[test]
fn a_leaf_key_still_takes_its_value_with_it() {
    let drops = DropCounter::default();
    let map: WeakKeyMap<u64, DropToken> = WeakKeyMap::new();
    let k = Gc::new(5u64);
    let v = Gc::new(drops.token());
    map.insert(&k, v.clone());
    drop(v);
    assert_eq!(drops.get(), 0, "the map keeps the value while the key lives");
    drop(k);
    assert_eq!(drops.get(), 1);
    assert!(map.is_empty());
}

#[test]
fn setdefault_popitem_retain_keyrefs_and_clear() {
    let map: WeakKeyMap<u32, u32> = WeakKeyMap::new();
    let keys: Vec<Gc<u32>> = (0..10).map(Gc::new).collect();
    for k in &keys {
        let v = map.get_or_insert_with(k, || Gc::new(**k * 10));
        assert_eq!(*v, **k * 10);
        let again = map.get_or_insert_with(k, || unreachable!("present"));
        assert!(Gc::ptr_eq(&v, &again));
    }
    assert_eq!(map.len(), 10);
    map.retain(|k, v| {
        assert_eq!(**v, **k * 10);
        **k < 6
    });
    assert_eq!(map.len(), 6);
    let refs = map.keyrefs();
    assert_eq!(refs.len(), 6);
    assert!(refs.iter().all(|r| !r.has_callback()));
    let (k, v) = map.pop_any().unwrap();
    assert_eq!(*v, *k * 10);
    assert!(!map.contains_key(&k));
    assert_eq!(map.values().count(), 5);
    map.clear();
    assert!(map.is_empty());
    assert!(map.pop_any().is_none());
}

#[test]
fn construction_equality_and_copies() {
    let keys: Vec<Gc<String>> = ["a", "b", "c"].iter().map(|s| Gc::new(s.to_string())).collect();
    let plain: HashMap<Gc<String>, Gc<usize>> =
        keys.iter().map(|k| (k.clone(), Gc::new(k.len()))).collect();
    let a: WeakKeyMap<String, usize> = WeakKeyMap::from(&plain);
    let b: WeakKeyMap<String, usize> = a.iter().collect();
    let c = a.clone();
    assert_eq!(a, b);
    assert_eq!(a, c);
    c.insert(&keys[0], Gc::new(99));
    assert_ne!(a, c);
    let mut d: WeakKeyMap<String, usize> = WeakKeyMap::new();
    d.extend(a.iter());
    assert_eq!(a, d);
    assert_eq!(a.to_map().len(), 3);
    drop(plain);
    assert_eq!(a.len(), 3, "values live through their keys, not through the plain map");
    drop(keys);
    assert!(a.is_empty() && b.is_empty() && c.is_empty() && d.is_empty());
    let one = Gc::new(String::from("x"));
    let e: WeakKeyMap<String, usize> = WeakKeyMap::new();
    e.insert(&one, Gc::new(1));
    assert_eq!(format!("{e:?}"), r#"{"x": 1}"#);
}

#[test]
fn iteration_tolerates_deaths_and_changes() {
    let map: WeakKeyIdMap<u32, u32> = WeakKeyIdMap::new();
    let mut keys: Vec<Option<Gc<u32>>> = (0..100).map(|i| Some(Gc::new(i))).collect();
    for k in keys.iter().flatten() {
        map.insert(k, Gc::new(**k));
    }
    let mut seen = Vec::new();
    for (k, v) in map.iter() {
        assert_eq!(*k, *v);
        seen.push(*k);
        keys[(*k as usize * 13 + 1) % 100] = None;
        let fresh = Gc::new(500);
        map.insert(&fresh, Gc::new(500));
        let _ = map.len();
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len());
    for (i, k) in keys.iter().enumerate() {
        if k.is_some() {
            assert!(seen.contains(&(i as u32)));
        }
    }
    assert_eq!(map.len(), keys.iter().flatten().count());
}

#[test]
fn the_map_is_not_kept_alive_by_its_callbacks() {
    let map: WeakKeyMap<u32, u32> = WeakKeyMap::new();
    let k = Gc::new(1);
    map.insert(&k, Gc::new(2));
    assert_eq!(Gc::weak_count(&k), 2, "the entry's handle and the attachment's");
    drop(map);
    assert_eq!(Gc::weak_count(&k), 0);
}
