// Package fakeapi is a tiny stand-in for a kube-apiserver, enough to drive
// the edge proxy in tests and in the demo: one resource (pods), LIST, GET,
// and watch streams of JSON lines that resume from a resourceVersion, with
// a configurable LIST latency and a count of the requests it served.
//
// Routes (GET only):
//
//	/api/v1/pods                          LIST, or watch with ?watch=1
//	/api/v1/namespaces/NS/pods            the same, one namespace
//	/api/v1/namespaces/NS/pods/NAME       GET one pod
//
// Query parameters: watch (1 or true), resourceVersion (where a watch
// starts; empty or 0 is the current state as ADDED events, then changes),
// labelSelector (equality only: a=b,c=d), timeoutSeconds (ends a watch).
// A watch from a resourceVersion older than the server's history gets an
// ERROR event holding a 410 Expired Status, as from the real apiserver.
package fakeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// ListLatency delays every LIST answer, as a slow link to a faraway
	// control plane would.
	ListLatency time.Duration
	// GetLatency delays every single-object GET answer.
	GetLatency time.Duration
	// History is how many changes the server keeps for watches to resume
	// from (default 10000); a watch from before them gets 410 Expired.
	History int
	// WatchBuffer is how many events a watch stream may fall behind before
	// the server ends it (default 4096).
	WatchBuffer int
}

// Change is one recorded change to a pod: what a watch reports.
type Change struct {
	Type            string // Added, Modified or Deleted
	Key             string // namespace/name
	ResourceVersion uint64
}

// Counts is the number of requests served, by kind.
type Counts struct {
	Lists, Gets, Watches int64
}

// Server is the fake apiserver; it is an http.Handler. Its methods are safe
// for concurrent use.
type Server struct {
	opts                 Options
	lists, gets, watches atomic.Int64

	mu       sync.Mutex
	rv       uint64
	pods     map[string]Pod // by namespace/name
	history  []record       // oldest first, at most opts.History
	watchers map[*watcher]struct{}
	closed   bool

	churnMu sync.Mutex // serializes Churn
	churned int        // pods created by Churn so far, for their names
}

// record is a change with what watchers need to filter and send it.
type record struct {
	change    Change
	namespace string
	labels    map[string]string
	line      []byte // the encoded WatchEvent, newline included
}

// watcher is one open watch stream. Its channel is closed, under Server.mu,
// by whoever removes it from Server.watchers.
type watcher struct {
	namespace string
	selector  map[string]string
	ch        chan []byte
}

// New returns a Server with no pods at resourceVersion 0.
func New(opts Options) *Server {
	if opts.History <= 0 {
		opts.History = 10000
	}
	if opts.WatchBuffer <= 0 {
		opts.WatchBuffer = 4096
	}
	return &Server{opts: opts, pods: map[string]Pod{}, watchers: map[*watcher]struct{}{}}
}

// Counts returns how many LISTs, GETs and watches the server has served.
func (s *Server) Counts() Counts {
	return Counts{Lists: s.lists.Load(), Gets: s.gets.Load(), Watches: s.watches.Load()}
}

// ResourceVersion returns the resourceVersion of the latest change.
func (s *Server) ResourceVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv
}

// ChangesSince returns the recorded changes after rv, oldest first.
func (s *Server) ChangesSince(rv uint64) []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Change
	for _, r := range s.history {
		if r.change.ResourceVersion > rv {
			out = append(out, r.change)
		}
	}
	return out
}

// Close ends every open watch stream; later watches end at once. Call it
// before closing the HTTP server, which waits for its handlers.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for w := range s.watchers {
		delete(s.watchers, w)
		close(w.ch)
	}
}

// CreatePod adds a pod and returns the resourceVersion of the change.
func (s *Server) CreatePod(namespace, name string, labels map[string]string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := namespace + "/" + name
	if _, ok := s.pods[key]; ok {
		return 0, fmt.Errorf("pod %s already exists", key)
	}
	copied := make(map[string]string, len(labels))
	for k, v := range labels {
		copied[k] = v
	}
	s.rv++
	p := Pod{
		Kind: "Pod", APIVersion: "v1",
		Metadata: ObjectMeta{Name: name, Namespace: namespace, UID: fmt.Sprintf("uid-%d", s.rv), Generation: 1, Labels: copied},
		Spec:     PodSpec{NodeName: fmt.Sprintf("node-%d", s.rv%3), Image: "registry.example/app:1"},
		Status:   PodStatus{Phase: "Pending"},
	}
	s.recordLocked(Added, key, p)
	return s.rv, nil
}

