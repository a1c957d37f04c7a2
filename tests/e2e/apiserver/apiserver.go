// Package apiserver runs a real Kubernetes apiserver inside the test process,
// for end-to-end tests of the edge proxy: etcd embedded from
// go.etcd.io/etcd/server/v3/embed and k8s.io/apiextensions-apiserver (the
// apiserver that serves CustomResourceDefinitions, built from the same
// generic apiserver library as kube-apiserver: same watch cache, streaming
// lists, bookmarks, pagination, 410s and Status objects) serving one CRD,
// Widget (edge.example.com/v1, namespaced, with a status subresource).
//
// Everything listens on 127.0.0.1 only. Clients authenticate with a client
// certificate of group system:masters signed by a CA the harness makes; the
// kubeconfig written to Server.KubeconfigPath works with client-go, kubectl
// and the Python kubernetes client, and stays valid across
// StopAPIServer/StartAPIServer (the apiserver comes back on the same
// address, with the same certificates, over the same etcd).
//
// Compared with kube-apiserver there are no built-in resources (no pods,
// namespaces or RBAC): namespaces need not exist, and admission, priority and
// fairness and delegated authentication (TokenReview/SubjectAccessReview) are
// off, as in the apiextensions-apiserver's own integration tests.
//
// A process runs one Server at a time: the apiserver's logging (klog) and
// feature gates are process-wide.
package apiserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	extensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/klog/v2"
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Dir receives the certificates, the kubeconfig, etcd's data (Dir/etcd,
	// emptied at Start) and the log. Empty: a new temporary directory that
	// Stop removes.
	Dir string
	// EtcdPrefix is the apiserver's key prefix in etcd. Default
	// "/registry/edgecache-e2e".
	EtcdPrefix string
	// Log receives the apiserver's (klog) and etcd's logs. Nil: the file
	// Dir/server.log (Server.LogPath).
	Log io.Writer
	// Logf, if set, receives one line per step (starting etcd, apiserver
	// ready, ...). testing.T.Logf fits.
	Logf func(format string, args ...any)
	// FeatureGates are set on the process-wide apiserver feature gate before
	// the apiserver starts, e.g. {"WatchList": false}.
	FeatureGates map[string]bool
	// ExtraFlags are apiserver command-line flags, parsed after the harness's
	// own settings, e.g. "--watch-cache=false" or "--min-request-timeout=5".
	ExtraFlags []string
	// Timeout bounds each wait (etcd ready, apiserver ready, CRD served,
	// shutdown). Default 60 s.
	Timeout time.Duration
}

// Server is a running etcd + apiextensions-apiserver pair serving the
// Widget CRD. Its fields do not change across StopAPIServer/StartAPIServer.
type Server struct {
	// URL is the apiserver's address, https://127.0.0.1:PORT.
	URL string
	// KubeconfigPath is a kubeconfig (admin client certificate, CA, embedded
	// as data) for kubectl, client-go and the Python client.
	KubeconfigPath string
	// CAFile, ClientCertFile and ClientKeyFile are the same credentials as
	// PEM files.
	CAFile, ClientCertFile, ClientKeyFile string
	// EtcdURL is the embedded etcd's client URL (http, loopback).
	EtcdURL string
	// EtcdPrefix is the apiserver's key prefix in etcd.
	EtcdPrefix string
	// Dir holds the files above.
	Dir string
	// LogPath is the log file when Options.Log was nil, else "".
	LogPath string

	opts      Options
	pki       *pki
	addr      string // 127.0.0.1:PORT, kept across restarts
	removeDir bool
	logFile   *os.File
	etcd      *embed.Etcd

	pods corePods // the harness's own pod endpoint (pods.go)

	mu      sync.Mutex
	api     *runningAPI
	stopped bool
}

type runningAPI struct {
	conns  *connTracker
	cancel context.CancelFunc
	done   chan struct{} // closed when RunWithContext returned
	err    error         // its error, valid after done
}

// GVR is the Widget collection's GroupVersionResource.
func (s *Server) GVR() schema.GroupVersionResource { return WidgetGVR }

// RESTConfig returns a new client-go config for the admin user.
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: s.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   append([]byte(nil), s.pki.CAPEM...),
			CertData: append([]byte(nil), s.pki.ClientCertPEM...),
			KeyData:  append([]byte(nil), s.pki.ClientKeyPEM...),
		},
		QPS:       -1, // no client-side rate limit: tests drive load on purpose
		UserAgent: "edgecache-e2e",
	}
}

// ResourcePath is the Widget collection's path in namespace ns ("" for all
// namespaces), e.g. /apis/edge.example.com/v1/namespaces/default/widgets.
func ResourcePath(ns string) string {
	if ns == "" {
		return "/apis/" + Group + "/" + Version + "/" + Plural
	}
	return "/apis/" + Group + "/" + Version + "/namespaces/" + ns + "/" + Plural
}

