//! The adaptive policy: S3-FIFO or a frequency-biased W-TinyLFU, whichever miniature
//! simulations of the cache's own requests find better, switched while the cache runs.
//!
//! Neither policy wins everywhere. S3-FIFO suits recency-driven streams with many one-hit
//! keys (database, web and block traces); W-TinyLFU with its window held at one entry suits
//! loops and frequency-skewed streams, where S3-FIFO's FIFO queues churn. On a given workload
//! the gap between them is often several points of hit ratio.
//!
//! * **Evidence.** A fixed share of the keys, picked by a hash of the key (1 in `2^s`, with
//!   `s` the largest shift of at most 6 that leaves at least 256 units of capacity), is
//!   replayed through one [`Miniature`] per candidate, each at the capacity scaled by the same
//!   share. A request for an unsampled key costs a multiply and a compare (two of each while
//!   the scouts below run).
//! * **Decision.** A sampled request where exactly one miniature hits is a point for that
//!   candidate. The policy keeps the frequency candidate's lead in points and the number of
//!   such disagreements, both shrunk by a tenth every epoch (twice the miniature capacity in
//!   sampled requests) so that old phases fade. It switches when the other candidate leads by
//!   more than three standard deviations of a fair coin over those disagreements (`3√n`) plus
//!   a tenth of an epoch's sampled requests, scaled by the cache's maturity. The first term
//!   keeps noise from switching; the second asks for an advantage that lasts (about one hit
//!   in a hundred sampled requests, kept up for several epochs, builds up to it) or a very
//!   large burst, because a switch costs the order and history the live policy had built: on
//!   cloudPhysicsIO, phases of a few thousand requests favour W-TinyLFU, and switching for
//!   each of them lost more than it gained. A young cache has built little of that history,
//!   so the second term grows with the weight that has turned over since the cache first
//!   filled, reaching its full size at twice the capacity: short loop-heavy traces (the LIRS
//!   program traces) then switch while the switch still pays. After a switch the evidence
//!   starts afresh.
//! * **The first fill.** Until the cache first has to evict, both candidates hold the same
//!   keys, and a switch costs nothing; by then, on a short trace, the miniatures have barely
//!   begun to evict and have little to tell. So a pair of scouts (miniatures at a quarter of
//!   their sample's scale, with a sample of their own that leaves them at least 128 units)
//!   replays requests from the start; they fill when about a quarter of the keys that fill the
//!   cache have been seen, and their disagreements from then on are the only evidence there is.
//!   When the cache first fills, the candidate the scouts favour goes live, however small its
//!   lead, and the scouts are dropped. A cache that fills late (or never) stops paying for them
//!   after sixteen times their capacity in replayed requests; their verdict then waits for the
//!   first fill. Scaled down that far they may judge wrongly; the miniatures then correct the
//!   choice, as they would any other. A trace that loops over more keys than the cache holds
//!   from its first request (the scouts see no reuse before the cache fills) is left to the
//!   miniatures.
//! * **Switching.** The live policy hands over its resident keys, coldest first, with a hot
//!   flag (hit since it was last examined, or protected); the new policy adopts them in that
//!   order without evicting anything, so a switch leaves the resident set as it was. While
//!   S3-FIFO is live the frequency sketch keeps counting every request, so that W-TinyLFU,
//!   when it takes over, judges newcomers by their whole history; it also counts each adopted
//!   key once more (hot ones twice), which keeps the resident keys in place until newcomers
//!   have been seen more often.
//!
//! The cache's handle for an entry must not change when the policy does, so the adaptive
//! policy keeps its own slot table: the handle it hands out is a slot holding the key and the
//! live policy's handle, and the live policy's keys are slot numbers. A hit costs one indexed
//! load more than the live policy's own, plus a sketch increment while S3-FIFO is live.

use super::free_list::FreeList;
use super::list::NIL;
use super::miniature::Miniature;
use super::s3fifo::S3Fifo;
use super::sketch::Sketch;
use super::tinylfu::TinyLfu;
use super::{Eviction, Handle};

