//! The world stopped for a collector: what every step that reads or moves a heap's lists
//! while no other thread runs an operation holds.

use std::time::Duration;

use crate::heap::raw::{flush_all, pause, HeapInner, Shard, SHARDS};
use crate::sync::{global, Mutex, MutexGuard};

global! {
    /// One stopped world at a time, process-wide (the world is stopped for all heaps at once).
    pub(super) static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
}

/// The world stopped by this thread, every nursery flushed, and the lists of one heap locked:
/// every tracked object of that heap is on a list and none moves, no other thread is inside
/// an operation, and no other collector runs. Dropping it lets the world run again (the
/// shards first, then the stop, then the collector lock).
pub(super) struct StoppedWorld<'h> {
    /// The heap's shards, locked.
    pub(super) shards: Vec<MutexGuard<'h, Shard>>,
    _stopped: pause::Stopped,
    _exclusive: MutexGuard<'static, ()>,
}

impl<'h> StoppedWorld<'h> {
    /// Stops the world for `heap`, holding `exclusive` (a guard of [`ONE_AT_A_TIME`]) and
    /// waiting at most `patience` for threads inside an operation. `None`, with the world
    /// running and `exclusive` released, if a thread stayed inside one that long (it holds a
    /// cell for writing).
    ///
    /// The caller is inside no operation.
    pub(super) fn stop(
        heap: &'h HeapInner,
        exclusive: MutexGuard<'static, ()>,
        patience: Duration,
    ) -> Option<StoppedWorld<'h>> {
        let stopped = pause::stop_the_world(patience)?;
        // SAFETY: the world is stopped and this thread runs no operation.
        unsafe { flush_all() };
        Some(StoppedWorld { shards: lock_shards(heap), _stopped: stopped, _exclusive: exclusive })
    }
}

/// Every shard of `heap`, locked in order.
pub(super) fn lock_shards(heap: &HeapInner) -> Vec<MutexGuard<'_, Shard>> {
    (0..SHARDS).map(|i| heap.lock_shard(i)).collect()
}
