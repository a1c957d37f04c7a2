package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// startEtcd runs a single-member etcd inside this process, listening on
// loopback ports the kernel picks (port 0), with its data under dataDir.
// fsync is off: the data only has to outlive an apiserver restart, not a
// machine crash.
func startEtcd(ctx context.Context, dataDir string, log io.Writer, timeout time.Duration) (*embed.Etcd, string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "edgecache-e2e"
	cfg.Dir = dataDir
	cfg.UnsafeNoFsync = true
	cfg.EnableGRPCGateway = false
	loop := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{loop}
	cfg.AdvertiseClientUrls = []url.URL{loop}
	cfg.ListenPeerUrls = []url.URL{loop}
	cfg.AdvertisePeerUrls = []url.URL{loop}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.AddSync(log), zapcore.WarnLevel)).Named("etcd"))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("start etcd: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", fmt.Errorf("etcd failed while starting: %w", err)
	case <-timer.C:
		e.Close()
		return nil, "", fmt.Errorf("etcd not ready after %s", timeout)
	case <-ctx.Done():
		e.Close()
		return nil, "", ctx.Err()
	}
	if len(e.Clients) == 0 {
		e.Close()
		return nil, "", errors.New("etcd has no client listener")
	}
	return e, "http://" + e.Clients[0].Addr().String(), nil
}

// closeEtcd closes e, waiting at most timeout.
func closeEtcd(e *embed.Etcd, timeout time.Duration) error {
	done := make(chan struct{})
	go func() {
		e.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("etcd did not close within %s", timeout)
	}
}
