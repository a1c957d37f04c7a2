// Package throughproxy runs real clients — client-go informers and its
// pager, kubectl, the Python kubernetes client — through the edgeproxy
// program in front of a real apiserver (the apiserver package: etcd and
// apiextensions-apiserver serving the Widget CRD). Each test starts its own
// proxy process on the shared apiserver and works in a namespace of its own.
//
// The proxy binary comes from $EDGEPROXY_BIN; tests/e2e/run.sh builds it.
package throughproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/edgecache/edgecache/tests/e2e/apiserver"
	"github.com/edgecache/edgecache/tests/e2e/proxyproc"
)

var upstream *apiserver.Server

func TestMain(m *testing.M) {
	if os.Getenv("EDGEPROXY_BIN") == "" {
		fmt.Fprintln(os.Stderr, "EDGEPROXY_BIN is not set: run these tests through tests/e2e/run.sh (make test-e2e), which builds the proxy")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := apiserver.Start(ctx, apiserver.Options{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start apiserver: %v\n", err)
		os.Exit(1)
	}
	upstream = s
	code := m.Run()
	if code != 0 && s.LogPath != "" {
		fmt.Fprintf(os.Stderr, "the apiserver's log: %s\n", s.LogPath)
	}
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop apiserver: %v\n", err)
	}
	os.Exit(code)
}

// proxyProc is one edgeproxy process serving the widgets collection (all
// namespaces) from a watch cache.
type proxyProc struct {
	*proxyproc.Proc
}

// startProxy runs edgeproxy against the shared apiserver with extra flags,
// waits for /readyz, and stops it when t ends (logging its output when t
// failed).
func startProxy(t *testing.T, flags ...string) *proxyProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pp, err := proxyproc.Start(ctx, os.Getenv("EDGEPROXY_BIN"), t.TempDir(), upstream.KubeconfigPath, apiserver.ResourcePath(""), flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pp.Stop()
		if t.Failed() {
			t.Logf("edgeproxy %s output:\n%s", strings.Join(pp.Args, " "), pp.Tail(40))
		}
	})
	return &proxyProc{pp}
}

// config is a client-go config for the proxy.
func (p *proxyProc) config() *rest.Config {
	return &rest.Config{Host: p.URL, QPS: -1, UserAgent: "edgecache-e2e-through-proxy"}
}

// metric is Proc.Metric failing t on an error.
func (p *proxyProc) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, err := p.Metric(name, labels...)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return v
}

var widgetsLabel = `resource="` + apiserver.ResourcePath("") + `"`

func (p *proxyProc) counters(t *testing.T) proxyproc.Counters {
	t.Helper()
	c, err := p.Counters(apiserver.ResourcePath(""))
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return c
}

// namespace creates nothing (the CRD is namespaced and the apiserver has
// no namespace objects to check): it only names a fresh one for t.
func namespace(t *testing.T) string {
	return "ns-" + strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
}

var widget = apiserver.NewWidget

// direct is a dynamic client for the apiserver itself.
func direct(t *testing.T) dynamic.NamespaceableResourceInterface {
	t.Helper()
	return through(t, upstream.RESTConfig())
}

// through is a dynamic client for widgets at cfg.
func through(t *testing.T, cfg *rest.Config) dynamic.NamespaceableResourceInterface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dyn.Resource(apiserver.WidgetGVR)
}

// state lists ns on the apiserver itself (with opts' selectors): name ->
// resourceVersion.
func state(t *testing.T, ctx context.Context, ns string, opts metav1.ListOptions) (map[string]string, string) {
	t.Helper()
	l, err := direct(t).Namespace(ns).List(ctx, opts)
	if err != nil {
		t.Fatalf("list the apiserver: %v", err)
	}
	out := map[string]string{}
	for _, it := range l.Items {
		out[it.GetName()] = it.GetResourceVersion()
	}
	return out, l.GetResourceVersion()
}

