#!/usr/bin/env bash
# Cache get-hit through the C ABI next to the same operation from Rust, in
# one run, with the ratio. See docs/benchmarks.md, section 3.
#
#   bash bench/c/bench.sh              wall-clock ns/op, and the ratio
#   bash bench/c/bench.sh --callgrind  also instructions per get, counted by
#                                      callgrind (independent of machine load)
#
# Builds (release) the static library and the Rust example
# crates/edgecache/examples/hit_from_rust.rs, compiles bench/c/bench_cache.c
# with -O2 against target/release/libedgecache.a, runs both, and prints
# ns/op for each and the ratio C/Rust per access pattern. The two programs
# run the same workload; their checksums must agree. With --callgrind it
# also counts instructions per get under callgrind, which the machine's load
# does not change. The tables (and the line naming the machine) also go to
# target/bench/c.txt, which `make bench` prints at the end.
set -euo pipefail

cd "$(dirname "$0")/../.."
OUT=target/ctest/bench
TABLE=target/bench/c.txt
mkdir -p "$OUT" target/bench
: >"$TABLE"

cargo build -q --release -p edgecache-capi
cargo build -q --release -p edgecache --example hit_from_rust
cp target/release/libedgecache.a "$OUT/libedgecache.a"
${CC:-gcc} -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -g -Iinclude bench/c/bench_cache.c \
    "$OUT/libedgecache.a" -lpthread -ldl -lm -o "$OUT/bench_cache"

# The machine may be shared: run C and Rust alternately REPEAT times (default
# 3) and keep each one's fastest median, so a burst of outside load is less
# likely to land on one side only.
REPEAT=${REPEAT:-3}
echo "# $(uname -m), $(nproc) CPUs, $(rustc --version), $(${CC:-gcc} --version | head -1), REPEAT=$REPEAT" | tee -a "$TABLE"
: >"$OUT/c.txt"
: >"$OUT/rust.txt"
for _ in $(seq "$REPEAT"); do
    "$OUT/bench_cache" | tee -a "$OUT/c.txt"
    target/release/examples/hit_from_rust | tee -a "$OUT/rust.txt"
done

# Lines: "<impl> <pattern>: <ns> ns/op (... checksum <n>)"
awk '
    FNR == NR { if (!($2 in c) || $3 + 0 < c[$2]) c[$2] = $3 + 0; cs[$2] = $NF; next }
    {
        if (!($2 in r)) { order[++n] = $2; r[$2] = $3 + 0 } else if ($3 + 0 < r[$2]) r[$2] = $3 + 0
        rs[$2] = $NF
    }
    END {
        bad = 0
        printf "%-22s %12s %12s %9s\n", "fastest ns/op", "C ABI", "Rust", "C/Rust"
        for (i = 1; i <= n; i++) {
            d = order[i]
            if (!(d in c)) { print "missing C result for " d; bad = 1; continue }
            if (cs[d] != rs[d]) { print "checksums differ for " d ": " cs[d] " vs " rs[d]; bad = 1 }
            printf "%-22s %12.1f %12.1f %8.2fx\n", substr(d, 1, length(d) - 1), c[d], r[d], c[d] / r[d]
        }
        exit bad
    }
' "$OUT/c.txt" "$OUT/rust.txt" | tee -a "$TABLE"

[ "${1:-}" = --callgrind ] || exit 0

# Instructions per get: both programs under callgrind, counting only their
# run_round (the timed loop), 2^18 gets per round, warm-up + 1 round, two
# patterns: 4 x 2^18 gets in all.
OPS=262144
ir_per_op() { # OUTFILE PROGRAM
    EDGECACHE_BENCH_OPS=$OPS EDGECACHE_BENCH_ROUNDS=1 valgrind -q --tool=callgrind \
        --toggle-collect='*run_round*' --callgrind-out-file="$1" "$2" >/dev/null
    callgrind_annotate "$1" | awk -v ops=$((4 * OPS)) '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.1f", $1 / ops }'
}
c_ir=$(ir_per_op "$OUT/callgrind.c.out" "$OUT/bench_cache")
rust_ir=$(ir_per_op "$OUT/callgrind.rust.out" target/release/examples/hit_from_rust)
{
    printf '%-22s %12s %12s %9s\n' "instructions per get" "C ABI" "Rust" "C/Rust"
    awk -v c="$c_ir" -v r="$rust_ir" 'BEGIN { printf "%-22s %12.1f %12.1f %8.2fx\n", "(both patterns)", c, r, c / r }'
} | tee -a "$TABLE"
