//! Hash maps keyed by values that are already good 64-bit hashes (xxh3 of content).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by a 64-bit content hash: the key is used as its own hash, no rehashing.
pub type HashKeyMap<V> = HashMap<u64, V, BuildHasherDefault<PrehashedKey>>;

#[derive(Default)]
pub struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
