//! Items at small indices that stay valid while the item is stored, freed indices reused: the
//! storage under the policies' node slabs and the adaptive policy's slot table.

use std::ops::{Index, IndexMut};

/// A vector whose freed indices are handed out again.
#[derive(Debug)]
pub(crate) struct FreeList<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> FreeList<T> {
    pub(crate) const fn new() -> FreeList<T> {
        FreeList { items: Vec::new(), free: Vec::new() }
    }

    /// Stores `item` at a free index (a freed one if any) and returns the index, which is
    /// never `u32::MAX` (the policies' "no node").
    pub(crate) fn insert(&mut self, item: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = item;
                i
            }
            None => {
                let i = u32::try_from(self.items.len()).expect("fewer than 2^32 resident entries");
                assert!(i != u32::MAX, "fewer than 2^32 - 1 resident entries");
                self.items.push(item);
                i
            }
        }
    }

    /// Marks index `i` free; the item stays in place until the index is handed out again, so
    /// the caller takes out of it what it needs first.
    pub(crate) fn free(&mut self, i: u32) {
        self.free.push(i);
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.free.clear();
    }

    /// Bytes of heap memory held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }
}

impl<T> Index<u32> for FreeList<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> IndexMut<u32> for FreeList<T> {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}