/// The miniatures aim for at least this many units of capacity.
const MINIATURE_CAPACITY: u64 = 256;
/// The scouts run at this fraction of the scale of their sample...
const SCOUT_DIVISOR: u64 = 4;
/// ...and aim for at least this many units of capacity.
const SCOUT_CAPACITY: u64 = 128;
/// The scouts replay at most this many times their capacity in sampled requests: a cache
/// that takes longer to fill keeps their verdict and stops paying for them.
const SCOUT_BUDGET: u64 = 16;
/// At most one key in `2^MAX_SHIFT` is sampled.
const MAX_SHIFT: u32 = 6;
/// Epochs last this many times the miniature capacity, in sampled requests.
const EPOCH_FACTOR: u64 = 2;
/// What the lead and the disagreements keep of themselves at the end of each epoch.
const DECAY: f64 = 0.9;
/// The standard deviations of a fair coin the lead must exceed.
const DEVIATIONS: f64 = 3.0;
/// The lasting advantage asked for, as a share of an epoch's sampled requests.
const EPOCH_SHARE: f64 = 0.1;
/// The lasting advantage is asked for in full once this many times the capacity has turned
/// over (been inserted into a full cache).
const MATURE_TURNOVER: u64 = 2;

/// A resident key handed from one policy to the other when the adaptive policy switches.
#[derive(Debug)]
pub(crate) struct Resident<K> {
    pub(crate) key: K,
    pub(crate) hash: u64,
    pub(crate) weight: u32,
    /// Recently hit: S3-FIFO's counter is above zero, or the key is in W-TinyLFU's protected
    /// segment.
    pub(crate) hot: bool,
}

/// What a policy provides so that the adaptive policy can switch to and from it.
pub(crate) trait Switchable<K>: Eviction<K> {
    /// Removes every resident key, pushing them onto `out` coldest (next to be evicted) first.
    fn drain(&mut self, out: &mut Vec<Resident<K>>);

    /// Makes a key resident as the most recent of its kind, evicting nothing: the caller
    /// keeps the total weight within the capacity.
    fn adopt(&mut self, resident: Resident<K>) -> Handle;

    /// The hash and weight of the resident key at `handle`.
    fn identity(&self, handle: Handle) -> (u64, u32);
}

/// The two candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// S3-FIFO.
    Fifo,
    /// W-TinyLFU with a one-entry window ([`TinyLfu::frequency_biased`]).
    Frequency,
}

#[derive(Debug)]
enum Live {
    /// S3-FIFO, with the frequency sketch kept counting for a switch to W-TinyLFU.
    Fifo(S3Fifo<u32>, Sketch),
    Frequency(TinyLfu<u32>),
}

impl Live {
    fn mode(&self) -> Mode {
        match self {
            Live::Fifo(..) => Mode::Fifo,
            Live::Frequency(_) => Mode::Frequency,
        }
    }

    fn policy(&mut self) -> &mut dyn Switchable<u32> {
        match self {
            Live::Fifo(p, _) => p,
            Live::Frequency(p) => p,
        }
    }

    fn policy_ref(&self) -> &dyn Switchable<u32> {
        match self {
            Live::Fifo(p, _) => p,
            Live::Frequency(p) => p,
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Live::Fifo(p, sketch) => p.heap_bytes() + sketch.heap_bytes(),
            Live::Frequency(p) => p.heap_bytes(),
        }
    }
}

#[derive(Debug)]
struct Slot<K> {
    /// `None` only while the slot is free.
    key: Option<K>,
    /// The live policy's handle for this key.
    inner: Handle,
}

/// One miniature per candidate, fed the same sampled requests, and the tally of the requests
/// where exactly one of them hit.
#[derive(Debug)]
struct Duel {
    fifo: Miniature,
    frequency: Miniature,
    /// Requests where exactly one miniature hit.
    disagreements: f64,
    /// Of those, the frequency miniature's hits minus the FIFO miniature's.
    lead: f64,
}

