//! Hit-rate measurement: replay a key sequence through a policy, through the two-tier cache
//! under a holding model, or through Belady's offline optimum.
//!
//! A request is one key; sizes are ignored (every entry weighs 1), so a capacity is a number
//! of entries. The simulators use the same policy code as the cache, without
//! values, locks or clocks, so a replay of millions of requests takes seconds.
//!
//! ```
//! use weakling::cache::{simulate, workload, Policy};
//!
//! let keys = workload::zipf(1_000, 1.0, 50_000, 7);
//! let lru = simulate::replay(&keys, Policy::Lru, 100);
//! let best = simulate::belady(&keys, 100);
//! assert!(lru.hits <= best.hits);
//! println!("LRU {:.2} %, optimum {:.2} %", lru.hit_ratio(), best.hit_ratio());
//! ```

use std::collections::{BinaryHeap, HashMap};

use super::policy::{Eviction, Handle, Policy};

/// Hits out of requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Requests replayed.
    pub requests: u64,
    /// Requests that found their key resident.
    pub hits: u64,
}

impl Outcome {
    /// Hits per hundred requests (0 for no requests).
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * self.hits as f64 / self.requests as f64
        }
    }
}

/// The key's hash as the policies see it: a fixed mix, so replays are reproducible.
fn hash_key(key: u64) -> u64 {
    let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 32)
}

/// One policy of a fixed capacity, fed one request at a time.
pub struct Simulator {
    policy: Box<dyn Eviction<u64>>,
    resident: HashMap<u64, Handle, ahash::RandomState>,
    evicted: Vec<u64>,
    outcome: Outcome,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("resident", &self.resident.len())
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// An empty cache of `capacity` entries with `policy`.
    #[must_use]
    pub fn new(policy: Policy, capacity: u64) -> Simulator {
        Simulator {
            policy: policy.build(capacity),
            resident: HashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8)),
            evicted: Vec::new(),
            outcome: Outcome::default(),
        }
    }

    /// Whether `key` is resident now (does not count as a request).
    #[must_use]
    pub fn contains(&self, key: u64) -> bool {
        self.resident.contains_key(&key)
    }

    /// Requests `key`: a hit when resident, otherwise the key is offered for admission.
    /// Returns whether it was a hit.
    pub fn access(&mut self, key: u64) -> bool {
        self.outcome.requests += 1;
        if let Some(&h) = self.resident.get(&key) {
            self.policy.touch(h);
            self.outcome.hits += 1;
            true
        } else {
            self.admit(key);
            false
        }
    }

    /// Offers `key` (not resident) for admission, without counting a request.
    fn admit(&mut self, key: u64) {
        let h = self.policy.insert(key, hash_key(key), 1, &mut self.evicted);
        self.resident.insert(key, h);
        for gone in self.evicted.drain(..) {
            self.resident.remove(&gone);
        }
    }

    /// The hits and requests so far.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// Replays `keys` through `policy` with room for `capacity` entries.
#[must_use]
pub fn replay(keys: &[u64], policy: Policy, capacity: u64) -> Outcome {
    let mut sim = Simulator::new(policy, capacity);
    for &k in keys {
        sim.access(k);
    }
    sim.outcome()
}

/// Hits of the two-tier cache, split by tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TwoTierOutcome {
    /// Requests replayed.
    pub requests: u64,
    /// Requests served by the strong tier.
    pub strong_hits: u64,
    /// Requests served by the weak tier: the key had been evicted from the strong tier but its
    /// object was still held elsewhere.
    pub weak_hits: u64,
}

impl TwoTierOutcome {
    /// Hits of both tiers per hundred requests.
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        Outcome { requests: self.requests, hits: self.strong_hits + self.weak_hits }.hit_ratio()
    }
}

/// The two-tier cache under a holding model: whoever makes a request keeps the object for the
/// next `hold` requests (`hold = 0`: dropped at once). An object evicted from the strong tier
/// stays alive, and so findable in the weak tier, while some request made within the last
/// `hold` requests still holds it; a weak-tier hit promotes it back into the strong tier,
/// where the policy decides again whether to keep it.
pub struct TwoTierSimulator {
    strong: Simulator,
    hold: u64,
    last_request: HashMap<u64, u64, ahash::RandomState>,
    outcome: TwoTierOutcome,
}

impl std::fmt::Debug for TwoTierSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoTierSimulator")
            .field("hold", &self.hold)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

/// Which tier served a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// The strong tier held the key.
    Strong,
    /// The weak tier found the still-living object.
    Weak,
    /// Neither: the object had to be loaded.
    Miss,
}

