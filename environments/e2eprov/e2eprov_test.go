package e2eprov

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/cctest/cctest/environments/existing"
	"github.com/cctest/cctest/environments/kind"
)

// The providers plug into e2e-framework's own env funcs.
var (
	_ support.E2EClusterProvider                = NewEmbedded()
	_ support.E2EClusterProviderWithImageLoader = NewKind(kind.Options{})
	_ support.E2EClusterProvider                = NewExisting(existing.Options{})
)

func TestEmbeddedRefusesAnotherKubernetesVersion(t *testing.T) {
	_, err := NewEmbedded().SetDefaults().WithVersion("v1.30.0").Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Kubernetes v1.30.0 asked for, but the embedded control plane is v1.37.2") {
		t.Fatalf("error %v", err)
	}
}

func TestEmbeddedMissingBinary(t *testing.T) {
	_, err := NewEmbedded().WithPath(filepath.Join(t.TempDir(), "cctest")).Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not exist (build it with `make build`)") {
		t.Fatalf("error %v", err)
	}
	t.Setenv("CCTEST_BIN", "")
	_, err = NewEmbedded().Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot find the cctest binary") || !strings.Contains(err.Error(), "WithPath") {
		t.Fatalf("error %v", err)
	}
}

func TestEmbeddedMissingConfig(t *testing.T) {
	_, err := NewEmbedded().CreateWithConfig(context.Background(), "/nonexistent/vcluster.yaml")
	if err == nil || !strings.Contains(err.Error(), "the tenant's vcluster.yaml") || !strings.Contains(err.Error(), "/nonexistent/vcluster.yaml") {
		t.Fatalf("error %v", err)
	}
}

func TestEmbeddedBeforeCreate(t *testing.T) {
	e := NewEmbedded()
	if e.GetKubeconfig() != "" || e.HostKubeconfig() != "" || e.GetKubectlContext() != "" || e.KubernetesRestConfig() != nil {
		t.Error("a provider that was not created hands out a cluster")
	}
	if _, err := e.GenerateKubeconfig(); err == nil {
		t.Error("GenerateKubeconfig before Create: no error")
	}
	if err := e.WaitForControlPlane(context.Background(), nil); err == nil {
		t.Error("WaitForControlPlane before Create: no error")
	}
	if err := e.Destroy(context.Background()); err != nil {
		t.Errorf("Destroy before Create: %v", err)
	}
	if _, err := e.Create(context.Background(), "--image", "x"); err == nil || !strings.Contains(err.Error(), "takes no arguments") {
		t.Errorf("Create with arguments: %v", err)
	}
}

// Through e2e-framework's CreateCluster: no container engine gives kind's
// clear message, and nothing is left behind.
func TestKindWithoutEngineThroughEnvFuncs(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
	p := NewKind(kind.Options{ProbeImageTar: "/unused.tar", Log: testWriter{t}})
	_, err := envfuncs.CreateCluster(p, "cc")(context.Background(), envconf.New())
	if err == nil || !strings.Contains(err.Error(), "needs a container engine: no docker, podman or nerdctl found on PATH") {
		t.Fatalf("error %v", err)
	}
	if p.Cluster() != nil || p.GetKubeconfig() != "" {
		t.Error("a failed Create left a cluster")
	}
}

func TestKindOptionsAndVersion(t *testing.T) {
	p := NewKind(kind.Options{})
	p.WithName("ci").WithVersion("v1.37.0").WithPath("/opt/helm").WithOpts(KindOptions(func(o *kind.Options) { o.Workers = 3 }))
	if p.opts.Name != "ci" || p.opts.NodeImage != "kindest/node:v1.37.0" || p.opts.HelmBinary != "/opt/helm" || p.opts.Workers != 3 {
		t.Errorf("options %+v", p.opts)
	}
	if err := p.LoadImage(context.Background(), "app:1"); err == nil || !strings.Contains(err.Error(), "use LoadImageArchive") {
		t.Errorf("LoadImage: %v", err)
	}
	if err := p.LoadImageArchive(context.Background(), "x.tar"); err == nil {
		t.Error("LoadImageArchive before Create: no error")
	}
	if _, err := p.CreateWithConfig(context.Background(), filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("CreateWithConfig of a missing file: %v", err)
	}
}

func TestCopyLogs(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "host"), 0o755)
	os.WriteFile(filepath.Join(src, "host", "components.log"), []byte("log"), 0o644)
	os.WriteFile(filepath.Join(src, "host.kubeconfig"), []byte("secret"), 0o600)
	if err := copyLogs(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "host", "components.log")); err != nil || string(b) != "log" {
		t.Errorf("log not copied: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "host.kubeconfig")); err == nil {
		t.Error("a kubeconfig was exported with the logs")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
