//! Least recently used: one queue, a hit moves the key to the front, the back is evicted.

use super::list::{Queue, Slab, NIL};
use super::{Eviction, Handle};

#[derive(Debug)]
pub(crate) struct Lru<K> {
    slab: Slab<K>,
    queue: Queue,
    capacity: u64,
}

impl<K> Lru<K> {
    pub(crate) fn new(capacity: u64) -> Lru<K> {
        Lru { slab: Slab::new(), queue: Queue::new(), capacity }
    }
}

impl<K: Send> Eviction<K> for Lru<K> {
    fn insert(&mut self, key: K, hash: u64, weight: u32, evicted: &mut Vec<K>) -> Handle {
        if u64::from(weight) > self.capacity {
            evicted.push(key);
            return NIL;
        }
        let i = self.slab.alloc(key, hash, weight);
        self.slab.push_front(&mut self.queue, i, 0);
        while self.queue.weight > self.capacity {
            let victim =
                self.slab.pop_back(&mut self.queue).expect("over capacity means non-empty");
            evicted.push(self.slab.release(victim));
        }
        i
    }

    fn touch(&mut self, handle: Handle) {
        self.slab.move_to_front(&mut self.queue, handle);
    }

    fn remove(&mut self, handle: Handle) -> K {
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
    }

    fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes()
    }
}
