// Package proxyproc runs the edgeproxy program as a child process in front
// of an apiserver, for the through-proxy tests and `make demo`: it picks a
// loopback port, waits for /readyz, writes a kubeconfig for clients and
// reads the proxy's Prometheus metrics.
package proxyproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// client bounds each poll of /readyz and each read of /metrics.
var client = &http.Client{Timeout: 10 * time.Second}

// Proc is one running edgeproxy.
type Proc struct {
	// URL is the proxy's address, http://127.0.0.1:PORT.
	URL string
	// Kubeconfig is a kubeconfig for kubectl and the Python client: plain
	// HTTP to the proxy, no credentials (the proxy holds the upstream's).
	Kubeconfig string
	// LogPath receives the proxy's output.
	LogPath string
	// Args are the command-line arguments it runs with.
	Args []string

	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs bin with --kubeconfig upstreamKubeconfig, a --listen address of
// its own, --resources resources and the extra flags, its output and files
// in dir, and returns once /readyz answers 200 (or ctx ends).
func Start(ctx context.Context, bin, dir, upstreamKubeconfig, resources string, flags ...string) (*Proc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &Proc{URL: "http://" + addr, LogPath: filepath.Join(dir, "proxy.log"), exited: make(chan struct{})}
	p.Args = append([]string{"--kubeconfig", upstreamKubeconfig, "--listen", addr, "--resources", resources}, flags...)
	logf, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, p.Args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// The proxy dies with its parent: a test binary that panics or times
	// out leaves no proxy behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	for {
		// Exited first: a proxy that could not bind must not pass for
		// another one on the same port.
		select {
		case <-p.exited:
			return nil, fmt.Errorf("edgeproxy exited:\n%s", p.Tail(30))
		default:
		}
		resp, err := client.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("edgeproxy exited:\n%s", p.Tail(30))
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("edgeproxy not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.Kubeconfig = filepath.Join(dir, "proxy.kubeconfig")
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: edgeproxy\n  cluster:\n    server: %s\n"+
		"contexts:\n- name: edgeproxy\n  context:\n    cluster: edgeproxy\ncurrent-context: edgeproxy\n", p.URL)
	if err := os.WriteFile(p.Kubeconfig, []byte(kc), 0o600); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Stop interrupts the proxy and waits for it, killing it after 10 s.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Tail is the last n lines of the proxy's output.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// Metric sums the samples of name on /metrics whose labels contain every
// one of labels (`key="value"` strings); 0 when there is none.
func (p *Proc) Metric(name string, labels ...string) (float64, error) {
	resp, err := client.Get(p.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[2], l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", sc.Text(), err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return sum, nil
}

// Counters is what the proxy asked of the upstream for one collection.
type Counters struct {
	FullLists       float64 // edgeproxy_upstream_lists_total: lists that filled the cache
	Relists         float64 // edgeproxy_relists_total: lists after an upstream 410
	UpstreamWatches float64 // edgeproxy_upstream_watches_total: the first watch and every resume
	ListRequests    float64 // edgeproxy_upstream_requests_total{verb="list"}: full lists' pages and resourceVersion probes
}

// Counters reads the Counters of the collection at path.
func (p *Proc) Counters(path string) (Counters, error) {
	res := `resource="` + path + `"`
	var c Counters
	var errs []error
	get := func(dst *float64, name string, labels ...string) {
		v, err := p.Metric(name, labels...)
		*dst = v
		errs = append(errs, err)
	}
	get(&c.FullLists, "edgeproxy_upstream_lists_total", res)
	get(&c.Relists, "edgeproxy_relists_total", res)
	get(&c.UpstreamWatches, "edgeproxy_upstream_watches_total", res)
	get(&c.ListRequests, "edgeproxy_upstream_requests_total", `verb="list"`)
	return c, errors.Join(errs...)
}

// Pid is the proxy's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Usage is the proxy's CPU time so far (user + system) and its resident
// memory now, from /proc (Linux).
func (p *Proc) Usage() (cpu time.Duration, rssBytes int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short /proc stat: %q", stat)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	cpu = time.Duration(utime+stime) * time.Second / ticks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return cpu, 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			rssBytes = kb << 10
		}
	}
	return cpu, rssBytes, nil
}
