package proxy

import (
	"fmt"
	"net/http"
	"strings"
)

// serveHealthz: the process is up.
func (p *Proxy) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// serveReadyz: ready once every watched collection has been listed into
// its cache; until then 503 naming the collections still syncing.
func (p *Proxy) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	var waiting []string
	for _, c := range p.cols {
		if !c.refl.Synced() {
			line := c.Path()
			c.refl.mu.Lock()
			if c.refl.lastErr != nil {
				line += ": " + c.refl.lastErr.Error()
			}
			c.refl.mu.Unlock()
			waiting = append(waiting, line)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(waiting) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not synced:\n%s\n", strings.Join(waiting, "\n"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}
