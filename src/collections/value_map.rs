//! [`WeakValueMap`]: a concurrent map whose values are held weakly (Python's
//! `weakref.WeakValueDictionary`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use super::snapshot::{Extract, Snapshots};
use super::table::{Entry as TableEntry, Hashed, Table};
use crate::{DeathListener, Gc, PinnedRef, ReadPin, Watch, Weak};

/// A concurrent map from keys to objects that it holds **weakly**: Python's
/// `weakref.WeakValueDictionary`, for threads.
///
/// The map never keeps a value alive. When a value's last strong handle goes, its entry is
/// removed right then, by a death callback (not at some later insert): [`len`] counts live
/// entries and no method ever returns a dead value.
///
/// The classic use is a cache of shared objects: every caller that asks for the same id gets
/// the same object while anyone holds it, and a fresh one after everyone let go.
///
/// ```
/// use weakling::{Gc, WeakValueMap};
///
/// let cache: WeakValueMap<u32, String> = WeakValueMap::new();
/// let obj = Gc::new(String::from("expensive"));
/// cache.insert(1, &obj);
/// assert!(Gc::ptr_eq(&cache.get(&1).unwrap(), &obj));
/// drop(obj);                     // the last strong handle
/// assert!(cache.get(&1).is_none());
/// assert_eq!(cache.len(), 0);    // removed by the value's death, not later
/// ```
///
/// # Keys and values
///
/// Keys are plain owned values compared with their `Hash` and `Eq` (by equality, as in
/// Python); re-inserting an equal key keeps the key object already in the map and replaces
/// the value. Values are [`Gc`] objects. One value may be stored under several keys; when it
/// dies it vanishes from all of them. Replacing a key's value and letting the old value die
/// later leaves the new entry alone.
///
/// # Concurrency and reentrancy
///
/// The map is sharded; every method takes `&self` and may be called from any number of
/// threads. A method holds at most one shard lock at a time, and only while it runs the
/// key's `Eq` and its own bookkeeping (`Hash` runs before any lock): no death callback,
/// `Drop` of a value, or other user code besides `Eq` ever runs under a lock. Hence
/// callbacks, `Drop` impls and loop bodies may use the map freely, including from inside its
/// own iteration. `Eq` must not use the map, drop the last handle to an object, or create
/// `Gc` objects (a death or an automatic collection started there could need the same shard
/// lock, and deadlock). A panic in `Hash` or `Eq` propagates to the caller and leaves the map
/// unchanged by the interrupted operation.
///
/// The death callbacks hold the map only weakly: they do not keep it alive, and a value that
/// dies after the map was dropped finds nothing to do. Dropping the map cancels them.
///
/// # In a `Gc`
///
/// The map implements [`Trace`](crate::Trace) as a leaf: it owns no strong edge to its
/// values. Handles inside *keys* are not reported to the collector either, so they count as
/// references from outside: a cycle through a key is never collected (a leak, never an
/// early free). Keep `Gc` handles out of keys, or use a [`WeakKeyMap`](crate::WeakKeyMap).
///
/// # Iteration
///
/// [`iter`], [`keys`] and [`values`] read the map one shard at a time and yield strong
/// handles: every item is alive, an entry present throughout is yielded exactly once, an
/// entry inserted or removed meanwhile at most once, and the map may be changed (and `len`
/// called) during the iteration, from the loop body or from other threads. The order is
/// unspecified.
///
/// [`values_pinned`](WeakValueMap::values_pinned) (and [`WeakSet::iter_pinned`](super::WeakSet::iter_pinned))
/// reads the same way but borrows each live value under a [`ReadPin`] instead of upgrading
/// it, which writes nothing to a leaf. The same guarantees hold, with one difference: a
/// value that loses its last strong handle during the iteration dies then (upgrades fail,
/// its entry goes), while the drop of that value waits for the pin. If the iteration had
/// already read the value's shard, it still yields the value, intact.
///
/// [`len`]: WeakValueMap::len
/// [`iter`]: WeakValueMap::iter
/// [`keys`]: WeakValueMap::keys
/// [`values`]: WeakValueMap::values
pub struct WeakValueMap<K, V, S = ahash::RandomState> {
    inner: Arc<Inner<K, V, S>>,
}

struct Inner<K, V, S> {
    table: Table<Entry<K, V>>,
    hasher: S,
}

