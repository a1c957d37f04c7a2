package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

// The smoke test proves the harness serves what the proxy's tests rely on,
// against one Server: CRUD and the status subresource, paginated lists,
// the streaming list (sendInitialEvents) with its initial-events-end
// bookmark, 410 Gone for history that is no longer there, kubectl through
// the kubeconfig, and an apiserver restart over the same etcd.
func TestSmoke(t *testing.T) {
	s := StartT(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dyn, err := dynamic.NewForConfig(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	widgets := dyn.Resource(s.GVR())
	def := widgets.Namespace("default")

	t.Run("crud", func(t *testing.T) {
		for i, ns := range []string{"default", "default", "default", "default", "edge"} {
			w := newWidget(ns, fmt.Sprintf("w-%d", i), "red", i)
			if _, err := widgets.Namespace(ns).Create(ctx, w, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s/%s: %v", ns, w.GetName(), err)
			}
		}
		// Update the spec: generation moves, the resourceVersion too.
		w0, err := def.Get(ctx, "w-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(w0.Object, "blue", "spec", "color"); err != nil {
			t.Fatal(err)
		}
		up, err := def.Update(ctx, w0, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if up.GetGeneration() != 2 || up.GetResourceVersion() == w0.GetResourceVersion() {
			t.Errorf("after update: generation %d, rv %s (was %s)", up.GetGeneration(), up.GetResourceVersion(), w0.GetResourceVersion())
		}
		// The status subresource: status changes, spec changes are ignored.
		if err := unstructured.SetNestedField(up.Object, "Ready", "status", "phase"); err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(up.Object, "green", "spec", "color"); err != nil {
			t.Fatal(err)
		}
		st, err := def.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status: %v", err)
		}
		phase, _, _ := unstructured.NestedString(st.Object, "status", "phase")
		color, _, _ := unstructured.NestedString(st.Object, "spec", "color")
		if phase != "Ready" || color != "blue" || st.GetGeneration() != 2 {
			t.Errorf("after status update: phase %q color %q generation %d, want Ready blue 2", phase, color, st.GetGeneration())
		}
		if err := def.Delete(ctx, "w-3", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := def.Get(ctx, "w-3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get after delete: %v, want NotFound", err)
		}
		// spec.color is a selectable field: the apiserver filters on it.
		blue, err := widgets.List(ctx, metav1.ListOptions{FieldSelector: "spec.color=blue"})
		if err != nil {
			t.Fatalf("field selector: %v", err)
		}
		if got := names(blue.Items); !slices.Equal(got, []string{"default/w-0"}) {
			t.Errorf("spec.color=blue selects %v", got)
		}
	})

	want := []string{"default/w-0", "default/w-1", "default/w-2", "edge/w-4"}

	t.Run("paginated list", func(t *testing.T) {
		var got []string
		opts := metav1.ListOptions{Limit: 2}
		for page := 1; ; page++ {
			if page > 10 {
				t.Fatal("more than 10 pages")
			}
			list, err := widgets.List(ctx, opts)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if len(list.Items) > 2 {
				t.Fatalf("page %d has %d items, limit 2", page, len(list.Items))
			}
			got = append(got, names(list.Items)...)
			if list.GetContinue() == "" {
				if page != 2 {
					t.Errorf("%d pages, want 2", page)
				}
				break
			}
			if rem := list.GetRemainingItemCount(); page == 1 && (rem == nil || *rem != 2) {
				t.Errorf("remainingItemCount %v on page 1, want 2", rem)
			}
			opts.Continue = list.GetContinue()
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages hold %v, want %v", got, want)
		}
	})

	t.Run("streaming list", func(t *testing.T) {
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		w, err := widgets.Watch(wctx, metav1.ListOptions{
			SendInitialEvents:    ptr.To(true),
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
			AllowWatchBookmarks:  true,
		})
		if err != nil {
			t.Fatalf("watch with sendInitialEvents: %v", err)
		}
		defer w.Stop()
		var initial []string
		var endRV string
		for endRV == "" {
			ev := next(t, wctx, w)
			obj, _ := ev.Object.(*unstructured.Unstructured)
			switch {
			case ev.Type == watch.Added:
				initial = append(initial, obj.GetNamespace()+"/"+obj.GetName())
			case ev.Type == watch.Bookmark && obj.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true":
				endRV = obj.GetResourceVersion()
			case ev.Type == watch.Bookmark:
			default:
				t.Fatalf("before the initial-events-end bookmark: %s %v", ev.Type, ev.Object)
			}
		}
		slices.Sort(initial)
		if !slices.Equal(initial, want) {
			t.Errorf("initial events %v, want %v", initial, want)
		}
		if endRV == "" || endRV == "0" {
			t.Errorf("initial-events-end bookmark has resourceVersion %q", endRV)
		}
		// The same watch then carries new events.
		if _, err := def.Create(ctx, newWidget("default", "w-5", "red", 5), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for {
			ev := next(t, wctx, w)
			if ev.Type == watch.Bookmark {
				continue
			}
			obj := ev.Object.(*unstructured.Unstructured)
			if ev.Type != watch.Added || obj.GetName() != "w-5" {
				t.Fatalf("after the bookmark: %s %s, want ADDED w-5", ev.Type, obj.GetName())
			}
			break
		}
		want = append(want[:3:3], "default/w-5", "edge/w-4")
	})

	t.Run("410 gone", func(t *testing.T) {
		first, err := widgets.List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := def.Create(ctx, newWidget("default", fmt.Sprintf("x-%d", i), "grey", i), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		rev, err := s.CompactEtcd(ctx)
		if err != nil {
			t.Fatalf("compact: %v", err)
		}
		t.Logf("etcd compacted at revision %d", rev)

		// A LIST at an exact resourceVersion that etcd no longer has.
		// Revision 2 predates the watch cache (it started once the CRD was
		// served), so the apiserver asks etcd, which compacted it. (A
		// compacted RV the watch cache still holds is served from the
		// cache's snapshots, without error.)
		_, err = widgets.List(ctx, metav1.ListOptions{ResourceVersion: "2", ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		expectGone(t, "exact list at compacted RV 2", err)

		// A continue token from before the compaction.
		_, err = widgets.List(ctx, metav1.ListOptions{Limit: 1, Continue: first.GetContinue()})
		if err != nil {
			expectGone(t, "continue from before compaction", err)
		} else {
			t.Logf("continue from before compaction: still served (from the watch cache's snapshots)")
		}

		// A WATCH from a resourceVersion older than the watch cache holds:
		// the apiserver answers 200 with one ERROR event carrying Status 410.
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		w, err := widgets.Watch(wctx, metav1.ListOptions{ResourceVersion: "1"})
		if err != nil {
			expectGone(t, "watch from RV 1", err)
			return
		}
		defer w.Stop()
		ev := next(t, wctx, w)
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok {
			t.Fatalf("watch from RV 1: %s %T, want ERROR with a Status", ev.Type, ev.Object)
		}
		if st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
			t.Errorf("watch from RV 1: Status code %d reason %s (%s), want 410 Expired", st.Code, st.Reason, st.Message)
		}
		t.Logf("watch from RV 1: %d %s: %s", st.Code, st.Reason, st.Message)
		for i := 0; i < 3; i++ {
			if err := def.Delete(ctx, fmt.Sprintf("x-%d", i), metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("kubectl", func(t *testing.T) {
		out := kubectl(t, ctx, s, "get", "widgets", "-A")
		checkTable(t, out, want)
		// Short name and category resolve through discovery as well.
		if out := kubectl(t, ctx, s, "get", ShortName, "-n", "edge", "-o", "name"); strings.TrimSpace(out) != "widget.edge.example.com/w-4" {
			t.Errorf("kubectl get %s -n edge -o name: %q", ShortName, out)
		}
	})

	t.Run("restart", func(t *testing.T) {
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		before, err := widgets.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := def.Watch(wctx, metav1.ListOptions{AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if err := s.StopAPIServer(); err != nil {
			t.Fatalf("stop apiserver: %v", err)
		}
		// The open watch ends (its channel closes, maybe after an error).
		for open := true; open; {
			select {
			case _, open = <-w.ResultChan():
			case <-wctx.Done():
				t.Fatal("watch still open after the apiserver stopped")
			}
		}
		_, err = def.List(ctx, metav1.ListOptions{})
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("list while stopped: %v, want connection refused", err)
		}
		if err := s.StartAPIServer(ctx); err != nil {
			t.Fatalf("start apiserver again: %v", err)
		}
		list, err := widgets.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list after restart: %v", err)
		}
		if got := names(list.Items); !slices.Equal(got, want) {
			t.Errorf("after restart: %v, want %v", got, want)
		}
		// The same kubeconfig still works: same address, same certificates.
		checkTable(t, kubectl(t, ctx, s, "get", "widgets", "-A"), want)

		// A watch resumes from a resourceVersion seen before the restart
		// (nothing was written meanwhile): no 410, and new events arrive.
		w2, err := def.Watch(wctx, metav1.ListOptions{ResourceVersion: before.GetResourceVersion(), AllowWatchBookmarks: true})
		if err != nil {
			t.Fatalf("watch from RV %s after restart: %v", before.GetResourceVersion(), err)
		}
		defer w2.Stop()
		if _, err := def.Create(ctx, newWidget("default", "w-6", "red", 6), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for {
			ev := next(t, wctx, w2)
			if ev.Type == watch.Bookmark {
				continue
			}
			if obj, ok := ev.Object.(*unstructured.Unstructured); !ok || ev.Type != watch.Added || obj.GetName() != "w-6" {
				t.Fatalf("watch from RV %s after restart: %s %v, want ADDED w-6", before.GetResourceVersion(), ev.Type, ev.Object)
			}
			break
		}
	})
}

func newWidget(ns, name, color string, size int) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/" + Version,
		"kind":       Kind,
		"metadata": map[string]any{
			"namespace": ns,
			"name":      name,
			"labels":    map[string]any{"app": "edge", "size": fmt.Sprint(size)},
		},
		"spec": map[string]any{"color": color, "size": int64(size)},
	}}
}

func names(items []unstructured.Unstructured) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.GetNamespace()+"/"+it.GetName())
	}
	return out
}

// next returns the watch's next event, failing on timeout or a closed watch.
func next(t *testing.T, ctx context.Context, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-ctx.Done():
		t.Fatalf("no watch event: %v", ctx.Err())
	}
	panic("unreachable")
}

func expectGone(t *testing.T, what string, err error) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Errorf("%s: %v, want a 410 Status", what, err)
		return
	}
	st := status.Status()
	if st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
		t.Errorf("%s: Status %d %s (%s), want 410 Expired", what, st.Code, st.Reason, st.Message)
		return
	}
	t.Logf("%s: %d %s: %s", what, st.Code, st.Reason, st.Message)
}

// kubectl runs kubectl against s with its own discovery cache.
func kubectl(t *testing.T, ctx context.Context, s *Server, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is not on PATH (every machine of this project has kubectl 1.32): %v", err)
	}
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", s.KubeconfigPath, "--cache-dir", t.TempDir(), "--request-timeout", "20s"}, args...)
	cmd := exec.CommandContext(kctx, bin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkTable checks `kubectl get widgets -A` output: the CRD's printer
// columns from the server-side Table, and one row per wanted widget.
func checkTable(t *testing.T, out string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"NAMESPACE", "NAME", "COLOR", "SIZE", "PHASE", "AGE"}) {
		t.Errorf("kubectl header %v\n%s", got, out)
	}
	var rows []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			t.Errorf("kubectl row %q", l)
			continue
		}
		rows = append(rows, f[0]+"/"+f[1])
	}
	if !slices.Equal(rows, want) {
		t.Errorf("kubectl rows %v, want %v\n%s", rows, want, out)
	}
}
