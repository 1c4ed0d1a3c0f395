//! Each weak collection against a model: random operations, deaths and collections, checked
//! after every step against a plain `HashMap` of what the collection must hold.
//!
//! The test owns every object through `slots` (one strong handle per slot, the only one
//! outside the cycles it sometimes builds). The model maps each key to the slot whose object
//! the collection must hold; killing a slot's object removes its model entries at once (it
//! dies by reference counting), or only at the next collection when the object was first put
//! in a cycle with itself.

mod common;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use weakling::{
    Gc, GcCell, Heap, Trace, Weak, WeakIdSet, WeakKeyIdMap, WeakKeyMap, WeakSet, WeakValueMap,
};

const SLOTS: usize = 8;
const KEYS: u8 = 6;

/// A tracked object: `value` is what equality sees, `me` can close a cycle on itself.
#[derive(Trace)]
struct Obj {
    #[trace(skip)]
    value: u8,
    me: GcCell<Option<Gc<Obj>>>,
}

impl PartialEq for Obj {
    fn eq(&self, other: &Obj) -> bool {
        self.value == other.value
    }
}
impl Eq for Obj {}
impl std::hash::Hash for Obj {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, usize),
    Get(u8),
    Remove(u8),
    SetDefault(u8, usize),
    PopAny,
    /// Keep the entries whose key is in the mask.
    Retain(u8),
    Clear,
    /// Drop the slot's handle: its object dies now.
    Kill(usize),
    /// Put the slot's object in a cycle with itself, then drop the handle: it dies at the next
    /// collection.
    KillInCycle(usize),
    /// A fresh object in an empty slot.
    Revive(usize),
    Collect,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..KEYS, 0..SLOTS).prop_map(|(k, s)| Op::Insert(k, s)),
            2 => (0..KEYS).prop_map(Op::Get),
            2 => (0..KEYS).prop_map(Op::Remove),
            2 => (0..KEYS, 0..SLOTS).prop_map(|(k, s)| Op::SetDefault(k, s)),
            1 => Just(Op::PopAny),
            1 => any::<u8>().prop_map(Op::Retain),
            1 => Just(Op::Clear),
            3 => (0..SLOTS).prop_map(Op::Kill),
            2 => (0..SLOTS).prop_map(Op::KillInCycle),
            3 => (0..SLOTS).prop_map(Op::Revive),
            1 => Just(Op::Collect),
        ],
        0..80,
    )
}

/// The objects of a case: one strong handle per slot, and the objects that wait in a cycle
/// for a collection.
struct World {
    heap: Heap,
    slots: Vec<Option<Gc<Obj>>>,
    cyclic: Vec<Weak<Obj>>,
}

/// Identity of an object (its address; reused only after the object was freed, when the
/// model no longer mentions it).
type Id = *const Obj;

fn id(g: &Gc<Obj>) -> Id {
    Gc::as_ptr(g)
}

impl World {
    fn new() -> World {
        let heap = common::quiet_heap();
        let slots = (0..SLOTS).map(|s| Some(Self::make(&heap, s))).collect();
        World { heap, slots, cyclic: Vec::new() }
    }

    fn make(heap: &Heap, slot: usize) -> Gc<Obj> {
        // Slots s and s + 4 hold equal objects.
        Gc::new_in(Obj { value: (slot % 4) as u8, me: GcCell::new(None) }, heap)
    }

    fn get(&self, slot: usize) -> Option<Gc<Obj>> {
        self.slots[slot].clone()
    }

    /// Kills the object of `slot`: returns its identity if it died now (not waiting in a
    /// cycle).
    fn kill(&mut self, slot: usize, in_cycle: bool) -> Option<Id> {
        let obj = self.slots[slot].take()?;
        if in_cycle {
            *obj.me.write() = Some(obj.clone());
            self.cyclic.push(Gc::downgrade(&obj));
            None
        } else {
            let dead = id(&obj);
            drop(obj);
            Some(dead)
        }
    }

    fn revive(&mut self, slot: usize) {
        if self.slots[slot].is_none() {
            self.slots[slot] = Some(Self::make(&self.heap, slot));
        }
    }

    /// Collects, and returns the identities of the objects that waited in cycles (all dead
    /// now).
    fn collect(&mut self) -> Vec<Id> {
        let waiting: Vec<Id> = self.cyclic.iter().map(|w| w.as_ptr()).collect();
        self.heap.collect();
        for w in self.cyclic.drain(..) {
            assert!(w.upgrade().is_none(), "a self-cycle is freed by a collection");
        }
        waiting
    }

