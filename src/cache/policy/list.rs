//! Intrusive doubly linked queues over one slab of nodes: the bookkeeping every policy shares.
//!
//! A node lives at a fixed index for as long as its key is resident, so the index is the
//! handle the cache keeps beside its value; moving a node between queues or to the front of
//! one is a handful of index writes, with no allocation.

use super::free_list::FreeList;

/// No node: the end of a queue, or an unlinked node.
pub(crate) const NIL: u32 = u32::MAX;

/// One resident key with its links and the small per-policy state.
#[derive(Debug)]
pub(crate) struct Node<K> {
    /// `None` only while the slot is free.
    pub(crate) key: Option<K>,
    /// The key's hash (the policies' frequency sketches and ghost lists use it).
    pub(crate) hash: u64,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) weight: u32,
    /// Which of the policy's queues holds the node.
    pub(crate) queue: u8,
    /// A policy's per-node counter or flag (SIEVE's visited bit, S3-FIFO's frequency).
    pub(crate) mark: u8,
}

/// A queue: `head` is the most recently inserted (MRU) end, `tail` the oldest (LRU) end.
#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) len: usize,
    /// Sum of the weights of its nodes.
    pub(crate) weight: u64,
}

impl Queue {
    pub(crate) const fn new() -> Queue {
        Queue { head: NIL, tail: NIL, len: 0, weight: 0 }
    }
}

/// Storage for nodes with a free list.
#[derive(Debug)]
pub(crate) struct Slab<K> {
    nodes: FreeList<Node<K>>,
}

impl<K> Slab<K> {
    pub(crate) const fn new() -> Slab<K> {
        Slab { nodes: FreeList::new() }
    }

    /// Stores a new, unlinked node and returns its index.
    pub(crate) fn alloc(&mut self, key: K, hash: u64, weight: u32) -> u32 {
        self.nodes.insert(Node {
            key: Some(key),
            hash,
            prev: NIL,
            next: NIL,
            weight,
            queue: 0,
            mark: 0,
        })
    }

    /// Frees an unlinked node and hands back its key.
    pub(crate) fn release(&mut self, i: u32) -> K {
        self.nodes.free(i);
        self.nodes[i].key.take().expect("a live node has a key")
    }

    pub(crate) fn node(&self, i: u32) -> &Node<K> {
        &self.nodes[i]
    }

    pub(crate) fn node_mut(&mut self, i: u32) -> &mut Node<K> {
        &mut self.nodes[i]
    }

    /// Links `i` at the head (MRU end) of `q`.
    pub(crate) fn push_front(&mut self, q: &mut Queue, i: u32, queue_id: u8) {
        let old = q.head;
        {
            let n = &mut self.nodes[i];
            n.prev = NIL;
            n.next = old;
            n.queue = queue_id;
            q.weight += u64::from(n.weight);
        }
        if old == NIL {
            q.tail = i;
        } else {
            self.nodes[old].prev = i;
        }
        q.head = i;
        q.len += 1;
    }

    /// Unlinks `i` from `q`, which must hold it.
    pub(crate) fn unlink(&mut self, q: &mut Queue, i: u32) {
        let (prev, next, weight) = {
            let n = &self.nodes[i];
            (n.prev, n.next, n.weight)
        };
        if prev == NIL {
            q.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            q.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        let n = &mut self.nodes[i];
        n.prev = NIL;
        n.next = NIL;
        q.len -= 1;
        q.weight -= u64::from(weight);
    }

    /// Moves `i`, already in `q`, to its head.
    pub(crate) fn move_to_front(&mut self, q: &mut Queue, i: u32) {
        if q.head != i {
            let id = self.nodes[i].queue;
            self.unlink(q, i);
            self.push_front(q, i, id);
        }
    }

    /// Unlinks and returns the tail (LRU end) of `q`.
    pub(crate) fn pop_back(&mut self, q: &mut Queue) -> Option<u32> {
        let t = q.tail;
        if t == NIL {
            return None;
        }
        self.unlink(q, t);
        Some(t)
    }

    /// Bytes of heap memory held (for the per-entry overhead figure).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.heap_bytes()
    }

    /// Forgets every node.
    pub(crate) fn clear(&mut self) {
        self.nodes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(slab: &Slab<u64>, q: &Queue) -> Vec<u64> {
        let mut out = Vec::new();
        let mut i = q.head;
        while i != NIL {
            out.push(slab.node(i).key.unwrap());
            i = slab.node(i).next;
        }
        out
    }

    #[test]
    fn queue_operations_keep_links_and_weights() {
        let mut slab = Slab::new();
        let mut q = Queue::new();
        let a = slab.alloc(1, 0, 1);
        let b = slab.alloc(2, 0, 2);
        let c = slab.alloc(3, 0, 3);
        for i in [a, b, c] {
            slab.push_front(&mut q, i, 0);
        }
        assert_eq!(keys(&slab, &q), [3, 2, 1]);
        assert_eq!(q.weight, 6);
        slab.move_to_front(&mut q, a);
        assert_eq!(keys(&slab, &q), [1, 3, 2]);
        assert_eq!(slab.pop_back(&mut q), Some(b));
        assert_eq!(q.weight, 4);
        slab.unlink(&mut q, a);
        assert_eq!(keys(&slab, &q), [3]);
        assert_eq!(slab.release(b), 2);
        let d = slab.alloc(4, 0, 1);
        assert_eq!(d, b, "a freed slot is reused");
    }
}
