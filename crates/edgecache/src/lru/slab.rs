//! One shard's entries: a slab of nodes, a hash table of their indices, and
//! the intrusive doubly-linked recency list through them.
//!
//! This is the eviction policy's part of the store: which entry a hit
//! promotes ([`Shard::touch`]), where an insert goes ([`Shard::insert`]) and
//! which entry goes first ([`Shard::pop_tail`], ordered by
//! [`Shard::tail_stamp`]). Locking, sharding and byte accounting live in
//! `segment.rs` and `store.rs`.

use hashbrown::HashTable;

use super::Value;
use super::clock::clock_nanos;

/// The end of a list, and no slot.
pub(super) const NIL: u32 = u32::MAX;

/// One cached entry. Aligned to a cache line, so the fields a hit reads
/// (key, value, stamp, expiry) come in one line rather than straddling two.
#[repr(align(64))]
pub(super) struct Node {
    pub(super) key: Box<[u8]>,
    pub(super) value: Value,
    pub(super) hash: u64,
    /// Neighbours in the shard's recency list (`NIL` at the ends); `prev` is
    /// towards the front (most recent).
    pub(super) prev: u32,
    pub(super) next: u32,
    /// The store's epoch when this node was last inserted or hit. Nodes are
    /// ordered by it along the list: non-increasing from front to tail.
    pub(super) stamp: u64,
    /// When the entry expires, in [`clock_nanos`] time; 0 for never. Eight
    /// bytes rather than an `Option<Instant>`'s sixteen keep a node in one
    /// 64-byte cache line.
    pub(super) expires: u64,
}

// A slab slot is exactly one cache line (checked at compile time).
const _: () = assert!(std::mem::size_of::<Option<Node>>() == 64);

impl Node {
    #[inline]
    pub(super) fn expired(&self) -> bool {
        self.expires != 0 && clock_nanos() >= self.expires
    }
}

impl Node {
    pub(super) fn cost(&self) -> u64 {
        (self.key.len() + self.value.len()) as u64
    }
}

/// The part of a segment behind one lock.
pub(super) struct Shard {
    /// Indices into `nodes`, hashed by `Node::hash`.
    pub(super) table: HashTable<u32>,
    /// Slots; `None` slots are listed in `free`.
    nodes: Vec<Option<Node>>,
    free: Vec<u32>,
    /// Most recently used node, or `NIL`.
    pub(super) head: u32,
    /// Least recently used node, or `NIL`.
    pub(super) tail: u32,
}

impl Shard {
    pub(super) fn new() -> Self {
        Shard { table: HashTable::new(), nodes: Vec::new(), free: Vec::new(), head: NIL, tail: NIL }
    }

    #[inline]
    pub(super) fn node(&self, i: u32) -> &Node {
        match &self.nodes[i as usize] {
            Some(n) => n,
            None => unreachable!("index {i} in the table or list points at a free slot"),
        }
    }

    pub(super) fn node_mut(&mut self, i: u32) -> &mut Node {
        match &mut self.nodes[i as usize] {
            Some(n) => n,
            None => unreachable!("index {i} in the table or list points at a free slot"),
        }
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.table.find(hash, |&i| matches!(&nodes[i as usize], Some(n) if key_eq(&n.key, key))).copied()
    }

    /// The stamp of the least recently used node, `u64::MAX` when empty.
    pub(super) fn tail_stamp(&self) -> u64 {
        if self.tail == NIL { u64::MAX } else { self.node(self.tail).stamp }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        {
            let n = self.node_mut(i);
            n.prev = NIL;
            n.next = old;
        }
        if old == NIL {
            self.tail = i;
        } else {
            self.node_mut(old).prev = i;
        }
        self.head = i;
    }

    /// Marks `i` most recently used. Returns true when the tail or its stamp
    /// changed.
    pub(super) fn touch(&mut self, i: u32, stamp: u64) -> bool {
        self.node_mut(i).stamp = stamp;
        let was_tail = self.tail == i;
        if self.head == i {
            return was_tail;
        }
        self.unlink(i);
        self.push_front(i);
        was_tail
    }

    pub(super) fn insert(&mut self, node: Node) {
        let hash = node.hash;
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = Some(node);
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len()).unwrap_or(NIL);
                assert!(i != NIL, "a cache shard cannot hold 2^32 - 1 entries");
                self.nodes.push(Some(node));
                i
            }
        };
        let nodes = &self.nodes;
        self.table.insert_unique(hash, i, |&j| match &nodes[j as usize] {
            Some(n) => n.hash,
            None => unreachable!("free slot in the table"),
        });
        self.push_front(i);
    }

    pub(super) fn remove_at(&mut self, i: u32) -> Node {
        let hash = self.node(i).hash;
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.unlink(i);
        self.free.push(i);
        match self.nodes[i as usize].take() {
            Some(n) => n,
            None => unreachable!("removing a free slot"),
        }
    }

    pub(super) fn pop_tail(&mut self) -> Option<Node> {
        if self.tail == NIL { None } else { Some(self.remove_at(self.tail)) }
    }

    pub(super) fn clear(&mut self) {
        *self = Shard::new();
    }
}

/// Key equality, with the short keys caches mostly hold (up to 32 bytes)
/// compared inline as two overlapping words each instead of by a call to
/// `memcmp`.
#[inline(always)]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    fn ends<const K: usize>(a: &[u8], b: &[u8]) -> bool {
        a.first_chunk::<K>() == b.first_chunk::<K>() && a.last_chunk::<K>() == b.last_chunk::<K>()
    }
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        4..=8 => ends::<4>(a, b),
        9..=16 => ends::<8>(a, b),
        17..=32 => ends::<16>(a, b),
        _ => a == b,
    }
}
