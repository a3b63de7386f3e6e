package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/fixtures"
)

func mustFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// problemsOf returns the problems of err (fails on a non-Problems error).
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	if err == nil {
		return nil
	}
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("error is %T, not Problems: %v", err, err)
	}
	return ps
}

func wantProblem(t *testing.T, ps Problems, path, sub string) {
	t.Helper()
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, sub) {
			return
		}
	}
	t.Errorf("no problem at %s containing %q; got:\n%s", path, sub, ps.Error())
}

func TestReferenceVClusterLoadsAndValidates(t *testing.T) {
	for _, name := range []string{"reference/vcluster.yaml", "reference/vcluster-shared-nodes.yaml", "reference/vcluster-private-nodes.yaml",
		"reference/vcluster-cloud.yaml", "reference/vcluster-embedded.yaml"} {
		f, err := LoadVCluster(name, mustFixture(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ps := f.Validate(); len(ps) > 0 {
			t.Fatalf("%s: %v", name, ps)
		}
	}
	f, _ := LoadVCluster("vcluster.yaml", mustFixture(t, "reference/vcluster.yaml"))
	v := &f.Values
	if !v.PrivateNodesEnabled() || v.RuntimeClassSync() == nil || !v.RuntimeClassSync().Enabled {
		t.Fatal("reference: private nodes and runtime class sync expected")
	}
	pools := v.Pools()
	if len(pools) != 1 || pools[0].Name != "confidential-workers" || pools[0].Provider != "bare-metal" ||
		pools[0].Path != "privateNodes.autoNodes[0].dynamic[0]" {
		t.Fatalf("pools = %+v", pools)
	}
	r := pools[0].NodeTypeSelector[0]
	if r.Property != "confidential-compute" || r.Operator != mgmtv1.OpIn || r.Values[0] != "tdx" {
		t.Fatalf("requirement = %+v", r)
	}
	if f.Line("privateNodes.autoNodes[0].dynamic[0].nodeTypeSelector") == 0 {
		t.Error("no line recorded for nodeTypeSelector")
	}
	if !v.ContainerdManagedAtJoin() {
		t.Error("containerd default should be true")
	}
}

func TestUnknownFieldNamesPathAndLine(t *testing.T) {
	data := []byte(`privateNodes:
  enabled: true
  autoNodes:
  - provider: bare-metal
    dynamic:
    - name: confidential-workers
      nodeTypeSelectr:
      - property: confidential-compute
`)
	_, err := LoadVCluster("vc.yaml", data)
	ps := problemsOf(t, err)
	if len(ps) != 1 {
		t.Fatalf("problems = %v", ps)
	}
	p := ps[0]
	if p.Path != "privateNodes.autoNodes[0].dynamic[0].nodeTypeSelectr" || p.Line != 7 || p.File != "vc.yaml" {
		t.Fatalf("problem = %+v", p)
	}
	if !strings.Contains(p.Error(), `vc.yaml:7:7: privateNodes.autoNodes[0].dynamic[0].nodeTypeSelectr: unknown field (did you mean "nodeTypeSelector"?)`) {
		t.Fatalf("message = %s", p.Error())
	}
}

func TestStrictParsingCollectsAllProblems(t *testing.T) {
	data := []byte(`sync:
  fromHost:
    runtimeClasses:
      enabled: "yes"
      selectr: {}
  toHost:
    pods:
      runtimeClassNam: kata
controlPlane:
  anything: {goes: [here]}
bogusTop: 1
experimental:
  deploy:
    vcluster:
      manifest: ""
privateNodes:
  autoNodes:
  - provider: p
    static:
    - name: s
      quantity: three
`)
	_, err := LoadVCluster("vc.yaml", data)
	ps := problemsOf(t, err)
	wantProblem(t, ps, "sync.fromHost.runtimeClasses.enabled", "expected true or false")
	wantProblem(t, ps, "sync.fromHost.runtimeClasses.selectr", "unknown field")
	wantProblem(t, ps, "sync.toHost.pods.runtimeClassNam", `did you mean "runtimeClassName"`)
	wantProblem(t, ps, "bogusTop", "unknown field")
	wantProblem(t, ps, "experimental.deploy.vcluster.manifest", "unknown field")
	wantProblem(t, ps, "privateNodes.autoNodes[0].static[0].quantity", "expected an integer")
	if len(ps) != 6 {
		t.Errorf("want 6 problems, got %d:\n%v", len(ps), ps)
	}
}

func TestOpaqueTopLevelKeysAccepted(t *testing.T) {
	data := []byte(`controlPlane: {distro: {k8s: {enabled: true}}}
networking: {}
policies: {networkPolicy: {enabled: true}}
exportKubeConfig: {}
rbac: {}
telemetry: {enabled: false}
`)
	if _, err := LoadVCluster("vc.yaml", data); err != nil {
		t.Fatal(err)
	}
}

func TestAutoNodesMapFormRejected(t *testing.T) {
	data := []byte(`privateNodes:
  enabled: true
  autoNodes:
    provider: bare-metal
    dynamic:
    - name: w
`)
	_, err := LoadVCluster("vc.yaml", data)
	ps := problemsOf(t, err)
	wantProblem(t, ps, "privateNodes.autoNodes", "map form of autoNodes was replaced by an array")
}

func TestSyntaxErrorAndMultiDoc(t *testing.T) {
	if _, err := LoadVCluster("vc.yaml", []byte("sync: [\n")); err == nil || !strings.Contains(err.Error(), "YAML syntax") {
		t.Fatalf("err = %v", err)
	}
	_, err := LoadVCluster("vc.yaml", []byte("sync: {}\n---\nsync: {}\n"))
	ps := problemsOf(t, err)
	wantProblem(t, ps, "", "single YAML document")
	if _, err := LoadVCluster("vc.yaml", []byte("privateNodes:\n  enabled: true\n  enabled: false\n")); err == nil {
		t.Fatal("duplicate key accepted")
	}
	f, err := LoadVCluster("vc.yaml", []byte("# only a comment\n"))
	if err != nil || f.Values.PrivateNodes != nil {
		t.Fatalf("empty document: %v", err)
	}
}

func validateYAML(t *testing.T, data string) Problems {
	t.Helper()
	f, err := LoadVCluster("vc.yaml", []byte(data))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f.Validate()
}

func TestValidateOperators(t *testing.T) {
	pool := func(req string) string {
		return "privateNodes:\n  enabled: true\n  autoNodes:\n  - provider: p\n    dynamic:\n    - name: w\n      nodeTypeSelector:\n      - " + req + "\n"
	}
	const rp = "privateNodes.autoNodes[0].dynamic[0].nodeTypeSelector[0]"
	valid := []string{
		"{property: a, values: [x]}",
		"{property: a, operator: In, values: [x]}",
		"{property: a, operator: In, value: x}",
		"{property: a, operator: NotIn, values: [x, y]}",
		"{property: a, operator: Exists}",
		"{property: a, operator: DoesNotExist}",
		"{property: a, operator: Gt, value: '3'}",
		"{property: a, operator: Lt, values: ['10']}",
	}
	for _, v := range valid {
		if ps := validateYAML(t, pool(v)); len(ps) > 0 {
			t.Errorf("%s: %v", v, ps)
		}
	}
	invalid := []struct{ req, path, sub string }{
		{"{property: a, operator: NotExists}", rp + ".operator", `"NotExists" is not supported by vCluster`},
		{"{property: a, operator: Equal, values: [x]}", rp + ".operator", "unsupported operator"},
		{"{property: a, operator: In}", rp + ".values", "at least one value"},
		{"{property: a, operator: NotIn, values: []}", rp + ".values", "at least one value"},
		{"{property: a, operator: Exists, values: [x]}", rp + ".values", "takes no values"},
		{"{property: a, operator: DoesNotExist, value: x}", rp + ".values", "takes no values"},
		{"{property: a, operator: Gt, values: ['1', '2']}", rp + ".values", "exactly one value"},
		{"{property: a, operator: Lt, value: ten}", rp + ".values", "integer"},
		{"{property: a, value: x, values: [y]}", rp + ".value", "mutually exclusive"},
		{"{operator: Exists}", rp + ".property", "required"},
	}
	for _, c := range invalid {
		wantProblem(t, validateYAML(t, pool(c.req)), c.path, c.sub)
	}
}

func TestValidatePoolsAndProviders(t *testing.T) {
	ps := validateYAML(t, `privateNodes:
  enabled: true
  autoNodes:
  - provider: bare-metal
    static:
    - name: workers
      quantity: 1
    - name: nodes-without-quantity
    - name: negative
      quantity: -1
    dynamic:
    - name: workers
      taints:
      - {key: dedicated, effect: NoScheduleX}
      nodeLabels:
        "bad key!": v
  - provider: bare-metal
    dynamic:
    - name: other
  - dynamic:
    - name: ""
`)
	wantProblem(t, ps, "privateNodes.autoNodes[0].dynamic[0].name", `pool name "workers" is already used at privateNodes.autoNodes[0].static[0]`)
	wantProblem(t, ps, "privateNodes.autoNodes[0].static[1]", "quantity is required")
	wantProblem(t, ps, "privateNodes.autoNodes[0].static[2].quantity", "must be >= 0")
	wantProblem(t, ps, "privateNodes.autoNodes[0].dynamic[0].taints[0].effect", "NoSchedule")
	wantProblem(t, ps, `privateNodes.autoNodes[0].dynamic[0].nodeLabels["bad key!"]`, "invalid label key")
	wantProblem(t, ps, "privateNodes.autoNodes[1].provider", `provider "bare-metal" is already configured at privateNodes.autoNodes[0]`)
	wantProblem(t, ps, "privateNodes.autoNodes[2]", "provider is required")
	wantProblem(t, ps, "privateNodes.autoNodes[2].dynamic[0]", "name is required")
}

func TestValidateSyncAndManifests(t *testing.T) {
	ps := validateYAML(t, `sync:
  fromHost:
    runtimeClasses:
      enabled: true
      selector:
        matchExpressions:
        - {key: confidential-compute, operator: Within, values: [tdx]}
      patches:
      - expression: x
experimental:
  deploy:
    vcluster:
      manifests: |
        apiVersion: node.k8s.io/v1
        kind: RuntimeClass
        metadata: {name: kata-qemu-tdx}
        handlr: kata-qemu-tdx
`)
	wantProblem(t, ps, "sync.fromHost.runtimeClasses.selector", "invalid label selector")
	wantProblem(t, ps, "sync.fromHost.runtimeClasses.patches[0].path", "required")
	wantProblem(t, ps, "experimental.deploy.vcluster.manifests", "handlr: RuntimeClass \"kata-qemu-tdx\": unknown field")
}

func TestValidateRuntimeClassPatches(t *testing.T) {
	ps := validateYAML(t, `sync:
  fromHost:
    runtimeClasses:
      enabled: true
      patches:
      - {path: metadata.labels.a, expression: x}
      - {path: metadata.labels.b, reverseExpression: x, labels: {}}
      - {path: metadata.labels.c}
      - {path: metadata.labels.a, reference: {apiVersion: v1, kind: Secret}}
`)
	const base = "sync.fromHost.runtimeClasses.patches"
	wantProblem(t, ps, base+"[1]", "can only use one of: expression (or reverseExpression), labels or reference")
	wantProblem(t, ps, base+"[2]", "needs one of: expression (or reverseExpression), labels or reference")
	wantProblem(t, ps, base+"[3].path", `path "metadata.labels.a" is already patched by `+base+"[0]")
	if len(ps) != 3 {
		t.Fatalf("problems = %v", ps)
	}
}

// vCluster's validatePrivatedNodesMode, switch by switch.
func TestValidatePrivateNodesMode(t *testing.T) {
	for _, u := range unsupportedWithPrivateNodes {
		keys := strings.Split(u.path, ".") // a.b.c: true as {a: {b: {c: true}}}
		src := "privateNodes: {enabled: true}\n" + strings.Join(keys, ": {") + ": true" + strings.Repeat("}", len(keys)-1) + "\n"
		ps := validateYAML(t, src)
		wantProblem(t, ps, u.path, "is not supported in private nodes mode")
		if ps[0].Rule != RulePrivateNodes {
			t.Errorf("%s: rule %q", u.path, ps[0].Rule)
		}
		if ps := validateYAML(t, strings.Replace(src, "enabled: true}\n", "enabled: false}\n", 1)); len(ps) > 0 {
			t.Errorf("%s refused on shared nodes: %v", u.path, ps)
		}
	}
	wantProblem(t, validateYAML(t, "controlPlane: {endpoint: \"10.0.0.1:443\"}\n"), "controlPlane.endpoint", "only supported in private nodes mode")
	wantProblem(t, validateYAML(t, "privateNodes: {enabled: true}\ncontrolPlane: {endpoint: cp.example.com}\n"), "controlPlane.endpoint", `"cp.example.com" must be host:port`)
	if ps := validateYAML(t, "privateNodes: {enabled: true}\ncontrolPlane: {endpoint: \"cp.example.com:443\", coredns: {embedded: false}}\n"); len(ps) > 0 {
		t.Fatal(ps)
	}
}

// Documented property values that are not label values: the platform's
// provisioning properties, several values and any value.
func TestNodeProviderDocumentedProperties(t *testing.T) {
	np := []byte(`apiVersion: management.loft.sh/v1
kind: NodeProvider
metadata: {name: bare-metal}
spec:
  properties:
    vcluster.com/user-data: |
      #cloud-config
      packages: [kata-containers]
  metal3:
    clusterRef: {cluster: datacenter, namespace: metal3}
    nodeTypes:
    - name: tdx-large
      resources: {cpu: "64", memory: 512Gi}
      properties:
        metal3.vcluster.com/image-url: https://images.example.com/tdx-node.qcow2
        metal3.vcluster.com/image-checksum: https://images.example.com/tdx-node.qcow2.sha256sum
        metal3.vcluster.com/network-data: '{"links": []}'
        cpu-generation: "old,new"
        zone-any: "*"
`)
	if _, err := LoadNodeProviders("np.yaml", np); err != nil {
		t.Fatal(err)
	}
}

func TestLoadObjectsStrictMultiDoc(t *testing.T) {
	data := []byte(`apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: kata, labels: {confidential-compute: tdx}}
handler: kata
---
# a comment-only document is skipped
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: i
    resources: {limits: {cpu: 500m, memory: 1Gi}}
    imagePullPolicyy: Always
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
spec: {anything: true}
`)
	objs, err := LoadObjects("m.yaml", data)
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Path != "spec.containers[0].imagePullPolicyy" || ps[0].Line != 16 {
		t.Fatalf("problems = %v", ps)
	}
	if len(objs) != 3 {
		t.Fatalf("objects = %d", len(objs))
	}
	if rc, ok := objs[0].Obj.(*nodev1.RuntimeClass); !ok || rc.Handler != "kata" || rc.Labels["confidential-compute"] != "tdx" {
		t.Fatalf("runtime class = %#v", objs[0].Obj)
	}
	pod := objs[1].Obj.(*corev1.Pod)
	if q := pod.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU]; q.MilliValue() != 500 {
		t.Fatalf("quantity = %v", q)
	}
	if _, ok := objs[2].Obj.(*unstructured.Unstructured); !ok || objs[2].Kind != "Widget" {
		t.Fatalf("unknown kind = %#v", objs[2])
	}
	if _, err := LoadObjects("m.yaml", []byte("kind: Pod\n")); err == nil {
		t.Fatal("missing apiVersion accepted")
	}
	if _, err := LoadObjects("m.yaml", []byte("- a\n- b\n")); err == nil {
		t.Fatal("a list document accepted")
	}
}

func TestLoadNodeProviders(t *testing.T) {
	nps, err := LoadNodeProviders("np.yaml", mustFixture(t, "reference/node-provider.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(nps) != 1 || nps[0].Provider.Name != "bare-metal" {
		t.Fatalf("providers = %+v", nps)
	}
	types := nps[0].Provider.NodeTypeObjects()
	if len(types) != 4 || types[0].Name != "tdx-large" || types[0].Spec.ProviderRef != "bare-metal" {
		t.Fatalf("types = %+v", types)
	}
	chosen, _ := mgmtv1.SelectCheapest(types, []mgmtv1.Requirement{{Property: "confidential-compute", Values: []string{"sev-snp"}}}, nil, nil)
	if chosen == nil || chosen.Name != "snp-large" {
		t.Fatalf("chosen %v", chosen)
	}

	bad := []byte(`apiVersion: management.loft.sh/v1
kind: NodeProvider
metadata: {name: two}
spec:
  terraform: {}
  metal3:
    clusterRef: {cluster: ""}
    nodeTypes:
    - name: a
      properties: {confidential-compute: "tdx gen5", cpu-generation: "old,new gen"}
    - name: a
      bareMetalHosts: {selector: {matchExpressions: [{key: x, operator: Bogus}]}}
    - name: b
      cpu: "4"
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c, image: i}]}
`)
	_, err = LoadNodeProviders("np.yaml", bad)
	ps := problemsOf(t, err)
	wantProblem(t, ps, "spec", "several providers set (terraform, metal3)")
	wantProblem(t, ps, "spec.metal3.clusterRef", "cluster is required")
	wantProblem(t, ps, "spec.metal3.nodeTypes[0].properties.confidential-compute", "not a valid label value")
	wantProblem(t, ps, "spec.metal3.nodeTypes[0].properties.cpu-generation", `"new gen" is not a valid label value`)
	wantProblem(t, ps, "spec.metal3.nodeTypes[1].name", `node type "a" is already defined`)
	wantProblem(t, ps, "spec.metal3.nodeTypes[1].bareMetalHosts.selector", "invalid label selector")
	wantProblem(t, ps, "spec.metal3.nodeTypes[2].cpu", "unknown field")
	wantProblem(t, ps, "kind", "expected a NodeProvider")
}

// upstreamDir finds ../shared/upstream/vcluster from the repository root.
func upstreamDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for i := 0; i < 6; i++ {
		p := filepath.Join(dir, "..", "shared", "upstream", "vcluster")
		if _, err := os.Stat(filepath.Join(p, "values.schema.json")); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("../shared/upstream/vcluster not found")
	return ""
}

// Each version's chart defaults must parse under the strict model and pass
// that version's rules: proves the opaque key lists beside the typed fields
// match the real charts.
func TestChartDefaultsParseStrictly(t *testing.T) {
	dir := upstreamDir(t)
	for ver, file := range map[VClusterVersion]string{DefaultVClusterVersion: "v0.36.1/values.yaml", VClusterMain: "values.yaml"} {
		f, err := LoadVClusterFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if ps := f.ValidateFor(ver); len(ps) > 0 {
			t.Fatalf("%s: %v", file, ps)
		}
	}
}

func FuzzLoadVCluster(f *testing.F) {
	for _, name := range []string{"reference/vcluster.yaml", "reference/vcluster-shared-nodes.yaml"} {
		f.Add(mustFixture(f, name))
	}
	f.Add([]byte("privateNodes: {autoNodes: {provider: x}}"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("x: &x {<<: *x}"))
	f.Add([]byte("sync: &x {<<: [*x, *x]}")) // once an endless merge expansion
	f.Add([]byte("global: &x [*x, *x]"))     // once a million-node expansion
	f.Add([]byte("privateNodes:\n  autoNodes:\n  - provider: p\n    static:\n    - {name: s, quantity: 99999999999999999999}\n"))
	f.Add([]byte("experimental: {deploy: {vcluster: {manifests: \"kind: Pod\\n---\\n- x\"}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vf, err := LoadVCluster("fuzz.yaml", data)
		if err == nil && vf != nil {
			_ = vf.Validate()
		}
		if vf != nil {
			_ = vf.Values.Pools()
		}
	})
}

func BenchmarkLoadAndValidateVCluster(b *testing.B) {
	data := mustFixture(b, "reference/vcluster.yaml")
	for i := 0; i < b.N; i++ {
		f, err := LoadVCluster("vcluster.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		f.Validate()
	}
}