    /// Applies a death step; returns the identities that died.
    fn step(&mut self, op: &Op) -> Vec<Id> {
        match *op {
            Op::Kill(s) => self.kill(s, false).into_iter().collect(),
            Op::KillInCycle(s) => self.kill(s, true).into_iter().collect(),
            Op::Revive(s) => {
                self.revive(s);
                Vec::new()
            }
            Op::Collect => self.collect(),
            _ => Vec::new(),
        }
    }
}

fn check_value_map<S: BuildHasher + Send + Sync + 'static>(
    map: &WeakValueMap<u8, Obj, S>,
    model: &HashMap<u8, Id>,
) {
    assert_eq!(map.len(), model.len());
    for k in 0..KEYS {
        assert_eq!(map.get(&k).map(|v| id(&v)), model.get(&k).copied(), "key {k}");
    }
    let mut seen: Vec<(u8, Id)> = map.iter().map(|(k, v)| (k, id(&v))).collect();
    seen.sort();
    let mut want: Vec<(u8, Id)> = model.iter().map(|(k, v)| (*k, *v)).collect();
    want.sort();
    assert_eq!(seen, want);
    let pin = weakling::read_pin();
    let mut pinned: Vec<Id> = map.values_pinned(&pin).map(|v| &*v as Id).collect();
    pinned.sort();
    let mut want: Vec<Id> = model.values().copied().collect();
    want.sort();
    assert_eq!(pinned, want);
}

fn check_key_map(map: &WeakKeyMap<Obj, u8>, model: &HashMap<u8, (Id, u8)>, world: &World) {
    assert_eq!(map.len(), model.len());
    for slot in 0..SLOTS {
        if let Some(k) = world.get(slot) {
            assert_eq!(map.get(&k).map(|v| *v), model.get(&k.value).map(|e| e.1));
        }
    }
    let mut seen: Vec<(u8, Id, u8)> = map.iter().map(|(k, v)| (k.value, id(&k), *v)).collect();
    seen.sort();
    let mut want: Vec<(u8, Id, u8)> = model.iter().map(|(kv, (k, v))| (*kv, *k, *v)).collect();
    want.sort();
    assert_eq!(seen, want);
}

fn check_set(set: &WeakSet<Obj>, model: &HashMap<u8, Id>, world: &World) {
    assert_eq!(set.len(), model.len());
    for slot in 0..SLOTS {
        if let Some(m) = world.get(slot) {
            assert_eq!(set.contains(&m), model.contains_key(&m.value));
            assert_eq!(set.get(&m).map(|g| id(&g)), model.get(&m.value).copied());
        }
    }
    let mut seen: Vec<Id> = set.iter().map(|m| id(&m)).collect();
    seen.sort();
    let mut want: Vec<Id> = model.values().copied().collect();
    want.sort();
    assert_eq!(seen, want);
    let pin = weakling::read_pin();
    let mut pinned: Vec<Id> = set.iter_pinned(&pin).map(|m| &*m as Id).collect();
    pinned.sort();
    assert_eq!(pinned, want);
}

/// One case of the value map's model test, on `map` (empty).
fn value_map_case<S: BuildHasher + Send + Sync + 'static>(
    ops: &[Op],
    map: WeakValueMap<u8, Obj, S>,
) -> Result<(), TestCaseError> {
    let mut world = World::new();
    let mut model: HashMap<u8, Id> = HashMap::new();
    for op in ops {
        match *op {
            Op::Insert(k, s) => {
                if let Some(v) = world.get(s) {
                    prop_assert_eq!(map.insert(k, &v).map(|o| id(&o)), model.insert(k, id(&v)));
                }
            }
            Op::Get(k) => prop_assert_eq!(map.get(&k).map(|o| id(&o)), model.get(&k).copied()),
            Op::Remove(k) => prop_assert_eq!(map.remove(&k).map(|o| id(&o)), model.remove(&k)),
            Op::SetDefault(k, s) => {
                if let Some(v) = world.get(s) {
                    let got = map.get_or_insert(k, &v);
                    prop_assert_eq!(id(&got), *model.entry(k).or_insert(id(&v)));
                }
            }
            Op::PopAny => match map.pop_any() {
                Some((k, v)) => prop_assert_eq!(model.remove(&k), Some(id(&v))),
                None => prop_assert!(model.is_empty()),
            },
            Op::Retain(mask) => {
                map.retain(|k, _| mask & (1 << k) != 0);
                model.retain(|k, _| mask & (1 << k) != 0);
            }
            Op::Clear => {
                map.clear();
                model.clear();
            }
            _ => {
                let died = world.step(op);
                model.retain(|_, v| !died.contains(v));
            }
        }
        check_value_map(&map, &model);
    }
    let died = world.collect();
    model.retain(|_, v| !died.contains(v));
    check_value_map(&map, &model);
    Ok(())
}

