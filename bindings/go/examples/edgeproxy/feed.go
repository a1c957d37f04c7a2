package edgeproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// feed keeps one collection's watch cache in step with the upstream, over
// one upstream watch at a time: it lists (Replace), then watches from the
// list's resourceVersion (Add, Update, Delete, Bookmark). A stream that
// ends is reopened from the last resourceVersion received; one that is too
// old (410) or fails otherwise leads to a new list.
type feed struct {
	p        *Proxy
	path     string // the collection, e.g. /api/v1/pods
	cache    *edgecache.WatchCache
	synced   chan struct{} // closed after the first list
	syncOnce sync.Once
}

// waitSynced waits up to d for the first list; it reports whether it came.
func (f *feed) waitSynced(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.synced:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

var errExpired = errors.New("the upstream expired our resourceVersion")

func (f *feed) run() {
	defer f.p.wg.Done()
	ctx := f.p.ctx
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rv, err := f.list(ctx)
		if err == nil {
			f.syncOnce.Do(func() { close(f.synced) })
			backoff = 100 * time.Millisecond
			err = f.follow(ctx, rv)
		}
		if ctx.Err() != nil {
			return
		}
		f.p.opts.Logf("edgeproxy: %s: %v; listing again in %v", f.path, err, backoff)
		if !sleep(ctx, backoff) {
			return
		}
		if backoff *= 2; backoff > 5*time.Second {
			backoff = 5 * time.Second
		}
	}
}

// list fetches the whole collection and replaces the cache's state with it.
func (f *feed) list(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, f.p.opts.FetchTimeout)
	defer cancel()
	resp, err := f.p.get(ctx, f.path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("list answered %d: %s", resp.StatusCode, body)
	}
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return 0, fmt.Errorf("list: %w", err)
	}
	rv, err := strconv.ParseUint(list.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("list: bad resourceVersion %q", list.Metadata.ResourceVersion)
	}
	objs := make([]edgecache.Object, 0, len(list.Items))
	for _, raw := range list.Items {
		obj, err := toObject(raw)
		if err != nil {
			return 0, fmt.Errorf("list: %w", err)
		}
		objs = append(objs, obj)
	}
	return rv, f.cache.Replace(objs, rv)
}

// follow watches from rv until the upstream expires it or fails; a stream
// that ends cleanly is reopened where it stopped.
func (f *feed) follow(ctx context.Context, rv uint64) error {
	for {
		start := time.Now()
		next, err := f.watch(ctx, rv)
		if err != nil {
			return err
		}
		// A stream that ended quickly with nothing in it: do not hammer.
		if next == rv && time.Since(start) < time.Second && !sleep(ctx, time.Second) {
			return ctx.Err()
		}
		rv = next
	}
}

// watch reads one upstream watch stream from rv into the cache and returns
// the resourceVersion it got to. A stream cut short is not an error.
func (f *feed) watch(ctx context.Context, rv uint64) (uint64, error) {
	resp, err := f.p.get(ctx, f.path+"?watch=1&allowWatchBookmarks=true&resourceVersion="+strconv.FormatUint(rv, 10))
	if err != nil {
		return rv, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusGone:
		return rv, errExpired
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return rv, fmt.Errorf("watch answered %d: %s", resp.StatusCode, body)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev struct {
			Type   edgecache.EventType `json:"type"`
			Object json.RawMessage     `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			var syntax *json.SyntaxError
			var typ *json.UnmarshalTypeError
			if errors.As(err, &syntax) || errors.As(err, &typ) {
				return rv, fmt.Errorf("watch: %w", err)
			}
			return rv, nil // EOF, or the connection broke: watch again from rv
		}
		switch ev.Type {
		case edgecache.Error:
			var st Status
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == http.StatusGone {
				return rv, errExpired
			}
			return rv, fmt.Errorf("watch: upstream error %d: %s", st.Code, st.Message)
		case edgecache.Bookmark:
			obj, err := toObject(ev.Object)
			if err != nil {
				return rv, fmt.Errorf("watch: bookmark: %w", err)
			}
			if obj.ResourceVersion > rv {
				if err := f.cache.Bookmark(obj.ResourceVersion); err != nil {
					return rv, err
				}
				rv = obj.ResourceVersion
			}
		case edgecache.Added, edgecache.Modified, edgecache.Deleted:
			obj, err := toObject(ev.Object)
			if err != nil {
				return rv, fmt.Errorf("watch: %w", err)
			}
			switch ev.Type {
			case edgecache.Added:
				err = f.cache.Add(obj)
			case edgecache.Modified:
				err = f.cache.Update(obj)
			default:
				err = f.cache.Delete(obj)
			}
			if err != nil {
				return rv, err
			}
			rv = obj.ResourceVersion
		default:
			return rv, fmt.Errorf("watch: unknown event type %q", ev.Type)
		}
	}
}

// toObject reads what the watch cache needs from an object's JSON: its key
// (namespace/name), resourceVersion, labels, and the fields a selector may
// name (metadata.name, metadata.namespace, spec.nodeName when present).
func toObject(raw json.RawMessage) (edgecache.Object, error) {
	var m struct {
		Metadata struct {
			Name            string            `json:"name"`
			Namespace       string            `json:"namespace"`
			ResourceVersion string            `json:"resourceVersion"`
			Labels          map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			NodeName *string `json:"nodeName"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return edgecache.Object{}, err
	}
	rv, err := strconv.ParseUint(m.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		return edgecache.Object{}, fmt.Errorf("object %q: bad resourceVersion %q", m.Metadata.Name, m.Metadata.ResourceVersion)
	}
	key := m.Metadata.Name
	if m.Metadata.Namespace != "" {
		key = m.Metadata.Namespace + "/" + key
	}
	// One line per event downstream: the object must hold no newline.
	var data bytes.Buffer
	if err := json.Compact(&data, raw); err != nil {
		return edgecache.Object{}, err
	}
	fields := map[string]string{"metadata.name": m.Metadata.Name, "metadata.namespace": m.Metadata.Namespace}
	if m.Spec.NodeName != nil {
		fields["spec.nodeName"] = *m.Spec.NodeName
	}
	return edgecache.Object{Key: key, Data: data.Bytes(), ResourceVersion: rv, Labels: m.Metadata.Labels, Fields: fields}, nil
}

// sleep waits d unless ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
