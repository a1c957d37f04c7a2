#!/usr/bin/env bash
# Prints the ratio tables the benchmark suites left in target/bench/, one
# after another: what `make bench` shows at its end. Also useful on its own
# to see the last run's tables again.
#
#   bash bench/tables.sh                 rust c python go
#   bash bench/tables.sh c go            only these suites
#
# A suite whose table is missing or empty is named as such (it did not run,
# or failed before printing its table); the exit status is then 1.
set -euo pipefail

cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- rust c python go

declare -A what=(
    [rust]="make bench-rust: the core next to quick_cache, moka, hashlink, lru (criterion; ratio = edgecache ÷ row)"
    [c]="make bench-c: a cache hit through the C ABI next to the same hit from Rust"
    [python]="make bench-python: the Python module next to functools.lru_cache, cachetools, cachebox"
    [go]="make bench-go: the Go binding next to groupcache and golang-lru"
)

missing=0
for suite in "$@"; do
    file=target/bench/$suite.txt
    echo
    echo "==================== $suite: ${what[$suite]:-} ($file)"
    if [ -s "$file" ]; then
        cat "$file"
    else
        echo "(no table: the suite did not run or failed before printing it)"
        missing=1
    fi
done
exit "$missing"
