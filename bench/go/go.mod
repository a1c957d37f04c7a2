// A module of its own so that no module-mode tool (go vet ./..., go test
// ./..., gopls; no network) takes this directory for part of another module:
// it imports groupcache and golang-lru, which bench.sh takes from Debian's
// packages in GOPATH mode, where this file is ignored. The binding comes
// from the same GOPATH (bench.sh links bindings/go/edgecache into it), so
// there is no require or replace here.
module github.com/edgecache/edgecache/bench/go

go 1.19
