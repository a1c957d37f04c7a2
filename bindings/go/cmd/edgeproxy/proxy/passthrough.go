package proxy

import (
	"net/http"
	"net/http/httputil"
)

// newPassthrough is the reverse proxy for everything the caches do not
// answer: a stream both ways (FlushInterval -1 flushes every write, so
// watches and followed logs arrive as they come), protocol upgrades
// spliced (WebSocket, SPDY: ReverseProxy handles 101 Switching Protocols),
// and the outgoing request bound to the client's context, so that a
// client that goes away ends the upstream request.
func newPassthrough(up *upstream, logf func(string, ...interface{})) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up.base)
			pr.Out.Header.Del("Authorization")
		},
		Transport:     up.rt,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			logf("edgeproxy: passthrough %s %s: %v", r.Method, r.URL.Path, err)
			writeStatus(w, badGateway("upstream: "+err.Error()))
		},
	}
}

func (p *Proxy) passthrough(w http.ResponseWriter, r *http.Request) {
	p.metrics.requests.WithLabelValues("passthrough").Inc()
	p.pass.ServeHTTP(w, r)
}