/// Hashes every key to one shard, one probe group and one 7-bit tag (the bytes it is given
/// land above bit 32): the table must tell entries apart by their full hash and the
/// collections' own comparisons, never by where the entries sit.
#[derive(Clone, Default)]
struct Colliding;

impl BuildHasher for Colliding {
    type Hasher = CollidingHasher;
    fn build_hasher(&self) -> CollidingHasher {
        CollidingHasher(0)
    }
}

struct CollidingHasher(u64);

impl Hasher for CollidingHasher {
    fn finish(&self) -> u64 {
        self.0 << 32 | 0x10
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)) & 0xff_ffff;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled(256) as u32, ..ProptestConfig::default() })]

    /// `WeakValueMap<u8, Obj>`: the model maps each key to the object it must hold.
    #[test]
    fn value_map_matches_its_model(ops in ops()) {
        value_map_case(&ops, WeakValueMap::new())?;
    }

    /// The same with every key's hash in one shard, group and tag (`Colliding`): one value
    /// under several keys is then always among entries the table cannot tell apart by place.
    #[test]
    fn value_map_with_colliding_hashes_matches_its_model(ops in ops()) {
        value_map_case(&ops, WeakValueMap::with_hasher(Colliding))?;
    }

    /// `WeakKeyMap<Obj, u8>` by value: the model maps each key value to the key object the
    /// map must hold (the first inserted of equal ones) and its value.
    #[test]
    fn key_map_matches_its_model(ops in ops()) {
        let mut world = World::new();
        let map: WeakKeyMap<Obj, u8> = WeakKeyMap::new();
        let mut model: HashMap<u8, (Id, u8)> = HashMap::new();
        for op in &ops {
            match *op {
                Op::Insert(v, s) => if let Some(k) = world.get(s) {
                    let want = model.get(&k.value).map(|e| e.1);
                    // An equal key already present keeps its object; only the value changes.
                    model.entry(k.value).and_modify(|e| e.1 = v).or_insert((id(&k), v));
                    prop_assert_eq!(map.insert(&k, Gc::new(v)).map(|o| *o), want);
                },
                Op::SetDefault(v, s) => if let Some(k) = world.get(s) {
                    let got = *map.get_or_insert_with(&k, || Gc::new(v));
                    prop_assert_eq!(got, model.entry(k.value).or_insert((id(&k), v)).1);
                },
                Op::Get(s) | Op::Remove(s) => if let Some(k) = world.get(s as usize % SLOTS) {
                    if let Op::Get(_) = op {
                        prop_assert_eq!(map.get(&k).map(|v| *v), model.get(&k.value).map(|e| e.1));
                    } else {
                        prop_assert_eq!(map.remove(&k).map(|v| *v), model.remove(&k.value).map(|e| e.1));
                    }
                },
                Op::PopAny => match map.pop_any() {
                    Some((k, v)) => prop_assert_eq!(model.remove(&k.value), Some((id(&k), *v))),
                    None => prop_assert!(model.is_empty()),
                },
                Op::Retain(mask) => {
                    map.retain(|k, _| mask & (1 << k.value) != 0);
                    model.retain(|kv, _| mask & (1 << kv) != 0);
                }
                Op::Clear => {
                    map.clear();
                    model.clear();
                }
                _ => {
                    let died = world.step(op);
                    model.retain(|_, (k, _)| !died.contains(k));
                }
            }
            check_key_map(&map, &model, &world);
        }
        let died = world.collect();
        model.retain(|_, (k, _)| !died.contains(k));
        check_key_map(&map, &model, &world);
    }

    /// `WeakSet<Obj>` by value: the model maps each member value to the object the set must
    /// hold (the first inserted of equal ones).
    #[test]
    fn set_matches_its_model(ops in ops()) {
        let mut world = World::new();
        let set: WeakSet<Obj> = WeakSet::new();
        let mut model: HashMap<u8, Id> = HashMap::new();
        for op in &ops {
            match *op {
                Op::Insert(_, s) | Op::SetDefault(_, s) => if let Some(m) = world.get(s) {
                    let added = !model.contains_key(&m.value);
                    model.entry(m.value).or_insert(id(&m));
                    prop_assert_eq!(set.insert(&m), added);
                },
                Op::Get(s) | Op::Remove(s) => if let Some(m) = world.get(s as usize % SLOTS) {
                    if let Op::Get(_) = op {
                        prop_assert_eq!(set.contains(&m), model.contains_key(&m.value));
                    } else {
                        prop_assert_eq!(set.remove(&m), model.remove(&m.value).is_some());
                    }
                },
                Op::PopAny => match set.pop_any() {
                    Some(m) => prop_assert_eq!(model.remove(&m.value), Some(id(&m))),
                    None => prop_assert!(model.is_empty()),
                },
                Op::Retain(mask) => {
                    set.retain(|m| mask & (1 << m.value) != 0);
                    model.retain(|mv, _| mask & (1 << mv) != 0);
                }
                Op::Clear => {
                    set.clear();
                    model.clear();
                }
                _ => {
                    let died = world.step(op);
                    model.retain(|_, m| !died.contains(m));
                }
            }
            check_set(&set, &model, &world);
        }
        let died = world.collect();
        model.retain(|_, m| !died.contains(m));
        check_set(&set, &model, &world);
    }

    /// `WeakKeyIdMap<Obj, u8>` and `WeakIdSet<Obj>` by identity: the model maps each live
    /// object to its value (equal objects are distinct keys).
    #[test]
    fn identity_variants_match_their_model(ops in ops()) {
        let mut world = World::new();
        let map: WeakKeyIdMap<Obj, u8> = WeakKeyIdMap::new();
        let set: WeakIdSet<Obj> = WeakIdSet::new();
        let mut model: HashMap<Id, u8> = HashMap::new();
        // Each member's identity and its value (what `retain` looks at).
        let mut members: HashMap<Id, u8> = HashMap::new();
        for op in &ops {
            match *op {
                Op::Insert(v, s) => if let Some(k) = world.get(s) {
                    prop_assert_eq!(map.insert(&k, Gc::new(v)).map(|o| *o), model.insert(id(&k), v));
                    prop_assert_eq!(set.insert(&k), members.insert(id(&k), k.value).is_none());
                },
                Op::SetDefault(v, s) => if let Some(k) = world.get(s) {
                    let got = *map.get_or_insert_with(&k, || Gc::new(v));
                    prop_assert_eq!(got, *model.entry(id(&k)).or_insert(v));
                },
                Op::Get(s) => if let Some(k) = world.get(s as usize % SLOTS) {
                    prop_assert_eq!(map.get(&k).map(|v| *v), model.get(&id(&k)).copied());
                    prop_assert_eq!(set.contains(&k), members.contains_key(&id(&k)));
                },
                Op::Remove(s) => if let Some(k) = world.get(s as usize % SLOTS) {
                    prop_assert_eq!(map.remove(&k).map(|v| *v), model.remove(&id(&k)));
                    prop_assert_eq!(set.remove(&k), members.remove(&id(&k)).is_some());
                },
                Op::PopAny => {
                    match map.pop_any() {
                        Some((k, v)) => prop_assert_eq!(model.remove(&id(&k)), Some(*v)),
                        None => prop_assert!(model.is_empty()),
                    }
                    match set.pop_any() {
                        Some(m) => prop_assert!(members.remove(&id(&m)).is_some()),
                        None => prop_assert!(members.is_empty()),
                    }
                }
                Op::Retain(mask) => {
                    map.retain(|_, v| mask & (1 << (**v % 8)) != 0);
                    model.retain(|_, v| mask & (1 << (*v % 8)) != 0);
                    set.retain(|m| mask & (1 << m.value) != 0);
                    members.retain(|_, value| mask & (1 << *value) != 0);
                }
                Op::Clear => {
                    map.clear();
                    model.clear();
                    set.clear();
                    members.clear();
                }
                _ => {
                    let died = world.step(op);
                    model.retain(|k, _| !died.contains(k));
                    members.retain(|m, _| !died.contains(m));
                }
            }
            prop_assert_eq!(map.len(), model.len());
            prop_assert_eq!(set.len(), members.len());
            let mut seen: Vec<(Id, u8)> = map.iter().map(|(k, v)| (id(&k), *v)).collect();
            seen.sort();
            let mut want: Vec<(Id, u8)> = model.iter().map(|(k, v)| (*k, *v)).collect();
            want.sort();
            prop_assert_eq!(seen, want);
        }
        let died = world.collect();
        model.retain(|k, _| !died.contains(k));
        members.retain(|m, _| !died.contains(m));
        prop_assert_eq!((map.len(), set.len()), (model.len(), members.len()));
    }
}
