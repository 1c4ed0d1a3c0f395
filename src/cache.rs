//! The expensive-object cache, and hit-rate measurement.
//!
//! Python programs cache expensive objects in a `weakref.WeakValueDictionary`: every live
//! user shares one instance, but an object nobody holds at this moment is gone, so "load,
//! use, drop, load again" loads every time. An ordinary bounded cache has the opposite flaw:
//! it evicts objects that are still in use elsewhere, and the next lookup loads a second copy
//! while the first is alive. [`Cache`] is both at once:
//!
//! * a **strong tier**, bounded by entries or by weight, whose [`Policy`] decides what stays;
//! * a **weak tier** that keeps every evicted object still alive elsewhere findable, at the
//!   cost of one weak handle, and promotes it back on a hit;
//! * **single-flight loading**, expiry, invalidation, an eviction listener told the
//!   [`RemovalCause`], and [`CacheStats`] cheap enough to leave on.
//!
//! ```
//! use weakling::cache::Cache;
//! use weakling::Gc;
//!
//! let cache: Cache<u32, String> = Cache::new(1_000);
//! let report = cache.get_with(7, || Gc::new(format!("report {}", 7)));
//! drop(report); // nobody holds it now, but the strong tier keeps it
//! let again = cache.get_with(7, || unreachable!("a hit"));
//! assert_eq!(*again, "report 7");
//! assert_eq!(cache.stats().hits(), 1);
//! ```
//!
//! Choosing a policy is a measurement, so measuring is part of the module:
//!
//! * [`simulate`] replays a key sequence through any policy and capacity, through the
//!   two-tier cache under a holding model, or through Belady's offline optimum;
//! * [`trace`] reads the trace formats of the cache literature;
//! * [`workload`] makes seeded synthetic workloads (Zipf, Zipf with scans);
//! * `cargo run --release --example hitrate` prints the table and chart, next to moka and
//!   quick_cache.

mod builder;
mod clock;
mod flight;
mod policy;
mod removal;
mod shard;
pub mod simulate;
mod stats;
pub mod trace;
mod two_tier;
mod weak_tier;
pub mod workload;

pub use builder::CacheBuilder;
pub use clock::{Clock, MockClock, SystemClock};
pub use policy::Policy;
pub use removal::RemovalCause;
pub use stats::CacheStats;
pub use two_tier::Cache;
