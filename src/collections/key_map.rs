//! [`WeakKeyMap`]: a concurrent map whose keys are held weakly and whose values live through
//! their keys (Python's `weakref.WeakKeyDictionary`, without its leak).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use super::keying::{ByIdentity, ByValue, Keying};
use super::snapshot::{Extract, Snapshots};
use super::weak_keys::{KeyEntry, LiveKeys, Present, WeakKeys};
use crate::{Ephemeron, Gc, Weak};

type Payload<K, V> = Arc<Ephemeron<K, V>>;
/// A live key and its payload, as read under a shard lock.
type Item<K, V> = (Gc<K>, Payload<K, V>);
/// The map's entries in the weak-key table.
type MapEntry<K, V> = KeyEntry<K, Payload<K, V>>;

/// A concurrent map from weakly held key objects to values that live *through* their keys:
/// Python's `weakref.WeakKeyDictionary`, for threads, and without its leak.
///
/// The map never keeps a key alive. When a key's last strong handle goes, its entry is
/// removed right then by a death callback, and its value is dropped with it (unless held
/// elsewhere): [`len`] counts live entries and no method returns a dead key. The classic use
/// is extra data attached to objects that the map's owner does not control.
///
/// ```
/// use weakling::{Gc, WeakKeyMap};
///
/// let extra: WeakKeyMap<String, u32> = WeakKeyMap::new();
/// let user = Gc::new(String::from("Alice"));
/// extra.insert(&user, Gc::new(100));
/// assert_eq!(*extra.get(&user).unwrap(), 100);
/// drop(user);                    // the key dies...
/// assert_eq!(extra.len(), 0);    // ...and its entry and value are gone
/// ```
///
/// # Values that refer to their key (ephemerons)
///
/// A value is stored *attached to its key object* ([`Ephemeron`]): the cycle collector sees
/// it as one of the key's own edges, not as something the map holds. So a value that refers
/// back to its key, directly or through other objects, does not keep the key alive: the key
/// and value form an ordinary cycle that the next collection frees, and the entry goes with
/// it. (In CPython, `d[k] = [k]` keeps `k` alive for as long as `d` lives.)
///
/// The collector scans only tracked objects, so this holds for keys whose type is tracked
/// (it may hold handles, [`Trace::LEAF`](crate::Trace::LEAF) is `false`). A *leaf* key
/// (say a `Gc<String>`) still takes its value with it when it dies, but a value that refers
/// back to a leaf key keeps it alive, as in CPython: a leaf cannot be part of a cycle that
/// the collector sees.
///
/// # Keys: by value or by identity
///
/// `WeakKeyMap<K, V>` compares keys by value ([`ByValue`]: `K`'s `Hash` and `Eq`), as Python
/// does: inserting a key equal to one present keeps the key object already in the map and
/// replaces its value (which is then attached to that object). [`WeakKeyIdMap`] compares by
/// identity ([`ByIdentity`]): each object is its own key, `K` needs no `Hash` or `Eq`.
///
/// # Concurrency and reentrancy
///
/// The map is sharded; every method takes `&self` and may be called from any thread. A
/// method holds at most one shard lock at a time, and only while it runs the key's `Eq` and
/// its own bookkeeping; death callbacks, `Drop` of keys and values, and loop bodies never run
/// under a lock, so they may use the map freely. `Hash` runs before any lock; `Eq` must not
/// use the map, drop the last handle to an object, or create `Gc` objects (a death or an
/// automatic collection started there could need the same shard lock). A panic in `Hash` or `Eq` propagates to the caller and leaves the map
/// unchanged by the interrupted operation. The death callbacks hold the map only weakly.
///
/// # Iteration
///
/// As for [`WeakValueMap`](super::WeakValueMap#iteration): one shard at a time, strong
/// handles only, entries present throughout yielded exactly once, changes during the
/// iteration allowed from anywhere.
///
/// [`len`]: WeakKeyMap::len
pub struct WeakKeyMap<K, V, S = ahash::RandomState, By = ByValue> {
    keys: WeakKeys<K, Payload<K, V>, S, By>,
}

