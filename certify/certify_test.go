package certify

import (
	"bytes"
	"os"
	"strings"
	"testing"

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
	_ = rep.WriteTable(&b)
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
	}{
		{CheckVClusterValid, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-unknown-field.yaml") }, SeverityError},
		{CheckVClusterSchema, privateBase, func(in *Inputs) {
			in.VClusters = neg("vcluster-schema-violation.yaml")
			in.VClusterSchema = schemaPath(t)
		}, SeverityError},
		{CheckInputsValid, privateBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-unknown-field.yaml") }, SeverityError},
		{CheckAutoNodesArray, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-autonodes-map-form.yaml") }, SeverityError},
		{CheckRequirements, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-notexists-operator.yaml") }, SeverityError},
		{CheckProviderUnique, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-duplicate-provider.yaml") }, SeverityError},
		{CheckPoolUnique, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-duplicate-pool-names.yaml") }, SeverityError},
		{CheckStaticQuantity, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-static-no-quantity.yaml") }, SeverityError},
		{CheckProviderExists, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-unknown-provider.yaml") }, SeverityError},
		{CheckPrivateNodesOn, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-autonodes-private-off.yaml") }, SeverityWarning},
		{CheckSelectorMatches, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-selector-no-match.yaml") }, SeverityError},
		{CheckConfidentialProperty, privateBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-property-missing.yaml") }, SeverityError},
		{CheckConfidentialProperty, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-pool-label-claims-tee.yaml") }, SeverityError},
		{CheckWorkloadSelector, privateBase, func(in *Inputs) { in.Workloads = neg("workload-unsatisfiable.yaml") }, SeverityError},
		{CheckRuntimeClassHandler, privateBase, func(in *Inputs) { in.RuntimeClasses = neg("runtimeclass-no-handler.yaml") }, SeverityError},
		{CheckRuntimeClassSyncSelector, sharedBase, func(in *Inputs) { in.RuntimeClasses = neg("runtimeclass-unlabelled.yaml") }, SeverityError},
		{CheckSyncPrivateNodes, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-sync-with-private-nodes.yaml") }, SeverityWarning},
		{CheckWorkloadRuntimeClass, privateBase, func(in *Inputs) { in.Workloads = neg("workload-missing-runtimeclass.yaml") }, SeverityError},
		{CheckWorkloadRuntimeClass, sharedBase, func(in *Inputs) { in.RuntimeClasses = nil }, SeverityError},
		{CheckRuntimeClassOverride, sharedBase, func(in *Inputs) { in.VClusters = neg("vcluster-shared-toHost-override.yaml") }, SeverityError},
		{CheckCloudVMRuntimeClass, cloudBase, func(in *Inputs) { in.Workloads = neg("workload-cloud-cvm-with-runtimeclass.yaml") }, SeverityError},
		{CheckPodRuntimeClass, privateBase, func(in *Inputs) { in.Workloads = neg("workload-no-runtimeclass.yaml") }, SeverityError},
		{CheckContainerdJoin, privateBase, func(in *Inputs) { in.VClusters = neg("vcluster-containerd-at-join.yaml") }, SeverityWarning},
		{CheckCloudZone, cloudBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-cloud-region-only.yaml") }, SeverityError},
		{CheckCloudMaintenance, cloudBase, func(in *Inputs) { in.NodeProviders = neg("node-provider-cloud-migrate.yaml") }, SeverityError},
		{CheckPolicyCoverage, privateBase, func(in *Inputs) { in.Policies = neg("policy-tdx-only.yaml") }, SeverityError},
		{CheckPolicyCoverage, privateBase, func(in *Inputs) { in.Policies = nil }, SeverityError},
		{CheckPolicyDebug, privateBase, func(in *Inputs) { in.Policies = neg("policy-allow-debug.yaml") }, SeverityError},
		{CheckPolicyRoots, privateBase, func(in *Inputs) { in.Policies = neg("policy-test-roots.yaml") }, SeverityError},
		{CheckPolicyMeasurements, privateBase, func(in *Inputs) { in.Policies = neg("policy-placeholder-only.yaml") }, SeverityError},
		{CheckAttestationEgress, privateBase, func(in *Inputs) { in.NetworkPolicies = neg("network-policies-no-attestation-egress.yaml") }, SeverityError},
		{CheckAttestationEgress, privateBase, func(in *Inputs) { in.AttestationService = "10.0.0.9:8443" }, SeverityError},
		{CheckTenancy, privateBase, func(in *Inputs) {
			in.VClusters = append(in.VClusters, "negative/vcluster-second-tenant.yaml")
		}, SeverityWarning},
		{CheckTenancy, sharedBase, func(in *Inputs) {}, SeverityWarning},
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
				if f.Severity == c.want {
					found = true
				}
				if f.File == "" || f.Message == "" || f.Fix == "" {
					t.Errorf("finding without file/message/fix: %+v", f)
				}
			}
			if !found {
				t.Fatalf("no %s finding of %s:\n%s", c.want, c.check.ID, dump(rep))
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
