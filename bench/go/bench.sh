#!/usr/bin/env bash
# The Go binding next to groupcache and golang-lru (docs/benchmarks.md,
# section 5), run by `make bench-go`:
#
#   1. a cache hit (Group.Get / Cache.Get) at -cpu 1,2, ROUNDS runs of
#      `go test -bench` one after another, then the ratio table (fastest
#      ns/op of the runs, edgecache ÷ peer), computed by benchratio/;
#   2. gcload: a process holding about 1 GiB (850,000 entries of 1 KiB; 1M
#      would take groupcache's process past 3 GiB of RSS), once with the
#      binding and once with groupcache (separate processes), under a steady
#      load of Gets; then the GC pause / GC CPU / heap / RSS table with ratios.
#
# Both ratio tables (and the Go and peer versions) also go to
# target/bench/go.txt, which `make bench` prints at the end.
#
# The peers come from Debian's packages in GOPATH layout under
# /usr/share/gocode (golang-github-golang-groupcache-dev,
# golang-github-hashicorp-golang-lru-dev, golang-github-golang-protobuf-1-3-dev);
# there is no module proxy, so everything builds with GO111MODULE=off in a
# throwaway GOPATH under target/gopath.
#
# Options (environment): ROUNDS=3 (hit runs), BENCHTIME=1s, GC_DURATION=20s
# (the steady load), GC_RATE=50000 (Gets per second in total, the same for
# both caches; 0: as fast as the workers go), GC_APPHEAP="0 64" (MiB of the
# program's own live heap besides the cache: one gcload pair per value),
# GC_ENTRIES=850000, SKIP_HIT=1 / SKIP_GC=1 to run one part only. The whole
# run takes about 4 minutes; a gcload process peaks near 3 GiB of RSS
# (groupcache's: twice its live heap under the default GOGC, and more while
# a long mark lets the load's allocations count as live).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
table=$repo/target/bench/go.txt
mkdir -p "$repo/target/bench"
: >"$table"

ROUNDS=${ROUNDS:-3}
BENCHTIME=${BENCHTIME:-1s}
GC_DURATION=${GC_DURATION:-20s}
GC_ENTRIES=${GC_ENTRIES:-850000}
GC_RATE=${GC_RATE:-50000}
GC_APPHEAP=${GC_APPHEAP:-0 64}

command -v go >/dev/null || { echo "go is missing (bash bindings/go/run.sh --ensure-go)" >&2; exit 1; }
for p in github.com/golang/groupcache github.com/hashicorp/golang-lru github.com/golang/protobuf/proto; do
	[ -d "/usr/share/gocode/src/$p" ] || {
		echo "/usr/share/gocode/src/$p is missing: apt-get install golang-github-golang-groupcache-dev golang-github-hashicorp-golang-lru-dev" >&2
		exit 1
	}
done
if [ ! -f target/release/libedgecache.a ]; then
	make --no-print-directory lib
fi

# The GOPATH: real directories down to the repository's place, and symlinks
# only to what the build reads (not the repository root, which contains
# target/gopath itself and would make a symlink loop for any tool that walks
# the tree). The benchmarks (bench/go) import the binding by its path in
# this GOPATH, github.com/edgecache/edgecache/bindings/go/edgecache. The
# binding's cgo flags name
# ${SRCDIR}/../../../{include,target/release/libedgecache.a}; SRCDIR is the
# symlinked bindings/go/edgecache, and both the lexical reading of the ".."
# (the include and target/release symlinks below) and the physical one (the
# real bindings/go/edgecache, three levels under the repository) reach the
# real files.
gopath=$repo/target/gopath
root=$gopath/src/github.com/edgecache/edgecache
rm -rf "$gopath/src"
mkdir -p "$root/bindings/go" "$root/bench" "$root/target" "$gopath/bin"
ln -s "$repo/bindings/go/edgecache" "$root/bindings/go/edgecache"
ln -s "$repo/bench/go" "$root/bench/go"
ln -s "$repo/include" "$root/include"
ln -s "$repo/target/release" "$root/target/release"

export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS=
pkg=github.com/edgecache/edgecache/bench/go
go version | tee -a "$table"
echo "peers: $(dpkg-query -W -f '${Package} ${Version}, ' golang-github-golang-groupcache-dev golang-github-hashicorp-golang-lru-dev 2>/dev/null || echo 'versions unknown')" |
	tee -a "$table"
go build -o "$gopath/bin/benchratio" "$pkg/benchratio"
go build -o "$gopath/bin/gcload" "$pkg/gcload"

if [ "${SKIP_HIT:-}" != 1 ]; then
	echo
	echo "## Get hit: $ROUNDS run(s) of go test -bench . -cpu 1,2 -benchtime $BENCHTIME"
	out=$gopath/hit.txt
	: >"$out"
	for r in $(seq "$ROUNDS"); do
		echo "# run $r"
		go test -run '^$' -bench . -cpu 1,2 -benchmem -benchtime "$BENCHTIME" "$pkg" | tee -a "$out"
	done
	echo
	echo >>"$table"
	{
		echo "## Get hit"
		"$gopath/bin/benchratio" "$out"
	} | tee -a "$table"
fi

if [ "${SKIP_GC:-}" != 1 ]; then
	echo
	echo "## GC cost of a 1 GiB cache: gcload, one process per cache"
	for app in $GC_APPHEAP; do
		for c in edgecache groupcache; do
			"$gopath/bin/gcload" -cache "$c" -entries "$GC_ENTRIES" -appheap "$app" -duration "$GC_DURATION" -rate "$GC_RATE" \
				-json "$gopath/gc-$c-$app.json"
		done
	done
	printf '\n## GC cost of a 1 GiB cache\n' >>"$table"
	for app in $GC_APPHEAP; do
		echo
		"$gopath/bin/gcload" -report "$gopath/gc-edgecache-$app.json" "$gopath/gc-groupcache-$app.json"
	done | tee -a "$table"
fi
