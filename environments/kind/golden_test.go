package kind

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/api/teename"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./environments/kind -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

// A custom tenant: shared nodes with the user's own control-plane settings,
// which the generated values must keep.
const customVCluster = `sync:
  fromHost:
    runtimeClasses:
      enabled: true
      selector:
        matchExpressions:
        - key: confidential-compute
          operator: In
          values: [tdx, sev-snp]
controlPlane:
  proxy:
    extraSANs: [tenant.example.com, localhost]
  statefulSet:
    resources:
      limits:
        memory: 2Gi
exportKubeConfig:
  context: my-tenant
`

var goldenCases = map[string]Options{
	"default": {},
	"custom": {
		Name: "ci", Workers: 4, TEE: []string{"snp", "tdx", "none"}, NodeImage: "kindest/node:v1.37.0",
		TenantPort: 32443, ChartVersion: "0.36.1", VClusterYAML: []byte(customVCluster), VClusterFile: "custom.yaml",
	},
}

func TestConfigGolden(t *testing.T) {
	for name, o := range goldenCases {
		t.Run(name, func(t *testing.T) {
			b, err := Config(o)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "kind-config-"+name+".yaml", b)
		})
	}
}

// The config reads back strictly as kind's v1alpha4 type, with the TEE
// labels on the right workers and the tenant port published on loopback.
func TestConfigReadsAsKindV1Alpha4(t *testing.T) {
	o := goldenCases["custom"]
	b, err := Config(o)
	if err != nil {
		t.Fatal(err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("kind would not read the config: %v", err)
	}
	if c.APIVersion != "kind.x-k8s.io/v1alpha4" || c.Kind != "Cluster" || c.Name != "ci" {
		t.Errorf("header %s/%s %s", c.APIVersion, c.Kind, c.Name)
	}
	if len(c.Nodes) != 5 || c.Nodes[0].Role != v1alpha4.ControlPlaneRole {
		t.Fatalf("nodes %+v, want a control plane and 4 workers", c.Nodes)
	}
	pm := c.Nodes[0].ExtraPortMappings
	if len(pm) != 1 || pm[0].ContainerPort != TenantNodePort || pm[0].HostPort != 32443 || pm[0].ListenAddress != "127.0.0.1" {
		t.Errorf("control-plane port mappings %+v", pm)
	}
	wantTEE := []string{teename.SNP, teename.TDX, "", ""}
	for i, n := range c.Nodes[1:] {
		if n.Role != v1alpha4.WorkerRole || n.Image != "kindest/node:v1.37.0" {
			t.Errorf("worker %d: role %s image %s", i, n.Role, n.Image)
		}
		if got := n.Labels[LabelConfidential]; got != wantTEE[i] {
			t.Errorf("worker %d: %s=%q, want %q", i, LabelConfidential, got, wantTEE[i])
		}
		if (n.Labels[LabelSimulated] == "true") != (wantTEE[i] != "") {
			t.Errorf("worker %d: %s=%q", i, LabelSimulated, n.Labels[LabelSimulated])
		}
	}
}

func TestValuesGolden(t *testing.T) {
	for name, o := range goldenCases {
		t.Run(name, func(t *testing.T) {
			b, err := ChartValues(o)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "values-"+name+".yaml", b)
		})
	}
}

// The user's settings survive; kind's additions are merged, not replaced.
func TestValuesKeepUserSettings(t *testing.T) {
	b, err := ChartValues(goldenCases["custom"])
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	cp := v["controlPlane"].(map[string]any)
	sans := cp["proxy"].(map[string]any)["extraSANs"].([]any)
	if strings.Join(toStrings(sans), ",") != "tenant.example.com,localhost,127.0.0.1" {
		t.Errorf("extraSANs %v", sans)
	}
	if cp["statefulSet"] == nil {
		t.Error("controlPlane.statefulSet was dropped")
	}
	ex := v["exportKubeConfig"].(map[string]any)
	if ex["context"] != "my-tenant" || ex["server"] != "https://127.0.0.1:32443" {
		t.Errorf("exportKubeConfig %v", ex)
	}

	// A server the user set is theirs.
	o := goldenCases["custom"]
	o.VClusterYAML = []byte("exportKubeConfig:\n  server: https://tenant.example.com\n")
	b, err = ChartValues(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "server: https://tenant.example.com\n") || strings.Contains(string(b), "127.0.0.1:32443") {
		t.Errorf("the user's exportKubeConfig.server was replaced:\n%s", b)
	}
}

