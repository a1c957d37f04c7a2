package proxy

import (
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff for the upstream watch that one
// success does not reset: the delay returns to Initial only after Reset
// has passed without a failure (client-go's ExponentialBackoffManager with
// its resetDuration). A watch that reconnects and breaks again at once
// therefore keeps backing off instead of hammering the upstream.
type backoff struct {
	Initial time.Duration
	Max     time.Duration
	Reset   time.Duration
	Jitter  float64 // a delay grows by up to this fraction, at random
	now     func() time.Time

	next time.Duration // the delay before jitter of the next failure
	last time.Time     // when the last failure was
}

func newBackoff(initial, max, reset time.Duration) *backoff {
	return &backoff{Initial: initial, Max: max, Reset: reset, Jitter: 0.2, now: time.Now}
}

// Failure records a failure and returns how long to wait before retrying.
func (b *backoff) Failure() time.Duration {
	now := b.now()
	if b.next == 0 || (!b.last.IsZero() && now.Sub(b.last) >= b.Reset) {
		b.next = b.Initial
	}
	d := b.next
	if b.next *= 2; b.next > b.Max {
		b.next = b.Max
	}
	b.last = now
	if b.Jitter > 0 {
		d += time.Duration(rand.Float64() * b.Jitter * float64(d))
	}
	return d
}