/// One key and the weak handle (carrying the removal callback) of its value.
struct Entry<K, V> {
    hash: u64,
    key: K,
    value: Watch<V>,
}

/// The removal at a value's death. Only the entry that still holds this very value goes: a
/// key whose value was replaced keeps its new entry. Found by the stored hash and the value's
/// identity, so no user code runs under the lock; the entry is dropped after it.
impl<K, V, S> DeathListener for Inner<K, V, S>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: Send + Sync + 'static,
{
    fn object_died(&self, hash: u64, object: *const ()) {
        let removed = self.table.remove(hash, |e| e.value.as_ptr().cast::<()>() == object);
        drop(removed);
    }
}

impl<K, V> Hashed for Entry<K, V> {
    #[inline]
    fn hash(&self) -> u64 {
        self.hash
    }
}

impl<K, V> WeakValueMap<K, V, ahash::RandomState>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
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

impl<K, V, S> WeakValueMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// An empty map that hashes keys with `hasher`.
    #[must_use]
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map with room for `capacity` entries, hashing keys with `hasher`.
    #[must_use]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        WeakValueMap { inner: Arc::new(Inner { table: Table::with_capacity(capacity), hasher }) }
    }

    /// The map's hasher. Takes no lock.
    pub fn hasher(&self) -> &S {
        &self.inner.hasher
    }

    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    /// A weak handle to `value` whose death removes the entry `(hash, value)`, if the map
    /// still exists then (the registration holds the map weakly); `None` if the collector is
    /// already tearing `value` down (it is dead: no entry may hold it).
    #[inline]
    fn watch(&self, hash: u64, value: &Gc<V>) -> Option<Watch<V>> {
        Gc::downgrade_notify(value, &self.inner, hash)
    }

    /// Stores `value` under `key` (Python's `d[key] = value`) and returns the value that was
    /// there, if it was alive. The map holds `value` weakly: the entry lasts as long as
    /// someone else holds the value.
    ///
    /// An equal key already present is kept (the new `key` is dropped) and only the value is
    /// replaced; the replaced value's later death does not touch the new entry. Inserting the
    /// value a key already holds changes nothing.
    ///
    /// Locking: one shard's write lock, around the key's `Eq`; the death notification is
    /// registered before the lock is taken, and the replaced handle dropped after it is
    /// released.
    pub fn insert(&self, key: K, value: &Gc<V>) -> Option<Gc<V>> {
        let hash = self.hash(&key);
        // Registered before the lock, so that the lock is held only for the lookup and the
        // swap: readers of the shard wait that long at most. `value`, held by the caller,
        // cannot die meanwhile. A registration that turns out not to be needed (the very value
        // is already there) is cancelled after the lock.
        let watch = self.watch(hash, value);
        // The closure runs under the shard lock: what it does not keep (the replaced handle,
        // an unused watch, a key equal to the one present) goes back out to be dropped after
        // the lock.
        let (same, replaced, _spare) = self.inner.table.entry(
            hash,
            key,
            |present, key| present.key == *key,
            |slot, key| match (slot, watch) {
                // The very value is already there: nothing to replace.
                (TableEntry::Occupied(present), watch)
                    if present.get().value.as_ptr() == Gc::as_ptr(value) =>
                {
                    (true, None, (Some(key), None, watch))
                }
                (TableEntry::Occupied(mut present), Some(watch)) => {
                    let old = std::mem::replace(&mut present.get_mut().value, watch);
                    (false, Some(old), (Some(key), None, None))
                }
                // A value being torn down: as if stored and dead at once, the key goes.
                (TableEntry::Occupied(present), None) => {
                    let (old, _) = present.remove();
                    (false, Some(old.value), (Some(key), Some(old.key), None))
                }
                (TableEntry::Vacant(vacant), Some(watch)) => {
                    vacant.insert(Entry { hash, value: watch, key });
                    (false, None, (None, None, None))
                }
                (TableEntry::Vacant(_), None) => (false, None, (Some(key), None, None)),
            },
        );
        if same {
            return Some(value.clone());
        }
        // Dropping the old handle (after the lock) cancels its notification.
        replaced.and_then(|old| old.upgrade())
    }

    /// The value stored under `key`, if it is alive (Python's `d.get(key)`).
    ///
    /// Locking: one shard's read lock, around the key's `Eq`.
    #[inline]
    #[must_use]
    pub fn get<Q>(&self, key: &Q) -> Option<Gc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.inner.table.find_map(hash, |e| e.key.borrow() == key, |e| e.value.upgrade()).flatten()
    }

    /// Whether a live value is stored under `key` (Python's `key in d`).
    ///
    /// Locking: as [`get`](WeakValueMap::get).
    #[must_use]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.inner
            .table
            .find_map(hash, |e| e.key.borrow() == key, |e| e.value.strong_count() > 0)
            .unwrap_or(false)
    }

    /// Removes the entry of `key` and returns its value if it was alive (Python's
    /// `d.pop(key, None)`).
    ///
    /// Locking: one shard's write lock, around the key's `Eq`; the entry is dropped after.
    pub fn remove<Q>(&self, key: &Q) -> Option<Gc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, value)| value)
    }

    /// Removes the entry of `key` and returns its key and value if the value was alive.
    ///
    /// Locking: as [`remove`](WeakValueMap::remove).
    pub fn remove_entry<Q>(&self, key: &Q) -> Option<(K, Gc<V>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let entry = self.inner.table.remove(hash, |e| e.key.borrow() == key)?;
        let value = entry.value.upgrade()?;
        Some((entry.key, value))
    }

    /// Removes some entry whose value is alive and returns it (Python's `d.popitem()`), or
    /// `None` when the map has no live entry.
    ///
    /// Locking: one shard's write lock at a time; no user code runs under it.
    pub fn pop_any(&self) -> Option<(K, Gc<V>)> {
        loop {
            let entry = self.inner.table.take_any(0, |e| e.value.strong_count() > 0)?;
            // The value may have died between the check and now; then its entry is gone
            // anyway and another one is tried.
            if let Some(value) = entry.value.upgrade() {
                return Some((entry.key, value));
            }
        }
    }

    /// The value under `key` if alive; otherwise stores `value` there and returns it
    /// (Python's `d.setdefault(key, value)`).
    ///
    /// Locking: one shard's write lock, around the key's `Eq`.
    pub fn get_or_insert(&self, key: K, value: &Gc<V>) -> Gc<V> {
        self.get_or_insert_with(key, || value.clone())
    }

    /// The value under `key` if alive; otherwise stores the value `make` returns and returns
    /// it. `make` runs without any lock held, and may itself use the map; when two threads
    /// race on one absent key, both may run `make`, and both get the one value stored first.
    ///
    /// Locking: a read lock to look, then (on a miss) one write lock around the key's `Eq`.
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> Gc<V>) -> Gc<V> {
        if let Some(value) = self.get(&key) {
            return value;
        }
        let hash = self.hash(&key);
        let made = make();
        let Some(watch) = self.watch(hash, &made) else { return made };
        let fresh = Entry { hash, value: watch, key };
        let (winner, leftover) = self.inner.table.upsert(
            fresh,
            |present, new| present.key == new.key,
            |present| match present.and_then(|e| e.value.upgrade()) {
                Some(alive) => (false, Some(alive)),
                None => (true, None),
            },
        );
        drop(leftover);
        winner.unwrap_or(made)
    }

    /// The number of entries. An entry leaves at its value's death, so this counts live
    /// values, except that a value whose death is in progress on another thread may still be
    /// counted until its callback has removed it.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.table.len()
    }

    /// Whether the map has no entry.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.table.is_empty()
    }

    /// Removes every entry.
    ///
    /// Locking: each shard's write lock in turn; the entries are dropped after.
    pub fn clear(&self) {
        drop(self.inner.table.take_all());
    }

    /// Weak handles to the live values (Python's `d.valuerefs()`); plain handles, without
    /// the map's callbacks.
    ///
    /// Locking: each shard's read lock in turn.
    #[must_use]
    pub fn valuerefs(&self) -> Vec<Weak<V>> {
        let mut out = Vec::new();
        for shard in 0..self.inner.table.shard_count() {
            let alive = self.inner.table.read_shard(shard, |e| e.value.upgrade());
            out.extend(alive.iter().map(Gc::downgrade));
        }
        out
    }

    /// Inserts every `(key, value)` of `entries` (Python's `d.update(...)`).
    ///
    /// Locking: as [`insert`](WeakValueMap::insert), once per entry.
    pub fn update<'a>(&self, entries: impl IntoIterator<Item = (K, &'a Gc<V>)>) {
        for (key, value) in entries {
            drop(self.insert(key, value));
        }
    }
}

