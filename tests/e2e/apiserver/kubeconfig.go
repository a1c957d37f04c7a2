package apiserver

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names inside the kubeconfig.
const (
	KubeconfigContext = "edgecache-e2e"
	KubeconfigUser    = "edgecache-e2e-admin"
)

// writeKubeconfig writes a self-contained kubeconfig (CA, client
// certificate and key embedded as data) with current-context set.
func (s *Server) writeKubeconfig(path string) error {
	return WriteKubeconfig(path, s.URL, s.pki.CAPEM, s.pki.ClientCertPEM, s.pki.ClientKeyPEM, "default")
}

// WriteKubeconfig writes a kubeconfig for server (an https URL) with the
// given CA and client certificate, context edgecache-e2e, default
// namespace ns. A proxy under test can use it to write its own kubeconfig.
func WriteKubeconfig(path, server string, caPEM, certPEM, keyPEM []byte, ns string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigContext] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[KubeconfigUser] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[KubeconfigContext] = &clientcmdapi.Context{Cluster: KubeconfigContext, AuthInfo: KubeconfigUser, Namespace: ns}
	cfg.CurrentContext = KubeconfigContext
	return clientcmd.WriteToFile(*cfg, path)
}

// Env is what the e2e environment file holds for the upstream apiserver.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"UPSTREAM_KUBECONFIG": s.KubeconfigPath,
		"UPSTREAM_URL":        s.URL,
		"RESOURCE":            ResourcePath("default"),
		"NAMESPACE":           "default",
		"GROUP":               Group,
		"VERSION":             Version,
		"GROUP_VERSION":       Group + "/" + Version,
		"PLURAL":              Plural,
		"KIND":                Kind,
		"ETCD_URL":            s.EtcdURL,
	}
}

// WriteEnvFile writes vars as shell assignments (NAME='value'), sorted by
// name, so `. file` or `set -a; . file` loads them.
func WriteEnvFile(path string, vars map[string]string) error {
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# written by tests/e2e/cmd/e2e-apiserver; shell syntax\n")
	for _, name := range names {
		fmt.Fprintf(&b, "%s=%s\n", name, shellQuote(vars[name]))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
