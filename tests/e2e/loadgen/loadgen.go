// Package loadgen drives LIST load at a Kubernetes-style collection over
// HTTP, for `make demo` and the proxy benchmark: concurrent clients, each
// sending GETs one after another, with every answer checked.
package loadgen

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result is the latencies of one run, sorted, and its wall time.
type Result struct {
	Latencies []time.Duration
	Wall      time.Duration
}

// Percentile is the p-th percentile latency (p in 0..100).
func (r Result) Percentile(p int) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(len(r.Latencies)-1, len(r.Latencies)*p/100)]
}

// PerSecond is requests per second of wall time.
func (r Result) PerSecond() float64 { return float64(len(r.Latencies)) / r.Wall.Seconds() }

// Lists has workers goroutines send each GETs of url one after another,
// all starting at once; every answer must be 200 with want items (want < 0:
// any number). It returns at the first failure.
func Lists(hc *http.Client, url string, workers, each, want int) (Result, error) {
	lat := make([]time.Duration, workers*each)
	errs := make(chan error, workers)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-gate
			for i := 0; i < each; i++ {
				start := time.Now()
				resp, err := hc.Get(url)
				if err != nil {
					errs <- err
					return
				}
				var l struct {
					Items []json.RawMessage `json:"items"`
				}
				err = json.NewDecoder(resp.Body).Decode(&l)
				resp.Body.Close()
				lat[w*each+i] = time.Since(start)
				if err != nil || resp.StatusCode != http.StatusOK || (want >= 0 && len(l.Items) != want) {
					errs <- fmt.Errorf("%s: %d items, %v", resp.Status, len(l.Items), err)
					return
				}
			}
		}(w)
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return Result{}, err
	}
	slices.Sort(lat)
	return Result{Latencies: lat, Wall: wall}, nil
}
