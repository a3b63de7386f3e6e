package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// One test per selection rule of the platform (docs/vcluster-facts.md).

func res(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func typed(name string, cost int64, resources corev1.ResourceList, props map[string]string) NodeType {
	nt := *NewNodeType(name)
	nt.Spec.ProviderRef, nt.Spec.Cost, nt.Spec.Resources, nt.Spec.Properties = "p", cost, resources, props
	return nt
}

func pick(t *testing.T, types []NodeType, reqs []Requirement, requests corev1.ResourceList) string {
	t.Helper()
	c, _ := SelectCheapest(types, reqs, requests, nil)
	if c == nil {
		return ""
	}
	return c.Name
}

func TestRuleComputedCostCountsExtraResources(t *testing.T) {
	if got := DefaultCost(res("cpu", "2", "memory", "4Gi", "nvidia.com/gpu", "1")); got != 2*10+4*2+10000 {
		t.Fatalf("computed cost = %d, want %d", got, 2*10+4*2+10000)
	}
}

func TestRuleExtraResourceOnlyWhenRequested(t *testing.T) {
	types := []NodeType{
		typed("gpu", 1, res("cpu", "8", "memory", "32Gi", "nvidia.com/gpu", "1"), nil), // cheapest by explicit cost
		typed("cpu", 100, res("cpu", "8", "memory", "32Gi"), nil),
	}
	if got := pick(t, types, nil, res("cpu", "1")); got != "cpu" {
		t.Errorf("pod without a GPU request got %q, want cpu", got)
	}
	if got := pick(t, types, nil, res("cpu", "1", "nvidia.com/gpu", "1")); got != "gpu" {
		t.Errorf("pod requesting a GPU got %q, want gpu", got)
	}
}

func TestRuleOnlyTypesThatFit(t *testing.T) {
	types := []NodeType{
		typed("small", 0, res("cpu", "8", "memory", "32Gi"), nil),
		typed("large", 0, res("cpu", "64", "memory", "512Gi"), nil),
	}
	if got := pick(t, types, nil, res("cpu", "16")); got != "large" {
		t.Errorf("16-CPU pod got %q, want large", got)
	}
	// Overhead (kubeReserved) is not allocatable.
	types[0].Spec.Overhead = &NodeTypeOverhead{KubeReserved: res("cpu", "1")}
	if got := pick(t, types, nil, res("cpu", "8")); got != "large" {
		t.Errorf("8-CPU pod on an 8-CPU type with 1 reserved got %q, want large", got)
	}
	if got := pick(t, types, nil, res("cpu", "1000")); got != "" {
		t.Errorf("a pod no type fits got %q", got)
	}
}

func TestRuleMultiValueAndAnyProperties(t *testing.T) {
	props := func(v string) map[string]string { return SelectableProperties("t", map[string]string{"cpu-generation": v}) }
	cases := []struct {
		prop string
		r    Requirement
		want bool
	}{
		{"old,new", Requirement{Property: "cpu-generation", Values: []string{"new"}}, true},
		{"old,new", Requirement{Property: "cpu-generation", Values: []string{"ancient"}}, false},
		{"old,new", Requirement{Property: "cpu-generation", Operator: OpNotIn, Values: []string{"new"}}, true},
		{"old,new", Requirement{Property: "cpu-generation", Operator: OpNotIn, Values: []string{"old", "new"}}, false},
		{"*", Requirement{Property: "cpu-generation", Values: []string{"anything"}}, true},
		{"*", Requirement{Property: "cpu-generation", Operator: OpExists}, true},
		{"*", Requirement{Property: "cpu-generation", Operator: OpDoesNotExist}, false},
		{"4,8", Requirement{Property: "cpu-generation", Operator: OpGt, Value: "6"}, true},
	}
	for _, c := range cases {
		if got, why := c.r.Matches(props(c.prop)); got != c.want {
			t.Errorf("%q vs %s = %v (%s), want %v", c.prop, c.r, got, why, c.want)
		}
	}
}

func TestRuleBuiltinProperties(t *testing.T) {
	p := SelectableProperties("t", map[string]string{PropertyCapacityType: "spot", PropertyOS: "windows"})
	for k, want := range map[string]string{PropertyZone: "global", PropertyCapacityType: "on-demand", PropertyOS: "linux"} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
	if z := SelectableProperties("t", map[string]string{PropertyZone: "eu-1"})[PropertyZone]; z != "eu-1" {
		t.Errorf("type's own zone lost: %q", z)
	}
}

// A static pool may give Gt/Lt several values (vCluster accepts >= 1);
// every bound must hold.
func TestRuleGtLtSeveralValues(t *testing.T) {
	r := Requirement{Property: "cores", Operator: OpGt, Values: []string{"2", "6"}}
	if ps := r.Validate(); len(ps) > 0 {
		t.Fatalf("static Gt with two values rejected: %v", ps)
	}
	if len(r.KarpenterProblems()) == 0 {
		t.Error("a dynamic pool's Gt with two values accepted")
	}
	if ok, _ := r.Matches(map[string]string{"cores": "4"}); ok {
		t.Error("cores 4 matched Gt [2,6]")
	}
	if ok, _ := r.Matches(map[string]string{"cores": "8"}); !ok {
		t.Error("cores 8 missed Gt [2,6]")
	}
	lt := Requirement{Property: "cores", Operator: OpLt, Values: []string{"10", "6"}}
	if ok, _ := lt.Matches(map[string]string{"cores": "8"}); ok {
		t.Error("cores 8 matched Lt [10,6]")
	}
}