impl TwoTierSimulator {
    /// An empty two-tier cache whose strong tier has `capacity` entries under `policy`.
    #[must_use]
    pub fn new(policy: Policy, capacity: u64, hold: u64) -> TwoTierSimulator {
        TwoTierSimulator {
            strong: Simulator::new(policy, capacity),
            hold,
            last_request: HashMap::with_hasher(ahash::RandomState::with_seeds(9, 10, 11, 12)),
            outcome: TwoTierOutcome::default(),
        }
    }

    /// Requests `key` and says which tier served it.
    pub fn access(&mut self, key: u64) -> Served {
        let now = self.outcome.requests;
        self.outcome.requests += 1;
        let last = self.last_request.insert(key, now);
        if let Some(&h) = self.strong.resident.get(&key) {
            self.strong.policy.touch(h);
            self.outcome.strong_hits += 1;
            return Served::Strong;
        }
        self.strong.admit(key);
        match last {
            Some(t) if now - t <= self.hold => {
                self.outcome.weak_hits += 1;
                Served::Weak
            }
            _ => Served::Miss,
        }
    }

    /// The hits and requests so far.
    #[must_use]
    pub fn outcome(&self) -> TwoTierOutcome {
        self.outcome
    }
}

/// Replays `keys` through the two-tier cache (see [`TwoTierSimulator`]).
#[must_use]
pub fn replay_two_tier(keys: &[u64], policy: Policy, capacity: u64, hold: u64) -> TwoTierOutcome {
    let mut sim = TwoTierSimulator::new(policy, capacity, hold);
    for &k in keys {
        sim.access(k);
    }
    sim.outcome()
}

