//! Why an entry left the strong tier, as told to the eviction listener.

/// Why an entry left the strong tier.
///
/// An entry that leaves for [`Size`](RemovalCause::Size) is not gone: while its object is
/// alive elsewhere it stays findable in the weak tier and comes back on the next hit. Every
/// other cause removes it from both tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// The policy evicted it to stay within capacity (or declined to admit it).
    Size,
    /// Its time to live or time to idle ran out.
    Expired,
    /// [`Cache::invalidate`](super::Cache::invalidate) and its relatives removed it.
    Explicit,
    /// An insertion for the same key replaced its value.
    Replaced,
}

impl RemovalCause {
    /// Every cause, in the order of [`CacheStats::evictions`](super::CacheStats::evictions).
    pub const ALL: [RemovalCause; 4] =
        [RemovalCause::Size, RemovalCause::Expired, RemovalCause::Explicit, RemovalCause::Replaced];

    pub(crate) fn index(self) -> usize {
        match self {
            RemovalCause::Size => 0,
            RemovalCause::Expired => 1,
            RemovalCause::Explicit => 2,
            RemovalCause::Replaced => 3,
        }
    }

    /// Lower-case name for logs (`"size"`, `"expired"`, `"explicit"`, `"replaced"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RemovalCause::Size => "size",
            RemovalCause::Expired => "expired",
            RemovalCause::Explicit => "explicit",
            RemovalCause::Replaced => "replaced",
        }
    }
}
