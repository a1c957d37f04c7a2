package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// upstream is the apiserver the proxy sits in front of: a base URL and the
// round trippers that carry its credentials (from a kubeconfig through
// rest.TransportFor, or any http.RoundTripper in tests).
type upstream struct {
	base    *url.URL
	rt      http.RoundTripper // every request, counted by verb
	client  *http.Client
	metrics *metrics
}

type verbKey struct{}

// withVerb labels the upstream request made under ctx for the
// upstream-requests metric ("list", "watch", "get", ...).
func withVerb(ctx context.Context, verb string) context.Context {
	return context.WithValue(ctx, verbKey{}, verb)
}

// countingTransport counts upstream requests by verb: the label set by
// withVerb, else one derived from the method and query.
type countingTransport struct {
	next    http.RoundTripper
	metrics *metrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, _ := req.Context().Value(verbKey{}).(string)
	if verb == "" {
		verb = verbOf(req)
	}
	t.metrics.upstreamRequests.WithLabelValues(verb).Inc()
	return t.next.RoundTrip(req)
}

func verbOf(req *http.Request) string {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		q := req.URL.Query()
		if isTrue(q.Get("watch")) || strings.Contains(req.URL.Path, "/watch/") {
			return "watch"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(req.Method)
}

// upgradeSplit sends protocol upgrades (WebSocket, SPDY) through an
// HTTP/1.1-only transport: an upgrade cannot ride an HTTP/2 connection,
// and Go only forces HTTP/1.1 by itself for WebSocket.
type upgradeSplit struct {
	normal, upgrade http.RoundTripper
}

func (t *upgradeSplit) RoundTrip(req *http.Request) (*http.Response, error) {
	if isUpgrade(req) && t.upgrade != nil {
		return t.upgrade.RoundTrip(req)
	}
	return t.normal.RoundTrip(req)
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// urlFor is the upstream URL of a path and raw query.
func (u *upstream) urlFor(path, rawQuery string) string {
	out := *u.base
	out.Path = strings.TrimSuffix(u.base.Path, "/") + path
	out.RawPath = ""
	out.RawQuery = rawQuery
	return out.String()
}

// get sends a GET for path?query upstream under ctx, labelled verb.
func (u *upstream) get(ctx context.Context, verb, path string, query url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(withVerb(ctx, verb), http.MethodGet, u.urlFor(path, query.Encode()), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return u.client.Do(req)
}

func isTrue(s string) bool { return s == "1" || strings.EqualFold(s, "true") }
