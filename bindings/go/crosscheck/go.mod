module github.com/edgecache/edgecache/bindings/go/crosscheck

go 1.19
