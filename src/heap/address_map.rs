//! A map keyed by object addresses: the table that the death table keeps in each shard.
//!
//! Addresses are distinct non-zero words, so the map needs no general hashing: a key's home
//! slot is the top bits of the address times an odd constant (Fibonacci hashing), and
//! collisions go to the next free slot (linear probing). A removal shifts the entries behind
//! it back instead of leaving a tombstone, so a lookup stops at the first empty slot and the
//! map never needs cleaning. The slots are one array of `Option<(key, value)>`: no control
//! bytes, no unsafe code.
//!
//! The load stays at most 7/8, as in std's `HashMap`, so that the slots cost no more memory
//! than there: the map doubles when it would pass 7/8 and so runs between 7/16 and 7/8 full.
//! At the top, linear probing finds a key in about four probes and an empty slot in about
//! thirty; right after a doubling, in one or two. A shard holds one entry per object with
//! callbacks or hooks, and the common case (an entry made and taken again soon, in a shard
//! that holds few) finds its home slot empty.

use std::num::NonZeroUsize;

/// Multiplies the address before its top bits are taken: 2^64 divided by the golden ratio,
/// which spreads nearby addresses far apart.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;
/// The fewest slots of a map that holds anything.
const MIN_SLOTS: usize = 8;

pub(crate) struct AddressMap<V> {
    /// A power of two in length (or empty), at most 7/8 full.
    slots: Box<[Option<(NonZeroUsize, V)>]>,
    len: usize,
}

impl<V> Default for AddressMap<V> {
    fn default() -> Self {
        AddressMap { slots: Box::default(), len: 0 }
    }
}

impl<V> AddressMap<V> {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The home slot of `key` in a map of `slots` slots (a power of two, at least 2).
    #[inline]
    fn home(key: NonZeroUsize, slots: usize) -> usize {
        let bits = slots.trailing_zeros();
        ((key.get() as u64).wrapping_mul(SPREAD) >> (64 - bits)) as usize
    }

    /// Where `key` is (`Ok`), or the empty slot where it would go (`Err`). The map has at least
    /// one empty slot.
    #[inline]
    fn find(&self, key: NonZeroUsize) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut at = Self::home(key, self.slots.len());
        loop {
            match &self.slots[at] {
                None => return Err(at),
                Some((k, _)) if *k == key => return Ok(at),
                Some(_) => at = (at + 1) & mask,
            }
        }
    }

    #[inline]
    fn position(&self, key: NonZeroUsize) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        self.find(key).ok()
    }

    pub(crate) fn get(&self, key: NonZeroUsize) -> Option<&V> {
        let at = self.position(key)?;
        self.slots[at].as_ref().map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: NonZeroUsize) -> Option<&mut V> {
        let at = self.position(key)?;
        self.slots[at].as_mut().map(|(_, v)| v)
    }

    /// Puts `value` in under `key`, or hands it back beside the value `key` already has: one
    /// search either way.
    #[inline(always)]
    pub(crate) fn try_insert(&mut self, key: NonZeroUsize, value: V) -> Result<(), (&mut V, V)> {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
        match self.find(key) {
            Ok(at) => Err((self.slots[at].as_mut().map(|(_, v)| v).expect("found above"), value)),
            Err(at) => {
                self.slots[at] = Some((key, value));
                self.len += 1;
                Ok(())
            }
        }
    }

    /// Takes `key`'s value out, shifting back the entries that probed past its slot.
    #[inline(always)]
    pub(crate) fn remove(&mut self, key: NonZeroUsize) -> Option<V> {
        let hole = self.position(key)?;
        let (_, value) = self.slots[hole].take().expect("found above");
        self.len -= 1;
        let mask = self.slots.len() - 1;
        if self.slots[(hole + 1) & mask].is_some() {
            self.close(hole);
        }
        Some(value)
    }

    /// Moves back, into the empty slot `hole`, the entries after it that probed past it, and
    /// so on for the slots they leave, up to the next empty slot. Out of line: most removals
    /// find the next slot empty.
    #[inline(never)]
    fn close(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut next = (hole + 1) & mask;
        while let Some((k, _)) = &self.slots[next] {
            // The entry at `next` may fill the hole unless its home lies cyclically after the
            // hole, up to `next`: then it was never past the hole.
            let home = Self::home(*k, self.slots.len());
            if (next.wrapping_sub(home) & mask) >= (next.wrapping_sub(hole) & mask) {
                self.slots[hole] = self.slots[next].take();
                hole = next;
            }
            next = (next + 1) & mask;
        }
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (NonZeroUsize, &V)> {
        self.slots.iter().filter_map(|slot| slot.as_ref().map(|(k, v)| (*k, v)))
    }

    /// Gives back the memory of a map that a burst of entries left large and sparse: lookups
    /// in it would miss the cache on every death.
    pub(crate) fn shrink_if_sparse(&mut self) {
        if self.slots.len() > 64 && self.len < self.slots.len() / 8 {
            self.resize((self.len * 4).next_power_of_two().max(MIN_SLOTS));
        }
    }

    /// Moves every entry to a map of `slots` slots.
    #[cold]
    fn resize(&mut self, slots: usize) {
        debug_assert!(slots.is_power_of_two() && self.len * 8 <= slots * 7);
        let old = std::mem::replace(&mut self.slots, (0..slots).map(|_| None).collect());
        for (key, value) in old.into_vec().into_iter().flatten() {
            let Err(at) = self.find(key) else { unreachable!("keys are distinct") };
            self.slots[at] = Some((key, value));
        }
    }
}

