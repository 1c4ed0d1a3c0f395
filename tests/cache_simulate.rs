//! The simulator against published figures: exact LRU hit ratios on the shared traces, ARC's
//! figures from its paper, and Che's approximation for LRU under Zipf traffic.
//!
//! The traces sit beside the project (`../shared/traces`, or `$WEAKLING_TRACES`); when they
//! are absent the trace checks print that they were skipped and pass.

#[path = "../examples/hitrate/floors.rs"]
mod floors;
#[path = "../examples/hitrate/input.rs"]
mod input;

use floors::{ARC_REFERENCE, PEER_BEST};

use weakling::cache::{simulate, workload, Policy};

/// The LRU reference table of the traces' README: (file, capacity, hit ratio in percent).
const LRU_REFERENCE: &[(&str, u64, f64)] = &[
    ("arc/OLTP.lis.zst", 1_000, 32.83),
    ("arc/OLTP.lis.zst", 2_000, 42.47),
    ("arc/OLTP.lis.zst", 5_000, 53.65),
    ("arc/OLTP.lis.zst", 10_000, 60.70),
    ("arc/OLTP.lis.zst", 15_000, 64.63),
    ("arc/P6.lis.zst", 32_768, 4.24),
    ("lirs/gli.trace.gz", 1_000, 11.21),
    ("lirs/gli.trace.gz", 2_000, 57.41),
    ("lirs/loop.trace.gz", 1_000, 0.00),
    ("lirs/loop.trace.gz", 1_250, 99.80),
    ("lirs/2_pools.trace.gz", 1_000, 54.41),
    ("lirs/sprite.trace.gz", 500, 78.30),
    ("cache2k/web07.trace.xz", 1_000, 50.41),
    ("cache2k/web12.trace.xz", 1_200, 66.85),
    ("cloudphysics/cloudPhysicsIO.txt", 5_000, 19.62),
];

