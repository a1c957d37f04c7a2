package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"runtime"
	"time"
)

// Cache is a byte-bounded LRU cache with no loader: Set and Get, with
// optional TTLs. Keys and values live in the library's memory, off the Go
// heap (the collector never scans them); Get returns a copy.
//
// The budget counts len(key)+len(value) per entry and is never exceeded;
// an entry larger than the whole budget is not kept (Set reports false).
// A Cache is safe for concurrent use. Clear drops what it holds; the
// library memory goes when the *Cache is collected.
type Cache struct {
	h *C.edgecache_cache
}

// NewCache makes a cache of at most maxBytes (0: keeps nothing). A
// negative maxBytes is ErrInvalidArgument.
func NewCache(maxBytes int64) (*Cache, error) {
	var h *C.edgecache_cache
	if err := call(func() C.edgecache_status { return C.edgecache_status(C.edgecache_cache_new(C.int64_t(maxBytes), &h)) }); err != nil {
		return nil, err
	}
	c := &Cache{h: h}
	runtime.SetFinalizer(c, func(c *Cache) { C.edgecache_cache_free(c.h) })
	return c, nil
}

func (c *Cache) ptr() *C.edgecache_cache {
	checkGC()
	return c.h
}

// Set stores a copy of value under key, replacing any entry for key. ttl 0
// means no expiry; a negative ttl is ErrInvalidArgument and stores
// nothing. It reports whether the entry was kept (false when it alone is
// larger than the budget; any older entry for key is removed then).
func (c *Cache) Set(key string, value []byte, ttl time.Duration) (bool, error) {
	if ttl < 0 {
		return false, &StatusError{Kind: ErrInvalidArgument, Message: "negative TTL"}
	}
	var stored C.bool
	err := call(func() C.edgecache_status {
		return C.edgecache_status(C.edgecache_cache_set(c.ptr(), strData(key), C.size_t(len(key)), bytesData(value), C.size_t(len(value)),
			C.uint64_t(ceilMS(ttl)), &stored))
	})
	runtime.KeepAlive(c)
	runtime.KeepAlive(value)
	return bool(stored), err
}

// Get returns a copy of the value for key and true, or nil and false.
func (c *Cache) Get(key string) ([]byte, bool) {
	var b C.edgecache_bytes
	s := C.edgecache_cache_get(c.ptr(), strData(key), C.size_t(len(key)), &b)
	runtime.KeepAlive(c)
	if s != C.EDGECACHE_OK {
		return nil, false
	}
	v := cloneBytes(cBytes(b))
	freeBytes(b)
	return v, true
}

// Remove drops key; it reports whether an entry was there.
func (c *Cache) Remove(key string) bool {
	var removed C.bool
	C.edgecache_cache_remove(c.ptr(), strData(key), C.size_t(len(key)), &removed)
	runtime.KeepAlive(c)
	return bool(removed)
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	var s C.edgecache_cache_stats
	C.edgecache_cache_get_stats(c.ptr(), &s)
	runtime.KeepAlive(c)
	return goCacheStats(&s)
}

// goCacheStats converts the library's cache counters.
func goCacheStats(s *C.edgecache_cache_stats) CacheStats {
	return CacheStats{Bytes: int64(s.bytes), Items: int64(s.items), Gets: int64(s.gets), Hits: int64(s.hits),
		Evictions: int64(s.evictions)}
}

// Clear drops every entry.
func (c *Cache) Clear() {
	C.edgecache_cache_clear(c.ptr())
	runtime.KeepAlive(c)
}
