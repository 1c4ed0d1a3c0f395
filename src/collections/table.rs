//! The table engine under every weak collection: a sharded hash table whose entries carry
//! their own hash.
//!
//! The design is dashmap's (a power-of-two number of cache-padded shards, each a
//! reader-writer lock around a hashbrown table, the shard chosen by the hash bits that
//! hashbrown does not use), rebuilt on the crate's lock shim so that the loom models check the
//! weak collections' protocols with model-checked locks. Two further differences serve the
//! collections:
//!
//! * Entries store their hash. A lookup hashes the probe once, *before* any lock is taken;
//!   rehashing on growth reads the stored hashes. So a panicking `Hash` never runs under a
//!   lock and can never leave a table half rehashed.
//! * Lookups take an equality *closure*: the collections find an entry by key equality (user
//!   code), by the identity of a dead referent (a death callback), or by the key object's
//!   address (identity-keyed variants), all with one engine. The closure is asked only about
//!   entries whose stored hash is the probe's: hashbrown compares just 7 bits of the hash
//!   before calling it, and a closure that compares identities cannot tell apart two entries
//!   of different keys holding the same object (one value under several keys).
//!
//! # Rules for callers
//!
//! Closures run under a shard lock. They must not drop a `Gc` handle (its death would run
//! callbacks that take shard locks), so they only compare and upgrade; anything to drop is
//! returned and dropped after the lock is released. Nothing here runs user code besides the
//! closures it is given.

pub(crate) use hashbrown::hash_table::Entry;
use hashbrown::hash_table::HashTable;

use crate::sync::{CachePadded, SpinRwLock};

/// An entry that knows its hash.
pub(crate) trait Hashed {
    fn hash(&self) -> u64;
}

/// The sharded table.
pub(crate) struct Table<E> {
    shards: Box<[CachePadded<SpinRwLock<HashTable<E>>>]>,
    /// `hash << 7 >> shift` is the shard index (hashbrown uses the top 7 bits itself).
    shift: u32,
}

fn rehash<E: Hashed>(entry: &E) -> u64 {
    entry.hash()
}

/// `eq`, asked only about entries whose stored hash is `hash`.
#[inline]
fn same_hash<E: Hashed>(hash: u64, mut eq: impl FnMut(&E) -> bool) -> impl FnMut(&E) -> bool {
    move |entry| entry.hash() == hash && eq(entry)
}

impl<E: Hashed> Table<E> {
    /// A table with `capacity` entries' room, spread over the shards.
    pub(crate) fn with_capacity(capacity: usize) -> Table<E> {
        let shards = default_shards();
        let per_shard = capacity.div_ceil(shards);
        Table {
            shards: (0..shards)
                .map(|_| CachePadded(SpinRwLock::new(HashTable::with_capacity(per_shard))))
                .collect(),
            shift: usize::BITS - shards.trailing_zeros(),
        }
    }

    fn shard(&self, hash: u64) -> &SpinRwLock<HashTable<E>> {
        let index = if self.shards.len() == 1 { 0 } else { ((hash as usize) << 7) >> self.shift };
        &self.shards[index]
    }

    /// The number of shards.
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Runs `f` on the first entry with `hash` that `eq` accepts, under a read lock.
    #[inline]
    pub(crate) fn find_map<R>(
        &self,
        hash: u64,
        eq: impl FnMut(&E) -> bool,
        f: impl FnOnce(&E) -> R,
    ) -> Option<R> {
        let shard = self.shard(hash).read();
        shard.find(hash, same_hash(hash, eq)).map(f)
    }

    /// Looks `probe` up under the write lock (`eq(entry, &probe)`) and hands the slot and the
    /// probe to `f`, which may fill or change it. `f` runs under the lock: it must not drop
    /// handles (return what is to be dropped). If `eq` panics, `f` is dropped unrun after the
    /// lock is released (parameters drop after the guard), so what it captured may be handles.
    #[inline]
    pub(crate) fn entry<Q, R>(
        &self,
        hash: u64,
        probe: Q,
        mut eq: impl FnMut(&E, &Q) -> bool,
        f: impl FnOnce(Entry<'_, E>, Q) -> R,
    ) -> R {
        let mut shard = self.shard(hash).write();
        let slot = shard.entry(hash, same_hash(hash, |present| eq(present, &probe)), rehash);
        f(slot, probe)
    }

    /// Looks `new`'s key up under the write lock; `decide` sees the present entry and says
    /// whether `new` replaces it (or fills the empty slot). Returns `decide`'s answer and
    /// whichever entry is left over (the replaced one, or `new` unused), to drop after the
    /// lock.
    pub(crate) fn upsert<R>(
        &self,
        new: E,
        mut eq: impl FnMut(&E, &E) -> bool,
        decide: impl FnOnce(Option<&E>) -> (bool, R),
    ) -> (R, Option<E>) {
        let hash = new.hash();
        let mut shard = self.shard(hash).write();
        match shard.entry(hash, same_hash(hash, |present| eq(present, &new)), rehash) {
            Entry::Occupied(mut present) => match decide(Some(present.get())) {
                (false, r) => (r, Some(new)),
                (true, r) => (r, Some(std::mem::replace(present.get_mut(), new))),
            },
            Entry::Vacant(vacant) => match decide(None) {
                (false, r) => (r, Some(new)),
                (true, r) => {
                    vacant.insert(new);
                    (r, None)
                }
            },
        }
    }

    /// Removes the first entry with `hash` that `eq` accepts.
    #[inline]
    pub(crate) fn remove(&self, hash: u64, eq: impl FnMut(&E) -> bool) -> Option<E> {
        let mut shard = self.shard(hash).write();
        match shard.find_entry(hash, same_hash(hash, eq)) {
            Ok(found) => Some(found.remove().0),
            Err(_) => None,
        }
    }

    /// The number of entries (each shard counted at a slightly different moment).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Whether no shard holds an entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.read().is_empty())
    }

    /// Takes every entry out, shard by shard.
    pub(crate) fn take_all(&self) -> Vec<E> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            out.extend(shard.write().drain());
        }
        out
    }

    /// Takes out one entry that `accept` likes, starting at the shard `start` picks.
    pub(crate) fn take_any(&self, start: usize, mut accept: impl FnMut(&E) -> bool) -> Option<E> {
        let n = self.shards.len();
        for i in 0..n {
            let mut shard = self.shards[(start + i) % n].write();
            let mut taken = false;
            let mut found = shard.extract_if(|e| {
                if !taken && accept(e) {
                    taken = true;
                    true
                } else {
                    false
                }
            });
            if let Some(entry) = found.next() {
                return Some(entry);
            }
        }
        None
    }

    /// Whatever `extract` gives for the entries of shard `index`, read at one moment.
    pub(crate) fn read_shard<T>(
        &self,
        index: usize,
        extract: impl FnMut(&E) -> Option<T>,
    ) -> Vec<T> {
        let shard = self.shards[index].read();
        shard.iter().filter_map(extract).collect()
    }
}

fn default_shards() -> usize {
    #[cfg(weakling_loom)]
    return 2;
    #[cfg(not(weakling_loom))]
    {
        // Asked once: `available_parallelism` reads cgroup files on Linux.
        static SHARDS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *SHARDS.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(4, usize::from);
            (threads * 4).next_power_of_two().max(4)
        })
    }
}