impl Duel {
    /// Miniatures of `capacity` units.
    fn new(capacity: u64) -> Duel {
        Duel {
            fifo: Miniature::new(Box::new(S3Fifo::<u64>::new(capacity))),
            frequency: Miniature::new(Box::new(TinyLfu::<u64>::frequency_biased(capacity))),
            disagreements: 0.0,
            lead: 0.0,
        }
    }

    fn replay(&mut self, hash: u64, weight: u32) {
        let fifo = self.fifo.access(hash, weight);
        let frequency = self.frequency.access(hash, weight);
        if fifo != frequency {
            self.disagreements += 1.0;
            self.lead += if frequency { 1.0 } else { -1.0 };
        }
    }

    /// Scales the tally: by `DECAY` at the end of an epoch, to 0 to forget it.
    fn scale(&mut self, factor: f64) {
        self.lead *= factor;
        self.disagreements *= factor;
    }

    fn heap_bytes(&self) -> usize {
        self.fifo.heap_bytes() + self.frequency.heap_bytes()
    }
}

/// The miniatures at the cache's sampled scale and the running comparison of their hits.
#[derive(Debug)]
struct Evidence {
    /// Its tally decays every epoch.
    duel: Duel,
    /// Sampled requests in the current epoch.
    requests: u64,
    /// Sampled requests per epoch.
    epoch: u64,
}

impl Evidence {
    fn new(capacity: u64) -> Evidence {
        Evidence {
            duel: Duel::new(capacity),
            requests: 0,
            epoch: (EPOCH_FACTOR * capacity).max(64),
        }
    }

    /// Replays one sampled request and returns the candidate the evidence favours, if it
    /// favours one clearly. `maturity` (0 to 1) scales the lasting advantage asked for.
    fn observe(&mut self, hash: u64, weight: u32, maturity: f64) -> Option<Mode> {
        let duel = &mut self.duel;
        duel.replay(hash, weight);
        self.requests += 1;
        if self.requests >= self.epoch {
            self.requests = 0;
            duel.scale(DECAY);
        }
        let bar =
            DEVIATIONS * duel.disagreements.sqrt() + EPOCH_SHARE * self.epoch as f64 * maturity;
        if duel.lead > bar {
            Some(Mode::Frequency)
        } else if duel.lead < -bar {
            Some(Mode::Fifo)
        } else {
            None
        }
    }

    /// Forgets the comparison (after a switch, which acted on it); the miniatures run on.
    fn restart(&mut self) {
        self.duel.scale(0.0);
    }

    fn heap_bytes(&self) -> usize {
        self.duel.heap_bytes()
    }
}

/// Miniatures at a fraction of the cache's sampled scale, run only until the cache first
/// fills, so that they have evictions (and disagreements) to show by then.
#[derive(Debug)]
struct Scout {
    duel: Duel,
    /// A key is replayed when the top `shift` bits of its mixed hash are zero.
    shift: u32,
    /// Sampled requests the scouts may still replay.
    budget: u64,
}

impl Scout {
    fn new(capacity: u64) -> Box<Scout> {
        let shift = sample_shift(capacity / SCOUT_DIVISOR, SCOUT_CAPACITY);
        let scaled = ((capacity >> shift) / SCOUT_DIVISOR).max(1);
        Box::new(Scout { duel: Duel::new(scaled), shift, budget: SCOUT_BUDGET * scaled })
    }

    /// The candidate that hit more often, if one did.
    fn verdict(&self) -> Option<Mode> {
        match self.duel.lead {
            lead if lead > 0.0 => Some(Mode::Frequency),
            lead if lead < 0.0 => Some(Mode::Fifo),
            _ => None,
        }
    }
}

/// The largest shift of at most `MAX_SHIFT` that leaves `capacity >> shift` at `at_least` or
/// more (0 when even the whole capacity is less).
fn sample_shift(capacity: u64, at_least: u64) -> u32 {
    let mut shift = 0;
    while shift < MAX_SHIFT && capacity >> (shift + 1) >= at_least {
        shift += 1;
    }
    shift
}

