package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// The apiextensions-apiserver serves no core API, so nothing of it streams
// a pod's log or runs an exec. For what a CRD cannot show the harness adds
// a small core endpoint of its own, mounted in the same apiserver (same TLS,
// same authentication): every namespace has one pod, TestPod, with one
// container, and
//
//   - GET /api/v1/namespaces/NS/pods/TestPod answers the Pod (Running);
//   - GET .../TestPod/log streams numbered lines, chunked, one every
//     LogInterval; with follow=true until the client leaves, else LogLines
//     of them;
//   - GET or POST .../TestPod/exec upgrades to a WebSocket
//     (v5.channel.k8s.io, what kubectl >= 1.30 speaks) and answers the
//     command on stdout: "exec in NS/TestPod: ARG ARG...", then Success on
//     the error channel.
//
// /api and /api/v1 answer discovery for pods and those two subresources, so
// kubectl finds them. Server.OpenLogStreams counts the log streams being
// served, so a test can see one end when its client went away;
// Server.PodGets and Server.Execs count the other requests.
const (
	TestPod       = "logger"
	TestContainer = "main"
	LogLines      = 5
	LogInterval   = 50 * time.Millisecond
)

type corePods struct {
	openLogs atomic.Int64
	execs    atomic.Int64
	gets     atomic.Int64
}

// OpenLogStreams is how many pod log streams the apiserver is serving now.
func (s *Server) OpenLogStreams() int64 { return s.pods.openLogs.Load() }

// PodGets is how many GETs of the pod object the apiserver has answered.
func (s *Server) PodGets() int64 { return s.pods.gets.Load() }

// Execs is how many exec sessions the apiserver has answered.
func (s *Server) Execs() int64 { return s.pods.execs.Load() }

func (p *corePods) register(mux interface {
	Handle(string, http.Handler)
	HandlePrefix(string, http.Handler)
	Unregister(string)
}) {
	mux.Unregister("/api")
	mux.Handle("/api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, http.StatusOK, map[string]any{
			"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []any{map[string]string{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}},
		})
	}))
	mux.HandlePrefix("/api/", http.HandlerFunc(p.serve))
}

func (p *corePods) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// api v1 [namespaces NS pods NAME [SUB]]
	if len(parts) == 2 && parts[1] == "v1" {
		writeJSONBody(w, http.StatusOK, map[string]any{
			"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
			"resources": []any{
				map[string]any{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": []string{"get"}, "shortNames": []string{"po"}},
				map[string]any{"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": []string{"get"}},
				map[string]any{"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": []string{"create", "get"}},
			},
		})
		return
	}
	if len(parts) < 6 || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" {
		notFound(w, "the harness serves only pods/"+TestPod)
		return
	}
	ns, name, sub := parts[3], parts[5], ""
	if len(parts) == 7 {
		sub = parts[6]
	}
	if name != TestPod || len(parts) > 7 {
		notFound(w, fmt.Sprintf("pods %q not found", name))
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		p.gets.Add(1)
		writeJSONBody(w, http.StatusOK, testPod(ns))
	case sub == "log" && r.Method == http.MethodGet:
		p.serveLog(w, r, ns)
	case sub == "exec" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		p.serveExec(w, r, ns)
	default:
		notFound(w, "no such pod subresource or verb")
	}
}

func testPod(ns string) map[string]any {
	return map[string]any{
		"kind": "Pod", "apiVersion": "v1",
		"metadata": map[string]any{
			"name": TestPod, "namespace": ns, "uid": "00000000-0000-0000-0000-00000000e2e0",
			"resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z",
		},
		"spec":   map[string]any{"containers": []any{map[string]any{"name": TestContainer, "image": "edgecache/e2e"}}},
		"status": map[string]any{"phase": "Running"},
	}
}

func (p *corePods) serveLog(w http.ResponseWriter, r *http.Request, ns string) {
	p.openLogs.Add(1)
	defer p.openLogs.Add(-1)
	follow := r.URL.Query().Get("follow") == "true"
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	t := time.NewTicker(LogInterval)
	defer t.Stop()
	for i := 1; follow || i <= LogLines; i++ {
		if _, err := fmt.Fprintf(w, "%s/%s line %d\n", ns, TestPod, i); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
}

func (p *corePods) serveExec(w http.ResponseWriter, r *http.Request, ns string) {
	if !wsstream.IsWebSocketRequest(r) {
		writeJSONBody(w, http.StatusBadRequest, status(http.StatusBadRequest, "BadRequest", "the harness's exec speaks WebSocket only"))
		return
	}
	channels := []wsstream.ChannelType{
		wsstream.ReadChannel,  // stdin
		wsstream.WriteChannel, // stdout
		wsstream.WriteChannel, // stderr
		wsstream.WriteChannel, // error (a Status)
		wsstream.ReadChannel,  // resize
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"v5.channel.k8s.io": {Binary: true, Channels: channels},
		"v4.channel.k8s.io": {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(30 * time.Second)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		return // the handshake already answered
	}
	defer conn.Close()
	p.execs.Add(1)
	cmd := strings.Join(r.URL.Query()["command"], " ")
	_, _ = io.WriteString(streams[1], fmt.Sprintf("exec in %s/%s: %s\n", ns, TestPod, cmd))
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "status": "Success"})
	_, _ = streams[3].Write(b)
}

func status(code int, reason, msg string) map[string]any {
	return map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code}
}

func notFound(w http.ResponseWriter, msg string) {
	writeJSONBody(w, http.StatusNotFound, status(http.StatusNotFound, "NotFound", msg))
}

func writeJSONBody(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
