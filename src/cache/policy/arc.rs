//! ARC, the adaptive replacement cache (Megiddo and Modha, FAST '03).
//!
//! Resident keys sit in T1 (seen once recently) or T2 (seen at least twice); evicted keys are
//! remembered in the ghost lists B1 and B2. A miss that finds its key in B1 means T1 was too
//! small, so the target size `p` of T1 grows; one found in B2 shrinks it. REPLACE evicts from
//! T1 or T2 according to `p`. This follows the paper's pseudocode case by case; sizes are
//! weights, which for unit weights are the paper's counts.

use super::ghost::Ghosts;
use super::list::{Queue, Slab, NIL};
use super::{Eviction, Handle};

const T1: u8 = 0;
const T2: u8 = 1;

#[derive(Debug)]
pub(crate) struct Arc<K> {
    slab: Slab<K>,
    t1: Queue,
    t2: Queue,
    b1: Ghosts,
    b2: Ghosts,
    /// Target weight of T1.
    p: f64,
    capacity: u64,
}

impl<K> Arc<K> {
    pub(crate) fn new(capacity: u64) -> Arc<K> {
        Arc {
            slab: Slab::new(),
            t1: Queue::new(),
            t2: Queue::new(),
            b1: Ghosts::new(),
            b2: Ghosts::new(),
            p: 0.0,
            capacity,
        }
    }

    fn resident(&self) -> u64 {
        self.t1.weight + self.t2.weight
    }

    /// The paper's REPLACE: evicts T1's LRU key into B1, or T2's into B2.
    fn replace(&mut self, hit_in_b2: bool, evicted: &mut Vec<K>) {
        let t1 = self.t1.weight as f64;
        let from_t1 =
            self.t1.len > 0 && ((hit_in_b2 && t1 == self.p) || t1 > self.p || self.t2.len == 0);
        let i = if from_t1 {
            self.slab.pop_back(&mut self.t1)
        } else {
            self.slab.pop_back(&mut self.t2)
        }
        .expect("REPLACE runs only on a non-empty cache");
        let (hash, weight) = (self.slab.node(i).hash, self.slab.node(i).weight);
        evicted.push(self.slab.release(i));
        if from_t1 {
            self.b1.push(hash, weight);
        } else {
            self.b2.push(hash, weight);
        }
    }

    fn make_room(&mut self, weight: u64, hit_in_b2: bool, evicted: &mut Vec<K>) {
        while self.resident() + weight > self.capacity {
            self.replace(hit_in_b2, evicted);
        }
    }
}

impl<K: Send> Eviction<K> for Arc<K> {
    fn insert(&mut self, key: K, hash: u64, weight: u32, evicted: &mut Vec<K>) -> Handle {
        let w = u64::from(weight);
        let c = self.capacity;
        if w > c {
            evicted.push(key);
            return NIL;
        }
        let queue;
        if self.b1.contains(hash) {
            // Case II: T1 should have been larger.
            let (b1, b2) = (self.b1.weight() as f64, self.b2.weight() as f64);
            let delta = if b1 >= b2 { 1.0 } else { b2 / b1 };
            self.p = (self.p + delta).min(c as f64);
            self.b1.remove(hash);
            self.make_room(w, false, evicted);
            queue = T2;
        } else if self.b2.contains(hash) {
            // Case III: T2 should have been larger.
            let (b1, b2) = (self.b1.weight() as f64, self.b2.weight() as f64);
            let delta = if b2 >= b1 { 1.0 } else { b1 / b2 };
            self.p = (self.p - delta).max(0.0);
            self.b2.remove(hash);
            self.make_room(w, true, evicted);
            queue = T2;
        } else {
            // Case IV: a key seen by neither list.
            if self.t1.weight + self.b1.weight() + w > c {
                if self.t1.weight + w <= c {
                    // IV.A, L1 full but T1 not: forget B1's oldest, then REPLACE.
                    while self.t1.weight + self.b1.weight() + w > c && self.b1.pop_oldest() {}
                    self.make_room(w, false, evicted);
                } else {
                    // IV.A, T1 alone fills the cache: evict T1's LRU key without a ghost.
                    while self.resident() + w > c {
                        let i = self.slab.pop_back(&mut self.t1).expect("T1 fills the cache");
                        evicted.push(self.slab.release(i));
                    }
                }
            } else if self.resident() + self.b1.weight() + self.b2.weight() + w > c {
                // IV.B: L1 has room; trim B2 when the directory is full, then REPLACE.
                while self.resident() + self.b1.weight() + self.b2.weight() + w > 2 * c
                    && self.b2.pop_oldest()
                {}
                self.make_room(w, false, evicted);
            }
            queue = T1;
        }
        let i = self.slab.alloc(key, hash, weight);
        if queue == T1 {
            self.slab.push_front(&mut self.t1, i, T1);
        } else {
            self.slab.push_front(&mut self.t2, i, T2);
        }
        i
    }

    fn touch(&mut self, handle: Handle) {
        if self.slab.node(handle).queue == T1 {
            self.slab.unlink(&mut self.t1, handle);
            self.slab.push_front(&mut self.t2, handle, T2);
        } else {
            self.slab.move_to_front(&mut self.t2, handle);
        }
    }

    fn remove(&mut self, handle: Handle) -> K {
        if self.slab.node(handle).queue == T1 {
            self.slab.unlink(&mut self.t1, handle);
        } else {
            self.slab.unlink(&mut self.t2, handle);
        }
        self.slab.release(handle)
    }

    #[cfg(test)]
    fn key(&self, handle: Handle) -> &K {
        self.slab.node(handle).key.as_ref().expect("resident")
    }

    fn weight(&self) -> u64 {
        self.resident()
    }

    fn len(&self) -> usize {
        self.t1.len + self.t2.len
    }

    fn clear(&mut self) {
        self.slab.clear();
        self.t1 = Queue::new();
        self.t2 = Queue::new();
        self.b1.clear();
        self.b2.clear();
        self.p = 0.0;
    }

    fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes() + self.b1.heap_bytes() + self.b2.heap_bytes()
    }
}
