//! The weak collections of Python's `weakref` module: [`WeakValueMap`], [`WeakKeyMap`] and
//! [`WeakSet`], concurrent and eager.
//!
//! All three share one table engine (`table.rs`): a sharded hash table whose entries carry
//! their hash, so that user `Hash` runs before any lock and death callbacks find their entry
//! by identity without running user code. Each entry holds its referent through a weak handle
//! with a death notification ([`Gc::downgrade_notify`](crate::Gc::downgrade_notify)); it
//! removes the entry at the referent's death and holds the collection only weakly.
//!
//! | file | concept |
//! |---|---|
//! | `table.rs` | the sharded table engine |
//! | `snapshot.rs` | iteration shard by shard, and what it guarantees |
//! | `value_map.rs` | [`WeakValueMap`]: values held weakly |
//! | `keying.rs` | [`ByValue`] and [`ByIdentity`]: how weak keys are told apart |
//! | `weak_keys.rs` | the weak-key table shared by [`WeakKeyMap`] and [`WeakSet`] |
//! | `key_map.rs` | [`WeakKeyMap`]: keys held weakly, values attached to their keys |
//! | `set.rs` | [`WeakSet`]: members held weakly, with set algebra |

mod key_map;
mod keying;
mod set;
mod snapshot;
mod table;
mod value_map;
mod weak_keys;

pub use key_map::{Iter as KeyMapIter, WeakKeyIdMap, WeakKeyMap};
pub use keying::{ByIdentity, ByValue, Keying};
pub use set::{Iter as SetIter, IterPinned as SetIterPinned, WeakIdSet, WeakSet};
pub use value_map::{
    Iter as ValueMapIter, Keys as ValueMapKeys, Values as ValueMapValues,
    ValuesPinned as ValueMapValuesPinned, WeakValueMap,
};
