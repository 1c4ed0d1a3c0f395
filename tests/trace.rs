//! The `Trace` impls for std types: which are leaves, and which handles each reports.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use weakling::{Gc, GcCell, Referents, Trace, Weak};

fn leaf<T: Trace + ?Sized>() -> bool {
    T::LEAF
}

/// `N` handles to distinct values (distinct so that sets and ordered maps keep them all).
fn handles<const N: usize>() -> [Gc<u32>; N] {
    std::array::from_fn(|i| Gc::new(i as u32))
}

/// Asserts that `seen` holds exactly one edge to each of `expected` and nothing else.
#[track_caller]
fn assert_each_once(seen: &Referents, expected: &[Gc<u32>]) {
    assert_eq!(seen.len(), expected.len(), "number of edges");
    for (i, h) in expected.iter().enumerate() {
        assert_eq!(seen.count(h), 1, "edges to handle {i}");
    }
    assert!(!seen.is_opaque());
}

#[test]
fn primitives_and_plain_data_are_leaves() {
    macro_rules! all_leaves {
        ($($t:ty),* $(,)?) => {$(
            assert!(leaf::<$t>(), "{} should be a leaf", stringify!($t));
        )*};
    }
    all_leaves!(
        (),
        bool,
        char,
        u8,
        u16,
        u32,
        u64,
        u128,
        usize,
        i8,
        i16,
        i32,
        i64,
        i128,
        isize,
        f32,
        f64,
        str,
        String,
        std::ffi::CString,
        std::ffi::CStr,
        std::ffi::OsString,
        std::ffi::OsStr,
        std::path::PathBuf,
        std::path::Path,
        std::time::Duration,
        std::time::Instant,
        std::time::SystemTime,
        std::num::NonZeroU32,
        std::num::NonZeroU64,
        std::num::NonZeroUsize,
        std::net::IpAddr,
        std::net::SocketAddr,
        std::sync::atomic::AtomicBool,
        std::sync::atomic::AtomicU64,
        std::sync::atomic::AtomicIsize,
        std::marker::PhantomData<Gc<u32>>,
        &'static Gc<u32>,
        Box<str>,
        Cow<'static, str>,
    );
    assert!(Referents::of(&String::from("text")).is_empty());
    assert!(Referents::of("text").is_empty());
}

#[test]
fn containers_are_leaves_exactly_when_their_elements_are() {
    assert!(leaf::<Vec<u8>>());
    assert!(!leaf::<Vec<Gc<u32>>>());
    assert!(leaf::<VecDeque<String>>() && !leaf::<VecDeque<Gc<u32>>>());
    assert!(leaf::<LinkedList<u8>>() && !leaf::<LinkedList<Gc<u32>>>());
    assert!(leaf::<BinaryHeap<u8>>() && !leaf::<BinaryHeap<Gc<u32>>>());
    assert!(leaf::<BTreeSet<u8>>() && !leaf::<BTreeSet<Gc<u32>>>());
    assert!(leaf::<HashSet<u8>>() && !leaf::<HashSet<Gc<u32>>>());
    assert!(leaf::<Option<u8>>() && !leaf::<Option<Gc<u32>>>());
    assert!(leaf::<Box<u8>>() && !leaf::<Box<Gc<u32>>>());
    assert!(leaf::<[u8]>() && !leaf::<[Gc<u32>]>());
    assert!(leaf::<[u8; 3]>() && !leaf::<[Gc<u32>; 3]>());
    // Even an empty array type is judged by its element type.
    assert!(!leaf::<[Gc<u32>; 0]>());
    assert!(leaf::<Result<u8, String>>());
    assert!(!leaf::<Result<Gc<u32>, u8>>() && !leaf::<Result<u8, Gc<u32>>>());
    assert!(leaf::<HashMap<String, u8>>());
    assert!(!leaf::<HashMap<Gc<u32>, u8>>() && !leaf::<HashMap<u8, Gc<u32>>>());
    assert!(leaf::<BTreeMap<u8, u8>>());
    assert!(!leaf::<BTreeMap<Gc<u32>, u8>>() && !leaf::<BTreeMap<u8, Gc<u32>>>());
    assert!(leaf::<Vec<Vec<Option<u8>>>>() && !leaf::<Vec<Vec<Option<Gc<u32>>>>>());
    assert!(leaf::<Cow<'static, [u8]>>() && !leaf::<Cow<'static, [Gc<u32>]>>());
    assert!(leaf::<Mutex<u8>>() && !leaf::<Mutex<Gc<u32>>>());
    assert!(leaf::<RwLock<u8>>() && !leaf::<RwLock<Gc<u32>>>());
    assert!(leaf::<GcCell<u8>>() && !leaf::<GcCell<Gc<u32>>>());
    assert!(leaf::<OnceLock<u8>>() && !leaf::<OnceLock<Gc<u32>>>());
    assert!(!leaf::<parking_lot::Mutex<Gc<u32>>>() && leaf::<parking_lot::RwLock<u8>>());
}

