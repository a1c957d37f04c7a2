// Command e2e-apiserver runs the end-to-end tests' real apiserver (etcd
// embedded, k8s.io/apiextensions-apiserver, the Widget CRD) on loopback
// until SIGTERM or SIGINT, for manual use and for `make e2e-up`.
//
// Once the CRD is served it writes the kubeconfig (<dir>/kubeconfig) and an
// environment file in shell syntax:
//
//	UPSTREAM_KUBECONFIG  kubeconfig for kubectl, client-go, the Python client
//	UPSTREAM_URL         https://127.0.0.1:PORT
//	RESOURCE             /apis/edge.example.com/v1/namespaces/default/widgets
//	GROUP_VERSION        edge.example.com/v1
//	GROUP, VERSION, PLURAL (widgets), KIND (Widget), NAMESPACE (default)
//	ETCD_URL             the embedded etcd's client URL
//	E2E_APISERVER_PID    this process
//
// then prints "ready" on stdout. SIGUSR1 stops the apiserver for
// --restart-down (etcd keeps running) and starts it again on the same
// address, as an apiserver restart looks to its clients. On exit the
// environment and pid files are removed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/edgecache/edgecache/tests/e2e/apiserver"
)

func main() {
	dir := flag.String("dir", "target/e2e/apiserver", "directory for certificates, kubeconfig, etcd data (emptied at start) and server.log")
	envPath := flag.String("env", "", "environment file to write (default <dir>/env)")
	pidPath := flag.String("pidfile", "", "write this process's id here, if set")
	verbose := flag.Bool("v", false, "send the apiserver's and etcd's logs to stderr instead of <dir>/server.log")
	down := flag.Duration("restart-down", 10*time.Second, "how long SIGUSR1 keeps the apiserver stopped")
	timeout := flag.Duration("timeout", 60*time.Second, "bound on each wait (start, shutdown)")
	var extra []string
	flag.Func("apiserver-arg", "an apiserver flag, e.g. --apiserver-arg=--watch-cache=false (repeatable)", func(v string) error {
		extra = append(extra, v)
		return nil
	})
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags]\n\nRuns etcd + apiextensions-apiserver serving edge.example.com/v1 widgets on 127.0.0.1\nuntil SIGTERM/SIGINT; SIGUSR1 restarts the apiserver. Flags:\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *envPath, *pidPath, *verbose, *down, *timeout, extra); err != nil {
		fmt.Fprintln(os.Stderr, "e2e-apiserver:", err)
		os.Exit(1)
	}
}

func run(dir, envPath, pidPath string, verbose bool, down, timeout time.Duration, extra []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	restart := make(chan os.Signal, 1)
	signal.Notify(restart, syscall.SIGUSR1)

	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "e2e-apiserver: "+format+"\n", args...)
	}
	opts := apiserver.Options{Dir: dir, Logf: logf, ExtraFlags: extra, Timeout: timeout}
	if verbose {
		opts.Log = os.Stderr
	}
	s, err := apiserver.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Stop(); err != nil {
			logf("stop: %v", err)
		}
	}()
	if envPath == "" {
		envPath = filepath.Join(s.Dir, "env")
	}
	env := s.Env()
	env["E2E_APISERVER_PID"] = strconv.Itoa(os.Getpid())
	if pidPath != "" {
		if err := os.WriteFile(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return err
		}
		defer os.Remove(pidPath)
	}
	if err := apiserver.WriteEnvFile(envPath, env); err != nil {
		return err
	}
	defer os.Remove(envPath)
	logf("kubeconfig %s, environment %s, log %s", s.KubeconfigPath, envPath, s.LogPath)
	fmt.Println("ready")

	for {
		select {
		case <-ctx.Done():
			logf("stopping")
			return nil
		case <-restart:
			logf("SIGUSR1: apiserver down for %s", down)
			if err := s.RestartAPIServer(ctx, down); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("restart: %w", err)
			}
		}
	}
}
