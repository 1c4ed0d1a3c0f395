//! [`Ephemeron`]: a value kept alive *through* a key object, as if it were one of the key's own
//! fields: the mechanism behind a weak-key map that does not leak.
//!
//! A weak-key map whose value refers to its own key (`d[k] = [k]`) leaks in CPython and in
//! Java: the map holds the value strongly, the value holds the key, so the key never dies.
//! JavaScript's `WeakMap` and .NET's `ConditionalWeakTable` do not leak, because an entry's
//! value is reachable only while its key is reachable from elsewhere. weakling does the same by
//! *attaching* the value to the key: the value lives in a side table under the key's address,
//! the collector traces it as an edge of the key, and it is dropped when the key dies (by
//! reference counting, by `Gc::try_unwrap`, or in a collected cycle). A value that refers to its
//! key thus forms an ordinary cycle with it, which the collector frees.
//!
//! Attaching and detaching change the key's edges, so both are mutator operations (a scanning
//! collector waits for them); the collector reads the table only while the world is stopped.
//!
//! The collector scans tracked objects only. A cycle through an attached value is therefore
//! collected when the key is tracked (its type may hold handles); a *leaf* key (say a
//! `Gc<String>`) still drops its attached values when it dies, but a value that refers back to
//! a leaf key keeps it alive, as in CPython.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::header::{Header, HAS_ATTACHMENTS, TORN_DOWN};
use super::pause;
use super::trace::Tracer;
use crate::sync::{global, global_atomic, CachePadded, Mutex, Ordering};
use crate::{Gc, Weak};

/// An attached value, its type erased.
trait Attached: Send + Sync {
    fn trace(&self, tracer: &mut Tracer<'_>);
    fn as_any(&self) -> &dyn Any;
}

impl<V: Send + Sync + 'static> Attached for Gc<V> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.edge(self);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

const SHARDS: usize = 64;

type Entries = HashMap<usize, Vec<(u64, Box<dyn Attached>)>, ahash::RandomState>;

global! {
    static TABLE: Box<[CachePadded<Mutex<Entries>>]> =
        (0..SHARDS).map(|_| CachePadded(Mutex::new(Entries::default()))).collect();
}
global_atomic! {
    static NEXT_ID: AtomicUsize = 1;
}

fn shard(key: NonNull<Header>) -> &'static Mutex<Entries> {
    let addr = key.as_ptr() as usize;
    &TABLE[(addr >> 4 ^ addr >> 12) % SHARDS]
}

/// Reports the edges of `key`'s attached values (the collector, with the world stopped).
///
/// # Safety
/// `key` is allocated.
pub(crate) unsafe fn trace_attached(key: NonNull<Header>, tracer: &mut Tracer<'_>) {
    if let Some(values) = shard(key).lock().get(&(key.as_ptr() as usize)) {
        for (_, value) in values {
            value.trace(tracer);
        }
    }
}

/// Takes every value attached to `key`, which just died; the caller drops them.
pub(crate) fn take_attached(key: NonNull<Header>) -> Vec<impl Drop + use<>> {
    let taken = shard(key).lock().remove(&(key.as_ptr() as usize)).unwrap_or_default();
    taken.into_iter().map(|(_, value)| value).collect()
}