/// Belady's offline optimum for `capacity` entries: on a miss, of the resident keys and the
/// requested one, the one whose next request is furthest away leaves (a key never requested
/// again is not admitted at all). No policy can hit more often on this sequence.
///
/// One backward pass finds each request's next use; the forward pass keeps the resident keys
/// in a max-heap by next use, with stale heap entries skipped when they surface.
#[must_use]
pub fn belady(keys: &[u64], capacity: u64) -> Outcome {
    const NEVER: usize = usize::MAX;
    let mut next_use = vec![NEVER; keys.len()];
    let mut seen: HashMap<u64, usize, ahash::RandomState> =
        HashMap::with_hasher(ahash::RandomState::with_seeds(1, 3, 5, 7));
    for (t, &k) in keys.iter().enumerate().rev() {
        next_use[t] = seen.insert(k, t).unwrap_or(NEVER);
    }
    drop(seen);
    let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
    let mut resident: HashMap<u64, usize, ahash::RandomState> =
        HashMap::with_hasher(ahash::RandomState::with_seeds(2, 4, 6, 8));
    let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::new();
    let mut hits = 0;
    for (t, &k) in keys.iter().enumerate() {
        let next = next_use[t];
        if let Some(slot) = resident.get_mut(&k) {
            hits += 1;
            *slot = next;
        } else if next == NEVER || capacity == 0 {
            continue;
        } else {
            resident.insert(k, next);
        }
        if next == NEVER {
            resident.remove(&k);
            continue;
        }
        heap.push((next, k));
        while resident.len() > capacity {
            let (when, victim) = heap.pop().expect("every resident key has a heap entry");
            if resident.get(&victim) == Some(&when) {
                resident.remove(&victim);
            }
        }
        // Stale entries pile up on hits; rebuild when they dominate.
        if heap.len() > 4 * capacity.max(1024) {
            heap = resident.iter().map(|(&k, &w)| (w, k)).collect();
        }
    }
    Outcome { requests: keys.len() as u64, hits }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn belady_on_hand_made_sequences() {
        // Capacity 2: a b c a b: at `c`, a (next at 3) and b (at 4) are resident and c is never
        // used again, so c is not admitted: both later requests hit.
        assert_eq!(belady(&[1, 2, 3, 1, 2], 2).hits, 2);
        // a b c b a c with capacity 2: c (next at 5) is used later than a (4) and b (3), so
        // it is the one left out; b and a hit.
        assert_eq!(belady(&[1, 2, 3, 2, 1, 3], 2).hits, 2);
        // The textbook string 7 0 1 2 0 3 0 4 2 3 0 3 2 with 3 frames: demand paging (every
        // miss loaded) hits 6 times; leaving 4 out (never used again) keeps 0 and hits 7.
        let seq = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2];
        assert_eq!(belady(&seq, 3).hits, 7);
        // Capacity 0 never hits; a capacity larger than the key set misses only first uses.
        assert_eq!(belady(&seq, 0).hits, 0);
        assert_eq!(belady(&seq, 10).hits, 13 - 6);
        // A loop one larger than the cache: LRU never hits.
        let looped: Vec<u64> = (0..10).flat_map(|_| 0..4u64).collect();
        assert_eq!(replay(&looped, Policy::Lru, 3).hits, 0);
        assert_eq!(belady(&looped, 3).hits, exhaustive_optimum(&looped, 3));
    }

    /// The most hits any choice of admissions and evictions can get, by dynamic programming
    /// over (request, resident set); keys must be below 8.
    fn exhaustive_optimum(keys: &[u64], capacity: u32) -> u64 {
        fn best(
            keys: &[u64],
            t: usize,
            set: u8,
            cap: u32,
            memo: &mut HashMap<(usize, u8), u64>,
        ) -> u64 {
            if t == keys.len() {
                return 0;
            }
            if let Some(&v) = memo.get(&(t, set)) {
                return v;
            }
            let bit = 1u8 << keys[t];
            let v = if set & bit != 0 {
                1 + best(keys, t + 1, set, cap, memo)
            } else {
                // Leave it out, or admit it (evicting any one resident key when full).
                let mut v = best(keys, t + 1, set, cap, memo);
                if set.count_ones() < cap {
                    v = v.max(best(keys, t + 1, set | bit, cap, memo));
                } else {
                    for e in 0..8 {
                        if set & (1 << e) != 0 {
                            v = v.max(best(keys, t + 1, (set & !(1 << e)) | bit, cap, memo));
                        }
                    }
                }
                v
            };
            memo.insert((t, set), v);
            v
        }
        best(keys, 0, 0, capacity, &mut HashMap::new())
    }

    #[test]
    fn belady_matches_an_exhaustive_search() {
        let mut rng = super::super::workload::Rng::new(42);
        for round in 0..200 {
            let len = 5 + (rng.next_u64() % 25) as usize;
            let distinct = 2 + rng.next_u64() % 6;
            let keys: Vec<u64> = (0..len).map(|_| rng.next_u64() % distinct).collect();
            for capacity in 1..4 {
                assert_eq!(
                    belady(&keys, u64::from(capacity)).hits,
                    exhaustive_optimum(&keys, capacity),
                    "round {round}: {keys:?} with capacity {capacity}"
                );
            }
        }
    }

    #[test]
    fn belady_bounds_every_policy() {
        let keys = super::super::workload::scan_mix(30_000, 11);
        for capacity in [10, 100, 1_000] {
            let best = belady(&keys, capacity);
            for policy in Policy::ALL {
                let got = replay(&keys, policy, capacity);
                assert!(got.hits <= best.hits, "{policy} at {capacity}: {got:?} > {best:?}");
            }
        }
    }

    #[test]
    fn lru_replay_matches_a_naive_lru() {
        let keys = super::super::workload::zipf(500, 0.7, 20_000, 5);
        for capacity in [1, 7, 50, 200] {
            let mut naive: Vec<u64> = Vec::new();
            let mut hits = 0;
            for &k in &keys {
                if let Some(p) = naive.iter().position(|&x| x == k) {
                    naive.remove(p);
                    hits += 1;
                } else if naive.len() == capacity as usize {
                    naive.pop();
                }
                naive.insert(0, k);
            }
            assert_eq!(replay(&keys, Policy::Lru, capacity).hits, hits, "capacity {capacity}");
        }
    }

    #[test]
    fn two_tier_weak_hits_follow_the_holding_model() {
        // Capacity 1, LRU: 1 2 1. With hold 0 the object of 1 died when it left the strong
        // tier; with hold 2 the request at t=0 still holds it at t=2.
        let keys = [1, 2, 1];
        let none = replay_two_tier(&keys, Policy::Lru, 1, 0);
        assert_eq!((none.strong_hits, none.weak_hits), (0, 0));
        let held = replay_two_tier(&keys, Policy::Lru, 1, 2);
        assert_eq!((held.strong_hits, held.weak_hits), (0, 1));
        let short = replay_two_tier(&keys, Policy::Lru, 1, 1);
        assert_eq!(short.weak_hits, 0, "held only through t=1");
        // The weak tier only adds hits; with hold 0 it equals the strong tier alone.
        let keys = super::super::workload::zipf(2_000, 0.8, 20_000, 9);
        for policy in Policy::ALL {
            let plain = replay(&keys, policy, 100);
            let zero = replay_two_tier(&keys, policy, 100, 0);
            assert_eq!(zero.strong_hits, plain.hits, "{policy}");
            assert_eq!(zero.weak_hits, 0);
            // LRU keeps every key of the last `capacity` distinct ones, so only a hold longer
            // than that can add hits; 500 requests do for every policy.
            let some = replay_two_tier(&keys, policy, 100, 500);
            assert!(some.hit_ratio() > plain.hit_ratio(), "{policy}");
            assert!(some.weak_hits > 0, "{policy}");
        }
    }
}
