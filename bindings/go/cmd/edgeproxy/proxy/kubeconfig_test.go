package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The upstream comes from a kubeconfig: its server and its token (through
// rest.TransportFor); a client's own Authorization is not passed on.
func TestFromKubeconfigCarriesTheProxysCredentials(t *testing.T) {
	f := newFakeAPIWith(t, true)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: u, user: {token: proxy-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, f.srv.URL, base64.StdEncoding.EncodeToString(ca))), 0o600); err != nil {
		t.Fatal(err)
	}
	base, rt, up, err := FromKubeconfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Upstream: base, Transport: rt, UpgradeTransport: up, Resources: []string{"/api/v1/pods"}, TTL: -0})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer func() { srv.Close(); p.Close() }()
	if code, _, body := get(t, srv, "/api/v1/namespaces/ns1/configmaps/x", "Authorization", "Bearer client-token"); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.auth != "Bearer proxy-token" {
		t.Fatalf("upstream saw Authorization %q", f.auth)
	}
}

// Over TLS with HTTP/2 to the upstream, the reflector works and upgrades
// still pass (through the HTTP/1.1-only transport).
func TestTLSUpstreamWithUpgrade(t *testing.T) {
	f := newFakeAPIWith(t, true)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: u, user: {token: proxy-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, f.srv.URL, base64.StdEncoding.EncodeToString(ca))), 0o600); err != nil {
		t.Fatal(err)
	}
	base, rt, up, err := FromKubeconfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	f.put("/api/v1/pods", "ns1", "a", nil, "")
	p, err := New(Config{Upstream: base, Transport: rt, UpgradeTransport: up, Resources: []string{"/api/v1/pods"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer func() { srv.CloseClientConnections(); srv.Close(); p.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if l := list(t, srv, "/api/v1/pods?resourceVersion=0"); len(l.Items) != 1 {
		t.Fatalf("items %d", len(l.Items))
	}
	u, _ := url.Parse(srv.URL)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /api/v1/namespaces/ns1/pods/p/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("SPDY over a TLS upstream: %v %v", err, resp)
	}
	fmt.Fprintf(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: ping\n" {
		t.Fatalf("echo %q %v", line, err)
	}
}
