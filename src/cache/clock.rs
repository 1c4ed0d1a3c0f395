//! Where the cache reads the time, so that tests can move it by hand.

use std::time::{Duration, Instant};

use crate::sync::Mutex;

/// A source of the current time for expiry ([`CacheBuilder::time_to_live`],
/// [`CacheBuilder::time_to_idle`]).
///
/// The cache calls [`now`](Clock::now) while holding one of its internal locks, so an
/// implementation must be quick and must not call into the cache.
///
/// [`CacheBuilder::time_to_live`]: super::CacheBuilder::time_to_live
/// [`CacheBuilder::time_to_idle`]: super::CacheBuilder::time_to_idle
pub trait Clock: Send + Sync + 'static {
    /// The current instant; never earlier than a previous answer.
    fn now(&self) -> Instant;
}

/// The real clock: [`Instant::now`]. The default.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`advance`](MockClock::advance) moves it: expiry tests
/// without sleeping. Clones share one time.
///
/// ```
/// use std::time::Duration;
/// use weakling::cache::{Clock, MockClock};
///
/// let clock = MockClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - start, Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
pub struct MockClock {
    start: Instant,
    offset: std::sync::Arc<Mutex<Duration>>,
}

impl MockClock {
    /// A clock stopped at the current instant.
    #[must_use]
    pub fn new() -> MockClock {
        MockClock { start: Instant::now(), offset: std::sync::Arc::new(Mutex::new(Duration::ZERO)) }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock() += by;
    }
}

impl Default for MockClock {
    fn default() -> MockClock {
        MockClock::new()
    }
}

impl Clock for MockClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock()
    }
}