func toStrings(xs []any) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.(string))
	}
	return out
}

func TestValuesRejectBadTenants(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"private nodes": {"privateNodes:\n  enabled: true\n", "private and auto nodes need the vCluster Platform"},
		"unknown field": {"sync:\n  fromHost:\n    runtimeClasss:\n      enabled: true\n", "sync.fromHost.runtimeClasss"},
		"bad selector": {"sync:\n  fromHost:\n    runtimeClasses:\n      enabled: true\n      selector:\n        matchExpressions:\n        - key: a\n          operator: Sometimes\n",
			"sync.fromHost.runtimeClasses.selector"},
		"not yaml": {"sync: [\n", "bad.yaml"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ChartValues(Options{VClusterYAML: []byte(c.yaml), VClusterFile: "bad.yaml"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// The fixture of the private-nodes shape is refused too, naming the file.
	if _, err := ChartValues(Options{VClusterYAML: mustFixture(t, "reference/vcluster-private-nodes.yaml"), VClusterFile: "vcluster-private-nodes.yaml"}); err == nil ||
		!strings.Contains(err.Error(), "vcluster-private-nodes.yaml: privateNodes.enabled") {
		t.Errorf("private-nodes fixture: %v", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	cases := map[string]struct {
		o    Options
		want string
	}{
		"unknown TEE":           {Options{TEE: []string{"tdx", "sgx"}}, `TEE of worker 2: unknown TEE "sgx"`},
		"fewer workers":         {Options{Workers: 1, TEE: []string{"tdx", "snp"}}, "1 workers but 2 TEE entries"},
		"too many workers":      {Options{Workers: 99}, "99 workers"},
		"no workers":            {Options{TEE: []string{}}, "no workers"},
		"port out of range":     {Options{TenantPort: 70000}, "tenant port 70000"},
		"negative worker count": {Options{Workers: -1}, "-1 workers"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Config(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Defaults: more workers than TEE defaults are plain.
	o, err := Options{Workers: 3}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.TEE, ",") != "tdx,sev-snp," {
		t.Errorf("default TEE for 3 workers: %q", o.TEE)
	}
	ws := o.workers()
	if ws[0].Name != "cctest-worker" || ws[2].Name != "cctest-worker3" {
		t.Errorf("worker names %+v", ws)
	}
	if o, _ := (Options{Workers: 1}).withDefaults(); strings.Join(o.TEE, ",") != "tdx" {
		t.Errorf("default TEE for 1 worker: %q", o.TEE)
	}
}

func TestHostRuntimeClassesRunOnRunc(t *testing.T) {
	rcs, err := HostRuntimeClasses()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rc := range rcs {
		if rc.Handler != RuncHandler {
			t.Errorf("%s: handler %s, want runc", rc.Name, rc.Handler)
		}
		got[rc.Name] = rc.Annotations[AnnotationRealHandler]
	}
	want := map[string]string{"kata-qemu-tdx": "kata-qemu-tdx", "kata-qemu-snp": "kata-qemu-snp", "vnode": "vnode"}
	for n, h := range want {
		if got[n] != h {
			t.Errorf("%s: real handler %q, want %q (all: %v)", n, got[n], h, got)
		}
	}
	// The labels the sync selector picks by stay.
	for _, rc := range rcs {
		if rc.Name == "kata-qemu-tdx" && rc.Labels[LabelConfidential] != teename.TDX {
			t.Errorf("kata-qemu-tdx lost its %s label: %v", LabelConfidential, rc.Labels)
		}
	}
}
