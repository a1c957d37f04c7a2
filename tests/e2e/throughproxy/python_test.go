package throughproxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Python kubernetes client through the proxy (tests/e2e/python/
// client_check.py): list and paged list, watch from a resourceVersion with
// bookmarks, and 410 Gone for a resourceVersion older than the window.
// $E2E_PYTHON is an interpreter with the kubernetes package; run.sh sets it
// up in the project's .venv.
func TestPythonClient(t *testing.T) {
	py := os.Getenv("E2E_PYTHON")
	if py == "" {
		t.Fatal("E2E_PYTHON is not set: run through tests/e2e/run.sh, which installs the kubernetes package into .venv")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := namespace(t)
	seed(t, ctx, ns, 3)
	_, oldRV := state(t, ctx, ns, metav1.ListOptions{})
	p := startProxy(t, "--window", "20", "--bookmark-interval", "1s")
	// Push oldRV out of the proxy's window of 20 events.
	for i := 0; i < 30; i++ {
		patch := fmt.Sprintf(`{"spec":{"size":%d}}`, 100+i)
		if _, err := direct(t).Namespace(ns).Patch(ctx, fmt.Sprintf("w-%04d", i%3), "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, now := state(t, ctx, ns, metav1.ListOptions{})
	want, _ := strconv.ParseFloat(now, 64)
	if !eventually(30*time.Second, func() bool { return p.metric(t, "edgeproxy_resource_version", widgetsLabel) >= want }) {
		t.Fatalf("the proxy did not reach resourceVersion %s", now)
	}
	script, err := filepath.Abs("../python/client_check.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, py, script, p.Kubeconfig, ns, oldRV, "w-0000", "w-0001", "w-0002")
	out, err := cmd.CombinedOutput()
	t.Logf("client_check.py:\n%s", out)
	if err != nil {
		t.Fatalf("client_check.py: %v", err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "OK") {
		t.Fatal("client_check.py did not finish")
	}
}