// UpdatePod changes a pod (its generation and phase) and returns the
// resourceVersion of the change.
func (s *Server) UpdatePod(namespace, name string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := namespace + "/" + name
	p, ok := s.pods[key]
	if !ok {
		return 0, fmt.Errorf("pod %s not found", key)
	}
	s.rv++
	p.Metadata.Generation++
	if p.Status.Phase == "Running" {
		p.Status.Phase = "Pending"
	} else {
		p.Status.Phase = "Running"
	}
	s.recordLocked(Modified, key, p)
	return s.rv, nil
}

// DeletePod removes a pod and returns the resourceVersion of the change.
func (s *Server) DeletePod(namespace, name string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := namespace + "/" + name
	p, ok := s.pods[key]
	if !ok {
		return 0, fmt.Errorf("pod %s not found", key)
	}
	s.rv++
	s.recordLocked(Deleted, key, p)
	return s.rv, nil
}

// Seed creates n pods named pod-0000, pod-0001, ... in namespace, labelled
// app=web or app=db in turn, and returns the resourceVersion afterwards.
func (s *Server) Seed(namespace string, n int) (uint64, error) {
	var rv uint64
	for i := 0; i < n; i++ {
		app := "web"
		if i%2 == 1 {
			app = "db"
		}
		var err error
		if rv, err = s.CreatePod(namespace, fmt.Sprintf("pod-%04d", i), map[string]string{"app": app}); err != nil {
			return 0, err
		}
	}
	return rv, nil
}

// Churn makes n changes in namespace "default": it creates a pod labelled
// app=churn, updates it, deletes it, and starts over with the next name.
// It returns the changes in order. A pod left alive at the end stays.
func (s *Server) Churn(n int) ([]Change, error) {
	s.churnMu.Lock()
	defer s.churnMu.Unlock()
	out := make([]Change, 0, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("churn-%d", s.churned)
		step := i % 3
		if step == 2 || i == n-1 {
			s.churned++ // the next change starts a new pod
		}
		var (
			rv  uint64
			err error
			typ string
		)
		switch step {
		case 0:
			typ = Added
			rv, err = s.CreatePod("default", name, map[string]string{"app": "churn"})
		case 1:
			typ = Modified
			rv, err = s.UpdatePod("default", name)
		default:
			typ = Deleted
			rv, err = s.DeletePod("default", name)
		}
		if err != nil {
			return out, err
		}
		out = append(out, Change{Type: typ, Key: "default/" + name, ResourceVersion: rv})
	}
	return out, nil
}

// recordLocked stores the change at s.rv, keeps it in the history and sends
// it to the matching watchers. A watcher whose buffer is full is ended.
func (s *Server) recordLocked(typ, key string, p Pod) {
	p.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	if typ == Deleted {
		delete(s.pods, key)
	} else {
		s.pods[key] = p
	}
	obj, err := json.Marshal(p)
	if err != nil {
		panic(err) // a Pod always encodes
	}
	line, err := json.Marshal(WatchEvent{Type: typ, Object: obj})
	if err != nil {
		panic(err)
	}
	r := record{
		change:    Change{Type: typ, Key: key, ResourceVersion: s.rv},
		namespace: p.Metadata.Namespace,
		labels:    p.Metadata.Labels,
		line:      append(line, '\n'),
	}
	if len(s.history) == s.opts.History {
		copy(s.history, s.history[1:])
		s.history = s.history[:len(s.history)-1]
	}
	s.history = append(s.history, r)
	for w := range s.watchers {
		if !w.matches(r.namespace, r.labels) {
			continue
		}
		select {
		case w.ch <- r.line:
		default: // too slow: end the stream; the client resumes from its last event
			delete(s.watchers, w)
			close(w.ch)
		}
	}
}

