package proxy

import "sync"

// windowEstimate follows how many events, and how many bytes of them, a
// watch cache's window holds: every event the reflector writes, dropped
// oldest first past the configured event or byte bound, reset by a
// relist. It is an upper bound: the library may also shrink the window
// toward its smallest capacity, which it does not report (a
// WatchCache.Stats in the binding would make this exact).
type windowEstimate struct {
	mu        sync.Mutex
	maxEvents int
	maxBytes  int64
	sizes     []int // a ring of event sizes
	head, n   int
	bytes     int64
}

func newWindowEstimate(maxEvents int, maxBytes int64) *windowEstimate {
	if maxEvents <= 0 {
		maxEvents = 102400
	}
	return &windowEstimate{maxEvents: maxEvents, maxBytes: maxBytes}
}

func (w *windowEstimate) add(size int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sizes) < w.maxEvents && w.n == len(w.sizes) {
		grow := len(w.sizes)*2 + 16
		if grow > w.maxEvents {
			grow = w.maxEvents
		}
		ns := make([]int, grow)
		for i := 0; i < w.n; i++ {
			ns[i] = w.sizes[(w.head+i)%len(w.sizes)]
		}
		w.sizes, w.head = ns, 0
	}
	if w.n == len(w.sizes) {
		w.dropOldest()
	}
	w.sizes[(w.head+w.n)%len(w.sizes)] = size
	w.n++
	w.bytes += int64(size)
	for w.maxBytes > 0 && w.bytes > w.maxBytes && w.n > 0 {
		w.dropOldest()
	}
}

func (w *windowEstimate) dropOldest() {
	w.bytes -= int64(w.sizes[w.head])
	w.head = (w.head + 1) % len(w.sizes)
	w.n--
}

func (w *windowEstimate) reset() {
	w.mu.Lock()
	w.sizes, w.head, w.n, w.bytes = nil, 0, 0, 0
	w.mu.Unlock()
}

func (w *windowEstimate) get() (events int, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.bytes
}