impl<K, V, S> WeakValueMap<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// The live entries, as keys and strong handles (Python's `d.items()`). See the
    /// [type's docs](WeakValueMap#iteration) for what iteration guarantees.
    ///
    /// Locking: one shard's read lock at a time, held only while the iterator reads that
    /// shard; never while the caller's code runs.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(Snapshots::new(&self.inner.table))
    }

    /// The keys of live entries (Python's `d.keys()`).
    ///
    /// Locking: as [`iter`](WeakValueMap::iter).
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys(self.iter())
    }

    /// The live values (Python's `d.values()`).
    ///
    /// Locking: as [`iter`](WeakValueMap::iter).
    pub fn values(&self) -> Values<'_, K, V> {
        Values(Snapshots::new(&self.inner.table))
    }

    /// The live values, borrowed under `pin` instead of upgraded: no write to a value that
    /// is a leaf (see [`ReadPin`] for what being read under a pin changes for it).
    /// Otherwise as [`values`](WeakValueMap::values).
    ///
    /// Locking: as [`iter`](WeakValueMap::iter).
    pub fn values_pinned<'a>(&'a self, pin: &'a ReadPin) -> ValuesPinned<'a, K, V> {
        ValuesPinned(Snapshots::with_context(&self.inner.table, pin))
    }

    /// Keeps only the entries for which `keep` returns `true`; dead entries never reach it.
    ///
    /// `keep` runs with no lock held, on a snapshot of one shard at a time, and may use the
    /// map. An entry that `keep` rejects is removed only if it still holds the value `keep`
    /// saw.
    ///
    /// Locking: one shard's read lock to read it, then a write lock per removed entry.
    pub fn retain(&self, mut keep: impl FnMut(&K, &Gc<V>) -> bool) {
        for shard in 0..self.inner.table.shard_count() {
            let items = self.inner.table.read_shard(shard, |e| {
                e.value.upgrade().map(|value| (e.hash, e.key.clone(), value))
            });
            for (hash, key, value) in items {
                if !keep(&key, &value) {
                    let removed = self
                        .inner
                        .table
                        .remove(hash, |e| e.value.as_ptr() == Gc::as_ptr(&value) && e.key == key);
                    drop(removed);
                }
            }
        }
    }

    /// The live entries copied into a plain map of strong handles (Python's `dict(d)`).
    ///
    /// Locking: as [`iter`](WeakValueMap::iter).
    #[must_use]
    pub fn to_map(&self) -> HashMap<K, Gc<V>> {
        self.iter().collect()
    }
}

