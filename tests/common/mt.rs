//! NumPy's legacy `RandomState(seed)` stream (MT19937 seeded by `init_genrand`, doubles
//! from two draws as `random_sample` makes them), so Rust tests draw the very inputs
//! the Python conformance cases draw.

/// `numpy.random.RandomState(seed)`.
pub struct RandomState {
    mt: [u32; 624],
    idx: usize,
}

impl RandomState {
    /// Seeded as NumPy seeds an integer.
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        RandomState { mt, idx: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.idx >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random_sample()`: 53 random bits in [0, 1).
    pub fn random_sample(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(lo, hi, size=n)`.
    pub fn uniform(&mut self, lo: f64, hi: f64, n: usize) -> Vec<f64> {
        (0..n).map(|_| lo + (hi - lo) * self.random_sample()).collect()
    }
}

impl RandomState {
    /// `randint(low, high)`: NumPy's masked rejection on 32-bit draws.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        let rng = (high - 1 - low) as u64;
        if rng == 0 {
            return low;
        }
        let mut mask = rng;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = u64::from(self.next_u32()) & mask;
            if v <= rng {
                return low + v as i64;
            }
        }
    }
}