/// A [`WeakKeyMap`] whose keys are compared by identity ([`ByIdentity`]): two handles are
/// the same key exactly when they point at the same object. Inserting another object, even
/// an equal one, makes a new entry; inserting the same object again replaces its value.
pub type WeakKeyIdMap<K, V, S = ahash::RandomState> = WeakKeyMap<K, V, S, ByIdentity>;

impl<K, V, By> WeakKeyMap<K, V, ahash::RandomState, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    By: Keying<K>,
{
    /// An empty map with the default hasher (ahash).
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity_and_hasher(0, ahash::RandomState::new())
    }

    /// An empty map with room for `capacity` entries.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, ahash::RandomState::new())
    }
}

impl<K, V, S, By> WeakKeyMap<K, V, S, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<K>,
{
    /// An empty map that hashes keys with `hasher`.
    #[must_use]
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map with room for `capacity` entries, hashing keys with `hasher`.
    #[must_use]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        WeakKeyMap { keys: WeakKeys::new(capacity, hasher) }
    }

    /// The map's hasher. Takes no lock.
    pub fn hasher(&self) -> &S {
        self.keys.hasher()
    }

    /// Attaches `value` to `key` (Python's `d[key] = value`) and returns the value that was
    /// there. The map holds `key` weakly; `value` lives as long as its key (or longer, if
    /// held elsewhere).
    ///
    /// Locking: a read lock to find a present key, then one write lock, each around the
    /// key's `Eq`; attaching the value and dropping a replaced entry happen outside them.
    pub fn insert(&self, key: &Gc<K>, value: Gc<V>) -> Option<Gc<V>> {
        loop {
            // An equal key already present keeps its place, and the value attaches to it.
            let owner = self.keys.stored_key(key).unwrap_or_else(|| key.clone());
            let payload = Arc::new(Ephemeron::new(&owner, value.clone()));
            let Ok((stored, leftover)) = self.keys.insert(&owner, payload, Present::Replace) else {
                // A key the collector is tearing down is dead: nothing is stored.
                return None;
            };
            if stored {
                return leftover.and_then(|old| old.payload.value());
            }
            // Another equal key object was inserted meanwhile: attach to that one instead.
            drop(leftover);
        }
    }

    /// The value of `key`, if the key is in the map (Python's `d.get(key)`).
    ///
    /// Locking: one shard's read lock, around the key's `Eq`.
    #[must_use]
    pub fn get(&self, key: &Gc<K>) -> Option<Gc<V>> {
        self.keys.find(key, |e| e.payload.clone())?.value()
    }

    /// Whether `key` is in the map (Python's `key in d`).
    ///
    /// Locking: as [`get`](WeakKeyMap::get).
    #[must_use]
    pub fn contains_key(&self, key: &Gc<K>) -> bool {
        self.keys.find(key, |e| e.key.strong_count() > 0).unwrap_or(false)
    }

    /// Removes `key`'s entry and returns its value (Python's `d.pop(key, None)`).
    ///
    /// Locking: one shard's write lock, around the key's `Eq`; the entry is dropped after.
    pub fn remove(&self, key: &Gc<K>) -> Option<Gc<V>> {
        self.keys.remove(key)?.payload.value()
    }

    /// Removes some entry whose key is alive and returns it (Python's `d.popitem()`).
    ///
    /// Locking: one shard's write lock at a time; no user code runs under it.
    pub fn pop_any(&self) -> Option<(Gc<K>, Gc<V>)> {
        loop {
            let (key, entry) = self.keys.pop_any()?;
            if let Some(value) = entry.payload.value() {
                return Some((key, value));
            }
        }
    }

    /// The value of `key`; if absent, attaches the value `make` returns and returns it
    /// (Python's `d.setdefault(key, default)`). `make` runs with no lock held.
    ///
    /// Locking: as [`get`](WeakKeyMap::get), then (on a miss) as
    /// [`insert`](WeakKeyMap::insert).
    pub fn get_or_insert_with(&self, key: &Gc<K>, make: impl FnOnce() -> Gc<V>) -> Gc<V> {
        if let Some(value) = self.get(key) {
            return value;
        }
        let made = make();
        // Retried only when another thread's equal key or value wins a race; bounded for a key
        // that can take no value (one the collector is tearing down).
        for _ in 0..4 {
            let owner = self.keys.stored_key(key).unwrap_or_else(|| key.clone());
            let payload = Arc::new(Ephemeron::new(&owner, made.clone()));
            let Ok((stored, leftover)) = self.keys.insert(&owner, payload, Present::Keep) else {
                return made;
            };
            drop(leftover);
            if stored {
                return made;
            }
            if let Some(value) = self.get(key) {
                return value;
            }
        }
        made
    }

    /// The number of entries: live keys, except that a key whose death is in progress on
    /// another thread may be counted until its callback has removed it.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the map has no entry.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Removes every entry (the values are detached and dropped after the locks).
    ///
    /// Locking: each shard's write lock in turn.
    pub fn clear(&self) {
        drop(self.keys.take_all());
    }

    /// Weak handles to the live keys (Python's `d.keyrefs()`), without the map's callbacks.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn keyrefs(&self) -> Vec<Weak<K>> {
        self.keys.keyrefs()
    }

    /// The live entries, as strong handles (Python's `d.items()`); see the
    /// [type's docs](WeakKeyMap#iteration).
    ///
    /// Locking: one shard's read lock at a time, never while the caller's code runs.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.keys.snapshots())
    }

    /// The live keys (Python's `d.keys()`).
    ///
    /// Locking: as [`iter`](WeakKeyMap::iter).
    pub fn keys(&self) -> impl Iterator<Item = Gc<K>> + '_ {
        self.keys.snapshots::<Gc<K>, LiveKeys>()
    }

    /// The values of live keys (Python's `d.values()`).
    ///
    /// Locking: as [`iter`](WeakKeyMap::iter).
    pub fn values(&self) -> impl Iterator<Item = Gc<V>> + '_ {
        self.iter().map(|(_, value)| value)
    }

    /// Keeps only the entries for which `keep` returns `true`. `keep` runs with no lock held
    /// and may use the map; a rejected entry is removed if it still holds the key object
    /// `keep` saw.
    ///
    /// Locking: one shard's read lock to read it, then a write lock per removed entry.
    pub fn retain(&self, mut keep: impl FnMut(&Gc<K>, &Gc<V>) -> bool) {
        for shard in 0..self.keys.shard_count() {
            for (key, payload) in self.keys.read_shard(shard, |e| KeysAndPayloads::extract(e, ())) {
                if let Some(value) = payload.value() {
                    if !keep(&key, &value) {
                        drop(self.keys.remove_object(&key));
                    }
                }
            }
        }
    }

    /// Inserts every `(key, value)` of `entries` (Python's `d.update(...)`).
    ///
    /// Locking: as [`insert`](WeakKeyMap::insert), once per entry.
    pub fn update(&self, entries: impl IntoIterator<Item = (Gc<K>, Gc<V>)>) {
        for (key, value) in entries {
            drop(self.insert(&key, value));
        }
    }

    /// The live entries copied into a plain map of strong handles (Python's `dict(d)`).
    /// For a [`WeakKeyIdMap`] the plain map compares keys by value, so equal keys merge.
    ///
    /// Locking: as [`iter`](WeakKeyMap::iter).
    #[must_use]
    pub fn to_map(&self) -> HashMap<Gc<K>, Gc<V>>
    where
        K: Hash + Eq,
    {
        self.iter().collect()
    }
}

