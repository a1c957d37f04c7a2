package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// rvProbe learns the upstream's current resourceVersion for a consistent
// read (a LIST, GET or watch with resourceVersion ""): a LIST of the
// collection with limit=1 and resourceVersion "", which the apiserver
// answers from a quorum read without sending the collection.
//
// Concurrent readers share probes without giving up consistency: a reader
// may only use a probe that started after it arrived. The first reader
// starts one; readers arriving while it runs wait for the next, which
// starts when the running one ends and serves them all. A thousand
// concurrent consistent LISTs cost at most two upstream probes.
type rvProbe struct {
	fetch   func(context.Context) (uint64, error)
	timeout time.Duration

	mu      sync.Mutex
	running *probeRun // started; serves those who arrived before it started
	queued  *probeRun // starts when running ends
}

type probeRun struct {
	done chan struct{}
	rv   uint64
	err  error
}

// get returns an upstream resourceVersion read after the call began.
func (p *rvProbe) get(ctx context.Context) (uint64, error) {
	p.mu.Lock()
	var mine *probeRun
	if p.running == nil {
		mine = &probeRun{done: make(chan struct{})}
		p.running = mine
		go p.run(mine)
	} else {
		if p.queued == nil {
			p.queued = &probeRun{done: make(chan struct{})}
		}
		mine = p.queued
	}
	p.mu.Unlock()
	select {
	case <-mine.done:
		return mine.rv, mine.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run makes one probe, not under any one reader's context (a reader that
// leaves must not fail the others), then starts the queued one.
func (p *rvProbe) run(r *probeRun) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	r.rv, r.err = p.fetch(ctx)
	cancel()
	p.mu.Lock()
	close(r.done)
	p.running, p.queued = p.queued, nil
	if p.running != nil {
		go p.run(p.running)
	}
	p.mu.Unlock()
}

// currentRV is the probe of a collection: LIST path?limit=1.
func (u *upstream) currentRV(ctx context.Context, path string) (uint64, error) {
	resp, err := u.get(ctx, "list", path, url.Values{"limit": {"1"}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, &upstreamStatusError{code: resp.StatusCode, body: body}
	}
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return 0, err
	}
	rv, err := strconv.ParseUint(list.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("upstream list of %s: bad resourceVersion %q", path, list.Metadata.ResourceVersion)
	}
	return rv, nil
}

// upstreamStatusError is an upstream answer other than 200.
type upstreamStatusError struct {
	code int
	body []byte
}

func (e *upstreamStatusError) Error() string {
	return fmt.Sprintf("upstream answered %d: %s", e.code, snippet(e.body))
}

// status decodes the upstream's Status, when the body is one.
func (e *upstreamStatusError) status() *Status {
	var st Status
	if json.Unmarshal(e.body, &st) == nil && st.Kind == "Status" {
		return &st
	}
	return nil
}
