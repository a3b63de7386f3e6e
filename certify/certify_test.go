package certify

import (
	"bytes"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/fixtures"
)

// readFixture reads "reference/x.yaml" style names from the embedded
// fixtures, "inline:<name>" from the test's inline files, and anything else
// from disk.
func reader(inline map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := inline[name]; ok {
			return []byte(s), nil
		}
		if b, err := fixtures.Read(name); err == nil {
			return b, nil
		}
		return os.ReadFile(name)
	}
}

func reference() Inputs {
	return Inputs{
		NodeProviders:   []string{"reference/node-provider.yaml"},
		VClusters:       []string{"reference/vcluster.yaml"},
		RuntimeClasses:  []string{"reference/runtimeclass.yaml"},
		Workloads:       []string{"reference/workload.yaml"},
		NetworkPolicies: []string{"reference/network-policies.yaml"},
		Policies:        []string{"reference/attestation-policy.yaml"},
		ReadFile:        reader(nil),
	}
}

func certifyRun(t *testing.T, in Inputs) *Report {
	t.Helper()
	rep, err := Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func dump(rep *Report) string {
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	return b.String()
}

// The seed's reference configuration: no errors, and exactly the warnings
// vCluster's source predicts (see docs/vcluster-facts.md).
func TestReferenceRun(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Inputs
		want []string // IDs of the expected warnings
	}{
		// sync + private nodes: sync is a no-op (CC032), so the workload's
		// RuntimeClass exists only on the host (CC033), and containerd at join
		// can wipe Kata handlers (CC037).
		{"seed vcluster.yaml", reference(), []string{"CC032", "CC033", "CC037"}},
		// shared nodes: sync works; the only warning is tenancy (CC060).
		{"shared nodes", sharedBase(), []string{"CC060"}},
		{"private nodes done right", privateBase(), nil},
		{"cloud confidential VMs", cloudBase(), nil},
	} {
		rep := certifyRun(t, c.in)
		var got []string
		for _, f := range rep.Findings {
			if f.Severity == SeverityError {
				t.Errorf("%s: unexpected error %s: %s", c.name, f.ID, f.Message)
			}
			got = append(got, f.ID)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: findings %v, want %v\n%s", c.name, got, c.want, dump(rep))
		}
	}
}

func BenchmarkRunReference(b *testing.B) {
	in := reference()
	for i := 0; i < b.N; i++ {
		if _, err := Run(in); err != nil {
			b.Fatal(err)
		}
	}
}

func privateBase() Inputs {
	in := reference()
	in.VClusters = []string{"reference/vcluster-private-nodes.yaml"}
	return in
}

func cloudBase() Inputs {
	in := reference()
	in.NodeProviders = []string{"reference/node-provider-cloud.yaml"}
	in.VClusters = []string{"reference/vcluster-cloud.yaml"}
	in.Workloads = []string{"reference/workload-cloud-cvm.yaml"}
	in.RuntimeClasses = nil
	return in
}

func sharedBase() Inputs {
	in := reference()
	in.VClusters = []string{"reference/vcluster-shared-nodes.yaml"}
	return in
}

func schemaPath(t *testing.T) string {
	dir, _ := os.Getwd()
	for i := 0; i < 6; i++ {
		p := dir + "/../shared/upstream/vcluster/values.schema.json"
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = dir[:max(0, strings.LastIndex(dir, "/"))]
	}
	t.Skip("../shared/upstream/vcluster/values.schema.json not found")
	return ""
}

func TestCleanBasesHaveNoFindings(t *testing.T) {
	for name, in := range map[string]Inputs{"private": privateBase(), "cloud": cloudBase()} {
		in.VClusterSchema = schemaPath(t)
		rep := certifyRun(t, in)
		if len(rep.Findings) > 0 {
			t.Errorf("%s base has findings:\n%s", name, dump(rep))
		}
		if rep.Result(CheckVClusterSchema.ID).Status != StatusPass {
			t.Errorf("%s: schema check did not run: %+v", name, rep.Result(CheckVClusterSchema.ID))
		}
	}
}

