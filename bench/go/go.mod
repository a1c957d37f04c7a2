// A module of its own so that the binding module's `go vet ./...` and
// `go test ./...` (module mode, no network) skip this directory: it imports
// groupcache and golang-lru, which bench.sh takes from Debian's packages in
// GOPATH mode, where this file is ignored.
module github.com/edgecache/edgecache/bindings/go/bench

go 1.19
