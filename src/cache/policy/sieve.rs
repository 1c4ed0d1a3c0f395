//! SIEVE (Zhang et al., NSDI '24): one FIFO queue where a hit only sets a visited bit. The
//! hand walks from the oldest entry towards the newest, clearing visited bits, and evicts the
//! first entry it finds unvisited; it wraps around to the oldest end and stays where it
//! stopped, so survivors are not moved.

use super::list::{Queue, Slab, NIL};
use super::{Eviction, Handle};

#[derive(Debug)]
pub(crate) struct Sieve<K> {
    slab: Slab<K>,
    queue: Queue,
    /// The next node to examine (`NIL`: start from the tail).
    hand: u32,
    capacity: u64,
}

impl<K> Sieve<K> {
    pub(crate) fn new(capacity: u64) -> Sieve<K> {
        Sieve { slab: Slab::new(), queue: Queue::new(), hand: NIL, capacity }
    }

    fn evict(&mut self) -> K {
        let mut i = if self.hand == NIL { self.queue.tail } else { self.hand };
        loop {
            let node = self.slab.node_mut(i);
            if node.mark == 0 {
                break;
            }
            node.mark = 0;
            i = if node.prev == NIL { self.queue.tail } else { node.prev };
        }
        self.hand = self.slab.node(i).prev;
        self.slab.unlink(&mut self.queue, i);
        self.slab.release(i)
    }
}

impl<K: Send> Eviction<K> for Sieve<K> {
    fn insert(&mut self, key: K, hash: u64, weight: u32, evicted: &mut Vec<K>) -> Handle {
        if u64::from(weight) > self.capacity {
            evicted.push(key);
            return NIL;
        }
        // Evict before linking, so the new key is never its own victim.
        while self.queue.weight + u64::from(weight) > self.capacity {
            evicted.push(self.evict());
        }
        let i = self.slab.alloc(key, hash, weight);
        self.slab.push_front(&mut self.queue, i, 0);
        i
    }

    fn touch(&mut self, handle: Handle) {
        self.slab.node_mut(handle).mark = 1;
    }

    fn remove(&mut self, handle: Handle) -> K {
        if self.hand == handle {
            self.hand = self.slab.node(handle).prev;
        }
        self.slab.unlink(&mut self.queue, handle);
        self.slab.release(handle)
    }

    #[cfg(test)]
    fn key(&self, handle: Handle) -> &K {
        self.slab.node(handle).key.as_ref().expect("resident")
    }

    fn weight(&self) -> u64 {
        self.queue.weight
    }

    fn len(&self) -> usize {
        self.queue.len
    }

    fn clear(&mut self) {
        self.slab.clear();
        self.queue = Queue::new();
        self.hand = NIL;
    }

    fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes()
    }
}