/// Loads a trace of the table, or prints why the check is skipped.
fn trace(file: &str) -> Option<Vec<u64>> {
    let Some(dir) = input::traces_dir() else {
        println!("skipped: no traces directory (../shared/traces or $WEAKLING_TRACES)");
        return None;
    };
    let path = dir.join(file);
    if !path.exists() {
        println!("skipped: {} is absent", path.display());
        return None;
    }
    Some(input::load(&path, None).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs the checks of one trace with `policy`; the expensive P6 trace only in release builds.
fn check(table: &[(&str, u64, f64)], policy: Policy, tolerance: f64, only_fast: bool) {
    let mut files: Vec<&str> = table.iter().map(|r| r.0).collect();
    files.dedup();
    for file in files {
        if only_fast && cfg!(debug_assertions) && file.contains("P6") {
            println!("skipped: {file} (12.7M requests) runs in release builds only");
            continue;
        }
        let Some(keys) = trace(file) else { continue };
        for &(_, capacity, want) in table.iter().filter(|r| r.0 == file) {
            let got = simulate::replay(&keys, policy, capacity).hit_ratio();
            println!("{file} C={capacity} {policy}: {got:.4} (published {want:.2})");
            assert!(
                (got - want).abs() <= tolerance + 1e-9,
                "{file} at {capacity}: {policy} hit ratio {got:.4}, published {want:.2}"
            );
        }
    }
}

#[test]
fn lru_reproduces_the_reference_figures_exactly() {
    // Two decimals as published: exact means within rounding (2_pools is 54.415 exactly, a
    // rounding tie published as 54.41).
    check(LRU_REFERENCE, Policy::Lru, 0.005, true);
}

#[test]
fn arc_reproduces_the_paper() {
    check(ARC_REFERENCE, Policy::Arc, 0.02, true);
}

#[test]
fn the_default_policy_meets_the_arc_papers_figures() {
    // BENCHMARKS.md's claim: the default policy is at or above ARC's published hit ratio on
    // OLTP and P6 at every capacity of the table.
    let mut files: Vec<&str> = ARC_REFERENCE.iter().map(|r| r.0).collect();
    files.dedup();
    for file in files {
        if cfg!(debug_assertions) && file.contains("P6") {
            println!("skipped: {file} (12.7M requests) runs in release builds only");
            continue;
        }
        let Some(keys) = trace(file) else { continue };
        for &(_, capacity, arc) in ARC_REFERENCE.iter().filter(|r| r.0 == file) {
            let got = simulate::replay(&keys, Policy::default(), capacity).hit_ratio();
            println!("{file} C={capacity} {}: {got:.2} (ARC paper {arc:.2})", Policy::default());
            assert!(got >= arc, "{file} at {capacity}: {got:.2} below ARC's {arc:.2}");
        }
    }
}

/// The pairs where the default policy (adaptive) is known to miss the per-pair target, with
/// its figure there: none since the policy chooses its candidate when the cache first fills.
const KNOWN_MISSES: &[(&str, u64, f64)] = &[];

/// The same for S3-FIFO, which churns on looping and scan-heavy traces.
const S3FIFO_KNOWN_MISSES: &[(&str, u64, f64)] = &[
    ("arc/P6.lis.zst", 32_768, 24.80),
    ("lirs/gli.trace.gz", 1_000, 35.10),
    ("lirs/gli.trace.gz", 2_000, 57.41),
    ("lirs/loop.trace.gz", 1_000, 87.91),
];

/// Replays every pair of `PEER_BEST` through `policy` and holds it to the pair's floor
/// (`floors::floor`: the best peer's figure less half a point, and ARC's published figure on
/// OLTP and P6). A known miss is held at its recorded figure (no regression) and printed with
/// its gap, so that it stays visible; one that starts meeting its floor fails the test until
/// it is taken off the list. Policies replay deterministically: these are exact figures, not
/// a band.
fn check_pairs(policy: Policy, known_misses: &[(&str, u64, f64)]) {
    let mut files: Vec<&str> = PEER_BEST.iter().map(|r| r.0).collect();
    files.dedup();
    let mut met = 0;
    for file in files {
        if cfg!(debug_assertions) && file.contains("P6") {
            println!("skipped: {file} (12.7M requests) runs in release builds only");
            continue;
        }
        let Some(keys) = trace(file) else { continue };
        for &(_, capacity, peer) in PEER_BEST.iter().filter(|r| r.0 == file) {
            let got = simulate::replay(&keys, policy, capacity).hit_ratio();
            let floor = floors::floor(file, capacity).expect("a pair of PEER_BEST");
            match known_misses.iter().find(|r| r.0 == file && r.1 == capacity) {
                Some(&(_, _, recorded)) => {
                    println!(
                        "{file} C={capacity} {policy}: {got:.2}, KNOWN MISS: {:.2} below the \
                         floor {floor:.2} (best peer {peer:.2})",
                        floor - got
                    );
                    assert!(
                        got >= recorded - 0.005,
                        "{file} at {capacity}: {policy} {got:.2} fell below its recorded \
                         {recorded:.2}"
                    );
                    assert!(
                        got < floor,
                        "{file} at {capacity}: {policy} {got:.2} now meets the floor \
                         {floor:.2}; take it off the known misses"
                    );
                }
                None => {
                    println!(
                        "{file} C={capacity} {policy}: {got:.2} (floor {floor:.2}, best peer \
                         {peer:.2})"
                    );
                    assert!(
                        got >= floor,
                        "{file} at {capacity}: {policy} {got:.2} below {floor:.2}"
                    );
                    met += 1;
                }
            }
        }
    }
    println!("{policy}: {met} pairs met the floor, {} known misses", known_misses.len());
}

#[test]
fn the_default_policy_is_within_half_a_point_of_the_best_peer_but_for_known_misses() {
    assert_eq!(Policy::default(), Policy::Adaptive);
    check_pairs(Policy::default(), KNOWN_MISSES);
}

#[test]
fn s3_fifo_is_within_half_a_point_of_the_best_peer_but_for_known_misses() {
    check_pairs(Policy::S3Fifo, S3FIFO_KNOWN_MISSES);
}

/// Che's approximation of LRU's hit ratio (percent) for independent Zipf(`s`) requests over
/// `n` keys: with the characteristic time `T` solving `sum(1 - exp(-p_i T)) = C`, the hit
/// ratio is `sum(p_i (1 - exp(-p_i T)))`.
fn che(n: u64, s: f64, capacity: f64) -> f64 {
    let weights: Vec<f64> = (1..=n).map(|i| 1.0 / (i as f64).powf(s)).collect();
    let total: f64 = weights.iter().sum();
    let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let occupied = |t: f64| p.iter().map(|&pi| 1.0 - (-pi * t).exp()).sum::<f64>();
    let (mut lo, mut hi) = (0.0, 1.0);
    while occupied(hi) < capacity {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if occupied(mid) < capacity {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    100.0 * p.iter().map(|&pi| pi * (1.0 - (-pi * lo).exp())).sum::<f64>()
}

#[test]
fn lru_on_zipf_matches_ches_approximation() {
    // The traces README's figures: N = 10,000 keys, independent requests.
    let reference =
        [(0.8, 100, 15.66), (0.8, 1_000, 43.67), (1.0, 100, 39.05), (1.0, 1_000, 67.56)];
    for (s, capacity, published) in reference {
        let approx = che(10_000, s, capacity as f64);
        assert!((approx - published).abs() < 0.01, "Che s={s} C={capacity}: {approx:.3}");
        let keys = workload::zipf(10_000, s, 1_000_000, 0x5eed);
        let got = simulate::replay(&keys, Policy::Lru, capacity).hit_ratio();
        println!("zipf s={s} C={capacity}: LRU {got:.3}, Che {approx:.3}");
        assert!((got - approx).abs() <= 0.3, "s={s} C={capacity}: LRU {got:.3} vs Che {approx:.3}");
    }
}

#[test]
fn no_policy_beats_the_mass_of_the_most_popular_keys_by_much() {
    // For independent requests the best any online policy can do is keep the C most popular
    // keys: s = 0.8: 30.00 / 57.06; s = 1.0: 53.00 / 76.48 (the traces README). A seeded
    // sample sits within a fraction of a point of it; Belady, which knows the future, is
    // above.
    for (s, capacity, bound) in [(0.8, 100, 30.00), (1.0, 1_000, 76.48)] {
        let keys = workload::zipf(10_000, s, 300_000, 0x5eed);
        let best = simulate::belady(&keys, capacity).hit_ratio();
        assert!(best > bound, "Belady {best:.2} should exceed {bound}");
        for policy in Policy::ALL {
            let got = simulate::replay(&keys, policy, capacity).hit_ratio();
            println!(
                "zipf s={s} C={capacity}: {policy} {got:.2} (bound {bound}, Belady {best:.2})"
            );
            assert!(got < bound + 0.5, "{policy}: {got:.2} above the bound {bound}");
        }
    }
}
