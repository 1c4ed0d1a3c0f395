//! `WeakSet` and `WeakIdSet`: Python's `WeakSet` behaviours and set algebra.

mod common;

use std::collections::HashSet;

use weakling::{Gc, WeakIdSet, WeakSet};

fn objs(names: &[&str]) -> Vec<Gc<String>> {
    names.iter().map(|s| Gc::new(s.to_string())).collect()
}

fn names<S: std::hash::BuildHasher + Send + Sync + 'static>(
    set: &WeakSet<String, S>,
) -> Vec<String> {
    let mut out: Vec<String> = set.iter().map(|m| (*m).clone()).collect();
    out.sort();
    out
}

#[test]
fn members_leave_when_they_die() {
    let set: WeakSet<String> = WeakSet::new();
    let o = objs(&["a", "b"]);
    assert!(set.insert(&o[0]));
    assert!(set.insert(&o[1]));
    assert!(!set.insert(&o[1]));
    assert_eq!(set.len(), 2);
    assert!(set.contains(&o[0]));
    let mut o = o.into_iter();
    drop(o.next());
    assert_eq!(set.len(), 1);
    assert_eq!(names(&set), ["b"]);
    drop(o);
    assert!(set.is_empty());
}

#[test]
fn by_value_keeps_the_first_of_two_equal_members() {
    let set: WeakSet<String> = WeakSet::new();
    let first = Gc::new(String::from("x"));
    let second = Gc::new(String::from("x"));
    assert!(set.insert(&first));
    assert!(!set.insert(&second));
    assert!(set.contains(&second), "equal objects are one member");
    assert!(Gc::ptr_eq(&set.get(&second).unwrap(), &first));
    drop(second);
    assert_eq!(set.len(), 1);
    assert!(set.remove(&Gc::new(String::from("x"))));
    assert!(set.is_empty());
}

#[test]
fn by_identity_keeps_both() {
    let set: WeakIdSet<String> = WeakIdSet::new();
    let first = Gc::new(String::from("x"));
    let second = Gc::new(String::from("x"));
    assert!(set.insert(&first));
    assert!(set.insert(&second));
    assert!(!set.insert(&first));
    assert_eq!(set.len(), 2);
    assert!(!set.contains(&Gc::new(String::from("x"))));
    drop(first);
    assert_eq!(set.len(), 1);
}

#[test]
fn set_algebra_matches_std() {
    let o = objs(&["a", "b", "c", "d", "e"]);
    let s: WeakSet<String> = [&o[0], &o[1], &o[2]].into_iter().collect();
    let t: WeakSet<String> = [&o[2], &o[3]].into_iter().collect();
    let hs: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let ht: HashSet<String> = ["c", "d"].iter().map(|s| s.to_string()).collect();
    let sorted = |h: HashSet<String>| {
        let mut v: Vec<String> = h.into_iter().collect();
        v.sort();
        v
    };
    assert_eq!(names(&s.union(&t)), sorted(&hs | &ht));
    assert_eq!(names(&s.intersection(&t)), sorted(&hs & &ht));
    assert_eq!(names(&s.difference(&t)), sorted(&hs - &ht));
    assert_eq!(names(&s.symmetric_difference(&t)), sorted(&hs ^ &ht));
    assert!(!s.is_subset(&t) && !s.is_superset(&t) && !s.is_disjoint(&t));
    let u: WeakSet<String> = [&o[4]].into_iter().collect();
    assert!(s.is_disjoint(&u));
    let sub: WeakSet<String> = [&o[0]].into_iter().collect();
    assert!(sub.is_subset(&s) && s.is_superset(&sub));

    let x = s.clone();
    x.union_with(&t);
    assert_eq!(names(&x), sorted(&hs | &ht));
    let x = s.clone();
    x.intersect_with(&t);
    assert_eq!(names(&x), sorted(&hs & &ht));
    let x = s.clone();
    x.difference_with(&t);
    assert_eq!(names(&x), sorted(&hs - &ht));
    let x = s.clone();
    x.symmetric_difference_with(&t);
    assert_eq!(names(&x), sorted(&hs ^ &ht));
    assert_eq!(s, s.clone());
    assert_ne!(s, t);
    drop(o);
    // Every result held its members weakly.
    assert!(s.is_empty() && t.is_empty() && x.is_empty());
}

#[test]
fn pop_retain_clear_refs_and_debug() {
    let o = objs(&["a", "b", "c", "d"]);
    let set: WeakSet<String> = WeakSet::new();
    set.update(&o);
    set.retain(|m| {
        let _ = set.len();
        m.as_str() != "b"
    });
    assert_eq!(names(&set), ["a", "c", "d"]);
    assert_eq!(set.refs().len(), 3);
    let popped = set.pop_any().unwrap();
    assert!(!set.contains(&popped));
    assert_eq!(set.len(), 2);
    set.clear();
    assert!(set.is_empty() && set.pop_any().is_none());
    let one: WeakSet<String> = [&o[0]].into_iter().collect();
    assert_eq!(format!("{one:?}"), r#"{"a"}"#);
    let mut e: WeakSet<String> = WeakSet::new();
    e.extend(one.iter());
    e.extend([Gc::new(String::from("temporary"))]);
    assert_eq!(names(&e), ["a"]);
}

#[test]
fn observers_disappear_during_notification() {
    let set: WeakSet<String> = WeakSet::new();
    let mut observers: Vec<Option<Gc<String>>> =
        (0..50).map(|i| Some(Gc::new(format!("o{i}")))).collect();
    for o in observers.iter().flatten() {
        set.insert(o);
    }
    let mut notified = Vec::new();
    for o in set.iter() {
        assert!(o.starts_with('o'));
        let i: usize = o[1..].parse().unwrap();
        notified.push(i);
        // Another observer unsubscribes by dying, mid-notification.
        observers[(i * 7 + 3) % 50] = None;
    }
    let mut unique = notified.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), notified.len(), "nobody is notified twice");
    for (i, o) in observers.iter().enumerate() {
        if o.is_some() {
            assert!(notified.contains(&i), "an observer alive throughout is notified");
        }
    }
    assert_eq!(set.len(), observers.iter().flatten().count());
}

/// A subject stored on the heap, holding its observers in a set: the set is a traced leaf.
#[derive(weakling::Trace)]
struct Subject {
    observers: WeakSet<String>,
    by_key: weakling::WeakKeyMap<String, u32>,
    by_id: weakling::WeakValueMap<u32, String>,
}

#[test]
fn collections_can_live_inside_gc_objects() {
    let heap = common::quiet_heap();
    let subject = Gc::new_in(
        Subject {
            observers: WeakSet::new(),
            by_key: weakling::WeakKeyMap::new(),
            by_id: weakling::WeakValueMap::new(),
        },
        &heap,
    );
    let o = Gc::new(String::from("o"));
    subject.observers.insert(&o);
    subject.by_key.insert(&o, Gc::new(1));
    subject.by_id.insert(1, &o);
    heap.collect();
    assert_eq!(subject.observers.len(), 1, "the collector leaves live members alone");
    drop(o);
    assert!(subject.observers.is_empty() && subject.by_key.is_empty() && subject.by_id.is_empty());
}
