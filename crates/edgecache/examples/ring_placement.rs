//! Prints where a fixed set of keys lands on a consistent-hash ring of fixed
//! peers, one `key<TAB>peer` line per key. `bindings/go/crosscheck` prints
//! the same from Go groupcache's `consistenthash`; `bindings/go/run.sh`
//! diffs the two, so a placement difference from Go groupcache fails
//! `make test`.

use std::io::Write;

use edgecache::consistenthash::HashRing;

fn main() -> std::io::Result<()> {
    let peers: Vec<String> = (1..=7).map(|i| format!("http://10.0.0.{i}:8080")).collect();
    let mut ring = HashRing::new(50, None);
    ring.add(peers.iter().map(String::as_str));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..20_000 {
        let key = match i % 3 {
            0 => format!("key-{i}"),
            1 => format!("/api/v1/namespaces/ns-{}/pods/pod-{i}", i % 97),
            _ => format!("{i}"),
        };
        let peer = ring.get(key.as_bytes()).unwrap_or("");
        writeln!(out, "{key}\t{peer}")?;
    }
    out.flush()
}
