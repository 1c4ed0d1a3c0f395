//! The weak-key table shared by [`WeakKeyMap`](super::WeakKeyMap) and
//! [`WeakSet`](super::WeakSet): entries keyed by a weakly held object, each with a payload
//! (an attached value for the map, nothing for the set).
//!
//! Every entry's key handle carries a death callback that removes the entry, found by the
//! stored hash and the dead key's identity (no user code). Lookups compare keys with the
//! collection's [`Keying`]; a key upgraded for a comparison under the shard lock is dropped
//! only after the lock is released.

use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::sync::Arc;

use super::keying::Keying;
use super::snapshot::{Extract, Snapshots};
use super::table::{Hashed, Table};
use crate::{DeathListener, Gc, PinnedRef, ReadPin, Watch, Weak};

/// One weakly held key and its payload.
pub(crate) struct KeyEntry<K, P> {
    hash: u64,
    pub(crate) key: Watch<K>,
    pub(crate) payload: P,
}

impl<K, P> Hashed for KeyEntry<K, P> {
    #[inline]
    fn hash(&self) -> u64 {
        self.hash
    }
}

struct Inner<K, P, S> {
    table: Table<KeyEntry<K, P>>,
    hasher: S,
}

/// The removal at a key's death: the entry holding that very key object, found by the stored
/// hash and the identity, with no user code under the lock; dropped after it.
impl<K, P, S> DeathListener for Inner<K, P, S>
where
    K: Send + Sync + 'static,
    P: Send + Sync + 'static,
    S: Send + Sync + 'static,
{
    fn object_died(&self, hash: u64, object: *const ()) {
        let removed = self.table.remove(hash, |e| e.key.as_ptr().cast::<()>() == object);
        drop(removed);
    }
}

/// A table of weakly held keys with payloads `P`, compared `By`.
pub(crate) struct WeakKeys<K, P, S, By> {
    inner: Arc<Inner<K, P, S>>,
    _by: PhantomData<fn() -> By>,
}

/// How [`WeakKeys::insert`] treats a key that is already present.
pub(crate) enum Present {
    /// The present entry stays (a set keeps its first member).
    Keep,
    /// The new entry replaces it; the caller made the payload for the present key object.
    Replace,
}