/// Where the choice made when the cache first fills stands.
#[derive(Debug)]
enum FirstFill {
    /// The scouts are replaying requests.
    Scouting(Box<Scout>),
    /// The scouts used up their budget before the cache filled: their verdict, kept for it.
    Decided(Option<Mode>),
    /// The cache has filled.
    Done,
}

/// The adaptive policy (see the module documentation).
#[derive(Debug)]
pub(crate) struct Adaptive<K> {
    slots: FreeList<Slot<K>>,
    live: Live,
    evidence: Evidence,
    /// A key is sampled when the top `shift` bits of its mixed hash are zero.
    shift: u32,
    capacity: u64,
    /// Slots the live policy evicted during one insertion.
    evicted: Vec<u32>,
    /// Keys in transit during a switch.
    transit: Vec<Resident<u32>>,
    switches: u64,
    /// Weight inserted while the cache was full, counted up to `MATURE_TURNOVER` capacities.
    turnover: u64,
    first_fill: FirstFill,
}

impl<K> Adaptive<K> {
    /// An empty policy for `capacity` units of weight; S3-FIFO is live at first.
    pub(crate) fn new(capacity: u64) -> Adaptive<K> {
        let shift = sample_shift(capacity, MINIATURE_CAPACITY);
        Adaptive {
            slots: FreeList::new(),
            live: Live::Fifo(S3Fifo::new(capacity), Sketch::new(capacity)),
            evidence: Evidence::new((capacity >> shift).max(1)),
            shift,
            capacity,
            evicted: Vec::new(),
            transit: Vec::new(),
            switches: 0,
            turnover: 0,
            first_fill: FirstFill::Scouting(Scout::new(capacity)),
        }
    }

    /// The candidate now live.
    #[cfg(test)]
    pub(crate) fn mode(&self) -> Mode {
        self.live.mode()
    }

    /// Whether the scouts are still replaying requests.
    #[cfg(test)]
    fn scouting(&self) -> bool {
        matches!(self.first_fill, FirstFill::Scouting(_))
    }

    /// Times the live policy switched since the cache was built or cleared.
    #[cfg(test)]
    pub(crate) fn switches(&self) -> u64 {
        self.switches
    }

