//! The death table: everything that runs at an object's death, by the object's address.
//!
//! Two kinds of entry live here, in one list per object, in registration order:
//!
//! * [`Listed`]: the table's reference to a weak reference with a callback or a listener
//!   (`callbacks.rs`), shared with that reference's handles;
//! * [`Hooked`]: a death hook (`hooks.rs`), which only the table owns: whoever takes it out
//!   of the table under the shard lock owns it.
//!
//! The table is sharded by address to keep threads apart, each shard an [`AddressMap`] under
//! a spin lock; an object's header carries `HAS_CALLBACKS` once it has an entry, so objects
//! without one never look here. An object's entries exist only while it lives: its death takes
//! them out *before* its box can be freed, so an entry found under the shard lock always
//! belongs to an allocated object, and a new object at a reused address never sees old
//! entries.

use std::num::NonZeroUsize;
use std::ptr::NonNull;

use super::address_map::AddressMap;
use super::callbacks::Listed;
use super::header::{Header, HAS_CALLBACKS, TORN_DOWN};
use super::hooks::{Hook, Hooked};
use crate::sync::{global, CachePadded, Ordering, SpinMutex};

/// What runs at an object's death.
pub(crate) enum Entry {
    /// A weak reference with a callback or a listener.
    Callback(Listed),
    /// A death hook.
    Hook(Hooked),
}

impl Entry {
    /// Whether it runs in the collector's finalizer phase when its object dies in cyclic
    /// garbage: every hook, and the callbacks registered as finalizers.
    fn is_finalizer(&self) -> bool {
        match self {
            Entry::Callback(listed) => listed.is_finalizer(),
            Entry::Hook(_) => true,
        }
    }

    /// Whether it will do nothing at the death: a callback whose handles are all gone.
    fn is_cancelled(&self) -> bool {
        match self {
            Entry::Callback(listed) => listed.is_cancelled(),
            Entry::Hook(_) => false,
        }
    }

    fn hook(&self) -> Option<&Hook> {
        match self {
            Entry::Callback(_) => None,
            Entry::Hook(hooked) => Some(hooked.get()),
        }
    }

    /// Runs it: its object died (or is condemned, for a finalizer). A panic is reported and
    /// contained.
    pub(crate) fn fire(self) {
        match self {
            Entry::Callback(listed) => listed.fire(),
            Entry::Hook(hooked) => hooked.fire(),
        }
    }
}

const SHARDS: usize = 64;

// A slot is the object's address and its list.
const _: () = assert!(std::mem::size_of::<Option<(NonZeroUsize, List)>>() == 24);

/// The entries of one object, in registration order; most objects have one, which then
/// needs no allocation of its own. The rare list of several is boxed, so that a table slot
/// (address and list) takes 24 bytes.
enum List {
    One(Entry),
    // Boxed on purpose: a `Vec` inline would make every slot 32 bytes.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Entry>>),
}

impl List {
    fn into_vec(self) -> Vec<Entry> {
        match self {
            List::One(one) => vec![one],
            List::Many(many) => *many,
        }
    }

    fn as_slice(&self) -> &[Entry] {
        match self {
            List::One(one) => std::slice::from_ref(one),
            List::Many(many) => many,
        }
    }

    /// Where the hook numbered `id` is, and the hook.
    fn hook_at(&self, id: u64) -> Option<(usize, &Hook)> {
        self.as_slice()
            .iter()
            .enumerate()
            .find_map(|(at, e)| Some((at, e.hook()?)).filter(|(_, h)| h.id() == id))
    }
}

type Entries = AddressMap<List>;

global! {
    static TABLE: Box<[CachePadded<SpinMutex<Entries>>]> =
        (0..SHARDS).map(|_| CachePadded(SpinMutex::new(Entries::default()))).collect();
}

fn shard(target: NonNull<Header>) -> &'static SpinMutex<Entries> {
    let addr = target.as_ptr() as usize;
    &TABLE[(addr >> 4 ^ addr >> 12) % SHARDS]
}

fn key(target: NonNull<Header>) -> NonZeroUsize {
    NonZeroUsize::from(target.addr())
}

/// Adds `entry` to `target`'s entries, newest. Hands it back, inserting nothing, when the
/// collector is already tearing the object down (its death has been decided).
///
/// # Safety
/// The caller holds a strong handle to `target` and has set its `HAS_CALLBACKS` (a flag left
/// by a refused entry only sends the death to look in the table for nothing).
pub(crate) unsafe fn insert(target: NonNull<Header>, entry: Entry) -> Result<(), Entry> {
    // SAFETY: the caller's strong handle keeps the header allocated.
    let header = unsafe { target.as_ref() };
    let mut entries = shard(target).lock();
    // Under the shard lock: a collector marks an object torn down before it takes the
    // entries (same lock), so an entry either is taken with them or sees the mark.
    if header.flags(Ordering::Acquire) & TORN_DOWN != 0 {
        return Err(entry);
    }
    debug_assert!(header.flags(Ordering::Relaxed) & HAS_CALLBACKS != 0, "flagged by the caller");
    match entries.try_insert(key(target), List::One(entry)) {
        Ok(()) => {}
        Err((list, refused)) => {
            let List::One(entry) = refused else { unreachable!("made as one above") };
            // Cancelled callbacks that the table lets go of here are freed under the lock;
            // that runs no user code (their callbacks were dropped at cancellation).
            if let List::One(first) = list {
                if first.is_cancelled() {
                    *first = entry;
                    return Ok(());
                }
                let many = List::Many(Box::new(Vec::with_capacity(2)));
                let List::One(first) = std::mem::replace(list, many) else {
                    unreachable!("matched above")
                };
                let List::Many(many) = list else { unreachable!("made a list above") };
                many.push(first);
            }
            let List::Many(list) = list else { unreachable!("made a list above") };
            if list.len() >= 8 && list.len().is_power_of_two() {
                list.retain(|e| !e.is_cancelled());
            }
            list.push(entry);
        }
    }
    Ok(())
}