/// A live key and its payload, read under a shard lock (upgrades and clones only).
struct KeysAndPayloads;

impl<K, V> Extract<MapEntry<K, V>, Item<K, V>> for KeysAndPayloads {
    #[inline]
    fn extract(e: &MapEntry<K, V>, (): ()) -> Option<Item<K, V>> {
        e.key.upgrade().map(|key| (key, e.payload.clone()))
    }
}

impl<K, V, By> Default for WeakKeyMap<K, V, ahash::RandomState, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    By: Keying<K>,
{
    fn default() -> Self {
        Self::new()
    }
}

/// A new map with the same live entries (values shared, attached anew) and a clone of the
/// hasher (Python's `d.copy()`).
impl<K, V, S, By> Clone for WeakKeyMap<K, V, S, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
    By: Keying<K>,
{
    fn clone(&self) -> Self {
        let copy = Self::with_capacity_and_hasher(self.len(), self.hasher().clone());
        copy.update(self.iter());
        copy
    }
}

/// Inserts each entry; a key that nobody else holds dies (and leaves the map) as soon as the
/// iterator drops it.
impl<K, V, S, By> Extend<(Gc<K>, Gc<V>)> for WeakKeyMap<K, V, S, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<K>,
{
    fn extend<I: IntoIterator<Item = (Gc<K>, Gc<V>)>>(&mut self, entries: I) {
        self.update(entries);
    }
}

