//! Seeded synthetic workloads for the hit-rate tool, the tests and the benchmarks.
//!
//! Every generator is deterministic for a given seed, so a hit ratio measured on one is
//! reproducible anywhere.

/// A small, fast, seeded random number generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Independent requests over `keys` keys (`0..keys`, key 0 the most popular) whose
/// popularity follows Zipf's law with exponent `s`: key `i` is requested with probability
/// proportional to `1 / (i + 1)^s`.
#[must_use]
pub fn zipf(keys: u64, s: f64, requests: usize, seed: u64) -> Vec<u64> {
    let cdf = zipf_cdf(keys, s);
    let mut rng = Rng::new(seed);
    (0..requests)
        .map(|_| {
            let u = rng.next_f64() * cdf[cdf.len() - 1];
            cdf.partition_point(|&c| c <= u).min(cdf.len() - 1) as u64
        })
        .collect()
}

/// The cumulative (unnormalised) Zipf weights of ranks `1..=keys`.
fn zipf_cdf(keys: u64, s: f64) -> Vec<f64> {
    let mut total = 0.0;
    (1..=keys.max(1))
        .map(|i| {
            total += 1.0 / (i as f64).powf(s);
            total
        })
        .collect()
}

/// Zipf traffic (exponent 0.9 over 10,000 keys) interrupted by scans: after every 4,000
/// requests, 2,000 consecutive keys from a separate range of 200,000 keys (each scan
/// continues where the previous one stopped, so a scanned key comes back only after the
/// whole range). Scans flush a pure-recency policy; a policy that protects frequent keys
/// keeps its hit ratio.
#[must_use]
pub fn scan_mix(requests: usize, seed: u64) -> Vec<u64> {
    const HOT_KEYS: u64 = 10_000;
    const BURST: usize = 4_000;
    const SCAN: usize = 2_000;
    const SCAN_RANGE: u64 = 200_000;
    let hot = zipf(HOT_KEYS, 0.9, requests, seed);
    let mut out = Vec::with_capacity(requests);
    let mut hot = hot.into_iter();
    let mut cursor = 0;
    while out.len() < requests {
        out.extend(hot.by_ref().take(BURST.min(requests - out.len())));
        for _ in 0..SCAN.min(requests - out.len()) {
            out.push(HOT_KEYS + cursor);
            cursor = (cursor + 1) % SCAN_RANGE;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_seeded_and_skewed() {
        let a = zipf(1000, 1.0, 10_000, 1);
        assert_eq!(a, zipf(1000, 1.0, 10_000, 1));
        assert_ne!(a, zipf(1000, 1.0, 10_000, 2));
        assert!(a.iter().all(|&k| k < 1000));
        let top = a.iter().filter(|&&k| k == 0).count();
        // P(rank 1) = 1 / H(1000) = 0.1336.
        assert!((1200..1480).contains(&top), "{top}");
    }

    #[test]
    fn scan_mix_interleaves_bursts_and_scans() {
        let w = scan_mix(12_000, 3);
        assert_eq!(w.len(), 12_000);
        assert!(w[..4_000].iter().all(|&k| k < 10_000));
        assert_eq!(&w[4_000..4_003], &[10_000, 10_001, 10_002]);
        assert!(w[6_000..10_000].iter().all(|&k| k < 10_000));
        assert_eq!(w[10_000], 12_000, "the next scan continues the range");
    }
}
