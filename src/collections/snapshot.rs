//! Iteration over a live table, one shard at a time: what every weak collection's iterators
//! are made of.
//!
//! # What iteration guarantees
//!
//! The iterator reads one shard at a time: it takes the shard's read lock, turns each entry
//! whose referent is alive into strong handles (upgrading, never dropping), releases the
//! lock, and then yields those items. Hence:
//!
//! * every item yielded is alive, and stays alive while the caller holds it: the iterator
//!   hands out strong handles, never a dead entry;
//! * an entry that is present and alive for the whole iteration is yielded exactly once;
//! * an entry inserted or removed during the iteration (by the loop body, by another thread,
//!   or by a referent's death) is yielded at most once, and whether it is depends on whether
//!   its shard had been read yet;
//! * no lock is held while the caller's code runs, so the loop body may read and change the
//!   collection, drop handles (even the last one) and call `len`, on any thread;
//! * items of one shard are held strongly until yielded: a referent that loses its last
//!   other handle in the meantime dies only once the iterator has yielded (or dropped) it.
//!
//! A *pinned* iteration (`iter_pinned`, `values_pinned`) reads a shard the same way but
//! borrows each live referent under a [`ReadPin`](crate::ReadPin) instead of upgrading it
//! (tracked referents are still upgraded). The guarantees are the same, except the last: a
//! referent that loses its last handle while the iteration runs dies then (its entry goes),
//! only the drop of its value waits for the pin, and an item already read from its shard is
//! still yielded.
//!
//! The order is unspecified, and is not the insertion order.

use std::iter::FusedIterator;
use std::marker::PhantomData;

use super::table::{Hashed, Table};

/// How an iterator turns an entry into an item, under the shard's read lock: upgrades,
/// pinned reads and clones only, never a drop. A type per use (not a closure), so that the
/// iterator types can be named and the extraction is inlined. `C` is what the extraction
/// reads beside the entry: nothing, or the read pin of a pinned iteration.
pub(crate) trait Extract<E, T, C = ()> {
    fn extract(entry: &E, cx: C) -> Option<T>;
}

/// Items of a table, read shard by shard.
pub(crate) struct Snapshots<'a, E, T, X, C = ()> {
    table: &'a Table<E>,
    next_shard: usize,
    buffer: std::vec::IntoIter<T>,
    cx: C,
    _extract: PhantomData<fn() -> X>,
}

impl<'a, E: Hashed, T, X: Extract<E, T>> Snapshots<'a, E, T, X> {
    /// Iterates `table`, turning each entry into an item with `X`.
    pub(crate) fn new(table: &'a Table<E>) -> Snapshots<'a, E, T, X> {
        Snapshots::with_context(table, ())
    }
}

impl<'a, E: Hashed, T, X: Extract<E, T, C>, C: Copy> Snapshots<'a, E, T, X, C> {
    /// Iterates `table`, turning each entry into an item with `X`, which reads `cx`.
    pub(crate) fn with_context(table: &'a Table<E>, cx: C) -> Snapshots<'a, E, T, X, C> {
        Snapshots {
            table,
            next_shard: 0,
            buffer: Vec::new().into_iter(),
            cx,
            _extract: PhantomData,
        }
    }
}

impl<E: Hashed, T, X: Extract<E, T, C>, C: Copy> Iterator for Snapshots<'_, E, T, X, C> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.buffer.next() {
                return Some(item);
            }
            if self.next_shard == self.table.shard_count() {
                return None;
            }
            let cx = self.cx;
            let items = self.table.read_shard(self.next_shard, |e| X::extract(e, cx));
            self.next_shard += 1;
            self.buffer = items.into_iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.buffer.len(), None)
    }
}

impl<E: Hashed, T, X: Extract<E, T, C>, C: Copy> FusedIterator for Snapshots<'_, E, T, X, C> {}
