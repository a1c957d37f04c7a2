//go:build edgecache_gccheck

package edgecache

const gcEveryCall = true
