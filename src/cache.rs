//! The expensive-object cache, and hit-rate measurement.
//!
//! * [`Policy`]: the strong tier's admission and eviction policies (W-TinyLFU with an
//!   adaptive window, S3-FIFO, SIEVE, ARC, LRU).
//! * [`simulate`]: replays a key sequence through any policy and capacity, through the
//!   two-tier cache under a holding model, or through Belady's optimum.
//! * [`trace`]: readers for the trace formats of the cache literature.
//! * [`workload`]: seeded synthetic workloads (Zipf, Zipf with scans).

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
