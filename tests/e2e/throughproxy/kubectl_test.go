package throughproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgecache/edgecache/tests/e2e/apiserver"
)

// kubectlCmd is kubectl against the proxy, with its own discovery cache.
func kubectlCmd(ctx context.Context, t *testing.T, p *proxyProc, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is not on PATH (every machine of this project has kubectl 1.32): %v", err)
	}
	full := append([]string{"--kubeconfig", p.Kubeconfig, "--cache-dir", t.TempDir(), "--request-timeout", "0"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	return cmd
}

func kubectlOut(t *testing.T, ctx context.Context, p *proxyProc, args ...string) string {
	t.Helper()
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := kubectlCmd(kctx, t, p, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tableRows is the first column of kubectl's table output below the
// header, which it checks is want.
func tableRows(t *testing.T, out string, header []string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, header) {
		t.Errorf("kubectl header %v, want %v\n%s", got, header, out)
	}
	var rows []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			rows = append(rows, f[0])
		}
	}
	return rows
}

// kubectl through the proxy: get with the server-side Table (the CRD's
// printer columns), get in chunks, get -w, logs and logs -f, exec.
func TestKubectlThroughTheProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t)
	seed(t, ctx, ns, 7)
	p := startProxy(t)
	names := []string{}
	for i := 0; i < 7; i++ {
		names = append(names, fmt.Sprintf("w-%04d", i))
	}

	t.Run("get: server-side Table", func(t *testing.T) {
		out := kubectlOut(t, ctx, p, "get", apiserver.Plural, "-n", ns)
		if rows := tableRows(t, out, []string{"NAME", "COLOR", "SIZE", "PHASE", "AGE"}); !slices.Equal(rows, names) {
			t.Errorf("rows %v, want %v\n%s", rows, names, out)
		}
	})

	t.Run("get --chunk-size: pages from the watch cache", func(t *testing.T) {
		hits := p.metric(t, "edgeproxy_watch_cache_hits_total", widgetsLabel, `verb="list"`)
		out := kubectlOut(t, ctx, p, "get", apiserver.Plural, "-n", ns, "--chunk-size=2", "-o", "name")
		var got []string
		for _, l := range strings.Fields(out) {
			got = append(got, l[strings.LastIndex(l, "/")+1:])
		}
		if !slices.Equal(got, names) {
			t.Errorf("kubectl get --chunk-size=2: %v, want %v\n%s", got, names, out)
		}
		if served := p.metric(t, "edgeproxy_watch_cache_hits_total", widgetsLabel, `verb="list"`) - hits; served != 4 {
			t.Errorf("%v pages served from the watch cache, want 4 (7 widgets in pages of 2)", served)
		}
	})

	t.Run("get -w", func(t *testing.T) {
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		cmd := kubectlCmd(wctx, t, p, "get", apiserver.Plural, "-n", ns, "-w", "-o", "name")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		lines := make(chan string, 64)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		expect := func(want string) {
			t.Helper()
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("kubectl get -w ended before %q", want)
					}
					if strings.HasSuffix(l, "/"+want) {
						return
					}
				case <-wctx.Done():
					t.Fatalf("kubectl get -w: no line for %s", want)
				}
			}
		}
		for _, n := range names {
			expect(n)
		}
		if _, err := direct(t).Namespace(ns).Create(ctx, widget(ns, "watched", nil, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		expect("watched")
	})

	t.Run("logs", func(t *testing.T) {
		out := kubectlOut(t, ctx, p, "logs", "-n", ns, apiserver.TestPod)
		var want []string
		for i := 1; i <= apiserver.LogLines; i++ {
			want = append(want, fmt.Sprintf("%s/%s line %d", ns, apiserver.TestPod, i))
		}
		if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
			t.Errorf("kubectl logs: %q, want %q", got, want)
		}
	})

	t.Run("logs -f streams and ends upstream when kubectl leaves", func(t *testing.T) {
		lctx, lcancel := context.WithTimeout(ctx, 60*time.Second)
		defer lcancel()
		cmd := kubectlCmd(lctx, t, p, "logs", "-f", "-n", ns, apiserver.TestPod)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		start := time.Now()
		for i := 1; i <= 10; i++ {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("line %d of logs -f: %v", i, err)
			}
			if want := fmt.Sprintf("%s/%s line %d\n", ns, apiserver.TestPod, i); l != want {
				t.Fatalf("logs -f line %d: %q, want %q", i, l, want)
			}
		}
		// Ten lines 50 ms apart arrived as they were written, not buffered
		// whole (a follow never ends).
		t.Logf("10 lines of logs -f in %v", time.Since(start).Round(time.Millisecond))
		if upstream.OpenLogStreams() != 1 {
			t.Errorf("%d log streams open on the apiserver, want 1", upstream.OpenLogStreams())
		}
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, r)
		_ = cmd.Wait()
		if !eventually(10*time.Second, func() bool { return upstream.OpenLogStreams() == 0 }) {
			t.Errorf("the apiserver still streams the log 10 s after kubectl left")
		}
	})

	t.Run("exec over WebSocket", func(t *testing.T) {
		before := upstream.Execs()
		out := kubectlOut(t, ctx, p, "exec", "-n", ns, apiserver.TestPod, "--", "echo", "hello", "edge")
		if want := fmt.Sprintf("exec in %s/%s: echo hello edge\n", ns, apiserver.TestPod); out != want {
			t.Errorf("kubectl exec: %q, want %q", out, want)
		}
		if upstream.Execs() != before+1 {
			t.Errorf("the apiserver answered %d execs, want 1", upstream.Execs()-before)
		}
	})
}
