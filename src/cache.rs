//! The expensive-object cache, and hit-rate measurement.
//!
//! * [`Policy`]: the strong tier's admission and eviction policies (W-TinyLFU with an
//!   adaptive window, S3-FIFO, SIEVE, ARC, LRU).
//! * [`simulate`]: replays a key sequence through any policy and capacity, through the
//!   two-tier cache under a holding model, or through Belady's optimum.
//! * [`trace`]: readers for the trace formats of the cache literature.
//! * [`workload`]: seeded synthetic workloads (Zipf, Zipf with scans).

#[allow(dead_code)] // the parts only `Cache` uses arrive with it
mod policy;
pub mod simulate;
pub mod trace;
pub mod workload;

pub use policy::Policy;
