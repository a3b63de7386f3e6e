package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/probe/image"
	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/vcluster"
)

// The engine and Helm are the only fakes: behind them, a real host and a
// real tenant API server (the embedded control planes) and vCluster's
// RuntimeClass syncer (simulators/vcluster) play the kind cluster and the
// installed chart.

var (
	pairOnce sync.Once
	pair     *controlplane.Pair
	pairErr  error
	pairDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pair != nil {
		pair.Stop()
	}
	if pairDir != "" {
		os.RemoveAll(pairDir)
	}
	os.Exit(code)
}

// apis starts (once) a host and a tenant API server.
func apis(t *testing.T) (host, tenant kubernetes.Interface) {
	t.Helper()
	bin := testbin.Path(t)
	pairOnce.Do(func() {
		pairDir, pairErr = os.MkdirTemp("", "cctest-kind-test-")
		if pairErr == nil {
			pair, pairErr = controlplane.StartPair(context.Background(), bin, pairDir)
		}
	})
	if pairErr != nil {
		t.Fatalf("start the control planes: %v", pairErr)
	}
	load := func(p string) kubernetes.Interface {
		cfg, err := kubeconfig.Load(p, p)
		if err != nil {
			t.Fatal(err)
		}
		return kubernetes.NewForConfigOrDie(cfg)
	}
	return load(pair.HostKubeconfig()), load(pair.TenantKubeconfig())
}

// fakeEngine plays kind: it reads the config as kind would, "creates" the
// nodes as Node objects in the host API and hands out its kubeconfig.
type fakeEngine struct {
	t          *testing.T
	kubeconfig string               // written on Create ("" = none)
	host       kubernetes.Interface // nodes go here (nil = none)
	onlyCP     bool                 // create the control plane only
	createErr  error
	mu         sync.Mutex
	calls      []string
	nodes      []string
}

func (f *fakeEngine) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeEngine) Calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

func (f *fakeEngine) Create(ctx context.Context, name string, cfg []byte, kc string) error {
	f.record("create " + name)
	if f.createErr != nil {
		return f.createErr
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(cfg, &c); err != nil {
		return fmt.Errorf("kind: invalid config: %w", err)
	}
	if f.kubeconfig != "" {
		b, err := os.ReadFile(f.kubeconfig)
		if err != nil {
			return err
		}
		if err := os.WriteFile(kc, b, 0o600); err != nil {
			return err
		}
	}
	if f.host == nil {
		return nil
	}
	workers := 0
	for _, n := range c.Nodes {
		nodeName := name + "-control-plane"
		if n.Role == v1alpha4.WorkerRole {
			if f.onlyCP {
				continue
			}
			workers++
			nodeName = name + "-worker"
			if workers > 1 {
				nodeName += fmt.Sprint(workers)
			}
		}
		// Labels are left to the environment's label step (older kinds
		// did not apply config labels; the step must not depend on it).
		_, err := f.host.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		f.mu.Lock()
		f.nodes = append(f.nodes, nodeName)
		f.mu.Unlock()
	}
	return nil
}

func (f *fakeEngine) LoadImageArchive(_ context.Context, name, archive string) error {
	ref, err := image.Ref(archive)
	if err != nil {
		return err
	}
	f.record("load " + ref)
	return nil
}

func (f *fakeEngine) CollectLogs(_ context.Context, name, dir string) error {
	f.record("logs " + name)
	return nil
}

func (f *fakeEngine) Delete(ctx context.Context, name, kc string) error {
	f.record("delete " + name)
	if f.host != nil {
		for _, n := range f.nodes {
			f.host.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{})
		}
	}
	return nil
}

// fakeHelm plays `helm upgrade --install` of the vCluster chart: it checks
// the values against the chart schema (as helm does), starts vCluster's
// RuntimeClass syncer as the values configure it, and exports the tenant
// kubeconfig into the host as vCluster does.
type fakeHelm struct {
	t                *testing.T
	host, tenant     kubernetes.Interface
	tenantKubeconfig string
	export           bool
	checkErr         error
	releases         []Release
	stops            []context.CancelFunc
}

func (h *fakeHelm) Check(context.Context) error { return h.checkErr }

