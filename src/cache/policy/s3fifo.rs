//! S3-FIFO (Yang et al., SOSP '23): most keys are requested once and should leave quickly.
//!
//! New keys enter a small FIFO queue (10 % of the capacity). A key that reaches the small
//! queue's end having been hit at least once moves to the main FIFO queue; one that was not
//! is evicted and remembered in a ghost queue, and if it comes back while remembered it goes
//! straight to the main queue. The main queue evicts from its end, but a key hit since it was
//! last examined goes round again with its counter (at most 3) lowered by one.

use super::adaptive::{Resident, Switchable};
use super::ghost::Ghosts;
use super::list::{Queue, Slab, NIL};
use super::{Eviction, Handle};

const SMALL: u8 = 0;
const MAIN: u8 = 1;
const MAX_FREQ: u8 = 3;

#[derive(Debug)]
pub(crate) struct S3Fifo<K> {
    slab: Slab<K>,
    small: Queue,
    main: Queue,
    ghosts: Ghosts,
    capacity: u64,
    small_target: u64,
}

impl<K> S3Fifo<K> {
    pub(crate) fn new(capacity: u64) -> S3Fifo<K> {
        S3Fifo {
            slab: Slab::new(),
            small: Queue::new(),
            main: Queue::new(),
            ghosts: Ghosts::new(),
            capacity,
            small_target: (capacity / 10).max(1),
        }
    }

    fn used(&self) -> u64 {
        self.small.weight + self.main.weight
    }

    /// The ghost queue remembers as many keys as the cache holds. (The paper sizes it like
    /// the main queue, 90 %; the whole capacity measured a little better on the shared traces,
    /// +0.4 points on cloudPhysicsIO and within ±0.1 elsewhere.)
    fn trim_ghosts(&mut self) {
        while self.ghosts.weight() > self.capacity.max(1) && self.ghosts.pop_oldest() {}
    }

    fn evict_small(&mut self, evicted: &mut Vec<K>) {
        let i = self.slab.pop_back(&mut self.small).expect("small queue is non-empty");
        let node = self.slab.node_mut(i);
        if node.mark > 0 {
            node.mark = 0;
            self.slab.push_front(&mut self.main, i, MAIN);
        } else {
            let (hash, weight) = (node.hash, node.weight);
            evicted.push(self.slab.release(i));
            self.ghosts.push(hash, weight);
            self.trim_ghosts();
        }
    }

    fn evict_main(&mut self, evicted: &mut Vec<K>) {
        loop {
            let i = self.slab.pop_back(&mut self.main).expect("main queue is non-empty");
            let node = self.slab.node_mut(i);
            if node.mark > 0 {
                node.mark -= 1;
                self.slab.push_front(&mut self.main, i, MAIN);
            } else {
                evicted.push(self.slab.release(i));
                return;
            }
        }
    }
}

impl<K: Send> Eviction<K> for S3Fifo<K> {
    fn insert(&mut self, key: K, hash: u64, weight: u32, evicted: &mut Vec<K>) -> Handle {
        if u64::from(weight) > self.capacity {
            evicted.push(key);
            return NIL;
        }
        while self.used() + u64::from(weight) > self.capacity {
            if self.small.len > 0 && (self.small.weight >= self.small_target || self.main.len == 0)
            {
                self.evict_small(evicted);
            } else {
                self.evict_main(evicted);
            }
        }
        let i = self.slab.alloc(key, hash, weight);
        if self.ghosts.remove(hash) {
            self.slab.push_front(&mut self.main, i, MAIN);
        } else {
            self.slab.push_front(&mut self.small, i, SMALL);
        }
        i
    }

    fn touch(&mut self, handle: Handle) {
        let node = self.slab.node_mut(handle);
        node.mark = (node.mark + 1).min(MAX_FREQ);
    }

    fn remove(&mut self, handle: Handle) -> K {
        if self.slab.node(handle).queue == SMALL {
            self.slab.unlink(&mut self.small, handle);
        } else {
            self.slab.unlink(&mut self.main, handle);
        }
        self.slab.release(handle)
    }

    #[cfg(test)]
    fn key(&self, handle: Handle) -> &K {
        self.slab.node(handle).key.as_ref().expect("resident")
    }

    fn weight(&self) -> u64 {
        self.used()
    }

    fn len(&self) -> usize {
        self.small.len + self.main.len
    }

    fn clear(&mut self) {
        self.slab.clear();
        self.small = Queue::new();
        self.main = Queue::new();
        self.ghosts.clear();
    }

    fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes() + self.ghosts.heap_bytes()
    }
}

impl<K: Send> Switchable<K> for S3Fifo<K> {
    /// The small queue from its oldest end, then the main queue from its oldest end; a key
    /// hit since it was last examined counts as hot.
    fn drain(&mut self, out: &mut Vec<Resident<K>>) {
        for mut q in [
            std::mem::replace(&mut self.small, Queue::new()),
            std::mem::replace(&mut self.main, Queue::new()),
        ] {
            while let Some(i) = self.slab.pop_back(&mut q) {
                let node = self.slab.node(i);
                let (hash, weight, hot) = (node.hash, node.weight, node.mark > 0);
                let key = self.slab.release(i);
                out.push(Resident { key, hash, weight, hot });
            }
        }
        self.slab.clear();
    }

    /// Every adopted key joins the main queue at its newest end, a hot one with one round of
    /// grace.
    fn adopt(&mut self, resident: Resident<K>) -> Handle {
        let Resident { key, hash, weight, hot } = resident;
        let i = self.slab.alloc(key, hash, weight);
        self.slab.node_mut(i).mark = u8::from(hot);
        self.slab.push_front(&mut self.main, i, MAIN);
        i
    }

    fn identity(&self, handle: Handle) -> (u64, u32) {
        let node = self.slab.node(handle);
        (node.hash, node.weight)
    }
}