impl<K, V> Default for WeakValueMap<K, V, ahash::RandomState>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

/// A new map with the same live entries and a clone of the hasher (Python's `d.copy()`).
impl<K, V, S> Clone for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn clone(&self) -> Self {
        let copy = Self::with_capacity_and_hasher(self.len(), self.inner.hasher.clone());
        for (key, value) in self.iter() {
            drop(copy.insert(key, &value));
        }
        copy
    }
}

impl<'a, K, V, S> Extend<(K, &'a Gc<V>)> for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn extend<I: IntoIterator<Item = (K, &'a Gc<V>)>>(&mut self, entries: I) {
        self.update(entries);
    }
}

/// Inserts each entry; a value that nobody else holds dies (and leaves the map) as soon as
/// the iterator drops it.
impl<K, V, S> Extend<(K, Gc<V>)> for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn extend<I: IntoIterator<Item = (K, Gc<V>)>>(&mut self, entries: I) {
        for (key, value) in entries {
            drop(self.insert(key, &value));
        }
    }
}

impl<'a, K, V, S> FromIterator<(K, &'a Gc<V>)> for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
{
    fn from_iter<I: IntoIterator<Item = (K, &'a Gc<V>)>>(entries: I) -> Self {
        let map = Self::with_hasher(S::default());
        map.update(entries);
        map
    }
}

/// Builds a map from entries, for example another weak collection's `iter()` or a plain
/// map's `into_iter()`. A value that nobody else holds dies (and leaves the map) as soon as
/// the iterator drops it.
impl<K, V, S> FromIterator<(K, Gc<V>)> for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
{
    fn from_iter<I: IntoIterator<Item = (K, Gc<V>)>>(entries: I) -> Self {
        let mut map = Self::with_hasher(S::default());
        map.extend(entries);
        map
    }
}