/// A value of type `V` attached to a key of type `K`: alive as long as the key is, and only
/// through the key, as if it were one of the key's fields. The mechanism behind a weak-key
/// map that does not leak.
///
/// A weak-key map whose value refers to its own key (`d[k] = [k]`) leaks in CPython: the map
/// holds the value, the value holds the key. An attached value is instead traced by the cycle
/// collector as an edge *of the key*, and dropped when the key dies (by reference counting, by
/// `Gc::try_unwrap`, or in a collected cycle); a value that refers to its key forms an ordinary
/// cycle with it, which the collector frees. This needs the key to be *tracked* (its type may
/// hold handles): a leaf key still drops its values when it dies, but a value that refers back
/// to a leaf key keeps it alive, as in CPython.
///
/// The `Ephemeron` handle itself is weak on both sides: it neither keeps the key alive nor,
/// on its own, the value. Dropping it detaches the value (dropping the key's reference to it).
/// Attaching and detaching wait while a collector scans.
///
/// ```
/// use weakling::{Ephemeron, Gc, GcCell, Heap, Trace};
///
/// #[derive(Trace)]
/// struct Key { name: &'static str, friend: GcCell<Option<Gc<Key>>> } // tracked: may hold handles
/// #[derive(Trace)]
/// struct Extra { back: GcCell<Option<Gc<Key>>> }
///
/// let heap = Heap::new();
/// let key = Gc::new_in(Key { name: "user", friend: GcCell::new(None) }, &heap);
/// let extra = Gc::new_in(Extra { back: GcCell::new(Some(key.clone())) }, &heap);
/// let e = Ephemeron::new(&key, extra);     // the value refers to its own key
/// assert!(e.value().is_some());
/// drop(key);                                // only the value holds the key now
/// heap.collect();                           // key and value form a garbage cycle
/// assert!(e.key().is_none() && e.value().is_none());
/// ```
pub struct Ephemeron<K, V> {
    key: Weak<K>,
    id: u64,
    _value: PhantomData<fn() -> V>,
}

impl<K: Send + 'static, V: Send + Sync + 'static> Ephemeron<K, V> {
    /// Attaches `value` to `key`. If `key` is already being torn down by the collector (only
    /// `Drop` code run by a collection can see that), nothing is attached and `value` is
    /// dropped.
    #[must_use = "dropping the ephemeron detaches the value at once"]
    pub fn new(key: &Gc<K>, value: Gc<V>) -> Ephemeron<K, V> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed) as u64;
        let target = Gc::header_ptr(key);
        let refused = {
            // Attaching adds an edge to the key: a scanning collector must not see it appear.
            let _op = pause::begin();
            let mut entries = shard(target).lock();
            // SAFETY: `key` keeps the header allocated.
            let h = unsafe { target.as_ref() };
            if h.flags(Ordering::Acquire) & TORN_DOWN != 0 {
                Some(value)
            } else {
                h.set_flags(HAS_ATTACHMENTS);
                entries.entry(target.as_ptr() as usize).or_default().push((id, Box::new(value)));
                None
            }
        };
        drop(refused);
        Ephemeron { key: Gc::downgrade(key), id, _value: PhantomData }
    }

    /// The key, while it lives.
    #[must_use]
    pub fn key(&self) -> Option<Gc<K>> {
        self.key.upgrade()
    }

    /// The value, while the key lives and the value is attached.
    #[must_use]
    pub fn value(&self) -> Option<Gc<V>> {
        self.get().map(|(_, value)| value)
    }

    /// The key and the value, while the key lives.
    #[must_use]
    pub fn get(&self) -> Option<(Gc<K>, Gc<V>)> {
        let key = self.key.upgrade()?;
        let target = Gc::header_ptr(&key);
        let value = shard(target)
            .lock()
            .get(&(target.as_ptr() as usize))?
            .iter()
            .find(|(id, _)| *id == self.id)
            .and_then(|(_, v)| v.as_any().downcast_ref::<Gc<V>>().cloned())?;
        Some((key, value))
    }
}

impl<K, V> Drop for Ephemeron<K, V> {
    fn drop(&mut self) {
        let Some(target) = self.key.target() else { return };
        let detached = {
            let _op = pause::begin();
            let mut entries = shard(target).lock();
            let addr = target.as_ptr() as usize;
            let mut detached = None;
            if let Some(values) = entries.get_mut(&addr) {
                if let Some(at) = values.iter().position(|(id, _)| *id == self.id) {
                    detached = Some(values.swap_remove(at).1);
                }
                if values.is_empty() {
                    entries.remove(&addr);
                }
            }
            detached
        };
        // Dropped outside the lock and the operation: it may run user code.
        drop(detached);
    }
}

impl<K, V> fmt::Debug for Ephemeron<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ephemeron").field("key", &self.key).finish_non_exhaustive()
    }
}
