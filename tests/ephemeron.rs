//! `Ephemeron`: values alive through a key object, the mechanism of a weak-key map that does
//! not leak.

mod common;

use common::{DropCounter, DropToken};
use weakling::{Ephemeron, Gc, GcCell, Heap, Trace};

/// A tracked key: its type may hold handles, so the collector scans it.
#[derive(Trace)]
struct Key {
    #[allow(dead_code)] // makes the key tracked
    other: GcCell<Option<Gc<Key>>>,
    #[trace(skip)]
    #[allow(dead_code)] // held only to count drops
    token: DropToken,
}

fn key(heap: &Heap, drops: &DropCounter) -> Gc<Key> {
    Gc::new_in(Key { other: GcCell::new(None), token: drops.token() }, heap)
}

#[derive(Trace)]
struct Value {
    back: GcCell<Option<Gc<Key>>>,
    #[trace(skip)]
    #[allow(dead_code)] // held only to count drops
    token: DropToken,
}

fn quiet_heap() -> Heap {
    let heap = Heap::new();
    heap.set_automatic_collection(false);
    heap
}

#[test]
fn a_value_lives_as_long_as_its_key_and_no_longer() {
    let heap = quiet_heap();
    let (keys, values) = (DropCounter::default(), DropCounter::default());
    let key = key(&heap, &keys);
    let e = Ephemeron::new(
        &key,
        Gc::new_in(Value { back: GcCell::new(None), token: values.token() }, &heap),
    );
    assert!(e.value().is_some(), "nobody else holds the value: the key does");
    assert!(Gc::ptr_eq(&e.key().unwrap(), &key));
    drop(key);
    assert_eq!((keys.get(), values.get()), (1, 1), "the key's death drops what is attached to it");
    assert!(e.get().is_none());
}

#[test]
fn a_value_that_refers_to_its_key_does_not_keep_it_alive() {
    // CPython's weak-key leak: d[k] = [k]. Here the pair is an ordinary cycle.
    let heap = quiet_heap();
    let (keys, values) = (DropCounter::default(), DropCounter::default());
    let key = key(&heap, &keys);
    let value =
        Gc::new_in(Value { back: GcCell::new(Some(key.clone())), token: values.token() }, &heap);
    let e = Ephemeron::new(&key, value);
    drop(key);
    assert!(e.key().is_some(), "reference counting alone cannot free the pair");
    assert_eq!(heap.collect(), 2);
    assert_eq!((keys.get(), values.get()), (1, 1));
    assert!(e.key().is_none() && e.value().is_none());
}

#[test]
fn a_value_held_elsewhere_keeps_its_key_through_its_own_edge() {
    let heap = quiet_heap();
    let keys = DropCounter::default();
    let values = DropCounter::default();
    let key = key(&heap, &keys);
    let value =
        Gc::new_in(Value { back: GcCell::new(Some(key.clone())), token: values.token() }, &heap);
    let e = Ephemeron::new(&key, value.clone());
    drop(key);
    assert_eq!(heap.collect(), 0, "the value is held from outside, and it holds the key");
    assert!(e.get().is_some());
    value.back.set(None);
    assert_eq!(keys.get(), 1, "released by reference counting once the value lets go");
    drop(value);
    assert_eq!(values.get(), 1);
}

#[test]
fn dropping_the_ephemeron_detaches_the_value() {
    let heap = quiet_heap();
    let (keys, values) = (DropCounter::default(), DropCounter::default());
    let key = key(&heap, &keys);
    let first = Ephemeron::new(
        &key,
        Gc::new_in(Value { back: GcCell::new(None), token: values.token() }, &heap),
    );
    let second = Ephemeron::new(
        &key,
        Gc::new_in(Value { back: GcCell::new(None), token: values.token() }, &heap),
    );
    drop(first);
    assert_eq!(values.get(), 1);
    assert!(second.value().is_some());
    drop(second);
    assert_eq!(values.get(), 2);
    assert_eq!(keys.get(), 0);
}

#[test]
fn try_unwrap_of_a_key_drops_what_is_attached() {
    let heap = quiet_heap();
    let values = DropCounter::default();
    let key = Gc::new_in(5_u32, &heap);
    let e = Ephemeron::new(
        &key,
        Gc::new_in(Value { back: GcCell::new(None), token: values.token() }, &heap),
    );
    assert_eq!(Gc::try_unwrap(key).ok(), Some(5));
    assert_eq!(values.get(), 1);
    assert!(e.value().is_none());
}

#[derive(Trace)]
struct LeafBack {
    #[trace(skip)]
    #[allow(dead_code)] // holds the leaf key from the value: invisible to the collector
    back: Gc<String>,
}

#[test]
fn a_value_that_refers_to_a_leaf_key_keeps_it_as_in_cpython() {
    // Leaves are never scanned, so the collector cannot see the key's edge to its value.
    let heap = quiet_heap();
    let key = Gc::new_in(String::from("leaf key"), &heap);
    let e = Ephemeron::new(&key, Gc::new_in(LeafBack { back: key.clone() }, &heap));
    drop(key);
    assert_eq!(heap.collect(), 0);
    assert!(e.key().is_some());
    drop(e); // detaching breaks the pair
    assert_eq!(heap.counts().live, 0);
}
