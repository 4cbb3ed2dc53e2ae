//! A small seeded generator (SplitMix64) so generated version pairs are the same every run.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Pairs: half built independently, half a version and a small mutation of it, so many pairs
/// share prefixes and exercise the tie-breaking rules.
pub fn pairs(
    rng: &mut Rng,
    n: usize,
    mut make: impl FnMut(&mut Rng) -> String,
    mut mutate: impl FnMut(&mut Rng, &str) -> String,
) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let a = make(rng);
            let b = if i % 2 == 0 {
                make(rng)
            } else {
                mutate(rng, &a)
            };
            (a, b)
        })
        .collect()
}
