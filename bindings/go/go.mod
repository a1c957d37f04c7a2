module github.com/edgecache/edgecache/bindings/go

go 1.24
