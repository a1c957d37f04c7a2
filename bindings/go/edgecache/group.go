package edgecache

/*
#include "shims.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// A Getter loads the value for a key on a miss (groupcache's Getter). It is
// called once per key for every caller that asks while the load runs, with
// the context of the caller that leads the load. It must set the value
// through dest and return nil, or return an error: every caller sharing the
// load gets that same error value, and nothing is cached. A panic is
// recovered and reaches every caller as a *PanicError.
type Getter interface {
	Get(ctx context.Context, key string, dest Sink) error
}

// GetterFunc adapts a function to Getter.
type GetterFunc func(ctx context.Context, key string, dest Sink) error

// Get calls f.
func (f GetterFunc) Get(ctx context.Context, key string, dest Sink) error { return f(ctx, key, dest) }

// CacheType selects a group's main or hot cache in CacheStats.
type CacheType int

const (
	// MainCache holds the keys this process owns and loaded itself.
	MainCache CacheType = 1
	// HotCache holds popular keys owned by peers.
	HotCache CacheType = 2
)

// Stats are a group's counters (groupcache's Stats, as a snapshot).
type Stats struct {
	Gets           int64 // every Get
	CacheHits      int64 // Gets answered from cache
	PeerLoads      int64 // values fetched from a peer
	PeerErrors     int64 // failed peer fetches
	Loads          int64 // Gets that missed and joined or started a load
	LoadsDeduped   int64 // loads that ran after deduplication
	LocalLoads     int64 // successful getter calls
	LocalLoadErrs  int64 // failed getter calls
	ServerRequests int64 // gets on behalf of peers
}

// CacheStats are the counters of one cache of a group.
type CacheStats struct {
	Bytes     int64 // sum of len(key)+len(value) over the entries held
	Items     int64 // entries held
	Gets      int64 // lookups
	Hits      int64 // lookups that found an entry
	Evictions int64 // entries removed to make room or because their TTL ran out
}

// GroupOptions are the settings beyond groupcache's.
type GroupOptions struct {
	// TTL bounds how long a loaded value is served; 0 means no expiry.
	TTL time.Duration
}

// Group is a named, loader-backed cache (groupcache's Group): a byte-bounded
// main cache plus a hot cache behind a Getter, with concurrent misses on one
// key collapsed into one load. The values live in the library's memory, not
// on the Go heap, so the garbage collector never scans them.
//
// A Group is safe for concurrent use. It lives while registered: Close ends
// it (unregisters the name and frees the cached values); the handle's few
// bytes go when the *Group is collected.
type Group struct {
	name string
	h    *C.edgecache_group

	// One goroutine per key calls into the library on a miss; the others
	// park on its call here instead of blocking an OS thread each inside
	// the library (10,000 blocked cgo calls exhaust Go's thread limit).
	mu    sync.Mutex
	calls map[string]*missCall
}

// missCall is a miss in progress on the Go side.
type missCall struct {
	done chan struct{}
	val  []byte // the value (owned by the call; callers copy it out)
	err  error
}

// errRetry tells a parked caller that the caller it waited for gave up
// because of its own context, not because the load failed: try again.
var errRetry = errors.New("edgecache: retry")

var registry = struct {
	sync.Mutex
	groups map[string]*Group
}{groups: map[string]*Group{}}

// groupState is what the library's callbacks reach through a cgo.Handle.
type groupState struct {
	getter Getter
}

// NewGroup creates and registers a group with groupcache's signature:
// cacheBytes bounds main + hot together (0 disables caching). It panics, as
// groupcache does, on a nil getter, a name already registered or a negative
// cacheBytes; NewGroupWithOptions returns those as errors.
func NewGroup(name string, cacheBytes int64, getter Getter) *Group {
	g, err := NewGroupWithOptions(name, cacheBytes, getter, GroupOptions{})
	if err != nil {
		panic(err)
	}
	return g
}

// NewGroupWithOptions creates and registers a group. Errors: ErrDuplicateGroup
// for a taken name, ErrInvalidArgument for a nil getter or negative sizes.
func NewGroupWithOptions(name string, cacheBytes int64, getter Getter, opts GroupOptions) (*Group, error) {
	if getter == nil {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "nil Getter"}
	}
	if opts.TTL < 0 {
		return nil, &StatusError{Kind: ErrInvalidArgument, Message: "negative TTL"}
	}
	ttl := uint64(0)
	if opts.TTL > 0 {
		ttl = uint64((opts.TTL + time.Millisecond - 1) / time.Millisecond)
	}
	registry.Lock()
	defer registry.Unlock()
	h := cgo.NewHandle(&groupState{getter: getter})
	var out *C.edgecache_group
	err := call(func() C.edgecache_status {
		return C.ec_group_new(strData(name), C.size_t(len(name)), C.int64_t(cacheBytes), C.uint64_t(ttl), C.uintptr_t(h), &out)
	})
	if err != nil {
		// The library calls release only for a group it created.
		h.Delete()
		return nil, err
	}
	g := &Group{name: name, h: out, calls: map[string]*missCall{}}
	runtime.SetFinalizer(g, func(g *Group) { C.edgecache_group_free(g.h) })
	registry.groups[name] = g
	return g, nil
}

// GetGroup returns the group registered under name by NewGroup, or nil.
func GetGroup(name string) *Group {
	registry.Lock()
	defer registry.Unlock()
	return registry.groups[name]
}

// ptr is the library handle; in edgecache_gccheck builds it collects first.
func (g *Group) ptr() *C.edgecache_group {
	checkGC()
	return g.h
}

// handle is the library handle as an integer (C memory: it needs no cgo
// pointer check, which would allocate on every call).
func (g *Group) handle() C.uintptr_t {
	checkGC()
	return C.uintptr_t(uintptr(unsafe.Pointer(g.h)))
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// hitPool holds the buffers a hit is copied into: pooled, and one heap
// object so the cgo call checks one pointer and allocates nothing.
var hitPool = sync.Pool{New: func() interface{} { return new(C.ec_hit) }}

// Get fills dest with the value for key: from the main or hot cache, else
// loaded once for every caller that asks at the same time.
//
// ctx reaches the Getter when this call leads the load. A caller waiting for
// another's load stops when ctx is done (returning ctx.Err(); the load goes
// on). Errors: the getter's own error value, a *PanicError, ErrClosed after
// Close, or ctx.Err().
func (g *Group) Get(ctx context.Context, key string, dest Sink) error {
	if dest == nil {
		return &StatusError{Kind: ErrInvalidArgument, Message: "nil dest Sink"}
	}
	hit := hitPool.Get().(*C.ec_hit)
	s := C.ec_group_get_cached(g.handle(), strData(key), C.size_t(len(key)), hit)
	runtime.KeepAlive(g)
	if s == C.EDGECACHE_OK {
		var err error
		if hit.big.data == nil {
			err = dest.SetBytes(unsafe.Slice((*byte)(unsafe.Pointer(&hit.buf[0])), int(hit.n)))
		} else {
			err = dest.SetBytes(cBytes(hit.big))
			freeBytes(hit.big)
			hit.big = C.edgecache_bytes{}
		}
		hitPool.Put(hit)
		return err
	}
	hitPool.Put(hit)
	if s != C.EDGECACHE_NOT_FOUND {
		return statusError(s, "")
	}
	return g.load(ctx, key, dest)
}

// loadResult holds a load's out-parameters (on the heap: they cross cgo).
type loadResult struct {
	out C.edgecache_bytes
	err *C.edgecache_error
}

// load runs the miss path: join the Go-side call for key, or become the one
// goroutine that calls the library for it.
func (g *Group) load(ctx context.Context, key string, dest Sink) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.mu.Lock()
		if c, ok := g.calls[key]; ok {
			g.mu.Unlock()
			// Counted as the get that joins a load, as the library would.
			C.edgecache_group_count_joined(g.ptr())
			runtime.KeepAlive(g)
			select {
			case <-c.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if c.err == errRetry {
				continue
			}
			if c.err != nil {
				return c.err
			}
			return dest.SetBytes(c.val)
		}
		c := &missCall{done: make(chan struct{})}
		g.calls[key] = c
		g.mu.Unlock()

		c.val, c.err = g.loadC(ctx, key)
		err := c.err
		if err != nil && ctx.Err() != nil && err == ctx.Err() {
			// This caller's context ended; the others still want the value.
			c.err = errRetry
		}
		close(c.done)
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		if err != nil {
			return err
		}
		return dest.SetBytes(c.val)
	}
}

// loadC gets key from the library, which loads it (this goroutine runs the
// getter) or waits for a load another language's caller runs.
func (g *Group) loadC(ctx context.Context, key string) ([]byte, error) {
	timeout := uint64(C.EDGECACHE_WAIT_FOREVER)
	d, hasDeadline := ctx.Deadline()
	if hasDeadline {
		left := time.Until(d)
		if left < 0 {
			left = 0
		}
		timeout = uint64((left + time.Millisecond - 1) / time.Millisecond)
	}
	h := cgo.NewHandle(&callCtx{ctx: ctx})
	defer h.Delete()
	poll := C.int(0)
	if ctx.Done() != nil {
		poll = 1
	}
	r := new(loadResult)
	s := C.ec_group_get_with(g.ptr(), strData(key), C.size_t(len(key)), C.uint64_t(timeout), poll, C.uintptr_t(h),
		&r.out, &r.err)
	runtime.KeepAlive(g)
	if s == C.EDGECACHE_OK {
		v := cloneBytes(cBytes(r.out))
		freeBytes(r.out)
		return v, nil
	}
	if s == C.EDGECACHE_TIMEOUT || s == C.EDGECACHE_CANCELLED {
		// The context's own timer may not have fired yet at its deadline.
		err := ctx.Err()
		if err == nil && hasDeadline && !time.Now().Before(d) {
			err = context.DeadlineExceeded
		}
		if err != nil {
			if r.err != nil {
				C.edgecache_error_free(r.err)
			}
			return nil, err
		}
	}
	return nil, takeError(s, r.err)
}

// Remove drops key from the main and hot caches and detaches any load in
// flight for it (that load will not store its value); the next Get loads
// again. It reports whether an entry was removed.
func (g *Group) Remove(key string) bool {
	// Later misses start a new call; the detached one ends for its callers.
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
	var removed C.bool
	C.edgecache_group_remove(g.ptr(), strData(key), C.size_t(len(key)), &removed)
	runtime.KeepAlive(g)
	return bool(removed)
}

// Stats returns a snapshot of the group's counters.
func (g *Group) Stats() Stats {
	var s C.edgecache_group_stats
	C.edgecache_group_get_stats(g.ptr(), &s)
	runtime.KeepAlive(g)
	return Stats{
		Gets: int64(s.gets), CacheHits: int64(s.cache_hits), PeerLoads: int64(s.peer_loads),
		PeerErrors: int64(s.peer_errors), Loads: int64(s.loads), LoadsDeduped: int64(s.loads_deduped),
		LocalLoads: int64(s.local_loads), LocalLoadErrs: int64(s.local_load_errs),
		ServerRequests: int64(s.server_requests),
	}
}

// CacheStats returns the counters of the main or hot cache; an unknown
// which gives zeroes.
func (g *Group) CacheStats(which CacheType) CacheStats {
	var s C.edgecache_cache_stats
	st := C.edgecache_group_get_cache_stats(g.ptr(), C.uint32_t(which), &s)
	runtime.KeepAlive(g)
	if st != C.EDGECACHE_OK {
		return CacheStats{}
	}
	return CacheStats{Bytes: int64(s.bytes), Items: int64(s.items), Gets: int64(s.gets), Hits: int64(s.hits),
		Evictions: int64(s.evictions)}
}

// Close ends the group: unregisters its name (GetGroup no longer finds it,
// and the name can be used again), frees the cached values, and makes later
// Gets fail with ErrClosed. Callers waiting on a load still get its result.
// Idempotent and safe to call concurrently with anything.
func (g *Group) Close() {
	registry.Lock()
	if registry.groups[g.name] == g {
		delete(registry.groups, g.name)
	}
	registry.Unlock()
	C.edgecache_group_close(g.ptr())
	runtime.KeepAlive(g)
}