#[cfg(all(test, not(weakling_loom)))]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn key(k: usize) -> NonZeroUsize {
        NonZeroUsize::new(k).unwrap()
    }

    #[test]
    fn inserts_finds_and_removes() {
        let mut map = AddressMap::default();
        assert_eq!(map.get(key(16)), None);
        assert_eq!(map.remove(key(16)), None);
        assert_eq!(map.try_insert(key(16), 1), Ok(()));
        assert_eq!(map.try_insert(key(32), 2), Ok(()));
        let (old, refused) = map.try_insert(key(16), 9).unwrap_err();
        *old += refused + 1;
        assert_eq!(map.get(key(16)), Some(&11));
        assert_eq!(map.len(), 2);
        assert_eq!(map.remove(key(16)), Some(11));
        assert_eq!(map.get(key(16)), None);
        assert_eq!(map.get(key(32)), Some(&2));
        assert_eq!(map.len(), 1);
    }

    /// Keys that all share a home slot, then removals from the middle of their run: the shift
    /// back must keep every other key findable.
    #[test]
    fn removals_inside_a_collision_run_keep_the_rest_findable() {
        let mut map = AddressMap::default();
        map.resize(64);
        let colliding: Vec<usize> = (1..100_000)
            .map(|k| k * 16)
            .filter(|&k| AddressMap::<u32>::home(key(k), 64) == 5)
            .take(12)
            .collect();
        assert_eq!(colliding.len(), 12);
        for (i, &k) in colliding.iter().enumerate() {
            assert_eq!(map.try_insert(key(k), i), Ok(()));
        }
        for &gone in [&colliding[3], &colliding[0], &colliding[11], &colliding[7]] {
            assert!(map.remove(key(gone)).is_some());
        }
        for (i, &k) in colliding.iter().enumerate() {
            let expected = (![0, 3, 7, 11].contains(&i)).then_some(i);
            assert_eq!(map.get(key(k)).copied(), expected, "key {i}");
        }
    }

    /// Random inserts and removals against `HashMap`, across growth, shrinking and wrap-around
    /// at the end of the slots.
    #[test]
    fn agrees_with_a_hash_map() {
        let mut map = AddressMap::default();
        let mut model = HashMap::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200_000 {
            // Few distinct addresses, so that keys come back; a growing then falling size.
            let k = key(((next() % 4096) as usize + 1) * 16);
            let insert = if round < 100_000 { next() % 3 != 0 } else { next() % 3 == 0 };
            if insert {
                let v = next();
                match map.try_insert(k, v) {
                    Ok(()) => assert!(!model.contains_key(&k)),
                    Err((old, v)) => *old = v,
                }
                model.insert(k, v);
            } else {
                assert_eq!(map.remove(k), model.remove(&k));
                map.shrink_if_sparse();
            }
            assert_eq!(map.len(), model.len());
            assert!(map.len() * 8 <= map.capacity() * 7);
        }
        for (k, v) in &model {
            assert_eq!(map.get(*k), Some(v));
        }
        let mut listed: Vec<_> = map.iter().map(|(k, v)| (k, *v)).collect();
        let mut expected: Vec<_> = model.into_iter().collect();
        listed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }
}