impl<K, P, S, By> WeakKeys<K, P, S, By>
where
    K: Send + Sync + 'static,
    P: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    By: Keying<K>,
{
    pub(crate) fn new(capacity: usize, hasher: S) -> Self {
        WeakKeys {
            inner: Arc::new(Inner { table: Table::with_capacity(capacity), hasher }),
            _by: PhantomData,
        }
    }

    pub(crate) fn hasher(&self) -> &S {
        &self.inner.hasher
    }

    #[inline]
    fn hash(&self, key: &Gc<K>) -> u64 {
        By::hash(&self.inner.hasher, key)
    }

    /// A weak handle to `key` whose death removes its entry, if the table still exists;
    /// `None` if the collector is already tearing `key` down.
    fn watch(&self, hash: u64, key: &Gc<K>) -> Option<Watch<K>> {
        Gc::downgrade_notify(key, &self.inner, hash)
    }

    /// Runs `f` on the entry of `key` under the shard's read lock.
    pub(crate) fn find<R>(&self, key: &Gc<K>, f: impl FnOnce(&KeyEntry<K, P>) -> R) -> Option<R> {
        let hash = self.hash(key);
        let mut upgraded = Vec::new();
        let found = self.inner.table.find_map(hash, |e| By::matches(&e.key, key, &mut upgraded), f);
        drop(upgraded);
        found
    }

    /// The live key object stored for `key`'s key (under `ByValue`, the equal object that
    /// was inserted first), if any.
    pub(crate) fn stored_key(&self, key: &Gc<K>) -> Option<Gc<K>> {
        self.find(key, |e| e.key.upgrade()).flatten()
    }

    /// Stores `payload` under `owner`, the key object the entry will hold. Returns whether
    /// it was stored and the entry left over (replaced, or the new one unused) to drop;
    /// `Err` with the payload if the collector is already tearing `owner` down (it is dead:
    /// nothing is stored).
    ///
    /// A present entry whose key object is `owner` is replaced when `present` says so; one
    /// whose key is dead is always replaced; one holding another live, equal key object is
    /// kept and `false` returned (the caller may retry with that object).
    pub(crate) fn insert(
        &self,
        owner: &Gc<K>,
        payload: P,
        present: Present,
    ) -> Result<(bool, Option<KeyEntry<K, P>>), P> {
        let hash = self.hash(owner);
        let Some(watch) = self.watch(hash, owner) else { return Err(payload) };
        let entry = KeyEntry { hash, key: watch, payload };
        let mut upgraded = Vec::new();
        let (stored, leftover) = self.inner.table.upsert(
            entry,
            |e, _| By::matches(&e.key, owner, &mut upgraded),
            |found| {
                let put = match found {
                    None => true,
                    // A dead key's entry is on its way out: take its place.
                    Some(e) if e.key.strong_count() == 0 => true,
                    Some(e) if e.key.as_ptr() == Gc::as_ptr(owner) => {
                        matches!(present, Present::Replace)
                    }
                    Some(_) => false,
                };
                (put, put)
            },
        );
        drop(upgraded);
        Ok((stored, leftover))
    }

    /// Removes the entry of `key`.
    pub(crate) fn remove(&self, key: &Gc<K>) -> Option<KeyEntry<K, P>> {
        let hash = self.hash(key);
        let mut upgraded = Vec::new();
        let removed = self.inner.table.remove(hash, |e| By::matches(&e.key, key, &mut upgraded));
        drop(upgraded);
        removed
    }

    /// Removes the entry holding exactly the key object `key` (not an equal one).
    pub(crate) fn remove_object(&self, key: &Gc<K>) -> Option<KeyEntry<K, P>> {
        let hash = self.hash(key);
        self.inner.table.remove(hash, |e| e.key.as_ptr() == Gc::as_ptr(key))
    }

    /// Removes some entry whose key is alive, and returns it with its key.
    pub(crate) fn pop_any(&self) -> Option<(Gc<K>, KeyEntry<K, P>)> {
        loop {
            let entry = self.inner.table.take_any(0, |e| e.key.strong_count() > 0)?;
            if let Some(key) = entry.key.upgrade() {
                return Some((key, entry));
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.table.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.table.is_empty()
    }

    /// Takes every entry out, to drop after the locks.
    pub(crate) fn take_all(&self) -> Vec<KeyEntry<K, P>> {
        self.inner.table.take_all()
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.inner.table.shard_count()
    }

    /// The items `extract` makes of shard `index`'s entries, read at one moment.
    pub(crate) fn read_shard<T>(
        &self,
        index: usize,
        extract: impl FnMut(&KeyEntry<K, P>) -> Option<T>,
    ) -> Vec<T> {
        self.inner.table.read_shard(index, extract)
    }

    /// Iterates the entries, shard by shard (see `snapshot.rs` for the guarantees).
    pub(crate) fn snapshots<T, X: Extract<KeyEntry<K, P>, T>>(
        &self,
    ) -> Snapshots<'_, KeyEntry<K, P>, T, X> {
        Snapshots::new(&self.inner.table)
    }

    /// The live keys, borrowed under `pin`, shard by shard.
    pub(crate) fn pinned_snapshots<'a>(
        &'a self,
        pin: &'a ReadPin,
    ) -> Snapshots<'a, KeyEntry<K, P>, PinnedRef<'a, K>, PinnedKeys, &'a ReadPin> {
        Snapshots::with_context(&self.inner.table, pin)
    }

    /// Weak handles to the live keys, without the table's callbacks.
    pub(crate) fn keyrefs(&self) -> Vec<Weak<K>> {
        let mut out = Vec::new();
        for shard in 0..self.shard_count() {
            let alive = self.read_shard(shard, |e| e.key.upgrade());
            out.extend(alive.iter().map(Gc::downgrade));
        }
        out
    }
}

/// A live entry's key, upgraded.
pub(crate) struct LiveKeys;

/// A live key, borrowed under a read pin.
pub(crate) struct PinnedKeys;

impl<'p, K, P> Extract<KeyEntry<K, P>, PinnedRef<'p, K>, &'p ReadPin> for PinnedKeys {
    #[inline]
    fn extract(e: &KeyEntry<K, P>, pin: &'p ReadPin) -> Option<PinnedRef<'p, K>> {
        e.key.get_pinned(pin)
    }
}

impl<K, P> Extract<KeyEntry<K, P>, Gc<K>> for LiveKeys {
    #[inline]
    fn extract(e: &KeyEntry<K, P>, (): ()) -> Option<Gc<K>> {
        e.key.upgrade()
    }
}