/// Builds a map from entries: another collection's `iter()`, a plain map's `into_iter()`.
impl<K, V, S, By> FromIterator<(Gc<K>, Gc<V>)> for WeakKeyMap<K, V, S, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
    By: Keying<K>,
{
    fn from_iter<I: IntoIterator<Item = (Gc<K>, Gc<V>)>>(entries: I) -> Self {
        let map = Self::with_hasher(S::default());
        map.update(entries);
        map
    }
}

/// The entries of a plain map of strong handles, held weakly.
impl<K, V, S, S2, By> From<&HashMap<Gc<K>, Gc<V>, S2>> for WeakKeyMap<K, V, S, By>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
    By: Keying<K>,
{
    fn from(plain: &HashMap<Gc<K>, Gc<V>, S2>) -> Self {
        plain.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Equal when both have the same live keys (as the maps compare them) with equal values,
/// each read as by [`iter`](WeakKeyMap::iter): only meaningful while neither changes.
impl<K, V, S, By> PartialEq for WeakKeyMap<K, V, S, By>
where
    K: Send + Sync + 'static,
    V: PartialEq + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<K>,
{
    fn eq(&self, other: &Self) -> bool {
        let mine: Vec<(Gc<K>, Gc<V>)> = self.iter().collect();
        mine.len() == other.iter().count()
            && mine.iter().all(|(k, v)| other.get(k).is_some_and(|w| *w == **v))
    }
}

impl<K, V, S, By> fmt::Debug for WeakKeyMap<K, V, S, By>
where
    K: fmt::Debug + Send + Sync + 'static,
    V: fmt::Debug + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<K>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The live entries of a [`WeakKeyMap`], from [`WeakKeyMap::iter`].
pub struct Iter<'a, K, V>(Snapshots<'a, MapEntry<K, V>, Item<K, V>, KeysAndPayloads>);

impl<K: Send + 'static, V: Send + Sync + 'static> Iterator for Iter<'_, K, V> {
    type Item = (Gc<K>, Gc<V>);
    fn next(&mut self) -> Option<(Gc<K>, Gc<V>)> {
        loop {
            let (key, payload) = self.0.next()?;
            // Read after the shard lock is released; a value detached meanwhile is skipped.
            if let Some(value) = payload.value() {
                return Some((key, value));
            }
        }
    }
}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter { .. }")
    }
}

// SAFETY: the map owns no strong edge: keys are held weakly and each value is attached to its
// key (traced as the key's edge, see `Ephemeron`); a map stored in a `Gc` is a leaf.
unsafe impl<K, V, S, By> crate::Trace for WeakKeyMap<K, V, S, By> {
    const LEAF: bool = true;
    fn trace(&self, _: &mut crate::Tracer<'_>) {}
}