// Start starts etcd and the apiserver, installs the Widget CRD and returns
// once widgets can be listed and are in discovery. ctx bounds the start only.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.EtcdPrefix == "" {
		opts.EtcdPrefix = "/registry/edgecache-e2e"
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{opts: opts, EtcdPrefix: opts.EtcdPrefix}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()

	if opts.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "edgecache-e2e-apiserver-"); err != nil {
			return nil, err
		}
		s.removeDir = true
	} else {
		if s.Dir, err = filepath.Abs(opts.Dir); err != nil {
			return nil, err
		}
		if err = os.MkdirAll(s.Dir, 0o700); err != nil {
			return nil, err
		}
	}
	log := opts.Log
	if log == nil {
		s.LogPath = filepath.Join(s.Dir, "server.log")
		if s.logFile, err = os.Create(s.LogPath); err != nil {
			return nil, err
		}
		log = s.logFile
	}
	routeKlog(log)

	if s.pki, err = writePKI(s.Dir); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	s.CAFile, s.ClientCertFile, s.ClientKeyFile = s.pki.CAFile, s.pki.ClientCertFile, s.pki.ClientKeyFile

	etcdDir := filepath.Join(s.Dir, "etcd")
	if err = os.RemoveAll(etcdDir); err != nil {
		return nil, err
	}
	opts.Logf("apiserver: starting etcd in %s", etcdDir)
	if s.etcd, s.EtcdURL, err = startEtcd(ctx, etcdDir, log, opts.Timeout); err != nil {
		return nil, err
	}

	// Reserve the apiserver's port now: it is the one every restart reuses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.URL = "https://" + s.addr
	if err = ln.Close(); err != nil {
		return nil, err
	}
	s.KubeconfigPath = filepath.Join(s.Dir, "kubeconfig")
	if err = s.writeKubeconfig(s.KubeconfigPath); err != nil {
		return nil, err
	}
	if err = s.StartAPIServer(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// StartT is Start for tests: it fails t if the server does not start, stops
// it when t ends, and on failure logs the tail of the server log.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start apiserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() && s.LogPath != "" {
			t.Logf("last lines of %s:\n%s", s.LogPath, tail(s.LogPath, 40))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop apiserver: %v", err)
		}
	})
	return s
}

// StartAPIServer starts the apiserver (again) on the server's address and
// waits until the Widget CRD is served. The CRD is created when etcd does
// not hold it yet.
func (s *Server) StartAPIServer(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("apiserver: server was stopped")
	}
	if s.api != nil {
		return errors.New("apiserver: already running")
	}
	began := time.Now()
	api, err := s.runAPIServer()
	if err != nil {
		return err
	}
	s.api = api
	if err := s.waitServed(ctx, api); err != nil {
		_ = s.stopAPIServerLocked()
		return err
	}
	s.opts.Logf("apiserver: serving %s at %s (ready in %s)", WidgetGVR, s.URL, time.Since(began).Round(time.Millisecond))
	return nil
}

// StopAPIServer stops the apiserver, leaving etcd running. Like a crashed
// or killed apiserver it drops every connection at once (open watches end
// with a connection error, not a clean end of stream), then shuts down; the
// address refuses connections until StartAPIServer.
func (s *Server) StopAPIServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api == nil {
		return errors.New("apiserver: not running")
	}
	return s.stopAPIServerLocked()
}

// APIServerRunning reports whether the apiserver is running.
func (s *Server) APIServerRunning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api != nil
}

// RestartAPIServer stops the apiserver, waits down (its clients see
// connection refused meanwhile), and starts it again.
func (s *Server) RestartAPIServer(ctx context.Context, down time.Duration) error {
	if err := s.StopAPIServer(); err != nil {
		return err
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.StartAPIServer(ctx)
}

// Stop stops the apiserver and etcd and removes a temporary Dir. It is safe
// to call more than once.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	var errs []error
	if s.api != nil {
		errs = append(errs, s.stopAPIServerLocked())
	}
	if s.etcd != nil {
		errs = append(errs, closeEtcd(s.etcd, s.opts.Timeout))
		s.etcd = nil
	}
	if s.logFile != nil {
		routeKlog(io.Discard) // late log lines must not hit a closed file
		errs = append(errs, s.logFile.Close())
	}
	if s.removeDir && s.Dir != "" {
		errs = append(errs, os.RemoveAll(s.Dir))
	}
	return errors.Join(errs...)
}

