package proxy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// collection is one watched resource: where it lives, what it is called,
// and the watch cache that serves it.
type collection struct {
	Group    string // "" for the core group
	Version  string
	Resource string // the plural, e.g. "pods"
	Prefix   string // "/api/v1" or "/apis/GROUP/VERSION"

	// Learned from discovery before the first list.
	mu         sync.RWMutex
	kind       string // e.g. "Pod"
	namespaced bool
	discovered bool

	fields []fieldSpec // the fields extracted into Object.Fields
	cache  *edgecache.WatchCache
	refl   *reflector
	probe  *rvProbe
}

// parseCollection reads one --resources entry: a collection path
// ("/api/v1/pods", "/apis/edge.example.com/v1/widgets") or
// GROUP/VERSION/RESOURCE ("apps/v1/deployments"; "v1/pods" or
// "core/v1/pods" for the core group).
func parseCollection(s string) (*collection, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	var parts []string
	switch {
	case strings.HasPrefix(s, "/api/"):
		parts = strings.Split(strings.TrimPrefix(s, "/api/"), "/")
		if len(parts) != 2 {
			return nil, fmt.Errorf("resource %q: want /api/VERSION/RESOURCE", s)
		}
		parts = append([]string{""}, parts...)
	case strings.HasPrefix(s, "/apis/"):
		parts = strings.Split(strings.TrimPrefix(s, "/apis/"), "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("resource %q: want /apis/GROUP/VERSION/RESOURCE", s)
		}
	default:
		parts = strings.Split(s, "/")
		switch len(parts) {
		case 2:
			parts = append([]string{""}, parts...)
		case 3:
			if parts[0] == "core" {
				parts[0] = ""
			}
		default:
			return nil, fmt.Errorf("resource %q: want a collection path or GROUP/VERSION/RESOURCE", s)
		}
	}
	for i, p := range parts {
		if (p == "" && i > 0) || strings.ContainsAny(p, "?# ") {
			return nil, fmt.Errorf("resource %q: empty or bad segment", s)
		}
	}
	c := &collection{Group: parts[0], Version: parts[1], Resource: parts[2]}
	if c.Group == "" {
		c.Prefix = "/api/" + c.Version
	} else {
		c.Prefix = "/apis/" + c.Group + "/" + c.Version
	}
	return c, nil
}

// Path is the collection's cluster-wide path, e.g. /api/v1/pods.
func (c *collection) Path() string { return c.Prefix + "/" + c.Resource }

// APIVersion is "v1" for the core group, else "GROUP/VERSION".
func (c *collection) APIVersion() string {
	if c.Group == "" {
		return c.Version
	}
	return c.Group + "/" + c.Version
}

func (c *collection) qualifiedResource() string {
	if c.Group == "" {
		return c.Resource
	}
	return c.Resource + "." + c.Group
}

// Kind and Namespaced are known after discovery.
func (c *collection) Kind() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.kind
}

func (c *collection) Namespaced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.namespaced
}

// mayBeNamespaced: namespaced, or not discovered yet (requests then go
// to the upstream anyway, as before the first list).
func (c *collection) mayBeNamespaced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.namespaced || !c.discovered
}

func (c *collection) setDiscovered(kind string, namespaced bool) {
	c.mu.Lock()
	c.kind, c.namespaced, c.discovered = kind, namespaced, true
	c.mu.Unlock()
}

// route is a request for a watched collection, parsed from its path.
type route struct {
	c           *collection
	namespace   string // "" for all namespaces (or a cluster-scoped resource)
	name        string // "" for the collection
	legacyWatch bool   // a /watch/ path
}

// matchRoute finds the watched collection a path addresses: the
// collection, all namespaces or one, one object, or their legacy /watch/
// forms. Subresources (pods/x/log) and unknown shapes match nothing.
func matchRoute(cols []*collection, path string) *route {
	path = strings.TrimSuffix(path, "/")
	for _, c := range cols {
		rest, ok := strings.CutPrefix(path, c.Prefix+"/")
		if !ok {
			continue
		}
		segs := strings.Split(rest, "/")
		rt := &route{c: c}
		if segs[0] == "watch" {
			rt.legacyWatch = true
			segs = segs[1:]
		}
		if len(segs) >= 3 && segs[0] == "namespaces" && c.mayBeNamespaced() {
			rt.namespace = segs[1]
			segs = segs[2:]
			if rt.namespace == "" {
				continue
			}
		}
		if len(segs) == 0 || segs[0] != c.Resource {
			continue
		}
		switch len(segs) {
		case 1:
		case 2:
			if segs[1] == "" {
				continue
			}
			if c.mayBeNamespaced() && rt.namespace == "" {
				continue // /api/v1/pods/NAME is no object path
			}
			rt.name = segs[1]
		default:
			continue // a subresource
		}
		return rt
	}
	return nil
}

// key is the watch cache's key of an object: "namespace/name", or "name"
// for a cluster-scoped object.
func objectKey(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