/// The live entries of a plain map of strong handles.
impl<K, V, S, S2> From<&HashMap<K, Gc<V>, S2>> for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default + Send + Sync + 'static,
{
    fn from(plain: &HashMap<K, Gc<V>, S2>) -> Self {
        plain.iter().map(|(k, v)| (k.clone(), v)).collect()
    }
}

/// Equal when both have the same keys with equal (`V: PartialEq`) live values, each map read
/// as by [`iter`](WeakValueMap::iter): only meaningful while neither changes.
impl<K, V, S> PartialEq for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: PartialEq + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn eq(&self, other: &Self) -> bool {
        let mine: Vec<(K, Gc<V>)> = self.iter().collect();
        mine.len() == other.iter().count()
            && mine.iter().all(|(k, v)| other.get(k).is_some_and(|w| *w == **v))
    }
}

impl<K, V, S> fmt::Debug for WeakValueMap<K, V, S>
where
    K: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static,
    V: fmt::Debug + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

// SAFETY: values are held weakly. Keys are owned, but not reported: a handle inside a key
// counts as a reference from outside (a cycle through it is never freed, which can leak but
// never frees anything alive). A map stored in a `Gc` is a leaf.
unsafe impl<K, V, S> crate::Trace for WeakValueMap<K, V, S> {
    const LEAF: bool = true;
    fn trace(&self, _: &mut crate::Tracer<'_>) {}
}

/// The live entries of a [`WeakValueMap`], from [`WeakValueMap::iter`].
pub struct Iter<'a, K, V>(Snapshots<'a, Entry<K, V>, (K, Gc<V>), Items>);

/// A live entry's key (cloned) and value (upgraded).
struct Items;

impl<K: Clone, V> Extract<Entry<K, V>, (K, Gc<V>)> for Items {
    #[inline]
    fn extract(e: &Entry<K, V>, (): ()) -> Option<(K, Gc<V>)> {
        e.value.upgrade().map(|value| (e.key.clone(), value))
    }
}

/// A live entry's value.
struct LiveValues;

impl<K, V> Extract<Entry<K, V>, Gc<V>> for LiveValues {
    #[inline]
    fn extract(e: &Entry<K, V>, (): ()) -> Option<Gc<V>> {
        e.value.upgrade()
    }
}

impl<K: Clone, V> Iterator for Iter<'_, K, V> {
    type Item = (K, Gc<V>);
    #[inline]
    fn next(&mut self) -> Option<(K, Gc<V>)> {
        self.0.next()
    }
}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter { .. }")
    }
}

/// The keys of live entries of a [`WeakValueMap`], from [`WeakValueMap::keys`].
pub struct Keys<'a, K, V>(Iter<'a, K, V>);

impl<K: Clone, V> Iterator for Keys<'_, K, V> {
    type Item = K;
    #[inline]
    fn next(&mut self) -> Option<K> {
        self.0.next().map(|(k, _)| k)
    }
}

impl<K, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// The live values of a [`WeakValueMap`], from [`WeakValueMap::values`].
pub struct Values<'a, K, V>(Snapshots<'a, Entry<K, V>, Gc<V>, LiveValues>);

impl<K, V> Iterator for Values<'_, K, V> {
    type Item = Gc<V>;
    #[inline]
    fn next(&mut self) -> Option<Gc<V>> {
        self.0.next()
    }
}

/// A live entry's value, borrowed under a read pin.
struct PinnedValues;

impl<'p, K, V> Extract<Entry<K, V>, PinnedRef<'p, V>, &'p ReadPin> for PinnedValues {
    #[inline]
    fn extract(e: &Entry<K, V>, pin: &'p ReadPin) -> Option<PinnedRef<'p, V>> {
        e.value.get_pinned(pin)
    }
}

/// The live values of a [`WeakValueMap`], borrowed under a read pin, from
/// [`WeakValueMap::values_pinned`].
pub struct ValuesPinned<'a, K, V>(
    Snapshots<'a, Entry<K, V>, PinnedRef<'a, V>, PinnedValues, &'a ReadPin>,
);

impl<'a, K, V> Iterator for ValuesPinned<'a, K, V> {
    type Item = PinnedRef<'a, V>;
    #[inline]
    fn next(&mut self) -> Option<PinnedRef<'a, V>> {
        self.0.next()
    }
}

impl<K, V> fmt::Debug for ValuesPinned<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValuesPinned { .. }")
    }
}

impl<K, V> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Values { .. }")
    }
}
