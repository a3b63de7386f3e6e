package kind

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Without a container engine the provider fails at once with kind's clear
// message, and leaves no directory behind.
func TestProviderWithoutEngine(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("KIND_EXPERIMENTAL_PROVIDER", "")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var log bytes.Buffer
	p := NewProvider(Options{Log: &log})
	if p.Name() != "kind" {
		t.Errorf("Name %q", p.Name())
	}
	c, err := p.Create(context.Background())
	if c != nil || err == nil || !strings.Contains(err.Error(), "cctest run --env kind needs a container engine: no docker, podman or nerdctl found on PATH") {
		t.Fatalf("cluster %v, error %v", c, err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("a failed Create left %v in TMPDIR", entries)
	}
	if p.Cluster() != nil {
		t.Error("a failed Create left a cluster")
	}
	if err := p.Destroy(context.Background()); err != nil {
		t.Errorf("Destroy after a failed Create: %v", err)
	}
}

// Without a probe image or binary the provider says how to build one.
func TestProviderWithoutProbe(t *testing.T) {
	eng := &fakeEngine{t: t}
	dir := t.TempDir()
	t.Setenv("CCTEST_BIN", filepath.Join(dir, "cctest"))
	_, err := NewProvider(Options{Engine: eng, Dir: filepath.Join(dir, "kind")}).Create(context.Background())
	want := "--env kind needs the probe binary beside cctest (" + filepath.Join(dir, "cctest-probe") + "): build it with `make probe`"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	_, err = NewProvider(Options{Engine: eng, ProbeBinary: filepath.Join(dir, "nope")}).Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no probe binary at "+filepath.Join(dir, "nope")) {
		t.Errorf("error %v", err)
	}
	if eng.Calls() != "" {
		t.Errorf("the engine was used: %s", eng.Calls())
	}
}

// The whole provider against a real host and tenant API: it builds the
// probe image from the binary, creates the environment, hands out a
// Cluster, reports the gaps, and Destroy deletes the cluster and its
// temporary directory.
func TestProviderAgainstRealAPIs(t *testing.T) {
	host, tenant := apis(t)
	ctx := context.Background()
	eng := &fakeEngine{t: t, kubeconfig: pair.HostKubeconfig(), host: host}
	helm := &fakeHelm{t: t, host: host, tenant: tenant, tenantKubeconfig: pair.TenantKubeconfig(), export: true}
	defer helm.stop()
	defer cleanupClasses(host, tenant)
	probeBin := filepath.Join(filepath.Dir(testProbeTar(t)), "probe")
	var log bytes.Buffer
	p := NewProvider(Options{ProbeBinary: probeBin, Engine: eng, Helm: helm, Log: &log, WaitTimeout: 60 * time.Second})
	c, err := p.Create(ctx)
	if err != nil {
		t.Fatalf("Create: %v\n%s", err, log.String())
	}
	defer p.Destroy(ctx)
	if c.Name() != "kind" || c.TimeoutScale() != TimeoutScale || c.Tenant() == nil || c.Host() == nil || c.SharedTenant() == nil {
		t.Errorf("cluster %+v", c)
	}
	if c.SharedKubeconfig != c.TenantKubeconfig || c.TenantKubeconfig != filepath.Join(c.Dir, TenantKubeconfig) {
		t.Errorf("kubeconfigs %+v", c)
	}
	if c.ProbeImage == "" || c.ProbeImage != p.Cluster().ProbeImage {
		t.Errorf("probe image %q", c.ProbeImage)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, ProbeImageFile)); err != nil {
		t.Errorf("probe image not built: %v", err)
	}
	if len(c.Gaps) != 1 || !strings.Contains(log.String(), "kind environment gap: "+GapAttestation) {
		t.Errorf("gaps %q, log:\n%s", c.Gaps, log.String())
	}
	if _, err := kubernetes.NewForConfigOrDie(c.Tenant()).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("tenant: %v", err)
	}
	if _, err := p.Create(ctx); err == nil {
		t.Error("a second Create did not fail")
	}

	if err := p.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(eng.Calls(), ",delete cctest") {
		t.Errorf("Destroy did not delete the cluster: %s", eng.Calls())
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left after Destroy (err=%v)", c.Dir, err)
	}
	if p.Cluster() != nil {
		t.Error("cluster left after Destroy")
	}
}