func (w *watcher) matches(namespace string, labels map[string]string) bool {
	if w.namespace != "" && w.namespace != namespace {
		return false
	}
	for k, v := range w.selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ServeHTTP answers the routes in the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeStatus(w, failure(http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is served here"))
		return
	}
	namespace, name, ok := route(r.URL.Path)
	if !ok {
		writeStatus(w, failure(http.StatusNotFound, "NotFound", "the server could not find the requested resource"))
		return
	}
	q := r.URL.Query()
	selector, err := ParseLabelSelector(q.Get("labelSelector"))
	if err != nil {
		writeStatus(w, failure(http.StatusBadRequest, "BadRequest", err.Error()))
		return
	}
	watch, _ := strconv.ParseBool(q.Get("watch"))
	switch {
	case name != "":
		s.serveGet(w, r, namespace+"/"+name, name)
	case watch:
		s.serveWatch(w, r, namespace, selector)
	default:
		s.serveList(w, r, namespace, selector)
	}
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, key, name string) {
	s.gets.Add(1)
	s.mu.Lock()
	p, ok := s.pods[key]
	s.mu.Unlock()
	if !sleep(r.Context(), s.opts.GetLatency) {
		return
	}
	if !ok {
		writeStatus(w, failure(http.StatusNotFound, "NotFound", fmt.Sprintf("pods %q not found", name)))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, namespace string, selector map[string]string) {
	s.lists.Add(1)
	list := PodList{Kind: "PodList", APIVersion: "v1", Items: []Pod{}}
	probe := watcher{namespace: namespace, selector: selector}
	s.mu.Lock()
	list.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	for _, p := range s.pods {
		if probe.matches(p.Metadata.Namespace, p.Metadata.Labels) {
			list.Items = append(list.Items, p)
		}
	}
	s.mu.Unlock()
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i].Metadata, list.Items[j].Metadata
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	if !sleep(r.Context(), s.opts.ListLatency) {
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, namespace string, selector map[string]string) {
	s.watches.Add(1)
	q := r.URL.Query()
	var rv uint64
	if v := q.Get("resourceVersion"); v != "" {
		var err error
		if rv, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeStatus(w, failure(http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid resourceVersion %q", v)))
			return
		}
	}
	ctx := r.Context()
	if v := q.Get("timeoutSeconds"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 {
			writeStatus(w, failure(http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid timeoutSeconds %q", v)))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
		defer cancel()
	}
	wt := &watcher{namespace: namespace, selector: selector, ch: make(chan []byte, s.opts.WatchBuffer)}
	backlog, expired := s.startWatch(wt, rv)
	defer s.stopWatch(wt)

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	if expired != nil {
		obj, _ := json.Marshal(expired)
		line, _ := json.Marshal(WatchEvent{Type: Error, Object: obj})
		_, _ = w.Write(append(line, '\n'))
		flush()
		return
	}
	for _, line := range backlog {
		if _, err := w.Write(line); err != nil {
			return
		}
	}
	flush()
	for {
		select {
		case <-ctx.Done():
			return
		case line, ok := <-wt.ch:
			if !ok {
				return
			}
			if _, err := w.Write(line); err != nil {
				return
			}
			if len(wt.ch) == 0 {
				flush()
			}
		}
	}
}

// startWatch registers wt and returns the lines it must send first: the
// changes after rv, or for rv 0 the current pods as ADDED events. It returns
// a 410 Status instead when rv is older than the history.
func (s *Server) startWatch(wt *watcher, rv uint64) ([][]byte, *Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(wt.ch)
		return nil, nil
	}
	var backlog [][]byte
	if rv == 0 {
		keys := make([]string, 0, len(s.pods))
		for k := range s.pods {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := s.pods[k]
			if !wt.matches(p.Metadata.Namespace, p.Metadata.Labels) {
				continue
			}
			obj, _ := json.Marshal(p)
			line, _ := json.Marshal(WatchEvent{Type: Added, Object: obj})
			backlog = append(backlog, append(line, '\n'))
		}
	} else {
		if len(s.history) > 0 && rv+1 < s.history[0].change.ResourceVersion {
			st := failure(http.StatusGone, "Expired", fmt.Sprintf("too old resource version: %d (%d)", rv, s.history[0].change.ResourceVersion-1))
			close(wt.ch)
			return nil, &st
		}
		for _, r := range s.history {
			if r.change.ResourceVersion > rv && wt.matches(r.namespace, r.labels) {
				backlog = append(backlog, r.line)
			}
		}
	}
	s.watchers[wt] = struct{}{}
	return backlog, nil
}

func (s *Server) stopWatch(wt *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.watchers[wt]; ok {
		delete(s.watchers, wt)
		close(wt.ch)
	}
}

// route splits a request path into namespace and pod name; ok is false for
// paths the server does not serve.
func route(path string) (namespace, name string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "pods":
		return "", "", true
	case len(parts) == 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces" && parts[4] == "pods":
		return parts[3], "", parts[3] != ""
	case len(parts) == 6 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces" && parts[4] == "pods":
		return parts[3], parts[5], parts[3] != "" && parts[5] != ""
	}
	return "", "", false
}

// ParseLabelSelector parses an equality label selector, "a=b,c=d" (also
// "a==b"). The empty string selects everything.
func ParseLabelSelector(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, term := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(term, "=")
		v = strings.TrimPrefix(v, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, "!") {
			return nil, fmt.Errorf("unsupported label selector term %q: only key=value", term)
		}
		out[k] = v
	}
	return out, nil
}

// sleep waits d unless ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeStatus(w http.ResponseWriter, st Status) {
	writeJSON(w, st.Code, st)
}
