//! Consistent hashing compatible with groupcache's `consistenthash` package.
//!
//! Each peer is placed on a ring of `u32` hashes `replicas` times, at
//! `hash(decimal(i) ++ peer)` for `i` in `0..replicas`. A key belongs to the
//! first peer point at or after `hash(key)`, wrapping around. With the same
//! hash (CRC-32 IEEE by default), replica count and peer names, this routes
//! every key to the same peer as Go groupcache does, so a mixed fleet agrees
//! on ownership.
//!
//! # Thread safety
//! A [`HashRing`] is plain data: build it, then share it read-only (`&`) or
//! behind a lock if peers change.

use std::collections::HashMap;

/// A hash function for the ring.
pub type RingHash = fn(&[u8]) -> u32;

/// groupcache's default number of points per peer.
pub const DEFAULT_REPLICAS: usize = 50;

/// A consistent-hash ring of peer names.
#[derive(Debug, Clone)]
pub struct HashRing {
    hash: RingHash,
    replicas: usize,
    /// Sorted point hashes; may hold duplicates when two points collide.
    points: Vec<u32>,
    /// Owner of each point hash; on a collision the peer added last wins, as
    /// in groupcache.
    owners: HashMap<u32, String>,
}

impl Default for HashRing {
    fn default() -> Self {
        Self::new(DEFAULT_REPLICAS, None)
    }
}

impl HashRing {
    /// An empty ring with `replicas` points per peer and `hash` (CRC-32 IEEE
    /// when `None`). A `replicas` of 0 is treated as 1.
    pub fn new(replicas: usize, hash: Option<RingHash>) -> Self {
        HashRing {
            hash: hash.unwrap_or(crc32_ieee),
            replicas: replicas.max(1),
            points: Vec::new(),
            owners: HashMap::new(),
        }
    }

    /// True when no peer has been added.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Adds peers by name.
    pub fn add<I, S>(&mut self, peers: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut buf = Vec::new();
        for peer in peers {
            let peer = peer.as_ref();
            for i in 0..self.replicas {
                buf.clear();
                buf.extend_from_slice(i.to_string().as_bytes());
                buf.extend_from_slice(peer.as_bytes());
                let h = (self.hash)(&buf);
                self.points.push(h);
                self.owners.insert(h, peer.to_owned());
            }
        }
        self.points.sort_unstable();
    }

    /// The peer that owns `key`, or `None` for an empty ring.
    pub fn get(&self, key: &[u8]) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let h = (self.hash)(key);
        let idx = self.points.partition_point(|&p| p < h);
        let point = self.points.get(idx).unwrap_or(&self.points[0]);
        self.owners.get(point).map(String::as_str)
    }
}

/// CRC-32 with the IEEE polynomial (as Go's `crc32.ChecksumIEEE`).
pub fn crc32_ieee(data: &[u8]) -> u32 {
    static TABLE: std::sync::LazyLock<[u32; 256]> = std::sync::LazyLock::new(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    let t = &*TABLE;
    let mut crc = !0u32;
    for &b in data {
        crc = t[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_values() {
        assert_eq!(crc32_ieee(b""), 0);
        assert_eq!(crc32_ieee(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32_ieee(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    /// groupcache's own test: a hash that parses the decimal string, so the
    /// ring's placement can be predicted by hand.
    fn atoi(b: &[u8]) -> u32 {
        std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn placement_matches_groupcache() {
        let mut ring = HashRing::new(3, Some(atoi));
        // Points: 2, 4, 6, 12, 14, 16, 22, 24, 26.
        ring.add(["6", "4", "2"]);
        for (key, want) in [("2", "2"), ("11", "2"), ("23", "4"), ("27", "2")] {
            assert_eq!(ring.get(key.as_bytes()), Some(want), "key {key}");
        }
        // Adding 8, 18, 28: 27 moves to "8".
        ring.add(["8"]);
        for (key, want) in [("2", "2"), ("11", "2"), ("23", "4"), ("27", "8")] {
            assert_eq!(ring.get(key.as_bytes()), Some(want), "key {key}");
        }
    }

    #[test]
    fn same_peers_in_any_order_route_the_same() {
        let mut a = HashRing::default();
        a.add(["http://10.0.0.1", "http://10.0.0.2", "http://10.0.0.3"]);
        let mut b = HashRing::default();
        b.add(["http://10.0.0.3"]);
        b.add(["http://10.0.0.1", "http://10.0.0.2"]);
        for i in 0..1000 {
            let k = format!("/api/v1/pods/{i}");
            assert_eq!(a.get(k.as_bytes()), b.get(k.as_bytes()));
        }
    }

    #[test]
    fn empty_ring_owns_nothing() {
        assert_eq!(HashRing::default().get(b"x"), None);
    }
}