func (s *Server) stopAPIServerLocked() error {
	api := s.api
	s.api = nil
	began := time.Now()
	api.cancel()
	api.conns.dropAll()
	select {
	case <-api.done:
	case <-time.After(s.opts.Timeout):
		return fmt.Errorf("apiserver did not shut down within %s", s.opts.Timeout)
	}
	s.opts.Logf("apiserver: stopped in %s", time.Since(began).Round(time.Millisecond))
	if api.err != nil && !errors.Is(api.err, context.Canceled) {
		return fmt.Errorf("apiserver exited: %w", api.err)
	}
	return nil
}

// CompactEtcd compacts etcd's history up to its current revision and
// returns that revision: a LIST at an older resourceVersion that has to read
// etcd then fails with 410 Gone.
func (s *Server) CompactEtcd(ctx context.Context) (int64, error) {
	if s.etcd == nil {
		return 0, errors.New("etcd is not running")
	}
	c := v3client.New(s.etcd.Server)
	defer c.Close()
	resp, err := c.Get(ctx, "compact-probe")
	if err != nil {
		return 0, err
	}
	rev := resp.Header.Revision
	if _, err := c.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, err
	}
	return rev, nil
}

// runAPIServer builds and starts one apiserver instance. It mirrors
// k8s.io/apiextensions-apiserver/pkg/cmd/server/testing.StartTestServer, but
// keeps the address, serving certificate and client credentials fixed so
// that the apiserver can be restarted under its clients, and runs without a
// core kube-apiserver behind it (no delegated authn/authz, no admission).
func (s *Server) runAPIServer() (_ *runningAPI, err error) {
	for name, on := range s.opts.FeatureGates {
		if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{name: on}); err != nil {
			return nil, fmt.Errorf("feature gate %s=%v: %w", name, on, err)
		}
	}
	o := options.NewCustomResourceDefinitionsServerOptions(io.Discard, io.Discard)
	// A registry of its own per instance: the process-wide one can only be
	// set up once, and an instance is started again after a restart.
	featureGate := utilfeature.DefaultMutableFeatureGate.DeepCopy()
	effectiveVersion := compatibility.DefaultKubeEffectiveVersionForTest()
	effectiveVersion.SetEmulationVersion(featureGate.EmulationVersion())
	registry := basecompatibility.NewComponentGlobalsRegistry()
	if err := registry.Register(basecompatibility.DefaultKubeComponent, effectiveVersion, featureGate); err != nil {
		return nil, err
	}
	o.ServerRunOptions.ComponentGlobalsRegistry = registry

	fs := pflag.NewFlagSet("apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)

	rec := o.RecommendedOptions
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	conns := newConnTracker(ln)
	rec.SecureServing.Listener = conns
	rec.SecureServing.BindAddress = net.IPv4(127, 0, 0, 1)
	rec.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	rec.SecureServing.ExternalAddress = net.IPv4(127, 0, 0, 1)
	rec.SecureServing.ServerCert.CertKey.CertFile = s.pki.ServerCertFile
	rec.SecureServing.ServerCert.CertKey.KeyFile = s.pki.ServerKeyFile
	rec.Etcd.StorageConfig.Transport.ServerList = []string{s.EtcdURL}
	rec.Etcd.StorageConfig.Prefix = s.EtcdPrefix
	// Client certificates from our CA authenticate; the group
	// system:masters is always allowed. No core apiserver to delegate to.
	rec.Authentication.ClientCert.ClientCA = s.pki.CAFile
	rec.Authentication.RemoteKubeConfigFileOptional = true
	rec.Authentication.SkipInClusterLookup = true
	rec.Authorization.RemoteKubeConfigFileOptional = true
	rec.Features.EnablePriorityAndFairness = false
	rec.CoreAPI = nil
	rec.Admission = nil
	if err := o.APIEnablement.RuntimeConfig.Set("api/all=true"); err != nil {
		return nil, err
	}
	if err := fs.Parse(s.opts.ExtraFlags); err != nil {
		return nil, fmt.Errorf("apiserver flags: %w", err)
	}
	if err := registry.Set(); err != nil {
		return nil, err
	}
	if err := o.Complete(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}

	// options.Config() wants a core-API informer for webhook services;
	// build the same config without it.
	generic := genericapiserver.NewRecommendedConfig(extensionsapiserver.Codecs)
	if err := o.ServerRunOptions.ApplyTo(&generic.Config); err != nil {
		return nil, err
	}
	if err := rec.ApplyTo(generic); err != nil {
		return nil, err
	}
	if err := o.APIEnablement.ApplyTo(&generic.Config, extensionsapiserver.DefaultAPIResourceConfigSource(), extensionsapiserver.Scheme); err != nil {
		return nil, err
	}
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	generic.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(defs, openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme))
	generic.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(defs, openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme, scheme.Scheme))
	cfg := &extensionsapiserver.Config{
		GenericConfig: generic,
		ExtraConfig: extensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: options.NewCRDRESTOptionsGetter(*rec.Etcd, generic.ResourceTransformers, generic.StorageObjectCountTracker),
			ServiceResolver:      noServices{},
			AuthResolverWrapper:  noWebhookAuth(generic.LoopbackClientConfig),
		},
	}
	srv, err := cfg.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("build apiserver: %w", err)
	}
	mux := srv.GenericAPIServer.Handler.NonGoRestfulMux
	mux.Unregister("/apis")
	mux.Handle("/apis", rootAPIs(srv.GenericAPIServer.AggregatedDiscoveryGroupManager))
	s.pods.register(mux)

	ctx, cancel := context.WithCancel(context.Background())
	api := &runningAPI{conns: conns, cancel: cancel, done: make(chan struct{})}
	prepared := srv.GenericAPIServer.PrepareRun()
	go func() {
		defer close(api.done)
		api.err = prepared.RunWithContext(ctx)
	}()
	return api, nil
}