func (h *fakeHelm) UpgradeInstall(ctx context.Context, r Release) error {
	h.releases = append(h.releases, r)
	values, err := os.ReadFile(r.ValuesFile)
	if err != nil {
		return err
	}
	if findUp("../shared/upstream/vcluster/values.schema.json") != "" {
		if err := validateValues(h.t, values); err != nil {
			return fmt.Errorf("Error: values don't meet the specifications of the schema(s): %w", err)
		}
	}
	vf, err := config.LoadVCluster(r.ValuesFile, values)
	if err != nil {
		return err
	}
	if rs := vf.Values.RuntimeClassSync(); rs != nil && rs.Enabled {
		s, err := vcluster.NewRuntimeClassSyncer(h.host, h.tenant, vcluster.Config{Enabled: true, Selector: rs.Selector, Logf: func(string, ...any) {}})
		if err != nil {
			return err
		}
		runCtx, cancel := context.WithCancel(context.Background())
		h.stops = append(h.stops, cancel)
		go s.Run(runCtx)
	}
	if !h.export {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.Namespace}}
	if _, err := h.host.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	kc, err := os.ReadFile(h.tenantKubeconfig)
	if err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vc-" + r.Name, Namespace: r.Namespace}, Data: map[string][]byte{"config": kc}}
	if _, err := h.host.CoreV1().Secrets(r.Namespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func (h *fakeHelm) stop() {
	for _, s := range h.stops {
		s()
	}
}

var (
	probeTarOnce sync.Once
	probeTar     string
	probeTarErr  error
)

// testProbeTar is a probe image tarball built from a tiny static binary.
func testProbeTar(t *testing.T) string {
	t.Helper()
	probeTarOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kind-probe-")
		if err != nil {
			probeTarErr = err
			return
		}
		src := filepath.Join(dir, "main.go")
		os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644)
		bin := filepath.Join(dir, "probe")
		cmd := exec.Command("go", "build", "-o", bin, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeTarErr = fmt.Errorf("%v: %s", err, out)
			return
		}
		probeTar = filepath.Join(dir, "probe.tar")
		probeTarErr = image.Build(bin, "ghcr.io/cctest/cctest-probe:kind-test", probeTar)
	})
	if probeTarErr != nil {
		t.Fatal(probeTarErr)
	}
	return probeTar
}

func baseOptions(t *testing.T, e Engine, h Helm, log *bytes.Buffer) Options {
	return Options{Dir: t.TempDir(), ProbeImageTar: testProbeTar(t), Engine: e, Helm: h, Log: log, WaitTimeout: 60 * time.Second}
}

// The whole step list against a real host and tenant API.
func TestCreateAgainstRealAPIs(t *testing.T) {
	host, tenant := apis(t)
	ctx := context.Background()
	eng := &fakeEngine{t: t, kubeconfig: pair.HostKubeconfig(), host: host}
	helm := &fakeHelm{t: t, host: host, tenant: tenant, tenantKubeconfig: pair.TenantKubeconfig(), export: true}
	defer helm.stop()
	var log bytes.Buffer
	o := baseOptions(t, eng, helm, &log)
	c, err := Create(ctx, o)
	if err != nil {
		t.Fatalf("Create: %v\n%s", err, log.String())
	}
	defer cleanupClasses(host, tenant)

	// One progress line per step, in order; only the attestation service is skipped.
	wantSteps := []string{"Checking the container engine and helm", "Writing the kind config and chart values",
		`Creating the host cluster "cctest" (1 control plane, 2 workers)`, "Waiting for the host API",
		"Labelling 2 workers as simulated TEE nodes", "Loading the probe image into the nodes",
		"Creating 3 host RuntimeClasses (handler runc)", "Installing vCluster 0.36.1 from its chart",
		"Waiting for the tenant API", "Waiting for RuntimeClass sync into the tenant"}
	out := log.String()
	at := 0
	for i, s := range wantSteps {
		line := fmt.Sprintf(" ✓ [%d/11] %s (", i+1, s)
		j := strings.Index(out[at:], line)
		if j < 0 {
			t.Fatalf("no progress line %q (in order) in:\n%s", line, out)
		}
		at += j
	}
	if !strings.Contains(out, " - [11/11] Deploying the attestation service: skipped: attestation service: not deployed") {
		t.Errorf("the attestation step does not say it was skipped:\n%s", out)
	}
	if len(c.Gaps) != 1 || c.Gaps[0] != GapAttestation {
		t.Errorf("gaps %q", c.Gaps)
	}

	// Workers labelled through the API.
	for name, tee := range map[string]string{"cctest-worker": teename.TDX, "cctest-worker2": teename.SNP} {
		n, err := host.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Labels[LabelConfidential] != tee || n.Labels[LabelSimulated] != "true" {
			t.Errorf("node %s labels %v, want %s=%s", name, n.Labels, LabelConfidential, tee)
		}
	}
	// Host classes run on runc; the selected one is synced into the tenant, the others are not.
	for _, n := range []string{"kata-qemu-tdx", "kata-qemu-snp", "vnode"} {
		rc, err := host.NodeV1().RuntimeClasses().Get(ctx, n, metav1.GetOptions{})
		if err != nil || rc.Handler != RuncHandler {
			t.Errorf("host RuntimeClass %s: %v %+v", n, err, rc)
		}
	}
	rc, err := tenant.NodeV1().RuntimeClasses().Get(ctx, "kata-qemu-tdx", metav1.GetOptions{})
	if err != nil || rc.Handler != RuncHandler || rc.Annotations[AnnotationRealHandler] != "kata-qemu-tdx" {
		t.Errorf("tenant kata-qemu-tdx: %v %+v", err, rc)
	}
	if _, err := tenant.NodeV1().RuntimeClasses().Get(ctx, "kata-qemu-snp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kata-qemu-snp does not match the selector but is in the tenant (err %v)", err)
	}

	// The files and the kubeconfigs work.
	for _, f := range []string{ConfigFile, ValuesFile, HostKubeconfig, TenantKubeconfig} {
		if _, err := os.Stat(filepath.Join(o.Dir, f)); err != nil {
			t.Error(err)
		}
	}
	tc, err := kubeconfig.Load(c.TenantKubeconfig, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.NewForConfigOrDie(tc).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("tenant kubeconfig: %v", err)
	}
	if c.ProbeImage != "ghcr.io/cctest/cctest-probe:kind-test" {
		t.Errorf("probe image %q", c.ProbeImage)
	}
	if len(helm.releases) != 1 {
		t.Fatalf("releases %+v", helm.releases)
	}
	r := helm.releases[0]
	if r.Name != "tenant" || r.Namespace != "vcluster-tenant" || r.Version != ChartVersion || r.Repo != ChartRepo ||
		r.Kubeconfig != c.HostKubeconfig || r.ValuesFile != filepath.Join(o.Dir, ValuesFile) {
		t.Errorf("release %+v", r)
	}

	// Close deletes the cluster unless Keep.
	if got := eng.Calls(); got != "create cctest,load ghcr.io/cctest/cctest-probe:kind-test" {
		t.Errorf("engine calls before Close: %s", got)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(eng.Calls(), ",delete cctest") {
		t.Errorf("Close did not delete: %s", eng.Calls())
	}
}

