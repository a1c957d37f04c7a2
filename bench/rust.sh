#!/usr/bin/env bash
# The criterion benchmarks of the core, crates/edgecache/benches (cache.rs:
# Cache, Group, Flight and the OLTP hit ratio next to quick_cache, moka,
# hashlink and lru; watch.rs: WatchCache), run by `make bench-rust`. See
# docs/benchmarks.md, sections 1 and 2.
#
#   bash bench/rust.sh                       cargo bench -p edgecache
#   bash bench/rust.sh --bench cache -- get_hit   extra arguments go to cargo bench
#
# Prints what cargo bench prints, keeps the whole of it in
# target/bench/rust.log, and writes the tables the benchmarks print after
# criterion (the ratio summary, the hit ratios, the watch cache's memory
# lines) to target/bench/rust.txt, which `make bench` prints at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
mkdir -p target/bench
log=target/bench/rust.log
table=target/bench/rust.txt
: >"$table"

echo "# $(uname -m), $(nproc) CPUs, $(rustc --version)" | tee "$log"
"${CARGO:-cargo}" bench -p edgecache "$@" | tee -a "$log"

# The tables, without criterion's own lines around them: each block from
# its "== " line through its indented notes ("   ..."), its column header
# (the first other line) and its rows (lines ending in a number or "-"), and
# the one-line results ("watch: ...", "hit_ratio: skipped ..."); a blank
# line between blocks.
awk '
    NR == 1 { print; next }
    /^== / { print ""; print; on = 1; hdr = 0; line = 0; next }
    on && /^   [^ ]/ { print; next }
    on && !hdr && NF { print; hdr = 1; next }
    on && hdr && $NF ~ /^([0-9.]+|-)$/ { print; next }
    { on = 0 }
    /^(watch|hit_ratio): / { if (!line) print ""; print; line = 1; next }
    { line = 0 }
' "$log" >"$table"
