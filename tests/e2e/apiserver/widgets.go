package apiserver

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// NewWidget is a Widget named ns/name with labels and spec {color: red,
// size}.
func NewWidget(ns, name string, labels map[string]string, size int) *unstructured.Unstructured {
	l := map[string]any{}
	for k, v := range labels {
		l[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/" + Version,
		"kind":       Kind,
		"metadata":   map[string]any{"namespace": ns, "name": name, "labels": l},
		"spec":       map[string]any{"color": "red", "size": int64(size)},
	}}
}

// CreateWidgets creates w-0000 ... w-(n-1) (size i, label app=edge) in ns
// through widgets with 8 concurrent writers, and returns the first error.
func CreateWidgets(ctx context.Context, widgets dynamic.NamespaceableResourceInterface, ns string, n int) error {
	c := widgets.Namespace(ns)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("w-%04d", i)
				if _, err := c.Create(ctx, NewWidget(ns, name, map[string]string{"app": "edge"}, i), metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("create %s/%s: %w", ns, name, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}
