package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// discover reads the collection's group-version discovery document
// (GET /api/v1 or /apis/GROUP/VERSION) for its kind and whether it is
// namespaced, which a list's items do not tell when there are none.
func (r *reflector) discover(ctx context.Context) error {
	c := r.c
	resp, err := r.up.get(ctx, "discovery", c.Prefix, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery of %s answered %d: %s", c.Prefix, resp.StatusCode, snippet(body))
	}
	var doc struct {
		Resources []struct {
			Name       string `json:"name"`
			Namespaced bool   `json:"namespaced"`
			Kind       string `json:"kind"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("discovery of %s: %w", c.Prefix, err)
	}
	for _, res := range doc.Resources {
		if res.Name == c.Resource {
			c.setDiscovered(res.Kind, res.Namespaced)
			return nil
		}
	}
	return fmt.Errorf("discovery of %s: no resource %q", c.Prefix, c.Resource)
}

// snippet is the start of an upstream body, for a log line.
func snippet(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	return string(b)
}