#[test]
fn tuples_are_leaves_only_if_every_member_is() {
    assert!(leaf::<(u8,)>() && !leaf::<(Gc<u32>,)>());
    assert!(leaf::<(u8, String)>());
    assert!(!leaf::<(Gc<u32>, u8)>() && !leaf::<(u8, Gc<u32>)>());
    type Twelve<L> = (u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, L);
    assert!(leaf::<Twelve<u8>>());
    assert!(!leaf::<Twelve<Gc<u32>>>());
}

#[test]
fn a_handle_is_one_edge_and_not_a_leaf() {
    let [a] = handles();
    assert!(!leaf::<Gc<u32>>());
    assert_each_once(&Referents::of(&a), std::slice::from_ref(&a));
}

#[test]
fn sequences_report_each_element_once() {
    let hs = handles::<4>();
    let v = hs.to_vec();
    assert_each_once(&Referents::of(&v), &hs);
    assert_each_once(&Referents::of(&v[..]), &hs);
    assert_each_once(&Referents::of(&v.clone().into_boxed_slice()), &hs);
    assert_each_once(&Referents::of(&hs.clone()), &hs);
    assert_each_once(&Referents::of(&VecDeque::from(v.clone())), &hs);
    assert_each_once(&Referents::of(&v.iter().cloned().collect::<LinkedList<_>>()), &hs);
    assert_each_once(&Referents::of(&BinaryHeap::from(v.clone())), &hs);
    assert_each_once(&Referents::of(&v.iter().cloned().collect::<BTreeSet<_>>()), &hs);
    assert_each_once(&Referents::of(&v.iter().cloned().collect::<HashSet<_>>()), &hs);
    assert!(Referents::of(&Vec::<Gc<u32>>::new()).is_empty());
}

#[test]
fn a_handle_stored_twice_is_reported_twice() {
    let [a] = handles();
    let seen = Referents::of(&vec![a.clone(), a.clone(), a.clone()]);
    assert_eq!((seen.len(), seen.count(&a)), (3, 3));
}

#[test]
fn option_box_and_result_report_what_they_hold() {
    let [a, b] = handles();
    assert_each_once(&Referents::of(&Some(a.clone())), std::slice::from_ref(&a));
    assert!(Referents::of(&None::<Gc<u32>>).is_empty());
    assert_each_once(&Referents::of(&Box::new(a.clone())), std::slice::from_ref(&a));

    let ok: Result<Gc<u32>, Gc<u32>> = Ok(a.clone());
    let err: Result<Gc<u32>, Gc<u32>> = Err(b.clone());
    assert_each_once(&Referents::of(&ok), std::slice::from_ref(&a));
    assert_each_once(&Referents::of(&err), std::slice::from_ref(&b));
}

#[test]
fn maps_report_keys_and_values() {
    let hs = handles::<4>();
    let [k1, v1, k2, v2] = hs.clone();

    let map: HashMap<_, _> = [(k1.clone(), v1.clone()), (k2.clone(), v2.clone())].into();
    assert_each_once(&Referents::of(&map), &hs);

    // Any hasher: the impl is generic over the BuildHasher.
    type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
    let mut custom: HashMap<Gc<u32>, Gc<u32>, Fixed> = HashMap::default();
    custom.insert(k1.clone(), v1.clone());
    custom.insert(k2.clone(), v2.clone());
    assert_each_once(&Referents::of(&custom), &hs);

    let tree: BTreeMap<_, _> = [(k1.clone(), v1.clone()), (k2.clone(), v2.clone())].into();
    assert_each_once(&Referents::of(&tree), &hs);

    // Handles only on one side.
    let values: BTreeMap<u8, Gc<u32>> = [(1, v1.clone())].into();
    assert_each_once(&Referents::of(&values), std::slice::from_ref(&v1));
    let keys: HashMap<Gc<u32>, String> = [(k2.clone(), String::new())].into();
    assert_each_once(&Referents::of(&keys), std::slice::from_ref(&k2));
}

#[test]
fn tuples_and_nesting_report_every_member() {
    let hs = handles::<12>();
    let [a, b, c, d, e, f, g, h, i, j, k, l] = hs.clone();
    let twelve = (a, b, c, d, e, f, g, h, i, j, k, l);
    assert_each_once(&Referents::of(&twelve), &hs);

    let [x, y, z] = handles();
    let mixed = (1_u8, x.clone(), "s", vec![Some(y.clone()), None], [z.clone()]);
    assert_each_once(&Referents::of(&mixed), &[x, y, z]);
}

