//! TinyLFU's frequency estimate: a count-min sketch of 4-bit counters behind a doorkeeper,
//! halved periodically so that old popularity fades (Einziger, Friedman and Manes, "TinyLFU",
//! ACM ToS 2017).
//!
//! The doorkeeper is a Bloom filter that absorbs each key's first occurrence in a period:
//! most keys are seen once, and keeping them out of the counters keeps the counters precise.
//! The estimate is the smallest of four counters plus one when the doorkeeper holds the key.
//! After `sample` recorded occurrences every counter is halved and the doorkeeper cleared.

#[derive(Debug)]
pub(crate) struct Sketch {
    /// Sixteen 4-bit counters per word.
    table: Vec<u64>,
    table_mask: usize,
    door: Vec<u64>,
    door_mask: usize,
    additions: u64,
    sample: u64,
}

const SEEDS: [u64; 4] =
    [0xc3a5_c85c_97cb_3127, 0xb492_b66f_be98_f273, 0x9ae1_6a3b_2f90_404f, 0xcbf2_9ce4_8422_2325];

fn mix(hash: u64, seed: u64) -> u64 {
    // SplitMix64's finalizer: every input bit reaches every output bit. (A single multiply
    // leaves the low bits depending on the low bits only, and block traces have sequential
    // keys: the loop trace lost a point to the collisions.)
    let mut z = hash ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Sketch {
    /// A sketch sized for a cache of `capacity` entries.
    pub(crate) fn new(capacity: u64) -> Sketch {
        let words = (capacity.clamp(16, 1 << 26) as usize).next_power_of_two();
        let door_bits = (capacity.clamp(8, 1 << 24) as usize * 64).next_power_of_two();
        Sketch {
            table: vec![0; words],
            table_mask: words - 1,
            door: vec![0; door_bits / 64],
            door_mask: door_bits - 1,
            additions: 0,
            sample: capacity.max(1) * 10,
        }
    }

    fn door_bits(&self, hash: u64) -> [usize; 3] {
        let h = mix(hash, 0x2545_f491_4f6c_dd1d);
        [
            (h as usize) & self.door_mask,
            ((h >> 21) as usize) & self.door_mask,
            ((h >> 42) as usize) & self.door_mask,
        ]
    }

    fn in_door(&self, hash: u64) -> bool {
        self.door_bits(hash).iter().all(|&b| self.door[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Where row `row`'s counter for `hash` lives: word index and bit shift.
    fn slot(&self, hash: u64, row: usize) -> (usize, u32) {
        let h = mix(hash, SEEDS[row]);
        let word = (h as usize) & self.table_mask;
        // Each row uses its own quarter of the word's sixteen counters.
        let nibble = (row as u32) * 4 + ((h >> 60) as u32 & 3);
        (word, nibble * 4)
    }

    /// Records one occurrence of `hash`.
    pub(crate) fn increment(&mut self, hash: u64) {
        if !self.in_door(hash) {
            for b in self.door_bits(hash) {
                self.door[b / 64] |= 1 << (b % 64);
            }
        } else {
            let mut added = false;
            for row in 0..4 {
                let (word, shift) = self.slot(hash, row);
                if (self.table[word] >> shift) & 15 < 15 {
                    self.table[word] += 1 << shift;
                    added = true;
                }
            }
            // As in Caffeine, only an occurrence that raised a counter counts towards the
            // period: keys the doorkeeper absorbs and saturated keys do not hasten aging.
            if added {
                self.additions += 1;
            }
        }
        if self.additions >= self.sample {
            self.age();
        }
    }

    /// The estimated number of occurrences of `hash` in the current period (at most 16).
    pub(crate) fn frequency(&self, hash: u64) -> u32 {
        let mut min = 15;
        for row in 0..4 {
            let (word, shift) = self.slot(hash, row);
            min = min.min(((self.table[word] >> shift) & 15) as u32);
        }
        min + u32::from(self.in_door(hash))
    }

    fn age(&mut self) {
        for w in &mut self.table {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.door.iter_mut().for_each(|w| *w = 0);
        self.additions /= 2;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        (self.table.capacity() + self.door.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::Sketch;

    #[test]
    fn counts_grow_saturate_and_age() {
        let mut s = Sketch::new(1000);
        assert_eq!(s.frequency(42), 0);
        s.increment(42);
        assert_eq!(s.frequency(42), 1, "the doorkeeper holds the first occurrence");
        for _ in 0..5 {
            s.increment(42);
        }
        assert_eq!(s.frequency(42), 6);
        for _ in 0..100 {
            s.increment(42);
        }
        assert_eq!(s.frequency(42), 16, "15 in the counters plus the doorkeeper");
        s.age();
        assert_eq!(s.frequency(42), 7, "halved, and the doorkeeper cleared");
        // Other keys stay (almost always) unseen.
        let unseen = (1000..1100).filter(|&k| s.frequency(k) == 0).count();
        assert!(unseen >= 98, "{unseen}");
    }

    #[test]
    fn ages_after_the_sample_size() {
        let mut s = Sketch::new(10);
        for _ in 0..20 {
            s.increment(7);
        }
        let before = s.frequency(7);
        // Only occurrences that raise a counter count: 15 for key 7 (the first went to the
        // doorkeeper, the last five found its counters saturated), none for a key seen once.
        for k in 0..200 {
            s.increment(1000 + k);
        }
        assert_eq!(s.frequency(7), before, "first occurrences do not age the sketch");
        // A second occurrence raises counters: 85 more reach the sample size of 100.
        for k in 0..85 {
            s.increment(1000 + k);
        }
        assert!(s.frequency(7) < before, "{} < {before}", s.frequency(7));
    }
}
