package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// fieldSpec is one field a field selector may name: where it is in the
// object's JSON, and its value when absent (the apiserver's field sets
// spell a missing string "" and a missing bool "false").
type fieldSpec struct {
	Name    string
	Path    []string
	Default string
}

func field(name, def string, path ...string) fieldSpec {
	if len(path) == 0 {
		path = strings.Split(name, ".")
	}
	return fieldSpec{Name: name, Path: path, Default: def}
}

// builtinFields are the apiserver's selectable fields of the core
// resources (beyond metadata.name and metadata.namespace), as its
// registries' GetAttrs / field label conversions define them.
var builtinFields = map[string][]fieldSpec{
	"pods": {
		field("spec.nodeName", ""), field("spec.restartPolicy", ""), field("spec.schedulerName", ""),
		field("spec.serviceAccountName", ""), field("spec.hostNetwork", "false"),
		field("status.phase", ""), field("status.podIP", ""), field("status.nominatedNodeName", ""),
	},
	"nodes":      {field("spec.unschedulable", "false")},
	"namespaces": {field("status.phase", "")},
	"secrets":    {field("type", "")},
	"events": {
		field("involvedObject.kind", ""), field("involvedObject.namespace", ""),
		field("involvedObject.name", ""), field("involvedObject.uid", ""),
		field("involvedObject.apiVersion", ""), field("involvedObject.resourceVersion", ""),
		field("involvedObject.fieldPath", ""), field("reason", ""), field("reportingComponent", ""),
		field("source", "", "source", "component"), field("type", ""),
	},
}

// fieldsFor is what a collection extracts: metadata.name, and
// metadata.namespace when namespaced (decided before discovery: declared
// for every collection, "" for cluster-scoped objects), plus the built-in
// fields of core resources.
func fieldsFor(c *collection) []fieldSpec {
	fs := []fieldSpec{field("metadata.name", ""), field("metadata.namespace", "")}
	if c.Group == "" {
		fs = append(fs, builtinFields[c.Resource]...)
	}
	return fs
}

func fieldNames(fs []fieldSpec) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// objectMeta is what every object tells about itself.
type objectMeta struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels"`
	} `json:"metadata"`
}

// toObject turns an upstream object's JSON into what the watch cache
// stores: its key, compact bytes (one line per watch event downstream)
// with kind and apiVersion set (list items from the apiserver lack them),
// its resourceVersion, labels and extracted fields.
func (c *collection) toObject(raw []byte) (edgecache.Object, error) {
	var m objectMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return edgecache.Object{}, err
	}
	rv, err := strconv.ParseUint(m.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		return edgecache.Object{}, fmt.Errorf("object %q: bad resourceVersion %q", m.Metadata.Name, m.Metadata.ResourceVersion)
	}
	var data bytes.Buffer
	data.Grow(len(raw) + 64)
	if m.Kind == "" || m.APIVersion == "" {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return edgecache.Object{}, err
		}
		b := compact.Bytes()
		data.WriteString(`{"kind":`)
		data.WriteString(strconv.Quote(c.Kind()))
		data.WriteString(`,"apiVersion":`)
		data.WriteString(strconv.Quote(c.APIVersion()))
		if len(b) > 2 {
			data.WriteByte(',')
		}
		data.Write(b[1:])
	} else if err := json.Compact(&data, raw); err != nil {
		return edgecache.Object{}, err
	}
	fields := make(map[string]string, len(c.fields))
	var top map[string]json.RawMessage
	for _, f := range c.fields {
		switch f.Name {
		case "metadata.name":
			fields[f.Name] = m.Metadata.Name
		case "metadata.namespace":
			fields[f.Name] = m.Metadata.Namespace
		default:
			if top == nil {
				if err := json.Unmarshal(raw, &top); err != nil {
					return edgecache.Object{}, err
				}
			}
			fields[f.Name] = lookupField(top, f)
		}
	}
	return edgecache.Object{
		Key:             objectKey(m.Metadata.Namespace, m.Metadata.Name),
		Data:            data.Bytes(),
		ResourceVersion: rv,
		Labels:          m.Metadata.Labels,
		Fields:          fields,
	}, nil
}

// lookupField reads a scalar at f.Path as the apiserver formats it.
func lookupField(top map[string]json.RawMessage, f fieldSpec) string {
	cur := top
	for i, p := range f.Path {
		raw, ok := cur[p]
		if !ok {
			return f.Default
		}
		if i == len(f.Path)-1 {
			var v interface{}
			if json.Unmarshal(raw, &v) != nil || v == nil {
				return f.Default
			}
			switch v := v.(type) {
			case string:
				return v
			case bool:
				return strconv.FormatBool(v)
			case float64:
				return strings.TrimSpace(string(raw))
			}
			return f.Default
		}
		var next map[string]json.RawMessage
		if json.Unmarshal(raw, &next) != nil {
			return f.Default
		}
		cur = next
	}
	return f.Default
}

// unsupportedField returns the first field a field selector names that the
// collection does not extract ("" if none): the apiserver answers 400
// "field label not supported" for it, and so does the proxy, rather than
// match nothing.
func unsupportedField(c *collection, selector string) string {
	for _, term := range splitEscaped(selector, ',') {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		key := term
		for _, op := range []string{"!=", "==", "="} {
			if i := strings.Index(term, op); i >= 0 {
				key = term[:i]
				break
			}
		}
		key = strings.TrimSpace(key)
		known := false
		for _, f := range c.fields {
			if f.Name == key {
				known = true
				break
			}
		}
		if !known {
			return key
		}
	}
	return ""
}

// splitEscaped splits s at sep, except where sep is escaped by a
// backslash (field selector values may escape ',', '=' and '!').
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
