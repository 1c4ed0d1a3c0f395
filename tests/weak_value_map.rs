//! `WeakValueMap`: Python's `WeakValueDictionary` behaviours, and the map's own guarantees.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::{DropCounter, DropToken};
use weakling::{Gc, Trace, Tracer, WeakValueMap};

#[test]
fn an_entry_lives_as_long_as_its_value() {
    let map: WeakValueMap<u32, String> = WeakValueMap::new();
    let a = Gc::new(String::from("a"));
    assert!(map.insert(1, &a).is_none());
    assert_eq!(map.len(), 1);
    assert!(Gc::ptr_eq(&map.get(&1).unwrap(), &a));
    assert!(map.contains_key(&1));
    assert!(!map.contains_key(&2));
    drop(a);
    // Removed by the death callback, before any other map operation.
    assert_eq!(map.len(), 0);
    assert!(map.is_empty());
    assert!(map.get(&1).is_none());
    assert!(!map.contains_key(&1));
}

#[test]
fn lookups_borrow_the_key() {
    let map: WeakValueMap<String, u32> = WeakValueMap::new();
    let v = Gc::new(7);
    map.insert("seven".to_string(), &v);
    assert_eq!(*map.get("seven").unwrap(), 7);
    assert_eq!(*map.remove("seven").unwrap(), 7);
    assert!(map.get("seven").is_none());
}

#[test]
fn a_replaced_value_dying_later_leaves_the_new_entry() {
    let map: WeakValueMap<u32, u32> = WeakValueMap::new();
    let old = Gc::new(1);
    let new = Gc::new(2);
    map.insert(7, &old);
    let replaced = map.insert(7, &new).expect("the old value was alive");
    assert!(Gc::ptr_eq(&replaced, &old));
    drop(replaced);
    drop(old);
    assert_eq!(map.len(), 1);
    assert!(Gc::ptr_eq(&map.get(&7).unwrap(), &new));
    drop(new);
    assert!(map.is_empty());
}

#[test]
fn one_value_under_several_keys_vanishes_from_all() {
    let map: WeakValueMap<u32, u32> = WeakValueMap::new();
    let v = Gc::new(5);
    for k in 0..10 {
        map.insert(k, &v);
    }
    assert_eq!(map.len(), 10);
    assert_eq!(Gc::weak_count(&v), 10);
    drop(v);
    assert_eq!(map.len(), 0);
}

/// Hashes every key to `key >> 8 << 32 | 0x10`: keys that differ only above their low byte
/// land in one shard and one probe group with one 7-bit tag, so the table itself cannot tell
/// their entries apart before the full hash is compared.
#[derive(Clone, Default)]
struct CollidingTags;

impl std::hash::BuildHasher for CollidingTags {
    type Hasher = CollidingTagsHasher;
    fn build_hasher(&self) -> CollidingTagsHasher {
        CollidingTagsHasher(0)
    }
}

struct CollidingTagsHasher(u64);

