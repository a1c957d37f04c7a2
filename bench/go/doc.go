// Package bench times the Go binding next to the caches a Go program would
// otherwise use: groupcache's Group and hashicorp's golang-lru, taken from
// Debian's packages in GOPATH mode. Run it through bench/go/bench.sh (or
// `make bench-go`), which prints the ratios; see docs/benchmarks.md,
// section 5.
//
// hit_test.go: a cache hit (Group.Get / Cache.Get) at -cpu 1,2.
// gcload: the garbage collector's cost of a process caching about 1 GiB.
// benchratio: reads `go test -bench` output and prints the ratio table.
package bench
