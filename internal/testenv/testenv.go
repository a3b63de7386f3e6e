// Package testenv starts the embedded host + tenant control planes for a
// package's tests, once per test binary, and hands out clients.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
//	func TestX(t *testing.T) { host, tenant := testenv.Clients(t) ... }
package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/simulators/controlplane"
)

var pair *controlplane.Pair

// Run starts the platform, runs the tests and stops it.
func Run(m *testing.M) int {
	bin := testbin.Path(exitTB{})
	dir, err := os.MkdirTemp("", "cctest-testenv-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pair, err = controlplane.StartPair(context.Background(), bin, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded platform:", err)
		return 1
	}
	defer pair.Stop()
	return m.Run()
}

// Pair is the running platform (after Run).
func Pair() *controlplane.Pair { return pair }

// Configs returns rest configs for host and tenant.
func Configs(t testing.TB) (host, tenant *rest.Config) {
	t.Helper()
	if pair == nil {
		t.Fatal("testenv: call testenv.Run from TestMain")
	}
	load := func(path string) *rest.Config {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.QPS, cfg.Burst = 500, 1000
		return cfg
	}
	return load(pair.HostKubeconfig()), load(pair.TenantKubeconfig())
}

// Clients returns clientsets for host and tenant.
func Clients(t testing.TB) (host, tenant kubernetes.Interface) {
	h, tc := Configs(t)
	return kubernetes.NewForConfigOrDie(h), kubernetes.NewForConfigOrDie(tc)
}

// exitTB lets TestMain use helpers written for testing.TB.
type exitTB struct{ testing.TB }

func (exitTB) Helper() {}
func (exitTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