impl std::hash::Hasher for CollidingTagsHasher {
    fn finish(&self) -> u64 {
        self.0 >> 8 << 32 | 0x10
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0 << 8 | u64::from(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

#[test]
fn one_value_under_keys_whose_hashes_share_their_tag_vanishes_from_all() {
    // A death finds its entry by the key's full hash and the value's identity: with one value
    // under several keys, the identity alone would match the wrong key's entry.
    let map: WeakValueMap<u32, u32, CollidingTags> = WeakValueMap::with_hasher(CollidingTags);
    let keys = [0x100, 0x200, 0x300, 0x400];
    let v = Gc::new(5);
    for k in keys {
        map.insert(k, &v);
    }
    let w = Gc::new(6);
    map.insert(0x500, &w);
    assert_eq!(map.len(), 5);
    drop(v);
    assert_eq!(map.len(), 1, "every entry of the dead value goes, and only those");
    assert_eq!(map.get(&0x500), Some(w.clone()));
    for k in keys {
        map.insert(k, &w);
    }
    drop(w);
    assert!(map.is_empty());
}

#[test]
fn removing_an_entry_cancels_its_callback() {
    let map: WeakValueMap<u32, u32> = WeakValueMap::new();
    let v = Gc::new(5);
    map.insert(1, &v);
    assert_eq!(Gc::weak_count(&v), 1);
    assert!(Gc::ptr_eq(&map.remove(&1).unwrap(), &v));
    assert_eq!(Gc::weak_count(&v), 0);
    assert!(map.remove(&1).is_none());
    // Re-inserted under the same key after removal: the entry is the new one's.
    map.insert(1, &v);
    drop(v);
    assert!(map.is_empty());
}

#[test]
fn the_map_is_not_kept_alive_by_its_callbacks() {
    let drops = DropCounter::default();
    let map: WeakValueMap<u32, DropToken> = WeakValueMap::new();
    let v = Gc::new(drops.token());
    map.insert(1, &v);
    assert_eq!(Gc::weak_count(&v), 1);
    drop(map);
    // Dropping the map cancelled the registration: nothing of it remains on the value.
    assert_eq!(Gc::weak_count(&v), 0);
    drop(v);
    assert_eq!(drops.get(), 1);
}

/// A value whose `Drop` uses the map that holds it: it runs after the callback removed the
/// entry, with no lock held.
/// Where a value finds the map that holds it.
type MapSlot = Arc<Mutex<Option<Arc<WeakValueMap<u32, Reentrant>>>>>;

struct Reentrant {
    map: MapSlot,
    log: Arc<Mutex<Vec<usize>>>,
}

// SAFETY: no handles inside (the map holds its values weakly).
unsafe impl Trace for Reentrant {
    const LEAF: bool = true;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        if let Some(map) = self.map.lock().unwrap().as_ref() {
            let other = Gc::new(Reentrant { map: Arc::default(), log: self.log.clone() });
            map.insert(99, &other);
            self.log.lock().unwrap().push(map.len());
            map.clear();
            drop(other);
        }
    }
}

#[test]
fn drop_and_callbacks_may_use_the_map() {
    let map = Arc::new(WeakValueMap::new());
    let log = Arc::new(Mutex::new(Vec::new()));
    let slot = Arc::new(Mutex::new(Some(map.clone())));
    let v = Gc::new(Reentrant { map: slot.clone(), log: log.clone() });
    map.insert(1, &v);
    let also = map.clone();
    let w = Gc::downgrade_with(&v, move |_| {
        // A user callback on the same value touches the map too.
        let _ = also.len();
        also.remove(&1);
    });
    drop(v);
    // Only the entry inserted by Drop was there when it counted.
    assert_eq!(*log.lock().unwrap(), [1]);
    assert!(map.is_empty());
    drop(w);
    slot.lock().unwrap().take();
}

#[test]
fn a_map_dropped_from_a_callback_of_its_own_value() {
    let map = Arc::new(Mutex::new(Some(WeakValueMap::<u32, u32>::new())));
    let v = Gc::new(3);
    map.lock().unwrap().as_ref().unwrap().insert(1, &v);
    let m = map.clone();
    let _w = Gc::downgrade_with(&v, move |_| drop(m.lock().unwrap().take()));
    drop(v); // newest callback first: the map goes, then its own callback finds nothing
    assert!(map.lock().unwrap().is_none());
}

#[test]
fn iteration_yields_live_entries_and_tolerates_changes() {
    let map: WeakValueMap<u32, u32> = WeakValueMap::new();
    let values: Vec<Gc<u32>> = (0..200).map(Gc::new).collect();
    for (i, v) in values.iter().enumerate() {
        map.insert(i as u32, v);
    }
    let mut values: Vec<Option<Gc<u32>>> = values.into_iter().map(Some).collect();
    let mut seen = Vec::new();
    for (k, v) in map.iter() {
        assert_eq!(k, *v);
        seen.push(k);
        // Kill another value, insert and remove others, ask for the length: all allowed.
        let victim = (k as usize * 7 + 3) % 200;
        values[victim] = None;
        let _ = map.len();
        let extra = Gc::new(1000 + k);
        map.insert(1000 + k, &extra);
        map.remove(&(1000 + k));
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no entry is yielded twice");
    for (i, v) in values.iter().enumerate() {
        if v.is_some() {
            assert!(seen.contains(&(i as u32)), "a value alive throughout is yielded");
        }
    }
    let live = values.iter().flatten().count();
    assert_eq!(map.len(), live);
    assert_eq!(map.iter().count(), live);
}

#[test]
fn a_value_dying_while_the_iterator_holds_it_is_still_yielded_alive() {
    let map: WeakValueMap<u32, u32> = WeakValueMap::new();
    let mut values: Vec<Option<Gc<u32>>> = (0..50).map(|i| Some(Gc::new(i))).collect();
    for v in values.iter().flatten() {
        map.insert(**v, v);
    }
    let mut it = map.values();
    let first = it.next().unwrap();
    // Drop every outside handle: values already read into the iterator stay alive until
    // yielded; the rest die now.
    values.iter_mut().for_each(|v| *v = None);
    for v in it {
        assert!(*v < 50);
    }
    drop(first);
    assert!(map.is_empty());
}

#[test]
fn setdefault_pop_and_popitem() {
    let map: WeakValueMap<&'static str, u32> = WeakValueMap::new();
    let a = Gc::new(1);
    let got = map.get_or_insert("a", &a);
    assert!(Gc::ptr_eq(&got, &a));
    let b = Gc::new(2);
    assert!(Gc::ptr_eq(&map.get_or_insert("a", &b), &a), "an alive value stays");
    let mut made = 0;
    let c = map.get_or_insert_with("c", || {
        made += 1;
        Gc::new(3)
    });
    assert_eq!((made, *c), (1, 3));
    let again = map.get_or_insert_with("c", || unreachable!("present and alive"));
    assert!(Gc::ptr_eq(&again, &c));
    drop(got);
    drop(a);
    // The key's value died: setdefault stores the new one.
    let d = Gc::new(4);
    assert!(Gc::ptr_eq(&map.get_or_insert("a", &d), &d));

    let (k, v) = map.pop_any().unwrap();
    assert!(map.get(&k).is_none());
    assert!(*v == 3 || *v == 4);
    let (k2, _) = map.pop_any().unwrap();
    assert_ne!(k, k2);
    assert!(map.pop_any().is_none());
    assert!(map.remove_entry(&"zzz").is_none());
    drop((b, c, d));
}

#[test]
fn retain_clear_and_valuerefs() {
    let map: WeakValueMap<u32, u32> = WeakValueMap::new();
    let values: Vec<Gc<u32>> = (0..20).map(Gc::new).collect();
    map.update(values.iter().map(|v| (**v, v)));
    map.retain(|k, v| {
        assert_eq!(*k, **v);
        // The map may be used from inside.
        let _ = map.get(k);
        k % 2 == 0
    });
    assert_eq!(map.len(), 10);
    assert!(map.keys().all(|k| k % 2 == 0));
    let refs = map.valuerefs();
    assert_eq!(refs.len(), 10);
    assert!(refs.iter().all(|r| !r.has_callback() && r.upgrade().is_some()));
    map.clear();
    assert!(map.is_empty());
    // Only the plain handle of `refs` is left on the value.
    assert_eq!(Gc::weak_count(&values[0]), 1);
    assert_eq!(refs.iter().filter(|r| r.upgrade().is_some()).count(), 10);
}

#[test]
fn construction_from_iterators_plain_maps_and_copies() {
    let values: Vec<Gc<u32>> = (0..5).map(Gc::new).collect();
    let plain: HashMap<u32, Gc<u32>> = values.iter().map(|v| (**v, v.clone())).collect();
    let a: WeakValueMap<u32, u32> = WeakValueMap::from(&plain);
    let b: WeakValueMap<u32, u32> = values.iter().map(|v| (**v, v)).collect();
    let c = a.clone();
    let d: WeakValueMap<u32, u32> = b.iter().collect();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a, d);
    assert_eq!(a.to_map().len(), 5);
    let other = Gc::new(100);
    c.insert(0, &other);
    assert_ne!(a, c);
    let mut e: WeakValueMap<u32, u32> = WeakValueMap::new();
    e.extend(values.iter().map(|v| (**v, v)));
    assert_eq!(a, e);
    // Temporaries die at once, as in Python.
    e.extend([(50, Gc::new(50))]);
    assert!(e.get(&50).is_none());
    drop(plain);
    drop(values);
    assert!(a.is_empty() && b.is_empty() && d.is_empty());
    assert_eq!(c.len(), 1);
    assert_eq!(format!("{c:?}"), "{0: 100}");
}

#[test]
fn a_custom_hasher() {
    let map: WeakValueMap<u32, u32, std::collections::hash_map::RandomState> =
        WeakValueMap::with_capacity_and_hasher(10, Default::default());
    let v = Gc::new(1);
    map.insert(1, &v);
    assert_eq!(*map.get(&1).unwrap(), 1);
    let _ = map.hasher();
}

#[test]
fn tracked_values_and_a_collection() {
    let heap = common::quiet_heap();
    let drops = DropCounter::default();
    let map: WeakValueMap<&'static str, common::Node> = WeakValueMap::new();
    let a = common::node(&heap, "a", &drops);
    let b = common::node(&heap, "b", &drops);
    common::link(&a, &b);
    common::link(&b, &a);
    map.insert("a", &a);
    map.insert("b", &b);
    drop((a, b));
    assert_eq!(map.len(), 2, "a cycle keeps its members alive until collected");
    assert!(map.get("a").is_some());
    heap.collect();
    assert_eq!(drops.get(), 2);
    assert!(map.is_empty());
    assert!(map.get("a").is_none());
}

/// The three weak collections a `Doomed` member stores the other member in.
type DoomedMaps =
    (WeakValueMap<u32, Doomed>, weakling::WeakKeyIdMap<Doomed, u32>, weakling::WeakIdSet<Doomed>);

/// A member of a garbage cycle whose `Drop` stores the other (condemned) member in maps.
#[derive(Trace)]
struct Doomed {
    other: weakling::GcCell<Option<Gc<Doomed>>>,
    #[trace(skip)]
    maps: Arc<DoomedMaps>,
}

impl Drop for Doomed {
    fn drop(&mut self) {
        if let Some(other) = self.other.write().take() {
            let (values, keys, set) = &*self.maps;
            values.insert(1, &other);
            keys.insert(&other, Gc::new(1));
            assert!(!set.insert(&other), "a condemned member is not added");
        }
    }
}

#[test]
fn an_object_the_collector_condemned_is_never_stored() {
    let heap = common::quiet_heap();
    let maps =
        Arc::new((WeakValueMap::new(), weakling::WeakKeyIdMap::new(), weakling::WeakIdSet::new()));
    let live = Gc::new(Doomed { other: weakling::GcCell::new(None), maps: maps.clone() });
    maps.0.insert(1, &live);
    let a = Gc::new_in(Doomed { other: weakling::GcCell::new(None), maps: maps.clone() }, &heap);
    let b = Gc::new_in(Doomed { other: weakling::GcCell::new(None), maps: maps.clone() }, &heap);
    *a.other.write() = Some(b.clone());
    *b.other.write() = Some(a.clone());
    drop((a, b));
    heap.collect();
    // Storing a condemned value under key 1 removed the key's old entry, as if the new value
    // had been stored and had died at once; nothing dead stays behind.
    assert_eq!((maps.0.len(), maps.1.len(), maps.2.len()), (0, 0, 0));
    drop(live);
}

/// The map of `NoisyKey`'s test, reachable from the key's `Drop`.
static NOISY: std::sync::OnceLock<WeakValueMap<NoisyKey, u32>> = std::sync::OnceLock::new();

/// A key whose `Drop` uses the map: it would deadlock if the map dropped keys under a lock.
#[derive(PartialEq, Eq, Hash)]
struct NoisyKey(u32);

impl Drop for NoisyKey {
    fn drop(&mut self) {
        if let Some(map) = NOISY.get() {
            let _ = map.len();
        }
    }
}

#[test]
fn keys_are_dropped_outside_the_locks() {
    let map = NOISY.get_or_init(WeakValueMap::new);
    let a = Gc::new(1);
    let b = Gc::new(2);
    map.insert(NoisyKey(1), &a);
    map.insert(NoisyKey(1), &a); // same value: the spare key is dropped
    map.insert(NoisyKey(1), &b); // replaced value: the spare key is dropped
    map.remove(&NoisyKey(1));
    map.insert(NoisyKey(2), &a);
    let c = map.get_or_insert_with(NoisyKey(2), || unreachable!("present"));
    assert!(Gc::ptr_eq(&c, &a));
    drop((a, c)); // the entry's death drops its key
    assert!(map.is_empty());
    drop(b);
}
