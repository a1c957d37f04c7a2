package apiserver

import (
	"fmt"
	"net"
	"net/url"
	"sync"

	noopoteltrace "go.opentelemetry.io/otel/trace/noop"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/rest"
)

// noServices resolves no Service: there is no core API (and so no Service)
// behind this apiserver. Only CRD conversion webhooks would ask, and the
// Widget CRD has none.
type noServices struct{}

func (noServices) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return nil, fmt.Errorf("no core API: cannot resolve service %s/%s:%d", namespace, name, port)
}

func noWebhookAuth(loopback *rest.Config) webhook.AuthenticationInfoResolverWrapper {
	return webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, loopback, noopoteltrace.NewTracerProvider())
}

// connTracker is the apiserver's listener, remembering every connection it
// accepted so that StopAPIServer can drop them all at once, as a crashed or
// killed apiserver would. (A graceful shutdown of the generic apiserver keeps
// open watches until its 60 s shutdown timeout.)
type connTracker struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newConnTracker(ln net.Listener) *connTracker {
	return &connTracker{Listener: ln, conns: map[net.Conn]struct{}{}}
}

func (l *connTracker) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.closed {
			// Dropping: refuse by closing at once. The listener itself is
			// closed by the apiserver's own shutdown (closing it here would
			// make the apiserver panic).
			l.mu.Unlock()
			c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, owner: l}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return tc, nil
	}
}

// dropAll closes every open connection, and every later one at once.
func (l *connTracker) dropAll() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[net.Conn]struct{}{}
	l.mu.Unlock()
	for c := range conns {
		if tc, ok := c.(*trackedConn); ok {
			_ = tc.Conn.Close()
		}
	}
}

type trackedConn struct {
	net.Conn
	owner *connTracker
	once  sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.conns, c)
		c.owner.mu.Unlock()
	})
	return c.Conn.Close()
}