    /// Whether the key with `hash` is in the sample of one key in `2^shift`.
    fn sampled(hash: u64, shift: u32) -> bool {
        // A mix of its own, independent of the policies' uses of the hash (sketch rows, ghost
        // index), so that the sample is not biased towards keys they treat alike.
        let h = (hash ^ (hash >> 31)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        shift == 0 || (h ^ (h >> 32)) >> (64 - shift) == 0
    }

    fn alloc(&mut self, key: K) -> u32 {
        self.slots.insert(Slot { key: Some(key), inner: NIL })
    }

    fn release(&mut self, s: u32) -> K {
        self.slots.free(s);
        self.slots[s].key.take().expect("a live slot has a key")
    }

    /// How much of the history that makes a switch costly the cache has built: the weight
    /// turned over since it first filled, as a share of `MATURE_TURNOVER` capacities.
    fn maturity(&self) -> f64 {
        let mature = MATURE_TURNOVER * self.capacity.max(1);
        self.turnover.min(mature) as f64 / mature as f64
    }

    /// Feeds a request to the scouts and the miniatures that sample it.
    fn observe(&mut self, hash: u64, weight: u32) {
        if let FirstFill::Scouting(scout) = &mut self.first_fill {
            if Self::sampled(hash, scout.shift) {
                scout.duel.replay(hash, weight);
                scout.budget -= 1;
                if scout.budget == 0 {
                    self.first_fill = FirstFill::Decided(scout.verdict());
                }
            }
        }
        if !Self::sampled(hash, self.shift) {
            return;
        }
        let maturity = self.maturity();
        if let Some(mode) = self.evidence.observe(hash, weight, maturity) {
            if mode != self.live.mode() {
                self.switch(mode);
                self.evidence.restart();
            }
        }
    }

    /// The cache is about to evict for the first time: a switch now costs no history, so the
    /// candidate that did better in the scouts' replay goes live, however small its lead.
    fn choose_at_first_fill(&mut self) {
        let verdict = match std::mem::replace(&mut self.first_fill, FirstFill::Done) {
            FirstFill::Scouting(scout) => scout.verdict(),
            FirstFill::Decided(verdict) => verdict,
            FirstFill::Done => return,
        };
        if let Some(mode) = verdict {
            if mode != self.live.mode() {
                self.switch(mode);
                self.evidence.restart();
            }
        }
    }

    /// Makes `mode` the live policy, handing it every resident key.
    pub(crate) fn switch(&mut self, mode: Mode) {
        if mode == self.live.mode() {
            return;
        }
        let mut transit = std::mem::take(&mut self.transit);
        self.live.policy().drain(&mut transit);
        let placeholder = Live::Frequency(TinyLfu::frequency_biased(0));
        self.live = match std::mem::replace(&mut self.live, placeholder) {
            Live::Fifo(_, sketch) => {
                let mut p = TinyLfu::frequency_biased(self.capacity);
                p.set_sketch(sketch);
                Live::Frequency(p)
            }
            Live::Frequency(mut p) => Live::Fifo(S3Fifo::new(self.capacity), p.take_sketch()),
        };
        let policy = self.live.policy();
        for resident in transit.drain(..) {
            let s = resident.key;
            self.slots[s].inner = policy.adopt(resident);
        }
        self.transit = transit;
        self.switches += 1;
    }
}

impl<K: Send> Eviction<K> for Adaptive<K> {
    fn insert(&mut self, key: K, hash: u64, weight: u32, evicted: &mut Vec<K>) -> Handle {
        let s = self.alloc(key);
        if let Live::Fifo(_, sketch) = &mut self.live {
            sketch.increment(hash);
        }
        if self.turnover < MATURE_TURNOVER * self.capacity
            && self.live.policy_ref().weight() + u64::from(weight) > self.capacity
        {
            self.turnover += u64::from(weight);
            self.choose_at_first_fill();
        }
        let inner = self.live.policy().insert(s, hash, weight, &mut self.evicted);
        self.slots[s].inner = inner;
        for i in 0..self.evicted.len() {
            let gone = self.evicted[i];
            evicted.push(self.release(gone));
        }
        self.evicted.clear();
        self.observe(hash, weight);
        s
    }

    fn touch(&mut self, handle: Handle) {
        let inner = self.slots[handle].inner;
        let (hash, weight) = match &mut self.live {
            Live::Fifo(p, sketch) => {
                p.touch(inner);
                let identity = p.identity(inner);
                sketch.increment(identity.0);
                identity
            }
            Live::Frequency(p) => {
                p.touch(inner);
                p.identity(inner)
            }
        };
        self.observe(hash, weight);
    }

    fn remove(&mut self, handle: Handle) -> K {
        let inner = self.slots[handle].inner;
        let s = self.live.policy().remove(inner);
        debug_assert_eq!(s, handle);
        self.release(handle)
    }

    #[cfg(test)]
    fn key(&self, handle: Handle) -> &K {
        self.slots[handle].key.as_ref().expect("resident")
    }

    fn weight(&self) -> u64 {
        self.live.policy_ref().weight()
    }

    fn len(&self) -> usize {
        self.live.policy_ref().len()
    }

    fn clear(&mut self) {
        *self = Adaptive::new(self.capacity);
    }

    fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
            + self.live.heap_bytes()
            + self.evidence.heap_bytes()
            + match &self.first_fill {
                FirstFill::Scouting(scout) => scout.duel.heap_bytes(),
                _ => 0,
            }
            + self.evicted.capacity() * std::mem::size_of::<u32>()
            + self.transit.capacity() * std::mem::size_of::<Resident<u32>>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::noise;
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    fn hash(k: u64) -> u64 {
        k.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// A cache owner in miniature: replays `keys` with `weight(k)`, checking the policy's
    /// bookkeeping against its own map at every step; `at` is called before each request.
    struct Owner {
        p: Adaptive<u64>,
        map: HashMap<u64, Handle>,
        evicted: Vec<u64>,
        capacity: u64,
        hits: u64,
    }

    impl Owner {
        fn new(capacity: u64) -> Owner {
            Owner {
                p: Adaptive::new(capacity),
                map: HashMap::new(),
                evicted: Vec::new(),
                capacity,
                hits: 0,
            }
        }

        fn access(&mut self, k: u64, weight: u32) {
            if let Some(&h) = self.map.get(&k) {
                assert_eq!(*self.p.key(h), k);
                self.p.touch(h);
                self.hits += 1;
            } else {
                let h = self.p.insert(k, hash(k), weight, &mut self.evicted);
                self.map.insert(k, h);
                for e in self.evicted.drain(..) {
                    assert!(self.map.remove(&e).is_some(), "evicted a key it never had");
                }
            }
            self.check();
        }

        fn check(&self) {
            assert_eq!(self.p.len(), self.map.len());
            assert!(self.p.weight() <= self.capacity, "over capacity: {}", self.p.weight());
            for (&k, &h) in &self.map {
                assert_eq!(*self.p.key(h), k);
            }
        }

        fn resident(&self) -> BTreeSet<u64> {
            self.map.keys().copied().collect()
        }
    }

    #[test]
    fn switching_keeps_the_resident_set_handles_and_weight() {
        let mut o = Owner::new(100);
        let keys = noise(5_000, 400, 3);
        for (i, &k) in keys.iter().enumerate() {
            if i % 500 == 250 {
                let before = (o.resident(), o.p.weight(), o.p.len());
                let to = match o.p.mode() {
                    Mode::Fifo => Mode::Frequency,
                    Mode::Frequency => Mode::Fifo,
                };
                o.p.switch(to);
                assert_eq!(o.p.mode(), to);
                assert_eq!((o.resident(), o.p.weight(), o.p.len()), before);
                o.check();
            }
            o.access(k, (k % 3 + 1) as u32);
        }
        // Ten forced switches, and any the evidence made on its own.
        assert!(o.p.switches() >= 10);
    }

    #[test]
    fn weights_stay_within_capacity_in_both_modes() {
        for mode in [Mode::Fifo, Mode::Frequency] {
            let mut o = Owner::new(50);
            o.p.switch(mode);
            for &k in &noise(3_000, 200, 11) {
                o.access(k, (k % 7 + 1) as u32);
            }
            // Heavier than the whole capacity: never kept.
            o.access(10_000, 51);
            assert!(!o.map.contains_key(&10_000));
        }
    }

    #[test]
    fn remove_and_clear_forget_keys_in_both_modes() {
        for mode in [Mode::Fifo, Mode::Frequency] {
            let mut p = Adaptive::<u64>::new(10);
            p.switch(mode);
            let mut evicted = Vec::new();
            let a = p.insert(1, hash(1), 1, &mut evicted);
            let b = p.insert(2, hash(2), 2, &mut evicted);
            assert_eq!(p.remove(a), 1);
            assert_eq!((p.len(), p.weight()), (1, 2));
            assert_eq!(*p.key(b), 2);
            // A freed slot is reused, and the survivor's handle still holds.
            let c = p.insert(3, hash(3), 1, &mut evicted);
            assert_eq!(c, a);
            assert_eq!(*p.key(b), 2);
            p.clear();
            assert_eq!((p.len(), p.weight(), p.mode(), p.switches()), (0, 0, Mode::Fifo, 0));
        }
    }

    #[test]
    fn a_loop_larger_than_the_cache_makes_it_switch_to_frequency() {
        // A cyclic scan of 1,100 keys through 1,000 entries: S3-FIFO's queues churn and miss
        // almost everything, a frequency filter keeps most of the loop.
        let mut o = Owner::new(1_000);
        for i in 0..200_000u64 {
            o.access(i % 1_100, 1);
        }
        assert_eq!(o.p.mode(), Mode::Frequency);
        assert_eq!(o.p.switches(), 1);
        assert!(o.hits > 150_000, "{} hits", o.hits);
    }

    #[test]
    fn maturity_grows_with_the_weight_turned_over_and_clear_resets_it() {
        let mut o = Owner::new(100);
        for k in 0..100 {
            o.access(k, 1);
        }
        assert_eq!(o.p.maturity(), 0.0, "filling is not turnover");
        for k in 100..200 {
            o.access(k, 1);
        }
        assert_eq!(o.p.maturity(), 0.5);
        for k in 200..250 {
            o.access(k, 2);
        }
        assert_eq!(o.p.maturity(), 1.0);
        for k in 250..400 {
            o.access(k, 1);
        }
        assert_eq!(o.p.maturity(), 1.0);
        o.p.clear();
        assert_eq!(o.p.maturity(), 0.0);
    }

    #[test]
    fn a_young_cache_switches_early_in_a_loop() {
        // 1,100 keys in a loop through 1,000 entries, from an empty cache: the first pass
        // misses everywhere, and from the second the frequency miniature hits where S3-FIFO's
        // misses. The cache has just filled, so a small lasting lead suffices: it switches 33
        // requests into the second pass (271 when the full lead is asked for from the start).
        let mut o = Owner::new(1_000);
        let switched = (0..11_000u64).find(|&i| {
            o.access(i % 1_100, 1);
            o.p.mode() == Mode::Frequency
        });
        let switched = switched.expect("switches within ten passes");
        assert!((1_100..1_200).contains(&switched), "switched at request {switched}");
    }

    #[test]
    fn a_loop_seen_before_the_cache_fills_chooses_frequency_at_the_first_fill() {
        // Three passes over a loop of 600 keys: too many for the scouts (250 entries), where
        // S3-FIFO churns and the frequency candidate keeps a fixed part; few enough for the
        // cache (1,000), which then fills with fresh keys. The choice is made when the first
        // fresh key finds the cache full, with nothing evicted yet.
        let mut o = Owner::new(1_000);
        for i in 0..1_800u64 {
            o.access(i % 600, 1);
        }
        for i in 0..400u64 {
            o.access(10_000 + i, 1);
        }
        assert_eq!(o.p.mode(), Mode::Fifo, "full, nothing evicted yet");
        assert!(o.p.scouting());
        o.access(20_000, 1);
        assert_eq!(o.p.mode(), Mode::Frequency);
        assert_eq!(o.p.switches(), 1);
        assert!(!o.p.scouting(), "the scouts are gone once the cache has filled");
        // The resident set survived the switch: the loop's keys still hit.
        let hits = o.hits;
        o.access(0, 1);
        assert_eq!(o.hits, hits + 1);
    }

    #[test]
    fn scouts_stop_at_their_budget_and_their_verdict_waits_for_the_first_fill() {
        // The same loop, for longer than the scouts' budget (16 times their 250 entries).
        let mut o = Owner::new(1_000);
        for i in 0..3_999u64 {
            o.access(i % 600, 1);
        }
        assert!(o.p.scouting());
        o.access(3_999 % 600, 1);
        assert!(!o.p.scouting(), "budget spent");
        assert_eq!(o.p.mode(), Mode::Fifo, "not full yet");
        for i in 0..401u64 {
            o.access(10_000 + i, 1);
        }
        assert_eq!(o.p.mode(), Mode::Frequency);
        assert_eq!(o.p.switches(), 1);
    }

    #[test]
    fn without_reuse_before_the_first_fill_s3_fifo_stays() {
        // Every key is new until the cache fills: the scouts never disagree, so nothing
        // switches at the first fill.
        let mut o = Owner::new(1_000);
        for i in 0..1_001u64 {
            o.access(i, 1);
        }
        assert_eq!(o.p.mode(), Mode::Fifo);
        assert_eq!(o.p.switches(), 0);
        assert!(!o.p.scouting());
    }

    #[test]
    fn a_recency_stream_keeps_s3_fifo() {
        // A working set that drifts: each key is requested a few times within a short span and
        // then never again, which a FIFO with a small probationary queue handles best.
        let mut o = Owner::new(1_000);
        let mut x = 5u64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            o.access(i / 4 + x % 600, 1);
        }
        assert_eq!(o.p.mode(), Mode::Fifo, "{} switches", o.p.switches());
    }
}