/// Takes every entry of a dead (or condemned) object out of the table.
pub(crate) fn take(target: NonNull<Header>) -> Vec<Entry> {
    take_list(target).map_or_else(Vec::new, List::into_vec)
}

fn take_list(target: NonNull<Header>) -> Option<List> {
    let mut entries = shard(target).lock();
    let taken = entries.remove(key(target));
    entries.shrink_if_sparse();
    taken
}

/// Takes the entries of a dead object out of the table and runs them, as [`fire`].
pub(crate) fn take_and_fire(target: NonNull<Header>) {
    match take_list(target) {
        None => {}
        Some(List::One(one)) => one.fire(),
        Some(List::Many(many)) => fire(*many),
    }
}

/// Takes the finalizer entries of a condemned object out of the table (every hook, and the
/// finalizer callbacks), leaving the others for teardown.
pub(crate) fn take_finalizers(target: NonNull<Header>) -> Vec<Entry> {
    let mut entries = shard(target).lock();
    let addr = key(target);
    let Some(list) = entries.get_mut(addr) else { return Vec::new() };
    match list {
        List::One(one) if one.is_finalizer() => {
            entries.remove(addr).map_or_else(Vec::new, List::into_vec)
        }
        List::One(_) => Vec::new(),
        List::Many(many) => {
            let (taken, kept) =
                std::mem::take(&mut **many).into_iter().partition(Entry::is_finalizer);
            **many = kept;
            if many.is_empty() {
                entries.remove(addr);
            }
            taken
        }
    }
}

/// Runs `entries` (in registration order as taken), newest first, skipping cancelled
/// callbacks; a panic in one is reported and the rest still run.
pub(crate) fn fire(entries: Vec<Entry>) {
    for entry in entries.into_iter().rev() {
        entry.fire();
    }
}

/// Runs `f` on the hook numbered `id` among `target`'s entries, under the shard lock, if the
/// table holds it. `f` must run no user code (nor anything that takes a shard lock): it
/// can only read or flag the hook, and upgrade the object, whose box the listed hook keeps
/// allocated (see the module docs).
pub(crate) fn with_hook<R>(
    target: NonNull<Header>,
    id: u64,
    f: impl FnOnce(&Hook, &Header) -> R,
) -> Option<R> {
    let entries = shard(target).lock();
    let (_, hook) = entries.get(key(target))?.hook_at(id)?;
    // SAFETY: an object with entries is allocated (module docs), and the lock is held.
    Some(f(hook, unsafe { target.as_ref() }))
}

/// Takes the hook numbered `id` out of `target`'s entries, if the table holds it and `take`
/// says so when given the hook and the object's header (under the lock, with the same limits
/// as [`with_hook`]).
pub(crate) fn remove_hook(
    target: NonNull<Header>,
    id: u64,
    take: impl FnOnce(&Hook, &Header) -> bool,
) -> Option<Hooked> {
    let mut entries = shard(target).lock();
    let addr = key(target);
    let list = entries.get_mut(addr)?;
    let (at, hook) = list.hook_at(id)?;
    // SAFETY: an object with entries is allocated (module docs), and the lock is held.
    if !take(hook, unsafe { target.as_ref() }) {
        return None;
    }
    let removed = match list {
        List::One(_) => match entries.remove(addr) {
            Some(List::One(one)) => one,
            _ => unreachable!("a lone entry, matched above"),
        },
        List::Many(many) => {
            let removed = many.remove(at);
            if many.is_empty() {
                entries.remove(addr);
            }
            removed
        }
    };
    entries.shrink_if_sparse();
    match removed {
        Entry::Hook(hooked) => Some(hooked),
        Entry::Callback(_) => unreachable!("found as a hook above"),
    }
}

/// Calls `f` with every hook in the table, its object's address and header, one shard at a
/// time under its lock (with the limits of [`with_hook`]).
pub(crate) fn for_each_hook(mut f: impl FnMut(&Hook, NonNull<Header>, &Header)) {
    for shard in TABLE.iter() {
        let entries = shard.lock();
        for (addr, list) in entries.iter() {
            let target = NonNull::new(addr.get() as *mut Header).expect("a listed address");
            // SAFETY: an object with entries is allocated (module docs), and the lock is held.
            let header = unsafe { target.as_ref() };
            for hook in list.as_slice().iter().filter_map(Entry::hook) {
                f(hook, target, header);
            }
        }
    }
}