// diff describes how got differs from want (name -> resourceVersion), "" if
// it does not.
func diff(got, want map[string]string) string {
	var b strings.Builder
	n := 0
	keys := make([]string, 0, len(want)+len(got))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		if gok == wok && g == w {
			continue
		}
		n++
		if n <= 10 {
			fmt.Fprintf(&b, "  %s: got %q (present %v), want %q (present %v)\n", k, g, gok, w, wok)
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d/%d differ:\n%s", n, len(got), len(want), b.String())
}

// eventually polls cond every 50 ms for up to d; it reports whether cond
// became true.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recorder is an http.RoundTripper wrapper that logs a client's requests
// and can end or hold its watches, the way a load balancer or a flaky link
// would.
type recorder struct {
	next http.RoundTripper

	mu       sync.Mutex
	requests []recorded
	bodies   map[*watchBody]struct{}
	held     chan struct{} // non-nil: new watches wait for it to close
}

type recorded struct {
	Method string
	Path   string
	Query  url.Values
	Start  []byte // the first bytes of a watch's answer (up to 4 KiB)
	body   *watchBody
}

func (r recorded) isWatch() bool {
	return r.Query.Get("watch") == "true" || r.Query.Get("watch") == "1"
}

// isStreamingList is a watch asking for the initial state as events.
func (r recorded) isStreamingList() bool {
	return r.isWatch() && r.Query.Get("sendInitialEvents") == "true"
}

// isList is a plain LIST of the widgets collection.
func (r recorded) isList() bool {
	return r.Method == http.MethodGet && !r.isWatch() && strings.HasSuffix(r.Path, "/"+apiserver.Plural)
}

func newRecorder() *recorder { return &recorder{bodies: map[*watchBody]struct{}{}} }

// wrap is the rest.Config.WrapTransport function.
func (rec *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	rec.next = rt
	return rec
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r := recorded{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query()}
	if r.isWatch() {
		rec.mu.Lock()
		held := rec.held
		rec.mu.Unlock()
		if held != nil {
			select {
			case <-held:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(2 * time.Minute): // bounded, even if a test forgets
			}
		}
	}
	resp, err := rec.next.RoundTrip(req)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err == nil && r.isWatch() {
		wb := &watchBody{ReadCloser: resp.Body, rec: rec}
		resp.Body = wb
		rec.bodies[wb] = struct{}{}
		r.body = wb
	}
	rec.requests = append(rec.requests, r)
	return resp, err
}

// log returns the requests so far, each watch with the start of its answer.
func (rec *recorder) log() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := slices.Clone(rec.requests)
	for i := range out {
		if out[i].body != nil {
			out[i].Start = out[i].body.start()
		}
	}
	return out
}

func (rec *recorder) count(pred func(recorded) bool) int {
	n := 0
	for _, r := range rec.log() {
		if pred(r) {
			n++
		}
	}
	return n
}

// hold makes new watches wait until the returned function is called.
func (rec *recorder) hold() (release func()) {
	ch := make(chan struct{})
	rec.mu.Lock()
	rec.held = ch
	rec.mu.Unlock()
	return func() {
		rec.mu.Lock()
		rec.held = nil
		rec.mu.Unlock()
		close(ch)
	}
}

// openWatches is how many watch answers are still being read.
func (rec *recorder) openWatches() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.bodies)
}

// endWatches ends every open watch cleanly: its reader sees io.EOF, as
// when a server ends a watch (client-go then watches again from its last
// resourceVersion, without listing).
func (rec *recorder) endWatches() {
	rec.mu.Lock()
	bodies := make([]*watchBody, 0, len(rec.bodies))
	for b := range rec.bodies {
		bodies = append(bodies, b)
	}
	rec.mu.Unlock()
	for _, b := range bodies {
		b.end()
	}
}

type watchBody struct {
	io.ReadCloser
	rec *recorder

	mu    sync.Mutex
	ended bool
	head  []byte
}

func (b *watchBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return 0, io.EOF
	}
	if room := 4096 - len(b.head); room > 0 {
		b.head = append(b.head, p[:min(n, room)]...)
	}
	return n, err
}

func (b *watchBody) end() {
	b.mu.Lock()
	b.ended = true
	b.mu.Unlock()
	_ = b.ReadCloser.Close() // wakes a blocked Read, which then reports EOF
}

func (b *watchBody) start() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.head)
}

func (b *watchBody) Close() error {
	b.rec.mu.Lock()
	delete(b.rec.bodies, b)
	b.rec.mu.Unlock()
	return b.ReadCloser.Close()
}