// Every check has a failing input (a negative fixture) and passes on a clean base.
func TestEveryCheckPassesAndFails(t *testing.T) {
	neg := func(s string) []string { return []string{"negative/" + s} }
	cases := []struct {
		check Check
		base  func() Inputs
		mod   func(*Inputs)
		want  Severity
		msg   string // in the message of a finding of that severity ("" = any)
	}{
		{CheckVClusterValid, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-unknown-field.yaml") }, SeverityError, ""},
		{CheckVClusterSchema, privateBase, func(in *Inputs) {
			in.VClusters = neg("vcluster-schema-violation.yaml")
			in.VClusterSchema = schemaPath(t)
		}, SeverityError, ""},
		{CheckInputsValid, privateBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-unknown-field.yaml") }, SeverityError, ""},
		{CheckAutoNodesArray, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-autonodes-map-form.yaml") }, SeverityError, ""},
		{CheckRequirements, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-notexists-operator.yaml") }, SeverityError, ""},
		{CheckProviderUnique, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-duplicate-provider.yaml") }, SeverityError, ""},
		{CheckPoolUnique, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-duplicate-pool-names.yaml") }, SeverityError, ""},
		{CheckStaticQuantity, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-static-no-quantity.yaml") }, SeverityError, ""},
		{CheckProviderExists, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-unknown-provider.yaml") }, SeverityError, ""},
		{CheckPrivateNodesOn, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-autonodes-private-off.yaml") }, SeverityWarning, ""},
		{CheckSelectorMatches, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-selector-no-match.yaml") }, SeverityError, ""},
		{CheckConfidentialProperty, privateBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-property-missing.yaml") }, SeverityError, ""},
		{CheckConfidentialProperty, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-pool-label-claims-tee.yaml") }, SeverityError, ""},
		{CheckWorkloadSelector, privateBase, func(in *Inputs) { in.Workloads = neg("workload-unsatisfiable.yaml") }, SeverityError, ""},
		{CheckRuntimeClassHandler, privateBase, func(in *Inputs) { in.RuntimeClasses = neg("runtimeclass-no-handler.yaml") }, SeverityError, ""},
		{CheckRuntimeClassSyncSelector, sharedBase, func(in *Inputs) { in.RuntimeClasses = neg("runtimeclass-unlabelled.yaml") }, SeverityError, ""},
		{CheckSyncPrivateNodes, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-sync-with-private-nodes.yaml") }, SeverityWarning, ""},
		{CheckWorkloadRuntimeClass, privateBase, func(in *Inputs) { in.Workloads = neg("workload-missing-runtimeclass.yaml") }, SeverityError, ""},
		{CheckWorkloadRuntimeClass, sharedBase, func(in *Inputs) { in.RuntimeClasses = nil }, SeverityError, ""},
		{CheckRuntimeClassOverride, sharedBase, func(in *Inputs) { in.VClusters = neg("vcluster-shared-toHost-override.yaml") }, SeverityError, ""},
		{CheckCloudVMRuntimeClass, cloudBase, func(in *Inputs) { in.Workloads = neg("workload-cloud-cvm-with-runtimeclass.yaml") }, SeverityError, ""},
		{CheckPodRuntimeClass, privateBase, func(in *Inputs) { in.Workloads = neg("workload-no-runtimeclass.yaml") }, SeverityError, ""},
		{CheckContainerdJoin, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-containerd-at-join.yaml") }, SeverityWarning, ""},
		{CheckCloudZone, cloudBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-cloud-region-only.yaml") }, SeverityError, ""},
		{CheckCloudMaintenance, cloudBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-cloud-migrate.yaml") }, SeverityError, ""},
		{CheckPolicyCoverage, privateBase, func(in *Inputs) { in.Policies = neg("policy-tdx-only.yaml") }, SeverityError, ""},
		{CheckPolicyCoverage, privateBase, func(in *Inputs) { in.Policies = nil }, SeverityError, ""},
		{CheckPolicyDebug, privateBase, func(in *Inputs) { in.Policies = neg("policy-allow-debug.yaml") }, SeverityError, ""},
		{CheckPolicyRoots, privateBase, func(in *Inputs) { in.Policies = neg("policy-test-roots.yaml") }, SeverityError, ""},
		{CheckPolicyMeasurements, privateBase, func(in *Inputs) { in.Policies = neg("policy-placeholder-only.yaml") }, SeverityError, ""},
		{CheckPolicyStrength, privateBase, func(in *Inputs) { in.Policies = neg("policy-mrtd-only.yaml") }, SeverityWarning, "pins MRTD but leaves RTMR0, RTMR1, RTMR2 open"},
		{CheckAttestationEgress, privateBase, func(in *Inputs) { in.NetworkPolicies = neg("network-policies-no-attestation-egress.yaml") }, SeverityError, ""},
		{CheckAttestationEgress, privateBase, func(in *Inputs) { in.AttestationService = "10.0.0.9:8443" }, SeverityError, ""},
		{CheckTenancy, privateBase, func(in *Inputs) {
			in.VClusters = append(in.VClusters, "negative/vcluster-second-tenant.yaml")
		}, SeverityWarning, ""},
		{CheckTenancy, sharedBase, func(in *Inputs) {}, SeverityWarning, ""},
		{CheckVClusterVersion, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-pool-properties.yaml") }, SeverityError,
			"not in vCluster 0.36.1: the field was added after it (on main)"},
		{CheckPrivateNodesMode, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-private-nodes-metrics-server.yaml") }, SeverityError,
			"the metrics-server integration is not supported in private nodes mode"},
		{CheckVClusterValid, sharedBase, func(in *Inputs) { in.VClusters = neg("vcluster-runtimeclass-patches-invalid.yaml") }, SeverityError,
			"can only use one of: expression (or reverseExpression), labels or reference"},
		{CheckVClusterValid, sharedBase, func(in *Inputs) { in.VClusters = neg("vcluster-runtimeclass-patches-invalid.yaml") }, SeverityError,
			`path "metadata.annotations[\"cctest.dev/tenant\"]" is already patched by sync.fromHost.runtimeClasses.patches[0]`},
		{CheckRequirements, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-notexists-operator.yaml") }, SeverityError,
			"a dynamic pool becomes a Karpenter NodePool, which needs a non-negative integer for Lt, got -1"},
		{CheckNodeTypeResources, privateBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-no-resources.yaml") }, SeverityError,
			`node type "tdx-large" declares no resources.cpu or resources.memory`},
		{CheckMetal3Image, privateBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-metal3-no-image.yaml") }, SeverityError,
			`metal3 node type "tdx-large" has no OS image: neither vcluster.com/os-image nor metal3.vcluster.com/image-url is set in the properties of the NodeProvider or the node type; pools selecting it without one: "confidential-workers"`},
		{CheckRuntimeClassPatches, sharedBase, func(in *Inputs) { in.VClusters = neg("vcluster-runtimeclass-patches-oss.yaml") }, SeverityWarning,
			`patches are a vCluster Pro feature: open-source vCluster fails every RuntimeClass create with "feature not available"`},
		{CheckTenantOnlyClassShared, sharedBase, func(in *Inputs) {
			in.VClusters = neg("vcluster-shared-tenant-only-class.yaml")
			in.RuntimeClasses = nil
		}, SeverityError, `RuntimeClass "kata-qemu-tdx" is deployed in the tenant and exempt from sync (vcluster.loft.sh/controlled-by), but no host RuntimeClass of that name matches`},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.check.ID] = true
		t.Run(c.check.ID+"-"+c.check.Name, func(t *testing.T) {
			base := c.base()
			if c.check == CheckVClusterSchema {
				base.VClusterSchema = schemaPath(t)
			}
			if fs := certifyRun(t, base).ByID(c.check.ID); len(fs) > 0 && c.base().VClusters[0] != "reference/vcluster-shared-nodes.yaml" {
				t.Fatalf("clean base already fails %s: %+v", c.check.ID, fs)
			}
			in := c.base()
			c.mod(&in)
			rep := certifyRun(t, in)
			fs := rep.ByID(c.check.ID)
			found := false
			for _, f := range fs {
				if f.Severity == c.want && strings.Contains(f.Message, c.msg) {
					found = true
				}
				if f.File == "" || f.Message == "" || f.Fix == "" {
					t.Errorf("finding without file/message/fix: %+v", f)
				}
			}
			if !found {
				t.Fatalf("no %s finding of %s with %q:\n%s", c.want, c.check.ID, c.msg, dump(rep))
			}
			want := StatusFail
			if c.want == SeverityWarning {
				want = StatusWarn
			}
			if rep.Result(c.check.ID).Status != want {
				t.Errorf("status = %s", rep.Result(c.check.ID).Status)
			}
			t.Logf("%s", dump(rep))
		})
	}
	for _, c := range AllChecks() {
		if !covered[c.ID] {
			t.Errorf("check %s has no failing case", c.ID)
		}
	}
}

func TestSimulationAllowsTestRoots(t *testing.T) {
	in := privateBase()
	in.Policies = []string{"negative/policy-test-roots.yaml"}
	in.Simulation = true
	if fs := certifyRun(t, in).ByID(CheckPolicyRoots.ID); len(fs) > 0 {
		t.Fatalf("simulation still rejects test roots: %+v", fs)
	}
}

// The passing side of rules whose clean bases do not exercise them: each
// input must produce exactly the findings listed.
func TestPassingSideOfRules(t *testing.T) {
	pos := func(s string) []string { return []string{"positive/" + s} }
	for _, c := range []struct {
		name string
		base func() Inputs
		mod  func(*Inputs)
		want []string // IDs of all findings
	}{
		{"pool properties on main", privateBase, func(in *Inputs) {
			in.VClusters = []string{"negative/vcluster-pool-properties.yaml"}
			in.VClusterVersion = "main"
		}, nil},
		{"private nodes with endpoint host:port", privateBase, func(in *Inputs) { in.VClusters = pos("vcluster-private-nodes-endpoint.yaml") }, nil},
		{"well-formed patches (warned as Pro only)", sharedBase, func(in *Inputs) {
			in.VClusters = []string{"negative/vcluster-runtimeclass-patches-oss.yaml"}
		}, []string{"CC038", "CC060"}},
		{"tenant class exempt by annotation, host twin matches", sharedBase, func(in *Inputs) {
			in.VClusters = pos("vcluster-shared-tenant-class-host-twin.yaml")
		}, []string{"CC060"}},
		{"documented provisioning, multi-value and any-value properties", privateBase, func(in *Inputs) {
			in.NodeProviders = pos("node-provider-documented-properties.yaml")
		}, nil},
		{"OS image from the tenant's autoNodes properties", privateBase, func(in *Inputs) {
			in.NodeProviders = []string{"negative/node-provider-metal3-no-image.yaml"}
			in.VClusters = pos("vcluster-autonodes-image.yaml")
		}, nil},
	} {
		in := c.base()
		c.mod(&in)
		rep := certifyRun(t, in)
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.ID)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: findings %v, want %v\n%s", c.name, got, c.want, dump(rep))
		}
	}
}

// The embedded version knowledge agrees with each version's chart schema.
func TestVersionAgreesWithChartSchema(t *testing.T) {
	main := schemaPath(t)
	for _, c := range []struct {
		version, schema string
		fails           bool
	}{
		{"0.36.1", strings.Replace(main, "/values.schema.json", "/v0.36.1/values.schema.json", 1), true},
		{"main", main, false},
	} {
		in := privateBase()
		in.VClusters = []string{"negative/vcluster-pool-properties.yaml"}
		in.VClusterVersion, in.VClusterSchema = c.version, c.schema
		rep := certifyRun(t, in)
		for _, check := range []Check{CheckVClusterVersion, CheckVClusterSchema} {
			if failed := rep.Result(check.ID).Status == StatusFail; failed != c.fails {
				t.Errorf("%s: %s failed = %v, want %v\n%s", c.version, check.ID, failed, c.fails, dump(rep))
			}
		}
	}
	if _, err := Run(Inputs{NodeProviders: []string{"x"}, VClusters: []string{"y"}, VClusterVersion: "0.30.0"}); err == nil ||
		!strings.Contains(err.Error(), `--vcluster-version: unknown vCluster version "0.30.0": cctest knows 0.36.1, main`) {
		t.Fatalf("unknown version: %v", err)
	}
}

// vCluster's generic syncer: label with any value, or annotation naming
// another controller than the RuntimeClass syncer ("runtimeclass").
func TestSyncExemption(t *testing.T) {
	for _, c := range []struct {
		labels, annotations map[string]string
		exempt              bool
	}{
		{nil, nil, false},
		{map[string]string{controlledBy: "anyone"}, nil, true},
		{map[string]string{controlledBy: "runtimeclass"}, nil, true},
		{map[string]string{controlledBy: ""}, nil, false},
		{nil, map[string]string{controlledBy: "kata-deploy"}, true},
		{nil, map[string]string{controlledBy: "runtimeclass"}, false},
		{nil, map[string]string{controlledBy: ""}, false},
	} {
		if got := syncExempt(metav1.ObjectMeta{Labels: c.labels, Annotations: c.annotations}); got != c.exempt {
			t.Errorf("labels %v annotations %v: exempt = %v", c.labels, c.annotations, got)
		}
	}
}