#[test]
fn cow_reports_only_owned_contents() {
    let [a] = handles();
    let owned: Cow<'static, [Gc<u32>]> = Cow::Owned(vec![a.clone()]);
    assert_each_once(&Referents::of(&owned), std::slice::from_ref(&a));
    let borrowed: Cow<'static, [Gc<u32>]> = Cow::Borrowed(&[]);
    assert!(Referents::of(&borrowed).is_empty());
}

#[test]
fn once_lock_reports_its_value_once_set() {
    let [a] = handles();
    let cell = OnceLock::new();
    assert!(Referents::of(&cell).is_empty());
    cell.set(a.clone()).unwrap();
    assert_each_once(&Referents::of(&cell), std::slice::from_ref(&a));
}

#[test]
fn arc_contents_count_as_external() {
    // Shared contents would be reported once per owner, so an Arc reports nothing: its
    // handles keep their targets alive as references from outside.
    let [a] = handles();
    assert!(leaf::<Arc<Gc<u32>>>());
    assert!(leaf::<Arc<Mutex<Vec<Gc<u32>>>>>());
    let unique = Arc::new(a.clone());
    assert_eq!(Arc::strong_count(&unique), 1);
    let seen = Referents::of(&unique);
    assert!(seen.is_empty() && !seen.is_opaque());
    assert!(Referents::of(&(Arc::new(vec![a.clone()]), 0_u8)).is_empty());
}

#[test]
fn weak_handles_are_leaves() {
    let [a] = handles();
    let w: Weak<u32> = Gc::downgrade(&a);
    assert!(leaf::<Weak<u32>>());
    assert!(leaf::<Vec<Option<Weak<u32>>>>());
    assert!(Referents::of(&w).is_empty());
    assert!(Referents::of(&vec![w.clone(), w]).is_empty());
}

#[test]
fn std_and_parking_lot_locks_holding_handles_are_always_opaque() {
    // Writes through these locks do not pause a collection, so their contents are never
    // traced edge by edge: the lock reports opaque, locked or not, poisoned or not.
    let [a] = handles();
    let m = Arc::new(Mutex::new(Some(a.clone())));
    let lock = RwLock::new(vec![a.clone()]);
    let pm = parking_lot::Mutex::new(a.clone());
    let pl = parking_lot::RwLock::new(Some(a.clone()));
    for seen in [Referents::of(&*m), Referents::of(&lock), Referents::of(&pm), Referents::of(&pl)] {
        assert!(seen.is_opaque() && seen.is_empty());
    }
    let m2 = m.clone();
    let _ = std::thread::spawn(move || {
        let _guard = m2.lock().unwrap();
        panic!("poisoning the mutex on purpose");
    })
    .join();
    assert!(m.is_poisoned());
    assert!(Referents::of(&*m).is_opaque());
}

#[test]
fn locks_around_leaves_report_nothing() {
    assert!(!Referents::of(&Mutex::new(5_u8)).is_opaque());
    assert!(!Referents::of(&RwLock::new(String::new())).is_opaque());
    assert!(!Referents::of(&parking_lot::Mutex::new(1_u64)).is_opaque());
}

#[test]
fn gc_cell_is_opaque_while_written() {
    let [a] = handles();
    let cell = GcCell::new(vec![a.clone()]);
    assert_each_once(&Referents::of(&cell), std::slice::from_ref(&a));
    let guard = cell.write();
    assert!(Referents::of(&cell).is_opaque());
    drop(guard);
    assert!(!Referents::of(&cell).is_opaque());
}

#[test]
fn an_opaque_part_does_not_hide_the_other_edges() {
    let [a, b] = handles();
    let value = (a.clone(), Mutex::new(b.clone()));
    let seen = Referents::of(&value);
    assert!(seen.is_opaque());
    assert_eq!((seen.len(), seen.count(&a), seen.count(&b)), (1, 1, 0));
}

#[test]
fn a_lock_held_by_another_thread_is_reported_without_waiting() {
    let [a] = handles();
    let m = Arc::new(Mutex::new(a.clone()));
    let cell = Arc::new(GcCell::new(Some(a.clone())));
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = {
        let (m, cell) = (m.clone(), cell.clone());
        std::thread::spawn(move || {
            let _m = m.lock().unwrap();
            let _c = cell.write();
            locked_tx.send(()).unwrap();
            // Hold both until the tracer is done; a tracer that waited would hang here.
            release_rx.recv().unwrap();
        })
    };
    locked_rx.recv().unwrap();
    assert!(Referents::of(&*m).is_opaque());
    assert!(Referents::of(&*cell).is_opaque());
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(Referents::of(&*m).is_opaque(), "std locks stay opaque");
    assert_each_once(&Referents::of(&*cell), std::slice::from_ref(&a));
}
