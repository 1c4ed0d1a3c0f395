//! A ghost list: the hashes of recently evicted keys, oldest first out, with their weights.
//!
//! ARC and S3-FIFO remember evicted keys without their values to spot a key that comes back
//! soon after leaving. Only the 64-bit hash is kept: a collision makes one key look like a
//! returning one, which costs a slightly worse placement, never a wrong answer.

use std::collections::HashMap;

use super::list::{Queue, Slab};

#[derive(Debug)]
pub(crate) struct Ghosts {
    slab: Slab<u64>,
    queue: Queue,
    index: HashMap<u64, u32, ahash::RandomState>,
}

impl Ghosts {
    pub(crate) fn new() -> Ghosts {
        Ghosts {
            slab: Slab::new(),
            queue: Queue::new(),
            index: HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
        }
    }

    pub(crate) fn weight(&self) -> u64 {
        self.queue.weight
    }

    pub(crate) fn contains(&self, hash: u64) -> bool {
        self.index.contains_key(&hash)
    }

    /// Remembers `hash` as the newest ghost (refreshing it if already there).
    pub(crate) fn push(&mut self, hash: u64, weight: u32) {
        self.remove(hash);
        let i = self.slab.alloc(hash, hash, weight);
        self.slab.push_front(&mut self.queue, i, 0);
        self.index.insert(hash, i);
    }

    /// Forgets `hash`; returns whether it was there.
    pub(crate) fn remove(&mut self, hash: u64) -> bool {
        match self.index.remove(&hash) {
            Some(i) => {
                self.slab.unlink(&mut self.queue, i);
                self.slab.release(i);
                true
            }
            None => false,
        }
    }

    /// Forgets the oldest ghost.
    pub(crate) fn pop_oldest(&mut self) -> bool {
        match self.slab.pop_back(&mut self.queue) {
            Some(i) => {
                let hash = self.slab.release(i);
                self.index.remove(&hash);
                true
            }
            None => false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.slab.clear();
        self.queue = Queue::new();
        self.index.clear();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes() + self.index.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }
}
