package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// discover reads the collection's group-version discovery document
// (GET /api/v1 or /apis/GROUP/VERSION) for its kind and whether it is
// namespaced, which a list's items do not tell when there are none; for a
// collection of an API group, also the selectable fields of its custom
// resource definition (selectableFields).
func (r *reflector) discover(ctx context.Context) ([]fieldSpec, error) {
	if err := r.discoverKind(ctx); err != nil {
		return nil, err
	}
	if r.c.Group == "" {
		return nil, nil
	}
	return r.selectableFields(ctx)
}

func (r *reflector) discoverKind(ctx context.Context) error {
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

// selectableFields reads the collection's CustomResourceDefinition
// (RESOURCE.GROUP) for the selectable fields of its version: field
// selectors may name them as on the apiserver ("spec.color=red" for
// jsonPath .spec.color). A group without a definition (404: a built-in
// group such as apps) has none. A definition the proxy may not read (403)
// or cannot parse is logged and skipped: the collection is still served,
// and a field selector on other fields is passed to the upstream
// (unknownCustomField). Other failures (the upstream away, 401) are
// retried with discovery.
func (r *reflector) selectableFields(ctx context.Context) ([]fieldSpec, error) {
	c := r.c
	path := "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + c.Resource + "." + c.Group
	resp, err := r.up.get(ctx, "discovery", path, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode == http.StatusForbidden:
		r.logf("edgeproxy: %s: may not read its CustomResourceDefinition: field selectors on its selectable fields go to the upstream", c.Path())
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s answered %d: %s", path, resp.StatusCode, snippet(body))
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name             string `json:"name"`
				SelectableFields []struct {
					JSONPath string `json:"jsonPath"`
				} `json:"selectableFields"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(body, &crd); err != nil {
		r.logf("edgeproxy: %s: its CustomResourceDefinition does not parse (%v): no selectable fields", c.Path(), err)
		return nil, nil
	}
	var out []fieldSpec
	for _, v := range crd.Spec.Versions {
		if v.Name != c.Version {
			continue
		}
		for _, sf := range v.SelectableFields {
			name := strings.TrimPrefix(sf.JSONPath, ".")
			// The apiserver allows simple paths to a scalar (no [] or
			// quoting); anything else is not ours to interpret.
			if name == "" || strings.ContainsAny(name, "[]'\"*") {
				r.logf("edgeproxy: %s: selectable field %q not supported by the proxy", c.Path(), sf.JSONPath)
				continue
			}
			out = append(out, field(name, ""))
		}
	}
	return out, nil
}

// snippet is the start of an upstream body, for a log line.
func snippet(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	return string(b)
}