func TestCreateKeep(t *testing.T) {
	host, tenant := apis(t)
	eng := &fakeEngine{t: t, kubeconfig: pair.HostKubeconfig(), host: host}
	helm := &fakeHelm{t: t, host: host, tenant: tenant, tenantKubeconfig: pair.TenantKubeconfig(), export: true}
	defer helm.stop()
	var log bytes.Buffer
	o := baseOptions(t, eng, helm, &log)
	o.Keep, o.Name = true, "kept"
	c, err := Create(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer cleanupClasses(host, tenant)
	defer eng.Delete(context.Background(), "kept", "")
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(eng.Calls(), "delete") {
		t.Errorf("Close deleted a kept cluster: %s", eng.Calls())
	}
	if !strings.Contains(log.String(), "kind delete cluster --name kept") {
		t.Errorf("no hint how to delete the kept cluster:\n%s", log.String())
	}
}

// Failures against the real APIs: each names its step and cleans up.
func TestCreateFailuresAgainstRealAPIs(t *testing.T) {
	host, tenant := apis(t)
	cases := map[string]struct {
		engine func() *fakeEngine
		export bool
		want   []string
	}{
		"tenant kubeconfig never exported": {
			engine: func() *fakeEngine { return &fakeEngine{kubeconfig: pair.HostKubeconfig(), host: host} },
			want: []string{"Waiting for the tenant API", "vCluster did not export the tenant kubeconfig (Secret vcluster-tenant/vc-tenant in the host) within 2s",
				`secrets "vc-tenant" not found`},
		},
		"worker missing": {
			engine: func() *fakeEngine { return &fakeEngine{kubeconfig: pair.HostKubeconfig(), host: host, onlyCP: true} },
			export: true,
			want:   []string{"Labelling 2 workers as simulated TEE nodes", "label worker cctest-worker (confidential-compute=tdx)", "node cctest-worker not found"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			eng := tc.engine()
			helm := &fakeHelm{t: t, host: host, tenant: tenant, tenantKubeconfig: pair.TenantKubeconfig(), export: tc.export}
			defer helm.stop()
			defer cleanupClasses(host, tenant)
			var log bytes.Buffer
			o := baseOptions(t, eng, helm, &log)
			o.WaitTimeout = 2 * time.Second
			_, err := Create(context.Background(), o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasSuffix(eng.Calls(), "delete cctest") {
				t.Errorf("a failed Create did not delete the cluster: %s", eng.Calls())
			}
		})
	}
}

func cleanupClasses(host, tenant kubernetes.Interface) {
	ctx := context.Background()
	for _, n := range []string{"kata-qemu-tdx", "kata-qemu-snp", "vnode"} {
		host.NodeV1().RuntimeClasses().Delete(ctx, n, metav1.DeleteOptions{})
		tenant.NodeV1().RuntimeClasses().Delete(ctx, n, metav1.DeleteOptions{})
	}
	host.CoreV1().Secrets("vcluster-tenant").Delete(ctx, "vc-tenant", metav1.DeleteOptions{})
}

// Failures before any API exists: no engine, no helm, kind failing, no
// kubeconfig, an unreachable cluster, missing inputs.
func TestCreateFailuresWithoutAPI(t *testing.T) {
	closedPort := func() int {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return p
	}()
	deadKubeconfig := filepath.Join(t.TempDir(), "dead.kubeconfig")
	os.WriteFile(deadKubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, closedPort)), 0o600)

	cases := map[string]struct {
		opts       func(o *Options)
		noEngine   bool
		engine     *fakeEngine
		want       []string
		wantCalls  string
		wantLogged string
	}{
		"no container engine": {
			noEngine: true,
			want:     []string{"Checking the container engine and helm: " + wantNoEngine},
		},
		"no helm": {
			engine:    &fakeEngine{},
			opts:      func(o *Options) { o.Helm = nil },
			want:      []string{"helm not found on PATH"},
			wantCalls: "",
		},
		"kind fails": {
			engine:     &fakeEngine{createErr: errors.New("failed to create cluster: node(s) already exist for a cluster with the name \"cctest\"")},
			want:       []string{`Creating the host cluster "cctest" (1 control plane, 2 workers): failed to create cluster: node(s) already exist`},
			wantCalls:  "create cctest,delete cctest",
			wantLogged: "deleting the cluster \"cctest\" (use --keep to keep it for debugging)",
		},
		"kind fails, kept": {
			engine:     &fakeEngine{createErr: errors.New("boom")},
			opts:       func(o *Options) { o.Keep = true },
			want:       []string{"boom"},
			wantCalls:  "create cctest",
			wantLogged: "kept the cluster for debugging (--keep): kind delete cluster --name cctest",
		},
		"no kubeconfig": {
			engine:    &fakeEngine{},
			want:      []string{"Waiting for the host API: kind did not write the host kubeconfig"},
			wantCalls: "create cctest,delete cctest",
		},
		"unreachable cluster": {
			engine: &fakeEngine{kubeconfig: deadKubeconfig},
			want: []string{fmt.Sprintf(`Waiting for the host API: the kind host cluster "cctest" is not reachable: the API server at https://127.0.0.1:%d did not answer within 1s`, closedPort),
				"connection refused"},
			wantCalls: "create cctest,delete cctest",
		},
		"no probe image": {
			engine: &fakeEngine{},
			opts:   func(o *Options) { o.ProbeImageTar = "" },
			want:   []string{"no probe image: build it with probe/image.Build"},
		},
		"no dir": {
			engine: &fakeEngine{},
			opts:   func(o *Options) { o.Dir = "" },
			want:   []string{"Options.Dir is required"},
		},
		"private nodes": {
			engine: &fakeEngine{},
			opts:   func(o *Options) { o.VClusterYAML = []byte("privateNodes:\n  enabled: true\n") },
			want:   []string{"need the vCluster Platform"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pathDir := t.TempDir()
			onlyPath(t, pathDir)
			fakeCLI(t, pathDir, "true-helm", "exit 0\n")
			var log bytes.Buffer
			var e Engine
			if !tc.noEngine {
				e = tc.engine
			}
			o := baseOptions(t, e, &fakeHelm{t: t}, &log)
			o.WaitTimeout = time.Second
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := Create(context.Background(), o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nlacks:\n%s", err, w)
				}
			}
			if tc.engine != nil && tc.engine.Calls() != tc.wantCalls {
				t.Errorf("engine calls %q, want %q", tc.engine.Calls(), tc.wantCalls)
			}
			if tc.wantLogged != "" && !strings.Contains(log.String(), tc.wantLogged) {
				t.Errorf("log lacks %q:\n%s", tc.wantLogged, log.String())
			}
		})
	}
}

func TestCreateStopsWhenCancelled(t *testing.T) {
	eng := &fakeEngine{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	_, err := Create(ctx, baseOptions(t, eng, &fakeHelm{t: t}, &log))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if eng.Calls() != "" {
		t.Errorf("engine called after cancel: %s", eng.Calls())
	}
}
