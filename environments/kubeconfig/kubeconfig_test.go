package kubeconfig

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.kubeconfig")
	os.WriteFile(bad, []byte("clusters: [\n"), 0o600)
	empty := filepath.Join(dir, "empty.kubeconfig")
	os.WriteFile(empty, nil, 0o600)
	cases := map[string]struct{ path, want string }{
		"no path":   {"", "no kubeconfig for the tenant: give its path"},
		"missing":   {filepath.Join(dir, "nope"), "no kubeconfig for the tenant: " + filepath.Join(dir, "nope") + " does not exist"},
		"directory": {dir, "is a directory, not a kubeconfig file"},
		"not yaml":  {bad, "kubeconfig for the tenant (" + bad + ")"},
		"empty":     {empty, "kubeconfig for the tenant (" + empty + ")"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(c.path, "the tenant")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestWaitReachableNamesTheServer(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg := &rest.Config{Host: "https://" + addr, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	start := time.Now()
	err := WaitReachable(context.Background(), cfg, "the tenant", 700*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "the tenant is not reachable: the API server at https://"+addr+" did not answer within 700ms") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
}

// --context picks a context of the file; an unknown one is named with the
// contexts the file has.
func TestLoadContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two.kubeconfig")
	os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters:
- {name: host, cluster: {server: "https://127.0.0.1:6443"}}
- {name: tenant, cluster: {server: "https://127.0.0.1:7443"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: platform, context: {cluster: host, user: u}}
- {name: vcluster_t, context: {cluster: tenant, user: u}}
current-context: platform
`), 0o600)
	cur, err := Load(path, "the host cluster")
	if err != nil || cur.Host != "https://127.0.0.1:6443" {
		t.Fatalf("current context: %v %v", cur, err)
	}
	ten, err := LoadContext(path, "vcluster_t", "the tenant")
	if err != nil || ten.Host != "https://127.0.0.1:7443" {
		t.Fatalf("context vcluster_t: %v %v", ten, err)
	}
	_, err = LoadContext(path, "nope", "the tenant")
	if err == nil || !strings.Contains(err.Error(), `context "nope" is not in `+path+" (it has: platform, vcluster_t)") {
		t.Fatalf("unknown context: %v", err)
	}
}
