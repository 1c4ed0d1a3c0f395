//! A miniature simulation: one policy replaying a hash-sampled share of a cache's requests at
//! the same share of its capacity (Waldspurger, Saemundsson, Ahmad and Park, "Cache Modeling
//! and Optimization using Miniature Simulations", USENIX ATC '17).
//!
//! When keys are sampled by a hash of the key, a sampled key is seen on every one of its
//! requests, so the sample keeps the reuse pattern of the whole stream; a cache scaled down by
//! the sampling rate then hits at about the rate the full-size cache would. The adaptive
//! policy runs one miniature per candidate policy and compares their hits.
//!
//! A miniature knows keys only by their 64-bit hash; a collision merges two keys, which blurs
//! the estimate a little and nothing else.

use std::collections::HashMap;

use super::{Eviction, Handle};

pub(crate) struct Miniature {
    policy: Box<dyn Eviction<u64>>,
    resident: HashMap<u64, Handle, ahash::RandomState>,
    evicted: Vec<u64>,
}

impl std::fmt::Debug for Miniature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Miniature").field("resident", &self.resident.len()).finish_non_exhaustive()
    }
}

impl Miniature {
    /// A miniature running `policy` (already built at the scaled-down capacity).
    pub(crate) fn new(policy: Box<dyn Eviction<u64>>) -> Miniature {
        Miniature {
            policy,
            resident: HashMap::with_hasher(ahash::RandomState::with_seeds(9, 10, 11, 12)),
            evicted: Vec::new(),
        }
    }

    /// Replays one request for the key with `hash`; returns whether it hit.
    pub(crate) fn access(&mut self, hash: u64, weight: u32) -> bool {
        if let Some(&h) = self.resident.get(&hash) {
            self.policy.touch(h);
            true
        } else {
            let h = self.policy.insert(hash, hash, weight, &mut self.evicted);
            self.resident.insert(hash, h);
            for gone in self.evicted.drain(..) {
                self.resident.remove(&gone);
            }
            false
        }
    }

    /// Bytes of heap memory held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.policy.heap_bytes()
            + self.resident.capacity() * (std::mem::size_of::<(u64, Handle)>() + 1)
            + self.evicted.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Policy;

    #[test]
    fn counts_hits_and_stays_within_capacity() {
        let mut m = Miniature::new(Policy::Lru.build::<u64>(2));
        let hits: Vec<bool> = [1, 2, 1, 3, 2, 1].iter().map(|&h| m.access(h, 1)).collect();
        // LRU of two: 1 miss, 2 miss, 1 hit, 3 miss (evicts 2), 2 miss (evicts 1), 1 miss.
        assert_eq!(hits, [false, false, true, false, false, false]);
        assert_eq!(m.resident.len(), 2);
        // Heavier than the whole miniature: never resident.
        assert!(!m.access(9, 3));
        assert!(!m.resident.contains_key(&9));
    }
}
