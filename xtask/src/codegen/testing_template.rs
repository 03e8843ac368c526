//! Seeded random values for every generated message, for property tests and fuzzing (enabled by
//! the `testing` feature). Values respect the version they are made for: fields the version lacks
//! keep their defaults, `None` only where the version allows null, tagged fields set sometimes,
//! unknown tagged fields added in flexible versions.

/// A small deterministic generator (SplitMix64), so a failing case is reproducible from its seed.
#[derive(Debug, Clone)]
pub struct TestRng {
    state: u64,
    depth: u32,
}

impl TestRng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        TestRng {
            state: seed,
            depth: 0,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A random boolean.
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// A finite `f64` (NaN would not compare equal to itself after a round trip).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 20) as f64 - 1024.0
    }

    /// A random UUID.
    pub fn uuid(&mut self) -> crate::Uuid {
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        u[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        crate::Uuid(u)
    }

    /// A short string, sometimes multi-byte UTF-8.
    pub fn string(&mut self) -> String {
        const CHARS: &[char] = &['a', 'b', 'z', '0', '9', '-', '_', '.', 'é', '€', '🦀'];
        let n = self.below(12) as usize;
        (0..n)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }

    /// A few random bytes.
    pub fn bytes(&mut self) -> bytes::Bytes {
        let n = self.below(24) as usize;
        (0..n)
            .map(|_| self.next_u64() as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    /// `None` one time in four, else `Some(f(self))`.
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.below(4) == 0 {
            None
        } else {
            Some(f(self))
        }
    }

    /// A short vector; shorter the deeper the nesting, so messages stay small.
    pub fn vec<T>(&mut self, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let max = 4u64.saturating_sub(u64::from(self.depth)).max(1);
        let n = self.below(max + 1);
        self.depth += 1;
        let v = (0..n).map(|_| f(self)).collect();
        self.depth -= 1;
        v
    }

    /// Zero to two tagged fields with tags no spec uses.
    pub fn unknown_tagged_fields(&mut self) -> crate::primitives::UnknownTaggedFields {
        let n = if self.below(3) == 0 { self.below(3) } else { 0 };
        (0..n)
            .map(|_| (1000 + self.below(100_000) as u32, self.bytes()))
            .collect()
    }
}

/// A random value valid at a version.
pub trait Random: Sized {
    /// A random value of `Self` that can be encoded at `version`.
    fn random(rng: &mut TestRng, version: i16) -> Self;
}