// waitServed waits for /readyz, creates the CRD if etcd lacks it, and waits
// until widgets are established, listable and in discovery.
func (s *Server) waitServed(ctx context.Context, api *runningAPI) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cfg := s.RESTConfig()
	cfg.Timeout = 10 * time.Second
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	exts, err := apiextensionsclient.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return err
	}

	last := "not polled yet"
	poll := func(what string, check func() (bool, string)) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			ok, why := check()
			if ok {
				return nil
			}
			last = why
			select {
			case <-api.done:
				return fmt.Errorf("apiserver exited while waiting for %s: %v (log: %s)", what, api.err, s.logHint())
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w; last: %s (log: %s)", what, ctx.Err(), last, s.logHint())
			case <-tick.C:
			}
		}
	}

	if err := poll("/readyz", func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz?verbose", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, failedChecks(string(body)))
	}); err != nil {
		return err
	}

	crds := exts.ApiextensionsV1().CustomResourceDefinitions()
	if err := poll("the Widget CRD to be created", func() (bool, string) {
		_, err := crds.Get(ctx, CRDName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = crds.Create(ctx, widgetCRD(), metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return false, err.Error()
		}
		return err == nil || apierrors.IsAlreadyExists(err), ""
	}); err != nil {
		return err
	}
	if err := poll("the Widget CRD to be established", func() (bool, string) {
		crd, err := crds.Get(ctx, CRDName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		established, named := false, false
		for _, c := range crd.Status.Conditions {
			switch c.Type {
			case apiextensionsv1.Established:
				established = c.Status == apiextensionsv1.ConditionTrue
			case apiextensionsv1.NamesAccepted:
				named = c.Status == apiextensionsv1.ConditionTrue
			}
		}
		return established && named, fmt.Sprintf("conditions %v", crd.Status.Conditions)
	}); err != nil {
		return err
	}
	if err := poll("widgets to be listable and discoverable", func() (bool, string) {
		if _, err := dyn.Resource(WidgetGVR).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			return false, "list: " + err.Error()
		}
		res, err := disc.ServerResourcesForGroupVersion(Group + "/" + Version)
		if err != nil {
			return false, "discovery: " + err.Error()
		}
		for _, r := range res.APIResources {
			if r.Name == Plural {
				groups, err := disc.ServerGroups()
				if err != nil {
					return false, "discovery /apis: " + err.Error()
				}
				for _, g := range groups.Groups {
					if g.Name == Group {
						return true, ""
					}
				}
				return false, "discovery /apis lacks " + Group
			}
		}
		return false, "discovery lacks " + Plural
	}); err != nil {
		return err
	}

	// The apiextensions-apiserver holds the first create of a custom
	// resource for 2 s while its CRD became Established less than 2 s ago
	// (for HA peers to catch up). Wait that window out here rather than in
	// a test's first create. The condition's time has whole seconds.
	crd, err := crds.Get(ctx, CRDName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range crd.Status.Conditions {
		if c.Type != apiextensionsv1.Established {
			continue
		}
		if wait := time.Until(c.LastTransitionTime.Add(2*time.Second + 100*time.Millisecond)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func (s *Server) logHint() string {
	if s.LogPath != "" {
		return s.LogPath
	}
	return "Options.Log"
}

// failedChecks keeps the failing lines of a verbose /readyz answer.
func failedChecks(body string) string {
	var failed []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "[-]") {
			failed = append(failed, line)
		}
	}
	return strings.Join(failed, "; ")
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// routeKlog sends klog (the apiserver's logger) to w only.
func routeKlog(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	// klog writes a line to its own severity's output and every lower
	// one's: keep only the INFO output so that each line is written once.
	klog.SetOutputBySeverity("INFO", w)
	for _, sev := range []string{"WARNING", "ERROR", "FATAL"} {
		klog.SetOutputBySeverity(sev, io.Discard)
	}
}
