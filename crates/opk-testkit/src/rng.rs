//! Seeded pseudo-random input for fuzz-style tests: reproducible (the same seed gives the same
//! inputs, so a failure comes back) and drawn from a maintained generator (fastrand), not a
//! hand-written one.

pub use fastrand::Rng;

/// A generator that yields the same stream for the same seed.
pub fn seeded(seed: u64) -> Rng {
    Rng::with_seed(seed)
}

/// `len` random bytes.
pub fn bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
}

/// Random bytes of a random length below `max_len`.
pub fn garbage(rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let len = rng.usize(..max_len);
    bytes(rng, len)
}

/// `count` [`garbage`] inputs below `max_len` bytes, from `seed`: a fuzz-style test's whole loop
/// is `for data in garbage_inputs(..) { hook(&data) }`.
pub fn garbage_inputs(seed: u64, count: usize, max_len: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut rng = seeded(seed);
    std::iter::repeat_with(move || garbage(&mut rng, max_len)).take(count)
}
