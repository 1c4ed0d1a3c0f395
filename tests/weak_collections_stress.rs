//! Several threads insert, remove, look up and iterate while the values and keys die on
//! other threads. Sized by `WEAKLING_TEST_SCALE` so that CI can run it under valgrind and
//! AddressSanitizer.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Barrier};
use std::thread;

use weakling::{Gc, WeakIdSet, WeakKeyIdMap, WeakKeyMap, WeakSet, WeakValueMap};

const THREADS: usize = 4;
const KEYS: u32 = 64;

/// xorshift64*: a small deterministic generator per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as u32
    }
}

/// A value that knows its key, so that every lookup can check it got the right one.
struct Val {
    key: u32,
}

// SAFETY: no handles.
unsafe impl weakling::Trace for Val {
    const LEAF: bool = true;
    fn trace(&self, _: &mut weakling::Tracer<'_>) {}
}

/// Runs `body(thread index, rng)` on `THREADS` threads started together.
fn on_threads(body: impl Fn(usize, &mut Rng) + Send + Sync + 'static) {
    let body = Arc::new(body);
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let body = body.clone();
            let start = start.clone();
            thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1234_5678));
                start.wait();
                body(t, &mut rng);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a stress thread panicked");
    }
}

#[test]
fn value_map_under_concurrent_inserts_removals_iteration_and_deaths() {
    let rounds = common::scaled(50_000);
    let map: Arc<WeakValueMap<u32, Val>> = Arc::new(WeakValueMap::new());
    let m = map.clone();
    on_threads(move |_, rng| {
        // Each thread holds its recent values; older ones die as they are pushed out.
        let mut held: VecDeque<Gc<Val>> = VecDeque::new();
        for _ in 0..rounds {
            let key = rng.next() % KEYS;
            match rng.next() % 16 {
                0..=5 => {
                    let v = Gc::new(Val { key });
                    if let Some(old) = m.insert(key, &v) {
                        assert_eq!(old.key, key);
                    }
                    held.push_back(v);
                    if held.len() > 8 {
                        held.pop_front();
                    }
                }
                6..=10 => {
                    if let Some(v) = m.get(&key) {
                        assert_eq!(v.key, key);
                    }
                }
                11 => {
                    if let Some(v) = m.remove(&key) {
                        assert_eq!(v.key, key);
                    }
                }
                12 => {
                    let v = m.get_or_insert_with(key, || Gc::new(Val { key }));
                    assert_eq!(v.key, key);
                    held.push_back(v);
                }
                13 => {
                    let mut seen = 0;
                    for (k, v) in m.iter().take(32) {
                        assert_eq!(k, v.key);
                        seen += 1;
                    }
                    assert!(seen <= KEYS as usize);
                    // Borrowed under a pin: values that die meanwhile stay intact.
                    let pin = weakling::read_pin();
                    for v in m.values_pinned(&pin).take(32) {
                        assert!(v.key < KEYS);
                    }
                }
                14 => {
                    held.clear();
                }
                _ => {
                    assert!(m.len() <= KEYS as usize);
                    if let Some((k, v)) = m.pop_any() {
                        assert_eq!(k, v.key);
                    }
                }
            }
        }
    });
    // Every thread's handles are gone: so is every entry.
    assert_eq!(map.len(), 0);
    assert_eq!(map.iter().count(), 0);
}

#[test]
fn key_map_and_sets_under_concurrent_use_and_deaths() {
    let rounds = common::scaled(20_000);
    let map: Arc<WeakKeyMap<u32, Val>> = Arc::new(WeakKeyMap::new());
    let set: Arc<WeakSet<u32>> = Arc::new(WeakSet::new());
    let ids: Arc<WeakIdSet<u32>> = Arc::new(WeakIdSet::new());
    let (m, s, i) = (map.clone(), set.clone(), ids.clone());
    on_threads(move |_, rng| {
        let mut held: VecDeque<Gc<u32>> = VecDeque::new();
        for _ in 0..rounds {
            let key = rng.next() % KEYS;
            match rng.next() % 10 {
                0..=3 => {
                    let k = Gc::new(key);
                    m.insert(&k, Gc::new(Val { key }));
                    s.insert(&k);
                    i.insert(&k);
                    held.push_back(k);
                    if held.len() > 8 {
                        held.pop_front();
                    }
                }
                4..=6 => {
                    let probe = Gc::new(key);
                    if let Some(v) = m.get(&probe) {
                        assert_eq!(v.key, key);
                    }
                    let _ = s.contains(&probe);
                    assert!(!i.contains(&probe), "a fresh object is nobody's member");
                }
                7 => {
                    for (k, v) in m.iter().take(16) {
                        assert_eq!(*k, v.key);
                    }
                    for member in s.iter().take(16) {
                        assert!(*member < KEYS);
                    }
                    let pin = weakling::read_pin();
                    for member in i.iter_pinned(&pin).take(16) {
                        assert!(*member < KEYS);
                    }
                }
                8 => {
                    if let Some(k) = held.pop_front() {
                        m.remove(&k);
                        i.remove(&k);
                    }
                }
                _ => held.clear(),
            }
        }
    });
    assert_eq!((map.len(), set.len(), ids.len()), (0, 0, 0));
}

#[test]
fn maps_dropped_while_their_values_die_on_other_threads() {
    for _ in 0..common::scaled(200) {
        let values: Vec<Gc<Val>> = (0..32).map(|key| Gc::new(Val { key })).collect();
        let map: WeakValueMap<u32, Val> = WeakValueMap::new();
        let keyed: WeakKeyIdMap<Val, Val> = WeakKeyIdMap::new();
        for v in &values {
            map.insert(v.key, v);
            keyed.insert(v, Gc::new(Val { key: v.key }));
        }
        let barrier = Arc::new(Barrier::new(2));
        let b = barrier.clone();
        let killer = thread::spawn(move || {
            b.wait();
            drop(values); // callbacks race with the maps' drop below
        });
        barrier.wait();
        drop(map);
        drop(keyed);
        killer.join().unwrap();
    }
}
