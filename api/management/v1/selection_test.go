package v1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func nodeType(name string, cpu, mem string, props map[string]string, total, claimed int) NodeType {
	nt := *NewNodeType(name)
	nt.Spec.ProviderRef = "p"
	nt.Spec.Properties = props
	nt.Spec.Resources = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
	}
	nt.Status.Capacity = NodeTypeCapacity{Total: total, Claimed: claimed}
	return nt
}

func TestDefaultCost(t *testing.T) {
	if got := DefaultCost(corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("512Gi")}); got != 64*10+512*2 {
		t.Fatalf("cost = %d", got)
	}
	if got := DefaultCost(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}); got != 5 {
		t.Fatalf("half cpu cost = %d", got)
	}
	if CostOf(7, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}) != 7 {
		t.Fatal("explicit cost ignored")
	}
}

func TestSelectCheapest(t *testing.T) {
	types := []NodeType{
		nodeType("tdx-large", "64", "512Gi", map[string]string{"confidential-compute": "tdx"}, 2, 0),
		nodeType("tdx-small", "8", "32Gi", map[string]string{"confidential-compute": "tdx"}, 1, 0),
		nodeType("snp-large", "64", "512Gi", map[string]string{"confidential-compute": "sev-snp"}, 2, 0),
		nodeType("cpu-small", "2", "4Gi", nil, 10, 0),
	}
	tdx := []Requirement{{Property: "confidential-compute", Operator: OpIn, Values: []string{"tdx"}}}

	chosen, rej := SelectCheapest(types, tdx, nil, HasFreeCapacity)
	if chosen == nil || chosen.Name != "tdx-small" {
		t.Fatalf("chosen = %v, want tdx-small (cheapest tdx)", chosen)
	}
	if len(rej) != 2 {
		t.Fatalf("rejections = %v, want cpu-small and snp-large", rej)
	}
	if rej[0].Type != "cpu-small" || !strings.Contains(rej[0].String(), "property not set") {
		t.Errorf("cpu-small reason = %v", rej[0])
	}
	if rej[1].Type != "snp-large" || !strings.Contains(rej[1].String(), `property is "sev-snp"`) {
		t.Errorf("snp-large reason = %v", rej[1])
	}

	// tdx-small exhausted -> the next cheapest matching type wins.
	types[1].Status.Capacity.Claimed = 1
	chosen, rej = SelectCheapest(types, tdx, nil, HasFreeCapacity)
	if chosen == nil || chosen.Name != "tdx-large" {
		t.Fatalf("chosen = %v, want tdx-large once tdx-small is exhausted", chosen)
	}
	found := false
	for _, r := range rej {
		if r.Type == "tdx-small" && strings.Contains(r.String(), "no free capacity") {
			found = true
		}
	}
	if !found {
		t.Errorf("no capacity rejection for tdx-small: %v", rej)
	}

	// everything exhausted -> nothing chosen, every type has a reason.
	types[0].Status.Capacity.Claimed = 2
	chosen, rej = SelectCheapest(types, tdx, nil, HasFreeCapacity)
	if chosen != nil || len(rej) != 4 {
		t.Fatalf("chosen = %v, rejections %v; want none and 4", chosen, rej)
	}

	// no requirements, unlimited capacity -> cheapest overall.
	chosen, _ = SelectCheapest(types, nil, nil, nil)
	if chosen.Name != "cpu-small" {
		t.Fatalf("chosen = %s, want cpu-small", chosen.Name)
	}

	// built-in property selects by name; explicit cost overrides the default.
	byName := []Requirement{{Property: PropertyNodeType, Value: "snp-large"}}
	if chosen, _ = SelectCheapest(types, byName, nil, nil); chosen == nil || chosen.Name != "snp-large" {
		t.Fatalf("select by vcluster.com/node-type failed: %v", chosen)
	}
	types[2].Spec.Cost = 1
	if chosen, _ = SelectCheapest(types, nil, nil, nil); chosen.Name != "snp-large" {
		t.Fatalf("explicit cost not honoured, chosen %s", chosen.Name)
	}
}

func TestSelectCheapestTieIsDeterministic(t *testing.T) {
	types := []NodeType{
		nodeType("b", "2", "4Gi", nil, 1, 0),
		nodeType("a", "2", "4Gi", nil, 1, 0),
	}
	for i := 0; i < 5; i++ {
		if c, _ := SelectCheapest(types, nil, nil, nil); c.Name != "a" {
			t.Fatalf("tie went to %s", c.Name)
		}
	}
}

func TestNodeLabelsAndPath(t *testing.T) {
	props := map[string]string{"confidential-compute": "tdx", PropertyZone: "us-central1-a", PropertyNodeType: "spoof"}
	l := NodeLabels("tdx-large", props, map[string]string{"team": "a"})
	want := map[string]string{
		"confidential-compute": "tdx", PropertyZone: "us-central1-a", PropertyNodeType: "tdx-large",
		PropertyInstanceType: "tdx-large", PropertyCapacityType: "on-demand", PropertyOS: "linux", "team": "a",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
	if len(l) != len(want) {
		t.Errorf("labels %v, want %v", l, want)
	}

	if PathOf(ProviderMetal3, props) != PathPodRuntime {
		t.Error("metal3 tdx should be pod-runtime")
	}
	cloud := map[string]string{"confidential-compute": "tdx", PropertyInstanceType: "c3-standard-4"}
	if PathOf(ProviderTerraform, cloud) != PathCloudVM {
		t.Error("terraform with instance type should be cloud-vm")
	}
	if PathOf(ProviderTerraform, map[string]string{"confidential-compute": "tdx"}) != PathPodRuntime {
		t.Error("terraform without instance type should be pod-runtime")
	}
	cloud[PropertyConfidentialPath] = string(PathPodRuntime)
	if PathOf(ProviderTerraform, cloud) != PathPodRuntime {
		t.Error("override ignored")
	}
	if PathOf(ProviderMetal3, nil) != PathNone {
		t.Error("non-confidential type has a path")
	}
}

func BenchmarkSelectCheapest(b *testing.B) {
	var types []NodeType
	for i := 0; i < 100; i++ {
		tech := []string{"tdx", "sev-snp", ""}[i%3]
		props := map[string]string{}
		if tech != "" {
			props["confidential-compute"] = tech
		}
		types = append(types, nodeType("t"+strings.Repeat("x", i%7)+string(rune('a'+i%26)), "8", "32Gi", props, 1, 0))
	}
	reqs := []Requirement{{Property: "confidential-compute", Values: []string{"tdx"}}, {Property: "gpu", Operator: OpDoesNotExist}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		SelectCheapest(types, reqs, nil, HasFreeCapacity)
	}
}
