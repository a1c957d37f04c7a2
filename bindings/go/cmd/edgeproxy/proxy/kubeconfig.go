package proxy

import (
	"fmt"
	"net/http"
	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FromKubeconfig reads the upstream from a kubeconfig file (""; the
// in-cluster config, then $KUBECONFIG and ~/.kube/config, as kubectl):
// its server URL, a transport with its TLS and credentials
// (rest.TransportFor), and an HTTP/1.1-only twin for protocol upgrades.
func FromKubeconfig(path string) (*url.URL, http.RoundTripper, http.RoundTripper, error) {
	var cfg *rest.Config
	var err error
	if path != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	// The proxy sets its own timeouts per request; watches are long.
	cfg.Timeout = 0
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeconfig: transport: %w", err)
	}
	h1 := rest.CopyConfig(cfg)
	h1.TLSClientConfig.NextProtos = []string{"http/1.1"}
	up, err := rest.TransportFor(h1)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeconfig: upgrade transport: %w", err)
	}
	return base, rt, up, nil
}
