//! How weak-key collections tell keys apart: [`ByValue`] (Python's way) or [`ByIdentity`].

use std::hash::{BuildHasher, Hash};

use crate::{Gc, Watch};

/// Keys compared by value: the key type's `Hash` and `Eq`, as in Python's
/// `WeakKeyDictionary` and `WeakSet`. Two distinct objects with equal values are one key;
/// the object inserted first stays in the collection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByValue;

/// Keys compared by identity: two handles are the same key exactly when they point at the
/// same object ([`Gc::ptr_eq`]), whatever the values; the key type needs no `Hash` or `Eq`.
/// Python's `id(obj)`-keyed registries.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByIdentity;

pub(crate) mod sealed {
    use super::*;

    /// The operations behind [`Keying`](super::Keying).
    pub trait KeyingImpl<K> {
        /// The hash of a live key.
        fn hash<S: BuildHasher>(hasher: &S, key: &Gc<K>) -> u64;

        /// Whether the stored key is `probe`'s key. Runs under a shard lock: a strong handle
        /// it needs is pushed to `upgraded`, for the caller to drop after the lock.
        fn matches(stored: &Watch<K>, probe: &Gc<K>, upgraded: &mut Vec<Gc<K>>) -> bool;
    }
}

/// How a weak-key collection compares keys: [`ByValue`] or [`ByIdentity`]. Sealed.
pub trait Keying<K>: sealed::KeyingImpl<K> + Send + Sync + 'static {}

impl<K: Hash + Eq> sealed::KeyingImpl<K> for ByValue {
    #[inline]
    fn hash<S: BuildHasher>(hasher: &S, key: &Gc<K>) -> u64 {
        hasher.hash_one(&**key)
    }

    #[inline]
    fn matches(stored: &Watch<K>, probe: &Gc<K>, upgraded: &mut Vec<Gc<K>>) -> bool {
        if stored.as_ptr() == Gc::as_ptr(probe) {
            return true;
        }
        // A dead stored key matches nothing: its entry is on its way out.
        let Some(present) = stored.upgrade() else { return false };
        let equal = *present == **probe;
        // Not dropped here: it might be the last handle, and its death would need the lock.
        upgraded.push(present);
        equal
    }
}

impl<K: Hash + Eq> Keying<K> for ByValue {}

impl<K> sealed::KeyingImpl<K> for ByIdentity {
    #[inline]
    fn hash<S: BuildHasher>(hasher: &S, key: &Gc<K>) -> u64 {
        hasher.hash_one(Gc::as_ptr(key) as usize)
    }

    #[inline]
    fn matches(stored: &Watch<K>, probe: &Gc<K>, _: &mut Vec<Gc<K>>) -> bool {
        // An address is unique among allocated objects, and a stored weak handle keeps its
        // object's memory allocated: no other object can be at that address.
        stored.as_ptr() == Gc::as_ptr(probe)
    }
}

impl<K> Keying<K> for ByIdentity {}
